//! Proofs that could not run here, shown in the plain `cargo test` output.
//!
//! A test whose proof needs something this machine lacks (reserved huge pages, transparent
//! huge pages, a feature) calls [`not_run`] or [`cannot_run`] (or [`have_huge_pages`], which
//! calls them) and returns. libtest still reports it `ok` and hides what it printed, so the
//! reason is recorded here instead and, when the test binary exits (after its `test result:`
//! line), written straight to stderr, which libtest does not capture:
//!
//! ```text
//! NOT RUN in memory_control: 2 proofs reported ok without checking anything; this machine lacks what they need:
//!   huge_slab_on_2mib_pages_takes_and_returns_exactly_its_pages: needs 16 free huge pages of 2 MiB, 0 free
//!     to run it: echo 16 | sudo tee /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
//!   locked_hugetlb_slab_works: needs 2 free huge pages of 2 MiB, 0 free
//!     to run it: echo 2 | sudo tee /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
//!   to run all that need 2 MiB pages: echo 16 | sudo tee /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
//!   (with NEXUS_SLAB_REQUIRE_HUGEPAGES=1, as in CI, these are failures)
//! ```
//!
//! With `NEXUS_SLAB_REQUIRE_HUGEPAGES=1` (CI sets it after reserving pages) [`not_run`]
//! fails the test instead. [`cannot_run`] never fails: it is for what no setting can provide
//! here (a CPU without 1 GiB pages, an operating system without hugetlb, a feature left out of
//! the build).
#![allow(dead_code)]

use std::io::Write;
use std::sync::Mutex;

/// Whether a proof that cannot run must fail instead (`NEXUS_SLAB_REQUIRE_HUGEPAGES=1`).
pub fn hugepages_required() -> bool {
    std::env::var("NEXUS_SLAB_REQUIRE_HUGEPAGES").as_deref() == Ok("1")
}

/// The calling test's proof did not run: `why` says what was missing, `enable` what provides
/// it. Fails the test instead under `NEXUS_SLAB_REQUIRE_HUGEPAGES=1`.
#[track_caller]
pub fn not_run(why: &str, enable: &str) {
    not_run_for_pool(why, enable, None);
}

/// The calling test's proof cannot run on this machine at all (`why`); never a failure.
pub fn cannot_run(why: &str) {
    record(NotRun {
        test: test_name(),
        why: why.to_string(),
        enable: None,
        pool: None,
    });
}

/// Whether `pages` huge pages of `page` bytes are free; if not, records the proof as not run
/// (or fails, see [`not_run`]) with the command that reserves them.
#[track_caller]
pub fn have_huge_pages(page: usize, pages: usize) -> bool {
    have_huge_pages_for("", page, pages)
}

/// [`have_huge_pages`] for one part of a test (`part`, e.g. "its HugeTlb case"), the rest of
/// which runs anyway.
#[track_caller]
pub fn have_huge_pages_for(part: &str, page: usize, pages: usize) -> bool {
    let part = if part.is_empty() {
        String::new()
    } else {
        format!("{part} ")
    };
    if !cfg!(target_os = "linux") {
        cannot_run(&format!("{part}needs hugetlb pages, a Linux feature"));
        return false;
    }
    let Some(pool) = huge_pool(page) else {
        let why = format!(
            "{part}needs huge pages of {}: the kernel has no such pool",
            size(page)
        );
        if page >= 1 << 30 && !cpu_has_1g_pages() {
            cannot_run(&format!("{why} (the CPU cannot map 1 GiB pages)"));
        } else {
            not_run(&why, "a kernel built with CONFIG_HUGETLBFS");
        }
        return false;
    };
    let free = pool.free.saturating_sub(pool.reserved);
    if free >= pages {
        return true;
    }
    let total = pool.total + pages - free;
    not_run_for_pool(
        &format!(
            "{part}needs {pages} free huge {} of {}, {free} free",
            if pages == 1 { "page" } else { "pages" },
            size(page)
        ),
        &reserve_command(page, total),
        Some((page, total)),
    );
    false
}

/// The command that sets the pool of `page`-byte huge pages to `total` pages, as root.
pub fn reserve_command(page: usize, total: usize) -> String {
    format!(
        "echo {total} | sudo tee /sys/kernel/mm/hugepages/hugepages-{}kB/nr_hugepages",
        page / 1024
    )
}

#[track_caller]
fn not_run_for_pool(why: &str, enable: &str, pool: Option<(usize, usize)>) {
    assert!(
        !hugepages_required(),
        "NEXUS_SLAB_REQUIRE_HUGEPAGES=1, but this proof cannot run: {why} (to run it: {enable})"
    );
    record(NotRun {
        test: test_name(),
        why: why.to_string(),
        enable: Some(enable.to_string()),
        pool,
    });
}

