//! Two of tmux's text rules: how an argument is quoted when tmux prints a command
//! (`#{pane_start_command}`, `show-options`), and how a window is named after a command.

/// Quote one argument as tmux's args_escape: `''` for empty; double quotes (with `"`, `$`
/// and `\` escaped) if it holds any of `` #';${}%``; single quotes if it holds `"`; a lone
/// special character or a leading `~` gets a backslash; tabs, newlines and other control
/// characters are written C-style or in octal.
pub fn escape_arg(s: &str) -> String {
    if s.is_empty() {
        return "''".into();
    }
    let dquote = s.chars().any(|c| " #';${}%".contains(c));
    let squote = !dquote && s.chars().any(|c| " \"".contains(c));
    let mut chars = s.chars();
    if let (Some(c), None) = (chars.next(), chars.next())
        && c != ' '
        && (dquote || squote || c == '~')
    {
        return format!("\\{c}");
    }
    let mut body = String::with_capacity(s.len() + 2);
    let bytes = s.as_bytes();
    for (i, c) in s.char_indices() {
        match c {
            '\n' => body.push_str("\\n"),
            '\r' => body.push_str("\\r"),
            '\t' => body.push_str("\\t"),
            '\u{8}' => body.push_str("\\b"),
            '\u{7}' => body.push_str("\\a"),
            '\u{b}' => body.push_str("\\v"),
            '\u{c}' => body.push_str("\\f"),
            '\0' => {
                body.push_str("\\0");
                if bytes.get(i + 1).is_some_and(|b| (b'0'..=b'7').contains(b)) {
                    body.push_str("00");
                }
            }
            '\\' => body.push_str("\\\\"),
            '"' | '$' if dquote => {
                body.push('\\');
                body.push(c);
            }
            c if c.is_ascii_control() => {
                let b = c as u32;
                body.push_str(&format!("\\{:03o}", b));
            }
            c => body.push(c),
        }
    }
    let tilde = if body.starts_with('~') { "\\" } else { "" };
    if dquote {
        format!("\"{tilde}{body}\"")
    } else if squote {
        format!("'{body}'")
    } else {
        format!("{tilde}{body}")
    }
}

/// A window name as tmux stores it (window_set_name): backslashes doubled, tabs, newlines
/// and other control characters written C-style or in octal.
pub fn vis(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_ascii_control() => out.push_str(&format!("\\{:03o}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// A command line as tmux prints it: each argument escaped, joined by spaces.
pub fn stringify(argv: &[String]) -> String {
    argv.iter()
        .map(|a| escape_arg(a))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The name tmux gives a window running `command` (parse_window_name): without a leading
/// quote and what follows the next one, without `exec `, leading spaces and dashes, cut at
/// the first space, trailing non-printing characters dropped, and the basename of a path.
pub fn window_name(command: &str) -> String {
    let mut name = command.strip_prefix('"').unwrap_or(command);
    if let Some(q) = name.find('"') {
        name = &name[..q];
    }
    if let Some(rest) = name.strip_prefix("exec ") {
        name = rest;
    }
    name = name.trim_start_matches([' ', '-']);
    if let Some(sp) = name.find(' ') {
        name = &name[..sp];
    }
    let mut end = name.len();
    while end > 1 {
        let c = name.as_bytes()[end - 1];
        if c.is_ascii_alphanumeric() || c.is_ascii_punctuation() || c >= 0x80 {
            break;
        }
        end -= 1;
    }
    let name = &name[..end];
    if name.starts_with('/') {
        let base = name.rsplit('/').find(|p| !p.is_empty()).unwrap_or("/");
        return base.to_owned();
    }
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn quoting_matches_tmux() {
        // Recorded from tmux 3.3a's #{pane_start_command}.
        assert_eq!(
            stringify(&v(&["sleep 1000; echo \"$HOME\" ~ x"])),
            r#""sleep 1000; echo \"\$HOME\" ~ x""#
        );
        assert_eq!(
            stringify(&v(&[
                "sh",
                "-c",
                "sleep 1000",
                "it's",
                "a\"b",
                "~",
                "~x",
                "tab\tx",
                "é`!\\z",
                "a$b"
            ])),
            r#"sh -c "sleep 1000" "it's" 'a"b' \~ \~x tab\tx é`!\\z "a\$b""#
        );
        assert_eq!(
            stringify(&v(&["sh", "-c", "sleep 1000", "", "#", "x;y", "{", "a b"])),
            r#"sh -c "sleep 1000" '' \# "x;y" \{ "a b""#
        );
        assert_eq!(
            stringify(&v(&["a`b c", "x!y z", "q\"w e", "n\nl"])),
            r#""a`b c" "x!y z" "q\"w e" n\nl"#
        );
    }

    #[test]
    fn window_names_match_tmux() {
        assert_eq!(window_name("sleep 1000"), "sleep");
        assert_eq!(window_name("-bash"), "bash");
        assert_eq!(window_name("/usr/bin/top -d 1"), "top");
        assert_eq!(window_name("exec vim x"), "vim");
        assert_eq!(window_name("\"sleep 1m\""), "sleep");
    }
}
