// SPDX-License-Identifier: GPL-2.0
//! Read-ahead of a guest's reads of a plain file at home (`proto::readahead`, protocol 12):
//! the guest's side ([`read`], [`before_call`]) keeps the bytes its deputy read beyond a call
//! and serves the next reads from them; the deputy's side ([`serve`], [`skip`], [`check`])
//! reads ahead, moves the file's position as the reads do, and tells the guest to drop what it
//! holds when the file changes at home.
//!
//! Correctness rules (`Documentation/migration.md`, Remote file reads):
//! - whenever a call of the process runs at home, the file's position there is where its reads
//!   got to: a fill moves it by the bytes it returns only; the bytes served from read-ahead are
//!   counted and said before the guest's next call (the next fill's `skip`, or a one-way
//!   `READ_SKIP` ahead of any other call, and when the guest leaves the node), so at most one
//!   skip is ever in the deputy's inbox with a call;
//! - any call of the guest other than a read or write of another descriptor drops its
//!   read-ahead (a seek, a close, a dup, an exec, a fork, ...), and the deputy forgets the
//!   file too;
//! - before each reply and each signal it sends the guest, the deputy compares the file's
//!   position and contents stamp with what the last fill left: if another process wrote,
//!   truncated or moved it, the guest is told (`MigCtl` READ_DROP) before the reply or signal,
//!   so whatever it learns from home afterwards, it reads the file as it is now; a signal from
//!   home drops the read-ahead in any case;
//! - read-ahead older than [`MAX_AGE_US`] is not used (a write at home that the guest learns
//!   of by the clock alone).
//!
//! Writes to the null device at home are answered by the guest itself ([`write`]): its deputy
//! says once what a descriptor is ([`ra::FD_KIND`]), and the guest forgets it at any call other
//! than a read or write.

use kernel::prelude::*;
use kernel::uaccess::UserSlice;

use super::deputy::send_reply_unchecked;
use super::forward::exchange;
use super::image::Flow;
use super::neg;
use super::record::Proc;
use super::{send_ctl, Migration};
use crate::counters;
use crate::kapi::sys;
use crate::kapi::uctx::files::FileRef;
use crate::kapi::uctx::openfile::Stamp;
use crate::kapi::uctx::UserCtx;
use crate::proto::mig as wire;
use crate::proto::readahead::{self as ra, MAX_FILL};
use crate::proto::MsgType;
use crate::syscalls::nr;

/// Read-ahead older than this (µs since its fill) is dropped unused.
pub(super) const MAX_AGE_US: u64 = 500_000;

/// A guest's bytes read ahead of descriptor `fd`: `data[at..]` follow the file's position at
/// home once the deputy heard of the `owed` bytes served since its last fill or skip.
pub(super) struct Cache {
    fd: u64,
    data: KVVec<u8>,
    at: usize,
    owed: u64,
    /// The guest's `ra_gen` when the fill's reply came.
    gen: u64,
    filled_us: u64,
    /// The read-ahead the fill asked for (the next one doubles it).
    window: u64,
}

impl Cache {
    fn unused(&self) -> bool {
        self.at < self.data.len()
    }
}

/// The deputy's record of the file its guest reads ahead of: descriptor, file, the position
/// the guest's reads leave it at, and its contents stamp before the fill.
pub(super) struct Watch {
    fd: u64,
    file: FileRef,
    pos: u64,
    stamp: Stamp,
}

/// Whether call `nr(a)` of a guest reading ahead of `fd` leaves that read-ahead valid: a read
/// or write of another descriptor (the copy loops of `cat`, `dd`, `sha256sum`).
fn keeps(nr: u64, a: &[u64; 6], fd: u64) -> bool {
    matches!(
        nr,
        nr::READ | nr::WRITE | nr::PREAD64 | nr::PWRITE64 | nr::SENDTO | nr::RECVFROM
    ) && a[0] != fd
}

/// The guest's read-ahead, if any, taken out of its record.
fn take(p: &Proc) -> (Option<Cache>, u64) {
    match p.inner.lock().guest() {
        Some(g) => (g.read_ahead.take(), g.ra_gen),
        None => (None, 0),
    }
}

