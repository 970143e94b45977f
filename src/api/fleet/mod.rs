//! The fleet's HTTP face, as warp filters the API composes behind its guard:
//! - `GET /fleet/hosts`, `GET /fleet/sessions`, `POST /fleet/sessions`, `GET /fleet/events`;
//! - [`forwarding::forward_hook`]: any `/sessions/:id[/...]` whose session lives on another host is
//!   forwarded to it; a local or unknown session falls through to the local routes (the hook
//!   rejects with "not found" before reading the body, so the local route still gets it).
//!
//! Authorization happens before these filters (the API's guard, on the receiving node); the
//! principal it found is passed in for the owner's audit log. While NATS is unreachable every
//! fleet route answers 503 `FLEET_UNAVAILABLE`; local sessions are served as always.
//!
//! Forwarding, and the answers collected from other hosts, are in [`forwarding`].

mod forwarding;
mod wire;

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::error::{ApiError, ErrorCode};
use super::filters::{query, query_usize};
use super::reply::json_sorted;
use super::route::{self, Table};
use super::wire::Pagination;
use crate::fleet::events::{Filter as EventFilter, Frame, Start};
use crate::fleet::membership::HostState;
use crate::fleet::{Fleet, FleetError, forward};
use forwarding::{collect, forward_hook, with_host};
use wire::{CreateRequest, FleetSession, Host, Hosts, SessionList, Unreachable};

/// Sessions asked of each host per page when listing the fleet (the local API's largest page).
const LIST_PAGE: usize = 1000;

/// A fleet error in the API's error format.
pub fn error(e: &FleetError) -> Response {
    let code = match e {
        FleetError::Unavailable { .. } => ErrorCode::FleetUnavailable,
        FleetError::HostUnreachable { .. } => ErrorCode::HostUnreachable,
        FleetError::Ambiguous { .. } => ErrorCode::SessionNameAmbiguous,
        FleetError::TooLarge { .. } => ErrorCode::PayloadTooLarge,
        FleetError::UnknownHost(_) => ErrorCode::HostNotFound,
        FleetError::Protocol(_) => ErrorCode::FleetProtocolError,
    };
    let (status, _) = e.status_code();
    ApiError::new(
        StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
        code,
        e.to_string(),
    )
    .into_response()
}

fn bad_request(msg: impl Into<String>) -> Response {
    ApiError::invalid(msg).into_response()
}

/// The fleet's part of the router: first the forwarding of another host's sessions (which
/// answers for the session routes, so is no operation of its own), then the `/fleet/...`
/// routes. Without a fleet the forwarding is absent and `/fleet/...` answers that this
/// daemon is a single host, behind the API guard like every other route.
pub fn routes(t: &mut Table) {
    t.intercept(|app| match app.fleet.get() {
        Some(fleet) => forward_hook(fleet.clone(), principal(app)),
        None => warp::any()
            .and_then(|| async { Err::<Response, _>(warp::reject::not_found()) })
            .boxed(),
    });
    fleet_route(
        t,
        route::get("/fleet/hosts").answers::<Hosts>(),
        |p, fleet, _| {
            p.and(with_fleet(&fleet))
                .map(|f: Arc<Fleet>| hosts(&f))
                .boxed()
        },
    );
    let listing = route::get("/fleet/sessions")
        .answers::<SessionList>()
        .query::<ListQuery>();
    fleet_route(t, listing, |p, fleet, principal| {
        p.and(with_fleet(&fleet))
            .and(query::<ListQuery>())
            .and(principal)
            .then(|f: Arc<Fleet>, q, p: String| async move { list(&f, q, &p).await })
            .boxed()
    });
    let creation = route::post("/fleet/sessions")
        .body::<CreateRequest>()
        .creates::<FleetSession>();
    fleet_route(t, creation, |p, fleet, principal| {
        p.and(with_fleet(&fleet))
            .and(warp::body::bytes())
            .and(principal)
            .then(|f: Arc<Fleet>, body, p: String| async move { create(&f, body, &p).await })
            .boxed()
    });
    let events_route = route::get("/fleet/events").query::<EventsQuery>();
    fleet_route(t, events_route, |p, fleet, _| {
        p.and(with_fleet(&fleet))
            .and(query::<EventsQuery>())
            .and(warp::header::optional::<String>("last-event-id"))
            .then(|f: Arc<Fleet>, q, last| async move { events(&f, q, last).await })
            .boxed()
    });
}

