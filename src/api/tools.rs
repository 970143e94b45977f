//! `GET /v1/tools`: the MCP server's tools (name, description, inputSchema), from the same
//! table `aegis mcp` serves (see `crate::mcp::tools`), so the two lists never differ.

use warp::Filter;
use warp::http::StatusCode;

use super::reply::{finish, json};
use super::route::{self, Table};

pub fn routes(t: &mut Table) {
    t.route(route::get("/tools"), |p, _| {
        p.none()
            .then(|| async { finish(Ok(json(StatusCode::OK, &crate::mcp::tools::list_json()))) })
    });
}
