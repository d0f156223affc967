// SPDX-License-Identifier: GPL-2.0
//! Peer connections: handshake, framing, the receive loop, connecting with backoff and reaping.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use kernel::prelude::*;
use kernel::sync::{Arc, Mutex};
use kernel::{c_str, new_mutex};

use super::gossip::GOSSIP_K;
use super::handshake::{self, LinkKeys};
use super::link::{Link, Taken};
use super::listen::HANDSHAKE_DEADLINE_MS;
use super::{Cluster, Doomed, BACKOFF_MAX_MS, BACKOFF_MIN_MS};
use crate::counters;
use crate::kapi::crypto::LibAead;
use crate::kapi::kthread::{self, KThread};
use crate::kapi::net::{self, TcpSocket};
use crate::kapi::sys;
use crate::load::vector;
use crate::proto::handshake::KEY_ID_LEN;
use crate::proto::session::{self, Opener, Sealer};
use crate::proto::{
    self, Header, LoadEntry, Message, MsgType, ProtoError, AUTH_TAG_LEN, HEADER_LEN,
};

/// Timeout of a blocked send, in ms (handshakes and established connections).
const HANDSHAKE_MS: u32 = 2000;
/// Receive timeout during a handshake: how often its deadline is looked at, ms.
const HANDSHAKE_POLL_MS: u32 = 250;
/// Receive timeout of an established connection: how often its thread checks for a stop.
const RX_POLL_MS: u32 = 200;
/// Connect timeout in ms.
const CONNECT_MS: u32 = 1000;
/// Receive buffer: the largest valid frame (the header check bounds every payload by it), plus
/// room for the tag behind the payload, where the AEAD wants it.
pub(super) const RX_BUF: usize = proto::MAX_FRAME + AUTH_TAG_LEN;

/// An established, handshaken connection with one peer.
#[pin_data]
pub(crate) struct Conn {
    /// The peer's node id.
    pub(crate) peer: u32,
    /// Node id of the side that opened the connection.
    initiator: u32,
    self_id: u32,
    sock: TcpSocket,
    /// The next frame's sequence number and, on a sealed link, the buffer a frame is sealed
    /// in; held while a frame is written so frames never interleave.
    #[pin]
    tx: Mutex<Tx>,
    /// The link's traffic keys; `None` on a plaintext (bench) link.
    keys: Option<LinkKeys>,
    /// Id of the cluster key its handshake proved: once that key is no longer accepted, the
    /// link is closed and made again with the current key.
    key_id: [u8; KEY_ID_LEN],
    /// The peer's incarnation, from its Hello.
    incarnation: u64,
    /// Delivery state of that incarnation (shared with the other connections made with it).
    pub(super) link: Arc<Link>,
    dead: AtomicBool,
    /// Round trip of a Ping answered by the peer's receive thread, µs, averaged (3/4 of the
    /// old value kept per sample); 0 until the first Pong.
    rtt_us: AtomicU64,
    /// `sys::monotonic_ms()` when the last authenticated frame arrived (or the link was made).
    last_rx_ms: AtomicU64,
}

/// The sending side of a connection.
struct Tx {
    /// Numbers and seals the frames.
    sealer: Sealer,
    /// A whole frame plus its tag (sealed links only; empty otherwise).
    buf: KVVec<u8>,
}

impl Conn {
    fn new(
        peer: u32,
        initiator: u32,
        self_id: u32,
        sock: TcpSocket,
        e: handshake::Established,
        link: Arc<Link>,
    ) -> Result<Arc<Conn>> {
        let (keys, key_id, incarnation) = (e.keys, e.key_id, e.incarnation);
        let mut buf = KVVec::new();
        if keys.is_some() {
            buf.extend_with(proto::MAX_FRAME + AUTH_TAG_LEN, 0u8, GFP_KERNEL)?;
        }
        let tx = Tx {
            sealer: Sealer::new(keys.as_ref().map(|k| k.tx)),
            buf,
        };
        Arc::pin_init(
            pin_init!(Conn { peer, initiator, self_id, sock, tx <- new_mutex!(tx, "oxmosix::conn::tx"), keys, key_id, incarnation, link, dead: AtomicBool::new(false), rtt_us: AtomicU64::new(0), last_rx_ms: AtomicU64::new(sys::monotonic_ms()) }),
            GFP_KERNEL,
        )
    }

