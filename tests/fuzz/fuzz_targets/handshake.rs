//! Fuzz target: both roles of the link handshake (src/proto/session.rs) fed arbitrary frames,
//! as a stranger on the network would send them. Input: a selector byte, then the frames. The
//! state machines must never panic, and must never complete a handshake with a peer that does
//! not hold the key (the fuzzer has no way to compute a MAC under it).
#![no_main]
use libfuzzer_sys::fuzz_target;
use oxmosix_host_tests::hostcrypto::Crates;
use oxmosix_host_tests::proto::handshake::key_id;
use oxmosix_host_tests::proto::session::*;

const PSK: [u8; 32] = [0x42; 32];

fn ours(node: u32) -> Ours {
    Ours {
        node,
        generation: 1,
        incarnation: 9,
        plaintext: false,
        nonce: [node as u8; 32],
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let id = key_id(&mut Crates, &PSK).unwrap();
    if sel & 1 == 0 {
        // Responder: a Hello, then a Finished, both from the fuzzer.
        let cut = rest.len().min(HELLO_FRAME);
        let (hello, fin) = rest.split_at(cut);
        let accept = |h: &oxmosix_host_tests::proto::Hello| {
            if h.node == 1 && h.key_id == id {
                Ok(PSK)
            } else {
                Err(Refusal::UnknownKey)
            }
        };
        if let Ok((r, _hello2)) = Responder::on_hello(&mut Crates, ours(2), hello, accept) {
            assert!(
                r.on_finished(&mut Crates, fin).is_err(),
                "forged Finished accepted"
            );
        }
    } else {
        // Initiator: the responder's Hello from the fuzzer.
        let (init, _hello1) = Initiator::start(ours(1), 2, &PSK, id).unwrap();
        assert!(
            init.on_hello(&mut Crates, rest).is_err(),
            "forged Hello accepted"
        );
    }
});
