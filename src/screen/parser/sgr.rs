//! SGR (`CSI … m`): tmux's `input_csi_dispatch_sgr` with its 256-colour, RGB and
//! colon sub-parameter forms.

use super::*;

impl Parser {
    /// tmux's `input_csi_dispatch_sgr`.
    pub(super) fn sgr(&self, t: &mut Term) {
        t.pen_changed();
        let gc = &mut t.cell;
        if self.nparams == 0 {
            *gc = Pen::DEFAULT;
            return;
        }
        let mut i = 0;
        while i < self.nparams {
            if let Param::Text(a, b) = self.params[i] {
                sgr_colon(gc, &self.param_buf[a..b]);
                i += 1;
                continue;
            }
            let n = self.get(i, 0, 0);
            if n == -1 {
                i += 1;
                continue;
            }
            if n == 38 || n == 48 || n == 58 {
                i += 1;
                match self.get(i, 0, -1) {
                    2 => {
                        let r = self.get(i + 1, 0, -1);
                        let g = self.get(i + 2, 0, -1);
                        let b = self.get(i + 3, 0, -1);
                        if set_rgb(gc, n, r, g, b) {
                            i += 3;
                        }
                    }
                    5 => {
                        let c = self.get(i + 1, 0, -1);
                        set_256(gc, n, c);
                        i += 1;
                    }
                    _ => {}
                }
                i += 1;
                continue;
            }
            apply_sgr(gc, n);
            i += 1;
        }
    }
}

fn apply_sgr(gc: &mut Pen, n: i64) {
    match n {
        0 => *gc = Pen::DEFAULT,
        1 => gc.attr |= attr::BRIGHT,
        2 => gc.attr |= attr::DIM,
        3 => gc.attr |= attr::ITALICS,
        4 => gc.attr = (gc.attr & !attr::ALL_UNDERSCORE) | attr::UNDERSCORE,
        5 | 6 => gc.attr |= attr::BLINK,
        7 => gc.attr |= attr::REVERSE,
        8 => gc.attr |= attr::HIDDEN,
        9 => gc.attr |= attr::STRIKETHROUGH,
        21 => gc.attr = (gc.attr & !attr::ALL_UNDERSCORE) | attr::UNDERSCORE_2,
        22 => gc.attr &= !(attr::BRIGHT | attr::DIM),
        23 => gc.attr &= !attr::ITALICS,
        24 => gc.attr &= !attr::ALL_UNDERSCORE,
        25 => gc.attr &= !attr::BLINK,
        27 => gc.attr &= !attr::REVERSE,
        28 => gc.attr &= !attr::HIDDEN,
        29 => gc.attr &= !attr::STRIKETHROUGH,
        30..=37 => gc.fg = (n - 30) as u32,
        39 => gc.fg = COLOUR_DEFAULT,
        40..=47 => gc.bg = (n - 40) as u32,
        49 => gc.bg = COLOUR_DEFAULT,
        53 => gc.attr |= attr::OVERLINE,
        55 => gc.attr &= !attr::OVERLINE,
        59 => gc.us = 0,
        90..=97 => gc.fg = n as u32,
        100..=107 => gc.bg = (n - 10) as u32,
        _ => {}
    }
}

/// tmux's `input_csi_dispatch_sgr_256_do`.
fn set_256(gc: &mut Pen, which: i64, c: i64) {
    if c == -1 || c > 255 {
        match which {
            38 => gc.fg = COLOUR_DEFAULT,
            48 => gc.bg = COLOUR_DEFAULT,
            _ => {}
        }
    } else {
        let v = c as u32 | FLAG_256;
        match which {
            38 => gc.fg = v,
            48 => gc.bg = v,
            58 => gc.us = v,
            _ => {}
        }
    }
}

/// tmux's `input_csi_dispatch_sgr_rgb_do`: `false` if a component is missing or invalid.
fn set_rgb(gc: &mut Pen, which: i64, r: i64, g: i64, b: i64) -> bool {
    if [r, g, b].iter().any(|&v| !(0..=255).contains(&v)) {
        return false;
    }
    let v = FLAG_RGB | ((r as u32) << 16) | ((g as u32) << 8) | b as u32;
    match which {
        38 => gc.fg = v,
        48 => gc.bg = v,
        58 => gc.us = v,
        _ => {}
    }
    true
}

/// tmux's `input_csi_dispatch_sgr_colon`: one parameter with `:` sub-parameters.
fn sgr_colon(gc: &mut Pen, s: &[u8]) {
    let mut p = [-1i64; 8];
    let mut n = 0usize;
    for part in s.split(|&c| c == b':') {
        if !part.is_empty() {
            match parse_number(part) {
                Some(v) => p[n] = v,
                None => return,
            }
        }
        n += 1;
        if n == p.len() {
            return;
        }
    }
    if n == 0 {
        return;
    }
    if p[0] == 4 {
        if n != 2 {
            return;
        }
        let style = match p[1] {
            0 => 0,
            1 => attr::UNDERSCORE,
            2 => attr::UNDERSCORE_2,
            3 => attr::UNDERSCORE_3,
            4 => attr::UNDERSCORE_4,
            5 => attr::UNDERSCORE_5,
            _ => return,
        };
        gc.attr = (gc.attr & !attr::ALL_UNDERSCORE) | style;
        return;
    }
    if n < 2 || (p[0] != 38 && p[0] != 48 && p[0] != 58) {
        return;
    }
    match p[1] {
        2 => {
            if n < 3 {
                return;
            }
            let i = if n == 5 { 2 } else { 3 };
            if n < i + 3 {
                return;
            }
            set_rgb(gc, p[0], p[i], p[i + 1], p[i + 2]);
        }
        5 => {
            if n < 3 {
                return;
            }
            set_256(gc, p[0], p[2]);
        }
        _ => {}
    }
}
