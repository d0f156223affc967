// SPDX-License-Identifier: GPL-2.0
//! Resource limits and the command name of the user task running the hook.
//!
//! C header: `include/linux/sched.h` (`signal_struct.rlim`, `__set_task_comm`).

use kernel::bindings;

use super::{cur, UserCtx};

impl UserCtx {
    /// Resource limits: soft and hard of each of the 16 limits.
    pub(crate) fn rlimits(&self) -> [[u64; 2]; 16] {
        let mut r = [[0u64; 2]; 16];
        // SAFETY: current's signal struct is valid; rlim is read racily as getrlimit's fast path
        // would (only current's thread group changes it, and it is single-threaded here).
        unsafe {
            let s = (*cur()).signal;
            for (i, x) in r.iter_mut().enumerate() {
                x[0] = (*s).rlim[i].rlim_cur as u64;
                x[1] = (*s).rlim[i].rlim_max as u64;
            }
        }
        r
    }

    /// Installs resource limits (soft ≤ hard is enforced by lowering soft).
    pub(crate) fn set_rlimits(&self, r: &[[u64; 2]; 16]) {
        let t = cur();
        // SAFETY: written under task_lock of the group leader, as do_prlimit does.
        unsafe {
            let leader = (*t).group_leader;
            bindings::task_lock(leader);
            let s = (*t).signal;
            for (i, x) in r.iter().enumerate() {
                (*s).rlim[i].rlim_max = x[1] as _;
                (*s).rlim[i].rlim_cur = x[0].min(x[1]) as _;
            }
            bindings::task_unlock(leader);
        }
    }

    /// Sets resource limit `resource` (below 16) to `cur` (soft) and `max` (hard), which the
    /// caller checked (`cur <= max`); others are left as they are.
    pub(crate) fn set_rlimit(&self, resource: usize, cur: u64, max: u64) {
        let mut r = self.rlimits();
        if let Some(x) = r.get_mut(resource) {
            *x = [cur, max];
            self.set_rlimits(&r);
        }
    }

    /// Sets current's name (`comm`, at most 15 bytes shown).
    pub(crate) fn set_comm(&self, comm: &[u8; 16]) {
        let mut b = *comm;
        b[15] = 0;
        // SAFETY: `b` is NUL terminated; __set_task_comm copies it under task_lock (exported by
        // patches/0004).
        unsafe { bindings::__set_task_comm(cur(), b.as_ptr().cast(), false) };
    }
}
