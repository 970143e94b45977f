//! Faces for the ecosystem and the v0.3 metrics: `aegis mcp` driven by
//! the PyPI `mcp` client, `GET /v1/tools`, Prometheus `/metrics` parsed by the PyPI
//! `prometheus_client` parsers, the v0.3 JSON metrics shapes, `aegis doctor`, shell
//! completions, and the sample config and environment files under dist/.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Daemon, Options, id_of, support_bin, venv_tool};

const T: Duration = Duration::from_secs(20);

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn aegis() -> Command {
    Command::new(env!("CARGO_BIN_EXE_aegis"))
}

#[test]
fn mcp_client_from_pypi_drives_a_session() {
    let Some(py) = venv_tool("python") else {
        return;
    };
    let d = Daemon::start_with(Options {
        args: &[],
        env: &[("AEGIS_AUTH_TOKEN", "mcp-secret")],
    });
    let out = Command::new(py)
        .arg(support_bin("faces_mcp_client.py"))
        .arg(env!("CARGO_BIN_EXE_aegis"))
        .arg(d.work_dir())
        .env("AEGIS_URL", &d.url)
        .env("AEGIS_AUTH_TOKEN", "mcp-secret")
        .output()
        .expect("running the MCP client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "MCP client failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_str(stdout.trim()).expect("client JSON");
    assert_eq!(seen["server"], "aegis");
    assert_eq!(seen["tools"].as_array().map(Vec::len), Some(17), "{seen}");
    assert_eq!(seen["send_required"], json!(["session", "text"]));
    assert_eq!(seen["delivered"], true);
    assert_eq!(seen["resource_has_echo"], true);
    assert_eq!(seen["templates"], json!(["aegis://sessions/{id}/screen"]));
    let missing = seen["missing_error"].as_str().unwrap_or_default();
    assert!(
        missing.contains("SESSION_NOT_FOUND") && missing.contains("no-such-session"),
        "{missing}"
    );
    let bad = seen["bad_args_error"].as_str().unwrap_or_default();
    assert!(
        bad.contains("invalid arguments for send_keys") && bad.contains("keys"),
        "{bad}"
    );
    // `wait_for_state` enumerates the states and refuses a misspelt one at once.
    assert_eq!(
        seen["state_names"].as_array().map(Vec::len),
        Some(8),
        "{seen}"
    );
    let bad_state = seen["bad_state_error"].as_str().unwrap_or_default();
    assert!(
        bad_state.contains("unknown state \"idel\"") && bad_state.contains("permission_prompt"),
        "{bad_state}"
    );
    // Pending permissions have one shape, with or without a session.
    assert_eq!(
        seen["pending_shape"],
        json!(["permissions", "sessionId", "total"])
    );
    assert_eq!(seen["page_limit"], 1);
    let created = seen["created"].as_str().unwrap_or_default();
    assert!(
        !seen["after_kill"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == created)),
        "{seen}"
    );
}

