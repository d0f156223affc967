// SPDX-License-Identifier: GPL-2.0
//! The key schedule of the link handshake: TLS 1.3's (RFC 8446 §7.1) in its pre-shared-key-only
//! mode (`psk_ke`: no (EC)DHE), with HKDF (RFC 5869) over HMAC-SHA256.
//!
//! Pure `core` Rust: HMAC-SHA256 and SHA-256 come from the caller through [`Prf`] (in the module,
//! the kernel crypto API's `hmac(sha256)` and the crypto library's `sha256()`; in the host tests,
//! the `hmac` and `sha2` crates). Nothing cryptographic is implemented here, only the composition
//! TLS 1.3 specifies, with one change: labels start with `"oxm13 "` instead of `"tls13 "`, so no
//! key of this protocol can ever equal a TLS key made from the same secret.
//!
//! The exchange (Documentation/protocol.md, "Handshake"), initiator I and responder R:
//!
//! ```text
//! I -> R  Hello1  {node, flags, map generation, incarnation, key id, nonce_i, mac = 0}
//! R -> I  Hello2  {node, flags, map generation, incarnation, key id, nonce_r, mac = fin_r}
//! I -> R  Finished {fin_i}
//! th2 = SHA-256(Hello1 frame || Hello2 frame without its mac)
//! th3 = SHA-256(Hello1 frame || Hello2 frame)
//! early  = HKDF-Extract(0^32, PSK)          hs = HKDF-Extract(Derive-Secret(early, "derived", ""), 0^32)
//! r_hs   = Derive-Secret(hs, "s hs traffic", th2)   i_hs = Derive-Secret(hs, "c hs traffic", th2)
//! fin_r  = HMAC(Expand-Label(r_hs, "finished", "", 32), th2)
//! fin_i  = HMAC(Expand-Label(i_hs, "finished", "", 32), th3)
//! master = HKDF-Extract(Derive-Secret(hs, "derived", ""), 0^32)
//! key_i2r = Expand-Label(Derive-Secret(master, "c ap traffic", th3), "key", "", 32)
//! key_r2i = Expand-Label(Derive-Secret(master, "s ap traffic", th3), "key", "", 32)
//! ```
//!
//! Both nonces are fresh (32 random bytes per side and connection), so a recorded handshake
//! replays to nothing: a replayed Hello1 meets a new nonce_r and cannot produce fin_i, a replayed
//! Hello2 carries a fin_r over another nonce_i. Each frame afterwards is sealed with its
//! direction's key and its sequence number as the AEAD nonce.

/// Size of a cluster key, of every secret and traffic key, bytes.
pub const KEY_LEN: usize = 32;
/// Size of a handshake nonce, bytes.
pub const NONCE_LEN: usize = 32;
/// Size of a key id, bytes: the first bytes of `HMAC(PSK, "oxmosix key id")`.
pub const KEY_ID_LEN: usize = 8;
/// Size of a Finished MAC (HMAC-SHA256), bytes.
pub const MAC_LEN: usize = 32;
/// Prefix of every HKDF label (TLS 1.3 uses `"tls13 "`).
pub const LABEL_PREFIX: &[u8] = b"oxm13 ";

/// The crypto library failed (allocation, or an algorithm missing from the kernel).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CryptoError;

/// HMAC-SHA256 and SHA-256 as the caller's crypto library provides them.
pub trait Prf {
    /// HMAC-SHA256 under `key` of the concatenation of `data`.
    fn hmac(&mut self, key: &[u8], data: &[&[u8]]) -> Result<[u8; 32], CryptoError>;
    /// SHA-256 of the concatenation of `data`.
    fn hash(&mut self, data: &[&[u8]]) -> Result<[u8; 32], CryptoError>;
}

/// HKDF-Extract (RFC 5869 §2.2): `HMAC(salt, ikm)`.
pub fn extract<P: Prf>(p: &mut P, salt: &[u8], ikm: &[u8]) -> Result<[u8; 32], CryptoError> {
    p.hmac(salt, &[ikm])
}

/// HKDF-Expand (RFC 5869 §2.3) of `prk` with `info` into `out` (at most 255 * 32 bytes).
pub fn expand<P: Prf>(
    p: &mut P,
    prk: &[u8],
    info: &[u8],
    out: &mut [u8],
) -> Result<(), CryptoError> {
    if out.len() > 255 * 32 {
        return Err(CryptoError);
    }
    let mut t = [0u8; 32];
    let mut tlen = 0;
    for (i, chunk) in out.chunks_mut(32).enumerate() {
        t = p.hmac(prk, &[&t[..tlen], info, &[(i + 1) as u8]])?;
        tlen = 32;
        super::copy(chunk, &t);
    }
    wipe(&mut t);
    Ok(())
}

/// HKDF-Expand-Label (RFC 8446 §7.1) to 32 bytes, with [`LABEL_PREFIX`]. `label` is at most
/// 249 bytes and `context` at most 255 (longer ones are an error).
pub fn expand_label<P: Prf>(
    p: &mut P,
    secret: &[u8; 32],
    label: &[u8],
    context: &[u8],
) -> Result<[u8; 32], CryptoError> {
    let full = LABEL_PREFIX.len() + label.len();
    if full > 255 || context.len() > 255 {
        return Err(CryptoError);
    }
    // struct { uint16 length; opaque label<7..255>; opaque context<0..255>; } HkdfLabel;
    let mut info = [0u8; 2 + 1 + 255 + 1 + 255];
    info[0] = 0;
    info[1] = 32;
    info[2] = full as u8;
    super::copy(&mut info[3..3 + LABEL_PREFIX.len()], LABEL_PREFIX);
    super::copy(&mut info[3 + LABEL_PREFIX.len()..3 + full], label);
    info[3 + full] = context.len() as u8;
    super::copy(&mut info[4 + full..4 + full + context.len()], context);
    let mut out = [0u8; 32];
    expand(p, secret, &info[..4 + full + context.len()], &mut out)?;
    Ok(out)
}

