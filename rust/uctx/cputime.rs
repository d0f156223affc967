// SPDX-License-Identifier: GPL-2.0
//! The CPU time of the user task running the hook's process and its CPU-time interval timers
//! (`ITIMER_PROF`, `ITIMER_VIRTUAL`), taken and given as [`Cpu`] through the helpers of
//! `patches/0012` (`kernel/cputime_carry.c`), so that they travel with a migrated process.
//!
//! C header: `include/linux/sched/cputime.h` (`struct cputime_carry`, with `patches/0012`).

use kernel::bindings;

use super::UserCtx;
use crate::proto::cputime::Cpu;

/// The calling task's process CPU time, as [`UserCtx::cputime`]; also valid while the task
/// runs `do_exit` (its signal struct and threads are still there), where no `UserCtx` exists.
pub(crate) fn current_cputime() -> Cpu {
    let mut c = bindings::cputime_carry::default();
    // SAFETY: `c` is a valid, writable cputime_carry; the helper reads only current's process
    // (its signal struct, under its locks), which exists until current is reaped.
    unsafe { bindings::cputime_carry_save(&mut c) };
    Cpu {
        utime: c.utime,
        stime: c.stime,
        runtime: c.runtime,
        it_expires: c.it_expires,
        it_incr: c.it_incr,
    }
}

impl UserCtx {
    /// current's process CPU time (all its threads, the exited ones and the time carried from
    /// other nodes included) and its CPU-time itimers.
    pub(crate) fn cputime(&self) -> Cpu {
        current_cputime()
    }

    /// Counts `used` (utime, stime, runtime, ns) in current's process CPU time: CPU it used on
    /// another node. Every process-wide reading includes it from now on, and its parent reaps
    /// it. Call before [`set_cpu_timers`](Self::set_cpu_timers).
    pub(crate) fn add_cputime(&self, used: &[u64; 3]) {
        // SAFETY: the helper adds to current's signal struct under its stats lock.
        unsafe { bindings::cputime_carry_add(used[0], used[1], used[2]) };
    }

    /// Arms current's `ITIMER_PROF` and `ITIMER_VIRTUAL` at the expiries (on the process's CPU
    /// clock) and intervals of `c` (an expiry of 0 disarms), and `RLIMIT_CPU` as its limits
    /// say, as `setitimer` and `setrlimit` do.
    pub(crate) fn set_cpu_timers(&self, c: &Cpu) {
        let k = bindings::cputime_carry {
            utime: c.utime,
            stime: c.stime,
            runtime: c.runtime,
            it_expires: c.it_expires,
            it_incr: c.it_incr,
        };
        // SAFETY: `k` is a valid cputime_carry; the helper changes only current's process
        // timers, under its siglock.
        unsafe { bindings::cputime_carry_timers(&k) };
    }
}
