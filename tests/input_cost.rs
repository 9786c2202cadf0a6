//! What hostile key *values* cost: every key constructor and every method that takes a key,
//! fed forged keys (every generation parity, indices in range, just past it and at the
//! limits), allocates nothing and leaves the slab as it was. Counted by a global allocator that
//! records every allocation of this test binary (one test, so nothing else runs meanwhile).
//!
//! The time side (`insert_at` linear in the keys restored, whatever their order) is bounded by
//! step counts in the core's unit tests and measured in `benches/restore.rs`; snapshots'
//! bytes-in to bytes-resident in `tests/snapshot_cost.rs`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use nexus_slab::{backing::Heap, GenKey, Key, Slab};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        BYTES.fetch_add(layout.size(), Relaxed);
        // SAFETY: the caller's promise, forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's promise, forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations (count, bytes) made by `f`.
fn allocations<R>(f: impl FnOnce() -> R) -> ((usize, usize), R) {
    let (a, b) = (ALLOCATIONS.load(Relaxed), BYTES.load(Relaxed));
    let r = f();
    ((ALLOCATIONS.load(Relaxed) - a, BYTES.load(Relaxed) - b), r)
}

fn indices(cap: usize) -> Vec<u64> {
    let mut v: Vec<u64> = (0..8).collect();
    for base in [cap as u64, u64::from(u32::MAX), u64::MAX] {
        v.extend([
            base.wrapping_sub(2),
            base.wrapping_sub(1),
            base,
            base.wrapping_add(1),
        ]);
    }
    v
}

#[test]
fn forged_keys_allocate_nothing_and_change_nothing() {
    let mut plain: Slab<u64, Heap> = Slab::new_in(Heap::new());
    plain.alloc(64).unwrap();
    let mut gen: Slab<u64, Heap, GenKey> = Slab::new_in(Heap::new());
    gen.alloc(64).unwrap();
    let cap = plain.capacity();
    for v in 0..10 {
        plain.insert(v).unwrap();
        let k = gen.insert(v).unwrap();
        if v % 3 == 0 {
            gen.remove(k);
        }
    }
    plain.remove(Key::new_saturating(4));
    let before_plain: Vec<(Key, u64)> = plain.iter().map(|(k, v)| (k, *v)).collect();
    let before_gen: Vec<(GenKey, u64)> = gen.iter().map(|(k, v)| (k, *v)).collect();
    let live_plain: Vec<Key> = before_plain.iter().map(|p| p.0).collect();
    let live_gen: Vec<GenKey> = before_gen.iter().map(|p| p.0).collect();

    let forged = indices(cap);
    let mut calls = 0u64;
    let ((n, bytes), ()) = allocations(|| {
        for &i in &forged {
            let k = Key::new_saturating(usize::try_from(i).unwrap_or(usize::MAX));
            let _ = usize::try_from(i).map(Key::try_from);
            calls += 2;
            let _ = plain.get(k);
            let _ = plain.get_mut(k);
            let _ = plain.contains(k);
            let _ = plain.get_disjoint_mut([k, k]);
            if !live_plain.contains(&k) {
                let _ = plain.remove(k);
                // A refused insert_at hands the value back and changes nothing; an accepted
                // one is undone at once.
                if plain.insert_at(k, 1).is_ok() {
                    plain.remove(k);
                }
            }
            calls += 6;
            for g in [0u64, 1, 2, 3, 0xffff_fffe, 0xffff_ffff] {
                let bits = g << 32 | (i & 0xffff_ffff);
                calls += 1;
                let Some(k) = GenKey::from_bits(bits) else {
                    continue;
                };
                let _ = gen.get(k);
                let _ = gen.get_mut(k);
                let _ = gen.contains(k);
                let _ = gen.get_disjoint_mut([k]);
                calls += 4;
                if !live_gen.contains(&k) {
                    let _ = gen.remove(k);
                    let _ = gen.insert_at(k, 1);
                    calls += 2;
                }
            }
        }
    });
    assert!(calls > 300, "{calls} calls made");
    assert_eq!(
        (n, bytes),
        (0, 0),
        "{calls} calls with forged keys allocated {n} times ({bytes} bytes)"
    );
    let after_plain: Vec<(Key, u64)> = plain.iter().map(|(k, v)| (k, *v)).collect();
    assert_eq!(
        after_plain, before_plain,
        "forged keys changed nothing (plain)"
    );
    // Generational: a forged key at a later generation of a vacant slot is a valid restore
    // (insert_at accepts it): those values are the only change.
    for (k, v) in &before_gen {
        assert_eq!(gen.get(*k), Some(v));
    }
    assert!(gen
        .iter()
        .all(|(k, v)| before_gen.contains(&(k, *v)) || *v == 1));
}