fn with_fleet(
    fleet: &Arc<Fleet>,
) -> impl Filter<Extract = (Arc<Fleet>,), Error = Infallible> + Clone + use<> {
    let fleet = fleet.clone();
    warp::any().map(move || fleet.clone())
}

/// Who the API guard admits, as the audit log names them. The guard runs once, when a fleet
/// route has matched its path: who it admits is what the owner of a forwarded request
/// records.
fn principal(app: &Arc<super::App>) -> BoxedFilter<(String,)> {
    super::guard::guard(app.gate.clone())
        .map(|p: super::guard::Principal| p.name())
        .boxed()
}

/// What serves a `/fleet/...` route with the daemon's fleet: from the path match, the fleet
/// and the admitted principal.
type ServeFleet =
    fn(BoxedFilter<()>, Arc<Fleet>, BoxedFilter<(String,)>) -> BoxedFilter<(Response,)>;

/// A `/fleet/...` route: `build` serves it with the daemon's fleet; without one, it answers
/// that this daemon is a single host.
fn fleet_route(t: &mut Table, spec: route::Spec, build: ServeFleet) {
    t.route(spec, move |p, app| match app.fleet.get() {
        Some(fleet) => build(p.none().boxed(), fleet.clone(), principal(app)),
        // Behind the guard too: without a token the answer is 401 as on every other route,
        // not a hint about this daemon's set-up.
        None => p
            .none()
            .and(super::guard::guard(app.gate.clone()))
            .map(|_: super::guard::Principal| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    ErrorCode::NotFound,
                    "this daemon is not part of a fleet: start it with --nats (see docs/fleet.md)",
                )
                .into_response()
            })
            .boxed(),
    });
}

fn hosts(fleet: &Fleet) -> Response {
    if let Err(e) = fleet.bus() {
        return error(&e);
    }
    let hosts = Hosts {
        hosts: fleet
            .hosts
            .views(fleet.host_id())
            .into_iter()
            .map(Host::from)
            .collect(),
        this: fleet.host_id().to_owned(),
    };
    json_sorted(StatusCode::OK, &hosts)
}

/// `GET /v1/fleet/sessions`'s query: `GET /v1/sessions`'s, and a host.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
struct ListQuery {
    /// Only this host's sessions.
    host: Option<String>,
    /// `GET /v1/sessions`'s filters and paging, over the whole fleet: the filters are
    /// passed on to every host, the paging is the fleet's.
    #[serde(flatten)]
    local: super::sessions::ListQuery,
}

/// `GET /v1/fleet/events`'s query.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
struct EventsQuery {
    /// Only this host's events.
    host: Option<String>,
    /// Only this session's events (its id).
    #[schemars(schema_with = "crate::api::schemas::uuid")]
    session: Option<String>,
    /// Only events of these kinds, comma-separated.
    types: Option<String>,
    /// Resume after this fleet stream sequence, as the `Last-Event-ID` header does (which
    /// wins when both are given).
    #[schemars(with = "Option<u64>")]
    last_event_id: Option<String>,
}

