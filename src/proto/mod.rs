// SPDX-License-Identifier: GPL-2.0
//! The oxmosix wire protocol, version 8: framing and messages between the nodes of a cluster.
//!
//! Pure `core` Rust: no kernel types, no allocation, no `unsafe`. The module uses it for every byte
//! that crosses the network; the host tests (`tests/host`) property-test and fuzz it. The byte-level
//! specification is `Documentation/protocol.md`.
//!
//! A frame is a fixed [`HEADER_LEN`]-byte header followed by `length` payload bytes. All integers are
//! big-endian (network order). Decoding never trusts a length: the header is validated (magic,
//! version, type, flags, reserved fields, node ids, payload length against the type's bounds and the
//! hard [`MAX_PAYLOAD`] limit) before a single payload byte is read, and every payload field is
//! range-checked. Any violation is a [`ProtoError`]; the transport then closes that connection.

// Shared with the host tests: some items are used only on one side.
#![allow(dead_code, unreachable_pub)]

pub mod control;
pub mod cputime;
pub mod delivery;
pub mod files;
pub mod flow;
pub mod handshake;
mod load;
pub mod mig;
pub mod readahead;
pub mod restart;
pub mod session;
pub mod signal;
pub mod status;

pub use load::*;

/// `"OXMX"`: first four bytes of every frame.
pub const MAGIC: u32 = 0x4f58_4d58;
/// Protocol version spoken by this build (2: authenticated handshake, sealed frames; 3: delivery
/// numbers and acknowledgements in the header; 4: signals with their `siginfo`, two-phase commit
/// of a migration; 5: the real-time interval timer in the State; 6: an interrupted call's
/// restart in the State; 7: CPU time and CPU-time timers in the State; 8: shared anonymous
/// areas in the image, the CPU time of a guest that ended in its GONE; 9: `MigCtl` INTERRUPT, a
/// forwarded call interrupted so that its process moves, and `MigStatus`; 10: a guest forks where
/// it runs, its deputy forking at home for it: a forwarded `clone` with the child's token; 11:
/// files an image maps travel by name, `MigFile`; 12: read-ahead of a guest's reads, `SysData`
/// and `MigCtl` READ_DROP).
pub const PROTO_VERSION: u8 = 12;
/// Size of the frame header in bytes.
pub const HEADER_LEN: usize = 64;
/// Hard upper bound of a payload in bytes, whatever the type.
pub const MAX_PAYLOAD: usize = 64 * 1024;
/// Largest valid node id (ids are 1..=MAX_NODE_ID; 0 means "none").
pub const MAX_NODE_ID: u32 = 65_535;
/// Size of a frame's authentication tag (header bytes 48..64; zero in handshake frames and on a
/// plaintext link).
pub const AUTH_TAG_LEN: usize = 16;
/// Offset of the authentication tag in the header; the bytes before it are the AEAD's
/// associated data.
pub const TAG_AT: usize = 48;

/// Why a frame was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtoError {
    /// Fewer bytes than the structure needs.
    Truncated,
    /// The first four bytes are not [`MAGIC`].
    BadMagic,
    /// A protocol version this build does not speak.
    BadVersion(u8),
    /// Unknown message type.
    BadType(u8),
    /// Payload length outside the type's bounds or above [`MAX_PAYLOAD`].
    BadLength(u32),
    /// A reserved field or flag is not zero.
    Reserved,
    /// A node id outside 1..=[`MAX_NODE_ID`] (or 0 where one is required).
    BadNode(u32),
    /// A payload field out of range.
    BadField(&'static str),
}

