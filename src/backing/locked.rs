//! [`Locked`]: any backing, with its region pinned in RAM for the slab's whole life.

use core::alloc::Layout;

use super::{Backing, CloneBacking, HugeTlb, Mmap, Region, Releaser};
use crate::{system::NumaBytes, Error};

/// Wraps a backing so that its region is locked in RAM (`mlock`) right after it is allocated
/// and prefaulted, and unlocked when it is released.
///
/// If the lock fails — typically `RLIMIT_MEMLOCK` without `CAP_IPC_LOCK` — the allocation fails
/// with [`Error::MemlockLimit`] (naming the limit, the bytes needed and the fix) and the region is
/// released at once: nothing stays mapped.
///
/// # Fork and core dumps: not excluded by default
///
/// A `fork()` makes a locked slab copy-on-write: the parent's next write to each page is a
/// page fault that copies it to a new frame — the very fault locking is meant to rule out. Yet
/// `Locked` does not set `MADV_DONTFORK` by default: with it a forked child has no mapping at
/// the slab's address, so a child that reads the slab (a snapshot writer, a forked worker)
/// crashes with a segmentation fault, where without it it works and the parent pays faults.
/// The choice depends on what the program's children do, which only the program knows; one call
/// makes it (`Locked::<Mmap>::default().exclude_from_fork()`, [`Mmap::exclude_from_fork`]). `fork` + `exec`
/// (and `posix_spawn`, which Rust's `Command` uses where it can) is unaffected either way.
/// Likewise `MADV_DONTDUMP` ([`Mmap::exclude_from_dumps`]) stays off: a core dump without the slab's
/// contents is harder to debug, and the size of the dump is the operator's call.
///
/// ```
/// use nexus_slab::{Error, LockedSlab};
///
/// match LockedSlab::<u64>::try_with_capacity(1 << 16) {
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
    /// use nexus_slab::{Slab, backing::{HugeTlb, Locked}};
    /// let slab: Slab<u64, Locked<HugeTlb>> = Slab::new_in(Locked::new(HugeTlb::default()));
    /// # let _ = slab;
    /// ```
    pub const fn new(inner: B) -> Self {
        Locked { inner }
    }

    /// The wrapped backing.
    ///
    /// ```
    /// use nexus_slab::{backing::{Locked, Mmap}};
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

    fn numa_bytes(&self, region: &Region) -> Result<NumaBytes, Error> {
        self.inner.numa_bytes(region)
    }
}

/// The placement and isolation builders of the OS backings, through `Locked`, so that
/// `Locked::<Mmap>::default().numa_node(0).exclude_from_fork()` chains. The wrapped backing maps,
/// places and prefaults; `Locked` locks afterwards.
macro_rules! locked_options {
    ($inner:ty, $make:expr) => {
        impl Locked<$inner> {
            /// Binds the wrapped backing's region strictly to NUMA node `node` (see
            #[doc = concat!("[`", stringify!($inner), "::numa_node`]).")]
            ///
            /// ```
            /// use nexus_slab::backing::*;
            /// use nexus_slab::system::NumaPolicy;
            #[doc = concat!("let b = Locked::new(", $make, ").numa_node(0);")]
            /// assert_eq!(b.inner().numa(), Some(NumaPolicy::Bind(0)));
            /// ```
            #[must_use]
            pub fn numa_node(self, node: usize) -> Self {
                Locked::new(self.inner.numa_node(node))
            }

            /// Prefers NUMA node `node` for the wrapped backing's region (see
            #[doc = concat!("[`", stringify!($inner), "::numa_preferred`]).")]
            ///
            /// ```
            /// use nexus_slab::backing::*;
            /// use nexus_slab::system::NumaPolicy;
            #[doc = concat!("let b = Locked::new(", $make, ").numa_preferred(0);")]
            /// assert_eq!(b.inner().numa(), Some(NumaPolicy::Preferred(0)));
            /// ```
            #[must_use]
            pub fn numa_preferred(self, node: usize) -> Self {
                Locked::new(self.inner.numa_preferred(node))
            }

            /// Leaves the region out of forked children (see
            #[doc = concat!("[`", stringify!($inner), "::exclude_from_fork`]).")]
            ///
            /// ```
            /// use nexus_slab::backing::*;
            /// use nexus_slab::system::NumaPolicy;
            #[doc = concat!("let b = Locked::new(", $make, ").exclude_from_fork();")]
            /// assert!(b.inner().excluded_from_fork());
            /// ```
            #[must_use]
            pub fn exclude_from_fork(self) -> Self {
                Locked::new(self.inner.exclude_from_fork())
            }

            /// Leaves the region out of core dumps (see
            #[doc = concat!("[`", stringify!($inner), "::exclude_from_dumps`]).")]
            ///
            /// ```
            /// use nexus_slab::backing::*;
            /// use nexus_slab::system::NumaPolicy;
            #[doc = concat!("let b = Locked::new(", $make, ").exclude_from_dumps();")]
            /// assert!(b.inner().excluded_from_dumps());
            /// ```
            #[must_use]
            pub fn exclude_from_dumps(self) -> Self {
                Locked::new(self.inner.exclude_from_dumps())
            }
        }
    };
}

locked_options!(Mmap, "Mmap::new()");
locked_options!(HugeTlb, "HugeTlb::default()");

impl<B: CloneBacking> CloneBacking for Locked<B> {
    fn clone_backing(&self) -> Self {
        Locked::new(self.inner.clone_backing())
    }
}
