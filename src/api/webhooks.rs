//! HTTP routes for webhooks and stimuli. Wire shapes live here; the logic in `crate::webhooks`
//! (outbound deliveries) and `crate::webhooks::inbound` (verification, dedupe, routing).
//!
//! Guarded (API token): `POST/GET /v1/webhooks`, `DELETE /v1/webhooks/:id`,
//! `GET /v1/webhooks/dead-letter`, `POST /v1/webhooks/dead-letter/:id/retry`,
//! `GET /v1/channels/health`, `POST /v1/stimuli`.
//! Unguarded (HMAC instead): `POST /v1/webhooks/{source}`.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::http::StatusCode;

use super::App;
use super::error::{ApiError, ErrorCode};
use super::filters::with_app;
use super::reply::finish;
use super::reply::{ApiResult, json};
use super::route::{self, Table};
use crate::webhooks::inbound::{self, StimulusError, secret_var};
use crate::webhooks::{DeadLetter, Endpoint};

/// `POST /v1/webhooks` body.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CreateWebhook {
    /// An http or https URL.
    url: String,
    /// Event types to deliver (default: all).
    #[serde(default)]
    #[schemars(schema_with = "crate::api::schemas::event_kinds")]
    events: Vec<String>,
    /// Signs each delivery (HMAC-SHA256).
    secret: Option<String>,
    max_attempts: Option<u32>,
    /// Wait before the first retry; doubled after each.
    backoff_ms: Option<u64>,
}

/// A webhook, without its secret.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "Webhook")]
pub(crate) struct WebhookInfo {
    id: String,
    url: String,
    /// Event types delivered; empty for all.
    #[schemars(schema_with = "crate::api::schemas::event_kinds")]
    events: Vec<&'static str>,
    has_secret: bool,
    max_attempts: u32,
    backoff_ms: u64,
    /// Epoch milliseconds.
    created_at: u64,
}

/// `GET /v1/webhooks`.
#[derive(Serialize, JsonSchema)]
pub(crate) struct WebhookList {
    webhooks: Vec<WebhookInfo>,
}

/// `GET /v1/webhooks/dead-letter`: deliveries that ran out of attempts, oldest first.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeadLetters {
    total: usize,
    dead_letters: Vec<DeadLetterWire>,
}

/// A delivery that ran out of attempts.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "DeadLetter")]
struct DeadLetterWire {
    id: String,
    webhook_id: String,
    url: String,
    /// The event type.
    event: &'static str,
    delivery_id: String,
    attempts: u32,
    last_error: String,
    /// Epoch milliseconds.
    failed_at: u64,
    /// The body that was to be delivered.
    body: serde_json::Value,
}

impl From<DeadLetter> for DeadLetterWire {
    fn from(d: DeadLetter) -> DeadLetterWire {
        DeadLetterWire {
            id: d.id,
            webhook_id: d.webhook_id,
            url: d.url,
            event: d.event,
            delivery_id: d.delivery_id,
            attempts: d.attempts,
            last_error: d.last_error,
            failed_at: d.failed_at,
            body: d.body,
        }
    }
}

/// A retried dead letter that was delivered.
#[derive(Serialize, JsonSchema)]
pub(crate) struct Retried {
    ok: bool,
    delivered: bool,
}

/// An outbound channel and what it last did.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "Channel")]
struct ChannelWire {
    id: String,
    /// webhook
    #[serde(rename = "type")]
    kind: &'static str,
    url: String,
    /// unused, ok or failing (the last attempt failed).
    status: &'static str,
    delivered: u64,
    failed_attempts: u64,
    dead_lettered: u64,
    /// Epoch milliseconds.
    last_success_at: Option<u64>,
    /// Epoch milliseconds.
    last_failure_at: Option<u64>,
    last_error: Option<String>,
}

/// `GET /v1/channels/health`.
#[derive(Serialize, JsonSchema)]
pub(crate) struct ChannelsHealth {
    channels: Vec<ChannelWire>,
}

/// A stimulus was accepted and routed.
#[derive(Serialize, JsonSchema)]
pub(crate) struct StimulusAccepted {
    accepted: bool,
    source: String,
    routed: Routed,
}

