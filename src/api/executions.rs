//! Executions: the orchestrator-style one-shot. `POST /v1/executions {agent, workDir, input}`
//! starts a session of an agent profile, types `input` once it is ready, and narrates the run
//! on `GET /v1/executions/:id/stream` (SSE):
//!
//! - `execution_started` `{executionId, sessionId, agent}`
//! - `iteration_started` `{iteration}` when the session goes to work,
//! - `iteration_completed` `{iteration, output}` when it comes back to idle (or exits); `output`
//!   is what the turn added to the screen,
//! - `execution_completed` `{finalOutput, iterations, exitCode, reason}` when the session
//!   exited, or stayed idle for `SETTLE` after a turn.
//!
//! Every event is kept in the execution's log (bounded), so a stream opened at any time
//! replays from the start; `Last-Event-ID` resumes by index. `GET /v1/agents` lists profiles:
//! the built-in agent types plus the config file's `[agents.*]`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use warp::http::StatusCode;
use warp::{Filter, Reply};

use super::App;
use super::error::{ApiError, ErrorCode};
use super::filters::with_app;
use super::reply::finish;
use super::reply::{ApiResult, json};
use super::route::{self, Table};
use crate::screen::Format;
use crate::session::SessionHandle;
use crate::vocab::{AgentType, SessionStatus};

/// Idle time after a turn that ends the execution: long enough that an agent pausing between
/// tool calls is not cut off, short enough for scripts waiting on the result.
const SETTLE: Duration = Duration::from_secs(3);
/// Events kept per execution; a run with more turns keeps its first events and its end.
const MAX_LOG: usize = 1000;
/// Characters of output kept per turn (the tail, which holds the answer).
const MAX_TURN_OUTPUT: usize = 64 * 1024;
/// Executions remembered; the oldest finished ones are forgotten first.
const MAX_EXECUTIONS: usize = 1000;

/// One execution's log: events in order, and a counter that wakes streams.
pub struct Execution {
    pub id: String,
    log: Mutex<Vec<(String, serde_json::Value)>>,
    len: watch::Sender<usize>,
    done: std::sync::atomic::AtomicBool,
}

impl Execution {
    fn push(&self, kind: &str, data: serde_json::Value) {
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        if log.len() >= MAX_LOG && kind != "execution_completed" {
            return;
        }
        log.push((kind.to_owned(), data));
        let n = log.len();
        drop(log);
        self.len.send_replace(n);
    }

    fn get(&self, i: usize) -> Option<(String, serde_json::Value)> {
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(i)
            .cloned()
    }
}

#[derive(Default)]
pub struct Executions {
    all: Mutex<Vec<Arc<Execution>>>,
}

impl Executions {
    fn insert(&self, e: Arc<Execution>) {
        let mut all = self.all.lock().unwrap_or_else(|p| p.into_inner());
        if all.len() >= MAX_EXECUTIONS {
            let done = all
                .iter()
                .position(|x| x.done.load(std::sync::atomic::Ordering::Relaxed));
            all.remove(done.unwrap_or(0));
        }
        all.push(e);
    }

    fn get(&self, id: &str) -> Option<Arc<Execution>> {
        self.all
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|e| e.id == id)
            .cloned()
    }
}

/// An agent profile an execution can name.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "AgentProfile")]
struct AgentWire {
    name: String,
    command: Vec<String>,
    /// A built-in agent type, or a profile of the config file's `[agents.*]`.
    builtin: bool,
    /// A config profile's description (null when it has none); absent for a built-in.
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<Option<String>>,
}

/// `GET /v1/agents`.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "AgentList")]
pub(crate) struct Agents {
    agents: Vec<AgentWire>,
}

async fn agents(app: Arc<App>) -> ApiResult {
    let mut agents: Vec<AgentWire> = AgentType::ALL
        .iter()
        .filter_map(|t| {
            t.default_command().map(|command| AgentWire {
                name: t.as_str().to_owned(),
                command,
                builtin: true,
                description: None,
            })
        })
        .collect();
    for (name, p) in &app.config.integrations.agents {
        agents.push(AgentWire {
            name: name.clone(),
            command: p.command.clone(),
            builtin: false,
            description: Some(p.description.clone()),
        });
    }
    Ok(json(StatusCode::OK, &Agents { agents }))
}

/// `POST /v1/executions` body.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ExecutionRequest {
    /// An agent profile's name (`GET /v1/agents`).
    agent: String,
    work_dir: String,
    /// Typed into the agent once it is ready.
    input: String,
}

/// A started execution.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExecutionStarted {
    id: String,
    session_id: String,
    session_name: String,
    /// Its SSE stream.
    stream: String,
}

async fn start(app: Arc<App>, req: ExecutionRequest) -> ApiResult {
    if req.input.is_empty() {
        return Err(ApiError::invalid("input must not be empty"));
    }
    let mut spec = app
        .config
        .integrations
        .agent_spec(&req.agent)
        .ok_or_else(|| {
            ApiError::invalid(format!("unknown agent {:?}; see GET /v1/agents", req.agent))
        })?;
    spec.work_dir = req.work_dir.into();
    // No prompt here: the tracker types it, so it is watching before the first turn starts.
    let h = app.sessions.create(spec).await?;
    let (len, _) = watch::channel(0);
    let exec = Arc::new(Execution {
        id: format!("exec_{}", uuid::Uuid::new_v4().simple()),
        log: Mutex::default(),
        len,
        done: false.into(),
    });
    exec.push(
        "execution_started",
        serde_json::json!({"executionId": exec.id, "sessionId": h.meta.id.to_string(), "agent": req.agent}),
    );
    app.executions.insert(exec.clone());
    let body = ExecutionStarted {
        id: exec.id.clone(),
        session_id: h.meta.id.to_string(),
        session_name: h.meta.name.clone(),
        stream: format!("/v1/executions/{}/stream", exec.id),
    };
    let tracker = app.tasks.clone();
    tracker.spawn(track(exec, h, req.input, app.shutdown.clone()));
    Ok(json(StatusCode::CREATED, &body))
}

