//! Per-operation latency (p50 / p99 / p99.9 / max) of insert, get, remove and churn, on every
//! nexus-slab backing and on the `slab` crate and nexus-slab 0.1.2, with the minor page faults
//! taken while measuring.
//!
//! ```text
//! cargo run --release --example latency                    # 1Mi ops of each kind, ~20 s
//! cargo run --release --example latency -- --churn 10000000   # the 10M-op churn run
//! ```
//!
//! Options: `--n SLOTS` (default 1Mi 64-byte values), `--churn OPS` (default 1Mi),
//! `--cpu N` (pin to that CPU; default the last one).
//!
//! Operations are timed in batches of 16 with `lfence; rdtsc` … `rdtscp; lfence` (the TSC,
//! calibrated against `Instant`; `Instant` itself off x86_64), and a batch's time divided by 16
//! is one sample, so a percentile is "per operation, averaged over 16 in a row". Minor faults
//! (`getrusage(RUSAGE_SELF).ru_minflt`), context switches and this CPU's timer interrupts
//! (`LOC` in `/proc/interrupts`) are counted over the measured loop only; every buffer the
//! loop writes is allocated and touched before it starts. Slabs that can be locked are
//! locked (`mlock`) before the get, remove and churn phases.

#[path = "../benches/common/mod.rs"]
mod common;
#[path = "common/timing.rs"]
mod timing;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::{Churn, Impl, Node, Rng, SlabLike};
use hdrhistogram::Histogram;
use timing::{calibrate, clock, pin, set_realtime as realtime};

/// Operations per timed batch.
const BATCH: usize = 16;

// --- process counters ---------------------------------------------------------------------

#[derive(Clone, Copy, Default)]
struct Counters {
    minflt: i64,
    csw: i64,
    timer_irqs: u64,
    /// Time the hypervisor ran something else on this vCPU (`steal` in `/proc/stat`), ticks
    /// of `USER_HZ`.
    steal: u64,
}

fn minflt_and_csw() -> (i64, i64) {
    // SAFETY: `getrusage` fills the zeroed struct we own.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    (ru.ru_minflt, ru.ru_nvcsw + ru.ru_nivcsw)
}

/// Counters at the start of a window: the `/proc` files are read (allocating, perhaps
/// faulting) before `getrusage`, so that their own faults stay outside the window.
fn counters_begin(cpu: usize) -> Counters {
    let (timer_irqs, steal) = (local_timer_irqs(cpu), steal_ticks(cpu));
    let (minflt, csw) = minflt_and_csw();
    Counters {
        minflt,
        csw,
        timer_irqs,
        steal,
    }
}

/// Counters at the end of a window: `getrusage` first, then the `/proc` files.
fn counters_end(cpu: usize) -> Counters {
    let (minflt, csw) = minflt_and_csw();
    Counters {
        minflt,
        csw,
        timer_irqs: local_timer_irqs(cpu),
        steal: steal_ticks(cpu),
    }
}

impl std::ops::Add for Counters {
    type Output = Counters;
    fn add(self, o: Counters) -> Counters {
        Counters {
            minflt: self.minflt + o.minflt,
            csw: self.csw + o.csw,
            timer_irqs: self.timer_irqs + o.timer_irqs,
            steal: self.steal + o.steal,
        }
    }
}

impl std::ops::Sub for Counters {
    type Output = Counters;
    fn sub(self, o: Counters) -> Counters {
        Counters {
            minflt: self.minflt - o.minflt,
            csw: self.csw - o.csw,
            timer_irqs: self.timer_irqs.wrapping_sub(o.timer_irqs),
            steal: self.steal.wrapping_sub(o.steal),
        }
    }
}

/// Local timer interrupts taken so far by `cpu` (`LOC` in `/proc/interrupts`), 0 if unknown.
fn local_timer_irqs(cpu: usize) -> u64 {
    let s = std::fs::read_to_string("/proc/interrupts").unwrap_or_default();
    s.lines()
        .find_map(|l| l.trim_start().strip_prefix("LOC:"))
        .and_then(|rest| rest.split_whitespace().nth(cpu)?.parse().ok())
        .unwrap_or(0)
}

/// Steal time of `cpu` so far (`/proc/stat`, 8th value of its line), 0 if unknown.
fn steal_ticks(cpu: usize) -> u64 {
    let s = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let tag = format!("cpu{cpu} ");
    s.lines()
        .find_map(|l| l.strip_prefix(&tag))
        .and_then(|rest| rest.split_whitespace().nth(7)?.parse().ok())
        .unwrap_or(0)
}

// --- measuring ----------------------------------------------------------------------------

/// One phase's raw batch times (ticks) and the counters over it.
struct Phase {
    ticks: Vec<u64>,
    counters: Counters,
    elapsed: Duration,
}

/// Batches per measured chunk: about 20 ms of work, well inside the kernel's real-time budget
/// (95% of each second), with a 2 ms sleep between chunks, so `SCHED_FIFO` is never throttled.
const CHUNK: usize = 16 << 10;

