//! The one error format of the API, `{"error", "code", "statusCode"}`, and the one place that
//! turns any rejection (unknown route, wrong method, oversized body, ...) into it. Clients of
//! Aegis v0.3 display `error`, so it is always a sentence a human can act on.

use std::convert::Infallible;

use serde::Serialize;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Rejection, Reply};

use crate::session::actor::HandleError;
use crate::session::manager::SessionError;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds, for 429.
    pub retry_after: Option<u64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody<'a> {
    error: &'a str,
    code: &'a str,
    status_code: u16,
}

impl warp::reject::Reject for ApiError {}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "missing or invalid API token",
        )
    }
    pub fn rate_limited(retry_after: u64) -> Self {
        ApiError {
            retry_after: Some(retry_after),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                "too many requests; retry later",
            )
        }
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", message)
    }

    pub fn into_response(self) -> Response {
        let body = ErrorBody {
            error: &self.message,
            code: self.code,
            status_code: self.status.as_u16(),
        };
        let mut resp =
            warp::reply::with_status(warp::reply::json(&body), self.status).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(warp::http::header::RETRY_AFTER, secs.into());
        }
        resp
    }
}

impl From<SessionError> for ApiError {
    fn from(e: SessionError) -> Self {
        let msg = e.to_string();
        match e {
            SessionError::NotFound(_) => Self::new(StatusCode::NOT_FOUND, "SESSION_NOT_FOUND", msg),
            SessionError::NameTaken(_) => Self::new(StatusCode::CONFLICT, "NAME_CONFLICT", msg),
            SessionError::Invalid(_) => Self::bad_request("VALIDATION_ERROR", msg),
            SessionError::Spawn { .. } => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "SPAWN_FAILED", msg)
            }
            SessionError::Limit(_) => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "SESSION_LIMIT", msg)
            }
            SessionError::Handle(h) => h.into(),
        }
    }
}

impl From<HandleError> for ApiError {
    fn from(e: HandleError) -> Self {
        let msg = e.to_string();
        match e {
            HandleError::Exited => Self::new(StatusCode::CONFLICT, "SESSION_EXITED", msg),
            HandleError::Gone => Self::new(StatusCode::GONE, "SESSION_GONE", msg),
            HandleError::Busy => Self::new(StatusCode::SERVICE_UNAVAILABLE, "SESSION_BUSY", msg),
            HandleError::Write(_) => Self::new(StatusCode::CONFLICT, "WRITE_FAILED", msg),
        }
    }
}

/// Turn every rejection into the JSON error format; never warp's plain-text defaults.
pub async fn handle_rejection(err: Rejection) -> Result<Response, Infallible> {
    // `find` searches every rejection that was combined while routing, so check the specific
    // ones (raised by a route whose path and method matched) before 405 and 404, which any
    // sibling route produces.
    let e = if let Some(e) = err.find::<ApiError>() {
        e.clone()
    } else if err.find::<warp::reject::PayloadTooLarge>().is_some() {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            "request body is too large",
        )
    } else if err.find::<warp::reject::LengthRequired>().is_some() {
        ApiError::new(
            StatusCode::LENGTH_REQUIRED,
            "LENGTH_REQUIRED",
            "request body needs a Content-Length",
        )
    } else if err.find::<warp::reject::UnsupportedMediaType>().is_some() {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "expected application/json",
        )
    } else if let Some(q) = err.find::<warp::reject::InvalidQuery>() {
        ApiError::bad_request("INVALID_QUERY", q.to_string())
    } else if let Some(h) = err.find::<warp::reject::MissingHeader>() {
        ApiError::bad_request("MISSING_HEADER", h.to_string())
    } else if let Some(h) = err.find::<warp::reject::InvalidHeader>() {
        ApiError::bad_request("INVALID_HEADER", h.to_string())
    } else if err.find::<warp::reject::MethodNotAllowed>().is_some() {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "method not allowed on this route",
        )
    } else if err.is_not_found() {
        ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "no such route")
    } else {
        tracing::error!(rejection = ?err, "unhandled rejection");
        ApiError::internal("internal error")
    };
    Ok(e.into_response())
}
