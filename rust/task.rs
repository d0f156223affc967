// SPDX-License-Identifier: GPL-2.0
//! Tasks: references to other tasks (by pid), their migration-relevant attributes, signals,
//! task work, and the migration mark (`patches/0003-entry-hooks-for-migrated-tasks.patch`).
//!
//! C header: `include/linux/sched.h`, `include/linux/sched/task.h`, `include/linux/task_work.h`,
//! `include/linux/pid.h`.

use core::ptr::{self, NonNull};

use kernel::alloc::{flags::GFP_KERNEL, KBox};
use kernel::bindings;
use kernel::ffi::c_int;
use kernel::prelude::*;
use kernel::task::Task;
use kernel::types::ARef;

use super::uctx::vma::for_each_vma;
use super::uctx::{vmf, UserCtx};

/// A counted reference to a task: the kernel crate's `ARef<Task>`, with the operations that
/// process migration needs.
///
/// # Invariants
///
/// Holds one reference on a valid `task_struct` (`get_task_struct`), put exactly once when the
/// `ARef` drops.
#[derive(Clone)]
pub(crate) struct TaskRef(ARef<Task>);

impl PartialEq for TaskRef {
    fn eq(&self, o: &Self) -> bool {
        self.ptr() == o.ptr()
    }
}

/// Scheduling policies that make a task ineligible for migration.
const RT_POLICIES: [u32; 3] = [
    bindings::SCHED_FIFO,
    bindings::SCHED_RR,
    bindings::SCHED_DEADLINE,
];

impl TaskRef {
    /// The `task_struct` of the task (valid while `self` lives, by the invariant).
    pub(super) fn ptr(&self) -> *mut bindings::task_struct {
        ptr::from_ref::<Task>(&self.0).cast_mut().cast()
    }

    /// The task with process id `pid` in the initial pid namespace, if it exists.
    pub(crate) fn from_pid(pid: i32) -> Option<TaskRef> {
        if pid <= 0 {
            return None;
        }
        // SAFETY: find_get_pid returns a counted struct pid or NULL.
        let p = unsafe { bindings::find_get_pid(pid) };
        if p.is_null() {
            return None;
        }
        // SAFETY: `p` is valid; get_pid_task returns a counted task or NULL.
        let t = unsafe { bindings::get_pid_task(p, bindings::pid_type_PIDTYPE_PID) };
        // SAFETY: we own the reference from find_get_pid.
        unsafe { bindings::put_pid(p) };
        // INVARIANT: get_pid_task took the reference the ARef now owns.
        // SAFETY: a non-NULL `t` is a valid task with a reference we own; `Task` is a transparent
        // wrapper of `task_struct`.
        NonNull::new(t.cast::<Task>()).map(|t| TaskRef(unsafe { ARef::from_raw(t) }))
    }

    /// The calling task.
    pub(crate) fn current() -> TaskRef {
        // SAFETY: the `current` guard is dropped at the end of this statement, while current runs;
        // `ARef::from` takes a reference of its own (INVARIANT).
        TaskRef(ARef::from(&*unsafe { Task::current() }))
    }

    /// Thread id (= process id for a single-threaded process) in the initial namespace.
    pub(crate) fn pid(&self) -> i32 {
        // SAFETY: `pid` never changes after the task is created.
        unsafe { (*self.ptr()).pid }
    }

    /// The task's name (`comm`), NUL padded.
    pub(crate) fn comm(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        // SAFETY: `b` has 16 bytes; __get_task_comm copies under task_lock.
        unsafe { bindings::__get_task_comm(b.as_mut_ptr().cast(), b.len(), self.ptr()) };
        b
    }

    fn flags(&self) -> u32 {
        // SAFETY: a plain read of a word the task updates itself; races only affect staleness.
        unsafe { ptr::read_volatile(ptr::addr_of!((*self.ptr()).flags)) }
    }

    /// A kernel thread (`PF_KTHREAD`).
    pub(crate) fn is_kthread(&self) -> bool {
        self.flags() & bindings::PF_KTHREAD != 0
    }

