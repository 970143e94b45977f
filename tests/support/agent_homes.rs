//! The home directories the real agent CLIs read at start-up, seeded per test: onboarding
//! done, the test API key approved, and the project trusted or not as the test asks.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use super::agents::{Agent, CLAUDE_KEY, Trust};

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("config dir");
    }
    std::fs::write(path, text).expect("writing agent config");
}

/// `.claude.json`: onboarding done, the API key approved (by its last 20 characters, as
/// Claude Code fingerprints it), and the project trusted unless the test wants the dialog.
pub fn seed_claude(home: &Path, work: &Path, trust: Trust) {
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
pub fn seed_codex(codex_home: &Path, work: &Path, model_url: &str, trust: Trust) {
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
pub fn seed_gemini(home: &Path, work: &Path, trust: Trust) {
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
