// SPDX-License-Identifier: GPL-2.0
//! Counters of the transport (`/proc/hpc/info/counters`): frames and bytes per message type and
//! direction, then the link events.

use core::sync::atomic::AtomicU64;

use crate::counters::{self, counters};
use crate::proto::MsgType;

counters! {
    /// Link events, in the order `/proc/hpc/info/counters` shows them.
    pub(crate) struct LinkStats {
        /// Frames that broke the protocol (each closes its connection).
        malformed,
        /// Connections established.
        connects,
        /// Connections established again with a node that was connected before.
        reconnects,
        /// Connections accepted by the listener (before their handshake).
        accepts,
        /// Handshakes that failed.
        handshake_failures,
        /// Of those, handshakes that did not complete within their deadline.
        handshake_timeouts,
        /// Accepted connections closed at once: the handshake queue was full, or their source
        /// address had its share of it.
        handshake_refused,
        /// Handshakes that named a cluster key this node does not accept.
        key_refused,
        /// Hellos claiming a node from an address that is not that node's in the map (a
        /// stranger, or a member pretending to be another).
        not_member,
        /// Handshakes whose Finished MAC was wrong (the peer does not hold the key, or a
        /// handshake was replayed).
        auth_failures,
        /// Frames whose authentication tag was wrong (each closes its connection).
        frame_auth_failures,
        /// Links closed because the key their handshake proved is no longer accepted (made
        /// again with the current key).
        rekeyed,
        /// Connections refused because this node has no cluster key yet.
        no_key,
        /// Connections refused because one side asked for a plaintext link and the other not.
        plaintext_mismatch,
        /// Connections closed as duplicates of another with the same node.
        duplicates,
        /// Load messages dropped while this node was `quiet`.
        quiet_dropped,
        /// Connections with a node that came back as a new incarnation (it reloaded its module
        /// or rebooted): what depended on its old incarnation was ended at once.
        restarts,
        /// Numbered frames sent again on a new connection (their first copy may have been lost
        /// with the old one).
        resent,
        /// Numbered frames kept for the next connection: sent while the peer had none.
        queued,
        /// Numbered frames that arrived again after they were taken: dropped.
        delivery_duplicates,
        /// Connections closed because a numbered frame was missing (sent again on the next).
        delivery_gaps,
        /// Feature frames refused because too much to one peer was unacknowledged.
        ring_full,
    }
}

/// Per-message-type counters, indexed by `MsgType` value (1..=COUNT; 0 unused).
type PerType = [AtomicU64; MsgType::COUNT + 1];

/// Counters of the transport.
pub(crate) struct Stats {
    pub(crate) tx_frames: PerType,
    pub(crate) tx_bytes: PerType,
    pub(crate) rx_frames: PerType,
    pub(crate) rx_bytes: PerType,
    pub(crate) link: LinkStats,
}

impl Stats {
    /// Every counter at zero.
    pub(crate) fn new() -> Stats {
        Stats {
            tx_frames: Default::default(),
            tx_bytes: Default::default(),
            rx_frames: Default::default(),
            rx_bytes: Default::default(),
            link: LinkStats::new(),
        }
    }

    /// Counts one frame of type `t` and `bytes` bytes (header included) sent.
    pub(crate) fn sent(&self, t: MsgType, bytes: usize) {
        counters::bump(&self.tx_frames[t as usize]);
        counters::add(&self.tx_bytes[t as usize], bytes as u64);
    }

    /// Counts one frame of type `t` and `bytes` bytes (header included) received.
    pub(crate) fn received(&self, t: MsgType, bytes: usize) {
        counters::bump(&self.rx_frames[t as usize]);
        counters::add(&self.rx_bytes[t as usize], bytes as u64);
    }

    /// Writes `/proc/hpc/info/counters`: `{tx,rx}_{frames,bytes}_TYPE N` per type, then the
    /// link events.
    pub(crate) fn show(&self, out: &mut impl core::fmt::Write) -> core::fmt::Result {
        for t in 1..=MsgType::COUNT {
            let name = MsgType::from_u8(t as u8).map(|m| m.name()).unwrap_or("?");
            let get = |a: &PerType| counters::get(&a[t]);
            writeln!(out, "tx_frames_{name} {}", get(&self.tx_frames))?;
            writeln!(out, "tx_bytes_{name} {}", get(&self.tx_bytes))?;
            writeln!(out, "rx_frames_{name} {}", get(&self.rx_frames))?;
            writeln!(out, "rx_bytes_{name} {}", get(&self.rx_bytes))?;
        }
        self.link.show(out)
    }
}
