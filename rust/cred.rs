// SPDX-License-Identifier: GPL-2.0
//! Credentials and capabilities of the calling task.

use kernel::bindings;

/// Whether the current task has `CAP_SYS_ADMIN` in the initial user namespace (`capable(2)` in C,
/// which also marks the task as having used the privilege for auditing).
pub(crate) fn capable_sys_admin() -> bool {
    // SAFETY: `capable` only inspects the current task's credentials; it is callable from any
    // process context, which is where all our callers (file operations) run.
    unsafe { bindings::capable(bindings::CAP_SYS_ADMIN as i32) }
}
