// SPDX-License-Identifier: GPL-2.0
//! Exactly-once delivery of a node's messages to one incarnation of a peer, across the
//! successive connections made with it (pure logic; no kernel).
//!
//! Every feature frame (migration: offers, images, forwarded calls and replies, control) gets a
//! **delivery number** in the header (1, 2, ... per direction and peer incarnation; 0 marks the
//! transport's own frames, which are not delivered reliably). The sender keeps each numbered
//! frame in a [`Resend`] ring until the peer acknowledges it: every frame's header carries the
//! highest delivery number its sender has taken from the other direction (`ack`), and a quiet
//! receiver sends an `Ack` frame. When a connection is replaced, the sender first sends again
//! every frame not acknowledged, in order, on the new connection; the receiver's
//! [`RxDelivery`] hands each number to the node once and drops the copies. The scheme is TCP's
//! own (cumulative acknowledgement, go-back-N on a new connection), one level up, because a TCP
//! connection that dies loses what its buffers held.
//!
//! A peer that comes back as another incarnation starts again at 1 on both sides: what the old
//! one was owed or owed is gone, and the processes that depended on it get their outcome (see
//! `Documentation/migration.md`).

use core::ops::DerefMut;

/// What to do with a frame carrying a delivery number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accept {
    /// The next number: hand the frame to the node.
    Deliver,
    /// Taken before (a frame sent again after a connection was replaced): drop it.
    Duplicate,
    /// A number beyond the next: frames are missing. The connection is closed; the sender sends
    /// again from its last acknowledged number on the next one.
    Gap,
}

/// The receiving side of one peer incarnation's numbered frames.
#[derive(Clone, Copy, Debug)]
pub struct RxDelivery {
    done: u64,
    fresh: bool,
}

impl Default for RxDelivery {
    fn default() -> Self {
        Self::new()
    }
}

impl RxDelivery {
    /// Nothing taken yet. The first frame is taken whatever its number: a peer whose frames this
    /// node forgot (it dropped the peer from its map meanwhile) goes on with its own numbering,
    /// and what depended on the forgotten frames ended with the peer's removal.
    pub const fn new() -> Self {
        RxDelivery {
            done: 0,
            fresh: true,
        }
    }

    /// The highest number taken (what this side acknowledges).
    pub fn done(&self) -> u64 {
        self.done
    }

    /// Decides on a frame numbered `n` (>= 1) and, for [`Accept::Deliver`], takes it.
    pub fn accept(&mut self, n: u64) -> Accept {
        if self.fresh || n == self.done.wrapping_add(1) {
            self.fresh = false;
            self.done = n;
            Accept::Deliver
        } else if n <= self.done {
            Accept::Duplicate
        } else {
            Accept::Gap
        }
    }
}

/// Why a frame could not be numbered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResendError {
    /// The ring has no room for it: too much is unacknowledged.
    Full,
    /// It is larger than the whole ring.
    TooLarge,
}

/// Bytes in front of each record: delivery number (8), payload length (4), type (1), padding.
const REC_HDR: usize = 16;

fn rec_size(len: usize) -> usize {
    (REC_HDR + len + 7) & !7
}

/// The numbered frames sent to one peer incarnation and not acknowledged yet, oldest first, in
/// a ring of bytes `B` (a fixed buffer: numbering never allocates). Records are
/// `[number u64][length u32][type u8][pad 3][payload][pad to 8]`, each contiguous; a record
/// that does not fit before the end of the buffer starts at its beginning.
pub struct Resend<B> {
    buf: B,
    /// Offset of the oldest record.
    head: usize,
    /// Offset where the next record goes.
    tail: usize,
    /// While the records wrap around: where those before the wrap end (else the capacity).
    wrap: usize,
    /// Records held.
    count: usize,
    /// Number of the next frame.
    next: u64,
    /// Highest number the peer acknowledged.
    acked: u64,
}

impl<B: DerefMut<Target = [u8]>> Resend<B> {
    /// An empty ring in `buf`; the first frame gets number 1.
    pub fn new(buf: B) -> Self {
        let cap = buf.len();
        Resend {
            buf,
            head: 0,
            tail: 0,
            wrap: cap,
            count: 0,
            next: 1,
            acked: 0,
        }
    }

    /// The number the next frame gets.
    pub fn next(&self) -> u64 {
        self.next
    }

    /// The highest number the peer acknowledged.
    pub fn acked(&self) -> u64 {
        self.acked
    }

    /// Frames held (sent or to be sent, not acknowledged).
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether no frame is held.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes the held records take.
    pub fn used(&self) -> usize {
        if self.count == 0 {
            0
        } else if self.tail > self.head {
            self.tail - self.head
        } else {
            self.wrap - self.head + self.tail
        }
    }

