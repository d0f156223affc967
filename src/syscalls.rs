// SPDX-License-Identifier: GPL-2.0
//! What a migrated process's system calls do on the remote node: the one table.
//!
//! Every x86-64 system call is in one of three classes ([`Class`]): it runs locally on the remote
//! (anonymous memory, signal setup, time, yield, `arch_prctl`, `getrandom`), it is forwarded to
//! the deputy at the home node with its buffers marshalled ([`Forward`]), or the process goes
//! home first and runs it there ([`Class::Home`], the default: an unknown call costs time, never
//! correctness). Pure Rust: tested on the host; `Documentation/syscalls.md` is generated from
//! [`table`].

// Shared with the host tests.
#![allow(dead_code, unreachable_pub)]

/// How an argument of a forwarded call is marshalled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// A plain value, passed as is.
    Val,
    /// A user buffer the call reads, of the length in argument `n` (sent to the deputy).
    In(u8),
    /// A user buffer the call fills, of capacity in argument `n`; the result (if ≥ 0) says how
    /// many bytes came back.
    Out(u8),
    /// A user buffer the call fills with exactly this many bytes on success.
    OutFixed(u32),
    /// A NUL-terminated path (at most [`PATH_MAX`] bytes with the NUL).
    Str,
}

/// Longest path accepted, with its NUL (`PATH_MAX`).
pub const PATH_MAX: usize = 4096;

/// How a forwarded call is marshalled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Forward {
    /// The six arguments.
    pub args: [Arg; 6],
    /// The call does not return (exit, exit_group): no reply is awaited.
    pub oneway: bool,
    /// A write-like call whose input may be split into several forwarded calls.
    pub chunked: bool,
}

/// The class of a system call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Runs on the remote node.
    Local,
    /// Forwarded to the deputy.
    Forward(Forward),
    /// The process goes home and runs it there.
    Home,
}

const V: Arg = Arg::Val;
const fn fwd(args: [Arg; 6]) -> Class {
    Class::Forward(Forward {
        args,
        oneway: false,
        chunked: false,
    })
}

/// x86-64 system call numbers used here (`arch/x86/entry/syscalls/syscall_64.tbl`).
pub mod nr {
    pub const READ: u64 = 0;
    pub const WRITE: u64 = 1;
    pub const CLOSE: u64 = 3;
    pub const FSTAT: u64 = 5;
    pub const LSEEK: u64 = 8;
    pub const MMAP: u64 = 9;
    pub const MPROTECT: u64 = 10;
    pub const MUNMAP: u64 = 11;
    pub const BRK: u64 = 12;
    pub const RT_SIGACTION: u64 = 13;
    pub const RT_SIGPROCMASK: u64 = 14;
    pub const RT_SIGRETURN: u64 = 15;
    pub const PREAD64: u64 = 17;
    pub const PWRITE64: u64 = 18;
    pub const SCHED_YIELD: u64 = 24;
    pub const MREMAP: u64 = 25;
    pub const MADVISE: u64 = 28;
    pub const NANOSLEEP: u64 = 35;
    pub const GETPID: u64 = 39;
    pub const EXIT: u64 = 60;
    pub const GETTIMEOFDAY: u64 = 96;
    pub const GETUID: u64 = 102;
    pub const GETGID: u64 = 104;
    pub const GETEUID: u64 = 107;
    pub const GETEGID: u64 = 108;
    pub const GETPPID: u64 = 110;
    pub const SIGALTSTACK: u64 = 131;
    pub const ARCH_PRCTL: u64 = 158;
    pub const CLOCK_GETTIME: u64 = 228;
    pub const CLOCK_GETRES: u64 = 229;
    pub const CLOCK_NANOSLEEP: u64 = 230;
    pub const EXIT_GROUP: u64 = 231;
    pub const OPENAT: u64 = 257;
    pub const NEWFSTATAT: u64 = 262;
    pub const GETRANDOM: u64 = 318;
    pub const SET_TID_ADDRESS: u64 = 218;
    pub const SET_ROBUST_LIST: u64 = 273;
    /// Number of entries of the x86-64 table in Linux 6.12 (highest number + 1).
    pub const COUNT: u64 = 463;
}

/// `MAP_ANONYMOUS` of `mmap`'s flags.
const MAP_ANONYMOUS: u64 = 0x20;
/// `MAP_TYPE`: the sharing type field of `mmap`'s flags, and its `MAP_PRIVATE` value.
const MAP_TYPE: u64 = 0x0f;
const MAP_PRIVATE: u64 = 0x02;
/// Size of `struct stat` on x86-64.
pub const STAT_SIZE: u32 = 144;

/// The class of call `nr` with arguments `args` (the class of `mmap` depends on its flags).
pub fn classify(nr: u64, args: &[u64; 6]) -> Class {
    use nr::*;
    match nr {
        // Anonymous private memory lives with the process.
        MMAP if args[3] & MAP_ANONYMOUS != 0 && args[3] & MAP_TYPE == MAP_PRIVATE => Class::Local,
        BRK | MUNMAP | MPROTECT | MADVISE | MREMAP => Class::Local,
        RT_SIGACTION | RT_SIGPROCMASK | RT_SIGRETURN | SIGALTSTACK => Class::Local,
        CLOCK_GETTIME | CLOCK_GETRES | GETTIMEOFDAY | NANOSLEEP | CLOCK_NANOSLEEP => Class::Local,
        SCHED_YIELD | ARCH_PRCTL | GETRANDOM => Class::Local,
        // Thread bookkeeping of a single-threaded process (libc calls both after fork): the
        // pointers are used only when a thread of a multi-threaded process exits, and a
        // migrated process has one thread.
        SET_TID_ADDRESS | SET_ROBUST_LIST => Class::Local,
        READ => fwd([V, Arg::Out(2), V, V, V, V]),
        WRITE => Class::Forward(Forward {
            args: [V, Arg::In(2), V, V, V, V],
            oneway: false,
            chunked: true,
        }),
        PREAD64 => fwd([V, Arg::Out(2), V, V, V, V]),
        PWRITE64 => fwd([V, Arg::In(2), V, V, V, V]),
        OPENAT => fwd([V, Arg::Str, V, V, V, V]),
        CLOSE | LSEEK => fwd([V; 6]),
        FSTAT => fwd([V, Arg::OutFixed(STAT_SIZE), V, V, V, V]),
        NEWFSTATAT => fwd([V, Arg::Str, Arg::OutFixed(STAT_SIZE), V, V, V]),
        GETPID | GETPPID | GETUID | GETEUID | GETGID | GETEGID => fwd([V; 6]),
        EXIT | EXIT_GROUP => Class::Forward(Forward {
            args: [V; 6],
            oneway: true,
            chunked: false,
        }),
        _ => Class::Home,
    }
}

/// Name of a class for documentation and logs.
pub fn class_name(c: &Class) -> &'static str {
    match c {
        Class::Local => "local",
        Class::Forward(_) => "forwarded",
        Class::Home => "go home",
    }
}
