// SPDX-License-Identifier: GPL-2.0
//! `/dev/mosix`: the ioctl interface of the tools. The ABI is in [`crate::uapi`] and
//! `Documentation/ioctl.md`.

use kernel::c_str;
use kernel::prelude::*;
use kernel::sync::Arc;

use crate::kapi::miscdev::{IoctlArg, IoctlHandler, MiscDevice};
use crate::uapi;

/// Serves the requests of `/dev/mosix`.
struct Mosix;

impl IoctlHandler for Mosix {
    fn ioctl(&self, cmd: u32, arg: IoctlArg) -> Result<i32> {
        match cmd {
            uapi::MOSIX_IOC_VERSION => {
                let v = uapi::VersionInfo::current().encode();
                arg.writer(v.len()).write_slice(&v)?;
                Ok(0)
            }
            _ => Err(ENOTTY),
        }
    }
}

/// The registered `/dev/mosix` device.
pub(crate) struct MosixDevice {
    _dev: MiscDevice<Mosix>,
}

impl MosixDevice {
    /// Registers `/dev/mosix` (mode 0644: everybody may query; privileged requests check
    /// `CAP_SYS_ADMIN` themselves). Errors from `misc_register`.
    pub(crate) fn new(module: &'static ThisModule) -> Result<Self> {
        let dev =
            MiscDevice::register(c_str!("mosix"), 0o644, module, Arc::new(Mosix, GFP_KERNEL)?)?;
        Ok(MosixDevice { _dev: dev })
    }
}
