// SPDX-License-Identifier: GPL-2.0
//! Raw transfer measurements over the peer connections, for `make bench`: the baselines that
//! migration times and forwarded system calls are compared with (same nodes, same connection,
//! same framing, same run).

use kernel::prelude::*;
use kernel::time::Ktime;

use super::peer::Conn;
use super::Cluster;
use crate::kapi::errno;
use crate::proto::{Bench, MsgType, BENCH_HDR_LEN, MAX_PAYLOAD};
use crate::wait::{wait_until, WaitEnd};

/// How long one answer may take.
const ANSWER_MS: u32 = 30_000;

/// Answers an echo request with `len` payload bytes.
pub(super) fn echo(cl: &Cluster, conn: &Conn, len: usize) -> Result {
    let mut p = KVVec::new();
    p.extend_with(len.clamp(BENCH_HDR_LEN, MAX_PAYLOAD), 0u8, GFP_KERNEL)?;
    Bench {
        echo: false,
        echo_len: BENCH_HDR_LEN as u32,
    }
    .encode_header(&mut p);
    conn.send_parts(cl, MsgType::Bench, &[&p])
}

/// An answer arrived.
pub(super) fn answered(cl: &Cluster) {
    *cl.bench.lock() += 1;
    cl.bench_cv.notify_all();
}

/// Waits (at most [`ANSWER_MS`]) until the answer count passes `seen`.
fn wait_answer(cl: &Cluster, seen: u64) -> Result {
    wait_answers(cl, seen + 1)
}

/// Waits (at most [`ANSWER_MS`]) until `count` answers arrived in all.
fn wait_answers(cl: &Cluster, count: u64) -> Result {
    let mut g = cl.bench.lock();
    match wait_until(&cl.bench_cv, &mut g, ANSWER_MS, 100, |n| {
        (*n >= count).then_some(())
    }) {
        Ok(()) => Ok(()),
        Err(WaitEnd::TimedOut) => Err(errno::etimedout()),
        Err(WaitEnd::Signal) => Err(EINTR),
    }
}

/// Frames of a [`stream`] between two checkpoints (answered by the receiver): 16 frames, about
/// 1 MiB. The sender keeps at most two checkpoints unanswered, about 2 MiB in flight, like an
/// image stream's window ([`crate::proto::flow`]) and for the same reason: every send on a link
/// has a deadline, and a receiver that decrypts slower than the sender seals must not leave a
/// sender blocked on a full socket past it.
const CHECK_FRAMES: u64 = 16;

/// Sends `bytes` of payload to node `node` in frames of the largest size, every
/// [`CHECK_FRAMES`]th and the last asking for an answer, and returns the nanoseconds until the
/// last answer arrived. Errors: `EHOSTUNREACH`, `ETIMEDOUT`, `EINTR`, send errors.
pub(crate) fn stream(cl: &Cluster, node: u32, bytes: u64) -> Result<u64> {
    let mut p = KVVec::new();
    p.extend_with(MAX_PAYLOAD, 0u8, GFP_KERNEL)?;
    let seen = *cl.bench.lock();
    let t0 = Ktime::ktime_get();
    let mut left = bytes.max(BENCH_HDR_LEN as u64);
    let (mut frames, mut asked) = (0u64, 0u64);
    while left > 0 {
        let n = left.clamp(BENCH_HDR_LEN as u64, MAX_PAYLOAD as u64) as usize;
        left -= n as u64;
        frames += 1;
        let check = left == 0 || frames % CHECK_FRAMES == 0;
        Bench {
            echo: check,
            echo_len: BENCH_HDR_LEN as u32,
        }
        .encode_header(&mut p);
        cl.send_to(node, MsgType::Bench, &[&p[..n]])?;
        if check {
            asked += 1;
            if asked >= 2 {
                wait_answers(cl, seen + asked - 1)?;
            }
        }
    }
    wait_answers(cl, seen + asked)?;
    Ok(Ktime::ktime_get().to_ns().saturating_sub(t0.to_ns()) as u64)
}

/// `count` round trips to `node`: a request of `req` payload bytes answered with `reply` bytes;
/// returns the total nanoseconds.
pub(crate) fn ping_pong(
    cl: &Cluster,
    node: u32,
    count: u32,
    req: usize,
    reply: usize,
) -> Result<u64> {
    let mut p = KVVec::new();
    p.extend_with(req.clamp(BENCH_HDR_LEN, MAX_PAYLOAD), 0u8, GFP_KERNEL)?;
    Bench {
        echo: true,
        echo_len: reply.clamp(BENCH_HDR_LEN, MAX_PAYLOAD) as u32,
    }
    .encode_header(&mut p);
    let t0 = Ktime::ktime_get();
    for _ in 0..count {
        let seen = *cl.bench.lock();
        cl.send_to(node, MsgType::Bench, &[&p])?;
        wait_answer(cl, seen)?;
    }
    Ok(Ktime::ktime_get().to_ns().saturating_sub(t0.to_ns()) as u64)
}
