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
//! stream — is an error ([`SnapshotError`], as the format's error: see [Errors](#errors)),
//! never undefined behaviour: values restored before the error are dropped and the memory
//! released.
//!
//! ```
//! use nexus_slab::{GenSlab, Slab, backing::Heap};
//!
//! let mut slab: GenSlab<String> = GenSlab::with_capacity(64);
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
//! [`SnapshotError::TooLarge`], which names the limit that lets it through.
//!
//! The plain `Deserialize` impl allows [`RestoreLimits::DEFAULT_MAX_BYTES`], **32 MiB**: no
//! input makes it allocate more. A slab larger than that, restored from a snapshot you trust,
//! takes an explicit limit:
//!
//! ```
//! use nexus_slab::{Slab, backing::Mmap, snapshot::RestoreLimits};
//!
//! let orders: Slab<u64> = Slab::with_capacity(5 << 20); // 40 MiB
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
//! use nexus_slab::{Slab, backing::Mmap, snapshot::RestoreLimits};
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
//! let orders = Slab::<u64>::with_capacity(5 << 20);
//! let json = serde_json::to_string(&orders).unwrap();
//! let back = large_slab(&mut serde_json::Deserializer::from_str(&json)).unwrap();
//! assert_eq!(back.capacity(), orders.capacity());
//! ```
//!
//! Restoring touches memory in proportion to the high-water mark even before any entry is
//! read (each slot below it is marked "not yet accounted for"); with the limit in place that is
//! bounded by the limit too. A slab restored onto a `Locked` backing must also fit the memory
//! lock limit (`RLIMIT_MEMLOCK`, or `CAP_IPC_LOCK`), and one onto huge pages the pool.
//!
//! # Errors
//!
//! Why a snapshot was refused is a [`SnapshotError`]: [`Corrupt`](SnapshotError::Corrupt)
//! (what is impossible about it), [`TooLarge`](SnapshotError::TooLarge) (with the limit that
//! lets a trusted one through), [`Alloc`](SnapshotError::Alloc) (the backing's
//! [`Error`], with its own fix, as the source). `Deserialize` and
//! [`Slab::deserialize_in`] hand it to the format as the message of the format's error — the
//! whole chain, "…: mlock of 8 MiB exceeds RLIMIT_MEMLOCK …" — which text formats
//! (`serde_json`, CBOR) show with the position. Some formats keep only that there was a
//! message: every refusal through postcard is "Serde Deserialization Error".
//! [`Slab::restore_in`] returns the `SnapshotError` itself, whatever the format, and the
//! format's own errors (truncated input, a wrong type, a failed read) as
//! [`SnapshotError::Format`]:
//!
//! ```
//! use nexus_slab::{Slab, backing::Heap, snapshot::{RestoreLimits, SnapshotError}};
//!
//! let mut slab: Slab<u32, Heap> = Slab::new_in(Heap::new());
//! slab.alloc(1 << 20).unwrap(); // 4 MiB and a bit
//! let bytes = postcard::to_allocvec(&slab).unwrap();
//! let limits = RestoreLimits::new().with_max_bytes(1 << 20);
//!
//! // Through postcard alone, the reason is lost:
//! let err = postcard::from_bytes::<Slab<u32, Heap>>(&bytes[..3]).unwrap_err();
//! assert_eq!(err, postcard::Error::DeserializeUnexpectedEnd);
//! let mut de = postcard::Deserializer::from_bytes(&bytes);
//! let err = Slab::<u32, Heap>::deserialize_in(Heap::new(), limits, &mut de).unwrap_err();
//! assert_eq!(err.to_string(), "Serde Deserialization Error");
//!
//! // restore_in says why, and how to let a trusted snapshot through:
//! let mut de = postcard::Deserializer::from_bytes(&bytes);
//! match Slab::<u32, Heap>::restore_in(Heap::new(), limits, &mut de) {
//!     Err(e @ SnapshotError::TooLarge { .. }) => {
//!         assert!(e.to_string().contains("over the restore limit of 1 MiB"));
//!         let fix = e.hint().unwrap(); // if you trust it, pass `RestoreLimits::new()…`
//!         assert!(fix.contains(&format!("with_max_bytes({})", slab.memory_size())));
//!     }
//!     other => panic!("{other:?}"),
//! }
//! let limits = RestoreLimits::new().with_max_bytes(slab.memory_size());
//! let mut de = postcard::Deserializer::from_bytes(&bytes);
//! let back = Slab::<u32, Heap>::restore_in(Heap::new(), limits, &mut de).unwrap();
//! assert_eq!(back.capacity(), slab.capacity());
//! ```

