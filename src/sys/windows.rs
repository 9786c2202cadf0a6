//! Windows (feature `unstable-windows`): VirtualLock, large pages (`MEM_LARGE_PAGES`) and the
//! working-set reports of `QueryWorkingSetEx`.
//!
//! The few Win32 functions needed are declared here rather than pulled in from `windows-sys`.
//! What maps onto the Linux vocabulary of the interface:
//!
//! - `mlock` is `VirtualLock`. Windows caps locked pages at the process's *minimum working-set
//!   size* (less a few pages of overhead), so that is the "memlock limit"; a lock over it fails
//!   with `ERROR_WORKING_SET_QUOTA`, reported as [`Error::MemlockLimit`].
//! - hugetlb pages are large pages: `VirtualAlloc(MEM_LARGE_PAGES)`, in multiples of
//!   `GetLargePageMinimum()` (2 MiB on x86-64). There is no pool: they come from free physically
//!   contiguous memory, and the account needs `SeLockMemoryPrivilege`, which is enabled in the
//!   process token on first need. 1 GiB pages are not offered.
//! - There are no transparent huge pages and no `MADV_POPULATE_WRITE`: `collapse` is
//!   unsupported and prefaulting touches every page.

use std::ffi::c_void;
use std::io;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use crate::info::{HugePagePool, Limit};
use crate::numa::{NodeHugePool, NumaBytes, NumaNode, NumaPolicy};
use crate::Error;

type Bool = i32;
type Handle = *mut c_void;

const MEM_COMMIT: u32 = 0x1000;
const MEM_RESERVE: u32 = 0x2000;
const MEM_RELEASE: u32 = 0x8000;
const MEM_LARGE_PAGES: u32 = 0x2000_0000;
const PAGE_READWRITE: u32 = 0x04;

const TOKEN_QUERY: u32 = 0x0008;
const TOKEN_ADJUST_PRIVILEGES: u32 = 0x0020;
const SE_PRIVILEGE_ENABLED: u32 = 0x0002;

const ERROR_ACCESS_DENIED: i32 = 5;
const ERROR_NOT_ENOUGH_MEMORY: i32 = 8;
const ERROR_OUTOFMEMORY: i32 = 14;
const ERROR_INVALID_PARAMETER: i32 = 87;
const ERROR_NOT_LOCKED: i32 = 158;
const ERROR_NOT_ALL_ASSIGNED: i32 = 1300;
const ERROR_PRIVILEGE_NOT_HELD: i32 = 1314;
const ERROR_NO_SYSTEM_RESOURCES: i32 = 1450;
const ERROR_WORKING_SET_QUOTA: i32 = 1453;
const ERROR_COMMITMENT_LIMIT: i32 = 1455;

/// `PSAPI_WORKING_SET_EX_BLOCK` bits.
const WS_VALID: usize = 1 << 0;
const WS_LOCKED: usize = 1 << 22;
const WS_LARGE_PAGE: usize = 1 << 23;
/// The `Node` field of `PSAPI_WORKING_SET_EX_BLOCK`: 6 bits from bit 16.
const WS_NODE_SHIFT: u32 = 16;
const WS_NODE_MASK: usize = 0x3f;

#[repr(C)]
struct SystemInfo {
    processor_architecture: u16,
    reserved: u16,
    page_size: u32,
    minimum_application_address: *mut c_void,
    maximum_application_address: *mut c_void,
    active_processor_mask: usize,
    number_of_processors: u32,
    processor_type: u32,
    allocation_granularity: u32,
    processor_level: u16,
    processor_revision: u16,
}

#[repr(C)]
struct MemoryStatusEx {
    length: u32,
    memory_load: u32,
    total_phys: u64,
    avail_phys: u64,
    total_page_file: u64,
    avail_page_file: u64,
    total_virtual: u64,
    avail_virtual: u64,
    avail_extended_virtual: u64,
}