/// Times `batches` calls of `batch(i)`, each doing `BATCH` operations. With `rt`, the loop runs
/// under `SCHED_FIFO`, in chunks; the counters cover the chunks only.
#[inline(never)]
fn measure(batches: usize, cpu: usize, rt: bool, mut batch: impl FnMut(usize)) -> Phase {
    let mut ticks: Vec<u64> = Vec::with_capacity(batches);
    ticks.resize(batches, 1); // touched now: no fault in the loop
    let mut counted = Counters::default();
    let mut elapsed = Duration::ZERO;
    for (c, chunk) in ticks.chunks_mut(CHUNK).enumerate() {
        if rt {
            std::thread::sleep(Duration::from_millis(2));
            realtime(true);
        }
        let t0 = Instant::now();
        let c0 = counters_begin(cpu);
        for (j, t) in chunk.iter_mut().enumerate() {
            let s = clock::start();
            batch(c * CHUNK + j);
            *t = clock::end() - s;
        }
        let c1 = counters_end(cpu);
        elapsed += t0.elapsed();
        counted = counted + (c1 - c0);
        if rt {
            realtime(false);
        }
    }
    Phase {
        ticks,
        counters: counted,
        elapsed,
    }
}

struct Row {
    name: String,
    op: &'static str,
    p50: f64,
    p99: f64,
    p999: f64,
    max: f64,
    locked: bool,
    /// Worst batches: (ns for the whole batch, index).
    worst: Vec<(f64, usize)>,
    /// Batches at least 1 µs slower than the median batch.
    slow: usize,
    batches: usize,
    counters: Counters,
    elapsed: Duration,
}

fn summarize(name: &str, op: &'static str, p: &Phase, per_ns: f64, locked: bool) -> Row {
    let mut h = Histogram::<u64>::new(3).expect("3 significant figures is valid");
    for &t in &p.ticks {
        h.record(t.max(1)).expect("auto-resizing histogram");
    }
    let per_op = |ticks: u64| ticks as f64 / per_ns / BATCH as f64;
    let median_batch = h.value_at_quantile(0.5) as f64 / per_ns;
    let mut worst: Vec<(f64, usize)> = p
        .ticks
        .iter()
        .enumerate()
        .map(|(i, &t)| (t as f64 / per_ns, i))
        .collect();
    worst.sort_by(|a, b| b.0.total_cmp(&a.0));
    let slow = worst
        .iter()
        .take_while(|w| w.0 > median_batch + 1000.0)
        .count();
    worst.truncate(5);
    Row {
        name: name.to_string(),
        op,
        p50: per_op(h.value_at_quantile(0.5)),
        p99: per_op(h.value_at_quantile(0.99)),
        p999: per_op(h.value_at_quantile(0.999)),
        max: per_op(h.max()),
        locked,
        worst,
        slow,
        batches: p.ticks.len(),
        counters: p.counters,
        elapsed: p.elapsed,
    }
}

struct Config {
    n: usize,
    churn_ops: usize,
    cpu: usize,
    per_ns: f64,
    rt: bool,
}

fn run<I: Impl>(cfg: &Config, rows: &mut Vec<Row>) {
    let name = I::name();
    let n = cfg.n - cfg.n % BATCH;
    let Some(mut s) = <I::Slab<Node> as SlabLike<Node>>::with_capacity(n) else {
        println!("{name}: unavailable here, skipped");
        return;
    };
    let mut rng = Rng::new(11);
    let (cpu, rt) = (cfg.cpu, cfg.rt);

    // insert: fill the fresh slab (prefaulted for ours and 0.1.2; the slab crate's Vec is
    // reserved but not touched).
    // Written now (not calloc's lazy zero pages), so no fault of ours lands in the timed loop.
    let mut inserted = vec![usize::MAX; n];
    let p = measure(n / BATCH, cpu, rt, |b| {
        for (i, slot) in inserted.iter_mut().enumerate().skip(b * BATCH).take(BATCH) {
            *slot = s.insert(Node::new(i as u64));
        }
    });
    rows.push(summarize(&name, "insert", &p, cfg.per_ns, false));

    let locked = s.lock().is_ok();

    // get: independent random keys over the full slab.
    // (Keys as each slab handed them out: a generational key is more than its index.)
    let keys: Vec<usize> = (0..n).map(|_| inserted[rng.below(n)]).collect();
    let p = measure(n / BATCH, cpu, rt, |b| {
        let mut sum = 0u64;
        for &k in &keys[b * BATCH..(b + 1) * BATCH] {
            sum = sum.wrapping_add(s.get(k).map_or(0, |v| v.next));
        }
        black_box(sum);
    });
    rows.push(summarize(&name, "get", &p, cfg.per_ns, locked));

    // remove: every key, in random order.
    let mut order = inserted;
    rng.shuffle(&mut order);
    let p = measure(n / BATCH, cpu, rt, |b| {
        for &k in &order[b * BATCH..(b + 1) * BATCH] {
            black_box(s.remove(k));
        }
    });
    rows.push(summarize(&name, "remove", &p, cfg.per_ns, locked));
    drop(s);

    // churn: remove a random live key + insert, at 50% occupancy, on a fresh (locked) slab.
    let Some((mut s, mut churn)) =
        Churn::new::<Node, I::Slab<Node>>(n, n / 2, |i| Node::new(i as u64), 13)
    else {
        return;
    };
    let locked = s.lock().is_ok();
    for i in 0..1 << 16 {
        black_box(churn.step(&mut s, Node::new(i))); // warm-up
    }
    let p = measure(cfg.churn_ops / BATCH, cpu, rt, |b| {
        for i in 0..BATCH {
            black_box(churn.step(&mut s, Node::new((b * BATCH + i) as u64)));
        }
    });
    rows.push(summarize(&name, "churn", &p, cfg.per_ns, locked));
}

