// SPDX-License-Identifier: GPL-2.0
//! Tasks: references to other tasks (by pid), their migration-relevant attributes, signals,
//! task work, and the migration mark (`patches/0003-entry-hooks-for-migrated-tasks.patch`).

use core::ptr;

use kernel::alloc::{flags::GFP_KERNEL, KBox};
use kernel::bindings;
use kernel::ffi::c_int;
use kernel::prelude::*;

/// A counted reference to a task.
pub(crate) struct TaskRef {
    // INVARIANT: a valid task_struct on which we hold one reference (get_task_struct), dropped
    // exactly once in `Drop`.
    t: *mut bindings::task_struct,
}

// SAFETY: task references may be used and dropped from any process context.
unsafe impl Send for TaskRef {}
// SAFETY: every method takes `&self` and only reads fields that are stable or read atomically
// enough for our purposes, or calls functions safe for concurrent use.
unsafe impl Sync for TaskRef {}

impl Clone for TaskRef {
    fn clone(&self) -> Self {
        // SAFETY: `self.t` is valid (invariant); taking another reference.
        unsafe { bindings::get_task_struct(self.t) };
        TaskRef { t: self.t }
    }
}

impl Drop for TaskRef {
    fn drop(&mut self) {
        // SAFETY: we own one reference (invariant).
        unsafe { bindings::put_task_struct(self.t) };
    }
}

impl PartialEq for TaskRef {
    fn eq(&self, o: &Self) -> bool {
        self.t == o.t
    }
}

/// Scheduling policies that make a task ineligible for migration.
const RT_POLICIES: [u32; 3] = [
    bindings::SCHED_FIFO,
    bindings::SCHED_RR,
    bindings::SCHED_DEADLINE,
];

