//! [`Mmap`]: anonymous, page-aligned memory straight from the kernel (the default backing).

use core::alloc::Layout;
use core::fmt;
use core::ptr::NonNull;

use super::hugetlb::{allocate_huge, HugePageSize};
use super::{region_len, Backing, CloneBacking, Region};
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
    map: Option<Mapping>,
    prefault: bool,
    huge: Option<HugePageSize>,
}

/// What `release` has to undo.
enum Mapping {
    /// A memmap2 mapping, possibly larger than the region (alignment slack).
    Pages(memmap2::MmapMut),
    /// A hugetlb mapping that is exactly the region.
    Huge,
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
            huge: None,
        }
    }

    /// A backing that maps hugetlb pages of `size` (what
    /// [`Slab::alloc_hugetlb`](crate::Slab::alloc_hugetlb) uses). For a type that can only
    /// ever be on huge pages, use [`HugeTlb`](crate::HugeTlb).
    ///
    /// ```
    /// use nexus_slab::{HugePageSize, Mmap};
    /// assert_eq!(Mmap::hugetlb(HugePageSize::Size2M).huge_pages(), Some(HugePageSize::Size2M));
    /// ```
    pub const fn hugetlb(size: HugePageSize) -> Self {
        Mmap {
            map: None,
            prefault: true,
            huge: Some(size),
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
            huge: None,
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

    /// The hugetlb page size this backing maps, or `None` for ordinary pages.
    ///
    /// ```
    /// assert_eq!(nexus_slab::Mmap::new().huge_pages(), None);
    /// ```
    pub const fn huge_pages(&self) -> Option<HugePageSize> {
        self.huge
    }

    fn allocate_pages(&mut self, layout: Layout) -> Result<Region, Error> {
        let page = sys::page_size();
        let len = region_len(layout, page)?;
        let mut align = layout.align().max(page);
        if cfg!(target_os = "linux") && len >= THP_SIZE {
            align = align.max(THP_SIZE);
        }
        // Map enough to cut an aligned region out of; the slack stays mapped, untouched and
        // so unbacked, until the whole map is dropped.
        let map_len = len.checked_add(align - page).ok_or(Error::ExceedsMemory {
            bytes: usize::MAX,
            physical: sys::physical_memory().unwrap_or(0),
        })?;
        let mut map = memmap2::MmapOptions::new()
            .len(map_len)
            .map_anon()
            .map_err(|e| Error::os("mmap", map_len, e))?;
        let offset = map.as_ptr().align_offset(align);
        // SAFETY: `offset < align`, and `offset + len <= map_len`, so the region is inside
        // the mapping; the mapping is never null.
        let ptr = unsafe { NonNull::new_unchecked(map.as_mut_ptr().add(offset)) };
        let region = Region::new(ptr, len, page);
        if len >= THP_SIZE {
            sys::advise_hugepage(region.as_ptr(), len);
        }
        if self.prefault {
            // SAFETY: the region is fresh, ours, and in no one else's use.
            unsafe { region.prefault() }?; // on error `map` drops here: nothing stays mapped
        }
        self.map = Some(Mapping::Pages(map));
        Ok(region)
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
            .field("mapped", &self.map.is_some())
            .field("prefault", &self.prefault)
            .field("huge", &self.huge)
            .finish()
    }
}

// SAFETY: the region lies inside a private anonymous mapping owned by `self.map` — a memmap2
// mapping (page-aligned, and aligned to `layout.align()` by the offset chosen) or a whole
// hugetlb mapping — `len >= layout.size()` bytes, readable and writable, used by nothing else,
// and unmapped only in `release`. Moving `Mmap` moves the handle, not the mapping. The memory
// controls act on exactly the region.
unsafe impl Backing for Mmap {
    fn granularity(&self) -> usize {
        self.huge.map_or_else(sys::page_size, HugePageSize::bytes)
    }

    fn allocate(&mut self, layout: Layout) -> Result<Region, Error> {
        if self.map.is_some() {
            return Err(Error::Unsupported {
                what: "a second region from one Mmap backing",
                reason: "a slab allocates once; give each slab its own backing".to_string(),
            });
        }
        match self.huge {
            Some(size) => {
                let region = allocate_huge(layout, size)?;
                self.map = Some(Mapping::Huge);
                Ok(region)
            }
            None => self.allocate_pages(layout),
        }
    }

    unsafe fn release(&mut self, region: Region, _layout: Layout) {
        match self.map.take() {
            // Dropping the map unmaps all of it, slack included.
            Some(Mapping::Pages(map)) => drop(map),
            // SAFETY: the caller returns the region `allocate` mapped: a whole hugetlb mapping.
            Some(Mapping::Huge) => unsafe { sys::unmap_huge(region.as_ptr(), region.len()) },
            None => debug_assert!(false, "release without a mapping"),
        }
    }

    fn lock(&mut self, region: &Region) -> Result<(), Error> {
        match self.huge {
            Some(_) => Ok(()), // hugetlb pages are never swapped: nothing to lock
            None => super::lock_region(region),
        }
    }

    fn unlock(&mut self, region: &Region) -> Result<(), Error> {
        match self.huge {
            Some(_) => Ok(()),
            None => super::unlock_region(region),
        }
    }

    fn collapse(&mut self, region: &Region) -> Result<(), Error> {
        match self.huge {
            Some(_) => Ok(()), // already on huge pages
            None => super::collapse_region(region),
        }
    }
}

impl CloneBacking for Mmap {
    fn clone_backing(&self) -> Self {
        Mmap {
            map: None,
            prefault: self.prefault,
            huge: self.huge,
        }
    }
}
