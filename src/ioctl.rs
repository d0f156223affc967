// SPDX-License-Identifier: GPL-2.0
//! `/dev/mosix`: the ioctl interface of the tools. The ABI is in [`crate::uapi`] and
//! `Documentation/ioctl.md`.

use kernel::c_str;
use kernel::prelude::*;
use kernel::sync::Arc;

use crate::hpc::HpcProc;
use crate::kapi::cred;
use crate::kapi::miscdev::{IoctlArg, IoctlHandler, MiscDevice};
use crate::node::Node;
use crate::uapi;

/// Serves the requests of `/dev/mosix`.
struct Mosix {
    node: Arc<Node>,
    proc: Arc<HpcProc>,
}

fn need_admin() -> Result {
    if cred::capable_sys_admin() {
        Ok(())
    } else {
        Err(EPERM)
    }
}

impl IoctlHandler for Mosix {
    fn ioctl(&self, cmd: u32, arg: IoctlArg) -> Result<i32> {
        match cmd {
            uapi::MOSIX_IOC_VERSION => arg.write(&uapi::VersionInfo::current())?,
            uapi::MOSIX_IOC_SETMAP => self.set_map(&arg)?,
            uapi::MOSIX_IOC_GETMAP => arg.write(&self.node.map_info())?,
            uapi::MOSIX_IOC_NODEINFO => self.node_info(&arg)?,
            uapi::MOSIX_IOC_SETPARAM => self.set_param(&arg)?,
            uapi::MOSIX_IOC_GETPARAM => self.get_param(&arg)?,
            uapi::MOSIX_IOC_MIGRATE => self.migrate(&arg)?,
            uapi::MOSIX_IOC_PROCINFO => self.proc_info(&arg)?,
            uapi::MOSIX_IOC_LOCK => self.lock(&arg)?,
            uapi::MOSIX_IOC_RUNMODE => {
                let q: uapi::RunMode = arg.read()?;
                self.node.set_run_mode(q.pid, q.flags, q.node)?
            }
            uapi::MOSIX_IOC_BENCH => self.bench(&arg)?,
            uapi::MOSIX_IOC_SETKEY => self.set_key(&arg)?,
            _ => return Err(ENOTTY),
        }
        Ok(0)
    }
}

/// One method per request; each documents its ABI in `crate::uapi`.
impl Mosix {
    fn set_map(&self, arg: &IoctlArg) -> Result {
        need_admin()?;
        self.node.set_map(&arg.read::<uapi::MapInfo>()?)?;
        self.proc.rebuild_nodes()
    }

    fn set_key(&self, arg: &IoctlArg) -> Result {
        need_admin()?;
        let mut q: uapi::KeyReq = arg.read()?;
        let len = q.len as usize;
        let r = if q.flags & !uapi::KEY_RETIRE != 0
            || len > uapi::KEY_MAX
            || q.secret[len..].iter().any(|&b| b != 0)
        {
            Err(EINVAL)
        } else {
            self.node
                .set_key(&q.secret[..len], q.flags & uapi::KEY_RETIRE != 0)
        };
        crate::proto::handshake::wipe(&mut q.secret);
        r
    }

    fn node_info(&self, arg: &IoctlArg) -> Result {
        let q: uapi::NodeInfo = arg.read()?;
        let v = self.node.node_view(q.id).ok_or(ENOENT)?;
        let e = &v.slot.entry;
        let mut status = e.flags << uapi::node_status::FLAGS_SHIFT;
        for (on, bit) in [
            (v.slot.up, uapi::node_status::UP),
            (v.slot.known, uapi::node_status::KNOWN),
            (v.is_self, uapi::node_status::SELF),
            (v.connected, uapi::node_status::CONNECTED),
        ] {
            if on {
                status |= bit;
            }
        }
        arg.write(&uapi::NodeInfo {
            id: e.node,
            status,
            load: e.load,
            speed: e.speed,
            cpus: e.cpus.into(),
            util: e.util.into(),
            age_ms: v.age_ms.min(u64::from(u32::MAX)) as u32,
            pad: 0,
            tmem_kib: e.tmem_kib,
            fmem_kib: e.fmem_kib,
            amem_kib: e.amem_kib,
        })
    }

    fn set_param(&self, arg: &IoctlArg) -> Result {
        need_admin()?;
        let p: uapi::Param = arg.read()?;
        if p.pad != 0 {
            return Err(EINVAL);
        }
        self.node.set_param(p.key, p.value)
    }

    fn get_param(&self, arg: &IoctlArg) -> Result {
        let mut p: uapi::Param = arg.read()?;
        p.value = self.node.get_param(p.key)?;
        arg.write(&p)
    }

    fn migrate(&self, arg: &IoctlArg) -> Result {
        let mut q: uapi::MigrateReq = arg.read()?;
        if q.pad != 0 {
            return Err(EINVAL);
        }
        let r = self.node.migrate(q.pid, q.node);
        q.reason = match r {
            Err(e) => e.reason,
            Ok(node) => {
                q.node = node;
                0
            }
        };
        arg.write(&q)?;
        r.map(|_| ()).map_err(|e| e.err)
    }

    fn proc_info(&self, arg: &IoctlArg) -> Result {
        let q: uapi::ProcInfo = arg.read()?;
        let v = self.node.proc_info(q.pid)?;
        arg.write(&uapi::ProcInfo {
            pid: q.pid,
            state: v.state,
            home: v.home,
            where_: v.where_,
            nmigs: v.nmigs,
            lock: u32::from(v.lock),
            cantmove: v.cantmove,
            home_pid: v.home_pid,
            comm: v.comm,
        })
    }

    fn lock(&self, arg: &IoctlArg) -> Result {
        let q: uapi::ProcLock = arg.read()?;
        if q.lock > 1 {
            return Err(EINVAL);
        }
        self.node.set_lock(q.pid, q.lock == 1)
    }

    fn bench(&self, arg: &IoctlArg) -> Result {
        need_admin()?;
        let mut q: uapi::BenchReq = arg.read()?;
        let max = crate::proto::MAX_PAYLOAD as u64;
        q.ns = match q.mode {
            uapi::BENCH_STREAM if q.bytes <= 1 << 34 => self.node.bench_stream(q.node, q.bytes)?,
            uapi::BENCH_PINGPONG
                if (8..=max).contains(&q.bytes)
                    && (8..=max).contains(&u64::from(q.reply))
                    && (1..=1_000_000).contains(&q.count) =>
            {
                self.node
                    .bench_ping_pong(q.node, q.count, q.bytes as usize, q.reply as usize)?
            }
            _ => return Err(EINVAL),
        };
        arg.write(&q)
    }
}

/// The registered `/dev/mosix` device.
pub(crate) struct MosixDevice {
    _dev: MiscDevice<Mosix>,
}

impl MosixDevice {
    /// Registers `/dev/mosix` (mode 0644: everybody may query; privileged requests check
    /// `CAP_SYS_ADMIN` themselves). Errors from `misc_register`.
    pub(crate) fn new(
        module: &'static ThisModule,
        node: Arc<Node>,
        proc: Arc<HpcProc>,
    ) -> Result<Self> {
        let dev = MiscDevice::register(
            c_str!("mosix"),
            0o644,
            module,
            Arc::new(Mosix { node, proc }, GFP_KERNEL)?,
        )?;
        Ok(MosixDevice { _dev: dev })
    }
}
