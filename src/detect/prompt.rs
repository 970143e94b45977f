//! Turning a permission dialog on screen into a structured request: kind, title, detail
//! (the command or file), and the numbered options with which one the cursor is on.
//!
//! Options are lines of the form `<cursor>? <n>. <label>` where the cursor glyph is one of
//! `❯ › > ●` (Claude, Codex, older TUIs, Gemini). The request's identity across evaluations is
//! a fingerprint of what it asks (not of where the cursor is), so moving the cursor keeps the
//! same request id, and a second dialog with different content gets a new one.

use std::hash::{Hash, Hasher};
use std::sync::OnceLock;

use regex::Regex;

use super::profile::{PermissionKind, Rule};
use super::region::Line;

/// One answer a dialog offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptOption {
    /// The number shown on screen (1-based).
    pub index: u32,
    pub label: String,
}

/// A permission dialog currently on screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionRequest {
    pub id: uuid::Uuid,
    pub kind: PermissionKind,
    pub title: String,
    pub detail: String,
    pub options: Vec<PromptOption>,
    /// The option the cursor is on, if any is marked.
    pub selected: Option<u32>,
    /// The rule that recognised the dialog.
    pub rule: String,
    /// Milliseconds since the Unix epoch.
    pub created_at_ms: u64,
    pub expires_at_ms: Option<u64>,
    /// Identity of the dialog's content (kind, title, detail, option labels).
    pub fingerprint: u64,
}

fn option_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        // A constant pattern; compiling it cannot fail.
        #[allow(clippy::expect_used)]
        Regex::new(r"^\s*(?:│\s*)?([❯›>●]\s*)?(\d{1,2})\.\s+(.*?)\s*│?\s*$")
            .expect("constant pattern")
    })
}

/// What a dialog shows, parsed from the matched region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub kind: PermissionKind,
    pub title: String,
    pub detail: String,
    pub options: Vec<PromptOption>,
    pub selected: Option<u32>,
    pub fingerprint: u64,
}

fn capture(re: &Regex, lines: &[Line]) -> Option<String> {
    lines.iter().find_map(|l| {
        re.captures(&l.text).map(|c| {
            c.get(1)
                .or_else(|| c.get(0))
                .map(|m| m.as_str().trim().to_owned())
                .unwrap_or_default()
        })
    })
}

/// The option that declines a dialog of `kind`, if it offers one: a trust dialog's own "no"
/// ("Don't trust", "No, exit"). Other dialogs are declined with Esc, but Gemini CLI exits when
/// Esc is pressed in its trust dialog ("A folder trust level must be selected").
pub fn reject_option(kind: PermissionKind, options: &[PromptOption]) -> Option<u32> {
    if kind != PermissionKind::Trust {
        return None;
    }
    options
        .iter()
        .find(|o| {
            let l = o.label.to_lowercase().replace('\u{2019}', "'");
            l.starts_with("no") || l.starts_with("don't") || l.starts_with("do not")
        })
        .map(|o| o.index)
}