    /// Exiting (`PF_EXITING`) or already dead.
    pub(crate) fn is_exiting(&self) -> bool {
        // SAFETY: `exit_state` is a plain word; staleness is fine.
        let es = unsafe { ptr::read_volatile(ptr::addr_of!((*self.ptr()).exit_state)) };
        self.flags() & bindings::PF_EXITING != 0 || es != 0
    }

    /// Number of threads in the task's thread group (0 if it already released its signal struct).
    pub(crate) fn nr_threads(&self) -> i32 {
        // SAFETY: `signal` stays valid as long as we hold a task reference (it is freed with the
        // task_struct); nr_threads is read racily, as get_nr_threads() does.
        unsafe {
            let s = (*self.ptr()).signal;
            if s.is_null() {
                0
            } else {
                ptr::read_volatile(ptr::addr_of!((*s).nr_threads))
            }
        }
    }

    /// Stopped by a stop signal (`__TASK_STOPPED`).
    pub(crate) fn is_stopped(&self) -> bool {
        // SAFETY: a racy read of the state word, as /proc/PID/stat does.
        let st = unsafe { ptr::read_volatile(ptr::addr_of!((*self.ptr()).__state)) };
        st & bindings::__TASK_STOPPED != 0
    }

    /// Traced by ptrace.
    pub(crate) fn is_ptraced(&self) -> bool {
        // SAFETY: plain read of a word.
        unsafe { ptr::read_volatile(ptr::addr_of!((*self.ptr()).ptrace)) != 0 }
    }

    /// Real-time or deadline scheduling class.
    pub(crate) fn is_realtime(&self) -> bool {
        // SAFETY: plain read of a word.
        let p = unsafe { ptr::read_volatile(ptr::addr_of!((*self.ptr()).policy)) };
        RT_POLICIES.contains(&p)
    }

    /// Real uid and gid, effective uid (from the task's objective credentials).
    pub(crate) fn ids(&self) -> (u32, u32, u32) {
        // SAFETY: get_task_cred returns a counted reference to the task's real_cred.
        let c = unsafe { bindings::get_task_cred(self.ptr()) };
        // SAFETY: `c` is valid while we hold the reference.
        let ids = unsafe { ((*c).uid.val, (*c).gid.val, (*c).euid.val) };
        // SAFETY: drop the reference taken above (put_cred is inline; this is its body).
        unsafe { put_cred(c) };
        ids
    }

    /// The task's objective credentials as migration sees them ([`CredInfo`]).
    pub(crate) fn cred_info(&self) -> CredInfo {
        let mut ci = CredInfo::default();
        // SAFETY: get_task_cred returns a counted reference to the task's real_cred, valid until
        // the put below; its group_info is held by the cred and immutable once committed.
        unsafe {
            let c = bindings::get_task_cred(self.ptr());
            ci.uids = [(*c).uid.val, (*c).euid.val, (*c).suid.val, (*c).fsuid.val];
            ci.gids = [(*c).gid.val, (*c).egid.val, (*c).sgid.val, (*c).fsgid.val];
            ci.securebits = (*c).securebits;
            ci.caps = (*c).cap_inheritable.val
                | (*c).cap_permitted.val
                | (*c).cap_effective.val
                | (*c).cap_ambient.val;
            let gi = (*c).group_info;
            if !gi.is_null() {
                let n = (*gi).ngroups.max(0) as usize;
                ci.ngroups = n;
                let g = (*gi).gid.as_ptr();
                for k in 0..n.min(MAX_GROUPS) {
                    ci.groups[k] = (*g.add(k)).val;
                }
            }
            put_cred(c);
        }
        // SAFETY: `atomic_flags` is a word the kernel changes with atomic bit operations; a
        // relaxed atomic load of it is what test_bit() does.
        let flags = unsafe {
            (*ptr::addr_of!((*self.ptr()).atomic_flags).cast::<core::sync::atomic::AtomicU64>())
                .load(core::sync::atomic::Ordering::Relaxed)
        };
        ci.no_new_privs = flags & (1 << bindings::PFA_NO_NEW_PRIVS) != 0;
        ci
    }

