//! Forwarding an HTTP request to the host that owns a session, over NATS request-reply, and
//! streaming its answer back. This module doc is the wire spec.
//!
//! # Why the owner runs forwarded requests through its own routing
//! The owner feeds a forwarded request into its own warp filter, in process (see
//! [`LocalNode::execute`](super::LocalNode::execute)), instead of a table of per-route
//! operations. So every session route, present and future, forwards without fleet code
//! knowing it, with the owner's own validation, errors and audit. A loopback HTTP call with
//! a node credential would do the same at the cost of a socket, a second auth path and a
//! secret to keep; in process there is no secret: the request carries a `Forwarded` marker
//! that only this code can attach.
//!
//! # Trust
//! The node that received the HTTP request authorizes it (token, API key scopes,
//! `--read-only`) before forwarding; the owner then runs it as a fleet peer. Peers trust each
//! other because only fleet users may publish on `aegis.rpc.*` and `aegis.ctl.*` (NATS
//! authorization, see `docs/fleet.md`); a NATS user without that permission cannot forge a
//! request, and nothing in a message (such as the claimed origin) is taken as proof. The
//! caller's token never travels: `Authorization`, `Cookie` and `?token=` are stripped.
//!
//! # Request: one core message to `aegis.rpc.<host>`, reply subject = a fresh inbox
//! Headers: `Aegis-Fleet-Version: 1`, `Aegis-Fleet-Id` (UUID of this exchange),
//! `Aegis-Fleet-Origin` (the origin host), `Aegis-Fleet-Principal` (who the origin
//! authenticated, for the owner's audit log), `Aegis-Fleet-Method`, `Aegis-Fleet-Path` (path
//! and query, still percent-encoded), and each HTTP request header as `Http-<name>`. Payload:
//! the request body, which must fit one NATS message (`max_payload`, 1 MiB by default, the
//! same as the API's default body limit); larger is refused with 413 before sending.
//!
//! # Answer: messages to the reply inbox, in order (one publisher, one connection)
//! Every answer message has `Aegis-Fleet-Kind`:
//! - `whole`: the complete answer: `Aegis-Fleet-Status`, `Http-<name>` headers, body as
//!   payload. Used when the body was complete at once and fits one message (JSON answers).
//! - `head`: status and headers of a streamed answer (SSE, large recordings); then
//! - `data` with `Aegis-Fleet-Seq` 1, 2, ...: body chunks of at most [`CHUNK`] bytes;
//! - `end`: the body ended; or `error` (payload: a sentence): the body broke.
//! - `tick`: the owner is alive (every [`TICK`] of silence, before `head` too, so a slow
//!   route is told from a dead host).
//!
//! A gap in `Aegis-Fleet-Seq`, or [`SILENCE`] without any message, aborts the answer; a NATS
//! "no responders" status on the inbox means no daemon serves that host (503
//! `HOST_UNREACHABLE`).
//!
//! # Flow control: `aegis.ctl.<owner>`
//! The requester sends `Aegis-Fleet-Id` with `Aegis-Fleet-Ack: <seq>` (cumulative) every
//! [`ACK_EVERY`] chunks and every [`TICK`], or `Aegis-Fleet-Cancel: 1` when its client went
//! away. The owner keeps at most [`WINDOW`] chunks unacknowledged, and stops a stream whose
//! requester was silent for [`SILENCE`], so a vanished requester never leaks a stream.
//!
//! # What does not forward
//! WebSocket upgrades and the attach socket cannot be carried by an in-process filter call;
//! for a session of another host they answer with where to connect (see `docs/fleet.md`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::{HeaderMap, HeaderName, HeaderValue};
use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use tokio::sync::{Semaphore, mpsc};

use super::{BodyStream, Fleet, FleetError, Forwarded, Stats, ctl_subject, rpc_subject};

