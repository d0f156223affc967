//! The pure protocol's crypto traits implemented with the RustCrypto crates (host only).

use crate::proto::handshake::{CryptoError, Prf, KEY_LEN};
use crate::proto::session::Aead;
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Nonce, Tag};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// HMAC-SHA256 and SHA-256 (`hmac`, `sha2`).
pub struct Crates;

impl Prf for Crates {
    fn hmac(&mut self, key: &[u8], data: &[&[u8]]) -> Result<[u8; 32], CryptoError> {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).map_err(|_| CryptoError)?;
        for d in data {
            m.update(d);
        }
        Ok(m.finalize().into_bytes().into())
    }
    fn hash(&mut self, data: &[&[u8]]) -> Result<[u8; 32], CryptoError> {
        let mut h = Sha256::new();
        for d in data {
            h.update(d);
        }
        Ok(h.finalize().into())
    }
}

/// The 96-bit nonce the kernel's 64-bit-nonce ChaCha20-Poly1305 uses: 4 zero bytes, then the
/// nonce little-endian (lib/crypto/chacha20poly1305.c, as in WireGuard).
fn nonce96(n: u64) -> Nonce {
    let mut b = [0u8; 12];
    b[4..].copy_from_slice(&n.to_le_bytes());
    Nonce::from(b)
}

impl Aead for Crates {
    fn seal(
        &mut self,
        key: &[u8; KEY_LEN],
        nonce: u64,
        ad: &[u8],
        buf: &mut [u8],
        len: usize,
    ) -> Result<(), CryptoError> {
        if buf.len() < len + 16 {
            return Err(CryptoError);
        }
        let c = ChaCha20Poly1305::new(key.into());
        let tag = c
            .encrypt_in_place_detached(&nonce96(nonce), ad, &mut buf[..len])
            .map_err(|_| CryptoError)?;
        buf[len..len + 16].copy_from_slice(&tag);
        Ok(())
    }

    fn open(
        &mut self,
        key: &[u8; KEY_LEN],
        nonce: u64,
        ad: &[u8],
        buf: &mut [u8],
        len: usize,
    ) -> bool {
        if buf.len() < len + 16 {
            return false;
        }
        let c = ChaCha20Poly1305::new(key.into());
        let tag = Tag::clone_from_slice(&buf[len..len + 16]);
        c.decrypt_in_place_detached(&nonce96(nonce), ad, &mut buf[..len], &tag)
            .is_ok()
    }
}
