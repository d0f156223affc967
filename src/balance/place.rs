// SPDX-License-Identifier: GPL-2.0
//! Placement at exec time (issue 15): where a program that a process of this node starts should
//! run. Linux places a new program on the best CPU of a machine in `sched_exec()`, when its image
//! is smallest; `patches/0016` lets migration ask the balancer there too ([`Placer`]), so a batch
//! of short programs started on one node spreads as the programs start instead of after the
//! balancer has watched them run (its residency rule alone would let most of them finish first).
//!
//! `/proc/hpc/admin/exec_place` selects the mode ([`decide::place_mode`]); `stay` and `lstay`
//! turn placement off as they turn off the balancer's moves. The decision is [`decide::place`]
//! (pure, host-tested) on this node's runnable tasks now (a decayed average has neither seen a
//! batch that just started nor forgotten the programs that just left), and the peers' loads
//! from the load vector, each at least the processes of this node running there or on their
//! way (placements are made one at a time, so each counts the ones before it).

use kernel::prelude::*;
use kernel::sync::Arc;

use super::decide::{self, place_mode, Policy};
use super::measure::CallCost;
use super::thread::{views, Balancer};
use crate::counters;
use crate::kapi::sys;
use crate::kapi::task::TaskRef;
use crate::migrate::{self, Placer};
use crate::proto::flags;

impl Placer for Balancer {
    fn place_at_exec(&self, task: &TaskRef) {
        let mode = self.net.with_state(|s| s.params.exec_place);
        let _ = self.place(task, mode);
    }

    fn place_best(&self, task: &TaskRef) {
        let _ = self.place(task, place_mode::BEST);
    }
}

impl Balancer {
    /// [`Placer::place_at_exec`] in placement mode `mode`: the node `task` was sent to, if any.
    fn place(&self, task: &TaskRef, mode: u32) -> Option<u32> {
        if mode == place_mode::OFF || self.net.self_id() == 0 {
            return None;
        }
        let now = sys::monotonic_ms().max(1);
        // One placement at a time, so that each sees the one before it (on its way out).
        let _one = self.placing.lock();
        let (mut here, peers, params) = views(self, &[], &CallCost::default(), now)?;
        if params.flags & (flags::STAY | flags::LSTAY) != 0 {
            return None;
        }
        // The runnable tasks here now, the program included, but not those on their way out
        // (placed a moment ago, counted on their target already): a decayed average has
        // neither seen a batch that just started nor forgotten the programs that just left.
        let leaving = migrate::leaving_count(&self.mig);
        let tasks = sys::nr_running().saturating_sub(leaving).max(1);
        here.load = decide::load_of_tasks(&here, tasks);
        let to = decide::place(&here, &peers, mode, &Policy::default())?;
        migrate::move_after_exec(&self.mig, task, to).ok()?;
        counters::bump(&self.stats.balance_exec);
        pr_info!(
            "balance: pid {} placed on node {} as it starts a program\n",
            task.pid(),
            to
        );
        Some(to)
    }
}

/// The balancer as migration's [`Placer`].
pub(crate) fn placer(b: &Arc<Balancer>) -> Arc<dyn Placer> {
    b.clone()
}
