//! Session templates end to end: variables filled (a missing one named, nothing started),
//! the template's permission profile in force, the file private to the user, and concurrent
//! writes that all persist across a restart.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::orchestrate::fake;
use crate::support::{Daemon, id_of};

#[test]
fn templates_fill_vars_and_name_a_missing_one() {
    let d = Daemon::start();
    let (status, t) = d.post(
        "/v1/templates",
        json!({
            "name": "greeter",
            "agentType": "claude",
            "command": fake("claude", &[]),
            "workDir": "{{dir}}",
            "prompt": "hello {{who}} from {{team}}",
            "env": { "TEAM": "{{team}}" },
            "permissionProfile": "strict",
            "vars": { "who": null, "team": "core", "dir": d.work_dir() },
        }),
    );
    assert_eq!(status, StatusCode::CREATED, "{t}");
    let (_, list) = d.get("/v1/templates");
    assert_eq!(list["templates"][0]["name"], "greeter");
    // The template persists in the state dir, private to the user.
    let file = d.dir.path().join("state/templates.json");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&file).expect("file").permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    let (status, v) = d.post("/v1/sessions", json!({ "template": "greeter", "vars": {} }));
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["error"].as_str().unwrap_or_default().contains("\"who\""),
        "{v}"
    );
    let (_, all) = d.get("/v1/sessions");
    assert_eq!(all["total"], 0, "a refused template starts nothing");

    let s = d.create(json!({ "template": "greeter", "vars": { "who": "ada" } }));
    let id = id_of(&s);
    d.wait_screen(
        &id,
        "You said: hello ada from core",
        Duration::from_secs(20),
    );
    // The template's permission profile (strict: reject everything) is in force.
    d.wait_status(&id, "idle", Duration::from_secs(20));
    d.send(&id, "!ask bash rm -rf build");
    d.wait_screen(&id, "REJECTED rm -rf build", Duration::from_secs(20));

    let (status, _) = d.call(Method::DELETE, "/v1/templates/greeter", None);
    assert_eq!(status, StatusCode::OK);
    let (status, v) = d.post(
        "/v1/sessions",
        json!({ "template": "greeter", "vars": { "who": "x" } }),
    );
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
}

#[test]
fn concurrent_template_writes_all_persist_across_a_restart() {
    let mut d = Daemon::start();
    const N: usize = 30;
    std::thread::scope(|scope| {
        let d = &d;
        let posts: Vec<_> = (0..N)
            .map(|i| {
                scope.spawn(move || {
                    d.post(
                        "/v1/templates",
                        json!({ "name": format!("t{i}"), "prompt": format!("task {i}") }),
                    )
                })
            })
            .collect();
        for p in posts {
            let (status, v) = p.join().expect("poster thread");
            assert_eq!(status, StatusCode::CREATED, "{v}");
        }
    });
    let names = |d: &Daemon| {
        let (_, list) = d.get("/v1/templates");
        let mut n: Vec<String> = list["templates"]
            .as_array()
            .expect("templates")
            .iter()
            .filter_map(|t| t["name"].as_str().map(str::to_owned))
            .collect();
        n.sort();
        n
    };
    let mut want: Vec<String> = (0..N).map(|i| format!("t{i}")).collect();
    want.sort();
    assert_eq!(names(&d), want);
    // Templates live in the state dir: a new daemon serves every one of them.
    d.stop();
    d.restart();
    assert_eq!(names(&d), want);
    let (status, t) = d.get("/v1/templates/t7");
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["prompt"], "task 7");
}
