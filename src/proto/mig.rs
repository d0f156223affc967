// SPDX-License-Identifier: GPL-2.0
//! Migration messages: offering a process to a node, streaming its image, forwarded system calls
//! and control of a migrated process. Pure `core` Rust like the rest of [`super`].
//!
//! Every message starts with the process's `token` (u64): a random value the home node gives a
//! process when it first migrates; together with the home node id it names the process on every
//! node. Integers are big-endian; page contents and the XSAVE image are raw bytes (the nodes run
//! identical kernels on the same architecture). `Documentation/protocol.md` has the byte layout.

pub use super::control::{ctl, Ctl, CTL_LEN};
use super::cputime::{Cpu, CPU_LEN};
use super::restart::{Restart, RESTART_LEN};
use super::{be32, be64, put32, put64, ProtoError};

/// Size of a page in the image stream.
pub const PAGE: usize = 4096;
/// Highest user address + 1 on x86-64 with 4-level page tables (`TASK_SIZE_MAX`).
pub const USER_TOP: u64 = 0x7fff_ffff_f000;
/// Most pages one [`MsgPages`] frame carries.
pub const MAX_PAGES_PER_FRAME: usize = 15;
/// Most bytes of buffer data in one [`Syscall`] or [`SysReply`].
pub const MAX_SYS_DATA: usize = 60 * 1024;
/// Largest XSAVE image accepted (AMX tiles included it is about 11 KiB).
pub const MAX_XSTATE: usize = 16 * 1024;
/// Length of a process name (`TASK_COMM_LEN`): the ioctl ABI's, one definition for both.
pub use crate::uapi::COMM_LEN;

/// Payload size of [`Offer`].
pub const OFFER_LEN: usize = 64 + 4 * MAX_GROUPS;
/// Most supplementary groups an [`Offer`] carries.
pub const MAX_GROUPS: usize = 32;
/// [`Offer::flags`]: the process has `no_new_privs` set.
pub const OFFER_NO_NEW_PRIVS: u32 = 1;
/// Payload size of [`Answer`].
pub const ANSWER_LEN: usize = 16;
/// Payload size of [`Vma`].
pub const VMA_LEN: usize = 44;
/// Fixed part of a [`MsgPages`] payload, before the page data.
pub const PAGES_HDR_LEN: usize = 24;
/// Payload size of [`End`].
pub const END_LEN: usize = 16;
/// Fixed part of a [`Syscall`] payload, before its data.
pub const SYSCALL_HDR_LEN: usize = 64;
/// Fixed part of a [`SysReply`] payload, before its data.
pub const SYSREPLY_HDR_LEN: usize = 16;

/// Number of general registers in [`State::regs`], in this order: r15 r14 r13 r12 rbp rbx r11 r10
/// r9 r8 rax rcx rdx rsi rdi orig_rax rip eflags rsp fs_base gs_base.
pub const NREGS: usize = 21;
/// Index of rip in [`State::regs`].
pub const REG_IP: usize = 16;
/// Index of rsp in [`State::regs`].
pub const REG_SP: usize = 18;
/// Index of fs_base in [`State::regs`].
pub const REG_FS_BASE: usize = 19;
/// Index of gs_base in [`State::regs`].
pub const REG_GS_BASE: usize = 20;
/// Number of mm layout values in [`State::mm`], in this order: start_code end_code start_data
/// end_data start_brk brk start_stack arg_start arg_end env_start env_end vdso (text) vvar start.
pub const NMM: usize = 13;
/// Index of arg_start in [`State::mm`] (arg_end, env_start and env_end follow).
pub const MM_ARG_START: usize = 7;
/// Index of the vDSO text address in [`State::mm`].
pub const MM_VDSO: usize = 11;
/// Index of the vvar start in [`State::mm`].
pub const MM_VVAR: usize = 12;
/// Number of signal actions carried (signals 1..=64).
pub const NSIG: usize = 64;
/// Number of resource limits carried (`RLIM_NLIMITS`).
pub const NRLIMITS: usize = 16;
/// Fixed part of a [`State`] payload, before the XSAVE image.
pub const STATE_FIXED_LEN: usize =
    8 + NREGS * 8 + NMM * 8 + 40 + NSIG * 32 + NRLIMITS * 16 + 16 + 16 + RESTART_LEN + CPU_LEN + 8;
