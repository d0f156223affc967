// SPDX-License-Identifier: GPL-2.0
//! Process migration: freeze at home, stream the image, run it in a remote shell, serve its
//! system calls from the deputy at home, and go home again.
//!
//! Roles of one process (`Proc`, one record per process per node, found by its token):
//! - at home, before and after migration (`pstate::HOME`), and while a migration is being
//!   prepared (`pstate::MIGRATING`): the process's own task;
//! - at home while away (`pstate::DEPUTY`): the same task, parked in a two-instruction user stub
//!   that enters the kernel with [`DEPUTY_CALL`]; the hook waits there for forwarded system
//!   calls and runs each one for real (its own files, credentials, pid) by rewriting the call
//!   in its registers (as a ptrace tracer would);
//! - on the remote node (`pstate::GUEST`): a process started with a user-mode helper
//!   ([`SHELL_PATH`]) whose first system call installs the received image; then its system
//!   calls are classified by [`crate::syscalls`].
//!
//! Freezing uses task work: the process captures its own state on its way back to user mode,
//! where registers, FPU state and memory are stable. `Documentation/migration.md` describes the
//! protocol and every step.

mod admin;
mod arrival;
mod deputy;
mod exec;
mod fault;
mod fork;
mod forward;
mod guest;
mod hooks;
mod image;
mod imagefiles;
mod mapfile;
mod offer;
mod out;
mod readahead;
mod record;
mod request;
mod runmode;
mod rx;
mod stats;
mod view;
mod watch;

pub(crate) use admin::{bring_and_wait, expel_and_wait, shutdown};
pub(crate) use hooks::Ops;
pub(crate) use offer::spawn_offer_thread;
pub(crate) use request::{migrate, migrate_within, move_after_exec, set_lock};
pub(crate) use runmode::set_run_mode;
pub(crate) use stats::MigStats;
pub(crate) use view::{away_counts, balance_info, has_guests, info, leaving_count, list, ProcView};

use kernel::c_str;
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::sync::{new_condvar, new_mutex, Arc, CondVar, Mutex};

use crate::cluster::{Cluster, Feature};
use crate::kapi::task::TaskRef;
use crate::kapi::uctx::SigInfo;
use crate::proto::mig::{self as wire, Ctl};
use crate::proto::signal::Signal;
use crate::proto::{Message, MsgType};

use record::Registry;

/// The program a guest runs in before its image is installed (any static binary works: its
/// first system call is intercepted; `tools/shell` is a minimal one).
pub(crate) const SHELL_PATH: &CStr = c_str!("/sbin/oxmosix-shell");

/// How long a receiver waits for the next frame of an image, and a sender for an answer.
pub(super) const STEP_MS: u32 = 30_000;
/// How long a sender waits for the receiver to install a whole image.
pub(super) const INSTALL_MS: u32 = 180_000;

/// Signal numbers of x86-64 Linux (`arch/x86/include/uapi/asm/signal.h`).
pub(super) mod signo {
    pub(crate) const SIGKILL: i32 = 9;
    pub(crate) const SIGCHLD: i32 = 17;
    pub(crate) const SIGCONT: i32 = 18;
    pub(crate) const SIGSTOP: i32 = 19;
    pub(crate) const SIGTSTP: i32 = 20;
    pub(crate) const SIGTTIN: i32 = 21;
    pub(crate) const SIGTTOU: i32 = 22;
    pub(crate) const SIGURG: i32 = 23;
    pub(crate) const SIGWINCH: i32 = 28;
    /// Highest signal number (`_NSIG`).
    pub(crate) const NSIG: i32 = 64;
    /// The terminal stop signals: at their default action they stop the process.
    pub(crate) const TERMINAL_STOPS: [i32; 3] = [SIGTSTP, SIGTTIN, SIGTTOU];

    /// Bit of signal `sig` (1..=64) in a 64-bit signal set.
    pub(crate) const fn bit(sig: i32) -> u64 {
        1 << (sig - 1)
    }

    /// Whether the default action of `sig` stops the process or ignores the signal (so it
    /// cannot end a process).
    pub(crate) const fn default_stops_or_ignores(sig: i32) -> bool {
        matches!(sig, SIGCHLD..=SIGURG | SIGWINCH)
    }
}
pub(super) use signo::SIGKILL;

/// Why a migration request failed: the errno its caller gets and the `cantmove` reason
/// (`uapi::cantmove`, 0: none) that `MOSIX_IOC_MIGRATE` reports with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MigError {
    /// The error returned to the caller.
    pub(crate) err: Error,
    /// The `uapi::cantmove` reason (0: none).
    pub(crate) reason: u32,
}

impl MigError {
    /// `err` with `cantmove` reason `reason`.
    pub(crate) const fn new(err: Error, reason: u32) -> MigError {
        MigError { err, reason }
    }
}

impl From<Error> for MigError {
    fn from(err: Error) -> MigError {
        MigError { err, reason: 0 }
    }
}

/// The outcome of a migration request.
pub(crate) type MigResult<T = ()> = core::result::Result<T, MigError>;

/// The message kinds of migration (`Documentation/protocol.md`), registered with the transport.
const KINDS: [MsgType; 13] = [
    MsgType::MigOffer,
    MsgType::MigAnswer,
    MsgType::MigState,
    MsgType::MigVma,
    MsgType::MigPages,
    MsgType::MigEnd,
    MsgType::Syscall,
    MsgType::SysReply,
    MsgType::MigCtl,
    MsgType::MigSignal,
    MsgType::MigStatus,
    MsgType::MigFile,
    MsgType::SysData,
];

