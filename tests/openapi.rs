//! The OpenAPI description against the code and the running daemon:
//! - the document has no problems: the router and the document are built from one route
//!   table (`src/api/route.rs`), and every route of it is described by a fragment, every
//!   fragment's operation is a route, and no fragment contradicts the table
//!   (`openapi_every_operation_is_complete`);
//! - the committed `openapi.json` equals the document, fragments and derived schemas
//!   (`openapi_committed_file_is_current`; regenerate with `AEGIS_REGEN_OPENAPI=1 cargo nextest run -E 'test(openapi_committed)'`);
//! - the daemon serves it at `/v1/openapi.json`, behind auth;
//! - every other name a request field answers to (v0.3's spellings) is in the body of the
//!   operation that reads it (`openapi_describes_every_request_alias`), and every query
//!   parameter a route reads is listed (`openapi_lists_the_query_parameters_routes_read`);
//! - a client generated from the served document by openapi-python-client drives a session
//!   through the core routes, and every answer holds exactly the documented fields
//!   (`openapi_generated_client_drives_the_core_routes`);
//! - auth is enforced on every described route, `/v1` and unversioned, except health and the
//!   HMAC-authenticated inbound webhooks (`auth_enforced_on_every_route`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::{Daemon, Options, support_bin, venv_tool};

/// Routes that do not take the bearer token: health (monitoring probes), inbound webhooks
/// (authenticated by their HMAC signature instead), Claude Code hooks (their per-session
/// secret; `hooks::a_forged_secret_is_refused_and_changes_nothing`), and the dashboard's page
/// and static assets (code only, no data; `dashboard::page_and_assets_need_no_token`).
const NO_BEARER: &[(&str, &str)] = &[
    ("GET", "/v1/health"),
    ("POST", "/v1/webhooks/{}"),
    ("POST", "/v1/hooks/{}"),
    ("GET", "/"),
    ("GET", "/dashboard/{}"),
];

fn merged() -> Value {
    let (doc, problems) = aegis::api::openapi::document();
    assert!(
        problems.is_empty(),
        "OpenAPI fragment problems:\n{}",
        problems.join("\n")
    );
    doc
}

/// `{param}` → `{}`, so names of path parameters do not matter when comparing.
fn normalize(path: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for c in path.chars() {
        match c {
            '{' => {
                depth += 1;
                if depth == 1 {
                    out.push_str("{}");
                }
            }
            '}' => depth -= 1,
            _ if depth > 0 => {}
            _ => out.push(c),
        }
    }
    out
}

/// `(METHOD, /v1/path)` → where it is described.
fn described(doc: &Value) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    for (path, ops) in doc["paths"].as_object().into_iter().flatten() {
        for (method, _) in ops.as_object().into_iter().flatten() {
            if ["parameters", "summary", "description", "servers"].contains(&method.as_str()) {
                continue;
            }
            out.insert((method.to_uppercase(), normalize(path)), path.clone());
        }
    }
    out
}

#[test]
fn openapi_every_operation_is_complete() {
    let doc = merged();
    let mut problems = Vec::new();
    for (path, ops) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in ops.as_object().into_iter().flatten() {
            let name = format!("{} {path}", method.to_uppercase());
            if op["summary"].as_str().is_none_or(str::is_empty) {
                problems.push(format!("{name}: no summary"));
            }
            if !op["responses"].is_object() {
                problems.push(format!("{name}: no responses"));
            }
            for seg in path.split('/').filter(|s| s.starts_with('{')) {
                let param = seg.trim_matches(['{', '}']);
                let declared = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| p["in"] == "path" && p["name"] == param);
                if !declared {
                    problems.push(format!("{name}: path parameter {param} not declared"));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "incomplete operations:\n{}",
        problems.join("\n")
    );
}

#[test]
fn openapi_committed_file_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
    let want = serde_json::to_string_pretty(&merged()).expect("serialize") + "\n";
    if std::env::var_os("AEGIS_REGEN_OPENAPI").is_some() {
        std::fs::write(&path, &want).expect("write openapi.json");
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "openapi.json is stale; regenerate it with \
         AEGIS_REGEN_OPENAPI=1 cargo nextest run -E 'test(openapi_committed)'"
    );
}

