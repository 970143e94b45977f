//! Per-agent launch options: how a requested permission mode, a resumed conversation or a
//! command override becomes the exact argv of each agent CLI. Pure functions, no shell: the
//! result is passed to `execvp` as is.
//!
//! | mode | Claude Code | Codex | Gemini |
//! |---|---|---|---|
//! | default | `--permission-mode default` | (Codex's own default) | `--approval-mode default` |
//! | acceptEdits | `--permission-mode acceptEdits` | `--sandbox workspace-write --ask-for-approval untrusted` | `--approval-mode auto_edit` |
//! | plan | `--permission-mode plan` | `--sandbox read-only --ask-for-approval on-request` | `--approval-mode plan` |
//! | bypassPermissions | `--permission-mode bypassPermissions` | `--sandbox danger-full-access --ask-for-approval never` | `--approval-mode yolo` |
//! | dontAsk | `--permission-mode dontAsk` | `--sandbox workspace-write --ask-for-approval never` | — (400) |
//! | auto | `--permission-mode auto` | `--sandbox workspace-write --ask-for-approval on-request` | — (400) |
//!
//! Hooks: Claude gets `--settings <file>` last (see `crate::hooks`).
//!
//! Resuming: Claude `--resume <id>`; Codex `resume <id>` (a subcommand, placed first); Gemini
//! and the others cannot resume a given conversation (400). Shell and custom sessions accept
//! no permission mode other than `default`.
//!
//! Environment: an agent is told it is not in CI (see [`interactive_env`]).

use crate::vocab::{AgentType, PermissionMode};

/// What the client asked for at launch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LaunchOptions {
    pub permission_mode: Option<PermissionMode>,
    pub resume_session_id: Option<String>,
    /// Claude Code settings file with our hooks (`--settings <file>`); Claude only.
    pub settings_file: Option<String>,
}

/// Why a launch option cannot apply to an agent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LaunchError(pub String);

fn mode_flags(agent: AgentType, mode: PermissionMode) -> Result<Vec<&'static str>, LaunchError> {
    use PermissionMode::*;
    let flags: &[&str] = match (agent, mode) {
        (AgentType::Claude, m) => {
            return Ok(vec!["--permission-mode", m.as_str()]);
        }
        (AgentType::Codex, Default) => &[],
        (AgentType::Codex, AcceptEdits) => &[
            "--sandbox",
            "workspace-write",
            "--ask-for-approval",
            "untrusted",
        ],
        (AgentType::Codex, Plan) => &["--sandbox", "read-only", "--ask-for-approval", "on-request"],
        (AgentType::Codex, BypassPermissions) => &[
            "--sandbox",
            "danger-full-access",
            "--ask-for-approval",
            "never",
        ],
        (AgentType::Codex, DontAsk) => &[
            "--sandbox",
            "workspace-write",
            "--ask-for-approval",
            "never",
        ],
        (AgentType::Codex, Auto) => &[
            "--sandbox",
            "workspace-write",
            "--ask-for-approval",
            "on-request",
        ],
        (AgentType::Gemini, Default) => &["--approval-mode", "default"],
        (AgentType::Gemini, AcceptEdits) => &["--approval-mode", "auto_edit"],
        (AgentType::Gemini, Plan) => &["--approval-mode", "plan"],
        (AgentType::Gemini, BypassPermissions) => &["--approval-mode", "yolo"],
        (AgentType::Shell | AgentType::Custom, Default) => &[],
        (agent, mode) => {
            return Err(LaunchError(format!(
                "permissionMode {:?} is not available for agent {}",
                mode.as_str(),
                agent.as_str()
            )));
        }
    };
    Ok(flags.to_vec())
}

/// The argv for `agent`, starting from `base` (its default command or the client's override).
pub fn build_argv(
    agent: AgentType,
    base: Vec<String>,
    opts: &LaunchOptions,
) -> Result<Vec<String>, LaunchError> {
    let mut argv = base;
    if let Some(id) = &opts.resume_session_id {
        if id.is_empty()
            || id.starts_with('-')
            || id.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(LaunchError(format!("invalid resumeSessionId {id:?}")));
        }
        match agent {
            AgentType::Claude => append(&mut argv, &["--resume", id]),
            AgentType::Codex => {
                // `resume <id>` is a subcommand: it goes right after the program name.
                let rest = argv.split_off(1.min(argv.len()));
                argv.extend(["resume".to_owned(), id.clone()]);
                argv.extend(rest);
            }
            other => {
                return Err(LaunchError(format!(
                    "resumeSessionId is not available for agent {}",
                    other.as_str()
                )));
            }
        }
    }
    if let Some(mode) = opts.permission_mode {
        append(&mut argv, &mode_flags(agent, mode)?);
    }
    if let Some(file) = &opts.settings_file {
        if agent != AgentType::Claude {
            return Err(LaunchError(format!(
                "hook settings are only for agent claude, not {}",
                agent.as_str()
            )));
        }
        append(&mut argv, &["--settings", file]);
    }
    Ok(argv)
}

