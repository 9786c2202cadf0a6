//! # Safety: what is guaranteed, and how it is checked
//!
//! The safe API cannot cause undefined behaviour, whatever it is given: any key value, any key
//! type, any backing that keeps its documented contract, values whose `Drop` or `Clone` panics,
//! and any order in which the pieces of a split slab are dropped on any threads. This page says
//! what each guarantee covers, where the `unsafe` parts of the API are, and how it is all tested.
//!
//! # Keys: any value is safe
//!
//! No value of any public key constructor can cause undefined behaviour, a panic (other than
//! `slab[key]`, which panics with "invalid key" as `Index` does everywhere) or a change to a
//! slab's bookkeeping. A [`Key`](crate::Key) made from any `usize`, a [`GenKey`](crate::GenKey)
//! from any `u64` or from deserialisation, a typed key, a stale key or another slab's key finds
//! either the value it was handed out for, or nothing: never a vacant, retired or never-used
//! slot, never a freed value. [`GenKey::from_bits`](crate::GenKey::from_bits) refuses the bits no
//! slab hands out (generation 0 or even), and lookups match only the odd generations of occupied
//! slots, so even a forged key cannot reach a vacant slot.
//!
//! ```
//! use nexus_slab::{GenKey, GenSlab, Key, KeyError, Slab};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut slab: Slab<u32> = Slab::try_with_capacity(4)?;
//! slab.insert(1)?;
//! for made_up in [Key::new_saturating(3), Key::new_saturating(usize::MAX), Key::try_from(1)?] {
//!     assert_eq!(slab.get(made_up), None);
//!     assert!(slab.remove(made_up).is_none());
//!     let refused = slab.get_disjoint_mut([made_up]).err();
//!     assert!(matches!(refused, Some(KeyError::Vacant { .. } | KeyError::OutOfRange { .. })));
//! }
//! assert_eq!(slab.len(), 1); // nothing changed
//!
//! let mut gens: GenSlab<u32> = GenSlab::try_with_capacity(4)?;
//! let k = gens.insert(1)?;
//! for bits in [0, u64::MAX, k.to_bits() + (1 << 32), k.to_bits() + (2 << 32)] {
//!     if let Some(forged) = GenKey::from_bits(bits) {
//!         assert_eq!(gens.get(forged), None);
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! What keys cannot do: a plain `Key` does not know its value (a stale one reaches the slot's new
//! occupant — use `GenKey` when that matters), and no key knows its slab (another slab's key with
//! the same index and generation finds that slab's value), as with `slab` and `slotmap`.
//!
//! # The `unsafe` traits
//!
//! Two traits are `unsafe` to implement, each with a contract the implementer promises:
//!
//! - [`SlabKey`](crate::SlabKey): `from_raw` and `into_raw` are inverse, and copies of a key give
//!   the same raw key. The safe API does not rely on it — it trusts only the raw key a key type
//!   converts to, and never calls `index()`, `Eq` or `Hash` of a key type — so a key type whose
//!   conversions lie or panic cannot reach undefined behaviour or lose a value through it; only
//!   the `unsafe fn`s below rely on it. [`new_key_type!`](crate::new_key_type) writes a correct
//!   implementation (see the [keys guide](super::keys#writing-a-key-type-by-hand-slabkey)).
//! - [`Backing`](crate::backing::Backing): the region `allocate` returns is readable and
//!   writable, aligned and long enough, nobody else's until `release`, and valid while the
//!   backing moves; the memory controls change no contents and touch nothing outside it. The slab
//!   checks what it can (a short, misaligned or address-wrapping region is released and reported
//!   as [`Error::BrokenBacking`](crate::Error::BrokenBacking), never written); a backing that keeps
//!   the contract may fail or panic in any method, and the slab stays consistent and releases each
//!   region exactly once (see the [backings guide](super::backings)).
//!
//! # The `unsafe fn`s
//!
//! The checked methods cost a bounds compare and an occupancy test. Where a program has proven a
//! key live, four methods skip the checks, with the contract in their `# Safety` sections:
//!
//! - [`Slab::get_unchecked`](crate::Slab::get_unchecked) and
//!   [`get_unchecked_mut`](crate::Slab::get_unchecked_mut): the key names a value in this slab
//!   (`slab.contains(key)`);
//! - [`Slab::get_disjoint_unchecked_mut`](crate::Slab::get_disjoint_unchecked_mut): every key
//!   names a value in this slab, and no two name the same slot;
//! - the same on a split slab's owner: [`Owner::get_unchecked`](crate::split::Owner::get_unchecked),
//!   [`Owner::get_unchecked_mut`](crate::split::Owner::get_unchecked_mut) (a lent slot holds no
//!   value).
//!
//! Debug builds assert these contracts. [`Backing::release`](crate::backing::Backing::release)
//! and [`Region::prefault`](crate::backing::Region::prefault) are `unsafe fn`s too, for
//! implementers of backings.
//!
//! ```
//! use nexus_slab::Slab;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut slab: Slab<u32> = Slab::try_with_capacity(4)?;
//! let a = slab.insert(1)?;
//! let b = slab.insert(2)?;
//! // SAFETY: both were just inserted, into two slots.
//! let [x, y] = unsafe { slab.get_disjoint_unchecked_mut([a, b]) };
//! std::mem::swap(x, y);
//! // SAFETY: `a` names a value.
//! assert_eq!(unsafe { *slab.get_unchecked(a) }, 2);
//! # Ok(())
//! # }
//! ```
//!
//! # Panics in `Drop` and `Clone`
//!
//! A value's `Drop` may panic inside any operation that drops values — `remove`, `clear`,
//! `drain` (consumed or not), `retain` (and its closure may panic too), the drop of a partly
//! consumed `into_iter`, the slab's own drop. The panic propagates with the slab consistent: no
//! value dropped twice, `len()` equal to what iteration finds, every value either still in the
//! slab or dropped, the next insert working, and the memory released exactly once when the slab
//! goes (a second panic during the slab's own drop aborts, as for `Vec`). A panic in `T::clone`
//! during [`try_clone`](crate::Slab::try_clone) drops the partial copy and propagates, leaving the
//! original as it was. A `Lent` whose value panics in `Drop` still hands its slot back.
//!
//! ```
//! use nexus_slab::Slab;
//! use std::panic::{catch_unwind, AssertUnwindSafe};
//!
//! struct Bomb(bool);
//! impl Drop for Bomb {
//!     fn drop(&mut self) {
//!         if self.0 {
//!             panic!("boom");
//!         }
//!     }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut slab: Slab<Bomb> = Slab::try_with_capacity(8)?;
//! for armed in [false, true, false] {
//!     slab.insert(Bomb(armed))?;
//! }
//! assert!(catch_unwind(AssertUnwindSafe(|| slab.clear())).is_err());
//! assert_eq!(slab.len(), slab.iter().count()); // consistent...
//! assert_eq!(slab.len(), 1);                   // ...and the value after the panicking one is still in
//! slab.insert(Bomb(false))?; // and it works
//! # Ok(())
//! # }
//! ```
//!
//! # Threads
//!
//! `Slab<T, B, K>` is `Send` when `T` and `B` are and `Sync` when they are; a
//! [`Lent<T>`](crate::split::Lent) is `Send` when `T` is, and a
//! [`RemoteFree<T>`](crate::split::RemoteFree) is `Send + Sync` when `T` is `Send`. The pieces of
//! a split slab may let go in any order on any threads (see the
//! [threads guide](super::threads#shutdown)).
//!
//! # How it is checked
//!
//! - **From the outside**: every key constructor over its whole input range against slots in every
//!   state, on every backing (`tests/forged_keys.rs`, `tests/hostile_keys.rs`); the behaviours the
//!   `slab` and `slotmap` test suites check, and the same operations run side by side with each
//!   crate, which must hand out the same keys (`tests/switching.rs`); a property-test model of the
//!   slab (`tests/proptest_model.rs`); every region and override a backing can return
//!   (`tests/backing_contract.rs`); a panicking `Drop` at every position inside every operation
//!   that drops, with plain and generational keys, on every backing (`tests/panic_safety.rs`).
//! - **Under Miri**, with strict provenance: the unit tests and every integration test, on the
//!   `Heap` and `Mmap` backings (tests that need the real operating system — `/proc`, `mlock`,
//!   hugetlb — are skipped there; the doc tests are not run under Miri).
//! - **The split slab**, on top of that: a loom model check of its real code (the owner, `Lent`s,
//!   `RemoteFree` clones and a batch flush letting go at once, and the owner taking slots back
//!   against pushes, in every interleaving: every value dropped once, the memory released once, the
//!   shared block never touched after its free); a two-thread stress test and the teardown races
//!   under Miri with many seeds, under both the Stacked and Tree Borrows aliasing models; a model of
//!   random schedules of an owner and up to three remote threads, checked at every quiescent point
//!   (`tests/split_model.rs`).
//! - **Fuzzing**: cargo-fuzz targets that drive the slab against a model (`fuzz/fuzz_targets/model.rs`)
//!   and that restore arbitrary snapshot bytes (`fuzz/fuzz_targets/deserialize.rs`).
//!
//! The scripts that run each are in `.ci/` in the repository (`miri.sh`, `miri_seeds.sh`,
//! `loom.sh`, `fuzz.sh`).
