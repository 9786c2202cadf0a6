//! Linux-only calls: hugetlb mappings, huge-page pools, THP mode, and what the kernel says
//! about a range (pages on huge pages, pages locked).

use std::fs;
use std::io;
use std::os::fd::AsRawFd;
use std::ptr::{self, NonNull};

use crate::info::HugePagePool;
use crate::Error;

/// Maps `len` bytes of private hugetlb memory on pages of `page` bytes. `len` must be a
/// multiple of `page`, so the whole mapping can be unmapped again (memmap2 #156).
pub(crate) fn map_huge(len: usize, page: usize) -> Result<NonNull<u8>, Error> {
    let Some(pool) = huge_pool(page) else {
        let offered = huge_page_sizes()
            .iter()
            .map(|&s| crate::error::Size(s).to_string())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(Error::unsupported(
            "hugetlb pages of this size",
            format!(
                "the kernel has no pool of {} pages (sizes offered: {}){}",
                crate::error::Size(page),
                if offered.is_empty() { "none" } else { &offered },
                if page == 1 << 30 {
                    "; 1 GiB pages need a CPU with pdpe1gb"
                } else {
                    ""
                }
            ),
        ));
    };
    map_huge_raw(len, page).map_err(|e| match e.raw_os_error() {
        Some(libc::ENOMEM) => Error::HugePagesUnavailable {
            needed: len / page,
            free: pool.free.saturating_sub(pool.reserved),
            total: pool.total,
            page_size: crate::backing::HugePageSize::new(page).expect("a pool's page size"),
        },
        _ => Error::os("mmap(MAP_HUGETLB)", len, e),
    })
}

fn map_huge_raw(len: usize, page: usize) -> io::Result<NonNull<u8>> {
    debug_assert!(page.is_power_of_two() && len % page == 0);
    let shift = page.trailing_zeros() as libc::c_int;
    // No MAP_NORESERVE: a private hugetlb mapping then reserves its pages now, so a shortage
    // fails here with ENOMEM instead of a SIGBUS at first touch.
    let flags = libc::MAP_PRIVATE
        | libc::MAP_ANONYMOUS
        | libc::MAP_HUGETLB
        | (shift << libc::MAP_HUGE_SHIFT);
    // SAFETY: an anonymous mapping at an address of the kernel's choosing touches no
    // existing memory.
    let p = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            flags,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        Err(io::Error::last_os_error())
    } else {
        NonNull::new(p.cast()).ok_or_else(|| io::Error::other("mmap returned null"))
    }
}

/// Unmaps exactly the hugetlb mapping `[ptr, ptr + len)` made by `map_huge`.
///
/// # Safety
/// The range must be a whole mapping from `map_huge`, no longer used by anything.
pub(crate) unsafe fn unmap_huge(ptr: *mut u8, len: usize) {
    // SAFETY: per the caller, nothing uses the range any more.
    let rc = unsafe { libc::munmap(ptr.cast(), len) };
    // Cannot fail for a whole mapping of whole huge pages; if it ever did, the pages would
    // leak, and a debug build should say so loudly.
    debug_assert_eq!(
        rc,
        0,
        "munmap of a hugetlb region failed: {}",
        io::Error::last_os_error()
    );
}

/// `MADV_COLLAPSE` of include/uapi/asm-generic/mman-common.h (Linux 6.1): the `libc` crate
/// defines it for glibc only, and musl builds need it too.
const MADV_COLLAPSE: libc::c_int = 25;

pub(crate) fn collapse(ptr: *mut u8, len: usize) -> Result<(), Error> {
    // SAFETY: MADV_COLLAPSE keeps the contents; the range is the caller's whole-page region.
    if unsafe { libc::madvise(ptr.cast(), len, MADV_COLLAPSE) } == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EINVAL) => Err(super::procfs::collapse_refused(ptr, len)),
        // EAGAIN, ENOMEM: no free huge page; the message says how to compact memory.
        _ => Err(Error::os("madvise(MADV_COLLAPSE)", len, err)),
    }
}

