// SPDX-License-Identifier: GPL-2.0
//! Exec where the process runs: a guest's `execve` of a program that its node holds identically
//! runs there, with the semantics of an exec at home.
//!
//! 1. The guest forwards the path to its deputy ([`syscalls::exec_op::CHECK`]). The deputy opens
//!    it as the process (its root, working directory and credentials) and checks it as `execve`
//!    would (a regular file on an exec mount that the process may execute: otherwise the error
//!    `execve` gives at home). A program whose exec changes credentials (set-user-ID,
//!    set-group-ID, file capabilities) or a script (`#!`, whose interpreter is another file) is
//!    executed at home: the reply sends the process home. Otherwise the reply names the program
//!    by its absolute path and the SHA-256 of its contents.
//! 2. The guest opens that path on its own node, checks it the same way and compares the hashes
//!    ([`ExeHashes`] keeps them by file identity on both nodes). A missing or different file
//!    sends the process home for the call. The same file is executed here: the path is written
//!    below the user stack's red zone (as a signal frame would be) and the call runs with it and
//!    the process's own argument and environment vectors, so the kernel here enforces their
//!    limits and builds the new image.
//! 3. When the exec succeeded (the task's exec count moved), the guest tells its deputy
//!    ([`syscalls::exec_op::DONE`]) before the new program runs: the deputy closes the
//!    close-on-exec descriptors at home, takes the new command name, arguments and environment
//!    (`/proc/PID/cmdline` and `ps` at home) and which stop signals are at their default action.

use kernel::prelude::*;
use kernel::str::CStr;
use kernel::sync::{Arc, Mutex};
use kernel::uaccess::UserSlice;

use super::forward::{exchange, read_user_str};
use super::guest::call_at_home;
use super::image::is_vdso;
use super::out::{dfl_stops_of, Args};
use super::record::Proc;
use super::{neg, Migration};
use crate::counters;
use crate::kapi::crypto;
use crate::kapi::exe::{ExecFile, Identity};
use crate::kapi::migration::SyscallRegs;
use crate::kapi::sys;
use crate::kapi::task::TaskRef;
use crate::kapi::uctx::UserCtx;
use crate::proto::mig as wire;
use crate::syscalls::{exec_op, nr, PATH_MAX};

/// Largest program hashed: a bigger one is executed at home.
const MAX_PROGRAM: u64 = 64 << 20;
/// Files whose hashes a node keeps (programs, and the libraries their loader maps).
const HASHES: usize = 32;
/// The x86-64 red zone below the user stack pointer, which a signal frame leaves alone.
const RED_ZONE: u64 = 128;
/// The fixed part of an [`exec_op::DONE`]: command name (16 bytes), stop signals at their
/// default action, vDSO and vvar addresses (u64 each), the four argument and environment
/// offsets (u64 each).
const DONE_HDR: usize = 16 + 3 * 8 + 4 * 8;

/// The SHA-256 of program files this node examined, by [`Identity`] (the same few programs are
/// executed again and again; a file that changes gets a new identity).
pub(crate) struct ExeHashes {
    slots: [Option<(Identity, [u8; 32])>; HASHES],
    next: usize,
}

impl ExeHashes {
    /// An empty cache.
    pub(crate) const fn new() -> Self {
        ExeHashes {
            slots: [None; HASHES],
            next: 0,
        }
    }

    fn get(&self, id: &Identity) -> Option<[u8; 32]> {
        self.slots
            .iter()
            .flatten()
            .find(|(i, _)| i == id)
            .map(|(_, h)| *h)
    }

    fn put(&mut self, id: Identity, hash: [u8; 32]) {
        self.slots[self.next] = Some((id, hash));
        self.next = (self.next + 1) % HASHES;
    }
}

