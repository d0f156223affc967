// SPDX-License-Identifier: GPL-2.0
//! What a migrated process's system calls do on the remote node: the one table.
//!
//! Every x86-64 system call is in one of three classes ([`Class`]): it runs locally on the remote
//! (anonymous memory, signal setup, time, yield, `arch_prctl`, `getrandom`), it is forwarded to
//! the deputy at the home node with its buffers marshalled ([`Forward`]), or the process goes
//! home first and runs it there ([`Class::Home`], the default: an unknown call costs time, never
//! correctness). Pure Rust: tested on the host; `Documentation/syscalls.md` is generated from
//! [`classify`] by `tests/host` (`make syscalls-doc`).
//!
//! A forwarded call's pointer arguments are described by [`Arg`]s; [`plan`] turns the arguments
//! of one call into the exact buffers both sides marshal (the remote reads the inputs from the
//! process's memory and writes the outputs back; the deputy places both in its scratch memory),
//! so the two sides cannot disagree. A NULL pointer stays NULL.

// Shared with the host tests.
#![allow(dead_code, unreachable_pub)]

/// How an argument of a forwarded call is marshalled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// A plain value, passed as is.
    Val,
    /// A user buffer the call reads, of the length in argument `n`.
    In(u8),
    /// A user buffer the call fills, of capacity in argument `n`; the result (if ≥ 0) is the
    /// number of bytes that come back.
    Out(u8),
    /// A user buffer the call reads, of this size.
    InFixed(u32),
    /// A user buffer the call fills with this many bytes on success.
    OutFixed(u32),
    /// A user buffer of this size the call reads and updates.
    InOutFixed(u32),
    /// An array of argument `n` elements of this size, read and updated (`poll`).
    InOutArray(u8, u32),
    /// An array of capacity argument `n` elements of this size, of which the result (≥ 0) says
    /// how many came back (`getgroups`).
    OutArray(u8, u32),
    /// As `OutArray`, but a capacity beyond one frame is capped (the call runs with the smaller
    /// count): fewer elements is a valid answer (`epoll_wait`'s events).
    OutArrayCapped(u8, u32),
    /// An `fd_set` for argument `n` descriptors, read and updated (`select`).
    FdSet(u8),
    /// A NUL-terminated path (at most [`PATH_MAX`] bytes with the NUL).
    Str,
}

/// Longest path accepted, with its NUL (`PATH_MAX`).
pub const PATH_MAX: usize = 4096;
/// Most bytes of buffers in one forwarded call: one frame's data, the wire format's
/// [`crate::proto::mig::MAX_SYS_DATA`].
pub const MAX_DATA: usize = crate::proto::mig::MAX_SYS_DATA;

/// How a forwarded call is marshalled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Forward {
    /// The six arguments.
    pub args: [Arg; 6],
    /// The call does not return (exit, exit_group): no reply is awaited.
    pub oneway: bool,
    /// How a buffer larger than one frame carries is split into several forwarded calls.
    pub split: Split,
}

/// How a read or write whose buffer exceeds one frame ([`MAX_DATA`]) is forwarded: in pieces
/// of at most one frame, the buffer argument advanced by each (and the file offset argument of
/// `pread64`/`pwrite64`), so that the call returns what it would at home whatever the frame
/// size. The pieces stop at the first one that is not taken whole (its count is then the
/// result) or fails (its error, unless pieces went before: their count).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// Not split: the buffer is capped at one frame (a short count, which the call allows).
    No,
    /// `write`-like: every piece, as a write at home takes the whole buffer (a blocking pipe or
    /// socket included).
    Write {
        /// The file offset argument, advanced by each piece.
        offset: Option<u8>,
    },
    /// `read`-like: further pieces only from a seekable file (the remote asks with
    /// `lseek(fd, 0, SEEK_CUR)` once the first piece came back whole): a regular file or a
    /// device returns a short count only at its end, while a pipe, socket or terminal returns
    /// what it has, which one piece already did.
    Read {
        /// The file offset argument, advanced by each piece.
        offset: Option<u8>,
    },
}

