//! The detection window and its regions, and matching rules against them.
//!
//! The window is the bottom `window` non-empty rows of the live screen (never scrollback:
//! old turns there must not match), read bottom-up so a tall screen costs only the rows needed.
//! Regions are slices of it: the bottom N lines, the lines after the last horizontal rule, the
//! lines between the last two rules (the input box), and, out of band, the OSC title and the
//! program's last OSC 7501 state report. A rule on the title or the report matches its
//! patterns against that one string.

use regex::Regex;

use super::profile::{Region, Rule};
use crate::screen::Screen;

/// One non-empty screen row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Zero-based row on the visible screen.
    pub row: u16,
    pub text: String,
}

/// The bottom of the screen, top to bottom, plus where the horizontal rules are.
#[derive(Debug, Default)]
pub struct Window {
    pub lines: Vec<Line>,
    /// Indexes into `lines` of horizontal rules.
    rules: Vec<usize>,
    pub title: String,
    /// The program's last state report (OSC 7501), empty without one.
    pub report: String,
}

/// `lines` as the screen shows them: one per row, with the empty rows between them restored.
pub fn rows_text(lines: &[Line]) -> String {
    let mut out = String::new();
    let mut prev: Option<u16> = None;
    for l in lines {
        if let Some(p) = prev {
            // Rows only grow; `max(1)` keeps lines apart even if they did not.
            let breaks = l.row.saturating_sub(p).max(1);
            out.extend(std::iter::repeat_n('\n', usize::from(breaks)));
        }
        out.push_str(&l.text);
        prev = Some(l.row);
    }
    out
}

/// A line made of box-drawing horizontals (`─`, `━`, `═`, with `╭╮╰╯` corners): at least 10 of
/// them and nothing else but spaces and a short label (Codex's `─ Worked for 1m ───`).
pub fn is_horizontal_rule(text: &str) -> bool {
    let mut bars = 0usize;
    let mut other = 0usize;
    for c in text.chars() {
        match c {
            '─' | '━' | '═' | '╭' | '╮' | '╰' | '╯' => bars += 1,
            ' ' => {}
            _ => other += 1,
        }
    }
    bars >= 10 && other * 4 <= bars
}

/// `text` with the profile's animation (spinner glyphs, elapsed counters) blanked.
fn without_animation<'a>(text: &'a str, animation: Option<&Regex>) -> std::borrow::Cow<'a, str> {
    match animation {
        Some(re) => re.replace_all(text, ""),
        None => std::borrow::Cow::Borrowed(text),
    }
}

impl Window {
    /// Refill from the live screen, reusing allocations. Returns a hash of the window's text
    /// and title with `animation` blanked and spacing ignored, so callers can tell whether the
    /// screen progressed.
    pub fn fill(&mut self, screen: &Screen, window: usize, animation: Option<&Regex>) -> u64 {
        use std::hash::{Hash, Hasher};
        // Walk up from the bottom row, rendering only the rows the window needs.
        let (_, rows) = screen.size();
        let mut text = String::new();
        let mut n = 0usize;
        for row in (0..usize::from(rows)).rev() {
            if n >= window {
                break;
            }
            screen.row_text(row, &mut text);
            let trimmed_len = text.trim_end().len();
            if trimmed_len == 0 {
                continue;
            }
            text.truncate(trimmed_len);
            let row = u16::try_from(row).unwrap_or(u16::MAX);
            let text = std::mem::take(&mut text);
            if n < self.lines.len() {
                self.lines[n] = Line { row, text };
            } else {
                self.lines.push(Line { row, text });
            }
            n += 1;
        }
        self.lines.truncate(n);
        self.lines.reverse();
        self.rules.clear();
        for (i, l) in self.lines.iter().enumerate() {
            if is_horizontal_rule(&l.text) {
                self.rules.push(i);
            }
        }
        self.title.clear();
        self.title.push_str(screen.title());
        self.report.clear();
        self.report.push_str(screen.report());
        let mut h = std::collections::hash_map::DefaultHasher::new();
        // Words only: a blanked counter that grows a digit shifts what is right-aligned after
        // it (Gemini's `(esc to cancel, 9s)` → `10s` moves `? for shortcuts`), and that is
        // not progress either.
        let words = |text: &str, h: &mut std::collections::hash_map::DefaultHasher| {
            for w in without_animation(text, animation).split_whitespace() {
                w.hash(h);
            }
            '\n'.hash(h);
        };
        for l in &self.lines {
            l.row.hash(&mut h);
            words(&l.text, &mut h);
        }
        words(&self.title, &mut h);
        self.report.hash(&mut h);
        h.finish()
    }

