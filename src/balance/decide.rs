// SPDX-License-Identifier: GPL-2.0
//! The load-balancing decision: which process, if any, to move from this node, and where.
//!
//! Each balancing round the kernel side describes this node ([`NodeView`] `here`, its load
//! measured with every candidate running here), the up peers from the load vector (`peers`), and
//! the processes it may move (`cands`, [`Candidate`]); [`decide`] picks at most one move. Pure
//! integer arithmetic, no allocation, no panics: O(`cands.len()` * `peers.len()`).
//!
//! Units (those of [`crate::load`]): a node's normalized load is 100 ([`LOAD_ONE`]) per runnable
//! task per reference-speed CPU ([`REFERENCE_SPEED`]); a process's CPU demand `cpu` is per mille
//! of one CPU (at most [`MAX_CPU`]). On a node with `cpus` CPUs of speed `speed` the process adds
//!
//! ```text
//! contrib(node, cpu) = cpu * 1000 / (cpus * speed)        (rounded to nearest)
//! ```
//!
//! to the load (`cpu * LOAD_ONE * REFERENCE_SPEED / (MAX_CPU * cpus * speed)`: 1000 per mille on
//! one reference CPU adds 100); [`load_with`] and [`load_without`] add and remove it.
//!
//! # Rules, in order (after openMosix)
//!
//! A candidate is *eligible* only if it has stayed [`Policy::min_residency_ms`] on this node and
//! moved fewer than [`Policy::max_moves`] times in the last [`Policy::window_ms`] (openMosix's
//! protection against migration thrashing). A peer entry for `here.node` is ignored. A peer is a
//! *target* for a process at home if it `accepts`; a guest's only target is its home node (a
//! process may always go home; from there its home's balancer may place it elsewhere).
//!
//! 1. **I/O jobs go home** ([`Reason::Io`]). A guest forwards its system calls to its deputy at
//!    home; when it forwards more than [`Policy::io_home_ratio`] calls per second per CPU-second
//!    (`io * 1000 / max(cpu, 1) > io_home_ratio`, `io > 0`), it waits on the network more than
//!    it computes, and it returns home if the home node is among `peers` (the caller passes only
//!    up nodes; blocking does not matter for a node's own processes) and would finish it sooner:
//!    its expected remaining CPU time at home's rate with it there, against the same time at
//!    this node's rate plus the waiting on its forwarded calls ([`forward_ms`]), must save more
//!    than twice the transfer cost (a home crowded by its other jobs may be worse than waiting
//!    here). The guest with the highest `io` is chosen (the MOSIX/openMosix rule that a process
//!    whose work is mostly I/O through its home is better off at home).
//! 2. **Memory ushering** ([`Reason::Memory`], Barak and Braverman, "Memory ushering in a scalable
//!    computing cluster", 1998, as in openMosix). Only when [`Policy::usher_kib`] is not 0 and this
//!    node's available memory is below it: the eligible candidate with the largest image (CPU
//!    demand ignored) goes to the target with the most available memory that keeps at least
//!    [`Policy::usher_reserve_kib`] after receiving it and does not itself fall below `usher_kib`
//!    by that test; a guest's home wins among qualifying targets. A smaller image is tried only
//!    if no target has room for a larger one.
//! 3. **Load** ([`Reason::Load`]), the openMosix cost/benefit rule: move the process that would
//!    finish soonest elsewhere, if the saving pays for the transfer (below). An I/O job
//!    ([`io_job`]: for a process at home `io` counts its reads and writes, which would all be
//!    forwarded if it were away) is never moved for load. Only candidates with
//!    `cpu >= min_cpu` (and not 0), and only to targets with `amem_kib >= image_kib`.
//! 4. Otherwise nothing moves.
//!
//! # The load rule
//!
//! A process runs on a node at the rate (work per second, in speed units) of one CPU shared among
//! the runnable tasks: `speed * min(1, cpus / tasks)`. With `tasks = load * cpus * speed /
//! (LOAD_ONE * REFERENCE_SPEED)` this is `min(speed, LOAD_ONE * REFERENCE_SPEED / load)`:
//!
//! ```text
//! rate(node, load) = min(speed * 1000, 10^9 / load)                 (speed units * 1000)
//! rate_here  = rate(here, here.load)                   (everything staying)
//! rate_there = rate(peer, load_with(peer, cpu))        (after the move)
//! ```
//!
//! The expected remaining CPU time equals the CPU time used so far, `runtime_ms` (the "age
//! predicts remaining life" rule, Harchol-Balter and Downey, "Exploiting process lifetime
//! distributions for dynamic load balancing", 1997), i.e. `runtime_ms * here.speed` units of
//! work. The gain is the wall-clock time saved on it (the transfer cost not deducted):
//!
//! ```text
//! gain_ms = runtime_ms * here.speed * (1 / rate_here - 1 / rate_there) - fwd_ms
//! fwd_ms  = runtime_ms * io * call_us / (cpu * 1000)
//! cost_ms = image_kib * 1000 / bandwidth + 50
//! ```
//!
//! `fwd_ms` is the time the process would wait on forwarded calls away from home: `io * 1000 /
//! cpu` calls per CPU-second at `call_us` each ([`NodeView::call_us`], measured: the network
//! round trip to the node plus the deputy's service time at home). For a guest going home it is
//! the time it stops paying, so it adds to the gain instead. This is what keeps a compressor
//! that reads its input through the deputy at home when the network is slow, while a job
//! without file I/O moves.
//!
//! A move needs `gain_ms > 2 * cost_ms`, and hysteresis: the target must still offer more than
//! `rate_here` with [`Policy::margin`] added to its load after the move,
//! `rate(peer, load_with(peer, cpu) + margin) > rate_here`. As `rate` does not increase with load,
//! the reverse move of the same process right after is then impossible (it would need
//! `rate(here, here.load + margin) > rate(peer, load_with(peer, cpu))`): no ping-pong, and the
//! margin absorbs measurement noise. Two equal nodes at one task each, or at two and one, never
//! swap; a node of twice the speed ends up with twice the tasks. Among the moves allowed, the
//! largest gain wins, then the lower peer node id, then the lower candidate id. A fresh process
//! (small `runtime_ms`) moves only once it has run long enough for the gain to cover the cost:
//! at 32 MiB/s a 4 MiB image costs 175 ms, which two tasks sharing one CPU earn back, moving one
//! of them to an idle equal node, after 350 ms of CPU time.

