//! A pre-allocated slab with OS-level memory control, for latency-critical systems.
//!
//! [`Slab<T, B>`](Slab) stores values of one type in a fixed number of slots and hands out a
//! [`Key`] for each: insert, get and remove are O(1), the slab never grows, and a value never
//! moves while it is stored. Its memory comes from a [`Backing`](backing::Backing) chosen at the
//! type level — [`Mmap`] (the default), [`HugeTlb`] (reserved huge pages),
//! [`Locked<B>`](Locked) (pinned for the slab's life) or [`Heap`] over any allocator — is
//! faulted in up front, and can be pinned in RAM ([`Slab::mlock`]) and moved onto huge pages
//! ([`Slab::try_collapse`]), with the kernel's own accounting to check it
//! ([`Slab::locked_bytes`], [`Slab::huge_page_bytes`],
//! [`SystemInfo`](system::SystemInfo)).
//!
//! # Usage
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use nexus_slab::{Slab, Key};
//!
//! // Create and allocate
//! let mut slab: Slab<String> = Slab::new();
//! slab.alloc(10_000)?;  // Pre-allocate for 10K items
//!
//! // Optional: lock pages in RAM (requires privileges)
//! if let Err(e) = slab.mlock() {
//!     eprintln!("mlock failed (may need CAP_IPC_LOCK): {}", e);
//! }
//!
//! // O(1) operations
//! let key: Key = slab.insert("hello".to_string())?;
//! assert_eq!(slab.get(key), Some(&"hello".to_string()));
//!
//! let value = slab.remove(key);
//! assert_eq!(value, Some("hello".to_string()));
//! # Ok(())
//! # }
//! ```
//!
//! # Memory control
//!
//! ## Page locking (`mlock`)
//!
//! ```
//! # use nexus_slab::Slab;
//! # #[allow(dead_code)]
//! # struct Order { id: u64, price: i64, qty: u32 }
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut slab: Slab<Order> = Slab::new();
//! slab.alloc(100_000)?;
//!
//! // Lock all pages in physical RAM
//! slab.mlock()?;
//!
//! // Pages remain locked until drop (or explicit munlock)
//! # Ok(())
//! # }
//! ```
//!
//! ## Huge pages (Linux)
//!
//! ```
//! # use nexus_slab::{Error, HugeSlab, Slab};
//! # #[allow(dead_code)]
//! # struct Order { id: u64, price: i64, qty: u32 }
//! # fn huge() -> Result<(), Error> {
//! // Guaranteed huge pages (fails if unavailable)
//! let mut slab: HugeSlab<Order> = HugeSlab::new();
//! slab.alloc(1_000_000)?;  // 1M entries on 2MB pages
//! # assert_eq!(slab.huge_page_bytes()?, slab.memory_size());
//! # Ok(())
//! # }
//! # fn thp() -> Result<(), Error> {
//!
//! // Or request collapse of existing allocation (best-effort)
//! let mut slab: Slab<Order> = Slab::new();
//! slab.alloc(1_000_000)?;
//! let _ = slab.try_collapse();  // Hint to use huge pages if possible
//! # Ok(())
//! # }
//! # match huge() {
//! #     Ok(()) => {}
//! #     // No reserved pages here: the documented failure, unless CI promised pages.
//! #     Err(Error::HugePagesUnavailable { .. } | Error::Unsupported { .. })
//! #         if std::env::var("NEXUS_SLAB_REQUIRE_HUGEPAGES").as_deref() != Ok("1") => {}
//! #     Err(e) => panic!("{e}"),
//! # }
//! # thp().unwrap();
//! ```
//!
//! ## NUMA placement and isolation (Linux)
//!
//! ```
//! # use nexus_slab::{Error, Slab, backing::{Locked, Mmap}};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // On node 0 only, locked, out of forked children and core dumps.
//! let backing = Locked::<Mmap>::default().numa_node(0).exclude_from_fork().exclude_from_dumps();
//! let mut slab: Slab<u64, Locked<Mmap>> = Slab::new_in(backing);
//! # #[cfg(all(target_os = "linux", not(miri)))]
//! # {
//! slab.alloc(100_000)?;
//! assert_eq!(slab.numa_bytes()?.on_node(0), slab.memory_size()); // from the kernel
//! # }
//!
//! // What on this machine adds jitter, and the command that removes it.
//! for risk in nexus_slab::system::SystemInfo::probe().preflight().iter().filter(|i| i.at_risk) {
//!     eprintln!("{}: {} -> {}", risk.setting, risk.risk, risk.fix);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! ## Allocation modes
//!
//! ```
//! # use nexus_slab::Slab;
//! # #[allow(dead_code)]
//! # struct Order { id: u64, price: i64, qty: u32 }
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let mut slab: Slab<Order> = Slab::new();
//! // By capacity: "I need space for N items"
//! slab.alloc(100_000)?;  // Capacity >= 100K guaranteed
//! # assert!(slab.capacity() >= 100_000);
//! # let mut slab: Slab<Order> = Slab::new();
//!
//! // By memory budget: "I have X bytes available"  
//! slab.alloc_bytes(256 * 1024 * 1024)?;  // Uses <= 256MB
//! # assert!(slab.memory_size() <= 256 * 1024 * 1024);
//! # Ok(())
//! # }
//! ```
//!
//! ## Vacant entry pattern
//!
//! For self-referential structures where you need the key before inserting:
//!
//! ```
//! # use nexus_slab::{Key, Slab};
//! # struct Node { self_key: Key, data: u32 }
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let mut slab: Slab<Node> = Slab::try_with_capacity(16)?;
//! let entry = slab.vacant_entry()?;
//! let key = entry.key();  // Know the key before insert
//!
//! let node = Node {
//!     self_key: key,
//!     data: 42,
//! };
//! entry.insert(node);
//! # assert_eq!(slab[key].self_key, key);
//! # assert_eq!(slab[key].data, 42);
//! # Ok(())
//! # }
//! ```
//!
//! # Cargo features
//!
//! Both are off by default. Every item that a feature adds is marked with it in these docs.
//!
//! - `serde`: `Serialize`/`Deserialize` for keys and whole slabs, snapshot and restore with
//!   every key kept (the `serde` module).
//! - `unstable-windows`: the memory controls on Windows — `VirtualLock` against the working-set
//!   quota, large pages (`MEM_LARGE_PAGES`) for [`HugeTlb`] — instead of
//!   [`Error::Unsupported`]. Experimental. It adds no items, only the Windows behaviour of the
//!   ones documented here.
//!
//! # Keys: plain or generational
//!
//! Like the `slab` crate, the default [`Key`] is a plain index without a generation counter:
//! it is the caller's responsibility not to use stale keys. A key used after its value was
//! removed and the slot reused reaches the new value. Any key value is memory-safe, though: a
//! foreign, stale or made-up key finds nothing or another value, never undefined behaviour.
//!
//! [`GenSlab`] (`Slab<T, B, GenKey>`) hands out [`GenKey`]s instead, which are never found
//! again once their value is removed, for 4 bytes per slot:
//!
//! ```
//! # use nexus_slab::GenSlab;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut slab: GenSlab<&str> = GenSlab::try_with_capacity(1024)?;
//! let old = slab.insert("order 1")?;
//! slab.remove(old);
//! let new = slab.insert("order 2")?;  // same slot, new generation
//! assert_eq!(new.index(), old.index());
//! assert_eq!(slab.get(old), None);     // the stale key finds nothing
//! # Ok(())
//! # }
//! ```