/// The script of a `SHELL -c SCRIPT` command line, if that is what `argv` is.
fn shell_script(argv: &[String]) -> Option<&str> {
    match argv {
        [_, flag, script] if flag == "-c" => Some(script),
        _ => None,
    }
}

/// Whether flags can be added to `argv`'s program: always for a plain argv; for `SHELL -c
/// SCRIPT` only when the script is one simple command (plain words, no shell syntax), whose
/// last word the flags can follow. Anything else would make them the script's `$0`.
pub fn takes_flags(argv: &[String]) -> bool {
    shell_script(argv).is_none_or(|script| {
        !script.trim().is_empty()
            && script.chars().all(|c| {
                c.is_ascii_alphanumeric()
                    || matches!(
                        c,
                        ' ' | '_' | '.' | '/' | '=' | ':' | ',' | '@' | '%' | '+' | '-'
                    )
            })
    })
}

/// Add `flags` to the program `argv` runs: after its arguments, or, for a simple `SHELL -c
/// SCRIPT`, at the end of the script, each quoted for the shell (they are ours, not user text,
/// but a path may hold any character).
fn append(argv: &mut Vec<String>, flags: &[&str]) {
    if shell_script(argv).is_some() && takes_flags(argv) {
        let quoted: Vec<String> = flags
            .iter()
            .map(|f| format!("'{}'", f.replace('\'', "'\\''")))
            .collect();
        if let Some(script) = argv.last_mut() {
            script.push(' ');
            script.push_str(&quoted.join(" "));
        }
        return;
    }
    argv.extend(flags.iter().map(|f| (*f).to_owned()));
}

/// Variables by which agent CLIs decide they run in CI and go headless: Gemini CLI 0.61 takes
/// `CI=true` or `GITHUB_ACTIONS=true` as "no terminal", prints "No input provided via stdin" and
/// exits. An agent session is an interactive terminal whatever the daemon's own environment
/// says (a daemon started from a CI job passes that job's variables on).
const CI_MARKERS: [&str; 2] = ["CI", "GITHUB_ACTIONS"];

