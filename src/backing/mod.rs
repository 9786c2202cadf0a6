//! Where a slab's memory comes from: the [`Backing`] trait and the [`Region`] it hands out.
//!
//! A backing gives the slab one contiguous region and takes it back; the slab's core lays its
//! slots out in it and never calls the OS. The memory controls (lock, unlock, collapse to huge
//! pages) are provided methods of the trait, written once over `sys` for every
//! backing whose region is page-aligned; a backing overrides them only to do better.

mod heap;
mod hugetlb;
mod locked;
mod mmap;
mod options;

pub use heap::Heap;
pub use hugetlb::{HugePageSize, HugeTlb};
pub use locked::Locked;
pub use mmap::Mmap;

use core::alloc::Layout;
use core::ptr::NonNull;

use crate::{sys, system::NumaBytes, Error};

/// One contiguous block of memory a [`Backing`] hands to a slab.
///
/// A plain description — start, length, and the size of the pages under it. It owns nothing:
/// the backing that made it frees it in [`Backing::release`].
///
/// ```
/// use std::ptr::NonNull;
/// use nexus_slab::backing::Region;
///
/// let mut buf = [0u8; 64];
/// let r = Region::new(NonNull::from(&mut buf).cast(), 64, 4096);
/// assert_eq!(r.len(), 64);
/// assert_eq!(r.page_size(), 4096);
/// ```
#[derive(Debug, PartialEq, Eq)]
pub struct Region {
    ptr: NonNull<u8>,
    len: usize,
    page_size: usize,
}

// SAFETY: a `Region` is an address range, not access to it; the slab that holds one decides
// who touches the memory, and its own `Send`/`Sync` bounds on `T` and the backing govern that.
unsafe impl Send for Region {}
// SAFETY: see above.
unsafe impl Sync for Region {}

impl Region {
    /// Describes `len` bytes at `ptr`, on pages of `page_size` bytes.
    ///
    /// ```
    /// use std::ptr::NonNull;
    /// use nexus_slab::backing::Region;
    /// let mut b = [0u8; 8];
    /// assert_eq!(Region::new(NonNull::from(&mut b).cast(), 8, 4096).len(), 8);
    /// ```
    pub const fn new(ptr: NonNull<u8>, len: usize, page_size: usize) -> Self {
        Region {
            ptr,
            len,
            page_size,
        }
    }

    /// First byte of the region.
    ///
    /// ```
    /// use std::ptr::NonNull;
    /// use nexus_slab::backing::Region;
    /// let mut b = [0u8; 8];
    /// let p = NonNull::from(&mut b).cast::<u8>();
    /// assert_eq!(Region::new(p, 8, 4096).as_non_null(), p);
    /// ```
    pub const fn as_non_null(&self) -> NonNull<u8> {
        self.ptr
    }

    /// First byte of the region, as a raw pointer.
    ///
    /// ```
    /// use std::ptr::NonNull;
    /// use nexus_slab::backing::Region;
    /// let mut b = [0u8; 8];
    /// let p = NonNull::from(&mut b).cast::<u8>();
    /// assert_eq!(Region::new(p, 8, 4096).as_ptr(), p.as_ptr());
    /// ```
    pub const fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Length in bytes: what the slab reports as `memory_size()`.
    ///
    /// ```
    /// use std::ptr::NonNull;
    /// use nexus_slab::backing::Region;
    /// let mut b = [0u8; 8];
    /// assert_eq!(Region::new(NonNull::from(&mut b).cast(), 8, 4096).len(), 8);
    /// ```
    #[allow(clippy::len_without_is_empty)] // a region is never empty
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Size of the pages the region sits on (4 KiB, 2 MiB, 1 GiB ...), as the backing says.
    ///
    /// What it is for: [`prefault`](Region::prefault) touches one byte per page of this size
    /// where the kernel cannot populate the region in one call, so a region on 2 MiB pages takes
    /// one touch per 2 MiB (when the region starts on such a page; otherwise one per base page).
    /// Nothing else depends on it, and no value is unsafe: a backing whose memory is on base
    /// pages reports the base page size, and one that reports more than is true only leaves
    /// pages to be faulted in later. The slab gives it back to [`Backing::release`] unchanged.
    ///
    /// ```
    /// use std::ptr::NonNull;
    /// use nexus_slab::backing::Region;
    /// let mut b = [0u8; 8];
    /// assert_eq!(Region::new(NonNull::from(&mut b).cast(), 8, 1 << 21).page_size(), 1 << 21);
    /// ```
    pub const fn page_size(&self) -> usize {
        self.page_size
    }

