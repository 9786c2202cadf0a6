//! Linux and other Unix systems: mlock, madvise, and (Linux) huge pages.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::Error;

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
pub(crate) fn physical_memory() -> Option<usize> {
    // SAFETY: sysconf has no preconditions.
    let pages = unsafe { libc::sysconf(libc::_SC_PHYS_PAGES) };
    (pages > 0).then(|| (pages as usize).saturating_mul(page_size()))
}

/// What to add to an OS error's message.
pub(crate) fn hint_for(err: &io::Error) -> &'static str {
    match err.raw_os_error() {
        Some(libc::ENOMEM) => {
            "; not enough memory or address space: check free memory, `ulimit -v`, and \
             vm.overcommit_memory (/proc/sys/vm/overcommit_memory)"
        }
        Some(libc::EPERM) | Some(libc::EACCES) => "; the process lacks the permission",
        _ => "",
    }
}

fn errno() -> io::Error {
    io::Error::last_os_error()
}

/// The soft `RLIMIT_MEMLOCK`, as text for messages.
pub(crate) fn memlock_limit_text() -> String {
    match memlock_limit() {
        None => "unlimited".to_string(),
        Some(b) => format!("{b} bytes ({} KiB)", b / 1024),
    }
}

/// The soft `RLIMIT_MEMLOCK` in bytes, `None` when unlimited.
pub(crate) fn memlock_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid out-pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) } != 0 {
        return None;
    }
    if lim.rlim_cur == libc::RLIM_INFINITY {
        None
    } else {
        #[allow(clippy::unnecessary_cast)] // `rlim_t` is not u64 on every Unix
        Some(lim.rlim_cur as u64)
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
        // ENOMEM: over a non-zero RLIMIT_MEMLOCK; EPERM: the limit is 0 and no CAP_IPC_LOCK.
        Some(libc::ENOMEM) | Some(libc::EPERM) => Err(Error::MemlockLimit {
            needed: len,
            limit: memlock_limit_text(),
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

#[cfg(target_os = "linux")]
pub(crate) fn collapse(ptr: *mut u8, len: usize) -> Result<(), Error> {
    // SAFETY: MADV_COLLAPSE keeps the contents; the range is the caller's whole-page region.
    if unsafe { libc::madvise(ptr.cast(), len, libc::MADV_COLLAPSE) } == 0 {
        return Ok(());
    }
    let err = errno();
    match err.raw_os_error() {
        Some(libc::EINVAL) => Err(Error::Unsupported {
            what: "MADV_COLLAPSE",
            reason: "the kernel refused it (EINVAL): it needs Linux 6.1+ with transparent huge \
                     pages, which must not be `never` in /sys/kernel/mm/transparent_hugepage/enabled; \
                     hugetlb regions are already on huge pages"
                .to_string(),
        }),
        Some(libc::EAGAIN) | Some(libc::ENOMEM) => Err(Error::Os {
            op: "madvise(MADV_COLLAPSE)",
            bytes: len,
            source: err,
            hint: "; the kernel found no free huge page: retry, or compact memory first \
                   (`echo 1 > /proc/sys/vm/compact_memory`)",
        }),
        _ => Err(Error::os("madvise(MADV_COLLAPSE)", len, err)),
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn collapse(_: *mut u8, _: usize) -> Result<(), Error> {
    Err(Error::Unsupported {
        what: "MADV_COLLAPSE",
        reason: "transparent huge pages are a Linux feature".to_string(),
    })
}

#[cfg(target_os = "linux")]
pub(crate) fn populate(ptr: *mut u8, len: usize) -> Result<(), Error> {
    // SAFETY: MADV_POPULATE_WRITE faults the pages in writable without changing contents;
    // the range is the caller's whole-page region.
    if unsafe { libc::madvise(ptr.cast(), len, libc::MADV_POPULATE_WRITE) } == 0 {
        return Ok(());
    }
    let err = errno();
    match err.raw_os_error() {
        Some(libc::EINVAL) => Err(Error::Unsupported {
            what: "MADV_POPULATE_WRITE",
            reason: "needs Linux 5.14+".to_string(),
        }),
        _ => Err(Error::os("madvise(MADV_POPULATE_WRITE)", len, err)),
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn populate(_: *mut u8, _: usize) -> Result<(), Error> {
    Err(Error::Unsupported {
        what: "MADV_POPULATE_WRITE",
        reason: "a Linux call".to_string(),
    })
}

/// Asks for transparent huge pages on the range (a hint: errors are ignored).
#[cfg(target_os = "linux")]
pub(crate) fn advise_hugepage(ptr: *mut u8, len: usize) {
    // SAFETY: MADV_HUGEPAGE only sets a flag on the range, which the caller owns.
    unsafe { libc::madvise(ptr.cast(), len, libc::MADV_HUGEPAGE) };
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn advise_hugepage(_: *mut u8, _: usize) {}
