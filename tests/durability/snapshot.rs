//! A restarted daemon rebuilds a session's whole history from its holder even when the raw
//! output behind it is far larger than the holder's replay ring: the daemon hands the holder
//! snapshots of its screen and history, which the ring keeps in place of the raw output.

use std::time::Duration;

use serde_json::json;

use super::Cleanup;
use crate::support::{Daemon, Options, id_of, wait_until};

const T: Duration = Duration::from_secs(30);

/// Bursts of progress lines, one burst per line of input: each line is redrawn five times
/// before the next (as agents redraw their status), so the raw output is five times what
/// stays on screen.
const PRINTER: &str = r#"
import sys
n = 0
for _ in sys.stdin:
    for i in range(100):
        n += 1
        for k in range(5):
            sys.stdout.write(f"\r\x1b[3{k + 1}mline {n:05d} step {k}/4 \x1b[1m{'#' * (40 + n % 17)}\x1b[0m")
        sys.stdout.write("\r\n")
    sys.stdout.write(f"BURST {n} DONE\r\n")
    sys.stdout.flush()
"#;

#[test]
fn a_history_larger_than_the_replay_ring_survives_a_daemon_restart() {
    // A 64 KiB ring against ~270 KB of raw output whose last 300 lines are the history.
    let mut d = Daemon::start_with(Options {
        args: &["--holder-ring-bytes", "65536"],
        env: &[("AEGIS_KILL_SESSIONS_ON_EXIT", "false")],
    });
    let _cleanup = Cleanup(d.dir.path().to_path_buf());
    let id = id_of(&d.create(json!({
        "workDir": d.work_dir(), "agentType": "custom", "cols": 100, "rows": 10,
        "historyLines": 300,
        "command": ["python3", "-u", "-c", PRINTER],
    })));
    let holder_log = d.dir.path().join(format!("state/sessions/{id}/holder.log"));
    let compactions = || {
        std::fs::read_to_string(&holder_log)
            .unwrap_or_default()
            .matches("replay ring compacted")
            .count()
    };
    // Each burst (~45 KB of raw output) is followed by a quiet moment, in which the daemon
    // hands the holder a snapshot of everything so far.
    for burst in 1..=6 {
        d.send(&id, "go");
        d.wait_screen(&id, &format!("BURST {} DONE", burst * 100), T);
        wait_until(T, "the holder to keep a snapshot of the burst", || {
            (compactions() >= burst).then_some(())
        });
    }
    let read = |d: &Daemon, format: &str| {
        d.get(&format!(
            "/v1/sessions/{id}/read?lines=2000&format={format}"
        ))
        .1["output"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let (text, ansi) = (read(&d, "text"), read(&d, "ansi"));
    // The history is full: 270 to 300 lines above the screen (tmux's rule: a full history
    // drops its oldest tenth at once), all of them from long after the first 64 KB of output.
    assert!(text.lines().count() >= 270, "{text}");
    assert!(text.starts_with("line 00"), "{text}");
    assert!(text.ends_with("BURST 600 DONE"), "{text}");

    d.kill9();
    d.restart();
    wait_until(T, "the session to be rebuilt", || {
        read(&d, "text").ends_with("BURST 600 DONE").then_some(())
    });
    assert_eq!(read(&d, "text"), text);
    assert_eq!(read(&d, "ansi"), ansi);
}
