// SPDX-License-Identifier: GPL-2.0
//! The target side of an offer: accept or refuse, start the shell the image will run in.

use kernel::prelude::*;
use kernel::sync::Arc;

use super::Migration;
use crate::kapi::migration::{spawn_shell, ShellCreds};
use crate::kapi::sys;
use crate::kapi::task::TaskRef;
use crate::proto::mig::{self as wire, Offer};
use crate::proto::MsgType;
use crate::uapi::cantmove;

use super::record::Proc;
use super::record::Quota;
use super::record::Role;
use super::SHELL_PATH;
use crate::kapi::errno;

/// Memory a target keeps free beyond an incoming image, in KiB.
pub(super) const RESERVE_KIB: u64 = 16 * 1024;

/// An Offer arrived (rx thread of the connection with the home node).
pub(super) fn on_offer(mig: &Arc<Migration>, from: u32, o: Offer) {
    let answer = |status: u32, pid: u32| {
        let a = wire::Answer {
            token: o.token,
            status,
            pid,
        };
        let _ = mig.net.send_to(from, MsgType::MigAnswer, &[&a.encode()]);
    };
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
