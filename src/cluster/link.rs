// SPDX-License-Identifier: GPL-2.0
//! Exactly-once delivery of feature frames to one incarnation of a peer, over the successive
//! connections made with it: the numbering, acknowledgement and resending of
//! [`crate::proto::delivery`] under the module's locks.
//!
//! Lock order: `Link::rx` (held while a delivered frame is handled), then `Link::tx` (held while
//! a numbered frame is written), then the connection's own `tx`. The number taken last is an
//! atomic, so a sender never needs `rx`; acknowledgements arrive through an atomic too
//! (`acked_in`, folded into the ring by whoever holds `tx` next), so a receive thread never
//! waits for `tx`, which a process holds while its frame's socket write may block.

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex};

use super::peer::Conn;
use super::{Cluster, State};
use crate::counters;
use crate::kapi::task::{self, TaskRef};
use crate::kapi::{errno, sys};
use crate::proto::delivery::{self, Accept, Resend};
use crate::proto::MsgType;

/// Bytes of unacknowledged frames one peer incarnation may be owed (a fixed ring, allocated
/// with the link): image streams under flow control and forwarded calls stay far below it.
pub(super) const RING_BYTES: usize = 8 << 20;

/// Longest a process waits for room in a full ring while the peer is up, ms; it looks again
/// every [`RING_WAIT_SLICE_MS`].
const RING_WAIT_MS: u64 = 60_000;
const RING_WAIT_SLICE_MS: u32 = 10;

/// The delivery state shared by every connection with one incarnation of a peer.
#[pin_data]
pub(crate) struct Link {
    /// The peer's node id.
    pub(super) peer: u32,
    /// The peer's incarnation this state belongs to.
    pub(super) incarnation: u64,
    #[pin]
    tx: Mutex<LinkTx>,
    #[pin]
    rx: Mutex<LinkRx>,
    /// The highest number taken from the peer (what every frame sent acknowledges).
    done: AtomicU64,
    /// The highest acknowledgement written on any frame to the peer (numbers are consecutive:
    /// `done - acked_to` frames are owed one).
    acked_to: AtomicU64,
    /// Payload bytes taken since a frame last carried an acknowledgement (a heuristic bound).
    owed_bytes: AtomicUsize,
    /// The highest acknowledgement received from the peer, not yet folded into the ring.
    acked_in: AtomicU64,
    /// The highest number given to a frame (an acknowledgement above it is malformed).
    numbered: AtomicU64,
}

struct LinkTx {
    ring: Resend<KVVec<u8>>,
    /// The connection numbered frames go to (`None` between connections).
    conn: Option<Arc<Conn>>,
    /// While the frames held are being sent again on `conn`: the next number to send and where
    /// to look for it in the ring ([`Resend::find_from`]). New frames then wait in the ring.
    resend: Option<(u64, usize)>,
}

struct LinkRx {
    rx: delivery::RxDelivery,
}

/// What the receiver does with a numbered frame.
pub(super) enum Taken {
    /// Handled (by the closure given).
    Delivered,
    /// A copy of a frame taken before: dropped.
    Duplicate,
    /// Frames are missing: the connection must end.
    Gap,
}

impl Link {
    /// Delivery state for incarnation `incarnation` of a peer: nothing sent, nothing taken.
    /// Errors: `ENOMEM` (the ring is [`RING_BYTES`]).
    pub(super) fn new(peer: u32, incarnation: u64) -> Result<Arc<Link>> {
        let mut buf = KVVec::new();
        buf.extend_with(RING_BYTES, 0u8, GFP_KERNEL)?;
        let tx = LinkTx {
            ring: Resend::new(buf),
            conn: None,
            resend: None,
        };
        let rx = LinkRx {
            rx: delivery::RxDelivery::new(),
        };
        Arc::pin_init(
            pin_init!(Link {
                peer,
                incarnation,
                tx <- new_mutex!(tx, "oxmosix::link::tx"),
                rx <- new_mutex!(rx, "oxmosix::link::rx"),
                done: AtomicU64::new(0),
                acked_to: AtomicU64::new(0),
                owed_bytes: AtomicUsize::new(0),
                acked_in: AtomicU64::new(0),
                numbered: AtomicU64::new(0),
            }),
            GFP_KERNEL,
        )
    }

