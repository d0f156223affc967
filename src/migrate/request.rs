// SPDX-License-Identifier: GPL-2.0
//! Migration requests (ioctl or balancer thread): checks, the request to the task, waiting for the outcome.

use kernel::prelude::*;
use kernel::sync::Arc;

use super::Migration;
use crate::kapi::task::TaskRef;
use crate::kapi::{errno, sys};
use crate::proto::mig as wire;
use crate::uapi::{cantmove, pstate};
use crate::wait::{wait_until, WaitEnd};

use super::guest::go_home;
use super::image::ready_to_carry_call;
use super::out::migrate_out;
use super::record::Quota;
use super::record::Role;
use super::record::{Inner, Proc};
use super::send_ctl;
use super::view::cantmove_of;
use super::MigError;
use super::MigResult;
use crate::kapi::uctx::UserCtx;

/// How long `MOSIX_IOC_MIGRATE` waits for the process to reach a safe point.
pub(super) const SAFE_POINT_MS: u32 = 30_000;
/// How long `MOSIX_IOC_MIGRATE` waits in all.
pub(super) const IOCTL_MS: u32 = 240_000;

/// Whether the caller may control `t` (migrate it, lock it, send it home): the kernel's
/// ptrace-attach rule ([`TaskRef::may_attach`]: same credentials and dumpable, or
/// `CAP_SYS_PTRACE`, and the LSMs' word), or `CAP_SYS_ADMIN`. Moving a process hands its whole
/// user context to another machine: as much power over it as a debugger has.
pub(super) fn may_control(t: &TaskRef) -> bool {
    t.may_attach() || crate::kapi::cred::capable_sys_admin()
}

/// Most records the processes of one user may hold on a node (a quarter of the registry),
/// unless the caller creating one has `CAP_SYS_ADMIN`: one user locking or migrating many
/// processes cannot take every slot from the others.
pub(super) const RECORDS_PER_USER: usize = 64;

/// The record of a local process, created if needed. Errors: `EDQUOT` when the process's user
/// has [`RECORDS_PER_USER`] records and the caller is not privileged, `ENOSPC`, `ENOMEM`.
pub(super) fn home_record(mig: &Migration, t: &TaskRef) -> Result<Arc<Proc>> {
    if let Some(p) = mig.reg.by_pid(t.pid()) {
        return Ok(p);
    }
    let mut token = 0;
    while token == 0 {
        token = sys::random_u64();
    }
    let p = Proc::new(token, mig.net.self_id(), t.pid(), Role::Home)?;
    let (uid, gid, _) = t.ids();
    {
        let mut i = p.inner.lock();
        i.task = Some(t.clone());
        i.pid = t.pid();
        i.comm = t.comm();
        i.uid = uid;
        i.gid = gid;
    }
    let cap = [(Quota::User(uid), RECORDS_PER_USER)];
    let caps: &[_] = if crate::kapi::cred::capable_sys_admin() {
        &[]
    } else {
        &cap
    };
    mig.reg.insert(p.clone(), caps)?;
    Ok(p)
}

/// `MOSIX_IOC_LOCK`.
pub(crate) fn set_lock(mig: &Migration, pid: i32, lock: bool) -> Result {
    let t = TaskRef::from_pid(pid).ok_or(ESRCH)?;
    if !may_control(&t) {
        return Err(EPERM);
    }
    let p = home_record(mig, &t)?;
    if p.home != mig.net.self_id() {
        return Err(EINVAL);
    }
    p.inner.lock().lock = lock;
    Ok(())
}

/// Waits until `done(inner)` gives a result, at most `ms`. Errors: `ETIMEDOUT`, `EINTR`.
pub(super) fn wait_for(p: &Proc, ms: u32, done: impl Fn(&Inner) -> Option<MigResult>) -> MigResult {
    let mut g = p.inner.lock();
    match wait_until(&p.cv, &mut g, ms, 0, |i| done(i)) {
        Ok(r) => r,
        Err(WaitEnd::TimedOut) => Err(errno::etimedout().into()),
        Err(WaitEnd::Signal) => Err(EINTR.into()),
    }
}

/// `MOSIX_IOC_MIGRATE`: move process `pid` to node `node` (0: home) and wait until it runs
/// there. Errors as documented in `uapi::MOSIX_IOC_MIGRATE`, with a `cantmove` reason.
pub(crate) fn migrate(mig: &Arc<Migration>, pid: i32, node: i32) -> MigResult {
    migrate_within(mig, pid, node, SAFE_POINT_MS)
}

