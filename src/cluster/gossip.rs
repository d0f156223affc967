// SPDX-License-Identifier: GPL-2.0
//! The gossip thread (`oxmosix-gossip`): load sampling, push-pull rounds, node timeouts.

use core::sync::atomic::Ordering;

use kernel::prelude::*;
use kernel::sync::Arc;

use super::{peer, Cluster, State};
use crate::counters;
use crate::kapi::{kthread, sys};
use crate::load;
use crate::load::vector::{self, Merge, Slot};
use crate::proto::{self, flags, LoadEntry};

/// Default number of other nodes' entries sent with each gossip message (K).
pub(crate) const GOSSIP_K: usize = 16;

/// Body of `oxmosix-gossip`.
pub(super) fn gossip_loop(cl: &Arc<Cluster>) {
    let mut next_gossip = 0u64;
    while !kthread::should_stop() {
        let now = sys::monotonic_ms();
        let p = cl.with_state(|s| {
            // The sampling thread itself is running: do not count it.
            let runnable = sys::nr_running().saturating_sub(1);
            let (fd, sd) = (s.params.fast_decay, s.params.slow_decay);
            s.avg.sample(runnable, fd, sd);
            s.util_acc += u64::from(load::busy_share(runnable, sys::online_cpus()));
            s.util_samples += 1;
            s.params
        });
        cl.for_each_feature(|f| f.on_sample_tick(now));
        if now >= next_gossip || cl.kick.swap(false, Ordering::Relaxed) {
            next_gossip = now + u64::from(p.gossip_interval_ms);
            gossip_round(cl, now);
            peer::maintain(cl, now);
            cl.for_each_feature(|f| f.on_gossip_tick(now, u64::from(p.timeout_ms)));
        }
        let wait = p
            .decay_interval_ms
            .min((next_gossip.saturating_sub(now)) as u32)
            .max(1);
        sys::sleep_interruptible_ms(wait);
    }
}

/// This node's own load-vector entry, computed now.
fn own_entry(s: &mut State, incarnation: u64) -> LoadEntry {
    let cpus = sys::online_cpus();
    if let Some(u) = s.util_acc.checked_div(s.util_samples) {
        s.util = u as u16;
        s.util_acc = 0;
        s.util_samples = 0;
    }
    let (tmem, fmem, amem) = sys::meminfo_kib();
    LoadEntry {
        node: s.self_id,
        flags: s.params.flags,
        stamp: sys::monotonic_ms(),
        age_ms: 0,
        load: load::normalized(s.avg.raw(), cpus, s.params.speed),
        speed: s.params.speed,
        cpus: cpus.min(u32::from(proto::MAX_CPUS)) as u16,
        util: s.util,
        tmem_kib: tmem,
        fmem_kib: fmem.min(tmem),
        amem_kib: amem.min(tmem),
        incarnation,
    }
}

/// One gossip round: refresh the own entry, expire silent nodes, push to one random peer.
fn gossip_round(cl: &Arc<Cluster>, now: u64) {
    let mut entries = [LoadEntry::default(); GOSSIP_K + 1];
    let target = cl.with_state(|s| {
        if s.self_id == 0 {
            return None;
        }
        let e = own_entry(s, cl.incarnation);
        vector::set_own(&mut s.slots, &e, now);
        let timeout = u64::from(s.params.timeout_ms);
        // A node whose own link carried traffic within the timeout is up, whatever was relayed.
        let peers = &s.peers;
        let linked = |n: u32| {
            peers.iter().any(|p| {
                p.id == n
                    && p.conn
                        .as_ref()
                        .is_some_and(|c| c.alive() && c.heard_within(now, timeout))
            })
        };
        vector::expire(&mut s.slots, s.self_id, now, timeout, linked, |n| {
            pr_info!("node {} down (no news for {} ms)\n", n, timeout)
        });
        if s.params.flags & flags::QUIET != 0 {
            return None;
        }
        let live = |slot: &Slot| {
            s.peers
                .iter()
                .any(|p| p.id == slot.entry.node && p.conn.as_ref().is_some_and(|c| c.alive()))
        };
        let peer = vector::pick_peer(&s.slots, s.self_id, sys::random_u32(), live)?;
        let n = vector::freshest(&s.slots, s.self_id, peer, now, &mut entries);
        let conn = s.peers.iter().find(|p| p.id == peer)?.conn.clone()?;
        Some((conn, n))
    });
    if let Some((conn, n)) = target {
        let _ = conn.send_load(cl, &entries[..n], false);
        // And measure the round trip to it (for the balancer's cost of forwarded calls).
        conn.ping(cl);
    }
    keepalive(cl, now);
    acknowledge(cl);
}

/// Sends an Ack on every connection whose peer's numbered frames were taken since the last
/// acknowledgement (a receiver with nothing to send back would otherwise leave them in the
/// sender's ring; see `proto::delivery`).
fn acknowledge(cl: &Cluster) {
    // Collected under the state lock, looked at after it: a receive thread holds its link's
    // receive lock while a feature handles a frame, and that may take the state lock.
    let mut conns: KVec<Arc<super::Conn>> = KVec::new();
    cl.with_state(|s| {
        for c in s.peers.iter().filter_map(|p| p.conn.as_ref()) {
            if c.alive() {
                let _ = conns.push(c.clone(), GFP_ATOMIC);
            }
        }
    });
    for c in conns.iter().filter(|c| c.link.ack_owed()) {
        c.send_ack(cl);
    }
}

/// Pings every connected peer whose link has been quiet for a quarter of the node timeout, so
/// that each live link carries traffic well within the timeout (the liveness `expire` trusts).
fn keepalive(cl: &Cluster, now: u64) {
    let mut quiet: [Option<Arc<super::Conn>>; 16] = Default::default();
    let mut after = 0u32;
    loop {
        let mut n = 0;
        let last = cl.with_state(|s| {
            let idle = u64::from(s.params.timeout_ms) / 4;
            let mut last = None;
            for p in s.peers.iter().filter(|p| p.id > after) {
                if n == quiet.len() {
                    break;
                }
                if let Some(c) = p
                    .conn
                    .as_ref()
                    .filter(|c| c.alive() && !c.heard_within(now, idle))
                {
                    quiet[n] = Some(c.clone());
                    n += 1;
                }
                last = Some(p.id);
            }
            last
        });
        for c in quiet.iter_mut().take(n) {
            if let Some(c) = c.take() {
                c.ping(cl);
            }
        }
        match last {
            Some(id) if n == quiet.len() => after = id,
            _ => break,
        }
    }
}

/// Merges a received Load and answers a push with our own freshest entries.
pub(super) fn handle_load(cl: &Cluster, conn: &super::Conn, v: proto::LoadView<'_>) {
    let now = sys::monotonic_ms();
    let mut reply = [LoadEntry::default(); GOSSIP_K + 1];
    let n = cl.with_state(|st| {
        if st.params.flags & proto::flags::QUIET != 0 {
            counters::bump(&cl.stats.link.quiet_dropped);
            return 0;
        }
        let timeout = u64::from(st.params.timeout_ms);
        for e in v.iter() {
            if let Merge::Updated { came_up: true } =
                vector::merge(&mut st.slots, st.self_id, &e, conn.peer, now, timeout)
            {
                pr_info!("node {} up\n", e.node);
            }
        }
        if v.is_reply() {
            0
        } else {
            vector::freshest(&st.slots, st.self_id, conn.peer, now, &mut reply)
        }
    });
    if n > 0 {
        let _ = conn.send_load(cl, &reply[..n], true);
    }
}
