//! Proofs, from the kernel's own accounting, that the memory controls do what they claim:
//! VmLck for locking, the hugetlb pool counters for huge pages, ru_minflt for prefaulting,
//! AnonHugePages in smaps for collapse. Linux only. A proof this machine cannot run (no
//! reserved huge pages, THP off) is listed as NOT RUN after the test summary, with the command
//! that enables it; under NEXUS_SLAB_REQUIRE_HUGEPAGES=1 it fails instead (`common::skip`).
// Kernel counters prove these claims; Miri models neither the counters nor mlock/madvise.
#![cfg(all(target_os = "linux", not(miri)))]

mod common;

use std::sync::{Mutex, MutexGuard};

use common::kernel::*;
use common::skip::{cannot_run, have_huge_pages, have_huge_pages_for, not_run};
use nexus_slab::{
    backing::{Backing, Heap, HugePageSize, HugeTlb, Locked, Mmap},
    Error, HugeSlab, LockedSlab, Slab,
};

const MIB: usize = 1 << 20;
const HUGE_2M: usize = 2 << 20;
const HUGE_1G: usize = 1 << 30;
const POOL_2M: &str = "/sys/kernel/mm/hugepages/hugepages-2048kB";
/// include/uapi/asm-generic/mman-common.h: `libc` defines it for glibc only (musl builds too).
const MADV_COLLAPSE: libc::c_int = 25;

/// VmLck and the huge-page pools are per process / per machine: one test at a time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn vmlck() -> usize {
    status_bytes("VmLck")
}

fn mlock_moves_vmlck<B: Backing + Default>() {
    let _g = serial();
    let before = vmlck();
    let mut slab: Slab<u64, B> = Slab::new();
    slab.alloc_bytes(16 * MIB).unwrap();
    let size = slab.memory_size();
    assert_eq!(vmlck(), before, "allocation alone locks nothing");
    slab.mlock().unwrap();
    let locked = vmlck();
    eprintln!(
        "{}: VmLck {} -> {} kB after mlock of {} kB",
        std::any::type_name::<B>(),
        before / 1024,
        locked / 1024,
        size / 1024
    );
    assert_eq!(locked - before, size, "VmLck rises by exactly the slab");
    assert_eq!(slab.locked_bytes().unwrap(), size);
    slab.munlock().unwrap();
    assert_eq!(vmlck(), before, "munlock gives it all back");
    assert_eq!(slab.locked_bytes().unwrap(), 0);
    slab.mlock().unwrap();
    drop(slab);
    assert_eq!(vmlck(), before, "drop unlocks");
}

#[test]
fn mlock_moves_vmlck_by_the_slab_size_on_mmap() {
    mlock_moves_vmlck::<Mmap>();
}

#[test]
fn mlock_moves_vmlck_by_the_slab_size_on_heap() {
    mlock_moves_vmlck::<Heap>();
}

#[test]
fn locked_slab_is_locked_for_its_whole_life() {
    let _g = serial();
    let before = vmlck();
    let mut slab: LockedSlab<[u64; 8]> = LockedSlab::new();
    slab.alloc(100_000).unwrap();
    let size = slab.memory_size();
    assert_eq!(vmlck() - before, size);
    assert_eq!(slab.locked_bytes().unwrap(), size);
    for i in 0..slab.capacity() as u64 {
        slab.insert([i; 8]).unwrap();
    }
    assert_eq!(vmlck() - before, size, "filling changes nothing");
    eprintln!(
        "LockedSlab: VmLck {} -> {} kB for a {} kB slab",
        before / 1024,
        (before + size) / 1024,
        size / 1024
    );
    drop(slab);
    assert_eq!(vmlck(), before);
}

#[test]
fn locked_heap_unlocks_before_the_allocator_keeps_its_pages() {
    let _g = serial();
    let before = vmlck();
    let slab: Slab<u32, Locked<Heap>> = Slab::with_capacity(1 << 20);
    assert_eq!(vmlck() - before, slab.memory_size());
    drop(slab);
    assert_eq!(vmlck(), before);
}

fn fill_without_faults<B: Backing>(backing: B, bytes: usize) {
    let name = std::any::type_name::<B>();
    let mut slab: Slab<u64, B> = Slab::new_in(backing);
    slab.alloc_bytes(bytes).unwrap();
    let cap = slab.capacity();
    let before = thread_minflt();
    let mut i = 0u64;
    while slab.insert(i).is_ok() {
        i += 1;
    }
    let faults = thread_minflt() - before;
    eprintln!("{name}: {faults} minor faults while inserting {cap} values into a fresh slab");
    assert_eq!(i as usize, cap);
    assert_eq!(faults, 0, "{name}: filling a fresh slab faulted");
}

#[test]
fn filling_a_fresh_64mib_slab_takes_no_page_fault() {
    let _g = serial();
    fill_without_faults(Mmap::new(), 64 * MIB);
    fill_without_faults(Heap::new(), 64 * MIB);
    fill_without_faults(Locked::<Mmap>::default(), 64 * MIB);
    if have_huge_pages_for("its HugeTlb case", HUGE_2M, 32) {
        fill_without_faults(HugeTlb::default(), 64 * MIB);
    }
}

#[test]
fn a_lazy_slab_does_fault_which_is_what_prefault_removes() {
    let _g = serial();
    let mut slab: Slab<u64, Mmap> = Slab::new_in(Mmap::new().prefault(false));
    slab.alloc_bytes(16 * MIB).unwrap();
    let before = thread_minflt();
    let mut i = 0u64;
    while slab.insert(i).is_ok() {
        i += 1;
    }
    let faults = thread_minflt() - before;
    eprintln!("Mmap::new().prefault(false): {faults} minor faults while filling 16 MiB");
    // THP may serve 2 MiB per fault; the last 2 MiB (with the bitmap) was touched at
    // allocation. So at least one fault per other 2 MiB.
    assert!(faults >= 7, "the control case should fault: {faults}");
}

