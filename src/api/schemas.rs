//! The schemas of the OpenAPI document that are derived from the code. The request and
//! response types of [`super::wire`] and of the route modules (and the error body) describe
//! themselves with `schemars`; each route of the table ([`super::route`]) names the types it
//! reads and writes, and [`Derived`] turns them into OpenAPI 3.0 `components/schemas`, so
//! what the document says a route sends is what the type the route serializes holds. The
//! hand-written fragments of [`super::openapi`] may refer to these schemas by name and define
//! none.
//!
//! The vocabulary fields (status, agent type, ...) are plain strings in the wire types; the
//! `schema_with` functions here give them their closed set of values, read from the same
//! constants that parse and print them. An optional field with such a schema also needs
//! `#[serde(default)]`: the custom schema hides the `Option` from schemars, which would
//! otherwise list the field as required.
//!
//! A request field that also answers to Aegis v0.3's name (`#[serde(alias)]`, which schemars
//! does not see) takes `#[schemars(transform = Alias("v03Name", "ourName"))]` on its struct,
//! so the document lists the alias too and a client that validates against it accepts what
//! the server accepts.

use schemars::generate::{Contract, SchemaSettings};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::{Map, Value};

use super::error::{ErrorBody, ErrorCode};
use crate::vocab::{AgentType, PermissionMode, SessionStatus};

/// A string that is one of `values`.
fn string_enum(values: impl IntoIterator<Item = &'static str>) -> Schema {
    let values: Vec<&str> = values.into_iter().collect();
    json_schema!({"type": "string", "enum": values})
}

pub fn session_status(_: &mut SchemaGenerator) -> Schema {
    string_enum(SessionStatus::ALL.map(SessionStatus::as_str))
}

pub fn agent_type(_: &mut SchemaGenerator) -> Schema {
    string_enum(AgentType::ALL.map(AgentType::as_str))
}

pub fn permission_mode(_: &mut SchemaGenerator) -> Schema {
    string_enum(PermissionMode::ALL.map(PermissionMode::as_str))
}

pub fn permission_kind(_: &mut SchemaGenerator) -> Schema {
    string_enum(crate::detect::profile::PermissionKind::ALL.map(|k| k.as_str()))
}

/// A permission kind, or null.
pub fn permission_kind_or_null(g: &mut SchemaGenerator) -> Schema {
    nullable(permission_kind(g))
}

/// An agent type, or null.
pub fn agent_type_or_null(g: &mut SchemaGenerator) -> Schema {
    nullable(agent_type(g))
}

pub fn detect_evidence(_: &mut SchemaGenerator) -> Schema {
    string_enum(crate::detect::Evidence::ALL.map(crate::detect::Evidence::as_str))
}

pub fn key_scopes(_: &mut SchemaGenerator) -> Schema {
    let scopes = crate::store::keys::Scope::ALL.map(|s| s.as_str());
    json_schema!({"type": "array", "items": {"type": "string", "enum": scopes}})
}

/// A UUID, written as text.
pub fn uuid(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "string", "format": "uuid"})
}

/// A UUID, or null.
pub fn uuid_or_null(g: &mut SchemaGenerator) -> Schema {
    nullable(uuid(g))
}

/// A status, or null (an event that is no status change).
pub fn session_status_or_null(g: &mut SchemaGenerator) -> Schema {
    nullable(session_status(g))
}

pub fn event_kind(_: &mut SchemaGenerator) -> Schema {
    string_enum(crate::events::EventKind::ALL.map(|k| k.as_str()))
}

/// The frames of an event stream that are no bus event.
pub fn notice_kind(_: &mut SchemaGenerator) -> Schema {
    string_enum(["connected", "heartbeat", "reset"])
}

pub fn event_kinds(_: &mut SchemaGenerator) -> Schema {
    let kinds = crate::events::EventKind::ALL.map(|k| k.as_str());
    json_schema!({"type": "array", "items": {"type": "string", "enum": kinds}})
}

