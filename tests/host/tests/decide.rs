//! Tests of the balancing decision: the load rule's cases and simulations (unequal speeds, no
//! ping-pong), eligibility, I/O jobs going home, memory ushering, targets, recorded load vectors,
//! and properties on arbitrary inputs.
use oxmosix_host_tests::decide::{
    call_us, cost_ms, decide, departed_share, forward_ms, load_of_tasks, load_with, load_without,
    place, place_mode, Candidate, Move, NodeView, Policy, Reason,
};
use oxmosix_host_tests::load;
use proptest::prelude::*;

const GIB_KIB: u64 = 1 << 20;

/// An accepting node with 1 GiB available, unknown bandwidth and forwarded-call cost.
fn node(id: u32, load: u32, speed: u32, cpus: u16) -> NodeView {
    NodeView {
        node: id,
        load,
        speed,
        cpus,
        amem_kib: GIB_KIB,
        accepts: true,
        bw_kib_s: 0,
        call_us: 0,
    }
}

/// An eligible local CPU-bound process with a 4 MiB image that has run 10 s.
fn job(id: u32, cpu: u32) -> Candidate {
    Candidate {
        id,
        home: 1,
        cpu,
        io: 0,
        image_kib: 4096,
        runtime_ms: 10_000,
        resident_ms: 10_000,
        recent_moves: 0,
        guest: false,
    }
}

/// The load `tasks` full-time tasks give a node, by the normalization of `balance::load`.
fn load_of(tasks: u32, speed: u32, cpus: u16) -> u32 {
    load::normalized(u64::from(tasks) * load::SCALE, u32::from(cpus), speed)
}

fn load_move(id: u32, to: u32, gain: u64) -> Option<Move> {
    Some(Move {
        id,
        to,
        reason: Reason::Load,
        gain,
    })
}

#[test]
fn contributions_and_cost() {
    let n = node(1, 0, 10_000, 1);
    assert_eq!(load_with(&n, 1000), 100);
    assert_eq!(load_with(&n, 500), 50);
    assert_eq!(load_with(&node(1, 0, 20_000, 1), 1000), 50);
    assert_eq!(load_with(&node(1, 0, 10_000, 4), 1000), 25);
    assert_eq!(load_with(&node(1, 0, 30_000, 1), 1000), 33);
    // Speed and CPUs 0 are taken as 1.
    assert_eq!(load_with(&node(1, 0, 0, 0), 1), 1000);
    assert_eq!(load_with(&node(1, u32::MAX - 5, 1, 1), 1000), u32::MAX);
    assert_eq!(load_without(&node(1, 250, 10_000, 1), 1000), 150);
    assert_eq!(load_without(&node(1, 30, 10_000, 1), 1000), 0);
    assert_eq!(load_without(&node(1, 0, 1, 1), u32::MAX), 0);
    for l in [0, 1, 99, 100, 412, 100_000] {
        let n = node(1, l, 10_000, 2);
        assert_eq!(
            load_without(
                &NodeView {
                    load: load_with(&n, 700),
                    ..n
                },
                700
            ),
            l
        );
    }

    let p = Policy::default();
    assert_eq!(cost_ms(4096, 0, &p), 175);
    assert_eq!(cost_ms(4096, 4096, &p), 1050);
    assert_eq!(cost_ms(0, 0, &p), 50);
    let zero_bw = Policy {
        default_bw_kib_s: 0,
        ..p
    };
    assert_eq!(cost_ms(1, 0, &zero_bw), 1050);
    assert_eq!(cost_ms(u64::MAX, 1, &p), u64::MAX);
    // u64::MAX = (2^32 - 1) * (2^32 + 1): exact without overflow where the result fits.
    assert_eq!(cost_ms(u64::MAX, u32::MAX, &p), ((1 << 32) + 1) * 1000 + 50);
}

#[test]
fn defaults() {
    let p = Policy::default();
    assert_eq!(
        p,
        Policy {
            min_cpu: 500,
            margin: 30,
            min_residency_ms: 2000,
            max_moves: 3,
            window_ms: 60_000,
            default_bw_kib_s: 32_768,
            io_home_ratio: 1000,
            usher_kib: 0,
            usher_reserve_kib: 16_384,
            default_call_us: 1000,
        }
    );
}

/// (a) Two jobs on one CPU against an idle equal peer: one moves (the older one), each then gets
/// a whole CPU; the gain is the 10 s it would have lost sharing.
#[test]
fn case_a_overloaded_vs_idle_moves() {
    let p = Policy::default();
    let here = node(1, 200, 10_000, 1);
    let peers = [node(2, 0, 10_000, 1)];
    let young = Candidate {
        runtime_ms: 4000,
        ..job(7, 1000)
    };
    assert_eq!(
        decide(&here, &peers, &[young, job(8, 1000)], &p),
        load_move(8, 2, 10_000)
    );
    // Alone, the younger one gains its 4 s.
    assert_eq!(decide(&here, &peers, &[young], &p), load_move(7, 2, 4000));
    // Equal gains: the lower id.
    assert_eq!(
        decide(&here, &peers, &[job(9, 1000), job(8, 1000)], &p),
        load_move(8, 2, 10_000)
    );
    // A fresh job moves once its gain (its run time here) exceeds twice the 175 ms cost.
    let fresh = |runtime_ms| Candidate {
        runtime_ms,
        ..job(3, 1000)
    };
    assert_eq!(decide(&here, &peers, &[fresh(300)], &p), None);
    assert_eq!(decide(&here, &peers, &[fresh(350)], &p), None);
    assert_eq!(
        decide(&here, &peers, &[fresh(351)], &p),
        load_move(3, 2, 351)
    );
}

