//! [`Heap`]: memory from any `allocator-api2` allocator.

use core::alloc::Layout;
use core::fmt;

use allocator_api2::alloc::{Allocator, Global};

use super::{region_len, Backing, CloneBacking, Region};
use crate::{sys, Error};

/// Memory from an [`Allocator`] (the global allocator by default, or any allocator-api2
/// allocator such as a `bumpalo::Bump`, by value or by reference).
///
/// The layout asked of the allocator is page-aligned and page-padded, so the region owns whole
/// pages and the memory controls (`mlock`, `try_collapse`) apply to it as to an mmap. The
/// region is prefaulted when it is allocated. Under Miri this is the backing to test with.
///
/// `release` gives the block back to the allocator without unlocking it: the pages stay with
/// the allocator, and a lock on them may be the application's (an arena it locked itself, or
/// `mlockall`). A slab unlocks what it locked with [`Slab::mlock`](crate::Slab::mlock) before
/// it releases; a caller driving the backing by hand unlocks what it locked the same way.
///
/// ```
/// use nexus_slab::{HeapSlab, Slab, backing::Heap};
///
/// let mut slab: HeapSlab<u32> = Slab::new_in(Heap::new());
/// slab.alloc(10).unwrap();
/// let k = slab.insert(7).unwrap();
/// assert_eq!(slab[k], 7);
/// ```
pub struct Heap<A: Allocator = Global> {
    alloc: A,
}

impl Heap<Global> {
    /// A backing over the global allocator.
    ///
    /// ```
    /// let h = nexus_slab::backing::Heap::new();
    /// # let _ = h;
    /// ```
    pub const fn new() -> Self {
        Heap { alloc: Global }
    }
}

impl<A: Allocator> Heap<A> {
    /// A backing over `alloc`. A reference works too (`Heap::new_in(&arena)`), and the slab
    /// then borrows the arena.
    ///
    /// ```
    /// use allocator_api2::alloc::Global;
    /// use nexus_slab::{Slab, backing::Heap};
    ///
    /// let mut slab: Slab<u8, Heap<&Global>> = Slab::new_in(Heap::new_in(&Global));
    /// slab.alloc(1).unwrap();
    /// assert!(slab.capacity() >= 1);
    /// ```
    pub const fn new_in(alloc: A) -> Self {
        Heap { alloc }
    }

    /// The allocator.
    ///
    /// ```
    /// let h = nexus_slab::backing::Heap::new();
    /// let _global: &allocator_api2::alloc::Global = h.allocator();
    /// ```
    pub fn allocator(&self) -> &A {
        &self.alloc
    }

    /// The layout asked of the allocator for a region of `len` bytes (whole pages) holding
    /// `layout`: page-aligned, so the region owns its pages.
    fn padded(len: usize, layout: Layout) -> Option<Layout> {
        Layout::from_size_align(len, layout.align().max(sys::page_size())).ok()
    }
}

impl Default for Heap<Global> {
    fn default() -> Self {
        Heap::new()
    }
}

impl<A: Allocator> fmt::Debug for Heap<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Heap")
            .field("allocator", &core::any::type_name::<A>())
            .finish()
    }
}

// SAFETY: the region is a block from `alloc` for the padded layout: aligned to at least
// `layout.align()` (and the page), `padded.size() >= layout.size()` bytes, exclusively ours
// until `release` deallocates it with the same padded layout (allocator-api2 keeps a block
// valid while the allocator value moves). Whole pages, so the default memory controls act on
// exactly the region.
unsafe impl<A: Allocator> Backing for Heap<A> {
    fn granularity(&self) -> usize {
        sys::page_size()
    }

    fn allocate(&mut self, layout: Layout) -> Result<Region, Error> {
        let len = region_len(layout, sys::page_size())?;
        let padded = Self::padded(len, layout).ok_or(Error::SizeOverflow {
            requested: layout.size(),
            slot_size: 1,
        })?;
        let block = self.alloc.allocate(padded).map_err(|_| {
            Error::os(
                "allocator.allocate",
                padded.size(),
                std::io::ErrorKind::OutOfMemory.into(),
            )
        })?;
        let region = Region::new(block.cast(), padded.size(), sys::page_size());
        // SAFETY: the block is fresh and ours.
        if let Err(e) = unsafe { region.prefault() } {
            // SAFETY: allocated just above with `padded`.
            unsafe { self.alloc.deallocate(region.as_non_null(), padded) };
            return Err(e);
        }
        Ok(region)
    }

    unsafe fn release(&mut self, region: Region, layout: Layout) {
        let padded =
            Self::padded(region.len(), layout).expect("the layout was valid when allocated");
        // No `munlock` here: the allocator keeps its pages after `deallocate`, and a lock on
        // them may be the application's own (an mlocked arena, `mlockall`). Whoever locked the
        // region unlocks it — the slab does before it releases, for what it locked.
        // SAFETY: the caller hands back a region from `allocate`; `padded` is the layout it
        // was allocated with (same alignment, and the size rounds up to the same pages).
        unsafe { self.alloc.deallocate(region.as_non_null(), padded) };
    }
}

impl<A: Allocator + Clone> CloneBacking for Heap<A> {
    fn clone_backing(&self) -> Self {
        Heap::new_in(self.alloc.clone())
    }
}
