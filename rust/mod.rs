// SPDX-License-Identifier: GPL-2.0
//! `kapi`: safe Rust abstractions over the kernel C APIs that Linux 6.12's `kernel` crate lacks.
//!
//! This directory is the only place in oxmosix where `unsafe` code and raw `kernel::bindings` calls
//! live. Every `unsafe` block carries a `// SAFETY:` comment; every type that wraps a C object
//! states its invariants in a `# Invariants` section of its documentation, as the kernel crate
//! does (`// INVARIANT:` comments mark where code establishes them); every file names the C
//! headers it wraps on a `C header:` line. The module proper (`src/`) is compiled with
//! `#![deny(unsafe_code)]` and uses only what is exported from here.
//!
//! Functions that act on the user context of `current` (its registers, signals, memory map) are
//! methods of [`uctx::UserCtx`], a token only the migration hooks hand out, so that a kernel
//! thread cannot call them.
//!
//! The bindings these wrappers use come from `patches/0001-rust-bindings-expose-oxmosix-headers.patch`.

pub(crate) mod cred;
pub(crate) mod crypto;
pub(crate) mod errno;
pub(crate) mod exe;
pub(crate) mod kthread;
pub(crate) mod migration;
pub(crate) mod miscdev;
pub(crate) mod net;
pub(crate) mod procfs;
pub(crate) mod sys;
pub(crate) mod task;
pub(crate) mod tasklist;
pub(crate) mod uapi;
pub(crate) mod uctx;
