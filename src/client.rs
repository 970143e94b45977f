//! The one REST client of the daemon, shared by the command-line client (`cli`), the MCP
//! server (`mcp`) and `doctor` (which asks whether an Aegis daemon holds the port): a base URL, an optional token sent as a Bearer header, and one call per
//! request. A failure stays typed ([`CallError`]) so each front end words it for its reader:
//! a person at a terminal, or a model.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

/// A client of one daemon.
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

/// Why a call failed.
#[derive(Debug)]
pub enum CallError {
    /// Nothing answered at the base URL (connection refused, or the call timed out).
    Unreachable {
        base: String,
        source: reqwest::Error,
    },
    /// The request could not be sent.
    Request {
        method: Method,
        path: String,
        url: String,
        source: reqwest::Error,
    },
    /// The answer could not be read.
    Read {
        method: Method,
        path: String,
        source: reqwest::Error,
    },
    /// The daemon answered with an error status; `error` and `code` are from its error body
    /// (`{"error", "code", "statusCode"}`), when it had one.
    Api {
        status: StatusCode,
        error: Option<String>,
        code: Option<String>,
    },
}

impl Client {
    /// A client of the daemon at `base` (`http://127.0.0.1:9100`); each call may take up to
    /// `timeout`.
    pub fn new(base: &str, token: Option<String>, timeout: Duration) -> anyhow::Result<Client> {
        Ok(Client {
            http: reqwest::Client::builder().timeout(timeout).build()?,
            base: base.trim_end_matches('/').to_owned(),
            token,
        })
    }

    /// `method path` with an optional JSON body. A success answers the body as JSON (or as a
    /// JSON string when it is not JSON).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, CallError> {
        let url = format!("{}{}", self.base, path);
        let mut req = self.http.request(method.clone(), &url);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.map_err(|source| {
            if source.is_connect() || source.is_timeout() {
                CallError::Unreachable {
                    base: self.base.clone(),
                    source,
                }
            } else {
                CallError::Request {
                    method: method.clone(),
                    path: path.to_owned(),
                    url: url.clone(),
                    source,
                }
            }
        })?;
        let status = resp.status();
        let text = resp.text().await.map_err(|source| CallError::Read {
            method: method.clone(),
            path: path.to_owned(),
            source,
        })?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status.is_success() {
            return Ok(value);
        }
        let field = |k: &str| value.get(k).and_then(Value::as_str).map(str::to_owned);
        Err(CallError::Api {
            status,
            error: field("error"),
            code: field("code"),
        })
    }
}

/// `s` as one URL path segment: session names, keys and ids are URL-safe by validation, but
/// what a user or a model types may not be.
pub fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(segment("a b/c"), "a%20b%2Fc");
        assert_eq!(segment("cc-1.x_~"), "cc-1.x_~");
    }
}
