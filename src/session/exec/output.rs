//! An exec's output as text: the bytes the command printed, rendered as a terminal shows them
//! (colours dropped, `\r` progress lines settled), without what the shell draws around them.
//!
//! - zsh's mark for output without a final newline (`PROMPT_SP`, see [`EolMark`]) comes
//!   before the shell's hooks run, so it lies inside the marked range too; it is taken out
//!   here, where both paths meet, rather than by setting `PROMPT_EOL_MARK` in the integration
//!   script: that would change what the user sees in the terminal, a theme's prompt hook may
//!   set it again, and a session without integration draws it anyway.
//! - Without marks ([`Typed`]), the bytes start with the echoed command line and end with the
//!   next prompt. The rendering starts from the prompt the line was typed after, so the echo
//!   wraps where the terminal wrapped it; it ends with the line editor's newline. The next
//!   prompt is recognised as the text before the cursor it had when the line was typed, and
//!   erased from where it starts, which keeps a last line printed without a newline (`abc$ `
//!   is `abc`). Without marks this is a guess: a prompt that changed (a directory after `cd`)
//!   goes with its whole row, so a last line without a newline goes with it; one that grew in
//!   front (`(venv) $ `) leaves what it added; one drawn after such a line before the exec
//!   (`abc$ `) is not recognised, nor one the screen did not show yet when the line was typed.

use crate::screen::{Format, HistoryLimits, Screen};

/// Lines of output an answer carries at most (the last ones); the transcript has all.
const MAX_OUTPUT_LINES: usize = crate::screen::MAX_SNAPSHOT_LINES;

/// How a command line was typed into a shell without marks.
#[derive(Debug, Clone, Copy)]
pub struct Typed<'a> {
    /// The cursor's row up to the cursor when the line was typed: the shell's prompt.
    pub prompt: &'a str,
    /// The cursor's column then.
    pub column: u16,
    /// Whether the shell came back to its prompt: the bytes end with the next prompt.
    pub back_at_prompt: bool,
}

/// `bytes` as a terminal `cols` wide shows them, without zsh's end-of-line mark, trailing
/// blank lines dropped; with `typed`, without the echoed command line and the next prompt.
/// Returns the text and whether lines were cut.
pub fn render(bytes: &[u8], cols: u16, typed: Option<&Typed<'_>>) -> (String, bool) {
    let mut screen = Screen::with_limits(
        cols,
        crate::screen::MAX_ROWS,
        HistoryLimits::lines(MAX_OUTPUT_LINES),
    );
    let mut bytes = bytes;
    let mut echo_rows = 0;
    if let Some(t) = typed {
        seed(&mut screen, t);
        // The echo ends with the line editor's newline for Enter: the line itself holds none
        // (it is one line without control characters, and both line editors wrap it by
        // writing on or moving up), so the first one is it.
        let newline = bytes.iter().position(|&b| b == b'\n');
        let echo = newline.map_or(bytes.len(), |i| i + 1);
        let _ = screen.process(&bytes[..echo]);
        bytes = &bytes[echo..];
        // After the newline the cursor is on the output's first row; without one, on the
        // echo's last.
        echo_rows = usize::from(screen.cursor().0) + usize::from(newline.is_none());
    }
    feed(&mut screen, bytes);
    if let Some(t) = typed.filter(|t| t.back_at_prompt) {
        erase_prompt(&mut screen, t);
    }
    let rows = screen.rows(Some(MAX_OUTPUT_LINES), Format::Text);
    let mut rows: Vec<&str> = rows.iter().map(|r| r.trim_end()).collect();
    while rows.last().is_some_and(|r| r.is_empty()) {
        rows.pop();
    }
    let cut = rows.len() >= MAX_OUTPUT_LINES;
    // Cut lines are the oldest: the echo went with them.
    let from = if cut { 0 } else { echo_rows.min(rows.len()) };
    (rows[from..].join("\n"), cut)
}

/// Draw the prompt the line was typed after, leaving the cursor where it was.
fn seed(screen: &mut Screen, t: &Typed<'_>) {
    let _ = screen.process(t.prompt.as_bytes());
    let _ = screen.process(format!("\x1b[{}G", u32::from(t.column) + 1).as_bytes());
}

