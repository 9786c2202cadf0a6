//! The API for real programs: 4-byte keys, typed keys, `keys`/`values`/`values_mut`,
//! `key_of`, `vacant_key`, `insert_at`, `try_clone`, errors that compose — on every backing,
//! with values whose `Clone` and `Drop` panic.

mod common;

use std::cell::Cell;
use std::mem::size_of;
use std::panic::{catch_unwind, AssertUnwindSafe};

use common::{DropLog, Rng, Tracked};
use nexus_slab::{
    backing::{Backing, CloneBacking, Heap, Locked, Mmap},
    new_key_type, Error, GenKey, Key, KeyError, LockedSlab, Slab,
};

common::backing_tests!(
    mmap => nexus_slab::backing::Mmap,
    heap => nexus_slab::backing::Heap,
    locked => nexus_slab::backing::Locked<nexus_slab::backing::Mmap> | "Miri does not model mlock";
    [
    try_clone_keeps_keys_values_and_next_keys,
    try_clone_survives_a_panicking_clone,
    key_of_finds_exactly_the_values_in_the_slab,
    insert_at_restores_a_key_map_and_keeps_insert_order,
    insert_at_refuses_and_changes_nothing,
]
);

new_key_type! {
    /// Orders.
    pub struct OrderKey(Key);
    /// Price levels.
    pub(crate) struct LevelKey(Key);
    struct Private(Key);
    /// Connections.
    pub struct ConnKey(GenKey);
}

#[test]
fn keys_are_four_bytes_and_generational_ones_eight() {
    assert_eq!(size_of::<Key>(), 4);
    assert_eq!(size_of::<Option<Key>>(), 4);
    assert_eq!(size_of::<OrderKey>(), 4);
    assert_eq!(size_of::<Option<OrderKey>>(), 4);
    assert_eq!(size_of::<Private>(), 4);
    assert_eq!(size_of::<GenKey>(), 8);
    assert_eq!(size_of::<Option<GenKey>>(), 8);
    assert_eq!(size_of::<ConnKey>(), 8);
    assert_eq!(size_of::<Option<ConnKey>>(), 8);
}

#[test]
fn an_order_with_optional_links_stays_small() {
    // The order book of the issue: 40 bytes of order with `Option<Key>` links.
    #[allow(dead_code)]
    struct Order {
        id: u64,
        price: i64,
        qty: u64,
        prev: Option<OrderKey>,
        next: Option<OrderKey>,
        level: LevelKey,
        side: u8,
    }
    assert_eq!(size_of::<Order>(), 40);
}

#[test]
fn key_new_takes_any_usize_and_never_names_another_slot() {
    let mut s: Slab<u8, Heap> = Slab::new_in(Heap::new());
    s.alloc(8).unwrap();
    let k = s.insert(1).unwrap();
    let mut rng = Rng::new(5);
    let mut probes: Vec<usize> = vec![
        Key::MAX_INDEX,
        Key::MAX_INDEX + 1,
        u32::MAX as usize,
        u32::MAX as usize + 1,
        usize::MAX,
        1 << 33,
        1 << 40,
    ];
    probes.extend((0..1000).map(|_| rng.next() as usize));
    for i in probes {
        let key = Key::new_saturating(i);
        assert_eq!(key.index(), i.min(Key::MAX_INDEX));
        // Issue 19: the checked conversion refuses what the saturating one clamps
        // (`Key::from(1 << 33)` used to be `Key(4294967294)`).
        match Key::try_from(i) {
            Ok(k) => assert!(i <= Key::MAX_INDEX && k == key),
            Err(e) => assert!(
                i > Key::MAX_INDEX
                    && matches!(e, KeyError::OutOfRange { index, capacity, .. } if index == i && capacity == Key::MAX_INDEX + 1)
            ),
        }
        assert_eq!(usize::from(key), key.index());
        if i != 0 {
            assert_eq!(s.get(key), None, "{i}");
        }
    }
    assert_eq!(s[k], 1);
    // Ordering and equality follow the index.
    assert!(Key::new_saturating(1) < Key::new_saturating(2));
    assert_eq!(
        Key::new_saturating(usize::MAX),
        Key::new_saturating(Key::MAX_INDEX)
    );
}