/// A vectored call the remote turns into its plain form: `readv` → `read` and so on. The iovecs
/// are gathered into (or scattered from) one buffer on the remote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vectored {
    /// The plain call forwarded instead.
    pub plain: u64,
    /// Whether data flows from the process to the call (writev) or back (readv).
    pub input: bool,
    /// Argument holding the file offset (preadv/pwritev), copied to the plain call's 4th argument.
    pub offset_arg: Option<u8>,
}

/// The class of a system call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Runs on the remote node.
    Local,
    /// Forwarded to the deputy.
    Forward(Forward),
    /// Forwarded as its plain form.
    Vectored(Vectored),
    /// `sendmsg` (`true`) or `recvmsg` (`false`): forwarded as `sendto`/`recvfrom` over the
    /// gathered iovecs when the `msghdr` has no address and no control data; otherwise (the
    /// remote reads the `msghdr` to tell) the process goes home for the call.
    Msg(bool),
    /// A new process (`fork`, `vfork`, `clone` and `clone3` without shared memory or
    /// threads, [`clone_stays`]): the home node forks the deputy (the child's deputy, with its
    /// pid, parent, files and credentials), then the call runs here and the child runs here as
    /// a migrated process (`Documentation/migration.md`, Process trees). A `clone3` whose
    /// arguments ask for more goes home.
    Fork,
    /// `execve`: the home node checks the program (the process's permission to execute it, no
    /// change of credentials, not a script) and names it by its absolute path and the SHA-256
    /// of its contents; the program runs here when this node holds the same file, the process
    /// goes home for the call otherwise (`Documentation/migration.md`, Exec where it runs).
    Exec,
    /// `mmap` of a file, private (the dynamic loader's mappings of shared libraries): the home
    /// node names the file by its absolute path and the SHA-256 of its contents; the same file
    /// of this node is mapped here, or the process goes home for the call
    /// (`Documentation/migration.md`, Exec where it runs).
    MapFile,
    /// The process goes home and runs it there.
    Home,
}

/// Process trees: which clones are made where the process runs, and the calls a guest forwards
/// to fork and exec where it runs.
#[path = "syscall_tree.rs"]
mod tree;
pub use tree::{clone, clone_stays, exec_op, home_fork, home_fork_args};

const V: Arg = Arg::Val;
const fn fwd(args: [Arg; 6]) -> Class {
    Class::Forward(Forward {
        args,
        oneway: false,
        split: Split::No,
    })
}
const fn vals() -> Class {
    fwd([V; 6])
}
const fn a1(a: Arg) -> [Arg; 6] {
    [a, V, V, V, V, V]
}
const fn a2(a: Arg) -> [Arg; 6] {
    [V, a, V, V, V, V]
}

/// x86-64 system call numbers used here (`arch/x86/entry/syscalls/syscall_64.tbl`, Linux 6.12).
#[path = "syscall_nr.rs"]
pub mod nr;

/// `getrusage`'s `RUSAGE_SELF` and `RUSAGE_THREAD`.
const RUSAGE_SELF: u64 = 0;
const RUSAGE_THREAD: u64 = 1;
/// `MAP_ANONYMOUS` of `mmap`'s flags.
const MAP_ANONYMOUS: u64 = 0x20;
/// `MAP_TYPE`: the sharing type field of `mmap`'s flags, and its `MAP_PRIVATE` value.
const MAP_TYPE: u64 = 0x0f;
const MAP_PRIVATE: u64 = 0x02;
/// `MAP_HUGETLB`: a mapping of huge pages, made at home.
const MAP_HUGETLB: u64 = 0x40000;
/// Size of `struct stat` on x86-64.
pub const STAT_SIZE: u32 = 144;
/// Size of `struct statfs`.
const STATFS_SIZE: u32 = 120;
/// Size of `struct rusage`.
const RUSAGE_SIZE: u32 = 144;
/// Size of `struct rlimit` / `struct rlimit64`.
const RLIMIT_SIZE: u32 = 16;
/// Size of `struct new_utsname`.
const UTSNAME_SIZE: u32 = 390;
/// Size of `struct sysinfo`.
const SYSINFO_SIZE: u32 = 112;
/// Size of `struct tms`.
const TMS_SIZE: u32 = 32;
/// Size of `struct statx`.
const STATX_SIZE: u32 = 256;
/// Size of `struct timespec` / `struct timeval`.
const TIMESPEC_SIZE: u32 = 16;
/// Size of `struct pollfd`.
const POLLFD_SIZE: u32 = 8;
/// Size of `struct epoll_event` (packed on x86-64).
const EPOLL_EVENT_SIZE: u32 = 12;
/// Size of `struct itimerspec`.
const ITIMERSPEC_SIZE: u32 = 2 * TIMESPEC_SIZE;
/// Size of `struct flock`.
const FLOCK_SIZE: u32 = 32;

