// SPDX-License-Identifier: GPL-2.0
//! A process's CPU time in its image ([`Cpu`], part of [`super::mig::State`]): what it used on
//! every node so far and its CPU-time interval timers, so that its CPU clock, `times()`,
//! `getrusage()`, `ITIMER_PROF`/`ITIMER_VIRTUAL` and `RLIMIT_CPU` count all of it wherever it
//! runs, and its parent at home reaps all of it. The fields are those of `struct cputime_carry`
//! (`patches/0012`). Pure `core` Rust.

use super::mig::MAX_CLOCK_NS;
use super::{be64, put64, ProtoError};

/// Encoded size of a [`Cpu`].
pub const CPU_LEN: usize = 56;

/// A process's CPU time and CPU-time itimers, ns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cpu {
    /// User time of all its threads, on every node so far.
    pub utime: u64,
    /// System time.
    pub stime: u64,
    /// Time on a CPU (`sum_exec_runtime`; `CLOCK_PROCESS_CPUTIME_ID` reads it).
    pub runtime: u64,
    /// `ITIMER_PROF` and `ITIMER_VIRTUAL`: expiry on the process's CPU clock (absolute; 0: not
    /// armed).
    pub it_expires: [u64; 2],
    /// Their intervals (0: once).
    pub it_incr: [u64; 2],
}

impl Cpu {
    /// The CPU time of [`totals`](Self::totals) `t` (utime, stime, runtime, ns), no timers.
    pub fn from_totals(t: [u64; 3]) -> Cpu {
        Cpu {
            utime: t[0],
            stime: t[1],
            runtime: t[2],
            ..Cpu::default()
        }
    }

    /// utime, stime and runtime.
    pub fn totals(&self) -> [u64; 3] {
        [self.utime, self.stime, self.runtime]
    }

    /// User and system time scaled so that they add up to `runtime`, ns, as the kernel reports
    /// them in `times()` and `getrusage()` (`cputime_adjust`: the tick-sampled split applied to
    /// the exact runtime; all user time when there are no samples).
    pub fn adjusted(&self) -> (u64, u64) {
        if self.stime == 0 {
            return (self.runtime, 0);
        }
        if self.utime == 0 {
            return (0, self.runtime);
        }
        let st = scale(
            self.stime,
            self.runtime,
            self.utime.saturating_add(self.stime),
        );
        (self.runtime - st, st)
    }

    /// The CPU time used since `base` (the totals the process had when it was here last):
    /// each total's increase, 0 where it did not grow.
    pub fn since(&self, base: &Cpu) -> [u64; 3] {
        let (a, b) = (self.totals(), base.totals());
        [0, 1, 2].map(|k| a[k].saturating_sub(b[k]))
    }

    /// Writes the 56-byte encoding at `out[at..]`: utime, stime, runtime, the two expiries, the
    /// two intervals (u64 each). `out` must have room.
    pub fn encode(&self, out: &mut [u8], at: usize) {
        let v = [
            self.utime,
            self.stime,
            self.runtime,
            self.it_expires[0],
            self.it_expires[1],
            self.it_incr[0],
            self.it_incr[1],
        ];
        for (k, x) in v.iter().enumerate() {
            put64(out, at + 8 * k, *x);
        }
    }

    /// Decodes the encoding at `b[at..]` (which must hold [`CPU_LEN`] bytes). Errors:
    /// `BadField` for a value beyond [`MAX_CLOCK_NS`] or an interval of a timer not armed.
    pub fn decode(b: &[u8], at: usize) -> Result<Cpu, ProtoError> {
        let v: [u64; 7] = core::array::from_fn(|k| be64(b, at + 8 * k));
        let c = Cpu {
            utime: v[0],
            stime: v[1],
            runtime: v[2],
            it_expires: [v[3], v[4]],
            it_incr: [v[5], v[6]],
        };
        let unarmed_interval = (0..2).any(|k| c.it_expires[k] == 0 && c.it_incr[k] != 0);
        if v.iter().any(|&x| x > MAX_CLOCK_NS) || unarmed_interval {
            return Err(ProtoError::BadField("state.cpu"));
        }
        Ok(c)
    }
}

/// `part * whole / total` for `part <= total` (so the quotient fits 64 bits), exactly: the
/// 128-bit product divided by binary long division, since the kernel has no 128-bit division
/// (`__udivti3`). At most `whole`.
fn scale(part: u64, whole: u64, total: u64) -> u64 {
    if total == 0 {
        return 0;
    }
    let n = u128::from(part) * u128::from(whole);
    let (hi, lo) = ((n >> 64) as u64, n as u64);
    if hi == 0 {
        return lo / total;
    }
    // hi < total, as the quotient fits: each step keeps the remainder below `total`.
    let (mut q, mut rem) = (0u64, u128::from(hi));
    for bit in (0..64).rev() {
        rem = (rem << 1) | u128::from((lo >> bit) & 1);
        q <<= 1;
        if rem >= u128::from(total) {
            rem -= u128::from(total);
            q |= 1;
        }
    }
    q.min(whole)
}
