// SPDX-License-Identifier: GPL-2.0
//! The memory map of the user task running the hook: its areas, layout, anonymous mappings, the
//! vDSO, and writes into its memory.
//!
//! C header: `include/linux/mm.h`, `include/linux/mm_types.h`, `arch/x86/include/asm/vdso.h`.

use core::ptr;

use kernel::bindings;
use kernel::ffi::{c_int, c_ulong, c_void};
use kernel::prelude::*;

use super::vma::for_each_vma;
use super::{cur, UserCtx, NMM};

/// One memory area of current.
#[derive(Clone, Copy, Debug)]
pub(crate) struct VmaDesc {
    /// Start address.
    pub(crate) start: u64,
    /// End address (exclusive).
    pub(crate) end: u64,
    /// `vm_flags`.
    pub(crate) flags: u64,
    /// Backed by a file.
    pub(crate) file: bool,
    /// Shared anonymous memory (`MAP_SHARED | MAP_ANONYMOUS`) that no other area, process or
    /// descriptor holds: see [`super::vma::Vma::sole_shared_anon`].
    pub(crate) sole_shared_anon: bool,
}

/// `vm_flags` bits.
pub(crate) mod vmf {
    use kernel::bindings;
    /// Readable.
    pub(crate) const READ: u64 = bindings::VM_READ as u64;
    /// Writable.
    pub(crate) const WRITE: u64 = bindings::VM_WRITE as u64;
    /// Shared mapping.
    pub(crate) const SHARED: u64 = bindings::VM_SHARED as u64;
    /// May become writable.
    pub(crate) const MAYWRITE: u64 = bindings::VM_MAYWRITE as u64;
    /// Grows down.
    pub(crate) const GROWSDOWN: u64 = bindings::VM_GROWSDOWN as u64;
    /// I/O, PFN or mixed mappings: device memory.
    pub(crate) const DEVICE: u64 =
        (bindings::VM_IO | bindings::VM_PFNMAP | bindings::VM_MIXEDMAP) as u64;
}

/// Size of the vvar area in front of the vDSO text.
pub(crate) fn vvar_size() -> u64 {
    // SAFETY: `vdso_image_64` is a constant exported by patches/0004.
    (unsafe { bindings::vdso_image_64.sym_vvar_start }).unsigned_abs() as u64
}

impl UserCtx {
    /// current's memory areas, in address order. Errors: `ENOMEM`, `EINVAL` without an mm.
    pub(crate) fn vmas(&self) -> Result<KVec<VmaDesc>> {
        let mut v = KVec::new();
        // SAFETY: current's mm, alive while current runs this (`UserCtx` invariant).
        let mm = unsafe { (*cur()).mm };
        if mm.is_null() {
            return Err(EINVAL);
        }
        // SAFETY: as above.
        unsafe {
            for_each_vma(mm, |a| {
                let d = VmaDesc {
                    start: a.start(),
                    end: a.end(),
                    flags: a.flags(),
                    file: a.has_file(),
                    sole_shared_anon: a.sole_shared_anon(),
                };
                v.push(d, GFP_KERNEL)?;
                Ok(())
            })?;
        }
        Ok(v)
    }

    /// current's mm layout in `proto::mig` order: start_code end_code start_data end_data start_brk
    /// brk start_stack arg_start arg_end env_start env_end, vDSO text address, vvar start.
    pub(crate) fn layout(&self) -> Result<[u64; NMM]> {
        // SAFETY: current's mm is non-NULL and valid (`UserCtx` invariant); these words are read
        // as /proc/PID/stat reads them.
        unsafe {
            let mm = (*cur()).mm;
            if mm.is_null() {
                return Err(EINVAL);
            }
            let m = &(*mm).__bindgen_anon_1;
            let vdso = m.context.vdso as u64;
            Ok([
                m.start_code as u64,
                m.end_code as u64,
                m.start_data as u64,
                m.end_data as u64,
                m.start_brk as u64,
                m.brk as u64,
                m.start_stack as u64,
                m.arg_start as u64,
                m.arg_end as u64,
                m.env_start as u64,
                m.env_end as u64,
                vdso,
                vdso.wrapping_sub(vvar_size()),
            ])
        }
    }

    /// Installs an mm layout (the first 11 values of [`layout`]; the vDSO is mapped separately).
    pub(crate) fn set_layout(&self, l: &[u64; NMM]) -> Result {
        // SAFETY: current's mm is non-NULL and valid (`UserCtx` invariant); the fields are
        // written under the mmap write lock (as
        // prctl(PR_SET_MM) does; arg/env bounds are also read under arg_lock by /proc, a plain word
        // store is what prctl_set_mm_map does under the mmap lock).
        unsafe {
            let mm = (*cur()).mm;
            if mm.is_null() {
                return Err(EINVAL);
            }
            bindings::mmap_write_lock(mm);
            let m = &mut (*mm).__bindgen_anon_1;
            m.start_code = l[0] as c_ulong;
            m.end_code = l[1] as c_ulong;
            m.start_data = l[2] as c_ulong;
            m.end_data = l[3] as c_ulong;
            m.start_brk = l[4] as c_ulong;
            m.brk = l[5] as c_ulong;
            m.start_stack = l[6] as c_ulong;
            m.arg_start = l[7] as c_ulong;
            m.arg_end = l[8] as c_ulong;
            m.env_start = l[9] as c_ulong;
            m.env_end = l[10] as c_ulong;
            bindings::mmap_write_unlock(mm);
        }
        Ok(())
    }

