// SPDX-License-Identifier: GPL-2.0
//! The files an image maps (protocol 11, [`crate::proto::files`]): a process leaving home with
//! a program, its interpreter and its libraries mapped privately need not carry their pages.
//!
//! 1. The sender ([`Named::offer`]) names each file its private file areas map (at most
//!    [`NAMED_MAX`]; a regular file, readable, not on hugetlbfs, at most 64 MiB, its
//!    executable areas on a mount that allows exec) by its absolute path and SHA-256 (the hashes
//!    cached by file identity, as for programs: [`super::exec`]) in `MigFile` frames, then
//!    `MigCtl FILES` with their number, and waits for the receiver's `FILES` answer.
//! 2. The receiver ([`take_files`]) opens each path with the process's credentials, checks the
//!    file the same way and compares the hashes ([`super::mapfile::same_file`]); it answers with
//!    a bit for each file it holds with the same contents.
//! 3. The areas of held files travel as [`wire::vma::FILE_PAGES`]: the receiver maps its file
//!    privately at the area's file offset, and the sender sends only the pages that differ from
//!    the file's (those the process wrote, relocations, its data; zero pages too). A page equal
//!    to the file's is the file's page on both nodes.
//!
//! The receiver's file has the contents the sender's had when it was hashed; a file changed
//! after that (its identity, and so its hash, changes with any write) is named again with its
//! new hash by the next move. Areas of files the receiver lacks travel as before.
//!
//! Both directions: a guest going home names the files its areas map on its node the same way
//! (its deputy checks them at home, [`HeldFiles::check`] in the deputy's loop), so a program
//! placed away and brought back carries neither its program nor its libraries either way.

use kernel::prelude::*;

use super::exec::program_hash;
use super::image::is_vdso;
use super::mapfile::{mappable, same_file};
use super::record::{Item, Proc, INBOX};
use super::{send_ctl, Migration, STEP_MS};
use crate::counters;
use crate::kapi::exe::{ExecFile, Identity};
use crate::kapi::uctx::{self, UserCtx};
use crate::proto::files::{self, FileName, FILE_HDR_LEN, MAX_FILE_PAGES};
use crate::proto::mig::{self as wire, PAGE};
use crate::proto::MsgType;
use crate::uapi::cantmove;

/// Most files one image names: their frames and the `FILES` that follows wait in the
/// receiver's inbox before it takes them, with room to spare.
pub(super) const NAMED_MAX: usize = 12;
const _: () = assert!(NAMED_MAX + 2 <= INBOX && NAMED_MAX as u32 <= files::MAX_FILES);

/// An area that travels as [`wire::vma::FILE_PAGES`].
struct Area {
    start: u64,
    index: u32,
    pgoff: u64,
}

/// The sender's side: the files of an image that the receiver holds, and the areas that map
/// them.
pub(super) struct Named {
    files: KVec<ExecFile>,
    areas: KVec<Area>,
}

impl Named {
    /// No file named: every area travels with its pages.
    pub(super) fn none() -> Named {
        Named {
            files: KVec::new(),
            areas: KVec::new(),
        }
    }

    /// For the area starting at `start`: the index of the file it maps, its file page at
    /// `start`, and the file, if it travels as [`wire::vma::FILE_PAGES`].
    pub(super) fn area(&self, start: u64) -> Option<(u32, u64, &ExecFile)> {
        let a = self.areas.iter().find(|a| a.start == start)?;
        Some((a.index, a.pgoff, self.files.get(a.index as usize)?))
    }