/// (b) Two equal nodes at one job each never move.
#[test]
fn case_b_equal_nodes_stay() {
    let p = Policy::default();
    let a = node(1, 100, 10_000, 1);
    let b = node(2, 100, 10_000, 1);
    let long = Candidate {
        runtime_ms: 1 << 40,
        ..job(1, 1000)
    };
    assert_eq!(decide(&a, &[b], &[long], &p), None);
    assert_eq!(decide(&b, &[a], &[long], &p), None);
}

/// (c) Two jobs against one on equal nodes: moving one would only swap the loads.
#[test]
fn case_c_no_swap() {
    let p = Policy::default();
    let here = node(1, 200, 10_000, 1);
    let peers = [node(2, 100, 10_000, 1)];
    let long = Candidate {
        runtime_ms: 1 << 40,
        ..job(1, 1000)
    };
    assert_eq!(decide(&here, &peers, &[long, job(2, 1000)], &p), None);
}

/// (d) Two jobs here against one on a peer of twice the speed: the moved job goes from half a
/// reference CPU to a whole one (the peer's two jobs get one each), so it moves; it does not come
/// back.
#[test]
fn case_d_faster_peer() {
    let p = Policy::default();
    let here = node(1, 200, 10_000, 1);
    let fast = node(2, load_of(1, 20_000, 1), 20_000, 1);
    assert_eq!(fast.load, 50);
    assert_eq!(load_with(&fast, 1000), 100);
    assert_eq!(
        decide(&here, &[fast], &[job(1, 1000), job(2, 1000)], &p),
        load_move(1, 2, 10_000)
    );
    // After: 1 job here (100), 2 on the fast node (100). Neither side moves.
    let here_after = node(1, load_without(&here, 1000), 10_000, 1);
    let fast_after = node(2, load_with(&fast, 1000), 20_000, 1);
    assert_eq!(here_after.load, 100);
    assert_eq!(
        decide(&here_after, &[fast_after], &[job(2, 1000)], &p),
        None
    );
    assert_eq!(
        decide(
            &fast_after,
            &[here_after],
            &[job(1, 1000), job(3, 1000)],
            &p
        ),
        None
    );
    // A lone job on a reference node gains from an idle node of twice the speed.
    assert_eq!(
        decide(
            &node(1, 100, 10_000, 1),
            &[node(2, 0, 20_000, 1)],
            &[job(1, 1000)],
            &p
        ),
        load_move(1, 2, 5000)
    );
    // More CPUs of lower speed: the job would get the same rate, so no move.
    assert_eq!(
        decide(&here, &[node(2, 0, 5000, 4)], &[job(1, 1000)], &p),
        None
    );
}

/// A cluster of full-time jobs; node loads follow from the job counts.
struct Sim {
    /// (id, speed, cpus)
    nodes: Vec<(u32, u32, u16)>,
    /// Node of each job (job id = index + 1).
    at: Vec<u32>,
}

impl Sim {
    fn count(&self, n: u32) -> u32 {
        self.at.iter().filter(|&&a| a == n).count() as u32
    }

    fn view(&self, n: u32) -> NodeView {
        let &(id, speed, cpus) = self.nodes.iter().find(|x| x.0 == n).unwrap();
        node(id, load_of(self.count(id), speed, cpus), speed, cpus)
    }

    /// Runs `decide` from each node in turn, applying each move, until a full round moves
    /// nothing or `rounds` rounds have run. Returns the number of moves.
    fn run(&mut self, rounds: usize, p: &Policy) -> usize {
        let mut moves = 0;
        for _ in 0..rounds {
            let mut moved = false;
            for i in 0..self.nodes.len() {
                let here = self.view(self.nodes[i].0);
                let peers: Vec<NodeView> = self
                    .nodes
                    .iter()
                    .filter(|x| x.0 != here.node)
                    .map(|x| self.view(x.0))
                    .collect();
                let cands: Vec<Candidate> = (1..=self.at.len() as u32)
                    .filter(|&j| self.at[j as usize - 1] == here.node)
                    .map(|j| job(j, 1000))
                    .collect();
                if let Some(m) = decide(&here, &peers, &cands, p) {
                    assert_eq!(m.reason, Reason::Load);
                    assert_ne!(m.to, here.node);
                    assert_eq!(self.at[m.id as usize - 1], here.node);
                    self.at[m.id as usize - 1] = m.to;
                    moves += 1;
                    moved = true;
                }
            }
            if !moved {
                break;
            }
        }
        moves
    }
}

