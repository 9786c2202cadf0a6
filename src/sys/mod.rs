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
