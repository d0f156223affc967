//! Tests of load computation, load-vector merge and ageing, and a 64-node gossip simulation.
use oxmosix_host_tests::load::vector::{Merge, Slot};
use oxmosix_host_tests::load::{self, vector};
use oxmosix_host_tests::proto::{LoadEntry, MAX_LOAD_ENTRIES};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

fn entry(node: u32, stamp: u64, load: u32) -> LoadEntry {
    LoadEntry {
        node,
        stamp,
        load,
        speed: 10000,
        cpus: 1,
        tmem_kib: 1 << 20,
        fmem_kib: 1 << 19,
        amem_kib: 1 << 19,
        ..Default::default()
    }
}

fn slots(n: u32) -> Vec<Slot> {
    (1..=n).map(Slot::new).collect()
}

#[test]
fn averager_rises_fast_falls_slowly() {
    let mut a = load::LoadAverager::default();
    let mut up = Vec::new();
    for _ in 0..10 {
        a.sample(1, load::DEFAULT_FAST_DECAY, load::DEFAULT_SLOW_DECAY);
        up.push(a.raw());
    }
    // One runnable task for 10 samples: past half a task after 2 samples (fast average).
    assert!(up[1] > load::SCALE / 2, "{up:?}");
    assert!(up.windows(2).all(|w| w[0] <= w[1]));
    for _ in 0..200 {
        a.sample(1, load::DEFAULT_FAST_DECAY, load::DEFAULT_SLOW_DECAY);
    }
    assert!(a.raw() > 990 && a.raw() <= 1000, "{}", a.raw());
    // Dropping to idle: the slow average holds the load up for a while, then it decays to 0.
    a.sample(0, load::DEFAULT_FAST_DECAY, load::DEFAULT_SLOW_DECAY);
    assert!(a.raw() > 900);
    for _ in 0..300 {
        a.sample(0, load::DEFAULT_FAST_DECAY, load::DEFAULT_SLOW_DECAY);
    }
    assert_eq!(a.raw(), 0);
}

#[test]
fn normalization_by_cpus_and_speed() {
    assert_eq!(load::normalized(1000, 1, 10000), 100);
    assert_eq!(load::normalized(2000, 2, 10000), 100);
    assert_eq!(load::normalized(1000, 1, 20000), 50);
    assert_eq!(load::normalized(3000, 1, 5000), 600);
    assert_eq!(load::normalized(0, 0, 0), 0);
    assert_eq!(load::normalized(u64::MAX / 1_000_000, 1, 1), 100_000_000);
    assert_eq!(load::busy_share(0, 1), 0);
    assert_eq!(load::busy_share(1, 1), 10000);
    assert_eq!(load::busy_share(5, 1), 10000);
    assert_eq!(load::busy_share(1, 4), 2500);
    assert_eq!(load::busy_share(3, 0), 10000);
}

#[test]
fn merge_keeps_freshest_per_node() {
    let mut s = slots(4);
    assert_eq!(
        vector::merge(&mut s, 1, &entry(2, 10, 5), 2, 0, 3000),
        Merge::Updated { came_up: true }
    );
    assert_eq!(
        vector::merge(&mut s, 1, &entry(2, 9, 7), 2, 0, 3000),
        Merge::Stale
    );
    assert_eq!(
        vector::merge(&mut s, 1, &entry(2, 10, 7), 2, 0, 3000),
        Merge::Stale
    );
    assert_eq!(s[1].entry.load, 5);
    assert_eq!(
        vector::merge(&mut s, 1, &entry(2, 11, 8), 2, 0, 3000),
        Merge::Updated { came_up: false }
    );
    assert_eq!(s[1].entry.load, 8);
    assert_eq!(
        vector::merge(&mut s, 1, &entry(1, 99, 8), 1, 0, 3000),
        Merge::Own
    );
    assert_eq!(
        vector::merge(&mut s, 1, &entry(9, 1, 8), 9, 0, 3000),
        Merge::Unknown
    );
    // News already older than the timeout is recorded but does not make the node up.
    let mut old = entry(3, 5, 1);
    old.age_ms = 5000;
    assert_eq!(
        vector::merge(&mut s, 1, &old, 3, 0, 3000),
        Merge::Updated { came_up: false }
    );
    assert!(s[2].known && !s[2].up);
}

