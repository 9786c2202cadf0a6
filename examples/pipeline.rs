//! Objects that cross threads: an order created on one pinned thread and retired on another,
//! timed per operation with the TSC, for a split nexus-slab against sharded-slab 0.1.7,
//! `Mutex<slab::Slab>` and a `Box` on mimalloc and on the system's malloc (glibc).
//!
//! ```text
//! cargo run --release --example pipeline                 # 1Mi orders per implementation
//! cargo run --release --example pipeline -- --n 4000000 --cpus 0,1 --runs 3 --per 8 --rt
//! ```
//!
//! Options: `--n` samples per run, `--runs` (medians of the runs' percentiles are printed),
//! `--cpus P,C` (producer and consumer CPUs), `--per K` (operations per timed sample, 1 to
//! 64: K in a row, timed together and divided by K, for a resolution finer than the TSC's
//! step), `--rt` (the two measured threads under `SCHED_FIFO`, when allowed).
//!
//! The producer (pinned to the first CPU) makes a 64-byte order, takes a slot for it — `lend`
//! from the [`Owner`], `insert` into sharded-slab, `lock().insert` into the mutex-guarded slab,
//! a `Box::new` (the allocator called directly, as a global allocator would be: mimalloc on
//! x86-64 Linux with glibc, and the system's) — and sends the handle (a `Lent`, the key, the
//! pointer) over a bounded single-producer ring to the consumer (pinned to the second CPU),
//! which reads the order and gives the slot back: a `FreeBatch` of 32, `RemoteFree::free` one
//! by one, sharded-slab's `remove`, `lock().remove`, the `Box`'s drop. Only the slab operation is inside the timed region
//! (`lfence; rdtsc` … `rdtscp; lfence`, after an untimed `mfence`, so that no sample pays for
//! the stores the previous iteration left in flight), one sample per operation; the cost of
//! the timing
//! itself (an empty timed region, measured the same way) is printed and subtracted from every
//! percentile (and from the mean, which includes what the rare slow samples cost: an
//! allocator that takes its returned blocks back in one long walk pays for them there). Each
//! implementation first runs 64Ki orders untimed (warm-up), then the
//! measured ones; over the measured window the example counts the process's minor page faults
//! (`getrusage`) and heap allocations (a counting global allocator): steady state means zero.
//!
//! Also: the owner's `insert` (single-thread API) against `Slab::insert`, each followed by an
//! untimed `remove`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::hint::black_box;
use std::mem::MaybeUninit;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;

use hdrhistogram::Histogram;
use nexus_slab::{
    split::{Lent, Owner},
    Slab,
};

#[path = "common/timing.rs"]
mod timing;
use timing::{calibrate, clock, pin};

// --- counting allocator -------------------------------------------------------------------

/// The system allocator, counting allocations (and reallocations) process-wide.
struct CountingAlloc;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is passed to `System`, which keeps the contract.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

// --- real time, faults (the clock and pinning: examples/common/timing.rs) -----------------

/// Whether the measured threads run under `SCHED_FIFO` (`--rt`).
static RT: AtomicUsize = AtomicUsize::new(0);

/// Switches this thread to `SCHED_FIFO` (no ordinary process preempts it; the kernel still
/// keeps 5 % of each second for them) or back to `SCHED_OTHER`, when `--rt` asked for it.
/// False when not allowed.
fn realtime(on: bool) -> bool {
    RT.load(Ordering::Relaxed) != 0 && timing::set_realtime(on)
}

fn minflt() -> i64 {
    // SAFETY: `getrusage` fills the zeroed struct we own.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru.ru_minflt
    }
}

// --- the ring between the threads ---------------------------------------------------------

/// A bounded single-producer single-consumer ring (power-of-two slots), the same for every
/// implementation: no allocation after `new`.
struct Ring<T> {
    slots: Box<[UnsafeCell<MaybeUninit<T>>]>,
    head: Padded<AtomicUsize>,
    tail: Padded<AtomicUsize>,
}