    /// Sets the task's `no_new_privs` flag (`task_set_no_new_privs`; it is never cleared).
    pub(crate) fn set_no_new_privs(&self) {
        // SAFETY: as in `cred_info`; an atomic OR is set_bit().
        unsafe {
            (*ptr::addr_of!((*self.ptr()).atomic_flags).cast::<core::sync::atomic::AtomicU64>())
                .fetch_or(
                    1 << bindings::PFA_NO_NEW_PRIVS,
                    core::sync::atomic::Ordering::SeqCst,
                );
        }
    }

    /// Whether the task's memory is dumpable by its owner (`get_dumpable(mm) == SUID_DUMP_USER`,
    /// what `prctl(PR_GET_DUMPABLE)` reports); `true` for a task without memory.
    pub(crate) fn is_dumpable(&self) -> bool {
        // SAFETY: get_task_mm returns a counted mm (or NULL), released with mmput; the dumpable
        // bits of mm->flags are read as get_dumpable() does.
        unsafe {
            let mm = bindings::get_task_mm(self.ptr());
            if mm.is_null() {
                return true;
            }
            let f = (*ptr::addr_of!((*mm).__bindgen_anon_1.flags)
                .cast::<core::sync::atomic::AtomicU64>())
            .load(core::sync::atomic::Ordering::Relaxed);
            bindings::mmput(mm);
            f & u64::from(bindings::MMF_DUMPABLE_MASK) == u64::from(bindings::SUID_DUMP_USER)
        }
    }

    /// Whether the task runs under seccomp: strict mode or a filter (`task->seccomp.mode` is
    /// not `SECCOMP_MODE_DISABLED`). A mode, once set, is never cleared; a "no" may turn into
    /// a "yes" later, so callers check again where it matters (the migration's safe point).
    pub(crate) fn has_seccomp(&self) -> bool {
        // SAFETY: `self.ptr()` is valid (invariant). `seccomp.mode` is an aligned int that
        // seccomp_assign_mode() writes once under the task's siglock; a volatile read without
        // the lock sees the old or the new value (as READ_ONCE would).
        unsafe { ptr::read_volatile(ptr::addr_of!((*self.ptr()).seccomp.mode)) != 0 }
    }

    /// Whether a POSIX timer on a CPU clock of the task or its process is armed
    /// (`timer_create` on `CLOCK_PROCESS_CPUTIME_ID`, `CLOCK_THREAD_CPUTIME_ID` or a
    /// `clock_getcpuclockid` clock, then `timer_settime`): such timers live in the kernel's
    /// timer queues of the task and of its signal struct (`posix_cputimers`; the interval timers
    /// `ITIMER_PROF`/`ITIMER_VIRTUAL` are not queued there). They count CPU time at home, and
    /// a timer left at home would not see the process's CPU time away. Read without the
    /// sighand lock: a timer armed meanwhile is seen at the migration's safe point.
    pub(crate) fn has_cpu_timers(&self) -> bool {
        // SAFETY: `self.ptr()` is valid (invariant) and so is its signal struct, freed only with
        // the task; each queue head's leftmost pointer is read once (as READ_ONCE would) and
        // only compared with NULL.
        unsafe {
            let t = self.ptr();
            let queued = |c: *const bindings::posix_cputimers| {
                (0..3).any(|k| {
                    let head = ptr::addr_of!((*c).bases[k].tqhead.rb_root.rb_leftmost);
                    !ptr::read_volatile(head).is_null()
                })
            };
            queued(ptr::addr_of!((*t).posix_cputimers))
                || queued(ptr::addr_of!((*(*t).signal).posix_cputimers))
        }
    }

