// SPDX-License-Identifier: GPL-2.0
//! Kernel threads running Rust closures, stopped and reaped when their handle is dropped.
//!
//! A thread's body should loop until [`should_stop`] returns true, sleeping with
//! [`crate::kapi::sys::sleep_interruptible_ms`] (which `kthread_stop` interrupts) or in blocking
//! calls with timeouts. Dropping the [`KThread`] calls `kthread_stop`, which wakes the thread and
//! waits until its body returned.
//!
//! C header: `include/linux/kthread.h`.

use kernel::alloc::{flags::GFP_KERNEL, KBox};
use kernel::bindings;
use kernel::ffi::{c_int, c_void};
use kernel::prelude::*;
use kernel::str::CStr;

/// A running kernel thread.
///
/// # Invariants
///
/// A kthread created by `kthread_create_on_node`, woken, with a task reference held by us (so
/// `kthread_stop` is valid even if the body already returned), not yet stopped.
pub(crate) struct KThread {
    task: *mut bindings::task_struct,
    // The boxed body; owned by the thread once its trampoline runs (which then returns 0).
    data: *mut c_void,
    free: unsafe fn(*mut c_void),
}

// SAFETY: a kthread handle may be stopped from any process context.
unsafe impl Send for KThread {}
// SAFETY: `&KThread` allows nothing.
unsafe impl Sync for KThread {}

/// # Safety
/// `data` must be a `KBox<F>` turned into a raw pointer by [`KThread::spawn`].
unsafe extern "C" fn trampoline<F: FnOnce() + Send + 'static>(data: *mut c_void) -> c_int {
    // SAFETY: per the function's contract; this is the only place that takes it back.
    let body = KBox::into_inner(unsafe { KBox::from_raw(data.cast::<F>()) });
    body();
    0
}

/// # Safety
/// `data` must be a `KBox<F>` turned into a raw pointer by [`KThread::spawn`] whose trampoline
/// never ran.
unsafe fn free_body<F>(data: *mut c_void) {
    // SAFETY: per the function's contract.
    drop(unsafe { KBox::from_raw(data.cast::<F>()) });
}

impl KThread {
    /// Starts a kernel thread named `name` (at most 15 bytes shown in `ps`) running `body`.
    /// Errors: `ENOMEM`, or the error of `kthread_create_on_node`.
    pub(crate) fn spawn<F: FnOnce() + Send + 'static>(name: &CStr, body: F) -> Result<KThread> {
        let data = KBox::into_raw(KBox::new(body, GFP_KERNEL)?).cast::<c_void>();
        // SAFETY: `trampoline` matches the threadfn signature and takes ownership of `data`;
        // the format string is "%s" with `name` as its argument.
        let task = unsafe {
            bindings::kthread_create_on_node(
                Some(trampoline::<F>),
                data.cast(),
                bindings::NUMA_NO_NODE,
                c"%s".as_ptr().cast(),
                name.as_char_ptr(),
            )
        };
        if let Err(e) = kernel::error::from_err_ptr(task) {
            // SAFETY: the thread was not created, so `data` was never handed over.
            unsafe { free_body::<F>(data) };
            return Err(e);
        }
        // SAFETY: `task` is a valid, new kthread; the reference keeps it valid for kthread_stop.
        unsafe {
            bindings::get_task_struct(task);
            bindings::wake_up_process(task);
        }
        Ok(KThread {
            task,
            data,
            free: free_body::<F>,
        })
    }
}

impl Drop for KThread {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the thread exists (we hold a reference) and was not
        // stopped yet; kthread_stop wakes it, waits for its body to return, then we drop our ref.
        let ret = unsafe {
            let ret = bindings::kthread_stop(self.task);
            bindings::put_task_struct(self.task);
            ret
        };
        // -EINTR: the thread was stopped before its function ran, so the body is still ours.
        if ret == EINTR.to_errno() {
            // SAFETY: the trampoline never ran, so nobody else took `data` back.
            unsafe { (self.free)(self.data) };
        }
    }
}

/// Whether the calling kernel thread was asked to stop. Only meaningful inside a [`KThread`] body.
pub(crate) fn should_stop() -> bool {
    // SAFETY: called from a kthread (the only callers are KThread bodies).
    unsafe { bindings::kthread_should_stop() }
}
