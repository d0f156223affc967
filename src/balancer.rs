// SPDX-License-Identifier: GPL-2.0
//! The load balancer: a kernel thread (`oxmosix-balance`) that, once per gossip interval,
//! measures the node's processes and moves at most one of them.
//!
//! Each round:
//! 1. every user process is sampled (`kapi::procs::for_each_process`) and its CPU demand is
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

use kernel::prelude::*;
use kernel::sync::Arc;

use crate::balance::decide::{self, Candidate, Move, NodeView, Policy, Reason};
use crate::cluster::Shared;
use crate::kapi::procs::{self, ProcSample};
use crate::kapi::{kthread, sys};
use crate::proto::flags;
use crate::uapi::pstate;

/// Per mille of a process's CPU demand kept per second of decay.
pub(crate) const CPU_DECAY: u64 = 500;
/// A process that could not be moved is not tried again for this long (ms).
pub(crate) const FAIL_BACKOFF_MS: u64 = 10_000;
/// At most this many processes are tracked (the rest of a larger node is not considered).
pub(crate) const MAX_TRACKED: usize = 1024;
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

/// What the balancer remembers of one process between rounds.
#[derive(Clone, Copy, Default)]
struct Track {
    pid: i32,
    /// CPU time at the last round, ns.
    runtime_ns: u64,
    /// Decayed CPU demand, per mille of one CPU.
    cpu: u32,
    /// Decayed forwarded-call rate (guests), calls per second.
    io: u32,
    /// Read/write system calls counted at the last round (processes at home).
    io_calls: u64,
    /// Forwarded calls counted at the last round.
    forwarded: u64,
    /// When it arrived in its current state here (ms, monotonic).
    since_ms: u64,
    /// Registry state at the last round (`pstate::HOME` for processes without a record).
    state: u32,
    /// Its migration count at the last round (a process that left and came back between two
    /// rounds shows the same state but a new count).
    nmigs: u32,
    /// The balancer's last moves of it (ms), newest first.
    moves: [u64; 3],
    /// Not tried again before this time (ms).
    backoff_until: u64,
    /// Seen in the current round.
    seen: bool,
}

/// A move recently made, counted on its target until the target reports again.
#[derive(Clone, Copy)]
struct Pending {
    node: u32,
    cpu: u32,
    at_ms: u64,
}

/// Running means of what forwarded calls cost on this node, from the counters of
/// `/proc/hpc/info/migration` (3/4 of the old mean kept per round that saw calls).
#[derive(Clone, Copy, Default)]
struct CallCost {
    /// `served` and `serve_us` at the last round.
    served: u64,
    serve_us: u64,
    /// `forwarded` and `forward_wait_us` at the last round.
    forwarded: u64,
    wait_us: u64,
    /// Mean time a deputy here spends on one call, µs (0: none served yet).
    serve_mean_us: u64,
    /// Mean time a guest here waits for one forwarded call, µs (0: none forwarded yet).
    wait_mean_us: u64,
}

impl CallCost {
    /// Folds the calls since the last update into the means.
    fn update(&mut self, st: &crate::migrate::MigStats) {
        use core::sync::atomic::Ordering::Relaxed;
        let fold = |mean: u64, calls: u64, us: u64| {
            if calls == 0 {
                mean
            } else if mean == 0 {
                us / calls
            } else {
                (mean * 3 + us / calls) / 4
            }
        };
        let (served, serve_us) = (st.served.load(Relaxed), st.serve_us.load(Relaxed));
        let (fwd, wait_us) = (st.forwarded.load(Relaxed), st.forward_wait_us.load(Relaxed));
        self.serve_mean_us = fold(
            self.serve_mean_us,
            served.saturating_sub(self.served),
            serve_us.saturating_sub(self.serve_us),
        );
        self.wait_mean_us = fold(
            self.wait_mean_us,
            fwd.saturating_sub(self.forwarded),
            wait_us.saturating_sub(self.wait_us),
        );
        (self.served, self.serve_us, self.forwarded, self.wait_us) =
            (served, serve_us, fwd, wait_us);
    }