    /// Whether the task has a `signalfd` open: a descriptor whose file is the anonymous inode
    /// named `[signalfd]` (as `/proc/PID/fd` shows it, `anon_inode:[signalfd]`). The
    /// descriptors are walked as `/proc/PID/fd` walks them; one opened meanwhile may be
    /// missed, so callers check again where it matters (the migration's safe point).
    pub(crate) fn has_signalfd(&self) -> bool {
        let mut fd: core::ffi::c_uint = 0;
        loop {
            // SAFETY: `self.ptr()` is valid (invariant); task_lookup_next_fdget_rcu is called
            // under rcu_read_lock as it requires and returns a counted file (or NULL).
            let file = unsafe {
                bindings::rcu_read_lock();
                let f = bindings::task_lookup_next_fdget_rcu(self.ptr(), &mut fd);
                bindings::rcu_read_unlock();
                f
            };
            if file.is_null() {
                return false;
            }
            // SAFETY: `file` is counted until the fput below: its path's dentry, the dentry's
            // name (NUL-terminated) and its superblock stay valid while it is held.
            let found = unsafe {
                let d = (*file).f_path.dentry;
                let name = CStr::from_char_ptr((*d).d_name.name.cast());
                let magic = (*(*(*file).f_inode).i_sb).s_magic;
                let found = magic == bindings::ANON_INODE_FS_MAGIC as usize
                    && name.as_bytes() == b"[signalfd]";
                bindings::fput(file);
                found
            };
            if found {
                return true;
            }
            fd += 1;
        }
    }

    /// Whether the calling task may ptrace-attach to this task, as `ptrace(PTRACE_ATTACH)` would
    /// decide with the caller's real credentials (`ptrace_may_access` with
    /// `PTRACE_MODE_ATTACH_REALCREDS`, exported by `patches/0008`): same uid and gid (real,
    /// effective and saved) and a dumpable task, or `CAP_SYS_PTRACE` over its user namespace, and
    /// whatever the LSMs (Yama's `ptrace_scope`, ...) add. The kernel may record the check for
    /// auditing, as it does for ptrace.
    pub(crate) fn may_attach(&self) -> bool {
        // SAFETY: `self.ptr()` is valid (invariant); ptrace_may_access takes task_lock itself and
        // is called from process context (ioctl, /proc writes), where it may sleep in LSM hooks.
        unsafe {
            bindings::ptrace_may_access(
                self.ptr(),
                bindings::PTRACE_MODE_ATTACH | bindings::PTRACE_MODE_REALCREDS,
            )
        }
    }

    /// Whether the calling task may read this task's details, as it may read its `/proc/PID`
    /// files (`ptrace_may_access` with `PTRACE_MODE_READ_FSCREDS`, as procfs checks them).
    pub(crate) fn may_read(&self) -> bool {
        // SAFETY: as in `may_attach`.
        unsafe {
            bindings::ptrace_may_access(
                self.ptr(),
                bindings::PTRACE_MODE_READ | bindings::PTRACE_MODE_FSCREDS,
            )
        }
    }

    /// Scans the task's memory areas (outside the vDSO and its vvar area) for ones a migration
    /// cannot take: returns (writable shared mapping present, device mapping present). Writable
    /// shared anonymous memory that nothing else holds (`Vma::sole_shared_anon`)
    /// can move.
    /// `(false, false)` for a task without memory.
    pub(crate) fn vma_obstacles(&self) -> (bool, bool) {
        let (mut shared, mut device) = (false, false);
        // SAFETY: `self.ptr()` is valid (invariant); get_task_mm returns a counted mm or NULL.
        let mm = unsafe { bindings::get_task_mm(self.ptr()) };
        if mm.is_null() {
            return (false, false);
        }
        // SAFETY: `mm` is counted until the mmput below; `context.vdso` is set at exec and
        // read as /proc reads it.
        let vdso = unsafe { (*mm).__bindgen_anon_1.context.vdso as u64 };
        let vvar = vdso.wrapping_sub(super::uctx::vvar_size());
        let w = vmf::SHARED | vmf::MAYWRITE;
        // SAFETY: `mm` is counted until the mmput below.
        let _ = unsafe {
            for_each_vma(mm, |a| {
                let (start, end) = (a.start(), a.end());
                if start >= vvar && start <= vdso && end > vvar {
                    return Ok(());
                }
                let f = a.flags();
                let writable = f & vmf::WRITE != 0;
                shared |= f & w == w && !(writable && a.sole_shared_anon());
                device |= f & vmf::DEVICE != 0;
                Ok(())
            })
        };
        // SAFETY: the reference get_task_mm took.
        unsafe { bindings::mmput(mm) };
        (shared, device)
    }

