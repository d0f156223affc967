// SPDX-License-Identifier: GPL-2.0
//! The process-migration hooks of `patches/0003-entry-hooks-for-migrated-tasks.patch` (with the
//! `/proc` view of 0015, the exec of 0016 and the fork of 0017) and the user-mode helper that
//! starts the task a guest runs in.
//!
//! [`Hooks`] registers an implementation of [`MigrationOps`]: tasks marked with
//! [`crate::kapi::task::TaskRef::set_migrated`] then call it on every system-call entry and
//! when they exit. Dropping the registration waits until every running call returned.
//!
//! C header: `include/linux/task_migration.h` (added by `patches/0003`), `include/linux/umh.h`.

use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};

use kernel::alloc::{flags::GFP_KERNEL, KBox};
use kernel::bindings;
use kernel::ffi::{c_int, c_long, c_ulong, c_void};
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::sync::Arc;

use super::task::TaskRef;
use super::uctx::UserCtx;

/// The registers of a system call being entered by `current`.
///
/// # Invariants
///
/// Current's user register frame, valid for the duration of the hook call that created this value
/// (only current changes it, and current is running the hook).
pub(crate) struct SyscallRegs {
    r: *mut bindings::pt_regs,
}

impl SyscallRegs {
    /// System-call number (`orig_rax`).
    pub(crate) fn nr(&self) -> u64 {
        // SAFETY: valid per the invariant.
        unsafe { (*self.r).orig_ax as u64 }
    }

    /// The six arguments: rdi, rsi, rdx, r10, r8, r9.
    pub(crate) fn args(&self) -> [u64; 6] {
        // SAFETY: valid per the invariant.
        unsafe {
            let r = &*self.r;
            [r.di, r.si, r.dx, r.r10, r.r8, r.r9].map(|x| x as u64)
        }
    }

    /// The user instruction pointer at the call (just after its `syscall` instruction).
    pub(crate) fn ip(&self) -> u64 {
        // SAFETY: valid per the invariant.
        unsafe { (*self.r).ip as u64 }
    }

    /// The user stack pointer at the call.
    pub(crate) fn sp(&self) -> u64 {
        // SAFETY: valid per the invariant.
        unsafe { (*self.r).sp as u64 }
    }

    /// Sets the result returned to user space when the call is skipped.
    pub(crate) fn set_result(&mut self, v: i64) {
        // SAFETY: valid per the invariant.
        unsafe { (*self.r).ax = v as c_ulong };
    }

    /// Replaces the call about to run by `nr` with `args` (the hook then returns false).
    pub(crate) fn set_call(&mut self, nr: u64, args: &[u64; 6]) {
        // SAFETY: valid per the invariant; syscall_trace_enter re-reads orig_ax afterwards.
        unsafe {
            let r = &mut *self.r;
            r.orig_ax = nr as c_ulong;
            r.di = args[0] as c_ulong;
            r.si = args[1] as c_ulong;
            r.dx = args[2] as c_ulong;
            r.r10 = args[3] as c_ulong;
            r.r8 = args[4] as c_ulong;
            r.r9 = args[5] as c_ulong;
        }
    }

    /// Makes the user context re-execute this system call (rip back over `syscall`, rax =
    /// the number) when it resumes, wherever that is.
    pub(crate) fn rewind(&mut self) {
        // SAFETY: valid per the invariant; `syscall` is two bytes long.
        unsafe {
            let r = &mut *self.r;
            r.ax = r.orig_ax;
            r.ip -= 2;
        }
    }

    /// Undoes [`SyscallRegs::rewind`]: the call returns where it was made, with the result
    /// set by [`SyscallRegs::set_result`] (which must follow).
    pub(crate) fn unrewind(&mut self) {
        // SAFETY: valid per the invariant; undoes `rewind`'s step back over `syscall`.
        unsafe { (*self.r).ip += 2 };
    }
}

