//! Forwarding to the host that owns a session: [`forward_hook`] sends any
//! `/sessions/:id[/...]` request whose session lives on another host to that host, and turns
//! its answer back into a response here.
//!
//! Streamed answers: warp 0.4 streams a body only as SSE, so a forwarded `text/event-stream`
//! answer is re-framed ([`crate::fleet::sse`]); any other answer is collected (up to
//! [`MAX_COLLECTED`]) and sent whole. A WebSocket is not forwarded: the client is sent to the
//! owner's own address (421).

use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::Value;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::wire::FleetSession;
use super::{bad_request, error, with_fleet};
use crate::api::error::ErrorBody;
use crate::fleet::{BodyStream, Fleet, FleetError, forward};

/// Largest non-SSE answer collected from a peer (a long recording). Past this the answer is
/// refused with 502 rather than held in memory.
pub const MAX_COLLECTED: usize = 256 * 1024 * 1024;

/// Turn a forwarded answer into a warp response.
pub async fn reply(response: http::Response<BodyStream>) -> Response {
    let (parts, body) = response.into_parts();
    let sse = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let mut out = if sse {
        // warp wants a `Sync` event stream; a task moves the body into a channel, which is.
        let (tx, mut rx) =
            tokio::sync::mpsc::channel::<Result<warp::sse::Event, std::io::Error>>(16);
        tokio::spawn(async move {
            let mut parser = crate::fleet::sse::Parser::default();
            let mut body = body;
            while let Some(chunk) = body.next().await {
                let frames = chunk.and_then(|c| parser.feed(&c).map_err(std::io::Error::other));
                let events = match frames {
                    Ok(frames) => frames.iter().map(|f| Ok(f.to_event())).collect(),
                    Err(e) => vec![Err(e)],
                };
                for e in events {
                    let stop = e.is_err();
                    if tx.send(e).await.is_err() || stop {
                        // The client left (dropping the body cancels the owner's stream), or
                        // the stream broke.
                        return;
                    }
                }
            }
        });
        let events = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
        warp::sse::reply(events).into_response()
    } else {
        let mut collected = Vec::new();
        let mut body = body;
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(c) if collected.len() + c.len() <= MAX_COLLECTED => {
                    collected.extend_from_slice(&c)
                }
                Ok(_) => {
                    return error(&FleetError::Protocol(format!(
                        "the answer is larger than {MAX_COLLECTED} bytes"
                    )));
                }
                Err(e) => return error(&FleetError::Protocol(e.to_string())),
            }
        }
        Response::new(Bytes::from(collected).into())
    };
    *out.status_mut() = parts.status;
    for (name, value) in &parts.headers {
        if sse && (name == http::header::CONTENT_TYPE || name == http::header::CACHE_CONTROL) {
            continue;
        }
        out.headers_mut().append(name.clone(), value.clone());
    }
    out
}

/// An answer of another host, read whole (up to [`MAX_COLLECTED`]).
pub(super) async fn collect(mut body: BodyStream) -> Result<Vec<u8>, FleetError> {
    let mut out = Vec::new();
    while let Some(c) = body.next().await {
        let c = c.map_err(|e| FleetError::Protocol(e.to_string()))?;
        if out.len() + c.len() > MAX_COLLECTED {
            return Err(FleetError::Protocol(
                "an answer too large to collect".into(),
            ));
        }
        out.extend_from_slice(&c);
    }
    Ok(out)
}

/// A collected answer of `host` about one session, with `host` added when it is a successful
/// JSON object (the session as the fleet shows it); any other answer unchanged.
pub(super) fn with_host(parts: http::response::Parts, body: Vec<u8>, host: &str) -> Response {
    let body = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(mut session)) if parts.status.is_success() => {
            session.remove("host");
            let session = FleetSession {
                session,
                host: host.to_owned(),
            };
            // Keys in name order, as this answer has always been written.
            Bytes::from(crate::api::wire::to_value(&session).to_string())
        }
        _ => Bytes::from(body),
    };
    let mut out = Response::new(body.into());
    *out.status_mut() = parts.status;
    for (name, value) in &parts.headers {
        if name != http::header::CONTENT_LENGTH {
            out.headers_mut().append(name.clone(), value.clone());
        }
    }
    out
}