    /// Queues `f` to run in the task's own context on its next return to user mode
    /// (`task_work_add` with `TWA_RESUME`: a running task gets there at its next interrupt or
    /// system call; a sleeping one when it wakes). `f` gets the task's [`UserCtx`], or `None` when
    /// the work runs from `do_exit` (the task was killed before it got back to user mode).
    /// Errors: `ESRCH` if the task is exiting, `ENOMEM`.
    pub(crate) fn add_work<F: FnOnce(Option<&UserCtx>) + Send + 'static>(&self, f: F) -> Result {
        self.queue_work(f, bindings::task_work_notify_mode_TWA_RESUME)
    }

    /// As [`add_work`](Self::add_work), but the task gets there now even if it sleeps
    /// (`TWA_SIGNAL`, as io_uring wakes its tasks): an interruptible wait ends as it would for a
    /// signal without a handler, and the system call is restarted after `f` ran (or is carried
    /// on with the process, see [`crate::kapi::uctx::restart`]). `f` runs from the signal code
    /// on the way to user mode, before any signal is delivered.
    pub(crate) fn add_work_interrupting<F: FnOnce(Option<&UserCtx>) + Send + 'static>(
        &self,
        f: F,
    ) -> Result {
        self.queue_work(f, bindings::task_work_notify_mode_TWA_SIGNAL)
    }

    fn queue_work<F: FnOnce(Option<&UserCtx>) + Send + 'static>(
        &self,
        f: F,
        mode: bindings::task_work_notify_mode,
    ) -> Result {
        let w = KBox::new(
            TaskWork {
                head: bindings::callback_head {
                    next: ptr::null_mut(),
                    func: Some(run_work::<F>),
                },
                f,
            },
            GFP_KERNEL,
        )?;
        let raw = KBox::into_raw(w);
        // SAFETY: `head` is the first field of a leaked box; `run_work` takes it back.
        let r =
            unsafe { bindings::task_work_add(self.ptr(), ptr::addr_of_mut!((*raw).head), mode) };
        if r != 0 {
            // SAFETY: not queued: we still own the box.
            drop(unsafe { KBox::from_raw(raw) });
            return Err(ESRCH);
        }
        Ok(())
    }

    /// Sends signal `sig` as the kernel (`send_sig` with priv = 1). Errors: `ESRCH`, `EINVAL`.
    pub(crate) fn send_signal(&self, sig: i32) -> Result {
        // SAFETY: `self.ptr()` is valid (invariant).
        let r = unsafe { bindings::send_sig(sig as c_int, self.ptr(), 1) };
        if r == 0 {
            Ok(())
        } else {
            Err(Error::from_errno(r))
        }
    }

    /// Sends the signal `info` describes, with that `siginfo` (`send_sig_info`). Errors: `ESRCH`,
    /// `EINVAL`, `EAGAIN` (a real-time signal beyond the receiver's `RLIMIT_SIGPENDING`).
    pub(crate) fn send_signal_info(&self, info: &crate::kapi::uctx::SigInfo) -> Result {
        let mut k = crate::kapi::uctx::to_kernel(info);
        // SAFETY: `self.ptr()` is valid (invariant); `k` is a valid siginfo.
        let r = unsafe { bindings::send_sig_info(info.signo as c_int, &mut k, self.ptr()) };
        if r == 0 {
            Ok(())
        } else {
            Err(Error::from_errno(r))
        }
    }

    /// How many times the task executed a new program (`self_exec_id`, bumped by every
    /// successful `execve`).
    pub(crate) fn exec_id(&self) -> u64 {
        // SAFETY: `self.ptr()` is valid (invariant); a racy read of a counter only the task
        // itself changes.
        unsafe { ptr::read_volatile(ptr::addr_of!((*self.ptr()).self_exec_id)) }
    }

    /// Marks or unmarks the task as migrated: its system calls and exit then go to the hooks
    /// registered with [`crate::kapi::migration`].
    pub(crate) fn set_migrated(&self, on: bool) {
        // SAFETY: `self.ptr()` is valid (invariant); the mark is an atomic bit.
        unsafe { bindings::task_migration_mark(self.ptr(), on) };
    }

    /// # Safety
    /// `t` must be a valid task.
    pub(crate) unsafe fn from_raw_get(t: *mut bindings::task_struct) -> TaskRef {
        // SAFETY: `t` is valid (the contract) and `Task` is a transparent wrapper of `task_struct`;
        // `ARef::from` takes a reference of its own (INVARIANT).
        TaskRef(ARef::from(unsafe { &*t.cast::<Task>() }))
    }
}

