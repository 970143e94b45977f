//! Inbound stimuli: other systems poking Aegis.
//!
//! `POST /v1/webhooks/{source}` is unauthenticated by API token (GitHub and friends cannot
//! send one); the HMAC is the authentication. The secret is `AEGIS_WEBHOOK_SECRET_<SOURCE>`
//! (source upper-cased, every non-alphanumeric byte as `_`), read when the request arrives.
//! The signature header is `X-Aegis-Signature` (or GitHub's `X-Hub-Signature-256`), value
//! `sha256=<hex HMAC-SHA256(secret, raw body)>`, checked in constant time. Errors, in the
//! order they are checked: `secret_not_found` (401), `missing_signature` (401),
//! `malformed_signature` (400), `invalid_signature` (401).
//!
//! `POST /v1/stimuli {source, content, idempotency_key}` (API token required) is the same
//! stimulus without the HMAC. Both dedupe on the idempotency key per source for 24 h (409
//! `idempotent_duplicate`) and route the content by the config's `[[stimuli]]` rules; no
//! matching rule is a 422 `unroutable_stimulus`. A key is remembered only once its stimulus was
//! routed, so a stimulus that failed can be sent again.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::config::{FileConfig, StimulusAction};
use crate::events::EventDetail;
use crate::events::detail::{MessageSent, MessageVia};
use crate::session::HandleError;
use crate::session::SessionManager;
use crate::session::manager::SessionError;

/// How long an idempotency key is remembered.
pub const IDEMPOTENCY_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);
/// Keys remembered at once; beyond this the oldest are forgotten early. At ~200 bytes per key
/// this is ~20 MB at worst.
const MAX_KEYS: usize = 100_000;
/// Longest accepted idempotency key.
const MAX_KEY_LEN: usize = 256;

/// The environment variable holding `source`'s secret.
pub fn secret_var(source: &str) -> String {
    let norm: String = source
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                b.to_ascii_uppercase() as char
            } else {
                '_'
            }
        })
        .collect();
    format!("AEGIS_WEBHOOK_SECRET_{norm}")
}

/// Why a stimulus was refused. The API answers each with its own code (`api::webhooks`).
#[derive(Debug, thiserror::Error)]
pub enum StimulusError {
    #[error("no secret is configured for this source")]
    SecretNotFound,
    #[error("missing X-Aegis-Signature header")]
    MissingSignature,
    #[error("signature must be sha256=<64 hex digits>")]
    MalformedSignature,
    #[error("signature does not match the body")]
    InvalidSignature,
    #[error("idempotency key longer than {MAX_KEY_LEN} bytes")]
    KeyTooLong,
    #[error("this idempotency key was already used in the last 24 hours")]
    Duplicate,
    /// No rule, or a rule whose target does not exist; the message says which.
    #[error("{0}")]
    Unroutable(String),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Handle(#[from] HandleError),
}

/// Check `signature` (the header value, if any) over `body` with `secret`.
pub fn verify(
    secret: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
) -> Result<(), StimulusError> {
    let secret = secret
        .filter(|s| !s.is_empty())
        .ok_or(StimulusError::SecretNotFound)?;
    let sig = signature
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or(StimulusError::MissingSignature)?;
    let tag = sig
        .strip_prefix("sha256=")
        .and_then(|h| hex::decode(h).ok())
        .filter(|t| t.len() == 32)
        .ok_or(StimulusError::MalformedSignature)?;
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(body);
    mac.verify_slice(&tag)
        .map_err(|_| StimulusError::InvalidSignature)
}

/// Idempotency keys seen recently, per source.
#[derive(Default)]
pub struct Dedupe {
    seen: Mutex<HashMap<String, Instant>>,
}

impl Dedupe {
    /// Claim `key` for `source`; `Err` if it was used within the window.
    pub fn claim(&self, source: &str, key: &str) -> Result<String, StimulusError> {
        if key.len() > MAX_KEY_LEN {
            return Err(StimulusError::KeyTooLong);
        }
        let full = format!("{}\n{key}", source.to_ascii_lowercase());
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen
            .get(&full)
            .is_some_and(|at| now.duration_since(*at) < IDEMPOTENCY_WINDOW)
        {
            return Err(StimulusError::Duplicate);
        }
        if seen.len() >= MAX_KEYS {
            seen.retain(|_, at| now.duration_since(*at) < IDEMPOTENCY_WINDOW);
            while seen.len() >= MAX_KEYS {
                let Some(oldest) = seen
                    .iter()
                    .min_by_key(|(_, at)| **at)
                    .map(|(k, _)| k.clone())
                else {
                    break;
                };
                seen.remove(&oldest);
            }
        }
        seen.insert(full.clone(), now);
        Ok(full)
    }

