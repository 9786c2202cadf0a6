//! What a small slab costs, on each backing and with the `slab` crate: many structures of a
//! few entries each (a timer queue per connection, a slab per order book level), as programs
//! ported from `slab` make them.
//!
//! ```text
//! cargo run --release --example small_slabs
//! ```
//!
//! For each implementation, in a process of its own (so that no implementation reuses memory
//! another freed): the time to make a one-entry slab, insert one `u64` and drop it (median of 5
//! rounds of 10,000), the memory each such slab holds while alive (resident set growth over
//! 10,000 live slabs, from /proc/self/statm, divided by 10,000; the structure itself
//! included) and the bytes of its slots (`memory_size()`; for `slab`, its `Vec`).

use std::time::Instant;

use nexus_slab::{
    backing::{Backing, Heap, Mmap},
    Slab,
};

const N: usize = 10_000;

/// Resident bytes of this process now (Linux; 0 elsewhere).
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * nexus_slab::system::SystemInfo::probe().base_page_size
}

trait Small {
    const NAME: &'static str;
    fn make() -> Self;
    fn put(&mut self, v: u64);
    fn bytes(&self) -> usize;
}

/// The name each backing's row is printed under.
trait Named: Backing + Default {
    const NAME: &'static str;
}

impl Named for Mmap {
    const NAME: &'static str = "Slab<u64> (Mmap)";
}

impl Named for Heap {
    const NAME: &'static str = "HeapSlab<u64>";
}

impl<B: Named> Small for Slab<u64, B> {
    const NAME: &'static str = B::NAME;
    fn make() -> Self {
        Slab::with_capacity(1)
    }
    fn put(&mut self, v: u64) {
        self.insert(v).unwrap();
    }
    fn bytes(&self) -> usize {
        self.memory_size()
    }
}

impl Small for slab::Slab<u64> {
    const NAME: &'static str = "slab::Slab<u64>";
    fn make() -> Self {
        slab::Slab::new()
    }
    fn put(&mut self, v: u64) {
        self.insert(v);
    }
    fn bytes(&self) -> usize {
        // The `slab` crate keeps its entries in a `Vec`: 16 bytes per `u64` entry.
        self.capacity() * 16
    }
}

fn run<S: Small>() {
    // Make, insert, drop: the life of a short-lived small structure.
    let mut rounds = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        for i in 0..N {
            let mut s = S::make();
            s.put(i as u64);
            std::hint::black_box(&s);
        }
        rounds.push(t.elapsed().as_nanos() as f64 / N as f64);
    }
    rounds.sort_by(f64::total_cmp);
    // Memory held while alive: N live one-entry slabs.
    let before = rss();
    let live: Vec<S> = (0..N)
        .map(|i| {
            let mut s = S::make();
            s.put(i as u64);
            s
        })
        .collect();
    let held = rss().saturating_sub(before) as f64 / N as f64;
    let bytes = live[0].bytes();
    drop(live);
    println!(
        "{:<18} {:>9.2} µs {:>10.0} B {:>12}",
        S::NAME,
        rounds[2] / 1000.0,
        held,
        bytes
    );
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("mmap") => run::<Slab<u64, Mmap>>(),
        Some("heap") => run::<Slab<u64, Heap>>(),
        Some("slab") => run::<slab::Slab<u64>>(),
        _ => {
            println!(
                "{:<18} {:>12} {:>12} {:>12}",
                "one-entry slab", "make+drop", "held/slab", "memory_size"
            );
            let me = std::env::current_exe().expect("the path of this program");
            for which in ["mmap", "heap", "slab"] {
                let status = std::process::Command::new(&me).arg(which).status();
                assert!(status.is_ok_and(|s| s.success()), "{which} failed");
            }
        }
    }
}
