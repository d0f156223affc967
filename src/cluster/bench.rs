// SPDX-License-Identifier: GPL-2.0
//! Raw transfer measurements over the peer connections, for `make bench`: the baselines that
//! migration times and forwarded system calls are compared with (same nodes, same connection,
//! same framing, same run).

use kernel::prelude::*;
use kernel::time::{msecs_to_jiffies, Ktime};

use super::peer::Conn;
use super::Shared;
use crate::kapi::errno;
use crate::proto::{Bench, MsgType, BENCH_HDR_LEN, MAX_PAYLOAD};

/// How long one answer may take.
const ANSWER_MS: u32 = 30_000;

/// Answers an echo request with `len` payload bytes.
pub(super) fn echo(sh: &Shared, conn: &Conn, len: usize) -> Result {
    let mut p = KVVec::new();
    p.extend_with(len.clamp(BENCH_HDR_LEN, MAX_PAYLOAD), 0u8, GFP_KERNEL)?;
    Bench {
        echo: false,
        echo_len: BENCH_HDR_LEN as u32,
    }
    .encode_header(&mut p);
    conn.send_parts(sh, MsgType::Bench, &[&p])
}

/// An answer arrived.
pub(super) fn answered(sh: &Shared) {
    *sh.bench.lock() += 1;
    sh.bench_cv.notify_all();
}

fn wait_answer(sh: &Shared, seen: u64) -> Result {
    let mut g = sh.bench.lock();
    let start = crate::kapi::sys::monotonic_ms();
    while *g == seen {
        if crate::kapi::sys::monotonic_ms() - start > u64::from(ANSWER_MS) {
            return Err(errno::etimedout());
        }
        if let kernel::sync::CondVarTimeoutResult::Signal { .. } = sh
            .bench_cv
            .wait_interruptible_timeout(&mut g, msecs_to_jiffies(100))
        {
            return Err(EINTR);
        }
    }
    Ok(())
}

/// Sends `bytes` of payload to node `node` in frames of the largest size, the last asking for an
/// answer, and returns the nanoseconds until the answer arrived. Errors: `EHOSTUNREACH`,
/// `ETIMEDOUT`, `EINTR`, send errors.
pub(crate) fn stream(sh: &Shared, node: u32, bytes: u64) -> Result<u64> {
    let mut p = KVVec::new();
    p.extend_with(MAX_PAYLOAD, 0u8, GFP_KERNEL)?;
    let seen = *sh.bench.lock();
    let t0 = Ktime::ktime_get();
    let mut left = bytes.max(BENCH_HDR_LEN as u64);
    while left > 0 {
        let n = left.clamp(BENCH_HDR_LEN as u64, MAX_PAYLOAD as u64) as usize;
        left -= n as u64;
        Bench {
            echo: left == 0,
            echo_len: BENCH_HDR_LEN as u32,
        }
        .encode_header(&mut p);
        sh.send_to(node, MsgType::Bench, &[&p[..n]])?;
    }
    wait_answer(sh, seen)?;
    Ok(Ktime::ktime_get().to_ns().saturating_sub(t0.to_ns()) as u64)
}

/// `count` round trips to `node`: a request of `req` payload bytes answered with `reply` bytes;
/// returns the total nanoseconds.
pub(crate) fn ping_pong(
    sh: &Shared,
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
        let seen = *sh.bench.lock();
        sh.send_to(node, MsgType::Bench, &[&p])?;
        wait_answer(sh, seen)?;
    }
    Ok(Ktime::ktime_get().to_ns().saturating_sub(t0.to_ns()) as u64)
}
