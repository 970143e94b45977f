//! The integrations part of the config file (`aegis serve --config aegis.toml`): outbound
//! webhook endpoints, agent profiles, session templates and stimulus routing rules.
//!
//! ```toml
//! [[webhooks]]
//! url = "https://example.com/hook"
//! events = ["session.idle", "session.exited"]   # empty or absent: every event
//! secret = "s3cret"                              # signs X-Aegis-Signature
//!
//! [agents.fake]                                  # extra profiles for POST /v1/executions
//! command = ["/usr/local/bin/my-agent", "--flag"]
//!
//! [templates.reviewer]                           # what a `create_session` rule starts
//! agent = "claude"                               # a profile name (builtin or [agents.*])
//! work_dir = "/srv/repo"
//!
//! [[stimuli]]                                    # first matching rule wins
//! source = "github"                              # or "*"
//! contains = "review"                            # optional substring of the content
//! action = "create_session"                      # or "send_to_session"
//! template = "reviewer"                          # for create_session
//! # session = "name-or-id"                       # for send_to_session
//! ```
//!
//! Unknown keys are errors, so a typo fails at startup instead of silently routing nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::session::CreateSpec;
use crate::vocab::AgentType;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub webhooks: Vec<WebhookConfig>,
    #[serde(default)]
    pub agents: BTreeMap<String, AgentProfile>,
    #[serde(default)]
    pub templates: BTreeMap<String, Template>,
    #[serde(default)]
    pub stimuli: Vec<StimulusRule>,
    /// Model prices per million tokens (see `transcript::pricing`).
    #[serde(default)]
    pub pricing: BTreeMap<String, crate::transcript::pricing::Price>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    #[serde(default)]
    pub events: Vec<String>,
    pub secret: Option<String>,
    pub max_attempts: Option<u32>,
    pub backoff_ms: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentProfile {
    pub command: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub agent: String,
    pub work_dir: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StimulusAction {
    CreateSession,
    SendToSession,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StimulusRule {
    pub source: String,
    pub contains: Option<String>,
    pub action: StimulusAction,
    pub template: Option<String>,
    pub session: Option<String>,
}

impl StimulusRule {
    pub fn matches(&self, source: &str, content: &str) -> bool {
        (self.source == "*" || self.source.eq_ignore_ascii_case(source))
            && self.contains.as_deref().is_none_or(|c| content.contains(c))
    }
}

impl FileConfig {
    /// A create spec for agent profile `name`: the config's `[agents.*]` first, then built-ins.
    /// `work_dir` and `prompt` are left for the caller.
    pub fn agent_spec(&self, name: &str) -> Option<CreateSpec> {
        if let Some(p) = self.agents.get(name) {
            return Some(CreateSpec {
                agent_type: Some(AgentType::Custom),
                command: Some(p.command.clone()),
                env: p.env.clone().into_iter().collect(),
                ..CreateSpec::default()
            });
        }
        let t = AgentType::parse(name).filter(|t| *t != AgentType::Custom)?;
        Some(CreateSpec {
            agent_type: Some(t),
            ..CreateSpec::default()
        })
    }

    /// Read and check a config file.
    pub fn load(path: &Path) -> anyhow::Result<FileConfig> {
        use anyhow::Context;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config {}", path.display()))?;
        let cfg: FileConfig =
            toml::from_str(&text).with_context(|| format!("parsing config {}", path.display()))?;
        cfg.check()
            .with_context(|| format!("checking config {}", path.display()))?;
        Ok(cfg)
    }

    fn check(&self) -> anyhow::Result<()> {
        for w in &self.webhooks {
            super::validate_url(&w.url).map_err(anyhow::Error::msg)?;
            for e in &w.events {
                if crate::events::EventKind::parse(e).is_none() {
                    anyhow::bail!("webhook {}: unknown event type {e:?}", w.url);
                }
            }
        }
        for (name, a) in &self.agents {
            if a.command.is_empty() {
                anyhow::bail!("agent {name}: command must not be empty");
            }
        }
        for r in &self.stimuli {
            match r.action {
                StimulusAction::CreateSession => {
                    let t = r.template.as_deref().unwrap_or_default();
                    if !self.templates.contains_key(t) {
                        anyhow::bail!("stimulus rule for {}: unknown template {t:?}", r.source);
                    }
                }
                StimulusAction::SendToSession if r.session.is_none() => {
                    anyhow::bail!(
                        "stimulus rule for {}: send_to_session needs session",
                        r.source
                    );
                }
                StimulusAction::SendToSession => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects_typos() {
        let ok: FileConfig = toml::from_str(
            r#"
            [[webhooks]]
            url = "http://127.0.0.1:1/x"
            events = ["session.idle"]
            [templates.t]
            agent = "shell"
            work_dir = "/tmp"
            [[stimuli]]
            source = "github"
            action = "create_session"
            template = "t"
            "#,
        )
        .expect("valid config");
        assert!(ok.check().is_ok());
        assert!(ok.stimuli[0].matches("GitHub", "anything"));
        assert!(toml::from_str::<FileConfig>("[[webhooks]]\nurl='x'\nevnts=[]").is_err());
    }

    #[test]
    fn unknown_agents_have_no_spec() {
        let cfg = FileConfig::default();
        assert!(cfg.agent_spec("shell").is_some());
        assert!(cfg.agent_spec("custom").is_none());
        assert!(cfg.agent_spec("nope").is_none());
    }
}
