// SPDX-License-Identifier: GPL-2.0
//! The per-process record ([`Proc`]) and the registry of the processes this node knows.

use crate::kapi::uctx::FileArea;
use crate::proto::cputime::Cpu;
use crate::proto::status::Status;
use kernel::prelude::*;
use kernel::sync::{new_condvar, new_mutex, Arc, CondVar, Mutex};

use crate::kapi::task::{self, TaskRef};
use crate::kapi::{errno, sys};
use crate::proto::flow;
use crate::proto::mig::{self as wire, Ctl, End, Vma};
use crate::uapi::pstate;

use super::deputy::InFlight;
use super::imagefiles::HeldFiles;
use super::MigResult;
use super::STEP_MS;
use crate::uapi::COMM_LEN;
use crate::wait::{wait_until, WaitEnd};

/// Most processes one node tracks (local records, deputies and guests together).
pub(super) const MAX_PROCS: usize = 256;
/// Queue depth of one process's inbox: more than an image stream's window
/// ([`flow::WINDOW`]), so a full inbox is a peer that ignored flow control ([`Proc::push`]).
pub(super) const INBOX: usize = 16;
const _: () = assert!(flow::WINDOW as usize + 2 <= INBOX);

/// Something that arrived for a process, in arrival order.
pub(super) enum Item {
    Answer(wire::Answer),
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
    /// Bytes of the next reply's answer, ahead of it (`SysData`).
    Data(KVVec<u8>),
    Ctl(Ctl),
    Signal(crate::proto::signal::Signal),
    /// A file the image maps (`MigFile`): its index, `prot`, hash and path (with its NUL).
    File {
        index: u32,
        prot: u32,
        hash: [u8; crate::proto::files::HASH_LEN],
        path: KVec<u8>,
    },
}

/// What a process is on this node. Each role carries the fields only it has, so that (for
/// example) a deputy's stub cannot be set on a guest.
// The deputy's fields sit inline: a `Role` lives inside its process's record, which is
// allocated once, so boxing them would only add an allocation that can fail mid-migration.
#[allow(clippy::large_enum_variant)]
pub(super) enum Role {
    /// At home and running here: never migrated, or back home (`pstate::HOME`).
    Home,
    /// At home, a migration away requested or under way (`pstate::MIGRATING`).
    Leaving,
    /// At home while the process runs on another node: this task is its deputy
    /// (`pstate::DEPUTY`).
    Deputy(Deputy),
    /// On the target of a migration, its image not installed yet (`pstate::MIGRATING`).
    Arriving {
        /// Its home asked it to come back before the image was installed.
        go_home: bool,
    },
    /// Running here, away from its home node (`pstate::GUEST`).
    Guest(Guest),
}

/// What only a deputy has.
pub(super) struct Deputy {
    /// Address of the stub the deputy waits in (`deputy::STUB`).
    pub(super) stub: u64,
    /// Address of its scratch memory for marshalled buffers (`deputy::SCRATCH` bytes).
    pub(super) scratch: u64,
    /// The forwarded call it is running.
    pub(super) in_flight: Option<InFlight>,
    /// Terminal stop signals (SIGTSTP, SIGTTIN, SIGTTOU) the process left at their default
    /// action (`signo::bit`). The deputy stops for them itself, as the kernel decides at home (a
    /// process in an orphaned process group is not stopped).
    pub(super) dfl_stops: u64,
    /// The forwarded fork it runs: the token its guest chose for the child
    /// ([`super::fork::take_home_fork`]).
    pub(super) fork_token: Option<u64>,
    /// That child could not be given a record (it was killed; the fork fails).
    pub(super) fork_failed: bool,
    /// The memory it mapped to show its process's arguments and environment at home
    /// ([`super::out::Args::show`]): start and length. An exec where the process runs replaces
    /// it.
    pub(super) args_area: Option<(u64, u64)>,
    /// The files its guest named on its way home, kept between the deputy's returns to user
    /// mode (a signal handled at home between the names and the State): [`HeldFiles`].
    pub(super) held: HeldFiles,
    /// The file its guest reads ahead of, as the last fill left it ([`super::readahead`]).
    pub(super) read_ahead: Option<super::readahead::Watch>,
}

