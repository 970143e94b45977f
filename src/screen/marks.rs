//! Shell marks: the OSC 133 sequences (the FinalTerm convention, also spoken by kitty,
//! WezTerm, iTerm2 and VS Code) with which a shell says where its prompt starts (`A`), where
//! the command line starts (`B`), that a command runs (`C`) and that it finished (`D`, with its
//! exit status). The parser hands them over with their place in the chunk, so the session can
//! turn them into command records with output offsets.
//!
//! Payloads: `A`, `B`, `C`, `C;cmdline_url=<percent-encoded command line>` (kitty's key; the
//! shell integration Aegis installs sends it), `D` and `D;<status>`. Other keys after `;` are
//! ignored; an unknown letter is no mark. Marks never change the screen.

/// Marks kept between two takes. The session takes them after every chunk, so this bounds
/// one chunk full of marks (4 per command): past it, marks are dropped, not memory.
pub const MAX_PENDING: usize = 256;

/// One mark and where its sequence lies in the chunk that carried it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellMark {
    /// Bytes into the chunk where the sequence ends (the next byte is the command's output
    /// for a `C`).
    pub end: usize,
    /// Length of the whole sequence (`ESC ]` through its terminator): a `D` starts `len`
    /// bytes before its `end`, possibly in an earlier chunk.
    pub len: usize,
    pub kind: MarkKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkKind {
    /// `A`: the prompt starts.
    PromptStart,
    /// `B`: the prompt ends, the command line starts.
    InputStart,
    /// `C`: the command line was accepted and runs; the command's text when the shell says it.
    CommandStart { command: Option<String> },
    /// `D`: the command finished, with its exit status when the shell says it.
    CommandEnd { exit_code: Option<i32> },
}

impl MarkKind {
    /// The mark an OSC 133 payload (what follows `133;`) stands for.
    pub fn parse(payload: &[u8]) -> Option<MarkKind> {
        let mut fields = payload.split(|&b| b == b';');
        let letter = fields.next()?;
        Some(match letter {
            b"A" => MarkKind::PromptStart,
            b"B" => MarkKind::InputStart,
            b"C" => MarkKind::CommandStart {
                command: fields
                    .find_map(|f| f.strip_prefix(b"cmdline_url=".as_slice()))
                    .map(percent_decode),
            },
            b"D" => MarkKind::CommandEnd {
                exit_code: fields
                    .next()
                    .and_then(|f| std::str::from_utf8(f).ok())
                    .and_then(|s| s.parse().ok()),
            },
            _ => return None,
        })
    }
}

/// `%XX` escapes decoded; an incomplete or invalid escape is kept as it is.
fn percent_decode(s: &[u8]) -> String {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let hex = s
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (s[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::screen::Screen;

    #[test]
    fn payloads() {
        let cases: [(&[u8], Option<MarkKind>); 8] = [
            (b"A", Some(MarkKind::PromptStart)),
            (b"B", Some(MarkKind::InputStart)),
            (b"C", Some(MarkKind::CommandStart { command: None })),
            (
                b"C;cmdline_url=echo%20hi%3B%0A%zz",
                Some(MarkKind::CommandStart {
                    command: Some("echo hi;\n%zz".into()),
                }),
            ),
            (
                b"D;130",
                Some(MarkKind::CommandEnd {
                    exit_code: Some(130),
                }),
            ),
            (b"D", Some(MarkKind::CommandEnd { exit_code: None })),
            (b"D;x", Some(MarkKind::CommandEnd { exit_code: None })),
            (b"E;x", None),
        ];
        for (payload, want) in cases {
            assert_eq!(MarkKind::parse(payload), want, "{payload:?}");
        }
    }

    /// Marks come out in order with their place in the chunk, for either terminator, and leave
    /// the screen alone.
    #[test]
    fn marks_carry_their_place_in_the_chunk() {
        let mut s = Screen::new(20, 4, 10);
        let out = b"$ \x1b]133;C\x07hi\r\n\x1b]133;D;0\x1b\\\x1b]133;A\x07";
        let _ = s.process(out);
        let marks = s.take_marks();
        let kinds: Vec<_> = marks.iter().map(|m| m.kind.clone()).collect();
        assert_eq!(
            kinds,
            [
                MarkKind::CommandStart { command: None },
                MarkKind::CommandEnd { exit_code: Some(0) },
                MarkKind::PromptStart
            ]
        );
        assert_eq!(&out[marks[0].end..marks[0].end + 2], b"hi");
        assert_eq!(&out[marks[1].end - marks[1].len..][..4], b"\x1b]13");
        assert_eq!(marks[1].len, "\x1b]133;D;0\x1b".len());
        assert!(s.take_marks().is_empty());
        let text = s.snapshot(None, crate::screen::Format::Text);
        assert_eq!(text.lines().next(), Some("$ hi"));
    }
}
