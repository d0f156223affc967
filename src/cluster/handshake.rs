// SPDX-License-Identifier: GPL-2.0
//! The link handshake over a socket: mutual authentication with the cluster key and fresh nonces
//! from both sides, and the per-connection traffic keys. The state machines are pure
//! ([`crate::proto::session`], key schedule in [`crate::proto::handshake`], the design in
//! `Documentation/protocol.md`, "Handshake and keys"); this file moves their frames within one
//! deadline and counts what fails. Three frames:
//! the initiator's Hello, the responder's Hello with its Finished MAC, the initiator's Finished.
//! A side that fails anything closes the connection without another word (counted, logged at
//! most every few seconds).

use kernel::prelude::*;

use super::peer::{malformed, recv_frame, RxError};
use super::Cluster;
use crate::counters;
use crate::kapi::crypto::{self, Kdf};
use crate::kapi::errno;
use crate::kapi::kthread;
use crate::kapi::net::TcpSocket;
use crate::kapi::sys;
use crate::proto::handshake::{self as hs, KEY_ID_LEN, KEY_LEN};
use crate::proto::session::{self, Initiator, Ours, Refusal, Responder, HELLO_FRAME};
use crate::proto::{Header, MsgType, HEADER_LEN};

/// The per-direction keys of an authenticated link; wiped on drop.
pub(crate) struct LinkKeys {
    /// Seals the frames this node sends.
    pub(crate) tx: [u8; KEY_LEN],
    /// Opens the frames the peer sends.
    pub(crate) rx: [u8; KEY_LEN],
}

impl Drop for LinkKeys {
    fn drop(&mut self) {
        hs::wipe(&mut self.tx);
        hs::wipe(&mut self.rx);
    }
}

/// A completed handshake.
pub(super) struct Established {
    /// The peer's node id.
    pub(super) peer: u32,
    /// The traffic keys; `None` on a plaintext (bench) link.
    pub(super) keys: Option<LinkKeys>,
    /// Id of the cluster key the handshake proved.
    pub(super) key_id: [u8; KEY_ID_LEN],
    /// The peer's incarnation (random at each load of its module), from its Hello.
    pub(super) incarnation: u64,
}

impl From<session::Link> for Established {
    fn from(l: session::Link) -> Self {
        Established {
            peer: l.hello.node,
            keys: l.keys.map(|(tx, rx)| LinkKeys { tx, rx }),
            key_id: l.key_id,
            incarnation: l.hello.incarnation,
        }
    }
}

/// Counts and logs (at most every 5 s) a refused handshake with `ip`; the error for the caller.
fn refuse(cl: &Cluster, ip: u32, why: Refusal) -> Error {
    let l = &cl.stats.link;
    let (counter, text) = match why {
        Refusal::Malformed(e) => {
            malformed(cl, ip, e);
            return EINVAL;
        }
        Refusal::NotMember(node) => {
            counters::bump(&l.not_member);
            if cl.refusals_logged.allow(sys::monotonic_ms()) {
                pr_warn!(
                    "refused connection claiming node {}: not that node's address in the map\n",
                    node
                );
            }
            return EINVAL;
        }
        Refusal::Crypto => return errno::enokey(),
        Refusal::UnknownKey => (&l.key_refused, "it uses another cluster key"),
        Refusal::BadMac => (&l.auth_failures, "it failed authentication"),
        Refusal::PlaintextMismatch => (
            &l.plaintext_mismatch,
            "only one side asked for a plaintext link",
        ),
    };
    counters::bump(counter);
    if cl.refusals_logged.allow(sys::monotonic_ms()) {
        pr_warn!(
            "refused link with {}.{}.{}.{}: {} (counted in /proc/hpc/info/counters; more not logged for 5 s)\n",
            ip >> 24,
            (ip >> 16) & 255,
            (ip >> 8) & 255,
            ip & 255,
            text
        );
    }
    EACCES
}

/// A node without a key takes part in no handshake.
fn no_key(cl: &Cluster) -> Error {
    counters::bump(&cl.stats.link.no_key);
    EACCES
}