    /// Forget a claim whose stimulus failed.
    pub fn release(&self, claimed: &str) {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(claimed);
    }
}

/// Where a stimulus went.
#[derive(Debug)]
pub struct Routed {
    /// send_to_session or create_session.
    pub action: &'static str,
    pub session_id: String,
    pub session_name: String,
}

/// Route `content` from `source` by the first matching rule.
pub async fn route(
    cfg: &FileConfig,
    sessions: &SessionManager,
    source: &str,
    content: &str,
) -> Result<Routed, StimulusError> {
    let rule = cfg
        .stimuli
        .iter()
        .find(|r| r.matches(source, content))
        .ok_or_else(|| {
            StimulusError::Unroutable(format!(
                "no stimulus rule matches source {source:?}; add a [[stimuli]] rule to the config"
            ))
        })?;
    match rule.action {
        StimulusAction::SendToSession => {
            let target = rule.session.as_deref().unwrap_or_default();
            let h = sessions.get(target).map_err(|_| {
                StimulusError::Unroutable(format!(
                    "the rule's target session {target:?} does not exist"
                ))
            })?;
            let d = h.send_text(content, true).await?;
            sessions.bus.publish(
                crate::events::EventKind::MessageSent,
                &h.meta,
                None,
                None,
                EventDetail::MessageSent(MessageSent {
                    text: content.to_owned(),
                    delivered: d.delivered,
                    via: MessageVia::Stimulus {
                        source: source.to_owned(),
                    },
                }),
            );
            Ok(Routed {
                action: "send_to_session",
                session_id: h.meta.id.to_string(),
                session_name: h.meta.name.clone(),
            })
        }
        StimulusAction::CreateSession => {
            let name = rule.template.as_deref().unwrap_or_default();
            let t = cfg
                .templates
                .get(name)
                .ok_or_else(|| StimulusError::Unroutable(format!("unknown template {name:?}")))?;
            let mut spec = cfg.agent_spec(&t.agent).ok_or_else(|| {
                StimulusError::Unroutable(format!(
                    "template {name:?} names unknown agent {:?}",
                    t.agent
                ))
            })?;
            spec.work_dir = t.work_dir.clone();
            spec.prompt = Some(content.to_owned());
            let h = sessions.create(spec).await?;
            Ok(Routed {
                action: "create_session",
                session_id: h.meta.id.to_string(),
                session_name: h.meta.name.clone(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_orders_errors() {
        let body = b"{}";
        let good = super::super::sign(b"k", body);
        assert!(verify(Some("k"), Some(&good), body).is_ok());
        assert!(matches!(
            verify(None, Some(&good), body),
            Err(StimulusError::SecretNotFound)
        ));
        assert!(matches!(
            verify(Some("k"), None, body),
            Err(StimulusError::MissingSignature)
        ));
        assert!(matches!(
            verify(Some("k"), Some("md5=zz"), body),
            Err(StimulusError::MalformedSignature)
        ));
        assert!(matches!(
            verify(Some("other"), Some(&good), body),
            Err(StimulusError::InvalidSignature)
        ));
        assert_eq!(secret_var("git-hub.x"), "AEGIS_WEBHOOK_SECRET_GIT_HUB_X");
    }

    #[test]
    fn dedupe_rejects_repeats_until_released() {
        let d = Dedupe::default();
        let c = d.claim("s", "k").expect("first");
        assert!(d.claim("s", "k").is_err());
        assert!(d.claim("other", "k").is_ok());
        d.release(&c);
        assert!(d.claim("s", "k").is_ok());
    }
}
