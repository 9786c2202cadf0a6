//! What the OS backings ([`Mmap`](super::Mmap), [`HugeTlb`](super::HugeTlb)) do to a fresh
//! mapping before it is prefaulted: NUMA placement and isolation from fork and core dumps.
//!
//! The order is fixed by the kernel: `mbind` places only pages not yet faulted in, so it comes
//! between mapping and prefault; the advice (`MADV_DONTFORK`, `MADV_DONTDUMP`) only sets flags
//! and could come at any time, but is set before the pages exist. `Locked` locks afterwards.

use core::ptr::NonNull;

use super::Region;
use crate::numa::NumaPolicy;
use crate::{sys, Error};

/// The placement and isolation settings of a backing. Copied by `clone_backing`. `Debug`
/// says them by the builder calls that set them.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub(crate) struct MapOptions {
    pub(crate) numa: Option<NumaPolicy>,
    pub(crate) dont_fork: bool,
    pub(crate) dont_dump: bool,
}

impl core::fmt::Debug for MapOptions {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MapOptions")
            .field("numa", &self.numa)
            .field("exclude_from_fork", &self.dont_fork)
            .field("exclude_from_dumps", &self.dont_dump)
            .finish()
    }
}

impl MapOptions {
    /// Nothing asked for.
    pub(crate) const DEFAULT: MapOptions = MapOptions {
        numa: None,
        dont_fork: false,
        dont_dump: false,
    };

    /// Refuses, before anything is mapped, what cannot work: a node the process cannot use, a
    /// strict binding larger than the node, a strict hugetlb binding to a node whose pool has
    /// too few free pages (`huge_page`: the page size of a hugetlb region).
    pub(crate) fn check(&self, len: usize, huge_page: Option<usize>) -> Result<(), Error> {
        let Some(policy) = self.numa else {
            return Ok(());
        };
        let node = policy.node();
        let Some(nodes) = sys::numa_nodes_usable() else {
            return Err(Error::unsupported("NUMA placement", no_numa_reason()));
        };
        if !nodes.contains(&node) {
            return Err(Error::NodeUnavailable {
                node,
                nodes: nodes.into(),
            });
        }
        if !policy.is_strict() {
            return Ok(());
        }
        match huge_page {
            Some(page) => {
                // The node's free pages bound what a strict binding can get: hugetlb
                // reservations are machine-wide, so the mapping alone would not notice.
                if let Some(pool) = sys::node_huge_pool(node, page) {
                    let needed = len / page;
                    if pool.free < needed {
                        return Err(node_short(node, page, needed, pool.free, pool.total));
                    }
                }
            }
            // With one node the machine-wide check (`check_fits_in_ram`) has it covered, and
            // some virtual machines report less in the node's meminfo than they hand out.
            None if nodes.len() > 1 => {
                if let Some(node_bytes) = sys::numa_node(node).memory_total {
                    if len > node_bytes {
                        return Err(Error::NodeMemory {
                            node,
                            bytes: len,
                            node_bytes,
                        });
                    }
                }
            }
            None => {}
        }
        Ok(())
    }

    /// Maps the region where the platform places pages at allocation (Windows:
    /// `VirtualAllocExNuma`); `None` where they are placed after mapping ([`apply`]), or when
    /// there is no placement. A returned mapping is exactly `len` bytes, released with
    /// `sys::unmap_huge`.
    ///
    /// [`apply`]: MapOptions::apply
    pub(crate) fn map_placed(
        &self,
        len: usize,
        huge_page: Option<usize>,
    ) -> Result<Option<NonNull<u8>>, Error> {
        match self.numa {
            Some(policy) => sys::map_on_node(len, huge_page, policy),
            None => Ok(None),
        }
    }

