// SPDX-License-Identifier: GPL-2.0
//! The link's state machines, pure: the two roles of the handshake ([`Initiator`], [`Responder`])
//! and the sealing and opening of every frame after it ([`Sealer`], [`Opener`]). The transport
//! (`src/cluster/handshake.rs`, `peer.rs`) only moves their bytes over a socket; the host fuzzes
//! them (`tests/fuzz`) with the RustCrypto crates standing in for the kernel's crypto.
//!
//! Frames are whole (header and payload, as received). A handshake frame must be of the expected
//! type, sequence 0, addressed to this node, with a zero tag. Sealed frames carry sequence numbers
//! 1, 2, ... per direction, the sequence number is the AEAD nonce and header bytes
//! `0..TAG_AT` are its associated data; the tag is header bytes `TAG_AT..HEADER_LEN`.

use super::handshake::{
    self as hs, CryptoError, Prf, Schedule, KEY_ID_LEN, KEY_LEN, MAC_LEN, NONCE_LEN,
};
use super::{
    features, Header, Hello, Message, MsgType, ProtoError, AUTH_TAG_LEN, HEADER_LEN, HELLO_LEN,
    TAG_AT,
};

/// Size of a Hello frame, bytes.
pub const HELLO_FRAME: usize = HEADER_LEN + HELLO_LEN;
/// Size of a Finished frame, bytes.
pub const FINISHED_FRAME: usize = HEADER_LEN + MAC_LEN;

/// ChaCha20-Poly1305 with a 64-bit nonce (RFC 8439 with the 96-bit nonce `0^32 || le64(n)`, as
/// the kernel's crypto library and WireGuard use it), as the caller's crypto library provides it.
pub trait Aead {
    /// Seals `buf[..len]` in place and writes the tag to `buf[len..len + 16]`.
    fn seal(
        &mut self,
        key: &[u8; KEY_LEN],
        nonce: u64,
        ad: &[u8],
        buf: &mut [u8],
        len: usize,
    ) -> Result<(), CryptoError>;
    /// Opens `buf[..len + 16]` in place; `false` if the tag does not match (then `buf[..len]` is
    /// unspecified).
    fn open(
        &mut self,
        key: &[u8; KEY_LEN],
        nonce: u64,
        ad: &[u8],
        buf: &mut [u8],
        len: usize,
    ) -> bool;
}

/// Why a handshake failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The frame broke the protocol.
    Malformed(ProtoError),
    /// The claimed node may not connect from where it connects.
    NotMember(u32),
    /// The Hello names a key this node does not accept.
    UnknownKey,
    /// The peer's Finished MAC is wrong: it does not hold the key, or replays a handshake.
    BadMac,
    /// One side asked for a plaintext link, the other not.
    PlaintextMismatch,
    /// The crypto library failed.
    Crypto,
}

impl From<CryptoError> for Refusal {
    fn from(_: CryptoError) -> Self {
        Refusal::Crypto
    }
}

impl From<ProtoError> for Refusal {
    fn from(e: ProtoError) -> Self {
        Refusal::Malformed(e)
    }
}

/// What this node says of itself in a handshake.
#[derive(Clone, Copy, Debug)]
pub struct Ours {
    /// This node's id.
    pub node: u32,
    /// Its map generation.
    pub generation: u64,
    /// Its incarnation.
    pub incarnation: u64,
    /// It asks for a plaintext link (bench only).
    pub plaintext: bool,
    /// A fresh random nonce for this connection.
    pub nonce: [u8; NONCE_LEN],
}

impl Ours {
    fn hello(&self, key_id: [u8; KEY_ID_LEN], mac: [u8; MAC_LEN]) -> Hello {
        Hello {
            node: self.node,
            features: if self.plaintext {
                features::PLAINTEXT
            } else {
                0
            },
            map_generation: self.generation,
            incarnation: self.incarnation,
            key_id,
            nonce: self.nonce,
            mac,
        }
    }
}

