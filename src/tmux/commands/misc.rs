//! The rest of what tools call: wait-for, run-shell, if-shell, source-file, key bindings
//! (bind-key, unbind-key, list-keys, with a default prefix table of the bindings the attach
//! client honours), list-commands, show-messages, prompt history, server-access, and the
//! modes a pane can be put in without a client to draw them (copy-mode, clock-mode,
//! choose-tree, choose-client, customize-mode): the pane enters the mode, as in tmux.

use super::super::cmd::{Cmd, SPECS, Spec};
use super::super::exec::{CmdResult, Ctx, Next, ShellJob};
use super::super::waits::Wait;

pub async fn run(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    match c.name() {
        "wait-for" => wait_for(ctx, c),
        "run-shell" => run_shell(ctx, c).await,
        "if-shell" => if_shell(ctx, c).await,
        "source-file" => source_file(ctx, c).await,
        "bind-key" => bind_key(ctx, c),
        "unbind-key" => unbind_key(ctx, c),
        "list-keys" => list_keys(ctx, c),
        "list-commands" => list_commands(ctx, c),
        "show-messages" => {
            if c.has('J') || c.has('T') {
                return Ok(());
            }
            let lines: Vec<String> = ctx
                .server()?
                .messages
                .iter()
                .map(|(t, m)| {
                    format!(
                        "{}: {m}",
                        super::super::format::ctime(i64::try_from(*t / 1000).unwrap_or(0))
                    )
                })
                .collect();
            for l in lines {
                ctx.print(&l);
            }
            Ok(())
        }
        "show-prompt-history" | "clear-prompt-history" => {
            const TYPES: [&str; 4] = ["command", "search", "target", "window-target"];
            let only = c.value('T');
            if let Some(t) = only
                && !TYPES.contains(&t)
            {
                return Err(format!("invalid type: {t}"));
            }
            if c.name() == "show-prompt-history" {
                for t in TYPES.iter().filter(|t| only.is_none_or(|o| o == **t)) {
                    ctx.print(&format!("History for {t}:\n"));
                    ctx.print("");
                }
            }
            Ok(())
        }
        "server-access" => {
            if c.has('l') {
                return Ok(());
            }
            Err("server-access: changing access is not supported by the Aegis tmux stand-in (only its owner can reach the daemon's socket)".into())
        }
        "copy-mode" | "clock-mode" | "choose-tree" | "choose-client" | "customize-mode" => {
            enter_mode(ctx, c)
        }
        other => Err(format!("{other}: not supported by the Aegis tmux stand-in")),
    }
}

fn enter_mode(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let Some(pane) = ctx.target.and_then(|f| f.pane) else {
        return Err("no current pane".into());
    };
    let server = ctx.server()?;
    let mode = match c.name() {
        "copy-mode" if c.has('q') => None,
        "copy-mode" => Some("copy-mode"),
        "clock-mode" => Some("clock-mode"),
        "choose-tree" => Some("tree-mode"),
        "choose-client" if server.clients.list.is_empty() => return Ok(()),
        "choose-client" => Some("client-mode"),
        _ => Some("options-mode"),
    };
    if let Some(p) = server.pane_mut(pane) {
        p.mode = mode;
    }
    server.changed();
    Ok(())
}

fn wait_for(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let name = c.arg(0).unwrap_or("").to_owned();
    if ctx.depth > 0 && !c.has('S') && !c.has('U') {
        // From a config file there is no client to block (tmux: not able to wait/lock).
        return Err(if c.has('L') {
            "not able to lock"
        } else {
            "not able to wait"
        }
        .into());
    }
    let server = ctx.server()?;
    if c.has('S') {
        server.waits.signal(&name);
        return Ok(());
    }
    if c.has('U') {
        return server.waits.unlock(&name);
    }
    let w = if c.has('L') {
        server.waits.lock(&name)
    } else {
        server.waits.wait(&name)
    };
    if let Wait::Blocked(rx) = w {
        ctx.next = Next::Wait(rx);
    }
    Ok(())
}

