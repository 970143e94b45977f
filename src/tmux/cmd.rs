//! Parsing tmux command lines: split at `;` (what a shell's `\;` passes), resolve command names
//! and aliases, and parse flags getopt-style with tmux's own flag strings, so an unknown flag
//! gets tmux's message and a known-but-unsupported one fails loudly instead of being ignored.

use std::collections::HashMap;

/// One tmux command the stand-in knows.
pub struct Spec {
    pub name: &'static str,
    pub alias: &'static str,
    /// tmux 3.3a's getopt string: a letter followed by `:` takes a value.
    pub getopt: &'static str,
    /// The flags the stand-in implements (a subset of `getopt`).
    pub supported: &'static str,
    pub min_args: usize,
    pub max_args: Option<usize>,
    /// Whether the command starts a server (tmux's CMD_STARTSERVER).
    pub starts_server: bool,
}

macro_rules! spec {
    ($name:literal, $alias:literal, $getopt:literal, $sup:literal, $min:literal, $max:expr, $start:literal) => {
        Spec {
            name: $name,
            alias: $alias,
            getopt: $getopt,
            supported: $sup,
            min_args: $min,
            max_args: $max,
            starts_server: $start,
        }
    };
}

/// The commands the stand-in implements.
pub const SPECS: &[Spec] = &[
    spec!(
        "new-session",
        "new",
        "Ac:dDe:EF:f:n:Ps:t:x:Xy:",
        "Ac:de:F:n:Ps:x:y:",
        0,
        None,
        true
    ),
    spec!("has-session", "has", "t:", "t:", 0, Some(0), false),
    spec!("list-sessions", "ls", "F:f:", "F:", 0, Some(0), false),
    spec!("list-windows", "lsw", "aF:f:t:", "aF:t:", 0, Some(0), false),
    spec!("list-panes", "lsp", "asF:f:t:", "asF:t:", 0, Some(0), false),
    spec!("kill-session", "", "aCt:", "at:", 0, Some(0), false),
    spec!("kill-server", "", "", "", 0, Some(0), false),
    spec!("start-server", "start", "", "", 0, Some(0), true),
    spec!(
        "send-keys",
        "send",
        "c:FHKlMN:Rt:X",
        "HlN:t:",
        0,
        None,
        false
    ),
    spec!(
        "capture-pane",
        "capturep",
        "ab:CeE:JNpPqS:t:",
        "ab:eE:JNpqS:t:",
        0,
        Some(0),
        false
    ),
    spec!(
        "display-message",
        "display",
        "aCc:d:INpt:F:v",
        "pt:F:",
        0,
        Some(1),
        false
    ),
    spec!(
        "attach-session",
        "attach",
        "c:dEf:rt:x",
        "rt:",
        0,
        Some(0),
        false
    ),
    spec!(
        "resize-window",
        "resizew",
        "aADLRt:Ux:y:",
        "At:x:y:",
        0,
        Some(1),
        false
    ),
    spec!(
        "set-option",
        "set",
        "aFgopqst:uUw",
        "aFgopqst:uUw",
        1,
        Some(2),
        false
    ),
    spec!(
        "set-window-option",
        "setw",
        "aFgoqt:u",
        "aFgoqt:u",
        1,
        Some(2),
        false
    ),
    spec!(
        "set-environment",
        "setenv",
        "Fhgrt:u",
        "Fhgrt:u",
        1,
        Some(2),
        false
    ),
    spec!(
        "show-environment",
        "showenv",
        "hgst:",
        "hgt:",
        0,
        Some(1),
        false
    ),
    spec!("load-buffer", "loadb", "b:t:w", "b:t:", 1, Some(1), false),
    spec!(
        "paste-buffer",
        "pasteb",
        "db:prs:t:",
        "db:prs:t:",
        0,
        Some(0),
        false
    ),
    spec!("delete-buffer", "deleteb", "b:", "b:", 0, Some(0), false),
    spec!(
        "respawn-pane",
        "respawnp",
        "c:e:kt:",
        "c:e:kt:",
        0,
        None,
        false
    ),
];

