//! `aegis mcp`: a Model Context Protocol server on stdio that lets an agent drive Aegis. It
//! holds no state of its own: every tool is a REST call on a running daemon (`AEGIS_URL`,
//! default `http://127.0.0.1:9100`, token from `AEGIS_AUTH_TOKEN` or `AEGIS_TOKEN`).
//!
//! - Tools: the table in [`tools`] (also served by the daemon at `GET /v1/tools`).
//! - Resources: `aegis://sessions/<id>/screen`, each session's screen as text, listed per
//!   session and as a template.
//!
//! Protocol: JSON-RPC over stdin/stdout, implemented by rmcp (the official Rust SDK). stdout
//! belongs to the protocol, so this module never prints; logs go to stderr. A tool that fails
//! answers with `isError: true` and the daemon's message, never with a protocol error, so the
//! model can read and act on it.

pub mod tools;

use rmcp::ErrorData;
use rmcp::handler::server::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Resource,
    ResourceContents, ResourceTemplate, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{RequestContext, RoleServer};
use serde_json::Value;

use crate::client::{CallError, Client};

const SCREEN_PREFIX: &str = "aegis://sessions/";
const SCREEN_SUFFIX: &str = "/screen";

/// The MCP server: a daemon client and the tool table.
pub struct AegisMcp {
    daemon: Daemon,
}

impl AegisMcp {
    pub fn new(daemon: Daemon) -> Self {
        AegisMcp { daemon }
    }
}

fn tool_list() -> Vec<Tool> {
    tools::TOOLS
        .iter()
        .map(|t| {
            let schema = match t.input_schema() {
                Value::Object(m) => m,
                _ => serde_json::Map::new(),
            };
            Tool::new(t.name, t.description, std::sync::Arc::new(schema))
        })
        .collect()
}

fn text_result(v: &Value, is_error: bool) -> CallToolResult {
    let text = match v {
        Value::String(s) => s.clone(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    };
    let content = vec![ContentBlock::text(text)];
    if is_error {
        CallToolResult::error(content)
    } else {
        CallToolResult::success(content)
    }
}

impl ServerHandler for AegisMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_server_info(Implementation::new("aegis", env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "Aegis supervises coding agents in terminals. create_session starts one; \
             wait_for_state waits for idle or permission_prompt; read_output shows the screen; \
             send_message types a prompt; approve/reject answer permission prompts.",
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tool_list()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let Some(tool) = tools::find(&request.name) else {
            return Err(ErrorData::invalid_params(
                format!("unknown tool {:?}", request.name),
                None,
            ));
        };
        let args = request.arguments.map(Value::Object).unwrap_or(Value::Null);
        let result = match tool.call(&self.daemon, args).await {
            Ok(v) => text_result(&v, false),
            Err(e) => text_result(&Value::String(e), true),
        };
        Ok(result.into())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let list = self
            .daemon
            .get("/v1/sessions?limit=1000")
            .await
            .map_err(|e| ErrorData::internal_error(e, None))?;
        let resources = list["sessions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| {
                let id = s["id"].as_str()?;
                let name = s["name"]
                    .as_str()
                    .or(s["windowName"].as_str())
                    .unwrap_or(id);
                Some(
                    Resource::new(format!("{SCREEN_PREFIX}{id}{SCREEN_SUFFIX}"), name)
                        .with_description(format!(
                            "Screen of session {name} ({})",
                            s["status"].as_str().unwrap_or("unknown")
                        ))
                        .with_mime_type("text/plain"),
                )
            })
            .collect();
        Ok(ListResourcesResult::with_all_items(resources))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let t = ResourceTemplate::new(
            format!("{SCREEN_PREFIX}{{id}}{SCREEN_SUFFIX}"),
            "session-screen",
        )
        .with_description("A session's screen as text (id or name)")
        .with_mime_type("text/plain");
        Ok(ListResourceTemplatesResult::with_all_items(vec![t]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let id = request
            .uri
            .strip_prefix(SCREEN_PREFIX)
            .and_then(|r| r.strip_suffix(SCREEN_SUFFIX))
            .filter(|id| !id.is_empty() && !id.contains('/'))
            .ok_or_else(|| {
                ErrorData::resource_not_found(
                    format!(
                        "unknown resource {:?}; expected {SCREEN_PREFIX}<id>{SCREEN_SUFFIX}",
                        request.uri
                    ),
                    None,
                )
            })?;
        let read = tools::find("read_output")
            .ok_or_else(|| ErrorData::internal_error("read_output tool missing", None))?
            .call(&self.daemon, serde_json::json!({ "session": id }))
            .await
            .map_err(|e| ErrorData::resource_not_found(e, None))?;
        let text = read["output"].as_str().unwrap_or_default().to_owned();
        Ok(ReadResourceResult::new(vec![
            ResourceContents::text(text, request.uri).with_mime_type("text/plain"),
        ])
        .into())
    }
}

/// Longest any one REST call may take. Sends wait for the screen (seconds) and session
/// creation waits for the first prompt (up to 30 s), so a minute is generous but bounded.
const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The daemon as the tools see it: the shared REST client, with every failure worded as a
/// sentence for the model (an unreachable daemon says where it looked; an API error carries
/// the daemon's own message, code and status).
pub struct Daemon(Client);

impl Daemon {
    pub fn new(base: &str, token: Option<String>) -> anyhow::Result<Daemon> {
        let token = token.filter(|t| !t.is_empty());
        Ok(Daemon(Client::new(base, token, CALL_TIMEOUT)?))
    }

    pub async fn get(&self, path: &str) -> Result<Value, String> {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Result<Value, String> {
        let body = (!body.is_null()).then_some(body);
        self.call(reqwest::Method::POST, path, body).await
    }

    pub async fn delete(&self, path: &str) -> Result<Value, String> {
        self.call(reqwest::Method::DELETE, path, None).await
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        self.0.call(method, path, body).await.map_err(|e| match e {
            CallError::Unreachable { base, source } => format!(
                "cannot reach the Aegis daemon at {base} ({source}); is `aegis serve` running, and is AEGIS_URL right?"
            ),
            CallError::Request {
                method,
                path,
                source,
                ..
            } => format!("{method} {path} failed: {source}"),
            CallError::Read {
                method,
                path,
                source,
            } => format!("reading the daemon's answer to {method} {path}: {source}"),
            CallError::Api {
                status,
                error,
                code,
            } => format!(
                "{} ({}, {})",
                error.as_deref().unwrap_or("request failed"),
                code.as_deref().unwrap_or("HTTP_ERROR"),
                status.as_u16()
            ),
        })
    }
}

/// Serve MCP on stdin/stdout until the client closes stdin.
pub async fn run(url: &str, token: Option<String>) -> anyhow::Result<()> {
    use rmcp::ServiceExt;
    let server = AegisMcp::new(Daemon::new(url, token)?);
    let running = server.serve(rmcp::transport::stdio()).await?;
    running.waiting().await?;
    Ok(())
}
