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
//! The requester's side is here; the owner's side is [`super::answer`].
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
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_nats::{HeaderMap, HeaderName, HeaderValue};
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;

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

pub(super) const VERSION: &str = "Aegis-Fleet-Version";
pub(super) const ID: &str = "Aegis-Fleet-Id";
pub(super) const ORIGIN: &str = "Aegis-Fleet-Origin";
pub(super) const PRINCIPAL: &str = "Aegis-Fleet-Principal";
pub(super) const METHOD: &str = "Aegis-Fleet-Method";
pub(super) const PATH: &str = "Aegis-Fleet-Path";
pub(super) const KIND: &str = "Aegis-Fleet-Kind";
pub(super) const STATUS: &str = "Aegis-Fleet-Status";
pub(super) const SEQ: &str = "Aegis-Fleet-Seq";
pub(super) const ACK: &str = "Aegis-Fleet-Ack";
pub(super) const CANCEL: &str = "Aegis-Fleet-Cancel";
pub(super) const HTTP_PREFIX: &str = "Http-";

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
pub(super) const DROPPED_RESPONSE_HEADERS: &[&str] =
    &["content-length", "transfer-encoding", "connection"];

/// The owner's table of streamed answers: exchange id -> where its acks go.
#[derive(Default)]
pub struct StreamTable {
    inner: Mutex<HashMap<uuid::Uuid, mpsc::Sender<Ctl>>>,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Ctl {
    Ack(u64),
    Cancel,
}

impl StreamTable {
    pub(super) fn insert(&self, id: uuid::Uuid, tx: mpsc::Sender<Ctl>) {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, tx);
    }
    pub(super) fn remove(&self, id: &uuid::Uuid) {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }
    pub(super) fn get(&self, id: &uuid::Uuid) -> Option<mpsc::Sender<Ctl>> {
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

pub(super) fn header(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name).map(|v| v.as_str().to_string())
}

pub(super) fn put(h: &mut HeaderMap, name: &str, value: &str) {
    if let (Ok(n), Ok(v)) = (
        HeaderName::try_from(name.to_string()),
        value.parse::<HeaderValue>(),
    ) {
        h.insert(n, v);
    }
}

/// HTTP headers as `Http-` NATS headers; anything NATS cannot carry verbatim is skipped.
pub(super) fn http_to_nats(src: &http::HeaderMap, dropped: &[&str], dst: &mut HeaderMap) {
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

pub(super) fn nats_to_http(src: &HeaderMap, dst: &mut http::HeaderMap) {
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
