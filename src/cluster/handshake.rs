// SPDX-License-Identifier: GPL-2.0
//! The link handshake: mutual authentication with the cluster key and fresh nonces from both
//! sides, and the per-connection traffic keys (key schedule in [`crate::proto::handshake`], the
//! design in `Documentation/protocol.md`, "Handshake"). Three frames, all within one deadline:
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
use crate::proto::handshake::{self as hs, Prf, Schedule, KEY_LEN, MAC_LEN};
use crate::proto::{self, features, Header, Hello, Message, MsgType, ProtoError, HEADER_LEN};

/// Size of a Hello frame, bytes.
const HELLO_FRAME: usize = HEADER_LEN + proto::HELLO_LEN;
/// Size of a Finished frame, bytes.
const FINISHED_FRAME: usize = HEADER_LEN + MAC_LEN;

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
    /// The peer's Hello (its node id, map generation, incarnation).
    pub(super) hello: Hello,
    /// The traffic keys; `None` on a plaintext (bench) link.
    pub(super) keys: Option<LinkKeys>,
    /// Id of the cluster key the handshake proved.
    pub(super) key_id: [u8; hs::KEY_ID_LEN],
}

/// Why a handshake was refused, for the counters and the (rate-limited) log.
#[derive(Clone, Copy, Debug)]
enum Refusal {
    NoKey,
    UnknownKey,
    BadMac,
    PlaintextMismatch,
}