/// Largest clock value accepted in [`State::clocks`], in ns: `KTIME_SEC_MAX / 2` seconds, the
/// bound the kernel puts on time-namespace clocks (about 146 years).
pub const MAX_CLOCK_NS: u64 = (i64::MAX as u64 / 1_000_000_000 / 2) * 1_000_000_000;

/// Protection bits in [`Vma::prot`]: Linux's `PROT_*` values (`include/uapi/asm-generic/mman-common.h`).
pub mod prot {
    /// Readable (`PROT_READ`).
    pub const READ: u32 = 1;
    /// Writable (`PROT_WRITE`).
    pub const WRITE: u32 = 2;
    /// Executable (`PROT_EXEC`).
    pub const EXEC: u32 = 4;
    /// Every defined bit.
    pub const ALL: u32 = READ | WRITE | EXEC;
}

/// VMA flags in [`Vma::flags`].
pub mod vma {
    /// Grows down (`VM_GROWSDOWN`, the stack).
    pub const GROWSDOWN: u32 = 1;
    /// The heap (`brk` area).
    pub const HEAP: u32 = 2;
    /// Was file backed (private) at home; it becomes anonymous memory with the same contents.
    pub const FILE: u32 = 4;
    /// Shared anonymous memory that only this area held (`MAP_SHARED | MAP_ANONYMOUS`): it
    /// becomes a new shared anonymous area with the same contents, writable (never with
    /// [`FILE`]).
    pub const SHARED_ANON: u32 = 8;
    /// With [`FILE`] (protocol 11): the receiver maps the area privately from the file its
    /// [`super::Vma::file`] names ([`super::super::files::FileName`], one the receiver said it
    /// holds with the same contents) at page [`super::Vma::pgoff`]; the pages the stream sends
    /// are those that differ from the file's (zero pages too), the others are the file's.
    pub const FILE_PAGES: u32 = 16;
    /// Every defined bit.
    pub const ALL: u32 = GROWSDOWN | HEAP | FILE | SHARED_ANON | FILE_PAGES;
}

pub(super) fn token(b: &[u8]) -> Result<u64, ProtoError> {
    if b.len() < 8 {
        return Err(ProtoError::Truncated);
    }
    let t = be64(b, 0);
    if t == 0 {
        return Err(ProtoError::BadField("mig.token"));
    }
    Ok(t)
}

fn user_range(start: u64, len: u64) -> bool {
    start % PAGE as u64 == 0 && len > 0 && start < USER_TOP && len <= USER_TOP - start
}

/// A home node offers a process to a target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offer {
    /// The process's token.
    pub token: u64,
    /// Its home node.
    pub home: u32,
    /// Its pid at home.
    pub home_pid: u32,
    /// The process's uid: real, effective, saved and filesystem uid are all this (a process
    /// whose ids differ does not move).
    pub uid: u32,
    /// Its gid, likewise.
    pub gid: u32,
    /// [`OFFER_NO_NEW_PRIVS`] or 0.
    pub flags: u32,
    /// Number of supplementary groups, 0..=[`MAX_GROUPS`].
    pub ngroups: u32,
    /// The supplementary groups (`ngroups` of them; the rest zero).
    pub groups: [u32; MAX_GROUPS],
    /// Image size estimate in pages (what the target must be able to hold).
    pub pages: u64,
    /// Migrations so far.
    pub nmigs: u32,
    /// Name, NUL padded.
    pub comm: [u8; COMM_LEN],
}

