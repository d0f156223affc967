// SPDX-License-Identifier: GPL-2.0
//! The file mappings of the user task running the hook, kept by its home node while the process
//! is away so that they are file mappings again when it comes back.
//!
//! C header: `include/linux/mm.h`, `include/linux/fs.h` (`get_file`, `fput`).

use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicI64, Ordering};

use kernel::bindings;
use kernel::ffi::{c_int, c_ulong};
use kernel::prelude::*;

use super::mm::vmf;
use super::vma::for_each_vma;
use super::{cur, UserCtx};

/// A counted reference to an open file (`struct file`).
///
/// # Invariants
///
/// `ptr` points to a valid file on which this value holds one reference (`f_count`), dropped
/// with `fput`.
pub(crate) struct FileRef {
    ptr: NonNull<bindings::file>,
}

// SAFETY: a file reference may be taken, used and dropped on any task: `f_count` is atomic and
// `fput` defers the final release to a context that may sleep.
unsafe impl Send for FileRef {}
// SAFETY: `FileRef` offers no access to the file through `&self` but the pointer's identity.
unsafe impl Sync for FileRef {}

impl FileRef {
    /// Takes a new reference on `file`, as `get_file()` does.
    ///
    /// # Safety
    /// `file` is valid and the caller holds a reference on it (here: the memory area that maps it,
    /// under the mmap lock), so `f_count` is not zero.
    pub(super) unsafe fn get(file: *mut bindings::file) -> Option<FileRef> {
        let ptr = NonNull::new(file)?;
        // SAFETY: per the function's contract `f_count` is a live, aligned atomic long;
        // `get_file()` is `atomic_long_fetch_inc_relaxed(&f->f_count)`.
        unsafe {
            AtomicI64::from_ptr(ptr::addr_of_mut!((*file).f_count.counter))
                .fetch_add(1, Ordering::Relaxed);
        }
        // INVARIANT: the reference taken just above.
        Some(FileRef { ptr })
    }

    /// Takes over the reference `fget()` (or another getter) returned on `file`.
    ///
    /// # Safety
    /// The caller holds one reference on `file` and hands it to the new value.
    pub(super) unsafe fn from_owned(file: NonNull<bindings::file>) -> FileRef {
        // INVARIANT: the reference handed over by the caller.
        FileRef { ptr: file }
    }

    /// The file (valid while this value lives).
    pub(super) fn as_ptr(&self) -> *mut bindings::file {
        self.ptr.as_ptr()
    }

    /// The file, its reference handed to the caller (who must put it with `fput`).
    pub(crate) fn into_raw(self) -> NonNull<bindings::file> {
        let ptr = self.ptr;
        core::mem::forget(self);
        ptr
    }
}

impl Clone for FileRef {
    /// Another reference on the same file.
    fn clone(&self) -> FileRef {
        // SAFETY: this value holds a reference (invariant), so `f_count` is a live atomic long
        // that is not zero; `get_file()` increments it so.
        unsafe {
            AtomicI64::from_ptr(ptr::addr_of_mut!((*self.ptr.as_ptr()).f_count.counter))
                .fetch_add(1, Ordering::Relaxed);
        }
        // INVARIANT: the reference taken just above.
        FileRef { ptr: self.ptr }
    }
}

impl Drop for FileRef {
    fn drop(&mut self) {
        // SAFETY: the reference this value holds (invariant) is dropped once.
        unsafe { bindings::fput(self.ptr.as_ptr()) };
    }
}

/// A file mapping of a process: `[start, end)` maps the file from page `pgoff`, privately or
/// shared (read-only: a writable shared mapping never leaves home).
pub(crate) struct FileArea {
    /// Start address.
    pub(crate) start: u64,
    /// End address (exclusive).
    pub(crate) end: u64,
    /// The file page mapped at `start`.
    pub(crate) pgoff: u64,
    /// `MAP_SHARED` (else `MAP_PRIVATE`).
    pub(crate) shared: bool,
    file: FileRef,
}

impl FileArea {
    /// Another reference on its file.
    pub(crate) fn file(&self) -> FileRef {
        self.file.clone()
    }
}

impl UserCtx {
    /// current's file mappings (not shared anonymous memory, not device memory), each with a
    /// reference on its file, so the file stays open (an unlinked one too) while they are kept.
    /// Errors: `ENOMEM`, `EINVAL` without an mm.
    pub(crate) fn file_areas(&self) -> Result<KVec<FileArea>> {
        let mut v = KVec::new();
        let shared_writable = vmf::SHARED | vmf::MAYWRITE;
        // SAFETY: current's mm, alive while current runs this (`UserCtx` invariant).
        let mm = unsafe { (*cur()).mm };
        if mm.is_null() {
            return Err(EINVAL);
        }
        // SAFETY: as above.
        unsafe {
            for_each_vma(mm, |a| {
                let flags = a.flags();
                if flags & vmf::DEVICE != 0
                    || flags & shared_writable == shared_writable
                    || a.sole_shared_anon()
                {
                    return Ok(());
                }
                let Some(file) = a.file() else {
                    return Ok(());
                };
                let fa = FileArea {
                    start: a.start(),
                    end: a.end(),
                    pgoff: a.pgoff(),
                    shared: flags & vmf::SHARED != 0,
                    file,
                };
                v.push(fa, GFP_KERNEL)?;
                Ok(())
            })?;
        }
        Ok(v)
    }

    /// Maps `[start, end)` (within `fa`'s range) from `fa`'s file at exactly `start`,
    /// replacing what was there, with protection `prot` (PROT_READ 1 | PROT_WRITE 2 |
    /// PROT_EXEC 4), privately or shared as `fa` was. Errors: `EINVAL` outside `fa`, errors of
    /// the mapping (`EACCES` for a file no longer mappable so, `ENOMEM`).
    pub(crate) fn map_file(&self, fa: &FileArea, start: u64, end: u64, prot: u32) -> Result {
        if start < fa.start || end > fa.end || start >= end {
            return Err(EINVAL);
        }
        let kind = if fa.shared {
            bindings::MAP_SHARED
        } else {
            bindings::MAP_PRIVATE
        };
        let pgoff = fa.pgoff + (start - fa.start) / bindings::PAGE_SIZE as u64;
        // SAFETY: the file is valid (`FileRef` invariant); vm_mmap maps it into current's mm and
        // takes the mmap lock itself.
        let r = unsafe {
            bindings::vm_mmap(
                fa.file.ptr.as_ptr(),
                start as c_ulong,
                (end - start) as c_ulong,
                (prot & 7) as c_ulong,
                (kind | bindings::MAP_FIXED) as c_ulong,
                (pgoff * bindings::PAGE_SIZE as u64) as c_ulong,
            )
        };
        if r as u64 != start {
            if (r as i64) < 0 && (r as i64) >= -4095 {
                return Err(Error::from_errno(r as i64 as c_int));
            }
            return Err(EINVAL);
        }
        Ok(())
    }
}
