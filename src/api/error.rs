//! The one error format of the API, `{"error", "code", "statusCode"}`, and the one place that
//! turns any rejection (unknown route, wrong method, oversized body, ...) into it. Clients of
//! Aegis v0.3 display `error`, so it is always a sentence a human can act on.

use std::convert::Infallible;

use serde::Serialize;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Rejection, Reply};

use crate::session::HandleError;
use crate::session::manager::SessionError;

/// Every `code` the API answers with. [`ErrorCode::as_str`] is the one place each is spelled;
/// clients branch on these strings, so a variant's spelling never changes. The six in
/// lower case are Aegis v0.3's inbound-webhook codes, kept as v0.3 spelled them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    ApprovalNotFound,
    BranchExists,
    ConsensusNotFound,
    CursorNotVerified,
    DeadLetterNotFound,
    DebriefNotFound,
    DeliveryFailed,
    ExecutionNotFound,
    FileExists,
    Forbidden,
    Internal,
    InvalidFormat,
    InvalidHeader,
    InvalidHookSecret,
    InvalidJson,
    InvalidMultipart,
    InvalidQuery,
    InvalidVerifyConfig,
    KeyNotFound,
    LengthRequired,
    MemoryFull,
    MemoryNotFound,
    MemoryReadOnly,
    MethodNotAllowed,
    MissingHeader,
    MissingVariable,
    NameConflict,
    NotAGitRepo,
    NotFound,
    NoChecks,
    NoPendingPermission,
    NoPendingQuestion,
    PathForbidden,
    PathNotFound,
    PayloadTooLarge,
    PipelineNotFound,
    ProtocolIncompatible,
    RateLimited,
    ReadOnly,
    RecordingNotFound,
    SessionBusy,
    SessionExited,
    SessionGone,
    SessionLimit,
    SessionNotFound,
    SpawnFailed,
    StalePermission,
    TemplateLimit,
    TemplateNotFound,
    TooManyTokens,
    Unauthorized,
    UnsupportedMediaType,
    UpgradeRequired,
    ValidationError,
    WebhookNotFound,
    WorktreeFailed,
    WriteFailed,
    FleetUnavailable,
    FleetProtocolError,
    HostBusy,
    HostNotFound,
    HostUnreachable,
    SessionNameAmbiguous,
    SessionOnOtherHost,
    IdempotentDuplicate,
    InvalidSignature,
    MalformedSignature,
    MissingSignature,
    SecretNotFound,
    UnroutableStimulus,
}

