// SPDX-License-Identifier: GPL-2.0
//! The deputy: the process's own task at home while it is away, serving its forwarded calls.

use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::uaccess::UserSlice;

use super::Migration;
use crate::kapi::migration::SyscallRegs;
use crate::kapi::sys;
use crate::kapi::task::TaskRef;
use crate::kapi::uctx::{self, SigInfo, UserCtx};
use crate::proto::mig as wire;
use crate::proto::readahead as ra;
use crate::proto::MsgType;
use crate::syscalls::{self, Arg, Class};

use super::exec::serve_exec;
use super::fault::Point;
use super::fork::{home_result, take_home_fork};
use super::image::{boxed_state, install, restart_on_return, Installed};
use super::imagefiles::HeldFiles;
use super::mapfile::serve_map;
use super::neg;
use super::out::{make_stub, migrate_out};
use super::readahead;
use super::record::Role;
use super::record::{Item, Proc};
use super::signo;
use super::{send_ctl, send_signal, MigError, SIGKILL, STEP_MS};
use crate::counters;
use crate::kapi::errno;
use crate::proto::cputime::Cpu;
use crate::uapi::{cantmove, cantmove_str};

/// System-call number the deputy stub uses to report a result and ask for the next call.
pub(crate) const DEPUTY_CALL: u64 = 0x4f58;

/// System-call number of the deputy's signal handler: a signal arrived for the process.
pub(crate) const DEPUTY_SIGNAL: u64 = 0x4f59;

/// The deputy stub. At 0: `mov rdi, rax; mov eax, DEPUTY_CALL; syscall; jmp 0` (the loop).
/// At [`STUB_HANDLER`]: the signal handler, `mov eax, DEPUTY_SIGNAL; syscall; ret` (the signal
/// number is in rdi). At [`STUB_RESTORER`]: `mov eax, 15 (rt_sigreturn); syscall`.
pub(super) const STUB: [u8; 32] = [
    0x48, 0x89, 0xc7, 0xb8, 0x58, 0x4f, 0x00, 0x00, 0x0f, 0x05, 0xeb, 0xf4, 0x90, 0x90, 0x90, 0x90,
    0xb8, 0x59, 0x4f, 0x00, 0x00, 0x0f, 0x05, 0xc3, 0xb8, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05, 0x90,
];
pub(super) const STUB_HANDLER: u64 = 16;
pub(super) const STUB_RESTORER: u64 = 24;
/// Size of the deputy's scratch memory for marshalled buffers.
pub(super) const SCRATCH: u64 = 256 * 1024;

/// The output buffers of a call the deputy is running: (scratch offset, capacity, fixed size).
pub(super) struct InFlight {
    /// Scratch offset and capacity of each buffer of `plan`, in order.
    pub(super) outs: [(u64, u64, bool); 6],
    pub(super) nouts: usize,
    pub(super) plan: syscalls::Plan,
    /// When the deputy took the request ([`sys::monotonic_us`]).
    pub(super) taken_us: u64,
}

