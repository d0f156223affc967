// SPDX-License-Identifier: GPL-2.0
//! Reading a file of the calling task's descriptor table from the kernel, at an offset, without
//! moving its position: a deputy reads ahead for its guest. Only plain files of file systems
//! whose contents at an offset do not depend on who reads them or when are offered (no procfs,
//! sysfs or device files), with a [`Stamp`] that changes when their contents may have.
//!
//! C header: `include/linux/file.h` (`fget`), `include/linux/fs.h` (`kernel_read`,
//! `vfs_llseek`, `struct inode`: `i_version`, `i_size`, times), `include/linux/iversion.h`
//! (the `I_VERSION_QUERIED` flag, bit 0 of `i_version`), `include/uapi/linux/magic.h`.

use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicI64, Ordering};

use kernel::bindings;
use kernel::ffi::{c_int, c_uint};
use kernel::prelude::*;

use super::files::FileRef;
use super::UserCtx;

/// File type bits of `i_mode`.
const S_IFMT: u32 = 0o170000;
const S_IFREG: u32 = 0o100000;
/// `O_DIRECT` of `f_flags` (x86).
const O_DIRECT: u32 = 0o40000;
/// `FS_REQUIRES_DEV` of `file_system_type::fs_flags`: a file system on a block device.
const FS_REQUIRES_DEV: c_int = 1;
/// File systems without a block device whose files read as plain files: tmpfs, ramfs, NFS,
/// 9p and overlayfs (`s_magic`).
const PLAIN_MAGICS: [u64; 5] = [
    0x0102_1994, // TMPFS_MAGIC
    0x8584_58f6, // RAMFS_MAGIC
    0x6969,      // NFS_SUPER_MAGIC
    0x0102_1997, // V9FS_MAGIC
    0x794c_7630, // OVERLAYFS_SUPER_MAGIC
];

/// What a file's contents are, as far as its inode tells: its change counter (`i_version`,
/// which the file systems that keep one bump at every write once it was queried), size, and
/// modification and change times (s, ns). A write or truncation by anyone changes it (on file
/// systems without a counter, within their time granularity).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Stamp {
    version: i64,
    size: i64,
    mtime: (i64, u32),
    ctime: (i64, u32),
}

impl UserCtx {
    /// File `fd` of the calling task's descriptor table when it is a regular file of a file
    /// system listed above or on a block device, not opened `O_DIRECT`: one whose bytes a
    /// deputy may read ahead. `None`: not open, or another kind of file.
    pub(crate) fn plain_file(&self, fd: u64) -> Option<FileRef> {
        if fd > i32::MAX as u64 {
            return None;
        }
        // SAFETY: `fget` looks `fd` up in current's table (the hook runs in current) and
        // returns a counted reference or NULL.
        let raw = NonNull::new(unsafe { bindings::fget(fd as c_uint) })?;
        // SAFETY: the reference `fget` returned, handed over.
        let f = unsafe { FileRef::from_owned(raw) };
        // SAFETY: the file is open (we hold a reference), so its inode, super block and file
        // system type are valid; the fields read are fixed for the file's life.
        let plain = unsafe {
            let file = f.as_ptr();
            let inode = (*file).f_inode;
            let sb = (*inode).i_sb;
            let ty = (*sb).s_type;
            let by_dev = !ty.is_null() && (*ty).fs_flags & FS_REQUIRES_DEV != 0;
            u32::from((*inode).i_mode) & S_IFMT == S_IFREG
                && (*file).f_flags & O_DIRECT == 0
                && (by_dev || PLAIN_MAGICS.contains(&((*sb).s_magic as u64)))
        };
        plain.then_some(f)
    }
}