impl ErrorCode {
    /// Every code, for the OpenAPI document and the test that each is spelled once.
    pub const ALL: [ErrorCode; 70] = [
        ErrorCode::ApprovalNotFound,
        ErrorCode::BranchExists,
        ErrorCode::ConsensusNotFound,
        ErrorCode::CursorNotVerified,
        ErrorCode::DeadLetterNotFound,
        ErrorCode::DebriefNotFound,
        ErrorCode::DeliveryFailed,
        ErrorCode::ExecutionNotFound,
        ErrorCode::FileExists,
        ErrorCode::Forbidden,
        ErrorCode::Internal,
        ErrorCode::InvalidFormat,
        ErrorCode::InvalidHeader,
        ErrorCode::InvalidHookSecret,
        ErrorCode::InvalidJson,
        ErrorCode::InvalidMultipart,
        ErrorCode::InvalidQuery,
        ErrorCode::InvalidVerifyConfig,
        ErrorCode::KeyNotFound,
        ErrorCode::LengthRequired,
        ErrorCode::MemoryFull,
        ErrorCode::MemoryNotFound,
        ErrorCode::MemoryReadOnly,
        ErrorCode::MethodNotAllowed,
        ErrorCode::MissingHeader,
        ErrorCode::MissingVariable,
        ErrorCode::NameConflict,
        ErrorCode::NotAGitRepo,
        ErrorCode::NotFound,
        ErrorCode::NoChecks,
        ErrorCode::NoPendingPermission,
        ErrorCode::NoPendingQuestion,
        ErrorCode::PathForbidden,
        ErrorCode::PathNotFound,
        ErrorCode::PayloadTooLarge,
        ErrorCode::PipelineNotFound,
        ErrorCode::ProtocolIncompatible,
        ErrorCode::RateLimited,
        ErrorCode::ReadOnly,
        ErrorCode::RecordingNotFound,
        ErrorCode::SessionBusy,
        ErrorCode::SessionExited,
        ErrorCode::SessionGone,
        ErrorCode::SessionLimit,
        ErrorCode::SessionNotFound,
        ErrorCode::SpawnFailed,
        ErrorCode::StalePermission,
        ErrorCode::TemplateLimit,
        ErrorCode::TemplateNotFound,
        ErrorCode::TooManyTokens,
        ErrorCode::Unauthorized,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::UpgradeRequired,
        ErrorCode::ValidationError,
        ErrorCode::WebhookNotFound,
        ErrorCode::WorktreeFailed,
        ErrorCode::WriteFailed,
        ErrorCode::IdempotentDuplicate,
        ErrorCode::InvalidSignature,
        ErrorCode::MalformedSignature,
        ErrorCode::MissingSignature,
        ErrorCode::SecretNotFound,
        ErrorCode::UnroutableStimulus,
        ErrorCode::FleetUnavailable,
        ErrorCode::FleetProtocolError,
        ErrorCode::HostBusy,
        ErrorCode::HostNotFound,
        ErrorCode::HostUnreachable,
        ErrorCode::SessionNameAmbiguous,
        ErrorCode::SessionOnOtherHost,
    ];

