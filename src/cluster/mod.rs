// SPDX-License-Identifier: GPL-2.0
//! Cluster core: the cluster map, membership, peer connections and load gossip.
//!
//! Threads (all stopped on module unload, also while peers are connected and sending):
//! - `oxmosix-listen`: accepts peer connections on the map's TCP port and runs their handshake;
//! - `oxmosix-gossip`: samples this node's load every decay interval; every gossip interval it
//!   refreshes this node's load-vector entry, pushes it plus the freshest K entries to one random
//!   connected peer, marks silent nodes down, connects to peers it has no connection with (with
//!   exponential backoff) and reaps closed connections;
//! - `oxmosix-rx/N`: one per connection, decodes frames, merges load entries and answers pushes.
//!
//! At most one connection exists per pair of nodes. Either side may establish it; if both do at
//! once, both keep the one initiated by the lower node id (a newer connection from the same
//! initiator replaces an older one: the peer restarted). See `Documentation/protocol.md`.

pub(crate) mod bench;
mod peer;

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use kernel::c_str;
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex};

use crate::balance::load;
use crate::balance::vector::{self, Slot};
use crate::kapi::kthread::{self, KThread};
use crate::kapi::net::TcpSocket;
use crate::kapi::{errno, sys};
use crate::map;
use crate::proto::{self, flags, LoadEntry, MsgType};
use crate::uapi;

pub(crate) use peer::Conn;

/// Default gossip interval in milliseconds.
pub(crate) const GOSSIP_INTERVAL_MS: u32 = 1000;
/// Default time without news after which a node is marked down, in milliseconds.
pub(crate) const NODE_TIMEOUT_MS: u32 = 5000;
/// Default memory ushering threshold, KiB.
pub(crate) const USHER_KIB: u64 = 32 * 1024;
/// Default number of other nodes' entries sent with each gossip message (K).
pub(crate) const GOSSIP_K: usize = 16;
/// Reconnect backoff: first delay and cap, in milliseconds.
const BACKOFF_MIN_MS: u32 = 500;
const BACKOFF_MAX_MS: u32 = 8000;

/// Tunables and policy flags of this node.
#[derive(Clone, Copy)]
pub(crate) struct Params {
    /// Relative speed (reference CPU = 10000).
    pub(crate) speed: u32,
    /// Load sampling interval in ms.
    pub(crate) decay_interval_ms: u32,
    /// Per mille kept per interval.
    pub(crate) slow_decay: u32,
    /// Per mille kept per interval.
    pub(crate) fast_decay: u32,
    /// Gossip interval in ms.
    pub(crate) gossip_interval_ms: u32,
    /// Down timeout in ms.
    pub(crate) timeout_ms: u32,
    /// Policy flags ([`proto::flags`]).
    pub(crate) flags: u32,
    /// Memory ushering threshold in KiB: below this much available memory the balancer moves
    /// processes to nodes with room (0: off).
    pub(crate) usher_kib: u64,
}

/// The load vector as the balancer reads it ([`Shared::load_vector`]).
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

/// Counters of `/proc/hpc/info`.
pub(crate) struct Stats {
    pub(crate) tx_frames: [AtomicU64; MsgType::COUNT + 1],
    pub(crate) tx_bytes: [AtomicU64; MsgType::COUNT + 1],
    pub(crate) rx_frames: [AtomicU64; MsgType::COUNT + 1],
    pub(crate) rx_bytes: [AtomicU64; MsgType::COUNT + 1],
    pub(crate) malformed: AtomicU64,
    pub(crate) connects: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    pub(crate) accepts: AtomicU64,
    pub(crate) handshake_failures: AtomicU64,
    pub(crate) duplicates: AtomicU64,
    pub(crate) quiet_dropped: AtomicU64,
}

impl Stats {
    fn new() -> Stats {
        Stats {
            tx_frames: Default::default(),
            tx_bytes: Default::default(),
            rx_frames: Default::default(),
            rx_bytes: Default::default(),
            malformed: AtomicU64::new(0),
            connects: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            accepts: AtomicU64::new(0),
            handshake_failures: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            quiet_dropped: AtomicU64::new(0),
        }
    }

    fn bump(a: &AtomicU64, by: u64) {
        a.fetch_add(by, Ordering::Relaxed);
    }
}

/// A peer of this node (a map node other than itself).
struct Peer {
    id: u32,
    ip: u32,
    conn: Option<Arc<Conn>>,
    thread: Option<KThread>,
    next_try_ms: u64,
    backoff_ms: u32,
    ever_connected: bool,
}

