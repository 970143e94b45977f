//! Recording routes: `GET /v1/sessions/:id/recording` downloads the session's asciicast v2
//! file (the current one; older parts are rotated away by size, see `store::recording`), and
//! `GET /v1/sessions/:id/transcript?since=<offset>` returns the output recorded from an
//! offset on, as raw terminal text and as plain text without escape sequences.
//!
//! Transcripts are never destructive: the offset is the caller's. A client that prefers not to
//! keep it names itself with `?client=<name>` and the daemon remembers that client's cursor
//! (each client its own, so one reader never steals another's output). Cursors live in memory
//! and are bounded; a forgotten cursor starts again from the oldest recorded output.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use warp::http::StatusCode;
use warp::reply::Response;

use super::App;
use super::error::{ApiError, ErrorCode};
use super::reply::{ApiResult, json};
use super::route::{self, Table};

/// Most bytes one transcript response carries; the client continues from `next`.
const MAX_TRANSCRIPT_BYTES: usize = 1024 * 1024;

/// Remembered client cursors, across all sessions. Past this the map is cleared: a client
/// then restarts from the oldest output it can get, which repeats text but never loses it.
const MAX_CURSORS: usize = 10_000;

/// Longest accepted client name.
const MAX_CLIENT_LEN: usize = 128;

fn cursors() -> &'static Mutex<HashMap<(uuid::Uuid, String), u64>> {
    static CURSORS: OnceLock<Mutex<HashMap<(uuid::Uuid, String), u64>>> = OnceLock::new();
    CURSORS.get_or_init(Default::default)
}

/// `GET /v1/sessions/{id}/transcript`: the terminal output recorded since an offset.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "OutputTranscript")]
pub(crate) struct Transcript {
    id: String,
    /// Offset of the first byte returned; larger than the requested one when that output was
    /// rotated away.
    since: u64,
    /// The offset to ask for next.
    next: u64,
    /// Whether output between the requested offset and `since` is no longer available.
    truncated: bool,
    /// The output as the terminal received it (escape sequences included).
    raw: String,
    /// The same with escape sequences and carriage returns removed.
    text: String,
}

fn session_dir(app: &App, id: &str) -> Result<(uuid::Uuid, std::path::PathBuf), ApiError> {
    let h = app.sessions.get(id)?;
    let dir = crate::store::session_dir(&app.config.state_dir, &h.meta.id);
    if !dir.join(crate::store::recording::FILE).exists() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::RecordingNotFound,
            "this session has no recording (sessions run without holders are not recorded)",
        ));
    }
    Ok((h.meta.id, dir))
}

async fn recording(app: Arc<App>, id: String) -> ApiResult {
    let (sid, dir) = session_dir(&app, &id)?;
    let path = dir.join(crate::store::recording::FILE);
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| ApiError::internal(format!("reading the recording: {e}")))?;
    let mut resp = Response::new(bytes.into());
    let headers = resp.headers_mut();
    headers.insert(
        warp::http::header::CONTENT_TYPE,
        warp::http::HeaderValue::from_static("application/x-asciicast"),
    );
    if let Ok(v) =
        warp::http::HeaderValue::from_str(&format!("attachment; filename=\"{sid}.cast\""))
    {
        headers.insert(warp::http::header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// `GET /v1/sessions/{id}/transcript`'s query.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default)]
struct TranscriptQuery {
    /// A reader's name (1-128 characters): the daemon remembers where this reader stopped,
    /// and a call without `since` goes on from there.
    #[schemars(length(min = 1, max = MAX_CLIENT_LEN))]
    client: Option<String>,
    /// The output offset to read from (the `next` of the previous answer); default: where
    /// `client` stopped, else the start.
    #[schemars(with = "Option<u64>")]
    since: Option<String>,
}

async fn transcript(app: Arc<App>, id: String, q: TranscriptQuery) -> ApiResult {
    let (sid, dir) = session_dir(&app, &id)?;
    let client = q.client;
    if let Some(c) = &client
        && (c.is_empty() || c.len() > MAX_CLIENT_LEN)
    {
        return Err(ApiError::invalid(format!(
            "client must be 1-{MAX_CLIENT_LEN} characters"
        )));
    }
    let since = match q.since {
        Some(s) => s
            .parse::<u64>()
            .map_err(|_| ApiError::invalid("since must be a non-negative integer"))?,
        None => client
            .as_ref()
            .and_then(|c| {
                let map = cursors().lock().unwrap_or_else(|p| p.into_inner());
                map.get(&(sid, c.clone())).copied()
            })
            .unwrap_or(0),
    };
    let slice = tokio::task::spawn_blocking(move || {
        crate::store::recording::read_output(&dir, since, MAX_TRANSCRIPT_BYTES)
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
    .map_err(|e| ApiError::internal(format!("reading the recording: {e}")))?;
    if let Some(c) = client {
        let mut map = cursors().lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_CURSORS {
            map.clear();
        }
        map.insert((sid, c), slice.end);
    }
    let body = Transcript {
        id: sid.to_string(),
        since: slice.start,
        next: slice.end,
        truncated: slice.start > since,
        text: strip_escapes(&slice.text),
        raw: slice.text,
    };
    Ok(json(StatusCode::OK, &body))
}

/// Remove terminal escape sequences (CSI, OSC, two-byte ESC) and carriage returns.
pub fn strip_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\x1b' => match it.next() {
                Some('[') => {
                    // CSI: parameters and intermediates, then one final byte in @..~.
                    for c in it.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    // OSC: until BEL or ST (ESC \).
                    while let Some(c) = it.next() {
                        if c == '\x07' {
                            break;
                        }
                        if c == '\x1b' {
                            it.next();
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

pub fn routes(t: &mut Table) {
    t.on_one(route::get("/sessions/{id}/recording"), recording);
    t.on_one_query(
        route::get("/sessions/{id}/transcript").answers::<Transcript>(),
        transcript,
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_are_stripped() {
        assert_eq!(
            super::strip_escapes("\x1b[1;31mred\x1b[0m\r\n\x1b]0;title\x07ok"),
            "red\nok"
        );
    }
}