impl Offer {
    /// Layout: 0 token, 8 home u32, 12 home_pid u32, 16 uid, 20 gid, 24 pages u64, 32 nmigs u32,
    /// 36 flags u32, 40 comm\[16\], 56 ngroups u32, 60 pad u32 (0), 64 groups\[32\] u32.
    pub fn encode(&self) -> [u8; OFFER_LEN] {
        let mut b = [0u8; OFFER_LEN];
        put64(&mut b, 0, self.token);
        put32(&mut b, 8, self.home);
        put32(&mut b, 12, self.home_pid);
        put32(&mut b, 16, self.uid);
        put32(&mut b, 20, self.gid);
        put64(&mut b, 24, self.pages);
        put32(&mut b, 32, self.nmigs);
        put32(&mut b, 36, self.flags);
        super::copy(&mut b[40..56], &self.comm);
        put32(&mut b, 56, self.ngroups);
        for (k, g) in self.groups.iter().enumerate() {
            put32(&mut b, 64 + 4 * k, *g);
        }
        b
    }

    /// Decodes and validates an Offer payload.
    pub fn decode(b: &[u8]) -> Result<Offer, ProtoError> {
        if b.len() != OFFER_LEN {
            return Err(ProtoError::Truncated);
        }
        let mut comm = [0u8; COMM_LEN];
        super::copy(&mut comm, &b[40..56]);
        let o = Offer {
            token: token(b)?,
            home: super::check_node(be32(b, 8))?,
            home_pid: be32(b, 12),
            uid: be32(b, 16),
            gid: be32(b, 20),
            pages: be64(b, 24),
            nmigs: be32(b, 32),
            comm,
            flags: be32(b, 36),
            ngroups: be32(b, 56),
            groups: [0; MAX_GROUPS],
        };
        let mut o = o;
        for k in 0..MAX_GROUPS {
            o.groups[k] = be32(b, 64 + 4 * k);
        }
        if o.flags & !OFFER_NO_NEW_PRIVS != 0 || be32(b, 60) != 0 {
            return Err(ProtoError::Reserved);
        }
        if o.ngroups as usize > MAX_GROUPS || o.groups[o.ngroups as usize..].iter().any(|&g| g != 0)
        {
            return Err(ProtoError::BadField("offer.groups"));
        }
        if o.home_pid == 0 || o.home_pid > 0x40_0000 {
            return Err(ProtoError::BadField("offer.home_pid"));
        }
        if o.pages > USER_TOP / PAGE as u64 {
            return Err(ProtoError::BadField("offer.pages"));
        }
        Ok(o)
    }
}

/// A target's answer to an [`Offer`], or a receiver's report that it installed an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The process's token.
    pub token: u64,
    /// 0: accepted / installed; otherwise a `cantmove` code (1..=255).
    pub status: u32,
    /// Local pid of the task that runs (or will run) the process on the sender.
    pub pid: u32,
}

impl Answer {
    /// Layout: 0 token, 8 status u32, 12 pid u32.
    pub fn encode(&self) -> [u8; ANSWER_LEN] {
        let mut b = [0u8; ANSWER_LEN];
        put64(&mut b, 0, self.token);
        put32(&mut b, 8, self.status);
        put32(&mut b, 12, self.pid);
        b
    }

    /// Decodes and validates an Answer payload.
    pub fn decode(b: &[u8]) -> Result<Answer, ProtoError> {
        if b.len() != ANSWER_LEN {
            return Err(ProtoError::Truncated);
        }
        let a = Answer {
            token: token(b)?,
            status: be32(b, 8),
            pid: be32(b, 12),
        };
        if a.status > 255 {
            return Err(ProtoError::BadField("answer.status"));
        }
        Ok(a)
    }
}

