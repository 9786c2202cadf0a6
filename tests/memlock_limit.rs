//! The RLIMIT_MEMLOCK path, exercised for real: this test re-runs itself in a child process
//! without CAP_IPC_LOCK (dropped from the bounding set before exec, so even root loses it) and
//! with RLIMIT_MEMLOCK at 8 MiB, and checks there that locking over the limit is a typed,
//! actionable error that leaves nothing mapped or locked. (`harness = false`: it has its own
//! `main`, so the child can be this very binary.)

#[cfg(all(target_os = "linux", not(miri)))]
#[path = "common/kernel.rs"]
mod kernel;
#[path = "common/skip.rs"]
mod skip;

#[cfg(not(target_os = "linux"))]
fn main() {
    skip::cannot_run("the RLIMIT_MEMLOCK proof is Linux-only");
}

#[cfg(all(target_os = "linux", miri))]
fn main() {
    skip::cannot_run("under Miri: it runs a child process and locks memory, which Miri cannot");
}

#[cfg(all(target_os = "linux", not(miri)))]
fn main() {
    if std::env::var_os(CHILD).is_some() {
        child();
        println!("{CHILD_OK}");
    } else {
        parent();
    }
}

#[cfg(target_os = "linux")]
#[cfg_attr(miri, allow(dead_code))] // the child process does not run under Miri
const CHILD: &str = "NEXUS_SLAB_MEMLOCK_CHILD";
#[cfg(target_os = "linux")]
#[cfg_attr(miri, allow(dead_code))] // the child process does not run under Miri
const CHILD_OK: &str = "memlock child: all checks passed";
#[cfg(target_os = "linux")]
#[cfg_attr(miri, allow(dead_code))] // the child process does not run under Miri
const LIMIT: u64 = 8 << 20;

