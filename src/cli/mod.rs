//! The command-line client: thin wrappers over the REST API for scripts and humans. Output is
//! human-readable by default and the API's JSON with `--json`.

use serde_json::{Value, json};

use crate::client::{CallError, Client, segment};

/// Where the daemon is and how to authenticate, shared by every client subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct ClientArgs {
    /// Daemon base URL.
    #[arg(
        long,
        global = true,
        env = "AEGIS_URL",
        default_value = "http://127.0.0.1:9100"
    )]
    pub url: String,
    /// API token (sent as a Bearer header).
    #[arg(long, global = true, env = "AEGIS_AUTH_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print the API's JSON instead of a human summary.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum ClientCommand {
    /// Create a session.
    New {
        /// Working directory (default: the current directory).
        #[arg(long, short = 'C')]
        workdir: Option<std::path::PathBuf>,
        #[arg(long, short)]
        name: Option<String>,
        /// claude | codex | gemini | shell | custom
        #[arg(long, short, default_value = "shell")]
        agent: String,
        /// First prompt, delivered once the program is ready.
        #[arg(long, short)]
        prompt: Option<String>,
        #[arg(long)]
        cols: Option<u16>,
        #[arg(long)]
        rows: Option<u16>,
        /// Command to run instead of the agent's default (after `--`).
        #[arg(last = true)]
        command: Vec<String>,
    },
    /// List sessions.
    Ls {
        /// Every session of every host of the daemon's fleet, with a HOST column.
        #[arg(long)]
        fleet: bool,
    },
    /// Print a session's screen.
    Read {
        /// Session id or name.
        session: String,
        /// Lines to return, including scrollback (1..2000).
        #[arg(long, short)]
        lines: Option<usize>,
        /// Keep colours (ANSI escape codes).
        #[arg(long)]
        ansi: bool,
    },
    /// Type text into a session and press Enter.
    Send { session: String, text: String },
    /// Run a command line in an idle shell session, print its output and exit with its
    /// status: 124 when it timed out without one, 125 when the shell does not report it
    /// (a session without shell integration).
    Exec {
        session: String,
        /// Give up waiting after this long (default 30000).
        #[arg(long)]
        timeout_ms: Option<u64>,
        /// On timeout, press Ctrl-C instead of leaving the command running.
        #[arg(long)]
        interrupt: bool,
        /// The command line (its words are joined with spaces).
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Send tmux-named keys (Enter, C-c, Up, ...) or literal text.
    Keys {
        session: String,
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// Stop a session's processes and remove it.
    Kill { session: String },
    /// Show why a session is in its state: the rule that matched and the matched lines.
    Explain { session: String },
}

/// How long one CLI request may take: sends wait for the screen and creation for the first
/// prompt, so generous, but bounded.
const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// A failed call, worded for a person at a terminal.
fn worded(e: CallError) -> anyhow::Error {
    match e {
        CallError::Unreachable { base, source } => anyhow::anyhow!(
            "cannot reach the Aegis daemon at {base}: {source}\nIs it running? Start it with `aegis serve`."
        ),
        CallError::Request { url, source, .. } => {
            anyhow::anyhow!("request to {url} failed: {source}")
        }
        CallError::Read { source, .. } => {
            anyhow::Error::new(source).context("reading the daemon's response")
        }
        CallError::Api { status, error, .. } => {
            let msg = error.unwrap_or_else(|| format!("HTTP {status}"));
            anyhow::anyhow!("{msg} ({status})")
        }
    }
}

/// The shared client, with errors worded for the terminal.
struct Caller<'a>(&'a Client);

impl Caller<'_> {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        self.0.call(method, path, body).await.map_err(worded)
    }
}

/// `aegis exec`'s exit status when the command timed out without a status (as `timeout(1)`).
const EXEC_TIMED_OUT: u8 = 124;