    /// Applies the settings to a fresh, untouched region: `mbind` (unless `placed`: already
    /// placed at allocation), then the advice.
    pub(crate) fn apply(&self, region: &Region, placed: bool) -> Result<(), Error> {
        if let (Some(policy), false) = (self.numa, placed) {
            sys::bind(region.as_ptr(), region.len(), policy)?;
        }
        if self.dont_fork || self.dont_dump {
            sys::exclude(
                region.as_ptr(),
                region.len(),
                self.dont_fork,
                self.dont_dump,
            )?;
        }
        Ok(())
    }

    /// The node a hugetlb region must get all its pages from, if any.
    pub(crate) fn strict_node(&self) -> Option<usize> {
        self.numa.filter(|p| p.is_strict()).map(NumaPolicy::node)
    }
}

/// Prefaults a hugetlb region bound strictly to `node`, never by touching: a page the node's
/// pool cannot supply would be a `SIGBUS` at the touch (the reservation made by `mmap` is
/// machine-wide and does not cover the node). `MADV_POPULATE_WRITE` (Linux 5.14+) reports it as
/// an error instead, which becomes [`Error::NodeHugePagesUnavailable`]. The caller unmaps the
/// region on error.
pub(crate) fn populate_bound_huge(region: &Region, node: usize) -> Result<(), Error> {
    let page = region.page_size();
    match sys::populate(region.as_ptr(), region.len()) {
        Ok(()) => Ok(()),
        // EFAULT: a fault failed (SIGBUS); EINVAL: the same on the first 5.14 kernels, or no
        // MADV_POPULATE_WRITE at all. ENOMEM: no memory. Each is told apart by the node's pool.
        Err(e) => {
            let needed = region.len() / page;
            // The pages faulted in before the failure are the region's until the caller
            // unmaps it: count them as the node's free pages, as they will be again.
            let held = sys::numa_bytes(region.as_ptr(), region.len(), page)
                .map_or(0, |b| b.on_node(node) / page);
            match sys::node_huge_pool(node, page) {
                Some(pool) if pool.free + held < needed || is_fault(&e) => {
                    let free = pool.free + held;
                    Err(node_short(node, page, needed, free, pool.total))
                }
                _ => match e {
                    Error::Unsupported { .. } => Err(Error::unsupported(
                        "binding hugetlb pages to a NUMA node",
                        "prefaulting them safely needs MADV_POPULATE_WRITE (Linux 5.14+): use \
                         numa_preferred(node), whose pages the mapping's reservation covers",
                    )),
                    other => Err(other),
                },
            }
        }
    }
}

fn is_fault(e: &Error) -> bool {
    #[cfg(unix)]
    let fault =
        matches!(e, Error::Os { source, .. } if source.raw_os_error() == Some(libc::EFAULT));
    #[cfg(not(unix))]
    let fault = {
        let _ = e;
        false
    };
    fault
}

fn node_short(node: usize, page: usize, needed: usize, free: usize, total: usize) -> Error {
    Error::NodeHugePagesUnavailable {
        node,
        needed,
        free,
        total,
        page_size: crate::backing::HugePageSize::new(page).expect("a pool's page size"),
    }
}

fn no_numa_reason() -> Box<str> {
    if cfg!(target_os = "linux") {
        "this kernel has no NUMA nodes (no /sys/devices/system/node): it was built without \
         CONFIG_NUMA"
            .into()
    } else {
        match sys::bind(core::ptr::null_mut(), 0, NumaPolicy::Preferred(0)) {
            Err(Error::Unsupported { reason, .. }) => reason,
            _ => "the platform reports no NUMA nodes".into(),
        }
    }
}