/// The fixed part of a process's state (everything but memory and the XSAVE image).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    /// The process's token.
    pub token: u64,
    /// General registers, see [`NREGS`].
    pub regs: [u64; NREGS],
    /// mm layout, see [`NMM`].
    pub mm: [u64; NMM],
    /// Blocked signal mask (bit n-1 = signal n).
    pub blocked: u64,
    /// Pending signals (private and shared), same encoding.
    pub pending: u64,
    /// `sigaltstack`: base.
    pub ss_sp: u64,
    /// `sigaltstack`: size.
    pub ss_size: u64,
    /// `sigaltstack`: flags.
    pub ss_flags: u32,
    /// Signal actions 1..=64: handler, flags, restorer, mask.
    pub actions: [[u64; 4]; NSIG],
    /// Resource limits: soft, hard.
    pub rlim: [[u64; 2]; NRLIMITS],
    /// The process's `CLOCK_MONOTONIC` and `CLOCK_BOOTTIME` (ns) as it saw them when the state was
    /// taken; the receiver continues them from there (each node's clocks start at its own boot).
    pub clocks: [u64; 2],
    /// The process's real-time interval timer (`ITIMER_REAL`, `setitimer`/`alarm`): the time
    /// left until it fires and its interval, ns (0, 0: not armed). Both at most
    /// [`MAX_CLOCK_NS`]; an interval without a time left is malformed.
    pub itimer_real: [u64; 2],
    /// The kernel state of the system call the process was interrupted in, if its registers
    /// show one ([`super::restart`]).
    pub restart: Restart,
    /// Its CPU time on every node so far and its CPU-time itimers ([`super::cputime`]).
    pub cpu: Cpu,
}

impl State {
    /// An all-zero state for `token`.
    #[inline]
    pub fn new(token: u64) -> State {
        State {
            token,
            regs: [0; NREGS],
            mm: [0; NMM],
            blocked: 0,
            pending: 0,
            ss_sp: 0,
            ss_size: 0,
            ss_flags: 0,
            actions: [[0; 4]; NSIG],
            rlim: [[0; 2]; NRLIMITS],
            clocks: [0; 2],
            itimer_real: [0; 2],
            restart: Restart::default(),
            cpu: Cpu::default(),
        }
    }

    /// Encodes the state followed by `xstate` into `out`; returns the payload length.
    /// Layout: 0 token, 8 regs, then mm, blocked, pending, ss_sp, ss_size, ss_flags u32, pad u32,
    /// actions (64 × 4 u64), rlimits (16 × 2 u64), clocks (monotonic, boottime: 2 × u64 ns),
    /// `ITIMER_REAL` (time left, interval: 2 × u64 ns), the interrupted call's [`Restart`] (48
    /// bytes), the CPU time's [`Cpu`] (56 bytes), xstate length u32, pad u32, xstate bytes.
    /// Errors: `BadField` for an oversized `xstate`, `Truncated` if `out` is too small.
    pub fn encode(&self, xstate: &[u8], out: &mut [u8]) -> Result<usize, ProtoError> {
        if xstate.len() > MAX_XSTATE {
            return Err(ProtoError::BadField("state.xstate"));
        }
        let len = STATE_FIXED_LEN + xstate.len();
        if out.len() < len {
            return Err(ProtoError::Truncated);
        }
        let mut at = 0;
        let mut w = |v: u64| {
            put64(out, at, v);
            at += 8;
        };
        w(self.token);
        self.regs.iter().for_each(|&r| w(r));
        self.mm.iter().for_each(|&r| w(r));
        w(self.blocked);
        w(self.pending);
        w(self.ss_sp);
        w(self.ss_size);
        w(u64::from(self.ss_flags) << 32);
        self.actions.iter().flatten().for_each(|&r| w(r));
        self.rlim.iter().flatten().for_each(|&r| w(r));
        self.clocks.iter().for_each(|&r| w(r));
        self.itimer_real.iter().for_each(|&r| w(r));
        let at = STATE_FIXED_LEN - 8 - CPU_LEN - RESTART_LEN;
        self.restart.encode(out, at);
        self.cpu.encode(out, at + RESTART_LEN);
        put64(out, STATE_FIXED_LEN - 8, (xstate.len() as u64) << 32);
        super::copy(&mut out[STATE_FIXED_LEN..len], xstate);
        Ok(len)
    }

    /// Decodes and validates a State payload; returns the state and the XSAVE image.
    pub fn decode(b: &[u8]) -> Result<(State, &[u8]), ProtoError> {
        let mut s = State::new(0);
        let x = State::decode_into(b, &mut s)?;
        Ok((s, x))
    }

