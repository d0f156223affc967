// SPDX-License-Identifier: GPL-2.0
//! Cluster core: transport and membership. The cluster map, peer connections, load gossip, and
//! the table of features the transport serves.
//!
//! Threads (all stopped on module unload, also while peers are connected and sending):
//! - `oxmosix-listen`: accepts peer connections on the map's TCP port and queues them;
//! - `oxmosix-hs` (two): run the queued connections' handshakes, each within a deadline, so no
//!   connection can stall the listener ([`listen`]);
//! - `oxmosix-gossip`: samples this node's load every decay interval; every gossip interval it
//!   refreshes this node's load-vector entry, pushes it plus the freshest K entries to one random
//!   connected peer, marks silent nodes down, connects to peers it has no connection with (with
//!   exponential backoff) and reaps closed connections ([`gossip`]);
//! - `oxmosix-rx/N`: one per connection, decodes frames, merges load entries and answers pushes;
//!   frames of the kinds a feature registered go to that feature ([`Feature`]).
//!
//! The transport knows no feature: a feature (process migration is one) registers the message
//! kinds it handles and gets periodic ticks from the gossip thread ([`Cluster::register`]), as
//! Popcorn Linux's message layer keeps a callback table that each server fills at init.
//!
//! At most one connection exists per pair of nodes. Either side may establish it; if both do at
//! once, both keep the one initiated by the lower node id (a newer connection from the same
//! initiator replaces an older one: the peer restarted). See `Documentation/protocol.md`.

pub(crate) mod bench;
mod gossip;
mod handshake;
pub(crate) mod keys;
mod link;
mod listen;
mod membership;
mod params;
mod peer;
mod stats;

use core::sync::atomic::{AtomicBool, Ordering};

use kernel::c_str;
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex};

use crate::kapi::kthread::KThread;
use crate::kapi::net::TcpSocket;
use crate::kapi::{errno, sys};
use crate::load::vector::Slot;
use crate::load::{self};
use crate::map;
use crate::proto::{self, Message, MsgType};
use crate::uapi;

pub(crate) use membership::{LoadVector, NodeView};
pub(crate) use params::Params;
pub(crate) use peer::Conn;
pub(crate) use stats::Stats;

/// Reconnect backoff: first delay and cap, in milliseconds.
const BACKOFF_MIN_MS: u32 = 500;
const BACKOFF_MAX_MS: u32 = 8000;

/// A feature of the node that the transport serves (process migration is one). It handles the
/// message kinds it registered with [`Cluster::register`] and gets periodic ticks from the gossip
/// thread. Its calls run on the cluster's threads: they must not wait for a peer.
pub(crate) trait Feature: Send + Sync {
    /// Name for log lines ("{name} message from node N dropped: ...").
    fn name(&self) -> &'static str;