/// A completed handshake: the peer's Hello, the key id it proved, and the link's keys
/// (`None` on a plaintext link).
pub struct Link {
    /// The peer's Hello.
    pub hello: Hello,
    /// Id of the cluster key both proved.
    pub key_id: [u8; KEY_ID_LEN],
    /// `(tx, rx)` traffic keys of this side; `None` on a plaintext link.
    pub keys: Option<([u8; KEY_LEN], [u8; KEY_LEN])>,
}

/// Decodes handshake frame `frame` of type `want` addressed to `self_id`.
fn handshake_frame<'a>(
    frame: &'a [u8],
    want: MsgType,
    self_id: u32,
) -> Result<(Header, Message<'a>), ProtoError> {
    let h = Header::decode(frame)?;
    let end = HEADER_LEN + h.len as usize;
    if frame.len() != end {
        return Err(ProtoError::Truncated);
    }
    if h.mtype != want
        || h.dst != self_id
        || h.seq != 0
        || h.delivery != 0
        || h.ack != 0
        || frame[TAG_AT..HEADER_LEN].iter().any(|&b| b != 0)
    {
        return Err(ProtoError::BadField("handshake"));
    }
    Ok((h, Message::decode(&h, &frame[HEADER_LEN..end])?))
}

fn encode(
    mtype: MsgType,
    src: u32,
    dst: u32,
    payload: &[u8],
    out: &mut [u8],
) -> Result<(), Refusal> {
    super::encode_frame(mtype, 0, src, dst, payload, out)?;
    Ok(())
}

/// The opener of a link, after it sent its Hello.
pub struct Initiator {
    ours: Ours,
    peer: u32,
    psk: [u8; KEY_LEN],
    key_id: [u8; KEY_ID_LEN],
    hello1: [u8; HELLO_FRAME],
}

impl Drop for Initiator {
    fn drop(&mut self) {
        hs::wipe(&mut self.psk);
    }
}

impl Initiator {
    /// Starts a handshake with node `peer` under key `psk` (id `key_id`); returns the state and
    /// the Hello frame to send.
    pub fn start(
        ours: Ours,
        peer: u32,
        psk: &[u8; KEY_LEN],
        key_id: [u8; KEY_ID_LEN],
    ) -> Result<(Self, [u8; HELLO_FRAME]), Refusal> {
        let mut hello1 = [0u8; HELLO_FRAME];
        encode(
            MsgType::Hello,
            ours.node,
            peer,
            &ours.hello(key_id, [0; MAC_LEN]).encode(),
            &mut hello1,
        )?;
        Ok((
            Initiator {
                ours,
                peer,
                psk: *psk,
                key_id,
                hello1,
            },
            hello1,
        ))
    }

    /// The responder's Hello arrived: checks it and its MAC; returns the link and the Finished
    /// frame to send.
    pub fn on_hello<P: Prf>(
        self,
        p: &mut P,
        frame: &[u8],
    ) -> Result<(Link, [u8; FINISHED_FRAME]), Refusal> {
        let (_, m) = handshake_frame(frame, MsgType::Hello, self.ours.node)?;
        let Message::Hello(theirs) = m else {
            return Err(Refusal::Malformed(ProtoError::BadField("handshake")));
        };
        if theirs.node != self.peer {
            return Err(Refusal::Malformed(ProtoError::BadNode(theirs.node)));
        }
        if !hs::ct_eq(&theirs.key_id, &self.key_id) {
            return Err(Refusal::UnknownKey);
        }
        let th2 = p.hash(&[&self.hello1, &frame[..HELLO_FRAME - MAC_LEN]])?;
        let sched = Schedule::new(p, &self.psk, &th2)?;
        if !hs::mac_eq(&sched.responder_finished(p, &th2)?, &theirs.mac) {
            return Err(Refusal::BadMac);
        }
        // Compared only once the peer proved the key: a stranger learns nothing from it.
        if (theirs.features & features::PLAINTEXT != 0) != self.ours.plaintext {
            return Err(Refusal::PlaintextMismatch);
        }
        let th3 = p.hash(&[&self.hello1, frame])?;
        let mut fin = [0u8; FINISHED_FRAME];
        encode(
            MsgType::Finished,
            self.ours.node,
            self.peer,
            &sched.initiator_finished(p, &th3)?,
            &mut fin,
        )?;
        let t = sched.traffic(p, &th3)?;
        let link = Link {
            hello: theirs,
            key_id: self.key_id,
            keys: (!self.ours.plaintext).then_some((t.i2r, t.r2i)),
        };
        Ok((link, fin))
    }
}