/// Process migration on this node: the processes it knows (its own, their deputies, guests
/// from other nodes) and its counters, over the cluster's transport.
#[pin_data]
pub(crate) struct Migration {
    /// The transport and membership this node's migrations use.
    pub(crate) net: Arc<Cluster>,
    #[pin]
    reg: Registry,
    /// `/proc/hpc/info/migration`.
    pub(crate) stats: MigStats,
    /// Offers for the offer thread ([`offer::spawn_offer_thread`]).
    #[pin]
    offers: Mutex<offer::Offers>,
    #[pin]
    offers_cv: CondVar,
    /// Places programs as they start (the balancer, [`Migration::set_placer`]).
    #[pin]
    placer: Mutex<Option<Arc<dyn Placer>>>,
    /// Log lines about peers that overran a process's inbox.
    overruns_logged: crate::counters::RateLimit,
    /// Log lines about signals that could not be queued.
    signals_logged: crate::counters::RateLimit,
    /// `/proc/hpc/admin/fault`.
    pub(crate) fault: fault::Fault,
    /// Hashes of the program files examined for execs where a process runs ([`exec`]).
    #[pin]
    exe_hashes: Mutex<exec::ExeHashes>,
}

/// Migration as the transport sees it: its messages and its periodic checks.
struct Service(Arc<Migration>);

impl Feature for Service {
    fn name(&self) -> &'static str {
        "migration"
    }

    fn on_message(&self, from: u32, m: &Message<'_>) -> Result {
        rx::on_message(&self.0, from, m)
    }

    fn on_sample_tick(&self, _now_ms: u64) {
        watch::relay_stops(&self.0);
    }

    fn on_gossip_tick(&self, now_ms: u64, timeout_ms: u64) {
        watch::end_orphans(&self.0, now_ms, timeout_ms);
        watch::report_guests(&self.0);
    }

    fn on_peer_restart(&self, peer: u32) {
        watch::end_restarted(&self.0, peer);
    }
}

impl Migration {
    /// Starts migration on this node: an empty registry, its message kinds registered with
    /// `net`. Errors: `ENOMEM`, `EBUSY` (kinds taken).
    pub(crate) fn start(net: Arc<Cluster>) -> Result<Arc<Migration>> {
        let mig = Arc::pin_init(
            pin_init!(Migration {
                net,
                reg <- Registry::new(),
                stats: MigStats::new(),
                offers <- new_mutex!(offer::Offers::new(), "oxmosix::offers"),
                offers_cv <- new_condvar!("oxmosix::offers::cv"),
                placer <- new_mutex!(None, "oxmosix::placer"),
                overruns_logged: crate::counters::RateLimit::new(),
                signals_logged: crate::counters::RateLimit::new(),
                fault: fault::Fault::new(),
                exe_hashes <- new_mutex!(exec::ExeHashes::new(), "oxmosix::exe_hashes"),
            }),
            GFP_KERNEL,
        )?;
        let service: Arc<dyn Feature> = Arc::new(Service(mig.clone()), GFP_KERNEL)?;
        mig.net.register(&KINDS, service)?;
        Ok(mig)
    }

    /// Sets (or with `None` removes) what decides where a program that starts here runs
    /// ([`Placer`]); it must be removed before the node stops (it may hold this `Migration`).
    pub(crate) fn set_placer(&self, placer: Option<Arc<dyn Placer>>) {
        *self.placer.lock() = placer;
    }

    fn placer(&self) -> Option<Arc<dyn Placer>> {
        self.placer.lock().clone()
    }
}

/// Placement at exec time, as migration sees it: told that a process of this node starts a
/// new program, the implementation (the balancer: migration knows no policy) names the node
/// it should run on, if not here, and has migration move it as the program begins
/// ([`move_after_exec`]).
pub(crate) trait Placer: Send + Sync {
    /// `task` (current), a process of this node that is not migrated, is in `execve`: the
    /// placer may send it elsewhere with [`move_after_exec`]. May sleep briefly; must not wait
    /// for a migration.
    fn place_at_exec(&self, task: &TaskRef);
    /// As [`Placer::place_at_exec`], on the best node whatever the node's placement mode (a
    /// process run with `mosrun -b`).
    fn place_best(&self, task: &TaskRef);
}

/// `e` as a system call's result: the negative errno user space sees (`-EFAULT` is -14).
pub(super) fn neg(e: Error) -> i64 {
    i64::from(e.to_errno())
}

/// Sends signal `info` for process `token` to `node` (`MigSignal`: it arrived now).
pub(super) fn send_signal(mig: &Migration, node: u32, token: u64, info: &SigInfo) -> Result {
    let m = Signal {
        token,
        flags: 0,
        info: *info,
    }
    .encode();
    mig.net.send_to(node, MsgType::MigSignal, &[&m])
}

/// Sends a control message (`wire::ctl::*` op with its argument) about process `token` to `node`.
pub(super) fn send_ctl(mig: &Migration, node: u32, token: u64, op: u32, arg: u32) -> Result {
    let c = Ctl {
        token,
        op,
        arg,
        ..Ctl::default()
    };
    mig.net.send_to(node, MsgType::MigCtl, &[&c.encode()])
}

/// Tells home (`node`) that guest `token` ended here with `status` (as `do_exit` got it),
/// having used `cpu` (utime, stime, runtime, ns: its totals on every node, as
/// [`crate::proto::cputime::Cpu::totals`]), so that the deputy ends the same way and its
/// parent reaps all of that time.
pub(super) fn send_gone(
    mig: &Migration,
    node: u32,
    token: u64,
    status: u32,
    cpu: [u64; 3],
) -> Result {
    let c = Ctl {
        token,
        op: wire::ctl::GONE,
        arg: status,
        cpu: cpu.map(|v| v.min(wire::MAX_CLOCK_NS)),
    };
    mig.net.send_to(node, MsgType::MigCtl, &[&c.encode()])
}