    /// Whether start and length are whole base pages, so that page-granular calls (mlock,
    /// madvise) act on exactly this region and nothing beside it.
    pub(crate) fn is_page_aligned(&self) -> bool {
        let page = sys::page_size();
        self.ptr.as_ptr() as usize % page == 0 && self.len % page == 0
    }

    /// Makes every page of the region resident now, so that first use takes no page fault:
    /// what a [`Backing`] calls in [`allocate`](Backing::allocate) to keep the slab's promise
    /// of no page fault after `alloc` (the slab itself touches only the few bytes it
    /// initialises). The built-in backings call it.
    ///
    /// On Linux 5.14+ one `madvise(MADV_POPULATE_WRITE)` populates a page-aligned region, with
    /// no byte read or written; otherwise (other systems, a region that is not whole pages) it
    /// reads one byte of each page and writes it back unchanged. The contents never change.
    ///
    /// # Errors
    ///
    /// [`Error::Os`] when the kernel cannot populate the range (for example, no memory left).
    ///
    /// # Safety
    ///
    /// The region must be readable and writable over its whole length, and nothing else may
    /// read or write it during the call (a byte is read and written back, which would race
    /// with another writer).
    ///
    /// ```
    /// use std::ptr::NonNull;
    /// use nexus_slab::backing::Region;
    ///
    /// let mut buf = vec![7u8; 3 * 4096];
    /// let region = Region::new(NonNull::new(buf.as_mut_ptr()).unwrap(), buf.len(), 4096);
    /// // SAFETY: `buf` is ours, readable and writable, and nothing else uses it now.
    /// unsafe { region.prefault() }.unwrap();
    /// assert!(buf.iter().all(|&b| b == 7)); // contents unchanged
    /// ```
    pub unsafe fn prefault(&self) -> Result<(), Error> {
        if self.is_page_aligned() {
            match sys::populate(self.as_ptr(), self.len) {
                Err(Error::Unsupported { .. }) => {}
                done => return done,
            }
        }
        let base = sys::page_size();
        let page = self.page_size;
        let stride =
            if page > base && page.is_power_of_two() && self.ptr.as_ptr() as usize % page == 0 {
                page
            } else {
                base
            };
        let mut off = 0;
        while off < self.len {
            // SAFETY: `off < len`, inside the region, which the caller lets us read and write
            // alone; the byte is read as `MaybeUninit` (it may be uninitialised) and written
            // back unchanged, volatile so neither access is elided.
            unsafe {
                let p = self.as_ptr().add(off).cast::<core::mem::MaybeUninit<u8>>();
                p.write_volatile(p.read_volatile());
            }
            off += stride;
        }
        Ok(())
    }
}

