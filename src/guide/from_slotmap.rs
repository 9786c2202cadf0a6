//! # Coming from `slotmap`
//!
//! A `SlotMap<K, V>` is a [`GenSlab<V>`](crate::GenSlab) (`Slab<V, Mmap, GenKey>`), or
//! `Slab<V, B, K>` with `K` declared by [`new_key_type!`](crate::new_key_type)
//! (`struct K(GenKey);`). A [`GenKey`](crate::GenKey) is slotmap's `DefaultKey`: 8 bytes, a slot
//! index and a version, and a key whose value was removed is never found again. The generations
//! match slotmap's versions — odd while the slot is occupied, one more on every insert and every
//! remove — and are tested side by side with slotmap to hand out the same keys
//! (`tests/switching.rs`). The slab is allocated once, like every slab of this crate, and takes
//! 12 bytes per `u64` slot where slotmap takes 16 (the
//! [performance guide](super::performance#generational-keys) compares their speed).
//!
//! | `slotmap` 1 | nexus-slab | why |
//! |---|---|---|
//! | `SlotMap::new()` grows | `GenSlab::try_with_capacity(n)?` | allocated once |
//! | `insert(v) -> K` | `insert(v) -> Result<K, Full<V>>` | a full slab hands the value back |
//! | `insert_with_key(\|k\| v)` | `let e = slab.vacant_entry()?; let k = e.key(); e.insert(v)` | |
//! | `contains_key(k)` | `contains(k)` | |
//! | `get_disjoint_mut(ks) -> Option` | `-> Result<_, KeyError>` (`Stale`, `Vacant`, `Duplicate` ...) | says which key and why |
//! | `KeyData::as_ffi` / `from_ffi` | [`GenKey::to_bits`](crate::GenKey::to_bits) / [`from_bits`](crate::GenKey::from_bits) | `from_bits` refuses even generations instead of making them odd |
//! | `new_key_type! { struct K; }` | `new_key_type! { struct K(GenKey); }` | [the kind is written out](#new_key_type-needs-the-kind) |
//! | a version wraps after 2³¹ reuses of a slot | the slot is retired | a key is never repeated |
//! | `detach` / `reattach` | — | [see below](#detach-and-reattach) |
//! | `SecondaryMap`, `SparseSecondaryMap` | a `Vec` by `key.index()`, or a second slab | [see below](#secondary-maps) |
//! | `DenseSlotMap`, `HopSlotMap`, growth | — | absent |
//! | `keys`, `values`, `values_mut`, `iter`, `drain`, `retain`, `Index`, `serde` | the same | |
//!
//! ```
//! use nexus_slab::{new_key_type, GenKey, Slab, backing::Mmap};
//!
//! new_key_type! { pub struct PlayerKey(GenKey); }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut players: Slab<&str, Mmap, PlayerKey> = Slab::try_with_capacity(1024)?;
//! let ada = players.insert("ada")?;
//! players.remove(ada);
//! let bob = players.insert("bob")?;             // same slot, next generation
//! assert_eq!(bob.index(), ada.index());
//! assert!(players.get(ada).is_none());          // the old key is never found again
//! assert_eq!(std::mem::size_of::<Option<PlayerKey>>(), 8);
//! # Ok(())
//! # }
//! ```
//!
//! # `new_key_type!` needs the kind
//!
//! slotmap's `new_key_type! { struct K; }` declares a generational key. This crate has plain keys
//! too, and they are the default, so a unit form would have to pick one: picking plain would
//! silently lose stale-key detection in every declaration copied from slotmap. So the kind is
//! always written — `struct K(GenKey);` for slotmap's behaviour, `struct K(Key);` for a plain
//! key — and the unit form is a compile error that says so:
//!
//! ```compile_fail
//! nexus_slab::new_key_type! { pub struct PlayerKey; } // write `struct PlayerKey(GenKey);`
//! ```
//!
//! # Secondary maps
//!
//! There is no `SecondaryMap`; two things do its work. Where most slots have the extra data, a
//! `Vec` indexed by [`key.index()`](crate::GenKey::index), each entry keeping the key it was
//! stored for, so that a stale key finds nothing:
//!
//! ```
//! use nexus_slab::{GenKey, GenSlab};
//!
//! fn set(scores: &mut Vec<Option<(GenKey, u32)>>, k: GenKey, s: u32) {
//!     if scores.len() <= k.index() {
//!         scores.resize(k.index() + 1, None);
//!     }
//!     scores[k.index()] = Some((k, s));
//! }
//!
//! fn score(scores: &[Option<(GenKey, u32)>], k: GenKey) -> Option<u32> {
//!     match scores.get(k.index()) {
//!         Some(Some((at, s))) if *at == k => Some(*s), // stored for this very key
//!         _ => None,
//!     }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut players: GenSlab<&str> = GenSlab::try_with_capacity(64)?;
//! let mut scores: Vec<Option<(GenKey, u32)>> = Vec::new();
//! let ada = players.insert("ada")?;
//! set(&mut scores, ada, 10);
//! players.remove(ada);
//! let bob = players.insert("bob")?; // ada's slot, a new generation
//! assert_eq!(score(&scores, bob), None); // bob has no score yet, and gets none of ada's
//! set(&mut scores, bob, 7);
//! assert_eq!((score(&scores, bob), score(&scores, ada)), (Some(7), None));
//! # Ok(())
//! # }
//! ```
//!
//! Or a second slab holding each extra value at the primary's key, with
//! [`insert_at`](crate::Slab::insert_at): allocated for at least the primary's capacity, it
//! answers a stale key with nothing and refuses (as `Occupied`) a new key whose slot still holds
//! the old entry — a secondary map whose memory is allocated once like the primary's:
//!
//! ```
//! use nexus_slab::{GenSlab, KeyError};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut players: GenSlab<&str> = GenSlab::try_with_capacity(64)?;
//! let mut scores: GenSlab<u32> = GenSlab::try_with_capacity(players.capacity())?;
//!
//! let ada = players.insert("ada")?;
//! scores.insert_at(ada, 10)?;
//! players.remove(ada);
//! let bob = players.insert("bob")?;             // ada's slot, a new generation
//! assert_eq!(scores.get(bob), None);            // ada's score is not bob's
//! let err = scores.insert_at(bob, 7).unwrap_err();
//! assert!(matches!(err.error(), KeyError::Occupied { .. })); // ada's entry is still there
//! scores.remove(ada);
//! scores.insert_at(bob, 7)?;
//! assert_eq!((scores.get(bob), scores.get(ada)), (Some(&7), None));
//! # Ok(())
//! # }
//! ```
//!
//! # Detach and reattach
//!
//! slotmap's `detach` takes a value out and keeps its slot reserved, so that `reattach` can put
//! a value back under the same key. This crate has no such state for a slot, and each thing it
//! is used for has another way:
//!
//! - **A value that is elsewhere for a while** (on another thread): a split slab
//!   [lends](crate::split::Owner::lend) it — the slot stays reserved while the value is out, and
//!   comes back to the free list when the value is done (see the [threads guide](super::threads)).
//! - **The same key again, with plain keys**: [`remove`](crate::Slab::remove), then
//!   [`insert_at`](crate::Slab::insert_at) at that key; it is refused (`Occupied`, the value
//!   handed back) if an insert took the slot meanwhile.
//! - **The same key again, with generational keys**: not possible, by design. A removed
//!   `GenKey` is stale for good: `insert_at` accepts only generations later than every one the
//!   slot has had, so no removed key ever comes back. Keep the key alive instead and make the value
//!   optional: a `GenSlab<Option<V>>` detaches with `take()` and reattaches by assignment, and
//!   the key stays valid throughout.
//!
//! ```
//! use nexus_slab::{GenSlab, Key, KeyError, Slab};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Plain keys: remove, then insert_at the same key.
//! let mut slab: Slab<&str> = Slab::try_with_capacity(8)?;
//! let k: Key = slab.insert("first")?;
//! let value = slab.remove(k).unwrap();
//! slab.insert_at(k, "second")?;
//! assert_eq!((value, slab[k]), ("first", "second"));
//!
//! // Generational keys: a removed key never comes back...
//! let mut gens: GenSlab<&str> = GenSlab::try_with_capacity(8)?;
//! let g = gens.insert("first")?;
//! gens.remove(g);
//! let err = gens.insert_at(g, "again").unwrap_err();
//! assert!(matches!(err.error(), KeyError::Stale { .. }));
//!
//! // ...so keep the key and detach the value instead.
//! let mut held: GenSlab<Option<&str>> = GenSlab::try_with_capacity(8)?;
//! let h = held.insert(Some("first"))?;
//! let detached = held[h].take();         // detach: the key stays valid
//! assert_eq!((detached, held[h]), (Some("first"), None));
//! held[h] = Some("second");              // reattach
//! assert_eq!(held[h], Some("second"));
//! # Ok(())
//! # }
//! ```
