// SPDX-License-Identifier: GPL-2.0
//! `kapi`: safe Rust abstractions over the kernel C APIs that Linux 6.12's `kernel` crate lacks.
//!
//! This directory is the only place in oxmosix where `unsafe` code and raw `kernel::bindings` calls
//! live. Every `unsafe` block carries a `// SAFETY:` comment and every type that wraps a C object
//! states its `// INVARIANT:`. The module proper (`src/`) is compiled with `#![deny(unsafe_code)]`
//! and uses only what is exported from here.
//!
//! The bindings these wrappers use come from `patches/0001-rust-bindings-expose-oxmosix-headers.patch`.

pub(crate) mod cred;
pub(crate) mod errno;
pub(crate) mod kthread;
pub(crate) mod migration;
pub(crate) mod miscdev;
pub(crate) mod net;
pub(crate) mod procfs;
pub(crate) mod procs;
pub(crate) mod sys;
pub(crate) mod task;
pub(crate) mod uapi;
pub(crate) mod uctx;
