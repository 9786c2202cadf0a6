//! What Linux says about this process's memory, read from /proc: mappings and their flags
//! (`/proc/self/smaps`), the page tables (`/proc/self/pagemap`), the process status
//! (`/proc/self/status`), the mapping limit (`/proc/sys/vm/max_map_count`).
//!
//! Every report is read as bytes. Only the numbers and flags are parsed, and those are ASCII;
//! a mapped file's path or the process name around them may hold any byte (a path that is not
//! UTF-8 once made every smaps read fail).

use std::fs;
use std::io::{self, BufRead, BufReader};
use std::os::unix::fs::FileExt;

use crate::info::Bytes;
use crate::Error;

/// One mapping of /proc/self/smaps, as far as the callers here need it.
pub(crate) struct Vma {
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// The sum of the fields asked for, in bytes.
    pub(crate) sum: usize,
    /// The two-letter `VmFlags:` mnemonics (`lo` locked, `nh` no huge pages, `ht` hugetlb ...).
    flags: Vec<[u8; 2]>,
}

impl Vma {
    pub(crate) fn has(&self, flag: &[u8; 2]) -> bool {
        self.flags.contains(flag)
    }

    /// Bytes this mapping shares with `[start, end)`.
    fn overlap(&self, start: usize, end: usize) -> usize {
        self.end.min(end).saturating_sub(self.start.max(start))
    }
}

/// The mappings of /proc/self/smaps that share a byte with `[start, end)`, in address order,
/// with the sum of `fields` (in kB there; bytes here) for each.
pub(crate) fn smaps_over(start: usize, end: usize, fields: &[&[u8]]) -> io::Result<Vec<Vma>> {
    let mut reader = BufReader::new(fs::File::open("/proc/self/smaps")?);
    let mut line = Vec::with_capacity(256);
    let mut out: Vec<Vma> = Vec::new();
    let mut inside = false;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(out);
        }
        let line = line.strip_suffix(b"\n").unwrap_or(&line);
        if let Some((lo, hi)) = mapping_range(line) {
            inside = lo < end && start < hi;
            if inside {
                // A mapping that changed while the file was read can be listed again (each
                // read resumes at an address): the later listing wins.
                out.retain(|v| v.end <= lo || hi <= v.start);
                out.push(Vma {
                    start: lo,
                    end: hi,
                    sum: 0,
                    flags: Vec::new(),
                });
            }
        } else if inside {
            let vma = out.last_mut().expect("inside a mapping that was pushed");
            if let Some(rest) = line.strip_prefix(b"VmFlags:") {
                vma.flags = rest
                    .split(u8::is_ascii_whitespace)
                    .filter_map(|f| f.try_into().ok())
                    .collect();
            } else if let Some(kb) = fields.iter().find_map(|f| field_kb(line, f)) {
                vma.sum += kb.saturating_mul(1024);
            }
        }
    }
}

/// `Some((start, end))` when `line` heads a mapping ("7f..-7f.. rw-p ...").
pub(crate) fn mapping_range(line: &[u8]) -> Option<(usize, usize)> {
    let range = line.split(|&b| b == b' ').next()?;
    let dash = range.iter().position(|&b| b == b'-')?;
    Some((hex(&range[..dash])?, hex(&range[dash + 1..])?))
}

/// The number of a `Field:   123 kB` line, when the line is that field.
pub(crate) fn field_kb(line: &[u8], field: &[u8]) -> Option<usize> {
    let rest = line.strip_prefix(field)?.trim_ascii();
    decimal(rest.strip_suffix(b"kB")?.trim_ascii())
}

fn hex(digits: &[u8]) -> Option<usize> {
    usize::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
}