/// The class of an `fcntl` by its command.
fn fcntl_class(cmd: u64) -> Class {
    match cmd {
        // F_DUPFD F_GETFD F_SETFD F_GETFL F_SETFL F_SETOWN F_GETOWN F_SETSIG F_GETSIG
        // F_SETLEASE F_GETLEASE F_NOTIFY F_DUPFD_CLOEXEC F_SETPIPE_SZ F_GETPIPE_SZ
        // F_ADD_SEALS F_GET_SEALS
        0..=4 | 8..=11 | 1024..=1026 | 1030..=1034 => vals(),
        // F_GETLK F_SETLK F_SETLKW and the open-file-description locks
        5..=7 | 36..=38 => fwd([V, V, Arg::InOutFixed(FLOCK_SIZE), V, V, V]),
        _ => Class::Home,
    }
}

/// `prctl` options forwarded to the deputy: the process's name (`PR_SET_NAME`, which busybox
/// and many daemons set as they start, `PR_GET_NAME`), its parent-death signal (its parent is
/// at home) and its dumpable flag (kept at home, where its credentials are).
pub mod pr {
    pub const SET_PDEATHSIG: u64 = 1;
    pub const GET_PDEATHSIG: u64 = 2;
    pub const GET_DUMPABLE: u64 = 3;
    pub const SET_DUMPABLE: u64 = 4;
    pub const SET_NAME: u64 = 15;
    pub const GET_NAME: u64 = 16;
}

/// The class of a `prctl` by its option: those of [`pr`] are forwarded, the rest goes home.
fn prctl_class(option: u64) -> Class {
    match option {
        pr::SET_NAME => fwd([V, Arg::InFixed(16), V, V, V, V]),
        pr::GET_NAME => fwd([V, Arg::OutFixed(16), V, V, V, V]),
        pr::GET_PDEATHSIG => fwd([V, Arg::OutFixed(4), V, V, V, V]),
        pr::SET_PDEATHSIG | pr::GET_DUMPABLE | pr::SET_DUMPABLE => vals(),
        _ => Class::Home,
    }
}

/// The class of an `ioctl` by its request: terminal requests are forwarded, the rest goes home.
fn ioctl_class(req: u64) -> Class {
    let out = |n| fwd([V, V, Arg::OutFixed(n), V, V, V]);
    let inp = |n| fwd([V, V, Arg::InFixed(n), V, V, V]);
    match req {
        0x5401 => out(36),          // TCGETS: struct termios
        0x5402..=0x5404 => inp(36), // TCSETS TCSETSW TCSETSF
        0x5409..=0x540b => vals(),  // TCSBRK TCXONC TCFLSH
        0x540f | 0x5429 => out(4),  // TIOCGPGRP TIOCGSID
        0x5410 => inp(4),           // TIOCSPGRP
        0x5413 => out(8),           // TIOCGWINSZ
        0x5414 => inp(8),           // TIOCSWINSZ
        0x541b => out(4),           // FIONREAD
        0x5421 | 0x5452 => inp(4),  // FIONBIO FIOASYNC
        0x5450 | 0x5451 => vals(),  // FIONCLEX FIOCLEX
        _ => Class::Home,
    }
}

