//! `POST /v1/sessions/:id/exec` on real bash and zsh, with and without shell integration; the
//! `aegis exec` command (its exit status is the command's) and the MCP `exec` tool.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Shell, T};
use crate::support::{Daemon, id_of, wait_until};

fn exec_ok(s: &Shell, body: Value) -> Value {
    let (st, v) = s.exec(body);
    assert_eq!(st, StatusCode::OK, "{v}");
    v
}

fn exit_codes(shell: &str) {
    let s = Shell::start(shell, true);
    let v = exec_ok(&s, json!({ "command": "echo hello; echo world" }));
    assert_eq!(v["exitCode"], 0, "{v}");
    assert_eq!(v["output"], "hello\nworld", "{v}");
    assert_eq!(v["timedOut"], false, "{v}");
    let v = exec_ok(&s, json!({ "command": "echo oops >&2; false" }));
    assert_eq!(
        (&v["exitCode"], &v["output"]),
        (&json!(1), &json!("oops")),
        "{v}"
    );
    // A timeout with `interrupt` presses Ctrl-C: the shell reports the interrupted status.
    let v = exec_ok(
        &s,
        json!({ "command": "sleep 30", "timeoutMs": 300, "interrupt": true }),
    );
    assert_eq!(
        (&v["timedOut"], &v["exitCode"]),
        (&json!(true), &json!(130)),
        "{v}"
    );
    assert!(!s.runs("sleep"), "the sleep still runs after the interrupt");
    s.d.wait_status(&s.id, "idle", T);
    let v = exec_ok(&s, json!({ "command": "echo after" }));
    assert_eq!(
        (&v["exitCode"], &v["output"]),
        (&json!(0), &json!("after")),
        "{v}"
    );
}

fn many_in_a_row(shell: &str) {
    let s = Shell::start(shell, true);
    for i in 0..100 {
        let v = exec_ok(&s, json!({ "command": format!("echo line-{i}") }));
        assert_eq!(v["output"], format!("line-{i}"), "exec {i}: {v}");
        assert_eq!(v["exitCode"], 0, "exec {i}: {v}");
    }
    let all = s.commands();
    assert_eq!(all.len(), 100, "{all:?}");
    assert_eq!(all[99]["command"], "echo line-99");
}

fn busy_and_bad_input(shell: &str) {
    let s = Shell::start(shell, true);
    for bad in [
        json!({ "command": "" }),
        json!({ "command": "echo a\necho b" }),
        json!({ "command": "echo a", "timeoutMs": 0 }),
        json!({ "command": "echo a", "timeoutMs": 3_600_001 }),
        json!({ "command": "echo a", "bogus": 1 }),
    ] {
        let (st, v) = s.exec(bad.clone());
        assert_eq!(st, StatusCode::BAD_REQUEST, "{bad}: {v}");
        assert!(v["error"].is_string() && v["code"].is_string(), "{v}");
    }
    assert!(s.commands().is_empty(), "bad input ran something");
    // A timeout without `interrupt` answers what it has and leaves the command running.
    let v = exec_ok(
        &s,
        json!({ "command": "echo started; sleep 30", "timeoutMs": 500 }),
    );
    assert_eq!(
        (&v["timedOut"], &v["exitCode"]),
        (&json!(true), &Value::Null),
        "{v}"
    );
    assert_eq!(v["output"], "started", "{v}");
    assert!(s.runs("sleep"), "the sleep should still run");
    let (st, v) = s.exec(json!({ "command": "echo no" }));
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["code"], "SESSION_BUSY", "{v}");
    let (st, v) = s.d.post(
        &format!("/v1/sessions/{}/keys", s.id),
        json!({ "keys": ["C-c"] }),
    );
    assert_eq!(st, StatusCode::OK, "{v}");
    s.d.wait_status(&s.id, "idle", T);
    let (st, v) = s.exec(json!({ "command": "echo x" }));
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, v) =
        s.d.post("/v1/sessions/no-such/exec", json!({ "command": "echo" }));
    assert_eq!(st, StatusCode::NOT_FOUND, "{v}");
}

/// Without integration, exec still waits for the shell to come back and returns the output;
/// the status is unknown.
fn without_integration(shell: &str) {
    let s = Shell::start(shell, false);
    let v = exec_ok(&s, json!({ "command": "echo plain-out" }));
    assert_eq!(
        (&v["output"], &v["exitCode"]),
        (&json!("plain-out"), &Value::Null),
        "{v}"
    );
    let v = exec_ok(&s, json!({ "command": "sleep 2; echo slept" }));
    assert_eq!(v["output"], "slept", "{v}");
    assert!(!s.runs("sleep"), "exec answered while the sleep ran: {v}");
}

