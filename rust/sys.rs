// SPDX-License-Identifier: GPL-2.0
//! Readings of the local machine for load accounting: runnable tasks, CPUs, memory, idle time,
//! clocks and randomness; and the two sleeps (interruptible or not).
//!
//! C header: `include/linux/sched/stat.h`, `include/linux/mm.h` (`si_meminfo`),
//! `include/linux/timekeeping.h`, `include/linux/random.h`, `include/linux/delay.h`.

use kernel::bindings;

/// Number of runnable tasks on all CPUs (`nr_running()`, exported by
/// `patches/0002-sched-export-nr_running.patch`), including the caller if it is running.
pub(crate) fn nr_running() -> u32 {
    // SAFETY: nr_running only sums per-CPU counters; callable from any context.
    unsafe { bindings::nr_running() }
}

/// Number of online CPUs (at least 1).
pub(crate) fn online_cpus() -> u32 {
    // SAFETY: `__num_online_cpus` is an exported, always valid atomic_t; a volatile read of its
    // counter is what atomic_read() does.
    let n = unsafe {
        core::ptr::read_volatile(core::ptr::addr_of!(bindings::__num_online_cpus.counter))
    };
    n.max(1) as u32
}

/// Total, raw free and available RAM in KiB (`si_meminfo`, `si_mem_available`; available is free
/// plus what the kernel can reclaim without swapping, `MemAvailable` in `/proc/meminfo`).
pub(crate) fn meminfo_kib() -> (u64, u64, u64) {
    // SAFETY: all-zero is a valid sysinfo; si_meminfo fills it.
    let mut si: bindings::sysinfo = unsafe { core::mem::zeroed() };
    // SAFETY: `si` is a valid out-parameter.
    unsafe { bindings::si_meminfo(&mut si) };
    let unit = u64::from(si.mem_unit.max(1));
    // SAFETY: si_mem_available only reads global counters; it returns pages.
    let avail_pages = unsafe { bindings::si_mem_available() }.max(0) as u64;
    (
        (si.totalram as u64) * unit / 1024,
        (si.freeram as u64) * unit / 1024,
        avail_pages * (bindings::PAGE_SIZE as u64) / 1024,
    )
}

/// Monotonic time since boot in milliseconds.
pub(crate) fn monotonic_ms() -> u64 {
    // SAFETY: ktime_get is callable from any context once timekeeping is up.
    (unsafe { bindings::ktime_get() } / 1_000_000) as u64
}

/// Monotonic time since boot in microseconds.
pub(crate) fn monotonic_us() -> u64 {
    // SAFETY: ktime_get is callable from any context once timekeeping is up.
    (unsafe { bindings::ktime_get() } / 1_000) as u64
}

/// A random 32-bit value from the kernel's CRNG.
pub(crate) fn random_u32() -> u32 {
    // SAFETY: get_random_u32 is callable from any context.
    unsafe { bindings::get_random_u32() }
}

/// A random 64-bit value from the kernel's CRNG.
pub(crate) fn random_u64() -> u64 {
    // SAFETY: get_random_u64 is callable from any context.
    unsafe { bindings::get_random_u64() }
}

/// Whether `ip` (host byte order) is one of this machine's local addresses.
pub(crate) fn is_local_ipv4(ip: u32) -> bool {
    // SAFETY: `init_net` is always valid; inet_addr_type only reads routing tables.
    let t = unsafe {
        bindings::inet_addr_type(core::ptr::addr_of_mut!(bindings::init_net), ip.to_be())
    };
    t == bindings::RTN_LOCAL
}

/// Lets another runnable task have the CPU if this one has run long enough (`cond_resched`):
/// called once per frame or page run by the loops that move images and frames, which would
/// otherwise hold a CPU of a kernel built without preemption (`CONFIG_PREEMPT_NONE`, as the
/// test nodes are) for seconds, starving the gossip and keepalive threads of their node until
/// its peers count it gone. Must not be called under a spinlock (or with interrupts off).
pub(crate) fn cond_resched() {
    // SAFETY: `__cond_resched` may be called from any process context that may sleep; callers
    // hold no spinlock (see above). Its return value (whether it rescheduled) is not needed.
    unsafe { bindings::__cond_resched() };
}

/// Sleeps `ms` milliseconds in `TASK_UNINTERRUPTIBLE` (`msleep`): neither a signal nor
/// `kthread_stop` ends it early.
pub(crate) fn sleep_uninterruptible_ms(ms: u32) {
    // SAFETY: msleep may be called from any process context.
    unsafe { bindings::msleep(ms) };
}

/// Sleeps up to `ms` milliseconds in `TASK_INTERRUPTIBLE` (`schedule_timeout_interruptible`):
/// a signal, or `kthread_stop` for a kernel thread, ends it early (a pending signal at once).
pub(crate) fn sleep_interruptible_ms(ms: u32) {
    // SAFETY: plain conversion and an interruptible sleep in process context.
    unsafe {
        let j = bindings::__msecs_to_jiffies(ms);
        bindings::schedule_timeout_interruptible(j as _);
    }
}