/// The class of call `nr` with arguments `args` (some classes depend on an argument: `mmap`'s
/// flags, `fcntl`'s command, `ioctl`'s request).
pub fn classify(nr: u64, args: &[u64; 6]) -> Class {
    use nr::*;
    match nr {
        // Anonymous private memory lives with the process.
        MMAP if args[3] & MAP_ANONYMOUS != 0 && args[3] & MAP_TYPE == MAP_PRIVATE => Class::Local,
        // A private mapping of a file: the same file of this node when it holds one.
        MMAP if args[3] & (MAP_ANONYMOUS | MAP_HUGETLB) == 0
            && args[3] & MAP_TYPE == MAP_PRIVATE =>
        {
            Class::MapFile
        }
        BRK | MUNMAP | MPROTECT | MADVISE | MREMAP => Class::Local,
        RT_SIGACTION | RT_SIGPROCMASK | RT_SIGRETURN | SIGALTSTACK => Class::Local,
        CLOCK_GETTIME | CLOCK_GETRES | GETTIMEOFDAY | NANOSLEEP | CLOCK_NANOSLEEP => Class::Local,
        SCHED_YIELD | ARCH_PRCTL | GETRANDOM => Class::Local,
        // Waits for signals: the process's signals are delivered where it runs (the deputy
        // forwards those sent at home). Futexes: the memory is the process's own (a process
        // with a writable shared mapping or a second thread does not move).
        PAUSE | RT_SIGSUSPEND | RT_SIGTIMEDWAIT | RT_SIGPENDING | FUTEX => Class::Local,
        // The restart of an interrupted local call (nanosleep, futex), or of one the process
        // was moved in (its restart block travelled with it).
        RESTART_SYSCALL => Class::Local,
        // The interval timers travel with the process, and so does its CPU time: its own CPU
        // time is read where it runs (its children's is known at home, where they are reaped).
        ALARM | GETITIMER | SETITIMER => Class::Local,
        GETRUSAGE if args[0] == RUSAGE_SELF || args[0] == RUSAGE_THREAD => Class::Local,
        // Thread bookkeeping of a single-threaded process (libc calls these after fork and at
        // start): the pointers matter only when a thread of a multi-threaded process exits.
        SET_TID_ADDRESS | SET_ROBUST_LIST | RSEQ => Class::Local,
        PRCTL => prctl_class(args[0]),
        FORK | VFORK | CLONE3 => Class::Fork,
        EXECVE => Class::Exec,
        CLONE if clone_stays(args[0], args[0] & clone::CSIGNAL) => Class::Fork,

        READ | PREAD64 => Class::Forward(Forward {
            args: a2(Arg::Out(2)),
            oneway: false,
            split: Split::Read {
                offset: (nr == PREAD64).then_some(3),
            },
        }),
        GETDENTS | GETDENTS64 => fwd(a2(Arg::Out(2))),
        WRITE | PWRITE64 => Class::Forward(Forward {
            args: a2(Arg::In(2)),
            oneway: false,
            split: Split::Write {
                offset: (nr == PWRITE64).then_some(3),
            },
        }),
        READV => Class::Vectored(Vectored {
            plain: READ,
            input: false,
            offset_arg: None,
        }),
        WRITEV => Class::Vectored(Vectored {
            plain: WRITE,
            input: true,
            offset_arg: None,
        }),
        PREADV => Class::Vectored(Vectored {
            plain: PREAD64,
            input: false,
            offset_arg: Some(3),
        }),
        PWRITEV => Class::Vectored(Vectored {
            plain: PWRITE64,
            input: true,
            offset_arg: Some(3),
        }),
        _ => file_class(nr, args),
    }
}

