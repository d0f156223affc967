// SPDX-License-Identifier: GPL-2.0
//! The target side of an offer: accept or refuse, start the shell the image will run in. Offers
//! wait in a short queue ([`Offers`]) for the `oxmosix-offer` thread: starting a shell waits for
//! an exec, which a connection's receive thread must not do.

use kernel::c_str;
use kernel::prelude::*;
use kernel::sync::Arc;

use super::Migration;
use crate::kapi::kthread::{self, KThread};
use crate::kapi::migration::{spawn_shell, ShellCreds};
use crate::kapi::sys;
use crate::kapi::task::TaskRef;
use crate::proto::mig::{self as wire, Offer};
use crate::proto::MsgType;
use crate::uapi::cantmove;
use crate::wait::wait_until;

use super::record::Proc;
use super::record::Quota;
use super::record::Role;
use super::SHELL_PATH;
use crate::kapi::errno;

/// Memory a target keeps free beyond an incoming image, in KiB.
pub(super) const RESERVE_KIB: u64 = 16 * 1024;
/// Offers waiting for the offer thread, at most; more are refused at once (`TARGET_SHELL`).
const QUEUE: usize = 8;
/// How long the offer thread sleeps before it looks for a stop request, ms.
const IDLE_MS: u32 = 200;

/// Offers received and not handled yet, oldest first: `(from, offer)`.
pub(crate) struct Offers {
    q: [Option<(u32, Offer)>; QUEUE],
    len: usize,
    /// The offer thread stopped (module unload): nothing is queued any more.
    closed: bool,
}

impl Offers {
    pub(super) const fn new() -> Self {
        Offers {
            q: [None; QUEUE],
            len: 0,
            closed: false,
        }
    }

    /// Queues an offer. Errors: the `cantmove` answer to give at once (`TARGET_SHELL`: queue
    /// full; `TARGET_BLOCKED`: this node's module is unloading).
    fn push(&mut self, from: u32, o: Offer) -> core::result::Result<(), u32> {
        if self.closed {
            return Err(cantmove::TARGET_BLOCKED);
        }
        if self.len == QUEUE {
            return Err(cantmove::TARGET_SHELL);
        }
        self.q[self.len] = Some((from, o));
        self.len += 1;
        Ok(())
    }

    fn pop(&mut self) -> Option<(u32, Offer)> {
        if self.len == 0 {
            return None;
        }
        let first = self.q[0].take();
        self.q.rotate_left(1);
        self.len -= 1;
        first
    }
}

/// Answers offer `o` from node `from` with `status` (0: accepted) and the pid of its shell.
fn answer(mig: &Migration, from: u32, o: &Offer, status: u32, pid: u32) {
    let a = wire::Answer {
        token: o.token,
        status,
        pid,
    };
    let _ = mig.net.send_to(from, MsgType::MigAnswer, &[&a.encode()]);
}

/// An Offer arrived (rx thread of the connection with the home node): queued for the offer
/// thread, or refused at once (queue full, or the module is unloading).
pub(super) fn queue_offer(mig: &Arc<Migration>, from: u32, o: Offer) {
    let queued = mig.offers.lock().push(from, o);
    match queued {
        Ok(()) => mig.offers_cv.notify_all(),
        Err(why) => answer(mig, from, &o, why, 0),
    }
}

/// Starts the `oxmosix-offer` thread, which handles queued offers until it is stopped (dropping
/// the handle); offers still queued then, and any later, are refused (`TARGET_BLOCKED`).
/// Errors: those of [`KThread::spawn`].
pub(crate) fn spawn_offer_thread(mig: &Arc<Migration>) -> Result<KThread> {
    let mig = mig.clone();
    KThread::spawn(c_str!("oxmosix-offer"), move || loop {
        let next = {
            let mut q = mig.offers.lock();
            wait_until(&mig.offers_cv, &mut q, IDLE_MS, 0, Offers::pop).ok()
        };
        if let Some((from, o)) = next {
            on_offer(&mig, from, o);
        }
        if kthread::should_stop() {
            mig.offers.lock().closed = true;
            loop {
                let left = mig.offers.lock().pop();
                let Some((from, o)) = left else { return };
                answer(&mig, from, &o, cantmove::TARGET_BLOCKED, 0);
            }
        }
    })
}

/// Handles offer `o` from node `from`: refuses it or makes the record and the shell and accepts.
fn on_offer(mig: &Arc<Migration>, from: u32, o: Offer) {
    let answer = |status: u32, pid: u32| answer(mig, from, &o, status, pid);
    if o.home != from && mig.reg.by_token(o.token).is_none() {
        // Chains go through the home node: only it offers its processes.
        answer(cantmove::TARGET_FAILED, 0);
        return;
    }
    if mig.net.blocks_guests() {
        answer(cantmove::TARGET_BLOCKED, 0);
        return;
    }
    if o.uid == 0 && !mig.net.allows_root() {
        answer(cantmove::TARGET_ROOT, 0);
        return;
    }
    let (_, _, avail) = sys::meminfo_kib();
    if o.pages.saturating_mul(4) + RESERVE_KIB > avail {
        answer(cantmove::TARGET_NOMEM, 0);
        return;
    }
    // A record left over from an earlier visit of this process is finished: replace it.
    if let Some(old) = mig.reg.by_token(o.token) {
        old.set_state(|i| i.finished = true);
        mig.reg.remove(&old);
    }
    let p = match Proc::new(
        o.token,
        o.home,
        o.home_pid as i32,
        Role::Arriving { go_home: false },
    ) {
        Ok(p) => p,
        Err(_) => return answer(cantmove::TARGET_NOMEM, 0),
    };
    {
        let mut i = p.inner.lock();
        i.comm = o.comm;
        i.nmigs = o.nmigs;
        i.uid = o.uid;
        i.gid = o.gid;
        i.where_ = mig.net.self_id();
    }
    // At most `max_guests` guests (arriving ones included), and one peer holds at most half
    // of them: others can still send guests. The registry (256 records) is the last bound.
    let max = mig.net.max_guests() as usize;
    let caps = [
        (Quota::Guests(mig.net.self_id()), max),
        (Quota::Home(o.home), max.div_ceil(2)),
    ];
    match mig.reg.insert(p.clone(), &caps) {
        Ok(()) => {}
        Err(e) if e == errno::edquot() => return answer(cantmove::TARGET_FULL, 0),
        Err(_) => return answer(cantmove::TARGET_NOMEM, 0),
    }
    let creds = ShellCreds {
        uid: o.uid,
        gid: o.gid,
        ngroups: o.ngroups as usize,
        groups: o.groups,
        no_new_privs: o.flags & wire::OFFER_NO_NEW_PRIVS != 0,
    };
    let r = spawn_shell(SHELL_PATH, creds, p.clone(), |p: &Proc, t: TaskRef| {
        t.set_migrated(true);
        let mut i = p.inner.lock();
        i.pid = t.pid();
        i.task = Some(t);
    });
    if let Err(e) = r {
        pr_warn!("migration: cannot start {:?}: {:?}\n", SHELL_PATH, e);
        mig.reg.remove(&p);
        return answer(cantmove::TARGET_SHELL, 0);
    }
    let pid = p.inner.lock().pid;
    answer(0, pid as u32);
}