    /// Fill from plain text (fixtures, benchmarks): the bottom `window` non-empty lines, with
    /// the title and state report given.
    pub fn fill_text(&mut self, text: &str, title: &str, report: &str, window: usize) {
        let all: Vec<&str> = text.lines().collect();
        self.lines.clear();
        for (row, l) in all.iter().enumerate().rev() {
            if self.lines.len() >= window {
                break;
            }
            let t = l.trim_end();
            if !t.is_empty() {
                self.lines.push(Line {
                    row: u16::try_from(row).unwrap_or(u16::MAX),
                    text: t.to_owned(),
                });
            }
        }
        self.lines.reverse();
        self.rules = (0..self.lines.len())
            .filter(|&i| is_horizontal_rule(&self.lines[i].text))
            .collect();
        self.title = title.to_owned();
        self.report = report.to_owned();
    }

    /// The lines of a region.
    pub fn region(&self, region: Region) -> &[Line] {
        match region {
            Region::Bottom(n) => &self.lines[self.lines.len().saturating_sub(n)..],
            Region::AfterLastRule => match self.rules.last() {
                Some(&i) => &self.lines[i + 1..],
                None => &self.lines,
            },
            Region::PromptBox => match self.rules.as_slice() {
                [.., a, b] => &self.lines[a + 1..*b],
                _ => &[],
            },
            Region::Title | Region::Report => &[],
        }
    }

    /// The rows of the dialog that `rule` recognised (its `evidence`), top to bottom: from the
    /// dialog's first line through its footer, which is the bottom of the region.
    ///
    /// A region bounded by horizontal rules (after the last rule, the prompt box) is the dialog.
    /// A `bottom` region may reach up into the transcript, so there the dialog starts at the
    /// first line the rule recognises (its evidence, or a line its `title`, `detail` or
    /// `detail_after` pattern matches), or just below the nearest horizontal rule above that
    /// line, which is where Claude's and Gemini's dialogs begin (Claude's trust dialog opens
    /// with "Accessing workspace:", above every line its rule matches).
    pub fn dialog(&self, rule: &Rule, evidence: &[Line]) -> &[Line] {
        let lines = self.region(rule.region);
        if !matches!(rule.region, Region::Bottom(_)) {
            return lines;
        }
        let recognised = |l: &Line| {
            evidence.iter().any(|e| e.row == l.row)
                || [&rule.title, &rule.detail, &rule.detail_after]
                    .into_iter()
                    .flatten()
                    .any(|re| re.is_match(&l.text))
        };
        let Some(first) = lines.iter().position(recognised) else {
            return lines;
        };
        let start = lines[..first]
            .iter()
            .rposition(|l| is_horizontal_rule(&l.text))
            .map_or(first, |r| r + 1);
        &lines[start..]
    }