#[repr(align(128))]
struct Padded<T>(T);

// SAFETY: one producer writes a slot before publishing it with `tail` (release), one consumer
// reads it after seeing `tail` (acquire) and frees it with `head`; `T: Send` moves across.
unsafe impl<T: Send> Sync for Ring<T> {}

impl<T> Ring<T> {
    fn new(cap: usize) -> Self {
        assert!(cap.is_power_of_two());
        Ring {
            slots: (0..cap)
                .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
                .collect(),
            head: Padded(AtomicUsize::new(0)),
            tail: Padded(AtomicUsize::new(0)),
        }
    }

    fn push(&self, v: T) {
        let t = self.tail.0.load(Ordering::Relaxed);
        while t - self.head.0.load(Ordering::Acquire) == self.slots.len() {
            std::hint::spin_loop();
        }
        // SAFETY: slot `t` is free (the consumer moved past it) and only the producer writes.
        unsafe { (*self.slots[t & (self.slots.len() - 1)].get()).write(v) };
        self.tail.0.store(t + 1, Ordering::Release);
    }

    fn pop(&self) -> T {
        let h = self.head.0.load(Ordering::Relaxed);
        while self.tail.0.load(Ordering::Acquire) == h {
            std::hint::spin_loop();
        }
        // SAFETY: slot `h` was published by the producer and is read once.
        let v = unsafe { (*self.slots[h & (self.slots.len() - 1)].get()).assume_init_read() };
        self.head.0.store(h + 1, Ordering::Release);
        v
    }
}

// --- the measured pipeline ----------------------------------------------------------------

/// A 64-byte order.
#[derive(Clone, Copy)]
#[allow(dead_code)]
struct Order {
    id: u64,
    price: i64,
    qty: u64,
    rest: [u64; 5],
}

impl Order {
    fn new(id: u64) -> Self {
        Order {
            id,
            price: id as i64 * 3,
            qty: 100,
            rest: [id; 5],
        }
    }
}

const WARMUP: usize = 1 << 16;
const RING: usize = 1024;
/// Slots of every slab: the ring's worth in flight, the batch, and room.
const SLOTS: usize = 4 * RING;

/// What a side of the pipeline shares with the other and with the main thread.
struct Side<H> {
    ring: Arc<Ring<H>>,
    start: Arc<Barrier>,
    done: Arc<Barrier>,
}

/// Operations per timed sample (`--per`, default 1): a sample times that many operations in
/// a row, and counts as their average.
static PER: AtomicUsize = AtomicUsize::new(1);

/// The producer's loop: `make` takes a slot for an order; samples of `PER` calls are timed,
/// then their handles are sent. The warm-up runs the very same code (every buffer and stack
/// page the measured loop touches is touched before it), its samples not recorded.
fn produce<H>(side: Side<H>, out: &mut [u64], mut make: impl FnMut(Order) -> H) {
    let per = PER.load(Ordering::Relaxed);
    let warm = WARMUP / per;
    let mut handles: Vec<H> = Vec::with_capacity(per);
    let mut orders = [Order::new(0); 64];
    let mut id = 0u64;
    let mut scratch = 0u64;
    for s in 0..warm + out.len() {
        if s == warm {
            side.start.wait();
        }
        // Only the orders of this sample are written before the clock starts (a few stores:
        // a full store buffer would hold the timed stores back).
        for (j, o) in orders[..per].iter_mut().enumerate() {
            *o = Order::new(id + j as u64);
        }
        // Every sample starts with the store buffer empty (untimed): no sample pays for the
        // stores the previous iteration left in flight (the ring's, to lines the other core
        // reads), whichever implementation it times.
        std::sync::atomic::fence(Ordering::SeqCst);
        let t0 = clock::start();
        for o in &orders[..per] {
            handles.push(make(*o));
        }
        let ticks = clock::end() - t0;
        *out.get_mut(s.wrapping_sub(warm)).unwrap_or(&mut scratch) = ticks;
        id += per as u64;
        for h in handles.drain(..) {
            side.ring.push(h);
        }
    }
    side.done.wait();
}