use crate::load::REFERENCE_SPEED;

/// Normalized load of one runnable task on one reference-speed CPU.
pub const LOAD_ONE: u32 = 100;
/// CPU demand of a process that keeps one CPU busy, per mille.
pub const MAX_CPU: u32 = 1000;
/// Fixed part of a migration's cost (freeze, handshake, restart), in milliseconds.
pub const FIXED_COST_MS: u64 = 50;
/// Fixed-point scale of rates: a rate is in speed units times this.
const RATE_SCALE: u64 = 1000;
/// `contrib(node, cpu) = cpu * CONTRIB_NUM / (cpus * speed)`.
const CONTRIB_NUM: u64 = LOAD_ONE as u64 * REFERENCE_SPEED as u64 / MAX_CPU as u64;
/// `rate = min(speed * RATE_SCALE, RATE_NUM / load)`.
const RATE_NUM: u64 = LOAD_ONE as u64 * REFERENCE_SPEED as u64 * RATE_SCALE;

/// What the balancer knows of one node (this one or a peer), from the load vector.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeView {
    /// Node id.
    pub node: u32,
    /// Normalized load: 100 per runnable task per reference-speed CPU.
    pub load: u32,
    /// CPU speed, reference 10000 ([`REFERENCE_SPEED`]); 0 is taken as 1.
    pub speed: u32,
    /// Number of CPUs; 0 is taken as 1.
    pub cpus: u16,
    /// Memory available for processes, KiB.
    pub amem_kib: u64,
    /// The node may receive a process: up, not blocking guests, not quiet, not staying for
    /// guests.
    pub accepts: bool,
    /// Estimated transfer bandwidth to the node, KiB/s; 0 = unknown
    /// ([`Policy::default_bw_kib_s`]).
    pub bw_kib_s: u32,
    /// Cost of one system call forwarded between a process on the node and its deputy here
    /// (or, for a guest, between here and its home), µs of the process's wall time: measured
    /// network round trip plus the deputy's service time; 0 = unknown
    /// ([`Policy::default_call_us`]).
    pub call_us: u32,
}

