// SPDX-License-Identifier: GPL-2.0
//! Membership: the cluster map, the peer table, and what this node knows of every node.

use core::sync::atomic::Ordering;

use kernel::c_str;
use kernel::prelude::*;
use kernel::sync::Arc;

use super::params::Params;
use super::{listen, Cluster, Doomed, Listener, Peer, BACKOFF_MIN_MS};
use crate::kapi::kthread::KThread;
use crate::kapi::net::TcpSocket;
use crate::kapi::sys;
use crate::load::vector::{self, Slot};
use crate::load::{self};
use crate::map;
use crate::proto::{self, flags, LoadEntry};
use crate::uapi;

/// The load vector as the balancer reads it ([`Cluster::load_vector`]).
pub(crate) struct LoadVector {
    /// This node's id.
    pub(crate) self_id: u32,
    /// This node's parameters.
    pub(crate) params: Params,
    /// This node's own entry, its load from the fast average as of now.
    pub(crate) own: LoadEntry,
    /// Every node's slot (this one included) and whether it is connected.
    pub(crate) slots: KVec<(Slot, bool)>,
}

/// What this node knows about one node (for `/proc/hpc/nodes` and `NODEINFO`).
pub(crate) struct NodeView {
    pub(crate) slot: Slot,
    pub(crate) is_self: bool,
    pub(crate) connected: bool,
    pub(crate) age_ms: u64,
}

impl Cluster {
    /// This node's id (0 while no map is loaded).
    pub(crate) fn self_id(&self) -> u32 {
        self.state.lock().self_id
    }

    /// Whether node `id` is up and connected with this node.
    pub(crate) fn is_up(&self, id: u32) -> bool {
        let s = self.state.lock();
        let up = vector::find(&s.slots, id).is_some_and(|i| s.slots[i].up);
        up && s
            .peers
            .iter()
            .any(|p| p.id == id && p.conn.as_ref().is_some_and(|c| c.alive()))
    }

    /// The load vector as the balancer reads it: this node's id, parameters and own entry (with
    /// its load as of now, from the fast average only), and every node's slot with whether it is
    /// connected. `None` while no map is loaded.
    pub(crate) fn load_vector(&self) -> Option<LoadVector> {
        let mut v = KVec::new();
        // Reserved outside the state lock (at most one slot per node of the map).
        let n = self.with_state(|s| s.slots.len());
        v.reserve(n + 8, GFP_KERNEL).ok()?;
        self.with_state(|s| {
            if s.self_id == 0 {
                return None;
            }
            let i = vector::find(&s.slots, s.self_id)?;
            let mut own = s.slots[i].entry;
            own.load = load::normalized(s.avg.fast(), sys::online_cpus(), s.params.speed);
            own.flags = s.params.flags;
            for slot in s.slots.iter() {
                if v.len() == v.capacity() {
                    break;
                }
                let connected = s
                    .peers
                    .iter()
                    .any(|p| p.id == slot.entry.node && p.conn.as_ref().is_some_and(|c| c.alive()));
                v.push((*slot, connected), GFP_ATOMIC).ok()?;
            }
            Some(LoadVector {
                self_id: s.self_id,
                params: s.params,
                own,
                slots: v,
            })
        })
    }

    /// This node's raw load: runnable tasks in `load::SCALE` units (1000 per task), the larger of
    /// the fast and slow averages.
    pub(crate) fn raw_load(&self) -> u64 {
        self.with_state(|s| s.avg.raw())
    }

    /// This node's fast load average (`load::SCALE` units, 1000 per runnable task).
    pub(crate) fn fast_load(&self) -> u64 {
        self.with_state(|s| s.avg.fast())
    }

    /// Whether node `id` is up in the load vector (heard of within the node timeout).
    pub(crate) fn node_up(&self, id: u32) -> bool {
        let s = self.state.lock();
        vector::find(&s.slots, id).is_some_and(|i| s.slots[i].up)
    }

    /// Whether root's processes may leave this node and guests running as root are accepted
    /// (`allow_root`).
    pub(crate) fn allows_root(&self) -> bool {
        self.state.lock().params.allow_root
    }

    /// Most guests this node holds (`max_guests`).
    pub(crate) fn max_guests(&self) -> u32 {
        self.state.lock().params.max_guests
    }

