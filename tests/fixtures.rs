//! The fixture suite: every screen under tests/fixtures/screens/<agent>/<state>/*.txt is run
//! through the detection engine with that agent's built-in profile and must come out in
//! <state>. Header lines `#! title: ...` set the OSC title; other `#!` lines are notes.

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
                let body: Vec<&str> = text
                    .lines()
                    .filter(|l| {
                        if let Some(t) = l.strip_prefix("#! title: ") {
                            title = t.to_owned();
                        }
                        !l.starts_with("#!")
                    })
                    .collect();
                let (got, rule, lines) = classify(&profile, &body.join("\n"), &title);
                count += 1;
                let got = got.map_or("none", |s| s.as_str());
                if got != state_name {
                    failures.push(format!(
                        "{}: expected {state_name}, got {got} (rule {rule:?}, lines {:?})",
                        file.path()
                            .strip_prefix(&root)
                            .unwrap_or(&file.path())
                            .display(),
                        lines.iter().map(|l| &l.text).collect::<Vec<_>>()
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
