//! The history: lines that left the top of the screen, kept at the cost of their content.
//!
//! A visible row is a vector of 8-byte cells, most of them blank; a history line is one
//! allocation holding the row's text (UTF-8 of its used cells, padding implied) and its
//! attribute runs (pen, kind, length), typically 100-250 bytes for a line of coloured text
//! instead of 8 bytes per column. Lines are converted when they scroll off and back when a
//! resize pulls them onto the screen or reflows them, so every read (capture, `/read`,
//! attach) sees exactly the cells tmux would keep, including tmux's "used" extent and
//! cleared cells.
//!
//! The limit follows tmux: once the history holds `limit` lines, the oldest tenth is dropped
//! at once before the next line is added. A byte limit works the same way, by tenths.
//!
//! Line layout: `[u16 used][u16 size][u16 runs][u8 flags]`, then each run as
//! `[u16 attr][u32 fg][u32 bg][u32 us][u8 kind][u16 len]`, then the text. `len` counts text
//! bytes, except in a padding run, where it counts cells.

use std::collections::VecDeque;

use super::grid::{CLEARED, CLUSTER, Cell, PADDING, Pen, PenTable, Row, clamp_u16};
use super::width;

const HEADER: usize = 7;
const RUN: usize = 17;

/// Run kinds (bits).
const KIND_CLEARED: u8 = 0x1;
/// Padding cells without a wide character before them; no text.
const KIND_PADDING: u8 = 0x2;
/// Each cell's text is prefixed with its byte length (characters with combining marks).
const KIND_CLUSTER: u8 = 0x4;
/// Wide characters here are not followed by their padding cell.
const KIND_WIDOW: u8 = 0x8;

/// One history line (see the module doc for the layout).
#[derive(Clone, PartialEq, Eq)]
pub struct Line(Box<[u8]>);

impl std::fmt::Debug for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Line(used {}, {:?})", self.used(), self.text_part())
    }
}

#[inline]
fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

#[inline]
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// A cell as read back from a line.
#[derive(Debug, Clone, Copy)]
pub struct CellRef<'a> {
    pub text: &'a str,
    pub width: u8,
    pub pen: Pen,
    pub flags: u8,
}

impl CellRef<'_> {
    /// The right half of a wide character.
    pub const PADDING: CellRef<'static> = CellRef {
        text: "",
        width: 0,
        pen: Pen::DEFAULT,
        flags: PADDING,
    };
}

/// Scratch space for encoding, reused across lines.
#[derive(Debug, Default)]
pub struct Encoder {
    runs: Vec<u8>,
    text: Vec<u8>,
}

#[derive(PartialEq, Eq, Clone, Copy)]
struct RunKey {
    pen: u16,
    kind: u8,
}

/// The run a cell belongs to, and how many cells it takes (a wide character and its
/// padding are one step).
#[inline]
fn classify(cells: &[Cell], x: usize) -> (RunKey, usize) {
    let c = cells[x];
    if c.is_padding() {
        return (
            RunKey {
                pen: 0,
                kind: KIND_PADDING,
            },
            1,
        );
    }
    let mut kind = 0;
    if c.flags & CLEARED != 0 {
        kind |= KIND_CLEARED;
    }
    if c.flags & CLUSTER != 0 {
        kind |= KIND_CLUSTER;
    }
    let mut step = 1;
    if c.width == 2 {
        if cells.get(x + 1).is_some_and(|n| n.is_padding()) {
            step = 2;
        } else {
            kind |= KIND_WIDOW;
        }
    }
    (RunKey { pen: c.pen, kind }, step)
}

