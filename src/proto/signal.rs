// SPDX-License-Identifier: GPL-2.0
//! Signals of a migrated process with their `siginfo` ([`Signal`]): a signal that arrives for a
//! process on the node it does not run on (the deputy forwards it to the remote; a guest going
//! home hands those that arrived during the transfer back), and each pending signal an image
//! carries. Pure `core` Rust like the rest of [`super`].

use super::{be32, be64, put32, put64, ProtoError};

/// Size of the `_sifields` union of Linux's `kernel_siginfo` on x86-64: the bytes after
/// `si_signo`, `si_errno`, `si_code` and four bytes of padding (`include/uapi/asm-generic/siginfo.h`).
pub const SIGINFO_FIELDS: usize = 32;
/// Payload size of [`Signal`].
pub const SIGNAL_LEN: usize = 24 + SIGINFO_FIELDS;
/// Highest signal number (`_NSIG`).
pub const MAX_SIGNAL: u32 = 64;

/// Bits of [`Signal::flags`].
pub mod flags {
    /// The signal was pending when the process's image was taken: it is part of the image that
    /// follows the State, queued when the image is installed (otherwise it arrived now and is
    /// delivered at once, or after the transfer in progress).
    pub const IMAGE: u32 = 1;
    /// Every defined bit.
    pub const ALL: u32 = IMAGE;
}

/// A signal with its `siginfo`, as Linux's `kernel_siginfo` holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SigInfo {
    /// `si_signo`, 1..=[`MAX_SIGNAL`].
    pub signo: u32,
    /// `si_errno`.
    pub errno: i32,
    /// `si_code`: who sent it (`SI_USER` 0, `SI_QUEUE` -1, `SI_TKILL` -6, ...; positive values
    /// are the kernel's).
    pub code: i32,
    /// The `_sifields` union as the kernel stores it (native byte order: the nodes run identical
    /// kernels): sender's pid and uid, the `sigqueue` value, a fault address, ...
    pub fields: [u8; SIGINFO_FIELDS],
}

/// Size of Linux's `kernel_siginfo` on x86-64, and of the part of a user's `siginfo_t` that
/// holds the same fields at the same offsets.
pub const NATIVE_LEN: usize = 16 + SIGINFO_FIELDS;

impl SigInfo {
    /// Reads a `kernel_siginfo` (or the first [`NATIVE_LEN`] bytes of a `siginfo_t`) in the
    /// machine's byte order: signo at 0, errno at 4, code at 8, the fields at 16. `None` for a
    /// signal number outside 1..=[`MAX_SIGNAL`] or a short buffer.
    pub fn from_native(b: &[u8]) -> Option<SigInfo> {
        let int = |at: usize| i32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        if b.len() < NATIVE_LEN {
            return None;
        }
        let signo = int(0);
        if signo <= 0 || signo as u32 > MAX_SIGNAL {
            return None;
        }
        let mut fields = [0u8; SIGINFO_FIELDS];
        fields.copy_from_slice(&b[16..NATIVE_LEN]);
        Some(SigInfo {
            signo: signo as u32,
            errno: int(4),
            code: int(8),
            fields,
        })
    }

    /// The `kernel_siginfo` bytes of this signal (see [`SigInfo::from_native`]; padding zero).
    pub fn to_native(self) -> [u8; NATIVE_LEN] {
        let mut b = [0u8; NATIVE_LEN];
        b[0..4].copy_from_slice(&(self.signo as i32).to_ne_bytes());
        b[4..8].copy_from_slice(&self.errno.to_ne_bytes());
        b[8..12].copy_from_slice(&self.code.to_ne_bytes());
        b[16..].copy_from_slice(&self.fields);
        b
    }

    /// Signal `signo` as the kernel sends it without details (`SI_KERNEL`, no fields).
    pub const fn kernel(signo: u32) -> SigInfo {
        SigInfo {
            signo,
            errno: 0,
            code: 0x80,
            fields: [0; SIGINFO_FIELDS],
        }
    }
}

/// A signal for a migrated process (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signal {
    /// The process's token.
    pub token: u64,
    /// [`flags`].
    pub flags: u32,
    /// The signal and its `siginfo`.
    pub info: SigInfo,
}

impl Signal {
    /// Layout: 0 token u64, 8 flags u32, 12 signo u32, 16 errno i32, 20 code i32, 24..56 the
    /// `_sifields` bytes.
    pub fn encode(&self) -> [u8; SIGNAL_LEN] {
        let mut b = [0u8; SIGNAL_LEN];
        put64(&mut b, 0, self.token);
        put32(&mut b, 8, self.flags);
        put32(&mut b, 12, self.info.signo);
        put32(&mut b, 16, self.info.errno as u32);
        put32(&mut b, 20, self.info.code as u32);
        b[24..].copy_from_slice(&self.info.fields);
        b
    }

    /// Decodes and validates a Signal payload: a token, known flags, a signal number in
    /// 1..=[`MAX_SIGNAL`].
    pub fn decode(b: &[u8]) -> Result<Signal, ProtoError> {
        if b.len() != SIGNAL_LEN {
            return Err(ProtoError::Truncated);
        }
        let token = be64(b, 0);
        if token == 0 {
            return Err(ProtoError::BadField("mig.token"));
        }
        let flags = be32(b, 8);
        if flags & !flags::ALL != 0 {
            return Err(ProtoError::Reserved);
        }
        let signo = be32(b, 12);
        if signo == 0 || signo > MAX_SIGNAL {
            return Err(ProtoError::BadField("signal.signo"));
        }
        let mut fields = [0u8; SIGINFO_FIELDS];
        fields.copy_from_slice(&b[24..]);
        Ok(Signal {
            token,
            flags,
            info: SigInfo {
                signo,
                errno: be32(b, 16) as i32,
                code: be32(b, 20) as i32,
                fields,
            },
        })
    }
}
