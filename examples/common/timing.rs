//! The timing pieces the latency examples share (`latency.rs`, `pipeline.rs`): the TSC clock
//! around a timed region, its calibration against `Instant`, pinning a thread to a CPU and
//! `SCHED_FIFO`. One copy, so that a fix (such as musl's larger `sched_param`) reaches both.

// Each example uses part of this module.
#![allow(dead_code)]

use std::time::{Duration, Instant};

// --- the clock --------------------------------------------------------------------------------

#[cfg(target_arch = "x86_64")]
pub mod clock {
    use core::arch::x86_64::{__rdtscp, _mm_lfence, _rdtsc};

    /// Start of a timed region: `lfence; rdtsc` (earlier work done before the read).
    #[inline(always)]
    pub fn start() -> u64 {
        // SAFETY: LFENCE and RDTSC exist on every x86_64 processor.
        unsafe {
            _mm_lfence();
            _rdtsc()
        }
    }

    /// End of a timed region: `rdtscp; lfence` (the timed work done before the read, later
    /// work not started before it).
    #[inline(always)]
    pub fn end() -> u64 {
        let mut aux = 0u32;
        // SAFETY: RDTSCP is on every x86_64 CPU this runs on (checked in `calibrate`).
        unsafe {
            let t = __rdtscp(&mut aux);
            _mm_lfence();
            t
        }
    }

    pub const NAME: &str = "TSC (lfence;rdtsc .. rdtscp;lfence)";

    pub fn check() {
        let ext = std::arch::x86_64::__cpuid(0x8000_0001);
        assert!(ext.edx & (1 << 27) != 0, "this CPU has no RDTSCP");
    }
}

#[cfg(not(target_arch = "x86_64"))]
pub mod clock {
    use std::sync::OnceLock;
    use std::time::Instant;

    fn base() -> Instant {
        static BASE: OnceLock<Instant> = OnceLock::new();
        *BASE.get_or_init(Instant::now)
    }

    #[inline(always)]
    pub fn start() -> u64 {
        base().elapsed().as_nanos() as u64
    }

    #[inline(always)]
    pub fn end() -> u64 {
        base().elapsed().as_nanos() as u64
    }

    pub const NAME: &str = "Instant (no TSC on this arch)";

    pub fn check() {}
}

/// Clock ticks per nanosecond, against `Instant` over 200 ms.
pub fn calibrate() -> f64 {
    clock::check();
    let (t0, c0) = (Instant::now(), clock::start());
    while t0.elapsed() < Duration::from_millis(200) {}
    let (c1, t1) = (clock::end(), t0.elapsed());
    (c1 - c0) as f64 / t1.as_nanos() as f64
}

// --- the thread ---------------------------------------------------------------------------

/// Switches this thread to `SCHED_FIFO` (so no ordinary process preempts the measured loop)
/// or back to `SCHED_OTHER`. False when not allowed.
pub fn set_realtime(on: bool) -> bool {
    // SAFETY: plain system calls on the calling thread with a valid `sched_param` (all zeroes
    // but the priority: musl's has more fields than glibc's, unused for these policies).
    unsafe {
        let (policy, prio) = if on {
            (libc::SCHED_FIFO, 10)
        } else {
            (libc::SCHED_OTHER, 0)
        };
        let mut param: libc::sched_param = std::mem::zeroed();
        param.sched_priority = prio;
        libc::sched_setscheduler(0, policy, &param) == 0
    }
}

/// Pins this thread to `cpu`. False when not allowed (or no such CPU).
pub fn pin(cpu: usize) -> bool {
    // SAFETY: a zeroed cpu_set_t is empty; CPU_SET writes inside it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}