/// Derive-Secret (RFC 8446 §7.1) given the transcript hash `th` of the messages.
pub fn derive_secret<P: Prf>(
    p: &mut P,
    secret: &[u8; 32],
    label: &[u8],
    th: &[u8; 32],
) -> Result<[u8; 32], CryptoError> {
    expand_label(p, secret, label, th)
}

/// The id of cluster key `psk`: what a Hello names so that the other side picks the same key
/// (two are accepted while keys are rotated). Reveals nothing about the key.
pub fn key_id<P: Prf>(p: &mut P, psk: &[u8; KEY_LEN]) -> Result<[u8; KEY_ID_LEN], CryptoError> {
    let m = p.hmac(psk, &[b"oxmosix key id"])?;
    let mut id = [0u8; KEY_ID_LEN];
    super::copy(&mut id, &m);
    Ok(id)
}

/// Traffic keys of an established link, one per direction (ChaCha20-Poly1305 keys).
pub struct TrafficKeys {
    /// Seals frames from the initiator to the responder.
    pub i2r: [u8; KEY_LEN],
    /// Seals frames from the responder to the initiator.
    pub r2i: [u8; KEY_LEN],
}

impl Drop for TrafficKeys {
    fn drop(&mut self) {
        wipe(&mut self.i2r);
        wipe(&mut self.r2i);
    }
}

/// The handshake secrets of one connection, from the cluster key and `th2`.
pub struct Schedule {
    hs: [u8; 32],
    i_hs: [u8; 32],
    r_hs: [u8; 32],
}

impl Drop for Schedule {
    fn drop(&mut self) {
        wipe(&mut self.hs);
        wipe(&mut self.i_hs);
        wipe(&mut self.r_hs);
    }
}

impl Schedule {
    /// The handshake secrets from cluster key `psk` and transcript hash `th2`.
    pub fn new<P: Prf>(
        p: &mut P,
        psk: &[u8; KEY_LEN],
        th2: &[u8; 32],
    ) -> Result<Self, CryptoError> {
        let mut early = extract(p, &[0u8; 32], psk)?;
        let empty = p.hash(&[])?;
        let mut d = derive_secret(p, &early, b"derived", &empty)?;
        let hs = extract(p, &d, &[0u8; 32])?;
        wipe(&mut early);
        wipe(&mut d);
        let r_hs = derive_secret(p, &hs, b"s hs traffic", th2)?;
        let i_hs = derive_secret(p, &hs, b"c hs traffic", th2)?;
        Ok(Schedule { hs, i_hs, r_hs })
    }

    /// The responder's Finished MAC (in Hello2), over `th2`.
    pub fn responder_finished<P: Prf>(
        &self,
        p: &mut P,
        th2: &[u8; 32],
    ) -> Result<[u8; MAC_LEN], CryptoError> {
        let mut k = expand_label(p, &self.r_hs, b"finished", &[])?;
        let m = p.hmac(&k, &[th2]);
        wipe(&mut k);
        m
    }

    /// The initiator's Finished MAC, over `th3`.
    pub fn initiator_finished<P: Prf>(
        &self,
        p: &mut P,
        th3: &[u8; 32],
    ) -> Result<[u8; MAC_LEN], CryptoError> {
        let mut k = expand_label(p, &self.i_hs, b"finished", &[])?;
        let m = p.hmac(&k, &[th3]);
        wipe(&mut k);
        m
    }

    /// The traffic keys, over `th3`.
    pub fn traffic<P: Prf>(&self, p: &mut P, th3: &[u8; 32]) -> Result<TrafficKeys, CryptoError> {
        let empty = p.hash(&[])?;
        let mut d = derive_secret(p, &self.hs, b"derived", &empty)?;
        let mut master = extract(p, &d, &[0u8; 32])?;
        let mut c_ap = derive_secret(p, &master, b"c ap traffic", th3)?;
        let mut s_ap = derive_secret(p, &master, b"s ap traffic", th3)?;
        let keys = TrafficKeys {
            i2r: expand_label(p, &c_ap, b"key", &[])?,
            r2i: expand_label(p, &s_ap, b"key", &[])?,
        };
        wipe(&mut d);
        wipe(&mut master);
        wipe(&mut c_ap);
        wipe(&mut s_ap);
        Ok(keys)
    }
}

/// Compares two byte strings of equal length in time independent of where they differ
/// (different lengths: not equal).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    let mut d = u8::from(a.len() != b.len());
    for (x, y) in a.iter().zip(b) {
        d |= x ^ y;
    }
    core::hint::black_box(d) == 0
}

/// Compares two MACs in constant time ([`ct_eq`]).
pub fn mac_eq(a: &[u8; MAC_LEN], b: &[u8; MAC_LEN]) -> bool {
    ct_eq(a, b)
}

/// Overwrites a secret with zeros (kept by [`core::hint::black_box`] from being optimised out).
pub fn wipe(b: &mut [u8]) {
    for x in b.iter_mut() {
        *x = 0;
    }
    core::hint::black_box(b);
}