/// The consumer's loop: `retire` reads the order and gives the slot back; samples of `PER`
/// calls are timed (the handles are received first, outside the timed region). Warm-up as
/// for `produce`.
fn consume<H>(side: Side<H>, out: &mut [u64], mut retire: impl FnMut(H)) {
    let per = PER.load(Ordering::Relaxed);
    let warm = WARMUP / per;
    let mut handles: Vec<H> = Vec::with_capacity(per);
    let mut scratch = 0u64;
    for s in 0..warm + out.len() {
        if s == warm {
            side.start.wait();
        }
        handles.extend((0..per).map(|_| side.ring.pop()));
        // As in `produce`: the store buffer is drained before the clock starts.
        std::sync::atomic::fence(Ordering::SeqCst);
        let t0 = clock::start();
        for h in handles.drain(..) {
            retire(h);
        }
        let ticks = clock::end() - t0;
        *out.get_mut(s.wrapping_sub(warm)).unwrap_or(&mut scratch) = ticks;
    }
    side.done.wait();
}

struct Run {
    make: Vec<u64>,
    retire: Vec<u64>,
    faults: i64,
    allocs: u64,
}

/// Runs one pipeline: `producer` and `consumer` are the two threads' bodies (pinned), each
/// filling its tick buffer (allocated and touched before).
fn run<H: Send + 'static>(
    n: usize,
    cpus: (usize, usize),
    producer: impl FnOnce(Side<H>, &mut [u64]) + Send + 'static,
    consumer: impl FnOnce(Side<H>, &mut [u64]) + Send + 'static,
) -> Run {
    let ring = Arc::new(Ring::<H>::new(RING));
    let start = Arc::new(Barrier::new(3));
    let done = Arc::new(Barrier::new(3));
    let side = || Side {
        ring: ring.clone(),
        start: start.clone(),
        done: done.clone(),
    };
    let (ps, cs) = (side(), side());
    let c = thread::spawn(move || {
        pin(cpus.1);
        let mut out = vec![1u64; n];
        realtime(true);
        consumer(cs, &mut out);
        realtime(false);
        out
    });
    let p = thread::spawn(move || {
        pin(cpus.0);
        let mut out = vec![1u64; n];
        realtime(true);
        producer(ps, &mut out);
        realtime(false);
        out
    });
    start.wait();
    let (f0, a0) = (minflt(), ALLOCS.load(Ordering::Relaxed));
    done.wait();
    let (f1, a1) = (minflt(), ALLOCS.load(Ordering::Relaxed));
    Run {
        make: p.join().unwrap(),
        retire: c.join().unwrap(),
        faults: f1 - f0,
        allocs: a1 - a0,
    }
}

/// `Owner::lend`, waiting for the consumer when every slot is in flight (never with these
/// sizes: the ring holds a quarter of the slots).
#[inline]
fn lend(owner: &mut Owner<Order>, mut order: Order) -> Lent<Order> {
    loop {
        match owner.lend(order) {
            Ok(lent) => return lent,
            Err(full) => order = full.into_inner(),
        }
    }
}

/// A split nexus-slab; the consumer hands slots back in batches of `batch` (1: one by one
/// with `RemoteFree::free`).
fn nexus(n: usize, cpus: (usize, usize), batch: usize) -> Run {
    let slab: Slab<Order> = Slab::with_capacity(SLOTS);
    let (mut owner, remote) = slab.split();
    run(
        n,
        cpus,
        move |side, out| produce(side, out, |o| lend(&mut owner, o)),
        move |side, out| {
            if batch == 1 {
                consume(side, out, |lent: Lent<Order>| {
                    black_box(lent.id);
                    remote.free(lent);
                });
            } else {
                let mut b = remote.batch();
                consume(side, out, |lent: Lent<Order>| {
                    black_box(lent.id);
                    b.free(lent);
                    if b.len() == batch {
                        b.flush();
                    }
                });
            }
        },
    )
}