/// A source of memory for a [`Slab`](crate::Slab).
///
/// The slab asks its backing for one region when it is allocated and gives it back when it is
/// dropped. A backing may borrow (no `'static` bound), so `Heap<&'a MyArena>` works.
///
/// # What the slab does with its backing
///
/// - [`alloc(n)`](crate::Slab::alloc) calls [`allocate`](Backing::allocate) once, with the
///   layout of `n` slots, and lays slots out over all of the region it gets.
///   [`alloc_bytes(max)`](crate::Slab::alloc_bytes) asks for the largest layout that fits `max`
///   rounded down to the [`granularity`](Backing::granularity), and uses at most that many
///   bytes of the region, however long the region is.
/// - It writes only what it initialises (its occupancy bitmap or generations) before `alloc`
///   returns. Making the pages resident, so that filling the slab takes no page fault, is the
///   backing's job: call [`Region::prefault`] in `allocate`, as the built-in backings do.
/// - It refuses a region that is shorter or less aligned than asked, runs past the end of the
///   address space, or is longer than `isize::MAX` bytes: it writes nothing to it, hands it
///   straight back to [`release`](Backing::release) with the very layout it asked for, and
///   returns [`Error::BrokenBacking`]. It cannot check the rest of the contract below.
/// - The memory controls ([`Slab::mlock`](crate::Slab::mlock) and the others) call the
///   matching method with the part of the region the slab uses. A slab dropped after a
///   successful `mlock` and no `munlock` calls [`unlock`](Backing::unlock) once before it
///   releases; otherwise it unlocks nothing. So `release` has nothing of the slab's to unlock,
///   and should unlock nothing it did not lock itself: the application may hold locks on the
///   same pages (an arena it locked, `mlockall`).
/// - When the slab is dropped it drops its values, then calls `release` exactly once with the
///   region `allocate` returned (all of it), then drops the backing. No panic — in a value's
///   `Drop`, in `unlock`, in `release` itself — leads to a second `release` or to none.
///
/// # Writing your own backing
///
/// ```
/// use std::alloc::Layout;
/// use std::ptr::NonNull;
/// use nexus_slab::{Error, Slab, backing::{Backing, Region}};
///
/// /// Hands out one caller-provided, page-aligned buffer.
/// struct Static<'a> {
///     buf: Option<&'a mut [u8]>,
///     len: usize,
/// }
///
/// // SAFETY: the region is the start of the borrowed buffer: valid, exclusively ours and
/// // unmoved for 'a, aligned and long enough (both checked), never handed out twice, and the
/// // memory controls are the trait's own.
/// unsafe impl Backing for Static<'_> {
///     fn granularity(&self) -> usize {
///         4096
///     }
///     fn allocate(&mut self, layout: Layout) -> Result<Region, Error> {
///         let buf = self.buf.take().ok_or_else(|| Error::other("the buffer is in use"))?;
///         // As the trait advises: the size asked, rounded up to the granularity, no more.
///         let len = layout.size().next_multiple_of(4096);
///         let ptr = NonNull::from(&mut *buf).cast::<u8>();
///         if buf.len() < len || ptr.as_ptr() as usize % layout.align() != 0 {
///             self.buf = Some(buf);
///             return Err(Error::other("the buffer is too small or misaligned"));
///         }
///         let region = Region::new(ptr, len, 4096);
///         // SAFETY: the buffer is ours alone, readable and writable.
///         unsafe { region.prefault() }?;
///         Ok(region)
///     }
///     unsafe fn release(&mut self, region: Region, _layout: Layout) {
///         // SAFETY: the caller hands back the region cut from our buffer, whose pointer
///         // covers the whole buffer: rebuild the borrow of all of it.
///         let buf = unsafe { std::slice::from_raw_parts_mut(region.as_ptr(), self.len) };
///         self.buf = Some(buf);
///     }
/// }
///
/// #[repr(C, align(4096))]
/// struct Page([u8; 4096]);
/// let mut pages = [Page([0; 4096]), Page([0; 4096])];
/// // SAFETY: `pages` is 8192 plain bytes.
/// let bytes = unsafe { std::slice::from_raw_parts_mut(pages.as_mut_ptr().cast::<u8>(), 8192) };
///
/// let mut slab: Slab<u64, Static> = Slab::new_in(Static { buf: Some(bytes), len: 8192 });
/// slab.alloc(100).unwrap();
/// let k = slab.insert(5).unwrap();
/// assert_eq!(slab[k], 5);
/// assert_eq!(slab.memory_size(), 4096); // one page is all 100 slots need
/// assert!(slab.capacity() >= 500); // and the slab fills it
/// ```
///
/// # Safety
///
/// The slab's core writes values into the region and relies on these promises:
///
/// - A region returned by [`allocate`](Backing::allocate) is readable and writable over its
///   whole length and used by nothing else until it is passed to
///   [`release`](Backing::release); it stays valid while the backing value is moved. It need
///   not outlive the backing: the slab releases its region before the backing is dropped, so a
///   backing's `Drop` may free whatever it still holds (`Mmap` unmaps its mapping).
/// - It is aligned to at least `layout.align()` and at least `layout.size()` bytes long.
/// - Its contents need not be zeroed; the core initialises what it reads.
/// - [`lock`](Backing::lock), [`unlock`](Backing::unlock) and [`collapse`](Backing::collapse)
///   never change the region's contents and act on no memory outside it;
///   [`huge_page_bytes`](Backing::huge_page_bytes),
///   [`locked_bytes`](Backing::locked_bytes) and [`numa_bytes`](Backing::numa_bytes) change
///   nothing.
pub unsafe trait Backing {
    /// The size to which this backing rounds region lengths (its page size). The slab uses it
    /// only in [`alloc_bytes`](crate::Slab::alloc_bytes), to choose the capacity for a byte
    /// budget: it rounds the budget down to a multiple of it. 0 counts as 1; any value is
    /// safe, and one that is not the real rounding only makes `alloc_bytes` choose less than
    /// the budget would buy (never more).
    ///
    /// ```
    /// use nexus_slab::{backing::{Backing, HugeTlb, Mmap}, system::SystemInfo};
    /// // The base page size: 4 KiB on x86-64, 4, 16 or 64 KiB on ARM.
    /// assert_eq!(Mmap::new().granularity(), SystemInfo::probe().base_page_size);
    /// assert_eq!(HugeTlb::default().granularity(), 2 << 20);
    /// ```
    fn granularity(&self) -> usize;