impl TaskRef {
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
        if t.is_null() {
            None
        } else {
            // INVARIANT: get_pid_task took a reference.
            Some(TaskRef { t })
        }
    }

    /// The calling task.
    pub(crate) fn current() -> TaskRef {
        // SAFETY: `current` is always a valid task in process context.
        let t = unsafe { bindings::get_current() };
        // SAFETY: `t` is valid; take a reference.
        unsafe { bindings::get_task_struct(t) };
        TaskRef { t }
    }

    /// Thread id (= process id for a single-threaded process) in the initial namespace.
    pub(crate) fn pid(&self) -> i32 {
        // SAFETY: `pid` never changes after the task is created.
        unsafe { (*self.t).pid }
    }

    /// The task's name (`comm`), NUL padded.
    pub(crate) fn comm(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        // SAFETY: `b` has 16 bytes; __get_task_comm copies under task_lock.
        unsafe { bindings::__get_task_comm(b.as_mut_ptr().cast(), b.len(), self.t) };
        b
    }

    fn flags(&self) -> u32 {
        // SAFETY: a plain read of a word the task updates itself; races only affect staleness.
        unsafe { ptr::read_volatile(ptr::addr_of!((*self.t).flags)) }
    }

    /// A kernel thread (`PF_KTHREAD`).
    pub(crate) fn is_kthread(&self) -> bool {
        self.flags() & bindings::PF_KTHREAD != 0
    }

    /// Exiting (`PF_EXITING`) or already dead.
    pub(crate) fn is_exiting(&self) -> bool {
        // SAFETY: `exit_state` is a plain word; staleness is fine.
        let es = unsafe { ptr::read_volatile(ptr::addr_of!((*self.t).exit_state)) };
        self.flags() & bindings::PF_EXITING != 0 || es != 0
    }

    /// Number of threads in the task's thread group (0 if it already released its signal struct).
    pub(crate) fn nr_threads(&self) -> i32 {
        // SAFETY: `signal` stays valid as long as we hold a task reference (it is freed with the
        // task_struct); nr_threads is read racily, as get_nr_threads() does.
        unsafe {
            let s = (*self.t).signal;
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
        let st = unsafe { ptr::read_volatile(ptr::addr_of!((*self.t).__state)) };
        st & bindings::__TASK_STOPPED != 0
    }

    /// Traced by ptrace.
    pub(crate) fn is_ptraced(&self) -> bool {
        // SAFETY: plain read of a word.
        unsafe { ptr::read_volatile(ptr::addr_of!((*self.t).ptrace)) != 0 }
    }

    /// Real-time or deadline scheduling class.
    pub(crate) fn is_realtime(&self) -> bool {
        // SAFETY: plain read of a word.
        let p = unsafe { ptr::read_volatile(ptr::addr_of!((*self.t).policy)) };
        RT_POLICIES.contains(&p)
    }

    /// Real uid and gid, effective uid (from the task's objective credentials).
    pub(crate) fn ids(&self) -> (u32, u32, u32) {
        // SAFETY: get_task_cred returns a counted reference to the task's real_cred.
        let c = unsafe { bindings::get_task_cred(self.t) };
        // SAFETY: `c` is valid while we hold the reference.
        let ids = unsafe { ((*c).uid.val, (*c).gid.val, (*c).euid.val) };
        // SAFETY: drop the reference taken above (put_cred is inline; this is its body).
        unsafe { put_cred(c) };
        ids
    }

    /// Scans the task's memory areas (outside the vDSO and its vvar area) for ones a migration
    /// cannot take: returns (writable shared mapping present, device mapping present).
    /// `(false, false)` for a task without memory.
    pub(crate) fn vma_obstacles(&self) -> (bool, bool) {
        let (mut shared, mut device) = (false, false);
        // SAFETY: get_task_mm returns a counted mm (or NULL); the VMAs are walked with find_vma
        // under its mmap read lock and the mm is released with mmput.
        unsafe {
            let mm = bindings::get_task_mm(self.t);
            if mm.is_null() {
                return (false, false);
            }
            let vdso = (*mm).__bindgen_anon_1.context.vdso as u64;
            let vvar = vdso.wrapping_sub(super::uctx::vvar_size());
            bindings::mmap_read_lock(mm);
            let mut addr = 0;
            loop {
                let vma = bindings::find_vma(mm, addr);
                if vma.is_null() {
                    break;
                }
                let a = &(*vma).__bindgen_anon_1.__bindgen_anon_1;
                let (start, end) = (a.vm_start as u64, a.vm_end as u64);
                addr = a.vm_end;
                if start >= vvar && start <= vdso && end > vvar {
                    continue;
                }
                let f = (*vma).__bindgen_anon_2.vm_flags as u64;
                let w = (bindings::VM_SHARED | bindings::VM_MAYWRITE) as u64;
                shared |= f & w == w;
                device |= f & super::uctx::vmf::DEVICE != 0;
            }
            bindings::mmap_read_unlock(mm);
            bindings::mmput(mm);
        }
        (shared, device)
    }

    /// Queues `f` to run in the task's own context on its next return to user mode
    /// (`task_work_add` with `TWA_RESUME`: a running task gets there at its next interrupt or
    /// system call; a sleeping one when it wakes). Errors: `ESRCH` if the task is exiting, `ENOMEM`.
    pub(crate) fn add_work<F: FnOnce() + Send + 'static>(&self, f: F) -> Result {
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
        let r = unsafe {
            bindings::task_work_add(
                self.t,
                ptr::addr_of_mut!((*raw).head),
                bindings::task_work_notify_mode_TWA_RESUME,
            )
        };
        if r != 0 {
            // SAFETY: not queued: we still own the box.
            drop(unsafe { KBox::from_raw(raw) });
            return Err(ESRCH);
        }
        Ok(())
    }

    /// Sends signal `sig` as the kernel (`send_sig` with priv = 1). Errors: `ESRCH`, `EINVAL`.
    pub(crate) fn send_signal(&self, sig: i32) -> Result {
        // SAFETY: `self.t` is valid.
        let r = unsafe { bindings::send_sig(sig as c_int, self.t, 1) };
        if r == 0 {
            Ok(())
        } else {
            Err(Error::from_errno(r))
        }
    }

    /// Marks or unmarks the task as migrated: its system calls and exit then go to the hooks
    /// registered with [`crate::kapi::migration`].
    pub(crate) fn set_migrated(&self, on: bool) {
        // SAFETY: `self.t` is valid; the mark is an atomic bit.
        unsafe { bindings::task_migration_mark(self.t, on) };
    }

    /// # Safety
    /// `t` must be a valid task.
    pub(crate) unsafe fn from_raw_get(t: *mut bindings::task_struct) -> TaskRef {
        // SAFETY: per the contract.
        unsafe { bindings::get_task_struct(t) };
        TaskRef { t }
    }
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
unsafe extern "C" fn run_work<F: FnOnce() + Send + 'static>(head: *mut bindings::callback_head) {
    // SAFETY: `head` is the first field of a repr(C) TaskWork<F> box (per the contract).
    let w = unsafe { KBox::from_raw(head.cast::<TaskWork<F>>()) };
    let TaskWork { f, .. } = KBox::into_inner(w);
    f();
}
