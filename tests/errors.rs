//! The errors as users meet them (issues 19 and 20): one family per kind of operation, each
//! message one line with the reason and, where there is one, the fix — the same fix that
//! `hint()` returns, and that `Debug` (what a `main` returning `Result<(), Box<dyn Error>>`
//! prints) shows too — and a cause printed once, by `source()`, never also in the message.

use std::error::Error as StdError;
use std::hash::Hash;

use nexus_slab::{
    backing::{Backing, Heap, Mmap, Region},
    Error, Full, GenKey, HugeSlab, InsertAtError, Key, KeyError, Slab,
};

/// The rules every error keeps; returns its message.
fn check(e: &(dyn StdError + 'static), hint: Option<String>) -> String {
    let text = e.to_string();
    let debug = format!("{e:?}");
    assert!(
        !text.is_empty() && !text.contains('\n'),
        "one line: {text:?}"
    );
    assert!(!text.ends_with('.'), "no final period: {text}");
    let first = text.split([' ', ':']).next().unwrap();
    assert!(
        !first.starts_with(|c: char| c.is_ascii_uppercase())
            || first[1..].contains(|c: char| c.is_ascii_uppercase() || c == '_'),
        "lowercase (or an acronym): {text}"
    );
    assert!(text.len() <= 180, "{} characters: {text}", text.len());
    assert!(
        debug.ends_with(&format!(": {text}")),
        "Debug shows the message: {debug}"
    );
    if let Some(hint) = &hint {
        assert!(text.ends_with(&format!(": {hint}")), "{text}");
        assert!(debug.contains(hint.as_str()), "{debug}");
        // What `fn main() -> Result<(), Box<dyn Error>>` prints on the way out.
        let main_prints = format!("Error: {debug}");
        assert!(main_prints.contains(hint.as_str()));
    }
    let mut source = e.source();
    while let Some(s) = source {
        let cause = s.to_string();
        assert!(
            !text.contains(&cause),
            "the cause {cause:?} is printed twice: {text}"
        );
        source = s.source();
    }
    eprintln!("{text}");
    text
}

#[test]
fn key_errors_are_small_plain_values() {
    fn plain<T: Copy + Eq + Hash + Send + Sync + 'static>() {}
    plain::<KeyError>();
    assert_eq!(size_of::<KeyError>(), 3 * size_of::<usize>());
    assert_eq!(
        size_of::<Result<[&mut u64; 2], KeyError>>(),
        size_of::<KeyError>()
    );
    assert!(size_of::<Error>() <= 40, "{}", size_of::<Error>());
    assert_eq!(size_of::<Result<(), Error>>(), size_of::<Error>());
    assert_eq!(size_of::<Full>(), 4);
    assert_eq!(size_of::<Result<Key, Full<u32>>>(), size_of::<Full<u32>>());
}

#[test]
fn key_errors_from_every_call_that_makes_them() {
    let mut slab: Slab<&str, Heap, GenKey> = Slab::new_in(Heap::new());
    let none = slab.get_disjoint_mut([GenKey::from_bits(1 << 32).unwrap()]);
    let e = none.unwrap_err();
    assert!(matches!(
        e,
        KeyError::OutOfRange {
            index: 0,
            capacity: 0,
            ..
        }
    ));
    let text = check(&e, e.hint());
    assert!(
        text.contains("no memory yet") && text.contains("alloc(n)"),
        "{text}"
    );

    slab.alloc(8).unwrap();
    let a = slab.insert("a").unwrap();
    let b = slab.insert("b").unwrap();
    let dup = slab.get_disjoint_mut([a, b, a]).unwrap_err();
    let copy = dup; // Copy
    assert!(matches!(copy, KeyError::Duplicate { index: 0, .. }));
    assert_eq!(copy, dup);
    check(&dup, dup.hint());
    slab.remove(a);
    let stale = slab.get_disjoint_mut([b, a]).unwrap_err();
    assert!(matches!(stale, KeyError::Stale { index: 0, .. }));
    assert_eq!(stale.index(), 0);
    check(&stale, stale.hint());
    let far = GenKey::from_bits(1 << 32 | 1_000_000).unwrap();
    let out = slab.get_disjoint_mut([far]).unwrap_err();
    assert!(matches!(
        out,
        KeyError::OutOfRange {
            index: 1_000_000,
            ..
        }
    ));
    assert_eq!(out.hint(), None);
    check(&out, out.hint());

    // insert_at: the value back, and the KeyError's message once.
    let err: InsertAtError<&str> = slab.insert_at(b, "again").unwrap_err();
    assert!(matches!(err.error(), KeyError::Occupied { index: 1, .. }));
    assert_eq!(check(&err, err.hint()), err.error().to_string());
    assert!(err.source().is_none());
    let (value, why) = err.into_parts();
    assert_eq!((value, why.index()), ("again", 1));

    let mut plain: Slab<u8, Heap> = Slab::new_in(Heap::new());
    let err = plain.insert_at(Key::new_saturating(3), 7).unwrap_err();
    assert!(matches!(
        err.error(),
        KeyError::OutOfRange { capacity: 0, .. }
    ));
    assert_eq!(err.hint(), err.error().hint());
    check(&err, err.hint());
    plain.alloc(8).unwrap();
    let vacant = plain
        .get_disjoint_mut([Key::new_saturating(3)])
        .unwrap_err();
    assert!(matches!(vacant, KeyError::Vacant { index: 3, .. }));
    check(&vacant, vacant.hint());
}

/// A first `insert` into `Slab::new()` is not a silent trap: the message says the slab has no
/// memory, and what to call.
#[test]
fn a_full_or_unallocated_slab_says_which() {
    let mut slab: Slab<String> = Slab::new();
    let full = slab.insert("first".to_string()).unwrap_err();
    assert_eq!(full.capacity(), 0);
    let text = check(&full, full.hint());
    assert_eq!(
        text,
        "the slab has no memory yet: call `alloc(n)` first, or build it with \
         `Slab::try_with_capacity(n)`"
    );
    assert_eq!(full.into_inner(), "first");
    let no_entry = slab.vacant_entry().unwrap_err();
    assert_eq!(check(&no_entry, no_entry.hint()), text);

    slab.alloc(1).unwrap();
    while slab.insert(String::new()).is_ok() {}
    let full = slab.insert("late".to_string()).unwrap_err();
    assert_eq!(full.hint(), None);
    let text = check(&full, full.hint());
    assert_eq!(
        text,
        format!("the slab is full ({} slots)", slab.capacity())
    );
    let entry = slab.vacant_entry().unwrap_err();
    assert_eq!(entry, full.clone().without_value());
}

/// The allocation and memory-control errors reachable on any machine, through the public API.
#[test]
fn allocation_errors_carry_the_reason_and_the_fix() {
    let mut slab: Slab<u64> = Slab::new();
    let errors = [
        slab.alloc(0).unwrap_err(),
        slab.alloc(usize::MAX).unwrap_err(),
        slab.alloc_bytes(1).unwrap_err(),
        slab.mlock().unwrap_err(),
        slab.munlock().unwrap_err(),
        slab.locked_bytes().unwrap_err(),
    ];
    assert!(matches!(errors[0], Error::ZeroCapacity { .. }));
    assert!(matches!(errors[1], Error::CapacityOverflow { .. }));
    assert!(matches!(errors[2], Error::BudgetTooSmall { .. }));
    for e in &errors[3..] {
        assert!(matches!(e, Error::NotAllocated { .. }), "{e:?}");
        assert!(e.hint().unwrap().contains("Slab::try_with_capacity(n)"));
    }
    for e in &errors {
        check(e, e.hint());
    }
    slab.alloc(16).unwrap();
    let again = slab.alloc(16).unwrap_err();
    assert!(matches!(again, Error::AlreadyAllocated { .. }));
    check(&again, again.hint());

    // A second region from one Mmap backing.
    let mut mmap = Mmap::new();
    let layout = std::alloc::Layout::from_size_align(64, 8).unwrap();
    let region = mmap.allocate(layout).unwrap();
    let second = mmap.allocate(layout).unwrap_err();
    assert!(matches!(second, Error::Unsupported { .. }));
    check(&second, second.hint());
    // SAFETY: the region came from this backing, and nothing uses it.
    unsafe { mmap.release(region, layout) };

    // Huge pages where the pool cannot hold the slab (one page more than it has free): the
    // command that grows it.
    let free = nexus_slab::system::SystemInfo::probe()
        .huge_pools
        .iter()
        .find(|p| p.page_size == 2 << 20)
        .map_or(0, |p| p.free);
    let mut huge: HugeSlab<u64> = HugeSlab::new();
    if let Err(e) = huge.alloc_bytes((free + 1) * (2 << 20)) {
        let text = check(&e, e.hint());
        if let Error::HugePagesUnavailable { needed, .. } = e {
            assert!(text.contains(&format!("{needed} needed")));
            assert!(e.hint().unwrap().starts_with("run `echo "), "{e}");
            assert!(e
                .hint()
                .unwrap()
                .contains("| sudo tee /sys/kernel/mm/hugepages/"));
        }
    }

    // A NUMA node that does not exist.
    let mut far: Slab<u64> = Slab::new_in(Mmap::new().numa_node(4000));
    let e = far.alloc(10).unwrap_err();
    assert!(
        matches!(
            e,
            Error::NodeUnavailable { node: 4000, .. } | Error::Unsupported { .. }
        ),
        "{e:?}"
    );
    check(&e, e.hint());
}

/// The error of a custom backing, made with `Error::other`, keeps its message and its cause,
/// each printed once.
#[test]
fn a_custom_backing_reports_its_own_errors() {
    #[derive(Debug)]
    struct ArenaFull(std::io::Error);
    impl std::fmt::Display for ArenaFull {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("the arena is full")
        }
    }
    impl StdError for ArenaFull {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }
    struct Arena;
    // SAFETY: it never hands out a region.
    unsafe impl Backing for Arena {
        fn granularity(&self) -> usize {
            4096
        }
        fn allocate(&mut self, _: std::alloc::Layout) -> Result<Region, Error> {
            Err(Error::other(ArenaFull(std::io::Error::other(
                "no page left",
            ))))
        }
        unsafe fn release(&mut self, _: Region, _: std::alloc::Layout) {
            unreachable!("no region is handed out")
        }
    }
    let mut slab: Slab<u64, Arena> = Slab::new_in(Arena);
    let e = slab.alloc(10).unwrap_err();
    assert_eq!(check(&e, e.hint()), "the arena is full");
    assert_eq!(e.source().unwrap().to_string(), "no page left");
    let Error::Other { error, .. } = &e else {
        panic!("{e:?}")
    };
    assert!(error.downcast_ref::<ArenaFull>().is_some());
    // Through `Box<dyn Error>`, as `?` in `main` takes it.
    let boxed: Box<dyn StdError> = Box::new(e);
    assert_eq!(boxed.to_string(), "the arena is full");
}

