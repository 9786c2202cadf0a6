//! A pre-allocated slab with OS-level memory control, for latency-critical systems.
//!
//! [`Slab<T, B, K>`](Slab) stores values of one type in a fixed number of slots and hands out a
//! key for each: insert, get and remove are O(1) with no hashing, the slab never grows, and a
//! value never moves while it is stored. Its memory is allocated once, from a [backing] chosen
//! by type, and is yours to control at the OS level: faulted in before the first insert, locked
//! in RAM, on huge pages, placed on a NUMA node — each checked against the kernel's own
//! accounting. It is built for programs that cannot afford a page fault, a swap-in or a
//! reallocation on the hot path: trading engines, market-data handlers, real-time audio, game
//! servers. (For a collection that must grow, or many small ones, the `slab` crate is the better
//! choice: see [`guide::from_slab`].)
//!
//! ```
//! use nexus_slab::{Key, LockedSlab};
//!
//! struct Order { id: u64, price: i64, qty: u32 }
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // 100,000 orders, allocated once, faulted in and locked in RAM: no page fault after this.
//!     let mut book: LockedSlab<Order> = LockedSlab::try_with_capacity(100_000)?;
//!     let key: Key = book.insert(Order { id: 1, price: 100, qty: 5 })?;
//!     book[key].qty -= 2;                                   // O(1) by key, no hashing
//!     assert_eq!(book.remove(key).map(|o| o.qty), Some(3)); // the slot is reused next
//!     println!("{} bytes, pinned", book.memory_size());
//!     Ok(())
//! }
//! ```
//!
//! # Backings and keys
//!
//! A slab is `Slab<T, B, K>`: values `T`, memory from the backing `B`, keys `K`.
//!
//! | backing `B` | memory | alias |
//! |---|---|---|
//! | [`Mmap`] (the default) | anonymous mmap, prefaulted; 2 MiB and larger regions start on transparent huge pages | `Slab<T>` |
//! | [`Locked<Mmap>`](Locked) | the same, locked in RAM for the slab's whole life | [`LockedSlab<T>`](LockedSlab) |
//! | [`HugeTlb`] | reserved huge pages (2 MiB, 1 GiB ...); a short pool is an error with the command that fixes it | [`HugeSlab<T>`](HugeSlab) |
//! | [`Heap<A>`](Heap) | the global allocator or any allocator-api2 one, page-aligned | [`HeapSlab<T>`](HeapSlab) |
//!
//! | key `K` | size | a key kept after its value was removed |
//! |---|---|---|
//! | [`Key`] (the default) | 4 bytes | reaches the slot's next value, as in `slab` |
//! | [`GenKey`] ([`GenSlab<T>`](GenSlab)) | 8 bytes; a slot takes 3.875 bytes more | is never found again |
//! | your own, from [`new_key_type!`] | as its key | as its key; and a key of one slab does not compile as another's |
//!
//! # Modules
//!
//! - The crate root: [`Slab`], the keys ([`Key`], [`GenKey`], [`SlabKey`], [`new_key_type!`]),
//!   [`VacantEntry`], the errors and the aliases — what a first program needs.
//! - [`backing`]: where memory comes from — the [`Backing`](backing::Backing) trait, [`Mmap`],
//!   [`HugeTlb`], [`Locked`], [`Heap`].
//! - [`system`]: what this machine allows ([`SystemInfo`](system::SystemInfo)) and where a slab's
//!   pages are.
//! - [`split`]: a slab whose values cross threads ([`Slab::split`]).
//! - `snapshot` (the `serde` feature): saving and restoring slabs with every key.
//! - [`iter`]: the iterators.
//! - [`guide`]: the guides below.
//!
//! # Guides
//!
//! 1. [Memory control](guide::memory_control): prefault, locking and its limits, huge pages,
//!    what the machine allows, what a slot costs.
//! 2. [Placement and isolation](guide::placement): NUMA nodes, fork and core dumps, preflight.
//! 3. [Keys](guide::keys): plain, generational, typed.
//! 4. [Snapshots](guide::snapshots): serde, restore limits, rebuilding a slab.
//! 5. [Objects that cross threads](guide::threads): lending, back-pressure, batches, shutdown.
//! 6. [Coming from `slab`](guide::from_slab): what differs, growing, many small slabs.
//! 7. [Coming from `slotmap`](guide::from_slotmap): secondary maps, detach and reattach.
//! 8. [Writing a backing](guide::backings).
//! 9. [Safety](guide::safety).
//! 10. [Performance](guide::performance): the measurements, the machine, the commands.
//!
//! # Cargo features
//!
//! Both are off by default. Every item that a feature adds is marked with it in these docs.
//!
//! - `serde`: `Serialize`/`Deserialize` for keys and whole slabs, snapshot and restore with
//!   every key kept (the `snapshot` module; see [`guide::snapshots`]).
//! - `unstable-windows`: the memory controls on Windows — `VirtualLock` against the working-set
//!   quota, large pages (`MEM_LARGE_PAGES`) for [`HugeTlb`] — instead of
//!   [`Error::Unsupported`]. Experimental. It adds no items, only the Windows behaviour of the
//!   ones documented here.
//!
//! # Errors
//!
//! One error type per kind of operation: [`Error`] for allocation, the OS and the memory
//! controls; [`KeyError`] for a key that names no value; [`Full`] (the value handed back) from
//! [`insert`](Slab::insert); [`InsertAtError`] from [`insert_at`](Slab::insert_at);
//! `SnapshotError` for a refused restore (the `serde` feature). A failed call leaves the slab as
//! it was. Every message is one line with the reason and, where something fixes it, the fix — a
//! complete command that works through `sudo`, or the call to make — which `hint()` also returns
//! alone; `Debug` shows the fields and the message, so `?` in a `main` returning
//! `Result<(), Box<dyn Error>>` prints the fix.
//!
//! # Safety
//!
//! No key value can cause undefined behaviour — a made-up, stale or foreign key finds its value
//! or nothing — and neither can a key type, a panicking `Drop` or `Clone`, or any order of
//! letting go of a split slab across threads. [`SlabKey`] and [`Backing`](backing::Backing) are
//! `unsafe` to implement, each with a documented contract, and the `get_unchecked` family are
//! the `unsafe fn`s. The [safety guide](guide::safety) says what each guarantee covers and how it
//! is tested (Miri, loom, fuzzing).

