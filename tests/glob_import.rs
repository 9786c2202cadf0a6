//! Issue 19: `use nexus_slab::*` brings what a first program needs and shadows no crate a
//! user imports. With `pub mod serde` (before), `use nexus_slab::*; use serde::Serialize;`
//! failed with E0659 (`serde` is ambiguous) as soon as any crate in the build enabled the
//! `serde` feature; this file, compiled with `--all-features`, is that program.
#![allow(unused_imports, dead_code)]

use nexus_slab::*;
#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

#[cfg(feature = "serde")]
#[derive(Serialize, Deserialize)]
struct Order {
    id: u64,
    key: Option<Key>,
}

#[test]
fn a_first_program_needs_only_the_glob() -> Result<(), Box<dyn std::error::Error>> {
    let mut slab: Slab<u64> = Slab::try_with_capacity(16)?;
    let k: Key = slab.insert(7)?;
    assert_eq!(slab[k], 7);
    let mut gen: GenSlab<&str> = GenSlab::try_with_capacity(4)?;
    let g: GenKey = gen.insert("a")?;
    assert_eq!(gen.remove(g), Some("a"));
    let err: Full<u64> = {
        let mut empty: Slab<u64> = Slab::new();
        empty.insert(1).unwrap_err()
    };
    assert_eq!(err.into_inner(), 1);
    Ok(())
}