/// Forward `/sessions/:id[/...]` of a session that another host owns. Rejects (so the local
/// routes answer) when the session is local or unknown to the fleet.
pub fn forward_hook(
    fleet: Arc<Fleet>,
    principal: BoxedFilter<(String,)>,
) -> BoxedFilter<(Response,)> {
    let decide = warp::path("sessions")
        .and(warp::path::param::<String>())
        .and(warp::path::tail())
        .and(with_fleet(&fleet))
        .and(warp::ext::optional::<crate::fleet::Forwarded>())
        .and_then(
            |id: String,
             tail: warp::path::Tail,
             f: Arc<Fleet>,
             peer: Option<crate::fleet::Forwarded>| async move {
                // A peer sent it here because its directory says the session is ours: never
                // forward it on (a stale directory must not bounce a request around).
                if peer.is_some() || f.node.has_session(&id) {
                    return Err(warp::reject::not_found());
                }
                match f.directory.locate(&f, &id).await {
                    Ok(Some(loc)) if loc.entry.host != f.host_id() => {
                        Ok::<_, Rejection>((f, Ok((loc.entry.host, tail.as_str().to_string()))))
                    }
                    Ok(_) => Err(warp::reject::not_found()),
                    // Only a session id the fleet could not check: say why instead of a 404.
                    Err(e)
                        if uuid::Uuid::parse_str(&id).is_ok()
                            || matches!(e, FleetError::Ambiguous { .. }) =>
                    {
                        Ok((f, Err(e)))
                    }
                    Err(_) => Err(warp::reject::not_found()),
                }
            },
        )
        .untuple_one();
    decide
        .and(warp::method())
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and(warp::body::bytes())
        .and(principal)
        .then(
            |f: Arc<Fleet>,
             target: Result<(String, String), FleetError>,
             method: http::Method,
             path: warp::path::FullPath,
             query: String,
             headers: http::HeaderMap,
             body: Bytes,
             principal: String| async move {
                let (host, tail) = match target {
                    Ok(t) => t,
                    Err(e) => return error(&e),
                };
                let websocket = headers
                    .get(http::header::UPGRADE)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
                if websocket || tail == "stream" {
                    return elsewhere(&f, &host, path.as_str(), &query);
                }
                let one_session = method == http::Method::GET && tail.is_empty();
                let uri = if query.is_empty() {
                    path.as_str().to_string()
                } else {
                    format!("{}?{query}", path.as_str())
                };
                let mut builder = http::Request::builder().method(method).uri(uri);
                if let Some(h) = builder.headers_mut() {
                    *h = headers;
                }
                let request = match builder.body(body) {
                    Ok(r) => r,
                    Err(e) => return bad_request(e.to_string()),
                };
                match forward::forward(&f, &host, request, &principal).await {
                    // The session itself, as the fleet listing shows it: with its host.
                    Ok(r) if one_session => {
                        let (parts, body) = r.into_parts();
                        match collect(body).await {
                            Ok(body) => with_host(parts, body, &host),
                            Err(e) => error(&e),
                        }
                    }
                    Ok(r) => reply(r).await,
                    Err(e) => error(&e),
                }
            },
        )
        .boxed()
}

/// 421: this session's WebSocket must be opened on its own host.
fn elsewhere(fleet: &Fleet, host: &str, path: &str, query: &str) -> Response {
    let location = if query.is_empty() {
        fleet.hosts.websocket_url(host, path)
    } else {
        fleet.hosts.websocket_url(host, &format!("{path}?{query}"))
    };
    let message = format!(
        "this session lives on host {host}; WebSocket streams are not forwarded, connect to {}",
        location.as_deref().unwrap_or("that host's daemon")
    );
    let body = ErrorBody::elsewhere(&message, host, location.as_deref());
    let mut r = warp::reply::with_status(warp::reply::json(&body), StatusCode::MISDIRECTED_REQUEST)
        .into_response();
    if let Some(l) = location.and_then(|l| http::HeaderValue::from_str(&l).ok()) {
        r.headers_mut().insert(http::header::LOCATION, l);
    }
    r
}