/// `aegis exec`'s exit status when the command ended but the shell did not say how (no shell
/// integration): never 0, which would read as success. 125 is `timeout(1)`'s own failure, the
/// wrapper's word next to 124, below the 126-255 shells give to commands not run and signals.
const EXEC_STATUS_UNKNOWN: u8 = 125;

/// The process exit status `aegis exec` ends with: the command's own (as the shell reports
/// it, 0-255), else [`EXEC_TIMED_OUT`] or [`EXEC_STATUS_UNKNOWN`].
fn exec_status(v: &Value) -> std::process::ExitCode {
    let code = match v.get("exitCode").and_then(Value::as_i64) {
        Some(c) => u8::try_from(c.rem_euclid(256)).unwrap_or(1),
        None if timed_out(v) => EXEC_TIMED_OUT,
        None => EXEC_STATUS_UNKNOWN,
    };
    std::process::ExitCode::from(code)
}

fn timed_out(v: &Value) -> bool {
    v.get("timedOut").and_then(Value::as_bool) == Some(true)
}

/// Run one client subcommand; output goes to stdout. Returns the process's exit status.
pub async fn run(args: ClientArgs, cmd: ClientCommand) -> anyhow::Result<std::process::ExitCode> {
    use reqwest::Method;
    // An exec waits for its command: the call may take its timeout and then some.
    let timeout = match &cmd {
        ClientCommand::Exec { timeout_ms, .. } => {
            std::time::Duration::from_millis(
                timeout_ms.unwrap_or(crate::session::exec::DEFAULT_TIMEOUT_MS),
            ) + CALL_TIMEOUT
        }
        _ => CALL_TIMEOUT,
    };
    let client = Client::new(&args.url, args.token.clone(), timeout)?;
    let c = Caller(&client);
    let out = match &cmd {
        ClientCommand::New {
            workdir,
            name,
            agent,
            prompt,
            cols,
            rows,
            command,
        } => {
            let dir = match workdir {
                Some(d) => std::path::absolute(d)?,
                None => std::env::current_dir()?,
            };
            let mut body = json!({ "workDir": dir, "agentType": agent });
            let fields = [
                ("name", name.clone().map(Value::from)),
                ("prompt", prompt.clone().map(Value::from)),
                ("cols", cols.map(Value::from)),
                ("rows", rows.map(Value::from)),
            ];
            for (k, v) in fields {
                if let Some(v) = v {
                    body[k] = v;
                }
            }
            if !command.is_empty() {
                body["command"] = json!(command);
            }
            c.call(Method::POST, "/v1/sessions", Some(body)).await?
        }
        ClientCommand::Ls { fleet: false } => c.call(Method::GET, "/v1/sessions", None).await?,
        ClientCommand::Ls { fleet: true } => fleet_sessions(&c).await?,
        ClientCommand::Read {
            session,
            lines,
            ansi,
        } => {
            let mut q = vec![];
            if let Some(n) = lines {
                q.push(format!("lines={n}"));
            }
            if *ansi {
                q.push("format=ansi".into());
            }
            let qs = if q.is_empty() {
                String::new()
            } else {
                format!("?{}", q.join("&"))
            };
            c.call(
                Method::GET,
                &format!("/v1/sessions/{}/read{qs}", segment(session)),
                None,
            )
            .await?
        }
        ClientCommand::Send { session, text } => {
            c.call(
                Method::POST,
                &format!("/v1/sessions/{}/send", segment(session)),
                Some(json!({ "text": text })),
            )
            .await?
        }
        ClientCommand::Exec {
            session,
            timeout_ms,
            interrupt,
            command,
        } => {
            let mut body = json!({ "command": command.join(" "), "interrupt": interrupt });
            if let Some(t) = timeout_ms {
                body["timeoutMs"] = json!(t);
            }
            c.call(
                Method::POST,
                &format!("/v1/sessions/{}/exec", segment(session)),
                Some(body),
            )
            .await?
        }
        ClientCommand::Keys { session, keys } => {
            c.call(
                Method::POST,
                &format!("/v1/sessions/{}/keys", segment(session)),
                Some(json!({ "keys": keys })),
            )
            .await?
        }
        ClientCommand::Explain { session } => {
            c.call(
                Method::GET,
                &format!("/v1/sessions/{}/detect", segment(session)),
                None,
            )
            .await?
        }
        ClientCommand::Kill { session } => {
            c.call(
                Method::DELETE,
                &format!("/v1/sessions/{}", segment(session)),
                None,
            )
            .await?
        }
    };
    let text = if args.json {
        serde_json::to_string_pretty(&out)?
    } else {
        human(&cmd, &out)
    };
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    // A command that printed nothing prints nothing here either.
    if !(text.is_empty() && matches!(cmd, ClientCommand::Exec { .. })) {
        writeln!(stdout, "{text}")?;
    }
    Ok(match cmd {
        ClientCommand::Exec {
            timeout_ms,
            interrupt,
            ..
        } => {
            if let Some(why) = exec_note(&out, timeout_ms, interrupt) {
                eprintln!("aegis exec: {why}");
            }
            exec_status(&out)
        }
        _ => std::process::ExitCode::SUCCESS,
    })
}