/// A node of twice the speed ends up with twice the jobs, from either start: 2/4 is the split
/// where no job would get a better rate (by the margin) elsewhere.
#[test]
fn unequal_speeds_converge_to_speed_ratio() {
    let p = Policy::default();
    for start in [1, 2] {
        let mut sim = Sim {
            nodes: vec![(1, 10_000, 1), (2, 20_000, 1)],
            at: vec![start; 6],
        };
        let moves = sim.run(100, &p);
        assert_eq!(
            (sim.count(1), sim.count(2)),
            (2, 4),
            "start on node {start}"
        );
        assert_eq!(moves, if start == 1 { 4 } else { 2 });
    }
}

/// Two equal nodes, three jobs, decide from both sides for 100 rounds: one move, then 2/1 for
/// good, with residency and move limits out of the way.
#[test]
fn no_ping_pong() {
    let p = Policy::default();
    for start in [1, 2] {
        let mut sim = Sim {
            nodes: vec![(1, 10_000, 1), (2, 10_000, 1)],
            at: vec![start; 3],
        };
        let mut moves = 0;
        for _ in 0..100 {
            moves += sim.run(1, &p);
        }
        assert_eq!(moves, 1);
        assert_eq!(sim.count(start), 2);
        assert_eq!(sim.count(3 - start), 1);
    }
    // With the margin at 0 it still settles (ties never move).
    let p0 = Policy { margin: 0, ..p };
    let mut sim = Sim {
        nodes: vec![(1, 10_000, 1), (2, 10_000, 1), (3, 10_000, 2)],
        at: vec![1; 8],
    };
    assert!(sim.run(100, &p0) <= 8);
    assert_eq!(sim.run(100, &p0), 0);
    assert_eq!((sim.count(1), sim.count(2), sim.count(3)), (2, 2, 4));
}

#[test]
fn residency_and_move_limits() {
    let p = Policy::default();
    let here = node(1, 200, 10_000, 1);
    let peers = [node(2, 0, 10_000, 1)];
    let new = Candidate {
        resident_ms: 1999,
        ..job(1, 1000)
    };
    assert_eq!(decide(&here, &peers, &[new], &p), None);
    let settled = Candidate {
        resident_ms: 2000,
        ..new
    };
    assert_eq!(
        decide(&here, &peers, &[settled], &p),
        load_move(1, 2, 10_000)
    );
    let restless = Candidate {
        recent_moves: 3,
        ..settled
    };
    assert_eq!(decide(&here, &peers, &[restless], &p), None);
    let fine = Candidate {
        recent_moves: 2,
        ..settled
    };
    assert_eq!(decide(&here, &peers, &[fine], &p), load_move(1, 2, 10_000));
    // The limits hold for the other rules too.
    let io_guest = Candidate {
        guest: true,
        home: 2,
        io: 10_000,
        cpu: 100,
        ..restless
    };
    assert_eq!(decide(&here, &peers, &[io_guest], &p), None);
    let usher = Policy {
        usher_kib: 65_536,
        ..p
    };
    let short = NodeView {
        amem_kib: 1024,
        ..node(1, 0, 10_000, 1)
    };
    assert_eq!(decide(&short, &peers, &[new, restless], &usher), None);
}

#[test]
fn min_cpu_filters_idle_processes() {
    let p = Policy::default();
    let here = node(1, 400, 10_000, 1);
    let peers = [node(2, 0, 10_000, 1)];
    let sleepy = [job(1, 0), job(2, 100), job(3, 499)];
    assert_eq!(decide(&here, &peers, &sleepy, &p), None);
    assert_eq!(
        decide(&here, &peers, &[job(4, 500)], &p),
        Some(Move {
            id: 4,
            to: 2,
            reason: Reason::Load,
            gain: 30_000,
        })
    );
    // Demand above one CPU counts as one CPU.
    assert_eq!(
        decide(&here, &peers, &[job(5, 5000)], &p),
        decide(&here, &peers, &[job(5, 1000)], &p)
    );
}

