// SPDX-License-Identifier: GPL-2.0
//! Leaving home: the task work that streams a process away and turns it into its deputy.

use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::uaccess::UserSlice;

use super::view::cantmove_of;
use super::Migration;
use crate::kapi::errno;
use crate::kapi::task::TaskRef;
use crate::kapi::uctx::{self, UserCtx};
use crate::proto::cputime::Cpu;
use crate::proto::mig::{self as wire, Offer, PAGE};
use crate::proto::MsgType;
use crate::uapi::{cantmove, pstate};

use super::deputy::{SCRATCH, STUB, STUB_HANDLER, STUB_RESTORER};
use super::fault::Point;
use super::image::{
    drain, holding_signals, is_vdso, moves_as_shared_anon, ready_to_carry_call, stream, Frozen,
    Held,
};
use super::imagefiles::{HeldFiles, Named};
use super::record::Deputy;
use super::record::Role;
use super::record::{Item, Proc};
use super::signo;
use super::MigError;
use super::MigResult;
use super::{send_ctl, send_signal, INSTALL_MS, SIGKILL, STEP_MS};
use crate::counters;

/// Completes a migration request of a home process with `r`.
pub(super) fn finish(p: &Proc, r: MigResult) {
    p.set_state(|i| {
        i.role = Role::Home;
        i.result = Some(r);
    });
}

/// Task work of a process asked to migrate: runs in its own context on its way to user mode
/// (`user`), or from its exit (`None`: the request fails with `ESRCH`, [`cantmove::EXITING`]).
pub(super) fn migrate_out(
    user: Option<&UserCtx>,
    mig: &Arc<Migration>,
    p: &Arc<Proc>,
    target: u32,
    req: u64,
) {
    // Asleep in a call whose restart cannot travel: the kernel restarts it here, and the
    // process moves when it wakes (the request waits for that as for any safe point).
    if user.is_some_and(|u| !ready_to_carry_call(u, true)) {
        let (mig2, p2) = (mig.clone(), p.clone());
        let again = move |u: Option<&UserCtx>| migrate_out(u, &mig2, &p2, target, req);
        if TaskRef::current().add_work(again).is_ok() {
            return;
        }
    }
    let cancelled = {
        let mut i = p.inner.lock();
        let stale = i.cancelled || i.req != req || i.role.pstate() != pstate::MIGRATING;
        i.started = !stale;
        stale
    };
    p.cv.notify_all();
    if cancelled {
        return;
    }
    let Some(u) = user else {
        counters::bump(&mig.stats.failed);
        finish(p, Err(MigError::new(ESRCH, cantmove::EXITING)));
        return;
    };
    let r = holding_signals(
        u,
        |held| send_image(u, mig, p, target, held),
        Result::is_err,
    );
    match r {
        Ok(()) => {
            counters::bump(&mig.stats.out);
            if let Err(e) = become_deputy(u, mig, p, target) {
                // The memory is half released: the process cannot continue here.
                pr_err!("migration: deputy setup failed ({:?}): ending process\n", e);
                let _ = send_ctl(mig, target, p.token, wire::ctl::KILL, SIGKILL as u32);
                let _ = TaskRef::current().send_signal(SIGKILL);
                finish(p, Err(MigError::new(EIO, cantmove::TRANSFER)));
            }
        }
        Err(e) => {
            counters::bump(&mig.stats.failed);
            finish(p, Err(e));
        }
    }
}

/// The pages of the areas `vmas` that an image would hold (all but the vDSO's at `vdso`), or
/// why they cannot move: a writable shared mapping that others can see
/// (`SHARED_WRITABLE`; see [`moves_as_shared_anon`]) or device memory (`DEVICE`).
fn image_pages(vmas: &[uctx::VmaDesc], vdso: u64) -> core::result::Result<u64, MigError> {
    let mut pages = 0u64;
    for v in vmas.iter().filter(|v| !is_vdso(v, vdso)) {
        let shared = v.flags & uctx::vmf::SHARED != 0 && v.flags & uctx::vmf::MAYWRITE != 0;
        if shared && !moves_as_shared_anon(v) {
            return Err(MigError::new(EBUSY, cantmove::SHARED_WRITABLE));
        }
        if v.flags & uctx::vmf::DEVICE != 0 {
            return Err(MigError::new(EBUSY, cantmove::DEVICE));
        }
        pages += (v.end - v.start) / PAGE as u64;
    }
    Ok(pages)
}

