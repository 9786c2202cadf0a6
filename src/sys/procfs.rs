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

/// A `kB` field of /proc/self/status (`VmLck` ...), in bytes.
#[allow(dead_code)] // used by the mlock diagnosis (next commit)
pub(crate) fn status_bytes(field: &[u8]) -> Option<usize> {
    let status = fs::read("/proc/self/status").ok()?;
    status
        .split(|&b| b == b'\n')
        .find_map(|l| field_kb(l, field))
        .map(|kb| kb.saturating_mul(1024))
}

/// Whether the effective capability set holds CAP_IPC_LOCK (bit 14 of CapEff).
pub(crate) fn has_cap_ipc_lock() -> Option<bool> {
    let status = fs::read("/proc/self/status").ok()?;
    let hex_caps = status
        .split(|&b| b == b'\n')
        .find_map(|l| l.strip_prefix(b"CapEff:"))?
        .trim_ascii();
    let caps = u64::from_str_radix(std::str::from_utf8(hex_caps).ok()?, 16).ok()?;
    Some(caps & (1 << 14) != 0)
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