impl Encoder {
    /// Encode `row` (whose pens are in `pens`) as a history line.
    pub fn encode(&mut self, row: &Row, pens: &PenTable) -> Line {
        self.runs.clear();
        self.text.clear();
        let used = usize::from(row.used).min(row.cells.len());
        let cells = &row.cells[..used];
        let mut nruns = 0usize;
        let mut x = 0;
        while x < cells.len() {
            let (key, _) = classify(cells, x);
            let start = self.text.len();
            let mut pads = 0usize;
            while x < cells.len() {
                // Plain single-width characters in the same pen: most of any line.
                if key.kind == 0 {
                    let n = cells[x..]
                        .iter()
                        .position(|c| {
                            c.pen != key.pen || c.flags != 0 || c.width != 1 || c.ch >= 0x80
                        })
                        .unwrap_or(cells.len() - x);
                    self.text.extend(cells[x..x + n].iter().map(|c| c.ch as u8));
                    x += n;
                    if x >= cells.len() {
                        break;
                    }
                }
                let (k, step) = classify(cells, x);
                if k != key {
                    break;
                }
                let c = cells[x];
                if k.kind & KIND_PADDING != 0 {
                    pads += 1;
                } else if k.kind & KIND_CLUSTER != 0 {
                    let mut buf = [0u8; 4];
                    let t = row.text(&c, &mut buf);
                    let t = &t.as_bytes()[..t.len().min(255)];
                    self.text.push(t.len() as u8);
                    self.text.extend_from_slice(t);
                } else {
                    self.push_char(c.ch);
                }
                x += step;
            }
            self.push_run(key, pens, start, pads);
            nruns += 1;
        }
        let mut out = Vec::with_capacity(HEADER + self.runs.len() + self.text.len());
        out.extend_from_slice(&clamp_u16(used).to_le_bytes());
        out.extend_from_slice(&clamp_u16(row.cells.len()).to_le_bytes());
        out.extend_from_slice(&clamp_u16(nruns).to_le_bytes());
        out.push(row.flags);
        out.extend_from_slice(&self.runs);
        out.extend_from_slice(&self.text);
        Line(out.into_boxed_slice())
    }

    #[inline]
    fn push_char(&mut self, ch: u32) {
        if ch < 0x80 {
            self.text.push(ch as u8);
        } else {
            let mut buf = [0u8; 4];
            let ch = char::from_u32(ch).unwrap_or(' ');
            self.text
                .extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        }
    }

    fn push_run(&mut self, k: RunKey, pens: &PenTable, start: usize, pads: usize) {
        let pen = if k.kind & KIND_PADDING != 0 {
            Pen::DEFAULT
        } else {
            pens.get(k.pen)
        };
        let len = if k.kind & KIND_PADDING != 0 {
            pads
        } else {
            self.text.len() - start
        };
        self.runs.extend_from_slice(&pen.attr.to_le_bytes());
        self.runs.extend_from_slice(&pen.fg.to_le_bytes());
        self.runs.extend_from_slice(&pen.bg.to_le_bytes());
        self.runs.extend_from_slice(&pen.us.to_le_bytes());
        self.runs.push(k.kind);
        self.runs.extend_from_slice(&clamp_u16(len).to_le_bytes());
    }
}

impl Line {
    /// tmux's `cellused` of the line.
    pub fn used(&self) -> usize {
        usize::from(u16_at(&self.0, 0))
    }

    fn size(&self) -> usize {
        usize::from(u16_at(&self.0, 2))
    }

    fn nruns(&self) -> usize {
        usize::from(u16_at(&self.0, 4))
    }

    pub fn flags(&self) -> u8 {
        self.0[6]
    }

    pub fn wrapped(&self) -> bool {
        self.flags() & super::grid::WRAPPED != 0
    }

    fn text_part(&self) -> &[u8] {
        let at = HEADER + self.nruns() * RUN;
        self.0.get(at..).unwrap_or_default()
    }

    pub fn heap_bytes(&self) -> usize {
        self.0.len()
    }

    pub fn set_wrapped(&mut self, on: bool) {
        if on {
            self.0[6] |= super::grid::WRAPPED;
        } else {
            self.0[6] &= !super::grid::WRAPPED;
        }
    }

    /// Call `f` for every cell up to `used`, in order (padding cells included).
    pub fn for_each_cell(&self, mut f: impl FnMut(CellRef<'_>)) {
        let b = &*self.0;
        let text = self.text_part();
        let mut t = 0usize;
        // Every cell goes out through `give`, which stops once the line's `used` cells are out.
        let mut left = self.used();
        let mut give = |cell: CellRef<'_>| {
            if left == 0 {
                return false;
            }
            left -= 1;
            f(cell);
            true
        };
        for r in 0..self.nruns() {
            let at = HEADER + r * RUN;
            let pen = Pen {
                attr: u16_at(b, at),
                fg: u32_at(b, at + 2),
                bg: u32_at(b, at + 6),
                us: u32_at(b, at + 10),
            };
            let kind = b[at + 14];
            let len = usize::from(u16_at(b, at + 15));
            if kind & KIND_PADDING != 0 {
                for _ in 0..len {
                    if !give(CellRef::PADDING) {
                        return;
                    }
                }
                continue;
            }
            let end = (t + len).min(text.len());
            let run = std::str::from_utf8(&text[t..end]).unwrap_or("");
            t = end;
            let flags = if kind & KIND_CLEARED != 0 { CLEARED } else { 0 };
            let mut rest = run;
            while !rest.is_empty() {
                let cell_text;
                if kind & KIND_CLUSTER != 0 {
                    let n = usize::from(rest.as_bytes()[0]);
                    let body = rest.get(1..1 + n).unwrap_or("");
                    cell_text = body;
                    rest = rest.get(1 + n..).unwrap_or("");
                } else {
                    let ch_len = rest.chars().next().map_or(1, char::len_utf8);
                    cell_text = &rest[..ch_len];
                    rest = &rest[ch_len..];
                }
                let first = cell_text.chars().next().unwrap_or(' ');
                let w = width::of(first).clamp(1, 2);
                let cell = CellRef {
                    text: cell_text,
                    width: w,
                    pen,
                    flags: flags | if kind & KIND_CLUSTER != 0 { CLUSTER } else { 0 },
                };
                if !give(cell) {
                    return;
                }
                if w == 2 && kind & KIND_WIDOW == 0 && !give(CellRef::PADDING) {
                    return;
                }
            }
        }
    }

