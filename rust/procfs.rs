// SPDX-License-Identifier: GPL-2.0
//! A small `/proc` tree owned by Rust: directories and text files backed by a [`ProcHandler`].
//!
//! Reads go through `seq_file` (`single_open`), so readers get ordinary file semantics (offsets,
//! short reads, `lseek`). Writes are limited to [`MAX_WRITE`] bytes, need `CAP_SYS_ADMIN`, and
//! are handed to the handler as one byte slice; its error becomes the `write(2)` errno.
//!
//! Lifetime model: a [`ProcTree`] owns a top-level directory, every entry below it, and the data
//! of every file. Dropping the tree calls `proc_remove` on the top directory, which removes the
//! whole subtree and waits until no file operation of any entry is still running; only then is
//! the handler data freed. [`ProcTree::remove`] does the same for one subdirectory.
//!
//! C header: `include/linux/proc_fs.h`, `include/linux/seq_file.h`.

use core::fmt;
use core::ptr;
use kernel::ffi::{c_char, c_int, c_void};

use kernel::alloc::{flags::GFP_KERNEL, KBox, KVec};
use kernel::bindings;
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::sync::Arc;
use kernel::types::ForeignOwnable;
use kernel::uaccess::UserSlice;

/// Largest write accepted by a proc file, in bytes. Longer writes fail with `EINVAL`.
pub(crate) const MAX_WRITE: usize = 4096;

/// Output of a proc file read: text appended to the `seq_file` buffer.
///
/// # Invariants
///
/// Points to the `seq_file` of a read in progress for the duration of `show`.
pub(crate) struct SeqWriter {
    m: *mut bindings::seq_file,
}

impl fmt::Write for SeqWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // SAFETY: by the type invariant `m` is a live seq_file; `s` is valid for `s.len()` bytes.
        // On overflow seq_write marks the buffer overflowed and seq_read retries with a larger
        // buffer, so the return value needs no handling here.
        unsafe { bindings::seq_write(self.m, s.as_ptr().cast(), s.len()) };
        Ok(())
    }
}

/// The behaviour of the files of a [`ProcTree`]. One handler serves many files, told apart by
/// the `key` given at creation.
pub(crate) trait ProcHandler: Send + Sync + 'static {
    /// Writes the content of file `key` to `out`. An error becomes the `read(2)` errno.
    fn show(&self, key: u32, out: &mut SeqWriter) -> Result;

    /// Handles a write of `input` (at most [`MAX_WRITE`] bytes, caller has `CAP_SYS_ADMIN`) to
    /// file `key`. The default refuses with `EACCES`.
    fn store(&self, key: u32, input: &[u8]) -> Result {
        let _ = (key, input);
        Err(EACCES)
    }
}

/// The data behind one proc file, reached from C through `pde_data()` and `seq_file::private`.
struct Entry<T: ProcHandler> {
    handler: Arc<T>,
    key: u32,
}

/// Handle of a directory inside a [`ProcTree`] (an index; only meaningful for its own tree).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DirId(usize);

/// Type-erased owner of an `Entry<T>` handed to C with `into_foreign`; `ptr` is null once freed.
struct ForeignData {
    ptr: *const c_void,
    dir: usize,
    free: unsafe fn(*const c_void),
}

/// One directory of a tree; `de` is null once removed.
struct DirSlot {
    de: *mut bindings::proc_dir_entry,
    parent: usize,
}

/// # Safety
/// `ptr` must come from `KBox::<Entry<T>>::into_foreign` and no longer be reachable from C.
unsafe fn free_entry<T: ProcHandler>(ptr: *const c_void) {
    // SAFETY: guaranteed by the caller.
    drop(unsafe { KBox::<Entry<T>>::from_foreign(ptr) });
}

/// Owner of a `/proc` subtree. See the module documentation for the lifetime model.
///
/// # Invariants
///
/// `dirs[0].de` is the top directory, created by `proc_mkdir` and not yet removed; every other
/// non-null `dirs[i].de` is a live directory inside `dirs[dirs[i].parent]`, with `parent < i`. A
/// non-null `data[i].ptr` is the data of a live file in directory `data[i].dir`.
pub(crate) struct ProcTree {
    dirs: KVec<DirSlot>,
    data: KVec<ForeignData>,
}

