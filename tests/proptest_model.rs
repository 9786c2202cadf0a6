//! Property tests: random sequences of every slab operation, run against the model in
//! `tests/model/mod.rs` (key → value map, LIFO free list, high-water mark, drop counts), on
//! every backing, at requested capacities 1, 2, 7, 64 and 4097. Proptest shrinks a failing
//! sequence to a minimal one and prints it.
//!
//! The value types are padded so that the requested capacity is what one page holds where
//! possible (1, 2 and 7); the model always takes the capacity the slab reports.
//!
//! Each test prints its case and operation counts (`cargo test --test proptest_model --
//! --nocapture`) and fails if a run did fewer than 50 000 slab operations natively, so a CI
//! run does at least 100 000 in total. Under Miri a few short cases per configuration run.
//! `NEXUS_SLAB_PROPTEST_CASES=n` runs fewer cases (CI's runs on musl, the MSRV and the lowest
//! versions), with the floor scaled to match.

mod common;
mod model;

use std::cell::Cell;

use model::{KeySel, ModelKey, Op};
use nexus_slab::{
    backing::{Backing, CloneBacking, Heap, HugeTlb, Locked, Mmap},
    GenKey, HugeSlab, Key,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};

/// Sequences per (backing, capacity) configuration.
const CASES: u32 = if cfg!(miri) { 2 } else { 256 };

