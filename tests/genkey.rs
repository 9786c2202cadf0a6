//! Generational keys: a stale `GenKey` is never found, on every path that frees a slot, on
//! every backing; the whole API works with them; they cost at most 4 bytes per slot.

mod common;

use std::collections::HashMap;

use common::Rng;
use nexus_slab::{backing::Backing, GenKey, GenSlab, Key, KeyError, Slab};

common::backing_tests!(
    mmap => nexus_slab::backing::Mmap,
    heap => nexus_slab::backing::Heap,
    locked => nexus_slab::backing::Locked<nexus_slab::backing::Mmap> | "Miri does not model mlock";
    [
    model_check_keeps_every_key_and_probes_the_stale_ones,
    keys_go_stale_on_every_path_that_frees_a_slot,
    the_whole_api_speaks_genkey,
]
);

fn slab<T, B: Backing + Default>(n: usize) -> Slab<T, B, GenKey> {
    Slab::try_with_capacity(n).expect("allocation")
}

/// Asserts that `key` is found nowhere.
fn assert_stale<T: std::fmt::Debug, B: Backing>(s: &mut Slab<T, B, GenKey>, key: GenKey) {
    assert!(s.get(key).is_none(), "{key:?} found by get");
    assert!(s.get_mut(key).is_none(), "{key:?} found by get_mut");
    assert!(!s.contains(key), "{key:?} found by contains");
    assert!(
        s.get_disjoint_mut([key]).is_err(),
        "{key:?} found by get_disjoint_mut"
    );
    assert!(s.remove(key).is_none(), "{key:?} removed");
}

/// 150k random operations; every key ever handed out is kept, and stale ones are probed.
fn model_check_keeps_every_key_and_probes_the_stale_ones<B: Backing + Default>() {
    let mut s: Slab<u64, B, GenKey> = slab(256);
    let mut live: HashMap<GenKey, u64> = HashMap::new();
    let mut live_keys: Vec<GenKey> = Vec::new();
    let mut dead: Vec<GenKey> = Vec::new();
    let mut rng = Rng::new(0xfeed);
    let ops = if cfg!(miri) { 3_000 } else { 150_000 };
    for step in 0..ops as u64 {
        match rng.below(10) {
            0..=4 => {
                if let Ok(k) = s.insert(step) {
                    assert!(
                        live.insert(k, step).is_none(),
                        "a live key handed out twice"
                    );
                    live_keys.push(k);
                }
            }
            5..=7 if !live_keys.is_empty() => {
                let k = live_keys.swap_remove(rng.below(live_keys.len()));
                assert_eq!(s.remove(k), live.remove(&k));
                dead.push(k);
            }
            8 if !dead.is_empty() => {
                let k = dead[rng.below(dead.len())];
                assert_eq!(s.get(k), None, "step {step}: stale {k:?} found");
                assert!(!s.contains(k));
            }
            _ if !live_keys.is_empty() => {
                let k = live_keys[rng.below(live_keys.len())];
                assert_eq!(s.get(k), live.get(&k));
            }
            _ => {}
        }
        assert_eq!(s.len(), live.len());
    }
    // Every dead key, probed once more at the end; every live one found.
    for k in &dead {
        assert!(!s.contains(*k));
    }
    for (k, v) in &live {
        assert_eq!(s.get(*k), Some(v));
    }
    // No two keys ever handed out were equal.
    let mut all: Vec<GenKey> = dead.iter().chain(live.keys()).copied().collect();
    all.sort_unstable();
    let n = all.len();
    all.dedup();
    assert_eq!(
        all.len(),
        n,
        "a key (index and generation) was handed out twice"
    );
}

