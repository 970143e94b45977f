//! The persisted state beyond sessions: memory bridge entries with TTLs that keep
//! counting across a daemon restart, API keys with scopes, and read-only mode.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{Daemon, wait_until};

const T: Duration = Duration::from_secs(20);

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[test]
fn memory_entries_persist_and_ttls_run_across_restarts() {
    let mut d = Daemon::start();
    let (status, v) = d.post(
        "/v1/memory",
        json!({ "key": "proj/plan", "value": "step 1" }),
    );
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let (_, short) = d.post(
        "/v1/memory",
        json!({ "key": "proj/lease", "value": "held", "ttlMs": 1500 }),
    );
    let expires = short["expiresAt"].as_u64().expect("expiresAt");
    d.post(
        "/v1/memory",
        json!({ "key": "other", "value": "x", "ttlSeconds": 3600 }),
    );
    let (status, bad) = d.post("/v1/memory", json!({ "key": "", "value": "x" }));
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    let id = d.bash();
    let (status, v) = d.post(
        &format!("/v1/sessions/{id}/memories"),
        json!({ "key": "note", "value": "remember me" }),
    );
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["key"], "note");

    let listed = d.get("/v1/memory?prefix=proj/").1;
    assert_eq!(listed["total"], 2, "{listed}");
    assert_eq!(d.get("/v1/memory/proj/plan").1["value"], "step 1");

    // Stop, let the short TTL pass while no daemon runs, restart.
    d.stop();
    wait_until(T, "the lease to expire", || {
        (now_ms() > expires + 50).then_some(())
    });
    d.restart();
    let (status, gone) = d.get("/v1/memory/proj/lease");
    assert_eq!(status, StatusCode::NOT_FOUND, "{gone}");
    assert_eq!(gone["code"], "MEMORY_NOT_FOUND");
    assert_eq!(d.get("/v1/memory/proj/plan").1["value"], "step 1");
    assert_eq!(d.get("/v1/memory/other").1["value"], "x");
    let mine = d.get(&format!("/v1/sessions/{id}/memories")).1;
    assert_eq!(mine["entries"][0]["value"], "remember me", "{mine}");

    let (status, _) = d.call(Method::DELETE, "/v1/memory/proj/plan", None);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(d.get("/v1/memory/proj/plan").0, StatusCode::NOT_FOUND);
}

#[test]
fn api_keys_are_scoped_hashed_persisted_and_revocable() {
    let mut d = crate::support::Daemon::start_with(crate::support::Options {
        args: &[],
        env: &[("AEGIS_AUTH_TOKEN", "master-secret")],
    });
    let (status, reader) = d.post(
        "/v1/auth/keys",
        json!({ "name": "reader", "scopes": ["sessions:read"] }),
    );
    assert_eq!(status, StatusCode::CREATED, "{reader}");
    let reader_key = reader["key"].as_str().expect("key shown once").to_owned();
    let (_, writer) = d.post(
        "/v1/auth/keys",
        json!({ "name": "writer", "scopes": ["sessions:write"] }),
    );
    let writer_key = writer["key"].as_str().expect("key").to_owned();
    let (status, bad) = d.post("/v1/auth/keys", json!({ "name": "x", "scopes": ["root"] }));
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");

    let as_key = |d: &crate::support::Daemon,
                  m: Method,
                  path: &str,
                  body: Option<serde_json::Value>,
                  key: &str| { d.call_as(m, path, body, Some(key)) };
    let create = json!({ "workDir": d.work_dir(), "agentType": "custom", "command": ["cat"] });
    assert_eq!(
        as_key(&d, Method::GET, "/v1/sessions", None, &reader_key).0,
        StatusCode::OK
    );
    let (status, v) = as_key(
        &d,
        Method::POST,
        "/v1/sessions",
        Some(create.clone()),
        &reader_key,
    );
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["code"], "FORBIDDEN");
    assert_eq!(
        as_key(&d, Method::GET, "/v1/auth/keys", None, &reader_key).0,
        StatusCode::FORBIDDEN
    );
    let (status, v) = as_key(&d, Method::POST, "/v1/sessions", Some(create), &writer_key);
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(
        as_key(&d, Method::GET, "/v1/sessions", None, &writer_key).0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        as_key(&d, Method::GET, "/v1/sessions", None, "aegis_nope").0,
        StatusCode::UNAUTHORIZED
    );

    // Listed without secrets; stored hashed.
    let listed = d.get("/v1/auth/keys").1;
    assert_eq!(listed["keys"].as_array().map(Vec::len), Some(2), "{listed}");
    assert!(!listed.to_string().contains(&reader_key));
    let stored = std::fs::read_to_string(d.dir.path().join("state/keys.json")).expect("keys.json");
    assert!(!stored.contains(&reader_key) && !stored.contains(&writer_key));

    // Keys persist across a restart; a revoked key stops working.
    d.stop();
    d.restart();
    assert_eq!(
        as_key(&d, Method::GET, "/v1/sessions", None, &reader_key).0,
        StatusCode::OK
    );
    let id = reader["id"].as_str().expect("id");
    assert_eq!(
        d.call(Method::DELETE, &format!("/v1/auth/keys/{id}"), None)
            .0,
        StatusCode::OK
    );
    assert_eq!(
        as_key(&d, Method::GET, "/v1/sessions", None, &reader_key).0,
        StatusCode::UNAUTHORIZED
    );
}

#[test]
fn read_only_mode_refuses_writes() {
    let d = crate::support::Daemon::start_with(crate::support::Options {
        args: &["--read-only"],
        env: &[],
    });
    let (status, v) = d.post(
        "/v1/sessions",
        json!({ "workDir": d.work_dir(), "agentType": "custom", "command": ["cat"] }),
    );
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["code"], "READ_ONLY");
    let (status, v) = d.post("/v1/memory", json!({ "key": "k", "value": "v" }));
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(d.get("/v1/sessions").0, StatusCode::OK);
    assert_eq!(d.get("/v1/memory").0, StatusCode::OK);
}