/// The floor: no slab at all, the order itself goes over the ring (what an empty timed region
/// costs in this setting, next to the other thread).
fn floor(n: usize, cpus: (usize, usize)) -> Run {
    run(
        n,
        cpus,
        move |side, out| produce(side, out, black_box),
        move |side, out| {
            consume(side, out, |o: Order| {
                black_box(o.id);
            })
        },
    )
}

/// `SLOTS` orders in a fixed array, used round-robin: no bookkeeping at all, just the order
/// written where the other thread reads it (and read it last time round). What moving 64 bytes
/// between the two cores costs by itself: the floor under every slab here.
struct Arena(Box<[UnsafeCell<Order>]>);

// SAFETY: slot `i` is written by the producer and then read by the consumer after the ring
// handed it over (release/acquire); the producer writes it again only `SLOTS` orders later,
// after the ring's `head` (released by the consumer after its read) let it push `RING < SLOTS`
// more handles.
unsafe impl Sync for Arena {}

fn arena(n: usize, cpus: (usize, usize)) -> Run {
    let slots = Arc::new(Arena(
        (0..SLOTS).map(|_| UnsafeCell::new(Order::new(0))).collect(),
    ));
    let theirs = slots.clone();
    let mut next = 0usize;
    run(
        n,
        cpus,
        move |side, out| {
            produce(side, out, |o| {
                let i = next;
                next = (next + 1) % SLOTS;
                // SAFETY: see `Arena`: the consumer is done with slot `i`.
                unsafe { *slots.0[i].get() = o };
                i
            })
        },
        move |side, out| {
            consume(side, out, |i: usize| {
                // SAFETY: see `Arena`: the producer wrote slot `i` before the ring handed it.
                black_box(unsafe { (*theirs.0[i].get()).id });
            })
        },
    )
}

/// sharded-slab 0.1.7: `insert` on the producer, `remove` (a remote free) on the consumer.
fn sharded(n: usize, cpus: (usize, usize)) -> Run {
    let slab = Arc::new(sharded_slab::Slab::<Order>::new());
    let theirs = slab.clone();
    run(
        n,
        cpus,
        move |side, out| {
            produce(side, out, |o| {
                slab.insert(o).expect("sharded-slab has room")
            })
        },
        move |side, out| {
            consume(side, out, |key: usize| {
                assert!(theirs.remove(key));
            })
        },
    )
}

/// `Mutex<slab::Slab>`: `lock().insert` on the producer, `lock().remove` on the consumer.
fn mutex(n: usize, cpus: (usize, usize)) -> Run {
    let slab = Arc::new(Mutex::new(slab::Slab::<Order>::with_capacity(SLOTS)));
    let theirs = slab.clone();
    run(
        n,
        cpus,
        move |side, out| produce(side, out, |o| slab.lock().unwrap().insert(o)),
        move |side, out| {
            consume(side, out, |key: usize| {
                black_box(theirs.lock().unwrap().remove(key).id);
            })
        },
    )
}

/// A pointer to an order, sent to the consumer (who frees it).
struct Sent(NonNull<Order>);

// SAFETY: the order is plain data, owned by whichever thread holds the pointer.
unsafe impl Send for Sent {}

