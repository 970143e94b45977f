//! Wall-clock time as the daemon records it: milliseconds since the Unix epoch.
//!
//! A leaf: every layer stamps events, records and answers with [`now_ms`], so it lives below
//! all of them.

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
