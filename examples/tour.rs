//! A tour of nexus-slab on this machine: a slab on every backing, what it costs and does.
//!
//! Run with `cargo run --release --example tour`.

use std::hint::black_box;
use std::time::Instant;

use nexus_slab::{Backing, Heap, Key, Mmap, Slab};

/// An order-book entry of a typical size (64 bytes, one cache line).
#[derive(Clone, Copy)]
#[allow(dead_code)]
struct Order {
    id: u64,
    price: i64,
    qty: u64,
    next: u64,
    pad: [u64; 4],
}

const N: usize = 1 << 20;

fn tour<B: Backing>(name: &str, backing: B) {
    let mut slab: Slab<Order, B> = Slab::new_in(backing);
    let t = Instant::now();
    if let Err(e) = slab.alloc(N) {
        println!("{name:<10} not available: {e}");
        return;
    }
    let alloc_ms = t.elapsed().as_secs_f64() * 1e3;
    let order = Order {
        id: 0,
        price: 100,
        qty: 1,
        next: 0,
        pad: [0; 4],
    };
    let t = Instant::now();
    for i in 0..N as u64 {
        slab.insert(Order { id: i, ..order }).unwrap();
    }
    let insert_ns = t.elapsed().as_nanos() as f64 / N as f64;
    let t = Instant::now();
    let mut sum = 0u64;
    let mut k = 12345usize;
    for _ in 0..N {
        k = (k
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407))
            % N;
        sum = sum.wrapping_add(slab[Key::new(k)].id);
    }
    black_box(sum);
    let get_ns = t.elapsed().as_nanos() as f64 / N as f64;
    println!(
        "{name:<10} capacity {:>9}  memory {:>6.1} MiB  {:>6.3} B/slot  alloc {alloc_ms:>6.1} ms  \
         insert {insert_ns:>5.1} ns  random get {get_ns:>5.1} ns",
        slab.capacity(),
        slab.memory_size() as f64 / (1 << 20) as f64,
        slab.memory_size() as f64 / slab.capacity() as f64,
    );
}

fn main() {
    println!(
        "nexus-slab tour: {N} orders of {} bytes on each backing\n",
        size_of::<Order>()
    );
    tour("Mmap", Mmap::new());
    tour("Heap", Heap::new());
}