/// The acceptor of a link, after it answered the opener's Hello.
pub struct Responder {
    ours: Ours,
    theirs: Hello,
    sched: Schedule,
    hello1: [u8; HELLO_FRAME],
    hello2: [u8; HELLO_FRAME],
}

impl Responder {
    /// The opener's Hello `frame` arrived. `accept(hello)` says which key to use: the psk of the
    /// key the Hello names, or why not (the claimed node is not a member at the connection's
    /// address, or the key is unknown). Returns the state and the Hello frame to answer with.
    pub fn on_hello<P: Prf>(
        p: &mut P,
        ours: Ours,
        frame: &[u8],
        accept: impl FnOnce(&Hello) -> Result<[u8; KEY_LEN], Refusal>,
    ) -> Result<(Self, [u8; HELLO_FRAME]), Refusal> {
        let (_, m) = handshake_frame(frame, MsgType::Hello, ours.node)?;
        let Message::Hello(theirs) = m else {
            return Err(Refusal::Malformed(ProtoError::BadField("handshake")));
        };
        let mut psk = accept(&theirs)?;
        let mut hello1 = [0u8; HELLO_FRAME];
        super::copy(&mut hello1, frame);
        let mut hello2 = [0u8; HELLO_FRAME];
        encode(
            MsgType::Hello,
            ours.node,
            theirs.node,
            &ours.hello(theirs.key_id, [0; MAC_LEN]).encode(),
            &mut hello2,
        )?;
        let r = (|| {
            let th2 = p.hash(&[&hello1, &hello2[..HELLO_FRAME - MAC_LEN]])?;
            let sched = Schedule::new(p, &psk, &th2)?;
            let mac = sched.responder_finished(p, &th2)?;
            Ok::<_, CryptoError>((sched, mac))
        })();
        hs::wipe(&mut psk);
        let (sched, mac) = r?;
        super::copy(&mut hello2[HELLO_FRAME - MAC_LEN..], &mac);
        Ok((
            Responder {
                ours,
                theirs,
                sched,
                hello1,
                hello2,
            },
            hello2,
        ))
    }

    /// The opener's Finished `frame` arrived: checks its MAC; returns the link.
    pub fn on_finished<P: Prf>(self, p: &mut P, frame: &[u8]) -> Result<Link, Refusal> {
        let (_, m) = handshake_frame(frame, MsgType::Finished, self.ours.node)?;
        let Message::Finished(fin) = m else {
            return Err(Refusal::Malformed(ProtoError::BadField("handshake")));
        };
        let th3 = p.hash(&[&self.hello1, &self.hello2])?;
        if !hs::mac_eq(&self.sched.initiator_finished(p, &th3)?, &fin) {
            return Err(Refusal::BadMac);
        }
        if (self.theirs.features & features::PLAINTEXT != 0) != self.ours.plaintext {
            return Err(Refusal::PlaintextMismatch);
        }
        let t = self.sched.traffic(p, &th3)?;
        Ok(Link {
            hello: self.theirs,
            key_id: self.theirs.key_id,
            keys: (!self.ours.plaintext).then_some((t.r2i, t.i2r)),
        })
    }
}