/// The deputy runs a forwarded call: copies its inputs into scratch memory, points the
/// arguments there and records where the outputs will be. Errors (a negative errno answered to
/// the remote): a call that is not forwarded, or buffers that disagree with the plan.
pub(super) fn prepare_call(
    scratch: u64,
    nr: u64,
    args: &mut [u64; 6],
    data: &[u8],
) -> core::result::Result<InFlight, i64> {
    let f = match syscalls::classify(nr, args) {
        Class::Forward(f) if !f.oneway || f.args == [Arg::Val; 6] => f,
        // A guest's fork: the deputy forks ([`super::fork`]).
        Class::Fork if nr == syscalls::nr::CLONE && args[1..] == [0; 5] => syscalls::Forward {
            args: [Arg::Val; 6],
            oneway: false,
            split: syscalls::Split::No,
        },
        // readv/writev arrive as read/write; anything else is not the deputy's to run.
        _ => return Err(neg(errno::enosys())),
    };
    let plan = syscalls::plan(&f, args)?;
    if plan.ncaps != 0 {
        return Err(neg(EINVAL)); // the remote caps lengths before forwarding
    }
    let mut fl = InFlight {
        outs: [(0, 0, false); 6],
        nouts: 0,
        plan,
        taken_us: 0,
    };
    let mut off = 0u64; // into scratch
    let mut at = 0usize; // into data
    for b in &plan.bufs[..plan.n] {
        let in_len = if b.str {
            let e = data[at..].iter().position(|&c| c == 0).ok_or(neg(EFAULT))?;
            e as u64 + 1
        } else {
            u64::from(b.in_len)
        };
        let size = in_len.max(u64::from(b.out_cap));
        if off + size > SCRATCH {
            return Err(neg(EFAULT));
        }
        if in_len > 0 {
            let end = at + in_len as usize;
            if end > data.len() {
                return Err(neg(EFAULT));
            }
            UserSlice::new((scratch + off) as usize, in_len as usize)
                .writer()
                .write_slice(&data[at..end])
                .map_err(|_| neg(EFAULT))?;
            at = end;
        }
        fl.outs[fl.nouts] = (off, u64::from(b.out_cap), false);
        fl.nouts += 1;
        args[b.arg as usize] = scratch + off;
        off += (size + 15) & !15;
    }
    if at != data.len() {
        return Err(neg(EFAULT));
    }
    Ok(fl)
}

/// Answers the guest's forwarded call with `result` and the output buffers `out`, telling it
/// first to drop its read-ahead if the file changed at home ([`readahead::check`]).
pub(super) fn send_reply(mig: &Migration, p: &Proc, result: i64, out: &[u8]) {
    readahead::check(mig, p);
    send_reply_unchecked(mig, p, result, out);
}

/// [`send_reply`] without the read-ahead check (the answer to a fill itself).
pub(super) fn send_reply_unchecked(mig: &Migration, p: &Proc, result: i64, out: &[u8]) {
    let mut hdr = [0u8; wire::SYSREPLY_HDR_LEN];
    wire::SysReply::encode_header(p.token, result, &mut hdr);
    let where_ = p.inner.lock().where_;
    let _ = mig.net.send_to(where_, MsgType::SysReply, &[&hdr, out]);
}

/// The deputy's system-call entry: report the result of the call it just ran, then wait for
/// the next forwarded call, the process coming home, or its end.
pub(super) fn deputy_enter(
    u: &UserCtx,
    mig: &Arc<Migration>,
    p: &Arc<Proc>,
    regs: &mut SyscallRegs,
) -> bool {
    if regs.nr() == DEPUTY_SIGNAL {
        on_signal(u, mig, p, regs.args()[0], regs.args()[1]);
        regs.set_result(0);
        return true;
    }
    if regs.nr() != DEPUTY_CALL {
        // The restart of an interrupted forwarded call: let it run again.
        return false;
    }
    let Some((fl, scratch)) = p
        .inner
        .lock()
        .deputy()
        .map(|d| (d.in_flight.take(), d.scratch))
    else {
        return false;
    };
    if let Some(fl) = fl {
        let result = home_result(p, regs.args()[0] as i64);
        reply_result(mig, p, &fl, scratch, result);
    }
    // The files a guest coming home names before its State (`imagefiles`), kept in the record
    // while this task is in user mode.
    let mut held = HeldGuard::take(p);
    loop {
        let item = match p.pop(0, true) {
            Ok(it) => it,
            Err(e) if e == ESRCH => {
                // Killed at home: end the remote too.
                let where_ = p.inner.lock().where_;
                let _ = send_ctl(mig, where_, p.token, wire::ctl::KILL, SIGKILL as u32);
                regs.set_result(0);
                return true;
            }
            Err(_) => {
                // A stop or another signal: let the kernel handle it; the stub comes back.
                regs.set_result(0);
                return true;
            }
        };
        // The files a guest coming home names (`MigFile`, `FILES`): taken here.
        let Some(item) = held.files.take_frame(mig, p, item) else {
            continue;
        };
        match item {
            Item::Syscall { nr, args, data } => {
                if take_call(u, mig, p, regs, scratch, u64::from(nr), args, &data) {
                    return false;
                }
            }
            Item::State(buf) => {
                // Installed, the process's own registers are in place (its rax included):
                // the hook must leave them as they are.
                let held = core::mem::replace(&mut held.files, HeldFiles::none());
                if !come_home(u, mig, p, &buf, held) {
                    regs.set_result(0);
                }
                return true;
            }
            Item::Ctl(c) if c.op == wire::ctl::GONE => {
                add_remote_cpu(u, p, c.cpu);
                end_as_remote(u, p, c.arg);
                regs.set_result(0);
                return true;
            }
            _ => {}
        }
    }
}

