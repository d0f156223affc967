// SPDX-License-Identifier: GPL-2.0
//! The clocks of the user task running the hook, as its time namespace shows them.
//!
//! C header: `include/linux/time_namespace.h` (with `patches/0007` for the migration helpers).

use kernel::bindings;
use kernel::prelude::*;

use super::UserCtx;

impl UserCtx {
    /// current's `CLOCK_MONOTONIC` and `CLOCK_BOOTTIME` as the process sees them (its time
    /// namespace applied), in nanoseconds: (monotonic, boottime).
    pub(crate) fn clocks(&self) -> (u64, u64) {
        let (mut m, mut b) = (0u64, 0u64);
        // SAFETY: timens_read_clocks (patches/0007) only reads the clocks and current's time
        // namespace, and writes the two valid out-parameters.
        unsafe { bindings::timens_read_clocks(&mut m, &mut b) };
        (m, b)
    }

    /// Puts current into a new time namespace whose `CLOCK_MONOTONIC` and `CLOCK_BOOTTIME` read
    /// `monotonic` and `boottime` (ns) now, in the vDSO as in system calls: a migrated process's
    /// clocks continue from the values they had on the node it left.
    /// Errors: `EUSERS` if current's mm is shared, `ERANGE` if a value is out of the clocks' range
    /// (beyond `KTIME_SEC_MAX / 2` s), `ENOMEM`/`ENOSPC` (time namespace limit).
    pub(crate) fn continue_clocks(&self, monotonic: u64, boottime: u64) -> Result {
        // SAFETY: timens_migrate_clocks (patches/0007) acts on current, a user task in process
        // context with its own mm (`UserCtx` invariant); it validates both values.
        let r = unsafe { bindings::timens_migrate_clocks(monotonic, boottime) };
        if r != 0 {
            return Err(Error::from_errno(r));
        }
        Ok(())
    }
}
