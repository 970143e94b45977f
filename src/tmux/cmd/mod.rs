//! Parsing tmux command lines: split at `;` (what a shell's `\;` passes), resolve command names
//! and aliases (exact, then a unique prefix), and parse flags getopt-style with tmux 3.3a's own
//! flag strings, so an unknown flag gets tmux's message and a known flag the stand-in cannot
//! honour fails loudly instead of being ignored. The table also says which target (`-t`) and
//! source (`-s`) each command resolves before it runs, as tmux's command entries do.

mod table;

use std::collections::HashMap;

pub use table::SPECS;

/// What a target names, which decides where lookup starts and the error wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Session,
    Window,
    Pane,
}

/// The target may name a free window index (new-window -t s:5).
pub const WINDOW_INDEX: u8 = 1;
/// A missing target is no error; the command gets no target.
pub const CANFAIL: u8 = 2;
/// Without the flag, the marked pane (select-pane -m) is the default.
pub const DEFAULT_MARKED: u8 = 4;

/// A target or source a command resolves before it runs.
#[derive(Debug, Clone, Copy)]
pub struct Find {
    pub flag: char,
    pub kind: Kind,
    pub flags: u8,
}

pub(super) const fn find(flag: char, kind: Kind, flags: u8) -> Find {
    Find { flag, kind, flags }
}

/// One tmux command.
pub struct Spec {
    pub name: &'static str,
    pub alias: &'static str,
    /// tmux 3.3a's getopt string: a letter followed by `:` takes a value (`::` an optional one).
    pub getopt: &'static str,
    pub min_args: usize,
    pub max_args: Option<usize>,
    /// Whether the command starts a server (tmux's CMD_STARTSERVER).
    pub starts_server: bool,
    pub target: Option<Find>,
    pub source: Option<Find>,
}

#[allow(clippy::too_many_arguments)] // reason: a table row, every field distinct
pub(super) const fn spec(
    name: &'static str,
    alias: &'static str,
    getopt: &'static str,
    min_args: usize,
    max_args: Option<usize>,
    starts_server: bool,
    target: Option<Find>,
    source: Option<Find>,
) -> Spec {
    Spec {
        name,
        alias,
        getopt,
        min_args,
        max_args,
        starts_server,
        target,
        source,
    }
}

/// Flags the stand-in does not implement, per command; they fail with a clear message.
const UNSUPPORTED: &[(&str, &str)] = &[
    ("new-session", "DXt"),
    ("attach-session", "cEfx"),
    ("switch-client", "ET"),
    ("send-keys", "MX"),
    ("refresh-client", "ABcCDfFlLRSU"),
    ("pipe-pane", "IO"),
    ("run-shell", "d"),
];

/// Commands the stand-in knows but does not run (they need a terminal client, which the
/// stand-in does not draw to); they fail with a clear message.
const NOT_RUN: &[&str] = &["command-prompt", "confirm-before", "display-menu"];

/// Commands that act on a client, the flag naming it, and whether a missing client is fine
/// (tmux's CMD_CLIENT_TFLAG / CMD_CLIENT_CFLAG / CMD_CLIENT_CANFAIL).
const CLIENT_FLAGS: &[(&str, char, bool)] = &[
    ("command-prompt", 't', false),
    ("confirm-before", 't', false),
    ("detach-client", 't', false),
    ("suspend-client", 't', false),
    ("display-menu", 'c', false),
    ("display-popup", 'c', false),
    ("display-message", 'c', true),
    ("display-panes", 't', false),
    ("load-buffer", 't', true),
    ("lock-client", 't', false),
    ("refresh-client", 't', false),
    ("server-access", ' ', true),
    ("set-buffer", 't', true),
    ("show-messages", 't', false),
    ("switch-client", 'c', false),
];

/// The client flag of a command and whether the client may be missing.
pub fn client_flag(name: &str) -> Option<(char, bool)> {
    CLIENT_FLAGS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, f, canfail)| (*f, *canfail))
}

/// A parsed command: its spec, flags (repeatable ones keep every value) and arguments.
pub struct Cmd {
    pub spec: &'static Spec,
    pub flags: HashMap<char, Vec<String>>,
    pub args: Vec<String>,
}

impl Cmd {
    pub fn has(&self, f: char) -> bool {
        self.flags.contains_key(&f)
    }

