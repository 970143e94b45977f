//! The live terminal over WebSocket: `GET /v1/sessions/:id/stream[?readonly=1]`.
//!
//! Protocol (every frame is a JSON text frame):
//! - Server → client, in this order on connect: one `{"type":"snapshot","data","cols","rows",
//!   "status"}` whose `data` redraws the whole screen, then any mix of
//!   `{"type":"tty_data","data"}` (the session's raw output, in order, UTF-8 sequences never
//!   split across frames), `{"type":"json_event","event"}` (this session's bus events, as on its
//!   SSE stream), `{"type":"ping","ts"}` every 15 s, `{"type":"resync","reason","data",..}` (a fresh
//!   snapshot replacing everything before it, after the client fell behind) and
//!   `{"type":"error","message"}` for a client frame that was refused.
//! - Client → server: `{"type":"input","data"}` (bytes to type), `{"type":"keys","keys":[..]}`
//!   (tmux key names), `{"type":"resize","cols","rows"}`. They go through the session's one
//!   ordered input queue, the same as REST. A read-only connection refuses all three; unknown
//!   or malformed frames get an `error` frame and change nothing. `pong` frames are ignored.
//!
//! Backpressure: output reaches this connection through the session's bounded broadcast, so
//! the session never waits for it. A connection that falls behind gets `resync`; one whose
//! socket does not accept a frame for `SEND_STALL` is closed with reason `slow consumer`.
//! Per connection, memory is bounded by the broadcast buffer and one frame.
//!
//! When the session exits, the rest of its output and its last events are sent, then a Close
//! with reason `session ended`.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::sync::{broadcast, mpsc};
use warp::filters::ws::{Message, WebSocket};
use warp::{Filter, Reply};

use super::App;
use super::error::{ApiError, ErrorCode};
use super::event_wire::{Scope, event_json};
use super::filters::{query, with_app};
use super::reply::ApiResult;
use super::reply::finish;
use super::route::{self, Table};
use crate::session::SessionHandle;
use crate::session::validate;

use crate::utf8::Utf8Carry;

/// JSON ping interval, matching the SSE heartbeat.
const PING_EVERY: Duration = super::events::HEARTBEAT;
/// Longest a single frame may wait for the client's socket before the client counts as stalled
/// and is dropped. Generous: a human's browser tab in the background still drains in time.
const SEND_STALL: Duration = Duration::from_secs(10);
/// Largest client frame; input is keystrokes and pastes, never megabytes.
const MAX_CLIENT_FRAME: usize = 1024 * 1024;
/// Error replies waiting for the writer. A client flooding bad frames loses some replies.
const REPLY_QUEUE: usize = 16;

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientFrame {
    Input { data: String },
    Keys { keys: Vec<String> },
    Resize { cols: u16, rows: u16 },
    Pong,
    Ping,
}

/// The WebSocket's query.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(default)]
struct StreamQuery {
    /// `1` (or `true`, or the bare name) to watch without typing: input frames are
    /// refused. Default `0`.
    #[schemars(schema_with = "crate::api::schemas::readonly")]
    readonly: Option<String>,
}

async fn upgrade(app: Arc<App>, id: String, q: StreamQuery, ws: warp::ws::Ws) -> ApiResult {
    let h = app.sessions.get(&id)?;
    let readonly = match q.readonly.as_deref() {
        None | Some("0") | Some("false") => false,
        Some("1") | Some("true") | Some("") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "readonly must be 1 or 0, not {other:?}"
            )));
        }
    };
    let tracker = app.tasks.clone();
    Ok(ws
        .max_message_size(MAX_CLIENT_FRAME)
        .on_upgrade(move |socket| tracker.track_future(serve(app, h, readonly, socket)))
        .into_response())
}

fn frame(v: serde_json::Value) -> Message {
    Message::text(v.to_string())
}

