//! A tour of nexus-slab on this machine: what it allows, then a slab on every backing and what
//! each one got — or why not, and the command that would enable it.
//!
//! Run with `cargo run --release --example tour`.

use std::hint::black_box;
use std::time::Instant;

use nexus_slab::{
    Backing, Error, Heap, HugePageSize, HugeTlb, Key, Locked, Mmap, Slab, SystemInfo,
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

fn main() {
    let info = SystemInfo::probe();
    println!("== What this machine allows ==\n{info}");
    println!(
        "== A slab of {ORDERS} {}-byte orders on each backing ==",
        size_of::<Order>()
    );
    println!(
        "{:<22} {:>9} {:>9} {:>8} {:>9} {:>9} {:>7} {:>8} {:>8}",
        "backing", "capacity", "MiB", "B/slot", "locked", "huge", "faults", "insert", "get"
    );
    tour("Mmap", Mmap::new(), &info);
    tour("Mmap::lazy", Mmap::lazy(), &info);
    tour("Heap", Heap::new(), &info);
    tour("Locked<Mmap>", Locked::<Mmap>::default(), &info);
    tour("HugeTlb 2 MiB", HugeTlb::new(HugePageSize::Size2M), &info);
    tour("HugeTlb 1 GiB", HugeTlb::new(HugePageSize::Size1G), &info);
    tour(
        "Locked<HugeTlb>",
        Locked::new(HugeTlb::new(HugePageSize::Size2M)),
        &info,
    );
    println!(
        "\nMiB: memory_size; locked: MiB the kernel counts as locked (smaps `Locked:`; hugetlb \
         pages are never\nswapped and never counted); huge: MiB on huge pages (page tables); \
         faults: minor page faults while\nfilling the fresh slab; insert, get: ns per \
         operation (random keys for get)."
    );
}

fn tour<B: Backing>(name: &str, backing: B, info: &SystemInfo) {
    let mut slab: Slab<Order, B> = Slab::new_in(backing);
    if let Err(e) = slab.alloc(ORDERS) {
        println!("{name:<22} not available: {e}");
        if let Some(fix) = fix_for(&e, info) {
            println!("{:<22} to enable: {fix}", "");
        }
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
    let faults = minor_faults() - faults0;

    let t = Instant::now();
    let mut sum = 0u64;
    let mut x = 0x9e37_79b9_7f4a_7c15u64; // xorshift64*: independent random keys
    for _ in 0..cap {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let k = (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as usize % cap;
        sum = sum.wrapping_add(slab[Key::new(k)].id);
    }
    black_box(sum);
    let get_ns = t.elapsed().as_nanos() as f64 / cap as f64;

    let mib = |b: Result<usize, Error>| match b {
        Ok(b) => format!("{:.1}", b as f64 / (1 << 20) as f64),
        Err(_) => "n/a".to_string(),
    };
    println!(
        "{name:<22} {cap:>9} {:>9.1} {:>8.3} {:>9} {:>9} {faults:>7} {insert_ns:>7.1}n {get_ns:>7.1}n",
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

/// The command that would make a failed backing work here.
fn fix_for(e: &Error, info: &SystemInfo) -> Option<String> {
    match e {
        Error::HugePagesUnavailable { fix, .. } => Some(format!("as root: {fix}")),
        Error::MemlockLimit { .. } => Some(format!(
            "`ulimit -l unlimited` (now {}), or grant CAP_IPC_LOCK",
            info.memlock_limit
        )),
        Error::Unsupported { .. } if info.pool(1 << 30).is_none() => {
            Some("1 GiB pages need a CPU with pdpe1gb and hugepagesz=1G support".into())
        }
        _ => None,
    }
}

/// Minor page faults of this thread so far (Linux), or of the process elsewhere.
fn minor_faults() -> i64 {
    #[cfg(target_os = "linux")]
    let who = libc::RUSAGE_THREAD;
    #[cfg(not(target_os = "linux"))]
    let who = libc::RUSAGE_SELF;
    // SAFETY: `ru` is a valid out-pointer for getrusage.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::getrusage(who, &mut ru) };
    ru.ru_minflt as i64
}
