// SPDX-License-Identifier: GPL-2.0
//! The cluster key: the secret every link's handshake proves knowledge of. Installed by the
//! administrator (`mosctl setkey FILE`, `MOSIX_IOC_SETKEY`), never readable back. Two keys are
//! held during a rotation: a newly installed key becomes current (used to open connections and
//! accepted), the one it replaced stays accepted for [`KEY_WINDOW_MS`] or until retired, so the
//! nodes of a running cluster can be given the new key one after the other. Established links
//! keep the per-connection keys their handshake derived.

use crate::proto::handshake::{self, CryptoError, Prf, KEY_ID_LEN, KEY_LEN};

/// How long a replaced key is still accepted, ms.
pub(crate) const KEY_WINDOW_MS: u64 = 600_000;
/// Shortest and longest secret accepted from the administrator, bytes.
pub(crate) const SECRET_MIN: usize = 16;
pub(crate) const SECRET_MAX: usize = 64;

/// One cluster key: the 32-byte pre-shared key the handshake uses and its id.
pub(crate) struct ClusterKey {
    pub(crate) psk: [u8; KEY_LEN],
    pub(crate) id: [u8; KEY_ID_LEN],
}

impl ClusterKey {
    /// The key made from the administrator's secret (16..=64 bytes of a key file):
    /// `psk = HKDF-Extract("oxmosix cluster key", secret)`, so any secret length gives a
    /// uniform 32-byte key.
    pub(crate) fn from_secret<P: Prf>(p: &mut P, secret: &[u8]) -> Result<Self, CryptoError> {
        if secret.len() < SECRET_MIN || secret.len() > SECRET_MAX {
            return Err(CryptoError);
        }
        let psk = handshake::extract(p, b"oxmosix cluster key", secret)?;
        let id = handshake::key_id(p, &psk)?;
        Ok(ClusterKey { psk, id })
    }
}

impl Drop for ClusterKey {
    fn drop(&mut self) {
        handshake::wipe(&mut self.psk);
    }
}

/// The keys a node holds.
#[derive(Default)]
pub(crate) struct KeyRing {
    current: Option<ClusterKey>,
    previous: Option<ClusterKey>,
    /// `sys::monotonic_ms()` after which `previous` is no longer accepted.
    previous_until_ms: u64,
}

impl KeyRing {
    /// Installs `k` as the current key at `now_ms`; the current one, if different, becomes the
    /// previous key (accepted for [`KEY_WINDOW_MS`]), or is dropped when `retire` is set.
    pub(crate) fn install(&mut self, k: ClusterKey, retire: bool, now_ms: u64) {
        let same = self.current.as_ref().is_some_and(|c| c.id == k.id);
        if !same {
            self.previous = self.current.take();
            self.previous_until_ms = now_ms + KEY_WINDOW_MS;
        }
        self.current = Some(k);
        if retire {
            self.previous = None;
        }
    }

    /// Whether a key is installed (a node without one does not join).
    pub(crate) fn has_key(&self) -> bool {
        self.current.is_some()
    }

    /// The current key's psk and id, to open a connection with.
    pub(crate) fn current(&self) -> Option<([u8; KEY_LEN], [u8; KEY_ID_LEN])> {
        self.current.as_ref().map(|k| (k.psk, k.id))
    }

    /// The psk of the accepted key with id `id` at `now_ms` (the current key, or the previous
    /// one within its window).
    pub(crate) fn find(&mut self, id: &[u8; KEY_ID_LEN], now_ms: u64) -> Option<[u8; KEY_LEN]> {
        if now_ms >= self.previous_until_ms {
            self.previous = None;
        }
        [self.current.as_ref(), self.previous.as_ref()]
            .into_iter()
            .flatten()
            .find(|k| handshake::ct_eq(&k.id, id))
            .map(|k| k.psk)
    }

    /// Whether the key with id `id` is still accepted at `now_ms`.
    pub(crate) fn accepts(&mut self, id: &[u8; KEY_ID_LEN], now_ms: u64) -> bool {
        self.find(id, now_ms).is_some()
    }

    /// The current key's id as a number (its 8 bytes big-endian; 0 without a key): a public
    /// fingerprint an administrator compares between nodes.
    pub(crate) fn current_id(&self) -> u64 {
        self.current
            .as_ref()
            .map_or(0, |k| u64::from_be_bytes(k.id))
    }

    /// How many keys are accepted now: 0, 1, or 2 during a rotation.
    pub(crate) fn accepted(&self, now_ms: u64) -> u32 {
        u32::from(self.current.is_some())
            + u32::from(self.previous.is_some() && now_ms < self.previous_until_ms)
    }
}
