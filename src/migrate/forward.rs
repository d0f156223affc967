// SPDX-License-Identifier: GPL-2.0
//! Forwarding a guest's system call to its deputy: marshalling buffers, waiting for the reply.

use kernel::prelude::*;
use kernel::uaccess::UserSlice;

use super::Migration;
use crate::kapi::sys;
use crate::kapi::task::TaskRef;
use crate::proto::mig as wire;
use crate::proto::restart;
use crate::proto::MsgType;
use crate::syscalls::{self, Arg};

use super::image::Credit;
use super::neg;
use super::record::{Item, Proc};
use crate::counters;
use crate::kapi::errno;

/// Reads a NUL-terminated user string (with its NUL) of at most `PATH_MAX` bytes into `out`.
pub(super) fn read_user_str(addr: u64, out: &mut KVec<u8>) -> core::result::Result<(), i64> {
    let mut a = addr;
    let mut chunk = [0u8; 256];
    loop {
        let n = (256 - (a as usize % 256)).min(256);
        if UserSlice::new(a as usize, n)
            .reader()
            .read_slice(&mut chunk[..n])
            .is_err()
        {
            return Err(neg(EFAULT));
        }
        let end = chunk[..n].iter().position(|&c| c == 0);
        let take = end.map_or(n, |e| e + 1);
        out.extend_from_slice(&chunk[..take], GFP_KERNEL)
            .map_err(|_| neg(ENOMEM))?;
        if out.len() > syscalls::PATH_MAX {
            return Err(neg(errno::enametoolong()));
        }
        if end.is_some() {
            return Ok(());
        }
        a += n as u64;
    }
}

/// A guest's forwarded system call: marshals its input buffers, sends it to the deputy, waits
/// for the answer and copies the output buffers back. Returns the call's result.
pub(super) fn forward(
    mig: &Migration,
    p: &Proc,
    nr: u64,
    args: &[u64; 6],
    f: &syscalls::Forward,
) -> i64 {
    if let Some(r) = forward_split(mig, p, nr, args, f) {
        return r;
    }
    forward_one(mig, p, nr, args, f)
}

/// A read or write whose buffer exceeds one frame, forwarded in pieces as [`syscalls::Split`]
/// says. `None`: the call is not split (one forwarded call).
fn forward_split(
    mig: &Migration,
    p: &Proc,
    nr: u64,
    args: &[u64; 6],
    f: &syscalls::Forward,
) -> Option<i64> {
    let (offset, read) = match f.split {
        syscalls::Split::No => return None,
        syscalls::Split::Write { offset } => (offset, false),
        syscalls::Split::Read { offset } => (offset, true),
    };
    let (bi, li) = f.args.iter().enumerate().find_map(|(i, a)| match a {
        Arg::In(n) | Arg::Out(n) => Some((i, *n as usize)),
        _ => None,
    })?;
    let total = args[li];
    let piece = wire::MAX_SYS_DATA as u64;
    if total <= piece || args[bi] == 0 {
        return None;
    }
    let mut done = 0u64;
    while done < total {
        let n = (total - done).min(piece);
        let mut a = *args;
        a[bi] = args[bi] + done;
        a[li] = n;
        if let Some(o) = offset {
            a[o as usize] = args[o as usize].wrapping_add(done);
        }
        let r = forward_one(mig, p, nr, &a, f);
        if r < 0 {
            return Some(if done > 0 { done as i64 } else { r });
        }
        done += r as u64;
        if (r as u64) < n || (read && done == n && !seekable(mig, p, args[0])) {
            break;
        }
    }
    Some(done as i64)
}

/// Whether descriptor `fd` of the process (at home) is seekable: `lseek(fd, 0, SEEK_CUR)`
/// forwarded succeeds (a regular file or a device; not a pipe, socket or terminal).
fn seekable(mig: &Migration, p: &Proc, fd: u64) -> bool {
    const SEEK_CUR: u64 = 1;
    let f = syscalls::Forward {
        args: [Arg::Val; 6],
        oneway: false,
        split: syscalls::Split::No,
    };
    forward_one(mig, p, syscalls::nr::LSEEK, &[fd, 0, SEEK_CUR, 0, 0, 0], &f) >= 0
}

/// `readv`, `writev`, `preadv`, `pwritev`: gathers the iovecs into one buffer (or scatters the
/// answer), forwarding the plain call.
pub(super) fn forward_vectored(
    mig: &Migration,
    p: &Proc,
    args: &[u64; 6],
    v: &syscalls::Vectored,
) -> i64 {
    let off = v.offset_arg.map_or(0, |a| args[a as usize]);
    gather_call(
        mig, p, v.plain, v.input, args[0], args[1], args[2], off, true,
    )
}