    /// Maps anonymous memory at exactly `addr` (replacing what was there): private, or
    /// `shared` (`MAP_SHARED`, a new shmem object of its own). `prot`: PROT_READ 1 |
    /// PROT_WRITE 2 | PROT_EXEC 4. Errors: `ENOMEM`, `EINVAL`.
    pub(crate) fn map_anon(
        &self,
        addr: u64,
        len: u64,
        prot: u32,
        growsdown: bool,
        shared: bool,
    ) -> Result {
        let kind = if shared {
            bindings::MAP_SHARED
        } else {
            bindings::MAP_PRIVATE
        };
        let mut flags = kind | bindings::MAP_ANONYMOUS | bindings::MAP_FIXED;
        if growsdown {
            flags |= bindings::MAP_GROWSDOWN;
        }
        // SAFETY: vm_mmap on current's mm with no file; takes the mmap lock itself.
        let r = unsafe {
            bindings::vm_mmap(
                ptr::null_mut(),
                addr as c_ulong,
                len as c_ulong,
                (prot & 7) as c_ulong,
                flags as c_ulong,
                0,
            )
        };
        if r as u64 != addr {
            if (r as i64) < 0 && (r as i64) >= -4095 {
                return Err(Error::from_errno(r as i64 as c_int));
            }
            return Err(EINVAL);
        }
        Ok(())
    }

    /// Maps `len` bytes of anonymous private memory wherever the kernel finds room; returns the
    /// address. Errors: `ENOMEM`.
    pub(crate) fn map_anywhere(&self, len: u64, prot: u32) -> Result<u64> {
        // SAFETY: as in `map_anon`, without a fixed address.
        let r = unsafe {
            bindings::vm_mmap(
                ptr::null_mut(),
                0,
                len as c_ulong,
                (prot & 7) as c_ulong,
                (bindings::MAP_PRIVATE | bindings::MAP_ANONYMOUS) as c_ulong,
                0,
            )
        };
        if (r as i64) < 0 && (r as i64) >= -4095 {
            return Err(Error::from_errno(r as i64 as c_int));
        }
        Ok(r as u64)
    }

    /// Unmaps `[addr, addr + len)` from current. Errors from `vm_munmap`.
    pub(crate) fn unmap(&self, addr: u64, len: u64) -> Result {
        // SAFETY: vm_munmap on current's mm; takes the mmap lock itself.
        let r = unsafe { bindings::vm_munmap(addr as c_ulong, len as usize) };
        if r != 0 {
            return Err(Error::from_errno(r));
        }
        Ok(())
    }

    /// Writes `data` at `addr` of current's memory even where the mapping is not writable (as a
    /// debugger's poke does: private pages are copied on write). Errors: `EFAULT`.
    pub(crate) fn poke(&self, addr: u64, data: &[u8]) -> Result {
        let flags = bindings::FOLL_FORCE | bindings::FOLL_WRITE;
        // SAFETY: access_process_vm copies `data.len()` bytes from our buffer into current's memory
        // through get_user_pages; `data` is readable (the callee only reads it for a write).
        let n = unsafe {
            bindings::access_process_vm(
                cur(),
                addr as c_ulong,
                data.as_ptr().cast_mut().cast::<c_void>(),
                data.len() as c_int,
                flags,
            )
        };
        if n != data.len() as c_int {
            return Err(EFAULT);
        }
        Ok(())
    }

    /// Maps the 64-bit vDSO with its vvar area starting at `vvar` (the vDSO text follows it).
    /// Errors: `EEXIST` if current already has a vDSO, errors of the mapping.
    pub(crate) fn map_vdso(&self, vvar: u64) -> Result {
        // SAFETY: map_vdso_once (exported by patches/0004) maps into current's mm under its lock.
        let r = unsafe { bindings::map_vdso_once(&bindings::vdso_image_64, vvar as c_ulong) };
        if r != 0 {
            return Err(Error::from_errno(r));
        }
        Ok(())
    }

    /// The address of current's vDSO text (0 if none).
    pub(crate) fn vdso_addr(&self) -> u64 {
        // SAFETY: current's mm is non-NULL and valid (`UserCtx` invariant); `context.vdso` is set
        // at exec and by map_vdso.
        unsafe {
            let mm = (*cur()).mm;
            if mm.is_null() {
                0
            } else {
                (*mm).__bindgen_anon_1.context.vdso as u64
            }
        }
    }

    /// Whether current's user instruction pointer is inside its vDSO text. A clock read there
    /// combines values of this node's vvar data held in registers with data read later: a process
    /// must not change nodes in the middle of one.
    pub(crate) fn ip_in_vdso(&self) -> bool {
        let vdso = self.vdso_addr();
        // SAFETY: `vdso_image_64` is a constant exported by patches/0004.
        let size = unsafe { bindings::vdso_image_64.size } as u64;
        match self.regs() {
            Ok(r) => vdso != 0 && r[16] >= vdso && r[16] < vdso + size,
            Err(_) => false,
        }
    }
}