/// `Box::new` / drop through `alloc`, called directly as `Box` calls the global allocator: the
/// order allocated and written on the producer, read and freed on the consumer.
fn boxed<A: GlobalAlloc + Sync>(n: usize, cpus: (usize, usize), alloc: &'static A) -> Run {
    let layout = Layout::new::<Order>();
    run(
        n,
        cpus,
        move |side, out| {
            produce(side, out, |o| {
                // SAFETY: `Order` has a non-zero size.
                let p = unsafe { alloc.alloc(layout) }.cast::<Order>();
                let Some(p) = NonNull::new(p) else {
                    std::alloc::handle_alloc_error(layout)
                };
                // SAFETY: a fresh allocation of an `Order`'s layout.
                unsafe { p.as_ptr().write(o) };
                Sent(p)
            })
        },
        move |side, out| {
            consume(side, out, |p: Sent| {
                // SAFETY: written by the producer before the ring handed it over; freed once,
                // with the layout it was allocated with.
                unsafe {
                    black_box((*p.0.as_ptr()).id);
                    alloc.dealloc(p.0.as_ptr().cast(), layout);
                }
            })
        },
    )
}

#[cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
static MIMALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Stats {
    mean: f64,
    p50: f64,
    p99: f64,
    p999: f64,
}

/// Percentiles in ticks, net of the timer's own p50.
fn stats(ticks: &[u64], timer: f64) -> Stats {
    let mut h = Histogram::<u64>::new(3).expect("3 significant figures is valid");
    for &t in ticks {
        h.record(t.max(1)).expect("auto-resizing histogram");
    }
    let per = PER.load(Ordering::Relaxed) as f64;
    let net = |q: f64| (h.value_at_quantile(q) as f64 - timer).max(0.0) / per;
    let mean = ticks.iter().map(|&t| t as f64).sum::<f64>() / ticks.len() as f64;
    Stats {
        mean: (mean - timer).max(0.0) / per,
        p50: net(0.5),
        p99: net(0.99),
        p999: net(0.999),
    }
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1).cloned()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

struct Row {
    name: &'static str,
    op: &'static str,
    mean: Vec<f64>,
    p50: Vec<f64>,
    p99: Vec<f64>,
    p999: Vec<f64>,
    faults: i64,
    allocs: u64,
}

fn record(rows: &mut Vec<Row>, name: &'static str, op: &'static str, s: Stats, f: i64, a: u64) {
    if let Some(r) = rows.iter_mut().find(|r| r.name == name && r.op == op) {
        r.mean.push(s.mean);
        r.p50.push(s.p50);
        r.p99.push(s.p99);
        r.p999.push(s.p999);
        r.faults += f;
        r.allocs += a;
    } else {
        rows.push(Row {
            name,
            op,
            mean: vec![s.mean],
            p50: vec![s.p50],
            p99: vec![s.p99],
            p999: vec![s.p999],
            faults: f,
            allocs: a,
        });
    }
}

fn pipeline(rows: &mut Vec<Row>, name: &'static str, ops: [&'static str; 2], r: Run, timer: f64) {
    let (mk, rt) = (stats(&r.make, timer), stats(&r.retire, timer));
    record(rows, name, ops[0], mk, r.faults, r.allocs);
    record(rows, name, ops[1], rt, 0, 0);
}

/// `PER` inserts (timed) then their removes (untimed), `n` times: per-insert samples. The
/// slab is reached through `#[inline(never)]` functions, the same way for both kinds.
fn insert_ticks<S>(
    n: usize,
    s: &mut S,
    insert: fn(&mut S, Order) -> nexus_slab::Key,
    remove: fn(&mut S, nexus_slab::Key) -> Option<Order>,
) -> Vec<u64> {
    let per = PER.load(Ordering::Relaxed);
    let mut ticks = vec![0u64; n];
    let mut keys = [nexus_slab::Key::new_saturating(0); 64];
    for (i, t) in ticks.iter_mut().enumerate() {
        let t0 = clock::start();
        for (j, k) in keys[..per].iter_mut().enumerate() {
            *k = insert(s, Order::new((i + j) as u64));
        }
        *t = clock::end() - t0;
        for &k in &keys[..per] {
            black_box(remove(s, k));
        }
    }
    ticks
}

