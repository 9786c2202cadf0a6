//! Every way users consume a lookup, on every structure, in one run: the ranking between
//! crates can flip with the consumer pattern (a `.unwrap()` compiles to a branch, an
//! `unwrap_or` often to a conditional move), so each workload runs in each pattern.
//!
//! ```text
//! DIVAN_TIMER=tsc cargo bench --bench consumers            # everything (~6 min)
//! DIVAN_TIMER=tsc cargo bench --bench consumers -- get_u64  # a filter
//! ```
//!
//! Structures (each with keys of its own type, as users hold them): nexus-slab with plain
//! keys (`Slab<V>`) and generational keys (`GenSlab<V>`), the `slab` crate 0.4, nexus-slab
//! 0.1.2 and `slotmap` 1. Values: `u64` and a 64-byte `[u64; 8]`. Sizes: 4Ki (cache-resident)
//! and 1Mi slots.
//!
//! Patterns (the const parameter `P`):
//! - get: 0 `get(k).unwrap()`, 1 `get(k).unwrap_or(&ZERO)`, 2 `if let Some(v) = get(k)`,
//!   3 `slab[k]`;
//! - churn (remove a random live key, insert): 0 `remove(k).unwrap()`, 1
//!   `remove(k).unwrap_or(ZERO)`, 2 `if let Some(v) = remove(k)`.
//!
//! `replace_*` is the same churn in the shape of an order-cancel-replace loop as users write
//! it (and as an independent harness measured it): the random position is drawn inside the
//! loop, `remove(k).unwrap()`, and the new value does not depend on the removed one, so
//! the insert does not wait for the remove's load (in `churn` it does, through the sum).
//!
//! ns/op = time / items.

use std::hint::black_box;

use divan::counter::ItemsCount;
use divan::Bencher;
use nexus_slab::{GenKey, GenSlab, Key, Slab};
use slotmap::{DefaultKey, SlotMap};

fn main() {
    divan::main();
}

/// A value type: `u64`, or 64 bytes.
trait Val: Copy + 'static {
    const ZERO: Self;
    fn make(v: u64) -> Self;
    fn first(&self) -> u64;
}

impl Val for u64 {
    const ZERO: Self = 0;
    #[inline]
    fn make(v: u64) -> Self {
        v
    }
    #[inline]
    fn first(&self) -> u64 {
        *self
    }
}

/// 64 bytes.
type B64 = [u64; 8];

impl Val for B64 {
    const ZERO: Self = [0; 8];
    #[inline]
    fn make(v: u64) -> Self {
        [v; 8]
    }
    #[inline]
    fn first(&self) -> u64 {
        self[0]
    }
}

/// One structure behind one interface, keys of its own type.
trait Store<V: Val>: Sized {
    type K: Copy;
    fn make(n: usize) -> Self;
    fn put(&mut self, v: V) -> Self::K;
    fn get(&self, k: Self::K) -> Option<&V>;
    fn index(&self, k: Self::K) -> &V;
    fn take(&mut self, k: Self::K) -> Option<V>;
}

/// `nexus_slab::Slab<V>`: plain keys.
struct Plain<V>(Slab<V>);
/// `nexus_slab::GenSlab<V>`: generational keys.
struct Gen<V>(GenSlab<V>);
/// `slab::Slab<V>`.
struct SlabCrate<V>(slab::Slab<V>);
/// nexus-slab 0.1.2.
struct Nexus012<V>(nexus_slab_012::Slab<V>);
/// `slotmap::SlotMap<DefaultKey, V>`.
struct SlotMapCrate<V>(SlotMap<DefaultKey, V>);

impl<V: Val> Store<V> for Plain<V> {
    type K = Key;
    fn make(n: usize) -> Self {
        Plain(Slab::with_capacity(n))
    }
    #[inline]
    fn put(&mut self, v: V) -> Key {
        self.0.insert(v).unwrap()
    }
    #[inline]
    fn get(&self, k: Key) -> Option<&V> {
        self.0.get(k)
    }
    #[inline]
    fn index(&self, k: Key) -> &V {
        &self.0[k]
    }
    #[inline]
    fn take(&mut self, k: Key) -> Option<V> {
        self.0.remove(k)
    }
}

