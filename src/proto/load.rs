// SPDX-License-Identifier: GPL-2.0
//! The Load message: a node's load-vector entries, pushed and pulled by gossip
//! (`Documentation/protocol.md`, "Load").

use super::{be16, be32, be64, check_node, put16, put32, put64, ProtoError};

/// Size of the Load payload's own header (count u16, load flags u16).
pub const LOAD_HDR_LEN: usize = 4;
/// Size of one [`LoadEntry`] on the wire.
pub const LOAD_ENTRY_LEN: usize = 64;
/// Most entries one Load message may carry.
pub const MAX_LOAD_ENTRIES: usize = 64;
/// Load flag: this Load answers a gossip push and must not be answered (push-pull gossip).
pub const LOAD_REPLY: u16 = 1;

/// Largest valid load value (fixed point, 100 = one reference-CPU's worth of runnable work).
pub const MAX_LOAD: u32 = 100_000_000;
/// Largest valid speed (openMosix scale: a reference CPU is 10000).
pub const MAX_SPEED: u32 = 10_000_000;
/// Largest valid CPU count.
pub const MAX_CPUS: u16 = 8192;
/// Utilization is in basis points: 10000 = 100 %.
pub const MAX_UTIL: u16 = 10_000;
/// Largest valid age in milliseconds (about 24 days).
pub const MAX_AGE_MS: u32 = 1 << 31;

/// Node status bits in [`LoadEntry::flags`].
pub mod flags {
    /// The node's module accepts no guests (`block`).
    pub const BLOCK: u32 = 1 << 0;
    /// No automatic migration away from the node (`stay`).
    pub const STAY: u32 = 1 << 1;
    /// Local processes stay (`lstay`).
    pub const LSTAY: u32 = 1 << 2;
    /// The node stopped load gossip (`quiet`).
    pub const QUIET: u32 = 1 << 3;
    /// The node is sending its guests home (`expel` in progress).
    pub const EXPEL: u32 = 1 << 4;
    /// Every defined bit.
    pub const ALL: u32 = BLOCK | STAY | LSTAY | QUIET | EXPEL;
}

/// One node's load information, as gossiped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadEntry {
    /// The node described.
    pub node: u32,
    /// Status bits ([`flags`]).
    pub flags: u32,
    /// The described node's own counter for this information within its incarnation (its
    /// monotonic clock in ms, which never steps back): larger means fresher.
    pub stamp: u64,
    /// How old the sender's copy is, in milliseconds, when sent.
    pub age_ms: u32,
    /// Load, normalized by CPU count and speed (see `balance::load`).
    pub load: u32,
    /// Relative CPU speed (reference CPU = 10000).
    pub speed: u32,
    /// Online CPUs.
    pub cpus: u16,
    /// CPU utilization in basis points.
    pub util: u16,
    /// Total memory in KiB.
    pub tmem_kib: u64,
    /// Free memory in KiB (raw, as the kernel counts it).
    pub fmem_kib: u64,
    /// Memory available for processes in KiB (free plus reclaimable, `si_mem_available`).
    pub amem_kib: u64,
    /// The described node's incarnation (random at each module load): stamps are compared only
    /// within one incarnation.
    pub incarnation: u64,
}

impl LoadEntry {
    /// Layout: 0 node u32, 4 flags u32, 8 stamp u64, 16 age_ms u32, 20 load u32, 24 speed u32,
    /// 28 cpus u16, 30 util u16, 32 tmem_kib u64, 40 fmem_kib u64, 48 amem_kib u64,
    /// 56 incarnation u64.
    pub fn encode_into(&self, b: &mut [u8]) {
        put32(b, 0, self.node);
        put32(b, 4, self.flags);
        put64(b, 8, self.stamp);
        put32(b, 16, self.age_ms);
        put32(b, 20, self.load);
        put32(b, 24, self.speed);
        put16(b, 28, self.cpus);
        put16(b, 30, self.util);
        put64(b, 32, self.tmem_kib);
        put64(b, 40, self.fmem_kib);
        put64(b, 48, self.amem_kib);
        put64(b, 56, self.incarnation);
    }