/// What an agent's environment adds so it stays interactive: each CI marker the daemon
/// inherited (`inherited` says which are set) is given as `false`, unless the request set it
/// itself. Shells and custom programs keep the daemon's environment as it is.
pub fn interactive_env(
    agent: AgentType,
    requested: &[(String, String)],
    inherited: impl Fn(&str) -> bool,
) -> Vec<(String, String)> {
    if matches!(agent, AgentType::Shell | AgentType::Custom) {
        return Vec::new();
    }
    CI_MARKERS
        .iter()
        .filter(|k| inherited(k) && !requested.iter().any(|(r, _)| r == *k))
        .map(|k| ((*k).to_owned(), "false".to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_go_to_the_program_even_through_a_simple_shell_line() {
        let opts = LaunchOptions {
            settings_file: Some("/state/hooks/it's.json".into()),
            ..Default::default()
        };
        let plain = build_argv(AgentType::Claude, vec!["claude".into()], &opts).expect("argv");
        assert_eq!(plain, ["claude", "--settings", "/state/hooks/it's.json"]);
        let sh: Vec<String> = ["/bin/bash", "-c", "claude --model x"]
            .map(String::from)
            .into();
        let through = build_argv(AgentType::Claude, sh, &opts).expect("argv");
        assert_eq!(
            through[2],
            r#"claude --model x '--settings' '/state/hooks/it'\''s.json'"#
        );
        // A shell line with syntax cannot take flags.
        let complex: Vec<String> = ["/bin/sh", "-c", "cd src && claude"]
            .map(String::from)
            .into();
        assert!(!takes_flags(&complex));
        assert!(takes_flags(&["claude".to_owned()]));
    }

    fn argv(
        agent: AgentType,
        mode: Option<&str>,
        resume: Option<&str>,
    ) -> Result<Vec<String>, LaunchError> {
        let base = agent
            .default_command()
            .unwrap_or_else(|| vec!["prog".into()]);
        let opts = LaunchOptions {
            permission_mode: mode.map(|m| PermissionMode::parse(m).expect("known mode")),
            resume_session_id: resume.map(str::to_owned),
            settings_file: None,
        };
        build_argv(agent, base, &opts)
    }

    #[test]
    fn every_mode_for_every_agent() {
        let cases: &[(AgentType, &str, Option<&str>)] = &[
            (
                AgentType::Claude,
                "default",
                Some("claude --permission-mode default"),
            ),
            (
                AgentType::Claude,
                "acceptEdits",
                Some("claude --permission-mode acceptEdits"),
            ),
            (
                AgentType::Claude,
                "plan",
                Some("claude --permission-mode plan"),
            ),
            (
                AgentType::Claude,
                "bypassPermissions",
                Some("claude --permission-mode bypassPermissions"),
            ),
            (
                AgentType::Claude,
                "dontAsk",
                Some("claude --permission-mode dontAsk"),
            ),
            (
                AgentType::Claude,
                "auto",
                Some("claude --permission-mode auto"),
            ),
            (AgentType::Codex, "default", Some("codex")),
            (
                AgentType::Codex,
                "acceptEdits",
                Some("codex --sandbox workspace-write --ask-for-approval untrusted"),
            ),
            (
                AgentType::Codex,
                "plan",
                Some("codex --sandbox read-only --ask-for-approval on-request"),
            ),
            (
                AgentType::Codex,
                "bypassPermissions",
                Some("codex --sandbox danger-full-access --ask-for-approval never"),
            ),
            (
                AgentType::Codex,
                "dontAsk",
                Some("codex --sandbox workspace-write --ask-for-approval never"),
            ),
            (
                AgentType::Codex,
                "auto",
                Some("codex --sandbox workspace-write --ask-for-approval on-request"),
            ),
            (
                AgentType::Gemini,
                "default",
                Some("gemini --approval-mode default"),
            ),
            (
                AgentType::Gemini,
                "acceptEdits",
                Some("gemini --approval-mode auto_edit"),
            ),
            (
                AgentType::Gemini,
                "plan",
                Some("gemini --approval-mode plan"),
            ),
            (
                AgentType::Gemini,
                "bypassPermissions",
                Some("gemini --approval-mode yolo"),
            ),
            (AgentType::Gemini, "dontAsk", None),
            (AgentType::Gemini, "auto", None),
            (AgentType::Custom, "default", Some("prog")),
            (AgentType::Custom, "plan", None),
        ];
        for (agent, mode, want) in cases {
            let got = argv(*agent, Some(mode), None);
            match want {
                Some(w) => assert_eq!(got.expect("accepted").join(" "), *w, "{agent:?} {mode}"),
                None => {
                    let e = got.expect_err("refused");
                    assert!(e.0.contains(agent.as_str()) && e.0.contains(mode), "{e}");
                }
            }
        }
    }

    #[test]
    fn resume_per_agent() {
        assert_eq!(
            argv(AgentType::Claude, Some("plan"), Some("abc-1"))
                .expect("ok")
                .join(" "),
            "claude --resume abc-1 --permission-mode plan"
        );
        assert_eq!(
            argv(AgentType::Codex, Some("auto"), Some("abc-1"))
                .expect("ok")
                .join(" "),
            "codex resume abc-1 --sandbox workspace-write --ask-for-approval on-request"
        );
        assert!(argv(AgentType::Gemini, None, Some("abc")).is_err());
        assert!(argv(AgentType::Claude, None, Some("--evil")).is_err());
        assert!(argv(AgentType::Claude, None, Some("a b")).is_err());
    }

    #[test]
    fn hook_settings_file_for_claude_only() {
        let opts = LaunchOptions {
            permission_mode: Some(PermissionMode::Plan),
            resume_session_id: Some("r1".into()),
            settings_file: Some("/state/hooks/x.json".into()),
        };
        assert_eq!(
            build_argv(AgentType::Claude, vec!["claude".into()], &opts).expect("ok"),
            [
                "claude",
                "--resume",
                "r1",
                "--permission-mode",
                "plan",
                "--settings",
                "/state/hooks/x.json"
            ]
        );
        let codex = LaunchOptions {
            settings_file: Some("/x".into()),
            ..LaunchOptions::default()
        };
        assert!(build_argv(AgentType::Codex, vec!["codex".into()], &codex).is_err());
    }

    #[test]
    fn agents_are_told_they_are_not_in_ci() {
        let ci = |k: &str| k == "CI";
        assert_eq!(
            interactive_env(AgentType::Gemini, &[], ci),
            vec![("CI".to_owned(), "false".to_owned())]
        );
        // The request's own value stands; shells keep the daemon's environment.
        let asked = [("CI".to_owned(), "true".to_owned())];
        assert!(interactive_env(AgentType::Gemini, &asked, ci).is_empty());
        assert!(interactive_env(AgentType::Shell, &[], ci).is_empty());
        assert!(interactive_env(AgentType::Claude, &[], |_| false).is_empty());
    }
}
