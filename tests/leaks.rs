//! Leak checks against the kernel's own accounting: create and drop 10 000 slabs of each kind
//! (every backing; empty and holding heap-owning values; locked with `mlock()` or not) and
//! check that the process's mappings (`/proc/self/maps` lines), resident memory (`VmRSS`),
//! locked memory (`VmLck`) and the system's free 2 MiB hugetlb pages (`free_hugepages` of that
//! pool) come back to where they were.
//!
//! Everything runs in one test, so no other test thread of this binary allocates meanwhile,
//! and each kind is measured after a warm-up round of the same work (so the allocator's caches
//! and this thread's malloc arena are already in place before the "before" reading).
//!
//! Tolerances:
//! - maps (but see `Heap` below), `VmLck`, `HugetlbPages` (this process's hugetlb memory),
//!   free huge pages: none. Every slab's mapping is gone when it drops, its locked pages are
//!   unlocked, its huge pages are back in the pool. The pool is shared by the whole machine, so
//!   its reading is compared as pages in use (total − free) and only when no one resized the
//!   pool meanwhile; `HugetlbPages` is this process's own count and is always compared.
//! - maps of the `Heap` kinds: 2. Their regions are the global allocator's, and so are the
//!   mappings around them: musl's allocator (mallocng) maps a new group for a size class on
//!   its own schedule — seen: one more mapping, once, during 10 000 `Heap` slabs after the
//!   warm-up, and never again. A slab that leaked its region would leak it 10 000 times.
//! - `VmRSS`: 4 MiB. The allocator keeps some freed memory resident (glibc trims its heap only
//!   above `M_TRIM_THRESHOLD`, and caches free chunks), and the test's own bookkeeping moves a
//!   little. A real leak of even one 4 KiB page per slab would be 40 MiB over 10 000 slabs,
//!   ten times the tolerance; the slabs here are 8 KiB to 64 KiB each.
#![cfg(target_os = "linux")]

mod common;

use std::fs;

use nexus_slab::{
    backing::{Backing, Heap, HugeTlb, Locked, Mmap},
    GenKey, Slab, SlabKey,
};

const ROUNDS: usize = 10_000;
const RSS_TOLERANCE_KB: i64 = 4 * 1024;
/// Mappings the global allocator may add on its own while the `Heap` kinds run (see above).
const HEAP_MAPS_TOLERANCE: i64 = 2;

#[derive(Clone, Copy, Debug, PartialEq)]
struct Reading {
    maps: i64,
    rss_kb: i64,
    lck_kb: i64,
    /// This process's hugetlb memory (`HugetlbPages:` of /proc/self/status).
    huge_kb: i64,
    /// The system's free and total 2 MiB hugetlb pages (that pool's own counters: the
    /// `HugePages_*` of /proc/meminfo count the default pool, 1 GiB on some hosts).
    huge_free: i64,
    huge_total: i64,
}

fn status_kb(text: &str, field: &str) -> i64 {
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in the kernel's report"))
}

fn read() -> Reading {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let pool = |f: &str| -> i64 {
        fs::read_to_string(format!("/sys/kernel/mm/hugepages/hugepages-2048kB/{f}"))
            .map_or(0, |s| s.trim().parse().unwrap())
    };
    Reading {
        maps: fs::read_to_string("/proc/self/maps")
            .unwrap()
            .lines()
            .count() as i64,
        rss_kb: status_kb(&status, "VmRSS:"),
        lck_kb: status_kb(&status, "VmLck:"),
        huge_kb: status_kb(&status, "HugetlbPages:"),
        huge_free: pool("free_hugepages"),
        huge_total: pool("nr_hugepages"),
    }
}

/// What one round does.
#[derive(Clone, Copy, Debug)]
enum Work {
    Empty,
    Values,
    Mlock,
}

/// One slab of kind `B`: allocated, optionally filled with heap-owning values or locked, then
/// dropped. Returns false when this machine cannot make such a slab at all.
fn round<B: Backing + Default, K: SlabKey>(work: Work, i: usize) -> bool {
    let mut s: Slab<String, B, K> = Slab::new();
    if s.alloc(if i % 2 == 0 { 200 } else { 2000 }).is_err() {
        return false;
    }
    match work {
        Work::Empty => {}
        Work::Values => {
            let keys: Vec<K> = (0..100)
                .map(|n| s.insert(format!("value {n} of slab {i}")).unwrap())
                .collect();
            for k in keys.iter().step_by(3) {
                s.remove(*k).unwrap();
            }
        }
        Work::Mlock => {
            s.mlock()
                .expect("mlock (the tests run as root or with a high enough limit)");
            s.insert("locked".repeat(10)).unwrap();
        }
    }
    true
}

struct Report {
    lines: Vec<String>,
    failures: Vec<String>,
}

