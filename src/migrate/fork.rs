// SPDX-License-Identifier: GPL-2.0
//! Process trees: a migrated process forks where it runs, and its child is a migrated process
//! too, with its own deputy at home.
//!
//! A guest's `fork`, `vfork`, `clone` or `clone3` without shared memory or threads
//! ([`syscalls::Class::Fork`]) goes in two steps, as openMosix forked a remote process:
//! 1. The guest forwards a plain `clone(exit_signal)` with a new token for the child
//!    ([`syscalls::home_fork_args`]). Its deputy runs it at home: the kernel makes the child's
//!    deputy as Linux makes any child (pid, parent, process group and session, a copy of the
//!    descriptor table, credentials, signal actions, limits), and the fork hook
//!    (`patches/0017`, [`on_fork`]) gives it a record with that token, marked, a deputy of a
//!    process that runs where the parent runs. The reply carries the child's pid at home.
//! 2. The guest's own call then runs here with its own flags and `CLONE_PARENT` (a `vfork` parent
//!    sleeps here until its child execs or exits; a `posix_spawn` stack is the child's; the
//!    child is reaped here as it ends, its parent reaps it at home), and the fork hook makes
//!    the child a guest with the record made for it, tells the parent the pid its home gave the
//!    child (its return value and `CLONE_PARENT_SETTID`), and writes that pid for
//!    `CLONE_CHILD_SETTID` as the child returns to user mode.
//!
//! A child that cannot be made on one side is ended on the other: a home child without its
//! guest is killed (its parent reaps it as killed by `SIGKILL`), a guest child without its
//! deputy is never made (the call fails with `EAGAIN`).

use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::uaccess::UserSlice;

use super::forward::forward;
use super::guest::call_at_home;
use super::imagefiles::HeldFiles;
use super::record::{Deputy, Forking, Guest, Proc, Quota, Role};
use super::request::RECORDS_PER_USER;
use super::{neg, send_ctl, Migration, SIGKILL};
use crate::counters;
use crate::kapi::migration::SyscallRegs;
use crate::kapi::sys;
use crate::kapi::task::TaskRef;
use crate::kapi::uctx::UserCtx;
use crate::proto::mig as wire;
use crate::syscalls::{self, clone, nr, Arg};

/// A forwarded call of plain values (the home fork).
const VALUES: syscalls::Forward = syscalls::Forward {
    args: [Arg::Val; 6],
    oneway: false,
    split: syscalls::Split::No,
};

/// What a guest's fork-like call asks for: its flags, exit signal, where the child's tid goes
/// (`CLONE_CHILD_SETTID`, 0: nowhere), and the `clone` that makes the child here.
struct Spec {
    flags: u64,
    exit_signal: u64,
    child_tid: u64,
    /// `clone(flags | CLONE_PARENT, stack, parent_tid, child_tid, tls)`: the child's parent here
    /// is the guest's (the kernel thread that started its shell, which ignores `SIGCHLD`), so
    /// a child that ends here is reaped at once; its parent reaps it at home, through its
    /// deputy. A `clone3` becomes the same `clone`.
    local: [u64; 6],
}

