//! Parsing speed of the screen models Aegis could use, side by side on the same bytes: the
//! benchmark corpus (mixed, and ASCII only) and full-screen redraws (an agent's TUI repainting
//! its frame), fed in 64 KiB chunks to a 120×40 terminal with no history and with 2000 lines
//! of it. One thread; each figure is the median of seven runs of thread CPU time, in MB/s.
//!
//! Run: `cargo run --release --manifest-path benches/models/Cargo.toml` (about a minute).

#[path = "../../common/corpus.rs"]
mod corpus;

use std::hint::black_box;
use std::num::NonZeroU16;
use std::time::Duration;

use alacritty_terminal::event::VoidListener;
use alacritty_terminal::term::test::TermSize;
use alacritty_terminal::term::{Config, Term};
use alacritty_terminal::vte::ansi::Processor;

const COLS: u16 = 120;
const ROWS: u16 = 40;
/// vt100 0.18 takes its size as non-zero numbers.
const NZ_ROWS: NonZeroU16 = NonZeroU16::new(ROWS).unwrap();
const NZ_COLS: NonZeroU16 = NonZeroU16::new(COLS).unwrap();
const CHUNK: usize = 64 * 1024;
const BYTES: usize = 16 << 20;
const RUNS: usize = 7;

/// CPU time of the calling thread: what the parse cost, whatever else the machine ran.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant the kernel knows.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Full-screen frames as a TUI draws them: home, then every row in colour, cleared to its end.
fn redraws(size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 8192);
    let mut frame = 0usize;
    while out.len() < size {
        out.extend_from_slice(b"\x1b[H");
        for row in 0..usize::from(ROWS) {
            let colour = 16 + (frame + row) % 216;
            let text = format!(
                "\x1b[38;5;{colour}m{row:>3} frame {frame:<8}\x1b[0m {}\x1b[K",
                "working on the task at hand ".repeat(3)
            );
            out.extend_from_slice(text.as_bytes());
            if row + 1 < usize::from(ROWS) {
                out.extend_from_slice(b"\r\n");
            }
        }
        frame += 1;
    }
    out
}

/// MB/s of `parse` over `data`, the median of [`RUNS`], each on a fresh model from `fresh`.
fn speed<M>(data: &[u8], fresh: impl Fn() -> M, parse: impl Fn(&mut M, &[u8])) -> f64 {
    let mut rates: Vec<f64> = (0..RUNS)
        .map(|_| {
            let mut model = fresh();
            let t0 = thread_cpu();
            for chunk in data.chunks(CHUNK) {
                parse(&mut model, black_box(chunk));
            }
            black_box(&mut model);
            data.len() as f64 / 1e6 / (thread_cpu() - t0).as_secs_f64()
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    rates[RUNS / 2]
}

fn main() {
    let corpora = [
        ("mixed", corpus::generate(BYTES, None, b"\r\n")),
        (
            "ascii",
            corpus::generate(BYTES, Some(corpus::Kind::Ascii), b"\r\n"),
        ),
        ("redraw", redraws(BYTES)),
    ];
    println!("| model | history | mixed | ascii | redraw |");
    println!("|---|---:|---:|---:|---:|");
    for history in [0usize, 2000] {
        let row = |name: &str, rates: Vec<f64>| {
            let cells: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
            println!("| {name} | {history} | {} |", cells.join(" | "));
        };
        row(
            "aegis screen",
            corpora
                .iter()
                .map(|(_, data)| {
                    speed(
                        data,
                        || aegis::screen::Screen::new(COLS, ROWS, history),
                        |s, b| {
                            black_box(s.process(b));
                        },
                    )
                })
                .collect(),
        );
        row(
            "vt100 0.18.1",
            corpora
                .iter()
                .map(|(_, data)| {
                    speed(
                        data,
                        || vt100::Parser::new(NZ_ROWS, NZ_COLS, history),
                        |p, b| p.process(b),
                    )
                })
                .collect(),
        );
        row(
            "alacritty_terminal 0.26.0",
            corpora
                .iter()
                .map(|(_, data)| {
                    speed(
                        data,
                        || {
                            let config = Config {
                                scrolling_history: history,
                                ..Config::default()
                            };
                            let size = TermSize::new(usize::from(COLS), usize::from(ROWS));
                            (
                                Term::new(config, &size, VoidListener),
                                Processor::<alacritty_terminal::vte::ansi::StdSyncHandler>::new(),
                            )
                        },
                        |(term, parser), b| parser.advance(term, b),
                    )
                })
                .collect(),
        );
    }
}
