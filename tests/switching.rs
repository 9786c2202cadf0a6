//! What a user switching from the `slab` or `slotmap` crate relies on: the behaviours those
//! crates' own test suites check (written afresh here, against our API), and the same
//! operations run side by side with each crate, which must hand out the same keys.
//!
//! Where our API differs by design it is stated in the test: `insert` returns a `Result` (the
//! slab never grows), `remove` of a vacant key returns `None` (the `slab` crate panics; its
//! `try_remove` is our `remove`), and there is no growth, shrinking or compaction.

mod common;

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};

use common::Rng;
use nexus_slab::{
    backing::{Heap, Mmap},
    GenKey, Key, KeyError, Slab,
};

type S<T> = Slab<T, Heap>;

fn slab<T>(n: usize) -> S<T> {
    Slab::new_in(Heap::new()).tap_alloc(n)
}

trait TapAlloc {
    fn tap_alloc(self, n: usize) -> Self;
}

impl<T> TapAlloc for S<T> {
    fn tap_alloc(mut self, n: usize) -> Self {
        self.alloc(n).unwrap();
        self
    }
}

// ---- behaviours the `slab` crate's suite checks ----

#[test]
fn one_value_in_and_out() {
    let mut s = slab(4);
    let k = s.insert(10).unwrap();
    assert_eq!(s[k], 10);
    assert_eq!(s.get(k), Some(&10));
    assert!(s.contains(k));
    assert_eq!(s.remove(k), Some(10));
    assert!(!s.contains(k));
    assert_eq!(s.get(k), None);
    assert!(s.is_empty());
}

#[test]
fn keys_are_dense_from_zero_like_the_slab_crate() {
    let mut s = slab(10);
    for i in 0..10 {
        let k = s.insert(i + 10).unwrap();
        assert_eq!(k, Key::new_saturating(i));
        assert_eq!(s[k], i + 10);
    }
    for i in 0..10 {
        assert_eq!(s[Key::new_saturating(i)], i + 10);
    }
}

#[test]
fn fill_and_empty_repeatedly_reuses_the_same_keys() {
    let mut s = slab(10);
    let cap = s.capacity();
    for round in 0..10 {
        let keys: Vec<Key> = (0..10).map(|i| s.insert(i * round).unwrap()).collect();
        assert_eq!(s.len(), 10);
        let mut sorted: Vec<usize> = keys.iter().map(|k| k.index()).collect();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..10).collect::<Vec<_>>(), "round {round}");
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(s.remove(*k), Some(i * round));
        }
        assert!(s.is_empty());
        assert_eq!(s.capacity(), cap, "the slab never grows");
    }
}

#[test]
fn vacant_entry_gives_the_key_first_and_unused_changes_nothing() {
    let mut s: S<(Key, u32)> = slab(4);
    let k = s.vacant_entry().unwrap().key(); // the entry goes unused
    assert!(s.is_empty());
    let e = s.vacant_entry().unwrap();
    assert_eq!(e.key(), k, "the same slot is offered again");
    e.insert((k, 7));
    assert_eq!(s[k], (k, 7));
}

#[test]
fn index_with_an_invalid_key_panics_like_the_slab_crate() {
    let mut s: S<u8> = slab(4);
    let msg = |r: std::thread::Result<()>| {
        *r.unwrap_err()
            .downcast::<&'static str>()
            .expect("a static message")
    };
    assert_eq!(
        msg(catch_unwind(AssertUnwindSafe(|| {
            let _ = s[Key::new_saturating(0)];
        }))),
        "invalid key"
    );
    let k = s.insert(1).unwrap();
    s.remove(k);
    assert_eq!(
        msg(catch_unwind(AssertUnwindSafe(|| s[k] = 2))),
        "invalid key"
    );
}

#[test]
fn remove_of_a_vacant_key_is_none_not_a_panic() {
    // The `slab` crate's `remove` panics here; ours is its `try_remove`.
    let mut s = slab(4);
    let k = s.insert(1).unwrap();
    assert_eq!(s.remove(k), Some(1));
    assert_eq!(s.remove(k), None);
    assert_eq!(s.remove(Key::new_saturating(3)), None);
    assert_eq!(s.remove(Key::new_saturating(usize::MAX)), None);
    assert_eq!(s.len(), 0);
}