    /// The row this line was made from, its pens interned into `pens`.
    pub fn decode(&self, pens: &mut PenTable) -> Row {
        let mut row = Row {
            cells: Vec::with_capacity(self.size().max(self.used())),
            used: clamp_u16(self.used()),
            flags: self.flags(),
            clusters: Vec::new(),
        };
        let mut clusters: Vec<Box<str>> = Vec::new();
        self.for_each_cell(|c| {
            let cell = if c.flags & PADDING != 0 {
                Cell::PADDING
            } else if c.flags & CLUSTER != 0 {
                clusters.push(c.text.into());
                Cell {
                    ch: (clusters.len() - 1) as u32,
                    pen: pens.intern(c.pen),
                    flags: c.flags,
                    width: c.width,
                }
            } else {
                Cell {
                    ch: c.text.chars().next().map_or(u32::from(b' '), u32::from),
                    pen: pens.intern(c.pen),
                    flags: c.flags,
                    width: c.width,
                }
            };
            row.cells.push(cell);
        });
        row.clusters = clusters;
        // Cells between `used` and tmux's `cellsize` are cleared cells.
        let size = self.size().max(row.cells.len());
        let cleared = super::grid::cleared_cell(super::grid::COLOUR_DEFAULT, pens);
        row.cells.resize(size, cleared);
        row
    }
}

/// One history line: compact, or (freshly scrolled off, see [`History`]) still a row.
#[derive(Debug)]
pub enum Entry {
    Compact(Line),
    Raw(Box<Row>),
}

impl Entry {
    pub fn used(&self) -> usize {
        match self {
            Entry::Compact(l) => l.used(),
            Entry::Raw(r) => usize::from(r.used).min(r.cells.len()),
        }
    }

    pub fn wrapped(&self) -> bool {
        match self {
            Entry::Compact(l) => l.wrapped(),
            Entry::Raw(r) => r.wrapped(),
        }
    }

    pub fn set_wrapped(&mut self, on: bool) {
        match self {
            Entry::Compact(l) => l.set_wrapped(on),
            Entry::Raw(r) => r.set_wrapped(on),
        }
    }

    /// The size the byte limit counts: the used cells plus a fixed overhead per line, the
    /// same whichever form the line is in (so what is trimmed never depends on when lines
    /// were compacted).
    fn content_bytes(&self) -> usize {
        self.used() + LINE_OVERHEAD
    }
}

/// Per-line overhead counted against the byte limit (header, runs, allocation).
const LINE_OVERHEAD: usize = 48;

/// Spare rows kept for reuse as new screen rows, at least: a trim frees a tenth of the
/// limit at once, and keeping that many means scrolling allocates nothing.
const SPARE_ROWS: usize = 64;

/// The history of one screen, oldest line first.
///
/// Lines enter as the rows they were on the screen and are compacted later
/// ([`History::compact`], when the session goes quiet): during a flood most lines are
/// dropped by the limit before anyone reads them, and then they are never encoded, and
/// their cells are reused for new rows. Reads see both forms alike.
#[derive(Debug, Default)]
pub struct History {
    entries: VecDeque<Entry>,
    /// Lines kept at most (tmux's `history-limit`); 0 keeps none.
    pub limit: usize,
    /// Content bytes kept at most (0 = no byte limit; see [`Entry::content_bytes`]).
    pub byte_limit: usize,
    bytes: usize,
    /// Raw entries not compacted yet.
    raw: usize,
    /// Rows of dropped raw lines, ready to be reused (boxed as screen rows are, so reuse
    /// moves a pointer).
    #[allow(clippy::vec_box)] // reason: the boxes are handed to the screen as they are
    spare: Vec<Box<Row>>,
}