impl<V: Val> Store<V> for Gen<V> {
    type K = GenKey;
    fn make(n: usize) -> Self {
        Gen(GenSlab::with_capacity(n))
    }
    #[inline]
    fn put(&mut self, v: V) -> GenKey {
        self.0.insert(v).unwrap()
    }
    #[inline]
    fn get(&self, k: GenKey) -> Option<&V> {
        self.0.get(k)
    }
    #[inline]
    fn index(&self, k: GenKey) -> &V {
        &self.0[k]
    }
    #[inline]
    fn take(&mut self, k: GenKey) -> Option<V> {
        self.0.remove(k)
    }
}

impl<V: Val> Store<V> for SlabCrate<V> {
    type K = usize;
    fn make(n: usize) -> Self {
        SlabCrate(slab::Slab::with_capacity(n))
    }
    #[inline]
    fn put(&mut self, v: V) -> usize {
        self.0.insert(v)
    }
    #[inline]
    fn get(&self, k: usize) -> Option<&V> {
        self.0.get(k)
    }
    #[inline]
    fn index(&self, k: usize) -> &V {
        &self.0[k]
    }
    #[inline]
    fn take(&mut self, k: usize) -> Option<V> {
        self.0.try_remove(k)
    }
}

impl<V: Val> Store<V> for Nexus012<V> {
    type K = nexus_slab_012::Key;
    fn make(n: usize) -> Self {
        Nexus012(nexus_slab_012::Slab::with_capacity(n).unwrap())
    }
    #[inline]
    fn put(&mut self, v: V) -> nexus_slab_012::Key {
        match self.0.insert(v) {
            Ok(k) => k,
            Err(_) => panic!("full"),
        }
    }
    #[inline]
    fn get(&self, k: nexus_slab_012::Key) -> Option<&V> {
        self.0.get(k)
    }
    /// 0.1.2 has no `Index`: what an `Index` impl would do.
    #[inline]
    fn index(&self, k: nexus_slab_012::Key) -> &V {
        match self.0.get(k) {
            Some(v) => v,
            None => panic!("invalid key"),
        }
    }
    #[inline]
    fn take(&mut self, k: nexus_slab_012::Key) -> Option<V> {
        self.0.remove(k)
    }
}

impl<V: Val> Store<V> for SlotMapCrate<V> {
    type K = DefaultKey;
    fn make(n: usize) -> Self {
        SlotMapCrate(SlotMap::with_capacity(n))
    }
    #[inline]
    fn put(&mut self, v: V) -> DefaultKey {
        self.0.insert(v)
    }
    #[inline]
    fn get(&self, k: DefaultKey) -> Option<&V> {
        self.0.get(k)
    }
    #[inline]
    fn index(&self, k: DefaultKey) -> &V {
        &self.0[k]
    }
    #[inline]
    fn take(&mut self, k: DefaultKey) -> Option<V> {
        self.0.remove(k)
    }
}

/// xorshift64*: every structure sees the same sequence.
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
const CHURN_OPS: usize = 1 << 16;

/// `n` lookups of random live keys in a full structure of `n` values, consumed by pattern `P`.
fn get_random<V: Val, S: Store<V>, const P: u8>(b: Bencher, n: usize) {
    let mut s = S::make(n);
    let keys: Vec<S::K> = (0..n as u64).map(|v| s.put(V::make(v))).collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let probe: Vec<S::K> = (0..n).map(|_| keys[rng.below(n)]).collect();
    b.counter(ItemsCount::new(n)).bench_local(|| {
        let s = black_box(&s);
        let mut sum = 0u64;
        for &k in black_box(&probe) {
            match P {
                0 => sum = sum.wrapping_add(s.get(k).unwrap().first()),
                1 => sum = sum.wrapping_add(s.get(k).unwrap_or(&V::ZERO).first()),
                2 => {
                    if let Some(v) = s.get(k) {
                        sum = sum.wrapping_add(v.first());
                    }
                }
                _ => sum = sum.wrapping_add(s.index(k).first()),
            }
        }
        sum
    });
}

