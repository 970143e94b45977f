//! tmux formats: `#{variable}`, `#{?cond,then,else}`, the comparison and logic operators
//! (`==:`, `!=:`, `<:`, `>:`, `<=:`, `>=:`, `||:`, `&&:`), `m:` (fnmatch, `m/r:` regex, `/i`
//! ignoring case), `s/re/with/:`, `=N:`/`=/N/marker:` (truncate), `p N:` (pad), `n:`, `w:`,
//! `l:` (literal), `b:`/`d:` (basename, dirname), `q:` (shell quoting), `t:` (a time as
//! ctime), `E:`/`T:` (expand twice), `S:`/`W:`/`P:` (loop over sessions, windows, panes),
//! `e|op|:` (arithmetic), the one-letter aliases (`#S #I #P #D #W #T #H #h #F`), and `##`,
//! `#,`, `#}`. An unknown variable expands to nothing, as in tmux; `#(…)` (shell) expands to
//! nothing too. Which variables exist is the caller's [`Context`].

/// Where a format's variables come from.
pub trait Context {
    /// A variable or option's value.
    fn lookup(&self, name: &str) -> Option<String>;
    /// The contexts a loop runs over (`'S'`, `'W'`, `'P'`), each with whether it is the
    /// current one (the loop's second format applies to it).
    fn children(&self, _kind: char) -> Vec<(Box<dyn Context + '_>, bool)> {
        vec![]
    }
}

impl<F: Fn(&str) -> Option<String>> Context for F {
    fn lookup(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// Expand `fmt` with the variables of `ctx`.
pub fn expand(fmt: &str, ctx: &dyn Context) -> String {
    expand_depth(fmt, ctx, 0)
}

/// Nesting limit, as tmux's (a format expanding itself must not recurse forever).
const MAX_DEPTH: usize = 10;

fn alias(c: char) -> Option<&'static str> {
    Some(match c {
        'D' => "pane_id",
        'F' => "window_flags",
        'H' => "host",
        'I' => "window_index",
        'P' => "pane_index",
        'S' => "session_name",
        'T' => "pane_title",
        'W' => "window_name",
        'h' => "host_short",
        _ => return None,
    })
}

fn expand_depth(fmt: &str, ctx: &dyn Context, depth: usize) -> String {
    if depth > MAX_DEPTH {
        return String::new();
    }
    let mut out = String::new();
    let mut rest = fmt;
    while let Some(pos) = rest.find('#') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos + 1..];
        let Some(c) = rest.chars().next() else {
            out.push('#');
            break;
        };
        match c {
            '{' => {
                // `skip` wants the text from the `#`.
                let from_hash = &fmt[fmt.len() - rest.len() - 1..];
                match skip(from_hash, "}") {
                    Some(end) => {
                        out.push_str(&replace(&from_hash[2..end], ctx, depth));
                        rest = &from_hash[end + 1..];
                    }
                    None => out.push('#'),
                }
            }
            '(' => {
                // Shell commands in formats are not run (no output, as tmux before a job
                // finishes).
                match rest.find(')') {
                    Some(end) => rest = &rest[end + 1..],
                    None => out.push('#'),
                }
            }
            '#' => {
                let hashes = rest.chars().take_while(|&c| c == '#').count();
                if rest[hashes..].starts_with('[') {
                    // `##[` stays a style for whoever draws it.
                    out.push_str(&"#".repeat(hashes + 1));
                    out.push('[');
                    rest = &rest[hashes + 1..];
                } else {
                    out.push('#');
                    rest = &rest[1..];
                }
            }
            '}' | ',' => {
                out.push(c);
                rest = &rest[1..];
            }
            '[' => {
                out.push_str("#[");
                rest = &rest[1..];
            }
            _ => match alias(c) {
                Some(name) => {
                    out.push_str(&ctx.lookup(name).unwrap_or_default());
                    rest = &rest[c.len_utf8()..];
                }
                None => out.push('#'),
            },
        }
    }
    out.push_str(rest);
    out
}

/// The index of the first of `end`'s characters outside nested `#{…}` (tmux's
/// format_skip; called on text starting at `#{` it finds the matching `}`).
fn skip(s: &str, end: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut brackets: i32 = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'#' && b.get(i + 1) == Some(&b'{') {
            brackets += 1;
        }
        if b[i] == b'#' && b.get(i + 1).is_some_and(|c| b",#{}:".contains(c)) {
            i += 2;
            continue;
        }
        if b[i] == b'}' {
            brackets -= 1;
        }
        if end.as_bytes().contains(&b[i]) && brackets == 0 {
            return Some(i);
        }
        i += 1;
    }
    None
}

