//! Option values as a tmux server keeps them: global maps for the server, session and window
//! (+pane) scopes, filled with the defaults of [`super::options_table`], and per-object maps
//! that override them. Values are kept as the text `show-options -v` prints; setting one
//! checks it by its type (numbers in range, flags, choices), as tmux does, with its messages.

use std::collections::BTreeMap;

use super::options_table::{ALIASES, OPTIONS, Opt};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Server,
    Session,
    Window,
    /// Window options that panes may override.
    Pane,
}

#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Str,
    Number(i64, i64),
    Flag,
    Choice(&'static [&'static str]),
    Colour,
    Key,
    Array(&'static Kind),
    Hook,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptValue {
    Single(String),
    Array(BTreeMap<u32, String>),
}

/// Options set on one object (or the global defaults of a scope).
#[derive(Debug, Clone, Default)]
pub struct OptMap(pub BTreeMap<String, OptValue>);

impl OptMap {
    pub fn get(&self, name: &str) -> Option<&OptValue> {
        self.0.get(name)
    }

    /// A single value (the first element of an array).
    pub fn get_single(&self, name: &str) -> Option<String> {
        match self.0.get(name)? {
            OptValue::Single(s) => Some(s.clone()),
            OptValue::Array(a) => a.values().next().cloned(),
        }
    }

    pub fn set(&mut self, name: &str, value: OptValue) {
        self.0.insert(name.to_owned(), value);
    }

    pub fn remove(&mut self, name: &str) -> Option<OptValue> {
        self.0.remove(name)
    }
}

/// The three global maps of a server.
#[derive(Debug, Clone)]
pub struct Globals {
    pub server: OptMap,
    pub session: OptMap,
    pub window: OptMap,
}

impl Default for Globals {
    fn default() -> Self {
        let mut g = Globals {
            server: OptMap::default(),
            session: OptMap::default(),
            window: OptMap::default(),
        };
        for o in OPTIONS {
            if matches!(o.kind, Kind::Hook) {
                continue;
            }
            let map = match o.scope {
                Scope::Server => &mut g.server,
                Scope::Session => &mut g.session,
                Scope::Window | Scope::Pane => &mut g.window,
            };
            map.set(o.name, default_value(o));
        }
        g
    }
}

impl Globals {
    /// Put back an option's default (`set-option -gu`).
    pub fn reset(&mut self, o: &Opt) {
        let map = match o.scope {
            Scope::Server => &mut self.server,
            Scope::Session => &mut self.session,
            Scope::Window | Scope::Pane => &mut self.window,
        };
        map.set(o.name, default_value(o));
    }
}

/// An option's default value.
pub fn default_value(o: &Opt) -> OptValue {
    match o.kind {
        Kind::Array(_) | Kind::Hook => OptValue::Array(
            o.default
                .iter()
                .enumerate()
                .map(|(i, v)| (u32::try_from(i).unwrap_or(u32::MAX), (*v).to_owned()))
                .collect(),
        ),
        _ => OptValue::Single(o.default.first().copied().unwrap_or("").to_owned()),
    }
}

/// The table entry of an exact option name.
pub fn find(name: &str) -> Option<&'static Opt> {
    OPTIONS.iter().find(|o| o.name == name)
}

/// An option name as a user wrote it: `name`, `name[N]`, a unique prefix, an old spelling,
/// or `@user`. tmux: `invalid option: X`, `ambiguous option: X`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    pub name: String,
    pub index: Option<u32>,
}

pub fn match_name(text: &str) -> Result<Matched, String> {
    let (base, index) = match text.find('[') {
        None => (text, None),
        Some(open) => {
            let inner = text[open + 1..]
                .strip_suffix(']')
                .filter(|i| !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()));
            let idx = inner
                .and_then(|i| i.parse::<u32>().ok())
                .ok_or_else(|| format!("invalid option: {text}"))?;
            (&text[..open], Some(idx))
        }
    };
    if base.is_empty() {
        return Err(format!("invalid option: {text}"));
    }
    if base.starts_with('@') {
        return Ok(Matched {
            name: base.to_owned(),
            index,
        });
    }
    let base = ALIASES
        .iter()
        .find(|(from, _)| *from == base)
        .map_or(base, |(_, to)| to);
    if let Some(o) = find(base) {
        return Ok(Matched {
            name: o.name.to_owned(),
            index,
        });
    }
    let mut found: Option<&Opt> = None;
    for o in OPTIONS {
        if o.name.starts_with(base) {
            if found.is_some() {
                return Err(format!("ambiguous option: {text}"));
            }
            found = Some(o);
        }
    }
    found
        .map(|o| Matched {
            name: o.name.to_owned(),
            index,
        })
        .ok_or_else(|| format!("invalid option: {text}"))
}

