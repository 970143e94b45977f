//! Who may call the API, and how often. Every route except `/v1/health` passes through
//! [`guard`], which authenticates (Bearer header, `?token=`, or the `aegis_token` cookie) and
//! then rate-limits by credential, or by client address when there is no valid credential
//! (so guessing tokens is rate-limited too).
//!
//! Tokens are compared as SHA-256 digests with a constant-time comparison, so neither the
//! token's content nor its length leaks through timing.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use warp::{Filter, Rejection};

use super::error::ApiError;
use crate::config::RateLimit;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// No token is configured (loopback-only daemon): everyone is trusted.
    Open,
    /// Presented the master token.
    Master,
    /// Presented a short-lived SSE token on an SSE route (see `api::events`).
    SseToken,
}

pub struct Gate {
    /// Short-lived tokens accepted on SSE routes only (issued by `POST /v1/auth/sse-token`).
    pub sse: super::events::SseTokens,
    token_digest: Option<[u8; 32]>,
    limiter: Option<DefaultKeyedRateLimiter<String>>,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Gate {
    pub fn new(token: Option<&str>, rate: Option<RateLimit>) -> Self {
        let limiter = rate.map(|r| {
            let per_second = NonZeroU32::new(r.per_second).unwrap_or(NonZeroU32::MIN);
            let burst = NonZeroU32::new(r.burst).unwrap_or(NonZeroU32::MIN);
            RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst))
        });
        Gate {
            sse: Default::default(),
            token_digest: token.map(digest),
            limiter,
        }
    }

    fn authenticate<'a>(&self, candidates: impl Iterator<Item = &'a str>) -> Option<Principal> {
        let Some(expected) = &self.token_digest else {
            return Some(Principal::Open);
        };
        // Check every candidate, so timing does not reveal which source held the token.
        let mut ok = subtle::Choice::from(0u8);
        for c in candidates {
            ok |= digest(c).ct_eq(expected);
        }
        bool::from(ok).then_some(Principal::Master)
    }

    /// Err(seconds to wait) when `key` is over its rate.
    fn check_rate(&self, key: &str) -> Result<(), u64> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter.check_key(&key.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }

    /// Forget rate-limit state of clients not seen recently (called periodically).
    pub fn sweep(&self) {
        if let Some(l) = &self.limiter {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

fn bearer(header: &Option<String>) -> Option<&str> {
    let h = header.as_deref()?.trim();
    let (scheme, token) = h.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn query_token(raw: &str) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(raw)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v)
}

/// Authenticate and rate-limit; extracts the caller.
pub fn guard(gate: Arc<Gate>) -> impl Filter<Extract = (Principal,), Error = Rejection> + Clone {
    warp::header::optional::<String>("authorization")
        .and(warp::cookie::optional::<String>("aegis_token"))
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::addr::remote())
        .and(warp::path::full())
        .and_then(
            move |auth: Option<String>,
                  cookie: Option<String>,
                  query: String,
                  remote: Option<SocketAddr>,
                  path: warp::path::FullPath| {
                let gate = gate.clone();
                async move {
                    let q = query_token(&query);
                    let candidates = bearer(&auth)
                        .into_iter()
                        .chain(q.as_deref())
                        .chain(cookie.as_deref());
                    let principal = gate.authenticate(candidates).or_else(|| {
                        let sse = q.as_deref().is_some_and(|t| {
                            super::events::is_sse_path(path.as_str()) && gate.sse.valid(t)
                        });
                        sse.then_some(Principal::SseToken)
                    });
                    let key = match (&principal, remote) {
                        (Some(Principal::Master), _) => "token:master".to_owned(),
                        (Some(Principal::SseToken), _) => "token:sse".to_owned(),
                        (_, Some(addr)) => format!("ip:{}", addr.ip()),
                        (_, None) => "ip:unknown".to_owned(),
                    };
                    gate.check_rate(&key).map_err(|secs| {
                        warp::reject::custom(ApiError::rate_limited(secs.max(1)))
                    })?;
                    principal.ok_or_else(|| warp::reject::custom(ApiError::unauthorized()))
                }
            },
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_from_every_source() {
        let gate = Gate::new(Some("s3cret"), None);
        assert_eq!(
            gate.authenticate(["nope", "s3cret"].into_iter()),
            Some(Principal::Master)
        );
        assert_eq!(gate.authenticate(["s3cre"].into_iter()), None);
        assert_eq!(gate.authenticate(std::iter::empty()), None);
        assert_eq!(
            Gate::new(None, None).authenticate(std::iter::empty()),
            Some(Principal::Open)
        );
        assert_eq!(bearer(&Some("Bearer abc".into())), Some("abc"));
        assert_eq!(bearer(&Some("Basic abc".into())), None);
        assert_eq!(query_token("lines=3&token=a%2Bb"), Some("a+b".into()));
    }

    #[test]
    fn rate_limit_reports_retry_after() {
        let gate = Gate::new(
            None,
            Some(RateLimit {
                per_second: 1,
                burst: 2,
            }),
        );
        assert!(gate.check_rate("k").is_ok());
        assert!(gate.check_rate("k").is_ok());
        assert!(gate.check_rate("k").is_err());
        assert!(gate.check_rate("other").is_ok());
    }
}