/// Most supplementary groups a migrating process may have (more: it cannot move).
pub(crate) const MAX_GROUPS: usize = 32;

/// A task's credentials as far as migration is concerned.
#[derive(Clone, Copy, Default)]
pub(crate) struct CredInfo {
    /// Real, effective, saved and filesystem uid (in the initial user namespace).
    pub(crate) uids: [u32; 4],
    /// Real, effective, saved and filesystem gid.
    pub(crate) gids: [u32; 4],
    /// `securebits`.
    pub(crate) securebits: u32,
    /// The inheritable, permitted, effective and ambient capability sets, OR'ed.
    pub(crate) caps: u64,
    /// Number of supplementary groups (may exceed [`MAX_GROUPS`]).
    pub(crate) ngroups: usize,
    /// The first [`MAX_GROUPS`] of them, sorted as the kernel keeps them.
    pub(crate) groups: [u32; MAX_GROUPS],
    /// `no_new_privs` is set.
    pub(crate) no_new_privs: bool,
}

/// # Safety
/// `c` must be a counted credential reference that the caller owns.
unsafe fn put_cred(c: *const bindings::cred) {
    // SAFETY: per the contract, `c` is valid. `usage` is an atomic_long_t (one aligned i64) that
    // the kernel only changes atomically, so viewing it as an AtomicI64 is sound; a SeqCst
    // decrement is the `atomic_long_dec_and_test` put_cred() does.
    let last = unsafe {
        let usage = &*ptr::addr_of!((*c).usage.counter).cast::<core::sync::atomic::AtomicI64>();
        usage.fetch_sub(1, core::sync::atomic::Ordering::SeqCst) == 1
    };
    if last {
        // SAFETY: we dropped the last reference.
        unsafe { bindings::__put_cred(c.cast_mut()) };
    }
}

#[repr(C)]
struct TaskWork<F> {
    head: bindings::callback_head,
    f: F,
}

/// # Safety
/// `head` must be the `head` of a `KBox<TaskWork<F>>` leaked by [`TaskRef::add_work`].
unsafe extern "C" fn run_work<F: FnOnce(Option<&UserCtx>) + Send + 'static>(
    head: *mut bindings::callback_head,
) {
    // SAFETY: `head` is the first field of a repr(C) TaskWork<F> box (per the contract).
    let w = unsafe { KBox::from_raw(head.cast::<TaskWork<F>>()) };
    let TaskWork { f, .. } = KBox::into_inner(w);
    // Task work runs in the task's own context: on its way back to user mode, or from `do_exit`
    // after its memory map is gone (then there is no user context to lend).
    f(UserCtx::for_current().as_ref());
}

/// Whether a fatal signal (SIGKILL) is pending for the calling task.
pub(crate) fn current_fatal_signal_pending() -> bool {
    // SAFETY: `current` is valid in process context; reading its pending state.
    unsafe { bindings::fatal_signal_pending(bindings::get_current()) != 0 }
}

/// The calling task's pid.
pub(crate) fn current_pid() -> i32 {
    // SAFETY: `current` is valid in process context and its pid never changes.
    unsafe { (*bindings::get_current()).pid }
}
