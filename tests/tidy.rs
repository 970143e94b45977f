//! Tidy checks: rules about the source tree that keep it easy to live in, each with its
//! reason. They read files only (no daemon), so they run in milliseconds.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use regex::Regex;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Files under `dir` (relative to the repository root) whose name ends with one of `exts`,
/// skipping installed dependencies and build output.
fn files(dir: &str, exts: &[&str]) -> Vec<PathBuf> {
    fn walk(p: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(p) else {
            return;
        };
        for e in entries.flatten() {
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if !matches!(
                    name.as_str(),
                    "node_modules" | "target" | "__pycache__" | ".venv" | "corpus" | "artifacts"
                ) {
                    walk(&path, exts, out);
                }
            } else if exts.iter().any(|x| name.ends_with(x)) {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root().join(dir), exts, &mut out);
    out.sort();
    out
}

fn rel(p: &Path) -> String {
    p.strip_prefix(root()).unwrap_or(p).display().to_string()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// The code of a Rust file without its comments (line comments only: the tree uses no block
/// comments) and without its test module (by convention the last item of a file).
fn code_of(text: &str) -> String {
    let body = text.split("\n#[cfg(test)]").next().unwrap_or(text);
    body.lines()
        .map(|l| match l.find("//") {
            // Keep `//` inside string literals such as URLs: only a comment start that is
            // not inside quotes is cut (good enough for this tree: checked by the rules
            // below failing loudly if not).
            Some(i) if l[..i].matches('"').count() % 2 == 0 => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn rust_sources() -> Vec<PathBuf> {
    ["src", "tests", "benches", "fuzz/fuzz_targets", "build.rs"]
        .iter()
        .flat_map(|d| {
            if d.ends_with(".rs") {
                vec![root().join(d)]
            } else {
                files(d, &[".rs"])
            }
        })
        .collect()
}

/// Every file people write and read whole: the Rust and Python sources and the hand-written
/// OpenAPI fragments.
fn written_files() -> Vec<PathBuf> {
    let mut out = rust_sources();
    for d in ["tests", "benches", "scripts"] {
        out.extend(files(d, &[".py"]));
    }
    out.extend(files("src/api/openapi", &[".json"]));
    out
}

/// Why: a file longer than this no longer fits one concept; newcomers read files whole.
const MAX_LINES: usize = 700;

/// Why: past this a file is due to be split at a seam a reader can name. One that is a
/// single concept all the same says so where a reader starts: a line beginning `Length:` in
/// its module doc (`//!` in Rust, the module docstring in Python). A JSON fragment cannot
/// say anything, so it is split.
const LONG_LINES: usize = 600;

/// The module doc of a source file: its leading `//!` lines (Rust), or its leading comments
/// and module docstring (Python).
fn module_doc(path: &Path, text: &str) -> String {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let mut doc = String::new();
    let mut in_docstring = false;
    for line in text.lines() {
        let t = line.trim_start();
        let keep = match ext {
            "rs" => t.starts_with("//!"),
            "py" if in_docstring => {
                in_docstring = !t.contains("\"\"\"");
                true
            }
            "py" if t.starts_with("\"\"\"") => {
                in_docstring = t.len() < 6 || !t[3..].contains("\"\"\"");
                true
            }
            "py" => t.starts_with('#') || t.is_empty(),
            _ => false,
        };
        if !keep {
            break;
        }
        doc.push_str(t.trim_start_matches("//!").trim_start_matches('#').trim());
        doc.push('\n');
    }
    doc
}

#[test]
fn no_source_file_is_over_700_lines() {
    let long: Vec<String> = written_files()
        .iter()
        .filter_map(|p| {
            let n = read(p).lines().count();
            (n > MAX_LINES).then(|| format!("{} ({n} lines)", rel(p)))
        })
        .collect();
    assert!(
        long.is_empty(),
        "split these by concept (at most {MAX_LINES} lines): {long:?}"
    );
}

#[test]
fn a_source_file_over_600_lines_says_why() {
    let unexplained: Vec<String> = written_files()
        .iter()
        .filter_map(|p| {
            let text = read(p);
            let n = text.lines().count();
            let explained = module_doc(p, &text)
                .lines()
                .any(|l| l.starts_with("Length:"));
            (n > LONG_LINES && !explained).then(|| format!("{} ({n} lines)", rel(p)))
        })
        .collect();
    assert!(
        unexplained.is_empty(),
        "over {LONG_LINES} lines without a `Length:` line in the module doc saying why the \
         file is one concept; split them or say why: {unexplained:?}"
    );
}

/// Why: the tree speaks of the product. How the work was organised (tracker numbers, work
/// packages, who wrote what) means nothing to a reader and goes stale at once.
#[test]
fn no_development_process_names_in_the_tree() {
    // Spelled in pieces so that this file does not match itself.
    let pattern = [
        r"(?i)\bissue\s*#?\d+\b",
        r"\bh-(work|compat|harden|orch|dash|faces)\b",
        r"(?i)\bwork[- ]package",
        r"(?i)\bhelper-\d+\b",
    ]
    .join("|");
    let re = Regex::new(&pattern).expect("pattern");
    let mut hits = Vec::new();
    let mut paths: Vec<PathBuf> = [
        "src",
        "tests",
        "benches",
        "docs",
        "profiles",
        "fuzz/fuzz_targets",
    ]
    .iter()
    .flat_map(|d| {
        files(
            d,
            &[
                ".rs", ".md", ".py", ".toml", ".json", ".txt", ".sh", ".js", ".html",
            ],
        )
    })
    .collect();
    // Scripts and deployment files have no telling extension: every file of theirs is read.
    for d in ["scripts", ".ci", "dist"] {
        paths.extend(files(d, &[""]));
    }
    for f in [
        "README.md",
        "ARCHITECTURE.md",
        "SECURITY.md",
        "Cargo.toml",
        "build.rs",
        "fuzz/Cargo.toml",
    ] {
        paths.push(root().join(f));
    }
    for p in paths {
        if p.ends_with("tests/tidy.rs") || p.to_string_lossy().contains("/vendor/") {
            continue;
        }
        for (n, line) in read(&p).lines().enumerate() {
            if let Some(m) = re.find(line) {
                hits.push(format!("{}:{}: {}", rel(&p), n + 1, m.as_str()));
            }
        }
    }
    assert!(hits.is_empty(), "development names: {hits:#?}");
}

/// Why: a module's first lines say what it owns; the code map (ARCHITECTURE.md) and
/// rustdoc both rely on it.
#[test]
fn every_module_says_what_it_is() {
    let missing: Vec<String> = files("src", &[".rs"])
        .iter()
        .filter(|p| !read(p).trim_start().starts_with("//!"))
        .map(|p| rel(p))
        .collect();
    assert!(missing.is_empty(), "no `//!` doc at the top: {missing:?}");
}

/// Why: the daemon logs through `tracing` (levels, fields, a log file); a `println!` in it
/// writes to a stdout nobody reads, or panics when that pipe is closed. Client programs
/// (the CLI, attach, the tmux stand-in, the holder's version query) print for their user.
#[test]
fn no_println_in_daemon_code() {
    let clients = [
        "src/main.rs",
        "src/cli/",
        "src/attach/client.rs",
        "src/tmux/client.rs",
        "src/bin/",
    ];
    let re = Regex::new(r"\b(e?println|e?print)!").expect("pattern");
    let hits: Vec<String> = files("src", &[".rs"])
        .iter()
        .filter(|p| !clients.iter().any(|c| rel(p).starts_with(c)))
        .filter(|p| re.is_match(&code_of(&read(p))))
        .map(|p| rel(p))
        .collect();
    assert!(hits.is_empty(), "print macros in daemon code: {hits:?}");
}

/// Why: only the edges speak JSON. Domain code has typed values; the API (and the clients
/// of the API: the CLI and the MCP server) turn them into wire shapes, so a wire key is
/// spelled in one place and the OpenAPI document can describe it.
#[test]
fn json_literals_only_at_the_edges() {
    let edges = ["src/api/", "src/cli/", "src/mcp/", "src/client.rs"];
    let hits: Vec<String> = files("src", &[".rs"])
        .iter()
        .filter(|p| !edges.iter().any(|e| rel(p).starts_with(e)))
        .filter(|p| code_of(&read(p)).contains("json!("))
        .map(|p| rel(p))
        .collect();
    assert!(hits.is_empty(), "json! outside the edges: {hits:?}");
}

/// Which top-level modules each top-level module of `src/` uses (`crate::name` paths in its
/// code, tests left out).
fn top_level_uses() -> BTreeMap<String, BTreeSet<String>> {
    let re = Regex::new(r"crate::(\w+)").expect("pattern");
    let mut uses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for p in files("src", &[".rs"]) {
        let r = rel(&p);
        let parts: Vec<&str> = r.trim_start_matches("src/").split('/').collect();
        let top = match parts.as_slice() {
            [file] => file.trim_end_matches(".rs").to_owned(),
            [dir, ..] => (*dir).to_owned(),
            [] => continue,
        };
        for c in re.captures_iter(&code_of(&read(&p))) {
            if c[1] != top {
                uses.entry(top.clone()).or_default().insert(c[1].to_owned());
            }
        }
    }
    uses
}

/// Why: two top-level modules that use each other are one module in two places; layers
/// (ARCHITECTURE.md) only work if dependencies point one way.
#[test]
fn no_two_top_level_modules_use_each_other() {
    let uses = top_level_uses();
    let mut cycles = Vec::new();
    for (a, deps) in &uses {
        for b in deps {
            if a < b && uses.get(b).is_some_and(|d| d.contains(a)) {
                cycles.push(format!("{a} <-> {b}"));
            }
        }
    }
    assert!(cycles.is_empty(), "modules using each other: {cycles:?}");
}

/// One entry of the code map: a top-level module, its layer (0 at the bottom) and its text.
struct MapEntry {
    layer: usize,
    text: String,
}

/// The code map of ARCHITECTURE.md: each `### ` heading under `## Code map` opens a layer,
/// each `` - `name` `` item in it is a module, up to the next item or heading.
fn code_map() -> BTreeMap<String, MapEntry> {
    let doc = read(&root().join("ARCHITECTURE.md"));
    let map = doc
        .split("\n## Code map")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .unwrap_or("");
    let item = Regex::new(r"^- `(\w+)`").expect("pattern");
    let mut entries = BTreeMap::new();
    let mut layer = None;
    let mut current: Option<String> = None;
    for line in map.lines() {
        if line.starts_with("### ") {
            layer = Some(layer.map_or(0, |l| l + 1));
            current = None;
        } else if let Some(c) = item.captures(line) {
            let name = c[1].to_owned();
            let entry = MapEntry {
                layer: layer.unwrap_or(0),
                text: String::new(),
            };
            let listed_before = entries.insert(name.clone(), entry).is_some();
            assert!(!listed_before, "ARCHITECTURE.md lists {name} twice");
            current = Some(name);
        } else if line.trim().is_empty() || !line.starts_with(' ') {
            current = None;
        }
        if let Some(e) = current.as_ref().and_then(|n| entries.get_mut(n)) {
            e.text.push_str(line);
            e.text.push('\n');
        }
    }
    entries
}

/// Why: the code map is the newcomer's entry point; a module missing from it is a module
/// nobody knows where to place, and one without its invariants is one whose rules live only
/// in its author's head.
#[test]
fn the_code_map_names_every_top_level_module() {
    let map = code_map();
    assert!(!map.is_empty(), "ARCHITECTURE.md has no code map");
    let mut missing = Vec::new();
    let mut without_invariant = Vec::new();
    for e in std::fs::read_dir(root().join("src"))
        .expect("src")
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        let module = name.trim_end_matches(".rs");
        if matches!(module, "lib" | "main" | "bin") {
            continue;
        }
        match map.get(module) {
            None => missing.push(module.to_owned()),
            Some(entry) if !entry.text.contains("**Invariant") => {
                without_invariant.push(module.to_owned())
            }
            Some(_) => {}
        }
    }
    assert!(
        missing.is_empty(),
        "not in ARCHITECTURE.md's code map: {missing:?}"
    );
    assert!(
        without_invariant.is_empty(),
        "no **Invariant** in their code map entry: {without_invariant:?}"
    );
}

/// Why: the layers of the code map are how a reader knows what a module may use; a map the
/// code contradicts teaches the wrong rule.
#[test]
fn every_module_uses_only_its_layer_and_those_below() {
    let map = code_map();
    let mut upward = Vec::new();
    for (a, deps) in top_level_uses() {
        let Some(from) = map.get(&a) else { continue };
        for b in deps {
            if let Some(to) = map.get(&b)
                && to.layer > from.layer
            {
                upward.push(format!(
                    "{a} (layer {}) uses {b} (layer {})",
                    from.layer, to.layer
                ));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "uses of a higher layer than ARCHITECTURE.md allows: {upward:#?}"
    );
}
