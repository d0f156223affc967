// SPDX-License-Identifier: GPL-2.0
//! Load-balancing policy: pure Rust, no kernel types, no allocation; tested on the host
//! (`tests/host`).
//!
//! - [`load`]: a node's own load from sampled runnable-task counts (openMosix-style slow/fast decay,
//!   normalized by CPU count and speed).
//! - [`vector`]: the load vector, what a node knows of every node's load, merged from gossip.

// Shared with the host tests: some items are used only on one side.
#![allow(dead_code, unreachable_pub)]

pub mod load;
pub mod vector;
