//! The link's state machines (src/proto/session.rs): a full handshake between an initiator and a
//! responder, every refusal, and sealed frames (tampering, replay, reordering), with the
//! RustCrypto crates standing in for the kernel's crypto.

use oxmosix_host_tests::hostcrypto::Crates;
use oxmosix_host_tests::proto::handshake::{key_id, KEY_LEN};
use oxmosix_host_tests::proto::session::*;
use oxmosix_host_tests::proto::*;

const PSK: [u8; KEY_LEN] = [7; KEY_LEN];

fn ours(node: u32, nonce: u8, plaintext: bool) -> Ours {
    Ours {
        node,
        generation: 1,
        incarnation: u64::from(node) * 1000,
        plaintext,
        nonce: [nonce; 32],
    }
}

/// Runs a handshake 1 -> 2; `psk_r` is what the responder finds for the key id.
fn handshake(psk_r: [u8; KEY_LEN], pt_i: bool, pt_r: bool) -> Result<(Link, Link), Refusal> {
    let id = key_id(&mut Crates, &PSK).unwrap();
    let (init, hello1) = Initiator::start(ours(1, 1, pt_i), 2, &PSK, id)?;
    let (resp, hello2) = Responder::on_hello(&mut Crates, ours(2, 2, pt_r), &hello1, |h| {
        assert_eq!(h.node, 1);
        Ok(psk_r)
    })?;
    let (li, fin) = init.on_hello(&mut Crates, &hello2)?;
    let lr = resp.on_finished(&mut Crates, &fin)?;
    Ok((li, lr))
}

#[test]
fn both_sides_agree_on_keys_and_identities() {
    let (li, lr) = handshake(PSK, false, false).unwrap();
    assert_eq!(li.hello.node, 2);
    assert_eq!(lr.hello.node, 1);
    assert_eq!(lr.hello.incarnation, 1000);
    let (ti, ri) = li.keys.unwrap();
    let (tr, rr) = lr.keys.unwrap();
    assert_eq!(ti, rr);
    assert_eq!(tr, ri);
    assert_ne!(ti, tr);
    assert_eq!(li.key_id, lr.key_id);
}

#[test]
fn refusals() {
    // The responder finds another psk under that id: the initiator sees a wrong MAC.
    assert_eq!(
        handshake([8; KEY_LEN], false, false).err(),
        Some(Refusal::BadMac)
    );
    // Only one side asks for plaintext: refused, by whichever side checks first.
    assert_eq!(
        handshake(PSK, true, false).err(),
        Some(Refusal::PlaintextMismatch)
    );
    assert_eq!(
        handshake(PSK, false, true).err(),
        Some(Refusal::PlaintextMismatch)
    );
    // Both ask: a plaintext link, still authenticated.
    let (li, lr) = handshake(PSK, true, true).unwrap();
    assert!(li.keys.is_none() && lr.keys.is_none());
    // The responder refuses what `accept` refuses, before answering.
    let id = key_id(&mut Crates, &PSK).unwrap();
    let (_, hello1) = Initiator::start(ours(1, 1, false), 2, &PSK, id).unwrap();
    let r = Responder::on_hello(&mut Crates, ours(2, 2, false), &hello1, |_| {
        Err(Refusal::UnknownKey)
    });
    assert_eq!(r.err(), Some(Refusal::UnknownKey));
    // A Hello to another node, or not at sequence 0, is malformed.
    let r = Responder::on_hello(&mut Crates, ours(3, 2, false), &hello1, |_| Ok(PSK));
    assert!(matches!(r.err(), Some(Refusal::Malformed(_))));
    let mut h = hello1;
    h[23] = 1;
    let r = Responder::on_hello(&mut Crates, ours(2, 2, false), &h, |_| Ok(PSK));
    assert!(matches!(r.err(), Some(Refusal::Malformed(_))));
}

