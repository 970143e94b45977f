//! Dispatch of complete sequences (tmux's `input_esc_dispatch`, `input_csi_dispatch`
//! and the mode, window-operation and OSC handlers they call) to the terminal model.

use super::*;

impl Parser {
    /// tmux's `input_split`: `false` when the parameters are malformed (the sequence is
    /// then ignored).
    fn split_params(&mut self) -> bool {
        self.nparams = 0;
        if self.param_len == 0 {
            return true;
        }
        let buf = &self.param_buf[..self.param_len];
        let mut start = 0;
        loop {
            let end = buf[start..]
                .iter()
                .position(|&c| c == b';')
                .map_or(buf.len(), |p| start + p);
            let field = &buf[start..end];
            let p = if field.is_empty() {
                Param::Missing
            } else if field.contains(&b':') {
                Param::Text(start, end)
            } else {
                match parse_number(field) {
                    Some(n) => Param::Number(n),
                    None => return false,
                }
            };
            self.params[self.nparams] = p;
            self.nparams += 1;
            if self.nparams == MAX_PARAMS {
                return false;
            }
            if end == buf.len() {
                break;
            }
            start = end + 1;
        }
        true
    }

    /// tmux's `input_get`: -1 for a colon parameter, `default` when missing.
    pub(super) fn get(&self, i: usize, min: i64, default: i64) -> i64 {
        if i >= self.nparams {
            return default;
        }
        match self.params[i] {
            Param::Missing => default,
            Param::Text(..) => -1,
            Param::Number(n) => n.max(min),
        }
    }

    pub(super) fn esc_dispatch(&mut self, t: &mut Term, b: u8) {
        if self.discard {
            return;
        }
        let bg = t.cell.bg;
        match (b, self.interm()) {
            (b'0', b"(") => t.g0 = true,
            (b'0', b")") => t.g1 = true,
            (b'B', b"(") => t.g0 = false,
            (b'B', b")") => t.g1 = false,
            (b'7', b"") => t.save_state(),
            (b'8', b"") => t.restore_state(),
            (b'8', b"#") => t.alignment_test(),
            (b'=', b"") => t.mode |= mode::KKEYPAD,
            (b'>', b"") => t.mode &= !mode::KKEYPAD,
            (b'D', b"") => t.linefeed(false, bg),
            (b'E', b"") => {
                t.carriage_return();
                t.linefeed(false, bg);
            }
            (b'H', b"") => {
                if t.cx < t.sx {
                    t.tab_set(t.cx, true);
                }
            }
            (b'M', b"") => t.reverse_index(bg),
            (b'c', b"") => t.full_reset(),
            (b'\\', b"") => {}
            // Unknown to tmux: nothing happens, and REP still repeats the last character.
            _ => return,
        }
        t.last = None;
    }