#[test]
fn get_mut_changes_the_value_in_place() {
    let mut s = slab(4);
    let k = s.insert(1).unwrap();
    *s.get_mut(k).unwrap() = 2;
    assert_eq!(s[k], 2);
    s[k] += 3;
    assert_eq!(s.get(k), Some(&5));
    assert_eq!(s.get_mut(Key::new_saturating(1)), None);
}

#[test]
fn retain_keeps_keys_and_frees_the_rest_for_reuse() {
    let mut s = slab(16);
    let keys: Vec<Key> = (0..10).map(|i| s.insert(i).unwrap()).collect();
    s.retain(|k, v| {
        assert_eq!(k.index(), *v);
        *v % 2 == 0
    });
    assert_eq!(s.len(), 5);
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(s.get(*k).copied(), (i % 2 == 0).then_some(i));
    }
    // The last slot retain freed (9) is reused first.
    assert_eq!(s.insert(100).unwrap(), Key::new_saturating(9));
    s.retain(|_, _| false);
    assert!(s.is_empty());
    s.retain(|_, _| true);
    assert!(s.is_empty());
}

#[test]
fn every_iterator_goes_in_key_order_from_both_ends() {
    let mut s = slab(8);
    for i in 0..6 {
        s.insert(i * 10).unwrap();
    }
    s.remove(Key::new_saturating(2));
    let want: Vec<(usize, usize)> = vec![(0, 0), (1, 10), (3, 30), (4, 40), (5, 50)];
    let got: Vec<(usize, usize)> = s.iter().map(|(k, v)| (k.index(), *v)).collect();
    assert_eq!(got, want);
    let rev: Vec<(usize, usize)> = s.iter().rev().map(|(k, v)| (k.index(), *v)).collect();
    assert_eq!(rev, want.iter().rev().copied().collect::<Vec<_>>());
    for (k, v) in s.iter_mut().rev() {
        *v += k.index();
    }
    let mutated: Vec<usize> = (&s).into_iter().map(|(_, v)| *v).collect();
    assert_eq!(mutated, [0, 11, 33, 44, 55]);
    for (_, v) in &mut s {
        *v = 0;
    }
    assert!(s.iter().all(|(_, v)| *v == 0));
    let owned: Vec<Key> = s.into_iter().rev().map(|(k, _)| k).collect();
    assert_eq!(owned, [5, 4, 3, 1, 0].map(Key::new_saturating));
}

#[test]
fn clear_drops_everything_and_numbering_restarts() {
    let drops = Cell::new(0);
    struct D<'a>(&'a Cell<usize>);
    impl Drop for D<'_> {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }
    let mut s = slab(8);
    for _ in 0..5 {
        s.insert(D(&drops)).unwrap();
    }
    s.remove(Key::new_saturating(1));
    assert_eq!(drops.get(), 1);
    s.clear();
    assert_eq!(drops.get(), 5);
    assert!(s.is_empty() && s.iter().next().is_none());
    assert_eq!(s.insert(D(&drops)).unwrap(), Key::new_saturating(0));
}

#[test]
fn drain_empties_the_slab_consumed_or_not() {
    let mut s = slab(8);
    for i in 0..5 {
        s.insert(i).unwrap();
    }
    let all: Vec<(Key, usize)> = s.drain().collect();
    assert_eq!(all.len(), 5);
    assert!(s.is_empty());
    for i in 0..5 {
        s.insert(i).unwrap();
    }
    assert_eq!(s.drain().next(), Some((Key::new_saturating(0), 0)));
    assert!(
        s.is_empty(),
        "a partly consumed drain still empties the slab"
    );
    for i in 0..3 {
        s.insert(i).unwrap();
    }
    let rev: Vec<usize> = s.drain().rev().map(|(_, v)| v).collect();
    assert_eq!(rev, [2, 1, 0]);
    assert_eq!(s.insert(9).unwrap(), Key::new_saturating(0));
}

#[test]
fn an_empty_slab_can_be_built_in_a_const_context() {
    const EMPTY: Slab<u64, Mmap> = Slab::new_in(Mmap::new());
    let mut s = EMPTY;
    assert_eq!(s.capacity(), 0);
    s.alloc(1).unwrap();
    assert_eq!(s.insert(5).unwrap(), Key::new_saturating(0));
}