/// Every second name a request field answers to (`#[serde(alias = "...")]`), with the
/// operation whose body has the field: `(operation, alias, field)`.
const ALIASES: &[(&str, &str, &str)] = &[
    ("POST /v1/handshake", "capabilities", "clientCapabilities"),
    ("POST /v1/sessions/{id}/consensus", "focusAreas", "criteria"),
    (
        "POST /v1/sessions/{id}/consensus",
        "reviewerCount",
        "reviewers",
    ),
    (
        "POST /v1/sessions/{id}/fork",
        "claudeSessionId",
        "conversationId",
    ),
];

/// The schema `s` names, following a `$ref` into the components.
fn resolve<'a>(doc: &'a Value, s: &'a Value) -> &'a Value {
    match s["$ref"].as_str() {
        Some(r) => doc
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("{r} is not defined")),
        None => s,
    }
}

/// Every name a request field answers to besides its own (`#[serde(alias = "...")]` in the
/// API's request types, mostly Aegis v0.3's spellings) is a property of the request body of
/// the operation that reads it, with the field's own schema: a client that validates its
/// body against the document must not refuse what the server accepts. The aliases in the
/// source and in [`ALIASES`] are the same set, so a new alias must say where it is read.
#[test]
fn openapi_describes_every_request_alias() {
    let doc = merged();
    let alias = regex::Regex::new(r#"alias = "(\w+)""#).expect("pattern");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api");
    let mut sources = Vec::new();
    let mut dirs = vec![src];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(&dir).expect("src/api").flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                sources.push(std::fs::read_to_string(&p).expect("source"));
            }
        }
    }
    let in_source: BTreeSet<String> = sources
        .iter()
        .flat_map(|s| alias.captures_iter(s).map(|c| c[1].to_owned()))
        .collect();
    let listed: BTreeSet<String> = ALIASES.iter().map(|(_, a, _)| (*a).to_owned()).collect();
    assert_eq!(
        in_source, listed,
        "the aliases in src/api and in ALIASES differ: list each with its operation"
    );
    for (operation, alias, field) in ALIASES {
        let (method, path) = operation.split_once(' ').expect("METHOD /path");
        let op = &doc["paths"][path][method.to_lowercase()];
        let body = &op["requestBody"]["content"]["application/json"]["schema"];
        assert!(body.is_object(), "{operation} has no JSON body: {op}");
        let properties = &resolve(&doc, body)["properties"];
        let (Some(a), Some(f)) = (properties.get(alias), properties.get(field)) else {
            panic!("{operation}'s body lacks {alias} or {field}: {properties}");
        };
        let without_prose = |v: &Value| {
            let mut v = v.clone();
            if let Some(m) = v.as_object_mut() {
                m.remove("description");
            }
            v
        };
        assert_eq!(
            without_prose(a),
            without_prose(f),
            "{operation}: {alias} is described otherwise than {field}"
        );
        assert!(
            a["description"].as_str().is_some_and(|d| d.contains(field)),
            "{operation}: {alias} does not say it stands for {field}: {a}"
        );
    }
}

