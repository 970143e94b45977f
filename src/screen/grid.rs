//! Cells, rows and the pen table of the visible screen: the storage under the terminal model.
//!
//! The layout follows tmux's grid (grid.c), because capture output depends on its
//! bookkeeping, not only on what a cell shows:
//! - a row's `cells` vector is tmux's `cellsize`: cells past its end read as the default
//!   cell, and it grows in steps of a quarter, a half and the whole width;
//! - `used` is tmux's `cellused`: the end of the last cell ever *set* on the row (written,
//!   padded or moved there), which `capture-pane -J` prints up to, written spaces included;
//! - cleared cells (erased with EL, ED, ECH) are flagged apart from written spaces;
//! - a wide character is a cell of width 2 followed by a padding cell; either can exist
//!   without the other after edits (a DCH through a wide character leaves its padding).
//!
//! A cell is 8 bytes: its character (or the index of a multi-character cluster kept in the
//! row), the index of its pen (attributes and colours, interned per screen), flags and width.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A fast hash for pens (small keys in a table no input controls the size of beyond
/// [`PEN_TABLE_LIMIT`], so collision attacks only cost time on one session's own table).
#[derive(Default)]
pub struct PenHasher(u64);

impl Hasher for PenHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u16(&mut self, n: u16) {
        self.write_u64(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// Colours are encoded as tmux does: 0-7 and 90-97 the basic and bright palette, 8 the
/// default, `FLAG_256 | n` an indexed colour (kept apart from 0-7, so `38;5;1` stays
/// `38;5;1`), `FLAG_RGB | 0xRRGGBB` a direct colour. An underline colour of 0 means none.
pub const COLOUR_DEFAULT: u32 = 8;
pub const FLAG_256: u32 = 0x0100_0000;
pub const FLAG_RGB: u32 = 0x0200_0000;

/// Cell attributes (tmux's `GRID_ATTR_*`, same bits).
pub mod attr {
    pub const BRIGHT: u16 = 0x1;
    pub const DIM: u16 = 0x2;
    pub const UNDERSCORE: u16 = 0x4;
    pub const BLINK: u16 = 0x8;
    pub const REVERSE: u16 = 0x10;
    pub const HIDDEN: u16 = 0x20;
    pub const ITALICS: u16 = 0x40;
    /// The DEC special graphics set was selected when the character was written: tmux keeps
    /// the ASCII letter and this flag (and `-e` wraps it in SO/SI).
    pub const CHARSET: u16 = 0x80;
    pub const STRIKETHROUGH: u16 = 0x100;
    pub const UNDERSCORE_2: u16 = 0x200;
    pub const UNDERSCORE_3: u16 = 0x400;
    pub const UNDERSCORE_4: u16 = 0x800;
    pub const UNDERSCORE_5: u16 = 0x1000;
    pub const OVERLINE: u16 = 0x2000;
    pub const ALL_UNDERSCORE: u16 =
        UNDERSCORE | UNDERSCORE_2 | UNDERSCORE_3 | UNDERSCORE_4 | UNDERSCORE_5;
}

/// What a cell is drawn with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pen {
    pub attr: u16,
    pub fg: u32,
    pub bg: u32,
    /// Underline colour (0 = none).
    pub us: u32,
}

impl Pen {
    pub const DEFAULT: Pen = Pen {
        attr: 0,
        fg: COLOUR_DEFAULT,
        bg: COLOUR_DEFAULT,
        us: 0,
    };

    /// The pen of a cleared cell: default attributes on background `bg`.
    pub fn cleared(bg: u32) -> Pen {
        Pen { bg, ..Pen::DEFAULT }
    }
}

impl Default for Pen {
    fn default() -> Self {
        Pen::DEFAULT
    }
}

/// Cell flags.
pub const PADDING: u8 = 0x1;
/// Erased rather than written (tmux's `GRID_FLAG_CLEARED`).
pub const CLEARED: u8 = 0x2;
/// `ch` is an index into the row's clusters (a character with combining marks).
pub const CLUSTER: u8 = 0x4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C, align(8))] // one 8-byte store per written cell
pub struct Cell {
    /// The character, or with [`CLUSTER`] the index of the row's cluster.
    pub ch: u32,
    /// Index into the screen's [`PenTable`].
    pub pen: u16,
    pub flags: u8,
    /// Columns the character takes: 1 or 2, and 0 for padding.
    pub width: u8,
}

/// Pen 0 is always the default pen.
pub const DEFAULT_PEN: u16 = 0;

