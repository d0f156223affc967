// SPDX-License-Identifier: GPL-2.0
//! A walk over the memory areas of an mm under its mmap read lock ([`for_each_vma`]), each area
//! seen through [`Vma`], which reads its fields and nothing else. The one place that touches
//! `vm_area_struct` for the migration's scans (current's areas, its file mappings, and the
//! obstacles to moving another task).
//!
//! C header: `include/linux/mm.h`, `include/linux/mm_types.h`.

use core::marker::PhantomData;
use core::ptr;

use kernel::bindings;
use kernel::ffi::c_ulong;
use kernel::prelude::*;

use super::files::FileRef;
use super::mm::vmf;

/// One memory area, valid for the duration of a [`for_each_vma`] callback.
///
/// # Invariants
///
/// `vma` is an area of an mm whose mmap read lock is held for `'a`.
pub(crate) struct Vma<'a> {
    vma: *mut bindings::vm_area_struct,
    _lock: PhantomData<&'a ()>,
}

impl Vma<'_> {
    fn fields(&self) -> &bindings::vm_area_struct {
        // SAFETY: valid under the held mmap lock (invariant).
        unsafe { &*self.vma }
    }

    /// Start address.
    pub(crate) fn start(&self) -> u64 {
        // SAFETY: outside RCU walks the union holds the area's bounds (`vm_start`, `vm_end`).
        unsafe { self.fields().__bindgen_anon_1.__bindgen_anon_1.vm_start as u64 }
    }

    /// End address (exclusive).
    pub(crate) fn end(&self) -> u64 {
        // SAFETY: as in `start`.
        unsafe { self.fields().__bindgen_anon_1.__bindgen_anon_1.vm_end as u64 }
    }

    /// `vm_flags` ([`vmf`]).
    pub(crate) fn flags(&self) -> u64 {
        // SAFETY: `vm_flags` is the union's plain view (the other is its const alias).
        unsafe { self.fields().__bindgen_anon_2.vm_flags as u64 }
    }

    /// Offset in the file, in pages.
    pub(crate) fn pgoff(&self) -> u64 {
        self.fields().vm_pgoff as u64
    }

    /// Backed by a file (shared anonymous memory included: its shmem object).
    pub(crate) fn has_file(&self) -> bool {
        !self.fields().vm_file.is_null()
    }

    /// The area's file with a reference of its own (`None`: anonymous memory).
    pub(crate) fn file(&self) -> Option<FileRef> {
        // SAFETY: the area holds a reference on its file while the mmap lock is held
        // (invariant), so it is live to take another.
        unsafe { FileRef::get(self.fields().vm_file) }
    }

    /// Whether the area is shared anonymous memory (`MAP_SHARED | MAP_ANONYMOUS`, a shmem
    /// object of its own) held by this area alone: its file has one reference (each area of each
    /// process mapping it holds one; a fork's copy, a split of the area or an `mremap` alias
    /// would add one) and its dentry one (a second open through `/proc/PID/map_files` would add
    /// one). Such memory is shared with nobody and can move as its contents. Only a fork of this
    /// mm could add a holder that this check misses, and that needs the mmap lock held here.
    pub(crate) fn sole_shared_anon(&self) -> bool {
        let file = self.fields().vm_file;
        // SAFETY: the area and its file (the area holds a reference) stay valid under the mmap
        // lock (invariant); the two counts are read once each, as `file_count()` and
        // `d_count()` read them.
        unsafe {
            if self.flags() & vmf::SHARED == 0
                || file.is_null()
                || !bindings::vma_is_anon_shmem(self.vma)
            {
                return false;
            }
            let files = ptr::read_volatile(&(*file).f_count.counter);
            let dentry = (*file).f_path.dentry;
            let dentries =
                ptr::read_volatile(&(*dentry).d_lockref.__bindgen_anon_1.__bindgen_anon_1.count);
            files == 1 && dentries == 1
        }
    }
}

/// Calls `f` for each memory area of `mm` in address order, under `mm`'s mmap read lock,
/// until `f` fails; returns its error. `f` must not sleep on anything that takes that lock
/// for writing.
///
/// # Safety
///
/// `mm` is a valid mm that stays alive during the call (current's, or one the caller holds a
/// reference to).
pub(crate) unsafe fn for_each_vma(
    mm: *mut bindings::mm_struct,
    mut f: impl FnMut(&Vma<'_>) -> Result,
) -> Result {
    // SAFETY: `mm` is valid (the contract); find_vma is called under its mmap read lock and the
    // areas it returns are used only while it is held.
    unsafe {
        bindings::mmap_read_lock(mm);
        let mut addr: c_ulong = 0;
        let mut res = Ok(());
        loop {
            let vma = bindings::find_vma(mm, addr);
            if vma.is_null() {
                break;
            }
            // INVARIANT: an area of `mm`, whose read lock is held until after the callback.
            let a = Vma {
                vma,
                _lock: PhantomData,
            };
            addr = a.end() as c_ulong;
            res = f(&a);
            if res.is_err() {
                break;
            }
        }
        bindings::mmap_read_unlock(mm);
        res
    }
}
