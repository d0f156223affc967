// SPDX-License-Identifier: GPL-2.0
//! Read-ahead of a guest's file reads (protocol 12): what a guest asks its deputy for, the
//! frames the answer comes in, and how far ahead it asks. Pure `core` Rust like the rest of
//! [`super`], tested on the host. `Documentation/migration.md` (Remote file reads) has the
//! rules, `Documentation/protocol.md` the layout of [`SysData`] (type 21).
//!
//! A guest's `read(fd, buf, n)` is forwarded as the call [`READ_AHEAD`] `(fd, n, window)`: for a
//! plain file the deputy reads up to `n + window` bytes from the file's position (as `pread`
//! does), moves the position by the bytes the call returns (at most `n`) only, and sends all
//! the bytes read as [`SysData`] frames before its `SysReply`, whose result is the call's. The
//! guest keeps the bytes beyond the result and serves the next reads of `fd` from them, telling
//! the deputy how many before its next call (the next fill's `skip`, or the one-way call
//! [`READ_SKIP`] `(fd, m)`), which moves the position at home by them: whenever a call of the
//! process runs at home, the position is where its reads got to.
//! For any other file the deputy runs a plain `read` of at most one frame.

use super::mig::{token, MAX_SYS_DATA};
use super::{put64, ProtoError};

/// Call number of a forwarded read with read-ahead: arguments `(fd, n, window, skip)`, `n` at
/// most [`MAX_FILL`] and `window` at most [`MAX_WINDOW`] bytes, `skip` the bytes of `fd` the
/// guest served from read-ahead since it last said (as [`READ_SKIP`] would say them, first).
/// Outside the x86-64 system-call numbers, like the deputy stub's own calls.
pub const READ_AHEAD: u32 = 0x4f5a;
/// Call number of the guest's report that it served `m` bytes of `fd` from read-ahead:
/// arguments `(fd, m)`, `m` at most [`MAX_FILL`] + [`MAX_WINDOW`]; one-way (no answer). Sent
/// before any other call of the guest, and before it leaves the node: at most one in flight
/// with each call, so the deputy's inbox never holds more.
pub const READ_SKIP: u32 = 0x4f5b;
/// Call number of a guest's question what descriptor `fd` is at home (argument `(fd)`): the
/// result is a [`kind`]. A guest writes to a descriptor of kind [`kind::NULL`] without
/// forwarding the write (the null device returns the count and keeps nothing), until its next
/// call that may change what the descriptor is.
pub const FD_KIND: u32 = 0x4f5c;

/// Answers to [`FD_KIND`].
pub mod kind {
    /// Any other file, or not open: its writes are forwarded.
    pub const OTHER: i64 = 0;
    /// The null device, open for writing.
    pub const NULL: i64 = 1;
}

/// The most bytes one [`READ_AHEAD`] returns to its call (a longer read is several).
pub const MAX_FILL: u64 = 1 << 20;
/// The most bytes read ahead beyond a call.
pub const MAX_WINDOW: u64 = 1 << 20;
/// The most read ahead by the first read of a file (or the first after a seek): four times the
/// read, up to this; each further fill of a sequential reader doubles it, up to [`MAX_WINDOW`].
pub const FIRST_WINDOW: u64 = 64 << 10;

/// Payload size of the fixed part of a [`SysData`] (the token).
pub const SYSDATA_HDR_LEN: usize = 8;

/// Bytes of the answer to a forwarded call that precede its `SysReply` (deputy to guest): the
/// answer's data is the concatenation of the `SysData` frames and the reply's own data. Sent
/// under the image streams' flow control (`flow`), the guest crediting the frames it takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SysData<'a> {
    /// The process's token.
    pub token: u64,
    /// The bytes, 1 ..= [`MAX_SYS_DATA`].
    pub data: &'a [u8],
}

impl<'a> SysData<'a> {
    /// Writes the fixed part into `out[..SYSDATA_HDR_LEN]`; the data follows.
    /// Layout: 0 token.
    pub fn encode_header(token: u64, out: &mut [u8]) {
        put64(out, 0, token);
    }

    /// Decodes and validates a SysData payload. Errors: `BadLength` outside
    /// `SYSDATA_HDR_LEN + 1 ..= SYSDATA_HDR_LEN + MAX_SYS_DATA`, `BadField` for a zero token.
    pub fn decode(b: &'a [u8]) -> Result<SysData<'a>, ProtoError> {
        if b.len() <= SYSDATA_HDR_LEN || b.len() > SYSDATA_HDR_LEN + MAX_SYS_DATA {
            return Err(ProtoError::BadLength(b.len() as u32));
        }
        Ok(SysData {
            token: token(b)?,
            data: &b[SYSDATA_HDR_LEN..],
        })
    }
}

/// The read-ahead a guest asks for with a fill for a read of `n` bytes: for a file read for the
/// first time (or again after a seek: not `sequential`) four times the read, at most
/// [`FIRST_WINDOW`]; for a sequential reader whose last fill asked for `prev` bytes ahead,
/// twice that, at most [`MAX_WINDOW`] (the kernel's own read-ahead grows so,
/// `mm/readahead.c`).
pub fn next_window(prev: u64, sequential: bool, n: u64) -> u64 {
    if sequential && prev > 0 {
        prev.saturating_mul(2).min(MAX_WINDOW)
    } else {
        n.saturating_mul(4).min(FIRST_WINDOW)
    }
}

/// Checks a [`READ_AHEAD`] call's arguments from a guest: `(fd, n, window, skip)`, `n` and
/// `window` clamped to [`MAX_FILL`] and [`MAX_WINDOW`]. Errors: `BadField` for a descriptor
/// beyond `i32::MAX`, `n` = 0, or `skip` beyond one fill and its read-ahead.
pub fn fill_args(args: &[u64; 6]) -> Result<(u64, u64, u64, u64), ProtoError> {
    if args[0] > i32::MAX as u64 || args[1] == 0 || args[3] > MAX_FILL + MAX_WINDOW {
        return Err(ProtoError::BadField("read_ahead.args"));
    }
    Ok((
        args[0],
        args[1].min(MAX_FILL),
        args[2].min(MAX_WINDOW),
        args[3],
    ))
}

/// Checks a [`READ_SKIP`] call's arguments `(fd, m)`. Errors: `BadField` for a descriptor
/// beyond `i32::MAX` or `m` beyond one fill and its read-ahead.
pub fn skip_args(args: &[u64; 6]) -> Result<(u64, u64), ProtoError> {
    if args[0] > i32::MAX as u64 || args[1] > MAX_FILL + MAX_WINDOW {
        return Err(ProtoError::BadField("read_skip.args"));
    }
    Ok((args[0], args[1]))
}
