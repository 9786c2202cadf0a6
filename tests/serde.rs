//! The `serde` feature: keys as integers, slabs that come back with every key, every stale
//! key and the next keys as they were, through a self-describing format (JSON) and a compact
//! one without self-description (postcard); and hostile or corrupted snapshots, which must be
//! typed errors that drop what was restored and leak nothing.
#![cfg(feature = "serde")]

mod common;

use common::{DropLog, Rng, Tracked};
use nexus_slab::{new_key_type, Backing, GenKey, GenSlab, Heap, Key, Mmap, Slab, SlabKey};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

new_key_type! {
    /// A typed plain key, saved as the key it stands for (serde opted into per type).
    #[derive(Serialize, Deserialize)]
    #[serde(transparent)]
    pub struct OrderKey;
    /// A typed generational key.
    #[derive(Serialize, Deserialize)]
    #[serde(transparent)]
    pub struct ConnKey(GenKey);
}

fn json<T: Serialize + DeserializeOwned>(v: &T) -> T {
    serde_json::from_str(&serde_json::to_string(v).unwrap()).unwrap()
}

fn post<T: Serialize + DeserializeOwned>(v: &T) -> T {
    postcard::from_bytes(&postcard::to_allocvec(v).unwrap()).unwrap()
}

#[test]
fn keys_are_integers() {
    assert_eq!(serde_json::to_string(&Key::new(7)).unwrap(), "7");
    let g = GenKey::from_bits(3 << 32 | 9).unwrap();
    assert_eq!(
        serde_json::to_string(&g).unwrap(),
        (3u64 << 32 | 9).to_string()
    );
    assert_eq!(json(&g), g);
    assert_eq!(post(&g), g);
    assert_eq!(post(&Key::new(123_456)), Key::new(123_456));
    // Any integer is a Key (too large ones are the key no slab has); even generations are not
    // GenKeys.
    let k: Key = serde_json::from_str("18446744073709551615").unwrap();
    assert_eq!(k, Key::new(usize::MAX));
    assert!(serde_json::from_str::<GenKey>(&(2u64 << 32).to_string()).is_err());
    assert!(serde_json::from_str::<GenKey>("5").is_err());
    // Typed keys: exactly as their underlying key.
    let o = OrderKey::from(Key::new(4));
    assert_eq!(serde_json::to_string(&o).unwrap(), "4");
    assert_eq!(json(&o), o);
    let c = ConnKey::from(g);
    assert_eq!(
        serde_json::to_string(&c).unwrap(),
        serde_json::to_string(&g).unwrap()
    );
    assert_eq!(post(&c), c);
}

/// Runs random operations on `a`, then round-trips it through `trip` and checks that the
/// copy answers every lookup (live and stale keys) and the next operations exactly as the
/// original does.
/// A round trip through one format.
type Trip<B, K> = fn(&Slab<u64, B, K>) -> Slab<u64, B, K>;

fn round_trip_in_lockstep<K, B>(trip: Trip<B, K>, seed: u64)
where
    K: SlabKey,
    B: Backing + Default,
{
    let mut rng = Rng::new(seed);
    let mut a: Slab<u64, B, K> = Slab::with_capacity(300).unwrap();
    let mut keys: Vec<K> = Vec::new();
    let rounds = if cfg!(miri) { 2 } else { 20 };
    for round in 0..rounds {
        let steps = if cfg!(miri) { 60 } else { 400 };
        for step in 0..steps {
            match rng.below(10) {
                0..=5 => {
                    if let Ok(k) = a.insert(step) {
                        keys.push(k);
                    }
                }
                6..=8 if !keys.is_empty() => {
                    let k = keys[rng.below(keys.len())];
                    a.remove(k);
                }
                _ if round % 7 == 6 => a.clear(),
                _ => {}
            }
        }
        let mut b = trip(&a);
        assert_eq!(b.capacity(), a.capacity());
        assert_eq!(b.len(), a.len());
        assert!(a.iter().eq(b.iter()), "same entries, same order");
        for &k in &keys {
            assert_eq!(a.get(k), b.get(k), "{k:?}");
        }
        for _ in 0..8 {
            assert_eq!(a.vacant_key(), b.vacant_key());
            let (ka, kb) = (a.insert(1), b.insert(1));
            assert_eq!(ka.ok(), kb.ok(), "the next inserts give the same keys");
            if let Some(&k) = keys.get(rng.below(keys.len().max(1))) {
                assert_eq!(a.remove(k), b.remove(k));
            }
        }
        a = b; // go on from the copy
    }
}