async fn run_shell(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let Some(command) = c.arg(0) else {
        return Ok(());
    };
    if let Some(d) = c.value('d')
        && d.parse::<f64>().is_err()
    {
        return Err(format!("invalid delay time: {d}"));
    }
    let session = ctx.target.and_then(|f| f.session);
    if c.has('C') {
        // -C: the argument is tmux commands, not a shell command.
        let text = command.to_owned();
        return Box::pin(ctx.source_text(&text, "run-shell")).await;
    }
    let command = ctx.expand_simple(command, session);
    ctx.next = Next::Shell(ShellJob {
        command,
        cwd: ctx.req.cwd.clone(),
        env: vec![],
        background: c.has('b'),
        then: None,
    });
    Ok(())
}

async fn if_shell(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let condition = c.arg(0).unwrap_or("").to_owned();
    let yes = c.arg(1).unwrap_or("").to_owned();
    let no = c.arg(2).map(str::to_owned);
    let session = ctx.target.and_then(|f| f.session);
    if c.has('F') {
        let v = ctx.expand_simple(&condition, session);
        let chosen = if super::session::truthy(&v) {
            Some(yes)
        } else {
            no
        };
        if let Some(text) = chosen {
            return Box::pin(ctx.source_text(&text, "if-shell")).await;
        }
        return Ok(());
    }
    let command = ctx.expand_simple(&condition, session);
    ctx.next = Next::Shell(ShellJob {
        command,
        cwd: ctx.req.cwd.clone(),
        env: vec![],
        background: false,
        then: Some((yes, no)),
    });
    Ok(())
}

async fn source_file(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let session = ctx.target.and_then(|f| f.session);
    for arg in &c.args {
        let path = if c.has('F') {
            ctx.expand_simple(arg, session)
        } else {
            arg.clone()
        };
        let full = if path.starts_with('/') {
            path.clone()
        } else {
            format!("{}/{path}", ctx.req.cwd)
        };
        let text = match std::fs::read_to_string(&full) {
            Ok(t) => t,
            Err(_) if c.has('q') => continue,
            Err(e) => {
                let msg = e.to_string();
                let msg = msg.split(" (os error").next().unwrap_or(&msg).to_owned();
                return Err(format!("{path}: {msg}"));
            }
        };
        if c.has('n') {
            super::super::config::parse_text(&text).map_err(|e| format!("{path}:{e}"))?;
            continue;
        }
        Box::pin(ctx.source_text(&text, &path)).await?;
    }
    Ok(())
}

/// The prefix-table bindings every server starts with: the ones the attach client acts on.
const DEFAULT_KEYS: &[(&str, &str)] = &[
    ("C-b", "send-prefix"),
    ("\"", "split-window"),
    ("%", "split-window -h"),
    ("0", "select-window -t :=0"),
    ("1", "select-window -t :=1"),
    ("2", "select-window -t :=2"),
    ("3", "select-window -t :=3"),
    ("4", "select-window -t :=4"),
    ("5", "select-window -t :=5"),
    ("6", "select-window -t :=6"),
    ("7", "select-window -t :=7"),
    ("8", "select-window -t :=8"),
    ("9", "select-window -t :=9"),
    (";", "last-pane"),
    ("c", "new-window"),
    ("d", "detach-client"),
    ("l", "last-window"),
    ("n", "next-window"),
    ("o", "select-pane -t :.+"),
    ("p", "previous-window"),
    ("x", "kill-pane"),
    ("z", "resize-pane -Z"),
    ("Up", "select-pane -U"),
    ("Down", "select-pane -D"),
    ("Left", "select-pane -L"),
    ("Right", "select-pane -R"),
];

/// The bindings a server starts with.
pub fn default_keys() -> std::collections::BTreeMap<(String, String), String> {
    DEFAULT_KEYS
        .iter()
        .map(|(k, cmd)| (("prefix".to_owned(), (*k).to_owned()), (*cmd).to_owned()))
        .collect()
}

/// The bindings of a server: (table, key) → command text. Defaults until changed.
fn bindings<'a>(
    ctx: &'a mut Ctx<'_>,
) -> Result<&'a mut std::collections::BTreeMap<(String, String), String>, String> {
    let server = ctx.server()?;
    Ok(server.keys.get_or_insert_with(default_keys))
}

