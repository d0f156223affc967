// SPDX-License-Identifier: GPL-2.0
//! Dispatch of migration messages arriving on a connection (the connection's receive thread).

use kernel::prelude::*;
use kernel::sync::Arc;

use super::Migration;
use crate::kapi::uctx::SigInfo;
use crate::proto::mig::{self as wire, Ctl};
use crate::proto::signal as sigwire;
use crate::proto::status::Status;
use crate::proto::Message;
use crate::uapi::pstate;

use super::offer::queue_offer;
use super::record::Item;
use super::record::Proc;
use super::record::Role;
use super::request::request_guest_home;
use super::signo;
use super::SIGKILL;
use crate::counters;

/// Dispatches a migration message from node `from` (called by the connection's rx thread).
/// Frames for unknown processes are counted and dropped (they may be late).
pub(super) fn on_message(mig: &Arc<Migration>, from: u32, m: &Message<'_>) -> Result {
    if let Message::MigOffer(o) = *m {
        queue_offer(mig, from, o);
        return Ok(());
    }
    if let Message::MigStatus(s) = *m {
        take_status(mig, from, s);
        return Ok(());
    }
    let Some((token, item)) = to_item(m)? else {
        return Ok(());
    };
    let Some(p) = mig.reg.by_token(token) else {
        counters::bump(&mig.stats.stray);
        return Ok(());
    };
    // Only the node the process exchanges with may talk about it.
    let peer_ok = {
        let i = p.inner.lock();
        if p.home == mig.net.self_id() {
            i.where_ == from
        } else {
            p.home == from
        }
    };
    if !peer_ok {
        counters::bump(&mig.stats.stray);
        return Ok(());
    }
    if let Item::Ctl(c) = &item {
        if on_ctl(mig, &p, c) {
            return Ok(());
        }
    }
    if let Item::Signal(s) = &item {
        if s.flags & sigwire::flags::IMAGE == 0 && deliver_signal(mig, &p, &s.info) {
            return Ok(());
        }
    }
    if p.push(item).is_err() {
        overrun(mig, &p, from);
    }
    Ok(())
}

/// A frame for `p` found its inbox full: node `from` ignored flow control (every exchange
/// leaves room in an inbox, see [`Proc::push`]). The exchange cannot go on without the lost
/// frame, so the process ends on both nodes, as if killed: at home its task (deputy or a
/// process waiting for its image's answer), here the guest; counted and logged (rate-limited).
fn overrun(mig: &Arc<Migration>, p: &Arc<Proc>, from: u32) {
    counters::bump(&mig.stats.overruns);
    if mig.overruns_logged.allow(crate::kapi::sys::monotonic_ms()) {
        pr_warn!(
            "migration: node {} overran the inbox of process {} of node {}; ending it\n",
            from,
            p.home_pid,
            p.home
        );
    }
    let (task, first) = {
        let mut i = p.inner.lock();
        let first = !i.finished;
        i.finished = true;
        (i.task.clone(), first)
    };
    p.cv.notify_all();
    if first {
        let op = if p.home == mig.net.self_id() {
            wire::ctl::KILL
        } else {
            wire::ctl::GONE
        };
        let _ = super::send_ctl(mig, from, p.token, op, SIGKILL as u32);
    }
    if let Some(t) = task {
        let _ = t.send_signal(SIGKILL);
    }
}

/// The process token a message is about and what it queues for the process (`None`: not a
/// message for a process's inbox). Payloads are copied out of the receive buffer. Errors:
/// `EINVAL` (an undecodable State), `ENOMEM`.
fn to_item(m: &Message<'_>) -> Result<Option<(u64, Item)>> {
    let copy = |b: &[u8]| -> Result<KVVec<u8>> {
        let mut v = KVVec::with_capacity(b.len(), GFP_KERNEL)?;
        v.extend_from_slice(b, GFP_KERNEL)?;
        Ok(v)
    };
    Ok(Some(match *m {
        Message::MigAnswer(a) => (a.token, Item::Answer(a)),
        Message::MigState(b) => {
            let mut st = super::image::boxed_state(0)?;
            wire::State::decode_into(b, &mut st).map_err(|_| EINVAL)?;
            (st.token, Item::State(copy(b)?))
        }
        Message::MigVma(v) => (v.token, Item::Vma(v)),
        Message::MigPages(pg) => (
            pg.token,
            Item::Pages {
                addr: pg.addr,
                data: copy(pg.data)?,
            },
        ),
        Message::MigEnd(e) => (e.token, Item::End(e)),
        Message::Syscall(s) => (
            s.token,
            Item::Syscall {
                nr: s.nr,
                args: s.args,
                data: copy(s.data)?,
            },
        ),
        Message::SysReply(r) => (
            r.token,
            Item::Reply {
                result: r.result,
                data: copy(r.data)?,
            },
        ),
        Message::SysData(d) => (d.token, Item::Data(copy(d.data)?)),
        Message::MigCtl(c) => (c.token, Item::Ctl(c)),
        Message::MigSignal(s) => (s.token, Item::Signal(s)),
        Message::MigFile(f) => {
            let mut path = KVec::with_capacity(f.path.len(), GFP_KERNEL)?;
            path.extend_from_slice(f.path, GFP_KERNEL)?;
            (
                f.token,
                Item::File {
                    index: f.index,
                    prot: f.prot,
                    hash: f.hash,
                    path,
                },
            )
        }
        _ => return Ok(None),
    }))
}

