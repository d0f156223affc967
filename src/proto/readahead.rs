// SPDX-License-Identifier: GPL-2.0
//! Read-ahead of a guest's file reads (protocol 12): what a guest asks its deputy for, the
//! frames the answer comes in, and how far ahead it asks. Pure `core` Rust like the rest of
//! [`super`], tested on the host. `Documentation/migration.md` (Remote file reads) has the
//! rules, `Documentation/protocol.md` the layout of [`SysData`] (type 21).
//!
//! A guest's `read(fd, buf, n)` is forwarded as the call [`READ_AHEAD`]
//! `(fd, n, window, skip, stream)`: for a plain file the deputy moves the file's position on by
//! `skip` (the bytes the guest served from read-ahead since it last said), sends the call's
//! bytes (up to `n`, read from the position as `pread` does) as [`SysData`] frames of stream
//! `stream`, moves the position by them only and answers with their number; then it goes on
//! streaming up to `window` more bytes of the file as frames of the same stream, under flow
//! control, while it waits for the guest's next message, and ends the stream with an empty
//! frame. Any message of the guest but a [`READ_SKIP`] without `stop` ends the stream there;
//! frames of a stream the guest no longer reads are dropped (and credited) when they arrive.
//! The guest serves the next reads of `fd` from the bytes of the stream and says how many before
//! its next call (the next fill's `skip`, or the one-way call [`READ_SKIP`] `(fd, m, stop)`), so
//! whenever a call of the process runs at home, the file's position there is where its reads
//! got to. For any other file the deputy runs a plain `read` of at most one frame.

use super::mig::{token, MAX_SYS_DATA};
use super::{be32, put32, put64, ProtoError};

/// Call number of a forwarded read with read-ahead: arguments `(fd, n, window, skip, stream)`,
/// `n` at most [`MAX_FILL`] and `window` at most [`MAX_WINDOW`] bytes, `skip` the bytes of `fd`
/// the guest served from read-ahead since it last said (as [`READ_SKIP`] would say them,
/// first), `stream` the non-zero number of the [`SysData`] stream the bytes come in. Outside
/// the x86-64 system-call numbers, like the deputy stub's own calls.
pub const READ_AHEAD: u32 = 0x4f5a;
/// Call number of the guest's report that it served `m` bytes of `fd` from read-ahead:
/// arguments `(fd, m, stop)`, `m` at most [`MAX_FILL`] + [`MAX_WINDOW`], `stop` 1 to end the
/// stream under way (the guest leaves the node), else 0; one-way (no answer). Sent before any
/// other call of the guest, and before it leaves the node: at most one in flight with each
/// call, so the deputy's inbox never holds more.
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
    /// A plain file (as read-ahead has them) open for writing, without `O_SYNC`/`O_DSYNC`:
    /// its writes go one-way ([`super::WRITE_BEHIND`]).
    pub const PLAIN: i64 = 2;
}

/// Call number of a guest's write to a descriptor of kind [`kind::PLAIN`], sent one-way with
/// its bytes: arguments `(fd, n)`, `n` the frame's data length (1 ..= `MAX_SYS_DATA`). The
/// deputy writes them in order at the file's position (as `write` does, `O_APPEND` included),
/// credits each such frame (`MigCtl CREDIT`, the total so far; the guest sends within the flow
/// window) and reports the first failure (`MigCtl WRITE_ERROR`, the errno), which the guest
/// returns from its next write to a plain file, `fsync`, `fdatasync` or `close`: the write-behind
/// of NFS clients.
pub const WRITE_BEHIND: u32 = 0x4f5d;

/// Checks a [`WRITE_BEHIND`] call's arguments `(fd, n)` against its frame's `data_len`.
/// Errors: `BadField` for a descriptor beyond `i32::MAX` or `n` other than the data's length
/// (at least 1).
pub fn behind_args(args: &[u64; 6], data_len: usize) -> Result<u64, ProtoError> {
    if args[0] > i32::MAX as u64 || args[1] == 0 || args[1] != data_len as u64 {
        return Err(ProtoError::BadField("write_behind.args"));
    }
    Ok(args[0])
}

/// The most bytes one [`READ_AHEAD`] returns to its call (a longer read is several).
pub const MAX_FILL: u64 = 1 << 20;
/// The most bytes read ahead beyond a call.
pub const MAX_WINDOW: u64 = 1 << 20;
/// The most read ahead by the first read of a file (or the first after a seek): four times the
/// read, up to this; each further fill of a sequential reader doubles it, up to [`MAX_WINDOW`].
pub const FIRST_WINDOW: u64 = 64 << 10;

