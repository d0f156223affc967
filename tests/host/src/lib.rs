//! The module's pure-Rust parts, compiled for the host from the very files the kernel module
//! uses, so they can be unit-tested, property-tested and fuzzed here.
#![no_std]

#[path = "../../../src/proto/mod.rs"]
pub mod proto;

#[path = "../../../src/balance/mod.rs"]
pub mod balance;

#[path = "../../../src/syscalls.rs"]
pub mod syscalls;