#[test]
fn plain_slabs_round_trip_through_json_and_postcard() {
    round_trip_in_lockstep::<Key, Heap>(json, 1);
    round_trip_in_lockstep::<Key, Mmap>(post, 2);
    round_trip_in_lockstep::<OrderKey, Heap>(post, 3);
}

#[test]
fn generational_slabs_keep_stale_keys_stale() {
    round_trip_in_lockstep::<GenKey, Heap>(json, 4);
    round_trip_in_lockstep::<GenKey, Mmap>(post, 5);
    round_trip_in_lockstep::<ConnKey, Heap>(json, 6);
}

#[test]
fn an_unallocated_slab_round_trips_unallocated() {
    let s: Slab<String, Heap> = Slab::new_in(Heap::new());
    let b: Slab<String, Heap> = json(&s);
    assert!(!b.is_allocated());
    let b: Slab<String, Heap> = post(&s);
    assert_eq!(b.capacity(), 0);
}

#[test]
fn the_format_is_as_documented() {
    let mut s: GenSlab<&str, Heap> = Slab::new_in(Heap::new());
    s.alloc(3).unwrap();
    let cap = s.capacity();
    let a = s.insert("a").unwrap();
    let b = s.insert("b").unwrap();
    s.remove(a);
    let text = serde_json::to_string(&s).unwrap();
    let want = format!(
        r#"{{"capacity":{cap},"high_water":2,"entries":[[{},"b"]],"free":[{}]}}"#,
        b.to_bits(),
        2u64 << 32
    );
    assert_eq!(text, want);
    // Fields out of order are refused with the order in the message.
    let swapped = format!(r#"{{"high_water":2,"capacity":{cap},"entries":[],"free":[]}}"#);
    let err = serde_json::from_str::<GenSlab<String, Heap>>(&swapped).unwrap_err();
    assert!(err.to_string().contains("capacity, high_water"), "{err}");
}

#[test]
fn a_retired_slot_stays_retired_across_a_round_trip() {
    // Slot 0 at the last generation: its next removal retires it.
    let mut s: GenSlab<u8, Heap> = Slab::new_in(Heap::new());
    s.alloc(4).unwrap();
    let last = GenKey::from_bits(u64::from(u32::MAX) << 32).unwrap();
    s.insert_at(last, 1).unwrap();
    s.remove(last);
    let mut b: GenSlab<u8, Heap> = post(&s);
    for _ in 0..b.capacity() - 1 {
        assert_ne!(b.insert(0).unwrap().index(), 0, "a retired slot came back");
    }
    assert!(b.is_full() || b.insert(0).is_err());
    // Full with one value fewer than slots, and every way of asking agrees.
    assert!(b.is_full(), "the retired slot is no room");
    assert_eq!((b.len(), b.vacant_key()), (b.capacity() - 1, None));
    assert!(b.vacant_entry().is_err() && b.insert(0).is_err());
    assert!(b.insert_at(GenKey::from_bits(1 << 32).unwrap(), 9).is_err());
}

/// Hostile JSON: each must be an error, drop what was restored, and leak nothing.
#[test]
fn corrupt_snapshots_are_typed_errors() {
    type G = GenSlab<String, Heap>;
    type P = Slab<String, Heap>;
    let cap = {
        let s: P = Slab::new_in(Heap::new()).tap(|s| s.alloc(4).unwrap());
        s.capacity()
    };
    let cases: Vec<(&str, String)> = vec![
        (
            "duplicate key",
            format!(
                r#"{{"capacity":{cap},"high_water":2,"entries":[[0,"a"],[0,"b"]],"free":[1]}}"#
            ),
        ),
        (
            "entry beyond high water",
            format!(r#"{{"capacity":{cap},"high_water":1,"entries":[[3,"a"]],"free":[]}}"#),
        ),
        (
            "high water beyond capacity",
            format!(
                r#"{{"capacity":{cap},"high_water":{},"entries":[],"free":[]}}"#,
                cap + 1
            ),
        ),
        (
            "free and occupied",
            format!(r#"{{"capacity":{cap},"high_water":2,"entries":[[0,"a"]],"free":[0,1]}}"#),
        ),
        (
            "free twice",
            format!(r#"{{"capacity":{cap},"high_water":2,"entries":[],"free":[1,1]}}"#),
        ),
        (
            "slots unaccounted for",
            format!(r#"{{"capacity":{cap},"high_water":3,"entries":[[0,"a"]],"free":[1]}}"#),
        ),
        (
            "free with a generation",
            format!(
                r#"{{"capacity":{cap},"high_water":1,"entries":[],"free":[{}]}}"#,
                2u64 << 32
            ),
        ),
        (
            "unallocated with slots in use",
            r#"{"capacity":0,"high_water":1,"entries":[],"free":[]}"#.to_string(),
        ),
        (
            "beyond any RAM",
            r#"{"capacity":4294967290,"high_water":0,"entries":[],"free":[]}"#.to_string(),
        ),
        (
            "beyond the key space",
            r#"{"capacity":4294967296,"high_water":0,"entries":[],"free":[]}"#.to_string(),
        ),
        (
            "truncated",
            format!(r#"{{"capacity":{cap},"high_water":2,"entries":[[0,"a"]"#),
        ),
        (
            "missing field",
            format!(r#"{{"capacity":{cap},"high_water":0,"entries":[]}}"#),
        ),
        (
            "unknown field",
            format!(r#"{{"capacity":{cap},"high_water":0,"entries":[],"free":[],"x":1}}"#),
        ),
    ];
    for (what, text) in &cases {
        if cfg!(miri) && what.starts_with("beyond") {
            continue; // needs the machine's RAM size
        }
        let err = serde_json::from_str::<P>(text).err();
        assert!(err.is_some(), "{what}: accepted");
    }
    let g = |e: u64| e;
    let gen_cases: Vec<(&str, String)> = vec![
        (
            "even generation on an entry",
            format!(
                r#"{{"capacity":{cap},"high_water":1,"entries":[[{},"a"]],"free":[]}}"#,
                g(2 << 32)
            ),
        ),
        (
            "generation 0 on an entry",
            format!(r#"{{"capacity":{cap},"high_water":1,"entries":[[0,"a"]],"free":[]}}"#),
        ),
        (
            "odd generation on a free slot",
            format!(
                r#"{{"capacity":{cap},"high_water":1,"entries":[],"free":[{}]}}"#,
                g(3 << 32)
            ),
        ),
        (
            "free slot beyond high water",
            format!(
                r#"{{"capacity":{cap},"high_water":1,"entries":[],"free":[{}]}}"#,
                g(2 << 32 | 2)
            ),
        ),
        (
            "entry on a free slot",
            format!(
                r#"{{"capacity":{cap},"high_water":1,"entries":[[{},"a"]],"free":[{}]}}"#,
                g(1 << 32),
                g(2 << 32)
            ),
        ),
    ];
    for (what, text) in &gen_cases {
        let err = serde_json::from_str::<G>(text).err();
        assert!(err.is_some(), "{what}: accepted");
        let msg = err.unwrap().to_string();
        assert!(
            msg.contains("corrupt") || msg.contains("generation"),
            "{what}: {msg}"
        );
    }
    // Slots below high water that are neither entries nor free are retired in a generational
    // slab (never reused), and an error in a plain one.
    let retired = format!(r#"{{"capacity":{cap},"high_water":2,"entries":[],"free":[]}}"#);
    let mut r: G = serde_json::from_str(&retired).unwrap();
    assert!(serde_json::from_str::<P>(&retired).is_err());
    let k = r.insert("x".into()).unwrap();
    assert_eq!(k.index(), 2, "slots 0 and 1 are retired");
}

/// A value whose drops are logged: a failed restore drops what it had restored, once.
#[derive(Debug)]
struct Logged(Tracked);

impl Serialize for Logged {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0.id)
    }
}

thread_local! {
    static LOG: DropLog = DropLog::new();
    /// Values made by `Logged::deserialize` so far.
    static MADE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

impl<'de> Deserialize<'de> for Logged {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let id = u64::deserialize(d)?;
        MADE.with(|m| m.set(m.get() + 1));
        Ok(Logged(LOG.with(|l| l.item(id))))
    }
}

/// Every prefix of a valid postcard snapshot is refused and drops exactly the values it had
/// restored; every single-byte corruption is refused or restores a consistent slab.
#[test]
fn truncated_and_corrupted_postcard_never_leaks_or_double_drops() {
    let mut s: GenSlab<Logged, Heap> = Slab::new_in(Heap::new());
    s.alloc(16).unwrap();
    let keys: Vec<GenKey> = (0..12)
        .map(|i| s.insert(Logged(LOG.with(|l| l.item(i)))).unwrap())
        .collect();
    for k in keys.iter().step_by(3) {
        s.remove(*k);
    }
    let bytes = postcard::to_allocvec(&s).unwrap();
    let log = LOG.with(|l| l.clone());
    let made = || MADE.with(|m| m.get());
    for cut in 0..bytes.len() {
        let (drops, made_before) = (log.drops(), made());
        let r = postcard::from_bytes::<GenSlab<Logged, Heap>>(&bytes[..cut]);
        assert!(
            r.is_err(),
            "a snapshot cut at {cut} of {} was accepted",
            bytes.len()
        );
        assert_eq!(
            log.drops() - drops,
            made() - made_before,
            "cut {cut}: every value restored before the error is dropped"
        );
    }
    let whole: GenSlab<Logged, Heap> = postcard::from_bytes(&bytes).unwrap();
    assert!(keys
        .iter()
        .all(|k| whole.get(*k).map(|v| v.0.id) == s.get(*k).map(|v| v.0.id)));
    drop(whole);
    let mut fillers = 0;
    let step = if cfg!(miri) { 7 } else { 1 };
    for at in (0..bytes.len()).step_by(step) {
        for flip in [1u8, 0x80, 0xff] {
            let mut bad = bytes.clone();
            bad[at] ^= flip;
            if let Ok(mut b) = postcard::from_bytes::<GenSlab<Logged, Heap>>(&bad) {
                // Accepted: it must be a consistent slab that fills with distinct keys.
                assert_eq!(b.iter().count(), b.len());
                let mut got: Vec<GenKey> = b.keys().collect();
                while let Ok(k) = b.insert(Logged(LOG.with(|l| l.item(999)))) {
                    got.push(k);
                    fillers += 1;
                }
                fillers += 1; // the value the full slab handed back, dropped
                let n = got.len();
                got.sort_unstable_by_key(|k| k.index());
                got.dedup_by_key(|k| k.index());
                assert_eq!(got.len(), n, "two values share a slot");
                assert_eq!(b.len(), n);
            }
        }
    }
    drop(s);
    // Every value ever made (12 originals, the restored ones, the fillers) dropped once.
    assert_eq!(log.drops(), 12 + made() + fillers);
}

trait Tap: Sized {
    fn tap(mut self, f: impl FnOnce(&mut Self)) -> Self {
        f(&mut self);
        self
    }
}
impl<T> Tap for T {}

/// Bytes per entry of a 1Mi-entry slab of `u64`, in both formats (printed for the notes).
#[test]
#[cfg_attr(miri, ignore = "1Mi entries is too slow under Miri")]
fn bytes_per_entry_of_a_large_slab() {
    fn measure<K: SlabKey>(label: &str) {
        let mut s: Slab<u64, Mmap, K> = Slab::with_capacity(1 << 20).unwrap();
        let mut rng = Rng::new(9);
        while s.len() < 1 << 20 {
            s.insert(rng.next()).unwrap();
        }
        let j = serde_json::to_vec(&s).unwrap();
        let p = postcard::to_allocvec(&s).unwrap();
        let n = s.len() as f64;
        eprintln!(
            "{label}: {} entries: JSON {:.2} B/entry, postcard {:.2} B/entry",
            s.len(),
            j.len() as f64 / n,
            p.len() as f64 / n
        );
        // Compact format: at most a varint key and a varint value (10 bytes each), plus framing.
        assert!((p.len() as f64 / n) < 20.0);
        let back: Slab<u64, Mmap, K> = postcard::from_bytes(&p).unwrap();
        assert!(back.iter().eq(s.iter()));
        let back: Slab<u64, Mmap, K> = serde_json::from_slice(&j).unwrap();
        assert_eq!(back.len(), s.len());
    }
    measure::<Key>("Key");
    measure::<GenKey>("GenKey");
}
