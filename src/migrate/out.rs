// SPDX-License-Identifier: GPL-2.0
//! Leaving home: the task work that streams a process away and turns it into its deputy.

use kernel::prelude::*;
use kernel::sync::Arc;

use super::view::cantmove_of;
use super::Migration;
use crate::kapi::errno;
use crate::kapi::task::TaskRef;
use crate::kapi::uctx::{self, UserCtx};
use crate::proto::mig::{self as wire, Offer, PAGE};
use crate::proto::MsgType;
use crate::uapi::{cantmove, pstate};

use super::deputy::{SCRATCH, STUB, STUB_HANDLER, STUB_RESTORER};
use super::image::{drain, holding_signals, is_vdso, stream, Frozen};
use super::record::Deputy;
use super::record::Role;
use super::record::{Item, Proc};
use super::signo;
use super::MigError;
use super::MigResult;
use super::{send_ctl, INSTALL_MS, SIGKILL, STEP_MS};
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
    let (r, sent) = holding_signals(u, |s| (send_image(u, mig, p, target, s), s.pending));
    match r {
        Ok(()) => {
            counters::bump(&mig.stats.out);
            if let Err(e) = become_deputy(u, mig, p, target, sent) {
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

/// Offers the calling process to `target`, streams its image (with `signals`, its signal state
/// from before the transfer) and commits: on `Ok` the target runs it. On error nothing changed
/// here and the target dropped it.
pub(super) fn send_image(
    u: &UserCtx,
    mig: &Arc<Migration>,
    p: &Arc<Proc>,
    target: u32,
    signals: &uctx::Signals,
) -> MigResult {
    let vmas = u.vmas().map_err(|e| MigError::new(e, cantmove::LAYOUT))?;
    let vdso = u.vdso_addr();
    if vdso == 0 {
        return Err(MigError::new(EBUSY, cantmove::LAYOUT));
    }
    let mut pages = 0u64;
    for v in vmas.iter() {
        if is_vdso(v, vdso) {
            continue;
        }
        if v.flags & uctx::vmf::SHARED != 0 && v.flags & uctx::vmf::MAYWRITE != 0 {
            return Err(MigError::new(EBUSY, cantmove::SHARED_WRITABLE));
        }
        if v.flags & uctx::vmf::DEVICE != 0 {
            return Err(MigError::new(EBUSY, cantmove::DEVICE));
        }
        pages += (v.end - v.start) / PAGE as u64;
    }
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
        signals,
        rewound: None,
    };
    stream(u, mig, p, target, &vmas, vdso, &frozen).map_err(abort)?;
    match p.pop(INSTALL_MS, false) {
        Ok(Item::Answer(a)) if a.status == 0 => {}
        Ok(Item::Answer(a)) => return Err(MigError::new(EIO, a.status)),
        Ok(_) => return Err(abort(EIO)),
        Err(e) => return Err(abort(e)),
    }
    send_ctl(mig, target, p.token, wire::ctl::GO, 0).map_err(abort)?;
    Ok(())
}

/// Turns the calling task into the deputy of its process, now running on `target`: releases
/// its memory, maps the stub and scratch memory, points its registers at the stub and marks it.
/// `sent`: the pending signals the image carried; those that arrived during the transfer are
/// forwarded to the remote now (`MigCtl SIGNAL`, after the commit on the same connection).
pub(super) fn become_deputy(
    u: &UserCtx,
    mig: &Migration,
    p: &Arc<Proc>,
    target: u32,
    sent: u64,
) -> Result {
    // Pending signals went with the image or are forwarded below; from now on signals arriving
    // here are caught by the stub's handler and forwarded (see `set_deputy_actions`).
    let now = u.signals();
    let actions = now.actions;
    let late = now.pending & !sent & !signo::bit(SIGKILL);
    u.set_blocked(!0);
    u.flush_signals();
    let vdso = u.vdso_addr();
    for v in u.vmas()?.iter() {
        if !is_vdso(v, vdso) {
            u.unmap(v.start, v.end - v.start)?;
        }
    }
    let scratch = u.map_anywhere(SCRATCH, wire::prot::READ | wire::prot::WRITE)?;
    let stub = u.map_anywhere(PAGE as u64, wire::prot::READ | wire::prot::EXEC)?;
    u.poke(stub, &STUB)?;
    u.set_deputy_actions(&actions, stub + STUB_HANDLER, stub + STUB_RESTORER);
    let dfl_stops = signo::TERMINAL_STOPS
        .iter()
        .filter(|&&sg| actions[sg as usize - 1][0] == uctx::SIG_DFL)
        .fold(0u64, |m, &sg| m | signo::bit(sg));
    u.set_blocked(0);
    let mut r = [0u64; uctx::NREGS];
    r[wire::REG_IP] = stub;
    r[wire::REG_SP] = scratch + SCRATCH;
    u.set_regs(&r)?;
    TaskRef::current().set_migrated(true);
    p.set_state(|i| {
        i.role = Role::Deputy(Deputy {
            stub,
            scratch,
            in_flight: None,
            dfl_stops,
        });
        i.where_ = target;
        i.nmigs += 1;
        i.result = Some(Ok(()));
    });
    if late != 0 {
        let _order = p.signal_order.lock();
        for sig in (1..=64u32).filter(|&s| late & signo::bit(s as i32) != 0) {
            let _ = send_ctl(mig, target, p.token, wire::ctl::SIGNAL, sig);
            counters::bump(&mig.stats.signals);
        }
    }
    Ok(())
}
