//! Filters shared by every route module: the app handle, size-limited JSON bodies and query
//! strings. (Turning a handler's result into a response is [`super::reply`].)

use std::collections::HashMap;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use warp::{Filter, Rejection};

use super::App;
use super::error::{ApiError, ErrorCode};

/// The shared app state, for handlers.
pub fn with_app(
    app: &Arc<App>,
) -> impl Filter<Extract = (Arc<App>,), Error = std::convert::Infallible> + Clone + use<> {
    let app = app.clone();
    warp::any().map(move || app.clone())
}

/// Parse a JSON request body; errors are 400s in the API format with serde's explanation
/// (line, column, or the unknown field).
fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Rejection> {
    serde_json::from_slice::<T>(bytes).map_err(|e| {
        let code = if e.is_data() {
            ErrorCode::ValidationError
        } else {
            ErrorCode::InvalidJson
        };
        warp::reject::custom(ApiError::bad_request(
            code,
            format!("invalid request body: {e}"),
        ))
    })
}

/// Passes when the request announces no body: neither `Content-Length` nor
/// `Transfer-Encoding`, which HTTP/1.1 defines as a zero-length body (RFC 9112 §6.3) and is
/// what `curl -X POST` sends. warp's `content_length_limit` would answer 411 instead.
fn no_body() -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::header::optional::<String>("content-length")
        .and(warp::header::optional::<String>("transfer-encoding"))
        .and_then(|len: Option<String>, te: Option<String>| async move {
            match (len, te) {
                (None, None) => Ok(()),
                // Not a verdict on the request: the sized path after it answers.
                _ => Err(warp::reject::not_found()),
            }
        })
        .untuple_one()
}

/// The announced body, read only when `Content-Length` is within `limit` (413 above it; a
/// chunked body without a length is a 411, as its size is unknown until read).
fn sized_body(
    limit: u64,
) -> impl Filter<Extract = (warp::hyper::body::Bytes,), Error = Rejection> + Clone {
    warp::body::content_length_limit(limit).and(warp::body::bytes())
}

/// The body's bytes, empty when there is no body at all; an announced body goes through the
/// size limit.
fn body_or_empty(
    limit: u64,
) -> impl Filter<Extract = (warp::hyper::body::Bytes,), Error = Rejection> + Clone {
    no_body()
        .map(warp::hyper::body::Bytes::new)
        .or(sized_body(limit))
        .unify()
}

/// A JSON body of type `T`, size-limited; an empty or absent body is a 400.
pub fn json_body<T: DeserializeOwned + Send>(
    limit: u64,
) -> impl Filter<Extract = (T,), Error = Rejection> + Clone {
    body_or_empty(limit).and_then(|bytes: warp::hyper::body::Bytes| async move {
        if bytes.is_empty() {
            return Err(warp::reject::custom(ApiError::bad_request(
                ErrorCode::InvalidJson,
                "request body is empty; expected a JSON object",
            )));
        }
        parse_json(&bytes)
    })
}

/// A JSON body that may be absent: an empty (or blank) body, or none at all, means "all
/// defaults".
pub fn optional_json_body<T: DeserializeOwned + Default + Send>(
    limit: u64,
) -> impl Filter<Extract = (T,), Error = Rejection> + Clone {
    body_or_empty(limit).and_then(|bytes: warp::hyper::body::Bytes| async move {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(T::default());
        }
        parse_json(&bytes)
    })
}

/// The query string parsed into `Q`, the route's query struct: its fields are the
/// parameters the route reads (and the document lists). A parameter given twice counts
/// once, the last time; unknown parameters are ignored; a malformed query string, or a
/// value that is not of its field's type, is a 400 `INVALID_QUERY`. The fields are mostly
/// text, checked by the handler, so a bad value is answered with the handler's reason.
pub fn query<Q: DeserializeOwned + Send + 'static>()
-> impl Filter<Extract = (Q,), Error = Rejection> + Clone {
    warp::query::raw()
        .or(warp::any().map(String::new))
        .unify()
        .and_then(|raw: String| async move { parse_query::<Q>(&raw).map_err(warp::reject::custom) })
}

fn parse_query<Q: DeserializeOwned>(raw: &str) -> Result<Q, ApiError> {
    let invalid = |e: &dyn std::fmt::Display| {
        ApiError::bad_request(
            ErrorCode::InvalidQuery,
            format!("invalid query string: {e}"),
        )
    };
    let pairs =
        serde_urlencoded::from_str::<Vec<(String, String)>>(raw).map_err(|e| invalid(&e))?;
    // The last of repeated parameters wins (a struct refuses a field given twice).
    let last: HashMap<String, String> = pairs.into_iter().collect();
    let again = serde_urlencoded::to_string(&last).map_err(|e| invalid(&e))?;
    serde_urlencoded::from_str::<Q>(&again).map_err(|e| invalid(&e))
}

/// A whole-number query parameter in `range`: `default` when absent, a 400 naming the range
/// when it is not a number in it (paging's `page` and `limit`, snapshot `lines`).
pub fn query_usize(
    value: Option<&str>,
    key: &str,
    default: usize,
    range: std::ops::RangeInclusive<usize>,
) -> Result<usize, ApiError> {
    match value {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "{key} must be an integer in {}..={}",
                    range.start(),
                    range.end()
                ))
            }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // reason: a failed unwrap is a failed test
mod tests {
    use super::*;

    #[derive(Debug, Default, serde::Deserialize)]
    #[serde(default, rename_all = "camelCase")]
    struct Query {
        keep_worktree: Option<String>,
        limit: Option<String>,
        count: Option<u32>,
    }

    #[test]
    fn a_query_is_read_into_its_struct() {
        let q: Query = parse_query("keepWorktree=true&limit=1&other=x&limit=2").unwrap();
        assert_eq!(q.keep_worktree.as_deref(), Some("true"));
        // The last of a repeated parameter wins; unknown ones are ignored.
        assert_eq!(q.limit.as_deref(), Some("2"));
        let q: Query = parse_query("").unwrap();
        assert!(q.keep_worktree.is_none() && q.limit.is_none());
        // A bare name is an empty value.
        assert_eq!(
            parse_query::<Query>("limit").unwrap().limit.as_deref(),
            Some("")
        );
        assert_eq!(parse_query::<Query>("count=3").unwrap().count, Some(3));
        let e = parse_query::<Query>("count=many").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidQuery);
        assert_eq!(e.status, warp::http::StatusCode::BAD_REQUEST);
    }
}
