//! What a hostile snapshot costs the machine, measured by the kernel, not only that it is
//! refused (issue 18, defect 4).
//!
//! Each case runs in a child process of its own (this test binary, re-run with
//! `NEXUS_SLAB_COST_CASE` set), so that its peak is its own: the child resets its resident
//! high-water mark (`/proc/self/clear_refs`), deserialises one input onto one backing, and
//! reports what the kernel saw: the peak resident growth (`VmHWM`), the process's peak from
//! `getrusage` (`ru_maxrss`, a second witness), the bytes locked (`VmLck`), the hugetlb pages
//! mapped (`HugetlbPages`) and taken from the pool, and the bytes the slab asked of its backing
//! (a wrapper backing counts them). The parent prints the amplification table (run with
//! `--nocapture`: `cargo test --features serde --test snapshot_cost -- --nocapture`) and
//! asserts the bounds. A first row restores nothing: the child's own growth, the noise under
//! the others. The `Mmap::lazy` rows (no prefault) show what the restore itself touches: the
//! bitmap or generations, and with every slot below high water the mark `begin_restore`
//! writes in each such slot.
//!
//! The child's address space is capped (`RLIMIT_AS`) well below the machine's memory, so that a
//! regression fails here instead of filling the machine (the 62-byte input once asked for 17.7
//! GB).
#![cfg(all(feature = "serde", target_os = "linux", not(miri)))]

mod common;

use std::alloc::Layout;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use common::kernel::status_bytes;
use common::skip;
use nexus_slab::{
    backing::{Backing, Heap, HugeTlb, Locked, Mmap, Region},
    snapshot::RestoreLimits,
    Error, GenKey, Key, Slab, SlabKey,
};

/// The environment variable that makes this binary a child running one case.
const CASE: &str = "NEXUS_SLAB_COST_CASE";
/// The test that runs the cases (and, in a child, one case).
const TEST: &str = "hostile_snapshots_cost_at_most_the_restore_limit";
/// The child's address-space cap: far more than any bounded restore needs, far less than
/// the machine's memory.
const CHILD_ADDRESS_SPACE: u64 = 3 << 30;

/// Bytes the slab asked of its backing in this process.
static ASKED: AtomicUsize = AtomicUsize::new(0);

/// A backing that counts what it is asked for and forwards everything to `B`.
#[derive(Default)]
struct Spy<B>(B);

