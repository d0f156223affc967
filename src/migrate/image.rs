// SPDX-License-Identifier: GPL-2.0
//! The process image: streaming it out of the calling task, installing it into the calling task.

use kernel::prelude::*;
use kernel::uaccess::UserSlice;

use super::Migration;
use crate::kapi::sys;
use crate::kapi::task::TaskRef;
use crate::kapi::uctx::SigInfo;
use crate::kapi::uctx::{self, UserCtx};
use crate::proto::mig::{self as wire, End, MsgPages, Vma, PAGE};
use crate::proto::restart;
use crate::proto::signal::{self as sigwire, Signal};
use crate::proto::MsgType;
use crate::uapi::cantmove;

use super::arrival::{fail_reason, Arrival};
use super::imagefiles::{HeldFiles, Named};
use super::record::{Item, Proc};
use super::{send_ctl, STEP_MS};
use crate::counters;
use crate::kapi::exe::ExecFile;
use crate::proto::flow;

/// A zeroed State on the heap: at about 2.8 KiB it does not belong on the kernel stack under
/// the hooks and task work that send and install images. Not inlined, so that the temporary
/// it is built from stays in this frame only. Errors: `ENOMEM`.
#[inline(never)]
pub(super) fn boxed_state(token: u64) -> Result<KBox<wire::State>> {
    Ok(KBox::new(wire::State::new(token), GFP_KERNEL)?)
}

/// Whether `v` is the vDSO text or its vvar area.
pub(super) fn is_vdso(v: &uctx::VmaDesc, vdso: u64) -> bool {
    let vvar = vdso.wrapping_sub(uctx::vvar_size());
    v.start >= vvar && v.start <= vdso && v.end > vvar
}

/// Discards anything left in the inbox (answers of an earlier, failed attempt) and what that
/// attempt learnt about its peer: a new transfer starts.
pub(super) fn drain(p: &Proc) {
    let mut i = p.inner.lock();
    while i.take_item().is_some() {}
    i.peer_gone = false;
}

/// The sending side of an image stream: numbers its frames and sends each only once it fits
/// the receiver's window ([`flow::WINDOW`]), so the stream never overruns the
/// receiver's inbox however slowly the receiver installs it.
pub(super) struct Flow<'a> {
    mig: &'a Migration,
    p: &'a Proc,
    node: u32,
    sent: u32,
}

impl<'a> Flow<'a> {
    pub(super) fn new(mig: &'a Migration, p: &'a Proc, node: u32) -> Self {
        p.reset_credit();
        Flow {
            mig,
            p,
            node,
            sent: 0,
        }
    }

    /// Sends `infos` as frames of the stream (`MigSignal` with `flags`), in order.
    pub(super) fn send_signals(&mut self, infos: &[SigInfo], flags: u32) -> Result {
        for info in infos {
            let m = Signal {
                token: self.p.token,
                flags,
                info: *info,
            };
            self.send(MsgType::MigSignal, &[&m.encode()])?;
        }
        Ok(())
    }

    /// Sends one frame of the stream. Errors: those of [`Proc::wait_credit`] and of the send.
    pub(super) fn send(&mut self, t: MsgType, parts: &[&[u8]]) -> Result {
        self.p.wait_credit(self.sent + 1)?;
        self.mig.net.send_to(self.node, t, parts)?;
        self.sent += 1;
        Ok(())
    }
}

/// The receiving side: counts the frames taken and reports them to `node` every
/// [`flow::CREDIT_EVERY`] (`MigCtl CREDIT`, argument: frames taken so far, the State included).
pub(super) struct Credit {
    node: u32,
    taken: u32,
}

impl Credit {
    /// Counting the frames of a new stream from `node`, none taken yet.
    pub(super) fn new(node: u32) -> Self {
        Credit { node, taken: 0 }
    }