/// A heap region is not advised MADV_HUGEPAGE, so in `madvise` mode it starts on small pages;
/// try_collapse must move it. 32 MiB: 16 transparent huge pages of 2 MiB (with 4 KiB base
/// pages); at least two of them wherever they are larger (32 MiB or 512 MiB on ARM).
#[test]
fn try_collapse_puts_a_32mib_slab_on_huge_pages() {
    let _g = serial();
    let thp =
        std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").unwrap_or_default();
    if thp.is_empty() {
        not_run(
            "needs transparent huge pages, which this kernel lacks",
            "a kernel built with CONFIG_TRANSPARENT_HUGEPAGE",
        );
        return;
    }
    if thp.contains("[never]") {
        not_run(
            "needs transparent huge pages, which are off (`never`)",
            "echo madvise | sudo tee /sys/kernel/mm/transparent_hugepage/enabled",
        );
        return;
    }
    let bytes = (32 * MIB).max(2 * thp_size());
    for backing in ["heap", "mmap"] {
        let (addr, size, before, reported, after) = match backing {
            "heap" => collapse(Slab::<u64, Heap>::new(), bytes),
            _ => collapse(Slab::<u64, Mmap>::new(), bytes),
        };
        eprintln!(
            "{backing}: {} MiB slab, AnonHugePages {} kB before, {} kB after try_collapse \
             (try_collapse reported {} kB)",
            bytes / MIB,
            before / 1024,
            after / 1024,
            reported / 1024
        );
        assert!(
            after > 0,
            "{backing}: no huge pages in the slab's range after collapse"
        );
        assert!(reported > 0 && reported <= size);
        assert!(addr % page_size() == 0);
        if backing == "mmap" {
            // The region is its own mapping, so smaps and the page tables agree exactly.
            assert_eq!(reported, after);
        }
    }

    fn collapse<B: Backing>(
        mut slab: Slab<u64, B>,
        bytes: usize,
    ) -> (usize, usize, usize, usize, usize) {
        slab.alloc_bytes(bytes).unwrap();
        let key = slab.insert(1).unwrap();
        let addr = slab.get(key).unwrap() as *const u64 as usize;
        let size = slab.memory_size();
        let before = smaps_anon_huge(addr, size);
        let reported = slab.try_collapse().unwrap();
        let after = smaps_anon_huge(addr, size);
        assert_eq!(slab.huge_page_bytes().unwrap(), reported);
        (addr, size, before, reported, after)
    }
}

fn huge_slab_takes_and_returns_pool_pages(size: HugePageSize, bytes: usize) {
    let page = size.bytes();
    let pages = bytes / page;
    let _g = serial(); // first: a test holding pages would make the check below fail
    if !have_huge_pages(page, pages) {
        return;
    }
    // The pool is the machine's: another process (tests of another checkout, on a shared CI
    // machine) may take or return pages meanwhile. This process's own hugetlb memory
    // (`HugetlbPages`) is checked every time; a pool reading that disagrees while ours is right
    // is measured again, and must agree by the third try.
    for attempt in 1..=3 {
        match huge_slab_pool_counts(size, bytes) {
            Ok(()) => return,
            Err(why) if attempt < 3 => {
                eprintln!("the pool moved under us ({why}): measuring again")
            }
            Err(why) => panic!("{why}"),
        }
    }
}

/// One measurement of [`huge_slab_takes_and_returns_pool_pages`]: panics on what this process
/// alone decides, and returns the pool counts that disagree (which other processes move too).
fn huge_slab_pool_counts(size: HugePageSize, bytes: usize) -> Result<(), String> {
    let page = size.bytes();
    let pages = bytes / page;
    let ours0 = status_bytes("HugetlbPages");
    let (free0, rsvd0) = huge_free_rsvd(page).unwrap();
    let meminfo0 = meminfo_huge();
    let mappings0 = hugetlb_mappings();
    let mut slab: Slab<[u64; 8], HugeTlb> = Slab::new_in(HugeTlb::new(size));
    slab.alloc_bytes(bytes).unwrap();
    assert_eq!(slab.memory_size(), bytes);
    assert_eq!(
        hugetlb_mappings(),
        mappings0 + 1,
        "one hugetlb mapping, seen in smaps"
    );
    assert_eq!(
        status_bytes("HugetlbPages") - ours0,
        bytes,
        "this process holds exactly the slab's pages"
    );
    let (free1, rsvd1) = huge_free_rsvd(page).unwrap();
    eprintln!(
        "{} KiB pages: free {free0} -> {free1}, reserved {rsvd0} -> {rsvd1} for a {} MiB slab",
        page / 1024,
        bytes / MIB
    );
    let mut disagree = Vec::new();
    // Prefaulted, so the pages are taken (free falls), not merely promised (rsvd unchanged).
    if (free0 + rsvd1) - (free1 + rsvd0) != pages || free0 - free1 != pages {
        disagree.push(format!(
            "HugePages_Free - Rsvd fell by {} and free by {}, not by memory_size / page size \
             = {pages}",
            (free0 + rsvd1) - (free1 + rsvd0),
            free0 - free1
        ));
    }
    let (mfree, mrsvd, default_size) = meminfo_huge();
    // /proc/meminfo counts the default pool only (1 GiB with default_hugepagesz=1G).
    if page == default_size && (meminfo0.0 - mfree != pages || mrsvd != meminfo0.1) {
        disagree.push(format!(
            "/proc/meminfo: free {} -> {mfree}, reserved {} -> {mrsvd}",
            meminfo0.0, meminfo0.1
        ));
    }
    assert_eq!(slab.huge_page_bytes().unwrap(), bytes, "every byte is huge");
    assert_eq!(slab.try_collapse().unwrap(), bytes);
    for i in 0..slab.capacity() as u64 {
        slab.insert([i; 8]).unwrap();
    }
    drop(slab);
    assert_eq!(hugetlb_mappings(), mappings0, "and the mapping is gone");
    assert_eq!(
        status_bytes("HugetlbPages"),
        ours0,
        "this process gave every page back"
    );
    let back = huge_free_rsvd(page).unwrap();
    if back != (free0, rsvd0) {
        disagree.push(format!(
            "every page goes back on drop: (free, reserved) {back:?}, was {:?}",
            (free0, rsvd0)
        ));
    }
    if disagree.is_empty() {
        Ok(())
    } else {
        Err(disagree.join("; "))
    }
}

