//! # Coming from the `slab` crate
//!
//! Most of what `slab` users write carries over unchanged: `insert`, `get`, `get_mut`, `remove`,
//! `contains`, `len`, `capacity`, `clear`, `retain`, `drain`, `iter`/`iter_mut`/`into_iter`
//! (ascending, from both ends), `slab[key]` panicking with "invalid key", `vacant_entry` and
//! `vacant_key`, `key_of`, `get_disjoint_mut`, `get_unchecked`. So do the keys themselves: dense
//! from 0, freed keys reused last-in first-out, numbering restarting at 0 after `clear` — tested
//! side by side with the `slab` crate to hand out the same keys (`tests/switching.rs`).
//!
//! What differs follows from one design choice: a nexus-slab is allocated once and never grows
//! or moves, so that its memory can be prefaulted, locked and put on huge pages.
//!
//! | `slab` 0.4 | nexus-slab | why |
//! |---|---|---|
//! | `Slab::new()` grows on insert | `Slab::try_with_capacity(n)?`, or `new()` then `alloc(n)?` | allocated once, never grows or moves |
//! | `with_capacity(0)` is an empty slab that grows | `with_capacity(0)` panics; `try_with_capacity(0)` is `Err(ZeroCapacity)` | [see below](#with_capacity0) |
//! | `insert(v) -> usize` | `insert(v) -> Result<Key, Full<T>>` | a full slab hands the value back |
//! | `remove(k)` panics on a vacant key; `try_remove(k)` | `remove(k) -> Option<T>` | never panics |
//! | `usize` keys | [`Key`](crate::Key) (4 bytes): `Key::try_from(usize)`, `key.index()` | compact links; or typed keys |
//! | `vacant_entry() -> VacantEntry` | `vacant_entry() -> Result<VacantEntry, Full>` | a full slab has no vacant entry |
//! | `drain()` yields values | `drain()` yields `(Key, value)` | the keys, to put the values back ([growing](#growing-a-slab)) |
//! | `get_disjoint_mut` → `Result<_, GetDisjointMutError>` | → `Result<_, KeyError>` | says which key and why (out of range, vacant, stale, duplicate) |
//! | `key_of(&v)` panics for a foreign reference | `key_of(&v) -> Option<K>` | never panics |
//! | `FromIterator<(usize, T)>` | `FromIterator<(K, T)>` | keys are keys |
//! | `Clone` | `Clone`, and `try_clone()` | allocation can fail |
//! | `reserve`, `shrink_to_fit`, `compact` | — | capacity is chosen once, values never move: [growing](#growing-a-slab) is a recipe |
//!
//! ```
//! use nexus_slab::{Key, Slab};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
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
//! # Keys are `Key`, not `usize`
//!
//! A [`Key`](crate::Key) is 4 bytes (and so is `Option<Key>`), so keys stored inside values cost
//! what a `u32` does. Where an index arrives as a `usize` — from a `slab`-era API, a message, a
//! file — `Key::try_from(index)` makes the key, or says the index is one no slab can have;
//! `key.index()` goes back. The [keys guide](super::keys) has the rest, including generational
//! keys (`GenSlab<T>`) for keys that may outlive their values, and typed keys.
//!
//! ```
//! use nexus_slab::{Key, Slab};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut slab: Slab<u32> = Slab::try_with_capacity(16)?;
//! slab.insert(10)?;
//! let from_outside: usize = 0;
//! let key = Key::try_from(from_outside)?; // KeyError::OutOfRange beyond Key::MAX_INDEX
//! assert_eq!(slab.get(key), Some(&10));
//! assert_eq!(key.index(), from_outside);
//! # Ok(())
//! # }
//! ```
//!
//! # `insert` returns a `Result`
//!
//! A full slab refuses the value and hands it back in [`Full`](crate::Full)
//! ([`into_inner`](crate::Full::into_inner)), with the capacity. In a program that sized its slab
//! for the worst case, `?` is the honest answer; where filling up is a normal event, handle it:
//!
//! ```
//! use nexus_slab::Slab;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut slab: Slab<String> = Slab::try_with_capacity(1)?;
//! while !slab.is_full() {
//!     slab.insert("x".to_string())?;
//! }
//! match slab.insert("one too many".to_string()) {
//!     Ok(_) => unreachable!(),
//!     Err(full) => {
//!         assert_eq!(full.capacity(), slab.capacity());
//!         let value: String = full.into_inner(); // nothing is lost
//!         assert_eq!(value, "one too many");
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! `?` works into `Box<dyn Error>` and `anyhow::Error` for any value type that is
//! `Send + Sync + 'static`; for one that is not, `.map_err(Full::without_value)?`.
//!
//! # `with_capacity(0)`
//!
//! In `slab`, `Slab::with_capacity(0)` is an empty slab that grows on the first insert. Here a
//! slab never grows, so a slab of no slots is useless, and asking for one is an error:
//! `try_with_capacity(0)` (and `alloc(0)`) return
//! [`Error::ZeroCapacity`](crate::Error::ZeroCapacity), and `with_capacity(0)` panics with that
//! message, as std's collections panic where they cannot allocate. The empty slab is
//! [`Slab::new()`](crate::Slab::new) — no memory and no system call until
//! [`alloc(n)`](crate::Slab::alloc) — and an insert into it is refused with a message that says so:
//!
//! ```
//! use nexus_slab::{Error, Slab};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! assert!(matches!(Slab::<u64>::try_with_capacity(0), Err(Error::ZeroCapacity { .. })));
//! let panicked = std::panic::catch_unwind(|| Slab::<u64>::with_capacity(0)).unwrap_err();
//! assert!(panicked.downcast_ref::<String>().unwrap().contains("a capacity of 0 was asked for"));
//!
//! let mut empty: Slab<u64> = Slab::new();
//! assert_eq!((empty.capacity(), empty.memory_size()), (0, 0));
//! let refused = empty.insert(1).unwrap_err();
//! assert_eq!(refused.capacity(), 0);
//! assert!(refused.to_string().contains("call `alloc(n)` first"));
//! empty.alloc(100)?;
//! empty.insert(1)?;
//! # Ok(())
//! # }
//! ```
//!
//! A capacity computed at run time that may be 0 (`n.max(1)`) is the usual fix.
//!
//! # Growing a slab
//!
//! A slab has no `reserve`: its values never move, and its memory is chosen once. When a program
//! must grow anyway — at a quiet moment, rarely — it drains the slab into a bigger one, putting
//! every value back at its key with [`insert_at`](crate::Slab::insert_at). Every key handed out
//! stays valid:
//!
//! ```
//! use nexus_slab::{Key, Slab, backing::Backing};
//!
//! /// Moves every value of `slab` into a new slab of at least `capacity` slots, each at its
//! /// old key. On error (no memory) `slab` is left as it was.
//! fn grow<T, B>(slab: &mut Slab<T, B>, capacity: usize) -> Result<(), nexus_slab::Error>
//! where
//!     B: Backing + Default,
//! {
//!     let mut bigger: Slab<T, B> = Slab::try_with_capacity(capacity.max(slab.capacity()))?;
//!     for (key, value) in slab.drain() {
//!         if bigger.insert_at(key, value).is_err() {
//!             unreachable!("distinct keys, all below the old capacity");
//!         }
//!     }
//!     *slab = bigger; // the old, empty slab is released here
//!     Ok(())
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut slab: Slab<u64> = Slab::try_with_capacity(1)?;
//! let mut keys: Vec<Key> = Vec::new();
//! while let Some(key) = slab.vacant_key() {
//!     keys.push(key);
//!     slab.insert(key.index() as u64 * 10)?;
//! }
//! slab.remove(keys[3]); // a hole, to show that holes survive too
//! let old_capacity = slab.capacity();
//!
//! grow(&mut slab, 2 * old_capacity)?;
//! assert!(slab.capacity() >= 2 * old_capacity);
//! for &key in &keys {
//!     let expected = if key == keys[3] { None } else { Some(key.index() as u64 * 10) };
//!     assert_eq!(slab.get(key).copied(), expected); // every key finds its value
//! }
//! assert_eq!(slab.insert(7)?, keys[3]); // the hole is handed out first
//! # Ok(())
//! # }
//! ```
//!
//! The values move once (references to them and `key_of` answers do not survive the move); the
//! drain and the inserts are O(1) per value, in any order. Vacant slots below the highest key are
//! handed out lowest first afterwards, where the old slab would have reused the last freed
//! first. With generational keys the values keep their keys too, but the generations of vacant
//! slots do not come along, so a key that was stale before the move can be found again after it
//! (the [snapshots guide](super::snapshots#without-serde-insert_at-and-fromiterator) shows it):
//! grow a `GenSlab` only where no stale key survives.
//!
//! # Many small slabs
//!
//! A slab on any built-in backing takes at least one page of memory (4 KiB on x86-64) and, to
//! make it, at least one system call: a small slab on [`Mmap`](crate::backing::Mmap) makes three
//! between its making and its drop (`mmap`, the `madvise` that prefaults, `munmap`), one on
//! [`Heap`](crate::backing::Heap) (the prefault's `madvise`). A structure of a few entries pays
//! that in full. `examples/small_slabs.rs` in the repository makes a slab, inserts one `u64`
//! and drops it, 10,000 times over, and keeps 10,000 such slabs alive to see what each holds.
//! Six runs on the machine of the [performance guide](super::performance), while it was busy with
//! other work (a load average of 3 to 6 on its 2 vCPUs), so read the times as rough:
//!
//! | one-entry slab | make, insert, drop | memory held per live slab | `memory_size()` |
//! |---|---:|---:|---:|
//! | `Slab<u64>` (`Mmap`) | 9.5–15.6 µs | 4 268–4 271 B | 4 096 B |
//! | `HeapSlab<u64>` | 0.76–1.49 µs | 8 304–8 310 B | 4 096 B |
//! | `slab::Slab<u64>` | 0.01–0.02 µs | 123–126 B | 64 B (its `Vec`) |
//!
//! (The heap slab holds about two pages: a block of one page aligned to a page costs the global
//! allocator, glibc's here, about twice that.) So:
//!
//! - for **many small, short-lived collections** (a timer queue per connection, a list per
//!   order), use the `slab` crate — or keep the entries of all of them in **one** nexus slab,
//!   each collection holding the keys of its own entries (below);
//! - [`HeapSlab<T>`](crate::HeapSlab) (`Slab<T, Heap>`) is the backing for slabs that are made
//!   and dropped at run time (a tenth of `Mmap`'s cost to make and drop here), for memory from an
//!   allocator of your own (`Heap::new_in(&arena)`, any allocator-api2 allocator), and for tests
//!   under Miri; its memory can still be locked ([`mlock`](crate::Slab::mlock)) and collapsed;
//! - `Mmap`, `Locked<Mmap>` and `HugeTlb` are for the long-lived slabs the hot path runs on.
//!
//! One slab for the timers of every connection, each connection holding the head of its list
//! and each timer the key of the next (4 bytes a link):
//!
//! ```
//! use nexus_slab::{HeapSlab, Key, Slab};
//!
//! struct Timer { deadline: u64, next: Option<Key> }
//!
//! #[derive(Default)]
//! struct Conn { timers: Option<Key> } // the head of this connection's list
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut timers: Slab<Timer> = Slab::try_with_capacity(10_000)?; // one slab for all
//! let mut conns: Vec<Conn> = (0..1000).map(|_| Conn::default()).collect();
//! for (i, conn) in conns.iter_mut().enumerate() {
//!     let head = timers.insert(Timer { deadline: i as u64, next: conn.timers })?;
//!     conn.timers = Some(head);
//! }
//! // Connection 7's timers:
//! let mut at = conns[7].timers;
//! while let Some(key) = at {
//!     assert_eq!(timers[key].deadline, 7);
//!     at = timers[key].next;
//! }
//! assert!(timers.memory_size() < 1000 * 4096); // not a page per connection
//!
//! // Slabs made and dropped at run time: the heap backing.
//! let scratch: HeapSlab<u64> = HeapSlab::try_with_capacity(100)?;
//! assert!(scratch.capacity() >= 100);
//! # Ok(())
//! # }
//! ```
//!
//! # `vacant_entry`, `get_disjoint_mut`, `FromIterator`
//!
//! [`vacant_entry`](crate::Slab::vacant_entry) returns a `Result`: `Full` (without a value) when no
//! slot is free. [`get_disjoint_mut`](crate::Slab::get_disjoint_mut) says which key failed and
//! why, as a [`KeyError`](crate::KeyError). `collect()` takes `(key, value)` pairs, so values
//! keyed by a `slab` crate's `usize` convert with `Key::try_from`:
//!
//! ```
//! use nexus_slab::{Key, KeyError, Slab};
//!
//! struct Node { me: Key, parent: Option<Key> }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut tree: Slab<Node> = Slab::try_with_capacity(64)?;
//! let entry = tree.vacant_entry()?;      // the key before the value exists
//! let root = entry.key();
//! entry.insert(Node { me: root, parent: None });
//! let child = tree.insert(Node { me: Key::new_saturating(1), parent: Some(root) })?;
//! assert_eq!(tree[child].me, child);
//!
//! let [r, c] = tree.get_disjoint_mut([root, child])?;
//! std::mem::swap(&mut r.parent, &mut c.parent);
//! let err = tree.get_disjoint_mut([root, root]).err();
//! assert!(matches!(err, Some(KeyError::Duplicate { index: 0, .. })));
//!
//! // From a `slab::Slab`, every value at its old key.
//! let mut theirs: slab::Slab<&str> = slab::Slab::new();
//! let a = theirs.insert("a");
//! let b = theirs.insert("b");
//! theirs.remove(a);
//! let ours: Slab<&str> = theirs
//!     .into_iter()
//!     .map(|(i, v)| Ok::<_, KeyError>((Key::try_from(i)?, v)))
//!     .collect::<Result<_, _>>()?;
//! assert_eq!(ours[Key::try_from(b)?], "b");
//! assert!(!ours.contains(Key::try_from(a)?));
//! # Ok(())
//! # }
//! ```
//!
//! `collect()` sizes the slab for the highest key (and panics where it cannot allocate); for a
//! chosen capacity or backing, allocate first and `insert_at` each pair, as in the growth recipe.
