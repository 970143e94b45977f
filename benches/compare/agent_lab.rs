//! The real agent CLIs for the state-change workload: Claude Code and Codex as the test suite
//! runs them (pinned under tests/agents by scripts/install-test-deps, a private seeded HOME,
//! pointed at the suite's scripted model server `tests/support/bin/model_server.py`), so the
//! figure is taken on the agents users run, not only on the fake one.
//!
//! The clock of a real turn starts when the model server wrote the last byte of its answer
//! (it records that time per request): the agent's own work from there (parsing the stream,
//! drawing the reply and its idle prompt, Claude's `Stop` hook) is part of the figure, as it
//! is of what a user waits for.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::aegis::{Daemon, path_str};
use crate::agent_cli::{Agent, Trust, agents_bin_dir, environment};
use crate::http::Http;

/// How long a real agent may take to draw its first idle prompt on a loaded 2-core machine.
const BOOT_TIMEOUT: Duration = Duration::from_secs(60);

/// The scripted model server, answering every turn with a short text.
pub struct ModelServer {
    child: Child,
    addr: String,
}

impl ModelServer {
    fn start() -> Result<ModelServer> {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/bin/model_server.py");
        let mut child = Command::new("python3")
            .arg(&script)
            // Its stdin is our pipe: EOF (our drop) stops it.
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", script.display()))?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().context("model server stdout")?).read_line(&mut line)?;
        let url = line.trim().rsplit(' ').next().unwrap_or_default();
        let Some(addr) = url.strip_prefix("http://") else {
            bail!("unexpected first line from the model server: {line:?}");
        };
        Ok(ModelServer {
            addr: addr.to_owned(),
            child,
        })
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The server speaks HTTP/1.0 (one request per connection).
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        let r = Http::connect(&self.addr)?.request(method, path, body.map(|b| b.to_string()))?;
        if r.status != 200 {
            bail!("model server {path}: {}", r.status);
        }
        r.json()
    }

    /// The recorded requests from the `from`th on.
    pub fn requests_from(&self, from: usize) -> Result<Vec<Value>> {
        let v = self.call("GET", &format!("/_requests?from={from}"), None)?;
        Ok(v.as_array().cloned().unwrap_or_default())
    }
}

impl Drop for ModelServer {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One real agent session under the bench's daemon, with its model server and home.
pub struct AgentLab {
    pub agent: Agent,
    pub model: ModelServer,
    pub id: String,
    _dir: tempfile::TempDir,
}

/// Whether the real agent CLIs are installed (they are test dependencies, not the bench's).
pub fn installed(agent: Agent) -> bool {
    agents_bin_dir().join(agent.name()).exists()
}

impl AgentLab {
    /// Start a session of `agent` (hooks as given) and wait until it is idle at its prompt
    /// and has printed nothing for the agent's settle time.
    pub fn start(d: &Daemon, http: &mut Http, agent: Agent, hooks: bool) -> Result<AgentLab> {
        let dir = tempfile::Builder::new()
            .prefix("aegis-bench-agent-")
            .tempdir()?;
        let root = dir.path().canonicalize()?;
        let (home, work) = (root.join("home"), root.join("project"));
        std::fs::create_dir_all(&home)?;
        std::fs::create_dir_all(&work)?;
        let model = ModelServer::start()?;
        model.call(
            "POST",
            "/_script",
            Some(json!({ "turns": [], "default": { "say": "Done (bench turn)." } })),
        )?;
        let env: serde_json::Map<String, Value> =
            environment(agent, &home, &work, &model.url(), Trust::Seeded)
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
        let mut argv: Vec<String> = agent.command().iter().map(|s| s.to_string()).collect();
        argv[0] = path_str(&agents_bin_dir().join(&argv[0]));
        let r = http.post(
            "/v1/sessions",
            &json!({
                "workDir": path_str(&work),
                "agentType": agent.name(),
                "command": argv,
                "env": env,
                "cols": 120,
                "rows": 40,
                "hooks": hooks,
            }),
        )?;
        if r.status != 201 {
            bail!("create: {} {}", r.status, String::from_utf8_lossy(&r.body));
        }
        let id = r.json()?["id"]
            .as_str()
            .context("no id in create reply")?
            .to_owned();
        let lab = AgentLab {
            agent,
            model,
            id,
            _dir: dir,
        };
        lab.wait_settled(d, http)?;
        Ok(lab)
    }

    fn wait_settled(&self, d: &Daemon, http: &mut Http) -> Result<()> {
        let deadline = Instant::now() + BOOT_TIMEOUT;
        loop {
            let s = d.session(http, &self.id)?;
            let quiet_ms = crate::state::epoch_ms()
                .saturating_sub(s["lastActivity"].as_u64().unwrap_or(u64::MAX));
            if s["status"] == "idle" && quiet_ms >= self.agent.settled().as_millis() as u64 {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "{} not idle and quiet after {BOOT_TIMEOUT:?} (status {})",
                    self.agent.name(),
                    s["status"]
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// When the model finished answering the newest model turn at or after request `from`
    /// (epoch seconds), waiting briefly for the record: the answer's last byte may be
    /// written a moment after the agent already reacted to it.
    pub fn answered_at(&self, from: usize) -> Result<f64> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let newest = self
                .model
                .requests_from(from)?
                .into_iter()
                .rfind(|r| r["kind"] == "main");
            if let Some(t) = newest.as_ref().and_then(|r| r["answered_at"].as_f64()) {
                return Ok(t);
            }
            if Instant::now() > deadline {
                bail!("{}: no answered model turn recorded", self.agent.name());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// How many requests the model server recorded so far.
    pub fn request_count(&self) -> Result<usize> {
        Ok(self.model.requests_from(0)?.len())
    }
}