/// At 50% occupancy of `n` slots: remove a random live key (consumed by pattern `P`), insert.
fn churn<V: Val, S: Store<V>, const P: u8>(b: Bencher, n: usize) {
    let mut s = S::make(n);
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let mut live: Vec<S::K> = (0..n as u64).map(|v| s.put(V::make(v))).collect();
    while live.len() > n / 2 {
        let j = rng.below(live.len());
        s.take(live.swap_remove(j));
    }
    let picks: Vec<u32> = (0..CHURN_OPS)
        .map(|_| rng.below(live.len()) as u32)
        .collect();
    b.counter(ItemsCount::new(CHURN_OPS)).bench_local(|| {
        let mut sum = 0u64;
        for &j in &picks {
            let j = j as usize;
            let v = match P {
                0 => s.take(live[j]).unwrap(),
                1 => s.take(live[j]).unwrap_or(V::ZERO),
                _ => {
                    if let Some(v) = s.take(live[j]) {
                        v
                    } else {
                        V::ZERO
                    }
                }
            };
            sum = sum.wrapping_add(v.first());
            live[j] = s.put(V::make(sum));
        }
        sum
    });
}

#[divan::bench(
    types = [Plain<u64>, Gen<u64>, SlabCrate<u64>, Nexus012<u64>, SlotMapCrate<u64>],
    consts = [0, 1, 2, 3],
    args = SIZES,
    max_time = 1
)]
fn get_u64<S: Store<u64>, const P: u8>(b: Bencher, n: usize) {
    get_random::<u64, S, P>(b, n);
}

#[divan::bench(
    types = [Plain<B64>, Gen<B64>, SlabCrate<B64>, Nexus012<B64>, SlotMapCrate<B64>],
    consts = [0, 1, 2, 3],
    args = SIZES,
    max_time = 1
)]
fn get_64b<S: Store<B64>, const P: u8>(b: Bencher, n: usize) {
    get_random::<B64, S, P>(b, n);
}

#[divan::bench(
    types = [Plain<u64>, Gen<u64>, SlabCrate<u64>, Nexus012<u64>, SlotMapCrate<u64>],
    consts = [0, 1, 2],
    args = SIZES,
    max_time = 1
)]
fn churn_u64<S: Store<u64>, const P: u8>(b: Bencher, n: usize) {
    churn::<u64, S, P>(b, n);
}

#[divan::bench(
    types = [Plain<B64>, Gen<B64>, SlabCrate<B64>, Nexus012<B64>, SlotMapCrate<B64>],
    consts = [0, 1, 2],
    args = SIZES,
    max_time = 1
)]
fn churn_64b<S: Store<B64>, const P: u8>(b: Bencher, n: usize) {
    churn::<B64, S, P>(b, n);
}

/// A fast generator for positions drawn inside the timed loop: xorshift64 and a
/// multiply-high range reduction (no division, whose latency would hide the slab's).
struct Fast(u64);

impl Fast {
    #[inline]
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((u128::from(self.0) * n as u128) >> 64) as usize
    }
}

/// Order-cancel-replace at 50 % occupancy of `n` slots: live keys in a `Vec`, a random
/// position (drawn in the loop), `remove(k).unwrap()` of that key, `insert` of a new value
/// (independent of the removed one), its key stored back at that position.
fn replace<V: Val, S: Store<V>>(b: Bencher, n: usize) {
    let mut s = S::make(n);
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let mut live: Vec<S::K> = (0..n as u64).map(|v| s.put(V::make(v))).collect();
    while live.len() > n / 2 {
        let j = rng.below(live.len());
        s.take(live.swap_remove(j));
    }
    let mut pos = Fast(0x9e37_79b9_7f4a_7c15);
    let mut id = 0u64;
    b.counter(ItemsCount::new(CHURN_OPS)).bench_local(|| {
        let mut sum = 0u64;
        for _ in 0..CHURN_OPS {
            let j = pos.below(live.len());
            sum = sum.wrapping_add(s.take(live[j]).unwrap().first());
            id += 1;
            live[j] = s.put(V::make(id));
        }
        sum
    });
}