    /// Whether the connection is still usable.
    pub(crate) fn alive(&self) -> bool {
        !self.dead.load(Ordering::Relaxed)
    }

    /// Whether an authenticated frame arrived from the peer within `ms` before `now_ms`.
    pub(crate) fn heard_within(&self, now_ms: u64, ms: u64) -> bool {
        now_ms.saturating_sub(self.last_rx_ms.load(Ordering::Relaxed)) <= ms
    }

    /// The averaged round trip to the peer, µs (0: not measured yet).
    pub(crate) fn rtt_us(&self) -> u64 {
        self.rtt_us.load(Ordering::Relaxed)
    }

    /// Sends a Ping carrying the send time; its Pong updates [`Conn::rtt_us`].
    pub(crate) fn ping(&self, cl: &Cluster) {
        let _ = self.send(cl, MsgType::Ping, &proto::encode_token(sys::monotonic_us()));
    }

    /// A Pong echoing `token` (a send time of [`Conn::ping`]) arrived now.
    fn pong(&self, token: u64) {
        let rtt = sys::monotonic_us().saturating_sub(token);
        // A token from the future or a minute old is not ours: ignored.
        if token == 0 || rtt == 0 || rtt > 60_000_000 {
            return;
        }
        let old = self.rtt_us.load(Ordering::Relaxed);
        let new = if old == 0 { rtt } else { (old * 3 + rtt) / 4 };
        self.rtt_us.store(new, Ordering::Relaxed);
    }

    /// Marks the connection dead and shuts the socket down (waking its receiver).
    pub(crate) fn close(&self) {
        self.dead.store(true, Ordering::Relaxed);
        self.sock.shutdown();
    }

    /// Sends one frame. A failed send closes the connection.
    pub(crate) fn send(&self, cl: &Cluster, t: MsgType, payload: &[u8]) -> Result {
        self.send_parts(cl, t, &[payload])
    }

    /// Sends one frame whose payload is the concatenation of `parts`. A feature's frame is
    /// numbered and delivered exactly once to this incarnation of the peer, over this
    /// connection or the next (see [`Link::send`]); the transport's own frames go on this
    /// connection only (a failed send closes it).
    pub(crate) fn send_parts(&self, cl: &Cluster, t: MsgType, parts: &[&[u8]]) -> Result {
        if super::is_feature_kind(t) {
            return self.link.send(cl, t, parts);
        }
        if !self.alive() {
            return Err(EPIPE);
        }
        self.write(cl, t, 0, self.link.done(), parts)
    }

    /// Writes one frame with delivery number `delivery` (0: none) acknowledging `ack`, its
    /// payload the concatenation of `parts` (no copy on a plaintext link). A failed write closes
    /// the connection.
    pub(super) fn write(
        &self,
        cl: &Cluster,
        t: MsgType,
        delivery: u64,
        ack: u64,
        parts: &[&[u8]],
    ) -> Result {
        if !self.alive() {
            return Err(EPIPE);
        }
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let (lo, hi) = t.payload_bounds();
        if len < lo || len > hi {
            return Err(EINVAL);
        }
        let mut tx = self.tx.lock();
        let Tx { sealer, buf } = &mut *tx;
        let h = proto::Header {
            mtype: t,
            len: len as u32,
            seq: sealer.next_seq(),
            src: self.self_id,
            dst: self.peer,
            delivery,
            ack,
        }
        .encode();
        let sent = if sealer.sealed() {
            // Header and payload into the frame buffer, sealed there in place.
            let (head, body) = buf.split_at_mut(HEADER_LEN);
            proto::copy(head, &h);
            let mut at = 0;
            for p in parts {
                proto::copy(&mut body[at..at + p.len()], p);
                at += p.len();
            }
            match sealer.seal(&mut LibAead, buf, len) {
                Ok(()) => self.sock.send_all(&buf[..HEADER_LEN + len]),
                Err(_) => Err(EINVAL),
            }
        } else {
            let mut all: [&[u8]; net::MAX_PARTS] = [&[]; net::MAX_PARTS];
            if parts.len() >= net::MAX_PARTS {
                return Err(EINVAL);
            }
            all[0] = &h;
            for (slot, p) in all[1..].iter_mut().zip(parts) {
                *slot = p;
            }
            let _ = sealer.seal(&mut LibAead, &mut [], len);
            self.sock.send_all_parts(&all[..=parts.len()])
        };
        if let Err(e) = sent {
            drop(tx);
            self.close();
            return Err(e);
        }
        cl.stats.sent(t, HEADER_LEN + len);
        self.link.wrote_ack(ack);
        Ok(())
    }

