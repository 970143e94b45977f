//! Build script: list every OpenAPI fragment under `src/api/openapi/` so `api::openapi` can
//! embed them all with `include_str!`. Each helper adds its own fragment file; globbing here
//! means adding a fragment never needs an edit to a shared list (no merge conflicts).

use std::io::Write;

fn main() {
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
