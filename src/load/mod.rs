// SPDX-License-Identifier: GPL-2.0
//! Load: a node's own load from sampled runnable-task counts (this file) and the load vector,
//! what a node knows of every node's load, merged from gossip ([`vector`]). Pure Rust, no kernel
//! types, no allocation; tested on the host (`tests/host`).
//!
//! A node's own load.
//!
//! Every decay interval the module samples the number of runnable tasks `r` (its own sampling
//! thread excluded) and feeds it to [`LoadAverager::sample`]. Two exponentially decaying averages
//! follow it, in fixed point with [`SCALE`] = 1000 per task:
//!
//! ```text
//! fast <- (fast * fast_decay + r * SCALE * (1000 - fast_decay)) / 1000
//! slow <- (slow * slow_decay + r * SCALE * (1000 - slow_decay)) / 1000
//! ```
//!
//! Decays are per mille of the old value kept per interval (openMosix's `fast_decay`/`slow_decay`
//! knobs; defaults [`DEFAULT_FAST_DECAY`] and [`DEFAULT_SLOW_DECAY`]). The node's raw load is
//! `max(fast, slow)`: it rises as fast as the fast average and falls as slowly as the slow one,
//! which is the hysteresis openMosix used against reacting to short bursts.
//!
//! The exported load ([`normalized`]) is the raw load expressed in reference CPUs:
//! `raw * 100 / SCALE * REFERENCE_SPEED / (cpus * speed)`, so 100 means "one task's worth of work
//! per reference-speed CPU": a node with twice the speed or twice the CPUs shows half the load for
//! the same runnable tasks.

// Shared with the host tests: some items are used only on one side.
#![allow(dead_code, unreachable_pub)]

pub mod vector;

/// Fixed-point scale of the averages: 1000 = one runnable task.
pub const SCALE: u64 = 1000;
/// Speed of the reference CPU (openMosix scale).
pub const REFERENCE_SPEED: u32 = 10_000;
/// Default fast decay, per mille kept per interval.
pub const DEFAULT_FAST_DECAY: u32 = 700;
/// Default slow decay, per mille kept per interval.
pub const DEFAULT_SLOW_DECAY: u32 = 950;
/// Valid decay values are 0..=MAX_DECAY per mille (1000 would never change).
pub const MAX_DECAY: u32 = 999;
/// Default decay interval in milliseconds.
pub const DEFAULT_DECAY_INTERVAL_MS: u32 = 100;
/// Valid decay intervals, in milliseconds.
pub const DECAY_INTERVAL_RANGE_MS: (u32, u32) = (10, 10_000);

/// The decaying averages of a node's runnable-task count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadAverager {
    fast: u64,
    slow: u64,
}

impl LoadAverager {
    /// Feeds one sample of `runnable` tasks with the given decays (per mille, clamped to
    /// [`MAX_DECAY`]).
    pub fn sample(&mut self, runnable: u32, fast_decay: u32, slow_decay: u32) {
        let r = u64::from(runnable) * SCALE;
        let step = |old: u64, d: u32| {
            let d = u64::from(d.min(MAX_DECAY));
            (old * d + r * (1000 - d)) / 1000
        };
        self.fast = step(self.fast, fast_decay);
        self.slow = step(self.slow, slow_decay);
    }

    /// `max(fast, slow)` in [`SCALE`] units.
    pub fn raw(&self) -> u64 {
        self.fast.max(self.slow)
    }

    /// The fast average alone in [`SCALE`] units: what the node runs now (within about a
    /// second), without the slow average's memory. The balancer judges its own node by it, so
    /// work it just sent away is not counted again.
    pub fn fast(&self) -> u64 {
        self.fast
    }
}

/// The load reported to the cluster: `raw` ([`SCALE`] units) normalized by `cpus` (at least 1)
/// and `speed` (at least 1), saturating at `proto::MAX_LOAD`-sized values.
pub fn normalized(raw: u64, cpus: u32, speed: u32) -> u32 {
    let denom = u64::from(cpus.max(1)) * u64::from(speed.max(1));
    let v = raw * 100 * u64::from(REFERENCE_SPEED) / SCALE / denom;
    v.min(100_000_000) as u32
}

/// The share of the CPUs that `runnable` tasks keep busy, in basis points (10000 = all `cpus`).
/// Utilization is the average of this over the samples of a gossip interval.
pub fn busy_share(runnable: u32, cpus: u32) -> u16 {
    let cpus = cpus.max(1);
    (u64::from(runnable.min(cpus)) * 10_000 / u64::from(cpus)) as u16
}