async fn snapshot_frame(
    h: &SessionHandle,
    kind: &str,
    reason: Option<&str>,
) -> Option<(Message, broadcast::Receiver<Arc<[u8]>>)> {
    let (redraw, rx) = h.subscribe().await.ok()?;
    let live = h.live();
    let mut v = serde_json::json!({
        "type": kind,
        "data": String::from_utf8_lossy(&redraw),
        "cols": live.cols,
        "rows": live.rows,
        "status": live.status.as_str(),
    });
    if let Some(r) = reason {
        v["reason"] = r.into();
    }
    Some((frame(v), rx))
}

type Sink = futures_util::stream::SplitSink<WebSocket, Message>;

/// Send one frame, giving up after `SEND_STALL`.
async fn send_frame(tx: &mut Sink, m: Message) -> Result<(), End> {
    match tokio::time::timeout(SEND_STALL, tx.send(m)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(End::ClientGone),
        Err(_) => Err(End::Stalled),
    }
}

/// Why a connection ended, sent as the Close reason.
enum End {
    ClientGone,
    SessionGone,
    Stalled,
    Shutdown,
}

async fn serve(app: Arc<App>, h: SessionHandle, readonly: bool, socket: WebSocket) {
    let (mut tx, mut rx) = socket.split();
    // Subscribe to events before taking the snapshot, so no state change falls in between.
    let mut events = app.sessions.bus.subscribe();
    let Some((first, mut output)) = snapshot_frame(&h, "snapshot", None).await else {
        let _ = tx
            .send(Message::close_with(1011u16, "session is gone"))
            .await;
        return;
    };
    if send_frame(&mut tx, first).await.is_err() {
        return;
    }

    // Client frames are handled in their own task: typing waits for the pty, and output must
    // keep flowing meanwhile. Replies (errors) come back through a small bounded queue.
    let (reply_tx, mut replies) = mpsc::channel::<Message>(REPLY_QUEUE);
    let reader_handle = h.clone();
    let reader = tokio::spawn(async move {
        while let Some(Ok(msg)) = rx.next().await {
            if msg.is_close() {
                break;
            }
            let Ok(text) = msg.to_str() else { continue };
            if let Some(err) = client_frame(&reader_handle, readonly, text).await {
                let _ =
                    reply_tx.try_send(frame(serde_json::json!({"type": "error", "message": err})));
            }
        }
    });

    let mut utf8 = Utf8Carry::default();
    let mut live = h.watch();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let end = loop {
        let msg = tokio::select! {
            _ = app.shutdown.cancelled() => break End::Shutdown,
            // The actor publishes `exited` only after the last output went to the broadcast,
            // so draining it now delivers the final screen before the Close.
            _ = async { let _ = live.wait_for(|s| s.status == crate::vocab::SessionStatus::Exited).await; } => {
                loop {
                    let m = match output.try_recv() {
                        Ok(bytes) => frame(serde_json::json!({"type": "tty_data", "data": utf8.push(&bytes)})),
                        // A client that lagged gets the final screen instead of a silent gap.
                        Err(broadcast::error::TryRecvError::Lagged(_)) => match snapshot_frame(&h, "resync", Some("lagged")).await {
                            Some((m, _)) => {
                                let _ = send_frame(&mut tx, m).await;
                                break;
                            }
                            None => break,
                        },
                        Err(_) => break,
                    };
                    if send_frame(&mut tx, m).await.is_err() {
                        break;
                    }
                }
                while let Ok(e) = events.try_recv() {
                    if e.session_id == h.meta.id {
                        let _ = send_frame(&mut tx, frame(serde_json::json!({"type": "json_event", "event": event_json(&e, Scope::Session)}))).await;
                    }
                }
                break End::SessionGone;
            }
            chunk = output.recv() => match chunk {
                Ok(bytes) => frame(serde_json::json!({"type": "tty_data", "data": utf8.push(&bytes)})),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    crate::metrics::global().subscriber_lag("websocket");
                    tracing::debug!(session = %h.meta.id, missed = n, "websocket client lagged; resyncing");
                    utf8 = Utf8Carry::default();
                    match snapshot_frame(&h, "resync", Some("lagged")).await {
                        Some((m, rx)) => { output = rx; m }
                        None => break End::SessionGone,
                    }
                }
                Err(broadcast::error::RecvError::Closed) => break End::SessionGone,
            },
            ev = events.recv() => match ev {
                Ok(e) if e.session_id == h.meta.id => frame(serde_json::json!({"type": "json_event", "event": event_json(&e, Scope::Session)})),
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => break End::SessionGone,
            },
            reply = replies.recv() => match reply {
                Some(m) => m,
                None => break End::ClientGone,
            },
            _ = ping.tick() => frame(serde_json::json!({"type": "ping", "ts": crate::clock::now_ms()})),
        };
        if let Err(e) = send_frame(&mut tx, msg).await {
            break e;
        }
    };
    reader.abort();
    let (code, reason) = match end {
        End::ClientGone => return,
        End::SessionGone => (1000u16, "session ended"),
        End::Stalled => {
            tracing::warn!(session = %h.meta.id, "websocket client stopped reading; dropped");
            (1008u16, "slow consumer")
        }
        End::Shutdown => (1001u16, "shutdown"),
    };
    // Best effort: a stalled client may not take even this.
    let _ = tokio::time::timeout(
        Duration::from_secs(1),
        tx.send(Message::close_with(code, reason)),
    )
    .await;
}