/// Erase the next prompt: from where its text starts when the cursor's row ends with the
/// prompt seen before the command, else the whole row (a prompt that changed, such as one
/// showing the directory after a `cd`). No prompt seen before (a shell that had just started
/// and whose prompt the screen had not shown yet) recognises nothing: the whole row goes.
fn erase_prompt(screen: &mut Screen, t: &Typed<'_>) {
    let (_, col) = screen.cursor();
    let before = screen.text_before_cursor();
    let seen = Some(t.prompt).filter(|p| !p.trim().is_empty());
    let from = match seen.and_then(|p| before.strip_suffix(p)) {
        Some(_) if col >= t.column => col - t.column,
        _ => 0,
    };
    let _ = screen.process(format!("\x1b[{}G\x1b[K", u32::from(from) + 1).as_bytes());
}

/// Process `bytes`, replacing zsh's last end-of-line mark ([`EolMark`]) by what it does
/// besides showing the mark: after output without a final newline, a new line.
fn feed(screen: &mut Screen, bytes: &[u8]) {
    let cols = screen.size().0;
    let Some(m) = EolMark::find(bytes, cols) else {
        let _ = screen.process(bytes);
        return;
    };
    let _ = screen.process(&bytes[..m.mark_end]);
    let (_, col) = screen.cursor();
    // A mark that wrapped (output ending a few cells before the last column, a wide mark)
    // is left as shown.
    let Some(at) = col.checked_sub(m.width) else {
        let _ = screen.process(&bytes[m.mark_end..]);
        return;
    };
    let newline = if at > 0 { "\r\n" } else { "" };
    let _ = screen.process(format!("\x1b[{}G\x1b[K{newline}", u32::from(at) + 1).as_bytes());
    let _ = screen.process(&bytes[m.end..]);
}

/// zsh's `PROMPT_SP`: before each prompt it prints `PROMPT_EOL_MARK` (`%` or, as root, `#` in
/// bold reverse unless the user set another, of any width), then spaces up to the last
/// column, `\r`, as many spaces as the mark is wide, and `\r`. After a final newline this
/// clears its own row; after output without one, the spaces wrap and the mark stays behind
/// the output. The shape is tied to the terminal's width: `cols - width` spaces
/// (`cols - width - 1` for a terminal without delayed wrap), `\r`, `width` spaces, `\r`. Past
/// a resize while the command ran, no shape matches and the mark stays.
#[derive(Debug, PartialEq, Eq)]
struct EolMark {
    /// Offset just past the mark (where its spaces start).
    mark_end: usize,
    /// Offset just past the sequence.
    end: usize,
    /// Columns the mark takes.
    width: u16,
}

