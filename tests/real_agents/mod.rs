//! The real agent CLIs (Claude Code, Codex CLI, Gemini CLI, pinned in tests/agents) supervised
//! by the real daemon against a scripted model server (tests/support/agents.rs). Each scenario
//! checks what the daemon reports (status, `/read`, pending permissions) AND what the agent
//! actually submitted to the model, so a lost, doubled or mangled send is caught where it
//! matters.
//!
//! Scenarios run for every agent that has the feature. Not applicable, and why:
//! - Gemini's endless 429/503 retry is the only one that must end `stalled`: Claude Code and
//!   Codex give up after their configured retries and show an error.
//! - Forking a conversation (`--fork-session`), pipelines, consensus reviews, the hooks and
//!   dismissed dialogs run on Claude Code (the agent Aegis forks with history and wires hooks
//!   for; the orchestration code paths are the same for every agent).
//!
//! Every other scenario runs on every agent. The daemon's environment may say `CI=true` (as
//! `.ci/run` does): sessions of an agent are told `CI=false`, as users' are (Gemini CLI goes
//! headless under `CI=true`).

mod dialogs;
mod orchestration;
mod turns;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::agents::{Agent, Lab, StatusLog, Trust, tool_results, user_texts};
use crate::support::{id_of, wait_until};

/// A model turn with instant answers, end to end, on a loaded machine.
const TURN: Duration = Duration::from_secs(45);

/// How often the status poller samples.
const SAMPLE: Duration = Duration::from_millis(50);