/// `PSAPI_WORKING_SET_EX_INFORMATION`.
#[repr(C)]
#[derive(Clone, Copy)]
struct WorkingSetExInformation {
    virtual_address: *mut c_void,
    virtual_attributes: usize,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Luid {
    low_part: u32,
    high_part: i32,
}

/// `TOKEN_PRIVILEGES` with room for one privilege.
#[repr(C)]
struct TokenPrivileges {
    privilege_count: u32,
    luid: Luid,
    attributes: u32,
}

#[link(name = "kernel32")]
extern "system" {
    fn GetSystemInfo(info: *mut SystemInfo);
    fn GlobalMemoryStatusEx(status: *mut MemoryStatusEx) -> Bool;
    fn GetPhysicallyInstalledSystemMemory(kilobytes: *mut u64) -> Bool;
    fn GetCurrentProcess() -> Handle;
    fn GetProcessWorkingSetSize(process: Handle, minimum: *mut usize, maximum: *mut usize) -> Bool;
    fn VirtualLock(address: *mut c_void, size: usize) -> Bool;
    fn VirtualUnlock(address: *mut c_void, size: usize) -> Bool;
    fn VirtualAlloc(address: *mut c_void, size: usize, kind: u32, protect: u32) -> *mut c_void;
    fn VirtualFree(address: *mut c_void, size: usize, kind: u32) -> Bool;
    fn VirtualAllocExNuma(
        process: Handle,
        address: *mut c_void,
        size: usize,
        kind: u32,
        protect: u32,
        preferred: u32,
    ) -> *mut c_void;
    fn GetNumaHighestNodeNumber(highest: *mut u32) -> Bool;
    fn GetNumaAvailableMemoryNodeEx(node: u16, bytes: *mut u64) -> Bool;
    fn GetLargePageMinimum() -> usize;
    fn K32QueryWorkingSetEx(process: Handle, info: *mut c_void, bytes: u32) -> Bool;
    fn CloseHandle(handle: Handle) -> Bool;
}

#[link(name = "advapi32")]
extern "system" {
    fn OpenProcessToken(process: Handle, access: u32, token: *mut Handle) -> Bool;
    fn LookupPrivilegeValueW(system: *const u16, name: *const u16, luid: *mut Luid) -> Bool;
    fn AdjustTokenPrivileges(
        token: Handle,
        disable_all: Bool,
        new_state: *const TokenPrivileges,
        buffer_length: u32,
        previous_state: *mut TokenPrivileges,
        return_length: *mut u32,
    ) -> Bool;
}

fn last_error() -> io::Error {
    io::Error::last_os_error()
}

/// How to give an account the privilege large pages need.
const GRANT_LOCK_MEMORY: &str =
    "grant \"Lock pages in memory\" (secpol.msc > User Rights Assignment), then sign in again";

/// The base page size, read once.
pub(crate) fn page_size() -> usize {
    static PAGE: AtomicUsize = AtomicUsize::new(0);
    let cached = PAGE.load(Ordering::Relaxed);
    if cached != 0 {
        return cached;
    }
    let mut info = std::mem::MaybeUninit::<SystemInfo>::uninit();
    // SAFETY: GetSystemInfo fills the whole structure it is given and cannot fail.
    let info = unsafe {
        GetSystemInfo(info.as_mut_ptr());
        info.assume_init()
    };
    let page = match info.page_size as usize {
        p if p.is_power_of_two() => p,
        _ => 4096,
    };
    PAGE.store(page, Ordering::Relaxed);
    page
}

/// Bytes of physical memory.
pub(crate) fn read_physical_memory() -> Option<usize> {
    // GlobalMemoryStatusEx has been seen to fail under wine when several processes start at
    // once; try it a few times, a millisecond apart, then ask for the installed memory instead.
    for attempt in 0..20 {
        if attempt > 0 {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let mut status = MemoryStatusEx {
            length: size_of::<MemoryStatusEx>() as u32,
            memory_load: 0,
            total_phys: 0,
            avail_phys: 0,
            total_page_file: 0,
            avail_page_file: 0,
            total_virtual: 0,
            avail_virtual: 0,
            avail_extended_virtual: 0,
        };
        // SAFETY: `status` is a valid MEMORYSTATUSEX with `dwLength` set, as the call requires.
        if unsafe { GlobalMemoryStatusEx(&mut status) } != 0 && status.total_phys != 0 {
            return Some(usize::try_from(status.total_phys).unwrap_or(usize::MAX));
        }
    }
    let mut kib = 0u64;
    // SAFETY: `kib` is a valid out-pointer.
    if unsafe { GetPhysicallyInstalledSystemMemory(&mut kib) } != 0 && kib != 0 {
        return Some(usize::try_from(kib.saturating_mul(1024)).unwrap_or(usize::MAX));
    }
    None
}

/// Bytes of physical memory available now (`ullAvailPhys` of `GlobalMemoryStatusEx`), if the
/// call succeeds.
#[cfg_attr(not(feature = "serde"), allow(dead_code))] // read by restores only
pub(crate) fn available_memory() -> Option<usize> {
    let mut status = MemoryStatusEx {
        length: size_of::<MemoryStatusEx>() as u32,
        memory_load: 0,
        total_phys: 0,
        avail_phys: 0,
        total_page_file: 0,
        avail_page_file: 0,
        total_virtual: 0,
        avail_virtual: 0,
        avail_extended_virtual: 0,
    };
    // SAFETY: `status` is a valid MEMORYSTATUSEX with `dwLength` set, as the call requires.
    if unsafe { GlobalMemoryStatusEx(&mut status) } != 0 && status.total_phys != 0 {
        return Some(usize::try_from(status.avail_phys).unwrap_or(usize::MAX));
    }
    None
}

/// What an OS error of `op` means here, and the fix where there is one: the message of
/// [`Error::Os`] around its source.
pub(crate) fn os_advice(
    _op: &str,
    err: &io::Error,
) -> (Option<&'static str>, Option<&'static str>) {
    match err.raw_os_error() {
        Some(ERROR_NOT_ENOUGH_MEMORY | ERROR_OUTOFMEMORY | ERROR_COMMITMENT_LIMIT) => (
            Some("not enough memory or commit charge (the page file sets the commit limit)"),
            None,
        ),
        Some(ERROR_NO_SYSTEM_RESOURCES) => (
            Some(
                "too little free contiguous memory for large pages (easiest to get soon after \
                 boot)",
            ),
            None,
        ),
        Some(ERROR_WORKING_SET_QUOTA) => (
            Some("the process working set is too small"),
            Some("raise its minimum with SetProcessWorkingSetSize before the call"),
        ),
        Some(ERROR_PRIVILEGE_NOT_HELD) => (
            Some("the account lacks SeLockMemoryPrivilege"),
            Some(GRANT_LOCK_MEMORY),
        ),
        Some(ERROR_ACCESS_DENIED) => (Some("the process lacks the permission"), None),
        _ => (None, None),
    }
}

/// The process's (minimum, maximum) working-set sizes.
fn working_set_size() -> Option<(usize, usize)> {
    let (mut min, mut max) = (0usize, 0usize);
    // SAFETY: both are valid out-pointers; the pseudo-handle of the current process is always
    // valid and has PROCESS_QUERY_INFORMATION access.
    let ok = unsafe { GetProcessWorkingSetSize(GetCurrentProcess(), &mut min, &mut max) };
    (ok != 0).then_some((min, max))
}

/// The most `VirtualLock` allows: the minimum working-set size (Windows locks at most that, less
/// a few pages of overhead, and counts pages already locked against it).
pub(crate) fn memlock_limit() -> Limit {
    match working_set_size() {
        Some((min, _)) => Limit::Bytes(min as u64),
        None => Limit::Unknown,
    }
}

/// `None`: Windows has no capability that lifts the lock limit. (`SeLockMemoryPrivilege` is
/// about large pages and AWE; `VirtualLock` stays capped by the working set with it too.)
pub(crate) fn has_cap_ipc_lock() -> Option<bool> {
    None
}

/// `None`: Windows has no capabilities.
pub(crate) fn can_gain_cap_sys_resource() -> Option<bool> {
    None
}

pub(crate) fn lock(ptr: *mut u8, len: usize) -> Result<(), Error> {
    // SAFETY: VirtualLock reads and writes no memory; it pins the pages of [ptr, ptr+len), a
    // committed whole-page region the caller owns.
    if unsafe { VirtualLock(ptr.cast(), len) } != 0 {
        return Ok(());
    }
    let err = last_error();
    match err.raw_os_error() {
        Some(ERROR_WORKING_SET_QUOTA) => Err(Error::MemlockLimit {
            needed: len,
            limit: memlock_limit(),
            locked: 0,
        }),
        _ => Err(Error::os("VirtualLock", len, err)),
    }
}

pub(crate) fn unlock(ptr: *mut u8, len: usize) -> Result<(), Error> {
    // SAFETY: VirtualUnlock changes no memory; the range is the caller's whole-page region.
    if unsafe { VirtualUnlock(ptr.cast(), len) } != 0 {
        return Ok(());
    }
    let err = last_error();
    match err.raw_os_error() {
        // Pages that were not locked: as with munlock, there is nothing to undo.
        Some(ERROR_NOT_LOCKED) => Ok(()),
        _ => Err(Error::os("VirtualUnlock", len, err)),
    }
}

fn no_thp() -> Error {
    Error::unsupported(
        "MADV_COLLAPSE",
        "Windows has no transparent huge pages: allocate on large pages from the start (HugeTlb)",
    )
}

pub(crate) fn collapse(_: *mut u8, _: usize) -> Result<(), Error> {
    Err(no_thp())
}

/// Unsupported: the caller then touches every page, which commits and faults them in.
pub(crate) fn populate(_: *mut u8, _: usize) -> Result<(), Error> {
    Err(Error::unsupported(
        "MADV_POPULATE_WRITE",
        "Windows has no populate call (pages are touched instead)",
    ))
}

/// No transparent huge pages to ask for.
pub(crate) fn advise_hugepage(_: *mut u8, _: usize) {}

/// The large-page size (`GetLargePageMinimum`), or 0 when the system has none.
fn large_page_minimum() -> usize {
    // SAFETY: GetLargePageMinimum has no preconditions.
    unsafe { GetLargePageMinimum() }
}

/// Maps `len` bytes of large pages of `page` bytes, `len` a multiple of `page`.
pub(crate) fn map_huge(len: usize, page: usize) -> Result<NonNull<u8>, Error> {
    map_large(len, page, None)
}

/// Large pages, preferably on `node` when one is given (`VirtualAllocExNuma`).
fn map_large(len: usize, page: usize, node: Option<u32>) -> Result<NonNull<u8>, Error> {
    let large = large_page_minimum();
    if large == 0 || page != large {
        return Err(Error::unsupported(
            "large pages of this size",
            if large == 0 {
                "this system offers no large pages (GetLargePageMinimum returns 0)".to_string()
            } else {
                format!(
                    "Windows allocates large pages of {} KiB only (GetLargePageMinimum), not \
                     {} KiB",
                    large / 1024,
                    page / 1024
                )
            },
        ));
    }
    debug_assert!(len % page == 0);
    let mut result = map_raw(len, MEM_LARGE_PAGES, node);
    if matches!(&result, Err(e) if e.raw_os_error() == Some(ERROR_PRIVILEGE_NOT_HELD)) {
        // Held but not enabled (the usual state of a granted privilege): enable it, retry.
        if enable_lock_memory_privilege() {
            result = map_raw(len, MEM_LARGE_PAGES, node);
        }
    }
    result.map_err(|e| match e.raw_os_error() {
        Some(ERROR_PRIVILEGE_NOT_HELD) => Error::unsupported(
            "large-page memory",
            format!("SeLockMemoryPrivilege is not held (error 1314): {GRANT_LOCK_MEMORY}"),
        ),
        // The size is whole large pages and the flags are the documented ones: a system that
        // still calls them invalid does not implement large pages (wine 8 is one).
        Some(ERROR_INVALID_PARAMETER) => Error::unsupported(
            "large-page memory",
            format!(
                "VirtualAlloc refuses MEM_LARGE_PAGES for {len} bytes, whole {} KiB pages, as an \
                 invalid parameter (error 87)",
                page / 1024
            ),
        ),
        _ => Error::os("VirtualAlloc(MEM_LARGE_PAGES)", len, e),
    })
}

/// A fresh committed read-write allocation of `len` bytes with `extra` allocation flags,
/// preferably on `node` when one is given.
fn map_raw(len: usize, extra: u32, node: Option<u32>) -> io::Result<NonNull<u8>> {
    let kind = MEM_RESERVE | MEM_COMMIT | extra;
    // SAFETY: a fresh reservation at an address of the system's choosing touches no existing
    // memory; the current-process pseudo-handle is always valid.
    let p = unsafe {
        match node {
            Some(node) => VirtualAllocExNuma(
                GetCurrentProcess(),
                ptr::null_mut(),
                len,
                kind,
                PAGE_READWRITE,
                node,
            ),
            None => VirtualAlloc(ptr::null_mut(), len, kind, PAGE_READWRITE),
        }
    };
    NonNull::new(p.cast()).ok_or_else(last_error)
}

/// Enables SeLockMemoryPrivilege in the process token, once; whether it is enabled.
fn enable_lock_memory_privilege() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| {
        let name: Vec<u16> = "SeLockMemoryPrivilege\0".encode_utf16().collect();
        let mut luid = Luid::default();
        // SAFETY: `name` is NUL-terminated UTF-16 and `luid` a valid out-pointer; a null system
        // name means the local system.
        if unsafe { LookupPrivilegeValueW(ptr::null(), name.as_ptr(), &mut luid) } == 0 {
            return false;
        }
        let mut token: Handle = ptr::null_mut();
        // SAFETY: the current-process pseudo-handle is always valid; `token` is an out-pointer.
        let opened = unsafe {
            OpenProcessToken(
                GetCurrentProcess(),
                TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY,
                &mut token,
            )
        };
        if opened == 0 {
            return false;
        }
        let state = TokenPrivileges {
            privilege_count: 1,
            luid,
            attributes: SE_PRIVILEGE_ENABLED,
        };
        // SAFETY: `token` was opened above with TOKEN_ADJUST_PRIVILEGES; `state` is a valid
        // TOKEN_PRIVILEGES for one privilege; no previous state is asked for.
        let adjusted =
            unsafe { AdjustTokenPrivileges(token, 0, &state, 0, ptr::null_mut(), ptr::null_mut()) };
        // It "succeeds" without assigning a privilege the account lacks: check the last error.
        let enabled = adjusted != 0 && last_error().raw_os_error() != Some(ERROR_NOT_ALL_ASSIGNED);
        // SAFETY: `token` is a handle this function opened and closes once.
        unsafe { CloseHandle(token) };
        enabled
    })
}

