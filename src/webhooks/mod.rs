//! Webhooks: Aegis talking to other systems over HTTP.
//!
//! - This module: **outbound** deliveries. Endpoints come from the config file or
//!   `POST /v1/webhooks`. A dispatcher task follows the event bus; for each event and each
//!   endpoint whose filter matches, one delivery task POSTs the event JSON (the shape of the
//!   global SSE stream, v0.3's `event`/`data` included, shaped by the API layer and handed in) with `X-Aegis-Event: <type>`,
//!   `X-Aegis-Delivery: <uuid>` (the idempotency id, equal across retries) and, when the
//!   endpoint has a secret,
//!   `X-Aegis-Signature: sha256=<hex HMAC-SHA256(secret, body)>`. Failures are retried with
//!   exponential backoff and full jitter; a delivery that runs out of attempts (or gets a 4xx
//!   other than 408/429) lands in the bounded dead-letter queue, from which one can be retried.
//! - [`inbound`]: `POST /v1/webhooks/{source}` and `POST /v1/stimuli`, verified and deduped,
//!   routed by config rules.
//! - [`config`]: the config-file section. The HTTP routes are `api::webhooks`.
//!
//! Trust boundary: receiver URLs are http(s) only and redirects are never followed, so a
//! webhook cannot be bounced to another host. Secrets are never returned by the API.

pub mod config;
pub mod inbound;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tokio::sync::{Semaphore, broadcast};
use tokio_util::sync::CancellationToken;

use crate::clock::now_ms;
use crate::events::{Event, EventBus, EventKind};

/// Attempts per delivery unless the endpoint says otherwise.
const DEFAULT_ATTEMPTS: u32 = 5;
/// First retry delay unless the endpoint says otherwise; doubles per attempt.
const DEFAULT_BACKOFF: Duration = Duration::from_millis(500);
/// Ceiling for one backoff step, so a long outage is still probed twice a minute.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Per-request timeout: a receiver must answer quickly; slow work belongs after its 2xx.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Deliveries in flight (including those waiting to retry). Beyond this, new deliveries go
/// straight to the dead-letter queue instead of piling up tasks and memory.
const MAX_IN_FLIGHT: usize = 1024;
/// Dead letters kept; the oldest is dropped when full.
const MAX_DEAD_LETTERS: usize = 1000;
/// Endpoints that may be registered.
const MAX_ENDPOINTS: usize = 100;

/// Check a receiver URL: absolute http(s).
pub fn validate_url(url: &str) -> Result<reqwest::Url, String> {
    let u = reqwest::Url::parse(url).map_err(|e| format!("invalid url {url:?}: {e}"))?;
    if !matches!(u.scheme(), "http" | "https") || u.host().is_none() {
        return Err(format!("url must be http(s) with a host: {url:?}"));
    }
    Ok(u)
}

/// `sha256=<hex>` of HMAC-SHA256(secret, body).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// One registered receiver.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: String,
    pub url: reqwest::Url,
    /// Empty: every event.
    pub events: Vec<EventKind>,
    pub secret: Option<String>,
    pub max_attempts: u32,
    pub backoff: Duration,
    pub created_at_ms: u64,
}

impl Endpoint {
    fn wants(&self, kind: EventKind) -> bool {
        self.events.is_empty() || self.events.contains(&kind)
    }
}

/// A delivery that ran out of attempts.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub id: String,
    pub webhook_id: String,
    pub url: String,
    /// The event type.
    pub event: &'static str,
    pub delivery_id: String,
    pub attempts: u32,
    pub last_error: String,
    /// Epoch milliseconds.
    pub failed_at: u64,
    /// The body that was to be delivered.
    pub body: serde_json::Value,
}

/// What a channel last did, for `GET /v1/channels/health`.
#[derive(Debug, Clone, Default)]
pub struct ChannelHealth {
    pub delivered: u64,
    pub failed_attempts: u64,
    pub dead_lettered: u64,
    /// Epoch milliseconds.
    pub last_success_at: Option<u64>,
    /// Epoch milliseconds.
    pub last_failure_at: Option<u64>,
    pub last_error: Option<String>,
}

#[derive(Default)]
struct State {
    endpoints: Vec<Endpoint>,
    dead: VecDeque<DeadLetter>,
    health: HashMap<String, ChannelHealth>,
}

pub struct Webhooks {
    state: Mutex<State>,
    client: reqwest::Client,
    in_flight: Arc<Semaphore>,
}

/// A delivery's payload, fixed across its retries.
struct Delivery {
    endpoint: Endpoint,
    kind: &'static str,
    delivery_id: String,
    body: serde_json::Value,
}

