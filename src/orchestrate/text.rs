//! Text work of the orchestration layer, kept pure so it is unit-tested without a daemon:
//! `{{var}}` substitution in prompts, the "last output" of an agent read off its screen, and
//! the reviewers' machine-readable verdict line.
//!
//! Substitution: `{{ name }}` (whitespace inside the braces ignored) is replaced by the value
//! of `name`; names are letters, digits, `_`, `-` and `.` (so `stages.build.output` is one
//! name). A `{{` that does not close, or that holds something else, is left as typed. A name
//! with no value is an error naming it: the caller answers 400 and starts nothing.
//!
//! Verdict line (what every reviewer must print last, on one logical line):
//! `VERDICT: {"criteria":{"<criterion>":"pass"|"fail"},"verdict":"approve"|"reject","reason":"..."}`.
//! The screen may wrap it, so the lines after `VERDICT:` are joined until one JSON value
//! parses; the last valid occurrence wins (the prompt that asks for it is echoed on screen
//! too, with placeholders that do not validate).

use std::collections::BTreeMap;

/// The prefix of a reviewer's verdict line.
pub const VERDICT_PREFIX: &str = "VERDICT:";

/// Lines joined after `VERDICT:` when looking for the end of a wrapped JSON value. A verdict
/// with a dozen criteria fits in ~1 KB, which is under 10 rows even at 120 columns.
const VERDICT_MAX_ROWS: usize = 24;

/// The variable names in `template`, in order of first appearance.
pub fn placeholders(template: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    scan(template, |name| {
        if !out.iter().any(|n| n == name) {
            out.push(name.to_owned());
        }
        None
    });
    out
}

