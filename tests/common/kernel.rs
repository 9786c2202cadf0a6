//! Reading the kernel's own accounting, independently of the crate's code.
#![allow(dead_code)]

use std::fs;

/// A `kB` field of /proc/self/status (VmLck, VmRSS ...), in bytes.
pub fn status_bytes(field: &str) -> usize {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    let kb: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

/// Free and reserved pages of the hugetlb pool of `page` bytes, from sysfs.
pub fn huge_free_rsvd(page: usize) -> Option<(usize, usize)> {
    let dir = format!("/sys/kernel/mm/hugepages/hugepages-{}kB", page / 1024);
    let read = |f: &str| -> Option<usize> {
        fs::read_to_string(format!("{dir}/{f}"))
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    Some((read("free_hugepages")?, read("resv_hugepages")?))
}

/// `HugePages_Free` and `HugePages_Rsvd` of /proc/meminfo, and the page size they count
/// (`Hugepagesize`): the default pool's, 2 MiB on most hosts, 1 GiB on hosts booted with
/// `default_hugepagesz=1G`.
pub fn meminfo_huge() -> (usize, usize, usize) {
    let m = fs::read_to_string("/proc/meminfo").unwrap();
    let get = |k: &str| -> usize {
        m.lines()
            .find_map(|l| l.strip_prefix(k))
            .unwrap()
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .unwrap()
    };
    (
        get("HugePages_Free:"),
        get("HugePages_Rsvd:"),
        get("Hugepagesize:") * 1024,
    )
}

/// Minor page faults of the calling thread so far.
pub fn thread_minflt() -> i64 {
    // SAFETY: `ru` is a valid out-pointer.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) }, 0);
    ru.ru_minflt
}

/// Number of mappings in /proc/self/maps.
pub fn maps_count() -> usize {
    fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .count()
}

/// `AnonHugePages` (bytes) summed over the mappings in /proc/self/smaps that contain any
/// byte of `[addr, addr + len)`.
pub fn smaps_anon_huge(addr: usize, len: usize) -> usize {
    let smaps = fs::read_to_string("/proc/self/smaps").unwrap();
    let mut inside = false;
    let mut total = 0;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if let Some((lo, hi)) = first.split_once('-') {
            if let (Ok(lo), Ok(hi)) = (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
            {
                inside = lo < addr + len && addr < hi;
                continue;
            }
        }
        if inside {
            if let Some(rest) = line.strip_prefix("AnonHugePages:") {
                let kb: usize = rest.trim().trim_end_matches("kB").trim().parse().unwrap();
                total += kb * 1024;
            }
        }
    }
    total
}

/// Number of hugetlb mappings in this process (smaps entries whose `KernelPageSize` is larger
/// than the base page: THP does not change it, hugetlb sets it to the huge page size). Unlike
/// the total count of mappings, other threads' allocator arenas do not move it.
pub fn hugetlb_mappings() -> usize {
    let base = format!(" {} kB", page_size() / 1024);
    fs::read_to_string("/proc/self/smaps")
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("KernelPageSize:") && !l.trim_end().ends_with(&base))
        .count()
}

/// The base page size, from the kernel (4 KiB on x86-64; 4, 16 or 64 KiB on ARM).
pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    assert!(page > 0, "sysconf(_SC_PAGESIZE) failed");
    page as usize
}

/// The size of a transparent huge page (`hpage_pmd_size`): 2 MiB with 4 KiB pages, 32 MiB
/// with 16 KiB pages, 512 MiB with 64 KiB pages.
pub fn thp_size() -> usize {
    fs::read_to_string("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(2 << 20)
}
