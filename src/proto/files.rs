// SPDX-License-Identifier: GPL-2.0
//! The files an image maps (protocol 11, `MigFile`): before the image's State, its sender names
//! each file that private file areas of the process map (a program, its interpreter and
//! libraries) by its absolute path and the SHA-256 of its contents, and says how many it named
//! ([`super::control::ctl::FILES`]); the receiver answers with the files it holds with the same
//! contents at the same path (`FILES`, a bit per file). Areas of those files then travel as
//! [`super::mig::vma::FILE_PAGES`]: mapped from the receiver's file, only the pages that differ
//! from it sent. Pure `core` Rust like the rest of [`super`]; `Documentation/protocol.md` has the
//! byte layout (type 20).

use super::mig::token;
use super::{be32, put32, put64, ProtoError};

/// Most files one image names: the bits of a `FILES` answer.
pub const MAX_FILES: u32 = 32;
/// Largest file whose pages an image maps instead of sending (64 MiB, the programs whose hash
/// is computed: `migrate::exec`), and so the most pages of one area of it, in pages.
pub const MAX_FILE_PAGES: u64 = (64 << 20) / 4096;
/// Length of a SHA-256 digest.
pub const HASH_LEN: usize = 32;
/// Fixed part of a [`FileName`] payload, before the path.
pub const FILE_HDR_LEN: usize = 16 + HASH_LEN;
/// Longest path, its NUL included (`PATH_MAX`).
pub const MAX_PATH: usize = 4096;

/// `PROT_EXEC` in [`FileName::prot`].
pub const PROT_EXEC: u32 = 4;

/// One file an image maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileName<'a> {
    /// The process's token.
    pub token: u64,
    /// Its index in the image (below [`MAX_FILES`]; the `file` of the areas that map it).
    pub index: u32,
    /// [`PROT_EXEC`] if an area maps it executable (the receiver then needs it on a mount that
    /// allows exec), else 0.
    pub prot: u32,
    /// SHA-256 of its contents.
    pub hash: [u8; HASH_LEN],
    /// Its absolute path with the terminating NUL.
    pub path: &'a [u8],
}

impl<'a> FileName<'a> {
    /// Layout: 0 token, 8 index u32, 12 prot u32, 16 hash (32 bytes), 48 path (NUL-terminated).
    /// Writes the fixed part into `hdr`; the path follows it as a second part of the frame.
    pub fn encode_header(&self, hdr: &mut [u8; FILE_HDR_LEN]) {
        put64(hdr, 0, self.token);
        put32(hdr, 8, self.index);
        put32(hdr, 12, self.prot);
        hdr[16..].copy_from_slice(&self.hash);
    }

    /// Decodes and validates a MigFile payload. Errors: `Truncated` (too short), `BadField`
    /// for an index beyond [`MAX_FILES`], an unknown `prot` bit, or a path that is not absolute,
    /// not NUL-terminated, has a NUL inside or is longer than [`MAX_PATH`].
    pub fn decode(b: &'a [u8]) -> Result<FileName<'a>, ProtoError> {
        if b.len() < FILE_HDR_LEN + 2 {
            return Err(ProtoError::Truncated);
        }
        let mut hash = [0u8; HASH_LEN];
        hash.copy_from_slice(&b[16..FILE_HDR_LEN]);
        let f = FileName {
            token: token(b)?,
            index: be32(b, 8),
            prot: be32(b, 12),
            hash,
            path: &b[FILE_HDR_LEN..],
        };
        if f.index >= MAX_FILES {
            return Err(ProtoError::BadField("file.index"));
        }
        if f.prot & !PROT_EXEC != 0 {
            return Err(ProtoError::BadField("file.prot"));
        }
        let p = f.path;
        let nul_only_last = p.iter().position(|&c| c == 0) == Some(p.len() - 1);
        if p.len() > MAX_PATH || p[0] != b'/' || !nul_only_last {
            return Err(ProtoError::BadField("file.path"));
        }
        Ok(f)
    }
}