fn refuse(cl: &Cluster, ip: u32, why: Refusal) -> Error {
    let l = &cl.stats.link;
    counters::bump(match why {
        Refusal::NoKey => &l.no_key,
        Refusal::UnknownKey => &l.key_refused,
        Refusal::BadMac => &l.auth_failures,
        Refusal::PlaintextMismatch => &l.plaintext_mismatch,
    });
    if cl.refusals_logged.allow(sys::monotonic_ms()) {
        let text = match why {
            Refusal::NoKey => "this node has no cluster key (mosctl setkey)",
            Refusal::UnknownKey => "it uses another cluster key",
            Refusal::BadMac => "it failed authentication",
            Refusal::PlaintextMismatch => "only one side asked for a plaintext link",
        };
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

/// Reads one handshake frame of type `want` (sequence 0, addressed to `self_id`) into
/// `buf[..HEADER_LEN + len]`, giving up at `deadline` (`sys::monotonic_ms()`), however the peer
/// trickles its bytes. Errors: `ETIMEDOUT`, `EINVAL` (malformed, counted), socket errors.
fn read_frame<'b>(
    cl: &Cluster,
    sock: &TcpSocket,
    ip: u32,
    self_id: u32,
    want: MsgType,
    buf: &'b mut [u8],
    deadline: u64,
) -> Result<(Header, Message<'b>)> {
    let late = || kthread::should_stop() || sys::monotonic_ms() >= deadline;
    let h = loop {
        match recv_frame(sock, buf, late) {
            Ok(Some(h)) => break h,
            Ok(None) if late() => return Err(errno::etimedout()),
            Ok(None) => {}
            Err(RxError::Io(e)) if e == EINTR => return Err(errno::etimedout()),
            Err(RxError::Io(e)) => return Err(e),
            Err(RxError::Malformed(e)) => {
                malformed(cl, ip, e);
                return Err(EINVAL);
            }
        }
    };
    let end = HEADER_LEN + h.len as usize;
    let tag_clear = buf[proto::TAG_AT..HEADER_LEN].iter().all(|&b| b == 0);
    if h.mtype != want || h.dst != self_id || h.seq != 0 || !tag_clear {
        malformed(cl, ip, ProtoError::BadField("handshake"));
        return Err(EINVAL);
    }
    match Message::decode(&h, &buf[HEADER_LEN..end]) {
        Ok(m) => {
            cl.stats.received(want, end);
            Ok((h, m))
        }
        Err(e) => {
            malformed(cl, ip, e);
            Err(EINVAL)
        }
    }
}

/// Encodes a Hello frame from `self_id` to `peer` into `out`.
fn hello_frame(
    cl: &Cluster,
    self_id: u32,
    peer: u32,
    hello: &Hello,
    out: &mut [u8; HELLO_FRAME],
) -> Result {
    proto::encode_frame(MsgType::Hello, 0, self_id, peer, &hello.encode(), out)
        .map_err(|_| EINVAL)?;
    cl.stats.sent(MsgType::Hello, HELLO_FRAME);
    Ok(())
}

/// This node's Hello, with a fresh nonce, naming key `key_id`.
fn our_hello(
    cl: &Cluster,
    self_id: u32,
    generation: u32,
    plaintext: bool,
    key_id: [u8; hs::KEY_ID_LEN],
) -> Hello {
    let mut nonce = [0u8; hs::NONCE_LEN];
    crypto::random_bytes(&mut nonce);
    Hello {
        node: self_id,
        features: if plaintext { features::PLAINTEXT } else { 0 },
        map_generation: generation.into(),
        incarnation: cl.incarnation,
        key_id,
        nonce,
        mac: [0; MAC_LEN],
    }
}

/// The crypto library failed: no link (the caller counts a handshake failure).
fn crypto_failed(_: hs::CryptoError) -> Error {
    errno::enokey()
}

/// Opens a link on connected socket `s` to `peer` at `ip`, as the initiator. Errors:
/// `ETIMEDOUT` past `deadline`, `EACCES` (refused: no key, wrong key or MAC; counted), `EINVAL`
/// (malformed), socket errors.
pub(super) fn initiate(
    cl: &Cluster,
    s: &TcpSocket,
    ip: u32,
    peer: u32,
    buf: &mut [u8],
    deadline: u64,
) -> Result<Established> {
    let (self_id, generation, plaintext) =
        cl.with_state(|st| (st.self_id, st.generation, st.params.plaintext));
    let Some((mut psk, key_id)) = cl.keys.lock().current() else {
        return Err(refuse(cl, ip, Refusal::NoKey));
    };
    let r = initiate_with(
        cl,
        s,
        ip,
        peer,
        buf,
        deadline,
        (self_id, generation, plaintext),
        &psk,
        key_id,
    );
    hs::wipe(&mut psk);
    r
}

#[allow(clippy::too_many_arguments)]
fn initiate_with(
    cl: &Cluster,
    s: &TcpSocket,
    ip: u32,
    peer: u32,
    buf: &mut [u8],
    deadline: u64,
    (self_id, generation, plaintext): (u32, u32, bool),
    psk: &[u8; KEY_LEN],
    key_id: [u8; hs::KEY_ID_LEN],
) -> Result<Established> {
    let mut kdf = Kdf::new()?;
    let mut hello1 = [0u8; HELLO_FRAME];
    hello_frame(
        cl,
        self_id,
        peer,
        &our_hello(cl, self_id, generation, plaintext, key_id),
        &mut hello1,
    )?;
    s.send_all(&hello1)?;

    let (_, m) = read_frame(cl, s, ip, self_id, MsgType::Hello, buf, deadline)?;
    let Message::Hello(theirs) = m else {
        return Err(EINVAL);
    };
    if theirs.node != peer {
        malformed(cl, ip, ProtoError::BadNode(theirs.node));
        return Err(EINVAL);
    }
    if !hs::mac_eq_ids(&theirs.key_id, &key_id) {
        return Err(refuse(cl, ip, Refusal::UnknownKey));
    }
    let mut hello2 = [0u8; HELLO_FRAME];
    proto::copy(&mut hello2, &buf[..HELLO_FRAME]);
    let th2 = kdf
        .hash(&[&hello1, &hello2[..HELLO_FRAME - MAC_LEN]])
        .map_err(crypto_failed)?;
    let sched = Schedule::new(&mut kdf, psk, &th2).map_err(crypto_failed)?;
    let fin_r = sched
        .responder_finished(&mut kdf, &th2)
        .map_err(crypto_failed)?;
    if !hs::mac_eq(&fin_r, &theirs.mac) {
        return Err(refuse(cl, ip, Refusal::BadMac));
    }
    // Checked only now that the peer proved the key: a stranger learns nothing from it.
    if (theirs.features & features::PLAINTEXT != 0) != plaintext {
        return Err(refuse(cl, ip, Refusal::PlaintextMismatch));
    }
    let th3 = kdf.hash(&[&hello1, &hello2]).map_err(crypto_failed)?;
    let fin_i = sched
        .initiator_finished(&mut kdf, &th3)
        .map_err(crypto_failed)?;
    let mut fin = [0u8; FINISHED_FRAME];
    proto::encode_frame(MsgType::Finished, 0, self_id, peer, &fin_i, &mut fin)
        .map_err(|_| EINVAL)?;
    s.send_all(&fin)?;
    cl.stats.sent(MsgType::Finished, FINISHED_FRAME);
    let t = sched.traffic(&mut kdf, &th3).map_err(crypto_failed)?;
    Ok(Established {
        hello: theirs,
        keys: (!plaintext).then(|| LinkKeys {
            tx: t.i2r,
            rx: t.r2i,
        }),
        key_id,
    })
}

/// Answers a link opened on accepted socket `s` from `ip`, as the responder; `member` says
/// whether a node id may connect from `ip`. Errors as [`initiate`].
pub(super) fn respond(
    cl: &Cluster,
    s: &TcpSocket,
    ip: u32,
    buf: &mut [u8],
    deadline: u64,
    member: impl Fn(u32) -> bool,
) -> Result<Established> {
    let (self_id, generation, plaintext) =
        cl.with_state(|st| (st.self_id, st.generation, st.params.plaintext));
    if !cl.keys.lock().has_key() {
        return Err(refuse(cl, ip, Refusal::NoKey));
    }
    let (_, m) = read_frame(cl, s, ip, self_id, MsgType::Hello, buf, deadline)?;
    let Message::Hello(theirs) = m else {
        return Err(EINVAL);
    };
    let mut hello1 = [0u8; HELLO_FRAME];
    proto::copy(&mut hello1, &buf[..HELLO_FRAME]);
    if !member(theirs.node) {
        pr_warn!(
            "refused connection claiming node {}: not that node's address in the map\n",
            theirs.node
        );
        return Err(EINVAL);
    }
    let Some(mut psk) = cl.keys.lock().find(&theirs.key_id, sys::monotonic_ms()) else {
        return Err(refuse(cl, ip, Refusal::UnknownKey));
    };
    let r = respond_with(
        cl,
        s,
        ip,
        buf,
        deadline,
        (self_id, generation, plaintext),
        &psk,
        &theirs,
        &hello1,
    );
    hs::wipe(&mut psk);
    r
}

#[allow(clippy::too_many_arguments)]
fn respond_with(
    cl: &Cluster,
    s: &TcpSocket,
    ip: u32,
    buf: &mut [u8],
    deadline: u64,
    (self_id, generation, plaintext): (u32, u32, bool),
    psk: &[u8; KEY_LEN],
    theirs: &Hello,
    hello1: &[u8; HELLO_FRAME],
) -> Result<Established> {
    let mut kdf = Kdf::new()?;
    let peer = theirs.node;
    let mut ours = our_hello(cl, self_id, generation, plaintext, theirs.key_id);
    let mut hello2 = [0u8; HELLO_FRAME];
    proto::encode_frame(
        MsgType::Hello,
        0,
        self_id,
        peer,
        &ours.encode(),
        &mut hello2,
    )
    .map_err(|_| EINVAL)?;
    let th2 = kdf
        .hash(&[hello1, &hello2[..HELLO_FRAME - MAC_LEN]])
        .map_err(crypto_failed)?;
    let sched = Schedule::new(&mut kdf, psk, &th2).map_err(crypto_failed)?;
    ours.mac = sched
        .responder_finished(&mut kdf, &th2)
        .map_err(crypto_failed)?;
    hello_frame(cl, self_id, peer, &ours, &mut hello2)?;
    s.send_all(&hello2)?;

    let (_, m) = read_frame(cl, s, ip, self_id, MsgType::Finished, buf, deadline)?;
    let Message::Finished(fin_i) = m else {
        return Err(EINVAL);
    };
    let th3 = kdf.hash(&[hello1, &hello2]).map_err(crypto_failed)?;
    let want = sched
        .initiator_finished(&mut kdf, &th3)
        .map_err(crypto_failed)?;
    if !hs::mac_eq(&want, &fin_i) {
        return Err(refuse(cl, ip, Refusal::BadMac));
    }
    if (theirs.features & features::PLAINTEXT != 0) != plaintext {
        return Err(refuse(cl, ip, Refusal::PlaintextMismatch));
    }
    let t = sched.traffic(&mut kdf, &th3).map_err(crypto_failed)?;
    Ok(Established {
        hello: *theirs,
        keys: (!plaintext).then(|| LinkKeys {
            tx: t.r2i,
            rx: t.i2r,
        }),
        key_id: theirs.key_id,
    })
}