    /// Where a record of `size` bytes can go, if anywhere.
    fn place(&self, size: usize) -> Option<usize> {
        let cap = self.buf.len();
        if self.count == 0 {
            return (size <= cap).then_some(0);
        }
        if self.tail > self.head {
            if cap - self.tail >= size {
                Some(self.tail)
            } else if self.head >= size {
                Some(0)
            } else {
                None
            }
        } else {
            (self.head - self.tail >= size).then_some(self.tail)
        }
    }

    /// Numbers a frame of type `mtype` whose payload is the concatenation of `parts` and keeps
    /// a copy; its number.
    pub fn push(&mut self, mtype: u8, parts: &[&[u8]]) -> Result<u64, ResendError> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let size = rec_size(len);
        if size > self.buf.len() {
            return Err(ResendError::TooLarge);
        }
        let at = self.place(size).ok_or(ResendError::Full)?;
        if self.count == 0 {
            self.head = 0;
            self.wrap = self.buf.len();
        } else if at == 0 && self.tail > self.head {
            self.wrap = self.tail;
        }
        let n = self.next;
        let b = &mut self.buf[at..at + size];
        super::copy(&mut b[0..8], &n.to_le_bytes());
        super::copy(&mut b[8..12], &(len as u32).to_le_bytes());
        b[12] = mtype;
        let mut o = REC_HDR;
        for p in parts {
            super::copy(&mut b[o..o + p.len()], p);
            o += p.len();
        }
        self.tail = at + size;
        self.count += 1;
        self.next += 1;
        Ok(n)
    }

    /// The record at offset `at`: (number, type, payload, size).
    fn record(&self, at: usize) -> (u64, u8, &[u8], usize) {
        let b = &self.buf[at..];
        let mut n = [0u8; 8];
        super::copy(&mut n, &b[0..8]);
        let mut l = [0u8; 4];
        super::copy(&mut l, &b[8..12]);
        let len = u32::from_le_bytes(l) as usize;
        (
            u64::from_le_bytes(n),
            b[12],
            &b[REC_HDR..REC_HDR + len],
            rec_size(len),
        )
    }

    /// The peer took every frame up to number `n`: their copies are dropped. An `n` beyond the
    /// last number given is a lie (`Err`); an older one changes nothing.
    pub fn ack(&mut self, n: u64) -> Result<(), ()> {
        if n >= self.next {
            return Err(());
        }
        while self.count > 0 {
            let (num, _, _, size) = self.record(self.head);
            if num > n {
                break;
            }
            self.head += size;
            self.count -= 1;
            if self.count == 0 {
                self.head = 0;
                self.tail = 0;
                self.wrap = self.buf.len();
            } else if self.head == self.wrap && self.tail <= self.head {
                self.head = 0;
                self.wrap = self.buf.len();
            }
        }
        if n > self.acked {
            self.acked = n;
        }
        Ok(())
    }

    /// Whether offset `at` is inside the held records (then, if it was a record's start, it
    /// still is: records never move, the held ones only shrink from the oldest).
    fn holds(&self, at: usize) -> bool {
        if self.count == 0 {
            false
        } else if self.tail > self.head {
            at >= self.head && at < self.tail
        } else {
            (at >= self.head && at < self.wrap) || at < self.tail
        }
    }

    /// The oldest held frame numbered `n` or later: `(number, type, payload, cursor)`, where
    /// `cursor` finds the next one quickly when passed back as `hint` (sending a ring again
    /// frame by frame, with the lock dropped between frames, stays linear).
    pub fn find_from(&self, n: u64, hint: usize) -> Option<(u64, u8, &[u8], usize)> {
        let mut at = hint;
        if at == self.wrap && self.tail <= self.head {
            at = 0;
        }
        if !self.holds(at) || self.record(at).0 > n {
            at = self.head;
        }
        for _ in 0..self.count {
            if !self.holds(at) {
                return None;
            }
            let (num, t, p, size) = self.record(at);
            let mut next = at + size;
            if next == self.wrap && self.tail <= self.head {
                next = 0;
            }
            if num >= n {
                return Some((num, t, p, next));
            }
            at = next;
        }
        None
    }

    /// Calls `f(number, type, payload)` for every held frame, oldest first (to send them again
    /// on a new connection), until it returns an error, which is returned.
    pub fn for_each<E>(&self, mut f: impl FnMut(u64, u8, &[u8]) -> Result<(), E>) -> Result<(), E> {
        let mut at = self.head;
        for _ in 0..self.count {
            if at == self.wrap && self.tail <= at {
                at = 0;
            }
            let (n, t, p, size) = self.record(at);
            f(n, t, p)?;
            at += size;
        }
        Ok(())
    }
}

/// Whether a receiver that took `frames` numbered frames (`bytes` payload bytes) since it last
/// acknowledged should send an `Ack` frame now, rather than wait for a frame of its own to
/// carry the acknowledgement (every 16 frames or 256 KiB: the sender's ring stays small).
pub fn should_ack(frames: u32, bytes: usize) -> bool {
    frames >= 16 || bytes >= 256 * 1024
}
