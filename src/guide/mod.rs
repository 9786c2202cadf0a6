//! Guides: what the API reference does not say in one place — how to get the memory you
//! want, choose keys, save and restore a slab, share one across threads, port code from `slab`
//! or `slotmap`, write a backing, and what is guaranteed and measured.
//!
//! Each guide is a page of documentation and nothing else (it declares no item); every example
//! in it is a doc test that `cargo test` compiles and runs. Examples that need privilege or
//! reserved huge pages accept the error this crate documents for that case, as a program would.
//!
//! 1. [Memory control](memory_control): prefault, locking in RAM and its limits, huge pages and
//!    their pools, transparent huge pages, what the machine allows, what a slot costs.
//! 2. [Placement and isolation](placement): NUMA nodes, fork and core-dump exclusion, the
//!    preflight of settings that add jitter.
//! 3. [Keys](keys): plain, generational and typed keys; stale keys; retired slots; writing a
//!    key type by hand.
//! 4. [Snapshots](snapshots): saving and restoring a slab with every key (the `serde`
//!    feature), the restore limits, postcard's lost messages, rebuilding without serde.
//! 5. [Objects that cross threads](threads): [`Slab::split`](crate::Slab::split), lending,
//!    back-pressure, batch flushing, shutdown.
//! 6. [Coming from `slab`](from_slab): what differs, growing a slab, many small slabs.
//! 7. [Coming from `slotmap`](from_slotmap): generational keys, typed keys, secondary maps.
//! 8. [Writing a backing](backings): the [`Backing`](crate::backing::Backing) contract and a
//!    complete backing.
//! 9. [Safety](safety): what no key value, backing or panic can break, and how it is checked.
//! 10. [Performance](performance): every measurement, the machine, and how to reproduce each.

pub mod backings;
pub mod from_slab;
pub mod from_slotmap;
pub mod keys;
pub mod memory_control;
pub mod performance;
pub mod placement;
pub mod safety;
pub mod snapshots;
pub mod threads;