/// Reads one frame into `buf` (its header decoded and its length bounded first), giving up at
/// `deadline` (`sys::monotonic_ms()`), however the peer trickles its bytes; returns its length.
/// Errors: `ETIMEDOUT`, `EINVAL` (malformed, counted), socket errors.
fn read_frame(
    cl: &Cluster,
    sock: &TcpSocket,
    ip: u32,
    buf: &mut [u8],
    deadline: u64,
) -> Result<usize> {
    let late = || kthread::should_stop() || sys::monotonic_ms() >= deadline;
    let h: Header = loop {
        match recv_frame(sock, buf, late) {
            Ok(Some(h)) => break h,
            Ok(None) if late() => return Err(errno::etimedout()),
            Ok(None) => {}
            Err(RxError::Io(e)) if e == EINTR => return Err(errno::etimedout()),
            Err(RxError::Io(e)) => return Err(e),
            Err(RxError::Malformed(e)) => return Err(refuse(cl, ip, Refusal::Malformed(e))),
        }
    };
    let end = HEADER_LEN + h.len as usize;
    cl.stats.received(h.mtype, end);
    Ok(end)
}

/// This node's side of a handshake, with a fresh nonce.
fn ours(cl: &Cluster) -> Ours {
    let (node, generation, plaintext) =
        cl.with_state(|st| (st.self_id, st.generation, st.params.plaintext));
    let mut nonce = [0u8; hs::NONCE_LEN];
    crypto::random_bytes(&mut nonce);
    Ours {
        node,
        generation: generation.into(),
        incarnation: cl.incarnation,
        plaintext,
        nonce,
    }
}

/// Opens a link on connected socket `s` to `peer` at `ip`, as the initiator. Errors:
/// `ETIMEDOUT` past `deadline`, `EACCES` (refused: no key, wrong key or MAC; counted), `EINVAL`
/// (malformed), `ENOKEY` (crypto unavailable), socket errors.
pub(super) fn initiate(
    cl: &Cluster,
    s: &TcpSocket,
    ip: u32,
    peer: u32,
    buf: &mut [u8],
    deadline: u64,
) -> Result<Established> {
    let Some((mut psk, key_id)) = cl.keys.lock().current() else {
        return Err(no_key(cl));
    };
    let started = Initiator::start(ours(cl), peer, &psk, key_id);
    hs::wipe(&mut psk);
    let (state, hello1) = started.map_err(|w| refuse(cl, ip, w))?;
    let mut kdf = Kdf::new()?;
    s.send_all(&hello1)?;
    cl.stats.sent(MsgType::Hello, HELLO_FRAME);
    let n = read_frame(cl, s, ip, buf, deadline)?;
    let (link, fin) = state
        .on_hello(&mut kdf, &buf[..n])
        .map_err(|w| refuse(cl, ip, w))?;
    s.send_all(&fin)?;
    cl.stats.sent(MsgType::Finished, fin.len());
    Ok(link.into())
}

/// Answers a link opened on accepted socket `s` from `ip`, as the responder; `member(node)` says
/// whether `node` may connect from `ip`. Errors as [`initiate`].
pub(super) fn respond(
    cl: &Cluster,
    s: &TcpSocket,
    ip: u32,
    buf: &mut [u8],
    deadline: u64,
    member: impl Fn(u32) -> bool,
) -> Result<Established> {
    if !cl.keys.lock().has_key() {
        return Err(no_key(cl));
    }
    let mut kdf = Kdf::new()?;
    let n = read_frame(cl, s, ip, buf, deadline)?;
    let accept = |h: &crate::proto::Hello| {
        if !member(h.node) {
            return Err(Refusal::NotMember(h.node));
        }
        cl.keys
            .lock()
            .find(&h.key_id, sys::monotonic_ms())
            .ok_or(Refusal::UnknownKey)
    };
    let (state, hello2) = Responder::on_hello(&mut kdf, ours(cl), &buf[..n], accept)
        .map_err(|w| refuse(cl, ip, w))?;
    s.send_all(&hello2)?;
    cl.stats.sent(MsgType::Hello, HELLO_FRAME);
    let n = read_frame(cl, s, ip, buf, deadline)?;
    let link = state
        .on_finished(&mut kdf, &buf[..n])
        .map_err(|w| refuse(cl, ip, w))?;
    Ok(link.into())
}
