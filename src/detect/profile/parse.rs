//! Reading a profile file: TOML into a compiled [`Profile`], an override merged over its
//! built-in base. Every error names the file and line (see [`ProfileError`]).

use regex::Regex;
use serde::Deserialize;

use super::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    window: Option<usize>,
    idle_hold_ms: Option<u64>,
    fallback: Option<String>,
    input_line: Option<String>,
    animation: Option<String>,
    ready_title: Option<String>,
    interrupt_keys: Option<Vec<String>>,
    clear_input_keys: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ProfileFile {
    pub(super) agent: String,
    settings: Option<toml::Spanned<FileSettings>>,
    #[serde(default, rename = "rule")]
    rules: Vec<toml::Spanned<RuleFile>>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    name: String,
    state: String,
    priority: i32,
    region: String,
    lines: Option<usize>,
    #[serde(default)]
    all: Vec<String>,
    #[serde(default)]
    any: Vec<String>,
    #[serde(default)]
    none: Vec<String>,
    #[serde(default)]
    settled: bool,
    kind: Option<String>,
    title: Option<String>,
    detail: Option<String>,
    detail_after: Option<String>,
    ui: Option<String>,
}

/// 1-based line of byte offset `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

pub(super) fn parse_file(file: &str, text: &str) -> Result<(ProfileFile, String), ProfileError> {
    toml::from_str::<ProfileFile>(text)
        .map(|p| (p, text.to_owned()))
        .map_err(|e| ProfileError {
            file: file.to_owned(),
            line: e.span().map(|s| line_of(text, s.start)).unwrap_or(1),
            message: e.message().to_owned(),
        })
}

/// Most lines a profile may read: detection must stay cheap.
const MAX_WINDOW: usize = 200;
/// herdr holds 100 ms × 3 re-checks; peers that flap use 1.5–6 s. Our fake agents and Claude
/// redraw between tool calls within a few hundred ms, so 600 ms holds across those gaps while
/// adding little latency (a settled "turn finished" line skips the hold entirely).
const DEFAULT_IDLE_HOLD_MS: u64 = 600;

fn compile(file: &str, text: &str, pattern: &str, at: usize) -> Result<Regex, ProfileError> {
    Regex::new(pattern).map_err(|e| ProfileError {
        file: file.to_owned(),
        line: line_of(text, at),
        message: format!("invalid pattern {pattern:?}: {e}"),
    })
}

fn compile_rule(
    file: &str,
    text: &str,
    spanned: &toml::Spanned<RuleFile>,
    window: usize,
) -> Result<Rule, ProfileError> {
    let at = spanned.span().start;
    let r = spanned.get_ref();
    let err = |message: String| ProfileError {
        file: file.to_owned(),
        line: line_of(text, at),
        message: format!("rule {:?}: {message}", r.name),
    };
    let state = match r.state.as_str() {
        "skip" => RuleState::Skip,
        "mark" => RuleState::Mark,
        s => match SessionStatus::parse(s) {
            Some(
                st @ (SessionStatus::Idle
                | SessionStatus::Working
                | SessionStatus::PermissionPrompt
                | SessionStatus::Question
                | SessionStatus::Error),
            ) => RuleState::Status(st),
            _ => {
                return Err(err(format!(
                    "unknown state {s:?}; allowed: idle, working, permission_prompt, question, error, skip, mark"
                )));
            }
        },
    };
    let region = Region::parse(&r.region, r.lines, window).map_err(err)?;
    if r.all.is_empty() && r.any.is_empty() {
        return Err(err(
            "a rule needs at least one `all` or `any` pattern".into()
        ));
    }
    let kind = match &r.kind {
        None => None,
        Some(k) => Some(PermissionKind::parse(k).ok_or_else(|| {
            err(format!(
                "unknown kind {k:?}; allowed: bash, edit, create, mcp, trust, plan, other"
            ))
        })?),
    };
    let ui = match &r.ui {
        None => None,
        Some(u) => Some(UiHint::parse(u).ok_or_else(|| {
            let allowed: Vec<&str> = UiHint::ALL.iter().map(|h| h.as_str()).collect();
            err(format!("unknown ui {u:?}; allowed: {}", allowed.join(", ")))
        })?),
    };
    if state == RuleState::Mark && ui.is_none() {
        return Err(err("a mark rule needs `ui`: marking is all it does".into()));
    }
    let many = |v: &[String]| -> Result<Vec<Regex>, ProfileError> {
        v.iter()
            .map(|p| compile(file, text, p, at).map_err(|e| err(e.message)))
            .collect()
    };
    let one = |v: &Option<String>| -> Result<Option<Regex>, ProfileError> {
        v.as_deref()
            .map(|p| compile(file, text, p, at).map_err(|e| err(e.message)))
            .transpose()
    };
    Ok(Rule {
        name: r.name.clone(),
        state,
        priority: r.priority,
        region,
        all: many(&r.all)?,
        any: many(&r.any)?,
        none: many(&r.none)?,
        settled: r.settled,
        kind,
        title: one(&r.title)?,
        detail: one(&r.detail)?,
        detail_after: one(&r.detail_after)?,
        ui,
    })
}