/// Largest body chunk in one message. Well under NATS's default 1 MiB payload, and small
/// enough that one slow stream does not hog the connection's write buffer.
pub const CHUNK: usize = 64 * 1024;
/// Chunks the owner sends ahead of the requester's acks: 64 × 64 KiB = 4 MiB in flight at
/// most per stream, which the requester's subscription buffers without loss.
pub const WINDOW: u64 = 64;
/// The requester acks after this many chunks (a quarter of the window keeps the owner
/// streaming without waiting).
pub const ACK_EVERY: u64 = 16;
/// Keep-alive interval, both ways.
pub const TICK: Duration = Duration::from_secs(5);
/// Silence after which the other side is presumed gone: three missed ticks.
pub const SILENCE: Duration = Duration::from_secs(15);
/// Forwarded requests one host runs at once; each holds a task, and an SSE stream holds its
/// permit for its life. Past this a request is answered 503 at once rather than queued.
pub const MAX_INFLIGHT: usize = 512;
/// Room left for headers when deciding whether an answer fits one message.
const HEADER_ROOM: usize = 16 * 1024;

const VERSION: &str = "Aegis-Fleet-Version";
const ID: &str = "Aegis-Fleet-Id";
const ORIGIN: &str = "Aegis-Fleet-Origin";
const PRINCIPAL: &str = "Aegis-Fleet-Principal";
const METHOD: &str = "Aegis-Fleet-Method";
const PATH: &str = "Aegis-Fleet-Path";
const KIND: &str = "Aegis-Fleet-Kind";
const STATUS: &str = "Aegis-Fleet-Status";
const SEQ: &str = "Aegis-Fleet-Seq";
const ACK: &str = "Aegis-Fleet-Ack";
const CANCEL: &str = "Aegis-Fleet-Cancel";
const HTTP_PREFIX: &str = "Http-";

/// Request headers never forwarded: hop-by-hop ones, and the caller's credentials (the
/// origin already checked them; the owner must not see them).
const DROPPED_REQUEST_HEADERS: &[&str] = &[
    "authorization",
    "cookie",
    "host",
    "connection",
    "content-length",
    "transfer-encoding",
    "upgrade",
    "keep-alive",
    "te",
    "trailer",
    "proxy-authorization",
    "proxy-connection",
];

/// Response headers never forwarded: framing is the fleet's, not HTTP's.
const DROPPED_RESPONSE_HEADERS: &[&str] = &["content-length", "transfer-encoding", "connection"];

/// The owner's table of streamed answers: exchange id -> where its acks go.
#[derive(Default)]
pub struct StreamTable {
    inner: Mutex<HashMap<uuid::Uuid, mpsc::Sender<Ctl>>>,
}

#[derive(Debug, Clone, Copy)]
enum Ctl {
    Ack(u64),
    Cancel,
}

impl StreamTable {
    fn insert(&self, id: uuid::Uuid, tx: mpsc::Sender<Ctl>) {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, tx);
    }
    fn remove(&self, id: &uuid::Uuid) {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }
    fn get(&self, id: &uuid::Uuid) -> Option<mpsc::Sender<Ctl>> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }
    /// Streams being served now.
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn header(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name).map(|v| v.as_str().to_string())
}

fn put(h: &mut HeaderMap, name: &str, value: &str) {
    if let (Ok(n), Ok(v)) = (
        HeaderName::try_from(name.to_string()),
        value.parse::<HeaderValue>(),
    ) {
        h.insert(n, v);
    }
}

/// HTTP headers as `Http-` NATS headers; anything NATS cannot carry verbatim is skipped.
fn http_to_nats(src: &http::HeaderMap, dropped: &[&str], dst: &mut HeaderMap) {
    for (name, value) in src {
        if dropped.contains(&name.as_str()) {
            continue;
        }
        let Ok(value) = value.to_str() else { continue };
        let (Ok(n), Ok(v)) = (
            HeaderName::try_from(format!("{HTTP_PREFIX}{}", name.as_str())),
            value.parse::<HeaderValue>(),
        ) else {
            continue;
        };
        dst.append(n, v);
    }
}

