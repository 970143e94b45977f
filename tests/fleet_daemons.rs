//! The fleet end to end: three real `aegis serve --nats` daemons (separate state dirs and
//! ports) on one real nats-server, driven only through their REST APIs.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::attach::Term;
use crate::cli::aegis;
use crate::dashboard::run_browser;
use crate::streams::sse;
use crate::support::nats::NatsServer;
use crate::support::{Daemon, Options, id_of, wait_until};

fn join(nats: &NatsServer, host: &str) -> Daemon {
    join_with(nats, host, &[])
}

fn join_with(nats: &NatsServer, host: &str, env: &[(&str, &str)]) -> Daemon {
    let args = nats.fleet_args(host);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // Sessions are stopped when a test's daemons stop; a `kill -9` leaves them to their
    // holders all the same, which is what the rejoin test needs.
    Daemon::start_with(Options { args: &args, env })
}

fn host_state(d: &Daemon, host: &str) -> Option<String> {
    let (s, v) = d.get("/v1/fleet/hosts");
    (s == StatusCode::OK).then_some(())?;
    v["hosts"]
        .as_array()?
        .iter()
        .find(|h| h["host"] == host)
        .and_then(|h| h["state"].as_str().map(String::from))
}

fn all_up(d: &Daemon, hosts: &[&str]) {
    wait_until(Duration::from_secs(15), "every host up", || {
        hosts
            .iter()
            .all(|h| host_state(d, h).as_deref() == Some("up"))
            .then_some(())
    });
}

/// Wait until `id` is served through `d` (forwarded when another host owns it): the fleet
/// learns of a session created directly on its host through that host's directory writer,
/// a moment after the creation answered; after an outage, once the fleet has recovered.
fn served_through(d: &Daemon, id: &str) {
    let mut last = None;
    let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_until(
            Duration::from_secs(15),
            "the session served through the node",
            || {
                let (s, v) = d.get(&format!("/v1/sessions/{id}"));
                let ok = s == StatusCode::OK;
                last = Some((s, v));
                ok.then_some(())
            },
        )
    }));
    if served.is_err() {
        panic!("{id} not served through {}: last answer {last:?}", d.url);
    }
}

#[test]
fn create_through_one_drive_through_another_read_events_through_a_third() {
    let nats = NatsServer::start();
    let (a, b, c) = (join(&nats, "a"), join(&nats, "b"), join(&nats, "c"));
    all_up(&a, &["a", "b", "c"]);

    // Create on b through a.
    let (s, created) = a.post(
        "/v1/fleet/sessions",
        json!({"host": "b", "workDir": b.work_dir(), "agentType": "shell", "command": ["bash", "--norc", "--noprofile"]}),
    );
    assert_eq!(s, StatusCode::CREATED, "{created}");
    assert_eq!(created["host"], "b");
    let id = id_of(&created);

    // Drive it through c: send, then read its screen, both forwarded to b.
    let (s, v) = c.post(
        &format!("/v1/sessions/{id}/send"),
        json!({"text": "echo fleet-$((6*7))"}),
    );
    assert_eq!(s, StatusCode::OK, "{v}");
    wait_until(Duration::from_secs(15), "the output through c", || {
        let (s, v) = c.get(&format!("/v1/sessions/{id}/read"));
        (s == StatusCode::OK && v.to_string().contains("fleet-42")).then_some(())
    });
    // The owner really has it; the session through another node, and a listing through
    // any node, show it with its host.
    assert!(b.screen(&id).contains("fleet-42"));
    let (s, v) = c.get(&format!("/v1/sessions/{id}"));
    assert_eq!((s, v["host"].as_str()), (StatusCode::OK, Some("b")), "{v}");
    assert_eq!(v["id"], id.as_str());
    let (s, list) = a.get("/v1/fleet/sessions");
    assert_eq!(s, StatusCode::OK);
    let row = list["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .find(|r| r["id"] == id.as_str())
        .expect("listed")
        .clone();
    assert_eq!(row["host"], "b");

    // Events of the whole fleet through b, the third node in this story (a created, c
    // drove), from the stream's start: b's creation is there, with its host and a stream
    // sequence as the SSE id.
    let events = sse(&b, "/v1/fleet/events", Some("0"));
    let deadline = Instant::now() + Duration::from_secs(15);
    let created = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let e = events
            .recv_timeout(left)
            .expect("b's session.created on the fleet stream");
        let v = e.json();
        if v["type"] == "session.created" && v["host"] == "b" {
            break e;
        }
    };
    let seq: u64 = created
        .id
        .as_deref()
        .and_then(|i| i.parse().ok())
        .expect("a stream sequence as the event id");
    assert!(seq > 0);
}

