//! Layout strings, as `#{window_layout}` shows them and `select-layout` takes them:
//! `csum,WxH,X,Y` followed by `,ID` for a pane, `{…}` for cells side by side or `[…]` for
//! cells stacked, children separated by commas. The checksum is tmux's: rotate the 16-bit sum
//! right by one, then add the next byte.

use super::{Cell, Dir, Kind, Layout};

/// tmux's layout checksum.
pub fn checksum(body: &str) -> u16 {
    let mut csum: u16 = 0;
    for b in body.bytes() {
        csum = csum.rotate_right(1).wrapping_add(u16::from(b));
    }
    csum
}

/// The layout string of `layout`, with its checksum.
pub fn dump(layout: &Layout) -> String {
    let mut body = String::new();
    append(layout, layout.root, &mut body);
    format!("{:04x},{body}", checksum(&body))
}

fn append(layout: &Layout, i: usize, out: &mut String) {
    let c: &Cell = layout.cell(i);
    match c.kind {
        Kind::Pane(id) => out.push_str(&format!("{}x{},{},{},{id}", c.sx, c.sy, c.xoff, c.yoff)),
        Kind::Node(dir) => {
            out.push_str(&format!("{}x{},{},{}", c.sx, c.sy, c.xoff, c.yoff));
            let (open, close) = match dir {
                Dir::LeftRight => ('{', '}'),
                Dir::TopBottom => ('[', ']'),
            };
            out.push(open);
            for (n, &k) in c.children.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                append(layout, k, out);
            }
            out.push(close);
        }
    }
}

/// Parse a layout string for a window whose panes are `panes` (in window order): the cells
/// get those panes in tree order; extra cells are dropped from the bottom right, too few is an
/// error. The error is tmux's cause (`invalid layout`, `have N panes but need M`, `size
/// mismatch after applying layout`); select-layout adds `: <text>`. As in tmux, the checksum is
/// the leading hex number and the cells start at the sixth character. (tmux 3.3a crashes on
/// text that does not start with a hex digit; this says `invalid layout`.)
pub fn parse(text: &str, panes: &[u32]) -> Result<Layout, String> {
    let digits = text.bytes().take_while(u8::is_ascii_hexdigit).count();
    if digits == 0 {
        return Err("invalid layout".into());
    }
    let csum = text[..digits].bytes().fold(0u16, |acc, b| {
        let d = u16::from(char::from(b).to_digit(16).unwrap_or(0) as u8);
        acc.wrapping_mul(16).wrapping_add(d)
    });
    let body = text.get(5..).ok_or("invalid layout")?;
    if csum != checksum(body) {
        return Err("invalid layout".into());
    }
    let mut layout = Layout::node(Dir::LeftRight, 0, 0);
    let mut rest = body.as_bytes();
    let root = construct(&mut layout, None, &mut rest).ok_or("invalid layout")?;
    if !rest.is_empty() {
        return Err("invalid layout".into());
    }
    layout.root = root;
    layout.cell_parent_clear(root);
    loop {
        let cells = layout.panes().len();
        if panes.len() > cells {
            return Err(format!("have {} panes but need {cells}", panes.len()));
        }
        if panes.len() == cells {
            break;
        }
        let last = bottom_right(&layout, layout.root);
        layout.close_cell(last);
    }
    let root = layout.root;
    if let Kind::Node(dir) = layout.cell(root).kind {
        // Older tmux wrote a wrong root size; take the children's.
        let kids = layout.cell(root).children.clone();
        let (mut sx, mut sy) = (0, 0);
        for k in kids {
            let c = layout.cell(k);
            match dir {
                Dir::LeftRight => {
                    sy = c.sy + 1;
                    sx += c.sx + 1;
                }
                Dir::TopBottom => {
                    sx = c.sx + 1;
                    sy += c.sy + 1;
                }
            }
        }
        let c = layout.cell(root);
        if c.sx != sx || c.sy != sy {
            layout.set_size(root, sx.saturating_sub(1), sy.saturating_sub(1));
        }
    }
    if !check(&layout, layout.root) {
        return Err("size mismatch after applying layout".into());
    }
    let mut order = panes.iter();
    layout.assign(&mut order);
    layout.fix_offsets();
    Ok(layout.compacted())
}