impl UserCtx {
    /// Whether descriptor `fd` of the calling task is the null device (`/dev/null`, character
    /// device 1:3) open for writing: a write to it returns its count and has no effect.
    pub(crate) fn null_sink(&self, fd: u64) -> bool {
        const NULL_DEV: u32 = (1 << 20) | 3; // MKDEV(MEM_MAJOR, 3)
        const S_IFCHR: u32 = 0o020000;
        const FMODE_WRITE: u32 = 2;
        if fd > i32::MAX as u64 {
            return false;
        }
        // SAFETY: as in `plain_file`: a counted reference or NULL.
        let Some(raw) = NonNull::new(unsafe { bindings::fget(fd as c_uint) }) else {
            return false;
        };
        // SAFETY: the reference `fget` returned, handed over.
        let f = unsafe { FileRef::from_owned(raw) };
        // SAFETY: the file is open (we hold a reference), so its inode is valid; its mode and
        // device number are fixed for its life, as is the file's mode.
        unsafe {
            let file = f.as_ptr();
            let inode = (*file).f_inode;
            u32::from((*inode).i_mode) & S_IFMT == S_IFCHR
                && (*inode).i_rdev == NULL_DEV
                && (*file).f_mode & FMODE_WRITE != 0
        }
    }
}

impl FileRef {
    /// Reads from offset `pos` into `buf` as `pread` does (the file's position is left alone):
    /// the bytes read, 0 at its end. Errors: the read's (`EBADF` for a file not open for
    /// reading, `EINVAL`, `EIO`, ...).
    pub(crate) fn read_at(&self, pos: u64, buf: &mut [u8]) -> Result<usize> {
        let mut off = pos as bindings::loff_t;
        // SAFETY: the file is open (`FileRef` invariant); `buf` is writable for its length.
        let r = unsafe {
            bindings::kernel_read(self.as_ptr(), buf.as_mut_ptr().cast(), buf.len(), &mut off)
        };
        if r < 0 {
            Err(Error::from_errno(r as c_int))
        } else {
            Ok(r as usize)
        }
    }

    /// The file's position (`f_pos`), as a racing `lseek` may leave it.
    pub(crate) fn pos(&self) -> u64 {
        // SAFETY: the file is open (invariant); an aligned 64-bit load of its position, which
        // its owners change under their own locks (a torn value cannot occur on x86-64).
        unsafe { ptr::read_volatile(ptr::addr_of!((*self.as_ptr()).f_pos)) as u64 }
    }

    /// Sets the file's position to `pos`, as `lseek(fd, pos, SEEK_SET)` does. Errors: the
    /// seek's (`EINVAL` beyond the file system's limit).
    pub(crate) fn seek_to(&self, pos: u64) -> Result {
        // SAFETY: the file is open (invariant); `vfs_llseek` takes the locks it needs.
        let r = unsafe {
            bindings::vfs_llseek(
                self.as_ptr(),
                pos as bindings::loff_t,
                bindings::SEEK_SET as c_int,
            )
        };
        if r < 0 {
            Err(Error::from_errno(r as c_int))
        } else {
            Ok(())
        }
    }

    /// The contents' [`Stamp`] now. Marks the change counter as queried, so the next write
    /// bumps it (as `inode_query_iversion` does).
    pub(crate) fn stamp(&self) -> Stamp {
        // SAFETY: the file is open (invariant), so its inode is valid; `i_version` is an
        // aligned atomic64 that writers change with atomic operations, and setting its
        // `I_VERSION_QUERIED` bit (bit 0) is what `inode_query_iversion` does; the size and
        // times are plain aligned loads (a racing write shows as a changed stamp later).
        unsafe {
            let inode = (*self.as_ptr()).f_inode;
            let v = AtomicI64::from_ptr(ptr::addr_of_mut!((*inode).i_version.counter))
                .fetch_or(1, Ordering::AcqRel);
            Stamp {
                version: v >> 1,
                size: ptr::read_volatile(ptr::addr_of!((*inode).i_size)),
                mtime: (
                    ptr::read_volatile(ptr::addr_of!((*inode).i_mtime_sec)),
                    ptr::read_volatile(ptr::addr_of!((*inode).i_mtime_nsec)),
                ),
                ctime: (
                    ptr::read_volatile(ptr::addr_of!((*inode).i_ctime_sec)),
                    ptr::read_volatile(ptr::addr_of!((*inode).i_ctime_nsec)),
                ),
            }
        }
    }
}