#[test]
fn a_killed_host_is_unreachable_and_rejoins_with_its_sessions() {
    let nats = NatsServer::start();
    let a = join(&nats, "a");
    let mut b = join(&nats, "b");
    all_up(&a, &["a", "b"]);
    let id = id_of(&b.create(json!({"workDir": b.work_dir(), "agentType": "shell", "command": ["bash", "--norc", "--noprofile"]})));
    served_through(&a, &id);
    b.kill9();
    wait_until(Duration::from_secs(10), "b unreachable within 10 s", || {
        (host_state(&a, "b").as_deref() == Some("unreachable")).then_some(())
    });
    let (s, v) = a.get(&format!("/v1/sessions/{id}"));
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("HOST_UNREACHABLE"))
    );
    // Its holder kept the session: back, it is driven through a again.
    b.restart();
    all_up(&a, &["a", "b"]);
    let (s, v) = a.post(
        &format!("/v1/sessions/{id}/send"),
        json!({"text": "echo back-$((2+3))"}),
    );
    assert_eq!(s, StatusCode::OK, "{v}");
    b.wait_screen(&id, "back-5", Duration::from_secs(10));
}

#[test]
fn without_nats_each_daemon_serves_its_own_and_the_fleet_recovers() {
    let mut nats = NatsServer::start();
    let a = join(&nats, "a");
    let b = join(&nats, "b");
    all_up(&a, &["a", "b"]);
    let local = id_of(&a.create(json!({"workDir": a.work_dir(), "agentType": "shell", "command": ["bash", "--norc", "--noprofile"]})));
    let remote = id_of(&b.create(json!({"workDir": b.work_dir(), "agentType": "shell", "command": ["bash", "--norc", "--noprofile"]})));
    served_through(&a, &remote);
    nats.stop();
    wait_until(Duration::from_secs(10), "FLEET_UNAVAILABLE", || {
        let (s, v) = a.get("/v1/fleet/hosts");
        (s == StatusCode::SERVICE_UNAVAILABLE && v["code"] == "FLEET_UNAVAILABLE").then_some(())
    });
    let (s, v) = a.get(&format!("/v1/sessions/{remote}"));
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("FLEET_UNAVAILABLE"))
    );
    // Local sessions are served as always, and their events wait in the outage buffer.
    a.send(&local, "echo still-here");
    a.wait_screen(&local, "still-here", Duration::from_secs(10));
    let (s, metrics) = a.get("/metrics");
    assert_eq!(s, StatusCode::OK);
    let metrics = metrics.as_str().unwrap_or_default().to_owned();
    assert!(
        metrics.contains("aegis_fleet_connected 0\n") && metrics.ends_with("# EOF\n"),
        "{metrics}"
    );
    nats.restart();
    all_up(&a, &["a", "b"]);
    served_through(&a, &remote);
}

