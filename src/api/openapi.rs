//! The OpenAPI 3 description of the API, served at `GET /v1/openapi.json`.
//!
//! Which operations exist, at which path and method, with which path and query parameters,
//! request body and answer, comes from the route table the router is built from
//! ([`super::route`], [`super::declare`]); the schemas of those bodies and answers are
//! derived from the Rust types ([`super::schemas`]). What only prose can say is kept by hand
//! in fragments under `src/api/openapi/`: `base.json` holds the document's frame (info,
//! servers, the `bearerAuth` scheme, the shared `Error` response) and every other file
//! `{"paths": {...}, "components": {...}}` for one area of the API (summaries, descriptions,
//! tags, headers, streamed and non-JSON answers). `build.rs` lists the files, so a
//! new fragment is picked up without editing any shared list. Two fragments describing the
//! same operation, a fragment contradicting the table, a route without a fragment, a
//! fragment without a route, or a schema written in a fragment (a JSON body or answer, or a
//! component: those are derived) is a problem [`document`] reports, and the coverage test
//! (`tests/openapi.rs`) fails on it.

mod operations;

use std::sync::OnceLock;

use serde_json::{Map, Value};
use warp::Filter;
use warp::http::StatusCode;

use super::reply::finish;
use super::route::Table;

/// `(file name, contents)` of every fragment, base first is not required: [`merge`] finds it.
pub const FRAGMENTS: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/openapi_fragments.rs"));

/// The fragment that holds the document's frame.
const BASE: &str = "base.json";

/// Merge fragments into one document. Returns the document and the conflicts found (empty
/// when the fragments are consistent); on a conflict the first fragment's version is kept.
pub fn merge(fragments: &[(&str, &str)]) -> (Value, Vec<String>) {
    let mut problems = Vec::new();
    let mut parsed: Vec<(&str, Value)> = Vec::new();
    for (name, text) in fragments {
        match serde_json::from_str::<Value>(text) {
            Ok(v @ Value::Object(_)) => parsed.push((*name, v)),
            Ok(_) => problems.push(format!("{name}: not a JSON object")),
            Err(e) => problems.push(format!("{name}: invalid JSON: {e}")),
        }
    }
    // The base goes first so its components win and frame the document.
    parsed.sort_by_key(|(n, _)| (*n != BASE, *n));
    let mut doc = match parsed.first() {
        Some((n, v)) if *n == BASE => v.clone(),
        _ => {
            problems.push(format!("{BASE} is missing"));
            serde_json::json!({"openapi": "3.0.3", "info": {"title": "Aegis", "version": "0"}})
        }
    };
    // Who described each operation and component, to name both sides of a conflict.
    let mut owners: std::collections::HashMap<String, &str> = Default::default();
    for (name, frag) in &parsed {
        for (path, ops) in frag
            .get("paths")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let Some(ops) = ops.as_object() else {
                problems.push(format!("{name}: path {path} is not an object"));
                continue;
            };
            let target = object_at(&mut doc, &["paths", path.as_str()]);
            for (method, op) in ops {
                let key = format!("{} {path}", method.to_uppercase());
                if let Some(first) = owners.get(&key) {
                    problems.push(format!("{key} is described by both {first} and {name}"));
                    continue;
                }
                owners.insert(key, *name);
                target.insert(method.clone(), op.clone());
            }
        }
        let sections = frag.get("components").and_then(Value::as_object);
        for (section, items) in sections.into_iter().flatten() {
            let target = object_at(&mut doc, &["components", section.as_str()]);
            for (item, def) in items.as_object().into_iter().flatten() {
                let key = format!("components/{section}/{item}");
                match target.get(item) {
                    Some(existing) if existing != def => problems.push(format!(
                        "{key} is defined differently by {} and {name}",
                        owners.get(&key).copied().unwrap_or("?")
                    )),
                    Some(_) => {
                        owners.entry(key).or_insert(*name);
                    }
                    None => {
                        owners.insert(key, *name);
                        target.insert(item.clone(), def.clone());
                    }
                }
            }
        }
    }
    (doc, problems)
}

