//! Linux and other Unix systems: mlock, madvise, and (Linux) huge pages.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::info::Limit;
use crate::Error;

#[cfg(target_os = "linux")]
#[path = "linux.rs"]
mod linux;
#[cfg(target_os = "linux")]
pub(crate) use linux::*;
#[cfg(target_os = "linux")]
#[path = "procfs.rs"]
mod procfs;
#[cfg(target_os = "linux")]
use procfs::mlock_enomem;
#[cfg(target_os = "linux")]
pub(crate) use procfs::{
    can_gain_cap_sys_resource, collapse_check, has_cap_ipc_lock, locked_bytes,
};
#[cfg(target_os = "linux")]
#[path = "placement.rs"]
mod placement;
#[cfg(target_os = "linux")]
pub(crate) use placement::{
    bind, compact_unevictable_allowed, exclude, locked_now, map_on_node, node_huge_pool,
    numa_balancing, numa_bytes, numa_node, numa_node_infos, numa_nodes_usable, thp_defrag,
};

/// What `mlock`'s ENOMEM means where the kernel's reports cannot tell the causes apart.
#[cfg(not(target_os = "linux"))]
fn mlock_enomem(_: *mut u8, len: usize, _: io::Error) -> Error {
    Error::MemlockLimit {
        needed: len,
        limit: memlock_limit(),
        locked: 0,
    }
}

// Other Unix systems (macOS, the BSDs) lock memory but have neither hugetlb nor THP.
#[cfg(not(target_os = "linux"))]
#[path = "stub.rs"]
#[allow(dead_code)]
mod stub;
#[cfg(not(target_os = "linux"))]
pub(crate) use stub::{
    advise_hugepage, can_gain_cap_sys_resource, collapse, default_huge_page_size, has_cap_ipc_lock,
    huge_bytes, huge_page_sizes, huge_pool, huge_pool_fix, locked_bytes, map_huge, populate,
    thp_mode, thp_size, unmap_huge,
};
#[cfg(not(target_os = "linux"))]
pub(crate) use stub::{
    bind, compact_unevictable_allowed, exclude, locked_now, map_on_node, node_huge_pool,
    numa_balancing, numa_bytes, numa_node, numa_node_infos, numa_nodes_usable, thp_defrag,
};
// No MemAvailable off Linux: a restore is bounded by its limit alone.
#[cfg(not(target_os = "linux"))]
#[cfg_attr(not(feature = "serde"), allow(unused_imports))]
pub(crate) use stub::available_memory;

/// The base page size, read once.
pub(crate) fn page_size() -> usize {
    static PAGE: AtomicUsize = AtomicUsize::new(0);
    let cached = PAGE.load(Ordering::Relaxed);
    if cached != 0 {
        return cached;
    }
    // SAFETY: sysconf has no preconditions.
    let page = match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
        n if n > 0 => n as usize,
        _ => 4096,
    };
    PAGE.store(page, Ordering::Relaxed);
    page
}

/// Bytes of physical memory, if the OS says.
pub(crate) fn read_physical_memory() -> Option<usize> {
    // SAFETY: sysconf has no preconditions.
    let pages = unsafe { libc::sysconf(libc::_SC_PHYS_PAGES) };
    (pages > 0).then(|| (pages as usize).saturating_mul(page_size()))
}

/// What an OS error of `op` means here, and the fix where there is one: the message of
/// [`Error::Os`] around its source.
pub(crate) fn os_advice(op: &str, err: &io::Error) -> (Option<&'static str>, Option<&'static str>) {
    match (op, err.raw_os_error()) {
        ("madvise(MADV_COLLAPSE)", Some(libc::EAGAIN | libc::ENOMEM)) => (
            Some("the kernel found no free huge page"),
            Some("run `echo 1 | sudo tee /proc/sys/vm/compact_memory` and retry"),
        ),
        // The other causes of ENOMEM (the limit, the mapping count) have variants of their own.
        ("mlock" | "munlock", Some(libc::ENOMEM)) => (
            Some(
                "part of the range is not mapped in this process (a Region made up by hand, or \
                 a Backing that broke its contract)",
            ),
            None,
        ),
        (_, Some(libc::ENOMEM)) => (
            Some("not enough memory or address space (free memory, `ulimit -v`, overcommit)"),
            None,
        ),
        (_, Some(libc::EPERM | libc::EACCES)) => (Some("the process lacks the permission"), None),
        _ => (None, None),
    }
}

fn errno() -> io::Error {
    io::Error::last_os_error()
}

/// The soft `RLIMIT_MEMLOCK`.
pub(crate) fn memlock_limit() -> Limit {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid out-pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) } != 0 {
        return Limit::Unknown;
    }
    if lim.rlim_cur == libc::RLIM_INFINITY {
        Limit::Unlimited
    } else {
        #[allow(clippy::unnecessary_cast)] // `rlim_t` is not u64 on every Unix
        Limit::Bytes(lim.rlim_cur as u64)
    }
}

pub(crate) fn lock(ptr: *mut u8, len: usize) -> Result<(), Error> {
    // SAFETY: mlock reads no memory; it pins the pages of [ptr, ptr+len), which the caller
    // owns (a whole-page region).
    if unsafe { libc::mlock(ptr.cast(), len) } == 0 {
        return Ok(());
    }
    let err = errno();
    match err.raw_os_error() {
        // ENOMEM: over a non-zero RLIMIT_MEMLOCK, or a hole in the range, or too many mappings.
        Some(libc::ENOMEM) => Err(mlock_enomem(ptr, len, err)),
        // EPERM: the limit is 0 and no CAP_IPC_LOCK.
        Some(libc::EPERM) => Err(Error::MemlockLimit {
            needed: len,
            limit: memlock_limit(),
            locked: 0,
        }),
        _ => Err(Error::os("mlock", len, err)),
    }
}

pub(crate) fn unlock(ptr: *mut u8, len: usize) -> Result<(), Error> {
    // SAFETY: munlock changes no memory; the range is the caller's whole-page region.
    if unsafe { libc::munlock(ptr.cast(), len) } == 0 {
        Ok(())
    } else {
        Err(Error::os("munlock", len, errno()))
    }
}
