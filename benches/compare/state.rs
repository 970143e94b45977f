//! Workload 6, state-change latency: a fake agent gets a line, prints some "work" and draws its
//! idle prompt; the clock runs from the input reaching the pty (the `/keys` reply) until
//! `GET /v1/sessions/:id` shows `idle` with a `lastActivity` after the input. The program
//! prints its prompt within microseconds of reading the line, so this is prompt → state change.
//!
//! With the coarse detector the quiet period (`--quiet-ms`) is part of the figure; the
//! profile-driven detector should recognise the prompt itself and beat it.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Result, bail};
use serde_json::json;

use crate::Config;
use crate::aegis::Daemon;
use crate::report::{Percentiles, Report, Row};

/// Polling interval of the session status: adds at most this to each sample.
const POLL: Duration = Duration::from_millis(1);

/// A state change slower than this is a failure, not a sample.
const CHANGE_TIMEOUT: Duration = Duration::from_secs(10);

/// STUB(detection): the fake agent. Replace this argv with the detection work's fake agent
/// (e.g. `tests/support/bin/<prefix>_fake_agent.py --prompt claude`) once it exists; the
/// loop below only needs a program that draws an idle prompt after each input line. Today
/// it is a shell loop drawing a Claude-like prompt box.
fn fake_agent_argv() -> Vec<String> {
    let script = r#"printf '╭────╮\n│ > │\n╰────╯\n'
while IFS= read -r line; do
  printf '\033[1m● Working on %s\033[0m\n' "$line"
  printf '╭────╮\n│ > │\n╰────╯\n'
done"#;
    vec!["sh".into(), "-c".into(), script.into()]
}

/// STUB(detection): the status the detector publishes for "the agent waits at its prompt".
/// The coarse detector says `idle`; keep this in step with the detection engine's names.
const PROMPT_STATUS: &str = "idle";

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub fn run(cfg: &Config, d: &Daemon, report: &mut Report) -> Result<()> {
    let mut http = d.http()?;
    let argv = fake_agent_argv();
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let id = d.create(&mut http, &argv)?;
    d.wait_status(&mut http, &id, PROMPT_STATUS, POLL, CHANGE_TIMEOUT)?;
    let keys = format!("/v1/sessions/{id}/keys");
    let mut samples = Vec::with_capacity(cfg.state_changes);
    for i in 0..cfg.state_changes {
        let sent_ms = epoch_ms();
        let r = http.post(&keys, &json!({ "keys": [format!("task{i}"), "Enter"] }))?;
        let t0 = Instant::now();
        if r.status != 200 {
            bail!("keys: {}", r.status);
        }
        loop {
            let s = d.session(&mut http, &id)?;
            if s["status"] == PROMPT_STATUS && s["lastActivity"].as_u64().unwrap_or(0) >= sent_ms {
                break;
            }
            if t0.elapsed() > CHANGE_TIMEOUT {
                bail!("no state change after input {i}: {s}");
            }
            std::thread::sleep(POLL);
        }
        samples.push(t0.elapsed());
    }
    d.delete(&mut http, &id)?;
    let p = Percentiles::of(&mut samples);
    let w = "6 state change";
    let sys = format!("aegis coarse detector, --quiet-ms {}", d.quiet_ms);
    report.push(Row::new(w, &sys, "p50", p.p50, "ms").versus(format!(
        "{:.1} ms beyond the quiet period",
        p.p50 - d.quiet_ms as f64
    )));
    report.push(
        Row::new(w, &sys, "p99", p.p99, "ms")
            .versus(format!(
                "{:.1} ms beyond the quiet period",
                p.p99 - d.quiet_ms as f64
            ))
            .target("≤ 100 ms", p.p99 <= 100.0),
    );
    report.note(format!(
        "State change: {} prompts from a stub fake agent (a shell loop; see STUB in benches/compare/state.rs), status polled every {} ms.",
        cfg.state_changes,
        POLL.as_millis()
    ));
    Ok(())
}
