//! Test support: start the real `aegis` binary on an ephemeral port with a private state dir,
//! talk to it over HTTP, and wait on conditions with deadlines (never bare sleeps).
//!
//! Logs: the daemon's stderr goes to a file in its temp dir. When a test fails, the tail of
//! that log is printed; set `AEGIS_TEST_KEEP=1` to keep the whole directory.

#![allow(dead_code)] // each test module uses a different part of the support code

pub mod nats;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub mod agent_cli;
pub mod agents;

/// A copy of the sample Claude Code JSONL transcript (tests/fixtures/transcripts) in `dir`,
/// for a fake Claude to report through its SessionStart hook.
pub fn claude_transcript_in(dir: &Path) -> PathBuf {
    let copy = dir.join("session.jsonl");
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/transcripts/claude-session.jsonl"
    );
    std::fs::copy(fixture, &copy).expect("copying the sample transcript");
    copy
}

/// Path of a helper program under tests/support/bin.
pub fn support_bin(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support/bin")
        .join(name)
        .display()
        .to_string()
}

/// A program of the test peers' venv (`.venv/bin/NAME`, made by scripts/install-test-deps),
/// or `None` (the caller skips) outside CI when the venv is missing. In CI it must exist.
pub fn venv_tool(name: &str) -> Option<PathBuf> {
    let tool = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".venv/bin")
        .join(name);
    if tool.exists() {
        return Some(tool);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{} is missing in CI; scripts/install-test-deps must create it",
        tool.display()
    );
    eprintln!(
        "SKIPPED: {} is missing; run scripts/install-test-deps",
        tool.display()
    );
    None
}

/// Poll `f` every 20 ms until it returns `Some`, or panic after `timeout` naming `what`.
pub fn wait_until<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub struct Daemon {
    child: Child,
    pub url: String,
    pub pid: u32,
    pub dir: tempfile::TempDir,
    pub token: Option<String>,
    http: Client,
    /// The binary, flags and environment, kept for `restart`.
    exe: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

pub struct Options<'a> {
    pub args: &'a [&'a str],
    pub env: &'a [(&'a str, &'a str)],
}

impl Daemon {
    pub fn start() -> Daemon {
        Self::start_with(Options {
            args: &[],
            env: &[],
        })
    }

    pub fn start_with(opts: Options<'_>) -> Daemon {
        Self::start_from(Path::new(env!("CARGO_BIN_EXE_aegis")), opts)
    }

    /// Start the daemon from another copy of the binary (to test what it finds beside it).
    pub fn start_from(exe: &Path, opts: Options<'_>) -> Daemon {
        let dir = tempfile::Builder::new()
            .prefix("aegis-test-")
            .tempdir()
            .expect("temp dir");
        std::fs::create_dir_all(dir.path().join("work")).expect("work dir");
        let (child, url, token) = Self::launch(exe, dir.path(), 0, &opts);
        let pid = child.id();
        let http = Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .expect("client");
        Daemon {
            child,
            url,
            pid,
            dir,
            token,
            http,
            exe: exe.to_path_buf(),
            args: opts.args.iter().map(|a| a.to_string()).collect(),
            env: opts
                .env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// Start another daemon on the same state dir (after `kill9` or `stop`), with the same
    /// flags and environment, on a new ephemeral port. Its log is appended to the same file.
    /// A daemon still running is killed first (as a crash: its sessions live on), so no
    /// daemon outlives the test.
    pub fn restart(&mut self) {
        self.relaunch(0);
    }

    /// Like `restart`, on the port the daemon had, as a deployed daemon comes back: needed
    /// where the sessions call the daemon's URL themselves (Claude Code hooks).
    pub fn restart_same_port(&mut self) {
        let port = self
            .url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("the daemon's port");
        self.relaunch(port);
    }

    fn relaunch(&mut self, port: u16) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.kill9();
        }
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let (child, url, _) = Self::launch(
            &self.exe,
            self.dir.path(),
            port,
            &Options {
                args: &args,
                env: &env,
            },
        );
        self.pid = child.id();
        self.child = child;
        self.url = url;
    }

    /// SIGKILL the daemon and reap it.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM the daemon and wait until it exited.
    pub fn stop(&mut self) {
        let _ = nix_kill(self.child.id() as i32, "TERM");
        let _ = self.child.wait();
    }

