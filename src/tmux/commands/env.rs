//! set-environment and show-environment: the server's global environment (which new panes
//! start from) and each session's, with tmux's hidden (`-h`) and removed (`-r`) variables
//! and its shell output (`-s`).

use super::super::cmd::Cmd;
use super::super::exec::{CmdResult, Ctx};
use super::super::tree::{Env, EnvVar};

pub async fn run(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    match c.name() {
        "set-environment" => set_environment(ctx, c),
        _ => show_environment(ctx, c),
    }
}

/// The environment `-g` or the target session names.
fn env_of<'a>(ctx: &'a mut Ctx<'_>, c: &Cmd) -> Result<&'a mut Env, String> {
    let session = ctx.target.and_then(|f| f.session);
    let missing = match c.value('t') {
        Some(t) => format!("no such session: {t}"),
        None => "no current session".to_owned(),
    };
    if c.has('t') && session.is_none() {
        return Err(missing);
    }
    let server = ctx.server()?;
    if c.has('g') {
        return Ok(&mut server.env);
    }
    let s = session.ok_or(missing)?;
    server
        .session_mut(s)
        .map(|s| &mut s.env)
        .ok_or_else(|| "no current session".to_owned())
}

fn set_environment(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let name = c.arg(0).unwrap_or("").to_owned();
    if name.is_empty() {
        return Err("empty variable name".into());
    }
    if name.contains('=') {
        return Err("variable name contains =".into());
    }
    let mut value = c.arg(1).map(str::to_owned);
    if c.has('F')
        && let Some(v) = &value
    {
        value = Some(ctx.expand_simple(v, ctx.target.and_then(|f| f.session)));
    }
    if c.has('u') && value.is_some() {
        return Err("can't specify a value with -u".into());
    }
    if c.has('r') && value.is_some() {
        return Err("can't specify a value with -r".into());
    }
    if !c.has('u') && !c.has('r') && value.is_none() {
        return Err("no value specified".into());
    }
    let env = env_of(ctx, c)?;
    if c.has('u') {
        env.remove(&name);
    } else {
        let hidden = c.has('h');
        env.insert(
            name,
            EnvVar {
                value: if c.has('r') { None } else { value },
                hidden,
            },
        );
    }
    Ok(())
}

fn show_environment(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let hidden = c.has('h');
    let shell = c.has('s');
    let name = c.arg(0).map(str::to_owned);
    let env = env_of(ctx, c)?;
    let line = |k: &str, v: &EnvVar| -> Option<String> {
        if v.hidden != hidden {
            return None;
        }
        Some(match (&v.value, shell) {
            (Some(val), false) => format!("{k}={val}"),
            (None, false) => format!("-{k}"),
            (Some(val), true) => {
                let mut e = String::new();
                for ch in val.chars() {
                    if matches!(ch, '$' | '`' | '"' | '\\') {
                        e.push('\\');
                    }
                    e.push(ch);
                }
                format!("{k}=\"{e}\"; export {k};")
            }
            (None, true) => format!("unset {k};"),
        })
    };
    let lines: Vec<String> = match &name {
        Some(n) => {
            let v = env.get(n).ok_or_else(|| format!("unknown variable: {n}"))?;
            line(n, v).into_iter().collect()
        }
        None => env.iter().filter_map(|(k, v)| line(k, v)).collect(),
    };
    for l in lines {
        ctx.print(&l);
    }
    Ok(())
}
