//! Fuzz target: the frame decoder as the transport drives it (header, then exactly `len` payload
//! bytes, then the message). It must never panic, never read past the buffer, and whatever it
//! accepts must re-encode to the same bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use oxmosix_host_tests::proto::*;

fuzz_target!(|data: &[u8]| {
    let Ok(h) = Header::decode(data) else { return };
    assert!(h.len as usize <= MAX_PAYLOAD);
    assert_eq!(&h.encode()[..], &data[..HEADER_LEN]);
    let end = HEADER_LEN + h.len as usize;
    if data.len() < end {
        return;
    }
    let payload = &data[HEADER_LEN..end];
    let Ok(msg) = Message::decode(&h, payload) else {
        return;
    };
    let mut re = [0u8; MAX_LOAD_FRAME];
    let n = match msg {
        Message::Hello(m) => encode_frame(h.mtype, h.seq, h.src, h.dst, &m.encode(), &mut re),
        Message::Load(v) => {
            let entries: Vec<LoadEntry> = v.iter().collect();
            let mut p = [0u8; MAX_LOAD_FRAME];
            let plen = encode_load(&entries, v.is_reply(), &mut p).unwrap();
            encode_frame(h.mtype, h.seq, h.src, h.dst, &p[..plen], &mut re)
        }
        Message::Ping(t) | Message::Pong(t) => {
            encode_frame(h.mtype, h.seq, h.src, h.dst, &encode_token(t), &mut re)
        }
        Message::Bye(r) => encode_frame(h.mtype, h.seq, h.src, h.dst, &encode_bye(r), &mut re),
    }
    .unwrap();
    assert_eq!(&re[..n], &data[..end]);
});