/// Message types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum MsgType {
    /// First frame in each direction of a connection: who I am.
    Hello = 1,
    /// Load information: the sender's own entry and the freshest entries it knows.
    Load = 2,
    /// Liveness probe; answered with [`MsgType::Pong`] carrying the same payload.
    Ping = 3,
    /// Answer to [`MsgType::Ping`].
    Pong = 4,
    /// Orderly close, with a reason.
    Bye = 5,
    /// Migration: a home node offers a process ([`mig::Offer`]).
    MigOffer = 6,
    /// Migration: accept/refuse an offer, or report an installed image ([`mig::Answer`]).
    MigAnswer = 7,
    /// Migration image: registers, FPU, signals, mm layout ([`mig::State`]).
    MigState = 8,
    /// Migration image: one memory area ([`mig::Vma`]).
    MigVma = 9,
    /// Migration image: page contents ([`mig::MsgPages`]).
    MigPages = 10,
    /// Migration image: end of stream ([`mig::End`]).
    MigEnd = 11,
    /// A system call forwarded to the deputy ([`mig::Syscall`]).
    Syscall = 12,
    /// The deputy's answer ([`mig::SysReply`]).
    SysReply = 13,
    /// Control of a migrated process ([`mig::Ctl`]).
    MigCtl = 14,
    /// Benchmark traffic: discarded, or echoed when asked ([`Bench`]).
    Bench = 15,
    /// Last handshake frame: the initiator's Finished MAC ([`handshake`]).
    Finished = 16,
    /// Acknowledgement only (empty payload): the header's `ack` is the news ([`delivery`]).
    Ack = 17,
    /// A signal for a migrated process, with its `siginfo` ([`signal::Signal`]).
    MigSignal = 18,
    /// What a migrated process is doing where it runs, for `/proc` at home
    /// ([`status::Status`]; since version 9).
    MigStatus = 19,
    /// Migration image: a file its private file areas map ([`files::FileName`]; since
    /// version 11).
    MigFile = 20,
    /// Bytes of a forwarded call's answer ahead of its `SysReply`
    /// ([`readahead::SysData`]; since version 12).
    SysData = 21,
}

impl MsgType {
    /// The type for a wire value.
    pub fn from_u8(v: u8) -> Result<Self, ProtoError> {
        Ok(match v {
            1 => MsgType::Hello,
            2 => MsgType::Load,
            3 => MsgType::Ping,
            4 => MsgType::Pong,
            5 => MsgType::Bye,
            6 => MsgType::MigOffer,
            7 => MsgType::MigAnswer,
            8 => MsgType::MigState,
            9 => MsgType::MigVma,
            10 => MsgType::MigPages,
            11 => MsgType::MigEnd,
            12 => MsgType::Syscall,
            13 => MsgType::SysReply,
            14 => MsgType::MigCtl,
            15 => MsgType::Bench,
            16 => MsgType::Finished,
            17 => MsgType::Ack,
            18 => MsgType::MigSignal,
            19 => MsgType::MigStatus,
            20 => MsgType::MigFile,
            21 => MsgType::SysData,
            _ => return Err(ProtoError::BadType(v)),
        })
    }

    /// Inclusive bounds of this type's payload length in bytes.
    pub fn payload_bounds(self) -> (usize, usize) {
        match self {
            MsgType::Hello => (HELLO_LEN, HELLO_LEN),
            MsgType::Load => (
                LOAD_HDR_LEN,
                LOAD_HDR_LEN + MAX_LOAD_ENTRIES * LOAD_ENTRY_LEN,
            ),
            MsgType::Ping | MsgType::Pong => (PING_LEN, PING_LEN),
            MsgType::Bye => (BYE_LEN, BYE_LEN),
            MsgType::MigOffer => (mig::OFFER_LEN, mig::OFFER_LEN),
            MsgType::MigAnswer => (mig::ANSWER_LEN, mig::ANSWER_LEN),
            MsgType::MigState => (mig::STATE_FIXED_LEN, mig::STATE_FIXED_LEN + mig::MAX_XSTATE),
            MsgType::MigVma => (mig::VMA_LEN, mig::VMA_LEN),
            MsgType::MigPages => (
                mig::PAGES_HDR_LEN + mig::PAGE,
                mig::PAGES_HDR_LEN + mig::MAX_PAGES_PER_FRAME * mig::PAGE,
            ),
            MsgType::MigEnd => (mig::END_LEN, mig::END_LEN),
            MsgType::Syscall => (
                mig::SYSCALL_HDR_LEN,
                mig::SYSCALL_HDR_LEN + mig::MAX_SYS_DATA,
            ),
            MsgType::SysReply => (
                mig::SYSREPLY_HDR_LEN,
                mig::SYSREPLY_HDR_LEN + mig::MAX_SYS_DATA,
            ),
            MsgType::MigCtl => (mig::CTL_LEN, mig::CTL_LEN),
            MsgType::Bench => (BENCH_HDR_LEN, MAX_PAYLOAD),
            MsgType::Finished => (handshake::MAC_LEN, handshake::MAC_LEN),
            MsgType::Ack => (0, 0),
            MsgType::MigSignal => (signal::SIGNAL_LEN, signal::SIGNAL_LEN),
            MsgType::MigStatus => (status::STATUS_LEN, status::STATUS_LEN),
            MsgType::MigFile => (
                files::FILE_HDR_LEN + 2,
                files::FILE_HDR_LEN + files::MAX_PATH,
            ),
            MsgType::SysData => (
                readahead::SYSDATA_HDR_LEN + 1,
                readahead::SYSDATA_HDR_LEN + mig::MAX_SYS_DATA,
            ),
        }
    }

