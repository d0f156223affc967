// SPDX-License-Identifier: GPL-2.0
//! Cryptography for the node links, all from the kernel: HMAC-SHA256 through the crypto API
//! (`hmac(sha256)` shash), SHA-256 and ChaCha20-Poly1305 (RFC 8439, 64-bit nonce, the AEAD
//! WireGuard uses, with the x86 SSSE3/AVX2 code when the CPU has it) from the kernel crypto
//! library, and random bytes from the CRNG. Nothing cryptographic is implemented here.
//!
//! C header: `include/crypto/hash.h`, `include/crypto/sha2.h`, `include/crypto/chacha20poly1305.h`,
//! `include/linux/random.h`. The bindings come from `patches/0009-rust-bindings-crypto-headers.patch`.

use kernel::bindings;
use kernel::c_str;
use kernel::error::from_err_ptr;
use kernel::prelude::*;

use crate::proto::handshake::{CryptoError, Prf};
use crate::proto::session::Aead;

/// Size of a ChaCha20-Poly1305 key, bytes.
pub(crate) const AEAD_KEY_LEN: usize = 32;
/// Size of a ChaCha20-Poly1305 tag, bytes.
pub(crate) const AEAD_TAG_LEN: usize = 16;
/// Largest concatenated input of one [`Kdf::hmac`] or [`Kdf::hash`] call, bytes (handshake
/// transcripts and HKDF labels are far smaller).
const MAX_PRF_INPUT: usize = 640;

/// HMAC-SHA256 (crypto API) and SHA-256 (crypto library) for the handshake's key schedule.
///
/// # Invariants
///
/// `tfm` is a live `hmac(sha256)` transform from `crypto_alloc_shash`, owned by this value and
/// freed on drop. It is used by one thread at a time (`&mut self`), since `setkey` changes it.
pub(crate) struct Kdf {
    tfm: *mut bindings::crypto_shash,
}

impl Kdf {
    /// Allocates the transform. May sleep. Errors: `ENOENT` if the kernel lacks `hmac(sha256)`,
    /// `ENOMEM`.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: the name is a NUL-terminated string; type and mask 0 ask for any
        // implementation. The call may sleep, which `new`'s callers allow.
        let tfm = from_err_ptr(unsafe {
            bindings::crypto_alloc_shash(c_str!("hmac(sha256)").as_char_ptr(), 0, 0)
        })?;
        // INVARIANT: a valid transform, owned from here on.
        Ok(Kdf { tfm })
    }

    /// Concatenates `data` into `buf`; errors if it does not fit.
    fn gather<'b>(
        buf: &'b mut [u8; MAX_PRF_INPUT],
        data: &[&[u8]],
    ) -> Result<&'b [u8], CryptoError> {
        let mut n = 0;
        for d in data {
            let end = n + d.len();
            if end > buf.len() {
                return Err(CryptoError);
            }
            for (dst, src) in buf[n..end].iter_mut().zip(d.iter()) {
                *dst = *src;
            }
            n = end;
        }
        Ok(&buf[..n])
    }
}

impl Prf for Kdf {
    fn hmac(&mut self, key: &[u8], data: &[&[u8]]) -> Result<[u8; 32], CryptoError> {
        let mut buf = [0u8; MAX_PRF_INPUT];
        let mut out = [0u8; 32];
        let input = Self::gather(&mut buf, data)?;
        // SAFETY: `tfm` is valid (invariant) and used only by us (`&mut self`); `key` is a
        // readable slice of the given length.
        let r = unsafe { bindings::crypto_shash_setkey(self.tfm, key.as_ptr(), key.len() as u32) };
        if r != 0 {
            return Err(CryptoError);
        }
        // SAFETY: as above; `input` is readable, `out` has room for the 32-byte digest.
        let r = unsafe {
            bindings::crypto_shash_tfm_digest(
                self.tfm,
                input.as_ptr(),
                input.len() as u32,
                out.as_mut_ptr(),
            )
        };
        crate::proto::handshake::wipe(&mut buf);
        if r != 0 {
            return Err(CryptoError);
        }
        Ok(out)
    }

    fn hash(&mut self, data: &[&[u8]]) -> Result<[u8; 32], CryptoError> {
        let mut buf = [0u8; MAX_PRF_INPUT];
        let mut out = [0u8; 32];
        let input = Self::gather(&mut buf, data)?;
        // SAFETY: `input` is readable for its length and `out` has room for a SHA-256 digest;
        // sha256() has no other requirement.
        unsafe { bindings::sha256(input.as_ptr(), input.len() as u32, out.as_mut_ptr()) };
        Ok(out)
    }
}

impl Drop for Kdf {
    fn drop(&mut self) {
        // SAFETY: `tfm` is valid and owned (invariant); this is crypto_free_shash(), whose body
        // is crypto_destroy_tfm(tfm, &tfm->base).
        unsafe {
            bindings::crypto_destroy_tfm(self.tfm.cast(), core::ptr::addr_of_mut!((*self.tfm).base))
        };
    }
}

// SAFETY: the transform may be used from any sleepable thread; `&mut self` serialises its use.
unsafe impl Send for Kdf {}

/// SHA-256 of `data` (crypto library; any length up to 4 GiB - 1).
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
    // SAFETY: `data` is readable for `len` bytes (at most its length) and `out` has room for a
    // SHA-256 digest.
    unsafe { bindings::sha256(data.as_ptr(), len, out.as_mut_ptr()) };
    out
}

/// Fills `buf` with random bytes from the kernel's CRNG.
pub(crate) fn random_bytes(buf: &mut [u8]) {
    // SAFETY: `buf` is writable for its length; get_random_bytes may be called from any context.
    unsafe { bindings::get_random_bytes(buf.as_mut_ptr().cast(), buf.len()) };
}

/// The kernel crypto library's ChaCha20-Poly1305 (64-bit nonce) as the link's [`Aead`]: both
/// operations work in place, the tag right after the text, as the library lays it out.
pub(crate) struct LibAead;

impl Aead for LibAead {
    fn seal(
        &mut self,
        key: &[u8; AEAD_KEY_LEN],
        nonce: u64,
        ad: &[u8],
        buf: &mut [u8],
        len: usize,
    ) -> Result<(), CryptoError> {
        if buf.len() < len + AEAD_TAG_LEN {
            return Err(CryptoError);
        }
        let p = buf.as_mut_ptr();
        // SAFETY: `buf` holds `len` bytes of plaintext plus room for the tag; the library allows
        // `dst == src` (it reads each block before writing it); `ad` and `key` are readable.
        unsafe {
            bindings::chacha20poly1305_encrypt(
                p,
                p,
                len,
                ad.as_ptr(),
                ad.len(),
                nonce,
                key.as_ptr(),
            )
        };
        Ok(())
    }

    fn open(
        &mut self,
        key: &[u8; AEAD_KEY_LEN],
        nonce: u64,
        ad: &[u8],
        buf: &mut [u8],
        len: usize,
    ) -> bool {
        if buf.len() < len + AEAD_TAG_LEN {
            return false;
        }
        let p = buf.as_mut_ptr();
        // SAFETY: `buf` holds `len + 16` readable and writable bytes; in place is allowed (the
        // tag is checked over the ciphertext before anything is decrypted); `ad`, `key` readable.
        unsafe {
            bindings::chacha20poly1305_decrypt(
                p,
                p,
                len + AEAD_TAG_LEN,
                ad.as_ptr(),
                ad.len(),
                nonce,
                key.as_ptr(),
            )
        }
    }
}
