//! What a read of the session is shown: a snapshot of the screen, and what the detector read
//! on that same screen (the evidence of its rule, the rows of a dialog).

use super::super::handle::{Reading, Snapshot};
use super::Actor;
use crate::screen::Format;
use crate::vocab::SessionStatus;

impl Actor {
    /// The bottom `lines` of the screen in `format`, with the status and the screen's state.
    pub(super) fn snapshot(&mut self, lines: Option<usize>, format: Format) -> Snapshot {
        let output = self.screen.snapshot(lines, format);
        let (cols, rows) = self.screen.size();
        Snapshot {
            output,
            status: self.live.borrow().status,
            cols,
            rows,
            cursor: self.screen.cursor_on_screen(),
            title: self.screen.title().to_owned(),
        }
    }

    /// A [`Reading`] of the bottom `lines` in `format`, after evaluating a screen that changed
    /// since the last evaluation (so the status describes the frame shown).
    pub(super) fn reading(&mut self, lines: Option<usize>, format: Format) -> Reading {
        self.catch_up();
        let snapshot = self.snapshot(lines, format);
        let explained = self.detector.explained();
        let prompt = matches!(
            snapshot.status,
            SessionStatus::PermissionPrompt | SessionStatus::Question
        );
        // A hook's claim can stand before the screen shows its state (Claude's
        // StopFailure arrives before the error is drawn): then the claim is what
        // decided, not a line of a screen that still reads otherwise.
        let claimed = self
            .hook
            .as_ref()
            .filter(|c| c.status == snapshot.status && c.status != self.screen_status);
        let evidence = match claimed {
            Some(c) => Some(format!("{} hook", c.event)),
            None => explained.lines.first().map(|l| l.text.trim().to_owned()),
        };
        Reading {
            evidence,
            // The dialog's rows come from the same evaluation as the rule's evidence,
            // not from the snapshot, so they are whole whatever `lines` asked for.
            dialog: (prompt && !explained.dialog.is_empty())
                .then(|| crate::detect::region::rows_text(&explained.dialog)),
            snapshot,
            output_json: Default::default(),
        }
    }
}