    /// Decodes and range-checks one entry of exactly [`LOAD_ENTRY_LEN`] bytes.
    pub fn decode(b: &[u8]) -> Result<LoadEntry, ProtoError> {
        if b.len() != LOAD_ENTRY_LEN {
            return Err(ProtoError::Truncated);
        }
        let e = LoadEntry {
            node: check_node(be32(b, 0))?,
            flags: be32(b, 4),
            stamp: be64(b, 8),
            age_ms: be32(b, 16),
            load: be32(b, 20),
            speed: be32(b, 24),
            cpus: be16(b, 28),
            util: be16(b, 30),
            tmem_kib: be64(b, 32),
            fmem_kib: be64(b, 40),
            amem_kib: be64(b, 48),
            incarnation: be64(b, 56),
        };
        if e.flags & !flags::ALL != 0 {
            return Err(ProtoError::BadField("load.flags"));
        }
        if e.age_ms > MAX_AGE_MS {
            return Err(ProtoError::BadField("load.age_ms"));
        }
        if e.load > MAX_LOAD {
            return Err(ProtoError::BadField("load.load"));
        }
        if e.speed == 0 || e.speed > MAX_SPEED {
            return Err(ProtoError::BadField("load.speed"));
        }
        if e.cpus == 0 || e.cpus > MAX_CPUS {
            return Err(ProtoError::BadField("load.cpus"));
        }
        if e.util > MAX_UTIL {
            return Err(ProtoError::BadField("load.util"));
        }
        if e.fmem_kib > e.tmem_kib {
            return Err(ProtoError::BadField("load.fmem_kib"));
        }
        if e.amem_kib > e.tmem_kib {
            return Err(ProtoError::BadField("load.amem_kib"));
        }
        Ok(e)
    }
}

/// A validated Load payload, borrowed from the receive buffer.
#[derive(Clone, Copy, Debug)]
pub struct LoadView<'a> {
    entries: &'a [u8],
    reply: bool,
}

impl<'a> LoadView<'a> {
    /// Validates a whole Load payload: `count` matches the length, at most [`MAX_LOAD_ENTRIES`],
    /// no undefined load flag, every entry valid, no node twice.
    pub fn decode(b: &'a [u8]) -> Result<LoadView<'a>, ProtoError> {
        if b.len() < LOAD_HDR_LEN {
            return Err(ProtoError::Truncated);
        }
        let count = be16(b, 0) as usize;
        let lflags = be16(b, 2);
        if lflags & !LOAD_REPLY != 0 {
            return Err(ProtoError::Reserved);
        }
        if count == 0 || count > MAX_LOAD_ENTRIES {
            return Err(ProtoError::BadField("load.count"));
        }
        if b.len() != LOAD_HDR_LEN + count * LOAD_ENTRY_LEN {
            return Err(ProtoError::BadLength(b.len() as u32));
        }
        let entries = &b[LOAD_HDR_LEN..];
        for i in 0..count {
            let e = LoadEntry::decode(&entries[i * LOAD_ENTRY_LEN..(i + 1) * LOAD_ENTRY_LEN])?;
            for j in 0..i {
                if be32(entries, j * LOAD_ENTRY_LEN) == e.node {
                    return Err(ProtoError::BadField("load.duplicate"));
                }
            }
        }
        Ok(LoadView {
            entries,
            reply: lflags & LOAD_REPLY != 0,
        })
    }

    /// Whether this Load answers a push (and so must not be answered).
    pub fn is_reply(&self) -> bool {
        self.reply
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len() / LOAD_ENTRY_LEN
    }

    /// Whether there are no entries (never true for a decoded view).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries, in wire order.
    pub fn iter(&self) -> impl Iterator<Item = LoadEntry> + 'a {
        // Every chunk was validated by `decode`; the fallback is unreachable.
        self.entries
            .chunks_exact(LOAD_ENTRY_LEN)
            .map(|c| LoadEntry::decode(c).unwrap_or_default())
    }
}

/// Encodes a Load payload of `entries` (1..=[`MAX_LOAD_ENTRIES`]) into `out`, marked as a reply
/// to a push if `reply`; returns its length.
/// Errors: `BadField` for a bad count, `Truncated` if `out` is too small.
pub fn encode_load(
    entries: &[LoadEntry],
    reply: bool,
    out: &mut [u8],
) -> Result<usize, ProtoError> {
    if entries.is_empty() || entries.len() > MAX_LOAD_ENTRIES {
        return Err(ProtoError::BadField("load.count"));
    }
    let len = LOAD_HDR_LEN + entries.len() * LOAD_ENTRY_LEN;
    if out.len() < len {
        return Err(ProtoError::Truncated);
    }
    put16(out, 0, entries.len() as u16);
    put16(out, 2, if reply { LOAD_REPLY } else { 0 });
    for (i, e) in entries.iter().enumerate() {
        let at = LOAD_HDR_LEN + i * LOAD_ENTRY_LEN;
        e.encode_into(&mut out[at..at + LOAD_ENTRY_LEN]);
    }
    Ok(len)
}
