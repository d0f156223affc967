// SPDX-License-Identifier: GPL-2.0
//! What the balancer measures of this node's processes between rounds: each process's decayed
//! CPU demand and I/O rate (openMosix's `cpujob`/`iojob`), the moves it made that the targets
//! have not reported yet, and the measured cost of forwarded calls.

use kernel::prelude::*;

use super::thread::Balancer;
use crate::kapi::sys;
use crate::kapi::tasklist::{self, ProcSample};
use crate::migrate;
use crate::uapi::pstate;

/// Per mille of a process's CPU demand kept per second of decay.
pub(crate) const CPU_DECAY: u64 = 500;
/// A process that could not be moved is not tried again for this long (ms).
pub(crate) const FAIL_BACKOFF_MS: u64 = 10_000;
/// At most this many processes are tracked (the rest of a larger node is not considered).
pub(crate) const MAX_TRACKED: usize = 1024;

/// What the balancer remembers of one process between rounds.
#[derive(Clone, Copy, Default)]
pub(super) struct Track {
    pub(super) pid: i32,
    /// CPU time at the last round, ns.
    pub(super) runtime_ns: u64,
    /// Decayed CPU demand, per mille of one CPU.
    pub(super) cpu: u32,
    /// Decayed forwarded-call rate (guests), calls per second.
    pub(super) io: u32,
    /// Read/write system calls counted at the last round (processes at home).
    pub(super) io_calls: u64,
    /// Forwarded calls counted at the last round.
    pub(super) forwarded: u64,
    /// When it arrived in its current state here (ms, monotonic).
    pub(super) since_ms: u64,
    /// Registry state at the last round (`pstate::HOME` for processes without a record).
    pub(super) state: u32,
    /// Its migration count at the last round (a process that left and came back between two
    /// rounds shows the same state but a new count).
    pub(super) nmigs: u32,
    /// The balancer's last moves of it (ms), newest first.
    pub(super) moves: [u64; 3],
    /// Not tried again before this time (ms).
    pub(super) backoff_until: u64,
    /// Seen in the current round.
    pub(super) seen: bool,
}

/// A move recently made, counted on its target until the target reports again.
#[derive(Clone, Copy)]
pub(super) struct Pending {
    pub(super) node: u32,
    pub(super) cpu: u32,
    pub(super) at_ms: u64,
}

/// How long a departure is remembered (ms): by then a node's slow average has forgotten it
/// (0.95 kept per 100 ms leaves 0.2 % after 12 s).
pub(super) const DEPARTED_KEEP_MS: u64 = 12_000;
/// At most this many departures are remembered (more within [`DEPARTED_KEEP_MS`] are not).
const MAX_DEPARTED: usize = 256;

/// This node's processes that left a peer (ended there or came home), found by comparing the
/// counts of processes away per node ([`migrate::away_counts`]) between two looks.
pub(crate) struct Departures {
    /// The counts at the last look: (node, processes there).
    last: KVec<(u32, u32)>,
    /// (node, ms when the departure was seen), oldest first.
    pub(super) left: KVec<(u32, u64)>,
}

impl Departures {
    /// Nothing seen yet.
    pub(crate) const fn new() -> Self {
        Departures {
            last: KVec::new(),
            left: KVec::new(),
        }
    }

    /// Takes the counts `away` seen at `now`: each process fewer on a node than at the last
    /// look left it now. Errors: `ENOMEM`.
    pub(super) fn observe(&mut self, away: &[(u32, u32)], now: u64) -> Result {
        for &(node, was) in self.last.iter() {
            let is = away.iter().find(|a| a.0 == node).map_or(0, |a| a.1);
            for _ in is..was {
                if self.left.len() < MAX_DEPARTED {
                    self.left.push((node, now), GFP_KERNEL)?;
                }
            }
        }
        let mut last = KVec::with_capacity(away.len(), GFP_KERNEL)?;
        last.extend_from_slice(away, GFP_KERNEL)?;
        self.last = last;
        retain(&mut self.left, |d| {
            now.saturating_sub(d.1) < DEPARTED_KEEP_MS
        })
    }
}

/// Running means of what forwarded calls cost on this node, from the counters of
/// `/proc/hpc/info/migration` (3/4 of the old mean kept per round that saw calls).
#[derive(Clone, Copy, Default)]
pub(super) struct CallCost {
    /// `served` and `serve_us` at the last round.
    pub(super) served: u64,
    pub(super) serve_us: u64,
    /// `forwarded` and `forward_wait_us` at the last round.
    pub(super) forwarded: u64,
    pub(super) wait_us: u64,
    /// Mean time a deputy here spends on one call, µs (0: none served yet).
    pub(super) serve_mean_us: u64,
    /// Mean time a guest here waits for one forwarded call, µs (0: none forwarded yet).
    pub(super) wait_mean_us: u64,
}

impl CallCost {
    /// Folds the calls since the last update into the means.
    pub(super) fn update(&mut self, st: &crate::migrate::MigStats) {
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
    pub(super) fn call_us(&self, bal: &Balancer, peer: u32) -> u32 {
        let est = bal.net.rtt_us(peer).saturating_add(self.serve_mean_us);
        est.max(self.wait_mean_us).min(u64::from(u32::MAX)) as u32
    }
}

/// The balancer's state (owned by its thread).
pub(super) struct Tracking {
    pub(super) tracks: KVec<Track>,
    pub(super) samples: KVec<ProcSample>,
    pub(super) pending: KVec<Pending>,
    pub(super) last_ms: u64,
    pub(super) cost: CallCost,
}

impl Tracking {
    pub(crate) fn new() -> Tracking {
        Tracking {
            tracks: KVec::new(),
            samples: KVec::new(),
            pending: KVec::new(),
            last_ms: 0,
            cost: CallCost::default(),
        }
    }

    /// Samples every process and updates the tracks. Errors: `ENOMEM`.
    pub(super) fn sample(&mut self, bal: &Balancer, now: u64) -> Result {
        self.samples = KVec::with_capacity(MAX_TRACKED, GFP_KERNEL)?;
        let samples = &mut self.samples;
        tasklist::for_each_process(|s| {
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
        let crowd = (bal.net.raw_load() / u64::from(sys::online_cpus().max(1))).max(1000);
        let first = self.last_ms == 0;
        self.last_ms = now;
        // Decay per round: CPU_DECAY per second, scaled to the round's length (linearly; rounds
        // are about one second).
        let keep = (CPU_DECAY * 1000 / (1000 + elapsed.saturating_sub(1000).min(9000))).min(999);
        for t in self.tracks.iter_mut() {
            t.seen = false;
        }
        for s in self.samples.iter() {
            let info = migrate::balance_info(&bal.mig, s.pid);
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

impl Tracking {
    /// `/proc/hpc/info/balance`: one line per tracked process, `pid cpu io rss_kib resident_ms
    /// state` (cpu per mille of a CPU, io calls per second, state as `uapi::pstate`), as of the
    /// last round.
    pub(crate) fn show(&self, out: &mut impl core::fmt::Write) -> core::fmt::Result {
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
pub(super) fn retain<T: Copy>(v: &mut KVec<T>, keep: impl Fn(&T) -> bool) -> Result {
    let mut kept = KVec::with_capacity(v.len(), GFP_KERNEL)?;
    for x in v.iter().filter(|x| keep(x)) {
        kept.push(*x, GFP_KERNEL)?;
    }
    *v = kept;
    Ok(())
}
