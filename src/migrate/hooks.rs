// SPDX-License-Identifier: GPL-2.0
//! The hooks registered with the kernel (system-call entry and exit of marked tasks).

use kernel::sync::Arc;

use super::Migration;
use crate::kapi::migration::{MigrationOps, SyscallRegs, TaskView};
use crate::kapi::task::TaskRef;
use crate::kapi::uctx::{self, UserCtx};
use crate::proto::cputime::Cpu;
use crate::proto::mig as wire;
use crate::uapi::pstate;

use super::deputy::deputy_enter;
use super::fork::{drop_unclaimed, on_fork};
use super::guest::guest_enter;
use super::record::Role;
use super::runmode::place_by_run_mode;
use super::{send_ctl, send_gone, SIGKILL};

/// The hooks registered with the kernel.
pub(crate) struct Ops {
    mig: Arc<Migration>,
}

impl Ops {
    /// The hooks of `mig`.
    pub(crate) fn new(mig: Arc<Migration>) -> Ops {
        Ops { mig }
    }
}

impl MigrationOps for Ops {
    fn syscall_enter(&self, u: &UserCtx, regs: &mut SyscallRegs) -> bool {
        let me = TaskRef::current();
        let Some(p) = self.mig.reg.by_task(&me) else {
            // Not ours any more (a record dropped at unload): run normally from now on.
            me.set_migrated(false);
            return false;
        };
        if p.home == self.mig.net.self_id() {
            if matches!(p.inner.lock().role, Role::Home | Role::Leaving) {
                // Marked for its run mode only (its forks must reach the fork hook).
                return false;
            }
            deputy_enter(u, &self.mig, &p, regs)
        } else {
            guest_enter(u, &self.mig, &p, regs)
        }
    }

    fn task_exit(&self, task: &TaskRef, code: i64) {
        let Some(p) = self.mig.reg.by_task(task) else {
            return;
        };
        let (state, finished, where_) = {
            let i = p.inner.lock();
            (i.role.pstate(), i.finished, i.where_)
        };
        if p.home == self.mig.net.self_id() {
            if state == pstate::DEPUTY && !finished {
                let _ = send_ctl(&self.mig, where_, p.token, wire::ctl::KILL, SIGKILL as u32);
            }
        } else if !finished {
            // `task` is current, in do_exit: its CPU time is final but for this last moment.
            let cpu = uctx::current_cputime().totals();
            let _ = send_gone(&self.mig, p.home, p.token, code as u32, cpu);
        }
        drop_unclaimed(&self.mig, &p);
        p.set_state(|i| {
            i.finished = true;
            i.task = None;
        });
        self.mig.reg.remove(&p);
    }

    /// A process of this node that is not migrated starts a program: the placer (the balancer)
    /// may send it elsewhere as the program begins ([`super::Placer`]).
    fn exec(&self, task: &TaskRef) {
        let placer = self.mig.placer();
        if let Some(p) = self.mig.reg.by_task(task) {
            if p.inner.lock().role.pstate() != pstate::HOME {
                return;
            }
        }
        if place_by_run_mode(&self.mig, task, placer.as_ref()) {
            return;
        }
        if let Some(placer) = placer {
            placer.place_at_exec(task);
        }
    }

    /// A migrated process forked: its child is a migrated process too ([`super::fork`]).
    fn fork(&self, child: &TaskRef, clone_flags: u64, nr: i32) -> i32 {
        on_fork(&self.mig, child, clone_flags, nr)
    }

    /// A deputy whose process's node reported on it ([`super::watch::report_guests`]) is shown
    /// with the process's state and memory there, and the CPU time it used since it left added
    /// to the deputy's (split into user and system time as the kernel splits it,
    /// [`Cpu::adjusted`]). Before the first report, or for anything else, `/proc` shows the task.
    fn proc_view(&self, task: &TaskRef) -> Option<TaskView> {
        let p = self.mig.reg.by_task(task)?;
        if p.home != self.mig.net.self_id() {
            return None;
        }
        let i = p.inner.lock();
        if i.role.pstate() != pstate::DEPUTY {
            return None;
        }
        let s = i.status?;
        let [utime, stime, runtime] = Cpu::from_totals(s.cpu).since(&i.cpu_left);
        let (u, st) = Cpu::from_totals([utime, stime, runtime]).adjusted();
        Some(TaskView {
            cpu: [u, st, 0],
            vsize: s.vsize,
            rss: s.rss,
            state: s.state,
        })
    }
}