/// A process the balancer may move from this node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Candidate {
    /// Process id, opaque to this module.
    pub id: u32,
    /// Its home node id.
    pub home: u32,
    /// Decayed CPU demand, per mille of one CPU (above [`MAX_CPU`] taken as [`MAX_CPU`]).
    pub cpu: u32,
    /// Decayed I/O rate, calls per second: a guest's forwarded system calls; a process at home,
    /// its read and write system calls (those that would be forwarded if it were away).
    pub io: u32,
    /// Memory that would be transferred, KiB.
    pub image_kib: u64,
    /// CPU time used so far, ms; also the estimate of the CPU time still to come.
    pub runtime_ms: u64,
    /// Time since it arrived on this node (or started), ms.
    pub resident_ms: u64,
    /// Migrations in the last [`Policy::window_ms`].
    pub recent_moves: u32,
    /// It runs here away from its home node `home`.
    pub guest: bool,
}

/// The balancer's knobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Least CPU demand (per mille) for a load move to be worth it; default 500.
    pub min_cpu: u32,
    /// Hysteresis, in normalized load units: a load move must still pay with this much more load
    /// on the target; default 30.
    pub margin: u32,
    /// Least time on this node before a process may move again, ms; default 2000.
    pub min_residency_ms: u64,
    /// Most migrations of one process in [`Policy::window_ms`]; default 3.
    pub max_moves: u32,
    /// Window of [`Candidate::recent_moves`], ms; default 60000 (the caller counts).
    pub window_ms: u64,
    /// Bandwidth assumed when a peer's is unknown, KiB/s; default 32768.
    pub default_bw_kib_s: u32,
    /// A process with `io * 1000 / max(cpu, 1)` (calls per CPU-second) above this is an I/O job;
    /// default 1000: at a millisecond per forwarded call, more calls than that per CPU-second
    /// would more than double its run time away from home. The balancer sets it each round to
    /// `10^6 / call_us` from the measured cost of forwarded calls.
    pub io_home_ratio: u32,
    /// Memory ushering starts when this node's available memory is below this, KiB; 0 (the
    /// default) = off.
    pub usher_kib: u64,
    /// Memory a target must keep available after receiving an ushered image, KiB; default 16384.
    pub usher_reserve_kib: u64,
    /// Cost of a forwarded call assumed when a node's is unknown, µs; default 1000.
    pub default_call_us: u32,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            min_cpu: 500,
            margin: 30,
            min_residency_ms: 2000,
            max_moves: 3,
            window_ms: 60_000,
            default_bw_kib_s: 32_768,
            io_home_ratio: 1000,
            usher_kib: 0,
            usher_reserve_kib: 16_384,
            default_call_us: 1000,
        }
    }
}

/// Why a move was chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Better CPU share elsewhere (rule 3).
    Load,
    /// This node is short of memory (rule 2).
    Memory,
    /// An I/O-bound guest goes home (rule 1).
    Io,
}

/// A chosen move.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Move {
    /// The candidate's id.
    pub id: u32,
    /// The target node.
    pub to: u32,
    /// Which rule chose it.
    pub reason: Reason,
    /// Expected gain, by reason: [`Reason::Load`], ms of wall-clock time saved on the process's
    /// expected remaining run (the transfer cost not deducted); [`Reason::Memory`], KiB freed
    /// here (the image); [`Reason::Io`], forwarded system calls per second that stop crossing
    /// the network (the candidate's `io`).
    pub gain: u64,
}

/// Cost/benefit choice of at most one process to move from `here` (this node, its load measured
/// with all candidates running here) to one of `peers` (peers with `node == here.node` are
/// ignored), by the rules of the module documentation.
pub fn decide(
    here: &NodeView,
    peers: &[NodeView],
    cands: &[Candidate],
    policy: &Policy,
) -> Option<Move> {
    go_home(here, peers, cands, policy)
        .or_else(|| usher(here, peers, cands, policy))
        .or_else(|| by_load(here, peers, cands, policy))
}

/// Modes of placement at exec time ([`place`], `/proc/hpc/admin/exec_place`).
pub use crate::uapi::exec_place as place_mode;

