//! Real agent CLIs under the real daemon, against a scripted model server.
//!
//! A [`Lab`] is one test's world: a private temp dir holding the agent's HOME (and config dir)
//! with onboarding, trust, telemetry and updates pre-seeded, a project dir, a
//! [`ModelServer`] (tests/support/bin/model_server.py) on its own port, and a daemon whose
//! environment points the agent at that server. Sessions inherit the daemon's environment, so
//! everything the daemon starts on its own (pipeline stages, reviewers, forks) reaches the
//! same server. The agents are the pinned npm packages scripts/install-test-deps puts under
//! tests/agents/node_modules; nothing reads or writes the real user's agent config.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use serde_json::{Value, json};

pub use super::agent_cli::{Agent, Trust, agents_bin_dir};
use super::agent_cli::{environment, installed_version};
use super::{Daemon, Options, id_of, listening_url, support_bin, wait_until};

/// The scripted model server of one test.
pub struct ModelServer {
    child: Child,
    pub url: String,
    http: Client,
}

impl ModelServer {
    pub fn start() -> ModelServer {
        let mut child = Command::new("python3")
            .arg(support_bin("model_server.py"))
            // Its stdin is our pipe: when the test drops the server (or dies), EOF stops it.
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting tests/support/bin/model_server.py");
        let url = listening_url(&mut child, "the model server");
        let http = Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        ModelServer { child, url, http }
    }

    /// Append model turns to the script (see model_server.py for the step shapes).
    pub fn script(&self, turns: Value) {
        self.post_script(json!({ "turns": turns }));
    }

    /// Set the answer given once the script ran out.
    pub fn default_step(&self, step: Value) {
        self.post_script(json!({ "turns": [], "default": step }));
    }

    fn post_script(&self, body: Value) {
        let r = self
            .http
            .post(format!("{}/_script", self.url))
            .json(&body)
            .send()
            .expect("posting the script");
        assert!(r.status().is_success(), "script refused: {:?}", r.text());
    }

    /// Every request the agent made so far.
    pub fn requests(&self) -> Vec<Value> {
        self.requests_from(0)
    }

    /// The requests from the `n`th on (a long test polls only what is new).
    pub fn requests_from(&self, n: usize) -> Vec<Value> {
        self.http
            .get(format!("{}/_requests?from={n}", self.url))
            .send()
            .and_then(|r| r.json())
            .expect("reading the recorded requests")
    }

    /// The model turns (requests that took a script step), bodies only.
    pub fn main_requests(&self) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|r| r["kind"] == "main")
            .map(|r| r["body"].clone())
            .collect()
    }

    /// Wait until at least `n` model turns were requested; returns them.
    pub fn wait_main(&self, n: usize, timeout: Duration) -> Vec<Value> {
        wait_until(timeout, &format!("{n} model turns"), || {
            let m = self.main_requests();
            (m.len() >= n).then_some(m)
        })
    }
}