/// The object at `path` inside `doc`, created (or replaced, if not an object) as needed.
fn object_at<'a>(doc: &'a mut Value, path: &[&str]) -> &'a mut Map<String, Value> {
    let mut cur = doc;
    for key in path {
        let obj = ensure_object(cur);
        cur = obj
            .entry((*key).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    ensure_object(cur)
}

fn ensure_object(v: &mut Value) -> &mut Map<String, Value> {
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    match v {
        Value::Object(m) => m,
        _ => unreachable!("just made an object"),
    }
}

/// The whole document: the fragments merged, the route table's operations laid over them
/// ([`operations`]), and the schemas derived from the code ([`super::schemas`]) added. Returns the problems found too: fragment conflicts, a
/// fragment defining a schema the code derives, a `$ref` to a schema nobody defines.
pub fn document() -> (Value, Vec<String>) {
    let (mut doc, mut problems) = merge(FRAGMENTS);
    problems.extend(hand_written_schemas(FRAGMENTS));
    let mut derived = super::schemas::Derived::new();
    operations::join(&mut doc, &mut derived, &mut problems);
    let (definitions, clashes) = derived.definitions();
    problems.extend(clashes);
    let schemas = object_at(&mut doc, &["components", "schemas"]);
    for (name, schema) in definitions {
        if schemas.contains_key(&name) {
            problems.push(format!(
                "components/schemas/{name} is derived from the code; remove it from the fragment"
            ));
        }
        schemas.insert(name, schema);
    }
    let mut refs = Vec::new();
    references(&doc, &mut refs);
    for r in refs {
        let known = r.strip_prefix('#').and_then(|p| doc.pointer(p)).is_some();
        if !known {
            problems.push(format!("{r} is referenced but not defined"));
        }
    }
    (doc, problems)
}

/// The schemas a fragment writes by hand where the code should derive them: a component
/// schema, an operation's JSON request body, or a JSON success answer. Each is the type of a
/// route's body or answer, declared in the route table (`.body::<T>()`, `.answers::<T>()`).
fn hand_written_schemas(fragments: &[(&str, &str)]) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, text) in fragments {
        let Ok(frag) = serde_json::from_str::<Value>(text) else {
            continue;
        };
        for schema in frag["components"]["schemas"]
            .as_object()
            .into_iter()
            .flatten()
        {
            problems.push(format!(
                "{name} writes components/schemas/{} by hand; derive it from a type",
                schema.0
            ));
        }
        for (path, item) in frag["paths"].as_object().into_iter().flatten() {
            for (method, op) in item.as_object().into_iter().flatten() {
                let at = format!("{} {path}", method.to_uppercase());
                if op
                    .pointer("/requestBody/content/application~1json/schema")
                    .is_some()
                {
                    problems.push(format!(
                        "{name}: {at} has a hand-written JSON body schema; declare the body type in the route table"
                    ));
                }
                let answers = op["responses"].as_object().into_iter().flatten();
                for (status, answer) in answers.filter(|(s, _)| s.starts_with('2')) {
                    if answer
                        .pointer("/content/application~1json/schema")
                        .is_some()
                    {
                        problems.push(format!(
                            "{name}: {at} answers {status} with a hand-written schema; declare the answer type in the route table"
                        ));
                    }
                }
            }
        }
    }
    problems
}

/// Every `$ref` in `v`, depth first.
fn references(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r.clone());
            }
            m.values().for_each(|v| references(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| references(v, out)),
        _ => {}
    }
}

/// The whole document, built once. Conflicts are logged; the coverage test catches them
/// before they ship.
pub fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let (mut doc, problems) = document();
        for p in problems {
            tracing::warn!(problem = %p, "OpenAPI document problem");
        }
        if let Some(v) = doc.get_mut("info").and_then(Value::as_object_mut) {
            v.insert("version".into(), env!("CARGO_PKG_VERSION").into());
        }
        doc
    })
}

/// `GET /openapi.json`: this document.
#[derive(serde::Serialize)]
#[serde(transparent)]
struct Document(&'static Value);

impl schemars::JsonSchema for Document {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "OpenApiDocument".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "object",
            "description": "An OpenAPI 3.0 document: this one.",
            "additionalProperties": true,
        })
    }
}

/// `GET /openapi.json` (under `/v1` and unversioned; the caller adds the prefix).
pub fn routes(t: &mut Table) {
    t.route(
        super::route::get("/openapi.json").answers::<Document>(),
        |p, _| {
            p.none().then(|| async {
                finish(Ok(super::reply::json(StatusCode::OK, &Document(spec()))))
            })
        },
    );
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // reason: a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn conflicts_name_both_fragments() {
        let base = r#"{"openapi":"3.0.3","paths":{},"components":{"schemas":{"Error":{"type":"object"}}}}"#;
        let a = r#"{"paths":{"/v1/x":{"get":{"responses":{}}}},"components":{"schemas":{"A":{"type":"string"}}}}"#;
        let b = r#"{"paths":{"/v1/x":{"get":{"responses":{}},"post":{"responses":{}}}},"components":{"schemas":{"A":{"type":"integer"},"Error":{"type":"object"}}}}"#;
        let (doc, problems) = merge(&[("b.json", b), (BASE, base), ("a.json", a)]);
        assert_eq!(
            problems,
            vec![
                "GET /v1/x is described by both a.json and b.json".to_owned(),
                "components/schemas/A is defined differently by a.json and b.json".to_owned(),
            ]
        );
        assert!(doc["paths"]["/v1/x"]["post"].is_object());
        assert_eq!(doc["components"]["schemas"]["A"]["type"], "string");
    }

    #[test]
    fn schemas_written_by_hand_are_problems() {
        let frag = r##"{"paths":{"/v1/x":{"post":{
            "requestBody":{"content":{"application/json":{"schema":{"type":"object"}}}},
            "responses":{"200":{"content":{"application/json":{"schema":{"type":"object"}}}},
                         "404":{"content":{"application/json":{"schema":{"$ref":"#/components/schemas/Error"}}}}}}}},
            "components":{"schemas":{"X":{"type":"object"}}}}"##;
        let problems = hand_written_schemas(&[("x.json", frag)]);
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(
            problems[0].contains("components/schemas/X"),
            "{problems:#?}"
        );
        assert!(problems[1].contains("body"), "{problems:#?}");
        assert!(problems[2].contains("answers 200"), "{problems:#?}");
    }

    #[test]
    fn shipped_document_is_consistent() {
        let (doc, problems) = document();
        assert!(
            problems.is_empty(),
            "OpenAPI fragment problems: {problems:#?}"
        );
        assert_eq!(doc["openapi"], "3.0.3");
    }
}