    /// The code on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ApprovalNotFound => "APPROVAL_NOT_FOUND",
            ErrorCode::BranchExists => "BRANCH_EXISTS",
            ErrorCode::ConsensusNotFound => "CONSENSUS_NOT_FOUND",
            ErrorCode::CursorNotVerified => "CURSOR_NOT_VERIFIED",
            ErrorCode::DeadLetterNotFound => "DEAD_LETTER_NOT_FOUND",
            ErrorCode::DebriefNotFound => "DEBRIEF_NOT_FOUND",
            ErrorCode::DeliveryFailed => "DELIVERY_FAILED",
            ErrorCode::ExecutionNotFound => "EXECUTION_NOT_FOUND",
            ErrorCode::FileExists => "FILE_EXISTS",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::Internal => "INTERNAL",
            ErrorCode::InvalidFormat => "INVALID_FORMAT",
            ErrorCode::InvalidHeader => "INVALID_HEADER",
            ErrorCode::InvalidHookSecret => "INVALID_HOOK_SECRET",
            ErrorCode::InvalidJson => "INVALID_JSON",
            ErrorCode::InvalidMultipart => "INVALID_MULTIPART",
            ErrorCode::InvalidQuery => "INVALID_QUERY",
            ErrorCode::InvalidVerifyConfig => "INVALID_VERIFY_CONFIG",
            ErrorCode::KeyNotFound => "KEY_NOT_FOUND",
            ErrorCode::LengthRequired => "LENGTH_REQUIRED",
            ErrorCode::MemoryFull => "MEMORY_FULL",
            ErrorCode::MemoryNotFound => "MEMORY_NOT_FOUND",
            ErrorCode::MemoryReadOnly => "MEMORY_READ_ONLY",
            ErrorCode::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ErrorCode::MissingHeader => "MISSING_HEADER",
            ErrorCode::MissingVariable => "MISSING_VARIABLE",
            ErrorCode::NameConflict => "NAME_CONFLICT",
            ErrorCode::NotAGitRepo => "NOT_A_GIT_REPO",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::NoChecks => "NO_CHECKS",
            ErrorCode::NoPendingPermission => "NO_PENDING_PERMISSION",
            ErrorCode::NoPendingQuestion => "NO_PENDING_QUESTION",
            ErrorCode::PathForbidden => "PATH_FORBIDDEN",
            ErrorCode::PathNotFound => "PATH_NOT_FOUND",
            ErrorCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ErrorCode::PipelineNotFound => "PIPELINE_NOT_FOUND",
            ErrorCode::ProtocolIncompatible => "PROTOCOL_INCOMPATIBLE",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::ReadOnly => "READ_ONLY",
            ErrorCode::RecordingNotFound => "RECORDING_NOT_FOUND",
            ErrorCode::SessionBusy => "SESSION_BUSY",
            ErrorCode::SessionExited => "SESSION_EXITED",
            ErrorCode::SessionGone => "SESSION_GONE",
            ErrorCode::SessionLimit => "SESSION_LIMIT",
            ErrorCode::SessionNotFound => "SESSION_NOT_FOUND",
            ErrorCode::SpawnFailed => "SPAWN_FAILED",
            ErrorCode::StalePermission => "STALE_PERMISSION",
            ErrorCode::TemplateLimit => "TEMPLATE_LIMIT",
            ErrorCode::TemplateNotFound => "TEMPLATE_NOT_FOUND",
            ErrorCode::TooManyTokens => "TOO_MANY_TOKENS",
            ErrorCode::Unauthorized => "UNAUTHORIZED",
            ErrorCode::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            ErrorCode::UpgradeRequired => "UPGRADE_REQUIRED",
            ErrorCode::ValidationError => "VALIDATION_ERROR",
            ErrorCode::WebhookNotFound => "WEBHOOK_NOT_FOUND",
            ErrorCode::WorktreeFailed => "WORKTREE_FAILED",
            ErrorCode::WriteFailed => "WRITE_FAILED",
            ErrorCode::FleetUnavailable => "FLEET_UNAVAILABLE",
            ErrorCode::FleetProtocolError => "FLEET_PROTOCOL_ERROR",
            ErrorCode::HostBusy => "HOST_BUSY",
            ErrorCode::HostNotFound => "HOST_NOT_FOUND",
            ErrorCode::HostUnreachable => "HOST_UNREACHABLE",
            ErrorCode::SessionNameAmbiguous => "SESSION_NAME_AMBIGUOUS",
            ErrorCode::SessionOnOtherHost => "SESSION_ON_OTHER_HOST",
            ErrorCode::IdempotentDuplicate => "idempotent_duplicate",
            ErrorCode::InvalidSignature => "invalid_signature",
            ErrorCode::MalformedSignature => "malformed_signature",
            ErrorCode::MissingSignature => "missing_signature",
            ErrorCode::SecretNotFound => "secret_not_found",
            ErrorCode::UnroutableStimulus => "unroutable_stimulus",
        }
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    /// Seconds, for 429.
    pub retry_after: Option<u64>,
}

/// The one error format: every non-2xx answer of the API has this body.
#[derive(Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "Error")]
pub(crate) struct ErrorBody<'a> {
    /// A sentence a human can act on.
    error: &'a str,
    #[schemars(with = "ErrorCode")]
    code: &'a str,
    /// The HTTP status, repeated for clients that only see the body.
    status_code: u16,
    /// Only in a 421 `SESSION_ON_OTHER_HOST` (a fleet's WebSocket stream of another
    /// host's session): the host the session lives on.
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<&'a str>,
    /// Only in a 421 `SESSION_ON_OTHER_HOST`: the stream's URL on that host, to connect to
    /// instead (also the `Location` header); null when that host advertises no URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<Option<&'a str>>,
}

