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

use super::error::{ApiError, ErrorCode};
use crate::config::RateLimit;
use crate::store::keys::{KeyStore, Scope};

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// No token is configured (loopback-only daemon): everyone is trusted.
    Open,
    /// Presented the master token.
    Master,
    /// Presented an API key created through `/v1/auth/keys`; limited to its scopes.
    Key(crate::store::keys::KeyRecord),
    /// Presented a short-lived SSE token on an SSE route (see `api::events`); read-only.
    SseToken,
    /// A request a fleet peer forwarded over NATS: the peer that received it already
    /// authorized it with its own token and key scopes, and only fleet members may publish
    /// forwarded requests (NATS permissions). The marker is a request extension, which only
    /// the daemon's in-process fleet server attaches; nothing an HTTP client sends makes one.
    Peer(crate::fleet::Forwarded),
}

impl Principal {
    /// How the audit log and forwarded requests name this caller.
    pub fn name(&self) -> String {
        match self {
            Principal::Open => "open".into(),
            Principal::Master => "master".into(),
            Principal::Key(k) => format!("key:{}", k.name),
            Principal::SseToken => "sse-token".into(),
            Principal::Peer(f) => format!("{}@{}", f.principal, f.origin_host),
        }
    }

    fn allows(&self, needed: Scope) -> bool {
        match self {
            Principal::Open | Principal::Master | Principal::Peer(_) => true,
            Principal::Key(k) => k.allows(needed),
            Principal::SseToken => needed == Scope::SessionsRead,
        }
    }
}

/// The scope a request needs, from its method and path (with or without the `/v1` prefix):
/// key management is `admin`; answering permission prompts is `permissions:write`; every
/// other read is `sessions:read` and every other write `sessions:write`.
pub fn required_scope(method: &warp::http::Method, path: &str) -> Scope {
    let path = path.strip_prefix("/v1").unwrap_or(path);
    let read = matches!(*method, warp::http::Method::GET | warp::http::Method::HEAD);
    if path.starts_with("/auth/keys") {
        Scope::Admin
    } else if read || path == "/auth/cookie" {
        // Storing or clearing the caller's own credential in a cookie changes no daemon state,
        // so read-only keys and `--read-only` daemons allow it (see `api::dashboard`).
        Scope::SessionsRead
    } else if ["/approve", "/reject", "/permission"]
        .iter()
        .any(|p| path.contains(p))
    {
        Scope::PermissionsWrite
    } else {
        Scope::SessionsWrite
    }
}

pub struct Gate {
    /// Short-lived tokens accepted on SSE routes only (issued by `POST /v1/auth/sse-token`).
    pub sse: super::sse_tokens::SseTokens,
    token_digest: Option<[u8; 32]>,
    limiter: Option<DefaultKeyedRateLimiter<String>>,
    /// API keys; set once at start-up (see [`Gate::use_keys`]).
    keys: std::sync::OnceLock<Arc<KeyStore>>,
    /// `--read-only`: every write is refused with 403.
    read_only: std::sync::atomic::AtomicBool,
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
            keys: std::sync::OnceLock::new(),
            read_only: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Accept API keys from `keys` from now on. Once any key exists, callers must
    /// authenticate even on an open (tokenless) loopback daemon, or scopes would mean nothing.
    pub fn use_keys(&self, keys: Arc<KeyStore>) {
        let _ = self.keys.set(keys);
    }

    /// The key store, once set.
    pub fn keys(&self) -> Option<&Arc<KeyStore>> {
        self.keys.get()
    }

