// SPDX-License-Identifier: GPL-2.0
//! The `/dev/mosix` ioctl ABI, defined once and shared by the kernel module and the user-space tools.
//!
//! This file is pure `core` Rust: the module includes it as `mod uapi`, the tools' `oxmosix-uapi`
//! crate includes the very same file with `#[path]`. Every structure is `#[repr(C)]` with explicit
//! padding fields, so that every byte belongs to a field: no structure has padding the compiler
//! adds (each is `FromBytes` + `AsBytes` in the module's `rust/uapi.rs`, which copies them to
//! and from user space as they lie in memory), and the byte order is native (the ABI is local to
//! one machine). `tests/selftests/oxmosix/oxmosix_uapi.h` is the C view of the same ABI; the host
//! test `uapi_header` compiles it and compares every size and offset with these structures.
//!
//! Request numbers follow Linux's `_IOC` encoding (`include/uapi/asm-generic/ioctl.h`):
//! `dir << 30 | size << 16 | type << 8 | nr`, with type [`MOSIX_IOC_MAGIC`] (`0xBC`, unused in
//! `Documentation/userspace-api/ioctl/ioctl-number.rst` of Linux 6.12).
//!
//! Documented for users in `Documentation/ioctl.md`.

// Shared with the tools: each side uses a different subset, and items must be `pub` for the tools' crate.
#![allow(dead_code, unreachable_pub)]

/// Size of the field that `_field` projects to; usable in a constant.
const fn field_size<T, F>(_field: fn(&T) -> &F) -> usize {
    core::mem::size_of::<F>()
}

/// Asserts at compile time that structure `$t` is `$size` bytes and that the listed fields
/// (all of them) add up to exactly that: the compiler added no padding, so every byte of the
/// structure is a field and it may be copied to user space as it lies in memory.
macro_rules! no_padding {
    ($t:ty, $size:expr; $($field:ident),+) => {
        const _: () = assert!(
            core::mem::size_of::<$t>() == $size && 0 $(+ field_size(|x: &$t| &x.$field))+ == $size,
            concat!(stringify!($t), ": size or padding differs from the ABI")
        );
    };
}

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
/// `_IOC_WRITE`: user space writes, the kernel reads.
const IOC_WRITE: u32 = 1;

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
no_padding!(VersionInfo, VERSION_INFO_SIZE; abi, major, minor, patch, release);

impl VersionInfo {
    /// The version of this build (what the module reports).
    pub fn current() -> Self {
        let mut release = [0u8; RELEASE_LEN];
        let text = b"oxmosix ".iter().chain(VERSION.as_bytes());
        for (d, s) in release.iter_mut().zip(text) {
            *d = *s;
        }
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
}

/// `_IOR(0xBC, 0, struct VersionInfo)`: report the module's version. Needs no privilege.
/// Errors: `EFAULT` if the argument does not point to 64 writable bytes.
pub const MOSIX_IOC_VERSION: u32 = ior::<VersionInfo>(0);

/// `_IOW(MOSIX_IOC_MAGIC, nr, T)`.
pub const fn iow<T>(nr: u32) -> u32 {
    ioc(IOC_WRITE, nr, core::mem::size_of::<T>())
}

/// `_IOWR(MOSIX_IOC_MAGIC, nr, T)`.
pub const fn iowr<T>(nr: u32) -> u32 {
    ioc(IOC_READ | IOC_WRITE, nr, core::mem::size_of::<T>())
}

/// Most ranges (lines) of a cluster map passed through the ioctl.
pub const MAP_MAX_RANGES: usize = 64;

/// One map line: `count` nodes from `id` at consecutive IPv4 addresses from `ip` (host order).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MapRange {
    /// First node id.
    pub id: u32,
    /// First address, host byte order.
    pub ip: u32,
    /// Number of nodes.
    pub count: u32,
}

no_padding!(MapRange, 12; id, ip, count);

