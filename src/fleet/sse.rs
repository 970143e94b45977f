//! Re-framing a forwarded SSE body into `warp::sse::Event`s.
//!
//! Why: warp 0.4 can stream a response body only through its SSE reply (its streaming body
//! constructor is private), so a forwarded `text/event-stream` answer is parsed back into
//! events and re-emitted. The parser follows the SSE grammar for what our streams send:
//! `id:`, `event:`, `data:` (several lines joined with `\n`), `retry:` and `:` comments, each
//! frame ended by a blank line; `\r\n` and `\r` line ends are accepted. A frame split across
//! chunks is held until its blank line arrives; at most [`MAX_PENDING`] bytes are held, past
//! which the stream is cut (a peer that never ends a frame cannot grow our memory).

use bytes::{Bytes, BytesMut};

/// Most bytes of an unfinished frame held between chunks. Our largest frames (a screen
/// snapshot in an event) are well under this.
pub const MAX_PENDING: usize = 4 * 1024 * 1024;

/// One parsed frame.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frame {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: Option<String>,
    pub retry: Option<u64>,
    pub comment: Option<String>,
}

impl Frame {
    fn is_empty(&self) -> bool {
        *self == Frame::default()
    }

    /// As warp sends it.
    pub fn to_event(&self) -> warp::sse::Event {
        let mut e = warp::sse::Event::default();
        if let Some(id) = &self.id {
            e = e.id(id.clone());
        }
        if let Some(ev) = &self.event {
            e = e.event(ev.clone());
        }
        if let Some(d) = &self.data {
            e = e.data(d.clone());
        }
        if let Some(r) = self.retry {
            e = e.retry(std::time::Duration::from_millis(r));
        }
        if let Some(c) = &self.comment {
            e = e.comment(c.clone());
        }
        e
    }
}

/// Incremental parser: feed chunks, take complete frames.
#[derive(Default)]
pub struct Parser {
    buf: BytesMut,
}

impl Parser {
    /// Add a chunk; returns the frames it completed, or `Err` when an unfinished frame grew
    /// past [`MAX_PENDING`].
    pub fn feed(&mut self, chunk: &Bytes) -> Result<Vec<Frame>, String> {
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        while let Some((end, skip)) = frame_end(&self.buf) {
            let raw = self.buf.split_to(end + skip);
            let frame = parse(&raw[..end]);
            if !frame.is_empty() {
                out.push(frame);
            }
        }
        if self.buf.len() > MAX_PENDING {
            return Err("an SSE frame larger than the fleet relays".into());
        }
        Ok(out)
    }
}

/// Where the first frame ends (index of its terminating blank line) and how many bytes the
/// terminator takes.
fn frame_end(buf: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while i < buf.len() {
        for term in [&b"\r\n\r\n"[..], b"\n\n", b"\r\r"] {
            if buf[i..].starts_with(term) {
                return Some((i, term.len()));
            }
        }
        i += 1;
    }
    None
}

fn parse(raw: &[u8]) -> Frame {
    let text = String::from_utf8_lossy(raw);
    let mut f = Frame::default();
    let mut data: Vec<&str> = Vec::new();
    let mut comments: Vec<&str> = Vec::new();
    for line in text.split(['\n', '\r']).filter(|l| !l.is_empty()) {
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "" => comments.push(value),
            "id" => f.id = Some(value.to_string()),
            "event" => f.event = Some(value.to_string()),
            "data" => data.push(value),
            "retry" => f.retry = value.parse().ok(),
            _ => {}
        }
    }
    if !data.is_empty() {
        f.data = Some(data.join("\n"));
    }
    if !comments.is_empty() {
        f.comment = Some(comments.join("\n"));
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_across_chunks() {
        let mut p = Parser::default();
        assert!(
            p.feed(&Bytes::from_static(b"id: 1\ndata: {\"a\""))
                .expect("a well-formed stream")
                .is_empty()
        );
        let frames = p
            .feed(&Bytes::from_static(
                b":1}\n\n: hb\n\nid:2\r\ndata: x\r\ndata: y\r\n\r\nrest",
            ))
            .expect("a well-formed stream");
        assert_eq!(
            frames,
            vec![
                Frame {
                    id: Some("1".into()),
                    data: Some("{\"a\":1}".into()),
                    ..Default::default()
                },
                Frame {
                    comment: Some("hb".into()),
                    ..Default::default()
                },
                Frame {
                    id: Some("2".into()),
                    data: Some("x\ny".into()),
                    ..Default::default()
                },
            ]
        );
        // Re-emitted as warp writes it.
        assert_eq!(frames[2].to_event().to_string(), "data:x\ndata:y\nid:2\n\n");
    }

    #[test]
    fn an_endless_frame_is_cut() {
        let mut p = Parser::default();
        let chunk = Bytes::from(vec![b'a'; 1024 * 1024]);
        let mut cut = false;
        for _ in 0..5 {
            if p.feed(&chunk).is_err() {
                cut = true;
                break;
            }
        }
        assert!(cut);
    }
}
