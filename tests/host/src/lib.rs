//! The module's pure-Rust parts, compiled for the host from the very files the kernel module
//! uses, so they can be unit-tested, property-tested and fuzzed here.
#![no_std]

#[path = "../../../src/uapi.rs"]
pub mod uapi;

#[path = "../../../src/proto/mod.rs"]
pub mod proto;

#[path = "../../../src/load/mod.rs"]
pub mod load;

#[path = "../../../src/balance/decide.rs"]
pub mod decide;

#[path = "../../../src/syscalls.rs"]
pub mod syscalls;

/// HMAC-SHA256, SHA-256 and ChaCha20-Poly1305 from the RustCrypto crates, standing in for the
/// kernel's crypto behind the pure traits of `proto::handshake` and `proto::session`.
pub mod hostcrypto;