#[test]
fn typed_keys_convert_print_and_hash_like_their_key() {
    use std::collections::HashSet;
    let o = OrderKey::from(Key::new_saturating(3));
    assert_eq!(Key::from(o), Key::new_saturating(3));
    assert_eq!(o.index(), 3);
    assert_eq!(format!("{o:?}"), "OrderKey(3)");
    let c = ConnKey::from(GenKey::from_bits(5 << 32 | 2).unwrap());
    assert_eq!(format!("{c:?}"), "ConnKey(2v5)");
    assert_eq!(GenKey::from(c).generation(), 5);
    let set: HashSet<OrderKey> = [o, o, OrderKey::from(Key::new_saturating(4))]
        .into_iter()
        .collect();
    assert_eq!(set.len(), 2);
    assert!(OrderKey::from(Key::new_saturating(1)) < o);
}

#[test]
fn typed_keys_work_through_every_alias_and_method() {
    #[cfg(miri)]
    return; // Miri does not model mlock; the same calls run on a Heap slab in other tests
    #[allow(unreachable_code)]
    let mut book: LockedSlab<u64, OrderKey> = match LockedSlab::try_with_capacity(64) {
        Ok(s) => s,
        Err(e @ Error::MemlockLimit { .. }) => panic!("root holds CAP_IPC_LOCK here: {e}"),
        Err(e) => panic!("{e}"),
    };
    let a: OrderKey = book.insert(10).unwrap();
    let b = book.insert(20).unwrap();
    assert_eq!(book[a] + book[b], 30);
    assert_eq!(book.keys().collect::<Vec<_>>(), [a, b]);
    assert_eq!(book.key_of(&book[b]), Some(b));
    assert_eq!(
        book.vacant_key(),
        Some(OrderKey::from(Key::new_saturating(2)))
    );
    let [x, y] = book.get_disjoint_mut([b, a]).unwrap();
    std::mem::swap(x, y);
    assert_eq!(book.remove(a), Some(20));
    book.insert_at(a, 11).unwrap();
    let copy = book.try_clone().unwrap();
    assert_eq!(
        copy.iter().collect::<Vec<_>>(),
        book.iter().collect::<Vec<_>>()
    );
    let mut conns: Slab<&str, Heap, GenKey> = Slab::new_in(Heap::new());
    conns.alloc(4).unwrap();
    let mut typed: Slab<&str, Heap, ConnKey> = Slab::new_in(Heap::new());
    typed.alloc(4).unwrap();
    let c = typed.insert("peer").unwrap();
    typed.remove(c);
    typed.insert("next").unwrap();
    assert_eq!(
        typed.get(c),
        None,
        "a stale typed generational key stays stale"
    );
    let _ = conns;
}

#[test]
fn the_macro_expands_in_a_scope_with_clashing_names() {
    #[allow(dead_code)]
    mod clobbered {
        trait Clone {}
        trait Copy {}
        trait Debug {}
        trait From {}
        trait SlabKey {}
        struct Result;
        struct Option;
        struct Key;
        struct GenKey;
        nexus_slab::new_key_type! {
            pub struct A(nexus_slab::Key);
            pub struct B(nexus_slab::GenKey);
        }
        pub fn make() -> (A, B) {
            (
                A::from(nexus_slab::Key::new_saturating(0)),
                B::from(nexus_slab::GenKey::from_bits(1 << 32).unwrap()),
            )
        }
    }
    let (a, b) = clobbered::make();
    assert_eq!((a.index(), b.index()), (0, 0));
}