    /// Hands out a region for `layout`, at least `layout.size()` bytes long and aligned to
    /// `layout.align()`. It should be `layout.size()` rounded up to
    /// [`granularity`](Backing::granularity) and no longer: `alloc` fills all of it with slots,
    /// but `alloc_bytes` uses only its budget, and the rest stays held, unused, until
    /// `release`. If the slab's "no page fault after `alloc`" matters, prefault the region
    /// before returning it ([`Region::prefault`]).
    ///
    /// # Errors
    ///
    /// Whatever the memory source reports, as a typed [`Error`]; a custom backing wraps its own
    /// failures with [`Error::other`].
    ///
    /// ```
    /// use std::alloc::Layout;
    /// use nexus_slab::{backing::{Backing, Heap}};
    ///
    /// let mut heap = Heap::new();
    /// let layout = Layout::from_size_align(100, 8).unwrap();
    /// let region = heap.allocate(layout).unwrap();
    /// assert!(region.len() >= 100 && region.as_ptr() as usize % 4096 == 0);
    /// // SAFETY: the region came from this backing and nothing uses it.
    /// unsafe { heap.release(region, layout) };
    /// ```
    fn allocate(&mut self, layout: Layout) -> Result<Region, Error>;

    /// Takes back a region.
    ///
    /// # Safety
    ///
    /// `region` must have come from `allocate` on this backing and not have been released
    /// since; nothing may use its memory afterwards. `layout` has the alignment that was
    /// passed to `allocate`, and a size between the one passed and `region.len()` — or, for a
    /// region shorter than asked (which the slab refuses), exactly the layout passed.
    ///
    /// `release` does not have to unlock: the slab unlocks what it locked before it releases.
    ///
    /// ```
    /// use std::alloc::Layout;
    /// use nexus_slab::{backing::{Backing, Mmap}};
    ///
    /// let mut mmap = Mmap::new();
    /// let layout = Layout::from_size_align(5000, 8).unwrap();
    /// let region = mmap.allocate(layout).unwrap();
    /// let page = mmap.granularity();
    /// assert_eq!(region.len(), 5000usize.next_multiple_of(page)); // two 4 KiB pages on x86-64
    /// // SAFETY: the region came from this backing and nothing uses it.
    /// unsafe { mmap.release(region, layout) };
    /// ```
    unsafe fn release(&mut self, region: Region, layout: Layout);

    /// Pins the region in RAM (`mlock`), so it is never paged out.
    ///
    /// # Errors
    ///
    /// [`Error::MemlockLimit`] when `RLIMIT_MEMLOCK` is too low (the message says how much the
    /// process has locked already), [`Error::MapCountLimit`] when locking part of a mapping
    /// would split it past `vm.max_map_count`, [`Error::Unsupported`] when the region is not
    /// page-aligned or the platform cannot lock, [`Error::Os`] otherwise (its hint says when
    /// part of the range is not mapped). The limits are checked before anything is locked; a
    /// range that is not one mapping can fail midway, with the mappings before the failure
    /// locked (the kernel locks mapping by mapping).
    ///
    /// ```
    /// use std::alloc::Layout;
    /// use nexus_slab::{backing::{Backing, Mmap}};
    ///
    /// let mut mmap = Mmap::new();
    /// let layout = Layout::from_size_align(4096, 8).unwrap();
    /// let region = mmap.allocate(layout).unwrap();
    /// if mmap.lock(&region).is_ok() {
    ///     mmap.unlock(&region).unwrap();
    /// }
    /// // SAFETY: the region came from this backing and nothing uses it.
    /// unsafe { mmap.release(region, layout) };
    /// ```
    fn lock(&mut self, region: &Region) -> Result<(), Error> {
        lock_region(region)
    }

