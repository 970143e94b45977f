//! Arbitrary child output → screen model (history compacted mid-stream, a replay snapshot
//! fed to a fresh model) → detector → snapshots (text, ANSI, redraw). The
//! first two bytes pick the terminal size (including sizes vt100 cannot handle, which the
//! wrapper must clamp); the rest is fed in chunks, with a resize in the middle.
#![no_main]

use aegis::fuzzing::exercise_screen;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    exercise_screen(data);
});
