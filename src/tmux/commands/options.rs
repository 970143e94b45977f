//! set-option, set-window-option, show-options, show-window-options, set-hook and
//! show-hooks, with tmux's rules for which object an option lives on (its scope, or the
//! flags for `@user` options), inheritance (`-A` shows inherited values marked `*`), arrays
//! (`name[N]`), and its messages (`invalid option`, `ambiguous option`, `no such session`…).

use super::super::cmd::Cmd;
use super::super::escape::escape_arg;
use super::super::exec::{CmdResult, Ctx};
use super::super::options::{self, Kind, OptMap, OptValue, Scope};
use super::super::options_table::{OPTIONS, Opt};
use super::super::tree::Server;

pub async fn run(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    match c.name() {
        "set-option" | "set-window-option" | "set-hook" => set_option(ctx, c),
        _ => show_options(ctx, c),
    }
}

/// Where an option value is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Store {
    Server,
    GlobalSession,
    GlobalWindow,
    Session(u32),
    Window(u32),
    Pane(u32),
}

impl Store {
    fn scope(self) -> Scope {
        match self {
            Store::Server => Scope::Server,
            Store::GlobalSession | Store::Session(_) => Scope::Session,
            Store::GlobalWindow | Store::Window(_) => Scope::Window,
            Store::Pane(_) => Scope::Pane,
        }
    }

    fn global(self) -> bool {
        matches!(
            self,
            Store::Server | Store::GlobalSession | Store::GlobalWindow
        )
    }

    fn map(self, server: &mut Server) -> Option<&mut OptMap> {
        Some(match self {
            Store::Server => &mut server.options.server,
            Store::GlobalSession => &mut server.options.session,
            Store::GlobalWindow => &mut server.options.window,
            Store::Session(s) => &mut server.session_mut(s)?.options,
            Store::Window(w) => &mut server.window_mut(w)?.options,
            Store::Pane(p) => &mut server.pane_mut(p)?.options,
        })
    }

    /// The stores a value is inherited from, nearest first.
    fn parents(self, server: &Server) -> Vec<Store> {
        match self {
            Store::Pane(p) => {
                let w = server.pane(p).map(|p| p.window);
                w.map(Store::Window)
                    .into_iter()
                    .chain([Store::GlobalWindow])
                    .collect()
            }
            Store::Window(_) => vec![Store::GlobalWindow],
            Store::Session(_) => vec![Store::GlobalSession],
            _ => vec![],
        }
    }

    fn get(self, server: &Server, name: &str) -> Option<OptValue> {
        let map = match self {
            Store::Server => &server.options.server,
            Store::GlobalSession => &server.options.session,
            Store::GlobalWindow => &server.options.window,
            Store::Session(s) => &server.session(s)?.options,
            Store::Window(w) => &server.window(w)?.options,
            Store::Pane(p) => &server.pane(p)?.options,
        };
        map.get(name).cloned()
    }
}

/// The store the flags name (options_scope_from_flags), for `@user` options and listings.
fn store_from_flags(ctx: &Ctx<'_>, c: &Cmd, window_cmd: bool) -> Result<Store, String> {
    let f = ctx.target.unwrap_or_default();
    let target = c.value('t');
    let missing = |what: &str| match target {
        Some(t) => format!("no such {what}: {t}"),
        None => format!("no current {what}"),
    };
    if c.has('s') {
        return Ok(Store::Server);
    }
    if c.has('p') {
        return f.pane.map(Store::Pane).ok_or_else(|| missing("pane"));
    }
    if window_cmd || c.has('w') {
        if c.has('g') {
            return Ok(Store::GlobalWindow);
        }
        return f.window.map(Store::Window).ok_or_else(|| missing("window"));
    }
    if c.has('g') {
        return Ok(Store::GlobalSession);
    }
    f.session
        .map(Store::Session)
        .ok_or_else(|| missing("session"))
}

/// The store of a named option (options_scope_from_name).
fn store_from_name(ctx: &Ctx<'_>, c: &Cmd, window_cmd: bool, name: &str) -> Result<Store, String> {
    if name.starts_with('@') {
        return store_from_flags(ctx, c, window_cmd);
    }
    let o = options::find(name).ok_or_else(|| format!("unknown option: {name}"))?;
    let f = ctx.target.unwrap_or_default();
    let target = c.value('t');
    let missing = |what: &str| match target {
        Some(t) => format!("no such {what}: {t}"),
        None => format!("no current {what}"),
    };
    match o.scope {
        Scope::Server => Ok(Store::Server),
        Scope::Session if c.has('g') => Ok(Store::GlobalSession),
        Scope::Session => f
            .session
            .map(Store::Session)
            .ok_or_else(|| missing("session")),
        Scope::Pane if c.has('p') => f.pane.map(Store::Pane).ok_or_else(|| missing("pane")),
        Scope::Window | Scope::Pane if c.has('g') => Ok(Store::GlobalWindow),
        Scope::Window | Scope::Pane => f.window.map(Store::Window).ok_or_else(|| missing("window")),
    }
}