impl Webhooks {
    pub fn new(configured: &[config::WebhookConfig]) -> anyhow::Result<Arc<Webhooks>> {
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("aegis/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let hooks = Arc::new(Webhooks {
            state: Mutex::default(),
            client,
            in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        });
        for c in configured {
            hooks
                .add(
                    &c.url,
                    &c.events,
                    c.secret.clone(),
                    c.max_attempts,
                    c.backoff_ms,
                )
                .map_err(anyhow::Error::msg)?;
        }
        Ok(hooks)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Sections under this lock do not panic; a poisoned lock still holds valid data.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Register an endpoint; `Err` is a message for a 400.
    pub fn add(
        &self,
        url: &str,
        events: &[String],
        secret: Option<String>,
        max_attempts: Option<u32>,
        backoff_ms: Option<u64>,
    ) -> Result<Endpoint, String> {
        let url = validate_url(url)?;
        let events = events
            .iter()
            .map(|e| EventKind::parse(e).ok_or_else(|| format!("unknown event type {e:?}")))
            .collect::<Result<Vec<_>, _>>()?;
        let max_attempts = max_attempts.unwrap_or(DEFAULT_ATTEMPTS);
        if !(1..=20).contains(&max_attempts) {
            return Err("maxAttempts must be 1..=20".into());
        }
        let backoff = backoff_ms.map_or(DEFAULT_BACKOFF, Duration::from_millis);
        if backoff < Duration::from_millis(10) || backoff > MAX_BACKOFF {
            return Err("backoffMs must be 10..=30000".into());
        }
        if secret.as_deref().is_some_and(str::is_empty) {
            return Err("secret must not be empty".into());
        }
        let ep = Endpoint {
            id: format!("wh_{}", uuid::Uuid::new_v4().simple()),
            url,
            events,
            secret,
            max_attempts,
            backoff,
            created_at_ms: now_ms(),
        };
        let mut st = self.lock();
        if st.endpoints.len() >= MAX_ENDPOINTS {
            return Err(format!("at most {MAX_ENDPOINTS} webhooks"));
        }
        st.endpoints.push(ep.clone());
        Ok(ep)
    }

    pub fn list(&self) -> Vec<Endpoint> {
        self.lock().endpoints.clone()
    }