/// Releases exactly the allocation `[ptr, ptr + len)` made by `map_huge` or `map_on_node`.
///
/// # Safety
/// The range must be a whole allocation from `map_huge` or `map_on_node`, no longer used by
/// anything.
pub(crate) unsafe fn unmap_huge(ptr: *mut u8, len: usize) {
    // SAFETY: per the caller, `ptr` starts an allocation of VirtualAlloc that nothing uses any
    // more; MEM_RELEASE frees all of it (the size must be 0).
    let ok = unsafe { VirtualFree(ptr.cast(), 0, MEM_RELEASE) };
    debug_assert!(
        ok != 0,
        "VirtualFree of a {len}-byte large-page region failed: {}",
        last_error()
    );
}

/// `None`: Windows keeps no pool of large pages; they come from free contiguous memory.
pub(crate) fn huge_pool(_: usize) -> Option<HugePagePool> {
    None
}

/// The large-page size, if the system has large pages.
pub(crate) fn huge_page_sizes() -> Vec<usize> {
    match large_page_minimum() {
        0 => Vec::new(),
        large => vec![large],
    }
}

/// There is no pool to grow: what makes large pages available instead.
pub(crate) fn huge_pool_fix(_: usize, _: usize) -> String {
    format!(
        "Windows has no huge-page pool: large pages come from free contiguous memory; \
         {GRANT_LOCK_MEMORY}"
    )
}