/// A guest's child being made ([`super::fork`]): its record (its deputy forked at home) and
/// where its pid goes for `CLONE_CHILD_SETTID` (0: nowhere).
pub(super) struct Forking {
    pub(super) child: Arc<Proc>,
    pub(super) child_tid: u64,
    /// The call the process made (number, arguments, ip after its `syscall`): the hook ran a
    /// `clone` in its place, whose registers are put back in parent and child.
    pub(super) call: (u64, [u64; 6], u64),
}

/// What only a guest has.
#[derive(Default)]
pub(super) struct Guest {
    /// Its go-home found it inside the vDSO; `relay_stops` asks again (within 100 ms).
    pub(super) home_retry: bool,
    /// The home node stopped this process (SIGSTOP sent by its `relay_stops`); the stop it
    /// causes is not reported back. Cleared when the stop is seen or SIGCONT arrives.
    pub(super) home_stop: bool,
    /// System calls it forwarded to its deputy (the balancer's I/O measure).
    pub(super) forwarded: u64,
    /// It waits for the reply to a forwarded call: a move asked for now interrupts that call
    /// at home (`MigCtl` INTERRUPT, see `request::request_guest_home`).
    pub(super) calling: bool,
    /// Its fork call is under way: the child's record, claimed by the fork hook.
    pub(super) forking: Option<Forking>,
    /// The bytes it read ahead of a file ([`super::readahead`]), when it is not reading.
    pub(super) read_ahead: Option<super::readahead::Cache>,
    /// Counts home's READ_DROP and the signals from home: read-ahead taken before the last
    /// one is not used.
    pub(super) ra_gen: u64,
    /// What descriptors are at home, as its deputy said (`proto::readahead::FD_KIND`): slot
    /// `fd % 4` holds `(fd + 1, kind)`, or zeros. Cleared by any call that may change them.
    pub(super) fd_kinds: [(u64, i64); 4],
}

impl Role {
    /// The `uapi::pstate` value the tools see for this role.
    pub(super) fn pstate(&self) -> u32 {
        match self {
            Role::Home => pstate::HOME,
            Role::Leaving | Role::Arriving { .. } => pstate::MIGRATING,
            Role::Deputy(_) => pstate::DEPUTY,
            Role::Guest(_) => pstate::GUEST,
        }
    }
}