#[test]
fn huge_slab_on_2mib_pages_takes_and_returns_exactly_its_pages() {
    huge_slab_takes_and_returns_pool_pages(HugePageSize::SIZE_2M, 32 * MIB);
}

#[test]
fn huge_slab_on_1gib_pages_takes_and_returns_exactly_its_pages() {
    huge_slab_takes_and_returns_pool_pages(HugePageSize::SIZE_1G, HUGE_1G);
}

#[test]
fn locked_hugetlb_slab_works() {
    let _g = serial();
    if !have_huge_pages(HUGE_2M, 2) {
        return;
    }
    let free = || huge_free_rsvd(HUGE_2M).unwrap().0;
    let free0 = free();
    let slab: Slab<u64, Locked<HugeTlb>> = Slab::with_capacity(100);
    assert_eq!(slab.memory_size(), HUGE_2M);
    assert_eq!(free0 - free(), 1);
    drop(slab);
    assert_eq!(free(), free0);
}

#[test]
fn too_many_huge_pages_is_an_error_that_leaks_nothing() {
    let _g = serial();
    let avail = huge_free_rsvd(HUGE_2M).map_or(0, |(f, r)| f - r);
    let maps0 = hugetlb_mappings();
    let pool0 = huge_free_rsvd(HUGE_2M);
    let want_pages = avail + 3;
    let mut slab: HugeSlab<[u8; 64]> = HugeSlab::new();
    let err = slab.alloc_bytes(want_pages * HUGE_2M).unwrap_err();
    let msg = err.to_string();
    eprintln!("{msg}");
    match &err {
        Error::HugePagesUnavailable { needed, free, .. } => {
            assert_eq!(*needed, want_pages);
            assert_eq!(*free, avail);
        }
        other => panic!("expected HugePagesUnavailable, got {other:?}"),
    }
    assert!(
        msg.contains("not enough 2 MiB huge pages")
            && msg.contains(&format!("{want_pages} needed")),
        "{msg}"
    );
    // Three pages more than the pool has now, in the 2 MiB pool's own file (not
    // /proc/sys/vm/nr_hugepages: that is the default pool, 1 GiB on some hosts).
    let total: usize = std::fs::read_to_string(format!("{POOL_2M}/nr_hugepages"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let fix = format!("run `echo {} | sudo tee {POOL_2M}/nr_hugepages`", total + 3);
    assert_eq!(err.hint().as_deref(), Some(fix.as_str()));
    assert!(
        msg.ends_with(&fix),
        "the message names the 2 MiB pool: {msg}"
    );
    assert_eq!(hugetlb_mappings(), maps0, "nothing stays mapped");
    assert_eq!(huge_free_rsvd(HUGE_2M), pool0, "no page taken or reserved");
    assert_eq!((slab.capacity(), slab.memory_size()), (0, 0));
}

#[test]
fn one_gib_pages_without_a_pool_are_a_clear_error() {
    let _g = serial();
    let mut slab: Slab<u64, HugeTlb> = Slab::new_in(HugeTlb::new(HugePageSize::SIZE_1G));
    let avail = huge_free_rsvd(HUGE_1G).map_or(0, |(f, r)| f - r);
    let err = slab.alloc_bytes((avail + 1) * HUGE_1G).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("hugepages-1048576kB") || msg.contains("1 GiB"),
        "the message names the 1 GiB pool: {msg}"
    );
    assert_eq!(slab.capacity(), 0);
}

#[test]
fn system_info_agrees_with_the_kernel() {
    let info = nexus_slab::system::SystemInfo::probe();
    // SAFETY: sysconf has no preconditions.
    assert_eq!(info.base_page_size as i64, unsafe {
        libc::sysconf(libc::_SC_PAGESIZE)
    });
    let pool = info.pool(HUGE_2M).expect("x86-64 Linux has a 2 MiB pool");
    let (free, rsvd) = huge_free_rsvd(HUGE_2M).unwrap();
    assert_eq!((pool.free, pool.reserved), (free, rsvd));
    assert!(info.thp_mode.is_some());
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let cap_eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .unwrap();
    let has = u64::from_str_radix(cap_eff.trim(), 16).unwrap() & (1 << 14) != 0;
    assert_eq!(info.cap_ipc_lock, Some(has));
    let text = info.to_string();
    assert!(
        text.contains("RLIMIT_MEMLOCK") && text.contains("THP"),
        "{text}"
    );
}

/// Inserts `value` into an empty slab and returns its address: the start of the region.
fn region_start<T, B: Backing>(slab: &mut Slab<T, B>, value: T) -> usize {
    assert!(slab.is_empty());
    let k = slab.insert(value).ok().unwrap();
    slab.get(k).unwrap() as *const T as usize
}

/// Regression (issue 9): smaps' `Locked:` divides a page shared between mappings among them, so
/// after a fork `locked_bytes()` reported half of a locked slab while VmLck showed all of it.
#[test]
fn locked_bytes_counts_pages_shared_with_a_forked_child_in_full() {
    let _g = serial();
    let lck0 = vmlck();
    let mut slab: LockedSlab<u64> = LockedSlab::with_capacity(60_000);
    let size = slab.memory_size();
    let addr = region_start(&mut slab, 1);
    assert_eq!(slab.locked_bytes().unwrap(), size);

    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid out-array of two descriptors.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: the child only makes async-signal-safe calls (read, _exit) before it exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let mut b = 0u8;
        // SAFETY: reads one byte into `b`; then the child exits without unwinding.
        unsafe {
            libc::read(fds[0], (&mut b as *mut u8).cast(), 1);
            libc::_exit(0);
        }
    }
    assert!(pid > 0, "fork failed");
    let reported = slab.locked_bytes().unwrap();
    let vmas = smaps_vmas(addr, size);
    let smaps_locked: usize = vmas.iter().map(|v| v.locked).sum();
    let smaps_rss: usize = vmas.iter().map(|v| v.rss).sum();
    let present = pagemap_present(addr, size);
    let lck = vmlck() - lck0;
    // SAFETY: wakes the child, which exits; then reap it.
    unsafe {
        libc::write(fds[1], b"x".as_ptr().cast(), 1);
        let mut status = 0;
        assert_eq!(libc::waitpid(pid, &mut status, 0), pid);
        libc::close(fds[0]);
        libc::close(fds[1]);
    }
    eprintln!(
        "LockedSlab of {size} bytes shared with a forked child: locked_bytes {reported}, VmLck \
         +{lck}, smaps Locked {smaps_locked} (proportional), smaps Rss {smaps_rss}, pagemap \
         present {present}"
    );
    assert_eq!(lck, size, "VmLck counts the whole slab");
    assert_eq!(present, size, "every page is resident");
    assert!(vmas.iter().all(|v| v.flags.iter().any(|f| f == "lo")));
    assert_eq!(reported, size, "locked_bytes agrees with VmLck");
    drop(slab);
    assert_eq!(vmlck(), lck0);
}

