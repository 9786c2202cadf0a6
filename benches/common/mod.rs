//! One interface over every slab we measure, and the workloads built on it. Shared by
//! `benches/slab.rs` and the examples (`#[path]`-included there), so that a bench and an
//! example that carry the same name run the same code.
//!
//! Every implementation is an [`Impl`]: any nexus-slab [`Backing`] that is `Default` is one
//! (blanket impl below), and so are [`SlabCrate`] (the `slab` crate) and [`Nexus012`]
//! (nexus-slab 0.1.2). Keys travel as `usize` everywhere.
//!
//! Adding a backing to every bench and example is one line: its type in `for_each_impl!`.

#![allow(dead_code)] // each target uses a different part of it

use std::hint::black_box;

use nexus_slab::{backing::Backing, Key};

/// Runs `$mac!` with the list of every implementation measured: the one place to add one.
///
/// nexus-slab backings first (our own types), then the crates we compare with.
#[macro_export]
macro_rules! for_each_impl {
    ($mac:ident ! ( $($args:tt)* )) => {
        $mac! {
            [
                nexus_slab::backing::Mmap,
                nexus_slab::backing::Heap,
                nexus_slab::backing::HugeTlb,
                $crate::common::HugeTlb1G,
                nexus_slab::backing::Locked,
                $crate::common::SlabCrate,
                $crate::common::Nexus012
            ]
            $($args)*
        }
    };
}

/// A slab as the benches use it: keys are `usize`, `insert` panics when full (no bench fills
/// past capacity).
pub trait SlabLike<T>: Sized {
    /// A slab with room for at least `n` values, memory allocated now, or `None` (with a note
    /// on stderr) when this implementation cannot have one on this machine.
    fn with_capacity(n: usize) -> Option<Self>;
    fn insert(&mut self, value: T) -> usize;
    fn get(&self, key: usize) -> Option<&T>;
    fn get_mut(&mut self, key: usize) -> Option<&mut T>;
    fn remove(&mut self, key: usize) -> Option<T>;
    /// Calls `f` on every value, in the implementation's natural order (by the iterator's
    /// `for_each`, where it has one).
    fn for_each(&self, f: impl FnMut(&T));
    /// `mlock` the slab's memory, where the implementation can.
    fn lock(&mut self) -> Result<(), String>;
    fn len(&self) -> usize;
    /// Bytes the slab holds (as far as it tells).
    fn bytes(&self) -> usize;
}

/// A family of slabs, one per value type.
pub trait Impl {
    type Slab<T>: SlabLike<T>;
    /// Short name for tables and charts.
    fn name() -> String;
}

#[cold]
#[inline(never)]
fn full() -> ! {
    panic!("slab full")
}

// --- nexus-slab, any backing ---------------------------------------------------------------

impl<B: Backing + Default> Impl for B {
    type Slab<T> = nexus_slab::Slab<T, B>;
    fn name() -> String {
        let full = std::any::type_name::<B>();
        let base = full.split('<').next().unwrap_or(full);
        let last = base.rsplit("::").next().unwrap_or(base);
        format!("nexus {last}")
    }
}

impl<T, B: Backing + Default> SlabLike<T> for nexus_slab::Slab<T, B> {
    fn with_capacity(n: usize) -> Option<Self> {
        match nexus_slab::Slab::try_with_capacity(n) {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("{} unavailable: {e}", B::name());
                None
            }
        }
    }
    #[inline]
    fn insert(&mut self, value: T) -> usize {
        match nexus_slab::Slab::insert(self, value) {
            Ok(k) => k.index(),
            Err(_) => full(),
        }
    }
    #[inline]
    fn get(&self, key: usize) -> Option<&T> {
        nexus_slab::Slab::get(self, Key::new_saturating(key))
    }
    #[inline]
    fn get_mut(&mut self, key: usize) -> Option<&mut T> {
        nexus_slab::Slab::get_mut(self, Key::new_saturating(key))
    }
    #[inline]
    fn remove(&mut self, key: usize) -> Option<T> {
        nexus_slab::Slab::remove(self, Key::new_saturating(key))
    }
    #[inline]
    fn for_each(&self, mut f: impl FnMut(&T)) {
        // Internal iteration (each crate's `fold`), the way `sum`, `for_each` and friends run.
        self.iter().for_each(|(_, v)| f(v));
    }
    fn lock(&mut self) -> Result<(), String> {
        self.mlock().map_err(|e| e.to_string())
    }
    fn len(&self) -> usize {
        nexus_slab::Slab::len(self)
    }
    fn bytes(&self) -> usize {
        self.memory_size()
    }
}