#[test]
fn tools_route_serves_the_mcp_table() {
    let d = Daemon::start();
    let (status, v) = d.get("/v1/tools");
    assert_eq!(status, StatusCode::OK, "{v}");
    let tools = v["tools"].as_array().cloned().unwrap_or_default();
    assert_eq!(tools.len(), 17);
    assert_eq!(v["total"], 17);
    let wait = tools
        .iter()
        .find(|t| t["name"] == "wait_for_state")
        .expect("wait_for_state listed");
    assert!(wait["description"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(wait["inputSchema"]["type"], "object");
    assert!(
        wait["inputSchema"]["properties"]["timeoutMs"].is_object(),
        "{wait}"
    );
}

/// Parse with the PyPI parsers; returns the families JSON.
fn parse_prometheus(py: &Path, text: &str) -> Value {
    use std::io::Write;
    let mut child = Command::new(py)
        .arg(support_bin("faces_prom_parse.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("parser");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("parser output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "parser refused the output: {stdout}\n{text}"
    );
    serde_json::from_str(stdout.trim()).expect("parser JSON")
}

fn samples<'a>(f: &'a Value, family: &str) -> Vec<&'a Value> {
    f["families"][family]["samples"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

#[test]
fn prometheus_metrics_parse_and_count_the_work() {
    let Some(py) = venv_tool("python") else {
        return;
    };
    let d = Daemon::start_with(Options {
        args: &[],
        env: &[("AEGIS_AUTH_TOKEN", "prom")],
    });
    let id = d.bash();
    d.wait_status(&id, "idle", T);
    d.send(&id, "echo prom-$((20+22))");
    d.wait_screen(&id, "prom-42", T);
    // The shell is `working` while its output is fresh; scrape once it settled.
    d.wait_status(&id, "idle", T);
    d.get(&format!("/v1/sessions/{id}/read"));
    d.get("/v1/sessions/no-such/read");

    // Same guard as the API.
    let (status, _) = d.call_as(reqwest::Method::GET, "/metrics", None, None);
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let resp = d
        .http()
        .get(format!("{}/metrics", d.url))
        .bearer_auth("prom")
        .send()
        .expect("scrape");
    assert_eq!(resp.status(), StatusCode::OK);
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(ctype.starts_with("application/openmetrics-text"), "{ctype}");
    let text = resp.text().expect("body");
    assert!(
        !text.contains(&id),
        "a raw session id leaked into a label:\n{text}"
    );
    let f = parse_prometheus(&py, &text);

    let sessions = samples(&f, "aegis_sessions");
    assert!(
        sessions
            .iter()
            .any(|s| s[1]["agent"] == "shell" && s[1]["state"] == "idle" && s[2] == 1.0),
        "{sessions:?}"
    );
    assert_eq!(f["families"]["aegis_sessions"]["type"], "gauge");
    let transitions = samples(&f, "aegis_state_transitions");
    assert!(
        transitions
            .iter()
            .any(|s| s[1]["from"] == "starting" && s[2].as_f64() >= Some(1.0)),
        "{transitions:?}"
    );
    let sends = samples(&f, "aegis_sends");
    assert!(
        sends
            .iter()
            .any(|s| s[1]["outcome"] == "delivered" && s[1]["agent"] == "shell" && s[2] == 1.0),
        "{sends:?}"
    );
    assert!(
        samples(&f, "aegis_captured_bytes")
            .iter()
            .any(|s| s[2].as_f64() > Some(0.0))
    );
    assert!(!samples(&f, "aegis_delivery_retries").is_empty());
    // Families nothing has happened to yet are there, at zero, from the first scrape.
    let lags = samples(&f, "aegis_subscriber_lags");
    for channel in aegis::metrics::LAG_CHANNELS {
        assert!(
            lags.iter().any(|s| s[1]["channel"] == channel),
            "{channel}: {lags:?}"
        );
    }
    let webhooks = samples(&f, "aegis_webhook_attempts");
    assert!(
        webhooks
            .iter()
            .any(|s| s[1]["outcome"] == "failed" && s[2] == 0.0),
        "{webhooks:?}"
    );
    let http = samples(&f, "aegis_http_requests");
    let read = |status: &str| {
        http.iter().any(|s| {
            s[1]["route"] == "/v1/sessions/:id/read"
                && s[1]["method"] == "GET"
                && s[1]["status"] == status
        })
    };
    assert!(read("200") && read("404"), "{http:?}");
    assert_eq!(
        f["families"]["aegis_http_request_duration_seconds"]["type"],
        "histogram"
    );
    let detection = samples(&f, "aegis_state_detection_seconds");
    assert!(
        detection
            .iter()
            .any(|s| s[0] == "aegis_state_detection_seconds_count" && s[2].as_f64() >= Some(1.0)),
        "{detection:?}"
    );
}

#[test]
fn metrics_open_serves_prometheus_without_a_token() {
    let d = Daemon::start_with(Options {
        args: &["--metrics-open"],
        env: &[("AEGIS_AUTH_TOKEN", "t")],
    });
    let (status, body) = d.call_as(reqwest::Method::GET, "/metrics", None, None);
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.as_str().is_some_and(|b| b.ends_with("# EOF\n")),
        "{body}"
    );
    // Only the scrape route is opened.
    let (status, _) = d.call_as(reqwest::Method::GET, "/v1/metrics", None, None);
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[test]
fn v03_metrics_and_latency_shapes() {
    let d = Daemon::start();
    let id = d.bash();
    d.wait_status(&id, "idle", T);
    d.send(&id, "echo shapes");
    d.wait_screen(&id, "shapes\n", T);

    let (status, m) = d.get(&format!("/v1/sessions/{id}/metrics"));
    assert_eq!(status, StatusCode::OK, "{m}");
    assert_eq!(m["messages"], 1, "{m}");
    for k in ["durationSec", "toolCalls", "approvals", "autoApprovals"] {
        assert!(m[k].is_u64(), "{k} in {m}");
    }
    let changes: Vec<&str> = m["statusChanges"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert_eq!(changes.first(), Some(&"starting"), "{m}");
    assert!(changes.contains(&"idle"), "{m}");
    assert!(
        m["tokenUsage"].is_null(),
        "unknown usage is null, not zero: {m}"
    );

    let (status, l) = d.get(&format!("/v1/sessions/{id}/latency"));
    assert_eq!(status, StatusCode::OK, "{l}");
    assert_eq!(l["sessionId"], id.as_str());
    let detect = &l["aggregated"]["state_change_detection_ms"];
    assert!(detect["count"].as_u64() >= Some(1), "{l}");
    assert!(detect["min"].as_f64() <= detect["max"].as_f64(), "{l}");
    for k in [
        "hook_latency_ms",
        "permission_response_ms",
        "channel_delivery_ms",
    ] {
        assert!(l["aggregated"][k].is_object(), "{k} in {l}");
    }
    assert!(
        l["realtime"]["state_change_detection_ms"].is_number(),
        "{l}"
    );
    assert!(l["realtime"]["hook_latency_ms"].is_null(), "{l}");

    let (status, g) = d.get("/v1/metrics");
    assert_eq!(status, StatusCode::OK, "{g}");
    assert_eq!(g["sessions"]["total_created"], 1, "{g}");
    assert_eq!(g["sessions"]["currently_active"], 1, "{g}");
    assert_eq!(g["prompt_delivery"]["sent"], 1, "{g}");
    assert_eq!(g["prompt_delivery"]["delivered"], 1, "{g}");
    assert_eq!(g["prompt_delivery"]["success_rate"], 1.0, "{g}");
    for k in [
        "uptime",
        "auto_approvals",
        "webhooks_sent",
        "webhooks_failed",
        "pipelines_created",
        "batches_created",
    ] {
        assert!(g[k].is_u64(), "{k} in {g}");
    }
    assert!(g["latency"]["state_change_detection_ms"]["count"].as_u64() >= Some(1));

    let (status, e) = d.get("/v1/sessions/nope/metrics");
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("SESSION_NOT_FOUND"))
    );
    let (status, e) = d.get("/v1/sessions/nope/latency");
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("SESSION_NOT_FOUND"))
    );
}

