//! Webhooks against the real daemon and a real local HTTP receiver (a std `TcpListener` in a
//! thread; no mock client): signed outbound deliveries, retry then dead-letter, retry from the
//! dead-letter queue, channel health; inbound HMAC verification, idempotent duplicates and
//! stimulus routing.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::support::{Daemon, Options, wait_until};

const T: Duration = Duration::from_secs(20);

/// A request the receiver got: lower-cased headers and the body.
#[derive(Debug, Clone)]
struct Received {
    headers: HashMap<String, String>,
    body: String,
}

/// A tiny HTTP/1.1 server: answers 500 while `failing`, else 200; records every request.
struct Receiver {
    url: String,
    failing: Arc<AtomicBool>,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind receiver");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let failing = Arc::new(AtomicBool::new(true));
        let got = Arc::new(Mutex::new(Vec::new()));
        let (f, g) = (failing.clone(), got.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let Ok(clone) = conn.try_clone() else {
                    continue;
                };
                let mut reader = BufReader::new(clone);
                let mut headers = HashMap::new();
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    continue;
                }
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = line.trim_end().split_once(':') {
                        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
                    }
                }
                let len: usize = headers
                    .get("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0; len];
                if reader.read_exact(&mut body).is_err() {
                    continue;
                }
                g.lock().expect("lock").push(Received {
                    headers,
                    body: String::from_utf8_lossy(&body).into_owned(),
                });
                let status = if f.load(Ordering::SeqCst) {
                    "500 Internal Server Error"
                } else {
                    "200 OK"
                };
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                );
            }
        });
        Receiver { url, failing, got }
    }

    fn requests(&self) -> Vec<Received> {
        self.got.lock().expect("lock").clone()
    }
}

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[test]
fn outbound_deliveries_are_signed_retried_dead_lettered_and_retried_by_hand() {
    let rx = Receiver::start();
    let d = Daemon::start();
    let (s, v) = d.post("/v1/webhooks", json!({ "url": "ftp://example.com/x" }));
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, v) = d.post(
        "/v1/webhooks",
        json!({ "url": rx.url, "events": ["session.bogus"] }),
    );
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, hook) = d.post(
        "/v1/webhooks",
        json!({ "url": rx.url, "events": ["session.created"], "secret": "whsec", "maxAttempts": 3, "backoffMs": 50 }),
    );
    assert_eq!(s, StatusCode::CREATED, "{hook}");
    assert_eq!(hook["hasSecret"], true);
    assert!(hook.get("secret").is_none(), "secrets are never returned");
    let hook_id = hook["id"].as_str().expect("id").to_owned();

    let session = d.bash();
    // Three failing attempts, then the dead-letter queue.
    let dl = wait_until(T, "a dead letter", || {
        let (_, v) = d.get("/v1/webhooks/dead-letter");
        (v["total"] == 1).then_some(v["deadLetters"][0].clone())
    });
    assert_eq!(dl["attempts"], 3);
    assert_eq!(dl["event"], "session.created");
    assert_eq!(dl["webhookId"], hook_id.as_str());
    assert!(
        dl["lastError"].as_str().unwrap_or_default().contains("500"),
        "{dl}"
    );
    let got = rx.requests();
    assert_eq!(got.len(), 3, "one request per attempt");
    let delivery = got[0].headers["x-aegis-delivery"].clone();
    for r in &got {
        assert_eq!(r.headers["x-aegis-event"], "session.created");
        assert_eq!(
            r.headers["x-aegis-delivery"], delivery,
            "the idempotency id is stable"
        );
        assert_eq!(
            r.headers["x-aegis-signature"],
            hmac_hex("whsec", r.body.as_bytes())
        );
        let body: Value = serde_json::from_str(&r.body).expect("json body");
        assert_eq!(body["sessionId"], session.as_str());
        assert_eq!(body["deliveryId"], delivery.as_str());
    }
    let (_, health) = d.get("/v1/channels/health");
    let ch = &health["channels"][0];
    assert_eq!(ch["status"], "failing", "{health}");
    assert_eq!(ch["failedAttempts"], 3);
    assert_eq!(ch["deadLettered"], 1);

    // The receiver recovers; retrying the dead letter delivers it and empties the queue.
    rx.failing.store(false, Ordering::SeqCst);
    let dl_id = dl["id"].as_str().expect("dead letter id");
    let (s, v) = d.post(
        &format!("/v1/webhooks/dead-letter/{dl_id}/retry"),
        json!({}),
    );
    assert_eq!(s, StatusCode::OK, "{v}");
    let got = rx.requests();
    assert_eq!(got.len(), 4);
    assert_eq!(got[3].headers["x-aegis-delivery"], delivery);
    assert_eq!(
        got[3].headers["x-aegis-signature"],
        hmac_hex("whsec", got[3].body.as_bytes())
    );
    assert_eq!(d.get("/v1/webhooks/dead-letter").1["total"], 0);
    let (_, health) = d.get("/v1/channels/health");
    assert_eq!(health["channels"][0]["status"], "ok", "{health}");
    assert!(health["channels"][0]["lastSuccessAt"].is_u64());
    let (s, _) = d.post(
        &format!("/v1/webhooks/dead-letter/{dl_id}/retry"),
        json!({}),
    );
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Events the filter does not name are not delivered.
    d.send(&session, "echo hi");
    let (_, list) = d.get("/v1/webhooks");
    assert_eq!(list["webhooks"].as_array().map(Vec::len), Some(1));
    let (s, _) = d.call(Method::DELETE, &format!("/v1/webhooks/{hook_id}"), None);
    assert_eq!(s, StatusCode::OK);
    let (s, v) = d.call(Method::DELETE, &format!("/v1/webhooks/{hook_id}"), None);
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(rx.requests().len(), 4, "message.sent was filtered out");
}