/// The query parameters of an operation are the fields of the struct its handler reads the
/// query string into, so each one a route reads is listed, required only when the route
/// refuses a request without it, and none it ignores.
#[test]
fn openapi_lists_the_query_parameters_routes_read() {
    let doc = merged();
    let query = |operation: &str| -> BTreeMap<String, Value> {
        let (method, path) = operation.split_once(' ').expect("METHOD /path");
        let op = &doc["paths"][path][method.to_lowercase()];
        assert!(op.is_object(), "{operation} is not described");
        op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "query")
            .map(|p| (p["name"].as_str().expect("name").to_owned(), p.clone()))
            .collect()
    };
    let names = |operation: &str| query(operation).into_keys().collect::<Vec<_>>();
    assert_eq!(
        names("GET /v1/sessions/{id}/transcript"),
        ["client", "since"]
    );
    assert_eq!(names("GET /v1/sessions/{id}/stream"), ["readonly"]);
    assert_eq!(names("DELETE /v1/sessions/{id}"), ["keepWorktree"]);
    assert_eq!(names("GET /v1/sessions/{id}/read"), ["format", "lines"]);
    assert_eq!(
        names("GET /v1/sessions"),
        ["agentType", "limit", "page", "status"]
    );
    assert_eq!(names("GET /v1/events"), ["lastEventId", "session", "types"]);
    assert_eq!(
        names("GET /v1/fleet/sessions"),
        ["agentType", "host", "limit", "page", "status"]
    );
    assert_eq!(names("POST /v1/hooks/{event}"), ["sessionId"]);
    assert!(names("GET /v1/sessions/{id}").is_empty());
    let path = &query("GET /v1/files")["path"];
    assert_eq!(path["required"], true, "{path}");
    let limit = &query("GET /v1/sessions")["limit"];
    assert_eq!(limit["required"], false, "{limit}");
    assert_eq!(limit["schema"]["maximum"], 1000, "{limit}");
    assert!(limit["schema"].get("nullable").is_none(), "{limit}");
    assert_eq!(limit["schema"]["type"], "integer", "{limit}");
    assert!(limit["description"].is_string(), "{limit}");
}

fn daemon_with_token() -> Daemon {
    Daemon::start_with(Options {
        args: &[],
        env: &[("AEGIS_AUTH_TOKEN", "right-token")],
    })
}

