// SPDX-License-Identifier: GPL-2.0
//! Credentials and capabilities of the calling task, and the ids of a credential set being
//! prepared for a new task.
//!
//! C header: `include/linux/cred.h`, `include/linux/capability.h`.

use kernel::bindings;

/// Whether the current task has `CAP_SYS_ADMIN` in the initial user namespace (`capable(2)` in C,
/// which also marks the task as having used the privilege for auditing).
pub(crate) fn capable_sys_admin() -> bool {
    // SAFETY: `capable` only inspects the current task's credentials; it is callable from any
    // process context, which is where all our callers (file operations) run.
    unsafe { bindings::capable(bindings::CAP_SYS_ADMIN as i32) }
}

/// Sets the ids of a credential set being prepared for a new task (user-mode helper `init`)
/// and drops every capability unless `uid` is 0.
///
/// # Safety
/// `c` must be a credential set under preparation that only the caller may modify.
pub(crate) unsafe fn set_cred_ids(c: *mut bindings::cred, uid: u32, gid: u32) {
    // SAFETY: per the contract.
    unsafe {
        let u = bindings::kuid_t { val: uid };
        let g = bindings::kgid_t { val: gid };
        (*c).uid = u;
        (*c).euid = u;
        (*c).suid = u;
        (*c).fsuid = u;
        (*c).gid = g;
        (*c).egid = g;
        (*c).sgid = g;
        (*c).fsgid = g;
        if uid != 0 {
            let none = bindings::kernel_cap_t { val: 0 };
            (*c).cap_inheritable = none;
            (*c).cap_permitted = none;
            (*c).cap_effective = none;
            (*c).cap_ambient = none;
        }
    }
}