//!
//! ## Typed keys
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # use nexus_slab::{new_key_type, GenKey, Key, Slab, backing::Heap};
//! new_key_type! {
//!     pub struct OrderKey(Key);        // a plain key, 4 bytes
//!     pub struct ConnKey(GenKey);      // a generational key, 8 bytes
//! }
//!
//! let mut orders: Slab<u64, Heap, OrderKey> = Slab::new_in(Heap::new());
//! orders.alloc(1024)?;
//! let o: OrderKey = orders.insert(100)?;
//! assert_eq!(orders[o], 100);
//! assert_eq!(std::mem::size_of::<Option<OrderKey>>(), 4);
//! # Ok(())
//! # }
//! ```
//!
//! # Snapshot and restore
//!
//! [`Slab::insert_at`] puts a value back at exactly its old key, [`Slab::try_clone`] copies a
//! slab, and with the `serde` feature a whole slab round-trips with every key, every stale key
//! and the next keys (format: the `serde` module, with the `serde` feature).
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # #[cfg(feature = "serde")] {
//! # use nexus_slab::GenSlab;
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
//! A restore allocates at most 32 MiB unless told more, so that a few bytes of hostile input
//! cannot claim the machine's memory; a larger slab from a snapshot you trust takes an
//! explicit limit (`RestoreLimits`, with the `serde` feature):
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # #[cfg(feature = "serde")] {
//! # use nexus_slab::{GenSlab, Slab, backing::Mmap, snapshot::RestoreLimits};
//! # let path = std::env::temp_dir().join(format!("nexus-slab-doc-{}.json", std::process::id()));
//! # std::fs::write(&path, serde_json::to_vec(&GenSlab::<String>::try_with_capacity(2 << 20)?)?)?;
//! # let file = std::io::BufReader::new(std::fs::File::open(&path)?);
//! let limits = RestoreLimits::new().with_max_bytes(1 << 30);  // slabs up to 1 GiB
//! let mut de = serde_json::Deserializer::from_reader(file);
//! let book: GenSlab<String> = Slab::deserialize_in(Mmap::new(), limits, &mut de)?;
//! # assert!(book.capacity() >= 2 << 20 && book.memory_size() > 32 << 20);
//! # std::fs::remove_file(&path)?;
//! # }
//! # Ok(())
//! # }
//! ```
//!
//! # Coming from `slab` and `slotmap`
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # use nexus_slab::{Key, Slab};
//! let mut slab: Slab<&str> = Slab::try_with_capacity(1024)?;   // fixed capacity, allocated once
//! let k: Key = slab.insert("hello")?;                       // a full slab hands the value back
//! assert_eq!(slab[k], "hello");
//! assert_eq!(slab.vacant_key(), Some(Key::new_saturating(1)));
//! assert_eq!(slab.remove(k), Some("hello"));                // slab's try_remove
//! assert_eq!(slab.remove(k), None);                         // slab's remove would panic here
//! # Ok(())
//! # }
//! ```
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # use nexus_slab::{new_key_type, GenKey, Slab, backing::Mmap};
//! new_key_type! { pub struct PlayerKey(GenKey); }
//!
//! let mut players: Slab<&str, Mmap, PlayerKey> = Slab::try_with_capacity(1024)?;
//! let ada = players.insert("ada")?;
//! players.remove(ada);
//! let bob = players.insert("bob")?;             // same slot, next generation
//! assert_eq!(bob.index(), ada.index());
//! assert!(players.get(ada).is_none());          // the old key is never found again
//! # Ok(())
//! # }
//! ```
//!
//! # Objects that cross threads
//!
//! [`Slab::split`] turns a slab into an [`Owner`](split::Owner), which keeps the whole
//! single-thread API and also [`lend`](split::Owner::lend)s values to other threads, and
//! [`RemoteFree`](split::RemoteFree) handles, with which
//! any thread hands the slots back. The owner inserts and lends with plain stores; a batch of
//! returned slots costs one compare-and-swap; the owner takes them all back with one swap.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use nexus_slab::{LockedSlab, split::Lent};
//! use std::sync::mpsc;
//!
//! struct Order { id: u64, price: i64, qty: u32 }
//!
//! let mut slab: LockedSlab<Order> = LockedSlab::new();
//! slab.alloc(100_000)?;                      // locked in RAM for its whole life
//! let (mut gateway, retire) = slab.split();  // Owner + RemoteFree
//! let (tx, rx) = mpsc::sync_channel::<Lent<Order>>(1024);
//!
//! let matcher = std::thread::spawn(move || {
//!     let mut batch = retire.batch();
//!     for order in rx {
//!         assert!(order.qty > 0 && order.price > 0); // ... match it ...
//!         batch.free(order);                 // no atomic: the slot joins the batch
//!         if batch.len() == 32 {
//!             batch.flush();                 // one compare-and-swap for 32 slots
//!         }
//!     }
//! });
//!
//! for id in 0..10_000 {
//!     let order = gateway.lend(Order { id, price: 100, qty: 1 })?; // no atomic
//!     tx.send(order)?;
//! }
//! drop(tx);
//! matcher.join().unwrap();
//! gateway.reclaim();                         // one swap takes every returned slot back
//! assert_eq!(gateway.lent(), 0);
//! # Ok(())
//! # }
//! ```
//!
//! # Errors
//!
//! One error type per kind of operation: [`Error`] for allocation, the OS and the memory
//! controls; [`KeyError`] (`Copy`, no allocation) for a key that names no value
//! ([`Slab::get_disjoint_mut`], and inside [`InsertAtError`] from [`Slab::insert_at`]);
//! [`Full`] from [`Slab::insert`] and [`Slab::vacant_entry`], with the value handed back;
//! `SnapshotError` for a refused restore (with the `serde` feature). A failed call leaves the
//! slab as it was. Every message is one line with the reason and, where something fixes it, the
//! fix — a complete command (`echo 513 | sudo tee /sys/kernel/mm/hugepages/…`) or the call to
//! make (`alloc(n)` on a slab with no memory yet) — which `hint()` also returns alone. `Debug`
//! shows the fields and the message, so `?` in a `main` that returns
//! `Result<(), Box<dyn std::error::Error>>` prints the fix; an OS error is the `source()`,
//! never repeated in the message.
//!
//! # Safety
//!
//! No value of any public key constructor can cause undefined behaviour, a panic (other than
//! `slab[key]`) or a change to a slab's bookkeeping: a [`Key`] from any `usize`, a [`GenKey`]
//! from any `u64` ([`GenKey::from_bits`] refuses the bits no slab hands out), a typed, stale or
//! foreign key finds the value it was handed out for or nothing — never a vacant, retired or
//! never-used slot. Key *types* are [`SlabKey`], an `unsafe trait`: the safe API trusts only the
//! raw key a key type converts to, so no key type — however its conversions lie or panic — can
//! reach undefined behaviour through it. A plain key does not know its value (a stale one reaches the slot's new
//! occupant) and no key knows its slab. [`Backing`](backing::Backing) is an `unsafe trait`; a backing that keeps
//! its contract may return any region at least as long as asked, fail or panic in any method,
//! and override every memory control: the slab stays consistent and releases each region once,
//! and a region that visibly breaks the contract is released and reported
//! ([`Error::BrokenBacking`]), never written.

#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod backing;
mod entry;
mod error;
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
/// `Slab<T, Heap<A>, K>`). The backing to choose for many small slabs: no system call, no
/// whole page per slab.
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
