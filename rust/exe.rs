// SPDX-License-Identifier: GPL-2.0
//! A program file as `execve` opens it, or a file as `mmap` maps it, examined so that a
//! migrated process can exec or map it where it runs: whether the calling task may execute
//! it, whether exec would raise its privileges, its identity, its contents and its absolute
//! path; and the mapping itself.
//!
//! C header: `include/linux/fs.h` (`filp_open`, `kernel_read`, `inode_permission`, `fput`),
//! `include/linux/file.h` (`fget`), `include/linux/mm.h` (`vm_mmap`), `include/linux/dcache.h`
//! (`d_path`), `include/linux/xattr.h` (`vfs_getxattr`, declared here: the bindings do not
//! include that header).

use core::ptr;

use kernel::bindings;
use kernel::c_str;
use kernel::error::from_err_ptr;
use kernel::ffi::{c_char, c_int, c_void};
use kernel::prelude::*;
use kernel::str::CStr;

use crate::kapi::uctx::files::FileRef;
use crate::kapi::uctx::UserCtx;

extern "C" {
    /// `ssize_t vfs_getxattr(struct mnt_idmap *, struct dentry *, const char *, void *, size_t)`
    /// (`fs/xattr.c`, exported); the idmap and dentry pointers are passed as `void *`.
    fn vfs_getxattr(
        idmap: *mut c_void,
        dentry: *mut c_void,
        name: *const c_char,
        value: *mut c_void,
        size: usize,
    ) -> isize;
}

/// `O_LARGEFILE` on x86-64.
const O_LARGEFILE: c_int = 0o100000;
/// `MAY_EXEC` of `inode_permission`.
const MAY_EXEC: c_int = 1;
/// `MNT_NOEXEC` of `vfsmount::mnt_flags`, `SB_I_NOEXEC` of `super_block::s_iflags`.
const MNT_NOEXEC: c_int = 0x04;
const SB_I_NOEXEC: u64 = 0x02;
/// `FMODE_READ` of `file::f_mode`.
const FMODE_READ: u32 = 1;
/// `HUGETLBFS_MAGIC` of `super_block::s_magic`.
const HUGETLBFS_MAGIC: u64 = 0x9584_58f6;
/// `MAP_HUGETLB`: `mmap` refuses it for a file that is not a hugetlbfs file.
const MAP_HUGETLB: u64 = 0x40000;
/// File type and set-id bits of `i_mode`.
const S_IFMT: u32 = 0o170000;
const S_IFREG: u32 = 0o100000;
const S_ISUID: u32 = 0o4000;
const S_ISGID: u32 = 0o2000;
const S_IXGRP: u32 = 0o0010;

/// Identity of a file's contents as its file system keeps it: device, inode number, size,
/// modification and change times (s, ns). Equal identities on one node mean the same contents
/// (a write changes the times), so the hash of the contents can be kept for it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Identity {
    pub(crate) dev: u32,
    pub(crate) ino: u64,
    pub(crate) size: u64,
    pub(crate) mtime: (i64, u32),
    pub(crate) ctime: (i64, u32),
}

/// A file: a program opened for reading with the calling task's credentials, checked as
/// `execve` checks it (`do_open_execat`), a regular file opened so, or a file of the calling
/// task's descriptor table.
///
/// # Invariants
///
/// `f` is an open file, owned by this value (one reference, put on drop).
pub(crate) struct ExecFile {
    f: *mut bindings::file,
}

impl ExecFile {
    /// Opens `path` (resolved in the calling task's root and working directory) as a program:
    /// a regular file on a mount that allows exec, which the task may execute. Errors: those of
    /// the open (`ENOENT`, `ENOTDIR`, `EACCES`, `ELOOP`, ...), `EACCES` when the file is not
    /// regular, its mount is `noexec` or the task may not execute it (as `execve` reports).
    pub(crate) fn open(path: &CStr) -> Result<Self> {
        let me = Self::open_regular(path)?;
        // SAFETY: an open file (invariant) has a valid inode and mount.
        let may = unsafe {
            let f = me.f;
            bindings::inode_permission((*(*f).f_path.mnt).mnt_idmap, (*f).f_inode, MAY_EXEC) == 0
        };
        if !may || !me.exec_mount() {
            return Err(EACCES);
        }
        Ok(me)
    }

