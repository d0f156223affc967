// SPDX-License-Identifier: GPL-2.0
//! The load balancer: a kernel thread (`oxmosix-balance`) that, once per gossip interval,
//! measures the node's processes and moves at most one of them.
//!
//! Each round:
//! 1. every user process is sampled (`kapi::tasklist::for_each_process`) and its CPU demand is
//!    updated: the share of one CPU it used since the last round, times the runnable tasks per
//!    CPU (at least one: a job sharing a CPU with five others still demands a whole CPU), decayed
//!    with [`CPU_DECAY`] per mille kept per second (openMosix's per-process `cpujob` average). A guest
//!    also gets a decayed rate of the system calls it forwards home (openMosix's `iojob`);
//! 2. the candidates are the processes that may move: single-threaded, not locked, not dying,
//!    not in the middle of a migration; with `stay` none, with `lstay` only guests;
//! 3. the cost of a forwarded call to each peer is estimated from measurements ([`CallCost`]:
//!    the Ping round trip to the peer plus a deputy's mean service time here, at least the
//!    mean wait of the guests here), and from it the I/O-job threshold (`10^6 / cost` calls per
//!    CPU-second);
//! 4. `balance::decide` (pure, host-tested) picks at most one move from the load vector:
//!    I/O-bound guests go home, memory ushering below `/proc/hpc/admin/usher`, then the move
//!    with the best expected gain over its cost;
//! 5. the move is made synchronously (`migrate::migrate`): a home process to the chosen node,
//!    a guest home. Until the target's next load report the balancer counts the moved process
//!    on the target, and this node is judged by its fast load average (minus the move for its
//!    first second), so one round's move is not repeated by the next. After a move the next
//!    round follows within 200 ms.
//!
//! Processes that could not move (cantmove, or no safe point within [`SAFE_POINT_MS`]) are left
//! alone for [`FAIL_BACKOFF_MS`]. The I/O measure of a process at home is its rate of read and
//! write system calls (`CONFIG_TASK_XACCT`): the calls that would be forwarded if it were away;
//! `decide` keeps such I/O jobs home. A process asleep at the moment of sampling is not moved for
//! load.

use kernel::c_str;
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex};

use super::decide::{self, Candidate, Move, NodeView, Policy, Reason};
use super::measure::{retain, CallCost, Departures, Pending, Tracking, FAIL_BACKOFF_MS};
use crate::cluster::{Cluster, LoadVector, Params};
use crate::counters::{self, counters};
use crate::kapi::kthread::{self, KThread};
use crate::kapi::sys;
use crate::migrate::{self, MigError, MigResult, Migration};
use crate::proto::flags;
use crate::uapi::pstate;

counters! {
    /// The balancer's moves, shown after the migration counters in
    /// `/proc/hpc/info/migration`.
    pub(crate) struct BalanceStats {
        /// Moves the balancer made for load (its own processes away, or guests home).
        balance_load,
        /// Moves the balancer made to free memory (memory ushering).
        balance_memory,
        /// Guests the balancer sent home because they mostly wait on forwarded calls.
        balance_io,
        /// Moves the balancer chose that failed or were refused.
        balance_failed,
        /// Programs placed on another node as they started (`exec_place`).
        balance_exec,
    }
}

/// The load balancer of this node: what it measured (its thread's rounds and
/// `migrate PID balance` take turns on it) and its counters.
#[pin_data]
pub(crate) struct Balancer {
    /// Load vector and parameters.
    pub(crate) net: Arc<Cluster>,
    /// The processes it moves.
    pub(crate) mig: Arc<Migration>,
    #[pin]
    tracking: Mutex<Tracking>,
    /// Held while a program is placed as it starts ([`super::place`]): one at a time.
    #[pin]
    pub(super) placing: Mutex<()>,
    /// This node's processes that recently left their peers.
    #[pin]
    departures: Mutex<Departures>,
    /// Its moves.
    pub(crate) stats: BalanceStats,
}

impl Balancer {
    /// A balancer for this node's processes, with nothing measured yet.
    pub(crate) fn new(net: Arc<Cluster>, mig: Arc<Migration>) -> Result<Arc<Balancer>> {
        Arc::pin_init(
            pin_init!(Balancer {
                net,
                mig,
                tracking <- new_mutex!(Tracking::new(), "oxmosix::balancer"),
                placing <- new_mutex!((), "oxmosix::balancer::placing"),
                departures <- new_mutex!(Departures::new(), "oxmosix::balancer::departures"),
                stats: BalanceStats::new(),
            }),
            GFP_KERNEL,
        )
    }