type Runner = fn(&Config, &mut Vec<Row>);

macro_rules! runners {
    ([$($ty:path),*]) => {
        vec![$( run::<$ty> as Runner ),*]
    };
}

fn arg(name: &str) -> Option<usize> {
    let args: Vec<String> = std::env::args().collect();
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1)?.replace('_', "").parse().ok()
}

fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cpu = arg("--cpu").unwrap_or(cpus - 1);
    let pinned = pin(cpu);
    let rt = !flag("--no-rt") && realtime(true) && realtime(false);
    let per_ns = calibrate();
    let runs = arg("--runs").unwrap_or(3).max(1);
    let cfg = Config {
        n: arg("--n").unwrap_or(1 << 20),
        churn_ops: arg("--churn").unwrap_or(1 << 20),
        cpu,
        per_ns,
        rt,
    };
    println!(
        "clock: {}, {:.4} ticks/ns; batches of {BATCH} ops; pinned to CPU {cpu}: {pinned}; \
         SCHED_FIFO while measuring: {rt}",
        clock::NAME,
        per_ns
    );
    println!(
        "{} slots of {}-byte values; churn {} ops at 50% occupancy; {runs} run(s), \
         implementations in rotating order, medians of the runs' percentiles\n",
        cfg.n,
        std::mem::size_of::<Node>(),
        cfg.churn_ops
    );

    // The cost of the timing itself: an empty batch.
    let empty = measure(1 << 16, cpu, rt, |_| {});
    let e = summarize("(empty batch)", "-", &empty, per_ns, false);
    println!(
        "timing overhead per batch: p50 {:.1} ns, p99 {:.1} ns (included below, / {BATCH})\n",
        e.p50 * BATCH as f64,
        e.p99 * BATCH as f64
    );

    let mut all: Vec<Runner> = for_each_impl!(runners!());
    // Generational keys too (keys as handed out, so the stale-key check runs for real).
    all.insert(5, run::<common::GenMmap>);
    let mut rows = Vec::new();
    for r in 0..runs {
        for i in 0..all.len() {
            all[(i + r) % all.len()](&cfg, &mut rows);
        }
    }
    let mut names: Vec<String> = Vec::new();
    for r in &rows {
        if !names.contains(&r.name) {
            names.push(r.name.clone());
        }
    }

    println!(
        "ns per operation (batch time / {BATCH}); max = worst batch of all runs / {BATCH}; \
         faults = minor page faults while measuring, all runs"
    );
    println!(
        "{:<7} {:<14} {:>8} {:>8} {:>8} {:>9} {:>8} {:>7}",
        "op", "impl", "p50", "p99", "p99.9", "max", "faults", "locked"
    );
    for op in ["insert", "get", "remove", "churn"] {
        for name in &names {
            let rs: Vec<&Row> = rows
                .iter()
                .filter(|r| r.op == op && &r.name == name)
                .collect();
            if rs.is_empty() {
                continue;
            }
            let med = |f: fn(&Row) -> f64| median(rs.iter().map(|r| f(r)).collect());
            println!(
                "{:<7} {:<14} {:>8.1} {:>8.1} {:>8.1} {:>9.1} {:>8} {:>7}",
                op,
                name,
                med(|r| r.p50),
                med(|r| r.p99),
                med(|r| r.p999),
                rs.iter().map(|r| r.max).fold(0.0, f64::max),
                rs.iter().map(|r| r.counters.minflt).sum::<i64>(),
                if rs.iter().all(|r| r.locked) {
                    "yes"
                } else {
                    "-"
                }
            );
        }
    }

    println!(
        "\nchurn phase, every run: slow = batches >= 1 us slower than the median batch; \
         timer irqs = LOC of CPU {cpu}; steal in USER_HZ ticks; worst = whole-batch ns @ index"
    );
    for r in rows.iter().filter(|r| r.op == "churn") {
        let worst: Vec<String> = r
            .worst
            .iter()
            .map(|(ns, i)| format!("{ns:.0}@{i}"))
            .collect();
        println!(
            "{:<14} {} batches in {:.3} s: {} slow, timer irqs {}, context switches {}, \
             steal {}, faults {}; worst {}",
            r.name,
            r.batches,
            r.elapsed.as_secs_f64(),
            r.slow,
            r.counters.timer_irqs,
            r.counters.csw,
            r.counters.steal,
            r.counters.minflt,
            worst.join(" ")
        );
    }
}