    /// Opens `path` for reading (resolved in the calling task's root and working directory, with
    /// its credentials). Errors: those of the open, `EACCES` when the file is not regular.
    pub(crate) fn open_regular(path: &CStr) -> Result<Self> {
        // SAFETY: `path` is NUL-terminated; filp_open resolves it in current's context.
        let f = from_err_ptr(unsafe {
            bindings::filp_open(
                path.as_char_ptr(),
                bindings::O_RDONLY as c_int | O_LARGEFILE,
                0,
            )
        })?;
        // INVARIANT: an open file, owned from here on.
        let me = ExecFile { f };
        if !me.is_regular() {
            return Err(EACCES);
        }
        Ok(me)
    }

    /// The file of descriptor `fd` of the calling task (the low 32 bits, as `mmap` takes it).
    /// Errors: `EBADF`.
    pub(crate) fn from_fd(fd: u64) -> Result<Self> {
        // SAFETY: fget looks `fd` up in current's table and takes a reference, or returns NULL.
        let f = unsafe { bindings::fget(fd as u32) };
        if f.is_null() {
            return Err(EBADF);
        }
        // INVARIANT: the reference fget took is ours.
        Ok(ExecFile { f })
    }

    /// The file `r` refers to, its reference now this value's.
    pub(crate) fn from_ref(r: FileRef) -> Self {
        // INVARIANT: `into_raw` hands over the reference `r` held.
        ExecFile {
            f: r.into_raw().as_ptr(),
        }
    }

    /// Whether it is a regular file.
    pub(crate) fn is_regular(&self) -> bool {
        // SAFETY: an open file (invariant) has a valid inode.
        unsafe { (*(*self.f).f_inode).i_mode as u32 & S_IFMT == S_IFREG }
    }

    /// Whether it is a hugetlbfs file (memory, not contents a node could hold identically).
    pub(crate) fn hugetlb(&self) -> bool {
        // SAFETY: an open file (invariant) has a valid inode and super block.
        unsafe { (*(*(*self.f).f_inode).i_sb).s_magic as u64 == HUGETLBFS_MAGIC }
    }

    /// Whether it was opened for reading (`FMODE_READ`), as every mapping of it needs.
    pub(crate) fn readable(&self) -> bool {
        // SAFETY: the file is open (invariant).
        unsafe { (*self.f).f_mode & FMODE_READ != 0 }
    }

    /// Whether its mount allows exec (neither `MNT_NOEXEC` nor `SB_I_NOEXEC`): `execve` and a
    /// `PROT_EXEC` mapping need it.
    pub(crate) fn exec_mount(&self) -> bool {
        // SAFETY: an open file (invariant) has a valid mount and super block.
        unsafe {
            let mnt = (*self.f).f_path.mnt;
            (*mnt).mnt_flags & MNT_NOEXEC == 0
                && (*(*mnt).mnt_sb).s_iflags as u64 & SB_I_NOEXEC == 0
        }
    }

    /// Maps it into the calling task's memory as `mmap(addr, len, prot, flags, -, off)` would
    /// (`vm_mmap`: the same checks, the security hook, `MAP_FIXED` and the rest of the flags);
    /// `u` proves the caller is a user task with its own memory. Returns the address. Errors:
    /// those of `mmap` (`EINVAL` for a misaligned offset or `MAP_HUGETLB`, `ENOMEM`, `EACCES`,
    /// `EPERM`, ...).
    pub(crate) fn map(
        &self,
        _u: &UserCtx,
        addr: u64,
        len: u64,
        prot: u64,
        flags: u64,
        off: u64,
    ) -> Result<u64> {
        if flags & MAP_HUGETLB != 0 {
            return Err(EINVAL);
        }
        // SAFETY: the file is open (invariant); vm_mmap maps it into current's mm (a user
        // task's, as `UserCtx` guarantees), taking the mmap lock and its own file reference.
        let r = unsafe {
            bindings::vm_mmap(self.f, addr as _, len as _, prot as _, flags as _, off as _)
        };
        let r = r as u64;
        if r >= (-4095i64) as u64 {
            return Err(Error::from_errno(r as i64 as c_int));
        }
        Ok(r)
    }