/// `HugeTlb` on 1 GiB pages, as a `Default` backing (plain delegation), so that it can sit in
/// the list beside the others. Needs 1 GiB pages reserved in
/// `/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages`; unavailable otherwise.
#[derive(Debug)]
pub struct HugeTlb1G(nexus_slab::backing::HugeTlb);

impl Default for HugeTlb1G {
    fn default() -> Self {
        HugeTlb1G(nexus_slab::backing::HugeTlb::new(
            nexus_slab::backing::HugePageSize::SIZE_1G,
        ))
    }
}

// SAFETY: every call is forwarded to the inner `HugeTlb`, whose guarantees carry over.
unsafe impl Backing for HugeTlb1G {
    fn granularity(&self) -> usize {
        self.0.granularity()
    }
    fn allocate(
        &mut self,
        layout: std::alloc::Layout,
    ) -> Result<nexus_slab::backing::Region, nexus_slab::Error> {
        self.0.allocate(layout)
    }
    unsafe fn release(&mut self, region: nexus_slab::backing::Region, layout: std::alloc::Layout) {
        // SAFETY: forwarded: the region came from `self.0.allocate`.
        unsafe { self.0.release(region, layout) }
    }
    fn lock(&mut self, region: &nexus_slab::backing::Region) -> Result<(), nexus_slab::Error> {
        self.0.lock(region)
    }
    fn unlock(&mut self, region: &nexus_slab::backing::Region) -> Result<(), nexus_slab::Error> {
        self.0.unlock(region)
    }
    fn collapse(&mut self, region: &nexus_slab::backing::Region) -> Result<(), nexus_slab::Error> {
        self.0.collapse(region)
    }
}

// --- nexus-slab with generational keys -----------------------------------------------------

/// `GenSlab<T>` (the default `Mmap` backing, generational keys). Keys travel as `usize`: the
/// key's `to_bits()` (on 64-bit targets), turned back with `GenKey::from_bits`. Not in
/// `for_each_impl!` (the benches there take key = index on a fresh slab); the latency example
/// and `benches/consumers.rs` measure it.
pub struct GenMmap;

impl Impl for GenMmap {
    type Slab<T> = nexus_slab::GenSlab<T>;
    fn name() -> String {
        "nexus GenKey".into()
    }
}

/// The key a `usize` carries (see [`GenMmap`]); a made-up one is a key no slab has.
#[inline]
fn gen_key(key: usize) -> nexus_slab::GenKey {
    nexus_slab::GenKey::from_bits(key as u64)
        .unwrap_or(nexus_slab::GenKey::from_bits(u64::MAX).unwrap())
}

impl<T> SlabLike<T> for nexus_slab::GenSlab<T> {
    fn with_capacity(n: usize) -> Option<Self> {
        match nexus_slab::GenSlab::try_with_capacity(n) {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("{} unavailable: {e}", GenMmap::name());
                None
            }
        }
    }
    #[inline]
    fn insert(&mut self, value: T) -> usize {
        match nexus_slab::Slab::insert(self, value) {
            Ok(k) => k.to_bits() as usize,
            Err(_) => full(),
        }
    }
    #[inline]
    fn get(&self, key: usize) -> Option<&T> {
        nexus_slab::Slab::get(self, gen_key(key))
    }
    #[inline]
    fn get_mut(&mut self, key: usize) -> Option<&mut T> {
        nexus_slab::Slab::get_mut(self, gen_key(key))
    }
    #[inline]
    fn remove(&mut self, key: usize) -> Option<T> {
        nexus_slab::Slab::remove(self, gen_key(key))
    }
    #[inline]
    fn for_each(&self, f: impl FnMut(&T)) {
        self.values().for_each(f);
    }
    fn lock(&mut self) -> Result<(), String> {
        self.mlock().map_err(|e| e.to_string())
    }
    fn len(&self) -> usize {
        nexus_slab::Slab::len(self)
    }
    fn bytes(&self) -> usize {
        self.memory_size()
    }
}

// --- the slab crate -----------------------------------------------------------------------

/// The `slab` crate, 0.4: a `Vec<Entry<T>>` with a tag per entry, grown on demand.
pub struct SlabCrate;

impl Impl for SlabCrate {
    type Slab<T> = slab::Slab<T>;
    fn name() -> String {
        "slab 0.4".into()
    }
}

