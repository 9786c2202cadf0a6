//! [`Mmap`]: anonymous, page-aligned memory straight from the kernel (the default backing).

use core::alloc::Layout;
use core::fmt;
use core::ptr::NonNull;

use super::{check_fits_in_ram, prefault, Backing, Region};
use crate::{sys, Error};

/// Regions at least this long are aligned to it and advised `MADV_HUGEPAGE`, so transparent
/// huge pages can back them from the first touch.
const THP_SIZE: usize = 2 << 20;

/// Anonymous private memory mapped for the slab alone: page-aligned, its length rounded up to
/// whole pages (which the slab fills with slots), returned to the kernel on drop.
///
/// By default the region is *prefaulted*: every page is resident when `alloc` returns, so
/// filling the slab takes no page fault. Regions of 2 MiB or more are aligned to 2 MiB and
/// advised `MADV_HUGEPAGE` before they are touched, so on Linux with transparent huge pages in
/// `madvise` or `always` mode they start out on huge pages.
///
/// ```
/// use nexus_slab::{Mmap, Slab};
///
/// let mut slab: Slab<u64, Mmap> = Slab::new_in(Mmap::new());
/// slab.alloc(1000).unwrap();
/// assert_eq!(slab.memory_size() % 4096, 0);
/// assert!(slab.capacity() >= 1000);
/// ```
pub struct Mmap {
    map: Option<memmap2::MmapMut>,
    prefault: bool,
}

impl Mmap {
    /// A backing that prefaults its region.
    ///
    /// ```
    /// let m = nexus_slab::Mmap::new();
    /// assert!(m.prefaults());
    /// ```
    pub const fn new() -> Self {
        Mmap {
            map: None,
            prefault: true,
        }
    }

    /// A backing that leaves its pages to be faulted in on first touch (cheaper start-up,
    /// page faults later).
    ///
    /// ```
    /// let m = nexus_slab::Mmap::lazy();
    /// assert!(!m.prefaults());
    /// ```
    pub const fn lazy() -> Self {
        Mmap {
            map: None,
            prefault: false,
        }
    }

    /// Whether `allocate` makes every page resident.
    ///
    /// ```
    /// assert!(nexus_slab::Mmap::default().prefaults());
    /// ```
    pub const fn prefaults(&self) -> bool {
        self.prefault
    }
}

impl Default for Mmap {
    fn default() -> Self {
        Mmap::new()
    }
}

impl fmt::Debug for Mmap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mmap")
            .field("mapped", &self.map.as_ref().map(|m| m.len()))
            .field("prefault", &self.prefault)
            .finish()
    }
}

// SAFETY: the region lies inside a private anonymous mapping owned by `self.map`: page-aligned
// (and aligned to `layout.align()`, by the offset chosen below), `len >= layout.size()` bytes,
// readable and writable, used by nothing else, and unmapped only when `release` drops the map.
// Moving `Mmap` moves the handle, not the mapping. The memory controls are the trait's
// defaults, which act on exactly the region.
unsafe impl Backing for Mmap {
    fn granularity(&self) -> usize {
        sys::page_size()
    }

    fn allocate(&mut self, layout: Layout) -> Result<Region, Error> {
        if self.map.is_some() {
            return Err(Error::Unsupported {
                what: "a second region from one Mmap backing",
                reason: "a slab allocates once; give each slab its own backing".to_string(),
            });
        }
        let page = sys::page_size();
        let overflow = || Error::SizeOverflow {
            requested: layout.size(),
            slot_size: 1,
        };
        let len = layout
            .size()
            .checked_next_multiple_of(page)
            .ok_or_else(overflow)?;
        check_fits_in_ram(len)?;
        let mut align = layout.align().max(page);
        if cfg!(target_os = "linux") && len >= THP_SIZE {
            align = align.max(THP_SIZE);
        }
        // Map enough to cut an aligned region out of; the slack stays mapped, untouched and
        // so unbacked, until the whole map is dropped.
        let map_len = len.checked_add(align - page).ok_or_else(overflow)?;
        let mut map = memmap2::MmapOptions::new()
            .len(map_len)
            .map_anon()
            .map_err(|e| Error::os("mmap", map_len, e))?;
        let start = map.as_ptr();
        let offset = start.align_offset(align);
        // SAFETY: `offset < align`, and `offset + len <= map_len`, so the region is inside
        // the mapping; the mapping is never null.
        let ptr = unsafe { NonNull::new_unchecked(map.as_mut_ptr().add(offset)) };
        let region = Region::new(ptr, len, page);
        if len >= THP_SIZE {
            sys::advise_hugepage(region.as_ptr(), len);
        }
        if self.prefault {
            // SAFETY: the region is fresh, ours, and in no one else's use.
            unsafe { prefault(&region) }?; // on error `map` drops here: nothing stays mapped
        }
        self.map = Some(map);
        Ok(region)
    }

    unsafe fn release(&mut self, _region: Region, _layout: Layout) {
        // Dropping the map unmaps all of it, slack included.
        self.map = None;
    }
}
