//! No OS memory control: Miri, and platforms other than Unix and (with `unstable-windows`)
//! Windows; on macOS and the BSDs, `unix.rs` takes the huge-page functions from here. Every call
//! that would act on the OS reports `Unsupported` with the reason.

use std::io;
use std::ptr::NonNull;

use crate::info::{HugePagePool, Limit};
use crate::numa::{NodeHugePool, NumaBytes, NumaNode, NumaPolicy};
use crate::Error;

#[cfg(miri)]
const WHY: &str = "Miri does not model mlock or madvise: run the memory-control tests natively";
#[cfg(all(not(miri), windows))]
const WHY: &str = "VirtualLock and large pages need the `unstable-windows` cargo feature of \
     nexus-slab";
#[cfg(all(not(miri), unix))]
const WHY: &str = "huge pages (hugetlb, transparent huge pages) are Linux features";
#[cfg(all(not(miri), not(windows), not(unix)))]
const WHY: &str = "nexus-slab has no memory control on this platform";

/// Why NUMA placement and fork/dump isolation are missing here.
#[cfg(all(not(miri), unix))]
const WHY_PLACEMENT: &str = "nexus-slab places memory on NUMA nodes and excludes it from forks \
     and dumps on Linux only";
#[cfg(any(miri, not(unix)))]
const WHY_PLACEMENT: &str = WHY;

fn unsupported_placement(what: &'static str) -> Error {
    Error::unsupported(what, WHY_PLACEMENT)
}

fn unsupported(what: &'static str) -> Error {
    Error::unsupported(what, WHY)
}

pub(crate) fn page_size() -> usize {
    4096
}

pub(crate) fn read_physical_memory() -> Option<usize> {
    None
}

#[cfg_attr(not(feature = "serde"), allow(dead_code))] // read by restores only
pub(crate) fn available_memory() -> Option<usize> {
    None
}

pub(crate) fn os_advice(_: &str, _: &io::Error) -> (Option<&'static str>, Option<&'static str>) {
    (None, None)
}

pub(crate) fn memlock_limit() -> Limit {
    Limit::Unknown
}

pub(crate) fn has_cap_ipc_lock() -> Option<bool> {
    None
}

pub(crate) fn can_gain_cap_sys_resource() -> Option<bool> {
    None
}

pub(crate) fn lock(_: *mut u8, _: usize) -> Result<(), Error> {
    Err(unsupported("mlock"))
}

pub(crate) fn unlock(_: *mut u8, _: usize) -> Result<(), Error> {
    Err(unsupported("munlock"))
}

pub(crate) fn collapse(_: *mut u8, _: usize) -> Result<(), Error> {
    Err(unsupported("MADV_COLLAPSE"))
}

pub(crate) fn populate(_: *mut u8, _: usize) -> Result<(), Error> {
    Err(unsupported("MADV_POPULATE_WRITE"))
}

pub(crate) fn advise_hugepage(_: *mut u8, _: usize) {}

pub(crate) fn map_huge(_: usize, _: usize) -> Result<NonNull<u8>, Error> {
    Err(unsupported("hugetlb pages"))
}

/// # Safety
/// Never called: `map_huge` never succeeds here.
pub(crate) unsafe fn unmap_huge(_: *mut u8, _: usize) {}

pub(crate) fn huge_pool(_: usize) -> Option<HugePagePool> {
    None
}

pub(crate) fn huge_page_sizes() -> Vec<usize> {
    Vec::new()
}

pub(crate) fn huge_pool_fix(_: usize, _: usize) -> String {
    String::new()
}

pub(crate) fn default_huge_page_size() -> Option<usize> {
    None
}

/// No transparent huge pages.
pub(crate) fn thp_size() -> Option<usize> {
    None
}

pub(crate) fn thp_mode() -> Option<String> {
    None
}

pub(crate) fn huge_bytes(_: *mut u8, _: usize) -> Result<usize, Error> {
    Err(unsupported("a huge-page report"))
}

pub(crate) fn locked_bytes(_: *mut u8, _: usize) -> Result<usize, Error> {
    Err(unsupported("a locked-memory report"))
}

pub(crate) fn numa_nodes_usable() -> Option<Vec<usize>> {
    None
}

pub(crate) fn numa_node(node: usize) -> NumaNode {
    NumaNode {
        id: node,
        memory_total: None,
        memory_free: None,
        huge_pools: Vec::new(),
    }
}

pub(crate) fn numa_node_infos() -> Vec<NumaNode> {
    Vec::new()
}

pub(crate) fn node_huge_pool(_: usize, _: usize) -> Option<NodeHugePool> {
    None
}

pub(crate) fn map_on_node(
    _: usize,
    _: Option<usize>,
    _: NumaPolicy,
) -> Result<Option<NonNull<u8>>, Error> {
    Err(unsupported_placement("NUMA placement"))
}

pub(crate) fn bind(_: *mut u8, _: usize, _: NumaPolicy) -> Result<(), Error> {
    Err(unsupported_placement("NUMA placement"))
}

pub(crate) fn exclude(_: *mut u8, _: usize, fork: bool, _: bool) -> Result<(), Error> {
    Err(unsupported_placement(if fork {
        "MADV_DONTFORK"
    } else {
        "MADV_DONTDUMP"
    }))
}

pub(crate) fn numa_bytes(_: *mut u8, _: usize, _: usize) -> Result<NumaBytes, Error> {
    Err(unsupported_placement("a NUMA placement report"))
}

pub(crate) fn numa_balancing() -> Option<u32> {
    None
}

pub(crate) fn compact_unevictable_allowed() -> Option<u32> {
    None
}

pub(crate) fn thp_defrag() -> Option<String> {
    None
}

pub(crate) fn locked_now() -> Option<usize> {
    None
}