fn keys_go_stale_on_every_path_that_frees_a_slot<B: Backing + Default>() {
    let mut s: Slab<String, B, GenKey> = slab(64);
    let removed = s.insert("removed".into()).unwrap();
    s.remove(removed);
    assert_stale(&mut s, removed);
    let reused = s.insert("reuses the slot".into()).unwrap();
    assert_eq!(reused.index(), removed.index());
    assert_stale(&mut s, removed);
    assert!(matches!(
        s.get_disjoint_mut([removed]),
        Err(KeyError::Stale { .. })
    ));

    let cleared: Vec<GenKey> = (0..10).map(|i| s.insert(i.to_string()).unwrap()).collect();
    s.clear();
    for &k in &cleared {
        assert_stale(&mut s, k);
    }
    let after: Vec<GenKey> = (0..10).map(|i| s.insert(i.to_string()).unwrap()).collect();
    for &k in &cleared {
        assert_stale(&mut s, k);
    }

    let drained: Vec<GenKey> = s.drain().map(|(k, _)| k).collect();
    assert_eq!(drained.len(), after.len());
    for &k in drained.iter().chain(&after) {
        assert_stale(&mut s, k);
    }

    let kept: Vec<GenKey> = (0..10).map(|i| s.insert(i.to_string()).unwrap()).collect();
    s.retain(|_, v| v.parse::<u32>().unwrap() % 2 == 0);
    for (i, &k) in kept.iter().enumerate() {
        if i % 2 == 0 {
            assert_eq!(s[k], i.to_string());
        } else {
            assert_stale(&mut s, k);
        }
    }
}

fn the_whole_api_speaks_genkey<B: Backing + Default>() {
    let mut s: Slab<u32, B, GenKey> = slab(16);
    let entry = s.vacant_entry().unwrap();
    let k = entry.key();
    *entry.insert(5) += 1;
    assert_eq!(s[k], 6);
    s[k] += 1;
    let k2 = s.insert(10).unwrap();
    let [a, b] = s.get_disjoint_mut([k, k2]).unwrap();
    std::mem::swap(a, b);
    assert_eq!((s[k], s[k2]), (10, 7));
    let from_iter: Vec<(GenKey, u32)> = s.iter().map(|(k, v)| (k, *v)).collect();
    assert_eq!(from_iter, [(k, 10), (k2, 7)]);
    for (key, v) in s.iter_mut() {
        *v += key.index() as u32;
    }
    assert_eq!(s[k2], 8);
    // A removed value's key is stale even though vacant_entry predicts the same slot.
    s.remove(k);
    let next = s.vacant_entry().unwrap().key();
    assert_eq!(next.index(), k.index());
    assert_ne!(next, k);
    let owned: Vec<GenKey> = s.into_iter().map(|(k, _)| k).collect();
    assert_eq!(owned, [k2]);
}

#[test]
#[should_panic(expected = "invalid key")]
fn index_panics_on_a_stale_key() {
    let mut s: GenSlab<u8> = GenSlab::with_capacity(4);
    let k = s.insert(1).unwrap();
    s.remove(k);
    s.insert(2).unwrap();
    let _ = s[k];
}

#[test]
fn genkey_is_eight_bytes_and_so_is_its_option() {
    assert_eq!(std::mem::size_of::<GenKey>(), 8);
    assert_eq!(std::mem::size_of::<Option<GenKey>>(), 8);
}

#[test]
fn made_up_genkeys_are_safe() {
    let mut s: GenSlab<u8> = GenSlab::with_capacity(4);
    s.insert(1).unwrap();
    // The live key is slot 0, generation 1; none of these is it.
    for bits in [u64::MAX, 3 << 32, (1 << 32) | 1, (1 << 32) | 0xffff_ffff] {
        let k = GenKey::from_bits(bits).unwrap();
        assert_stale(&mut s, k);
    }
    // Generation 0 and even generations are never handed out: refused.
    for bits in [0, 5, 2 << 32, 4 << 32 | 1, (u64::from(u32::MAX) - 1) << 32] {
        assert_eq!(GenKey::from_bits(bits), None, "{bits:#x}");
    }
    assert_eq!(s.len(), 1);
}

