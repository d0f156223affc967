// SPDX-License-Identifier: GPL-2.0
//! Error codes that Linux 6.12's `kernel::error::code` does not name.
//!
//! C header: `include/uapi/asm-generic/errno.h`.

use kernel::bindings;
use kernel::prelude::*;

fn e(n: u32) -> Error {
    Error::from_errno(-(n as i32))
}

/// `ETIMEDOUT`.
pub(crate) fn etimedout() -> Error {
    e(bindings::ETIMEDOUT)
}

/// `EHOSTUNREACH`.
pub(crate) fn ehostunreach() -> Error {
    e(bindings::EHOSTUNREACH)
}

/// `EALREADY`.
pub(crate) fn ealready() -> Error {
    e(bindings::EALREADY)
}

/// `ECONNREFUSED`.
pub(crate) fn econnrefused() -> Error {
    e(bindings::ECONNREFUSED)
}

/// `ENAMETOOLONG`.
pub(crate) fn enametoolong() -> Error {
    e(bindings::ENAMETOOLONG)
}

/// `ENOSYS`.
pub(crate) fn enosys() -> Error {
    e(bindings::ENOSYS)
}

/// `EDQUOT`.
pub(crate) fn edquot() -> Error {
    e(bindings::EDQUOT)
}

/// `ENOKEY`.
pub(crate) fn enokey() -> Error {
    e(bindings::ENOKEY)
}

/// `ENOBUFS`.
pub(crate) fn enobufs() -> Error {
    e(bindings::ENOBUFS)
}