fn put(p: &Proc, c: Option<Cache>) {
    let left = match p.inner.lock().guest() {
        Some(g) => core::mem::replace(&mut g.read_ahead, c),
        None => c,
    };
    drop(left);
}

fn gen_now(p: &Proc) -> u64 {
    p.inner.lock().guest().map_or(0, |g| g.ra_gen)
}

/// Tells the deputy of the bytes `c` served that it did not hear of yet ([`ra::READ_SKIP`]).
fn settle(mig: &Migration, p: &Proc, c: &mut Cache) {
    if c.owed > 0 {
        send_skip(mig, p, c.fd, c.owed);
        c.owed = 0;
    }
}

/// Gives read-ahead `c` up: settled, and counted if bytes of it go unused.
fn retire(mig: &Migration, p: &Proc, mut c: Cache) {
    settle(mig, p, &mut c);
    if c.unused() {
        counters::bump(&mig.stats.readahead_dropped);
    }
}

/// A guest is about to forward call `nr(a)`: the bytes served from its read-ahead are
/// settled first, and the read-ahead dropped unless the call keeps it ([`keeps`]); what it
/// knows of its descriptors' kinds is forgotten unless the call is a read or write.
pub(super) fn before_call(mig: &Migration, p: &Proc, nr: u64, a: &[u64; 6]) {
    if nr == u64::from(ra::READ_AHEAD) || nr == u64::from(ra::FD_KIND) {
        return;
    }
    if !keeps(nr, a, u64::MAX) {
        if let Some(g) = p.inner.lock().guest() {
            g.fd_kinds = [(0, 0); 4];
        }
    }
    let (c, _) = take(p);
    let Some(mut c) = c else {
        return;
    };
    settle(mig, p, &mut c);
    if keeps(nr, a, c.fd) {
        put(p, Some(c));
    } else {
        retire(mig, p, c);
    }
}

/// A guest leaves this node: its read-ahead is settled and dropped.
pub(super) fn flush(mig: &Migration, p: &Proc) {
    if let (Some(c), _) = take(p) {
        retire(mig, p, c);
    }
}

/// A guest's `read(fd, buf, n)` (`n` > 0): served from its read-ahead of `fd` where it can,
/// otherwise forwarded as [`ra::READ_AHEAD`] fills of at most [`MAX_FILL`] bytes each, the
/// bytes beyond the call kept. Returns the call's result: the bytes read (fewer than `n` only
/// at the end of the file, or from a pipe, socket or terminal, which the deputy reads plainly),
/// or a negative errno (`-EFAULT` for a buffer it cannot write, the read's errors at home).
pub(super) fn read(mig: &Migration, p: &Proc, fd: u64, buf: u64, n: u64) -> i64 {
    let (c, gen) = take(p);
    let now = sys::monotonic_us();
    // Read-ahead of another file is kept unless this read makes some of its own.
    let (c, mut other) = match c {
        Some(c) if c.fd == fd => (Some(c), None),
        c => (None, c),
    };
    // The last fill's window, whether this read follows it, and the bytes served since.
    let (mut window, mut sequential) = c.as_ref().map_or((0, false), |c| (c.window, true));
    let mut owed = c.as_ref().map_or(0, |c| c.owed);
    let mut c = c.filter(|c| {
        let fresh = c.gen == gen && now.saturating_sub(c.filled_us) < MAX_AGE_US;
        if !fresh && c.unused() {
            counters::bump(&mig.stats.readahead_dropped);
        }
        fresh
    });
    let mut done = 0u64;
    let result = loop {
        if let Some(k) = c.as_mut() {
            let m = ((k.data.len() - k.at) as u64).min(n - done) as usize;
            if m > 0 {
                if copy_out(buf + done, &k.data[k.at..k.at + m]).is_err() {
                    break if done > 0 { done as i64 } else { neg(EFAULT) };
                }
                k.at += m;
                done += m as u64;
                owed += m as u64;
                counters::bump(&mig.stats.readahead_local);
                if done == n {
                    break done as i64;
                }
            }
        }
        let want = (n - done).min(MAX_FILL);
        window = ra::next_window(window, sequential, want);
        sequential = true;
        counters::bump(&mig.stats.readahead_fills);
        let a = [fd, want, window, owed, 0, 0];
        let got = exchange(mig, p, u64::from(ra::READ_AHEAD), &a, &[], false);
        owed = 0;
        let (r, data) = match got {
            Ok((r, _)) if r < 0 => break if done > 0 { done as i64 } else { r },
            Ok((r, data)) => (r as u64, data),
            Err(e) => break if done > 0 { done as i64 } else { e },
        };
        c = None;
        if r > want || r as usize > data.len() {
            break neg(EIO); // a reply that disagrees with the call
        }
        if r > 0 && copy_out(buf + done, &data[..r as usize]).is_err() {
            // Read at home but lost here, as a read into a bad buffer loses them.
            break if done > 0 { done as i64 } else { neg(EFAULT) };
        }
        done += r;
        if data.len() > r as usize {
            if let Some(o) = other.take() {
                retire(mig, p, o);
            }
        }
        c = Some(Cache {
            fd,
            data,
            at: r as usize,
            owed: 0,
            gen: gen_now(p),
            filled_us: sys::monotonic_us(),
            window,
        });
        if r < want || done == n {
            break done as i64;
        }
    };
    if let Some(k) = c.as_mut() {
        k.owed = owed;
    } else if owed > 0 {
        send_skip(mig, p, fd, owed);
    }
    // An empty record of this file (its window) does not displace another file's read-ahead.
    let keep = match (c, other) {
        (Some(mut k), Some(o)) if !k.unused() => {
            settle(mig, p, &mut k);
            Some(o)
        }
        (k, o) => k.or(o),
    };
    put(p, keep);
    result
}