fn nats_to_http(src: &HeaderMap, dst: &mut http::HeaderMap) {
    for (name, values) in src.iter() {
        let name: &str = name.as_ref();
        let Some(http_name) = name
            .strip_prefix(HTTP_PREFIX)
            .or_else(|| name.strip_prefix(&HTTP_PREFIX.to_ascii_lowercase()))
        else {
            continue;
        };
        let Ok(n) = http::HeaderName::from_bytes(http_name.as_bytes()) else {
            continue;
        };
        for v in values {
            if let Ok(v) = http::HeaderValue::from_str(v.as_str()) {
                dst.append(n.clone(), v);
            }
        }
    }
}

/// Drop `token=` from a query string: a credential must not travel to the owner.
fn strip_token(path_and_query: &str) -> String {
    let Some((path, query)) = path_and_query.split_once('?') else {
        return path_and_query.to_string();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && *p != "token" && !p.starts_with("token="))
        .collect();
    if kept.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", kept.join("&"))
    }
}

/// The largest request body one message carries.
pub fn max_body(fleet: &Fleet) -> usize {
    fleet
        .client
        .server_info()
        .max_payload
        .saturating_sub(HEADER_ROOM)
        .max(CHUNK)
}

/// Run `request` on `host` and answer with its response. On this host it runs in process,
/// without NATS (a fleet route served by the owner itself works while NATS is down).
pub async fn forward(
    fleet: &Fleet,
    host: &str,
    request: http::Request<Bytes>,
    principal: &str,
) -> Result<http::Response<BodyStream>, FleetError> {
    let from = Forwarded {
        origin_host: fleet.config.host_id.clone(),
        principal: principal.to_string(),
    };
    if host == fleet.config.host_id {
        return Ok(fleet.node.execute(request, from).await);
    }
    let result = forward_remote(fleet, host, request, from).await;
    Stats::bump(&fleet.stats.forwarded_out);
    if result.is_err() {
        Stats::bump(&fleet.stats.forward_errors);
    }
    result
}

async fn forward_remote(
    fleet: &Fleet,
    host: &str,
    request: http::Request<Bytes>,
    from: Forwarded,
) -> Result<http::Response<BodyStream>, FleetError> {
    fleet.bus()?;
    let (parts, body) = request.into_parts();
    let max = max_body(fleet);
    if body.len() > max {
        return Err(FleetError::TooLarge {
            size: body.len(),
            max,
        });
    }
    let id = uuid::Uuid::new_v4();
    let mut headers = HeaderMap::new();
    put(&mut headers, VERSION, "1");
    put(&mut headers, ID, &id.to_string());
    put(&mut headers, ORIGIN, &from.origin_host);
    put(&mut headers, PRINCIPAL, &from.principal);
    put(&mut headers, METHOD, parts.method.as_str());
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    put(&mut headers, PATH, &strip_token(path));
    http_to_nats(&parts.headers, DROPPED_REQUEST_HEADERS, &mut headers);

    let inbox = fleet.client.new_inbox();
    let mut sub = fleet
        .client
        .subscribe(inbox.clone())
        .await
        .map_err(|_| fleet.unavailable())?;
    fleet
        .client
        .publish_with_reply_and_headers(rpc_subject(host), inbox, headers, body)
        .await
        .map_err(|_| fleet.unavailable())?;
    let unreachable = |reason: &str| FleetError::HostUnreachable {
        host: host.to_string(),
        reason: reason.to_string(),
    };
    // Wait for the head; ticks prove the owner is alive while a slow route runs.
    let first = loop {
        let msg = match tokio::time::timeout(SILENCE, sub.next()).await {
            Err(_) => return Err(unreachable("it did not answer within 15 s")),
            Ok(None) => return Err(fleet.unavailable()),
            Ok(Some(m)) => m,
        };
        if msg.status == Some(async_nats::StatusCode::NO_RESPONDERS) {
            return Err(unreachable("no daemon serves it on the bus"));
        }
        let kind = msg.headers.as_ref().and_then(|h| header(h, KIND));
        if kind.as_deref() != Some("tick") {
            break msg;
        }
    };
    let Some(h) = first.headers.clone() else {
        return Err(FleetError::Protocol("an answer without headers".into()));
    };
    let status = header(&h, STATUS)
        .and_then(|s| s.parse::<u16>().ok())
        .and_then(|s| http::StatusCode::from_u16(s).ok())
        .ok_or_else(|| FleetError::Protocol("an answer without a status".into()))?;
    let mut response = http::Response::builder().status(status);
    if let Some(hm) = response.headers_mut() {
        nats_to_http(&h, hm);
    }
    let body: BodyStream = match header(&h, KIND).as_deref() {
        Some("whole") => Box::pin(futures_util::stream::once(std::future::ready(Ok(
            first.payload
        )))),
        Some("head") => {
            let (tx, rx) = mpsc::channel(ACK_EVERY as usize);
            tokio::spawn(relay(fleet.client.clone(), ctl_subject(host), id, sub, tx));
            Box::pin(tokio_stream_from(rx))
        }
        other => {
            return Err(FleetError::Protocol(format!(
                "unexpected answer kind {other:?}"
            )));
        }
    };
    response
        .body(body)
        .map_err(|e| FleetError::Protocol(e.to_string()))
}