/// The call's [`Spec`], or `None` when the child cannot be made here (the process then goes home
/// for the call): a `clone3` whose `struct clone_args` is unreadable, too short, asks for pids
/// (`set_tid`) or anything [`syscalls::clone_stays`] refuses.
fn spec(nr: u64, args: &[u64; 6]) -> Option<Spec> {
    const SIGCHLD: u64 = 17;
    let settid = |flags: u64, at: u64| {
        if flags & clone::CHILD_SETTID != 0 {
            at
        } else {
            0
        }
    };
    let s = match nr {
        nr::FORK => Spec {
            flags: SIGCHLD,
            exit_signal: SIGCHLD,
            child_tid: 0,
            local: [SIGCHLD | clone::PARENT, 0, 0, 0, 0, 0],
        },
        nr::VFORK => Spec {
            flags: clone::VM | clone::VFORK | SIGCHLD,
            exit_signal: SIGCHLD,
            child_tid: 0,
            local: [
                clone::VM | clone::VFORK | SIGCHLD | clone::PARENT,
                0,
                0,
                0,
                0,
                0,
            ],
        },
        nr::CLONE => Spec {
            flags: args[0],
            exit_signal: args[0] & clone::CSIGNAL,
            child_tid: settid(args[0], args[3]),
            local: [
                args[0] | clone::PARENT,
                args[1],
                args[2],
                args[3],
                args[4],
                0,
            ],
        },
        nr::CLONE3 => {
            if args[1] < clone::ARGS_VER0 {
                return None;
            }
            let mut b = [0u8; clone::ARGS_VER2 as usize];
            let n = args[1].min(clone::ARGS_VER2) as usize;
            UserSlice::new(args[0] as usize, n)
                .reader()
                .read_slice(&mut b[..n])
                .ok()?;
            let f = |k: usize| u64::from_ne_bytes(b[8 * k..8 * k + 8].try_into().unwrap_or([0; 8]));
            // flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
            // set_tid_size, cgroup
            if f(8) != 0 || f(9) != 0 || f(0) & clone::CSIGNAL != 0 {
                return None;
            }
            // The stack grows down: clone's stack pointer is clone3's stack plus its size.
            let sp = if f(5) == 0 {
                0
            } else {
                f(5).checked_add(f(6))?
            };
            Spec {
                flags: f(0),
                exit_signal: f(4),
                child_tid: settid(f(0), f(2)),
                local: [f(0) | f(4) | clone::PARENT, sp, f(3), f(2), f(7), 0],
            }
        }
        _ => return None,
    };
    syscalls::clone_stays(s.flags, s.exit_signal).then_some(s)
}

/// A guest's fork-like call ([`syscalls::Class::Fork`]): forks its deputy at home, makes the
/// child's record here and lets the call run (the fork hook finishes the child). Returns whether
/// the call is done (its result set): it failed at home, here, or went home.
pub(super) fn guest_fork(
    u: &UserCtx,
    mig: &Arc<Migration>,
    p: &Arc<Proc>,
    regs: &mut SyscallRegs,
) -> bool {
    let Some(s) = spec(regs.nr(), &regs.args()) else {
        call_at_home(u, mig, p, regs);
        return true;
    };
    let token = new_token(mig);
    let r = forward(
        mig,
        p,
        nr::CLONE,
        &syscalls::home_fork_args(s.exit_signal, token),
        &VALUES,
    );
    if r <= 0 {
        regs.set_result(if r == 0 { neg(EIO) } else { r });
        return true;
    }
    let call = (regs.nr(), regs.args(), regs.ip());
    // The clone that runs in the call's place leaves the process's registers as its call would:
    // put back on the way to user mode (the child's by `remote_child`).
    let restore = TaskRef::current().add_work(move |u| {
        if let Some(u) = u {
            u.restore_call_args(&call.1, call.0, call.2);
        }
    });
    if restore.is_err() {
        let _ = send_ctl(mig, p.home, token, wire::ctl::KILL, SIGKILL as u32);
        regs.set_result(neg(EAGAIN));
        return true;
    }
    match guest_record(mig, p, token, r as i32) {
        Ok(child) => {
            if let Some(g) = p.inner.lock().guest() {
                g.forking = Some(Forking {
                    child,
                    child_tid: s.child_tid,
                    call,
                });
            }
            regs.set_call(nr::CLONE, &s.local);
            false // the call runs here; `on_fork` finishes the child
        }
        Err(_) => {
            let _ = send_ctl(mig, p.home, token, wire::ctl::KILL, SIGKILL as u32);
            regs.set_result(neg(EAGAIN));
            true
        }
    }
}

/// A token no process of this node has (the home checks its own).
fn new_token(mig: &Migration) -> u64 {
    loop {
        let t = sys::random_u64();
        if t != 0 && mig.reg.by_token(t).is_none() {
            return t;
        }
    }
}

/// The record of the child guest `parent` is about to make, known at home as `home_pid`.
/// Errors: `EDQUOT` when this node holds its most guests (of that home), `ENOSPC`, `ENOMEM`.
fn guest_record(mig: &Migration, parent: &Proc, token: u64, home_pid: i32) -> Result<Arc<Proc>> {
    let child = Proc::new(
        token,
        parent.home,
        home_pid,
        Role::Arriving { go_home: false },
    )?;
    copy_identity(parent, &child, mig.net.self_id());
    let max = mig.net.max_guests() as usize;
    let caps = [
        (Quota::Guests(mig.net.self_id()), max),
        (Quota::Home(parent.home), max.div_ceil(2)),
    ];
    mig.reg.insert(child.clone(), &caps)?;
    Ok(child)
}