    /// Lets the region be paged out again (`munlock`).
    ///
    /// # Errors
    ///
    /// As for [`lock`](Backing::lock).
    ///
    /// ```
    /// use nexus_slab::Slab;
    /// let mut slab: Slab<u8> = Slab::with_capacity(10);
    /// if slab.mlock().is_ok() {
    ///     slab.munlock().unwrap(); // calls Backing::unlock on the slab's region
    /// }
    /// ```
    fn unlock(&mut self, region: &Region) -> Result<(), Error> {
        unlock_region(region)
    }

    /// Asks the kernel to move the region onto transparent huge pages now
    /// (`MADV_COLLAPSE`, Linux 6.1+).
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] when the kernel or region cannot collapse, [`Error::Os`] when the
    /// kernel tried and failed (for example no free huge page).
    ///
    /// ```
    /// use nexus_slab::Slab;
    /// let mut slab: Slab<u64> = Slab::with_capacity(1 << 20);
    /// let _ = slab.try_collapse(); // calls Backing::collapse on the slab's region
    /// ```
    fn collapse(&mut self, region: &Region) -> Result<(), Error> {
        collapse_region(region)
    }

    /// Bytes of the region on huge pages right now (transparent or hugetlb), as the kernel's
    /// page tables say (`PAGEMAP_SCAN`, Linux 6.7+; `/proc/self/smaps` before).
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] where the platform cannot tell.
    ///
    /// ```
    /// use nexus_slab::Slab;
    /// let slab: Slab<u64> = Slab::with_capacity(1 << 20);
    /// if let Ok(huge) = slab.huge_page_bytes() {
    ///     assert!(huge <= slab.memory_size());
    /// }
    /// ```
    fn huge_page_bytes(&self, region: &Region) -> Result<usize, Error> {
        sys::huge_bytes(region.as_ptr(), region.len())
    }

    /// Bytes of the region the kernel keeps locked in RAM right now: on Linux, the region's
    /// resident pages (`/proc/self/pagemap`) inside mappings the kernel marks locked (`lo` in
    /// the `VmFlags` of `/proc/self/smaps`, set by `mlock` or `mlockall`). A page counts in
    /// full even when another mapping or a forked child shares it (smaps' own `Locked:` would
    /// count a share of it). Pages pinned only through some other mapping of the same memory do
    /// not count, and hugetlb pages never do: they cannot be swapped anyway.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] where the platform cannot tell.
    ///
    /// ```
    /// use nexus_slab::Slab;
    /// let slab: Slab<u64> = Slab::with_capacity(1000);
    /// if let Ok(locked) = slab.locked_bytes() {
    ///     assert_eq!(locked, 0); // not locked yet
    /// }
    /// ```
    fn locked_bytes(&self, region: &Region) -> Result<usize, Error> {
        sys::locked_bytes(region.as_ptr(), region.len())
    }

    /// Where the region's resident pages are: bytes per NUMA node, asked of the kernel page by
    /// page (on Linux `move_pages` with no target node, which only reports; on Windows the
    /// `Node` of each page in `QueryWorkingSetEx`). One query per
    /// [`page_size`](Region::page_size) of the region, so a hugetlb region is quick to ask.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] where the platform cannot tell (or a seccomp filter forbids the
    /// call: the reason says so).
    ///
    /// ```
    /// use nexus_slab::Slab;
    /// let slab: Slab<u64> = Slab::with_capacity(1000);
    /// if let Ok(placed) = slab.numa_bytes() {
    ///     assert_eq!(placed.resident(), slab.memory_size()); // prefaulted: all resident
    /// }
    /// ```
    fn numa_bytes(&self, region: &Region) -> Result<NumaBytes, Error> {
        sys::numa_bytes(region.as_ptr(), region.len(), region.page_size())
    }
}

/// A backing that can make another of itself — a new, unallocated backing with the same
/// settings — for [`Slab::try_clone`](crate::Slab::try_clone).
///
/// Every built-in backing is one (`Heap<A>` when the allocator is `Clone`, as references
/// are); implement it for a custom backing that can.
///
/// ```
/// use nexus_slab::{backing::{CloneBacking, HugePageSize, HugeTlb, Locked, Mmap}};
///
/// let lazy = Mmap::new().prefault(false).clone_backing();
/// assert!(!lazy.prefaults());
/// let huge = Locked::new(HugeTlb::new(HugePageSize::SIZE_1G)).clone_backing();
/// assert_eq!(huge.inner().huge_page_size(), HugePageSize::SIZE_1G);
/// ```
pub trait CloneBacking: Backing + Sized {
    /// A new backing with this one's settings and no region.
    fn clone_backing(&self) -> Self;
}

