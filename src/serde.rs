//! Snapshot and restore with serde (the `serde` feature): keys as integers, and whole slabs
//! that come back with every key, every stale key and the next keys as they were.
//!
//! # Format
//!
//! - [`Key`]: its index, an unsigned integer. Any integer deserialises (as `Key::new` takes
//!   any `usize`).
//! - [`GenKey`]: [`to_bits`](GenKey::to_bits), a `u64` (generation in the high half). Bits
//!   that no slab hands out (generation 0 or even) are refused with an error.
//! - Typed keys ([`new_key_type!`](crate::new_key_type)): as the key they stand for.
//! - A [`Slab`]: a struct `Slab` of four fields, written in this order:
//!   - `capacity`: slots (`u64`; 0 for a slab never allocated);
//!   - `high_water`: slots ever used since the last restart (`u64`); slots above it are
//!     fresh;
//!   - `entries`: `(key, value)` pairs in ascending key order, each key as a `u64` (a plain
//!     key's index, a generational key's bits);
//!   - `free`: the vacated slots in the order the next inserts will take them, each a `u64`:
//!     the index, or for generational slabs `generation << 32 | index` with the slot's (even)
//!     generation. Generational slots below `high_water` that are neither entries nor free
//!     are retired and stay so.
//!
//!   Self-describing formats (JSON, CBOR, YAML ...) give it as a map, and read its fields in
//!   any order: by name, borrowed from the input or not (`serde_json::from_reader`,
//!   `from_value`, escaped names), as text or bytes, or by index (0 to 3). Entries and free
//!   slots that come before both sizes are held until the sizes are known, in memory in
//!   proportion to the input. Each field must come once. Formats without self-description
//!   (postcard, bincode) give it as a sequence, in the order above.
//!
//! A slab deserialises into a freshly allocated slab of exactly that capacity on a default
//! backing (or on the one given to [`Slab::deserialize_in`]): every key finds the value it
//! found before, every stale generational key stays stale, and the next inserts return the
//! keys they would have returned. Input no slab could have written — duplicate or
//! out-of-range keys, a slot both occupied and free, an even generation on an entry, slots
//! unaccounted for, more entries than slots in use, a missing or repeated field, a truncated
//! stream — is a typed error ([`Error::Corrupt`] and the allocation errors, as the format's
//! error), never undefined behaviour: values restored before the error are dropped and the
//! memory released.
//!
//! ```
//! use nexus_slab::{GenSlab, Heap, Slab};
//!
//! let mut slab: GenSlab<String> = GenSlab::with_capacity(64).unwrap();
//! let a = slab.insert("a".to_string()).unwrap();
//! let b = slab.insert("b".to_string()).unwrap();
//! slab.remove(a);
//!
//! let json = serde_json::to_string(&slab).unwrap();
//! let mut back: GenSlab<String> = serde_json::from_str(&json).unwrap();
//! assert_eq!(back[b], "b");
//! assert!(!back.contains(a)); // stale stays stale
//! assert_eq!(back.insert("c".into()).unwrap(), slab.insert("c".into()).unwrap());
//!
//! // From any reader (a file, a socket), with the fields in any order.
//! let value: serde_json::Value = serde_json::from_str(&json).unwrap(); // sorts the fields
//! let text = value.to_string();
//! let back: GenSlab<String> = serde_json::from_reader(text.as_bytes()).unwrap();
//! assert_eq!(back[b], "b");
//! ```
//!
//! # What a restore may cost: [`RestoreLimits`]
//!
//! A snapshot declares its capacity before any entry, and the slab is allocated at that
//! capacity, so without a bound a few bytes could claim all of the machine's memory (and, on
//! `Locked` or `HugeTlb` backings, pin it or drain a shared huge-page pool). Before the backing
//! is asked for anything, the declared sizes are checked: the slab's
//! [`memory_size`](Slab::memory_size) must be within the restore's limit and, on a backing of
//! base pages, within the memory available now (`MemAvailable`); high water within capacity;
//! and where the format states the number of entries (postcard does) or they came before the
//! sizes, no more of them than slots in use. A slab over the limit is
//! [`Error::SnapshotTooLarge`], which names the call that raises the limit.
//!
//! The plain `Deserialize` impl allows [`RestoreLimits::DEFAULT_MAX_BYTES`], **32 MiB**: no
//! input makes it allocate more. A slab larger than that, restored from a snapshot you trust,
//! takes an explicit limit:
//!
//! ```
//! use nexus_slab::{Mmap, RestoreLimits, Slab};
//!
//! let orders: Slab<u64> = Slab::with_capacity(5 << 20).unwrap(); // 40 MiB
//! let saved = serde_json::to_vec(&orders).unwrap();
//!
//! let refused = serde_json::from_slice::<Slab<u64>>(&saved).unwrap_err();
//! assert!(refused.to_string().contains("over the restore limit"));
//!
//! let limits = RestoreLimits::new().with_max_bytes(1 << 30); // up to 1 GiB
//! let mut de = serde_json::Deserializer::from_slice(&saved);
//! let slab: Slab<u64> = Slab::deserialize_in(Mmap::new(), limits, &mut de).unwrap();
//! assert_eq!(slab.capacity(), orders.capacity());
//! ```
//!
//! A slab inside a struct of your own takes its limit through `deserialize_with`:
//!
//! ```
//! use nexus_slab::{Mmap, RestoreLimits, Slab};
//! use serde::Deserializer;
//!
//! fn large_slab<'de, D: Deserializer<'de>>(d: D) -> Result<Slab<u64>, D::Error> {
//!     Slab::deserialize_in(Mmap::new(), RestoreLimits::new().with_max_bytes(1 << 30), d)
//! }
//!
//! // #[derive(Deserialize)]
//! // struct State {
//! //     #[serde(deserialize_with = "large_slab")]
//! //     orders: Slab<u64>,
//! // }
//! let orders = Slab::<u64>::with_capacity(5 << 20).unwrap();
//! let json = serde_json::to_string(&orders).unwrap();
//! let back = large_slab(&mut serde_json::Deserializer::from_str(&json)).unwrap();
//! assert_eq!(back.capacity(), orders.capacity());
//! ```
//!
//! Restoring touches memory in proportion to the high-water mark even before any entry is
//! read (each slot below it is marked "not yet accounted for"); with the limit in place that is
//! bounded by the limit too. A slab restored onto a `Locked` backing must also fit the memory
//! lock limit (`RLIMIT_MEMLOCK`, or `CAP_IPC_LOCK`), and one onto huge pages the pool.