/// A forwarded call the deputy's loop took (`nr(args)` with input bytes `data`): answered here
/// (read-ahead, the deputy's own calls, a call that cannot run), or prepared in scratch memory
/// and set in `regs` for the kernel to run on the way back to user mode: returns whether it was
/// (the loop ends then).
#[allow(clippy::too_many_arguments)]
fn take_call(
    u: &UserCtx,
    mig: &Arc<Migration>,
    p: &Arc<Proc>,
    regs: &mut SyscallRegs,
    scratch: u64,
    nr: u64,
    args: [u64; 6],
    data: &[u8],
) -> bool {
    let (mut nr, mut a) = (nr, args);
    readahead::on_call(p, nr, &a);
    if nr == u64::from(ra::READ_SKIP) {
        readahead::skip(u, p, &a);
        return false;
    }
    counters::bump(&mig.stats.served);
    let taken_us = sys::monotonic_us();
    if nr == u64::from(ra::READ_AHEAD) {
        if readahead::serve(u, mig, p, &a) {
            return false;
        }
        // Not a plain file: a plain read of at most one frame.
        nr = syscalls::nr::READ;
        a = [a[0], 1, a[1].min(wire::MAX_SYS_DATA as u64), 0, 0, 0];
    }
    if is_exit(nr) {
        count_remote_cpu(u, p, &mut a);
    }
    if let Some((r, out)) = served_by_deputy(u, mig, p, nr, &a, data) {
        send_reply(mig, p, r, &out);
        return false;
    }
    if let Err(e) = take_home_fork(mig, p, nr, &mut a) {
        send_reply(mig, p, e, &[]);
        return false;
    }
    match prepare_call(scratch, nr, &mut a, data) {
        Ok(mut fl) => {
            fl.taken_us = taken_us;
            if let Some(d) = p.inner.lock().deputy() {
                d.in_flight = Some(fl);
            }
            regs.set_call(nr, &a);
            true
        }
        Err(e) => {
            send_reply(mig, p, e, &[]);
            false
        }
    }
}

/// The files a guest coming home named so far ([`super::record::Deputy::held`]), taken out of the record for a
/// visit of the deputy's loop and put back when it ends (the record's lock is not held while
/// files are opened and hashed).
struct HeldGuard<'a> {
    p: &'a Proc,
    files: HeldFiles,
}

impl<'a> HeldGuard<'a> {
    fn take(p: &'a Proc) -> Self {
        let files = p
            .inner
            .lock()
            .deputy()
            .map(|d| core::mem::replace(&mut d.held, HeldFiles::none()))
            .unwrap_or_else(HeldFiles::none);
        HeldGuard { p, files }
    }
}

impl Drop for HeldGuard<'_> {
    fn drop(&mut self) {
        let files = core::mem::replace(&mut self.files, HeldFiles::none());
        // No longer a deputy (home again, or ending): the files are dropped here, unlocked.
        let left = match self.p.inner.lock().deputy() {
            Some(d) => core::mem::replace(&mut d.held, files),
            None => files,
        };
        drop(left);
    }
}