#[test]
fn forged_and_replayed_finished_is_refused() {
    let id = key_id(&mut Crates, &PSK).unwrap();
    let (init, hello1) = Initiator::start(ours(1, 1, false), 2, &PSK, id).unwrap();
    let (resp, hello2) =
        Responder::on_hello(&mut Crates, ours(2, 2, false), &hello1, |_| Ok(PSK)).unwrap();
    let (_, fin) = init.on_hello(&mut Crates, &hello2).unwrap();
    // Someone without the key sends a Finished of its own.
    let mut forged = fin;
    forged[HEADER_LEN] ^= 1;
    assert_eq!(
        resp.on_finished(&mut Crates, &forged).err(),
        Some(Refusal::BadMac)
    );
    // The recorded Hello1 and Finished replayed to a responder that picks a fresh nonce.
    let (resp2, _) =
        Responder::on_hello(&mut Crates, ours(2, 3, false), &hello1, |_| Ok(PSK)).unwrap();
    assert_eq!(
        resp2.on_finished(&mut Crates, &fin).err(),
        Some(Refusal::BadMac)
    );
    // A recorded Hello2 replayed to an initiator with a fresh nonce.
    let (init2, _) = Initiator::start(ours(1, 4, false), 2, &PSK, id).unwrap();
    assert_eq!(
        init2.on_hello(&mut Crates, &hello2).err(),
        Some(Refusal::BadMac)
    );
}

/// A sealed frame of `payload` (a Bench message) from 1 to 2 in a buffer with room for the tag.
fn sealed(s: &mut Sealer, payload_len: usize, fill: u8) -> Vec<u8> {
    let mut buf = vec![0u8; MAX_FRAME + AUTH_TAG_LEN];
    let mut p = vec![fill; payload_len];
    Bench {
        echo: false,
        echo_len: 8,
    }
    .encode_header(&mut p);
    let n = encode_frame(MsgType::Bench, s.next_seq(), 1, 2, &p, &mut buf).unwrap();
    s.seal(&mut Crates, &mut buf, n - HEADER_LEN).unwrap();
    buf
}

fn open(o: &mut Opener, buf: &mut [u8]) -> Result<Vec<u8>, RxError> {
    let h = Header::decode(buf).map_err(RxError::Malformed)?;
    o.open(&mut Crates, &h, buf)?;
    Ok(buf[HEADER_LEN..HEADER_LEN + h.len as usize].to_vec())
}

#[test]
fn sealed_frames_open_once_in_order() {
    let (li, lr) = handshake(PSK, false, false).unwrap();
    let mut s = Sealer::new(Some(li.keys.unwrap().0));
    let mut o = Opener::new(1, 2, Some(lr.keys.unwrap().1));
    let f1 = sealed(&mut s, MAX_PAYLOAD, 0xaa);
    // The payload is not in clear on the wire.
    assert!(!f1[HEADER_LEN + BENCH_HDR_LEN..HEADER_LEN + MAX_PAYLOAD]
        .iter()
        .all(|&b| b == 0xaa));
    let f2 = sealed(&mut s, 100, 0xbb);
    // Reordered: refused.
    let mut o2 = Opener::new(1, 2, Some(lr.keys.unwrap().1));
    assert_eq!(open(&mut o2, &mut f2.clone()).err(), Some(RxError::Order));
    // In order: both open, to the plaintext.
    let p1 = open(&mut o, &mut f1.clone()).unwrap();
    assert!(p1[BENCH_HDR_LEN..].iter().all(|&b| b == 0xaa));
    assert_eq!(open(&mut o, &mut f2.clone()).unwrap().len(), 100);
    // Replayed: refused.
    assert_eq!(open(&mut o, &mut f1.clone()).err(), Some(RxError::Order));
}

#[test]
fn tampering_anywhere_is_refused() {
    let (li, lr) = handshake(PSK, false, false).unwrap();
    let (tx, rx, back) = (li.keys.unwrap().0, lr.keys.unwrap().1, lr.keys.unwrap().0);
    assert_eq!(tx, rx);
    let f = sealed(&mut Sealer::new(Some(tx)), 64, 1);
    for pos in (0..HEADER_LEN + 64).step_by(3) {
        let mut g = f.clone();
        g[pos] ^= 0x10;
        let r = open(&mut Opener::new(1, 2, Some(rx)), &mut g);
        assert!(r.is_err(), "byte {pos} altered and accepted");
    }
    // The key of the other direction does not open it.
    let r = open(&mut Opener::new(1, 2, Some(back)), &mut f.clone());
    assert_eq!(r.err(), Some(RxError::Auth));
}

#[test]
fn plaintext_links_carry_zero_tags() {
    let mut s = Sealer::new(None);
    let mut f = sealed(&mut s, 64, 3);
    assert!(f[TAG_AT..HEADER_LEN].iter().all(|&b| b == 0));
    assert!(open(&mut Opener::new(1, 2, None), &mut f.clone()).is_ok());
    f[TAG_AT + 8] = 1;
    assert_eq!(
        open(&mut Opener::new(1, 2, None), &mut f).err(),
        Some(RxError::Auth)
    );
}