impl Cell {
    /// tmux's `grid_default_cell`: a space with the default pen.
    pub const DEFAULT: Cell = Cell {
        ch: b' ' as u32,
        pen: DEFAULT_PEN,
        flags: 0,
        width: 1,
    };
    pub const PADDING: Cell = Cell {
        ch: b'!' as u32,
        pen: DEFAULT_PEN,
        flags: PADDING,
        width: 0,
    };

    #[inline]
    pub fn is_padding(self) -> bool {
        self.flags & PADDING != 0
    }
}

/// Interned pens of one screen, so a cell stores a 16-bit index. Pens that no cell uses any
/// more are dropped by [`PenTable::compact`], which the owner runs when the table is full.
#[derive(Debug, Clone)]
pub struct PenTable {
    pens: Vec<Pen>,
    index: HashMap<Pen, u16, BuildHasherDefault<PenHasher>>,
}

/// Pens kept before the owner compacts the table: a screen shows at most a few thousand
/// distinct pens; programs that print a new RGB colour per word would otherwise grow the
/// table without bound. Compaction walks the visible cells once (microseconds).
pub const PEN_TABLE_LIMIT: usize = 8192;

impl Default for PenTable {
    fn default() -> Self {
        let mut t = PenTable {
            pens: Vec::new(),
            index: HashMap::default(),
        };
        t.intern(Pen::DEFAULT);
        t
    }
}

impl PenTable {
    #[inline]
    pub fn get(&self, id: u16) -> Pen {
        self.pens
            .get(usize::from(id))
            .copied()
            .unwrap_or(Pen::DEFAULT)
    }

    /// The index of `pen`, adding it if new. A full table (which the owner prevents by
    /// compacting first) falls back to the default pen rather than fail.
    pub fn intern(&mut self, pen: Pen) -> u16 {
        if pen == Pen::DEFAULT && !self.pens.is_empty() {
            return DEFAULT_PEN;
        }
        if let Some(&id) = self.index.get(&pen) {
            return id;
        }
        let Ok(id) = u16::try_from(self.pens.len()) else {
            return DEFAULT_PEN;
        };
        self.pens.push(pen);
        self.index.insert(pen, id);
        id
    }

    pub fn len(&self) -> usize {
        self.pens.len()
    }

    /// Keep only the pens `rows` use, renumbering their cells.
    pub fn compact<'a>(&mut self, rows: impl Iterator<Item = &'a mut Row>) {
        let old = std::mem::take(self);
        for row in rows {
            for c in &mut row.cells {
                c.pen = self.intern(old.get(c.pen));
            }
        }
    }

    /// Bytes used, for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        self.pens.capacity() * std::mem::size_of::<Pen>()
            + self.index.capacity() * (std::mem::size_of::<(Pen, u16)>() + 8)
    }
}

/// Row flags.
pub const WRAPPED: u8 = 0x1;

/// One line of cells.
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// tmux's `celldata`/`cellsize`: cells past the end read as [`Cell::DEFAULT`].
    pub cells: Vec<Cell>,
    /// tmux's `cellused`: one past the last cell set.
    pub used: u16,
    pub flags: u8,
    /// Characters with combining marks (or joined by ZWJ), referenced by [`CLUSTER`] cells.
    pub clusters: Vec<Box<str>>,
}

/// Clusters a row may accumulate (overwritten ones are only dropped when the row is
/// cleared) before they are compacted.
const CLUSTER_LIMIT: usize = 64;

impl Row {
    #[inline]
    pub fn wrapped(&self) -> bool {
        self.flags & WRAPPED != 0
    }

    pub fn set_wrapped(&mut self, on: bool) {
        if on {
            self.flags |= WRAPPED;
        } else {
            self.flags &= !WRAPPED;
        }
    }

    /// The cell at `x` (the default cell past the end).
    #[inline]
    pub fn get(&self, x: usize) -> Cell {
        self.cells.get(x).copied().unwrap_or(Cell::DEFAULT)
    }

    /// The text of `cell` (a cell of this row).
    pub fn text<'a>(&'a self, cell: &Cell, buf: &'a mut [u8; 4]) -> &'a str {
        if cell.flags & CLUSTER != 0 {
            return self.clusters.get(cell.ch as usize).map_or(" ", |s| &**s);
        }
        char::from_u32(cell.ch).unwrap_or(' ').encode_utf8(buf)
    }

    /// tmux's `grid_free_line` + `grid_empty_line` with the default background: no cells.
    pub fn reset(&mut self) {
        self.cells.clear();
        self.used = 0;
        self.flags = 0;
        self.clusters.clear();
    }

    /// tmux's `grid_empty_line`: an empty row, filled with cleared cells of background `bg`
    /// when that is not the default.
    pub fn empty(&mut self, sx: usize, bg: u32, pens: &mut PenTable) {
        self.reset();
        if bg != COLOUR_DEFAULT {
            self.expand(sx, sx, bg, pens);
        }
    }