/// Offers the calling process to `target`, streams its image (with `held`, its signals from
/// before the transfer) and commits in two phases: the target installs the image and answers,
/// this side sends GO, the target runs the process and confirms (RUNNING). On `Ok` the target
/// runs it; on error nothing changed here and the target dropped it, or is gone (a target gone
/// before it confirmed took its copy with it: the process goes on here).
// Not inlined: `migrate_out`'s own frame stays small (the image's frames nest under it).
#[inline(never)]
pub(super) fn send_image(
    u: &UserCtx,
    mig: &Arc<Migration>,
    p: &Arc<Proc>,
    target: u32,
    held: &Held,
) -> MigResult {
    let vmas = u.vmas().map_err(|e| MigError::new(e, cantmove::LAYOUT))?;
    let vdso = u.vdso_addr();
    if vdso == 0 {
        return Err(MigError::new(EBUSY, cantmove::LAYOUT));
    }
    let pages = image_pages(&vmas, vdso)?;
    let (comm, nmigs) = {
        let i = p.inner.lock();
        (i.comm, i.nmigs)
    };
    // Everything the request checked, again as it is now, at the safe point: a thread, a
    // tracer, a real-time class, a shared mapping, credentials or a seccomp filter may have
    // appeared since (and a chain's onward hop starts here too). The credentials travel
    // exactly, or the process stays.
    let me = TaskRef::current();
    let why = cantmove_of(&me, mig.net.allows_root());
    if why != 0 {
        return Err(MigError::new(EBUSY, why));
    }
    let c = me.cred_info();
    let mut groups = [0u32; wire::MAX_GROUPS];
    for (d, s) in groups.iter_mut().zip(&c.groups[..c.ngroups]) {
        *d = *s;
    }
    let offer = Offer {
        token: p.token,
        home: p.home,
        home_pid: p.home_pid as u32,
        uid: c.uids[0],
        gid: c.gids[0],
        pages,
        nmigs,
        comm,
        flags: if c.no_new_privs {
            wire::OFFER_NO_NEW_PRIVS
        } else {
            0
        },
        ngroups: c.ngroups as u32,
        groups,
    };
    drain(p);
    // Answers are accepted only from the node the process exchanges with.
    p.inner.lock().where_ = target;
    mig.net
        .send_to(target, MsgType::MigOffer, &[&offer.encode()])
        .map_err(|_| MigError::new(errno::ehostunreach(), cantmove::TARGET_DOWN))?;
    match p.pop(STEP_MS, false) {
        Ok(Item::Answer(a)) if a.status == 0 => {}
        Ok(Item::Answer(a)) => return Err(MigError::new(errno::econnrefused(), a.status)),
        Ok(_) => return Err(MigError::new(EIO, cantmove::TRANSFER)),
        Err(e) => return Err(MigError::new(e, cantmove::TARGET_DOWN)),
    }
    let abort = |e: Error| {
        let _ = send_ctl(mig, target, p.token, wire::ctl::KILL, SIGKILL as u32);
        MigError::new(e, cantmove::TRANSFER)
    };
    let frozen = Frozen {
        held,
        rewound: None,
    };
    // The files its areas map, named to the target: those it holds are mapped there, not sent.
    let named = Named::offer(u, mig, p, target, &vmas, vdso).map_err(abort)?;
    stream(u, mig, p, target, &vmas, vdso, &frozen, &named).map_err(abort)?;
    match p.pop(INSTALL_MS, false) {
        Ok(Item::Answer(a)) if a.status == 0 => {}
        Ok(Item::Answer(a)) => return Err(MigError::new(EIO, a.status)),
        Ok(_) => return Err(abort(EIO)),
        Err(e) => return Err(abort(e)),
    }
    mig.fault.at(&mig.net, Point::Commit, target);
    send_ctl(mig, target, p.token, wire::ctl::GO, 0).map_err(abort)?;
    await_running(p).map_err(|e| match e {
        Some(e) => abort(e),
        None => {
            // Should the target come back as the same incarnation after all (its own
            // timeout not yet run out), its copy ends when the link is back: the KILL waits
            // in the delivery ring.
            let _ = abort(EIO);
            MigError::new(errno::ehostunreach(), cantmove::TARGET_DOWN)
        }
    })
}