/// [`classify`] of the calls on paths and descriptors (files, pipes, polling, sockets).
fn file_class(nr: u64, args: &[u64; 6]) -> Class {
    use nr::*;
    match nr {
        OPEN | CREAT | ACCESS | CHDIR | RMDIR | MKDIR | UNLINK | CHMOD | CHOWN | LCHOWN
        | TRUNCATE => fwd(a1(Arg::Str)),
        RENAME | LINK | SYMLINK => fwd([Arg::Str, Arg::Str, V, V, V, V]),
        STAT | LSTAT => fwd([Arg::Str, Arg::OutFixed(STAT_SIZE), V, V, V, V]),
        STATFS => fwd([Arg::Str, Arg::OutFixed(STATFS_SIZE), V, V, V, V]),
        READLINK => fwd([Arg::Str, Arg::Out(2), V, V, V, V]),
        OPENAT | MKDIRAT | UNLINKAT | FCHMODAT | FACCESSAT | FACCESSAT2 | FCHOWNAT => {
            fwd(a2(Arg::Str))
        }
        NEWFSTATAT => fwd([V, Arg::Str, Arg::OutFixed(STAT_SIZE), V, V, V]),
        STATX => fwd([V, Arg::Str, V, V, Arg::OutFixed(STATX_SIZE), V]),
        READLINKAT => fwd([V, Arg::Str, Arg::Out(3), V, V, V]),
        RENAMEAT | RENAMEAT2 | LINKAT => fwd([V, Arg::Str, V, Arg::Str, V, V]),
        SYMLINKAT => fwd([Arg::Str, V, Arg::Str, V, V, V]),
        UTIMENSAT => fwd([V, Arg::Str, Arg::InFixed(2 * TIMESPEC_SIZE), V, V, V]),
        FSTAT => fwd(a2(Arg::OutFixed(STAT_SIZE))),
        FSTATFS => fwd(a2(Arg::OutFixed(STATFS_SIZE))),
        GETCWD => fwd(a1(Arg::Out(1))),
        CLOSE | LSEEK | DUP | DUP2 | DUP3 | FSYNC | FDATASYNC | FTRUNCATE | FCHDIR | FCHMOD
        | FCHOWN | FLOCK | FADVISE64 | UMASK | SHUTDOWN => vals(),
        PIPE | PIPE2 => fwd(a1(Arg::OutFixed(8))),
        // Copies between descriptors (all at home): only the offsets travel.
        SENDFILE => fwd([V, V, Arg::InOutFixed(8), V, V, V]),
        SPLICE | COPY_FILE_RANGE => fwd([V, Arg::InOutFixed(8), V, Arg::InOutFixed(8), V, V]),
        TEE => vals(),
        FCNTL => fcntl_class(args[1]),
        IOCTL => ioctl_class(args[1]),
        POLL => fwd(a1(Arg::InOutArray(1, POLLFD_SIZE))),
        PPOLL => fwd([
            Arg::InOutArray(1, POLLFD_SIZE),
            V,
            Arg::InOutFixed(TIMESPEC_SIZE),
            Arg::In(4),
            V,
            V,
        ]),
        SELECT => fwd([
            V,
            Arg::FdSet(0),
            Arg::FdSet(0),
            Arg::FdSet(0),
            Arg::InOutFixed(TIMESPEC_SIZE),
            V,
        ]),
        // pselect6's sixth argument points to a structure with another pointer: only NULL here.
        PSELECT6 if args[5] == 0 => fwd([
            V,
            Arg::FdSet(0),
            Arg::FdSet(0),
            Arg::FdSet(0),
            Arg::InOutFixed(TIMESPEC_SIZE),
            V,
        ]),
        // The epoll instance, its descriptors and the wait are at home (as for poll); the
        // events come back. epoll_pwait only without a signal mask.
        EPOLL_CREATE | EPOLL_CREATE1 => vals(),
        EPOLL_CTL => fwd([V, V, V, Arg::InFixed(EPOLL_EVENT_SIZE), V, V]),
        EPOLL_WAIT => fwd(a2(Arg::OutArrayCapped(2, EPOLL_EVENT_SIZE))),
        EPOLL_PWAIT if args[4] == 0 => fwd(a2(Arg::OutArrayCapped(2, EPOLL_EVENT_SIZE))),
        // A timerfd is a descriptor at home; its clock is a wall or monotonic one (never CPU).
        TIMERFD_CREATE => vals(),
        TIMERFD_SETTIME => fwd([
            V,
            V,
            Arg::InFixed(ITIMERSPEC_SIZE),
            Arg::OutFixed(ITIMERSPEC_SIZE),
            V,
            V,
        ]),
        TIMERFD_GETTIME => fwd(a2(Arg::OutFixed(ITIMERSPEC_SIZE))),
        SENDTO => fwd([V, Arg::In(2), V, V, Arg::In(5), V]),
        SENDMSG => Class::Msg(true),
        RECVMSG => Class::Msg(false),
        // recvfrom with a source address needs its in/out length: only without it here.
        RECVFROM if args[4] == 0 && args[5] == 0 => fwd(a2(Arg::Out(2))),
        _ => process_class(nr),
    }
}