#[test]
fn ls_fleet_lists_every_host_with_a_host_column() {
    let nats = NatsServer::start();
    let (a, b) = (join(&nats, "a"), join(&nats, "b"));
    all_up(&a, &["a", "b"]);
    for (d, name) in [(&a, "sess-on-a"), (&b, "sess-on-b")] {
        d.create(json!({"workDir": d.work_dir(), "name": name, "agentType": "shell", "command": ["bash", "--norc", "--noprofile"]}));
    }

    let (ok, out, err) = aegis(Some(&a), &["ls", "--fleet"]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("HOST"), "{out}");
    let row = |name: &str| {
        lines
            .iter()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{name} not listed:\n{out}"))
            .split_whitespace()
            .next()
            .map(String::from)
    };
    assert_eq!(row("sess-on-a").as_deref(), Some("a"));
    assert_eq!(row("sess-on-b").as_deref(), Some("b"));

    // The JSON form carries `host` on every session; plain `ls` stays this host's own.
    let (ok, out, err) = aegis(Some(&b), &["ls", "--fleet", "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let mut hosts: Vec<&str> = v["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .map(|s| s["host"].as_str().expect("host"))
        .collect();
    hosts.sort();
    assert_eq!(hosts, ["a", "b"]);
    let (ok, out, _) = aegis(Some(&a), &["ls"]);
    assert!(
        ok && out.contains("sess-on-a") && !out.contains("sess-on-b"),
        "{out}"
    );
    assert!(!out.starts_with("HOST"), "{out}");

    // A daemon outside any fleet says so.
    let single = Daemon::start();
    let (ok, _, err) = aegis(Some(&single), &["ls", "--fleet"]);
    assert!(!ok && err.contains("not part of a fleet"), "{err}");
}

#[test]
fn the_dashboard_of_a_fleet_member_shows_each_session_s_host() {
    let mut nats = NatsServer::start();
    let (a, b) = (join(&nats, "a"), join(&nats, "b"));
    all_up(&a, &["a", "b"]);
    for (d, name) in [(&a, "dash-on-a"), (&b, "dash-on-b")] {
        d.create(json!({"workDir": d.work_dir(), "name": name, "agentType": "shell", "command": ["bash", "--norc", "--noprofile"]}));
    }
    // The page asks for the NATS outage through files in this directory (see fleet.mjs).
    let control = tempfile::tempdir().expect("control dir");
    let finished = AtomicBool::new(false);
    let report = std::thread::scope(|s| {
        s.spawn(|| {
            let asked = |file: &str| {
                let path = control.path().join(file);
                wait_until(Duration::from_secs(120), file, || {
                    (path.exists() || finished.load(Ordering::Relaxed)).then(|| path.exists())
                })
            };
            if asked("stop") {
                nats.stop();
            }
            if asked("start") {
                nats.restart();
            }
        });
        // Set however the run ends, so the outage thread never waits for a page that failed.
        struct Finished<'a>(&'a AtomicBool);
        impl Drop for Finished<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        let _finished = Finished(&finished);
        run_browser(
            "fleet.mjs",
            &[
                ("AEGIS_URL", a.url.clone()),
                ("EXPECT", "dash-on-a=a,dash-on-b=b".to_owned()),
                ("WORK_DIR_B", b.work_dir().display().to_string()),
                ("NATS_CONTROL", control.path().display().to_string()),
            ],
            &a.dir.path().join("browser.log"),
        )
    });
    assert!(report.contains("dashboard fleet: ok"), "{report}");
    // What the page created through a really lives on b.
    let (s, list) = b.get("/v1/sessions");
    assert_eq!(s, StatusCode::OK);
    assert!(list.to_string().contains("late-on-b"), "{list}");
}

#[test]
fn a_forwarded_request_is_authorized_by_the_node_that_received_it() {
    let nats = NatsServer::start();
    let a = join_with(&nats, "a", &[("AEGIS_AUTH_TOKEN", "token-of-a")]);
    let b = join_with(&nats, "b", &[("AEGIS_AUTH_TOKEN", "token-of-b")]);
    all_up(&a, &["a", "b"]);
    let (s, key) = a.post(
        "/v1/auth/keys",
        json!({"name": "reader", "scopes": ["sessions:read"]}),
    );
    assert_eq!(s, StatusCode::CREATED, "{key}");
    let reader = key["key"].as_str().expect("key shown once");
    let id = id_of(&b.create(json!({"workDir": b.work_dir(), "agentType": "shell", "command": ["bash", "--norc", "--noprofile"]})));
    served_through(&a, &id);

    let send = |token: Option<&str>, text: &str| {
        a.call_as(
            Method::POST,
            &format!("/v1/sessions/{id}/send"),
            Some(json!({ "text": text })),
            token,
        )
    };
    // a's key scopes decide: reading is allowed, sending is not.
    let (s, v) = a.call_as(
        Method::GET,
        &format!("/v1/sessions/{id}/read"),
        None,
        Some(reader),
    );
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = send(Some(reader), "echo by-reader");
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("FORBIDDEN")),
        "{v}"
    );
    // No token, or the owner's own token, is nothing to a: refused before any forwarding.
    for token in [None, Some("token-of-b")] {
        let (s, v) = send(token, "echo by-stranger");
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{token:?}: {v}");
    }
    // a's master token drives b's session without b's token ever leaving b.
    let (s, v) = send(Some("token-of-a"), "echo by-$((1+1))-master");
    assert_eq!(s, StatusCode::OK, "{v}");
    b.wait_screen(&id, "by-2-master", Duration::from_secs(10));
    let screen = b.screen(&id);
    assert!(
        !screen.contains("by-reader") && !screen.contains("by-stranger"),
        "{screen}"
    );
}

