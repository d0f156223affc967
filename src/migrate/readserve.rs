// SPDX-License-Identifier: GPL-2.0
//! The deputy's side of remote file reads (`proto::readahead`, protocol 12): it reads a plain
//! file for its guest's [`ra::READ_AHEAD`] fills, streams the bytes ahead while it waits for the
//! guest's next message ([`next`]), moves the file's position as the reads do ([`skip`]), tells
//! the guest to drop what it holds when the file changes at home ([`check`]), and says what a
//! descriptor is ([`fd_kind`]). The guest's side is [`super::readahead`], whose module comment
//! has the rules.

use kernel::prelude::*;

use super::deputy::send_reply_unchecked;
use super::neg;
use super::record::{Item, Proc};
use super::{send_ctl, Migration};
use crate::counters;
use crate::kapi::uctx::files::FileRef;
use crate::kapi::uctx::openfile::Stamp;
use crate::kapi::uctx::UserCtx;
use crate::proto::mig as wire;
use crate::proto::readahead as ra;
use crate::proto::MsgType;

/// The deputy's record of the file its guest reads ahead of: descriptor, file, the position
/// the guest's reads leave it at, and its contents stamp before the fill.
pub(super) struct Watch {
    fd: u64,
    file: FileRef,
    pos: u64,
    stamp: Stamp,
}

/// A read-ahead stream under way: stream `id`'s next `left` bytes of `file` from `pos`.
pub(super) struct Stream {
    file: FileRef,
    pos: u64,
    left: u64,
    id: u32,
}

/// Whether call `nr(a)` of a guest reading ahead of `fd` leaves that read-ahead valid: a read
/// or write of another descriptor (the copy loops of `cat`, `dd`, `sha256sum`).
pub(super) fn keeps(nr: u64, a: &[u64; 6], fd: u64) -> bool {
    use crate::syscalls::nr;
    matches!(
        nr,
        nr::READ | nr::WRITE | nr::PREAD64 | nr::PWRITE64 | nr::SENDTO | nr::RECVFROM
    ) && a[0] != fd
}

/// Sends frame `bytes` of stream `id` (none: its end) to `p`'s guest once it fits the guest's
/// window; an end goes at once (at most one is beyond the window: the inbox has room for it and
/// the reply that follows, `record::INBOX`), so that a guest that went away does not hold up
/// its deputy. Errors: `ETIMEDOUT` (no credit for [`super::STEP_MS`]: the guest stalled), the
/// send's.
fn send_frame(mig: &Migration, p: &Proc, id: u32, bytes: &[u8]) -> Result {
    let (n, where_) = {
        let mut i = p.inner.lock();
        let where_ = i.where_;
        let Some(d) = i.deputy() else {
            return Err(EINVAL);
        };
        (d.ra_sent.wrapping_add(1), where_)
    };
    if !bytes.is_empty() {
        p.wait_credit(n)?;
    }
    let mut hdr = [0u8; ra::SYSDATA_HDR_LEN];
    ra::SysData::encode_header(p.token, id, &mut hdr);
    mig.net.send_to(where_, MsgType::SysData, &[&hdr, bytes])?;
    if let Some(d) = p.inner.lock().deputy() {
        d.ra_sent = n;
    }
    Ok(())
}

// A guest's inbox holds a window of frames, the ends of two streams sent beyond it (one given
// up, and a fill that found the end of its file) and a reply.
const _: () = assert!(crate::proto::flow::WINDOW as usize + 3 <= super::record::INBOX);

/// Ends the stream under way, if any, with its empty frame.
fn end_stream(mig: &Migration, p: &Proc) {
    let s = p.inner.lock().deputy().and_then(|d| d.stream.take());
    if let Some(s) = s {
        // A guest that takes no more frames is gone or stalled: its exchange ends on its own.
        let _ = send_frame(mig, p, s.id, &[]);
    }
}

/// The deputy's next item, as `p.pop(0, true)`; while a read-ahead stream is under way its
/// frames are sent in between, as the guest's window allows. An item other than a
/// [`ra::READ_SKIP`] without `stop` ends the stream first.
pub(super) fn next(mig: &Migration, p: &Proc) -> Result<Item> {
    loop {
        let n = p
            .inner
            .lock()
            .deputy()
            .and_then(|d| d.stream.as_ref().map(|_| d.ra_sent.wrapping_add(1)));
        let Some(n) = n else {
            return p.pop(0, true);
        };
        match p.pop_or_room(n)? {
            Some(item) => {
                // A plain skip and a one-way write (of another file, or of this one: the
                // guest gave its bytes up) let the stream go on.
                let goes_on = matches!(&item, Item::Syscall { nr, args, .. }
                    if (*nr == ra::READ_SKIP && args[2] == 0) || *nr == ra::WRITE_BEHIND);
                if !goes_on {
                    end_stream(mig, p);
                }
                return Ok(item);
            }
            None => stream_frame(mig, p),
        }
    }
}

