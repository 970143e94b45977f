//! Consensus reviews end to end on the fake agents: a majority verdict among three
//! reviewers, a timeout with a partial result, and a tie that is explained and announced.

use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::orchestrate::{agent, fake};
use crate::streams::{next_where, sse};
use crate::support::{Daemon, wait_until};

/// A git repository in the daemon's work dir with one committed file and one change.
fn git_repo_with_change(d: &Daemon) {
    let dir = d.work_dir();
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@e",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("git")
            .status
            .success();
        assert!(ok, "git {args:?}");
    };
    std::fs::write(dir.join("lib.txt"), "one\n").expect("write");
    git(&["init", "-q"]);
    git(&["add", "lib.txt"]);
    git(&["commit", "-q", "-m", "first"]);
    std::fs::write(dir.join("lib.txt"), "one\ntwo\n").expect("write");
}

fn wait_consensus(d: &Daemon, id: &str) -> Value {
    wait_until(Duration::from_secs(90), "the review to finish", || {
        let (_, v) = d.get(&format!("/v1/consensus/{id}"));
        (v["status"] != "running").then_some(v)
    })
}

#[test]
fn consensus_of_three_reviewers_reaches_a_majority_verdict() {
    let d = Daemon::start();
    git_repo_with_change(&d);
    let parent = agent(&d, &[], Some("parent-output-marker"));
    d.wait_screen(
        &parent,
        "You said: parent-output-marker",
        Duration::from_secs(20),
    );
    d.wait_status(&parent, "idle", Duration::from_secs(20));
    let (status, r) = d.post(
        &format!("/v1/sessions/{parent}/consensus"),
        json!({
            "criteria": ["tests pass", "style"],
            "reviewers": 3,
            "command": fake("claude", &["--verdicts", "approve,reject,approve"]),
        }),
    );
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let done = wait_consensus(&d, r["id"].as_str().expect("id"));
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["verdict"], "approve", "{done}");
    assert_eq!(done["approvals"], 2);
    assert_eq!(done["rejections"], 1);
    assert_eq!(done["tie"], false);
    assert_eq!(done["perCriterion"]["tests pass"]["result"], "pass");
    assert_eq!(done["perCriterion"]["style"]["fail"], 1);
    let reviewers = done["reviewers"].as_array().expect("reviewers");
    assert_eq!(reviewers.len(), 3);
    for (i, rv) in reviewers.iter().enumerate() {
        assert_eq!(rv["status"], "done", "{rv}");
        let want = if i == 1 { "fail" } else { "pass" };
        assert_eq!(rv["criteria"]["style"], want, "{rv}");
        // Each reviewer was given the workDir's diff and the parent's last output.
        assert_eq!(rv["reason"], "saw diff; saw output", "{rv}");
        // Reviewers are children of the parent.
        let sid = rv["sessionId"].as_str().expect("session id");
        let (_, info) = d.get(&format!("/v1/sessions/{sid}"));
        assert_eq!(info["parentId"], parent.as_str());
    }
}

#[test]
fn consensus_times_out_with_a_partial_result() {
    let d = Daemon::start();
    let parent = agent(&d, &[], None);
    d.wait_status(&parent, "idle", Duration::from_secs(20));
    let (status, r) = d.post(
        &format!("/v1/sessions/{parent}/consensus"),
        json!({
            "focusAreas": ["correctness"],
            "reviewerCount": 2,
            "timeoutMs": 8000,
            "command": fake("claude", &["--verdicts", "approve,none"]),
        }),
    );
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let done = wait_consensus(&d, r["id"].as_str().expect("id"));
    assert_eq!(done["status"], "timed_out", "{done}");
    assert_eq!(done["verdict"], "approve", "{done}");
    assert_eq!(done["reviewers"][0]["status"], "done");
    assert_eq!(done["reviewers"][1]["status"], "timed_out");
    let why = done["explanation"].as_str().unwrap_or_default();
    assert!(why.contains("1 of 2 reviewers gave no verdict"), "{why}");
    // Bad requests are 400s that name the field.
    let (status, v) = d.post(
        &format!("/v1/sessions/{parent}/consensus"),
        json!({ "criteria": [] }),
    );
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["error"].as_str().unwrap_or_default().contains("criteria"));
}

#[test]
fn consensus_tie_is_explained_and_announced() {
    let d = Daemon::start();
    let parent = agent(&d, &[], None);
    d.wait_status(&parent, "idle", Duration::from_secs(20));
    let events = sse(&d, &format!("/v1/events?session={parent}"), None);
    let (status, r) = d.post(
        &format!("/v1/sessions/{parent}/consensus"),
        json!({
            "criteria": ["correctness"],
            "reviewers": 2,
            "command": fake("claude", &["--verdicts", "approve,reject"]),
        }),
    );
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let id = r["id"].as_str().expect("id").to_owned();
    let done = wait_consensus(&d, &id);
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["tie"], true, "{done}");
    assert_eq!(done["verdict"], "reject", "{done}");
    assert_eq!(
        (done["approvals"].clone(), done["rejections"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(
        done["perCriterion"]["correctness"]["result"], "tie",
        "{done}"
    );
    let why = done["explanation"].as_str().unwrap_or_default();
    assert!(
        why.contains("tie") && why.contains("strict majority"),
        "{why}"
    );
    // The parent's event stream announces it, with the same outcome.
    let ev = next_where(&events, "consensus.completed", |f| {
        f.ty() == "consensus.completed"
    });
    let detail = &ev.json()["detail"];
    assert_eq!(detail["consensusId"], id.as_str(), "{}", ev.data);
    assert_eq!(detail["tie"], true, "{}", ev.data);
    assert_eq!(detail["verdict"], "reject", "{}", ev.data);
}