    /// Names to `node` the files that the calling task's private file areas (`vmas`, the vDSO
    /// at `vdso` aside) map, and keeps those the node holds. No file to name: nothing is sent.
    /// Errors: those of the sends, `ETIMEDOUT` or `EHOSTUNREACH` without an answer, `EIO` for
    /// a wrong one (the migration fails).
    pub(super) fn offer(
        u: &UserCtx,
        mig: &Migration,
        p: &Proc,
        node: u32,
        vmas: &[uctx::VmaDesc],
        vdso: u64,
    ) -> Result<Named> {
        let n = Self::candidates(u, mig, vmas, vdso)?;
        if n.files.is_empty() {
            return Ok(Named::none());
        }
        let mut path = KVec::new();
        path.extend_with(files::MAX_PATH, 0u8, GFP_KERNEL)?;
        let mut sent = 0u32;
        let mut hash = [0u8; files::HASH_LEN];
        for (k, f) in n.files.iter().enumerate() {
            let exec = n
                .areas
                .iter()
                .filter(|a| a.index as usize == k)
                .any(|a| vmas.iter().any(|v| v.start == a.start && is_exec(v)));
            // Unlinked, or a path too long: not named (its areas carry their pages).
            let Ok(abs) = f.abs_path(&mut path) else {
                continue;
            };
            let Ok(h) = program_hash(&mig.exe_hashes, f) else {
                continue;
            };
            let mut abs_nul = KVec::with_capacity(abs.len() + 1, GFP_KERNEL)?;
            abs_nul.extend_from_slice(abs, GFP_KERNEL)?;
            abs_nul.push(0, GFP_KERNEL)?;
            hash.copy_from_slice(&h);
            let name = FileName {
                token: p.token,
                index: k as u32,
                prot: if exec { files::PROT_EXEC } else { 0 },
                hash,
                path: &[],
            };
            let mut hdr = [0u8; FILE_HDR_LEN];
            name.encode_header(&mut hdr);
            mig.net.send_to(node, MsgType::MigFile, &[&hdr, &abs_nul])?;
            sent += 1;
        }
        send_ctl(mig, node, p.token, wire::ctl::FILES, sent)?;
        counters::add(&mig.stats.files_named, u64::from(sent));
        let held = match p.pop(STEP_MS, false)? {
            Item::Ctl(c) if c.op == wire::ctl::FILES => c.arg,
            _ => return Err(EIO),
        };
        counters::add(&mig.stats.files_held, u64::from(held.count_ones()));
        let mut kept = KVec::new();
        for a in n.areas.into_iter().filter(|a| held & (1 << a.index) != 0) {
            kept.push(a, GFP_KERNEL)?;
        }
        Ok(Named {
            files: n.files,
            areas: kept,
        })
    }

    /// The files that the calling task's private file areas map and that can be named, with
    /// those areas.
    fn candidates(
        u: &UserCtx,
        mig: &Migration,
        vmas: &[uctx::VmaDesc],
        vdso: u64,
    ) -> Result<Named> {
        let mut n = Named::none();
        let mut ids: KVec<Identity> = KVec::new();
        for fa in u.file_areas()?.iter().filter(|fa| !fa.shared) {
            let Some(v) = vmas.iter().find(|v| v.start == fa.start && v.end == fa.end) else {
                continue;
            };
            let pages = (v.end - v.start) / PAGE as u64;
            if is_vdso(v, vdso)
                || v.flags & uctx::vmf::READ == 0
                || v.flags & uctx::vmf::GROWSDOWN != 0
                || v.sole_shared_anon
                || pages > MAX_FILE_PAGES
                || fa.pgoff > MAX_FILE_PAGES
            {
                continue;
            }
            let f = ExecFile::from_ref(fa.file());
            let id = f.identity();
            let index = match ids.iter().position(|x| *x == id) {
                Some(k) => k,
                None => {
                    // Hashed now, so that a file too big or unreadable is not named.
                    if n.files.len() == NAMED_MAX
                        || !mappable(&f, 0)
                        || program_hash(&mig.exe_hashes, &f).is_err()
                    {
                        continue;
                    }
                    ids.push(id, GFP_KERNEL)?;
                    n.files.push(f, GFP_KERNEL)?;
                    n.files.len() - 1
                }
            };
            if is_exec(v) && !n.files[index].exec_mount() {
                continue;
            }
            n.areas.push(
                Area {
                    start: v.start,
                    index: index as u32,
                    pgoff: fa.pgoff,
                },
                GFP_KERNEL,
            )?;
        }
        Ok(n)
    }
}

fn is_exec(v: &uctx::VmaDesc) -> bool {
    v.flags & u64::from(wire::prot::EXEC) != 0
}

/// The receiver's side: the files of an image that this node holds with the same contents, by
/// their index in the image.
pub(super) struct HeldFiles {
    files: KVec<(u32, ExecFile)>,
    /// Files named so far.
    named: u32,
    /// A bit for each file held.
    bits: u32,
}

