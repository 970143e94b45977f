//! Property tests for invariants that must hold for any input: the screen model never panics
//! and its text and ANSI snapshots agree once styling is stripped; every request body parser
//! survives arbitrary bytes; the input queue writes jobs in the order they were queued. The
//! fuzz targets in fuzz/ run the same entry points (`aegis::fuzzing`) much longer.

use std::time::Duration;

use aegis::screen::{Format, Screen};
use aegis::session::input::{self, Step};
use proptest::prelude::*;

/// Terminal-ish byte soup: text, UTF-8 (CJK, emoji), controls and escape sequences.
fn terminal_bytes() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        "[ -~]{1,20}".prop_map(String::into_bytes),
        Just("表示🙂é\u{301}".as_bytes().to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\t".to_vec()),
        (0u8..120, 0u8..60).prop_map(|(r, c)| format!("\x1b[{r};{c}H").into_bytes()),
        (0u16..300).prop_map(|n| format!("\x1b[38;5;{n}m").into_bytes()),
        Just(b"\x1b[0m\x1b[1m\x1b[4m\x1b[7m".to_vec()),
        Just(b"\x1b[2J\x1b[K\x1b[1J".to_vec()),
        Just(b"\x1b[?1049h".to_vec()),
        Just(b"\x1b[?1049l".to_vec()),
        (1u8..30, 1u8..30).prop_map(|(a, b)| format!("\x1b[{a};{b}r").into_bytes()),
        Just(b"\x1bM\x1bD\x1b7\x1b8".to_vec()),
        any::<u8>().prop_map(|b| vec![b]),
    ];
    proptest::collection::vec(token, 0..200).prop_map(|v| v.concat())
}

/// ANSI rows with their escape sequences (SGR, and SO/SI around line-drawing characters)
/// removed and trailing spaces trimmed, as the text rows are. Not replayed on a fresh screen:
/// tmux (and so the model) can leave a row holding more cells than the width after a wide
/// character is split by a restore, which no terminal would redraw the same way.
fn strip_styling(ansi_rows: &[String]) -> Vec<String> {
    ansi_rows
        .iter()
        .map(|r| {
            let mut out = String::new();
            let mut chars = r.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '\x1b' => {
                        if chars.peek() == Some(&'[') {
                            chars.next();
                            for f in chars.by_ref() {
                                if ('@'..='~').contains(&f) {
                                    break;
                                }
                            }
                        } else {
                            chars.next();
                        }
                    }
                    '\x0e' | '\x0f' => {}
                    c => out.push(c),
                }
            }
            out.trim_end_matches(' ').to_owned()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn screen_never_panics_on_raw_bytes(data in proptest::collection::vec(any::<u8>(), 0..4000)) {
        aegis::fuzzing::exercise_screen(&data);
    }

    #[test]
    fn text_and_ansi_snapshots_agree(data in terminal_bytes(), cols in 2u16..100, rows in 2u16..40) {
        let mut screen = Screen::new(cols, rows, 100);
        screen.process(&data);
        let text = screen.rows(None, Format::Text);
        let ansi = screen.rows(None, Format::Ansi);
        prop_assert_eq!(text.len(), ansi.len());
        prop_assert_eq!(strip_styling(&ansi), text);
    }

    #[test]
    fn snapshots_with_scrollback_never_exceed_the_request(data in terminal_bytes(), lines in 1usize..300) {
        let mut screen = Screen::new(40, 10, 200);
        screen.process(&data);
        let out = screen.rows(Some(lines), Format::Text);
        prop_assert!(out.len() <= lines);
    }

    #[test]
    fn request_parsers_survive_any_bytes(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        aegis::fuzzing::parse_every_request(&data);
    }

    #[test]
    fn key_encoding_never_panics(keys in proptest::collection::vec(".{0,12}", 0..10)) {
        let _ = aegis::session::keys::encode_all(&keys, false);
        let _ = aegis::session::keys::encode_all(&keys, true);
    }

    #[test]
    fn input_queue_preserves_order(chunks in proptest::collection::vec("[a-z]{1,8}", 1..40)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let written = rt.block_on(async {
            let (writer, mut rx) = tokio::sync::mpsc::channel::<aegis::pty::WriteRequest>(4);
            // A stand-in for the pty writer thread: acknowledge each write after recording it.
            let recorder = tokio::spawn(async move {
                let mut out = Vec::new();
                while let Some(req) = rx.recv().await {
                    out.extend_from_slice(&req.bytes);
                    if let Some(ack) = req.ack {
                        let _ = ack.send(Ok(()));
                    }
                }
                out
            });
            let queue = input::spawn_worker(writer);
            let mut done = Vec::new();
            for (i, c) in chunks.iter().enumerate() {
                let (tx, rx) = tokio::sync::oneshot::channel();
                let mut steps = vec![Step::Write(c.as_bytes().to_vec())];
                if i % 3 == 0 {
                    steps.push(Step::Pause(Duration::from_micros(50)));
                    steps.push(Step::Write(b"|".to_vec()));
                }
                queue.send(input::InputJob { steps, done: tx }).await.expect("queue open");
                done.push(rx);
            }
            for d in done {
                d.await.expect("job finished").expect("job ok");
            }
            drop(queue);
            recorder.await.expect("recorder")
        });
        let expected: String = chunks.iter().enumerate().map(|(i, c)| if i % 3 == 0 { format!("{c}|") } else { c.clone() }).collect();
        prop_assert_eq!(String::from_utf8(written).expect("utf-8"), expected);
    }
}
