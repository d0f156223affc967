// SPDX-License-Identifier: GPL-2.0
//! The guest: a process running on a remote node, its system-call hook and its way home.

use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::uaccess::UserSlice;

use super::Migration;
use crate::kapi::migration::SyscallRegs;
use crate::kapi::task::{self, TaskRef};
use crate::kapi::uctx::{self, UserCtx};
use crate::proto::mig as wire;
use crate::proto::MsgType;
use crate::syscalls::{self, Class};
use crate::uapi::{cantmove, cantmove_str, pstate};

use super::exec::guest_exec;
use super::fork::{drop_unclaimed, guest_fork};
use super::forward::{exchange, forward, forward_msg, forward_vectored};
use super::image::{drain, holding_signals, install, restart_on_return, stream, Frozen};
use super::imagefiles::{take_files, Named};
use super::mapfile::guest_map;
use super::record::Guest;
use super::record::Role;
use super::record::{Item, Proc};
use super::{neg, send_ctl, send_gone, MigError, INSTALL_MS, SIGKILL, STEP_MS};
use crate::counters;
use crate::kapi::errno;

/// Sends the calling guest home with its state (`rewound` registers when it goes home to run
/// a system call there), then ends the guest's task here. Once home answered that it installed
/// the image, the move is committed: the signals that arrived here meanwhile are handed back
/// (with their siginfo, in order) and GO lets the process run at home.
///
/// Home may answer that it could not install the image (short of memory): its deputy is a
/// deputy again, and the process runs on here as before, its signals as they were. Returns
/// that answer's `cantmove` reason then, and whoever asked for the move learns it.
pub(super) fn go_home(
    u: &UserCtx,
    mig: &Arc<Migration>,
    p: &Arc<Proc>,
    rewound: Option<&[u64; uctx::NREGS]>,
) -> Option<u32> {
    let me = TaskRef::current();
    let r = holding_signals(
        u,
        |held| -> Result<u32> {
            let vmas = u.vmas()?;
            let vdso = u.vdso_addr();
            drain(p);
            let frozen = Frozen { held, rewound };
            super::readahead::flush(mig, p);
            // The files its areas map here, named to home: those home holds are mapped there.
            let named = Named::offer(u, mig, p, p.home, &vmas, vdso)?;
            let mut flow = stream(u, mig, p, p.home, &vmas, vdso, &frozen, &named)?;
            match p.pop(INSTALL_MS, false)? {
                Item::Answer(a) if a.status == 0 => {}
                Item::Answer(a) => return Ok(a.status),
                _ => return Err(EIO),
            }
            // Committed: home has the only copy that will run. What cannot be sent now is
            // lost only with home itself.
            let mut late = KVec::new();
            let _ = u.take_signals(&mut late);
            let _ = flow.send_signals(&late, 0);
            let _ = send_ctl(mig, p.home, p.token, wire::ctl::GO, 0);
            Ok(0)
        },
        |r| matches!(r, Ok(s) if *s != 0),
    );
    if let Some(&reason) = r.as_ref().ok().filter(|&&s| s != 0) {
        pr_warn!(
            "migration: guest {} of node {} could not go home ({}); it runs on here\n",
            p.home_pid,
            p.home,
            cantmove_str(reason)
        );
        p.set_state(|i| i.result = Some(Err(MigError::new(EIO, reason))));
        p.cv.notify_all();
        return Some(reason);
    }
    if let Err(e) = r {
        pr_warn!(
            "migration: guest {} of node {} could not go home ({:?}); ending it\n",
            p.home_pid,
            p.home,
            e
        );
        let _ = send_gone(mig, p.home, p.token, SIGKILL as u32, u.cputime().totals());
    }
    p.set_state(|i| i.finished = true);
    mig.reg.remove(p);
    let _ = me.send_signal(SIGKILL);
    None
}

