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

use core::sync::atomic::{AtomicU64, Ordering};

use kernel::c_str;
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::sync::{new_condvar, new_mutex, Arc, CondVar, Mutex};
use kernel::time::msecs_to_jiffies;
use kernel::uaccess::UserSlice;

use crate::cluster::Shared;
use crate::kapi::migration::{spawn_shell, MigrationOps, SyscallRegs};
use crate::kapi::task::TaskRef;
use crate::kapi::{errno, sys, uctx};
use crate::proto::mig::{self, Ctl, End, MsgPages, Offer, Vma, PAGE};
use crate::proto::{Message, MsgType};
use crate::syscalls::{self, Arg, Class};
use crate::uapi::{cantmove, pstate};

/// The program a guest runs in before its image is installed (any static binary works: its
/// first system call is intercepted; `tools/shell` is a minimal one).
pub(crate) const SHELL_PATH: &CStr = c_str!("/sbin/oxmosix-shell");

/// System-call number the deputy stub uses to report a result and ask for the next call.
pub(crate) const DEPUTY_CALL: u64 = 0x4f58;

/// System-call number of the deputy's signal handler: a signal arrived for the process.
pub(crate) const DEPUTY_SIGNAL: u64 = 0x4f59;

/// The deputy stub. At 0: `mov rdi, rax; mov eax, DEPUTY_CALL; syscall; jmp 0` (the loop).
/// At [`STUB_HANDLER`]: the signal handler, `mov eax, DEPUTY_SIGNAL; syscall; ret` (the signal
/// number is in rdi). At [`STUB_RESTORER`]: `mov eax, 15 (rt_sigreturn); syscall`.
const STUB: [u8; 32] = [
    0x48, 0x89, 0xc7, 0xb8, 0x58, 0x4f, 0x00, 0x00, 0x0f, 0x05, 0xeb, 0xf4, 0x90, 0x90, 0x90, 0x90,
    0xb8, 0x59, 0x4f, 0x00, 0x00, 0x0f, 0x05, 0xc3, 0xb8, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05, 0x90,
];
const STUB_HANDLER: u64 = 16;
const STUB_RESTORER: u64 = 24;
/// Size of the deputy's scratch memory for marshalled buffers.
const SCRATCH: u64 = 256 * 1024;
/// Most processes one node tracks (local records, deputies and guests together).
const MAX_PROCS: usize = 256;
/// Queue depth of one process's inbox.
const INBOX: usize = 16;
/// How long a receiver waits for the next frame of an image, and a sender for an answer.
const STEP_MS: u32 = 30_000;
/// How long a sender waits for the receiver to install a whole image.
const INSTALL_MS: u32 = 180_000;
/// How long `MOSIX_IOC_MIGRATE` waits for the process to reach a safe point.
const SAFE_POINT_MS: u32 = 30_000;
/// How long `MOSIX_IOC_MIGRATE` waits in all.
const IOCTL_MS: u32 = 240_000;
/// Memory a target keeps free beyond an incoming image, in KiB.
const RESERVE_KIB: u64 = 16 * 1024;
/// `SIGKILL`.
const SIGKILL: i32 = 9;
const EFAULT_RET: i64 = -14;
const ENAMETOOLONG_RET: i64 = -36;

/// Counters of migration, shown in `/proc/hpc/info/migration`.
#[derive(Default)]
pub(crate) struct MigStats {
    /// Processes sent away from their home.
    pub(crate) out: AtomicU64,
    /// Processes that came home.
    pub(crate) home: AtomicU64,
    /// Guests installed here.
    pub(crate) guests: AtomicU64,
    /// Migrations that failed or were refused.
    pub(crate) failed: AtomicU64,
    /// System calls forwarded by guests here.
    pub(crate) forwarded: AtomicU64,
    /// System calls served by deputies here.
    pub(crate) served: AtomicU64,
    /// Total time guests here waited for their forwarded calls' replies, µs (sent to answered:
    /// network both ways, the deputy's wake-up and the call at home).
    pub(crate) forward_wait_us: AtomicU64,
    /// Total time deputies here spent on the calls they served, µs (request taken to reply
    /// sent, the call itself included).
    pub(crate) serve_us: AtomicU64,
    /// Signals deputies here forwarded to their processes.
    pub(crate) signals: AtomicU64,
    /// Pages sent in images.
    pub(crate) pages_out: AtomicU64,
    /// Pages received in images.
    pub(crate) pages_in: AtomicU64,
    /// Frames for unknown processes (late or stray), dropped.
    pub(crate) stray: AtomicU64,
    /// Processes that came home with clocks ahead of home's (the remote's clock ran faster) and
    /// were held until home's clock caught up, so their `CLOCK_MONOTONIC` never goes back.
    pub(crate) clock_holds: AtomicU64,
    /// Total time of those holds, µs.
    pub(crate) clock_hold_us: AtomicU64,
    /// Moves the balancer made for load (its own processes away, or guests home).
    pub(crate) balance_load: AtomicU64,
    /// Moves the balancer made to free memory (memory ushering).
    pub(crate) balance_memory: AtomicU64,
    /// Guests the balancer sent home because they mostly wait on forwarded calls.
    pub(crate) balance_io: AtomicU64,
    /// Moves the balancer chose that failed or were refused.
    pub(crate) balance_failed: AtomicU64,
}

fn bump(a: &AtomicU64) {
    a.fetch_add(1, Ordering::Relaxed);
}

/// Something that arrived for a process, in arrival order.
enum Item {
    Answer(mig::Answer),
    State(KVVec<u8>),
    Vma(Vma),
    Pages {
        addr: u64,
        data: KVVec<u8>,
    },
    End(End),
    Syscall {
        nr: u32,
        args: [u64; 6],
        data: KVVec<u8>,
    },
    Reply {
        result: i64,
        data: KVVec<u8>,
    },
    Ctl(Ctl),
}

/// The output buffers of a call the deputy is running: (scratch offset, capacity, fixed size).
struct InFlight {
    /// Scratch offset and capacity of each buffer of `plan`, in order.
    outs: [(u64, u64, bool); 6],
    nouts: usize,
    plan: syscalls::Plan,
    /// When the deputy took the request ([`sys::monotonic_us`]).
    taken_us: u64,
}

struct Inner {
    state: u32,
    where_: u32,
    nmigs: u32,
    lock: bool,
    task: Option<TaskRef>,
    /// Local pid of the task (shell pid on a guest's node).
    pid: i32,
    comm: [u8; 16],
    uid: u32,
    gid: u32,
    inbox: [Option<Item>; INBOX],
    head: usize,
    len: usize,
    /// Result of the last migration request (for the ioctl waiting on it).
    result: Option<core::result::Result<(), (Error, u32)>>,
    /// Bumped whenever `result` or `state` changes.
    epoch: u64,
    /// A pending migration request was withdrawn.
    cancelled: bool,
    /// The process reached its safe point and the migration request is being carried out.
    started: bool,
    /// Number of the current migration request (a withdrawn request's task work may still run
    /// later: it then finds a different number and does nothing).
    req: u64,
    /// After coming home, go on to this node (0: stay).
    next: u32,
    /// Deputy: the stub and scratch addresses.
    stub: u64,
    scratch: u64,
    in_flight: Option<InFlight>,
    /// Guest: the process ended or left; do not report it to the home node again.
    finished: bool,
    /// Guest: a go-home request arrived before the image was installed.
    go_home: bool,
    /// Guest: its go-home found it inside the vDSO; `check_stops` asks again (within 100 ms).
    home_retry: bool,
    /// Since when (monotonic ms) the node this process depends on is unreachable (0: it is not).
    lost_since: u64,
    /// The local task was seen stopped (job control), and the other side was told.
    stopped: bool,
    /// Deputy: terminal stop signals (SIGTSTP, SIGTTIN, SIGTTOU) the process left at their default
    /// action (bit n-1 = signal n). The deputy stops for them itself, as the kernel decides at
    /// home (a process in an orphaned process group is not stopped).
    dfl_stops: u64,
    /// Guest: the home node stopped this process (SIGSTOP sent by its `check_stops`); the
    /// stop it causes is not reported back. Cleared when the stop is seen or SIGCONT arrives.
    home_stop: bool,
    /// Guest: system calls it forwarded to its deputy (the balancer's I/O measure).
    forwarded: u64,
}

/// One process known to this node.
#[pin_data]
pub(crate) struct Proc {
    token: u64,
    home: u32,
    home_pid: i32,
    #[pin]
    inner: Mutex<Inner>,
    #[pin]
    cv: CondVar,
    /// Deputy: held while a signal or stop for the process is decided and sent to its remote,
    /// so a SIGCONT forwarded by the deputy never overtakes the SIGSTOP `check_stops` sends
    /// for the stop it ends.
    #[pin]
    signal_order: Mutex<()>,
}

impl Proc {
    fn new(token: u64, home: u32, home_pid: i32, state: u32) -> Result<Arc<Proc>> {
        let inner = Inner {
            state,
            where_: 0,
            nmigs: 0,
            lock: false,
            task: None,
            pid: 0,
            comm: [0; 16],
            uid: 0,
            gid: 0,
            inbox: core::array::from_fn(|_| None),
            head: 0,
            len: 0,
            result: None,
            epoch: 0,
            cancelled: false,
            started: false,
            req: 0,
            next: 0,
            stub: 0,
            scratch: 0,
            in_flight: None,
            finished: false,
            go_home: false,
            home_retry: false,
            lost_since: 0,
            stopped: false,
            dfl_stops: 0,
            home_stop: false,
            forwarded: 0,
        };
        Arc::pin_init(
            pin_init!(Proc {
                token,
                home,
                home_pid,
                inner <- new_mutex!(inner, "oxmosix::proc"),
                cv <- new_condvar!("oxmosix::proc::cv"),
                signal_order <- new_mutex!((), "oxmosix::proc::signal_order"),
            }),
            GFP_KERNEL,
        )
    }