/// Argument of [`MOSIX_IOC_SETMAP`] and [`MOSIX_IOC_GETMAP`]: 784 bytes.
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 4 | `count`: ranges used (1..=64) |
/// | 4 | 4 | `self_id`: this node's id; 0 = find it by matching local addresses |
/// | 8 | 2 | `port`: TCP port of every node's listener; 0 = [`DEFAULT_PORT`] |
/// | 10 | 2 | padding (0) |
/// | 12 | 4 | `generation`: map generation (set by the module; ignored on SETMAP) |
/// | 16 | 768 | `ranges`: 64 × [`MapRange`] (12 bytes each) |
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapInfo {
    /// Ranges used.
    pub count: u32,
    /// This node's id, or 0 to find it by address.
    pub self_id: u32,
    /// Listener port, or 0 for the default.
    pub port: u16,
    /// Zero.
    pub pad: u16,
    /// Generation of the map (output only).
    pub generation: u32,
    /// The ranges; only the first `count` are meaningful.
    pub ranges: [MapRange; MAP_MAX_RANGES],
}

/// Size in bytes of [`MapInfo`].
pub const MAP_INFO_SIZE: usize = 16 + 12 * MAP_MAX_RANGES;
no_padding!(MapInfo, MAP_INFO_SIZE; count, self_id, port, pad, generation, ranges);

/// TCP port of the cluster protocol unless the map says otherwise.
pub const DEFAULT_PORT: u16 = 4660;

impl MapInfo {
    /// An empty map argument.
    pub const fn empty() -> Self {
        MapInfo {
            count: 0,
            self_id: 0,
            port: 0,
            pad: 0,
            generation: 0,
            ranges: [MapRange {
                id: 0,
                ip: 0,
                count: 0,
            }; MAP_MAX_RANGES],
        }
    }
}

/// Node status bits of [`NodeInfo::status`].
pub mod node_status {
    /// The node is up (heard of within the timeout).
    pub const UP: u32 = 1 << 0;
    /// Load information about the node was ever received.
    pub const KNOWN: u32 = 1 << 1;
    /// The node is the one answering.
    pub const SELF: u32 = 1 << 2;
    /// The node has a live connection with the answering node.
    pub const CONNECTED: u32 = 1 << 3;
    /// Shift of the node's policy flags (`proto::flags`: block, stay, lstay, quiet, expel).
    pub const FLAGS_SHIFT: u32 = 8;
}

/// Argument of [`MOSIX_IOC_NODEINFO`]: 56 bytes. `id` is input (0 = this node); the rest is output.
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 4 | `id` | 4 | 4 | `status` ([`node_status`]) | 8 | 4 | `load` | 12 | 4 | `speed` |
/// | 16 | 4 | `cpus` | 20 | 4 | `util` (basis points) | 24 | 4 | `age_ms` | 28 | 4 | padding |
/// | 32 | 8 | `tmem_kib` | 40 | 8 | `fmem_kib` | 48 | 8 | `amem_kib` |
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeInfo {
    /// Node id (input; 0 = this node). Output: the node's id.
    pub id: u32,
    /// [`node_status`] bits.
    pub status: u32,
    /// Load (100 = one task per reference CPU).
    pub load: u32,
    /// Speed (reference CPU = 10000).
    pub speed: u32,
    /// Online CPUs.
    pub cpus: u32,
    /// Utilization in basis points.
    pub util: u32,
    /// Age of this information in milliseconds.
    pub age_ms: u32,
    /// Zero.
    pub pad: u32,
    /// Total memory in KiB.
    pub tmem_kib: u64,
    /// Raw free memory in KiB.
    pub fmem_kib: u64,
    /// Memory available for processes in KiB.
    pub amem_kib: u64,
}

/// Size in bytes of [`NodeInfo`].
pub const NODE_INFO_SIZE: usize = 56;
no_padding!(NodeInfo, NODE_INFO_SIZE; id, status, load, speed, cpus, util, age_ms, pad, tmem_kib, fmem_kib, amem_kib);

