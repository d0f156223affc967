// SPDX-License-Identifier: GPL-2.0
//! Load balancing: the pure decision ([`decide`], no kernel types, tested on the host) and the
//! balancer thread that measures this node's processes and carries the decision out ([`thread`]).
//!
//! - [`decide`]: at most one process to move and where (I/O jobs home, memory ushering, then
//!   openMosix's cost/benefit rule on expected completion time), from the load vector
//!   ([`crate::load`]).
//! - [`thread`]: `oxmosix-balance`, one round per gossip interval, and `migrate PID balance`.
//! - [`place`]: placement of a program as it starts (`exec_place`).

#[allow(dead_code, unreachable_pub)]
pub(crate) mod decide;
mod measure;
pub(crate) mod place;
pub(crate) mod thread;
