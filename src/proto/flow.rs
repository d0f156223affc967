// SPDX-License-Identifier: GPL-2.0
//! Flow control of an image stream (Documentation/protocol.md, "Flow control"): the sender
//! numbers the frames of a stream (State, MigVma, MigPages, MigEnd) from 1 and sends frame n
//! only when n ≤ credit + [`WINDOW`]; the receiver reports the frames it took from the
//! process's inbox (`MigCtl CREDIT`) every [`CREDIT_EVERY`]. So at most [`WINDOW`] frames of a
//! stream wait in an inbox, which holds more: a connection's receive thread never waits for room.

/// Frames a sender may have sent beyond the receiver's last report. 12 frames of 60 KiB keep
/// 720 KiB in flight, far above a LAN's bandwidth-delay product.
pub const WINDOW: u32 = 12;

/// The receiver reports every this many frames taken (at most [`WINDOW`], so a sender that used
/// its whole window always hears back).
pub const CREDIT_EVERY: u32 = 4;

/// Whether the sender may send frame number `n` (from 1) after the receiver reported `credit`
/// frames taken.
pub fn may_send(n: u32, credit: u32) -> bool {
    n <= credit.saturating_add(WINDOW)
}

/// The receiver, having taken frame number `taken` (from 1) of a stream: the credit to report
/// now, if any.
pub fn report(taken: u32) -> Option<u32> {
    (taken % CREDIT_EVERY == 0).then_some(taken)
}