/// Why a received frame was refused after the handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RxError {
    /// The header (or, after opening, the payload) broke the protocol.
    Malformed(ProtoError),
    /// Not from the peer, not to us, or not the next sequence number.
    Order,
    /// The tag did not verify (or is not zero on a plaintext link).
    Auth,
}

/// The receiving side of an established link: checks each frame's header, sequence number and
/// tag, and opens it in place.
pub struct Opener {
    peer: u32,
    self_id: u32,
    key: Option<[u8; KEY_LEN]>,
    next: u64,
}

impl Drop for Opener {
    fn drop(&mut self) {
        if let Some(k) = self.key.as_mut() {
            hs::wipe(k);
        }
    }
}

impl Opener {
    /// The receiving side of a link from `peer` to `self_id`, with its rx key (`None`: plaintext).
    pub fn new(peer: u32, self_id: u32, key: Option<[u8; KEY_LEN]>) -> Self {
        Opener {
            peer,
            self_id,
            key,
            next: 1,
        }
    }

    /// Checks header `h` (already decoded from `buf`) and opens the frame in `buf`, which holds
    /// the whole frame and at least [`AUTH_TAG_LEN`] more bytes; on success `buf[HEADER_LEN..][..h.len]`
    /// is the plaintext payload.
    pub fn open<A: Aead>(&mut self, a: &mut A, h: &Header, buf: &mut [u8]) -> Result<(), RxError> {
        if h.src != self.peer || h.dst != self.self_id || h.seq != self.next {
            return Err(RxError::Order);
        }
        let len = h.len as usize;
        if buf.len() < HEADER_LEN + len + AUTH_TAG_LEN {
            return Err(RxError::Malformed(ProtoError::Truncated));
        }
        let (head, body) = buf.split_at_mut(HEADER_LEN);
        match &self.key {
            None if head[TAG_AT..].iter().any(|&b| b != 0) => return Err(RxError::Auth),
            None => {}
            Some(k) => {
                super::copy(&mut body[len..len + AUTH_TAG_LEN], &head[TAG_AT..]);
                if !a.open(k, self.next, &head[..TAG_AT], body, len) {
                    return Err(RxError::Auth);
                }
            }
        }
        self.next += 1;
        Ok(())
    }
}

/// The sending side of an established link: numbers and seals each frame.
pub struct Sealer {
    key: Option<[u8; KEY_LEN]>,
    next: u64,
}

impl Drop for Sealer {
    fn drop(&mut self) {
        if let Some(k) = self.key.as_mut() {
            hs::wipe(k);
        }
    }
}

impl Sealer {
    /// The sending side of a link with its tx key (`None`: plaintext).
    pub fn new(key: Option<[u8; KEY_LEN]>) -> Self {
        Sealer { key, next: 1 }
    }

    /// Whether frames are sealed (else sent as they are, tag zero).
    pub fn sealed(&self) -> bool {
        self.key.is_some()
    }

    /// The sequence number of the next frame.
    pub fn next_seq(&self) -> u64 {
        self.next
    }

    /// Seals the frame in `buf` (header with this sequence number, then `len` payload bytes,
    /// then room for the tag) in place, tag into the header; on a plaintext link nothing
    /// changes. Counts the frame either way: call it once per frame sent.
    pub fn seal<A: Aead>(
        &mut self,
        a: &mut A,
        buf: &mut [u8],
        len: usize,
    ) -> Result<(), CryptoError> {
        if let Some(k) = &self.key {
            if buf.len() < HEADER_LEN + len + AUTH_TAG_LEN {
                return Err(CryptoError);
            }
            let (head, body) = buf.split_at_mut(HEADER_LEN);
            a.seal(k, self.next, &head[..TAG_AT], body, len)?;
            super::copy(&mut head[TAG_AT..], &body[len..len + AUTH_TAG_LEN]);
        }
        self.next += 1;
        Ok(())
    }
}
