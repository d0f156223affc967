// SPDX-License-Identifier: GPL-2.0
//! What the tools and the balancer see of processes: `/proc/hpc/procs`, `PROCINFO`, cantmove.

use kernel::prelude::*;

use super::Migration;
use crate::kapi::task::{CredInfo, TaskRef, MAX_GROUPS};
use crate::uapi::{cantmove, pstate};

use super::record::Proc;
use super::record::Role;

/// One line of `/proc/hpc/procs` / one PROCINFO answer.
pub(crate) struct ProcView {
    pub(crate) pid: i32,
    pub(crate) home_pid: i32,
    pub(crate) home: u32,
    pub(crate) where_: u32,
    pub(crate) nmigs: u32,
    pub(crate) state: u32,
    pub(crate) lock: bool,
    pub(crate) cantmove: u32,
    pub(crate) comm: [u8; 16],
}

pub(super) fn view(mig: &Migration, p: &Proc) -> ProcView {
    let i = p.inner.lock();
    let me = mig.net.self_id();
    ProcView {
        pid: i.pid,
        home_pid: p.home_pid,
        home: p.home,
        where_: if i.role.pstate() == pstate::GUEST || i.role.pstate() == pstate::HOME {
            me
        } else {
            i.where_
        },
        nmigs: i.nmigs,
        state: i.role.pstate(),
        lock: i.lock,
        cantmove: if i.lock { cantmove::LOCKED } else { 0 },
        comm: i.comm,
    }
}

/// Every process with a record here (deputies, guests, locked or once-migrated processes); with
/// `visible_only`, those whose details the caller may read (as their `/proc/PID` files:
/// [`TaskRef::may_read`]).
pub(crate) fn list(mig: &Migration, visible_only: bool) -> Result<KVec<ProcView>> {
    let mut v = KVec::new();
    for p in mig.reg.all()? {
        let pv = view(mig, &p);
        if pv.state == pstate::HOME && TaskRef::from_pid(pv.pid).is_none() {
            continue;
        }
        if visible_only && !p.task().is_some_and(|t| t.may_read()) {
            continue;
        }
        v.push(pv, GFP_KERNEL)?;
    }
    Ok(v)
}

/// Whether any guest runs here (the balancer's idle check).
pub(crate) fn has_guests(mig: &Migration) -> bool {
    mig.reg.all().is_ok_and(|v| {
        v.iter()
            .any(|p| p.home != mig.net.self_id() && matches!(p.inner.lock().role, Role::Guest(_)))
    })
}

/// How many processes of this node are on their way to another node: still here (those that
/// run are in the run queue), already counted on their target by [`away_counts`].
pub(crate) fn leaving_count(mig: &Migration) -> u32 {
    let me = mig.net.self_id();
    mig.reg.all().map_or(0, |v| {
        v.iter()
            .filter(|p| p.home == me && matches!(p.inner.lock().role, Role::Leaving))
            .count() as u32
    })
}

/// For each node, how many processes of this node run there or are on their way: (node,
/// count), nodes in no particular order. Errors: `ENOMEM`.
pub(crate) fn away_counts(mig: &Migration) -> Result<KVec<(u32, u32)>> {
    let me = mig.net.self_id();
    let mut out: KVec<(u32, u32)> = KVec::new();
    for p in mig.reg.all()?.iter().filter(|p| p.home == me) {
        let node = {
            let i = p.inner.lock();
            match i.role {
                Role::Deputy(_) | Role::Leaving => i.where_,
                _ => continue,
            }
        };
        if node == 0 || node == me {
            continue;
        }
        match out.iter_mut().find(|a| a.0 == node) {
            Some(a) => a.1 += 1,
            None => out.push((node, 1), GFP_KERNEL)?,
        }
    }
    Ok(out)
}

