// SPDX-License-Identifier: GPL-2.0
//! Node-wide actions: expel, bring, and module unload.

use kernel::prelude::*;
use kernel::sync::Arc;

use super::Migration;
use crate::kapi::sys;
use crate::proto::mig as wire;
use crate::uapi::pstate;

use super::record::{Inner, Proc};
use super::request::request_guest_home;
use super::{send_ctl, SIGKILL};

/// `expel` written as a parameter: sends every guest here home and returns once none is here
/// (at most [`PARAM_WAIT_MS`]; a guest that could not move stays).
pub(crate) fn expel_and_wait(mig: &Arc<Migration>) -> Result {
    expel(mig)?;
    wait_until_none(mig, |p, i| {
        i.role.pstate() == pstate::GUEST && p.home != mig.net.self_id()
    });
    Ok(())
}

/// `bring` written as a parameter: asks every process of this home node that is away to come
/// home and returns once none is away (at most [`PARAM_WAIT_MS`]).
pub(crate) fn bring_and_wait(mig: &Arc<Migration>) -> Result {
    // A process leaving right now (its migration in progress) is away when it ends: ask again
    // until none is away or leaving.
    let start = sys::monotonic_ms();
    loop {
        bring(mig)?;
        let me = mig.net.self_id();
        let away = |p: &Proc, i: &Inner| {
            p.home == me
                && (i.role.pstate() == pstate::DEPUTY || i.role.pstate() == pstate::MIGRATING)
        };
        if wait_until_none_for(mig, away, 2000) || sys::monotonic_ms() - start >= PARAM_WAIT_MS {
            return Ok(());
        }
    }
}

/// How long `expel` and `bring` written as parameters wait for the processes to move (ms).
pub(super) const PARAM_WAIT_MS: u64 = 30_000;

/// Waits (polling every 50 ms, at most [`PARAM_WAIT_MS`]) until no process record matches `which`.
pub(super) fn wait_until_none(mig: &Migration, which: impl Fn(&Proc, &Inner) -> bool) {
    wait_until_none_for(mig, which, PARAM_WAIT_MS);
}

/// As [`wait_until_none`], at most `ms`; whether none matches at the end.
pub(super) fn wait_until_none_for(
    mig: &Migration,
    which: impl Fn(&Proc, &Inner) -> bool,
    ms: u64,
) -> bool {
    let start = sys::monotonic_ms();
    loop {
        let left = mig.reg.all().map_or(0, |v| {
            v.iter()
                .filter(|p| {
                    let i = p.inner.lock();
                    which(p, &i) && !i.finished
                })
                .count()
        });
        if left == 0 {
            return true;
        }
        if sys::monotonic_ms() - start >= ms {
            return false;
        }
        sys::sleep_uninterruptible_ms(50);
    }
}

/// `expel`: send every guest here home.
pub(super) fn expel(mig: &Arc<Migration>) -> Result {
    for p in mig.reg.all()? {
        let (guest, t) = {
            let i = p.inner.lock();
            (
                i.role.pstate() == pstate::GUEST
                    || i.role.pstate() == pstate::MIGRATING && p.home != mig.net.self_id(),
                i.task.clone(),
            )
        };
        if let (true, Some(t)) = (guest, t) {
            request_guest_home(mig, &p, &t, "expel");
        }
    }
    Ok(())
}

/// `bring`: ask every process of this home node that is away to come home.
pub(super) fn bring(mig: &Arc<Migration>) -> Result {
    for p in mig.reg.all()? {
        let (deputy, where_) = {
            let i = p.inner.lock();
            (i.role.pstate() == pstate::DEPUTY, i.where_)
        };
        if deputy {
            p.inner.lock().next = 0;
            let _ = send_ctl(mig, where_, p.token, wire::ctl::GO_HOME, 0);
        }
    }
    Ok(())
}

/// Module unload: send guests home, bring processes home, and end whatever is left so that no
/// task remains in the hooks. Waits at most `ms`.
pub(crate) fn shutdown(mig: &Arc<Migration>, ms: u32) {
    let _ = expel(mig);
    let _ = bring(mig);
    wait_until_none_for(
        mig,
        |_, i| {
            matches!(
                i.role.pstate(),
                pstate::GUEST | pstate::DEPUTY | pstate::MIGRATING
            )
        },
        u64::from(ms),
    );
    if let Ok(v) = mig.reg.all() {
        for p in v.iter() {
            let (state, t) = {
                let mut i = p.inner.lock();
                i.finished = true;
                (i.role.pstate(), i.task.clone())
            };
            p.cv.notify_all();
            if matches!(state, pstate::GUEST | pstate::DEPUTY) {
                if let Some(t) = t {
                    pr_warn!(
                        "migration: ending process {} (could not move it home)\n",
                        t.pid()
                    );
                    let _ = t.send_signal(SIGKILL);
                }
            }
        }
    }
}