/// Sends the next frame of the stream under way (or its end, after its last bytes, the end of
/// the file or an error).
fn stream_frame(mig: &Migration, p: &Proc) {
    let Some(mut s) = p.inner.lock().deputy().and_then(|d| d.stream.take()) else {
        return;
    };
    let mut buf = KVVec::new();
    let k = (s.left as usize).min(wire::MAX_SYS_DATA);
    let r = match buf.extend_with(k, 0u8, GFP_KERNEL) {
        Ok(()) => s.file.read_at(s.pos, &mut buf).unwrap_or(0),
        Err(_) => 0,
    };
    if r == 0 || send_frame(mig, p, s.id, &buf[..r]).is_err() {
        let _ = send_frame(mig, p, s.id, &[]);
        return;
    }
    counters::add(&mig.stats.readahead_bytes, r as u64);
    s.pos += r as u64;
    s.left -= r as u64;
    if s.left == 0 || r < k {
        let _ = send_frame(mig, p, s.id, &[]);
        return;
    }
    if let Some(d) = p.inner.lock().deputy() {
        d.stream = Some(s);
    }
}

/// The deputy of `p` takes call `nr(a)` of its guest: it forgets the file read ahead of
/// unless the call keeps the guest's read-ahead ([`keeps`]; the guest dropped it otherwise).
pub(super) fn on_call(p: &Proc, nr: u64, a: &[u64; 6]) {
    // A one-way write is a write (the guest's read-ahead of another file stays).
    let nr = if nr == u64::from(ra::WRITE_BEHIND) {
        crate::syscalls::nr::WRITE
    } else {
        nr
    };
    if nr == u64::from(ra::READ_SKIP)
        || nr == u64::from(ra::READ_AHEAD)
        || nr == u64::from(ra::FD_KIND)
    {
        return;
    }
    let gone = {
        let mut i = p.inner.lock();
        let Some(d) = i.deputy() else {
            return;
        };
        match &d.read_ahead {
            Some(w) if !keeps(nr, a, w.fd) => d.read_ahead.take(),
            _ => None,
        }
    };
    drop(gone);
}

/// The deputy serves [`ra::READ_AHEAD`] `(fd, n, window, skip, stream)` (arguments `a`): for a
/// plain file ([`UserCtx::plain_file`]) it moves the file's position on by `skip` (bytes its
/// guest served from read-ahead), sends up to `n` bytes from there as frames of `stream`, moves
/// the position by them, answers with their number, and leaves up to `window` more bytes to
/// stream while it waits ([`next`]). Returns whether it answered; `false`: not a plain file, to
/// be read plainly (a `read` of at most one frame, run as any forwarded call; its stream
/// ended).
pub(super) fn serve(u: &UserCtx, mig: &Migration, p: &Proc, a: &[u64; 6]) -> bool {
    let Ok(f) = ra::fill_args(a) else {
        send_reply_unchecked(mig, p, neg(EINVAL), &[]);
        return true;
    };
    let first = p.inner.lock().deputy().is_some_and(|d| d.ra_sent == 0);
    if first {
        // The credit the receiver of this process's image reported counts nothing here.
        p.reset_credit();
    }
    let Some(file) = u.plain_file(f.fd) else {
        let _ = send_frame(mig, p, f.stream, &[]);
        return false;
    };
    let stamp = file.stamp();
    let pos = file.pos().saturating_add(f.skip);
    let (got, err) = send_bytes(mig, p, &file, pos, f.n, f.stream);
    let moved = match err {
        None => file.seek_to(pos + got),
        Some(_) => file.seek_to(pos),
    };
    let ok = err.is_none() && moved.is_ok();
    let watch = ok.then(|| Watch {
        fd: f.fd,
        file: file.clone(),
        pos: pos + got,
        stamp,
    });
    let stream = (ok && got == f.n && f.window > 0).then_some(Stream {
        file,
        pos: pos + got,
        left: f.window,
        id: f.stream,
    });
    let streaming = stream.is_some();
    let old = match p.inner.lock().deputy() {
        Some(d) => {
            d.stream = stream;
            core::mem::replace(&mut d.read_ahead, watch)
        }
        None => watch,
    };
    drop(old);
    if !streaming {
        let _ = send_frame(mig, p, f.stream, &[]);
    }
    let r = match (err, moved) {
        (Some(e), _) if got == 0 => neg(e),
        // Bytes were sent that the guest will not get: the call fails, the position unmoved.
        (Some(_), _) => neg(EIO),
        (None, Err(e)) => neg(e),
        (None, Ok(())) => got as i64,
    };
    send_reply_unchecked(mig, p, r, &[]);
    true
}

