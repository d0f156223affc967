//! An interrupted system call in a process's image (`proto::restart`): which registers show
//! one, the carried restart block's round trip inside a State, and what a receiver rejects.
use oxmosix_host_tests::proto::mig::*;
use oxmosix_host_tests::proto::restart::*;
use oxmosix_host_tests::syscalls::{self, nr, Class};
use proptest::prelude::*;

fn regs_in_call(ax: i64, nr: u64) -> [u64; NREGS] {
    let mut r = [0u64; NREGS];
    r[REG_AX] = ax as u64;
    r[REG_ORIG_AX] = nr;
    r[REG_IP] = 0x40_1000;
    r[REG_SP] = 0x7ffe_0000_0000;
    r
}

/// A forwarded call's result as the guest takes it: the three restart-by-registers codes
/// restart where it is (its deputy interrupted the call so it could move); a restart-block
/// code cannot and is EINTR; other kernel-internal codes are EIO; the rest pass unchanged.
#[test]
fn forwarded_results_restart_only_by_their_registers() {
    for r in [ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND] {
        assert_eq!(forwarded_result(r), (r, true));
    }
    assert_eq!(forwarded_result(ERESTART_RESTARTBLOCK), (-4, false));
    for r in (-529..=-515).filter(|&r| r != ERESTART_RESTARTBLOCK) {
        assert_eq!(forwarded_result(r), (-5, false), "{r}");
    }
    for r in [0, 1, 61440, -1, -4, -511, -530, -4095, i64::MAX, i64::MIN] {
        assert_eq!(forwarded_result(r), (r, false));
    }
}

fn state(regs: [u64; NREGS], restart: Restart) -> State {
    let mut s = State::new(9);
    s.regs = regs;
    s.mm[MM_VDSO] = 0x7fff_f000_0000;
    s.mm[MM_VVAR] = 0x7fff_efff_c000;
    s.restart = restart;
    s
}

fn round_trip(s: &State) -> Result<State, oxmosix_host_tests::proto::ProtoError> {
    let mut buf = vec![0u8; STATE_FIXED_LEN];
    let n = s.encode(&[], &mut buf).unwrap();
    State::decode(&buf[..n]).map(|(d, _)| d)
}

#[test]
fn the_four_restart_codes_show_an_interrupted_call() {
    for (ax, block) in [
        (ERESTARTSYS, false),
        (ERESTARTNOINTR, false),
        (ERESTARTNOHAND, false),
        (ERESTART_RESTARTBLOCK, true),
    ] {
        assert_eq!(
            interrupted(&regs_in_call(ax, 35)),
            Some(Interrupted { block })
        );
        // Not from a system call (orig_rax -1) or an impossible call number: nothing to restart.
        assert_eq!(interrupted(&regs_in_call(ax, u64::MAX)), None);
        assert_eq!(interrupted(&regs_in_call(ax, MAX_SYSCALL_NR + 1)), None);
    }
    for ax in [0, -4, -515, -517, 512, 35] {
        assert_eq!(interrupted(&regs_in_call(ax, 35)), None, "ax {ax}");
    }
}

proptest! {
    #[test]
    fn restart_blocks_round_trip(kind in 1..=3u32, flags in any::<u32>(), time_ns in 0..=MAX_CLOCK_NS,
                                 uaddr in 0..USER_TOP, val in any::<u32>(), bitset in any::<u32>(),
                                 mask in any::<u64>(), has in any::<bool>()) {
        let r = Restart { kind, flags, time_ns, uaddr, val, bitset, saved_sigmask: mask, has_saved_sigmask: has };
        let s = state(regs_in_call(ERESTART_RESTARTBLOCK, 35), r);
        prop_assert_eq!(round_trip(&s).unwrap(), s);
    }

    #[test]
    fn saved_masks_travel_with_calls_restarted_by_running_again(mask in any::<u64>(), nr in 0..=MAX_SYSCALL_NR) {
        let r = Restart { saved_sigmask: mask, has_saved_sigmask: true, ..Restart::default() };
        let s = state(regs_in_call(ERESTARTNOHAND, nr), r);
        prop_assert_eq!(round_trip(&s).unwrap(), s);
    }
}