/// `None`: no pool, so no default one (`huge_page_sizes` has the large-page size).
pub(crate) fn default_huge_page_size() -> Option<usize> {
    None
}

pub(crate) fn thp_size() -> Option<usize> {
    None
}

pub(crate) fn thp_mode() -> Option<String> {
    None
}

/// Calls `visit(attributes)` for every base page of `[ptr, ptr + len)` that is resident in the
/// working set, per `QueryWorkingSetEx` (one entry per base page).
fn for_each_resident_page(
    ptr: *mut u8,
    len: usize,
    what: &'static str,
    mut visit: impl FnMut(usize),
) -> Result<(), Error> {
    const CHUNK: usize = 1024;
    let page = page_size();
    let start = ptr as usize & !(page - 1);
    let pages = (ptr as usize + len).div_ceil(page) - start / page;
    let mut entries = vec![
        WorkingSetExInformation {
            virtual_address: ptr::null_mut(),
            virtual_attributes: 0,
        };
        CHUNK.min(pages)
    ];
    let mut done = 0;
    while done < pages {
        let n = CHUNK.min(pages - done);
        for (i, e) in entries[..n].iter_mut().enumerate() {
            e.virtual_address = (start + (done + i) * page) as *mut c_void;
            e.virtual_attributes = 0;
        }
        let bytes = (n * size_of::<WorkingSetExInformation>()) as u32;
        // SAFETY: `entries` holds `n` initialised entries, `bytes` long in all; the call reads
        // their addresses and writes only their attributes. It reads no memory at the queried
        // addresses.
        if unsafe { K32QueryWorkingSetEx(GetCurrentProcess(), entries.as_mut_ptr().cast(), bytes) }
            == 0
        {
            return Err(Error::os(what, len, last_error()));
        }
        entries[..n]
            .iter()
            .filter(|e| e.virtual_attributes & WS_VALID != 0)
            .for_each(|e| visit(e.virtual_attributes));
        done += n;
    }
    Ok(())
}

