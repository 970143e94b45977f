//! The persisted state beyond sessions (issue 6): memory bridge entries with TTLs that keep
//! counting across a daemon restart.

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
