//! Filters shared by every route module: the app handle, size-limited JSON bodies, query
//! strings, and turning a handler's result into a response.

use std::collections::HashMap;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::App;
use super::error::ApiError;
use super::sessions::ApiResult;

/// The shared app state, for handlers.
pub fn with_app(
    app: &Arc<App>,
) -> impl Filter<Extract = (Arc<App>,), Error = std::convert::Infallible> + Clone + use<> {
    let app = app.clone();
    warp::any().map(move || app.clone())
}

pub fn finish(r: ApiResult) -> Response {
    r.unwrap_or_else(ApiError::into_response)
}

/// Parse a JSON request body; errors are 400s in the API format with serde's explanation
/// (line, column, or the unknown field).
fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Rejection> {
    serde_json::from_slice::<T>(bytes).map_err(|e| {
        let code = if e.is_data() {
            "VALIDATION_ERROR"
        } else {
            "INVALID_JSON"
        };
        warp::reject::custom(ApiError::bad_request(
            code,
            format!("invalid request body: {e}"),
        ))
    })
}

/// A JSON body of type `T`, size-limited; an empty body is a 400.
pub fn json_body<T: DeserializeOwned + Send>(
    limit: u64,
) -> impl Filter<Extract = (T,), Error = Rejection> + Clone {
    warp::body::content_length_limit(limit)
        .and(warp::body::bytes())
        .and_then(|bytes: warp::hyper::body::Bytes| async move {
            if bytes.is_empty() {
                return Err(warp::reject::custom(ApiError::bad_request(
                    "INVALID_JSON",
                    "request body is empty; expected a JSON object",
                )));
            }
            parse_json(&bytes)
        })
}

/// A JSON body that may be absent: an empty (or blank) body means "all defaults".
pub fn optional_json_body<T: DeserializeOwned + Default + Send>(
    limit: u64,
) -> impl Filter<Extract = (T,), Error = Rejection> + Clone {
    warp::body::content_length_limit(limit)
        .and(warp::body::bytes())
        .and_then(|bytes: warp::hyper::body::Bytes| async move {
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(T::default());
            }
            parse_json(&bytes)
        })
}

pub fn query() -> impl Filter<Extract = (HashMap<String, String>,), Error = Rejection> + Clone {
    warp::query::raw()
        .or(warp::any().map(String::new))
        .unify()
        .and_then(|raw: String| async move {
            serde_urlencoded::from_str::<Vec<(String, String)>>(&raw)
                .map(|pairs| pairs.into_iter().collect::<HashMap<_, _>>())
                .map_err(|e| {
                    warp::reject::custom(ApiError::bad_request(
                        "INVALID_QUERY",
                        format!("invalid query string: {e}"),
                    ))
                })
        })
}
