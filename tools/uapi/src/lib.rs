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
        assert_eq!(MOSIX_IOC_SETMAP, 0x4310_bc01);
        assert_eq!(MOSIX_IOC_GETMAP, 0x8310_bc02);
        assert_eq!(MOSIX_IOC_NODEINFO, 0xc038_bc03);
        assert_eq!(MOSIX_IOC_SETPARAM, 0x4010_bc04);
        assert_eq!(MOSIX_IOC_GETPARAM, 0xc010_bc05);
        assert_eq!(MOSIX_IOC_MIGRATE, 0xc010_bc06);
        assert_eq!(MOSIX_IOC_PROCINFO, 0xc030_bc07);
        assert_eq!(MOSIX_IOC_LOCK, 0x4008_bc08);
    }

    fn image<T: Copy, const N: usize>(v: &T) -> [u8; N] {
        assert_eq!(core::mem::size_of::<T>(), N);
        // SAFETY: T is a repr(C) struct without padding bytes of exactly N bytes.
        unsafe { core::mem::transmute_copy(v) }
    }

    #[test]
    fn encodings_are_repr_c_images() {
        let mut m = MapInfo::empty();
        m.count = 2;
        m.self_id = 3;
        m.port = 4660;
        m.generation = 9;
        m.ranges[0] = MapRange {
            id: 1,
            ip: 0x0a4d_0001,
            count: 3,
        };
        m.ranges[63] = MapRange {
            id: 7,
            ip: 8,
            count: 9,
        };
        let mut b = [0u8; MAP_INFO_SIZE];
        m.encode(&mut b);
        assert_eq!(b, image::<_, MAP_INFO_SIZE>(&m));
        assert_eq!(MapInfo::decode(&b), m);
        let n = NodeInfo {
            id: 1,
            status: 2,
            load: 3,
            speed: 4,
            cpus: 5,
            util: 6,
            age_ms: 7,
            pad: 0,
            tmem_kib: 8,
            fmem_kib: 9,
            amem_kib: 10,
        };
        let mut b = [0u8; NODE_INFO_SIZE];
        n.encode(&mut b);
        assert_eq!(b, image::<_, NODE_INFO_SIZE>(&n));
        assert_eq!(NodeInfo::decode(&b), n);
        let p = Param {
            key: 5,
            pad: 0,
            value: 1 << 40,
        };
        let mut b = [0u8; PARAM_SIZE];
        p.encode(&mut b);
        assert_eq!(b, image::<_, PARAM_SIZE>(&p));
        assert_eq!(Param::decode(&b), p);
    }

    #[test]
    fn process_encodings_are_repr_c_images() {
        let m = MigrateReq {
            pid: 4242,
            node: MIGRATE_HOME,
            reason: cantmove::TARGET_BLOCKED,
            pad: 0,
        };
        let mut b = [0u8; MIGRATE_REQ_SIZE];
        m.encode(&mut b);
        assert_eq!(b, image::<_, MIGRATE_REQ_SIZE>(&m));
        assert_eq!(MigrateReq::decode(&b), m);
        // Negative pids and node ids survive the u32 cursor (the kernel must reject them).
        let m = MigrateReq {
            pid: -1,
            node: -7,
            reason: 0,
            pad: 0,
        };
        m.encode(&mut b);
        assert_eq!(b, image::<_, MIGRATE_REQ_SIZE>(&m));
        assert_eq!(MigrateReq::decode(&b), m);

        let mut comm = [0u8; COMM_LEN];
        comm[..7].copy_from_slice(b"migrant");
        let p = ProcInfo {
            pid: 77,
            state: pstate::DEPUTY,
            home: 1,
            where_: 2,
            nmigs: 3,
            lock: 1,
            cantmove: cantmove::LOCKED,
            home_pid: 77,
            comm,
        };
        let mut b = [0u8; PROC_INFO_SIZE];
        p.encode(&mut b);
        assert_eq!(b, image::<_, PROC_INFO_SIZE>(&p));
        assert_eq!(ProcInfo::decode(&b), p);
        assert_eq!(p.comm_str(), Some("migrant"));
        // A full-length name has no NUL.
        let full = ProcInfo {
            comm: *b"0123456789abcdef",
            home_pid: -2,
            ..p
        };
        full.encode(&mut b);
        assert_eq!(b, image::<_, PROC_INFO_SIZE>(&full));
        assert_eq!(ProcInfo::decode(&b), full);
        assert_eq!(full.comm_str(), Some("0123456789abcdef"));

        let l = ProcLock { pid: 123, lock: 1 };
        let mut b = [0u8; PROC_LOCK_SIZE];
        l.encode(&mut b);
        assert_eq!(b, image::<_, PROC_LOCK_SIZE>(&l));
        assert_eq!(ProcLock::decode(&b), l);
    }

    /// Field offsets documented in `Documentation/ioctl.md`.
    #[test]
    fn process_field_offsets() {
        let mut b = [0u8; MIGRATE_REQ_SIZE];
        MigrateReq {
            pid: 0x0102_0304,
            node: 5,
            reason: 6,
            pad: 0,
        }
        .encode(&mut b);
        assert_eq!(&b[0..4], &0x0102_0304u32.to_ne_bytes());
        assert_eq!(&b[4..8], &5u32.to_ne_bytes());
        assert_eq!(&b[8..12], &6u32.to_ne_bytes());
        let p = ProcInfo {
            pid: 1,
            state: 2,
            home: 3,
            where_: 4,
            nmigs: 5,
            lock: 6,
            cantmove: 7,
            home_pid: 8,
            comm: [9; COMM_LEN],
        };
        let mut b = [0u8; PROC_INFO_SIZE];
        p.encode(&mut b);
        for (i, want) in (1u32..=8).enumerate() {
            assert_eq!(&b[i * 4..i * 4 + 4], &want.to_ne_bytes());
        }
        assert!(b[32..].iter().all(|&c| c == 9));
        let mut b = [0u8; PROC_LOCK_SIZE];
        ProcLock { pid: 10, lock: 1 }.encode(&mut b);
        assert_eq!(&b[0..4], &10u32.to_ne_bytes());
        assert_eq!(&b[4..8], &1u32.to_ne_bytes());
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
        assert_eq!(cantmove_str(11), "unknown");
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
            cantmove::TARGET_BLOCKED,
            cantmove::TARGET_NOMEM,
            cantmove::TARGET_SHELL,
            cantmove::TARGET_FAILED,
            cantmove::TARGET_DOWN,
            cantmove::TRANSFER,
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