#[test]
fn iterators_over_parts_go_both_ways_with_exact_lengths() {
    let mut s: Slab<u32, Heap> = Slab::new_in(Heap::new());
    s.alloc(200).unwrap();
    for v in 0..150 {
        s.insert(v).unwrap();
    }
    for k in (0..150).step_by(4).map(Key::new_saturating) {
        s.remove(k);
    }
    let keys: Vec<Key> = s.iter().map(|(k, _)| k).collect();
    let vals: Vec<u32> = s.iter().map(|(_, v)| *v).collect();
    assert_eq!(s.keys().collect::<Vec<_>>(), keys);
    assert_eq!(s.values().copied().collect::<Vec<_>>(), vals);
    let mut back: Vec<Key> = s.keys().rev().collect();
    back.reverse();
    assert_eq!(back, keys);
    let mut it = s.values();
    assert_eq!(it.len(), vals.len());
    it.next();
    it.next_back();
    assert_eq!(it.len(), vals.len() - 2);
    let clone = it.clone();
    assert_eq!(clone.count(), it.count());
    for (v, k) in s.values_mut().zip(keys.iter()) {
        *v = k.index() as u32 * 2;
    }
    assert!(s.iter().all(|(k, v)| *v == k.index() as u32 * 2));
    let mut vm = s.values_mut();
    assert_eq!(vm.len(), keys.len());
    assert!(vm.next_back().is_some());
    assert!(format!("{vm:?}").starts_with("ValuesMut"));
    let mut k = s.keys();
    for _ in 0..keys.len() {
        k.next();
    }
    assert_eq!((k.next(), k.next_back()), (None, None), "fused");
}

fn try_clone_keeps_keys_values_and_next_keys<B: Backing + Default + CloneBacking>() {
    let log = DropLog::new();
    #[derive(Debug)]
    struct V(Tracked, u64);
    impl Clone for V {
        fn clone(&self) -> Self {
            V(self.0.sibling(self.0.id + 1000), self.1)
        }
    }
    let mut s: Slab<V, B, GenKey> = Slab::with_capacity(100);
    let keys: Vec<GenKey> = (0..80)
        .map(|i| s.insert(V(log.item(i), i)).unwrap())
        .collect();
    for k in keys.iter().step_by(3) {
        s.remove(*k);
    }
    let mut c = s.try_clone().unwrap();
    assert_eq!(c.capacity(), s.capacity());
    assert_eq!(c.len(), s.len());
    for k in &keys {
        assert_eq!(c.get(*k).map(|v| v.1), s.get(*k).map(|v| v.1), "{k:?}");
        assert_eq!(c.contains(*k), s.contains(*k));
    }
    // The copies are new values: a change to one does not show in the other.
    c.get_mut(keys[1]).unwrap().1 = 999;
    assert_eq!(s[keys[1]].1, 1);
    // The same next keys, until both are full.
    let mut id = 10_000;
    while let Ok(a) = s.insert(V(log.item(id), 0)) {
        assert_eq!(c.insert(V(log.item(id + 1), 0)).unwrap(), a);
        id += 2;
    }
    assert!(c.is_full());
    let made = log.drops();
    drop(s);
    drop(c);
    assert!(log.drops() > made);
    log.assert_no_double_drop();
    let empty: Slab<u8, B> = Slab::new();
    assert!(!empty.try_clone().unwrap().is_allocated());
}

fn try_clone_survives_a_panicking_clone<B: Backing + Default + CloneBacking>() {
    thread_local!(static CLONES: Cell<usize> = const { Cell::new(0) });
    let log = DropLog::new();
    struct V(Tracked);
    impl Clone for V {
        fn clone(&self) -> Self {
            let n = CLONES.with(|c| {
                c.set(c.get() + 1);
                c.get()
            });
            if n == 7 {
                panic!("clone #7 panics");
            }
            V(self.0.sibling(self.0.id + 100))
        }
    }
    let mut s: Slab<V, B> = Slab::with_capacity(20);
    for i in 0..12 {
        s.insert(V(log.item(i))).unwrap();
    }
    s.remove(Key::new_saturating(3));
    let before = log.drops();
    CLONES.with(|c| c.set(0));
    let r = catch_unwind(AssertUnwindSafe(|| s.try_clone()));
    assert!(r.is_err(), "the panic propagates");
    // The six copies made before the panic were dropped with the partial copy; the
    // original is untouched.
    assert_eq!(log.drops() - before, 6);
    assert_eq!(s.len(), 11);
    assert_eq!(s.iter().count(), 11);
    assert!(s.insert(V(log.item(50))).is_ok());
}