#[test]
fn get_disjoint_mut_gives_distinct_references_or_a_typed_error() {
    let mut s = slab(8);
    let a = s.insert(1).unwrap();
    let b = s.insert(2).unwrap();
    let c = s.insert(3).unwrap();
    let [x, y, z] = s.get_disjoint_mut([c, a, b]).unwrap();
    (*x, *y, *z) = (*y, *z, *x);
    assert_eq!((s[a], s[b], s[c]), (2, 3, 1));
    assert!(matches!(
        s.get_disjoint_mut([a, a]),
        Err(KeyError::Duplicate { index: 0, .. })
    ));
    assert!(matches!(
        s.get_disjoint_mut([a, Key::new_saturating(s.capacity())]),
        Err(KeyError::OutOfRange { .. })
    ));
    s.remove(b);
    assert!(matches!(
        s.get_disjoint_mut([a, b]),
        Err(KeyError::Vacant { index: 1, .. })
    ));
    assert!(s.get_disjoint_mut::<0>([]).is_ok());
}

#[test]
fn debug_output_shows_sizes_and_entries() {
    let mut s = slab(2);
    s.insert("a").unwrap();
    assert!(format!("{s:?}").starts_with("Slab { len: 1, capacity: "));
    assert_eq!(format!("{s:#?}"), "{\n    Key(0): \"a\",\n}");
}

// ---- behaviours the `slotmap` crate's suite checks ----

#[test]
fn every_pair_and_triple_of_keys_is_disjoint_exactly_when_distinct() {
    let mut s: Slab<usize, Heap, GenKey> = Slab::new_in(Heap::new());
    s.alloc(32).unwrap();
    for i in 0..20 {
        s.insert(i).unwrap();
    }
    s.retain(|_, v| *v % 2 == 0);
    let keys: Vec<GenKey> = s.iter().map(|(k, _)| k).collect();
    for (i, &a) in keys.iter().enumerate() {
        for (j, &b) in keys.iter().enumerate() {
            match s.get_disjoint_mut([a, b]) {
                Ok([x, y]) => {
                    assert_ne!(i, j);
                    *x ^= *y;
                    *y = y.wrapping_add(*x);
                }
                Err(e) => {
                    assert_eq!(i, j);
                    assert!(matches!(e, KeyError::Duplicate { .. }));
                }
            }
            for (l, &c) in keys.iter().enumerate().step_by(3) {
                let ok = s.get_disjoint_mut([a, b, c]).is_ok();
                assert_eq!(ok, i != j && j != l && i != l);
            }
        }
    }
}

#[test]
fn drops_happen_exactly_once_with_generational_keys() {
    let drops = Cell::new(0usize);
    struct D<'a>(&'a Cell<usize>);
    impl Drop for D<'_> {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }
    {
        let mut s: Slab<D, Heap, GenKey> = Slab::new_in(Heap::new());
        s.alloc(1000).unwrap();
        let keys: Vec<GenKey> = (0..1000).map(|_| s.insert(D(&drops)).unwrap()).collect();
        for k in keys.iter().step_by(2) {
            s.remove(*k);
        }
        assert_eq!(drops.get(), 500);
        for _ in 0..250 {
            s.insert(D(&drops)).unwrap();
        }
    }
    assert_eq!(drops.get(), 1250);
}

#[test]
fn bits_from_outside_round_trip_and_even_generations_are_refused() {
    // slotmap makes an even (vacant) version odd on deserialisation; we refuse it instead, so
    // corrupted input shows up as `None` rather than as a key for some future occupant.
    let mut s: Slab<u8, Heap, GenKey> = Slab::new_in(Heap::new());
    s.alloc(4).unwrap();
    let k = s.insert(42).unwrap();
    assert_eq!(GenKey::from_bits(k.to_bits()), Some(k));
    assert_eq!(GenKey::from_bits(4 << 32), None);
    assert_eq!(GenKey::from_bits(0), None);
}

// ---- side by side: the same operations must give the same keys ----

