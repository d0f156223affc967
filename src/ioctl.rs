// SPDX-License-Identifier: GPL-2.0
//! `/dev/mosix`: the ioctl interface of the tools. The ABI is in [`crate::uapi`] and
//! `Documentation/ioctl.md`.

use kernel::c_str;
use kernel::prelude::*;
use kernel::sync::Arc;

use crate::cluster::Shared;
use crate::hpc::HpcProc;
use crate::kapi::cred;
use crate::kapi::miscdev::{IoctlArg, IoctlHandler, MiscDevice};
use crate::uapi;

/// Serves the requests of `/dev/mosix`.
struct Mosix {
    shared: Arc<Shared>,
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
            uapi::MOSIX_IOC_VERSION => {
                let v = uapi::VersionInfo::current().encode();
                arg.writer(v.len()).write_slice(&v)?;
            }
            uapi::MOSIX_IOC_SETMAP => {
                need_admin()?;
                let mut b = [0u8; uapi::MAP_INFO_SIZE];
                arg.reader(b.len()).read_slice(&mut b)?;
                Shared::set_map(&self.shared, &uapi::MapInfo::decode(&b))?;
                self.proc.rebuild_nodes()?;
            }
            uapi::MOSIX_IOC_GETMAP => {
                let mut b = [0u8; uapi::MAP_INFO_SIZE];
                self.shared.map_info().encode(&mut b);
                arg.writer(b.len()).write_slice(&b)?;
            }
            uapi::MOSIX_IOC_NODEINFO => {
                let mut b = [0u8; uapi::NODE_INFO_SIZE];
                arg.reader(b.len()).read_slice(&mut b)?;
                let q = uapi::NodeInfo::decode(&b);
                let v = self.shared.node_view(q.id).ok_or(ENOENT)?;
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
                let a = uapi::NodeInfo {
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
                };
                a.encode(&mut b);
                arg.writer(b.len()).write_slice(&b)?;
            }
            uapi::MOSIX_IOC_SETPARAM => {
                need_admin()?;
                let mut b = [0u8; uapi::PARAM_SIZE];
                arg.reader(b.len()).read_slice(&mut b)?;
                let p = uapi::Param::decode(&b);
                if p.pad != 0 {
                    return Err(EINVAL);
                }
                crate::migrate::set_param(&self.shared, p.key, p.value)?;
            }
            uapi::MOSIX_IOC_GETPARAM => {
                let mut b = [0u8; uapi::PARAM_SIZE];
                arg.reader(b.len()).read_slice(&mut b)?;
                let mut p = uapi::Param::decode(&b);
                p.value = self.shared.get_param(p.key)?;
                p.encode(&mut b);
                arg.writer(b.len()).write_slice(&b)?;
            }
            uapi::MOSIX_IOC_MIGRATE => {
                let mut b = [0u8; uapi::MIGRATE_REQ_SIZE];
                arg.reader(b.len()).read_slice(&mut b)?;
                let mut q = uapi::MigrateReq::decode(&b);
                if q.pad != 0 {
                    return Err(EINVAL);
                }
                let r = if q.node == uapi::MIGRATE_BALANCE {
                    crate::balancer::balance_one(&self.shared, &self.shared.balancer, q.pid)
                        .map(|n| q.node = n as i32)
                } else {
                    crate::migrate::migrate(&self.shared, q.pid, q.node)
                };
                q.reason = match r {
                    Err((_, why)) => why,
                    Ok(()) => 0,
                };
                q.encode(&mut b);
                arg.writer(b.len()).write_slice(&b)?;
                r.map_err(|(e, _)| e)?;
            }
            uapi::MOSIX_IOC_PROCINFO => {
                let mut b = [0u8; uapi::PROC_INFO_SIZE];
                arg.reader(b.len()).read_slice(&mut b)?;
                let q = uapi::ProcInfo::decode(&b);
                let v = crate::migrate::info(&self.shared, q.pid)?;
                let a = uapi::ProcInfo {
                    pid: q.pid,
                    state: v.state,
                    home: v.home,
                    where_: v.where_,
                    nmigs: v.nmigs,
                    lock: u32::from(v.lock),
                    cantmove: v.cantmove,
                    home_pid: v.home_pid,
                    comm: v.comm,
                };
                a.encode(&mut b);
                arg.writer(b.len()).write_slice(&b)?;
            }
            uapi::MOSIX_IOC_LOCK => {
                let mut b = [0u8; uapi::PROC_LOCK_SIZE];
                arg.reader(b.len()).read_slice(&mut b)?;
                let q = uapi::ProcLock::decode(&b);
                if q.lock > 1 {
                    return Err(EINVAL);
                }
                crate::migrate::set_lock(&self.shared, q.pid, q.lock == 1)?;
            }
            uapi::MOSIX_IOC_BENCH => {
                need_admin()?;
                let mut b = [0u8; uapi::BENCH_REQ_SIZE];
                arg.reader(b.len()).read_slice(&mut b)?;
                let mut q = uapi::BenchReq::decode(&b);
                let max = crate::proto::MAX_PAYLOAD as u64;
                q.ns = match q.mode {
                    uapi::BENCH_STREAM if q.bytes <= 1 << 34 => {
                        crate::cluster::bench::stream(&self.shared, q.node, q.bytes)?
                    }
                    uapi::BENCH_PINGPONG
                        if (8..=max).contains(&q.bytes)
                            && (8..=max).contains(&u64::from(q.reply))
                            && (1..=1_000_000).contains(&q.count) =>
                    {
                        crate::cluster::bench::ping_pong(
                            &self.shared,
                            q.node,
                            q.count,
                            q.bytes as usize,
                            q.reply as usize,
                        )?
                    }
                    _ => return Err(EINVAL),
                };
                q.encode(&mut b);
                arg.writer(b.len()).write_slice(&b)?;
            }
            _ => return Err(ENOTTY),
        }
        Ok(0)
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
        shared: Arc<Shared>,
        proc: Arc<HpcProc>,
    ) -> Result<Self> {
        let dev = MiscDevice::register(
            c_str!("mosix"),
            0o644,
            module,
            Arc::new(Mosix { shared, proc }, GFP_KERNEL)?,
        )?;
        Ok(MosixDevice { _dev: dev })
    }
}