    /// Sends an Ack frame: the header acknowledges every frame taken from the peer so far.
    pub(crate) fn send_ack(&self, cl: &Cluster) {
        let _ = self.write(cl, MsgType::Ack, 0, self.link.done(), &[]);
    }

    /// Sends a Load message with `entries` (1..=MAX_LOAD_ENTRIES).
    pub(crate) fn send_load(&self, cl: &Cluster, entries: &[LoadEntry], reply: bool) -> Result {
        let mut p = KVec::new();
        p.extend_with(
            proto::LOAD_HDR_LEN + entries.len() * proto::LOAD_ENTRY_LEN,
            0u8,
            GFP_KERNEL,
        )?;
        let n = proto::encode_load(entries, reply, &mut p).map_err(|_| EINVAL)?;
        self.send(cl, MsgType::Load, &p[..n])
    }
}

/// Why receiving a frame failed.
pub(super) enum RxError {
    /// The socket failed or the peer closed it.
    Io(Error),
    /// The bytes broke the protocol.
    Malformed(ProtoError),
}

/// Receives one frame into `buf`: `Ok(None)` if nothing arrived within the receive timeout.
pub(super) fn recv_frame(
    sock: &TcpSocket,
    buf: &mut [u8],
    abort: impl Fn() -> bool + Copy,
) -> Result<Option<Header>, RxError> {
    let io = |e: Error| {
        if e == net::ebadmsg() {
            RxError::Malformed(ProtoError::Truncated)
        } else {
            RxError::Io(e)
        }
    };
    match sock.recv_exact(&mut buf[..HEADER_LEN], abort) {
        Ok(false) => return Ok(None),
        Ok(true) => {}
        Err(e) => return Err(io(e)),
    }
    let h = Header::decode(&buf[..HEADER_LEN]).map_err(RxError::Malformed)?;
    // `Header::decode` bounded `len` by the type's maximum, which fits in `buf`.
    let end = HEADER_LEN + h.len as usize;
    if end > buf.len() {
        return Err(RxError::Malformed(ProtoError::BadLength(h.len)));
    }
    loop {
        match sock.recv_exact(&mut buf[HEADER_LEN..end], abort) {
            Ok(true) => return Ok(Some(h)),
            // Timed out before the payload started: keep waiting for it (abort is checked).
            Ok(false) => continue,
            // The header promised a payload: ending the connection now truncates the frame.
            Err(e) if e == net::econnreset() || e == net::ebadmsg() => {
                return Err(RxError::Malformed(ProtoError::Truncated))
            }
            Err(e) => return Err(RxError::Io(e)),
        }
    }
}

/// Counts and logs a malformed frame from `who` (a node id or 0 while unknown).
pub(super) fn malformed(cl: &Cluster, ip: u32, e: ProtoError) {
    counters::bump(&cl.stats.link.malformed);
    if !cl.refusals_logged.allow(sys::monotonic_ms()) {
        return;
    }
    pr_warn!(
        "malformed frame from {}.{}.{}.{}: {:?}; closing the connection (more not logged for 5 s)\n",
        ip >> 24,
        (ip >> 16) & 255,
        (ip >> 8) & 255,
        ip & 255,
        e
    );
}

/// Handshakes connection `s` accepted from `ip` (on an `oxmosix-hs` thread) within `deadline`
/// (`sys::monotonic_ms()`). Errors: `ETIMEDOUT` past it, `EACCES` (refused: key, MAC), `EINVAL`
/// for a Hello that is not a member's from its own address, socket errors.
pub(super) fn accept_one(
    cl: &Arc<Cluster>,
    s: TcpSocket,
    ip: u32,
    buf: &mut [u8],
    deadline: u64,
) -> Result {
    s.set_timeouts(HANDSHAKE_POLL_MS, HANDSHAKE_MS);
    s.set_nodelay();
    let self_id = cl.with_state(|st| st.self_id);
    if self_id == 0 {
        return Err(EINVAL);
    }
    // The claimed id must be a peer of ours connecting from its own address.
    let member = |id: u32| cl.with_state(|st| st.peers.iter().any(|p| p.id == id && p.ip == ip));
    let e = handshake::respond(cl, &s, ip, buf, deadline, member)?;
    s.set_timeouts(RX_POLL_MS, HANDSHAKE_MS);
    let peer = e.peer;
    let link = Link::for_peer(cl, peer, e.incarnation)?;
    register(cl, Conn::new(peer, peer, self_id, s, e, link)?)
}

