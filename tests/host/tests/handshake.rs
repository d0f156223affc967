//! The link handshake's key schedule (src/proto/handshake.rs) against the RFC 5869 HKDF test
//! vectors and the properties the protocol relies on, with HMAC-SHA256 and SHA-256 from the
//! RustCrypto `hmac` and `sha2` crates (`tests/host/src/hostcrypto.rs`; the module uses the kernel's).

use hex_literal::hex;
use oxmosix_host_tests::hostcrypto::Crates;
use oxmosix_host_tests::proto::handshake::*;

#[test]
fn hkdf_rfc5869_case_1() {
    let ikm = [0x0bu8; 22];
    let salt = hex!("000102030405060708090a0b0c");
    let info = hex!("f0f1f2f3f4f5f6f7f8f9");
    let prk = extract(&mut Crates, &salt, &ikm).unwrap();
    assert_eq!(
        prk,
        hex!("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5")
    );
    let mut okm = [0u8; 42];
    expand(&mut Crates, &prk, &info, &mut okm).unwrap();
    assert_eq!(
        okm,
        hex!(
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        )
    );
}

#[test]
fn hkdf_rfc5869_case_3_no_salt_no_info() {
    let ikm = [0x0bu8; 22];
    let prk = extract(&mut Crates, &[], &ikm).unwrap();
    assert_eq!(
        prk,
        hex!("19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04")
    );
    let mut okm = [0u8; 42];
    expand(&mut Crates, &prk, &[], &mut okm).unwrap();
    assert_eq!(
        okm,
        hex!(
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
        )
    );
}

#[test]
fn expand_label_builds_the_tls13_hkdf_label() {
    // HkdfLabel = 00 20 | len("oxm13 key") "oxm13 key" | 00: compare with a hand-built info.
    let secret = [9u8; 32];
    let mut info = vec![0x00, 0x20, 9];
    info.extend_from_slice(b"oxm13 key");
    info.push(0);
    let mut want = [0u8; 32];
    expand(&mut Crates, &secret, &info, &mut want).unwrap();
    assert_eq!(
        expand_label(&mut Crates, &secret, b"key", &[]).unwrap(),
        want
    );
    assert!(expand_label(&mut Crates, &secret, &[b'x'; 250], &[]).is_err());
    assert!(expand(&mut Crates, &secret, &[], &mut vec![0u8; 255 * 32 + 1]).is_err());
}

/// Runs the schedule as both sides would and returns (fin_r, fin_i, keys).
fn run(psk: &[u8; 32], th2: &[u8; 32], th3: &[u8; 32]) -> ([u8; 32], [u8; 32], TrafficKeys) {
    let s = Schedule::new(&mut Crates, psk, th2).unwrap();
    let fr = s.responder_finished(&mut Crates, th2).unwrap();
    let fi = s.initiator_finished(&mut Crates, th3).unwrap();
    let k = s.traffic(&mut Crates, th3).unwrap();
    (fr, fi, k)
}

#[test]
fn both_sides_agree_and_every_input_matters() {
    let psk = [1u8; 32];
    let (th2, th3) = ([2u8; 32], [3u8; 32]);
    let (fr, fi, k) = run(&psk, &th2, &th3);
    let (fr2, fi2, k2) = run(&psk, &th2, &th3);
    assert!(mac_eq(&fr, &fr2) && mac_eq(&fi, &fi2));
    assert_eq!((k.i2r, k.r2i), (k2.i2r, k2.r2i));
    // Directions, roles and secrets are all distinct.
    let all = [fr, fi, k.i2r, k.r2i];
    for i in 0..all.len() {
        for j in i + 1..all.len() {
            assert_ne!(all[i], all[j]);
        }
    }
    // Another key, another nonce (th2) or a changed Hello2 (th3) changes what depends on it.
    let (fr_k, fi_k, k_k) = run(&[4u8; 32], &th2, &th3);
    assert!(fr_k != fr && fi_k != fi && k_k.i2r != k.i2r);
    // (th3 hashes both Hellos, so in the protocol a new nonce changes th3 and the keys too.)
    let (fr_n, fi_n, _) = run(&psk, &[5u8; 32], &th3);
    assert!(fr_n != fr && fi_n != fi);
    let (fr_t, fi_t, k_t) = run(&psk, &th2, &[6u8; 32]);
    assert!(fr_t == fr && fi_t != fi && k_t.r2i != k.r2i);
}

#[test]
fn key_ids_name_keys() {
    let a = key_id(&mut Crates, &[1u8; 32]).unwrap();
    assert_eq!(a, key_id(&mut Crates, &[1u8; 32]).unwrap());
    assert_ne!(a, key_id(&mut Crates, &[2u8; 32]).unwrap());
}

#[test]
fn mac_eq_compares() {
    let a = [7u8; 32];
    let mut b = a;
    assert!(mac_eq(&a, &b));
    b[31] ^= 1;
    assert!(!mac_eq(&a, &b));
}
