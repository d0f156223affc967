// SPDX-License-Identifier: GPL-2.0
//! The node's processes, for the load balancer: one walk of the task list (`for_each_process`)
//! under RCU, producing a snapshot of each user process (`patches/0006-rust-helpers-rcu-read-side.patch`
//! provides the RCU helpers).
//!
//! C header: `include/linux/sched/signal.h` (`for_each_process`), `include/linux/rcupdate.h`.

use core::mem::offset_of;
use core::ptr;

use kernel::bindings;

/// One user process (thread-group leader with an mm), as seen at one moment.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ProcSample {
    /// Process id (tgid) in the initial pid namespace.
    pub(crate) pid: i32,
    /// Real user id.
    pub(crate) uid: u32,
    /// Command name, NUL-padded.
    pub(crate) comm: [u8; 16],
    /// CPU time used by the thread-group leader, in ns (`se.sum_exec_runtime`; for the
    /// single-threaded processes the balancer moves, the whole process).
    pub(crate) runtime_ns: u64,
    /// Read and write system calls it made (`ioac.syscr + ioac.syscw`, `CONFIG_TASK_XACCT`).
    pub(crate) io_calls: u64,
    /// Runnable (or running) at the moment of the walk.
    pub(crate) runnable: bool,
    /// Threads in the process.
    pub(crate) threads: u32,
    /// Resident pages (file, anonymous and shared memory), from the mm's counters.
    pub(crate) rss_pages: u64,
    /// Its resident anonymous and shared-memory pages: what a move sends when the target holds
    /// the files it maps (their pages are mapped there, not sent).
    pub(crate) image_pages: u64,
}

/// Offset of `tasks` (the process-list link) in `task_struct`.
const TASKS: usize = offset_of!(bindings::task_struct, tasks);

/// Calls `f` for every user process (kernel threads, exiting tasks and tasks without an mm are
/// left out) until it returns `false`.
///
/// `f` runs inside an RCU read-side critical section: it must not sleep (no `GFP_KERNEL`
/// allocation, no mutex); it should copy what it needs and return.
pub(crate) fn for_each_process(mut f: impl FnMut(&ProcSample) -> bool) {
    // SAFETY: the task list is walked as `for_each_process` does, under rcu_read_lock: every
    // task reached through `tasks.next` stays allocated until the section ends (task structs
    // are freed after a grace period). `signal` and `real_cred` live as long as the task
    // struct / are RCU-protected. The mm is read under task_lock, which exit_mm takes before
    // it drops the task's mm, so the mm cannot go away while we read its counters.
    unsafe {
        bindings::rcu_read_lock();
        let head = ptr::addr_of_mut!(bindings::init_task);
        let mut t = next(head);
        while t != head {
            let flags = ptr::read_volatile(ptr::addr_of!((*t).flags));
            let exiting = ptr::read_volatile(ptr::addr_of!((*t).exit_state)) != 0;
            if flags & bindings::PF_KTHREAD == 0 && !exiting {
                let mut s = ProcSample {
                    pid: (*t).tgid,
                    ..ProcSample::default()
                };
                bindings::task_lock(t);
                let mm = (*t).mm;
                if !mm.is_null() {
                    let rss = &(*mm).__bindgen_anon_1.rss_stat;
                    for k in [
                        bindings::MM_FILEPAGES,
                        bindings::MM_ANONPAGES,
                        bindings::MM_SHMEMPAGES,
                    ] {
                        let c = ptr::read_volatile(ptr::addr_of!(rss[k as usize].count));
                        s.rss_pages += c.max(0) as u64;
                        if k != bindings::MM_FILEPAGES {
                            s.image_pages += c.max(0) as u64;
                        }
                    }
                    for (d, &c) in s.comm.iter_mut().zip((*t).comm.iter()) {
                        *d = c;
                    }
                }
                bindings::task_unlock(t);
                if !mm.is_null() {
                    s.runtime_ns = ptr::read_volatile(ptr::addr_of!((*t).se.sum_exec_runtime));
                    s.io_calls = ptr::read_volatile(ptr::addr_of!((*t).ioac.syscr))
                        .wrapping_add(ptr::read_volatile(ptr::addr_of!((*t).ioac.syscw)));
                    s.runnable = ptr::read_volatile(ptr::addr_of!((*t).__state)) == 0;
                    let sig = (*t).signal;
                    if !sig.is_null() {
                        s.threads = ptr::read_volatile(ptr::addr_of!((*sig).nr_threads)) as u32;
                    }
                    let cred = ptr::read_volatile(ptr::addr_of!((*t).real_cred));
                    if !cred.is_null() {
                        s.uid = (*cred).uid.val;
                    }
                    if !f(&s) {
                        break;
                    }
                }
            }
            t = next(t);
        }
        bindings::rcu_read_unlock();
    }
}

/// The task after `t` on the process list (`next_task`).
///
/// # Safety
///
/// `t` is a valid task (or `init_task`) and the caller is in an RCU read-side critical section.
unsafe fn next(t: *mut bindings::task_struct) -> *mut bindings::task_struct {
    // SAFETY: per the function's contract; `tasks.next` points into the next task's `tasks`
    // field (list_entry_rcu), read once as READ_ONCE does.
    unsafe {
        let n = ptr::read_volatile(ptr::addr_of!((*t).tasks.next));
        n.cast::<u8>().sub(TASKS).cast::<bindings::task_struct>()
    }
}