/// [`classify`] of the calls on identity, other processes, limits and exit.
fn process_class(nr: u64) -> Class {
    use nr::*;
    match nr {
        GETPID | GETPPID | GETTID | GETUID | GETEUID | GETGID | GETEGID | GETPGRP | GETPGID
        | GETSID | SETPGID | KILL | TKILL | TGKILL => vals(),
        GETGROUPS => fwd(a2(Arg::OutArray(0, 4))),
        GETRESUID | GETRESGID => fwd([
            Arg::OutFixed(4),
            Arg::OutFixed(4),
            Arg::OutFixed(4),
            V,
            V,
            V,
        ]),
        WAIT4 => fwd([V, Arg::OutFixed(4), V, Arg::OutFixed(RUSAGE_SIZE), V, V]),
        UNAME => fwd(a1(Arg::OutFixed(UTSNAME_SIZE))),
        SYSINFO => fwd(a1(Arg::OutFixed(SYSINFO_SIZE))),
        TIMES => fwd(a1(Arg::OutFixed(TMS_SIZE))),
        GETRUSAGE | GETRLIMIT => fwd(a2(Arg::OutFixed(if nr == GETRUSAGE {
            RUSAGE_SIZE
        } else {
            RLIMIT_SIZE
        }))),
        SETRLIMIT => fwd(a2(Arg::InFixed(RLIMIT_SIZE))),
        PRLIMIT64 => fwd([
            V,
            V,
            Arg::InFixed(RLIMIT_SIZE),
            Arg::OutFixed(RLIMIT_SIZE),
            V,
            V,
        ]),
        EXIT | EXIT_GROUP => Class::Forward(Forward {
            args: [V; 6],
            oneway: true,
            split: Split::No,
        }),
        _ => Class::Home,
    }
}

/// Where the bytes of one buffer of a forwarded call come from and go to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Buf {
    /// Argument index of the pointer.
    pub arg: u8,
    /// A path: its length is found by its NUL (`len` is the limit).
    pub str: bool,
    /// Bytes sent to the deputy (0 for pure outputs).
    pub in_len: u32,
    /// Capacity of what comes back (0 for pure inputs).
    pub out_cap: u32,
    /// How many bytes come back: all of `out_cap` on success, or by the result.
    pub out: Back,
}

/// How many output bytes come back after the call returned `r` ≥ 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Back {
    /// Nothing.
    None,
    /// All of `out_cap`.
    All,
    /// `r` bytes (at most `out_cap`).
    Result,
    /// `r` elements of this size (at most `out_cap` bytes).
    ResultTimes(u32),
}

impl Buf {
    /// Bytes that come back for a call that returned `r`: none for errors, except that a call
    /// interrupted to be restarted (`-ERESTARTSYS`, `-ERESTARTNOINTR`, `-ERESTARTNOHAND`: its
    /// process moves while it waits, see `Documentation/migration.md`) gives back its in-out
    /// buffers whole, since the kernel may have updated them for the restart (`select` and
    /// `pselect6` write the time left into their timeout; `poll` writes `revents`).
    pub fn back(&self, r: i64) -> u32 {
        if r < 0 {
            let restarts = matches!(
                r,
                crate::proto::restart::ERESTARTSYS
                    | crate::proto::restart::ERESTARTNOINTR
                    | crate::proto::restart::ERESTARTNOHAND
            );
            return if restarts && self.in_len > 0 && self.out == Back::All {
                self.out_cap
            } else {
                0
            };
        }
        let r = r as u64;
        match self.out {
            Back::None => 0,
            Back::All => self.out_cap,
            Back::Result => r.min(u64::from(self.out_cap)) as u32,
            Back::ResultTimes(s) => {
                r.saturating_mul(u64::from(s)).min(u64::from(self.out_cap)) as u32
            }
        }
    }
}

/// The buffers of one forwarded call, in argument order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The buffers (first `n`).
    pub bufs: [Buf; 6],
    /// Number of buffers.
    pub n: usize,
    /// Length arguments capped to what fits (argument index, new value); the deputy runs the
    /// call with them (a short read is a valid read).
    pub caps: [(u8, u64); 2],
    /// Number of caps.
    pub ncaps: usize,
}

/// `-EINVAL`, as [`plan`] answers a call it cannot marshal.
const EINVAL: i64 = -22;

