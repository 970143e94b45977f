//! Paste buffers: set-buffer, show-buffer, save-buffer, load-buffer, list-buffers,
//! delete-buffer, paste-buffer, and choose-buffer (which, without buffers or a client to show
//! them to, does nothing, as in tmux).

use super::super::cmd::Cmd;
use super::super::exec::{CmdResult, Ctx};
use super::session::truthy;

const LSB_FORMAT: &str = "#{buffer_name}: #{buffer_size} bytes: \"#{buffer_sample}\"";

pub async fn run(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    match c.name() {
        "set-buffer" => set_buffer(ctx, c),
        "delete-buffer" => {
            let server = ctx.server()?;
            let name = c.value('b').filter(|b| server.buffers.get(b).is_some());
            if !server.buffers.delete(name) {
                return Err("no buffer".into());
            }
            Ok(())
        }
        "show-buffer" | "save-buffer" => save_buffer(ctx, c),
        "load-buffer" => load_buffer(ctx, c),
        "list-buffers" => list_buffers(ctx, c),
        "paste-buffer" => paste_buffer(ctx, c).await,
        "choose-buffer" => {
            let has_buffers = !ctx.server()?.buffers.list.is_empty();
            if has_buffers
                && let Some(p) = ctx.target.and_then(|f| f.pane)
                && let Some(pane) = ctx.server()?.pane_mut(p)
            {
                pane.mode = Some("buffer-mode");
            }
            Ok(())
        }
        other => Err(format!("{other}: not supported by the Aegis tmux stand-in")),
    }
}

fn limit(ctx: &mut Ctx<'_>) -> usize {
    ctx.server_ref()
        .and_then(|s| s.server_option("buffer-limit"))
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
}

fn set_buffer(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let name = c.value('b').map(str::to_owned);
    let limit = limit(ctx);
    let server = ctx.server()?;
    let existing = name.as_deref().filter(|n| server.buffers.get(n).is_some());
    if let Some(new) = c.value('n') {
        let from = match existing {
            Some(n) => Some(n.to_owned()),
            None => {
                let top = server.buffers.top().ok_or("no buffer")?;
                Some(top.name.clone())
            }
        };
        return server.buffers.rename(from.as_deref(), new);
    }
    let Some(data) = c.arg(0) else {
        return Err("no data specified".into());
    };
    if data.is_empty() {
        return Ok(());
    }
    let mut bytes = vec![];
    if c.has('a')
        && let Some(old) = existing.and_then(|n| server.buffers.get(n))
    {
        bytes.extend_from_slice(&old.data);
    }
    bytes.extend_from_slice(data.as_bytes());
    server
        .buffers
        .set(name.as_deref(), bytes, crate::clock::now_ms(), limit);
    Ok(())
}

fn save_buffer(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let in_control = ctx.client.is_some();
    let cwd = ctx.req.cwd.clone();
    let path = c.arg(0).map(|p| ctx.expand_simple(p, None));
    let server = ctx.server()?;
    let data = server
        .buffers
        .named_or_top(c.value('b'))?
        .ok_or("no buffers")?
        .data
        .clone();
    let path = if c.name() == "show-buffer" {
        if in_control {
            let shown = super::super::escape::escape_arg(&String::from_utf8_lossy(&data));
            ctx.print(shown.trim_matches('"'));
            return Ok(());
        }
        "-".to_owned()
    } else {
        path.unwrap_or_else(|| "-".into())
    };
    if path == "-" {
        ctx.out.push_str(&String::from_utf8_lossy(&data));
        return Ok(());
    }
    let full = if path.starts_with('/') {
        std::path::PathBuf::from(&path)
    } else {
        std::path::Path::new(&cwd).join(&path)
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).write(true);
    if c.has('a') {
        opts.append(true);
    } else {
        opts.truncate(true);
    }
    use std::io::Write;
    opts.open(&full)
        .and_then(|mut f| f.write_all(&data))
        .map_err(|e| format!("{path}: {}", errno_text(&e)))
}

fn errno_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    s.split(" (os error").next().unwrap_or(&s).to_owned()
}

fn load_buffer(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let path = c.arg(0).unwrap_or("").to_owned();
    let data = if path == "-" {
        ctx.req.stdin.clone().unwrap_or_default()
    } else {
        let full = std::path::Path::new(&ctx.req.cwd).join(&path);
        std::fs::read(&full).map_err(|e| format!("{path}: {}", errno_text(&e)))?
    };
    let limit = limit(ctx);
    let server = ctx.server()?;
    server
        .buffers
        .set(c.value('b'), data, crate::clock::now_ms(), limit);
    Ok(())
}

fn list_buffers(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let fmt = c.value('F').unwrap_or(LSB_FORMAT).to_owned();
    let filter = c.value('f').map(str::to_owned);
    let Some(server) = ctx.server_ref() else {
        return Ok(());
    };
    let facts = Default::default();
    let mut lines = vec![];
    for b in &server.buffers.list {
        let mut scope = super::super::vars::Scope::new(server, ctx.info, &facts, None, None, None);
        scope.buffer = Some(b);
        if let Some(f) = &filter
            && !truthy(&super::super::format::expand(f, &scope))
        {
            continue;
        }
        lines.push(super::super::format::expand(&fmt, &scope));
    }
    for l in lines {
        ctx.print(&l);
    }
    Ok(())
}

async fn paste_buffer(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let pane = ctx.tgt()?.pane.ok_or("no current pane")?;
    let server = ctx.server()?;
    // Nothing to paste is not an error, as in tmux.
    let Some(buffer) = server.buffers.named_or_top(c.value('b'))? else {
        return Ok(());
    };
    let data = buffer.data.clone();
    let p = server.pane(pane).ok_or("no current pane")?;
    let handle = p.handle.clone();
    let sep = c
        .value('s')
        .map(|s| s.as_bytes().to_vec())
        .unwrap_or_else(|| b"\r".to_vec());
    let mut body = Vec::with_capacity(data.len());
    if c.has('r') {
        body = data;
    } else {
        for (i, line) in data.split(|b| *b == b'\n').enumerate() {
            if i > 0 {
                body.extend_from_slice(&sep);
            }
            body.extend_from_slice(line);
        }
    }
    if c.has('p') && handle.live().bracketed_paste {
        let text = String::from_utf8_lossy(&body).into_owned();
        body = crate::session::input::bracketed(&text);
    }
    if !handle.is_exited() && !body.is_empty() && !p.input_off {
        handle.send_bytes(body).await.map_err(|e| e.to_string())?;
    }
    if c.has('d') {
        let server = ctx.server()?;
        let name = c.value('b');
        server.buffers.delete(name);
    }
    Ok(())
}
