// SPDX-License-Identifier: GPL-2.0
//! Remote file reads, the guest's side (`proto::readahead`, protocol 12): a guest keeps the
//! bytes its deputy streams beyond a read of a plain file at home and serves the next reads
//! from them ([`read`]), and answers writes to the null device at home itself ([`write`]). The
//! deputy's side is [`super::readserve`].
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
//! The bytes ahead arrive as a stream of `SysData` frames that the deputy sends while it waits,
//! under flow control: while the process works on what it read, up to a window of frames waits
//! in its inbox. Frames of a stream the guest gave up (a call, another fill) are dropped, and
//! credited, when they arrive.
//!
//! Writes to the null device at home are answered by the guest itself ([`write`]): its deputy
//! says once what a descriptor is ([`ra::FD_KIND`]), and the guest forgets it at any call other
//! than a read or write.

use kernel::prelude::*;
use kernel::uaccess::UserSlice;

use super::forward::{exchange, exchange_fill};
use super::neg;
use super::readserve::keeps;
use super::record::{Item, Proc};
use super::{send_ctl, Migration, STEP_MS};
use crate::counters;
use crate::kapi::sys;
use crate::proto::flow;
use crate::proto::mig as wire;
use crate::proto::readahead::{self as ra, MAX_FILL};
use crate::proto::MsgType;

/// Read-ahead older than this (µs since its fill) is dropped unused.
pub(super) const MAX_AGE_US: u64 = 500_000;

/// A guest's bytes read ahead of descriptor `fd`: `data[at..]` follow the file's position at
/// home once the deputy heard of the `owed` bytes served since its last fill or skip; more come
/// as frames of `stream` until its end (`ended`).
pub(super) struct Cache {
    fd: u64,
    data: KVVec<u8>,
    at: usize,
    owed: u64,
    stream: u32,
    ended: bool,
    /// The guest's `ra_gen` when the fill's reply came.
    gen: u64,
    filled_us: u64,
    /// The read-ahead the fill asked for (the next one doubles it).
    window: u64,
}

impl Cache {
    fn unused(&self) -> bool {
        self.at < self.data.len() || !self.ended
    }
}

/// The guest's read-ahead, if any, taken out of its record, and its `ra_gen`.
fn take(p: &Proc) -> (Option<Cache>, u64) {
    match p.inner.lock().guest() {
        Some(g) => (g.read_ahead.take(), g.ra_gen),
        None => (None, 0),
    }
}

/// Puts read-ahead `c` back in the guest's record.
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

/// A read-ahead frame was taken from the guest's inbox: counted, and credited to the deputy
/// every [`flow::CREDIT_EVERY`] frames (`MigCtl CREDIT` with the total so far).
pub(super) fn took_frame(mig: &Migration, p: &Proc) {
    let taken = match p.inner.lock().guest() {
        Some(g) => {
            g.ra_taken = g.ra_taken.wrapping_add(1);
            g.ra_taken
        }
        None => return,
    };
    if let Some(c) = flow::report(taken) {
        // A lost credit shows as the deputy's stream ending on its timeout.
        let _ = send_ctl(mig, p.home, p.token, wire::ctl::CREDIT, c);
    }
}

/// Tells the deputy of the bytes `c` served that it did not hear of yet ([`ra::READ_SKIP`]).
fn settle(mig: &Migration, p: &Proc, c: &mut Cache) {
    if c.owed > 0 {
        send_skip(mig, p, c.fd, c.owed, false);
        c.owed = 0;
    }
}

/// Gives read-ahead `c` up: settled, counted if bytes of it go unused, and its stream, if
/// still under way, noted as one whose end has not come.
fn retire(mig: &Migration, p: &Proc, mut c: Cache) {
    settle(mig, p, &mut c);
    if c.unused() {
        counters::bump(&mig.stats.readahead_dropped);
    }
    if !c.ended {
        if let Some(g) = p.inner.lock().guest() {
            g.ra_orphan = c.stream;
        }
    }
}

