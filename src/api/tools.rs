//! `GET /v1/tools`: the MCP server's tools (name, description, inputSchema), from the same
//! table `aegis mcp` serves (see `crate::mcp::tools`), so the two lists never differ.

use std::sync::Arc;

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;

use super::App;
use super::reply::{finish, json};

pub fn routes(_app: Arc<App>) -> BoxedFilter<(Response,)> {
    warp::path!("tools")
        .and(warp::get())
        .then(|| async { finish(Ok(json(StatusCode::OK, &crate::mcp::tools::list_json()))) })
        .boxed()
}