/// A backing over a memfd mapped `MAP_SHARED`, so the test can map the slab's pages a second
/// time.
#[derive(Default)]
struct SharedMemfd {
    fd: Option<std::os::fd::OwnedFd>,
}

// SAFETY: the region is a fresh shared mapping of our own memfd, page-aligned (>= any slab
// alignment), `layout.size()` rounded up to pages, read-write, unmapped only in `release`.
unsafe impl Backing for SharedMemfd {
    fn granularity(&self) -> usize {
        page_size()
    }

    fn allocate(
        &mut self,
        layout: std::alloc::Layout,
    ) -> Result<nexus_slab::backing::Region, Error> {
        use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
        let page = page_size();
        assert!(self.fd.is_none() && layout.align() <= page);
        let len = layout.size().next_multiple_of(page);
        // SAFETY: the name is a NUL-terminated string.
        let raw = unsafe { libc::memfd_create(c"nexus-slab-test".as_ptr(), libc::MFD_CLOEXEC) };
        assert!(
            raw >= 0,
            "memfd_create: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: a descriptor just returned to us, owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: sizes our own memfd.
        assert_eq!(unsafe { libc::ftruncate(fd.as_raw_fd(), len as i64) }, 0);
        // SAFETY: a new shared mapping of the memfd at an address of the kernel's choosing.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED);
        self.fd = Some(fd);
        let ptr = std::ptr::NonNull::new(p.cast::<u8>()).unwrap();
        Ok(nexus_slab::backing::Region::new(ptr, len, page))
    }

    unsafe fn release(&mut self, region: nexus_slab::backing::Region, _: std::alloc::Layout) {
        // SAFETY: the caller hands back the mapping `allocate` made, used by nothing.
        assert_eq!(
            unsafe { libc::munmap(region.as_ptr().cast(), region.len()) },
            0
        );
        self.fd = None;
    }
}

/// Regression (issue 9): a `Locked<B>` over shared memory that is mapped a second time
/// reported half of its pages as locked.
#[test]
fn locked_bytes_counts_a_doubly_mapped_shared_backing_in_full() {
    use std::os::fd::AsRawFd;
    let _g = serial();
    let lck0 = vmlck();
    let mut slab: Slab<u64, Locked<SharedMemfd>> =
        Slab::new_in(Locked::new(SharedMemfd::default()));
    slab.alloc_bytes(MIB).unwrap();
    let size = slab.memory_size();
    let addr = region_start(&mut slab, 7);
    assert_eq!(vmlck() - lck0, size);
    assert_eq!(slab.locked_bytes().unwrap(), size);

    let fd = slab.backing().inner().fd.as_ref().unwrap().as_raw_fd();
    // SAFETY: a second, read-only shared mapping of the slab's memfd; it only reads.
    let second = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            size,
            libc::PROT_READ,
            libc::MAP_SHARED,
            fd,
            0,
        )
    };
    assert_ne!(second, libc::MAP_FAILED);
    // SAFETY: populates the second mapping's page tables; contents are unchanged.
    assert_eq!(
        unsafe { libc::madvise(second, size, libc::MADV_POPULATE_READ) },
        0
    );
    // SAFETY: the first value, read through the second mapping.
    assert_eq!(unsafe { *second.cast::<u64>() }, 7);
    assert_eq!(pagemap_present(second as usize, size), size, "mapped twice");

    let reported = slab.locked_bytes().unwrap();
    let vmas = smaps_vmas(addr, size);
    let smaps_locked: usize = vmas.iter().map(|v| v.locked).sum();
    let smaps_rss: usize = vmas.iter().map(|v| v.rss).sum();
    let lck = vmlck() - lck0;
    eprintln!(
        "Locked<memfd> of {size} bytes mapped twice: locked_bytes {reported}, VmLck +{lck}, \
         smaps Locked {smaps_locked} (proportional), smaps Rss {smaps_rss}"
    );
    // SAFETY: the second mapping made above, used by nothing now.
    unsafe { libc::munmap(second, size) };
    assert_eq!(lck, size);
    assert_eq!(smaps_rss, size);
    assert_eq!(reported, size, "locked_bytes agrees with VmLck");
    drop(slab);
    assert_eq!(vmlck(), lck0);
}

