//! The daemon as the MCP server sees it: base URL and token, and one call per REST request.
//! Every failure becomes a sentence for the model: an unreachable daemon says where it looked,
//! and an API error carries the daemon's own `error` message, code and status.

use serde_json::Value;

/// Longest any one REST call may take. Sends wait for the screen (seconds) and session
/// creation waits for the first prompt (up to 30 s), so a minute is generous but bounded.
const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

pub struct Daemon {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Daemon {
    pub fn new(base: &str, token: Option<String>) -> anyhow::Result<Daemon> {
        Ok(Daemon {
            http: reqwest::Client::builder().timeout(CALL_TIMEOUT).build()?,
            base: base.trim_end_matches('/').to_owned(),
            token: token.filter(|t| !t.is_empty()),
        })
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
        let url = format!("{}{}", self.base, path);
        let mut req = self.http.request(method.clone(), &url);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.map_err(|e| {
            if e.is_connect() || e.is_timeout() {
                format!(
                    "cannot reach the Aegis daemon at {} ({e}); is `aegis serve` running, and is AEGIS_URL right?",
                    self.base
                )
            } else {
                format!("{method} {path} failed: {e}")
            }
        })?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| format!("reading the daemon's answer to {method} {path}: {e}"))?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status.is_success() {
            return Ok(value);
        }
        let message = value["error"].as_str().unwrap_or("request failed");
        let code = value["code"].as_str().unwrap_or("HTTP_ERROR");
        Err(format!("{message} ({code}, {})", status.as_u16()))
    }
}