/// Random inserts, removes, clears, drains and retains on our slab and the `slab` crate:
/// every key and every answer the same (ours never fills up in this run).
#[test]
fn hands_out_the_same_keys_as_the_slab_crate() {
    let mut ours: S<u64> = slab(512);
    let mut theirs: slab::Slab<u64> = slab::Slab::new();
    let mut rng = Rng::new(11);
    let steps = if cfg!(miri) { 2_000 } else { 100_000 };
    for step in 0..steps as u64 {
        match rng.below(100) {
            0..=49 if ours.len() < 400 => {
                let k = ours.insert(step).unwrap();
                assert_eq!(k.index(), theirs.insert(step), "step {step}");
            }
            0..=89 => {
                let k = rng.below(450);
                assert_eq!(
                    ours.remove(Key::new_saturating(k)),
                    theirs.try_remove(k),
                    "step {step}"
                );
            }
            90..=93 => {
                let k = rng.below(450);
                assert_eq!(ours.get(Key::new_saturating(k)), theirs.get(k));
            }
            94 => {
                let m = rng.below(5) + 2;
                ours.retain(|k, _| k.index() % m != 0);
                theirs.retain(|k, _| k % m != 0);
            }
            95 => {
                let a: Vec<(usize, u64)> = ours.drain().map(|(k, v)| (k.index(), v)).collect();
                let mut b: Vec<(usize, u64)> = Vec::new();
                for (k, v) in theirs.iter() {
                    b.push((k, *v));
                }
                theirs.drain().for_each(drop);
                assert_eq!(a, b);
            }
            96 if step % 7 == 0 => {
                ours.clear();
                theirs.clear();
            }
            _ => {
                let a: Vec<(usize, u64)> = ours.iter().map(|(k, v)| (k.index(), *v)).collect();
                let b: Vec<(usize, u64)> = theirs.iter().map(|(k, v)| (k, *v)).collect();
                assert_eq!(a, b, "step {step}");
            }
        }
        assert_eq!(ours.len(), theirs.len());
        if let Ok(e) = ours.vacant_entry() {
            assert_eq!(
                e.key().index(),
                theirs.vacant_key(),
                "next key, step {step}"
            );
        }
    }
}

/// The same against `slotmap`: generations match version for version (slotmap's index 0 is a
/// sentinel, so its indices are ours + 1), through removes, clears, drains and retains.
#[test]
fn hands_out_the_same_generations_as_slotmap() {
    use slotmap::{DefaultKey, Key as _, SlotMap};
    let ffi = |k: GenKey| k.to_bits() + 1;
    let mut ours: Slab<u64, Heap, GenKey> = Slab::new_in(Heap::new());
    ours.alloc(512).unwrap();
    let mut theirs: SlotMap<DefaultKey, u64> = SlotMap::new();
    let mut live: Vec<(GenKey, DefaultKey)> = Vec::new();
    let mut dead: Vec<(GenKey, DefaultKey)> = Vec::new();
    let mut rng = Rng::new(12);
    let steps = if cfg!(miri) { 2_000 } else { 100_000 };
    for step in 0..steps as u64 {
        match rng.below(100) {
            0..=49 if ours.len() < 400 => {
                let a = ours.insert(step).unwrap();
                let b = theirs.insert(step);
                assert_eq!(ffi(a), b.data().as_ffi(), "step {step}");
                live.push((a, b));
            }
            0..=84 if !live.is_empty() => {
                let (a, b) = live.swap_remove(rng.below(live.len()));
                assert_eq!(ours.remove(a), theirs.remove(b));
                dead.push((a, b));
            }
            85..=89 if !dead.is_empty() => {
                let (a, b) = dead[rng.below(dead.len())];
                assert_eq!(ours.get(a), theirs.get(b));
                assert_eq!(ours.remove(a), theirs.remove(b));
            }
            90 => {
                let m = rng.below(5) as u64 + 2;
                ours.retain(|_, v| *v % m != 0);
                theirs.retain(|_, v| *v % m != 0);
                let (keep, gone): (Vec<_>, Vec<_>) =
                    live.iter().partition(|(a, _)| ours.contains(*a));
                dead.extend(gone);
                live = keep;
            }
            91 if step % 5 == 0 => {
                let a: Vec<(u64, u64)> = ours.drain().map(|(k, v)| (ffi(k), v)).collect();
                let b: Vec<(u64, u64)> = theirs
                    .drain()
                    .map(|(k, v)| (k.data().as_ffi(), v))
                    .collect();
                assert_eq!(a, b);
                dead.append(&mut live);
            }
            92 if step % 5 == 0 => {
                ours.clear();
                theirs.clear();
                dead.append(&mut live);
            }
            _ => {
                let a: Vec<(u64, u64)> = ours.iter().map(|(k, v)| (ffi(k), *v)).collect();
                let b: Vec<(u64, u64)> = theirs
                    .iter()
                    .map(|(k, v)| (k.data().as_ffi(), *v))
                    .collect();
                assert_eq!(a, b, "step {step}");
            }
        }
        assert_eq!(ours.len(), theirs.len());
        if dead.len() > 1000 {
            dead.drain(..500);
        }
    }
}