    /// Starts the `oxmosix-balance` thread (stopped when the returned thread is dropped,
    /// waiting for a move it is making).
    pub(crate) fn spawn(this: &Arc<Balancer>) -> Result<KThread> {
        let b = this.clone();
        KThread::spawn(c_str!("oxmosix-balance"), move || run(&b))
    }

    /// `/proc/hpc/info/balance` (see [`Tracking::show`]).
    pub(crate) fn show(&self, out: &mut impl core::fmt::Write) -> core::fmt::Result {
        self.tracking.lock().show(out)
    }
}

/// Below this fast load (`load::SCALE` units: half a runnable task) with no guest and memory to
/// spare, a round does nothing (no process walk).
const IDLE_LOAD: u64 = 500;
/// The balancer waits at most this long (ms) for a chosen process to reach its safe point.
pub(crate) const SAFE_POINT_MS: u32 = 3000;
/// A move's effect on this node's fast load average takes this long to show (ms; 0.7 kept per
/// 100 ms leaves 3 % after one second).
const HERE_SETTLE_MS: u64 = 1000;
/// A move's effect on the target is assumed until the target reports a load this much later.
const SETTLE_MS: u64 = 1500;

/// The views of this node and its peers, or `None` without a map.
pub(super) fn views(
    bal: &Balancer,
    pending: &[Pending],
    cost: &CallCost,
    now: u64,
) -> Option<(NodeView, KVec<NodeView>, Params)> {
    let LoadVector {
        self_id: me,
        params,
        own,
        slots,
    } = bal.net.load_vector()?;
    let mut here = NodeView {
        node: me,
        load: own.load,
        speed: own.speed,
        cpus: own.cpus,
        amem_kib: own.amem_kib,
        accepts: false,
        bw_kib_s: 0,
        call_us: 0,
    };
    let away = migrate::away_counts(&bal.mig).ok()?;
    let mut gone = bal.departures.lock();
    gone.observe(&away, now).ok()?;
    let mut peers = KVec::new();
    for (slot, connected) in slots.iter() {
        let e = &slot.entry;
        if e.node == me || !slot.up || !*connected {
            continue;
        }
        let mut v = NodeView {
            node: e.node,
            load: e.load,
            speed: e.speed,
            cpus: e.cpus,
            amem_kib: e.amem_kib,
            accepts: e.flags & (flags::BLOCK | flags::QUIET) == 0,
            bw_kib_s: 0,
            call_us: cost.call_us(bal, e.node),
        };
        let reported = now.saturating_sub(slot.age_ms(now));
        // Without this node's processes that left it, as much as its report still holds them
        // (its slow average forgets a process that ended only in seconds).
        let left: u32 = gone
            .left
            .iter()
            .filter(|d| d.0 == e.node)
            .map(|d| {
                decide::departed_share(d.1, reported, params.slow_decay, params.decay_interval_ms)
            })
            .fold(0, u32::saturating_add);
        v.load = decide::load_without(&v, left);
        // At least this node's own processes running there or on their way (its report may be
        // older than they are).
        let ours = away.iter().find(|a| a.0 == e.node).map_or(0, |a| a.1);
        v.load = v.load.max(decide::load_of_tasks(&v, ours));
        // A move not yet visible in the target's report: count it there; and here not until
        // this node's fast average has forgotten it.
        for m in pending.iter().filter(|m| m.node == e.node) {
            if reported < m.at_ms + SETTLE_MS {
                v.load = decide::load_with(&v, m.cpu);
            }
            if now < m.at_ms + HERE_SETTLE_MS {
                here.load = decide::load_without(&here, m.cpu);
            }
        }
        peers.push(v, GFP_KERNEL).ok()?;
    }
    Some((here, peers, params))
}

/// What a round did.
enum Outcome {
    /// Nothing worth moving.
    Stay,
    /// This move was made.
    Moved(Move),
    /// The chosen move failed with this error and cantmove reason.
    Failed(MigError),
}

