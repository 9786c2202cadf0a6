//! Throughput of every workload, on every nexus-slab backing and on the crates we compare
//! with (the `slab` crate 0.4 and nexus-slab 0.1.2), in one run:
//!
//! ```text
//! DIVAN_TIMER=tsc cargo bench --bench slab                       # < 5 minutes
//! NEXUS_BENCH_LARGE=1 DIVAN_TIMER=tsc cargo bench --bench slab   # + 16Mi fills, 1 GiB chase
//! DIVAN_TIMER=tsc cargo bench --bench slab -- churn              # one workload
//! ```
//!
//! Every benchmark counts items (`ItemsCount`), so divan prints the rate beside the time per
//! iteration; ns/op = time / items. The list of implementations is `for_each_impl!` in
//! `benches/common/mod.rs`: adding a backing there adds it here.

mod common;

use std::fmt;
use std::hint::black_box;

use common::{Impl, Node, Rng, SlabLike};
use divan::counter::ItemsCount;
use divan::Bencher;

fn main() {
    divan::main();
}

/// A count shown as 4Ki / 1Mi / 16Mi in divan's tree.
#[derive(Clone, Copy)]
struct N(usize);

impl fmt::Display for N {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            n if n >= 1 << 20 && n % (1 << 20) == 0 => write!(f, "{}Mi", n >> 20),
            n if n >= 1 << 10 && n % (1 << 10) == 0 => write!(f, "{}Ki", n >> 10),
            n => write!(f, "{n}"),
        }
    }
}

/// Whether the large cases (16Mi fills, 1 GiB chase) run: `NEXUS_BENCH_LARGE=1`.
fn large() -> bool {
    std::env::var("NEXUS_BENCH_LARGE").is_ok_and(|v| v == "1")
}

/// `always`, plus `large_only` when the large cases are on.
fn sizes(always: &[usize], large_only: &[usize]) -> Vec<N> {
    let mut v: Vec<N> = always.iter().map(|&n| N(n)).collect();
    if large() {
        v.extend(large_only.iter().map(|&n| N(n)));
    }
    v
}

/// Whether implementation `I` can allocate at all here (a backing may need reserved huge
/// pages); when not, the bench registers nothing and divan says so.
fn available<I: Impl>() -> bool {
    <I::Slab<u64> as SlabLike<u64>>::with_capacity(1).is_some()
}

