// SPDX-License-Identifier: GPL-2.0
//! A program file as `execve` opens it, examined so that a migrated process can exec where it
//! runs: whether the calling task may execute it, whether exec would raise its privileges, its
//! identity, its contents and its absolute path.
//!
//! C header: `include/linux/fs.h` (`filp_open`, `kernel_read`, `inode_permission`, `fput`),
//! `include/linux/dcache.h` (`d_path`), `include/linux/xattr.h` (`vfs_getxattr`, declared here:
//! the bindings do not include that header).

use core::ptr;

use kernel::bindings;
use kernel::c_str;
use kernel::error::from_err_ptr;
use kernel::ffi::{c_char, c_int, c_void};
use kernel::prelude::*;
use kernel::str::CStr;

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

/// A program file opened for reading with the calling task's credentials, checked as `execve`
/// checks it (`do_open_execat`): a regular file on a mount that allows exec, which the task may
/// execute.
///
/// # Invariants
///
/// `f` is a file from `filp_open`, owned by this value (one reference, put on drop).
pub(crate) struct ExecFile {
    f: *mut bindings::file,
}

impl ExecFile {
    /// Opens `path` (resolved in the calling task's root and working directory). Errors: those
    /// of the open (`ENOENT`, `ENOTDIR`, `EACCES`, `ELOOP`, ...), `EACCES` when the file is not
    /// regular, its mount is `noexec` or the task may not execute it (as `execve` reports).
    pub(crate) fn open(path: &CStr) -> Result<Self> {
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
        // SAFETY: an open file has a valid inode, path, mount and super block.
        let ok = unsafe {
            let inode = (*f).f_inode;
            let mnt = (*f).f_path.mnt;
            (*inode).i_mode as u32 & S_IFMT == S_IFREG
                && (*mnt).mnt_flags & MNT_NOEXEC == 0
                && (*(*mnt).mnt_sb).s_iflags as u64 & SB_I_NOEXEC == 0
                && bindings::inode_permission((*mnt).mnt_idmap, inode, MAY_EXEC) == 0
        };
        if !ok {
            return Err(EACCES);
        }
        Ok(me)
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