/// Regression (issue 9, defect 1): `from_bits` used to accept even generations, which vacant
/// slots store, so a forged key matched a vacant slot: `get` read the free-list link and the
/// dropped value, `remove` dropped it again, `len()` wrapped and two inserts shared a slot.
#[test]
fn a_forged_even_generation_never_reaches_a_vacant_slot() {
    let mut s: GenSlab<String> = GenSlab::with_capacity(4);
    let k = s.insert("dropped on remove".to_string()).unwrap();
    assert_eq!((k.index(), k.generation()), (0, 1));
    assert_eq!(s.remove(k).as_deref(), Some("dropped on remove"));
    // Slot 0 is vacant at generation 2; these bits name exactly that.
    let forged = GenKey::from_bits(2 << 32);
    assert_eq!(
        forged, None,
        "from_bits accepted a vacant slot's generation"
    );
    // Every odd generation near it finds nothing either, and changes nothing.
    for g in [1u64, 3, 5] {
        let key = GenKey::from_bits(g << 32).unwrap();
        assert!(!s.contains(key));
        assert_eq!(s.get(key), None);
        assert!(s.get_disjoint_mut([key]).is_err());
        assert_eq!(s.remove(key), None);
    }
    assert_eq!(s.len(), 0);
    let a = s.insert("a".to_string()).unwrap();
    let b = s.insert("b".to_string()).unwrap();
    assert_ne!(a.index(), b.index(), "two inserts shared a slot");
    assert_eq!((s[a].as_str(), s[b].as_str()), ("a", "b"));
}

/// A stale key gives `StaleKey` from `get_disjoint_mut` whether or not its slot was reused;
/// a key no slab handed out (a future generation, a never-used slot) gives `VacantKey`.
#[test]
fn stale_keys_are_stale_before_and_after_reuse() {
    let mut s: GenSlab<u8> = GenSlab::with_capacity(4);
    let old = s.insert(1).unwrap();
    s.remove(old);
    assert!(matches!(
        s.get_disjoint_mut([old]),
        Err(KeyError::Stale { index: 0, .. })
    ));
    let new = s.insert(2).unwrap();
    assert_eq!(new.index(), old.index());
    assert!(matches!(
        s.get_disjoint_mut([old]),
        Err(KeyError::Stale { index: 0, .. })
    ));
    let future = GenKey::from_bits(u64::from(new.generation() + 2) << 32).unwrap();
    assert!(matches!(
        s.get_disjoint_mut([future]),
        Err(KeyError::Vacant { index: 0, .. })
    ));
    let never_used = GenKey::from_bits(1 << 32 | 3).unwrap();
    assert!(matches!(
        s.get_disjoint_mut([never_used]),
        Err(KeyError::Vacant { index: 3, .. })
    ));
}

#[test]
fn genkey_slots_cost_at_most_four_bytes_more() {
    fn per_slot<K: nexus_slab::SlabKey, T>() -> f64 {
        let s: Slab<T, nexus_slab::backing::Mmap, K> = Slab::with_capacity(1 << 20);
        s.memory_size() as f64 / s.capacity() as f64
    }
    for (plain, gen) in [
        (per_slot::<Key, u64>(), per_slot::<GenKey, u64>()),
        (per_slot::<Key, [u8; 32]>(), per_slot::<GenKey, [u8; 32]>()),
        (per_slot::<Key, [u64; 8]>(), per_slot::<GenKey, [u64; 8]>()),
    ] {
        eprintln!("plain {plain:.3} B/slot, GenKey {gen:.3} B/slot");
        assert!(gen - plain <= 4.01, "{plain} -> {gen}");
        assert!(gen > plain);
    }
    // Plain keys pay nothing for the option: still 8 bytes and a bit for u64.
    assert!((per_slot::<Key, u64>() - 8.125).abs() < 0.01);
}