async fn screen_lines(h: &SessionHandle) -> Vec<String> {
    h.snapshot(Some(crate::screen::MAX_SNAPSHOT_LINES), Format::Text)
        .await
        .map(|s| s.output.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// What `after` added to `before`: the lines past their common prefix, minus the line the
/// turn began on (the prompt the input was typed at) when it is unchanged.
fn turn_output(before: &[String], after: &[String]) -> String {
    let common = before.iter().zip(after).take_while(|(a, b)| a == b).count();
    // The last line before the turn is the prompt line, which the input extends.
    let start = common.min(before.len().saturating_sub(1));
    let text = after[start.min(after.len())..].join("\n");
    let text = text.trim();
    match text.char_indices().nth_back(MAX_TURN_OUTPUT) {
        Some((i, _)) => text[i..].to_owned(),
        None => text.to_owned(),
    }
}

/// Follow one execution's session: type the input when ready, then report turns.
async fn track(
    exec: Arc<Execution>,
    h: SessionHandle,
    input: String,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let mut live = h.watch();
    h.wait_for(
        |s| matches!(s.status, SessionStatus::Idle | SessionStatus::Exited),
        Duration::from_secs(30),
    )
    .await;
    let mut before = screen_lines(&h).await;
    if !h.is_exited()
        && let Err(e) = h.send_text(&input, true).await
    {
        tracing::warn!(execution = %exec.id, error = %e, "execution input not delivered");
    }
    let mut iteration = 0u32;
    let mut in_turn = false;
    let mut final_output = String::new();
    let mut reason = "exited";
    // Statuses are sampled from the watch, so a turn is never missed even if brief: the
    // status was idle before the input, so anything else afterwards counts as work.
    let mut status = live.borrow_and_update().status;
    loop {
        let working = !matches!(
            status,
            SessionStatus::Idle | SessionStatus::Exited | SessionStatus::Starting
        );
        if working && !in_turn {
            iteration += 1;
            in_turn = true;
            exec.push(
                "iteration_started",
                serde_json::json!({"iteration": iteration}),
            );
        }
        if in_turn && !working {
            in_turn = false;
            let after = screen_lines(&h).await;
            final_output = turn_output(&before, &after);
            before = after;
            exec.push(
                "iteration_completed",
                serde_json::json!({"iteration": iteration, "output": final_output}),
            );
        }
        if status == SessionStatus::Exited {
            break;
        }
        let settle = !in_turn && iteration > 0;
        tokio::select! {
            _ = shutdown.cancelled() => { reason = "shutdown"; break; }
            changed = live.changed() => {
                if changed.is_err() { break; }
                status = live.borrow_and_update().status;
            }
            _ = tokio::time::sleep(SETTLE), if settle => { reason = "idle"; break; }
        }
    }
    exec.push(
        "execution_completed",
        serde_json::json!({
            "finalOutput": final_output,
            "iterations": iteration,
            "exitCode": h.live().exit_code,
            "reason": reason,
        }),
    );
    exec.done.store(true, std::sync::atomic::Ordering::Relaxed);
}

async fn stream(app: Arc<App>, id: String, last: Option<String>) -> ApiResult {
    let exec = app.executions.get(&id).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::ExecutionNotFound,
            format!("execution not found: {id}"),
        )
    })?;
    let from = match last {
        None => 0,
        Some(v) => v
            .trim()
            .parse::<usize>()
            .map(|n| n + 1)
            .map_err(|_| ApiError::invalid("Last-Event-ID must be an integer"))?,
    };
    let rx = exec.len.subscribe();
    let events = futures_util::stream::unfold(
        (exec, rx, from, false),
        |(exec, mut rx, i, finished)| async move {
            if finished {
                return None;
            }
            loop {
                if let Some((kind, data)) = exec.get(i) {
                    let end = kind == "execution_completed";
                    let ev = warp::sse::Event::default()
                        .id(i.to_string())
                        .event(kind)
                        .data(data.to_string());
                    return Some((
                        Ok::<_, std::convert::Infallible>(ev),
                        (exec, rx, i + 1, end),
                    ));
                }
                if rx.changed().await.is_err() {
                    return None;
                }
            }
        },
    )
    .take_until(app.shutdown.clone().cancelled_owned());
    Ok(warp::sse::reply(
        warp::sse::keep_alive()
            .interval(super::events::HEARTBEAT)
            .stream(events),
    )
    .into_response())
}

/// Execution and agent routes (the caller adds `/v1` and auth).
pub fn routes(t: &mut Table) {
    t.on_body(
        route::post("/executions")
            .body::<ExecutionRequest>()
            .creates::<ExecutionStarted>(),
        start,
    );
    t.route(route::get("/executions/{id}/stream"), |p, app| {
        p.one()
            .and(with_app(app))
            .and(warp::header::optional::<String>("last-event-id"))
            .then(|id, a, l| async { finish(stream(a, id, l).await) })
    });
    t.on(route::get("/agents").answers::<Agents>(), agents);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<String> {
        s.lines().map(str::to_owned).collect()
    }

    #[test]
    fn turn_output_is_what_was_added() {
        let before = lines("banner\n> ");
        let after = lines("banner\n> hello\nthinking\nANSWER 42\n>");
        assert_eq!(
            turn_output(&before, &after),
            "> hello\nthinking\nANSWER 42\n>"
        );
    }
}