#[test]
fn malformed_restarts_are_rejected() {
    let block = regs_in_call(ERESTART_RESTARTBLOCK, 35);
    let again = regs_in_call(ERESTARTSYS, 0);
    let running = regs_in_call(0, u64::MAX);
    let sleep = Restart {
        kind: kind::NANOSLEEP,
        flags: 1,
        time_ns: 5_000_000_000,
        ..Restart::default()
    };
    assert!(round_trip(&state(block, sleep)).is_ok());
    for (regs, r, why) in [
        (block, Restart { kind: 4, ..sleep }, "unknown kind"),
        (block, Restart::default(), "restart block missing"),
        (again, sleep, "restart block without -ERESTART_RESTARTBLOCK"),
        (running, sleep, "restart block without a call"),
        (
            block,
            Restart {
                uaddr: USER_TOP,
                ..sleep
            },
            "kernel address",
        ),
        (
            block,
            Restart {
                time_ns: MAX_CLOCK_NS + 1,
                ..sleep
            },
            "time out of range",
        ),
        (
            running,
            Restart {
                has_saved_sigmask: true,
                ..Restart::default()
            },
            "saved mask without a call",
        ),
        (
            again,
            Restart {
                val: 1,
                ..Restart::default()
            },
            "fields without a block",
        ),
    ] {
        assert!(round_trip(&state(regs, r)).is_err(), "{why}");
    }
    // The reserved word and the flag's other values.
    let s = state(block, sleep);
    let mut buf = vec![0u8; STATE_FIXED_LEN];
    let n = s.encode(&[], &mut buf).unwrap();
    let at = STATE_FIXED_LEN - 8 - oxmosix_host_tests::proto::cputime::CPU_LEN - RESTART_LEN;
    for (off, v) in [(44, 1u8), (43, 2u8)] {
        let mut b = buf[..n].to_vec();
        b[at + off] = v;
        assert!(State::decode(&b).is_err(), "byte {off} = {v}");
    }
}

#[test]
fn waits_for_signals_and_futexes_run_where_the_process_runs() {
    let z = [0u64; 6];
    for n in [
        nr::PAUSE,
        nr::RT_SIGSUSPEND,
        nr::RT_SIGTIMEDWAIT,
        nr::RT_SIGPENDING,
        nr::FUTEX,
        nr::RESTART_SYSCALL,
        nr::NANOSLEEP,
    ] {
        assert!(
            matches!(syscalls::classify(n, &z), Class::Local),
            "call {n}"
        );
    }
}

mod cputime {
    use super::*;
    use oxmosix_host_tests::proto::cputime::Cpu;

    proptest! {
        #[test]
        fn cpu_time_round_trips(v in proptest::array::uniform7(0..=MAX_CLOCK_NS)) {
            let c = Cpu { utime: v[0], stime: v[1], runtime: v[2], it_expires: [v[3].max(1), v[4]],
                          it_incr: [v[5], if v[4] == 0 { 0 } else { v[6] }] };
            let s = state(regs_in_call(0, u64::MAX), Restart::default());
            let s = State { cpu: c, ..s };
            prop_assert_eq!(round_trip(&s).unwrap(), s);
        }
    }

    #[test]
    fn bad_cpu_times_are_rejected() {
        let s = state(regs_in_call(0, u64::MAX), Restart::default());
        for c in [
            Cpu {
                utime: MAX_CLOCK_NS + 1,
                ..Cpu::default()
            },
            Cpu {
                runtime: u64::MAX,
                ..Cpu::default()
            },
            Cpu {
                it_expires: [0, 5],
                it_incr: [1, 0],
                ..Cpu::default()
            },
            Cpu {
                it_expires: [5, 0],
                it_incr: [0, 1],
                ..Cpu::default()
            },
        ] {
            assert!(
                round_trip(&State {
                    cpu: c,
                    ..s.clone()
                })
                .is_err(),
                "{c:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn adjusted_times_add_up_to_the_runtime(u in 0..=MAX_CLOCK_NS, s in 0..=MAX_CLOCK_NS,
                                                r in 0..=MAX_CLOCK_NS) {
            let c = Cpu { utime: u, stime: s, runtime: r, ..Cpu::default() };
            let (ua, sa) = c.adjusted();
            prop_assert_eq!(ua + sa, r);
            // The split is the samples', exactly (rounded down).
            if u > 0 && s > 0 {
                let want = u128::from(r) * u128::from(s) / (u128::from(u) + u128::from(s));
                prop_assert_eq!(u128::from(sa), want);
            }
        }
    }

    #[test]
    fn time_used_since_a_base_never_goes_negative() {
        let base = Cpu {
            utime: 10,
            stime: 20,
            runtime: 30,
            ..Cpu::default()
        };
        let now = Cpu {
            utime: 15,
            stime: 18,
            runtime: 40,
            ..Cpu::default()
        };
        assert_eq!(now.since(&base), [5, 0, 10]);
        assert_eq!(now.since(&Cpu::default()), now.totals());
    }
}
