//! The file routes end to end: uploads confined to the session's workDir, file listings
//! confined to the project roots, and diagnostics without secrets.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Daemon, Options};
use crate::work::bash_in;

/// Generous bound for a status or screen change on a loaded 2-core machine.
const T: Duration = Duration::from_secs(30);

/// A multipart body with the given (file name, content) parts.
fn multipart(files: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "aegis-test-boundary-7d3f";
    let mut body = Vec::new();
    for (name, content) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn upload(d: &Daemon, id: &str, query: &str, files: &[(&str, &[u8])]) -> (StatusCode, Value) {
    let (ctype, body) = multipart(files);
    let resp = d
        .http()
        .post(format!("{}/v1/sessions/{id}/upload{query}", d.url))
        .header("content-type", ctype)
        .body(body)
        .send()
        .expect("upload");
    let status = resp.status();
    let text = resp.text().expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[test]
fn uploads_are_confined_to_the_work_dir() {
    let d = Daemon::start();
    let work = d.dir.path().join("up/work");
    let outside = d.dir.path().join("up/outside");
    std::fs::create_dir_all(&work).expect("mkdir");
    std::fs::create_dir_all(&outside).expect("mkdir");
    std::fs::write(outside.join("target.txt"), "original").expect("write");
    std::os::unix::fs::symlink(outside.join("target.txt"), work.join("link.txt")).expect("symlink");
    let id = bash_in(&d, &work);

    let (s, v) = upload(&d, &id, "", &[("a.txt", b"alpha"), ("b.bin", &[0u8, 1, 2])]);
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(std::fs::read(work.join("a.txt")).expect("a"), b"alpha");
    assert_eq!(std::fs::read(work.join("b.bin")).expect("b"), [0u8, 1, 2]);

    // No overwrite unless asked.
    let (s, v) = upload(&d, &id, "", &[("a.txt", b"again")]);
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(std::fs::read(work.join("a.txt")).expect("a"), b"alpha");
    let (s, v) = upload(&d, &id, "?overwrite=true", &[("a.txt", b"again")]);
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(std::fs::read(work.join("a.txt")).expect("a"), b"again");

    // Path traversal and absolute names: 400, and a good part beside them is not written.
    for bad in ["../escaped.txt", "/tmp/abs.txt", "sub/x.txt", ".."] {
        let (s, v) = upload(&d, &id, "", &[("fine.txt", b"x"), (bad, b"evil")]);
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {v}");
        assert_eq!(v["code"], "VALIDATION_ERROR");
    }
    assert!(!work.join("fine.txt").exists());
    assert!(!d.dir.path().join("up/escaped.txt").exists());

    // A symlink in the workDir pointing outside is never written through, even with overwrite.
    let (s, v) = upload(&d, &id, "?overwrite=true", &[("link.txt", b"pwned")]);
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(
        std::fs::read_to_string(outside.join("target.txt")).expect("t"),
        "original"
    );

    // Too many files.
    let six: Vec<(String, &[u8])> = (0..6).map(|i| (format!("f{i}.txt"), &b"x"[..])).collect();
    let six: Vec<(&str, &[u8])> = six.iter().map(|(n, c)| (n.as_str(), *c)).collect();
    let (s, v) = upload(&d, &id, "", &six);
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(!work.join("f0.txt").exists());
    // Not multipart at all.
    let (s, v) = d.post(&format!("/v1/sessions/{id}/upload"), json!({}));
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
}

#[test]
fn file_listing_is_confined_to_project_roots() {
    let base = tempfile::tempdir().expect("tempdir");
    let root = base.path().join("projects");
    std::fs::create_dir_all(root.join("app/src")).expect("mkdir");
    std::fs::write(root.join("app/Cargo.toml"), "").expect("write");
    std::fs::create_dir_all(base.path().join("secret")).expect("mkdir");
    std::os::unix::fs::symlink(base.path().join("secret"), root.join("escape")).expect("symlink");
    let root_arg = root.to_str().expect("utf-8").to_owned();
    let d = Daemon::start_with(Options {
        args: &["--project-root", &root_arg],
        env: &[],
    });
    let real_root = root.canonicalize().expect("canonical");

    let (s, v) = d.get("/v1/directories");
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["directories"][0]["path"],
        real_root.to_str().expect("utf-8")
    );

    let q = |p: &Path| format!("/v1/files?path={}", p.display());
    let (s, v) = d.get(&q(&root.join("app")));
    assert_eq!(s, StatusCode::OK, "{v}");
    let names: Vec<_> = v["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap_or_default().to_owned(),
                e["kind"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let expected =
        [("src", "dir"), ("Cargo.toml", "file")].map(|(n, k)| (n.to_owned(), k.to_owned()));
    assert_eq!(names, expected);
    let (s, v) = d.get(&q(&root));
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(
        v["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .any(|e| e["name"] == "escape" && e["kind"] == "symlink")
    );

    for (path, status) in [
        (root.join("escape"), StatusCode::FORBIDDEN),
        (root.join("app/../../secret"), StatusCode::FORBIDDEN),
        (PathBuf::from("/etc"), StatusCode::FORBIDDEN),
        // Outside the roots, whether it exists is not revealed: 403, not 404.
        (
            PathBuf::from("/etc/aegis-test-does-not-exist"),
            StatusCode::FORBIDDEN,
        ),
        (root.join("../aegis-test-missing"), StatusCode::FORBIDDEN),
        (PathBuf::from("relative/dir"), StatusCode::BAD_REQUEST),
        (root.join("missing"), StatusCode::NOT_FOUND),
    ] {
        let (s, v) = d.get(&q(&path));
        assert_eq!(s, status, "{}: {v}", path.display());
        assert!(v["error"].is_string());
    }
    let (s, _) = d.get("/v1/files");
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Without --project-root nothing is browsable.
    let plain = Daemon::start();
    let (_, v) = plain.get("/v1/directories");
    assert_eq!(v["directories"], json!([]));
    let (s, _) = plain.get(&q(&root));
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[test]
fn diagnostics_report_health_without_secrets() {
    let d = Daemon::start_with(Options {
        args: &[],
        env: &[("AEGIS_AUTH_TOKEN", "diag-secret-token-31337")],
    });
    let id = d.bash();
    d.wait_status(&id, "idle", T);
    let (s, v) = d.get("/v1/diagnostics");
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["pty"]["healthy"], true);
    assert!(v["process"]["openFds"].as_u64().unwrap_or(0) > 3, "{v}");
    assert!(
        v["process"]["rssBytes"].as_u64().unwrap_or(0) > 1024 * 1024,
        "{v}"
    );
    assert_eq!(v["sessions"]["total"], 1);
    assert_eq!(v["sessions"]["byStatus"]["idle"], 1);
    assert_eq!(v["holders"], 1);
    assert_eq!(v["config"]["authTokenSet"], true);
    assert!(!v.to_string().contains("diag-secret-token-31337"));
    let (s, _) = d.call_as(Method::GET, "/v1/diagnostics", None, None);
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}
