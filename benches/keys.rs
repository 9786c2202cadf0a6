//! What generational keys cost: the same workloads on a plain-key slab (`Slab<u64>`), a
//! generational one (`GenSlab<u64>`), `slotmap::SlotMap` and the `slab` crate, in one run.
//!
//! ```text
//! DIVAN_TIMER=tsc cargo bench --bench keys
//! ```
//!
//! Keys are the ones each structure handed out (not indices), so stale-key checks run for
//! real. ns/op = time / items.

use std::hint::black_box;

use divan::counter::ItemsCount;
use divan::Bencher;
use nexus_slab::{GenKey, Key, Slab};
use slotmap::{DefaultKey, SlotMap};

fn main() {
    // Bytes per slot of each layout, for the notes (1Mi u64 values).
    let plain: Slab<u64> = Slab::with_capacity(1 << 20);
    let gen: Slab<u64, nexus_slab::backing::Mmap, GenKey> = Slab::with_capacity(1 << 20);
    eprintln!(
        "bytes per slot (u64, 1Mi slots, memory_size / capacity): Key {:.3}, GenKey {:.3}",
        plain.memory_size() as f64 / plain.capacity() as f64,
        gen.memory_size() as f64 / gen.capacity() as f64,
    );
    divan::main();
}

/// `nexus_slab::Slab<u64>`: plain keys.
struct PlainKey(Slab<u64>);
/// `nexus_slab::GenSlab<u64>`: generational keys.
struct GenKeyed(Slab<u64, nexus_slab::backing::Mmap, GenKey>);
/// `slotmap::SlotMap<DefaultKey, u64>`.
struct SlotMapCrate(SlotMap<DefaultKey, u64>);
/// `slab::Slab<u64>` (the slab crate, plain keys).
struct SlabCrate(slab::Slab<u64>);

/// The four structures behind one interface, keys of their own type.
trait Keyed: Sized {
    type K: Copy;
    fn make(n: usize) -> Self;
    fn put(&mut self, v: u64) -> Self::K;
    fn at(&self, k: Self::K) -> Option<&u64>;
    fn take(&mut self, k: Self::K) -> Option<u64>;
}

impl Keyed for PlainKey {
    type K = Key;
    fn make(n: usize) -> Self {
        PlainKey(Slab::with_capacity(n))
    }
    #[inline]
    fn put(&mut self, v: u64) -> Key {
        self.0.insert(v).unwrap()
    }
    #[inline]
    fn at(&self, k: Key) -> Option<&u64> {
        self.0.get(k)
    }
    #[inline]
    fn take(&mut self, k: Key) -> Option<u64> {
        self.0.remove(k)
    }
}

impl Keyed for GenKeyed {
    type K = GenKey;
    fn make(n: usize) -> Self {
        GenKeyed(Slab::with_capacity(n))
    }
    #[inline]
    fn put(&mut self, v: u64) -> GenKey {
        self.0.insert(v).unwrap()
    }
    #[inline]
    fn at(&self, k: GenKey) -> Option<&u64> {
        self.0.get(k)
    }
    #[inline]
    fn take(&mut self, k: GenKey) -> Option<u64> {
        self.0.remove(k)
    }
}

impl Keyed for SlotMapCrate {
    type K = DefaultKey;
    fn make(n: usize) -> Self {
        SlotMapCrate(SlotMap::with_capacity(n))
    }
    #[inline]
    fn put(&mut self, v: u64) -> DefaultKey {
        self.0.insert(v)
    }
    #[inline]
    fn at(&self, k: DefaultKey) -> Option<&u64> {
        self.0.get(k)
    }
    #[inline]
    fn take(&mut self, k: DefaultKey) -> Option<u64> {
        self.0.remove(k)
    }
}

impl Keyed for SlabCrate {
    type K = usize;
    fn make(n: usize) -> Self {
        SlabCrate(slab::Slab::with_capacity(n))
    }
    #[inline]
    fn put(&mut self, v: u64) -> usize {
        self.0.insert(v)
    }
    #[inline]
    fn at(&self, k: usize) -> Option<&u64> {
        self.0.get(k)
    }
    #[inline]
    fn take(&mut self, k: usize) -> Option<u64> {
        self.0.try_remove(k)
    }
}

/// xorshift64*: deterministic, so every structure sees the same sequence.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) % n as u64) as usize
    }
}

const SIZES: [usize; 2] = [4 << 10, 1 << 20];
const OPS: usize = 1 << 16;

/// `n` lookups of random live keys in a full structure of `n` values.
#[divan::bench(
    types = [PlainKey, GenKeyed, SlotMapCrate, SlabCrate],
    args = SIZES,
    max_time = 3
)]
fn get_random<S: Keyed>(b: Bencher, n: usize) {
    let mut s = S::make(n);
    let keys: Vec<S::K> = (0..n as u64).map(|v| s.put(v)).collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let probe: Vec<S::K> = (0..n).map(|_| keys[rng.below(n)]).collect();
    b.counter(ItemsCount::new(n)).bench_local(|| {
        let mut sum = 0u64;
        for &k in black_box(&probe) {
            sum = sum.wrapping_add(*s.at(k).unwrap_or(&0));
        }
        sum
    });
}

/// Remove a random live key and insert a value, at 50% occupancy of `n` slots.
#[divan::bench(
    types = [PlainKey, GenKeyed, SlotMapCrate, SlabCrate],
    args = SIZES,
    max_time = 3
)]
fn churn<S: Keyed>(b: Bencher, n: usize) {
    let mut s = S::make(n);
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let mut live: Vec<S::K> = (0..n as u64).map(|v| s.put(v)).collect();
    // Down to 50%, removing at random, so the free list is scattered.
    while live.len() > n / 2 {
        let j = rng.below(live.len());
        s.take(live.swap_remove(j));
    }
    let picks: Vec<u32> = (0..OPS).map(|_| rng.below(live.len()) as u32).collect();
    b.counter(ItemsCount::new(OPS)).bench_local(|| {
        let mut sum = 0u64;
        for &j in &picks {
            let j = j as usize;
            sum = sum.wrapping_add(s.take(live[j]).unwrap_or(0));
            live[j] = s.put(sum);
        }
        sum
    });
}
