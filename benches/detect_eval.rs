//! Criterion micro-benchmark of one detector evaluation on a typical agent screen. Kept in its
//! own file, apart from the other hot paths, because the detection engine replaces
//! `aegis::detect` and will adapt only this file. Run: `cargo bench --bench detect_eval`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use aegis::detect::Detector;
use aegis::screen::Screen;
use criterion::{Criterion, criterion_group, criterion_main};

/// A screen an agent leaves while waiting: some work output, a box-drawn prompt, a status line.
const TYPICAL_SCREEN: &str = "\x1b[1m● Edited src/main.rs\x1b[0m\r\n  \x1b[32m+ fn main() {}\x1b[0m\r\n\r\n\
    ╭──────────────────────────────────────────────╮\r\n\
    │ > \x1b[2mTry \"fix the failing test\"\x1b[0m                 │\r\n\
    ╰──────────────────────────────────────────────╯\r\n\
    \x1b[2m  ? for shortcuts\x1b[0m";

fn evaluate(c: &mut Criterion) {
    let mut screen = Screen::new(120, 40, 2000);
    screen.process(TYPICAL_SCREEN.as_bytes());
    let t0 = Instant::now();
    let quiet = Duration::from_millis(750);
    let mut g = c.benchmark_group("detect");
    g.bench_function("evaluate_working", |b| {
        let mut d = Detector::new(quiet, t0);
        d.on_output(t0);
        b.iter(|| black_box(d.evaluate(black_box(t0 + Duration::from_millis(10)), &screen)))
    });
    g.bench_function("evaluate_idle", |b| {
        let mut d = Detector::new(quiet, t0);
        d.on_output(t0);
        b.iter(|| black_box(d.evaluate(black_box(t0 + Duration::from_secs(5)), &screen)))
    });
    g.finish();
}

criterion_group!(benches, evaluate);
criterion_main!(benches);