/// Measures one kind; returns false when only the shared pool reading disagreed (worth a
/// retry: another process may have taken or returned huge pages meanwhile).
fn check<B: Backing + Default, K: SlabKey>(
    label: &str,
    work: Work,
    report: &mut Report,
    last_try: bool,
) -> bool {
    // Locked memory must never outlive a slab, warm-up included: judged from before it.
    let cold = read();
    for i in 0..200 {
        if !round::<B, K>(work, i) {
            common::skip::not_run(
                &format!("{label} {work:?}: this machine could not allocate such a slab"),
                "free memory (and free 2 MiB huge pages for the HugeTlb kinds)",
            );
            report.lines.push(format!("{label:<28} {work:?}: NOT RUN"));
            return true;
        }
    }
    let before = read();
    for i in 0..ROUNDS {
        assert!(
            round::<B, K>(work, i),
            "{label}: allocation failed after the warm-up"
        );
    }
    let mut after = read();
    // The pool is system-wide: on a shared machine another process may resize it or take
    // pages meanwhile. Give a changed reading a moment to settle before judging it.
    for _ in 0..20 {
        if after.huge_free - after.huge_total == before.huge_free - before.huge_total {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        after = read();
    }
    let line = format!(
        "{label:<28} {:<6} maps {:>4} -> {:<4} VmRSS {:>7} -> {:<7} kB  VmLck {:>5} -> {:<5} kB  \
         HugetlbPages {} -> {} kB  free 2 MiB pages {} -> {} (of {} -> {})",
        format!("{work:?}"),
        before.maps,
        after.maps,
        before.rss_kb,
        after.rss_kb,
        cold.lck_kb,
        after.lck_kb,
        before.huge_kb,
        after.huge_kb,
        before.huge_free,
        after.huge_free,
        before.huge_total,
        after.huge_total,
    );
    let mut bad = Vec::new();
    let maps_tolerance = if label.contains("Heap") {
        HEAP_MAPS_TOLERANCE
    } else {
        0
    };
    if (after.maps - before.maps).abs() > maps_tolerance {
        bad.push("mappings");
    }
    if after.rss_kb - before.rss_kb > RSS_TOLERANCE_KB {
        bad.push("VmRSS");
    }
    if after.lck_kb != cold.lck_kb || before.lck_kb != cold.lck_kb {
        bad.push("VmLck");
    }
    if after.huge_kb != before.huge_kb {
        bad.push("HugetlbPages");
    }
    // Pages of the pool in use (total − free) must be back where they were. When the pool was
    // resized meanwhile by someone else, `HugetlbPages` (ours alone) is the judge.
    // (A slab that leaked one huge page each would also exhaust any pool long before 10 000
    // rounds, failing the allocation assert above.)
    let in_use = |r: &Reading| r.huge_total - r.huge_free;
    let pool_drift = after.huge_total == before.huge_total && in_use(&after) != in_use(&before);
    if pool_drift && bad.is_empty() && !last_try {
        report.lines.push(format!("{line}: pool changed, retrying"));
        return false;
    }
    if pool_drift {
        bad.push("free 2 MiB pages");
    }
    if !bad.is_empty() {
        report
            .failures
            .push(format!("{line}: {} leaked", bad.join(", ")));
    }
    report.lines.push(line);
    true
}

fn every_work<B: Backing + Default, K: SlabKey>(label: &str, report: &mut Report) {
    for work in [Work::Empty, Work::Values, Work::Mlock] {
        for attempt in 1..=3 {
            if check::<B, K>(label, work, report, attempt == 3) {
                break;
            }
        }
    }
}

#[test]
#[cfg_attr(miri, ignore = "reads the kernel's accounting in /proc")]
fn ten_thousand_slabs_of_each_kind_leave_nothing_behind() {
    let start = read();
    let mut report = Report {
        lines: Vec::new(),
        failures: Vec::new(),
    };
    every_work::<Mmap, nexus_slab::Key>("Mmap", &mut report);
    every_work::<Mmap, GenKey>("Mmap, GenKey", &mut report);
    every_work::<Heap, nexus_slab::Key>("Heap", &mut report);
    every_work::<Locked<Mmap>, nexus_slab::Key>("Locked<Mmap>", &mut report);
    every_work::<Locked<Heap>, nexus_slab::Key>("Locked<Heap>", &mut report);
    // Each work allocates one 2 MiB huge page at a time.
    if common::skip::have_huge_pages_for("its HugeTlb part", 2 << 20, 1) {
        every_work::<HugeTlb, nexus_slab::Key>("HugeTlb", &mut report);
        every_work::<Locked<HugeTlb>, nexus_slab::Key>("Locked<HugeTlb>", &mut report);
    }
    let end = read();
    println!("{ROUNDS} slabs per line:");
    for line in &report.lines {
        println!("  {line}");
    }
    println!("whole test: {start:?} -> {end:?}");
    assert!(
        report.failures.is_empty(),
        "leaks:\n{}",
        report.failures.join("\n")
    );
}