/// Connects to `peer` at `ip:port` and handshakes.
fn connect_one(cl: &Arc<Cluster>, peer: u32, ip: u32, port: u16, buf: &mut [u8]) -> Result {
    let self_id = cl.with_state(|st| st.self_id);
    let s = TcpSocket::connect(ip, port, CONNECT_MS)?;
    let deadline = sys::monotonic_ms() + HANDSHAKE_DEADLINE_MS;
    s.set_timeouts(HANDSHAKE_POLL_MS, HANDSHAKE_MS);
    s.set_nodelay();
    let e = handshake::initiate(cl, &s, ip, peer, buf, deadline)?;
    s.set_timeouts(RX_POLL_MS, HANDSHAKE_MS);
    let link = Link::for_peer(cl, peer, e.incarnation)?;
    register(cl, Conn::new(peer, self_id, self_id, s, e, link)?)
}

/// Installs a handshaken connection in the peer table and starts its receiver, applying the
/// one-connection-per-pair rule within one incarnation of the peer. A connection with a new
/// incarnation replaces any other (the old one's connection may look alive: its end was not
/// seen), and the features learn of the restart before its receiver starts.
fn register(cl: &Arc<Cluster>, conn: Arc<Conn>) -> Result {
    let peer = conn.peer;
    let mut restarted = false;
    let outcome = cl.with_state(|st| {
        let self_id = st.self_id;
        let Some(p) = st.peers.iter_mut().find(|p| p.id == peer) else {
            return Err(EINVAL);
        };
        p.refuse_if_cut()?;
        let mut old = None;
        if let Some(existing) = p.conn.as_ref().filter(|c| c.alive()) {
            let preferred = self_id.min(peer);
            if existing.incarnation == conn.incarnation
                && existing.initiator == preferred
                && conn.initiator != preferred
            {
                return Ok(None);
            }
        }
        restarted = p.incarnation != 0 && p.incarnation != conn.incarnation;
        p.incarnation = conn.incarnation;
        if let Some(c) = p.conn.take() {
            old = Some(Doomed {
                conn: c,
                thread: p.thread.take(),
            });
        }
        p.conn = Some(conn.clone());
        p.backoff_ms = BACKOFF_MIN_MS;
        if p.ever_connected {
            counters::bump(&cl.stats.link.reconnects);
        }
        p.ever_connected = true;
        counters::bump(&cl.stats.link.connects);
        Ok(Some(old))
    })?;
    let Some(old) = outcome else {
        counters::bump(&cl.stats.link.duplicates);
        let _ = conn.send(cl, MsgType::Bye, &proto::encode_bye(proto::bye::DUPLICATE));
        conn.close();
        return Ok(());
    };
    if let Some(d) = old {
        if restarted {
            d.close(None, cl);
        } else {
            counters::bump(&cl.stats.link.duplicates);
            d.close(Some(proto::bye::DUPLICATE), cl);
        }
    }
    if restarted {
        counters::bump(&cl.stats.link.restarts);
        pr_warn!(
            "node {} restarted (new incarnation): what depended on its old one ends\n",
            peer
        );
        cl.for_each_feature(|f| f.on_peer_restart(peer));
    }
    // Frames this incarnation was sent and did not acknowledge go first on this connection
    // (`Link::resend` below, once its receive thread runs: both sides may be sending again).
    conn.link.attach(&conn);
    let (cl2, c2) = (cl.clone(), conn.clone());
    let thread = KThread::spawn(c_str!("oxmosix-rx"), move || rx_loop(&cl2, &c2))?;
    let stray = cl.with_state(|st| match st.peers.iter_mut().find(|p| p.id == peer) {
        Some(p) if p.conn.as_ref().is_some_and(|c| Arc::ptr_eq(c, &conn)) => {
            p.thread = Some(thread);
            None
        }
        _ => Some(thread),
    });
    if stray.is_some() {
        conn.close();
        conn.link.detach(&conn);
        drop(stray);
        return Ok(());
    }
    pr_info!(
        "connected with node {} (opened by node {})\n",
        peer,
        conn.initiator
    );
    let _ = conn.link.resend(cl, &conn);
    // Exchange load information right away instead of waiting for the next gossip round.
    push_to(cl, &conn);
    Ok(())
}

