// SPDX-License-Identifier: GPL-2.0
//! General registers and the FPU/XSAVE state of the user task running the hook.
//!
//! C header: `arch/x86/include/asm/ptrace.h`, `include/linux/regset.h`,
//! `arch/x86/include/asm/fpu/api.h` (with `patches/0004` for the uabi xstate helpers).

use kernel::bindings;
use kernel::ffi::{c_int, c_ulong};
use kernel::prelude::*;

use super::{cur, cur_regs, UserCtx, NREGS};

const ARCH_SET_GS: c_int = 0x1001;
const ARCH_SET_FS: c_int = 0x1002;
/// Bits of rflags a user may change (`FLAG_MASK` of arch/x86/kernel/ptrace.c plus ID).
const USER_FLAGS: u64 = 0x0001
    | 0x0004
    | 0x0010
    | 0x0040
    | 0x0080
    | 0x0100
    | 0x0400
    | 0x0800
    | 0x4000
    | 0x1_0000
    | 0x4_0000
    | 0x20_0000;

/// Size of the XSAVE image of [`UserCtx::save_xstate`].
pub(crate) fn xstate_size() -> usize {
    // SAFETY: reads a boot-time constant.
    unsafe { bindings::fpu_uabi_xstate_size() as usize }
}

impl UserCtx {
    /// The general registers in `proto::mig` order (r15..rdi, orig_rax, rip, eflags, rsp, fs_base,
    /// gs_base), read through the x86 `NT_PRSTATUS` regset as ptrace would see them.
    pub(crate) fn regs(&self) -> Result<[u64; NREGS]> {
        let mut ur = [0u64; 27];
        // SAFETY: `task_user_regset_view` returns the static x86-64 view for a 64-bit task; its
        // regset 0 is the general-register set (27 longs, user_regs_struct). Its get callback writes
        // at most `left` bytes into our buffer and supports `target == current` (fs/gs base are
        // read from the CPU then).
        let r = unsafe {
            let view = bindings::task_user_regset_view(cur());
            let rs = (*view).regsets;
            if (*view).n == 0 || (*rs).size != 8 || (*rs).n != 27 {
                return Err(EINVAL);
            }
            let get = (*rs).regset_get.ok_or(EINVAL)?;
            get(
                cur(),
                rs,
                bindings::membuf {
                    p: ur.as_mut_ptr().cast(),
                    left: core::mem::size_of_val(&ur),
                },
            )
        };
        if r < 0 {
            return Err(Error::from_errno(r));
        }
        let mut out = [0u64; NREGS];
        for (o, u) in out.iter_mut().zip(&ur[..17]) {
            *o = *u;
        }
        out[17] = ur[18]; // eflags (ur[17] is cs)
        out[18] = ur[19]; // rsp
        out[19] = ur[21]; // fs_base (ur[20] is ss)
        out[20] = ur[22]; // gs_base
        Ok(out)
    }

    /// Puts back the argument registers (rdi, rsi, rdx, r10, r8, r9) of a system call that the
    /// migration hook rewrote to run another call in its place (`SyscallRegs::set_call`): the
    /// process sees its registers as the call it made leaves them. When the kernel is about to
    /// restart the call (its ip is back on the `syscall` instruction at `entry_ip` - 2), rax
    /// becomes the number `nr` of the call the process made, so that it is the one made again.
    pub(crate) fn restore_call_args(&self, args: &[u64; 6], nr: u64, entry_ip: u64) {
        let p = cur_regs();
        // SAFETY: `p` is current's user register frame, written only by current (us) while in
        // the kernel; the values become the user context on return to user mode.
        unsafe {
            (*p).di = args[0] as c_ulong;
            (*p).si = args[1] as c_ulong;
            (*p).dx = args[2] as c_ulong;
            (*p).r10 = args[3] as c_ulong;
            (*p).r8 = args[4] as c_ulong;
            (*p).r9 = args[5] as c_ulong;
            if (*p).ip as u64 == entry_ip.wrapping_sub(2) {
                (*p).ax = nr as c_ulong;
            }
        }
    }

    /// Installs general registers (same order as [`regs`]). Only user-changeable rflags bits are
    /// taken; cs and ss stay the 64-bit user segments; `orig_rax` is theirs when they show a
    /// system call being restarted ([`crate::proto::restart::interrupted`]), otherwise -1 (no
    /// call to restart). Errors from setting fs/gs base (`EPERM` for a non-canonical address).
    pub(crate) fn set_regs(&self, r: &[u64; NREGS]) -> Result {
        let p = cur_regs();
        // SAFETY: `p` is current's user register frame, written only by current (us) while in the
        // kernel; the values become the user context on return to user mode.
        unsafe {
            (*p).r15 = r[0] as c_ulong;
            (*p).r14 = r[1] as c_ulong;
            (*p).r13 = r[2] as c_ulong;
            (*p).r12 = r[3] as c_ulong;
            (*p).bp = r[4] as c_ulong;
            (*p).bx = r[5] as c_ulong;
            (*p).r11 = r[6] as c_ulong;
            (*p).r10 = r[7] as c_ulong;
            (*p).r9 = r[8] as c_ulong;
            (*p).r8 = r[9] as c_ulong;
            (*p).ax = r[10] as c_ulong;
            (*p).cx = r[11] as c_ulong;
            (*p).dx = r[12] as c_ulong;
            (*p).si = r[13] as c_ulong;
            (*p).di = r[14] as c_ulong;
            (*p).orig_ax = super::restart::orig_ax_of(r) as c_ulong;
            (*p).ip = r[16] as c_ulong;
            (*p).flags = (((*p).flags as u64 & !USER_FLAGS) | (r[17] & USER_FLAGS)) as c_ulong;
            (*p).sp = r[18] as c_ulong;
        }
        for (opt, v) in [(ARCH_SET_FS, r[19]), (ARCH_SET_GS, r[20])] {
            // SAFETY: do_arch_prctl_64 on current with ARCH_SET_FS/GS only validates and writes the
            // base (exported by patches/0004).
            let e = unsafe { bindings::do_arch_prctl_64(cur(), opt, v as c_ulong) };
            if e != 0 {
                return Err(Error::from_errno(e as c_int));
            }
        }
        Ok(())
    }

    /// Copies current's user FPU state (XSAVE format, [`xstate_size`] bytes) into `buf`.
    /// Errors: `EINVAL` if `buf` has the wrong size, `ENODEV` without XSAVE.
    pub(crate) fn save_xstate(&self, buf: &mut [u8]) -> Result {
        // SAFETY: `buf` is writable for its length, which the callee checks.
        let r =
            unsafe { bindings::fpu_save_uabi_xstate(buf.as_mut_ptr().cast(), buf.len() as u32) };
        if r != 0 {
            return Err(Error::from_errno(r));
        }
        Ok(())
    }

    /// Replaces current's user FPU state with an image from [`save_xstate`] (validated as a ptrace
    /// write; nothing changes on error). Errors: `EINVAL`, `ENODEV`.
    pub(crate) fn restore_xstate(&self, buf: &[u8]) -> Result {
        // SAFETY: `buf` is readable for its length, which the callee checks.
        let r = unsafe { bindings::fpu_restore_uabi_xstate(buf.as_ptr().cast(), buf.len() as u32) };
        if r != 0 {
            return Err(Error::from_errno(r));
        }
        Ok(())
    }
}
