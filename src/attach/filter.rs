//! What the attach client does with the bytes the user's terminal sends: find the detach
//! prefix, and drop replies the terminal makes to queries in the agent's output.
//!
//! Why drop replies: the agent's output reaches the user's terminal verbatim, so a query in it
//! (cursor position `CSI 6n`, device attributes `CSI c`, colours `OSC 10/11 ; ?`, `CSI ? … $ p`,
//! XTVERSION) is answered by that terminal too. The daemon already answers every query from its
//! screen model; the terminal's answer would arrive a second time, as if typed. Reply-shaped
//! input is dropped only within [`REPLY_WINDOW`] after a query went out, because some keys
//! share the shape (Shift-F3 is `CSI 1;2 R`, like a cursor report).

use std::time::{Duration, Instant};

/// How long after a query a reply is expected. Terminals answer within milliseconds; over SSH
/// a round trip can take a few hundred.
pub const REPLY_WINDOW: Duration = Duration::from_secs(2);

/// What one chunk of keyboard input amounts to.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Bytes to forward to the session.
    Send(Vec<u8>),
    /// Forward these bytes, then detach.
    Detach(Vec<u8>),
}

pub struct InputFilter {
    /// `None`: keys pass untouched (a tmux stand-in session, where the daemon handles the
    /// prefix).
    prefix: Option<u8>,
    /// The prefix was the last byte seen.
    armed: bool,
    queried_at: Option<Instant>,
}

impl InputFilter {
    pub fn new(prefix: u8) -> Self {
        Self::with_prefix(Some(prefix))
    }

    pub fn with_prefix(prefix: Option<u8>) -> Self {
        InputFilter {
            prefix,
            armed: false,
            queried_at: None,
        }
    }

    /// Note output going to the terminal; a query in it opens the reply window.
    pub fn saw_output(&mut self, bytes: &[u8], now: Instant) {
        if contains_query(bytes) {
            self.queried_at = Some(now);
        }
    }

    /// Process keyboard input: strip terminal replies (inside the window), handle the prefix.
    /// `prefix d` detaches, `prefix prefix` sends the prefix itself, and `prefix` followed by
    /// anything else sends both bytes, so a stray prefix is never lost.
    pub fn input(&mut self, bytes: &[u8], now: Instant) -> Action {
        let expecting = self
            .queried_at
            .is_some_and(|t| now.duration_since(t) < REPLY_WINDOW);
        let cleaned = if expecting {
            strip_replies(bytes)
        } else {
            bytes.to_vec()
        };
        let mut out = Vec::with_capacity(cleaned.len());
        for &b in &cleaned {
            let Some(prefix) = self.prefix else {
                out.push(b);
                continue;
            };
            if self.armed {
                self.armed = false;
                match b {
                    b'd' => return Action::Detach(out),
                    b if b == prefix => out.push(b),
                    b => out.extend_from_slice(&[prefix, b]),
                }
            } else if b == prefix {
                self.armed = true;
            } else {
                out.push(b);
            }
        }
        Action::Send(out)
    }
}

/// Whether `bytes` holds a terminal query that the terminal will answer.
fn contains_query(bytes: &[u8]) -> bool {
    const QUERIES: [&[u8]; 8] = [
        b"\x1b[6n",
        b"\x1b[?6n",
        b"\x1b[c",
        b"\x1b[0c",
        b"\x1b[>c",
        b"\x1b[>0c",
        b"\x1b[>q",
        b"\x1b[5n",
    ];
    QUERIES
        .iter()
        .any(|q| bytes.windows(q.len()).any(|w| w == *q))
        || osc_query(bytes)
        || bytes.windows(3).any(|w| w == b"$p\x1b") // DECRQM … `$p` (then more output)
        || bytes.ends_with(b"$p")
}

fn osc_query(bytes: &[u8]) -> bool {
    [
        b"\x1b]10;?".as_slice(),
        b"\x1b]11;?",
        b"\x1b]12;?",
        b"\x1b]4;",
    ]
    .iter()
    .any(|q| bytes.windows(q.len()).any(|w| w == *q))
}

/// Remove terminal replies from input: `CSI ? … c`, `CSI > … c`, `CSI digits ; digits R`,
/// `CSI ? … $ y`, `CSI 0 n`, `OSC … (BEL | ST)`, `DCS … ST`.
pub fn strip_replies(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if let Some(len) = reply_len(&bytes[i..]) {
            i += len;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// Length of the reply starting at `b[0]`, if one does.
fn reply_len(b: &[u8]) -> Option<usize> {
    match b {
        [0x1b, b'[', rest @ ..] => {
            let params = rest
                .iter()
                .take_while(|c| c.is_ascii_digit() || matches!(c, b';' | b'?' | b'>' | b'$'))
                .count();
            let fin = *rest.get(params)?;
            let p = &rest[..params];
            let private = p.first().is_some_and(|c| matches!(c, b'?' | b'>'));
            let ok = match fin {
                b'c' => private,
                b'R' => !private && p.contains(&b';'),
                b'y' => p.ends_with(b"$"),
                b'n' => p == b"0",
                _ => false,
            };
            ok.then_some(2 + params + 1)
        }
        [0x1b, b']', rest @ ..] | [0x1b, b'P', rest @ ..] => {
            for (i, w) in rest.windows(2).enumerate() {
                if w[0] == 0x07 {
                    return Some(2 + i + 1);
                }
                if w == b"\x1b\\" {
                    return Some(2 + i + 2);
                }
            }
            (rest.last() == Some(&0x07)).then_some(2 + rest.len())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_d_detaches_and_double_prefix_sends_it() {
        let mut f = InputFilter::new(0x02);
        let now = Instant::now();
        assert_eq!(f.input(b"ab\x02d", now), Action::Detach(b"ab".to_vec()));
        let mut f = InputFilter::new(0x02);
        assert_eq!(f.input(b"\x02\x02x", now), Action::Send(b"\x02x".to_vec()));
        assert_eq!(f.input(b"\x02", now), Action::Send(vec![]));
        assert_eq!(f.input(b"c", now), Action::Send(b"\x02c".to_vec()));
    }

    #[test]
    fn replies_are_dropped_only_after_a_query() {
        let mut f = InputFilter::new(0x02);
        let now = Instant::now();
        let keys = b"x\x1b[12;40Ry\x1b[?62;22cz\x1b]11;rgb:0000/0000/0000\x1b\\!";
        assert_eq!(f.input(keys, now), Action::Send(keys.to_vec()));
        f.saw_output(b"hello\x1b[6n", now);
        assert_eq!(f.input(keys, now), Action::Send(b"xyz!".to_vec()));
        let later = now + REPLY_WINDOW + Duration::from_millis(1);
        assert_eq!(
            f.input(b"\x1b[1;2R", later),
            Action::Send(b"\x1b[1;2R".to_vec())
        );
    }

    #[test]
    fn arrows_are_not_replies() {
        assert_eq!(
            strip_replies(b"\x1b[A\x1b[1;5C"),
            b"\x1b[A\x1b[1;5C".to_vec()
        );
    }
}
