// SPDX-License-Identifier: GPL-2.0
//! Periodic checks from the gossip thread: ending processes whose other node is gone, relaying stops.

use kernel::prelude::*;
use kernel::sync::Arc;

use super::Migration;
use crate::proto::mig as wire;
use crate::uapi::pstate;

use super::request::request_guest_home;
use super::signo;
use super::{send_ctl, SIGKILL};

/// Ends the processes that depend on a node that is gone: a deputy whose process ran on it, a
/// guest whose home it was. A node counts as gone when it has been down or without a connection
/// for `timeout` ms (the node timeout of `/proc/hpc/admin/timeout`, 5 s by default); called every
/// gossip interval, so a process ends at most `timeout` + one gossip interval (6 s by default)
/// after its node went silent. Each end is logged with its reason.
pub(super) fn end_orphans(mig: &Arc<Migration>, now: u64, timeout_ms: u64) {
    let Ok(all) = mig.reg.all() else { return };
    let me = mig.net.self_id();
    for p in all.iter() {
        let (state, peer, task, since) = {
            let i = p.inner.lock();
            let peer = if p.home == me { i.where_ } else { p.home };
            (i.role.pstate(), peer, i.task.clone(), i.lost_since)
        };
        let depends = match state {
            pstate::DEPUTY | pstate::GUEST => true,
            pstate::MIGRATING => peer != me && peer != 0,
            _ => false,
        };
        if !depends || peer == me {
            continue;
        }
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
        let Some(t) = task else { continue };
        if state == pstate::MIGRATING {
            // A transfer in progress with a node that is gone: its waits end now
            // (`EHOSTUNREACH`), and it fails like any other transfer.
            p.set_state(|i| i.peer_gone = true);
            continue;
        }
        if p.home == me {
            pr_warn!(
                "migration: process {} ended: node {} where it ran is gone (no contact for {} ms)\n",
                p.home_pid,
                peer,
                now - since
            );
        } else {
            pr_warn!(
                "migration: guest {} (pid {} of node {}) ended: its home node is gone (no contact for {} ms)\n",
                t.pid(),
                p.home_pid,
                peer,
                now - since
            );
        }
        p.set_state(|i| {
            i.finished = true;
            i.lost_since = now;
        });
        let _ = t.send_signal(SIGKILL);
    }
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
                let _ = send_ctl(
                    mig,
                    where_,
                    p.token,
                    wire::ctl::SIGNAL,
                    signo::SIGSTOP as u32,
                );
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