    /// [`State::decode`] into `s` (a State of about 2.8 KiB the caller may keep off the
    /// stack); returns the XSAVE image. `s` is partly overwritten on error.
    pub fn decode_into<'a>(b: &'a [u8], s: &mut State) -> Result<&'a [u8], ProtoError> {
        if b.len() < STATE_FIXED_LEN {
            return Err(ProtoError::Truncated);
        }
        s.token = token(b)?;
        let mut at = 8;
        let mut r = || {
            let v = be64(b, at);
            at += 8;
            v
        };
        s.regs.iter_mut().for_each(|x| *x = r());
        s.mm.iter_mut().for_each(|x| *x = r());
        s.blocked = r();
        s.pending = r();
        s.ss_sp = r();
        s.ss_size = r();
        let ssf = r();
        s.actions.iter_mut().flatten().for_each(|x| *x = r());
        s.rlim.iter_mut().flatten().for_each(|x| *x = r());
        s.clocks.iter_mut().for_each(|x| *x = r());
        s.itimer_real.iter_mut().for_each(|x| *x = r());
        let xl = be64(b, STATE_FIXED_LEN - 8);
        if ssf & 0xffff_ffff != 0 || xl & 0xffff_ffff != 0 {
            return Err(ProtoError::Reserved);
        }
        s.ss_flags = (ssf >> 32) as u32;
        let xlen = (xl >> 32) as usize;
        if xlen > MAX_XSTATE || b.len() != STATE_FIXED_LEN + xlen {
            return Err(ProtoError::BadLength(b.len() as u32));
        }
        if s.regs[REG_IP] >= USER_TOP || s.regs[REG_SP] >= USER_TOP {
            return Err(ProtoError::BadField("state.regs"));
        }
        if s.regs[REG_FS_BASE] >= USER_TOP || s.regs[REG_GS_BASE] >= USER_TOP {
            return Err(ProtoError::BadField("state.fsgs"));
        }
        if s.mm.iter().any(|&v| v > USER_TOP) {
            return Err(ProtoError::BadField("state.mm"));
        }
        if s.clocks.iter().any(|&c| c > MAX_CLOCK_NS) {
            return Err(ProtoError::BadField("state.clocks"));
        }
        let [left, interval] = s.itimer_real;
        if left > MAX_CLOCK_NS || interval > MAX_CLOCK_NS || (left == 0 && interval != 0) {
            return Err(ProtoError::BadField("state.itimer_real"));
        }
        let at = STATE_FIXED_LEN - 8 - CPU_LEN - RESTART_LEN;
        s.restart = Restart::decode(b, at, &s.regs)?;
        s.cpu = Cpu::decode(b, at + RESTART_LEN)?;
        let (vdso, vvar) = (s.mm[MM_VDSO], s.mm[MM_VVAR]);
        if vdso % PAGE as u64 != 0 || vvar % PAGE as u64 != 0 || vvar > vdso || vdso == 0 {
            return Err(ProtoError::BadField("state.vdso"));
        }
        Ok(&b[STATE_FIXED_LEN..])
    }
}

/// One memory area of the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vma {
    /// The process's token.
    pub token: u64,
    /// First address (page aligned).
    pub start: u64,
    /// End address (exclusive, page aligned).
    pub end: u64,
    /// `PROT_READ` 1 | `PROT_WRITE` 2 | `PROT_EXEC` 4.
    pub prot: u32,
    /// [`vma`] flags.
    pub flags: u32,
    /// With [`vma::FILE_PAGES`]: the index of the image's file it maps (below
    /// [`super::files::MAX_FILES`]); else 0.
    pub file: u32,
    /// With [`vma::FILE_PAGES`]: the file page mapped at `start`; else 0.
    pub pgoff: u64,
}

