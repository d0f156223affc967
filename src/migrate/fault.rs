// SPDX-License-Identifier: GPL-2.0
//! Fault injection for the failure tests (`/proc/hpc/admin/fault`, `CAP_SYS_ADMIN`): at a
//! chosen step of a migration this node cuts its link with the process's other node for a
//! while, as a failed network would ([`Cluster::cut`]). One shot: the fault disarms when it
//! fires.
//!
//! Written as `POINT SECONDS` (1..=120), `nomem`, or `off`; read back the same way. Points:
//! - `commit`: the home node, as it sends GO to the target of a migration that installed the
//!   image (the GO waits in the delivery ring: the target runs the process, and confirms, only
//!   once the link is back);
//! - `answered`: the home node, as it answers a process coming home that its image is installed
//!   (the answer waits in the ring: the guest hands back its signals and sends GO only once the
//!   link is back);
//! - `nomem` (no time): the home node, installing a process coming home, runs out of memory at
//!   its first memory area (the install fails as `TARGET_NOMEM`; the process stays where it
//!   ran).

use core::sync::atomic::{AtomicU64, Ordering};

use kernel::prelude::*;

use crate::cluster::Cluster;

/// A point of [`Fault`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Point {
    Commit = 1,
    Answered = 2,
    NoMem = 3,
}

const NAMES: [(&str, Point); 3] = [
    ("commit", Point::Commit),
    ("answered", Point::Answered),
    ("nomem", Point::NoMem),
];

/// The armed fault: point << 32 | seconds; 0 when off.
pub(crate) struct Fault(AtomicU64);

impl Fault {
    pub(super) const fn new() -> Fault {
        Fault(AtomicU64::new(0))
    }

    /// Arms (`POINT SECONDS`, `nomem`) or disarms (`off`) the fault. Errors: `EINVAL`.
    pub(crate) fn arm(&self, text: &str) -> Result {
        let mut words = text.split_whitespace();
        let v = match (words.next(), words.next(), words.next()) {
            (Some("off"), None, None) => 0,
            (Some("nomem"), None, None) => (Point::NoMem as u64) << 32,
            (Some(name), Some(secs), None) if name != "nomem" => {
                let point = NAMES.iter().find(|n| n.0 == name).ok_or(EINVAL)?.1;
                let secs: u64 = secs.parse().map_err(|_| EINVAL)?;
                if !(1..=120).contains(&secs) {
                    return Err(EINVAL);
                }
                (point as u64) << 32 | secs
            }
            _ => return Err(EINVAL),
        };
        self.0.store(v, Ordering::Relaxed);
        Ok(())
    }

    /// The armed fault as it is written, or `off`.
    pub(crate) fn show(&self, out: &mut impl core::fmt::Write) -> core::fmt::Result {
        let v = self.0.load(Ordering::Relaxed);
        match NAMES.iter().find(|n| n.1 as u64 == v >> 32) {
            Some(n) if n.1 == Point::NoMem => writeln!(out, "{}", n.0),
            Some(n) => writeln!(out, "{} {}", n.0, v & 0xffff_ffff),
            None => writeln!(out, "off"),
        }
    }

    /// Step `point` of a migration with node `peer` is reached: fires the fault if it is armed
    /// for this point (and disarms it).
    pub(super) fn at(&self, net: &Cluster, point: Point, peer: u32) {
        if let Some(secs) = self.take(point) {
            net.cut(peer, secs * 1000);
        }
    }

    /// Whether the fault is armed for `point` (it fires now, and disarms).
    pub(super) fn fires(&self, point: Point) -> bool {
        self.take(point).is_some()
    }

    /// Disarms the fault if it is armed for `point`: its seconds.
    fn take(&self, point: Point) -> Option<u32> {
        let v = self.0.load(Ordering::Relaxed);
        (v >> 32 == point as u64
            && self
                .0
                .compare_exchange(v, 0, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok())
        .then_some((v & 0xffff_ffff) as u32)
    }
}
