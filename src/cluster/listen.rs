// SPDX-License-Identifier: GPL-2.0
//! The listener: `oxmosix-listen` only accepts connections and queues them; the `oxmosix-hs`
//! threads run their handshakes, each within an absolute deadline counted from the accept. So a
//! connection that sends one byte and waits, or a flood of them, holds at most a queue slot for
//! [`HANDSHAKE_DEADLINE_MS`], and a real peer still gets in: the queue has [`MAX_PENDING`] slots,
//! at most [`PER_SOURCE`] per source address, and a connection that finds no slot is closed at
//! once (counted as `handshake_refused`).

use kernel::prelude::*;
use kernel::sync::Arc;

use super::peer::{self, RX_BUF};
use super::Cluster;
use crate::counters;
use crate::kapi::errno;
use crate::kapi::kthread;
use crate::kapi::net::TcpSocket;
use crate::kapi::sys;
use crate::wait::wait_until;

/// Handshake threads per listener.
pub(super) const HANDSHAKERS: usize = 2;
/// Accepted connections waiting for (or in) their handshake, at most.
pub(super) const MAX_PENDING: usize = 16;
/// Of those, at most this many from one source address.
const PER_SOURCE: usize = 2;
/// Time from the accept (or the connect) until the peer's Hello must be complete, ms.
pub(super) const HANDSHAKE_DEADLINE_MS: u64 = 3000;
/// How long a handshake thread sleeps before it looks for a stop request, ms.
const IDLE_MS: u32 = 200;

/// An accepted connection waiting for its handshake.
pub(super) struct Pending {
    sock: TcpSocket,
    /// Source address, host order.
    ip: u32,
    /// `sys::monotonic_ms()` at the accept.
    accepted_ms: u64,
}

/// The empty queue of [`Cluster::pending`].
pub(super) fn no_pending() -> [Option<Pending>; MAX_PENDING] {
    core::array::from_fn(|_| None)
}

/// Body of `oxmosix-listen`: accept connections and queue them for a handshake thread.
pub(super) fn listen_loop(cl: &Arc<Cluster>, sock: &TcpSocket) {
    while !kthread::should_stop() && !cl.stopping() {
        match sock.accept() {
            Ok(None) => {}
            Ok(Some((s, ip))) => {
                counters::bump(&cl.stats.link.accepts);
                // A cut link (fault injection) refuses before the handshake: the other side
                // must not hold a connection even for a moment.
                if !cl.cut_from(ip) {
                    queue(cl, s, ip);
                }
            }
            Err(_) => sys::sleep_interruptible_ms(100),
        }
    }
}

/// Queues accepted connection `sock` from `ip`, or closes it (queue full, or its source has
/// [`PER_SOURCE`] connections queued already).
fn queue(cl: &Cluster, sock: TcpSocket, ip: u32) {
    let mut q = cl.pending.lock();
    let from_ip = q.iter().flatten().filter(|p| p.ip == ip).count();
    let free = q.iter_mut().find(|s| s.is_none());
    match free {
        Some(slot) if from_ip < PER_SOURCE => {
            *slot = Some(Pending {
                sock,
                ip,
                accepted_ms: sys::monotonic_ms(),
            });
            drop(q);
            cl.pending_cv.notify_one();
        }
        _ => {
            drop(q);
            // Dropping the socket closes it: the stranger gets no answer.
            drop(sock);
            counters::bump(&cl.stats.link.handshake_refused);
        }
    }
}

/// Body of each `oxmosix-hs` thread: take the oldest queued connection and handshake it.
pub(super) fn handshake_loop(cl: &Arc<Cluster>) {
    let mut buf = KVVec::new();
    if buf.extend_with(RX_BUF, 0u8, GFP_KERNEL).is_err() {
        pr_err!("handshake thread out of memory\n");
        return;
    }
    while !kthread::should_stop() && !cl.stopping() {
        let next = {
            let mut q = cl.pending.lock();
            wait_until(&cl.pending_cv, &mut q, IDLE_MS, 0, |q| {
                let oldest = q
                    .iter_mut()
                    .filter(|s| s.is_some())
                    .min_by_key(|s| s.as_ref().map_or(u64::MAX, |p| p.accepted_ms))?;
                oldest.take()
            })
        };
        let Ok(p) = next else { continue };
        let deadline = p.accepted_ms + HANDSHAKE_DEADLINE_MS;
        if let Err(e) = peer::accept_one(cl, p.sock, p.ip, &mut buf, deadline) {
            counters::bump(&cl.stats.link.handshake_failures);
            if e == errno::etimedout() {
                counters::bump(&cl.stats.link.handshake_timeouts);
            }
        }
    }
}

/// Closes every queued connection (the listener stopped).
pub(super) fn drop_pending(cl: &Cluster) {
    let drained = core::mem::replace(&mut *cl.pending.lock(), no_pending());
    drop(drained);
}
