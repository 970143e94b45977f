//! Giving memory a burst of output used back to the system. glibc keeps what a process freed
//! mapped, in holes of its heaps, for the next allocation: a holder would keep the high-water
//! mark of its last burst (pty reads, frames, the replay ring before a snapshot replaced it),
//! and the daemon the full rows of histories it has since compacted. [`one_arena`] (holders,
//! at start), [`give_back`] (holders, once quiet) and [`give_back_soon`] (the daemon, after a
//! compaction freed rows) keep only what is still held.
//!
//! These are the only `unsafe` calls of the crate: glibc's allocator controls have no safe
//! binding. Both take no pointer and have no precondition.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// One malloc arena for the whole process, set before any thread starts. glibc gives each
/// thread that allocates an arena of its own: a holder's pty reader thread's would hold the
/// chunks of a burst (freed by the main thread) as a free top that `malloc_trim` never gives
/// back in arenas other than the main one. A holder's threads allocate little, so they do not
/// contend for the one arena; the daemon's runtime threads would, so it keeps glibc's default.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)] // reason: glibc's mallopt has no safe binding; see SAFETY below
pub fn one_arena() {
    // SAFETY: `mallopt` takes two integers and only sets an allocator parameter, under the
    // allocator's lock; M_ARENA_MAX is a valid parameter for any value >= 1.
    if unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) } != 1 {
        tracing::debug!("mallopt(M_ARENA_MAX) refused; threads keep their own arenas");
    }
}

/// Return every free page of the allocator's heaps to the system (`malloc_trim(0)`, which
/// walks every arena). It walks the free lists and copies nothing, but holds each arena's
/// lock while it does, so the daemon runs it off its runtime threads ([`give_back_soon`]).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)] // reason: glibc's malloc_trim has no safe binding; see SAFETY below
pub fn give_back() {
    // SAFETY: `malloc_trim` takes no pointer: it only releases free memory the allocator owns,
    // under the allocator's own locks, so it is safe at any time from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Other allocators have no such controls: nothing to set.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn one_arena() {}

/// Other allocators return freed memory on their own, or not at all.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn give_back() {}

/// How long calls to [`give_back_soon`] are gathered into one trim: a thousand sessions that
/// compact within a second cost one walk of the heaps, not a thousand.
const GATHER: Duration = Duration::from_secs(1);

/// A trim is scheduled and has not run yet.
static SCHEDULED: AtomicBool = AtomicBool::new(false);

/// [`give_back`] within [`GATHER`], on a blocking thread; calls until then share that one
/// trim. Must be called from inside the tokio runtime.
pub fn give_back_soon() {
    if SCHEDULED.swap(true, Ordering::AcqRel) {
        return;
    }
    tokio::spawn(async {
        // Not a synchronisation: the delay gathers the compactions of many sessions.
        tokio::time::sleep(GATHER).await;
        SCHEDULED.store(false, Ordering::Release);
        if let Err(e) = tokio::task::spawn_blocking(give_back).await {
            tracing::debug!(error = %e, "malloc_trim did not run");
        }
    });
}