/// Keys of [`Param`]: node policy flags, knobs and actions.
pub mod param {
    /// 0/1: no automatic migration away from this node.
    pub const STAY: u32 = 1;
    /// 0/1: local processes stay; guests may come.
    pub const LSTAY: u32 = 2;
    /// 0/1: accept no guests.
    pub const BLOCK: u32 = 3;
    /// 0/1: stop sending and receiving load information.
    pub const QUIET: u32 = 4;
    /// This node's speed (reference CPU = 10000), 1..=10000000.
    pub const SPEED: u32 = 5;
    /// Load sampling interval in ms, 10..=10000.
    pub const DECAY_INTERVAL: u32 = 6;
    /// Slow decay, per mille kept per interval, 0..=999.
    pub const SLOW_DECAY: u32 = 7;
    /// Fast decay, per mille kept per interval, 0..=999.
    pub const FAST_DECAY: u32 = 8;
    /// Action (write 1): send every guest home.
    pub const EXPEL: u32 = 9;
    /// Action (write 1): bring every process of this home node home.
    pub const BRING: u32 = 10;
    /// Read only: this node's id (0 while no map is loaded).
    pub const MOSPE: u32 = 11;
    /// Gossip interval in ms, 100..=60000.
    pub const GOSSIP_INTERVAL: u32 = 12;
    /// Time without news after which a node is marked down, in ms, 1000..=600000.
    pub const TIMEOUT: u32 = 13;
    /// Memory ushering threshold in KiB (0 = off), 0..=2^40: when the memory available for
    /// processes falls below it, the balancer moves processes to nodes with room.
    pub const USHER: u32 = 14;
    /// 0/1, bench only (`make bench`): links this node opens or accepts from now on are
    /// authenticated but not encrypted, if the peer asks for the same; a peer that does not is
    /// refused. Never set it on a real network.
    pub const PLAINTEXT: u32 = 15;
    /// Read only: how many cluster keys this node accepts (0: none, the node does not join;
    /// 1; 2 while a replaced key is still accepted).
    pub const KEYS: u32 = 16;
    /// Read only: the current cluster key's id, a public fingerprint (its 8 bytes as a
    /// big-endian number; 0 without a key). Nodes that can link show the same id.
    pub const KEY_ID: u32 = 17;
    /// 0/1 (default 0): root's processes may migrate away from this node, and this node accepts
    /// guests running as root (uid 0 keeps every capability wherever it runs).
    pub const ALLOW_ROOT: u32 = 18;
    /// Most guests this node holds (processes of other home nodes running or arriving here),
    /// 0..=[`MAX_GUESTS_LIMIT`], default [`MAX_GUESTS_LIMIT`]; one home node may hold at most
    /// half of them, rounded up (openMosix had no such limit; MOSIX's `maxguests`). A lower
    /// value refuses new offers (`TARGET_FULL`) and leaves guests already here alone.
    pub const MAX_GUESTS: u32 = 19;
    /// Placement at exec time (default 0): 0 off, 1 a program this node starts runs on the node
    /// where it would run fastest, 2 the same only while this node has more runnable tasks than
    /// CPUs. `stay` or `lstay` turn it off too. See `Documentation/balancing.md`.
    pub const EXEC_PLACE: u32 = 20;
}

/// Values of [`param::EXEC_PLACE`].
pub mod exec_place {
    /// A program starts where it was started; only the balancer moves it later.
    pub const OFF: u32 = 0;
    /// A program starts on the node where it would run fastest.
    pub const BEST: u32 = 1;
    /// As [`BEST`], but only when this node has more runnable tasks than CPUs.
    pub const OVERLOADED: u32 = 2;
    /// Largest value.
    pub const MAX: u32 = 2;
}

/// Largest value of [`param::MAX_GUESTS`] (and its default).
pub const MAX_GUESTS_LIMIT: u32 = 256;

/// Argument of [`MOSIX_IOC_SETPARAM`] / [`MOSIX_IOC_GETPARAM`]: 16 bytes
/// (0 `key` u32, 4 padding, 8 `value` u64).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Param {
    /// One of [`param`].
    pub key: u32,
    /// Zero.
    pub pad: u32,
    /// Value.
    pub value: u64,
}