// SAFETY: the raw pointers are proc entries, which the proc layer allows to be created and removed
// from any process context; the handler data is `Send + Sync` (`ProcHandler` bounds).
unsafe impl Send for ProcTree {}
// SAFETY: `&ProcTree` exposes no operation at all.
unsafe impl Sync for ProcTree {}

impl ProcTree {
    /// Creates `/proc/<name>`. Errors: `ENOMEM` (also when the name exists already).
    pub(crate) fn new(name: &CStr) -> Result<Self> {
        // SAFETY: `name` is NUL-terminated; a null parent means `/proc` itself.
        let top = unsafe { bindings::proc_mkdir(name.as_char_ptr(), ptr::null_mut()) };
        if top.is_null() {
            return Err(ENOMEM);
        }
        let mut dirs = KVec::new();
        if let Err(e) = dirs.push(DirSlot { de: top, parent: 0 }, GFP_KERNEL) {
            // SAFETY: `top` was just created and is not referenced anywhere else.
            unsafe { bindings::proc_remove(top) };
            return Err(e.into());
        }
        Ok(ProcTree {
            dirs,
            data: KVec::new(),
        })
    }

    /// The top directory.
    pub(crate) fn root(&self) -> DirId {
        DirId(0)
    }

    fn dir(&self, id: DirId) -> Result<*mut bindings::proc_dir_entry> {
        match self.dirs.get(id.0) {
            Some(d) if !d.de.is_null() => Ok(d.de),
            _ => Err(ENOENT),
        }
    }

    /// Creates directory `name` in `parent`. Errors: `ENOENT` (bad parent), `ENOMEM`.
    pub(crate) fn mkdir(&mut self, parent: DirId, name: &CStr) -> Result<DirId> {
        let p = self.dir(parent)?;
        self.dirs.reserve(1, GFP_KERNEL)?;
        // SAFETY: `name` is NUL-terminated and `p` is a live directory (type invariant).
        let d = unsafe { bindings::proc_mkdir(name.as_char_ptr(), p) };
        if d.is_null() {
            return Err(ENOMEM);
        }
        let id = DirId(self.dirs.len());
        // Cannot fail: capacity was reserved above.
        self.dirs.push(
            DirSlot {
                de: d,
                parent: parent.0,
            },
            GFP_KERNEL,
        )?;
        Ok(id)
    }

    /// Creates file `name` in `parent` with permission bits `mode` (e.g. `0o444`, `0o644`);
    /// reads call `handler.show(key, ..)`, writes `handler.store(key, ..)`.
    /// Errors: `ENOENT` (bad parent), `ENOMEM`.
    pub(crate) fn file<T: ProcHandler>(
        &mut self,
        parent: DirId,
        name: &CStr,
        mode: u16,
        handler: Arc<T>,
        key: u32,
    ) -> Result {
        let p = self.dir(parent)?;
        self.data.reserve(1, GFP_KERNEL)?;
        let data = KBox::new(Entry { handler, key }, GFP_KERNEL)?.into_foreign();
        // SAFETY: `name` is NUL-terminated, `p` is live, `Ops::<T>::OPS` is a 'static proc_ops
        // whose callbacks expect exactly `data` (a `KBox<Entry<T>>`) as the entry's data.
        let e = unsafe {
            bindings::proc_create_data(
                name.as_char_ptr(),
                mode & 0o777,
                p,
                &Ops::<T>::OPS,
                data.cast_mut(),
            )
        };
        if e.is_null() {
            // SAFETY: `data` came from `into_foreign` above and C never saw it.
            unsafe { free_entry::<T>(data) };
            return Err(ENOMEM);
        }
        // Cannot fail: capacity was reserved above.
        self.data.push(
            ForeignData {
                ptr: data,
                dir: parent.0,
                free: free_entry::<T>,
            },
            GFP_KERNEL,
        )?;
        Ok(())
    }

