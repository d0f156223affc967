// SPDX-License-Identifier: GPL-2.0
//! The ioctl structures of [`crate::uapi`] as plain bytes: `FromBytes` and `AsBytes` (the 6.12
//! `kernel::types` traits) so that [`crate::kapi::miscdev::IoctlArg`] copies them from and to
//! user space with `UserSliceReader::read` and `UserSliceWriter::write`.
//!
//! C header: none (the C view of the ABI is `tests/selftests/oxmosix/oxmosix_uapi.h`).

use kernel::types::{AsBytes, FromBytes};

use crate::uapi::{
    BenchReq, KeyReq, MapInfo, MapRange, MigrateReq, NodeInfo, Param, ProcInfo, ProcLock, RunMode,
    VersionInfo,
};

/// Implements both traits for structures of `crate::uapi`.
macro_rules! plain_bytes {
    ($($t:ty),+ $(,)?) => {
        $(
            // SAFETY: `$t` is `#[repr(C)]` and its fields are integers or arrays of integers, for
            // which every bit pattern is valid, so any bytes form a valid `$t` (`FromBytes`).
            // `no_padding!` in `src/uapi.rs` asserts at compile time that its fields fill its size
            // exactly, so it has no padding and every byte is initialized (`AsBytes`).
            unsafe impl FromBytes for $t {}
            // SAFETY: as above.
            unsafe impl AsBytes for $t {}
        )+
    };
}

plain_bytes!(
    VersionInfo,
    MapRange,
    MapInfo,
    NodeInfo,
    Param,
    MigrateReq,
    ProcInfo,
    ProcLock,
    RunMode,
    BenchReq,
    KeyReq,
);