    /// Queues an item for the process's task; waits (bounded) while the inbox is full.
    fn push(&self, it: Item) -> Result {
        let mut g = self.inner.lock();
        let mut waited = 0u32;
        while g.len == INBOX {
            if g.finished || waited >= STEP_MS {
                return Err(errno::etimedout());
            }
            let _ = self
                .cv
                .wait_interruptible_timeout(&mut g, msecs_to_jiffies(100));
            waited += 100;
        }
        let at = (g.head + g.len) % INBOX;
        g.inbox[at] = Some(it);
        g.len += 1;
        drop(g);
        self.cv.notify_all();
        Ok(())
    }

    /// Takes the next item, waiting at most `ms` (0: forever). Errors: `ETIMEDOUT`; `EINTR`
    /// when a signal is pending and `stop_on_signal`; `ESRCH` on a fatal signal.
    fn pop(&self, ms: u32, stop_on_signal: bool) -> Result<Item> {
        let start = sys::monotonic_ms();
        let mut g = self.inner.lock();
        loop {
            if g.len > 0 {
                let h = g.head;
                let it = g.inbox[h].take();
                g.head = (g.head + 1) % INBOX;
                g.len -= 1;
                drop(g);
                self.cv.notify_all();
                return it.ok_or(EINVAL);
            }
            if uctx::fatal_signal_pending() {
                return Err(ESRCH);
            }
            let waited = sys::monotonic_ms() - start;
            if ms != 0 && waited >= u64::from(ms) {
                return Err(errno::etimedout());
            }
            let slice = if ms == 0 {
                1000
            } else {
                (u64::from(ms) - waited).min(1000) as u32
            };
            if let kernel::sync::CondVarTimeoutResult::Signal { .. } = self
                .cv
                .wait_interruptible_timeout(&mut g, msecs_to_jiffies(slice))
            {
                if uctx::fatal_signal_pending() {
                    return Err(ESRCH);
                }
                if stop_on_signal {
                    return Err(EINTR);
                }
                // A non-fatal signal for a guest waiting on its deputy: it is handled when the
                // call returns; do not spin.
                drop(g);
                sys::msleep(10);
                g = self.inner.lock();
            }
        }
    }

    fn set_state(&self, f: impl FnOnce(&mut Inner)) {
        let mut g = self.inner.lock();
        f(&mut g);
        g.epoch += 1;
        drop(g);
        self.cv.notify_all();
    }

    fn task(&self) -> Option<TaskRef> {
        self.inner.lock().task.clone()
    }
}

/// All processes this node knows about.
#[pin_data]
pub(crate) struct Registry {
    #[pin]
    procs: Mutex<[Option<Arc<Proc>>; MAX_PROCS]>,
    pub(crate) stats: MigStats,
}

impl Registry {
    /// An empty registry.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Registry {
            procs <- new_mutex!(core::array::from_fn(|_| None), "oxmosix::procs"),
            stats: MigStats::default(),
        })
    }

    fn find(&self, f: impl Fn(&Proc) -> bool) -> Option<Arc<Proc>> {
        let g = self.procs.lock();
        g.iter().flatten().find(|p| f(p)).cloned()
    }

    fn by_token(&self, token: u64) -> Option<Arc<Proc>> {
        self.find(|p| p.token == token)
    }

    fn by_task(&self, t: &TaskRef) -> Option<Arc<Proc>> {
        let g = self.procs.lock();
        g.iter()
            .flatten()
            .find(|p| p.inner.lock().task.as_ref() == Some(t))
            .cloned()
    }

    /// The record of the process whose local pid is `pid`.
    fn by_pid(&self, pid: i32) -> Option<Arc<Proc>> {
        let g = self.procs.lock();
        g.iter()
            .flatten()
            .find(|p| {
                let i = p.inner.lock();
                i.pid == pid && i.task.as_ref().is_some_and(|t| !t.is_exiting())
            })
            .cloned()
    }

    fn insert(&self, p: Arc<Proc>) -> Result {
        let mut g = self.procs.lock();
        // Drop records of home processes that died (their tasks are not marked: no exit hook).
        for slot in g.iter_mut() {
            let dead = slot.as_ref().is_some_and(|q| {
                let i = q.inner.lock();
                i.state == pstate::HOME && i.task.as_ref().map_or(true, |t| t.is_exiting())
            });
            if dead {
                *slot = None;
            }
        }
        let free = g.iter_mut().find(|s| s.is_none()).ok_or(ENOSPC)?;
        *free = Some(p);
        Ok(())
    }

    fn remove(&self, p: &Arc<Proc>) {
        let mut g = self.procs.lock();
        for slot in g.iter_mut() {
            if slot.as_ref().is_some_and(|q| Arc::ptr_eq(q, p)) {
                *slot = None;
            }
        }
    }

    fn all(&self) -> Result<KVec<Arc<Proc>>> {
        let g = self.procs.lock();
        let mut v = KVec::new();
        for p in g.iter().flatten() {
            v.push(p.clone(), GFP_KERNEL)?;
        }
        Ok(v)
    }
}

/// One line of `/proc/hpc/procs` / one PROCINFO answer.
pub(crate) struct ProcView {
    pub(crate) pid: i32,
    pub(crate) home_pid: i32,
    pub(crate) home: u32,
    pub(crate) where_: u32,
    pub(crate) nmigs: u32,
    pub(crate) state: u32,
    pub(crate) lock: bool,
    pub(crate) cantmove: u32,
    pub(crate) comm: [u8; 16],
}

fn view(sh: &Shared, p: &Proc) -> ProcView {
    let i = p.inner.lock();
    let me = sh.self_id();
    ProcView {
        pid: i.pid,
        home_pid: p.home_pid,
        home: p.home,
        where_: if i.state == pstate::GUEST || i.state == pstate::HOME {
            me
        } else {
            i.where_
        },
        nmigs: i.nmigs,
        state: i.state,
        lock: i.lock,
        cantmove: if i.lock { cantmove::LOCKED } else { 0 },
        comm: i.comm,
    }
}

/// Every process with a record here (deputies, guests, locked or once-migrated processes).
pub(crate) fn list(sh: &Shared) -> Result<KVec<ProcView>> {
    let mut v = KVec::new();
    for p in sh.mig.all()? {
        let pv = view(sh, &p);
        if pv.state == pstate::HOME && TaskRef::from_pid(pv.pid).is_none() {
            continue;
        }
        v.push(pv, GFP_KERNEL)?;
    }
    Ok(v)
}

/// Whether any guest runs here (the balancer's idle check).
pub(crate) fn has_guests(sh: &Shared) -> bool {
    sh.mig.all().is_ok_and(|v| {
        v.iter()
            .any(|p| p.home != sh.self_id() && p.inner.lock().state == pstate::GUEST)
    })
}

/// What the balancer needs of a process that has a record here.
pub(crate) struct BalanceInfo {
    /// [`pstate`] value.
    pub(crate) state: u32,
    /// Locked at home (`MOSIX_IOC_LOCK`): no automatic moves.
    pub(crate) lock: bool,
    /// Its home node.
    pub(crate) home: u32,
    /// Guest: system calls forwarded so far.
    pub(crate) forwarded: u64,
    /// Migrations so far (a change means it moved since the balancer last looked).
    pub(crate) nmigs: u32,
}

/// The record of local process `pid` as the balancer sees it (`None`: no record; a process that
/// never migrated and is not locked runs at home).
pub(crate) fn balance_info(sh: &Shared, pid: i32) -> Option<BalanceInfo> {
    let p = sh.mig.by_pid(pid)?;
    let i = p.inner.lock();
    Some(BalanceInfo {
        state: i.state,
        lock: i.lock,
        home: p.home,
        forwarded: i.forwarded,
        nmigs: i.nmigs,
    })
}

/// Why task `t` cannot move now (its threads, tracing, class and memory areas).
fn cantmove_of(t: &TaskRef) -> u32 {
    if t.is_kthread() {
        cantmove::KTHREAD
    } else if t.is_exiting() {
        cantmove::EXITING
    } else if t.nr_threads() > 1 {
        cantmove::THREADS
    } else if t.is_ptraced() {
        cantmove::PTRACED
    } else if t.is_realtime() {
        cantmove::REALTIME
    } else {
        match t.vma_obstacles() {
            (true, _) => cantmove::SHARED_WRITABLE,
            (_, true) => cantmove::DEVICE,
            _ => 0,
        }
    }
}

/// What this node knows about process `pid` (`MOSIX_IOC_PROCINFO`). Errors: `ESRCH`.
pub(crate) fn info(sh: &Shared, pid: i32) -> Result<ProcView> {
    if let Some(p) = sh.mig.by_pid(pid) {
        let mut v = view(sh, &p);
        if v.cantmove == 0 && v.state == pstate::HOME {
            if let Some(t) = p.task() {
                v.cantmove = cantmove_of(&t);
            }
        }
        return Ok(v);
    }
    let t = TaskRef::from_pid(pid).ok_or(ESRCH)?;
    Ok(ProcView {
        pid,
        home_pid: pid,
        home: sh.self_id(),
        where_: sh.self_id(),
        nmigs: 0,
        state: pstate::HOME,
        lock: false,
        cantmove: cantmove_of(&t),
        comm: t.comm(),
    })
}

/// Whether the caller may control `t`: same real or effective uid as its uid, or CAP_SYS_ADMIN.
fn may_control(t: &TaskRef) -> bool {
    let (uid, _, _) = t.ids();
    let (cuid, _, ceuid) = TaskRef::current().ids();
    cuid == uid || ceuid == uid || crate::kapi::cred::capable_sys_admin()
}

