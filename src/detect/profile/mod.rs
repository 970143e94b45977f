//! Detection profiles: one TOML rule file per agent, embedded in the binary as defaults and
//! extendable from `<state-dir>/profiles/<agent>.toml`.
//!
//! A profile is data, not code: a changed UI string is a file edit. Each rule names a state, a
//! priority, a screen region and line patterns (`all` must each match some line of the region,
//! `any` needs one match, `none` must match no line). Patterns are regexes matched per line, so
//! anchoring (`^`, glyph prefixes) keeps prose and quoted tool output from matching.
//!
//! A rule may also carry `ui`, a finer reading of the same screen for clients that speak Aegis
//! v0.3's `uiState` vocabulary (see [`UiHint`]): a working rule for "Compacting conversation…",
//! a `skip` rule for a settings panel. A rule with `state = "mark"` decides no state at all: it
//! is checked only after the state rules made the session idle, and its `ui` refines that idle
//! (a low-context footer, a reply that asks the user something). Marks never touch the state,
//! so a wrong mark can mislabel `uiState` but cannot stop a session from being driven.
//!
//! Override semantics: a user file for an agent adds its rules to the built-in ones; a rule with
//! the same `name` replaces the built-in rule; `[settings]` keys given in the user file win. A
//! user file for an unknown agent defines a new profile. An invalid file (TOML syntax, unknown
//! key, bad regex, unknown state or region) is an error naming the file and line; it never
//! falls back silently to the defaults.

mod parse;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use regex::Regex;

use crate::vocab::SessionStatus;
use parse::{build, parse_file};

/// Lines a profile reads when its file does not say.
const DEFAULT_WINDOW: usize = 30;

/// The built-in profiles, embedded at compile time.
pub const BUILTIN: &[(&str, &str)] = &[
    ("claude", include_str!("../../../profiles/claude.toml")),
    ("codex", include_str!("../../../profiles/codex.toml")),
    ("gemini", include_str!("../../../profiles/gemini.toml")),
    ("aider", include_str!("../../../profiles/aider.toml")),
    ("shell", include_str!("../../../profiles/shell.toml")),
];

/// Where a rule looks on the screen. Every region is a slice of the detection window (the
/// bottom non-empty lines of the live screen), except the title and the state report, which
/// the program sends out of band.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    /// The bottom `n` non-empty lines.
    Bottom(usize),
    /// Lines after the last horizontal rule (the current dialog or footer).
    AfterLastRule,
    /// Lines between the last two horizontal rules (the input box).
    PromptBox,
    /// The OSC 0/2 window title.
    Title,
    /// The program's last OSC 7501 state report (Codex CLI: `state=working:app=codex`).
    Report,
}

impl Region {
    fn parse(s: &str, lines: Option<usize>, window: usize) -> Result<Region, String> {
        match s {
            "bottom" => Ok(Region::Bottom(lines.unwrap_or(window).clamp(1, window))),
            "after_last_rule" => Ok(Region::AfterLastRule),
            "prompt_box" => Ok(Region::PromptBox),
            "title" => Ok(Region::Title),
            "report" => Ok(Region::Report),
            other => Err(format!(
                "unknown region {other:?}; allowed: bottom, after_last_rule, prompt_box, title, report"
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Region::Bottom(_) => "bottom",
            Region::AfterLastRule => "after_last_rule",
            Region::PromptBox => "prompt_box",
            Region::Title => "title",
            Region::Report => "report",
        }
    }

    /// The text a rule on this region reads when it is not screen lines: the title or the
    /// report.
    pub fn out_of_band(self) -> bool {
        matches!(self, Region::Title | Region::Report)
    }
}

/// What a rule concludes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleState {
    Status(SessionStatus),
    /// A viewer mode that is neither idle nor working: keep the previous state.
    Skip,
    /// No state: only its `ui` hint, refining an idle verdict (see the module doc).
    Mark,
}

/// A finer reading of the screen than our states, for v0.3's `uiState`. Named in profiles by
/// [`UiHint::as_str`]; `api::uistate` decides how each shows on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UiHint {
    /// The agent is compacting its context (working).
    Compacting,
    /// The agent warns that its context is nearly full.
    ContextWarning,
    /// A settings or model-picker panel is open.
    Settings,
    /// The agent's last reply asks the user something (idle, but waiting on an answer).
    WaitingForInput,
}

