//! The `serde` feature: keys as integers, slabs that come back with every key, every stale
//! key and the next keys as they were, through a self-describing format (JSON) and a compact
//! one without self-description (postcard); and hostile or corrupted snapshots, which must be
//! typed errors that drop what was restored and leak nothing.
#![cfg(feature = "serde")]

mod common;

use common::{DropLog, Rng, Tracked};
use nexus_slab::{
    backing::{Backing, Heap, Mmap},
    new_key_type,
    snapshot::{RestoreLimits, SnapshotError},
    Error, GenKey, Key, Slab, SlabKey,
};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

new_key_type! {
    /// A typed plain key, saved as the key it stands for (serde opted into per type).
    #[derive(Serialize, Deserialize)]
    #[serde(transparent)]
    pub struct OrderKey(Key);
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
    assert_eq!(serde_json::to_string(&Key::new_saturating(7)).unwrap(), "7");
    let g = GenKey::from_bits(3 << 32 | 9).unwrap();
    assert_eq!(
        serde_json::to_string(&g).unwrap(),
        (3u64 << 32 | 9).to_string()
    );
    assert_eq!(json(&g), g);
    assert_eq!(post(&g), g);
    assert_eq!(
        post(&Key::new_saturating(123_456)),
        Key::new_saturating(123_456)
    );
    // Any integer is a Key (too large ones are the key no slab has); even generations are not
    // GenKeys.
    let k: Key = serde_json::from_str("18446744073709551615").unwrap();
    assert_eq!(k, Key::new_saturating(usize::MAX));
    assert!(serde_json::from_str::<GenKey>(&(2u64 << 32).to_string()).is_err());
    assert!(serde_json::from_str::<GenKey>("5").is_err());
    // Typed keys: exactly as their underlying key.
    let o = OrderKey::from(Key::new_saturating(4));
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
    let mut a: Slab<u64, B, K> = Slab::with_capacity(300);
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
    let mut s: Slab<&str, Heap, GenKey> = Slab::new_in(Heap::new());
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
    // Fields in another order mean the same (here: slots 0 and 1 retired).
    let swapped = format!(r#"{{"free":[],"high_water":2,"entries":[],"capacity":{cap}}}"#);
    let ordered = format!(r#"{{"capacity":{cap},"high_water":2,"entries":[],"free":[]}}"#);
    let mut a: Slab<String, Heap, GenKey> = serde_json::from_str(&swapped).unwrap();
    let mut b: Slab<String, Heap, GenKey> = serde_json::from_str(&ordered).unwrap();
    assert_eq!((a.capacity(), a.len()), (b.capacity(), b.len()));
    assert_eq!(a.insert("x".into()).unwrap(), b.insert("x".into()).unwrap());
    assert_eq!(a.vacant_key().unwrap().index(), 3);
}

#[test]
fn a_retired_slot_stays_retired_across_a_round_trip() {
    // Slot 0 at the last generation: its next removal retires it.
    let mut s: Slab<u8, Heap, GenKey> = Slab::new_in(Heap::new());
    s.alloc(4).unwrap();
    let last = GenKey::from_bits(u64::from(u32::MAX) << 32).unwrap();
    s.insert_at(last, 1).unwrap();
    s.remove(last);
    let mut b: Slab<u8, Heap, GenKey> = post(&s);
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
    type G = Slab<String, Heap, GenKey>;
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
            "beyond the restore limit (and any RAM)",
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
    let mut s: Slab<Logged, Heap, GenKey> = Slab::new_in(Heap::new());
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
        let r = postcard::from_bytes::<Slab<Logged, Heap, GenKey>>(&bytes[..cut]);
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
    let whole: Slab<Logged, Heap, GenKey> = postcard::from_bytes(&bytes).unwrap();
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
            if let Ok(mut b) = postcard::from_bytes::<Slab<Logged, Heap, GenKey>>(&bad) {
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
        let mut s: Slab<u64, Mmap, K> = Slab::with_capacity(1 << 20);
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

/// A slab with values, vacated slots and (generational keys) a stale key: what every loader
/// below must bring back exactly.
fn sample<K: SlabKey>() -> Slab<u64, Heap, K> {
    let mut s: Slab<u64, Heap, K> = Slab::new_in(Heap::new());
    s.alloc(16).unwrap();
    let keys: Vec<K> = (0..8).map(|i| s.insert(100 + i).unwrap()).collect();
    s.remove(keys[2]);
    s.remove(keys[5]);
    s.remove(keys[6]);
    s.insert(200).unwrap(); // slot 6 again (a later generation for GenKey)
    s
}

/// `b` is `a` restored: same capacity, same entries in order, same answers to `a`'s keys,
/// and the next inserts get the same keys.
fn assert_restored<K: SlabKey, B: Backing>(
    a: &Slab<u64, Heap, K>,
    mut b: Slab<u64, B, K>,
    how: &str,
) {
    assert_eq!(b.capacity(), a.capacity(), "{how}: capacity");
    assert_eq!(b.len(), a.len(), "{how}: len");
    assert!(a.iter().eq(b.iter()), "{how}: entries");
    let mut a = a.try_clone().unwrap();
    for _ in 0..4 {
        assert_eq!(a.vacant_key(), b.vacant_key(), "{how}: vacant key");
        assert_eq!(a.insert(9).ok(), b.insert(9).ok(), "{how}: next key");
    }
}

/// Every way a user loads a JSON snapshot: from a string, bytes, any reader (a file through
/// a `BufReader` among them), a `serde_json::Value` (whose map sorts the fields) — for both
/// key kinds and typed keys.
fn json_loads_through_every_reader<K: SlabKey>() {
    let s = sample::<K>();
    let text = serde_json::to_string(&s).unwrap();
    type S<K> = Slab<u64, Heap, K>;
    assert_restored(&s, serde_json::from_str::<S<K>>(&text).unwrap(), "from_str");
    assert_restored(
        &s,
        serde_json::from_slice::<S<K>>(text.as_bytes()).unwrap(),
        "from_slice",
    );
    assert_restored(
        &s,
        serde_json::from_reader::<_, S<K>>(text.as_bytes()).unwrap(),
        "from_reader",
    );
    let value = serde_json::to_value(&s).unwrap();
    assert_restored(
        &s,
        serde_json::from_value::<S<K>>(value).unwrap(),
        "from_value (to_value)",
    );
    let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_restored(
        &s,
        serde_json::from_value::<S<K>>(parsed).unwrap(),
        "from_value (parsed)",
    );
    if !cfg!(miri) {
        // Miri's isolation has no file system.
        let dir = std::env::temp_dir().join(format!("nexus-slab-serde-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!(
            "{}.json",
            std::any::type_name::<K>().replace("::", "_")
        ));
        std::fs::write(&path, &text).unwrap();
        let file = std::io::BufReader::new(std::fs::File::open(&path).unwrap());
        let back: S<K> = serde_json::from_reader(file).unwrap();
        assert_restored(&s, back, "from_reader(BufReader<File>)");
        std::fs::remove_file(&path).unwrap();
        let _ = std::fs::remove_dir(&dir);
    }
}

#[test]
fn json_loads_through_every_reader_plain() {
    json_loads_through_every_reader::<Key>();
    json_loads_through_every_reader::<OrderKey>();
}

#[test]
fn json_loads_through_every_reader_generational() {
    json_loads_through_every_reader::<GenKey>();
    json_loads_through_every_reader::<ConnKey>();
}

/// Field names written with escapes (`"capa\u0063ity"`): the reader cannot lend them.
#[test]
fn escaped_field_names_load() {
    fn check<K: SlabKey>() {
        let s = sample::<K>();
        let text = serde_json::to_string(&s).unwrap();
        let escaped = text
            .replace("\"capacity\"", "\"capa\\u0063ity\"")
            .replace("\"high_water\"", "\"high\\u005fwater\"")
            .replace("\"entries\"", "\"\\u0065ntries\"")
            .replace("\"free\"", "\"fre\\u0065\"");
        assert_ne!(escaped, text);
        assert_restored(
            &s,
            serde_json::from_str::<Slab<u64, Heap, K>>(&escaped).unwrap(),
            "escaped",
        );
        let r = serde_json::from_reader::<_, Slab<u64, Heap, K>>(escaped.as_bytes()).unwrap();
        assert_restored(&s, r, "escaped, from_reader");
    }
    check::<Key>();
    check::<GenKey>();
}

/// Every permutation of `items`.
fn permutations<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut out = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(i);
        for mut p in permutations(&rest) {
            p.insert(0, first.clone());
            out.push(p);
        }
    }
    out
}

/// The four fields in all 24 orders, in JSON (from a string and from a reader) and CBOR.
#[test]
fn fields_load_in_every_order() {
    fn check<K: SlabKey>() {
        let s = sample::<K>();
        let value = serde_json::to_value(&s).unwrap();
        let fields: Vec<(String, serde_json::Value)> = value
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(fields.len(), 4);
        let mut cbor = Vec::new();
        ciborium::ser::into_writer(&s, &mut cbor).unwrap();
        let cbor_value: ciborium::value::Value = ciborium::de::from_reader(&cbor[..]).unwrap();
        let ciborium::value::Value::Map(cbor_fields) = cbor_value else {
            panic!("CBOR writes a struct as a map");
        };
        let orders = permutations(&[0, 1, 2, 3]);
        assert_eq!(orders.len(), 24);
        for order in orders {
            let names: Vec<&str> = order.iter().map(|&i| fields[i].0.as_str()).collect();
            let how = names.join(",");
            let body: Vec<String> = order
                .iter()
                .map(|&i| format!("\"{}\":{}", fields[i].0, fields[i].1))
                .collect();
            let text = format!("{{{}}}", body.join(","));
            let back: Slab<u64, Heap, K> = serde_json::from_str(&text).unwrap();
            assert_restored(&s, back, &format!("JSON {how}"));
            let back: Slab<u64, Heap, K> = serde_json::from_reader(text.as_bytes()).unwrap();
            assert_restored(&s, back, &format!("JSON reader {how}"));
            let map: Vec<_> = order.iter().map(|&i| cbor_fields[i].clone()).collect();
            let mut bytes = Vec::new();
            ciborium::ser::into_writer(&ciborium::value::Value::Map(map), &mut bytes).unwrap();
            let back: Slab<u64, Heap, K> = ciborium::de::from_reader(&bytes[..]).unwrap();
            assert_restored(&s, back, &format!("CBOR {how}"));
        }
    }
    check::<Key>();
    check::<GenKey>();
}

/// CBOR, a self-describing binary format, round-trips like JSON and postcard; field names
/// also load as CBOR byte strings, and as field indices (0 to 3) from a format that gives
/// integers.
#[test]
fn cbor_and_other_identifiers_load() {
    fn cbor<T: Serialize + DeserializeOwned>(v: &T) -> T {
        let mut bytes = Vec::new();
        ciborium::ser::into_writer(v, &mut bytes).unwrap();
        ciborium::de::from_reader(&bytes[..]).unwrap()
    }
    round_trip_in_lockstep::<Key, Heap>(cbor, 7);
    round_trip_in_lockstep::<GenKey, Heap>(cbor, 8);
    round_trip_in_lockstep::<ConnKey, Mmap>(cbor, 9);
    fn check<K: SlabKey>() {
        use ciborium::value::Value as C;
        let s = sample::<K>();
        let mut cbor = Vec::new();
        ciborium::ser::into_writer(&s, &mut cbor).unwrap();
        let C::Map(fields) = ciborium::de::from_reader::<C, _>(&cbor[..]).unwrap() else {
            panic!("a map");
        };
        let as_bytes: Vec<(C, C)> = fields
            .into_iter()
            .map(|(k, v)| (C::Bytes(k.as_text().unwrap().as_bytes().to_vec()), v))
            .collect();
        let mut bytes = Vec::new();
        ciborium::ser::into_writer(&C::Map(as_bytes), &mut bytes).unwrap();
        let back: Slab<u64, Heap, K> = ciborium::de::from_reader(&bytes[..]).unwrap();
        assert_restored(&s, back, "CBOR byte-string field names");
        // Field indices, in reverse order, through serde's own map deserializer.
        let value = serde_json::to_value(&s).unwrap();
        let obj = value.as_object().unwrap();
        let by_index: Vec<(u64, serde_json::Value)> = ["free", "entries", "high_water", "capacity"]
            .iter()
            .map(|name| {
                let i = ["capacity", "high_water", "entries", "free"]
                    .iter()
                    .position(|n| n == name)
                    .unwrap() as u64;
                (i, obj[*name].clone())
            })
            .collect();
        let de =
            serde::de::value::MapDeserializer::<_, serde_json::Error>::new(by_index.into_iter());
        let back = Slab::<u64, Heap, K>::deserialize(de).unwrap();
        assert_restored(&s, back, "field indices");
    }
    check::<Key>();
    check::<GenKey>();
}

/// A field twice, a field missing, an unknown field or index: typed errors that name it, in
/// every order.
#[test]
fn duplicate_missing_and_unknown_fields_are_errors() {
    let s = sample::<GenKey>();
    let value = serde_json::to_value(&s).unwrap();
    let obj = value.as_object().unwrap();
    let field = |n: &str| format!("\"{n}\":{}", obj[n]);
    let [c, h, e, f] = ["capacity", "high_water", "entries", "free"].map(field);
    let cases: Vec<(String, &str)> = vec![
        (
            format!("{{{c},{h},{e},{f},{c}}}"),
            "duplicate field `capacity`",
        ),
        (
            format!("{{{c},{e},{h},{e},{f}}}"),
            "duplicate field `entries`",
        ),
        (format!("{{{f},{c},{f},{h},{e}}}"), "duplicate field `free`"),
        (
            format!("{{{h},{h},{c},{e},{f}}}"),
            "duplicate field `high_water`",
        ),
        (format!("{{{c},{h},{e}}}"), "missing field `free`"),
        (format!("{{{f},{e},{h}}}"), "missing field `capacity`"),
        (format!("{{{c},{e},{f}}}"), "missing field `high_water`"),
        (format!("{{{f},{h},{c}}}"), "missing field `entries`"),
        (format!("{{{c},{h},{e},{f},\"x\":1}}"), "unknown field `x`"),
        (format!("{{\"x\":1,{c},{h},{e},{f}}}"), "unknown field `x`"),
    ];
    for (text, want) in &cases {
        let err = serde_json::from_str::<Slab<u64, Heap, GenKey>>(text).unwrap_err();
        assert!(err.to_string().contains(want), "{text}: {err}");
        let err =
            serde_json::from_reader::<_, Slab<u64, Heap, GenKey>>(text.as_bytes()).unwrap_err();
        assert!(err.to_string().contains(want), "{text} (reader): {err}");
    }
    let de = serde::de::value::MapDeserializer::<_, serde_json::Error>::new(
        vec![(4u64, serde_json::Value::from(1))].into_iter(),
    );
    let err = Slab::<u64, Heap, GenKey>::deserialize(de).unwrap_err();
    assert!(err.to_string().contains('4'), "{err}");
}

thread_local! {
    /// Bytes asked of a `Counting` backing on this thread.
    static ASKED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The heap, counting on this thread the bytes a slab asks of it.
#[derive(Default)]
struct Counting(Heap);

// SAFETY: every region comes from the inner `Heap` unchanged, and goes back to it.
unsafe impl Backing for Counting {
    fn granularity(&self) -> usize {
        self.0.granularity()
    }
    fn allocate(
        &mut self,
        layout: std::alloc::Layout,
    ) -> Result<nexus_slab::backing::Region, Error> {
        ASKED.with(|a| a.set(a.get() + layout.size()));
        self.0.allocate(layout)
    }
    unsafe fn release(&mut self, region: nexus_slab::backing::Region, layout: std::alloc::Layout) {
        // SAFETY: forwarded from our caller: the region came from `self.0`.
        unsafe { self.0.release(region, layout) }
    }
}

fn asked() -> usize {
    ASKED.with(|a| a.replace(0))
}

fn empty_json(capacity: usize, high_water: usize) -> String {
    format!(r#"{{"capacity":{capacity},"high_water":{high_water},"entries":[],"free":[]}}"#)
}

/// A postcard varint.
fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
    out
}

/// A snapshot one slot larger than the limit allows is refused with `SnapshotTooLarge` (its
/// message naming the call that raises the limit) before the backing is asked for anything; at
/// the limit it restores; a raised limit lets the larger one through. The plain `Deserialize`
/// holds to `RestoreLimits::DEFAULT_MAX_BYTES`.
#[test]
fn snapshots_over_the_limit_are_refused_before_the_backing_is_asked() {
    fn check<K: SlabKey>(generational: bool) {
        let limit = 64 << 10;
        // The largest capacity within the limit, as `alloc_bytes` computes it.
        let mut probe: Slab<u64, Heap, K> = Slab::new_in(Heap::new());
        probe.alloc_bytes(limit).unwrap();
        let (at, over) = (probe.capacity(), probe.capacity() + 1);
        let mut larger: Slab<u64, Heap, K> = Slab::new_in(Heap::new());
        larger.alloc(over).unwrap();
        let limits = RestoreLimits::new().with_max_bytes(limit);
        asked();
        let text = empty_json(over, 0);
        let mut de = serde_json::Deserializer::from_str(&text);
        let want =
            Slab::<u64, Counting, K>::restore_in(Counting::default(), limits, &mut de).unwrap_err();
        assert_eq!(asked(), 0, "the backing was asked before the refusal");
        match &want {
            SnapshotError::TooLarge {
                capacity,
                bytes,
                limit: l,
                available: None,
                ..
            } => assert_eq!((*capacity, *bytes, *l), (over, larger.memory_size(), limit)),
            other => panic!("expected TooLarge, got {other:?}"),
        }
        assert_eq!(
            want.hint().unwrap(),
            format!(
                "if you trust it, pass `RestoreLimits::new().with_max_bytes({})`",
                larger.memory_size()
            )
        );
        let mut de = serde_json::Deserializer::from_str(&text);
        let err = Slab::<u64, Counting, K>::deserialize_in(Counting::default(), limits, &mut de)
            .unwrap_err();
        assert_eq!(asked(), 0, "the backing was asked before the refusal");
        assert!(err.to_string().starts_with(&want.to_string()), "{err}");
        let bytes = [varint(over as u64), vec![0, 0, 0]].concat();
        let mut de = postcard::Deserializer::from_bytes(&bytes);
        assert!(
            Slab::<u64, Counting, K>::deserialize_in(Counting::default(), limits, &mut de).is_err()
        );
        assert_eq!(
            asked(),
            0,
            "postcard: the backing was asked before the refusal"
        );

        let text = empty_json(at, at);
        let mut de = serde_json::Deserializer::from_str(&text);
        let back = Slab::<u64, Counting, K>::deserialize_in(Counting::default(), limits, &mut de);
        if generational {
            let back = back.unwrap();
            assert!(back.memory_size() <= limit && back.capacity() == at);
        } else {
            assert!(back.is_err(), "plain keys: slots unaccounted for");
        }
        asked();
        let text = empty_json(at, 0);
        let mut de = serde_json::Deserializer::from_str(&text);
        let back =
            Slab::<u64, Counting, K>::deserialize_in(Counting::default(), limits, &mut de).unwrap();
        assert!(back.memory_size() <= limit && back.capacity() == at);
        assert!(asked() > 0);
        let text = empty_json(over, 0);
        let mut de = serde_json::Deserializer::from_str(&text);
        let raised = limits.with_max_bytes(2 * limit);
        let back =
            Slab::<u64, Counting, K>::deserialize_in(Counting::default(), raised, &mut de).unwrap();
        assert_eq!(back.capacity(), over);

        // The plain `Deserialize`: 32 MiB.
        let default = RestoreLimits::DEFAULT_MAX_BYTES;
        let mut probe: Slab<u64, Heap, K> = Slab::new_in(Heap::new());
        if !cfg!(miri) {
            probe.alloc_bytes(default).unwrap();
            let over = probe.capacity() + 1;
            asked();
            let err =
                serde_json::from_str::<Slab<u64, Counting, K>>(&empty_json(over, 0)).unwrap_err();
            assert_eq!(asked(), 0);
            assert!(
                err.to_string()
                    .contains("over the restore limit of 32 MiB: if you trust it"),
                "{err}"
            );
        }
        // The reviewers' 7 bytes of postcard, 2^27 slots of u64: refused, nothing asked.
        let seven = [0x80, 0x80, 0x80, 0x40, 0, 0, 0];
        asked();
        assert!(postcard::from_bytes::<Slab<u64, Counting, K>>(&seven).is_err());
        assert_eq!(asked(), 0);
        drop(probe);
    }
    check::<Key>(false);
    check::<GenKey>(true);
    check::<ConnKey>(true);
}

/// Declared counts that cannot be consistent are refused before the backing is asked for
/// anything: high water over capacity; more entries (or free slots) than slots in use, where
/// the format states the length (postcard) or the entries came before the sizes (JSON in
/// another order).
#[test]
fn inconsistent_sizes_are_refused_before_memory_is_touched() {
    fn check<K: SlabKey>() {
        type S<K> = Slab<u64, Counting, K>;
        asked();
        let cases: Vec<(&str, Vec<u8>)> = vec![
            (
                "high water over capacity",
                [varint(16), varint(17), vec![0, 0]].concat(),
            ),
            // (postcard states a length only when that many bytes are left: one per element
            // at least.)
            (
                "3 entries, 2 slots in use",
                [varint(16), varint(2), varint(3), vec![0, 1, 1, 1, 2, 1, 0]].concat(),
            ),
            (
                "capacity beyond the keys",
                [varint(1 << 32), varint(0), vec![0, 0]].concat(),
            ),
        ];
        for (what, bytes) in &cases {
            assert!(
                postcard::from_bytes::<S<K>>(bytes).is_err(),
                "{what}: accepted"
            );
            assert_eq!(asked(), 0, "{what}: the backing was asked");
        }
        let json_cases = [
            (
                r#"{"capacity":16,"high_water":17,"entries":[],"free":[]}"#,
                "17 slots in use",
            ),
            (
                r#"{"entries":[[1,1],[3,2],[5,3]],"high_water":2,"capacity":16,"free":[]}"#,
                "3 entries declared, but only 2",
            ),
            (
                r#"{"free":[0,1,2],"entries":[],"high_water":2,"capacity":16}"#,
                "3 entries and free slots declared, but only 2",
            ),
            (
                r#"{"free":[0,1,2],"capacity":16,"high_water":2,"entries":[]}"#,
                "3 free slots declared, but only 2",
            ),
            (
                r#"{"free":[0],"entries":[[3,1],[5,1]],"capacity":16,"high_water":2}"#,
                "3 entries and free slots declared, but only 2",
            ),
        ];
        for (text, want) in json_cases {
            let err = serde_json::from_str::<S<K>>(text).unwrap_err();
            assert!(err.to_string().contains(want), "{text}: {err}");
            assert_eq!(asked(), 0, "{text}: the backing was asked");
        }
    }
    check::<Key>();
    check::<GenKey>();
}

/// A value of one 4 KiB page (no snapshot here holds one).
#[derive(Debug)]
struct Page(#[allow(dead_code)] [u8; 4096]);

impl<'de> Deserialize<'de> for Page {
    fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(serde::de::Error::custom("no page is ever read"))
    }
}

/// The memory available now bounds a restore onto base pages, whatever the limit; a huge-page
/// backing is bounded by its pool instead (MemAvailable does not count pool pages).
#[test]
#[cfg_attr(miri, ignore = "reads /proc/meminfo")]
fn restores_beyond_the_memory_available_are_refused() {
    #[cfg(target_os = "linux")]
    {
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
        let kb: usize = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemAvailable:"))
            .unwrap()
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .unwrap();
        // Pages of 4 KiB: twice what is available, well within the keys' reach.
        let capacity = kb * 1024 / 4096 * 2;
        let text = empty_json(capacity, 0);
        let mut de = serde_json::Deserializer::from_str(&text);
        asked();
        let err = Slab::<Page, Counting>::deserialize_in(
            Counting::default(),
            RestoreLimits::unlimited(),
            &mut de,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(asked(), 0, "the backing was asked");
        assert!(err.contains("of memory available now"), "{err}");
        let mut de = serde_json::Deserializer::from_str(&text);
        let err = Slab::<Page, nexus_slab::backing::HugeTlb>::deserialize_in(
            nexus_slab::backing::HugeTlb::default(),
            RestoreLimits::unlimited(),
            &mut de,
        )
        .unwrap_err()
        .to_string();
        // Not refused for want of MemAvailable (pool pages are not in it), but by the pool or
        // the machine's RAM.
        assert!(
            !err.contains("available now")
                && (err.contains("huge pages") || err.contains("of RAM")),
            "{err}"
        );
    }
}