impl HeldFiles {
    /// No file (yet).
    pub(super) fn none() -> HeldFiles {
        HeldFiles {
            files: KVec::new(),
            named: 0,
            bits: 0,
        }
    }

    /// File `index` of the image, if this node holds it.
    pub(super) fn get(&self, index: u32) -> Option<&ExecFile> {
        self.files.iter().find(|f| f.0 == index).map(|f| &f.1)
    }

    /// A `MigFile` item of the image: the file at `path` (with its NUL) with SHA-256 `hash`,
    /// `prot` [`files::PROT_EXEC`] if it is mapped executable, checked with the calling task's
    /// credentials and kept if this node holds it. Errors: `TARGET_FAILED` beyond
    /// [`NAMED_MAX`] files or for an index named twice, `TARGET_NOMEM`.
    pub(super) fn check(
        &mut self,
        mig: &Migration,
        index: u32,
        prot: u32,
        hash: &[u8],
        path: &[u8],
    ) -> core::result::Result<(), u32> {
        self.named += 1;
        if self.named as usize > NAMED_MAX || self.bits & (1 << index) != 0 {
            return Err(cantmove::TARGET_FAILED);
        }
        if let Some(f) = same_file(mig, hash, path, u64::from(prot)) {
            self.files
                .push((index, f), GFP_KERNEL)
                .map_err(|_| cantmove::TARGET_NOMEM)?;
            self.bits |= 1 << index;
        }
        Ok(())
    }

    /// The sender's `MigCtl FILES` with `count`, the number of files it named: answers it
    /// (to `node`) with the files held. Errors: `TARGET_FAILED` for a count that does not
    /// match, or an answer that cannot be sent.
    pub(super) fn answer(
        &self,
        mig: &Migration,
        p: &Proc,
        node: u32,
        count: u32,
    ) -> core::result::Result<(), u32> {
        if count != self.named {
            return Err(cantmove::TARGET_FAILED);
        }
        send_ctl(mig, node, p.token, wire::ctl::FILES, self.bits)
            .map_err(|_| cantmove::TARGET_FAILED)
    }
}

impl HeldFiles {
    /// Home, in the deputy's loop: takes `item` if it is a `MigFile` or `FILES` frame of the
    /// process coming home (answering `FILES` to the node it runs on) and returns `None`;
    /// returns any other item. A bad frame leaves no file held (the guest then sends every page,
    /// or the install fails on a file area it did not hold).
    pub(super) fn take_frame(&mut self, mig: &Migration, p: &Proc, item: Item) -> Option<Item> {
        match item {
            Item::File {
                index,
                prot,
                hash,
                path,
            } => {
                if self.check(mig, index, prot, &hash, &path).is_err() {
                    *self = HeldFiles::none();
                }
                None
            }
            Item::Ctl(c) if c.op == wire::ctl::FILES => {
                let where_ = p.inner.lock().where_;
                if self.answer(mig, p, where_, c.arg).is_err() {
                    // None held: the guest sends every page; the next move starts afresh.
                    let _ = send_ctl(mig, where_, p.token, wire::ctl::FILES, 0);
                    *self = HeldFiles::none();
                }
                None
            }
            other => Some(other),
        }
    }
}

/// Takes the frames of an arriving image up to its State from `p`'s inbox: the files it names
/// (checked here with the calling task's credentials; the `FILES` answer sent to `node`), then
/// its State. Errors: the `cantmove` reason (`TARGET_FAILED` for frames out of order, more
/// files than [`NAMED_MAX`] or a count that does not match).
pub(super) fn take_files(
    mig: &Migration,
    p: &Proc,
    node: u32,
) -> core::result::Result<(KVVec<u8>, HeldFiles), u32> {
    let mut held = HeldFiles::none();
    loop {
        match p.pop(STEP_MS, false) {
            Ok(Item::File {
                index,
                prot,
                hash,
                path,
            }) => held.check(mig, index, prot, &hash, &path)?,
            Ok(Item::Ctl(c)) if c.op == wire::ctl::FILES => held.answer(mig, p, node, c.arg)?,
            Ok(Item::State(buf)) => return Ok((buf, held)),
            _ => return Err(cantmove::TARGET_FAILED),
        }
    }
}
