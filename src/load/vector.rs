// SPDX-License-Identifier: GPL-2.0
//! The load vector: what one node knows about the load of every node in its cluster map.
//!
//! One [`Slot`] per node of the map, sorted by node id, in storage the caller owns (a `KVec` in the
//! kernel, a `Vec` on the host). Gossip (openMosix's randomized load-vector exchange):
//!
//! - every gossip interval a node refreshes its own entry ([`set_own`]), picks one random live
//!   peer ([`pick_peer`]) and sends it its own entry plus the freshest `K` others it knows
//!   ([`freshest`]), each with its current age;
//! - a receiver keeps, per node, the freshest entry ([`merge`]): entries carry the described
//!   node's incarnation (random at each module load) and a stamp, its monotonic clock, compared
//!   only within one incarnation; no wall clock orders anything. Another incarnation replaces
//!   the known one only when it comes from the node itself (over its authenticated link) or once
//!   the old one is down; a relayed entry that is already older than the timeout is ignored;
//! - ages grow with local time from the age the entry had when it arrived; a node whose entry is
//!   older than the timeout is marked down ([`expire`]), unless its own link with this node is
//!   live (traffic within the timeout): a relayed entry never marks a connected node down.
//!
//! Each round every node pushes to one peer, so news spreads like an epidemic: it reaches all N
//! nodes in O(log N) rounds (the host simulation in `tests/host` measures it), with O(N) messages
//! per round in the whole cluster and no broadcast.

use crate::proto::LoadEntry;

/// What a node knows about one node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Slot {
    /// The latest entry (its `node` is the slot's node id even before anything is known).
    pub entry: LoadEntry,
    /// Local monotonic time (ms) when `entry` arrived.
    pub received_ms: u64,
    /// Something was heard of this node.
    pub known: bool,
    /// The node is considered up (heard of within the timeout).
    pub up: bool,
}

impl Slot {
    /// A slot for `node`, nothing known yet.
    pub fn new(node: u32) -> Slot {
        Slot {
            entry: LoadEntry {
                node,
                ..LoadEntry::default()
            },
            ..Slot::default()
        }
    }

    /// Age of the entry at local time `now_ms`: its age on arrival plus the time since.
    pub fn age_ms(&self, now_ms: u64) -> u64 {
        u64::from(self.entry.age_ms) + now_ms.saturating_sub(self.received_ms)
    }
}

/// Index of `node`'s slot (slots sorted by node id).
pub fn find(slots: &[Slot], node: u32) -> Option<usize> {
    slots.binary_search_by_key(&node, |s| s.entry.node).ok()
}

/// Outcome of [`merge`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    /// The entry was fresher and replaced the slot's; `came_up` if the node was down or unknown.
    Updated {
        /// The node changed from down/unknown to up.
        came_up: bool,
    },
    /// The slot already had this or fresher news.
    Stale,
    /// The entry describes the receiving node itself (its own entry is authoritative).
    Own,
    /// The node is not in the map.
    Unknown,
}

/// Merges entry `e`, received from node `from`, at local time `now_ms`.
pub fn merge(
    slots: &mut [Slot],
    self_id: u32,
    e: &LoadEntry,
    from: u32,
    now_ms: u64,
    timeout_ms: u64,
) -> Merge {
    if e.node == self_id {
        return Merge::Own;
    }
    let Some(i) = find(slots, e.node) else {
        return Merge::Unknown;
    };
    let s = &mut slots[i];
    let direct = from == e.node;
    if !direct && u64::from(e.age_ms) > timeout_ms {
        return Merge::Stale;
    }
    if s.known {
        let same = e.incarnation == s.entry.incarnation;
        if (same && e.stamp <= s.entry.stamp) || (!same && !direct && s.up) {
            return Merge::Stale;
        }
    }
    let came_up = !s.up;
    s.entry = *e;
    s.received_ms = now_ms;
    s.known = true;
    // News that is already older than the timeout does not make a node up.
    s.up = u64::from(e.age_ms) <= timeout_ms;
    Merge::Updated {
        came_up: came_up && s.up,
    }
}

/// Sets this node's own entry (always up, age 0).
pub fn set_own(slots: &mut [Slot], e: &LoadEntry, now_ms: u64) {
    if let Some(i) = find(slots, e.node) {
        let s = &mut slots[i];
        s.entry = *e;
        s.entry.age_ms = 0;
        s.received_ms = now_ms;
        s.known = true;
        s.up = true;
    }
}

/// Marks down every other node not heard of within `timeout_ms`, except those for which
/// `linked(node)` says their own link with this node carried traffic within the timeout; calls
/// `went_down(node)` for each that changes. Returns how many went down.
pub fn expire(
    slots: &mut [Slot],
    self_id: u32,
    now_ms: u64,
    timeout_ms: u64,
    linked: impl Fn(u32) -> bool,
    mut went_down: impl FnMut(u32),
) -> usize {
    let mut n = 0;
    for s in slots.iter_mut() {
        let node = s.entry.node;
        if node != self_id && s.up && s.age_ms(now_ms) > timeout_ms && !linked(node) {
            s.up = false;
            n += 1;
            went_down(s.entry.node);
        }
    }
    n
}

/// Fills `out` with this node's own entry followed by up to `out.len() - 1` of the freshest other
/// known, up entries (not about `exclude`, the receiver), each with its current age. Returns the
/// number written (0 if the own entry is not set or `out` is empty).
pub fn freshest(
    slots: &[Slot],
    self_id: u32,
    exclude: u32,
    now_ms: u64,
    out: &mut [LoadEntry],
) -> usize {
    let Some(own) = find(slots, self_id) else {
        return 0;
    };
    if out.is_empty() || !slots[own].known {
        return 0;
    }
    out[0] = slots[own].entry;
    out[0].age_ms = 0;
    let mut n = 1;
    // Selection by increasing age without allocation: O(len * k), k <= 64.
    let mut last_age = 0u64;
    let mut last_node = 0u32;
    while n < out.len() {
        let mut best: Option<(u64, u32, usize)> = None;
        for (i, s) in slots.iter().enumerate() {
            let node = s.entry.node;
            if node == self_id || node == exclude || !s.known || !s.up {
                continue;
            }
            let key = (s.age_ms(now_ms), node);
            if key <= (last_age, last_node) && n > 1 {
                continue;
            }
            if best.map_or(true, |(a, b, _)| key < (a, b)) {
                best = Some((key.0, key.1, i));
            }
        }
        let Some((age, node, i)) = best else { break };
        out[n] = slots[i].entry;
        out[n].age_ms = age.min(u64::from(crate::proto::MAX_AGE_MS)) as u32;
        n += 1;
        last_age = age;
        last_node = node;
    }
    n
}

/// Picks a peer uniformly among the nodes other than `self_id` for which `eligible` holds, using
/// the random value `rnd`.
pub fn pick_peer(
    slots: &[Slot],
    self_id: u32,
    rnd: u32,
    eligible: impl Fn(&Slot) -> bool,
) -> Option<u32> {
    let count = slots
        .iter()
        .filter(|s| s.entry.node != self_id && eligible(s))
        .count();
    if count == 0 {
        return None;
    }
    let k = (rnd as usize) % count;
    slots
        .iter()
        .filter(|s| s.entry.node != self_id && eligible(s))
        .nth(k)
        .map(|s| s.entry.node)
}
