//! SSE tokens: `POST /v1/auth/sse-token {ttlSeconds?}` issues a short-lived token valid
//! only on the SSE routes ([`is_sse_path`]), passed as `?token=` by clients that cannot set
//! headers (a browser's EventSource). The guard (`super::guard`) accepts one there in place of
//! the bearer token. Tokens are kept as SHA-256 digests with their expiry, bounded in number.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use warp::Filter;
use warp::http::StatusCode;

use super::App;
use super::error::{ApiError, ErrorCode};
use super::filters::{optional_json_body, with_app};
use super::reply::{ApiResult, finish, json};
use super::route::{self, Table};

/// Default life of an SSE token: long enough to open (and reconnect) an EventSource, short
/// enough that a leaked URL is soon worthless.
const SSE_TOKEN_TTL: Duration = Duration::from_secs(60);
/// Longest life a client may ask for.
const SSE_TOKEN_MAX_TTL: Duration = Duration::from_secs(600);
/// Largest `POST /v1/auth/sse-token` body: it holds one number, so anything near this is not
/// a token request.
const SSE_TOKEN_BODY_LIMIT: u64 = 4096;
/// Live SSE tokens at once; issuing beyond this first drops expired ones, then refuses.
const MAX_SSE_TOKENS: usize = 10_000;

/// Short-lived tokens that authenticate SSE routes only. Stored as SHA-256 digests.
#[derive(Default)]
pub struct SseTokens {
    live: Mutex<HashMap<[u8; 32], Instant>>,
}

impl SseTokens {
    /// Issue a token valid for `ttl`. `None` when too many are live.
    pub fn issue(&self, ttl: Duration) -> Option<String> {
        let token = format!(
            "sse_{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        if live.len() >= MAX_SSE_TOKENS {
            let now = Instant::now();
            live.retain(|_, exp| *exp > now);
            if live.len() >= MAX_SSE_TOKENS {
                return None;
            }
        }
        live.insert(
            Sha256::digest(token.as_bytes()).into(),
            Instant::now() + ttl,
        );
        Some(token)
    }

    /// Whether `token` is a live SSE token. The lookup is by digest, so timing reveals nothing
    /// about the token's content.
    pub fn valid(&self, token: &str) -> bool {
        let d: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        match live.get(&d) {
            Some(exp) if *exp > Instant::now() => true,
            Some(_) => {
                live.remove(&d);
                false
            }
            None => false,
        }
    }
}

/// Whether a request path is an SSE route, where SSE tokens are accepted.
pub fn is_sse_path(path: &str) -> bool {
    let p = path.strip_prefix("/v1").unwrap_or(path);
    p == "/events"
        || (p.starts_with("/sessions/") && p.ends_with("/events"))
        || (p.starts_with("/executions/") && p.ends_with("/stream"))
}

/// `POST /v1/auth/sse-token` body (optional).
#[derive(Debug, Deserialize, Default, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SseTokenRequest {
    /// How long the token lives (default 60 seconds).
    pub ttl_seconds: Option<u64>,
}

/// A short-lived token for an SSE stream (`?token=`), for clients that cannot set headers.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SseToken {
    token: String,
    /// Seconds the token lives.
    expires_in: u64,
    /// Epoch milliseconds.
    expires_at: u64,
    /// What the token opens: sse.
    scope: &'static str,
}

async fn issue_token(app: Arc<App>, req: SseTokenRequest) -> ApiResult {
    let ttl = match req.ttl_seconds {
        None => SSE_TOKEN_TTL,
        Some(s) if (1..=SSE_TOKEN_MAX_TTL.as_secs()).contains(&s) => Duration::from_secs(s),
        Some(_) => {
            return Err(ApiError::invalid(format!(
                "ttlSeconds must be 1..={}",
                SSE_TOKEN_MAX_TTL.as_secs()
            )));
        }
    };
    let token = app.gate.sse.issue(ttl).ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::TooManyTokens,
            "too many live SSE tokens; retry later",
        )
    })?;
    Ok(json(
        StatusCode::CREATED,
        &SseToken {
            token,
            expires_in: ttl.as_secs(),
            expires_at: crate::clock::now_ms() + ttl.as_millis() as u64,
            scope: "sse",
        },
    ))
}

/// The token route (the caller adds `/v1` and auth).
pub fn routes(t: &mut Table) {
    t.route(
        route::post("/auth/sse-token")
            .optional_body::<SseTokenRequest>()
            .creates::<SseToken>(),
        |p, app| {
            p.none()
                .and(with_app(app))
                .and(optional_json_body::<SseTokenRequest>(SSE_TOKEN_BODY_LIMIT))
                .then(|a, r| async { finish(issue_token(a, r).await) })
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_paths() {
        assert!(is_sse_path("/v1/events"));
        assert!(is_sse_path("/v1/sessions/abc/events"));
        assert!(is_sse_path("/v1/executions/x/stream"));
        assert!(!is_sse_path("/v1/sessions/abc"));
        assert!(!is_sse_path("/v1/sessions/abc/stream"));
    }

    #[test]
    fn tokens_expire() {
        let t = SseTokens::default();
        let tok = t.issue(Duration::from_millis(0)).expect("token");
        assert!(!t.valid(&tok));
        let tok = t.issue(Duration::from_secs(60)).expect("token");
        assert!(t.valid(&tok));
        assert!(!t.valid("sse_nope"));
    }
}
