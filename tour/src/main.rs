//! `nexus-slab`: what this machine allows for pinned, huge-page slabs, then a slab on every
//! backing and what each one got — or why not, with the command that would enable it.
//!
//! Run it from a clone with `cargo run --release` (it needs none of the dev-dependencies, so it
//! builds in seconds), or install it with `cargo install nexus-slab`. `nexus-slab --report`
//! prints the machine report alone and allocates nothing.

use std::hint::black_box;
use std::time::Instant;

use nexus_slab::{
    backing::{Backing, Heap, HugePageSize, HugeTlb, Locked, Mmap},
    system::SystemInfo,
    Error, Key, Slab,
};

/// An order-book entry of a typical size: 64 bytes, one cache line.
#[derive(Clone, Copy)]
#[repr(align(64))]
#[allow(dead_code)]
struct Order {
    id: u64,
    price: i64,
    qty: u64,
    next: u64,
}

/// Orders per slab: 64 MiB of them (1 GiB pages round that up to 1 GiB).
const ORDERS: usize = 1 << 20;

const USAGE: &str = "\
usage: nexus-slab [--report]

Prints what this machine allows for nexus-slab's memory controls (page sizes, huge-page pools,
transparent huge pages, the memlock limit), each with the command that enables what is missing;
then allocates a slab of 64 MiB on every backing and prints what it got.

  --report    print the machine report only (allocates nothing)
  --help      print this text
  --version   print the version";

fn main() {
    let mut report_only = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--report" => report_only = true,
            "-h" | "--help" => return println!("{USAGE}"),
            "-V" | "--version" => return println!("nexus-slab {}", env!("CARGO_PKG_VERSION")),
            other => {
                eprintln!("nexus-slab: unknown argument `{other}`\n\n{USAGE}");
                std::process::exit(2);
            }
        }
    }
    let info = SystemInfo::probe();
    println!("== What this machine allows ==\n{info}");
    if report_only {
        return;
    }
    println!(
        "== A slab of {ORDERS} {}-byte orders on each backing ==",
        size_of::<Order>()
    );
    println!(
        "{:<16} {:>9} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7}",
        "backing", "capacity", "MiB", "B/slot", "locked", "huge", "faults", "insert", "get"
    );
    tour("Mmap", Mmap::new());
    tour("Mmap::lazy", Mmap::new().prefault(false));
    tour("Heap", Heap::new());
    tour("Locked<Mmap>", Locked::<Mmap>::default());
    tour("HugeTlb 2 MiB", HugeTlb::new(HugePageSize::SIZE_2M));
    tour("HugeTlb 1 GiB", HugeTlb::new(HugePageSize::SIZE_1G));
    tour(
        "Locked<HugeTlb>",
        Locked::new(HugeTlb::new(HugePageSize::SIZE_2M)),
    );
    println!(
        "\nMiB: memory_size; locked: MiB the kernel keeps locked (locked_bytes; hugetlb pages \
         are never\nswapped and never counted); huge: MiB on huge pages (page tables); \
         faults: minor page faults while\nfilling the fresh slab; insert: ns per insert into the \
         fresh slab; get: ns per lookup of a random\nkey over the whole slab, each independent \
         of the last (so lookups overlap), mostly cache misses."
    );
}

fn tour<B: Backing>(name: &str, backing: B) {
    let mut slab: Slab<Order, B> = Slab::new_in(backing);
    if let Err(e) = slab.alloc(ORDERS) {
        // The message says what is missing and, where the fix is outside the program, the
        // command that provides it.
        println!("{name:<16} not available: {e}");
        return;
    }
    let cap = slab.capacity();
    let order = Order {
        id: 0,
        price: 100,
        qty: 1,
        next: 0,
    };
    // Run the fill loop once on one value first, so its code is paged in: the faults counted
    // below are the slab's memory alone.
    fill(&mut slab, order, 1);
    slab.clear();
    let t = Instant::now(); // before counting: the first clock read faults in the vDSO page
    let faults0 = minor_faults();
    fill(&mut slab, order, cap);
    let insert_ns = t.elapsed().as_nanos() as f64 / cap as f64;
    let faults = match (faults0, minor_faults()) {
        (Some(before), Some(after)) => (after - before).to_string(),
        _ => "n/a".to_string(),
    };

    let t = Instant::now();
    let mut sum = 0u64;
    let mut x = 0x9e37_79b9_7f4a_7c15u64; // xorshift64*: independent random keys
    for _ in 0..cap {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let k = (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as usize % cap;
        sum = sum.wrapping_add(slab[Key::new_saturating(k)].id);
    }
    black_box(sum);
    let get_ns = t.elapsed().as_nanos() as f64 / cap as f64;

    let mib = |b: Result<usize, Error>| match b {
        Ok(b) => format!("{:.1}", b as f64 / (1 << 20) as f64),
        Err(_) => "n/a".to_string(),
    };
    println!(
        "{name:<16} {cap:>9} {:>7.1} {:>7.3} {:>7} {:>7} {faults:>7} {insert_ns:>6.1}n {get_ns:>6.1}n",
        slab.memory_size() as f64 / (1 << 20) as f64,
        slab.memory_size() as f64 / cap as f64,
        mib(slab.locked_bytes()),
        mib(slab.huge_page_bytes()),
    );
}

#[inline(never)]
fn fill<B: Backing>(slab: &mut Slab<Order, B>, order: Order, n: usize) {
    for i in 0..n as u64 {
        slab.insert(Order { id: i, ..order }).unwrap();
    }
}

/// Minor page faults of this thread so far (Linux), or of the process (other Unix systems);
/// `None` where there is no `getrusage`.
fn minor_faults() -> Option<i64> {
    #[cfg(unix)]
    {
        #[cfg(target_os = "linux")]
        let who = libc::RUSAGE_THREAD;
        #[cfg(not(target_os = "linux"))]
        let who = libc::RUSAGE_SELF;
        // SAFETY: `ru` is a valid out-pointer for getrusage.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        (unsafe { libc::getrusage(who, &mut ru) } == 0).then_some(ru.ru_minflt as i64)
    }
    #[cfg(not(unix))]
    {
        None
    }
}