/// What the migration code does for marked tasks.
pub(crate) trait MigrationOps: Send + Sync + 'static {
    /// System-call entry of a marked `current`: return true to skip the call (its result set with
    /// [`SyscallRegs::set_result`], or a whole new user context installed), false to run the
    /// call in `regs` (possibly rewritten with [`SyscallRegs::set_call`]).
    /// `user` is the marked task's user context (see [`UserCtx`]).
    fn syscall_enter(&self, user: &UserCtx, regs: &mut SyscallRegs) -> bool;
    /// A marked task exits with `code` (as `do_exit` received it).
    fn task_exit(&self, task: &TaskRef, code: i64);
    /// `/proc` describes marked `task` (its `stat`, `statm`, the State line of `status`):
    /// `Some` for a deputy whose process runs elsewhere, shown as it is there. May sleep.
    fn proc_view(&self, task: &TaskRef) -> Option<TaskView>;
    /// `task` (current, marked or not, a user process with a memory map) is in `execve` and
    /// starts a new program: task work it queues now runs when it returns to user mode with the
    /// new image (`patches/0016`). May sleep.
    fn exec(&self, task: &TaskRef);
    /// Current (marked) made `child` with `clone_flags` (`kernel_clone()`, `patches/0017`);
    /// `child` has not run yet. `nr` is its pid here; returns the pid the parent is told (its
    /// return value and `CLONE_PARENT_SETTID`). May mark `child` and queue task work for it.
    fn fork(&self, child: &TaskRef, clone_flags: u64, nr: i32) -> i32;
}

/// A migrated process as it is where it runs (`struct task_migration_view`, `patches/0015`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TaskView {
    /// From [`sample`]: the process's user, system and run time on every node so far, ns. For
    /// [`MigrationOps::proc_view`]: the user and system time `/proc` adds to the deputy's own
    /// (the third is not used).
    pub(crate) cpu: [u64; 3],
    /// Virtual memory size, bytes.
    pub(crate) vsize: u64,
    /// Resident pages.
    pub(crate) rss: u64,
    /// Its state letter (`R`, `S`, `D`, ... as `task_state_to_char()`).
    pub(crate) state: u8,
}

/// `task`'s process as `/proc` would show it here: the task's state, its process's CPU time
/// (`thread_group_cputime()`), virtual size and resident pages (`task_migration_sample()`).
/// May sleep.
pub(crate) fn sample(task: &TaskRef) -> TaskView {
    let mut v = bindings::task_migration_view::default();
    // SAFETY: `task.ptr()` is a valid task we hold a reference to; `v` is writable. The helper
    // takes the task's mm with a reference of its own.
    unsafe { bindings::task_migration_sample(task.ptr(), &mut v) };
    TaskView {
        cpu: [v.utime, v.stime, v.runtime],
        vsize: v.vsize,
        rss: v.rss,
        state: v.state,
    }
}

/// The registered implementation: one at a time (the kernel allows one module).
static OPS_DATA: AtomicPtr<c_void> = AtomicPtr::new(ptr::null_mut());

/// # Safety
/// Called by the kernel's system-call entry with current's user register frame.
unsafe extern "C" fn syscall_tramp<T: MigrationOps>(regs: *mut bindings::pt_regs) -> bool {
    let d = OPS_DATA.load(Ordering::Acquire);
    if d.is_null() {
        return false;
    }
    // SAFETY: `d` came from `Arc::into_raw` in `Hooks::register` and stays valid until after
    // `task_migration_unregister` returned (which waits for this call).
    let ops = unsafe { &*d.cast::<T>() };
    // A system call entered from user mode: current is a user task, not exiting, with an mm; a
    // task that is not gets its call run as usual.
    let Some(user) = UserCtx::for_current() else {
        return false;
    };
    // INVARIANT: the kernel passes current's user register frame.
    let mut r = SyscallRegs { r: regs };
    ops.syscall_enter(&user, &mut r)
}

/// # Safety
/// Called by `do_exit()` with the exiting task.
unsafe extern "C" fn exit_tramp<T: MigrationOps>(t: *mut bindings::task_struct, code: c_long) {
    let d = OPS_DATA.load(Ordering::Acquire);
    if d.is_null() {
        return;
    }
    // SAFETY: as in `syscall_tramp`; `t` is the exiting task (current).
    let ops = unsafe { &*d.cast::<T>() };
    // SAFETY: `t` is valid (it is running do_exit).
    let task = unsafe { TaskRef::from_raw_get(t) };
    ops.task_exit(&task, code as i64);
}

