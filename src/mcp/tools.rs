//! The MCP tool table: every tool's name, description, input type (whose JSON Schema is
//! derived with schemars, so the schema and the parser cannot disagree) and the REST call it
//! makes. `aegis mcp` lists and runs these; `GET /v1/tools` lists the same table.
//!
//! Each tool is one REST call on the daemon (`wait_for_state` polls one). A daemon error is
//! returned as the tool's error with the daemon's own `error` message and code, so a model
//! sees "session not found: x (SESSION_NOT_FOUND, 404)" rather than a bare status.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::Daemon;
use crate::client::segment as seg;
use crate::vocab::SessionStatus;

/// `wait_for_state` gives up after this long when the caller gives no timeout.
pub const DEFAULT_WAIT_MS: u64 = 30_000;

/// The longest `wait_for_state` may wait: MCP clients time calls out after a few minutes.
pub const MAX_WAIT_MS: u64 = 300_000;

/// How often `wait_for_state` looks at the session. States last at least the detector's quiet
/// period (hundreds of ms) except `working` bursts; 200 ms sees them without load.
const WAIT_POLL: Duration = Duration::from_millis(200);

type Run = for<'a> fn(
    &'a Daemon,
    Value,
) -> Pin<Box<dyn Future<Output = Result<Value, String>> + Send + 'a>>;

/// One tool.
pub struct ToolDef {
    pub name: &'static str,
    pub description: &'static str,
    schema: fn() -> schemars::Schema,
    run: Run,
}

impl ToolDef {
    /// The JSON Schema of the tool's arguments.
    pub fn input_schema(&self) -> Value {
        serde_json::to_value((self.schema)()).unwrap_or_else(|_| json!({"type": "object"}))
    }

    /// Run the tool against the daemon.
    pub async fn call(&self, daemon: &Daemon, args: Value) -> Result<Value, String> {
        (self.run)(daemon, args).await
    }
}

/// The tool called `name`.
pub fn find(name: &str) -> Option<&'static ToolDef> {
    TOOLS.iter().find(|t| t.name == name)
}

fn parse<T: DeserializeOwned>(tool: &str, args: Value) -> Result<T, String> {
    let args = if args.is_null() { json!({}) } else { args };
    serde_json::from_value(args).map_err(|e| format!("invalid arguments for {tool}: {e}"))
}

macro_rules! tool {
    ($name:literal, $desc:literal, $args:ty, |$d:ident, $a:ident| $body:expr) => {
        ToolDef {
            name: $name,
            description: $desc,
            schema: || schemars::schema_for!($args),
            run: |$d, raw| {
                Box::pin(async move {
                    let $a: $args = parse($name, raw)?;
                    $body
                })
            },
        }
    };
}

