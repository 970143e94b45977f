//! Routes of the orchestration layer (`crate::orchestrate`): lineage (spawn, children, fork),
//! templates, pipelines, consensus reviews, and the session lifecycle actions `complete` and
//! `reset`. The world and swarm views are in `api::world`. Request shapes accept the Aegis v0.3 spellings
//! too (`focusAreas`, `reviewerCount`, per-stage `workDir` and `permissionMode`).
//!
//! The orchestrator's state and the template store belong to `App` (one per daemon);
//! `POST /v1/sessions {template}` (in `sessions`) reads templates through [`expand_template`].

mod consensus;
mod lineage;
mod pipelines;
mod templates;

use super::error::ApiError;
use super::route::Table;
pub use templates::expand_template;

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::invalid(msg)
}

/// The orchestration routes (under `/v1` and unversioned; the caller adds the prefix).
pub fn routes(t: &mut Table) {
    lineage::routes(t);
    consensus::routes(t);
    templates::routes(t);
    pipelines::routes(t);
}
