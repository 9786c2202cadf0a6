//! No OS memory control: Miri, and platforms other than Unix and (with `unstable-windows`)
//! Windows. Every call that would act on the OS reports `Unsupported` with the reason.

use std::io;

use crate::Error;

#[cfg(miri)]
const WHY: &str = "Miri does not model mlock/madvise; run the memory-control tests natively";
#[cfg(all(not(miri), windows))]
const WHY: &str = "enable the `unstable-windows` cargo feature for VirtualLock and large pages";
#[cfg(all(not(miri), not(windows)))]
const WHY: &str = "this platform has no memory-control support in nexus-slab";

fn unsupported(what: &'static str) -> Error {
    Error::Unsupported {
        what,
        reason: WHY.to_string(),
    }
}

pub(crate) fn page_size() -> usize {
    4096
}

pub(crate) fn physical_memory() -> Option<usize> {
    None
}

pub(crate) fn hint_for(_: &io::Error) -> &'static str {
    ""
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