/// [`migrate`] waiting at most `safe_ms` for the process's safe point (the balancer does not
/// wait long for a process that sleeps).
pub(crate) fn migrate_within(mig: &Arc<Migration>, pid: i32, node: i32, safe_ms: u32) -> MigResult {
    let me = mig.net.self_id();
    if me == 0 || node < 0 {
        return Err(EINVAL.into());
    }
    let node = node as u32;
    let t = TaskRef::from_pid(pid).ok_or(MigError::from(ESRCH))?;
    if !may_control(&t) {
        return Err(EPERM.into());
    }
    if let Some(p) = mig.reg.by_pid(pid) {
        let (state, where_) = {
            let i = p.inner.lock();
            (i.role.pstate(), i.where_)
        };
        match state {
            pstate::GUEST => {
                if node != 0 && node != p.home {
                    return Err(EINVAL.into());
                }
                return send_guest_home(mig, &p, "asked here");
            }
            pstate::DEPUTY => {
                // Locked where it runs (`mosrun -l`): no request moves it; `expel`, `bring`
                // and unloading still do.
                if p.inner.lock().lock {
                    return Err(MigError::new(EBUSY, cantmove::LOCKED));
                }
                if node == where_ {
                    return Err(errno::ealready().into());
                }
                let target = if node == me { 0 } else { node };
                if target != 0 && !mig.net.is_up(target) {
                    return Err(MigError::new(errno::ehostunreach(), cantmove::TARGET_DOWN));
                }
                return call_home(mig, &p, target);
            }
            pstate::MIGRATING => return Err(MigError::new(EBUSY, cantmove::MIGRATING)),
            _ => {}
        }
    }
    if node == 0 || node == me {
        return Err(errno::ealready().into());
    }
    if !mig.net.is_up(node) {
        return Err(MigError::new(errno::ehostunreach(), cantmove::TARGET_DOWN));
    }
    let why = cantmove_of(&t, mig.net.allows_root());
    if why != 0 {
        return Err(MigError::new(EBUSY, why));
    }
    let p = home_record(mig, &t).map_err(MigError::from)?;
    let (epoch, req) = start_leaving(&p)?;
    let (mig2, p2) = (mig.clone(), p.clone());
    // Interrupting: a process asleep in an interruptible wait moves now (its call restarts on
    // the target), as a stopped and continued process would go on.
    if let Err(e) = t.add_work_interrupting(move |u| migrate_out(u, &mig2, &p2, node, req)) {
        p.set_state(|i| i.role = Role::Home);
        return Err(MigError::new(e, cantmove::EXITING));
    }
    let done = |i: &Inner| {
        if i.epoch > epoch {
            i.result
        } else {
            None
        }
    };
    // First the safe point: a process in an uninterruptible wait gets there only when it wakes.
    let r = wait_for(&p, safe_ms, |i| {
        done(i).or(if i.started { Some(Ok(())) } else { None })
    });
    if let Err(MigError { err: e, .. }) = r {
        let mut i = p.inner.lock();
        if !i.started && i.result.is_none() {
            // Withdraw the request: the task work will find it cancelled.
            i.cancelled = true;
            i.role = Role::Home;
            return Err(e.into());
        }
    }
    wait_for(&p, IOCTL_MS, done)
}

/// Makes process `p`, at home, a process leaving (one request at a time): returns the
/// request's epoch and number. Errors: `EBUSY` with `LOCKED` or `MIGRATING`.
fn start_leaving(p: &Proc) -> MigResult<(u64, u64)> {
    let mut i = p.inner.lock();
    if i.lock {
        return Err(MigError::new(EBUSY, cantmove::LOCKED));
    }
    if i.role.pstate() != pstate::HOME {
        return Err(MigError::new(EBUSY, cantmove::MIGRATING));
    }
    i.role = Role::Leaving;
    i.result = None;
    i.cancelled = false;
    i.started = false;
    i.req += 1;
    i.epoch += 1;
    Ok((i.epoch, i.req))
}

/// Placement at exec time: `t` (current, in `execve`) moves to `node` as its new program begins,
/// with nobody waiting. The task work runs on its way back to user mode, with the new image and
/// credentials, and checks `cantmove` then, as `migrate` does: a program that may not move
/// stays. Errors: `EHOSTUNREACH` for a node that is down, those of [`home_record`], `EBUSY`
/// for a locked or migrating process.
pub(crate) fn move_after_exec(mig: &Arc<Migration>, t: &TaskRef, node: u32) -> MigResult {
    if node == 0 || node == mig.net.self_id() || !mig.net.is_up(node) {
        return Err(MigError::new(errno::ehostunreach(), cantmove::TARGET_DOWN));
    }
    let p = home_record(mig, t).map_err(MigError::from)?;
    let (_, req) = start_leaving(&p)?;
    // Where it is going, from now on (`away_counts`: the next placement counts it there).
    p.inner.lock().where_ = node;
    let (mig2, p2) = (mig.clone(), p.clone());
    let queued = t.add_work(move |u| {
        if u.is_some() {
            let why = cantmove_of(&TaskRef::current(), mig2.net.allows_root());
            if why != 0 {
                p2.set_state(|i| {
                    if i.req == req {
                        i.cancelled = true;
                        i.role = Role::Home;
                    }
                });
                return;
            }
        }
        migrate_out(u, &mig2, &p2, node, req)
    });
    if let Err(e) = queued {
        p.set_state(|i| i.role = Role::Home);
        return Err(MigError::new(e, cantmove::EXITING));
    }
    Ok(())
}