/// The URL host `host` advertises, as `d`'s membership mirror shows it.
fn advertised_url(d: &Daemon, host: &str) -> String {
    let (s, v) = d.get("/v1/fleet/hosts");
    assert_eq!(s, StatusCode::OK, "{v}");
    v["hosts"]
        .as_array()
        .and_then(|hosts| hosts.iter().find(|h| h["host"] == host))
        .and_then(|h| h["url"].as_str())
        .unwrap_or_else(|| panic!("no URL for {host} in {v}"))
        .to_owned()
}

fn bash_on(d: &Daemon, name: &str) -> String {
    id_of(&d.create(json!({"workDir": d.work_dir(), "name": name, "agentType": "shell", "command": ["bash", "--norc", "--noprofile"]})))
}

#[test]
fn a_fleet_event_stream_ends_with_nats_and_its_reconnection_misses_nothing() {
    let mut nats = NatsServer::start();
    let (a, b) = (join(&nats, "a"), join(&nats, "b"));
    all_up(&a, &["a", "b"]);
    // A quiet reader, as an idle dashboard is: nothing but its `connected` frame, whose id
    // is the position it starts after.
    let events = sse(&a, "/v1/fleet/events", None);
    let connected = events
        .recv_timeout(Duration::from_secs(10))
        .expect("the connected frame");
    assert_eq!(connected.ty(), "connected");
    let mut last = connected
        .id
        .clone()
        .expect("the connected frame carries the position the stream starts after");

    // NATS goes away: the stream ends, so the client knows to reconnect (it does not stay
    // open and silent).
    nats.stop();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match events.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(frame) => last = frame.id.unwrap_or(last),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("the fleet event stream stayed open and silent after NATS went away")
            }
        }
    }
    // Reconnecting meanwhile is refused with 503 until the fleet is back.
    let (s, v) = a.get("/v1/fleet/events");
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("FLEET_UNAVAILABLE")),
        "{v}"
    );

    // NATS is back, and another host creates a session before the client has reconnected.
    nats.restart();
    all_up(&a, &["a", "b"]);
    let id = bash_on(&b, "after-the-outage");
    // The client reconnects with its last id, as EventSource does, and gets that creation.
    let events = sse(&a, "/v1/fleet/events", Some(&last));
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let frame = events
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("b's session.created after the outage on the resumed stream");
        let v = frame.json();
        if v["type"] == "session.created" && v["sessionId"] == id.as_str() {
            assert_eq!(v["host"], "b");
            break;
        }
    }
}

