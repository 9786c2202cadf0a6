//! # Keys: plain, generational, typed
//!
//! A slab hands out a key for every value it stores, and the key is all it takes to find the
//! value again: an index into the slots, checked, with no hashing. The kind of key is the slab's
//! third type parameter, `Slab<T, B, K>`, so it costs nothing at run time to choose:
//!
//! | | [`Key`] (the default) | [`GenKey`] |
//! |---|---|---|
//! | size | 4 bytes, and so is `Option<Key>` | 8 bytes (`u32` index and `u32` generation), and so is `Option<GenKey>` |
//! | cost per slot | 1 bit (occupancy) | a 4-byte generation whose parity is the occupancy: 3.875 bytes more |
//! | a key kept after its value was removed | reaches the slot's next value | is never found again |
//! | after `clear` or `drain` | numbering restarts at 0 | slots keep their generations; freed slots are reused last-in, first-out |
//!
//! and [typed keys](#typed-keys) stand for either, so that the key of one slab does not compile
//! as the key of another.
//!
//! [`Key`]: crate::Key
//! [`GenKey`]: crate::GenKey
//!
//! # Plain keys
//!
//! A [`Key`] is the index of a slot in 4 bytes (stored plus one, so `Option<Key>` is 4 bytes too):
//! links stored inside values — an order's place in its price level, an intrusive list — cost
//! what a `u32` does. As in the `slab` crate, it has no generation: once its value is removed,
//! the slot is reused (last freed, first reused) and the old key reaches the new value. It is
//! the caller's job not to keep keys past their values; when that cannot be promised, use
//! [`GenKey`].
//!
//! ```
//! use nexus_slab::{Key, Slab};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut slab: Slab<&str> = Slab::try_with_capacity(16)?;
//! let old: Key = slab.insert("order 1")?;
//! slab.remove(old);
//! let new = slab.insert("order 2")?;
//! assert_eq!(new, old);                // the same slot, the same key
//! assert_eq!(slab[old], "order 2");    // a stale plain key reaches the new value
//! assert_eq!(std::mem::size_of::<Option<Key>>(), 4);
//! # Ok(())
//! # }
//! ```
//!
//! Any key value is safe to use with any slab — stale, from another slab, or made up: it finds a
//! value or nothing, never undefined behaviour and never a panic (only `slab[key]` panics, with
//! "invalid key", as `Index` does everywhere). See the [safety guide](super::safety).
//!
//! ## From a `usize`: `Key::try_from` or `Key::new_saturating`
//!
//! A slab holds at most [`Key::MAX_INDEX`](crate::Key::MAX_INDEX) slots (2³² − 2), so not every
//! `usize` is a key. Two ways to make one, for two situations:
//!
//! - `Key::try_from(index)` refuses an index beyond `Key::MAX_INDEX`, with
//!   [`KeyError::OutOfRange`](crate::KeyError::OutOfRange): for an index read from outside (a
//!   file, a message, another structure's `usize`) when you want to know it was bad.
//! - [`Key::new_saturating(index)`](crate::Key::new_saturating) maps such an index to
//!   `Key::MAX_INDEX`, the key no slab has, which is simply not found: for when "not found" is the
//!   right answer anyway.
//!
//! `key.index()` and `usize::from(key)` go back.
//!
//! ```
//! use nexus_slab::{Key, KeyError, Slab};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let slab: Slab<u8> = Slab::try_with_capacity(16)?;
//! let k = Key::try_from(5)?;
//! assert_eq!((k.index(), usize::from(k)), (5, 5));
//!
//! let bad = 1usize << 40;
//! assert!(matches!(Key::try_from(bad), Err(KeyError::OutOfRange { index, .. }) if index == bad));
//! let clamped = Key::new_saturating(bad);
//! assert_eq!(clamped.index(), Key::MAX_INDEX);
//! assert_eq!(slab.get(clamped), None); // never another slot
//! # Ok(())
//! # }
//! ```
//!
//! # Generational keys
//!
//! When keys live long — order ids in queues, timer wheels, connection tables — choose
//! generational keys by type: `Slab<T, B, GenKey>`, or [`GenSlab<T>`](crate::GenSlab) on the
//! default backing. Every insert gives the slot a new generation, so a [`GenKey`] kept after its
//! value was removed is never found again, even after the slot was reused or the slab cleared:
//!
//! ```
//! use nexus_slab::{GenSlab, KeyError};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut slab: GenSlab<&str> = GenSlab::try_with_capacity(1024)?;
//! let old = slab.insert("order 1")?;
//! slab.remove(old);
//! let new = slab.insert("order 2")?;      // the same slot, a new generation
//! assert_eq!(new.index(), old.index());
//!
//! // What a stale key does, everywhere:
//! assert_eq!(slab.get(old), None);
//! assert!(!slab.contains(old));
//! assert_eq!(slab.remove(old), None);
//! assert!(matches!(slab.get_disjoint_mut([old]), Err(KeyError::Stale { .. })));
//! assert!(std::panic::catch_unwind(|| slab[old]).is_err()); // "invalid key"
//!
//! slab.remove(new); // the slot is vacant again, and still the old key cannot come back:
//! let refused = slab.insert_at(old, "order 1 again").unwrap_err();
//! assert!(matches!(refused.error(), KeyError::Stale { .. }));
//! # Ok(())
//! # }
//! ```
//!
//! A `GenKey` slab keeps one `u32` generation per slot after the slots, odd while the slot is
//! occupied, so the generation *is* the occupancy bit: a lookup compares one number. The
//! [performance guide](super::performance#generational-keys) has what that costs against plain
//! keys and `slotmap`.
//!
//! ## As one `u64`: `to_bits` and `from_bits`
//!
//! [`GenKey::to_bits`](crate::GenKey::to_bits) packs a key into a `u64` (generation in the high
//! half) — to keep it in an `AtomicU64`, or send it elsewhere — and
//! [`GenKey::from_bits`](crate::GenKey::from_bits) unpacks it. `from_bits` refuses bits no slab
//! ever hands out — a generation of 0, or an even one (the generation of a vacant slot) — rather
//! than rounding them to a nearby key, so corrupted input shows as `None`. Any key it returns is
//! safe with any slab: one the slab did not hand out for the value now in its slot is not found.
//!
//! ```
//! use nexus_slab::{GenKey, GenSlab};
//! use std::sync::atomic::{AtomicU64, Ordering};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut slab: GenSlab<u32> = GenSlab::try_with_capacity(16)?;
//! let k = slab.insert(7)?;
//! let shared = AtomicU64::new(k.to_bits());
//! let back = GenKey::from_bits(shared.load(Ordering::Acquire)).expect("bits of a real key");
//! assert_eq!(slab[back], 7);
//!
//! assert_eq!(GenKey::from_bits(5), None);           // generation 0
//! assert_eq!(GenKey::from_bits(2 << 32 | 5), None); // even: a vacant slot's generation
//! # Ok(())
//! # }
//! ```
//!
//! ## Retired slots
//!
//! Generations never repeat for a slot. A slot whose generation would wrap — after 2³¹ reuses of
//! that one slot — is retired and never handed out again, so the worst case costs one slot of
//! capacity per 2³¹ insert-remove cycles on it. A slab with retired slots is full with fewer
//! values than its capacity, so test [`is_full`](crate::Slab::is_full), not the length:
//!
//! ```
//! use nexus_slab::{GenKey, GenSlab};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut slab: GenSlab<u64> = GenSlab::try_with_capacity(1)?;
//! let cap = slab.capacity();
//! // Slot 0 at its last generation (reached here by restoring a key saved at it).
//! let last = GenKey::from_bits(u64::from(u32::MAX) << 32).expect("odd generation");
//! slab.insert_at(last, 7)?;
//! assert_eq!(slab.remove(last), Some(7)); // slot 0 is retired
//! while !slab.is_full() {
//!     slab.insert(1)?;
//! }
//! assert_eq!(slab.len(), cap - 1);
//! assert!(slab.insert(2).is_err());
//! # Ok(())
//! # }
//! ```
//!
//! A key from another slab is not detected — keys carry no slab identity — as with `slotmap`.
//!
//! # Typed keys
//!
//! [`new_key_type!`](crate::new_key_type) declares key types of your own, each standing for a
//! [`Key`] or a [`GenKey`], so that the key of one slab does not compile as the key of another:
//! the order book's order keys cannot index its price levels. A typed key is the slab's third
//! type parameter — `Slab<Order, Locked<Mmap>, OrderKey>` — or the aliases' second:
//! `LockedSlab<Order, OrderKey>`.
//!
//! ```
//! use nexus_slab::{new_key_type, GenKey, Key, LockedSlab, Slab, backing::Heap};
//!
//! new_key_type! {
//!     /// An order in the book.
//!     pub struct OrderKey(Key);        // a plain key, 4 bytes
//!     /// A connection: generational, because it outlives its sessions.
//!     pub struct ConnKey(GenKey);      // a generational key, 8 bytes
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut orders: Slab<u64, Heap, OrderKey> = Slab::try_with_capacity_in(1024, Heap::new())?;
//! let o: OrderKey = orders.insert(100)?;
//! assert_eq!(orders[o], 100);
//! assert_eq!(std::mem::size_of::<Option<OrderKey>>(), 4);
//! assert_eq!(format!("{o:?}"), "OrderKey(0)");
//! assert_eq!(Key::from(o), Key::new_saturating(0)); // `From` both ways
//!
//! let mut conns: LockedSlab<&str, ConnKey> = LockedSlab::new();
//! if conns.alloc(64).is_ok() {
//!     let c = conns.insert("10.0.0.1:443")?;
//!     assert_eq!(format!("{c:?}"), "ConnKey(0v1)"); // index 0, generation 1
//!     assert_eq!(GenKey::from(c).generation(), 1);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Each typed key has the size and niche of its key, is `Copy + Eq + Ord + Hash + Debug`, has
//! `index()`, and converts both ways with its key (`From`). The kind is a type in scope: import
//! `Key` and `GenKey` (or write `nexus_slab::Key`). A key of the wrong type is a compile error:
//!
//! ```compile_fail,E0308
//! use nexus_slab::{new_key_type, Key, Slab};
//!
//! new_key_type! { struct OrderKey(Key); struct LevelKey(Key); }
//! let mut orders: Slab<u64, nexus_slab::backing::Heap, OrderKey> = Slab::new();
//! let levels: Slab<i64, nexus_slab::backing::Heap, LevelKey> = Slab::new();
//! let o = orders.insert(1).unwrap();
//! let _ = levels.get(o); // expected `LevelKey`, found `OrderKey`
//! ```
//!
//! The kind is always written out. `slotmap`'s `new_key_type! { struct K; }` declares a
//! generational key, so a unit form here that made a plain key would silently lose stale-key
//! detection in code copied from slotmap; it does not compile, and the error says what to write:
//!
//! ```compile_fail
//! nexus_slab::new_key_type! { struct OrderKey; } // write `struct OrderKey(Key);` or `(GenKey)`
//! ```
//!
//! With the `serde` feature, a typed key serialises only if you say so, with serde's own derive
//! on the struct inside the macro (`#[serde(transparent)]` saves it exactly as its key); the
//! macro writes no serde impl of its own, so yours never clash with it:
//!
//! ```
//! # #[cfg(feature = "serde")]
//! # {
//! use nexus_slab::{new_key_type, Key};
//! use serde::{Deserialize, Serialize};
//!
//! new_key_type! {
//!     #[derive(Serialize, Deserialize)]
//!     #[serde(transparent)]
//!     pub struct OrderKey(Key);
//! }
//!
//! let k = OrderKey::from(Key::new_saturating(41));
//! assert_eq!(serde_json::to_string(&k).unwrap(), "41");
//! assert_eq!(serde_json::from_str::<OrderKey>("41").unwrap(), k);
//! # }
//! ```
//!
//! # Writing a key type by hand: `SlabKey`
//!
//! A key type is anything that implements [`SlabKey`](crate::SlabKey): it names the built-in key
//! it stands for ([`Raw`](crate::SlabKey::Raw), `Key` or `GenKey`) and converts to and from it.
//! The slab converts when it hands a key out ([`from_raw`](crate::SlabKey::from_raw)) and when
//! it is given one ([`into_raw`](crate::SlabKey::into_raw)), and looks at nothing else — not
//! `index()`, not `Eq`, `Ord` or `Hash`. Every raw key value is safe with every slab, so the safe
//! methods stay sound whatever an implementation does, panics included. Only the `unsafe`
//! [`get_unchecked`](crate::Slab::get_unchecked) family relies on the trait's one promise —
//! `from_raw` and `into_raw` are inverse, and copies of a key give the same raw key — which is
//! why the trait is `unsafe` to implement.
//!
//! [`new_key_type!`](crate::new_key_type) writes the implementation for you. Write it by hand
//! only when the macro cannot express the type — for instance a generic key, one type `Id<T>`
//! for every value type instead of a declaration per type:
//!
//! ```
//! use std::{cmp::Ordering, fmt, hash::{Hash, Hasher}, marker::PhantomData};
//! use nexus_slab::{Key, Slab, SlabKey, backing::Heap};
//!
//! /// The key of a `T` in a slab of `T`s.
//! pub struct Id<T>(Key, PhantomData<fn() -> T>);
//!
//! // By hand: derives would require `T: Clone`, `T: Eq` ... of the value type.
//! impl<T> Clone for Id<T> { fn clone(&self) -> Self { *self } }
//! impl<T> Copy for Id<T> {}
//! impl<T> PartialEq for Id<T> { fn eq(&self, other: &Self) -> bool { self.0 == other.0 } }
//! impl<T> Eq for Id<T> {}
//! impl<T> PartialOrd for Id<T> {
//!     fn partial_cmp(&self, other: &Self) -> Option<Ordering> { Some(self.cmp(other)) }
//! }
//! impl<T> Ord for Id<T> { fn cmp(&self, other: &Self) -> Ordering { self.0.cmp(&other.0) } }
//! impl<T> Hash for Id<T> { fn hash<H: Hasher>(&self, h: &mut H) { self.0.hash(h) } }
//! impl<T> fmt::Debug for Id<T> {
//!     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
//!         write!(f, "Id({})", self.0.index())
//!     }
//! }
//!
//! // SAFETY: `from_raw` wraps and `into_raw` unwraps the same field: they are inverse, and
//! // every copy of an `Id` gives the same key.
//! unsafe impl<T> SlabKey for Id<T> {
//!     type Raw = Key;
//!     fn from_raw(raw: Key) -> Self { Id(raw, PhantomData) }
//!     fn into_raw(self) -> Key { self.0 }
//! }
//!
//! struct Order { qty: u32 }
//! struct Level { price: i64 }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut orders: Slab<Order, Heap, Id<Order>> = Slab::try_with_capacity_in(64, Heap::new())?;
//! let mut levels: Slab<Level, Heap, Id<Level>> = Slab::try_with_capacity_in(64, Heap::new())?;
//! let o: Id<Order> = orders.insert(Order { qty: 5 })?;
//! let l: Id<Level> = levels.insert(Level { price: 100 })?;
//! assert_eq!((orders[o].qty, levels[l].price), (5, 100));
//! assert_eq!(std::mem::size_of::<Option<Id<Order>>>(), 4);
//! # Ok(())
//! # }
//! ```
//!
//! A safe `impl SlabKey` does not compile (E0200): the `unsafe` is where you promise the round
//! trip.
