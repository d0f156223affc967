// SPDX-License-Identifier: GPL-2.0
//! Run modes (`MOSIX_IOC_RUNMODE`, set by `mosrun` and `runhome`): where the programs of a
//! process and of its children start, and whether they may move, as openMosix's and MOSIX's
//! `mosrun` chose them. A process with a run mode is marked, so that its forks reach the fork
//! hook ([`super::fork`]), which gives each child the same mode; each program it executes is
//! placed by its mode ([`place_by_run_mode`], from the exec hook).

use kernel::prelude::*;
use kernel::sync::Arc;

use super::record::Role;
use super::request::{home_record, may_control, move_after_exec};
use super::{Migration, Placer};
use crate::kapi::task::TaskRef;
use crate::uapi::{run, run_mode_valid};

/// `MOSIX_IOC_RUNMODE`: sets the run mode of process `pid` (0: the caller) at home. Errors as
/// the ABI documents them (`crate::uapi::MOSIX_IOC_RUNMODE`).
pub(crate) fn set_run_mode(mig: &Migration, pid: i32, flags: u32, node: u32) -> Result {
    if !run_mode_valid(flags, node) {
        return Err(EINVAL);
    }
    let t = if pid == 0 {
        TaskRef::current()
    } else {
        TaskRef::from_pid(pid).ok_or(ESRCH)?
    };
    if t != TaskRef::current() && !may_control(&t) {
        return Err(EPERM);
    }
    let p = home_record(mig, &t)?;
    {
        let mut i = p.inner.lock();
        if p.home != mig.net.self_id() || !matches!(i.role, Role::Home) {
            return Err(EBUSY);
        }
        i.run = flags;
        i.run_node = node;
        if flags & run::HOME != 0 || flags & (run::LOCK | run::NODE | run::BEST) == run::LOCK {
            // Home only, or locked where it is now (no placement to wait for).
            i.lock = true;
        }
    }
    t.set_migrated(flags != 0);
    Ok(())
}

/// The exec hook for a process at home: its run mode, if it has one, decides where the program
/// starts (`NODE`: that node; `BEST`: the placer, whatever `exec_place` says; `LOCK`: locked
/// once it is on its way). Returns whether the run mode decided (the placer's own mode then does
/// not apply).
pub(super) fn place_by_run_mode(
    mig: &Arc<Migration>,
    task: &TaskRef,
    placer: Option<&Arc<dyn Placer>>,
) -> bool {
    let Some(p) = mig.reg.by_task(task) else {
        return false;
    };
    let (flags, node) = {
        let i = p.inner.lock();
        (i.run, i.run_node)
    };
    if flags == 0 {
        return false;
    }
    if flags & run::HOME == 0 {
        if flags & run::NODE != 0 {
            if let Err(e) = move_after_exec(mig, task, node) {
                pr_info!(
                    "migration: pid {} starts its program here: node {} ({:?})\n",
                    task.pid(),
                    node,
                    e
                );
            }
        } else if flags & run::BEST != 0 {
            if let Some(pl) = placer {
                pl.place_best(task);
            }
        }
        if flags & run::LOCK != 0 {
            p.inner.lock().lock = true;
        }
    }
    true
}