pub(crate) fn populate(ptr: *mut u8, len: usize) -> Result<(), Error> {
    // SAFETY: MADV_POPULATE_WRITE faults the pages in writable without changing contents;
    // the range is the caller's whole-page region.
    if unsafe { libc::madvise(ptr.cast(), len, libc::MADV_POPULATE_WRITE) } == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EINVAL) => Err(Error::unsupported(
            "MADV_POPULATE_WRITE",
            "it needs Linux 5.14 or later",
        )),
        _ => Err(Error::os("madvise(MADV_POPULATE_WRITE)", len, err)),
    }
}

/// Asks for transparent huge pages on the range (a hint: errors are ignored).
pub(crate) fn advise_hugepage(ptr: *mut u8, len: usize) {
    // SAFETY: MADV_HUGEPAGE only sets a flag on the range, which the caller owns.
    unsafe { libc::madvise(ptr.cast(), len, libc::MADV_HUGEPAGE) };
}

fn pool_dir(page: usize) -> String {
    format!("/sys/kernel/mm/hugepages/hugepages-{}kB", page / 1024)
}

fn read_number(path: &str) -> Option<usize> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The hugetlb pool of `page`-byte pages, if the kernel has one.
pub(crate) fn huge_pool(page: usize) -> Option<HugePagePool> {
    let dir = pool_dir(page);
    Some(HugePagePool {
        page_size: page,
        total: read_number(&format!("{dir}/nr_hugepages"))?,
        free: read_number(&format!("{dir}/free_hugepages"))?,
        reserved: read_number(&format!("{dir}/resv_hugepages"))?,
        surplus: read_number(&format!("{dir}/surplus_hugepages")).unwrap_or(0),
    })
}

/// Every hugetlb page size the kernel offers, ascending.
pub(crate) fn huge_page_sizes() -> Vec<usize> {
    page_sizes_in("/sys/kernel/mm/hugepages")
}

/// The page sizes of the `hugepages-<N>kB` pools in `dir` (the machine's, or a NUMA node's),
/// ascending; none if `dir` cannot be read.
pub(crate) fn page_sizes_in(dir: &str) -> Vec<usize> {
    let mut sizes: Vec<usize> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let kb: usize = name
                .strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse()
                .ok()?;
            Some(kb * 1024)
        })
        .collect();
    sizes.sort_unstable();
    sizes
}

/// The command that grows the pool of `page`-byte pages to `total` pages. It names the pool's
/// own file: /proc/sys/vm/nr_hugepages sizes the default pool, which is 1 GiB on hosts booted
/// with `default_hugepagesz=1G`. And it pipes into `sudo tee`, since in `sudo echo N > file`
/// the redirection runs without privilege.
pub(crate) fn huge_pool_fix(page: usize, total: usize) -> String {
    crate::error::pool_command(None, page, total)
}

/// A `kB` field of /proc/meminfo (`field` with its colon, e.g. `"MemAvailable:"`), in bytes.
fn meminfo_bytes(field: &str) -> Option<usize> {
    let meminfo = fs::read_to_string("/proc/meminfo").ok()?;
    let kb: usize = meminfo
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()?;
    Some(kb.saturating_mul(1024))
}

/// The default huge page size (`Hugepagesize` in /proc/meminfo, whose `HugePages_*` lines
/// count that pool alone).
pub(crate) fn default_huge_page_size() -> Option<usize> {
    meminfo_bytes("Hugepagesize:")
}

/// Memory available for new allocations without swapping, now (`MemAvailable` in
/// /proc/meminfo, Linux 3.14+: free memory plus the page cache and slab the kernel can
/// reclaim). Huge pages in hugetlb pools are not part of it.
#[cfg_attr(not(feature = "serde"), allow(dead_code))] // read by restores only
pub(crate) fn available_memory() -> Option<usize> {
    meminfo_bytes("MemAvailable:")
}

/// The PMD-level transparent huge page size, from
/// /sys/kernel/mm/transparent_hugepage/hpage_pmd_size (2 MiB on x86-64; 512 MiB on arm64 with
/// 64 KiB base pages, 32 MiB with 16 KiB ones); `None` without THP.
pub(crate) fn thp_size() -> Option<usize> {
    let s = fs::read_to_string("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size").ok()?;
    s.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| n.is_power_of_two())
}