/// `sendmsg`/`recvmsg` of a guest: without an address and control data they are `sendto`/
/// `recvfrom` over the gathered iovecs (`Some(result)`); otherwise `None`: the process goes home
/// for the call. recvmsg then reports no flags and no control data, as a stream socket does.
pub(super) fn forward_msg(mig: &Migration, p: &Proc, args: &[u64; 6], send: bool) -> Option<i64> {
    // struct user_msghdr: name, namelen (+pad), iov, iovlen, control, controllen, flags.
    let mut m = [0u8; 56];
    if UserSlice::new(args[1] as usize, m.len())
        .reader()
        .read_slice(&mut m)
        .is_err()
    {
        return Some(neg(EFAULT));
    }
    let word = |at: usize| {
        let mut w = [0u8; 8];
        crate::proto::copy(&mut w, &m[at..at + 8]);
        u64::from_ne_bytes(w)
    };
    let (name, iov, iovlen, control, controllen) =
        (word(0), word(16), word(24), word(32), word(40));
    if name != 0 || (control != 0 && controllen != 0) {
        return None;
    }
    let plain = if send {
        syscalls::nr::SENDTO
    } else {
        syscalls::nr::RECVFROM
    };
    let r = gather_call(mig, p, plain, send, args[0], iov, iovlen, args[2], false);
    if !send && r >= 0 {
        // msg_controllen = 0, msg_flags = 0, as the kernel writes them back.
        let zero = [0u8; 8];
        let mut w = UserSlice::new(args[1] as usize + 40, 12).writer();
        if w.write_slice(&zero).is_err() || w.write_slice(&zero[..4]).is_err() {
            return Some(neg(EFAULT));
        }
    }
    Some(r)
}

/// Forwards the plain call `plain(fd, buf, len, fourth)` over the `cnt` iovecs at `iov`,
/// gathered into one buffer (`input`: the call reads it) or scattered from it afterwards. With
/// `split` (`readv`, `writev`, `preadv`, `pwritev`) a total beyond one frame is forwarded in
/// frame-sized pieces as [`syscalls::Split`] says for the plain call (the offset of `pread64`/
/// `pwrite64` advancing); without (`sendmsg`/`recvmsg`: a datagram is never split) it is cut to
/// one frame, a short count. Errors: EINVAL for more than 1024 iovecs, EFAULT for an unreadable
/// iovec or buffer.
#[allow(clippy::too_many_arguments)]
pub(super) fn gather_call(
    mig: &Migration,
    p: &Proc,
    plain: u64,
    input: bool,
    fd: u64,
    iov: u64,
    cnt: u64,
    fourth: u64,
    split: bool,
) -> i64 {
    const IOV_MAX: u64 = 1024;
    /// The most one call transfers (the kernel's `MAX_RW_COUNT`).
    const MAX_RW: u64 = (i32::MAX as u64) & !(wire::PAGE as u64 - 1);
    if cnt > IOV_MAX {
        return neg(EINVAL);
    }
    let mut vecs = KVec::new();
    let mut total = 0u64;
    for k in 0..cnt {
        let mut e = [0u8; 16];
        if UserSlice::new((iov + 16 * k) as usize, 16)
            .reader()
            .read_slice(&mut e)
            .is_err()
        {
            return neg(EFAULT);
        }
        let base = u64::from_ne_bytes([e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7]]);
        let len = u64::from_ne_bytes([e[8], e[9], e[10], e[11], e[12], e[13], e[14], e[15]]);
        let len = len.min(MAX_RW - total);
        if vecs.push((base, len), GFP_KERNEL).is_err() {
            return neg(ENOMEM);
        }
        total += len;
    }
    let piece = wire::MAX_SYS_DATA as u64;
    if !split {
        total = total.min(piece);
    }
    let offset = plain == syscalls::nr::PREAD64 || plain == syscalls::nr::PWRITE64;
    let mut done = 0u64;
    loop {
        let n = (total - done).min(piece);
        let Ok(window) = window(&vecs, done, n) else {
            return neg(ENOMEM);
        };
        let at = if offset {
            fourth.wrapping_add(done)
        } else {
            fourth
        };
        let r = gather_once(mig, p, plain, input, fd, &window, n, at);
        if r < 0 {
            return if done > 0 { done as i64 } else { r };
        }
        done += r as u64;
        if (r as u64) < n || done >= total || (!input && done == n && !seekable(mig, p, fd)) {
            return done as i64;
        }
    }
}