/// The mutable part of a process's record, under [`Proc::inner`].
pub(super) struct Inner {
    /// What the process is here.
    pub(super) role: Role,
    /// The node it runs on (home side: the remote while away or leaving; here: this node).
    pub(super) where_: u32,
    /// Migrations so far.
    pub(super) nmigs: u32,
    /// Home side: locked against automatic moves.
    pub(super) lock: bool,
    /// Its run mode (`uapi::run` flags, `MOSIX_IOC_RUNMODE`), which its children inherit, and
    /// the node of `run::NODE`.
    pub(super) run: u32,
    pub(super) run_node: u32,
    /// Its task here (the process or its deputy at home, the guest's task here).
    pub(super) task: Option<TaskRef>,
    /// Local pid of the task (shell pid on a guest's node).
    pub(super) pid: i32,
    /// Its command name.
    pub(super) comm: [u8; COMM_LEN],
    /// Its real uid and gid.
    pub(super) uid: u32,
    pub(super) gid: u32,
    /// What arrived for it and was not taken yet: a ring of `len` items from `head`.
    pub(super) inbox: [Option<Item>; INBOX],
    pub(super) head: usize,
    pub(super) len: usize,
    /// Home side: result of the last migration request (for the ioctl waiting on it).
    pub(super) result: Option<MigResult>,
    /// Bumped whenever `result` or `role` changes.
    pub(super) epoch: u64,
    /// Home side: a pending migration request was withdrawn.
    pub(super) cancelled: bool,
    /// Home side: the process reached its safe point and the request is being carried out.
    pub(super) started: bool,
    /// Home side: number of the current migration request (a withdrawn request's task work may
    /// still run later: it then finds a different number and does nothing).
    pub(super) req: u64,
    /// Home side: after coming home, go on to this node (0: stay).
    pub(super) next: u32,
    /// The process ended or left; do not report it to the other node again.
    pub(super) finished: bool,
    /// Since when (monotonic ms) the node this process depends on is unreachable (0: it is not).
    pub(super) lost_since: u64,
    /// The local task was seen stopped (job control), and the other side was told.
    pub(super) stopped: bool,
    /// Sending an image: frames of it the receiver reported taken (`MigCtl CREDIT`).
    pub(super) credit: u32,
    /// While migrating: the node on the other side of the transfer is gone (`end_orphans`);
    /// every wait of the transfer ends with `EHOSTUNREACH`. Cleared by [`super::image::drain`].
    pub(super) peer_gone: bool,
    /// The CPU time the process had when it last left this node (home: what the remote adds to
    /// it is what it reports beyond this; [`crate::proto::cputime::Cpu::since`]).
    pub(super) cpu_left: Cpu,
    /// Home, while the process is away: its file mappings as it left (each holding its file
    /// open), mapped again when it comes home (`image::Arrival`).
    pub(super) files: KVec<FileArea>,
    /// Home, while the process is away: the last `MigStatus` its node sent (`/proc` at home
    /// shows it, [`super::hooks`]); cleared each time it leaves.
    pub(super) status: Option<Status>,
}

/// One process known to this node.
#[pin_data]
pub(crate) struct Proc {
    pub(super) token: u64,
    pub(super) home: u32,
    pub(super) home_pid: i32,
    #[pin]
    pub(super) inner: Mutex<Inner>,
    #[pin]
    pub(super) cv: CondVar,
    /// Deputy: held while a signal or stop for the process is decided and sent to its remote,
    /// so a SIGCONT forwarded by the deputy never overtakes the SIGSTOP `relay_stops` sends
    /// for the stop it ends.
    #[pin]
    pub(super) signal_order: Mutex<()>,
}

impl Inner {
    /// The deputy's part, if the process is away (this is its home).
    pub(super) fn deputy(&mut self) -> Option<&mut Deputy> {
        match &mut self.role {
            Role::Deputy(d) => Some(d),
            _ => None,
        }
    }

    /// The guest's part, if the process runs here away from home.
    pub(super) fn guest(&mut self) -> Option<&mut Guest> {
        match &mut self.role {
            Role::Guest(g) => Some(g),
            _ => None,
        }
    }

    /// Takes the oldest item of the inbox, if any.
    pub(super) fn take_item(&mut self) -> Option<Item> {
        if self.len == 0 {
            return None;
        }
        let it = self.inbox[self.head].take();
        self.head = (self.head + 1) % INBOX;
        self.len -= 1;
        it
    }
}

