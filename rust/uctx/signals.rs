// SPDX-License-Identifier: GPL-2.0
//! Signal state of the user task running the hook: actions, blocked mask, pending signals,
//! alternate stack.
//!
//! C header: `include/linux/sched/signal.h`, `include/linux/signal.h`.

use core::{mem, ptr};

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::bindings;
use kernel::ffi::{c_int, c_ulong};
use kernel::prelude::*;
use kernel::uaccess::UserSlice;

use super::{cur, UserCtx};
pub(crate) use crate::proto::signal::SigInfo;
use crate::proto::signal::NATIVE_LEN;

// `SigInfo::{from,to}_native` describe the kernel's own structure.
const _: () = assert!(mem::size_of::<bindings::kernel_siginfo>() == NATIVE_LEN);

/// `info` as the kernel's `kernel_siginfo`.
pub(crate) fn to_kernel(info: &SigInfo) -> bindings::kernel_siginfo {
    let b = info.to_native();
    let mut k = bindings::kernel_siginfo::default();
    // SAFETY: `kernel_siginfo` is plain data of exactly `NATIVE_LEN` bytes (checked above), and
    // `b` holds its fields at the kernel's offsets.
    unsafe {
        ptr::copy_nonoverlapping(b.as_ptr(), ptr::addr_of_mut!(k).cast::<u8>(), NATIVE_LEN);
    };
    k
}

/// Reads the `siginfo_t` a signal handler got at user address `addr` (its first
/// [`NATIVE_LEN`] bytes, laid out as `kernel_siginfo`). `None` if unreadable or invalid.
pub(crate) fn read_user_siginfo(addr: u64) -> Option<SigInfo> {
    let mut b = [0u8; NATIVE_LEN];
    UserSlice::new(addr as usize, NATIVE_LEN)
        .reader()
        .read_slice(&mut b)
        .ok()?;
    SigInfo::from_native(&b)
}

/// Signal state of a process: see `proto::mig::State`.
pub(crate) struct Signals {
    /// Blocked mask (bit n-1 = signal n).
    pub(crate) blocked: u64,
    /// Pending signals (private and shared).
    pub(crate) pending: u64,
    /// sigaltstack base, size, flags.
    pub(crate) ss: (u64, u64, u32),
    /// Actions of signals 1..=64: handler, flags, restorer, mask.
    pub(crate) actions: [[u64; 4]; 64],
}

const SIGKILL_STOP: u64 = (1 << 8) | (1 << 18);

/// Action of a signal at a deputy (see [`set_deputy_actions`]).
pub(crate) const SIG_DFL: u64 = 0;

/// See [`SIG_DFL`].
pub(crate) const SIG_IGN: u64 = 1;

const SA_RESTART: u64 = 0x1000_0000;

const SA_RESTORER: u64 = 0x0400_0000;

/// The handler gets the signal's `siginfo` (its second argument).
const SA_SIGINFO: u64 = 4;

/// Signals whose default action is to ignore them: SIGCHLD, SIGCONT, SIGURG, SIGWINCH.
const DEFAULT_IGNORED: u64 = (1 << 16) | (1 << 17) | (1 << 22) | (1 << 27);

/// `SIGCHLD`'s flags that change what the kernel does for the parent: no `SIGCHLD` for a
/// child's stop (`SA_NOCLDSTOP`), children reaped at once (`SA_NOCLDWAIT`).
const SA_NOCLDSTOP: u64 = 1;
const SA_NOCLDWAIT: u64 = 2;

/// The action a deputy takes for signal `i + 1` when its process's action is `a` (handler,
/// flags, ...): catch it with the stub's `handler` (through `restorer`, with the process's
/// `SA_RESTART`) unless the process ignores it (`SIG_IGN`, or `SIG_DFL` of a signal ignored by
/// default), in which case the deputy has that action too; SIGCONT is always caught (with
/// `SA_RESTART`: the remote must continue too). `SIGCHLD` keeps the process's `SA_NOCLDSTOP`
/// and `SA_NOCLDWAIT` (the deputy is the parent of the children's deputies).
fn deputy_action(i: usize, a: &[u64; 4], handler: u64, restorer: u64) -> [u64; 4] {
    let child = if i == 16 {
        a[1] & (SA_NOCLDSTOP | SA_NOCLDWAIT)
    } else {
        0
    };
    let keep = i != 17 && (a[0] == SIG_IGN || (a[0] == SIG_DFL && DEFAULT_IGNORED & (1 << i) != 0));
    if keep {
        [a[0], child, 0, !0]
    } else {
        let restart = if i == 17 {
            SA_RESTART
        } else {
            a[1] & SA_RESTART
        };
        [
            handler,
            SA_RESTORER | SA_SIGINFO | restart | child,
            restorer,
            !0,
        ]
    }
}

