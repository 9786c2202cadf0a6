//! Reading the kernel's own accounting, independently of the crate's code.
#![allow(dead_code)]

use std::fs;

/// A /proc file as text. Read as bytes: a path or process name in it may be any bytes, and the
/// lines the tests read are ASCII either way.
pub fn proc_text(path: &str) -> String {
    String::from_utf8_lossy(&fs::read(path).unwrap()).into_owned()
}

/// A `kB` field of /proc/self/status (VmLck, VmRSS ...), in bytes.
pub fn status_bytes(field: &str) -> usize {
    let status = proc_text("/proc/self/status");
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
    proc_text("/proc/self/maps").lines().count()
}

/// `AnonHugePages` (bytes) summed over the mappings in /proc/self/smaps that contain any
/// byte of `[addr, addr + len)`.
pub fn smaps_anon_huge(addr: usize, len: usize) -> usize {
    let smaps = proc_text("/proc/self/smaps");
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
    proc_text("/proc/self/smaps")
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

/// One mapping of /proc/self/smaps.
#[derive(Clone, Debug, Default)]
pub struct Vma {
    pub start: usize,
    pub end: usize,
    /// `Rss:` in bytes: every resident page, shared or not.
    pub rss: usize,
    /// `Locked:` in bytes: as the kernel reports it (proportional for shared pages).
    pub locked: usize,
    /// The two-letter `VmFlags:` (`lo` = locked, `nh` = no huge pages ...).
    pub flags: Vec<String>,
}

/// The mappings of /proc/self/smaps that share a byte with `[addr, addr + len)`.
pub fn smaps_vmas(addr: usize, len: usize) -> Vec<Vma> {
    let mut out: Vec<Vma> = Vec::new();
    let mut inside = false;
    for line in proc_text("/proc/self/smaps").lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if let Some((lo, hi)) = first.split_once('-') {
            if let (Ok(lo), Ok(hi)) = (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
            {
                inside = lo < addr + len && addr < hi;
                if inside {
                    // A mapping that changed while the file was read can be listed twice
                    // (the kernel resumes each read at an address): keep the later listing.
                    out.retain(|v| v.end <= lo || hi <= v.start);
                    out.push(Vma {
                        start: lo,
                        end: hi,
                        ..Vma::default()
                    });
                }
                continue;
            }
        }
        if !inside {
            continue;
        }
        let vma = out.last_mut().unwrap();
        let kb = |rest: &str| -> usize {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<usize>()
                .unwrap()
                * 1024
        };
        if let Some(rest) = line.strip_prefix("Rss:") {
            vma.rss = kb(rest);
        } else if let Some(rest) = line.strip_prefix("Locked:") {
            vma.locked = kb(rest);
        } else if let Some(rest) = line.strip_prefix("VmFlags:") {
            vma.flags = rest.split_whitespace().map(str::to_string).collect();
        }
    }
    out
}

/// Bytes of `[addr, addr + len)` (whole pages) whose page is present in this process's page
/// tables, from /proc/self/pagemap (bit 63 of each page's entry).
pub fn pagemap_present(addr: usize, len: usize) -> usize {
    use std::os::unix::fs::FileExt;
    let page = page_size();
    assert!(addr % page == 0 && len % page == 0);
    let f = fs::File::open("/proc/self/pagemap").unwrap();
    let mut buf = vec![0u8; len / page * 8];
    f.read_exact_at(&mut buf, (addr / page * 8) as u64).unwrap();
    buf.chunks_exact(8)
        .filter(|e| u64::from_ne_bytes((*e).try_into().unwrap()) >> 63 == 1)
        .count()
        * page
}

/// Runs this very test again in a child process (the test binary, filtered to `test`, with
/// `env` set), and fails unless the child passed. The child sees `env` and does the work; the
/// parent only judges. For process-wide changes (mlockall, prctl, thousands of mappings) that
/// must not touch the other tests of the binary.
pub fn run_in_child(test: &str, env: &str) {
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(env, "1")
        .output()
        .expect("spawn the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    print!("{stdout}");
    eprint!("{stderr}");
    assert!(out.status.success(), "the child failed: {}", out.status);
    assert!(
        stdout.contains("1 passed"),
        "the child did not run {test}: {stdout}"
    );
}

/// Whether this process is the child of [`run_in_child`] for `env`.
pub fn in_child(env: &str) -> bool {
    std::env::var_os(env).is_some()
}