    /// A frame of a registered kind arrived from node `from`, on the receive thread of the
    /// connection with it. An error is logged and the frame dropped; the connection stays.
    fn on_message(&self, from: u32, m: &Message<'_>) -> Result;

    /// Every decay interval (100 ms by default), before the gossip round if one is due;
    /// `now_ms` is the monotonic clock.
    fn on_sample_tick(&self, _now_ms: u64) {}

    /// Every gossip round (1 s by default), after dead connections were reaped and peers
    /// reconnected; `timeout_ms` is the node timeout of `/proc/hpc/admin/timeout`.
    fn on_gossip_tick(&self, _now_ms: u64, _timeout_ms: u64) {}

    /// Node `peer` connected again as a new incarnation (its module was reloaded or it
    /// rebooted, however quickly): whatever depended on its old incarnation is gone. Called
    /// once per change, before any frame of the new incarnation is handled.
    fn on_peer_restart(&self, _peer: u32) {}
}

/// A registered feature and its message kinds (bit `t` for `MsgType` value `t`).
struct Registered {
    kinds: u64,
    feature: Arc<dyn Feature>,
}

/// The kinds the transport handles itself: a feature cannot take them.
const TRANSPORT_KINDS: [MsgType; 8] = [
    MsgType::Hello,
    MsgType::Finished,
    MsgType::Load,
    MsgType::Ping,
    MsgType::Pong,
    MsgType::Bench,
    MsgType::Bye,
    MsgType::Ack,
];

/// Whether frames of kind `t` belong to a feature (numbered and delivered exactly once: see
/// [`link`]) rather than to the transport itself.
fn is_feature_kind(t: MsgType) -> bool {
    !TRANSPORT_KINDS.contains(&t)
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
    /// The incarnation its last connection's handshake named (0: never connected).
    incarnation: u64,
    /// Fault injection ([`Cluster::cut`]): no connection with it before this time (ms).
    cut_until: u64,
}

impl Peer {
    /// `ECONNREFUSED` while its link is cut ([`Cluster::cut`]).
    fn refuse_if_cut(&self) -> Result {
        if sys::monotonic_ms() < self.cut_until {
            return Err(errno::econnrefused());
        }
        Ok(())
    }
}

/// Everything the cluster threads share, under one mutex.
pub(crate) struct State {
    generation: u32,
    ranges: KVec<map::Range>,
    port: u16,
    self_id: u32,
    slots: KVec<Slot>,
    peers: KVec<Peer>,
    /// Delivery state per peer node ever connected with, its latest incarnation's: kept when the
    /// map drops the node (numbering must go on if it comes back as the same incarnation),
    /// replaced when the node comes back as another one; freed at unload.
    links: KVec<Arc<link::Link>>,
    pub(crate) params: Params,
    avg: load::LoadAverager,
    util_acc: u64,
    util_samples: u64,
    util: u16,
}

/// The cluster core shared by its threads and the node's features: membership, connections,
/// parameters and the transport's counters.
#[pin_data]
pub(crate) struct Cluster {
    #[pin]
    state: Mutex<State>,
    #[pin]
    listener: Mutex<Option<Listener>>,
    /// Accepted connections waiting for a handshake thread (see `listen.rs`).
    #[pin]
    pending: Mutex<[Option<listen::Pending>; listen::MAX_PENDING]>,
    #[pin]
    pending_cv: kernel::sync::CondVar,
    stop: AtomicBool,
    /// Set when the map changed: the gossip thread runs a round (and connects) at its next tick.
    kick: AtomicBool,
    pub(crate) stats: Stats,
    incarnation: u64,
    /// The features served, with the message kinds each handles.
    #[pin]
    features: Mutex<KVec<Registered>>,
    /// The cluster keys ([`keys`]); never held with `state` taken after it.
    #[pin]
    keys: Mutex<keys::KeyRing>,
    /// Rate limit of the log lines about refused connections.
    refusals_logged: crate::counters::RateLimit,
    /// Bench answers received (see [`bench`]).
    #[pin]
    bench: Mutex<u64>,
    #[pin]
    bench_cv: kernel::sync::CondVar,
}

/// The listening socket, its accepting thread and its handshake threads.
struct Listener {
    port: u16,
    sock: Arc<TcpSocket>,
    _thread: KThread,
    _handshakers: KVec<KThread>,
}

/// A connection taken out of the peer table, to be closed without holding the state lock.
struct Doomed {
    conn: Arc<Conn>,
    thread: Option<KThread>,
}

impl Doomed {
    fn close(self, bye: Option<u32>, cluster: &Cluster) {
        if let Some(reason) = bye {
            let _ = self
                .conn
                .send(cluster, MsgType::Bye, &proto::encode_bye(reason));
        }
        self.conn.close();
        self.conn.link.detach(&self.conn);
        drop(self.thread);
    }
}

impl Cluster {
    /// Fault injection (the failure tests, `/proc/hpc/admin/fault`): cuts the link with node
    /// `peer` for `ms` ms as a failed network would. Its connection closes without a word and
    /// none is made or accepted before the time is up; frames sent meanwhile wait in the
    /// delivery ring, as for any lost link, and the node timeout applies as usual.
    pub(crate) fn cut(&self, peer: u32, ms: u32) {
        let doomed = self.with_state(|st| {
            let p = st.peers.iter_mut().find(|p| p.id == peer)?;
            p.cut_until = sys::monotonic_ms() + u64::from(ms);
            p.next_try_ms = p.cut_until;
            let conn = p.conn.take()?;
            Some(Doomed {
                conn,
                thread: p.thread.take(),
            })
        });
        pr_warn!(
            "link with node {} cut for {} ms (fault injection)\n",
            peer,
            ms
        );
        if let Some(d) = doomed {
            d.close(None, self);
        }
    }