impl EolMark {
    /// The last such sequence in `bytes`.
    fn find(bytes: &[u8], cols: u16) -> Option<EolMark> {
        let cols = usize::from(cols);
        // Spaces right before `at`, counted up to one more than a row holds.
        let spaces_before = |at: usize| {
            bytes[..at]
                .iter()
                .rev()
                .take(cols + 1)
                .take_while(|&&b| b == b' ')
                .count()
        };
        let crs = bytes.iter().enumerate().rev().filter(|(_, b)| **b == b'\r');
        for (last, _) in crs {
            let width = spaces_before(last);
            let Some(first) = last.checked_sub(width + 1) else {
                continue;
            };
            if bytes[first] != b'\r' || width >= cols {
                continue;
            }
            let run = spaces_before(first);
            // More spaces than the fill belong to the mark (one ending in a space).
            let fill = if run >= cols - width {
                cols - width
            } else if run > 0 && run + 1 == cols - width {
                run
            } else {
                continue;
            };
            return Some(EolMark {
                mark_end: first - fill,
                end: last + 1,
                width: u16::try_from(width).ok()?,
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// zsh's sequence for `mark` (`width` columns) on a terminal `cols` wide with delayed wrap.
    fn eol_mark(mark: &str, width: usize, cols: usize) -> String {
        format!(
            "{mark}{}\r{}\r",
            " ".repeat(cols - width),
            " ".repeat(width)
        )
    }

    #[test]
    fn output_is_rendered_as_shown() {
        assert_eq!(
            render(b"one\r\ntwo\r\n", 14, None),
            ("one\ntwo".into(), false)
        );
        assert_eq!(render(b"50%\r100%\r\n", 20, None).0, "100%");
    }

    #[test]
    fn zsh_end_of_line_mark_is_taken_out() {
        let default = "\x1b[1m\x1b[7m%\x1b[27m\x1b[1m\x1b[0m";
        for (out, want) in [
            ("abc", "abc"),
            ("one\r\ntwo\r\n", "one\ntwo"),
            ("x\r\ny", "x\ny"),
            ("", ""),
        ] {
            let bytes = format!("{out}{}", eol_mark(default, 1, 20));
            assert_eq!(render(bytes.as_bytes(), 20, None).0, want, "{out:?}");
        }
        // The user's own mark, wider and ending in a space.
        let bytes = format!("abc{}", eol_mark("<eol> ", 6, 20));
        assert_eq!(render(bytes.as_bytes(), 20, None).0, "abc");
        // A terminal without delayed wrap: one space less.
        let bytes = format!("one\r\ntwo\r\n\x1b[7m#\x1b[0m{}\r \r", " ".repeat(12));
        assert_eq!(render(bytes.as_bytes(), 14, None).0, "one\ntwo");
        let bytes = format!("abc#{}\r \r", " ".repeat(12));
        assert_eq!(render(bytes.as_bytes(), 14, None).0, "abc");
        // No mark at all (`PROMPT_EOL_MARK=''`).
        let bytes = format!("abc{}", eol_mark("", 0, 20));
        assert_eq!(render(bytes.as_bytes(), 20, None).0, "abc");
        // Output that fills its row: the mark starts the next one.
        let bytes = format!("{}{}", "y".repeat(20), eol_mark("%", 1, 20));
        assert_eq!(render(bytes.as_bytes(), 20, None).0, "y".repeat(20));
        // Spaces that are no mark's stay.
        let bytes = b"a   \r  \rb";
        assert_eq!(render(bytes, 20, None).0, "b");
        assert_eq!(EolMark::find(bytes, 20), None);
    }

    #[test]
    fn echo_and_next_prompt_go_without_marks() {
        let back = Typed {
            prompt: "$ ",
            column: 2,
            back_at_prompt: true,
        };
        let t = Some(&back);
        assert_eq!(render(b"echo hi\r\nhi\r\n$ ", 20, t).0, "hi");
        assert_eq!(render(b"printf abc\r\nabc$ ", 20, t).0, "abc");
        // A line longer than a row wraps after the prompt, as on the terminal.
        let long = format!("echo {}", "x".repeat(20));
        let bytes = format!("{long}\r\n{}\r\n$ ", "x".repeat(20));
        assert_eq!(render(bytes.as_bytes(), 20, t).0, "x".repeat(20));
        // A line that fills its row exactly: readline wraps, moves back up and redraws the
        // last character, so Enter leaves from the first row; zle stays on the second.
        let fill = format!("echo {}", "y".repeat(13));
        let ys = "y".repeat(13);
        let bash = format!(
            "{fill} \r\x1b[A{}\x1b[Ky\r\n\x1b[?2004l\r{ys}\r\n\x1b[?2004h$ ",
            "\x1b[C".repeat(19)
        );
        assert_eq!(render(bash.as_bytes(), 20, t).0, ys);
        let zsh = format!(
            "{fill} \r\x1b[K\x1b[K\x1b[?2004l\r\r\n{ys}\r\n{}$ ",
            eol_mark("%", 1, 20)
        );
        assert_eq!(render(zsh.as_bytes(), 20, t).0, ys);
        // Still running: no prompt to take away.
        let running = Typed {
            back_at_prompt: false,
            ..back
        };
        assert_eq!(
            render(b"echo a; sleep 9\r\na\r\n", 20, Some(&running)).0,
            "a"
        );
        // A prompt that changed goes with its row.
        let cd = Typed {
            prompt: "~ $ ",
            column: 4,
            ..back
        };
        assert_eq!(render(b"cd /\r\n/ $ ", 20, Some(&cd)).0, "");
        // Typed before the screen showed the prompt (a shell just started): the prompt comes
        // with the echo, and the next one goes with its row.
        let unseen = Typed {
            prompt: "",
            column: 0,
            ..back
        };
        assert_eq!(render(b"$ echo hi\r\nhi\r\n$ ", 20, Some(&unseen)).0, "hi");
    }
}
