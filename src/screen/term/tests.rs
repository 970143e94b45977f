//! History rules and used cells, checked through the screen's capture.

use crate::screen::{CaptureOptions, LineRef, Screen};

fn all(s: &Screen) -> String {
    s.capture(&CaptureOptions {
        start: Some(LineRef::Edge),
        ..Default::default()
    })
}

#[test]
fn the_history_drops_a_tenth_at_the_limit() {
    let mut s = Screen::new(10, 2, 20);
    for i in 0..30 {
        s.process(format!("{i}\r\n").as_bytes());
    }
    // 29 lines left the screen; at 20 the oldest 2 go at once, twice over.
    assert_eq!(s.history_size(), 19);
    assert!(all(&s).starts_with("10\n11\n"));
}

#[test]
fn a_full_clear_pushes_the_screen_into_the_history() {
    let mut s = Screen::new(10, 3, 100);
    s.process(b"one\r\ntwo\x1b[2J\x1b[Hthree");
    assert_eq!(all(&s), "one\ntwo\nthree\n\n\n");
}

#[test]
fn a_scrolling_region_s_top_line_enters_the_history() {
    let mut s = Screen::new(10, 4, 100);
    s.process(b"head\x1b[2;3r\x1b[2;1Ha\r\nb\r\nc");
    assert_eq!(s.history_size(), 1);
    assert_eq!(all(&s), "a\nhead\nb\nc\n\n");
}

#[test]
fn erased_cells_count_as_used_only_when_written() {
    let mut s = Screen::new(10, 2, 0);
    s.process(b"abc   \x1b[1;2H\x1b[K");
    let joined = s.capture(&CaptureOptions {
        join: true,
        ..Default::default()
    });
    // The written spaces after "abc" were erased: tmux still prints up to them.
    assert_eq!(joined, "a     \n\n");
}