/// What `aegis exec` says on stderr when its exit status is not simply the command's: the
/// command timed out (124, or the interrupted command's status, cannot tell a timeout from the
/// command's own failure), or its status is unknown (125 could be a command's own too).
fn exec_note(v: &Value, timeout_ms: Option<u64>, interrupt: bool) -> Option<String> {
    let code = v.get("exitCode").and_then(Value::as_i64);
    if !timed_out(v) {
        return code.is_none().then(|| {
            format!(
                "the command ended, but its exit status is unknown: the shell did not report \
                 it (a shell with shell integration does); exiting with {EXEC_STATUS_UNKNOWN}"
            )
        });
    }
    let ms = timeout_ms.unwrap_or(crate::session::exec::DEFAULT_TIMEOUT_MS);
    let what = match code {
        _ if !interrupt => "the command is still running".to_owned(),
        Some(code) => format!("interrupted it (Ctrl-C); it exited with status {code}"),
        None => "pressed Ctrl-C; the shell did not report an exit status".to_owned(),
    };
    Some(format!("timed out after {ms} ms; {what}"))
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("-")
}

fn human(cmd: &ClientCommand, v: &Value) -> String {
    match cmd {
        ClientCommand::New { .. } => {
            let mut line = format!("{}  {}  {}", s(v, "id"), s(v, "name"), s(v, "status"));
            if let Some(d) = v.get("promptDelivery") {
                line.push_str(&format!(
                    "  prompt delivered: {}",
                    d.get("delivered").and_then(Value::as_bool).unwrap_or(false)
                ));
            }
            line
        }
        ClientCommand::Ls { fleet } => session_table(v, *fleet),
        ClientCommand::Read { .. } => s(v, "output").to_owned(),
        ClientCommand::Send { .. } => {
            format!(
                "delivered: {} (attempts: {})",
                v.get("delivered").and_then(Value::as_bool).unwrap_or(false),
                v.get("attempts").and_then(Value::as_u64).unwrap_or(0)
            )
        }
        ClientCommand::Exec { .. } => s(v, "output").to_owned(),
        ClientCommand::Keys { .. } => "ok".into(),
        ClientCommand::Kill { session } => format!("killed {session}"),
        ClientCommand::Explain { .. } => explain_text(v),
    }
}

/// Most sessions one page of `GET /v1/fleet/sessions` holds (the route's own limit).
const FLEET_PAGE: usize = 1000;