/// The calls a deputy answers itself instead of running them ([`syscalls::Class`] says which
/// guests send so): a remote `execve`'s check and report, a signal action set away, the file a
/// private `mmap` maps. `None`: any other call, run at home.
fn served_by_deputy(
    u: &UserCtx,
    mig: &Arc<Migration>,
    p: &Arc<Proc>,
    nr: u64,
    a: &[u64; 6],
    data: &[u8],
) -> Option<(i64, KVec<u8>)> {
    match nr {
        syscalls::nr::EXECVE => Some(serve_exec(u, mig, p, a, data)),
        syscalls::nr::RT_SIGACTION => Some((take_sigaction(u, p, a), KVec::new())),
        syscalls::nr::MMAP => Some(serve_map(mig, a)),
        n if n == u64::from(ra::FD_KIND) => Some((readahead::fd_kind(u, a), KVec::new())),
        _ => None,
    }
}

fn is_exit(nr: u64) -> bool {
    nr == syscalls::nr::EXIT || nr == syscalls::nr::EXIT_GROUP
}

/// The process ends away (its `exit` or `exit_group` forwarded, `args` 3..5 the CPU time it
/// used on every node: utime, stime, runtime, ns): the deputy counts it
/// ([`add_remote_cpu`]). The arguments are cleared.
fn count_remote_cpu(u: &UserCtx, p: &Proc, args: &mut [u64; 6]) {
    add_remote_cpu(u, p, [args[3], args[4], args[5]]);
    args[3..6].fill(0);
}

/// The process ended away having used `total` (utime, stime, runtime, ns, on every node): the
/// deputy counts what it used since it left home, so that its parent reaps all of it. Values
/// beyond [`wire::MAX_CLOCK_NS`] count as nothing.
fn add_remote_cpu(u: &UserCtx, p: &Proc, total: [u64; 3]) {
    let [utime, stime, runtime] = total.map(|v| if v > wire::MAX_CLOCK_NS { 0 } else { v });
    let total = Cpu {
        utime,
        stime,
        runtime,
        ..Cpu::default()
    };
    u.add_cputime(&total.since(&p.inner.lock().cpu_left));
}

/// The stub's handler ran: signal `sig` arrived for the process at home, its `siginfo` at user
/// address `info`. The remote delivers it, with that siginfo, with the process's own handlers,
/// mask and flags; a terminal stop signal at its default action stops the deputy here instead,
/// as the kernel decides at home (`relay_stops` then stops the guest), and SIGCONT re-arms the
/// stub's handler for those.
fn on_signal(u: &UserCtx, mig: &Migration, p: &Proc, sig: u64, info: u64) {
    let (where_, dfl_stops, stub) = {
        let mut i = p.inner.lock();
        let where_ = i.where_;
        match i.deputy() {
            Some(d) => (where_, d.dfl_stops, d.stub),
            None => return,
        }
    };
    if !(1..=signo::NSIG as u64).contains(&sig) {
        return;
    }
    let sig = sig as i32;
    if signo::TERMINAL_STOPS.contains(&sig) && dfl_stops & signo::bit(sig) != 0 {
        u.set_default_action(sig as u32);
        let _ = TaskRef::current().send_signal(sig);
        return;
    }
    if sig == signo::SIGCONT {
        for sg in signo::TERMINAL_STOPS {
            if dfl_stops & signo::bit(sg) != 0 {
                u.set_catch_action(sg as u32, stub + STUB_HANDLER, stub + STUB_RESTORER);
            }
        }
    }
    let info = uctx::read_user_siginfo(info)
        .filter(|i| i.signo == sig as u32)
        .unwrap_or(SigInfo::kernel(sig as u32));
    let _order = p.signal_order.lock();
    readahead::check(mig, p);
    let _ = send_signal(mig, where_, p.token, &info);
    counters::bump(&mig.stats.signals);
}