/// Size in bytes of [`Param`].
pub const PARAM_SIZE: usize = 16;
no_padding!(Param, PARAM_SIZE; key, pad, value);

/// `_IOW(0xBC, 1, MapInfo)`: load a cluster map. Needs `CAP_SYS_ADMIN` (`EPERM`). `EINVAL`: the
/// map is invalid or this node's id cannot be found in it; `EFAULT`: bad pointer.
pub const MOSIX_IOC_SETMAP: u32 = iow::<MapInfo>(1);
/// `_IOR(0xBC, 2, MapInfo)`: read the current map (`count` 0 when none is loaded).
pub const MOSIX_IOC_GETMAP: u32 = ior::<MapInfo>(2);
/// `_IOWR(0xBC, 3, NodeInfo)`: what this node knows of node `id`. `ENOENT`: not in the map.
pub const MOSIX_IOC_NODEINFO: u32 = iowr::<NodeInfo>(3);
/// `_IOW(0xBC, 4, Param)`: set a parameter or run an action. Needs `CAP_SYS_ADMIN` (`EPERM`);
/// `EINVAL`: unknown key or value out of range.
pub const MOSIX_IOC_SETPARAM: u32 = iow::<Param>(4);
/// `_IOWR(0xBC, 5, Param)`: read parameter `key`. `EINVAL`: unknown key.
pub const MOSIX_IOC_GETPARAM: u32 = iowr::<Param>(5);

/// [`MigrateReq::node`] value: send the process to its home node.
pub const MIGRATE_HOME: i32 = 0;
/// [`MigrateReq::node`]: let the balancer place the process now (it may stay); on return `node`
/// holds the node it runs on.
pub const MIGRATE_BALANCE: i32 = -1;

/// Why a process cannot move (`cantmove`), or why a target refused it. Shown as text by
/// [`cantmove_str`] in `/proc/hpc/procs` and by the tools.
pub mod cantmove {
    /// It can move.
    pub const NONE: u32 = 0;
    /// A kernel thread (no user memory).
    pub const KTHREAD: u32 = 1;
    /// More than one thread.
    pub const THREADS: u32 = 2;
    /// A writable shared mapping (`MAP_SHARED` with write access, System V shm).
    pub const SHARED_WRITABLE: u32 = 3;
    /// A device or I/O mapping (`VM_IO`, `VM_PFNMAP`, `VM_MIXEDMAP`).
    pub const DEVICE: u32 = 4;
    /// Traced by ptrace.
    pub const PTRACED: u32 = 5;
    /// Real-time or deadline scheduling class.
    pub const REALTIME: u32 = 6;
    /// Locked by its owner (`mosctl lock`).
    pub const LOCKED: u32 = 7;
    /// A migration of this process is already under way.
    pub const MIGRATING: u32 = 8;
    /// The process is exiting.
    pub const EXITING: u32 = 9;
    /// The process has no vDSO at a known address or an unusual memory layout.
    pub const LAYOUT: u32 = 10;
    /// Its credentials cannot travel exactly: setuid or setgid in effect (real, effective,
    /// saved and filesystem ids differ), capabilities (not root), securebits, or more than 32
    /// supplementary groups.
    pub const CREDENTIALS: u32 = 11;
    /// Not dumpable (`prctl(PR_SET_DUMPABLE, 0)`, or after executing a setuid program).
    pub const NOT_DUMPABLE: u32 = 12;
    /// A process of root, and this node does not send root's processes away
    /// (`allow_root`, off by default).
    pub const ROOT: u32 = 13;
    /// Under seccomp (a filter or strict mode): the filter is not carried to another node.
    pub const SECCOMP: u32 = 14;
    /// A `signalfd` is open: it reads the signals pending at home, and a process away has its
    /// signals where it runs. The process stays at home, where its signalfd works.
    pub const SIGNALFD: u32 = 15;
    /// A POSIX timer on a CPU clock is armed: it counts the CPU time of the process at home,
    /// not away. The process stays at home, where it runs on that CPU time.
    pub const CPU_TIMERS: u32 = 16;
    /// The target node blocks guests (`block`).
    pub const TARGET_BLOCKED: u32 = 20;
    /// The target node has not enough free memory for the image.
    pub const TARGET_NOMEM: u32 = 21;
    /// The target could not start a process to run the guest.
    pub const TARGET_SHELL: u32 = 22;
    /// The target failed while installing the image.
    pub const TARGET_FAILED: u32 = 23;
    /// The target is not up or not connected.
    pub const TARGET_DOWN: u32 = 24;
    /// The connection failed during the transfer.
    pub const TRANSFER: u32 = 25;
    /// The target does not accept root's processes (`allow_root` off there).
    pub const TARGET_ROOT: u32 = 26;
    /// The target holds as many guests as it accepts (`max_guests`), or half of that from this
    /// home node.
    pub const TARGET_FULL: u32 = 27;
}