/// Waits for the target's RUNNING after GO. The memory stays until then, however long that
/// takes while the target lives (delivery is exactly once). Errors: `None` for a target that
/// is gone or restarted first (it took its copy with it), `Some` for anything else (a SIGKILL
/// here, an unexpected frame: the target's copy must be ended).
fn await_running(p: &Proc) -> core::result::Result<(), Option<Error>> {
    loop {
        match p.pop(STEP_MS, false) {
            Ok(Item::Ctl(c)) if c.op == wire::ctl::RUNNING => return Ok(()),
            Err(e) if e == errno::etimedout() => {}
            Err(e) if e == errno::ehostunreach() => return Err(None),
            Ok(_) => return Err(Some(EIO)),
            Err(e) => return Err(Some(e)),
        }
    }
}

/// Turns the calling task into the deputy of its process, now running on `target`: releases
/// its memory, maps the stub and scratch memory, points its registers at the stub and marks it.
/// The signals that arrived during the transfer (those pending before went with the image) are
/// forwarded to the remote now, with their siginfo, after the commit on the same connection.
// Not inlined: `migrate_out`'s own frame stays small (the image's frames nest under it).
#[inline(never)]
pub(super) fn become_deputy(u: &UserCtx, mig: &Migration, p: &Arc<Proc>, target: u32) -> Result {
    // From now on signals arriving here are caught by the stub's handler and forwarded (see
    // `set_deputy_actions`).
    let actions = u.signals().actions;
    let mut late = KVec::new();
    // Out of memory: the rest are dropped with the flush below, counted.
    if u.take_signals(&mut late).is_err() {
        counters::bump(&mig.stats.signals_lost);
    }
    u.set_blocked(!0);
    u.flush_signals();
    let args = Args::take(u);
    // Its file mappings, kept open for its return (without them it comes home with anonymous
    // copies, as on the remote).
    let files = u.file_areas().unwrap_or_default();
    let mut deputy = make_stub(u, &actions)?;
    // Without them, `/proc/PID/cmdline` and `environ` read empty at home.
    deputy.args_area = args.and_then(|a| a.show(u).ok());
    TaskRef::current().set_migrated(true);
    p.set_state(|i| {
        i.role = Role::Deputy(deputy);
        i.files = files;
        i.where_ = target;
        i.nmigs += 1;
        i.result = Some(Ok(()));
    });
    if !late.is_empty() {
        let _order = p.signal_order.lock();
        for info in late.iter() {
            let _ = send_signal(mig, target, p.token, info);
            counters::bump(&mig.stats.signals);
        }
    }
    Ok(())
}