/// What `GET /v1/sessions?status=` filters by: a status or a UI state.
pub fn status_filter(_: &mut SchemaGenerator) -> Schema {
    let mut names: Vec<&'static str> = SessionStatus::ALL.map(SessionStatus::as_str).to_vec();
    for &ui in super::uistate::UI_STATES {
        if !names.contains(&ui) {
            names.push(ui);
        }
    }
    string_enum(names)
}

/// How `GET /v1/sessions/{id}/read` renders the screen.
pub fn screen_format(_: &mut SchemaGenerator) -> Schema {
    string_enum(["text", "ansi"])
}

/// The WebSocket's `readonly`: on as `1`, `true` or empty, off as `0` or `false`.
pub fn readonly(_: &mut SchemaGenerator) -> Schema {
    string_enum(["1", "0", "true", "false", ""])
}

/// A flag given as `true` or `false`.
pub fn flag(_: &mut SchemaGenerator) -> Schema {
    string_enum(["true", "false"])
}

pub fn ui_state(_: &mut SchemaGenerator) -> Schema {
    string_enum(super::uistate::UI_STATES.iter().copied())
}

/// A second name a request field answers to: `Alias(alias, field)` adds `alias` to the
/// struct's properties, with the field's schema and a description saying which field it is.
pub struct Alias(pub &'static str, pub &'static str);

impl schemars::transform::Transform for Alias {
    fn transform(&mut self, schema: &mut Schema) {
        let Alias(alias, field) = *self;
        let properties = schema.get_mut("properties").and_then(Value::as_object_mut);
        let Some(properties) = properties else {
            return;
        };
        let Some(mut described) = properties.get(field).cloned() else {
            return;
        };
        if let Some(m) = described.as_object_mut() {
            m.insert(
                "description".into(),
                format!(
                    "Aegis v0.3's name of `{field}`, accepted in its place (give one of the two)."
                )
                .into(),
            );
        }
        properties.insert(alias.into(), described);
    }
}

pub fn policy_profile(_: &mut SchemaGenerator) -> Schema {
    use crate::permissions::policy::PolicyProfile;
    string_enum(PolicyProfile::ALL.map(PolicyProfile::as_str))
}

pub fn pipeline_status(_: &mut SchemaGenerator) -> Schema {
    use crate::orchestrate::pipelines::Status;
    string_enum(Status::OF_PIPELINE.map(Status::as_str))
}

pub fn stage_status(_: &mut SchemaGenerator) -> Schema {
    use crate::orchestrate::pipelines::Status;
    string_enum(Status::ALL.map(Status::as_str))
}

pub fn review_status(_: &mut SchemaGenerator) -> Schema {
    use crate::orchestrate::consensus::ReviewStatus;
    string_enum(ReviewStatus::ALL.map(ReviewStatus::as_str))
}

pub fn reviewer_status(_: &mut SchemaGenerator) -> Schema {
    use crate::orchestrate::consensus::ReviewerStatus;
    string_enum(ReviewerStatus::ALL.map(ReviewerStatus::as_str))
}

/// A review's verdict, null until it finished.
pub fn decision(_: &mut SchemaGenerator) -> Schema {
    use crate::orchestrate::consensus::Decision;
    nullable(string_enum(Decision::ALL.map(Decision::as_str)))
}

/// A reviewer's verdict, null until it gave one.
pub fn vote(_: &mut SchemaGenerator) -> Schema {
    use crate::orchestrate::consensus::Decision;
    nullable(string_enum(Decision::VOTES.map(Decision::as_str)))
}

/// `schema`, or null (a response field of an `Option` with a schema of its own).
fn nullable(mut schema: Schema) -> Schema {
    schema.insert("nullable".into(), true.into());
    schema
}