/// The iovecs (base, length) that hold bytes `from .. from + len` of the concatenation of
/// `vecs`. Errors: `ENOMEM`.
fn window(vecs: &[(u64, u64)], from: u64, len: u64) -> Result<KVec<(u64, u64)>> {
    let mut out = KVec::new();
    let (mut skip, mut left) = (from, len);
    for &(base, l) in vecs {
        if left == 0 {
            break;
        }
        if skip >= l {
            skip -= l;
            continue;
        }
        let n = (l - skip).min(left);
        out.push((base + skip, n), GFP_KERNEL)?;
        skip = 0;
        left -= n;
    }
    Ok(out)
}

/// One forwarded plain call over the iovecs `vecs` holding `total` bytes (see [`gather_call`]).
#[allow(clippy::too_many_arguments)]
fn gather_once(
    mig: &Migration,
    p: &Proc,
    plain: u64,
    input: bool,
    fd: u64,
    vecs: &[(u64, u64)],
    total: u64,
    fourth: u64,
) -> i64 {
    let mut buf = KVec::new();
    if buf.extend_with(total as usize, 0u8, GFP_KERNEL).is_err() {
        return neg(ENOMEM);
    }
    if input {
        let mut at = 0usize;
        for &(base, len) in vecs.iter() {
            let n = len as usize;
            if n > 0
                && UserSlice::new(base as usize, n)
                    .reader()
                    .read_slice(&mut buf[at..at + n])
                    .is_err()
            {
                return neg(EFAULT);
            }
            at += n;
        }
    }
    let call = [fd, 0, total, fourth, 0, 0];
    let dir = if input { Arg::In(2) } else { Arg::Out(2) };
    let f = syscalls::Forward {
        args: [Arg::Val, dir, Arg::Val, Arg::Val, Arg::Val, Arg::Val],
        oneway: false,
        split: syscalls::Split::No,
    };
    let r = marshal_call(mig, p, plain, &call, &f, Some(&mut buf));
    if !input && r > 0 {
        let mut at = 0usize;
        let end = (r as usize).min(buf.len());
        for &(base, len) in vecs.iter() {
            if at >= end {
                break;
            }
            let n = (len as usize).min(end - at);
            if UserSlice::new(base as usize, n)
                .writer()
                .write_slice(&buf[at..at + n])
                .is_err()
            {
                return neg(EFAULT);
            }
            at += n;
        }
    }
    r
}

pub(super) fn forward_one(
    mig: &Migration,
    p: &Proc,
    nr: u64,
    args: &[u64; 6],
    f: &syscalls::Forward,
) -> i64 {
    marshal_call(mig, p, nr, args, f, None)
}

/// Marshals and forwards one call. With `inline`, the call's single buffer argument is that
/// kernel buffer instead of process memory (vectored calls).
pub(super) fn marshal_call(
    mig: &Migration,
    p: &Proc,
    nr: u64,
    args: &[u64; 6],
    f: &syscalls::Forward,
    inline: Option<&mut KVec<u8>>,
) -> i64 {
    let mut a = *args;
    if let Some(b) = inline.as_deref() {
        // A non-NULL placeholder: the plan then has the buffer.
        a[1] = 1;
        a[2] = b.len() as u64;
    }
    let plan = match syscalls::plan(f, &a) {
        Ok(pl) => pl,
        Err(e) => return e,
    };
    for &(i, v) in &plan.caps[..plan.ncaps] {
        a[i as usize] = v;
    }
    let mut data = KVec::new();
    for b in &plan.bufs[..plan.n] {
        let ptr = args[b.arg as usize];
        if b.str {
            if let Err(e) = read_user_str(ptr, &mut data) {
                return e;
            }
        } else if b.in_len > 0 {
            let at = data.len();
            let n = b.in_len as usize;
            if data.extend_with(n, 0u8, GFP_KERNEL).is_err() {
                return neg(ENOMEM);
            }
            match inline.as_deref() {
                Some(src) => {
                    let m = n.min(src.len());
                    data[at..at + m].copy_from_slice(&src[..m]);
                }
                None => {
                    if UserSlice::new(ptr as usize, n)
                        .reader()
                        .read_slice(&mut data[at..])
                        .is_err()
                    {
                        return neg(EFAULT);
                    }
                }
            }
        }
    }
    if data.len() > wire::MAX_SYS_DATA {
        return neg(E2BIG); // the inputs do not fit one frame
    }
    let (result, reply) = match exchange(mig, p, nr, &a, &data, f.oneway) {
        Ok(r) => r,
        Err(e) => return e,
    };
    match copy_out(&plan, args, inline, result, &reply) {
        Ok(()) => result,
        Err(e) => e,
    }
}

