// SPDX-License-Identifier: GPL-2.0
//! The one bounded condition-variable wait of the module: every wait on a peer or a process
//! goes through [`wait_until`], so each has a limit and says how it ended.

use kernel::sync::lock::{Backend, Guard};
use kernel::sync::{CondVar, CondVarTimeoutResult};
use kernel::time::msecs_to_jiffies;

use crate::kapi::sys;

/// Longest single sleep of a wait, ms: the condition is looked at again at least this often
/// (a waiter also sees conditions that change without a notification).
const SLICE_MS: u64 = 1000;

/// How a wait ended without its condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WaitEnd {
    /// The time limit passed.
    TimedOut,
    /// A signal is pending for the waiting task (an interruptible wait returns for it).
    Signal,
}

/// Waits on `cv`, with `guard` held whenever `ready` runs, until `ready` returns `Some`, at
/// most `ms` milliseconds (0: no limit, for waits bounded otherwise, e.g. by a fatal signal or
/// a peer's liveness check that wakes the waiter). Sleeps interruptibly, in slices of at most
/// [`SLICE_MS`] (and at most `slice_ms` when it is smaller than that and not 0). Returns
/// `ready`'s value, or how the wait ended: [`WaitEnd::Signal`] as soon as a sleep is
/// interrupted by a signal, [`WaitEnd::TimedOut`] after `ms`.
pub(crate) fn wait_until<T: ?Sized, B: Backend, R>(
    cv: &CondVar,
    guard: &mut Guard<'_, T, B>,
    ms: u32,
    slice_ms: u32,
    mut ready: impl FnMut(&mut T) -> Option<R>,
) -> Result<R, WaitEnd> {
    let start = sys::monotonic_ms();
    let slice = match u64::from(slice_ms) {
        0 => SLICE_MS,
        s => s.min(SLICE_MS),
    };
    loop {
        if let Some(r) = ready(&mut **guard) {
            return Ok(r);
        }
        let waited = sys::monotonic_ms().saturating_sub(start);
        let left = if ms == 0 {
            slice
        } else if waited >= u64::from(ms) {
            return Err(WaitEnd::TimedOut);
        } else {
            u64::from(ms) - waited
        };
        let j = msecs_to_jiffies(left.min(slice) as u32);
        if let CondVarTimeoutResult::Signal { .. } = cv.wait_interruptible_timeout(guard, j) {
            return Err(WaitEnd::Signal);
        }
    }
}