/// The child's record takes the parent's name, ids, lock and run mode, and runs at `where_`.
fn copy_identity(parent: &Proc, child: &Proc, where_: u32) {
    let (comm, uid, gid, lock, run, run_node) = {
        let i = parent.inner.lock();
        (i.comm, i.uid, i.gid, i.lock, i.run, i.run_node)
    };
    let mut c = child.inner.lock();
    c.comm = comm;
    c.uid = uid;
    c.gid = gid;
    c.lock = lock;
    c.run = run;
    c.run_node = run_node;
    c.where_ = where_;
}

/// A guest's child record that its call did not claim (the call failed here after its deputy
/// forked at home): the child's deputy is ended, the record dropped. Called on the guest's next
/// system call and when it exits.
pub(super) fn drop_unclaimed(mig: &Migration, p: &Proc) {
    let left = p.inner.lock().guest().and_then(|g| g.forking.take());
    if let Some(f) = left {
        let _ = send_ctl(mig, p.home, f.child.token, wire::ctl::KILL, SIGKILL as u32);
        f.child.set_state(|i| i.finished = true);
        mig.reg.remove(&f.child);
    }
}

/// The deputy takes a forwarded fork ([`syscalls::home_fork`]): remembers the child's token for
/// the fork hook and clears it from the arguments. Errors (answered to the remote): `EAGAIN`
/// when a process here has that token.
pub(super) fn take_home_fork(
    mig: &Migration,
    p: &Proc,
    nr: u64,
    args: &mut [u64; 6],
) -> Result<(), i64> {
    let Some((_, token)) = syscalls::home_fork(nr, args) else {
        // A clone without a child's token is not a guest's fork: a deputy runs no other.
        return if nr == nr::CLONE {
            Err(neg(EINVAL))
        } else {
            Ok(())
        };
    };
    if mig.reg.by_token(token).is_some() {
        return Err(neg(EAGAIN));
    }
    if let Some(d) = p.inner.lock().deputy() {
        d.fork_token = Some(token);
        d.fork_failed = false;
    }
    args[5] = 0;
    Ok(())
}

/// The result the deputy answers for the call it ran: a fork whose child could not be given a
/// record fails with `EAGAIN` (the child was killed).
pub(super) fn home_result(p: &Proc, result: i64) -> i64 {
    let mut i = p.inner.lock();
    let Some(d) = i.deputy() else { return result };
    let forked = d.fork_token.take().is_some();
    let failed = core::mem::take(&mut d.fork_failed);
    if forked && failed {
        neg(EAGAIN)
    } else {
        result
    }
}

/// The fork hook (`patches/0017`): marked current made `child` (pid `nr` here) with `flags`.
/// Returns the pid the parent is told.
pub(super) fn on_fork(mig: &Arc<Migration>, child: &TaskRef, flags: u64, nr: i32) -> i32 {
    let me = TaskRef::current();
    let Some(p) = mig.reg.by_task(&me) else {
        return nr;
    };
    if p.home == mig.net.self_id() {
        if matches!(p.inner.lock().role, Role::Home | Role::Leaving) {
            run_mode_child(mig, &p, child);
        } else {
            home_child(mig, &p, child, nr);
        }
        nr
    } else {
        remote_child(mig, &p, child, flags, nr)
    }
}

/// A process at home with a run mode (`MOSIX_IOC_RUNMODE`, which marks it so that its forks
/// come here) made `child`: the child has the same run mode and lock, and is marked too. A child
/// that cannot be given a record (the registry full) runs without them.
fn run_mode_child(mig: &Migration, p: &Proc, child: &TaskRef) {
    let (run, run_node, lock) = {
        let i = p.inner.lock();
        (i.run, i.run_node, i.lock)
    };
    if run == 0 {
        return;
    }
    match super::request::home_record(mig, child) {
        Ok(c) => {
            {
                let mut i = c.inner.lock();
                i.run = run;
                i.run_node = run_node;
                i.lock = lock;
            }
            child.set_migrated(true);
        }
        Err(e) => pr_warn!(
            "migration: child {} of {} keeps no run mode ({:?})\n",
            child.pid(),
            p.home_pid,
            e
        ),
    }
}