fn key_of_finds_exactly_the_values_in_the_slab<B: Backing + Default>() {
    let mut a: Slab<[u64; 3], B> = Slab::with_capacity(16);
    let mut b: Slab<[u64; 3], B> = Slab::with_capacity(16);
    let ka: Vec<Key> = (0..10).map(|i| a.insert([i; 3]).unwrap()).collect();
    let kb = b.insert([7; 3]).unwrap();
    for &k in &ka {
        assert_eq!(a.key_of(&a[k]), Some(k));
    }
    assert_eq!(a.key_of(&b[kb]), None, "another slab's value");
    let local = [1u64; 3];
    assert_eq!(a.key_of(&local), None, "a local");
    let v: &[u64; 3] = &a[ka[4]];
    let copy = *v;
    assert_eq!(a.key_of(&copy), None, "a copy");
    // A value removed is no longer found through a reference to where it was: the copy
    // taken out of the slot lives elsewhere.
    let removed = a.remove(ka[4]).unwrap();
    assert_eq!(a.key_of(&removed), None);
    // Zero-sized values still have one address per slot.
    let mut z: Slab<(), B> = Slab::with_capacity(4);
    let k0 = z.insert(()).unwrap();
    let k1 = z.insert(()).unwrap();
    assert_eq!(z.key_of(&z[k0]), Some(k0));
    assert_eq!(z.key_of(&z[k1]), Some(k1));
    assert_eq!(z.key_of(&()), None);
    let unallocated: Slab<u8, B> = Slab::new();
    assert_eq!(unallocated.key_of(&0), None);
}

fn insert_at_restores_a_key_map_and_keeps_insert_order<B: Backing + Default>() {
    // Keys saved by another process: restore each value at its key.
    let saved: Vec<(usize, &str)> = vec![(5, "e"), (0, "a"), (9, "i"), (2, "c")];
    let mut s: Slab<&str, B> = Slab::with_capacity(16);
    for (i, v) in &saved {
        s.insert_at(Key::new_saturating(*i), v).unwrap();
    }
    for (i, v) in &saved {
        assert_eq!(s[Key::new_saturating(*i)], *v);
    }
    assert_eq!(s.len(), 4);
    // Slots skipped by insert_at are handed out lowest first, before the never-used ones.
    let next: Vec<usize> = (0..7).map(|_| s.insert("x").unwrap().index()).collect();
    assert_eq!(next, [1, 3, 4, 6, 7, 8, 10]);
    // Generational: the same generation comes back; older ones stay stale.
    let mut g: Slab<u8, B, GenKey> = Slab::with_capacity(8);
    let k = GenKey::from_bits(7 << 32 | 3).unwrap();
    g.insert_at(k, 1).unwrap();
    assert_eq!(g[k], 1);
    for old in [1u64, 3, 5] {
        assert!(!g.contains(GenKey::from_bits(old << 32 | 3).unwrap()));
    }
    g.remove(k);
    let fresh = g.insert(2).unwrap();
    assert_eq!(fresh.index(), 3, "the last vacated slot is reused first");
    assert_eq!(fresh.generation(), 9);
}

fn insert_at_refuses_and_changes_nothing<B: Backing + Default>() {
    let log = DropLog::new();
    let mut s: Slab<Tracked, B, GenKey> = Slab::with_capacity(8);
    let cap = s.capacity();
    let a = s.insert(log.item(0)).unwrap();
    let b = s.insert(log.item(1)).unwrap();
    s.remove(a); // slot 0 at generation 2
    let g = |gen: u64, i: u64| GenKey::from_bits(gen << 32 | i).unwrap();
    let cases = [
        (b, "occupied"),
        (g(1, 0), "stale: generation 1 was slot 0's"),
        (g(1, cap as u64), "out of range"),
        (g(1, u64::from(u32::MAX)), "out of range"),
    ];
    for (n, (key, what)) in cases.into_iter().enumerate() {
        let err = s.insert_at(key, log.item(100 + n as u64)).unwrap_err();
        let ok = matches!(
            (err.error(), what.split(':').next().unwrap()),
            (KeyError::Occupied { .. }, "occupied")
                | (KeyError::Stale { .. }, "stale")
                | (KeyError::OutOfRange { .. }, "out of range")
        );
        assert!(ok, "{what}: {:?}", err.error());
        // The message is the KeyError's, once: no source repeats it.
        assert_eq!(err.to_string(), err.error().to_string());
        assert!(std::error::Error::source(&err).is_none());
        assert_eq!(err.into_inner().id, 100 + n as u64, "the value comes back");
    }
    assert_eq!(s.len(), 1);
    assert_eq!(s[b].id, 1);
    assert_eq!(s.vacant_key(), Some(g(3, 0)), "the free list is unchanged");
    let mut unallocated: Slab<u8, B> = Slab::new();
    let e = unallocated
        .insert_at(Key::new_saturating(0), 1)
        .unwrap_err();
    assert!(matches!(
        e.error(),
        KeyError::OutOfRange {
            index: 0,
            capacity: 0,
            ..
        }
    ));
    assert!(e.to_string().contains("no memory yet"), "{e}");
    let as_key_error: KeyError = e.into();
    assert!(as_key_error.hint().unwrap().contains("alloc(n)"));
}