/// A guest's system-call entry: the first one installs the image; then each call runs here,
/// is forwarded, or sends the process home.
pub(super) fn guest_enter(
    u: &UserCtx,
    mig: &Arc<Migration>,
    p: &Arc<Proc>,
    regs: &mut SyscallRegs,
) -> bool {
    let state = p.inner.lock().role.pstate();
    if state == pstate::MIGRATING {
        let r = take_files(mig, p, p.home)
            .and_then(|(state, held)| install(u, mig, p, &state, false, held));
        let status = r.as_ref().err().copied().unwrap_or(0);
        let a = wire::Answer {
            token: p.token,
            status,
            pid: task::current_pid() as u32,
        };
        let sent = mig.net.send_to(p.home, MsgType::MigAnswer, &[&a.encode()]);
        let go = status == 0 && sent.is_ok() && await_go(p);
        if !go {
            if status == 0 && sent.is_ok() {
                // Killed here before the GO: home, waiting for our confirmation, keeps the
                // process.
                let _ = send_ctl(mig, p.home, p.token, wire::ctl::GONE, SIGKILL as u32);
            }
            p.set_state(|i| i.finished = true);
            mig.reg.remove(p);
            let _ = TaskRef::current().send_signal(SIGKILL);
            return true;
        }
        counters::bump(&mig.stats.guests);
        let pending_home = {
            let mut i = p.inner.lock();
            let go_home = matches!(i.role, Role::Arriving { go_home: true });
            i.role = Role::Guest(Guest::default());
            i.nmigs += 1;
            i.epoch += 1;
            go_home
        };
        p.cv.notify_all();
        // The image's pending signals first: those home forwards after our confirmation
        // arrived later.
        if let Ok(installed) = r {
            let lost = u.queue_signals(&installed.signals);
            counters::add(&mig.stats.signals_lost, lost as u64);
        }
        let _ = send_ctl(mig, p.home, p.token, wire::ctl::RUNNING, 0);
        restart_on_return(u);
        if pending_home {
            let _ = go_home(u, mig, p, None);
        }
        return true;
    }
    if p.inner.lock().finished {
        return false;
    }
    drop_unclaimed(mig, p);
    let nr = regs.nr();
    let args = regs.args();
    if nr == syscalls::nr::RT_SIGACTION {
        tell_sigaction(u, mig, p, &args);
    }
    match syscalls::classify(nr, &args) {
        Class::Local => false,
        Class::Forward(f) => forward_call(u, mig, p, regs, &f),
        Class::Vectored(v) => {
            let r = forward_vectored(mig, p, &args, &v);
            regs.set_result(r);
            true
        }
        Class::Msg(send) => {
            if let Some(r) = forward_msg(mig, p, &args, send) {
                regs.set_result(r);
            } else {
                call_at_home(u, mig, p, regs);
            }
            true
        }
        Class::Fork => guest_fork(u, mig, p, regs),
        Class::Exec => guest_exec(u, mig, p, regs),
        Class::MapFile => {
            guest_map(u, mig, p, regs);
            true
        }
        Class::Home => {
            call_at_home(u, mig, p, regs);
            true
        }
    }
}

/// A guest's `rt_sigaction` runs here. When it changes what the deputy must do with the signal
/// at home (catch it and forward it, or leave it ignored: the `SIGCHLD` of a child that ends at
/// home reaches a shell waiting here only if its deputy catches it), the deputy learns the new
/// handler and flags first (its reply only says it took them). Nothing is sent for a call that
/// fails here (a bad signal, size or address): its action does not change.
fn tell_sigaction(u: &UserCtx, mig: &Migration, p: &Proc, args: &[u64; 6]) {
    let (sig, act, size) = (args[0], args[1], args[3]);
    let fixed = [super::SIGKILL, super::signo::SIGSTOP].map(|s| s as u64);
    if act == 0 || size != 8 || !(1..=64).contains(&sig) || fixed.contains(&sig) {
        return;
    }
    let mut buf = [0u8; 16];
    if UserSlice::new(act as usize, 16)
        .reader()
        .read_slice(&mut buf)
        .is_err()
    {
        return;
    }
    let word = |k: usize| u64::from_ne_bytes(buf[k..k + 8].try_into().unwrap_or([0; 8]));
    let new = [word(0), word(8)];
    let cur = u.signals().actions[sig as usize - 1];
    if uctx::deputy_sees_change(sig as u32, [cur[0], cur[1]], new) {
        let a = [sig, new[0], new[1], 0, 0, 0];
        let _ = exchange(mig, p, syscalls::nr::RT_SIGACTION, &a, &[], false);
    }
}

/// A guest's call of the forwarded class: the deputy runs it at home. Returns whether the call
/// is done (its result set): `exit` and `exit_group` also end the process here.
fn forward_call(
    u: &UserCtx,
    mig: &Arc<Migration>,
    p: &Arc<Proc>,
    regs: &mut SyscallRegs,
    f: &syscalls::Forward,
) -> bool {
    let (nr, mut args) = (regs.nr(), regs.args());
    if f.oneway {
        // exit and exit_group: the deputy ends the process at home, with the CPU time it used
        // here (in the call's unused arguments 3..5).
        args[3..6].copy_from_slice(&u.cputime().totals());
        let _ = forward(mig, p, nr, &args, f);
        p.set_state(|i| i.finished = true);
        mig.reg.remove(p);
        return false; // exit here too
    }
    let local = match nr {
        syscalls::nr::READ if args[2] > 0 => {
            Some(super::readahead::read(mig, p, args[0], args[1], args[2]))
        }
        syscalls::nr::WRITE if args[2] > 0 => {
            super::readahead::write(mig, p, args[0], args[1], args[2])
        }
        _ => None,
    };
    let r = local.unwrap_or_else(|| forward(mig, p, nr, &args, f));
    if nr == syscalls::nr::TIMES && r >= 0 && args[0] != 0 {
        own_times(u, args[0]);
    }
    if r == 0 {
        own_limit(u, p, nr, &args);
        own_name(u, p, nr, &args);
    }
    regs.set_result(r);
    true
}

