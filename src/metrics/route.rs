//! Route templates for the HTTP metrics: `/v1/sessions/3f2a…/read` is counted as
//! `/v1/sessions/:id/read`, so a label never carries a session id, a name or a memory key.
//!
//! warp does not tell a filter which route matched, so the template is rebuilt from the raw
//! path: a segment that is one of the API's literal path words is kept, anything else becomes
//! `:id`. The unversioned aliases are folded onto their `/v1` form, except `/metrics` (the
//! Prometheus route, which has no `/v1` twin). A route added later whose word is missing from
//! [`LITERALS`] is only shown with `:id` in that place: cardinality stays bounded either way.
//!
//! Bounds: paths deeper than [`MAX_SEGMENTS`] are `other`, and at most [`MAX_TEMPLATES`]
//! distinct templates are ever labelled; later new ones are `other`. An unauthenticated
//! client walking random literal combinations therefore cannot grow the metric set.

use std::collections::HashSet;
use std::sync::RwLock;

/// Every literal path word of the API (routes on main plus the documented orchestration,
/// hooks and files routes). Kept sorted for review.
const LITERALS: &[&str] = &[
    "agents",
    "answer",
    "approve",
    "auth",
    "bash",
    "batch",
    "channels",
    "children",
    "command",
    "complete",
    "consensus",
    "dead-letter",
    "debrief",
    "detect",
    "diagnostics",
    "directories",
    "dispatch-worker",
    "escape",
    "events",
    "executions",
    "files",
    "fork",
    "handshake",
    "health",
    "history",
    "hooks",
    "interrupt",
    "keys",
    "latency",
    "memories",
    "memory",
    "metrics",
    "openapi.json",
    "pane",
    "pending",
    "permission-profile",
    "permissions",
    "pipelines",
    "pre-kill-debrief",
    "read",
    "recording",
    "reject",
    "reset",
    "resize",
    "retry",
    "send",
    "sessions",
    "spawn",
    "sse-token",
    "stats",
    "stimuli",
    "stream",
    "summary",
    "swarm",
    "templates",
    "tools",
    "transcript",
    "upload",
    "verify",
    "webhooks",
    "workers",
    "world",
];

/// Deeper paths than any route (the longest is `/v1/webhooks/dead-letter/:id/retry`).
const MAX_SEGMENTS: usize = 6;

/// Distinct templates labelled at most; the API has about a hundred routes, so this leaves
/// room for every real one while capping what a scanner can add.
pub const MAX_TEMPLATES: usize = 256;

/// The label used past either bound.
pub const OTHER: &str = "other";

/// The template of a raw request path.
pub fn template(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if segments.len() > MAX_SEGMENTS {
        return OTHER.to_owned();
    }
    if segments == ["metrics"] {
        return "/metrics".to_owned();
    }
    if segments.is_empty() {
        return "/".to_owned();
    }
    let rest = match segments.first() {
        Some(&"v1") => &segments[1..],
        _ => &segments[..],
    };
    let mut out = String::from("/v1");
    for s in rest {
        out.push('/');
        out.push_str(if LITERALS.binary_search(s).is_ok() {
            s
        } else {
            ":id"
        });
    }
    out
}

/// Remembers which templates were labelled, to enforce [`MAX_TEMPLATES`].
#[derive(Default)]
pub struct Templates {
    /// Read on every request, written once per new template.
    seen: RwLock<HashSet<String>>,
}

impl Templates {
    /// The label for `path`: its template, or [`OTHER`] once the cap is reached.
    pub fn label(&self, path: &str) -> String {
        let t = template(path);
        if self
            .seen
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&t)
        {
            return t;
        }
        let mut seen = self.seen.write().unwrap_or_else(|p| p.into_inner());
        if seen.contains(&t) {
            return t;
        }
        if seen.len() >= MAX_TEMPLATES {
            return OTHER.to_owned();
        }
        seen.insert(t.clone());
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_sorted_for_binary_search() {
        assert!(LITERALS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn ids_names_and_keys_become_placeholders() {
        let id = "3f2a6c1e-0000-4000-8000-000000000000";
        assert_eq!(
            template(&format!("/v1/sessions/{id}/read")),
            "/v1/sessions/:id/read"
        );
        assert_eq!(template("/sessions/my-name/send"), "/v1/sessions/:id/send");
        assert_eq!(template("/v1/sessions/stats"), "/v1/sessions/stats");
        assert_eq!(template("/v1/memory/ns%2Fkey"), "/v1/memory/:id");
        assert_eq!(
            template("/v1/webhooks/dead-letter/dl_1/retry"),
            "/v1/webhooks/dead-letter/:id/retry"
        );
        assert_eq!(template("/metrics"), "/metrics");
        assert_eq!(template("/v1/metrics"), "/v1/metrics");
        assert_eq!(template("/a/b/c/d/e/f/g"), OTHER);
    }

    #[test]
    fn the_template_set_is_capped() {
        let t = Templates::default();
        for i in 0..MAX_TEMPLATES + 10 {
            // Distinct templates: literal words in different orders and depths.
            let words: Vec<&str> = (0..=i % 5).map(|j| LITERALS[(i + j * 7) % 50]).collect();
            t.label(&format!("/v1/{}", words.join("/")));
        }
        assert!(t.seen.read().map(|s| s.len()).unwrap_or(0) <= MAX_TEMPLATES);
    }
}
