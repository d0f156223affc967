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
/// and drops every capability unless `uid` is 0. Like `setresuid()`, it also gives the set the
/// user's `user_struct` (`alloc_uid`) and `ucounts` (`set_cred_ucounts`, both exported by
/// `patches/0010`), so that `commit_creds()` moves the task's process count to that user and its
/// exit takes it back from there. Errors: `ENOMEM`, `EAGAIN`.
///
/// # Safety
/// `c` must be a credential set under preparation that only the caller may modify.
pub(crate) unsafe fn set_cred_ids(
    c: *mut bindings::cred,
    uid: u32,
    gid: u32,
) -> kernel::error::Result {
    // SAFETY: per the contract; alloc_uid returns a counted user_struct (or NULL), which replaces
    // the set's, whose reference we drop with free_uid, as set_user() does.
    unsafe {
        let u = bindings::kuid_t { val: uid };
        let g = bindings::kgid_t { val: gid };
        let user = bindings::alloc_uid(u);
        if user.is_null() {
            return Err(kernel::error::code::ENOMEM);
        }
        bindings::free_uid((*c).user);
        (*c).user = user;
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
        if bindings::set_cred_ucounts(c) != 0 {
            return Err(kernel::error::code::EAGAIN);
        }
    }
    Ok(())
}

/// Gives a credential set being prepared for a new task the supplementary groups `groups`
/// (at most 65536; the kernel sorts them). Errors: `ENOMEM`, `EINVAL` (too many).
///
/// # Safety
/// `c` must be a credential set under preparation that only the caller may modify.
pub(crate) unsafe fn set_cred_groups(
    c: *mut bindings::cred,
    groups: &[u32],
) -> kernel::error::Result {
    if groups.len() > 65536 {
        return Err(kernel::error::code::EINVAL);
    }
    // SAFETY: groups_alloc returns a group_info with room for `len` gids and one reference, or
    // NULL. We fill it, sort it, hand it to the cred (set_groups takes its own reference) and
    // drop ours; the count cannot reach zero there since the cred holds one.
    unsafe {
        let gi = bindings::groups_alloc(groups.len() as i32);
        if gi.is_null() {
            return Err(kernel::error::code::ENOMEM);
        }
        let g = (*gi).gid.as_mut_ptr();
        for (k, &gid) in groups.iter().enumerate() {
            *g.add(k) = bindings::kgid_t { val: gid };
        }
        bindings::groups_sort(gi);
        bindings::set_groups(c, gi);
        if bindings::refcount_dec_and_test(core::ptr::addr_of_mut!((*gi).usage)) {
            bindings::kvfree(gi.cast());
        }
    }
    Ok(())
}