/// The forwarding term: a job that reads its input through the deputy moves only if the CPU it
/// gains elsewhere outweighs the time its forwarded calls would take at the measured cost.
#[test]
fn forwarding_cost_enters_the_gain() {
    let p = Policy::default();
    // Three CPU-bound jobs on one CPU, an idle equal peer whose calls cost 6 ms (as measured
    // on QEMU TCG nodes).
    let here = node(1, load_of(3, 10_000, 1), 10_000, 1);
    let slow = NodeView {
        call_us: 6000,
        ..node(2, 0, 10_000, 1)
    };
    let reader = Candidate {
        io: 375,
        ..job(1, 1000)
    };
    // 10 s of CPU at 375 calls per CPU-second, 6 ms each: 22.5 s of waiting.
    assert_eq!(forward_ms(&reader, 6000), 22_500);
    assert_eq!(forward_ms(&reader, 0), 0);
    assert_eq!(forward_ms(&Candidate { cpu: 0, ..reader }, 1), 3750);
    assert_eq!(call_us(&slow, &p), 6000);
    assert_eq!(call_us(&node(2, 0, 10_000, 1), &p), 1000);
    // Sharing a CPU by three costs it 20 s; going away would cost 22.5 s: it stays, while a
    // job without I/O moves with the full 20 s gain.
    assert_eq!(decide(&here, &[slow], &[reader], &p), None);
    assert_eq!(
        decide(&here, &[slow], &[reader, job(2, 1000)], &p),
        load_move(2, 2, 20_000)
    );
    // At the default 1 ms per call the reader's 3.75 s of waiting leaves 16.25 s of gain.
    assert_eq!(
        decide(&here, &[node(2, 0, 10_000, 1)], &[reader], &p),
        load_move(1, 2, 16_250)
    );
    // A guest going home stops paying: its gain grows by the waiting it saves.
    let here2 = node(2, load_of(2, 10_000, 1), 10_000, 1);
    let home = NodeView {
        call_us: 6000,
        ..node(1, 0, 10_000, 1)
    };
    let guest = |io| Candidate {
        home: 1,
        guest: true,
        io,
        ..job(3, 1000)
    };
    let g0 = decide(&here2, &[home], &[guest(0)], &p).map(|m| m.gain);
    let g1 = decide(&here2, &[home], &[guest(100)], &p).map(|m| m.gain);
    assert_eq!(g0, Some(10_000));
    assert_eq!(g1, Some(16_000));
}

#[test]
fn io_bound_guest_goes_home() {
    let p = Policy::default();
    // Home (node 3) is idle but blocking (which does not concern its own processes); another
    // idle peer accepts. `busy` is the same home crowded by nine jobs.
    let here = node(1, 300, 10_000, 1);
    let home = NodeView {
        accepts: false,
        ..node(3, 0, 10_000, 1)
    };
    let busy = NodeView { load: 900, ..home };
    let peers = [node(2, 0, 10_000, 1), home];
    let guest = |id, io, cpu| Candidate {
        home: 3,
        guest: true,
        io,
        cpu,
        ..job(id, 1000)
    };
    let cands = [
        guest(1, 300, 900),
        guest(2, 500, 100),
        guest(3, 800, 200),
        job(4, 1000),
    ];
    assert_eq!(
        decide(&here, &peers, &cands, &p),
        Some(Move {
            id: 3,
            to: 3,
            reason: Reason::Io,
            gain: 800,
        })
    );
    // A crowded home is slower than waiting here (10 s of CPU: 30 s here plus 40 s of
    // forwarded calls, against 92 s at home's rate): it stays.
    assert_eq!(decide(&here, &[busy], &[guest(3, 800, 200)], &p), None);
    // 300 calls/s at 900 per mille is 333 per CPU-second: not an I/O job; a guest moves for
    // load only to its home (crowded here), so the local job goes to the idle peer.
    assert_eq!(
        decide(
            &here,
            &[node(2, 0, 10_000, 1), busy],
            &[guest(1, 300, 900), job(4, 1000)],
            &p
        )
        .map(|m| (m.id, m.to, m.reason)),
        Some((4, 2, Reason::Load))
    );
    // Ratio exactly at the threshold: not above it (an idle home still attracts it for load).
    assert_eq!(decide(&here, &[busy], &[guest(5, 1000, 1000)], &p), None);
    assert_eq!(
        decide(&here, &[home], &[guest(5, 1000, 1000)], &p).map(|m| m.reason),
        Some(Reason::Load)
    );
    assert_eq!(
        decide(&here, &[home], &[guest(5, 1001, 1000)], &p).map(|m| m.reason),
        Some(Reason::Io)
    );
    // CPU 0 counts as 1.
    assert_eq!(
        decide(&here, &[home], &[guest(6, 3, 0)], &p).map(|m| m.to),
        Some(3)
    );
    // Home not among the peers (down): no I/O move; a local process with io stays.
    assert_eq!(
        decide(&here, &[node(2, 900, 10_000, 1)], &[guest(3, 800, 200)], &p),
        None
    );
    let local = Candidate {
        io: 5000,
        cpu: 10,
        home: 1,
        ..job(7, 0)
    };
    assert_eq!(decide(&here, &[home], &[local], &p), None);
}