/// The process changed its action for signal `args[0]` where it runs to handler `args[1]`,
/// flags `args[2]` (`rt_sigaction` on the guest): the deputy catches or ignores the signal
/// accordingly (`UserCtx::set_deputy_action`) and notes whether a terminal stop signal is at its
/// default action. Returns 0, or `-EINVAL` for a signal that has no action to change.
fn take_sigaction(u: &UserCtx, p: &Proc, args: &[u64; 6]) -> i64 {
    let sig = args[0];
    if !(1..=signo::NSIG as u64).contains(&sig)
        || sig == SIGKILL as u64
        || sig == signo::SIGSTOP as u64
    {
        return neg(EINVAL);
    }
    let mut i = p.inner.lock();
    let Some(d) = i.deputy() else {
        return neg(EINVAL);
    };
    let stub = d.stub;
    if signo::TERMINAL_STOPS.contains(&(sig as i32)) {
        let bit = signo::bit(sig as i32);
        if args[1] == uctx::SIG_DFL {
            d.dfl_stops |= bit;
        } else {
            d.dfl_stops &= !bit;
        }
    }
    drop(i);
    u.set_deputy_action(
        sig as u32,
        [args[1], args[2]],
        stub + STUB_HANDLER,
        stub + STUB_RESTORER,
    );
    0
}

/// Answers the forwarded call `fl` with its `result` and the output buffers it filled in
/// scratch memory.
fn reply_result(mig: &Migration, p: &Proc, fl: &InFlight, scratch: u64, result: i64) {
    let mut out = KVec::new();
    // Errors bring nothing back, except a call interrupted to be restarted elsewhere its in-out
    // buffers (`Buf::back`).
    for (k, &(off, _, _)) in fl.outs[..fl.nouts].iter().enumerate() {
        let n = fl.plan.bufs[k].back(result) as usize;
        if n == 0 {
            continue;
        }
        let at = out.len();
        if out.extend_with(n, 0u8, GFP_KERNEL).is_err()
            || UserSlice::new((scratch + off) as usize, n)
                .reader()
                .read_slice(&mut out[at..])
                .is_err()
        {
            out = KVec::new();
            break;
        }
    }
    send_reply(mig, p, result, &out);
    counters::add(&mig.stats.serve_us, sys::monotonic_us() - fl.taken_us);
}

/// The process's image arrived (its State in `state`; `held`: the files it named that home
/// holds, mapped from there): install it into this task, answer the
/// remote, take the signals the remote hands back and its GO, and run at home again, or go on
/// to the next node asked for. Returns whether the task's registers were replaced: the image
/// installed, or (the install failed) the deputy's stub made again while the remote runs on;
/// otherwise the task is ending with SIGKILL.
///
/// While this runs the record is `Leaving` (a transfer): a remote that is gone from now on ends
/// the waits here (`EHOSTUNREACH`) instead of the process: it answers no more, and the copy
/// installed here is the only one left, so it runs.
// Not inlined: its frame (and `stay_deputy`'s) must not add to every system call's hook frame
// on the kernel stack (the install below it needs much).
#[inline(never)]
fn come_home(
    u: &UserCtx,
    mig: &Arc<Migration>,
    p: &Arc<Proc>,
    state: &[u8],
    held: HeldFiles,
) -> bool {
    p.set_state(|i| i.role = Role::Leaving);
    let r = install(u, mig, p, state, true, held);
    let status = r.as_ref().err().copied().unwrap_or(0);
    let where_ = p.inner.lock().where_;
    let a = wire::Answer {
        token: p.token,
        status,
        pid: p.home_pid as u32,
    };
    // A failed install leaves the remote's copy the only one: this task becomes its deputy
    // again before the answer lets the remote go on.
    let stays = status != 0 && stay_deputy(u, p, state, status).is_ok();
    if status == 0 {
        mig.fault.at(&mig.net, Point::Answered, where_);
    }
    let _ = mig.net.send_to(where_, MsgType::MigAnswer, &[&a.encode()]);
    if stays {
        pr_warn!(
            "migration: process {} could not come home ({}); it runs on at node {}\n",
            p.home_pid,
            cantmove_str(status),
            where_
        );
        p.cv.notify_all();
        return true;
    }
    if status != 0 {
        pr_err!(
            "migration: process {} could not come home; ending it\n",
            p.home_pid
        );
        let _ = TaskRef::current().send_signal(SIGKILL);
        return false;
    }
    let Ok(mut installed) = r else { return false };
    let Some(late) = await_go(mig, p, &mut installed, where_) else {
        return false; // killed here
    };
    // In the order they arrived for the process: pending when it left the remote, arrived
    // there during the transfer, arrived here during the install.
    let mut arrived = KVec::new();
    let _ = u.take_signals(&mut arrived);
    let lost =
        u.queue_signals(&installed.signals) + u.queue_signals(&late) + u.queue_signals(&arrived);
    counters::add(&mig.stats.signals_lost, lost as u64);
    counters::bump(&mig.stats.home);
    // A process with a run mode stays marked: its forks must reach the fork hook.
    let keep = p.inner.lock().run != 0;
    TaskRef::current().set_migrated(keep);
    let next = {
        let mut i = p.inner.lock();
        i.role = Role::Home;
        i.where_ = mig.net.self_id();
        i.nmigs += 1;
        i.epoch += 1;
        core::mem::take(&mut i.next)
    };
    p.cv.notify_all();
    if next != 0 {
        let mut req = 0;
        p.set_state(|i| {
            i.role = Role::Leaving;
            i.cancelled = false;
            i.started = false;
            i.req += 1;
            req = i.req;
        });
        let (mig2, p2) = (mig.clone(), p.clone());
        let _ = TaskRef::current().add_work(move |u| migrate_out(u, &mig2, &p2, next, req));
    }
    restart_on_return(u);
    true
}

