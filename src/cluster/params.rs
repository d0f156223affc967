// SPDX-License-Identifier: GPL-2.0
//! This node's tunables and policy flags (`/proc/hpc/admin`, ioctl SETPARAM/GETPARAM).

use kernel::prelude::*;

use super::Cluster;
use crate::kapi::sys;
use crate::load;
use crate::proto::{self, flags};
use crate::uapi;

/// Default gossip interval in milliseconds.
pub(crate) const GOSSIP_INTERVAL_MS: u32 = 1000;
/// Default time without news after which a node is marked down, in milliseconds.
pub(crate) const NODE_TIMEOUT_MS: u32 = 5000;
/// Default memory ushering threshold, KiB.
pub(crate) const USHER_KIB: u64 = 32 * 1024;

/// Tunables and policy flags of this node.
#[derive(Clone, Copy)]
pub(crate) struct Params {
    /// Relative speed (reference CPU = 10000).
    pub(crate) speed: u32,
    /// Load sampling interval in ms.
    pub(crate) decay_interval_ms: u32,
    /// Per mille kept per interval.
    pub(crate) slow_decay: u32,
    /// Per mille kept per interval.
    pub(crate) fast_decay: u32,
    /// Gossip interval in ms.
    pub(crate) gossip_interval_ms: u32,
    /// Down timeout in ms.
    pub(crate) timeout_ms: u32,
    /// Policy flags ([`proto::flags`]).
    pub(crate) flags: u32,
    /// Memory ushering threshold in KiB: below this much available memory the balancer moves
    /// processes to nodes with room (0: off).
    pub(crate) usher_kib: u64,
    /// Bench only: ask peers for unencrypted links (new connections; both sides must ask).
    pub(crate) plaintext: bool,
    /// Root's processes may leave, and guests running as root are accepted.
    pub(crate) allow_root: bool,
    /// Most guests held here ([`uapi::param::MAX_GUESTS`]).
    pub(crate) max_guests: u32,
    /// Placement at exec time ([`uapi::param::EXEC_PLACE`], a `place_mode`).
    pub(crate) exec_place: u32,
}

impl Params {
    /// The defaults of a node that was not tuned.
    pub(crate) fn new() -> Params {
        Params {
            speed: load::REFERENCE_SPEED,
            decay_interval_ms: load::DEFAULT_DECAY_INTERVAL_MS,
            slow_decay: load::DEFAULT_SLOW_DECAY,
            fast_decay: load::DEFAULT_FAST_DECAY,
            gossip_interval_ms: GOSSIP_INTERVAL_MS,
            timeout_ms: NODE_TIMEOUT_MS,
            usher_kib: USHER_KIB,
            flags: 0,
            plaintext: false,
            allow_root: false,
            max_guests: uapi::MAX_GUESTS_LIMIT,
            exec_place: 0,
        }
    }
}

impl Cluster {
    /// Sets a parameter (ioctl SETPARAM and `/proc/hpc/admin` writes). Errors: `EINVAL`.
    pub(crate) fn set_param(&self, key: u32, value: u64) -> Result {
        let flag = |f: u32| -> Result<(u32, bool)> {
            match value {
                0 => Ok((f, false)),
                1 => Ok((f, true)),
                _ => Err(EINVAL),
            }
        };
        let in_range = |lo: u32, hi: u32| -> Result<u32> {
            if value < u64::from(lo) || value > u64::from(hi) {
                Err(EINVAL)
            } else {
                Ok(value as u32)
            }
        };
        let mut s = self.state.lock();
        let p = &mut s.params;
        match key {
            uapi::param::STAY | uapi::param::LSTAY | uapi::param::BLOCK | uapi::param::QUIET => {
                let bit = match key {
                    uapi::param::STAY => flags::STAY,
                    uapi::param::LSTAY => flags::LSTAY,
                    uapi::param::BLOCK => flags::BLOCK,
                    _ => flags::QUIET,
                };
                let (f, on) = flag(bit)?;
                if on {
                    p.flags |= f;
                } else {
                    p.flags &= !f;
                }
            }
            uapi::param::SPEED => p.speed = in_range(1, proto::MAX_SPEED)?,
            uapi::param::DECAY_INTERVAL => {
                p.decay_interval_ms = in_range(
                    load::DECAY_INTERVAL_RANGE_MS.0,
                    load::DECAY_INTERVAL_RANGE_MS.1,
                )?
            }
            uapi::param::SLOW_DECAY => p.slow_decay = in_range(0, load::MAX_DECAY)?,
            uapi::param::FAST_DECAY => p.fast_decay = in_range(0, load::MAX_DECAY)?,
            uapi::param::GOSSIP_INTERVAL => p.gossip_interval_ms = in_range(100, 60_000)?,
            uapi::param::TIMEOUT => p.timeout_ms = in_range(1000, 600_000)?,
            uapi::param::USHER => {
                if value > 1 << 40 {
                    return Err(EINVAL);
                }
                p.usher_kib = value;
            }
            uapi::param::PLAINTEXT => p.plaintext = flag(0)?.1,
            uapi::param::ALLOW_ROOT => p.allow_root = flag(0)?.1,
            uapi::param::MAX_GUESTS => p.max_guests = in_range(0, uapi::MAX_GUESTS_LIMIT)?,
            uapi::param::EXEC_PLACE => p.exec_place = in_range(0, uapi::exec_place::MAX)?,
            // No process can be away or a guest before migration exists: nothing to move.
            uapi::param::EXPEL | uapi::param::BRING => {
                flag(0)?;
            }
            _ => return Err(EINVAL),
        }
        Ok(())
    }

    /// Reads a parameter. Errors: `EINVAL` for an unknown key.
    pub(crate) fn get_param(&self, key: u32) -> Result<u64> {
        let s = self.state.lock();
        let p = &s.params;
        let bit = |f: u32| u64::from(p.flags & f != 0);
        Ok(match key {
            uapi::param::STAY => bit(flags::STAY),
            uapi::param::LSTAY => bit(flags::LSTAY),
            uapi::param::BLOCK => bit(flags::BLOCK),
            uapi::param::QUIET => bit(flags::QUIET),
            uapi::param::SPEED => p.speed.into(),
            uapi::param::DECAY_INTERVAL => p.decay_interval_ms.into(),
            uapi::param::SLOW_DECAY => p.slow_decay.into(),
            uapi::param::FAST_DECAY => p.fast_decay.into(),
            uapi::param::EXPEL | uapi::param::BRING => 0,
            uapi::param::MOSPE => s.self_id.into(),
            uapi::param::GOSSIP_INTERVAL => p.gossip_interval_ms.into(),
            uapi::param::TIMEOUT => p.timeout_ms.into(),
            uapi::param::USHER => p.usher_kib,
            uapi::param::PLAINTEXT => p.plaintext.into(),
            uapi::param::ALLOW_ROOT => p.allow_root.into(),
            uapi::param::MAX_GUESTS => p.max_guests.into(),
            uapi::param::EXEC_PLACE => p.exec_place.into(),
            uapi::param::KEYS => self.keys.lock().accepted(sys::monotonic_ms()).into(),
            uapi::param::KEY_ID => self.keys.lock().current_id(),
            _ => return Err(EINVAL),
        })
    }
}
