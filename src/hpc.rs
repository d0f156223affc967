// SPDX-License-Identifier: GPL-2.0
//! The `/proc/hpc` tree, the openMosix administration interface. Reference:
//! `Documentation/proc-hpc.md`.
//!
//! ```text
//! /proc/hpc/admin/{version,config,mospe}                         read-only
//! /proc/hpc/admin/{block,stay,lstay,quiet,expel,bring}           0/1
//! /proc/hpc/admin/{speed,decay_interval,slow_decay,fast_decay,gossip_interval,timeout}
//! /proc/hpc/admin/fault                                          fault injection (tests)
//! /proc/hpc/nodes/<id>/{cpus,load,mem,rmem,tmem,speed,status,util}
//! /proc/hpc/info/{counters,malformed,migration}
//! /proc/hpc/procs                                                migrated processes
//! /proc/hpc/{goto,lock}                                          write "PID NODE|home", "PID 0|1"
//! ```

use core::fmt::Write;

use kernel::c_str;
use kernel::fmt;
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::str::CString;
use kernel::sync::{Arc, Mutex};

use crate::kapi::procfs::{DirId, ProcHandler, ProcTree, SeqWriter};
use crate::node::Node;
use crate::proto::flags;
use crate::uapi::{self, param};

/// `/proc/hpc/admin` files: (name, key, mode, parameter).
const ADMIN: &[(&kernel::str::CStr, u32, u16, u32)] = &[
    (c_str!("version"), 1, 0o444, 0),
    (c_str!("config"), 2, 0o444, 0),
    (c_str!("mospe"), 3, 0o444, param::MOSPE),
    (c_str!("block"), 4, 0o644, param::BLOCK),
    (c_str!("stay"), 5, 0o644, param::STAY),
    (c_str!("lstay"), 6, 0o644, param::LSTAY),
    (c_str!("quiet"), 7, 0o644, param::QUIET),
    (c_str!("expel"), 8, 0o644, param::EXPEL),
    (c_str!("bring"), 9, 0o644, param::BRING),
    (c_str!("speed"), 10, 0o644, param::SPEED),
    (c_str!("decay_interval"), 11, 0o644, param::DECAY_INTERVAL),
    (c_str!("slow_decay"), 12, 0o644, param::SLOW_DECAY),
    (c_str!("fast_decay"), 13, 0o644, param::FAST_DECAY),
    (c_str!("gossip_interval"), 14, 0o644, param::GOSSIP_INTERVAL),
    (c_str!("timeout"), 15, 0o644, param::TIMEOUT),
    (c_str!("usher"), 16, 0o644, param::USHER),
    (c_str!("allow_root"), 17, 0o644, param::ALLOW_ROOT),
    (c_str!("max_guests"), 18, 0o644, param::MAX_GUESTS),
    (c_str!("exec_place"), 19, 0o644, param::EXEC_PLACE),
];
const INFO_COUNTERS: u32 = 20;
const INFO_MALFORMED: u32 = 21;
const PROCS: u32 = 22;
const INFO_MIGRATION: u32 = 23;
const INFO_BALANCE: u32 = 26;
const GOTO: u32 = 24;
const FAULT: u32 = 27;
const LOCK: u32 = 25;

/// Per-node files; their key is `NODE_BASE | id << 4 | index`.
const NODE_FILES: [&kernel::str::CStr; 8] = [
    c_str!("cpus"),
    c_str!("load"),
    c_str!("mem"),
    c_str!("rmem"),
    c_str!("tmem"),
    c_str!("speed"),
    c_str!("status"),
    c_str!("util"),
];
const NODE_BASE: u32 = 1 << 24;

/// The handler behind every `/proc/hpc` file.
struct Hpc {
    node: Arc<Node>,
}

fn admin_param(key: u32) -> Option<u32> {
    ADMIN.iter().find(|a| a.1 == key).map(|a| a.3)
}