    /// Whether this node refuses guests (`block`).
    pub(crate) fn blocks_guests(&self) -> bool {
        self.state.lock().params.flags & flags::BLOCK != 0
    }

    /// The averaged Ping round trip to node `id`, µs (0: not connected or not measured yet).
    pub(crate) fn rtt_us(&self, id: u32) -> u64 {
        self.with_state(|s| {
            s.peers
                .iter()
                .find(|p| p.id == id)
                .and_then(|p| p.conn.as_ref())
                .map_or(0, |c| c.rtt_us())
        })
    }

    /// The current map as the ioctl returns it.
    pub(crate) fn map_info(&self) -> uapi::MapInfo {
        self.with_state(|s| {
            let mut m = uapi::MapInfo::empty();
            m.count = s.ranges.len() as u32;
            m.self_id = s.self_id;
            m.port = s.port;
            m.generation = s.generation;
            for (d, r) in m.ranges.iter_mut().zip(s.ranges.iter()) {
                *d = uapi::MapRange {
                    id: r.id,
                    ip: r.ip,
                    count: r.count,
                };
            }
            m
        })
    }

    /// Writes the current map in its text format (empty when none is loaded).
    pub(crate) fn format_map(&self, out: &mut impl core::fmt::Write) -> core::fmt::Result {
        self.with_state(|s| map::format(&s.ranges, out))
    }

    /// Node ids of the current map, ascending.
    pub(crate) fn node_ids(&self) -> Result<KVec<u32>> {
        self.with_state(|s| {
            let mut v = KVec::with_capacity(s.slots.len(), GFP_KERNEL)?;
            for sl in s.slots.iter() {
                v.push(sl.entry.node, GFP_KERNEL)?;
            }
            Ok(v)
        })
    }

    /// What this node knows of node `id` (0 = itself). `None`: not in the map.
    pub(crate) fn node_view(&self, id: u32) -> Option<NodeView> {
        let now = sys::monotonic_ms();
        self.with_state(|s| {
            let id = if id == 0 { s.self_id } else { id };
            let i = vector::find(&s.slots, id)?;
            let slot = s.slots[i];
            let connected = s
                .peers
                .iter()
                .any(|p| p.id == id && p.conn.as_ref().is_some_and(|c| c.alive()));
            Some(NodeView {
                slot,
                is_self: id == s.self_id,
                connected,
                age_ms: slot.age_ms(now),
            })
        })
    }

    /// Loads a new cluster map (ioctl SETMAP). Keeps what is known about nodes that stay (same
    /// id and address), drops the connections of nodes that left or moved, (re)starts the
    /// listener if the port changed. Errors: `EINVAL` (invalid map, own id not found), `ENOMEM`.
    pub(crate) fn set_map(this: &Arc<Cluster>, info: &uapi::MapInfo) -> Result {
        let (ranges, self_id, port) = parse_map(info)?;
        // Sorted node list of the new map.
        let mut ids: KVec<(u32, u32)> = KVec::with_capacity(map::MAX_NODES, GFP_KERNEL)?;
        for n in map::nodes(&ranges) {
            ids.push(n, GFP_KERNEL)?;
        }
        ids.as_mut_slice().sort_unstable();

        let mut doomed: KVec<Doomed> = KVec::new();
        let generation = {
            let mut s = this.state.lock();
            let mut slots = KVec::with_capacity(ids.len(), GFP_KERNEL)?;
            let mut peers = KVec::with_capacity(ids.len(), GFP_KERNEL)?;
            doomed.reserve(s.peers.len(), GFP_KERNEL)?;
            let same_self = s.self_id == self_id;
            for &(id, ip) in ids.iter() {
                // Keep the slot of a node that stays (same id, same address).
                let old_ip = s.peers.iter().find(|p| p.id == id).map(|p| p.ip);
                let keep = same_self && (id == self_id || old_ip == Some(ip));
                let slot = match (keep, vector::find(&s.slots, id)) {
                    (true, Some(i)) => s.slots[i],
                    _ => Slot::new(id),
                };
                slots.push(slot, GFP_KERNEL)?;
                if id != self_id {
                    let mut p = Peer {
                        id,
                        ip,
                        conn: None,
                        thread: None,
                        next_try_ms: 0,
                        backoff_ms: BACKOFF_MIN_MS,
                        ever_connected: false,
                        cut_until: 0,
                        incarnation: 0,
                    };
                    if keep {
                        if let Some(old) = s.peers.iter_mut().find(|p| p.id == id) {
                            p.conn = old.conn.take();
                            p.thread = old.thread.take();
                            p.ever_connected = old.ever_connected;
                            p.incarnation = old.incarnation;
                        }
                    }
                    peers.push(p, GFP_KERNEL)?;
                }
            }
            for p in s.peers.iter_mut() {
                if let Some(conn) = p.conn.take() {
                    doomed.push(
                        Doomed {
                            conn,
                            thread: p.thread.take(),
                        },
                        GFP_KERNEL,
                    )?;
                }
            }
            s.slots = slots;
            s.peers = peers;
            s.ranges = ranges;
            s.self_id = self_id;
            s.port = port;
            s.generation = s.generation.wrapping_add(1);
            s.generation
        };
        for d in doomed {
            d.close(Some(proto::bye::NOT_IN_MAP), this);
        }
        Self::ensure_listener(this, port)?;
        this.kick.store(true, Ordering::Relaxed);
        pr_info!(
            "map generation {} loaded: {} nodes, this is node {}, port {}\n",
            generation,
            ids.len(),
            self_id,
            port
        );
        Ok(())
    }

