//! Page faults taken while filling a freshly allocated slab of 16Mi 64-byte values (1 GiB), on
//! every backing and for the `slab` crate and nexus-slab 0.1.2: the allocation happens first,
//! then only the inserts are counted (`getrusage(RUSAGE_SELF).ru_minflt`) and timed.
//!
//! ```text
//! sudo benches/with-hugepages.sh 600 2 -- cargo run --release --example faults
//! ```

#[path = "../benches/common/mod.rs"]
mod common;

use common::{Impl, Node, SlabLike};

fn minflt() -> i64 {
    // SAFETY: `getrusage` fills the zeroed struct we own.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru.ru_minflt
    }
}

fn run<I: Impl>(n: usize) {
    // A small fill first, so that the code itself is paged in before anything is counted.
    if let Some(mut warm) = <I::Slab<Node> as SlabLike<Node>>::with_capacity(64) {
        common::fill(&mut warm, 64, |i| Node::new(i as u64));
    }
    for _ in 0..3 {
        let Some(mut s) = <I::Slab<Node> as SlabLike<Node>>::with_capacity(n) else {
            println!("{:<16} unavailable here", I::name());
            return;
        };
        // The clock is read outside the counted window (its first use can fault in the vDSO
        // data page).
        let t0 = std::time::Instant::now();
        let f0 = minflt();
        common::fill(&mut s, n, |i| Node::new(i as u64));
        let f1 = minflt();
        let t1 = t0.elapsed();
        println!(
            "{:<16} fill {n} x 64 B into a fresh slab: {:>7} minor faults, {:>6.2} ns/insert",
            I::name(),
            f1 - f0,
            t1.as_nanos() as f64 / n as f64
        );
    }
}

macro_rules! run_all {
    ([$($ty:path),*] $n:expr) => {
        $( run::<$ty>($n); )*
    };
}

fn main() {
    let n = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(16usize << 20);
    for_each_impl!(run_all!(n));
}
