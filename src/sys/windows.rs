//! Windows (feature `unstable-windows`): VirtualLock and large pages are not wired up yet;
//! every call reports `Unsupported` until they are.

#[path = "stub.rs"]
mod stub;
pub(crate) use stub::*;
