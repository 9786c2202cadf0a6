//! [`Mmap`]: anonymous, page-aligned memory straight from the kernel (the default backing).

use core::alloc::Layout;
use core::fmt;
use core::ptr::NonNull;

use super::options::{finish_whole, MapOptions};
use super::{region_len, Backing, CloneBacking, Region};
use crate::{sys, system::NumaPolicy, Error};

/// The transparent huge page size (the PMD size: 2 MiB on x86-64, 512 MiB on arm64 with 64 KiB
/// base pages), read from the kernel once; `None` without THP. Regions at least this long are
/// aligned to it and advised `MADV_HUGEPAGE`, so transparent huge pages can back them from the
/// first touch.
fn thp_size() -> Option<usize> {
    static THP: std::sync::OnceLock<Option<usize>> = std::sync::OnceLock::new();
    *THP.get_or_init(sys::thp_size)
}

/// Anonymous private memory mapped for the slab alone: page-aligned, its length rounded up to
/// whole pages (which the slab fills with slots), returned to the kernel on drop.
///
/// By default the region is *prefaulted*: every page is resident when `alloc` returns, so
/// filling the slab takes no page fault. Regions of 2 MiB or more are aligned to 2 MiB and
/// advised `MADV_HUGEPAGE` before they are touched, so on Linux with transparent huge pages in
/// `madvise` or `always` mode they start out on huge pages.
///
/// ```
/// use nexus_slab::{Slab, backing::Mmap};
///
/// let mut slab: Slab<u64, Mmap> = Slab::new_in(Mmap::new());
/// slab.alloc(1000).unwrap();
/// assert_eq!(slab.memory_size() % 4096, 0);
/// assert!(slab.capacity() >= 1000);
/// ```
pub struct Mmap {
    map: Option<Mapping>,
    prefault: bool,
    options: MapOptions,
}

/// What `release` has to undo.
enum Mapping {
    /// A memmap2 mapping, possibly larger than the region (alignment slack).
    Pages(memmap2::MmapMut),
    /// A mapping of `sys` that is exactly the region: hugetlb, or placed on a NUMA node at
    /// allocation (Windows); released with `sys::unmap_huge`.
    Whole,
}

impl Mmap {
    /// A backing that prefaults its region.
    ///
    /// ```
    /// let m = nexus_slab::backing::Mmap::new();
    /// assert!(m.prefaults());
    /// ```
    pub const fn new() -> Self {
        Mmap {
            map: None,
            prefault: true,
            options: MapOptions::DEFAULT,
        }
    }

    /// Whether `allocate` makes every page resident (the default, `true`), or leaves the pages
    /// to be faulted in on first touch (`false`: cheaper start-up, page faults later).
    ///
    /// ```
    /// let m = nexus_slab::backing::Mmap::new().prefault(false);
    /// assert!(!m.prefaults());
    /// ```
    #[must_use]
    pub const fn prefault(mut self, prefault: bool) -> Self {
        self.prefault = prefault;
        self
    }

    /// Whether `allocate` makes every page resident.
    ///
    /// ```
    /// assert!(nexus_slab::backing::Mmap::default().prefaults());
    /// ```
    pub const fn prefaults(&self) -> bool {
        self.prefault
    }

    /// Binds the region strictly to NUMA node `node` (`mbind(MPOL_BIND)` between mapping and
    /// prefault): every page comes from that node or `alloc` fails.
    ///
    /// Checked at `alloc`: a node that does not exist (or has no memory, or is outside the
    /// process's cpuset) is [`Error::NodeUnavailable`], naming the nodes there are; a slab
    /// larger than the node is [`Error::NodeMemory`]; a hugetlb slab the node's pool cannot fill is
    /// [`Error::NodeHugePagesUnavailable`], with the command that reserves pages on the node.
    /// Nothing stays mapped after an error. Linux only (Windows places by preference only:
    /// use [`numa_preferred`](Mmap::numa_preferred) there); elsewhere `alloc` returns
    /// [`Error::Unsupported`].
    ///
    /// [`Slab::numa_bytes`](crate::Slab::numa_bytes) reads back where the pages are.
    ///
    /// ```
    /// use nexus_slab::{Error, Slab, backing::Mmap};
    ///
    /// let mut slab: Slab<u64, Mmap> = Slab::new_in(Mmap::new().numa_node(0));
    /// match slab.alloc(100_000) {
    ///     Ok(()) => {
    ///         let placed = slab.numa_bytes().unwrap();
    ///         assert_eq!(placed.on_node(0), slab.memory_size());
    ///     }
    ///     Err(e) => eprintln!("no NUMA placement here: {e}"),
    /// }
    ///
    /// // A node that does not exist is a typed error at alloc, and nothing is mapped.
    /// let mut far: Slab<u64, Mmap> = Slab::new_in(Mmap::new().numa_node(4000));
    /// assert!(matches!(
    ///     far.alloc(10),
    ///     Err(Error::NodeUnavailable { node: 4000, .. } | Error::Unsupported { .. })
    /// ));
    /// assert_eq!(far.capacity(), 0);
    /// ```
    #[must_use]
    pub fn numa_node(mut self, node: usize) -> Self {
        self.options.numa = Some(NumaPolicy::Bind(node));
        self
    }

