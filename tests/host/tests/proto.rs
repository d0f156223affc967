//! Property tests of the wire protocol: every message round-trips; the decoder rejects every
//! corruption of a valid frame that breaks a rule, and never panics on arbitrary bytes.
use oxmosix_host_tests::proto::*;
use proptest::prelude::*;

fn node() -> impl Strategy<Value = u32> {
    1..=MAX_NODE_ID
}

prop_compose! {
    fn load_entry()(node in node(), flags in 0..=flags::ALL, stamp in any::<u64>(),
                    age_ms in 0..=MAX_AGE_MS, load in 0..=MAX_LOAD, speed in 1..=MAX_SPEED,
                    cpus in 1..=MAX_CPUS, util in 0..=MAX_UTIL, tmem_kib in any::<u64>(),
                    frac in 0.0f64..=1.0, frac2 in 0.0f64..=1.0, incarnation in any::<u64>()) -> LoadEntry {
        LoadEntry { node, flags, stamp, age_ms, load, speed, cpus, util, tmem_kib,
                    fmem_kib: ((tmem_kib as f64) * frac) as u64 % tmem_kib.saturating_add(1),
                    amem_kib: ((tmem_kib as f64) * frac2) as u64 % tmem_kib.saturating_add(1),
                    incarnation }
    }
}

fn distinct_entries() -> impl Strategy<Value = Vec<LoadEntry>> {
    proptest::collection::vec(load_entry(), 1..=MAX_LOAD_ENTRIES).prop_map(|mut v| {
        v.sort_by_key(|e| e.node);
        v.dedup_by_key(|e| e.node);
        v
    })
}

