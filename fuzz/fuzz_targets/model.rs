//! The fuzzer's bytes as a sequence of slab operations, run against the model that the
//! property tests use (`tests/model/mod.rs`): the first byte picks the backing and capacity,
//! the rest decode into operations (`model::decode`). Any disagreement with the model, double
//! drop, leak or memory error (AddressSanitizer) is a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nexus_slab::{GenKey, backing::{Heap, Locked, Mmap}};

#[path = "../../tests/model/mod.rs"]
mod model;

fuzz_target!(|data: &[u8]| {
    let Some((&config, rest)) = data.split_first() else {
        return;
    };
    let ops = model::decode(rest);
    // Capacities 1, 2, 7 (one page of padded values), 64 (rounded up to 127) and 4097.
    match config % 14 {
        0 => model::run::<4000, Mmap>(1, &ops),
        1 => model::run::<1984, Mmap>(2, &ops),
        2 => model::run::<536, Mmap>(7, &ops),
        3 => model::run::<40, Mmap>(64, &ops),
        4 => model::run::<0, Mmap>(4097, &ops),
        5 => model::run::<4000, Heap>(1, &ops),
        6 => model::run::<1984, Heap>(2, &ops),
        7 => model::run::<536, Heap>(7, &ops),
        8 => model::run::<40, Heap>(64, &ops),
        9 => model::run::<0, Heap>(4097, &ops),
        10 => model::run::<536, Locked<Mmap>>(7, &ops),
        11 => model::run::<0, Locked<Heap>>(4097, &ops),
        // Generational keys: stale keys must miss, clear/drain keep the free list.
        12 => model::run_keyed::<536, Mmap, GenKey>(7, &ops),
        _ => model::run_keyed::<0, Heap, GenKey>(4097, &ops),
    };
});