/// Whether a change of a process's action for signal `sig` (1..=64) from `old` to `new`
/// (handler, flags) changes its deputy's ([`deputy_action`]).
pub(crate) fn deputy_sees_change(sig: u32, old: [u64; 2], new: [u64; 2]) -> bool {
    if !(1..=64).contains(&sig) {
        return false;
    }
    let i = sig as usize - 1;
    // Any handler address other than SIG_DFL and SIG_IGN stands for the stub's.
    let of = |a: [u64; 2]| deputy_action(i, &[a[0], a[1], 0, 0], 2, 0);
    of(old) != of(new)
}

/// Rewrites current's signal actions under siglock (irq-safe, as the kernel does): `f(i)` gives
/// the new action of signal `i + 1` as (handler, flags, restorer, mask), or `None` to keep it.
/// SIGKILL and SIGSTOP are never changed, and no mask blocks them.
fn write_actions(mut f: impl FnMut(usize) -> Option<[u64; 4]>) {
    let t = cur();
    // SAFETY: current's sighand is valid while it runs; the actions are written under its siglock;
    // the handler and restorer are user addresses stored as the kernel stores them (the
    // pointer-sized words of the C unions).
    unsafe {
        let sh = (*t).sighand;
        bindings::spin_lock_irq(ptr::addr_of_mut!((*sh).siglock));
        for i in 0..64 {
            if i == 8 || i == 18 {
                continue;
            }
            let Some(a) = f(i) else { continue };
            let sa = ptr::addr_of_mut!((*sh).action[i].sa);
            ptr::write(ptr::addr_of_mut!((*sa).sa_handler).cast::<u64>(), a[0]);
            (*sa).sa_flags = a[1] as c_ulong;
            ptr::write(ptr::addr_of_mut!((*sa).sa_restorer).cast::<u64>(), a[2]);
            (*sa).sa_mask.sig[0] = (a[3] & !SIGKILL_STOP) as c_ulong;
        }
        bindings::spin_unlock_irq(ptr::addr_of_mut!((*sh).siglock));
    }
}

impl UserCtx {
    /// Reads current's signal state.
    pub(crate) fn signals(&self) -> Signals {
        let t = cur();
        let mut s = Signals {
            blocked: 0,
            pending: 0,
            ss: (0, 0, 0),
            actions: [[0; 4]; 64],
        };
        // SAFETY: current's sighand and signal are valid while it runs; the actions and pending sets
        // are read under siglock (irq-safe, as the kernel does); the rest belongs to current.
        unsafe {
            let sh = (*t).sighand;
            bindings::spin_lock_irq(ptr::addr_of_mut!((*sh).siglock));
            s.blocked = (*t).blocked.sig[0] as u64;
            s.pending =
                ((*t).pending.signal.sig[0] | (*(*t).signal).shared_pending.signal.sig[0]) as u64;
            for (i, a) in s.actions.iter_mut().enumerate() {
                let sa = ptr::addr_of!((*sh).action[i].sa);
                a[0] = ptr::read(ptr::addr_of!((*sa).sa_handler).cast::<u64>());
                a[1] = (*sa).sa_flags as u64;
                a[2] = ptr::read(ptr::addr_of!((*sa).sa_restorer).cast::<u64>());
                a[3] = (*sa).sa_mask.sig[0] as u64;
            }
            bindings::spin_unlock_irq(ptr::addr_of_mut!((*sh).siglock));
            s.ss = (
                (*t).sas_ss_sp as u64,
                (*t).sas_ss_size as u64,
                (*t).sas_ss_flags,
            );
        }
        s
    }

    /// Installs a signal state: actions, altstack, blocked mask (the pending signals are the
    /// caller's: [`UserCtx::queue_signals`]).
    pub(crate) fn set_signals(&self, s: &Signals) {
        let t = cur();
        write_actions(|i| Some(s.actions[i]));
        // SAFETY: the altstack belongs to current, which is running this.
        unsafe {
            (*t).sas_ss_sp = s.ss.0 as c_ulong;
            (*t).sas_ss_size = s.ss.1 as usize;
            (*t).sas_ss_flags = s.ss.2;
        }
        self.set_blocked(s.blocked);
    }

    /// Gives current (a deputy) actions that catch every signal the process would notice with a
    /// handler at `handler` (returning through `restorer`; `SA_SIGINFO`: rsi holds the signal's
    /// `siginfo`), all signals blocked while it runs, and
    /// SA_RESTART as the process had it; signals the process ignores (or ignores by default) keep that
    /// disposition, so system calls run for it are interrupted exactly when they would have been.
    /// `process` is the process's own actions (from its image).
    pub(crate) fn set_deputy_actions(&self, process: &[[u64; 4]; 64], handler: u64, restorer: u64) {
        write_actions(|i| Some(deputy_action(i, &process[i], handler, restorer)));
    }

    /// [`set_deputy_actions`](Self::set_deputy_actions) for signal `sig` alone (1..=64; others
    /// are ignored): the process's action `process` (handler, flags) changed where it runs.
    pub(crate) fn set_deputy_action(
        &self,
        sig: u32,
        process: [u64; 2],
        handler: u64,
        restorer: u64,
    ) {
        let a = [process[0], process[1], 0, 0];
        write_actions(|i| (i + 1 == sig as usize).then(|| deputy_action(i, &a, handler, restorer)));
    }