    pub(super) fn csi_dispatch(&mut self, t: &mut Term, b: u8) {
        if self.discard || !self.split_params() {
            return;
        }
        let bg = t.cell.bg;
        // Counts that mean "at least one"; -1 (a colon parameter) skips the sequence.
        let count = |p: &Parser| -> Option<usize> {
            let n = p.get(0, 1, 1);
            (n != -1).then(|| usize::try_from(n).unwrap_or(usize::MAX))
        };
        let interm = self.interm_len;
        let i0 = self.interm[0];
        match (b, interm, i0) {
            (b'@', 0, _) => {
                if let Some(n) = count(self) {
                    t.insert_characters(n, bg);
                }
            }
            (b'A', 0, _) => {
                if let Some(n) = count(self) {
                    t.cursor_up(n);
                }
            }
            (b'B', 0, _) => {
                if let Some(n) = count(self) {
                    t.cursor_down(n);
                }
            }
            (b'C', 0, _) => {
                if let Some(n) = count(self) {
                    t.cursor_right(n);
                }
            }
            (b'D', 0, _) => {
                if let Some(n) = count(self) {
                    t.cursor_left(n);
                }
            }
            (b'E', 0, _) => {
                if let Some(n) = count(self) {
                    t.carriage_return();
                    t.cursor_down(n);
                }
            }
            (b'F', 0, _) => {
                if let Some(n) = count(self) {
                    t.carriage_return();
                    t.cursor_up(n);
                }
            }
            (b'G' | b'`', 0, _) => {
                if let Some(n) = count(self) {
                    t.cursor_move(Some(n - 1), None, true);
                }
            }
            (b'H' | b'f', 0, _) => {
                let n = self.get(0, 1, 1);
                let m = self.get(1, 1, 1);
                if n != -1 && m != -1 {
                    t.cursor_move(Some(to_usize(m) - 1), Some(to_usize(n) - 1), true);
                }
            }
            (b'd', 0, _) => {
                if let Some(n) = count(self) {
                    t.cursor_move(None, Some(n - 1), true);
                }
            }
            (b'J', 0, _) => match self.get(0, 0, 0) {
                0 => t.clear_end_of_screen(bg),
                1 => t.clear_start_of_screen(bg),
                2 => t.clear_screen(bg),
                3 if self.get(1, 0, 0) == 0 => t.clear_history(),
                _ => {}
            },
            (b'K', 0, _) => match self.get(0, 0, 0) {
                0 => t.clear_end_of_line(bg),
                1 => t.clear_start_of_line(bg),
                2 => t.clear_line(bg),
                _ => {}
            },
            (b'L', 0, _) => {
                if let Some(n) = count(self) {
                    t.insert_lines(n, bg);
                }
            }
            (b'M', 0, _) => {
                if let Some(n) = count(self) {
                    t.delete_lines(n, bg);
                }
            }
            (b'P', 0, _) => {
                if let Some(n) = count(self) {
                    t.delete_characters(n, bg);
                }
            }
            (b'X', 0, _) => {
                if let Some(n) = count(self) {
                    t.erase_characters(n, bg);
                }
            }
            (b'S', 0, _) => {
                if let Some(n) = count(self) {
                    t.scroll_up(n, bg);
                }
            }
            (b'T', 0, _) => {
                if let Some(n) = count(self) {
                    t.scroll_down(n, bg);
                }
            }
            (b'Z', 0, _) => {
                if let Some(n) = count(self) {
                    t.back_tab(n);
                }
            }
            (b'b', 0, _) => {
                // REP: repeat the last printed ASCII character, not past the line's end.
                if let Some(n) = count(self) {
                    // u_int arithmetic: past the right edge nothing limits the count.
                    let room = if t.cx <= t.sx {
                        t.sx - t.cx
                    } else {
                        usize::MAX
                    };
                    let n = n.min(room);
                    if let Some(c) = t.last {
                        for _ in 0..n {
                            t.print_ascii(&[c]);
                        }
                    }
                }
            }
            (b'g', 0, _) => match self.get(0, 0, 0) {
                0 if t.cx < t.sx => t.tab_set(t.cx, false),
                3 => t.tabs_clear(),
                _ => {}
            },
            (b'h', 0, _) => self.set_modes(t, true),
            (b'l', 0, _) => self.set_modes(t, false),
            (b'h', 1, b'?') => self.set_private_modes(t, true),
            (b'l', 1, b'?') => self.set_private_modes(t, false),
            (b'm', 0, _) => self.sgr(t),
            (b'm', 1, b'>') => {
                let n = self.get(0, 0, 0);
                let m = self.get(1, 0, 0);
                if n == 0 || (n == 4 && m == 0) {
                    t.mode &= !mode::KEXTENDED;
                } else if n == 4 && (m == 1 || m == 2) {
                    t.mode |= mode::KEXTENDED;
                }
            }
            (b'n', 1, b'>') => {
                if self.get(0, 0, 0) == 4 {
                    t.mode &= !mode::KEXTENDED;
                }
            }
            (b'n', 0, _) => match self.get(0, 0, 0) {
                5 => queries::status(t),
                6 => queries::cursor_position(t, false),
                _ => {}
            },
            // Queries tmux does not know but Aegis answers (tmux's REP state is kept).
            (b'n', 1, b'?') => {
                if self.get(0, 0, 0) == 6 {
                    queries::cursor_position(t, true);
                }
                return;
            }
            (b'c', 0, _) => {
                if self.get(0, 0, 0) == 0 {
                    queries::primary_attributes(t);
                }
            }
            (b'c', 1, b'>') => {
                if self.get(0, 0, 0) == 0 {
                    queries::secondary_attributes(t);
                }
            }
            (b'c', 1, b'=') => {
                if self.get(0, 0, 0) == 0 {
                    queries::tertiary_attributes(t);
                }
                return;
            }
            (b'q', 1, b'>') => {
                if self.get(0, 0, 0) == 0 {
                    queries::version(t);
                }
            }
            (b'q', 1, b' ') => {
                let n = self.get(0, 0, 0);
                if n != -1 {
                    t.set_cursor_style(n);
                }
            }
            (b'p', 2, b'?') if self.interm[1] == b'$' => {
                queries::private_mode(t, self.get(0, 0, 0));
                return;
            }
            (b'r', 0, _) => {
                let n = self.get(0, 1, 1);
                let m = self.get(1, 1, i64::try_from(t.sy).unwrap_or(i64::MAX));
                if n != -1 && m != -1 {
                    t.scroll_region(to_usize(n) - 1, to_usize(m) - 1);
                }
            }
            (b's', 0, _) => t.save_state(),
            (b'u', 0, _) => t.restore_state(),
            (b't', 0, _) => self.window_ops(t),
            // Unknown to tmux (CHT, HPR, VPR, DECSTR, ...): nothing happens, and REP still
            // repeats the last character.
            _ => return,
        }
        t.last = None;
    }