    /// One more frame of the stream was taken from `p`'s inbox.
    pub(super) fn took(&mut self, mig: &Migration, p: &Proc) {
        self.taken += 1;
        if let Some(c) = flow::report(self.taken) {
            // A lost report shows as the sender's timeout; nothing to do here about it.
            let _ = send_ctl(mig, self.node, p.token, wire::ctl::CREDIT, c);
        }
    }
}

/// The signals of a process that a transfer holds ([`holding_signals`]).
pub(super) struct Held {
    /// Its signal state from before the transfer blocked its signals.
    pub(super) signals: uctx::Signals,
    /// The signals that were pending then, taken with their `siginfo` in delivery order: they
    /// travel with the image.
    pub(super) queue: KVec<SigInfo>,
    /// Its real-time interval timer (time left, interval, ns), disarmed here meanwhile: it
    /// travels with the image too (so it neither fires here during the transfer nor twice).
    pub(super) itimer_real: [u64; 2],
}

/// What the State of an image carries that its sender fixed before the transfer.
pub(super) struct Frozen<'a> {
    /// The process's signals ([`holding_signals`]).
    pub(super) held: &'a Held,
    /// Registers to send instead of the task's (a guest going home to run a call there).
    pub(super) rewound: Option<&'a [u64; uctx::NREGS]>,
}

/// Runs `f` (a transfer) with every signal blocked but SIGKILL and SIGSTOP and the pending ones
/// taken ([`Held`]): a signal that arrives meanwhile neither interrupts the transfer's socket
/// waits (they fail with `EINTR` while a signal is pending, so a process under a steady stream
/// of signals could not move) nor is lost: it stays pending, and the caller hands it over
/// after the commit when the process moved (`UserCtx::take_signals`). When `stays(&result)`
/// (the process goes on here) the taken signals are queued again, before those that arrived
/// meanwhile. The process's own mask is back when this returns. Its real-time interval timer
/// is held the same way: disarmed here, sent with the image, armed again here if it stays.
pub(super) fn holding_signals<R>(
    u: &UserCtx,
    f: impl FnOnce(&Held) -> R,
    stays: impl FnOnce(&R) -> bool,
) -> R {
    let signals = u.signals();
    u.set_blocked(!0);
    let mut queue = KVec::new();
    // Out of memory: those not taken stay pending and count as arrived during the transfer.
    let _ = u.take_signals(&mut queue);
    let itimer_real = u.itimer_real();
    u.set_itimer_real(&[0, 0]);
    let held = Held {
        signals,
        queue,
        itimer_real,
    };
    let r = f(&held);
    if stays(&r) {
        let mut late = KVec::new();
        let _ = u.take_signals(&mut late);
        u.queue_signals(&held.queue);
        u.queue_signals(&late);
        // Late by the transfer's length, as if the process had been stopped meanwhile.
        u.set_itimer_real(&held.itimer_real);
    }
    u.set_blocked(held.signals.blocked);
    r
}

/// The signals of `queue` as a pending mask (bit n-1 = signal n).
fn mask_of(queue: &[SigInfo]) -> u64 {
    queue.iter().fold(0, |m, s| m | 1u64 << (s.signo - 1))
}