#[test]
fn memory_ushering() {
    let p = Policy {
        usher_kib: 65_536,
        ..Policy::default()
    };
    let here = NodeView {
        amem_kib: 32_768,
        ..node(1, 100, 10_000, 1)
    };
    let with_mem = |id, kib| NodeView {
        amem_kib: kib,
        ..node(id, 300, 10_000, 1)
    };
    let big = |id, image_kib| Candidate {
        image_kib,
        cpu: 10,
        ..job(id, 0)
    };
    let cands = [big(1, 100_000), big(2, 400_000), big(3, 50_000)];
    // Node 3 has the most memory and room for the largest image plus the reserve.
    let peers = [
        with_mem(2, 500_000),
        with_mem(3, 800_000),
        with_mem(4, 200_000),
    ];
    assert_eq!(
        decide(&here, &peers, &cands, &p),
        Some(Move {
            id: 2,
            to: 3,
            reason: Reason::Memory,
            gain: 400_000,
        })
    );
    // No peer has room for the largest: the next largest goes where there is most room.
    let tight = [
        with_mem(2, 300_000),
        with_mem(3, 116_384),
        with_mem(4, 200_000),
    ];
    assert_eq!(
        decide(&here, &tight, &cands, &p).map(|m| (m.id, m.to, m.reason)),
        Some((1, 2, Reason::Memory))
    );
    // No peer has room at all (with the reserve, or above the threshold): no memory move, and no
    // load move either (the peers are busier).
    let full = [with_mem(2, 60_000), with_mem(3, 66_000)];
    assert_eq!(decide(&here, &full, &[big(3, 50_000)], &p), None);
    assert_eq!(
        decide(&here, &[with_mem(2, 65_535)], &[big(4, 1)], &p),
        None
    );
    // Enough memory here, or ushering off: nothing.
    let rich = NodeView {
        amem_kib: 65_536,
        ..here
    };
    assert_eq!(decide(&rich, &peers, &cands, &p), None);
    assert_eq!(decide(&here, &peers, &cands, &Policy::default()), None);
    // A non-accepting peer is never chosen, but a guest's home is, and is preferred.
    let blocking = NodeView {
        accepts: false,
        ..with_mem(5, 10 * GIB_KIB)
    };
    assert_eq!(
        decide(&here, &[blocking, with_mem(2, 500_000)], &cands, &p).map(|m| (m.id, m.to)),
        Some((2, 2))
    );
    let guest = Candidate {
        guest: true,
        home: 4,
        ..big(2, 400_000)
    };
    let home = NodeView {
        accepts: false,
        ..with_mem(4, 450_000)
    };
    assert_eq!(
        decide(&here, &[with_mem(3, 800_000), home], &[guest], &p).map(|m| (m.id, m.to)),
        Some((2, 4))
    );
    // The home without room: a guest goes nowhere else.
    let small_home = NodeView {
        amem_kib: 400_000,
        ..home
    };
    assert_eq!(
        decide(&here, &[with_mem(3, 800_000), small_home], &[guest], &p).map(|m| (m.id, m.to)),
        None
    );
}

#[test]
fn blocking_peers_only_for_a_guests_home() {
    let p = Policy::default();
    let here = node(1, 400, 10_000, 1);
    let blocking = NodeView {
        accepts: false,
        ..node(2, 0, 10_000, 1)
    };
    assert_eq!(
        decide(&here, &[blocking], &[job(1, 1000), job(2, 1000)], &p),
        None
    );
    let guest = Candidate {
        guest: true,
        home: 2,
        ..job(3, 1000)
    };
    assert_eq!(
        decide(&here, &[blocking], &[job(1, 1000), guest], &p),
        Some(Move {
            id: 3,
            to: 2,
            reason: Reason::Load,
            gain: 30_000,
        })
    );
    // A blocking idle peer next to a busier accepting one: the accepting one.
    assert_eq!(
        decide(
            &here,
            &[blocking, node(3, 100, 10_000, 1)],
            &[job(1, 1000)],
            &p
        ),
        load_move(1, 3, 20_000)
    );
    // A peer without memory for the image is no target.
    let no_room = NodeView {
        amem_kib: 4095,
        ..node(3, 0, 10_000, 1)
    };
    assert_eq!(decide(&here, &[no_room], &[job(1, 1000)], &p), None);
}

#[test]
fn own_entry_among_peers_is_ignored() {
    let p = Policy::default();
    let here = node(1, 400, 10_000, 1);
    let me_idle = node(1, 0, 20_000, 8);
    assert_eq!(decide(&here, &[me_idle], &[job(1, 1000)], &p), None);
    let guest_of_me = Candidate {
        guest: true,
        home: 1,
        io: 1000,
        cpu: 1,
        ..job(2, 1000)
    };
    assert_eq!(decide(&here, &[me_idle], &[guest_of_me], &p), None);
    assert_eq!(
        decide(
            &here,
            &[me_idle, node(2, 0, 10_000, 1)],
            &[job(1, 1000)],
            &p
        ),
        load_move(1, 2, 30_000)
    );
}

#[test]
fn empty_inputs() {
    let p = Policy::default();
    let here = node(1, 400, 10_000, 1);
    assert_eq!(decide(&here, &[], &[], &p), None);
    assert_eq!(decide(&here, &[], &[job(1, 1000)], &p), None);
    assert_eq!(decide(&here, &[node(2, 0, 10_000, 1)], &[], &p), None);
    assert_eq!(
        decide(
            &NodeView::default(),
            &[NodeView::default()],
            &[Candidate::default()],
            &p
        ),
        None
    );
}

/// A gossiped 3-node vector (speed 10000, 1 CPU, all accepting unless said), the node deciding,
/// its processes (id, cpu per mille, runtime ms), and the expected (id, target).
struct Recorded {
    loads: [u32; 3],
    accepts: [bool; 3],
    here: u32,
    cands: &'static [(u32, u32, u64)],
    expect: Option<(u32, u32)>,
}

const ALL: [bool; 3] = [true, true, true];