/// A bump allocator over one mmap'd buffer that the application locks itself.
struct Arena {
    base: *mut u8,
    len: usize,
    used: std::cell::Cell<usize>,
}

impl Arena {
    fn locked(len: usize) -> Self {
        // SAFETY: a fresh private anonymous mapping at an address of the kernel's choosing.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED);
        // SAFETY: locks our own mapping.
        assert_eq!(unsafe { libc::mlock(p, len) }, 0);
        Arena {
            base: p.cast(),
            len,
            used: std::cell::Cell::new(0),
        }
    }

    fn unlocked(len: usize) -> Self {
        let arena = Arena::locked(len);
        // SAFETY: unlocks our own mapping.
        assert_eq!(unsafe { libc::munlock(arena.base.cast(), len) }, 0);
        arena
    }

    fn relock(&self) {
        // SAFETY: locks our own mapping.
        assert_eq!(unsafe { libc::mlock(self.base.cast(), self.len) }, 0);
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `locked`; no block of it is in use any more.
        unsafe { libc::munmap(self.base.cast(), self.len) };
    }
}

// SAFETY: blocks are disjoint, aligned as asked, inside the mapping, and valid until the arena
// is dropped (which borrows end before).
unsafe impl allocator_api2::alloc::Allocator for Arena {
    fn allocate(
        &self,
        layout: std::alloc::Layout,
    ) -> Result<std::ptr::NonNull<[u8]>, allocator_api2::alloc::AllocError> {
        let start = (self.base as usize + self.used.get()).next_multiple_of(layout.align())
            - self.base as usize;
        if start + layout.size() > self.len {
            return Err(allocator_api2::alloc::AllocError);
        }
        self.used.set(start + layout.size());
        // SAFETY: `start + size <= len`: inside the mapping.
        let p = unsafe { self.base.add(start) };
        let block = std::ptr::slice_from_raw_parts_mut(p, layout.size());
        Ok(std::ptr::NonNull::new(block).unwrap())
    }

    unsafe fn deallocate(&self, _: std::ptr::NonNull<u8>, _: std::alloc::Layout) {}
}

/// Regression (issue 9): dropping a `Heap` slab munlocked its region although the slab never
/// locked it, taking the application's own pin off its arena.
#[test]
fn dropping_a_heap_slab_keeps_the_applications_own_lock() {
    let _g = serial();
    let arena = Arena::locked(MIB);
    let arena_addr = arena.base as usize;
    let lck0 = vmlck();
    let locked_arena = || {
        let vmas = smaps_vmas(arena_addr, MIB);
        vmas.iter()
            .filter(|v| v.flags.iter().any(|f| f == "lo"))
            .map(|v| v.end.min(arena_addr + MIB) - v.start.max(arena_addr))
            .sum::<usize>()
    };
    assert_eq!(locked_arena(), MIB);
    let size = {
        let mut slab: Slab<u64, Heap<&Arena>> = Slab::new_in(Heap::new_in(&arena));
        slab.alloc(100).unwrap();
        slab.insert(5).unwrap();
        assert_eq!(slab.locked_bytes().unwrap(), slab.memory_size());
        slab.memory_size()
    };
    eprintln!(
        "an mlocked 1 MiB arena after dropping a {size}-byte Heap slab that never locked: VmLck \
         {} -> {} kB, smaps says {} of its bytes are in locked mappings",
        lck0 / 1024,
        vmlck() / 1024,
        locked_arena()
    );
    assert_eq!(vmlck(), lck0, "VmLck unchanged");
    assert_eq!(
        locked_arena(),
        MIB,
        "the whole arena is still in locked mappings"
    );
    assert_eq!(pagemap_present(arena_addr, MIB), MIB);

    // A slab that does lock unlocks at drop — mlock does not nest, so the pages it shares with
    // the application's lock lose that lock too (documented on `Slab::mlock`).
    let mut slab: Slab<u64, Heap<&Arena>> = Slab::new_in(Heap::new_in(&arena));
    slab.alloc(100).unwrap();
    slab.mlock().unwrap();
    let size = slab.memory_size();
    drop(slab);
    assert_eq!(vmlck(), lck0 - size);
    assert_eq!(locked_arena(), MIB - size);
    arena.relock();
    assert_eq!(vmlck(), lck0);
}

const MLOCKALL_CHILD: &str = "NEXUS_SLAB_MLOCKALL_CHILD";

