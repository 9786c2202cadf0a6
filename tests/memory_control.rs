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
use common::skip::{have_huge_pages, have_huge_pages_for, not_run};
use nexus_slab::{
    Backing, Error, Heap, HugePageSize, HugeSlab, HugeTlb, Locked, LockedSlab, Mmap, Slab,
};

const MIB: usize = 1 << 20;
const HUGE_2M: usize = 2 << 20;
const HUGE_1G: usize = 1 << 30;
const POOL_2M: &str = "/sys/kernel/mm/hugepages/hugepages-2048kB";

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
    let slab: Slab<u32, Locked<Heap>> = Slab::with_capacity(1 << 20).unwrap();
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
    let mut slab: Slab<u64, Mmap> = Slab::new_in(Mmap::lazy());
    slab.alloc_bytes(16 * MIB).unwrap();
    let before = thread_minflt();
    let mut i = 0u64;
    while slab.insert(i).is_ok() {
        i += 1;
    }
    let faults = thread_minflt() - before;
    eprintln!("Mmap::lazy(): {faults} minor faults while filling 16 MiB");
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
    let (free1, rsvd1) = huge_free_rsvd(page).unwrap();
    eprintln!(
        "{} KiB pages: free {free0} -> {free1}, reserved {rsvd0} -> {rsvd1} for a {} MiB slab",
        page / 1024,
        bytes / MIB
    );
    // Prefaulted, so the pages are taken (free falls), not merely promised (rsvd unchanged).
    assert_eq!(
        (free0 + rsvd1) - (free1 + rsvd0),
        pages,
        "HugePages_Free - Rsvd falls by memory_size / page size"
    );
    assert_eq!(free0 - free1, pages);
    let (mfree, mrsvd, default_size) = meminfo_huge();
    if page == default_size {
        // /proc/meminfo counts the default pool only (1 GiB with default_hugepagesz=1G).
        assert_eq!(meminfo0.0 - mfree, pages, "/proc/meminfo agrees");
        assert_eq!(mrsvd, meminfo0.1);
    }
    assert_eq!(slab.huge_page_bytes().unwrap(), bytes, "every byte is huge");
    assert_eq!(slab.try_collapse().unwrap(), bytes);
    for i in 0..slab.capacity() as u64 {
        slab.insert([i; 8]).unwrap();
    }
    drop(slab);
    assert_eq!(
        huge_free_rsvd(page).unwrap(),
        (free0, rsvd0),
        "every page goes back on drop"
    );
    assert_eq!(hugetlb_mappings(), mappings0, "and the mapping is gone");
}

#[test]
fn huge_slab_on_2mib_pages_takes_and_returns_exactly_its_pages() {
    huge_slab_takes_and_returns_pool_pages(HugePageSize::Size2M, 32 * MIB);
}

#[test]
fn huge_slab_on_1gib_pages_takes_and_returns_exactly_its_pages() {
    huge_slab_takes_and_returns_pool_pages(HugePageSize::Size1G, HUGE_1G);
}

#[test]
fn alloc_hugetlb_on_the_default_slab_uses_the_pool() {
    let _g = serial();
    if !have_huge_pages(HUGE_2M, 12) {
        return;
    }
    let free = || huge_free_rsvd(HUGE_2M).unwrap().0;
    let free0 = free();
    let mut slab: Slab<[u64; 3]> = Slab::new();
    slab.alloc_hugetlb(1_000_000).unwrap();
    assert!(slab.capacity() >= 1_000_000);
    assert_eq!(slab.memory_size() % HUGE_2M, 0);
    assert_eq!(free0 - free(), slab.memory_size() / HUGE_2M);
    assert_eq!(slab.huge_page_bytes().unwrap(), slab.memory_size());
    slab.mlock().unwrap(); // hugetlb pages are pinned anyway: succeeds, changes nothing
    drop(slab);
    assert_eq!(free(), free0);
}

#[test]
fn locked_hugetlb_slab_works() {
    let _g = serial();
    if !have_huge_pages(HUGE_2M, 2) {
        return;
    }
    let free = || huge_free_rsvd(HUGE_2M).unwrap().0;
    let free0 = free();
    let slab: Slab<u64, Locked<HugeTlb>> = Slab::with_capacity(100).unwrap();
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
        msg.contains("huge pages of 2 MiB") && msg.contains(&format!("{want_pages} needed")),
        "{msg}"
    );
    // Three pages more than the pool has now, in the 2 MiB pool's own file (not
    // /proc/sys/vm/nr_hugepages: that is the default pool, 1 GiB on some hosts).
    let total: usize = std::fs::read_to_string(format!("{POOL_2M}/nr_hugepages"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let fix = format!("echo {} | sudo tee {POOL_2M}/nr_hugepages", total + 3);
    assert!(
        msg.contains(&fix),
        "the message names the 2 MiB pool: {msg}"
    );
    assert_eq!(hugetlb_mappings(), maps0, "nothing stays mapped");
    assert_eq!(huge_free_rsvd(HUGE_2M), pool0, "no page taken or reserved");
    assert_eq!((slab.capacity(), slab.memory_size()), (0, 0));

    // The default slab's alloc_hugetlb fails the same way and can then allocate normally.
    let mut seed: Slab<[u8; 64]> = Slab::new();
    let err = seed.alloc_hugetlb(want_pages * HUGE_2M / 64).unwrap_err();
    assert!(matches!(err, Error::HugePagesUnavailable { .. }), "{err:?}");
    seed.alloc(1000).unwrap();
    let k = seed.insert([7; 64]).unwrap();
    assert_eq!(seed[k][0], 7);
    assert_eq!(seed.memory_size() % page_size(), 0);
}

#[test]
fn one_gib_pages_without_a_pool_are_a_clear_error() {
    let _g = serial();
    let mut slab: Slab<u64, HugeTlb> = Slab::new_in(HugeTlb::new(HugePageSize::Size1G));
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
    let info = nexus_slab::SystemInfo::probe();
    // SAFETY: sysconf has no preconditions.
    assert_eq!(info.page_size as i64, unsafe {
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