#[derive(Debug)]
struct Modifier {
    name: String,
    args: Vec<String>,
}

/// Parse `mods:` at the start of `key`; `None` when `key` has no modifier list.
fn modifiers<'k>(
    key: &'k str,
    ctx: &dyn Context,
    depth: usize,
) -> Option<(Vec<Modifier>, &'k str)> {
    let b = key.as_bytes();
    let mut i = 0;
    let mut list = vec![];
    let is_end = |c: Option<&u8>| matches!(c, Some(b';' | b':'));
    while i < b.len() && b[i] != b':' {
        if b[i] == b';' {
            i += 1;
        }
        let c = *b.get(i)?;
        if b"labcdnwETSWP<>".contains(&c) && is_end(b.get(i + 1)) {
            list.push(Modifier {
                name: (c as char).to_string(),
                args: vec![],
            });
            i += 1;
            continue;
        }
        if let Some(two) = key.get(i..i + 2)
            && ["||", "&&", "!=", "==", "<=", ">="].contains(&two)
            && is_end(b.get(i + 2))
        {
            list.push(Modifier {
                name: two.to_owned(),
                args: vec![],
            });
            i += 2;
            continue;
        }
        if !b"mCNst=peq".contains(&c) {
            return None;
        }
        let name = (c as char).to_string();
        if is_end(b.get(i + 1)) {
            list.push(Modifier { name, args: vec![] });
            i += 1;
            continue;
        }
        let next = *b.get(i + 1)?;
        if !next.is_ascii_punctuation() || next == b'-' {
            let end = i + 1 + skip(&key[i + 1..], ":;")?;
            list.push(Modifier {
                name,
                args: vec![expand_depth(&key[i + 1..end], ctx, depth + 1)],
            });
            i = end;
            continue;
        }
        // Arguments wrapped in a punctuation character: `s/a/b/`, `=/5/…/`, `e|+|`.
        let sep = next;
        let mut args = vec![];
        i += 1;
        loop {
            if b.get(i) == Some(&sep) && is_end(b.get(i + 1)) {
                i += 1;
                break;
            }
            let ends = [sep as char, ';', ':'].iter().collect::<String>();
            let Some(rel) = skip(&key[i + 1..], &ends) else {
                break;
            };
            let end = i + 1 + rel;
            args.push(expand_depth(&key[i + 1..end], ctx, depth + 1));
            i = end;
            if is_end(b.get(i)) {
                break;
            }
        }
        list.push(Modifier { name, args });
    }
    if b.get(i) != Some(&b':') {
        return None;
    }
    Some((list, &key[i + 1..]))
}

fn truthy(s: &str) -> bool {
    !s.is_empty() && s != "0"
}

fn bool_str(b: bool) -> String {
    if b { "1" } else { "0" }.to_owned()
}