/// Payload size of the fixed part of a [`SysData`] (token, stream, pad).
pub const SYSDATA_HDR_LEN: usize = 16;

/// Bytes of a file a deputy reads for its guest (deputy to guest): stream `stream` of
/// [`READ_AHEAD`], the call's bytes first (before the `SysReply`), then the bytes ahead; an
/// empty frame ends the stream. Every stream of a process shares one flow-control count
/// (`flow`; the guest credits each frame it takes with `MigCtl CREDIT`, the total so far).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SysData<'a> {
    /// The process's token.
    pub token: u64,
    /// The stream (the guest's number for the fill), non-zero.
    pub stream: u32,
    /// The bytes, at most [`MAX_SYS_DATA`]; none: the end of the stream.
    pub data: &'a [u8],
}

impl<'a> SysData<'a> {
    /// Writes the fixed part into `out[..SYSDATA_HDR_LEN]`; the data follows.
    /// Layout: 0 token, 8 stream u32, 12 pad u32 (0).
    pub fn encode_header(token: u64, stream: u32, out: &mut [u8]) {
        put64(out, 0, token);
        put32(out, 8, stream);
        put32(out, 12, 0);
    }

    /// Decodes and validates a SysData payload. Errors: `BadLength` outside
    /// `SYSDATA_HDR_LEN ..= SYSDATA_HDR_LEN + MAX_SYS_DATA`, `BadField` for a zero token or
    /// stream, `Reserved` for a non-zero pad.
    pub fn decode(b: &'a [u8]) -> Result<SysData<'a>, ProtoError> {
        if b.len() < SYSDATA_HDR_LEN || b.len() > SYSDATA_HDR_LEN + MAX_SYS_DATA {
            return Err(ProtoError::BadLength(b.len() as u32));
        }
        if be32(b, 12) != 0 {
            return Err(ProtoError::Reserved);
        }
        let stream = be32(b, 8);
        if stream == 0 {
            return Err(ProtoError::BadField("sysdata.stream"));
        }
        Ok(SysData {
            token: token(b)?,
            stream,
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

/// A [`READ_AHEAD`] call's arguments, checked ([`fill_args`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fill {
    /// The descriptor.
    pub fd: u64,
    /// Bytes for the call, 1 ..= [`MAX_FILL`].
    pub n: u64,
    /// Bytes to stream ahead, ≤ [`MAX_WINDOW`].
    pub window: u64,
    /// Bytes served from read-ahead before, ≤ [`MAX_FILL`] + [`MAX_WINDOW`].
    pub skip: u64,
    /// The stream's number, non-zero.
    pub stream: u32,
}

/// Checks a [`READ_AHEAD`] call's arguments from a guest: `n` and `window` clamped to
/// [`MAX_FILL`] and [`MAX_WINDOW`]. Errors: `BadField` for a descriptor beyond `i32::MAX`,
/// `n` = 0, `skip` beyond one fill and its read-ahead, or a stream number outside
/// `1..=u32::MAX`.
pub fn fill_args(args: &[u64; 6]) -> Result<Fill, ProtoError> {
    if args[0] > i32::MAX as u64
        || args[1] == 0
        || args[3] > MAX_FILL + MAX_WINDOW
        || args[4] == 0
        || args[4] > u64::from(u32::MAX)
    {
        return Err(ProtoError::BadField("read_ahead.args"));
    }
    Ok(Fill {
        fd: args[0],
        n: args[1].min(MAX_FILL),
        window: args[2].min(MAX_WINDOW),
        skip: args[3],
        stream: args[4] as u32,
    })
}

/// Checks a [`READ_SKIP`] call's arguments `(fd, m, stop)`: `(fd, m, stop)`. Errors:
/// `BadField` for a descriptor beyond `i32::MAX`, `m` beyond one fill and its read-ahead, or
/// `stop` other than 0 and 1.
pub fn skip_args(args: &[u64; 6]) -> Result<(u64, u64, bool), ProtoError> {
    if args[0] > i32::MAX as u64 || args[1] > MAX_FILL + MAX_WINDOW || args[2] > 1 {
        return Err(ProtoError::BadField("read_skip.args"));
    }
    Ok((args[0], args[1], args[2] == 1))
}