/// Placement at exec time (MOSIX places a program when it starts; issue 15): the peer where a
/// program that starts here now should run, or `None` to run it here. `here.load` counts the
/// program (it is running its `execve`). Having no history, the program is taken to keep a CPU
/// busy ([`MAX_CPU`]); its image is a few pages, so the move's cost is left out. With
/// [`place_mode::OVERLOADED`] only a node with more runnable tasks than CPUs places (its rate
/// is below its speed). The target is the peer that `accepts` and has 16 MiB available where
/// the program would run at the highest rate, if that rate with [`Policy::margin`] more load
/// still beats this node's, `rate(peer, load_with(peer, MAX_CPU) + margin) > rate(here,
/// here.load)` (the load rule's hysteresis: the balancer then has no reason to move it back);
/// ties go to the lower node id. [`place_mode::OFF`] or an unknown mode places nothing.
pub fn place(here: &NodeView, peers: &[NodeView], mode: u32, policy: &Policy) -> Option<u32> {
    if mode != place_mode::BEST && mode != place_mode::OVERLOADED {
        return None;
    }
    let rate_here = rate(here.speed, here.load);
    if mode == place_mode::OVERLOADED && rate_here >= u64::from(here.speed.max(1)) * RATE_SCALE {
        return None;
    }
    let mut best: Option<(u64, u32)> = None;
    for p in peers {
        if p.node == here.node || !p.accepts || p.amem_kib < 16 * 1024 {
            continue;
        }
        let after = load_with(p, MAX_CPU);
        if rate(p.speed, after.saturating_add(policy.margin)) <= rate_here {
            continue;
        }
        let r = rate(p.speed, after);
        if best.map_or(true, |(br, bn)| r > br || (r == br && p.node < bn)) {
            best = Some((r, p.node));
        }
    }
    best.map(|(_, n)| n)
}

