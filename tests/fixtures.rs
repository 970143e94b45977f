//! The fixture suite: every screen under tests/fixtures/screens/<agent>/<state>/*.txt is run
//! through the detection engine with that agent's built-in profile and must come out in
//! <state> (`skip`: a viewer-mode rule keeps the previous state). Header lines `#! title: ...`
//! set the OSC title, `#! report: ...` the agent's OSC 7501 state report (its payload),
//! `#! evidence: ...` what must decide (`screen`, `title` or `report`; not checked without
//! it), `#! ui: ...` is the `ui` hint the screen must give (none without it),
//! `#! dialog-first: ...` / `#! dialog-last: ...` the first and last rows of the dialog found
//! (read's `interactiveContent`; compared trimmed); other `#!` lines are notes.

use std::path::Path;

use aegis::detect::classify;
use aegis::detect::profile::ProfileSet;

#[test]
fn every_fixture_is_classified_as_its_directory_says() {
    let set = ProfileSet::builtin().expect("built-in profiles are valid");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/screens");
    let mut failures = Vec::new();
    let mut count = 0;
    for agent in std::fs::read_dir(&root).expect("fixtures dir").flatten() {
        let agent_name = agent.file_name().to_string_lossy().into_owned();
        let profile = set
            .get(&agent_name)
            .unwrap_or_else(|| panic!("no profile for fixture dir {agent_name}"));
        for state in std::fs::read_dir(agent.path())
            .expect("agent dir")
            .flatten()
        {
            let state_name = state.file_name().to_string_lossy().into_owned();
            for file in std::fs::read_dir(state.path())
                .expect("state dir")
                .flatten()
            {
                let text = std::fs::read_to_string(file.path()).expect("fixture");
                let mut title = String::new();
                let mut report = String::new();
                let mut evidence = None;
                let mut ui = None;
                let mut dialog: [Option<String>; 2] = [None, None];
                let body: Vec<&str> = text
                    .lines()
                    .filter(|l| {
                        if let Some(t) = l.strip_prefix("#! title: ") {
                            title = t.to_owned();
                        }
                        if let Some(r) = l.strip_prefix("#! report: ") {
                            report = r.to_owned();
                        }
                        if let Some(e) = l.strip_prefix("#! evidence: ") {
                            evidence = Some(e.trim().to_owned());
                        }
                        if let Some(u) = l.strip_prefix("#! ui: ") {
                            ui = Some(u.trim().to_owned());
                        }
                        for (i, key) in ["#! dialog-first: ", "#! dialog-last: "].iter().enumerate()
                        {
                            if let Some(d) = l.strip_prefix(key) {
                                dialog[i] = Some(d.trim().to_owned());
                            }
                        }
                        !l.starts_with("#!")
                    })
                    .collect();
                let c = classify(&profile, &body.join("\n"), &title, &report);
                count += 1;
                let got = match (c.state, &c.rule) {
                    (Some(s), _) => s.as_str(),
                    (None, Some(_)) => "skip",
                    (None, None) => "none",
                };
                let got_ui = c.ui.map(|h| h.as_str().to_owned());
                let got_dialog = [c.dialog.first(), c.dialog.last()]
                    .map(|l| l.map(|l| l.text.trim().to_owned()));
                let dialog_ok = dialog
                    .iter()
                    .zip(&got_dialog)
                    .all(|(want, got)| want.is_none() || want == got);
                if !dialog_ok {
                    failures.push(format!(
                        "{}: dialog rows {got_dialog:?}, expected {dialog:?}",
                        file.path().display()
                    ));
                }
                let got_evidence = c.evidence.as_str();
                if evidence.as_deref().is_some_and(|e| e != got_evidence) {
                    failures.push(format!(
                        "{}: decided by {got_evidence} (rule {:?}), expected {evidence:?}",
                        file.path().display(),
                        c.rule
                    ));
                }
                if got != state_name || got_ui != ui {
                    failures.push(format!(
                        "{}: expected {state_name} (ui {ui:?}), got {got} (ui {got_ui:?}, rule {:?}, lines {:?})",
                        file.path()
                            .strip_prefix(&root)
                            .unwrap_or(&file.path())
                            .display(),
                        c.rule,
                        c.lines.iter().map(|l| &l.text).collect::<Vec<_>>()
                    ));
                }
            }
        }
    }
    assert!(count >= 50, "only {count} fixtures found");
    assert!(
        failures.is_empty(),
        "{} of {count} fixtures misclassified:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