use core::fmt;
use core::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};

use crate::key::sealed::RawKey;
use crate::{Backing, Error, GenKey, Key, Slab, SlabKey};

const FIELDS: &[&str] = &["capacity", "high_water", "entries", "free"];

impl Serialize for Key {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Every index fits: `Key::MAX_INDEX < u32::MAX`.
        s.serialize_u32(self.index() as u32)
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a slot index (an unsigned integer)")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Key, E> {
                Ok(Key::new(usize::try_from(v).unwrap_or(usize::MAX)))
            }
        }
        d.deserialize_u32(V)
    }
}

impl Serialize for GenKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.to_bits())
    }
}

impl<'de> Deserialize<'de> for GenKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bits = u64::deserialize(d)?;
        GenKey::from_bits(bits).ok_or_else(|| {
            de::Error::invalid_value(
                de::Unexpected::Unsigned(bits),
                &"generational key bits with an odd generation (no slab hands out others)",
            )
        })
    }
}

impl<T, B, K> Serialize for Slab<T, B, K>
where
    T: Serialize,
    B: Backing,
    K: SlabKey,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Entries<'a, T, B: Backing, K: SlabKey>(&'a Slab<T, B, K>);
        impl<T: Serialize, B: Backing, K: SlabKey> Serialize for Entries<'_, T, B, K> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut seq = s.serialize_seq(Some(self.0.len()))?;
                for (k, v) in self.0.iter() {
                    seq.serialize_element(&(k.into_raw().to_wire(), v))?;
                }
                seq.end()
            }
        }
        struct Free<'a, T, B: Backing, K: SlabKey>(&'a Slab<T, B, K>);
        impl<T, B: Backing, K: SlabKey> Serialize for Free<'_, T, B, K> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let raw = self.0.raw();
                // A split slab's slots out on loan are saved as free, below the free list: the
                // restored slab holds no lent value.
                #[cfg(target_has_atomic = "64")]
                let out = raw.out_slots();
                #[cfg(not(target_has_atomic = "64"))]
                let out: Vec<usize> = Vec::new();
                // Formats without self-description need the length first.
                let mut seq = s.serialize_seq(Some(raw.free_slots().count() + out.len()))?;
                for i in raw.free_slots().chain(out) {
                    let g = u64::from(raw.generation_at(i));
                    seq.serialize_element(&(g << 32 | i as u64))?;
                }
                seq.end()
            }
        }
        let mut st = s.serialize_struct("Slab", 4)?;
        st.serialize_field("capacity", &(self.capacity() as u64))?;
        st.serialize_field("high_water", &(self.raw().high_water() as u64))?;
        st.serialize_field("entries", &Entries(self))?;
        st.serialize_field("free", &Free(self))?;
        st.end()
    }
}

