// SPDX-License-Identifier: GPL-2.0
//! Counters declared once: [`counters!`] makes, from one list of documented names, the struct of
//! relaxed atomic `u64` fields, its zero value, and the `name value` lines `/proc/hpc/info`
//! shows, in declaration order. Pure `core` Rust.

/// Declares a struct of `AtomicU64` counters.
///
/// ```ignore
/// counters! {
///     /// Counters of migration.
///     pub(crate) struct MigStats {
///         /// Processes sent away from their home.
///         out,
///     }
/// }
/// ```
///
/// gives `MigStats { pub(crate) out: AtomicU64 }` with `MigStats::new()` (all zero),
/// `add(&self.out, n)`/`bump(&self.out)` helpers, and `show(&self, out)` writing `out 0\n`.
macro_rules! counters {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$fmeta:meta])* $field:ident ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $( $(#[$fmeta])* pub(crate) $field: core::sync::atomic::AtomicU64, )*
        }

        impl $name {
            /// Every counter at zero.
            #[allow(clippy::new_without_default)]
            pub(crate) const fn new() -> Self {
                Self { $( $field: core::sync::atomic::AtomicU64::new(0), )* }
            }

            /// Writes one `name value` line per counter, in declaration order.
            pub(crate) fn show(&self, out: &mut impl core::fmt::Write) -> core::fmt::Result {
                $( writeln!(out, "{} {}", stringify!($field), crate::counters::get(&self.$field))?; )*
                Ok(())
            }
        }
    };
}
pub(crate) use counters;

use core::sync::atomic::{AtomicU64, Ordering};

/// Adds `n` to counter `c`.
pub(crate) fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

/// Adds one to counter `c`.
pub(crate) fn bump(c: &AtomicU64) {
    add(c, 1);
}

/// The value of counter `c`.
pub(crate) fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

/// At most one event per [`RateLimit::INTERVAL_MS`] passes (for log lines a stranger can
/// trigger); the others are only counted by the caller.
pub(crate) struct RateLimit {
    next_ms: AtomicU64,
}

impl RateLimit {
    /// Minimum time between two events that pass, ms.
    pub(crate) const INTERVAL_MS: u64 = 5000;

    /// A limiter that lets the first event pass.
    pub(crate) const fn new() -> Self {
        RateLimit {
            next_ms: AtomicU64::new(0),
        }
    }

    /// Whether an event at `now_ms` (monotonic) may be logged.
    pub(crate) fn allow(&self, now_ms: u64) -> bool {
        let next = self.next_ms.load(Ordering::Relaxed);
        now_ms >= next
            && self
                .next_ms
                .compare_exchange(
                    next,
                    now_ms + Self::INTERVAL_MS,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
    }
}