/// Regression (issue 9): in a process that called `mlockall`, dropping a `Heap` slab unlocked
/// the slab's pages. Runs in a child process: mlockall acts on the whole process.
#[test]
fn dropping_a_heap_slab_keeps_mlockall_pins() {
    if !in_child(MLOCKALL_CHILD) {
        // Judged here: what a child prints is the parent's captured output.
        if cfg!(target_env = "musl") {
            // The proof watches the freed pages stay locked; musl's allocator unmaps a freed
            // block of this size at once (glibc's keeps it), so there is nothing left to watch.
            cannot_run("musl's allocator unmaps the freed slab's pages: none stay to be seen");
        } else {
            run_in_child("dropping_a_heap_slab_keeps_mlockall_pins", MLOCKALL_CHILD);
        }
        return;
    }
    let mut slab: Slab<u64, Heap> = Slab::new();
    slab.alloc(8000).unwrap();
    let size = slab.memory_size();
    let addr = region_start(&mut slab, 3);
    // Something allocated after the slab keeps the allocator from trimming its pages.
    let above = vec![1u8; 64 << 10];
    // SAFETY: mlockall has no memory-safety preconditions.
    assert_eq!(unsafe { libc::mlockall(libc::MCL_CURRENT) }, 0);
    let lck0 = vmlck();
    let locked_region = || {
        smaps_vmas(addr, size)
            .iter()
            .filter(|v| v.flags.iter().any(|f| f == "lo"))
            .map(|v| v.end.min(addr + size) - v.start.max(addr))
            .sum::<usize>()
    };
    assert_eq!(locked_region(), size, "{:?}", smaps_vmas(addr, size));
    drop(slab);
    let lck1 = vmlck();
    eprintln!(
        "after mlockall: dropping a {size}-byte Heap slab: VmLck {} -> {} kB; its pages in \
         locked mappings: {}",
        lck0 / 1024,
        lck1 / 1024,
        locked_region()
    );
    assert_eq!(lck1, lck0, "VmLck unchanged");
    assert_eq!(locked_region(), size, "the freed pages are still locked");
    drop(above);
}

/// A custom backing over a fresh anonymous mapping, which prefaults or not.
struct Custom {
    prefault: bool,
}

// SAFETY: the region is a fresh private anonymous mapping, page-aligned, the size asked rounded
// up to pages, read-write, unmapped only in `release`.
unsafe impl Backing for Custom {
    fn granularity(&self) -> usize {
        page_size()
    }

    fn allocate(
        &mut self,
        layout: std::alloc::Layout,
    ) -> Result<nexus_slab::backing::Region, Error> {
        let page = page_size();
        let len = layout.size().next_multiple_of(page);
        let region = nexus_slab::backing::Region::new(fresh_mapping(len), len, page);
        if self.prefault {
            // SAFETY: the mapping is fresh and ours alone.
            unsafe { region.prefault() }?;
        }
        Ok(region)
    }

    unsafe fn release(&mut self, region: nexus_slab::backing::Region, _: std::alloc::Layout) {
        // SAFETY: the caller hands back the mapping `allocate` made.
        unsafe { libc::munmap(region.as_ptr().cast(), region.len()) };
    }
}

/// A fresh private anonymous mapping of `len` bytes, not advised MADV_HUGEPAGE.
fn fresh_mapping(len: usize) -> std::ptr::NonNull<u8> {
    // SAFETY: a new mapping at an address of the kernel's choosing.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(p, libc::MAP_FAILED);
    std::ptr::NonNull::new(p.cast()).unwrap()
}

/// Regression (issue 9): prefaulting was private to the crate, so a custom backing could not
/// keep the promise of no page fault after `alloc`. `Region::prefault` is public now.
#[test]
fn region_prefault_gives_a_custom_backing_fault_free_fills() {
    let _g = serial();
    fill_without_faults(Custom { prefault: true }, 16 * MIB);
    // The control: the same backing without it faults.
    let mut slab: Slab<u64, Custom> = Slab::new_in(Custom { prefault: false });
    slab.alloc_bytes(16 * MIB).unwrap();
    let before = thread_minflt();
    while slab.insert(0).is_ok() {}
    let faults = thread_minflt() - before;
    eprintln!("custom backing without Region::prefault: {faults} minor faults filling 16 MiB");
    assert!(faults >= 8, "{faults}");
}

/// `Region::page_size` is what `Region::prefault` steps by when it has to touch the pages
/// itself (a region that is not whole base pages cannot be populated with one madvise).
#[test]
fn region_prefault_touches_one_byte_per_reported_page() {
    let _g = serial();
    let base = page_size();
    for (page, want) in [(base, 4 * MIB), (HUGE_2M, 2 * base)] {
        let len = 4 * MIB + HUGE_2M;
        let map = fresh_mapping(len);
        // A 2 MiB-aligned start inside the mapping; a length that is not whole pages.
        let off = map.as_ptr().align_offset(HUGE_2M);
        // SAFETY: `off < 2 MiB`, so `off + 4 MiB` is inside the mapping.
        let start = unsafe { map.add(off) };
        let region = nexus_slab::backing::Region::new(start, 4 * MIB - 64, page);
        let faults0 = thread_minflt();
        // SAFETY: the mapping is ours alone.
        unsafe { region.prefault() }.unwrap();
        let faults = thread_minflt() - faults0;
        let present = pagemap_present(start.as_ptr() as usize, 4 * MIB);
        eprintln!(
            "prefault of 4 MiB - 64 reported on {} KiB pages: {present} bytes present, {faults} \
             faults",
            page / 1024
        );
        assert_eq!(present, want);
        // One page touched per reported page: a read fault (the zero page), then a write fault.
        let touched = want / base;
        assert!(
            (touched..=2 * touched).contains(&(faults as usize)),
            "{faults}"
        );
        // SAFETY: the mapping made above, used by nothing.
        unsafe { libc::munmap(map.as_ptr().cast(), len) };
    }
}