fn doctor(args: &[&str]) -> (bool, String) {
    let out = aegis()
        .arg("doctor")
        .args(args)
        .env_remove("AEGIS_PORT")
        .env_remove("AEGIS_HOST")
        .output()
        .expect("aegis doctor");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn doctor_checks_pty_state_dir_port_and_agents() {
    let tmp = tempfile::tempdir().expect("tmp");
    let fresh = tmp.path().join("new/state");
    let (ok, text) = doctor(&[
        "--state-dir",
        fresh.to_str().unwrap_or_default(),
        "--port",
        "0",
    ]);
    assert!(ok, "{text}");
    assert!(text.contains("ok    pty"), "{text}");
    assert!(text.contains("will create it"), "{text}");
    for agent in ["claude", "codex", "gemini", "aider"] {
        assert!(text.contains(&format!("{agent}:")), "{text}");
    }

    // A running daemon on the port is fine.
    let d = Daemon::start();
    let port = d.url.rsplit(':').next().unwrap_or_default().to_owned();
    let (ok, text) = doctor(&[
        "--state-dir",
        fresh.to_str().unwrap_or_default(),
        "--port",
        &port,
    ]);
    assert!(ok && text.contains("running Aegis daemon"), "{text}");

    // Another program on the port, or a state dir that is a file, is a hard failure.
    let other = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = other.local_addr().expect("addr").port().to_string();
    let file = tmp.path().join("file");
    std::fs::write(&file, "x").expect("write");
    let (ok, text) = doctor(&[
        "--state-dir",
        file.to_str().unwrap_or_default(),
        "--port",
        &port,
    ]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("FAIL  port") && text.contains("another program"),
        "{text}"
    );
    assert!(
        text.contains("FAIL  state dir") && text.contains("not a directory"),
        "{text}"
    );
    assert!(text.contains("2 check(s) failed"), "{text}");

    // What `serve` would refuse fails here too: a public address without a token.
    let (ok, text) = doctor(&[
        "--state-dir",
        fresh.to_str().unwrap_or_default(),
        "--host",
        "0.0.0.0",
        "--port",
        "0",
    ]);
    assert!(!ok && text.contains("FAIL  config"), "{text}");
    let (ok, text) = doctor(&[
        "--state-dir",
        fresh.to_str().unwrap_or_default(),
        "--host",
        "0.0.0.0",
        "--port",
        "0",
        "--token",
        "t0ken",
    ]);
    assert!(ok && text.contains("ok    config"), "{text}");
    // The test build has aegis-holder beside aegis, from the same sources.
    assert!(text.contains("ok    holder"), "{text}");
}

/// `--token` is a global flag (the client subcommands send it); `serve` must require it, not
/// ignore it and serve without auth.
#[test]
fn serve_requires_the_token_given_as_a_flag() {
    let d = Daemon::start_with(Options {
        args: &["--token", "flag-t0ken"],
        env: &[],
    });
    let (status, body) = d.call_as(Method::GET, "/v1/sessions", None, None);
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _) = d.call_as(Method::GET, "/v1/sessions", None, Some("wrong"));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = d.call_as(Method::GET, "/v1/sessions", None, Some("flag-t0ken"));
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[test]
fn completions_for_bash_zsh_and_fish() {
    for (shell, marker) in [
        ("bash", "_aegis()"),
        ("zsh", "#compdef aegis"),
        ("fish", "complete -c aegis"),
    ] {
        let out = aegis()
            .args(["completions", shell])
            .output()
            .expect("completions");
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(marker), "{shell}: {text}");
        assert!(text.contains("doctor") && text.contains("serve"), "{shell}");
    }
    let out = aegis()
        .args(["completions", "tcsh"])
        .output()
        .expect("completions");
    assert!(!out.status.success());
}