/// What a restore may allocate: a cap on the restored slab's memory, checked against the sizes
/// a snapshot declares before any memory is taken.
///
/// A snapshot states its capacity in its first bytes, before any entry, so a few bytes can ask
/// for any size: without a cap, 7 bytes of postcard restore (and the default backings fault in)
/// a 1 GiB slab. The plain `Deserialize` impl allows [`DEFAULT_MAX_BYTES`] (32 MiB); a caller
/// that restores larger slabs says how large with [`Slab::deserialize_in`]. A limit is a
/// builder (`RestoreLimits::new().with_max_bytes(n)`) and `Copy`; more limits may be added, each
/// with a default, without breaking code that builds one this way.
///
/// The slab's size is its [`memory_size`](Slab::memory_size): its slots, bitmap or generations
/// rounded up to whole pages of the backing (2 MiB for a [`HugeTlb`](crate::HugeTlb) backing).
/// Besides the cap, a backing of base pages (`Mmap`, `Heap`, `Locked<Mmap>`) must fit in the
/// memory available now (`MemAvailable` of /proc/meminfo on Linux); memory from a huge-page
/// pool is not counted there, and the pool itself refuses a shortage before any page is taken.
/// Either refusal is [`Error::SnapshotTooLarge`], and nothing was allocated.
///
/// [`DEFAULT_MAX_BYTES`]: RestoreLimits::DEFAULT_MAX_BYTES
///
/// ```
/// use nexus_slab::{Mmap, RestoreLimits, Slab};
///
/// // A trusted snapshot of a 1Mi-slot slab of u64 (8 MiB and a bit), saved by this process.
/// let big: Slab<u64> = Slab::with_capacity(1 << 20).unwrap();
/// let json = serde_json::to_vec(&big).unwrap();
///
/// // Under a 4 MiB cap it is refused, before any memory is allocated.
/// let small = RestoreLimits::new().with_max_bytes(4 << 20);
/// let mut de = serde_json::Deserializer::from_slice(&json);
/// let err = Slab::<u64>::deserialize_in(Mmap::new(), small, &mut de).unwrap_err();
/// assert!(err.to_string().contains("with_max_bytes"));
///
/// // The default (32 MiB) lets it through.
/// let mut de = serde_json::Deserializer::from_slice(&json);
/// let back = Slab::<u64>::deserialize_in(Mmap::new(), RestoreLimits::new(), &mut de).unwrap();
/// assert_eq!(back.capacity(), big.capacity());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RestoreLimits {
    max_bytes: usize,
}

impl RestoreLimits {
    /// The cap of [`RestoreLimits::new`], and so of the plain `Deserialize` impl: 32 MiB.
    ///
    /// Small enough that a few bytes of hostile input cost the machine at most 32 MiB (of RAM,
    /// locked memory or huge pages) per restore; large enough for slabs of about 4 million
    /// `u64`s with plain keys (8 bytes and a bit each), 2.7 million with generational keys, or
    /// a million values of 24 bytes. A whole number of 2 MiB huge pages (16).
    ///
    /// ```
    /// use nexus_slab::RestoreLimits;
    /// assert_eq!(RestoreLimits::DEFAULT_MAX_BYTES, 32 << 20);
    /// assert_eq!(RestoreLimits::default().max_bytes(), RestoreLimits::DEFAULT_MAX_BYTES);
    /// ```
    pub const DEFAULT_MAX_BYTES: usize = 32 << 20;