    /// Start `exe serve` on `port` (0: an ephemeral one) and read the address it bound.
    fn launch(
        exe: &Path,
        dir: &Path,
        port: u16,
        opts: &Options<'_>,
    ) -> (Child, String, Option<String>) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("daemon.log"))
            .expect("log file");
        let mut cmd = Command::new(exe);
        cmd.args(["serve", "--log-level", "debug,warp=info"])
            .args(["--port", &port.to_string()])
            .arg("--state-dir")
            .arg(dir.join("state"))
            .args(opts.args)
            .env_remove("AEGIS_AUTH_TOKEN")
            .env_remove("AEGIS_PORT")
            .env_remove("AEGIS_HOST")
            // Sessions outlive the daemon by default; tests clean up after themselves unless
            // they pass AEGIS_KILL_SESSIONS_ON_EXIT=false to test exactly that.
            .env("AEGIS_KILL_SESSIONS_ON_EXIT", "true")
            // Each test daemon keeps the tmux stand-in's discovery socket in its own
            // directory, so parallel daemons never meet at /tmp/aegis-UID/default.
            .env("TMUX_TMPDIR", dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        // Agent CLIs the daemon starts read these; a test sets them itself (support::agents)
        // and must never pass on the developer's own keys or config dirs.
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy();
            if [
                "ANTHROPIC_",
                "CLAUDE",
                "OPENAI_",
                "CODEX_",
                "GEMINI_",
                "GOOGLE_",
            ]
            .iter()
            .any(|p| k.starts_with(p))
            {
                cmd.env_remove(&*k);
            }
        }
        let mut token = None;
        for (k, v) in opts.env {
            cmd.env(k, v);
            if *k == "AEGIS_AUTH_TOKEN" {
                token = Some(v.to_string());
            }
        }
        let mut child = cmd.spawn().expect("spawning aegis");
        let url = listening_url(&mut child, "aegis");
        (child, url, token)
    }

    pub fn work_dir(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }

    /// Send a request with the daemon's token (if any); returns status and JSON body.
    pub fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let token = self.token.clone();
        self.call_as(method, path, body, token.as_deref())
    }

    pub fn call_as(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{}", self.url, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().expect("request");
        let status = resp.status();
        let text = resp.text().expect("body");
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    pub fn raw(&self) -> reqwest::blocking::RequestBuilder {
        self.http.get(&self.url)
    }

    pub fn http(&self) -> &Client {
        &self.http
    }

    pub fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None)
    }

    pub fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body))
    }

    /// Create a session running `argv` in the daemon's work dir; returns its info.
    pub fn spawn(&self, argv: &[&str]) -> Value {
        self.create(json!({ "workDir": self.work_dir(), "agentType": "custom", "command": argv }))
    }

    pub fn create(&self, body: Value) -> Value {
        let (status, v) = self.post("/v1/sessions", body);
        assert_eq!(status, StatusCode::CREATED, "create failed: {v}");
        v
    }

    /// A bash without rc files, so the prompt and behaviour do not depend on the machine.
    pub fn bash(&self) -> String {
        let v = self.create(json!({
            "workDir": self.work_dir(),
            "agentType": "shell",
            "command": ["bash", "--norc", "--noprofile"],
            "env": { "PS1": "$ " },
        }));
        id_of(&v)
    }

    pub fn screen(&self, id: &str) -> String {
        let (status, v) = self.get(&format!("/v1/sessions/{id}/read"));
        assert_eq!(status, StatusCode::OK, "read failed: {v}");
        v["output"].as_str().unwrap_or_default().to_owned()
    }

    /// Wait until the screen contains `needle`; returns the screen.
    pub fn wait_screen(&self, id: &str, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let last = self.screen(id);
            if last.contains(needle) {
                return last;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {needle:?} on session {id}; screen was:\n{last}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn status(&self, id: &str) -> String {
        let (_, v) = self.get(&format!("/v1/sessions/{id}"));
        v["status"].as_str().unwrap_or_default().to_owned()
    }

    pub fn wait_status(&self, id: &str, status: &str, timeout: Duration) -> Value {
        wait_until(timeout, &format!("session {id} to be {status}"), || {
            let (_, v) = self.get(&format!("/v1/sessions/{id}"));
            (v["status"] == status).then_some(v)
        })
    }

    pub fn send(&self, id: &str, text: &str) -> Value {
        let (status, v) = self.post(&format!("/v1/sessions/{id}/send"), json!({ "text": text }));
        assert_eq!(status, StatusCode::OK, "send failed: {v}");
        v
    }

    /// Resident memory of the daemon process, in KiB.
    pub fn rss_kib(&self) -> u64 {
        rss_kib(self.pid)
    }
}

/// Resident memory of process `pid`, in KiB (0 once it is gone).
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

pub fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("session id").to_owned()
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = nix_kill(self.child.id() as i32, "TERM");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            eprintln!("---- aegis daemon log (last 60 lines) ----");
            for l in tail.iter().rev() {
                eprintln!("{l}");
            }
        }
        if std::env::var_os("AEGIS_TEST_KEEP").is_some() {
            let kept = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"));
            eprintln!("kept test dir: {}", kept.keep().display());
        }
    }
}

/// Send a signal by name with the `kill` utility (tests avoid unsafe libc calls).
pub fn nix_kill(pid: i32, signal: &str) -> std::io::Result<std::process::ExitStatus> {
    Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status()
}

/// Processes whose session id is `sid`, as (pid, state, command name).
pub fn session_processes(sid: i64) -> Vec<(i64, String, String)> {
    let mut out = vec![];
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i64>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat[open + 1..close].to_owned();
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        if fields.get(3).and_then(|s| s.parse::<i64>().ok()) == Some(sid) {
            out.push((pid, fields[0].to_owned(), comm));
        }
    }
    out
}

/// Whether `pid` exists at all (a zombie counts).
pub fn pid_exists(pid: i64) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// The loopback URL a server we started prints as the last word of its first stdout line
/// (`aegis listening on http://127.0.0.1:PORT`, the model server alike).
pub fn listening_url(child: &mut std::process::Child, what: &str) -> String {
    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap_or_else(|e| panic!("reading the first line from {what}: {e}"));
    let url = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(
        url.starts_with("http://127.0.0.1:"),
        "unexpected first line from {what}: {line:?}"
    );
    url
}
