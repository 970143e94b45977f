//! Security properties SECURITY.md promises that no other module already shows: the audit log
//! of write actions, refused environment names, private state files, CORS off, loopback bind
//! and the refusal to listen on the network without a token.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Daemon, Options, id_of};

fn with_token() -> Daemon {
    Daemon::start_with(Options {
        args: &[],
        env: &[("AEGIS_AUTH_TOKEN", "master-secret")],
    })
}

fn audit_entries(d: &Daemon) -> Vec<Value> {
    std::fs::read_to_string(d.dir.path().join("state/audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("audit line is JSON"))
        .collect()
}

#[test]
fn audit_log_records_who_did_which_write_and_when() {
    let d = with_token();
    let (status, key) = d.post(
        "/v1/auth/keys",
        json!({ "name": "ci-bot", "scopes": ["sessions:write", "sessions:read"] }),
    );
    assert_eq!(status, StatusCode::CREATED, "{key}");
    let secret = key["key"].as_str().expect("key").to_owned();
    let (status, s) = d.call_as(
        Method::POST,
        "/v1/sessions",
        Some(json!({ "workDir": d.work_dir(), "agentType": "custom", "command": ["cat"] })),
        Some(&secret),
    );
    assert_eq!(status, StatusCode::CREATED, "{s}");
    let id = id_of(&s);
    let (status, _) = d.call_as(
        Method::POST,
        &format!("/sessions/{id}/send"),
        Some(json!({ "text": "hello" })),
        Some(&secret),
    );
    assert_eq!(status, StatusCode::OK);
    // Reads are not write actions; refused requests never reached a handler.
    let _ = d.get(&format!("/v1/sessions/{id}"));
    let _ = d.call_as(
        Method::DELETE,
        &format!("/v1/sessions/{id}"),
        None,
        Some("bad"),
    );
    let (status, _) = d.call(Method::DELETE, &format!("/v1/sessions/{id}"), None);
    assert_eq!(status, StatusCode::OK);

    let entries = audit_entries(&d);
    let summary: Vec<(String, String, String, u64)> = entries
        .iter()
        .map(|e| {
            (
                e["who"].as_str().unwrap_or_default().to_owned(),
                e["method"].as_str().unwrap_or_default().to_owned(),
                e["path"].as_str().unwrap_or_default().to_owned(),
                e["status"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("token".into(), "POST".into(), "/v1/auth/keys".into(), 201),
            (
                "key:ci-bot".into(),
                "POST".into(),
                "/v1/sessions".into(),
                201
            ),
            (
                "key:ci-bot".into(),
                "POST".into(),
                format!("/sessions/{id}/send"),
                200
            ),
            (
                "token".into(),
                "DELETE".into(),
                format!("/v1/sessions/{id}"),
                200
            ),
        ],
        "{entries:#?}"
    );
    assert_eq!(entries[1]["keyId"], key["id"]);
    assert_eq!(entries[2]["session"], id.as_str());
    for e in &entries {
        let t = e["time"].as_str().unwrap_or_default();
        assert!(t.len() >= 20 && t.ends_with('Z'), "time {t:?}");
    }
    let mode = std::fs::metadata(d.dir.path().join("state/audit.jsonl"))
        .expect("audit file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn loader_and_daemon_env_names_are_refused_on_create() {
    let d = Daemon::start();
    for name in [
        "LD_PRELOAD",
        "LD_LIBRARY_PATH",
        "ld_audit",
        "DYLD_INSERT_LIBRARIES",
        "BASH_ENV",
        "AEGIS_AUTH_TOKEN",
    ] {
        let (status, v) = d.post(
            "/v1/sessions",
            json!({ "workDir": d.work_dir(), "agentType": "custom", "command": ["cat"], "env": { name: "/tmp/x" } }),
        );
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {v}");
        assert_eq!(v["code"], "VALIDATION_ERROR");
        assert!(
            v["error"].as_str().unwrap_or_default().contains(name),
            "{v}"
        );
    }
    let (_, list) = d.get("/v1/sessions");
    assert_eq!(
        list["sessions"].as_array().map_or(usize::MAX, Vec::len),
        0,
        "{list}"
    );
    // Ordinary names still pass.
    let s = d.create(json!({ "workDir": d.work_dir(), "agentType": "custom", "command": ["cat"], "env": { "MY_FLAG": "1" } }));
    assert!(s["id"].is_string());
}

fn walk(dir: &Path, problems: &mut Vec<String>) {
    use std::os::unix::fs::FileTypeExt;
    for e in std::fs::read_dir(dir).expect("read state dir").flatten() {
        let Ok(meta) = std::fs::symlink_metadata(e.path()) else {
            continue;
        };
        let mode = meta.permissions().mode() & 0o777;
        let ft = meta.file_type();
        if ft.is_dir() {
            if mode != 0o700 {
                problems.push(format!("{}: dir mode {mode:o}", e.path().display()));
            }
            walk(&e.path(), problems);
        } else if ft.is_file() && mode & 0o077 != 0 {
            problems.push(format!("{}: file mode {mode:o}", e.path().display()));
        } else if ft.is_socket() && mode & 0o077 != 0 {
            // A socket in a 0700 dir is unreachable to others anyway; still report it.
            problems.push(format!("{}: socket mode {mode:o}", e.path().display()));
        }
    }
}

#[test]
fn state_dir_is_0700_and_its_files_private() {
    let d = with_token();
    let (status, _) = d.post(
        "/v1/auth/keys",
        json!({ "name": "k", "scopes": ["sessions:read"] }),
    );
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = d.post("/v1/memory", json!({ "key": "a", "value": "b" }));
    assert_eq!(status, StatusCode::CREATED);
    let id = d.bash();
    d.send(&id, "echo recorded");
    let state = d.dir.path().join("state");
    crate::support::wait_until(std::time::Duration::from_secs(10), "registry file", || {
        std::fs::read_dir(&state)
            .ok()?
            .flatten()
            .any(|e| e.file_name().to_string_lossy().contains("registry"))
            .then_some(())
    });
    let mode = std::fs::metadata(&state)
        .expect("state")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o700);
    let mut problems = Vec::new();
    walk(&state, &mut problems);
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn cors_is_off_by_default() {
    let d = with_token();
    let preflight = d
        .http()
        .request(Method::OPTIONS, format!("{}/v1/sessions", d.url))
        .header("Origin", "https://evil.example")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .expect("preflight");
    assert!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    assert!(!preflight.status().is_success(), "{}", preflight.status());
    let get = d
        .http()
        .get(format!("{}/v1/health", d.url))
        .header("Origin", "https://evil.example")
        .send()
        .expect("get");
    assert_eq!(get.status(), StatusCode::OK);
    assert!(get.headers().get("access-control-allow-origin").is_none());
}

#[test]
fn binds_loopback_and_refuses_the_network_without_a_token() {
    let d = Daemon::start();
    assert!(d.url.starts_with("http://127.0.0.1:"), "{}", d.url);
    let dir = tempfile::tempdir().expect("tmp");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aegis"))
        .args(["serve", "--port", "0", "--host", "0.0.0.0", "--state-dir"])
        .arg(dir.path())
        .env_remove("AEGIS_AUTH_TOKEN")
        .output()
        .expect("run aegis");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refusing to bind"), "{err}");
}

#[test]
fn children_do_not_inherit_the_daemon_token() {
    let d = with_token();
    let id = id_of(&d.spawn(&["printenv", "AEGIS_AUTH_TOKEN"]));
    let v = d.wait_status(&id, "exited", std::time::Duration::from_secs(30));
    // printenv exits 1 when the variable is unset.
    assert_eq!(v["exitCode"], 1, "{v}");
    assert!(!d.screen(&id).contains("master-secret"));
}
