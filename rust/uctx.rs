// SPDX-License-Identifier: GPL-2.0
//! The calling task's user context: registers, FPU/XSAVE state, signals, limits, name,
//! credentials and memory map. Process migration captures these from the migrating task in
//! its own context and installs them into the receiving task, also in its own context.
//!
//! Every function here acts on `current` and must be called in process context of a user task
//! (system-call entry hooks, task work, ioctls), never from a kernel thread.

use core::ptr;

use kernel::bindings;
use kernel::ffi::{c_int, c_ulong, c_void};
use kernel::prelude::*;

/// Number of registers of [`regs`]: see `proto::mig::NREGS` for the order.
pub(crate) const NREGS: usize = 21;
/// Number of values of [`layout`]: see `proto::mig::NMM` for the order.
pub(crate) const NMM: usize = 13;

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

fn cur() -> *mut bindings::task_struct {
    // SAFETY: always valid in process context.
    unsafe { bindings::get_current() }
}

fn cur_regs() -> *mut bindings::pt_regs {
    // SAFETY: `current` is a user task (module contract): its pt_regs hold the user registers.
    unsafe { bindings::task_pt_regs(cur()) }
}

/// The general registers in `proto::mig` order (r15..rdi, orig_rax, rip, eflags, rsp, fs_base,
/// gs_base), read through the x86 `NT_PRSTATUS` regset as ptrace would see them.
pub(crate) fn regs() -> Result<[u64; NREGS]> {
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

/// Installs general registers (same order as [`regs`]). Only user-changeable rflags bits are
/// taken; cs and ss stay the 64-bit user segments; `orig_rax` is set to -1 (no system call to
/// restart). Errors from setting fs/gs base (`EPERM` for a non-canonical address).
pub(crate) fn set_regs(r: &[u64; NREGS]) -> Result {
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
        (*p).orig_ax = c_ulong::MAX;
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

/// Size of the XSAVE image of [`save_xstate`].
pub(crate) fn xstate_size() -> usize {
    // SAFETY: reads a boot-time constant.
    unsafe { bindings::fpu_uabi_xstate_size() as usize }
}

/// Copies current's user FPU state (XSAVE format, [`xstate_size`] bytes) into `buf`.
/// Errors: `EINVAL` if `buf` has the wrong size, `ENODEV` without XSAVE.
pub(crate) fn save_xstate(buf: &mut [u8]) -> Result {
    // SAFETY: `buf` is writable for its length, which the callee checks.
    let r = unsafe { bindings::fpu_save_uabi_xstate(buf.as_mut_ptr().cast(), buf.len() as u32) };
    if r != 0 {
        return Err(Error::from_errno(r));
    }
    Ok(())
}

/// Replaces current's user FPU state with an image from [`save_xstate`] (validated as a ptrace
/// write; nothing changes on error). Errors: `EINVAL`, `ENODEV`.
pub(crate) fn restore_xstate(buf: &[u8]) -> Result {
    // SAFETY: `buf` is readable for its length, which the callee checks.
    let r = unsafe { bindings::fpu_restore_uabi_xstate(buf.as_ptr().cast(), buf.len() as u32) };
    if r != 0 {
        return Err(Error::from_errno(r));
    }
    Ok(())
}

/// Signal state of a process: see `proto::mig::State`.
pub(crate) struct Signals {
    /// Blocked mask (bit n-1 = signal n).
    pub(crate) blocked: u64,
    /// Pending signals (private and shared).
    pub(crate) pending: u64,
    /// sigaltstack base, size, flags.
    pub(crate) ss: (u64, u64, u32),
    /// Actions of signals 1..=64: handler, flags, restorer, mask.
    pub(crate) actions: [[u64; 4]; 64],
}

const SIGKILL_STOP: u64 = (1 << 8) | (1 << 18);

/// Reads current's signal state.
pub(crate) fn signals() -> Signals {
    let t = cur();
    let mut s = Signals {
        blocked: 0,
        pending: 0,
        ss: (0, 0, 0),
        actions: [[0; 4]; 64],
    };
    // SAFETY: current's sighand and signal are valid while it runs; the actions and pending sets
    // are read under siglock (irq-safe, as the kernel does); the rest belongs to current.
    unsafe {
        let sh = (*t).sighand;
        bindings::spin_lock_irq(ptr::addr_of_mut!((*sh).siglock));
        s.blocked = (*t).blocked.sig[0] as u64;
        s.pending =
            ((*t).pending.signal.sig[0] | (*(*t).signal).shared_pending.signal.sig[0]) as u64;
        for (i, a) in s.actions.iter_mut().enumerate() {
            let sa = ptr::addr_of!((*sh).action[i].sa);
            a[0] = ptr::read(ptr::addr_of!((*sa).sa_handler).cast::<u64>());
            a[1] = (*sa).sa_flags as u64;
            a[2] = ptr::read(ptr::addr_of!((*sa).sa_restorer).cast::<u64>());
            a[3] = (*sa).sa_mask.sig[0] as u64;
        }
        bindings::spin_unlock_irq(ptr::addr_of_mut!((*sh).siglock));
        s.ss = (
            (*t).sas_ss_sp as u64,
            (*t).sas_ss_size as u64,
            (*t).sas_ss_flags,
        );
    }
    s
}

/// Installs a signal state: actions, altstack, blocked mask; re-raises the pending signals.
pub(crate) fn set_signals(s: &Signals) {
    let t = cur();
    write_actions(|i| Some(s.actions[i]));
    // SAFETY: the altstack belongs to current, which is running this.
    unsafe {
        (*t).sas_ss_sp = s.ss.0 as c_ulong;
        (*t).sas_ss_size = s.ss.1 as usize;
        (*t).sas_ss_flags = s.ss.2;
    }
    set_blocked(s.blocked);
    for sig in 1..=64u32 {
        if s.pending & (1u64 << (sig - 1)) != 0 {
            // SAFETY: sending a signal to current.
            unsafe { bindings::send_sig(sig as c_int, t, 1) };
        }
    }
}

/// Action of a signal at a deputy (see [`set_deputy_actions`]).
pub(crate) const SIG_DFL: u64 = 0;
/// See [`SIG_DFL`].
pub(crate) const SIG_IGN: u64 = 1;
const SA_RESTART: u64 = 0x1000_0000;
const SA_RESTORER: u64 = 0x0400_0000;
/// Signals whose default action is to ignore them: SIGCHLD, SIGCONT, SIGURG, SIGWINCH.
const DEFAULT_IGNORED: u64 = (1 << 16) | (1 << 17) | (1 << 22) | (1 << 27);

/// Gives current (a deputy) actions that catch every signal the process would notice with a
/// handler at `handler` (returning through `restorer`), all signals blocked while it runs, and
/// SA_RESTART as the process had it; signals the process ignores (or ignores by default) keep that
/// disposition, so system calls run for it are interrupted exactly when they would have been.
/// `process` is the process's own actions (from its image).
pub(crate) fn set_deputy_actions(process: &[[u64; 4]; 64], handler: u64, restorer: u64) {
    write_actions(|i| {
        let a = process[i];
        // SIGCONT is always caught (with SA_RESTART): the remote must continue too.
        let keep =
            i != 17 && (a[0] == SIG_IGN || (a[0] == SIG_DFL && DEFAULT_IGNORED & (1 << i) != 0));
        Some(if keep {
            [a[0], 0, 0, !0]
        } else {
            let restart = if i == 17 {
                SA_RESTART
            } else {
                a[1] & SA_RESTART
            };
            [handler, SA_RESTORER | restart, restorer, !0]
        })
    });
}

/// Makes current (a deputy) catch signal `sig` again with the stub handler (see
/// [`set_deputy_actions`]), with `SA_RESTART`.
pub(crate) fn set_catch_action(sig: u32, handler: u64, restorer: u64) {
    write_actions(|i| {
        (i + 1 == sig as usize).then_some([handler, SA_RESTORER | SA_RESTART, restorer, !0])
    });
}

/// Sets the action of signal `sig` (1..=64) of current to its default, so that sending it ends
/// the task as the signal's default action does.
pub(crate) fn set_default_action(sig: u32) {
    write_actions(|i| (i + 1 == sig as usize).then_some([SIG_DFL, 0, 0, 0]));
}

/// Rewrites current's signal actions under siglock (irq-safe, as the kernel does): `f(i)` gives
/// the new action of signal `i + 1` as (handler, flags, restorer, mask), or `None` to keep it.
/// SIGKILL and SIGSTOP are never changed, and no mask blocks them.
fn write_actions(mut f: impl FnMut(usize) -> Option<[u64; 4]>) {
    let t = cur();
    // SAFETY: current's sighand is valid while it runs; the actions are written under its siglock;
    // the handler and restorer are user addresses stored as the kernel stores them (the
    // pointer-sized words of the C unions).
    unsafe {
        let sh = (*t).sighand;
        bindings::spin_lock_irq(ptr::addr_of_mut!((*sh).siglock));
        for i in 0..64 {
            if i == 8 || i == 18 {
                continue;
            }
            let Some(a) = f(i) else { continue };
            let sa = ptr::addr_of_mut!((*sh).action[i].sa);
            ptr::write(ptr::addr_of_mut!((*sa).sa_handler).cast::<u64>(), a[0]);
            (*sa).sa_flags = a[1] as c_ulong;
            ptr::write(ptr::addr_of_mut!((*sa).sa_restorer).cast::<u64>(), a[2]);
            (*sa).sa_mask.sig[0] = (a[3] & !SIGKILL_STOP) as c_ulong;
        }
        bindings::spin_unlock_irq(ptr::addr_of_mut!((*sh).siglock));
    }
}

/// Sets current's blocked mask (SIGKILL and SIGSTOP can never be blocked).
pub(crate) fn set_blocked(mask: u64) {
    let mut set = bindings::sigset_t {
        sig: [(mask & !SIGKILL_STOP) as c_ulong],
    };
    // SAFETY: `set` is a valid sigset; sigprocmask with SIG_SETMASK and no old set.
    unsafe { bindings::sigprocmask(bindings::SIG_SETMASK as c_int, &mut set, ptr::null_mut()) };
}

/// Discards current's pending signals (they were handed over with the process's state).
pub(crate) fn flush_signals() {
    // SAFETY: flushing current's own signals.
    unsafe { bindings::flush_signals(cur()) };
}

/// Resource limits: soft and hard of each of the 16 limits.
pub(crate) fn rlimits() -> [[u64; 2]; 16] {
    let mut r = [[0u64; 2]; 16];
    // SAFETY: current's signal struct is valid; rlim is read racily as getrlimit's fast path
    // would (only current's thread group changes it, and it is single-threaded here).
    unsafe {
        let s = (*cur()).signal;
        for (i, x) in r.iter_mut().enumerate() {
            x[0] = (*s).rlim[i].rlim_cur as u64;
            x[1] = (*s).rlim[i].rlim_max as u64;
        }
    }
    r
}

/// Installs resource limits (soft ≤ hard is enforced by lowering soft).
pub(crate) fn set_rlimits(r: &[[u64; 2]; 16]) {
    let t = cur();
    // SAFETY: written under task_lock of the group leader, as do_prlimit does.
    unsafe {
        let leader = (*t).group_leader;
        bindings::task_lock(leader);
        let s = (*t).signal;
        for (i, x) in r.iter().enumerate() {
            (*s).rlim[i].rlim_max = x[1] as _;
            (*s).rlim[i].rlim_cur = x[0].min(x[1]) as _;
        }
        bindings::task_unlock(leader);
    }
}

/// Sets current's name (`comm`, at most 15 bytes shown).
pub(crate) fn set_comm(comm: &[u8; 16]) {
    let mut b = *comm;
    b[15] = 0;
    // SAFETY: `b` is NUL terminated; __set_task_comm copies it under task_lock (exported by
    // patches/0004).
    unsafe { bindings::__set_task_comm(cur(), b.as_ptr().cast(), false) };
}

/// Sets the ids of a credential set being prepared for a new task (user-mode helper `init`)
/// and drops every capability unless `uid` is 0.
///
/// # Safety
/// `c` must be a credential set under preparation that only the caller may modify.
pub(crate) unsafe fn set_cred_ids(c: *mut bindings::cred, uid: u32, gid: u32) {
    // SAFETY: per the contract.
    unsafe {
        let u = bindings::kuid_t { val: uid };
        let g = bindings::kgid_t { val: gid };
        (*c).uid = u;
        (*c).euid = u;
        (*c).suid = u;
        (*c).fsuid = u;
        (*c).gid = g;
        (*c).egid = g;
        (*c).sgid = g;
        (*c).fsgid = g;
        if uid != 0 {
            let none = bindings::kernel_cap_t { val: 0 };
            (*c).cap_inheritable = none;
            (*c).cap_permitted = none;
            (*c).cap_effective = none;
            (*c).cap_ambient = none;
        }
    }
}

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
}

/// `vm_flags` bits.
pub(crate) mod vmf {
    use kernel::bindings;
    /// Readable.
    pub(crate) const READ: u64 = bindings::VM_READ as u64;
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

/// current's memory areas, in address order. Errors: `ENOMEM`, `EINVAL` without an mm.
pub(crate) fn vmas() -> Result<KVec<VmaDesc>> {
    let mut v = KVec::new();
    // SAFETY: current's mm is valid while it runs (user task); find_vma is called under the mmap
    // read lock and the VMA fields are read under it.
    unsafe {
        let mm = (*cur()).mm;
        if mm.is_null() {
            return Err(EINVAL);
        }
        bindings::mmap_read_lock(mm);
        let mut addr: c_ulong = 0;
        let mut res: Result = Ok(());
        loop {
            let vma = bindings::find_vma(mm, addr);
            if vma.is_null() {
                break;
            }
            let a = &(*vma).__bindgen_anon_1.__bindgen_anon_1;
            let d = VmaDesc {
                start: a.vm_start as u64,
                end: a.vm_end as u64,
                flags: (*vma).__bindgen_anon_2.vm_flags as u64,
                file: !(*vma).vm_file.is_null(),
            };
            addr = a.vm_end;
            if let Err(e) = v.push(d, GFP_KERNEL) {
                res = Err(e.into());
                break;
            }
        }
        bindings::mmap_read_unlock(mm);
        res?;
    }
    Ok(v)
}

/// current's mm layout in `proto::mig` order: start_code end_code start_data end_data start_brk
/// brk start_stack arg_start arg_end env_start env_end, vDSO text address, vvar start.
pub(crate) fn layout() -> Result<[u64; NMM]> {
    // SAFETY: current's mm is valid; these words are read as /proc/PID/stat reads them.
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

/// Size of the vvar area in front of the vDSO text.
pub(crate) fn vvar_size() -> u64 {
    // SAFETY: `vdso_image_64` is a constant exported by patches/0004.
    (unsafe { bindings::vdso_image_64.sym_vvar_start }).unsigned_abs() as u64
}

/// Installs an mm layout (the first 11 values of [`layout`]; the vDSO is mapped separately).
pub(crate) fn set_layout(l: &[u64; NMM]) -> Result {
    // SAFETY: current's mm is valid; the fields are written under the mmap write lock (as
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

/// Maps anonymous private memory at exactly `addr` (replacing what was there).
/// `prot`: PROT_READ 1 | PROT_WRITE 2 | PROT_EXEC 4. Errors: `ENOMEM`, `EINVAL`.
pub(crate) fn map_anon(addr: u64, len: u64, prot: u32, growsdown: bool) -> Result {
    let mut flags = bindings::MAP_PRIVATE | bindings::MAP_ANONYMOUS | bindings::MAP_FIXED;
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
pub(crate) fn map_anywhere(len: u64, prot: u32) -> Result<u64> {
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
pub(crate) fn unmap(addr: u64, len: u64) -> Result {
    // SAFETY: vm_munmap on current's mm; takes the mmap lock itself.
    let r = unsafe { bindings::vm_munmap(addr as c_ulong, len as usize) };
    if r != 0 {
        return Err(Error::from_errno(r));
    }
    Ok(())
}

/// Writes `data` at `addr` of current's memory even where the mapping is not writable (as a
/// debugger's poke does: private pages are copied on write). Errors: `EFAULT`.
pub(crate) fn poke(addr: u64, data: &[u8]) -> Result {
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
pub(crate) fn map_vdso(vvar: u64) -> Result {
    // SAFETY: map_vdso_once (exported by patches/0004) maps into current's mm under its lock.
    let r = unsafe { bindings::map_vdso_once(&bindings::vdso_image_64, vvar as c_ulong) };
    if r != 0 {
        return Err(Error::from_errno(r));
    }
    Ok(())
}

/// The address of current's vDSO text (0 if none).
pub(crate) fn vdso_addr() -> u64 {
    // SAFETY: current's mm is valid; `context.vdso` is set at exec and by map_vdso.
    unsafe {
        let mm = (*cur()).mm;
        if mm.is_null() {
            0
        } else {
            (*mm).__bindgen_anon_1.context.vdso as u64
        }
    }
}

/// Whether a fatal signal (SIGKILL) is pending for current.
pub(crate) fn fatal_signal_pending() -> bool {
    // SAFETY: reading current's pending state.
    unsafe { bindings::fatal_signal_pending(cur()) != 0 }
}

/// current's pid.
pub(crate) fn pid() -> i32 {
    // SAFETY: pid of current never changes.
    unsafe { (*cur()).pid }
}

/// current's `CLOCK_MONOTONIC` and `CLOCK_BOOTTIME` as the process sees them (its time
/// namespace applied), in nanoseconds: (monotonic, boottime).
pub(crate) fn clocks() -> (u64, u64) {
    let (mut m, mut b) = (0u64, 0u64);
    // SAFETY: timens_read_clocks (patches/0007) only reads the clocks and current's time
    // namespace, and writes the two valid out-parameters.
    unsafe { bindings::timens_read_clocks(&mut m, &mut b) };
    (m, b)
}

/// Puts current into a new time namespace whose `CLOCK_MONOTONIC` and `CLOCK_BOOTTIME` read
/// `monotonic` and `boottime` (ns) now, in the vDSO as in system calls: a migrated process's
/// clocks continue from the values they had on the node it left.
/// Errors: `EUSERS` if current's mm is shared, `ERANGE` if a value is out of the clocks' range
/// (beyond `KTIME_SEC_MAX / 2` s), `ENOMEM`/`ENOSPC` (time namespace limit).
pub(crate) fn continue_clocks(monotonic: u64, boottime: u64) -> Result {
    // SAFETY: timens_migrate_clocks (patches/0007) acts on current, which is a user task in
    // process context (see the module doc); it validates both values.
    let r = unsafe { bindings::timens_migrate_clocks(monotonic, boottime) };
    if r != 0 {
        return Err(Error::from_errno(r));
    }
    Ok(())
}

/// Whether current's user instruction pointer is inside its vDSO text. A clock read there
/// combines values of this node's vvar data held in registers with data read later: a process
/// must not change nodes in the middle of one.
pub(crate) fn ip_in_vdso() -> bool {
    let vdso = vdso_addr();
    // SAFETY: `vdso_image_64` is a constant exported by patches/0004.
    let size = unsafe { bindings::vdso_image_64.size } as u64;
    match regs() {
        Ok(r) => vdso != 0 && r[16] >= vdso && r[16] < vdso + size,
        Err(_) => false,
    }
}
