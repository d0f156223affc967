// SPDX-License-Identifier: GPL-2.0
//! oxmosix: openMosix reborn on Linux 6.12, in Rust.
//!
//! Identical-kernel x86-64 machines become one single-system-image cluster: processes migrate
//! transparently between nodes while a deputy at their home node keeps their identity.
//! This file only wires the parts together; see `Documentation/architecture.md`.
#![deny(unsafe_code)]

use kernel::prelude::*;
use kernel::sync::Arc;

// Every module is safe Rust (deny at the crate root, so a new module cannot forget it); only
// `kapi` (rust/), the abstractions over the kernel's C API, may hold `unsafe` code.
#[allow(unsafe_code)]
#[path = "../rust/mod.rs"]
mod kapi;

mod balance;
mod cluster;
mod counters;
mod hpc;
mod ioctl;
mod load;
mod map;
mod migrate;
mod node;
mod proto;
mod syscalls;
mod uapi;
mod wait;

module! {
    type: Oxmosix,
    name: "oxmosix",
    author: "oxmosix developers",
    description: "oxmosix: single-system-image process migration cluster",
    license: "GPL",
}

struct Oxmosix {
    // `drop` first stops the balancer and moves every process home ([`node::Node::stop`]).
    // Then fields drop in declaration order: the migration hooks (waiting for tasks inside
    // them), the device, /proc/hpc, and the node (its cluster threads stopped, connections
    // closed with Bye) once the device and /proc/hpc no longer hold it.
    _hooks: kapi::migration::Hooks<migrate::Ops>,
    _dev: ioctl::MosixDevice,
    _proc: Arc<hpc::HpcProc>,
    node: Arc<node::Node>,
}

impl kernel::Module for Oxmosix {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let node = node::Node::start()?;
        let rest = || -> Result<_> {
            let proc = hpc::HpcProc::new(node.clone())?;
            let dev = ioctl::MosixDevice::new(module, node.clone(), proc.clone())?;
            let hooks = kapi::migration::Hooks::register(Arc::new(
                migrate::Ops::new(node.migration().clone()),
                GFP_KERNEL,
            )?)?;
            Ok((proc, dev, hooks))
        };
        let (proc, dev, hooks) = rest().inspect_err(|_| node.stop())?;
        pr_info!(
            "oxmosix {} loaded (ioctl ABI {})\n",
            uapi::VERSION,
            uapi::MOSIX_ABI_VERSION
        );
        Ok(Oxmosix {
            _hooks: hooks,
            _dev: dev,
            _proc: proc,
            node,
        })
    }
}

impl Drop for Oxmosix {
    fn drop(&mut self) {
        pr_info!("oxmosix {} unloading\n", uapi::VERSION);
        self.node.stop();
    }
}