/// Guest `p` forwards a call (`counted`: one more for the balancer's measure) and waits for its
/// reply (`calling`), or no longer waits.
fn set_calling(p: &Proc, calling: bool, counted: bool) {
    if let Some(g) = p.inner.lock().guest() {
        g.forwarded += u64::from(counted);
        g.calling = calling;
    }
}

/// Copies the output buffers of a forwarded call that returned `result` from `reply` to the
/// process's memory (or to `inline`). Errors (a negative errno for the process): `-EIO` for a
/// reply shorter than the plan, `-EFAULT` for memory it cannot write.
fn copy_out(
    plan: &syscalls::Plan,
    args: &[u64; 6],
    mut inline: Option<&mut KVec<u8>>,
    result: i64,
    reply: &[u8],
) -> core::result::Result<(), i64> {
    let mut at = 0usize;
    for b in &plan.bufs[..plan.n] {
        let n = b.back(result) as usize;
        if n == 0 {
            continue;
        }
        if at + n > reply.len() {
            return Err(neg(EIO));
        }
        match inline.as_deref_mut() {
            Some(dst) => {
                let m = n.min(dst.len());
                dst[..m].copy_from_slice(&reply[at..at + m]);
            }
            None => {
                if UserSlice::new(args[b.arg as usize] as usize, n)
                    .writer()
                    .write_slice(&reply[at..at + n])
                    .is_err()
                {
                    return Err(neg(EFAULT));
                }
            }
        }
        at += n;
    }
    Ok(())
}

/// Sends call `nr` with arguments `a` and marshalled buffers `data` to the deputy and waits for
/// its reply (unless `oneway`): the result (`-ERESTART*` codes of a deputy interrupted for a move
/// taken as [`restart::forwarded_result`] says) and the reply's buffers. Errors: a negative
/// errno when home is unreachable or gone, or the task is killed.
pub(super) fn exchange(
    mig: &Migration,
    p: &Proc,
    nr: u64,
    a: &[u64; 6],
    data: &[u8],
    oneway: bool,
) -> core::result::Result<(i64, KVVec<u8>), i64> {
    super::readahead::before_call(mig, p, nr, a);
    let mut hdr = [0u8; wire::SYSCALL_HDR_LEN];
    wire::Syscall::encode_header(p.token, nr as u32, a, &mut hdr);
    counters::bump(&mig.stats.forwarded);
    set_calling(p, !oneway, true);
    if mig
        .net
        .send_to(p.home, MsgType::Syscall, &[&hdr, data])
        .is_err()
    {
        set_calling(p, false, false);
        return Err(neg(EIO)); // the home node is unreachable
    }
    if oneway {
        return Ok((0, KVVec::new()));
    }
    let sent_us = sys::monotonic_us();
    // Bytes of the answer ahead of the reply (`SysData`), under flow control.
    // A failure to keep them fails the call once its reply came (the stream is taken whole).
    let mut ahead: Option<KVVec<u8>> = None;
    let mut lost = false;
    let mut credit = Credit::new(p.home);
    let got = loop {
        match p.pop(0, false) {
            Ok(Item::Data(d)) => {
                credit.took(mig, p);
                match ahead.as_mut() {
                    None => ahead = Some(d),
                    Some(acc) => lost |= acc.extend_from_slice(&d, GFP_KERNEL).is_err(),
                }
            }
            Ok(Item::Reply { result, data }) => match ahead.take() {
                None => break Ok((result, data)),
                Some(mut acc) => {
                    lost |= acc.extend_from_slice(&data, GFP_KERNEL).is_err();
                    if lost {
                        break Err(neg(ENOMEM));
                    }
                    break Ok((result, acc));
                }
            },
            Ok(Item::Ctl(c)) if c.op == wire::ctl::GONE => break Err(neg(EIO)),
            Ok(_) => continue,
            // Only a fatal signal gets here; the task is ending.
            Err(_) => break Err(neg(EINTR)),
        }
    };
    set_calling(p, false, false);
    let (result, reply) = got?;
    counters::add(&mig.stats.forward_wait_us, sys::monotonic_us() - sent_us);
    let (result, restart) = restart::forwarded_result(result);
    if restart {
        // Its deputy interrupted the call because the process moves (the move's task work is
        // queued): make sure the return to user mode passes the kernel's signal code, which
        // restarts the call here or carries it on with the process.
        let _ = TaskRef::current().add_work_interrupting(|_| {});
    }
    Ok((result, reply))
}