    /// Number of message types (for per-type counters); types are 1..=COUNT.
    pub const COUNT: usize = 21;

    /// Lower-case name, for counters and logs.
    pub fn name(self) -> &'static str {
        match self {
            MsgType::Hello => "hello",
            MsgType::Load => "load",
            MsgType::Ping => "ping",
            MsgType::Pong => "pong",
            MsgType::Bye => "bye",
            MsgType::MigOffer => "mig_offer",
            MsgType::MigAnswer => "mig_answer",
            MsgType::MigState => "mig_state",
            MsgType::MigVma => "mig_vma",
            MsgType::MigPages => "mig_pages",
            MsgType::MigEnd => "mig_end",
            MsgType::Syscall => "syscall",
            MsgType::SysReply => "sysreply",
            MsgType::MigCtl => "mig_ctl",
            MsgType::Bench => "bench",
            MsgType::Finished => "finished",
            MsgType::Ack => "ack",
            MsgType::MigSignal => "mig_signal",
            MsgType::MigStatus => "mig_status",
            MsgType::MigFile => "mig_file",
            MsgType::SysData => "sysdata",
        }
    }
}

/// A decoded, validated frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Message type.
    pub mtype: MsgType,
    /// Payload length in bytes (already checked against the type's bounds).
    pub len: u32,
    /// Per-connection, per-direction sequence number, starting at 0.
    pub seq: u64,
    /// Sending node.
    pub src: u32,
    /// Receiving node.
    pub dst: u32,
    /// Delivery number of a frame delivered exactly once ([`delivery`]), 1, 2, ... per
    /// direction and peer incarnation; 0 for the transport's own frames.
    pub delivery: u64,
    /// The highest delivery number the sender has taken from the receiver (0: none).
    pub ack: u64,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Copies `src` into `dst` (equal lengths; a shorter side bounds the copy). Used instead of
/// `copy_from_slice`, whose length-mismatch panic path Linux 6.12's objtool does not know as
/// noreturn with this compiler.
pub(crate) fn copy(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = *s;
    }
}
fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn be64(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    copy(&mut x, &b[at..at + 8]);
    u64::from_be_bytes(x)
}
fn put16(b: &mut [u8], at: usize, v: u16) {
    copy(&mut b[at..at + 2], &v.to_be_bytes());
}
fn put32(b: &mut [u8], at: usize, v: u32) {
    copy(&mut b[at..at + 4], &v.to_be_bytes());
}
fn put64(b: &mut [u8], at: usize, v: u64) {
    copy(&mut b[at..at + 8], &v.to_be_bytes());
}

/// Checks that `id` is a valid node id (1..=[`MAX_NODE_ID`]).
pub fn check_node(id: u32) -> Result<u32, ProtoError> {
    if id == 0 || id > MAX_NODE_ID {
        Err(ProtoError::BadNode(id))
    } else {
        Ok(id)
    }
}

impl Header {
    /// Encodes the header. Layout (offsets in bytes): 0 magic u32, 4 version u8, 5 type u8,
    /// 6 flags u16 (0), 8 length u32, 12 reserved u32 (0), 16 seq u64, 24 src u32, 28 dst u32,
    /// 32 delivery u64, 40 ack u64, 48 authentication tag (16 bytes: written by the link's seal,
    /// zero here).
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        put32(&mut b, 0, MAGIC);
        b[4] = PROTO_VERSION;
        b[5] = self.mtype as u8;
        put32(&mut b, 8, self.len);
        put64(&mut b, 16, self.seq);
        put32(&mut b, 24, self.src);
        put32(&mut b, 28, self.dst);
        put64(&mut b, 32, self.delivery);
        put64(&mut b, 40, self.ack);
        b
    }

    /// Decodes and validates a header. The payload length is checked against the type's bounds,
    /// so a caller may read exactly `len` more bytes into a buffer of [`MAX_PAYLOAD`] bytes.
    pub fn decode(b: &[u8]) -> Result<Header, ProtoError> {
        if b.len() < HEADER_LEN {
            return Err(ProtoError::Truncated);
        }
        if be32(b, 0) != MAGIC {
            return Err(ProtoError::BadMagic);
        }
        if b[4] != PROTO_VERSION {
            return Err(ProtoError::BadVersion(b[4]));
        }
        let mtype = MsgType::from_u8(b[5])?;
        // Bytes 48..64 are the authentication tag: checked by the link's AEAD, not here.
        if be16(b, 6) != 0 || be32(b, 12) != 0 {
            return Err(ProtoError::Reserved);
        }
        let len = be32(b, 8);
        let (lo, hi) = mtype.payload_bounds();
        if (len as usize) < lo || (len as usize) > hi || len as usize > MAX_PAYLOAD {
            return Err(ProtoError::BadLength(len));
        }
        Ok(Header {
            mtype,
            len,
            seq: be64(b, 16),
            src: check_node(be32(b, 24))?,
            dst: check_node(be32(b, 28))?,
            delivery: be64(b, 32),
            ack: be64(b, 40),
        })
    }
}