/// Makes the calling task a deputy's stub: every memory area but the vDSO unmapped, the stub's
/// code and scratch memory mapped, its signal handler set for the signals the process (whose
/// own actions are `actions`) catches or ends by, none blocked, and its registers at the stub's
/// entry. Errors: `ENOMEM`, `EFAULT`.
pub(super) fn make_stub(u: &UserCtx, actions: &[[u64; 4]; 64]) -> Result<Deputy> {
    let vdso = u.vdso_addr();
    for v in u.vmas()?.iter() {
        if !is_vdso(v, vdso) {
            u.unmap(v.start, v.end - v.start)?;
        }
    }
    let scratch = u.map_anywhere(SCRATCH, wire::prot::READ | wire::prot::WRITE)?;
    let stub = u.map_anywhere(PAGE as u64, wire::prot::READ | wire::prot::EXEC)?;
    u.poke(stub, &STUB)?;
    u.set_deputy_actions(actions, stub + STUB_HANDLER, stub + STUB_RESTORER);
    let dfl_stops = dfl_stops_of(actions);
    u.set_blocked(0);
    // The call the process was interrupted in (if any) is restarted where it runs, not here,
    // and its CPU-time timers tick there.
    u.forget_restart();
    u.set_cpu_timers(&Cpu::default());
    let mut r = [0u64; uctx::NREGS];
    r[wire::REG_IP] = stub;
    r[wire::REG_SP] = scratch + SCRATCH;
    u.set_regs(&r)?;
    Ok(Deputy {
        stub,
        scratch,
        in_flight: None,
        dfl_stops,
        fork_token: None,
        fork_failed: false,
        args_area: None,
        held: HeldFiles::none(),
        read_ahead: None,
    })
}

/// The terminal stop signals (SIGTSTP, SIGTTIN, SIGTTOU) that `actions` (the process's signal
/// actions) leave at their default action, as `signo::bit`s: its deputy stops for those itself.
pub(super) fn dfl_stops_of(actions: &[[u64; 4]; 64]) -> u64 {
    signo::TERMINAL_STOPS
        .iter()
        .filter(|&&sg| actions[sg as usize - 1][0] == uctx::SIG_DFL)
        .fold(0u64, |m, &sg| m | signo::bit(sg))
}

/// Most bytes of a process's argument and environment strings its deputy keeps (beyond it the
/// arguments only, cut there).
const ARGS_MAX: u64 = 256 * 1024;

/// A copy of the argument and environment strings of the calling task (its mm's `arg_start ..
/// env_end`), taken before its memory is released, so that its deputy shows them at home:
/// `/proc/PID/cmdline` and `environ` (and so `ps`, `pgrep -f`) read them from the deputy's mm.
pub(super) struct Args {
    pub(super) bytes: KVVec<u8>,
    /// `arg_start`, `arg_end`, `env_start`, `env_end` as offsets into `bytes`.
    pub(super) offs: [u64; 4],
}

impl Args {
    /// Copies the strings (`None`: an unusual layout, or no memory for the copy).
    pub(super) fn take(u: &UserCtx) -> Option<Args> {
        let l = u.layout().ok()?;
        let a = wire::MM_ARG_START;
        let (a0, a1, e0, e1) = (l[a], l[a + 1], l[a + 2], l[a + 3]);
        if !(a0 <= a1 && a1 <= e0 && e0 <= e1) || a1 == a0 {
            return None;
        }
        let end = if e1 - a0 <= ARGS_MAX {
            e1
        } else {
            a1.min(a0 + ARGS_MAX)
        };
        let len = (end - a0) as usize;
        let mut bytes = KVVec::new();
        bytes.extend_with(len, 0u8, GFP_KERNEL).ok()?;
        UserSlice::new(a0 as usize, len)
            .reader()
            .read_slice(&mut bytes)
            .ok()?;
        let off = |x: u64| x.min(end) - a0;
        Some(Args {
            bytes,
            offs: [0, off(a1), off(e0), off(e1)],
        })
    }

    /// Maps the copy (read-only) into the calling deputy and points its mm's argument and
    /// environment bounds at it. Returns the area mapped (start, length). Errors: `ENOMEM`,
    /// `EFAULT`.
    pub(super) fn show(&self, u: &UserCtx) -> Result<(u64, u64)> {
        let len = (self.bytes.len() as u64).next_multiple_of(PAGE as u64);
        let at = u.map_anywhere(len, wire::prot::READ)?;
        u.poke(at, &self.bytes)?;
        let mut l = u.layout()?;
        let a = wire::MM_ARG_START;
        for (slot, off) in l[a..a + 4].iter_mut().zip(self.offs) {
            *slot = at + off;
        }
        u.set_layout(&l)?;
        Ok((at, len))
    }
}
