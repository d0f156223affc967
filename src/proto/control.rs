// SPDX-License-Identifier: GPL-2.0
//! Control of a migrated process between its home and the node it runs on ([`Ctl`]): come
//! home, end, ended, moved on, the two phases of a commit, stream credits. Pure `core` Rust like
//! the rest of [`super`]; re-exported by [`super::mig`], whose messages it belongs with.
//! `Documentation/protocol.md` has the byte layout (type 14, `MigCtl`).

use super::mig::{token, MAX_CLOCK_NS};
use super::{be32, be64, put32, put64, ProtoError};

/// Payload size of [`Ctl`].
pub const CTL_LEN: usize = 40;

/// Operations of [`Ctl`].
pub mod ctl {
    /// Deputy to remote: come home (`arg`: a node to go on to afterwards, or 0).
    pub const GO_HOME: u32 = 1;
    /// Deputy to remote: the process ended at home; end the guest (`arg`: the signal).
    pub const KILL: u32 = 2;
    /// Remote to deputy: the guest ended on its own (`arg`: the exit code as `do_exit` got it).
    pub const GONE: u32 = 3;
    /// Remote to deputy: the guest moved on to node `arg` (chains); forwarded calls come from there.
    pub const MOVED: u32 = 4;
    /// Sender of an image to its receiver, after the receiver's Answer that it installed it:
    /// run it (the first phase of the commit; either direction). A guest going home first hands
    /// back the signals that arrived for it during the transfer (`MigSignal`).
    pub const GO: u32 = 5;
    // 6 was SIGNAL (protocol 3): signals travel as `MigSignal`, with their siginfo.
    /// Remote to deputy: the guest stopped (a stop signal); the deputy stops too, so the parent
    /// sees it.
    pub const STOPPED: u32 = 7;
    /// Receiver of an image to its sender (either direction): `arg` frames of the stream
    /// (State, Vma, Pages, End) were taken from the inbox so far; the sender may have at most
    /// a window of frames beyond them in flight (flow control, Documentation/protocol.md).
    pub const CREDIT: u32 = 8;
    /// Target to home, answering GO: the process runs on the target (the second phase of the
    /// commit): only now does the home node release the process's memory.
    pub const RUNNING: u32 = 9;
    /// Remote to deputy (protocol 9): the guest is to move while it waits for the forwarded
    /// call in flight; the deputy interrupts that call as a stop and continue would and answers
    /// it with its `-ERESTART*` code instead of restarting it at home, so the guest restarts it
    /// from wherever it goes. A call that is not interrupted, or restarts through its restart
    /// block, answers as usual when it ends.
    pub const INTERRUPT: u32 = 10;
    /// Home to target, after the `MigFile` frames of an image (protocol 11): `arg` files were
    /// named; target to home, before it takes the State: `arg` has bit i set for each file i it
    /// holds with the same contents (`proto::files`).
    pub const FILES: u32 = 11;
    /// Deputy to remote (protocol 12): the file the guest reads ahead of changed at home, or
    /// its position moved there (another process wrote it, or shares its description): drop
    /// the bytes read ahead. Sent before the reply or signal that follows the change
    /// (`proto::readahead`).
    pub const READ_DROP: u32 = 12;
    /// Largest defined operation.
    pub const MAX: u32 = 12;
}

/// Control of a migrated process (see [`ctl`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ctl {
    /// The process's token.
    pub token: u64,
    /// A [`ctl`] operation.
    pub op: u32,
    /// Its argument.
    pub arg: u32,
    /// [`ctl::GONE`] only: the CPU time the process used on every node when it ended (utime,
    /// stime, runtime, ns, each at most [`MAX_CLOCK_NS`]), so that its parent at home reaps
    /// all of it; zero for every other operation.
    pub cpu: [u64; 3],
}

impl Ctl {
    /// Layout: 0 token, 8 op u32, 12 arg u32, 16 utime u64, 24 stime u64, 32 runtime u64.
    pub fn encode(&self) -> [u8; CTL_LEN] {
        let mut b = [0u8; CTL_LEN];
        put64(&mut b, 0, self.token);
        put32(&mut b, 8, self.op);
        put32(&mut b, 12, self.arg);
        for (k, v) in self.cpu.iter().enumerate() {
            put64(&mut b, 16 + 8 * k, *v);
        }
        b
    }

    /// Decodes and validates a Ctl payload. Errors: `Truncated` for a wrong length,
    /// `BadField` for an unknown operation, CPU time beyond [`MAX_CLOCK_NS`] or on an
    /// operation other than [`ctl::GONE`].
    pub fn decode(b: &[u8]) -> Result<Ctl, ProtoError> {
        if b.len() != CTL_LEN {
            return Err(ProtoError::Truncated);
        }
        let c = Ctl {
            token: token(b)?,
            op: be32(b, 8),
            arg: be32(b, 12),
            cpu: [be64(b, 16), be64(b, 24), be64(b, 32)],
        };
        if c.op == 0 || c.op == 6 || c.op > ctl::MAX {
            return Err(ProtoError::BadField("ctl.op"));
        }
        let timed = c.cpu.iter().any(|&v| v != 0);
        if c.cpu.iter().any(|&v| v > MAX_CLOCK_NS) || (timed && c.op != ctl::GONE) {
            return Err(ProtoError::BadField("ctl.cpu"));
        }
        Ok(c)
    }
}