/// Payload size of [`Hello`].
pub const HELLO_LEN: usize = 24 + handshake::KEY_ID_LEN + handshake::NONCE_LEN + handshake::MAC_LEN;

/// [`Hello::features`] bits.
pub mod features {
    /// The sender asks for a plaintext link (bench only: frames are authenticated by nothing).
    /// Both sides must ask, or the handshake fails.
    pub const PLAINTEXT: u32 = 1;
    /// Every defined bit.
    pub const ALL: u32 = PLAINTEXT;
}

/// First handshake frame in each direction: the sender's identity, its key's id and its fresh
/// nonce; in the responder's, also its Finished MAC ([`handshake`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hello {
    /// Sender's node id (must equal the header's `src`).
    pub node: u32,
    /// [`features`] bits.
    pub features: u32,
    /// Generation of the sender's cluster map (increments on every `setmap`).
    pub map_generation: u64,
    /// Random value chosen when the sender's module loaded: tells a restarted peer apart.
    pub incarnation: u64,
    /// Id of the cluster key the sender uses ([`handshake::key_id`]).
    pub key_id: [u8; handshake::KEY_ID_LEN],
    /// The sender's fresh random nonce.
    pub nonce: [u8; handshake::NONCE_LEN],
    /// Zero from the initiator; the responder's Finished MAC from the responder.
    pub mac: [u8; handshake::MAC_LEN],
}

impl Hello {
    /// Layout: 0 node u32, 4 features u32, 8 map_generation u64, 16 incarnation u64,
    /// 24 key_id [8], 32 nonce [32], 64 mac [32].
    pub fn encode(&self) -> [u8; HELLO_LEN] {
        let mut b = [0u8; HELLO_LEN];
        put32(&mut b, 0, self.node);
        put32(&mut b, 4, self.features);
        put64(&mut b, 8, self.map_generation);
        put64(&mut b, 16, self.incarnation);
        copy(&mut b[24..32], &self.key_id);
        copy(&mut b[32..64], &self.nonce);
        copy(&mut b[64..96], &self.mac);
        b
    }

    /// Decodes and validates a Hello payload.
    pub fn decode(b: &[u8]) -> Result<Hello, ProtoError> {
        if b.len() != HELLO_LEN {
            return Err(ProtoError::Truncated);
        }
        let features = be32(b, 4);
        if features & !features::ALL != 0 {
            return Err(ProtoError::BadField("hello.features"));
        }
        let mut m = Hello {
            node: check_node(be32(b, 0))?,
            features,
            map_generation: be64(b, 8),
            incarnation: be64(b, 16),
            key_id: [0; handshake::KEY_ID_LEN],
            nonce: [0; handshake::NONCE_LEN],
            mac: [0; handshake::MAC_LEN],
        };
        copy(&mut m.key_id, &b[24..32]);
        copy(&mut m.nonce, &b[32..64]);
        copy(&mut m.mac, &b[64..96]);
        Ok(m)
    }
}

/// Payload size of Ping and Pong.
pub const PING_LEN: usize = 8;
/// Payload size of Bye.
pub const BYE_LEN: usize = 4;

/// Reasons carried by Bye.
pub mod bye {
    /// The sender is shutting down (module unload).
    pub const SHUTDOWN: u32 = 1;
    /// The sender already has a connection with the receiver; this one is a duplicate.
    pub const DUPLICATE: u32 = 2;
    /// The receiver is not in the sender's cluster map.
    pub const NOT_IN_MAP: u32 = 3;
}