    /// The default limits: a restored slab takes at most [`DEFAULT_MAX_BYTES`] (32 MiB).
    ///
    /// [`DEFAULT_MAX_BYTES`]: RestoreLimits::DEFAULT_MAX_BYTES
    ///
    /// ```
    /// use nexus_slab::RestoreLimits;
    /// assert_eq!(RestoreLimits::new(), RestoreLimits::default());
    /// ```
    pub const fn new() -> Self {
        RestoreLimits {
            max_bytes: Self::DEFAULT_MAX_BYTES,
        }
    }

    /// No cap on the restored slab's size: for snapshots trusted whatever they declare. A slab
    /// of base pages must still fit in the memory available now.
    ///
    /// ```
    /// use nexus_slab::RestoreLimits;
    /// assert_eq!(RestoreLimits::unlimited().max_bytes(), usize::MAX);
    /// ```
    pub const fn unlimited() -> Self {
        RestoreLimits {
            max_bytes: usize::MAX,
        }
    }

    /// These limits with the restored slab's [`memory_size`](Slab::memory_size) capped at
    /// `bytes`.
    ///
    /// ```
    /// use nexus_slab::{GenKey, Heap, RestoreLimits, Slab};
    ///
    /// let limits = RestoreLimits::new().with_max_bytes(1 << 30); // slabs up to 1 GiB
    /// assert_eq!(limits.max_bytes(), 1 << 30);
    ///
    /// let mut slab: Slab<u32, Heap, GenKey> = Slab::new_in(Heap::new());
    /// slab.alloc(10).unwrap();
    /// let bytes = postcard::to_allocvec(&slab).unwrap();
    /// let mut de = postcard::Deserializer::from_bytes(&bytes);
    /// let back: Slab<u32, Heap, GenKey> = Slab::deserialize_in(Heap::new(), limits, &mut de).unwrap();
    /// assert_eq!(back.capacity(), slab.capacity());
    /// ```
    #[must_use]
    pub const fn with_max_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// The cap on the restored slab's memory size, in bytes.
    ///
    /// ```
    /// use nexus_slab::RestoreLimits;
    /// assert_eq!(RestoreLimits::new().with_max_bytes(4096).max_bytes(), 4096);
    /// ```
    pub const fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Refuses a slab of `capacity` slots taking `bytes` (page-rounded) on a backing of
    /// `granularity`-byte pages, if it is over the cap or over the memory available now.
    fn check(&self, capacity: usize, bytes: usize, granularity: usize) -> Result<(), Error> {
        let refuse = |available| Error::SnapshotTooLarge {
            capacity,
            bytes,
            limit: self.max_bytes,
            available,
        };
        if bytes > self.max_bytes {
            return Err(refuse(None));
        }
        // Memory from a huge-page pool (pages larger than the base page) is not counted in
        // MemAvailable; the pool's own reservation refuses a shortage at mmap instead.
        if granularity <= crate::sys::page_size() {
            if let Some(available) = crate::sys::available_memory() {
                if bytes > available {
                    return Err(refuse(Some(available)));
                }
            }
        }
        Ok(())
    }
}

impl Default for RestoreLimits {
    /// [`RestoreLimits::new`].
    fn default() -> Self {
        Self::new()
    }
}

impl<'de, T, B, K> Deserialize<'de> for Slab<T, B, K>
where
    T: Deserialize<'de>,
    B: Backing + Default,
    K: SlabKey,
{
    /// Restores a slab on `B::default()` under the default [`RestoreLimits`] (a slab of at
    /// most 32 MiB); [`Slab::deserialize_in`] takes other limits and backings.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Slab::deserialize_in(B::default(), RestoreLimits::new(), d)
    }
}

