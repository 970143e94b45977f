//! The document's operations from the route table ([`crate::api::route`]): each route served
//! becomes an operation at its path and method, with its path parameters, its query
//! parameters (the fields of the struct its handler reads the query into), the schema of the
//! body it reads and of the answer it writes. The fragments add what only prose can say
//! (summary, description, tags, headers, other answers) on top. A fragment that
//! describes a route the server does not have, a route no fragment describes, or a fragment
//! that says something else than the table about a route's body, answer or parameters (or
//! names a query parameter the route does not read), is a problem the coverage test fails
//! on.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use super::object_at;
use crate::api::route::{Spec, Table};
use crate::api::schemas::Derived;

/// What the route table says about `spec`, as an OpenAPI operation.
fn operation(spec: &Spec, derived: &mut Derived) -> Value {
    let mut op = Map::new();
    let mut parameters: Vec<Value> = spec
        .parameters()
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    parameters.extend(query_parameters(spec, derived));
    if !parameters.is_empty() {
        op.insert("parameters".into(), parameters.into());
    }
    if let Some(body) = spec.body {
        let schema = body(&mut derived.requests);
        op.insert(
            "requestBody".into(),
            json!({
                "required": !spec.body_optional,
                "content": {"application/json": {"schema": schema}},
            }),
        );
    }
    let mut responses = Map::new();
    for (status, answer) in &spec.answers {
        let schema = answer(&mut derived.responses);
        responses.insert(
            status.to_string(),
            json!({"content": {"application/json": {"schema": schema}}}),
        );
    }
    if !responses.is_empty() {
        op.insert("responses".into(), Value::Object(responses));
    }
    Value::Object(op)
}

/// The query parameters of `spec`: one per property of its query struct's schema, with
/// the property's description, and required when the struct requires it.
fn query_parameters(spec: &Spec, derived: &mut Derived) -> Vec<Value> {
    let Some(describe) = spec.query else {
        return Vec::new();
    };
    let schema = describe(&mut derived.requests);
    let required: HashSet<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let properties = schema.get("properties").and_then(Value::as_object);
    let mut out = Vec::new();
    for (name, property) in properties.into_iter().flatten() {
        let mut property = property.clone();
        let mut parameter =
            json!({"name": name, "in": "query", "required": required.contains(name.as_str())});
        if let Value::Object(p) = &mut property {
            // A query parameter is left out, never null (and an `Option`'s schema, taken
            // inline, is still JSON Schema's `[T, "null"]`, which OpenAPI 3.0 lacks).
            p.remove("nullable");
            if let Some(Value::Array(types)) = p.get("type") {
                let kept: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
                if let [one] = kept.as_slice() {
                    p.insert("type".into(), one.clone());
                }
            }
            if p.get("default") == Some(&Value::Null) {
                p.remove("default");
            }
            if let Some(d) = p.remove("description") {
                parameter["description"] = d;
            }
        }
        parameter["schema"] = property;
        out.push(parameter);
    }
    out
}

/// Lay `from` (the table's) over `onto` (the fragment's): what the fragment lacks is added,
/// what it says differently is a problem named by `at`. Parameters are matched by their
/// place and name, not their position.
fn overlay(
    onto: &mut Map<String, Value>,
    from: &Map<String, Value>,
    at: &str,
    problems: &mut Vec<String>,
) {
    for (key, value) in from {
        let here = format!("{at}/{key}");
        match (onto.get_mut(key), value) {
            (None, v) => {
                onto.insert(key.clone(), v.clone());
            }
            (Some(Value::Array(mine)), Value::Array(theirs)) if key == "parameters" => {
                overlay_parameters(mine, theirs, &here, problems);
            }
            (Some(Value::Object(mine)), Value::Object(theirs)) => {
                overlay(mine, theirs, &here, problems);
            }
            (Some(mine), theirs) if mine != theirs => problems.push(format!(
                "{here}: the fragment says {mine}, the route table {theirs}"
            )),
            _ => {}
        }
    }
}

fn overlay_parameters(
    mine: &mut Vec<Value>,
    theirs: &[Value],
    at: &str,
    problems: &mut Vec<String>,
) {
    let key = |p: &Value| (p["in"].clone(), p["name"].clone());
    let derived: HashSet<_> = theirs.iter().map(key).collect();
    unknown_parameters(mine, &derived, at, problems);
    merge_parameters(mine, theirs, at, problems);
}

/// Lay each of `theirs` over the parameter of `mine` with its place and name, or add it.
fn merge_parameters(mine: &mut Vec<Value>, theirs: &[Value], at: &str, problems: &mut Vec<String>) {
    let key = |p: &Value| (p["in"].clone(), p["name"].clone());
    for theirs in theirs {
        match mine.iter_mut().find(|p| key(p) == key(theirs)) {
            Some(Value::Object(m)) => {
                if let Value::Object(t) = theirs {
                    overlay(m, t, &format!("{at}/{}", theirs["name"]), problems);
                }
            }
            _ => mine.push(theirs.clone()),
        }
    }
}

