//! The holder's replay ring: the last bytes of the child's output, with their offsets in the
//! whole stream, so a (re)connecting daemon gets exactly what it has not seen yet.
//!
//! The daemon may hand the ring a snapshot: the bytes that rebuild its screen and history as
//! they stood at some offset (see `screen::Screen::replay`). The ring then keeps the snapshot
//! in place of all the raw output before that offset, so what a reattach needs costs about
//! the size of the history's content, not a fixed tail of raw output.

use std::collections::VecDeque;

use super::proto::{self, Frame};

/// Largest OUTPUT frame sent during replay.
const REPLAY_CHUNK: usize = 64 * 1024;

/// Raw output kept for replay: the last `cap` bytes of the stream, after a snapshot of
/// what came before them when the daemon gave one.
pub(super) struct Ring {
    buf: VecDeque<u8>,
    cap: usize,
    /// Stream offset of `buf[0]`.
    start: u64,
    /// Stands for the whole stream before `start` (empty: no snapshot). Replayed as if it
    /// were the output just before `start`, so offsets after it stay true.
    snapshot: Vec<u8>,
}

impl Ring {
    pub(super) fn new(cap: usize) -> Ring {
        Ring {
            buf: VecDeque::new(),
            cap,
            start: 0,
            snapshot: Vec::new(),
        }
    }

    /// Stream offset of the oldest byte kept (a snapshot counts as the bytes just before the
    /// raw output).
    pub(super) fn start(&self) -> u64 {
        self.start - self.snapshot.len() as u64
    }

    /// Take `snapshot` as the stream up to offset `at`, dropping the raw output before it.
    /// Refused (nothing changes) unless `at` is within the raw output kept, the snapshot is
    /// no larger than what it replaces, and it fits the ring's cap.
    pub(super) fn take_snapshot(&mut self, at: u64, snapshot: Vec<u8>) -> bool {
        let replaced = at.saturating_sub(self.start()) as usize;
        if at < self.start
            || at > self.end()
            || snapshot.len() > replaced
            || snapshot.len() > self.cap
            || snapshot.len() as u64 > at
        {
            return false;
        }
        self.buf.drain(..(at - self.start) as usize);
        self.buf.shrink_to_fit();
        self.start = at;
        self.snapshot = snapshot;
        true
    }

    /// Bytes held: raw output and snapshot.
    pub(super) fn held(&self) -> usize {
        self.buf.len() + self.snapshot.len()
    }

    pub(super) fn end(&self) -> u64 {
        self.start + self.buf.len() as u64
    }

    /// Append output, dropping the oldest bytes first so the ring never holds (nor allocates
    /// room for) more than its cap: growing past it and trimming after would double the
    /// allocation for the rest of the session.
    pub(super) fn push(&mut self, bytes: &[u8]) {
        let bytes = if bytes.len() > self.cap {
            // Only the tail of an oversized chunk can be kept.
            let dropped = bytes.len() - self.cap;
            self.start += (self.buf.len() + dropped) as u64;
            self.buf.clear();
            self.snapshot = Vec::new();
            &bytes[dropped..]
        } else {
            bytes
        };
        let excess = (self.buf.len() + bytes.len()).saturating_sub(self.cap);
        self.buf.drain(..excess);
        self.start += excess as u64;
        if excess > 0 && !self.snapshot.is_empty() {
            // The snapshot no longer joins the raw output kept.
            self.snapshot = Vec::new();
        }
        let needed = self.buf.len() + bytes.len();
        if needed > self.buf.capacity() {
            // Doubling as a Vec would, but never past the cap.
            let grown = needed.max(self.buf.capacity() * 2).min(self.cap);
            self.buf.reserve_exact(grown - self.buf.len());
        }
        self.buf.extend(bytes);
    }

    /// Frames replaying everything from `from` (clamped to what is kept).
    pub(super) fn replay(&self, from: u64) -> Vec<Frame> {
        let from = from.clamp(self.start(), self.end());
        let mut bytes = Vec::with_capacity((self.end() - from) as usize);
        if from < self.start {
            let into = self.snapshot.len() - (self.start - from) as usize;
            bytes.extend_from_slice(&self.snapshot[into..]);
        }
        let skip = from.saturating_sub(self.start) as usize;
        let (a, b) = self.buf.as_slices();
        if skip < a.len() {
            bytes.extend_from_slice(&a[skip..]);
            bytes.extend_from_slice(b);
        } else {
            bytes.extend_from_slice(&b[skip - a.len()..]);
        }
        bytes
            .chunks(REPLAY_CHUNK)
            .scan(from, |off, c| {
                let f = Frame::with_u64(proto::OUTPUT, *off, c);
                *off += c.len() as u64;
                Some(f)
            })
            .collect()
    }

