//! Fuzz target: the frame decoder as the transport drives it (header, then exactly `len` payload
//! bytes, then the message). It must never panic, never read past the buffer, and whatever it
//! accepts must re-encode to the same bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use oxmosix_host_tests::proto::*;

fuzz_target!(|data: &[u8]| {
    let Ok(h) = Header::decode(data) else { return };
    assert!(h.len as usize <= MAX_PAYLOAD);
    // Bytes TAG_AT..HEADER_LEN are the link's authentication tag: opaque to the decoder.
    assert_eq!(&h.encode()[..TAG_AT], &data[..TAG_AT]);
    let end = HEADER_LEN + h.len as usize;
    if data.len() < end {
        return;
    }
    let payload = &data[HEADER_LEN..end];
    let Ok(msg) = Message::decode(&h, payload) else {
        return;
    };
    let mut re = vec![0u8; MAX_FRAME];
    let enc = |p: &[u8], re: &mut [u8]| encode_frame(h.mtype, h.seq, h.src, h.dst, p, re);
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
        Message::MigOffer(o) => enc(&o.encode(), &mut re),
        Message::MigAnswer(a) => enc(&a.encode(), &mut re),
        Message::MigVma(v) => enc(&v.encode(), &mut re),
        Message::MigEnd(e) => enc(&e.encode(), &mut re),
        Message::MigCtl(c) => enc(&c.encode(), &mut re),
        Message::MigSignal(m) => enc(&m.encode(), &mut re),
        Message::MigStatus(s) => enc(&s.encode(), &mut re),
        Message::MigState(b) => {
            let (st, xs) = mig::State::decode(b).unwrap();
            let mut p = vec![0u8; mig::STATE_FIXED_LEN + xs.len()];
            let plen = st.encode(xs, &mut p).unwrap();
            enc(&p[..plen], &mut re)
        }
        Message::MigPages(m) => {
            let mut p = vec![0u8; mig::PAGES_HDR_LEN];
            mig::MsgPages::encode_header(m.token, m.addr, m.data.len() / mig::PAGE, &mut p);
            p.extend_from_slice(m.data);
            enc(&p, &mut re)
        }
        Message::Syscall(c) => {
            let mut p = vec![0u8; mig::SYSCALL_HDR_LEN];
            mig::Syscall::encode_header(c.token, c.nr, &c.args, &mut p);
            p.extend_from_slice(c.data);
            enc(&p, &mut re)
        }
        Message::SysReply(r) => {
            let mut p = vec![0u8; mig::SYSREPLY_HDR_LEN];
            mig::SysReply::encode_header(r.token, r.result, &mut p);
            p.extend_from_slice(r.data);
            enc(&p, &mut re)
        }
        Message::Bench(b) => {
            let mut p = payload.to_vec();
            b.encode_header(&mut p);
            enc(&p, &mut re)
        }
        Message::MigFile(f) => {
            let mut hdr = [0u8; files::FILE_HDR_LEN];
            f.encode_header(&mut hdr);
            let mut p = hdr.to_vec();
            p.extend_from_slice(f.path);
            enc(&p, &mut re)
        }
        Message::SysData(d) => {
            let mut p = vec![0u8; readahead::SYSDATA_HDR_LEN];
            readahead::SysData::encode_header(d.token, &mut p);
            p.extend_from_slice(d.data);
            enc(&p, &mut re)
        }
        Message::Finished(m) => enc(&m, &mut re),
        Message::Ack => enc(&[], &mut re),
    }
    .unwrap();
    assert_eq!(n, end);
    // The header round-trips (encode_frame writes delivery and ack 0: compare what it wrote).
    assert_eq!(&h.encode()[..TAG_AT], &data[..TAG_AT]);
    assert_eq!(&re[..32], &data[..32]);
    assert_eq!(&re[HEADER_LEN..n], &data[HEADER_LEN..end]);
});
