//! Claude Code's JSONL transcript (`~/.claude/projects/<slug>/<session>.jsonl`): one JSON object
//! per line, appended as the conversation goes. We turn it into v0.3's `messages` and
//! `tokenUsage`.
//!
//! - Lines of `type` `user` / `assistant` carry `message.content`, a string or a list of blocks
//!   (`text`, `thinking`, `tool_use`, `tool_result`); `system` lines carry `content`; other types
//!   (`summary`, snapshots, ...) are skipped.
//! - Assistant lines carry `message.usage`. Claude Code writes one line per content block of the
//!   same API message, each repeating that message's usage, so usage is counted once per
//!   `message.id` (the last line seen wins).
//!
//! Reading is incremental: [`Transcript::update`] reads from the byte offset it reached last
//! time, and keeps an unterminated last line for the next call, so polling a growing file costs
//! only its new bytes. Malformed lines are skipped (counted), never fatal.

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::pricing::PriceTable;

/// Messages kept per transcript (oldest dropped first): a long session writes tens of
/// thousands of lines, and clients read the recent ones.
pub const MAX_MESSAGES: usize = 2000;

/// Longest text kept per message; tool results can be whole files.
pub const MAX_TEXT: usize = 4000;

/// Most bytes read in one update, so one request never reads a huge backlog in one go.
const MAX_READ: u64 = 8 * 1024 * 1024;

/// One message in v0.3's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// One of [`ROLES`].
    pub role: &'static str,
    /// One of [`CONTENT_TYPES`].
    pub content_type: &'static str,
    pub text: String,
    pub tool_name: Option<String>,
    pub tool_use_id: Option<String>,
    /// As the transcript wrote it (RFC 3339).
    pub timestamp: Option<String>,
}

/// Every `role` a [`Message`] has.
pub const ROLES: [&str; 3] = ["user", "assistant", "system"];
/// Every `contentType` a [`Message`] has.
pub const CONTENT_TYPES: [&str; 7] = [
    "text",
    "thinking",
    "tool_use",
    "tool_result",
    "tool_error",
    "permission_request",
    "progress",
];

/// Token counts of one API message.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Usage {
    input: u64,
    output: u64,
    cache_creation: u64,
    cache_read: u64,
}

/// v0.3's `tokenUsage`. `estimatedCostUsd` is `None` (with `costUnknownReason`) when some
/// model has no price: a partial sum would look exact and be wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_tokens: u64,
    pub cache_read_tokens: u64,
    /// `None` when a model has no price (see `cost_unknown_reason`).
    pub estimated_cost_usd: Option<f64>,
    pub cost_unknown_reason: Option<String>,
    /// The models seen, in the order first seen.
    pub models: Vec<String>,
}

/// An incrementally read transcript.
#[derive(Debug)]
pub struct Transcript {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
    messages: VecDeque<Message>,
    total_messages: u64,
    /// message.id → (model, usage).
    usage: HashMap<String, (String, Usage)>,
    models: Vec<String>,
    skipped_lines: u64,
}