use core::cell::Cell;
use core::fmt;
use core::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};

use crate::error::Size;
use crate::key::sealed::RawKey;
use crate::{backing::Backing, Error, GenKey, Key, Slab, SlabKey};

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
                Ok(Key::new_saturating(
                    usize::try_from(v).unwrap_or(usize::MAX),
                ))
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
/// rounded up to whole pages of the backing (2 MiB for a [`HugeTlb`](crate::backing::HugeTlb) backing).
/// Besides the cap, a backing of base pages (`Mmap`, `Heap`, `Locked<Mmap>`) must fit in the
/// memory available now (`MemAvailable` of /proc/meminfo on Linux); memory from a huge-page
/// pool is not counted there, and the pool itself refuses a shortage before any page is taken.
/// Either refusal is [`SnapshotError::TooLarge`], and nothing was allocated.
///
/// [`DEFAULT_MAX_BYTES`]: RestoreLimits::DEFAULT_MAX_BYTES
///
/// ```
/// use nexus_slab::{Slab, backing::Mmap, snapshot::RestoreLimits};
///
/// // A trusted snapshot of a 1Mi-slot slab of u64 (8 MiB and a bit), saved by this process.
/// let big: Slab<u64> = Slab::with_capacity(1 << 20);
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
    /// use nexus_slab::snapshot::RestoreLimits;
    /// assert_eq!(RestoreLimits::DEFAULT_MAX_BYTES, 32 << 20);
    /// assert_eq!(RestoreLimits::default().max_bytes(), RestoreLimits::DEFAULT_MAX_BYTES);
    /// ```
    pub const DEFAULT_MAX_BYTES: usize = 32 << 20;

    /// The default limits: a restored slab takes at most [`DEFAULT_MAX_BYTES`] (32 MiB).
    ///
    /// [`DEFAULT_MAX_BYTES`]: RestoreLimits::DEFAULT_MAX_BYTES
    ///
    /// ```
    /// use nexus_slab::snapshot::RestoreLimits;
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
    /// use nexus_slab::snapshot::RestoreLimits;
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
    /// use nexus_slab::{GenKey, Slab, backing::Heap, snapshot::RestoreLimits};
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
    /// use nexus_slab::snapshot::RestoreLimits;
    /// assert_eq!(RestoreLimits::new().with_max_bytes(4096).max_bytes(), 4096);
    /// ```
    pub const fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Refuses a slab of `capacity` slots taking `bytes` (page-rounded) on a backing of
    /// `granularity`-byte pages, if it is over the cap or over the memory available now.
    fn check(
        &self,
        capacity: usize,
        bytes: usize,
        granularity: usize,
    ) -> Result<(), SnapshotError> {
        let refuse = |available| SnapshotError::TooLarge {
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

/// Why a snapshot could not be restored: [`Slab::restore_in`] returns it, and
/// [`Slab::deserialize_in`] and the `Deserialize` impl give it to the format as the message of
/// its error (with the causes after it: "…: mlock of 8 MiB exceeds …").
///
/// Like [`Error`], the message is one line and ends with the fix where there is
/// one ([`hint`](SnapshotError::hint)); `Debug` shows the fields and then the message; a cause
/// is the [`source`](std::error::Error::source), never part of the message. The enum and each
/// variant are `#[non_exhaustive]`: match with `{ .. }`.
///
/// ```
/// use nexus_slab::{Slab, backing::Heap, snapshot::{RestoreLimits, SnapshotError}};
///
/// // A snapshot no slab could have written: 3 slots in use of 2.
/// let json = r#"{"capacity":2,"high_water":3,"entries":[],"free":[]}"#;
/// let mut de = serde_json::Deserializer::from_str(json);
/// let err = Slab::<u8, Heap>::restore_in(Heap::new(), RestoreLimits::new(), &mut de).unwrap_err();
/// assert!(matches!(err, SnapshotError::Corrupt { .. }));
/// assert_eq!(err.to_string(), "the snapshot is corrupt: 3 slots in use in a slab of 2 slots");
///
/// // The same through the format: the message, and where the format found it.
/// let err = serde_json::from_str::<Slab<u8, Heap>>(json).unwrap_err();
/// assert!(err.to_string().starts_with("the snapshot is corrupt: 3 slots in use"));
/// ```
#[non_exhaustive]
pub enum SnapshotError {
    /// The snapshot is one no slab could have written: duplicate or out-of-range keys, a slot
    /// both occupied and free, an even generation on an entry, slots unaccounted for, more
    /// entries than slots in use, an impossible capacity. Nothing stays allocated.
    #[non_exhaustive]
    Corrupt {
        /// What is impossible about it.
        what: String,
    },

    /// The snapshot declares a slab larger than the restore may allocate: over the restore's
    /// byte limit ([`RestoreLimits`]; 32 MiB for the plain `Deserialize`) or, on a backing of
    /// base pages, over the memory available now. Refused before the backing was asked for
    /// anything. Over the limit, [`hint`](SnapshotError::hint) names the limit that lets it
    /// through (for a snapshot you trust).
    #[non_exhaustive]
    TooLarge {
        /// Slots the snapshot declares.
        capacity: usize,
        /// Bytes the slab would take: its `memory_size()`, the slots rounded up to whole pages
        /// of the backing.
        bytes: usize,
        /// The restore's limit in bytes ([`RestoreLimits::max_bytes`]).
        limit: usize,
        /// The memory available now (`MemAvailable` of /proc/meminfo on Linux) when that, not
        /// the limit, refused the snapshot; `None` when the limit did.
        available: Option<usize>,
    },

    /// The backing could not allocate the restored slab; the [`Error`] is the
    /// [`source`](std::error::Error::source), with its own fix.
    #[non_exhaustive]
    Alloc {
        /// Slots the snapshot declares.
        capacity: usize,
        /// The backing's error.
        source: Error,
    },

    /// The format's own error (from [`Slab::restore_in`] only): truncated or malformed input,
    /// a value of the wrong type, an I/O error of the reader. It is the
    /// [`source`](std::error::Error::source).
    #[non_exhaustive]
    Format {
        /// The format's error.
        error: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl SnapshotError {
    pub(crate) fn corrupt(what: String) -> Self {
        SnapshotError::Corrupt { what }
    }

    /// The fix alone, as the message ends with it: for a snapshot over the restore limit, the
    /// limit that lets it through; `None` otherwise (an allocation error has its own, in the
    /// [`Error`] that is its source).
    ///
    /// ```
    /// use nexus_slab::{Slab, backing::Mmap, snapshot::RestoreLimits};
    ///
    /// let saved = serde_json::to_vec(&Slab::<u64>::with_capacity(1 << 20)).unwrap();
    /// let mut de = serde_json::Deserializer::from_slice(&saved);
    /// let limits = RestoreLimits::new().with_max_bytes(1 << 20);
    /// let err = Slab::<u64>::restore_in(Mmap::new(), limits, &mut de).unwrap_err();
    /// let fix = err.hint().unwrap(); // "if you trust it, pass `RestoreLimits::…`"
    /// assert!(fix.contains("RestoreLimits::new().with_max_bytes("));
    /// assert!(err.to_string().ends_with(&fix));
    /// ```
    pub fn hint(&self) -> Option<String> {
        match self {
            SnapshotError::TooLarge {
                bytes,
                available: None,
                ..
            } => Some(format!(
                "if you trust it, pass `RestoreLimits::new().with_max_bytes({bytes})`"
            )),
            _ => None,
        }
    }

    fn reason(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotError::Corrupt { what } => write!(f, "the snapshot is corrupt: {what}"),
            SnapshotError::TooLarge {
                capacity,
                bytes,
                limit,
                available: None,
            } => write!(
                f,
                "the snapshot declares a slab of {} ({capacity} slots), over the restore limit \
                 of {}",
                Size(*bytes),
                Size(*limit)
            ),
            SnapshotError::TooLarge {
                capacity,
                bytes,
                available: Some(available),
                ..
            } => write!(
                f,
                "the snapshot declares a slab of {} ({capacity} slots), more than the {} of \
                 memory available now",
                Size(*bytes),
                Size(*available)
            ),
            SnapshotError::Alloc { capacity, .. } => write!(
                f,
                "the memory of the restored slab ({capacity} slots) could not be allocated"
            ),
            SnapshotError::Format { .. } => f.write_str("the format could not read the snapshot"),
        }
    }

    fn fields(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotError::Corrupt { what } => {
                f.debug_struct("Corrupt").field("what", what).finish()
            }
            SnapshotError::TooLarge {
                capacity,
                bytes,
                limit,
                available,
            } => f
                .debug_struct("TooLarge")
                .field("capacity", capacity)
                .field("bytes", bytes)
                .field("limit", limit)
                .field("available", available)
                .finish(),
            SnapshotError::Alloc { capacity, source } => f
                .debug_struct("Alloc")
                .field("capacity", capacity)
                .field("source", source)
                .finish(),
            SnapshotError::Format { error } => {
                f.debug_struct("Format").field("error", error).finish()
            }
        }
    }
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.reason(f)?;
        match self.hint() {
            Some(hint) => write!(f, ": {hint}"),
            None => Ok(()),
        }
    }
}

impl fmt::Debug for SnapshotError {
    /// The variant with its fields, then the message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fields(f)?;
        write!(f, ": {self}")
    }
}