/// The kernel release as (major, minor), from uname.
fn kernel_version() -> (u32, u32) {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut parts = release.trim().split(|c: char| !c.is_ascii_digit());
    let major = parts.next().unwrap().parse().unwrap();
    let minor = parts.next().unwrap().parse().unwrap();
    (major, minor)
}

fn thp_on() -> bool {
    let thp =
        std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").unwrap_or_default();
    !thp.is_empty() && !thp.contains("[never]")
}

/// Whether the kernel has MADV_COLLAPSE and THP is on, so that the cause of a refusal can be
/// told apart; if not, the calling proof is recorded as not run.
fn can_tell_collapse_causes_apart() -> bool {
    if kernel_version() < (6, 1) {
        cannot_run("needs Linux 6.1+ (MADV_COLLAPSE) to tell the causes of a refusal apart");
        return false;
    }
    if !thp_on() {
        not_run(
            "needs transparent huge pages on, to tell the causes of a refusal apart",
            "echo madvise | sudo tee /sys/kernel/mm/transparent_hugepage/enabled",
        );
        return false;
    }
    true
}

/// The message of an `Unsupported` (or `ThpDisabled`) error from `try_collapse`.
fn collapse_refusal<B: Backing>(slab: &mut Slab<u64, B>) -> String {
    match slab.try_collapse() {
        Err(
            e @ Error::Unsupported {
                what: "MADV_COLLAPSE",
                ..
            },
        ) => e.to_string(),
        Err(e @ Error::ThpDisabled { .. }) => e.to_string(),
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

/// Regression (issue 9): `try_collapse` on a slab under 2 MiB said it "needs Linux 6.1+ with
/// transparent huge pages" on a 6.18 kernel with THP on. The cause is the size.
#[test]
fn try_collapse_on_a_small_slab_names_the_size_not_the_kernel() {
    let _g = serial();
    if !can_tell_collapse_causes_apart() {
        return;
    }
    let mut mmap: Slab<u64> = Slab::with_capacity(1000);
    let mut heap: Slab<u64, Heap> = Slab::new_in(Heap::new());
    heap.alloc_bytes(MIB).unwrap();
    for (name, reason, size) in [
        ("Mmap", collapse_refusal(&mut mmap), mmap.memory_size()),
        ("Heap", collapse_refusal(&mut heap), heap.memory_size()),
    ] {
        eprintln!("{name}, {size} bytes: {reason}");
        assert!(!reason.contains("6.1"), "{reason}");
        assert!(
            reason.contains(&format!("({size} bytes at")),
            "names the size: {reason}"
        );
        assert!(
            reason.contains("2 MiB"),
            "names the huge page size: {reason}"
        );
    }
    // Witness: the kernel agrees the region cannot collapse (EINVAL for a small mapping).
    let k = mmap.insert(1).unwrap();
    let addr = mmap.get(k).unwrap() as *const u64 as *mut libc::c_void;
    // SAFETY: MADV_COLLAPSE changes no contents; the range is the slab's own pages.
    let rc = unsafe { libc::madvise(addr, mmap.memory_size(), MADV_COLLAPSE) };
    assert_eq!(
        (rc, std::io::Error::last_os_error().raw_os_error()),
        (-1, Some(libc::EINVAL))
    );
}

/// Regression (issue 9): a region advised MADV_NOHUGEPAGE was blamed on the kernel version.
#[test]
fn try_collapse_on_a_nohugepage_region_names_the_advice() {
    let _g = serial();
    if !can_tell_collapse_causes_apart() {
        return;
    }
    let mut slab: Slab<u64> = Slab::new();
    slab.alloc_bytes(4 * MIB).unwrap();
    let size = slab.memory_size();
    let addr = region_start(&mut slab, 1);
    // SAFETY: MADV_NOHUGEPAGE only sets a flag on the slab's own pages.
    assert_eq!(
        unsafe { libc::madvise(addr as *mut _, size, libc::MADV_NOHUGEPAGE) },
        0
    );
    assert!(smaps_vmas(addr, size)
        .iter()
        .all(|v| v.flags.iter().any(|f| f == "nh")));
    let huge = slab.huge_page_bytes().unwrap();
    let reason = collapse_refusal(&mut slab);
    eprintln!("4 MiB slab advised MADV_NOHUGEPAGE: {reason}");
    assert!(!reason.contains("6.1"), "{reason}");
    assert!(reason.contains("MADV_NOHUGEPAGE"), "{reason}");
    assert_eq!(slab.huge_page_bytes().unwrap(), huge);
}

const THP_DISABLED_CHILD: &str = "NEXUS_SLAB_THP_DISABLED_CHILD";

/// Regression (issue 9): in a process with THP disabled by prctl, the kernel version was blamed.
/// Runs in a child process: the prctl acts on the whole process.
#[test]
fn try_collapse_with_thp_disabled_by_prctl_names_the_prctl() {
    if !in_child(THP_DISABLED_CHILD) {
        // Judged here: what a child prints is the parent's captured output.
        if can_tell_collapse_causes_apart() {
            run_in_child(
                "try_collapse_with_thp_disabled_by_prctl_names_the_prctl",
                THP_DISABLED_CHILD,
            );
        }
        return;
    }
    // SAFETY: prctl with integer arguments only.
    assert_eq!(
        unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) },
        0
    );
    let mut slab: Slab<u64> = Slab::new();
    slab.alloc_bytes(4 * MIB).unwrap();
    let err = slab.try_collapse().unwrap_err();
    eprintln!("4 MiB slab, THP disabled by prctl: {err}");
    assert!(
        matches!(err, Error::ThpDisabled { process: true, .. }),
        "{err:?}"
    );
    let fix = "call `prctl(PR_SET_THP_DISABLE, 0, 0, 0, 0)` first";
    assert_eq!(err.hint().as_deref(), Some(fix));
    assert_eq!(
        err.to_string(),
        format!("transparent huge pages are disabled for this process (PR_SET_THP_DISABLE): {fix}")
    );
}

