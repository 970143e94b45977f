//! Permission policies: what a session answers by itself. A policy is checked for every new
//! request; the first thing that decides wins, in this order: the trust option (trust dialogs
//! only), explicit rules, the allow flags, then the named profile. Nothing deciding means the
//! request waits for a human (or expires).

use std::time::Duration;

use regex::Regex;

use super::AnsweredBy;
use crate::detect::profile::PermissionKind;
use crate::detect::prompt::PermissionRequest;

/// What to do with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Approve,
    Reject,
}

impl Action {
    pub fn parse(s: &str) -> Option<Action> {
        match s {
            "approve" | "allow" => Some(Action::Approve),
            "reject" | "deny" => Some(Action::Reject),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Approve => "approve",
            Action::Reject => "reject",
        }
    }
}

/// Named policy profiles, as in Aegis v1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyProfile {
    /// Reject every request.
    Strict,
    /// Reject shell commands; leave the rest to a human.
    Restricted,
    /// Answer nothing automatically.
    Default,
    /// Approve every request.
    Permissive,
}

impl PolicyProfile {
    pub const ALL: [PolicyProfile; 4] = [
        Self::Strict,
        Self::Restricted,
        Self::Default,
        Self::Permissive,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "strict" => Some(Self::Strict),
            "restricted" => Some(Self::Restricted),
            "default" => Some(Self::Default),
            "permissive" => Some(Self::Permissive),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Strict => "strict",
            Self::Restricted => "restricted",
            Self::Default => "default",
            Self::Permissive => "permissive",
        }
    }
}

/// One explicit rule: requests of `kind` (any when `None`) whose detail matches `pattern`.
#[derive(Debug, Clone)]
pub struct PolicyRule {
    pub kind: Option<PermissionKind>,
    pub pattern: Option<Regex>,
    pub action: Action,
}

#[derive(Debug, Clone)]
pub struct Policy {
    /// Answer for tool reads (requests of kind `other`).
    pub allow_read: Option<bool>,
    /// Answer for edits and file creation.
    pub allow_write: Option<bool>,
    /// Answer for shell commands.
    pub allow_bash: Option<bool>,
    pub rules: Vec<PolicyRule>,
    pub profile: PolicyProfile,
    /// Answer for the start-up trust dialog; `None` leaves it to a human.
    pub trust_folder: Option<bool>,
    /// Unanswered requests get `default_action` after this long; `None` waits forever.
    pub timeout: Option<Duration>,
    pub default_action: Action,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            allow_read: None,
            allow_write: None,
            allow_bash: None,
            rules: Vec::new(),
            profile: PolicyProfile::Default,
            trust_folder: None,
            timeout: None,
            default_action: Action::Reject,
        }
    }
}

fn yes_no(b: bool) -> Action {
    if b { Action::Approve } else { Action::Reject }
}

impl Policy {
    /// The automatic answer for `r`, with the reason, or `None` to wait for a human.
    pub fn decide(&self, r: &PermissionRequest) -> Option<(Action, String, AnsweredBy)> {
        if r.kind == PermissionKind::Trust {
            return self
                .trust_folder
                .map(|t| (yes_no(t), format!("trustFolder={t}"), AnsweredBy::Trust));
        }
        for (i, rule) in self.rules.iter().enumerate() {
            let kind_ok = rule.kind.is_none_or(|k| k == r.kind);
            let pat_ok = rule.pattern.as_ref().is_none_or(|p| p.is_match(&r.detail));
            if kind_ok && pat_ok {
                return Some((rule.action, format!("rule {i}"), AnsweredBy::Policy));
            }
        }
        let flag = match r.kind {
            PermissionKind::Bash => self.allow_bash.map(|b| (b, "allowBash")),
            PermissionKind::Edit | PermissionKind::Create => {
                self.allow_write.map(|b| (b, "allowWrite"))
            }
            PermissionKind::Other => self.allow_read.map(|b| (b, "allowRead")),
            _ => None,
        };
        if let Some((b, name)) = flag {
            return Some((yes_no(b), format!("{name}={b}"), AnsweredBy::Policy));
        }
        match self.profile {
            PolicyProfile::Strict => {
                Some((Action::Reject, "profile strict".into(), AnsweredBy::Policy))
            }
            PolicyProfile::Permissive => Some((
                Action::Approve,
                "profile permissive".into(),
                AnsweredBy::Policy,
            )),
            PolicyProfile::Restricted if r.kind == PermissionKind::Bash => Some((
                Action::Reject,
                "profile restricted".into(),
                AnsweredBy::Policy,
            )),
            _ => None,
        }
    }
}
