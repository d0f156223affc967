//! The `/dev/mosix` ABI of oxmosix, for user space.
//!
//! The definitions are the kernel module's own `src/uapi.rs`, included verbatim, so the module
//! and the tools cannot disagree on a request number or a structure layout.
#![no_std]

#[path = "../../../src/uapi.rs"]
mod uapi;
pub use uapi::*;

/// The cluster map format (the module's own `src/map.rs`).
#[path = "../../../src/map.rs"]
pub mod map;

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::format;

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
        assert_eq!(MOSIX_IOC_SETMAP, 0x4310_bc01);
        assert_eq!(MOSIX_IOC_GETMAP, 0x8310_bc02);
        assert_eq!(MOSIX_IOC_NODEINFO, 0xc038_bc03);
        assert_eq!(MOSIX_IOC_SETPARAM, 0x4010_bc04);
        assert_eq!(MOSIX_IOC_GETPARAM, 0xc010_bc05);
        assert_eq!(MOSIX_IOC_MIGRATE, 0xc010_bc06);
        assert_eq!(MOSIX_IOC_PROCINFO, 0xc030_bc07);
        assert_eq!(MOSIX_IOC_LOCK, 0x4008_bc08);
        assert_eq!(MOSIX_IOC_RUNMODE, 0x400c_bc0b);
    }

    /// Size of the field `_field` projects to.
    fn field_size<T, F>(_field: fn(&T) -> &F) -> usize {
        core::mem::size_of::<F>()
    }

    /// One value both sides must agree on: its name, the C expression that computes it and the
    /// Rust value.
    type Fact = (std::string::String, std::string::String, i64);

    /// The size of C structure `$c` and the offset and size of each field, against the Rust
    /// structure `$t` (C field names equal the Rust ones, `where_` excepted).
    macro_rules! layout {
        ($facts:ident, $c:literal, $t:ty; $($f:ident = $cf:literal),+) => {
            $facts.push((
                format!("sizeof {}", $c),
                format!("sizeof(struct {})", $c),
                core::mem::size_of::<$t>() as i64,
            ));
            $(
                $facts.push((
                    format!("{}.{} offset", $c, $cf),
                    format!("offsetof(struct {}, {})", $c, $cf),
                    core::mem::offset_of!($t, $f) as i64,
                ));
                $facts.push((
                    format!("{}.{} size", $c, $cf),
                    format!("sizeof(((struct {} *)0)->{})", $c, $cf),
                    field_size(|x: &$t| &x.$f) as i64,
                ));
            )+
        };
    }

    /// Constants: the C macro named `$c` against the Rust value.
    macro_rules! constants {
        ($facts:ident; $($c:literal = $v:expr),+ $(,)?) => {
            $( $facts.push(($c.to_string(), format!("(long long)({})", $c), $v as i64)); )+
        };
    }

    /// Every size, offset, request number and constant of the selftests' C header
    /// (`tests/selftests/oxmosix/oxmosix_uapi.h`) equals the definition in `src/uapi.rs`: the
    /// header is compiled with the host C compiler into a program that prints them.
    #[test]
    fn c_header_matches() {
        let mut facts: std::vec::Vec<Fact> = std::vec::Vec::new();
        layout!(facts, "mosix_version", VersionInfo; abi = "abi", major = "major",
            minor = "minor", patch = "patch", release = "release");
        layout!(facts, "mosix_map_range", MapRange; id = "id", ip = "ip", count = "count");
        layout!(facts, "mosix_map", MapInfo; count = "count", self_id = "self_id", port = "port",
            pad = "pad", generation = "generation", ranges = "ranges");
        layout!(facts, "mosix_nodeinfo", NodeInfo; id = "id", status = "status", load = "load",
            speed = "speed", cpus = "cpus", util = "util", age_ms = "age_ms", pad = "pad",
            tmem_kib = "tmem_kib", fmem_kib = "fmem_kib", amem_kib = "amem_kib");
        layout!(facts, "mosix_param", Param; key = "key", pad = "pad", value = "value");
        layout!(facts, "mosix_migrate", MigrateReq; pid = "pid", node = "node",
            reason = "reason", pad = "pad");
        layout!(facts, "mosix_procinfo", ProcInfo; pid = "pid", state = "state", home = "home",
            where_ = "where", nmigs = "nmigs", lock = "lock", cantmove = "cantmove",
            home_pid = "home_pid", comm = "comm");
        layout!(facts, "mosix_lock", ProcLock; pid = "pid", lock = "lock");
        layout!(facts, "mosix_runmode", RunMode; pid = "pid", flags = "flags", node = "node");
        layout!(facts, "mosix_bench", BenchReq; node = "node", mode = "mode", bytes = "bytes",
            count = "count", reply = "reply", ns = "ns");
        layout!(facts, "mosix_key", KeyReq; len = "len", flags = "flags", secret = "secret");
        constants!(facts;
            "MOSIX_ABI_VERSION" = MOSIX_ABI_VERSION,
            "MOSIX_IOC_MAGIC" = MOSIX_IOC_MAGIC,
            "MOSIX_MAP_MAX_RANGES" = MAP_MAX_RANGES,
            "MOSIX_IOC_VERSION" = MOSIX_IOC_VERSION,
            "MOSIX_IOC_SETMAP" = MOSIX_IOC_SETMAP,
            "MOSIX_IOC_GETMAP" = MOSIX_IOC_GETMAP,
            "MOSIX_IOC_NODEINFO" = MOSIX_IOC_NODEINFO,
            "MOSIX_IOC_SETPARAM" = MOSIX_IOC_SETPARAM,
            "MOSIX_IOC_GETPARAM" = MOSIX_IOC_GETPARAM,
            "MOSIX_IOC_MIGRATE" = MOSIX_IOC_MIGRATE,
            "MOSIX_IOC_PROCINFO" = MOSIX_IOC_PROCINFO,
            "MOSIX_IOC_LOCK" = MOSIX_IOC_LOCK,
            "MOSIX_IOC_BENCH" = MOSIX_IOC_BENCH,
            "MOSIX_IOC_SETKEY" = MOSIX_IOC_SETKEY,
            "MOSIX_IOC_RUNMODE" = MOSIX_IOC_RUNMODE,
            "RUN_HOME" = run::HOME,
            "RUN_LOCK" = run::LOCK,
            "RUN_NOAUTO" = run::NOAUTO,
            "RUN_BEST" = run::BEST,
            "RUN_NODE" = run::NODE,
            "MOSIX_KEY_MAX" = KEY_MAX,
            "MOSIX_KEY_RETIRE" = KEY_RETIRE,
            "MIGRATE_HOME" = MIGRATE_HOME,
            "MIGRATE_BALANCE" = MIGRATE_BALANCE,
            "MOSIX_NODE_UP" = node_status::UP,
            "MOSIX_NODE_KNOWN" = node_status::KNOWN,
            "MOSIX_NODE_SELF" = node_status::SELF,
            "MOSIX_NODE_CONNECTED" = node_status::CONNECTED,
            "PS_HOME" = pstate::HOME,
            "PS_DEPUTY" = pstate::DEPUTY,
            "PS_GUEST" = pstate::GUEST,
            "PS_MIGRATING" = pstate::MIGRATING,
            "CM_NONE" = cantmove::NONE,
            "CM_KTHREAD" = cantmove::KTHREAD,
            "CM_THREADS" = cantmove::THREADS,
            "CM_SHARED_WRITABLE" = cantmove::SHARED_WRITABLE,
            "CM_DEVICE" = cantmove::DEVICE,
            "CM_PTRACED" = cantmove::PTRACED,
            "CM_REALTIME" = cantmove::REALTIME,
            "CM_LOCKED" = cantmove::LOCKED,
            "CM_MIGRATING" = cantmove::MIGRATING,
            "CM_EXITING" = cantmove::EXITING,
            "CM_LAYOUT" = cantmove::LAYOUT,
            "CM_TARGET_BLOCKED" = cantmove::TARGET_BLOCKED,
            "CM_TARGET_NOMEM" = cantmove::TARGET_NOMEM,
            "CM_TARGET_SHELL" = cantmove::TARGET_SHELL,
            "CM_TARGET_FAILED" = cantmove::TARGET_FAILED,
            "CM_TARGET_DOWN" = cantmove::TARGET_DOWN,
            "CM_TRANSFER" = cantmove::TRANSFER,
            "CM_CREDENTIALS" = cantmove::CREDENTIALS,
            "CM_NOT_DUMPABLE" = cantmove::NOT_DUMPABLE,
            "CM_ROOT" = cantmove::ROOT,
            "CM_SECCOMP" = cantmove::SECCOMP,
            "CM_SIGNALFD" = cantmove::SIGNALFD,
            "CM_CPU_TIMERS" = cantmove::CPU_TIMERS,
            "CM_TARGET_ROOT" = cantmove::TARGET_ROOT,
            "CM_TARGET_FULL" = cantmove::TARGET_FULL,
        );

        let header = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/selftests/oxmosix/oxmosix_uapi.h"
        );
        let mut prog = format!(
            "#include <stddef.h>\n#include <stdio.h>\n#include \"{header}\"\nint main(void)\n{{\n"
        );
        for (name, expr, _) in &facts {
            prog += &format!("\tprintf(\"%s=%lld\\n\", \"{name}\", (long long)({expr}));\n");
        }
        prog += "\treturn 0;\n}\n";
        let dir = std::env::temp_dir().join(format!("oxmosix-uapi-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (src, exe) = (dir.join("layout.c"), dir.join("layout"));
        std::fs::write(&src, prog).unwrap();
        let cc = std::process::Command::new("cc")
            .args(["-std=gnu11", "-Wall", "-Werror", "-o"])
            .arg(&exe)
            .arg(&src)
            .output()
            .expect("the host C compiler `cc` runs");
        assert!(
            cc.status.success(),
            "oxmosix_uapi.h does not compile: {}",
            std::string::String::from_utf8_lossy(&cc.stderr)
        );
        let run = std::process::Command::new(&exe).output().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(run.status.success());
        let text = std::string::String::from_utf8(run.stdout).unwrap();
        let c: std::vec::Vec<(&str, i64)> = text
            .lines()
            .map(|l| {
                let (k, v) = l.split_once('=').unwrap();
                (k, v.parse().unwrap())
            })
            .collect();
        assert_eq!(c.len(), facts.len());
        let wrong: std::vec::Vec<std::string::String> = facts
            .iter()
            .zip(&c)
            .filter(|((_, _, want), (_, got))| want != got)
            .map(|((name, _, want), (_, got))| format!("{name}: Rust {want}, C {got}"))
            .collect();
        assert!(wrong.is_empty(), "C header differs: {wrong:?}");
    }

    /// Field offsets documented in `Documentation/ioctl.md` and the tables of `src/uapi.rs`.
    #[test]
    fn documented_offsets() {
        use core::mem::offset_of;
        assert_eq!(offset_of!(VersionInfo, release), 16);
        assert_eq!(offset_of!(MapInfo, port), 8);
        assert_eq!(offset_of!(MapInfo, generation), 12);
        assert_eq!(offset_of!(MapInfo, ranges), 16);
        assert_eq!(offset_of!(NodeInfo, age_ms), 24);
        assert_eq!(offset_of!(NodeInfo, tmem_kib), 32);
        assert_eq!(offset_of!(NodeInfo, amem_kib), 48);
        assert_eq!(offset_of!(Param, value), 8);
        assert_eq!(offset_of!(MigrateReq, reason), 8);
        assert_eq!(offset_of!(ProcInfo, home_pid), 28);
        assert_eq!(offset_of!(ProcInfo, comm), 32);
        assert_eq!(offset_of!(ProcLock, lock), 4);
        assert_eq!(offset_of!(BenchReq, count), 16);
        assert_eq!(offset_of!(BenchReq, ns), 24);
    }

    #[test]
    fn cantmove_texts() {
        assert_eq!(cantmove_str(cantmove::NONE), "");
        assert_eq!(cantmove_str(cantmove::THREADS), "multi-threaded");
        assert_eq!(
            cantmove_str(cantmove::SHARED_WRITABLE),
            "writable shared memory"
        );
        assert_eq!(
            cantmove_str(cantmove::TARGET_BLOCKED),
            "target blocks guests"
        );
        assert_eq!(cantmove_str(17), "unknown");
        assert_eq!(cantmove_str(u32::MAX), "unknown");
        // Every defined code has its own text.
        let codes = [
            cantmove::KTHREAD,
            cantmove::THREADS,
            cantmove::SHARED_WRITABLE,
            cantmove::DEVICE,
            cantmove::PTRACED,
            cantmove::REALTIME,
            cantmove::LOCKED,
            cantmove::MIGRATING,
            cantmove::EXITING,
            cantmove::LAYOUT,
            cantmove::CREDENTIALS,
            cantmove::NOT_DUMPABLE,
            cantmove::ROOT,
            cantmove::SECCOMP,
            cantmove::SIGNALFD,
            cantmove::CPU_TIMERS,
            cantmove::TARGET_BLOCKED,
            cantmove::TARGET_NOMEM,
            cantmove::TARGET_SHELL,
            cantmove::TARGET_FAILED,
            cantmove::TARGET_DOWN,
            cantmove::TRANSFER,
            cantmove::TARGET_ROOT,
            cantmove::TARGET_FULL,
        ];
        let mut texts: std::vec::Vec<&str> = codes.iter().map(|&c| cantmove_str(c)).collect();
        assert!(texts.iter().all(|t| !t.is_empty() && *t != "unknown"));
        texts.sort_unstable();
        texts.dedup();
        assert_eq!(texts.len(), codes.len());
    }

    #[test]
    fn map_parse_validate_format() {
        use map::*;
        let text = "# test map\n1 10.77.0.1 3   # three nodes\n\n10 192.168.1.20 1\n";
        let ranges: std::vec::Vec<Range> = text
            .lines()
            .enumerate()
            .filter_map(|(i, l)| parse_line(l, i + 1).unwrap())
            .collect();
        assert_eq!(validate(&ranges), Ok(4));
        let ids: std::vec::Vec<(u32, u32)> = nodes(&ranges).collect();
        assert_eq!(
            ids,
            [
                (1, 0x0a4d_0001),
                (2, 0x0a4d_0002),
                (3, 0x0a4d_0003),
                (10, 0xc0a8_0114)
            ]
        );
        let mut out = std::string::String::new();
        format(&ranges, &mut out).unwrap();
        assert_eq!(out, "1 10.77.0.1 3\n10 192.168.1.20 1\n");
        assert_eq!(
            parse_line("1 10.77.0.1", 4),
            Err(MapError::Syntax { line: 4 })
        );
        assert_eq!(
            parse_line("0 10.77.0.1 1", 1),
            Err(MapError::BadId { line: 1 })
        );
        assert_eq!(
            parse_line("65535 10.77.0.1 2", 1),
            Err(MapError::BadId { line: 1 })
        );
        assert_eq!(
            parse_line("1 10.77.0.300 1", 1),
            Err(MapError::BadIp { line: 1 })
        );
        assert_eq!(
            parse_line("1 255.255.255.255 2", 1),
            Err(MapError::BadIp { line: 1 })
        );
        assert_eq!(
            parse_line("1 10.0.0.1 0", 1),
            Err(MapError::BadCount { line: 1 })
        );
        assert_eq!(
            parse_line("1 10.0.0.1 1 x", 1),
            Err(MapError::Syntax { line: 1 })
        );
        let r = |id, ip, count| Range { id, ip, count };
        assert_eq!(
            validate(&[r(1, 100, 3), r(3, 200, 1)]),
            Err(MapError::Overlap { line: 2 })
        );
        assert_eq!(
            validate(&[r(1, 100, 3), r(5, 102, 1)]),
            Err(MapError::Overlap { line: 2 })
        );
        assert_eq!(validate(&[]), Err(MapError::Size));
        assert_eq!(
            validate(&[r(1, 100, 200), r(300, 1000, 100)]),
            Err(MapError::Size)
        );
    }
    use std::string::ToString;
}
