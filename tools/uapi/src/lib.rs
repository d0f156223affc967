//! The `/dev/mosix` ABI of oxmosix, for user space.
//!
//! The definitions are the kernel module's own `src/uapi.rs`, included verbatim, so the module
//! and the tools cannot disagree on a request number or a structure layout.
#![no_std]

#[path = "../../../src/uapi.rs"]
mod uapi;
pub use uapi::*;

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    /// `encode` must produce exactly the memory image of the `#[repr(C)]` struct the kernel copies.
    #[test]
    fn version_encode_is_repr_c_image() {
        let v = VersionInfo::current();
        // SAFETY: VersionInfo is repr(C), Copy, without padding (64 = 4 * 4 + 48).
        let raw: [u8; VERSION_INFO_SIZE] = unsafe { core::mem::transmute(v) };
        assert_eq!(raw, v.encode());
        assert_eq!(VersionInfo::decode(&v.encode()), v);
    }

    #[test]
    fn version_text() {
        let v = VersionInfo::current();
        assert_eq!(v.release_str(), Some("oxmosix 0.1.0"));
        assert_eq!(
            format_args!("{}.{}.{}", v.major, v.minor, v.patch).to_string(),
            VERSION
        );
        assert_eq!(v.abi, MOSIX_ABI_VERSION);
    }

    /// The request number equals Linux's `_IOR(0xBC, 0, 64-byte struct)` = 0x8040bc00.
    #[test]
    fn ioctl_numbers() {
        assert_eq!(MOSIX_IOC_VERSION, 0x8040_bc00);
    }
    use std::string::ToString;
}
