//! The quality gate: which checks a work directory has, and running them.
//!
//! Checks come from `<workDir>/.aegis/verify.toml` when it exists, else they are detected from
//! the project's files. The file format:
//!
//! ```toml
//! # Default per-check timeout in seconds (optional; default 600).
//! timeout_secs = 300
//!
//! [[check]]
//! name = "unit"                      # unique, shown in the report
//! argv = ["cargo", "test", "--quiet"] # run directly, never through a shell
//! timeout_secs = 120                 # optional, overrides the default
//! ```
//!
//! Auto-detection, in this order: `Cargo.toml` → `cargo test`; `package.json` with a
//! `scripts.test` → `npm test`; `pytest.ini`, `conftest.py`, a `[tool.pytest...]` section of
//! `pyproject.toml`, a `[tool:pytest]` section of `setup.cfg`, or a `tests/` directory with
//! Python files → `pytest` (`python3 -m pytest` when no `pytest` is on PATH); a `Makefile`
//! with a `test:` target → `make test`.
//!
//! Checks run one after another in the work directory (they usually compete for the same
//! build directory and CPU), each in its own process group, killed on timeout.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Per-check timeout when neither the check nor the file gives one. Ten minutes covers a cold
/// `cargo test` of a mid-sized crate on a slow machine; a hung check still ends.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// Longest timeout a verify.toml may ask for: one hour, so a typo cannot pin a check forever.
pub const MAX_TIMEOUT_SECS: u64 = 3600;

/// Most checks in one verify.toml; the run is sequential, so this also bounds its length.
pub const MAX_CHECKS: usize = 32;

/// Output kept per check in the report: enough for a compiler error or a test summary.
pub const TAIL_BYTES: usize = 4096;

/// Largest verify.toml read; anything bigger is not a hand-written check list.
const MAX_FILE_BYTES: u64 = 64 * 1024;

/// One check to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub argv: Vec<String>,
    pub timeout: Duration,
}

/// Where the checks came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Config,
    Auto,
}

impl Source {
    pub const ALL: [Source; 2] = [Source::Config, Source::Auto];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Config => "config",
            Source::Auto => "auto",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFormat {
    timeout_secs: Option<u64>,
    #[serde(default)]
    check: Vec<FileCheck>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCheck {
    name: String,
    argv: Vec<String>,
    timeout_secs: Option<u64>,
}

/// The path of a work directory's check file.
pub fn config_path(work_dir: &Path) -> PathBuf {
    work_dir.join(".aegis").join("verify.toml")
}

/// The checks of `work_dir`: its verify.toml if present (an invalid one is an error naming
/// the problem, never a silent fallback), else the detected ones (possibly none).
pub fn checks_for(work_dir: &Path) -> Result<(Source, Vec<Check>), String> {
    let path = config_path(work_dir);
    match std::fs::metadata(&path) {
        Ok(m) if m.len() > MAX_FILE_BYTES => Err(format!(
            "{} is larger than {MAX_FILE_BYTES} bytes",
            path.display()
        )),
        Ok(_) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("reading {}: {e}", path.display()))?;
            parse(&text)
                .map(|c| (Source::Config, c))
                .map_err(|e| format!("{}: {e}", path.display()))
        }
        Err(_) => Ok((Source::Auto, detect(work_dir))),
    }
}

/// Parse and validate a verify.toml.
pub fn parse(text: &str) -> Result<Vec<Check>, String> {
    let file: FileFormat = toml::from_str(text).map_err(|e| e.to_string())?;
    let secs = |s: Option<u64>, what: &str| -> Result<Option<Duration>, String> {
        match s {
            None => Ok(None),
            Some(n) if (1..=MAX_TIMEOUT_SECS).contains(&n) => Ok(Some(Duration::from_secs(n))),
            Some(n) => Err(format!(
                "{what}timeout_secs {n} is out of range 1..={MAX_TIMEOUT_SECS}"
            )),
        }
    };
    let default = secs(file.timeout_secs, "")?.unwrap_or(DEFAULT_TIMEOUT);
    if file.check.is_empty() {
        return Err("no [[check]] entries".into());
    }
    if file.check.len() > MAX_CHECKS {
        return Err(format!("more than {MAX_CHECKS} checks"));
    }
    let mut out: Vec<Check> = Vec::new();
    for c in file.check {
        if c.name.trim().is_empty() || c.name.len() > 64 {
            return Err("every check needs a name of 1 to 64 characters".into());
        }
        if out.iter().any(|o| o.name == c.name) {
            return Err(format!("check name {:?} is used twice", c.name));
        }
        if c.argv.first().is_none_or(|p| p.is_empty()) {
            return Err(format!(
                "check {:?}: argv must start with a program",
                c.name
            ));
        }
        if c.argv.iter().any(|a| a.contains('\0')) {
            return Err(format!("check {:?}: argv must not contain NUL", c.name));
        }
        let timeout = secs(c.timeout_secs, &format!("check {:?}: ", c.name))?.unwrap_or(default);
        out.push(Check {
            name: c.name,
            argv: c.argv,
            timeout,
        });
    }
    Ok(out)
}

fn check(name: &str, argv: &[&str]) -> Check {
    Check {
        name: name.to_owned(),
        argv: argv.iter().map(|s| (*s).to_owned()).collect(),
        timeout: DEFAULT_TIMEOUT,
    }
}

/// Read a small project file for detection; large or unreadable files count as absent.
fn small_file(path: &Path) -> Option<String> {
    let m = std::fs::metadata(path).ok()?;
    if !m.is_file() || m.len() > 1024 * 1024 {
        return None;
    }
    std::fs::read_to_string(path).ok()
}