    fn ensure_listener(this: &Arc<Cluster>, port: u16) -> Result {
        let mut l = this.listener.lock();
        if l.as_ref().is_some_and(|l| l.port == port) {
            return Ok(());
        }
        if let Some(old) = l.take() {
            old.sock.shutdown();
            drop(old);
        }
        let sock = Arc::new(TcpSocket::listen(port, 64, 200)?, GFP_KERNEL)?;
        let (cl, so) = (this.clone(), sock.clone());
        let thread = KThread::spawn(c_str!("oxmosix-listen"), move || {
            listen::listen_loop(&cl, &so)
        })?;
        let mut handshakers = KVec::with_capacity(listen::HANDSHAKERS, GFP_KERNEL)?;
        for _ in 0..listen::HANDSHAKERS {
            let cl = this.clone();
            let t = KThread::spawn(c_str!("oxmosix-hs"), move || listen::handshake_loop(&cl))?;
            handshakers.push(t, GFP_KERNEL)?;
        }
        *l = Some(Listener {
            port,
            sock,
            _thread: thread,
            _handshakers: handshakers,
        });
        Ok(())
    }
}

/// Checks a map given to SETMAP: its ranges, this node's id in it (given, or the node whose
/// address is local) and its port (0: the default). Errors: `EINVAL`, logged with the reason;
/// `ENOMEM`.
fn parse_map(info: &uapi::MapInfo) -> Result<(KVec<map::Range>, u32, u16)> {
    let count = info.count as usize;
    if count == 0 || count > uapi::MAP_MAX_RANGES || info.pad != 0 {
        return Err(EINVAL);
    }
    let mut ranges = KVec::with_capacity(count, GFP_KERNEL)?;
    for r in &info.ranges[..count] {
        ranges.push(
            map::Range {
                id: r.id,
                ip: r.ip,
                count: r.count,
            },
            GFP_KERNEL,
        )?;
    }
    if let Err(e) = map::validate(&ranges) {
        pr_warn!("map rejected: {:?}\n", e);
        return Err(EINVAL);
    }
    let self_id = if info.self_id != 0 {
        if !map::nodes(&ranges).any(|(id, _)| id == info.self_id) {
            pr_warn!("map rejected: node {} is not in it\n", info.self_id);
            return Err(EINVAL);
        }
        info.self_id
    } else {
        match map::nodes(&ranges).find(|&(_, ip)| sys::is_local_ipv4(ip)) {
            Some((id, _)) => id,
            None => {
                pr_warn!("map rejected: none of its addresses is local\n");
                return Err(EINVAL);
            }
        }
    };
    let port = if info.port == 0 {
        uapi::DEFAULT_PORT
    } else {
        info.port
    };
    Ok((ranges, self_id, port))
}
