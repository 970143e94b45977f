//! The deterministic terminal-output corpus shared by the micro and macro benchmarks: what
//! an agent or a build prints, mixed from plain ASCII, 256-colour SGR, UTF-8 accents and box
//! drawing, CJK, emoji, tabs and long wrapping lines. The same seed and size always give the
//! same bytes, so runs on different days and machines compare.

#![allow(dead_code)] // each bench uses a different part

/// splitmix64: tiny, deterministic and good enough to pick line shapes (no dependency).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.range(0, items.len() - 1)]
    }
}

/// The kinds of line the corpus is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Printable ASCII, 20–120 columns (log lines, compiler output).
    Ascii,
    /// Words in 256-colour and bold/underline SGR, reset at line end (coloured diffs, ls).
    Sgr,
    /// Accented Latin, Greek and box drawing: 2-byte and 3-byte UTF-8.
    Unicode,
    /// CJK ideographs: 3-byte UTF-8, two columns each.
    Cjk,
    /// Emoji, including VS16 and a ZWJ sequence: 4-byte UTF-8, two columns.
    Emoji,
    /// Tab-separated columns (tables, `ls -l`-like output).
    Tabs,
    /// 300–2000 columns: wraps over many rows.
    Long,
}

/// The mix of the full corpus, in parts out of 100 lines.
const MIX: &[(Kind, usize)] = &[
    (Kind::Ascii, 40),
    (Kind::Sgr, 20),
    (Kind::Unicode, 10),
    (Kind::Cjk, 8),
    (Kind::Emoji, 7),
    (Kind::Tabs, 10),
    (Kind::Long, 5),
];

const WORDS: &[&str] = &[
    "error",
    "warning",
    "compiling",
    "aegis",
    "session",
    "screen",
    "Finished",
    "test",
    "ok",
    "running",
    "src/main.rs",
    "fn",
    "let",
    "match",
    "=>",
    "{",
    "}",
    "0x7f3a",
    "PASS",
    "FAIL",
];
const UNICODE: &[&str] = &[
    "é", "à", "ü", "ß", "ñ", "ø", "λ", "Ω", "π", "─", "│", "┌", "┐", "└", "┘", "├", "█", "░", "→",
    "✓", "✗", "…",
];
const CJK: &[&str] = &[
    "漢", "字", "日", "本", "語", "中", "文", "测", "试", "会", "话", "终", "端", "한", "국",
];
const EMOJI: &[&str] = &[
    "🙂",
    "🚀",
    "✨",
    "🔥",
    "📦",
    "✅",
    "❌",
    "❤️",
    "👍",
    "🎉",
    "👨‍👩‍👧",
];

fn ascii_line(rng: &mut Rng, out: &mut Vec<u8>, cols: usize) {
    for _ in 0..cols {
        // Printable ASCII with a bias towards letters and spaces, like real text.
        let c = match rng.range(0, 9) {
            0 => b' ',
            1 => b"0123456789"[rng.range(0, 9)],
            2 => b"-_=+()[]{};:,./<>?!@#$%^&*"[rng.range(0, 25)],
            _ => b'a' + rng.range(0, 25) as u8,
        };
        out.push(c);
    }
}

fn line(kind: Kind, rng: &mut Rng, out: &mut Vec<u8>) {
    match kind {
        Kind::Ascii => {
            let cols = rng.range(20, 120);
            ascii_line(rng, out, cols);
        }
        Kind::Sgr => {
            for _ in 0..rng.range(3, 12) {
                let attr = rng.range(0, 3);
                let style = match attr {
                    0 => format!("\x1b[38;5;{}m", rng.range(0, 255)),
                    1 => format!("\x1b[1;38;5;{}m", rng.range(0, 255)),
                    2 => format!("\x1b[4;48;5;{}m", rng.range(0, 255)),
                    _ => format!("\x1b[3{}m", rng.range(0, 7)),
                };
                out.extend_from_slice(style.as_bytes());
                out.extend_from_slice(rng.pick(WORDS).as_bytes());
                out.extend_from_slice(b"\x1b[0m ");
            }
        }
        Kind::Unicode => {
            for _ in 0..rng.range(10, 60) {
                if rng.range(0, 2) == 0 {
                    out.extend_from_slice(rng.pick(UNICODE).as_bytes());
                } else {
                    ascii_line(rng, out, 1);
                }
            }
        }
        Kind::Cjk => {
            for _ in 0..rng.range(5, 50) {
                out.extend_from_slice(rng.pick(CJK).as_bytes());
            }
        }
        Kind::Emoji => {
            for _ in 0..rng.range(3, 30) {
                out.extend_from_slice(rng.pick(EMOJI).as_bytes());
                out.push(b' ');
            }
        }
        Kind::Tabs => {
            for _ in 0..rng.range(2, 8) {
                out.extend_from_slice(rng.pick(WORDS).as_bytes());
                out.push(b'\t');
            }
        }
        Kind::Long => {
            let cols = rng.range(300, 2000);
            ascii_line(rng, out, cols);
        }
    }
}

/// The marker on the corpus's last line: seeing it on screen proves every byte was parsed.
pub const END_MARKER: &str = "AEGIS-CORPUS-END";

/// `size` bytes (rounded up to whole lines) of the given kinds, lines ended with `newline`
/// (`\n` for a file a child prints, since the pty adds `\r`; `\r\n` for feeding a screen
/// model directly). `None` means the full mix. The last line is [`END_MARKER`].
pub fn generate(size: usize, kind: Option<Kind>, newline: &[u8]) -> Vec<u8> {
    let mut rng = Rng::new(0x00ae_9150_2026);
    let mut out = Vec::with_capacity(size + 4096);
    let total: usize = MIX.iter().map(|(_, w)| w).sum();
    while out.len() < size {
        let k = kind.unwrap_or_else(|| {
            let mut n = rng.range(0, total - 1);
            let mut pick = Kind::Ascii;
            for &(k, w) in MIX {
                if n < w {
                    pick = k;
                    break;
                }
                n -= w;
            }
            pick
        });
        line(k, &mut rng, &mut out);
        out.extend_from_slice(newline);
    }
    out.extend_from_slice(END_MARKER.as_bytes());
    out.extend_from_slice(newline);
    out
}