/// Compile a profile from a base file and an optional override on top.
pub(super) fn build(
    base: Option<(&str, &str)>,
    over: Option<(&str, &str)>,
) -> Result<Profile, ProfileError> {
    let parsed_base = base.map(|(f, t)| parse_file(f, t)).transpose()?;
    let parsed_over = over.map(|(f, t)| parse_file(f, t)).transpose()?;
    let files: Vec<(&str, &ProfileFile, &str)> = [
        base.zip(parsed_base.as_ref())
            .map(|((f, _), (p, t))| (f, p, t.as_str())),
        over.zip(parsed_over.as_ref())
            .map(|((f, _), (p, t))| (f, p, t.as_str())),
    ]
    .into_iter()
    .flatten()
    .collect();
    let Some(&(_, first, _)) = files.first() else {
        return Err(ProfileError {
            file: "-".into(),
            line: 1,
            message: "no profile file".into(),
        });
    };
    let agent = first.agent.clone();
    let mut window = DEFAULT_WINDOW;
    let mut idle_hold_ms = DEFAULT_IDLE_HOLD_MS;
    let mut fallback = Fallback::Idle;
    let mut input_line = None;
    let mut animation = None;
    let mut ready_title = None;
    let mut interrupt_keys = vec!["C-c".to_owned()];
    let mut clear_input_keys = Vec::new();
    for &(file, p, text) in &files {
        let Some(s) = &p.settings else { continue };
        let at = s.span().start;
        let serr = |message: String| ProfileError {
            file: file.to_owned(),
            line: line_of(text, at),
            message,
        };
        let s = s.get_ref();
        if let Some(w) = s.window {
            if !(1..=MAX_WINDOW).contains(&w) {
                return Err(serr(format!("window must be 1..={MAX_WINDOW}")));
            }
            window = w;
        }
        if let Some(h) = s.idle_hold_ms {
            idle_hold_ms = h;
        }
        if let Some(f) = &s.fallback {
            fallback = match f.as_str() {
                "idle" => Fallback::Idle,
                "activity" => Fallback::Activity,
                other => {
                    return Err(serr(format!(
                        "unknown fallback {other:?}; allowed: idle, activity"
                    )));
                }
            };
        }
        if let Some(p) = &s.input_line {
            input_line = Some(compile(file, text, p, at)?);
        }
        if let Some(p) = &s.animation {
            animation = Some(compile(file, text, p, at)?);
        }
        if let Some(p) = &s.ready_title {
            ready_title = Some(compile(file, text, p, at)?);
        }
        if let Some(k) = &s.interrupt_keys {
            if k.is_empty() {
                return Err(serr("interrupt_keys must name at least one key".into()));
            }
            interrupt_keys.clone_from(k);
        }
        if let Some(k) = &s.clear_input_keys {
            clear_input_keys.clone_from(k);
        }
    }
    let mut rules: Vec<Rule> = Vec::new();
    for &(file, p, text) in &files {
        for r in &p.rules {
            let rule = compile_rule(file, text, r, window)?;
            rules.retain(|old| old.name != rule.name);
            rules.push(rule);
        }
    }
    // Stable sort: equal priorities keep file order.
    rules.sort_by_key(|r| std::cmp::Reverse(r.priority));
    Ok(Profile {
        agent,
        settings: Settings {
            window,
            idle_hold: std::time::Duration::from_millis(idle_hold_ms),
            fallback,
            input_line,
            animation,
            ready_title,
            interrupt_keys,
            clear_input_keys,
        },
        rules,
        source: over.map_or("builtin".into(), |(f, _)| format!("builtin + {f}")),
    })
}