    /// The delivery state for incarnation `incarnation` of `peer`: the one its earlier connections
    /// used, or a new one (the peer is new, or came back as another incarnation). Errors: `ENOMEM`.
    pub(super) fn for_peer(cl: &Cluster, peer: u32, incarnation: u64) -> Result<Arc<Link>> {
        let known = |st: &mut State| {
            st.links
                .iter()
                .find(|l| l.peer == peer && l.incarnation == incarnation)
                .cloned()
        };
        if let Some(l) = cl.with_state(known) {
            return Ok(l);
        }
        let new = Link::new(peer, incarnation)?;
        cl.with_state(|st| {
            if let Some(l) = known(st) {
                return Ok(l);
            }
            match st.links.iter_mut().find(|l| l.peer == peer) {
                Some(slot) => *slot = new.clone(),
                None => st.links.push(new.clone(), GFP_KERNEL)?,
            }
            Ok(new)
        })
    }

    /// The acknowledgement every frame sent now carries.
    pub(super) fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// Numbers a feature frame, keeps a copy until the peer acknowledges it, and writes it to
    /// the current connection if there is one. `Ok` means the frame will be delivered exactly
    /// once if this incarnation of the peer is reached again: between connections, or when a
    /// write fails (that connection closes), the next connection carries it. When
    /// [`RING_BYTES`] are unacknowledged a process waits for room (the sender waits, not the
    /// link) while the peer is up, at most [`RING_WAIT_MS`] and until a fatal signal; a kernel
    /// thread (a receive thread) never waits. Errors: `ENOBUFS` when there is no room then.
    pub(super) fn send(&self, cl: &Cluster, t: MsgType, parts: &[&[u8]]) -> Result {
        let start = sys::monotonic_ms();
        let mut tx = self.tx.lock();
        let mut full = false;
        let n = loop {
            self.fold_acks(&mut tx);
            if let Ok(n) = tx.ring.push(t as u8, parts) {
                // Before the frame can reach the peer: its acknowledgement must be valid.
                self.numbered.store(n, Ordering::Release);
                break n;
            }
            if !full {
                counters::bump(&cl.stats.link.ring_full);
                full = true;
            }
            drop(tx);
            let may_wait = !TaskRef::current().is_kthread()
                && !task::current_fatal_signal_pending()
                && cl.node_up(self.peer)
                && sys::monotonic_ms().saturating_sub(start) < RING_WAIT_MS;
            if !may_wait {
                return Err(errno::enobufs());
            }
            sys::sleep_uninterruptible_ms(RING_WAIT_SLICE_MS);
            tx = self.tx.lock();
        };
        let conn = tx.conn.clone().filter(|c| c.alive());
        // Without a connection, or while older frames are being sent again, this one waits its
        // turn in the ring.
        if let (Some(conn), None) = (conn, tx.resend) {
            // A failed write closed the connection: the next one carries the frame.
            let _ = conn.write(cl, t, n, self.done(), parts);
        } else {
            counters::bump(&cl.stats.link.queued);
        }
        Ok(())
    }

    /// Makes `conn` (just established with this incarnation) the connection numbered frames go
    /// to; [`Link::resend`] then sends it every frame not acknowledged before any new one.
    pub(super) fn attach(&self, conn: &Arc<Conn>) {
        let mut tx = self.tx.lock();
        self.fold_acks(&mut tx);
        tx.conn = Some(conn.clone());
        tx.resend = (!tx.ring.is_empty()).then(|| (tx.ring.acked() + 1, 0));
    }

