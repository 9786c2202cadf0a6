//! [`HugeTlb`]: memory from the kernel's reserved huge-page pool (`MAP_HUGETLB`).

use core::alloc::Layout;
use core::fmt;
use core::num::NonZeroU8;

use super::options::{finish_whole, MapOptions};
use super::{region_len, Backing, CloneBacking, Region};
use crate::{sys, system::NumaPolicy, Error};

/// The size of a huge page: a power of two, in bytes.
///
/// The sizes a machine offers are the directories under `/sys/kernel/mm/hugepages/`
/// ([`SystemInfo::huge_pools`](crate::system::SystemInfo::huge_pools) lists them): 2 MiB and
/// 1 GiB on x86-64; on arm64 also 64 KiB, 32 MiB, 512 MiB and 16 GiB, depending on the base page
/// size. The default is 2 MiB.
///
/// ```
/// use nexus_slab::backing::HugePageSize;
///
/// assert_eq!(HugePageSize::SIZE_2M.bytes(), 2 << 20);
/// assert_eq!(HugePageSize::new(512 << 20).map(HugePageSize::bytes), Some(512 << 20));
/// assert_eq!(HugePageSize::new(3 << 20), None); // not a power of two
/// assert_eq!(format!("{:?}", HugePageSize::SIZE_1G), "HugePageSize(1 GiB)");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
// The exponent: one byte, so that the errors that name a page size stay small (it orders as
// the size does).
pub struct HugePageSize(NonZeroU8);

impl HugePageSize {
    /// 2 MiB pages (the PMD level on x86-64 and on arm64 with 4 KiB pages): the pool in
    /// `/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages`.
    pub const SIZE_2M: HugePageSize = HugePageSize::known(2 << 20);

    /// 1 GiB pages (the PUD level on x86-64, with a CPU that has `pdpe1gb`; arm64 with 4 KiB
    /// pages): `/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages`.
    pub const SIZE_1G: HugePageSize = HugePageSize::known(1 << 30);

    /// Pages of `bytes`, or `None` unless it is a power of two of at least 8 KiB. Whether the
    /// machine has such pages is for `alloc` to find out (with the command that reserves them).
    ///
    /// ```
    /// use nexus_slab::backing::HugePageSize;
    /// assert_eq!(HugePageSize::new(2 << 20), Some(HugePageSize::SIZE_2M));
    /// assert_eq!(HugePageSize::new(64 << 10).map(|s| s.bytes()), Some(65536));
    /// assert_eq!(HugePageSize::new(4096), None);
    /// ```
    pub const fn new(bytes: usize) -> Option<Self> {
        if bytes.is_power_of_two() && bytes >= 8192 {
            Some(HugePageSize::known(bytes))
        } else {
            None
        }
    }

    /// `bytes`, a power of two of at least 8 KiB.
    const fn known(bytes: usize) -> Self {
        match NonZeroU8::new(bytes.trailing_zeros() as u8) {
            Some(shift) => HugePageSize(shift),
            None => panic!("a huge page size is not 1"),
        }
    }

    /// Bytes per page.
    ///
    /// ```
    /// use nexus_slab::backing::HugePageSize;
    /// assert_eq!(HugePageSize::SIZE_1G.bytes(), 1 << 30);
    /// ```
    #[must_use]
    pub const fn bytes(self) -> usize {
        1 << self.0.get()
    }
}

impl Default for HugePageSize {
    /// 2 MiB.
    fn default() -> Self {
        HugePageSize::SIZE_2M
    }
}

impl fmt::Debug for HugePageSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HugePageSize({})", crate::info::Bytes(self.bytes()))
    }
}

/// Memory on hugetlb pages: guaranteed huge pages from the pool the administrator reserved
/// (`echo N | sudo tee /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages` for N pages
/// of 2 MiB), or an error saying how many are missing and the command that reserves them.
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
///     Err(e @ Error::HugePagesUnavailable { .. }) => eprintln!("{}", e.hint().unwrap()),
///     Err(e) => eprintln!("no huge pages here: {e}"),
/// }
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct HugeTlb {
    size: HugePageSize,
    options: MapOptions,
}

impl HugeTlb {
    /// A backing on pages of `size`.
    ///
    /// ```
    /// use nexus_slab::{backing::{HugePageSize, HugeTlb}};
    /// assert_eq!(HugeTlb::new(HugePageSize::SIZE_1G).huge_page_size(), HugePageSize::SIZE_1G);
    /// ```
    pub const fn new(size: HugePageSize) -> Self {
        HugeTlb {
            size,
            options: MapOptions::DEFAULT,
        }
    }