/// Text of a [`cantmove`] code ("" for [`cantmove::NONE`], "unknown" for unknown codes).
pub fn cantmove_str(reason: u32) -> &'static str {
    match reason {
        cantmove::NONE => "",
        cantmove::KTHREAD => "kernel thread",
        cantmove::THREADS => "multi-threaded",
        cantmove::SHARED_WRITABLE => "writable shared memory",
        cantmove::DEVICE => "device memory",
        cantmove::PTRACED => "ptraced",
        cantmove::REALTIME => "real-time scheduling",
        cantmove::LOCKED => "locked",
        cantmove::MIGRATING => "migrating",
        cantmove::EXITING => "exiting",
        cantmove::LAYOUT => "unusual memory layout",
        cantmove::CREDENTIALS => "credentials cannot travel (setuid/setgid, capabilities)",
        cantmove::NOT_DUMPABLE => "not dumpable",
        cantmove::ROOT => "root's process (allow_root is off)",
        cantmove::SECCOMP => "seccomp filter",
        cantmove::SIGNALFD => "signalfd open",
        cantmove::CPU_TIMERS => "POSIX CPU-time timer armed",
        cantmove::TARGET_BLOCKED => "target blocks guests",
        cantmove::TARGET_NOMEM => "target short of memory",
        cantmove::TARGET_SHELL => "target could not start a shell",
        cantmove::TARGET_FAILED => "target failed",
        cantmove::TARGET_DOWN => "target down",
        cantmove::TRANSFER => "transfer failed",
        cantmove::TARGET_ROOT => "target refuses root's processes",
        cantmove::TARGET_FULL => "target holds as many guests as it accepts",
        _ => "unknown",
    }
}

/// Argument of [`MOSIX_IOC_MIGRATE`]: 16 bytes.
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 4 | `pid` (in): process id on this node: a local process, a deputy (its home pid) or a guest's local pid |
/// | 4 | 4 | `node` (in): target node id, [`MIGRATE_HOME`] or [`MIGRATE_BALANCE`]; (out, with [`MIGRATE_BALANCE`]) the node it runs on |
/// | 8 | 4 | `reason` (out): a [`cantmove`] code when the call fails because of the process or the target |
/// | 12 | 4 | padding (0) |
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MigrateReq {
    /// Process id on this node.
    pub pid: i32,
    /// Target node id or [`MIGRATE_HOME`].
    pub node: i32,
    /// Out: [`cantmove`] code.
    pub reason: u32,
    /// Zero.
    pub pad: u32,
}

/// Size in bytes of [`MigrateReq`].
pub const MIGRATE_REQ_SIZE: usize = 16;
no_padding!(MigrateReq, MIGRATE_REQ_SIZE; pid, node, reason, pad);

/// [`ProcInfo::state`] values.
pub mod pstate {
    /// Runs here, at home, and was never seen by oxmosix (or is back home).
    pub const HOME: u32 = 0;
    /// Home node view: the process runs on another node; this task is its deputy.
    pub const DEPUTY: u32 = 1;
    /// Remote node view: a guest from another home node runs in this task.
    pub const GUEST: u32 = 2;
    /// A migration of the process is under way.
    pub const MIGRATING: u32 = 3;
}