/// Sends this node's own entry and the freshest others to `conn`'s peer (a gossip push).
fn push_to(cl: &Cluster, conn: &Conn) {
    let mut entries = [LoadEntry::default(); GOSSIP_K + 1];
    let now = sys::monotonic_ms();
    let n = cl.with_state(|st| {
        if st.params.flags & proto::flags::QUIET != 0 {
            return 0;
        }
        vector::freshest(&st.slots, st.self_id, conn.peer, now, &mut entries)
    });
    if n > 0 {
        let _ = conn.send_load(cl, &entries[..n], false);
    }
}

/// Body of `oxmosix-rx`: receive and handle frames until the connection ends or we stop.
fn rx_loop(cl: &Arc<Cluster>, conn: &Arc<Conn>) {
    let mut buf = KVVec::new();
    if buf.extend_with(RX_BUF, 0u8, GFP_KERNEL).is_err() {
        conn.close();
        return;
    }
    let ip = cl.with_state(|st| {
        st.peers
            .iter()
            .find(|p| p.id == conn.peer)
            .map_or(0, |p| p.ip)
    });
    let mut opener = Opener::new(conn.peer, conn.self_id, conn.keys.as_ref().map(|k| k.rx));
    let reason: &str = loop {
        if kthread::should_stop() || !conn.alive() {
            break "closed";
        }
        sys::cond_resched();
        let h = match recv_frame(&conn.sock, &mut buf, kthread::should_stop) {
            Ok(None) => continue,
            Ok(Some(h)) => h,
            Err(RxError::Io(_)) => break "connection lost",
            Err(RxError::Malformed(e)) => {
                malformed(cl, ip, e);
                break "malformed frame";
            }
        };
        match opener.open(&mut LibAead, &h, &mut buf) {
            Ok(()) => {}
            Err(session::RxError::Order) => {
                malformed(cl, ip, ProtoError::BadField("header src/dst/seq"));
                break "malformed frame";
            }
            Err(session::RxError::Malformed(e)) => {
                malformed(cl, ip, e);
                break "malformed frame";
            }
            Err(session::RxError::Auth) => {
                counters::bump(&cl.stats.link.frame_auth_failures);
                break "frame failed authentication";
            }
        }
        let end = HEADER_LEN + h.len as usize;
        conn.last_rx_ms
            .store(sys::monotonic_ms(), Ordering::Relaxed);
        cl.stats.received(h.mtype, end);
        let msg = match Message::decode(&h, &buf[HEADER_LEN..end]) {
            Ok(m) => m,
            Err(e) => {
                malformed(cl, ip, e);
                break "malformed frame";
            }
        };
        // Every frame acknowledges what the peer took; a number never sent is a lie.
        if conn.link.acked(h.ack).is_err() {
            malformed(cl, ip, ProtoError::BadField("header ack"));
            break "malformed frame";
        }
        // A feature's frames are numbered and taken once; the transport's are not numbered.
        if super::is_feature_kind(h.mtype) != (h.delivery != 0) {
            malformed(cl, ip, ProtoError::BadField("header delivery"));
            break "malformed frame";
        }
        if h.delivery == 0 {
            if let Err(why) = dispatch(cl, conn, ip, &msg) {
                break why;
            }
            continue;
        }
        let (taken, ack_due) = conn.link.take(h.delivery, h.len as usize, || {
            to_feature(cl, conn.peer, &msg)
        });
        match taken {
            Taken::Delivered => {}
            Taken::Duplicate => counters::bump(&cl.stats.link.delivery_duplicates),
            Taken::Gap => {
                counters::bump(&cl.stats.link.delivery_gaps);
                break "frames missing (sent again on the next connection)";
            }
        }
        if ack_due {
            conn.send_ack(cl);
        }
    };
    conn.close();
    if !cl.stopping() {
        pr_info!("connection with node {} ended: {}\n", conn.peer, reason);
    }
}

