// SPDX-License-Identifier: GPL-2.0
//! The `/proc/hpc` tree, the openMosix administration interface. Documented in
//! `Documentation/proc-hpc.md`.
//!
//! ```text
//! /proc/hpc/
//!     admin/version     oxmosix release, "MAJOR.MINOR.PATCH\n" (read-only)
//! ```

use core::fmt::Write;

use kernel::c_str;
use kernel::prelude::*;
use kernel::sync::Arc;

use crate::kapi::procfs::{ProcHandler, ProcTree, SeqWriter};
use crate::uapi;

/// Keys of the files of `/proc/hpc`.
#[derive(Clone, Copy)]
#[repr(u32)]
enum File {
    AdminVersion = 1,
}

impl File {
    fn from_key(key: u32) -> Option<File> {
        match key {
            1 => Some(File::AdminVersion),
            _ => None,
        }
    }
}

/// The handler behind every `/proc/hpc` file.
struct Hpc;

impl ProcHandler for Hpc {
    fn show(&self, key: u32, out: &mut SeqWriter) -> Result {
        match File::from_key(key).ok_or(EINVAL)? {
            File::AdminVersion => writeln!(out, "{}", uapi::VERSION).map_err(|_| EINVAL),
        }
    }
}

/// The registered `/proc/hpc` tree; removed (waiting for running readers) when dropped.
pub(crate) struct HpcProc {
    _tree: ProcTree,
}

impl HpcProc {
    /// Creates `/proc/hpc` and its files. Errors: `ENOMEM` (also if `/proc/hpc` exists already).
    pub(crate) fn new() -> Result<Self> {
        let handler = Arc::new(Hpc, GFP_KERNEL)?;
        let mut tree = ProcTree::new(c_str!("hpc"))?;
        let admin = tree.mkdir(tree.root(), c_str!("admin"))?;
        tree.file(
            admin,
            c_str!("version"),
            0o444,
            handler,
            File::AdminVersion as u32,
        )?;
        Ok(HpcProc { _tree: tree })
    }
}