/// Reads up to `total` bytes of `file` from `pos` and sends them as frames of stream `id`: the
/// bytes sent, and the error that ended them early (a read's, or the send's).
fn send_bytes(
    mig: &Migration,
    p: &Proc,
    file: &FileRef,
    pos: u64,
    total: u64,
    id: u32,
) -> (u64, Option<Error>) {
    let mut buf = KVVec::new();
    if buf
        .extend_with(wire::MAX_SYS_DATA, 0u8, GFP_KERNEL)
        .is_err()
    {
        return (0, Some(ENOMEM));
    }
    let mut got = 0u64;
    while got < total {
        let k = ((total - got) as usize).min(wire::MAX_SYS_DATA);
        let r = match file.read_at(pos + got, &mut buf[..k]) {
            Ok(0) => break,
            Ok(r) => r,
            Err(e) => return (got, Some(e)),
        };
        if let Err(e) = send_frame(mig, p, id, &buf[..r]) {
            return (got, Some(e));
        }
        got += r as u64;
        if r < k {
            break;
        }
    }
    counters::add(&mig.stats.readahead_bytes, got);
    (got, None)
}

/// The deputy takes [`ra::READ_SKIP`] `(fd, m, stop)`: its guest served `m` bytes of `fd` from
/// read-ahead, so the file's position moves on by `m` as the reads would have moved it (`stop`
/// ended the stream under way in [`next`]).
pub(super) fn skip(u: &UserCtx, p: &Proc, a: &[u64; 6]) {
    let Ok((fd, m, _)) = ra::skip_args(a) else {
        return;
    };
    let Some(file) = u.plain_file(fd) else {
        return;
    };
    let to = file.pos().saturating_add(m);
    if file.seek_to(to).is_err() {
        return;
    }
    if let Some(d) = p.inner.lock().deputy() {
        if let Some(w) = d.read_ahead.as_mut().filter(|w| w.fd == fd) {
            w.pos = w.pos.saturating_add(m);
        }
    }
}

/// Before the deputy of `p` sends its guest a reply or a signal: if the file read ahead of
/// changed at home (its stamp) or its position is not where the guest's reads left it, the
/// guest is told to drop its read-ahead (`MigCtl` READ_DROP), the stream under way ends, and
/// the deputy forgets the file.
pub(super) fn check(mig: &Migration, p: &Proc) {
    let (stale, where_) = {
        let mut i = p.inner.lock();
        let where_ = i.where_;
        let Some(d) = i.deputy() else {
            return;
        };
        let changed = d
            .read_ahead
            .as_ref()
            .is_some_and(|w| w.file.pos() != w.pos || w.file.stamp() != w.stamp);
        (changed.then(|| d.read_ahead.take()).flatten(), where_)
    };
    if stale.is_some() {
        counters::bump(&mig.stats.readahead_changed);
        let _ = send_ctl(mig, where_, p.token, wire::ctl::READ_DROP, 0);
        end_stream(mig, p);
    }
    drop(stale);
}

/// The deputy answers [`ra::FD_KIND`] `(fd)`: what its descriptor `fd` is.
pub(super) fn fd_kind(u: &UserCtx, a: &[u64; 6]) -> i64 {
    if u.null_sink(a[0]) {
        ra::kind::NULL
    } else if u.plain_for_writing(a[0]).is_some() {
        ra::kind::PLAIN
    } else {
        ra::kind::OTHER
    }
}

/// The deputy runs its guest's one-way write [`ra::WRITE_BEHIND`] `(fd, n)` of `data` at the
/// file's position, credits it (`MigCtl CREDIT`, the total so far) and reports a failure or a
/// short write (`MigCtl WRITE_ERROR`: the errno, `EIO` for a short write; `EBADF` when `fd` is
/// no longer a plain file open for writing).
pub(super) fn write_behind(u: &UserCtx, mig: &Migration, p: &Proc, a: &[u64; 6], data: &[u8]) {
    let r = match ra::behind_args(a, data.len()) {
        Ok(fd) => match u.plain_for_writing(fd) {
            Some(f) => f.write_on(data),
            None => Err(EBADF),
        },
        Err(_) => Err(EINVAL),
    };
    let err = match r {
        Ok(n) if n == data.len() => 0,
        Ok(_) => EIO.to_errno().unsigned_abs(),
        Err(e) => e.to_errno().unsigned_abs(),
    };
    counters::bump(&mig.stats.writes_behind);
    let (taken, where_) = {
        let mut i = p.inner.lock();
        let where_ = i.where_;
        let Some(d) = i.deputy() else {
            return;
        };
        d.wb_taken = d.wb_taken.wrapping_add(1);
        (d.wb_taken, where_)
    };
    // A failure first: the guest has it before the credit lets it send more.
    if err != 0 {
        let _ = send_ctl(mig, where_, p.token, wire::ctl::WRITE_ERROR, err);
    }
    let _ = send_ctl(mig, where_, p.token, wire::ctl::CREDIT, taken);
}