/// A guest is about to forward call `nr(a)`: the bytes served from its read-ahead are
/// settled first, and the read-ahead dropped unless the call keeps it ([`keeps`]); the stream
/// under way ends (the deputy ends it when the call arrives; the call's exchange drops its
/// frames). What the guest knows of its descriptors' kinds is forgotten unless the call is a
/// read or write.
pub(super) fn before_call(mig: &Migration, p: &Proc, nr: u64, a: &[u64; 6]) {
    let fill = nr == u64::from(ra::READ_AHEAD);
    if let Some(g) = p.inner.lock().guest() {
        if !keeps(nr, a, u64::MAX) && !fill && nr != u64::from(ra::FD_KIND) {
            g.fd_kinds = [(0, 0); 4];
        }
        // The call's exchange takes the frames of a stream given up, up to its end.
        g.ra_orphan = 0;
    }
    if fill {
        return;
    }
    let (c, _) = take(p);
    let Some(mut c) = c else {
        return;
    };
    settle(mig, p, &mut c);
    c.ended = true;
    if keeps(nr, a, c.fd) || nr == u64::from(ra::FD_KIND) {
        put(p, Some(c));
    } else {
        retire(mig, p, c);
    }
}

/// A guest leaves this node: its read-ahead is settled and dropped, a stream still under way is
/// stopped (`READ_SKIP` with `stop`) and its frames taken up to its end, and its one-way writes
/// are all run at home, so that nothing of them arrives during the move (each wait at most
/// [`STEP_MS`]). Errors: `ETIMEDOUT` when the deputy did not take them (the move fails).
pub(super) fn flush(mig: &Migration, p: &Proc) -> Result {
    let (c, _) = take(p);
    let (fd, owed, live) = match c {
        Some(c) => {
            let live = (!c.ended).then_some(c.stream);
            let (fd, owed) = (c.fd, c.owed);
            if c.unused() {
                counters::bump(&mig.stats.readahead_dropped);
            }
            (fd, owed, live)
        }
        None => (0, 0, None),
    };
    let orphan = p
        .inner
        .lock()
        .guest()
        .map_or(0, |g| core::mem::replace(&mut g.ra_orphan, 0));
    let live = live.or((orphan != 0).then_some(orphan));
    if owed > 0 || live.is_some() {
        send_skip(mig, p, fd, owed, live.is_some());
    }
    if let Some(id) = live {
        while let Some(Frame::Bytes(_)) = next_frame(mig, p, id) {}
    }
    // The one-way writes are run before the move (their credits, which the move's own flow
    // control would miscount, all in).
    let sent = p.inner.lock().guest().map_or(0, |g| g.wb_sent);
    p.clamp_credit(sent);
    p.wait_credit(sent.wrapping_add(flow::WINDOW))
}

/// What [`next_frame`] found.
enum Frame {
    Bytes(KVVec<u8>),
    End,
}

/// Waits (at most [`STEP_MS`]) for the next frame of stream `id`, dropping frames of other
/// streams; `None` when none came or the deputy is gone.
fn next_frame(mig: &Migration, p: &Proc, id: u32) -> Option<Frame> {
    loop {
        match p.pop(STEP_MS, false) {
            Ok(Item::Data { stream, data }) => {
                took_frame(mig, p);
                if stream != id {
                    continue;
                }
                return Some(if data.is_empty() {
                    Frame::End
                } else {
                    Frame::Bytes(data)
                });
            }
            Ok(Item::Ctl(c)) if c.op == wire::ctl::GONE => return None,
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}

/// A guest's `read(fd, buf, n)` (`n` > 0): served from its read-ahead of `fd` where it can
/// (the bytes streamed so far, then those still coming), otherwise forwarded as
/// [`ra::READ_AHEAD`] fills of at most [`MAX_FILL`] bytes each, the bytes beyond the call kept.
/// Returns the call's result: the bytes read (fewer than `n` only at the end of the file, or
/// from a pipe, socket or terminal, which the deputy reads plainly), or a negative errno
/// (`-EFAULT` for a buffer it cannot write, the read's errors at home).
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
    // The bytes served since are said by this read (its fill, or `finish`), not by the cache.
    let mut c = c;
    let mut owed = c.as_mut().map_or(0, |c| core::mem::take(&mut c.owed));
    let mut c = fresh(mig, p, c, gen, now);
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
            if !k.ended && more(mig, p, k) {
                c = fresh(mig, p, c, gen_now(p), sys::monotonic_us());
                continue;
            }
        }
        let want = (n - done).min(MAX_FILL);
        window = ra::next_window(window, sequential, want);
        sequential = true;
        match fill(mig, p, fd, want, window, owed) {
            Ok(k) => {
                owed = 0;
                let r = k.at as u64;
                if r > 0 && copy_out(buf + done, &k.data[..k.at]).is_err() {
                    // Read at home but lost here, as a read into a bad buffer loses them.
                    retire(mig, p, k);
                    c = None;
                    break if done > 0 { done as i64 } else { neg(EFAULT) };
                }
                done += r;
                if k.unused() {
                    if let Some(o) = other.take() {
                        retire(mig, p, o);
                    }
                }
                if let Some(old) = c.replace(k) {
                    retire(mig, p, old);
                }
                if r < want || done == n {
                    break done as i64;
                }
            }
            Err(e) => {
                owed = 0;
                break if done > 0 { done as i64 } else { e };
            }
        }
    };
    finish(mig, p, fd, c, other, owed);
    result
}