impl History {
    pub fn new(limit: usize, byte_limit: usize) -> History {
        History {
            limit,
            byte_limit,
            ..History::default()
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, i: usize) -> Option<&Entry> {
        self.entries.get(i)
    }

    pub fn newest_mut(&mut self) -> Option<&mut Entry> {
        self.entries.back_mut()
    }

    /// tmux's `grid_collect_history`: at the limit, drop the oldest tenth (and, past the
    /// byte limit, more tenths until a tenth of it is free). Returns how many were dropped.
    pub fn collect(&mut self) -> usize {
        let len = self.entries.len();
        let over_lines = len != 0 && len >= self.limit;
        let over_bytes = self.byte_limit != 0 && self.bytes >= self.byte_limit;
        if !over_lines && !over_bytes {
            return 0;
        }
        let tenth = (self.limit / 10).max(1);
        let mut n = if over_lines { tenth.min(len) } else { 0 };
        if over_bytes {
            let target = self.byte_limit - self.byte_limit / 10;
            let step = (len / 10).max(1);
            let mut k = 0;
            let mut freed = 0;
            while self.bytes - freed > target && k < len {
                let end = (k + step).min(len);
                freed += self
                    .entries
                    .range(k..end)
                    .map(Entry::content_bytes)
                    .sum::<usize>();
                k = end;
            }
            n = n.max(k);
        }
        self.drop_oldest(n);
        n
    }

    fn drop_oldest(&mut self, n: usize) {
        for _ in 0..n.min(self.entries.len()) {
            if let Some(e) = self.entries.pop_front() {
                self.forget(&e);
                if let Entry::Raw(mut row) = e
                    && self.spare.len() < SPARE_ROWS.max(self.limit / 10)
                {
                    row.reset();
                    self.spare.push(row);
                }
            }
        }
    }

    fn forget(&mut self, e: &Entry) {
        self.bytes -= e.content_bytes();
        if matches!(e, Entry::Raw(_)) {
            self.raw -= 1;
        }
    }

    fn add(&mut self, e: Entry) {
        self.bytes += e.content_bytes();
        if matches!(e, Entry::Raw(_)) {
            self.raw += 1;
        }
        self.entries.push_back(e);
    }

    /// Add a compact line.
    pub fn push(&mut self, line: Line) {
        self.add(Entry::Compact(line));
    }

    /// Add a row as it was on the screen.
    pub fn push_row(&mut self, row: Box<Row>) {
        self.add(Entry::Raw(row));
    }

    /// An empty row for the screen, reusing a dropped line's cells when there is one.
    pub fn take_spare(&mut self) -> Box<Row> {
        self.spare.pop().unwrap_or_default()
    }

    /// Remove and return the newest line.
    pub fn pop_newest(&mut self) -> Option<Entry> {
        let e = self.entries.pop_back()?;
        self.forget(&e);
        Some(e)
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
        self.raw = 0;
    }

    /// Take every line out (for a reflow).
    pub fn take_all(&mut self) -> VecDeque<Entry> {
        self.bytes = 0;
        self.raw = 0;
        std::mem::take(&mut self.entries)
    }

    /// Encode the lines still kept as rows. Returns whether there were any.
    pub fn compact(&mut self, enc: &mut Encoder, pens: &PenTable) -> bool {
        if self.raw == 0 {
            return false;
        }
        for e in self.entries.iter_mut().rev() {
            if self.raw == 0 {
                break;
            }
            if let Entry::Raw(row) = e {
                let line = enc.encode(row, pens);
                *e = Entry::Compact(line);
                self.raw -= 1;
            }
        }
        self.spare = Vec::new();
        true
    }

    /// Rows still raw (their pens must survive a pen-table compaction).
    pub fn raw_rows_mut(&mut self) -> impl Iterator<Item = &mut Row> {
        self.entries.iter_mut().filter_map(|e| match e {
            Entry::Raw(r) => Some(&mut **r),
            Entry::Compact(_) => None,
        })
    }

    pub fn heap_bytes(&self) -> usize {
        self.entries
            .iter()
            .map(|e| match e {
                Entry::Compact(l) => l.heap_bytes(),
                Entry::Raw(r) => r.heap_bytes() + std::mem::size_of::<Row>(),
            })
            .sum::<usize>()
            + self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.spare.iter().map(|r| r.heap_bytes()).sum::<usize>()
    }
}
