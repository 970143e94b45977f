//! The fleet over a real nats-server 2.9 with JetStream: membership and host states, the
//! session directory, forwarding (whole and streamed answers, cancellation, a dead owner),
//! the event stream (replay by sequence, the outage buffer and its drop count), and a
//! request forged by a NATS user without fleet rights.
//!
//! These tests drive the fleet layer in process, each host with a small [`TestNode`] in place
//! of a daemon (its routes are a warp filter, as a daemon's are), so every NATS behaviour is
//! the real server's. One nats-server per test: tests run in parallel and share nothing.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aegis::fleet::{
    self, BodyStream, Fleet, FleetArgs, FleetError, Forwarded, LocalEvent, LocalFeed, LocalNode,
    LocalSession,
};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde_json::json;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use warp::Filter;

use crate::support::nats::{self, NatsServer};

/// A host without ptys: sessions are entries in a list, events are sent by the test, and
/// requests run through a warp filter with a few routes.
struct TestNode {
    sessions: Mutex<Vec<LocalSession>>,
    events: broadcast::Sender<LocalFeed>,
    next_event: AtomicUsize,
    /// Requests executed, and who forwarded the last one.
    executed: AtomicUsize,
    last_from: Mutex<Option<Forwarded>>,
}

impl TestNode {
    fn new() -> Arc<TestNode> {
        Arc::new(TestNode {
            sessions: Mutex::default(),
            events: broadcast::channel(1024).0,
            next_event: AtomicUsize::new(1),
            executed: AtomicUsize::new(0),
            last_from: Mutex::default(),
        })
    }

    fn emit(&self, kind: &str, id: uuid::Uuid, name: &str) {
        let n = self.next_event.fetch_add(1, Ordering::Relaxed) as u64;
        let _ = self.events.send(LocalFeed::Event(LocalEvent {
            id: n,
            kind: kind.into(),
            session_id: id,
            session_name: name.into(),
            json: json!({"id": n, "type": kind, "sessionId": id, "sessionName": name}),
        }));
    }

    /// Create a session: listed, then announced, as the daemon does.
    fn create(&self, name: &str) -> uuid::Uuid {
        let id = uuid::Uuid::new_v4();
        self.sessions
            .lock()
            .expect("test node lock")
            .push(LocalSession {
                id,
                name: name.into(),
                created_at_ms: fleet::now_ms(),
                active: true,
            });
        self.emit("session.created", id, name);
        id
    }

    fn routes() -> warp::filters::BoxedFilter<(warp::reply::Response,)> {
        use warp::Reply;
        let echo = warp::path!("v1" / "sessions" / String / "echo")
            .and(warp::post())
            .and(warp::header::headers_cloned())
            .and(warp::query::raw().or(warp::any().map(String::new)).unify())
            .and(warp::body::bytes())
            .map(
                |id: String, h: warp::http::HeaderMap, q: String, body: Bytes| {
                    let header = |n: &str| h.get(n).and_then(|v| v.to_str().ok()).map(String::from);
                    warp::reply::with_status(
                        warp::reply::json(&json!({
                            "id": id,
                            "query": q,
                            "body": String::from_utf8_lossy(&body),
                            "authorization": header("authorization"),
                            "contentType": header("content-type"),
                        })),
                        warp::http::StatusCode::CREATED,
                    )
                    .into_response()
                },
            );
        // 3 MiB of a known pattern: more than one NATS message carries.
        let big = warp::path!("v1" / "big").map(|| {
            let body: Vec<u8> = (0..BIG_PIECES)
                .flat_map(|i| vec![(i % 251) as u8; 1000])
                .collect();
            warp::reply::Response::new(Bytes::from(body).into())
        });
        let sse = warp::path!("v1" / "sessions" / String / "events").map(|_id: String| {
            let ticks = futures_util::stream::unfold(0u64, |n| async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Some((
                    Ok::<_, std::convert::Infallible>(
                        warp::sse::Event::default()
                            .id(n.to_string())
                            .data(format!("tick {n}")),
                    ),
                    n + 1,
                ))
            });
            warp::sse::reply(ticks).into_response()
        });
        echo.or(big).unify().or(sse).unify().boxed()
    }
}

impl LocalNode for TestNode {
    fn sessions(&self) -> Vec<LocalSession> {
        self.sessions.lock().expect("test node lock").clone()
    }

    fn has_session(&self, id_or_name: &str) -> bool {
        self.sessions
            .lock()
            .expect("test node lock")
            .iter()
            .any(|s| s.id.to_string() == id_or_name || s.name == id_or_name)
    }

