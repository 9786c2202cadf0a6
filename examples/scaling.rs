//! Dependent random `get` (a pointer chase, ns per hop) as the slab grows from 4 KiB to 1 GiB
//! of 64-byte values, on every nexus-slab backing and on the `slab` crate and nexus-slab
//! 0.1.2: where the caches and the TLB run out, and what huge pages buy.
//!
//! ```text
//! cargo run --release --example scaling                  # writes docs/scaling.{csv,svg}
//! NEXUS_SCALING_MAX_MIB=64 cargo run --release --example scaling   # stop at 64 MiB
//! ```
//!
//! Each point: a slab of `n` 64-byte nodes linked in one random cycle (Sattolo), one warm-up
//! lap (at most 4Mi hops), then the median of 7 runs of 1Mi hops, timed with `Instant`; the
//! whole is repeated `NEXUS_SCALING_PASSES` times (default 3, each pass on a fresh slab, the
//! implementations taking turns at each size) and the CSV has the median pass. The
//! CSV also records how much of the process's anonymous memory the kernel put on transparent
//! huge pages once the slab was built (`AnonHugePages` of `/proc/self/smaps_rollup`).

#[path = "../benches/common/mod.rs"]
mod common;

use std::error::Error;
use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Instant;

use common::{Impl, Node};
use plotters::prelude::*;

const HOPS: usize = 1 << 20;
const REPS: usize = 7;

struct Point {
    name: String,
    bytes: usize,
    ns_per_hop: f64,
    huge_kib: u64,
}

/// `AnonHugePages` of this process, in KiB (0 where unknown).
fn anon_huge_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("AnonHugePages:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn measure<I: Impl>(bytes: usize) -> Option<Point> {
    let n = bytes / std::mem::size_of::<Node>();
    let slab = common::chase_slab::<I::Slab<Node>>(n, 7)?;
    let huge_kib = anon_huge_kib();
    let mut k = common::chase(&slab, 0, n.min(4 << 20));
    let mut runs: Vec<f64> = (0..REPS)
        .map(|_| {
            let t = Instant::now();
            k = common::chase(&slab, k, HOPS);
            t.elapsed().as_nanos() as f64 / HOPS as f64
        })
        .collect();
    black_box(k);
    runs.sort_by(f64::total_cmp);
    Some(Point {
        name: I::name(),
        bytes,
        ns_per_hop: runs[REPS / 2],
        huge_kib,
    })
}

type Measure = fn(usize) -> Option<Point>;