    /// Sends `conn` again, oldest first, every frame held when it was attached and every frame
    /// numbered since, until it caught up (then frames go out as they are numbered). The lock
    /// is dropped while each frame is written, so that the receive thread of this connection,
    /// started already, can hand frames to features that send. Errors: `ENOMEM`; a write that
    /// failed (the connection is closed; the next one starts again).
    pub(super) fn resend(&self, cl: &Cluster, conn: &Arc<Conn>) -> Result {
        let mut frame = KVVec::new();
        frame.extend_with(crate::proto::MAX_PAYLOAD, 0u8, GFP_KERNEL)?;
        let mut resent = 0u64;
        let r = loop {
            let (n, t, len) = {
                let mut tx = self.tx.lock();
                self.fold_acks(&mut tx);
                if !tx.conn.as_ref().is_some_and(|c| Arc::ptr_eq(c, conn)) {
                    break Ok(());
                }
                let Some((from, hint)) = tx.resend else {
                    break Ok(());
                };
                let Some((n, t, payload, next)) = tx.ring.find_from(from, hint) else {
                    tx.resend = None;
                    break Ok(());
                };
                let len = payload.len().min(frame.len());
                crate::proto::copy(&mut frame[..len], payload);
                tx.resend = Some((n + 1, next));
                (n, t, len)
            };
            let Ok(t) = MsgType::from_u8(t) else {
                break Err(EINVAL);
            };
            if let Err(e) = conn.write(cl, t, n, self.done(), &[&frame[..len]]) {
                break Err(e);
            }
            resent += 1;
        };
        counters::add(&cl.stats.link.resent, resent);
        if r.is_err() {
            let mut tx = self.tx.lock();
            if tx.conn.as_ref().is_some_and(|c| Arc::ptr_eq(c, conn)) {
                tx.resend = None;
            }
            drop(tx);
            conn.close();
        }
        r
    }

    /// `conn` ended: numbered frames no longer go to it (and it no longer holds this state).
    pub(super) fn detach(&self, conn: &Arc<Conn>) {
        let mut tx = self.tx.lock();
        if tx.conn.as_ref().is_some_and(|c| Arc::ptr_eq(c, conn)) {
            tx.conn = None;
        }
    }

    /// The peer took every frame up to `n` (noted without a lock: the ring drops those frames
    /// when it is next used). Errors: `EINVAL` for a number never sent.
    pub(super) fn acked(&self, n: u64) -> Result {
        if n > self.numbered.load(Ordering::Acquire) {
            return Err(EINVAL);
        }
        self.acked_in.fetch_max(n, Ordering::Relaxed);
        Ok(())
    }

    /// Drops from the ring the frames the peer acknowledged since (see [`Link::acked`]).
    fn fold_acks(&self, tx: &mut LinkTx) {
        let a = self.acked_in.load(Ordering::Relaxed);
        if a > tx.ring.acked() {
            // `a` was checked against the numbers given: it cannot be refused.
            let _ = tx.ring.ack(a);
        }
    }

    /// A frame numbered `n` with `bytes` of payload arrived: taken once and handled by `handle`
    /// (under this link's receive lock, so that the frames of an old and a new connection are
    /// handled one at a time, in order). Returns what happened and whether an acknowledgement
    /// is due now.
    pub(super) fn take(&self, n: u64, bytes: usize, handle: impl FnOnce()) -> (Taken, bool) {
        let mut rx = self.rx.lock();
        match rx.rx.accept(n) {
            Accept::Deliver => {
                let done = rx.rx.done();
                self.done.store(done, Ordering::Relaxed);
                let owed = done.saturating_sub(self.acked_to.load(Ordering::Relaxed));
                let owed_bytes = self.owed_bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
                handle();
                let due = delivery::should_ack(owed.min(u64::from(u32::MAX)) as u32, owed_bytes);
                (Taken::Delivered, due)
            }
            Accept::Duplicate => (Taken::Duplicate, false),
            Accept::Gap => (Taken::Gap, false),
        }
    }

    /// Whether frames were taken that no frame sent since acknowledged.
    pub(super) fn ack_owed(&self) -> bool {
        self.done() > self.acked_to.load(Ordering::Relaxed)
    }

    /// A frame carrying acknowledgement `ack` was written to the peer (any frame: replies,
    /// credits and pings acknowledge too, so explicit `Ack` frames are needed only when
    /// nothing else goes back).
    pub(super) fn wrote_ack(&self, ack: u64) {
        self.acked_to.fetch_max(ack, Ordering::Relaxed);
        self.owed_bytes.store(0, Ordering::Relaxed);
    }
}
