//! The boundary between the fleet and the rest of the daemon: [`LocalNode`], which the
//! composition root implements over its session registry, event bus and HTTP routing. The
//! fleet never reaches into sessions or API internals; everything it needs from this host
//! goes through this trait, and everything it shows of this host comes out of it.

use std::pin::Pin;

use bytes::Bytes;
use futures_util::Stream;
use futures_util::future::BoxFuture;

/// A response body as the fleet moves it: chunks as the route produces them (one for a JSON
/// answer, many for SSE or a recording), ending when the route's body ends.
pub type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// One session of this host, as the directory records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSession {
    pub id: uuid::Uuid,
    pub name: String,
    /// Milliseconds since the Unix epoch.
    pub created_at_ms: u64,
    /// Not exited.
    pub active: bool,
}

/// One event of this host's bus, already in its wire form.
#[derive(Debug, Clone)]
pub struct LocalEvent {
    /// The local bus id (restarts at 1 with each daemon life).
    pub id: u64,
    /// The event type, `session.created`, `session.idle`, ... (dots allowed: they become
    /// subject tokens).
    pub kind: String,
    pub session_id: uuid::Uuid,
    pub session_name: String,
    /// The event exactly as `GET /v1/events` serializes it.
    pub json: serde_json::Value,
}

/// What the local bus hands the fleet: an event, or how many it missed by lagging.
#[derive(Debug, Clone)]
pub enum LocalFeed {
    Event(LocalEvent),
    Lagged(u64),
}

/// Who sent a forwarded request, for the owner's audit log and its trust decision. The node
/// that received the HTTP request already authorized it; the owner trusts it because only
/// fleet peers may publish on its request subject (NATS permissions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarded {
    /// The host whose API received the request.
    pub origin_host: String,
    /// Who the origin authenticated (`master`, `key:<name>`, `open`), for the audit log.
    pub principal: String,
}

/// Why the owner of a session refuses a forwarded request without running it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// It is serving as many forwarded requests as it takes at once
    /// ([`super::forward::MAX_INFLIGHT`]); the requester may retry.
    Busy,
    /// The request message is malformed or of another protocol version.
    Malformed,
}

/// This host, as the fleet sees it.
pub trait LocalNode: Send + Sync + 'static {
    /// Every session of this host (live and exited, not yet removed).
    fn sessions(&self) -> Vec<LocalSession>;

    /// Whether `id_or_name` names a session of this host.
    fn has_session(&self, id_or_name: &str) -> bool;

    /// Events of this host's bus from now on. The stream never waits for the fleet: a
    /// subscriber that falls behind sees [`LocalFeed::Lagged`].
    fn subscribe(&self) -> Pin<Box<dyn Stream<Item = LocalFeed> + Send>>;

    /// Run a request through this host's own HTTP routing, as a trusted fleet peer, and
    /// answer with its status, headers and body (streamed: SSE stays open until the body
    /// stream is dropped).
    fn execute(
        &self,
        request: http::Request<Bytes>,
        from: Forwarded,
    ) -> BoxFuture<'static, http::Response<BodyStream>>;

    /// The answer refusing a forwarded request for `why`, as this host's API would answer
    /// an error (its HTTP status and JSON body): the fleet knows no wire format of the API.
    /// `message` says why, for a human.
    fn refusal(&self, why: Refusal, message: &str) -> (u16, Bytes);
}