    pub fn set_read_only(&self, on: bool) {
        self.read_only
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Authenticate, then check `--read-only` and the scope the request needs.
    fn admit<'a>(
        &self,
        candidates: impl Iterator<Item = &'a str> + Clone,
        method: &warp::http::Method,
        path: &str,
    ) -> Result<Principal, ApiError> {
        let principal = self.authenticate(candidates.clone());
        let keyed = self
            .keys
            .get()
            .and_then(|ks| candidates.clone().find_map(|c| ks.lookup(c)));
        let principal = match (principal, keyed) {
            (Some(Principal::Master), _) => Principal::Master,
            (_, Some(k)) => Principal::Key(k),
            (Some(Principal::Open), None) if self.keys.get().is_none_or(|ks| ks.is_empty()) => {
                Principal::Open
            }
            _ => return Err(ApiError::unauthorized()),
        };
        self.refuse_if_read_only(method, path)?;
        let needed = required_scope(method, path);
        if !principal.allows(needed) {
            return Err(ApiError::new(
                warp::http::StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
                format!("this API key lacks the {} scope", needed.as_str()),
            ));
        }
        Ok(principal)
    }

    /// `--read-only`: any write is refused with 403.
    fn refuse_if_read_only(&self, method: &warp::http::Method, path: &str) -> Result<(), ApiError> {
        if self.read_only.load(std::sync::atomic::Ordering::Relaxed)
            && required_scope(method, path) != Scope::SessionsRead
            && !matches!(*method, warp::http::Method::GET | warp::http::Method::HEAD)
        {
            return Err(ApiError::new(
                warp::http::StatusCode::FORBIDDEN,
                ErrorCode::ReadOnly,
                "the daemon runs in read-only mode; writes are refused",
            ));
        }
        Ok(())
    }

    /// Whether `token` alone is a credential the guard accepts (the master token, or an API
    /// key), compared in constant time like every credential. `api::dashboard` checks the one
    /// token it is asked to store in the cookie with this.
    pub fn admits(&self, token: &str) -> bool {
        self.admit(
            std::iter::once(token),
            &warp::http::Method::POST,
            "/auth/cookie",
        )
        .is_ok()
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

pub(super) fn bearer(header: &Option<String>) -> Option<&str> {
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
    warp::ext::optional::<crate::fleet::Forwarded>()
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::cookie::optional::<String>("aegis_token"))
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::addr::remote())
        .and(warp::method())
        .and(warp::path::full())
        .and_then(
            move |peer: Option<crate::fleet::Forwarded>,
                  auth: Option<String>,
                  cookie: Option<String>,
                  query: String,
                  remote: Option<SocketAddr>,
                  method: warp::http::Method,
                  path: warp::path::FullPath| {
                let gate = gate.clone();
                async move {
                    if let Some(peer) = peer {
                        // Authorized and rate-limited by the peer that received it; this
                        // daemon's `--read-only` still holds.
                        gate.refuse_if_read_only(&method, path.as_str())
                            .map_err(warp::reject::custom)?;
                        return Ok(Principal::Peer(peer));
                    }
                    let q = query_token(&query);
                    let candidates = bearer(&auth)
                        .into_iter()
                        .chain(q.as_deref())
                        .chain(cookie.as_deref());
                    // An SSE token counts only on SSE routes, and only when nothing better was
                    // presented (EventSource cannot send headers, so it comes as `?token=`).
                    let principal = gate.admit(candidates, &method, path.as_str()).or_else(|e| {
                        let sse = q.as_deref().is_some_and(|t| {
                            super::sse_tokens::is_sse_path(path.as_str()) && gate.sse.valid(t)
                        });
                        if sse { Ok(Principal::SseToken) } else { Err(e) }
                    });
                    let key = match (&principal, remote) {
                        (Ok(Principal::Master), _) => "token:master".to_owned(),
                        (Ok(Principal::SseToken), _) => "token:sse".to_owned(),
                        (Ok(Principal::Key(k)), _) => format!("key:{}", k.id),
                        (Ok(Principal::Peer(p)), _) => format!("peer:{}", p.origin_host),
                        (_, Some(addr)) => format!("ip:{}", addr.ip()),
                        (_, None) => "ip:unknown".to_owned(),
                    };
                    gate.check_rate(&key).map_err(|secs| {
                        warp::reject::custom(ApiError::rate_limited(secs.max(1)))
                    })?;
                    principal.map_err(warp::reject::custom)
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