/// Every page of `GET /v1/fleet/sessions` as one answer: a fleet can hold more sessions than
/// one page, and `ls` lists them all.
async fn fleet_sessions(c: &Caller<'_>) -> anyhow::Result<Value> {
    let mut sessions = Vec::new();
    let mut unreachable = Vec::new();
    for page in 1.. {
        let v = c
            .call(
                reqwest::Method::GET,
                &format!("/v1/fleet/sessions?limit={FLEET_PAGE}&page={page}"),
                None,
            )
            .await?;
        let got: Vec<Value> = v["sessions"].as_array().cloned().unwrap_or_default();
        let total = v["total"].as_u64().unwrap_or(0) as usize;
        if page == 1 {
            unreachable = v["unreachableHosts"]
                .as_array()
                .cloned()
                .unwrap_or_default();
        }
        let last = got.len() < FLEET_PAGE;
        sessions.extend(got);
        if last || sessions.len() >= total {
            break;
        }
    }
    let total = sessions.len();
    Ok(json!({ "sessions": sessions, "total": total, "unreachableHosts": unreachable }))
}

/// `ls` as a table; with `fleet`, a HOST column first and a line per host that did not answer.
fn session_table(v: &Value, fleet: bool) -> String {
    let row = |host: &str, id: &str, name: &str, agent: &str, status: &str, dir: &str| {
        let line = format!("{id:<36}  {name:<24}  {agent:<8}  {status:<18}  {dir}");
        if fleet {
            format!("{host:<16}  {line}")
        } else {
            line
        }
    };
    let rows: Vec<String> = v
        .get("sessions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|x| {
            row(
                s(x, "host"),
                s(x, "id"),
                s(x, "name"),
                s(x, "agentType"),
                s(x, "status"),
                s(x, "workDir"),
            )
        })
        .collect();
    let mut out = if rows.is_empty() {
        vec!["no sessions".to_owned()]
    } else {
        let header = row("HOST", "ID", "NAME", "AGENT", "STATUS", "WORKDIR");
        std::iter::once(header).chain(rows).collect()
    };
    for h in v
        .get("unreachableHosts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.push(format!(
            "host {} did not answer ({} sessions not listed){}",
            s(h, "host"),
            h.get("sessions").and_then(Value::as_u64).unwrap_or(0),
            h.get("error")
                .and_then(Value::as_str)
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        ));
    }
    out.join("\n")
}

fn explain_text(v: &Value) -> String {
    let mut out = format!(
        "status: {}  (profile {}, {})\nrule:   {}",
        s(v, "status"),
        s(v, "profile"),
        s(v, "profileSource"),
        s(v, "rule"),
    );
    if let Some(p) = v.get("priority").and_then(Value::as_i64) {
        out.push_str(&format!("  (priority {p}, region {})", s(v, "region")));
    }
    out.push_str(&format!(
        "\nraw:    {} (from {})\nreason: {}\nscreen unchanged for {} ms; last evaluation took {} µs",
        s(v, "rawState"),
        s(v, "evidence"),
        s(v, "reason"),
        v.get("unchangedMs").and_then(Value::as_u64).unwrap_or(0),
        v.get("evalMicros").and_then(Value::as_u64).unwrap_or(0),
    ));
    for key in ["title", "report"] {
        if let Some(t) = v.get(key).and_then(Value::as_str).filter(|t| !t.is_empty()) {
            out.push_str(&format!("\n{key}: {}{t}", " ".repeat(6 - key.len())));
        }
    }
    let lines = v.get("lines").and_then(Value::as_array);
    if let Some(lines) = lines.filter(|l| !l.is_empty()) {
        out.push_str("\nmatched lines:");
        for l in lines {
            out.push_str(&format!(
                "\n  {:>4} │ {}",
                l.get("row").and_then(Value::as_u64).unwrap_or(0),
                s(l, "text")
            ));
        }
    }
    for p in v
        .get("pending")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.push_str(&format!(
            "\npending permission {}: {} {:?} {:?}",
            s(p, "id"),
            s(p, "kind"),
            s(p, "title"),
            s(p, "detail")
        ));
    }
    out
}