#[test]
#[cfg_attr(miri, ignore = "Miri does not model mlock")]
fn locked_copies_are_locked_too() {
    let mut s: Slab<u64, Locked<Mmap>> = Slab::with_capacity(1 << 12);
    s.insert(1).unwrap();
    let c = s.try_clone().unwrap();
    if cfg!(target_os = "linux") && !cfg!(miri) {
        assert_eq!(c.locked_bytes().unwrap(), c.memory_size());
    }
    assert_eq!(c[Key::new_saturating(0)], 1);
}

/// Issue 19: `FromIterator<(K, T)>` rebuilds a slab from saved pairs in any order, the latest
/// key winning a slot given twice; every value ends up in the slab or dropped, once.
#[test]
fn collect_rebuilds_from_pairs_in_any_order() {
    let log = DropLog::new();
    let mut rng = Rng::new(19);
    let mut idx: Vec<usize> = (0..300).map(|i| i * 3).collect();
    rng.shuffle(&mut idx);
    let mut pairs: Vec<(Key, Tracked)> = idx
        .iter()
        .map(|&i| (Key::new_saturating(i), log.item(i as u64)))
        .collect();
    // Slot 6 again, later: it wins.
    pairs.push((Key::new_saturating(6), log.item(100_000)));
    let slab: Slab<Tracked, Heap> = pairs.into_iter().collect();
    assert!(slab.capacity() >= 898);
    assert_eq!(slab.len(), 300);
    assert_eq!(slab[Key::new_saturating(6)].id, 100_000);
    for &i in &idx {
        if i != 6 {
            assert_eq!(slab[Key::new_saturating(i)].id, i as u64);
        }
    }
    assert_eq!(log.dropped(), vec![6], "the replaced value, once");
    drop(slab);
    log.assert_no_double_drop();
    assert_eq!(log.drops(), 301);

    // Generational keys: the highest generation of a slot wins, whatever the order.
    let g = |gen: u64, i: u64| GenKey::from_bits(gen << 32 | i).unwrap();
    let pairs = [
        (g(5, 1), "five"),
        (g(3, 1), "three"),
        (g(7, 1), "seven"),
        (g(1, 0), "zero"),
    ];
    let slab: Slab<&str, Heap, GenKey> = pairs.into_iter().collect();
    assert_eq!(slab.get(g(7, 1)), Some(&"seven"));
    assert!(slab.get(g(5, 1)).is_none() && slab.get(g(3, 1)).is_none());
    assert_eq!(slab.get(g(1, 0)), Some(&"zero"));
    assert_eq!(slab.len(), 2);
    // Nothing at all: one slot, empty.
    let empty: Slab<u8, Heap> = std::iter::empty().collect();
    assert!(empty.is_empty() && empty.capacity() >= 1);
}

/// Issue 19: `Clone` is `try_clone`, for slabs whose backing and values can be cloned.
#[test]
fn clone_is_try_clone() {
    let mut slab: Slab<String, Heap, GenKey> = Slab::new_in(Heap::new());
    slab.alloc(16).unwrap();
    let a = slab.insert("a".into()).unwrap();
    let b = slab.insert("b".into()).unwrap();
    slab.remove(a);
    let mut copy = slab.clone();
    assert_eq!(copy[b], "b");
    assert!(!copy.contains(a));
    assert_eq!(
        copy.insert("c".into()).unwrap(),
        slab.insert("c".into()).unwrap()
    );
}
