// SPDX-License-Identifier: GPL-2.0
//! The real-time interval timer (`ITIMER_REAL`, set by `setitimer` and `alarm`) of the user task
//! running the hook: read and set as `kernel/time/itimer.c` does (`get_itimer`, `do_setitimer`),
//! so that it travels with a migrated process.
//!
//! C header: `include/linux/sched/signal.h` (`signal_struct::real_timer`, `it_real_incr`, armed
//! with `it_real_fn` at fork), `include/linux/hrtimer.h`.

use core::ptr;

use kernel::bindings;

use super::{cur, UserCtx};

/// Largest time accepted for either value, ns (`KTIME_SEC_MAX / 2` s, the bound
/// [`crate::proto::mig::MAX_CLOCK_NS`] also puts on the wire).
const MAX_NS: u64 = crate::proto::mig::MAX_CLOCK_NS;

impl UserCtx {
    /// current's `ITIMER_REAL`: the time left until it fires and its interval, ns; (0, 0) when
    /// it is not armed. A timer due now reads 1 µs left, as `getitimer` says.
    pub(crate) fn itimer_real(&self) -> [u64; 2] {
        // SAFETY: current's signal and sighand are valid while it runs (`UserCtx`: not
        // exiting); the timer and its interval are read under siglock, which `it_real_fn`
        // shares (irq-safe, as `get_itimer` does).
        unsafe {
            let t = cur();
            let sig = (*t).signal;
            let sh = (*t).sighand;
            bindings::spin_lock_irq(ptr::addr_of_mut!((*sh).siglock));
            let timer = ptr::addr_of!((*sig).real_timer);
            let left = if bindings::hrtimer_active(timer) {
                bindings::__hrtimer_get_remaining(timer, false).max(1000)
            } else {
                0
            };
            let interval = (*sig).it_real_incr;
            bindings::spin_unlock_irq(ptr::addr_of_mut!((*sh).siglock));
            if left <= 0 {
                return [0, 0];
            }
            [left as u64, interval.max(0) as u64]
        }
    }

    /// Arms current's `ITIMER_REAL` to fire in `v[0]` ns and then every `v[1]` ns (0: once), or
    /// disarms it (`v[0]` = 0), replacing what was set. Values beyond [`MAX_NS`] are cut to it.
    pub(crate) fn set_itimer_real(&self, v: &[u64; 2]) {
        let left = v[0].min(MAX_NS) as i64;
        let interval = if left == 0 {
            0
        } else {
            v[1].min(MAX_NS) as i64
        };
        // SAFETY: as in `itimer_real`; the timer is cancelled and started under siglock as
        // `do_setitimer` does: a callback running on another CPU (it takes siglock) makes
        // `hrtimer_try_to_cancel` fail, and the lock is dropped while it finishes.
        unsafe {
            let t = cur();
            let sig = (*t).signal;
            let sh = (*t).sighand;
            let timer = ptr::addr_of_mut!((*sig).real_timer);
            loop {
                bindings::spin_lock_irq(ptr::addr_of_mut!((*sh).siglock));
                if bindings::hrtimer_try_to_cancel(timer) >= 0 {
                    break;
                }
                bindings::spin_unlock_irq(ptr::addr_of_mut!((*sh).siglock));
                core::hint::spin_loop();
            }
            (*sig).it_real_incr = interval;
            if left != 0 {
                bindings::hrtimer_start_range_ns(
                    timer,
                    left,
                    0,
                    bindings::hrtimer_mode_HRTIMER_MODE_REL,
                );
            }
            bindings::spin_unlock_irq(ptr::addr_of_mut!((*sh).siglock));
        }
    }
}
