//! `GET /v1/tools`: the MCP server's tools (name, description, inputSchema), from the same
//! table `aegis mcp` serves (see `crate::mcp::tools`), so the two lists never differ.

use std::sync::Arc;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Serialize;
use serde_json::Value;
use warp::http::StatusCode;

use super::App;
use super::reply::{ApiResult, json_sorted};
use super::route::{self, Table};
use crate::mcp::tools::TOOLS;

/// `GET /v1/tools`: every tool `aegis mcp` offers.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "ToolList")]
struct Tools {
    tools: Vec<Tool>,
    total: usize,
}

/// One MCP tool.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Tool {
    name: &'static str,
    description: &'static str,
    /// The JSON Schema of the tool's arguments.
    #[schemars(schema_with = "json_schema_object")]
    input_schema: Value,
}

fn json_schema_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "object", "additionalProperties": true})
}

async fn tools(_: Arc<App>) -> ApiResult {
    let tools: Vec<Tool> = TOOLS
        .iter()
        .map(|t| Tool {
            name: t.name,
            description: t.description,
            input_schema: t.input_schema(),
        })
        .collect();
    let total = tools.len();
    Ok(json_sorted(StatusCode::OK, &Tools { tools, total }))
}

pub fn routes(t: &mut Table) {
    t.on(route::get("/tools").answers::<Tools>(), tools);
}