/// Length of [`ProcInfo::comm`] (the kernel's `TASK_COMM_LEN`).
pub const COMM_LEN: usize = 16;

/// Argument of [`MOSIX_IOC_PROCINFO`]: 48 bytes.
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 4 | `pid` (in): process id on this node |
/// | 4 | 4 | `state`: a [`pstate`] value |
/// | 8 | 4 | `home`: home node id (this node's id for local processes; 0 without a map) |
/// | 12 | 4 | `where_`: id of the node where the process runs now |
/// | 16 | 4 | `nmigs`: how often the process moved |
/// | 20 | 4 | `lock`: 1 if locked at home |
/// | 24 | 4 | `cantmove`: [`cantmove`] code why it cannot move now (0: it can) |
/// | 28 | 4 | `home_pid`: the pid at home (equals `pid` except for guests) |
/// | 32 | 16 | `comm`: NUL-padded name |
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcInfo {
    /// In: process id on this node.
    pub pid: i32,
    /// A [`pstate`] value.
    pub state: u32,
    /// Home node id.
    pub home: u32,
    /// Node where the process runs now.
    pub where_: u32,
    /// Number of migrations so far.
    pub nmigs: u32,
    /// 1 if locked.
    pub lock: u32,
    /// [`cantmove`] code.
    pub cantmove: u32,
    /// Process id at the home node.
    pub home_pid: i32,
    /// Name, NUL padded.
    pub comm: [u8; COMM_LEN],
}

/// Size in bytes of [`ProcInfo`].
pub const PROC_INFO_SIZE: usize = 48;
no_padding!(ProcInfo, PROC_INFO_SIZE; pid, state, home, where_, nmigs, lock, cantmove, home_pid, comm);

impl ProcInfo {
    /// `comm` up to its first NUL, if it is UTF-8.
    pub fn comm_str(&self) -> Option<&str> {
        let end = self.comm.iter().position(|&c| c == 0).unwrap_or(COMM_LEN);
        core::str::from_utf8(&self.comm[..end]).ok()
    }
}

/// Argument of [`MOSIX_IOC_LOCK`]: 8 bytes (0 `pid` i32, 4 `lock` u32: 1 lock, 0 unlock).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcLock {
    /// Process id on this node (a local process or a deputy).
    pub pid: i32,
    /// 1: keep the process at home; 0: let it move.
    pub lock: u32,
}

/// Size in bytes of [`ProcLock`].
pub const PROC_LOCK_SIZE: usize = 8;
no_padding!(ProcLock, PROC_LOCK_SIZE; pid, lock);

/// `_IOWR(0xBC, 6, MigrateReq)`: migrate process `pid` to `node` (or home) and wait until it
/// runs there (at most 30 s). The caller needs the kernel's ptrace-attach permission on the
/// process (`ptrace_may_access`: same uid and gid, a dumpable process, or `CAP_SYS_PTRACE`, and
/// the LSMs' rules) or `CAP_SYS_ADMIN` (`EPERM`). Errors: `ESRCH` no such process;
/// `EINVAL` bad node id or no map loaded; `EALREADY` it already runs there; `EBUSY` it cannot
/// move (`reason` says why); `ECONNREFUSED` the target refused (`reason`); `EHOSTUNREACH` the
/// target is down or not connected; `EIO` the transfer failed (the process keeps running where
/// it was); `ETIMEDOUT` it did not reach a safe point in time (the request is withdrawn);
/// `EINTR` the caller was interrupted (the migration may still complete).
pub const MOSIX_IOC_MIGRATE: u32 = iowr::<MigrateReq>(6);
/// `_IOWR(0xBC, 7, ProcInfo)`: where process `pid` runs and its migration counters.
/// `ESRCH`: no such process.
pub const MOSIX_IOC_PROCINFO: u32 = iowr::<ProcInfo>(7);
/// `_IOW(0xBC, 8, ProcLock)`: lock or unlock a process at home (a locked process is refused with
/// [`cantmove::LOCKED`], at home or where it runs: locking does not bring an away process home,
/// and `expel`, `bring` and unloading still move a locked process). Same permission rule
/// and errors as [`MOSIX_IOC_MIGRATE`], and `EDQUOT` when the process's user holds 64 records on
/// this node already (a caller with `CAP_SYS_ADMIN` is not limited).
pub const MOSIX_IOC_LOCK: u32 = iow::<ProcLock>(8);