#[divan::bench(
    types = [Plain<u64>, Gen<u64>, SlabCrate<u64>, Nexus012<u64>, SlotMapCrate<u64>],
    args = SIZES,
    max_time = 1
)]
fn replace_u64<S: Store<u64>>(b: Bencher, n: usize) {
    replace::<u64, S>(b, n);
}

#[divan::bench(
    types = [Plain<B64>, Gen<B64>, SlabCrate<B64>, Nexus012<B64>, SlotMapCrate<B64>],
    args = SIZES,
    max_time = 1
)]
fn replace_64b<S: Store<B64>>(b: Bencher, n: usize) {
    replace::<B64, S>(b, n);
}

/// `n` inserts into a fresh structure (allocated, or for growing ones created with room for
/// `n`, outside the timed part): the insert path alone.
fn fill<V: Val, S: Store<V>>(b: Bencher, n: usize) {
    b.counter(ItemsCount::new(n))
        .with_inputs(|| S::make(n))
        .bench_local_values(|mut s| {
            for v in 0..n as u64 {
                black_box(s.put(V::make(v)));
            }
            s
        });
}

#[divan::bench(
    types = [Plain<u64>, Gen<u64>, SlabCrate<u64>, Nexus012<u64>, SlotMapCrate<u64>],
    args = SIZES,
    max_time = 1
)]
fn fill_u64<S: Store<u64>>(b: Bencher, n: usize) {
    fill::<u64, S>(b, n);
}

#[divan::bench(
    types = [Plain<B64>, Gen<B64>, SlabCrate<B64>, Nexus012<B64>, SlotMapCrate<B64>],
    args = SIZES,
    max_time = 1
)]
fn fill_64b<S: Store<B64>>(b: Bencher, n: usize) {
    fill::<B64, S>(b, n);
}

/// Iteration over a structure that holds every tenth value (the rest removed), per slot, in
/// the two ways users iterate: `for_each` (internal) and a `for` loop (external).
trait Iterate<V: Val>: Store<V> {
    fn sum_for_each(&self) -> u64;
    fn sum_for(&self) -> u64;
}

macro_rules! iterate {
    ($t:ident, |$s:ident| $iter:expr) => {
        impl<V: Val> Iterate<V> for $t<V> {
            #[inline]
            fn sum_for_each(&self) -> u64 {
                let $s = self;
                let mut sum = 0u64;
                $iter.for_each(|v: &V| sum = sum.wrapping_add(v.first()));
                sum
            }
            #[inline]
            fn sum_for(&self) -> u64 {
                let $s = self;
                let mut sum = 0u64;
                for v in $iter {
                    sum = sum.wrapping_add(v.first());
                }
                sum
            }
        }
    };
}

iterate!(Plain, |s| s.0.values());
iterate!(Gen, |s| s.0.values());
iterate!(SlabCrate, |s| s.0.iter().map(|(_, v)| v));
iterate!(SlotMapCrate, |s| s.0.values());

/// A structure of `n` slots with every tenth value left, iterated by pattern `P` (0
/// `for_each`, 1 `for`); ns per slot.
fn iterate_sparse<S: Iterate<u64>, const P: u8>(b: Bencher, n: usize) {
    let mut s = S::make(n);
    let keys: Vec<S::K> = (0..n as u64).map(|v| s.put(v)).collect();
    for (i, k) in keys.into_iter().enumerate() {
        if i % 10 != 0 {
            s.take(k);
        }
    }
    b.counter(ItemsCount::new(n)).bench_local(|| {
        let s = black_box(&s);
        if P == 0 {
            s.sum_for_each()
        } else {
            s.sum_for()
        }
    });
}

#[divan::bench(
    types = [Plain<u64>, Gen<u64>, SlabCrate<u64>, SlotMapCrate<u64>],
    consts = [0, 1],
    args = SIZES,
    max_time = 1
)]
fn iter_10pct<S: Iterate<u64>, const P: u8>(b: Bencher, n: usize) {
    iterate_sparse::<S, P>(b, n);
}