    /// The cost of a forwarded call between a process on node `peer` and its deputy here (or
    /// a guest here and its home `peer`), µs: the Ping round trip to `peer` plus a deputy's
    /// mean service time here; at least what guests here measured waiting for their calls
    /// (the same network, with the wake-ups and the home's load included). 0: nothing measured.
    fn call_us(&self, sh: &Shared, peer: u32) -> u32 {
        let est = sh.rtt_us(peer).saturating_add(self.serve_mean_us);
        est.max(self.wait_mean_us).min(u64::from(u32::MAX)) as u32
    }
}

/// The balancer's state (owned by its thread).
pub(crate) struct Balancer {
    tracks: KVec<Track>,
    samples: KVec<ProcSample>,
    pending: KVec<Pending>,
    last_ms: u64,
    cost: CallCost,
}

impl Balancer {
    pub(crate) fn new() -> Balancer {
        Balancer {
            tracks: KVec::new(),
            samples: KVec::new(),
            pending: KVec::new(),
            last_ms: 0,
            cost: CallCost::default(),
        }
    }

    /// Samples every process and updates the tracks. Errors: `ENOMEM`.
    fn sample(&mut self, sh: &Shared, now: u64) -> Result {
        self.samples = KVec::with_capacity(MAX_TRACKED, GFP_KERNEL)?;
        let samples = &mut self.samples;
        procs::for_each_process(|s| {
            if samples.len() < samples.capacity() {
                // Within capacity: no allocation inside the RCU section.
                let _ = samples.push(*s, GFP_ATOMIC);
            }
            samples.len() < samples.capacity()
        });
        let elapsed = now.saturating_sub(self.last_ms).max(1);
        // A runnable process on a CPU shared by `k` tasks gets about 1/k of it: its demand is
        // what it used times the tasks per CPU (at least one), so a CPU-bound job counts as
        // one CPU's worth however crowded the node is.
        let crowd = (sh.raw_load() / u64::from(sys::online_cpus().max(1))).max(1000);
        let first = self.last_ms == 0;
        self.last_ms = now;
        // Decay per round: CPU_DECAY per second, scaled to the round's length (linearly; rounds
        // are about one second).
        let keep = (CPU_DECAY * 1000 / (1000 + elapsed.saturating_sub(1000).min(9000))).min(999);
        for t in self.tracks.iter_mut() {
            t.seen = false;
        }
        for s in self.samples.iter() {
            let info = crate::migrate::balance_info(sh, s.pid);
            let state = info.as_ref().map_or(pstate::HOME, |i| i.state);
            let forwarded = info.as_ref().map_or(0, |i| i.forwarded);
            let nmigs = info.as_ref().map_or(0, |i| i.nmigs);
            match self.tracks.iter_mut().find(|t| t.pid == s.pid) {
                Some(t) => {
                    let used = s.runtime_ns.saturating_sub(t.runtime_ns);
                    // ns per ms of wall time → per mille of a CPU, then scaled by the crowd.
                    let now_share = ((used / elapsed / 1000) * crowd / 1000).min(1000);
                    let calls = forwarded.saturating_sub(t.forwarded);
                    // A guest's I/O is what it forwards; a process at home, its reads and
                    // writes (which would be forwarded if it were away).
                    let calls = if state == pstate::GUEST {
                        calls
                    } else {
                        s.io_calls.saturating_sub(t.io_calls)
                    };
                    // Per second at its CPU demand, like `cpu` (scaled by the crowd too), so that
                    // io / cpu is calls per CPU-second however crowded the node is.
                    let rate = (calls * 1000 / elapsed * crowd / 1000).min(1_000_000);
                    if state != t.state || nmigs != t.nmigs {
                        // It arrived here, came home or left: start over.
                        t.since_ms = now;
                        t.state = state;
                        t.nmigs = nmigs;
                        t.io = 0;
                        t.cpu = now_share as u32;
                    } else {
                        t.cpu =
                            ((u64::from(t.cpu) * keep + now_share * (1000 - keep)) / 1000) as u32;
                        t.io = ((u64::from(t.io) * keep + rate * (1000 - keep)) / 1000) as u32;
                    }
                    t.io_calls = s.io_calls;
                    t.runtime_ns = s.runtime_ns;
                    t.forwarded = forwarded;
                    t.seen = true;
                }
                None => {
                    if self.tracks.len() >= MAX_TRACKED {
                        continue;
                    }
                    self.tracks.push(
                        Track {
                            pid: s.pid,
                            runtime_ns: s.runtime_ns,
                            io_calls: s.io_calls,
                            forwarded,
                            // At the first round a process at home has been here since it
                            // started; a guest may have just arrived (the balancer of a node
                            // without work skips its rounds until then).
                            since_ms: if first && state == pstate::HOME {
                                0
                            } else {
                                now
                            },
                            state,
                            nmigs,
                            seen: true,
                            ..Track::default()
                        },
                        GFP_KERNEL,
                    )?;
                }
            }
        }
        retain(&mut self.tracks, |t| t.seen)
    }
}