fn tokio_stream_from(
    mut rx: mpsc::Receiver<Result<Bytes, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

async fn send_ctl(client: &async_nats::Client, subject: &str, id: uuid::Uuid, ctl: Ctl) {
    let mut h = HeaderMap::new();
    put(&mut h, ID, &id.to_string());
    match ctl {
        Ctl::Ack(n) => put(&mut h, ACK, &n.to_string()),
        Ctl::Cancel => put(&mut h, CANCEL, "1"),
    }
    let _ = client
        .publish_with_headers(subject.to_string(), h, Bytes::new())
        .await;
}

/// Requester side of a streamed answer: inbox -> body channel, with acks and keep-alives.
async fn relay(
    client: async_nats::Client,
    ctl: String,
    id: uuid::Uuid,
    mut sub: async_nats::Subscriber,
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
) {
    let broken = |why: &str| Err(std::io::Error::other(why.to_string()));
    let mut next_seq = 1u64;
    let mut keepalive = tokio::time::interval(TICK);
    keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_heard = Instant::now();
    loop {
        tokio::select! {
            _ = tx.closed() => {
                send_ctl(&client, &ctl, id, Ctl::Cancel).await;
                return;
            }
            _ = keepalive.tick() => {
                if last_heard.elapsed() > SILENCE {
                    let _ = tx.send(broken("the owning host went silent")).await;
                    return;
                }
                send_ctl(&client, &ctl, id, Ctl::Ack(next_seq - 1)).await;
            }
            msg = sub.next() => {
                let Some(msg) = msg else {
                    let _ = tx.send(broken("the fleet connection closed")).await;
                    return;
                };
                last_heard = Instant::now();
                let h = msg.headers.clone().unwrap_or_default();
                match header(&h, KIND).as_deref() {
                    Some("data") => {
                        let seq = header(&h, SEQ).and_then(|s| s.parse::<u64>().ok());
                        if seq != Some(next_seq) {
                            let _ = tx.send(broken("a chunk was lost on the bus")).await;
                            send_ctl(&client, &ctl, id, Ctl::Cancel).await;
                            return;
                        }
                        next_seq += 1;
                        if tx.send(Ok(msg.payload)).await.is_err() {
                            send_ctl(&client, &ctl, id, Ctl::Cancel).await;
                            return;
                        }
                        if (next_seq - 1).is_multiple_of(ACK_EVERY) {
                            send_ctl(&client, &ctl, id, Ctl::Ack(next_seq - 1)).await;
                        }
                    }
                    Some("tick") => {}
                    Some("end") => return,
                    Some("error") => {
                        let why = String::from_utf8_lossy(&msg.payload).into_owned();
                        let _ = tx.send(broken(&why)).await;
                        return;
                    }
                    _ => {
                        let _ = tx.send(broken("an unexpected message on the bus")).await;
                        send_ctl(&client, &ctl, id, Ctl::Cancel).await;
                        return;
                    }
                }
            }
        }
    }
}

/// Serve this host's request and control subjects until the fleet stops. Subscriptions
/// survive reconnections (the client renews them).
pub(super) async fn serve(fleet: Arc<Fleet>) {
    let mut changes = fleet.bus_changes();
    if super::next_bus(&fleet, &mut changes, None).await.is_none() {
        return;
    }
    let me = fleet.config.host_id.clone();
    // A queue group: if two daemons wrongly share a host id, one answers, not both.
    let rpc = fleet
        .client
        .queue_subscribe(rpc_subject(&me), "aegis".into())
        .await;
    let ctl = fleet.client.subscribe(ctl_subject(&me)).await;
    let (Ok(mut rpc), Ok(mut ctl)) = (rpc, ctl) else {
        tracing::error!(
            "cannot subscribe to the fleet's request subjects; this host serves no forwarded request"
        );
        return;
    };
    let permits = Arc::new(Semaphore::new(MAX_INFLIGHT));
    loop {
        tokio::select! {
            _ = fleet.shutdown.cancelled() => return,
            msg = rpc.next() => {
                let Some(msg) = msg else { return };
                Stats::bump(&fleet.stats.forwarded_in);
                match permits.clone().try_acquire_owned() {
                    Ok(permit) => {
                        let fleet = fleet.clone();
                        fleet.tasks.clone().spawn(async move {
                            handle(&fleet, msg).await;
                            drop(permit);
                        });
                    }
                    Err(_) => {
                        if let Some(reply) = msg.reply {
                            let (h, body) = error_answer(503, "HOST_BUSY", &format!(
                                "host {me} is serving {MAX_INFLIGHT} forwarded requests; retry later"));
                            let _ = fleet.client.publish_with_headers(reply, h, body).await;
                        }
                    }
                }
            }
            msg = ctl.next() => {
                let Some(msg) = msg else { return };
                let Some(h) = msg.headers else { continue };
                let Some(id) = header(&h, ID).and_then(|s| uuid::Uuid::parse_str(&s).ok()) else { continue };
                let c = if header(&h, CANCEL).is_some() {
                    Ctl::Cancel
                } else if let Some(n) = header(&h, ACK).and_then(|s| s.parse().ok()) {
                    Ctl::Ack(n)
                } else {
                    continue
                };
                if let Some(tx) = fleet.streams.get(&id) {
                    // Acks are cumulative: a full channel loses nothing a later ack won't say.
                    let _ = tx.try_send(c);
                }
            }
        }
    }
}

/// A `whole` answer carrying an API error.
fn error_answer(status: u16, code: &str, message: &str) -> (HeaderMap, Bytes) {
    let mut h = HeaderMap::new();
    put(&mut h, KIND, "whole");
    put(&mut h, STATUS, &status.to_string());
    put(
        &mut h,
        &format!("{HTTP_PREFIX}content-type"),
        "application/json",
    );
    let body = serde_json::json!({"error": message, "code": code, "statusCode": status});
    (h, Bytes::from(body.to_string()))
}

/// Rebuild the HTTP request from a request message.
fn parse_request(
    msg: &async_nats::Message,
) -> Result<(http::Request<Bytes>, Forwarded, uuid::Uuid), String> {
    let h = msg.headers.as_ref().ok_or("a request without headers")?;
    if header(h, VERSION).as_deref() != Some("1") {
        return Err("an unsupported fleet protocol version".into());
    }
    let id = header(h, ID)
        .and_then(|s| uuid::Uuid::parse_str(&s).ok())
        .ok_or("a request without an id")?;
    let method = header(h, METHOD)
        .and_then(|m| http::Method::from_bytes(m.as_bytes()).ok())
        .ok_or("a request without a method")?;
    let path = header(h, PATH)
        .filter(|p| p.starts_with('/'))
        .ok_or("a request without a path")?;
    let mut builder = http::Request::builder().method(method).uri(path);
    if let Some(hm) = builder.headers_mut() {
        nats_to_http(h, hm);
    }
    let request = builder
        .body(msg.payload.clone())
        .map_err(|e| format!("a malformed request: {e}"))?;
    let from = Forwarded {
        origin_host: header(h, ORIGIN).unwrap_or_else(|| "unknown".into()),
        principal: header(h, PRINCIPAL).unwrap_or_else(|| "unknown".into()),
    };
    Ok((request, from, id))
}

/// Owner side of one exchange.
async fn handle(fleet: &Fleet, msg: async_nats::Message) {
    let Some(reply) = msg.reply.clone() else {
        return;
    };
    let client = &fleet.client;
    let (request, from, id) = match parse_request(&msg) {
        Ok(r) => r,
        Err(why) => {
            let (h, body) = error_answer(400, "FLEET_PROTOCOL_ERROR", &why);
            let _ = client.publish_with_headers(reply, h, body).await;
            return;
        }
    };
    // Tick while the route runs, so the requester can tell slow from dead.
    let mut exec = std::pin::pin!(fleet.node.execute(request, from));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + TICK, TICK);
    let response = loop {
        tokio::select! {
            r = &mut exec => break r,
            _ = tick.tick() => {
                let mut h = HeaderMap::new();
                put(&mut h, KIND, "tick");
                let _ = client.publish_with_headers(reply.clone(), h, Bytes::new()).await;
            }
        }
    };
    let (parts, mut body) = response.into_parts();
    let mut head = HeaderMap::new();
    put(&mut head, STATUS, &parts.status.as_u16().to_string());
    http_to_nats(&parts.headers, DROPPED_RESPONSE_HEADERS, &mut head);

    // Take what the body has ready now: a complete small body goes out as one message.
    let whole_max = max_body(fleet);
    let mut ready = Vec::new();
    let mut size = 0usize;
    let mut ended = false;
    let mut broke = None;
    match body.next().await {
        None => ended = true,
        Some(Err(e)) => broke = Some(e.to_string()),
        Some(Ok(c)) => {
            size += c.len();
            ready.push(c);
            while size <= whole_max {
                match body.next().now_or_never() {
                    Some(Some(Ok(c))) => {
                        size += c.len();
                        ready.push(c);
                    }
                    Some(Some(Err(e))) => {
                        broke = Some(e.to_string());
                        break;
                    }
                    Some(None) => {
                        ended = true;
                        break;
                    }
                    None => break,
                }
            }
        }
    }
    if ended && size <= whole_max {
        put(&mut head, KIND, "whole");
        let payload: Bytes = ready.concat().into();
        let _ = client.publish_with_headers(reply, head, payload).await;
        return;
    }
    put(&mut head, KIND, "head");
    let _ = client
        .publish_with_headers(reply.clone(), head, Bytes::new())
        .await;
    let (ctl_tx, ctl_rx) = mpsc::channel(16);
    fleet.streams.insert(id, ctl_tx);
    let outcome = stream_body(fleet, &reply, ready, ended, broke, body, ctl_rx).await;
    fleet.streams.remove(&id);
    let mut h = HeaderMap::new();
    match outcome {
        Ok(()) => put(&mut h, KIND, "end"),
        Err(why) => {
            tracing::debug!(request = %id, why, "forwarded stream stopped");
            put(&mut h, KIND, "error");
            let _ = client
                .publish_with_headers(reply, h, Bytes::from(why))
                .await;
            return;
        }
    }
    let _ = client.publish_with_headers(reply, h, Bytes::new()).await;
}