impl<T, B: Backing, K: SlabKey> Slab<T, B, K> {
    /// Deserialises a slab (see the [format](crate::serde)) into memory from `backing`, taking
    /// at most what `limits` allow — for a restore onto huge pages, locked memory or a NUMA
    /// node of your choice, or of a slab larger than the 32 MiB that `Deserialize` (which does
    /// the same on `B::default()` with [`RestoreLimits::new`]) allows.
    ///
    /// The sizes the snapshot declares are checked against `limits` (and, on a backing of base
    /// pages, the memory available now) before the backing is asked for anything; then the
    /// entries and free slots are restored as they are read.
    ///
    /// # Errors
    ///
    /// The format's error, carrying as its message [`Error::SnapshotTooLarge`] (nothing was
    /// allocated), [`Error::Corrupt`], or the backing's allocation error. (Formats that keep
    /// only the kind of a custom error, like postcard's `SerdeDeCustom`, lose the message.)
    ///
    /// ```
    /// use nexus_slab::{Heap, Key, RestoreLimits, Slab};
    ///
    /// let mut slab: Slab<u32, Heap> = Slab::new_in(Heap::new());
    /// slab.alloc(100).unwrap();
    /// slab.insert_at(Key::new(42), 7).unwrap();
    /// let bytes = postcard::to_allocvec(&slab).unwrap();
    ///
    /// let mut de = postcard::Deserializer::from_bytes(&bytes);
    /// let limits = RestoreLimits::new().with_max_bytes(1 << 20);
    /// let back: Slab<u32, Heap> = Slab::deserialize_in(Heap::new(), limits, &mut de).unwrap();
    /// assert_eq!(back[Key::new(42)], 7);
    /// assert_eq!(back.capacity(), slab.capacity());
    /// ```
    pub fn deserialize_in<'de, D>(backing: B, limits: RestoreLimits, d: D) -> Result<Self, D::Error>
    where
        T: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        d.deserialize_struct(
            "Slab",
            FIELDS,
            SlabVisitor {
                backing,
                limits,
                _slab: PhantomData,
            },
        )
    }
}

/// A field of a saved slab, by name (borrowed or owned, as text or bytes) or by index (0 to 3,
/// from formats that number fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Capacity,
    HighWater,
    Entries,
    Free,
}

impl Field {
    /// In [`FIELDS`] order.
    const ALL: [Field; 4] = [
        Field::Capacity,
        Field::HighWater,
        Field::Entries,
        Field::Free,
    ];

    fn name(self) -> &'static str {
        FIELDS[self as usize]
    }

    fn named(name: &[u8]) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name().as_bytes() == name)
    }
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field of a saved Slab: capacity, high_water, entries or free")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Field, E> {
                usize::try_from(v)
                    .ok()
                    .and_then(|i| Field::ALL.get(i).copied())
                    .ok_or_else(|| {
                        E::invalid_value(de::Unexpected::Unsigned(v), &"a field index, 0 to 3")
                    })
            }
            // Owned and borrowed strings (`visit_string`, `visit_borrowed_str`) come here.
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Field, E> {
                Field::named(v.as_bytes()).ok_or_else(|| E::unknown_field(v, FIELDS))
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Field, E> {
                Field::named(v).ok_or_else(|| E::unknown_field(&String::from_utf8_lossy(v), FIELDS))
            }
        }
        d.deserialize_identifier(V)
    }
}

struct SlabVisitor<T, B, K> {
    backing: B,
    limits: RestoreLimits,
    _slab: PhantomData<fn() -> (T, K)>,
}

fn corrupt<E: de::Error>(what: impl Into<String>) -> E {
    E::custom(Error::Corrupt { what: what.into() })
}