    /// Removes directory `id` (not the top one) with everything below it, waiting for running
    /// file operations to finish, then frees the data of its files. Errors: `ENOENT`, `EINVAL`.
    pub(crate) fn remove(&mut self, id: DirId) -> Result {
        if id.0 == 0 {
            return Err(EINVAL);
        }
        let d = self.dir(id)?;
        // SAFETY: `d` is live; proc_remove removes it and its subtree and waits for in-flight
        // operations (proc_entry_rundown), after which no callback can use their data.
        unsafe { bindings::proc_remove(d) };
        // Directories below `id` are gone too; children always have larger indices than their
        // parents, so one forward pass marks the whole subtree.
        self.dirs[id.0].de = ptr::null_mut();
        for i in (id.0 + 1)..self.dirs.len() {
            let p = self.dirs[i].parent;
            if self.dirs[p].de.is_null() {
                self.dirs[i].de = ptr::null_mut();
            }
        }
        for f in self.data.as_mut_slice() {
            if !f.ptr.is_null() && self.dirs[f.dir].de.is_null() {
                // SAFETY: the file's entry was removed with its directory above.
                unsafe { (f.free)(f.ptr) };
                f.ptr = ptr::null();
            }
        }
        Ok(())
    }
}

impl Drop for ProcTree {
    fn drop(&mut self) {
        // SAFETY: `dirs[0]` is the live top directory (type invariant); proc_remove removes the
        // whole subtree and waits until no file operation is running on any of its entries.
        unsafe { bindings::proc_remove(self.dirs[0].de) };
        for f in self.data.iter() {
            if !f.ptr.is_null() {
                // SAFETY: the entry owning `f.ptr` was removed above; nothing can reach it now.
                unsafe { (f.free)(f.ptr) };
            }
        }
    }
}

/// Holder of the `proc_ops` table for handler type `T`.
struct Ops<T: ProcHandler>(core::marker::PhantomData<T>);

impl<T: ProcHandler> Ops<T> {
    const OPS: bindings::proc_ops = bindings::proc_ops {
        proc_open: Some(Self::open),
        proc_read: Some(bindings::seq_read),
        proc_write: Some(Self::write),
        proc_lseek: Some(bindings::seq_lseek),
        proc_release: Some(bindings::single_release),
        // SAFETY: all other fields are optional callbacks or flags for which zero means "none".
        ..unsafe { core::mem::zeroed() }
    };

    /// # Safety
    /// Called by the proc layer with a live inode of an entry created by [`ProcTree::file`].
    unsafe extern "C" fn open(inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
        // SAFETY: `inode` is live; `i_private` holds the data given to proc_create_data
        // (what C's pde_data() returns).
        let data = unsafe { (*inode).i_private };
        // SAFETY: `file` is the file being opened; `show` expects `data` as seq_file private.
        unsafe { bindings::single_open(file, Some(Self::show), data) }
    }

    /// # Safety
    /// Called by `seq_read` with the `seq_file` set up in [`Self::open`].
    unsafe extern "C" fn show(m: *mut bindings::seq_file, _v: *mut c_void) -> c_int {
        // SAFETY: `private` is the `KBox<Entry<T>>` foreign pointer stored by `open`; the entry
        // and so its data live until proc_remove has waited for this read to finish.
        let entry = unsafe { <KBox<Entry<T>> as ForeignOwnable>::borrow((*m).private) };
        // INVARIANT: `m` is the live seq_file of this read.
        let mut out = SeqWriter { m };
        match entry.handler.show(entry.key, &mut out) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    /// Called by the proc layer for a file opened by [`Self::open`]; `ubuf` is a user pointer.
    unsafe extern "C" fn write(
        file: *mut bindings::file,
        ubuf: *const c_char,
        count: usize,
        _ppos: *mut bindings::loff_t,
    ) -> isize {
        if !super::cred::capable_sys_admin() {
            return EPERM.to_errno() as isize;
        }
        if count > MAX_WRITE {
            return EINVAL.to_errno() as isize;
        }
        let mut buf = KVec::new();
        if let Err(e) = UserSlice::new(ubuf as usize, count).read_all(&mut buf, GFP_KERNEL) {
            return e.to_errno() as isize;
        }
        // SAFETY: single_open stored a seq_file in `private_data`, whose `private` is our entry;
        // the entry lives until proc_remove has waited for this write to finish.
        let entry = unsafe {
            let m = (*file).private_data.cast::<bindings::seq_file>();
            <KBox<Entry<T>> as ForeignOwnable>::borrow((*m).private)
        };
        match entry.handler.store(entry.key, &buf) {
            Ok(()) => count as isize,
            Err(e) => e.to_errno() as isize,
        }
    }
}