/// `KEY=VALUE` lines of an env file, commented-out ones included (with a flag).
fn env_lines(text: &str) -> Vec<(String, String, bool)> {
    text.lines()
        .filter_map(|l| {
            let (commented, l) = match l.strip_prefix("# ") {
                Some(rest) => (true, rest),
                None => (false, l),
            };
            let (k, v) = l.split_once('=')?;
            k.starts_with("AEGIS_")
                .then(|| (k.to_owned(), v.to_owned(), commented))
        })
        .collect()
}

#[test]
fn sample_config_and_env_cover_every_option_and_load() {
    // The TOML through the daemon's own loader (parse + checks).
    let toml = repo("dist/aegis.toml");
    let cfg = aegis::webhooks::config::FileConfig::load(&toml).expect("dist/aegis.toml loads");
    assert!(!cfg.webhooks.is_empty() && !cfg.agents.is_empty());
    assert!(!cfg.templates.is_empty() && cfg.stimuli.len() >= 2);
    assert!(
        !cfg.pricing.is_empty(),
        "dist/aegis.toml has no [pricing] example"
    );

    // Every `aegis serve` variable is in the env file.
    let env_text = std::fs::read_to_string(repo("dist/aegis.env")).expect("dist/aegis.env");
    let listed = env_lines(&env_text);
    let cmd = <aegis::config::ServeArgs as clap::Args>::augment_args(clap::Command::new("serve"));
    let mut wanted: Vec<String> = cmd
        .get_arguments()
        .filter_map(|a| a.get_env().map(|e| e.to_string_lossy().into_owned()))
        .collect();
    wanted.push("AEGIS_AUTH_TOKEN".into());
    for var in &wanted {
        assert!(
            listed.iter().any(|(k, _, _)| k == var),
            "{var} is missing from dist/aegis.env"
        );
    }

    // The daemon starts with every set value and the sample config (port, host and state dir
    // are the test's own).
    let env: Vec<(&str, &str)> = listed
        .iter()
        .filter(|(k, _, commented)| {
            !commented
                && ![
                    "AEGIS_PORT",
                    "AEGIS_HOST",
                    "AEGIS_STATE_DIR",
                    "AEGIS_KILL_SESSIONS_ON_EXIT",
                ]
                .contains(&k.as_str())
        })
        .map(|(k, v, _)| (k.as_str(), v.as_str()))
        .collect();
    let toml_arg = toml.to_string_lossy().into_owned();
    let d = Daemon::start_with(Options {
        args: &["--config", &toml_arg],
        env: &env,
    });
    let (status, health) = d.get("/v1/health");
    assert_eq!(status, StatusCode::OK, "{health}");
    let id = id_of(&d.spawn(&["true"]));
    d.wait_status(&id, "exited", T);
}
