//! Migration messages and the system-call table: round trips, rejections, and the classes the
//! issue requires.
use oxmosix_host_tests::proto::mig::*;
use oxmosix_host_tests::proto::{encode_frame, Header, Message, MsgType, ProtoError, HEADER_LEN};
use oxmosix_host_tests::syscalls::{self, nr, Arg, Back, Class, Split};
use proptest::prelude::*;

fn frame(t: MsgType, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; HEADER_LEN + payload.len()];
    let n = encode_frame(t, 7, 1, 2, payload, &mut out).expect("encode");
    out.truncate(n);
    out
}

fn decode(f: &[u8]) -> Result<Message<'_>, ProtoError> {
    let h = Header::decode(f)?;
    Message::decode(&h, &f[HEADER_LEN..])
}

proptest! {
    #[test]
    fn offer_round_trips(token in 1..u64::MAX, home in 1..=65535u32, pid in 1..=0x40_0000u32,
                         uid in any::<u32>(), gid in any::<u32>(), pages in 0..=(USER_TOP / 4096),
                         nmigs in any::<u32>(), comm in any::<[u8; 16]>(),
                         ngroups in 0..=(MAX_GROUPS as u32), nnp in any::<bool>()) {
        let mut groups = [0u32; MAX_GROUPS];
        for (k, g) in groups.iter_mut().enumerate().take(ngroups as usize) {
            *g = gid.wrapping_add(k as u32);
        }
        let o = Offer { token, home, home_pid: pid, uid, gid, pages, nmigs, comm, flags: nnp as u32, ngroups, groups };
        let f = frame(MsgType::MigOffer, &o.encode());
        match decode(&f) {
            Ok(Message::MigOffer(d)) => prop_assert_eq!(d, o),
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn state_round_trips(token in 1..u64::MAX, regs in any::<[u64; NREGS]>(), xlen in 0..=MAX_XSTATE,
                         blocked in any::<u64>(), flags in any::<u32>(),
                         mono in 0..=MAX_CLOCK_NS, boot in 0..=MAX_CLOCK_NS) {
        let mut s = State::new(token);
        s.clocks = [mono, boot];
        s.itimer_real = [mono.max(1), boot];
        s.regs = regs.map(|r| r % USER_TOP);
        s.mm[MM_VDSO] = 0x7fff_f000_0000;
        s.mm[MM_VVAR] = 0x7fff_efff_c000;
        s.blocked = blocked;
        s.ss_flags = flags;
        s.actions[3] = [1, 2, 3, 4];
        s.rlim[15] = [5, 6];
        let xs: Vec<u8> = (0..xlen).map(|i| i as u8).collect();
        let mut buf = vec![0u8; STATE_FIXED_LEN + xlen];
        let n = s.encode(&xs, &mut buf).unwrap();
        let f = frame(MsgType::MigState, &buf[..n]);
        match decode(&f) {
            Ok(Message::MigState(b)) => {
                let (d, x) = State::decode(b).unwrap();
                prop_assert_eq!(d, s);
                prop_assert_eq!(x, &xs[..]);
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn syscall_and_reply_round_trip(token in 1..u64::MAX, n in 0..500u32, args in any::<[u64; 6]>(),
                                    len in 0..=MAX_SYS_DATA, result in any::<i64>()) {
        let data: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        let mut p = vec![0u8; SYSCALL_HDR_LEN];
        Syscall::encode_header(token, n, &args, &mut p);
        p.extend_from_slice(&data);
        match decode(&frame(MsgType::Syscall, &p)) {
            Ok(Message::Syscall(s)) => {
                prop_assert_eq!((s.token, s.nr, s.args), (token, n, args));
                prop_assert_eq!(s.data, &data[..]);
            }
            other => prop_assert!(false, "{:?}", other),
        }
        let mut r = vec![0u8; SYSREPLY_HDR_LEN];
        SysReply::encode_header(token, result, &mut r);
        r.extend_from_slice(&data);
        match decode(&frame(MsgType::SysReply, &r)) {
            Ok(Message::SysReply(s)) => prop_assert_eq!((s.token, s.result, s.data), (token, result, &data[..])),
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn migration_payloads_never_panic(t in 6u8..=14, bytes in proptest::collection::vec(any::<u8>(), 0..70_000)) {
        let t = MsgType::from_u8(t).unwrap();
        let (lo, hi) = t.payload_bounds();
        if bytes.len() >= lo && bytes.len() <= hi {
            let f = frame(t, &bytes);
            let _ = decode(&f);
        }
    }
}

#[test]
fn vma_pages_end_ctl_round_trip_and_reject() {
    let v = Vma {
        token: 9,
        start: 0x40_0000,
        end: 0x40_2000,
        prot: 5,
        flags: vma::FILE,
        file: 0,
        pgoff: 0,
    };
    assert!(
        matches!(decode(&frame(MsgType::MigVma, &v.encode())), Ok(Message::MigVma(d)) if d == v)
    );
    for bad in [
        Vma {
            end: 0x40_0000,
            ..v
        }, // empty
        Vma {
            start: 0x40_0001,
            ..v
        }, // unaligned
        Vma {
            end: USER_TOP + 4096,
            ..v
        }, // beyond user space
        Vma { prot: 8, ..v },   // unknown prot bit
        Vma { flags: 64, ..v }, // unknown flag
        Vma { token: 0, ..v },  // no token
    ] {
        assert!(
            decode(&frame(MsgType::MigVma, &bad.encode())).is_err(),
            "{bad:?}"
        );
    }
    let mut p = vec![0u8; PAGES_HDR_LEN + 2 * PAGE];
    MsgPages::encode_header(3, 0x1000, 2, &mut p);
    p[PAGES_HDR_LEN] = 0xaa;
    match decode(&frame(MsgType::MigPages, &p)) {
        Ok(Message::MigPages(m)) => assert_eq!(
            (m.token, m.addr, m.data.len(), m.data[0]),
            (3, 0x1000, 8192, 0xaa)
        ),
        other => panic!("{other:?}"),
    }
    // Count disagreeing with the length, unaligned address, address beyond user space.
    MsgPages::encode_header(3, 0x1000, 3, &mut p);
    assert!(decode(&frame(MsgType::MigPages, &p)).is_err());
    MsgPages::encode_header(3, 0x1001, 2, &mut p);
    assert!(decode(&frame(MsgType::MigPages, &p)).is_err());
    MsgPages::encode_header(3, USER_TOP - 4096, 2, &mut p);
    assert!(decode(&frame(MsgType::MigPages, &p)).is_err());
    let e = End {
        token: 5,
        vmas: 3,
        pages: 100,
    };
    assert!(
        matches!(decode(&frame(MsgType::MigEnd, &e.encode())), Ok(Message::MigEnd(d)) if d == e)
    );
    let c = Ctl {
        token: 5,
        op: ctl::GO_HOME,
        arg: 3,
        ..Ctl::default()
    };
    assert!(
        matches!(decode(&frame(MsgType::MigCtl, &c.encode())), Ok(Message::MigCtl(d)) if d == c)
    );
    assert!(decode(&frame(MsgType::MigCtl, &Ctl { op: 0, ..c }.encode())).is_err());
    assert!(decode(&frame(
        MsgType::MigCtl,
        &Ctl {
            op: ctl::MAX + 1,
            ..c
        }
        .encode()
    ))
    .is_err());
    let a = Answer {
        token: 5,
        status: 256,
        pid: 1,
    };
    assert!(decode(&frame(MsgType::MigAnswer, &a.encode())).is_err());
}

#[test]
fn state_rejects_bad_addresses_and_lengths() {
    let mut s = State::new(1);
    s.mm[MM_VDSO] = 0x7fff_f000_0000;
    s.mm[MM_VVAR] = 0x7fff_efff_c000;
    let mut buf = vec![0u8; STATE_FIXED_LEN + 64];
    let n = s.encode(&[0u8; 64], &mut buf).unwrap();
    assert!(State::decode(&buf[..n]).is_ok());
    assert!(
        State::decode(&buf[..n - 1]).is_err(),
        "xstate length disagrees"
    );
    for f in [
        |s: &mut State| s.regs[REG_IP] = USER_TOP,
        |s: &mut State| s.regs[REG_SP] = u64::MAX,
        |s: &mut State| s.regs[REG_FS_BASE] = 1 << 63,
        |s: &mut State| s.mm[MM_VDSO] = 0,
        |s: &mut State| s.mm[MM_VVAR] = s.mm[MM_VDSO] + 4096,
        |s: &mut State| s.mm[0] = USER_TOP + 1,
        |s: &mut State| s.clocks[0] = MAX_CLOCK_NS + 1,
        |s: &mut State| s.clocks[1] = u64::MAX,
        |s: &mut State| s.itimer_real = [MAX_CLOCK_NS + 1, 0],
        |s: &mut State| s.itimer_real = [1, MAX_CLOCK_NS + 1],
        |s: &mut State| s.itimer_real = [0, 1_000_000],
    ] {
        let mut t = s.clone();
        f(&mut t);
        let n = t.encode(&[], &mut buf).unwrap();
        assert!(State::decode(&buf[..n]).is_err());
    }
    assert!(s
        .encode(&vec![0; MAX_XSTATE + 1], &mut vec![0; 70_000])
        .is_err());
}

#[test]
fn syscall_classes_are_the_issues() {
    let z = [0u64; 6];
    for n in [
        nr::BRK,
        nr::MUNMAP,
        nr::MPROTECT,
        nr::MADVISE,
        nr::MREMAP,
        nr::RT_SIGACTION,
        nr::RT_SIGPROCMASK,
        nr::RT_SIGRETURN,
        nr::SIGALTSTACK,
        nr::CLOCK_GETTIME,
        nr::GETTIMEOFDAY,
        nr::NANOSLEEP,
        nr::CLOCK_NANOSLEEP,
        nr::SCHED_YIELD,
        nr::ARCH_PRCTL,
        nr::GETRANDOM,
    ] {
        assert_eq!(syscalls::classify(n, &z), Class::Local, "{n}");
    }
    for n in [
        nr::READ,
        nr::WRITE,
        nr::OPENAT,
        nr::CLOSE,
        nr::LSEEK,
        nr::FSTAT,
        nr::NEWFSTATAT,
        nr::GETPID,
        nr::GETPPID,
        nr::GETUID,
        nr::GETEUID,
        nr::GETGID,
        nr::GETEGID,
        nr::EXIT_GROUP,
        nr::EXIT,
    ] {
        assert!(
            matches!(syscalls::classify(n, &z), Class::Forward(_)),
            "{n}"
        );
    }
    // sendmsg/recvmsg: the remote decides from the msghdr.
    assert_eq!(syscalls::classify(nr::SENDMSG, &z), Class::Msg(true));
    assert_eq!(syscalls::classify(nr::RECVMSG, &z), Class::Msg(false));
    // mmap: anonymous private memory is local; a private file mapping is made where the
    // process runs when that node holds the file; shared memory, shared file mappings and huge
    // pages of a file go home.
    assert_eq!(
        syscalls::classify(nr::MMAP, &[0, 4096, 3, 0x22, u64::MAX, 0]),
        Class::Local
    );
    assert_eq!(
        syscalls::classify(nr::MMAP, &[0, 4096, 1, 0x02, 3, 0]),
        Class::MapFile
    );
    // MAP_PRIVATE | MAP_FIXED | MAP_DENYWRITE, as the loader maps a library's segments.
    assert_eq!(
        syscalls::classify(nr::MMAP, &[0x7000_0000, 4096, 5, 0x812, 3, 4096]),
        Class::MapFile
    );
    for flags in [0x01u64, 0x03, 0x40002, 0x00] {
        assert_eq!(
            syscalls::classify(nr::MMAP, &[0, 4096, 1, flags, 3, 0]),
            Class::Home,
            "{flags:#x}"
        );
    }
    assert_eq!(
        syscalls::classify(nr::MMAP, &[0, 4096, 3, 0x21, u64::MAX, 0]),
        Class::Home
    );
    // Everything else (execveat, ioctl, unknown numbers) goes home.
    assert_eq!(syscalls::classify(nr::EXECVE, &z), Class::Exec);
    for n in [322u64, 16, 400, 462, 1000, u64::MAX] {
        assert_eq!(syscalls::classify(n, &z), Class::Home, "{n}");
    }
    // prctl: the name, the parent-death signal and the dumpable flag are forwarded.
    for (o, fwd) in [
        (15u64, true),
        (16, true),
        (1, true),
        (2, true),
        (3, true),
        (4, true),
        (38, false),
        (22, false),
    ] {
        let c = syscalls::classify(nr::PRCTL, &[o, 0, 0, 0, 0, 0]);
        assert_eq!(matches!(c, Class::Forward(_)), fwd, "prctl {o}");
        assert_eq!(c == Class::Home, !fwd, "prctl {o}");
    }
    // fork, vfork, clone3 and a clone without sharing make the child where the process runs.
    for n in [nr::FORK, nr::VFORK, nr::CLONE3, nr::CLONE] {
        assert_eq!(syscalls::classify(n, &z), Class::Fork, "{n}");
    }
    // The interval timers travel (alarm and all three itimers run where the process is), and
    // its own CPU time is read there; its children's at home.
    assert_eq!(syscalls::classify(nr::ALARM, &z), Class::Local);
    for n in [nr::SETITIMER, nr::GETITIMER] {
        for which in [0, 1, 2] {
            let a = [which, 0, 0, 0, 0, 0];
            assert_eq!(syscalls::classify(n, &a), Class::Local, "{n} {which}");
        }
    }
    for who in [0u64, 1] {
        let a = [who, 0, 0, 0, 0, 0];
        assert_eq!(syscalls::classify(nr::GETRUSAGE, &a), Class::Local, "{who}");
    }
    let children = [(-1i64) as u64, 0, 0, 0, 0, 0];
    assert!(matches!(
        syscalls::classify(nr::GETRUSAGE, &children),
        Class::Forward(_)
    ));
    // Reads and writes larger than a frame are split, with the offset of pread64/pwrite64.
    let split = |n| match syscalls::classify(n, &z) {
        Class::Forward(f) => f.split,
        c => panic!("{n}: {c:?}"),
    };
    assert_eq!(split(nr::READ), Split::Read { offset: None });
    assert_eq!(split(nr::PREAD64), Split::Read { offset: Some(3) });
    assert_eq!(split(nr::WRITE), Split::Write { offset: None });
    assert_eq!(split(nr::PWRITE64), Split::Write { offset: Some(3) });
    assert_eq!(split(nr::GETDENTS64), Split::No);
    // exit and exit_group do not wait for an answer.
    for n in [nr::EXIT, nr::EXIT_GROUP] {
        assert!(matches!(syscalls::classify(n, &z), Class::Forward(f) if f.oneway));
    }
}

#[test]
fn forwarded_buffers_are_well_formed() {
    // Every length argument a buffer refers to is a plain value, and every forwarded call's
    // buffers fit one frame.
    for n in 0..nr::COUNT {
        if let Class::Forward(f) = syscalls::classify(n, &[0; 6]) {
            for a in f.args {
                if let Arg::In(i) | Arg::Out(i) = a {
                    assert!(i < 6 && f.args[i as usize] == Arg::Val, "call {n}");
                }
                if let Arg::OutFixed(sz) = a {
                    assert!(sz as usize <= MAX_SYS_DATA);
                }
            }
        }
    }
}

#[test]
fn plans_marshal_what_the_calls_touch() {
    let f = |n: u64, a: [u64; 6]| match syscalls::classify(n, &a) {
        Class::Forward(f) => syscalls::plan(&f, &a),
        c => panic!("{n}: {c:?}"),
    };
    // read: one output buffer, capped to one frame, result bytes back.
    let p = f(nr::READ, [3, 0x1000, 1 << 20, 0, 0, 0]).unwrap();
    assert_eq!(p.n, 1);
    assert_eq!(
        (p.bufs[0].arg, p.bufs[0].out_cap, p.bufs[0].out),
        (1, syscalls::MAX_DATA as u32, Back::Result)
    );
    assert_eq!(&p.caps[..p.ncaps], &[(2, syscalls::MAX_DATA as u64)]);
    assert_eq!(p.bufs[0].back(100), 100);
    assert_eq!(p.bufs[0].back(-4), 0);
    // wait4 with NULL status and rusage: no buffers at all.
    assert_eq!(f(nr::WAIT4, [0, 0, 0, 0, 0, 0]).unwrap().n, 0);
    let p = f(nr::WAIT4, [7, 0x1000, 0, 0x2000, 0, 0]).unwrap();
    assert_eq!((p.n, p.bufs[0].out_cap, p.bufs[1].out_cap), (2, 4, 144));
    // poll: nfds pollfds in and out; too many to fit is EINVAL.
    let p = f(nr::POLL, [0x1000, 3, 100, 0, 0, 0]).unwrap();
    assert_eq!((p.bufs[0].in_len, p.bufs[0].out_cap), (24, 24));
    assert_eq!(f(nr::POLL, [0x1000, 1 << 20, 0, 0, 0, 0]), Err(-22));
    // select: fd_sets of ceil(nfds/64) words, NULL sets skipped.
    let p = f(nr::SELECT, [65, 0x1000, 0, 0x3000, 0x4000, 0]).unwrap();
    assert_eq!(p.n, 3);
    assert_eq!(
        (p.bufs[0].in_len, p.bufs[1].arg, p.bufs[2].in_len),
        (16, 3, 16)
    );
    // select interrupted to move (-ERESTARTNOHAND): its in-out fd_sets and timeout (the time
    // left) come back whole, for the restart; after any other error nothing does.
    let p = f(nr::SELECT, [65, 0x1000, 0x2000, 0x3000, 0x4000, 0]).unwrap();
    assert_eq!(p.n, 4);
    for b in &p.bufs[..p.n] {
        assert_eq!(b.back(-514), b.out_cap);
        assert_eq!(b.back(-512), b.out_cap);
        assert!(b.out_cap > 0);
        assert_eq!(b.back(-516), 0);
        assert_eq!(b.back(-4), 0);
    }
    // A pure output (read's buffer, wait4's status) never comes back interrupted: the kernel
    // did not write it.
    let p = f(nr::READ, [3, 0x1000, 4096, 0, 0, 0]).unwrap();
    assert_eq!(p.bufs[0].back(-512), 0);
    let p = f(nr::WAIT4, [7, 0x1000, 0, 0x2000, 0, 0]).unwrap();
    assert_eq!((p.bufs[0].back(-512), p.bufs[1].back(-512)), (0, 0));
    // getgroups: result elements of 4 bytes back.
    let p = f(nr::GETGROUPS, [8, 0x1000, 0, 0, 0, 0]).unwrap();
    assert_eq!((p.bufs[0].out_cap, p.bufs[0].back(3)), (32, 12));
    // renameat2: two paths in order.
    let p = f(nr::RENAMEAT2, [1, 0x1000, 2, 0x2000, 0, 0]).unwrap();
    assert_eq!((p.n, p.bufs[0].str, p.bufs[1].arg), (2, true, 3));
}

/// Image flow control (src/proto/flow.rs): whatever the order in which the sender sends, the
/// receiver takes frames and the credit reports arrive (in order, delayed), a stream of any
/// length completes, and no more than `WINDOW` of its frames ever wait in the receiver's inbox
/// (16 entries), so the receive thread never finds it full.
#[test]
fn flow_window_bounds_the_inbox_and_never_stalls() {
    use oxmosix_host_tests::proto::flow::{may_send, report, CREDIT_EVERY, WINDOW};
    use rand::{rngs::SmallRng, Rng, SeedableRng};
    use std::collections::VecDeque;

    const _: () = assert!(CREDIT_EVERY <= WINDOW && WINDOW + 2 <= 16);
    let mut rng = SmallRng::seed_from_u64(7);
    for _ in 0..2000 {
        let frames: u32 = rng.gen_range(1..400);
        let (mut sent, mut taken, mut credit) = (0u32, 0u32, 0u32);
        let mut inbox = 0u32;
        let mut reports: VecDeque<u32> = VecDeque::new();
        let mut steps = 0;
        while taken < frames {
            steps += 1;
            assert!(
                steps < 100_000,
                "stalled: sent {sent} taken {taken} credit {credit}"
            );
            match rng.gen_range(0..3) {
                0 if sent < frames && may_send(sent + 1, credit) => {
                    sent += 1;
                    inbox += 1;
                    assert!(inbox <= WINDOW, "inbox holds {inbox} frames");
                }
                1 if inbox > 0 => {
                    inbox -= 1;
                    taken += 1;
                    if let Some(c) = report(taken) {
                        reports.push_back(c);
                    }
                }
                2 => {
                    if let Some(c) = reports.pop_front() {
                        assert!(c >= credit);
                        credit = c;
                    }
                }
                _ => {}
            }
        }
        assert_eq!(sent, frames);
    }
    // Frame 1..=WINDOW go before any report; the next waits for one.
    assert!(may_send(WINDOW, 0) && !may_send(WINDOW + 1, 0));
    assert_eq!(report(CREDIT_EVERY - 1), None);
    assert_eq!(report(CREDIT_EVERY), Some(CREDIT_EVERY));
}

#[test]
fn signal_round_trips_and_rejects_bad_fields() {
    use oxmosix_host_tests::proto::signal::{flags, SigInfo, Signal, NATIVE_LEN, SIGNAL_LEN};
    let mut fields = [0u8; 32];
    fields[..4].copy_from_slice(&1234i32.to_ne_bytes()); // si_pid
    fields[8..16].copy_from_slice(&0x1122_3344_5566_7788u64.to_ne_bytes()); // si_value
    let s = Signal {
        token: 9,
        flags: flags::IMAGE,
        info: SigInfo {
            signo: 34,
            errno: 0,
            code: -1,
            fields,
        },
    };
    let b = s.encode();
    assert_eq!(b.len(), SIGNAL_LEN);
    assert!(matches!(decode(&frame(MsgType::MigSignal, &b)), Ok(Message::MigSignal(d)) if d == s));
    // The kernel's layout: signo, errno, code, padding, then the fields.
    let n = s.info.to_native();
    assert_eq!(n.len(), NATIVE_LEN);
    assert_eq!(&n[16..], &fields[..]);
    assert_eq!(SigInfo::from_native(&n), Some(s.info));
    assert_eq!(SigInfo::from_native(&n[..NATIVE_LEN - 1]), None);
    let mut zero = n;
    zero[..4].copy_from_slice(&0i32.to_ne_bytes());
    assert_eq!(SigInfo::from_native(&zero), None);
    for (at, v) in [(12usize, 0u32), (12, 65), (8, 2)] {
        let mut bad = b;
        bad[at..at + 4].copy_from_slice(&v.to_be_bytes());
        assert!(
            decode(&frame(MsgType::MigSignal, &bad)).is_err(),
            "{at} {v}"
        );
    }
    let mut no_token = b;
    no_token[..8].fill(0);
    assert!(decode(&frame(MsgType::MigSignal, &no_token)).is_err());
    assert!(Signal::decode(&b[..SIGNAL_LEN - 1]).is_err());
}

/// `MigStatus`: what a guest's node reports to its home for `/proc` there. Every field is
/// range-checked: times, sizes, the state letter, the padding and the token.
#[test]
fn status_round_trips_and_rejects_bad_fields() {
    use oxmosix_host_tests::proto::status::{Status, STATES, STATUS_LEN};
    let s = Status {
        token: 77,
        cpu: [3_000_000_000, 20_000_000, 3_100_000_000],
        vsize: 70 << 20,
        rss: 16_500,
        state: b'R',
    };
    let b = s.encode();
    assert_eq!(b.len(), STATUS_LEN);
    assert!(matches!(decode(&frame(MsgType::MigStatus, &b)), Ok(Message::MigStatus(d)) if d == s));
    for &st in STATES {
        let mut ok = b;
        ok[48] = st;
        assert!(Status::decode(&ok).is_ok());
    }
    let mut bad: Vec<[u8; STATUS_LEN]> = Vec::new();
    for (at, v) in [
        (8usize, MAX_CLOCK_NS + 1),
        (16, u64::MAX),
        (24, MAX_CLOCK_NS + 1),
        (32, USER_TOP + 1),
        (40, USER_TOP / 4096 + 1),
        (0, 0),
    ] {
        let mut x = b;
        x[at..at + 8].copy_from_slice(&v.to_be_bytes());
        bad.push(x);
    }
    for (at, v) in [(48usize, 0u8), (48, b'r'), (48, b'W'), (49, 1), (55, 1)] {
        let mut x = b;
        x[at] = v;
        bad.push(x);
    }
    for x in &bad {
        assert!(decode(&frame(MsgType::MigStatus, x)).is_err(), "{x:?}");
    }
    assert!(Status::decode(&b[..STATUS_LEN - 1]).is_err());
}

#[test]
fn ctl_op_six_is_retired() {
    let c = Ctl {
        token: 5,
        op: 6,
        arg: 3,
        ..Ctl::default()
    };
    assert!(decode(&frame(MsgType::MigCtl, &c.encode())).is_err());
    let r = Ctl {
        op: ctl::RUNNING,
        ..c
    };
    assert!(
        matches!(decode(&frame(MsgType::MigCtl, &r.encode())), Ok(Message::MigCtl(d)) if d == r)
    );
}

#[test]
fn gone_carries_cpu_time_and_nothing_else_does() {
    let g = Ctl {
        token: 9,
        op: ctl::GONE,
        arg: 9,
        cpu: [1_500_000_000, 20_000_000, 1_520_000_000],
    };
    assert!(
        matches!(decode(&frame(MsgType::MigCtl, &g.encode())), Ok(Message::MigCtl(d)) if d == g)
    );
    // CPU time on any other operation, or beyond the clock range, is malformed.
    for bad in [
        Ctl {
            op: ctl::GO_HOME,
            ..g
        },
        Ctl {
            cpu: [MAX_CLOCK_NS + 1, 0, 0],
            ..g
        },
        Ctl {
            cpu: [0, 0, u64::MAX],
            ..g
        },
    ] {
        assert!(decode(&frame(MsgType::MigCtl, &bad.encode())).is_err());
    }
    // The old 16-byte Ctl is truncated.
    assert!(Ctl::decode(&g.encode()[..16]).is_err());
}

#[test]
fn shared_anonymous_areas_are_writable_memory_of_their_own() {
    let v = Vma {
        token: 5,
        start: 0x7000_0000,
        end: 0x7010_0000,
        prot: prot::READ | prot::WRITE,
        flags: vma::SHARED_ANON,
        file: 0,
        pgoff: 0,
    };
    assert!(
        matches!(decode(&frame(MsgType::MigVma, &v.encode())), Ok(Message::MigVma(d)) if d == v)
    );
    for bad in [
        Vma {
            prot: prot::READ,
            ..v
        },
        Vma {
            flags: vma::SHARED_ANON | vma::FILE,
            ..v
        },
        Vma {
            flags: vma::SHARED_ANON | vma::GROWSDOWN,
            ..v
        },
    ] {
        assert!(decode(&frame(MsgType::MigVma, &bad.encode())).is_err());
    }
}

#[test]
fn epoll_and_timerfd_are_forwarded() {
    let f = |n: u64, a: [u64; 6]| match syscalls::classify(n, &a) {
        Class::Forward(f) => syscalls::plan(&f, &a),
        c => panic!("{n}: {c:?}"),
    };
    // epoll_wait: events come back by the result; a capacity beyond one frame is capped.
    let p = f(nr::EPOLL_WAIT, [4, 0x1000, 16, 100, 0, 0]).unwrap();
    assert_eq!((p.n, p.bufs[0].out_cap, p.ncaps), (1, 16 * 12, 0));
    assert_eq!(p.bufs[0].back(3), 36);
    let p = f(nr::EPOLL_WAIT, [4, 0x1000, 100_000, -1i64 as u64, 0, 0]).unwrap();
    let most = (syscalls::MAX_DATA / 12) as u64;
    assert_eq!(&p.caps[..p.ncaps], &[(2, most)]);
    assert_eq!(u64::from(p.bufs[0].out_cap), most * 12);
    // epoll_pwait with a signal mask goes home; without one it is epoll_wait.
    assert_eq!(
        syscalls::classify(nr::EPOLL_PWAIT, &[4, 0x1000, 16, 0, 0x2000, 8]),
        Class::Home
    );
    assert_eq!(f(nr::EPOLL_PWAIT, [4, 0x1000, 16, 0, 0, 8]).unwrap().n, 1);
    // epoll_ctl reads one event (none for EPOLL_CTL_DEL with NULL).
    let p = f(nr::EPOLL_CTL, [4, 1, 5, 0x1000, 0, 0]).unwrap();
    assert_eq!((p.n, p.bufs[0].arg, p.bufs[0].in_len), (1, 3, 12));
    assert_eq!(f(nr::EPOLL_CTL, [4, 2, 5, 0, 0, 0]).unwrap().n, 0);
    // timerfd_settime: the new value in, the old one out (if asked for).
    let p = f(nr::TIMERFD_SETTIME, [5, 0, 0x1000, 0x2000, 0, 0]).unwrap();
    assert_eq!((p.n, p.bufs[0].in_len, p.bufs[1].out_cap), (2, 32, 32));
    assert_eq!(
        f(nr::TIMERFD_GETTIME, [5, 0x1000, 0, 0, 0, 0])
            .unwrap()
            .bufs[0]
            .out_cap,
        32
    );
    // POSIX timers stay a call that goes home.
    assert_eq!(
        syscalls::classify(222, &[1, 0, 0x1000, 0, 0, 0]),
        Class::Home
    );
}

/// Which clones a migrated process makes where it runs: glibc's fork (child tids, SIGCHLD),
/// vfork and posix_spawn (CLONE_VM with CLONE_VFORK); threads, shared tables, namespaces,
/// pidfds and bad exit signals go home.
#[test]
fn clone_flags_decide_where_the_child_is_made() {
    use syscalls::clone;
    const SIGCHLD: u64 = 17;
    let glibc_fork = clone::CHILD_SETTID | clone::CHILD_CLEARTID | SIGCHLD;
    let vfork = clone::VM | clone::VFORK | SIGCHLD;
    for f in [
        glibc_fork,
        vfork,
        SIGCHLD,
        0,
        clone::VFORK | SIGCHLD,
        clone::PARENT_SETTID,
    ] {
        assert!(syscalls::clone_stays(f, f & clone::CSIGNAL), "{f:#x}");
        assert_eq!(
            syscalls::classify(nr::CLONE, &[f, 0, 0, 0, 0, 0]),
            Class::Fork
        );
    }
    // threads (VM without VFORK), CLONE_FILES, CLONE_FS, CLONE_SIGHAND, CLONE_PIDFD,
    // CLONE_PARENT, CLONE_NEWNS, CLONE_PTRACE, CLONE_INTO_CGROUP
    let thread = 0x100 | 0x800 | 0x10000 | 0x400 | 0x200;
    for f in [
        0x100 | SIGCHLD,
        thread,
        0x400 | SIGCHLD,
        0x200 | SIGCHLD,
        0x1000 | SIGCHLD,
        0x8000 | SIGCHLD,
        0x20000 | SIGCHLD,
        0x2000 | SIGCHLD,
        0x2_0000_0000,
    ] {
        assert!(!syscalls::clone_stays(f, f & clone::CSIGNAL), "{f:#x}");
        assert_eq!(
            syscalls::classify(nr::CLONE, &[f, 0, 0, 0, 0, 0]),
            Class::Home
        );
    }
    assert!(!syscalls::clone_stays(0, 65));
    // The deputy runs only the plain fork a guest forwards, with a token.
    let a = syscalls::home_fork_args(SIGCHLD, 0x1234);
    assert_eq!(syscalls::home_fork(nr::CLONE, &a), Some((SIGCHLD, 0x1234)));
    assert_eq!(
        syscalls::home_fork(nr::CLONE, &syscalls::home_fork_args(SIGCHLD, 0)),
        None
    );
    assert_eq!(syscalls::home_fork(nr::FORK, &a), None);
    for k in 1..5 {
        let mut b = a;
        b[k] = 8;
        assert_eq!(syscalls::home_fork(nr::CLONE, &b), None, "{k}");
    }
    let mut b = a;
    b[0] = 0x100 | SIGCHLD;
    assert_eq!(syscalls::home_fork(nr::CLONE, &b), None);
}

#[test]
fn file_areas_name_a_file_of_the_image_within_bounds() {
    use oxmosix_host_tests::proto::files::{MAX_FILES, MAX_FILE_PAGES};
    let v = Vma {
        token: 5,
        start: 0x40_0000,
        end: 0x40_3000,
        prot: prot::READ | prot::EXEC,
        flags: vma::FILE | vma::FILE_PAGES,
        file: 3,
        pgoff: 2,
    };
    assert!(
        matches!(decode(&frame(MsgType::MigVma, &v.encode())), Ok(Message::MigVma(d)) if d == v)
    );
    let plain = Vma {
        flags: vma::FILE,
        file: 0,
        pgoff: 0,
        ..v
    };
    assert!(decode(&frame(MsgType::MigVma, &plain.encode())).is_ok());
    for bad in [
        Vma {
            flags: vma::FILE_PAGES, // without FILE
            ..v
        },
        Vma {
            flags: vma::FILE | vma::FILE_PAGES | vma::GROWSDOWN,
            ..v
        },
        Vma {
            file: MAX_FILES,
            ..v
        },
        Vma {
            pgoff: MAX_FILE_PAGES + 1,
            ..v
        },
        Vma {
            end: v.start + (MAX_FILE_PAGES + 1) * PAGE as u64,
            ..v
        },
        Vma { file: 1, ..plain }, // a file index without FILE_PAGES
        Vma { pgoff: 1, ..plain },
    ] {
        assert!(
            decode(&frame(MsgType::MigVma, &bad.encode())).is_err(),
            "{bad:?}"
        );
    }
}

#[test]
fn file_names_round_trip_and_reject() {
    use oxmosix_host_tests::proto::files::*;
    let frame_of = |f: &FileName<'_>, path: &[u8]| {
        let mut hdr = [0u8; FILE_HDR_LEN];
        f.encode_header(&mut hdr);
        let mut p = hdr.to_vec();
        p.extend_from_slice(path);
        frame(MsgType::MigFile, &p)
    };
    let path = b"/usr/lib/x86_64-linux-gnu/liblzma.so.5\0";
    let f = FileName {
        token: 11,
        index: 4,
        prot: PROT_EXEC,
        hash: [7; HASH_LEN],
        path,
    };
    let fr = frame_of(&f, path);
    assert!(matches!(decode(&fr), Ok(Message::MigFile(d)) if d == f));
    for (bad, p) in [
        (
            FileName {
                index: MAX_FILES,
                ..f
            },
            &path[..],
        ),
        (FileName { prot: 1, ..f }, &path[..]),
        (FileName { token: 0, ..f }, &path[..]),
        (f, &b"usr/lib/libc.so.6\0"[..]),    // relative
        (f, &b"/usr/lib/libc.so.6"[..]),     // no NUL
        (f, &b"/usr/lib\0/libc.so.6\0"[..]), // a NUL inside
        (f, &b"/\0\0"[..]),
    ] {
        assert!(decode(&frame_of(&bad, p)).is_err(), "{bad:?} {p:?}");
    }
    // Too long a path: beyond the type's bounds.
    let mut long = vec![b'a'; MAX_PATH];
    long[0] = b'/';
    long[MAX_PATH - 1] = 0;
    let mut hdr = [0u8; FILE_HDR_LEN];
    f.encode_header(&mut hdr);
    let mut p = hdr.to_vec();
    p.extend_from_slice(&long);
    p.push(0);
    let mut out = vec![0u8; HEADER_LEN + p.len()];
    assert!(encode_frame(MsgType::MigFile, 7, 1, 2, &p, &mut out).is_err());
    assert!(FileName::decode(&p).is_err());
}

#[test]
fn files_answer_is_a_control_operation() {
    let c = Ctl {
        token: 3,
        op: ctl::FILES,
        arg: 0b1011,
        ..Ctl::default()
    };
    assert!(
        matches!(decode(&frame(MsgType::MigCtl, &c.encode())), Ok(Message::MigCtl(d)) if d == c)
    );
}

#[test]
fn read_ahead_frames_and_arguments() {
    use oxmosix_host_tests::proto::readahead::*;
    // SysData: token and 1..=MAX_SYS_DATA bytes; round trip through a frame.
    let mut p = vec![0u8; SYSDATA_HDR_LEN];
    SysData::encode_header(7, &mut p);
    p.extend_from_slice(&[1, 2, 3]);
    match decode(&frame(MsgType::SysData, &p)).unwrap() {
        Message::SysData(d) => {
            assert_eq!(d.token, 7);
            assert_eq!(d.data, &[1, 2, 3]);
        }
        m => panic!("decoded as {m:?}"),
    }
    assert!(SysData::decode(&p[..SYSDATA_HDR_LEN]).is_err(), "no bytes");
    let mut big = p[..SYSDATA_HDR_LEN].to_vec();
    big.resize(SYSDATA_HDR_LEN + MAX_SYS_DATA + 1, 0);
    assert!(SysData::decode(&big).is_err(), "beyond one frame");
    big.truncate(SYSDATA_HDR_LEN + MAX_SYS_DATA);
    assert!(SysData::decode(&big).is_ok());
    let zero = [0u8; SYSDATA_HDR_LEN + 1];
    assert!(SysData::decode(&zero).is_err(), "token 0");
    // READ_DROP is a control operation.
    let c = Ctl {
        token: 9,
        op: ctl::READ_DROP,
        ..Ctl::default()
    };
    assert_eq!(Ctl::decode(&c.encode()).unwrap(), c);
    // Arguments from a guest are clamped or refused.
    assert_eq!(
        fill_args(&[3, u64::MAX, u64::MAX, 5, 0, 0]).unwrap(),
        (3, MAX_FILL, MAX_WINDOW, 5)
    );
    assert!(fill_args(&[3, 1, 0, MAX_FILL + MAX_WINDOW + 1, 0, 0]).is_err());
    assert!(
        fill_args(&[3, 0, 0, 0, 0, 0]).is_err(),
        "an empty read is not forwarded"
    );
    assert!(fill_args(&[1 << 31, 1, 0, 0, 0, 0]).is_err());
    assert_eq!(skip_args(&[4, 100, 0, 0, 0, 0]).unwrap(), (4, 100));
    assert!(skip_args(&[4, MAX_FILL + MAX_WINDOW + 1, 0, 0, 0, 0]).is_err());
    assert!(skip_args(&[u64::MAX, 1, 0, 0, 0, 0]).is_err());
    // The pseudo-calls are no x86-64 system calls.
    assert!(u64::from(READ_AHEAD) >= nr::COUNT && u64::from(READ_SKIP) >= nr::COUNT);
}

#[test]
fn read_ahead_window_grows_like_the_kernels() {
    use oxmosix_host_tests::proto::readahead::*;
    // First read of a file: four times the read, at most FIRST_WINDOW.
    assert_eq!(next_window(0, false, 4096), 16384);
    assert_eq!(next_window(0, false, 1 << 20), FIRST_WINDOW);
    assert_eq!(
        next_window(MAX_WINDOW, false, 4096),
        16384,
        "a seek starts again"
    );
    // A sequential reader doubles it up to MAX_WINDOW.
    let mut w = next_window(0, false, 65536);
    let mut steps = 0;
    while w < MAX_WINDOW {
        let n = next_window(w, true, 65536);
        assert_eq!(n, (2 * w).min(MAX_WINDOW));
        w = n;
        steps += 1;
    }
    assert!(steps <= 5, "1 MiB ahead within five fills");
    assert_eq!(next_window(MAX_WINDOW, true, 65536), MAX_WINDOW);
}