fn post_signed(
    d: &Daemon,
    source: &str,
    body: &str,
    sig: Option<&str>,
    key: Option<&str>,
) -> (StatusCode, Value) {
    let mut req = d
        .http()
        .post(format!("{}/v1/webhooks/{source}", d.url))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(s) = sig {
        req = req.header("x-aegis-signature", s);
    }
    if let Some(k) = key {
        req = req.header("x-idempotency-key", k);
    }
    let resp = req.send().expect("request");
    let status = resp.status();
    (status, resp.json().unwrap_or(Value::Null))
}

#[test]
fn inbound_webhooks_verify_hmac_dedupe_and_route_stimuli() {
    let dir = tempfile::tempdir().expect("dir");
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).expect("work dir");
    let cfg = dir.path().join("aegis.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"
[templates.shell]
agent = "shell"
work_dir = {work:?}

[[stimuli]]
source = "github"
action = "send_to_session"
session = "target"

[[stimuli]]
source = "ci"
action = "create_session"
template = "shell"
"#
        ),
    )
    .expect("config");
    let d = Daemon::start_with(Options {
        args: &["--config", cfg.to_str().expect("utf-8")],
        env: &[
            ("AEGIS_WEBHOOK_SECRET_GITHUB", "gh-secret"),
            ("AEGIS_WEBHOOK_SECRET_CI", "ci-secret"),
        ],
    });
    d.create(json!({ "workDir": d.work_dir(), "agentType": "custom", "name": "target", "command": ["cat"] }));

    let body = r#"{"content":"hello from github"}"#;
    let good = hmac_hex("gh-secret", body.as_bytes());
    let (s, v) = post_signed(&d, "github", body, Some(&good), Some("k1"));
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["routed"]["action"], "send_to_session");
    d.wait_screen("target", "hello from github", T);
    // The same key again within 24 h is a duplicate, and nothing is sent twice.
    let (s, v) = post_signed(&d, "github", body, Some(&good), Some("k1"));
    assert_eq!(
        (s, v["code"].clone()),
        (StatusCode::CONFLICT, json!("idempotent_duplicate"))
    );

    let cases = [
        (
            "github",
            Some(hmac_hex("wrong", body.as_bytes())),
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
        ),
        (
            "github",
            None,
            StatusCode::UNAUTHORIZED,
            "missing_signature",
        ),
        (
            "github",
            Some("sha256=nothex".to_owned()),
            StatusCode::BAD_REQUEST,
            "malformed_signature",
        ),
        (
            "github",
            Some("md5=abcd".to_owned()),
            StatusCode::BAD_REQUEST,
            "malformed_signature",
        ),
        (
            "gitlab",
            Some(good.clone()),
            StatusCode::UNAUTHORIZED,
            "secret_not_found",
        ),
    ];
    for (source, sig, status, code) in cases {
        let (s, v) = post_signed(&d, source, body, sig.as_deref(), None);
        assert_eq!(
            (s, v["code"].as_str()),
            (status, Some(code)),
            "{source} {sig:?}: {v}"
        );
        assert!(v["error"].is_string() && v["statusCode"] == status.as_u16());
    }
    // A tampered body fails against the original signature.
    let (s, v) = post_signed(&d, "github", r#"{"content":"rm -rf"}"#, Some(&good), None);
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_signature"))
    );

    // Stimuli over the API: same dedupe, same routing.
    let st = json!({ "source": "github", "content": "via api", "idempotency_key": "k2" });
    let (s, v) = d.post("/v1/stimuli", st.clone());
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let (s, v) = d.post("/v1/stimuli", st);
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("idempotent_duplicate"))
    );
    let (s, v) = d.post(
        "/v1/stimuli",
        json!({ "source": "jira", "content": "x", "idempotency_key": "k3" }),
    );
    assert_eq!(
        (s, v["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("unroutable_stimulus")
        ),
        "{v}"
    );
    // An unroutable stimulus did not use up its key.
    let (s, _) = d.post(
        "/v1/stimuli",
        json!({ "source": "jira", "content": "x", "idempotency_key": "k3" }),
    );
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // A create_session rule starts a session from the template with the content as prompt.
    let body = "echo made-by-ci";
    let (s, v) = post_signed(
        &d,
        "ci",
        body,
        Some(&hmac_hex("ci-secret", body.as_bytes())),
        Some("c1"),
    );
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["routed"]["action"], "create_session");
    let sid = v["routed"]["sessionId"].as_str().expect("session id");
    d.wait_screen(sid, "made-by-ci", T);
}