    /// tmux's `grid_expand_line`: make room for `want` cells, rounding up to a quarter, a
    /// half or the whole of the width `sx`; new cells are cleared with background `bg`.
    pub fn expand(&mut self, want: usize, sx: usize, bg: u32, pens: &mut PenTable) {
        if want <= self.cells.len() {
            return;
        }
        let cell = cleared_cell(bg, pens);
        self.cells.resize(Row::grown_size(want, sx), cell);
    }

    /// The size tmux grows a row to when it needs `want` cells on a screen `sx` wide.
    #[inline]
    pub fn grown_size(want: usize, sx: usize) -> usize {
        if want < sx / 4 {
            sx / 4
        } else if want < sx / 2 {
            sx / 2
        } else if sx > want {
            sx
        } else {
            want
        }
    }

    /// tmux's `grid_set_cell`: store `cell` at `x`, growing the row and its used part.
    #[inline]
    pub fn set(&mut self, x: usize, cell: Cell, sx: usize, pens: &mut PenTable) {
        self.expand(x + 1, sx, COLOUR_DEFAULT, pens);
        if x + 1 > usize::from(self.used) {
            self.used = clamp_u16(x + 1);
        }
        self.cells[x] = Cell {
            flags: cell.flags & !CLEARED,
            ..cell
        };
    }

    /// Cleared cells (background `bg`) from `px` for `n`, growing the row as needed.
    pub fn fill_cleared(&mut self, px: usize, n: usize, sx: usize, bg: u32, pens: &mut PenTable) {
        if n == 0 {
            return;
        }
        self.expand(px + n, sx, COLOUR_DEFAULT, pens);
        let cell = cleared_cell(bg, pens);
        for c in &mut self.cells[px..px + n] {
            *c = cell;
        }
    }

    /// tmux's `grid_move_cells`: move `nx` cells from `px` to `dx`, clearing (with `bg`) the
    /// cells left behind.
    pub fn move_cells(
        &mut self,
        dx: usize,
        px: usize,
        nx: usize,
        sx: usize,
        bg: u32,
        pens: &mut PenTable,
    ) {
        if nx == 0 || px == dx {
            return;
        }
        self.expand(px + nx, sx, COLOUR_DEFAULT, pens);
        self.expand(dx + nx, sx, COLOUR_DEFAULT, pens);
        self.cells.copy_within(px..px + nx, dx);
        if dx + nx > usize::from(self.used) {
            self.used = clamp_u16(dx + nx);
        }
        let cell = cleared_cell(bg, pens);
        for x in px..px + nx {
            if x >= dx && x < dx + nx {
                continue;
            }
            self.cells[x] = cell;
        }
    }

    /// Store a cluster and return the cell content referring to it.
    pub fn add_cluster(&mut self, text: &str) -> u32 {
        if self.clusters.len() >= CLUSTER_LIMIT {
            self.compact_clusters();
        }
        self.clusters.push(text.into());
        (self.clusters.len() - 1) as u32
    }

    /// Drop clusters no cell refers to any more.
    fn compact_clusters(&mut self) {
        let old = std::mem::take(&mut self.clusters);
        for c in &mut self.cells {
            if c.flags & CLUSTER != 0 {
                let text = old
                    .get(c.ch as usize)
                    .cloned()
                    .unwrap_or_else(|| " ".into());
                self.clusters.push(text);
                c.ch = (self.clusters.len() - 1) as u32;
            }
        }
    }

    /// Copy `cell`, which belongs to `from`, into this row at `x` (clusters are copied).
    pub fn set_from(&mut self, x: usize, cell: Cell, from: &Row, sx: usize, pens: &mut PenTable) {
        let mut c = cell;
        if c.flags & CLUSTER != 0 {
            let text = from
                .clusters
                .get(c.ch as usize)
                .map_or(" ", |s| &**s)
                .to_owned();
            c.ch = self.add_cluster(&text);
        }
        self.set(x, c, sx, pens);
    }

    pub fn heap_bytes(&self) -> usize {
        self.cells.capacity() * std::mem::size_of::<Cell>()
            + self.clusters.iter().map(|c| c.len() + 16).sum::<usize>()
    }
}

#[inline]
pub fn clamp_u16(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

/// A cleared cell on background `bg`.
#[inline]
pub fn cleared_cell(bg: u32, pens: &mut PenTable) -> Cell {
    let pen = if bg == COLOUR_DEFAULT {
        DEFAULT_PEN
    } else {
        pens.intern(Pen::cleared(bg))
    };
    Cell {
        ch: b' ' as u32,
        pen,
        flags: CLEARED,
        width: 1,
    }
}
