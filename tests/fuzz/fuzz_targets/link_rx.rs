//! Fuzz target: the receive state machine of an established link (src/proto/session.rs Opener,
//! then the decoder), as the transport drives it, with frames up to the maximum size. Input: a
//! sequence of records `kind u8, len u16 (le), bytes`. Kind 0 feeds the bytes as a raw frame (a
//! forger's: must never open); kind 1 seals them as the real peer would (header fields from the
//! bytes, the right sequence number and key) so that the decoder behind the AEAD sees arbitrary
//! plaintext; a frame the opener refuses ends the link, as in the module.
#![no_main]
use libfuzzer_sys::fuzz_target;
use oxmosix_host_tests::hostcrypto::Crates;
use oxmosix_host_tests::proto::session::*;
use oxmosix_host_tests::proto::*;

const KEY: [u8; 32] = [0x17; 32];

fuzz_target!(|data: &[u8]| {
    let mut o = Opener::new(1, 2, Some(KEY));
    let mut s = Sealer::new(Some(KEY));
    let mut buf = vec![0u8; MAX_FRAME + AUTH_TAG_LEN];
    let mut d = data;
    while d.len() >= 3 {
        let (kind, n) = (d[0], usize::from(u16::from_le_bytes([d[1], d[2]])));
        let body = &d[3..(3 + n).min(d.len())];
        d = &d[(3 + n).min(d.len())..];
        buf.fill(0);
        if kind & 1 == 1 {
            // The real peer: a header of the fuzzer's type and length, our numbering, then seal.
            let Some((&t, payload)) = body.split_first() else {
                continue;
            };
            let Ok(mtype) = MsgType::from_u8(t % 18) else {
                continue;
            };
            let len = payload.len().min(MAX_PAYLOAD);
            let h = Header {
                mtype,
                len: len as u32,
                seq: s.next_seq(),
                src: 1,
                dst: 2,
                delivery: 0,
                ack: 0,
            }
            .encode();
            buf[..HEADER_LEN].copy_from_slice(&h);
            buf[HEADER_LEN..HEADER_LEN + len].copy_from_slice(&payload[..len]);
            s.seal(&mut Crates, &mut buf, len).unwrap();
        } else {
            let n = body.len().min(MAX_FRAME);
            buf[..n].copy_from_slice(&body[..n]);
        }
        let Ok(h) = Header::decode(&buf) else { return };
        match o.open(&mut Crates, &h, &mut buf) {
            Ok(()) => {
                assert!(kind & 1 == 1, "a forged frame opened");
                let end = HEADER_LEN + h.len as usize;
                let _ = Message::decode(&h, &buf[HEADER_LEN..end]);
            }
            Err(_) => return,
        }
    }
});