/// Streams the calling task's state and memory to `node`: State (with `frozen`), its pending
/// signals (`MigSignal`, image), then for each memory area its Vma and the pages that hold
/// data (for an area of a file the receiver holds, `named`, the pages that differ from the
/// file's), then End. Returns the stream, for frames that follow the receiver's answer.
#[allow(clippy::too_many_arguments)]
pub(super) fn stream<'a>(
    u: &UserCtx,
    mig: &'a Migration,
    p: &'a Proc,
    node: u32,
    vmas: &[uctx::VmaDesc],
    vdso: u64,
    frozen: &Frozen<'_>,
    named: &Named,
) -> Result<Flow<'a>> {
    let token = p.token;
    let mut flow = Flow::new(mig, p, node);
    send_state(u, &mut flow, frozen)?;
    flow.send_signals(&frozen.held.queue, sigwire::flags::IMAGE)?;
    // Page buffer: header + up to MAX_PAGES_PER_FRAME pages.
    let mut pb = KVVec::new();
    pb.extend_with(
        wire::PAGES_HDR_LEN + wire::MAX_PAGES_PER_FRAME * PAGE,
        0u8,
        GFP_KERNEL,
    )?;
    // One page of a file, to compare with the process's.
    let mut fp = KVVec::new();
    fp.extend_with(PAGE, 0u8, GFP_KERNEL)?;
    let (mut nv, mut np, mut mapped) = (0u32, 0u32, 0u64);
    for v in vmas.iter() {
        if is_vdso(v, vdso) {
            continue;
        }
        // VM_READ, VM_WRITE and VM_EXEC have the values of PROT_READ, PROT_WRITE, PROT_EXEC.
        let prot = (v.flags & u64::from(wire::prot::ALL)) as u32;
        let mut flags = 0;
        if v.flags & uctx::vmf::GROWSDOWN != 0 {
            flags |= wire::vma::GROWSDOWN;
        }
        if moves_as_shared_anon(v) {
            flags |= wire::vma::SHARED_ANON;
        } else if v.file {
            flags |= wire::vma::FILE;
        }
        let file = named.area(v.start);
        let (file_index, pgoff) = match file {
            Some((k, pgoff, _)) => {
                flags |= wire::vma::FILE_PAGES;
                (k, pgoff)
            }
            None => (0, 0),
        };
        let vm = Vma {
            token,
            start: v.start,
            end: v.end,
            prot,
            flags,
            file: file_index,
            pgoff,
        };
        flow.send(MsgType::MigVma, &[&vm.encode()])?;
        nv += 1;
        if v.flags & uctx::vmf::READ == 0 {
            continue; // PROT_NONE: no contents to read (guard areas)
        }
        let from_file = file.map(|(_, pgoff, f)| (f, pgoff, &mut fp[..]));
        let sent = send_pages(&mut flow, v, &mut pb, from_file)?;
        if file.is_some() {
            mapped += (v.end - v.start) / PAGE as u64 - u64::from(sent);
        }
        np += sent;
    }
    let end = End {
        token,
        vmas: nv,
        pages: np,
    };
    flow.send(MsgType::MigEnd, &[&end.encode()])?;
    counters::add(&mig.stats.pages_out, u64::from(np));
    counters::add(&mig.stats.pages_mapped, mapped);
    Ok(flow)
}

/// Whether area `v` moves as shared anonymous memory ([`wire::vma::SHARED_ANON`]): writable
/// `MAP_SHARED | MAP_ANONYMOUS` memory that no one else holds. Other writable shared areas
/// keep the process where it is.
pub(super) fn moves_as_shared_anon(v: &uctx::VmaDesc) -> bool {
    v.sole_shared_anon && v.flags & u64::from(wire::prot::WRITE) != 0
}

/// Sends the calling task's State (registers or `frozen.rewound`, memory layout, the signal
/// state of `frozen`, limits, clocks and XSAVE image) to `node`.
#[inline(never)]
fn send_state(u: &UserCtx, flow: &mut Flow<'_>, frozen: &Frozen<'_>) -> Result {
    let mut st = boxed_state(flow.p.token)?;
    st.regs = match frozen.rewound {
        Some(r) => *r,
        None => u.regs()?,
    };
    st.mm = u.layout()?;
    let s = &frozen.held.signals;
    st.blocked = s.blocked;
    st.pending = mask_of(&frozen.held.queue);
    st.ss_sp = s.ss.0;
    st.ss_size = s.ss.1;
    st.ss_flags = s.ss.2;
    st.actions = s.actions;
    st.rlim = u.rlimits();
    let (mono, boot) = u.clocks();
    st.clocks = [mono, boot];
    st.itimer_real = frozen.held.itimer_real;
    if let Some(call) = restart::interrupted(&st.regs) {
        st.restart = u.save_restart(call.block)?;
    }
    st.cpu = u.cputime();
    {
        let mut i = flow.p.inner.lock();
        i.cpu_left = st.cpu;
        i.status = None;
    }
    let xsize = uctx::xstate_size();
    let mut buf = KVVec::new();
    buf.extend_with(wire::STATE_FIXED_LEN + xsize, 0u8, GFP_KERNEL)?;
    let mut xs = KVVec::new();
    xs.extend_with(xsize, 0u8, GFP_KERNEL)?;
    u.save_xstate(&mut xs)?;
    let n = st.encode(&xs, &mut buf).map_err(|_| EINVAL)?;
    flow.send(MsgType::MigState, &[&buf[..n]])
}

