//! Criterion micro-benchmarks of the per-byte and per-request hot paths, through the library
//! crate: pty output into the screen model, snapshots as text and ANSI, and tmux key-name
//! encoding. Run: `cargo bench --bench hot_paths` (quick: append `-- --warm-up-time 1
//! --measurement-time 2`). Numbers on the shared 2-core VM are noisy; compare runs on one
//! machine, never gate CI on them.

#[path = "common/corpus.rs"]
mod corpus;

use std::hint::black_box;

use aegis::screen::{Format, Screen};
use aegis::session::keys;
use corpus::Kind;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Corpus fed per iteration: big enough to scroll the screen and fill the scrollback many
/// times, small enough for criterion to take its samples in seconds.
const CORPUS_BYTES: usize = 1 << 20;

/// The read size the pty reader typically hands the actor (Linux gives about a page per read).
const CHUNK_BYTES: usize = 4096;

/// The daemon's defaults: a 120×40 terminal with 2000 lines of scrollback.
const COLS: u16 = 120;
const ROWS: u16 = 40;
const SCROLLBACK: usize = 2000;

fn process(c: &mut Criterion) {
    let mut g = c.benchmark_group("screen_process");
    let kinds = [
        ("mixed", None),
        ("ascii", Some(Kind::Ascii)),
        ("sgr", Some(Kind::Sgr)),
        ("cjk", Some(Kind::Cjk)),
        ("emoji", Some(Kind::Emoji)),
        ("long_lines", Some(Kind::Long)),
    ];
    for (name, kind) in kinds {
        let data = corpus::generate(CORPUS_BYTES, kind, b"\r\n");
        g.throughput(Throughput::Bytes(data.len() as u64));
        let mut screen = Screen::new(COLS, ROWS, SCROLLBACK);
        g.bench_function(name, |b| {
            b.iter(|| {
                for chunk in data.chunks(CHUNK_BYTES) {
                    black_box(screen.process(black_box(chunk)));
                }
            })
        });
    }
    g.finish();
}

fn snapshot(c: &mut Criterion) {
    let mut screen = Screen::new(COLS, ROWS, SCROLLBACK);
    screen.process(&corpus::generate(CORPUS_BYTES, None, b"\r\n"));
    let mut g = c.benchmark_group("screen_snapshot");
    g.bench_function("text_visible", |b| {
        b.iter(|| black_box(screen.snapshot(None, Format::Text)))
    });
    g.bench_function("ansi_visible", |b| {
        b.iter(|| black_box(screen.snapshot(None, Format::Ansi)))
    });
    g.bench_function("text_2000_lines", |b| {
        b.iter(|| black_box(screen.snapshot(Some(2000), Format::Text)))
    });
    g.bench_function("ansi_2000_lines", |b| {
        b.iter(|| black_box(screen.snapshot(Some(2000), Format::Ansi)))
    });
    g.bench_function("redraw", |b| b.iter(|| black_box(screen.redraw())));
    g.finish();
}

fn key_encoding(c: &mut Criterion) {
    // What a supervisor sends most: submit, interrupt, navigation, a chord, plain text.
    let keys = [
        "Enter",
        "C-c",
        "Up",
        "Down",
        "M-x",
        "S-Up",
        "F5",
        "BSpace",
        "Tab",
        "Escape",
        "C-M-a",
        "PageUp",
        "yes, apply the fix",
    ];
    let mut g = c.benchmark_group("keys");
    g.throughput(Throughput::Elements(keys.len() as u64));
    g.bench_function("encode_all", |b| {
        b.iter(|| black_box(keys::encode_all(black_box(&keys), false)))
    });
    g.bench_function("encode_all_app_cursor", |b| {
        b.iter(|| black_box(keys::encode_all(black_box(&keys), true)))
    });
    g.finish();
}

criterion_group!(benches, process, snapshot, key_encoding);
criterion_main!(benches);