impl UiHint {
    pub const ALL: [UiHint; 4] = [
        UiHint::Compacting,
        UiHint::ContextWarning,
        UiHint::Settings,
        UiHint::WaitingForInput,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            UiHint::Compacting => "compacting",
            UiHint::ContextWarning => "context_warning",
            UiHint::Settings => "settings",
            UiHint::WaitingForInput => "waiting_for_input",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// What kind of permission a prompt asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PermissionKind {
    Bash,
    Edit,
    Create,
    Mcp,
    Trust,
    Plan,
    Other,
}

impl PermissionKind {
    pub const ALL: [PermissionKind; 7] = [
        PermissionKind::Bash,
        PermissionKind::Edit,
        PermissionKind::Create,
        PermissionKind::Mcp,
        PermissionKind::Trust,
        PermissionKind::Plan,
        PermissionKind::Other,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            PermissionKind::Bash => "bash",
            PermissionKind::Edit => "edit",
            PermissionKind::Create => "create",
            PermissionKind::Mcp => "mcp",
            PermissionKind::Trust => "trust",
            PermissionKind::Plan => "plan",
            PermissionKind::Other => "other",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One compiled rule.
#[derive(Debug)]
pub struct Rule {
    pub name: String,
    pub state: RuleState,
    pub priority: i32,
    pub region: Region,
    pub all: Vec<Regex>,
    pub any: Vec<Regex>,
    pub none: Vec<Regex>,
    /// Idle evidence strong enough to skip the working→idle hold (a "turn finished" line).
    pub settled: bool,
    /// For permission prompts: what is being asked, and how to find the title and detail.
    pub kind: Option<PermissionKind>,
    /// First capture group (or whole match) of the first matching line is the title.
    pub title: Option<Regex>,
    /// First capture group of the first matching line is the detail (command or file).
    pub detail: Option<Regex>,
    /// The detail is the first non-empty line after a line matching this.
    pub detail_after: Option<Regex>,
    /// The finer `uiState` reading a match implies (required for a `mark`).
    pub ui: Option<UiHint>,
}

/// Detection settings of one profile.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Bottom non-empty lines of the live screen that detection reads.
    pub window: usize,
    /// How long a working→idle change without settled evidence must hold.
    pub idle_hold: std::time::Duration,
    /// What no matching rule means.
    pub fallback: Fallback,
    /// Pattern of the input line; capture group 1 is what is typed in it (send verification).
    pub input_line: Option<Regex>,
    /// What animates without being progress (spinner glyphs, elapsed-time counters). Matches
    /// are blanked before the screen is compared for stall detection, so a spinner that keeps
    /// turning while nothing else moves still stalls.
    pub animation: Option<Regex>,
    /// The window title the agent sets once it is up. With it, a starting session waits for
    /// that title (at most `READY_GRACE`), takes `working` read only from the title or the
    /// state report as start-up work, and counts its first idle once it held for
    /// `idle_hold`: Codex reports `working` while it boots, after its composer and title.
    pub ready_title: Option<Regex>,
    /// The keys that interrupt the agent's turn (`POST /interrupt`); Ctrl-C unless the agent
    /// uses another (Claude Code puts the interrupted prompt back in its composer on Ctrl-C).
    pub interrupt_keys: Vec<String>,
    /// The keys that empty a composer holding text, pressed before a send types (an
    /// interrupted prompt Claude Code puts back would otherwise be sent along); none: the
    /// agent's input is typed into as it is.
    pub clear_input_keys: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// A known agent with no marker is idle (after the hold).
    Idle,
    /// Working while output flows, idle after a quiet period (shells, unknown programs).
    Activity,
}

/// A compiled profile: rules sorted by descending priority.
#[derive(Debug)]
pub struct Profile {
    pub agent: String,
    pub settings: Settings,
    pub rules: Vec<Rule>,
    /// Where the profile came from (for `explain`): "builtin" or the override file path.
    pub source: String,
}

/// Every loaded profile, by agent name.
#[derive(Debug, Clone, Default)]
pub struct ProfileSet {
    pub profiles: BTreeMap<String, Arc<Profile>>,
}

/// An invalid profile file, with where.
#[derive(Debug, thiserror::Error)]
#[error("invalid detection profile {file} line {line}: {message}")]
pub struct ProfileError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl ProfileSet {
    /// The embedded profiles only.
    pub fn builtin() -> Result<ProfileSet, ProfileError> {
        Self::load(None)
    }