/// # Safety
/// Called by `/proc` with a marked task it holds and the view to fill in.
unsafe extern "C" fn view_tramp<T: MigrationOps>(
    t: *mut bindings::task_struct,
    v: *mut bindings::task_migration_view,
) -> bool {
    let d = OPS_DATA.load(Ordering::Acquire);
    if d.is_null() {
        return false;
    }
    // SAFETY: as in `syscall_tramp`.
    let ops = unsafe { &*d.cast::<T>() };
    // SAFETY: `t` is valid (`/proc` holds a reference while it reads).
    let task = unsafe { TaskRef::from_raw_get(t) };
    let Some(pv) = ops.proc_view(&task) else {
        return false;
    };
    let view = bindings::task_migration_view {
        utime: pv.cpu[0],
        stime: pv.cpu[1],
        runtime: pv.cpu[2],
        vsize: pv.vsize,
        rss: pv.rss,
        state: pv.state,
    };
    // SAFETY: `v` points to the caller's writable view.
    unsafe { v.write(view) };
    true
}

/// # Safety
/// Called by `execve()` in current's context.
unsafe extern "C" fn exec_tramp<T: MigrationOps>() {
    let d = OPS_DATA.load(Ordering::Acquire);
    if d.is_null() {
        return;
    }
    // SAFETY: as in `syscall_tramp`.
    let ops = unsafe { &*d.cast::<T>() };
    // Only a user process replacing its program: a program the kernel starts (a usermode
    // helper, a guest's shell) has no memory map before its exec.
    if UserCtx::for_current().is_none() {
        return;
    }
    ops.exec(&TaskRef::current());
}

/// # Safety
/// Called by `kernel_clone()` in the parent's context, `child` a live task that has not run.
unsafe extern "C" fn fork_tramp<T: MigrationOps>(
    child: *mut bindings::task_struct,
    clone_flags: u64,
    nr: bindings::pid_t,
) -> bindings::pid_t {
    let d = OPS_DATA.load(Ordering::Acquire);
    if d.is_null() {
        return nr;
    }
    // SAFETY: as in `syscall_tramp`.
    let ops = unsafe { &*d.cast::<T>() };
    // SAFETY: `child` is live (kernel_clone holds it until it returns); a reference is taken.
    let task = unsafe { TaskRef::from_raw_get(child) };
    ops.fork(&task, clone_flags, nr)
}

/// A registration of migration hooks; dropping it unregisters and waits for running calls.
///
/// # Invariants
///
/// Registered with task_migration_register; unregistered in Drop.
pub(crate) struct Hooks<T: MigrationOps> {
    ops: KBox<bindings::task_migration_ops>,
    data: *const T,
}

// SAFETY: the registration is only dropped from module exit.
unsafe impl<T: MigrationOps> Send for Hooks<T> {}
// SAFETY: `&Hooks` allows nothing.
unsafe impl<T: MigrationOps> Sync for Hooks<T> {}

impl<T: MigrationOps> Hooks<T> {
    /// Registers `data`'s operations. Errors: `EBUSY` if another module registered hooks.
    pub(crate) fn register(data: Arc<T>) -> Result<Self> {
        let ops = KBox::new(
            bindings::task_migration_ops {
                syscall_enter: Some(syscall_tramp::<T>),
                task_exit: Some(exit_tramp::<T>),
                proc_view: Some(view_tramp::<T>),
                exec: Some(exec_tramp::<T>),
                fork: Some(fork_tramp::<T>),
            },
            GFP_KERNEL,
        )?;
        let raw = Arc::into_raw(data);
        if OPS_DATA
            .compare_exchange(
                ptr::null_mut(),
                raw.cast_mut().cast(),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_err()
        {
            // SAFETY: `raw` came from `Arc::into_raw` just above.
            drop(unsafe { Arc::from_raw(raw) });
            return Err(EBUSY);
        }
        // SAFETY: `ops` lives until Drop, where it is unregistered first.
        let r = unsafe { bindings::task_migration_register(&*ops) };
        if r != 0 {
            OPS_DATA.store(ptr::null_mut(), Ordering::Release);
            // SAFETY: as above.
            drop(unsafe { Arc::from_raw(raw) });
            return Err(Error::from_errno(r));
        }
        Ok(Hooks { ops, data: raw })
    }
}

impl<T: MigrationOps> Drop for Hooks<T> {
    fn drop(&mut self) {
        // SAFETY: registered (invariant); returns after every running call returned.
        unsafe { bindings::task_migration_unregister(&*self.ops) };
        OPS_DATA.store(ptr::null_mut(), Ordering::Release);
        // SAFETY: no call can use the data any more; it came from `Arc::into_raw`.
        drop(unsafe { Arc::from_raw(self.data) });
    }
}

/// The credentials a shell starts with: one uid and one gid (real, effective, saved and
/// filesystem alike; no capabilities unless the uid is 0), supplementary groups and
/// `no_new_privs`.
#[derive(Clone, Copy)]
pub(crate) struct ShellCreds {
    /// The uid.
    pub(crate) uid: u32,
    /// The gid.
    pub(crate) gid: u32,
    /// Number of supplementary groups in `groups`.
    pub(crate) ngroups: usize,
    /// The supplementary groups.
    pub(crate) groups: [u32; super::task::MAX_GROUPS],
    /// Set `no_new_privs`.
    pub(crate) no_new_privs: bool,
}

struct ShellCtx<T: Send + Sync + 'static> {
    data: Arc<T>,
    init: fn(&T, TaskRef),
    creds: ShellCreds,
    argv: [*mut u8; 2],
    envp: [*mut u8; 2],
}