/// tmux commands that exist but the stand-in does not implement; they fail with a clear
/// message rather than "unknown command".
const KNOWN_UNSUPPORTED: &[&str] = &[
    "bind-key",
    "break-pane",
    "choose-buffer",
    "choose-client",
    "choose-tree",
    "clear-history",
    "clock-mode",
    "command-prompt",
    "confirm-before",
    "copy-mode",
    "customize-mode",
    "detach-client",
    "display-menu",
    "display-panes",
    "display-popup",
    "find-window",
    "if-shell",
    "join-pane",
    "kill-pane",
    "kill-window",
    "last-pane",
    "last-window",
    "link-window",
    "list-buffers",
    "list-clients",
    "list-commands",
    "list-keys",
    "lock-client",
    "lock-server",
    "lock-session",
    "move-pane",
    "move-window",
    "new-window",
    "next-layout",
    "next-window",
    "pipe-pane",
    "previous-layout",
    "previous-window",
    "refresh-client",
    "rename-session",
    "rename-window",
    "resize-pane",
    "respawn-window",
    "rotate-window",
    "run-shell",
    "save-buffer",
    "select-layout",
    "select-pane",
    "select-window",
    "send-prefix",
    "server-access",
    "set-buffer",
    "set-hook",
    "show-buffer",
    "show-hooks",
    "show-messages",
    "show-options",
    "show-window-options",
    "source-file",
    "split-window",
    "suspend-client",
    "swap-pane",
    "swap-window",
    "switch-client",
    "unbind-key",
    "unlink-window",
    "wait-for",
];

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

/// Resolve a command name as tmux does: exact name or alias, then a unique prefix.
pub fn lookup(name: &str) -> Result<&'static Spec, String> {
    if let Some(s) = SPECS.iter().find(|s| s.name == name || s.alias == name) {
        return Ok(s);
    }
    if KNOWN_UNSUPPORTED.contains(&name) {
        return Err(unsupported_command(name));
    }
    let matches: Vec<&Spec> = SPECS.iter().filter(|s| s.name.starts_with(name)).collect();
    let others = KNOWN_UNSUPPORTED
        .iter()
        .filter(|n| n.starts_with(name))
        .count();
    match (matches.as_slice(), others) {
        ([one], 0) => Ok(one),
        ([], 1) => Err(unsupported_command(name)),
        ([], 0) => Err(format!("unknown command: {name}")),
        _ => Err(format!("ambiguous command: {name}")),
    }
}

fn unsupported_command(name: &str) -> String {
    format!("{name}: not supported by the Aegis tmux stand-in (see `aegis tmux` in the README)")
}

/// Parse one command line.
pub fn parse(line: &[String]) -> Result<Cmd, String> {
    let Some((name, rest)) = line.split_first() else {
        return Err("no command".into());
    };
    let spec = lookup(name)?;
    let takes_value = |c: char| -> Option<bool> {
        let i = spec.getopt.find(c)?;
        Some(spec.getopt[i + c.len_utf8()..].starts_with(':'))
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
            let Some(valued) = takes_value(c).filter(|_| c != ':') else {
                return Err(format!("command {}: unknown flag -{c}", spec.name));
            };
            if !spec.supported.contains(c) {
                return Err(format!(
                    "command {}: flag -{c} is not supported by the Aegis tmux stand-in",
                    spec.name
                ));
            }
            if valued {
                let inline = &a[1 + pos + c.len_utf8()..];
                let value = if !inline.is_empty() {
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
        assert!(parse(&v(&["split-window"])).is_err());
        assert!(
            parse(&v(&["new-session", "-D"]))
                .err()
                .is_some_and(|e| e.contains("not supported"))
        );
        assert_eq!(lookup("capture").map(|s| s.name), Ok("capture-pane"));
    }
}