/// A guest's `write(fd, buf, n)` (`n` > 0) to the null device at home returns `n` here, as
/// the null device would (`EFAULT` for a buffer beyond user space, as `vfs_write` checks);
/// its deputy is asked once what `fd` is ([`ra::FD_KIND`]). `None`: another file, the write
/// is forwarded.
pub(super) fn write(mig: &Migration, p: &Proc, fd: u64, buf: u64, n: u64) -> Option<i64> {
    let slot = (fd % 4) as usize;
    let known = p
        .inner
        .lock()
        .guest()
        .and_then(|g| (g.fd_kinds[slot].0 == fd + 1).then_some(g.fd_kinds[slot].1));
    let kind = match known {
        Some(k) => k,
        None => {
            let a = [fd, 0, 0, 0, 0, 0];
            let k = match exchange(mig, p, u64::from(ra::FD_KIND), &a, &[], false) {
                Ok((k, _)) if k == ra::kind::NULL => k,
                _ => ra::kind::OTHER,
            };
            if let Some(g) = p.inner.lock().guest() {
                g.fd_kinds[slot] = (fd + 1, k);
            }
            k
        }
    };
    if kind != ra::kind::NULL {
        return None;
    }
    counters::bump(&mig.stats.writes_null);
    Some(match buf.checked_add(n) {
        Some(end) if end <= wire::USER_TOP => n.min(MAX_RW) as i64,
        _ => neg(EFAULT),
    })
}

/// The most one `write` transfers (the kernel's `MAX_RW_COUNT`).
const MAX_RW: u64 = (i32::MAX as u64) & !(wire::PAGE as u64 - 1);

/// The deputy answers [`ra::FD_KIND`] `(fd)`: what its descriptor `fd` is.
pub(super) fn fd_kind(u: &UserCtx, a: &[u64; 6]) -> i64 {
    if u.null_sink(a[0]) {
        ra::kind::NULL
    } else {
        ra::kind::OTHER
    }
}

fn copy_out(addr: u64, b: &[u8]) -> core::result::Result<(), ()> {
    UserSlice::new(addr as usize, b.len())
        .writer()
        .write_slice(b)
        .map_err(|_| ())
}

/// Tells the deputy that `m` bytes of `fd` were served from read-ahead (one-way; not counted
/// as a forwarded call).
fn send_skip(mig: &Migration, p: &Proc, fd: u64, m: u64) {
    let mut hdr = [0u8; wire::SYSCALL_HDR_LEN];
    wire::Syscall::encode_header(p.token, ra::READ_SKIP, &[fd, m, 0, 0, 0, 0], &mut hdr);
    // A lost link fails the next forwarded call; nothing to do here about it.
    let _ = mig.net.send_to(p.home, MsgType::Syscall, &[&hdr]);
}

