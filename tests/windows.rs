//! The memory controls on Windows (feature `unstable-windows`): VirtualLock against the
//! working-set quota, large pages (`MEM_LARGE_PAGES`) against SeLockMemoryPrivilege, and what
//! `SystemInfo` and `QueryWorkingSetEx` report. Without the feature every control must be a
//! clear `Unsupported` while the slab itself works.
//!
//! CI runs these under wine (`.ci/windows.sh`), whose locks and large pages are emulations:
//! there the reports (`locked_bytes`, `huge_page_bytes`) are printed, not checked; on Windows
//! they must agree with what was asked.
#![cfg(windows)]

mod common;

use std::ffi::c_void;
use std::sync::{Mutex, MutexGuard};

use nexus_slab::{
    backing::{HugePageSize, HugeTlb, Mmap},
    system::{Limit, SystemInfo},
    Error, HugeSlab, LockedSlab, Slab,
};

const MIB: usize = 1 << 20;
const LARGE: usize = 2 << 20;
/// Whether the memory controls are built in (feature `unstable-windows`).
fn memory_control() -> bool {
    cfg!(feature = "unstable-windows")
}

#[link(name = "kernel32")]
extern "system" {
    fn GetCurrentProcess() -> *mut c_void;
    fn GetProcessWorkingSetSize(process: *mut c_void, min: *mut usize, max: *mut usize) -> i32;
    fn SetProcessWorkingSetSize(process: *mut c_void, min: usize, max: usize) -> i32;
    fn GetModuleHandleA(name: *const u8) -> *mut c_void;
    fn GetProcAddress(module: *mut c_void, name: *const u8) -> *mut c_void;
}

/// Whether this is wine rather than Windows (wine's ntdll exports `wine_get_version`).
fn under_wine() -> bool {
    // SAFETY: both names are NUL-terminated; ntdll is loaded in every process.
    unsafe {
        let ntdll = GetModuleHandleA(c"ntdll.dll".as_ptr().cast());
        !ntdll.is_null() && !GetProcAddress(ntdll, c"wine_get_version".as_ptr().cast()).is_null()
    }
}

fn working_set() -> (usize, usize) {
    let (mut min, mut max) = (0, 0);
    // SAFETY: valid out-pointers; the current-process pseudo-handle is always valid.
    let ok = unsafe { GetProcessWorkingSetSize(GetCurrentProcess(), &mut min, &mut max) };
    assert_ne!(ok, 0, "GetProcessWorkingSetSize failed");
    (min, max)
}

/// Locks and the working set are per process: one test at a time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn a_slab_allocates_and_works_on_every_backing() {
    let mut slab: Slab<u64, Mmap> = Slab::with_capacity(100_000);
    assert!(slab.capacity() >= 100_000);
    assert_eq!(slab.memory_size() % 4096, 0);
    let keys: Vec<_> = (0..100_000u64).map(|v| slab.insert(v).unwrap()).collect();
    assert!(keys.iter().enumerate().all(|(i, &k)| slab[k] == i as u64));
    assert_eq!(slab.remove(keys[7]), Some(7));

    let mut lazy: Slab<String, Mmap> = Slab::new_in(Mmap::new().prefault(false));
    lazy.alloc_bytes(8 * MIB).unwrap();
    assert!(lazy.memory_size() <= 8 * MIB);
    let k = lazy.insert("lazy".to_string()).unwrap();
    assert_eq!(lazy[k], "lazy");

    let mut heap: nexus_slab::HeapSlab<u32> = nexus_slab::HeapSlab::with_capacity(1000);
    let k = heap.insert(5).unwrap();
    assert_eq!(heap[k], 5);
}

#[test]
fn mlock_and_munlock_work_or_name_the_working_set() {
    let _g = serial();
    let mut slab: Slab<u64> = Slab::new();
    slab.alloc_bytes(16 * MIB).unwrap();
    let size = slab.memory_size();
    match slab.mlock() {
        Ok(()) => {
            assert!(
                memory_control(),
                "mlock cannot work without unstable-windows"
            );
            let locked = slab.locked_bytes().unwrap();
            eprintln!("VirtualLock of {size} bytes: ok; QueryWorkingSetEx counts {locked} locked");
            if !under_wine() {
                assert_eq!(locked, size);
            }
            slab.munlock().unwrap();
            if !under_wine() {
                assert_eq!(slab.locked_bytes().unwrap(), 0);
            }
        }
        Err(e @ Error::MemlockLimit { .. }) => {
            assert!(memory_control());
            let text = e.to_string();
            eprintln!("VirtualLock of {size} bytes: {text}");
            let Error::MemlockLimit { needed, limit, .. } = &e else {
                unreachable!()
            };
            assert_eq!(*needed, size);
            assert!(matches!(limit, Limit::Bytes(_)), "{limit:?}");
            assert!(text.contains("exceeds the minimum working set"), "{text}");
            assert!(text.contains("SetProcessWorkingSetSize"), "{text}");
            assert!(text.ends_with(&e.hint().unwrap()), "{text}");
            // The failed lock changed nothing: the slab still works, unlocking is harmless.
            let k = slab.insert(1).unwrap();
            assert_eq!(slab[k], 1);
            slab.munlock().unwrap();
        }
        Err(Error::Unsupported { reason, .. }) if !memory_control() => {
            assert!(reason.contains("unstable-windows"), "{reason}");
        }
        Err(e) => panic!("mlock: {e:?}"),
    }
    // Unlocking memory that was never locked succeeds, as munlock does.
    let mut other: Slab<u64> = Slab::with_capacity(1000);
    if memory_control() {
        other.munlock().unwrap();
    }
}

