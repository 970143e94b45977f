//! Permission requests that arrive through Claude Code's `PermissionRequest` hook: the exact
//! tool name and input, and an HTTP request held open until someone decides. Deciding answers
//! that request (with the reply Claude Code documents, written by `api::hooks`) instead of
//! pressing keys.
//!
//! At most one is pending per session (Claude asks one question at a time); a newer one
//! replaces an older one, whose held request then ends without a decision.

use serde_json::Value;
use tokio::sync::oneshot;

use super::SessionPermissions;
use crate::detect::profile::PermissionKind;
use crate::detect::prompt::PermissionRequest;

/// What was decided for a hook permission request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookDecision {
    pub allow: bool,
    pub message: Option<String>,
}

/// A pending hook permission request, without its reply channel.
#[derive(Debug, Clone, PartialEq)]
pub struct HookRequest {
    pub id: uuid::Uuid,
    pub tool_name: String,
    pub tool_input: Value,
    pub created_at_ms: u64,
}

impl HookRequest {
    /// The same request in the screen parser's shape, for history and events.
    pub fn as_permission(&self) -> PermissionRequest {
        let kind = match self.tool_name.as_str() {
            "Bash" => PermissionKind::Bash,
            "Edit" | "MultiEdit" | "NotebookEdit" => PermissionKind::Edit,
            "Write" => PermissionKind::Create,
            "ExitPlanMode" => PermissionKind::Plan,
            t if t.starts_with("mcp__") => PermissionKind::Mcp,
            _ => PermissionKind::Other,
        };
        let detail = ["command", "file_path", "path", "url", "pattern"]
            .iter()
            .find_map(|k| self.tool_input[*k].as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| self.tool_input.to_string());
        PermissionRequest {
            id: self.id,
            kind,
            title: self.tool_name.clone(),
            detail,
            options: Vec::new(),
            selected: None,
            rule: "hook:PermissionRequest".into(),
            created_at_ms: self.created_at_ms,
            expires_at_ms: None,
            fingerprint: 0,
        }
    }
}

pub(super) struct Held {
    pub(super) request: HookRequest,
    pub(super) reply: oneshot::Sender<HookDecision>,
}

impl SessionPermissions {
    /// Register a request from the hook; the receiver gets the decision (or an error when the
    /// request is dropped undecided).
    pub fn hook_open(
        &self,
        tool_name: String,
        tool_input: Value,
    ) -> (HookRequest, oneshot::Receiver<HookDecision>) {
        let (tx, rx) = oneshot::channel();
        let request = HookRequest {
            id: uuid::Uuid::new_v4(),
            tool_name,
            tool_input,
            created_at_ms: crate::clock::now_ms(),
        };
        self.lock().hook = Some(Held {
            request: request.clone(),
            reply: tx,
        });
        (request, rx)
    }

    /// The pending hook request, if any.
    pub fn hook_pending(&self) -> Option<HookRequest> {
        self.lock().hook.as_ref().map(|h| h.request.clone())
    }

    /// Send `d` to the pending hook request. Returns the request it answered.
    pub fn hook_decide(&self, d: HookDecision) -> Option<HookRequest> {
        let held = self.lock().hook.take()?;
        let _ = held.reply.send(d);
        Some(held.request)
    }

    /// Drop the pending request `id` (if still pending) without a decision.
    pub fn hook_drop(&self, id: Option<uuid::Uuid>) -> Option<HookRequest> {
        let mut g = self.lock();
        if id.is_some_and(|id| g.hook.as_ref().is_none_or(|h| h.request.id != id)) {
            return None;
        }
        g.hook.take().map(|h| h.request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_request_gets_its_decision() {
        let p = SessionPermissions::default();
        let input = serde_json::from_str(r#"{"command": "rm -rf build"}"#).expect("JSON");
        let (req, mut rx) = p.hook_open("Bash".into(), input);
        assert_eq!(req.as_permission().detail, "rm -rf build");
        assert_eq!(p.hook_pending().map(|h| h.id), Some(req.id));
        p.hook_decide(HookDecision {
            allow: true,
            message: None,
        });
        assert!(rx.try_recv().is_ok_and(|d| d.allow));
        assert!(p.hook_pending().is_none());
    }
}
