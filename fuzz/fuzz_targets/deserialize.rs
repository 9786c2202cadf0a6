//! Hostile snapshots: the fuzzer's bytes deserialised as a slab, plain and generational, into a
//! backing that panics when asked for more than the restore's limit allows (the limit must
//! refuse a forged capacity before the backing is asked) and refuses regions over 1 MiB (so
//! fuzzing stays fast). The first byte chooses: bit 0 the key kind, bits 1-5 an order of the
//! four fields (one of 24) and bit 6 escaped field names, for the JSON rewritten below; the
//! rest is the input.
//!
//! The input is read as postcard (under a 1 MiB limit, `deserialize_in`) and, when it is text,
//! as JSON four ways: `from_str` through the plain `Deserialize` (the default 32 MiB limit),
//! `from_reader` (field names the reader does not lend) under a 1 MiB limit, and — when it is a
//! JSON object — rewritten with its fields in the chosen order and possibly escaped, then read
//! by `from_str` and as a `serde_json::Value` (`from_value`: owned names, sorted). The two
//! readings of the same text must agree, and so must the two of the rewritten object (accepted
//! or not; when accepted, the same capacity, keys and next key).
//!
//! Whatever is accepted must be a consistent slab: iteration agrees with `len`, every key found
//! by iteration is found by `get`, and the slab fills with distinct keys, each the one
//! `vacant_key` named, until `is_full` and `Full` agree (plain keys: at capacity; generational
//! ones may hold retired slots). Whatever is refused must leak nothing and drop nothing twice
//! (AddressSanitizer, and the drop counter below).
#![no_main]

use std::alloc::Layout;
use std::cell::Cell;

use libfuzzer_sys::fuzz_target;
use nexus_slab::{Error, GenKey, Key, Slab, SlabKey, backing::{Backing, Heap, Region}, snapshot::RestoreLimits};

/// The limit `deserialize_in` is given here.
const LIMIT: usize = 1 << 20;

thread_local! {
    static LIVE: Cell<i64> = const { Cell::new(0) };
    /// The limit of the restore in progress: a larger request is a bug.
    static ALLOWED: Cell<usize> = const { Cell::new(0) };
}

/// The global heap, panicking when asked for more than the restore's limit and refusing
/// regions over 1 MiB.
#[derive(Default)]
struct Small(Heap);

// SAFETY: every region comes from the inner `Heap` unchanged, and goes back to it.
unsafe impl Backing for Small {
    fn granularity(&self) -> usize {
        self.0.granularity()
    }
    fn allocate(&mut self, layout: Layout) -> Result<Region, Error> {
        let allowed = ALLOWED.with(Cell::get);
        assert!(
            layout.size() <= allowed,
            "a restore asked its backing for {} bytes, over its limit of {allowed}",
            layout.size()
        );
        if layout.size() > LIMIT {
            return Err(Error::other("the fuzzer's backing has no region over 1 MiB"));
        }
        self.0.allocate(layout)
    }
    unsafe fn release(&mut self, region: Region, layout: Layout) {
        // SAFETY: forwarded from our caller: the region came from `self.0`.
        unsafe { self.0.release(region, layout) }
    }
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

type S<K> = Slab<Counted, Small, K>;

/// Restores with `limit` in force (the backing panics beyond it).
fn with_limit<K: SlabKey, E>(
    limit: usize,
    restore: impl FnOnce() -> Result<S<K>, E>,
) -> Option<S<K>> {
    ALLOWED.with(|a| a.set(limit));
    let out = restore().ok();
    ALLOWED.with(|a| a.set(0));
    out
}

fn limits() -> RestoreLimits {
    RestoreLimits::new().with_max_bytes(LIMIT)
}

/// What two readings of the same snapshot must agree on.
fn summary<K: SlabKey>(s: &Option<S<K>>) -> Option<(usize, usize, Vec<usize>, Option<usize>)> {
    s.as_ref().map(|s| {
        (
            s.capacity(),
            s.len(),
            s.keys().map(|k| k.index()).collect(),
            s.vacant_key().map(|k| k.index()),
        )
    })
}

fn check<K: SlabKey>(s: Option<S<K>>, generational: bool) {
    let Some(mut s) = s else { return };
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

/// The `n`-th of the 24 orders of four fields.
fn order(mut n: usize) -> [usize; 4] {
    let mut left = vec![0, 1, 2, 3];
    let mut out = [0; 4];
    for (i, slot) in out.iter_mut().enumerate() {
        let pick = n % (4 - i);
        n /= 4 - i;
        *slot = left.remove(pick);
    }
    out
}

/// A JSON string for `name`, its letters escaped as `\u00XX` when `escape`.
fn json_name(name: &str, escape: bool) -> String {
    if !escape {
        return serde_json::to_string(name).unwrap();
    }
    let mut out = String::from("\"");
    for c in name.chars() {
        out += &format!("\\u{:04x}", c as u32);
    }
    out + "\""
}

fn run<K: SlabKey>(data: &[u8], generational: bool, field_order: usize, escape: bool) {
    let s = with_limit(LIMIT, || {
        S::<K>::deserialize_in(
            Small::default(),
            limits(),
            &mut postcard::Deserializer::from_bytes(data),
        )
    });
    check(s, generational);
    if let Ok(text) = std::str::from_utf8(data) {
        // The same text, borrowed (plain Deserialize, default limit) and through a reader
        // (owned names, 1 MiB limit; the backing refuses over 1 MiB either way).
        let a = with_limit(RestoreLimits::DEFAULT_MAX_BYTES, || {
            serde_json::from_str::<S<K>>(text)
        });
        let b = with_limit(LIMIT, || {
            let mut de = serde_json::Deserializer::from_reader(text.as_bytes());
            // As `from_str` does: nothing but whitespace after the slab.
            S::<K>::deserialize_in(Small::default(), limits(), &mut de)
                .and_then(|s| de.end().map(|()| s))
        });
        assert_eq!(
            summary(&a),
            summary(&b),
            "from_str and from_reader disagree"
        );
        check(a, generational);
        check(b, generational);
        // An object: its fields in the chosen order, names possibly escaped; and as a Value.
        if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(text)
        {
            let fields: Vec<(&String, &serde_json::Value)> = map.iter().collect();
            let mut body = Vec::new();
            for i in order(field_order) {
                if let Some((k, v)) = fields.get(i) {
                    body.push(format!("{}:{v}", json_name(k, escape)));
                }
            }
            // Fields beyond the fourth (unknown ones) go last.
            for (k, v) in fields.iter().skip(4) {
                body.push(format!("{}:{v}", json_name(k, escape)));
            }
            let rewritten = format!("{{{}}}", body.join(","));
            let c = with_limit(LIMIT, || {
                S::<K>::deserialize_in(
                    Small::default(),
                    limits(),
                    &mut serde_json::Deserializer::from_str(&rewritten),
                )
            });
            let value = serde_json::Value::Object(map);
            let d = with_limit(LIMIT, || {
                S::<K>::deserialize_in(Small::default(), limits(), value)
            });
            assert_eq!(
                summary(&c),
                summary(&d),
                "the fields reordered and as a Value disagree: {rewritten}"
            );
            check(c, generational);
            check(d, generational);
        }
    }
    assert_eq!(LIVE.with(|l| l.get()), 0, "a value leaked or dropped twice");
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let (field_order, escape) = (usize::from(which >> 1 & 0x1f), which & 0x40 != 0);
    if which % 2 == 0 {
        run::<Key>(rest, false, field_order, escape);
    } else {
        run::<GenKey>(rest, true, field_order, escape);
    }
});
