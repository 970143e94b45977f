//! The owner's side of a forwarded request: serving `aegis.rpc.<host>` and
//! `aegis.ctl.<host>`, running each request through this daemon's own routes, and answering
//! as one `whole` message or as a flow-controlled stream. The wire is specified in
//! [`super::forward`]; this side bounds its work by [`MAX_INFLIGHT`] and its window.

use std::sync::Arc;
use std::time::Instant;

use async_nats::HeaderMap;
use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use tokio::sync::{Semaphore, mpsc};

use super::forward::{
    ACK, CANCEL, CHUNK, Ctl, DROPPED_RESPONSE_HEADERS, HTTP_PREFIX, ID, KIND, MAX_INFLIGHT, METHOD,
    ORIGIN, PATH, PRINCIPAL, SEQ, SILENCE, STATUS, TICK, VERSION, WINDOW, header, http_to_nats,
    max_body, nats_to_http, put,
};
use super::{BodyStream, Fleet, Forwarded, Refusal, Stats, ctl_subject, rpc_subject};

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
                            let (h, body) = refusal(&fleet, Refusal::Busy, &format!(
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

/// A `whole` answer refusing a request before the routes run (a malformed or excess
/// request), with the error the node answers for `why` (in the API's error format).
fn refusal(fleet: &Fleet, why: Refusal, message: &str) -> (HeaderMap, Bytes) {
    let (status, body) = fleet.node.refusal(why, message);
    let mut h = HeaderMap::new();
    put(&mut h, KIND, "whole");
    put(&mut h, STATUS, &status.to_string());
    put(
        &mut h,
        &format!("{HTTP_PREFIX}content-type"),
        "application/json",
    );
    (h, body)
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
            let (h, body) = refusal(fleet, Refusal::Malformed, &why);
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
