//! The real agent CLIs (Claude Code, Codex CLI, Gemini CLI) and what each needs to run
//! offline against a scripted model server: the pinned version, the argv, a private HOME
//! seeded with onboarding done, the test API key approved and the project trusted or not,
//! and the environment that points it at the server with telemetry and updates off.
//!
//! It uses nothing of the test harness, so the comparison bench (`benches/compare`) runs the
//! same agents the same way.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::json;

/// The agent CLIs the real-agent tests (and the comparison bench) drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agent {
    Claude,
    Codex,
    Gemini,
}

impl Agent {
    pub fn name(self) -> &'static str {
        match self {
            Agent::Claude => "claude",
            Agent::Codex => "codex",
            Agent::Gemini => "gemini",
        }
    }

    /// The version pinned in tests/agents/package.json (fixture headers and the seeded
    /// onboarding state name it; [`installed_version`] is checked against it).
    pub fn version(self) -> &'static str {
        match self {
            Agent::Claude => "2.1.197",
            Agent::Codex => "0.171.0",
            Agent::Gemini => "0.61.0",
        }
    }

    /// The npm package that provides the CLI.
    pub fn package(self) -> &'static str {
        match self {
            Agent::Claude => "@anthropic-ai/claude-code",
            Agent::Codex => "@openai/codex",
            Agent::Gemini => "@google/gemini-cli",
        }
    }

    /// The argv a session runs (the program is found on the daemon's PATH). Codex gets
    /// `--no-daemon`: its default start leaves a background app-server running after the TUI
    /// exits, which would outlive the test.
    pub fn command(self) -> Vec<&'static str> {
        match self {
            Agent::Claude => vec!["claude"],
            Agent::Codex => vec!["codex", "--no-daemon"],
            Agent::Gemini => vec!["gemini"],
        }
    }

    /// How long an agent must have printed nothing, idle at its prompt, before the tests
    /// count it as started up (the test lab's `wait_ready`). Gemini redraws its whole screen up to
    /// ~2 s after its first idle frame; an Enter that lands in that redraw is lost.
    pub fn settled(self) -> Duration {
        match self {
            Agent::Gemini => Duration::from_secs(3),
            _ => Duration::from_millis(1500),
        }
    }

    /// How long the agent may take from launch to its idle prompt on a loaded 2-core machine
    /// (Gemini re-executes Node with a larger heap before it draws anything).
    pub fn boot_timeout(self) -> Duration {
        match self {
            Agent::Gemini => Duration::from_secs(60),
            _ => Duration::from_secs(40),
        }
    }
}

/// The version of `agent`'s package installed under tests/agents, if it is installed.
pub fn installed_version(agent: Agent) -> Option<String> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/agents/node_modules")
        .join(agent.package())
        .join("package.json");
    let text = std::fs::read_to_string(manifest).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["version"].as_str().map(str::to_owned)
}

/// Directory holding the installed agent CLIs.
pub fn agents_bin_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/agents/node_modules/.bin")
}

/// Claude's API key: any well-formed key; its last 20 characters are pre-approved in
/// `.claude.json` so the first start asks nothing and contacts nothing.
pub const CLAUDE_KEY: &str = "sk-ant-api03-aegis-test-key-0123456789abcdefghij";

/// How the lab seeds the agent's start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// The project dir is trusted in the agent's own config: no dialog.
    Seeded,
    /// Not trusted yet: the agent asks at start (Codex asks only in a git repository, so
    /// the project dir is made one).
    Ask,
}

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("config dir");
    }
    std::fs::write(path, text).expect("writing agent config");
}

/// `.claude.json`: onboarding done, the API key approved (by its last 20 characters, as
/// Claude Code fingerprints it), and the project trusted unless the test wants the dialog.
fn seed_claude(home: &Path, work: &Path, trust: Trust) {
    let mut projects = serde_json::Map::new();
    if trust == Trust::Seeded {
        projects.insert(
            work.display().to_string(),
            json!({ "hasTrustDialogAccepted": true, "hasCompletedProjectOnboarding": true,
                    "allowedTools": [] }),
        );
    }
    let config = json!({
        "hasCompletedOnboarding": true,
        "lastOnboardingVersion": Agent::Claude.version(),
        "theme": "dark",
        "customApiKeyResponses": {
            "approved": [&CLAUDE_KEY[CLAUDE_KEY.len() - 20..]],
            "rejected": [],
        },
        "projects": projects,
    });
    write(&home.join(".claude.json"), &config.to_string());
}