/// The SHA-256 of the whole file `f`, from `cache` or read. Errors: `EFBIG` beyond
/// [`MAX_PROGRAM`], `ENOMEM`, `EIO` (it changed size while read), the read's.
pub(super) fn program_hash(cache: &Mutex<ExeHashes>, f: &ExecFile) -> Result<[u8; 32]> {
    let id = f.identity();
    if let Some(h) = cache.lock().get(&id) {
        return Ok(h);
    }
    if id.size > MAX_PROGRAM {
        return Err(EFBIG);
    }
    let mut buf = KVVec::new();
    buf.extend_with(id.size as usize, 0u8, GFP_KERNEL)?;
    let mut at = 0;
    while at < buf.len() {
        let n = f.read_at(at as u64, &mut buf[at..])?;
        if n == 0 {
            return Err(EIO);
        }
        at += n;
    }
    let h = crypto::sha256(&buf);
    cache.lock().put(id, h);
    Ok(h)
}

/// A program as this node holds it at `path`, examined by the calling task: `Ok(None)` when it
/// must be executed at home (credentials change, a script, too big), else its hash. Errors: the
/// open's, as `execve` reports them.
fn examine(mig: &Migration, f: &ExecFile) -> Result<Option<[u8; 32]>> {
    if f.raises_privileges() {
        return Ok(None);
    }
    let mut magic = [0u8; 2];
    if f.read_at(0, &mut magic)? == 2 && magic == *b"#!" {
        return Ok(None);
    }
    match program_hash(&mig.exe_hashes, f) {
        Ok(h) => Ok(Some(h)),
        Err(e) if e == EFBIG => Ok(None),
        Err(e) => Err(e),
    }
}

/// A guest's `execve` ([`crate::syscalls::Class::Exec`]). Returns whether the call is done (its
/// result set, or it went home); `false` runs it here with the checked path.
pub(super) fn guest_exec(
    u: &UserCtx,
    mig: &Arc<Migration>,
    p: &Arc<Proc>,
    regs: &mut SyscallRegs,
) -> bool {
    let args = regs.args();
    let started = sys::monotonic_us();
    let mut path = KVec::new();
    if let Err(e) = read_user_str(args[0], &mut path) {
        regs.set_result(e);
        return true;
    }
    let check = [0, 0, 0, 0, 0, exec_op::CHECK];
    let (r, reply) = match exchange(mig, p, nr::EXECVE, &check, &path, false) {
        Ok(x) => x,
        Err(e) => {
            regs.set_result(e);
            return true;
        }
    };
    if r < 0 {
        regs.set_result(r); // execve fails at home with that error
        return true;
    }
    let here = (r == 0 && reply.len() > 33)
        .then(|| here_too(mig, &reply[..32], &reply[32..]))
        .flatten();
    let Some(at) = here.and_then(|abs| stage_path(regs.sp(), abs)) else {
        counters::bump(&mig.stats.exec_home);
        call_at_home(u, mig, p, regs);
        return true;
    };
    let before = TaskRef::current().exec_id();
    let (mig2, p2) = (mig.clone(), p.clone());
    let call = (regs.nr(), args, regs.ip());
    let queued = TaskRef::current().add_work(move |u| {
        if let Some(u) = u {
            if TaskRef::current().exec_id() != before {
                exec_done(u, &mig2, &p2);
            } else {
                // It failed here: the process sees its registers as its own call left them.
                u.restore_call_args(&call.1, call.0, call.2);
            }
        }
    });
    if queued.is_err() {
        call_at_home(u, mig, p, regs);
        return true;
    }
    regs.set_call(nr::EXECVE, &[at, args[1], args[2], 0, 0, 0]);
    counters::add(&mig.stats.exec_check_us, sys::monotonic_us() - started);
    false
}

/// Whether this node holds the program home named: `abs` (absolute path with its NUL) opens and
/// checks here as at home and has the SHA-256 `hash`. Returns the path then.
fn here_too<'a>(mig: &Migration, hash: &[u8], abs: &'a [u8]) -> Option<&'a [u8]> {
    let f = ExecFile::open(absolute(abs)?).ok()?;
    match examine(mig, &f) {
        Ok(Some(h)) if h[..] == *hash => Some(abs),
        _ => None,
    }
}

