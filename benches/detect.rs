//! Cost of one detection evaluation: the window read from a real vt100 screen plus every
//! rule of the profile, for the idle, working and permission screens of each agent. Run with
//! `cargo bench --bench detect`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use aegis::detect::profile::ProfileSet;
use aegis::detect::{DetectConfig, Detector};
use aegis::screen::Screen;
use criterion::{Criterion, criterion_group, criterion_main};

fn screen_of(text: &str) -> Screen {
    let mut s = Screen::new(160, 48, 0);
    // Many lines of transcript above, so the window has to skip content.
    for i in 0..60 {
        s.process(format!("  transcript line {i} with some ordinary prose in it\r\n").as_bytes());
    }
    s.process(text.replace('\n', "\r\n").as_bytes());
    s
}

fn bench(c: &mut Criterion) {
    let set = ProfileSet::builtin().expect("valid profiles");
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/screens");
    let cases = [
        ("claude", "idle/002_turn_finished"),
        ("claude", "working/001_spinner_tokens"),
        ("claude", "permission_prompt/001_bash"),
        ("codex", "working/001_working"),
        ("gemini", "idle/001_input"),
    ];
    for (agent, fixture) in cases {
        let text =
            std::fs::read_to_string(format!("{root}/{agent}/{fixture}.txt")).expect("fixture");
        let body: String = text
            .lines()
            .filter(|l| !l.starts_with("#!"))
            .collect::<Vec<_>>()
            .join("\n");
        let screen = screen_of(&body);
        let mut d = Detector::new(
            set.for_agent(agent),
            DetectConfig {
                quiet: Duration::from_millis(750),
                stall: Some(Duration::from_secs(300)),
                permission_timeout: None,
            },
            Instant::now(),
        );
        // Evaluations are debounced; step a fake clock past the debounce each time.
        let mut now = Instant::now();
        c.bench_function(&format!("evaluate/{agent}/{fixture}"), |b| {
            b.iter(|| {
                now += Duration::from_millis(10);
                black_box(d.evaluate(now, black_box(&screen), || None))
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