#[test]
fn ageing_marks_nodes_down_and_news_brings_them_back() {
    let mut s = slots(3);
    vector::set_own(&mut s, &entry(1, 1, 0), 0);
    let mut e = entry(2, 1, 0);
    e.age_ms = 500;
    vector::merge(&mut s, 1, &e, 2, 1000, 3000);
    assert_eq!(s[1].age_ms(1000), 500);
    assert_eq!(s[1].age_ms(3000), 2500);
    let mut down = Vec::new();
    assert_eq!(
        vector::expire(&mut s, 1, 3500, 3000, |_| false, |n| down.push(n)),
        0
    );
    assert_eq!(
        vector::expire(&mut s, 1, 3501, 3000, |_| false, |n| down.push(n)),
        1
    );
    assert_eq!(down, vec![2]);
    assert!(!s[1].up);
    // Own entry never expires; unknown nodes are not "down" events.
    assert!(s[0].up);
    assert_eq!(
        vector::expire(&mut s, 1, 100_000, 3000, |_| false, |_| panic!()),
        0
    );
    assert_eq!(
        vector::merge(&mut s, 1, &entry(2, 2, 0), 2, 100_000, 3000),
        Merge::Updated { came_up: true }
    );
}

#[test]
fn freshest_selects_own_then_youngest() {
    let mut s = slots(6);
    vector::set_own(&mut s, &entry(3, 1, 0), 10_000);
    for (node, age) in [(1u32, 900u32), (2, 100), (4, 500), (5, 100), (6, 50)] {
        let mut e = entry(node, 1, 0);
        e.age_ms = age;
        vector::merge(&mut s, 3, &e, node, 10_000, 3000);
    }
    let mut out = [LoadEntry::default(); 4];
    // Receiver 6 is excluded; ages grow by 100 ms between merge and send.
    let n = vector::freshest(&s, 3, 6, 10_100, &mut out);
    assert_eq!(n, 4);
    assert_eq!(
        out.iter().map(|e| (e.node, e.age_ms)).collect::<Vec<_>>(),
        vec![(3, 0), (2, 200), (5, 200), (4, 600)]
    );
    let mut big = [LoadEntry::default(); MAX_LOAD_ENTRIES];
    assert_eq!(vector::freshest(&s, 3, 0, 10_100, &mut big), 6);
}

#[test]
fn peer_choice_is_uniform_over_eligible() {
    let mut s = slots(5);
    s[3].up = true;
    s[1].up = true;
    let mut seen = [0u32; 6];
    for r in 0..1000u32 {
        seen[vector::pick_peer(&s, 1, r, |x| x.up).unwrap() as usize] += 1;
    }
    assert_eq!(seen, [0, 0, 500, 0, 500, 0]);
    assert_eq!(vector::pick_peer(&s, 2, 7, |x| x.up), Some(4));
    assert_eq!(vector::pick_peer(&slots(3), 1, 7, |x| x.up), None);
}

/// One gossip round of a simulated cluster, as the module does it: every node refreshes its own
/// entry and pushes it plus its `k` freshest entries to one random peer; each receiver merges them
/// and answers with its own entry and `k` freshest (push-pull; answers are not answered).
fn round(nodes: &mut [Vec<Slot>], rng: &mut SmallRng, now_ms: u64, k: usize, loads: &[u32]) {
    let n = nodes.len() as u32;
    let pick = |s: &[Slot], from: u32, to: u32| {
        let mut out = vec![LoadEntry::default(); k + 1];
        let m = vector::freshest(s, from, to, now_ms, &mut out);
        out.truncate(m);
        out
    };
    let mut pushes: Vec<(u32, u32, Vec<LoadEntry>)> = Vec::new();
    for id in 1..=n {
        let s = &mut nodes[id as usize - 1];
        vector::set_own(s, &entry(id, now_ms, loads[id as usize - 1]), now_ms);
        let peer = vector::pick_peer(s, id, rng.gen(), |_| true).unwrap();
        pushes.push((id, peer, pick(s, id, peer)));
    }
    let mut replies = Vec::new();
    for (from, to, entries) in pushes {
        for e in entries {
            vector::merge(&mut nodes[to as usize - 1], to, &e, from, now_ms, 3000);
        }
        replies.push((from, pick(&nodes[to as usize - 1], to, from)));
    }
    for (to, entries) in replies {
        let from = entries.first().map_or(0, |e| e.node);
        for e in entries {
            vector::merge(&mut nodes[to as usize - 1], to, &e, from, now_ms, 3000);
        }
    }
}