#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod backing;
mod entry;
mod error;
// Without the `serde` feature the snapshot guide's links to `snapshot` items have no target;
// they are checked in the `--all-features` build (docs.rs's), where they all resolve.
#[cfg_attr(not(feature = "serde"), allow(rustdoc::broken_intra_doc_links))]
pub mod guide;
mod info;
pub mod iter;
mod key;
mod numa;
mod raw;
mod slab;
#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
pub mod snapshot;
#[cfg(target_has_atomic = "64")]
pub mod split;
#[cfg(target_has_atomic = "64")]
mod sync;
mod sys;
pub mod system;
mod typed;

pub use entry::VacantEntry;
pub use error::{Error, Full, InsertAtError, KeyError};
pub use key::{GenKey, Key, SlabKey};
pub use slab::Slab;

use backing::{Heap, HugeTlb, Locked, Mmap};
#[doc(hidden)]
pub use typed::__private;

// The aliases name a backing and take the key type second, as `Slab<T, B, K>` takes it last:
// `LockedSlab<Order, OrderKey>` is `Slab<Order, Locked<Mmap>, OrderKey>`. A plain `Slab<T>` is
// on `Mmap`, the default backing.

/// A slab on anonymous mmap memory locked in RAM for its whole life: `Slab<T, Locked<Mmap>, K>`.
///
/// ```
/// use nexus_slab::{new_key_type, Key, LockedSlab};
///
/// new_key_type! { pub struct OrderKey(Key); }
///
/// let slab: LockedSlab<u64> = LockedSlab::new();
/// assert_eq!(slab.capacity(), 0);
/// let typed: LockedSlab<u64, OrderKey> = LockedSlab::new(); // takes and returns OrderKeys
/// # let _ = typed;
/// ```
pub type LockedSlab<T, K = Key> = Slab<T, Locked<Mmap>, K>;

/// A slab on hugetlb pages, 2 MiB by default: `Slab<T, HugeTlb, K>` (for other sizes,
/// `Slab::new_in(HugeTlb::new(HugePageSize::SIZE_1G))`).
///
/// ```
/// let slab: nexus_slab::HugeSlab<u64> = nexus_slab::HugeSlab::new();
/// assert_eq!(slab.capacity(), 0); // allocating needs reserved pages: see `HugeTlb`
/// ```
pub type HugeSlab<T, K = Key> = Slab<T, HugeTlb, K>;

/// A slab on memory from the global allocator: `Slab<T, Heap, K>` (for another allocator,
/// `Slab<T, Heap<A>, K>`). The backing for slabs made and dropped at run time (no `mmap` or
/// `munmap`: one system call, the prefault) and for memory from an allocator of your own; like
/// every backing it takes whole pages, so for many tiny collections see
/// [`guide::from_slab`](crate::guide::from_slab#many-small-slabs).
///
/// ```
/// let slab: nexus_slab::HeapSlab<u64> = nexus_slab::HeapSlab::with_capacity(10);
/// assert!(slab.capacity() >= 10);
/// ```
pub type HeapSlab<T, K = Key> = Slab<T, Heap, K>;

/// A slab on the default backing whose keys detect reuse: `Slab<T, Mmap, GenKey>`. A
/// [`GenKey`] kept after its value was removed is never found again, even once the slot holds
/// another value. (On another backing: `Slab<T, B, GenKey>`, or an alias with `GenKey` second,
/// `LockedSlab<T, GenKey>`.)
///
/// ```
/// use nexus_slab::GenSlab;
///
/// let mut slab: GenSlab<&str> = GenSlab::with_capacity(8);
/// let k = slab.insert("order 1").unwrap();
/// slab.remove(k);
/// slab.insert("order 2").unwrap();
/// assert!(!slab.contains(k));
/// ```
pub type GenSlab<T> = Slab<T, Mmap, GenKey>;