/// Four CPU-bound jobs of different ages on one node: (pid, cpu per mille, runtime ms).
const FOUR_JOBS: &[(u32, u32, u64)] = &[
    (101, 990, 5000),
    (102, 1000, 42_000),
    (103, 1000, 800),
    (104, 980, 12_000),
];

const RECORDED: &[Recorded] = &[
    // Four jobs on node 1, two idle nodes: the oldest job, to the lower id.
    Recorded {
        loads: [412, 0, 0],
        accepts: ALL,
        here: 1,
        cands: FOUR_JOBS,
        expect: Some((102, 2)),
    },
    // The same with node 2 blocking: node 3.
    Recorded {
        loads: [412, 0, 0],
        accepts: [true, false, true],
        here: 1,
        cands: FOUR_JOBS,
        expect: Some((102, 3)),
    },
    // Two jobs on node 1, one on node 2, node 3 idle: to node 3.
    Recorded {
        loads: [195, 98, 0],
        accepts: ALL,
        here: 1,
        cands: &[(201, 960, 30_000), (202, 990, 31_000)],
        expect: Some((202, 3)),
    },
    // Node 2 of the same vector: its one job stays.
    Recorded {
        loads: [195, 98, 0],
        accepts: ALL,
        here: 2,
        cands: &[(301, 980, 100_000)],
        expect: None,
    },
    // Node 3 blocking: node 2 (198 with the job, +30 margin) is no better than 195.
    Recorded {
        loads: [195, 98, 0],
        accepts: [true, true, false],
        here: 1,
        cands: &[(201, 960, 30_000), (202, 990, 31_000)],
        expect: None,
    },
    // 3/2/1 jobs: node 1's oldest to node 3.
    Recorded {
        loads: [310, 205, 101],
        accepts: ALL,
        here: 1,
        cands: &[(401, 1000, 9000), (402, 1000, 2000), (403, 1000, 700)],
        expect: Some((401, 3)),
    },
    // One job and a light one (120): a job alone on an idle node would get little more.
    Recorded {
        loads: [120, 0, 0],
        accepts: ALL,
        here: 1,
        cands: &[(501, 1000, 20_000), (502, 200, 90_000)],
        expect: None,
    },
    // Only young jobs: not yet worth the transfer (gain 2 * 150 ms < 2 * 175 ms).
    Recorded {
        loads: [200, 0, 0],
        accepts: ALL,
        here: 1,
        cands: &[(601, 1000, 150), (602, 1000, 100)],
        expect: None,
    },
];

#[test]
fn recorded_vectors() {
    let p = Policy::default();
    for (i, r) in RECORDED.iter().enumerate() {
        let views: Vec<NodeView> = (0..3)
            .map(|k| NodeView {
                accepts: r.accepts[k],
                ..node(k as u32 + 1, r.loads[k], 10_000, 1)
            })
            .collect();
        let here = views[r.here as usize - 1];
        let peers: Vec<NodeView> = views.iter().copied().filter(|v| v.node != r.here).collect();
        let cands: Vec<Candidate> = r
            .cands
            .iter()
            .map(|&(id, cpu, runtime_ms)| Candidate {
                home: r.here,
                runtime_ms,
                ..job(id, cpu)
            })
            .collect();
        let got = decide(&here, &peers, &cands, &p);
        assert_eq!(got.map(|m| (m.id, m.to)), r.expect, "vector {i}");
        if let Some(m) = got {
            assert_eq!(m.reason, Reason::Load, "vector {i}");
            assert!(m.gain > 2 * cost_ms(4096, 0, &p), "vector {i}");
        }
        // The whole vector as peers (own entry included) decides the same.
        assert_eq!(
            decide(&here, &views, &cands, &p),
            got,
            "vector {i} with own entry"
        );
    }
}

fn eligible(c: &Candidate, p: &Policy) -> bool {
    c.resident_ms >= p.min_residency_ms && c.recent_moves < p.max_moves
}

prop_compose! {
    fn any_node()(node in 1..=5u32,
                  load in prop_oneof![0..1000u32, any::<u32>()],
                  speed in prop_oneof![Just(0u32), 1..50_000u32, any::<u32>()],
                  cpus in prop_oneof![0..8u16, any::<u16>()],
                  amem_kib in prop_oneof![0..(2 * GIB_KIB), any::<u64>()],
                  accepts in any::<bool>(),
                  bw_kib_s in prop_oneof![Just(0u32), any::<u32>()],
                  call_us in prop_oneof![Just(0u32), 0..20_000u32, any::<u32>()]) -> NodeView {
        NodeView { node, load, speed, cpus, amem_kib, accepts, bw_kib_s, call_us }
    }
}

prop_compose! {
    fn any_cand()(id in 0..12u32, home in 1..=5u32,
                  cpu in prop_oneof![0..=1000u32, any::<u32>()],
                  io in prop_oneof![Just(0u32), 0..10_000u32, any::<u32>()],
                  image_kib in prop_oneof![0..GIB_KIB, any::<u64>()],
                  runtime_ms in prop_oneof![0..1_000_000u64, any::<u64>()],
                  resident_ms in prop_oneof![0..10_000u64, any::<u64>()],
                  recent_moves in prop_oneof![0..5u32, any::<u32>()],
                  guest in any::<bool>()) -> Candidate {
        Candidate { id, home, cpu, io, image_kib, runtime_ms, resident_ms, recent_moves, guest }
    }
}