/// Rounds until a load change at node 1 is known to every one of `n` nodes (after a warm-up in
/// which everybody learnt about everybody).
fn spread_rounds(n: u32, k: usize, seed: u64) -> u64 {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut nodes: Vec<Vec<Slot>> = (0..n).map(|_| slots(n)).collect();
    let mut loads = vec![0u32; n as usize];
    for r in 0..20 {
        round(&mut nodes, &mut rng, r * 1000, k, &loads);
    }
    loads[0] = 12345;
    let mut rounds = 0;
    loop {
        rounds += 1;
        round(&mut nodes, &mut rng, (20 + rounds) * 1000, k, &loads);
        if nodes.iter().all(|s| s[0].entry.load == 12345) {
            return rounds;
        }
        assert!(rounds < 200, "no convergence");
    }
}

/// A load change reaches every node within O(log N) gossip rounds: measured for N = 8..64 with
/// the module's default K = 16 (printed), asserted for the 64-node cluster of the issue. With a fixed
/// K the spread slows once N grows well past 4K (a fresh entry drops out of the freshest K at the
/// relays), so large clusters should raise K with N (up to proto::MAX_LOAD_ENTRIES).
#[test]
fn gossip_spreads_in_logarithmic_rounds() {
    const K: usize = 16;
    const TRIALS: u64 = 30;
    println!(
        "gossip (push-pull, K={K}): rounds until a load change at one node is known everywhere"
    );
    println!("{:>5} {:>7} {:>8} {:>6}", "N", "log2 N", "average", "worst");
    for n in [8u32, 16, 32, 64] {
        let r: Vec<u64> = (0..TRIALS).map(|seed| spread_rounds(n, K, seed)).collect();
        let avg = r.iter().sum::<u64>() as f64 / TRIALS as f64;
        let worst = *r.iter().max().unwrap();
        let log2n = (n as f64).log2();
        println!("{n:>5} {log2n:>7.1} {avg:>8.1} {worst:>6}");
        // Push-pull gossip needs about log3 N + O(log log N) rounds on average.
        assert!(avg <= 1.5 * log2n + 2.0, "N={n}: average {avg} rounds");
        if n == 64 {
            assert!(worst as f64 <= 2.0 * log2n, "N=64: worst {worst} rounds");
        }
    }
}

/// Stamps order entries only within one incarnation; another incarnation comes in only from the
/// node itself or once the old one is down; relayed news cannot mark a node down.
#[test]
fn incarnations_and_relays() {
    let mut s = slots(4);
    let with = |node: u32, stamp: u64, inc: u64, age: u32| LoadEntry {
        incarnation: inc,
        age_ms: age,
        ..entry(node, stamp, 1)
    };
    assert_eq!(
        vector::merge(&mut s, 1, &with(2, 1000, 7, 0), 2, 0, 3000),
        Merge::Updated { came_up: true }
    );
    // A forged huge stamp of another incarnation, relayed by node 3: ignored while 2 is up.
    assert_eq!(
        vector::merge(&mut s, 1, &with(2, u64::MAX, 8, 0), 3, 10, 3000),
        Merge::Stale
    );
    // A relayed entry already older than the timeout: ignored (it could only mark 2 down).
    assert_eq!(
        vector::merge(&mut s, 1, &with(2, 2000, 7, 4000), 3, 10, 3000),
        Merge::Stale
    );
    assert!(s[1].up);
    // Node 2 restarted (new incarnation, smaller stamps): accepted from node 2 itself.
    assert_eq!(
        vector::merge(&mut s, 1, &with(2, 5, 9, 0), 2, 20, 3000),
        Merge::Updated { came_up: false }
    );
    assert_eq!(
        vector::merge(&mut s, 1, &with(2, 6, 9, 0), 3, 30, 3000),
        Merge::Updated { came_up: false }
    );
    // Silent for longer than the timeout but its link is live: still up; without it: down.
    assert_eq!(
        vector::expire(&mut s, 1, 10_000, 3000, |n| n == 2, |_| panic!()),
        0
    );
    assert!(s[1].up);
    assert_eq!(
        vector::expire(&mut s, 1, 10_000, 3000, |_| false, |_| {}),
        1
    );
    // Down: a relayed entry of yet another incarnation may bring it back.
    assert_eq!(
        vector::merge(&mut s, 1, &with(2, 1, 10, 0), 3, 10_001, 3000),
        Merge::Updated { came_up: true }
    );
}