#[cfg(all(target_os = "linux", not(miri)))]
fn parent() {
    use std::os::unix::process::CommandExt;
    use std::process::Command;

    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(exe);
    cmd.env(CHILD, "1");
    // SAFETY: between fork and exec the closure makes only async-signal-safe system calls
    // (prctl, setrlimit) and allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            const CAP_IPC_LOCK: libc::c_ulong = 14;
            // Without CAP_SETPCAP (not root) this fails, and the process has no
            // CAP_IPC_LOCK to lose anyway; the child checks which it got.
            libc::prctl(libc::PR_CAPBSET_DROP, CAP_IPC_LOCK, 0, 0, 0);
            let lim = libc::rlimit {
                rlim_cur: LIMIT,
                rlim_max: LIMIT,
            };
            if libc::setrlimit(libc::RLIMIT_MEMLOCK, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    };
    let out = cmd.output().expect("spawn the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    print!("{stdout}");
    eprint!("{stderr}");
    assert!(out.status.success(), "the child failed: {}", out.status);
    assert!(
        stdout.contains(CHILD_OK),
        "the child did not run its checks"
    );
    println!("memlock_limit: ok");
}

#[cfg(all(target_os = "linux", not(miri)))]
fn child() {
    use nexus_slab::{Error, Limit, LockedSlab, Slab, SystemInfo};

    let info = SystemInfo::probe();
    assert_eq!(
        info.cap_ipc_lock,
        Some(false),
        "CAP_IPC_LOCK should be gone"
    );
    assert_eq!(info.memlock_limit, Limit::Bytes(LIMIT));
    println!(
        "child: no CAP_IPC_LOCK, RLIMIT_MEMLOCK {}",
        info.memlock_limit
    );

    // A locked slab larger than the limit: a typed error, and nothing left behind.
    let maps0 = kernel::maps_count();
    let lck0 = kernel::status_bytes("VmLck");
    let rss0 = kernel::status_bytes("VmRSS");
    let err = LockedSlab::<[u8; 64]>::with_capacity(1 << 20).unwrap_err();
    let msg = err.to_string();
    println!("child: {msg}");
    match &err {
        Error::MemlockLimit { needed, limit } => {
            // 2^20 slots of 64 bytes and a bitmap of 2^20 + 1 bits (slot bits and a
            // sentinel), in whole pages.
            // SAFETY: sysconf has no preconditions.
            let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
            let bitmap: usize = ((1 << 20) / 64 + 1) * 8;
            assert_eq!(*needed, ((1 << 20) * 64 + bitmap).next_multiple_of(page));
            assert!(limit.contains(&LIMIT.to_string()), "{limit}");
        }
        other => panic!("expected MemlockLimit, got {other:?}"),
    }
    for must in [
        "RLIMIT_MEMLOCK",
        "ulimit -l",
        "limits.conf",
        "CAP_IPC_LOCK",
        "8388608",
    ] {
        assert!(msg.contains(must), "the message lacks {must:?}: {msg}");
    }
    assert_eq!(kernel::maps_count(), maps0, "nothing stays mapped");
    assert_eq!(kernel::status_bytes("VmLck"), lck0, "nothing stays locked");
    assert!(
        kernel::status_bytes("VmRSS") < rss0 + (4 << 20),
        "the prefaulted 64 MiB was given back"
    );

    // mlock on a plain slab over the limit: the same error, and the slab is untouched.
    let mut slab: Slab<u64> = Slab::with_capacity(2 << 20).unwrap();
    let k = slab.insert(42).unwrap();
    assert!(matches!(slab.mlock(), Err(Error::MemlockLimit { .. })));
    assert_eq!(slab[k], 42);
    assert_eq!(slab.locked_bytes().unwrap(), 0);
    assert_eq!(kernel::status_bytes("VmLck"), lck0);
    drop(slab);

    // Memory already locked counts against the limit, and the error says how much there is:
    // 6 MiB fit under 8 MiB alone, not beside 4 MiB already locked.
    let mut four: LockedSlab<u8> = LockedSlab::new();
    four.alloc_bytes(4 << 20).unwrap();
    let held = kernel::status_bytes("VmLck");
    assert_eq!(held - lck0, 4 << 20);
    // SystemInfo::can_lock counts what is locked already (issue 13): VmLck plus the request.
    let info = SystemInfo::probe();
    assert_eq!(info.process_locked, Some(held));
    assert!(!info.can_lock(6 << 20), "6 MiB beside {held} bytes locked");
    assert!(info.can_lock(LIMIT as usize - held));
    assert!(!info.can_lock(LIMIT as usize - held + 1));
    let mut six: Slab<u8> = Slab::new();
    six.alloc_bytes(6 << 20).unwrap();
    match six.mlock() {
        Err(Error::MemlockLimit { needed, limit }) => {
            println!("child: 6 MiB beside 4 MiB locked: limit {limit}");
            assert_eq!(needed, 6 << 20);
            assert!(limit.contains(&LIMIT.to_string()), "{limit}");
            assert!(
                limit.contains(&format!("already has {held} bytes locked")),
                "{limit}"
            );
        }
        other => panic!("expected MemlockLimit, got {other:?}"),
    }
    assert_eq!(kernel::status_bytes("VmLck"), held);
    drop((four, six));

    // Under the limit, a range with a hole is not blamed on the limit.
    let page = kernel::page_size();
    let p = kernel::mapping_with_a_hole(3);
    let region = nexus_slab::Region::new(p, 3 * page, page);
    {
        use nexus_slab::Backing;
        let err = nexus_slab::Mmap::new().lock(&region).unwrap_err();
        println!("child: mlock over a hole: {err}");
        assert!(matches!(err, Error::Os { op: "mlock", .. }), "{err:?}");
        assert!(err.to_string().contains("not mapped"), "{err}");
    }
    // SAFETY: the two pages left of the mapping made above; nothing uses them.
    unsafe { libc::munmap(p.as_ptr().cast(), 3 * page) };
    assert_eq!(kernel::status_bytes("VmLck"), lck0);

    // Under the limit, locking works without the capability.
    let small: LockedSlab<u64> = LockedSlab::with_capacity(100_000).unwrap();
    let size = small.memory_size();
    assert!(size as u64 <= LIMIT);
    assert_eq!(kernel::status_bytes("VmLck") - lck0, size);
    drop(small);
    assert_eq!(kernel::status_bytes("VmLck"), lck0);
}
