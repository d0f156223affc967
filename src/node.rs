// SPDX-License-Identifier: GPL-2.0
//! The node: the cluster core, process migration and the load balancer of this machine, owned
//! together. This is the one API that `/dev/mosix` ([`crate::ioctl`]) and `/proc/hpc`
//! ([`crate::hpc`]) call; each call names what it acts on.
//!
//! Ownership: the node owns the cluster's threads ([`ClusterThreads`]), the migration feature
//! (registered with the cluster's transport) and the balancer (with its thread). [`Node::stop`]
//! stops the balancer and moves every process home before the module's hooks go; dropping the
//! node then stops the cluster's threads and closes every connection.

use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex};

use crate::balance::thread::{self as balancer, Balancer};
use crate::cluster::{bench, Cluster, ClusterThreads, NodeView};
use crate::kapi::cred;
use crate::kapi::kthread::KThread;
use crate::migrate::{self, MigError, Migration, ProcView};
use crate::uapi::{self, param};

/// How long module unload waits for processes to move home before ending them (ms).
const SHUTDOWN_MS: u32 = 20_000;

/// This machine as a cluster node.
#[pin_data]
pub(crate) struct Node {
    cluster: ClusterThreads,
    mig: Arc<Migration>,
    balancer: Arc<Balancer>,
    #[pin]
    balance_thread: Mutex<Option<KThread>>,
    /// Handles migration offers off the receive threads.
    #[pin]
    offer_thread: Mutex<Option<KThread>>,
}

impl Node {
    /// Starts the cluster core (idle until a map is loaded), migration and the balancer.
    pub(crate) fn start() -> Result<Arc<Node>> {
        let cluster = ClusterThreads::start()?;
        let mig = Migration::start(cluster.cluster().clone())?;
        let balancer = Balancer::new(cluster.cluster().clone(), mig.clone())?;
        let thread = Balancer::spawn(&balancer)?;
        let offers = migrate::spawn_offer_thread(&mig)?;
        let node = Arc::pin_init(
            pin_init!(Node {
                cluster,
                mig,
                balancer,
                balance_thread <- new_mutex!(Some(thread), "oxmosix::node::balance_thread"),
                offer_thread <- new_mutex!(Some(offers), "oxmosix::node::offer_thread"),
            }),
            GFP_KERNEL,
        )?;
        // Last: the placer holds the balancer, which holds migration; `stop` removes it.
        node.mig
            .set_placer(Some(crate::balance::place::placer(&node.balancer)));
        Ok(node)
    }

    /// Module unload, first step: stops the balancer (waiting for a move it is making) and the
    /// offer thread (offers still queued are refused), sends guests home and brings this
    /// node's processes home (at most [`SHUTDOWN_MS`]; what could not move is ended), so that
    /// no task is left in the migration hooks.
    pub(crate) fn stop(&self) {
        // No placement from now on (and no reference cycle left).
        self.mig.set_placer(None);
        let thread = self.balance_thread.lock().take();
        drop(thread);
        let thread = self.offer_thread.lock().take();
        drop(thread);
        migrate::shutdown(&self.mig, SHUTDOWN_MS);
    }

    fn net(&self) -> &Arc<Cluster> {
        self.cluster.cluster()
    }

    /// The migration feature (for the kernel hooks).
    pub(crate) fn migration(&self) -> &Arc<Migration> {
        &self.mig
    }

    /// Loads a cluster map (`MOSIX_IOC_SETMAP`); see [`Cluster::set_map`].
    pub(crate) fn set_map(&self, info: &uapi::MapInfo) -> Result {
        Cluster::set_map(self.net(), info)
    }

    /// The current map (`MOSIX_IOC_GETMAP`).
    pub(crate) fn map_info(&self) -> uapi::MapInfo {
        self.net().map_info()
    }

    /// The current map in its text format (`/proc/hpc/admin/config`).
    pub(crate) fn format_map(&self, out: &mut impl core::fmt::Write) -> core::fmt::Result {
        self.net().format_map(out)
    }

    /// Node ids of the current map, ascending.
    pub(crate) fn node_ids(&self) -> Result<KVec<u32>> {
        self.net().node_ids()
    }

    /// What this node knows of node `id` (0: itself); `None` if it is not in the map.
    pub(crate) fn node_view(&self, id: u32) -> Option<NodeView> {
        self.net().node_view(id)
    }

    /// Sets a parameter (`MOSIX_IOC_SETPARAM`, `/proc/hpc/admin`). `expel` and `bring` written
    /// as 1 also act and return once no guest is here / no process of this node is away (at
    /// most 30 s). Errors: `EINVAL` (unknown key, value out of range), `ENOMEM`.
    pub(crate) fn set_param(&self, key: u32, value: u64) -> Result {
        self.net().set_param(key, value)?;
        match (key, value) {
            (param::EXPEL, 1) => migrate::expel_and_wait(&self.mig),
            (param::BRING, 1) => migrate::bring_and_wait(&self.mig),
            _ => Ok(()),
        }
    }