/// Where a stimulus went.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "StimulusRoute")]
struct Routed {
    /// send_to_session or create_session.
    action: &'static str,
    session_id: String,
    session_name: String,
}

impl From<inbound::Routed> for Routed {
    fn from(r: inbound::Routed) -> Routed {
        Routed {
            action: r.action,
            session_id: r.session_id,
            session_name: r.session_name,
        }
    }
}

impl From<&Endpoint> for WebhookInfo {
    fn from(e: &Endpoint) -> Self {
        WebhookInfo {
            id: e.id.clone(),
            url: e.url.to_string(),
            events: e.events.iter().map(|k| k.as_str()).collect(),
            has_secret: e.secret.is_some(),
            max_attempts: e.max_attempts,
            backoff_ms: e.backoff.as_millis() as u64,
            created_at: e.created_at_ms,
        }
    }
}

/// `POST /v1/stimuli` body.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StimulusRequest {
    /// Names the integration rules that route it.
    source: String,
    content: String,
    idempotency_key: Option<String>,
}

async fn create(app: Arc<App>, req: CreateWebhook) -> ApiResult {
    let ep = app
        .webhooks
        .add(
            &req.url,
            &req.events,
            req.secret,
            req.max_attempts,
            req.backoff_ms,
        )
        .map_err(ApiError::invalid)?;
    Ok(json(StatusCode::CREATED, &WebhookInfo::from(&ep)))
}

async fn list(app: Arc<App>) -> ApiResult {
    let hooks: Vec<WebhookInfo> = app.webhooks.list().iter().map(WebhookInfo::from).collect();
    Ok(json(StatusCode::OK, &WebhookList { webhooks: hooks }))
}

async fn delete(app: Arc<App>, id: String) -> ApiResult {
    if !app.webhooks.remove(&id) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::WebhookNotFound,
            format!("webhook not found: {id}"),
        ));
    }
    Ok(json(StatusCode::OK, &super::wire::OK))
}

async fn dead_letters(app: Arc<App>) -> ApiResult {
    let dead_letters: Vec<DeadLetterWire> = app
        .webhooks
        .dead_letters()
        .into_iter()
        .map(DeadLetterWire::from)
        .collect();
    Ok(json(
        StatusCode::OK,
        &DeadLetters {
            total: dead_letters.len(),
            dead_letters,
        },
    ))
}

async fn retry(app: Arc<App>, id: String) -> ApiResult {
    match app.webhooks.retry_dead_letter(&id).await {
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::DeadLetterNotFound,
            format!("dead letter not found: {id}"),
        )),
        Some(Ok(())) => Ok(json(
            StatusCode::OK,
            &Retried {
                ok: true,
                delivered: true,
            },
        )),
        Some(Err(e)) => Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            ErrorCode::DeliveryFailed,
            format!("retry failed: {e}"),
        )),
    }
}

async fn channels_health(app: Arc<App>) -> ApiResult {
    let channels = app
        .webhooks
        .health()
        .into_iter()
        .map(|(e, h)| ChannelWire {
            id: e.id,
            kind: "webhook",
            url: e.url.to_string(),
            status: match (h.last_success_at, h.last_failure_at) {
                (None, None) => "unused",
                (Some(s), Some(f)) if f > s => "failing",
                (None, Some(_)) => "failing",
                _ => "ok",
            },
            delivered: h.delivered,
            failed_attempts: h.failed_attempts,
            dead_lettered: h.dead_lettered,
            last_success_at: h.last_success_at,
            last_failure_at: h.last_failure_at,
            last_error: h.last_error,
        })
        .collect();
    Ok(json(StatusCode::OK, &ChannelsHealth { channels }))
}

/// Dedupe, route, and answer 202; the key is released if routing failed.
async fn accept(app: &App, source: &str, content: &str, key: Option<&str>) -> ApiResult {
    if content.is_empty() {
        return Err(ApiError::invalid("content must not be empty"));
    }
    let claimed = match key.filter(|k| !k.is_empty()) {
        Some(k) => Some(app.stimuli_seen.claim(source, k)?),
        None => None,
    };
    match inbound::route(&app.config.integrations, &app.sessions, source, content).await {
        Ok(routed) => Ok(json(
            StatusCode::ACCEPTED,
            &StimulusAccepted {
                accepted: true,
                source: source.to_owned(),
                routed: routed.into(),
            },
        )),
        Err(e) => {
            if let Some(c) = claimed {
                app.stimuli_seen.release(&c);
            }
            Err(e.into())
        }
    }
}