impl Vma {
    /// Layout: 0 token, 8 start u64, 16 end u64, 24 prot u32, 28 flags u32, 32 file u32,
    /// 36 pgoff u64.
    pub fn encode(&self) -> [u8; VMA_LEN] {
        let mut b = [0u8; VMA_LEN];
        put64(&mut b, 0, self.token);
        put64(&mut b, 8, self.start);
        put64(&mut b, 16, self.end);
        put32(&mut b, 24, self.prot);
        put32(&mut b, 28, self.flags);
        put32(&mut b, 32, self.file);
        put64(&mut b, 36, self.pgoff);
        b
    }

    /// Decodes and validates a Vma payload.
    pub fn decode(b: &[u8]) -> Result<Vma, ProtoError> {
        if b.len() != VMA_LEN {
            return Err(ProtoError::Truncated);
        }
        let v = Vma {
            token: token(b)?,
            start: be64(b, 8),
            end: be64(b, 16),
            prot: be32(b, 24),
            flags: be32(b, 28),
            file: be32(b, 32),
            pgoff: be64(b, 36),
        };
        if v.end <= v.start || v.end % PAGE as u64 != 0 || !user_range(v.start, v.end - v.start) {
            return Err(ProtoError::BadField("vma.range"));
        }
        if v.prot & !prot::ALL != 0 || v.flags & !vma::ALL != 0 {
            return Err(ProtoError::BadField("vma.flags"));
        }
        // Shared anonymous memory is writable memory of its own, never a file's or the stack.
        let shared_ok = vma::SHARED_ANON | vma::HEAP;
        if v.flags & vma::SHARED_ANON != 0
            && (v.flags & !shared_ok != 0 || v.prot & prot::WRITE == 0)
        {
            return Err(ProtoError::BadField("vma.flags"));
        }
        // A file's pages: a private file area, not the stack, its pages within a file of at
        // most `files::MAX_FILE_PAGES` pages.
        if v.flags & vma::FILE_PAGES != 0 {
            let pages = (v.end - v.start) / PAGE as u64;
            let file_ok = vma::FILE | vma::FILE_PAGES | vma::HEAP;
            if v.flags & !file_ok != 0 || v.flags & vma::FILE == 0 {
                return Err(ProtoError::BadField("vma.flags"));
            }
            if v.file >= super::files::MAX_FILES
                || v.pgoff > super::files::MAX_FILE_PAGES
                || pages > super::files::MAX_FILE_PAGES
            {
                return Err(ProtoError::BadField("vma.file"));
            }
        } else if v.file != 0 || v.pgoff != 0 {
            return Err(ProtoError::BadField("vma.file"));
        }
        Ok(v)
    }
}

/// Contents of consecutive pages of the image (pages never written are not sent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsgPages<'a> {
    /// The process's token.
    pub token: u64,
    /// Address of the first page.
    pub addr: u64,
    /// `count` × [`PAGE`] bytes.
    pub data: &'a [u8],
}

impl<'a> MsgPages<'a> {
    /// Writes the fixed part for `count` pages at `addr` into `out[..PAGES_HDR_LEN]`; the caller
    /// puts the page data after it. Layout: 0 token, 8 addr u64, 16 count u32, 20 pad u32.
    pub fn encode_header(token: u64, addr: u64, count: usize, out: &mut [u8]) {
        put64(out, 0, token);
        put64(out, 8, addr);
        put32(out, 16, count as u32);
        put32(out, 20, 0);
    }

    /// Decodes and validates a Pages payload.
    pub fn decode(b: &'a [u8]) -> Result<MsgPages<'a>, ProtoError> {
        if b.len() < PAGES_HDR_LEN {
            return Err(ProtoError::Truncated);
        }
        let count = be32(b, 16) as usize;
        if count == 0 || count > MAX_PAGES_PER_FRAME || be32(b, 20) != 0 {
            return Err(ProtoError::BadField("pages.count"));
        }
        if b.len() != PAGES_HDR_LEN + count * PAGE {
            return Err(ProtoError::BadLength(b.len() as u32));
        }
        let p = MsgPages {
            token: token(b)?,
            addr: be64(b, 8),
            data: &b[PAGES_HDR_LEN..],
        };
        if !user_range(p.addr, (count * PAGE) as u64) {
            return Err(ProtoError::BadField("pages.addr"));
        }
        Ok(p)
    }
}

/// End of an image stream, with totals the receiver checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct End {
    /// The process's token.
    pub token: u64,
    /// Number of Vma frames sent.
    pub vmas: u32,
    /// Number of pages sent.
    pub pages: u32,
}

