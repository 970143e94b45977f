//! Orchestration on the real agents: a fork that carries the parent's conversation, a
//! two-stage pipeline and a two-reviewer consensus review, each session started by the daemon
//! itself against the same model server.

use super::*;

/// Fork with history: the fork runs `claude --fork-session --resume <id>`, and its first model
/// turn carries the parent's conversation.
pub fn fork_sees_parent_history(agent: Agent) {
    let lab = Lab::new(agent);
    let id = lab.start(json!({}));
    lab.model.script(json!([
        { "say": "I will remember it (parent-ack)." },
        { "say": "The word was kept (fork-ack)." },
    ]));
    let secret = "Remember the word PARENT-SECRET-5b";
    lab.daemon.send(&id, secret);
    wait_screen_status(&lab, &id, "(parent-ack)", "idle", TURN);
    wait_until(TURN, "Claude's session id from its hooks", || {
        status_of(&lab, &id)["claudeSessionId"]
            .as_str()
            .map(str::to_owned)
    });
    let question = "Which word did I ask you to remember? (fork-q)";
    let (s, v) = lab.daemon.post(
        &format!("/v1/sessions/{id}/fork"),
        json!({ "prompt": question }),
    );
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let child = v["id"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("fork answered without a session id: {v}"));
    assert_eq!(v["forkedFrom"], id.as_str(), "{v}");
    let body = lab.wait_user_text(question, TURN);
    let texts = user_texts(agent, &body);
    assert!(
        texts.iter().any(|t| t == secret),
        "the fork's first model turn carries the parent's history: {texts:?}"
    );
    assert_eq!(
        texts.iter().filter(|t| *t == question).count(),
        1,
        "the fork's prompt arrived once: {texts:?}"
    );
    let argv = status_of(&lab, &child)["command"].to_string();
    assert!(argv.contains("--fork-session"), "{argv}");
    wait_screen_status(&lab, &child, "(fork-ack)", "idle", TURN);
}

/// A two-stage pipeline on the real agent: stage b starts after a, with a's reply in its
/// prompt; the pipeline completes.
pub fn pipeline_two_stages(agent: Agent) {
    let lab = Lab::new(agent);
    lab.model.script(json!([
        { "say": "ALPHA-RESULT-17" },
        { "say": "BETA-RESULT-29" },
    ]));
    let (s, v) = lab.daemon.post(
        "/v1/pipelines",
        json!({
            "name": "two-stages",
            "workDir": lab.work,
            "stages": [
                { "name": "a", "prompt": "Produce the alpha result (stage-a)",
                  "agentType": agent.name(), "command": agent.command() },
                { "name": "b", "prompt": "Check this: {{stages.a.output}} (stage-b)",
                  "agentType": agent.name(), "command": agent.command(), "dependsOn": ["a"] },
            ],
            "stageTimeoutMs": 90000,
        }),
    );
    assert!(s.is_success(), "{s}: {v}");
    let pid = v["id"].as_str().expect("pipeline id").to_owned();
    let done = wait_until(Duration::from_secs(180), "the pipeline to finish", || {
        let (_, p) = lab.daemon.get(&format!("/v1/pipelines/{pid}"));
        (p["status"] != "running" && p["status"] != "pending").then_some(p)
    });
    assert_eq!(done["status"], "completed", "{done}");
    let turns = lab.model.main_requests();
    let (a, b) = (
        turns
            .iter()
            .filter(|t| {
                user_texts(agent, t)
                    .iter()
                    .any(|x| x == "Produce the alpha result (stage-a)")
            })
            .count(),
        turns
            .iter()
            .find(|t| user_texts(agent, t).iter().any(|x| x.contains("(stage-b)")))
            .expect("stage b reached the model"),
    );
    assert_eq!(
        a,
        1,
        "stage a's prompt went to the model once; the model turns: {:?}",
        turns
            .iter()
            .map(|t| user_texts(agent, t))
            .collect::<Vec<_>>()
    );
    let texts = user_texts(agent, b);
    assert!(
        texts.iter().any(|t| t.contains("ALPHA-RESULT-17")),
        "stage b's prompt carries stage a's output: {texts:?}"
    );
    assert!(
        !texts
            .iter()
            .any(|t| t == "Produce the alpha result (stage-a)"),
        "stage b is a session of its own: {texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t == "Check this: ALPHA-RESULT-17 (stage-b)"),
        "stage a's output is its reply, not its screen: {texts:?}"
    );
}

/// A two-reviewer consensus on the real agent: both reviewers answer with a VERDICT line and
/// the review approves.
pub fn consensus_two_reviewers(agent: Agent) {
    let lab = Lab::new(agent);
    let id = lab.start(json!({}));
    lab.model
        .script(json!([{ "say": "I refactored the parser (parent-done)." }]));
    lab.daemon.send(&id, "Refactor the parser (work)");
    wait_screen_status(&lab, &id, "(parent-done)", "idle", TURN);
    lab.model.default_step(json!({
        "say": "Looks fine.\nVERDICT: {\"criteria\":{\"correctness\":\"pass\"},\"verdict\":\"approve\",\"reason\":\"mock review\"}"
    }));
    let (s, v) = lab.daemon.post(
        &format!("/v1/sessions/{id}/consensus"),
        json!({ "criteria": ["correctness"], "reviewers": 2, "timeoutMs": 150000 }),
    );
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let cid = v["id"].as_str().expect("consensus id").to_owned();
    let done = wait_until(Duration::from_secs(170), "the review to finish", || {
        let (_, c) = lab.daemon.get(&format!("/v1/consensus/{cid}"));
        (c["status"] != "running" && c["status"] != "pending").then_some(c)
    });
    assert_eq!(done["verdict"], "approve", "{done}");
    assert_eq!(done["approvals"], 2, "{done}");
    let reviews = lab
        .model
        .main_requests()
        .iter()
        .filter(|b| {
            user_texts(agent, b)
                .iter()
                .any(|t| t.contains("correctness"))
        })
        .count();
    assert!(reviews >= 2, "two reviewers asked the model: {reviews}");
}