async fn stimulus(app: Arc<App>, req: StimulusRequest) -> ApiResult {
    if req.source.is_empty() {
        return Err(ApiError::invalid("source must not be empty"));
    }
    accept(
        &app,
        &req.source,
        &req.content,
        req.idempotency_key.as_deref(),
    )
    .await
}

async fn inbound_webhook(
    app: Arc<App>,
    source: String,
    sig: Option<String>,
    hub_sig: Option<String>,
    key: Option<String>,
    body: warp::hyper::body::Bytes,
) -> ApiResult {
    let secret = std::env::var(secret_var(&source)).ok();
    inbound::verify(secret.as_deref(), sig.or(hub_sig).as_deref(), &body)?;
    // A JSON body with a `content` string carries the stimulus; anything else is the content.
    let content = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("content").and_then(|c| c.as_str()).map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
    accept(&app, &source, &content, key.as_deref()).await
}

impl From<StimulusError> for ApiError {
    fn from(e: StimulusError) -> Self {
        let msg = e.to_string();
        let (status, code) = match e {
            StimulusError::SecretNotFound => (StatusCode::UNAUTHORIZED, ErrorCode::SecretNotFound),
            StimulusError::MissingSignature => {
                (StatusCode::UNAUTHORIZED, ErrorCode::MissingSignature)
            }
            StimulusError::MalformedSignature => {
                (StatusCode::BAD_REQUEST, ErrorCode::MalformedSignature)
            }
            StimulusError::InvalidSignature => {
                (StatusCode::UNAUTHORIZED, ErrorCode::InvalidSignature)
            }
            StimulusError::KeyTooLong => (StatusCode::BAD_REQUEST, ErrorCode::ValidationError),
            StimulusError::Duplicate => (StatusCode::CONFLICT, ErrorCode::IdempotentDuplicate),
            StimulusError::Unroutable(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::UnroutableStimulus,
            ),
            StimulusError::Session(e) => return e.into(),
            StimulusError::Handle(e) => return e.into(),
        };
        ApiError::new(status, code, msg)
    }
}

/// Routes behind the API guard.
pub fn routes(t: &mut Table) {
    t.on_body(
        route::post("/webhooks")
            .body::<CreateWebhook>()
            .creates::<WebhookInfo>(),
        create,
    );
    t.on(route::get("/webhooks").answers::<WebhookList>(), list);
    t.on(
        route::get("/webhooks/dead-letter").answers::<DeadLetters>(),
        dead_letters,
    );
    t.on_one(
        route::post("/webhooks/dead-letter/{id}/retry").answers::<Retried>(),
        retry,
    );
    t.on_one(
        route::delete("/webhooks/{id}").answers::<super::wire::Ok>(),
        delete,
    );
    t.on(
        route::get("/channels/health").answers::<ChannelsHealth>(),
        channels_health,
    );
    t.on_body(
        route::post("/stimuli")
            .body::<StimulusRequest>()
            .answers_with::<StimulusAccepted>(202),
        stimulus,
    );
}

/// `POST /webhooks/{source}`: authenticated by HMAC, not by the API guard.
pub fn inbound_routes(t: &mut Table) {
    t.route(
        route::post("/webhooks/{id}").answers_with::<StimulusAccepted>(202),
        |p, app| {
            p.one()
                .and(with_app(app))
                .and(warp::header::optional::<String>("x-aegis-signature"))
                .and(warp::header::optional::<String>("x-hub-signature-256"))
                .and(warp::header::optional::<String>("x-idempotency-key"))
                .and(warp::body::content_length_limit(app.config.max_body_bytes))
                .and(warp::body::bytes())
                .then(|source, a, s, h, k, b| async move {
                    finish(inbound_webhook(a, source, s, h, k, b).await)
                })
        },
    );
}