fn size(page: usize) -> String {
    if page >= 1 << 30 {
        format!("{} GiB", page >> 30)
    } else {
        format!("{} MiB", page >> 20)
    }
}

struct Pool {
    total: usize,
    free: usize,
    reserved: usize,
}

/// The kernel's pool of `page`-byte huge pages, read from sysfs (independently of the crate).
fn huge_pool(page: usize) -> Option<Pool> {
    let dir = format!("/sys/kernel/mm/hugepages/hugepages-{}kB", page / 1024);
    let read = |f: &str| -> Option<usize> {
        std::fs::read_to_string(format!("{dir}/{f}"))
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    Some(Pool {
        total: read("nr_hugepages")?,
        free: read("free_hugepages")?,
        reserved: read("resv_hugepages")?,
    })
}

/// Whether the CPU can map 1 GiB pages: the x86 flag `pdpe1gb` (on arm64 with 4 KiB pages the
/// kernel always has the 1 GiB pool, so this is not asked there).
fn cpu_has_1g_pages() -> bool {
    std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|c| c.contains("pdpe1gb"))
}

/// A proof that did not run.
struct NotRun {
    test: String,
    /// What it lacked.
    why: String,
    /// What would provide it, if anything can.
    enable: Option<String>,
    /// The huge-page pool it needed: (page size, total pages to reserve).
    pool: Option<(usize, usize)>,
}

/// Proofs not run so far in this test binary.
static NOT_RUN: Mutex<Vec<NotRun>> = Mutex::new(Vec::new());

/// The running test's name: libtest runs each test on a thread named after it.
fn test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string()
}

fn record(entry: NotRun) {
    let mut list = NOT_RUN.lock().unwrap_or_else(|e| e.into_inner());
    if list.is_empty() && !report_at_exit() {
        // No exit handler (Miri): say it now, past the capture all the same.
        let _ = std::io::stderr().write_all(summary(&[entry]).as_bytes());
        return;
    }
    list.push(entry);
}

/// Arranges for the list of proofs not run to be written to stderr when the process exits:
/// after libtest's summary, and past its output capture. False if that cannot be arranged.
fn report_at_exit() -> bool {
    extern "C" fn report() {
        let list = NOT_RUN.lock().unwrap_or_else(|e| e.into_inner());
        let _ = std::io::stderr().write_all(summary(&list).as_bytes());
    }
    if cfg!(miri) {
        return false; // Miri does not run exit handlers
    }
    // SAFETY: `report` is a plain function, run once at exit, after every test thread has
    // finished: the lock it takes is free, and it only writes to stderr.
    unsafe { libc::atexit(report) == 0 }
}

fn summary(list: &[NotRun]) -> String {
    // (Miri's isolation forbids reading the executable's path.)
    let exe = if cfg!(miri) {
        None
    } else {
        std::env::current_exe().ok()
    };
    let binary = exe
        .as_deref()
        .and_then(|p| p.file_stem())
        .and_then(|s| s.to_str())
        .map(|s| s.rsplit_once('-').map_or(s, |(name, _hash)| name))
        .unwrap_or("this test binary");
    let mut out = match list.len() {
        1 => format!(
            "\nNOT RUN in {binary}: 1 proof reported ok without checking anything; this machine \
             lacks what it needs:\n"
        ),
        n => format!(
            "\nNOT RUN in {binary}: {n} proofs reported ok without checking anything; this \
             machine lacks what they need:\n"
        ),
    };
    let mut sorted: Vec<&NotRun> = list.iter().collect();
    sorted.sort_by(|a, b| a.test.cmp(&b.test));
    for entry in sorted {
        out += &format!("  {}: {}\n", entry.test, entry.why);
        if let Some(enable) = &entry.enable {
            out += &format!("    to run it: {enable}\n");
        }
    }
    // One command per pool for all of them: the largest total any of them asked for.
    if list.iter().filter(|e| e.pool.is_some()).count() > 1 {
        let mut pools: Vec<(usize, usize)> = Vec::new();
        for (page, total) in list.iter().filter_map(|e| e.pool) {
            match pools.iter_mut().find(|(p, _)| *p == page) {
                Some((_, most)) => *most = (*most).max(total),
                None => pools.push((page, total)),
            }
        }
        pools.sort_unstable();
        for (page, total) in pools {
            out += &format!(
                "  to run all that need {} pages: {}\n",
                size(page),
                reserve_command(page, total)
            );
        }
    }
    if list.iter().any(|e| e.enable.is_some()) {
        out += "  (with NEXUS_SLAB_REQUIRE_HUGEPAGES=1, as in CI, these are failures)\n";
    }
    out + "\n"
}