impl<T> SlabLike<T> for slab::Slab<T> {
    fn with_capacity(n: usize) -> Option<Self> {
        Some(slab::Slab::with_capacity(n))
    }
    #[inline]
    fn insert(&mut self, value: T) -> usize {
        slab::Slab::insert(self, value)
    }
    #[inline]
    fn get(&self, key: usize) -> Option<&T> {
        slab::Slab::get(self, key)
    }
    #[inline]
    fn get_mut(&mut self, key: usize) -> Option<&mut T> {
        slab::Slab::get_mut(self, key)
    }
    #[inline]
    fn remove(&mut self, key: usize) -> Option<T> {
        // `remove` panics on a vacant key; `try_remove` is the same check with an `Option`,
        // like ours.
        self.try_remove(key)
    }
    #[inline]
    fn for_each(&self, mut f: impl FnMut(&T)) {
        // Internal iteration (each crate's `fold`), the way `sum`, `for_each` and friends run.
        self.iter().for_each(|(_, v)| f(v));
    }
    fn lock(&mut self) -> Result<(), String> {
        Err("the slab crate cannot mlock".into())
    }
    fn len(&self) -> usize {
        slab::Slab::len(self)
    }
    fn bytes(&self) -> usize {
        self.capacity() * entry_size::<T>()
    }
}

/// Size of the `slab` crate's `Entry<T>` (an enum of `Vacant(usize)` and `Occupied(T)`).
pub fn entry_size<T>() -> usize {
    #[allow(dead_code)]
    enum Entry<T> {
        Vacant(usize),
        Occupied(T),
    }
    std::mem::size_of::<Entry<T>>()
}

// --- nexus-slab 0.1.2 ---------------------------------------------------------------------

/// nexus-slab 0.1.2: an mmap'd array of `enum Slot { Vacant { next }, Occupied(T) }`.
pub struct Nexus012;

impl Impl for Nexus012 {
    type Slab<T> = nexus_slab_012::Slab<T>;
    fn name() -> String {
        "nexus 0.1.2".into()
    }
}

#[inline]
fn key012(key: usize) -> nexus_slab_012::Key {
    // SAFETY: `from_raw` is only a constructor; 0.1.2 bounds-checks the index on use.
    unsafe { nexus_slab_012::Key::from_raw(key as u32) }
}

impl<T> SlabLike<T> for nexus_slab_012::Slab<T> {
    fn with_capacity(n: usize) -> Option<Self> {
        match nexus_slab_012::Slab::with_capacity(n) {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("nexus-slab 0.1.2 unavailable: {e}");
                None
            }
        }
    }
    #[inline]
    fn insert(&mut self, value: T) -> usize {
        match nexus_slab_012::Slab::insert(self, value) {
            Ok(k) => k.index() as usize,
            Err(_) => full(),
        }
    }
    #[inline]
    fn get(&self, key: usize) -> Option<&T> {
        nexus_slab_012::Slab::get(self, key012(key))
    }
    #[inline]
    fn get_mut(&mut self, key: usize) -> Option<&mut T> {
        nexus_slab_012::Slab::get_mut(self, key012(key))
    }
    #[inline]
    fn remove(&mut self, key: usize) -> Option<T> {
        nexus_slab_012::Slab::remove(self, key012(key))
    }
    /// 0.1.2 has no iterator: a user scans every slot with `get`.
    #[inline]
    fn for_each(&self, mut f: impl FnMut(&T)) {
        for i in 0..self.capacity() {
            if let Some(v) = nexus_slab_012::Slab::get(self, key012(i)) {
                f(v);
            }
        }
    }
    fn lock(&mut self) -> Result<(), String> {
        self.mlock().map_err(|e| e.to_string())
    }
    fn len(&self) -> usize {
        nexus_slab_012::Slab::len(self)
    }
    fn bytes(&self) -> usize {
        self.memory_size()
    }
}

// --- values and randomness ----------------------------------------------------------------

/// A 64-byte value (one cache line in our slab): the "order" of the workloads, and the node
/// of the pointer chase (`next` is the key of the next node).
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct Node {
    pub next: u64,
    pub pad: [u64; 7],
}

impl Node {
    pub fn new(next: u64) -> Self {
        Node { next, pad: [0; 7] }
    }
}

/// SplitMix64: small, fast, good enough to scatter keys.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    #[inline]
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// A random cyclic permutation of `0..n` (Sattolo): following `p[i]` from any `i` visits
/// every index once before coming back.
pub fn random_cycle(n: usize, rng: &mut Rng) -> Vec<u32> {
    let mut p: Vec<u32> = (0..n as u32).collect();
    for i in (1..n).rev() {
        let j = rng.below(i);
        p.swap(i, j);
    }
    p
}

/// `n` random indices below `bound`.
pub fn random_indices(n: usize, bound: usize, rng: &mut Rng) -> Vec<u32> {
    (0..n).map(|_| rng.below(bound) as u32).collect()
}

// --- workloads ----------------------------------------------------------------------------

