// SPDX-License-Identifier: GPL-2.0
//! The run mode of a process and its children (`MOSIX_IOC_RUNMODE`), set by `mosrun` and
//! `runhome` before they execute a program, as openMosix's and MOSIX's `mosrun` did. Part of
//! [`super`] (the ioctl ABI), shared with the tools.

use super::{field_size, iow};

/// [`RunMode::flags`]. Every child the process forks (at home or where it runs) and every
/// program it executes keeps them.
pub mod run {
    /// Home only: locked at home now (`runhome`, `mosrun -h`); migration requests are refused
    /// with `cantmove` LOCKED.
    pub const HOME: u32 = 1 << 0;
    /// Locked where it starts (`mosrun -l`): locked once the program started on its node.
    pub const LOCK: u32 = 1 << 1;
    /// No automatic moves (`mosrun -L`): the balancer leaves it where it is; `migrate` may move it.
    pub const NOAUTO: u32 = 1 << 2;
    /// Best node (`mosrun -b`): each program it executes is placed on the best node as it starts,
    /// whatever `/proc/hpc/admin/exec_place` says.
    pub const BEST: u32 = 1 << 3;
    /// A given node (`mosrun -r`/`-N`/`-j`): each program it executes starts on [`super::RunMode::node`].
    pub const NODE: u32 = 1 << 4;
    /// All flags.
    pub const ALL: u32 = HOME | LOCK | NOAUTO | BEST | NODE;
}

/// Argument of [`MOSIX_IOC_RUNMODE`]: 12 bytes (0 `pid` i32, 4 `flags` u32, 8 `node` u32).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunMode {
    /// Process id on this node (a process at home; 0: the caller).
    pub pid: i32,
    /// [`run`] flags; 0 clears the run mode.
    pub flags: u32,
    /// With [`run::NODE`]: the node its programs start on (1..=65535); otherwise 0.
    pub node: u32,
}

/// Size in bytes of [`RunMode`].
pub const RUN_MODE_SIZE: usize = 12;
no_padding!(RunMode, RUN_MODE_SIZE; pid, flags, node);

/// `_IOW(0xBC, 11, RunMode)`: sets the run mode of a process at home and of the children it will
/// have. Same permission rule as `MOSIX_IOC_MIGRATE` (a process may always set its own).
/// Errors: `ESRCH` no such process; `EINVAL` unknown flags, `HOME` with a node or `BEST`, `NODE`
/// without a node (or a node without `NODE`), `BEST` with `NODE`; `EBUSY` the process is not at
/// home (away or moving); `EDQUOT` as for `MOSIX_IOC_LOCK`.
pub const MOSIX_IOC_RUNMODE: u32 = iow::<RunMode>(11);

/// Whether `flags` and `node` form a valid run mode ([`MOSIX_IOC_RUNMODE`]'s `EINVAL` cases).
pub fn run_mode_valid(flags: u32, node: u32) -> bool {
    let has = |f| flags & f != 0;
    flags & !run::ALL == 0
        && has(run::NODE) == (node != 0)
        && node <= 0xffff
        && !(has(run::HOME) && (has(run::NODE) || has(run::BEST)))
        && !(has(run::BEST) && has(run::NODE))
}
