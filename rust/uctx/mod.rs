// SPDX-License-Identifier: GPL-2.0
//! The user context of the calling task: registers and FPU state ([`regs`]), signals
//! ([`signals`]), memory map ([`mm`]), resource limits and name ([`limits`]), clocks
//! ([`clocks`]), the real-time interval timer ([`timers`]), CPU time and CPU-time timers
//! ([`cputime`]) and the system call it was interrupted in ([`restart`]). Process migration captures these from the migrating task in its own context and
//! installs them into the receiving task, also in its own context.
//!
//! Every operation is a method of [`UserCtx`], a token that only the migration hooks hand out:
//! the system-call entry hook of a marked task ([`crate::kapi::migration::MigrationOps`]) and
//! task work run on the way back to user mode ([`crate::kapi::task::TaskRef::add_work`]). A
//! kernel thread, an ioctl or the receive thread cannot name `current`'s memory map through it.
//!
//! C header: `include/linux/sched.h` (`current`, `PF_KTHREAD`, `PF_EXITING`); the submodules
//! name theirs.

use core::marker::PhantomData;

use kernel::bindings;

pub(crate) use crate::proto::mig::{NMM, NREGS};

pub(crate) mod clocks;
pub(crate) mod cputime;
pub(crate) mod fds;
pub(crate) mod files;
pub(crate) mod limits;
pub(crate) mod mm;
pub(crate) mod openfile;
pub(crate) mod regs;
pub(crate) mod restart;
pub(crate) mod signals;
pub(crate) mod timers;
pub(crate) mod vma;

pub(crate) use cputime::current_cputime;
pub(crate) use files::FileArea;
pub(crate) use mm::{vmf, vvar_size, VmaDesc};
pub(crate) use regs::xstate_size;
pub(crate) use signals::{
    deputy_sees_change, read_user_siginfo, to_kernel, SigInfo, Signals, SIG_DFL,
};

/// Proof that the code holding it runs as `current` in process context, where `current` is a
/// user task with its own memory map: what the system-call entry hook and task work give their
/// callbacks. Every method acts on `current`.
///
/// # Invariants
///
/// While a `UserCtx` exists, `current` is not a kernel thread (`PF_KTHREAD` clear), is not
/// exiting (`PF_EXITING` clear, so `exit_mm` has not run) and has a non-NULL `mm`; it stays so
/// because only `current` itself could change that, and it is busy running the callback. The
/// token is neither `Send`, `Sync` nor `Clone`, and is only lent (`&UserCtx`) for the duration of
/// the callback, so it cannot reach another task or outlive the hook.
pub(crate) struct UserCtx {
    _not_send: PhantomData<*mut ()>,
}

impl UserCtx {
    /// The token for `current` if it satisfies the invariants (see the type), or `None` (a kernel
    /// thread, or task work run from `do_exit`). Only the hooks in `rust/` call this.
    pub(in crate::kapi) fn for_current() -> Option<UserCtx> {
        let t = cur();
        // SAFETY: `current` is valid in process context; `flags` and `mm` of current are only
        // changed by current itself (exec, exit), which is running this.
        let (flags, mm) = unsafe { ((*t).flags, (*t).mm) };
        let user = flags & (bindings::PF_KTHREAD | bindings::PF_EXITING) == 0 && !mm.is_null();
        // INVARIANT: checked just above.
        user.then_some(UserCtx {
            _not_send: PhantomData,
        })
    }
}

/// The calling task.
fn cur() -> *mut bindings::task_struct {
    // SAFETY: always valid in process context.
    unsafe { bindings::get_current() }
}

/// The user register frame of the calling task.
fn cur_regs() -> *mut bindings::pt_regs {
    // SAFETY: the callers hold a `UserCtx`, so `current` is a user task: its pt_regs hold its user
    // registers.
    unsafe { bindings::task_pt_regs(cur()) }
}