/// Expand one `#{…}`.
fn replace(key: &str, ctx: &dyn Context, depth: usize) -> String {
    let (mods, body) = modifiers(key, ctx, depth).unwrap_or((vec![], key));
    let has = |n: &str| mods.iter().any(|m| m.name == n);
    let find = |n: &str| mods.iter().find(|m| m.name == n);
    if has("l") {
        return body.to_owned();
    }
    let cmp = mods
        .iter()
        .find(|m| ["m", "<", ">", "||", "&&", "==", "!=", "<=", ">="].contains(&m.name.as_str()));
    let mut value = if let Some(kind) = ["S", "W", "P"].iter().find(|k| has(k)) {
        let (each, current) = match skip(body, ",") {
            Some(i) => (&body[..i], &body[i + 1..]),
            None => (body, body),
        };
        let kind = kind.chars().next().unwrap_or('S');
        ctx.children(kind)
            .into_iter()
            .map(|(child, is_current)| {
                expand_depth(if is_current { current } else { each }, &*child, depth + 1)
            })
            .collect()
    } else if let Some(cmp) = cmp {
        let Some(i) = skip(body, ",") else {
            return String::new();
        };
        let left = expand_depth(&body[..i], ctx, depth + 1);
        let right = expand_depth(&body[i + 1..], ctx, depth + 1);
        match cmp.name.as_str() {
            "||" => bool_str(truthy(&left) || truthy(&right)),
            "&&" => bool_str(truthy(&left) && truthy(&right)),
            "==" => bool_str(left == right),
            "!=" => bool_str(left != right),
            "<" => bool_str(left < right),
            ">" => bool_str(left > right),
            "<=" => bool_str(left <= right),
            ">=" => bool_str(left >= right),
            _ => bool_str(matches(
                cmp.args.first().map_or("", String::as_str),
                &left,
                &right,
            )),
        }
    } else if let Some(cond) = body.strip_prefix('?') {
        let Some(i) = skip(cond, ",") else {
            return String::new();
        };
        let test = &cond[..i];
        let found = ctx.lookup(test).unwrap_or_else(|| {
            let e = expand_depth(test, ctx, depth + 1);
            if e == test { String::new() } else { e }
        });
        let rest = &cond[i + 1..];
        let (yes, no) = match skip(rest, ",") {
            Some(j) => (&rest[..j], &rest[j + 1..]),
            None => (rest, ""),
        };
        expand_depth(if truthy(&found) { yes } else { no }, ctx, depth + 1)
    } else if let Some(e) = find("e") {
        arithmetic(e, body, ctx, depth).unwrap_or_default()
    } else if body.contains("#{") {
        expand_depth(body, ctx, depth + 1)
    } else {
        let v = ctx.lookup(body).unwrap_or_default();
        if has("t") {
            v.parse::<i64>().ok().map(ctime).unwrap_or_default()
        } else {
            v
        }
    };
    if has("b") {
        value = std::path::Path::new(&value)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or(value);
    }
    if has("d") {
        value = std::path::Path::new(&value)
            .parent()
            .map(|p| p.display().to_string())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| ".".into());
    }
    if let Some(q) = find("q") {
        value = if q.args.is_empty() {
            quote_shell(&value)
        } else {
            value.replace('#', "##")
        };
    }
    if has("E") || has("T") {
        value = expand_depth(&value, ctx, depth + 1);
    }
    for m in mods.iter().filter(|m| m.name == "s" && m.args.len() >= 2) {
        let icase = m.args.get(2).is_some_and(|f| f.contains('i'));
        if let Ok(re) = regex::RegexBuilder::new(&m.args[0])
            .case_insensitive(icase)
            .build()
        {
            let with = m.args[1].replace("\\", "$");
            value = re.replace_all(&value, with.as_str()).into_owned();
        }
    }
    if let Some(m) = find("=") {
        let limit: i64 = m.args.first().and_then(|a| a.parse().ok()).unwrap_or(0);
        let marker = m.args.get(1);
        let len = value.chars().count();
        let keep = usize::try_from(limit.unsigned_abs()).unwrap_or(usize::MAX);
        if limit != 0 && len > keep {
            let cut: String = if limit > 0 {
                value.chars().take(keep).collect()
            } else {
                value.chars().skip(len - keep).collect()
            };
            value = match (marker, limit > 0) {
                (Some(mk), true) => format!("{cut}{mk}"),
                (Some(mk), false) => format!("{mk}{cut}"),
                (None, _) => cut,
            };
        }
    }
    if let Some(m) = find("p") {
        let width: i64 = m.args.first().and_then(|a| a.parse().ok()).unwrap_or(0);
        let w = usize::try_from(width.unsigned_abs()).unwrap_or(0);
        let len = value.chars().count();
        if len < w {
            let pad = " ".repeat(w - len);
            value = if width > 0 {
                format!("{value}{pad}")
            } else {
                format!("{pad}{value}")
            };
        }
    }
    if has("n") {
        value = value.len().to_string();
    }
    if has("w") {
        value = value.chars().count().to_string();
    }
    value
}

/// `#{e|op|[f|][digits|]:a,b}`.
fn arithmetic(m: &Modifier, body: &str, ctx: &dyn Context, depth: usize) -> Option<String> {
    let op = m.args.first()?.as_str();
    let float = m.args.get(1).is_some_and(|f| f == "f");
    let prec: usize = m
        .args
        .get(if float { 2 } else { 1 })
        .and_then(|p| p.parse().ok())
        .unwrap_or(if float { 2 } else { 0 });
    let i = skip(body, ",")?;
    let a: f64 = expand_depth(&body[..i], ctx, depth + 1)
        .trim()
        .parse()
        .ok()?;
    let b: f64 = expand_depth(&body[i + 1..], ctx, depth + 1)
        .trim()
        .parse()
        .ok()?;
    let (a, b) = if float {
        (a, b)
    } else {
        (a.trunc(), b.trunc())
    };
    let v = match op {
        "+" => a + b,
        "-" => a - b,
        "*" => a * b,
        "/" if b != 0.0 => a / b,
        "%" | "m" if b != 0.0 => a % b,
        "==" => f64::from(u8::from(a == b)),
        "!=" => f64::from(u8::from(a != b)),
        "<" => f64::from(u8::from(a < b)),
        ">" => f64::from(u8::from(a > b)),
        "<=" => f64::from(u8::from(a <= b)),
        ">=" => f64::from(u8::from(a >= b)),
        _ => return None,
    };
    Some(if float {
        format!("{v:.prec$}")
    } else {
        format!("{}", v.trunc())
    })
}