/// How a criterion fared over every verdict.
pub fn mark(_: &mut SchemaGenerator) -> Schema {
    use crate::orchestrate::consensus::Mark;
    string_enum(Mark::ALL.map(Mark::as_str))
}

/// Pass or fail per criterion, as one reviewer judged it.
pub fn marks_by_criterion(_: &mut SchemaGenerator) -> Schema {
    use crate::orchestrate::consensus::Mark;
    let marks = string_enum(Mark::JUDGED.map(Mark::as_str));
    json_schema!({"type": "object", "additionalProperties": marks})
}

impl JsonSchema for ErrorCode {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ErrorCode".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let mut schema = string_enum(ErrorCode::ALL.map(ErrorCode::as_str));
        schema.insert(
            "description".into(),
            "What went wrong, for a program to branch on; `error` says it for a human.".into(),
        );
        schema
    }
}

/// A generator for one direction of the wire: requests are described as the server reads
/// them (a field with a default is optional), responses as it writes them (a field skipped
/// when empty is optional, a nullable one is required).
fn generator(contract: Contract) -> SchemaGenerator {
    SchemaSettings::openapi3()
        .with(|s| s.contract = contract)
        .into_generator()
}

/// The schema generators of both directions. The route table's body and answer types are
/// added as the document describes each route; [`Derived::new`] registers the types that
/// only the fragments name.
pub struct Derived {
    pub requests: SchemaGenerator,
    pub responses: SchemaGenerator,
}

impl Derived {
    pub fn new() -> Derived {
        let requests = generator(Contract::Deserialize);
        let mut responses = generator(Contract::Serialize);
        // Every route answers its errors in this shape; `base.json`'s `Error` response
        // refers to it.
        responses.subschema_for::<ErrorBody>();
        // What the event streams and webhook deliveries carry, which the fragments of
        // those operations name (their bodies are not JSON answers of the route table).
        responses.subschema_for::<super::event_wire::EventWire>();
        responses.subschema_for::<super::event_wire::EventNotice>();
        responses.subschema_for::<super::event_wire::WebhookDelivery>();
        Derived {
            requests,
            responses,
        }
    }

    /// Every schema derived, by component name, and the names given to two different
    /// schemas: a type read in requests and written in answers whose two schemas differ (a
    /// field with a default is optional to send but always written) needs a type per
    /// direction.
    pub fn definitions(mut self) -> (Map<String, Value>, Vec<String>) {
        let mut out = self.requests.take_definitions(true);
        let mut clashes = Vec::new();
        for (name, schema) in self.responses.take_definitions(true) {
            if out.get(&name).is_some_and(|read| *read != schema) {
                clashes.push(format!(
                    "components/schemas/{name} is derived differently for requests and answers; \
                     give each direction a type of its own"
                ));
            }
            out.insert(name, schema);
        }
        out.values_mut().for_each(nullable_references);
        out.values_mut().for_each(null_defaults_nullable);
        (out, clashes)
    }
}

impl Default for Derived {
    fn default() -> Derived {
        Derived::new()
    }
}

/// OpenAPI 3.0 has no `null` type: an `Option` of a named schema comes out of schemars as
/// `anyOf: [{$ref}, {enum: [null]}]`, which generators read as a union with nothing. 3.0's
/// own spelling is a nullable `allOf` of the one reference.
fn nullable_references(v: &mut Value) {
    match v {
        Value::Object(m) => {
            let pair = m.get("anyOf").and_then(Value::as_array).and_then(|a| {
                let is_null = |s: &Value| s.get("enum") == Some(&serde_json::json!([null]));
                match a.as_slice() {
                    [x, n] | [n, x] if is_null(n) && !is_null(x) => Some(x.clone()),
                    _ => None,
                }
            });
            if let Some(inner) = pair {
                m.remove("anyOf");
                m.insert("allOf".into(), Value::Array(vec![inner]));
                m.insert("nullable".into(), Value::Bool(true));
            }
            m.values_mut().for_each(nullable_references);
        }
        Value::Array(a) => a.iter_mut().for_each(nullable_references),
        _ => {}
    }
}

