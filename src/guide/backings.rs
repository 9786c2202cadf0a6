//! # Writing a backing
//!
//! A [`Backing`](crate::backing::Backing) gives a slab one contiguous region of memory and takes
//! it back; the slab lays its slots out in it and never calls the operating system itself. The
//! built-in backings cover anonymous memory ([`Mmap`](crate::backing::Mmap)), reserved huge
//! pages ([`HugeTlb`](crate::backing::HugeTlb)), locking ([`Locked`](crate::backing::Locked))
//! and any allocator-api2 allocator ([`Heap<A>`](crate::backing::Heap), by value or by reference
//! — an arena included). Write your own when the memory comes from somewhere else: a region
//! mapped at start-up and carved up, shared memory, a file mapping, device memory.
//!
//! # The trait
//!
//! Three methods are required:
//!
//! - [`granularity`](crate::backing::Backing::granularity): the size the backing rounds region
//!   lengths to (its page size). Only [`alloc_bytes`](crate::Slab::alloc_bytes) uses it, to turn a
//!   byte budget into a capacity; a wrong value only makes it choose less than the budget buys.
//! - [`allocate(layout)`](crate::backing::Backing::allocate): a region at least `layout.size()`
//!   bytes long and aligned to `layout.align()`. It should be `layout.size()` rounded up to the
//!   granularity and no longer: `alloc` fills all of the region with slots, but `alloc_bytes` uses
//!   only its budget and the rest stays held, unused. To keep the slab's promise of no page fault
//!   after `alloc`, make the region resident before returning it, with
//!   [`Region::prefault`](crate::backing::Region::prefault), as the built-in backings do. The
//!   backing's own failures are [`Error::other`](crate::Error::other)`(e)` — any error, or a
//!   string — which matches as [`Error::Other`](crate::Error::Other) and keeps `e`'s message and
//!   source.
//! - [`release(region, layout)`](crate::backing::Backing::release) (an `unsafe fn`): takes back a
//!   region `allocate` returned, all of it, with a layout of the same alignment. It does not
//!   unlock: the slab unlocks what it locked before it releases, and a lock it finds may be the
//!   application's (`mlockall`, an arena it locked).
//!
//! The memory controls are provided: [`lock`](crate::backing::Backing::lock),
//! [`unlock`](crate::backing::Backing::unlock) and [`collapse`](crate::backing::Backing::collapse)
//! call `mlock`, `munlock` and `MADV_COLLAPSE` on exactly the region (and refuse with
//! `Unsupported` a region whose start or length is not whole base pages, since the call would act
//! on memory beside it); [`huge_page_bytes`](crate::backing::Backing::huge_page_bytes),
//! [`locked_bytes`](crate::backing::Backing::locked_bytes) and
//! [`numa_bytes`](crate::backing::Backing::numa_bytes) ask the kernel about exactly the region.
//! Override them only to do better (`HugeTlb`'s `lock` succeeds without a system call: its pages
//! cannot be swapped anyway). A [`Region`](crate::backing::Region) is a plain description — start,
//! length, and the size of the pages under it, which `prefault` uses as its stride — and owns
//! nothing. [`CloneBacking`](crate::backing::CloneBacking) is for
//! [`try_clone`](crate::Slab::try_clone) and `Clone`: a new, unallocated backing with the same
//! settings.
//!
//! # The contract
//!
//! `Backing` is an `unsafe trait`, because the slab writes values into whatever region
//! `allocate` returns. Implementing it promises that:
//!
//! - the region is readable and writable over its whole length, and used by nothing else until
//!   it is passed to `release`;
//! - it stays valid while the backing value moves, and need not outlive the backing: the slab
//!   releases its region before the backing is dropped, so the backing's `Drop` may free what it
//!   still holds;
//! - it is aligned to at least `layout.align()` and at least `layout.size()` bytes long (its
//!   contents need not be zeroed);
//! - `lock`, `unlock` and `collapse` never change the region's contents and act on no memory
//!   outside it; the three reports change nothing.
//!
//! A backing that keeps this promise may hand out memory from anywhere, return a longer region
//! than asked (the slab fills it on `alloc`, uses only the budget on `alloc_bytes`, and releases
//! all of it), fail or panic in any method, and override every memory control: the slab stays
//! consistent and releases each region exactly once. When a slab is dropped it drops its values,
//! unlocks the region if its own `mlock` locked it, calls `release` once with the region
//! `allocate` returned, then drops the backing; no panic — in a value's `Drop`, in `unlock`, in
//! `release` itself — leads to a second `release` or to none (`tests/backing_contract.rs` drives
//! every region and every override a backing can return).
//!
//! # A complete backing
//!
//! Whole pages from the system allocator, with a budget and a count of the regions out (shared,
//! to watch the slab give them back). It is what [`Heap`](crate::backing::Heap) does, written
//! out:
//!
//! ```
//! use std::alloc::{GlobalAlloc, Layout, System};
//! use std::ptr::NonNull;
//! use std::sync::{Arc, atomic::{AtomicUsize, Ordering}};
//! use nexus_slab::{Error, Slab, backing::{Backing, CloneBacking, Region}, system::SystemInfo};
//!
//! /// Pages from the system allocator, at most `budget` bytes per region.
//! struct Pages {
//!     page: usize,
//!     budget: usize,
//!     regions_out: Arc<AtomicUsize>,
//! }
//!
//! impl Pages {
//!     fn new(budget: usize) -> Self {
//!         let page = SystemInfo::probe().base_page_size; // 4 KiB on x86-64, up to 64 KiB on arm64
//!         Pages { page, budget, regions_out: Arc::new(AtomicUsize::new(0)) }
//!     }
//!
//!     /// What is asked of the allocator for `len` bytes holding `layout`: page-aligned, so that
//!     /// the memory controls act on whole pages of this block and nothing beside it.
//!     fn block(&self, len: usize, layout: Layout) -> Option<Layout> {
//!         Layout::from_size_align(len, layout.align().max(self.page)).ok()
//!     }
//! }
//!
//! // SAFETY: each region is a fresh block from `System` for `block(len, layout)`: readable and
//! // writable, ours alone until `release` frees it with the same block layout, and not moved
//! // when `Pages` moves; aligned to at least `layout.align()` and `len >= layout.size()` long.
//! // The memory controls are the trait's own.
//! unsafe impl Backing for Pages {
//!     fn granularity(&self) -> usize {
//!         self.page
//!     }
//!
//!     fn allocate(&mut self, layout: Layout) -> Result<Region, Error> {
//!         let len = layout.size().checked_next_multiple_of(self.page).unwrap_or(usize::MAX);
//!         if len > self.budget {
//!             let budget = self.budget;
//!             return Err(Error::other(format!("{len} bytes asked, over the budget of {budget}")));
//!         }
//!         let block = self.block(len, layout).ok_or_else(|| Error::other("no such layout"))?;
//!         // SAFETY: `block` is not zero-sized: a slab asks for at least one slot.
//!         let ptr = NonNull::new(unsafe { System.alloc(block) })
//!             .ok_or_else(|| Error::other(format!("the system allocator refused {len} bytes")))?;
//!         let region = Region::new(ptr, len, self.page);
//!         // SAFETY: the block is ours alone, readable and writable.
//!         if let Err(e) = unsafe { region.prefault() } {
//!             // SAFETY: allocated just above with `block`.
//!             unsafe { System.dealloc(ptr.as_ptr(), block) };
//!             return Err(e);
//!         }
//!         self.regions_out.fetch_add(1, Ordering::Relaxed);
//!         Ok(region)
//!     }
//!
//!     unsafe fn release(&mut self, region: Region, layout: Layout) {
//!         // The same alignment as asked, and the region's own length: the block allocated.
//!         let block = self.block(region.len(), layout).expect("valid when allocated");
//!         // SAFETY: the caller hands back a region of ours, from `System` with `block`.
//!         unsafe { System.dealloc(region.as_ptr(), block) };
//!         self.regions_out.fetch_sub(1, Ordering::Relaxed);
//!     }
//! }
//!
//! impl CloneBacking for Pages {
//!     fn clone_backing(&self) -> Self {
//!         Pages { page: self.page, budget: self.budget, regions_out: self.regions_out.clone() }
//!     }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let pages = Pages::new(1 << 20);
//! let out = pages.regions_out.clone();
//! let mut slab: Slab<u64, Pages> = Slab::try_with_capacity_in(1000, pages)?;
//! let k = slab.insert(42)?;
//! assert_eq!(slab[k], 42);
//! assert_eq!(slab.memory_size() % slab.backing().granularity(), 0); // whole pages
//! if slab.mlock().is_ok() {               // the provided memory controls work on it
//! #   #[cfg(target_os = "linux")]
//!     assert_eq!(slab.locked_bytes()?, slab.memory_size());
//! }
//! let copy = slab.try_clone()?;           // CloneBacking: a second region
//! assert_eq!((copy[k], out.load(Ordering::Relaxed)), (42, 2));
//! drop((slab, copy));
//! assert_eq!(out.load(Ordering::Relaxed), 0); // each region released once
//!
//! // The backing's own refusal, as `Error::Other`, with its message.
//! let err = Slab::<u64, Pages>::try_with_capacity_in(1 << 20, Pages::new(1 << 20)).unwrap_err();
//! assert!(matches!(err, Error::Other { .. }));
//! assert!(err.to_string().ends_with("over the budget of 1048576"));
//! # Ok(())
//! # }
//! ```
//!
//! The `Heap` backing, the `Static` backing over a borrowed buffer in the
//! [`Backing`](crate::backing::Backing) documentation, and `src/backing/` in the repository are
//! further examples.
//!
//! # A backing that breaks the contract
//!
//! The slab checks what it can before it writes a byte: a region shorter or less aligned than
//! asked, one that runs past the end of the address space, or one longer than `isize::MAX` bytes
//! is handed straight back to `release` with the very layout that was asked for, and `alloc`
//! returns [`Error::BrokenBacking`](crate::Error::BrokenBacking), naming the promise broken; the
//! slab stays unallocated. It cannot check the rest — that the memory is mapped, writable and
//! nobody else's — which is why the trait is `unsafe`.
//!
//! ```
//! use std::alloc::Layout;
//! use nexus_slab::{Error, Slab, backing::{Backing, Heap, Region}};
//!
//! /// Returns half of what is asked: broken on purpose, to show the check. Never ship one.
//! struct Short(Heap, usize);
//!
//! // SAFETY: not kept — the region is too short, on purpose. The slab detects exactly this
//! // before touching the region, and hands it back to `release` unused.
//! unsafe impl Backing for Short {
//!     fn granularity(&self) -> usize {
//!         self.0.granularity()
//!     }
//!     fn allocate(&mut self, layout: Layout) -> Result<Region, Error> {
//!         let region = self.0.allocate(layout)?;
//!         self.1 = region.len();
//!         Ok(Region::new(region.as_non_null(), layout.size() / 2, region.page_size()))
//!     }
//!     unsafe fn release(&mut self, region: Region, layout: Layout) {
//!         let whole = Region::new(region.as_non_null(), self.1, region.page_size());
//!         // SAFETY: the region `Heap` returned, whole, and its layout.
//!         unsafe { self.0.release(whole, layout) };
//!     }
//! }
//!
//! let mut slab: Slab<u64, Short> = Slab::new_in(Short(Heap::new(), 0));
//! let err = slab.alloc(1000).unwrap_err();
//! assert!(matches!(err, Error::BrokenBacking { .. }));
//! assert!(err.to_string().starts_with("the backing broke its contract"));
//! assert!(!slab.is_allocated());
//! ```