/// Apply one client frame; `Some(message)` when it was refused.
async fn client_frame(h: &SessionHandle, readonly: bool, text: &str) -> Option<String> {
    let parsed: ClientFrame = match serde_json::from_str(text) {
        Ok(f) => f,
        Err(e) => return Some(format!("invalid frame: {e}")),
    };
    let writes = matches!(
        parsed,
        ClientFrame::Input { .. } | ClientFrame::Keys { .. } | ClientFrame::Resize { .. }
    );
    if readonly && writes {
        return Some("this connection is read-only".into());
    }
    let result = match parsed {
        ClientFrame::Input { data } if data.is_empty() => return None,
        ClientFrame::Input { data } => h.send_bytes(data.into_bytes()).await,
        ClientFrame::Keys { keys } if keys.is_empty() || keys.iter().any(String::is_empty) => {
            return Some("keys must be a non-empty list of non-empty key names".into());
        }
        ClientFrame::Keys { keys } => h.send_keys(&keys).await,
        ClientFrame::Resize { cols, rows } => {
            if let Err(e) = validate::size(cols, rows) {
                return Some(e.to_string());
            }
            h.resize(cols, rows).await
        }
        ClientFrame::Pong | ClientFrame::Ping => return None,
    };
    result.err().map(|e| e.to_string())
}

/// Refuse a plain GET (no `Connection: upgrade`) with 426 in the error format. warp's own
/// check rejects with a crate-private type that the rejection handler cannot name, which
/// surfaced as a 500 (found by the schemathesis contract run).
fn upgrade_requested() -> impl Filter<Extract = (), Error = warp::Rejection> + Clone {
    warp::header::optional::<String>("connection")
        .and_then(|c: Option<String>| async move {
            let upgrade = c.is_some_and(|c| {
                c.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
            });
            if upgrade {
                Ok(())
            } else {
                Err(warp::reject::custom(super::error::ApiError::new(
                    warp::http::StatusCode::UPGRADE_REQUIRED,
                    ErrorCode::UpgradeRequired,
                    "this route is a WebSocket: send Connection: Upgrade and Upgrade: websocket",
                )))
            }
        })
        .untuple_one()
}

/// The WebSocket route (the caller adds `/v1` and auth).
pub fn routes(t: &mut Table) {
    t.route(
        route::get("/sessions/{id}/stream").query::<StreamQuery>(),
        |p, app| {
            p.one()
                .and(with_app(app))
                .and(query::<StreamQuery>())
                .and(upgrade_requested())
                .and(warp::ws())
                .then(|id, a, q, ws| async { finish(upgrade(a, id, q, ws).await) })
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_is_never_split() {
        let mut c = Utf8Carry::default();
        let bytes = "aé🙂".as_bytes();
        let mut out = String::new();
        for b in bytes {
            out.push_str(&c.push(std::slice::from_ref(b)));
        }
        assert_eq!(out, "aé🙂");
        assert_eq!(c.push(b"\xffok"), "\u{FFFD}ok");
    }
}