fn decimal(digits: &[u8]) -> Option<usize> {
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Sums the given smaps fields over the mappings that overlap `[ptr, ptr + len)`, each
/// mapping counted at most for the bytes it shares with the range.
pub(crate) fn smaps_sum(ptr: *mut u8, len: usize, fields: &[&[u8]]) -> Result<usize, Error> {
    let (start, end) = range(ptr, len);
    let vmas = smaps_over(start, end, fields).map_err(|e| Error::os("read smaps", len, e))?;
    Ok(vmas.iter().map(|v| v.sum.min(v.overlap(start, end))).sum())
}

fn range(ptr: *mut u8, len: usize) -> (usize, usize) {
    let start = ptr as usize;
    (start, start.saturating_add(len))
}

/// Bytes of `[ptr, ptr + len)` that the kernel keeps locked in RAM: the resident pages of the
/// range (present in this process's page tables, per /proc/self/pagemap) inside mappings the
/// kernel has marked locked (`lo` in smaps' `VmFlags`, set by `mlock`/`mlockall`).
///
/// smaps' own `Locked:` will not do: it divides a page shared with other mappings (a forked
/// child, a second mapping of shared memory) among them, so a locked page mapped twice counts
/// half. A locked mapping's pages are locked whoever else maps them. Hugetlb mappings are never
/// marked locked (their pages cannot be swapped anyway), so they count 0.
pub(crate) fn locked_bytes(ptr: *mut u8, len: usize) -> Result<usize, Error> {
    let (start, end) = range(ptr, len);
    let vmas = smaps_over(start, end, &[]).map_err(|e| Error::os("read smaps", len, e))?;
    let mut total = 0;
    for v in vmas.iter().filter(|v| v.has(b"lo")) {
        total += resident_bytes(v.start.max(start), v.end.min(end))
            .map_err(|e| Error::os("read /proc/self/pagemap", len, e))?;
    }
    Ok(total)
}

/// Bytes of `[start, end)` on pages present in this process's page tables (bit 63 of each
/// page's /proc/self/pagemap entry; the entry is readable without privilege).
fn resident_bytes(start: usize, end: usize) -> io::Result<usize> {
    if start >= end {
        return Ok(0);
    }
    let page = super::page_size();
    let pagemap = fs::File::open("/proc/self/pagemap")?;
    let (first, last) = (start / page, (end - 1) / page);
    let mut buf = [0u8; 8 * 512];
    let mut total = 0;
    let mut p = first;
    while p <= last {
        let n = (last - p + 1).min(512);
        pagemap.read_exact_at(&mut buf[..n * 8], (p * 8) as u64)?;
        for (i, entry) in buf[..n * 8].chunks_exact(8).enumerate() {
            let entry = u64::from_ne_bytes(entry.try_into().expect("8 bytes"));
            if entry >> 63 == 1 {
                let lo = (p + i) * page;
                total += (lo + page).min(end) - lo.max(start);
            }
        }
        p += n;
    }
    Ok(total)
}

/// The value of field `field` (`VmLck:`, `CapBnd:` ...) of /proc/self/status, trimmed.
pub(crate) fn status_value(field: &[u8]) -> Option<Vec<u8>> {
    let status = fs::read("/proc/self/status").ok()?;
    let value = status
        .split(|&b| b == b'\n')
        .find_map(|l| l.strip_prefix(field))?;
    Some(value.trim_ascii().to_vec())
}

/// A `kB` field of /proc/self/status (`VmLck` ...), in bytes.
pub(crate) fn status_bytes(field: &[u8]) -> Option<usize> {
    let value = status_value(field)?;
    let kb = decimal(value.strip_suffix(b"kB")?.trim_ascii())?;
    Some(kb.saturating_mul(1024))
}

/// Bit `bit` of the capability set `field` (`CapEff:`, `CapBnd:` ...) of /proc/self/status.
fn capability(field: &[u8], bit: u32) -> Option<bool> {
    // 64 bits on every target (CapBnd is 0x000001ff... where capabilities go past bit 31).
    let caps = u64::from_str_radix(std::str::from_utf8(&status_value(field)?).ok()?, 16).ok()?;
    Some(caps & (1 << bit) != 0)
}

/// Whether the effective capability set holds CAP_IPC_LOCK (bit 14 of CapEff).
pub(crate) fn has_cap_ipc_lock() -> Option<bool> {
    capability(b"CapEff:", 14)
}

/// Whether CAP_SYS_RESOURCE (bit 24), which raising a hard limit needs, is in the bounding set:
/// `false` in a container that withholds it, where no process, `sudo` included, can raise
/// `RLIMIT_MEMLOCK` past its hard limit.
pub(crate) fn can_gain_cap_sys_resource() -> Option<bool> {
    capability(b"CapBnd:", 24)
}

/// Why `mlock` of `[ptr, ptr + len)` failed with `ENOMEM`, told apart as far as the kernel's
/// reports allow, in the order the kernel checks: the memlock limit (already-locked memory plus
/// this range, against `RLIMIT_MEMLOCK`, unless CAP_IPC_LOCK lifts it), a hole in the range,
/// the mapping count (`vm.max_map_count`: locking part of a mapping splits it).
pub(crate) fn mlock_enomem(ptr: *mut u8, len: usize, err: io::Error) -> Error {
    let (start, end) = range(ptr, len);
    let cap = has_cap_ipc_lock();
    let limit = super::memlock_limit();
    let locked = status_bytes(b"VmLck:");
    let over_limit = |l: u64| {
        // The kernel counts the range's pages already in locked mappings only once.
        let already: usize = smaps_over(start, end, &[]).map_or(0, |vmas| {
            vmas.iter()
                .filter(|v| v.has(b"lo"))
                .map(|v| v.overlap(start, end))
                .sum()
        });
        locked
            .unwrap_or(0)
            .saturating_add(len)
            .saturating_sub(already) as u64
            > l
    };
    let limit_error = || Error::MemlockLimit {
        needed: len,
        limit,
        locked: locked.unwrap_or(0),
    };
    if cap != Some(true) {
        if let crate::system::Limit::Bytes(l) = limit {
            if over_limit(l) {
                return limit_error();
            }
        }
    }
    if let Ok(maps) = fs::read("/proc/self/maps") {
        let (mut mapped, mut count) = (0, 0);
        for line in maps.split(|&b| b == b'\n') {
            if let Some((lo, hi)) = mapping_range(line) {
                // The vsyscall page is listed but is no mapping of the process's own.
                if !line.ends_with(b"[vsyscall]") {
                    count += 1;
                }
                mapped += hi.min(end).saturating_sub(lo.max(start));
            }
        }
        if mapped < end - start {
            // The message of an `mlock` ENOMEM says so.
            return Error::os("mlock", len, err);
        }
        let max = fs::read("/proc/sys/vm/max_map_count")
            .ok()
            .and_then(|m| decimal(m.trim_ascii()));
        if let Some(max) = max {
            if count + 2 > max {
                return Error::MapCountLimit {
                    mappings: count,
                    max,
                };
            }
        }
    }
    if cap == Some(true) {
        Error::os("mlock", len, err)
    } else {
        limit_error()
    }
}

/// The PMD-level transparent huge page size (2 MiB on x86-64).
fn pmd_size() -> usize {
    super::thp_size().unwrap_or(2 << 20)
}

/// Refuses, before asking the kernel, a region that holds no PMD-aligned PMD-sized stretch:
/// only such stretches can be collapsed, and the kernel's EINVAL for them names no cause.
pub(crate) fn collapse_check(ptr: *mut u8, len: usize) -> Result<(), Error> {
    let pmd = pmd_size();
    let (start, end) = range(ptr, len);
    match start.checked_next_multiple_of(pmd) {
        Some(first) if first.saturating_add(pmd) <= end => Ok(()),
        _ => Err(Error::unsupported(
            "MADV_COLLAPSE",
            format!(
                "the region ({len} bytes at {ptr:p}) holds no {} stretch aligned to {}: allocate \
                 {} or more with Mmap, which aligns it",
                Bytes(pmd),
                Bytes(pmd),
                Bytes(pmd),
            ),
        )),
    }
}

/// The kernel release, e.g. "6.18.44", and its (major, minor).
fn kernel_release() -> (String, Option<(u32, u32)>) {
    let release = fs::read("/proc/sys/kernel/osrelease").unwrap_or_default();
    let release = String::from_utf8_lossy(release.trim_ascii()).into_owned();
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let version = (|| Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?)))();
    (release, version)
}