    /// Whether executing it changes credentials: set-user-ID, set-group-ID (with group execute,
    /// as `bprm_fill_uid` decides) or file capabilities (`security.capability`).
    pub(crate) fn raises_privileges(&self) -> bool {
        // SAFETY: the file is open (invariant): its inode, dentry and mount are valid; a NULL
        // value buffer of size 0 asks only for the attribute's size.
        unsafe {
            let mode = (*(*self.f).f_inode).i_mode as u32;
            if mode & S_ISUID != 0 || mode & (S_ISGID | S_IXGRP) == S_ISGID | S_IXGRP {
                return true;
            }
            let caps = c_str!("security.capability");
            vfs_getxattr(
                (*(*self.f).f_path.mnt).mnt_idmap.cast(),
                (*self.f).f_path.dentry.cast(),
                caps.as_char_ptr(),
                ptr::null_mut(),
                0,
            ) > 0
        }
    }

    /// The file's [`Identity`].
    pub(crate) fn identity(&self) -> Identity {
        // SAFETY: the file is open (invariant): its inode and super block are valid.
        unsafe {
            let i = (*self.f).f_inode;
            Identity {
                dev: (*(*i).i_sb).s_dev,
                ino: (*i).i_ino as u64,
                size: (*i).i_size as u64,
                mtime: ((*i).i_mtime_sec, (*i).i_mtime_nsec),
                ctime: ((*i).i_ctime_sec, (*i).i_ctime_nsec),
            }
        }
    }

    /// Reads from offset `pos` into `buf`: the bytes read (0 at the end). Errors: the read's.
    pub(crate) fn read_at(&self, pos: u64, buf: &mut [u8]) -> Result<usize> {
        let mut off = pos as bindings::loff_t;
        // SAFETY: the file is open (invariant); `buf` is writable for its length.
        let r =
            unsafe { bindings::kernel_read(self.f, buf.as_mut_ptr().cast(), buf.len(), &mut off) };
        if r < 0 {
            Err(Error::from_errno(r as c_int))
        } else {
            Ok(r as usize)
        }
    }

    /// Its absolute path in the calling task's root (`d_path`), written at the end of `buf`
    /// (without a NUL). Errors: `ENAMETOOLONG`, or `ENOENT` when the file was unlinked.
    pub(crate) fn abs_path<'b>(&self, buf: &'b mut [u8]) -> Result<&'b [u8]> {
        // SAFETY: the file is open (invariant); `buf` is writable for its length (an int).
        let p = from_err_ptr(unsafe {
            bindings::d_path(
                &(*self.f).f_path,
                buf.as_mut_ptr().cast(),
                buf.len().min(i32::MAX as usize) as c_int,
            )
        })?;
        let start = (p as usize).wrapping_sub(buf.as_ptr() as usize);
        if start >= buf.len() {
            return Err(super::errno::enametoolong());
        }
        let s = &buf[start..];
        let end = s.iter().position(|&c| c == 0).unwrap_or(s.len());
        // d_path marks an unlinked file with " (deleted)": not a path to exec.
        if s[..end].ends_with(b" (deleted)") {
            return Err(ENOENT);
        }
        Ok(&buf[start..start + end])
    }
}

impl Drop for ExecFile {
    fn drop(&mut self) {
        // SAFETY: owned reference (invariant).
        unsafe { bindings::fput(self.f) };
    }
}

// SAFETY: a file reference may be used and put from any sleepable thread.
unsafe impl Send for ExecFile {}