/// What the balancer needs of a process that has a record here.
pub(crate) struct BalanceInfo {
    /// [`pstate`] value.
    pub(crate) state: u32,
    /// Locked at home (`MOSIX_IOC_LOCK`): no automatic moves.
    pub(crate) lock: bool,
    /// Its home node.
    pub(crate) home: u32,
    /// Guest: system calls forwarded so far.
    pub(crate) forwarded: u64,
    /// Migrations so far (a change means it moved since the balancer last looked).
    pub(crate) nmigs: u32,
}

/// The record of local process `pid` as the balancer sees it (`None`: no record; a process that
/// never migrated and is not locked runs at home).
pub(crate) fn balance_info(mig: &Migration, pid: i32) -> Option<BalanceInfo> {
    let p = mig.reg.by_pid(pid)?;
    let i = p.inner.lock();
    Some(BalanceInfo {
        state: i.role.pstate(),
        lock: i.lock || i.run & crate::uapi::run::NOAUTO != 0,
        home: p.home,
        forwarded: match &i.role {
            Role::Guest(g) => g.forwarded,
            _ => 0,
        },
        nmigs: i.nmigs,
    })
}

/// Why task `t` cannot move now (its threads, tracing, class, credentials and memory areas);
/// `allow_root`: root's processes may leave this node.
pub(super) fn cantmove_of(t: &TaskRef, allow_root: bool) -> u32 {
    if t.is_kthread() {
        cantmove::KTHREAD
    } else if t.is_exiting() {
        cantmove::EXITING
    } else if t.nr_threads() > 1 {
        cantmove::THREADS
    } else if t.is_ptraced() {
        cantmove::PTRACED
    } else if t.is_realtime() {
        cantmove::REALTIME
    } else if let Some(why) = creds_obstacle(&t.cred_info(), allow_root) {
        why
    } else if !t.is_dumpable() {
        cantmove::NOT_DUMPABLE
    } else if t.has_seccomp() {
        cantmove::SECCOMP
    } else if t.has_signalfd() {
        cantmove::SIGNALFD
    } else if t.has_cpu_timers() {
        cantmove::CPU_TIMERS
    } else {
        match t.vma_obstacles() {
            (true, _) => cantmove::SHARED_WRITABLE,
            (_, true) => cantmove::DEVICE,
            _ => 0,
        }
    }
}

/// Why credentials `c` cannot travel exactly, if they cannot (see [`cantmove::CREDENTIALS`]): a
/// guest runs with one uid and one gid, the supplementary groups and `no_new_privs`, and, only
/// as root, capabilities.
fn creds_obstacle(c: &CredInfo, allow_root: bool) -> Option<u32> {
    let mixed = c.uids.iter().any(|&u| u != c.uids[0]) || c.gids.iter().any(|&g| g != c.gids[0]);
    if mixed || c.securebits != 0 || c.ngroups > MAX_GROUPS {
        return Some(cantmove::CREDENTIALS);
    }
    if c.uids[0] == 0 {
        return (!allow_root).then_some(cantmove::ROOT);
    }
    (c.caps != 0).then_some(cantmove::CREDENTIALS)
}

/// What this node knows about process `pid` (`MOSIX_IOC_PROCINFO`). Errors: `ESRCH`.
pub(crate) fn info(mig: &Migration, pid: i32) -> Result<ProcView> {
    if let Some(p) = mig.reg.by_pid(pid) {
        let mut v = view(mig, &p);
        if v.cantmove == 0 && v.state == pstate::HOME {
            if let Some(t) = p.task() {
                v.cantmove = cantmove_of(&t, mig.net.allows_root());
            }
        }
        return Ok(v);
    }
    let t = TaskRef::from_pid(pid).ok_or(ESRCH)?;
    Ok(ProcView {
        pid,
        home_pid: pid,
        home: mig.net.self_id(),
        where_: mig.net.self_id(),
        nmigs: 0,
        state: pstate::HOME,
        lock: false,
        cantmove: cantmove_of(&t, mig.net.allows_root()),
        comm: t.comm(),
    })
}