impl Balancer {
    /// `/proc/hpc/info/balance`: one line per tracked process, `pid cpu io rss_kib resident_ms
    /// state` (cpu per mille of a CPU, io calls per second, state as `uapi::pstate`), as of the
    /// last round.
    pub(crate) fn show(&self, out: &mut crate::kapi::procfs::SeqWriter) -> core::fmt::Result {
        use core::fmt::Write;
        let now = sys::monotonic_ms();
        for t in self.tracks.iter() {
            let rss = self
                .samples
                .iter()
                .find(|s| s.pid == t.pid)
                .map_or(0, |s| s.rss_pages * 4);
            writeln!(
                out,
                "{} {} {} {} {} {}",
                t.pid,
                t.cpu,
                t.io,
                rss,
                now.saturating_sub(t.since_ms),
                t.state
            )?;
        }
        Ok(())
    }
}

/// Keeps the elements of `v` for which `keep` holds (this kernel's `KVec` has no `retain`).
/// Errors: `ENOMEM` (then `v` is unchanged).
fn retain<T: Copy>(v: &mut KVec<T>, keep: impl Fn(&T) -> bool) -> Result {
    let mut kept = KVec::with_capacity(v.len(), GFP_KERNEL)?;
    for x in v.iter().filter(|x| keep(x)) {
        kept.push(*x, GFP_KERNEL)?;
    }
    *v = kept;
    Ok(())
}

/// The views of this node and its peers, or `None` without a map.
fn views(
    sh: &Shared,
    pending: &[Pending],
    cost: &CallCost,
    now: u64,
) -> Option<(NodeView, KVec<NodeView>, crate::cluster::Params)> {
    let crate::cluster::LoadVector {
        self_id: me,
        params,
        own,
        slots,
    } = sh.load_vector()?;
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
            call_us: cost.call_us(sh, e.node),
        };
        // A move not yet visible in the target's report: count it there; and here not until
        // this node's fast average has forgotten it.
        let reported = now.saturating_sub(slot.age_ms(now));
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
    Failed(Error, u32),
}