impl Drop for ModelServer {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a request body says the user typed, per wire protocol: every text the user role
/// sent, in order, without the context blocks the agents add themselves (system reminders,
/// environment context, Gemini's set-up message), tool results excluded.
pub fn user_texts(agent: Agent, body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |t: &str| {
        let trimmed = t.trim_start();
        if !(trimmed.starts_with('<')
            || trimmed.starts_with("This is the Gemini CLI")
            || trimmed.starts_with("# AGENTS.md"))
        {
            out.push(t.to_owned());
        }
    };
    match agent {
        Agent::Claude => {
            for m in body["messages"].as_array().into_iter().flatten() {
                if m["role"] != "user" {
                    continue;
                }
                match &m["content"] {
                    Value::String(s) => push(s),
                    Value::Array(blocks) => {
                        for b in blocks {
                            if b["type"] == "text" {
                                push(b["text"].as_str().unwrap_or_default());
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        Agent::Codex => {
            for m in body["input"].as_array().into_iter().flatten() {
                if m["type"] == "message" && m["role"] == "user" {
                    for c in m["content"].as_array().into_iter().flatten() {
                        if c["type"] == "input_text" {
                            push(c["text"].as_str().unwrap_or_default());
                        }
                    }
                }
            }
        }
        Agent::Gemini => {
            for m in body["contents"].as_array().into_iter().flatten() {
                if m["role"] != "user" {
                    continue;
                }
                for p in m["parts"].as_array().into_iter().flatten() {
                    if let Some(t) = p["text"].as_str() {
                        push(t);
                    }
                }
            }
        }
    }
    out
}

/// The tool results a request carries (what the agent reports back after running a tool or
/// asking a question), as text, per wire protocol.
pub fn tool_results(agent: Agent, body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    match agent {
        Agent::Claude => {
            for m in body["messages"].as_array().into_iter().flatten() {
                for b in m["content"].as_array().into_iter().flatten() {
                    if b["type"] == "tool_result" {
                        out.push(match &b["content"] {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        });
                    }
                }
            }
        }
        Agent::Codex => {
            for m in body["input"].as_array().into_iter().flatten() {
                if matches!(
                    m["type"].as_str(),
                    Some("function_call_output" | "custom_tool_call_output")
                ) {
                    out.push(match &m["output"] {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    });
                }
            }
        }
        Agent::Gemini => {
            for m in body["contents"].as_array().into_iter().flatten() {
                for p in m["parts"].as_array().into_iter().flatten() {
                    if let Some(r) = p.get("functionResponse") {
                        out.push(r.to_string());
                    }
                }
            }
        }
    }
    out
}

/// Statuses seen by a background poller, with the time each first appeared.
pub struct StatusLog {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<(Duration, String)>>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// One more sample when stopping, so a change the caller already saw is in the log.
    last: Box<dyn Fn() + Send>,
}

impl StatusLog {
    /// Poll the session's status every `every` until stopped, recording each change.
    pub fn start(d: &Daemon, id: &str, every: Duration) -> StatusLog {
        let url = format!("{}/v1/sessions/{id}", d.url);
        let http = d.http().clone();
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let t0 = Instant::now();
        let sample = {
            let seen = seen.clone();
            move || {
                if let Ok(v) = http.get(&url).send().and_then(|r| r.json::<Value>()) {
                    let s = v["status"].as_str().unwrap_or_default().to_owned();
                    let mut seen = seen.lock().expect("status log lock");
                    if seen.last().map(|(_, l): &(Duration, String)| l) != Some(&s) {
                        seen.push((t0.elapsed(), s));
                    }
                }
            }
        };
        let sample = Arc::new(sample);
        let (stop2, sample2) = (stop.clone(), sample.clone());
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                sample2();
                std::thread::sleep(every);
            }
        });
        StatusLog {
            stop,
            seen,
            thread: Some(thread),
            last: Box::new(move || sample()),
        }
    }

    /// The distinct statuses in order so far.
    pub fn statuses(&self) -> Vec<String> {
        self.seen
            .lock()
            .expect("status log lock")
            .iter()
            .map(|(_, s)| s.clone())
            .collect()
    }

    /// Stop polling; returns every change as (time since start, status).
    pub fn finish(mut self) -> Vec<(Duration, String)> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        (self.last)();
        self.seen.lock().expect("status log lock").clone()
    }
}

impl Drop for StatusLog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One test's world: agent HOME, project dir, model server and daemon.
pub struct Lab {
    pub agent: Agent,
    pub model: ModelServer,
    pub daemon: Daemon,
    /// The agent's HOME (Codex: CODEX_HOME is `<home>/.codex`).
    pub home: PathBuf,
    /// The project the sessions run in.
    pub work: PathBuf,
    _dir: tempfile::TempDir,
}

impl Lab {
    pub fn new(agent: Agent) -> Lab {
        Self::with_trust(agent, Trust::Seeded)
    }

    pub fn with_trust(agent: Agent, trust: Trust) -> Lab {
        let bin = agents_bin_dir();
        assert!(
            bin.join(agent.name()).exists(),
            "{} is not installed under {}: run scripts/install-test-deps",
            agent.name(),
            bin.display()
        );
        assert_eq!(
            installed_version(agent).as_deref(),
            Some(agent.version()),
            "{} under tests/agents is not the pinned version: run scripts/install-test-deps",
            agent.package()
        );
        let dir = tempfile::Builder::new()
            .prefix("aegis-agent-")
            .tempdir()
            .expect("temp dir");
        let root = dir.path().canonicalize().expect("canonical temp dir");
        let home = root.join("home");
        let work = root.join("project");
        std::fs::create_dir_all(&home).expect("home dir");
        std::fs::create_dir_all(&work).expect("project dir");
        let model = ModelServer::start();
        let env = environment(agent, &home, &work, &model.url, trust);
        let env_refs: Vec<(&str, &str)> =
            env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let daemon = Daemon::start_with(Options {
            args: &[],
            env: &env_refs,
        });
        Lab {
            agent,
            model,
            daemon,
            home,
            work,
            _dir: dir,
        }
    }

    /// The create body for a session of the lab's agent; `extra` is merged in.
    pub fn body(&self, extra: Value) -> Value {
        let mut body = json!({
            "workDir": self.work,
            "agentType": self.agent.name(),
            "command": self.agent.command(),
            "cols": 120,
            "rows": 40,
        });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        body
    }

    /// Start a session and wait until it is idle at its prompt; returns its id.
    pub fn start(&self, extra: Value) -> String {
        let id = id_of(&self.daemon.create(self.body(extra)));
        self.wait_ready(&id);
        id
    }

    /// What the agent's idle composer shows (its placeholder or footer).
    pub fn composer(&self) -> &'static str {
        match self.agent {
            Agent::Claude => "? for shortcuts",
            Agent::Codex => "Ask Codex to do anything",
            Agent::Gemini => "Type your message",
        }
    }

    /// Wait until the session is idle with the agent's composer drawn and no output for
    /// [`Agent::settled`]. The quiet is on purpose: both Claude Code and Gemini CLI draw their prompt
    /// before their input is set up (Claude probes the terminal with XTVERSION, DA1 and DECRQM
    /// and reads keys that arrive meanwhile in one batch with the replies, where the Enter
    /// becomes a newline; Gemini enables bracketed paste and redraws the whole screen after
    /// its first frame, and takes an Enter right after typed text as a newline). The scenario
    /// tests start from a settled agent; `first_prompt_at_create` and `send_right_after_start`
    /// cover the early send.
    pub fn wait_ready(&self, id: &str) {
        let composer = self.composer();
        let deadline = Instant::now() + self.agent.boot_timeout();
        loop {
            let (_, info) = self.daemon.get(&format!("/v1/sessions/{id}"));
            let status = info["status"].as_str().unwrap_or_default().to_owned();
            let screen = self.daemon.screen(id);
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            let quiet_ms = now_ms.saturating_sub(info["lastActivity"].as_u64().unwrap_or(now_ms));
            if status == "idle"
                && screen.contains(composer)
                && quiet_ms >= self.agent.settled().as_millis() as u64
            {
                return;
            }
            assert!(
                status != "exited",
                "{} exited during start-up; screen:\n{screen}",
                self.agent.name()
            );
            assert!(
                Instant::now() < deadline,
                "{} not idle at its prompt after {:?} (status {status}); screen:\n{screen}",
                self.agent.name(),
                self.agent.boot_timeout()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The user texts of the latest model turn (the whole conversation as the model saw it).
    pub fn conversation(&self) -> Vec<String> {
        self.model
            .main_requests()
            .last()
            .map(|b| user_texts(self.agent, b))
            .unwrap_or_default()
    }

    /// Wait until a model turn's conversation contains `text` as a user message; returns
    /// that request's body.
    pub fn wait_user_text(&self, text: &str, timeout: Duration) -> Value {
        wait_until(timeout, &format!("the model to receive {text:?}"), || {
            self.model
                .main_requests()
                .into_iter()
                .rev()
                .find(|b| user_texts(self.agent, b).iter().any(|t| t == text))
        })
    }

    /// The screen, for assertion messages.
    pub fn screen(&self, id: &str) -> String {
        self.daemon.screen(id)
    }
}