#[test]
fn openapi_served_behind_auth() {
    let d = daemon_with_token();
    let (status, v) = d.get("/v1/openapi.json");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["openapi"], "3.0.3");
    assert!(v["paths"]["/v1/sessions"]["post"].is_object());
    let (status, _) = d.call_as(Method::GET, "/v1/openapi.json", None, None);
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// The document as a client author uses it: a standard generator from PyPI turns the served
/// document into a Python package, and the checker drives the daemon through it. A field the
/// server sends but the document lacks, a wrong type, or a model that loses a field fails.
#[test]
fn openapi_generated_client_drives_the_core_routes() {
    let (Some(generator), Some(py)) = (venv_tool("openapi-python-client"), venv_tool("python"))
    else {
        return;
    };
    let d = daemon_with_token();
    let dir = tempfile::tempdir().expect("tempdir");
    let doc = dir.path().join("openapi.json");
    let (status, served) = d.get("/v1/openapi.json");
    assert_eq!(status, StatusCode::OK);
    std::fs::write(&doc, served.to_string()).expect("write the document");
    let generated = std::process::Command::new(&generator)
        .args(["generate", "--meta", "none", "--path"])
        .arg(&doc)
        .arg("--output-path")
        .arg(dir.path().join("aegis_client"))
        .output()
        .expect("running openapi-python-client");
    assert!(
        generated.status.success(),
        "the generator refused the document: {}{}",
        String::from_utf8_lossy(&generated.stdout),
        String::from_utf8_lossy(&generated.stderr)
    );
    let out = std::process::Command::new(py)
        .arg(support_bin("openapi_generated_client.py"))
        .arg(&doc)
        .arg(dir.path())
        .arg(d.work_dir())
        .env("AEGIS_URL", &d.url)
        .env("AEGIS_AUTH_TOKEN", "right-token")
        .output()
        .expect("running the generated client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "generated client: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_str(stdout.trim()).expect("checker JSON");
    let checked: Vec<&str> = seen["checked"]
        .as_array()
        .expect("checked")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for op in [
        "GET /v1/health 200",
        "POST /v1/sessions 201",
        "GET /v1/sessions/{id} 200",
        "GET /v1/sessions 200",
        "GET /v1/sessions/{id}/read 200",
        "POST /v1/sessions/{id}/send 200",
        "POST /v1/sessions/{id}/exec 200",
        "GET /v1/sessions/{id}/commands 200",
        "DELETE /v1/sessions/{id} 200",
        "GET /v1/sessions/{id} 404",
        "GET /v1/sessions/{id}/permissions/pending 200",
        "GET /v1/sessions/{id}/permissions/history 200",
        "GET /v1/permissions 200",
        "PUT /v1/sessions/{id}/permissions 200",
        "PUT /v1/sessions/{id}/permission-profile 200",
        "GET /v1/sessions/{id}/detect 200",
        "GET /v1/sessions/{id}/health 200",
        "GET /v1/sessions/health 200",
        "GET /v1/sessions/{id}/pane 200",
        "GET /v1/sessions/{id}/summary 200",
        "POST /v1/handshake 200",
        "POST /v1/memory 201",
        "GET /v1/memory/{key} 200",
        "GET /v1/memory 200",
        "DELETE /v1/memory/{key} 200",
        "POST /v1/sessions/{id}/memories 201",
        "GET /v1/sessions/{id}/memories 200",
        "POST /v1/auth/keys 201",
        "GET /v1/auth/keys 200",
        "DELETE /v1/auth/keys/{id} 200",
        "GET /v1/human-approvals 200",
        "POST /v1/webhooks 201",
        "GET /v1/webhooks 200",
        "GET /v1/channels/health 200",
        "GET /v1/webhooks/dead-letter 200",
        "DELETE /v1/webhooks/{id} 200",
        "POST /v1/auth/sse-token 201",
        "GET /v1/agents 200",
        "GET /v1/sessions/{id}/transcript 200",
    ] {
        assert!(checked.contains(&op), "{op} was not checked: {checked:?}");
    }
}

/// Every described route, `/v1` and unversioned, with no token and with a wrong one: 401 in
/// the error format, before any handler runs (so nothing is created or changed).
#[test]
fn auth_enforced_on_every_route() {
    let d = daemon_with_token();
    let doc = merged();
    let mut problems = Vec::new();
    let mut checked = BTreeSet::new();
    for ((method, norm), spec_path) in described(&doc) {
        let open = NO_BEARER.iter().any(|(m, p)| *m == method && *p == norm);
        // Path parameters get a plausible value; the request must fail before it matters.
        let concrete = norm.replace("{}", "x1");
        let unversioned = concrete.strip_prefix("/v1").unwrap_or(&concrete).to_owned();
        for path in [concrete.clone(), unversioned] {
            for token in [None, Some("wrong-token")] {
                let m = Method::from_bytes(method.as_bytes()).expect("method");
                let (status, body) = d.call_as(m, &path, Some(serde_json::json!({})), token);
                checked.insert(format!("{method} {path}"));
                if open {
                    if status == StatusCode::UNAUTHORIZED && norm == "/v1/health" {
                        problems.push(format!("{method} {path}: health must not need a token"));
                    }
                    continue;
                }
                if status != StatusCode::UNAUTHORIZED || body["code"] != "UNAUTHORIZED" {
                    problems.push(format!(
                        "{method} {path} ({spec_path}) with token {token:?}: {status} {body}"
                    ));
                }
            }
        }
    }
    assert!(
        checked.len() > 80,
        "too few routes walked: {}",
        checked.len()
    );
    assert!(
        problems.is_empty(),
        "auth not enforced:\n{}",
        problems.join("\n")
    );
    // Nothing was created by the refused requests.
    let (_, list) = d.get("/v1/sessions");
    assert_eq!(
        list["sessions"].as_array().map_or(usize::MAX, Vec::len),
        0,
        "{list}"
    );
}