impl Hpc {
    fn show_node(&self, id: u32, idx: u32, out: &mut SeqWriter) -> core::fmt::Result {
        let Some(v) = self.node.node_view(id) else {
            return writeln!(out, "unknown");
        };
        let e = &v.slot.entry;
        match idx {
            0 => writeln!(out, "{}", e.cpus),
            1 => writeln!(out, "{}", e.load),
            // Memory in KiB (openMosix meanings): mem = available for processes, rmem = raw free
            // memory, tmem = total.
            2 => writeln!(out, "{}", e.amem_kib),
            3 => writeln!(out, "{}", e.fmem_kib),
            4 => writeln!(out, "{}", e.tmem_kib),
            5 => writeln!(out, "{}", e.speed),
            6 => {
                let state = if v.slot.up {
                    "up"
                } else if v.slot.known {
                    "down"
                } else {
                    "unknown"
                };
                write!(out, "{state}")?;
                for (bit, name) in [
                    (flags::BLOCK, "block"),
                    (flags::STAY, "stay"),
                    (flags::LSTAY, "lstay"),
                    (flags::QUIET, "quiet"),
                    (flags::EXPEL, "expel"),
                ] {
                    if e.flags & bit != 0 {
                        write!(out, " {name}")?;
                    }
                }
                if v.is_self {
                    write!(out, " self")?;
                } else if v.connected {
                    write!(out, " connected")?;
                }
                writeln!(out)
            }
            // Utilization in percent.
            _ => writeln!(out, "{}", e.util / 100),
        }
    }
}

impl Hpc {
    /// `/proc/hpc/procs`: one line per process this node tracks:
    /// `pid home_pid home where nmigs state cantmove comm` (state: home, deputy, guest,
    /// migrating; cantmove: the `uapi::cantmove` code).
    fn show_procs(&self, out: &mut SeqWriter) -> Result {
        for v in self.node.procs()?.iter() {
            let state = match v.state {
                uapi::pstate::DEPUTY => "deputy",
                uapi::pstate::GUEST => "guest",
                uapi::pstate::MIGRATING => "migrating",
                _ => "home",
            };
            let end = v.comm.iter().position(|&c| c == 0).unwrap_or(16);
            let comm = core::str::from_utf8(&v.comm[..end]).unwrap_or("?");
            writeln!(
                out,
                "{} {} {} {} {} {} {} {}",
                v.pid, v.home_pid, v.home, v.where_, v.nmigs, state, v.cantmove, comm
            )
            .map_err(|_| EINVAL)?;
        }
        Ok(())
    }
}

impl Hpc {
    /// `/proc/hpc/goto` ("PID NODE" or "PID home") and `/proc/hpc/lock` ("PID 0|1").
    fn store_process(&self, key: u32, input: &[u8]) -> Result {
        let text = core::str::from_utf8(input).map_err(|_| EINVAL)?;
        let mut it = text.split_whitespace();
        let pid: i32 = it.next().ok_or(EINVAL)?.parse().map_err(|_| EINVAL)?;
        let arg = it.next().ok_or(EINVAL)?;
        if it.next().is_some() {
            return Err(EINVAL);
        }
        if key == LOCK {
            return match arg {
                "0" => self.node.set_lock(pid, false),
                "1" => self.node.set_lock(pid, true),
                _ => Err(EINVAL),
            };
        }
        let node: i32 = if arg == "home" {
            uapi::MIGRATE_HOME
        } else {
            arg.parse().map_err(|_| EINVAL)?
        };
        self.node.migrate(pid, node).map(|_| ()).map_err(|e| e.err)
    }
}

impl ProcHandler for Hpc {
    fn show(&self, key: u32, out: &mut SeqWriter) -> Result {
        let r = if key >= NODE_BASE {
            self.show_node((key - NODE_BASE) >> 4, key & 15, out)
        } else {
            match key {
                1 => writeln!(out, "{}", uapi::VERSION),
                2 => self.node.format_map(out),
                INFO_COUNTERS => self.node.show_counters(out),
                INFO_MIGRATION => self.node.show_migration(out),
                INFO_BALANCE => self.node.show_balance(out),
                PROCS => return self.show_procs(out),
                INFO_MALFORMED => writeln!(out, "{}", self.node.malformed()),
                FAULT => self.node.show_fault(out),
                k => match admin_param(k) {
                    Some(p) => writeln!(out, "{}", self.node.get_param(p)?),
                    None => return Err(EINVAL),
                },
            }
        };
        r.map_err(|_| EINVAL)
    }