/// `m:` — an fnmatch pattern, or with `r` a regular expression; `i` ignores case.
fn matches(flags: &str, pattern: &str, text: &str) -> bool {
    let icase = flags.contains('i');
    if flags.contains('r') {
        regex::RegexBuilder::new(pattern)
            .case_insensitive(icase)
            .build()
            .is_ok_and(|re| re.is_match(text))
    } else if icase {
        fnmatch(&pattern.to_lowercase(), &text.to_lowercase())
    } else {
        fnmatch(pattern, text)
    }
}

/// fnmatch(3) without flags: `*`, `?`, `[…]` (with `!`/`^` and ranges), `\` escapes.
pub fn fnmatch(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    fn go(p: &[char], t: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('*') => (0..=t.len()).any(|i| go(&p[1..], &t[i..])),
            Some('?') => !t.is_empty() && go(&p[1..], &t[1..]),
            Some('[') => {
                let Some(&c) = t.first() else {
                    return false;
                };
                let mut i = 1;
                let negate = matches!(p.get(1), Some('!' | '^'));
                if negate {
                    i += 1;
                }
                let mut hit = false;
                let mut first = true;
                while i < p.len() && (p[i] != ']' || first) {
                    first = false;
                    if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&e| e != ']') {
                        if p[i] <= c && c <= p[i + 2] {
                            hit = true;
                        }
                        i += 3;
                    } else {
                        hit |= p[i] == c;
                        i += 1;
                    }
                }
                if i >= p.len() {
                    // No closing bracket: a literal `[`.
                    return c == '[' && go(&p[1..], &t[1..]);
                }
                hit != negate && go(&p[i + 1..], &t[1..])
            }
            Some('\\') if p.len() > 1 => t.first() == Some(&p[1]) && go(&p[2..], &t[1..]),
            Some(&c) => t.first() == Some(&c) && go(&p[1..], &t[1..]),
        }
    }
    go(&p, &t)
}

/// `q:` — backslash before the characters a shell treats specially.
fn quote_shell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "|&;<>()$`\\\"'*?[# =%".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `ctime(3)` without the newline, in UTC.
pub fn ctime(secs: i64) -> String {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(secs) else {
        return String::new();
    };
    let day = t.weekday().to_string();
    let month = t.month().to_string();
    format!(
        "{} {} {:>2} {:02}:{:02}:{:02} {}",
        &day[..3.min(day.len())],
        &month[..3.min(month.len())],
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.year()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "session_name" => Some("work".into()),
            "pane_dead" => Some("0".into()),
            "session_attached" => Some("2".into()),
            "session_created" => Some("0".into()),
            "buffer_name" => Some("gap6match_1".into()),
            "pane_current_path" => Some("/a/b/c".into()),
            _ => None,
        }
    }

    #[test]
    fn expands_tmux_formats() {
        assert_eq!(expand("#{session_name}|#S|##", &vars), "work|work|#");
        assert_eq!(expand("#{?pane_dead,dead,alive}", &vars), "alive");
        assert_eq!(expand("#{?session_attached,1,0}", &vars), "1");
        assert_eq!(expand("#{==:#{session_name},work}", &vars), "1");
        assert_eq!(expand("#{=2:session_name}", &vars), "wo");
        assert_eq!(expand("#{=/2/…:session_name}", &vars), "wo…");
        assert_eq!(expand("#{nope}x", &vars), "x");
        assert_eq!(expand("#{m:gap6match_*,#{buffer_name}}", &vars), "1");
        assert_eq!(expand("#{m:other*,#{buffer_name}}", &vars), "0");
        assert_eq!(expand("#{b:pane_current_path}", &vars), "c");
        assert_eq!(expand("#{d:pane_current_path}", &vars), "/a/b");
        assert_eq!(expand("#{s/o/0/:session_name}", &vars), "w0rk");
        assert_eq!(expand("#{e|+|:1,2}", &vars), "3");
        assert_eq!(expand("#{||:0,#{session_attached}}", &vars), "1");
        assert_eq!(expand("#{n:session_name}", &vars), "4");
        assert_eq!(expand("#{p6:session_name}|", &vars), "work  |");
        assert_eq!(expand("#{l:#{session_name}}", &vars), "#{session_name}");
        assert_eq!(expand("a#,b#[fg=red]", &vars), "a,b#[fg=red]");
    }

    #[test]
    fn fnmatch_like_libc() {
        assert!(fnmatch("a*c", "abbbc"));
        assert!(fnmatch("a?c", "abc"));
        assert!(fnmatch("[a-c]x", "bx"));
        assert!(!fnmatch("[!a-c]x", "bx"));
        assert!(!fnmatch("a*d", "abc"));
    }
}