/// A decoded message: header plus validated payload.
#[derive(Clone, Copy, Debug)]
pub enum Message<'a> {
    /// See [`Hello`].
    Hello(Hello),
    /// See [`LoadView`].
    Load(LoadView<'a>),
    /// Ping with its 8-byte token.
    Ping(u64),
    /// Pong echoing a Ping's token.
    Pong(u64),
    /// Bye with its reason ([`bye`]).
    Bye(u32),
    /// See [`mig::Offer`].
    MigOffer(mig::Offer),
    /// See [`mig::Answer`].
    MigAnswer(mig::Answer),
    /// See [`mig::State`] (boxed by value would be large: borrowed payload, decode again).
    MigState(&'a [u8]),
    /// See [`mig::Vma`].
    MigVma(mig::Vma),
    /// See [`mig::MsgPages`].
    MigPages(mig::MsgPages<'a>),
    /// See [`mig::End`].
    MigEnd(mig::End),
    /// See [`mig::Syscall`].
    Syscall(mig::Syscall<'a>),
    /// See [`mig::SysReply`].
    SysReply(mig::SysReply<'a>),
    /// See [`mig::Ctl`].
    MigCtl(mig::Ctl),
    /// See [`Bench`].
    Bench(Bench),
    /// The initiator's Finished MAC.
    Finished([u8; handshake::MAC_LEN]),
    /// An acknowledgement (the header's `ack`).
    Ack,
    /// See [`signal::Signal`].
    MigSignal(signal::Signal),
    /// See [`status::Status`].
    MigStatus(status::Status),
    /// See [`files::FileName`].
    MigFile(files::FileName<'a>),
    /// See [`readahead::SysData`].
    SysData(readahead::SysData<'a>),
}

impl<'a> Message<'a> {
    /// Decodes the payload of a frame whose header `h` was already validated. `payload` must be
    /// exactly `h.len` bytes. Checks cross-field rules (Hello's node equals the header's source).
    pub fn decode(h: &Header, payload: &'a [u8]) -> Result<Message<'a>, ProtoError> {
        if payload.len() != h.len as usize {
            return Err(ProtoError::Truncated);
        }
        Ok(match h.mtype {
            MsgType::Hello => {
                let m = Hello::decode(payload)?;
                if m.node != h.src {
                    return Err(ProtoError::BadField("hello.node"));
                }
                Message::Hello(m)
            }
            MsgType::Load => Message::Load(LoadView::decode(payload)?),
            MsgType::Ping => Message::Ping(be64(payload, 0)),
            MsgType::Pong => Message::Pong(be64(payload, 0)),
            MsgType::Bye => Message::Bye(be32(payload, 0)),
            MsgType::MigOffer => Message::MigOffer(mig::Offer::decode(payload)?),
            MsgType::MigAnswer => Message::MigAnswer(mig::Answer::decode(payload)?),
            MsgType::MigState => {
                mig::State::decode(payload)?;
                Message::MigState(payload)
            }
            MsgType::MigVma => Message::MigVma(mig::Vma::decode(payload)?),
            MsgType::MigPages => Message::MigPages(mig::MsgPages::decode(payload)?),
            MsgType::MigEnd => Message::MigEnd(mig::End::decode(payload)?),
            MsgType::Syscall => Message::Syscall(mig::Syscall::decode(payload)?),
            MsgType::SysReply => Message::SysReply(mig::SysReply::decode(payload)?),
            MsgType::MigCtl => Message::MigCtl(mig::Ctl::decode(payload)?),
            MsgType::Bench => Message::Bench(Bench::decode(payload)?),
            MsgType::Finished => {
                let mut m = [0u8; handshake::MAC_LEN];
                copy(&mut m, payload);
                Message::Finished(m)
            }
            MsgType::Ack => Message::Ack,
            MsgType::MigSignal => Message::MigSignal(signal::Signal::decode(payload)?),
            MsgType::MigStatus => Message::MigStatus(status::Status::decode(payload)?),
            MsgType::MigFile => Message::MigFile(files::FileName::decode(payload)?),
            MsgType::SysData => Message::SysData(readahead::SysData::decode(payload)?),
        })
    }

    /// The message's type.
    pub fn mtype(&self) -> MsgType {
        match self {
            Message::Hello(_) => MsgType::Hello,
            Message::Load(_) => MsgType::Load,
            Message::Ping(_) => MsgType::Ping,
            Message::Pong(_) => MsgType::Pong,
            Message::Bye(_) => MsgType::Bye,
            Message::MigOffer(_) => MsgType::MigOffer,
            Message::MigAnswer(_) => MsgType::MigAnswer,
            Message::MigState(_) => MsgType::MigState,
            Message::MigVma(_) => MsgType::MigVma,
            Message::MigPages(_) => MsgType::MigPages,
            Message::MigEnd(_) => MsgType::MigEnd,
            Message::Syscall(_) => MsgType::Syscall,
            Message::SysReply(_) => MsgType::SysReply,
            Message::MigCtl(_) => MsgType::MigCtl,
            Message::Bench(_) => MsgType::Bench,
            Message::Finished(_) => MsgType::Finished,
            Message::Ack => MsgType::Ack,
            Message::MigSignal(_) => MsgType::MigSignal,
            Message::MigStatus(_) => MsgType::MigStatus,
            Message::MigFile(_) => MsgType::MigFile,
            Message::SysData(_) => MsgType::SysData,
        }
    }
}

/// Encodes a whole frame (header and payload) into `out`; returns the frame length.
/// Errors: `BadLength` if the payload does not fit the type, `Truncated` if `out` is too small.
pub fn encode_frame(
    mtype: MsgType,
    seq: u64,
    src: u32,
    dst: u32,
    payload: &[u8],
    out: &mut [u8],
) -> Result<usize, ProtoError> {
    let (lo, hi) = mtype.payload_bounds();
    if payload.len() < lo || payload.len() > hi {
        return Err(ProtoError::BadLength(payload.len() as u32));
    }
    let total = HEADER_LEN + payload.len();
    if out.len() < total {
        return Err(ProtoError::Truncated);
    }
    let h = Header {
        mtype,
        len: payload.len() as u32,
        seq,
        src: check_node(src)?,
        dst: check_node(dst)?,
        delivery: 0,
        ack: 0,
    };
    copy(&mut out[..HEADER_LEN], &h.encode());
    copy(&mut out[HEADER_LEN..total], payload);
    Ok(total)
}

/// Ping/Pong payload for `token`.
pub fn encode_token(token: u64) -> [u8; PING_LEN] {
    token.to_be_bytes()
}

/// Bye payload for `reason`.
pub fn encode_bye(reason: u32) -> [u8; BYE_LEN] {
    reason.to_be_bytes()
}

/// Fixed part of a [`Bench`] payload.
pub const BENCH_HDR_LEN: usize = 8;

/// Benchmark traffic (`make bench`): the payload after the fixed part is filler. A receiver
/// discards it; with `echo` set it answers with a Bench frame of `echo_len` payload bytes
/// (no echo flag), which the sender waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bench {
    /// Answer this frame.
    pub echo: bool,
    /// Payload length of the answer ([`BENCH_HDR_LEN`]..=[`MAX_PAYLOAD`]).
    pub echo_len: u32,
}

impl Bench {
    /// Writes the fixed part into `out[..BENCH_HDR_LEN]`. Layout: 0 flags u32 (bit 0 echo),
    /// 4 echo_len u32.
    pub fn encode_header(&self, out: &mut [u8]) {
        put32(out, 0, u32::from(self.echo));
        put32(out, 4, self.echo_len);
    }

    /// Decodes and validates the fixed part of a Bench payload.
    pub fn decode(b: &[u8]) -> Result<Bench, ProtoError> {
        if b.len() < BENCH_HDR_LEN {
            return Err(ProtoError::Truncated);
        }
        let flags = be32(b, 0);
        let echo_len = be32(b, 4);
        if flags & !1 != 0 {
            return Err(ProtoError::Reserved);
        }
        if (echo_len as usize) < BENCH_HDR_LEN || echo_len as usize > MAX_PAYLOAD {
            return Err(ProtoError::BadField("bench.echo_len"));
        }
        Ok(Bench {
            echo: flags & 1 != 0,
            echo_len,
        })
    }
}

/// Largest frame of any type.
pub const MAX_FRAME: usize = HEADER_LEN + MAX_PAYLOAD;

/// Largest frame a Load message can make.
pub const MAX_LOAD_FRAME: usize = HEADER_LEN + LOAD_HDR_LEN + MAX_LOAD_ENTRIES * LOAD_ENTRY_LEN;
