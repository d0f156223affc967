// SPDX-License-Identifier: GPL-2.0
//! Periodic checks from the gossip thread: ending processes whose other node is gone, relaying stops, reporting guests home.

use kernel::prelude::*;
use kernel::sync::Arc;

use super::Migration;
use crate::proto::mig as wire;
use crate::uapi::pstate;

use super::record::Proc;
use super::request::request_guest_home;
use super::signo;
use super::{send_ctl, send_signal, SIGKILL};
use crate::kapi::migration;
use crate::kapi::uctx::SigInfo;
use crate::proto::status::{Status, STATES};
use crate::proto::MsgType;

/// Ends the processes that depend on a node that is gone: a deputy whose process ran on it, a
/// guest whose home it was. A node counts as gone when it has been down or without a connection
/// for `timeout` ms (the node timeout of `/proc/hpc/admin/timeout`, 5 s by default); called every
/// gossip interval, so a process ends at most `timeout` + one gossip interval (6 s by default)
/// after its node went silent. Each end is logged with its reason.
pub(super) fn end_orphans(mig: &Arc<Migration>, now: u64, timeout_ms: u64) {
    let Ok(all) = mig.reg.all() else { return };
    let me = mig.net.self_id();
    for p in all.iter() {
        let Some((state, peer, since)) = depends_on(p, me) else {
            continue;
        };
        if mig.net.is_up(peer) {
            if since != 0 {
                p.inner.lock().lost_since = 0;
            }
            continue;
        }
        // Marked down (no news for `timeout`): gone now. Up but without a connection: gone once
        // that lasted `timeout`.
        if mig.net.node_up(peer) {
            if since == 0 {
                p.inner.lock().lost_since = now;
                continue;
            }
            if now.saturating_sub(since) < timeout_ms {
                continue;
            }
        }
        let since = if since == 0 { now } else { since };
        end_dependent(mig, p, state, peer, now, Gone::Silent(now - since));
    }
}

/// Node `peer` came back as a new incarnation: every process that depended on the old one
/// gets its outcome now, as if the node had been gone for the node timeout.
pub(super) fn end_restarted(mig: &Arc<Migration>, peer: u32) {
    let Ok(all) = mig.reg.all() else { return };
    let (me, now) = (mig.net.self_id(), crate::kapi::sys::monotonic_ms());
    for p in all.iter() {
        if let Some((state, on, _)) = depends_on(p, me) {
            if on == peer {
                end_dependent(mig, p, state, peer, now, Gone::Restarted);
            }
        }
    }
}

/// Whether process `p` depends on another node (this node is `me`): its state, that node and
/// since when it has been without contact with it (0: not lost).
fn depends_on(p: &Proc, me: u32) -> Option<(u32, u32, u64)> {
    let i = p.inner.lock();
    let peer = if p.home == me { i.where_ } else { p.home };
    let state = i.role.pstate();
    let depends = match state {
        pstate::DEPUTY | pstate::GUEST => true,
        pstate::MIGRATING => peer != me && peer != 0,
        _ => false,
    };
    (depends && peer != me && !i.finished).then_some((state, peer, i.lost_since))
}

/// Why a process's other node counts as gone.
#[derive(Clone, Copy)]
enum Gone {
    /// No contact for this many ms.
    Silent(u64),
    /// It came back as a new incarnation.
    Restarted,
}

impl core::fmt::Display for Gone {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Gone::Silent(ms) => write!(f, "no contact for {ms} ms"),
            Gone::Restarted => f.write_str("it restarted"),
        }
    }
}

/// Gives process `p` (in `state`) the outcome of losing node `peer`: a transfer in progress
/// fails (its waits end with `EHOSTUNREACH`); a deputy or a guest ends (SIGKILL), logged.
fn end_dependent(mig: &Migration, p: &Proc, state: u32, peer: u32, now: u64, why: Gone) {
    if state == pstate::MIGRATING {
        p.set_state(|i| i.peer_gone = true);
        return;
    }
    let Some(t) = p.task() else { return };
    if p.home == mig.net.self_id() {
        pr_warn!(
            "migration: process {} ended: node {} where it ran is gone ({})\n",
            p.home_pid,
            peer,
            why
        );
    } else {
        pr_warn!(
            "migration: guest {} (pid {} of node {}) ended: its home node is gone ({})\n",
            t.pid(),
            p.home_pid,
            peer,
            why
        );
    }
    p.set_state(|i| {
        i.finished = true;
        i.lost_since = now;
    });
    let _ = t.send_signal(SIGKILL);
}