/// Everything the cluster threads share, under one mutex.
pub(crate) struct State {
    generation: u32,
    ranges: KVec<map::Range>,
    port: u16,
    self_id: u32,
    slots: KVec<Slot>,
    peers: KVec<Peer>,
    pub(crate) params: Params,
    avg: load::LoadAverager,
    util_acc: u64,
    util_samples: u64,
    util: u16,
}

/// The cluster state shared by the threads, `/proc/hpc` and `/dev/mosix`.
#[pin_data]
pub(crate) struct Shared {
    #[pin]
    state: Mutex<State>,
    #[pin]
    listener: Mutex<Option<Listener>>,
    stop: AtomicBool,
    /// Set when the map changed: the gossip thread runs a round (and connects) at its next tick.
    kick: AtomicBool,
    pub(crate) stats: Stats,
    incarnation: u64,
    /// Processes migrated from or to this node.
    #[pin]
    pub(crate) mig: crate::migrate::Registry,
    /// Bench answers received (see [`bench`]).
    #[pin]
    bench: Mutex<u64>,
    #[pin]
    bench_cv: kernel::sync::CondVar,
    /// The load balancer's state: its thread's rounds and `migrate PID balance` take turns.
    #[pin]
    pub(crate) balancer: Mutex<crate::balancer::Balancer>,
}

/// The listening socket and its thread.
struct Listener {
    port: u16,
    sock: Arc<TcpSocket>,
    _thread: KThread,
}

/// What this node knows about one node (for `/proc/hpc/nodes` and `NODEINFO`).
pub(crate) struct NodeView {
    pub(crate) slot: Slot,
    pub(crate) is_self: bool,
    pub(crate) connected: bool,
    pub(crate) age_ms: u64,
}

/// A connection taken out of the peer table, to be closed without holding the state lock.
struct Doomed {
    conn: Arc<Conn>,
    thread: Option<KThread>,
}

impl Doomed {
    fn close(self, bye: Option<u32>, shared: &Shared) {
        if let Some(reason) = bye {
            let _ = self
                .conn
                .send(shared, MsgType::Bye, &proto::encode_bye(reason));
        }
        self.conn.close();
        drop(self.thread);
    }
}

