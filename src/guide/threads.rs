//! # Objects that cross threads: `split`, lend, hand back
//!
//! Thread-per-core pipelines create an object on one thread and retire it on another: a gateway
//! makes an order and the matcher consumes it; a network thread builds a message and the logger
//! frees it. [`Slab::split`](crate::Slab::split) turns a slab into an
//! [`Owner`](crate::split::Owner), which keeps the whole single-thread API (the same code, the
//! same keys) and can also [`lend`](crate::split::Owner::lend) values to other threads, and
//! [`RemoteFree`](crate::split::RemoteFree) handles (`Clone + Send + Sync`) with which any
//! thread hands the slots back. The owner's own free list has no atomics; other threads push
//! returned slots onto a stack beside the slab, which the owner takes back with one swap — by
//! itself when its free list runs dry, or when you call
//! [`reclaim`](crate::split::Owner::reclaim).
//!
//! ```
//! use nexus_slab::{LockedSlab, split::Lent};
//! use std::sync::mpsc;
//!
//! struct Order { id: u64, price: i64, qty: u32 }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let slab: LockedSlab<Order> = LockedSlab::try_with_capacity(100_000)?; // locked for life
//! let (mut gateway, retire) = slab.split();  // Owner + RemoteFree
//! let (tx, rx) = mpsc::sync_channel::<Lent<Order>>(1024);
//!
//! let matcher = std::thread::spawn(move || {
//!     for order in rx {
//!         assert!(order.qty > 0 && order.price > 0 && order.id < 10_000); // ... match it ...
//!         retire.free(order); // the value is dropped here, the slot goes back: one CAS
//!     }
//! });
//!
//! for id in 0..10_000 {
//!     let order = gateway.lend(Order { id, price: 100, qty: 1 })?; // no atomic operation
//!     tx.send(order)?;
//! }
//! drop(tx);
//! matcher.join().unwrap();
//! assert_eq!(gateway.reclaim(), 10_000); // one swap takes every returned slot back
//! assert_eq!(gateway.lent(), 0);
//! # Ok(())
//! # }
//! ```
//!
//! (The `?` after `lend` is for brevity here: 100,000 slots cannot run out for 10,000 orders. A
//! program whose consumer can fall behind handles
//! [back-pressure](#back-pressure-lend-returns-full).)
//!
//! # The pieces
//!
//! - [`Owner::lend(value)`](crate::split::Owner::lend) stores the value in a slot and returns a
//!   [`Lent<T>`](crate::split::Lent): `Send` when `T` is, `Deref`/`DerefMut` to the value.
//!   Dropping it drops the value on the dropping thread and hands the slot back (also when the
//!   value's `Drop` panics); so does [`RemoteFree::free`](crate::split::RemoteFree::free).
//!   [`RemoteFree::take`](crate::split::RemoteFree::take) (and
//!   [`FreeBatch::take`](crate::split::FreeBatch::take)) moves the value out instead.
//! - [`RemoteFree::batch`](crate::split::RemoteFree::batch) makes a
//!   [`FreeBatch`](crate::split::FreeBatch), which links returned slots together with plain
//!   stores and hands them all back with one compare-and-swap on
//!   [`flush`](crate::split::FreeBatch::flush) or drop;
//!   [`free_all`](crate::split::RemoteFree::free_all) does that for an iterator of `Lent`s.
//! - [`Owner::reclaim`](crate::split::Owner::reclaim) takes back every slot returned so far
//!   (one swap) and says how many; [`lent`](crate::split::Owner::lent) counts the slots out.
//!   [`insert`](crate::split::Owner::insert), `lend` and
//!   [`vacant_entry`](crate::split::Owner::vacant_entry) reclaim by themselves when no slot is
//!   free.
//! - An owner is not a slab (no `Deref`): it has `Slab`'s methods itself, and
//!   [`as_slab`](crate::split::Owner::as_slab) reads the rest (a snapshot of the owner's values is
//!   `serde_json::to_string(owner.as_slab())`).
//!
//! While lent, a slot is out of the owner's sight: `get`, `iter`, `drain`, `retain`, `clear`
//! and the owner's drop skip it, `len()` does not count it (`lent()` does), a
//! [`GenKey`](crate::GenKey) that named the slot before stays stale, and `insert_at` refuses it.
//! After a split, `clear` and `drain` no longer restart plain keys at 0 (a lent slot must stay
//! out of use), and a copy ([`Owner::try_clone`](crate::split::Owner::try_clone)) or a snapshot
//! of the owner holds its values, with the slots out on loan free there. Returning a slot needs
//! no memory beyond the slab: the link goes into the vacant slot itself, so the stack never
//! overflows and a batch of any length costs nothing until its flush. Split works on every
//! backing, with plain, generational or typed keys.
//!
//! ```
//! use nexus_slab::GenSlab;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (mut owner, remote) = GenSlab::<String>::try_with_capacity(8)?.split();
//! let k = owner.insert("kept".into())?;
//! let lent = owner.lend("lent".into())?;
//! assert_eq!((owner.len(), owner.lent()), (1, 1));
//! assert_eq!(owner.values().collect::<Vec<_>>(), ["kept"]); // the lent value is out of sight
//!
//! assert_eq!(remote.take(lent), "lent"); // the value moved out, the slot handed back
//! assert_eq!(owner.reclaim(), 1);
//! assert_eq!(owner.lent(), 0);
//! assert_eq!(owner[k], "kept");
//! # Ok(())
//! # }
//! ```
//!
//! # Back-pressure: `lend` returns `Full`
//!
//! `lend` fails with [`Full`](crate::Full) when no slot is free — each holds one of the owner's
//! values, is lent, or was handed back into a batch not flushed yet — and it has already taken
//! back whatever was returned, so calling `reclaim()` first adds nothing. The value comes back with the error
//! ([`Full::into_inner`](crate::Full::into_inner)); what to do with it is the program's choice:
//!
//! - **wait** for the consumer: retry, spinning (`std::hint::spin_loop()`) or yielding
//!   (`std::thread::yield_now()`) between tries — the lowest latency once a slot comes back, at
//!   the cost of a busy core;
//! - **block** on a signal from the consumer (a channel of credits, `Thread::unpark`) when
//!   spinning is too expensive;
//! - **drop** the value and count it — shedding load, for data that is worthless late (market
//!   data superseded by the next tick);
//! - **size** the slab so it cannot happen: for the most values that can be out at once — what
//!   a bounded channel holds, what the consumer keeps, its unflushed batch, one value in each
//!   thread's hands.
//!
//! Here a gateway waits (with a bounded spin, then yields) on a slab far smaller than the stream
//! of orders:
//!
//! ```
//! use nexus_slab::{Slab, split::Lent};
//! use std::sync::mpsc;
//!
//! struct Order { id: u64, qty: u32 }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let slab: Slab<Order> = Slab::try_with_capacity(64)?;
//! let capacity = slab.capacity();
//! let (mut gateway, retire) = slab.split();
//! let (tx, rx) = mpsc::channel::<Lent<Order>>();
//! let matcher = std::thread::spawn(move || {
//!     let mut filled = 0;
//!     for order in rx {
//!         filled += order.qty as u64;
//!         drop(order); // the slot goes back at once (`retire.free(order)` is the same)
//!     }
//!     drop(retire);
//!     filled
//! });
//!
//! let mut waits = 0;
//! for id in 0..10_000 {
//!     let mut order = Order { id, qty: 1 };
//!     let mut tries = 0u32;
//!     let lent = loop {
//!         match gateway.lend(order) {
//!             Ok(lent) => break lent,
//!             Err(full) => {
//!                 order = full.into_inner(); // the value comes back: nothing is lost
//!                 waits += 1;
//!                 tries += 1;
//!                 if tries < 100 {
//!                     std::hint::spin_loop();
//!                 } else {
//!                     std::thread::yield_now();
//!                 }
//!             }
//!         }
//!     };
//!     assert_eq!(lent.id, id);
//!     tx.send(lent)?;
//! }
//! drop(tx);
//! assert_eq!(matcher.join().unwrap(), 10_000);
//! println!("{capacity} slots, {waits} waits for 10,000 orders");
//! # Ok(())
//! # }
//! ```
//!
//! To shed load instead, the `Err` arm drops the value and moves on:
//! `Err(full) => { dropped += 1; drop(full.into_inner()); continue; }`.
//!
//! # Batch flushing: a consumer must flush when its input runs dry
//!
//! A [`FreeBatch`](crate::split::FreeBatch) keeps the slots freed into it until it is flushed or
//! dropped — that is what makes a batched free cost one compare-and-swap per batch. So a consumer
//! that flushes only every 32 slots can sit on up to 31 of them while it waits for more input,
//! and a producer waiting for slots then waits for a consumer waiting for input: neither moves.
//! The rule: **flush before blocking**. With a channel, drain what has arrived with `try_recv`,
//! and flush when it reports `Empty`, before the blocking `recv` (or `recv_timeout`):
//!
//! ```
//! use nexus_slab::{Slab, split::Lent};
//! use std::sync::mpsc::{self, TryRecvError};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let slab: Slab<[u64; 8]> = Slab::try_with_capacity(64)?; // 64-byte messages, ~1 page
//! let (mut producer, remote) = slab.split();
//! let (tx, rx) = mpsc::channel::<Lent<[u64; 8]>>();
//!
//! let consumer = std::thread::spawn(move || {
//!     let mut batch = remote.batch();
//!     let mut seen = 0u64;
//!     loop {
//!         let msg = match rx.try_recv() {
//!             Ok(msg) => msg,
//!             Err(TryRecvError::Empty) => {
//!                 batch.flush(); // input ran dry: hand the slots back before waiting
//!                 match rx.recv() {
//!                     Ok(msg) => msg,
//!                     Err(_) => break, // the producer is gone
//!                 }
//!             }
//!             Err(TryRecvError::Disconnected) => break,
//!         };
//!         seen += msg[0];
//!         batch.free(msg); // no atomic operation: the slot joins the batch
//!         if batch.len() == 32 {
//!             batch.flush(); // one compare-and-swap for 32 slots
//!         }
//!     }
//!     seen // the batch is flushed when dropped, here
//! });
//!
//! for i in 0..10_000u64 {
//!     let mut msg = [i; 8];
//!     let lent = loop {
//!         match producer.lend(msg) {
//!             Ok(lent) => break lent,
//!             Err(full) => (msg, _) = (full.into_inner(), std::thread::yield_now()),
//!         }
//!     };
//!     tx.send(lent)?;
//! }
//! drop(tx);
//! assert_eq!(consumer.join().unwrap(), (0..10_000).sum::<u64>());
//! producer.reclaim();
//! assert_eq!(producer.lent(), 0); // every slot came back
//! # Ok(())
//! # }
//! ```
//!
//! Without the `batch.flush()` in the `Empty` arm this program can stop for good: the producer
//! spins on a full slab while the consumer, its channel empty, blocks in `recv` holding up to 31
//! slots in its batch. The same holds for any other source of input (a ring buffer, a socket):
//! flush whenever the consumer is about to wait, and at least once per poll of an event loop.
//!
//! # Shutdown
//!
//! The owner, each `RemoteFree` and each `Lent` may be dropped in any order, on any thread: that
//! is sound, and the slab's memory goes back to its backing when the last of them lets go (a
//! `LockedSlab` stays locked until then). When the owner goes it drops its own values; values
//! still lent stay valid, and a `Lent` or batch handed back afterwards simply lets go of its part.
//! Lending takes no reference count while the owner lives: the owner, as it goes, counts the slots
//! still out.
//!
//! ```
//! use nexus_slab::{LockedSlab, system::SystemInfo};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # #[cfg(target_os = "linux")]
//! let locked_now = || SystemInfo::probe().process_locked.unwrap_or(0); // VmLck
//! # #[cfg(not(target_os = "linux"))]
//! # let locked_now = || 0;
//! let before = locked_now();
//! let Ok(slab) = LockedSlab::<String>::try_with_capacity(1000) else {
//!     return Ok(()); // over the memlock limit here: see the memory control guide
//! };
//! let bytes = slab.memory_size();
//! let (mut owner, remote) = slab.split();
//! let a = owner.lend("a".to_string())?;
//! let b = owner.lend("b".to_string())?;
//! owner.insert("kept".to_string())?;
//!
//! let worker = std::thread::spawn(move || a.len()); // `a` is dropped on that thread
//! drop(owner);                     // the owner first: "kept" is dropped, `b` stays valid
//! assert_eq!(*b, "b");
//! assert_eq!(worker.join().unwrap(), 1);
//! drop(remote);
//! # #[cfg(target_os = "linux")]
//! assert_eq!(locked_now(), before + bytes); // `b` still holds the memory, locked
//! drop(b);                         // the last holder: the memory is unlocked and released
//! assert_eq!(locked_now(), before);
//! # let _ = bytes;
//! # Ok(())
//! # }
//! ```
//!
//! Every interleaving of these drops across threads is checked with loom and under Miri (see
//! the [safety guide](super::safety#threads)).
//!
//! # What each operation costs
//!
//! Atomic operations, read from the generated code (`.ci/split_asm.sh` checks the
//! `lock`-prefixed instructions and `xchg` in `examples/split_hotpath.rs`) and counted per call
//! in the unit tests of `src/split.rs`:
//!
//! | operation | atomic operations |
//! |---|---|
//! | `Owner::insert`, `get`, `remove`, `lend` (a slot is free) | none (the same instructions as `Slab`'s) |
//! | `Owner::insert` / `lend` with the free list dry | one load; one swap if anything was returned |
//! | `Owner::reclaim` | one load; one swap if anything was returned |
//! | `RemoteFree::free`, `take`, dropping a `Lent` | one load and one compare-and-swap (another only if a push got in between) |
//! | `FreeBatch::free` / `take` | none |
//! | `FreeBatch::flush` / drop (any number of slots) | one load and one compare-and-swap |
//! | `Owner::remote`, `RemoteFree::clone` / drop | one fetch-add / fetch-sub |
//!
//! The latency of `lend` and of a remote free against `sharded-slab` and a `Mutex<slab::Slab>`,
//! measured on two pinned threads, is in the
//! [performance guide](super::performance#objects-that-cross-threads).