#[cfg(feature = "serde")]
#[test]
fn snapshot_errors_are_typed_whatever_the_format() {
    use nexus_slab::snapshot::{RestoreLimits, SnapshotError};

    let big: Slab<u64, Heap> = Slab::with_capacity(1 << 20);
    let bytes = postcard::to_allocvec(&big).unwrap();
    let small = RestoreLimits::new().with_max_bytes(1 << 20);

    // postcard keeps no custom message ...
    let mut de = postcard::Deserializer::from_bytes(&bytes);
    let lost = Slab::<u64, Heap>::deserialize_in(Heap::new(), small, &mut de).unwrap_err();
    assert_eq!(lost.to_string(), "Serde Deserialization Error");
    // ... and restore_in returns the reason and its fix.
    let mut de = postcard::Deserializer::from_bytes(&bytes);
    let e = Slab::<u64, Heap>::restore_in(Heap::new(), small, &mut de).unwrap_err();
    assert!(matches!(
        e,
        SnapshotError::TooLarge {
            available: None,
            ..
        }
    ));
    let text = check(&e, e.hint());
    assert!(text.contains("over the restore limit of 1 MiB"), "{text}");
    assert!(e.hint().unwrap().contains(&format!(
        "RestoreLimits::new().with_max_bytes({})",
        big.memory_size()
    )));
    // serde_json keeps the message, with the position after it.
    let json = serde_json::to_string(&big).unwrap();
    let mut de = serde_json::Deserializer::from_str(&json);
    let kept = Slab::<u64, Heap>::deserialize_in(Heap::new(), small, &mut de).unwrap_err();
    assert!(kept.to_string().starts_with(&text), "{kept}");

    // Corrupt, and the format's own error (kept as the source).
    let json = r#"{"capacity":2,"high_water":3,"entries":[],"free":[]}"#;
    let mut de = serde_json::Deserializer::from_str(json);
    let e = Slab::<u64, Heap>::restore_in(Heap::new(), small, &mut de).unwrap_err();
    assert!(matches!(e, SnapshotError::Corrupt { .. }));
    check(&e, e.hint());
    let mut de = postcard::Deserializer::from_bytes(&bytes[..2]);
    let e = Slab::<u64, Heap>::restore_in(Heap::new(), small, &mut de).unwrap_err();
    assert!(matches!(e, SnapshotError::Format { .. }), "{e:?}");
    let text = check(&e, e.hint());
    assert_eq!(text, "the format could not read the snapshot");
    assert!(e.source().is_some());
}