fn bind_key(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let table = c
        .value('T')
        .unwrap_or(if c.has('n') { "root" } else { "prefix" })
        .to_owned();
    let key = c.arg(0).unwrap_or("").to_owned();
    let command = c.args[1..]
        .iter()
        .map(|a| super::super::escape::escape_arg(a))
        .collect::<Vec<_>>()
        .join(" ");
    bindings(ctx)?.insert((table, key), command);
    Ok(())
}

fn unbind_key(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let table = c
        .value('T')
        .unwrap_or(if c.has('n') { "root" } else { "prefix" })
        .to_owned();
    let keys = bindings(ctx)?;
    if c.has('a') {
        keys.retain(|(t, _), _| *t != table);
        return Ok(());
    }
    let key = c.arg(0).ok_or("missing key")?.to_owned();
    if keys.remove(&(table, key.clone())).is_none() && !c.has('q') {
        // tmux removes nothing quietly too; only an unknown key name is an error.
    }
    Ok(())
}

fn list_keys(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let table = c.value('T').map(str::to_owned);
    let only_key = c.arg(0).map(str::to_owned);
    let keys = bindings(ctx)?.clone();
    let rows: Vec<(&(String, String), &String)> = keys
        .iter()
        .filter(|((t, k), _)| {
            table.as_ref().is_none_or(|x| x == t) && only_key.as_ref().is_none_or(|x| x == k)
        })
        .collect();
    const TABLES: [&str; 4] = ["root", "prefix", "copy-mode", "copy-mode-vi"];
    if rows.is_empty()
        && let Some(t) = &table
        && !TABLES.contains(&t.as_str())
        && !keys.keys().any(|(tt, _)| tt == t)
    {
        return Err(format!("table {t} doesn't exist"));
    }
    let tw = rows.iter().map(|((t, _), _)| t.len()).max().unwrap_or(0);
    let kw = rows.iter().map(|((_, k), _)| k.len()).max().unwrap_or(0);
    let lines: Vec<String> = rows
        .iter()
        .map(|((t, k), cmd)| format!("bind-key    -T {t:<tw$} {k:<kw$} {cmd}"))
        .collect();
    for l in lines {
        ctx.print(&l);
    }
    Ok(())
}

/// `name (alias) [-switches] [-x value]…`, from the command table.
fn usage(s: &Spec) -> String {
    let mut switches = String::new();
    let mut valued = vec![];
    let mut chars = s.getopt.chars().peekable();
    while let Some(ch) = chars.next() {
        if chars.peek() == Some(&':') {
            chars.next();
            if chars.peek() == Some(&':') {
                chars.next();
            }
            valued.push(format!("[-{ch} value]"));
        } else {
            switches.push(ch);
        }
    }
    let mut out = s.name.to_owned();
    if !s.alias.is_empty() {
        out.push_str(&format!(" ({})", s.alias));
    }
    if !switches.is_empty() {
        out.push_str(&format!(" [-{switches}]"));
    }
    for v in valued {
        out.push(' ');
        out.push_str(&v);
    }
    out
}

fn list_commands(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let lines: Vec<String> = match c.arg(0) {
        Some(name) => {
            let s = super::super::cmd::lookup(name)?;
            vec![usage(s)]
        }
        None => SPECS.iter().map(usage).collect(),
    };
    for l in lines {
        ctx.print(&l);
    }
    Ok(())
}

/// Start `/bin/sh -c command` with its standard input a pipe (pipe-pane). The daemon's
/// reaper collects its exit; the caller never waits for it.
pub fn shell_with_stdin(command: &str, cwd: &str) -> std::io::Result<tokio::process::Child> {
    let dir = if std::path::Path::new(cwd).is_dir() {
        cwd
    } else {
        "/"
    };
    #[allow(clippy::disallowed_methods)]
    // reason: pipe-pane feeds a child's stdin (pty::run cannot); the reaper collects it and nothing awaits its status
    let child = tokio::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()?;
    Ok(child)
}