/// The checks a project's files imply.
pub fn detect(dir: &Path) -> Vec<Check> {
    let mut checks = Vec::new();
    if dir.join("Cargo.toml").is_file() {
        checks.push(check("cargo test", &["cargo", "test"]));
    }
    let has_npm_test = small_file(&dir.join("package.json"))
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| v["scripts"]["test"].as_str().is_some_and(|s| !s.is_empty()));
    if has_npm_test {
        checks.push(check("npm test", &["npm", "test"]));
    }
    if has_pytest(dir) {
        checks.push(check("pytest", pytest_argv()));
    }
    let make_test = ["Makefile", "makefile", "GNUmakefile"]
        .iter()
        .filter_map(|f| small_file(&dir.join(f)))
        .any(|t| t.lines().any(|l| l.starts_with("test:")));
    if make_test {
        checks.push(check("make test", &["make", "test"]));
    }
    checks
}

/// `pytest`, or `python3 -m pytest` when no `pytest` program is on the daemon's PATH (the
/// module is often installed without its script on PATH: `pip install --user`, a venv's
/// python run directly, distro packages that call it `pytest-3`). Checks run with the daemon's
/// PATH, so this is the PATH to look at.
fn pytest_argv() -> &'static [&'static str] {
    let path = std::env::var_os("PATH").unwrap_or_default();
    if crate::pty::run::which("pytest", &path).is_some() {
        &["pytest"]
    } else {
        &["python3", "-m", "pytest"]
    }
}

fn has_pytest(dir: &Path) -> bool {
    if dir.join("pytest.ini").is_file() || dir.join("conftest.py").is_file() {
        return true;
    }
    if small_file(&dir.join("pyproject.toml")).is_some_and(|t| t.contains("[tool.pytest")) {
        return true;
    }
    if small_file(&dir.join("setup.cfg")).is_some_and(|t| t.contains("[tool:pytest]")) {
        return true;
    }
    std::fs::read_dir(dir.join("tests")).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with(".py"))
    })
}

/// One check's result.
#[derive(Debug, Clone)]
pub struct CheckResult {
    pub name: String,
    pub argv: Vec<String>,
    pub passed: bool,
    pub exit_code: Option<i32>,
    pub duration_ms: u64,
    pub timed_out: bool,
    pub output_tail: String,
    /// Why the check could not run at all (program not found), if so.
    pub error: Option<String>,
}

/// Run the checks one after another in `work_dir`.
pub async fn run_checks(work_dir: &Path, checks: &[Check]) -> Vec<CheckResult> {
    let mut results = Vec::with_capacity(checks.len());
    for c in checks {
        // CI=1: test runners skip watch modes and interactive prompts.
        let r =
            crate::pty::run::run(&c.argv, work_dir, &[("CI", "1")], c.timeout, TAIL_BYTES).await;
        let result = match r {
            Ok(out) => CheckResult {
                name: c.name.clone(),
                argv: c.argv.clone(),
                passed: out.success(),
                exit_code: out.exit_code,
                duration_ms: u64::try_from(out.duration.as_millis()).unwrap_or(u64::MAX),
                timed_out: out.timed_out,
                output_tail: out.tail_text(),
                error: None,
            },
            Err(e) => CheckResult {
                name: c.name.clone(),
                argv: c.argv.clone(),
                passed: false,
                exit_code: None,
                duration_ms: 0,
                timed_out: false,
                output_tail: String::new(),
                error: Some(format!("could not start {}: {e}", c.argv[0])),
            },
        };
        tracing::info!(check = %c.name, passed = result.passed, exit = ?result.exit_code, ms = result.duration_ms, "verify check finished");
        results.push(result);
    }
    results
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // reason: a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn parses_and_validates_the_file() {
        let c = parse(
            "timeout_secs = 5\n[[check]]\nname = \"a\"\nargv = [\"true\"]\n\
             [[check]]\nname = \"b\"\nargv = [\"false\", \"x\"]\ntimeout_secs = 2\n",
        )
        .unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].timeout, Duration::from_secs(5));
        assert_eq!(c[1].timeout, Duration::from_secs(2));
        assert!(parse("").is_err());
        assert!(parse("[[check]]\nname = \"a\"\nargv = []\n").is_err());
        assert!(parse("[[check]]\nname = \"a\"\nargv = [\"x\"]\nbogus = 1\n").is_err());
        assert!(parse("[[check]]\nname = \"a\"\nargv = [\"x\"]\ntimeout_secs = 0\n").is_err());
        assert!(
            parse(
                "[[check]]\nname = \"a\"\nargv = [\"x\"]\n[[check]]\nname = \"a\"\nargv = [\"y\"]\n"
            )
            .is_err()
        );
    }

    #[test]
    fn detects_project_kinds() {
        let d = tempfile::tempdir().unwrap();
        assert!(detect(d.path()).is_empty());
        std::fs::write(d.path().join("Cargo.toml"), "[package]\n").unwrap();
        std::fs::write(
            d.path().join("package.json"),
            r#"{"scripts":{"test":"jest"}}"#,
        )
        .unwrap();
        std::fs::write(d.path().join("Makefile"), "all:\n\ttrue\ntest:\n\ttrue\n").unwrap();
        std::fs::create_dir(d.path().join("tests")).unwrap();
        std::fs::write(d.path().join("tests/test_x.py"), "").unwrap();
        let names: Vec<_> = detect(d.path()).into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["cargo test", "npm test", "pytest", "make test"]);
        std::fs::write(d.path().join("package.json"), r#"{"scripts":{}}"#).unwrap();
        assert!(!detect(d.path()).iter().any(|c| c.name == "npm test"));
    }
}