#[test]
fn a_larger_working_set_lets_a_locked_slab_lock() {
    if !memory_control() {
        common::skip::cannot_run(
            "VirtualLock is built in only with the `unstable-windows` feature",
        );
        return;
    }
    let _g = serial();
    let (min, max) = working_set();
    let want = 64 * MIB;
    // The fix the MemlockLimit message gives, applied.
    // SAFETY: the current-process pseudo-handle; sizes with min <= max.
    let ok =
        unsafe { SetProcessWorkingSetSize(GetCurrentProcess(), min.max(want), max.max(2 * want)) };
    assert_ne!(ok, 0, "SetProcessWorkingSetSize failed");
    let limit = SystemInfo::probe().memlock_limit;
    eprintln!("working set {min}..{max} raised; memlock_limit now {limit}");
    assert!(matches!(limit, Limit::Bytes(b) if b > 0));
    if !under_wine() {
        assert!(limit.allows(want as u64));
    }

    let mut slab: LockedSlab<u64> = LockedSlab::new();
    slab.alloc_bytes(16 * MIB).unwrap();
    let locked = slab.locked_bytes().unwrap();
    eprintln!(
        "LockedSlab of {} bytes: QueryWorkingSetEx counts {locked} locked",
        slab.memory_size()
    );
    if !under_wine() {
        assert_eq!(locked, slab.memory_size());
    }
    let k = slab.insert(9).unwrap();
    assert_eq!(slab[k], 9);
    drop(slab);

    // SAFETY: as above; restores what the process had.
    unsafe { SetProcessWorkingSetSize(GetCurrentProcess(), min, max) };
}

/// What allocating on large pages may give: the pages, or the privilege error that says how to
/// get them. Returns whether it allocated.
fn check_large_pages<B: nexus_slab::backing::Backing>(
    slab: &mut Slab<u64, B>,
    result: Result<(), Error>,
) -> bool {
    match result {
        Ok(()) => {
            assert!(memory_control());
            let size = slab.memory_size();
            assert_eq!(size % LARGE, 0);
            assert!(slab.capacity() >= 1 << 20);
            let huge = slab.huge_page_bytes().unwrap();
            eprintln!("large pages: {size} bytes; QueryWorkingSetEx counts {huge} on large pages");
            if !under_wine() {
                assert_eq!(huge, size);
            }
            for v in 0..(1u64 << 20) {
                slab.insert(v).unwrap();
            }
            slab.mlock().unwrap(); // large pages are never paged: nothing to do
            true
        }
        Err(Error::Unsupported { what, reason, .. }) => {
            eprintln!("large pages unavailable: {what}: {reason}");
            if memory_control() && under_wine() && reason.contains("error 87") {
                // wine 8 rejects MEM_LARGE_PAGES outright; Windows never does for whole pages.
            } else if memory_control() {
                assert!(reason.contains("SeLockMemoryPrivilege"), "{reason}");
                assert!(reason.contains("Lock pages in memory"), "{reason}");
            } else {
                assert!(reason.contains("unstable-windows"), "{reason}");
            }
            false
        }
        Err(e) => panic!("large pages: {e:?}"),
    }
}

#[test]
fn huge_tlb_is_large_pages_or_the_privilege_error() {
    let mut slab: HugeSlab<u64> = HugeSlab::new();
    let result = slab.alloc(1 << 20);
    if !check_large_pages(&mut slab, result) {
        assert_eq!(
            slab.capacity(),
            0,
            "a failed allocation leaves the slab empty"
        );
    }
}

#[test]
fn one_gib_pages_are_unsupported() {
    let mut slab: Slab<u64, HugeTlb> = Slab::new_in(HugeTlb::new(HugePageSize::SIZE_1G));
    match slab.alloc(1000) {
        Err(Error::Unsupported { reason, .. }) => eprintln!("1 GiB pages: {reason}"),
        Err(Error::ExceedsMemory { .. }) => {} // a machine with less than 1 GiB of RAM
        other => panic!("1 GiB pages: {other:?}"),
    }
    assert_eq!(slab.capacity(), 0);
}

