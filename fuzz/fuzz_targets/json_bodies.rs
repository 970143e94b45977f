//! Arbitrary bytes → every request body type of the API.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    aegis::fuzzing::parse_every_request(data);
});