/// Replace every `{{name}}` by `lookup(name)`; the first name without a value is the error.
pub fn substitute(
    template: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut missing = None;
    let out = scan(template, |name| {
        let v = lookup(name);
        if v.is_none() && missing.is_none() {
            missing = Some(name.to_owned());
        }
        v
    });
    match missing {
        Some(m) => Err(m),
        None => Ok(out),
    }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Walk `template`, calling `f` for each well-formed placeholder; `f`'s answer replaces it
/// (`None` keeps the placeholder text).
fn scan(template: &str, mut f: impl FnMut(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) if valid_name(after[..end].trim()) => {
                let name = after[..end].trim();
                match f(name) {
                    Some(v) => out.push_str(&v),
                    None => out.push_str(&rest[start..start + 2 + end + 2]),
                }
                rest = &after[end + 2..];
            }
            _ => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// What an agent said last, read off its screen text (screen plus scrollback, oldest first).
///
/// Agents mark each reply block with a leading glyph (Claude `⏺` on macOS and `●` on Linux,
/// Codex `•`, Gemini `✦`; see
/// the recorded screens under `tests/fixtures/screens`) and indent its continuation lines. The last such block that is
/// not a tool call (`⏺ Bash(...)`) is the output. Without any marker (a shell, a custom
/// program), the non-blank lines above the bottom prompt line are returned instead.
pub fn last_output(screen: &str) -> String {
    let lines: Vec<&str> = screen.lines().collect();
    let is_marker = |l: &str| {
        let t = l.trim_start();
        ["⏺ ", "● ", "• ", "✦ "].iter().any(|m| t.starts_with(m)) && l.len() - t.len() <= 1
    };
    let is_tool = |l: &str| {
        let t = l.trim_start();
        let body = t.split_once(' ').map(|x| x.1).unwrap_or("");
        let head: String = body.chars().take_while(|c| c.is_alphanumeric()).collect();
        (!head.is_empty() && body[head.len()..].starts_with('(') && body.trim_end().ends_with(')'))
            || body.starts_with("Ran ")
            || body.starts_with("Edited ")
    };
    if let Some(start) = (0..lines.len())
        .rev()
        .find(|&i| is_marker(lines[i]) && !is_tool(lines[i]))
    {
        let first = lines[start].trim_start();
        let mut out = vec![
            first
                .split_once(' ')
                .map(|x| x.1)
                .unwrap_or(first)
                .to_owned(),
        ];
        for l in &lines[start + 1..] {
            // Continuation lines are indented; anything else ends the block.
            if l.starts_with("  ") && !l.trim().is_empty() && !l.trim_start().starts_with('⎿') {
                out.push(l.trim().to_owned());
            } else {
                break;
            }
        }
        return out.join("\n");
    }
    // No reply marker: the last few non-blank lines above the final (prompt) line.
    let body: Vec<&str> = lines
        .iter()
        .rev()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .take(20)
        .copied()
        .collect();
    body.into_iter().rev().collect::<Vec<_>>().join("\n")
}

/// One reviewer's parsed verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Criterion → passed.
    pub criteria: BTreeMap<String, bool>,
    pub approve: bool,
    pub reason: String,
}

/// The last valid verdict line on `screen`, if any.
pub fn parse_verdict(screen: &str) -> Option<Verdict> {
    let lines: Vec<&str> = screen.lines().collect();
    for i in (0..lines.len()).rev() {
        let Some(pos) = lines[i].find(VERDICT_PREFIX) else {
            continue;
        };
        let mut text = lines[i][pos + VERDICT_PREFIX.len()..].trim().to_owned();
        for next in lines.iter().skip(i + 1).take(VERDICT_MAX_ROWS) {
            if let Some(v) = verdict_from_json(&text) {
                return Some(v);
            }
            text.push_str(next.trim());
        }
        if let Some(v) = verdict_from_json(&text) {
            return Some(v);
        }
    }
    None
}

fn verdict_from_json(text: &str) -> Option<Verdict> {
    let start = text.find('{')?;
    let mut stream =
        serde_json::Deserializer::from_str(&text[start..]).into_iter::<serde_json::Value>();
    let v = stream.next()?.ok()?;
    let approve = match v.get("verdict")?.as_str()? {
        "approve" => true,
        "reject" => false,
        _ => return None,
    };
    let mut criteria = BTreeMap::new();
    if let Some(map) = v.get("criteria").and_then(|c| c.as_object()) {
        for (k, r) in map {
            let pass = match r.as_str()? {
                "pass" => true,
                "fail" => false,
                _ => return None,
            };
            criteria.insert(k.clone(), pass);
        }
    }
    let reason = v
        .get("reason")
        .and_then(|r| r.as_str())
        .unwrap_or_default()
        .to_owned();
    Some(Verdict {
        criteria,
        approve,
        reason,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // reason: a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn substitution_names_the_missing_var() {
        let vars = |k: &str| (k == "who").then(|| "world".to_owned());
        assert_eq!(substitute("hi {{ who }}!", vars).unwrap(), "hi world!");
        assert_eq!(substitute("{{who}} {{what}}", vars).unwrap_err(), "what");
        // Not placeholders: left alone.
        assert_eq!(
            substitute("a {{ b c }} {{", vars).unwrap(),
            "a {{ b c }} {{"
        );
        assert_eq!(
            placeholders("{{a}} {{stages.x.output}} {{a}}"),
            vec!["a", "stages.x.output"]
        );
    }

    #[test]
    fn last_output_skips_tool_calls() {
        let screen = "> do it\nRECEIVED[1 lines]: do it\n⏺ Bash(echo tool-0)\n  ⎿  tool-0\n⏺ All done,\n  in two lines.\n✻ Worked for 2s\n\n────\n❯\n────";
        assert_eq!(last_output(screen), "All done,\nin two lines.");
        let codex = "• Ran echo x\n• You said: hi\nWorked for 1s · done\n› Ask Codex";
        assert_eq!(last_output(codex), "You said: hi");
        assert_eq!(last_output("$ echo hi\nhi\n$"), "$ echo hi\nhi");
        // Claude Code on Linux: `●` bullets; the footer's `● high · /effort` is no reply.
        let linux = " ▐▛███▜▌   Claude Code v2.1.197\n❯ Produce it (stage-a)\n● ALPHA-RESULT-17\n✻ Baked for 0s\n────\n❯ \n────\n  ? for shortcuts                      ● high · /effort";
        assert_eq!(last_output(linux), "ALPHA-RESULT-17");
    }

    #[test]
    fn verdicts_parse_wrapped_and_skip_placeholders() {
        let screen = "Reply with VERDICT: {\"criteria\":{\"<criterion>\":\"pass|fail\"},\"verdict\":\"approve|reject\",\"reason\":\"...\"}\n⏺ VERDICT: {\"criteria\":{\"tests\":\"pass\",\"style\":\n  \"fail\"},\"verdict\":\"reject\",\"reason\":\"style\"}\n❯";
        let v = parse_verdict(screen).unwrap();
        assert!(!v.approve);
        assert_eq!(v.criteria.get("tests"), Some(&true));
        assert_eq!(v.criteria.get("style"), Some(&false));
        assert_eq!(v.reason, "style");
        assert!(parse_verdict("VERDICT: {\"verdict\":\"approve|reject\"}").is_none());
        assert!(parse_verdict("no verdict here").is_none());
    }
}