/// Sends the pages of area `v` that hold data, in runs of at most `MAX_PAGES_PER_FRAME` pages,
/// using `pb` as the frame buffer; returns how many pages it sent. Unreadable pages (beyond a
/// file's end) are not sent, nor all-zero pages (the receiver's fresh anonymous memory reads
/// as zero), or, for an area mapped from a file the receiver holds (`file`: the file, the file
/// page at `v.start` and a page of buffer), the pages that equal the file's (the receiver's
/// mapping has them; those that differ are sent, zero or not).
fn send_pages(
    flow: &mut Flow<'_>,
    v: &uctx::VmaDesc,
    pb: &mut [u8],
    mut file: Option<(&ExecFile, u64, &mut [u8])>,
) -> Result<u32> {
    let token = flow.p.token;
    let mut np = 0u32;
    let mut addr = v.start;
    let mut run_start = 0u64;
    let mut run = 0usize;
    while addr < v.end {
        let slot = wire::PAGES_HDR_LEN + run * PAGE;
        let page = &mut pb[slot..slot + PAGE];
        let ok = UserSlice::new(addr as usize, PAGE)
            .reader()
            .read_slice(page)
            .is_ok();
        let data = ok
            && match file.as_mut() {
                Some((f, pgoff, fp)) => {
                    let at = (*pgoff + (addr - v.start) / PAGE as u64) * PAGE as u64;
                    !same_as_file(f, at, page, fp)
                }
                None => page.iter().any(|&b| b != 0),
            };
        if data {
            if run == 0 {
                run_start = addr;
            }
            run += 1;
        }
        let last = addr + PAGE as u64 >= v.end;
        if run > 0 && (!data || run == wire::MAX_PAGES_PER_FRAME || last) {
            MsgPages::encode_header(token, run_start, run, pb);
            let len = wire::PAGES_HDR_LEN + run * PAGE;
            flow.send(MsgType::MigPages, &[&pb[..len]])?;
            np += run as u32;
            run = 0;
        }
        addr += PAGE as u64;
        sys::cond_resched();
    }
    Ok(np)
}

