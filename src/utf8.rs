//! Decoding a byte stream (pty output, typed input) as UTF-8 text across chunk boundaries: a
//! character split between two reads is carried over, never turned into two replacement
//! characters; bytes that are not UTF-8 at all become U+FFFD. Used wherever raw terminal bytes
//! leave the daemon as text (WebSocket frames, asciicast recordings).

/// Splits a byte stream into valid UTF-8 strings, carrying an incomplete trailing character
/// over to the next chunk.
#[derive(Debug, Default)]
pub struct Utf8Carry {
    pending: Vec<u8>,
}

impl Utf8Carry {
    /// [`Utf8Carry::push`] without copying in the common case (nothing carried, `chunk` valid
    /// UTF-8 up to an incomplete last character).
    pub fn push_borrowed<'a>(&mut self, chunk: &'a [u8]) -> std::borrow::Cow<'a, str> {
        if self.pending.is_empty() {
            match std::str::from_utf8(chunk) {
                Ok(s) => return std::borrow::Cow::Borrowed(s),
                Err(e) if e.error_len().is_none() => {
                    let (good, tail) = chunk.split_at(e.valid_up_to());
                    self.pending = tail.to_vec();
                    // Valid by construction: from_utf8 just said so.
                    return std::borrow::Cow::Borrowed(
                        std::str::from_utf8(good).unwrap_or_default(),
                    );
                }
                Err(_) => {}
            }
        }
        std::borrow::Cow::Owned(self.push(chunk))
    }

    /// Decode `chunk` (after whatever was carried). Returns the text that is complete now.
    pub fn push(&mut self, chunk: &[u8]) -> String {
        let mut buf = std::mem::take(&mut self.pending);
        buf.extend_from_slice(chunk);
        let mut out = String::with_capacity(buf.len());
        let mut rest = &buf[..];
        loop {
            match std::str::from_utf8(rest) {
                Ok(s) => {
                    out.push_str(s);
                    break;
                }
                Err(e) => {
                    let (good, bad) = rest.split_at(e.valid_up_to());
                    // Valid by construction: from_utf8 just said so.
                    out.push_str(std::str::from_utf8(good).unwrap_or_default());
                    match e.error_len() {
                        // An incomplete sequence at the end: wait for the next chunk.
                        None => {
                            self.pending = bad.to_vec();
                            break;
                        }
                        Some(n) => {
                            out.push('\u{FFFD}');
                            rest = &bad[n..];
                        }
                    }
                }
            }
        }
        out
    }
}