#[inline(never)]
fn slab_insert(s: &mut Slab<Order>, o: Order) -> nexus_slab::Key {
    let Ok(k) = s.insert(o) else {
        panic!("the slab has room")
    };
    k
}

#[inline(never)]
fn slab_remove(s: &mut Slab<Order>, k: nexus_slab::Key) -> Option<Order> {
    s.remove(k)
}

#[inline(never)]
fn owner_insert(s: &mut Owner<Order>, o: Order) -> nexus_slab::Key {
    let Ok(k) = s.insert(o) else {
        panic!("the slab has room")
    };
    k
}

#[inline(never)]
fn owner_remove(s: &mut Owner<Order>, k: nexus_slab::Key) -> Option<Order> {
    s.remove(k)
}

/// Single-thread insert (timed, `PER` at a time) + remove (untimed): `Owner::insert` against
/// `Slab::insert`, in alternating order from run to run.
fn single_thread(rows: &mut Vec<Row>, n: usize, cpu: usize, timer: f64, run: usize) {
    pin(cpu);
    realtime(true);
    for side in [run % 2, 1 - run % 2] {
        if side == 0 {
            let mut slab: Slab<Order> = Slab::with_capacity(SLOTS);
            let ticks = insert_ticks(n, &mut slab, slab_insert, slab_remove);
            record(
                rows,
                "nexus-slab Slab",
                "insert",
                stats(&ticks, timer),
                0,
                0,
            );
        } else {
            let (mut owner, _remote) = Slab::<Order>::with_capacity(SLOTS).split();
            let ticks = insert_ticks(n, &mut owner, owner_insert, owner_remove);
            record(
                rows,
                "nexus-slab Owner",
                "insert",
                stats(&ticks, timer),
                0,
                0,
            );
        }
    }
    // The lend itself, with no other thread: `PER` lends from a slab whose slots are all in
    // this core's cache (timed), then their values handed back and taken back (untimed).
    let (mut owner, remote) = Slab::<Order>::with_capacity(SLOTS).split();
    let per = PER.load(Ordering::Relaxed);
    let mut ticks = vec![0u64; n];
    let mut lent: Vec<Lent<Order>> = Vec::with_capacity(64);
    let mut orders = [Order::new(0); 64];
    for (i, t) in ticks.iter_mut().enumerate() {
        for (j, o) in orders[..per].iter_mut().enumerate() {
            *o = Order::new((i + j) as u64);
        }
        std::sync::atomic::fence(Ordering::SeqCst);
        let t0 = clock::start();
        for o in &orders[..per] {
            lent.push(lend(&mut owner, *o));
        }
        *t = clock::end() - t0;
        remote.free_all(lent.drain(..));
    }
    record(
        rows,
        "nexus-slab Owner, alone",
        "lend",
        stats(&ticks, timer),
        0,
        0,
    );
    realtime(false);
}

