//! tmux `-F` formats: `#{variable}`, `#{?cond,then,else}`, `#{==:a,b}` / `#{!=:a,b}`,
//! `#{t:variable}` (a timestamp as ctime), `#{=N:variable}` (truncate), the short aliases
//! (`#S`, `#I`, `#P`, `#D`, `#W`, `#T`, `#H`), and `##`. An unknown variable expands to nothing,
//! as in tmux.

/// Expand `fmt`, looking variables up with `var`.
pub fn expand(fmt: &str, var: &dyn Fn(&str) -> Option<String>) -> String {
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
            '{' => match matching_brace(rest) {
                Some(end) => {
                    out.push_str(&expand_inner(&rest[1..end], var));
                    rest = &rest[end + 1..];
                }
                None => {
                    out.push('#');
                }
            },
            '#' => {
                out.push('#');
                rest = &rest[1..];
            }
            ',' => {
                out.push(',');
                rest = &rest[1..];
            }
            _ => {
                let name = match c {
                    'S' => Some("session_name"),
                    'I' => Some("window_index"),
                    'P' => Some("pane_index"),
                    'D' => Some("pane_id"),
                    'W' => Some("window_name"),
                    'T' => Some("pane_title"),
                    'H' => Some("host"),
                    'h' => Some("host_short"),
                    'F' => Some("window_flags"),
                    _ => None,
                };
                match name {
                    Some(n) => {
                        out.push_str(&var(n).unwrap_or_default());
                        rest = &rest[c.len_utf8()..];
                    }
                    None => out.push('#'),
                }
            }
        }
    }
    out.push_str(rest);
    out
}

/// Index of the `}` closing the `{` at `s[0]`.
fn matching_brace(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Split at top-level commas (not inside nested `#{…}`).
fn split_top(s: &str) -> Vec<&str> {
    let mut parts = vec![];
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn truthy(s: &str) -> bool {
    !s.is_empty() && s != "0"
}

/// Value of an operand: a nested format if it has `#`, else a variable name.
fn operand(s: &str, var: &dyn Fn(&str) -> Option<String>) -> String {
    if s.contains('#') {
        expand(s, var)
    } else {
        var(s).unwrap_or_default()
    }
}

fn expand_inner(body: &str, var: &dyn Fn(&str) -> Option<String>) -> String {
    if let Some(cond) = body.strip_prefix('?') {
        let parts = split_top(cond);
        let test = parts.first().map(|p| operand(p, var)).unwrap_or_default();
        let pick = if truthy(&test) { 1 } else { 2 };
        return parts.get(pick).map(|p| expand(p, var)).unwrap_or_default();
    }
    for (op, want) in [("==:", true), ("!=:", false)] {
        if let Some(args) = body.strip_prefix(op) {
            let parts = split_top(args);
            let a = parts.first().map(|p| expand(p, var)).unwrap_or_default();
            let b = parts.get(1).map(|p| expand(p, var)).unwrap_or_default();
            return if (a == b) == want { "1" } else { "0" }.to_owned();
        }
    }
    if let Some(name) = body.strip_prefix("t:") {
        return operand(name, var)
            .parse::<i64>()
            .ok()
            .map(ctime)
            .unwrap_or_default();
    }
    if let Some(spec) = body.strip_prefix('=')
        && let Some((n, name)) = spec.split_once(':')
        && let Ok(n) = n.parse::<i64>()
    {
        let v = operand(name, var);
        let len = v.chars().count();
        let keep = usize::try_from(n.unsigned_abs()).unwrap_or(usize::MAX);
        return if n >= 0 {
            v.chars().take(keep).collect()
        } else {
            v.chars().skip(len.saturating_sub(keep)).collect()
        };
    }
    var(body).unwrap_or_default()
}

/// `ctime(3)` without the newline, in UTC: `Sun Nov 22 23:14:26 2026`.
fn ctime(secs: i64) -> String {
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
            _ => None,
        }
    }

    #[test]
    fn expands_tmux_formats() {
        assert_eq!(expand("#{session_name}|#S|##", &vars), "work|work|#");
        assert_eq!(expand("#{?pane_dead,dead,alive}", &vars), "alive");
        assert_eq!(
            expand("#{?session_attached,(attached),}", &vars),
            "(attached)"
        );
        assert_eq!(expand("#{==:#{session_name},work}", &vars), "1");
        assert_eq!(expand("#{=2:session_name}", &vars), "wo");
        assert_eq!(expand("#{nope}x", &vars), "x");
        assert_eq!(
            expand("#{t:session_created}", &vars),
            "Thu Jan  1 00:00:00 1970"
        );
    }
}
