//! [`HugeTlb`]: memory from the kernel's reserved huge-page pool (`MAP_HUGETLB`).

use core::alloc::Layout;
use core::fmt;

use super::{region_len, Backing, CloneBacking, Region};
use crate::{sys, Error};

/// The size of a huge page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum HugePageSize {
    /// 2 MiB pages (x86-64 PMD level): the common pool, `/proc/sys/vm/nr_hugepages`.
    #[default]
    Size2M,
    /// 1 GiB pages (x86-64 PUD level; needs a CPU with `pdpe1gb`):
    /// `/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages`.
    Size1G,
}

impl HugePageSize {
    /// Bytes per page.
    ///
    /// ```
    /// use nexus_slab::HugePageSize;
    /// assert_eq!(HugePageSize::Size2M.bytes(), 2 << 20);
    /// assert_eq!(HugePageSize::Size1G.bytes(), 1 << 30);
    /// ```
    pub const fn bytes(self) -> usize {
        match self {
            HugePageSize::Size2M => 2 << 20,
            HugePageSize::Size1G => 1 << 30,
        }
    }
}

/// Memory on hugetlb pages: guaranteed huge pages from the pool the administrator reserved
/// (`echo N > /proc/sys/vm/nr_hugepages`), or an error saying how many are missing.
///
/// The region is a whole number of huge pages (so it is always unmapped completely: no page
/// leaks), reserved when it is mapped (so a shortage is an error at `alloc`, never a `SIGBUS`
/// later) and prefaulted. Hugetlb pages are never swapped, so `mlock` has nothing to add: on this
/// backing `mlock()`/`munlock()` succeed without a system call, and the kernel does not count
/// these pages in `VmLck`. `try_collapse()` has nothing to do either: every byte is already on
/// huge pages.
///
/// ```
/// use nexus_slab::{Error, HugeSlab};
///
/// let mut slab: HugeSlab<u64> = HugeSlab::new();
/// match slab.alloc(1 << 20) {
///     Ok(()) => assert_eq!(slab.memory_size() % (2 << 20), 0),
///     Err(Error::HugePagesUnavailable { fix, .. }) => eprintln!("reserve pages first: {fix}"),
///     Err(e) => eprintln!("no huge pages here: {e}"),
/// }
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct HugeTlb {
    size: HugePageSize,
}

impl HugeTlb {
    /// A backing on pages of `size`.
    ///
    /// ```
    /// use nexus_slab::{HugePageSize, HugeTlb};
    /// assert_eq!(HugeTlb::new(HugePageSize::Size1G).page_size(), HugePageSize::Size1G);
    /// ```
    pub const fn new(size: HugePageSize) -> Self {
        HugeTlb { size }
    }

    /// The page size this backing maps.
    ///
    /// ```
    /// use nexus_slab::{HugePageSize, HugeTlb};
    /// assert_eq!(HugeTlb::default().page_size(), HugePageSize::Size2M);
    /// ```
    pub const fn page_size(&self) -> HugePageSize {
        self.size
    }
}

impl fmt::Debug for HugeTlb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("HugeTlb").field(&self.size).finish()
    }
}

/// Maps a prefaulted hugetlb region for `layout` on pages of `size`.
pub(crate) fn allocate_huge(layout: Layout, size: HugePageSize) -> Result<Region, Error> {
    let page = size.bytes();
    if layout.align() > page {
        return Err(Error::Unsupported {
            what: "values aligned beyond the huge page size",
            reason: format!("alignment {} > {page}", layout.align()),
        });
    }
    let len = region_len(layout, page)?;
    let ptr = sys::map_huge(len, page)?;
    let region = Region::new(ptr, len, page);
    // SAFETY: the mapping is fresh and ours. Its pages were reserved by mmap, so faulting
    // them in cannot fail for want of pages.
    if let Err(e) = unsafe { region.prefault() } {
        // SAFETY: the whole mapping, made just above, used by nothing.
        unsafe { sys::unmap_huge(region.as_ptr(), len) };
        return Err(e);
    }
    Ok(region)
}

// SAFETY: the region is a private hugetlb mapping made for this call alone: aligned to the huge
// page (>= `layout.align()`, checked), `len >= layout.size()`, readable and writable, unmapped
// exactly (whole length) in `release`. `lock`/`unlock` do nothing and `collapse` does nothing:
// no contents change, nothing outside the region is touched.
unsafe impl Backing for HugeTlb {
    fn granularity(&self) -> usize {
        self.size.bytes()
    }

    fn allocate(&mut self, layout: Layout) -> Result<Region, Error> {
        allocate_huge(layout, self.size)
    }

    unsafe fn release(&mut self, region: Region, _layout: Layout) {
        // SAFETY: the caller returns a region from `allocate`: a whole hugetlb mapping.
        unsafe { sys::unmap_huge(region.as_ptr(), region.len()) };
    }

    /// Hugetlb pages are never swapped out; there is nothing to lock.
    fn lock(&mut self, _region: &Region) -> Result<(), Error> {
        Ok(())
    }

    /// Hugetlb pages are never swapped out; there is nothing to unlock.
    fn unlock(&mut self, _region: &Region) -> Result<(), Error> {
        Ok(())
    }

    /// Already on huge pages.
    fn collapse(&mut self, _region: &Region) -> Result<(), Error> {
        Ok(())
    }
}

impl CloneBacking for HugeTlb {
    fn clone_backing(&self) -> Self {
        *self
    }
}
