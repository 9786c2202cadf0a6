//! # Snapshots: save a slab, restore it with every key
//!
//! Keys live in hash maps, queues, timer wheels and other processes, so a restart must give
//! every value its old key. With the `serde` feature a whole slab serialises — its entries with
//! their keys, its free list and its high-water mark — and deserialises into a freshly allocated
//! slab of the same capacity that answers every lookup, and the next inserts, as the original
//! would. A generational slab keeps every stale key stale across the round trip.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # #[cfg(feature = "serde")]
//! # {
//! use nexus_slab::GenSlab;
//!
//! let mut book: GenSlab<String> = GenSlab::try_with_capacity(1024)?;
//! let a = book.insert("bid 100".to_string())?;
//! let b = book.insert("ask 101".to_string())?;
//! book.remove(a);
//!
//! let saved = serde_json::to_string(&book)?;           // or any serde format
//! let mut restored: GenSlab<String> = serde_json::from_str(&saved)?;
//! assert_eq!(restored[b], "ask 101");                   // same key, same value
//! assert!(!restored.contains(a));                       // stale stays stale
//! assert_eq!(restored.insert("x".into())?, book.insert("x".into())?); // same next key
//! # }
//! # Ok(())
//! # }
//! ```
//!
//! Without serde, [`insert_at`](crate::Slab::insert_at) and
//! [`FromIterator`](#without-serde-insert_at-and-fromiterator) rebuild a slab from saved pairs,
//! and [`try_clone`](crate::Slab::try_clone) (or `clone`) copies one in memory.
//!
//! # Formats
//!
//! Any serde format works. Self-describing ones (JSON, CBOR, YAML ...) write the slab as a map,
//! and read its fields in any order, by name or by index, borrowed from the input or not — so
//! `serde_json::from_reader` over a file, `serde_json::from_value` and CBOR readers all work.
//! Formats without self-description (postcard, bincode) write it as a sequence, read in order.
//! Keys are integers: a [`Key`](crate::Key) its index, a [`GenKey`](crate::GenKey) its
//! [`to_bits`](crate::GenKey::to_bits) `u64`; a typed key is saved as the key it stands for once
//! you opt in (see the [keys guide](super::keys#typed-keys)).
//!
//! For a sense of size: a slab of 2²⁰ random `u64` values takes 12.5 bytes per entry in
//! postcard and 29.3 in JSON, and with generational keys 14.5 and 33.4 (measured by
//! `tests/serde.rs`).
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # #[cfg(feature = "serde")]
//! # {
//! use nexus_slab::{Key, Slab};
//!
//! let mut slab: Slab<u32> = Slab::try_with_capacity(8)?;
//! for v in [10, 11, 12] {
//!     slab.insert(v)?;
//! }
//! slab.remove(Key::new_saturating(1));
//!
//! // Compact and binary: postcard.
//! let bytes = postcard::to_allocvec(&slab)?;
//! let back: Slab<u32> = postcard::from_bytes(&bytes)?;
//! assert!(back.iter().eq(slab.iter()));
//!
//! // Self-describing and binary: CBOR, from any reader.
//! let mut cbor = Vec::new();
//! ciborium::into_writer(&slab, &mut cbor)?;
//! let back: Slab<u32> = ciborium::from_reader(cbor.as_slice())?;
//! assert_eq!(back.vacant_key(), slab.vacant_key()); // the free list came back too
//!
//! // The fields, as JSON shows them.
//! let json: serde_json::Value = serde_json::to_value(&slab)?;
//! assert_eq!(json["capacity"], slab.capacity());
//! assert_eq!(json["high_water"], 3);                          // slots 0..3 were used
//! assert_eq!(json["entries"], serde_json::json!([[0, 10], [2, 12]]));
//! assert_eq!(json["free"], serde_json::json!([1]));          // taken by the next insert
//! # }
//! # Ok(())
//! # }
//! ```
//!
//! The four fields, in this order: `capacity` (slots; 0 for a slab never allocated),
//! `high_water` (slots ever used since the last restart; those above it are fresh), `entries`
//! (`(key, value)` pairs in ascending key order) and `free` (the vacated slots in the order the
//! next inserts take them; for generational slabs each with its slot's generation, so that stale
//! keys stay stale). The [`snapshot`](crate::snapshot) module documents every detail.
//!
//! A snapshot no slab could have written — duplicate or out-of-range keys, a slot both occupied
//! and free, an even generation on an entry, slots unaccounted for, more entries than slots in
//! use, a missing or repeated field, a truncated stream — is an error that drops what was
//! restored and releases the memory, never undefined behaviour (`fuzz/fuzz_targets/deserialize.rs`
//! fuzzes it).
//!
//! # What a restore may allocate: `RestoreLimits`
//!
//! A snapshot declares its capacity before any entry, and the slab is allocated — faulted in,
//! locked, or taken from a huge-page pool — at that capacity. So what a restore may allocate is
//! bounded before anything is allocated: the plain `Deserialize` restores slabs of at most
//! **32 MiB** ([`RestoreLimits::DEFAULT_MAX_BYTES`](crate::snapshot::RestoreLimits::DEFAULT_MAX_BYTES))
//! and, on base pages, no more than the memory available now, so that a few bytes of input cannot
//! claim the machine's memory (before this check, 7 bytes of postcard mapped and faulted in
//! 1 GiB; `tests/snapshot_cost.rs` measures every backing). A larger slab, from a snapshot you
//! trust, takes an explicit limit through
//! [`Slab::deserialize_in`](crate::Slab::deserialize_in), which also restores onto a backing of
//! your choice (locked, huge pages ...):
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # #[cfg(feature = "serde")]
//! # {
//! use nexus_slab::{Slab, backing::Mmap, snapshot::RestoreLimits};
//!
//! let orders: Slab<u64> = Slab::try_with_capacity(5 << 20)?; // 40 MiB of slots
//! let saved = serde_json::to_vec(&orders)?;
//!
//! // Over the default limit: refused, and the message says what lets it through.
//! let refused = serde_json::from_slice::<Slab<u64>>(&saved).unwrap_err();
//! assert!(refused.to_string().contains("over the restore limit"));
//!
//! let limits = RestoreLimits::new().with_max_bytes(1 << 30); // slabs up to 1 GiB
//! let mut de = serde_json::Deserializer::from_slice(&saved);
//! let restored: Slab<u64> = Slab::deserialize_in(Mmap::new(), limits, &mut de)?;
//! assert_eq!(restored.capacity(), orders.capacity());
//! # }
//! # Ok(())
//! # }
//! ```
//!
//! [`RestoreLimits::unlimited()`](crate::snapshot::RestoreLimits::unlimited) lifts the cap (the
//! memory available still bounds a slab on base pages). A restore onto a
//! [`Locked`](crate::backing::Locked) backing must also fit the memory-lock limit, and one onto
//! huge pages the pool. A slab inside a struct of your own takes its limit through serde's
//! `deserialize_with`:
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # #[cfg(feature = "serde")]
//! # {
//! use nexus_slab::{Slab, backing::Mmap, snapshot::RestoreLimits};
//! use serde::{Deserialize, Deserializer};
//!
//! fn large_slab<'de, D: Deserializer<'de>>(d: D) -> Result<Slab<u64>, D::Error> {
//!     Slab::deserialize_in(Mmap::new(), RestoreLimits::new().with_max_bytes(1 << 30), d)
//! }
//!
//! #[derive(Deserialize)]
//! struct State {
//!     #[serde(deserialize_with = "large_slab")]
//!     orders: Slab<u64>,
//!     sequence: u64,
//! }
//!
//! let orders: Slab<u64> = Slab::try_with_capacity(5 << 20)?;
//! let json = format!(r#"{{"orders":{},"sequence":7}}"#, serde_json::to_string(&orders)?);
//! let state: State = serde_json::from_str(&json)?;
//! assert_eq!((state.orders.capacity(), state.sequence), (orders.capacity(), 7));
//! # }
//! # Ok(())
//! # }
//! ```
//!
//! # Restoring from a file
//!
//! A reader that does not lend its input (a file, a socket) works like a slice:
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # #[cfg(feature = "serde")]
//! # {
//! use std::{fs::File, io::{BufReader, BufWriter}};
//! use nexus_slab::{GenSlab, Slab, backing::Mmap, snapshot::RestoreLimits};
//!
//! let path = std::env::temp_dir().join(format!("book-{}.json", std::process::id()));
//! let mut book: GenSlab<String> = GenSlab::try_with_capacity(1 << 20)?; // 1Mi slots: 36 MiB
//! let k = book.insert("bid 100".to_string())?;
//! serde_json::to_writer(BufWriter::new(File::create(&path)?), &book)?;
//!
//! let file = BufReader::new(File::open(&path)?);
//! let mut de = serde_json::Deserializer::from_reader(file);
//! let limits = RestoreLimits::new().with_max_bytes(1 << 30);
//! let restored: GenSlab<String> = Slab::deserialize_in(Mmap::new(), limits, &mut de)?;
//! assert_eq!(restored[k], "bid 100");
//! # std::fs::remove_file(&path)?;
//! # }
//! # Ok(())
//! # }
//! ```
//!
//! # Why a snapshot was refused: `restore_in`, and postcard's lost messages
//!
//! `Deserialize` and `deserialize_in` hand the reason a snapshot was refused to the format, as the
//! message of the format's own error: text formats (JSON, CBOR) show it with the position. Some
//! formats keep only that there was a message: through postcard every refusal is
//! "Serde Deserialization Error", whatever it was. [`Slab::restore_in`](crate::Slab::restore_in)
//! returns the [`SnapshotError`](crate::snapshot::SnapshotError) itself, whatever the format:
//! [`Corrupt`](crate::snapshot::SnapshotError::Corrupt) (what is impossible about it),
//! [`TooLarge`](crate::snapshot::SnapshotError::TooLarge) (with the limit that lets a trusted
//! one through, as its [`hint`](crate::snapshot::SnapshotError::hint)),
//! [`Alloc`](crate::snapshot::SnapshotError::Alloc) (the backing's [`Error`](crate::Error), with
//! its own fix, as the source), and the format's own errors — truncated input, a wrong type, a
//! failed read — as [`Format`](crate::snapshot::SnapshotError::Format):
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # #[cfg(feature = "serde")]
//! # {
//! use nexus_slab::{Slab, backing::Heap, snapshot::{RestoreLimits, SnapshotError}};
//!
//! // Postcard bytes no slab could have written: 3 slots used of 2. (The fields in order:
//! // capacity, high_water, entries, free.)
//! let bytes = postcard::to_allocvec(&(2u64, 3u64, Vec::<(u64, u8)>::new(), Vec::<u64>::new()))?;
//!
//! // Through postcard alone, the reason is lost:
//! let err = postcard::from_bytes::<Slab<u8, Heap>>(&bytes).unwrap_err();
//! assert_eq!(err.to_string(), "Serde Deserialization Error");
//!
//! // restore_in says why:
//! let mut de = postcard::Deserializer::from_bytes(&bytes);
//! match Slab::<u8, Heap>::restore_in(Heap::new(), RestoreLimits::new(), &mut de) {
//!     Err(e @ SnapshotError::Corrupt { .. }) => {
//!         let why = "the snapshot is corrupt: 3 slots in use in a slab of 2 slots";
//!         assert_eq!(e.to_string(), why);
//!     }
//!     other => panic!("{other:?}"),
//! }
//!
//! // A truncated stream is the format's own error, kept as the source:
//! let mut good: Slab<u8, Heap> = Slab::try_with_capacity_in(4, Heap::new())?;
//! good.insert(1)?;
//! let whole = postcard::to_allocvec(&good)?;
//! let mut de = postcard::Deserializer::from_bytes(&whole[..whole.len() - 1]);
//! let err = Slab::<u8, Heap>::restore_in(Heap::new(), RestoreLimits::new(), &mut de).unwrap_err();
//! assert!(matches!(err, SnapshotError::Format { .. }));
//! assert!(std::error::Error::source(&err).is_some());
//! # }
//! # Ok(())
//! # }
//! ```
//!
//! `restore_in` reads a slab that is the whole input. For a slab inside a struct of your own,
//! written with postcard, the reason stays lost; to keep it, write the slab as a message of its
//! own (restored with `restore_in`), or keep a self-describing format while a snapshot is in
//! doubt.
//!
//! # Without serde: `insert_at` and `FromIterator`
//!
//! [`Slab::insert_at`](crate::Slab::insert_at) puts one value back at exactly its key: with your
//! choice of capacity, backing and error handling, it is how to rebuild from `(key, value)` pairs
//! saved your own way. `collect()` does the same in one line on a default backing, with room for
//! the highest key (and panics where the memory cannot be allocated); a slot given twice keeps
//! the latest key. Both are O(1) per key in any order (restoring a million keys in random or
//! descending order costs about what ascending order does: `benches/restore.rs`).
//!
//! ```
//! use nexus_slab::{Key, Slab, backing::Heap};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let saved = [(Key::new_saturating(7), "h"), (Key::new_saturating(2), "c")];
//!
//! let mut slab: Slab<&str, Heap> = Slab::try_with_capacity_in(1024, Heap::new())?;
//! for (key, value) in saved {
//!     slab.insert_at(key, value)?; // refuses an occupied or out-of-range key, value handed back
//! }
//! assert_eq!(slab[Key::new_saturating(7)], "h");
//!
//! let collected: Slab<&str> = saved.into_iter().collect();
//! assert_eq!((collected[Key::new_saturating(2)], collected.len()), ("c", 2));
//! # Ok(())
//! # }
//! ```
//!
//! What pairs cannot carry is the rest of the slab's state: the order of its free list (the next
//! inserts may get other keys than the original's would) and, with generational keys, the
//! generations of its *vacant* slots — so a key that was stale in the original may be found again
//! in the rebuilt slab once its slot is reused. A serde snapshot carries both:
//!
//! ```
//! use nexus_slab::GenSlab;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut original: GenSlab<u32> = GenSlab::try_with_capacity(16)?;
//! let stale = original.insert(1)?;
//! let kept = original.insert(2)?;
//! original.remove(stale);
//!
//! let mut rebuilt: GenSlab<u32> = original.iter().map(|(k, v)| (k, *v)).collect();
//! assert_eq!(rebuilt[kept], 2);
//! rebuilt.insert(3)?;
//! assert!(rebuilt.contains(stale)); // slot 0 started afresh: the stale key matches again
//!
//! # #[cfg(feature = "serde")]
//! # {
//! let mut restored: GenSlab<u32> = serde_json::from_str(&serde_json::to_string(&original)?)?;
//! restored.insert(3)?;
//! assert!(!restored.contains(stale)); // the snapshot kept slot 0's generation
//! # }
//! # Ok(())
//! # }
//! ```