// SAFETY: every region comes from the inner backing unchanged and goes back to it; the memory
// controls are the inner backing's.
unsafe impl<B: Backing> Backing for Spy<B> {
    fn granularity(&self) -> usize {
        self.0.granularity()
    }
    fn allocate(&mut self, layout: Layout) -> Result<Region, Error> {
        ASKED.fetch_add(layout.size(), Ordering::Relaxed);
        self.0.allocate(layout)
    }
    unsafe fn release(&mut self, region: Region, layout: Layout) {
        // SAFETY: forwarded from our caller: the region came from `self.0`.
        unsafe { self.0.release(region, layout) }
    }
    fn lock(&mut self, region: &Region) -> Result<(), Error> {
        self.0.lock(region)
    }
    fn unlock(&mut self, region: &Region) -> Result<(), Error> {
        self.0.unlock(region)
    }
    fn collapse(&mut self, region: &Region) -> Result<(), Error> {
        self.0.collapse(region)
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Format {
    Postcard,
    Json,
    /// Nothing is restored: the child's own growth, the noise under every other row.
    Nothing,
}

/// The value type: slots of 8 or 4 bytes.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Value {
    U64,
    U32,
}

struct Input {
    name: String,
    format: Format,
    value: Value,
    bytes: Vec<u8>,
    /// The reviewers' input, to be refused before the backing is asked for anything.
    hostile: bool,
}

/// The reviewers' four inputs, byte for byte; then, for `key` with `at_limit` slots (the most
/// a slab of `u64` holds within the default limit), the largest snapshot the default limit
/// lets through, with no slot used and with every slot used (generational: all retired; plain:
/// refused once the markers `begin_restore` writes below high water are in place).
fn inputs(at_limit: usize) -> Vec<Input> {
    // 2^27 as a postcard varint.
    let cap27: &[u8] = &[0x80, 0x80, 0x80, 0x40];
    let input = |name: &str, format, value, bytes: Vec<u8>, hostile| Input {
        name: name.to_string(),
        format,
        value,
        bytes,
        hostile,
    };
    vec![
        input(
            "(nothing: the child alone)",
            Format::Nothing,
            Value::U64,
            Vec::new(),
            false,
        ),
        input(
            "postcard: 2^27 slots of u64",
            Format::Postcard,
            Value::U64,
            [cap27, &[0, 0, 0]].concat(),
            true,
        ),
        input(
            "JSON: 2^27 slots of u64",
            Format::Json,
            Value::U64,
            br#"{"capacity":134217728,"high_water":0,"entries":[],"free":[]}"#.to_vec(),
            true,
        ),
        input(
            "postcard: 2^27 u64 slots, all used",
            Format::Postcard,
            Value::U64,
            [cap27, cap27, &[0, 0]].concat(),
            true,
        ),
        input(
            "JSON: 2^32-2 slots of u32",
            Format::Json,
            Value::U32,
            b"{\"capacity\":4294967294,\"high_water\":0,\"entries\":[],\"free\":[]}\n".to_vec(),
            true,
        ),
        input(
            "JSON: at the default limit",
            Format::Json,
            Value::U64,
            format!(r#"{{"capacity":{at_limit},"high_water":0,"entries":[],"free":[]}}"#)
                .into_bytes(),
            false,
        ),
        input(
            "JSON: at the limit, all used",
            Format::Json,
            Value::U64,
            format!(r#"{{"capacity":{at_limit},"high_water":{at_limit},"entries":[],"free":[]}}"#)
                .into_bytes(),
            false,
        ),
    ]
}

/// The backings, by name: `Mmap` (the default), `Heap`, `Locked<Mmap>`, `HugeTlb` (2 MiB
/// pages), and `Mmap::new().prefault(false)` (no prefault: what the restore itself touches).
const BACKINGS: [&str; 5] = ["Mmap", "Heap", "Locked<Mmap>", "HugeTlb", "Mmap::lazy"];
const KEYS: [&str; 2] = ["Key", "GenKey"];

/// Slots of `u64` in the largest slab within the default limit (in the parent: computing it
/// allocates).
fn at_limit<K: SlabKey>() -> usize {
    let mut probe: Slab<u64, Mmap, K> = Slab::new_in(Mmap::new().prefault(false));
    probe.alloc_bytes(RestoreLimits::DEFAULT_MAX_BYTES).unwrap();
    assert!(probe.memory_size() <= RestoreLimits::DEFAULT_MAX_BYTES);
    probe.capacity()
}

/// What one child saw.
#[derive(Debug, Default)]
struct Seen {
    asked: usize,
    /// `VmHWM` after, less `VmRSS` before (the high-water mark reset first).
    peak: usize,
    /// `ru_maxrss` after, less `VmRSS` before.
    maxrss: usize,
    /// `VmRSS` after, less before, with the slab (if any) still alive.
    rss_after: usize,
    /// `VmLck` after, with the slab alive.
    locked: usize,
    /// `HugetlbPages` after, with the slab alive.
    hugetlb: usize,
    /// Free pages of the 2 MiB pool taken (before less after), in bytes.
    pool_taken: usize,
    micros: u128,
    accepted: bool,
    message: String,
}

fn pool_free_2m() -> usize {
    common::kernel::huge_free_rsvd(2 << 20).map_or(0, |(free, rsvd)| free.saturating_sub(rsvd))
}

fn maxrss() -> usize {
    // SAFETY: `ru` is a valid out-pointer.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) }, 0);
    ru.ru_maxrss as usize * 1024
}

/// In the child: deserialises `input` as a `Slab<T, Spy<B>, K>` — through the plain
/// `Deserialize` (the default limit) on `B::default()`, or through `deserialize_in` with the
/// default limit on `backing` — and reports what it cost.
fn measure<T, B, K>(input: &Input, backing: Option<B>) -> Seen
where
    T: serde::de::DeserializeOwned,
    B: Backing + Default,
    K: SlabKey,
{
    std::fs::write("/proc/self/clear_refs", "5").expect("reset VmHWM");
    let rss0 = status_bytes("VmRSS");
    let (lck0, huge0, pool0) = (
        status_bytes("VmLck"),
        status_bytes("HugetlbPages"),
        pool_free_2m(),
    );
    let start = Instant::now();
    let limits = RestoreLimits::new();
    let result: Result<Slab<T, Spy<B>, K>, String> = match (input.format, backing) {
        (Format::Postcard, None) => {
            postcard::from_bytes(&input.bytes).map_err(|e| format!("{e:?}"))
        }
        (Format::Json, None) => serde_json::from_slice(&input.bytes).map_err(|e| e.to_string()),
        (Format::Postcard, Some(b)) => {
            let mut de = postcard::Deserializer::from_bytes(&input.bytes);
            Slab::deserialize_in(Spy(b), limits, &mut de).map_err(|e| format!("{e:?}"))
        }
        (Format::Json, Some(b)) => {
            let mut de = serde_json::Deserializer::from_slice(&input.bytes);
            Slab::deserialize_in(Spy(b), limits, &mut de).map_err(|e| e.to_string())
        }
        (Format::Nothing, _) => Err("nothing restored".to_string()),
    };
    let micros = start.elapsed().as_micros();
    let seen = Seen {
        asked: ASKED.load(Ordering::Relaxed),
        peak: status_bytes("VmHWM").saturating_sub(rss0),
        maxrss: maxrss().saturating_sub(rss0),
        rss_after: status_bytes("VmRSS").saturating_sub(rss0),
        locked: status_bytes("VmLck").saturating_sub(lck0),
        hugetlb: status_bytes("HugetlbPages").saturating_sub(huge0),
        pool_taken: pool0.saturating_sub(pool_free_2m()) * (2 << 20),
        micros,
        accepted: result.is_ok(),
        message: match &result {
            Ok(s) => format!(
                "accepted: capacity {}, memory_size {}",
                s.capacity(),
                s.memory_size()
            ),
            Err(e) => e.clone(),
        },
    };
    drop(result);
    seen
}

fn measure_value<B: Backing + Default, K: SlabKey>(input: &Input, backing: Option<B>) -> Seen {
    match input.value {
        Value::U64 => measure::<u64, B, K>(input, backing),
        Value::U32 => measure::<u32, B, K>(input, backing),
    }
}

fn measure_on<K: SlabKey>(input: &Input, backing: &str) -> Seen {
    match backing {
        "Mmap" => measure_value::<Mmap, K>(input, None),
        "Heap" => measure_value::<Heap, K>(input, None),
        "Locked<Mmap>" => measure_value::<Locked<Mmap>, K>(input, None),
        "HugeTlb" => measure_value::<HugeTlb, K>(input, None),
        "Mmap::lazy" => measure_value::<Mmap, K>(input, Some(Mmap::new().prefault(false))),
        other => panic!("no backing {other}"),
    }
}

/// The child's side: runs the case named by `spec` (`input/backing/key/at_limit`) and prints
/// what it saw.
fn child(spec: &str) {
    let f: Vec<&str> = spec.split('/').collect();
    let inputs = inputs(f[3].parse().unwrap());
    let input = &inputs[f[0].parse::<usize>().unwrap()];
    let seen = match f[2] {
        "Key" => measure_on::<Key>(input, f[1]),
        "GenKey" => measure_on::<GenKey>(input, f[1]),
        other => panic!("no key kind {other}"),
    };
    println!(
        "\nCOST\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
        seen.asked,
        seen.peak,
        seen.maxrss,
        seen.rss_after,
        seen.locked,
        seen.hugetlb,
        seen.pool_taken,
        seen.micros,
        seen.accepted,
        seen.message.replace(['\t', '\n'], " ")
    );
}

/// Runs one case in a child process and reads what it saw.
fn run_child(spec: &str) -> Seen {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([TEST, "--exact", "--nocapture", "--test-threads=1"])
        .env(CASE, spec);
    // SAFETY: between fork and exec the closure makes one async-signal-safe system call
    // (setrlimit) and allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: CHILD_ADDRESS_SPACE,
                rlim_max: CHILD_ADDRESS_SPACE,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    };
    let out = cmd.output().expect("spawn the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the child for {spec} failed ({}): {stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("COST\t").map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("the child for {spec} printed no COST line: {stdout}"));
    let f: Vec<&str> = line.split('\t').collect();
    let n = |i: usize| -> usize { f[i].parse().unwrap() };
    Seen {
        asked: n(0),
        peak: n(1),
        maxrss: n(2),
        rss_after: n(3),
        locked: n(4),
        hugetlb: n(5),
        pool_taken: n(6),
        micros: f[7].parse().unwrap(),
        accepted: f[8] == "true",
        message: f[9].to_string(),
    }
}

fn mib(bytes: usize) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
    } else {
        format!("{} KiB", bytes / 1024)
    }
}

/// The reviewers' hostile snapshots (7 bytes of postcard, 60 of JSON for 2^27 slots of
/// `u64`; 10 bytes of postcard for the same with every slot used; 62 bytes of JSON for 2^32 − 2
/// slots of `u32`), on every backing and both key kinds, cost at most the default restore limit
/// — in fact they are refused before the backing is asked for anything — and the largest
/// snapshots the limit lets through cost about the limit. Prints the amplification table.
#[test]
fn hostile_snapshots_cost_at_most_the_restore_limit() {
    if let Ok(spec) = std::env::var(CASE) {
        return child(&spec);
    }
    let limit = RestoreLimits::DEFAULT_MAX_BYTES;
    // What the kernel may add on top of a slab it holds: the last transparent huge page of a
    // region that is not whole huge pages, and the parser's and allocator's own pages.
    let slack = common::kernel::thp_size() + (1 << 20);
    let lens: Vec<usize> = inputs(0)
        .iter()
        .filter(|i| i.hostile)
        .map(|i| i.bytes.len())
        .collect();
    assert_eq!(lens, [7, 60, 10, 62], "the reviewers' inputs");
    let huge = skip::have_huge_pages_for(
        "its HugeTlb case",
        2 << 20,
        limit / (2 << 20), // the largest slab the limit lets through
    );
    println!(
        "\nWhat restoring a snapshot costs, per input, backing and key kind (default limit {}):\n\
         asked = bytes the slab asked of its backing; peak RSS = VmHWM growth; maxrss = \
         getrusage growth; VmLck, hugetlb (HugetlbPages) and pool (2 MiB pages taken) with the \
         slab alive\n",
        mib(limit)
    );
    println!(
        "{:<34} {:>5} {:<12} {:<6} {:>10} {:>10} {:>8} {:>10} {:>9} {:>9} {:>9} {:>8}  outcome",
        "input",
        "bytes",
        "backing",
        "key",
        "asked",
        "peak RSS",
        "×input",
        "maxrss",
        "VmLck",
        "hugetlb",
        "pool",
        "µs"
    );
    for key in KEYS {
        let at = match key {
            "Key" => at_limit::<Key>(),
            _ => at_limit::<GenKey>(),
        };
        for (i, input) in inputs(at).iter().enumerate() {
            for backing in BACKINGS {
                if backing == "HugeTlb" && !huge
                    || input.format == Format::Nothing && (backing, key) != ("Mmap", "Key")
                {
                    continue;
                }
                let seen = run_child(&format!("{i}/{backing}/{key}/{at}"));
                println!(
                    "{:<34} {:>5} {:<12} {:<6} {:>10} {:>10} {:>8} {:>10} {:>9} {:>9} {:>9} {:>8}  {}",
                    input.name,
                    input.bytes.len(),
                    backing,
                    key,
                    mib(seen.asked),
                    mib(seen.peak),
                    format!("{:.0}", seen.peak as f64 / input.bytes.len().max(1) as f64),
                    mib(seen.maxrss),
                    mib(seen.locked),
                    mib(seen.hugetlb),
                    mib(seen.pool_taken),
                    seen.micros,
                    seen.message.chars().take(100).collect::<String>()
                );
                let case = format!("{} on {backing} with {key}", input.name);
                // Whatever the input: bounded by the limit, by every witness.
                assert!(seen.asked <= limit, "{case}: asked for {}", seen.asked);
                assert!(seen.peak <= limit + slack, "{case}: peak RSS {}", seen.peak);
                assert!(
                    seen.maxrss <= limit + slack,
                    "{case}: maxrss {}",
                    seen.maxrss
                );
                assert!(seen.locked <= limit, "{case}: locked {}", seen.locked);
                assert!(seen.hugetlb <= limit, "{case}: hugetlb {}", seen.hugetlb);
                assert!(seen.pool_taken <= limit, "{case}: pool {}", seen.pool_taken);
                if input.format == Format::Nothing {
                    continue;
                }
                if input.hostile {
                    // Refused before the backing was asked: nothing mapped, locked or taken
                    // from a pool; with the typed error where the format keeps the message
                    // (postcard keeps only that it was a custom error).
                    assert!(!seen.accepted, "{case}: accepted");
                    assert_eq!(seen.asked, 0, "{case}: the backing was asked");
                    match input.format {
                        Format::Json => {
                            assert!(
                                seen.message.starts_with("the snapshot declares a slab of ")
                                    && seen.message.contains(&format!(
                                        "over the restore limit of {} MiB",
                                        limit >> 20
                                    ))
                                    && seen
                                        .message
                                        .contains("RestoreLimits::new().with_max_bytes("),
                                "{case}: {}",
                                seen.message
                            );
                        }
                        Format::Postcard | Format::Nothing => {
                            assert_eq!(seen.message, "SerdeDeCustom", "{case}")
                        }
                    }
                } else if input.name.ends_with("all used") && key == "Key" {
                    // A plain slab with no value and no free slot below high water: refused,
                    // after the restore marked every slot below high water.
                    assert!(!seen.accepted, "{case}: accepted");
                    assert!(
                        seen.message.contains("do not account for"),
                        "{case}: {}",
                        seen.message
                    );
                } else if backing != "Locked<Mmap>" {
                    // (Locking 32 MiB may exceed RLIMIT_MEMLOCK without CAP_IPC_LOCK.)
                    assert!(seen.accepted, "{case}: {}", seen.message);
                }
            }
        }
    }
}