/// The output is exactly what the command printed, a last line without a newline too: zsh's
/// mark for it (`PROMPT_SP`) is no part of it, nor is the next prompt drawn after it. Without
/// marks the echoed line goes however many rows it takes.
fn output_without_final_newline(shell: &str, integration: bool) {
    let s = Shell::start(shell, integration);
    let code = if integration { json!(0) } else { Value::Null };
    for (command, output) in [
        ("printf abc", "abc"),
        ("printf 'line\\n'", "line"),
        ("printf 'x\\ny'", "x\ny"),
        ("echo; echo done", "\ndone"),
    ] {
        let v = exec_ok(&s, json!({ "command": command }));
        assert_eq!(
            (&v["output"], &v["exitCode"]),
            (&json!(output), &code),
            "{command}: {v}"
        );
    }
    let (st, info) = s.d.get(&format!("/v1/sessions/{}", s.id));
    assert_eq!(st, StatusCode::OK, "{info}");
    let cols = info["cols"].as_u64().and_then(|c| usize::try_from(c).ok());
    let cols = cols.unwrap_or_else(|| panic!("no cols: {info}"));
    // After the prompt `$ `: a line longer than a row, and one that fills its row exactly.
    for len in [cols + 40, cols - 2] {
        let word = "w".repeat(len - "echo ".len());
        let v = exec_ok(&s, json!({ "command": format!("echo {word}") }));
        let rows: Vec<&str> = word
            .as_bytes()
            .chunks(cols)
            .map(|r| std::str::from_utf8(r).unwrap_or(""))
            .collect();
        assert_eq!(v["output"], rows.join("\n"), "a line of {len}: {v}");
    }
}

/// `aegis exec` with `opts` before `--` and `words` after it: its exit status, stdout and
/// stderr.
fn cli_exec(d: &Daemon, id: &str, opts: &[&str], words: &[&str]) -> (Option<i32>, String, String) {
    let out = crate::cli::aegis_command(Some(d))
        .args(["exec", id])
        .args(opts)
        .arg("--")
        .args(words)
        .output()
        .expect("running aegis exec");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn cli_exit_status(shell: &str) {
    let s = Shell::start(shell, true);
    let run = |opts: &[&str], words: &[&str]| cli_exec(&s.d, &s.id, opts, words);
    assert_eq!(
        run(&[], &["echo", "via-cli"]),
        (Some(0), "via-cli\n".to_owned(), String::new())
    );
    assert_eq!(run(&[], &["(exit", "7)"]).0, Some(7));
    // Nothing printed, nothing shown.
    assert_eq!(run(&[], &["true"]), (Some(0), String::new(), String::new()));
    // A timeout says so on stderr: the exit status alone cannot tell it from the command's.
    let (code, _, err) = run(&["--timeout-ms", "300", "--interrupt"], &["sleep", "30"]);
    assert_eq!(code, Some(130), "{err}");
    assert_eq!(
        err,
        "aegis exec: timed out after 300 ms; interrupted it (Ctrl-C); it exited with status 130\n"
    );
    s.d.wait_status(&s.id, "idle", T);
    let (code, out, err) = run(
        &["--timeout-ms", "300"],
        &["echo", "waiting;", "sleep", "30"],
    );
    assert_eq!((code, out.as_str()), (Some(124), "waiting\n"), "{err}");
    assert_eq!(
        err,
        "aegis exec: timed out after 300 ms; the command is still running\n"
    );
    assert!(s.runs("sleep"), "the sleep should still run");
    s.keys(&["C-c"]);
    wait_until(T, "idle", || (s.d.status(&s.id) == "idle").then_some(()));
}

/// Without integration the shell does not report the status: `aegis exec` never reads that as
/// success, it exits with 125 and says why.
fn cli_status_unknown(shell: &str) {
    let s = Shell::start(shell, false);
    let unknown = "aegis exec: the command ended, but its exit status is unknown: the shell did \
                   not report it (a shell with shell integration does); exiting with 125\n";
    for (words, out) in [(&["false"][..], ""), (&["echo", "plain"], "plain\n")] {
        assert_eq!(
            cli_exec(&s.d, &s.id, &[], words),
            (Some(125), out.to_owned(), unknown.to_owned()),
            "{words:?}"
        );
    }
}

/// A custom session running bash or zsh is a shell to exec like a shell session: with
/// integration (the status from the marks) and without.
fn custom_session(shell: &str) {
    for integration in [true, false] {
        let s = Shell::start_as(Daemon::start(), "custom", shell, integration);
        let v = exec_ok(&s, json!({ "command": "echo custom; (exit 3)" }));
        let code = if integration { json!(3) } else { Value::Null };
        assert_eq!(
            (&v["output"], &v["exitCode"]),
            (&json!("custom"), &code),
            "integration {integration}: {v}"
        );
    }
}

/// `aegis mcp` over stdio, as an MCP client drives it, initialized.
struct Mcp {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
    next: u64,
}

impl Mcp {
    fn start(d: &Daemon) -> Mcp {
        let mut child = crate::cli::aegis_command(Some(d))
            .arg("mcp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting aegis mcp");
        let stdin = child.stdin.take().expect("piped stdin");
        let lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let mut mcp = Mcp {
            child,
            stdin,
            lines,
            next: 0,
        };
        let init = mcp.call(
            "initialize",
            json!({ "protocolVersion": "2025-03-26", "capabilities": {},
                    "clientInfo": { "name": "test", "version": "0" } }),
        );
        assert!(init["result"].is_object(), "{init}");
        mcp
    }

    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let msg = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        writeln!(self.stdin, "{msg}").expect("writing to aegis mcp");
        loop {
            let line = self
                .lines
                .next()
                .expect("aegis mcp answers")
                .expect("a line");
            let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
            if v["id"] == id {
                return v;
            }
        }
    }

    /// Call tool `name`: whether it answered an error, and its text.
    fn tool(&mut self, name: &str, args: Value) -> (bool, String) {
        let v = self.call("tools/call", json!({ "name": name, "arguments": args }));
        let text = v["result"]["content"][0]["text"].as_str();
        let text = text.unwrap_or_else(|| panic!("no text: {v}")).to_owned();
        (v["result"]["isError"] == true, text)
    }
}