impl std::error::Error for SnapshotError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SnapshotError::Alloc { source, .. } => Some(source),
            SnapshotError::Format { error } => Some(&**error),
            _ => None,
        }
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
    /// Deserialises a slab (see the [format](crate::snapshot)) into memory from `backing`, taking
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
    /// The format's error `D::Error`. When the snapshot itself is refused, its message is the
    /// [`SnapshotError`] (and its causes): [`SnapshotError::TooLarge`] (nothing was
    /// allocated), [`SnapshotError::Corrupt`], [`SnapshotError::Alloc`]. Formats that keep only
    /// the kind of a custom error (postcard: "Serde Deserialization Error") lose that message:
    /// [`Slab::restore_in`] returns the `SnapshotError` itself.
    ///
    /// ```
    /// use nexus_slab::{Key, Slab, backing::Heap, snapshot::RestoreLimits};
    ///
    /// let mut slab: Slab<u32, Heap> = Slab::new_in(Heap::new());
    /// slab.alloc(100).unwrap();
    /// slab.insert_at(Key::new_saturating(42), 7).unwrap();
    /// let bytes = postcard::to_allocvec(&slab).unwrap();
    ///
    /// let mut de = postcard::Deserializer::from_bytes(&bytes);
    /// let limits = RestoreLimits::new().with_max_bytes(1 << 20);
    /// let back: Slab<u32, Heap> = Slab::deserialize_in(Heap::new(), limits, &mut de).unwrap();
    /// assert_eq!(back[Key::new_saturating(42)], 7);
    /// assert_eq!(back.capacity(), slab.capacity());
    /// ```
    pub fn deserialize_in<'de, D>(backing: B, limits: RestoreLimits, d: D) -> Result<Self, D::Error>
    where
        T: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Self::deserialize_reporting(backing, limits, d, &Cell::new(None))
    }

    /// [`deserialize_in`](Slab::deserialize_in), with the reason a snapshot was refused as a
    /// typed [`SnapshotError`], whatever the format does with custom messages: postcard, for
    /// one, reports every refusal as "Serde Deserialization Error".
    ///
    /// # Errors
    ///
    /// [`SnapshotError::TooLarge`] (nothing was allocated), [`SnapshotError::Corrupt`],
    /// [`SnapshotError::Alloc`]; [`SnapshotError::Format`] with the format's own error
    /// (truncated input, a value of the wrong type, an I/O error of the reader).
    ///
    /// ```
    /// use nexus_slab::{Slab, backing::Mmap, snapshot::{RestoreLimits, SnapshotError}};
    ///
    /// let big: Slab<u64> = Slab::with_capacity(1 << 20); // 8 MiB and a bit
    /// let bytes = postcard::to_allocvec(&big).unwrap();
    /// let small = RestoreLimits::new().with_max_bytes(4 << 20);
    ///
    /// // Through the format, the reason is lost:
    /// let mut de = postcard::Deserializer::from_bytes(&bytes);
    /// let err = Slab::<u64>::deserialize_in(Mmap::new(), small, &mut de).unwrap_err();
    /// assert_eq!(err.to_string(), "Serde Deserialization Error");
    ///
    /// // restore_in keeps it:
    /// let mut de = postcard::Deserializer::from_bytes(&bytes);
    /// let err = Slab::<u64>::restore_in(Mmap::new(), small, &mut de).unwrap_err();
    /// assert!(matches!(err, SnapshotError::TooLarge { limit, .. } if limit == 4 << 20));
    /// assert!(err.hint().unwrap().contains("RestoreLimits::new().with_max_bytes("));
    ///
    /// // A truncated snapshot is the format's error, kept as the source:
    /// let mut de = postcard::Deserializer::from_bytes(&bytes[..3]);
    /// let err = Slab::<u64>::restore_in(Mmap::new(), small, &mut de).unwrap_err();
    /// assert!(matches!(err, SnapshotError::Format { .. }));
    /// ```
    pub fn restore_in<'de, D>(
        backing: B,
        limits: RestoreLimits,
        d: D,
    ) -> Result<Self, SnapshotError>
    where
        T: Deserialize<'de>,
        D: Deserializer<'de>,
        D::Error: Send + Sync + 'static,
    {
        let report = Cell::new(None);
        Self::deserialize_reporting(backing, limits, d, &report).map_err(|error| {
            report.take().unwrap_or_else(|| SnapshotError::Format {
                error: Box::new(error),
            })
        })
    }

    /// Deserialises, leaving in `report` the [`SnapshotError`] given to the format, if any.
    fn deserialize_reporting<'de, D>(
        backing: B,
        limits: RestoreLimits,
        d: D,
        report: &Report,
    ) -> Result<Self, D::Error>
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
                report,
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