/// Decodes a whole frame the way the transport does: header first, then exactly `len` bytes.
fn decode_frame(buf: &[u8]) -> Result<(Header, Message<'_>), ProtoError> {
    let h = Header::decode(buf)?;
    let end = HEADER_LEN + h.len as usize;
    if buf.len() < end {
        return Err(ProtoError::Truncated);
    }
    Ok((h, Message::decode(&h, &buf[HEADER_LEN..end])?))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn hello_round_trips(src in node(), dst in node(), seq in any::<u64>(), gen in any::<u64>(), inc in any::<u64>()) {
        let m = Hello { node: src, features: 0, map_generation: gen, incarnation: inc, key_id: [7; 8], nonce: [inc as u8; 32], mac: [gen as u8; 32] };
        let mut buf = [0u8; 256];
        let n = encode_frame(MsgType::Hello, seq, src, dst, &m.encode(), &mut buf).unwrap();
        let (h, msg) = decode_frame(&buf[..n]).unwrap();
        prop_assert_eq!(h, Header { mtype: MsgType::Hello, len: HELLO_LEN as u32, seq, src, dst, delivery: 0, ack: 0 });
        match msg { Message::Hello(d) => prop_assert_eq!(d, m), other => prop_assert!(false, "{:?}", other) }
    }

    #[test]
    fn load_round_trips(src in node(), dst in node(), seq in any::<u64>(), entries in distinct_entries(), reply in any::<bool>()) {
        let mut payload = [0u8; MAX_LOAD_FRAME];
        let plen = encode_load(&entries, reply, &mut payload).unwrap();
        let mut buf = [0u8; MAX_LOAD_FRAME];
        let n = encode_frame(MsgType::Load, seq, src, dst, &payload[..plen], &mut buf).unwrap();
        prop_assert_eq!(n, HEADER_LEN + LOAD_HDR_LEN + entries.len() * LOAD_ENTRY_LEN);
        let (h, msg) = decode_frame(&buf[..n]).unwrap();
        prop_assert_eq!(h.mtype, MsgType::Load);
        match msg {
            Message::Load(v) => {
                prop_assert_eq!(v.is_reply(), reply);
                prop_assert_eq!(v.iter().collect::<Vec<_>>(), entries)
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn ping_pong_bye_round_trip(src in node(), dst in node(), seq in any::<u64>(), token in any::<u64>(), reason in any::<u32>()) {
        let mut buf = [0u8; 128];
        for (t, p) in [(MsgType::Ping, &encode_token(token)[..]), (MsgType::Pong, &encode_token(token)[..]), (MsgType::Bye, &encode_bye(reason)[..])] {
            let n = encode_frame(t, seq, src, dst, p, &mut buf).unwrap();
            let (h, msg) = decode_frame(&buf[..n]).unwrap();
            prop_assert_eq!(h.mtype, t);
            match (t, msg) {
                (MsgType::Ping, Message::Ping(x)) | (MsgType::Pong, Message::Pong(x)) => prop_assert_eq!(x, token),
                (MsgType::Bye, Message::Bye(r)) => prop_assert_eq!(r, reason),
                other => prop_assert!(false, "{:?}", other),
            }
        }
    }

    /// Arbitrary bytes never panic the decoder, and whatever it accepts re-encodes to itself.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        if let Ok((h, msg)) = decode_frame(&bytes) {
            prop_assert_eq!(&h.encode()[..TAG_AT], &bytes[..TAG_AT]);
            prop_assert_eq!(msg.mtype(), h.mtype);
        }
    }

    /// Flipping any header byte of a valid frame either yields an error or a header that differs
    /// only in seq/src/dst/len-consistent fields; it never passes a corrupted magic, version or
    /// reserved field (the tag, bytes 32..48, is the link AEAD's to check).
    #[test]
    fn corrupted_header_fields_are_rejected(pos in 0usize..HEADER_LEN, x in 1u8..=255, token in any::<u64>()) {
        let mut buf = [0u8; 128];
        let n = encode_frame(MsgType::Ping, 7, 1, 2, &encode_token(token), &mut buf).unwrap();
        buf[pos] ^= x;
        let r = decode_frame(&buf[..n]);
        match pos {
            // The type byte may turn a Ping into a Pong (same payload size); nothing else passes.
            5 => { if let Ok((h, _)) = r { prop_assert_eq!(h.mtype, MsgType::Pong) } }
            0..=15 => prop_assert!(r.is_err(), "byte {} corrupted but accepted", pos),
            24..=31 => { if let Ok((h, _)) = r { prop_assert!(h.src >= 1 && h.dst >= 1 && h.src <= MAX_NODE_ID && h.dst <= MAX_NODE_ID) } }
            _ => {}
        }
    }
}

#[test]
fn rejects_each_rule() {
    let mut buf = [0u8; 256];
    let n = encode_frame(MsgType::Ping, 0, 1, 2, &encode_token(5), &mut buf).unwrap();
    assert!(decode_frame(&buf[..n]).is_ok());
    let mutate = |f: &dyn Fn(&mut [u8])| {
        let mut b = buf;
        f(&mut b);
        decode_frame(&b[..n]).unwrap_err()
    };
    assert_eq!(mutate(&|b| b[0] = 0), ProtoError::BadMagic);
    assert_eq!(mutate(&|b| b[4] = 1), ProtoError::BadVersion(1));
    assert_eq!(mutate(&|b| b[5] = 0), ProtoError::BadType(0));
    assert_eq!(mutate(&|b| b[5] = 99), ProtoError::BadType(99));
    assert_eq!(mutate(&|b| b[7] = 1), ProtoError::Reserved);
    assert_eq!(mutate(&|b| b[12] = 1), ProtoError::Reserved);
    // Bytes 32..48 are the authentication tag, which the link's AEAD checks, not the decoder.
    let mut tagged = buf;
    tagged[40] = 1;
    assert!(decode_frame(&tagged[..n]).is_ok());
    assert_eq!(mutate(&|b| b[11] = 9), ProtoError::BadLength(9));
    assert_eq!(mutate(&|b| b[8] = 0xff), ProtoError::BadLength(0xff00_0008));
    assert_eq!(
        mutate(&|b| b[24..28].copy_from_slice(&0u32.to_be_bytes())),
        ProtoError::BadNode(0)
    );
    assert_eq!(
        mutate(&|b| b[28..32].copy_from_slice(&70000u32.to_be_bytes())),
        ProtoError::BadNode(70000)
    );
    assert_eq!(
        decode_frame(&buf[..HEADER_LEN - 1]).unwrap_err(),
        ProtoError::Truncated
    );
    assert_eq!(
        decode_frame(&buf[..n - 1]).unwrap_err(),
        ProtoError::Truncated
    );
    // Hello whose node differs from the header's source.
    let hello = Hello {
        node: 3,
        features: 0,
        map_generation: 1,
        incarnation: 2,
        key_id: [0; 8],
        nonce: [0; 32],
        mac: [0; 32],
    };
    let n = encode_frame(MsgType::Hello, 0, 4, 2, &hello.encode(), &mut buf).unwrap();
    assert_eq!(
        decode_frame(&buf[..n]).unwrap_err(),
        ProtoError::BadField("hello.node")
    );
}

#[test]
fn load_payload_rules() {
    let e = LoadEntry {
        node: 1,
        speed: 10000,
        cpus: 1,
        tmem_kib: 100,
        fmem_kib: 50,
        ..Default::default()
    };
    let mut p = [0u8; 1024];
    let n = encode_load(&[e, LoadEntry { node: 2, ..e }], false, &mut p).unwrap();
    assert!(LoadView::decode(&p[..n]).is_ok());
    let bad = |f: &dyn Fn(&mut [u8]), why: ProtoError| {
        let mut b = p;
        f(&mut b);
        assert_eq!(LoadView::decode(&b[..n]).unwrap_err(), why);
    };
    bad(&|b| b[1] = 3, ProtoError::BadLength(n as u32));
    bad(&|b| b[1] = 0, ProtoError::BadField("load.count"));
    bad(&|b| b[3] = 2, ProtoError::Reserved);
    let mut r = p;
    r[3] = 1;
    assert!(LoadView::decode(&r[..n]).unwrap().is_reply());
    bad(
        &|b| b[4 + 64..4 + 68].copy_from_slice(&1u32.to_be_bytes()),
        ProtoError::BadField("load.duplicate"),
    );
    bad(&|b| b[4 + 7] = 0x80, ProtoError::BadField("load.flags"));
    bad(
        &|b| b[4 + 24..4 + 28].copy_from_slice(&0u32.to_be_bytes()),
        ProtoError::BadField("load.speed"),
    );
    bad(
        &|b| b[4 + 28..4 + 30].copy_from_slice(&0u16.to_be_bytes()),
        ProtoError::BadField("load.cpus"),
    );
    bad(
        &|b| b[4 + 30..4 + 32].copy_from_slice(&10001u16.to_be_bytes()),
        ProtoError::BadField("load.util"),
    );
    bad(
        &|b| b[4 + 40..4 + 48].copy_from_slice(&101u64.to_be_bytes()),
        ProtoError::BadField("load.fmem_kib"),
    );
    bad(
        &|b| b[4 + 48..4 + 56].copy_from_slice(&101u64.to_be_bytes()),
        ProtoError::BadField("load.amem_kib"),
    );
    assert!(encode_load(&[], false, &mut p).is_err());
    assert!(encode_load(&[e; MAX_LOAD_ENTRIES + 1], false, &mut [0u8; 8192]).is_err());
}
