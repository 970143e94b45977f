//! The holder's replay ring: the last bytes of the child's output, with their offsets in the
//! whole stream, so a (re)connecting daemon gets exactly what it has not seen yet.

use std::collections::VecDeque;

use super::proto::{self, Frame};

/// Largest OUTPUT frame sent during replay.
const REPLAY_CHUNK: usize = 64 * 1024;

/// Raw output kept for replay: the last `cap` bytes of the stream.
pub(super) struct Ring {
    buf: VecDeque<u8>,
    cap: usize,
    /// Stream offset of `buf[0]`.
    start: u64,
}

impl Ring {
    pub(super) fn new(cap: usize) -> Ring {
        Ring {
            buf: VecDeque::new(),
            cap,
            start: 0,
        }
    }

    /// Stream offset of the oldest byte kept.
    pub(super) fn start(&self) -> u64 {
        self.start
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
            &bytes[dropped..]
        } else {
            bytes
        };
        let excess = (self.buf.len() + bytes.len()).saturating_sub(self.cap);
        self.buf.drain(..excess);
        self.start += excess as u64;
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
        let from = from.clamp(self.start, self.end());
        let skip = (from - self.start) as usize;
        let (a, b) = self.buf.as_slices();
        let mut bytes = Vec::with_capacity(self.buf.len() - skip);
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