/// The transparent-huge-page mode: the bracketed word of
/// /sys/kernel/mm/transparent_hugepage/enabled.
pub(crate) fn thp_mode() -> Option<String> {
    let s = fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").ok()?;
    let start = s.find('[')? + 1;
    let end = s[start..].find(']')? + start;
    Some(s[start..end].to_string())
}

// PAGEMAP_SCAN (Linux 6.7+, linux/fs.h): which pages of a range are huge, exactly.
const PAGE_IS_HUGE: u64 = 1 << 6;
/// `_IOWR('f', 16, struct pm_scan_arg)`.
const PAGEMAP_SCAN: u64 = (3 << 30) | ((size_of::<PmScanArg>() as u64) << 16) | (0x66 << 8) | 16;

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct PageRegion {
    start: u64,
    end: u64,
    categories: u64,
}

#[repr(C)]
struct PmScanArg {
    size: u64,
    flags: u64,
    start: u64,
    end: u64,
    walk_end: u64,
    vec: u64,
    vec_len: u64,
    max_pages: u64,
    category_inverted: u64,
    category_mask: u64,
    category_anyof_mask: u64,
    return_mask: u64,
}

/// Bytes of `[ptr, ptr + len)` mapped by huge pages (transparent or hugetlb), per the
/// kernel's page tables; falls back to /proc/self/smaps on kernels before 6.7.
pub(crate) fn huge_bytes(ptr: *mut u8, len: usize) -> Result<usize, Error> {
    let start = ptr as usize as u64;
    match pagemap_scan_huge(start, start + len as u64) {
        Ok(bytes) => Ok(bytes),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTTY) | Some(libc::EINVAL)) => {
            super::procfs::smaps_sum(
                ptr,
                len,
                &[b"AnonHugePages:", b"Private_Hugetlb:", b"Shared_Hugetlb:"],
            )
        }
        Err(e) => Err(Error::os("ioctl(PAGEMAP_SCAN)", len, e)),
    }
}

fn pagemap_scan_huge(start: u64, end: u64) -> io::Result<usize> {
    let pagemap = fs::File::open("/proc/self/pagemap")?;
    let mut regions = [PageRegion::default(); 32];
    let mut total = 0u64;
    let mut at = start;
    while at < end {
        let mut arg = PmScanArg {
            size: size_of::<PmScanArg>() as u64,
            flags: 0,
            start: at,
            end,
            walk_end: 0,
            vec: regions.as_mut_ptr() as usize as u64,
            vec_len: regions.len() as u64,
            max_pages: 0,
            category_inverted: 0,
            category_mask: PAGE_IS_HUGE,
            category_anyof_mask: 0,
            return_mask: PAGE_IS_HUGE,
        };
        // SAFETY: `arg` is a valid pm_scan_arg whose `vec` points at `regions`, writable for
        // `vec_len` entries; the kernel writes nothing else.
        let n = unsafe { libc::ioctl(pagemap.as_raw_fd(), PAGEMAP_SCAN as _, &mut arg) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        total += regions[..n as usize]
            .iter()
            .map(|r| r.end - r.start)
            .sum::<u64>();
        if arg.walk_end <= at {
            break;
        }
        at = arg.walk_end;
    }
    Ok(total as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The THP size is the kernel's PMD size: a power of two above the base page, and (a
    /// second witness) the size `AnonHugePages` and `Hugepagesize` pools are counted in on
    /// x86-64, where it is 2 MiB.
    #[test]
    fn thp_size_is_the_kernels_pmd_size() {
        let file = std::path::Path::new("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size");
        match thp_size() {
            Some(n) => {
                assert!(n.is_power_of_two() && n > crate::sys::page_size());
                if cfg!(target_arch = "x86_64") {
                    assert_eq!(n, 2 << 20);
                }
            }
            None => assert!(!file.exists(), "the kernel has THP, but it was not read"),
        }
    }

    #[test]
    fn pagemap_scan_request_matches_the_kernel_header() {
        assert_eq!(size_of::<PmScanArg>(), 96);
        assert_eq!(PAGEMAP_SCAN, 0xc060_6610);
    }
}