/// One balancing round: sample, decide, move at most one process. `only` restricts the round
/// to one process (`migrate PID balance`), which then needs no residency, CPU demand or
/// history.
fn round(b: &mut Balancer, sh: &Arc<Shared>, only: Option<i32>) -> Result<Outcome> {
    let now = sys::monotonic_ms().max(1);
    if only.is_none() {
        // Idle: without a map, or with less than half a runnable task, no guest and memory to
        // spare, nothing can be worth moving: skip the walk (it costs CPU on every node).
        let idle = sh.self_id() == 0
            || (sh.fast_load() < IDLE_LOAD
                && !crate::migrate::has_guests(sh)
                && sh.with_state(|s| s.params.usher_kib) < crate::kapi::sys::meminfo_kib().2);
        if idle {
            return Ok(Outcome::Stay);
        }
        b.sample(sh, now)?;
    }
    retain(&mut b.pending, |m| {
        now.saturating_sub(m.at_ms) < SETTLE_MS + 10_000
    })?;
    b.cost.update(&sh.mig.stats);
    let Some((here, peers, params)) = views(sh, &b.pending, &b.cost, now) else {
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
    let mut cands = KVec::new();
    if let Some(pid) = only {
        let info = crate::migrate::balance_info(sh, pid);
        let guest = info.as_ref().is_some_and(|i| i.state == pstate::GUEST);
        let s = b.samples.iter().find(|s| s.pid == pid).copied();
        let t = b.tracks.iter().find(|t| t.pid == pid).copied();
        let rss = s.map_or(0, |s| s.rss_pages);
        cands.push(
            Candidate {
                id: pid as u32,
                home: info.as_ref().map_or(here.node, |i| i.home),
                cpu: t.map_or(1000, |t| t.cpu.max(500)),
                io: t.map_or(0, |t| t.io),
                image_kib: rss * 4,
                runtime_ms: s.map_or(0, |s| s.runtime_ns / 1_000_000).max(60_000),
                resident_ms: u64::MAX / 4,
                recent_moves: 0,
                guest,
            },
            GFP_KERNEL,
        )?;
        policy.min_cpu = 0;
        policy.usher_kib = 0;
    } else if !stay {
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
            let info = crate::migrate::balance_info(sh, t.pid);
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
                    image_kib: s.rss_pages * 4,
                    runtime_ms: s.runtime_ns / 1_000_000,
                    resident_ms: now.saturating_sub(t.since_ms),
                    recent_moves: recent,
                    guest,
                },
                GFP_KERNEL,
            )?;
        }
    }
    let Some(mv) = decide::decide(&here, &peers, &cands, &policy) else {
        return Ok(Outcome::Stay);
    };
    let pid = mv.id as i32;
    let cand = cands.iter().find(|c| c.id == mv.id).copied();
    let guest = cand.is_some_and(|c| c.guest);
    // A guest leaves only for home (it may go on from there at its home's choice).
    let to = if guest { 0 } else { mv.to as i32 };
    let r = crate::migrate::migrate_within(sh, pid, to, SAFE_POINT_MS);
    let stats = &sh.mig.stats;
    let t = b.tracks.iter_mut().find(|t| t.pid == pid);
    match r {
        Ok(()) => {
            let counter = match mv.reason {
                Reason::Load => &stats.balance_load,
                Reason::Memory => &stats.balance_memory,
                Reason::Io => &stats.balance_io,
            };
            counter.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
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
            Ok(Outcome::Moved(mv))
        }
        Err((e, why)) => {
            stats
                .balance_failed
                .fetch_add(1, core::sync::atomic::Ordering::Relaxed);
            if let Some(t) = t {
                t.backoff_until = now + FAIL_BACKOFF_MS;
            }
            pr_info!(
                "balance: pid {} to node {} failed: {:?} (cantmove {})\n",
                pid,
                mv.to,
                e,
                why
            );
            Ok(Outcome::Failed(e, why))
        }
    }
}

/// Body of the `oxmosix-balance` thread: one round per gossip interval.
pub(crate) fn run(sh: &Arc<Shared>, b: &kernel::sync::Mutex<Balancer>) {
    while !kthread::should_stop() {
        let interval = sh.with_state(|s| s.params.gossip_interval_ms);
        let moved = {
            let mut g = b.lock();
            match round(&mut g, sh, None) {
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
        kthread::sleep_ms(if moved { interval.min(200) } else { interval });
    }
}

/// `migrate PID balance`: place process `pid` now, where the balancer would (possibly here).
/// Returns the node it runs on afterwards. Errors: `ESRCH`, or the migration's error.
pub(crate) fn balance_one(
    sh: &Arc<Shared>,
    b: &kernel::sync::Mutex<Balancer>,
    pid: i32,
) -> core::result::Result<u32, (Error, u32)> {
    if crate::kapi::task::TaskRef::from_pid(pid).is_none() {
        return Err((ESRCH, 0));
    }
    let mut g = b.lock();
    // Fresh numbers for this process (the thread's last sample may be a second old).
    let now = sys::monotonic_ms().max(1);
    g.sample(sh, now).map_err(|e| (e, 0))?;
    match round(&mut g, sh, Some(pid)).map_err(|e| (e, 0))? {
        Outcome::Moved(mv) => Ok(mv.to),
        Outcome::Stay => Ok(sh.self_id()),
        Outcome::Failed(e, why) => Err((e, why)),
    }
}