impl Shared {
    /// Creates the shared state; nothing runs until a map is loaded.
    pub(crate) fn new() -> Result<Arc<Shared>> {
        let state = State {
            generation: 0,
            ranges: KVec::new(),
            port: uapi::DEFAULT_PORT,
            self_id: 0,
            slots: KVec::new(),
            peers: KVec::new(),
            params: Params {
                speed: load::REFERENCE_SPEED,
                decay_interval_ms: load::DEFAULT_DECAY_INTERVAL_MS,
                slow_decay: load::DEFAULT_SLOW_DECAY,
                fast_decay: load::DEFAULT_FAST_DECAY,
                gossip_interval_ms: GOSSIP_INTERVAL_MS,
                timeout_ms: NODE_TIMEOUT_MS,
                usher_kib: USHER_KIB,
                flags: 0,
            },
            avg: load::LoadAverager::default(),
            util_acc: 0,
            util_samples: 0,
            util: 0,
        };
        Arc::pin_init(
            pin_init!(Shared {
                state <- new_mutex!(state, "oxmosix::state"),
                listener <- new_mutex!(None, "oxmosix::listener"),
                stop: AtomicBool::new(false),
                kick: AtomicBool::new(false),
                stats: Stats::new(),
                incarnation: sys::random_u64(),
                mig <- crate::migrate::Registry::new(),
                bench <- new_mutex!(0, "oxmosix::bench"),
                bench_cv <- kernel::new_condvar!("oxmosix::bench::cv"),
                balancer <- new_mutex!(crate::balancer::Balancer::new(), "oxmosix::balancer"),
            }),
            GFP_KERNEL,
        )
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

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

    /// Sends one frame to node `id` over its connection. Errors: `EHOSTUNREACH` without a
    /// connection, or the send error (which closes the connection).
    pub(crate) fn send_to(&self, id: u32, t: MsgType, parts: &[&[u8]]) -> Result {
        let conn = self.with_state(|s| {
            s.peers
                .iter()
                .find(|p| p.id == id)
                .and_then(|p| p.conn.clone())
        });
        match conn {
            Some(c) => c.send_parts(self, t, parts),
            None => Err(errno::ehostunreach()),
        }
    }

    /// Runs `f` with the state locked.
    pub(crate) fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut g = self.state.lock();
        f(&mut g)
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
    pub(crate) fn set_map(this: &Arc<Shared>, info: &uapi::MapInfo) -> Result {
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
                    };
                    if keep {
                        if let Some(old) = s.peers.iter_mut().find(|p| p.id == id) {
                            p.conn = old.conn.take();
                            p.thread = old.thread.take();
                            p.ever_connected = old.ever_connected;
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

    fn ensure_listener(this: &Arc<Shared>, port: u16) -> Result {
        let mut l = this.listener.lock();
        if l.as_ref().is_some_and(|l| l.port == port) {
            return Ok(());
        }
        if let Some(old) = l.take() {
            old.sock.shutdown();
            drop(old);
        }
        let sock = Arc::new(TcpSocket::listen(port, 64, 200)?, GFP_KERNEL)?;
        let (sh, so) = (this.clone(), sock.clone());
        let thread = KThread::spawn(c_str!("oxmosix-listen"), move || {
            peer::listen_loop(&sh, &so)
        })?;
        *l = Some(Listener {
            port,
            sock,
            _thread: thread,
        });
        Ok(())
    }

    /// Sets a parameter (ioctl SETPARAM and `/proc/hpc/admin` writes). Errors: `EINVAL`.
    pub(crate) fn set_param(&self, key: u32, value: u64) -> Result {
        let flag = |f: u32| -> Result<(u32, bool)> {
            match value {
                0 => Ok((f, false)),
                1 => Ok((f, true)),
                _ => Err(EINVAL),
            }
        };
        let in_range = |lo: u32, hi: u32| -> Result<u32> {
            if value < u64::from(lo) || value > u64::from(hi) {
                Err(EINVAL)
            } else {
                Ok(value as u32)
            }
        };
        let mut s = self.state.lock();
        let p = &mut s.params;
        match key {
            uapi::param::STAY | uapi::param::LSTAY | uapi::param::BLOCK | uapi::param::QUIET => {
                let bit = match key {
                    uapi::param::STAY => flags::STAY,
                    uapi::param::LSTAY => flags::LSTAY,
                    uapi::param::BLOCK => flags::BLOCK,
                    _ => flags::QUIET,
                };
                let (f, on) = flag(bit)?;
                if on {
                    p.flags |= f;
                } else {
                    p.flags &= !f;
                }
            }
            uapi::param::SPEED => p.speed = in_range(1, proto::MAX_SPEED)?,
            uapi::param::DECAY_INTERVAL => {
                p.decay_interval_ms = in_range(
                    load::DECAY_INTERVAL_RANGE_MS.0,
                    load::DECAY_INTERVAL_RANGE_MS.1,
                )?
            }
            uapi::param::SLOW_DECAY => p.slow_decay = in_range(0, load::MAX_DECAY)?,
            uapi::param::FAST_DECAY => p.fast_decay = in_range(0, load::MAX_DECAY)?,
            uapi::param::GOSSIP_INTERVAL => p.gossip_interval_ms = in_range(100, 60_000)?,
            uapi::param::TIMEOUT => p.timeout_ms = in_range(1000, 600_000)?,
            uapi::param::USHER => {
                if value > 1 << 40 {
                    return Err(EINVAL);
                }
                p.usher_kib = value;
            }
            // No process can be away or a guest before migration exists: nothing to move.
            uapi::param::EXPEL | uapi::param::BRING => {
                flag(0)?;
            }
            _ => return Err(EINVAL),
        }
        Ok(())
    }

    /// Reads a parameter. Errors: `EINVAL` for an unknown key.
    pub(crate) fn get_param(&self, key: u32) -> Result<u64> {
        let s = self.state.lock();
        let p = &s.params;
        let bit = |f: u32| u64::from(p.flags & f != 0);
        Ok(match key {
            uapi::param::STAY => bit(flags::STAY),
            uapi::param::LSTAY => bit(flags::LSTAY),
            uapi::param::BLOCK => bit(flags::BLOCK),
            uapi::param::QUIET => bit(flags::QUIET),
            uapi::param::SPEED => p.speed.into(),
            uapi::param::DECAY_INTERVAL => p.decay_interval_ms.into(),
            uapi::param::SLOW_DECAY => p.slow_decay.into(),
            uapi::param::FAST_DECAY => p.fast_decay.into(),
            uapi::param::EXPEL | uapi::param::BRING => 0,
            uapi::param::MOSPE => s.self_id.into(),
            uapi::param::GOSSIP_INTERVAL => p.gossip_interval_ms.into(),
            uapi::param::TIMEOUT => p.timeout_ms.into(),
            uapi::param::USHER => p.usher_kib,
            _ => return Err(EINVAL),
        })
    }
}

/// The running cluster core, owned by the module; dropping it stops every thread and closes
/// every connection (sending Bye to connected peers).
pub(crate) struct Cluster {
    shared: Arc<Shared>,
    gossip: Option<KThread>,
    balance: Option<KThread>,
}

impl Cluster {
    /// Starts the gossip and balancer threads (idle until a map is loaded).
    pub(crate) fn start() -> Result<Cluster> {
        let shared = Shared::new()?;
        let sh = shared.clone();
        let gossip = KThread::spawn(c_str!("oxmosix-gossip"), move || gossip_loop(&sh))?;
        let sh = shared.clone();
        let balance = KThread::spawn(c_str!("oxmosix-balance"), move || {
            crate::balancer::run(&sh, &sh.balancer)
        })?;
        Ok(Cluster {
            shared,
            gossip: Some(gossip),
            balance: Some(balance),
        })
    }

    /// Stops the balancer thread (waiting for a move it is making): no new migrations start
    /// while the module unloads.
    pub(crate) fn stop_balancer(&mut self) {
        drop(self.balance.take());
    }

    /// The shared state, for `/proc/hpc` and `/dev/mosix`.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let sh = &self.shared;
        sh.stop.store(true, Ordering::Relaxed);
        let listener = sh.listener.lock().take();
        if let Some(l) = listener {
            l.sock.shutdown();
            drop(l);
        }
        drop(self.balance.take());
        drop(self.gossip.take());
        // One connection at a time, closed without holding the state lock (closing waits for
        // its receiver thread, which may be waiting for that lock).
        loop {
            let next = sh.with_state(|s| {
                s.peers.iter_mut().find_map(|p| {
                    p.conn.take().map(|conn| Doomed {
                        conn,
                        thread: p.thread.take(),
                    })
                })
            });
            match next {
                Some(d) => d.close(Some(proto::bye::SHUTDOWN), sh),
                None => break,
            }
        }
    }
}

/// Body of `oxmosix-gossip`.
fn gossip_loop(sh: &Arc<Shared>) {
    let mut next_gossip = 0u64;
    while !kthread::should_stop() {
        let now = sys::monotonic_ms();
        let p = sh.with_state(|s| {
            // The sampling thread itself is running: do not count it.
            let runnable = sys::nr_running().saturating_sub(1);
            let (fd, sd) = (s.params.fast_decay, s.params.slow_decay);
            s.avg.sample(runnable, fd, sd);
            s.util_acc += u64::from(load::busy_share(runnable, sys::online_cpus()));
            s.util_samples += 1;
            s.params
        });
        crate::migrate::check_stops(sh);
        if now >= next_gossip || sh.kick.swap(false, Ordering::Relaxed) {
            next_gossip = now + u64::from(p.gossip_interval_ms);
            gossip_round(sh, now);
            peer::maintain(sh, now);
            crate::migrate::check_peers(sh, now, u64::from(p.timeout_ms));
        }
        let wait = p
            .decay_interval_ms
            .min((next_gossip.saturating_sub(now)) as u32)
            .max(1);
        kthread::sleep_ms(wait);
    }
}

/// This node's own load-vector entry, computed now.
fn own_entry(s: &mut State) -> LoadEntry {
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
        stamp: sys::realtime_ms(),
        age_ms: 0,
        load: load::normalized(s.avg.raw(), cpus, s.params.speed),
        speed: s.params.speed,
        cpus: cpus.min(u32::from(proto::MAX_CPUS)) as u16,
        util: s.util,
        tmem_kib: tmem,
        fmem_kib: fmem.min(tmem),
        amem_kib: amem.min(tmem),
    }
}

/// One gossip round: refresh the own entry, expire silent nodes, push to one random peer.
fn gossip_round(sh: &Arc<Shared>, now: u64) {
    let mut entries = [LoadEntry::default(); GOSSIP_K + 1];
    let target = sh.with_state(|s| {
        if s.self_id == 0 {
            return None;
        }
        let e = own_entry(s);
        vector::set_own(&mut s.slots, &e, now);
        let timeout = u64::from(s.params.timeout_ms);
        vector::expire(&mut s.slots, s.self_id, now, timeout, |n| {
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
        let _ = conn.send_load(sh, &entries[..n], false);
        // And measure the round trip to it (for the balancer's cost of forwarded calls).
        conn.ping(sh);
    }
}
