//! Shell integration: when a session runs bash or zsh, Aegis has it mark its prompts and
//! commands with OSC 133 (see `screen::marks`) without touching the user's files. The scripts
//! live in the daemon's state dir (written at every start, the directory 0700):
//!
//! - bash gets `--rcfile <state>/shell/bashrc`, which sources `~/.bashrc` and then installs the
//!   marks through `PROMPT_COMMAND` and `PS0`. `bash --norc` reads no file at all (`--rcfile`
//!   would bring back the system's `/etc/bash.bashrc`), so it keeps its argv and the first
//!   prompt's `PROMPT_COMMAND`, from the environment, sources the same file instead;
//! - zsh gets `ZDOTDIR=<state>/shell/zsh`, whose `.zshenv` and `.zshrc` source the user's (from
//!   their own `ZDOTDIR`, else `$HOME`; none for `-f`) and add `precmd`/`preexec` hooks, then
//!   hand `ZDOTDIR` back so a nested zsh reads the user's files.
//!
//! Only a shell started as a plain interactive shell is integrated (its arguments among `-i`,
//! `--norc`, `--noprofile` for bash, `-i`, `-f` for zsh): a login shell, a script or `-c`
//! reads other files or none, and is left exactly as asked.

use std::path::{Path, PathBuf};

const BASHRC: &str = include_str!("shell/bashrc");
const ZSHENV: &str = include_str!("shell/zshenv");
const ZSHRC: &str = include_str!("shell/zshrc");

/// The environment variable that tells the scripts to skip the user's files (`--norc`, `-f`);
/// the scripts unset it.
const NORC: &str = "AEGIS_SHELL_NORC";
/// The user's own `ZDOTDIR`, handed to the zsh scripts (which unset it).
const USER_ZDOTDIR: &str = "AEGIS_USER_ZDOTDIR";

/// Where the scripts are written under the state dir.
pub fn dir_in(state_dir: &Path) -> PathBuf {
    state_dir.join("shell")
}

/// Write the scripts into `dir` (created 0700), replacing older ones. Each is written
/// atomically with mode 0600, like every file of the state dir: a shell starting meanwhile
/// sources the old script or the new one, never half of one.
pub fn install(dir: &Path) -> std::io::Result<()> {
    use crate::store::atomic::write;
    crate::store::create_private_dir(dir)?;
    crate::store::create_private_dir(&dir.join("zsh"))?;
    write(&dir.join("bashrc"), BASHRC.as_bytes())?;
    write(&dir.join("zsh").join(".zshenv"), ZSHENV.as_bytes())?;
    write(&dir.join("zsh").join(".zshrc"), ZSHRC.as_bytes())
}

/// What an integrated shell is started with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    pub argv: Vec<String>,
    /// Added to the session's environment (the child's only, never recorded as the session's).
    pub env: Vec<(String, String)>,
}

/// How to start `argv` with the marks installed from `dir`, or `None` when `argv` is not a
/// plain interactive bash or zsh. `env` is the session's environment (its `ZDOTDIR` wins over
/// the daemon's).
pub fn launch(dir: &Path, argv: &[String], env: &[(String, String)]) -> Option<Launch> {
    let (program, args) = argv.split_first()?;
    let name = Path::new(program).file_name()?.to_str()?;
    let has = |flag: &str| args.iter().any(|a| a == flag);
    match name {
        "bash"
            if args
                .iter()
                .all(|a| ["-i", "--norc", "--noprofile"].contains(&a.as_str())) =>
        {
            let rc = dir.join("bashrc").display().to_string();
            if has("--norc") {
                // The path goes into a shell word in single quotes.
                if rc.contains('\'') {
                    return None;
                }
                return Some(Launch {
                    argv: argv.to_vec(),
                    env: vec![
                        (NORC.to_owned(), "1".to_owned()),
                        ("PROMPT_COMMAND".to_owned(), format!(". '{rc}'")),
                    ],
                });
            }
            let mut new = vec![program.clone()];
            if has("--noprofile") {
                new.push("--noprofile".into());
            }
            new.extend(["--rcfile".to_owned(), rc, "-i".to_owned()]);
            Some(Launch {
                argv: new,
                env: Vec::new(),
            })
        }
        "zsh" if args.iter().all(|a| a == "-i" || a == "-f") => {
            let mut new = vec![program.clone()];
            // `-f` reads no startup files; without global ones and with the scripts told to
            // skip the user's, the shell reads only the marks.
            if has("-f") {
                new.push("--no-globalrcs".into());
            }
            new.push("-i".into());
            let mut extra = vec![("ZDOTDIR".to_owned(), dir.join("zsh").display().to_string())];
            let user = env
                .iter()
                .rev()
                .find(|(k, _)| k == "ZDOTDIR")
                .map(|(_, v)| v.clone())
                .or_else(|| std::env::var("ZDOTDIR").ok())
                .filter(|v| !v.is_empty());
            if let Some(user) = user {
                extra.push((USER_ZDOTDIR.to_owned(), user));
            }
            if has("-f") {
                extra.push((NORC.to_owned(), "1".to_owned()));
            }
            Some(Launch {
                argv: new,
                env: extra,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn plain_interactive_shells_are_integrated() {
        let dir = Path::new("/state/shell");
        let bash = launch(dir, &argv(&["/bin/bash", "--noprofile"]), &[]);
        let rcfile = [
            "/bin/bash",
            "--noprofile",
            "--rcfile",
            "/state/shell/bashrc",
            "-i",
        ];
        assert_eq!(
            bash,
            Some(Launch {
                argv: argv(&rcfile),
                env: vec![],
            })
        );
        // `--norc` keeps its argv (no system file either); the first prompt loads the marks.
        let norc = launch(dir, &argv(&["bash", "--norc", "--noprofile"]), &[]);
        assert_eq!(
            norc,
            Some(Launch {
                argv: argv(&["bash", "--norc", "--noprofile"]),
                env: vec![
                    (NORC.into(), "1".into()),
                    ("PROMPT_COMMAND".into(), ". '/state/shell/bashrc'".into()),
                ],
            })
        );
        let zsh = launch(
            dir,
            &argv(&["zsh"]),
            &[("ZDOTDIR".into(), "/home/u/z".into())],
        );
        let zsh = zsh.expect("plain zsh is integrated");
        assert_eq!(zsh.argv, argv(&["zsh", "-i"]));
        assert!(
            zsh.env
                .contains(&("ZDOTDIR".into(), "/state/shell/zsh".into()))
        );
        assert!(zsh.env.contains(&(USER_ZDOTDIR.into(), "/home/u/z".into())));
        let quiet = launch(dir, &argv(&["zsh", "-f"]), &[]).expect("zsh -f is integrated");
        assert_eq!(quiet.argv, argv(&["zsh", "--no-globalrcs", "-i"]));
        assert!(quiet.env.contains(&(NORC.into(), "1".into())));
    }

    #[test]
    fn other_command_lines_are_left_alone() {
        let dir = Path::new("/s");
        for words in [
            &["bash", "-l"][..],
            &["bash", "-c", "echo"],
            &["bash", "script.sh"],
            &["zsh", "-l"],
            &["fish"],
            &["claude"],
            &[],
        ] {
            assert_eq!(launch(dir, &argv(words), &[]), None, "{words:?}");
        }
    }
}