/// `mlock` of exactly the region.
pub(crate) fn lock_region(region: &Region) -> Result<(), Error> {
    require_pages(region, "mlock")?;
    sys::lock(region.as_ptr(), region.len())
}

/// `munlock` of exactly the region.
pub(crate) fn unlock_region(region: &Region) -> Result<(), Error> {
    require_pages(region, "munlock")?;
    sys::unlock(region.as_ptr(), region.len())
}

/// `MADV_COLLAPSE` of exactly the region.
pub(crate) fn collapse_region(region: &Region) -> Result<(), Error> {
    require_pages(region, "MADV_COLLAPSE")?;
    // Name a region too small to hold a huge page as such, before the kernel's bare EINVAL.
    #[cfg(all(target_os = "linux", not(miri)))]
    sys::collapse_check(region.as_ptr(), region.len())?;
    sys::collapse(region.as_ptr(), region.len())
}

/// Hands a region back to its backing when dropped, unless [`keep`](Releaser::keep) takes it
/// out first: the one place a region is released, so it goes back exactly once on every path,
/// a panicking `lock` or `unlock` included.
pub(crate) struct Releaser<'a, B: Backing> {
    backing: &'a mut B,
    region: Option<Region>,
    layout: Layout,
}

impl<'a, B: Backing> Releaser<'a, B> {
    /// # Safety
    ///
    /// As for [`Backing::release`]: `region` came from `backing.allocate`, `layout` fits it, and
    /// nothing uses the region once this value is dropped (unless it was kept).
    pub(crate) unsafe fn new(backing: &'a mut B, region: Region, layout: Layout) -> Self {
        Releaser {
            backing,
            region: Some(region),
            layout,
        }
    }

    /// The backing and the region, to call a memory control before the release.
    pub(crate) fn parts(&mut self) -> (&mut B, &Region) {
        let region = self.region.as_ref().expect("not kept yet");
        (self.backing, region)
    }

    /// Keeps the region: it is not released.
    pub(crate) fn keep(mut self) -> Region {
        self.region.take().expect("kept once")
    }
}

impl<B: Backing> Drop for Releaser<'_, B> {
    fn drop(&mut self) {
        if let Some(region) = self.region.take() {
            // SAFETY: promised by the caller of `new`; taken out of the `Option`, so once.
            unsafe { self.backing.release(region, self.layout) };
        }
    }
}

/// Whether a region that a backing returned for `layout` breaks a promise of [`Backing`] the
/// slab can check before it writes a byte (`Error::BrokenBacking` names which).
pub(crate) fn region_is_broken(region: &Region, layout: Layout) -> bool {
    let addr = region.as_ptr() as usize;
    region.len() < layout.size()
        || addr % layout.align() != 0
        || addr.checked_add(region.len()).is_none()
        || Layout::from_size_align(region.len(), layout.align()).is_err()
}

/// The length of a region for `layout` on pages of `page` bytes, refused (before anything is
/// allocated) when it exceeds physical memory.
pub(crate) fn region_len(layout: Layout, page: usize) -> Result<usize, Error> {
    // Rounding up cannot overflow for a valid `Layout` (size <= isize::MAX); if it ever did,
    // usize::MAX is refused below like any other size beyond RAM.
    let len = layout
        .size()
        .checked_next_multiple_of(page)
        .unwrap_or(usize::MAX);
    check_fits_in_ram(len)?;
    Ok(len)
}

/// Refuses, before any allocation is attempted, a region larger than physical memory: it
/// could never be resident, and prefaulting it would only summon the OOM killer.
pub(crate) fn check_fits_in_ram(bytes: usize) -> Result<(), Error> {
    match sys::physical_memory() {
        Some(physical) if bytes > physical => Err(Error::ExceedsMemory { bytes, physical }),
        _ => Ok(()),
    }
}

fn require_pages(region: &Region, what: &'static str) -> Result<(), Error> {
    if region.is_page_aligned() {
        Ok(())
    } else {
        Err(Error::unsupported(
            what,
            format!(
                "the region at {:p} ({} bytes) is not whole pages of {} bytes, so the call \
                 would act on memory outside it: use a page-aligned backing",
                region.as_ptr(),
                region.len(),
                sys::page_size()
            ),
        ))
    }
}