/// Inserts `n` values `make(i)`; returns the last key.
#[inline]
pub fn fill<T, S: SlabLike<T>>(s: &mut S, n: usize, make: impl Fn(usize) -> T) -> usize {
    let mut last = 0;
    for i in 0..n {
        last = s.insert(make(i));
    }
    last
}

/// A slab of `n` `u64`s (value = key), or `None` if the implementation is unavailable.
pub fn filled_u64<S: SlabLike<u64>>(n: usize) -> Option<S> {
    let mut s = S::with_capacity(n)?;
    fill(&mut s, n, |i| i as u64);
    Some(s)
}

/// Sums the values at `keys` (independent lookups: the next key does not wait for a value).
#[inline]
pub fn get_sum<S: SlabLike<u64>>(s: &S, keys: &[usize]) -> u64 {
    let mut sum = 0u64;
    for &k in keys {
        sum = sum.wrapping_add(*s.get(k).unwrap_or(&0));
    }
    sum
}

/// A slab of `n` nodes linked in one random cycle through `next`, with its first key.
pub fn chase_slab<S: SlabLike<Node>>(n: usize, seed: u64) -> Option<S> {
    let mut s = S::with_capacity(n)?;
    let cycle = random_cycle(n, &mut Rng::new(seed));
    for (i, &next) in cycle.iter().enumerate() {
        let k = s.insert(Node::new(next as u64));
        // Every implementation hands out 0, 1, 2 ... on a fresh slab; the cycle relies on it.
        assert_eq!(k, i, "fresh slab did not hand out keys in order");
    }
    Some(s)
}

/// Follows `hops` links from `start` (each lookup waits for the previous value); returns where
/// it stopped.
#[inline]
pub fn chase<S: SlabLike<Node>>(s: &S, start: usize, hops: usize) -> usize {
    let mut k = start;
    for _ in 0..hops {
        k = match s.get(k) {
            Some(node) => node.next as usize,
            None => miss(k),
        };
    }
    k
}

#[cold]
#[inline(never)]
fn miss(k: usize) -> ! {
    panic!("chase reached vacant key {k}")
}

/// Steady-state churn at a fixed occupancy: `live` holds the keys in the slab; each step
/// removes a random one and inserts a value in its place.
pub struct Churn {
    pub live: Vec<usize>,
    picks: Vec<u32>,
    pos: usize,
}

impl Churn {
    /// A slab with capacity for `cap` values holding `live` of them, and the churn state.
    pub fn new<T, S: SlabLike<T>>(
        cap: usize,
        live: usize,
        make: impl Fn(usize) -> T,
        seed: u64,
    ) -> Option<(S, Churn)> {
        let mut s = S::with_capacity(cap)?;
        let mut rng = Rng::new(seed);
        // Fill to capacity then remove a random half, so the free list is scattered (as
        // after a while in service), not a tidy run at the end.
        let mut keys: Vec<usize> = (0..cap).map(|i| s.insert(make(i))).collect();
        rng.shuffle(&mut keys);
        for &k in &keys[live..] {
            s.remove(k).expect("key just inserted");
        }
        keys.truncate(live);
        let picks = random_indices(1 << 16, live, &mut rng);
        Some((
            s,
            Churn {
                live: keys,
                picks,
                pos: 0,
            },
        ))
    }

    /// One churn step: remove a random live key, insert `value`.
    #[inline]
    pub fn step<T, S: SlabLike<T>>(&mut self, s: &mut S, value: T) -> T {
        let j = self.picks[self.pos] as usize;
        self.pos = (self.pos + 1) & (self.picks.len() - 1);
        let old = match s.remove(self.live[j]) {
            Some(v) => v,
            None => miss(self.live[j]),
        };
        self.live[j] = s.insert(value);
        old
    }

    /// `ops` churn steps with `u64` values; returns a checksum.
    #[inline]
    pub fn run_u64<S: SlabLike<u64>>(&mut self, s: &mut S, ops: usize) -> u64 {
        let mut sum = 0u64;
        for i in 0..ops {
            sum = sum.wrapping_add(self.step(s, i as u64));
        }
        sum
    }
}

/// A slab of `cap` `u64`s of which only a random `live` fraction is left (for iteration).
pub fn sparse_u64<S: SlabLike<u64>>(cap: usize, live: usize, seed: u64) -> Option<S> {
    let (s, _) = Churn::new::<u64, S>(cap, live, |i| i as u64, seed)?;
    Some(s)
}

/// Sums every value by iteration.
#[inline]
pub fn iter_sum<S: SlabLike<u64>>(s: &S) -> u64 {
    let mut sum = 0u64;
    s.for_each(|v| sum = sum.wrapping_add(*v));
    black_box(sum)
}