    /// Binds the region strictly to NUMA node `node`: every huge page comes from that node's
    /// own pool (`/sys/devices/system/node/node<N>/hugepages/...`), or `alloc` fails.
    ///
    /// The kernel's hugetlb reservation at `mmap` is machine-wide, so it would not notice a
    /// node short of pages until a page fault found none — a `SIGBUS`. So `alloc` checks the
    /// node's free pages before mapping, and prefaults with `MADV_POPULATE_WRITE`, which
    /// reports a page the node cannot supply as an error instead of a signal (Linux 5.14+;
    /// older kernels get [`Error::Unsupported`] for strict hugetlb binding). Either way a short
    /// node is [`Error::NodeHugePagesUnavailable`], with the command that reserves pages on
    /// that node, and nothing stays mapped. A node that does not exist is
    /// [`Error::NodeUnavailable`]. See [`Mmap::numa_node`](crate::backing::Mmap::numa_node) for the rest.
    ///
    /// ```
    /// use nexus_slab::{Error, Slab, backing::{HugeTlb, HugePageSize}};
    ///
    /// let mut slab: Slab<u64, HugeTlb> =
    ///     Slab::new_in(HugeTlb::new(HugePageSize::SIZE_2M).numa_node(0));
    /// match slab.alloc(1 << 20) {
    ///     Ok(()) => assert_eq!(slab.numa_bytes().unwrap().on_node(0), slab.memory_size()),
    ///     Err(e @ Error::NodeHugePagesUnavailable { .. }) => {
    ///         assert!(e.to_string().contains("/sys/devices/system/node/node0/hugepages"))
    ///     }
    ///     Err(e) => eprintln!("no huge pages here: {e}"),
    /// }
    /// ```
    #[must_use]
    pub fn numa_node(mut self, node: usize) -> Self {
        self.options.numa = Some(NumaPolicy::Bind(node));
        self
    }

    /// Takes huge pages from NUMA node `node`'s pool while it has free ones, and from other
    /// nodes after that (`MPOL_PREFERRED`). The mapping's reservation covers every page, so
    /// this never faults for want of one.
    ///
    /// ```
    /// use nexus_slab::{backing::HugeTlb, system::NumaPolicy};
    /// assert_eq!(HugeTlb::default().numa_preferred(1).numa(), Some(NumaPolicy::Preferred(1)));
    /// ```
    #[must_use]
    pub fn numa_preferred(mut self, node: usize) -> Self {
        self.options.numa = Some(NumaPolicy::Preferred(node));
        self
    }

    /// Leaves the region out of forked children (`MADV_DONTFORK`); see
    /// [`Mmap::exclude_from_fork`](crate::backing::Mmap::exclude_from_fork). For hugetlb it matters more: after a fork,
    /// the parent's first write to a shared huge page copies all of it into a new huge page,
    /// and when the pool has none left the kernel takes the page away from the child.
    ///
    /// ```
    /// assert!(nexus_slab::backing::HugeTlb::default().exclude_from_fork().excluded_from_fork());
    /// ```
    #[must_use]
    pub fn exclude_from_fork(mut self) -> Self {
        self.options.dont_fork = true;
        self
    }

    /// Leaves the region out of core dumps (`MADV_DONTDUMP`); see
    /// [`Mmap::exclude_from_dumps`](crate::backing::Mmap::exclude_from_dumps).
    ///
    /// ```
    /// assert!(nexus_slab::backing::HugeTlb::default().exclude_from_dumps().excluded_from_dumps());
    /// ```
    #[must_use]
    pub fn exclude_from_dumps(mut self) -> Self {
        self.options.dont_dump = true;
        self
    }

    /// The NUMA placement asked for, if any.
    ///
    /// ```
    /// use nexus_slab::{backing::HugeTlb, system::NumaPolicy};
    /// assert_eq!(HugeTlb::default().numa_node(0).numa(), Some(NumaPolicy::Bind(0)));
    /// ```
    pub const fn numa(&self) -> Option<NumaPolicy> {
        self.options.numa
    }

    /// Whether the region is left out of forked children.
    ///
    /// ```
    /// assert!(!nexus_slab::backing::HugeTlb::default().excluded_from_fork());
    /// ```
    pub const fn excluded_from_fork(&self) -> bool {
        self.options.dont_fork
    }

    /// Whether the region is left out of core dumps.
    ///
    /// ```
    /// assert!(!nexus_slab::backing::HugeTlb::default().excluded_from_dumps());
    /// ```
    pub const fn excluded_from_dumps(&self) -> bool {
        self.options.dont_dump
    }

    /// The page size this backing maps.
    ///
    /// ```
    /// use nexus_slab::{backing::{HugePageSize, HugeTlb}};
    /// assert_eq!(HugeTlb::default().huge_page_size(), HugePageSize::SIZE_2M);
    /// ```
    pub const fn huge_page_size(&self) -> HugePageSize {
        self.size
    }
}

impl fmt::Debug for HugeTlb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut t = f.debug_tuple("HugeTlb");
        t.field(&self.size);
        if self.options != MapOptions::DEFAULT {
            t.field(&self.options);
        }
        t.finish()
    }
}

/// Maps a prefaulted hugetlb region for `layout` on pages of `size`, placed and isolated as
/// `options` say.
pub(crate) fn allocate_huge(
    layout: Layout,
    size: HugePageSize,
    options: &MapOptions,
) -> Result<Region, Error> {
    let page = size.bytes();
    if layout.align() > page {
        return Err(Error::unsupported(
            "values aligned beyond the huge page size",
            format!(
                "alignment {} is more than the page's {page} bytes",
                layout.align()
            ),
        ));
    }
    let len = region_len(layout, page)?;
    options.check(len, Some(page))?;
    let (ptr, placed) = match options.map_placed(len, Some(page))? {
        Some(ptr) => (ptr, true),
        None => (sys::map_huge(len, page)?, false),
    };
    // Its pages were reserved by mmap, so faulting them in cannot fail for want of pages —
    // unless the region is bound to a node, which `finish_whole` prefaults without touching.
    finish_whole(
        Region::new(ptr, len, page),
        options,
        placed,
        true,
        layout.align(),
        true,
    )
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
        allocate_huge(layout, self.size, &self.options)
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
