//! The placement and isolation options as an API, on every platform and under Miri: builders
//! chain (through `Locked` too), `clone_backing` and `try_clone` keep them, and where the
//! platform cannot honour one, `alloc` fails with `Unsupported` and the slab is unchanged. The
//! kernel-side proofs are in tests/placement.rs (Linux).

use nexus_slab::{
    backing::{CloneBacking, HugePageSize, HugeTlb, Locked, Mmap},
    system::{NumaBytes, NumaPolicy},
    Error, Slab,
};

#[test]
fn builders_chain_and_clones_keep_them() {
    let m = Mmap::new()
        .prefault(false)
        .numa_preferred(2)
        .exclude_from_dumps()
        .exclude_from_fork()
        .numa_node(1);
    assert_eq!(
        m.numa(),
        Some(NumaPolicy::Bind(1)),
        "the last placement wins"
    );
    assert!(m.excluded_from_fork() && m.excluded_from_dumps() && !m.prefaults());
    let c = m.clone_backing();
    assert_eq!(
        (
            c.numa(),
            c.excluded_from_fork(),
            c.excluded_from_dumps(),
            c.prefaults()
        ),
        (Some(NumaPolicy::Bind(1)), true, true, false)
    );
    assert!(format!("{m:?}").contains("Bind(1)"));

    let h = Locked::new(HugeTlb::new(HugePageSize::SIZE_1G))
        .numa_preferred(0)
        .exclude_from_fork();
    let hc = h.clone_backing();
    assert_eq!(hc.inner().huge_page_size(), HugePageSize::SIZE_1G);
    assert_eq!(hc.inner().numa(), Some(NumaPolicy::Preferred(0)));
    assert!(hc.inner().excluded_from_fork() && !hc.inner().excluded_from_dumps());
    assert_eq!(h, hc, "HugeTlb compares its options");
    assert_ne!(HugeTlb::default(), HugeTlb::default().exclude_from_dumps());

    let plain = Mmap::new();
    assert_eq!(
        (
            plain.numa(),
            plain.excluded_from_fork(),
            plain.excluded_from_dumps()
        ),
        (None, false, false),
        "nothing by default"
    );
    assert_eq!(Locked::<Mmap>::default().inner().numa(), None);
    assert!(!Locked::<Mmap>::default().inner().excluded_from_fork());
}

#[test]
fn numa_policy_and_report() {
    assert!(NumaPolicy::Bind(3).is_strict() && !NumaPolicy::Preferred(3).is_strict());
    assert_eq!(NumaPolicy::Preferred(3).node(), 3);
    let b = NumaBytes::from_pairs([(1, 8192), (0, 4096), (1, 4096), (5, 0)]);
    assert_eq!(b.nodes(), &[(0, 4096), (1, 12288)]);
    assert_eq!(
        (b.on_node(1), b.on_node(5), b.resident()),
        (12288, 0, 16384)
    );
    assert_eq!(b.to_string(), "node 0: 4 KiB, node 1: 12 KiB");
}

/// Whether this build places and isolates memory: Linux outside Miri.
fn placement_here() -> bool {
    cfg!(all(target_os = "linux", not(miri)))
}

#[test]
fn unsupported_options_fail_at_alloc_and_leave_the_slab_unchanged() {
    let cases: [(&str, Mmap); 3] = [
        ("numa_node", Mmap::new().numa_node(0)),
        ("dont_fork", Mmap::new().exclude_from_fork()),
        ("dont_dump", Mmap::new().exclude_from_dumps()),
    ];
    for (name, backing) in cases {
        // Windows has no fork: `dont_fork` there is a documented no-op, so it allocates.
        let works_here = placement_here()
            || (name == "dont_fork" && cfg!(all(windows, feature = "unstable-windows", not(miri))));
        let mut slab: Slab<u64, Mmap> = Slab::new_in(backing);
        match slab.alloc(1000) {
            Ok(()) => {
                assert!(works_here, "{name} cannot work here");
                let k = slab.insert(7).unwrap();
                assert_eq!(slab[k], 7);
            }
            Err(Error::Unsupported { what, reason, .. }) => {
                assert!(!works_here, "{name}: {what}: {reason}");
                assert!(!reason.is_empty());
                assert_eq!((slab.capacity(), slab.memory_size()), (0, 0));
                assert!(slab.insert(1).is_err(), "still unallocated");
            }
            Err(e) => panic!("{name}: {e:?}"),
        }
    }
}

#[test]
fn numa_bytes_of_an_unallocated_slab_is_not_allocated() {
    let slab: Slab<u64> = Slab::new();
    assert!(matches!(slab.numa_bytes(), Err(Error::NotAllocated { .. })));
}
