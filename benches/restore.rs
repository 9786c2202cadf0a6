//! Restoring keys with `insert_at`, in the orders a restart meets them: ascending (a sorted
//! dump), descending, and random (a `HashMap` iterated). Each iteration restores every key of
//! a fresh slab and then inserts once (which puts any loose slots back in order, so that cost
//! is counted). The `slab` crate's `FromIterator<(usize, T)>` (its way to rebuild with keys)
//! is measured on the same keys in the same run.
//!
//! ```text
//! DIVAN_TIMER=tsc cargo bench --bench restore          # about a minute
//! ```
//!
//! Target: random and descending within 2x of ascending, for both key kinds. Before the
//! free list learnt loose slots (`src/raw/loose.rs`), 100,000 keys took 155 us ascending,
//! 4.4 s random and 8.6 s descending.

use std::hint::black_box;

use divan::counter::ItemsCount;
use divan::Bencher;
use nexus_slab::{GenKey, Key, Slab};

fn main() {
    divan::main();
}

const N: usize = 1 << 20;

#[derive(Clone, Copy, Debug)]
enum Order {
    Ascending,
    Descending,
    Random,
}

impl std::fmt::Display for Order {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

const ORDERS: [Order; 3] = [Order::Ascending, Order::Descending, Order::Random];

fn indices(order: Order) -> Vec<usize> {
    let mut v: Vec<usize> = (0..N).collect();
    match order {
        Order::Ascending => {}
        Order::Descending => v.reverse(),
        Order::Random => {
            let mut x = 0x2545_f491_4f6c_dd1du64;
            for i in (1..v.len()).rev() {
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                let j = (x.wrapping_mul(0x2545_f491_4f6c_dd1d) % (i as u64 + 1)) as usize;
                v.swap(i, j);
            }
        }
    }
    v
}

#[divan::bench(args = ORDERS)]
fn plain_keys(b: Bencher, order: Order) {
    let keys: Vec<Key> = indices(order)
        .into_iter()
        .map(Key::new_saturating)
        .collect();
    b.counter(ItemsCount::new(N))
        .with_inputs(|| Slab::<u64>::with_capacity(N))
        .bench_local_values(|mut slab| {
            for &k in &keys {
                let _ = slab.insert_at(k, k.index() as u64);
            }
            let _ = black_box(slab.insert(0));
            slab
        });
}

#[divan::bench(args = ORDERS)]
fn generational_keys(b: Bencher, order: Order) {
    let keys: Vec<GenKey> = indices(order)
        .into_iter()
        .map(|i| GenKey::from_bits(3 << 32 | i as u64).unwrap())
        .collect();
    b.counter(ItemsCount::new(N))
        .with_inputs(|| Slab::<u64, nexus_slab::backing::Mmap, GenKey>::with_capacity(N))
        .bench_local_values(|mut slab| {
            for &k in &keys {
                let _ = slab.insert_at(k, k.index() as u64);
            }
            let _ = black_box(slab.insert(0));
            slab
        });
}

/// The `slab` crate rebuilt from `(key, value)` pairs in the same order.
#[divan::bench(args = ORDERS)]
fn slab_crate_from_iter(b: Bencher, order: Order) {
    let keys = indices(order);
    b.counter(ItemsCount::new(N)).bench_local(|| {
        let mut s: slab::Slab<u64> = keys.iter().map(|&i| (i, i as u64)).collect();
        let _ = black_box(s.insert(0));
        s
    });
}

/// The floor: the same stores with no slab, `values[i] = i` (and `generations[i] = 3`, as a
/// generational slab also stores) into plain arrays of the same sizes, in the same order. What
/// random order costs over ascending here is the memory system's, not the slab's.
#[divan::bench(args = ORDERS)]
fn floor_scatter(b: Bencher, order: Order) {
    let keys = indices(order);
    b.counter(ItemsCount::new(N))
        .with_inputs(|| (vec![0u64; N], vec![0u32; N]))
        .bench_local_values(|(mut values, mut gens)| {
            for &i in &keys {
                values[i] = i as u64;
                gens[i] = 3;
            }
            black_box((values, gens))
        });
}
