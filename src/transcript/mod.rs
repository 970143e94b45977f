//! Agent transcripts: what the agent itself wrote down about a session (its messages and token
//! usage), read from the files the agent keeps. Only Claude Code's JSONL is understood so far
//! ([`claude`]); [`pricing`] turns token counts into an estimated cost.
//!
//! We only ever read these files: they belong to the user (never moved, never written).

pub mod claude;
pub mod pricing;

pub use claude::{Message, TokenUsage, Transcript};