/// Job control across nodes, called every decay interval (100 ms): a deputy that stopped
/// (SIGSTOP cannot be caught) stops its guest; a guest that stopped (a stop signal forwarded to
/// it, or raised there) stops its deputy, so the parent's `waitpid(WUNTRACED)` sees it. SIGCONT
/// is caught by the deputy and forwarded, continuing both. The SIGSTOP for a deputy's stop and
/// the SIGCONT that ends it leave in that order (`Proc::signal_order`), and a guest does not
/// report back a stop its home node asked for (`Guest::home_stop`): a late report would stop
/// the process again after it was continued.
pub(super) fn relay_stops(mig: &Arc<Migration>) {
    let Ok(all) = mig.reg.all() else { return };
    let me = mig.net.self_id();
    for p in all.iter() {
        let (state, task, where_) = {
            let i = p.inner.lock();
            (i.role.pstate(), i.task.clone(), i.where_)
        };
        let Some(t) = task else { continue };
        if p.home == me && state == pstate::DEPUTY {
            // Decide and send under `signal_order`: a SIGCONT the deputy forwards meanwhile
            // waits and follows this SIGSTOP on the connection.
            let _order = p.signal_order.lock();
            let now = t.is_stopped();
            let newly = {
                let mut i = p.inner.lock();
                let newly = now && !i.stopped;
                i.stopped = now;
                newly
            };
            if newly {
                let stop = SigInfo::kernel(signo::SIGSTOP as u32);
                let _ = send_signal(mig, where_, p.token, &stop);
            }
        } else if p.home != me && state == pstate::GUEST {
            let retry = p
                .inner
                .lock()
                .guest()
                .is_some_and(|g| core::mem::take(&mut g.home_retry));
            if retry {
                request_guest_home(mig, p, &t, "again (it was in the vDSO)");
            }
            // Checked under the lock the SIGNAL handler holds while it signals the task.
            let report = {
                let mut i = p.inner.lock();
                let now = t.is_stopped();
                let newly = now && !i.stopped;
                i.stopped = now;
                // A stop the home node asked for is not news to it.
                let home_stop = i.guest().is_some_and(|g| {
                    let asked = g.home_stop;
                    if newly {
                        g.home_stop = false;
                    }
                    asked
                });
                newly && !home_stop
            };
            if report {
                let _ = send_ctl(mig, p.home, p.token, wire::ctl::STOPPED, 0);
            }
        }
    }
}

/// Reports each guest here to its home ([`Status`], every gossip interval): its state, its CPU
/// time on every node so far and its memory here, which `/proc/PID` at home shows instead of
/// the deputy's (`patches/0015`), so `ps` and `top` there see what it does. Values the kernel
/// would not give (a state letter unknown to `/proc`, sizes beyond the user address space) are
/// clamped, so the report always decodes.
pub(super) fn report_guests(mig: &Arc<Migration>) {
    let Ok(all) = mig.reg.all() else { return };
    let me = mig.net.self_id();
    for p in all.iter() {
        if p.home == me {
            continue;
        }
        let task = {
            let i = p.inner.lock();
            if i.role.pstate() != pstate::GUEST || i.finished {
                continue;
            }
            i.task.clone()
        };
        let Some(t) = task else { continue };
        let v = migration::sample(&t);
        let s = Status {
            token: p.token,
            cpu: v.cpu.map(|c| c.min(wire::MAX_CLOCK_NS)),
            vsize: v.vsize.min(wire::USER_TOP),
            rss: v.rss.min(wire::USER_TOP / 4096),
            state: if STATES.contains(&v.state) {
                v.state
            } else {
                b'R'
            },
        };
        let _ = mig.net.send_to(p.home, MsgType::MigStatus, &[&s.encode()]);
    }
}
