// SPDX-License-Identifier: GPL-2.0
//! Process trees of a migrated process ([`super::Class::Fork`], [`super::Class::Exec`]): which
//! clones make the child where the process runs, and the calls a guest forwards to its deputy to
//! fork and exec there (`Documentation/migration.md`, Process trees). Pure `core` Rust, shared
//! with the host tests like the table itself.

use super::nr;

/// `clone` flags: the exit signal's bits (`CSIGNAL`) and the flags a migrated process's child
/// may be made with where the process runs. `CLONE_VM` only with `CLONE_VFORK` (`vfork`,
/// `posix_spawn`: the parent sleeps until the child execs or exits); the tid writes and the TLS
/// are the child's own memory. Anything shared with the parent at home (files, fs, signal
/// handlers, threads), namespaces, pidfds, ptrace and cgroups make the call go home.
pub mod clone {
    pub const CSIGNAL: u64 = 0xff;
    pub const VM: u64 = 0x100;
    pub const VFORK: u64 = 0x4000;
    pub const PARENT: u64 = 0x8000;
    pub const SETTLS: u64 = 0x80000;
    pub const PARENT_SETTID: u64 = 0x100000;
    pub const CHILD_CLEARTID: u64 = 0x200000;
    pub const CHILD_SETTID: u64 = 0x0100_0000;
    /// What a child made remotely may ask for.
    pub const REMOTE_OK: u64 =
        CSIGNAL | VM | VFORK | SETTLS | PARENT_SETTID | CHILD_CLEARTID | CHILD_SETTID;
    /// Highest exit signal (`_NSIG`).
    pub const MAX_SIGNAL: u64 = 64;
    /// Size of `struct clone_args` up to `tls` (`CLONE_ARGS_SIZE_VER0`) and up to `cgroup`
    /// (`VER2`).
    pub const ARGS_VER0: u64 = 64;
    pub const ARGS_VER2: u64 = 88;
}

/// Whether a `clone` with `flags` (and exit signal `exit_signal`) makes a child where the
/// process runs ([`Class::Fork`]): only [`clone::REMOTE_OK`] flags, `CLONE_VM` together with
/// `CLONE_VFORK`, and a valid exit signal.
pub fn clone_stays(flags: u64, exit_signal: u64) -> bool {
    let vm = flags & (clone::VM | clone::VFORK);
    flags & !clone::REMOTE_OK == 0
        && (vm == 0 || vm == clone::VM | clone::VFORK || vm == clone::VFORK)
        && exit_signal <= clone::MAX_SIGNAL
}

/// The call a guest forwards to its deputy to fork it at home: `clone(exit_signal)` (a plain
/// fork, whatever the process's own call was: the deputy's child serves the child's calls, it
/// shares nothing with the deputy), with the child's token in the unused sixth argument.
pub fn home_fork_args(exit_signal: u64, token: u64) -> [u64; 6] {
    [exit_signal, 0, 0, 0, 0, token]
}

/// What a guest's forwarded `execve` asks its deputy (in the sixth argument; the deputy never
/// runs `execve` itself): check the program whose path is the call's buffer, or learn that the
/// exec happened where the process runs.
pub mod exec_op {
    /// Check the program: the reply is 0 with its SHA-256 (32 bytes) and absolute path, 1 when
    /// the process must go home for the call, or the error `execve` gives at home.
    pub const CHECK: u64 = 1;
    /// The exec happened: the buffer is the new command name (16 bytes), the terminal stop
    /// signals at their default action, the new vDSO's and vvar's addresses (u64 each), the
    /// argument and environment bounds (4 × u64 offsets) and the strings.
    pub const DONE: u64 = 2;
    /// A CHECK reply that sends the process home.
    pub const GO_HOME: i64 = 1;
}

/// The deputy's check of a forwarded fork ([`home_fork_args`]): `(exit_signal, token)`, or
/// `None` for anything else (a token of 0 included).
pub fn home_fork(nr: u64, args: &[u64; 6]) -> Option<(u64, u64)> {
    (nr == nr::CLONE && args[0] <= clone::MAX_SIGNAL && args[1..5] == [0; 4] && args[5] != 0)
        .then_some((args[0], args[5]))
}