/// Read-ahead `c` if it may still be used (no READ_DROP or signal since its fill, younger than
/// [`MAX_AGE_US`]); otherwise it is retired (its `owed` bytes are the caller's: zero here).
fn fresh(mig: &Migration, p: &Proc, c: Option<Cache>, gen: u64, now: u64) -> Option<Cache> {
    let c = c?;
    if c.gen == gen && now.saturating_sub(c.filled_us) < MAX_AGE_US {
        return Some(c);
    }
    retire(mig, p, c);
    None
}

/// Waits for the next frame of `k`'s stream and appends it: whether bytes came (otherwise the
/// stream ended).
fn more(mig: &Migration, p: &Proc, k: &mut Cache) -> bool {
    match next_frame(mig, p, k.stream) {
        Some(Frame::Bytes(b)) => {
            if k.data.extend_from_slice(&b, GFP_KERNEL).is_ok() {
                return true;
            }
            // No memory for them: the rest of the stream is given up.
            if let Some(g) = p.inner.lock().guest() {
                g.ra_orphan = k.stream;
            }
            k.ended = true;
            false
        }
        Some(Frame::End) | None => {
            k.ended = true;
            false
        }
    }
}

/// One [`ra::READ_AHEAD`] fill of `want` bytes of `fd` and `window` ahead, first saying the
/// `owed` bytes served before: a new read-ahead whose first `at` bytes are the call's.
/// Errors: the read's at home, `-EIO` for an answer that disagrees with the call.
fn fill(
    mig: &Migration,
    p: &Proc,
    fd: u64,
    want: u64,
    window: u64,
    owed: u64,
) -> core::result::Result<Cache, i64> {
    let id = match p.inner.lock().guest() {
        Some(g) => {
            g.ra_stream = g.ra_stream.wrapping_add(1).max(1);
            g.ra_stream
        }
        None => return Err(neg(EIO)),
    };
    counters::bump(&mig.stats.readahead_fills);
    let a = [fd, want, window, owed, u64::from(id), 0];
    let (r, data, ended) = exchange_fill(mig, p, &a, id)?;
    let bad = r < 0 || r as u64 > want || r as usize > data.len();
    let k = Cache {
        fd,
        at: if bad { data.len() } else { r as usize },
        data,
        owed: 0,
        stream: id,
        ended,
        gen: gen_now(p),
        filled_us: sys::monotonic_us(),
        window,
    };
    if bad {
        retire(mig, p, k);
        return Err(if r < 0 { r } else { neg(EIO) });
    }
    Ok(k)
}

/// After a read: the bytes served and not yet said stay with the read-ahead kept (or are said
/// now); an empty record of this file (its window) does not displace another file's
/// read-ahead.
fn finish(mig: &Migration, p: &Proc, fd: u64, c: Option<Cache>, other: Option<Cache>, owed: u64) {
    let mut c = c;
    match c.as_mut() {
        Some(k) => k.owed = owed,
        None if owed > 0 => send_skip(mig, p, fd, owed, false),
        None => {}
    }
    let keep = match (c, other) {
        (Some(k), Some(o)) if !k.unused() => {
            retire(mig, p, k);
            Some(o)
        }
        (Some(k), Some(o)) => {
            retire(mig, p, o);
            Some(k)
        }
        (k, o) => k.or(o),
    };
    put(p, keep);
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
                Ok((k, _)) if k == ra::kind::NULL || k == ra::kind::PLAIN => k,
                _ => ra::kind::OTHER,
            };
            if let Some(g) = p.inner.lock().guest() {
                g.fd_kinds[slot] = (fd + 1, k);
            }
            k
        }
    };
    match kind {
        ra::kind::NULL => {
            counters::bump(&mig.stats.writes_null);
            Some(match buf.checked_add(n) {
                Some(end) if end <= wire::USER_TOP => n.min(MAX_RW) as i64,
                _ => neg(EFAULT),
            })
        }
        ra::kind::PLAIN => Some(write_behind(mig, p, fd, buf, n.min(MAX_RW))),
        _ => None,
    }
}