impl Drop for Mcp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn mcp_tool(shell: &str) {
    let s = Shell::start(shell, true);
    let mut mcp = Mcp::start(&s.d);
    let (failed, text) = mcp.tool(
        "exec",
        json!({ "session": s.id, "command": "echo via-mcp; (exit 4)" }),
    );
    assert!(!failed, "{text}");
    let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    assert_eq!(
        (&answer["exitCode"], &answer["output"]),
        (&json!(4), &json!("via-mcp")),
        "{text}"
    );
}

/// Exec types only into a shell: another program (whatever its agent type), or a shell running
/// a command line, gets a clear error over REST, MCP and the CLI, and receives nothing.
#[test]
fn exec_refuses_a_session_that_is_not_a_shell() {
    let d = Daemon::start();
    let mut mcp = Mcp::start(&d);
    for (agent, command) in [
        ("custom", json!(["cat"])),
        ("shell", json!(["cat"])),
        ("shell", json!(["bash", "-c", "cat"])),
        ("claude", json!(["cat"])),
    ] {
        let v = d.create(json!({
            "workDir": d.work_dir(), "agentType": agent, "command": command, "hooks": false,
        }));
        let id = id_of(&v);
        let (st, v) = d.post(
            &format!("/v1/sessions/{id}/exec"),
            json!({ "command": "echo typed" }),
        );
        assert_eq!(st, StatusCode::BAD_REQUEST, "{agent} {command}: {v}");
        assert_eq!(v["code"], "VALIDATION_ERROR", "{v}");
        let error = v["error"].as_str().unwrap_or_default().to_owned();
        assert!(error.starts_with("exec needs a shell session"), "{v}");
        let (failed, text) = mcp.tool("exec", json!({ "session": id, "command": "echo typed" }));
        assert!(failed && text.contains(&error), "{text}");
        let (code, out, err) = cli_exec(&d, &id, &[], &["echo", "typed"]);
        assert_eq!((code, out.as_str()), (Some(1), ""), "{err}");
        assert!(err.contains(&error), "{err}");
        // What is typed next is the first thing the program received (cat echoes it).
        let (st, v) = d.post(
            &format!("/v1/sessions/{id}/keys"),
            json!({ "keys": ["marker", "Enter"] }),
        );
        assert_eq!(st, StatusCode::OK, "{v}");
        let raw = wait_until(T, "the marker", || {
            let (_, t) = d.get(&format!("/v1/sessions/{id}/transcript?since=0"));
            let raw = t["raw"].as_str().unwrap_or_default().to_owned();
            raw.contains("marker").then_some(raw)
        });
        assert!(
            raw.starts_with("marker"),
            "{agent} {command} received {raw:?}"
        );
    }
}

macro_rules! exec_tests {
    ($shell:ident) => {
        mod $shell {
            #[test]
            fn exec_returns_exit_codes_and_output() {
                super::exit_codes(stringify!($shell));
            }
            #[test]
            fn hundred_execs_in_a_row_answer_in_order() {
                super::many_in_a_row(stringify!($shell));
            }
            #[test]
            fn exec_refuses_a_busy_session_and_bad_input() {
                super::busy_and_bad_input(stringify!($shell));
            }
            #[test]
            fn exec_without_integration_waits_for_the_prompt() {
                super::without_integration(stringify!($shell));
            }
            #[test]
            fn cli_exec_exits_with_the_command_status() {
                super::cli_exit_status(stringify!($shell));
            }
            #[test]
            fn exec_output_is_exact_without_a_final_newline() {
                super::output_without_final_newline(stringify!($shell), true);
            }
            #[test]
            fn exec_output_is_exact_without_a_final_newline_or_integration() {
                super::output_without_final_newline(stringify!($shell), false);
            }
            #[test]
            fn cli_exec_says_when_the_status_is_unknown() {
                super::cli_status_unknown(stringify!($shell));
            }
            #[test]
            fn exec_runs_in_a_custom_session_of_the_shell() {
                super::custom_session(stringify!($shell));
            }
            #[test]
            fn mcp_exec_tool_runs_a_command() {
                super::mcp_tool(stringify!($shell));
            }
        }
    };
}

exec_tests!(bash);
exec_tests!(zsh);