/// Send the body as `data` chunks within the window; `Err` says why it stopped early.
async fn stream_body(
    fleet: &Fleet,
    reply: &async_nats::Subject,
    ready: Vec<Bytes>,
    mut ended: bool,
    broke: Option<String>,
    mut body: BodyStream,
    mut ctl: mpsc::Receiver<Ctl>,
) -> Result<(), String> {
    let client = &fleet.client;
    let mut seq = 0u64;
    let mut acked = 0u64;
    let mut last_ctl = Instant::now();
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + TICK, TICK);
    let mut pending: std::collections::VecDeque<Bytes> = ready.into();
    if let Some(why) = broke {
        return Err(why);
    }
    loop {
        // Send what is pending while the window allows.
        while seq - acked < WINDOW
            && let Some(mut chunk) = pending.pop_front()
        {
            if chunk.len() > CHUNK {
                let rest = chunk.split_off(CHUNK);
                pending.push_front(rest);
            }
            seq += 1;
            let mut h = HeaderMap::new();
            put(&mut h, KIND, "data");
            put(&mut h, SEQ, &seq.to_string());
            client
                .publish_with_headers(reply.clone(), h, chunk)
                .await
                .map_err(|e| e.to_string())?;
        }
        if ended && pending.is_empty() {
            return Ok(());
        }
        let window_open = seq - acked < WINDOW;
        tokio::select! {
            _ = fleet.shutdown.cancelled() => return Err("the owning host is shutting down".into()),
            c = ctl.recv() => {
                last_ctl = Instant::now();
                match c {
                    Some(Ctl::Ack(n)) => acked = acked.max(n.min(seq)),
                    Some(Ctl::Cancel) | None => return Err("the requester cancelled".into()),
                }
            }
            _ = tick.tick() => {
                if last_ctl.elapsed() > SILENCE {
                    return Err("the requester went silent".into());
                }
                let mut h = HeaderMap::new();
                put(&mut h, KIND, "tick");
                let _ = client.publish_with_headers(reply.clone(), h, Bytes::new()).await;
            }
            c = body.next(), if window_open && pending.is_empty() && !ended => match c {
                Some(Ok(c)) => pending.push_back(c),
                Some(Err(e)) => return Err(e.to_string()),
                None => ended = true,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_never_travel() {
        assert_eq!(
            strip_token("/v1/sessions/x/events?token=abc"),
            "/v1/sessions/x/events"
        );
        assert_eq!(
            strip_token("/v1/sessions/x/read?token=abc&lines=5"),
            "/v1/sessions/x/read?lines=5"
        );
        assert_eq!(strip_token("/a?tokens=1&token"), "/a?tokens=1");
        let mut src = http::HeaderMap::new();
        src.insert(
            "authorization",
            http::HeaderValue::from_static("Bearer s3cret"),
        );
        src.insert(
            "cookie",
            http::HeaderValue::from_static("aegis_token=s3cret"),
        );
        src.insert(
            "content-type",
            http::HeaderValue::from_static("application/json"),
        );
        src.insert("last-event-id", http::HeaderValue::from_static("7"));
        let mut nats = HeaderMap::new();
        http_to_nats(&src, DROPPED_REQUEST_HEADERS, &mut nats);
        let mut back = http::HeaderMap::new();
        nats_to_http(&nats, &mut back);
        assert_eq!(back.len(), 2);
        assert_eq!(back["content-type"], "application/json");
        assert_eq!(back["last-event-id"], "7");
    }
}
