// SPDX-License-Identifier: GPL-2.0
//! What a migrated process is doing where it runs ([`Status`]): sent by the node it runs on to
//! its home every gossip interval, so that `/proc/PID` at home (`ps`, `top`) shows its state,
//! memory and CPU time there instead of its deputy's (`patches/0015`). Pure `core` Rust like the
//! rest of [`super`]; `Documentation/protocol.md` has the byte layout (type 19, `MigStatus`).

use super::mig::{token, MAX_CLOCK_NS, USER_TOP};
use super::{be64, put64, ProtoError};

/// Payload size of [`Status`].
pub const STATUS_LEN: usize = 56;

/// The state letters a process may report: those of Linux's `task_state_array`
/// (`fs/proc/array.c`): running, sleeping, disk sleep, stopped, tracing stop, dead, zombie,
/// parked, idle.
pub const STATES: &[u8] = b"RSDTtXZPI";

/// A migrated process as `task_migration_sample()` sees it where it runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// The process's token.
    pub token: u64,
    /// User, system and run time of the whole process on every node so far (ns, each at most
    /// [`MAX_CLOCK_NS`]; the totals a [`super::cputime::Cpu`] holds).
    pub cpu: [u64; 3],
    /// Virtual memory size, bytes (at most [`USER_TOP`]).
    pub vsize: u64,
    /// Resident pages (at most [`USER_TOP`] / 4096).
    pub rss: u64,
    /// Its state, one of [`STATES`].
    pub state: u8,
}

impl Status {
    /// Layout: 0 token, 8 utime, 16 stime, 24 runtime, 32 vsize, 40 rss (u64 each), 48 state
    /// u8, 49..56 zero.
    pub fn encode(&self) -> [u8; STATUS_LEN] {
        let mut b = [0u8; STATUS_LEN];
        put64(&mut b, 0, self.token);
        for (k, v) in self.cpu.iter().enumerate() {
            put64(&mut b, 8 + 8 * k, *v);
        }
        put64(&mut b, 32, self.vsize);
        put64(&mut b, 40, self.rss);
        b[48] = self.state;
        b
    }

    /// Decodes and checks a payload. Errors: `Truncated` (wrong length), `BadField` for a zero
    /// token, a time beyond [`MAX_CLOCK_NS`], a size beyond the user address space, a state not
    /// in [`STATES`] or padding that is not zero.
    pub fn decode(b: &[u8]) -> Result<Status, ProtoError> {
        if b.len() != STATUS_LEN {
            return Err(ProtoError::Truncated);
        }
        let s = Status {
            token: token(b)?,
            cpu: [be64(b, 8), be64(b, 16), be64(b, 24)],
            vsize: be64(b, 32),
            rss: be64(b, 40),
            state: b[48],
        };
        if s.cpu.iter().any(|&v| v > MAX_CLOCK_NS) {
            return Err(ProtoError::BadField("status.cpu"));
        }
        if s.vsize > USER_TOP || s.rss > USER_TOP / 4096 {
            return Err(ProtoError::BadField("status.size"));
        }
        if !STATES.contains(&s.state) {
            return Err(ProtoError::BadField("status.state"));
        }
        if b[49..].iter().any(|&x| x != 0) {
            return Err(ProtoError::BadField("status.pad"));
        }
        Ok(s)
    }
}