/// The failure of a one-way write its deputy reported and the guest did not return yet, taken.
pub(super) fn take_write_error(p: &Proc) -> Option<i64> {
    let mut i = p.inner.lock();
    let g = i.guest()?;
    let e = core::mem::replace(&mut g.wb_error, 0);
    (e != 0).then(|| -i64::from(e))
}

/// A guest's `write(fd, buf, n)` to a plain file at home: sent one-way
/// ([`ra::WRITE_BEHIND`] frames of at most one frame's data each, within the flow window, each
/// wait at most [`STEP_MS`]); returns `n`, or the failure of an earlier one-way write (this
/// one is not sent), `-EFAULT` for a buffer it cannot read (the bytes before it are written),
/// `-EIO` when the deputy takes none (a stalled or lost home).
fn write_behind(mig: &Migration, p: &Proc, fd: u64, buf: u64, n: u64) -> i64 {
    if let Some(e) = take_write_error(p) {
        return e;
    }
    // Read-ahead of this file is given up (its position at home said first).
    let (c, _) = take(p);
    match c {
        Some(c) if c.fd == fd => retire(mig, p, c),
        c => put(p, c),
    }
    let Some(mut sent) = p.inner.lock().guest().map(|g| g.wb_sent) else {
        return neg(EIO);
    };
    p.clamp_credit(sent);
    let mut chunk = KVVec::new();
    let size = n.min(wire::MAX_SYS_DATA as u64) as usize;
    if chunk.extend_with(size, 0u8, GFP_KERNEL).is_err() {
        return neg(ENOMEM);
    }
    let mut done = 0u64;
    while done < n {
        let k = (n - done).min(wire::MAX_SYS_DATA as u64) as usize;
        if UserSlice::new((buf + done) as usize, k)
            .reader()
            .read_slice(&mut chunk[..k])
            .is_err()
        {
            return if done > 0 { done as i64 } else { neg(EFAULT) };
        }
        if p.wait_credit(sent.wrapping_add(1)).is_err() {
            return if done > 0 { done as i64 } else { neg(EIO) };
        }
        let mut hdr = [0u8; wire::SYSCALL_HDR_LEN];
        let a = [fd, k as u64, 0, 0, 0, 0];
        wire::Syscall::encode_header(p.token, ra::WRITE_BEHIND, &a, &mut hdr);
        if mig
            .net
            .send_to(p.home, MsgType::Syscall, &[&hdr, &chunk[..k]])
            .is_err()
        {
            return if done > 0 { done as i64 } else { neg(EIO) };
        }
        sent = sent.wrapping_add(1);
        if let Some(g) = p.inner.lock().guest() {
            g.wb_sent = sent;
        }
        counters::bump(&mig.stats.writes_behind);
        done += k as u64;
    }
    done as i64
}

/// The most one `write` transfers (the kernel's `MAX_RW_COUNT`).
const MAX_RW: u64 = (i32::MAX as u64) & !(wire::PAGE as u64 - 1);

fn copy_out(addr: u64, b: &[u8]) -> core::result::Result<(), ()> {
    UserSlice::new(addr as usize, b.len())
        .writer()
        .write_slice(b)
        .map_err(|_| ())
}

/// Tells the deputy that `m` bytes of `fd` were served from read-ahead, and with `stop` to end
/// its stream (one-way; not counted as a forwarded call).
fn send_skip(mig: &Migration, p: &Proc, fd: u64, m: u64, stop: bool) {
    let mut hdr = [0u8; wire::SYSCALL_HDR_LEN];
    let a = [fd, m, u64::from(stop), 0, 0, 0];
    wire::Syscall::encode_header(p.token, ra::READ_SKIP, &a, &mut hdr);
    // A lost link fails the next forwarded call; nothing to do here about it.
    let _ = mig.net.send_to(p.home, MsgType::Syscall, &[&hdr]);
}
