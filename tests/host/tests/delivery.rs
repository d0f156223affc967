//! Exactly-once delivery across replaced connections (src/proto/delivery.rs): the resend ring
//! against a model, and a sender and receiver whose connections drop at random.

use oxmosix_host_tests::proto::delivery::{should_ack, Accept, Resend, ResendError, RxDelivery};
use proptest::prelude::*;
use std::collections::VecDeque;

fn payload(n: u64, len: usize) -> Vec<u8> {
    (0..len).map(|i| (n as usize * 31 + i) as u8).collect()
}

proptest! {
    /// Pushes and acknowledgements in any order keep exactly the unacknowledged frames, in order,
    /// with their bytes; a full ring refuses without changing.
    #[test]
    fn resend_ring_matches_a_model(ops in prop::collection::vec((any::<bool>(), 0usize..3000, 0u64..8), 1..400),
                                   cap in 64usize..8192) {
        let mut r = Resend::new(vec![0u8; cap]);
        let mut model: VecDeque<(u64, u8, Vec<u8>)> = VecDeque::new();
        for (push, len, k) in ops {
            if push {
                let n = r.next();
                let p = payload(n, len);
                let (a, b) = p.split_at(len / 2);
                match r.push((n % 17) as u8, &[a, b]) {
                    Ok(got) => { prop_assert_eq!(got, n); model.push_back((n, (n % 17) as u8, p)); }
                    Err(ResendError::Full) | Err(ResendError::TooLarge) => prop_assert_eq!(r.next(), n),
                }
            } else {
                // Acknowledge up to k frames beyond the oldest held (or a stale number).
                let upto = r.acked() + k;
                if upto >= r.next() {
                    prop_assert!(r.ack(upto).is_err());
                } else {
                    prop_assert!(r.ack(upto).is_ok());
                    while model.front().is_some_and(|f| f.0 <= upto) { model.pop_front(); }
                }
            }
            let mut seen = Vec::new();
            r.for_each(|n, t, p| { seen.push((n, t, p.to_vec())); Ok::<(), ()>(()) }).unwrap();
            prop_assert_eq!(seen, model.iter().cloned().collect::<Vec<_>>());
            prop_assert_eq!(r.len(), model.len());
            prop_assert!(r.used() <= cap);
        }
    }

    /// A sender numbering messages into a ring and a receiver taking them, over connections that
    /// drop at random (losing whatever was in flight): after each new connection the sender sends
    /// again everything unacknowledged; every message arrives exactly once, in order.
    #[test]
    fn exactly_once_over_dropping_connections(steps in prop::collection::vec(0u8..10, 1..600)) {
        let mut tx = Resend::new(vec![0u8; 4096]);
        let mut rx = RxDelivery::new();
        let mut wire: VecDeque<u64> = VecDeque::new();
        let mut got: Vec<u64> = Vec::new();
        let (mut since, mut sent_msgs) = (0u32, 0u64);
        for s in steps {
            match s {
                // The connection drops: what was in flight is lost; a new one resends.
                0 => {
                    wire.clear();
                    tx.for_each(|n, _, _| { wire.push_back(n); Ok::<(), ()>(()) }).unwrap();
                }
                // The receiver takes a frame.
                1..=4 => if let Some(n) = wire.pop_front() {
                    match rx.accept(n) {
                        Accept::Deliver => { got.push(n); since += 1; }
                        Accept::Duplicate => {}
                        Accept::Gap => { wire.clear(); }
                    }
                    if should_ack(since, 0) || s == 4 {
                        tx.ack(rx.done()).unwrap();
                        since = 0;
                    }
                },
                // The sender sends a new message if the ring has room.
                _ => if let Ok(n) = tx.push(1, &[&[0u8; 100]]) { wire.push_back(n); sent_msgs += 1; },
            }
        }
        // Drain: reconnect and deliver everything.
        wire.clear();
        tx.for_each(|n, _, _| { wire.push_back(n); Ok::<(), ()>(()) }).unwrap();
        while let Some(n) = wire.pop_front() {
            if rx.accept(n) == Accept::Deliver { got.push(n); }
        }
        prop_assert_eq!(got, (1..=sent_msgs).collect::<Vec<_>>());
    }
}

#[test]
fn receiver_adopts_the_first_number_then_refuses_gaps() {
    let mut rx = RxDelivery::new();
    assert_eq!(rx.accept(40), Accept::Deliver);
    assert_eq!(rx.accept(40), Accept::Duplicate);
    assert_eq!(rx.accept(42), Accept::Gap);
    assert_eq!(rx.accept(41), Accept::Deliver);
    assert_eq!(rx.done(), 41);
}

#[test]
fn an_ack_beyond_what_was_sent_is_refused() {
    let mut r = Resend::new(vec![0u8; 256]);
    assert_eq!(r.push(1, &[b"abc"]), Ok(1));
    assert!(r.ack(2).is_err());
    assert!(r.ack(1).is_ok());
    assert!(r.is_empty());
    assert_eq!(r.push(1, &[&[0u8; 300]]), Err(ResendError::TooLarge));
}

proptest! {
    /// Walking the ring with `find_from` and its cursor while frames are acknowledged and pushed
    /// in between visits every held frame from a number on, once, in order.
    #[test]
    fn find_from_walks_in_order(pre in 1usize..60, acks in prop::collection::vec(0u64..4, 1..40), cap in 512usize..4096) {
        let mut r = Resend::new(vec![0u8; cap]);
        for _ in 0..pre { if r.push(1, &[&[7u8; 40]]).is_err() { break; } }
        let (mut from, mut hint, mut seen) = (r.acked() + 1, 0usize, Vec::new());
        for k in acks {
            let _ = r.ack((r.acked() + k).min(r.next() - 1));
            let _ = r.push(2, &[&[9u8; 24]]);
            match r.find_from(from, hint) {
                Some((n, _, _, next)) => { prop_assert!(n >= from); seen.push(n); from = n + 1; hint = next; }
                None => prop_assert_eq!(from, r.next()),
            }
        }
        prop_assert!(seen.windows(2).all(|w| w[0] < w[1]));
    }
}