/// Bytes of `[ptr, ptr + len)` resident in the working set with all of `bits` set, per
/// `QueryWorkingSetEx`.
fn working_set_bytes(
    ptr: *mut u8,
    len: usize,
    bits: usize,
    what: &'static str,
) -> Result<usize, Error> {
    let mut pages = 0;
    for_each_resident_page(ptr, len, what, |attributes| {
        if attributes & bits == bits {
            pages += 1;
        }
    })?;
    Ok((pages * page_size()).min(len))
}

/// Bytes of the range on large pages, per `QueryWorkingSetEx`.
pub(crate) fn huge_bytes(ptr: *mut u8, len: usize) -> Result<usize, Error> {
    working_set_bytes(ptr, len, WS_LARGE_PAGE, "QueryWorkingSetEx")
}

/// Bytes of the range locked by `VirtualLock`, per `QueryWorkingSetEx`.
pub(crate) fn locked_bytes(ptr: *mut u8, len: usize) -> Result<usize, Error> {
    working_set_bytes(ptr, len, WS_LOCKED, "QueryWorkingSetEx")
}

/// The NUMA nodes: 0 to `GetNumaHighestNodeNumber` (Windows numbers them densely).
pub(crate) fn numa_nodes_with_memory() -> Option<Vec<usize>> {
    let mut highest = 0u32;
    // SAFETY: `highest` is a valid out-pointer.
    if unsafe { GetNumaHighestNodeNumber(&mut highest) } == 0 {
        return None;
    }
    Some((0..=highest as usize).collect())
}

