//! tmux's configuration language, for config files (`~/.tmux.conf`, `-f`), `source-file`,
//! `if-shell` branches and `command-alias` values: one command per line (or several separated
//! by `;`), `#` comments, `\` continuing a line, single quotes (literal), double quotes (with
//! `\` escapes and `$VAR`), `~` for HOME, and `{ … }` blocks passed as one argument. Which
//! files a new server reads is [`config_files`].

use crate::attach::proto::TmuxRequest;

/// The config files a server starting for `req` reads: `-f` files if given, else
/// `/etc/tmux.conf`, `~/.tmux.conf`, `$XDG_CONFIG_HOME/tmux/tmux.conf` and
/// `~/.config/tmux/tmux.conf` (missing ones are skipped), with the client's HOME.
pub fn config_files(req: &TmuxRequest) -> Vec<String> {
    if let Some(files) = &req.config_files {
        return files
            .iter()
            .map(|f| {
                if f.starts_with('/') {
                    f.clone()
                } else {
                    format!("{}/{f}", req.cwd)
                }
            })
            .collect();
    }
    let var = |k: &str| {
        req.env
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let mut out = vec!["/etc/tmux.conf".to_owned()];
    if let Some(home) = var("HOME") {
        out.push(format!("{home}/.tmux.conf"));
    }
    if let Some(xdg) = var("XDG_CONFIG_HOME") {
        out.push(format!("{xdg}/tmux/tmux.conf"));
    }
    if let Some(home) = var("HOME") {
        out.push(format!("{home}/.config/tmux/tmux.conf"));
    }
    out
}

/// Split one command string into arguments (`;` stays an argument of its own).
pub fn tokenize(s: &str) -> Result<Vec<String>, String> {
    let mut p = Parser {
        chars: s.chars().collect(),
        pos: 0,
        line: 1,
        home: std::env::var("HOME").ok(),
    };
    let mut all = vec![];
    while let Some(cmd) = p.command()? {
        if !all.is_empty() && !cmd.is_empty() {
            all.push(";".to_owned());
        }
        all.extend(cmd);
    }
    Ok(all)
}

/// Parse a whole file: each command with the line it starts on.
pub fn parse_text(text: &str) -> Result<Vec<(usize, Vec<String>)>, String> {
    let mut p = Parser {
        chars: text.chars().collect(),
        pos: 0,
        line: 1,
        home: std::env::var("HOME").ok(),
    };
    let mut out = vec![];
    loop {
        let line = p.line;
        match p.command()? {
            Some(cmd) if !cmd.is_empty() => {
                if cmd[0].starts_with('%') {
                    // %if / %hidden and friends: not supported, skipped as tmux skips
                    // unknown directives only with an error.
                    return Err(format!(
                        "{line}: {} is not supported by the Aegis tmux stand-in",
                        cmd[0]
                    ));
                }
                out.push((line, cmd));
            }
            Some(_) => {}
            None => break,
        }
    }
    Ok(out)
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    line: usize,
    home: Option<String>,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    /// One command (up to a newline or `;`); `None` at the end of the text.
    fn command(&mut self) -> Result<Option<Vec<String>>, String> {
        let mut args = vec![];
        loop {
            // Blanks and continuations.
            while let Some(c) = self.peek() {
                if c == ' ' || c == '\t' || c == '\r' {
                    self.bump();
                } else if c == '\\' && self.chars.get(self.pos + 1) == Some(&'\n') {
                    self.bump();
                    self.bump();
                } else {
                    break;
                }
            }
            match self.peek() {
                None => return Ok((!args.is_empty()).then_some(args)),
                Some('\n') => {
                    self.bump();
                    return Ok(Some(args));
                }
                Some('#') => {
                    while let Some(c) = self.peek() {
                        if c == '\n' {
                            break;
                        }
                        self.bump();
                    }
                }
                Some(';') => {
                    self.bump();
                    return Ok(Some(args));
                }
                Some(_) => {
                    let word = self.word()?;
                    // `\;` written as an argument ends the command too, as in a shell.
                    if word == ";" {
                        return Ok(Some(args));
                    }
                    args.push(word);
                }
            }
        }
    }

    /// One argument.
    fn word(&mut self) -> Result<String, String> {
        let mut w = String::new();
        if self.peek() == Some('{') && self.is_block_start() {
            return self.block();
        }
        if self.peek() == Some('~') {
            let next = self.chars.get(self.pos + 1).copied();
            if matches!(next, None | Some('/' | ' ' | '\t' | '\n' | ';')) {
                self.bump();
                w.push_str(self.home.as_deref().unwrap_or("~"));
            }
        }
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\r' | '\n' => break,
                ';' if !w.is_empty() => break,
                ';' => {
                    self.bump();
                    return Ok(";".into());
                }
                '\'' => {
                    self.bump();
                    loop {
                        match self.bump() {
                            None => return Err(format!("{}: unterminated quote", self.line)),
                            Some('\'') => break,
                            Some(c) => w.push(c),
                        }
                    }
                }
                '"' => {
                    self.bump();
                    loop {
                        match self.bump() {
                            None => return Err(format!("{}: unterminated quote", self.line)),
                            Some('"') => break,
                            Some('\\') => w.push_str(&self.escape()),
                            Some('$') => w.push_str(&self.variable()),
                            Some(c) => w.push(c),
                        }
                    }
                }
                '\\' => {
                    self.bump();
                    if self.peek() == Some('\n') {
                        self.bump();
                        continue;
                    }
                    w.push_str(&self.escape());
                }
                '$' => {
                    self.bump();
                    w.push_str(&self.variable());
                }
                c => {
                    self.bump();
                    w.push(c);
                }
            }
        }
        Ok(w)
    }

    fn escape(&mut self) -> String {
        match self.bump() {
            Some('n') => "\n".into(),
            Some('t') => "\t".into(),
            Some('r') => "\r".into(),
            Some('e') => "\x1b".into(),
            Some(c) => c.to_string(),
            None => "\\".into(),
        }
    }

    fn variable(&mut self) -> String {
        let braced = self.peek() == Some('{');
        if braced {
            self.bump();
        }
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                name.push(c);
                self.bump();
            } else {
                break;
            }
        }
        if braced && self.peek() == Some('}') {
            self.bump();
        }
        if name.is_empty() {
            return "$".into();
        }
        std::env::var(&name).unwrap_or_default()
    }

    /// A `{` opening a block: followed by a newline or blank.
    fn is_block_start(&self) -> bool {
        matches!(self.chars.get(self.pos + 1), None | Some(' ' | '\t' | '\n'))
    }

    /// `{ … }` as one argument: the commands inside, rejoined with `;`.
    fn block(&mut self) -> Result<String, String> {
        self.bump();
        let mut depth = 1;
        let start = self.pos;
        let mut in_single = false;
        let mut in_double = false;
        while let Some(c) = self.bump() {
            match c {
                '\'' if !in_double => in_single = !in_single,
                '"' if !in_single => in_double = !in_double,
                '{' if !in_single && !in_double => depth += 1,
                '}' if !in_single && !in_double => {
                    depth -= 1;
                    if depth == 0 {
                        let inner: String = self.chars[start..self.pos - 1].iter().collect();
                        return Ok(inner
                            .lines()
                            .map(str::trim)
                            .filter(|l| !l.is_empty() && !l.starts_with('#'))
                            .collect::<Vec<_>>()
                            .join(" ; "));
                    }
                }
                _ => {}
            }
        }
        Err(format!("{}: unterminated block", self.line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_commands_parse_like_tmux() {
        let text = "# comment\nset -g base-index 1\nset -g @x 'a b' ; set -g @y \"c\\\"d\"\nbind a \\\n  display hi\nif -F 1 {\n  set -g @z 1\n}\n";
        let cmds = parse_text(text).expect("parses");
        let argv: Vec<Vec<String>> = cmds.into_iter().map(|(_, a)| a).collect();
        assert_eq!(argv[0], ["set", "-g", "base-index", "1"]);
        assert_eq!(argv[1], ["set", "-g", "@x", "a b"]);
        assert_eq!(argv[2], ["set", "-g", "@y", "c\"d"]);
        assert_eq!(argv[3], ["bind", "a", "display", "hi"]);
        assert_eq!(argv[4], ["if", "-F", "1", "set -g @z 1"]);
        assert_eq!(
            tokenize("split-window -h").expect("ok"),
            ["split-window", "-h"]
        );
        assert_eq!(tokenize("a ; b").expect("ok"), ["a", ";", "b"]);
    }
}