/// [`BenchReq::mode`]: send `bytes` in maximal frames and wait for one answer.
pub const BENCH_STREAM: u32 = 0;
/// [`BenchReq::mode`]: `count` round trips of `bytes` request payload and `reply` answer payload.
pub const BENCH_PINGPONG: u32 = 1;

/// Argument of [`MOSIX_IOC_BENCH`]: 32 bytes (0 `node` u32, 4 `mode` u32, 8 `bytes` u64,
/// 16 `count` u32, 20 `reply` u32, 24 `ns` u64 out: elapsed nanoseconds).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BenchReq {
    /// Peer node id.
    pub node: u32,
    /// [`BENCH_STREAM`] or [`BENCH_PINGPONG`].
    pub mode: u32,
    /// Stream: bytes to send; ping-pong: request payload bytes (8..=65536).
    pub bytes: u64,
    /// Ping-pong: round trips (1..=1000000).
    pub count: u32,
    /// Ping-pong: answer payload bytes (8..=65536).
    pub reply: u32,
    /// Out: elapsed nanoseconds.
    pub ns: u64,
}

/// Size in bytes of [`BenchReq`].
pub const BENCH_REQ_SIZE: usize = 32;
no_padding!(BenchReq, BENCH_REQ_SIZE; node, mode, bytes, count, reply, ns);

/// `_IOWR(0xBC, 9, BenchReq)`: measure raw transfers to a peer over the cluster connection (the
/// baselines of `make bench`). Needs `CAP_SYS_ADMIN` (`EPERM`). `EINVAL`: bad mode or sizes;
/// `EHOSTUNREACH`: not connected; `ETIMEDOUT`: no answer within 30 s.
pub const MOSIX_IOC_BENCH: u32 = iowr::<BenchReq>(9);

/// Longest cluster-key secret, bytes (the shortest is 16).
pub const KEY_MAX: usize = 64;

/// [`KeyReq::flags`]: stop accepting the replaced key at once (end the rotation window).
pub const KEY_RETIRE: u32 = 1;

/// Argument of [`MOSIX_IOC_SETKEY`]: 72 bytes (0 `len` u32, 4 `flags` u32, 8 `secret`
/// [u8; 64]).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyReq {
    /// Bytes of `secret` used, 16..=[`KEY_MAX`].
    pub len: u32,
    /// [`KEY_RETIRE`] or 0.
    pub flags: u32,
    /// The secret (e.g. 32 bytes of `/etc/oxmosix/cluster.key`); bytes past `len` are zero.
    pub secret: [u8; KEY_MAX],
}

impl Default for KeyReq {
    fn default() -> Self {
        KeyReq {
            len: 0,
            flags: 0,
            secret: [0; KEY_MAX],
        }
    }
}

/// Size in bytes of [`KeyReq`].
pub const KEY_REQ_SIZE: usize = 72;
no_padding!(KeyReq, KEY_REQ_SIZE; len, flags, secret);

/// `_IOW(0xBC, 10, KeyReq)`: install the cluster key (write only: no request reads it back).
/// The new key becomes current; the one it replaces stays accepted for 10 minutes or until a
/// request with [`KEY_RETIRE`]. Needs `CAP_SYS_ADMIN` (`EPERM`). `EINVAL`: length outside
/// 16..=64, unknown flags or bytes past `len` not zero; `ENOKEY`: the kernel lacks
/// `hmac(sha256)`.
pub const MOSIX_IOC_SETKEY: u32 = iow::<KeyReq>(10);

#[path = "uapi_run.rs"]
mod run_mode;
pub use run_mode::*;