/// Asks the remote of deputy `p` to come home (and go on to `next`), and waits.
pub(super) fn call_home(mig: &Migration, p: &Arc<Proc>, next: u32) -> MigResult {
    let (where_, epoch) = {
        let mut i = p.inner.lock();
        i.next = next;
        i.result = None;
        (i.where_, i.epoch)
    };
    pr_info!(
        "migration: process {} on node {} asked to come home (then node {})\n",
        p.home_pid,
        where_,
        next
    );
    send_ctl(mig, where_, p.token, wire::ctl::GO_HOME, 0)
        .map_err(|e| MigError::new(e, cantmove::TARGET_DOWN))?;
    wait_for(p, IOCTL_MS, |i| {
        if i.epoch <= epoch {
            return None;
        }
        if next == 0 && i.role.pstate() == pstate::HOME {
            return Some(Ok(()));
        }
        if next != 0 && i.role.pstate() == pstate::DEPUTY && i.where_ == next {
            return Some(Ok(()));
        }
        match &i.result {
            Some(Err(e)) => Some(Err(*e)),
            _ => None,
        }
    })
}

/// Makes guest `p` go home (from this, its remote node) and waits until it left, or its home
/// answered that it could not take it back (the error then, with the `cantmove` reason).
pub(super) fn send_guest_home(mig: &Arc<Migration>, p: &Arc<Proc>, why: &str) -> MigResult {
    let t = p.task().ok_or(MigError::from(ESRCH))?;
    request_guest_home(mig, p, &t, why);
    wait_for(p, IOCTL_MS, |i| {
        if i.finished {
            Some(Ok(()))
        } else {
            i.result
        }
    })
}

/// Makes guest `p` (task `t`) go home at its next safe point; `why` is logged.
pub(super) fn request_guest_home(mig: &Arc<Migration>, p: &Arc<Proc>, t: &TaskRef, why: &str) {
    pr_info!(
        "migration: guest {} (pid {} of node {}) going home: {}\n",
        t.pid(),
        p.home_pid,
        p.home,
        why
    );
    let (running, calling) = {
        let mut i = p.inner.lock();
        // A move home that fails sets it (see `send_guest_home`).
        i.result = None;
        if let Role::Arriving { go_home } = &mut i.role {
            *go_home = true;
            (false, false)
        } else {
            let calling = i.guest().is_some_and(|g| g.calling);
            (!i.finished, calling)
        }
    };
    if running {
        let (mig2, p2) = (mig.clone(), p.clone());
        // Interrupting: a guest asleep in a call it makes here moves now.
        let queued = t
            .add_work_interrupting(move |u| go_home_work(u, &mig2, &p2))
            .is_ok();
        // Asleep in a call its deputy runs: the deputy interrupts it and answers with its
        // restart code, and the call restarts wherever the guest goes (a late INTERRUPT that
        // finds another call only makes that one restart here).
        if queued && calling {
            let _ = send_ctl(mig, p.home, p.token, wire::ctl::INTERRUPT, 0);
        }
    }
}

/// The task work of a guest asked to go home (`None`: it is exiting, and its exit hook tells
/// home).
fn go_home_work(u: Option<&UserCtx>, mig: &Arc<Migration>, p: &Arc<Proc>) {
    let Some(u) = u else { return };
    if p.inner.lock().finished {
        return;
    }
    // In the middle of a vDSO clock read the registers hold this node's time, to which the
    // vDSO then adds the time-namespace offset it finds: the other node's after a move. Leave
    // the vDSO first.
    if u.ip_in_vdso() {
        if let Some(g) = p.inner.lock().guest() {
            g.home_retry = true;
        }
        return;
    }
    // Asleep in a call whose restart cannot travel: it restarts here, and the guest goes home
    // when it wakes.
    if !ready_to_carry_call(u, false) {
        let (mig2, p2) = (mig.clone(), p.clone());
        if TaskRef::current()
            .add_work(move |u| go_home_work(u, &mig2, &p2))
            .is_ok()
        {
            return;
        }
    }
    let _ = go_home(u, mig, p, None);
}