/// `$CODEX_HOME/config.toml`: the mock provider (Responses API, key from MOCK_API_KEY),
/// approvals on request, no update check, analytics and feedback off, two retries.
fn seed_codex(codex_home: &Path, work: &Path, model_url: &str, trust: Trust) {
    let mut config = format!(
        r#"model = "gpt-5-codex"
model_provider = "mock"
approval_policy = "on-request"
sandbox_mode = "workspace-write"
check_for_update_on_startup = false

[model_providers.mock]
name = "Mock"
base_url = "{model_url}/v1"
env_key = "MOCK_API_KEY"
wire_api = "responses"
supports_websockets = false
request_max_retries = 2
stream_max_retries = 2

# /tmp (where the test's project lives) is writable in Codex's sandbox by default: excluded,
# so a write outside the project asks for approval.
[sandbox_workspace_write]
exclude_slash_tmp = true
exclude_tmpdir_env_var = true

[analytics]
enabled = false

[feedback]
enabled = false
"#
    );
    match trust {
        Trust::Seeded => {
            config.push_str(&format!(
                "\n[projects.\"{}\"]\ntrust_level = \"trusted\"\n",
                work.display()
            ));
        }
        Trust::Ask => {
            let ok = Command::new("git")
                .args(["init", "-q"])
                .current_dir(work)
                .status()
                .expect("running git init")
                .success();
            assert!(ok, "git init failed in {}", work.display());
        }
    }
    write(&codex_home.join("config.toml"), &config);
}

/// `~/.gemini/settings.json` (API-key auth chosen, updates, usage statistics and telemetry
/// off, IDE nudge seen, two attempts) and `trustedFolders.json`.
fn seed_gemini(home: &Path, work: &Path, trust: Trust) {
    let settings = json!({
        "general": { "enableAutoUpdate": false, "enableAutoUpdateNotification": false,
                     "maxAttempts": 2 },
        "privacy": { "usageStatisticsEnabled": false },
        "telemetry": { "enabled": false },
        "ide": { "enabled": false, "hasSeenNudge": true },
        "ui": { "theme": "Default" },
        "security": { "auth": { "selectedType": "gemini-api-key" } },
    });
    write(&home.join(".gemini/settings.json"), &settings.to_string());
    if trust == Trust::Seeded {
        let trusted = json!({ work.display().to_string(): "TRUST_FOLDER" });
        write(
            &home.join(".gemini/trustedFolders.json"),
            &trusted.to_string(),
        );
    }
}

/// The environment a session of `agent` runs in: its private HOME, temp and XDG dirs, the agent
/// CLIs first on PATH, and the agent pointed at the model server at `model_url` with updates
/// and telemetry off. Seeds the home (and the project's trust) on the way.
pub fn environment(
    agent: Agent,
    home: &Path,
    work: &Path,
    model_url: &str,
    trust: Trust,
) -> Vec<(String, String)> {
    let bin = agents_bin_dir();
    let tmp = home.join(".tmp");
    std::fs::create_dir_all(&tmp).expect("the agent's temp dir");
    let mut env: Vec<(String, String)> = vec![
        ("HOME".into(), home.display().to_string()),
        (
            "PATH".into(),
            format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        ),
        (
            "XDG_CONFIG_HOME".into(),
            home.join(".config").display().to_string(),
        ),
        (
            "XDG_CACHE_HOME".into(),
            home.join(".cache").display().to_string(),
        ),
        (
            "XDG_DATA_HOME".into(),
            home.join(".local/share").display().to_string(),
        ),
        (
            "XDG_STATE_HOME".into(),
            home.join(".local/state").display().to_string(),
        ),
        ("NO_UPDATE_NOTIFIER".into(), "1".into()),
        // The agents write temp files of their own (Claude a directory per project, Gemini a
        // report per failed request): they go with the test's dir instead of piling up in /tmp.
        ("TMPDIR".into(), tmp.display().to_string()),
    ];
    match agent {
        Agent::Claude => {
            seed_claude(home, work, trust);
            env.extend(
                [
                    ("ANTHROPIC_BASE_URL", model_url),
                    ("ANTHROPIC_API_KEY", CLAUDE_KEY),
                    ("DISABLE_AUTOUPDATER", "1"),
                    ("DISABLE_TELEMETRY", "1"),
                    ("DISABLE_ERROR_REPORTING", "1"),
                    ("DISABLE_BUG_COMMAND", "1"),
                    ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
                    // The default (10) makes an error take minutes to surface.
                    ("CLAUDE_CODE_MAX_RETRIES", "2"),
                ]
                .map(|(k, v)| (k.to_owned(), v.to_owned())),
            );
        }
        Agent::Codex => {
            let codex_home = home.join(".codex");
            seed_codex(&codex_home, work, model_url, trust);
            env.extend(
                [
                    ("CODEX_HOME", codex_home.display().to_string()),
                    ("MOCK_API_KEY", "sk-mock-aegis-test".to_owned()),
                ]
                .map(|(k, v)| (k.to_owned(), v)),
            );
        }
        Agent::Gemini => {
            seed_gemini(home, work, trust);
            env.extend(
                [
                    ("GEMINI_API_KEY", "mock-gemini-key-0123456789"),
                    ("GOOGLE_GEMINI_BASE_URL", model_url),
                    ("GEMINI_TELEMETRY_ENABLED", "false"),
                ]
                .map(|(k, v)| (k.to_owned(), v.to_owned())),
            );
        }
    }
    env
}
