// SPDX-License-Identifier: GPL-2.0
//! The frames of an arriving image taken into the calling task ([`super::image::install`]): its
//! memory areas, their pages, its pending signals.
//!
//! At home, the areas the process had mapped from files when it left are mapped from those
//! files again (the deputy kept them open: [`FileArea`]), so that it comes back with file
//! mappings, not anonymous copies: a shared read-only mapping takes the file's pages as they
//! are now, a private one takes only the pages that differ from the file (those the process
//! wrote; the others stay the page cache's, shared as before it left).
//!
//! On a remote, an area of a file that the image named and this node holds
//! ([`wire::vma::FILE_PAGES`], [`super::imagefiles`]) is mapped privately from that file; the
//! stream sends only the pages that differ from it.

use kernel::prelude::*;
use kernel::uaccess::UserSlice;

use super::fault::Point;
use super::imagefiles::HeldFiles;
use super::record::Item;
use super::Migration;
use crate::kapi::uctx::{FileArea, SigInfo, UserCtx};
use crate::proto::mig::{self as wire, Vma, PAGE};
use crate::proto::signal as sigwire;
use crate::uapi::cantmove;

/// The `cantmove` reason of a failed step of an install: `TARGET_NOMEM` when memory ran out.
pub(super) fn fail_reason(e: Error) -> u32 {
    if e == ENOMEM {
        cantmove::TARGET_NOMEM
    } else {
        cantmove::TARGET_FAILED
    }
}

/// How the current area of an arrival was mapped, and what the pages its stream skips hold.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mapped {
    /// Anonymous memory: skipped pages are zero.
    Anon,
    /// A file mapped shared again (home): its contents are the file's; sent pages are ignored.
    Shared,
    /// A file mapped privately again (home): skipped pages are zero, sent pages replace the
    /// file's where they differ.
    Private,
    /// A file this node holds ([`wire::vma::FILE_PAGES`]): skipped pages are the file's, sent
    /// pages differ from it.
    FilePages,
}

/// The memory areas and signals of an image as its frames arrive.
pub(super) struct Arrival {
    /// The memory area the pages that follow belong to.
    cur: Option<Vma>,
    /// How the current area was mapped.
    file: Mapped,
    /// In a privately mapped file area: the first address the stream has not covered yet (the
    /// pages it skips are zero in the process and must read so).
    cursor: u64,
    /// Home: the file mappings the process had when it left.
    pub(super) files: KVec<FileArea>,
    /// Remote: the files the image named that this node holds.
    held: HeldFiles,
    /// One page, to compare with the file's.
    page: KVec<u8>,
    /// Memory areas and pages taken (checked against the stream's End).
    pub(super) nv: u32,
    pub(super) np: u32,
    /// The image's pending signals, in delivery order.
    pub(super) signals: KVec<SigInfo>,
}

impl Arrival {
    /// An arrival with the file mappings `files` to map again (empty but at home) and the
    /// files `held` that the image's areas may map (none at home).
    pub(super) fn new(files: KVec<FileArea>, held: HeldFiles) -> Arrival {
        Arrival {
            cur: None,
            file: Mapped::Anon,
            cursor: 0,
            files,
            held,
            page: KVec::new(),
            nv: 0,
            np: 0,
            signals: KVec::new(),
        }
    }

    /// Takes one frame of an image's stream into the calling task: `Ok(true)` at its End.
    /// Errors: the `cantmove` reason (`TARGET_NOMEM` when memory ran out here).
    pub(super) fn take(
        &mut self,
        u: &UserCtx,
        mig: &Migration,
        it: Item,
        deputy: bool,
    ) -> core::result::Result<bool, u32> {
        match it {
            Item::Vma(v) => {
                // Fault injection: a process coming home finds its home short of memory.
                if deputy && mig.fault.fires(Point::NoMem) {
                    return Err(cantmove::TARGET_NOMEM);
                }
                self.end_area(u)?;
                self.map_area(u, &v)?;
                self.cur = Some(v);
                self.nv += 1;
            }
            Item::Pages { addr, data } => {
                let v = self.cur.ok_or(cantmove::TARGET_FAILED)?;
                let len = data.len() as u64;
                if addr < v.start || addr + len > v.end {
                    return Err(cantmove::TARGET_FAILED);
                }
                match self.file {
                    Mapped::Anon | Mapped::FilePages => put(u, &v, addr, &data)?,
                    // A shared mapping's contents are the file's.
                    Mapped::Shared => {}
                    Mapped::Private => {
                        if addr < self.cursor {
                            return Err(cantmove::TARGET_FAILED);
                        }
                        self.zero_until(u, &v, addr)?;
                        for (k, p) in data.chunks(PAGE).enumerate() {
                            self.put_if_changed(u, &v, addr + (k * PAGE) as u64, p)?;
                        }
                        self.cursor = addr + len;
                    }
                }
                self.np += (len / PAGE as u64) as u32;
            }
            Item::Signal(s) if s.flags & sigwire::flags::IMAGE != 0 => {
                self.signals
                    .push(s.info, GFP_KERNEL)
                    .map_err(|_| cantmove::TARGET_NOMEM)?;
            }
            Item::End(e) if e.vmas == self.nv && e.pages == self.np => {
                self.end_area(u)?;
                return Ok(true);
            }
            _ => return Err(cantmove::TARGET_FAILED),
        }
        Ok(false)
    }