    /// Whether `rule` matches; on a match, the lines that matched its patterns are pushed to
    /// `evidence` (for a title or report rule, one line `title: <title>` / `report: <report>`
    /// at row 0).
    pub fn matches(&self, rule: &Rule, evidence: &mut Vec<Line>) -> bool {
        evidence.clear();
        if rule.region.out_of_band() {
            let t = match rule.region {
                Region::Report => self.report.as_str(),
                _ => self.title.as_str(),
            };
            // No title or report is no evidence, even for a rule of `none` patterns only.
            let ok = !t.is_empty()
                && rule.all.iter().all(|r| r.is_match(t))
                && (rule.any.is_empty() || rule.any.iter().any(|r| r.is_match(t)))
                && !rule.none.iter().any(|r| r.is_match(t));
            if ok {
                evidence.push(Line {
                    row: 0,
                    text: format!("{}: {t}", rule.region.name()),
                });
            }
            return ok;
        }
        let lines = self.region(rule.region);
        if lines.is_empty() {
            return false;
        }
        for re in &rule.all {
            match lines.iter().find(|l| re.is_match(&l.text)) {
                Some(l) => evidence.push(l.clone()),
                None => {
                    evidence.clear();
                    return false;
                }
            }
        }
        if !rule.any.is_empty() {
            match lines
                .iter()
                .find(|l| rule.any.iter().any(|re| re.is_match(&l.text)))
            {
                Some(l) => evidence.push(l.clone()),
                None => {
                    evidence.clear();
                    return false;
                }
            }
        }
        if lines
            .iter()
            .any(|l| rule.none.iter().any(|re| re.is_match(&l.text)))
        {
            evidence.clear();
            return false;
        }
        evidence.sort_by_key(|l| l.row);
        evidence.dedup();
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_and_prompt_box() {
        assert!(is_horizontal_rule(&"─".repeat(40)));
        assert!(is_horizontal_rule(&format!("╭{}╮", "─".repeat(30))));
        assert!(is_horizontal_rule(&format!(
            "─ Worked for 1m 22s {}",
            "─".repeat(60)
        )));
        assert!(!is_horizontal_rule("just ─── some text here with dashes"));
        let mut w = Window::default();
        let bar = "─".repeat(20);
        w.fill_text(
            &format!("hello\n{bar}\n❯ typed\n{bar}\n  ? for shortcuts\n\n"),
            "",
            "",
            30,
        );
        let pb: Vec<&str> = w
            .region(Region::PromptBox)
            .iter()
            .map(|l| l.text.as_str())
            .collect();
        assert_eq!(pb, ["❯ typed"]);
        assert_eq!(w.region(Region::AfterLastRule).len(), 1);
        assert_eq!(w.region(Region::Bottom(2)).len(), 2);
    }

    /// A rule on the title or the report reads that string alone, never the screen's lines,
    /// and an absent title or report matches nothing.
    #[test]
    fn title_and_report_rules_read_their_own_string() {
        use crate::detect::profile::RuleState;
        use crate::vocab::SessionStatus;
        let rule = |region: Region, all: &str| Rule {
            name: "r".into(),
            state: RuleState::Status(SessionStatus::Working),
            priority: 1,
            region,
            all: vec![Regex::new(all).expect("valid")],
            any: Vec::new(),
            none: Vec::new(),
            settled: false,
            kind: None,
            title: None,
            detail: None,
            detail_after: None,
            ui: None,
        };
        let report = rule(Region::Report, "^state=working(:|$)");
        let title = rule(Region::Title, "^✦ +Working…");
        let mut w = Window::default();
        let mut evidence = Vec::new();
        // The screen says the words; neither string does.
        w.fill_text("state=working\n✦  Working… (gemini)", "", "", 30);
        assert!(!w.matches(&report, &mut evidence));
        assert!(!w.matches(&title, &mut evidence));
        w.fill_text(
            "› Ask Codex",
            "✦  Working… (gemini)",
            "state=working:app=codex",
            30,
        );
        assert!(w.matches(&report, &mut evidence));
        assert_eq!(evidence.len(), 1);
        assert_eq!(evidence[0].text, "report: state=working:app=codex");
        assert!(w.matches(&title, &mut evidence));
        assert_eq!(evidence[0].text, "title: ✦  Working… (gemini)");
        // The report's patterns never see the title, nor the title's the report.
        w.fill_text("", "state=working", "✦  Working…", 30);
        assert!(!w.matches(&report, &mut evidence));
        assert!(!w.matches(&title, &mut evidence));
        assert!(evidence.is_empty());
        w.fill_text("", "", "state=blocked:app=codex:kind=question", 30);
        assert!(!w.matches(&report, &mut evidence));
    }
}