/// Why the kernel refused `MADV_COLLAPSE` of `[ptr, ptr + len)` with EINVAL: the first cause
/// found of those the kernel checks — no MADV_COLLAPSE before Linux 6.1, THP `never`, THP
/// disabled for the process (`prctl`), the range advised `MADV_NOHUGEPAGE`, hugetlb pages.
pub(crate) fn collapse_refused(ptr: *mut u8, len: usize) -> Error {
    let (release, version) = kernel_release();
    let mode = super::thp_mode();
    let (start, end) = range(ptr, len);
    let vmas = smaps_over(start, end, &[]).unwrap_or_default();
    // SAFETY: PR_GET_THP_DISABLE reads a process flag; no pointer is passed.
    let thp_disabled = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) } > 0;
    let reason = if version.is_some_and(|v| v < (6, 1)) {
        format!("it needs Linux 6.1 or later, and this kernel is {release}")
    } else if mode.as_deref() == Some("never") {
        return Error::ThpDisabled { process: false };
    } else if thp_disabled {
        return Error::ThpDisabled { process: true };
    } else if vmas.iter().any(|v| v.has(b"nh")) {
        "the region is advised MADV_NOHUGEPAGE (`nh` in its VmFlags), which MADV_COLLAPSE \
         respects"
            .to_string()
    } else if vmas.iter().any(|v| v.has(b"ht")) {
        "the region is on hugetlb pages, which are huge already".to_string()
    } else {
        format!(
            "the kernel refused it (EINVAL) for {len} bytes at {ptr:p} on Linux {release} with \
             THP `{}`: transparent huge pages cover anonymous memory, shmem and files only",
            mode.as_deref().unwrap_or("unknown")
        )
    };
    Error::unsupported("MADV_COLLAPSE", reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr;

    #[test]
    fn smaps_lines_parse_as_bytes() {
        assert_eq!(
            mapping_range(b"7f0000000000-7f0000200000 rw-p 00000000 00:00 0 /tmp/\xff"),
            Some((0x7f00_0000_0000, 0x7f00_0020_0000))
        );
        assert_eq!(mapping_range(b"AnonHugePages:      2048 kB"), None);
        assert_eq!(mapping_range(b"\xff-\xfe rw-p"), None);
        assert_eq!(
            field_kb(b"AnonHugePages:      2048 kB", b"AnonHugePages:"),
            Some(2048)
        );
        assert_eq!(field_kb(b"Locked:  4 kB", b"AnonHugePages:"), None);
        assert_eq!(field_kb(b"Locked:  \xff kB", b"Locked:"), None);
    }

    /// The smaps fallback of `huge_bytes` (kernels before 6.7) and `locked_bytes` must read
    /// past a mapped file whose path is not UTF-8.
    #[test]
    fn smaps_fallback_reads_past_a_non_utf8_path() {
        use std::os::fd::AsRawFd;
        use std::os::unix::ffi::OsStrExt;
        let dir = std::env::temp_dir().join(format!("nexus-slab-unit-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join(std::ffi::OsStr::from_bytes(b"map-\xff.bin"));
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        file.set_len(4096).unwrap();
        // SAFETY: a fresh read-only shared mapping of our own file; nothing reads it.
        let odd = unsafe {
            libc::mmap(
                ptr::null_mut(),
                4096,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        assert_ne!(odd, libc::MAP_FAILED);
        let smaps_is_utf8 = std::str::from_utf8(&fs::read("/proc/self/smaps").unwrap()).is_ok();
        let mut buf = vec![0u8; 1 << 16];
        let huge = smaps_sum(
            buf.as_mut_ptr(),
            buf.len(),
            &[b"AnonHugePages:", b"Private_Hugetlb:"],
        );
        let locked = locked_bytes(buf.as_mut_ptr(), buf.len());
        // SAFETY: the mapping made above, used by nothing.
        unsafe { libc::munmap(odd, 4096) };
        fs::remove_dir_all(&dir).unwrap();
        assert!(!smaps_is_utf8, "the path should make smaps invalid UTF-8");
        assert_eq!(
            huge.unwrap(),
            0,
            "a heap buffer of 64 KiB is on no huge page"
        );
        assert_eq!(locked.unwrap(), 0, "and not locked");
    }
}