/// Handles one authenticated, decoded frame from `conn`'s peer. Errors: why the connection ends.
fn dispatch(
    cl: &Arc<Cluster>,
    conn: &Arc<Conn>,
    ip: u32,
    msg: &Message<'_>,
) -> Result<(), &'static str> {
    match msg {
        Message::Hello(_) | Message::Finished(_) => {
            malformed(
                cl,
                ip,
                ProtoError::BadField("handshake frame after handshake"),
            );
            return Err("malformed frame");
        }
        Message::Load(v) => super::gossip::handle_load(cl, conn, *v),
        Message::Ping(t) => {
            let _ = conn.send(cl, MsgType::Pong, &proto::encode_token(*t));
        }
        Message::Pong(t) => conn.pong(*t),
        Message::Ack => {}
        Message::Bench(b) => {
            if b.echo {
                let _ = super::bench::echo(cl, conn, b.echo_len as usize);
            } else {
                super::bench::answered(cl);
            }
        }
        Message::Bye(r) => {
            if *r == proto::bye::SHUTDOWN {
                cl.with_state(|st| {
                    if let Some(i) = vector::find(&st.slots, conn.peer) {
                        st.slots[i].up = false;
                    }
                });
                pr_info!("node {} down (its module is unloading)\n", conn.peer);
            }
            return Err("peer said bye");
        }
        // Feature frames are numbered: `rx_loop` hands them to `to_feature`.
        _ => {
            malformed(cl, ip, ProtoError::BadField("unnumbered feature frame"));
            return Err("malformed frame");
        }
    }
    Ok(())
}

/// Hands a feature's frame from node `from` to the feature that registered its kind.
fn to_feature(cl: &Cluster, from: u32, m: &Message<'_>) {
    match cl.feature_for(m.mtype()) {
        Some(f) => {
            if let Err(e) = f.on_message(from, m) {
                pr_warn!("{} message from node {} dropped: {:?}\n", f.name(), from, e);
            }
        }
        None => {
            pr_warn!(
                "{} frame from node {} dropped: no feature handles it\n",
                m.mtype().name(),
                from
            );
        }
    }
}

/// Periodic upkeep from the gossip thread: reap ended connections, connect to unconnected peers
/// whose backoff expired.
pub(super) fn maintain(cl: &Arc<Cluster>, now: u64) {
    // Reap, one at a time, outside the lock.
    loop {
        let dead = cl.with_state(|st| {
            st.peers.iter_mut().find_map(|p| match p.conn.as_ref() {
                Some(c) if !c.alive() => p.conn.take().map(|conn| Doomed {
                    conn,
                    thread: p.thread.take(),
                }),
                _ => None,
            })
        });
        match dead {
            Some(d) => d.close(None, cl),
            None => break,
        }
    }
    // Links made with a key that is no longer accepted (retired, or its rotation window ended)
    // are closed; they are made again below with the current key.
    let mut stale: KVec<Arc<Conn>> = KVec::new();
    cl.with_state(|st| {
        for c in st.peers.iter().filter_map(|p| p.conn.as_ref()) {
            if c.alive() && !cl.keys.lock().accepts(&c.key_id, now) {
                let _ = stale.push(c.clone(), GFP_ATOMIC);
            }
        }
    });
    for c in stale.iter() {
        counters::bump(&cl.stats.link.rekeyed);
        c.close();
    }
    // A node without a cluster key does not join (it said so when it loaded).
    if !cl.keys.lock().has_key() {
        return;
    }
    let mut buf = KVVec::new();
    if buf.extend_with(RX_BUF, 0u8, GFP_KERNEL).is_err() {
        return;
    }
    let mut after = 0u32;
    loop {
        // Next peer due for a connection attempt (ids ascending).
        let next = cl.with_state(|st| {
            let port = st.port;
            st.peers
                .iter()
                .find(|p| p.id > after && p.conn.is_none() && now >= p.next_try_ms)
                .map(|p| (p.id, p.ip, port))
        });
        let Some((id, ip, port)) = next else { break };
        after = id;
        if kthread::should_stop() || cl.stopping() {
            break;
        }
        if connect_one(cl, id, ip, port, &mut buf).is_err() {
            cl.with_state(|st| {
                if let Some(p) = st.peers.iter_mut().find(|p| p.id == id) {
                    if p.conn.is_none() {
                        p.next_try_ms = sys::monotonic_ms() + u64::from(p.backoff_ms);
                        p.backoff_ms = (p.backoff_ms * 2).min(BACKOFF_MAX_MS);
                    }
                }
            });
        }
    }
}