/// Check and normalise a value for option `o` (options_from_string). `current` is the value
/// in force, used to toggle a flag or choice given without a value.
pub fn parse_value(o: &Opt, value: Option<&str>, current: Option<&str>) -> Result<String, String> {
    let kind = match o.kind {
        Kind::Array(k) => *k,
        k => k,
    };
    match kind {
        Kind::Flag => match value {
            None | Some("") => Ok(if current == Some("on") { "off" } else { "on" }.into()),
            Some(v)
                if v == "1" || v.eq_ignore_ascii_case("on") || v.eq_ignore_ascii_case("yes") =>
            {
                Ok("on".into())
            }
            Some(v)
                if v == "0" || v.eq_ignore_ascii_case("off") || v.eq_ignore_ascii_case("no") =>
            {
                Ok("off".into())
            }
            Some(v) => Err(format!("bad value: {v}")),
        },
        Kind::Choice(choices) => match value {
            None => {
                let at = choices
                    .iter()
                    .position(|c| Some(*c) == current)
                    .unwrap_or(0);
                Ok(if at < 2 { choices[1 - at] } else { choices[at] }.to_owned())
            }
            Some(v) if choices.contains(&v) => Ok(v.to_owned()),
            Some(v) => Err(format!("unknown value: {v}")),
        },
        _ => {
            let Some(v) = value else {
                return Err("empty value".into());
            };
            match kind {
                Kind::Number(min, max) => match v.parse::<i64>() {
                    Ok(n) if n < min => Err(format!("value is too small: {v}")),
                    Ok(n) if n > max => Err(format!("value is too large: {v}")),
                    Ok(n) => Ok(n.to_string()),
                    Err(_) => Err(format!("value is invalid: {v}")),
                },
                Kind::Colour if !valid_colour(v) => Err(format!("bad colour: {v}")),
                _ => {
                    if o.name == "default-shell" && !valid_shell(v) {
                        return Err(format!("not a suitable shell: {v}"));
                    }
                    Ok(v.to_owned())
                }
            }
        }
    }
}

fn valid_shell(v: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    v.starts_with('/')
        && std::fs::metadata(v).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The shell a new server starts with, chosen as tmux does: the client's `$SHELL` when it is
/// an executable absolute path (and not tmux itself), else the user's shell from the password
/// database, else `/bin/sh`. Without `$SHELL` (cron, CI, a service manager) the password
/// database decides, which matters: bash started with `-c` drops `PS1`, `sh` keeps it.
pub fn shell_for_client(client_shell: Option<&str>) -> String {
    let usable = |s: &str| {
        valid_shell(s)
            && std::path::Path::new(s)
                .file_name()
                .is_none_or(|n| n != "tmux")
    };
    if let Some(s) = client_shell.filter(|s| usable(s)) {
        return s.to_owned();
    }
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.shell.to_string_lossy().into_owned())
        .filter(|s| usable(s))
        .unwrap_or_else(|| "/bin/sh".into())
}

/// The colour names, numbers and `#rrggbb` forms tmux accepts.
fn valid_colour(v: &str) -> bool {
    const NAMES: &[&str] = &[
        "default",
        "terminal",
        "none",
        "black",
        "red",
        "green",
        "yellow",
        "blue",
        "magenta",
        "cyan",
        "white",
        "brightblack",
        "brightred",
        "brightgreen",
        "brightyellow",
        "brightblue",
        "brightmagenta",
        "brightcyan",
        "brightwhite",
    ];
    let l = v.to_ascii_lowercase();
    NAMES.contains(&l.as_str())
        || l.strip_prefix("colour")
            .or_else(|| l.strip_prefix("color"))
            .is_some_and(|n| n.parse::<u8>().is_ok())
        || l.strip_prefix('#')
            .is_some_and(|h| h.len() == 6 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        || l.parse::<u8>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_like_tmux() {
        assert_eq!(
            match_name("base-index").map(|m| m.name),
            Ok("base-index".into())
        );
        assert_eq!(
            match_name("base-ind").map(|m| m.name),
            Ok("base-index".into())
        );
        assert_eq!(
            match_name("default-").err().as_deref(),
            Some("ambiguous option: default-")
        );
        assert_eq!(
            match_name("clock-mode").err().as_deref(),
            Some("ambiguous option: clock-mode")
        );
        assert_eq!(
            match_name("afewewfew").err().as_deref(),
            Some("invalid option: afewewfew")
        );
        assert_eq!(
            match_name("status-format[1]"),
            Ok(Matched {
                name: "status-format".into(),
                index: Some(1)
            })
        );
        assert_eq!(match_name("@x").map(|m| m.name), Ok("@x".into()));
        assert_eq!(
            match_name("clock-mode-color").map(|m| m.name),
            Ok("clock-mode-colour".into())
        );
    }

    #[test]
    fn values_are_checked_by_type() {
        let flag = find("mouse").expect("mouse");
        assert_eq!(parse_value(flag, Some("yes"), None), Ok("on".into()));
        assert_eq!(parse_value(flag, None, Some("on")), Ok("off".into()));
        assert!(parse_value(flag, Some("maybe"), None).is_err());
        let n = find("base-index").expect("base-index");
        assert_eq!(parse_value(n, Some("3"), None), Ok("3".into()));
        assert_eq!(
            parse_value(n, Some("x"), None).err().as_deref(),
            Some("value is invalid: x")
        );
        let choice = find("remain-on-exit").expect("remain-on-exit");
        assert_eq!(parse_value(choice, None, Some("off")), Ok("on".into()));
        assert!(parse_value(choice, Some("bogus"), None).is_err());
    }
}