    fn subscribe(&self) -> Pin<Box<dyn Stream<Item = LocalFeed> + Send>> {
        let rx = self.events.subscribe();
        Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
            match rx.recv().await {
                Ok(f) => Some((f, rx)),
                Err(broadcast::error::RecvError::Lagged(n)) => Some((LocalFeed::Lagged(n), rx)),
                Err(broadcast::error::RecvError::Closed) => None,
            }
        }))
    }

    fn execute(
        &self,
        request: http::Request<Bytes>,
        from: Forwarded,
    ) -> futures_util::future::BoxFuture<'static, http::Response<BodyStream>> {
        self.executed.fetch_add(1, Ordering::Relaxed);
        *self.last_from.lock().expect("test node lock") = Some(from);
        Box::pin(async move {
            use tower_service::Service;
            let mut svc = warp::service(TestNode::routes());
            let request = request.map(http_body_util::Full::new);
            let Ok(response) = svc.call(request).await;
            let (parts, body) = response.into_parts();
            let body: BodyStream = Box::pin(http_body_util::BodyStream::new(body).filter_map(
                |f| async move {
                    match f {
                        Ok(frame) => frame.into_data().ok().map(Ok),
                        Err(e) => Some(Err(std::io::Error::other(e.to_string()))),
                    }
                },
            ));
            http::Response::from_parts(parts, body)
        })
    }

    fn refusal(&self, why: fleet::Refusal, message: &str) -> (u16, Bytes) {
        let (status, code) = match why {
            fleet::Refusal::Busy => (503, "HOST_BUSY"),
            fleet::Refusal::Malformed => (400, "FLEET_PROTOCOL_ERROR"),
        };
        let body = json!({"error": message, "code": code, "statusCode": status});
        (status, Bytes::from(body.to_string()))
    }
}

fn args(nats: &NatsServer, host: &str, user: &str, password: &str) -> FleetArgs {
    FleetArgs {
        nats: Some(nats.url()),
        host_id: Some(host.into()),
        nats_user: Some(user.into()),
        nats_password: Some(password.into()),
        heartbeat_ms: 200,
        event_buffer: 10_000,
        events_max_age_hours: 1,
        events_max_bytes: 64 << 20,
        ..Default::default()
    }
}

struct Host {
    fleet: Arc<Fleet>,
    node: Arc<TestNode>,
    stop: CancellationToken,
}

async fn join(nats: &NatsServer, host: &str, tweak: impl FnOnce(&mut FleetArgs)) -> Host {
    // The fleet's logs, shown by the test runner when a test fails.
    let _ = tracing_subscriber::fmt()
        .with_env_filter("aegis=debug")
        .with_test_writer()
        .try_init();
    let mut a = args(nats, host, nats::FLEET_USER, nats::FLEET_PASSWORD);
    tweak(&mut a);
    let config = a.resolve().expect("valid flags").expect("a fleet");
    let node = TestNode::new();
    let stop = CancellationToken::new();
    let fleet = Fleet::start(config, node.clone(), stop.clone())
        .await
        .expect("joining");
    Host { fleet, node, stop }
}