    /// Maps area `v`: from the file it mapped when it left home, if it lies within one of
    /// those and that file can still be mapped so; else as anonymous memory.
    fn map_area(&mut self, u: &UserCtx, v: &Vma) -> core::result::Result<(), u32> {
        let grows = v.flags & wire::vma::GROWSDOWN != 0;
        let shared = v.flags & wire::vma::SHARED_ANON != 0;
        self.file = Mapped::Anon;
        if v.flags & wire::vma::FILE_PAGES != 0 {
            // Only the files this node said it holds; the sender skipped their pages.
            let f = self.held.get(v.file).ok_or(cantmove::TARGET_FAILED)?;
            let len = v.end - v.start;
            let at = f
                .map(
                    u,
                    v.start,
                    len,
                    u64::from(v.prot),
                    MAP_PRIVATE | MAP_FIXED,
                    v.pgoff * PAGE as u64,
                )
                .map_err(fail_reason)?;
            if at != v.start {
                return Err(cantmove::TARGET_FAILED);
            }
            self.file = Mapped::FilePages;
            return Ok(());
        }
        if !grows && !shared {
            let fa = self
                .files
                .iter()
                .find(|f| f.start <= v.start && v.end <= f.end);
            if let Some(fa) = fa {
                if u.map_file(fa, v.start, v.end, v.prot).is_ok() {
                    self.file = if fa.shared {
                        Mapped::Shared
                    } else {
                        Mapped::Private
                    };
                    self.cursor = v.start;
                    return Ok(());
                }
            }
        }
        u.map_anon(v.start, v.end - v.start, v.prot, grows, shared)
            .map_err(fail_reason)
    }

    /// The end of the current area: in a privately mapped file, the pages the stream did not
    /// cover are zero in the process.
    fn end_area(&mut self, u: &UserCtx) -> core::result::Result<(), u32> {
        if let (Mapped::Private, Some(v)) = (self.file, self.cur) {
            self.zero_until(u, &v, v.end)?;
        }
        Ok(())
    }

    /// Makes the pages from the cursor to `to` of file area `v` read as zero (the stream skips
    /// zero pages): a page of the file that is not all zero is overwritten. A page the file
    /// does not have (beyond its end) is left as it is.
    fn zero_until(&mut self, u: &UserCtx, v: &Vma, to: u64) -> core::result::Result<(), u32> {
        let mut addr = self.cursor;
        while addr < to {
            self.read_page(addr)?;
            if self.page.iter().any(|&b| b != 0) {
                self.page.fill(0);
                put(u, v, addr, &self.page)?;
            }
            addr += PAGE as u64;
            crate::kapi::sys::cond_resched();
        }
        self.cursor = to;
        Ok(())
    }

    /// Writes page `data` at `addr` of file area `v` unless the page there (the file's) already
    /// holds it.
    fn put_if_changed(
        &mut self,
        u: &UserCtx,
        v: &Vma,
        addr: u64,
        data: &[u8],
    ) -> core::result::Result<(), u32> {
        let same = self.read_page(addr).is_ok() && self.page[..] == *data;
        if same {
            Ok(())
        } else {
            put(u, v, addr, data)
        }
    }

    /// Reads the page at `addr` into `self.page` (zero when it cannot be read: beyond the end
    /// of the file).
    fn read_page(&mut self, addr: u64) -> core::result::Result<(), u32> {
        if self.page.is_empty() {
            self.page
                .extend_with(PAGE, 0u8, GFP_KERNEL)
                .map_err(|_| cantmove::TARGET_NOMEM)?;
        }
        let r = UserSlice::new(addr as usize, PAGE)
            .reader()
            .read_slice(&mut self.page);
        if r.is_err() {
            self.page.fill(0);
        }
        Ok(())
    }
}

/// `mmap` flags of a file area mapped from a held file.
const MAP_PRIVATE: u64 = 0x02;
const MAP_FIXED: u64 = 0x10;

/// Writes `data` at `addr` of area `v`, through the area's protection if it is not writable.
fn put(u: &UserCtx, v: &Vma, addr: u64, data: &[u8]) -> core::result::Result<(), u32> {
    if v.prot & wire::prot::WRITE != 0 {
        UserSlice::new(addr as usize, data.len())
            .writer()
            .write_slice(data)
            .map_err(fail_reason)
    } else {
        u.poke(addr, data).map_err(fail_reason)
    }
}
