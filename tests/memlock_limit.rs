//! The RLIMIT_MEMLOCK path, exercised for real: this test re-runs itself in a child process
//! without CAP_IPC_LOCK (dropped from the bounding set before exec, so even root loses it) and
//! with RLIMIT_MEMLOCK at 8 MiB, and checks there that locking over the limit is a typed,
//! actionable error that leaves nothing mapped or locked. A second child runs the `main` of
//! `examples/first_program.rs` (a `main` returning `Result<(), Box<dyn Error>>`, reported as
//! Rust reports any `main`'s error) and the parent checks what reaches its stderr: the reason
//! and the command that fixes it. (`harness = false`: it has its own `main`, so the children
//! can be this very binary.)

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

/// The example, whose `main` the second child runs.
#[cfg(all(target_os = "linux", not(miri)))]
#[path = "../examples/first_program.rs"]
mod first_program;

#[cfg(all(target_os = "linux", not(miri)))]
fn main() -> std::process::ExitCode {
    use std::process::{ExitCode, Termination};
    match std::env::var(CHILD).as_deref() {
        // What Rust does with the `Result` a `main` returns: `Error: {err:?}` on stderr, and
        // exit code 1.
        Ok(FIRST_PROGRAM) => first_program::main().report(),
        Ok(_) => {
            child();
            println!("{CHILD_OK}");
            ExitCode::SUCCESS
        }
        Err(_) => {
            parent();
            ExitCode::SUCCESS
        }
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
/// The fix an ordinary user is given.
#[cfg(target_os = "linux")]
#[cfg_attr(miri, allow(dead_code))]
const USER_FIX: &str =
    "run `sudo prlimit --memlock=unlimited --pid $$` in the shell that starts the program";
/// The fix where CAP_SYS_RESOURCE is out of the bounding set (a container), so that no
/// process, `sudo` included, can raise the hard limit.
#[cfg(target_os = "linux")]
#[cfg_attr(miri, allow(dead_code))]
const CONTAINER_FIX: &str =
    "start the container with `--cap-add IPC_LOCK` or `--ulimit memlock=-1`";

/// The fix this process is given: which one depends on its capability bounding set, read
/// here from the kernel's /proc/self/status (CapBnd, bit 24 = CAP_SYS_RESOURCE).
#[cfg(all(target_os = "linux", not(miri)))]
fn expected_fix() -> &'static str {
    let status = kernel::proc_text("/proc/self/status");
    let bnd = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .map(|h| u64::from_str_radix(h.trim(), 16).unwrap())
        .unwrap();
    if bnd & (1 << 24) != 0 {
        USER_FIX
    } else {
        CONTAINER_FIX
    }
}
/// The value of [`CHILD`] that makes the child run `examples/first_program.rs`.
#[cfg(target_os = "linux")]
#[cfg_attr(miri, allow(dead_code))] // the child process does not run under Miri
const FIRST_PROGRAM: &str = "first_program";

#[cfg(all(target_os = "linux", not(miri)))]
fn parent() {
    use std::os::unix::process::CommandExt;
    use std::process::Command;

    // This binary again, without CAP_IPC_LOCK and with RLIMIT_MEMLOCK at 8 MiB.
    // `as_container`: CAP_SYS_RESOURCE leaves the bounding set too, as in a container that
    // withholds it.
    let unprivileged = |mode: &str, as_container: bool| {
        let exe = std::env::current_exe().unwrap();
        let mut cmd = Command::new(exe);
        cmd.env(CHILD, mode);
        // SAFETY: between fork and exec the closure makes only async-signal-safe system calls
        // (prctl, setrlimit) and allocates nothing.
        unsafe {
            cmd.pre_exec(move || {
                const CAP_IPC_LOCK: libc::c_ulong = 14;
                const CAP_SYS_RESOURCE: libc::c_ulong = 24;
                // Without CAP_SETPCAP (not root) this fails, and the process has no
                // CAP_IPC_LOCK to lose anyway; the child checks which it got.
                libc::prctl(libc::PR_CAPBSET_DROP, CAP_IPC_LOCK, 0, 0, 0);
                if as_container {
                    libc::prctl(libc::PR_CAPBSET_DROP, CAP_SYS_RESOURCE, 0, 0, 0);
                }
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
        cmd.output().expect("spawn the child")
    };

    let out = unprivileged("checks", false);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    print!("{stdout}");
    eprint!("{stderr}");
    assert!(out.status.success(), "the child failed: {}", out.status);
    assert!(
        stdout.contains(CHILD_OK),
        "the child did not run its checks"
    );

    // A first program: `main() -> Result<(), Box<dyn Error>>` and `?`. What the user sees is
    // the error's Debug on stderr: it must carry the reason and the command that fixes it.
    // Which fix the child is given depends on its bounding set: the user's where
    // CAP_SYS_RESOURCE can be had, the container's where it cannot (and always when it is
    // dropped for the second run).
    let inherits_user_fix = expected_fix() == USER_FIX;
    if !inherits_user_fix {
        skip::cannot_run(
            "the ordinary user's fix (sudo prlimit) on stderr: this machine's capability \
             bounding set lacks CAP_SYS_RESOURCE (a container), so every child gets the \
             container's fix; the second run checks that one",
        );
    }
    for as_container in [false, true] {
        let out = unprivileged(FIRST_PROGRAM, as_container);
        let stderr = String::from_utf8_lossy(&out.stderr);
        println!(
            "examples/first_program.rs, unprivileged, as_container {as_container} ({}):",
            out.status
        );
        println!("{stderr}");
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        let fix = if as_container || !inherits_user_fix {
            CONTAINER_FIX
        } else {
            USER_FIX
        };
        let expected = format!(
            "Error: MemlockLimit {{ needed: 8425472, limit: Bytes({LIMIT}), locked: 0 }}: \
             mlock of 8.04 MiB exceeds RLIMIT_MEMLOCK (8 MiB): {fix}\n"
        );
        // On 4 KiB pages the bytes are exact (2^18 slots of 32 bytes, and a bitmap of 36 KiB).
        if kernel::page_size() == 4096 {
            assert_eq!(stderr, expected);
        }
        for must in [
            "Error: MemlockLimit {",
            "exceeds RLIMIT_MEMLOCK (8 MiB)",
            fix,
        ] {
            assert!(stderr.contains(must), "stderr lacks {must:?}: {stderr}");
        }
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    }
    // The example's docs (and through tests/readme.rs, the README) show the ordinary user's
    // line.
    let example = include_str!("../examples/first_program.rs");
    let user_line = format!(
        "//! Error: MemlockLimit {{ needed: 8425472, limit: Bytes({LIMIT}), locked: 0 }}: \
         mlock of 8.04 MiB exceeds RLIMIT_MEMLOCK (8 MiB): {USER_FIX}"
    );
    assert!(
        example.contains(&user_line),
        "examples/first_program.rs shows another line than {user_line}"
    );
    println!("memlock_limit: ok");
}

#[cfg(all(target_os = "linux", not(miri)))]
fn child() {
    use nexus_slab::{
        system::{Limit, SystemInfo},
        Error, LockedSlab, Slab,
    };

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
    let err = LockedSlab::<[u8; 64]>::try_with_capacity(1 << 20).unwrap_err();
    let msg = err.to_string();
    println!("child: {msg}");
    match &err {
        Error::MemlockLimit {
            needed,
            limit,
            locked,
            ..
        } => {
            // 2^20 slots of 64 bytes and a bitmap of 2^20 + 1 bits (slot bits and a
            // sentinel), in whole pages.
            // SAFETY: sysconf has no preconditions.
            let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
            let bitmap: usize = ((1 << 20) / 64 + 1) * 8;
            assert_eq!(*needed, ((1 << 20) * 64 + bitmap).next_multiple_of(page));
            assert_eq!(*limit, Limit::Bytes(LIMIT));
            assert_eq!(*locked, lck0);
        }
        other => panic!("expected MemlockLimit, got {other:?}"),
    }
    // The reason and the command that lifts the limit, in the message, the hint and Debug.
    let fix = expected_fix();
    assert_eq!(err.hint().as_deref(), Some(fix));
    assert!(msg.starts_with("mlock of 64."), "{msg}");
    assert!(
        msg.ends_with(&format!("exceeds RLIMIT_MEMLOCK (8 MiB): {fix}")),
        "{msg}"
    );
    assert!(format!("{err:?}").ends_with(&msg));
    assert_eq!(kernel::maps_count(), maps0, "nothing stays mapped");
    assert_eq!(kernel::status_bytes("VmLck"), lck0, "nothing stays locked");
    assert!(
        kernel::status_bytes("VmRSS") < rss0 + (4 << 20),
        "the prefaulted 64 MiB was given back"
    );

    // mlock on a plain slab over the limit: the same error, and the slab is untouched.
    let mut slab: Slab<u64> = Slab::with_capacity(2 << 20);
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
        Err(
            ref e @ Error::MemlockLimit {
                needed,
                limit,
                locked,
                ..
            },
        ) => {
            println!("child: 6 MiB beside 4 MiB locked: {e}");
            assert_eq!(needed, 6 << 20);
            assert_eq!(limit, Limit::Bytes(LIMIT));
            assert_eq!(locked, held);
            if held == 4 << 20 {
                assert!(
                    e.to_string()
                        == format!(
                            "mlock of 6 MiB beside 4 MiB already locked exceeds RLIMIT_MEMLOCK \
                         (8 MiB): {}",
                            expected_fix()
                        ),
                    "{e}"
                );
            }
        }
        other => panic!("expected MemlockLimit, got {other:?}"),
    }
    assert_eq!(kernel::status_bytes("VmLck"), held);
    drop((four, six));

    // Under the limit, a range with a hole is not blamed on the limit.
    let page = kernel::page_size();
    let p = kernel::mapping_with_a_hole(3);
    let region = nexus_slab::backing::Region::new(p, 3 * page, page);
    {
        use nexus_slab::backing::Backing;
        let err = nexus_slab::backing::Mmap::new().lock(&region).unwrap_err();
        println!("child: mlock over a hole: {err}");
        assert!(matches!(err, Error::Os { op: "mlock", .. }), "{err:?}");
        assert!(err.to_string().contains("not mapped"), "{err}");
    }
    // SAFETY: the two pages left of the mapping made above; nothing uses them.
    unsafe { libc::munmap(p.as_ptr().cast(), 3 * page) };
    assert_eq!(kernel::status_bytes("VmLck"), lck0);

    // Under the limit, locking works without the capability.
    let small: LockedSlab<u64> = LockedSlab::with_capacity(100_000);
    let size = small.memory_size();
    assert!(size as u64 <= LIMIT);
    assert_eq!(kernel::status_bytes("VmLck") - lck0, size);
    drop(small);
    assert_eq!(kernel::status_bytes("VmLck"), lck0);
}
