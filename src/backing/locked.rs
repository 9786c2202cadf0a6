//! [`Locked`]: any backing, with its region pinned in RAM for the slab's whole life.

use core::alloc::Layout;

use super::{Backing, CloneBacking, Mmap, Region, Releaser};
use crate::Error;

/// Wraps a backing so that its region is locked in RAM (`mlock`) right after it is allocated
/// and prefaulted, and unlocked when it is released.
///
/// If the lock fails — typically `RLIMIT_MEMLOCK` without `CAP_IPC_LOCK` — the allocation fails
/// with [`Error::MemlockLimit`] (naming the limit, the bytes needed and the fix) and the region is
/// released at once: nothing stays mapped.
///
/// ```
/// use nexus_slab::{Error, LockedSlab};
///
/// match LockedSlab::<u64>::with_capacity(1 << 16) {
///     Ok(slab) => assert!(slab.capacity() >= 1 << 16),
///     Err(e @ Error::MemlockLimit { .. }) => eprintln!("{e}"),
///     Err(e) => panic!("{e}"),
/// }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Locked<B: Backing = Mmap> {
    inner: B,
}

impl<B: Backing> Locked<B> {
    /// Locks the regions of `inner`.
    ///
    /// ```
    /// use nexus_slab::{HugeTlb, Locked, Slab};
    /// let slab: Slab<u64, Locked<HugeTlb>> = Slab::new_in(Locked::new(HugeTlb::default()));
    /// # let _ = slab;
    /// ```
    pub const fn new(inner: B) -> Self {
        Locked { inner }
    }

    /// The wrapped backing.
    ///
    /// ```
    /// use nexus_slab::{Locked, Mmap};
    /// assert!(Locked::new(Mmap::new()).inner().prefaults());
    /// ```
    pub const fn inner(&self) -> &B {
        &self.inner
    }
}

// SAFETY: regions come from `inner` unchanged (its guarantees carry over); locking changes no
// contents and covers exactly the region; a region is unlocked, then released to `inner`, once.
unsafe impl<B: Backing> Backing for Locked<B> {
    fn granularity(&self) -> usize {
        self.inner.granularity()
    }

    fn allocate(&mut self, layout: Layout) -> Result<Region, Error> {
        let region = self.inner.allocate(layout)?;
        // SAFETY: allocated just above from `inner` with `layout`, and used by nothing: if
        // locking fails (or panics) it goes straight back.
        let mut guard = unsafe { Releaser::new(&mut self.inner, region, layout) };
        let (inner, region) = guard.parts();
        inner.lock(region)?;
        Ok(guard.keep())
    }

    unsafe fn release(&mut self, region: Region, layout: Layout) {
        // SAFETY: forwarded from our caller: the region came from `inner` via `allocate`.
        let mut release = unsafe { Releaser::new(&mut self.inner, region, layout) };
        // This backing locked the region, so it unlocks it: unmapping would unlock too, but a
        // heap allocator keeps its pages. The region goes back even if `unlock` panics.
        let (inner, region) = release.parts();
        let _ = inner.unlock(region);
    }

    fn lock(&mut self, region: &Region) -> Result<(), Error> {
        self.inner.lock(region)
    }

    fn unlock(&mut self, region: &Region) -> Result<(), Error> {
        self.inner.unlock(region)
    }

    fn collapse(&mut self, region: &Region) -> Result<(), Error> {
        self.inner.collapse(region)
    }

    fn huge_page_bytes(&self, region: &Region) -> Result<usize, Error> {
        self.inner.huge_page_bytes(region)
    }

    fn locked_bytes(&self, region: &Region) -> Result<usize, Error> {
        self.inner.locked_bytes(region)
    }
}

impl<B: CloneBacking> CloneBacking for Locked<B> {
    fn clone_backing(&self) -> Self {
        Locked::new(self.inner.clone_backing())
    }
}