impl<'a> ErrorBody<'a> {
    pub(crate) fn new(status: StatusCode, code: ErrorCode, error: &'a str) -> ErrorBody<'a> {
        ErrorBody {
            error,
            code: code.as_str(),
            status_code: status.as_u16(),
            host: None,
            url: None,
        }
    }

    /// A 421 `SESSION_ON_OTHER_HOST`: the session lives on `host`, its stream is at `url`.
    pub(crate) fn elsewhere(error: &'a str, host: &'a str, url: Option<&'a str>) -> ErrorBody<'a> {
        ErrorBody {
            host: Some(host),
            url: Some(url),
            ..ErrorBody::new(
                StatusCode::MISDIRECTED_REQUEST,
                ErrorCode::SessionOnOtherHost,
                error,
            )
        }
    }
}

impl warp::reject::Reject for ApiError {}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }
    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    /// A 400 `VALIDATION_ERROR`: the request parsed but asks for something invalid.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::bad_request(ErrorCode::ValidationError, message)
    }
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "missing or invalid API token",
        )
    }
    pub fn rate_limited(retry_after: u64) -> Self {
        ApiError {
            retry_after: Some(retry_after),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::RateLimited,
                "too many requests; retry later",
            )
        }
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            message,
        )
    }

    /// The body of this error, serialized (for an answer that is not a warp reply: a fleet
    /// owner's refusal of a forwarded request).
    pub fn body_json(&self) -> Vec<u8> {
        let body = ErrorBody::new(self.status, self.code, &self.message);
        // Serializing a struct of strings and a number cannot fail.
        serde_json::to_vec(&body).unwrap_or_default()
    }

    pub fn into_response(self) -> Response {
        let body = ErrorBody::new(self.status, self.code, &self.message);
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
            SessionError::NotFound(_) => {
                Self::new(StatusCode::NOT_FOUND, ErrorCode::SessionNotFound, msg)
            }
            SessionError::NameTaken(_) => {
                Self::new(StatusCode::CONFLICT, ErrorCode::NameConflict, msg)
            }
            SessionError::Invalid(_) => Self::invalid(msg),
            SessionError::Spawn { .. } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::SpawnFailed,
                msg,
            ),
            SessionError::Limit(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::SessionLimit,
                msg,
            ),
            SessionError::Handle(h) => h.into(),
        }
    }
}

impl From<HandleError> for ApiError {
    fn from(e: HandleError) -> Self {
        let msg = e.to_string();
        match e {
            HandleError::Exited => Self::new(StatusCode::CONFLICT, ErrorCode::SessionExited, msg),
            HandleError::Gone => Self::new(StatusCode::GONE, ErrorCode::SessionGone, msg),
            HandleError::Busy => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::SessionBusy, msg)
            }
            HandleError::Write(_) => Self::new(StatusCode::CONFLICT, ErrorCode::WriteFailed, msg),
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
            ErrorCode::PayloadTooLarge,
            "request body is too large",
        )
    } else if err.find::<warp::reject::LengthRequired>().is_some() {
        ApiError::new(
            StatusCode::LENGTH_REQUIRED,
            ErrorCode::LengthRequired,
            "request body needs a Content-Length",
        )
    } else if err.find::<warp::reject::UnsupportedMediaType>().is_some() {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "expected application/json",
        )
    } else if let Some(q) = err.find::<warp::reject::InvalidQuery>() {
        ApiError::bad_request(ErrorCode::InvalidQuery, q.to_string())
    } else if let Some(h) = err.find::<warp::reject::MissingHeader>() {
        ApiError::bad_request(ErrorCode::MissingHeader, h.to_string())
    } else if let Some(h) = err.find::<warp::reject::InvalidHeader>() {
        ApiError::bad_request(ErrorCode::InvalidHeader, h.to_string())
    } else if err.find::<warp::reject::MethodNotAllowed>().is_some() {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::MethodNotAllowed,
            "method not allowed on this route",
        )
    } else if err.is_not_found() {
        ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such route")
    } else {
        tracing::error!(rejection = ?err, "unhandled rejection");
        ApiError::internal("internal error")
    };
    Ok(e.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_spelled_once() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.as_str()), "{c:?} repeats {}", c.as_str());
        }
    }
}
