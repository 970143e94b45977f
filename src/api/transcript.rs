//! The transcript view of a session for the API: `messages` and `tokenUsage` from Claude's
//! JSONL (found through the SessionStart hook), read incrementally off the async runtime.
//! [`token_usage`] is the accessor other areas call; [`usages`] and [`UsageTotals`] serve the
//! many-session views (`/v1/world`, `/v1/metrics`). [`TranscriptMessage`] and [`Usage`] are
//! the wire shapes of `crate::transcript`'s messages and token usage.

use futures_util::StreamExt;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Serialize;

use super::App;
use crate::session::SessionHandle;
use crate::transcript::claude::{CONTENT_TYPES, ROLES};
use crate::transcript::{Message, TokenUsage};

pub fn roles(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "string", "enum": ROLES})
}

pub fn content_types(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "string", "enum": CONTENT_TYPES})
}

/// One message of the agent's transcript, in v0.3's shape.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "TranscriptMessage")]
pub struct TranscriptMessage {
    #[schemars(schema_with = "roles")]
    role: &'static str,
    #[schemars(schema_with = "content_types")]
    content_type: &'static str,
    text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_use_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<String>,
}

impl From<Message> for TranscriptMessage {
    fn from(m: Message) -> TranscriptMessage {
        TranscriptMessage {
            role: m.role,
            content_type: m.content_type,
            text: m.text,
            tool_name: m.tool_name,
            tool_use_id: m.tool_use_id,
            timestamp: m.timestamp,
        }
    }
}

/// v0.3's `tokenUsage`: the sums of the agent's own records. `estimatedCostUsd` is null
/// (with `costUnknownReason`) when some model has no price: a partial sum would look exact
/// and be wrong.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "TokenUsage")]
pub struct Usage {
    input_tokens: u64,
    output_tokens: u64,
    cache_creation_tokens: u64,
    cache_read_tokens: u64,
    /// Null when a model has no price (see costUnknownReason).
    estimated_cost_usd: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cost_unknown_reason: Option<String>,
    /// The models seen, in the order first seen.
    models: Vec<String>,
}

impl From<TokenUsage> for Usage {
    fn from(u: TokenUsage) -> Usage {
        Usage {
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            cache_creation_tokens: u.cache_creation_tokens,
            cache_read_tokens: u.cache_read_tokens,
            estimated_cost_usd: u.estimated_cost_usd,
            cost_unknown_reason: u.cost_unknown_reason,
            models: u.models,
        }
    }
}

/// Transcripts read at once for a many-session view. Each read is a blocking file read on
/// tokio's blocking pool; a few in flight keep a view of hundreds of sessions quick without
/// crowding that pool (which also serves uploads, debriefs and the like).
const PARALLEL_READS: usize = 8;

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
            unknown_reason: Some(if h.meta.agent_type == crate::vocab::AgentType::Claude {
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

/// Token usage of each of `sessions`, in order (see [`token_usage`]).
pub async fn usages(app: &App, sessions: &[SessionHandle]) -> Vec<Result<TokenUsage, String>> {
    // The futures are built first: a closure inside the stream would make the future of a
    // route that awaits this fail to be `Send` for every lifetime (a known rustc limit).
    let reads: Vec<_> = sessions.iter().map(|h| token_usage(app, h)).collect();
    futures_util::stream::iter(reads)
        .buffered(PARALLEL_READS)
        .collect()
        .await
}

/// Token usage summed over the sessions whose usage is known. Sessions whose usage is unknown
/// are counted, never guessed; a cost is given only when every counted session has one (a
/// partial sum would look exact and be wrong).
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageTotals {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_tokens: u64,
    pub cache_read_tokens: u64,
    /// `None` when some counted session has no cost (a model without a price).
    pub estimated_cost_usd: Option<f64>,
    /// Sessions in the sums.
    pub sessions_counted: usize,
    /// Sessions whose usage is unknown (no transcript yet, hooks off, not Claude).
    pub sessions_unknown: usize,
    /// Counted sessions whose cost is unknown; non-zero makes `estimated_cost_usd` `None`.
    pub sessions_without_cost: usize,
}

impl UsageTotals {
    pub fn of<'a>(usages: impl IntoIterator<Item = &'a Result<TokenUsage, String>>) -> Self {
        let mut t = UsageTotals::default();
        let mut cost = 0.0;
        for u in usages {
            let Ok(u) = u else {
                t.sessions_unknown += 1;
                continue;
            };
            t.sessions_counted += 1;
            t.input_tokens += u.input_tokens;
            t.output_tokens += u.output_tokens;
            t.cache_creation_tokens += u.cache_creation_tokens;
            t.cache_read_tokens += u.cache_read_tokens;
            match u.estimated_cost_usd {
                Some(c) => cost += c,
                None => t.sessions_without_cost += 1,
            }
        }
        // Rounded to a millionth of a dollar, like each session's cost.
        t.estimated_cost_usd =
            (t.sessions_without_cost == 0).then(|| (cost * 1_000_000.0).round() / 1_000_000.0);
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(input: u64, cost: Option<f64>) -> Result<TokenUsage, String> {
        Ok(TokenUsage {
            input_tokens: input,
            output_tokens: 1,
            cache_creation_tokens: 2,
            cache_read_tokens: 3,
            estimated_cost_usd: cost,
            cost_unknown_reason: None,
            models: vec![],
        })
    }

    #[test]
    fn totals_count_unknown_sessions_and_never_guess_a_cost() {
        let all = [
            usage(10, Some(0.25)),
            Err("hooks are off".into()),
            usage(5, Some(0.5)),
        ];
        let t = UsageTotals::of(&all);
        assert_eq!(t.input_tokens, 15);
        assert_eq!(t.cache_read_tokens, 6);
        assert_eq!(t.estimated_cost_usd, Some(0.75));
        assert_eq!((t.sessions_counted, t.sessions_unknown), (2, 1));
        let t = UsageTotals::of(&[usage(1, Some(0.25)), usage(1, None)]);
        assert_eq!(t.estimated_cost_usd, None);
        assert_eq!(t.sessions_without_cost, 1);
    }
}
