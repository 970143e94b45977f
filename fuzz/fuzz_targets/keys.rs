//! Arbitrary key-name strings → key encoder.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let keys: Vec<&str> = s.split('\n').collect();
        let _ = aegis::session::keys::encode_all(&keys, false);
        let _ = aegis::session::keys::encode_all(&keys, true);
    }
});