/// The record of a local process, created if needed.
fn home_record(sh: &Shared, t: &TaskRef) -> Result<Arc<Proc>> {
    if let Some(p) = sh.mig.by_pid(t.pid()) {
        return Ok(p);
    }
    let mut token = 0;
    while token == 0 {
        token = sys::random_u64();
    }
    let p = Proc::new(token, sh.self_id(), t.pid(), pstate::HOME)?;
    {
        let (uid, gid, _) = t.ids();
        let mut i = p.inner.lock();
        i.task = Some(t.clone());
        i.pid = t.pid();
        i.comm = t.comm();
        i.uid = uid;
        i.gid = gid;
    }
    sh.mig.insert(p.clone())?;
    Ok(p)
}

/// `MOSIX_IOC_LOCK`.
pub(crate) fn set_lock(sh: &Shared, pid: i32, lock: bool) -> Result {
    let t = TaskRef::from_pid(pid).ok_or(ESRCH)?;
    if !may_control(&t) {
        return Err(EPERM);
    }
    let p = home_record(sh, &t)?;
    if p.home != sh.self_id() {
        return Err(EINVAL);
    }
    p.inner.lock().lock = lock;
    Ok(())
}

/// Waits until `done(inner)` gives a result, at most `ms`. Errors: `ETIMEDOUT`, `EINTR`.
fn wait_for(
    p: &Proc,
    ms: u32,
    done: impl Fn(&Inner) -> Option<core::result::Result<(), (Error, u32)>>,
) -> core::result::Result<(), (Error, u32)> {
    let start = sys::monotonic_ms();
    let mut g = p.inner.lock();
    loop {
        if let Some(r) = done(&g) {
            return r;
        }
        let waited = sys::monotonic_ms() - start;
        if waited >= u64::from(ms) {
            return Err((errno::etimedout(), 0));
        }
        let slice = (u64::from(ms) - waited).min(1000) as u32;
        if let kernel::sync::CondVarTimeoutResult::Signal { .. } =
            p.cv.wait_interruptible_timeout(&mut g, msecs_to_jiffies(slice))
        {
            return Err((EINTR, 0));
        }
    }
}

/// `MOSIX_IOC_MIGRATE`: move process `pid` to node `node` (0: home) and wait until it runs
/// there. Errors as documented in `uapi::MOSIX_IOC_MIGRATE`, with a `cantmove` reason.
pub(crate) fn migrate(
    sh: &Arc<Shared>,
    pid: i32,
    node: i32,
) -> core::result::Result<(), (Error, u32)> {
    migrate_within(sh, pid, node, SAFE_POINT_MS)
}

/// [`migrate`] waiting at most `safe_ms` for the process's safe point (the balancer does not
/// wait long for a process that sleeps).
pub(crate) fn migrate_within(
    sh: &Arc<Shared>,
    pid: i32,
    node: i32,
    safe_ms: u32,
) -> core::result::Result<(), (Error, u32)> {
    let me = sh.self_id();
    if me == 0 || node < 0 {
        return Err((EINVAL, 0));
    }
    let node = node as u32;
    let t = TaskRef::from_pid(pid).ok_or((ESRCH, 0))?;
    if !may_control(&t) {
        return Err((EPERM, 0));
    }
    if let Some(p) = sh.mig.by_pid(pid) {
        let (state, where_) = {
            let i = p.inner.lock();
            (i.state, i.where_)
        };
        match state {
            pstate::GUEST => {
                if node != 0 && node != p.home {
                    return Err((EINVAL, 0));
                }
                return send_guest_home(sh, &p, "asked here");
            }
            pstate::DEPUTY => {
                if node == where_ {
                    return Err((errno::ealready(), 0));
                }
                let target = if node == me { 0 } else { node };
                if target != 0 && !sh.is_up(target) {
                    return Err((errno::ehostunreach(), cantmove::TARGET_DOWN));
                }
                return call_home(sh, &p, target);
            }
            pstate::MIGRATING => return Err((EBUSY, cantmove::MIGRATING)),
            _ => {}
        }
    }
    if node == 0 || node == me {
        return Err((errno::ealready(), 0));
    }
    if !sh.is_up(node) {
        return Err((errno::ehostunreach(), cantmove::TARGET_DOWN));
    }
    let why = cantmove_of(&t);
    if why != 0 {
        return Err((EBUSY, why));
    }
    let p = home_record(sh, &t).map_err(|e| (e, 0))?;
    let (epoch, req) = {
        let mut i = p.inner.lock();
        if i.lock {
            return Err((EBUSY, cantmove::LOCKED));
        }
        if i.state != pstate::HOME {
            return Err((EBUSY, cantmove::MIGRATING));
        }
        i.state = pstate::MIGRATING;
        i.result = None;
        i.cancelled = false;
        i.started = false;
        i.req += 1;
        i.epoch += 1;
        (i.epoch, i.req)
    };
    let (sh2, p2) = (sh.clone(), p.clone());
    if let Err(e) = t.add_work(move || migrate_out(&sh2, &p2, node, req)) {
        p.set_state(|i| i.state = pstate::HOME);
        return Err((e, cantmove::EXITING));
    }
    let done = |i: &Inner| {
        if i.epoch > epoch {
            i.result
        } else {
            None
        }
    };
    // First the safe point: a process sleeping in the kernel gets there only when it wakes.
    let r = wait_for(&p, safe_ms, |i| {
        done(i).or(if i.started { Some(Ok(())) } else { None })
    });
    if let Err((e, _)) = r {
        let mut i = p.inner.lock();
        if !i.started && i.result.is_none() {
            // Withdraw the request: the task work will find it cancelled.
            i.cancelled = true;
            i.state = pstate::HOME;
            return Err((e, 0));
        }
    }
    wait_for(&p, IOCTL_MS, done)
}

/// Asks the remote of deputy `p` to come home (and go on to `next`), and waits.
fn call_home(sh: &Shared, p: &Arc<Proc>, next: u32) -> core::result::Result<(), (Error, u32)> {
    let (where_, epoch) = {
        let mut i = p.inner.lock();
        i.next = next;
        i.result = None;
        (i.where_, i.epoch)
    };
    pr_info!(
        "migration: process {} on node {} asked to come home (then node {})\n",
        p.home_pid,
        where_,
        next
    );
    send_ctl(sh, where_, p.token, mig::ctl::GO_HOME, 0).map_err(|e| (e, cantmove::TARGET_DOWN))?;
    wait_for(p, IOCTL_MS, |i| {
        if i.epoch <= epoch {
            return None;
        }
        if next == 0 && i.state == pstate::HOME {
            return Some(Ok(()));
        }
        if next != 0 && i.state == pstate::DEPUTY && i.where_ == next {
            return Some(Ok(()));
        }
        match &i.result {
            Some(Err(e)) => Some(Err(*e)),
            _ => None,
        }
    })
}

/// Makes guest `p` go home (from this, its remote node) and waits until it left.
fn send_guest_home(
    sh: &Arc<Shared>,
    p: &Arc<Proc>,
    why: &str,
) -> core::result::Result<(), (Error, u32)> {
    let t = p.task().ok_or((ESRCH, 0))?;
    request_guest_home(sh, p, &t, why);
    wait_for(
        p,
        IOCTL_MS,
        |i| if i.finished { Some(Ok(())) } else { None },
    )
}

/// Makes guest `p` (task `t`) go home at its next safe point; `why` is logged.
fn request_guest_home(sh: &Arc<Shared>, p: &Arc<Proc>, t: &TaskRef, why: &str) {
    pr_info!(
        "migration: guest {} (pid {} of node {}) going home: {}\n",
        t.pid(),
        p.home_pid,
        p.home,
        why
    );
    let running = {
        let mut i = p.inner.lock();
        if i.state != pstate::GUEST {
            i.go_home = true;
            false
        } else {
            !i.finished
        }
    };
    if running {
        let (sh2, p2) = (sh.clone(), p.clone());
        let _ = t.add_work(move || {
            if p2.inner.lock().finished {
                return;
            }
            // In the middle of a vDSO clock read the registers hold this node's time, to
            // which the vDSO then adds the time-namespace offset it finds: the other node's
            // after a move. Leave the vDSO first.
            if uctx::ip_in_vdso() {
                p2.inner.lock().home_retry = true;
                return;
            }
            go_home(&sh2, &p2, None);
        });
    }
}