    /// Installs the cluster key from `secret` (`MOSIX_IOC_SETKEY`); `retire` drops the key it
    /// replaces at once. Errors: `EINVAL` (length), `ENOKEY` (no `hmac(sha256)`).
    pub(crate) fn set_key(&self, secret: &[u8], retire: bool) -> Result {
        self.net().set_key(secret, retire)
    }

    /// Reads a parameter. Errors: `EINVAL` for an unknown key.
    pub(crate) fn get_param(&self, key: u32) -> Result<u64> {
        self.net().get_param(key)
    }

    /// `MOSIX_IOC_MIGRATE`, `/proc/hpc/goto`: moves process `pid` to node `node` (0: home), or
    /// where the balancer would place it ([`uapi::MIGRATE_BALANCE`]). Returns the node it runs
    /// on then (for `MIGRATE_BALANCE`; `node` otherwise). Errors: [`MigError`] as documented at
    /// `uapi::MOSIX_IOC_MIGRATE`.
    pub(crate) fn migrate(&self, pid: i32, node: i32) -> Result<i32, MigError> {
        if node == uapi::MIGRATE_BALANCE {
            balancer::balance_one(&self.balancer, pid).map(|n| n as i32)
        } else {
            migrate::migrate(&self.mig, pid, node).map(|()| node)
        }
    }

    /// What this node knows about process `pid` (`MOSIX_IOC_PROCINFO`). Errors: `ESRCH`.
    pub(crate) fn proc_info(&self, pid: i32) -> Result<ProcView> {
        migrate::info(&self.mig, pid)
    }

    /// Every process with a migration record here that the caller may see (`/proc/hpc/procs`):
    /// all of them for `CAP_SYS_ADMIN`, otherwise those whose `/proc/PID` it may read.
    pub(crate) fn procs(&self) -> Result<KVec<ProcView>> {
        // Users see the processes they may see in /proc; the node's administrator sees all.
        migrate::list(&self.mig, !cred::capable_sys_admin())
    }

    /// Locks or unlocks process `pid` against automatic moves (`MOSIX_IOC_LOCK`,
    /// `/proc/hpc/lock`). Errors: `ESRCH`, `EPERM`, `EINVAL` (not at home), `ENOSPC`.
    pub(crate) fn set_lock(&self, pid: i32, lock: bool) -> Result {
        migrate::set_lock(&self.mig, pid, lock)
    }

    /// `MOSIX_IOC_RUNMODE` ([`migrate::set_run_mode`]).
    pub(crate) fn set_run_mode(&self, pid: i32, flags: u32, node: u32) -> Result {
        migrate::set_run_mode(&self.mig, pid, flags, node)
    }

    /// `MOSIX_IOC_BENCH` stream mode: ns to send `bytes` to `node` ([`bench::stream`]).
    pub(crate) fn bench_stream(&self, node: u32, bytes: u64) -> Result<u64> {
        bench::stream(self.net(), node, bytes)
    }

    /// `MOSIX_IOC_BENCH` ping-pong mode ([`bench::ping_pong`]).
    pub(crate) fn bench_ping_pong(
        &self,
        node: u32,
        count: u32,
        bytes: usize,
        reply: usize,
    ) -> Result<u64> {
        bench::ping_pong(self.net(), node, count, bytes, reply)
    }

    /// `/proc/hpc/info/counters`.
    pub(crate) fn show_counters(&self, out: &mut impl core::fmt::Write) -> core::fmt::Result {
        self.net().stats.show(out)
    }

    /// `/proc/hpc/info/malformed`: malformed frames received.
    pub(crate) fn malformed(&self) -> u64 {
        crate::counters::get(&self.net().stats.link.malformed)
    }

    /// `/proc/hpc/info/migration`: the migration counters, then the balancer's moves.
    pub(crate) fn show_migration(&self, out: &mut impl core::fmt::Write) -> core::fmt::Result {
        self.mig.stats.show(out)?;
        self.balancer.stats.show(out)
    }

    /// `/proc/hpc/admin/fault` written (see `migrate::fault`). Errors: `EINVAL`.
    pub(crate) fn set_fault(&self, text: &str) -> Result {
        self.mig.fault.arm(text)
    }

    /// `/proc/hpc/admin/fault` read.
    pub(crate) fn show_fault(&self, out: &mut impl core::fmt::Write) -> core::fmt::Result {
        self.mig.fault.show(out)
    }

    /// `/proc/hpc/info/balance`.
    pub(crate) fn show_balance(&self, out: &mut impl core::fmt::Write) -> core::fmt::Result {
        self.balancer.show(out)
    }
}