    /// Places the region on NUMA node `node` while the node has room, and on other nodes after
    /// that (`mbind(MPOL_PREFERRED)` on Linux, `VirtualAllocExNuma` on Windows). Only a node
    /// that does not exist is an error ([`Error::NodeUnavailable`], at `alloc`).
    ///
    /// ```
    /// use nexus_slab::{backing::Mmap, system::NumaPolicy};
    /// let m = Mmap::new().numa_preferred(0);
    /// assert_eq!(m.numa(), Some(NumaPolicy::Preferred(0)));
    /// ```
    #[must_use]
    pub fn numa_preferred(mut self, node: usize) -> Self {
        self.options.numa = Some(NumaPolicy::Preferred(node));
        self
    }

    /// Leaves the region out of processes forked from this one (`MADV_DONTFORK`): after a
    /// `fork()` the parent's pages stay its own, so writing them takes no copy-on-write fault
    /// and they keep their physical frames; the child has no mapping there (touching it would
    /// be a segmentation fault). `fork` + `exec` is unaffected. Linux only (on Windows, which
    /// has no `fork`, it changes nothing); elsewhere `alloc` returns [`Error::Unsupported`].
    ///
    /// Not set by default, by [`Locked`](crate::backing::Locked) either: a program that forks a child
    /// which reads the slab (a snapshot writer) would crash, where without it it only pays the
    /// faults. Set it when the process forks and no child uses the slab.
    ///
    /// ```
    /// use nexus_slab::{LockedSlab, backing::{Locked, Mmap}};
    ///
    /// let backing = Locked::new(Mmap::new().exclude_from_fork());
    /// assert!(backing.inner().excluded_from_fork());
    /// let slab = LockedSlab::<u64>::new_in(backing);
    /// # let _ = slab;
    /// ```
    #[must_use]
    pub fn exclude_from_fork(mut self) -> Self {
        self.options.dont_fork = true;
        self
    }

    /// Leaves the region out of core dumps (`MADV_DONTDUMP`): a crash of a process holding a
    /// large slab then writes (and stalls the machine for) only the rest of its memory. The
    /// slab's contents are then missing from the dump. Linux only; elsewhere `alloc` returns
    /// [`Error::Unsupported`].
    ///
    /// ```
    /// let m = nexus_slab::backing::Mmap::new().exclude_from_dumps();
    /// assert!(m.excluded_from_dumps() && !m.excluded_from_fork());
    /// ```
    #[must_use]
    pub fn exclude_from_dumps(mut self) -> Self {
        self.options.dont_dump = true;
        self
    }

    /// The NUMA placement asked for, if any.
    ///
    /// ```
    /// assert_eq!(nexus_slab::backing::Mmap::new().numa(), None);
    /// ```
    pub const fn numa(&self) -> Option<NumaPolicy> {
        self.options.numa
    }

    /// Whether the region is left out of forked children ([`exclude_from_fork`](Mmap::exclude_from_fork)).
    ///
    /// ```
    /// assert!(nexus_slab::backing::Mmap::new().exclude_from_fork().excluded_from_fork());
    /// ```
    pub const fn excluded_from_fork(&self) -> bool {
        self.options.dont_fork
    }

    /// Whether the region is left out of core dumps ([`exclude_from_dumps`](Mmap::exclude_from_dumps)).
    ///
    /// ```
    /// assert!(!nexus_slab::backing::Mmap::new().excluded_from_dumps());
    /// ```
    pub const fn excluded_from_dumps(&self) -> bool {
        self.options.dont_dump
    }

    fn allocate_pages(&mut self, layout: Layout) -> Result<Region, Error> {
        let page = sys::page_size();
        let len = region_len(layout, page)?;
        self.options.check(len, None)?;
        if let Some(ptr) = self.options.map_placed(len, None)? {
            let region = Region::new(ptr, len, page);
            let region = finish_whole(
                region,
                &self.options,
                true,
                false,
                layout.align(),
                self.prefault,
            )?;
            self.map = Some(Mapping::Whole);
            return Ok(region);
        }
        let mut align = layout.align().max(page);
        let thp = thp_size().filter(|&t| len >= t);
        if let Some(t) = thp {
            align = align.max(t);
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
        if thp.is_some() {
            sys::advise_hugepage(region.as_ptr(), len);
        }
        // Placement before the first touch (on error `map` drops: nothing stays mapped).
        self.options.apply(&region, false)?;
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
            .field("numa", &self.options.numa)
            .field("exclude_from_fork", &self.options.dont_fork)
            .field("exclude_from_dumps", &self.options.dont_dump)
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
        sys::page_size()
    }

    fn allocate(&mut self, layout: Layout) -> Result<Region, Error> {
        if self.map.is_some() {
            return Err(Error::unsupported(
                "a second region from one Mmap backing",
                "a slab allocates once: give each slab its own backing",
            ));
        }
        self.allocate_pages(layout)
    }

    unsafe fn release(&mut self, region: Region, _layout: Layout) {
        match self.map.take() {
            // Dropping the map unmaps all of it, slack included.
            Some(Mapping::Pages(map)) => drop(map),
            // SAFETY: the caller returns the region `allocate` mapped: a whole mapping of `sys`.
            Some(Mapping::Whole) => unsafe { sys::unmap_huge(region.as_ptr(), region.len()) },
            None => debug_assert!(false, "release without a mapping"),
        }
    }

    fn lock(&mut self, region: &Region) -> Result<(), Error> {
        super::lock_region(region)
    }

    fn unlock(&mut self, region: &Region) -> Result<(), Error> {
        super::unlock_region(region)
    }

    fn collapse(&mut self, region: &Region) -> Result<(), Error> {
        super::collapse_region(region)
    }
}

impl CloneBacking for Mmap {
    fn clone_backing(&self) -> Self {
        Mmap {
            map: None,
            prefault: self.prefault,
            options: self.options,
        }
    }
}