    /// Drop everything kept for replay, keeping `prefix` in its place as the last bytes before
    /// the current end (so offsets stay true for output to come). The prefix is dropped if the
    /// session has not yet printed that many bytes, or if it is larger than the ring.
    pub(super) fn forget(&mut self, prefix: &[u8]) {
        let end = self.end();
        let keep = if prefix.len() as u64 <= end && prefix.len() <= self.cap {
            prefix
        } else {
            &[]
        };
        self.buf.clear();
        // What was cleared is not coming back: give its memory back too.
        self.buf.shrink_to_fit();
        self.snapshot = Vec::new();
        self.buf.extend(keep);
        self.start = end - keep.len() as u64;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // reason: a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_the_tail_and_replays_from_offsets() {
        let mut r = Ring::new(10);
        r.push(b"0123456789abcdef");
        assert_eq!((r.start, r.end()), (6, 16));
        let f = r.replay(0);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].split_u64(), Some((6, &b"6789abcdef"[..])));
        assert_eq!(r.replay(14)[0].split_u64(), Some((14, &b"ef"[..])));
        assert!(r.replay(16).is_empty());
    }

    #[test]
    fn the_ring_never_allocates_past_its_cap() {
        let cap = 64 * 1024;
        let mut r = Ring::new(cap);
        let chunk: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let mut total = 0u64;
        for _ in 0..100 {
            r.push(&chunk);
            total += chunk.len() as u64;
            assert!(r.buf.len() <= cap);
            assert!(r.buf.capacity() <= cap, "capacity {}", r.buf.capacity());
        }
        assert_eq!(r.end(), total);
        assert_eq!(r.start(), total - cap as u64);
        // An oversized chunk keeps its tail, with true offsets.
        let big: Vec<u8> = (0..cap as u32 + 10).map(|i| (i % 7) as u8).collect();
        r.push(&big);
        assert_eq!(r.end(), total + big.len() as u64);
        assert_eq!(r.buf.len(), cap);
        assert_eq!(r.buf.iter().copied().collect::<Vec<u8>>(), big[10..]);
    }

    #[test]
    fn a_snapshot_stands_for_the_output_before_it() {
        let mut r = Ring::new(100);
        let raw: Vec<u8> = (0..90u8).collect();
        r.push(&raw);
        // Larger than what it replaces, beyond the output, or larger than the offset:
        // refused, nothing changes.
        assert!(!r.take_snapshot(5, b"123456".to_vec()));
        assert!(!r.take_snapshot(91, b"S".to_vec()));
        assert!(!r.take_snapshot(3, b"SNAPS".to_vec()));
        assert_eq!((r.start(), r.end(), r.held()), (0, 90, 90));
        assert!(r.take_snapshot(60, b"SNAP".to_vec()));
        assert_eq!((r.start(), r.end(), r.held()), (56, 90, 34));
        let mut want = b"SNAP".to_vec();
        want.extend_from_slice(&raw[60..]);
        assert_eq!(r.replay(0)[0].split_u64(), Some((56, &want[..])));
        // From inside the snapshot, and from the raw output after it.
        assert_eq!(r.replay(58)[0].split_u64(), Some((58, &want[2..])));
        assert_eq!(r.replay(70)[0].split_u64(), Some((70, &raw[70..])));
        // Output that pushes the raw bytes after the snapshot out of the ring leaves a gap:
        // the snapshot goes.
        r.push(&[7u8; 70]);
        assert_eq!((r.start(), r.end(), r.held()), (56, 160, 104));
        r.push(&[8u8; 80]);
        assert_eq!((r.start(), r.end(), r.held()), (140, 240, 100));
        assert_eq!(r.replay(0)[0].split_u64().map(|(o, _)| o), Some(140));
    }

    #[test]
    fn forgetting_keeps_only_the_prefix_and_true_offsets() {
        let mut r = Ring::new(10);
        r.push(b"old screen");
        r.forget(b"MM");
        assert_eq!((r.start, r.end()), (8, 10));
        assert_eq!(r.replay(0)[0].split_u64(), Some((8, &b"MM"[..])));
        r.push(b"new");
        assert_eq!(r.replay(0)[0].split_u64(), Some((8, &b"MMnew"[..])));
        // Too early in the session for the prefix: nothing is kept.
        let mut early = Ring::new(10);
        early.push(b"a");
        early.forget(b"MM");
        assert_eq!((early.start, early.end()), (1, 1));
    }
}
