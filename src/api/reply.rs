//! What a handler returns and how it becomes a response: [`ApiResult`] (a response or an
//! [`ApiError`]), [`json`] for a JSON body with a status (or [`json_sorted`]), and [`finish`],
//! which turns an error into the API's error format. Every route module answers through
//! these.

use warp::Reply;
use warp::http::StatusCode;
use warp::reply::Response;

use super::error::ApiError;

/// A handler's answer: a response, or an error in the API's format.
pub type ApiResult = Result<Response, ApiError>;

/// `body` as JSON with `status`.
pub fn json<T: serde::Serialize>(status: StatusCode, body: &T) -> Response {
    warp::reply::with_status(warp::reply::json(body), status).into_response()
}

/// `body` as JSON with `status`, the keys of every object in name order rather than the
/// fields' order. The answers that were once built as JSON values (whose keys are kept in
/// name order) are written this way, so their bytes stay what clients have always received.
pub fn json_sorted<T: serde::Serialize>(status: StatusCode, body: &T) -> Response {
    json(status, &super::wire::to_value(body))
}

/// The response of a handler's result: an error becomes `{"error", "code", "statusCode"}`.
pub fn finish(r: ApiResult) -> Response {
    r.unwrap_or_else(ApiError::into_response)
}
