// SPDX-License-Identifier: GPL-2.0
//! The descriptor table of the user task running the hook: closing what `execve` closes.
//!
//! C header: `include/linux/fdtable.h` (`files_struct`, `fdtable`; bindings from `patches/0014`),
//! `include/linux/file.h` (`close_fd`).

use kernel::bindings;
use kernel::ffi::c_uint;

use super::{cur, UserCtx};

impl UserCtx {
    /// Closes the task's close-on-exec descriptors, as `execve` does (`do_close_on_exec`): the
    /// deputy of a process that executed a program where it runs. Returns how many were closed.
    pub(crate) fn close_on_exec(&self) -> usize {
        let mut from: usize = 0;
        let mut closed = 0;
        while let Some(fd) = next_close_on_exec(from) {
            // SAFETY: close_fd acts on current's table and may sleep (we are in process context).
            let _ = unsafe { bindings::close_fd(fd as c_uint) };
            closed += 1;
            from = fd + 1;
        }
        closed
    }
}

/// The first descriptor of current at or after `from` that is open and close-on-exec.
fn next_close_on_exec(from: usize) -> Option<usize> {
    const BITS: usize = usize::BITS as usize;
    // SAFETY: current's `files` is valid while it runs (it is not exiting: the hook runs); its
    // `fdt` is read under rcu_read_lock, which keeps a table replaced by expand_files alive; the
    // bitmaps have `max_fds` bits. Only current changes its table (the process is single-threaded
    // and shares no table), so the bits read are current.
    unsafe {
        bindings::rcu_read_lock();
        let files = (*cur()).files;
        let mut found = None;
        if !files.is_null() {
            let fdt = (*files).fdt;
            let max = (*fdt).max_fds as usize;
            for fd in from..max {
                let w = fd / BITS;
                let bit = 1usize << (fd % BITS);
                let open = *(*fdt).open_fds.add(w) & bit != 0;
                let cloexec = *(*fdt).close_on_exec.add(w) & bit != 0;
                if open && cloexec {
                    found = Some(fd);
                    break;
                }
            }
        }
        bindings::rcu_read_unlock();
        found
    }
}