/// Where a restore leaves the [`SnapshotError`] it gives the format as a message, for
/// [`Slab::restore_in`] to return as it is.
type Report = Cell<Option<SnapshotError>>;

struct SlabVisitor<'r, T, B, K> {
    backing: B,
    limits: RestoreLimits,
    report: &'r Report,
    _slab: PhantomData<fn() -> (T, K)>,
}

/// `err` as the format's error, its message the whole chain of causes (formats keep one
/// string), and kept in `report`.
fn fail<E: de::Error>(report: &Report, err: SnapshotError) -> E {
    let e = E::custom(Chain(&err));
    report.set(Some(err));
    e
}

/// An error and its sources, one after another: "a: b: c".
struct Chain<'a>(&'a (dyn std::error::Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}

impl<'de, T, B, K> Visitor<'de> for SlabVisitor<'_, T, B, K>
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
        let mut r =
            Restore::<T, B, K>::new(self.backing, self.limits, capacity, high_water, self.report)
                .map_err(|e| fail(self.report, e))?;
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
                let mut r = Restore::new(backing, self.limits, c, h, self.report)
                    .map_err(|e| fail(self.report, e))?;
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
struct Restore<'r, T, B: Backing, K: SlabKey> {
    slab: Slab<T, B, K>,
    /// `Some` once the memory is allocated and the restore begun.
    restoring: Option<crate::raw::Restoring>,
    capacity: usize,
    high_water: usize,
    /// Free slots restored so far.
    free: usize,
    report: &'r Report,
}