#[test]
fn attach_through_a_node_that_does_not_own_the_session_names_its_host() {
    let nats = NatsServer::start();
    let (a, b) = (join(&nats, "a"), join(&nats, "b"));
    all_up(&a, &["a", "b"]);
    let id = bash_on(&b, "attach-on-b");
    served_through(&a, &id);
    let b_url = advertised_url(&a, "b");
    let stream = format!(
        "{}/v1/sessions/{id}/stream",
        b_url.replacen("http", "ws", 1)
    );

    for target in ["attach-on-b", id.as_str()] {
        let mut term = Term::attach(&a, &[target], 100, 30);
        assert!(!term.wait_success(), "attach through a succeeded");
        let out = wait_until(Duration::from_secs(5), "the owner named", || {
            let out = term.raw_text();
            out.contains(&stream).then_some(out)
        });
        assert!(
            out.contains("lives on host b") && out.contains(&b_url),
            "{target}: {out}"
        );
    }
    // The WebSocket route through a names the same place.
    let (s, v) = a.get("/v1/sessions/attach-on-b/stream");
    assert_eq!(s, StatusCode::MISDIRECTED_REQUEST, "{v}");
    assert_eq!(
        (v["code"].as_str(), v["host"].as_str()),
        (Some("SESSION_ON_OTHER_HOST"), Some("b"))
    );
    // A session no host has is still simply not found.
    let mut term = Term::attach(&a, &["no-such-session"], 100, 30);
    assert!(!term.wait_success());
    let out = wait_until(Duration::from_secs(5), "not found", || {
        let out = term.raw_text();
        out.contains("can't find session").then_some(out)
    });
    assert!(!out.contains("lives on host"), "{out}");
}

#[test]
fn a_burst_of_fleet_creations_spreads_over_the_hosts() {
    let nats = NatsServer::start();
    let (a, b) = (join(&nats, "a"), join(&nats, "b"));
    all_up(&a, &["a", "b"]);
    // Four creations at once through a, none naming a host: the heartbeats cannot have
    // counted any of them yet.
    let work = a.work_dir();
    let hosts: Vec<String> = std::thread::scope(|s| {
        let burst: Vec<_> = (0..4)
            .map(|i| {
                let work = &work;
                let a = &a;
                s.spawn(move || {
                    let (s, v) = a.post(
                        "/v1/fleet/sessions",
                        json!({"workDir": work, "name": format!("burst-{i}"), "agentType": "shell", "command": ["bash", "--norc", "--noprofile"]}),
                    );
                    assert_eq!(s, StatusCode::CREATED, "{v}");
                    v["host"].as_str().expect("host").to_owned()
                })
            })
            .collect();
        burst
            .into_iter()
            .map(|t| t.join().expect("creation"))
            .collect()
    });
    for host in ["a", "b"] {
        assert!(
            hosts.iter().any(|h| h == host),
            "{host} got none: {hosts:?}"
        );
    }
    // Each host really has what the answers said.
    let (_, on_b) = b.get("/v1/sessions");
    assert_eq!(
        on_b["total"].as_u64(),
        Some(hosts.iter().filter(|h| *h == "b").count() as u64),
        "{on_b}"
    );
}

#[test]
fn sessions_filter_by_agent_type_on_a_host_and_across_the_fleet() {
    let nats = NatsServer::start();
    let (a, b) = (join(&nats, "a"), join(&nats, "b"));
    all_up(&a, &["a", "b"]);
    bash_on(&a, "shell-on-a");
    b.create(json!({"workDir": b.work_dir(), "name": "cat-on-b", "agentType": "custom", "command": ["cat"]}));
    let names = |path: &str| {
        let (s, v) = a.get(path);
        assert_eq!(s, StatusCode::OK, "{path}: {v}");
        let mut names: Vec<String> = v["sessions"]
            .as_array()
            .expect("sessions")
            .iter()
            .map(|s| s["name"].as_str().expect("name").to_owned())
            .collect();
        names.sort();
        assert_eq!(v["total"].as_u64(), Some(names.len() as u64), "{v}");
        names
    };
    assert_eq!(names("/v1/sessions?agentType=shell"), ["shell-on-a"]);
    assert!(names("/v1/sessions?agentType=custom").is_empty());
    assert_eq!(names("/v1/fleet/sessions?agentType=custom"), ["cat-on-b"]);
    assert!(names("/v1/fleet/sessions?agentType=shell&host=b").is_empty());
    assert_eq!(names("/v1/fleet/sessions"), ["cat-on-b", "shell-on-a"]);
    for route in ["/v1/sessions", "/v1/fleet/sessions"] {
        let (s, v) = a.get(&format!("{route}?agentType=robot"));
        assert_eq!(
            (s, v["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("VALIDATION_ERROR")),
            "{route}: {v}"
        );
        assert!(
            v["error"].as_str().is_some_and(|e| e.contains("agentType")),
            "{v}"
        );
    }
}