    fn set_modes(&self, t: &mut Term, on: bool) {
        for i in 0..self.nparams {
            match self.get(i, 0, -1) {
                4 => {
                    if on {
                        t.mode |= mode::INSERT;
                    } else {
                        t.mode &= !mode::INSERT;
                    }
                }
                34 => {
                    if on {
                        t.mode &= !mode::CURSOR_VERY_VISIBLE;
                    } else {
                        t.mode |= mode::CURSOR_VERY_VISIBLE;
                    }
                }
                _ => {}
            }
        }
    }

    fn set_private_modes(&self, t: &mut Term, on: bool) {
        let flag = |t: &mut Term, m: u32| {
            if on {
                t.mode |= m;
            } else {
                t.mode &= !m;
            }
        };
        for i in 0..self.nparams {
            match self.get(i, 0, -1) {
                1 => flag(t, mode::KCURSOR),
                3 => {
                    t.cursor_move(Some(0), Some(0), true);
                    let bg = t.cell.bg;
                    t.clear_screen(bg);
                }
                6 => {
                    flag(t, mode::ORIGIN);
                    t.cursor_move(Some(0), Some(0), true);
                }
                7 => flag(t, mode::WRAP),
                12 => {
                    flag(t, mode::CURSOR_BLINKING);
                    t.mode |= mode::CURSOR_BLINKING_SET;
                }
                25 => flag(t, mode::CURSOR),
                n @ (1000 | 1002 | 1003) if on => {
                    t.mode &= !mode::ALL_MOUSE;
                    t.mode |= match n {
                        1000 => mode::MOUSE_STANDARD,
                        1002 => mode::MOUSE_BUTTON,
                        _ => mode::MOUSE_ALL,
                    };
                }
                1000..=1003 if !on => t.mode &= !mode::ALL_MOUSE,
                1004 => flag(t, mode::FOCUSON),
                1005 => flag(t, mode::MOUSE_UTF8),
                1006 => flag(t, mode::MOUSE_SGR),
                47 | 1047 => {
                    if on {
                        t.alternate_on(false);
                    } else {
                        t.alternate_off(false);
                    }
                }
                1049 => {
                    if on {
                        t.alternate_on(true);
                    } else {
                        t.alternate_off(true);
                    }
                }
                2004 => flag(t, mode::BRACKETPASTE),
                _ => {}
            }
        }
    }

    fn window_ops(&self, t: &mut Term) {
        let mut m = 0;
        loop {
            let n = self.get(m, 0, -1);
            if n == -1 {
                return;
            }
            match n {
                3 | 4 | 8 => {
                    m += 1;
                    if self.get(m, 0, -1) == -1 {
                        return;
                    }
                    m += 1;
                    if self.get(m, 0, -1) == -1 {
                        return;
                    }
                }
                9 | 10 => {
                    m += 1;
                    if self.get(m, 0, -1) == -1 {
                        return;
                    }
                }
                22 => {
                    m += 1;
                    match self.get(m, 0, -1) {
                        -1 => return,
                        0 | 2 => t.push_title(),
                        _ => {}
                    }
                }
                23 => {
                    m += 1;
                    match self.get(m, 0, -1) {
                        -1 => return,
                        0 | 2 => t.pop_title(),
                        _ => {}
                    }
                }
                18 => queries::text_area_size(t),
                _ => {}
            }
            m += 1;
        }
    }

    /// tmux's `input_exit_osc`.
    pub(super) fn exit_osc(&mut self, t: &mut Term) {
        if self.discard || self.input.is_empty() || !self.input[0].is_ascii_digit() {
            return;
        }
        let mut option: u32 = 0;
        let mut p = 0;
        while p < self.input.len() && self.input[p].is_ascii_digit() {
            option = option
                .saturating_mul(10)
                .saturating_add(u32::from(self.input[p] - b'0'));
            p += 1;
        }
        if self.input.get(p) == Some(&b';') {
            p += 1;
        }
        let rest = &self.input[p..];
        match option {
            0 | 2 => t.set_title(rest),
            // An agent's own state report (Codex CLI: `state=working:app=codex`).
            7501 => t.set_report(rest),
            // `ESC ]`, the payload and the terminator's first byte: the whole sequence.
            133 => t.shell_mark(rest, self.pos, self.input.len() + 3),
            10..=12 if rest == b"?" => queries::colour(t, option),
            _ => {}
        }
    }
}
