//! The web dashboard: the page and assets served without a token, the cookie
//! sign-in (`POST /v1/auth/cookie`) and the guard accepting only the right cookie on REST,
//! SSE and the WebSocket; then the whole page end to end in headless Chromium
//! (tests/browser/dashboard.mjs, driven by playwright-core, installed by
//! scripts/install-test-deps).

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::Response;
use serde_json::json;

use crate::support::{Daemon, Options, nix_kill, support_bin, wait_until};

const TOKEN: &str = "dash-s3cret";

fn with_token(extra: &[&str]) -> Daemon {
    Daemon::start_with(Options {
        args: extra,
        env: &[("AEGIS_AUTH_TOKEN", TOKEN)],
    })
}

fn get_with_cookie(d: &Daemon, path: &str, cookie: &str) -> Response {
    d.http()
        .get(format!("{}{path}", d.url))
        .header("cookie", cookie)
        .send()
        .expect("request")
}

fn set_cookie(r: &Response) -> String {
    r.headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn page_and_assets_need_no_token() {
    let d = with_token(&[]);
    let r = d.http().get(format!("{}/", d.url)).send().expect("page");
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers().clone();
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    assert!(
        h["content-security-policy"]
            .to_str()
            .is_ok_and(|c| c.contains("frame-ancestors 'none'"))
    );
    assert_eq!(h["x-frame-options"], "DENY");
    let body = r.text().expect("body");
    assert!(body.contains("/dashboard/xterm.js"), "{body}");
    for (asset, ctype) in [
        ("app.js", "text/javascript; charset=utf-8"),
        ("xterm.css", "text/css; charset=utf-8"),
        ("addon-fit.js", "text/javascript; charset=utf-8"),
    ] {
        let r = d
            .http()
            .get(format!("{}/dashboard/{asset}", d.url))
            .send()
            .expect("asset");
        assert_eq!(r.status(), StatusCode::OK, "{asset}");
        assert_eq!(r.headers()["content-type"], ctype, "{asset}");
    }
    let r = d
        .http()
        .get(format!("{}/dashboard/secrets.json", d.url))
        .send()
        .expect("missing asset");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // The API behind it still wants the token.
    assert_eq!(
        d.call_as(reqwest::Method::GET, "/v1/sessions", None, None)
            .0,
        StatusCode::UNAUTHORIZED
    );
}

#[test]
fn cookie_sign_in_and_a_wrong_cookie_is_refused() {
    let d = with_token(&[]);
    let id = d.bash();
    let cookie_url = format!("{}/v1/auth/cookie", d.url);

    // A wrong token gets no cookie.
    let r = d
        .http()
        .post(&cookie_url)
        .bearer_auth("wrong")
        .send()
        .expect("post");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(set_cookie(&r), "");
    // A valid credential elsewhere does not smuggle a wrong bearer into the cookie.
    let r = d
        .http()
        .post(&cookie_url)
        .bearer_auth("wrong")
        .header("cookie", format!("aegis_token={TOKEN}"))
        .send()
        .expect("post");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // The right token is stored HttpOnly and SameSite=Strict.
    let r = d
        .http()
        .post(&cookie_url)
        .bearer_auth(TOKEN)
        .send()
        .expect("post");
    assert_eq!(r.status(), StatusCode::OK);
    let c = set_cookie(&r);
    assert!(c.starts_with(&format!("aegis_token={TOKEN};")), "{c}");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(c.contains(attr), "{attr} missing: {c}");
    }

    // The cookie is a credential for REST, SSE and the WebSocket; a wrong one is refused on
    // each, with the API's error format.
    let right = format!("aegis_token={TOKEN}");
    let ws = format!("/v1/sessions/{id}/stream");
    for path in ["/v1/sessions", "/v1/permissions", ws.as_str(), "/v1/events"] {
        for wrong in [
            "aegis_token=wrong",
            "aegis_token=",
            "aegis_token=dash-s3cre",
        ] {
            let r = get_with_cookie(&d, path, wrong);
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path} with {wrong}");
            let v: serde_json::Value = r.json().expect("error body");
            assert_eq!(v["code"], "UNAUTHORIZED", "{v}");
        }
        if path.ends_with("/stream") {
            continue; // a plain GET is no upgrade; the right cookie is shown below
        }
        assert_eq!(
            get_with_cookie(&d, path, &right).status(),
            StatusCode::OK,
            "{path}"
        );
    }
    // The WebSocket handshake with the right cookie connects and gets the snapshot.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        use futures_util::StreamExt;
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let url = format!("{}{ws}", d.url.replacen("http", "ws", 1));
        let mut req = url.into_client_request().expect("request");
        req.headers_mut()
            .insert("cookie", right.parse().expect("header value"));
        let (mut sock, _) = tokio_tungstenite::connect_async(req)
            .await
            .expect("ws with cookie");
        let first = tokio::time::timeout(Duration::from_secs(10), sock.next())
            .await
            .expect("a first frame")
            .expect("open stream")
            .expect("frame");
        assert!(first.to_string().contains("\"snapshot\""), "{first}");
    });

    // Signing out clears the cookie.
    let r = d
        .http()
        .delete(&cookie_url)
        .header("cookie", &right)
        .send()
        .expect("delete");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(set_cookie(&r).contains("Max-Age=0"), "{}", set_cookie(&r));
}