/// The deputy of `p` takes call `nr(a)` of its guest: it forgets the file read ahead of
/// unless the call keeps the guest's read-ahead ([`keeps`]; the guest dropped it otherwise).
pub(super) fn on_call(p: &Proc, nr: u64, a: &[u64; 6]) {
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

/// The deputy serves [`ra::READ_AHEAD`] `(fd, n, window, skip)` (arguments `a`): for a plain
/// file ([`UserCtx::plain_file`]) it moves the file's position on by `skip` (bytes its guest
/// served from read-ahead), streams up to `n + window` bytes from there as
/// `SysData` frames, moves the position by the call's result (at most `n`) and answers.
/// Returns whether it answered; `false`: not a plain file, to be read plainly (a `read` of at
/// most one frame, run as any forwarded call).
pub(super) fn serve(u: &UserCtx, mig: &Migration, p: &Proc, a: &[u64; 6]) -> bool {
    let Ok((fd, want, window, skip)) = ra::fill_args(a) else {
        send_reply_unchecked(mig, p, neg(EINVAL), &[]);
        return true;
    };
    let Some(file) = u.plain_file(fd) else {
        return false;
    };
    // The bytes its guest served from read-ahead since it last said, first.
    let stamp = file.stamp();
    let pos = file.pos().saturating_add(skip);
    let (got, err) = stream(mig, p, &file, pos, want + window);
    let result = got.min(want);
    let moved = if err.is_none() {
        file.seek_to(pos + result)
    } else {
        file.seek_to(pos)
    };
    let watch = (err.is_none() && moved.is_ok() && got > result).then_some(Watch {
        fd,
        file,
        pos: pos + result,
        stamp,
    });
    let old = match p.inner.lock().deputy() {
        Some(d) => core::mem::replace(&mut d.read_ahead, watch),
        None => watch,
    };
    drop(old);
    counters::add(&mig.stats.readahead_bytes, got);
    let r = match (err, moved) {
        (Some(e), _) if got == 0 => neg(e),
        // Bytes were sent that the guest will not get: the call fails, the position unmoved.
        (Some(_), _) => neg(EIO),
        (None, Err(e)) => neg(e),
        (None, Ok(())) => result as i64,
    };
    send_reply_unchecked(mig, p, r, &[]);
    true
}

/// Reads up to `total` bytes of `file` from `pos` and sends them to `p`'s guest as `SysData`
/// frames under flow control: the bytes sent, and the error that ended the stream early (a
/// read's, or the send's).
fn stream(mig: &Migration, p: &Proc, file: &FileRef, pos: u64, total: u64) -> (u64, Option<Error>) {
    let mut buf = KVVec::new();
    if buf
        .extend_with(ra::SYSDATA_HDR_LEN + wire::MAX_SYS_DATA, 0u8, GFP_KERNEL)
        .is_err()
    {
        return (0, Some(ENOMEM));
    }
    ra::SysData::encode_header(p.token, &mut buf[..ra::SYSDATA_HDR_LEN]);
    let where_ = p.inner.lock().where_;
    let mut flow = Flow::new(mig, p, where_);
    let mut got = 0u64;
    while got < total {
        let k = ((total - got) as usize).min(wire::MAX_SYS_DATA);
        let body = &mut buf[ra::SYSDATA_HDR_LEN..ra::SYSDATA_HDR_LEN + k];
        let r = match file.read_at(pos + got, body) {
            Ok(0) => break,
            Ok(r) => r,
            Err(e) => return (got, Some(e)),
        };
        if let Err(e) = flow.send(MsgType::SysData, &[&buf[..ra::SYSDATA_HDR_LEN + r]]) {
            return (got, Some(e));
        }
        got += r as u64;
        if r < k {
            break;
        }
    }
    (got, None)
}

/// The deputy takes [`ra::READ_SKIP`] `(fd, m)`: its guest served `m` bytes of `fd` from
/// read-ahead, so the file's position moves on by `m` as the reads would have moved it.
pub(super) fn skip(u: &UserCtx, p: &Proc, a: &[u64; 6]) {
    let Ok((fd, m)) = ra::skip_args(a) else {
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
/// guest is told to drop its read-ahead (`MigCtl` READ_DROP), and the deputy forgets the file.
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
    }
    drop(stale);
}
