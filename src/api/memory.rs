//! Memory bridge routes: `POST /v1/memory` `{key, value, ttlMs?}` (or `ttlSeconds`, as Aegis
//! v0.3), `GET /v1/memory?prefix=`, `GET/DELETE /v1/memory/:key` (keys may contain `/`), and
//! session-scoped entries `POST/GET /v1/sessions/:id/memories`, stored under the key
//! `session/<id>/<key>`. Storage, limits and expiry live in `store::memory`.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::http::StatusCode;

use super::App;
use super::error::{ApiError, ErrorCode};
use super::filters::{json_body, query, with_app};
use super::reply::finish;
use super::reply::{ApiResult, json};
use super::route::{self, Table};
use crate::store::memory::{Entry, MemoryError};

/// `POST /v1/memory` and `POST /v1/sessions/{id}/memories` body.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(rename = "MemorySetRequest")]
pub struct SetRequest {
    pub key: String,
    pub value: String,
    /// Forget the entry after this long (give this or ttlSeconds; default: keep it).
    pub ttl_ms: Option<u64>,
    /// The same in seconds (Aegis v0.3's name).
    pub ttl_seconds: Option<u64>,
}

/// A memory entry. Under a session's memories, `key` is without the session's prefix.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "MemoryEntry")]
pub(crate) struct EntryWire {
    key: String,
    value: String,
    /// Epoch milliseconds.
    created_at: u64,
    /// Epoch milliseconds.
    updated_at: u64,
    /// Epoch milliseconds after which the entry no longer exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<u64>,
}

impl EntryWire {
    fn of(e: Entry, strip: usize) -> Self {
        EntryWire {
            key: e.key.get(strip..).unwrap_or_default().to_owned(),
            value: e.value,
            created_at: e.created_at,
            updated_at: e.updated_at,
            expires_at: e.expires_at,
        }
    }
}

/// `GET /v1/memory` and `GET /v1/sessions/{id}/memories`.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "MemoryList")]
pub(crate) struct EntryList {
    entries: Vec<EntryWire>,
    total: usize,
}

impl From<MemoryError> for ApiError {
    fn from(e: MemoryError) -> Self {
        let msg = e.to_string();
        match e {
            MemoryError::Invalid(_) => ApiError::invalid(msg),
            MemoryError::Full => {
                ApiError::new(StatusCode::INSUFFICIENT_STORAGE, ErrorCode::MemoryFull, msg)
            }
            MemoryError::ReadOnly(_) => {
                ApiError::new(StatusCode::CONFLICT, ErrorCode::MemoryReadOnly, msg)
            }
            MemoryError::Io(_) => ApiError::internal(msg),
        }
    }
}

fn ttl(req: &SetRequest) -> Result<Option<u64>, ApiError> {
    match (req.ttl_ms, req.ttl_seconds) {
        (Some(_), Some(_)) => Err(ApiError::invalid("give ttlMs or ttlSeconds, not both")),
        (Some(ms), None) => Ok(Some(ms)),
        (None, Some(s)) => Ok(Some(s.saturating_mul(1000))),
        (None, None) => Ok(None),
    }
}

fn set(app: &App, key: &str, req: &SetRequest, strip: usize) -> ApiResult {
    let ttl = ttl(req)?;
    let e = app.memory.set(key, req.value.clone(), ttl)?;
    Ok(json(StatusCode::CREATED, &EntryWire::of(e, strip)))
}

fn list(app: &App, prefix: &str, strip: usize) -> ApiResult {
    let entries: Vec<EntryWire> = app
        .memory
        .list(prefix)
        .into_iter()
        .map(|e| EntryWire::of(e, strip))
        .collect();
    Ok(json(
        StatusCode::OK,
        &EntryList {
            total: entries.len(),
            entries,
        },
    ))
}

fn not_found(key: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::MemoryNotFound,
        format!("no memory entry {key:?}"),
    )
}

fn decode_key(tail: &str) -> Result<String, ApiError> {
    percent_decode(tail).ok_or_else(|| ApiError::invalid("key is not valid percent-encoded UTF-8"))
}

/// Decode `%XX` escapes in a path segment.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn session_prefix(app: &App, id: &str) -> Result<String, ApiError> {
    let h = app.sessions.get(id)?;
    Ok(format!("session/{}/", h.meta.id))
}

/// `GET /memory/{key}`: `raw` is the key as the path carries it, percent-encoded.
fn get_entry(app: &App, raw: &str) -> ApiResult {
    let key = decode_key(raw)?;
    let e = app.memory.get(&key).ok_or_else(|| not_found(&key))?;
    Ok(json(StatusCode::OK, &EntryWire::of(e, 0)))
}

/// `DELETE /memory/{key}`.
fn delete_entry(app: &App, raw: &str) -> ApiResult {
    let key = decode_key(raw)?;
    if !app.memory.delete(&key)? {
        return Err(not_found(&key));
    }
    Ok(json(StatusCode::OK, &super::wire::OK))
}

/// `GET /v1/memory`'s query.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default)]
struct ListQuery {
    /// Only the keys that start with this (default: every key).
    prefix: Option<String>,
}

pub fn routes(t: &mut Table) {
    t.route(
        route::post("/memory")
            .body::<SetRequest>()
            .creates::<EntryWire>(),
        |p, app| {
            p.none()
                .and(with_app(app))
                .and(json_body(app.config.max_body_bytes))
                .then(|a: Arc<App>, r: SetRequest| async move { finish(set(&a, &r.key, &r, 0)) })
        },
    );
    let listing = route::get("/memory")
        .answers::<EntryList>()
        .query::<ListQuery>();
    t.route(listing, |p, app| {
        p.none().and(with_app(app)).and(query::<ListQuery>()).then(
            |a: Arc<App>, q: ListQuery| async move {
                finish(list(&a, q.prefix.as_deref().unwrap_or_default(), 0))
            },
        )
    });
    t.route(
        route::get("/memory/{key}").answers::<EntryWire>(),
        |p, app| {
            p.rest()
                .and(with_app(app))
                .then(|key: String, a: Arc<App>| async move { finish(get_entry(&a, &key)) })
        },
    );
    t.route(
        route::delete("/memory/{key}").answers::<super::wire::Ok>(),
        |p, app| {
            p.rest()
                .and(with_app(app))
                .then(|key: String, a: Arc<App>| async move { finish(delete_entry(&a, &key)) })
        },
    );
    t.route(
        route::post("/sessions/{id}/memories")
            .body::<SetRequest>()
            .creates::<EntryWire>(),
        |p, app| {
            p.one()
                .and(with_app(app))
                .and(json_body(app.config.max_body_bytes))
                .then(|id: String, a: Arc<App>, r: SetRequest| async move {
                    finish(
                        session_prefix(&a, &id)
                            .and_then(|p| set(&a, &format!("{p}{}", r.key), &r, p.len())),
                    )
                })
        },
    );
    t.route(
        route::get("/sessions/{id}/memories").answers::<EntryList>(),
        |p, app| {
            p.one()
                .and(with_app(app))
                .then(|id: String, a: Arc<App>| async move {
                    finish(session_prefix(&a, &id).and_then(|p| list(&a, &p, p.len())))
                })
        },
    );
}