/// # Safety
/// Called by the user-mode helper with the `subprocess_info` set up by [`spawn_shell`] and the
/// credentials it is about to commit.
unsafe extern "C" fn shell_init<T: Send + Sync + 'static>(
    info: *mut bindings::subprocess_info,
    new: *mut bindings::cred,
) -> c_int {
    // SAFETY: `data` is the ShellCtx box given to call_usermodehelper_setup; it lives until
    // `shell_cleanup`, which runs after this.
    let ctx = unsafe { &*(*info).data.cast::<ShellCtx<T>>() };
    let c = &ctx.creds;
    // SAFETY: `new` is the credential set the helper will commit before exec; only we touch it.
    if let Err(e) = unsafe { super::cred::set_cred_ids(new, c.uid, c.gid) } {
        return e.to_errno();
    }
    let groups = &c.groups[..c.ngroups.min(c.groups.len())];
    // SAFETY: as above.
    if let Err(e) = unsafe { super::cred::set_cred_groups(new, groups) } {
        return e.to_errno();
    }
    if c.no_new_privs {
        TaskRef::current().set_no_new_privs();
    }
    (ctx.init)(&ctx.data, TaskRef::current());
    0
}

/// # Safety
/// Called once by the user-mode helper with the `subprocess_info` set up by [`spawn_shell`].
unsafe extern "C" fn shell_cleanup<T: Send + Sync + 'static>(info: *mut bindings::subprocess_info) {
    // SAFETY: the box leaked in `spawn_shell`; cleanup runs exactly once.
    drop(unsafe { KBox::from_raw((*info).data.cast::<ShellCtx<T>>()) });
}

/// Starts the program at `path` as a new user process (a child of kthreadd) with `creds`
/// ([`ShellCreds`]). Before it executes, `init(&data, task)`
/// runs in the new task, which can mark it; returns once `path` was executed.
/// Errors: `ENOMEM`, or the exec error (`ENOENT` if the program is missing).
pub(crate) fn spawn_shell<T: Send + Sync + 'static>(
    path: &'static CStr,
    creds: ShellCreds,
    data: Arc<T>,
    init: fn(&T, TaskRef),
) -> Result {
    static ENV0: &CStr = kernel::c_str!("PATH=/sbin:/bin:/usr/sbin:/usr/bin");
    let ctx = KBox::new(
        ShellCtx {
            data,
            init,
            creds,
            argv: [path.as_char_ptr().cast_mut().cast(), ptr::null_mut()],
            envp: [ENV0.as_char_ptr().cast_mut().cast(), ptr::null_mut()],
        },
        GFP_KERNEL,
    )?;
    let raw = KBox::into_raw(ctx);
    // SAFETY: path/argv/envp point to 'static strings and into the boxed ctx, which lives until
    // `shell_cleanup`; the callbacks match the C prototypes.
    let info = unsafe {
        bindings::call_usermodehelper_setup(
            path.as_char_ptr(),
            (*raw).argv.as_mut_ptr().cast(),
            (*raw).envp.as_mut_ptr().cast(),
            bindings::GFP_KERNEL,
            Some(shell_init::<T>),
            Some(shell_cleanup::<T>),
            raw.cast(),
        )
    };
    if info.is_null() {
        // SAFETY: setup failed: the box is still ours.
        drop(unsafe { KBox::from_raw(raw) });
        return Err(ENOMEM);
    }
    // SAFETY: `info` came from setup; exec frees it (calling cleanup) in every case.
    let r = unsafe { bindings::call_usermodehelper_exec(info, bindings::UMH_WAIT_EXEC as c_int) };
    if r != 0 {
        return Err(Error::from_errno(r));
    }
    Ok(())
}
