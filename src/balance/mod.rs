// SPDX-License-Identifier: GPL-2.0
//! Load-balancing policy: pure Rust, no kernel types, no allocation; tested on the host
//! (`tests/host`).
//!
//! - [`load`]: a node's own load from sampled runnable-task counts (openMosix-style slow/fast decay,
//!   normalized by CPU count and speed).
//! - [`vector`]: the load vector, what a node knows of every node's load, merged from gossip.
//! - [`decide`]: the balancing decision, at most one process to move and where (I/O jobs home,
//!   memory ushering, then openMosix's cost/benefit rule on expected completion time).

// Shared with the host tests: some items are used only on one side.
#![allow(dead_code, unreachable_pub)]

pub mod decide;
pub mod load;
pub mod vector;