    /// The embedded profiles, extended by every `*.toml` in `dir` (if it exists).
    pub fn load(dir: Option<&Path>) -> Result<ProfileSet, ProfileError> {
        let mut overrides: BTreeMap<String, (String, String)> = BTreeMap::new();
        if let Some(dir) = dir
            && let Ok(entries) = std::fs::read_dir(dir)
        {
            for e in entries.flatten() {
                let path = e.path();
                if path.extension().is_none_or(|x| x != "toml") {
                    continue;
                }
                let file = path.display().to_string();
                let text = std::fs::read_to_string(&path).map_err(|e| ProfileError {
                    file: file.clone(),
                    line: 1,
                    message: format!("cannot read: {e}"),
                })?;
                let (parsed, _) = parse_file(&file, &text)?;
                overrides.insert(parsed.agent.clone(), (file, text));
            }
        }
        let mut profiles = BTreeMap::new();
        for (name, text) in BUILTIN {
            let file = format!("profiles/{name}.toml (builtin)");
            let over = overrides.remove(*name);
            let p = build(
                Some((&file, text)),
                over.as_ref().map(|(f, t)| (f.as_str(), t.as_str())),
            )?;
            profiles.insert(p.agent.clone(), Arc::new(p));
        }
        for (_, (file, text)) in overrides {
            let p = build(None, Some((&file, &text)))?;
            profiles.insert(p.agent.clone(), Arc::new(p));
        }
        Ok(ProfileSet { profiles })
    }

    pub fn get(&self, agent: &str) -> Option<Arc<Profile>> {
        self.profiles.get(agent).cloned()
    }

    /// The profile for a session: an explicit name, else the agent type's, else the shell's.
    pub fn for_agent(&self, name: &str) -> Arc<Profile> {
        self.get(name)
            .or_else(|| self.get("shell"))
            .unwrap_or_else(|| Arc::new(generic()))
    }
}

/// The profile used when no file is loaded at all: activity-based, no rules.
pub fn generic() -> Profile {
    Profile {
        agent: "generic".into(),
        settings: Settings {
            window: DEFAULT_WINDOW,
            idle_hold: std::time::Duration::ZERO,
            fallback: Fallback::Activity,
            input_line: None,
            animation: None,
            ready_title: None,
            interrupt_keys: vec!["C-c".into()],
            clear_input_keys: Vec::new(),
        },
        rules: Vec::new(),
        source: "none".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_profiles_compile() {
        let set = ProfileSet::builtin().expect("embedded profiles are valid");
        for name in ["claude", "codex", "gemini", "aider", "shell"] {
            let p = set.get(name).expect(name);
            assert!(
                !p.rules.is_empty() || name == "shell",
                "{name} has no rules"
            );
        }
    }

    #[test]
    fn bad_regex_names_file_and_line() {
        let text = "agent = \"x\"\n\n[[rule]]\nname = \"r\"\nstate = \"idle\"\npriority = 1\nregion = \"bottom\"\nall = ['(']\n";
        let e = build(None, Some(("x.toml", text))).expect_err("must fail");
        assert_eq!((e.file.as_str(), e.line), ("x.toml", 3), "{e}");
        assert!(e.to_string().contains("invalid pattern"), "{e}");
    }

    #[test]
    fn syntax_error_names_line() {
        let text = "agent = \"x\"\n[[rule]]\nname = \n";
        let e = build(None, Some(("y.toml", text))).expect_err("must fail");
        assert_eq!(e.line, 3, "{e}");
    }

    #[test]
    fn override_replaces_rule_by_name() {
        let base = "agent = \"a\"\n[[rule]]\nname = \"r\"\nstate = \"idle\"\npriority = 1\nregion = \"bottom\"\nall = ['x']\n";
        let over = "agent = \"a\"\n[[rule]]\nname = \"r\"\nstate = \"working\"\npriority = 5\nregion = \"title\"\nall = ['y']\n";
        let p = build(Some(("a", base)), Some(("b", over))).expect("valid");
        assert_eq!(p.rules.len(), 1);
        assert_eq!(p.rules[0].state, RuleState::Status(SessionStatus::Working));
    }

    #[test]
    fn marks_need_a_known_ui() {
        let rule = |extra: &str| {
            format!(
                "agent = \"a\"\n[[rule]]\nname = \"m\"\nstate = \"mark\"\npriority = 1\nregion = \"bottom\"\nall = ['x']\n{extra}"
            )
        };
        let e = build(None, Some(("m.toml", &rule("")))).expect_err("no ui");
        assert!(e.to_string().contains("needs `ui`"), "{e}");
        let e = build(None, Some(("m.toml", &rule("ui = \"sleepy\"\n")))).expect_err("bad ui");
        assert!(e.to_string().contains("unknown ui"), "{e}");
        let p = build(None, Some(("m.toml", &rule("ui = \"context_warning\"\n")))).expect("valid");
        assert_eq!(p.rules[0].ui, Some(UiHint::ContextWarning));
    }
}