/// `abs` (with its NUL) as a path, if it is absolute.
pub(super) fn absolute(abs: &[u8]) -> Option<&CStr> {
    let path = CStr::from_bytes_with_nul(abs).ok()?;
    (abs.first() == Some(&b'/')).then_some(path)
}

/// Writes `abs` (with its NUL) into the user stack below the red zone under `sp`, where a
/// signal frame would go; its address, `None` if it cannot be written.
fn stage_path(sp: u64, abs: &[u8]) -> Option<u64> {
    let at = sp.checked_sub(RED_ZONE + abs.len() as u64)? & !15;
    UserSlice::new(at as usize, abs.len())
        .writer()
        .write_slice(abs)
        .ok()?;
    Some(at)
}

/// The guest's exec succeeded: its deputy learns it ([`exec_op::DONE`]) before the new program
/// runs.
fn exec_done(u: &UserCtx, mig: &Migration, p: &Proc) {
    let comm = TaskRef::current().comm();
    let dfl = dfl_stops_of(&u.signals().actions);
    let mut data = KVec::new();
    let mut put = |b: &[u8]| data.extend_from_slice(b, GFP_KERNEL).is_ok();
    let l = u.layout().unwrap_or([0; wire::NMM]);
    let mut ok = put(&comm)
        && put(&dfl.to_ne_bytes())
        && put(&l[wire::MM_VDSO].to_ne_bytes())
        && put(&l[wire::MM_VVAR].to_ne_bytes());
    let room = wire::MAX_SYS_DATA - DONE_HDR;
    if let Some(a) = Args::take(u) {
        // Beyond one frame: the arguments only, cut there.
        let end = if a.bytes.len() <= room {
            a.bytes.len()
        } else {
            (a.offs[1] as usize).min(room)
        };
        let offs = a.offs.map(|o| o.min(end as u64));
        for o in offs {
            ok &= put(&o.to_ne_bytes());
        }
        ok &= put(&a.bytes[..end]);
    }
    if ok {
        let started = sys::monotonic_us();
        let done = [0, 0, 0, 0, 0, exec_op::DONE];
        let _ = exchange(mig, p, nr::EXECVE, &done, &data, false);
        counters::add(&mig.stats.exec_done_us, sys::monotonic_us() - started);
    }
    p.inner.lock().comm = comm;
    counters::bump(&mig.stats.exec_remote);
}

/// The deputy serves its guest's forwarded `execve` (`args[5]` says which step); the reply is
/// sent by the caller.
pub(super) fn serve_exec(
    u: &UserCtx,
    mig: &Migration,
    p: &Proc,
    args: &[u64; 6],
    data: &[u8],
) -> (i64, KVec<u8>) {
    match args[5] {
        exec_op::CHECK => check_at_home(mig, data),
        exec_op::DONE => (done_at_home(u, p, data), KVec::new()),
        _ => (neg(EINVAL), KVec::new()),
    }
}

/// [`exec_op::CHECK`]: the reply for the program at `path` (NUL-terminated).
fn check_at_home(mig: &Migration, path: &[u8]) -> (i64, KVec<u8>) {
    let fail = |e: Error| (neg(e), KVec::new());
    let go_home = (exec_op::GO_HOME, KVec::new());
    let Ok(path) = CStr::from_bytes_with_nul(path) else {
        return fail(EFAULT);
    };
    let f = match ExecFile::open(path) {
        Ok(f) => f,
        Err(e) => return fail(e),
    };
    let hash = match examine(mig, &f) {
        Ok(Some(h)) => h,
        Ok(None) => return go_home,
        Err(e) => return fail(e),
    };
    named(&f, &hash)
}