impl Proc {
    pub(super) fn new(token: u64, home: u32, home_pid: i32, role: Role) -> Result<Arc<Proc>> {
        let inner = Inner {
            role,
            where_: 0,
            nmigs: 0,
            lock: false,
            run: 0,
            run_node: 0,
            task: None,
            pid: 0,
            comm: [0; COMM_LEN],
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
            finished: false,
            lost_since: 0,
            stopped: false,
            credit: 0,
            peer_gone: false,
            cpu_left: Cpu::default(),
            files: KVec::new(),
            status: None,
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

    /// Queues an item for the process's task without waiting (the caller is a connection's
    /// receive thread). Every exchange leaves room: one call, reply or control message in
    /// flight at a time, images within [`flow::WINDOW`]. Errors: `ENOBUFS` when the inbox is
    /// full (the peer ignored flow control; the item is dropped).
    pub(super) fn push(&self, it: Item) -> Result {
        let mut g = self.inner.lock();
        if g.len >= INBOX {
            return Err(errno::enobufs());
        }
        let at = (g.head + g.len) % INBOX;
        g.inbox[at] = Some(it);
        g.len += 1;
        drop(g);
        self.cv.notify_all();
        Ok(())
    }

    /// Takes the next item, waiting at most `ms` (0: until one arrives or a fatal signal).
    /// Errors: `ETIMEDOUT`; `EINTR` when a signal is pending and `stop_on_signal`; `ESRCH` on a
    /// fatal signal; `EHOSTUNREACH` once the other node of a transfer is gone.
    pub(super) fn pop(&self, ms: u32, stop_on_signal: bool) -> Result<Item> {
        let it = self.wait(ms, stop_on_signal, Inner::take_item)?;
        self.cv.notify_all();
        Ok(it)
    }

    /// Sending an image: waits (at most [`STEP_MS`]) until frame number `n` (from 1) of the
    /// stream fits the receiver's window ([`flow::may_send`]). Errors: `ETIMEDOUT` (no credit:
    /// the receiver stalled), `EHOSTUNREACH` (it is gone), `ESRCH` on a fatal signal or when the
    /// process finished.
    pub(super) fn wait_credit(&self, n: u32) -> Result {
        self.wait(STEP_MS, false, |i| {
            if flow::may_send(n, i.credit) {
                Some(Ok(()))
            } else if i.finished {
                Some(Err(ESRCH))
            } else {
                None
            }
        })?
    }

    /// Starts counting the credit of a new image stream.
    pub(super) fn reset_credit(&self) {
        self.inner.lock().credit = 0;
    }

    /// Credit reported by the receiver of the image this process sends: `taken` frames.
    pub(super) fn add_credit(&self, taken: u32) {
        let mut g = self.inner.lock();
        g.credit = g.credit.max(taken);
        drop(g);
        self.cv.notify_all();
    }

    /// Waits at most `ms` (0: no limit but a fatal signal) until `ready` returns a value, as
    /// the process's task. Errors: `ETIMEDOUT`; `EINTR` when a signal is pending and
    /// `stop_on_signal` (other non-fatal signals are left for later); `ESRCH` on a fatal signal;
    /// `EHOSTUNREACH` once the other node of a transfer is gone (`Inner::peer_gone`).
    fn wait<R>(
        &self,
        ms: u32,
        stop_on_signal: bool,
        mut ready: impl FnMut(&mut Inner) -> Option<R>,
    ) -> Result<R> {
        let start = sys::monotonic_ms();
        let mut g = self.inner.lock();
        loop {
            let waited = sys::monotonic_ms().saturating_sub(start);
            let left = match ms {
                0 => 0,
                ms => u64::from(ms).saturating_sub(waited).max(1) as u32,
            };
            let r = wait_until(&self.cv, &mut g, left, 0, |i| {
                if let Some(r) = ready(i) {
                    Some(Ok(r))
                } else if i.peer_gone {
                    Some(Err(errno::ehostunreach()))
                } else if task::current_fatal_signal_pending() {
                    Some(Err(ESRCH))
                } else {
                    None
                }
            });
            match r {
                Ok(Ok(r)) => return Ok(r),
                Ok(Err(e)) => return Err(e),
                Err(WaitEnd::TimedOut) => return Err(errno::etimedout()),
                Err(WaitEnd::Signal) => {
                    if task::current_fatal_signal_pending() {
                        return Err(ESRCH);
                    }
                    if stop_on_signal {
                        return Err(EINTR);
                    }
                    // A non-fatal signal for a guest waiting on its deputy: it is handled when
                    // the call returns; do not spin.
                    drop(g);
                    sys::sleep_uninterruptible_ms(10);
                    g = self.inner.lock();
                }
            }
        }
    }

    pub(super) fn set_state(&self, f: impl FnOnce(&mut Inner)) {
        let mut g = self.inner.lock();
        f(&mut g);
        g.epoch += 1;
        drop(g);
        self.cv.notify_all();
    }

    pub(super) fn task(&self) -> Option<TaskRef> {
        self.inner.lock().task.clone()
    }
}

/// Whose records a [`Registry::insert`] cap counts.
#[derive(Clone, Copy)]
pub(super) enum Quota {
    /// Records of processes of this real uid (requests made on this node).
    User(u32),
    /// Records of guests whose home is this node (offers from a peer).
    Home(u32),
    /// Records of guests of any home node but this one (offers from peers).
    Guests(u32),
}

/// All processes this node knows about.
#[pin_data]
pub(crate) struct Registry {
    #[pin]
    pub(super) procs: Mutex<[Option<Arc<Proc>>; MAX_PROCS]>,
}

impl Registry {
    /// An empty registry.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Registry {
            procs <- new_mutex!(core::array::from_fn(|_| None), "oxmosix::procs"),
        })
    }

    pub(super) fn find(&self, f: impl Fn(&Proc) -> bool) -> Option<Arc<Proc>> {
        let g = self.procs.lock();
        g.iter().flatten().find(|p| f(p)).cloned()
    }

    pub(super) fn by_token(&self, token: u64) -> Option<Arc<Proc>> {
        self.find(|p| p.token == token)
    }

    pub(super) fn by_task(&self, t: &TaskRef) -> Option<Arc<Proc>> {
        let g = self.procs.lock();
        g.iter()
            .flatten()
            .find(|p| p.inner.lock().task.as_ref() == Some(t))
            .cloned()
    }

    /// The record of the process whose local pid is `pid`.
    pub(super) fn by_pid(&self, pid: i32) -> Option<Arc<Proc>> {
        let g = self.procs.lock();
        g.iter()
            .flatten()
            .find(|p| {
                let i = p.inner.lock();
                i.pid == pid && i.task.as_ref().is_some_and(|t| !t.is_exiting())
            })
            .cloned()
    }

    /// Adds record `p`. For each `(quota, n)` of `caps`, refuses (`EDQUOT`) when `n` live
    /// records of that [`Quota`] exist already. Errors: `ENOSPC` when the registry is full.
    pub(super) fn insert(&self, p: Arc<Proc>, caps: &[(Quota, usize)]) -> Result {
        let mut g = self.procs.lock();
        // Drop records of home processes that died (their tasks are not marked: no exit hook).
        for slot in g.iter_mut() {
            let dead = slot.as_ref().is_some_and(|q| {
                let i = q.inner.lock();
                matches!(i.role, Role::Home) && i.task.as_ref().map_or(true, |t| t.is_exiting())
            });
            if dead {
                *slot = None;
            }
        }
        for &(quota, n) in caps {
            let held = g
                .iter()
                .flatten()
                .filter(|q| match quota {
                    Quota::User(uid) => q.inner.lock().uid == uid,
                    Quota::Home(node) => q.home == node,
                    Quota::Guests(me) => q.home != me,
                })
                .count();
            if held >= n {
                return Err(errno::edquot());
            }
        }
        let free = g.iter_mut().find(|s| s.is_none()).ok_or(ENOSPC)?;
        *free = Some(p);
        Ok(())
    }

    /// Removes record `p`.
    pub(super) fn remove(&self, p: &Arc<Proc>) {
        let mut g = self.procs.lock();
        for slot in g.iter_mut() {
            if slot.as_ref().is_some_and(|q| Arc::ptr_eq(q, p)) {
                *slot = None;
            }
        }
    }

    pub(super) fn all(&self) -> Result<KVec<Arc<Proc>>> {
        let g = self.procs.lock();
        let mut v = KVec::new();
        for p in g.iter().flatten() {
            v.push(p.clone(), GFP_KERNEL)?;
        }
        Ok(v)
    }
}