impl<'de, T, B, K> Visitor<'de> for SlabVisitor<T, B, K>
where
    T: Deserialize<'de>,
    B: Backing,
    K: SlabKey,
{
    type Value = Slab<T, B, K>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a nexus-slab Slab: capacity, high_water, entries, free")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let missing = |n: usize| de::Error::invalid_length(n, &"4 fields");
        let capacity: u64 = seq.next_element()?.ok_or_else(|| missing(0))?;
        let high_water: u64 = seq.next_element()?.ok_or_else(|| missing(1))?;
        let mut r = Restore::<T, B, K>::new(self.backing, self.limits, capacity, high_water)?;
        seq.next_element_seed(EntriesSeed(&mut r))?
            .ok_or_else(|| missing(2))?;
        seq.next_element_seed(FreeSeed(&mut r))?
            .ok_or_else(|| missing(3))?;
        r.finish()
    }

    /// Fields in any order. The sizes are checked as soon as both are known; entries or free
    /// slots that come before them are kept (memory in proportion to the input) and restored
    /// then, the rest as they are read.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut backing = Some(self.backing);
        let (mut capacity, mut high_water) = (None::<u64>, None::<u64>);
        let mut early_entries: Option<Vec<(u64, T)>> = None;
        let mut early_free: Option<Vec<u64>> = None;
        let mut restore: Option<Restore<T, B, K>> = None;
        let mut seen = [false; 4];
        while let Some(field) = map.next_key::<Field>()? {
            if core::mem::replace(&mut seen[field as usize], true) {
                return Err(de::Error::duplicate_field(field.name()));
            }
            match (field, restore.as_mut()) {
                (Field::Capacity, _) => capacity = Some(map.next_value()?),
                (Field::HighWater, _) => high_water = Some(map.next_value()?),
                (Field::Entries, Some(r)) => map.next_value_seed(EntriesSeed(r))?,
                (Field::Entries, None) => early_entries = Some(map.next_value()?),
                (Field::Free, Some(r)) => map.next_value_seed(FreeSeed(r))?,
                (Field::Free, None) => early_free = Some(map.next_value()?),
            }
            if let (None, Some(c), Some(h)) = (&restore, capacity, high_water) {
                let backing = backing.take().expect("the sizes are read once");
                let mut r = Restore::new(backing, self.limits, c, h)?;
                // Both lists held back are checked against the slots in use before the first
                // is restored (which allocates).
                let what = match (&early_entries, &early_free) {
                    (Some(_), Some(_)) => "entries and free slots",
                    (Some(_), None) => "entries",
                    (None, Some(_)) => "free slots",
                    (None, None) => "",
                };
                if !what.is_empty() {
                    let held = early_entries.as_ref().map_or(0, Vec::len)
                        + early_free.as_ref().map_or(0, Vec::len);
                    r.open(Some(held), what)?;
                }
                if let Some(entries) = early_entries.take() {
                    r.open(Some(entries.len()), "entries")?;
                    for (bits, value) in entries {
                        r.entry(bits, value)?;
                    }
                }
                if let Some(free) = early_free.take() {
                    r.open(Some(free.len()), "free slots")?;
                    for bits in free {
                        r.free_slot(bits)?;
                    }
                }
                restore = Some(r);
            }
        }
        if let Some(f) = Field::ALL.into_iter().find(|f| !seen[*f as usize]) {
            return Err(de::Error::missing_field(f.name()));
        }
        restore.expect("every field was read").finish()
    }
}

/// A slab being restored: its declared sizes, checked; its memory, allocated once the first
/// entry or free slot is about to be read; and the state of its free list.
struct Restore<T, B: Backing, K: SlabKey> {
    slab: Slab<T, B, K>,
    /// `Some` once the memory is allocated and the restore begun.
    restoring: Option<crate::raw::Restoring>,
    capacity: usize,
    high_water: usize,
    /// Free slots restored so far.
    free: usize,
}

impl<T, B: Backing, K: SlabKey> Restore<T, B, K> {
    /// Checks the declared sizes — consistent, addressable, within `limits` — and allocates
    /// nothing.
    fn new<E: de::Error>(
        backing: B,
        limits: RestoreLimits,
        capacity: u64,
        high_water: u64,
    ) -> Result<Self, E> {
        let slab = Slab::new_in(backing);
        let cap = usize::try_from(capacity).map_err(|_| corrupt::<E>("a capacity beyond usize"))?;
        let hwm =
            usize::try_from(high_water).map_err(|_| corrupt::<E>("a high water beyond usize"))?;
        if cap == 0 && hwm != 0 {
            return Err(corrupt(format!(
                "{hwm} slots in use in an unallocated slab"
            )));
        }
        if hwm > cap {
            return Err(corrupt(format!(
                "{hwm} slots in use in a slab of {cap} slots"
            )));
        }
        if cap != 0 {
            let layout = Slab::<T, B, K>::exact_layout(cap).map_err(E::custom)?;
            let granularity = slab.backing().granularity().max(1);
            let bytes = layout
                .size()
                .checked_next_multiple_of(granularity)
                .unwrap_or(usize::MAX);
            limits.check(cap, bytes, granularity).map_err(E::custom)?;
        }
        Ok(Restore {
            slab,
            restoring: None,
            capacity: cap,
            high_water: hwm,
            free: 0,
        })
    }