/// Finishes a region that is a whole mapping of its own (hugetlb, or placed at allocation):
/// checks its alignment, applies the settings and prefaults it. On error it is unmapped
/// (`sys::unmap_huge`): nothing stays mapped.
pub(crate) fn finish_whole(
    region: Region,
    options: &MapOptions,
    placed: bool,
    huge: bool,
    align: usize,
    prefault: bool,
) -> Result<Region, Error> {
    let result = (|| {
        if region.as_ptr() as usize % align != 0 {
            return Err(Error::unsupported(
                "values aligned this much with NUMA placement",
                format!(
                    "the system's allocation at {:p} is not aligned to {align}",
                    region.as_ptr()
                ),
            ));
        }
        options.apply(&region, placed)?;
        match (prefault, huge, options.strict_node()) {
            (false, _, _) => Ok(()),
            (true, true, Some(node)) => populate_bound_huge(&region, node),
            // SAFETY: the mapping is fresh, ours, and in no one else's use.
            (true, _, _) => unsafe { region.prefault() },
        }
    })();
    match result {
        Ok(()) => Ok(region),
        Err(e) => {
            // SAFETY: the whole mapping, made by the caller for this region and used by nothing.
            unsafe { sys::unmap_huge(region.as_ptr(), region.len()) };
            Err(e)
        }
    }
}

/// How the integration tests report a proof that cannot run here, for the unit test below.
#[cfg(all(test, target_os = "linux", not(miri)))]
#[path = "../../tests/common/skip.rs"]
mod skip;

#[cfg(all(test, target_os = "linux", not(miri)))]
mod tests {
    use super::*;

    /// Touching a hugetlb page the pool cannot supply is a SIGBUS; `populate_bound_huge` must
    /// turn it into a typed error. A bound region on a node short of pages is one case (not
    /// reproducible on a one-node machine: the machine-wide reservation covers the node); a
    /// `MAP_NORESERVE` mapping larger than the free pool is another, which faults the same way
    /// after the last free page — so it stands in for the node here.
    #[test]
    fn a_hugetlb_fault_without_a_page_is_an_error_not_a_sigbus() {
        let page = 2 << 20;
        let overcommit = std::fs::read_to_string("/proc/sys/vm/nr_overcommit_hugepages")
            .map_or(1, |s| s.trim().parse().unwrap_or(1));
        let Some(pool) = sys::huge_pool(page) else {
            skip::not_run(
                "needs a 2 MiB hugetlb pool",
                "a kernel built with CONFIG_HUGETLBFS",
            );
            return;
        };
        if overcommit != 0 {
            skip::not_run(
                "needs a 2 MiB pool that cannot grow on demand (nr_overcommit_hugepages is not 0)",
                "echo 0 | sudo tee /proc/sys/vm/nr_overcommit_hugepages",
            );
            return;
        }
        let pages = pool.free + 2;
        let len = pages * page;
        let flags = libc::MAP_PRIVATE
            | libc::MAP_ANONYMOUS
            | libc::MAP_HUGETLB
            | libc::MAP_NORESERVE
            | (21 << libc::MAP_HUGE_SHIFT);
        // SAFETY: a fresh mapping at an address of the kernel's choosing.
        let p = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED, "{}", std::io::Error::last_os_error());
        let region = Region::new(NonNull::new(p.cast()).unwrap(), len, page);
        let result = populate_bound_huge(&region, 0);
        // SAFETY: the mapping made above, used by nothing.
        unsafe { libc::munmap(p, len) };
        let err = result.unwrap_err();
        eprintln!("{pages} pages with {} free: {err}", pool.free);
        match err {
            ref e @ Error::NodeHugePagesUnavailable {
                node, needed, free, ..
            } => {
                assert_eq!((node, needed, free), (0, pages, pool.free));
                let fix = e.hint().unwrap();
                assert!(fix.starts_with(&format!("run `echo {} | sudo tee ", pool.total + 2)));
            }
            // A kernel without NUMA sysfs has no node pool to name.
            Error::Os { source, .. } if sys::node_huge_pool(0, page).is_none() => {
                assert_eq!(source.raw_os_error(), Some(libc::EFAULT));
            }
            other => panic!("expected NodeHugePagesUnavailable, got {other:?}"),
        }
    }
}