/// The load of `tasks` runnable tasks on `node` (each a whole CPU's demand), saturating.
pub fn load_of_tasks(node: &NodeView, tasks: u32) -> u32 {
    let v = u64::from(tasks).saturating_mul(contrib(node, MAX_CPU));
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// Load a node would show with an extra process of `cpu` per mille (saturating).
pub fn load_with(node: &NodeView, cpu: u32) -> u32 {
    let v = u64::from(node.load).saturating_add(contrib(node, cpu));
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// Load a node would show without a process of `cpu` per mille (saturating at 0).
pub fn load_without(node: &NodeView, cpu: u32) -> u32 {
    let c = u32::try_from(contrib(node, cpu)).unwrap_or(u32::MAX);
    node.load.saturating_sub(c)
}

/// The share (per mille of one task) of a process that left a node at `left_ms` which a load
/// report the node made at `reported_ms` still holds: all of it in a report made before it left;
/// after, what the node's slow average keeps of it, `slow_decay` per mille per `interval_ms`
/// (the reported load is the larger of the node's fast and slow averages: `crate::load`). Used
/// for this node's own processes that ended on a peer or came home from it, so that a stale
/// report does not keep the next program from going where a CPU was just freed.
pub fn departed_share(left_ms: u64, reported_ms: u64, slow_decay: u32, interval_ms: u32) -> u32 {
    if reported_ms <= left_ms {
        return 1000;
    }
    let steps = (reported_ms - left_ms) / u64::from(interval_ms.max(1));
    let keep = u64::from(slow_decay.min(999));
    // In millionths, so that a few steps of a decay near 1000 are not rounded away.
    let mut share = 1_000_000u64;
    for _ in 0..steps.min(1000) {
        share = share * keep / 1000;
        if share == 0 {
            break;
        }
    }
    (share / 1000) as u32
}

/// Migration cost estimate in ms: `image_kib * 1000 / bw_kib_s` (bandwidth 0: the policy's
/// default, itself at least 1) plus [`FIXED_COST_MS`], saturating.
pub fn cost_ms(image_kib: u64, bw_kib_s: u32, policy: &Policy) -> u64 {
    let bw = if bw_kib_s == 0 {
        policy.default_bw_kib_s
    } else {
        bw_kib_s
    };
    mul_div(image_kib, 1000, u64::from(bw.max(1))).saturating_add(FIXED_COST_MS)
}

/// The cost of one forwarded call to or from `node`, µs (unknown: the policy's default).
pub fn call_us(node: &NodeView, policy: &Policy) -> u32 {
    if node.call_us == 0 {
        policy.default_call_us
    } else {
        node.call_us
    }
}

/// Wall-clock ms process `c` would spend waiting on forwarded calls over its expected remaining
/// run (`runtime_ms` of CPU time) at `call_us` per call: it makes `io * 1000 / cpu` calls per
/// CPU-second, so `runtime_ms * io * call_us / (cpu * 1000)` (CPU demand 0 taken as 1),
/// saturating.
pub fn forward_ms(c: &Candidate, call_us: u32) -> u64 {
    let calls = mul_div(c.runtime_ms, u64::from(c.io), u64::from(demand(c).max(1)));
    mul_div(calls, u64::from(call_us), 1000)
}

/// A process's CPU demand clamped to [`MAX_CPU`].
fn demand(c: &Candidate) -> u32 {
    c.cpu.min(MAX_CPU)
}

/// Load units a process of `cpu` per mille adds on `node`, rounded to nearest.
fn contrib(node: &NodeView, cpu: u32) -> u64 {
    let d = u64::from(node.cpus.max(1)) * u64::from(node.speed.max(1));
    // At most 2^32 * 1000 + 2^48: no overflow.
    (u64::from(cpu) * CONTRIB_NUM + d / 2) / d
}

/// Rule eligibility: residency and move-count limits.
fn eligible(c: &Candidate, policy: &Policy) -> bool {
    c.resident_ms >= policy.min_residency_ms && c.recent_moves < policy.max_moves
}

/// `p` may receive `c`: for a process at home another node that accepts; for a guest only its
/// home (a guest leaves only for home, whose balancer may then place it elsewhere).
fn is_target(here: &NodeView, p: &NodeView, c: &Candidate) -> bool {
    p.node != here.node && if c.guest { p.node == c.home } else { p.accepts }
}

/// `a * b / d` (d 0 taken as 1) without overflow where the result fits, saturating otherwise.
fn mul_div(a: u64, b: u64, d: u64) -> u64 {
    let d = d.max(1);
    match a.checked_mul(b) {
        Some(p) => p / d,
        None => (a / d)
            .saturating_mul(b)
            .saturating_add((a % d).saturating_mul(b) / d),
    }
}

/// The rate a process gets on a node of `speed` at `load`, in speed units times [`RATE_SCALE`]
/// (at least 1).
fn rate(speed: u32, load: u32) -> u64 {
    let full = u64::from(speed.max(1)) * RATE_SCALE;
    let shared = match load {
        0 => full,
        l => RATE_NUM / u64::from(l),
    };
    full.min(shared).max(1)
}

/// Wall-clock ms to do `runtime_ms` of CPU time at `speed` when running at `rate`.
fn wall_ms(runtime_ms: u64, speed: u32, rate: u64) -> u64 {
    // Slow-down factor per mille (1000 = the whole CPU); speed * 10^6 < 2^63.
    let factor = u64::from(speed.max(1)) * RATE_SCALE * 1000 / rate.max(1);
    mul_div(runtime_ms, factor, 1000)
}

/// `a` is better than `b` if its key is larger, then its (node, id) smaller.
fn better<K: Ord + Copy>(a: (K, u32, u32), b: Option<&(K, u32, u32)>) -> bool {
    match b {
        None => true,
        Some(b) => a.0 > b.0 || (a.0 == b.0 && (a.1, a.2) < (b.1, b.2)),
    }
}

/// An I/O job: more than [`Policy::io_home_ratio`] calls per second per CPU-second (its reads
/// and writes at home, its forwarded calls as a guest).
pub fn io_job(c: &Candidate, policy: &Policy) -> bool {
    c.io > 0
        && u64::from(c.io) * 1000 / u64::from(demand(c).max(1)) > u64::from(policy.io_home_ratio)
}

/// Rule 1: the eligible I/O-bound guest with the highest `io` goes home.
fn go_home(
    here: &NodeView,
    peers: &[NodeView],
    cands: &[Candidate],
    policy: &Policy,
) -> Option<Move> {
    // Key: io, then lower home, lower id.
    let mut best: Option<(u32, u32, u32)> = None;
    let rate_here = rate(here.speed, here.load);
    for c in cands {
        if !(c.guest && io_job(c, policy) && eligible(c, policy)) {
            continue;
        }
        let Some(home) = peers
            .iter()
            .find(|p| p.node == c.home && p.node != here.node)
        else {
            continue;
        };
        // Home must be the faster place for it: its CPU time here plus the waiting on its
        // forwarded calls, against its CPU time at home's rate with it there.
        let here_ms = wall_ms(c.runtime_ms, here.speed, rate_here)
            .saturating_add(forward_ms(c, call_us(home, policy)));
        let home_rate = rate(home.speed, load_with(home, demand(c)));
        let home_ms = wall_ms(c.runtime_ms, here.speed, home_rate);
        let cost = cost_ms(c.image_kib, home.bw_kib_s, policy);
        let cand = (c.io, c.home, c.id);
        if here_ms.saturating_sub(home_ms) > cost.saturating_mul(2) && better(cand, best.as_ref()) {
            best = Some(cand);
        }
    }
    let (io, to, id) = best?;
    Some(Move {
        id,
        to,
        reason: Reason::Io,
        gain: u64::from(io),
    })
}

/// Rule 2: memory ushering.
fn usher(
    here: &NodeView,
    peers: &[NodeView],
    cands: &[Candidate],
    policy: &Policy,
) -> Option<Move> {
    if policy.usher_kib == 0 || here.amem_kib >= policy.usher_kib {
        return None;
    }
    // Key: (image, home, peer's memory), then lower node, lower id.
    let mut best: Option<((u64, bool, u64), u32, u32)> = None;
    for c in cands
        .iter()
        .filter(|c| c.image_kib > 0 && eligible(c, policy))
    {
        let need = c.image_kib.saturating_add(policy.usher_reserve_kib);
        for p in peers {
            let room = p.amem_kib >= need && p.amem_kib >= policy.usher_kib;
            let home = c.guest && p.node == c.home;
            let cand = ((c.image_kib, home, p.amem_kib), p.node, c.id);
            if room && is_target(here, p, c) && better(cand, best.as_ref()) {
                best = Some(cand);
            }
        }
    }
    let ((image, _, _), to, id) = best?;
    Some(Move {
        id,
        to,
        reason: Reason::Memory,
        gain: image,
    })
}

/// Rule 3: the move with the largest expected completion-time saving that pays for itself.
fn by_load(
    here: &NodeView,
    peers: &[NodeView],
    cands: &[Candidate],
    policy: &Policy,
) -> Option<Move> {
    let rate_here = rate(here.speed, here.load);
    let mut best: Option<(u64, u32, u32)> = None;
    for c in cands {
        let cpu = demand(c);
        if cpu == 0 || cpu < policy.min_cpu || !eligible(c, policy) || io_job(c, policy) {
            // An I/O job is not moved for load: away from home its calls would be forwarded.
            continue;
        }
        let wall_here = wall_ms(c.runtime_ms, here.speed, rate_here);
        for p in peers {
            if !is_target(here, p, c) || p.amem_kib < c.image_kib {
                continue;
            }
            let after = load_with(p, cpu);
            if rate(p.speed, after.saturating_add(policy.margin)) <= rate_here {
                continue;
            }
            let rate_there = rate(p.speed, after);
            // Away from home every read and write waits for the deputy: a process at home
            // would pay that there, a guest pays it here and stops paying at home.
            let fwd = forward_ms(c, call_us(p, policy));
            let (time_here, time_there) = if c.guest {
                (wall_here.saturating_add(fwd), 0)
            } else {
                (wall_here, fwd)
            };
            let time_there =
                time_there.saturating_add(wall_ms(c.runtime_ms, here.speed, rate_there));
            let gain = time_here.saturating_sub(time_there);
            let cost = cost_ms(c.image_kib, p.bw_kib_s, policy);
            if gain > cost.saturating_mul(2) && better((gain, p.node, c.id), best.as_ref()) {
                best = Some((gain, p.node, c.id));
            }
        }
    }
    let (gain, to, id) = best?;
    Some(Move {
        id,
        to,
        reason: Reason::Load,
        gain,
    })
}