macro_rules! measures {
    ([$($ty:path),*]) => {
        vec![$( measure::<$ty> as Measure ),*]
    };
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Every size, and at each size every implementation in turn (so a noisy moment on a shared
/// machine hits them alike), `passes` times; each point is the median of its passes.
fn sweep(max: usize, passes: usize) -> Vec<Point> {
    let all: Vec<Measure> = for_each_impl!(measures!());
    let mut skip = vec![false; all.len()];
    let mut points = Vec::new();
    let mut bytes = 4 << 10;
    while bytes <= max {
        for (i, m) in all.iter().enumerate() {
            if skip[i] {
                continue;
            }
            let runs: Vec<Point> = (0..passes).map_while(|_| m(bytes)).collect();
            let Some(first) = runs.first() else {
                skip[i] = true; // unavailable here (no reserved pages): the line stops
                continue;
            };
            let p = Point {
                name: first.name.clone(),
                bytes,
                ns_per_hop: median(runs.iter().map(|p| p.ns_per_hop).collect()),
                huge_kib: first.huge_kib,
            };
            println!(
                "{:<16} {:>9}  {:>7.2} ns/hop  AnonHugePages {:>8} KiB",
                p.name,
                fmt_bytes(bytes),
                p.ns_per_hop,
                p.huge_kib
            );
            points.push(p);
        }
        bytes *= 2;
    }
    points
}

fn fmt_bytes(b: usize) -> String {
    match b {
        b if b >= 1 << 30 => format!("{} GiB", b >> 30),
        b if b >= 1 << 20 => format!("{} MiB", b >> 20),
        b => format!("{} KiB", b >> 10),
    }
}

/// Cache sizes from sysfs, as (label, bytes) for the data/unified caches of cpu0.
fn caches() -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for i in 0..8 {
        let dir = format!("/sys/devices/system/cpu/cpu0/cache/index{i}");
        let read = |f: &str| std::fs::read_to_string(format!("{dir}/{f}")).ok();
        let (Some(level), Some(kind), Some(size)) = (read("level"), read("type"), read("size"))
        else {
            continue;
        };
        if kind.trim() == "Instruction" {
            continue;
        }
        let size = size.trim();
        let bytes = match size.strip_suffix('K') {
            Some(k) => k.parse::<usize>().unwrap_or(0) << 10,
            None => size.trim_end_matches('M').parse::<usize>().unwrap_or(0) << 20,
        };
        out.push((format!("L{}", level.trim()), bytes));
    }
    out
}

/// Data-TLB reach for 4 KiB pages: (L1, L2) entries × 4 KiB, from CPUID on AMD.
#[cfg(target_arch = "x86_64")]
#[allow(unused_unsafe)] // `__cpuid` is safe since Rust 1.87, unsafe before (MSRV 1.80)
fn tlb_reach_4k() -> Option<(usize, usize)> {
    use core::arch::x86_64::__cpuid;
    // SAFETY: CPUID is available on every x86_64 processor.
    let v = unsafe { __cpuid(0) };
    let vendor: Vec<u8> = [v.ebx, v.edx, v.ecx]
        .iter()
        .flat_map(|r| r.to_le_bytes())
        .collect();
    // SAFETY: as above.
    if vendor != b"AuthenticAMD" || unsafe { __cpuid(0x8000_0000) }.eax < 0x8000_0006 {
        return None;
    }
    // SAFETY: as above; the extended leaves exist (checked).
    let l1 = (unsafe { __cpuid(0x8000_0005) }.ebx >> 16) & 0xff;
    // SAFETY: as above.
    let l2 = (unsafe { __cpuid(0x8000_0006) }.ebx >> 16) & 0xfff;
    Some((l1 as usize * 4096, l2 as usize * 4096))
}

#[cfg(not(target_arch = "x86_64"))]
fn tlb_reach_4k() -> Option<(usize, usize)> {
    None
}

fn write_csv(path: &str, points: &[Point]) -> std::io::Result<()> {
    let mut s = String::from("impl,bytes_of_values,ns_per_hop,anon_huge_pages_kib\n");
    for p in points {
        let _ = writeln!(
            s,
            "{},{},{:.3},{}",
            p.name, p.bytes, p.ns_per_hop, p.huge_kib
        );
    }
    std::fs::write(path, s)
}

fn draw_svg(path: &str, points: &[Point], max: usize) -> Result<(), Box<dyn Error>> {
    let root = SVGBackend::new(path, (960, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let x_max = (max as f64).log2();
    let y_max = points.iter().map(|p| p.ns_per_hop).fold(1.0, f64::max) * 1.5;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Dependent random get (pointer chase, 64-byte values)",
            ("sans-serif", 22),
        )
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(12f64..x_max, (1f64..y_max).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("slab size (bytes of values, log scale)")
        .y_desc("ns per hop (log scale)")
        .x_labels((x_max - 12.0) as usize + 1)
        .x_label_formatter(&|x| fmt_bytes(2f64.powf(x.round()) as usize).replace(' ', ""))
        .y_label_formatter(&|y| format!("{y}"))
        .draw()?;

    // Where the caches and the 4 KiB-page TLB run out.
    let mut marks = caches();
    if let Some((l1, l2)) = tlb_reach_4k() {
        marks.push(("L1 TLB (4K)".into(), l1));
        marks.push(("L2 TLB (4K)".into(), l2));
    }
    for (i, (label, bytes)) in marks.iter().enumerate() {
        if *bytes == 0 {
            continue;
        }
        let x = (*bytes as f64).log2();
        if x < 12.0 || x > x_max {
            continue;
        }
        let grey = RGBColor(150, 150, 150);
        chart.draw_series(LineSeries::new(
            [(x, 1.0), (x, y_max)],
            grey.stroke_width(1),
        ))?;
        let y = y_max / 1.3f64.powi(1 + (i % 3) as i32);
        chart.draw_series(std::iter::once(Text::new(
            format!("{label} {}", fmt_bytes(*bytes)),
            (x + 0.08, y),
            ("sans-serif", 12).into_font().color(&grey),
        )))?;
    }

    let colors = [
        RGBColor(0, 90, 200),
        RGBColor(0, 160, 80),
        RGBColor(220, 40, 40),
        RGBColor(130, 60, 170),
        RGBColor(230, 140, 0),
        RGBColor(0, 170, 170),
        RGBColor(40, 40, 40),
    ];
    let mut names: Vec<&str> = Vec::new();
    for p in points {
        if !names.contains(&p.name.as_str()) {
            names.push(&p.name);
        }
    }
    for (i, name) in names.iter().enumerate() {
        let color = colors[i % colors.len()];
        let line: Vec<(f64, f64)> = points
            .iter()
            .filter(|p| p.name == *name)
            .map(|p| ((p.bytes as f64).log2(), p.ns_per_hop))
            .collect();
        chart
            .draw_series(LineSeries::new(line.clone(), color.stroke_width(2)))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
        chart.draw_series(
            line.iter()
                .map(|&(x, y)| Circle::new((x, y), 3, color.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let max_mib: usize = std::env::var("NEXUS_SCALING_MAX_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let max = max_mib << 20;
    let out = std::env::var("NEXUS_SCALING_OUT").unwrap_or_else(|_| "docs/scaling".into());
    println!(
        "pointer chase over 64-byte values, 4 KiB .. {}",
        fmt_bytes(max)
    );
    let passes = std::env::var("NEXUS_SCALING_PASSES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3usize)
        .max(1);
    let points = sweep(max, passes);
    if let Some(dir) = std::path::Path::new(&out).parent() {
        std::fs::create_dir_all(dir)?;
    }
    write_csv(&format!("{out}.csv"), &points)?;
    draw_svg(&format!("{out}.svg"), &points, max)?;
    println!("wrote {out}.csv and {out}.svg");
    Ok(())
}