impl End {
    /// Layout: 0 token, 8 vmas u32, 12 pages u32.
    pub fn encode(&self) -> [u8; END_LEN] {
        let mut b = [0u8; END_LEN];
        put64(&mut b, 0, self.token);
        put32(&mut b, 8, self.vmas);
        put32(&mut b, 12, self.pages);
        b
    }

    /// Decodes an End payload.
    pub fn decode(b: &[u8]) -> Result<End, ProtoError> {
        if b.len() != END_LEN {
            return Err(ProtoError::Truncated);
        }
        Ok(End {
            token: token(b)?,
            vmas: be32(b, 8),
            pages: be32(b, 12),
        })
    }
}

/// A system call forwarded from the remote to the deputy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Syscall<'a> {
    /// The process's token.
    pub token: u64,
    /// x86-64 system call number.
    pub nr: u32,
    /// Arguments as the remote prepared them (buffer pointers are replaced by the deputy).
    pub args: [u64; 6],
    /// Input buffer contents (what the call reads from user memory), ≤ [`MAX_SYS_DATA`].
    pub data: &'a [u8],
}

impl<'a> Syscall<'a> {
    /// Writes the fixed part into `out[..SYSCALL_HDR_LEN]`; the data follows.
    /// Layout: 0 token, 8 nr u32, 12 pad u32, 16 args 6 × u64.
    pub fn encode_header(token: u64, nr: u32, args: &[u64; 6], out: &mut [u8]) {
        put64(out, 0, token);
        put32(out, 8, nr);
        put32(out, 12, 0);
        for (i, a) in args.iter().enumerate() {
            put64(out, 16 + 8 * i, *a);
        }
    }

    /// Decodes and validates a Syscall payload.
    pub fn decode(b: &'a [u8]) -> Result<Syscall<'a>, ProtoError> {
        if b.len() < SYSCALL_HDR_LEN || b.len() > SYSCALL_HDR_LEN + MAX_SYS_DATA {
            return Err(ProtoError::BadLength(b.len() as u32));
        }
        if be32(b, 12) != 0 {
            return Err(ProtoError::Reserved);
        }
        let mut args = [0u64; 6];
        for (i, a) in args.iter_mut().enumerate() {
            *a = be64(b, 16 + 8 * i);
        }
        Ok(Syscall {
            token: token(b)?,
            nr: be32(b, 8),
            args,
            data: &b[SYSCALL_HDR_LEN..],
        })
    }
}

/// The deputy's answer to a [`Syscall`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SysReply<'a> {
    /// The process's token.
    pub token: u64,
    /// Return value (negative errno on failure).
    pub result: i64,
    /// Output buffer contents, ≤ [`MAX_SYS_DATA`].
    pub data: &'a [u8],
}

impl<'a> SysReply<'a> {
    /// Writes the fixed part into `out[..SYSREPLY_HDR_LEN]`; the data follows.
    /// Layout: 0 token, 8 result i64.
    pub fn encode_header(token: u64, result: i64, out: &mut [u8]) {
        put64(out, 0, token);
        put64(out, 8, result as u64);
    }

    /// Decodes and validates a SysReply payload.
    pub fn decode(b: &'a [u8]) -> Result<SysReply<'a>, ProtoError> {
        if b.len() < SYSREPLY_HDR_LEN || b.len() > SYSREPLY_HDR_LEN + MAX_SYS_DATA {
            return Err(ProtoError::BadLength(b.len() as u32));
        }
        Ok(SysReply {
            token: token(b)?,
            result: be64(b, 8) as i64,
            data: &b[SYSREPLY_HDR_LEN..],
        })
    }
}
