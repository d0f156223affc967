// SPDX-License-Identifier: GPL-2.0
//! The system call the user task running the hook was interrupted in: whether its registers
//! show one, and the kernel state its restart needs (its restart block and the signal mask it
//! restores), taken and given as [`Restart`] through the helpers of `patches/0011`
//! (`kernel/restart_carry.c`), so that a process asleep in a system call can move.
//!
//! C header: `include/linux/restart_block.h` (`struct restart_carry`, with `patches/0011`).

use kernel::bindings;
use kernel::prelude::*;

use super::{cur_regs, UserCtx};
use crate::proto::restart::{self, Restart, ERESTART_RESTARTBLOCK, MAX_SYSCALL_NR};

impl UserCtx {
    /// Whether current is on its way back to user mode from a system call that the kernel is
    /// about to restart (rax holds a `-ERESTART*` code: see [`restart::interrupted`]).
    pub(crate) fn in_interrupted_call(&self) -> bool {
        let p = cur_regs();
        // SAFETY: `p` is current's user register frame (a `UserCtx` exists), read by current.
        let (ax, orig) = unsafe { ((*p).ax as u64, (*p).orig_ax as u64) };
        restart::interrupted(&regs_ax(ax, orig)).is_some()
    }

    /// Current was interrupted in a system call that the kernel is about to run again from its
    /// registers (rax `-ERESTARTSYS`, `-ERESTARTNOINTR` or `-ERESTARTNOHAND`): it does not,
    /// and the call returns that code to user mode instead (a deputy's stub reports it to the
    /// remote, which restarts the call where the process goes). Returns whether it was such a
    /// call; anything else (a finished call, one restarting through its restart block) is left
    /// as it is. Called from task work on the way back to user mode, where the kernel decides
    /// on the restart after the task work ran (`arch_do_signal_or_restart`).
    ///
    /// A `poll` without a timeout is first made to restart by running again
    /// ([`restart_poll_by_registers`](Self::restart_poll_by_registers)).
    pub(crate) fn cancel_restart(&self) -> bool {
        self.restart_poll_by_registers();
        let p = cur_regs();
        // SAFETY: `p` is current's user register frame (a `UserCtx` exists), read by current.
        let (ax, orig) = unsafe { ((*p).ax as u64, (*p).orig_ax as u64) };
        match restart::interrupted(&regs_ax(ax, orig)) {
            Some(c) if !c.block => {
                // SAFETY: as above, and current alone writes its own frame here; orig_ax -1
                // means "no system call to restart" to the signal code.
                unsafe { (*p).orig_ax = -1i64 as _ };
                true
            }
            _ => false,
        }
    }

    /// Current was interrupted in a `poll` without a timeout, which the kernel restarts through
    /// its restart block (`do_restart_poll`): it restarts by running again instead, which does
    /// the same (the same descriptors, no time to count), wherever it runs, so that the call
    /// needs no restart block (rax becomes `-ERESTARTNOHAND`, the block is cleared). Returns
    /// whether it was such a call.
    pub(crate) fn restart_poll_by_registers(&self) -> bool {
        let p = cur_regs();
        // SAFETY: `p` is current's user register frame (a `UserCtx` exists), read by current.
        let (ax, orig) = unsafe { ((*p).ax as u64, (*p).orig_ax as u64) };
        if !restart::interrupted(&regs_ax(ax, orig)).is_some_and(|c| c.block) {
            return false;
        }
        match self.save_restart(true) {
            Ok(b) if b.kind == restart::kind::POLL && b.flags == 0 => self.forget_restart(),
            _ => return false,
        }
        // SAFETY: as above; current alone writes its own frame here.
        unsafe { (*p).ax = restart::ERESTARTNOHAND as _ };
        true
    }

    /// The state of current's interrupted call beyond its registers: its restart block when
    /// `block` (the call returned `-ERESTART_RESTARTBLOCK`) and the signal mask it restores.
    /// Errors: `EOPNOTSUPP` for a restart block that cannot be carried (a CPU-clock or alarm
    /// sleep, a compat task): the call then restarts where the process is.
    pub(crate) fn save_restart(&self, block: bool) -> Result<Restart> {
        let mut c = bindings::restart_carry::default();
        // SAFETY: `c` is a valid, writable restart_carry; the helper reads only current.
        let r = unsafe { bindings::restart_carry_save(&mut c, block) };
        if r != 0 {
            return Err(Error::from_errno(r));
        }
        Ok(Restart {
            kind: c.kind,
            flags: c.flags,
            time_ns: c.time_ns,
            uaddr: c.uaddr,
            val: c.val,
            bitset: c.bitset,
            saved_sigmask: c.saved_sigmask,
            has_saved_sigmask: c.has_saved_sigmask != 0,
        })
    }

    /// Gives current the interrupted call `r` describes (its restart block, the mask it
    /// restores): the kernel restarts it when current returns to user mode through its signal
    /// code ([`crate::kapi::task::TaskRef::add_work_interrupting`]) with the call's registers.
    /// Nothing changes on error. Errors: `EINVAL` for a malformed `r`, `ERANGE` for a time out
    /// of range (checked by the kernel's helper).
    pub(crate) fn load_restart(&self, r: &Restart) -> Result {
        let c = bindings::restart_carry {
            kind: r.kind,
            flags: r.flags,
            time_ns: r.time_ns,
            uaddr: r.uaddr,
            val: r.val,
            bitset: r.bitset,
            saved_sigmask: r.saved_sigmask,
            has_saved_sigmask: u32::from(r.has_saved_sigmask),
            pad: 0,
        };
        // SAFETY: `c` is a valid restart_carry; the helper validates it and changes only
        // current, which is running this.
        let e = unsafe { bindings::restart_carry_load(&c) };
        if e != 0 {
            return Err(Error::from_errno(e));
        }
        Ok(())
    }

    /// current no longer restarts the call it was interrupted in (its process moved on, or the
    /// task becomes a deputy's stub): its restart block and restored mask are cleared.
    pub(crate) fn forget_restart(&self) {
        // SAFETY: changes only current's restart block and its restore-mask flag.
        unsafe { bindings::restart_carry_forget() };
    }
}

/// A register array with just rax and orig_rax set, for [`restart::interrupted`].
fn regs_ax(ax: u64, orig: u64) -> [u64; crate::proto::mig::NREGS] {
    let mut r = [0u64; crate::proto::mig::NREGS];
    r[restart::REG_AX] = ax;
    r[restart::REG_ORIG_AX] = orig;
    r
}

/// The value of orig_rax that [`UserCtx::set_regs`] installs with registers `r`: their own when
/// they show an interrupted call (the kernel restarts it), -1 otherwise (no call to restart).
pub(super) fn orig_ax_of(r: &[u64; crate::proto::mig::NREGS]) -> u64 {
    match restart::interrupted(r) {
        Some(_) => r[restart::REG_ORIG_AX],
        None => u64::MAX,
    }
}

// The codes and bound of `proto::restart` are the kernel's.
const _: () = assert!(ERESTART_RESTARTBLOCK == -(bindings::ERESTART_RESTARTBLOCK as i64));
const _: () = assert!(MAX_SYSCALL_NR >= bindings::__NR_syscalls as u64);
