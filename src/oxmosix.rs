// SPDX-License-Identifier: GPL-2.0
//! oxmosix: openMosix reborn on Linux 6.12, in Rust.
//!
//! Identical-kernel x86-64 machines become one single-system-image cluster: processes migrate
//! transparently between nodes while a deputy at their home node keeps their identity.
//! This file only wires the parts together; see `Documentation/architecture.md`.

use kernel::prelude::*;
use kernel::sync::Arc;

#[path = "../rust/mod.rs"]
mod kapi;

#[deny(unsafe_code)]
mod balance;
mod balancer;
#[deny(unsafe_code)]
mod cluster;
#[deny(unsafe_code)]
mod hpc;
#[deny(unsafe_code)]
mod ioctl;
#[deny(unsafe_code)]
mod map;
#[deny(unsafe_code)]
mod migrate;
#[deny(unsafe_code)]
mod proto;
#[deny(unsafe_code)]
mod syscalls;
#[deny(unsafe_code)]
mod uapi;

module! {
    type: Oxmosix,
    name: "oxmosix",
    author: "oxmosix developers",
    description: "oxmosix: single-system-image process migration cluster",
    license: "GPL",
}

struct Oxmosix {
    // `drop` first sends guests home and brings processes home. Then fields drop in declaration
    // order: the migration hooks (waiting for tasks inside them), the device, /proc/hpc, and
    // the cluster core (threads stopped, connections closed with Bye).
    _hooks: kapi::migration::Hooks<migrate::Ops>,
    _dev: ioctl::MosixDevice,
    _proc: Arc<hpc::HpcProc>,
    _cluster: cluster::Cluster,
}

impl kernel::Module for Oxmosix {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let cluster = cluster::Cluster::start()?;
        let proc = hpc::HpcProc::new(cluster.shared().clone())?;
        let dev = ioctl::MosixDevice::new(module, cluster.shared().clone(), proc.clone())?;
        let hooks = kapi::migration::Hooks::register(Arc::new(
            migrate::Ops {
                sh: cluster.shared().clone(),
            },
            GFP_KERNEL,
        )?)?;
        pr_info!(
            "oxmosix {} loaded (ioctl ABI {})\n",
            uapi::VERSION,
            uapi::MOSIX_ABI_VERSION
        );
        Ok(Oxmosix {
            _hooks: hooks,
            _dev: dev,
            _proc: proc,
            _cluster: cluster,
        })
    }
}

impl Drop for Oxmosix {
    fn drop(&mut self) {
        pr_info!("oxmosix {} unloading\n", uapi::VERSION);
        self._cluster.stop_balancer();
        migrate::shutdown(self._cluster.shared(), 20_000);
    }
}