/// Ends the processes that depend on a node that is gone: a deputy whose process ran on it, a
/// guest whose home it was. A node counts as gone when it has been down or without a connection
/// for `timeout` ms (the node timeout of `/proc/hpc/admin/timeout`, 5 s by default); called every
/// gossip interval, so a process ends at most `timeout` + one gossip interval (6 s by default)
/// after its node went silent. Each end is logged with its reason.
pub(crate) fn check_peers(sh: &Arc<Shared>, now: u64, timeout_ms: u64) {
    let Ok(all) = sh.mig.all() else { return };
    let me = sh.self_id();
    for p in all.iter() {
        let (state, peer, task, since) = {
            let i = p.inner.lock();
            let peer = if p.home == me { i.where_ } else { p.home };
            (i.state, peer, i.task.clone(), i.lost_since)
        };
        let depends = match state {
            pstate::DEPUTY | pstate::GUEST => true,
            pstate::MIGRATING => peer != me && peer != 0,
            _ => false,
        };
        if !depends || peer == me {
            continue;
        }
        if sh.is_up(peer) {
            if since != 0 {
                p.inner.lock().lost_since = 0;
            }
            continue;
        }
        // Marked down (no news for `timeout`): gone now. Up but without a connection: gone once
        // that lasted `timeout`.
        if sh.node_up(peer) {
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
            // A transfer in progress fails on its own timeouts; wake it now.
            p.cv.notify_all();
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
/// report back a stop its home node asked for (`Inner::home_stop`): a late report would stop
/// the process again after it was continued.
pub(crate) fn check_stops(sh: &Arc<Shared>) {
    let Ok(all) = sh.mig.all() else { return };
    let me = sh.self_id();
    for p in all.iter() {
        let (state, task, where_) = {
            let i = p.inner.lock();
            (i.state, i.task.clone(), i.where_)
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
                let _ = send_ctl(sh, where_, p.token, mig::ctl::SIGNAL, 19);
            }
        } else if p.home != me && state == pstate::GUEST {
            if core::mem::take(&mut p.inner.lock().home_retry) {
                request_guest_home(sh, p, &t, "again (it was in the vDSO)");
            }
            // Checked under the lock the SIGNAL handler holds while it signals the task.
            let report = {
                let mut i = p.inner.lock();
                let now = t.is_stopped();
                let newly = now && !i.stopped;
                i.stopped = now;
                // A stop the home node asked for is not news to it.
                let report = newly && !i.home_stop;
                if newly {
                    i.home_stop = false;
                }
                report
            };
            if report {
                let _ = send_ctl(sh, p.home, p.token, mig::ctl::STOPPED, 0);
            }
        }
    }
}

/// Sets a node parameter; `expel` and `bring` also act.
pub(crate) fn set_param(sh: &Arc<Shared>, key: u32, value: u64) -> Result {
    sh.set_param(key, value)?;
    // The actions return once they are done (at most PARAM_WAIT_MS): afterwards no guest is
    // here / no process of this home node is away, unless one could not move.
    match (key, value) {
        (crate::uapi::param::EXPEL, 1) => {
            expel(sh)?;
            wait_until_none(sh, |p, i| {
                i.state == pstate::GUEST && p.home != sh.self_id()
            });
            Ok(())
        }
        (crate::uapi::param::BRING, 1) => {
            // A process leaving right now (its migration in progress) is away when it ends:
            // ask again until none is away or leaving.
            let start = sys::monotonic_ms();
            loop {
                bring(sh)?;
                let me = sh.self_id();
                let away = |p: &Proc, i: &Inner| {
                    p.home == me && (i.state == pstate::DEPUTY || i.state == pstate::MIGRATING)
                };
                if wait_until_none_for(sh, away, 2000)
                    || sys::monotonic_ms() - start >= PARAM_WAIT_MS
                {
                    return Ok(());
                }
            }
        }
        _ => Ok(()),
    }
}

/// How long `expel` and `bring` written as parameters wait for the processes to move (ms).
const PARAM_WAIT_MS: u64 = 30_000;

/// Waits (polling every 50 ms, at most [`PARAM_WAIT_MS`]) until no process record matches `which`.
fn wait_until_none(sh: &Shared, which: impl Fn(&Proc, &Inner) -> bool) {
    wait_until_none_for(sh, which, PARAM_WAIT_MS);
}

/// As [`wait_until_none`], at most `ms`; whether none matches at the end.
fn wait_until_none_for(sh: &Shared, which: impl Fn(&Proc, &Inner) -> bool, ms: u64) -> bool {
    let start = sys::monotonic_ms();
    loop {
        let left = sh.mig.all().map_or(0, |v| {
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
        sys::msleep(50);
    }
}

/// `expel`: send every guest here home.
pub(crate) fn expel(sh: &Arc<Shared>) -> Result {
    for p in sh.mig.all()? {
        let (guest, t) = {
            let i = p.inner.lock();
            (
                i.state == pstate::GUEST || i.state == pstate::MIGRATING && p.home != sh.self_id(),
                i.task.clone(),
            )
        };
        if let (true, Some(t)) = (guest, t) {
            request_guest_home(sh, &p, &t, "expel");
        }
    }
    Ok(())
}

/// `bring`: ask every process of this home node that is away to come home.
pub(crate) fn bring(sh: &Arc<Shared>) -> Result {
    for p in sh.mig.all()? {
        let (deputy, where_) = {
            let i = p.inner.lock();
            (i.state == pstate::DEPUTY, i.where_)
        };
        if deputy {
            p.inner.lock().next = 0;
            let _ = send_ctl(sh, where_, p.token, mig::ctl::GO_HOME, 0);
        }
    }
    Ok(())
}

/// Module unload: send guests home, bring processes home, and end whatever is left so that no
/// task remains in the hooks. Waits at most `ms`.
pub(crate) fn shutdown(sh: &Arc<Shared>, ms: u32) {
    let _ = expel(sh);
    let _ = bring(sh);
    let start = sys::monotonic_ms();
    loop {
        let busy = sh.mig.all().map_or(0, |v| {
            v.iter()
                .filter(|p| {
                    let i = p.inner.lock();
                    matches!(i.state, pstate::GUEST | pstate::DEPUTY | pstate::MIGRATING)
                        && !i.finished
                })
                .count()
        });
        if busy == 0 || sys::monotonic_ms() - start > u64::from(ms) {
            break;
        }
        crate::kapi::kthread::sleep_ms(50);
    }
    if let Ok(v) = sh.mig.all() {
        for p in v.iter() {
            let (state, t) = {
                let mut i = p.inner.lock();
                i.finished = true;
                (i.state, i.task.clone())
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

fn send_ctl(sh: &Shared, node: u32, token: u64, op: u32, arg: u32) -> Result {
    let c = Ctl { token, op, arg }.encode();
    sh.send_to(node, MsgType::MigCtl, &[&c])
}

/// Completes a migration request of a home process with `r`.
fn finish(p: &Proc, r: core::result::Result<(), (Error, u32)>, state: u32) {
    p.set_state(|i| {
        i.state = state;
        i.result = Some(r);
    });
}

/// Task work of a process asked to migrate: runs in its own context on its way to user mode.
fn migrate_out(sh: &Arc<Shared>, p: &Arc<Proc>, target: u32, req: u64) {
    let cancelled = {
        let mut i = p.inner.lock();
        let stale = i.cancelled || i.req != req || i.state != pstate::MIGRATING;
        i.started = !stale;
        stale
    };
    p.cv.notify_all();
    if cancelled {
        return;
    }
    match send_image(sh, p, target) {
        Ok(()) => {
            bump(&sh.mig.stats.out);
            if let Err(e) = become_deputy(p, target) {
                // The memory is half released: the process cannot continue here.
                pr_err!("migration: deputy setup failed ({:?}): ending process\n", e);
                let _ = send_ctl(sh, target, p.token, mig::ctl::KILL, SIGKILL as u32);
                let _ = TaskRef::current().send_signal(SIGKILL);
                finish(p, Err((EIO, cantmove::TRANSFER)), pstate::HOME);
            }
        }
        Err((e, why)) => {
            bump(&sh.mig.stats.failed);
            finish(p, Err((e, why)), pstate::HOME);
        }
    }
}

/// Whether `v` is the vDSO text or its vvar area.
fn is_vdso(v: &uctx::VmaDesc, vdso: u64) -> bool {
    let vvar = vdso.wrapping_sub(uctx::vvar_size());
    v.start >= vvar && v.start <= vdso && v.end > vvar
}

/// Offers the calling process to `target`, streams its image and commits: on `Ok` the target
/// runs it. On error nothing changed here and the target dropped it.
fn send_image(
    sh: &Arc<Shared>,
    p: &Arc<Proc>,
    target: u32,
) -> core::result::Result<(), (Error, u32)> {
    let vmas = uctx::vmas().map_err(|e| (e, cantmove::LAYOUT))?;
    let vdso = uctx::vdso_addr();
    if vdso == 0 {
        return Err((EBUSY, cantmove::LAYOUT));
    }
    let mut pages = 0u64;
    for v in vmas.iter() {
        if is_vdso(v, vdso) {
            continue;
        }
        if v.flags & uctx::vmf::SHARED != 0 && v.flags & uctx::vmf::MAYWRITE != 0 {
            return Err((EBUSY, cantmove::SHARED_WRITABLE));
        }
        if v.flags & uctx::vmf::DEVICE != 0 {
            return Err((EBUSY, cantmove::DEVICE));
        }
        pages += (v.end - v.start) / PAGE as u64;
    }
    let (comm, uid, gid, nmigs) = {
        let i = p.inner.lock();
        (i.comm, i.uid, i.gid, i.nmigs)
    };
    let offer = Offer {
        token: p.token,
        home: p.home,
        home_pid: p.home_pid as u32,
        uid,
        gid,
        pages,
        nmigs,
        comm,
    };
    drain(p);
    // Answers are accepted only from the node the process exchanges with.
    p.inner.lock().where_ = target;
    sh.send_to(target, MsgType::MigOffer, &[&offer.encode()])
        .map_err(|_| (errno::ehostunreach(), cantmove::TARGET_DOWN))?;
    match p.pop(STEP_MS, false) {
        Ok(Item::Answer(a)) if a.status == 0 => {}
        Ok(Item::Answer(a)) => return Err((errno::econnrefused(), a.status)),
        Ok(_) => return Err((EIO, cantmove::TRANSFER)),
        Err(e) => return Err((e, cantmove::TARGET_DOWN)),
    }
    let abort = |e: Error| {
        let _ = send_ctl(sh, target, p.token, mig::ctl::KILL, SIGKILL as u32);
        (e, cantmove::TRANSFER)
    };
    stream(sh, target, p.token, &vmas, vdso, None).map_err(abort)?;
    match p.pop(INSTALL_MS, false) {
        Ok(Item::Answer(a)) if a.status == 0 => {}
        Ok(Item::Answer(a)) => return Err((EIO, a.status)),
        Ok(_) => return Err(abort(EIO)),
        Err(e) => return Err(abort(e)),
    }
    send_ctl(sh, target, p.token, mig::ctl::GO, 0).map_err(abort)?;
    Ok(())
}

/// Discards anything left in the inbox (answers of an earlier, failed attempt).
fn drain(p: &Proc) {
    let mut i = p.inner.lock();
    while i.len > 0 {
        let h = i.head;
        i.inbox[h] = None;
        i.head = (h + 1) % INBOX;
        i.len -= 1;
    }
}

/// Streams the calling task's state and memory to `node`: State, then for each memory area
/// its Vma and the pages that hold data, then End. `rewound` replaces the registers (a guest
/// going home to run a system call there).
fn stream(
    sh: &Shared,
    node: u32,
    token: u64,
    vmas: &[uctx::VmaDesc],
    vdso: u64,
    rewound: Option<&[u64; uctx::NREGS]>,
) -> Result {
    let mut st = mig::State::new(token);
    st.regs = match rewound {
        Some(r) => *r,
        None => uctx::regs()?,
    };
    st.mm = uctx::layout()?;
    let s = uctx::signals();
    st.blocked = s.blocked;
    st.pending = s.pending;
    st.ss_sp = s.ss.0;
    st.ss_size = s.ss.1;
    st.ss_flags = s.ss.2;
    st.actions = s.actions;
    st.rlim = uctx::rlimits();
    let (mono, boot) = uctx::clocks();
    st.clocks = [mono, boot];
    let xsize = uctx::xstate_size();
    let mut buf = KVVec::new();
    buf.extend_with(mig::STATE_FIXED_LEN + xsize, 0u8, GFP_KERNEL)?;
    let mut xs = KVVec::new();
    xs.extend_with(xsize, 0u8, GFP_KERNEL)?;
    uctx::save_xstate(&mut xs)?;
    let n = st.encode(&xs, &mut buf).map_err(|_| EINVAL)?;
    sh.send_to(node, MsgType::MigState, &[&buf[..n]])?;

    // Page buffer: header + up to MAX_PAGES_PER_FRAME pages.
    let mut pb = KVVec::new();
    pb.extend_with(
        mig::PAGES_HDR_LEN + mig::MAX_PAGES_PER_FRAME * PAGE,
        0u8,
        GFP_KERNEL,
    )?;
    let (mut nv, mut np) = (0u32, 0u32);
    for v in vmas.iter() {
        if is_vdso(v, vdso) {
            continue;
        }
        let prot = (v.flags & 7) as u32;
        let mut flags = 0;
        if v.flags & uctx::vmf::GROWSDOWN != 0 {
            flags |= mig::vma::GROWSDOWN;
        }
        if v.file {
            flags |= mig::vma::FILE;
        }
        let vm = Vma {
            token,
            start: v.start,
            end: v.end,
            prot,
            flags,
        };
        sh.send_to(node, MsgType::MigVma, &[&vm.encode()])?;
        nv += 1;
        if v.flags & uctx::vmf::READ == 0 {
            continue; // PROT_NONE: no contents to read (guard areas)
        }
        let mut addr = v.start;
        let mut run_start = 0u64;
        let mut run = 0usize;
        while addr < v.end {
            // Read one page; unreadable pages (beyond a file's end) and all-zero pages are not
            // sent: the receiver's fresh anonymous memory reads as zero.
            let slot = mig::PAGES_HDR_LEN + run * PAGE;
            let page = &mut pb[slot..slot + PAGE];
            let ok = UserSlice::new(addr as usize, PAGE)
                .reader()
                .read_slice(page)
                .is_ok();
            let data = ok && page.iter().any(|&b| b != 0);
            if data {
                if run == 0 {
                    run_start = addr;
                }
                run += 1;
            }
            let last = addr + PAGE as u64 >= v.end;
            if run > 0 && (!data || run == mig::MAX_PAGES_PER_FRAME || last) {
                MsgPages::encode_header(token, run_start, run, &mut pb);
                let len = mig::PAGES_HDR_LEN + run * PAGE;
                sh.send_to(node, MsgType::MigPages, &[&pb[..len]])?;
                np += run as u32;
                run = 0;
            }
            addr += PAGE as u64;
        }
    }
    let end = End {
        token,
        vmas: nv,
        pages: np,
    };
    sh.send_to(node, MsgType::MigEnd, &[&end.encode()])?;
    sh.mig
        .stats
        .pages_out
        .fetch_add(u64::from(np), Ordering::Relaxed);
    Ok(())
}

/// Turns the calling task into the deputy of its process, now running on `target`: releases
/// its memory, maps the stub and scratch memory, points its registers at the stub and marks it.
fn become_deputy(p: &Arc<Proc>, target: u32) -> Result {
    // Pending signals went with the image; from now on signals arriving here are caught by the
    // stub's handler and forwarded (see `set_deputy_actions`).
    let actions = uctx::signals().actions;
    uctx::set_blocked(!0);
    uctx::flush_signals();
    let vdso = uctx::vdso_addr();
    for v in uctx::vmas()?.iter() {
        if !is_vdso(v, vdso) {
            uctx::unmap(v.start, v.end - v.start)?;
        }
    }
    let scratch = uctx::map_anywhere(SCRATCH, 3)?;
    let stub = uctx::map_anywhere(PAGE as u64, 5)?;
    uctx::poke(stub, &STUB)?;
    uctx::set_deputy_actions(&actions, stub + STUB_HANDLER, stub + STUB_RESTORER);
    let dfl_stops = [20u32, 21, 22]
        .iter()
        .filter(|&&sg| actions[sg as usize - 1][0] == uctx::SIG_DFL)
        .fold(0u64, |m, &sg| m | 1 << (sg - 1));
    uctx::set_blocked(0);
    let mut r = [0u64; uctx::NREGS];
    r[mig::REG_IP] = stub;
    r[mig::REG_SP] = scratch + SCRATCH;
    uctx::set_regs(&r)?;
    TaskRef::current().set_migrated(true);
    p.set_state(|i| {
        i.state = pstate::DEPUTY;
        i.dfl_stops = dfl_stops;
        i.where_ = target;
        i.nmigs += 1;
        i.stub = stub;
        i.scratch = scratch;
        i.in_flight = None;
        i.result = Some(Ok(()));
    });
    Ok(())
}

/// Longest a process coming home is held so that its `CLOCK_MONOTONIC` does not go back, ms.
/// Clocks of nodes that keep real time differ in rate by far less (a remote stay of an hour at
/// 100 ppm is 360 ms); beyond it the process runs on and the step back is logged.
const CLOCK_HOLD_MAX_MS: u64 = 2000;

/// Installs an image arriving in `p`'s inbox (State already taken: `state`) into the calling
/// task. A guest's shell maps the vDSO where the process had it; a deputy keeps its own, which
/// is already there. Returns the `cantmove` reason on failure (the task must then end).
///
/// Clocks: each node's `CLOCK_MONOTONIC` and `CLOCK_BOOTTIME` start at its own boot. A guest
/// continues the values the State carries (plus the time since it arrived) in a time namespace
/// of its own ([`uctx::continue_clocks`]), so the process never sees them jump; the lag it
/// gathers (the State's one-way trip per move) is made up at home, where it is back on home's
/// clocks: a forward step of a few ms. Should the process come home ahead of home's clock (a
/// remote clock that ran fast), it is held until home's clock has caught up.
fn install(sh: &Shared, p: &Proc, state: &[u8], deputy: bool) -> core::result::Result<(), u32> {
    let arrived = uctx::clocks();
    let (st, xs) = mig::State::decode(state).map_err(|_| cantmove::TARGET_FAILED)?;
    let fail = |_e: Error| cantmove::TARGET_FAILED;
    let vdso = uctx::vdso_addr();
    for v in uctx::vmas().map_err(fail)?.iter() {
        if deputy && is_vdso(v, vdso) {
            continue;
        }
        uctx::unmap(v.start, v.end - v.start).map_err(fail)?;
    }
    if deputy {
        if vdso != st.mm[mig::MM_VDSO] {
            return Err(cantmove::LAYOUT);
        }
    } else {
        uctx::map_vdso(st.mm[mig::MM_VVAR]).map_err(fail)?;
        if uctx::vdso_addr() != st.mm[mig::MM_VDSO] {
            return Err(cantmove::LAYOUT);
        }
    }
    let (mut nv, mut np) = (0u32, 0u32);
    let mut cur: Option<Vma> = None;
    loop {
        match p.pop(STEP_MS, false).map_err(fail)? {
            Item::Vma(v) => {
                let grows = v.flags & mig::vma::GROWSDOWN != 0;
                uctx::map_anon(v.start, v.end - v.start, v.prot, grows).map_err(fail)?;
                cur = Some(v);
                nv += 1;
            }
            Item::Pages { addr, data } => {
                let v = cur.ok_or(cantmove::TARGET_FAILED)?;
                let len = data.len() as u64;
                if addr < v.start || addr + len > v.end {
                    return Err(cantmove::TARGET_FAILED);
                }
                if v.prot & 2 != 0 {
                    UserSlice::new(addr as usize, data.len())
                        .writer()
                        .write_slice(&data)
                        .map_err(fail)?;
                } else {
                    uctx::poke(addr, &data).map_err(fail)?;
                }
                np += (len / PAGE as u64) as u32;
            }
            Item::End(e) => {
                if e.vmas != nv || e.pages != np {
                    return Err(cantmove::TARGET_FAILED);
                }
                break;
            }
            _ => return Err(cantmove::TARGET_FAILED),
        }
    }
    sh.mig
        .stats
        .pages_in
        .fetch_add(u64::from(np), Ordering::Relaxed);
    uctx::set_layout(&st.mm).map_err(fail)?;
    uctx::set_rlimits(&st.rlim);
    uctx::restore_xstate(xs).map_err(fail)?;
    uctx::set_regs(&st.regs).map_err(fail)?;
    uctx::flush_signals();
    uctx::set_signals(&uctx::Signals {
        blocked: st.blocked,
        pending: st.pending,
        ss: (st.ss_sp, st.ss_size, st.ss_flags),
        actions: st.actions,
    });
    let comm = p.inner.lock().comm;
    uctx::set_comm(&comm);
    take_clocks(sh, p, st.clocks, arrived, deputy)
}

/// The clock part of [`install`]: `clocks` are the process's (monotonic, boottime) from its
/// State, `arrived` this task's clocks when the State arrived. A guest continues them in a time
/// namespace of its own; a deputy is held while the process's clock is ahead of home's.
fn take_clocks(
    sh: &Shared,
    p: &Proc,
    clocks: [u64; 2],
    arrived: (u64, u64),
    deputy: bool,
) -> core::result::Result<(), u32> {
    let now = uctx::clocks();
    let mono = clocks[0].saturating_add(now.0.saturating_sub(arrived.0));
    let boot = clocks[1].saturating_add(now.1.saturating_sub(arrived.1));
    if !deputy {
        return uctx::continue_clocks(mono, boot).map_err(|e| {
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
            sys::msleep((ahead_us / 1000 + 1) as u32);
            bump(&sh.mig.stats.clock_holds);
            sh.mig
                .stats
                .clock_hold_us
                .fetch_add(ahead_us, Ordering::Relaxed);
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

/// Sends the calling guest home with its state (`rewound` registers when it goes home to run
/// a system call there), then ends the guest's task here.
fn go_home(sh: &Arc<Shared>, p: &Arc<Proc>, rewound: Option<&[u64; uctx::NREGS]>) {
    let me = TaskRef::current();
    let r = (|| -> Result {
        let vmas = uctx::vmas()?;
        let vdso = uctx::vdso_addr();
        drain(p);
        stream(sh, p.home, p.token, &vmas, vdso, rewound)?;
        match p.pop(INSTALL_MS, false)? {
            Item::Answer(a) if a.status == 0 => Ok(()),
            _ => Err(EIO),
        }
    })();
    if let Err(e) = r {
        pr_warn!(
            "migration: guest {} of node {} could not go home ({:?}); ending it\n",
            p.home_pid,
            p.home,
            e
        );
        let _ = send_ctl(sh, p.home, p.token, mig::ctl::GONE, SIGKILL as u32);
    }
    p.set_state(|i| i.finished = true);
    sh.mig.remove(p);
    let _ = me.send_signal(SIGKILL);
}

/// An Offer arrived (rx thread of the connection with the home node).
fn on_offer(sh: &Arc<Shared>, from: u32, o: Offer) {
    let answer = |status: u32, pid: u32| {
        let a = mig::Answer {
            token: o.token,
            status,
            pid,
        };
        let _ = sh.send_to(from, MsgType::MigAnswer, &[&a.encode()]);
    };
    if o.home != from && sh.mig.by_token(o.token).is_none() {
        // Chains go through the home node: only it offers its processes.
        answer(cantmove::TARGET_FAILED, 0);
        return;
    }
    if sh.blocks_guests() {
        answer(cantmove::TARGET_BLOCKED, 0);
        return;
    }
    let (_, _, avail) = sys::meminfo_kib();
    if o.pages.saturating_mul(4) + RESERVE_KIB > avail {
        answer(cantmove::TARGET_NOMEM, 0);
        return;
    }
    // A record left over from an earlier visit of this process is finished: replace it.
    if let Some(old) = sh.mig.by_token(o.token) {
        old.set_state(|i| i.finished = true);
        sh.mig.remove(&old);
    }
    let p = match Proc::new(o.token, o.home, o.home_pid as i32, pstate::MIGRATING) {
        Ok(p) => p,
        Err(_) => return answer(cantmove::TARGET_NOMEM, 0),
    };
    {
        let mut i = p.inner.lock();
        i.comm = o.comm;
        i.nmigs = o.nmigs;
        i.uid = o.uid;
        i.gid = o.gid;
        i.where_ = sh.self_id();
    }
    if sh.mig.insert(p.clone()).is_err() {
        return answer(cantmove::TARGET_NOMEM, 0);
    }
    let r = spawn_shell(
        SHELL_PATH,
        o.uid,
        o.gid,
        p.clone(),
        |p: &Proc, t: TaskRef| {
            t.set_migrated(true);
            let mut i = p.inner.lock();
            i.pid = t.pid();
            i.task = Some(t);
        },
    );
    if let Err(e) = r {
        pr_warn!("migration: cannot start {:?}: {:?}\n", SHELL_PATH, e);
        sh.mig.remove(&p);
        return answer(cantmove::TARGET_SHELL, 0);
    }
    let pid = p.inner.lock().pid;
    answer(0, pid as u32);
}

/// Dispatches a migration message from node `from` (called by the connection's rx thread).
/// Frames for unknown processes are counted and dropped (they may be late).
pub(crate) fn on_message(sh: &Arc<Shared>, from: u32, m: &Message<'_>) -> Result {
    let copy = |b: &[u8]| -> Result<KVVec<u8>> {
        let mut v = KVVec::with_capacity(b.len(), GFP_KERNEL)?;
        v.extend_from_slice(b, GFP_KERNEL)?;
        Ok(v)
    };
    let (token, item) = match *m {
        Message::MigOffer(o) => {
            on_offer(sh, from, o);
            return Ok(());
        }
        Message::MigAnswer(a) => (a.token, Item::Answer(a)),
        Message::MigState(b) => {
            let (st, _) = mig::State::decode(b).map_err(|_| EINVAL)?;
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
        Message::MigCtl(c) => (c.token, Item::Ctl(c)),
        _ => return Ok(()),
    };
    let Some(p) = sh.mig.by_token(token) else {
        bump(&sh.mig.stats.stray);
        return Ok(());
    };
    // Only the node the process exchanges with may talk about it.
    let peer_ok = {
        let i = p.inner.lock();
        if p.home == sh.self_id() {
            i.where_ == from
        } else {
            p.home == from
        }
    };
    if !peer_ok {
        bump(&sh.mig.stats.stray);
        return Ok(());
    }
    if let Item::Ctl(c) = &item {
        let (state, task) = {
            let i = p.inner.lock();
            (i.state, i.task.clone())
        };
        match c.op {
            mig::ctl::GO_HOME if p.home != sh.self_id() => {
                if let Some(t) = task {
                    request_guest_home(sh, &p, &t, "its home node asked");
                } else {
                    p.inner.lock().go_home = true;
                }
                return Ok(());
            }
            mig::ctl::STOPPED if p.home == sh.self_id() => {
                if let Some(t) = task {
                    if !t.is_stopped() {
                        p.inner.lock().stopped = true;
                        let _ = t.send_signal(19);
                    }
                }
                return Ok(());
            }
            mig::ctl::SIGNAL if p.home != sh.self_id() => {
                if let Some(t) = task {
                    // Under the lock `check_stops` reads the stop state with: a SIGCONT ends
                    // the home's stop before a later look could report it as the guest's own.
                    let mut i = p.inner.lock();
                    let _ = t.send_signal(c.arg as i32);
                    match c.arg {
                        19 => i.home_stop = true,
                        18 => i.home_stop = false,
                        _ => {}
                    }
                }
                return Ok(());
            }
            mig::ctl::KILL if p.home != sh.self_id() => {
                p.set_state(|i| i.finished = true);
                if let Some(t) = task {
                    let _ = t.send_signal(SIGKILL);
                }
                if state != pstate::GUEST {
                    sh.mig.remove(&p);
                }
                return Ok(());
            }
            _ => {}
        }
    }
    p.push(item)
}

/// Reads a NUL-terminated user string (with its NUL) of at most `PATH_MAX` bytes into `out`.
fn read_user_str(addr: u64, out: &mut KVec<u8>) -> core::result::Result<(), i64> {
    let mut a = addr;
    let mut chunk = [0u8; 256];
    loop {
        let n = (256 - (a as usize % 256)).min(256);
        if UserSlice::new(a as usize, n)
            .reader()
            .read_slice(&mut chunk[..n])
            .is_err()
        {
            return Err(EFAULT_RET);
        }
        let end = chunk[..n].iter().position(|&c| c == 0);
        let take = end.map_or(n, |e| e + 1);
        out.extend_from_slice(&chunk[..take], GFP_KERNEL)
            .map_err(|_| -12i64)?;
        if out.len() > syscalls::PATH_MAX {
            return Err(ENAMETOOLONG_RET);
        }
        if end.is_some() {
            return Ok(());
        }
        a += n as u64;
    }
}

/// A guest's forwarded system call: marshals its input buffers, sends it to the deputy, waits
/// for the answer and copies the output buffers back. Returns the call's result.
fn forward(sh: &Shared, p: &Proc, nr: u64, args: &[u64; 6], f: &syscalls::Forward) -> i64 {
    // Chunked calls (write): split a large buffer into several forwarded calls.
    if let (true, Some(li)) = (
        f.chunked,
        f.args.iter().find_map(|a| match a {
            Arg::In(n) => Some(*n as usize),
            _ => None,
        }),
    ) {
        let total = args[li];
        let bi = f
            .args
            .iter()
            .position(|a| matches!(a, Arg::In(_)))
            .unwrap_or(1);
        if total > mig::MAX_SYS_DATA as u64 && args[bi] != 0 {
            let mut done = 0u64;
            while done < total {
                let n = (total - done).min(mig::MAX_SYS_DATA as u64);
                let mut a = *args;
                a[bi] = args[bi] + done;
                a[li] = n;
                let r = forward_one(sh, p, nr, &a, f);
                if r < 0 {
                    return if done > 0 { done as i64 } else { r };
                }
                done += r as u64;
                if (r as u64) < n {
                    break;
                }
            }
            return done as i64;
        }
    }
    forward_one(sh, p, nr, args, f)
}

/// `readv`, `writev`, `preadv`, `pwritev`: gathers the iovecs into one buffer (or scatters the
/// answer), forwarding the plain call.
fn forward_vectored(sh: &Shared, p: &Proc, args: &[u64; 6], v: &syscalls::Vectored) -> i64 {
    let off = v.offset_arg.map_or(0, |a| args[a as usize]);
    gather_call(sh, p, v.plain, v.input, args[0], args[1], args[2], off)
}

/// `sendmsg`/`recvmsg` of a guest: without an address and control data they are `sendto`/
/// `recvfrom` over the gathered iovecs (`Some(result)`); otherwise `None`: the process goes home
/// for the call. recvmsg then reports no flags and no control data, as a stream socket does.
fn forward_msg(sh: &Shared, p: &Proc, args: &[u64; 6], send: bool) -> Option<i64> {
    // struct user_msghdr: name, namelen (+pad), iov, iovlen, control, controllen, flags.
    let mut m = [0u8; 56];
    if UserSlice::new(args[1] as usize, m.len())
        .reader()
        .read_slice(&mut m)
        .is_err()
    {
        return Some(EFAULT_RET);
    }
    let word = |at: usize| {
        let mut w = [0u8; 8];
        crate::proto::copy(&mut w, &m[at..at + 8]);
        u64::from_ne_bytes(w)
    };
    let (name, iov, iovlen, control, controllen) =
        (word(0), word(16), word(24), word(32), word(40));
    if name != 0 || (control != 0 && controllen != 0) {
        return None;
    }
    let plain = if send {
        syscalls::nr::SENDTO
    } else {
        syscalls::nr::RECVFROM
    };
    let r = gather_call(sh, p, plain, send, args[0], iov, iovlen, args[2]);
    if !send && r >= 0 {
        // msg_controllen = 0, msg_flags = 0, as the kernel writes them back.
        let zero = [0u8; 8];
        let mut w = UserSlice::new(args[1] as usize + 40, 12).writer();
        if w.write_slice(&zero).is_err() || w.write_slice(&zero[..4]).is_err() {
            return Some(EFAULT_RET);
        }
    }
    Some(r)
}

/// Forwards the plain call `plain(fd, buf, len, fourth)` over the `cnt` iovecs at `iov`,
/// gathered into one buffer (`input`: the call reads it) or scattered from it afterwards.
/// Errors: EINVAL for more than 1024 iovecs, EFAULT for an unreadable iovec or buffer.
#[allow(clippy::too_many_arguments)]
fn gather_call(
    sh: &Shared,
    p: &Proc,
    plain: u64,
    input: bool,
    fd: u64,
    iov: u64,
    cnt: u64,
    fourth: u64,
) -> i64 {
    const IOV_MAX: u64 = 1024;
    if cnt > IOV_MAX {
        return -22;
    }
    let mut vecs = KVec::new();
    let mut total = 0u64;
    for k in 0..cnt {
        let mut e = [0u8; 16];
        if UserSlice::new((iov + 16 * k) as usize, 16)
            .reader()
            .read_slice(&mut e)
            .is_err()
        {
            return EFAULT_RET;
        }
        let base = u64::from_ne_bytes([e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7]]);
        let len = u64::from_ne_bytes([e[8], e[9], e[10], e[11], e[12], e[13], e[14], e[15]]);
        // Beyond one frame the call is short, as a read or write may be.
        let len = len.min(mig::MAX_SYS_DATA as u64 - total);
        if vecs.push((base, len), GFP_KERNEL).is_err() {
            return -12;
        }
        total += len;
    }
    let mut buf = KVec::new();
    if buf.extend_with(total as usize, 0u8, GFP_KERNEL).is_err() {
        return -12;
    }
    if input {
        let mut at = 0usize;
        for &(base, len) in vecs.iter() {
            let n = len as usize;
            if n > 0
                && UserSlice::new(base as usize, n)
                    .reader()
                    .read_slice(&mut buf[at..at + n])
                    .is_err()
            {
                return EFAULT_RET;
            }
            at += n;
        }
    }
    let call = [fd, 0, total, fourth, 0, 0];
    let dir = if input { Arg::In(2) } else { Arg::Out(2) };
    let f = syscalls::Forward {
        args: [Arg::Val, dir, Arg::Val, Arg::Val, Arg::Val, Arg::Val],
        oneway: false,
        chunked: false,
    };
    let r = marshal_call(sh, p, plain, &call, &f, Some(&mut buf));
    if !input && r > 0 {
        let mut at = 0usize;
        let end = (r as usize).min(buf.len());
        for &(base, len) in vecs.iter() {
            if at >= end {
                break;
            }
            let n = (len as usize).min(end - at);
            if UserSlice::new(base as usize, n)
                .writer()
                .write_slice(&buf[at..at + n])
                .is_err()
            {
                return EFAULT_RET;
            }
            at += n;
        }
    }
    r
}

fn forward_one(sh: &Shared, p: &Proc, nr: u64, args: &[u64; 6], f: &syscalls::Forward) -> i64 {
    marshal_call(sh, p, nr, args, f, None)
}

/// Marshals and forwards one call. With `inline`, the call's single buffer argument is that
/// kernel buffer instead of process memory (vectored calls).
fn marshal_call(
    sh: &Shared,
    p: &Proc,
    nr: u64,
    args: &[u64; 6],
    f: &syscalls::Forward,
    mut inline: Option<&mut KVec<u8>>,
) -> i64 {
    let mut a = *args;
    if let Some(b) = inline.as_deref() {
        // A non-NULL placeholder: the plan then has the buffer.
        a[1] = 1;
        a[2] = b.len() as u64;
    }
    let plan = match syscalls::plan(f, &a) {
        Ok(pl) => pl,
        Err(e) => return e,
    };
    for &(i, v) in &plan.caps[..plan.ncaps] {
        a[i as usize] = v;
    }
    let mut data = KVec::new();
    for b in &plan.bufs[..plan.n] {
        let ptr = args[b.arg as usize];
        if b.str {
            if let Err(e) = read_user_str(ptr, &mut data) {
                return e;
            }
        } else if b.in_len > 0 {
            let at = data.len();
            let n = b.in_len as usize;
            if data.extend_with(n, 0u8, GFP_KERNEL).is_err() {
                return -12;
            }
            match inline.as_deref() {
                Some(src) => crate::proto::copy(&mut data[at..], &src[..n.min(src.len())]),
                None => {
                    if UserSlice::new(ptr as usize, n)
                        .reader()
                        .read_slice(&mut data[at..])
                        .is_err()
                    {
                        return EFAULT_RET;
                    }
                }
            }
        }
    }
    if data.len() > mig::MAX_SYS_DATA {
        return -7; // E2BIG: the inputs do not fit one frame
    }
    let mut hdr = [0u8; mig::SYSCALL_HDR_LEN];
    mig::Syscall::encode_header(p.token, nr as u32, &a, &mut hdr);
    bump(&sh.mig.stats.forwarded);
    p.inner.lock().forwarded += 1;
    if sh
        .send_to(p.home, MsgType::Syscall, &[&hdr, &data])
        .is_err()
    {
        return -5; // EIO: the home node is unreachable
    }
    if f.oneway {
        return 0;
    }
    let sent_us = sys::monotonic_us();
    let (result, reply) = loop {
        match p.pop(0, false) {
            Ok(Item::Reply { result, data }) => break (result, data),
            Ok(Item::Ctl(c)) if c.op == mig::ctl::GONE => return -5,
            Ok(_) => continue,
            Err(_) => return -4, // EINTR: only a fatal signal gets here; the task is ending
        }
    };
    sh.mig
        .stats
        .forward_wait_us
        .fetch_add(sys::monotonic_us() - sent_us, Ordering::Relaxed);
    let mut at = 0usize;
    for b in &plan.bufs[..plan.n] {
        let n = b.back(result) as usize;
        if n == 0 {
            continue;
        }
        if at + n > reply.len() {
            return -5;
        }
        match inline.as_deref_mut() {
            Some(dst) => {
                let m = n.min(dst.len());
                crate::proto::copy(&mut dst[..m], &reply[at..at + m]);
            }
            None => {
                if UserSlice::new(args[b.arg as usize] as usize, n)
                    .writer()
                    .write_slice(&reply[at..at + n])
                    .is_err()
                {
                    return EFAULT_RET;
                }
            }
        }
        at += n;
    }
    result
}

/// The deputy runs a forwarded call: copies its inputs into scratch memory, points the
/// arguments there and records where the outputs will be. Errors (a negative errno answered to
/// the remote): a call that is not forwarded, or buffers that disagree with the plan.
fn prepare_call(
    scratch: u64,
    nr: u64,
    args: &mut [u64; 6],
    data: &[u8],
) -> core::result::Result<InFlight, i64> {
    let f = match syscalls::classify(nr, args) {
        Class::Forward(f) if !f.oneway || f.args == [Arg::Val; 6] => f,
        // readv/writev arrive as read/write; anything else is not the deputy's to run.
        _ => return Err(-38), // ENOSYS
    };
    let plan = syscalls::plan(&f, args)?;
    if plan.ncaps != 0 {
        return Err(-22); // the remote caps lengths before forwarding
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
            let e = data[at..].iter().position(|&c| c == 0).ok_or(EFAULT_RET)?;
            e as u64 + 1
        } else {
            u64::from(b.in_len)
        };
        let size = in_len.max(u64::from(b.out_cap));
        if off + size > SCRATCH {
            return Err(EFAULT_RET);
        }
        if in_len > 0 {
            let end = at + in_len as usize;
            if end > data.len() {
                return Err(EFAULT_RET);
            }
            UserSlice::new((scratch + off) as usize, in_len as usize)
                .writer()
                .write_slice(&data[at..end])
                .map_err(|_| EFAULT_RET)?;
            at = end;
        }
        fl.outs[fl.nouts] = (off, u64::from(b.out_cap), false);
        fl.nouts += 1;
        args[b.arg as usize] = scratch + off;
        off += (size + 15) & !15;
    }
    if at != data.len() {
        return Err(EFAULT_RET);
    }
    Ok(fl)
}

fn send_reply(sh: &Shared, p: &Proc, result: i64, out: &[u8]) {
    let mut hdr = [0u8; mig::SYSREPLY_HDR_LEN];
    mig::SysReply::encode_header(p.token, result, &mut hdr);
    let where_ = p.inner.lock().where_;
    let _ = sh.send_to(where_, MsgType::SysReply, &[&hdr, out]);
}

/// The deputy's system-call entry: report the result of the call it just ran, then wait for
/// the next forwarded call, the process coming home, or its end.
fn deputy_enter(sh: &Arc<Shared>, p: &Arc<Proc>, regs: &mut SyscallRegs) -> bool {
    if regs.nr() == DEPUTY_SIGNAL {
        // The stub's handler: a signal for the process arrived at home. The remote delivers it
        // with the process's own handlers, mask and flags.
        let sig = regs.args()[0];
        let (where_, dfl_stops, stub) = {
            let i = p.inner.lock();
            (i.where_, i.dfl_stops, i.stub)
        };
        if (20..=22).contains(&sig) && dfl_stops & (1 << (sig - 1)) != 0 {
            // A terminal stop signal at its default action: stop here as the kernel decides
            // at home; `check_stops` then stops the guest. SIGCONT re-arms the handler.
            uctx::set_default_action(sig as u32);
            let _ = TaskRef::current().send_signal(sig as i32);
        } else if (1..=64).contains(&sig) {
            if sig == 18 {
                for sg in [20u32, 21, 22] {
                    if dfl_stops & (1 << (sg - 1)) != 0 {
                        uctx::set_catch_action(sg, stub + STUB_HANDLER, stub + STUB_RESTORER);
                    }
                }
            }
            let _order = p.signal_order.lock();
            let _ = send_ctl(sh, where_, p.token, mig::ctl::SIGNAL, sig as u32);
            bump(&sh.mig.stats.signals);
        }
        regs.set_result(0);
        return true;
    }
    if regs.nr() != DEPUTY_CALL {
        // The restart of an interrupted forwarded call: let it run again.
        return false;
    }
    let (fl, scratch) = {
        let mut i = p.inner.lock();
        (i.in_flight.take(), i.scratch)
    };
    if let Some(fl) = fl {
        let result = regs.args()[0] as i64;
        let mut out = KVec::new();
        if result >= 0 {
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
        }
        send_reply(sh, p, result, &out);
        sh.mig
            .stats
            .serve_us
            .fetch_add(sys::monotonic_us() - fl.taken_us, Ordering::Relaxed);
    }
    loop {
        let item = match p.pop(0, true) {
            Ok(it) => it,
            Err(e) if e == ESRCH => {
                // Killed at home: end the remote too.
                let where_ = p.inner.lock().where_;
                let _ = send_ctl(sh, where_, p.token, mig::ctl::KILL, SIGKILL as u32);
                regs.set_result(0);
                return true;
            }
            Err(_) => {
                // A stop or another signal: let the kernel handle it; the stub comes back.
                regs.set_result(0);
                return true;
            }
        };
        match item {
            Item::Syscall { nr, args, data } => {
                bump(&sh.mig.stats.served);
                let taken_us = sys::monotonic_us();
                let mut a = args;
                match prepare_call(scratch, u64::from(nr), &mut a, &data) {
                    Ok(mut fl) => {
                        fl.taken_us = taken_us;
                        p.inner.lock().in_flight = Some(fl);
                        regs.set_call(u64::from(nr), &a);
                        return false;
                    }
                    Err(e) => send_reply(sh, p, e, &[]),
                }
            }
            Item::State(buf) => {
                let r = install(sh, p, &buf, true);
                let status = r.err().unwrap_or(0);
                let where_ = p.inner.lock().where_;
                let a = mig::Answer {
                    token: p.token,
                    status,
                    pid: p.home_pid as u32,
                };
                let _ = sh.send_to(where_, MsgType::MigAnswer, &[&a.encode()]);
                if status != 0 {
                    pr_err!(
                        "migration: process {} could not come home; ending it\n",
                        p.home_pid
                    );
                    let _ = TaskRef::current().send_signal(SIGKILL);
                    regs.set_result(0);
                    return true;
                }
                bump(&sh.mig.stats.home);
                TaskRef::current().set_migrated(false);
                let next = {
                    let mut i = p.inner.lock();
                    i.state = pstate::HOME;
                    i.where_ = sh.self_id();
                    i.nmigs += 1;
                    i.epoch += 1;
                    i.stub = 0;
                    i.scratch = 0;
                    core::mem::take(&mut i.next)
                };
                p.cv.notify_all();
                if next != 0 {
                    let mut req = 0;
                    p.set_state(|i| {
                        i.state = pstate::MIGRATING;
                        i.cancelled = false;
                        i.started = false;
                        i.req += 1;
                        req = i.req;
                    });
                    let (sh2, p2) = (sh.clone(), p.clone());
                    let _ = TaskRef::current().add_work(move || migrate_out(&sh2, &p2, next, req));
                }
                return true;
            }
            Item::Ctl(c) if c.op == mig::ctl::GONE => {
                // The process ended on the remote node: end the same way here, so that the
                // parent's wait() sees the signal that ended it.
                p.set_state(|i| i.finished = true);
                let sig = match c.arg & 0x7f {
                    0 => SIGKILL as u32,
                    s => s,
                };
                // Signals whose default action stops or ignores cannot end the deputy.
                let sig = if matches!(sig, 17..=23 | 28) {
                    SIGKILL as u32
                } else {
                    sig
                };
                uctx::set_default_action(sig);
                let _ = TaskRef::current().send_signal(sig as i32);
                regs.set_result(0);
                return true;
            }
            _ => {}
        }
    }
}

/// A guest's system-call entry: the first one installs the image; then each call runs here,
/// is forwarded, or sends the process home.
fn guest_enter(sh: &Arc<Shared>, p: &Arc<Proc>, regs: &mut SyscallRegs) -> bool {
    let state = p.inner.lock().state;
    if state == pstate::MIGRATING {
        let r = match p.pop(STEP_MS, false) {
            Ok(Item::State(buf)) => install(sh, p, &buf, false),
            _ => Err(cantmove::TARGET_FAILED),
        };
        let status = r.err().unwrap_or(0);
        let a = mig::Answer {
            token: p.token,
            status,
            pid: uctx::pid() as u32,
        };
        let sent = sh.send_to(p.home, MsgType::MigAnswer, &[&a.encode()]);
        let go = status == 0
            && sent.is_ok()
            && matches!(p.pop(STEP_MS, false), Ok(Item::Ctl(c)) if c.op == mig::ctl::GO);
        if !go {
            p.set_state(|i| i.finished = true);
            sh.mig.remove(p);
            let _ = TaskRef::current().send_signal(SIGKILL);
            return true;
        }
        bump(&sh.mig.stats.guests);
        let pending_home = {
            let mut i = p.inner.lock();
            i.state = pstate::GUEST;
            i.nmigs += 1;
            i.epoch += 1;
            core::mem::take(&mut i.go_home)
        };
        p.cv.notify_all();
        if pending_home {
            go_home(sh, p, None);
        }
        return true;
    }
    if p.inner.lock().finished {
        return false;
    }
    let nr = regs.nr();
    let args = regs.args();
    match syscalls::classify(nr, &args) {
        Class::Local => false,
        Class::Forward(f) => {
            if f.oneway {
                let _ = forward(sh, p, nr, &args, &f);
                p.set_state(|i| i.finished = true);
                sh.mig.remove(p);
                return false; // exit here too
            }
            let r = forward(sh, p, nr, &args, &f);
            regs.set_result(r);
            true
        }
        Class::Vectored(v) => {
            let r = forward_vectored(sh, p, &args, &v);
            regs.set_result(r);
            true
        }
        Class::Msg(send) => {
            if let Some(r) = forward_msg(sh, p, &args, send) {
                regs.set_result(r);
            } else {
                call_at_home(sh, p, regs);
            }
            true
        }
        Class::Home => {
            call_at_home(sh, p, regs);
            true
        }
    }
}

/// The process goes home to make the system call it is in (the call is rewound: it runs again
/// there).
fn call_at_home(sh: &Arc<Shared>, p: &Arc<Proc>, regs: &mut SyscallRegs) {
    regs.rewind();
    match uctx::regs() {
        Ok(r) => go_home(sh, p, Some(&r)),
        Err(_) => go_home(sh, p, None),
    }
}

/// The hooks registered with the kernel.
pub(crate) struct Ops {
    pub(crate) sh: Arc<Shared>,
}

impl MigrationOps for Ops {
    fn syscall_enter(&self, regs: &mut SyscallRegs) -> bool {
        let me = TaskRef::current();
        let Some(p) = self.sh.mig.by_task(&me) else {
            // Not ours any more (a record dropped at unload): run normally from now on.
            me.set_migrated(false);
            return false;
        };
        if p.home == self.sh.self_id() {
            deputy_enter(&self.sh, &p, regs)
        } else {
            guest_enter(&self.sh, &p, regs)
        }
    }

    fn task_exit(&self, task: &TaskRef, code: i64) {
        let Some(p) = self.sh.mig.by_task(task) else {
            return;
        };
        let (state, finished, where_) = {
            let i = p.inner.lock();
            (i.state, i.finished, i.where_)
        };
        if p.home == self.sh.self_id() {
            if state == pstate::DEPUTY && !finished {
                let _ = send_ctl(&self.sh, where_, p.token, mig::ctl::KILL, SIGKILL as u32);
            }
        } else if !finished {
            let _ = send_ctl(&self.sh, p.home, p.token, mig::ctl::GONE, code as u32);
        }
        p.set_state(|i| {
            i.finished = true;
            i.task = None;
        });
        self.sh.mig.remove(&p);
    }
}