/// Report the parameters of `mine` (a fragment's) that the table does not derive: a path
/// parameter not in the route's path, a query parameter not a field of its query type.
fn unknown_parameters(
    mine: &[Value],
    derived: &HashSet<(Value, Value)>,
    at: &str,
    problems: &mut Vec<String>,
) {
    for p in mine {
        if derived.contains(&(p["in"].clone(), p["name"].clone())) {
            continue;
        }
        match p["in"].as_str() {
            Some("path") => problems.push(format!(
                "{at}: path parameter {} is not in the route's path",
                p["name"]
            )),
            Some("query") => problems.push(format!(
                "{at}: query parameter {} is not a field of the route's query type",
                p["name"]
            )),
            _ => {}
        }
    }
}

/// Add every route of the table to `doc` (whose paths hold the fragments' prose), reporting
/// what disagrees.
pub fn join(doc: &mut Value, derived: &mut Derived, problems: &mut Vec<String>) {
    let mut table = Table::describing();
    crate::api::declare(&mut table);
    let mut served = HashSet::new();
    for (group, spec) in table.specs() {
        let path = if group.versioned() {
            format!("/v1{}", spec.path)
        } else {
            spec.path.to_owned()
        };
        let method = spec.method.key();
        let name = format!("{} {path}", method.to_uppercase());
        if !served.insert((path.clone(), method)) {
            problems.push(format!("{name} is in the route table twice"));
            continue;
        }
        let described = doc.pointer(&format!("/paths/{}/{method}", pointer_escape(&path)));
        if described.is_none() {
            problems.push(format!("{name} is served but no fragment describes it"));
        }
        let Value::Object(from) = operation(spec, derived) else {
            continue;
        };
        let onto = object_at(doc, &["paths", path.as_str(), method]);
        if !from.contains_key("parameters")
            && let Some(Value::Array(mine)) = onto.get("parameters")
        {
            unknown_parameters(mine, &HashSet::new(), &name, problems);
        }
        overlay(onto, &from, &name, problems);
        // Every answer needs a description; one the fragment leaves out says what it is.
        for (_, answer) in onto
            .get_mut("responses")
            .and_then(Value::as_object_mut)
            .into_iter()
            .flatten()
        {
            if let Value::Object(a) = answer
                && !a.contains_key("description")
                && !a.contains_key("$ref")
            {
                a.insert("description".into(), "Success".into());
            }
        }
    }
    for (group, spec) in table.takeovers() {
        let declared = table
            .specs()
            .iter()
            .any(|(g, s)| g == group && s.method == spec.method && s.path == spec.path);
        // The query parameters only the takeover reads are the route's too.
        let extra = query_parameters(spec, derived);
        if declared && !extra.is_empty() {
            let path = if group.versioned() {
                format!("/v1{}", spec.path)
            } else {
                spec.path.to_owned()
            };
            let op = object_at(doc, &["paths", path.as_str(), spec.method.key()]);
            let list = op.entry("parameters").or_insert_with(|| json!([]));
            if let Value::Array(list) = list {
                let name = format!("{} {path}", spec.method.key().to_uppercase());
                merge_parameters(list, &extra, &name, problems);
            }
        }
        if !declared {
            problems.push(format!(
                "{} {} takes over a route the table does not declare",
                spec.method.key().to_uppercase(),
                spec.path
            ));
        }
    }
    let paths = doc.get("paths").and_then(Value::as_object);
    for (path, item) in paths.into_iter().flatten() {
        for method in item.as_object().into_iter().flatten().map(|(m, _)| m) {
            let is_operation =
                matches!(method.as_str(), "get" | "post" | "put" | "patch" | "delete");
            if is_operation && !served.contains(&(path.clone(), method.as_str())) {
                problems.push(format!(
                    "{} {path} is described but the route table has no such route",
                    method.to_uppercase()
                ));
            }
        }
    }
}

/// `path` as one JSON pointer token (`~` and `/` escaped).
fn pointer_escape(path: &str) -> String {
    path.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // reason: a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn the_fragment_adds_prose_and_may_not_contradict_the_table() {
        let mut onto = json!({
            "summary": "Read",
            "parameters": [
                {"name": "id", "in": "path", "description": "Session id"},
                {"name": "lines", "in": "query"},
                {"name": "gone", "in": "path"}
            ],
            "responses": {"200": {"description": "The screen",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Other"}}}}}
        });
        let from = json!({
            "parameters": [{"name": "id", "in": "path", "required": true}],
            "responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Read"}}}}}
        });
        let mut problems = Vec::new();
        overlay(
            onto.as_object_mut().unwrap(),
            from.as_object().unwrap(),
            "GET /x",
            &mut problems,
        );
        assert_eq!(onto["parameters"][0]["required"], true);
        assert_eq!(onto["parameters"][0]["description"], "Session id");
        assert_eq!(onto["summary"], "Read");
        assert_eq!(problems.len(), 3, "{problems:#?}");
        // A query parameter the route does not read (it has no query type here).
        assert!(problems[0].contains("\"lines\""), "{problems:#?}");
        assert!(problems[1].contains("\"gone\""), "{problems:#?}");
        assert!(problems[2].contains("Other"), "{problems:#?}");
    }
}
