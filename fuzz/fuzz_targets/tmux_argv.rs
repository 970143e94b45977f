//! Arbitrary tmux stand-in argv (NUL-separated arguments) → command splitter and parser.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    aegis::fuzzing::exercise_tmux_argv(data);
});