prop_compose! {
    fn any_policy()(min_cpu in prop_oneof![0..=1000u32, any::<u32>()],
                    margin in prop_oneof![0..200u32, any::<u32>()],
                    min_residency_ms in prop_oneof![0..5000u64, any::<u64>()],
                    max_moves in 0..5u32,
                    window_ms in any::<u64>(),
                    default_bw_kib_s in prop_oneof![Just(0u32), any::<u32>()],
                    io_home_ratio in prop_oneof![0..5000u32, any::<u32>()],
                    usher_kib in prop_oneof![Just(0u64), 0..GIB_KIB, any::<u64>()],
                    usher_reserve_kib in prop_oneof![0..100_000u64, any::<u64>()],
                    default_call_us in prop_oneof![0..20_000u32, any::<u32>()]) -> Policy {
        Policy { min_cpu, margin, min_residency_ms, max_moves, window_ms, default_bw_kib_s,
                 io_home_ratio, usher_kib, usher_reserve_kib, default_call_us }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    /// Never panics; a move names a present, eligible candidate and a peer other than this node
    /// that accepts or is the candidate's home.
    #[test]
    fn decisions_are_sound(here in any_node(),
                           peers in proptest::collection::vec(any_node(), 0..6),
                           cands in proptest::collection::vec(any_cand(), 0..8),
                           policy in any_policy(), default_policy in any::<bool>()) {
        // Arbitrary policies block most moves: half the cases use the defaults.
        let policy = if default_policy {
            Policy { usher_kib: policy.usher_kib % (2 * GIB_KIB), ..Policy::default() }
        } else {
            policy
        };
        let _ = cost_ms(here.amem_kib, here.bw_kib_s, &policy);
        let _ = load_with(&here, here.load);
        let _ = load_without(&here, here.load);
        if let Some(m) = decide(&here, &peers, &cands, &policy) {
            prop_assert_ne!(m.to, here.node);
            let ok = cands.iter().filter(|c| c.id == m.id && eligible(c, &policy)).any(|c| {
                peers.iter().any(|p| p.node == m.to && (p.accepts || (c.guest && c.home == m.to)))
            });
            prop_assert!(ok, "{:?}", m);
            if m.reason == Reason::Load {
                prop_assert!(cands.iter().any(|c| c.id == m.id && c.cpu.min(1000) >= policy.min_cpu));
            }
        }
    }

    /// A load move is never undone right after: from the target, with the loads updated by the
    /// move, the same process does not come back.
    #[test]
    fn no_immediate_reverse(here in any_node(), peer in any_node(), c in any_cand(),
                            policy in any_policy(), realistic in any::<bool>(),
                            loads in (0..1000u32, 0..1000u32), speeds in (1..40_000u32, 1..40_000u32),
                            cpus in (1..8u16, 1..8u16), cpu in 1..=1000u32,
                            runtime_ms in 0..1_000_000u64) {
        let peer = NodeView { node: here.node % 5 + 1, ..peer };
        let (mut here, mut peer, mut c, mut policy) = (here, peer, c, policy);
        if realistic {
            // Most arbitrary inputs move nothing: half the cases are plausible clusters.
            here = NodeView { load: loads.0, speed: speeds.0, cpus: cpus.0, ..here };
            peer = NodeView { load: loads.1, speed: speeds.1, cpus: cpus.1, amem_kib: GIB_KIB,
                              accepts: true, ..peer };
            c = Candidate { cpu, runtime_ms, image_kib: 4096, ..job(c.id, cpu) };
            policy = Policy { margin: policy.margin % 100, ..Policy::default() };
        }
        policy.usher_kib = 0;
        let c = Candidate { guest: false, home: here.node, io: 0, ..c };
        if let Some(m) = decide(&here, &[peer], &[c], &policy) {
            prop_assert_eq!(m.reason, Reason::Load);
            let cpu = c.cpu.min(1000);
            let there = NodeView { load: load_with(&peer, cpu), ..peer };
            let back = NodeView { load: load_without(&here, cpu), accepts: true, ..here };
            let moved = Candidate { guest: true, ..c };
            prop_assert_eq!(decide(&there, &[back], &[moved], &policy), None);
        }
    }
}

#[test]
fn io_job_at_home_is_not_moved_for_load() {
    let p = Policy::default();
    let here = NodeView {
        node: 1,
        load: 300,
        speed: 10_000,
        cpus: 1,
        amem_kib: 400_000,
        accepts: true,
        bw_kib_s: 0,
        call_us: 0,
    };
    let idle = NodeView {
        node: 2,
        load: 0,
        ..here
    };
    let job = |id, io| Candidate {
        id,
        home: 1,
        cpu: 1000,
        io,
        image_kib: 2048,
        runtime_ms: 5_000,
        resident_ms: 10_000,
        recent_moves: 0,
        guest: false,
    };
    // 3000 reads per CPU-second: an I/O job stays; the CPU job beside it moves.
    assert!(oxmosix_host_tests::decide::io_job(&job(7, 3000), &p));
    assert_eq!(decide(&here, &[idle], &[job(7, 3000)], &p), None);
    assert_eq!(
        decide(&here, &[idle], &[job(7, 3000), job(8, 10)], &p).map(|m| (m.id, m.to)),
        Some((8, 2))
    );
}

/// Placement at exec time: a program starting on a busy node goes to the idle peer; on an idle
/// node it stays; OVERLOADED places only when the node has more runnable tasks than CPUs; OFF
/// and unknown modes never place; a peer that does not accept, or lacks memory, is never chosen;
/// the faster of two idle peers wins, and equal ones go to the lower id.
#[test]
fn placement_at_exec_picks_the_fastest_free_node() {
    let pol = Policy::default();
    let r = load::REFERENCE_SPEED;
    let here1 = node(1, 100, r, 1); // just the program starting
    let here2 = node(1, 200, r, 1); // one more task already running
    let idle = [node(2, 0, r, 1), node(3, 0, r, 1)];
    assert_eq!(place(&here1, &idle, place_mode::BEST, &pol), None);
    assert_eq!(place(&here2, &idle, place_mode::BEST, &pol), Some(2));
    assert_eq!(place(&here2, &idle, place_mode::OVERLOADED, &pol), Some(2));
    assert_eq!(place(&here1, &idle, place_mode::OVERLOADED, &pol), None);
    for mode in [place_mode::OFF, place_mode::MAX + 1, u32::MAX] {
        assert_eq!(place(&here2, &idle, mode, &pol), None);
    }
    let mut closed = idle;
    closed[0].accepts = false;
    closed[1].amem_kib = 1024;
    assert_eq!(place(&here2, &closed, place_mode::BEST, &pol), None);
    let faster = [node(2, 0, r, 1), node(3, 0, 2 * r, 1)];
    assert_eq!(place(&here2, &faster, place_mode::BEST, &pol), Some(3));
    // A peer as busy as here after the move is no better: no placement.
    assert_eq!(
        place(&here2, &[node(2, 100, r, 1)], place_mode::BEST, &pol),
        None
    );
    // The entry for this node itself is ignored.
    assert_eq!(
        place(&here2, &[node(1, 0, r, 1)], place_mode::BEST, &pol),
        None
    );
}

/// Four workers on node 1 of two equal one-CPU nodes each start one program after another
/// (the placement test's batch): with each placement counted on its target until it would show
/// in a report, the programs end up two per node, and none is placed while node 1 runs fewer
/// programs than node 2.
#[test]
fn placement_spreads_a_batch_evenly() {
    let pol = Policy::default();
    let r = load::REFERENCE_SPEED;
    let (mut here_n, mut there_n) = (0u32, 0u32);
    for _ in 0..4 {
        let mut here = node(1, 0, r, 1);
        here.load = load_of_tasks(&here, here_n + 1);
        let mut peer = node(2, 0, r, 1);
        peer.load = load_of_tasks(&peer, there_n);
        match place(&here, &[peer], place_mode::BEST, &pol) {
            Some(2) => there_n += 1,
            None => here_n += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((here_n, there_n), (2, 2));
    // One finishes on each node; the next two starts refill both.
    for (h, t) in [(1u32, 2u32), (2, 1)] {
        let mut here = node(1, 0, r, 1);
        here.load = load_of_tasks(&here, h + 1);
        let mut peer = node(2, 0, r, 1);
        peer.load = load_of_tasks(&peer, t);
        let placed = place(&here, &[peer], place_mode::BEST, &pol);
        assert_eq!(placed.is_some(), h >= 2 && t < 2, "{h} {t}");
    }
}

#[test]
fn departed_share_follows_the_slow_average() {
    let (slow, every) = (load::DEFAULT_SLOW_DECAY, load::DEFAULT_DECAY_INTERVAL_MS);
    // A report made before the process left still holds all of it.
    assert_eq!(departed_share(5_000, 4_000, slow, every), 1000);
    assert_eq!(departed_share(5_000, 5_000, slow, every), 1000);
    // 0.95 kept per 100 ms: 950 after one interval, 0.95^10 = 598 after a second.
    assert_eq!(departed_share(5_000, 5_100, slow, every), 950);
    assert_eq!(departed_share(5_000, 6_000, slow, every), 598);
    // Gone from the report within a minute.
    assert_eq!(departed_share(5_000, 65_000, slow, every), 0);
    // Degenerate knobs: no decay kept, interval 0.
    assert_eq!(departed_share(0, 1, 0, 0), 0);
}

proptest! {
    /// The share never grows as the report gets newer, and stays within one task.
    #[test]
    fn departed_share_decreases(left in 0u64..1 << 40, a in 0u64..100_000, b in 0u64..100_000,
                                slow in 0u32..2000, every in 0u32..20_000) {
        let (a, b) = (a.min(b), a.max(b));
        let x = departed_share(left, left + a, slow, every);
        let y = departed_share(left, left + b, slow, every);
        prop_assert!(y <= x && x <= 1000);
    }
}