/// A property whose default is null is an `Option` (serde fills a missing field with
/// `None`), and serde reads an `Option` from null too: say so. schemars does for a plain
/// `Option`, but not for one whose schema is given by a `schema_with` function (the
/// vocabulary enums above), which describes the value only.
fn null_defaults_nullable(v: &mut Value) {
    match v {
        Value::Object(m) => {
            let properties = m.get_mut("properties").and_then(Value::as_object_mut);
            for property in properties.into_iter().flatten().map(|(_, p)| p) {
                if let Value::Object(p) = property
                    && p.get("default") == Some(&Value::Null)
                {
                    p.insert("nullable".into(), Value::Bool(true));
                }
            }
            m.values_mut().for_each(null_defaults_nullable);
        }
        Value::Array(a) => a.iter_mut().for_each(null_defaults_nullable),
        _ => {}
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // reason: a failed unwrap is a failed test
mod tests {
    use super::*;

    /// The schemas of the document: those the route table's types derive.
    fn components() -> Map<String, Value> {
        let (doc, _) = crate::api::openapi::document();
        doc["components"]["schemas"].as_object().unwrap().clone()
    }

    #[test]
    fn responses_name_their_fields_as_the_wire_does() {
        let c = components();
        let session = &c["Session"]["properties"];
        for key in ["id", "workDir", "uiState", "actionHints", "historyLines"] {
            assert!(session.get(key).is_some(), "Session lacks {key}: {session}");
        }
        // A field skipped when empty is optional; one always written is required.
        let required = c["Session"]["required"].as_array().unwrap();
        assert!(required.contains(&"id".into()));
        assert!(!required.contains(&"exitCode".into()));
        assert_eq!(c["Session"]["properties"]["status"]["enum"][1], "idle");
    }

    #[test]
    fn requests_refuse_unknown_fields() {
        let c = components();
        assert_eq!(c["CreateSessionRequest"]["additionalProperties"], false);
        assert!(c["CreateSessionRequest"]["properties"]["historyBytes"].is_object());
    }

    #[test]
    fn optional_request_fields_accept_null() {
        let c = components();
        for (schema, field) in [
            ("CreateSessionRequest", "agentType"),
            ("CreateSessionRequest", "permissionMode"),
            ("TemplateRequest", "permissionProfile"),
            ("PolicyRuleRequest", "kind"),
            ("BatchDeleteRequest", "status"),
            ("CreateSessionRequest", "workDir"),
        ] {
            let p = &c[schema]["properties"][field];
            assert_eq!(p["nullable"], true, "{schema}.{field}: {p}");
        }
        // A field with another default does not accept null.
        assert!(c["DispatchRequest"]["properties"]["keepWorktree"]["nullable"].is_null());
    }

    #[test]
    fn an_optional_reference_is_a_nullable_all_of() {
        let c = components();
        let usage = &c["ReadResponse"]["properties"]["tokenUsage"];
        assert_eq!(usage["nullable"], true, "{usage}");
        assert_eq!(usage["allOf"][0]["$ref"], "#/components/schemas/TokenUsage");
        assert!(usage.get("anyOf").is_none());
    }

    #[test]
    fn references_point_into_components() {
        let c = components();
        let text = serde_json::to_string(&c).unwrap();
        for (i, _) in text.match_indices("\"$ref\":\"") {
            let rest = &text[i + 8..];
            assert!(
                rest.starts_with("#/components/schemas/"),
                "a reference outside components: {}",
                &rest[..rest.len().min(60)]
            );
            let name = &rest["#/components/schemas/".len()..];
            let name = &name[..name.find('"').unwrap()];
            assert!(c.contains_key(name), "{name} is referenced but not derived");
        }
    }
}
