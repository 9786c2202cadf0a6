//! Hostile snapshots: the fuzzer's bytes deserialised as a slab (postcard, and JSON when they
//! are text), plain and generational, into a backing that refuses more than 1 MiB (so a
//! forged capacity cannot exhaust the machine). Whatever is accepted must be a consistent
//! slab: iteration agrees with `len`, every key found by iteration is found by `get`, and the
//! slab fills with distinct keys, each the one `vacant_key` named, until `is_full` and `Full`
//! agree (plain keys: at capacity; generational ones may hold retired slots). Whatever is
//! refused must leak nothing and drop nothing twice (AddressSanitizer, and the drop counter
//! below).
#![no_main]

use std::alloc::Layout;
use std::cell::Cell;

use libfuzzer_sys::fuzz_target;
use nexus_slab::{Backing, Error, GenKey, Heap, Key, Region, Slab, SlabKey};

/// The global heap, refusing regions over 1 MiB.
#[derive(Default)]
struct Small(Heap);

// SAFETY: every region comes from the inner `Heap` unchanged, and goes back to it.
unsafe impl Backing for Small {
    fn granularity(&self) -> usize {
        self.0.granularity()
    }
    fn allocate(&mut self, layout: Layout) -> Result<Region, Error> {
        if layout.size() > 1 << 20 {
            return Err(Error::Unsupported {
                what: "regions over 1 MiB",
                reason: "the fuzzer's backing is small".into(),
            });
        }
        self.0.allocate(layout)
    }
    unsafe fn release(&mut self, region: Region, layout: Layout) {
        // SAFETY: forwarded from our caller: the region came from `self.0`.
        unsafe { self.0.release(region, layout) }
    }
}

thread_local! {
    static LIVE: Cell<i64> = const { Cell::new(0) };
}

/// A value that counts itself: created on deserialisation, dropped once.
struct Counted(#[allow(dead_code)] u8);

impl Drop for Counted {
    fn drop(&mut self) {
        LIVE.with(|l| l.set(l.get() - 1));
    }
}

impl<'de> serde::Deserialize<'de> for Counted {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = u8::deserialize(d)?;
        LIVE.with(|l| l.set(l.get() + 1));
        Ok(Counted(v))
    }
}

fn check<K: SlabKey>(mut s: Slab<Counted, Small, K>, generational: bool) {
    let keys: Vec<K> = s.keys().collect();
    assert_eq!(keys.len(), s.len());
    for k in &keys {
        assert!(s.get(*k).is_some());
    }
    let mut slots: Vec<usize> = keys.iter().map(|k| k.index()).collect();
    // Before every insert, `is_full` and `vacant_key` say what the insert will do.
    loop {
        let next = s.vacant_key();
        assert_eq!(
            s.is_full(),
            next.is_none(),
            "is_full and vacant_key disagree"
        );
        LIVE.with(|l| l.set(l.get() + 1));
        match s.insert(Counted(0)) {
            Ok(k) => {
                assert_eq!(
                    Some(k.index()),
                    next.map(|n| n.index()),
                    "not the vacant key"
                );
                slots.push(k.index());
            }
            Err(full) => {
                assert!(next.is_none(), "Full while a key was vacant");
                drop(full);
                break;
            }
        }
    }
    // Plain keys fill every slot; generational ones may hold retired slots, which take none.
    assert!(s.len() <= s.capacity());
    if !generational {
        assert_eq!(
            s.len(),
            s.capacity(),
            "a plain slab full before every slot is used"
        );
    }
    let n = slots.len();
    slots.sort_unstable();
    slots.dedup();
    assert_eq!(slots.len(), n, "two values share a slot");
}

fn run<K: SlabKey>(data: &[u8], generational: bool) {
    if let Ok(s) = postcard::from_bytes::<Slab<Counted, Small, K>>(data) {
        check(s, generational);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(s) = serde_json::from_str::<Slab<Counted, Small, K>>(text) {
            check(s, generational);
        }
    }
    assert_eq!(LIVE.with(|l| l.get()), 0, "a value leaked or dropped twice");
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    if which % 2 == 0 {
        run::<Key>(rest, false);
    } else {
        run::<GenKey>(rest, true);
    }
});