#[test]
fn read_only_daemon_still_signs_in() {
    let d = with_token(&["--read-only"]);
    let r = d
        .http()
        .post(format!("{}/v1/auth/cookie", d.url))
        .bearer_auth(TOKEN)
        .send()
        .expect("post");
    assert_eq!(r.status(), StatusCode::OK);
    let (s, _) = d.call(
        reqwest::Method::POST,
        "/v1/sessions",
        Some(json!({ "workDir": d.work_dir(), "agentType": "shell" })),
    );
    assert_eq!(s, StatusCode::FORBIDDEN);
}

/// How long the whole browser run may take: about 15 s on an idle machine; the rest is slack
/// for a loaded CI box. Past it the browser is killed and the test fails.
const BROWSER_RUN: Duration = Duration::from_secs(150);

#[test]
fn dashboard_end_to_end_in_headless_chromium() {
    let root = env!("CARGO_MANIFEST_DIR");
    let d = with_token(&[]);
    // Screenshots go to the test's temp dir, or where AEGIS_DASHBOARD_SHOTS says (docs/dashboard.md's
    // images are refreshed with AEGIS_DASHBOARD_SHOTS=docs/dashboard).
    let shots = std::env::var("AEGIS_DASHBOARD_SHOTS")
        .map(|p| {
            if p.starts_with('/') {
                p
            } else {
                format!("{root}/{p}")
            }
        })
        .unwrap_or_else(|_| d.dir.path().join("shots").display().to_string());
    let report = run_browser(
        "dashboard.mjs",
        &[
            ("AEGIS_URL", d.url.clone()),
            ("AEGIS_TOKEN", TOKEN.to_owned()),
            ("FAKE_AGENT", support_bin("fake_agent.py")),
            ("WORK_DIR", d.work_dir().display().to_string()),
            ("SHOT_DIR", shots.clone()),
        ],
        &d.dir.path().join("browser.log"),
    );
    assert!(report.contains("dashboard e2e: ok"), "{report}");
    for name in [
        "dashboard-fleet.png",
        "dashboard-permission.png",
        "dashboard-terminal.png",
    ] {
        let png = std::fs::read(format!("{shots}/{name}")).expect("screenshot");
        assert!(png.starts_with(b"\x89PNG"), "{name} is not a PNG");
    }
}

/// Run `tests/browser/<script>` under node with `env`, its output in `log`; panics with that
/// output when it fails or outlives [`BROWSER_RUN`]. Returns the output.
pub fn run_browser(script: &str, env: &[(&str, String)], log: &std::path::Path) -> String {
    let browser_dir = format!("{}/tests/browser", env!("CARGO_MANIFEST_DIR"));
    assert!(
        std::path::Path::new(&format!("{browser_dir}/node_modules/playwright-core")).exists()
            && std::path::Path::new("/usr/bin/chromium").exists(),
        "chromium or playwright-core is missing: run scripts/install-test-deps"
    );
    let out = std::fs::File::create(log).expect("browser log");
    // Its own process group, so a timeout kills Chromium along with node.
    let mut child = Command::new("node")
        .process_group(0)
        .arg(script)
        .current_dir(&browser_dir)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("log handle"))
        .stderr(out)
        .spawn()
        .expect("starting node (run scripts/install-test-deps)");
    let status = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_until(BROWSER_RUN, "the browser run to finish", || {
            child.try_wait().expect("waiting for node")
        })
    }));
    let report = std::fs::read_to_string(log).unwrap_or_default();
    let status = status.unwrap_or_else(|_| {
        let _ = nix_kill(-(child.id() as i32), "KILL");
        let _ = child.wait();
        panic!("browser run timed out; its log:\n{report}");
    });
    assert!(status.success(), "browser run failed:\n{report}");
    report
}
