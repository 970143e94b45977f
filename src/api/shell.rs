//! Shell routes: `GET /v1/sessions/:id/commands` lists the commands a shell with integration
//! ran (from its marks; newest last, `?limit=`), and `POST /v1/sessions/:id/exec` runs one
//! command line in an idle shell and answers its exit status and output (see
//! `session::exec`).

use std::sync::Arc;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use warp::http::StatusCode;

use super::App;
use super::error::{ApiError, ErrorCode};
use super::reply::{ApiResult, json};
use super::route::{self, Table};
use crate::session::commands::{CommandRecord, MAX_COMMANDS};
use crate::session::exec::{self, ExecError, ExecRequest, ExecResult};

/// Records a list answers when the caller names no limit.
const DEFAULT_LIMIT: usize = 100;

/// `POST /v1/sessions/{id}/exec` body.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(rename = "ExecRequest")]
pub struct ExecBody {
    /// One command line: no control characters (newlines), at most 16384 bytes.
    pub command: String,
    /// How long to wait for it (default 30000).
    #[schemars(range(min = *crate::session::exec::TIMEOUT_MS.start(), max = *crate::session::exec::TIMEOUT_MS.end()))]
    pub timeout_ms: Option<u64>,
    /// On timeout, press Ctrl-C before answering (default: leave the command running).
    pub interrupt: Option<bool>,
}

/// How an exec went.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "ExecResult")]
pub struct ExecAnswer {
    /// The command's exit status; null when the shell has no marks to tell it, or on timeout.
    pub exit_code: Option<i32>,
    /// The command's own output, as a terminal shows it.
    pub output: String,
    pub duration_ms: u64,
    pub timed_out: bool,
    /// The output was longer than the exec keeps.
    pub truncated: bool,
}

impl From<ExecResult> for ExecAnswer {
    fn from(r: ExecResult) -> Self {
        ExecAnswer {
            exit_code: r.exit_code,
            output: r.output,
            duration_ms: r.duration_ms,
            timed_out: r.timed_out,
            truncated: r.truncated,
        }
    }
}

/// One command a shell ran, from its marks.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "CommandRecord")]
pub(crate) struct CommandWire {
    seq: u64,
    /// The command line, when the shell told it.
    command: Option<String>,
    /// Epoch milliseconds.
    started_at: u64,
    /// Epoch milliseconds; null while it runs.
    ended_at: Option<u64>,
    exit_code: Option<i32>,
    /// Transcript offsets of the command's output: `[outputStart, outputEnd)`.
    output_start: u64,
    output_end: Option<u64>,
}

impl From<CommandRecord> for CommandWire {
    fn from(r: CommandRecord) -> Self {
        CommandWire {
            seq: r.seq,
            command: r.command,
            started_at: r.started_at_ms,
            ended_at: r.ended_at_ms,
            exit_code: r.exit_code,
            output_start: r.output_start,
            output_end: r.output_end,
        }
    }
}

/// `GET /v1/sessions/{id}/commands`.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CommandList {
    id: String,
    shell_integration: bool,
    commands: Vec<CommandWire>,
}

impl From<ExecError> for ApiError {
    fn from(e: ExecError) -> Self {
        match e {
            ExecError::Invalid(m) | ExecError::NotAShell(m) => ApiError::invalid(m),
            ExecError::Busy(m) => ApiError::new(StatusCode::CONFLICT, ErrorCode::SessionBusy, m),
            ExecError::Session(h) => h.into(),
        }
    }
}

/// `GET /v1/sessions/{id}/commands`'s query.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default)]
struct CommandsQuery {
    /// The newest this many (default 100).
    #[schemars(with = "Option<u64>", range(min = 1, max = MAX_COMMANDS))]
    limit: Option<String>,
}

async fn commands(app: Arc<App>, id: String, q: CommandsQuery) -> ApiResult {
    let limit = match q.limit {
        None => DEFAULT_LIMIT,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_COMMANDS).contains(n))
            .ok_or_else(|| ApiError::invalid(format!("limit must be 1-{MAX_COMMANDS}")))?,
    };
    let h = app.sessions.get(&id)?;
    let records = h.commands(limit).await?;
    Ok(json(
        StatusCode::OK,
        &CommandList {
            id: h.meta.id.to_string(),
            shell_integration: h.meta.shell_integration,
            commands: records.into_iter().map(CommandWire::from).collect(),
        },
    ))
}

/// Check an exec request; what `POST /exec`, the MCP tool and the CLI send.
pub fn exec_request(body: ExecBody) -> Result<ExecRequest, ApiError> {
    let timeout_ms = body.timeout_ms.unwrap_or(exec::DEFAULT_TIMEOUT_MS);
    exec::validate(&body.command, timeout_ms)?;
    Ok(ExecRequest {
        command: body.command,
        timeout: Duration::from_millis(timeout_ms),
        interrupt: body.interrupt.unwrap_or(false),
    })
}

/// Run an exec in session `id` (found and checked first, so bad input changes nothing).
pub async fn run_exec(app: &App, id: &str, body: ExecBody) -> Result<ExecAnswer, ApiError> {
    let req = exec_request(body)?;
    let h = app.sessions.get(id)?;
    if h.is_exited() {
        return Err(crate::session::HandleError::Exited.into());
    }
    Ok(h.exec(req).await?.into())
}

async fn exec_route(app: Arc<App>, id: String, body: ExecBody) -> ApiResult {
    let answer = run_exec(&app, &id, body).await?;
    Ok(json(StatusCode::OK, &answer))
}

pub fn routes(t: &mut Table) {
    t.on_one_query(
        route::get("/sessions/{id}/commands").answers::<CommandList>(),
        commands,
    );
    t.on_one_body(
        route::post("/sessions/{id}/exec")
            .body::<ExecBody>()
            .answers::<ExecAnswer>(),
        exec_route,
    );
}