/// `times()` of a guest was forwarded for its children's times and its result (home's clock
/// ticks, which do not jump when the process moves); its own user and system time (the first
/// two fields of the `struct tms` at user address `buf`) are the ones counted here, which
/// include the CPU time it used on every node. In clock ticks (`USER_HZ`, 100 on x86-64).
fn own_times(u: &UserCtx, buf: u64) {
    const NS_PER_TICK: u64 = 10_000_000;
    let (ut, st) = u.cputime().adjusted();
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&(ut / NS_PER_TICK).to_ne_bytes());
    b[8..].copy_from_slice(&(st / NS_PER_TICK).to_ne_bytes());
    // A buffer the process unmapped meanwhile keeps home's values.
    let _ = UserSlice::new(buf as usize, b.len())
        .writer()
        .write_slice(&b);
}

/// A resource limit the process set while away (`setrlimit`, or `prlimit64` of itself with a
/// new limit; forwarded, it succeeded at home, where descriptors are opened) holds here too:
/// the same value is set on this task, and `RLIMIT_CPU` armed again (with the process's CPU on
/// every node counted). The value is read back from the process's memory as the call passed it;
/// one that the process changed meanwhile or that is not a valid limit is left out.
fn own_limit(u: &UserCtx, p: &Proc, nr: u64, args: &[u64; 6]) {
    const RLIMIT_CPU: u64 = 0;
    let (resource, at) = match nr {
        syscalls::nr::SETRLIMIT => (args[0], args[1]),
        syscalls::nr::PRLIMIT64
            if (args[0] == 0 || args[0] == p.home_pid as u64) && args[2] != 0 =>
        {
            (args[1], args[2])
        }
        _ => return,
    };
    let mut b = [0u8; 16];
    if resource >= wire::NRLIMITS as u64
        || UserSlice::new(at as usize, b.len())
            .reader()
            .read_slice(&mut b)
            .is_err()
    {
        return;
    }
    let [cur, max] = [0, 8].map(|k| u64::from_ne_bytes(b[k..k + 8].try_into().unwrap_or([0; 8])));
    if cur > max {
        return;
    }
    u.set_rlimit(resource as usize, cur, max);
    if resource == RLIMIT_CPU {
        u.set_cpu_timers(&u.cputime());
    }
}

/// A name the process gave itself while away (`prctl(PR_SET_NAME)`, forwarded: its deputy took
/// it at home) is its name here too, read back from its memory as the call passed it.
fn own_name(u: &UserCtx, p: &Proc, nr: u64, args: &[u64; 6]) {
    if nr != syscalls::nr::PRCTL || args[0] != syscalls::pr::SET_NAME {
        return;
    }
    let mut b = [0u8; 16];
    if UserSlice::new(args[1] as usize, b.len())
        .reader()
        .read_slice(&mut b)
        .is_ok()
    {
        b[15] = 0;
        u.set_comm(&b);
        p.inner.lock().comm = b;
    }
}

/// Waits for home's GO after the answer, as long as home lives (delivery is exactly once):
/// `false` when home is gone (`EHOSTUNREACH`), aborted the move (its KILL) or the task is
/// killed here.
fn await_go(p: &Proc) -> bool {
    loop {
        match p.pop(STEP_MS, false) {
            Ok(Item::Ctl(c)) if c.op == wire::ctl::GO => return true,
            Err(e) if e == errno::etimedout() => {}
            _ => return false,
        }
    }
}

/// The process goes home to make the system call it is in (the call is rewound: it runs again
/// there).
pub(super) fn call_at_home(
    u: &UserCtx,
    mig: &Arc<Migration>,
    p: &Arc<Proc>,
    regs: &mut SyscallRegs,
) {
    regs.rewind();
    let refused = match u.regs() {
        Ok(r) => go_home(u, mig, p, Some(&r)),
        Err(_) => go_home(u, mig, p, None),
    };
    // Home could not take the process: the call fails here as it would have failed there
    // (rewound, it would only go home again).
    if let Some(reason) = refused {
        regs.unrewind();
        let e = if reason == cantmove::TARGET_NOMEM {
            ENOMEM
        } else {
            EAGAIN
        };
        regs.set_result(neg(e));
    }
}