impl<'r, T, B: Backing, K: SlabKey> Restore<'r, T, B, K> {
    /// Checks the declared sizes — consistent, addressable, within `limits` — and allocates
    /// nothing.
    fn new(
        backing: B,
        limits: RestoreLimits,
        capacity: u64,
        high_water: u64,
        report: &'r Report,
    ) -> Result<Self, SnapshotError> {
        let slab = Slab::new_in(backing);
        let cap = usize::try_from(capacity)
            .map_err(|_| SnapshotError::corrupt(format!("a capacity of {capacity} slots")))?;
        let hwm = usize::try_from(high_water)
            .map_err(|_| SnapshotError::corrupt(format!("a high water of {high_water} slots")))?;
        if cap == 0 && hwm != 0 {
            return Err(SnapshotError::corrupt(format!(
                "{hwm} slots in use in an unallocated slab"
            )));
        }
        if hwm > cap {
            return Err(SnapshotError::corrupt(format!(
                "{hwm} slots in use in a slab of {cap} slots"
            )));
        }
        if cap != 0 {
            let layout = Slab::<T, B, K>::exact_layout(cap).map_err(|e| match e {
                Error::CapacityOverflow { max, .. } => SnapshotError::corrupt(format!(
                    "a capacity of {cap} slots, more than a slab holds ({max})"
                )),
                _ => SnapshotError::corrupt(format!(
                    "a capacity of {cap} slots, more than the address space holds"
                )),
            })?;
            let granularity = slab.backing().granularity().max(1);
            let bytes = layout
                .size()
                .checked_next_multiple_of(granularity)
                .unwrap_or(usize::MAX);
            limits.check(cap, bytes, granularity)?;
        }
        Ok(Restore {
            slab,
            restoring: None,
            capacity: cap,
            high_water: hwm,
            free: 0,
            report,
        })
    }

