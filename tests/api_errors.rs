//! Auth, rate limits, and the error format on every bad-input path. Each bad request must get
//! `{"error","code","statusCode"}` and change nothing.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Daemon, Options, id_of};

fn assert_error(status: StatusCode, body: &Value, want: StatusCode, code: &str) {
    assert_eq!(status, want, "body: {body}");
    assert_eq!(body["code"], code, "body: {body}");
    assert_eq!(body["statusCode"], want.as_u16(), "body: {body}");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "body: {body}"
    );
}

#[test]
fn auth_is_required_everywhere_but_health_and_accepts_three_carriers() {
    let d = Daemon::start_with(Options {
        args: &[],
        env: &[("AEGIS_AUTH_TOKEN", "s3cret-token")],
    });
    let (s, _) = d.call_as(Method::GET, "/v1/health", None, None);
    assert_eq!(s, StatusCode::OK);
    for path in [
        "/v1/sessions",
        "/sessions",
        "/v1/sessions/stats",
        "/v1/nope",
    ] {
        let (s, v) = d.call_as(Method::GET, path, None, None);
        assert_error(s, &v, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
        let (s, v) = d.call_as(Method::GET, path, None, Some("wrong"));
        assert_error(s, &v, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    }
    let (s, _) = d.call_as(Method::GET, "/v1/sessions", None, Some("s3cret-token"));
    assert_eq!(s, StatusCode::OK);
    let r = d
        .http()
        .get(format!("{}/v1/sessions?token=s3cret-token", d.url))
        .send()
        .expect("query token");
    assert_eq!(r.status(), StatusCode::OK);
    let r = d
        .http()
        .get(format!("{}/v1/sessions", d.url))
        .header("cookie", "aegis_token=s3cret-token")
        .send()
        .expect("cookie");
    assert_eq!(r.status(), StatusCode::OK);
    // A refused create changes nothing.
    let (s, _) = d.call_as(
        Method::POST,
        "/v1/sessions",
        Some(json!({ "workDir": d.work_dir(), "agentType": "shell" })),
        None,
    );
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(d.get("/v1/sessions").1["total"], 0);
}

#[test]
fn routing_errors_use_the_error_format() {
    let d = Daemon::start();
    let (s, v) = d.get("/v1/does-not-exist");
    assert_error(s, &v, StatusCode::NOT_FOUND, "NOT_FOUND");
    let (s, v) = d.call(Method::PUT, "/v1/health", None);
    assert_error(s, &v, StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED");
    let (s, v) = d.call(Method::PATCH, "/v1/sessions", None);
    assert_error(s, &v, StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED");
    let (s, v) = d.get("/v1/sessions/6f9619ff-8b86-d011-b42d-00c04fc964ff");
    assert_error(s, &v, StatusCode::NOT_FOUND, "SESSION_NOT_FOUND");
    let (s, v) = d.post("/v1/sessions/nobody/send", json!({ "text": "hi" }));
    assert_error(s, &v, StatusCode::NOT_FOUND, "SESSION_NOT_FOUND");
    // The unversioned aliases behave the same.
    let (s, v) = d.get("/sessions/nobody");
    assert_error(s, &v, StatusCode::NOT_FOUND, "SESSION_NOT_FOUND");
}

#[test]
fn bad_bodies_are_rejected_and_change_nothing() {
    let d = Daemon::start();
    let raw = |body: &'static str| {
        let r = d
            .http()
            .post(format!("{}/v1/sessions", d.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .expect("post");
        let s = r.status();
        (s, r.json::<Value>().expect("json error body"))
    };
    let (s, v) = raw("{not json");
    assert_error(s, &v, StatusCode::BAD_REQUEST, "INVALID_JSON");
    let (s, v) = raw("");
    assert_error(s, &v, StatusCode::BAD_REQUEST, "INVALID_JSON");
    let (s, v) = raw(r#"{"workDir": 5}"#);
    assert_error(s, &v, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    let (s, v) = raw(r#"{"workDir": "/tmp", "surprise": true}"#);
    assert_error(s, &v, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    assert!(
        v["error"].as_str().unwrap_or_default().contains("surprise"),
        "{v}"
    );

    let cases = [
        (json!({}), "workDir is required"),
        (
            json!({ "workDir": "relative/dir", "agentType": "shell" }),
            "absolute",
        ),
        (
            json!({ "workDir": "/definitely/not/here", "agentType": "shell" }),
            "does not exist",
        ),
        (
            json!({ "workDir": d.work_dir(), "agentType": "vim" }),
            "allowed: claude, codex, gemini, shell, custom",
        ),
        (
            json!({ "workDir": d.work_dir(), "agentType": "custom" }),
            "needs a command",
        ),
        (
            json!({ "workDir": d.work_dir(), "agentType": "shell", "cols": 1 }),
            "out of range",
        ),
        (
            json!({ "workDir": d.work_dir(), "agentType": "shell", "name": "bad name" }),
            "invalid name",
        ),
        (
            json!({ "workDir": d.work_dir(), "agentType": "shell", "env": { "1X": "y" } }),
            "environment variable",
        ),
    ];
    for (body, needle) in cases {
        let (s, v) = d.post("/v1/sessions", body.clone());
        assert_error(s, &v, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
        assert!(
            v["error"].as_str().unwrap_or_default().contains(needle),
            "{body} -> {v}"
        );
    }
    let (s, v) = d.post(
        "/v1/sessions",
        json!({ "workDir": d.work_dir(), "agentType": "custom", "command": ["/no/such/binary"] }),
    );
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, "SPAWN_FAILED");
    assert_eq!(
        d.get("/v1/sessions").1["total"],
        0,
        "a refused create left a session behind"
    );

    let id = d.bash();
    let (s, v) = d.post(&format!("/v1/sessions/{id}/send"), json!({ "text": "" }));
    assert_error(s, &v, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    let (s, v) = d.post(&format!("/v1/sessions/{id}/keys"), json!({ "keys": [] }));
    assert_error(s, &v, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    let (s, v) = d.get(&format!("/v1/sessions/{id}/read?format=html"));
    assert_error(s, &v, StatusCode::BAD_REQUEST, "INVALID_FORMAT");
    assert!(
        v["error"]
            .as_str()
            .unwrap_or_default()
            .contains("text, ansi"),
        "{v}"
    );
    let (s, v) = d.get(&format!("/v1/sessions/{id}/read?lines=0"));
    assert_error(s, &v, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    let (s, v) = d.get(&format!("/v1/sessions/{id}/read?lines=2001"));
    assert_error(s, &v, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    let (s, v) = d.post(
        &format!("/v1/sessions/{id}/resize"),
        json!({ "cols": 0, "rows": 10 }),
    );
    assert_error(s, &v, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    let (s, v) = d.post("/v1/sessions", json!({ "workDir": d.work_dir(), "agentType": "shell", "name": d.get(&format!("/v1/sessions/{id}")).1["name"] }));
    assert_error(s, &v, StatusCode::CONFLICT, "NAME_CONFLICT");
    assert_eq!(d.get("/v1/sessions").1["total"], 1);
}

#[test]
fn oversized_bodies_get_413() {
    let d = Daemon::start_with(Options {
        args: &["--max-body-bytes", "4096"],
        env: &[],
    });
    let id = id_of(&d.spawn(&["cat"]));
    let huge = "x".repeat(10_000);
    let (s, v) = d.post(&format!("/v1/sessions/{id}/send"), json!({ "text": huge }));
    assert_error(s, &v, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE");
    let (s, v) = d.post(
        "/v1/sessions",
        json!({ "workDir": d.work_dir(), "prompt": huge }),
    );
    assert_error(s, &v, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE");
    assert!(
        !d.screen(&id).contains("xxxx"),
        "the refused text reached the session"
    );
}

#[test]
fn rate_limit_answers_429_with_retry_after() {
    let d = Daemon::start_with(Options {
        args: &["--rate-limit", "1", "--rate-burst", "3"],
        env: &[],
    });
    let mut statuses = vec![];
    let mut retry_after = None;
    for _ in 0..6 {
        let r = d
            .http()
            .get(format!("{}/v1/sessions", d.url))
            .send()
            .expect("get");
        statuses.push(r.status());
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            retry_after = r
                .headers()
                .get("retry-after")
                .and_then(|h| h.to_str().ok())
                .and_then(|s| s.parse::<u64>().ok());
            let v: Value = r.json().expect("json");
            assert_eq!(v["code"], "RATE_LIMITED");
            assert_eq!(v["statusCode"], 429);
        }
    }
    assert!(
        statuses[..3].iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    assert!(
        retry_after.is_some_and(|s| (1..=2).contains(&s)),
        "Retry-After {retry_after:?}"
    );
    let _ = Duration::ZERO;
}