fn is_window_cmd(c: &Cmd) -> bool {
    matches!(c.name(), "set-window-option" | "show-window-options")
}

fn set_option(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let window_cmd = is_window_cmd(c);
    let raw = c.arg(0).unwrap_or("");
    let argument = ctx.expand_simple(raw, ctx.target.and_then(|f| f.session));
    let m = match options::match_name(&argument) {
        Ok(m) => m,
        Err(_) if c.has('q') => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut value = c.arg(1).map(str::to_owned);
    if c.has('F')
        && let Some(v) = &value
    {
        value = Some(ctx.expand_simple(v, ctx.target.and_then(|f| f.session)));
    }
    let store = match store_from_name(ctx, c, window_cmd, &m.name) {
        Ok(s) => s,
        Err(_) if c.has('q') => return Ok(()),
        Err(e) => return Err(e),
    };
    let entry = options::find(&m.name);
    let is_array = entry.is_some_and(|o| matches!(o.kind, Kind::Array(_) | Kind::Hook));
    if m.index.is_some() && !is_array {
        return Err(format!("not an array: {argument}"));
    }
    let target = ctx.target;
    let server = ctx.server()?;
    let current = store.get(server, &m.name);
    if !c.has('u') && c.has('o') {
        let already = match (&current, m.index) {
            (Some(_), None) => true,
            (Some(OptValue::Array(a)), Some(i)) => a.contains_key(&i),
            _ => false,
        };
        if already {
            return if c.has('q') {
                Ok(())
            } else {
                Err(format!("already set: {argument}"))
            };
        }
    }
    if c.has('U')
        && store.scope() == Scope::Window
        && let Some(f) = target
        && let Some(w) = f.window
    {
        let panes = server
            .window(w)
            .map(|w| w.panes.clone())
            .unwrap_or_default();
        for p in panes {
            if let Some(pane) = server.pane_mut(p) {
                pane.options.remove(&m.name);
            }
        }
    }
    if c.has('u') || c.has('U') {
        if current.is_none() {
            return Ok(());
        }
        match (m.index, entry) {
            (Some(i), _) => {
                if let Some(OptValue::Array(a)) =
                    store.map(server).and_then(|mp| mp.0.get_mut(&m.name))
                {
                    a.remove(&i);
                }
            }
            (None, Some(o)) if store.global() => server.options.reset(o),
            _ => {
                if let Some(map) = store.map(server) {
                    map.remove(&m.name);
                }
            }
        }
        server.changed();
        return Ok(());
    }
    let new = if m.name.starts_with('@') {
        let Some(v) = value else {
            return Err("empty value".into());
        };
        match (c.has('a'), current) {
            (true, Some(OptValue::Single(old))) => OptValue::Single(old + &v),
            _ => OptValue::Single(v),
        }
    } else if let Some(o) = entry.filter(|_| !is_array) {
        let inherited = effective(server, store, &m.name);
        let mut parsed = options::parse_value(o, value.as_deref(), inherited.as_deref())?;
        if c.has('a')
            && matches!(o.kind, Kind::Str)
            && let Some(OptValue::Single(old)) = &current
        {
            parsed = format!("{old}{parsed}");
        }
        OptValue::Single(parsed)
    } else {
        let o = entry.ok_or_else(|| format!("invalid option: {argument}"))?;
        let Some(v) = value else {
            return Err("empty value".into());
        };
        let mut items = match current {
            Some(OptValue::Array(a)) => a,
            _ => Default::default(),
        };
        match m.index {
            Some(i) => {
                let v = options::parse_value(o, Some(&v), None)?;
                let joined = match (c.has('a'), items.get(&i)) {
                    (true, Some(old)) => format!("{old}{v}"),
                    _ => v,
                };
                items.insert(i, joined);
            }
            None => {
                if !c.has('a') {
                    items.clear();
                }
                let first = items.keys().next_back().map_or(0, |k| k + 1);
                let parts = v.split([' ', ',']).filter(|p| !p.is_empty());
                for (at, part) in (first..).zip(parts) {
                    items.insert(at, options::parse_value(o, Some(part), None)?);
                }
            }
        }
        OptValue::Array(items)
    };
    let map = store.map(server).ok_or("no such target")?;
    map.set(&m.name, new);
    server.changed();
    Ok(())
}

/// The value in force for a store: its own, else its parents'.
fn effective(server: &Server, store: Store, name: &str) -> Option<String> {
    std::iter::once(store)
        .chain(store.parents(server))
        .find_map(|s| match s.get(server, name)? {
            OptValue::Single(v) => Some(v),
            OptValue::Array(a) => a.values().next().cloned(),
        })
}

fn show_options(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let window_cmd = is_window_cmd(c);
    let hooks = c.name() == "show-hooks";
    let Some(raw) = c.arg(0) else {
        let store = match store_from_flags(ctx, c, window_cmd) {
            Ok(s) => s,
            Err(_) if c.has('q') => return Ok(()),
            Err(e) => return Err(e),
        };
        let lines = {
            let server = ctx.server()?;
            all_lines(server, store, c, hooks)
        };
        for l in lines {
            ctx.print(&l);
        }
        return Ok(());
    };
    let argument = ctx.expand_simple(raw, ctx.target.and_then(|f| f.session));
    let m = match options::match_name(&argument) {
        Ok(m) => m,
        Err(_) if c.has('q') => return Ok(()),
        Err(e) => return Err(e),
    };
    let store = match store_from_name(ctx, c, window_cmd, &m.name) {
        Ok(s) => s,
        Err(_) if c.has('q') => return Ok(()),
        Err(e) => return Err(e),
    };
    let server = ctx.server()?;
    let mut value = store.get(server, &m.name);
    let mut parent = false;
    if value.is_none() && c.has('A') {
        value = store
            .parents(server)
            .into_iter()
            .find_map(|s| s.get(server, &m.name));
        parent = value.is_some();
    }
    let lines = match value {
        Some(v) => print_lines(
            options::find(&m.name),
            &m.name,
            &v,
            m.index,
            parent,
            c.has('v'),
        ),
        None if m.name.starts_with('@') => {
            return if c.has('q') {
                Ok(())
            } else {
                Err(format!("invalid option: {argument}"))
            };
        }
        None => vec![],
    };
    for l in lines {
        ctx.print(&l);
    }
    Ok(())
}

/// Every option set on `store` (with `-A`, inherited ones too), user options first, then
/// tmux's table order.
fn all_lines(server: &Server, store: Store, c: &Cmd, hooks: bool) -> Vec<String> {
    let mut out = vec![];
    let own = |name: &str| store.get(server, name);
    if !hooks
        && let Some(map) = match store {
            Store::Server => Some(&server.options.server),
            Store::GlobalSession => Some(&server.options.session),
            Store::GlobalWindow => Some(&server.options.window),
            Store::Session(s) => server.session(s).map(|s| &s.options),
            Store::Window(w) => server.window(w).map(|w| &w.options),
            Store::Pane(p) => server.pane(p).map(|p| &p.options),
        }
    {
        for (name, v) in &map.0 {
            if name.starts_with('@') {
                out.extend(print_lines(None, name, v, None, false, c.has('v')));
            }
        }
    }
    let scope = store.scope();
    for o in OPTIONS {
        let in_scope = match (scope, o.scope) {
            (Scope::Window, Scope::Window | Scope::Pane) => true,
            (Scope::Pane, Scope::Pane) => true,
            (a, b) => a == b,
        };
        let is_hook = matches!(o.kind, Kind::Hook);
        if !in_scope || (is_hook && !hooks && !c.has('H')) || (hooks && !is_hook) {
            continue;
        }
        let (value, parent) = match own(o.name) {
            Some(v) => (Some(v), false),
            None if c.has('A') => (
                store
                    .parents(server)
                    .into_iter()
                    .find_map(|s| s.get(server, o.name)),
                true,
            ),
            None => (None, false),
        };
        if let Some(v) = value {
            out.extend(print_lines(Some(o), o.name, &v, None, parent, c.has('v')));
        }
    }
    out
}

/// How show-options prints one option (cmd_show_options_print).
fn print_lines(
    entry: Option<&Opt>,
    name: &str,
    value: &OptValue,
    index: Option<u32>,
    parent: bool,
    only_value: bool,
) -> Vec<String> {
    let star = if parent { "*" } else { "" };
    let stringy =
        entry.is_none_or(|o| matches!(o.kind, Kind::Str | Kind::Array(Kind::Str) | Kind::Hook));
    let line = |label: &str, v: &str| {
        if only_value {
            v.to_owned()
        } else if stringy {
            format!("{label}{star} {}", escape_arg(v))
        } else {
            format!("{label}{star} {v}")
        }
    };
    match value {
        OptValue::Single(v) => vec![line(name, v)],
        OptValue::Array(items) => match index {
            Some(i) => items
                .get(&i)
                .map(|v| vec![line(&format!("{name}[{i}]"), v)])
                .unwrap_or_default(),
            None if items.is_empty() => {
                if only_value {
                    vec![]
                } else {
                    vec![format!("{name}{star}")]
                }
            }
            None => items
                .iter()
                .map(|(i, v)| line(&format!("{name}[{i}]"), v))
                .collect(),
        },
    }
}