/// Declares a divan bench generic over every implementation in `for_each_impl!`.
macro_rules! bench_all {
    ($types:tt [$($opt:tt)*] $(#[$m:meta])* fn $($rest:tt)*) => {
        #[divan::bench(types = $types, $($opt)*)]
        $(#[$m])*
        fn $($rest)*
    };
}

const KI: usize = 1 << 10;
const MI: usize = 1 << 20;

// --- fill ---------------------------------------------------------------------------------

/// Insert `n` values into a slab of capacity `n` allocated outside the timed region (for the
/// `slab` crate: `Slab::with_capacity`, whose pages fault in on first touch, in the timed
/// region; for ours: allocated and prefaulted by `alloc`). One iteration per sample, so only
/// one fresh slab exists at a time (a hugetlb pool holds few pages).
fn fill_fresh<T, I: Impl>(b: Bencher, n: usize, make: impl Fn(usize) -> T + Sync) {
    // Tried at this size (and dropped at once): a pool with room for small slabs may still be
    // too small for this one, which is then skipped with the reason printed, not a panic.
    if <I::Slab<T> as SlabLike<T>>::with_capacity(n).is_none() {
        return;
    }
    b.counter(ItemsCount::new(n))
        .with_inputs(|| <I::Slab<T> as SlabLike<T>>::with_capacity(n).expect("available"))
        .bench_local_refs(|s| common::fill(s, n, &make));
}

for_each_impl!(bench_all!(
    [args = sizes(&[4 * KI, MI], &[16 * MI]), max_time = 4, sample_size = 1]
    /// Fill a fresh slab with `n` `u64` values.
    fn fill_u64<I: Impl>(b: Bencher, n: N) {
        fill_fresh::<u64, I>(b, n.0, |i| i as u64);
    }
));

for_each_impl!(bench_all!(
    [args = sizes(&[4 * KI, MI], &[16 * MI]), max_time = 4, sample_size = 1]
    /// Fill a fresh slab with `n` 64-byte values.
    fn fill_64b<I: Impl>(b: Bencher, n: N) {
        fill_fresh::<Node, I>(b, n.0, |i| Node::new(i as u64));
    }
));

// --- get ----------------------------------------------------------------------------------

for_each_impl!(bench_all!(
    [args = sizes(&[4 * KI, MI], &[]), max_time = 3]
    /// `n` lookups of independent random keys in a full slab of `n` `u64` values.
    fn get_random<I: Impl>(b: Bencher, n: N) {
        let Some(s) = common::filled_u64::<I::Slab<u64>>(n.0) else {
            return;
        };
        let mut rng = Rng::new(1);
        let keys: Vec<usize> = (0..n.0).map(|_| rng.below(n.0)).collect();
        b.counter(ItemsCount::new(keys.len()))
            .bench_local(|| common::get_sum(&s, black_box(&keys)));
    }
));

/// Hops per iteration of the pointer chase.
const HOPS: usize = 1 << 16;

for_each_impl!(bench_all!(
    [args = sizes(&[MI], &[16 * MI]), max_time = 3]
    /// Dependent random lookups: each 64-byte node holds the key of the next, along one
    /// random cycle through all `n` nodes (1Mi nodes = 64 MiB of values; 16Mi = 1 GiB).
    fn get_chase<I: Impl>(b: Bencher, n: N) {
        let Some(s) = common::chase_slab::<I::Slab<Node>>(n.0, 7) else {
            return;
        };
        let mut k = 0;
        b.counter(ItemsCount::new(HOPS)).bench_local(|| {
            k = common::chase(&s, k, HOPS);
            k
        });
    }
));

// --- remove -------------------------------------------------------------------------------

for_each_impl!(bench_all!(
    [args = sizes(&[4 * KI, MI], &[]), max_time = 4, sample_size = 1]
    /// Remove all `n` values of a full slab, in random key order.
    fn remove<I: Impl>(b: Bencher, n: N) {
        if !available::<I>() {
            return;
        }
        let mut order: Vec<usize> = (0..n.0).collect();
        Rng::new(3).shuffle(&mut order);
        b.counter(ItemsCount::new(n.0))
            .with_inputs(|| common::filled_u64::<I::Slab<u64>>(n.0).expect("available"))
            .bench_local_refs(|s| {
                let mut sum = 0u64;
                for &k in &order {
                    sum = sum.wrapping_add(s.remove(k).unwrap_or(0));
                }
                sum
            });
    }
));

// --- churn --------------------------------------------------------------------------------

/// Churn steps per iteration.
const CHURN_OPS: usize = 1 << 16;

for_each_impl!(bench_all!(
    [args = sizes(&[4 * KI, MI], &[]), max_time = 3]
    /// Remove a random live key and insert a value, at 50% occupancy of `n` slots.
    fn churn<I: Impl>(b: Bencher, n: N) {
        let Some((mut s, mut churn)) =
            common::Churn::new::<u64, I::Slab<u64>>(n.0, n.0 / 2, |i| i as u64, 5)
        else {
            return;
        };
        b.counter(ItemsCount::new(CHURN_OPS))
            .bench_local(|| churn.run_u64(&mut s, CHURN_OPS));
    }
));

// --- iteration ----------------------------------------------------------------------------

/// Occupancy in percent, shown as `10%`.
#[derive(Clone, Copy)]
struct Pct(usize);

impl fmt::Display for Pct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

for_each_impl!(bench_all!(
    [args = [Pct(100), Pct(10)], max_time = 3]
    /// Visit every value of a slab of 1Mi `u64` slots at the given occupancy (counted per
    /// slot, so the two occupancies compare).
    fn iter<I: Impl>(b: Bencher, occupancy: Pct) {
        let live = MI * occupancy.0 / 100;
        let Some(s) = common::sparse_u64::<I::Slab<u64>>(MI, live, 9) else {
            return;
        };
        b.counter(ItemsCount::new(MI))
            .bench_local(|| common::iter_sum(&s));
    }
));
