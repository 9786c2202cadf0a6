//! The one place that calls the operating system for memory control.
//!
//! Each platform file implements the same small set of free functions; backings call them,
//! the slab's core never does. `stub.rs` serves platforms without memory control and Miri,
//! whose interpreter does not model `mlock`/`madvise`.

#[cfg(all(unix, not(miri)))]
#[path = "unix.rs"]
mod imp;

#[cfg(all(windows, feature = "unstable-windows", not(miri)))]
#[path = "windows.rs"]
mod imp;

#[cfg(any(miri, not(any(unix, all(windows, feature = "unstable-windows")))))]
#[path = "stub.rs"]
mod imp;

pub(crate) use imp::*;

/// Bytes of physical memory, if the OS says: read once (RAM does not change; and a read under
/// load has been seen to fail under wine, so a failure is not cached).
pub(crate) fn physical_memory() -> Option<usize> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static PHYS: AtomicUsize = AtomicUsize::new(0);
    match PHYS.load(Ordering::Relaxed) {
        0 => {
            let bytes = imp::read_physical_memory()?;
            PHYS.store(bytes, Ordering::Relaxed);
            Some(bytes)
        }
        bytes => Some(bytes),
    }
}