/// `CASES`, or fewer where `NEXUS_SLAB_PROPTEST_CASES` says so: CI's second runs of the suite
/// (musl, MSRV, minimal versions) check that the model runs there, not the model again, and
/// take a quarter of a minute instead of a minute each. The full run is `cargo test`'s.
fn cases() -> u32 {
    std::env::var("NEXUS_SLAB_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(CASES, |n: u32| n.clamp(1, CASES))
}
/// Longest sequence.
const MAX_LEN: usize = if cfg!(miri) { 16 } else { 200 };
/// Largest `InsertMany`: enough to fill the largest slab natively.
const MAX_MANY: u16 = if cfg!(miri) { 40 } else { 5000 };

fn key_sel() -> impl Strategy<Value = KeySel> {
    prop_oneof![
        4 => any::<u16>().prop_map(KeySel::Live),
        2 => any::<u32>().prop_map(KeySel::Raw),
        1 => any::<u8>().prop_map(KeySel::Extreme),
        1 => any::<u16>().prop_map(KeySel::Old),
        2 => any::<u64>().prop_map(KeySel::Bits),
        // Forged keys at the last generations, folded onto real slots: `insert_at` one and
        // remove it, and the slot's generation would wrap, so the slab retires it.
        1 => (any::<u16>(), 0..3u64).prop_map(|(i, back)| KeySel::Bits(
            ((u32::MAX as u64 - back) << 32) | 1 << 31 | i as u64
        )),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => Just(Op::Insert),
        1 => (0..MAX_MANY).prop_map(Op::InsertMany),
        6 => key_sel().prop_map(Op::Remove),
        3 => key_sel().prop_map(Op::Get),
        2 => key_sel().prop_map(Op::GetMut),
        2 => any::<bool>().prop_map(|insert| Op::VacantEntry { insert }),
        1 => Just(Op::Clear),
        1 => any::<u8>().prop_map(|salt| Op::Retain { salt }),
        1 => (0..8u16, 0..8u16).prop_map(|(front, back)| Op::Drain { front, back }),
        1 => (0..3u8).prop_map(|mode| Op::Iter { mode }),
        1 => Just(Op::IterMut),
        2 => [key_sel(), key_sel(), key_sel()].prop_map(Op::GetDisjointMut),
        1 => (0..8u16, 0..8u16).prop_map(|(front, back)| Op::IntoIter { front, back }),
        2 => key_sel().prop_map(Op::InsertAt),
        1 => key_sel().prop_map(Op::KeyOf),
        1 => any::<u8>().prop_map(|mode| Op::Parts { mode }),
        1 => Just(Op::TryClone),
        1 => Just(Op::RoundTrip),
    ]
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(op(), 1..MAX_LEN)
}

/// What one configuration ran.
struct Ran {
    cases: u64,
    /// Operations of the sequences (an `InsertMany` is one).
    steps: u64,
    /// Slab calls made (an `InsertMany` counts each insert).
    calls: u64,
    capacity: usize,
}

/// Runs the property for one configuration.
fn check<const PAD: usize, B: Backing + Default + CloneBacking, K: ModelKey>(
    label: &str,
    requested: usize,
) -> Ran {
    let config = Config {
        cases: cases(),
        // Failing sequences are saved here and replayed first on the next run.
        failure_persistence: if cfg!(miri) {
            None // Miri's isolation forbids the file system
        } else {
            Some(Box::new(FileFailurePersistence::Direct(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/proptest-regressions/proptest_model.txt"
            ))))
        },
        ..Config::default()
    };
    let cases = Cell::new(0u64);
    let total = Cell::new(0u64);
    let steps = Cell::new(0u64);
    let mut runner = TestRunner::new(config);
    let result = runner.run(&ops(), |ops| {
        let n = model::run_keyed::<PAD, B, K>(requested, &ops);
        cases.set(cases.get() + 1);
        total.set(total.get() + n);
        steps.set(steps.get() + ops.len() as u64);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{label}, requested capacity {requested}: {e}");
    }
    Ran {
        cases: cases.get(),
        steps: steps.get(),
        calls: total.get(),
        capacity: model::Runner::<PAD, B, K>::new(requested).capacity(),
    }
}

fn every_capacity<B: Backing + Default + CloneBacking>(backing: &str) {
    report(
        backing,
        &[
            (1, check::<4000, B, Key>(backing, 1)),
            (2, check::<1984, B, Key>(backing, 2)),
            (7, check::<536, B, Key>(backing, 7)),
            (64, check::<40, B, Key>(backing, 64)),
            (4097, check::<0, B, Key>(backing, 4097)),
        ],
        50_000,
    );
}

/// Prints what ran and checks the total (natively).
fn report(label: &str, runs: &[(usize, Ran)], at_least: u64) {
    let (mut steps, mut calls) = (0, 0);
    for (requested, r) in runs {
        println!(
            "proptest_model {label}: requested {requested:>4}, capacity {:>4}: {} cases, \
             {} operations, {} slab calls",
            r.capacity, r.cases, r.steps, r.calls
        );
        steps += r.steps;
        calls += r.calls;
    }
    println!("proptest_model {label}: {steps} operations ({calls} slab calls) in total");
    if !cfg!(miri) {
        // Scaled with the cases asked for (the full count unless CI asked for fewer).
        let at_least = at_least * u64::from(cases()) / u64::from(CASES);
        assert!(steps >= at_least, "only {steps} operations on {label}");
    }
}

#[test]
fn model_on_mmap() {
    every_capacity::<Mmap>("mmap");
}

#[test]
fn model_on_heap() {
    every_capacity::<Heap>("heap");
}

/// Generational keys: stale keys miss, generations advance on insert and removal, and clear or
/// drain keep the free list (no key is ever repeated).
#[test]
fn model_with_generational_keys() {
    report(
        "genkey",
        &[
            (1, check::<4000, Mmap, GenKey>("genkey mmap", 1)),
            (7, check::<536, Mmap, GenKey>("genkey mmap", 7)),
            (4097, check::<0, Mmap, GenKey>("genkey mmap", 4097)),
            (2, check::<1984, Heap, GenKey>("genkey heap", 2)),
            (64, check::<40, Heap, GenKey>("genkey heap", 64)),
        ],
        40_000,
    );
}

#[test]
#[cfg_attr(miri, ignore = "Miri does not model mlock")]
fn model_on_locked_backings() {
    report(
        "locked",
        &[
            (7, check::<536, Locked<Mmap>, Key>("locked mmap", 7)),
            (4097, check::<0, Locked<Heap>, Key>("locked heap", 4097)),
        ],
        15_000,
    );
}

#[test]
#[cfg_attr(miri, ignore = "Miri does not model hugetlb mappings")]
fn model_on_hugetlb() {
    // Each case's slab takes one 2 MiB page.
    if let Err(e) = HugeSlab::<u64>::try_with_capacity(1) {
        if !cfg!(target_os = "linux") {
            common::skip::cannot_run(&format!("a hugetlb slab cannot be allocated here: {e}"));
        } else if common::skip::have_huge_pages(2 << 20, 1) {
            panic!("a 2 MiB huge page is free, yet a hugetlb slab fails: {e}");
        }
        return;
    }
    report(
        "hugetlb",
        &[
            (1, check::<4000, HugeTlb, Key>("hugetlb", 1)),
            (4097, check::<0, HugeTlb, GenKey>("hugetlb genkey", 4097)),
        ],
        15_000,
    );
}

/// A slot whose generation would wrap is retired, and the model follows it: found by the
/// fuzzer (CI, 2026-11), when the model still refused to go there. A key forged at the last
/// generation is restored with `insert_at` and removed; the slot must then stay out of use —
/// no insert hands it out again, `insert_at` refuses it as stale, lookups miss — through
/// clear, `try_clone`, a serde round trip and filling the slab.
#[test]
fn a_slot_retired_at_the_last_generation_stays_retired() {
    let last =
        |index: u64, back: u64| KeySel::Bits(((u32::MAX as u64 - back) << 32) | 1 << 31 | index);
    for index in [0, 3, 6] {
        let ops = [
            Op::Insert,
            Op::InsertAt(last(index, 0)),
            Op::Remove(last(index, 0)),
            Op::InsertAt(last(index, 0)),
            Op::InsertAt(last(index, 2)),
            Op::Get(last(index, 0)),
            Op::GetDisjointMut([last(index, 0), KeySel::Live(0), KeySel::Live(1)]),
            Op::InsertMany(10),
            Op::Clear,
            Op::TryClone,
            Op::RoundTrip,
            Op::InsertMany(10),
            Op::InsertAt(last(index, 0)),
            Op::Retain { salt: 0 },
            Op::Drain { front: 1, back: 1 },
            Op::InsertMany(10),
        ];
        // Seven slots: every op ran (an `InsertMany` counts each insert).
        assert!(model::run_keyed::<536, Mmap, GenKey>(7, &ops) >= ops.len() as u64);
    }
}

/// The byte decoder the fuzz target uses: every input decodes, and a known program runs.
#[test]
fn fuzz_decoder_runs_any_bytes() {
    let program = [
        0u8, 0, 0, 5, 0, 0, 0, 9, 0, 14, 0, 0, 0, 0, 0, 1, 2, 0, 1, 10, 13, 2,
    ];
    let ops = model::decode(&program);
    assert_eq!(ops[0], Op::Insert);
    assert!(ops.len() >= 8);
    assert!(model::run::<0, Heap>(7, &ops) >= 8);
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let rounds = if cfg!(miri) { 3 } else { 300 };
    for len in 0..rounds {
        let bytes: Vec<u8> = (0..len % 97)
            .map(|_| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng as u8
            })
            .collect();
        model::run::<536, Mmap>(7, &model::decode(&bytes));
    }
}