/// A deputy forked for its guest: the child is the deputy of the guest's child, which runs where
/// the parent runs. Without a record for it the child is killed before it runs, and the fork
/// answered with `EAGAIN` ([`home_result`]).
fn home_child(mig: &Migration, p: &Proc, child: &TaskRef, nr: i32) {
    let (token, deputy, where_) = {
        let mut i = p.inner.lock();
        let where_ = i.where_;
        let Some(d) = i.deputy() else { return };
        let Some(token) = d.fork_token else {
            // Not a fork its guest asked for: a deputy runs no other.
            let _ = child.send_signal(SIGKILL);
            return;
        };
        let deputy = Deputy {
            stub: d.stub,
            scratch: d.scratch,
            in_flight: None,
            dfl_stops: d.dfl_stops,
            fork_token: None,
            fork_failed: false,
            // The fork copied the parent deputy's memory, that area included.
            args_area: d.args_area,
            held: HeldFiles::none(),
            read_ahead: None,
        };
        (token, deputy, where_)
    };
    let made = Proc::new(token, mig.net.self_id(), nr, Role::Deputy(deputy)).and_then(|c| {
        copy_identity(p, &c, where_);
        {
            let mut i = c.inner.lock();
            i.task = Some(child.clone());
            i.pid = nr;
        }
        let uid = c.inner.lock().uid;
        mig.reg
            .insert(c, &[(Quota::User(uid), RECORDS_PER_USER * 2)])
    });
    match made {
        Ok(()) => {
            child.set_migrated(true);
            counters::bump(&mig.stats.forks_home);
        }
        Err(e) => {
            pr_warn!(
                "migration: no record for the child of process {} ({:?}); fork fails\n",
                p.home_pid,
                e
            );
            if let Some(d) = p.inner.lock().deputy() {
                d.fork_failed = true;
            }
            let _ = child.send_signal(SIGKILL);
        }
    }
}

/// A guest's own fork call made `child`: it becomes the guest that the record made by
/// [`guest_fork`] describes. Returns the child's pid at home.
fn remote_child(mig: &Migration, p: &Proc, child: &TaskRef, flags: u64, nr: i32) -> i32 {
    let forking = p.inner.lock().guest().and_then(|g| g.forking.take());
    let Some(f) = forking else {
        // A clone the guest did not prepare (it never runs one): the child must not run here
        // as an ordinary process with the guest's memory.
        let _ = child.send_signal(SIGKILL);
        return nr;
    };
    if !syscalls::clone_stays(flags & !(clone::CSIGNAL | clone::PARENT), 0) {
        // Its memory changed the flags since the guest read them (`clone3`).
        let _ = send_ctl(mig, p.home, f.child.token, wire::ctl::KILL, SIGKILL as u32);
        f.child.set_state(|i| i.finished = true);
        mig.reg.remove(&f.child);
        let _ = child.send_signal(SIGKILL);
        return nr;
    }
    let home_pid = f.child.home_pid;
    f.child.set_state(|i| {
        i.task = Some(child.clone());
        i.pid = child.pid();
        i.role = Role::Guest(Guest::default());
    });
    child.set_migrated(true);
    let (at, call) = (f.child_tid, f.call);
    let queued = child.add_work(move |u| {
        if let Some(u) = u {
            u.restore_call_args(&call.1, call.0, call.2);
            if at != 0 {
                let _ = UserSlice::new(at as usize, 4)
                    .writer()
                    .write_slice(&home_pid.to_ne_bytes());
            }
        }
    });
    if queued.is_err() {
        // Its registers would not be those of its call: it must not run.
        f.child.set_state(|i| i.finished = true);
        let _ = send_ctl(mig, p.home, f.child.token, wire::ctl::KILL, SIGKILL as u32);
        mig.reg.remove(&f.child);
        child.set_migrated(false);
        let _ = child.send_signal(SIGKILL);
        return nr;
    }
    counters::bump(&mig.stats.forks);
    home_pid
}