/// Regression (issue 9): mlock's ENOMEM was always `MemlockLimit`, though it also means part of
/// the range is not mapped. (As root with CAP_IPC_LOCK, the limit cannot be the cause.)
#[test]
fn mlock_of_an_unmapped_range_is_not_blamed_on_the_limit() {
    let _g = serial();
    let info = nexus_slab::system::SystemInfo::probe();
    if info.cap_ipc_lock != Some(true) {
        not_run(
            "needs CAP_IPC_LOCK, so that the limit cannot be the cause",
            "run the tests as root (or with CAP_IPC_LOCK)",
        );
        return;
    }
    let page = page_size();
    let map = mapping_with_a_hole(3);
    let lck0 = vmlck();
    let region = nexus_slab::backing::Region::new(map, 3 * page, page);
    let err = Mmap::new().lock(&region).unwrap_err();
    let msg = err.to_string();
    eprintln!("mlock over a hole: {msg}");
    assert!(matches!(&err, Error::Os { op: "mlock", .. }), "{err:?}");
    assert!(msg.contains("not mapped"), "{msg}");
    // The kernel locks mapping by mapping: the page before the hole stays locked (documented on
    // `Backing::lock`); a region from a working backing has no hole.
    assert!(vmlck() - lck0 <= page);
    // SAFETY: the two pages left of our mapping.
    unsafe {
        libc::munlock(map.as_ptr().cast(), 3 * page);
        libc::munmap(map.as_ptr().cast(), 3 * page);
    }
}

const MAP_COUNT_CHILD: &str = "NEXUS_SLAB_MAP_COUNT_CHILD";

/// Regression (issue 9): mlock's ENOMEM at `vm.max_map_count` (locking part of a mapping splits
/// it) was reported as `MemlockLimit`. Runs in a child process, which fills its address space
/// with mappings up to the limit.
#[test]
fn mlock_at_the_mapping_limit_names_vm_max_map_count() {
    let max: usize = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    if !in_child(MAP_COUNT_CHILD) {
        // Judged here: what a child prints is the parent's captured output.
        if cfg!(target_env = "musl") {
            // musl's allocator maps memory for its allocations (glibc's grows the heap it has):
            // at the limit nothing can allocate — neither the test nor the crate's diagnosis —
            // and the child hangs on a lock instead.
            cannot_run("with musl's allocator, a process at vm.max_map_count cannot allocate");
        } else if max > 1 << 20 {
            cannot_run(&format!(
                "vm.max_map_count is {max}: too many mappings to make in a test"
            ));
        } else {
            run_in_child(
                "mlock_at_the_mapping_limit_names_vm_max_map_count",
                MAP_COUNT_CHILD,
            );
        }
        return;
    }
    // The slab's region lies in the middle of an arena's mapping: locking it splits the mapping
    // in three.
    let arena = Arena::unlocked(3 * 64 * 1024);
    // SAFETY: the first 64 KiB of the arena are skipped, never used.
    arena.used.set(64 * 1024);
    let mut slab: Slab<u64, Heap<&Arena>> = Slab::new_in(Heap::new_in(&arena));
    slab.alloc_bytes(64 * 1024).unwrap();
    let k = slab.insert(9).unwrap();

    // Fill the map count: a PROT_NONE reservation, every other page made readable, until the
    // kernel refuses (each change splits off two more mappings).
    let pages = max * 2 + 4;
    let page = page_size();
    let reserve = fresh_mapping(pages * page);
    // SAFETY: the reservation is ours and holds nothing.
    unsafe { libc::mprotect(reserve.as_ptr().cast(), pages * page, libc::PROT_NONE) };
    let mut split = 0;
    for i in (1..pages).step_by(2) {
        // SAFETY: as above: one page of our reservation.
        let rc =
            unsafe { libc::mprotect(reserve.as_ptr().add(i * page).cast(), page, libc::PROT_READ) };
        if rc != 0 {
            assert_eq!(
                std::io::Error::last_os_error().raw_os_error(),
                Some(libc::ENOMEM)
            );
            break;
        }
        split += 1;
    }
    let maps = maps_count();
    let lck0 = vmlck();
    let err = slab.mlock().unwrap_err();
    let msg = err.to_string();
    eprintln!(
        "{split} pages made readable; {maps} lines in /proc/self/maps, vm.max_map_count {max}; \
         mlock: {msg}"
    );
    assert!(
        matches!(err, Error::MapCountLimit { max: m, .. } if m == max),
        "{err:?}"
    );
    assert!(
        msg.contains("vm.max_map_count") && msg.contains("sysctl -w"),
        "{msg}"
    );
    assert!(msg.contains(&max.to_string()), "{msg}");
    // Nothing changed.
    assert_eq!(vmlck(), lck0);
    assert_eq!(slab[k], 9);
    // With the mappings gone, the same call works.
    // SAFETY: the reservation, used by nothing.
    unsafe { libc::munmap(reserve.as_ptr().cast(), pages * page) };
    slab.mlock().unwrap();
    assert_eq!(vmlck(), lck0 + slab.memory_size());
    assert_eq!(slab.locked_bytes().unwrap(), slab.memory_size());
}