/// Every page of `GET /v1/sessions` on `host` with `filters`, each session tagged with `host`.
async fn host_sessions(
    fleet: &Fleet,
    host: &str,
    filters: &[(&str, &str)],
    principal: &str,
) -> Result<Vec<FleetSession>, FleetError> {
    let mut out = Vec::new();
    for page in 1.. {
        let mut uri = format!("/v1/sessions?limit={LIST_PAGE}&page={page}");
        for (key, value) in filters {
            uri.push_str(&format!("&{key}={}", url_escape(value)));
        }
        let request = http::Request::get(uri)
            .body(Bytes::new())
            .map_err(|e| FleetError::Protocol(e.to_string()))?;
        let response = forward::forward(fleet, host, request, principal).await?;
        let status_code = response.status();
        let body = collect(response.into_body()).await?;
        let v: Value = serde_json::from_slice(&body)
            .map_err(|e| FleetError::Protocol(format!("host {host} listed sessions as {e}")))?;
        if !status_code.is_success() {
            // The filters were checked here first, so a refusal is a peer of another version.
            return Err(FleetError::Protocol(format!(
                "host {host} refused the listing: {}",
                v["error"].as_str().unwrap_or("no reason given")
            )));
        }
        let sessions = v["sessions"].as_array().cloned().unwrap_or_default();
        let total = v["total"].as_u64().unwrap_or(0) as usize;
        let n = sessions.len();
        out.extend(sessions.into_iter().filter_map(|s| match s {
            Value::Object(session) => Some(FleetSession {
                session,
                host: host.to_owned(),
            }),
            _ => None,
        }));
        if n < LIST_PAGE || out.len() >= total {
            break;
        }
    }
    Ok(out)
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.,~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn list(fleet: &Fleet, q: ListQuery, principal: &str) -> Response {
    if let Err(e) = fleet.bus() {
        return error(&e);
    }
    let page = match query_usize(q.local.page.as_deref(), "page", 1, 1..=usize::MAX) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let limit = match query_usize(q.local.limit.as_deref(), "limit", 100, 1..=1000) {
        Ok(l) => l,
        Err(e) => return e.into_response(),
    };
    let only_host = q.host.clone();
    let views = fleet.hosts.views(fleet.host_id());
    let (up, down): (Vec<_>, Vec<_>) = views
        .into_iter()
        .filter(|v| only_host.as_ref().is_none_or(|h| *h == v.host))
        .partition(|v| v.state == HostState::Up);
    // Checked here as each host would, so a bad filter is one 400, not a failure per host.
    let (status, agent_type) = (q.local.status.as_deref(), q.local.agent_type.as_deref());
    if let Err(e) = super::sessions::check_filters(status, agent_type) {
        return e.into_response();
    }
    // The filters (not the paging), passed on to every host.
    let filters: Vec<(&str, &str)> = [("status", status), ("agentType", agent_type)]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
    let answers = futures_util::future::join_all(
        up.iter()
            .map(|v| host_sessions(fleet, &v.host, &filters, principal)),
    )
    .await;
    let counts = fleet.directory.counts();
    let mut sessions = Vec::new();
    let unreachable_host = |host: &str, error: Option<String>| Unreachable {
        host: host.to_owned(),
        sessions: counts.get(host).copied().unwrap_or(0),
        error,
    };
    let mut unreachable: Vec<Unreachable> = down
        .iter()
        .map(|v| unreachable_host(&v.host, None))
        .collect();
    for (v, answer) in up.iter().zip(answers) {
        match answer {
            Ok(s) => sessions.extend(s),
            Err(e) => unreachable.push(unreachable_host(&v.host, Some(e.to_string()))),
        }
    }
    // Creation order across the fleet, as one host lists its own.
    let order = |s: &FleetSession| {
        let created = s.session.get("createdAt").and_then(Value::as_u64);
        let id = s
            .session
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_owned);
        (created, id)
    };
    sessions.sort_by_key(order);
    let total = sessions.len();
    let body = SessionList {
        sessions: sessions
            .into_iter()
            .skip((page - 1).saturating_mul(limit))
            .take(limit)
            .collect(),
        total,
        pagination: Pagination {
            page,
            limit,
            total,
            total_pages: total.div_ceil(limit),
        },
        unreachable_hosts: unreachable,
    };
    json_sorted(StatusCode::OK, &body)
}

