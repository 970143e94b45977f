//! The readings (`GET /read`) the session actor last gave, kept where every handle sees them.
//! A reading stays true until the actor handles anything that may change the screen or the
//! status (output, a timer, an exit, a command that writes), and the actor forgets them all
//! before it does; until then a read of the same lines and format is answered here, without a
//! round trip through the actor's queue. Fleets poll `/read` far more often than their agents'
//! screens change, and that round trip (two task wake-ups per read, one of them on the
//! session's busiest task) was most of what a read of an unchanged screen cost beyond the HTTP
//! itself.

use std::sync::RwLock;

use super::handle::Reading;
use crate::screen::Format;

/// Distinct (lines, format) readings kept at once; a client reads one or two kinds.
const KEPT: usize = 4;

/// The readings since the actor last handled a change. Written only by the actor.
#[derive(Debug, Default)]
pub struct Readings {
    kept: RwLock<Vec<(Option<usize>, Format, Reading)>>,
}

impl Readings {
    /// The reading of `lines` in `format`, if the actor gave one since the last change.
    pub fn get(&self, lines: Option<usize>, format: Format) -> Option<Reading> {
        let kept = self.kept.read().unwrap_or_else(|p| p.into_inner());
        kept.iter()
            .find(|(l, f, _)| *l == lines && *f == format)
            .map(|(.., r)| r.clone())
    }

    /// Keep a reading the actor just gave (actor only).
    pub(super) fn keep(&self, lines: Option<usize>, format: Format, reading: &Reading) {
        let mut kept = self.kept.write().unwrap_or_else(|p| p.into_inner());
        kept.retain(|(l, f, _)| (*l, *f) != (lines, format));
        if kept.len() >= KEPT {
            kept.remove(0);
        }
        kept.push((lines, format, reading.clone()));
    }

    /// Forget every reading: the actor is about to handle something that may change them
    /// (actor only). An uncontended write lock, nothing next to parsing a batch of output.
    pub(super) fn forget(&self) {
        let mut kept = self.kept.write().unwrap_or_else(|p| p.into_inner());
        kept.clear();
    }
}