impl Transcript {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Transcript {
            path: path.into(),
            offset: 0,
            partial: Vec::new(),
            messages: VecDeque::new(),
            total_messages: 0,
            usage: HashMap::new(),
            models: Vec::new(),
            skipped_lines: 0,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes consumed so far (v0.3's `byteOffset`).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Read what was appended since the last call. A file that shrank (rewritten) is read
    /// again from the start.
    pub fn update(&mut self) -> std::io::Result<()> {
        let mut f = std::fs::File::open(&self.path)?;
        let len = f.metadata()?.len();
        if len < self.offset {
            *self = Transcript::new(self.path.clone());
        }
        if len == self.offset {
            return Ok(());
        }
        f.seek(SeekFrom::Start(self.offset))?;
        let mut buf = Vec::new();
        f.take(MAX_READ).read_to_end(&mut buf)?;
        self.offset += buf.len() as u64;
        self.feed(&buf);
        Ok(())
    }

    /// Parse `bytes` appended to the transcript (exposed for tests and benchmarks).
    pub fn feed(&mut self, bytes: &[u8]) {
        self.partial.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(nl) = self.partial[start..].iter().position(|&b| b == b'\n') {
            let line = self.partial[start..start + nl].to_vec();
            start += nl + 1;
            self.line(&line);
        }
        self.partial.drain(..start);
    }

    fn line(&mut self, line: &[u8]) {
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let Ok(v) = serde_json::from_slice::<Value>(line) else {
            self.skipped_lines += 1;
            return;
        };
        let ts = v["timestamp"].as_str().map(str::to_owned);
        match v["type"].as_str() {
            Some("user") => {
                let role = if v["isMeta"] == true {
                    "system"
                } else {
                    "user"
                };
                self.content(role, &v["message"]["content"], ts);
            }
            Some("assistant") => {
                self.content("assistant", &v["message"]["content"], ts);
                self.note_usage(&v["message"]);
            }
            Some("system") => {
                let text = v["content"].as_str().unwrap_or_default();
                if !text.is_empty() {
                    self.push(Message {
                        role: "system",
                        content_type: "text",
                        text: clip(text),
                        tool_name: None,
                        tool_use_id: None,
                        timestamp: ts,
                    });
                }
            }
            Some("progress") => self.push(Message {
                role: "system",
                content_type: "progress",
                text: clip(&v["data"].to_string()),
                tool_name: None,
                tool_use_id: v["toolUseID"].as_str().map(str::to_owned),
                timestamp: ts,
            }),
            _ => {}
        }
    }

    fn content(&mut self, role: &'static str, content: &Value, ts: Option<String>) {
        let msg = |content_type, text: &str, tool_name: Option<&str>, id: Option<&str>| Message {
            role,
            content_type,
            text: clip(text),
            tool_name: tool_name.map(str::to_owned),
            tool_use_id: id.map(str::to_owned),
            timestamp: ts.clone(),
        };
        if let Some(s) = content.as_str() {
            let m = msg("text", s, None, None);
            self.push(m);
            return;
        }
        let Some(blocks) = content.as_array() else {
            return;
        };
        for b in blocks {
            let m = match b["type"].as_str() {
                Some("text") => msg("text", b["text"].as_str().unwrap_or_default(), None, None),
                Some("thinking") => msg(
                    "thinking",
                    b["thinking"].as_str().unwrap_or_default(),
                    None,
                    None,
                ),
                Some("tool_use") => msg(
                    "tool_use",
                    &b["input"].to_string(),
                    b["name"].as_str(),
                    b["id"].as_str(),
                ),
                Some("tool_result") => {
                    let kind = if b["is_error"] == true {
                        "tool_error"
                    } else {
                        "tool_result"
                    };
                    msg(
                        kind,
                        &block_text(&b["content"]),
                        None,
                        b["tool_use_id"].as_str(),
                    )
                }
                _ => continue,
            };
            self.push(m);
        }
    }

    fn note_usage(&mut self, message: &Value) {
        let u = &message["usage"];
        if !u.is_object() {
            return;
        }
        let n = |k: &str| u[k].as_u64().unwrap_or(0);
        let usage = Usage {
            input: n("input_tokens"),
            output: n("output_tokens"),
            cache_creation: n("cache_creation_input_tokens"),
            cache_read: n("cache_read_input_tokens"),
        };
        let model = message["model"].as_str().unwrap_or("unknown").to_owned();
        if !self.models.contains(&model) {
            self.models.push(model.clone());
        }
        // Without an id each line is its own message.
        let id = message["id"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("line-{}", self.usage.len()));
        self.usage.insert(id, (model, usage));
    }

    fn push(&mut self, m: Message) {
        if self.messages.len() >= MAX_MESSAGES {
            self.messages.pop_front();
        }
        self.messages.push_back(m);
        self.total_messages += 1;
    }

    /// The most recent messages (up to [`MAX_MESSAGES`]), oldest first.
    pub fn messages(&self) -> Vec<Message> {
        self.messages.iter().cloned().collect()
    }

    /// Every message parsed, including ones no longer kept.
    pub fn total_messages(&self) -> u64 {
        self.total_messages
    }

    /// Lines that were not JSON.
    #[cfg(test)]
    pub fn skipped_lines(&self) -> u64 {
        self.skipped_lines
    }

    /// Summed usage and its estimated cost, or `None` when the transcript has no usage yet.
    pub fn token_usage(&self, prices: &PriceTable) -> Option<TokenUsage> {
        if self.usage.is_empty() {
            return None;
        }
        let mut total = Usage::default();
        let mut cost = 0.0;
        let mut unpriced: Vec<&str> = Vec::new();
        for (model, u) in self.usage.values() {
            total.input += u.input;
            total.output += u.output;
            total.cache_creation += u.cache_creation;
            total.cache_read += u.cache_read;
            match prices.lookup(model) {
                Some(p) => {
                    cost += (u.input as f64 * p.input
                        + u.output as f64 * p.output
                        + u.cache_creation as f64 * p.cache_write
                        + u.cache_read as f64 * p.cache_read)
                        / 1_000_000.0;
                }
                None if !unpriced.contains(&model.as_str()) => unpriced.push(model),
                None => {}
            }
        }
        unpriced.sort_unstable();
        Some(TokenUsage {
            input_tokens: total.input,
            output_tokens: total.output,
            cache_creation_tokens: total.cache_creation,
            cache_read_tokens: total.cache_read,
            estimated_cost_usd: unpriced
                .is_empty()
                .then(|| (cost * 1_000_000.0).round() / 1_000_000.0),
            cost_unknown_reason: (!unpriced.is_empty()).then(|| {
                format!(
                    "no price for model {} (add it under [pricing] in the config file)",
                    unpriced.join(", ")
                )
            }),
            models: self.models.clone(),
        })
    }
}

/// The text of a tool result's `content`: a string, or a list of text blocks.
fn block_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn clip(s: &str) -> String {
    if s.len() <= MAX_TEXT {
        return s.to_owned();
    }
    let mut end = MAX_TEXT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = include_str!("../../tests/fixtures/transcripts/claude-session.jsonl");

    #[test]
    fn messages_and_usage_from_the_sample() {
        let mut t = Transcript::new("/nonexistent");
        t.feed(SAMPLE.as_bytes());
        let m = t.messages();
        let kinds: Vec<(&str, &str)> = m.iter().map(|m| (m.role, m.content_type)).collect();
        assert_eq!(
            kinds,
            [
                ("user", "text"),
                ("assistant", "thinking"),
                ("assistant", "text"),
                ("assistant", "tool_use"),
                ("user", "tool_result"),
                ("assistant", "tool_use"),
                ("user", "tool_error"),
                ("assistant", "text"),
                ("system", "text"),
            ]
        );
        assert_eq!(m[0].text, "List the files and remove build/");
        assert_eq!(m[3].tool_name.as_deref(), Some("Bash"));
        assert_eq!(m[3].tool_use_id.as_deref(), Some("toolu_01"));
        assert_eq!(m[4].tool_use_id.as_deref(), Some("toolu_01"));
        assert_eq!(m[4].text, "Cargo.toml\nsrc");
        assert_eq!(m[0].timestamp.as_deref(), Some("2026-11-20T10:00:00.000Z"));
        assert_eq!(t.skipped_lines(), 1);
        let u = t.token_usage(&PriceTable::default()).expect("usage");
        // msg_01 is written on three lines with the same usage: counted once.
        assert_eq!(u.input_tokens, 10 + 20 + 30);
        assert_eq!(u.output_tokens, 100 + 50 + 25);
        assert_eq!(u.cache_creation_tokens, 1000);
        assert_eq!(u.cache_read_tokens, 2000 + 2000);
        // sonnet-4: (60*3 + 175*15 + 1000*3.75 + 4000*0.3) / 1e6
        let want = (60.0 * 3.0 + 175.0 * 15.0 + 1000.0 * 3.75 + 4000.0 * 0.3) / 1e6;
        let got = u.estimated_cost_usd.expect("priced");
        assert!((got - want).abs() < 1e-9, "{got} vs {want}");
    }

    #[test]
    fn unknown_model_cost_is_unknown_not_invented() {
        let mut t = Transcript::new("/nonexistent");
        t.feed(br#"{"type":"assistant","message":{"id":"m","model":"mystery-1","content":[],"usage":{"input_tokens":5,"output_tokens":7}}}
"#);
        let u = t.token_usage(&PriceTable::default()).expect("usage");
        assert_eq!(u.input_tokens, 5);
        assert_eq!(u.estimated_cost_usd, None);
        assert!(u.cost_unknown_reason.expect("reason").contains("mystery-1"));
        assert!(
            Transcript::new("/x")
                .token_usage(&PriceTable::default())
                .is_none()
        );
    }

    #[test]
    fn reads_incrementally_and_keeps_partial_lines() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("t.jsonl");
        let lines: Vec<&str> = SAMPLE.lines().collect();
        std::fs::write(&path, format!("{}\n{}", lines[0], &lines[1][..10])).expect("write");
        let mut t = Transcript::new(&path);
        t.update().expect("read");
        assert_eq!(t.messages().len(), 1);
        let first = t.offset();
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("open");
        writeln!(f, "{}", &lines[1][10..]).expect("append");
        t.update().expect("read");
        assert_eq!(t.messages().len(), 2, "{:?}", t.messages());
        assert!(t.offset() > first);
        // Nothing new: nothing re-read.
        let before = t.total_messages();
        t.update().expect("read");
        assert_eq!(t.total_messages(), before);
    }
}
