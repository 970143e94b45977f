//! Children and forks: how a spawned child or a fork is started "the same way" as its
//! parent. The parent's argv already carries the launch flags it was built with; they are
//! stripped back to the base command and rebuilt through `session::launch`, so the child
//! gets the parent's permission mode in its agent's own spelling and, for a fork, the
//! agent's own conversation flags.
//!
//! What "same context" means per agent (a fork is always a new, independent session):
//! - Claude Code: with a known conversation id, the fork runs `claude --fork-session --resume
//!   <id>`: a new conversation that starts with a copy of the parent's history. The id is, in
//!   this order: the request's `conversationId`, the `--resume` the parent was started with,
//!   or the session id the parent's hooks reported (`claudeSessionId`).
//! - Codex: `codex resume <id>` with a known id: the fork continues the same rollout, so both
//!   sessions append to it (Codex has no fork flag).
//! - Gemini, shells and custom programs cannot load another session's conversation: the fork
//!   shares the workDir, environment, agent, permission mode and policy, not the history.
//!
//! Without a known id, Claude and Codex forks are like Gemini's (no history).

use crate::session::launch::LaunchOptions;
use crate::vocab::AgentType;
use crate::vocab::PermissionMode;

/// Flags (with one value each) that `session::launch` adds: the permission mode's, and the
/// per-session hook settings file (each session gets its own).
const MODE_FLAGS: &[&str] = &[
    "--settings",
    "--permission-mode",
    "--sandbox",
    "--ask-for-approval",
    "--approval-mode",
];

/// The parent's argv without the flags `session::launch` adds (resume, permission mode), and
/// the conversation id it was resumed with, if any.
pub fn base_argv(agent: AgentType, argv: &[String]) -> (Vec<String>, Option<String>) {
    if !matches!(
        agent,
        AgentType::Claude | AgentType::Codex | AgentType::Gemini
    ) {
        return (argv.to_vec(), None);
    }
    let mut out = Vec::with_capacity(argv.len());
    let mut resumed = None;
    let mut i = 0;
    while i < argv.len() {
        let a = argv[i].as_str();
        if agent == AgentType::Codex && i == 1 && a == "resume" && argv.len() > 2 {
            resumed = Some(argv[2].clone());
            i += 2; // `resume` and its id
            continue;
        }
        if agent == AgentType::Claude && a == "--resume" && i + 1 < argv.len() {
            resumed = Some(argv[i + 1].clone());
            i += 2;
            continue;
        }
        if agent == AgentType::Claude && a == "--fork-session" {
            i += 1;
            continue;
        }
        if MODE_FLAGS.contains(&a) && i + 1 < argv.len() {
            i += 2;
            continue;
        }
        out.push(argv[i].clone());
        i += 1;
    }
    (out, resumed)
}

/// The conversation ids known for a fork's parent, besides the one in its argv.
#[derive(Debug, Default)]
pub struct KnownConversation {
    /// Named by the fork request; wins over everything.
    pub requested: Option<String>,
    /// Reported by the parent's agent itself (Claude's SessionStart hook); used only when
    /// neither the request nor the parent's argv names one.
    pub learned: Option<String>,
}

/// The command and launch options of a fork of a session running `argv`.
pub fn fork_launch(
    agent: AgentType,
    argv: &[String],
    mode: PermissionMode,
    known: KnownConversation,
) -> (Vec<String>, LaunchOptions) {
    let (mut base, resumed) = base_argv(agent, argv);
    let conversation = known.requested.or(resumed).or(known.learned);
    let resume = match agent {
        AgentType::Claude | AgentType::Codex => conversation,
        _ => None,
    };
    if agent == AgentType::Claude && resume.is_some() {
        base.push("--fork-session".into());
    }
    (
        base,
        LaunchOptions {
            permission_mode: Some(mode),
            resume_session_id: resume,
            // The manager writes the hook settings file for the new session.
            ..LaunchOptions::default()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn strips_launch_flags_and_finds_the_conversation() {
        let (b, r) = base_argv(
            AgentType::Claude,
            &v("claude --model x --resume abc --permission-mode plan"),
        );
        assert_eq!(b, v("claude --model x"));
        assert_eq!(r.as_deref(), Some("abc"));
        let (b, r) = base_argv(
            AgentType::Codex,
            &v("codex resume r1 --sandbox read-only --ask-for-approval on-request"),
        );
        assert_eq!(b, v("codex"));
        assert_eq!(r.as_deref(), Some("r1"));
        // Custom programs are left exactly as they are.
        let (b, _) = base_argv(AgentType::Custom, &v("prog --sandbox x"));
        assert_eq!(b, v("prog --sandbox x"));
    }

    #[test]
    fn claude_forks_with_fork_session() {
        let (b, o) = fork_launch(
            AgentType::Claude,
            &v("claude --permission-mode plan"),
            PermissionMode::Plan,
            KnownConversation {
                requested: Some("c1".into()),
                learned: Some("hook".into()),
            },
        );
        let argv = crate::session::launch::build_argv(AgentType::Claude, b, &o).unwrap_or_default();
        assert_eq!(
            argv,
            v("claude --fork-session --resume c1 --permission-mode plan")
        );
        // The parent's --resume wins over the id its hook reported; the hook's id is the
        // last resort.
        let learned = || KnownConversation {
            requested: None,
            learned: Some("hook".into()),
        };
        let (_, o) = fork_launch(
            AgentType::Claude,
            &v("claude --resume r1"),
            PermissionMode::Default,
            learned(),
        );
        assert_eq!(o.resume_session_id.as_deref(), Some("r1"));
        let (_, o) = fork_launch(
            AgentType::Claude,
            &v("claude"),
            PermissionMode::Default,
            learned(),
        );
        assert_eq!(o.resume_session_id.as_deref(), Some("hook"));
        let (b, o) = fork_launch(
            AgentType::Gemini,
            &v("gemini"),
            PermissionMode::Default,
            KnownConversation {
                requested: Some("x".into()),
                learned: None,
            },
        );
        assert_eq!(b, v("gemini"));
        assert_eq!(o.resume_session_id, None);
    }
}
