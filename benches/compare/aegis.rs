//! The system under test: the optimized `aegis` binary cargo built for this bench
//! (`CARGO_BIN_EXE_aegis`, bench profile = release), started on a free port with a private
//! state dir, no rate limit and a short quiet period, and driven over its REST API.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::http::Http;

/// How long a stopping daemon gets to kill its sessions before it is killed itself. It
/// escalates to SIGKILL after 2 s, so this is generous.
const STOP_GRACE: Duration = Duration::from_secs(10);

pub struct Daemon {
    child: Child,
    pub addr: String,
    pub pid: u32,
    _dir: tempfile::TempDir,
    pub work_dir: PathBuf,
}

impl Daemon {
    pub fn start(quiet_ms: u64) -> Result<Daemon> {
        Self::start_from(Path::new(env!("CARGO_BIN_EXE_aegis")), quiet_ms)
    }

    /// Start the daemon from another copy of the binary: one with no `aegis-holder` beside
    /// it runs its holders as `aegis holder` (the full binary).
    pub fn start_from(exe: &Path, quiet_ms: u64) -> Result<Daemon> {
        let dir = tempfile::Builder::new().prefix("aegis-bench-").tempdir()?;
        let work_dir = dir.path().join("work");
        std::fs::create_dir_all(&work_dir)?;
        let log = std::fs::File::create(dir.path().join("daemon.log"))?;
        let mut child = Command::new(exe)
            .args(["serve", "--port", "0", "--log-level", "warn"])
            .args(["--rate-limit", "0", "--max-sessions", "5000"])
            .args(["--quiet-ms", &quiet_ms.to_string()])
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .env_remove("AEGIS_AUTH_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .context("spawning aegis")?;
        let stdout = child.stdout.take().context("aegis stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let url = line.trim().rsplit(' ').next().unwrap_or_default();
        let Some(addr) = url.strip_prefix("http://") else {
            bail!("unexpected first line from aegis: {line:?}");
        };
        Ok(Daemon {
            addr: addr.to_owned(),
            pid: child.id(),
            child,
            _dir: dir,
            work_dir,
        })
    }

    pub fn http(&self) -> Result<Http> {
        Http::connect(&self.addr)
    }

    /// Create a session running `argv` on a 120×40 terminal; returns its id.
    pub fn create(&self, http: &mut Http, argv: &[&str]) -> Result<String> {
        self.create_agent(http, "custom", argv, true)
    }

    /// Create a session of `agent_type` (which picks its detection profile) running `argv`;
    /// `hooks: false` turns Claude Code hooks off, so only the screen tells its state.
    pub fn create_agent(
        &self,
        http: &mut Http,
        agent_type: &str,
        argv: &[&str],
        hooks: bool,
    ) -> Result<String> {
        let r = http.post(
            "/v1/sessions",
            &json!({
                "workDir": self.work_dir.display().to_string(),
                "agentType": agent_type,
                "command": argv,
                "cols": 120,
                "rows": 40,
                "hooks": hooks,
            }),
        )?;
        if r.status != 201 {
            bail!(
                "create failed: {} {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            );
        }
        let v = r.json()?;
        v["id"]
            .as_str()
            .map(str::to_owned)
            .context("no id in create reply")
    }

    pub fn session(&self, http: &mut Http, id: &str) -> Result<Value> {
        http.get(&format!("/v1/sessions/{id}"))?.json()
    }

    /// Poll the session every `every` until its status is `status`, or fail after `timeout`.
    pub fn wait_status(
        &self,
        http: &mut Http,
        id: &str,
        status: &str,
        every: Duration,
        timeout: Duration,
    ) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.session(http, id)?["status"] == status {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("session {id} not {status} after {timeout:?}");
            }
            std::thread::sleep(every);
        }
    }

    pub fn delete(&self, http: &mut Http, id: &str) -> Result<()> {
        http.delete(&format!("/v1/sessions/{id}"))?;
        Ok(())
    }

    pub fn rss_kib(&self) -> Result<u64> {
        rss_kib(self.pid)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.pid as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + STOP_GRACE;
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

/// Resident memory of a process (VmRSS), in KiB.
pub fn rss_kib(pid: u32) -> Result<u64> {
    proc_kib(&format!("/proc/{pid}/status"), "VmRSS:")
}

/// The `<key> <n> kB` line of a /proc file, in KiB.
fn proc_kib(path: &str, key: &str) -> Result<u64> {
    std::fs::read_to_string(path)?
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .with_context(|| format!("no {key} in {path}"))
}

/// Proportional set size of a process in KiB: its private pages plus its share of pages it
/// maps with others (a thousand holders share one binary; RSS would count it a thousand times).
pub fn pss_kib(pid: u32) -> Result<u64> {
    proc_kib(&format!("/proc/{pid}/smaps_rollup"), "Pss:")
}

/// The holder processes of a daemon: its children running `aegis-holder` (or `aegis holder`).
pub fn holders(daemon: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let ppid = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    s.rsplit_once(')')?
                        .1
                        .split_whitespace()
                        .nth(1)?
                        .parse()
                        .ok()
                });
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let mut args = cmdline.split(|b| *b == 0);
            let is_holder = args.next().is_some_and(|a| a.ends_with(b"/aegis-holder"))
                || args.next() == Some(b"holder");
            ppid == Some(daemon) && is_holder
        })
        .collect()
}

/// User plus system CPU time of a process (all its threads), in clock ticks.
pub fn cpu_ticks(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces; fields after the closing parenthesis are fixed.
    let rest = stat.rsplit_once(')').context("bad stat")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat, i.e. 12 and 13 after the name.
    let utime: u64 = f.get(11).and_then(|v| v.parse().ok()).context("utime")?;
    let stime: u64 = f.get(12).and_then(|v| v.parse().ok()).context("stime")?;
    Ok(utime + stime)
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on every Linux we know).
pub fn ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0)
}

pub fn path_str(p: &Path) -> String {
    p.display().to_string()
}