/// The reply that names file `f` to a guest: 0 with the SHA-256 `hash` of its contents and its
/// absolute path (with a NUL); [`exec_op::GO_HOME`] when it has no path (unlinked, too long).
pub(super) fn named(f: &ExecFile, hash: &[u8; 32]) -> (i64, KVec<u8>) {
    let go_home = (exec_op::GO_HOME, KVec::new());
    let mut buf = KVec::new();
    if buf.extend_with(PATH_MAX, 0u8, GFP_KERNEL).is_err() {
        return (neg(ENOMEM), KVec::new());
    }
    let Ok(abs) = f.abs_path(&mut buf) else {
        return go_home;
    };
    let mut out = KVec::new();
    let ok = out.extend_from_slice(hash, GFP_KERNEL).is_ok()
        && out.extend_from_slice(abs, GFP_KERNEL).is_ok()
        && out.push(0, GFP_KERNEL).is_ok();
    if ok {
        (0, out)
    } else {
        (neg(ENOMEM), KVec::new())
    }
}

/// [`exec_op::DONE`]: the process executed a new program where it runs.
fn done_at_home(u: &UserCtx, p: &Proc, data: &[u8]) -> i64 {
    if data.len() < DONE_HDR - 32 {
        return neg(EINVAL);
    }
    let word = |k: usize| u64::from_ne_bytes(data[k..k + 8].try_into().unwrap_or([0; 8]));
    let comm: [u8; 16] = data[..16].try_into().unwrap_or([0; 16]);
    // Only the terminal stop signals' bits mean anything.
    let stops = super::signo::TERMINAL_STOPS
        .iter()
        .fold(0, |m, &s| m | super::signo::bit(s));
    let dfl = word(16) & stops;
    u.close_on_exec();
    u.deputy_exec_reset();
    u.set_comm(&comm);
    {
        let mut i = p.inner.lock();
        i.comm = comm;
        if let Some(d) = i.deputy() {
            d.dfl_stops = dfl;
        }
    }
    follow_vdso(u, p, word(24), word(32));
    if data.len() >= DONE_HDR {
        let offs = [word(40), word(48), word(56), word(64)];
        let bytes = &data[DONE_HDR..];
        let sane = offs.windows(2).all(|w| w[0] <= w[1]) && offs[3] as usize <= bytes.len();
        let mut copy = KVVec::new();
        if sane && copy.extend_from_slice(bytes, GFP_KERNEL).is_ok() {
            if let Ok(area) = (Args { bytes: copy, offs }).show(u) {
                // The previous program's strings are no longer shown: unmapped, so that a
                // process executing again and again does not leave one area each time.
                let old = p
                    .inner
                    .lock()
                    .deputy()
                    .and_then(|d| d.args_area.replace(area));
                if let Some((at, len)) = old {
                    let _ = u.unmap(at, len);
                }
            }
        }
    }
    0
}

/// The new program's vDSO is at `vdso` (its vvar at `vvar`) where it runs: the deputy maps its
/// own there, so that the process can come home (its libc keeps pointers into the vDSO, which
/// must be where they point). A deputy that cannot leaves the process unable to come home
/// (`cantmove` LAYOUT); logged.
fn follow_vdso(u: &UserCtx, p: &Proc, vdso: u64, vvar: u64) {
    let here = u.vdso_addr();
    if vdso == here {
        return;
    }
    let moved = (|| -> Result {
        for v in u.vmas()?.iter() {
            if is_vdso(v, here) {
                u.unmap(v.start, v.end - v.start)?;
            }
        }
        u.map_vdso(vvar)?;
        if u.vdso_addr() == vdso {
            Ok(())
        } else {
            Err(EINVAL)
        }
    })();
    if let Err(e) = moved {
        pr_warn!(
            "migration: deputy of {} cannot map its vDSO at {:#x} ({:?}); it cannot come home\n",
            p.home_pid,
            vdso,
            e
        );
    }
}