/// Every node: Windows has no per-process restriction like a cpuset's memory nodes.
pub(crate) fn numa_nodes_usable() -> Option<Vec<usize>> {
    numa_nodes_with_memory()
}

/// What Windows reports about `node`: its available memory (`GetNumaAvailableMemoryNodeEx`).
pub(crate) fn numa_node(node: usize) -> NumaNode {
    let mut free = 0u64;
    let known = u16::try_from(node).is_ok_and(|n| {
        // SAFETY: `free` is a valid out-pointer.
        unsafe { GetNumaAvailableMemoryNodeEx(n, &mut free) != 0 }
    });
    NumaNode {
        id: node,
        memory_total: None,
        memory_free: known.then(|| usize::try_from(free).unwrap_or(usize::MAX)),
        huge_pools: Vec::new(),
    }
}

/// Every node, as [`numa_node`] reports it.
pub(crate) fn numa_node_infos() -> Vec<NumaNode> {
    numa_nodes_with_memory()
        .unwrap_or_default()
        .into_iter()
        .map(numa_node)
        .collect()
}

/// `None`: Windows keeps no pools of large pages, per node or otherwise.
pub(crate) fn node_huge_pool(_: usize, _: usize) -> Option<NodeHugePool> {
    None
}

/// Why Windows cannot bind strictly.
fn no_strict_binding() -> Error {
    Error::unsupported(
        "a strict NUMA binding",
        "Windows places memory on a node by preference only: use numa_preferred(node)",
    )
}