    /// The last value of a flag.
    pub fn value(&self, f: char) -> Option<&str> {
        self.flags
            .get(&f)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    pub fn values(&self, f: char) -> &[String] {
        self.flags.get(&f).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn arg(&self, i: usize) -> Option<&str> {
        self.args.get(i).map(String::as_str)
    }

    pub fn name(&self) -> &'static str {
        self.spec.name
    }
}

/// Split argv into command lines at `;` arguments.
pub fn split(argv: &[String]) -> Vec<Vec<String>> {
    let mut out = vec![vec![]];
    for a in argv {
        if a == ";" {
            out.push(vec![]);
        } else if let Some(stripped) = a.strip_suffix(';').filter(|s| !s.ends_with('\\')) {
            // tmux: an argument ending in an unescaped `;` also ends the command.
            if let Some(cur) = out.last_mut() {
                cur.push(stripped.to_owned());
            }
            out.push(vec![]);
        } else if let Some(cur) = out.last_mut() {
            cur.push(a.replace("\\;", ";"));
        }
    }
    out.retain(|c| !c.is_empty());
    out
}

/// Resolve a command name as tmux does: exact name or alias, then a unique prefix. Aliases
/// from the `command-alias` option are resolved by the caller first.
pub fn lookup(name: &str) -> Result<&'static Spec, String> {
    if let Some(s) = SPECS.iter().find(|s| s.name == name || s.alias == name) {
        return Ok(s);
    }
    let matches: Vec<&Spec> = SPECS.iter().filter(|s| s.name.starts_with(name)).collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => Err(format!("unknown command: {name}")),
        _ => Err(format!("ambiguous command: {name}, could be: {}", {
            let mut names: Vec<&str> = matches.iter().map(|s| s.name).collect();
            names.sort_unstable();
            names.join(", ")
        })),
    }
}

/// Parse one command line.
pub fn parse(line: &[String]) -> Result<Cmd, String> {
    let Some((name, rest)) = line.split_first() else {
        return Err("no command".into());
    };
    let spec = lookup(name)?;
    if NOT_RUN.contains(&spec.name) {
        return Err(format!(
            "{}: not supported by the Aegis tmux stand-in (it needs an interactive client)",
            spec.name
        ));
    }
    let unsupported = UNSUPPORTED
        .iter()
        .find(|(n, _)| *n == spec.name)
        .map_or("", |(_, f)| f);
    // 0: a switch, 1: takes a value, 2: takes an optional value (inline only).
    let takes = |c: char| -> Option<u8> {
        let i = spec.getopt.find(c)?;
        let after = &spec.getopt[i + c.len_utf8()..];
        Some(if after.starts_with("::") {
            2
        } else if after.starts_with(':') {
            1
        } else {
            0
        })
    };
    let mut flags: HashMap<char, Vec<String>> = HashMap::new();
    let mut i = 0;
    while i < rest.len() {
        let a = &rest[i];
        if a == "--" {
            i += 1;
            break;
        }
        if !a.starts_with('-') || a == "-" {
            break;
        }
        for (pos, c) in a[1..].char_indices() {
            let Some(valued) = takes(c).filter(|_| c != ':') else {
                return Err(format!("command {}: unknown flag -{c}", spec.name));
            };
            if unsupported.contains(c) {
                return Err(format!(
                    "command {}: flag -{c} is not supported by the Aegis tmux stand-in",
                    spec.name
                ));
            }
            if valued > 0 {
                let inline = &a[1 + pos + c.len_utf8()..];
                let value = if !inline.is_empty() || valued == 2 {
                    inline.to_owned()
                } else {
                    i += 1;
                    rest.get(i)
                        .cloned()
                        .ok_or_else(|| format!("command {}: -{c} expects an argument", spec.name))?
                };
                flags.entry(c).or_default().push(value);
                break;
            }
            flags.entry(c).or_default().push(String::new());
        }
        i += 1;
    }
    let args = rest[i.min(rest.len())..].to_vec();
    if args.len() < spec.min_args {
        return Err(format!(
            "command {}: too few arguments (need at least {})",
            spec.name, spec.min_args
        ));
    }
    if let Some(max) = spec.max_args
        && args.len() > max
    {
        return Err(format!(
            "command {}: too many arguments (need at most {max})",
            spec.name
        ));
    }
    Ok(Cmd { spec, flags, args })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn chains_and_flags() {
        let lines = split(&v(&[
            "new", "-d", "-s", "a", "sleep 9", ";", "set", "-g", "mouse", "on",
        ]));
        assert_eq!(lines.len(), 2);
        let c = parse(&lines[0]).expect("parse");
        assert_eq!(c.spec.name, "new-session");
        assert!(c.has('d'));
        assert_eq!(c.value('s'), Some("a"));
        assert_eq!(c.args, v(&["sleep 9"]));
        let c = parse(&v(&["send-keys", "-t=x", "-l", "--", "-n"])).expect("parse");
        assert_eq!(c.value('t'), Some("=x"));
        assert_eq!(c.args, v(&["-n"]));
    }

    #[test]
    fn errors_match_tmux() {
        assert_eq!(
            parse(&v(&["new-session", "-Q"])).err().as_deref(),
            Some("command new-session: unknown flag -Q")
        );
        assert_eq!(
            parse(&v(&["bogus"])).err().as_deref(),
            Some("unknown command: bogus")
        );
        assert!(
            parse(&v(&["new-session", "-D"]))
                .err()
                .is_some_and(|e| e.contains("not supported"))
        );
        assert_eq!(lookup("capture").map(|s| s.name), Ok("capture-pane"));
        assert_eq!(lookup("splitw").map(|s| s.name), Ok("split-window"));
        assert!(lookup("show").is_ok());
    }
}