/// A process coming home could not be installed here (`reason`, a `cantmove` reason): the
/// calling task is made its deputy again, as `migrate_out` made it (the process's signal
/// actions from its State), and whoever asked for the move learns why it failed. The remote
/// keeps running the process once it has the answer. Errors: an undecodable State, or a stub
/// that cannot be made (the task then ends).
#[inline(never)]
fn stay_deputy(u: &UserCtx, p: &Proc, state: &[u8], reason: u32) -> Result {
    let mut st = boxed_state(0)?;
    wire::State::decode_into(state, &mut st).map_err(|_| EINVAL)?;
    let deputy = make_stub(u, &st.actions)?;
    let err = if reason == cantmove::TARGET_NOMEM {
        ENOMEM
    } else {
        EIO
    };
    p.set_state(|i| {
        i.role = Role::Deputy(deputy);
        i.next = 0;
        i.epoch += 1;
        i.result = Some(Err(MigError::new(err, reason)));
    });
    Ok(())
}

/// Waits for the remote's GO after the answer (the commit of a move home), taking the signals it
/// hands back first (those that arrived for the process there during the transfer). Bounded by
/// the remote's liveness: a remote that is gone counts as a GO. `None`: a fatal signal here.
fn await_go(
    mig: &Migration,
    p: &Proc,
    installed: &mut Installed,
    remote: u32,
) -> Option<KVec<SigInfo>> {
    let mut late = KVec::new();
    loop {
        match p.pop(STEP_MS, false) {
            Ok(Item::Signal(s)) => {
                installed.credit.took(mig, p);
                if late.push(s.info, GFP_KERNEL).is_err() {
                    counters::bump(&mig.stats.signals_lost);
                }
            }
            Ok(Item::Ctl(c)) if c.op == wire::ctl::GO => return Some(late),
            Ok(_) => {}
            Err(e) if e == errno::etimedout() => {}
            Err(e) if e == errno::ehostunreach() => {
                pr_warn!(
                    "migration: process {} came home; node {} is gone before its GO: it runs here\n",
                    p.home_pid,
                    remote
                );
                return Some(late);
            }
            Err(_) => return None,
        }
    }
}

/// The process ended on the remote node with wait status `status`: end the same way here, so
/// that the parent's `wait()` sees the signal that ended it.
fn end_as_remote(u: &UserCtx, p: &Proc, status: u32) {
    p.set_state(|i| i.finished = true);
    let sig = match (status & 0x7f) as i32 {
        0 => SIGKILL,
        // Signals whose default action stops or ignores cannot end the deputy.
        s if signo::default_stops_or_ignores(s) => SIGKILL,
        s => s,
    };
    u.set_default_action(sig as u32);
    let _ = TaskRef::current().send_signal(sig);
}
