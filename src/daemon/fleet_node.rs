//! This daemon as a fleet node: the [`LocalNode`] the fleet sees. Sessions and events come
//! from the session manager and its bus; a forwarded request runs through the daemon's own
//! warp routes in process, marked with the [`Forwarded`] extension so the API guard admits it
//! as a peer (the node that received it already authorized it; only fleet members may publish
//! on the request subject).

use std::pin::Pin;
use std::sync::{Arc, OnceLock, Weak};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::{Stream, StreamExt};
use warp::filters::BoxedFilter;
use warp::{Filter, Reply};

use crate::api::App;
use crate::api::error::{ApiError, ErrorCode};
use crate::api::event_wire::{Scope, event_json};
use crate::fleet::{
    BodyStream, Forwarded, LocalEvent, LocalFeed, LocalNode, LocalSession, Refusal,
};

pub(super) struct DaemonNode {
    /// Weak: the app holds the fleet, which holds this node.
    app: Weak<App>,
    /// The daemon's routes, built on first use (after the app knows its fleet).
    routes: OnceLock<BoxedFilter<(warp::reply::Response,)>>,
}

impl DaemonNode {
    pub(super) fn new(app: &Arc<App>) -> DaemonNode {
        DaemonNode {
            app: Arc::downgrade(app),
            routes: OnceLock::new(),
        }
    }

    fn routes(&self, app: Arc<App>) -> BoxedFilter<(warp::reply::Response,)> {
        self.routes
            .get_or_init(|| crate::api::routes(app).map(Reply::into_response).boxed())
            .clone()
    }
}

impl LocalNode for DaemonNode {
    fn sessions(&self) -> Vec<LocalSession> {
        let Some(app) = self.app.upgrade() else {
            return Vec::new();
        };
        app.sessions
            .list()
            .iter()
            .map(|h| LocalSession {
                id: h.meta.id,
                name: h.meta.name.clone(),
                created_at_ms: h.meta.created_at_ms,
                active: !h.is_exited(),
            })
            .collect()
    }

    fn has_session(&self, id_or_name: &str) -> bool {
        self.app
            .upgrade()
            .is_some_and(|app| app.sessions.get(id_or_name).is_ok())
    }

    fn subscribe(&self) -> Pin<Box<dyn Stream<Item = LocalFeed> + Send>> {
        use tokio::sync::broadcast::error::RecvError;
        let Some(app) = self.app.upgrade() else {
            return Box::pin(futures_util::stream::empty());
        };
        let rx = app.sessions.bus.subscribe();
        Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
            let item = match rx.recv().await {
                Ok(e) => LocalFeed::Event(LocalEvent {
                    id: e.id,
                    kind: e.kind.as_str().to_string(),
                    session_id: e.session_id,
                    session_name: e.session_name.clone(),
                    json: event_json(&e, Scope::Global),
                }),
                Err(RecvError::Lagged(n)) => LocalFeed::Lagged(n),
                Err(RecvError::Closed) => return None,
            };
            Some((item, rx))
        }))
    }

    fn execute(
        &self,
        request: http::Request<Bytes>,
        from: Forwarded,
    ) -> BoxFuture<'static, http::Response<BodyStream>> {
        let Some(app) = self.app.upgrade() else {
            return Box::pin(async { stopping() });
        };
        let mut service = warp::service(self.routes(app));
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            parts.extensions.insert(from);
            // The fleet carries the body whole and drops the caller's framing headers; the
            // routes read a body only when its length is announced (an absent length means
            // no body, as in HTTP/1.1), so announce it as the origin's client did.
            if !body.is_empty() {
                parts.headers.insert(
                    http::header::CONTENT_LENGTH,
                    http::HeaderValue::from(body.len()),
                );
            }
            let request = http::Request::from_parts(parts, http_body_util::Full::new(body));
            // Its own task: warp keeps the request being routed in a scoped thread-local and
            // panics on a nested route, which an in-process call made while a route of this
            // daemon runs (a fleet listing that asks this host too) would be. Aborted when
            // the caller stops waiting, as a dropped connection stops a route.
            let mut task = AbortOnDrop(tokio::spawn(async move {
                match tower_service::Service::call(&mut service, request).await {
                    Ok(r) => r,
                    Err(never) => match never {},
                }
            }));
            let response = match (&mut task.0).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = %e, "a forwarded request's route failed");
                    return failed();
                }
            };
            let (parts, body) = response.into_parts();
            http::Response::from_parts(parts, body_stream(body))
        })
    }

    fn refusal(&self, why: Refusal, message: &str) -> (u16, Bytes) {
        use warp::http::StatusCode;
        let (status, code) = match why {
            Refusal::Busy => (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::HostBusy),
            Refusal::Malformed => (StatusCode::BAD_REQUEST, ErrorCode::FleetProtocolError),
        };
        let error = ApiError::new(status, code, message);
        (status.as_u16(), Bytes::from(error.body_json()))
    }
}

/// A warp body as the fleet moves it: its data frames, in order (trailers carry nothing the
/// API uses).
fn body_stream<B>(body: B) -> BodyStream
where
    B: warp::hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    Box::pin(
        http_body_util::BodyStream::new(body).filter_map(|frame| async move {
            match frame {
                Ok(frame) => frame.into_data().ok().map(Ok),
                Err(e) => Some(Err(std::io::Error::other(e))),
            }
        }),
    )
}

/// A spawned task that is aborted when its owner drops it.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The answer while the daemon is shutting down (the app is gone).
fn stopping() -> http::Response<BodyStream> {
    error_answer(
        warp::http::StatusCode::SERVICE_UNAVAILABLE,
        "the daemon is shutting down",
    )
}

/// The answer when the route itself failed (it panicked): what a local call would have seen
/// as a dropped connection, in the API's error format.
fn failed() -> http::Response<BodyStream> {
    error_answer(
        warp::http::StatusCode::INTERNAL_SERVER_ERROR,
        "the route failed on the owning host",
    )
}

fn error_answer(status: warp::http::StatusCode, message: &str) -> http::Response<BodyStream> {
    let body = ApiError::new(status, ErrorCode::Internal, message).into_response();
    let (parts, body) = body.into_parts();
    http::Response::from_parts(parts, body_stream(body))
}