    /// Whether the link with the peer at address `ip` is cut ([`Cluster::cut`]).
    fn cut_from(&self, ip: u32) -> bool {
        let now = sys::monotonic_ms();
        self.with_state(|st| st.peers.iter().any(|p| p.ip == ip && now < p.cut_until))
    }

    /// Creates the cluster core; nothing runs until a map is loaded.
    fn new() -> Result<Arc<Cluster>> {
        let state = State {
            generation: 0,
            ranges: KVec::new(),
            port: uapi::DEFAULT_PORT,
            self_id: 0,
            slots: KVec::new(),
            peers: KVec::new(),
            links: KVec::new(),
            params: Params::new(),
            avg: load::LoadAverager::default(),
            util_acc: 0,
            util_samples: 0,
            util: 0,
        };
        Arc::pin_init(
            pin_init!(Cluster {
                state <- new_mutex!(state, "oxmosix::state"),
                listener <- new_mutex!(None, "oxmosix::listener"),
                pending <- new_mutex!(listen::no_pending(), "oxmosix::pending"),
                pending_cv <- kernel::new_condvar!("oxmosix::pending::cv"),
                stop: AtomicBool::new(false),
                kick: AtomicBool::new(false),
                stats: Stats::new(),
                incarnation: sys::random_u64(),
                features <- new_mutex!(KVec::new(), "oxmosix::features"),
                keys <- new_mutex!(keys::KeyRing::default(), "oxmosix::keys"),
                refusals_logged: crate::counters::RateLimit::new(),
                bench <- new_mutex!(0, "oxmosix::bench"),
                bench_cv <- kernel::new_condvar!("oxmosix::bench::cv"),
            }),
            GFP_KERNEL,
        )
    }