impl Plan {
    /// The length `len` given in argument `n`, capped at [`MAX_DATA`]; a capped argument is
    /// recorded in `caps` (at most two per call, else `-EINVAL`).
    fn capped(&mut self, n: u8, len: u64) -> Result<u32, i64> {
        let max = MAX_DATA as u64;
        if len > max {
            if self.ncaps == self.caps.len() {
                return Err(EINVAL);
            }
            self.caps[self.ncaps] = (n, max);
            self.ncaps += 1;
        }
        Ok(len.min(max) as u32)
    }
}

/// The buffers of forwarded call `f` with arguments `args`. NULL pointers have no buffer.
/// Errors (as negative errno): `-EINVAL` for a size no single call can carry (an array larger
/// than [`MAX_DATA`], or outputs that together do not fit one frame).
pub fn plan(f: &Forward, args: &[u64; 6]) -> Result<Plan, i64> {
    let empty = Buf {
        arg: 0,
        str: false,
        in_len: 0,
        out_cap: 0,
        out: Back::None,
    };
    let mut p = Plan {
        bufs: [empty; 6],
        n: 0,
        caps: [(0, 0); 2],
        ncaps: 0,
    };
    let max = MAX_DATA as u64;
    let mut outs = 0u64;
    for (i, a) in f.args.iter().enumerate() {
        if *a == Arg::Val || args[i] == 0 {
            continue;
        }
        let mut b = Buf {
            arg: i as u8,
            ..empty
        };
        match *a {
            Arg::Val => continue,
            Arg::Str => {
                b.str = true;
                b.in_len = PATH_MAX as u32;
            }
            Arg::In(n) => b.in_len = p.capped(n, args[n as usize])?,
            Arg::Out(n) => {
                b.out_cap = p.capped(n, args[n as usize])?;
                b.out = Back::Result;
            }
            Arg::InFixed(s) => b.in_len = s,
            Arg::OutFixed(s) => {
                b.out_cap = s;
                b.out = Back::All;
            }
            Arg::InOutFixed(s) => {
                b.in_len = s;
                b.out_cap = s;
                b.out = Back::All;
            }
            Arg::InOutArray(n, s) => {
                let len = args[n as usize].saturating_mul(u64::from(s));
                if len > max {
                    return Err(EINVAL);
                }
                b.in_len = len as u32;
                b.out_cap = len as u32;
                b.out = Back::All;
            }
            Arg::OutArray(n, s) => {
                let len = args[n as usize].saturating_mul(u64::from(s));
                if len > max {
                    return Err(EINVAL);
                }
                b.out_cap = len as u32;
                b.out = Back::ResultTimes(s);
            }
            Arg::OutArrayCapped(n, s) => {
                let count = args[n as usize];
                let most = max / u64::from(s);
                if count > most {
                    if p.ncaps == p.caps.len() {
                        return Err(EINVAL);
                    }
                    p.caps[p.ncaps] = (n, most);
                    p.ncaps += 1;
                }
                b.out_cap = (count.min(most) * u64::from(s)) as u32;
                b.out = Back::ResultTimes(s);
            }
            Arg::FdSet(n) => {
                let nfds = args[n as usize].min(1 << 20);
                let len = nfds.div_ceil(64) * 8;
                if len > max {
                    return Err(EINVAL);
                }
                b.in_len = len as u32;
                b.out_cap = len as u32;
                b.out = Back::All;
            }
        }
        outs += u64::from(b.out_cap);
        p.bufs[p.n] = b;
        p.n += 1;
    }
    // The inputs are checked against MAX_DATA once read (paths have their real length then).
    if outs > max {
        return Err(EINVAL);
    }
    Ok(p)
}

/// Name of a class for documentation and logs.
pub fn class_name(c: &Class) -> &'static str {
    match c {
        Class::Local => "local",
        Class::Forward(_) | Class::Vectored(_) => "forwarded",
        Class::Msg(_) => "forwarded (no address, no control data; else go home)",
        Class::Fork => "forked where it runs (child's deputy forked at home)",
        Class::Exec => "exec where it runs (the same file, checked at home)",
        Class::MapFile => {
            "mapped where it runs (private mapping of the same file, checked at home)"
        }
        Class::Home => "go home",
    }
}