    fn store(&self, key: u32, input: &[u8]) -> Result {
        if key == GOTO || key == LOCK {
            return self.store_process(key, input);
        }
        if key == FAULT {
            let text = core::str::from_utf8(input).map_err(|_| EINVAL)?;
            return self.node.set_fault(text.trim());
        }
        let p = match admin_param(key) {
            Some(p) if p != 0 && p != param::MOSPE => p,
            _ => return Err(EACCES),
        };
        let text = core::str::from_utf8(input).map_err(|_| EINVAL)?.trim();
        let value: u64 = text.parse().map_err(|_| EINVAL)?;
        self.node.set_param(p, value)
    }
}

struct Tree {
    tree: ProcTree,
    nodes: DirId,
}

/// The registered `/proc/hpc` tree; removed (waiting for running readers) when dropped.
#[pin_data]
pub(crate) struct HpcProc {
    #[pin]
    tree: Mutex<Tree>,
    handler: Arc<Hpc>,
}

impl HpcProc {
    /// Creates `/proc/hpc` and its fixed files. Errors: `ENOMEM` (also if `/proc/hpc` exists).
    pub(crate) fn new(node: Arc<Node>) -> Result<Arc<Self>> {
        let handler = Arc::new(Hpc { node }, GFP_KERNEL)?;
        let mut tree = ProcTree::new(c_str!("hpc"))?;
        let root = tree.root();
        let admin = tree.mkdir(root, c_str!("admin"))?;
        for &(name, key, mode, _) in ADMIN {
            tree.file(admin, name, mode, handler.clone(), key)?;
        }
        let info = tree.mkdir(root, c_str!("info"))?;
        tree.file(
            info,
            c_str!("counters"),
            0o444,
            handler.clone(),
            INFO_COUNTERS,
        )?;
        tree.file(
            info,
            c_str!("malformed"),
            0o444,
            handler.clone(),
            INFO_MALFORMED,
        )?;
        tree.file(
            info,
            c_str!("migration"),
            0o444,
            handler.clone(),
            INFO_MIGRATION,
        )?;
        tree.file(
            info,
            c_str!("balance"),
            0o444,
            handler.clone(),
            INFO_BALANCE,
        )?;
        tree.file(admin, c_str!("fault"), 0o600, handler.clone(), FAULT)?;
        tree.file(root, c_str!("procs"), 0o444, handler.clone(), PROCS)?;
        tree.file(root, c_str!("goto"), 0o200, handler.clone(), GOTO)?;
        tree.file(root, c_str!("lock"), 0o200, handler.clone(), LOCK)?;
        let nodes = tree.mkdir(root, c_str!("nodes"))?;
        Arc::pin_init(
            pin_init!(HpcProc { tree <- new_mutex!(Tree { tree, nodes }, "oxmosix::proc"), handler }),
            GFP_KERNEL,
        )
    }

    /// Recreates `/proc/hpc/nodes/<id>/` for the nodes of the current map.
    pub(crate) fn rebuild_nodes(&self) -> Result {
        let ids = self.handler.node.node_ids()?;
        let mut t = self.tree.lock();
        let nodes = t.nodes;
        t.tree.remove(nodes)?;
        let root = t.tree.root();
        t.nodes = t.tree.mkdir(root, c_str!("nodes"))?;
        for &id in ids.iter() {
            let name = CString::try_from_fmt(fmt!("{}", id))?;
            let parent = t.nodes;
            let d = t.tree.mkdir(parent, &name)?;
            for (i, f) in NODE_FILES.iter().enumerate() {
                t.tree.file(
                    d,
                    f,
                    0o444,
                    self.handler.clone(),
                    NODE_BASE | id << 4 | i as u32,
                )?;
            }
        }
        Ok(())
    }
}
