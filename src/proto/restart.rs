// SPDX-License-Identifier: GPL-2.0
//! An interrupted system call in a process's image: which registers show one, and the kernel
//! state its restart needs ([`Restart`], part of [`super::mig::State`]). Pure `core` Rust.
//!
//! A process asleep in an interruptible wait moves the way the kernel handles a stop and
//! continue: the sleep is interrupted, the call returns a `-ERESTART*` code with the call number
//! still in `orig_rax`, and the process is frozen there. The receiving kernel finishes the
//! return to user space through its signal code, which restarts the call (runs it again, or
//! `restart_syscall()` with the carried restart block), or makes it fail with `EINTR` when a
//! handler runs, exactly as it would have on the sending node. The restart codes and their
//! rules are Linux's (`include/linux/errno.h`, `arch/x86/kernel/signal.c`); the kinds are those
//! of `patches/0011` (`struct restart_carry`).

use super::mig::{MAX_CLOCK_NS, NREGS, USER_TOP};
use super::{be32, be64, put32, put64, ProtoError};

/// Index of rax in a register array (`State::regs`).
pub const REG_AX: usize = 10;
/// Index of orig_rax in a register array.
pub const REG_ORIG_AX: usize = 15;
/// Highest system-call number a restart may name (`NR_syscalls` of x86-64 is below it).
pub const MAX_SYSCALL_NR: u64 = 1023;
/// `-ERESTARTSYS`: restart unless a handler without `SA_RESTART` runs.
pub const ERESTARTSYS: i64 = -512;
/// `-ERESTARTNOINTR`: always restart.
pub const ERESTARTNOINTR: i64 = -513;
/// `-ERESTARTNOHAND`: restart unless a handler runs.
pub const ERESTARTNOHAND: i64 = -514;
/// `-ERESTART_RESTARTBLOCK`: restart through `restart_syscall()` unless a handler runs.
pub const ERESTART_RESTARTBLOCK: i64 = -516;
/// Encoded size of a [`Restart`].
pub const RESTART_LEN: usize = 48;

/// [`Restart::kind`] values (`RESTART_CARRY_*` of `patches/0011`).
pub mod kind {
    /// No restart block (the call restarts by running again).
    pub const NONE: u32 = 0;
    /// A relative `nanosleep`/`clock_nanosleep` on an hrtimer clock.
    pub const NANOSLEEP: u32 = 1;
    /// A futex wait with a timeout.
    pub const FUTEX: u32 = 2;
    /// A `poll` with a timeout.
    pub const POLL: u32 = 3;
}

/// How the registers show an interrupted call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interrupted {
    /// The call returned `-ERESTART_RESTARTBLOCK`: its restart needs the restart block.
    pub block: bool,
}

/// Whether `regs` (the order of `State::regs`) are those of a task interrupted in a system call
/// that the kernel restarts: rax holds one of the four restart codes and orig_rax a call number.
pub fn interrupted(regs: &[u64; NREGS]) -> Option<Interrupted> {
    if regs[REG_ORIG_AX] > MAX_SYSCALL_NR {
        return None;
    }
    match regs[REG_AX] as i64 {
        ERESTARTSYS | ERESTARTNOINTR | ERESTARTNOHAND => Some(Interrupted { block: false }),
        ERESTART_RESTARTBLOCK => Some(Interrupted { block: true }),
        _ => None,
    }
}

/// What a guest's forwarded call returns for the `result` its home answered, and whether the
/// kernel must then restart it where the guest is: the three codes a call restarts with by
/// running again (a deputy interrupted its call because the process moves, `MigCtl`
/// INTERRUPT) stay, and restart; `-ERESTART_RESTARTBLOCK` cannot (the restart block is home's)
/// and becomes `-EINTR`, as for a call a handler interrupted; the kernel's other internal codes
/// (-515..-529, never a system call's result) become `-EIO`. Anything else is the result.
pub fn forwarded_result(result: i64) -> (i64, bool) {
    const EINTR: i64 = -4;
    const EIO: i64 = -5;
    match result {
        ERESTARTSYS | ERESTARTNOINTR | ERESTARTNOHAND => (result, true),
        ERESTART_RESTARTBLOCK => (EINTR, false),
        -529..=-515 => (EIO, false),
        r => (r, false),
    }
}

/// The kernel state of an interrupted call beyond its registers (`struct restart_carry`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Restart {
    /// [`kind`]: what the restart block holds.
    pub kind: u32,
    /// nanosleep: the clock id; futex: its flags; poll: 1 with a timeout.
    pub flags: u32,
    /// ns left until the call's timeout (a futex on `CLOCK_REALTIME`: its absolute expiry).
    pub time_ns: u64,
    /// nanosleep: where to store the time left (0: nowhere); futex: the word; poll: the array.
    pub uaddr: u64,
    /// futex: the expected value; poll: the number of entries.
    pub val: u32,
    /// futex: the wake-up bitset.
    pub bitset: u32,
    /// The signal mask to restore after a call that set a temporary one (`ppoll`, `pselect6`,
    /// `rt_sigsuspend`, `epoll_pwait`), when `has_saved_sigmask`.
    pub saved_sigmask: u64,
    /// Whether `saved_sigmask` is set.
    pub has_saved_sigmask: bool,
}

impl Restart {
    /// Writes the 48-byte encoding at `out[at..]`: kind u32, flags u32, time_ns, uaddr, val u32,
    /// bitset u32, saved_sigmask, has_saved_sigmask u32, zero u32. `out` must have room.
    pub fn encode(&self, out: &mut [u8], at: usize) {
        put32(out, at, self.kind);
        put32(out, at + 4, self.flags);
        put64(out, at + 8, self.time_ns);
        put64(out, at + 16, self.uaddr);
        put32(out, at + 24, self.val);
        put32(out, at + 28, self.bitset);
        put64(out, at + 32, self.saved_sigmask);
        put32(out, at + 40, u32::from(self.has_saved_sigmask));
        put32(out, at + 44, 0);
    }

    /// Decodes the encoding at `b[at..]` (which must hold [`RESTART_LEN`] bytes) and checks it
    /// against the registers it travels with: a restart block only with
    /// `-ERESTART_RESTARTBLOCK`, which needs one; known kinds; user addresses below
    /// [`USER_TOP`]; times up to [`MAX_CLOCK_NS`]. The kernel checks the rest when it loads it.
    pub fn decode(b: &[u8], at: usize, regs: &[u64; NREGS]) -> Result<Restart, ProtoError> {
        let has = be32(b, at + 40);
        if has > 1 || be32(b, at + 44) != 0 {
            return Err(ProtoError::Reserved);
        }
        let r = Restart {
            kind: be32(b, at),
            flags: be32(b, at + 4),
            time_ns: be64(b, at + 8),
            uaddr: be64(b, at + 16),
            val: be32(b, at + 24),
            bitset: be32(b, at + 28),
            saved_sigmask: be64(b, at + 32),
            has_saved_sigmask: has == 1,
        };
        let call = interrupted(regs);
        let block = call.is_some_and(|i| i.block);
        let fields_ok = r.kind <= kind::POLL && r.uaddr < USER_TOP && r.time_ns <= MAX_CLOCK_NS;
        let empty_block = r.flags == 0 && r.time_ns == 0 && r.uaddr == 0 && r.val == 0;
        if !fields_ok
            || block != (r.kind != kind::NONE)
            || (r.kind == kind::NONE && !(empty_block && r.bitset == 0))
            || (r.has_saved_sigmask && call.is_none())
        {
            return Err(ProtoError::BadField("state.restart"));
        }
        Ok(r)
    }
}
