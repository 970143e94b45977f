//! The transcript view of a session for the API: `messages` and `tokenUsage` from Claude's
//! JSONL (found through the SessionStart hook), read incrementally off the async runtime.
//! [`token_usage`] is the accessor other areas (metrics) call.

use super::App;
use crate::session::SessionHandle;
use crate::transcript::{Message, TokenUsage};

/// What the transcript says, or why it says nothing.
#[derive(Debug, Default)]
pub struct TranscriptView {
    pub messages: Vec<Message>,
    pub total_messages: u64,
    pub token_usage: Option<TokenUsage>,
    /// Why `token_usage` is `None`.
    pub unknown_reason: Option<String>,
}

pub async fn view(app: &App, h: &SessionHandle) -> TranscriptView {
    let Some(link) = app.sessions.hooks.get(&h.meta.id) else {
        return TranscriptView {
            unknown_reason: Some(if h.meta.agent_type == crate::session::AgentType::Claude {
                "hooks are off for this session, so its transcript is unknown".into()
            } else {
                format!(
                    "token usage is read from Claude Code transcripts; this is a {} session",
                    h.meta.agent_type.as_str()
                )
            }),
            ..TranscriptView::default()
        };
    };
    let prices = app.prices.clone();
    let result = tokio::task::spawn_blocking(move || {
        link.with_transcript(|t| TranscriptView {
            messages: t.messages(),
            total_messages: t.total_messages(),
            token_usage: t.token_usage(&prices),
            unknown_reason: None,
        })
    })
    .await
    .ok()
    .flatten();
    match result {
        Some(mut v) => {
            if v.token_usage.is_none() {
                v.unknown_reason = Some("the transcript has no token usage yet".into());
            }
            v
        }
        None => TranscriptView {
            unknown_reason: Some(
                "Claude has not reported its transcript (no SessionStart hook yet)".into(),
            ),
            ..TranscriptView::default()
        },
    }
}

/// Token usage of session `h`, or why it is unknown.
pub async fn token_usage(app: &App, h: &SessionHandle) -> Result<TokenUsage, String> {
    let v = view(app, h).await;
    v.token_usage
        .ok_or_else(|| v.unknown_reason.unwrap_or_else(|| "unknown".into()))
}