fn main() {
    let n: usize = arg("--n").and_then(|s| s.parse().ok()).unwrap_or(1 << 20);
    let runs: usize = arg("--runs").and_then(|s| s.parse().ok()).unwrap_or(1);
    let cpus = arg("--cpus")
        .and_then(|s| {
            let (a, b) = s.split_once(',')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .unwrap_or((0, 1));
    let per: usize = arg("--per").and_then(|s| s.parse().ok()).unwrap_or(1);
    assert!((1..=64).contains(&per), "--per is 1..=64");
    PER.store(per, Ordering::Relaxed);
    if std::env::args().any(|a| a == "--rt") {
        RT.store(1, Ordering::Relaxed);
    }
    let rt = realtime(true) && realtime(false);
    let per_ns = calibrate();
    // The timer's own cost: an empty timed region, the same way.
    pin(cpus.0);
    let mut empty = vec![0u64; 1 << 18];
    for t in &mut empty {
        let t0 = clock::start();
        *t = clock::end() - t0;
    }
    PER.store(1, Ordering::Relaxed);
    let timer = stats(&empty, 0.0);
    PER.store(per, Ordering::Relaxed);
    println!(
        "TSC {:.4} ticks/ns; producer on CPU {}, consumer on CPU {}; {n} orders of {} bytes \
         per run after {WARMUP} warm-up, {per} operation(s) per timed sample, {runs} run(s), \
         medians of the runs' percentiles; SCHED_FIFO: {rt}",
        per_ns,
        cpus.0,
        cpus.1,
        std::mem::size_of::<Order>()
    );
    println!(
        "timer (empty lfence;rdtsc..rdtscp;lfence): p50 {:.0} ticks, p99 {:.0} ticks; its p50 \
         is subtracted from each sample's percentiles before dividing by {per}\n",
        timer.p50, timer.p99
    );
    let timer = timer.p50;
    let mut rows = Vec::new();
    for run in 0..runs {
        let r = floor(n, cpus);
        pipeline(
            &mut rows,
            "(no slab: the order itself)",
            ["make", "read"],
            r,
            timer,
        );
        let r = arena(n, cpus);
        pipeline(
            &mut rows,
            "(no slab: round-robin array)",
            ["write", "read"],
            r,
            timer,
        );
        let r = nexus(n, cpus, 32);
        pipeline(
            &mut rows,
            "nexus-slab split, batch 32",
            ["lend", "free (batched)"],
            r,
            timer,
        );
        let r = nexus(n, cpus, 1);
        pipeline(&mut rows, "nexus-slab split", ["lend", "free"], r, timer);
        let r = sharded(n, cpus);
        pipeline(
            &mut rows,
            "sharded-slab 0.1.7",
            ["insert", "remove"],
            r,
            timer,
        );
        let r = mutex(n, cpus);
        pipeline(
            &mut rows,
            "Mutex<slab::Slab>",
            ["insert", "remove"],
            r,
            timer,
        );
        #[cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
        {
            let r = boxed(n, cpus, &MIMALLOC);
            pipeline(&mut rows, "Box, mimalloc", ["Box::new", "drop"], r, timer);
        }
        let r = boxed(n, cpus, &System);
        pipeline(
            &mut rows,
            "Box, system malloc",
            ["Box::new", "drop"],
            r,
            timer,
        );
        single_thread(&mut rows, n, cpus.0, timer, run);
    }
    println!(
        "{:<28} {:<16} {:>8} {:>8} {:>8} {:>9} {:>8} {:>8} {:>8} {:>8} {:>7} {:>7}",
        "implementation",
        "op (per op)",
        "mean tk",
        "p50 tk",
        "p99 tk",
        "p99.9 tk",
        "mean ns",
        "p50 ns",
        "p99 ns",
        "p99.9 ns",
        "faults",
        "allocs"
    );
    for r in &rows {
        let (mean, p50, p99, p999) = (
            median(r.mean.clone()),
            median(r.p50.clone()),
            median(r.p99.clone()),
            median(r.p999.clone()),
        );
        let pipe = !r.name.ends_with("Slab") && !r.name.contains("Owner");
        let (faults, allocs) = if pipe && (r.op == "lend" || r.op == "insert") {
            (r.faults.to_string(), r.allocs.to_string())
        } else {
            ("".into(), "".into())
        };
        println!(
            "{:<28} {:<16} {:>8.0} {:>8.0} {:>8.0} {:>9.0} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>7} {:>7}",
            r.name,
            r.op,
            mean,
            p50,
            p99,
            p999,
            mean / per_ns,
            p50 / per_ns,
            p99 / per_ns,
            p999 / per_ns,
            faults,
            allocs
        );
    }
    println!(
        "\nfaults, allocs: minor page faults and heap allocations of the whole process over \
         the measured window of each pipeline (both threads), all runs (the `Box` rows call \
         their allocator directly, past the count: one allocation per order)"
    );
}