fn status_of(lab: &Lab, id: &str) -> Value {
    let (s, v) = lab.daemon.get(&format!("/v1/sessions/{id}"));
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

fn read(lab: &Lab, id: &str) -> Value {
    let (s, v) = lab.daemon.get(&format!("/v1/sessions/{id}/read"));
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

fn detect(lab: &Lab, id: &str) -> Value {
    lab.daemon.get(&format!("/v1/sessions/{id}/detect")).1
}

/// Wait until the screen shows `needle` and the status is `status`; the message names both
/// and shows the screen and what `/detect` said.
fn wait_screen_status(lab: &Lab, id: &str, needle: &str, status: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let (s, screen) = (lab.daemon.status(id), lab.daemon.screen(id));
        if s == status && screen.contains(needle) {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "timed out waiting for {needle:?} with status {status} (status is {s}); detect: {}\nscreen:\n{screen}",
                detect(lab, id)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Wait until the status is `status`; on timeout show the screen and `/detect`.
fn wait_status(lab: &Lab, id: &str, status: &str, timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let v = status_of(lab, id);
        if v["status"] == status {
            return v;
        }
        if Instant::now() > deadline {
            panic!(
                "timed out waiting for status {status} (status is {}); detect: {}\nscreen:\n{}",
                v["status"],
                detect(lab, id),
                lab.screen(id)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What the agent draws for each situation (its own words, from the real CLIs): a test first
/// waits for the screen to show it, then checks what the daemon made of it, so a wrong
/// reading fails as "the screen shows X, the status says Y" rather than as a timeout.
fn marker(agent: Agent, what: &str) -> &'static str {
    match (agent, what) {
        (Agent::Claude, "bash") => "Do you want to proceed?",
        (Agent::Codex, "bash") => "Would you like to run the following command?",
        (Agent::Gemini, "bash" | "write") => "Allow once",
        (Agent::Claude, "write") => "Do you want to create",
        (Agent::Codex, "write") => "Would you like to",
        (Agent::Claude, "question") => "Enter to select",
        (Agent::Codex, "question") => "Question 1/1",
        (Agent::Gemini, "question") => "Answer Questions",
        (Agent::Claude | Agent::Gemini, "error") => "API Error",
        (Agent::Codex, "error") => "■",
        (Agent::Claude, "trust") => "Yes, I trust this folder",
        (Agent::Codex, "trust") => "Trust this folder",
        (Agent::Gemini, "trust") => "Do you trust",
        (Agent::Claude, "retry") => "Retrying in",
        (Agent::Codex, "retry") => "reconnecting",
        (Agent::Gemini, "retry") => "esc to cancel",
        _ => panic!("no marker for {what} on {}", agent.name()),
    }
}

/// How long the daemon may take to reflect what the screen already shows.
const REFLECT: Duration = Duration::from_secs(5);

/// With `AEGIS_CAPTURE_FIXTURES=1`, save the session's screen (with its title and the agent's
/// state report) as a fixture under
/// tests/fixtures/screens/<agent>/<state>/real_<scenario>.txt, the directory naming what the
/// screen truly shows (taken when the agent's own words are on screen, whatever the daemon
/// said). That is how the real fixtures are regenerated for a new agent version.
fn capture(lab: &Lab, id: &str, state: &str, scenario: &str) {
    if std::env::var_os("AEGIS_CAPTURE_FIXTURES").is_none() {
        return;
    }
    if state == "idle" {
        // The daemon may call the session idle on Claude's Stop hook while the agent still
        // draws its spinner: an idle fixture is taken once the agent's own screen is idle.
        let deadline = Instant::now() + TURN;
        loop {
            let screen = lab.screen(id);
            // The composer is back (Claude's interrupted prompt sits in its box, the footer
            // gone: `❯ ` is enough there; Claude may draw the space as a no-break space).
            if !screen.contains("esc to")
                && (screen.contains(lab.composer())
                    || screen.contains("❯ ")
                    || screen.contains("❯\u{a0}"))
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the agent's own screen never came back idle (status {}):\n{screen}",
                lab.daemon.status(id)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let r = read(lab, id);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/screens")
        .join(lab.agent.name())
        .join(state);
    std::fs::create_dir_all(&dir).expect("fixture dir");
    let product = match lab.agent {
        Agent::Claude => "Claude Code",
        Agent::Codex => "Codex CLI",
        Agent::Gemini => "Gemini CLI",
    };
    let mut text = format!(
        "#! source: real {product} {} on Linux, 120x40, tests/real_agents/ scenario {scenario} (regenerate: AEGIS_CAPTURE_FIXTURES=1; project path and port normalised)\n",
        lab.agent.version()
    );
    let title = r["title"].as_str().unwrap_or_default();
    if !title.is_empty() {
        text.push_str(&format!("#! title: {title}\n"));
    }
    if let Some(report) = detect(lab, id)["report"].as_str() {
        text.push_str(&format!("#! report: {report}\n"));
    }
    // The temp project path and the model server's port change every run: fixtures show
    // fixed ones so a regeneration only differs where the agent's screen did.
    let port = lab.model.url.rsplit(':').next().unwrap_or_default();
    let output = r["output"]
        .as_str()
        .unwrap_or_default()
        .replace(&lab.work.display().to_string(), "/home/dev/project")
        .replace(
            &lab.work
                .parent()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            "/home/dev",
        )
        // Gemini names the parent folder by its base name ("Trust parent folder (…)").
        .replace(
            &lab.work
                .parent()
                .and_then(|p| p.file_name())
                .map(|n| format!("({})", n.to_string_lossy()))
                .unwrap_or_default(),
            "(dev)",
        )
        .replace(&format!("127.0.0.1:{port}"), "127.0.0.1:18080");
    let lines: Vec<&str> = output.lines().map(str::trim_end).collect();
    let end = lines
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(0, |i| i + 1);
    for l in &lines[..end] {
        text.push_str(l);
        text.push('\n');
    }
    std::fs::write(dir.join(format!("real_{scenario}.txt")), text).expect("writing fixture");
}

/// The statuses after the first `working`, repeats collapsed.
fn from_first_working(seen: &[(Duration, String)]) -> Vec<String> {
    seen.iter()
        .skip_while(|(_, s)| s != "working")
        .map(|(_, s)| s.clone())
        .collect()
}

/// How many user messages in the newest model turn are exactly `text`.
fn times_received(lab: &Lab, text: &str) -> usize {
    lab.conversation().iter().filter(|t| *t == text).count()
}

use dialogs::*;
use orchestration::*;
use turns::*;

macro_rules! agent_tests {
    ($agent:ident, $variant:expr, [$($scenario:ident),* $(,)?]) => {
        mod $agent {
            $(
                #[test]
                fn $scenario() {
                    super::$scenario($variant);
                }
            )*
        }
    };
}

agent_tests!(
    claude,
    crate::support::agents::Agent::Claude,
    [
        starts_idle,
        first_prompt_at_create,
        send_right_after_start,
        send_working_idle,
        long_stream_stays_working,
        shell_approval_approve,
        shell_approval_reject,
        file_write_approval,
        question_answered,
        trust_dialog_waits_then_approve,
        trust_folder_true,
        trust_folder_false,
        api_error_then_recover,
        retrying_is_working,
        interrupt_returns_idle,
        prompts_arrive_byte_exact,
        two_hundred_sends,
        fork_sees_parent_history,
        pipeline_two_stages,
        consensus_two_reviewers,
        hooks_reach_the_daemon,
        dismissed_dialogs_clear,
    ]
);

agent_tests!(
    codex,
    crate::support::agents::Agent::Codex,
    [
        starts_idle,
        first_prompt_at_create,
        send_right_after_start,
        send_working_idle,
        long_stream_stays_working,
        shell_approval_approve,
        shell_approval_reject,
        file_write_approval,
        question_answered,
        trust_dialog_waits_then_approve,
        trust_folder_true,
        trust_folder_false,
        api_error_then_recover,
        retrying_is_working,
        interrupt_returns_idle,
        prompts_arrive_byte_exact,
        two_hundred_sends,
    ]
);

agent_tests!(
    gemini,
    crate::support::agents::Agent::Gemini,
    [
        starts_idle,
        first_prompt_at_create,
        send_right_after_start,
        send_working_idle,
        long_stream_stays_working,
        shell_approval_approve,
        shell_approval_reject,
        file_write_approval,
        question_answered,
        trust_dialog_waits_then_approve,
        trust_folder_true,
        trust_folder_false,
        api_error_then_recover,
        retrying_is_working,
        endless_retry_stalls,
        interrupt_returns_idle,
        prompts_arrive_byte_exact,
        two_hundred_sends,
    ]
);