async fn create(fleet: &Fleet, body: Bytes, principal: &str) -> Response {
    if let Err(e) = fleet.bus() {
        return error(&e);
    }
    // Parsed as a value first, so that a body that is not an object says so plainly.
    let req = match serde_json::from_slice(&body).map(serde_json::from_value::<CreateRequest>) {
        Ok(Ok(req)) => req,
        Ok(Err(_)) => return bad_request("the request body must be a JSON object"),
        Err(e) => {
            return ApiError::bad_request(
                ErrorCode::InvalidJson,
                format!("invalid request body: {e}"),
            )
            .into_response();
        }
    };
    let mut placement = None;
    let host = match req.host {
        Value::Null => match fleet.hosts.place(fleet.host_id()) {
            Some(p) => placement.insert(p).host.clone(),
            None => return error(&FleetError::UnknownHost("(any up host)".into())),
        },
        Value::String(h) => match fleet.hosts.state(&h) {
            Some(HostState::Up) => h,
            Some(HostState::Unreachable) => {
                return error(&FleetError::HostUnreachable {
                    host: h,
                    reason: "it missed its heartbeats".into(),
                });
            }
            None => return error(&FleetError::UnknownHost(h)),
        },
        _ => return bad_request("host must be a string"),
    };
    let payload = Value::Object(req.session).to_string();
    let request = match http::Request::post("/v1/sessions")
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Bytes::from(payload))
    {
        Ok(r) => r,
        Err(e) => return error(&FleetError::Protocol(e.to_string())),
    };
    let response = match forward::forward(fleet, &host, request, principal).await {
        Ok(r) => r,
        Err(e) => return error(&e),
    };
    let (parts, body) = response.into_parts();
    let body = match collect(body).await {
        Ok(b) => b,
        Err(e) => return error(&e),
    };
    if parts.status == StatusCode::CREATED
        && let Some(p) = placement
    {
        p.created();
    }
    if parts.status == StatusCode::CREATED
        && let Ok(v) = serde_json::from_slice::<Value>(&body)
        && let (Some(id), Some(name)) = (
            v["id"].as_str().and_then(|s| uuid::Uuid::parse_str(s).ok()),
            v["name"].as_str().map(String::from),
        )
    {
        // Registered before answering, so the next request through any node finds it.
        let entry = crate::fleet::directory::DirEntry {
            host: host.clone(),
            name,
            created_at_ms: v["createdAt"].as_u64().unwrap_or_else(crate::fleet::now_ms),
        };
        if let Err(e) = crate::fleet::directory::register(fleet, id, &entry).await {
            tracing::warn!(error = %e, "a fleet-created session is not in the directory yet");
        }
    }
    with_host(parts, body, &host)
}

async fn events(fleet: &Fleet, q: EventsQuery, last: Option<String>) -> Response {
    let last = last.or(q.last_event_id);
    let start = match last.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Start::New,
        Some(s) => match s.parse::<u64>() {
            Ok(n) => Start::After(n),
            Err(_) => return bad_request("Last-Event-ID must be a fleet stream sequence"),
        },
    };
    let session = match q.session.as_deref().map(uuid::Uuid::parse_str) {
        None => None,
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => return bad_request("session must be a session id"),
    };
    let host = match q.host.as_deref() {
        None => None,
        Some(h) => match crate::fleet::config::validate_host_id(h) {
            Ok(h) => Some(h),
            Err(e) => return bad_request(e.to_string()),
        },
    };
    let types = q
        .types
        .as_deref()
        .map(|t| {
            t.split(',')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let filter = EventFilter {
        host,
        session,
        types,
    };
    let following = match crate::fleet::events::follow(fleet, start, filter).await {
        Ok(f) => f,
        Err(e) => return error(&e),
    };
    let mut connected = warp::sse::Event::default().data(
        json!({"type": "connected", "event": "connected", "host": fleet.host_id()}).to_string(),
    );
    // A client that starts with new events gets the position it starts after as the id, so
    // its reconnection (the stream ends when NATS goes away) misses nothing even if no
    // event came before.
    if let Some(position) = following.position {
        connected = connected.id(position.to_string());
    }
    let frames = following.frames;
    let stream = futures_util::stream::once(std::future::ready(connected)).chain(frames.map(|f| {
        match f {
            Frame::Event { seq, json } => warp::sse::Event::default()
                .id(seq.to_string())
                .data(json.to_string()),
            Frame::Reset {
                last_lost,
                resumes_at,
            } => warp::sse::Event::default().id(last_lost.to_string()).data(
                json!({"type": "reset", "event": "reset", "resumesAt": resumes_at}).to_string(),
            ),
        }
    }));
    let stream = pumped(stream.map(Ok::<_, Infallible>));
    warp::sse::reply(warp::sse::keep_alive().stream(stream)).into_response()
}

/// The same items through a channel: warp's SSE reply needs a `Sync` stream and ours hold
/// `Send`-only futures (NATS subscriptions). The pump task ends when the client goes away
/// (the receiver is dropped), dropping the source with it.
fn pumped<T: Send + 'static>(
    source: impl futures_util::Stream<Item = T> + Send + 'static,
) -> impl futures_util::Stream<Item = T> + Send + Sync + 'static {
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        let mut source = std::pin::pin!(source);
        while let Some(item) = source.next().await {
            if tx.send(item).await.is_err() {
                return;
            }
        }
    });
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
