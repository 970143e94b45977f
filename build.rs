//! Build script: fingerprint the sources (`AEGIS_BUILD_ID`), and list every OpenAPI fragment
//! under `src/api/openapi/` so `api::openapi` can embed them all with `include_str!`. The
//! list is read from the directory, so a new fragment file is picked up without being named
//! anywhere else.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

fn main() {
    build_id();
    openapi_fragments();
}

/// `AEGIS_BUILD_ID`: a fingerprint of the sources. The daemon pairs itself with the
/// `aegis-holder` binary beside it only when that was built from the same sources:
/// `cargo run` rebuilds only the daemon, and a holder left from an older build must not run
/// new sessions unnoticed.
fn build_id() {
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=Cargo.toml");
    println!("cargo:rerun-if-changed=Cargo.lock");
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, files);
            } else {
                files.push(p);
            }
        }
    }
    let mut files = vec![PathBuf::from("Cargo.toml"), PathBuf::from("Cargo.lock")];
    walk(Path::new("src"), &mut files);
    files.sort();
    // DefaultHasher::new() has fixed keys: the same sources give the same id.
    let mut h = std::hash::DefaultHasher::new();
    for f in &files {
        f.hash(&mut h);
        std::fs::read(f).unwrap_or_default().hash(&mut h);
    }
    println!("cargo:rustc-env=AEGIS_BUILD_ID={:016x}", h.finish());
}

fn openapi_fragments() {
    let dir = std::path::Path::new("src/api/openapi");
    // A directory path makes cargo rerun when any file in it is added, removed or changed.
    println!("cargo:rerun-if-changed=src/api/openapi");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".json"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default())
        .join("openapi_fragments.rs");
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let mut code = String::from("&[\n");
    for n in &names {
        code.push_str(&format!(
            "    ({n:?}, include_str!({:?})),\n",
            format!("{manifest}/src/api/openapi/{n}")
        ));
    }
    code.push_str("]\n");
    let written = std::fs::File::create(&out).and_then(|mut f| f.write_all(code.as_bytes()));
    if let Err(e) = written {
        panic!("writing {}: {e}", out.display());
    }
}