/// One balancing round: sample, decide, move at most one process. `only` restricts the round
/// to one process (`migrate PID balance`), which then needs no residency, CPU demand or
/// history.
fn round(b: &mut Tracking, bal: &Balancer, only: Option<i32>) -> Result<Outcome> {
    let now = sys::monotonic_ms().max(1);
    if only.is_none() {
        // Idle: without a map, or with less than half a runnable task, no guest and memory to
        // spare, nothing can be worth moving: skip the walk (it costs CPU on every node).
        let idle = bal.net.self_id() == 0
            || (bal.net.fast_load() < IDLE_LOAD
                && !migrate::has_guests(&bal.mig)
                && bal.net.with_state(|s| s.params.usher_kib) < sys::meminfo_kib().2);
        if idle {
            return Ok(Outcome::Stay);
        }
        b.sample(bal, now)?;
    }
    retain(&mut b.pending, |m| {
        now.saturating_sub(m.at_ms) < SETTLE_MS + 10_000
    })?;
    b.cost.update(&bal.mig.stats);
    let Some((here, peers, params)) = views(bal, &b.pending, &b.cost, now) else {
        return Ok(Outcome::Stay);
    };
    let stay = params.flags & flags::STAY != 0;
    let lstay = params.flags & flags::LSTAY != 0;
    let mut policy = Policy {
        usher_kib: params.usher_kib,
        ..Policy::default()
    };
    // An I/O job forwards more calls per CPU-second than the calls' cost lets it afford: at
    // the mean measured cost over the peers, this many calls take as long as a CPU-second.
    let (sum, n) = peers
        .iter()
        .filter(|p| p.call_us != 0)
        .fold((0u64, 0u64), |(s, n), p| (s + u64::from(p.call_us), n + 1));
    if let Some(mean) = sum.checked_div(n) {
        policy.io_home_ratio = (1_000_000 / mean.max(1)).clamp(10, 100_000) as u32;
    }
    let cands = match only {
        Some(pid) => {
            policy.min_cpu = 0;
            policy.usher_kib = 0;
            one_candidate(b, bal, pid, here.node)?
        }
        None if stay => KVec::new(),
        None => candidates(b, bal, &here, &policy, lstay, now)?,
    };
    let Some(mv) = decide::decide(&here, &peers, &cands, &policy) else {
        return Ok(Outcome::Stay);
    };
    Ok(make_move(b, bal, &mv, &cands, &peers, now))
}

/// The candidate of `migrate PID balance`: process `pid` as it was last sampled (or a
/// whole CPU's demand), needing no residency or history.
fn one_candidate(b: &Tracking, bal: &Balancer, pid: i32, here: u32) -> Result<KVec<Candidate>> {
    let info = migrate::balance_info(&bal.mig, pid);
    let guest = info.as_ref().is_some_and(|i| i.state == pstate::GUEST);
    let s = b.samples.iter().find(|s| s.pid == pid).copied();
    let t = b.tracks.iter().find(|t| t.pid == pid).copied();
    let image = s.map_or(0, |s| s.image_pages);
    let mut cands = KVec::new();
    cands.push(
        Candidate {
            id: pid as u32,
            home: info.as_ref().map_or(here, |i| i.home),
            cpu: t.map_or(1000, |t| t.cpu.max(500)),
            io: t.map_or(0, |t| t.io),
            image_kib: image * 4,
            runtime_ms: s.map_or(0, |s| s.runtime_ns / 1_000_000).max(60_000),
            resident_ms: u64::MAX / 4,
            recent_moves: 0,
            guest,
        },
        GFP_KERNEL,
    )?;
    Ok(cands)
}

/// The processes a round may move: single-threaded, not locked, not backing off after a
/// failed move, not in the middle of a migration; with `lstay` only guests; a process asleep at
/// home only for memory ushering.
fn candidates(
    b: &Tracking,
    bal: &Balancer,
    here: &NodeView,
    policy: &Policy,
    lstay: bool,
    now: u64,
) -> Result<KVec<Candidate>> {
    let mut cands = KVec::new();
    for t in b.tracks.iter() {
        if t.backoff_until > now || t.pid <= 1 {
            continue;
        }
        let Some(s) = b.samples.iter().find(|s| s.pid == t.pid) else {
            continue;
        };
        if s.threads != 1 {
            continue;
        }
        let info = migrate::balance_info(&bal.mig, t.pid);
        let (guest, home) = match &info {
            None => (false, here.node),
            Some(i) if i.state == pstate::HOME && !i.lock => (false, here.node),
            Some(i) if i.state == pstate::GUEST => (true, i.home),
            _ => continue,
        };
        if lstay && !guest {
            continue;
        }
        if !guest && !s.runnable && here.amem_kib >= policy.usher_kib {
            // Asleep at home: not worth moving for load (and slow to reach a safe point);
            // only memory ushering considers it. (A guest asleep is usually waiting for a
            // forwarded call: it stays a candidate with its measured demand.)
            continue;
        }
        let recent = t
            .moves
            .iter()
            .filter(|&&m| m != 0 && now.saturating_sub(m) < policy.window_ms)
            .count() as u32;
        cands.push(
            Candidate {
                id: t.pid as u32,
                home,
                cpu: t.cpu,
                io: t.io,
                image_kib: s.image_pages * 4,
                runtime_ms: s.runtime_ns / 1_000_000,
                resident_ms: now.saturating_sub(t.since_ms),
                recent_moves: recent,
                guest,
            },
            GFP_KERNEL,
        )?;
    }
    Ok(cands)
}

