// SPDX-License-Identifier: GPL-2.0
//! File mappings where the process runs: a guest's private `mmap` of a file it holds open at
//! home maps the same file of its own node, so that a dynamically linked program started (or
//! executed) on a remote node loads its shared libraries there instead of going home at the
//! loader's first mapping.
//!
//! 1. The guest sends the call's descriptor, protection and flags to its deputy
//!    ([`syscalls::Class::MapFile`]). The deputy looks the descriptor up in the process's table
//!    at home: `EBADF` as `mmap` gives it; a file that is not a regular file opened for reading
//!    (and, for `PROT_EXEC`, on a mount that allows exec) sends the process home, where `mmap`
//!    gives its own answer; otherwise the reply names the file by its absolute path and the
//!    SHA-256 of its contents ([`super::exec::named`], the hashes cached as for programs).
//! 2. The guest opens that path on its own node, checks it the same way and compares the
//!    hashes; the same contents are mapped here with the call's own address, length,
//!    protection, flags and offset (`vm_mmap`, the checks of `mmap`). A missing or different
//!    file sends the process home for the call.
//!
//! A private mapping's pages are the file's until the process writes them; the file here has
//! the contents of the one at home when the mapping is made. A later change of the file at home
//! is not seen by pages not yet touched here (POSIX leaves it unspecified for `MAP_PRIVATE`).
//! When the process comes home, such a mapping comes as anonymous memory with its contents.

use kernel::prelude::*;
use kernel::sync::Arc;

use super::exec::{absolute, named, program_hash};
use super::forward::exchange;
use super::guest::call_at_home;
use super::record::Proc;
use super::{neg, Migration};
use crate::counters;
use crate::kapi::exe::ExecFile;
use crate::kapi::migration::SyscallRegs;
use crate::kapi::uctx::UserCtx;
use crate::syscalls::{exec_op, nr};

/// `PROT_EXEC` of `mmap`'s protection.
const PROT_EXEC: u64 = 0x4;

/// Whether file `f` can be mapped where the process runs, as the call with protection `prot`
/// would map it: a regular file opened for reading, not hugetlbfs, on an exec mount for
/// `PROT_EXEC`.
pub(super) fn mappable(f: &ExecFile, prot: u64) -> bool {
    f.is_regular() && f.readable() && !f.hugetlb() && (prot & PROT_EXEC == 0 || f.exec_mount())
}

/// A guest's private `mmap` of a file ([`crate::syscalls::Class::MapFile`]); the call is done
/// (its result set, or it went home) when this returns.
pub(super) fn guest_map(u: &UserCtx, mig: &Arc<Migration>, p: &Arc<Proc>, regs: &mut SyscallRegs) {
    let a = regs.args();
    let (addr, len, prot, flags, fd, off) = (a[0], a[1], a[2], a[3], a[4], a[5]);
    let ask = [fd, prot, flags, 0, 0, 0];
    let (r, reply) = match exchange(mig, p, nr::MMAP, &ask, &[], false) {
        Ok(x) => x,
        Err(e) => return regs.set_result(e),
    };
    if r < 0 {
        return regs.set_result(r); // mmap fails at home with that error (EBADF)
    }
    let here = (r == 0 && reply.len() > 33)
        .then(|| same_file(mig, &reply[..32], &reply[32..], prot))
        .flatten();
    let Some(f) = here else {
        counters::bump(&mig.stats.maps_home);
        return call_at_home(u, mig, p, regs);
    };
    counters::bump(&mig.stats.maps_remote);
    match f.map(u, addr, len, prot, flags, off) {
        Ok(at) => regs.set_result(at as i64),
        Err(e) => regs.set_result(neg(e)),
    }
}

/// This node's file at `abs` (absolute path with its NUL), if it is mappable as the call maps it
/// and its contents have the SHA-256 `hash`.
pub(super) fn same_file(mig: &Migration, hash: &[u8], abs: &[u8], prot: u64) -> Option<ExecFile> {
    let f = ExecFile::open_regular(absolute(abs)?).ok()?;
    if !mappable(&f, prot) {
        return None;
    }
    let h = program_hash(&mig.exe_hashes, &f).ok()?;
    (h[..] == *hash).then_some(f)
}

/// The deputy names the file its guest maps: `args` are the call's descriptor, protection and
/// flags. The reply is sent by the caller: 0 with the hash and path, [`exec_op::GO_HOME`], or
/// `mmap`'s error.
pub(super) fn serve_map(mig: &Migration, args: &[u64; 6]) -> (i64, KVec<u8>) {
    let go_home = (exec_op::GO_HOME, KVec::new());
    let f = match ExecFile::from_fd(args[0]) {
        Ok(f) => f,
        Err(e) => return (neg(e), KVec::new()),
    };
    if !mappable(&f, args[1]) {
        return go_home;
    }
    match program_hash(&mig.exe_hashes, &f) {
        Ok(h) => named(&f, &h),
        // Too big to hash, or unreadable: the call at home gives its own answer.
        Err(_) => go_home,
    }
}