    /// The process executed a new program where it runs: its handlers are now `SIG_DFL` (exec
    /// keeps only ignored signals ignored), so a deputy stops catching the signals that are
    /// ignored by default (SIGCONT excepted) and `SIGCHLD` loses its flags.
    pub(crate) fn deputy_exec_reset(&self) {
        let t = cur();
        // SAFETY: current's sighand is valid while it runs; read under its siglock.
        let caught: u64 = unsafe {
            let sh = (*t).sighand;
            bindings::spin_lock_irq(ptr::addr_of_mut!((*sh).siglock));
            let mut m = 0u64;
            for i in 0..64 {
                let h = ptr::read(ptr::addr_of!((*sh).action[i].sa.sa_handler).cast::<u64>());
                if h != SIG_DFL && h != SIG_IGN {
                    m |= 1 << i;
                }
            }
            bindings::spin_unlock_irq(ptr::addr_of_mut!((*sh).siglock));
            m
        };
        let reset = caught & DEFAULT_IGNORED & !(1 << 17);
        write_actions(|i| (reset & (1 << i) != 0).then_some([SIG_DFL, 0, 0, 0]));
    }

    /// Makes current (a deputy) catch signal `sig` again with the stub handler (see
    /// [`set_deputy_actions`]), with `SA_RESTART`.
    pub(crate) fn set_catch_action(&self, sig: u32, handler: u64, restorer: u64) {
        write_actions(|i| {
            (i + 1 == sig as usize).then_some([
                handler,
                SA_RESTORER | SA_SIGINFO | SA_RESTART,
                restorer,
                !0,
            ])
        });
    }

    /// Sets the action of signal `sig` (1..=64) of current to its default, so that sending it ends
    /// the task as the signal's default action does.
    pub(crate) fn set_default_action(&self, sig: u32) {
        write_actions(|i| (i + 1 == sig as usize).then_some([SIG_DFL, 0, 0, 0]));
    }

    /// Sets current's blocked mask (SIGKILL and SIGSTOP can never be blocked).
    pub(crate) fn set_blocked(&self, mask: u64) {
        let mut set = bindings::sigset_t {
            sig: [(mask & !SIGKILL_STOP) as c_ulong],
        };
        // SAFETY: `set` is a valid sigset; sigprocmask with SIG_SETMASK and no old set.
        unsafe { bindings::sigprocmask(bindings::SIG_SETMASK as c_int, &mut set, ptr::null_mut()) };
    }

    /// Takes every signal pending for current but SIGKILL, with its `siginfo`, in
    /// the order the kernel would deliver them (`dequeue_signal`: the thread's own queue before
    /// the process's, lower numbers first, each signal's queue in arrival order), appending
    /// them to `out`. Errors: `ENOMEM` (the signal that did not fit is sent back to current).
    pub(crate) fn take_signals(&self, out: &mut KVec<SigInfo>) -> Result {
        let t = cur();
        // SIGKILL stays: the task is dying.
        let mut keep = bindings::sigset_t {
            sig: [1 << 8 as c_ulong],
        };
        loop {
            let mut k = bindings::kernel_siginfo::default();
            let mut ty: bindings::pid_type = bindings::pid_type_PIDTYPE_PID;
            // SAFETY: `dequeue_signal` takes current's signals under its siglock (irq-safe, as
            // the kernel does), which it expects held; `k` and `ty` are valid for writes.
            let sig = unsafe {
                let sh = (*t).sighand;
                bindings::spin_lock_irq(ptr::addr_of_mut!((*sh).siglock));
                let sig = bindings::dequeue_signal(&mut keep, &mut k, &mut ty);
                bindings::spin_unlock_irq(ptr::addr_of_mut!((*sh).siglock));
                sig
            };
            if sig <= 0 {
                return Ok(());
            }
            // SAFETY: `k` is plain data of `NATIVE_LEN` bytes (see `to_kernel`).
            let b =
                unsafe { core::slice::from_raw_parts(ptr::addr_of!(k).cast::<u8>(), NATIVE_LEN) };
            let info = SigInfo::from_native(b).unwrap_or(SigInfo::kernel(sig as u32));
            if let Err(e) = out.push(info, GFP_KERNEL) {
                self.queue_signals(&[info]);
                return Err(e.into());
            }
        }
    }

    /// Queues `infos` for current in order, each with its `siginfo` (`send_sig_info`); returns
    /// how many the kernel refused (a real-time signal beyond `RLIMIT_SIGPENDING`).
    pub(crate) fn queue_signals(&self, infos: &[SigInfo]) -> usize {
        let t = cur();
        let mut refused = 0;
        for info in infos {
            let mut k = to_kernel(info);
            // SAFETY: sending a signal with a valid siginfo to current.
            if unsafe { bindings::send_sig_info(info.signo as c_int, &mut k, t) } != 0 {
                refused += 1;
            }
        }
        refused
    }

    /// Discards current's pending signals (they were handed over with the process's state).
    pub(crate) fn flush_signals(&self) {
        // SAFETY: flushing current's own signals.
        unsafe { bindings::flush_signals(cur()) };
    }
}