    pub fn remove(&self, id: &str) -> bool {
        let mut st = self.lock();
        let before = st.endpoints.len();
        st.endpoints.retain(|e| e.id != id);
        st.health.remove(id);
        st.endpoints.len() != before
    }

    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.lock().dead.iter().cloned().collect()
    }

    pub fn health(&self) -> Vec<(Endpoint, ChannelHealth)> {
        let st = self.lock();
        st.endpoints
            .iter()
            .map(|e| (e.clone(), st.health.get(&e.id).cloned().unwrap_or_default()))
            .collect()
    }

    /// Follow the bus until shutdown, starting one delivery per (event, matching endpoint).
    /// `body` shapes an event and a delivery id into the JSON to POST: the wire shape is the
    /// API layer's (`api::event_wire::webhook_body`), this module only delivers it.
    pub fn spawn_dispatcher(
        self: &Arc<Self>,
        bus: &EventBus,
        body: fn(&Event, &str) -> serde_json::Value,
        token: CancellationToken,
    ) {
        let mut rx = bus.subscribe();
        let hooks = self.clone();
        tokio::spawn(async move {
            loop {
                let ev = tokio::select! {
                    _ = token.cancelled() => return,
                    ev = rx.recv() => ev,
                };
                let ev = match ev {
                    Ok(ev) => ev,
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        crate::metrics::global().subscriber_lag("webhooks");
                        tracing::warn!(
                            missed = n,
                            "webhook dispatcher fell behind the event bus; events skipped"
                        );
                        continue;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                let targets: Vec<Endpoint> = hooks
                    .lock()
                    .endpoints
                    .iter()
                    .filter(|e| e.wants(ev.kind))
                    .cloned()
                    .collect();
                for endpoint in targets {
                    let delivery_id = uuid::Uuid::new_v4().to_string();
                    hooks.start(Delivery {
                        endpoint,
                        kind: ev.kind.as_str(),
                        body: body(&ev, &delivery_id),
                        delivery_id,
                    });
                }
            }
        });
    }

    fn start(self: &Arc<Self>, d: Delivery) {
        let Ok(permit) = self.in_flight.clone().try_acquire_owned() else {
            self.dead_letter(&d, 0, "too many deliveries in flight".into());
            return;
        };
        let hooks = self.clone();
        tokio::spawn(async move {
            hooks.deliver_with_retries(d).await;
            drop(permit);
        });
    }

    async fn deliver_with_retries(&self, d: Delivery) {
        let mut last_error = String::new();
        for attempt in 1..=d.endpoint.max_attempts {
            match self.attempt(&d).await {
                Ok(()) => return,
                Err((e, retryable)) => {
                    last_error = e;
                    if !retryable || attempt == d.endpoint.max_attempts {
                        self.dead_letter(&d, attempt, last_error);
                        return;
                    }
                }
            }
            tokio::time::sleep(backoff(d.endpoint.backoff, attempt)).await;
        }
        self.dead_letter(&d, d.endpoint.max_attempts, last_error);
    }

    /// One POST. `Err((message, retryable))`.
    async fn attempt(&self, d: &Delivery) -> Result<(), (String, bool)> {
        let body = d.body.to_string();
        let mut req = self
            .client
            .post(d.endpoint.url.clone())
            .header("content-type", "application/json")
            .header("x-aegis-event", d.kind)
            .header("x-aegis-delivery", &d.delivery_id)
            .header("x-idempotency-key", &d.delivery_id);
        if let Some(secret) = &d.endpoint.secret {
            req = req.header(
                "x-aegis-signature",
                sign(secret.as_bytes(), body.as_bytes()),
            );
        }
        let started = std::time::Instant::now();
        let result = match req.body(body).send().await {
            Ok(resp) if resp.status().is_success() => Ok(()),
            Ok(resp) => {
                let s = resp.status();
                let retryable = s.is_server_error() || s.as_u16() == 408 || s.as_u16() == 429;
                Err((format!("receiver answered {s}"), retryable))
            }
            Err(e) => Err((format!("request failed: {e}"), true)),
        };
        crate::metrics::global()
            .webhook_attempt(result.is_ok(), started.elapsed().as_secs_f64() * 1000.0);
        let mut st = self.lock();
        let h = st.health.entry(d.endpoint.id.clone()).or_default();
        match &result {
            Ok(()) => {
                h.delivered += 1;
                h.last_success_at = Some(now_ms());
            }
            Err((e, _)) => {
                h.failed_attempts += 1;
                h.last_failure_at = Some(now_ms());
                h.last_error = Some(e.clone());
                tracing::debug!(webhook = %d.endpoint.id, error = %e, "webhook attempt failed");
            }
        }
        result
    }

    fn dead_letter(&self, d: &Delivery, attempts: u32, last_error: String) {
        tracing::warn!(webhook = %d.endpoint.id, delivery = %d.delivery_id, error = %last_error, "webhook delivery dead-lettered");
        let mut st = self.lock();
        if st.dead.len() >= MAX_DEAD_LETTERS {
            st.dead.pop_front();
        }
        st.dead.push_back(DeadLetter {
            id: format!("dl_{}", uuid::Uuid::new_v4().simple()),
            webhook_id: d.endpoint.id.clone(),
            url: d.endpoint.url.to_string(),
            event: d.kind,
            delivery_id: d.delivery_id.clone(),
            attempts,
            last_error,
            failed_at: now_ms(),
            body: d.body.clone(),
        });
        st.health
            .entry(d.endpoint.id.clone())
            .or_default()
            .dead_lettered += 1;
    }

    /// Retry one dead letter now, once. On success it leaves the queue; on failure it stays
    /// with its attempt count and error updated. `None` if there is no such dead letter.
    pub async fn retry_dead_letter(&self, id: &str) -> Option<Result<(), String>> {
        let (dl, endpoint) = {
            let st = self.lock();
            let dl = st.dead.iter().find(|d| d.id == id)?.clone();
            let endpoint = st.endpoints.iter().find(|e| e.id == dl.webhook_id).cloned();
            (dl, endpoint)
        };
        let endpoint = match endpoint {
            Some(e) => e,
            // The endpoint was deleted: retry to the recorded URL, unsigned.
            None => Endpoint {
                id: dl.webhook_id.clone(),
                url: validate_url(&dl.url).ok()?,
                events: vec![],
                secret: None,
                max_attempts: 1,
                backoff: DEFAULT_BACKOFF,
                created_at_ms: 0,
            },
        };
        let d = Delivery {
            endpoint,
            kind: dl.event,
            delivery_id: dl.delivery_id.clone(),
            body: dl.body.clone(),
        };
        let result = self.attempt(&d).await.map_err(|(e, _)| e);
        let mut st = self.lock();
        match &result {
            Ok(()) => st.dead.retain(|x| x.id != id),
            Err(e) => {
                if let Some(x) = st.dead.iter_mut().find(|x| x.id == id) {
                    x.attempts += 1;
                    x.last_error = e.clone();
                    x.failed_at = now_ms();
                }
            }
        }
        Some(result)
    }
}

/// Delay before retry number `attempt` (1-based): `base * 2^(attempt-1)`, capped, with full
/// jitter over its upper half so a fleet of failing deliveries does not retry in lockstep.
fn backoff(base: Duration, attempt: u32) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let cap = exp.min(MAX_BACKOFF);
    let half = cap / 2;
    // uuid v4 draws from the OS CSPRNG; any random source would do for jitter.
    let r = (uuid::Uuid::new_v4().as_u128() % 1_000_000) as u32;
    half + half.mul_f64(f64::from(r) / 1_000_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_cap() {
        let b = Duration::from_millis(100);
        for attempt in 1..6 {
            let d = backoff(b, attempt);
            let full = b * (1 << (attempt - 1));
            assert!(d >= full / 2 && d <= full, "{attempt}: {d:?}");
        }
        assert!(backoff(b, 30) <= MAX_BACKOFF);
    }

    #[test]
    fn signature_is_hex_hmac() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn urls_are_checked() {
        assert!(validate_url("http://127.0.0.1:9/x").is_ok());
        assert!(validate_url("ftp://h/x").is_err());
        assert!(validate_url("not a url").is_err());
    }
}