/// A session, by id or name.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionArg {
    /// Session id or name.
    pub session: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSession {
    /// Working directory of the agent (must exist).
    pub work_dir: String,
    /// claude | codex | gemini | shell | custom (default claude).
    pub agent_type: Option<String>,
    /// Unique session name (default: generated).
    pub name: Option<String>,
    /// First prompt, typed once the agent is ready.
    pub prompt: Option<String>,
    /// Program and arguments instead of the agent's default (no shell).
    pub command: Option<Vec<String>>,
    /// default | acceptEdits | plan | bypassPermissions | dontAsk | auto.
    pub permission_mode: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListSessions {
    /// Only sessions in this state (e.g. idle, working, permission_prompt).
    pub status: Option<String>,
    /// Page to return, from 1 (the answer's `pagination` says how many there are).
    #[schemars(range(min = 1))]
    pub page: Option<u32>,
    /// Sessions per page (default 100, at most 1000).
    #[schemars(range(min = 1, max = 1000))]
    pub limit: Option<u32>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadOutput {
    /// Session id or name.
    pub session: String,
    /// Lines to return including scrollback (1..2000; default: the visible screen).
    pub lines: Option<u32>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    /// Session id or name.
    pub session: String,
    /// Text to type; Enter is pressed after it and delivery is verified on screen.
    pub text: String,
}

/// The longest timeout `exec` takes: the call must end within the MCP client's REST timeout
/// (a minute), with room for the answer.
pub const MAX_EXEC_MS: u64 = 50_000;

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Exec {
    /// Session id or name (an idle bash or zsh session).
    pub session: String,
    /// One command line (no newlines).
    pub command: String,
    /// Stop waiting after this many milliseconds (default 30000, at most 50000).
    pub timeout_ms: Option<u64>,
    /// On timeout, press Ctrl-C instead of leaving the command running.
    pub interrupt: Option<bool>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendKeys {
    /// Session id or name.
    pub session: String,
    /// tmux key names (Enter, Escape, C-c, Up, ...) or literal text, one write each.
    pub keys: Vec<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Answer {
    /// Session id or name.
    pub session: String,
    /// The pending request's id; refused if another request is now pending.
    pub permission_id: Option<String>,
    /// The option to choose (by its index); default: the prompt's approving option.
    pub option: Option<u32>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PendingArgs {
    /// Only this session's request (default: every session's).
    pub session: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WaitForState {
    /// Session id or name.
    pub session: String,
    /// Return as soon as the session is in one of these states.
    #[schemars(schema_with = "state_names")]
    pub states: Vec<String>,
    /// Give up after this many milliseconds (default 30000, at most 300000).
    #[schemars(range(max = 300_000))]
    pub timeout_ms: Option<u64>,
}

/// The schema of `states`: a non-empty list of session state names, enumerated so that a
/// model sees the vocabulary instead of guessing it.
fn state_names(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let names: Vec<&str> = SessionStatus::ALL.iter().map(|s| s.as_str()).collect();
    schemars::json_schema!({
        "type": "array",
        "minItems": 1,
        "items": { "type": "string", "enum": names },
    })
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spawn {
    /// The parent session (id or name).
    pub session: String,
    /// The child's first prompt.
    pub prompt: String,
    pub name: Option<String>,
    /// Agent of the child (default: the parent's).
    pub agent_type: Option<String>,
}

#[derive(Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Stage {
    pub name: String,
    /// The stage's prompt; may use `{{stages.<name>.output}}` of earlier stages.
    pub prompt: String,
    pub agent_type: Option<String>,
    /// Stages that must finish first.
    pub depends_on: Option<Vec<String>>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunPipeline {
    pub name: String,
    /// Working directory of every stage.
    pub work_dir: String,
    pub stages: Vec<Stage>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemoryGet {
    /// The key (may contain `/`, e.g. `project/decisions`).
    pub key: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemorySet {
    pub key: String,
    pub value: String,
    /// Forget the entry after this many seconds.
    pub ttl_seconds: Option<u64>,
}

async fn wait_for_state(d: &Daemon, a: WaitForState) -> Result<Value, String> {
    if a.states.is_empty() {
        return Err("states must name at least one state".into());
    }
    // A misspelt state would wait out the whole timeout for nothing.
    if let Some(bad) = a.states.iter().find(|s| SessionStatus::parse(s).is_none()) {
        let known: Vec<&str> = SessionStatus::ALL.iter().map(|s| s.as_str()).collect();
        return Err(format!(
            "unknown state {bad:?}; states are: {}",
            known.join(", ")
        ));
    }
    let timeout = a.timeout_ms.unwrap_or(DEFAULT_WAIT_MS);
    if timeout > MAX_WAIT_MS {
        return Err(format!("timeoutMs must be at most {MAX_WAIT_MS}"));
    }
    let started = tokio::time::Instant::now();
    let deadline = started + Duration::from_millis(timeout);
    let path = format!("/v1/sessions/{}", seg(&a.session));
    loop {
        let info = d.get(&path).await?;
        let status = info["status"].as_str().unwrap_or_default().to_owned();
        let waited = started.elapsed().as_millis() as u64;
        if a.states.contains(&status) {
            return Ok(
                json!({"reached": true, "status": status, "waitedMs": waited, "session": info}),
            );
        }
        if status == "exited" || tokio::time::Instant::now() >= deadline {
            return Ok(
                json!({"reached": false, "status": status, "waitedMs": waited, "session": info}),
            );
        }
        tokio::time::sleep(WAIT_POLL).await;
    }
}

/// Every tool, in the order clients list them.
pub static TOOLS: &[ToolDef] = &[
    tool!(
        "create_session",
        "Start an agent (or any program) in a new supervised terminal session.",
        CreateSession,
        |d, a| {
            d.post(
                "/v1/sessions",
                strip_nulls(json!({
                    "workDir": a.work_dir, "agentType": a.agent_type, "name": a.name,
                    "prompt": a.prompt, "command": a.command, "permissionMode": a.permission_mode,
                })),
            )
            .await
        }
    ),
    tool!(
        "list_sessions",
        "List sessions with their state (idle, working, permission_prompt, ...), a page at a time (`pagination` gives the total).",
        ListSessions,
        |d, a| {
            let mut query = Vec::new();
            if let Some(s) = &a.status {
                query.push(format!("status={}", seg(s)));
            }
            if let Some(p) = a.page {
                query.push(format!("page={p}"));
            }
            if let Some(l) = a.limit {
                query.push(format!("limit={l}"));
            }
            d.get(&format!("/v1/sessions?{}", query.join("&"))).await
        }
    ),
    tool!(
        "get_session",
        "One session's details: state, agent, working directory, pending prompt.",
        SessionArg,
        |d, a| d.get(&format!("/v1/sessions/{}", seg(&a.session))).await
    ),
    tool!(
        "read_output",
        "The session's screen as text (what a person would see).",
        ReadOutput,
        |d, a| {
            let lines = a.lines.map(|n| format!("?lines={n}")).unwrap_or_default();
            d.get(&format!("/v1/sessions/{}/read{lines}", seg(&a.session)))
                .await
        }
    ),
    tool!(
        "send_message",
        "Type a message into the session and press Enter; reports whether it was delivered.",
        SendMessage,
        |d, a| {
            d.post(
                &format!("/v1/sessions/{}/send", seg(&a.session)),
                json!({"text": a.text}),
            )
            .await
        }
    ),
    tool!(
        "exec",
        "Run one command line in an idle shell session and wait for it: answers {exitCode, \
         output, durationMs, timedOut}. The output is the command's own (not the echoed line or \
         the next prompt). exitCode null means the status is unknown (a shell without shell \
         integration, or a timeout), never success.",
        Exec,
        |d, a| {
            let timeout = a.timeout_ms.unwrap_or(30_000);
            if timeout > MAX_EXEC_MS {
                return Err(format!("timeoutMs must be at most {MAX_EXEC_MS} here"));
            }
            d.post(
                &format!("/v1/sessions/{}/exec", seg(&a.session)),
                json!({"command": a.command, "timeoutMs": timeout, "interrupt": a.interrupt}),
            )
            .await
        }
    ),
    tool!(
        "send_keys",
        "Press keys in the session (tmux names: Enter, Escape, C-c, Up, Tab, ...).",
        SendKeys,
        |d, a| {
            d.post(
                &format!("/v1/sessions/{}/keys", seg(&a.session)),
                json!({"keys": a.keys}),
            )
            .await
        }
    ),
    tool!(
        "interrupt",
        "Interrupt the session's current work (Ctrl-C).",
        SessionArg,
        |d, a| {
            d.post(
                &format!("/v1/sessions/{}/interrupt", seg(&a.session)),
                Value::Null,
            )
            .await
        }
    ),
    tool!(
        "kill_session",
        "Stop the session's processes and remove it.",
        SessionArg,
        |d, a| d.delete(&format!("/v1/sessions/{}", seg(&a.session))).await
    ),
    tool!(
        "approve",
        "Approve the permission prompt pending on the session.",
        Answer,
        |d, a| {
            d.post(
                &format!("/v1/sessions/{}/approve", seg(&a.session)),
                answer_body(&a),
            )
            .await
        }
    ),
    tool!(
        "reject",
        "Reject the permission prompt pending on the session.",
        Answer,
        |d, a| {
            d.post(
                &format!("/v1/sessions/{}/reject", seg(&a.session)),
                answer_body(&a),
            )
            .await
        }
    ),
    tool!(
        "list_pending_permissions",
        "Permission prompts waiting for an answer, parsed (tool, command or file, options).",
        PendingArgs,
        |d, a| {
            // One shape either way, {total, permissions}, as the daemon-wide route answers.
            match a.session {
                Some(s) => {
                    let one = d
                        .get(&format!("/v1/sessions/{}/permissions/pending", seg(&s)))
                        .await?;
                    let pending = one["pending"].clone();
                    Ok(json!({
                        "sessionId": one["sessionId"],
                        "total": pending.as_array().map_or(0, Vec::len),
                        "permissions": pending,
                    }))
                }
                None => d.get("/v1/permissions").await,
            }
        }
    ),
    tool!(
        "wait_for_state",
        "Wait (bounded) until the session reaches one of the given states; returns reached=false on timeout or exit.",
        WaitForState,
        |d, a| wait_for_state(d, a).await
    ),
    tool!(
        "spawn",
        "Start a child session in the parent's working directory with a prompt.",
        Spawn,
        |d, a| {
            d.post(
                &format!("/v1/sessions/{}/spawn", seg(&a.session)),
                strip_nulls(json!({
                    "prompt": a.prompt, "name": a.name, "agentType": a.agent_type,
                })),
            )
            .await
        }
    ),
    tool!(
        "run_pipeline",
        "Run a pipeline: stages as a dependency graph, each a session with a prompt.",
        RunPipeline,
        |d, a| {
            let stages = serde_json::to_value(&a.stages).map_err(|e| e.to_string())?;
            d.post(
                "/v1/pipelines",
                json!({"name": a.name, "workDir": a.work_dir, "stages": strip_nulls(stages)}),
            )
            .await
        }
    ),
    tool!(
        "memory_get",
        "Read a shared memory entry.",
        MemoryGet,
        |d, a| {
            let key: Vec<String> = a.key.split('/').map(seg).collect();
            d.get(&format!("/v1/memory/{}", key.join("/"))).await
        }
    ),
    tool!(
        "memory_set",
        "Write a shared memory entry (optionally expiring).",
        MemorySet,
        |d, a| {
            d.post(
                "/v1/memory",
                strip_nulls(json!({"key": a.key, "value": a.value, "ttlSeconds": a.ttl_seconds})),
            )
            .await
        }
    ),
];

fn answer_body(a: &Answer) -> Value {
    strip_nulls(json!({"permissionId": a.permission_id, "option": a.option}))
}

/// Drop null fields: the daemon refuses unknown fields, not absent ones, and treats an
/// explicit null like a value.
fn strip_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_has_an_object_schema_and_a_unique_name() {
        let mut names: Vec<&str> = TOOLS.iter().map(|t| t.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TOOLS.len());
        for t in TOOLS {
            let s = t.input_schema();
            assert_eq!(s["type"], "object", "{}: {s}", t.name);
        }
        let send = find("send_message")
            .map(ToolDef::input_schema)
            .unwrap_or_default();
        assert_eq!(send["required"], json!(["session", "text"]));
    }
}
