//! The kernel's reports are bytes, not text: a mapped file's path (in /proc/self/smaps) and the
//! process name (in /proc/self/status) may hold any byte but `/` and NUL. Every report the crate
//! reads must survive such a byte — here 0xff, which is never valid UTF-8.
//!
//! Its own binary: while a test runs, every /proc read of this process sees the byte.
#![cfg(all(target_os = "linux", not(miri)))]

mod common;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::{Mutex, MutexGuard};

use common::kernel::{pagemap_present, smaps_vmas, status_bytes};
use nexus_slab::{system::SystemInfo, Slab};

/// The tests change what the whole process reports: one at a time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A file whose name is not UTF-8, mapped into this process for as long as the value lives.
struct OddMapping {
    dir: std::path::PathBuf,
    ptr: *mut libc::c_void,
    len: usize,
}

impl OddMapping {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("nexus-slab-non-utf8-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join(OsStr::from_bytes(b"slab-\xff\xfe.bin"));
        let len = 4096;
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .unwrap();
        file.set_len(len as u64).unwrap();
        use std::os::fd::AsRawFd;
        // SAFETY: a fresh shared read-only mapping of our own file, at an address of the
        // kernel's choosing; nothing reads it.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        assert_ne!(ptr, libc::MAP_FAILED);
        let smaps = fs::read("/proc/self/smaps").unwrap();
        assert!(
            std::str::from_utf8(&smaps).is_err(),
            "the mapped path should make /proc/self/smaps invalid UTF-8"
        );
        OddMapping { dir, ptr, len }
    }
}

impl Drop for OddMapping {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, used by nothing.
        unsafe { libc::munmap(self.ptr, self.len) };
        let _ = fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn locked_bytes_reads_smaps_past_a_non_utf8_path() {
    let _g = serial();
    let _odd = OddMapping::new();
    let lck0 = status_bytes("VmLck");
    let mut slab: Slab<u64> = Slab::with_capacity(10_000);
    let size = slab.memory_size();
    assert_eq!(slab.locked_bytes().unwrap(), 0);
    slab.mlock().unwrap();
    let locked = slab.locked_bytes().unwrap();
    // Witnesses: VmLck rose by the slab, and the slab's one mapping is flagged locked and
    // resident throughout.
    let k = slab.insert(1).unwrap();
    let addr = slab.get(k).unwrap() as *const u64 as usize;
    let vmas = smaps_vmas(addr, size);
    eprintln!(
        "with a non-UTF-8 path mapped: locked_bytes {locked}, VmLck +{}, slab mappings {vmas:?}",
        status_bytes("VmLck") - lck0
    );
    assert_eq!(locked, size);
    assert_eq!(status_bytes("VmLck") - lck0, size);
    assert!(vmas.iter().all(|v| v.flags.iter().any(|f| f == "lo")));
    assert_eq!(pagemap_present(addr, size), size);
    slab.munlock().unwrap();
    assert_eq!(slab.locked_bytes().unwrap(), 0);
    assert!(slab.huge_page_bytes().is_ok());
}

/// Sets this process's name (the thread-group leader's `comm`, which /proc/self/status shows
/// as `Name:`) and gives the old one back on drop.
struct ProcessName(Vec<u8>);

impl ProcessName {
    fn set(name: &[u8]) -> Self {
        let old = fs::read("/proc/self/comm").unwrap();
        fs::write("/proc/self/comm", name).unwrap();
        ProcessName(old)
    }
}

impl Drop for ProcessName {
    fn drop(&mut self) {
        let old = self.0.strip_suffix(b"\n").unwrap_or(&self.0);
        let _ = fs::write("/proc/self/comm", old);
    }
}

#[test]
fn cap_ipc_lock_is_read_past_a_non_utf8_process_name() {
    let _g = serial();
    let _name = ProcessName::set(b"nexus-\xff");
    let status = fs::read("/proc/self/status").unwrap();
    assert!(
        std::str::from_utf8(&status).is_err(),
        "the name should make /proc/self/status invalid UTF-8"
    );
    // The test's own reading of CapEff, bit 14, from the bytes.
    let text = String::from_utf8_lossy(&status);
    let cap_eff = text
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .unwrap();
    let has = u64::from_str_radix(cap_eff.trim(), 16).unwrap() & (1 << 14) != 0;
    let info = SystemInfo::probe();
    eprintln!(
        "process name nexus-\\xff: CapEff {cap_eff:?}, probe says {:?}",
        info.cap_ipc_lock
    );
    assert_eq!(info.cap_ipc_lock, Some(has));
    assert!(!info.to_string().is_empty());
}