/// A signal that arrived for the process at its home (not part of an image) is delivered to
/// its guest here at once, with its siginfo; returns whether it was (at home, the signals a
/// guest hands back wait in the inbox for the commit of its move home).
fn deliver_signal(mig: &Migration, p: &Proc, info: &SigInfo) -> bool {
    if p.home == mig.net.self_id() {
        return false;
    }
    // Under the lock `relay_stops` reads the stop state with: a SIGCONT ends the home's stop
    // before a later look could report it as the guest's own.
    let mut i = p.inner.lock();
    if let Some(t) = i.task.clone() {
        if t.send_signal_info(info).is_err() {
            counters::bump(&mig.stats.signals_lost);
            if mig.signals_logged.allow(crate::kapi::sys::monotonic_ms()) {
                pr_warn!(
                    "migration: signal {} for pid {} of node {} could not be queued (RLIMIT_SIGPENDING?); lost\n",
                    info.signo,
                    p.home_pid,
                    p.home
                );
            }
        }
        if let Some(g) = i.guest() {
            // A signal from home may follow a change of the file read ahead.
            g.ra_gen += 1;
            match info.signo as i32 {
                signo::SIGSTOP => g.home_stop = true,
                signo::SIGCONT => g.home_stop = false,
                _ => {}
            }
        }
    }
    true
}

/// Control messages acted on at once, on the receive thread (the process's task may be busy
/// or stopped); returns whether `c` was one (otherwise it is queued for the task).
fn on_ctl(mig: &Arc<Migration>, p: &Arc<Proc>, c: &Ctl) -> bool {
    let (state, task) = {
        let i = p.inner.lock();
        (i.role.pstate(), i.task.clone())
    };
    let home = p.home == mig.net.self_id();
    match c.op {
        wire::ctl::GO_HOME if !home => {
            if let Some(t) = task {
                request_guest_home(mig, p, &t, "its home node asked");
            } else {
                if let Role::Arriving { go_home } = &mut p.inner.lock().role {
                    *go_home = true;
                }
            }
        }
        wire::ctl::STOPPED if home => {
            if let Some(t) = task {
                if !t.is_stopped() {
                    p.inner.lock().stopped = true;
                    let _ = t.send_signal(signo::SIGSTOP);
                }
            }
        }
        wire::ctl::INTERRUPT if home => interrupt_call(mig, p),
        wire::ctl::CREDIT => p.add_credit(c.arg),
        wire::ctl::READ_DROP if !home => {
            if let Some(g) = p.inner.lock().guest() {
                g.ra_gen += 1;
            }
        }
        wire::ctl::KILL if !home => {
            p.set_state(|i| i.finished = true);
            if let Some(t) = task {
                let _ = t.send_signal(SIGKILL);
            }
            if state != pstate::GUEST {
                mig.reg.remove(p);
            }
        }
        _ => return false,
    }
    true
}

/// The guest of deputy `p` is to move while it waits for its forwarded call ([`wire::ctl::INTERRUPT`]):
/// the deputy's task is interrupted as a stop would interrupt it, and on its way back to user
/// mode, instead of the kernel restarting the call at home, the stub reports the call's
/// `-ERESTART*` code, which the guest restarts from wherever it goes. A deputy with no call in
/// flight is left alone (the INTERRUPT came late: the reply is on its way); a call that finished
/// meanwhile, or restarts through its restart block (a `poll` with a timeout), answers as usual.
fn interrupt_call(mig: &Migration, p: &Proc) {
    let task = {
        let mut i = p.inner.lock();
        let task = i.task.clone();
        match i.deputy() {
            Some(d) if d.in_flight.is_some() => task,
            _ => None,
        }
    };
    let Some(t) = task else { return };
    counters::bump(&mig.stats.interrupted);
    let _ = t.add_work_interrupting(|u| {
        if let Some(u) = u {
            u.cancel_restart();
        }
    });
}

/// A guest's node reported what the process does there ([`Status`]): kept with its deputy for
/// `/proc` at home (never queued: the deputy may be busy in a call for long). Reports from any
/// node but the one the process runs on, or for a process that is not away, are strays.
fn take_status(mig: &Migration, from: u32, s: Status) {
    let me = mig.net.self_id();
    let taken = mig.reg.by_token(s.token).is_some_and(|p| {
        let mut i = p.inner.lock();
        let away = p.home == me && i.role.pstate() == pstate::DEPUTY && i.where_ == from;
        if away {
            i.status = Some(s);
        }
        away
    });
    if !taken {
        counters::bump(&mig.stats.stray);
    }
}
