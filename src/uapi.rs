// SPDX-License-Identifier: GPL-2.0
//! The `/dev/mosix` ioctl ABI, defined once and shared by the kernel module and the user-space tools.
//!
//! This file is pure `core` Rust: the module includes it as `mod uapi`, the tools' `oxmosix-uapi`
//! crate includes the very same file with `#[path]`. Every structure is `#[repr(C)]` with explicit
//! padding, native byte order (the ABI is local to one machine), and an `encode`/`decode` pair to
//! and from its exact byte image so the kernel side never needs `unsafe` to copy it.
//!
//! Request numbers follow Linux's `_IOC` encoding (`include/uapi/asm-generic/ioctl.h`):
//! `dir << 30 | size << 16 | type << 8 | nr`, with type [`MOSIX_IOC_MAGIC`] (`0xBC`, unused in
//! `Documentation/userspace-api/ioctl/ioctl-number.rst` of Linux 6.12).
//!
//! Documented for users in `Documentation/ioctl.md`.

// Shared with the tools: each side uses a different subset, and items must be `pub` for the tools' crate.
#![allow(dead_code, unreachable_pub)]

/// Version of the ioctl ABI. Bumped on any incompatible change of a request or structure.
pub const MOSIX_ABI_VERSION: u32 = 1;

/// oxmosix release: major number.
pub const VERSION_MAJOR: u32 = 0;
/// oxmosix release: minor number.
pub const VERSION_MINOR: u32 = 1;
/// oxmosix release: patch number.
pub const VERSION_PATCH: u32 = 0;
/// oxmosix release as text, `MAJOR.MINOR.PATCH`; also the content of `/proc/hpc/admin/version`.
pub const VERSION: &str = "0.1.0";

/// Path of the control device.
pub const MOSIX_DEVICE: &str = "/dev/mosix";

/// ioctl type byte of every oxmosix request.
pub const MOSIX_IOC_MAGIC: u32 = 0xBC;

const IOC_NRBITS: u32 = 8;
const IOC_TYPEBITS: u32 = 8;
const IOC_SIZEBITS: u32 = 14;
const IOC_NRSHIFT: u32 = 0;
const IOC_TYPESHIFT: u32 = IOC_NRSHIFT + IOC_NRBITS;
const IOC_SIZESHIFT: u32 = IOC_TYPESHIFT + IOC_TYPEBITS;
const IOC_DIRSHIFT: u32 = IOC_SIZESHIFT + IOC_SIZEBITS;
/// `_IOC_READ`: the kernel writes, user space reads.
const IOC_READ: u32 = 2;

/// `_IOC(dir, MOSIX_IOC_MAGIC, nr, size)`. Fails to compile (const panic) if `size` does not fit.
const fn ioc(dir: u32, nr: u32, size: usize) -> u32 {
    assert!(size < (1 << IOC_SIZEBITS));
    (dir << IOC_DIRSHIFT)
        | ((size as u32) << IOC_SIZESHIFT)
        | (MOSIX_IOC_MAGIC << IOC_TYPESHIFT)
        | (nr << IOC_NRSHIFT)
}

/// `_IOR(MOSIX_IOC_MAGIC, nr, T)`.
pub const fn ior<T>(nr: u32) -> u32 {
    ioc(IOC_READ, nr, core::mem::size_of::<T>())
}

/// Length of [`VersionInfo::release`].
pub const RELEASE_LEN: usize = 48;

/// Answer of [`MOSIX_IOC_VERSION`]: 64 bytes.
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 4 | `abi`: [`MOSIX_ABI_VERSION`] of the running module |
/// | 4 | 4 | `major` |
/// | 8 | 4 | `minor` |
/// | 12 | 4 | `patch` |
/// | 16 | 48 | `release`: NUL-padded text, e.g. `oxmosix 0.1.0` |
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VersionInfo {
    /// ABI version of the module ([`MOSIX_ABI_VERSION`]).
    pub abi: u32,
    /// Release major number.
    pub major: u32,
    /// Release minor number.
    pub minor: u32,
    /// Release patch number.
    pub patch: u32,
    /// NUL-padded release text.
    pub release: [u8; RELEASE_LEN],
}

/// Size in bytes of [`VersionInfo`].
pub const VERSION_INFO_SIZE: usize = 64;
const _: () = assert!(core::mem::size_of::<VersionInfo>() == VERSION_INFO_SIZE);

impl VersionInfo {
    /// The version of this build (what the module reports).
    pub fn current() -> Self {
        let mut release = [0u8; RELEASE_LEN];
        let text = b"oxmosix ";
        release[..text.len()].copy_from_slice(text);
        let v = VERSION.as_bytes();
        release[text.len()..text.len() + v.len()].copy_from_slice(v);
        VersionInfo {
            abi: MOSIX_ABI_VERSION,
            major: VERSION_MAJOR,
            minor: VERSION_MINOR,
            patch: VERSION_PATCH,
            release,
        }
    }

    /// The release text up to its first NUL (or all of it), if it is UTF-8.
    pub fn release_str(&self) -> Option<&str> {
        let end = self
            .release
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(RELEASE_LEN);
        core::str::from_utf8(&self.release[..end]).ok()
    }

    /// The exact byte image of the `#[repr(C)]` structure (native byte order).
    pub fn encode(&self) -> [u8; VERSION_INFO_SIZE] {
        let mut out = [0u8; VERSION_INFO_SIZE];
        out[0..4].copy_from_slice(&self.abi.to_ne_bytes());
        out[4..8].copy_from_slice(&self.major.to_ne_bytes());
        out[8..12].copy_from_slice(&self.minor.to_ne_bytes());
        out[12..16].copy_from_slice(&self.patch.to_ne_bytes());
        out[16..].copy_from_slice(&self.release);
        out
    }

    /// Inverse of [`VersionInfo::encode`].
    pub fn decode(b: &[u8; VERSION_INFO_SIZE]) -> Self {
        let word = |i: usize| u32::from_ne_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let mut release = [0u8; RELEASE_LEN];
        release.copy_from_slice(&b[16..]);
        VersionInfo {
            abi: word(0),
            major: word(4),
            minor: word(8),
            patch: word(12),
            release,
        }
    }
}

/// `_IOR(0xBC, 0, struct VersionInfo)`: report the module's version. Needs no privilege.
/// Errors: `EFAULT` if the argument does not point to 64 writable bytes.
pub const MOSIX_IOC_VERSION: u32 = ior::<VersionInfo>(0);