/// Poll `f` every 20 ms until it is `Some`, or fail after `timeout` naming `what`.
async fn until<T>(timeout: Duration, what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn state(h: &Host, of: &str) -> Option<String> {
    h.fleet
        .hosts
        .views(h.fleet.host_id())
        .into_iter()
        .find(|v| v.host == of)
        .map(|v| v.state.as_str().to_owned())
}

async fn body_of(r: http::Response<BodyStream>) -> Vec<u8> {
    let mut body = r.into_body();
    let mut out = Vec::new();
    while let Some(c) = body.next().await {
        out.extend_from_slice(&c.expect("body chunk"));
    }
    out
}

const T: Duration = Duration::from_secs(10);

/// Pieces of 1000 bytes in `/v1/big`: about 3 MiB.
const BIG_PIECES: usize = 3 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_directory_and_forwarding() {
    let nats = NatsServer::start();
    let h1 = join(&nats, "h1", |_| {}).await;
    let h2 = join(&nats, "h2", |_| {}).await;
    let h3 = join(&nats, "h3", |_| {}).await;
    until(T, "three hosts up on h1", async || {
        let up = ["h1", "h2", "h3"]
            .iter()
            .all(|h| state(&h1, h).as_deref() == Some("up"));
        up.then_some(())
    })
    .await;

    // A session of h2 is found from h1, by id and by name.
    let id = h2.node.create("builder");
    let found = until(T, "h2's session in h1's directory", async || {
        h1.fleet
            .directory
            .locate(&h1.fleet, &id.to_string())
            .await
            .ok()
            .flatten()
    })
    .await;
    assert_eq!(found.entry.host, "h2");
    let by_name = h1
        .fleet
        .directory
        .locate(&h1.fleet, "builder")
        .await
        .expect("located")
        .expect("found");
    assert_eq!(by_name.id, id);

    // A whole answer: status, headers and body; the caller's token and ?token= stay behind.
    let req = http::Request::post(format!("/v1/sessions/{id}/echo?token=s3cret&lines=5"))
        .header("authorization", "Bearer s3cret")
        .header("content-type", "application/json")
        .body(Bytes::from_static(b"{\"text\":\"hi\"}"))
        .expect("a request");
    let r = fleet::forward::forward(&h1.fleet, "h2", req, "master")
        .await
        .expect("forwarded");
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["content-type"], "application/json");
    let v: serde_json::Value = serde_json::from_slice(&body_of(r).await).expect("JSON");
    assert_eq!(v["id"], id.to_string());
    assert_eq!(v["query"], "lines=5");
    assert_eq!(v["body"], "{\"text\":\"hi\"}");
    assert_eq!(v["authorization"], serde_json::Value::Null);
    assert_eq!(
        h2.node.last_from.lock().expect("test node lock").clone(),
        Some(Forwarded {
            origin_host: "h1".into(),
            principal: "master".into()
        })
    );

    // A streamed answer larger than a NATS message arrives whole and in order.
    let r = fleet::forward::forward(
        &h3.fleet,
        "h2",
        http::Request::get("/v1/big")
            .body(Bytes::new())
            .expect("a request"),
        "open",
    )
    .await
    .expect("forwarded");
    let big = body_of(r).await;
    assert_eq!(big.len(), BIG_PIECES * 1000);
    assert!(
        big.chunks(1000)
            .enumerate()
            .all(|(i, c)| c.iter().all(|b| *b == (i % 251) as u8))
    );

    // An endless SSE answer streams, and dropping it ends the owner's stream.
    let r = fleet::forward::forward(
        &h1.fleet,
        "h2",
        http::Request::get(format!("/v1/sessions/{id}/events"))
            .body(Bytes::new())
            .expect("a request"),
        "open",
    )
    .await
    .expect("forwarded");
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let mut body = r.into_body();
    let mut text = String::new();
    while !text.contains("tick 3") {
        text.push_str(&String::from_utf8_lossy(
            &body.next().await.expect("more").expect("chunk"),
        ));
    }
    assert!(text.contains("tick 0") && text.contains("tick 1"), "{text}");
    until(T, "h2 serving the stream", async || {
        (h2.fleet.streams_in_flight() > 0).then_some(())
    })
    .await;
    drop(body);
    until(T, "h2 to end the stream once the reader left", async || {
        (h2.fleet.streams_in_flight() == 0).then_some(())
    })
    .await;

    // A clean stop is seen at once; a host whose daemon vanished (no goodbye) after three
    // missed heartbeats.
    h3.fleet.stop().await;
    until(T, "h3 unreachable after its stop", async || {
        (state(&h1, "h3").as_deref() == Some("unreachable")).then_some(())
    })
    .await;
    h2.stop.cancel();
    until(T, "h2 unreachable after it went silent", async || {
        (state(&h1, "h2").as_deref() == Some("unreachable")).then_some(())
    })
    .await;
    // Nobody serves h2's subject any more: the request fails fast as unreachable.
    let r = fleet::forward::forward(
        &h1.fleet,
        "h2",
        http::Request::get("/v1/big")
            .body(Bytes::new())
            .expect("a request"),
        "open",
    )
    .await;
    let r = r.map(|ok| ok.status());
    assert!(
        matches!(r, Err(FleetError::HostUnreachable { .. })),
        "{r:?}"
    );
    // Its sessions stay in the directory (its holders keep them) until it comes back.
    assert!(
        h1.fleet
            .directory
            .lookup(&id.to_string())
            .expect("no ambiguity")
            .is_some()
    );
    h1.fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_survive_an_outage_and_replay_by_sequence() {
    let mut nats = NatsServer::start();
    let h1 = join(&nats, "h1", |a| a.event_buffer = 5).await;
    until(T, "the bus", async || h1.fleet.bus().ok()).await;
    let id = h1.node.create("ev");
    until(T, "the creation published", async || {
        (h1.fleet.stats.events_published.load(Ordering::Relaxed) == 1).then_some(())
    })
    .await;

    // NATS goes away: the fleet says so, and 8 events wait in a buffer of 5.
    nats.stop();
    until(T, "the fleet to notice the outage", async || {
        matches!(h1.fleet.bus(), Err(FleetError::Unavailable { .. })).then_some(())
    })
    .await;
    for _ in 0..8 {
        h1.node.emit("session.working", id, "ev");
    }
    until(T, "the overflow counted", async || {
        (h1.fleet.stats.events_dropped.load(Ordering::Relaxed) == 3).then_some(())
    })
    .await;
    assert_eq!(h1.fleet.stats.events_buffered.load(Ordering::Relaxed), 5);

    // It comes back with its store: the buffer drains by itself.
    nats.restart();
    until(
        Duration::from_secs(20),
        "the buffered events published",
        async || (h1.fleet.stats.events_published.load(Ordering::Relaxed) == 6).then_some(()),
    )
    .await;

    // A reader resuming after sequence 1 gets sequences 2..=6, the last 5 events, in order,
    // with the stream sequence as their id; a reader at 0 starts with the creation.
    let frames: Vec<_> = fleet::events::follow(
        &h1.fleet,
        fleet::events::Start::After(1),
        Default::default(),
    )
    .await
    .expect("following")
    .frames
    .take(5)
    .collect()
    .await;
    let seqs: Vec<u64> = frames
        .iter()
        .map(|f| match f {
            fleet::events::Frame::Event { seq, json } => {
                assert_eq!(json["id"], *seq);
                assert_eq!(json["host"], "h1");
                assert_eq!(json["type"], "session.working");
                *seq
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(seqs, [2, 3, 4, 5, 6]);
    let first = fleet::events::follow(
        &h1.fleet,
        fleet::events::Start::After(0),
        fleet::events::Filter {
            types: vec!["session.created".into()],
            ..Default::default()
        },
    )
    .await
    .expect("following")
    .frames
    .next()
    .await;
    assert!(
        matches!(&first, Some(fleet::events::Frame::Event { seq: 1, json }) if json["sessionId"] == id.to_string()),
        "{first:?}"
    );
    h1.fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_forged_without_fleet_rights_is_refused() {
    let nats = NatsServer::start();
    let h1 = join(&nats, "h1", |_| {}).await;
    until(T, "h1 serving", async || {
        (state(&h1, "h1").as_deref() == Some("up")).then_some(())
    })
    .await;
    let forged = |client: async_nats::Client| async move {
        let mut h = async_nats::HeaderMap::new();
        for (k, v) in [
            ("Aegis-Fleet-Version", "1"),
            ("Aegis-Fleet-Id", &uuid::Uuid::new_v4().to_string()),
            ("Aegis-Fleet-Origin", "h9"),
            ("Aegis-Fleet-Principal", "master"),
            ("Aegis-Fleet-Method", "POST"),
            ("Aegis-Fleet-Path", "/v1/sessions/x/echo"),
        ] {
            h.insert(k, v);
        }
        let request = client.request_with_headers("aegis.rpc.h1", h, Bytes::from_static(b"forged"));
        tokio::time::timeout(Duration::from_secs(2), request).await
    };
    // The intruder authenticates to NATS, but may not publish on the fleet's subjects: the
    // server drops its request, nothing runs on h1, and no answer comes.
    let intruder = async_nats::ConnectOptions::with_user_and_password(
        nats::INTRUDER_USER.into(),
        nats::INTRUDER_PASSWORD.into(),
    )
    .connect(nats.url())
    .await
    .expect("the intruder is a valid NATS user");
    let answer = forged(intruder).await;
    assert!(
        !matches!(answer, Ok(Ok(_))),
        "the intruder got an answer: {answer:?}"
    );
    assert_eq!(h1.node.executed.load(Ordering::Relaxed), 0);
    // Without any credentials the server refuses the connection itself.
    assert!(async_nats::connect(nats.url()).await.is_err());
    // The same message from a fleet user is served: the refusal above is the permission's.
    let peer = async_nats::ConnectOptions::with_user_and_password(
        nats::FLEET_USER.into(),
        nats::FLEET_PASSWORD.into(),
    )
    .connect(nats.url())
    .await
    .expect("fleet user");
    let answer = forged(peer).await.expect("in time").expect("answered");
    assert_eq!(
        answer
            .headers
            .as_ref()
            .and_then(|h| h.get("Aegis-Fleet-Status"))
            .map(|v| v.as_str()),
        Some("201")
    );
    assert_eq!(h1.node.executed.load(Ordering::Relaxed), 1);
    h1.fleet.stop().await;
}