    /// Before a sequence of `len` (if the format says) entries or free slots: refuses more than
    /// the slots in use that are left for them, then allocates the slab and begins the restore
    /// if this is the first sequence. So a length the format states (postcard's, bincode's) is
    /// checked before any memory is touched.
    fn open<E: de::Error>(&mut self, len: Option<usize>, what: &str) -> Result<(), E> {
        // Entries and free slots are distinct slots below high water (the core refuses others),
        // so this never wraps; saturating all the same.
        let left = self
            .high_water
            .saturating_sub(self.slab.len())
            .saturating_sub(self.free);
        match len {
            Some(n) if n > left => {
                return Err(corrupt(format!(
                    "{n} {what} declared, but only {left} of the {} slots in use are left \
                     for them",
                    self.high_water
                )))
            }
            _ => {}
        }
        if self.restoring.is_none() {
            if self.capacity != 0 {
                self.slab.alloc_exact(self.capacity).map_err(E::custom)?;
            }
            let restoring = self
                .slab
                .raw_mut()
                .begin_restore(self.high_water)
                .map_err(E::custom)?;
            self.restoring = Some(restoring);
        }
        Ok(())
    }

    /// Restores one saved entry (after [`open`](Restore::open)).
    fn entry<E: de::Error>(&mut self, bits: u64, value: T) -> Result<(), E> {
        let key = <K::Raw as RawKey>::from_wire(bits).ok_or_else(|| {
            corrupt::<E>(format!(
                "entry key {bits:#x} has generation 0 or an even one"
            ))
        })?;
        self.slab
            .raw_mut()
            .restore_entry(key, value)
            .map_err(E::custom)
    }

    /// Restores one saved free slot, below the ones restored so far (after
    /// [`open`](Restore::open)).
    fn free_slot<E: de::Error>(&mut self, bits: u64) -> Result<(), E> {
        let index = (bits & 0xffff_ffff) as usize;
        let generation = (bits >> 32) as u32;
        if !<K::Raw as RawKey>::GENERATIONAL && generation != 0 {
            return Err(corrupt(format!(
                "free slot {bits:#x} of a plain-key slab carries a generation"
            )));
        }
        let restoring = self.restoring.as_mut().expect("opened before a free slot");
        self.slab
            .raw_mut()
            .restore_free(restoring, index, generation)
            .map_err(E::custom)?;
        self.free += 1;
        Ok(())
    }

    fn finish<E: de::Error>(mut self) -> Result<Slab<T, B, K>, E> {
        self.open::<E>(None, "")?;
        let restoring = self.restoring.take().expect("opened just above");
        self.slab
            .raw_mut()
            .finish_restore(restoring)
            .map_err(E::custom)?;
        Ok(self.slab)
    }
}

struct EntriesSeed<'a, T, B: Backing, K: SlabKey>(&'a mut Restore<T, B, K>);

impl<'de, T, B, K> DeserializeSeed<'de> for EntriesSeed<'_, T, B, K>
where
    T: Deserialize<'de>,
    B: Backing,
    K: SlabKey,
{
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, T, B, K> Visitor<'de> for EntriesSeed<'_, T, B, K>
where
    T: Deserialize<'de>,
    B: Backing,
    K: SlabKey,
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence of (key, value) pairs")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.0.open(seq.size_hint(), "entries")?;
        while let Some((bits, value)) = seq.next_element::<(u64, T)>()? {
            self.0.entry(bits, value)?;
        }
        Ok(())
    }
}

struct FreeSeed<'a, T, B: Backing, K: SlabKey>(&'a mut Restore<T, B, K>);

impl<'de, T, B: Backing, K: SlabKey> DeserializeSeed<'de> for FreeSeed<'_, T, B, K> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, T, B: Backing, K: SlabKey> Visitor<'de> for FreeSeed<'_, T, B, K> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence of free slots")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.0.open(seq.size_hint(), "free slots")?;
        while let Some(bits) = seq.next_element::<u64>()? {
            self.0.free_slot(bits)?;
        }
        Ok(())
    }
}
