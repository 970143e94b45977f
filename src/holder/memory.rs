//! A quiet holder's memory: what a burst of output used is given back to the system. The
//! burst passes through the holder in short-lived buffers (pty reads, batches, frames for the
//! daemon, the recording's pending events, the replay ring before the daemon's snapshot
//! replaces it); glibc keeps what they freed mapped, in holes of its heaps, for the next
//! allocation, so a thousand quiet sessions would each keep the high-water mark of their last
//! burst. [`one_arena`] at start and [`give_back`] once the session went quiet keep only what
//! the holder still holds.
//!
//! These are the only `unsafe` calls of the crate: glibc's allocator controls have no safe
//! binding. Both take no pointer and have no precondition.

/// One malloc arena for the whole process, set before any thread starts. glibc gives each
/// thread that allocates an arena of its own: the pty reader thread's would hold the chunks of
/// a burst (freed by the main thread) as a free top that `malloc_trim` never gives back in
/// arenas other than the main one. The holder's threads allocate little, so they do not
/// contend for the one arena.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)] // reason: glibc's mallopt has no safe binding; see SAFETY below
pub(super) fn one_arena() {
    // SAFETY: `mallopt` takes two integers and only sets an allocator parameter, under the
    // allocator's lock; M_ARENA_MAX is a valid parameter for any value >= 1.
    if unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) } != 1 {
        tracing::debug!("mallopt(M_ARENA_MAX) refused; threads keep their own arenas");
    }
}

/// Return every free page of the allocator's heap to the system (`malloc_trim(0)`). Cheap
/// enough to run once per quiet moment: it walks the free lists and copies nothing.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)] // reason: glibc's malloc_trim has no safe binding; see SAFETY below
pub(super) fn give_back() {
    // SAFETY: `malloc_trim` takes no pointer: it only releases free memory the allocator owns,
    // under the allocator's own locks, so it is safe at any time from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Other allocators have no such controls: nothing to set.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(super) fn one_arena() {}

/// Other allocators return freed memory on their own, or not at all.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(super) fn give_back() {}