/// Maps `len` bytes preferably on the node of `policy` (`VirtualAllocExNuma`), on large pages
/// of `huge_page` bytes when given. Windows places at allocation, so this always maps (or
/// fails).
pub(crate) fn map_on_node(
    len: usize,
    huge_page: Option<usize>,
    policy: NumaPolicy,
) -> Result<Option<NonNull<u8>>, Error> {
    let node = match policy {
        NumaPolicy::Preferred(node) => node,
        NumaPolicy::Bind(_) => return Err(no_strict_binding()),
    };
    let nodes = numa_nodes_usable().unwrap_or_default();
    let node32 = match u32::try_from(node) {
        Ok(n) if nodes.contains(&node) => n,
        _ => {
            return Err(Error::NodeUnavailable {
                node,
                nodes: nodes.into(),
            })
        }
    };
    match huge_page {
        Some(page) => map_large(len, page, Some(node32)).map(Some),
        None => map_raw(len, 0, Some(node32))
            .map(Some)
            .map_err(|e| Error::os("VirtualAllocExNuma", len, e)),
    }
}

/// Never reached: `map_on_node` places at allocation, so nothing is bound afterwards.
pub(crate) fn bind(_: *mut u8, _: usize, policy: NumaPolicy) -> Result<(), Error> {
    match policy {
        NumaPolicy::Bind(_) => Err(no_strict_binding()),
        NumaPolicy::Preferred(_) => Ok(()),
    }
}

/// Windows has no `fork`: memory is never shared with a child, so there is nothing to exclude
/// from one. Core dumps (Windows Error Reporting, minidumps) cannot be told to leave a range
/// out by the process.
pub(crate) fn exclude(_: *mut u8, _: usize, _fork: bool, dump: bool) -> Result<(), Error> {
    if dump {
        return Err(Error::unsupported(
            "leaving memory out of core dumps",
            "Windows has no MADV_DONTDUMP: a dump with memory includes every page asked for",
        ));
    }
    Ok(())
}

/// Bytes of the range per NUMA node, from the `Node` field of `QueryWorkingSetEx`.
pub(crate) fn numa_bytes(ptr: *mut u8, len: usize, _step: usize) -> Result<NumaBytes, Error> {
    let page = page_size();
    let mut per_node = [0usize; WS_NODE_MASK + 1];
    for_each_resident_page(ptr, len, "QueryWorkingSetEx", |attributes| {
        per_node[(attributes >> WS_NODE_SHIFT) & WS_NODE_MASK] += page;
    })?;
    Ok(NumaBytes::from_pairs(per_node.into_iter().enumerate()))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structures_match_the_win32_headers() {
        assert_eq!(size_of::<SystemInfo>(), 48);
        assert_eq!(size_of::<MemoryStatusEx>(), 64);
        assert_eq!(size_of::<WorkingSetExInformation>(), 16);
        assert_eq!(size_of::<TokenPrivileges>(), 16);
    }

    #[test]
    fn system_facts_are_sane() {
        assert!(page_size().is_power_of_two());
        assert!(crate::sys::physical_memory().is_some_and(|m| m >= page_size()));
        assert!(matches!(memlock_limit(), Limit::Bytes(b) if b > 0));
        for s in huge_page_sizes() {
            assert!(s.is_power_of_two() && s > page_size());
        }
    }

    #[test]
    fn unlocking_unlocked_pages_is_fine() {
        let mut buf = vec![0u8; 3 * page_size()];
        let page = page_size();
        let p = buf
            .as_mut_ptr()
            .wrapping_add(buf.as_ptr().align_offset(page));
        assert!(unlock(p, page).is_ok());
    }
}
