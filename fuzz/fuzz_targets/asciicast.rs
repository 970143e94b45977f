//! Arbitrary recording files → the asciicast reader (transcripts and downloads).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    aegis::fuzzing::exercise_asciicast(data);
});