/// Whether `page` holds what file `f` has at offset `at` (zero beyond its end, as a mapping
/// shows it), read into `fp`. A file that cannot be read is taken to differ.
fn same_as_file(f: &ExecFile, at: u64, page: &[u8], fp: &mut [u8]) -> bool {
    let mut got = 0;
    while got < fp.len() {
        match f.read_at(at + got as u64, &mut fp[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(_) => return false,
        }
    }
    fp[got..].fill(0);
    page == fp
}

/// Longest a process coming home is held so that its `CLOCK_MONOTONIC` does not go back, ms.
/// Clocks of nodes that keep real time differ in rate by far less (a remote stay of an hour at
/// 100 ppm is 360 ms); beyond it the process runs on and the step back is logged.
pub(super) const CLOCK_HOLD_MAX_MS: u64 = 2000;

/// An installed image: the pending signals it carried, to queue when the process runs (after
/// the commit), and the receiving side of its stream.
pub(super) struct Installed {
    /// The image's pending signals, in delivery order.
    pub(super) signals: KVec<SigInfo>,
    /// Credit reports for the frames that follow (the signals a guest hands back).
    pub(super) credit: Credit,
}

/// Installs an image arriving in `p`'s inbox (State already taken: `state`) into the calling
/// task. A guest's shell maps the vDSO where the process had it; a deputy keeps its own, which
/// is already there, and its pending signals (they arrived for the process meanwhile). `held`:
/// the files the image names that this node holds ([`super::imagefiles::take_files`]; none
/// for a deputy). Returns the `cantmove` reason on failure (the task must then end).
///
/// Clocks: each node's `CLOCK_MONOTONIC` and `CLOCK_BOOTTIME` start at its own boot. A guest
/// continues the values the State carries (plus the time since it arrived) in a time namespace
/// of its own ([`UserCtx::continue_clocks`]), so the process never sees them jump; the lag it
/// gathers (the State's one-way trip per move) is made up at home, where it is back on home's
/// clocks: a forward step of a few ms. Should the process come home ahead of home's clock (a
/// remote clock that ran fast), it is held until home's clock has caught up.
pub(super) fn install(
    u: &UserCtx,
    mig: &Migration,
    p: &Proc,
    state: &[u8],
    deputy: bool,
    held: HeldFiles,
) -> core::result::Result<Installed, u32> {
    let arrived = u.clocks();
    let mut st = boxed_state(0).map_err(|_| cantmove::TARGET_NOMEM)?;
    let xs = wire::State::decode_into(state, &mut st).map_err(|_| cantmove::TARGET_FAILED)?;
    let vdso = u.vdso_addr();
    for v in u.vmas().map_err(fail_reason)?.iter() {
        if deputy && is_vdso(v, vdso) {
            continue;
        }
        u.unmap(v.start, v.end - v.start).map_err(fail_reason)?;
    }
    let mut failed = if deputy {
        (vdso != st.mm[wire::MM_VDSO]).then_some(cantmove::LAYOUT)
    } else {
        match u.map_vdso(st.mm[wire::MM_VVAR]) {
            Err(e) => Some(fail_reason(e)),
            Ok(()) => (u.vdso_addr() != st.mm[wire::MM_VDSO]).then_some(cantmove::LAYOUT),
        }
    };
    // The sender: the node the process exchanges with (the remote, for a deputy).
    let node = if deputy {
        p.inner.lock().where_
    } else {
        p.home
    };
    // The State, taken by the caller.
    let mut credit = Credit { node, taken: 1 };
    // Home: the file mappings the process left with are mapped from their files again.
    let files = if deputy {
        core::mem::take(&mut p.inner.lock().files)
    } else {
        KVec::new()
    };
    let mut a = Arrival::new(files, held);
    // After a failure the rest of the stream is still taken (and credited), so that its
    // sender reaches the end and reads the answer; the task is then left as it is for the
    // caller to end it, or to make it a deputy again.
    loop {
        sys::cond_resched();
        let it = p.pop(STEP_MS, false).map_err(fail_reason)?;
        credit.took(mig, p);
        let end = matches!(it, Item::End(_));
        if failed.is_none() {
            failed = a.take(u, mig, it, deputy).err();
        }
        if end {
            break;
        }
    }
    if let Some(reason) = failed {
        // It stays away: keep its files for the next time it comes home.
        p.inner.lock().files = a.files;
        return Err(reason);
    }
    let Arrival {
        np, mut signals, ..
    } = a;
    counters::add(&mig.stats.pages_in, u64::from(np));
    u.set_layout(&st.mm).map_err(fail_reason)?;
    u.set_rlimits(&st.rlim);
    u.restore_xstate(xs).map_err(fail_reason)?;
    u.set_regs(&st.regs).map_err(fail_reason)?;
    if restart::interrupted(&st.regs).is_some() {
        u.load_restart(&st.restart).map_err(fail_reason)?;
    }
    if !deputy {
        u.flush_signals();
    }
    u.set_signals(&uctx::Signals {
        blocked: st.blocked,
        pending: st.pending,
        ss: (st.ss_sp, st.ss_size, st.ss_flags),
        actions: st.actions,
    });
    add_bare(&mut signals, st.pending).map_err(|_| cantmove::TARGET_FAILED)?;
    let comm = p.inner.lock().comm;
    u.set_comm(&comm);
    take_clocks(u, mig, p, st.clocks, arrived, deputy)?;
    // Last: nothing fails after these (a failed install must not leave timers armed, nor count
    // CPU time twice). The CPU time the process used away from here: all of it for a guest,
    // what it used since it left for its deputy at home.
    let used = if deputy {
        st.cpu.since(&p.inner.lock().cpu_left)
    } else {
        st.cpu.totals()
    };
    u.add_cputime(&used);
    u.set_cpu_timers(&st.cpu);
    u.set_itimer_real(&st.itimer_real);
    Ok(Installed { signals, credit })
}

/// Whether the calling task, if it is interrupted in a system call, can take that call along
/// ([`UserCtx::save_restart`]) to the node it moves to (a remote when `to_remote`, else home):
/// a `poll` of descriptors restarted through its restart block would poll the remote's, so it
/// moves only home, unless it has no timeout: it is then made to restart by running again
/// ([`UserCtx::restart_poll_by_registers`]), which a guest forwards home. A restart block the
/// kernel cannot carry does not move at all.
pub(super) fn ready_to_carry_call(u: &UserCtx, to_remote: bool) -> bool {
    if to_remote {
        u.restart_poll_by_registers();
    }
    let Ok(regs) = u.regs() else { return false };
    let Some(call) = restart::interrupted(&regs) else {
        return true;
    };
    match u.save_restart(call.block) {
        Ok(r) => !(to_remote && r.kind == restart::kind::POLL && r.val != 0),
        Err(_) => false,
    }
}

/// After an image with an interrupted call was installed: makes the calling task's return to
/// user mode pass through the kernel's signal code, which restarts the call (or makes it fail
/// with `EINTR` for a handler), as it would have on the node it came from.
pub(super) fn restart_on_return(u: &UserCtx) {
    if u.in_interrupted_call() {
        // No memory: the call returns its restart code as an error instead.
        let _ = TaskRef::current().add_work_interrupting(|_| {});
    }
}

/// Adds to `signals` those of the `pending` mask it has no siginfo for, as the kernel raises
/// them (no details). Errors: `ENOMEM`.
fn add_bare(signals: &mut KVec<SigInfo>, pending: u64) -> Result {
    let bare = pending & !mask_of(signals);
    for sig in (1..=64u32).filter(|s| bare & 1u64 << (s - 1) != 0) {
        signals.push(SigInfo::kernel(sig), GFP_KERNEL)?;
    }
    Ok(())
}

/// The clock part of [`install`]: `clocks` are the process's (monotonic, boottime) from its
/// State, `arrived` this task's clocks when the State arrived. A guest continues them in a time
/// namespace of its own; a deputy is held while the process's clock is ahead of home's.
pub(super) fn take_clocks(
    u: &UserCtx,
    mig: &Migration,
    p: &Proc,
    clocks: [u64; 2],
    arrived: (u64, u64),
    deputy: bool,
) -> core::result::Result<(), u32> {
    let now = u.clocks();
    let mono = clocks[0].saturating_add(now.0.saturating_sub(arrived.0));
    let boot = clocks[1].saturating_add(now.1.saturating_sub(arrived.1));
    if !deputy {
        return u.continue_clocks(mono, boot).map_err(|e| {
            pr_warn!(
                "migration: pid {} of node {}: its clocks cannot continue here ({:?}); not installed\n",
                p.home_pid,
                p.home,
                e
            );
            cantmove::TARGET_FAILED
        });
    }
    if mono > now.0 {
        let ahead_us = (mono - now.0) / 1000;
        if ahead_us / 1000 <= CLOCK_HOLD_MAX_MS {
            sys::sleep_uninterruptible_ms((ahead_us / 1000 + 1) as u32);
            counters::bump(&mig.stats.clock_holds);
            counters::add(&mig.stats.clock_hold_us, ahead_us);
        } else {
            pr_warn!(
                "migration: pid {} came home with clocks {} ms ahead of home's; its CLOCK_MONOTONIC steps back\n",
                p.home_pid,
                ahead_us / 1000
            );
        }
    }
    Ok(())
}