    /// `err` as the format's error `E`, kept for [`Slab::restore_in`].
    fn fail<E: de::Error>(&self, err: SnapshotError) -> E {
        fail(self.report, err)
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
                return Err(self.fail(SnapshotError::corrupt(format!(
                    "{n} {what} declared, but only {left} of the {} slots in use are left \
                     for them",
                    self.high_water
                ))))
            }
            _ => {}
        }
        if self.restoring.is_none() {
            if self.capacity != 0 {
                if let Err(source) = self.slab.alloc_exact(self.capacity) {
                    return Err(self.fail(SnapshotError::Alloc {
                        capacity: self.capacity,
                        source,
                    }));
                }
            }
            let restoring = self.slab.raw_mut().begin_restore(self.high_water);
            self.restoring = Some(restoring.map_err(|e| self.fail(e))?);
        }
        Ok(())
    }

    /// Restores one saved entry (after [`open`](Restore::open)).
    fn entry<E: de::Error>(&mut self, bits: u64, value: T) -> Result<(), E> {
        let Some(key) = <K::Raw as RawKey>::from_wire(bits) else {
            return Err(self.fail(SnapshotError::corrupt(format!(
                "entry key {bits:#x} has generation 0 or an even one"
            ))));
        };
        let restored = self.slab.raw_mut().restore_entry(key, value);
        restored.map_err(|e| self.fail(e))
    }

    /// Restores one saved free slot, below the ones restored so far (after
    /// [`open`](Restore::open)).
    fn free_slot<E: de::Error>(&mut self, bits: u64) -> Result<(), E> {
        let index = (bits & 0xffff_ffff) as usize;
        let generation = (bits >> 32) as u32;
        if !<K::Raw as RawKey>::GENERATIONAL && generation != 0 {
            return Err(self.fail(SnapshotError::corrupt(format!(
                "free slot {bits:#x} of a plain-key slab carries a generation"
            ))));
        }
        let restoring = self.restoring.as_mut().expect("opened before a free slot");
        let restored = self
            .slab
            .raw_mut()
            .restore_free(restoring, index, generation);
        restored.map_err(|e| self.fail(e))?;
        self.free += 1;
        Ok(())
    }

    fn finish<E: de::Error>(mut self) -> Result<Slab<T, B, K>, E> {
        self.open::<E>(None, "")?;
        let restoring = self.restoring.take().expect("opened just above");
        let finished = self.slab.raw_mut().finish_restore(restoring);
        finished.map_err(|e| self.fail(e))?;
        Ok(self.slab)
    }
}

struct EntriesSeed<'a, 'r, T, B: Backing, K: SlabKey>(&'a mut Restore<'r, T, B, K>);

impl<'de, T, B, K> DeserializeSeed<'de> for EntriesSeed<'_, '_, T, B, K>
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

impl<'de, T, B, K> Visitor<'de> for EntriesSeed<'_, '_, T, B, K>
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

struct FreeSeed<'a, 'r, T, B: Backing, K: SlabKey>(&'a mut Restore<'r, T, B, K>);

impl<'de, T, B: Backing, K: SlabKey> DeserializeSeed<'de> for FreeSeed<'_, '_, T, B, K> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, T, B: Backing, K: SlabKey> Visitor<'de> for FreeSeed<'_, '_, T, B, K> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::check_error;

    /// Every variant keeps the message rules of the other errors; the message a format gets is
    /// the whole chain, each cause once.
    #[test]
    fn snapshot_errors_keep_the_message_rules() {
        let errors = [
            SnapshotError::corrupt("3 slots in use in a slab of 2 slots".to_string()),
            SnapshotError::TooLarge {
                capacity: 5 << 20,
                bytes: 40 << 20,
                limit: 32 << 20,
                available: None,
            },
            SnapshotError::TooLarge {
                capacity: 5 << 20,
                bytes: 40 << 20,
                limit: usize::MAX,
                available: Some(16 << 20),
            },
            SnapshotError::Alloc {
                capacity: 1 << 20,
                source: Error::MemlockLimit {
                    needed: 8 << 20,
                    limit: crate::system::Limit::Bytes(8 << 20),
                    locked: 4096,
                },
            },
            SnapshotError::Alloc {
                capacity: 1 << 20,
                source: Error::os("mmap", 8 << 20, std::io::Error::other("no memory")),
            },
            SnapshotError::Format {
                error: "Hit the end of buffer, expected more data".into(),
            },
        ];
        for e in &errors {
            let text = check_error(e, e.hint());
            let chain = Chain(e).to_string();
            eprintln!(
                "{:3} {text}\n    as the format's message: {chain}",
                text.len()
            );
            assert!(chain.starts_with(&text));
            if let Some(source) = std::error::Error::source(e) {
                assert!(chain.ends_with(&Chain(source).to_string()), "{chain}");
            }
        }
    }
}