/// Parse the dialog that `rule` recognised in `lines`.
pub fn parse(rule: &Rule, lines: &[Line]) -> Parsed {
    let kind = rule.kind.unwrap_or(PermissionKind::Other);
    let mut options = Vec::new();
    let mut selected = None;
    for l in lines {
        if let Some(c) = option_re().captures(&l.text) {
            let index: u32 = c[2].parse().unwrap_or(0);
            // A numbered list restarts: keep only the last list on screen.
            if index == 1 {
                options.clear();
                selected = None;
            }
            if c.get(1).is_some() {
                selected = Some(index);
            }
            // Claude Code shows the answer it took with a check mark after the option for a
            // moment as the dialog closes: still the same dialog, not a new request.
            let label = c[3].strip_suffix('✔').map_or(&c[3], str::trim_end);
            options.push(PromptOption {
                index,
                label: label.to_owned(),
            });
        }
    }
    let title = rule
        .title
        .as_ref()
        .and_then(|re| capture(re, lines))
        .unwrap_or_default();
    let mut detail = rule
        .detail
        .as_ref()
        .and_then(|re| capture(re, lines))
        .unwrap_or_default();
    if detail.is_empty()
        && let Some(after) = &rule.detail_after
        && let Some(pos) = lines.iter().position(|l| after.is_match(&l.text))
    {
        detail = lines[pos + 1..]
            .iter()
            .map(|l| l.text.trim().trim_matches('│').trim())
            .find(|t| !t.is_empty())
            .unwrap_or_default()
            .to_owned();
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    kind.hash(&mut h);
    title.hash(&mut h);
    detail.hash(&mut h);
    for o in &options {
        o.index.hash(&mut h);
        o.label.hash(&mut h);
    }
    Parsed {
        kind,
        title,
        detail,
        options,
        selected,
        fingerprint: h.finish(),
    }
}

impl PermissionRequest {
    /// The option an approval picks by default: the first "yes/allow/trust" one, else 1.
    pub fn default_approve(&self) -> u32 {
        self.options
            .iter()
            .find(|o| {
                let l = o.label.to_lowercase();
                l.starts_with("yes") || l.starts_with("allow") || l.starts_with("trust")
            })
            .map_or(1, |o| o.index)
    }

    /// The option a rejection picks, if any (see [`reject_option`]).
    pub fn default_reject(&self) -> Option<u32> {
        reject_option(self.kind, &self.options)
    }

    /// Key names that move the cursor from the current selection to `target` and confirm.
    pub fn keys_for(&self, target: u32) -> Vec<String> {
        let from = self.selected.unwrap_or(1);
        let mut keys = Vec::new();
        let (key, n) = if target >= from {
            ("Down", target - from)
        } else {
            ("Up", from - target)
        };
        for _ in 0..n {
            keys.push(key.to_owned());
        }
        keys.push("Enter".to_owned());
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<Line> {
        text.lines()
            .enumerate()
            .map(|(i, t)| Line {
                row: i as u16,
                text: t.to_owned(),
            })
            .collect()
    }

    #[test]
    fn options_and_cursor() {
        let set = super::super::profile::ProfileSet::builtin().expect("valid");
        let claude = set.get("claude").expect("claude");
        let rule = claude
            .rules
            .iter()
            .find(|r| r.kind == Some(PermissionKind::Bash))
            .expect("bash rule");
        let p = parse(
            rule,
            &lines(
                " Bash command\n\n   rm -rf build\n   Remove the build dir\n\n Do you want to proceed?\n ❯ 1. Yes\n   2. Yes, and don't ask again for rm commands\n   3. No, and tell Claude what to do differently (esc)\n\n Esc to cancel",
            ),
        );
        assert_eq!(p.detail, "rm -rf build");
        assert_eq!(p.title, "Do you want to proceed?");
        assert_eq!(p.options.len(), 3);
        assert_eq!(p.selected, Some(1));
        assert_eq!(
            reject_option(p.kind, &p.options),
            None,
            "Esc declines a tool"
        );
    }

    #[test]
    fn trust_dialog_declines_with_its_own_no() {
        let set = super::super::profile::ProfileSet::builtin().expect("valid");
        let gemini = set.get("gemini").expect("gemini");
        let rule = gemini
            .rules
            .iter()
            .find(|r| r.kind == Some(PermissionKind::Trust))
            .expect("trust rule");
        let p = parse(
            rule,
            &lines(
                " │ Do you trust the files in this folder? │\n │ │\n │ ● 1. Trust folder (project) │\n │   2. Trust parent folder (dev) │\n │   3. Don't trust │",
            ),
        );
        assert_eq!(p.options.len(), 3, "{p:?}");
        assert_eq!(reject_option(p.kind, &p.options), Some(3));
    }

    #[test]
    fn a_dialog_showing_the_answer_it_took_is_the_same_dialog() {
        let set = super::super::profile::ProfileSet::builtin().expect("valid");
        let claude = set.get("claude").expect("claude");
        let rule = claude
            .rules
            .iter()
            .find(|r| r.kind == Some(PermissionKind::Trust))
            .expect("trust rule");
        let frame = |first: &str| {
            format!(
                " Quick safety check: Is this a project you created or one you trust?\n\n {first}\n   2. No, exit\n\n Enter to confirm · Esc to cancel"
            )
        };
        let asked = parse(rule, &lines(&frame("❯ 1. Yes, I trust this folder")));
        let closing = parse(rule, &lines(&frame("❯ 1. Yes, I trust this folder ✔")));
        assert_eq!(closing.options, asked.options);
        assert_eq!(closing.fingerprint, asked.fingerprint);
        // A check mark inside a label (the model picker's current model) stays.
        let picker = parse(rule, &lines(" ❯ 1. Default ✔  Opus\n   2. Sonnet"));
        assert_eq!(picker.options[0].label, "Default ✔  Opus");
    }
}
