//! The wire shapes of the fleet routes: the hosts as this node sees them (converted from
//! `crate::fleet`'s views), and sessions as their owning hosts answered them, each with its
//! host. A session travels as the JSON its host sent (the host may run another version), so
//! its type here is that JSON, described by the local session's schema.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::api::wire::{CreateSessionRequest, Pagination, SessionInfo};
use crate::fleet::membership::{HostState, HostView};

fn host_states(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "string", "enum": HostState::ALL.map(HostState::as_str)})
}

/// One host of the fleet as the answering node sees it.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "FleetHost")]
pub struct Host {
    host: String,
    #[schemars(schema_with = "host_states")]
    state: &'static str,
    version: String,
    /// Where this host's API is advertised (for WebSocket streams and attach, which do not
    /// travel over NATS).
    url: Option<String>,
    sessions: HostSessions,
    /// RFC 3339, from the host's own clock.
    last_heartbeat: String,
    /// Milliseconds since the answering node received the host's last heartbeat.
    last_heartbeat_age_ms: u64,
    /// RFC 3339.
    started_at: String,
    /// Changes when the host's daemon restarts.
    #[schemars(with = "String")]
    boot_id: uuid::Uuid,
    /// This is the node that answered.
    #[serde(rename = "self")]
    is_self: bool,
}

/// A host's sessions, as its last heartbeat counted them.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "FleetHostSessions")]
struct HostSessions {
    total: usize,
    active: usize,
}

impl From<HostView> for Host {
    fn from(v: HostView) -> Host {
        Host {
            host: v.host,
            state: v.state.as_str(),
            version: v.version,
            url: v.url,
            sessions: HostSessions {
                total: v.sessions.total,
                active: v.sessions.active,
            },
            last_heartbeat: v.last_heartbeat,
            last_heartbeat_age_ms: v.last_heartbeat_age_ms,
            started_at: v.started_at,
            boot_id: v.boot_id,
            is_self: v.is_self,
        }
    }
}

/// `GET /v1/fleet/hosts`: every host the fleet knows.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "FleetHosts")]
pub struct Hosts {
    pub hosts: Vec<Host>,
    /// The answering node's host id.
    #[serde(rename = "self")]
    pub this: String,
}

/// A session as its owning host answered it, with that host.
#[derive(Debug, Serialize, JsonSchema)]
pub struct FleetSession {
    #[serde(flatten)]
    #[schemars(with = "SessionInfo")]
    pub session: Map<String, Value>,
    /// The host whose daemon owns the session (its pty lives there).
    pub host: String,
}

/// `GET /v1/fleet/sessions`: every host's sessions in creation order, one page of them.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "FleetSessionList")]
pub struct SessionList {
    pub sessions: Vec<FleetSession>,
    pub total: usize,
    pub pagination: Pagination,
    /// Hosts whose sessions are missing from the list: down, or failing to answer.
    pub unreachable_hosts: Vec<Unreachable>,
}

/// A host the listing could not ask.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "UnreachableHost")]
pub struct Unreachable {
    pub host: String,
    /// How many sessions the fleet's directory places there.
    pub sessions: usize,
    /// Why asking failed (absent when the host is known to be down).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `POST /v1/fleet/sessions` body: a session to create on a host of the fleet. Every field of
/// `POST /v1/sessions` is passed on to that host, which validates them as its own route does.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "FleetCreateSessionRequest")]
pub struct CreateRequest {
    /// The host to create on; the least-loaded up host when absent or null.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub host: Value,
    #[serde(flatten)]
    #[schemars(with = "CreateSessionRequest")]
    pub session: Map<String, Value>,
}