/// Makes the move `mv` chosen among `cands` and records it (counters, the process's recent
/// moves or its backoff, the pending load on the target).
fn make_move(
    b: &mut Tracking,
    bal: &Balancer,
    mv: &Move,
    cands: &[Candidate],
    peers: &[NodeView],
    now: u64,
) -> Outcome {
    let pid = mv.id as i32;
    let cand = cands.iter().find(|c| c.id == mv.id).copied();
    let guest = cand.is_some_and(|c| c.guest);
    // A guest leaves only for home (it may go on from there at its home's choice).
    let to = if guest { 0 } else { mv.to as i32 };
    let r = migrate::migrate_within(&bal.mig, pid, to, SAFE_POINT_MS);
    let stats = &bal.stats;
    let t = b.tracks.iter_mut().find(|t| t.pid == pid);
    match r {
        Ok(()) => {
            let counter = match mv.reason {
                Reason::Load => &stats.balance_load,
                Reason::Memory => &stats.balance_memory,
                Reason::Io => &stats.balance_io,
            };
            counters::bump(counter);
            if let Some(t) = t {
                t.moves = [now, t.moves[0], t.moves[1]];
            }
            let cpu = cand.map_or(0, |c| c.cpu);
            let _ = b.pending.push(
                Pending {
                    node: mv.to,
                    cpu,
                    at_ms: now,
                },
                GFP_KERNEL,
            );
            let (io, call) = (
                cand.map_or(0, |c| c.io),
                peers
                    .iter()
                    .find(|p| p.node == mv.to)
                    .map_or(0, |p| p.call_us),
            );
            pr_info!(
                "balance: pid {} to node {} ({:?}, cpu {}‰, io {}/s, call {} µs, gain {})\n",
                pid,
                mv.to,
                mv.reason,
                cpu,
                io,
                call,
                mv.gain
            );
            Outcome::Moved(*mv)
        }
        Err(e) => {
            counters::bump(&stats.balance_failed);
            if let Some(t) = t {
                t.backoff_until = now + FAIL_BACKOFF_MS;
            }
            pr_info!(
                "balance: pid {} to node {} failed: {:?} (cantmove {})\n",
                pid,
                mv.to,
                e.err,
                e.reason
            );
            Outcome::Failed(e)
        }
    }
}

/// Body of the `oxmosix-balance` thread: one round per gossip interval.
pub(crate) fn run(bal: &Balancer) {
    while !kthread::should_stop() {
        let interval = bal.net.with_state(|s| s.params.gossip_interval_ms);
        let moved = {
            let mut g = bal.tracking.lock();
            match round(&mut g, bal, None) {
                Ok(Outcome::Moved(_)) => true,
                Ok(_) => false,
                Err(e) => {
                    pr_warn!("balance: round failed: {:?}\n", e);
                    false
                }
            }
        };
        // After a move, the next one soon: a batch started on one node spreads at the pace of
        // migrations, not of rounds (the pending move keeps it from being repeated).
        sys::sleep_interruptible_ms(if moved { interval.min(200) } else { interval });
    }
}

/// `migrate PID balance`: place process `pid` now, where the balancer would (possibly here).
/// Returns the node it runs on afterwards. Errors: `ESRCH`, or the migration's error.
pub(crate) fn balance_one(bal: &Balancer, pid: i32) -> MigResult<u32> {
    if crate::kapi::task::TaskRef::from_pid(pid).is_none() {
        return Err(ESRCH.into());
    }
    let mut g = bal.tracking.lock();
    // Fresh numbers for this process (the thread's last sample may be a second old).
    let now = sys::monotonic_ms().max(1);
    g.sample(bal, now).map_err(MigError::from)?;
    match round(&mut g, bal, Some(pid)).map_err(MigError::from)? {
        Outcome::Moved(mv) => Ok(mv.to),
        Outcome::Stay => Ok(bal.net.self_id()),
        Outcome::Failed(e) => Err(e),
    }
}