fn bottom_right(layout: &Layout, i: usize) -> usize {
    match layout.cell(i).children.last() {
        Some(&k) => bottom_right(layout, k),
        None => i,
    }
}

fn check(layout: &Layout, i: usize) -> bool {
    let c = layout.cell(i);
    let Kind::Node(dir) = c.kind else {
        return true;
    };
    let mut n: u32 = 0;
    for &k in &c.children {
        let k_cell = layout.cell(k);
        let ok = match dir {
            Dir::LeftRight => k_cell.sy == c.sy,
            Dir::TopBottom => k_cell.sx == c.sx,
        };
        if !ok || !check(layout, k) {
            return false;
        }
        n += match dir {
            Dir::LeftRight => k_cell.sx + 1,
            Dir::TopBottom => k_cell.sy + 1,
        };
    }
    let want = match dir {
        Dir::LeftRight => c.sx,
        Dir::TopBottom => c.sy,
    };
    n.checked_sub(1) == Some(want)
}

fn number(s: &mut &[u8]) -> Option<u32> {
    let digits = s.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let v = std::str::from_utf8(&s[..digits]).ok()?.parse().ok()?;
    *s = &s[digits..];
    Some(v)
}

fn expect(s: &mut &[u8], c: u8) -> Option<()> {
    if s.first() == Some(&c) {
        *s = &s[1..];
        Some(())
    } else {
        None
    }
}

/// One cell and its children (layout_construct); pane ids in the string are ignored.
fn construct(layout: &mut Layout, parent: Option<usize>, s: &mut &[u8]) -> Option<usize> {
    let sx = number(s)?;
    expect(s, b'x')?;
    let sy = number(s)?;
    expect(s, b',')?;
    let xoff = number(s)?;
    expect(s, b',')?;
    let yoff = number(s)?;
    if s.first() == Some(&b',') {
        let saved = *s;
        *s = &s[1..];
        let digits = s.iter().take_while(|b| b.is_ascii_digit()).count();
        *s = &s[digits..];
        if s.first() == Some(&b'x') {
            *s = saved;
        }
    }
    let i = layout.detached(parent, sx, sy, xoff, yoff);
    let dir = match s.first() {
        None | Some(b',' | b'}' | b']') => return Some(i),
        Some(b'{') => Dir::LeftRight,
        Some(b'[') => Dir::TopBottom,
        Some(_) => return None,
    };
    layout.set_kind(i, Kind::Node(dir));
    loop {
        *s = &s[1..];
        let child = construct(layout, Some(i), s)?;
        layout.adopt(i, child);
        if s.first() != Some(&b',') {
            break;
        }
    }
    let close = match dir {
        Dir::LeftRight => b'}',
        Dir::TopBottom => b']',
    };
    expect(s, close)?;
    Some(i)
}

impl Layout {
    fn detached(&mut self, parent: Option<usize>, sx: u32, sy: u32, xoff: u32, yoff: u32) -> usize {
        let i = self.create(parent, Kind::Pane(u32::MAX));
        self.set(i, sx, sy, xoff, yoff);
        i
    }

    fn adopt(&mut self, parent: usize, child: usize) {
        self.cell_mut(child).parent = Some(parent);
        self.cell_mut(parent).children.push(child);
    }

    fn cell_parent_clear(&mut self, i: usize) {
        self.cell_mut(i).parent = None;
    }

    fn set_size(&mut self, i: usize, sx: u32, sy: u32) {
        let c = self.cell_mut(i);
        c.sx = sx;
        c.sy = sy;
    }

    /// Give the leaves their panes in tree order.
    fn assign(&mut self, panes: &mut std::slice::Iter<'_, u32>) {
        let mut leaves = vec![];
        self.collect_leaves(self.root, &mut leaves);
        for leaf in leaves {
            if let Some(&p) = panes.next() {
                self.set_kind(leaf, Kind::Pane(p));
            }
        }
    }

    fn collect_leaves(&self, i: usize, out: &mut Vec<usize>) {
        let c = self.cell(i);
        if let Kind::Pane(_) = c.kind {
            out.push(i);
        }
        for &k in &c.children {
            self.collect_leaves(k, out);
        }
    }
}