#[test]
fn there_are_no_transparent_huge_pages() {
    let mut slab: Slab<u64> = Slab::with_capacity(1 << 20);
    match slab.try_collapse() {
        Err(Error::Unsupported { reason, .. }) => {
            assert!(
                !memory_control() || reason.contains("transparent"),
                "{reason}"
            );
        }
        other => panic!("try_collapse: {other:?}"),
    }
    if memory_control() {
        assert_eq!(slab.huge_page_bytes().unwrap(), 0);
    }
}

#[test]
fn system_info_reports_windows_facts() {
    let info = SystemInfo::probe();
    eprintln!("{info}");
    assert_eq!(info.base_page_size, 4096);
    assert!(
        info.huge_pools.is_empty(),
        "Windows keeps no huge-page pool"
    );
    assert!(info.thp_mode.is_none());
    assert_eq!(info.cap_ipc_lock, None);
    if memory_control() {
        let ram = info.physical_memory.expect("GlobalMemoryStatusEx");
        assert!(ram >= 64 * MIB);
        let (min, _) = working_set();
        assert_eq!(info.memlock_limit, Limit::Bytes(min as u64));
        // No pool to grow: the "command" says what makes large pages available instead.
        let fix = info.reserve_command(LARGE, 4);
        assert!(fix.contains("\"Lock pages in memory\""), "{fix}");
    } else {
        assert_eq!(info.memlock_limit, Limit::Unknown);
    }
}

/// NUMA placement (issue 13): Windows prefers a node (`VirtualAllocExNuma`) but has no strict
/// binding; it has no fork, so `dont_fork` changes nothing; it cannot leave a range out of dumps.
/// Without `unstable-windows` each is `Unsupported`. Every refusal leaves the slab unallocated.
#[test]
fn numa_preference_works_and_the_rest_is_a_clear_refusal() {
    use nexus_slab::system::NumaPolicy;
    let _g = serial();
    let info = SystemInfo::probe();
    eprintln!("NUMA nodes: {:?}", info.numa_nodes);

    let mut preferred: Slab<u64, Mmap> = Slab::new_in(Mmap::new().numa_preferred(0));
    match preferred.alloc_bytes(4 * MIB) {
        Ok(()) => {
            assert!(memory_control());
            assert!(!info.numa_nodes.is_empty() && info.numa_nodes[0].id == 0);
            let k = preferred.insert(3).unwrap();
            assert_eq!(preferred[k], 3);
            let placed = preferred.numa_bytes().unwrap();
            eprintln!("Mmap::new().numa_preferred(0), 4 MiB: {placed}");
            assert_eq!(
                placed.resident(),
                preferred.memory_size(),
                "prefaulted: all resident"
            );
            if !under_wine() && info.numa_nodes.len() == 1 {
                assert_eq!(placed.on_node(0), preferred.memory_size());
            }
        }
        Err(Error::Unsupported { reason, .. }) => {
            assert!(!memory_control(), "{reason}");
            assert!(reason.contains("unstable-windows"), "{reason}");
        }
        Err(e) => panic!("numa_preferred(0): {e:?}"),
    }

    let refusals: [(&str, Mmap); 3] = [
        ("numa_node(0)", Mmap::new().numa_node(0)),
        ("numa_preferred(4000)", Mmap::new().numa_preferred(4000)),
        ("dont_dump", Mmap::new().exclude_from_dumps()),
    ];
    for (name, backing) in refusals {
        let mut slab: Slab<u64, Mmap> = Slab::new_in(backing);
        let err = slab.alloc(1000).unwrap_err();
        eprintln!("{name}: {err}");
        match (&err, memory_control()) {
            (
                Error::NodeUnavailable {
                    node: 4000, nodes, ..
                },
                true,
            ) => {
                assert_eq!(nodes.len(), info.numa_nodes.len());
            }
            (Error::Unsupported { reason, .. }, true) if name == "numa_node(0)" => {
                assert!(reason.contains("numa_preferred"), "{reason}");
            }
            (Error::Unsupported { reason, .. }, true) if name == "dont_dump" => {
                assert!(reason.contains("MADV_DONTDUMP"), "{reason}");
            }
            (Error::Unsupported { .. }, false) => {}
            _ => panic!("{name}: {err:?}"),
        }
        assert_eq!((slab.capacity(), slab.memory_size()), (0, 0));
    }

    let mut no_fork: Slab<u64, Mmap> = Slab::new_in(Mmap::new().exclude_from_fork());
    assert_eq!(no_fork.alloc(1000).is_ok(), memory_control());
    assert_eq!(Mmap::new().numa_node(1).numa(), Some(NumaPolicy::Bind(1)));
}
