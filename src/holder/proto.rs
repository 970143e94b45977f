//! The holder wire protocol: length-prefixed frames over a unix stream socket. The full
//! layout (frame types, ordering, what happens with unknown input) is specified in the module
//! doc of [`crate::holder`]; this file only encodes and decodes it.

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

/// Largest payload accepted in one frame. Output is sent in chunks of at most 64 KiB, input
/// writes are bounded by the API body limit (1 MiB by default), so 4 MiB leaves headroom
/// while keeping a corrupt length from allocating gigabytes.
pub const MAX_FRAME_BYTES: usize = 4 * 1024 * 1024;

/// Bumped when a frame changes meaning; sent in HELLO so a daemon can refuse a holder it does
/// not understand instead of misreading its frames. It is deliberately not part of the socket
/// name: an upgraded daemon must still find older holders.
pub const PROTOCOL_VERSION: u32 = 1;

// Holder -> daemon.
pub const HELLO: u8 = 0x01;
pub const OUTPUT: u8 = 0x02;
pub const EXIT: u8 = 0x03;
pub const ACK: u8 = 0x04;
pub const RECORDING: u8 = 0x05;
// Daemon -> holder.
pub const ATTACH: u8 = 0x10;
pub const INPUT: u8 = 0x11;
pub const RESIZE: u8 = 0x12;
pub const KILL: u8 = 0x13;
pub const FORGET: u8 = 0x14;
pub const SNAPSHOT: u8 = 0x15;

/// One frame: a type byte and its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: u8,
    pub payload: Vec<u8>,
}

impl Frame {
    pub fn new(kind: u8, payload: Vec<u8>) -> Self {
        Frame { kind, payload }
    }

    /// `[kind][u64 BE][rest]`: OUTPUT (offset + bytes), INPUT (seq + bytes), ATTACH (offset).
    pub fn with_u64(kind: u8, n: u64, rest: &[u8]) -> Self {
        let mut payload = Vec::with_capacity(8 + rest.len());
        payload.extend_from_slice(&n.to_be_bytes());
        payload.extend_from_slice(rest);
        Frame { kind, payload }
    }

    /// Split a `[u64 BE][rest]` payload; `None` when it is shorter than 8 bytes.
    pub fn split_u64(&self) -> Option<(u64, &[u8])> {
        let (head, rest) = self.payload.split_at_checked(8)?;
        Some((u64::from_be_bytes(head.try_into().ok()?), rest))
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(5 + self.payload.len());
        out.push(self.kind);
        // Payloads are built by us and bounded well below u32::MAX (see MAX_FRAME_BYTES).
        out.extend_from_slice(&(self.payload.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.payload);
        out
    }
}

/// Read one frame. `Ok(None)` at a clean end of stream (between frames).
pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<Option<Frame>> {
    let frame = crate::framing::read_frame(r, MAX_FRAME_BYTES).await?;
    Ok(frame.map(|(kind, payload)| Frame { kind, payload }))
}

/// Frames up to this size are written in one piece (one copy); larger ones as header and
/// payload (two writes, no copy of the payload).
const COPY_BELOW: usize = 4096;

pub async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, f: &Frame) -> std::io::Result<()> {
    if f.payload.len() < COPY_BELOW {
        return w.write_all(&f.encode()).await;
    }
    let mut head = [0u8; 5];
    head[0] = f.kind;
    // Payloads are built by us and bounded well below u32::MAX (see MAX_FRAME_BYTES).
    head[1..].copy_from_slice(&(f.payload.len() as u32).to_be_bytes());
    w.write_all(&head).await?;
    w.write_all(&f.payload).await
}

/// EXIT payload: `[u8 kind: 0 = exit code, 1 = signal][i32 BE value]`.
pub fn encode_exit(status: crate::pty::ExitStatus) -> Vec<u8> {
    let (kind, value) = match status {
        crate::pty::ExitStatus::Code(c) => (0u8, c),
        crate::pty::ExitStatus::Signal(s) => (1u8, s),
    };
    let mut p = vec![kind];
    p.extend_from_slice(&value.to_be_bytes());
    p
}

pub fn decode_exit(p: &[u8]) -> Option<crate::pty::ExitStatus> {
    let value = i32::from_be_bytes(p.get(1..5)?.try_into().ok()?);
    match p.first()? {
        0 => Some(crate::pty::ExitStatus::Code(value)),
        1 => Some(crate::pty::ExitStatus::Signal(value)),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // reason: a failed unwrap is a failed test
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_round_trip_and_reject_huge_lengths() {
        let f = Frame::with_u64(OUTPUT, 42, b"hello");
        let bytes = f.encode();
        let mut r = &bytes[..];
        let back = read_frame(&mut r).await.unwrap().unwrap();
        assert_eq!(back, f);
        assert_eq!(back.split_u64(), Some((42, &b"hello"[..])));
        assert!(read_frame(&mut r).await.unwrap().is_none());
        let huge = [OUTPUT, 0xff, 0xff, 0xff, 0xff];
        assert!(read_frame(&mut &huge[..]).await.is_err());
        let st = crate::pty::ExitStatus::Signal(9);
        assert_eq!(decode_exit(&encode_exit(st)), Some(st));
        assert_eq!(decode_exit(&[7, 0, 0, 0, 0]), None);
    }
}