    /// Installs the cluster key made from `secret` (16..=64 bytes); `retire` stops accepting
    /// the key it replaces at once. A node that had no key starts joining now. Errors:
    /// `EINVAL` (length), `ENOKEY` (the kernel lacks `hmac(sha256)`), `ENOMEM`.
    pub(crate) fn set_key(&self, secret: &[u8], retire: bool) -> Result {
        if secret.len() < keys::SECRET_MIN || secret.len() > keys::SECRET_MAX {
            return Err(EINVAL);
        }
        let mut kdf = crate::kapi::crypto::Kdf::new().map_err(|_| errno::enokey())?;
        let k = keys::ClusterKey::from_secret(&mut kdf, secret).map_err(|_| errno::enokey())?;
        let had = {
            let mut g = self.keys.lock();
            let had = g.has_key();
            g.install(k, retire, sys::monotonic_ms());
            had
        };
        if !had {
            pr_info!("cluster key installed: joining\n");
        }
        self.kick.store(true, Ordering::Relaxed);
        Ok(())
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Registers `feature` as the handler of the message `kinds`. Errors: `EINVAL` for a kind of
    /// the transport's own, `EBUSY` for a kind another feature handles, `ENOMEM`.
    pub(crate) fn register(&self, kinds: &[MsgType], feature: Arc<dyn Feature>) -> Result {
        let mut mask = 0u64;
        for &k in kinds {
            if TRANSPORT_KINDS.contains(&k) {
                return Err(EINVAL);
            }
            mask |= 1 << (k as u8);
        }
        let mut g = self.features.lock();
        if g.iter().any(|r| r.kinds & mask != 0) {
            return Err(EBUSY);
        }
        g.push(
            Registered {
                kinds: mask,
                feature,
            },
            GFP_KERNEL,
        )?;
        Ok(())
    }

    /// The feature that handles message kind `t`, if any.
    fn feature_for(&self, t: MsgType) -> Option<Arc<dyn Feature>> {
        let g = self.features.lock();
        g.iter()
            .find(|r| r.kinds & (1 << (t as u8)) != 0)
            .map(|r| r.feature.clone())
    }

    /// Runs `f` for every registered feature (outside the table's lock).
    fn for_each_feature(&self, f: impl Fn(&dyn Feature)) {
        let all = {
            let g = self.features.lock();
            let mut v = KVec::new();
            if v.reserve(g.len(), GFP_KERNEL).is_err() {
                return;
            }
            for r in g.iter() {
                // Reserved above: cannot fail.
                let _ = v.push(r.feature.clone(), GFP_ATOMIC);
            }
            v
        };
        for feature in all.iter() {
            f(&**feature);
        }
    }

    /// Sends one frame to node `id`. A feature's frame goes to the delivery state of the node's
    /// latest incarnation (`link::Link::send`: delivered exactly once if that incarnation is
    /// reached again, also when no connection is up right now). Errors: `EHOSTUNREACH` when
    /// never connected with it (and, for the transport's frames, without a connection),
    /// `ENOBUFS`, or the send error (which closes the connection).
    pub(crate) fn send_to(&self, id: u32, t: MsgType, parts: &[&[u8]]) -> Result {
        if is_feature_kind(t) {
            let link = self.with_state(|s| s.links.iter().find(|l| l.peer == id).cloned());
            return match link {
                Some(l) => l.send(self, t, parts),
                None => Err(errno::ehostunreach()),
            };
        }
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
}

/// The running cluster core, owned by the node; dropping it stops every thread, closes every
/// connection (sending Bye to connected peers) and forgets the registered features.
pub(crate) struct ClusterThreads {
    cluster: Arc<Cluster>,
    gossip: Option<KThread>,
}

impl ClusterThreads {
    /// Creates the cluster core and starts its gossip thread (idle until a map is loaded).
    pub(crate) fn start() -> Result<ClusterThreads> {
        let cluster = Cluster::new()?;
        let c = cluster.clone();
        let gossip = KThread::spawn(c_str!("oxmosix-gossip"), move || gossip::gossip_loop(&c))?;
        Ok(ClusterThreads {
            cluster,
            gossip: Some(gossip),
        })
    }

    /// The cluster core.
    pub(crate) fn cluster(&self) -> &Arc<Cluster> {
        &self.cluster
    }
}

impl Drop for ClusterThreads {
    fn drop(&mut self) {
        let c = &self.cluster;
        c.stop.store(true, Ordering::Relaxed);
        let listener = c.listener.lock().take();
        if let Some(l) = listener {
            l.sock.shutdown();
            drop(l);
        }
        listen::drop_pending(c);
        drop(self.gossip.take());
        // One connection at a time, closed without holding the state lock (closing waits for
        // its receiver thread, which may be waiting for that lock).
        loop {
            let next = c.with_state(|s| {
                s.peers.iter_mut().find_map(|p| {
                    p.conn.take().map(|conn| Doomed {
                        conn,
                        thread: p.thread.take(),
                    })
                })
            });
            match next {
                Some(d) => d.close(Some(proto::bye::SHUTDOWN), c),
                None => break,
            }
        }
        let links = c.with_state(|s| core::mem::take(&mut s.links));
        drop(links);
        // No thread calls a feature any more: drop them (they hold the cluster in turn).
        let features = core::mem::take(&mut *c.features.lock());
        drop(features);
    }
}
