//! The byte-stream parser: tmux 3.3a's input state machine (input.c, a DEC/ANSI parser in
//! the style of Paul Williams' diagram) and its dispatch of control functions to the
//! terminal model. Following tmux's tables rather than a generic parser matters for output
//! that is not well formed: which bytes a sequence swallows, a missing parameter against an
//! explicit 0, parameter strings longer than 63 bytes, colon sub-parameters, invalid UTF-8
//! (dropped, not replaced), `ESC k` window names and APC titles.
//!
//! Printable ASCII in the ground state is handed to the model a run at a time, which is
//! most of the bytes any program prints.

use std::time::{Duration, Instant};

use super::grid::{COLOUR_DEFAULT, FLAG_256, FLAG_RGB, Pen, attr};
use super::queries;
use super::term::{Term, mode};
use super::width;

/// tmux drops a string (OSC, DCS, APC) that is not terminated within this long and goes
/// back to the ground state, so a stray `ESC P` cannot swallow all later output.
const STRING_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest OSC/APC/DCS payload kept (tmux's `INPUT_BUF_LIMIT`); longer ones are ignored.
const STRING_LIMIT: usize = 1024 * 1024;

/// Capacity kept for strings between sequences; larger buffers are released.
const STRING_KEEP: usize = 4096;

/// Parameter bytes kept (tmux's 64-byte buffer, one for the terminator): a longer
/// parameter string makes the sequence a no-op.
const PARAM_BYTES: usize = 63;

/// Intermediate bytes kept (tmux's 4-byte buffer).
const INTERM_BYTES: usize = 3;

/// Parameters accepted (tmux's 24-entry list; the 24th is an error).
const MAX_PARAMS: usize = 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Ground,
    EscEnter,
    EscIntermediate,
    CsiEnter,
    CsiParameter,
    CsiIntermediate,
    CsiIgnore,
    DcsEnter,
    DcsParameter,
    DcsIntermediate,
    DcsHandler,
    DcsEscape,
    DcsIgnore,
    OscString,
    ApcString,
    RenameString,
    ConsumeSt,
}

/// One CSI parameter as tmux splits them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Param {
    Missing,
    Number(i64),
    /// Contains `:` (the text is re-read from the parameter buffer).
    Text(usize, usize),
}

#[derive(Debug)]
pub struct Parser {
    state: State,
    interm: [u8; INTERM_BYTES],
    interm_len: usize,
    param_buf: [u8; PARAM_BYTES],
    param_len: usize,
    params: [Param; MAX_PARAMS],
    nparams: usize,
    input: Vec<u8>,
    end_bel: bool,
    discard: bool,
    utf8: [u8; 4],
    utf8_size: usize,
    utf8_have: usize,
    utf8_bad: bool,
    utf8_started: bool,
    /// When the current string (OSC, DCS, APC, ...) began.
    string_since: Option<Instant>,
}

impl Default for Parser {
    fn default() -> Self {
        Parser {
            state: State::Ground,
            interm: [0; INTERM_BYTES],
            interm_len: 0,
            param_buf: [0; PARAM_BYTES],
            param_len: 0,
            params: [Param::Missing; MAX_PARAMS],
            nparams: 0,
            input: Vec::new(),
            end_bel: false,
            discard: false,
            utf8: [0; 4],
            utf8_size: 0,
            utf8_have: 0,
            utf8_bad: false,
            utf8_started: false,
            string_since: None,
        }
    }
}

impl Parser {
    /// Parse `bytes`, applying them to `t`.
    pub fn advance(&mut self, t: &mut Term, bytes: &[u8]) {
        if let Some(since) = self.string_since
            && since.elapsed() >= STRING_TIMEOUT
        {
            self.timeout(t);
        }
        let mut i = 0;
        let len = bytes.len();
        while i < len {
            if self.state == State::Ground {
                let start = i;
                i += printable_run(&bytes[i..]);
                if i > start {
                    self.utf8_started = false;
                    t.print_ascii(&bytes[start..i]);
                    continue;
                }
                let b = bytes[i];
                i += 1;
                match b {
                    0x18 | 0x1a => self.c0(t, b),
                    0x1b => self.set_state(t, State::EscEnter),
                    0x00..=0x1f => self.c0(t, b),
                    0x7f => {}
                    _ => self.top_bit_set(t, b),
                }
                continue;
            }
            let b = bytes[i];
            i += 1;
            self.step(t, b);
        }
    }

    /// The string timer fired: back to the ground state with a fresh pen (tmux's
    /// `input_reset(ictx, 0)`).
    fn timeout(&mut self, t: &mut Term) {
        t.cell = Pen::DEFAULT;
        t.set = 0;
        t.g0 = false;
        t.g1 = false;
        t.old.cell = Pen::DEFAULT;
        t.old.set = 0;
        t.old.g0 = false;
        t.old.g1 = false;
        t.old.cx = 0;
        t.old.cy = 0;
        t.pen_changed();
        self.clear();
        t.last = None;
        self.state = State::Ground;
        self.string_since = None;
        self.release_input();
    }

    fn release_input(&mut self) {
        if self.input.capacity() > STRING_KEEP {
            self.input = Vec::new();
        }
    }

    /// One byte outside the ground state.
    fn step(&mut self, t: &mut Term, b: u8) {
        use State::*;
        let state = self.state;
        // Transitions from anywhere, except inside a DCS string.
        if !matches!(state, DcsHandler | DcsEscape) {
            match b {
                0x18 | 0x1a => {
                    self.c0(t, b);
                    self.set_state(t, Ground);
                    return;
                }
                0x1b => {
                    self.set_state(t, EscEnter);
                    return;
                }
                _ => {}
            }
        }
        let c0 = matches!(b, 0x00..=0x17 | 0x19 | 0x1c..=0x1f);
        match state {
            Ground => {}
            EscEnter => match b {
                _ if c0 => self.c0(t, b),
                0x20..=0x2f => {
                    self.intermediate(b);
                    self.set_state(t, EscIntermediate);
                }
                0x50 => self.set_state(t, DcsEnter),
                0x58 | 0x5e => self.set_state(t, ConsumeSt),
                0x5b => self.set_state(t, CsiEnter),
                0x5d => self.set_state(t, OscString),
                0x5f => self.set_state(t, ApcString),
                0x6b => self.set_state(t, RenameString),
                0x30..=0x7e => {
                    self.esc_dispatch(t, b);
                    self.set_state(t, Ground);
                }
                _ => {}
            },
            EscIntermediate => match b {
                _ if c0 => self.c0(t, b),
                0x20..=0x2f => self.intermediate(b),
                0x30..=0x7e => {
                    self.esc_dispatch(t, b);
                    self.set_state(t, Ground);
                }
                _ => {}
            },
            CsiEnter => match b {
                _ if c0 => self.c0(t, b),
                0x20..=0x2f => {
                    self.intermediate(b);
                    self.set_state(t, CsiIntermediate);
                }
                0x30..=0x3b => {
                    self.parameter(b);
                    self.set_state(t, CsiParameter);
                }
                0x3c..=0x3f => {
                    self.intermediate(b);
                    self.set_state(t, CsiParameter);
                }
                0x40..=0x7e => {
                    self.csi_dispatch(t, b);
                    self.set_state(t, Ground);
                }
                _ => {}
            },
            CsiParameter => match b {
                _ if c0 => self.c0(t, b),
                0x20..=0x2f => {
                    self.intermediate(b);
                    self.set_state(t, CsiIntermediate);
                }
                0x30..=0x3b => self.parameter(b),
                0x3c..=0x3f => self.set_state(t, CsiIgnore),
                0x40..=0x7e => {
                    self.csi_dispatch(t, b);
                    self.set_state(t, Ground);
                }
                _ => {}
            },
            CsiIntermediate => match b {
                _ if c0 => self.c0(t, b),
                0x20..=0x2f => self.intermediate(b),
                0x30..=0x3f => self.set_state(t, CsiIgnore),
                0x40..=0x7e => {
                    self.csi_dispatch(t, b);
                    self.set_state(t, Ground);
                }
                _ => {}
            },
            CsiIgnore => match b {
                _ if c0 => self.c0(t, b),
                0x40..=0x7e => self.set_state(t, Ground),
                _ => {}
            },
            DcsEnter => match b {
                0x20..=0x2f => {
                    self.intermediate(b);
                    self.set_state(t, DcsIntermediate);
                }
                0x30..=0x39 | 0x3b => {
                    self.parameter(b);
                    self.set_state(t, DcsParameter);
                }
                0x3a => self.set_state(t, DcsIgnore),
                0x3c..=0x3f => {
                    self.intermediate(b);
                    self.set_state(t, DcsParameter);
                }
                0x40..=0x7e => self.set_state(t, DcsHandler),
                _ => {}
            },
            DcsParameter => match b {
                0x20..=0x2f => {
                    self.intermediate(b);
                    self.set_state(t, DcsIntermediate);
                }
                0x30..=0x39 | 0x3b => self.parameter(b),
                0x3a | 0x3c..=0x3f => self.set_state(t, DcsIgnore),
                0x40..=0x7e => self.set_state(t, DcsHandler),
                _ => {}
            },
            DcsIntermediate => match b {
                0x20..=0x2f => self.intermediate(b),
                0x30..=0x3f => self.set_state(t, DcsIgnore),
                0x40..=0x7e => self.set_state(t, DcsHandler),
                _ => {}
            },
            // A DCS changes nothing on this screen (tmux passes `tmux;` ones through to the
            // outer terminal); it ends only with ESC \.
            DcsHandler => {
                if b == 0x1b {
                    self.state = DcsEscape;
                }
            }
            DcsEscape => {
                if b == 0x5c {
                    self.set_state(t, Ground);
                } else {
                    self.state = DcsHandler;
                }
            }
            DcsIgnore | ConsumeSt => {}
            OscString => match b {
                0x07 => {
                    self.end_bel = true;
                    self.set_state(t, Ground);
                }
                0x20..=0xff => self.input_byte(b),
                _ => {}
            },
            ApcString | RenameString => {
                if b >= 0x20 {
                    self.input_byte(b);
                }
            }
        }
    }

    /// tmux's `input_set_state`: run the old state's exit and the new one's entry.
    fn set_state(&mut self, t: &mut Term, to: State) {
        match self.state {
            State::OscString => self.exit_osc(t),
            State::ApcString if !self.discard => t.set_title(&self.input),
            _ => {}
        }
        self.state = to;
        match to {
            State::Ground => {
                self.string_since = None;
                self.release_input();
            }
            State::EscEnter | State::CsiEnter => self.clear(),
            State::DcsEnter
            | State::OscString
            | State::ApcString
            | State::RenameString
            | State::ConsumeSt => {
                self.clear();
                self.string_since = Some(Instant::now());
                t.last = None;
            }
            _ => {}
        }
    }

    /// tmux's `input_clear`.
    fn clear(&mut self) {
        self.interm_len = 0;
        self.param_len = 0;
        self.input.clear();
        self.end_bel = false;
        self.discard = false;
    }

    fn intermediate(&mut self, b: u8) {
        if self.interm_len == INTERM_BYTES {
            self.discard = true;
        } else {
            self.interm[self.interm_len] = b;
            self.interm_len += 1;
        }
    }

    fn parameter(&mut self, b: u8) {
        if self.param_len == PARAM_BYTES {
            self.discard = true;
        } else {
            self.param_buf[self.param_len] = b;
            self.param_len += 1;
        }
    }

    fn input_byte(&mut self, b: u8) {
        if self.input.len() + 1 >= STRING_LIMIT {
            self.discard = true;
            return;
        }
        self.input.push(b);
    }

    fn interm(&self) -> &[u8] {
        &self.interm[..self.interm_len]
    }

    /// tmux's `input_c0_dispatch`.
    fn c0(&mut self, t: &mut Term, b: u8) {
        self.utf8_started = false;
        match b {
            0x08 => t.backspace(),
            0x09 => t.tab(),
            0x0a..=0x0c => t.linefeed(false, t.cell.bg),
            0x0d => t.carriage_return(),
            0x0e => t.set = 1,
            0x0f => t.set = 0,
            _ => {}
        }
        t.last = None;
    }

    /// tmux's `input_top_bit_set`: collect a UTF-8 character; invalid ones are dropped.
    fn top_bit_set(&mut self, t: &mut Term, b: u8) {
        t.last = None;
        if !self.utf8_started {
            self.utf8_size = match b {
                0xc2..=0xdf => 2,
                0xe0..=0xef => 3,
                0xf0..=0xf4 => 4,
                _ => return,
            };
            self.utf8[0] = b;
            self.utf8_have = 1;
            self.utf8_bad = false;
            self.utf8_started = true;
            return;
        }
        if b & 0xc0 != 0x80 {
            self.utf8_bad = true;
        }
        self.utf8[self.utf8_have] = b;
        self.utf8_have += 1;
        if self.utf8_have < self.utf8_size {
            return;
        }
        self.utf8_started = false;
        if self.utf8_bad {
            return;
        }
        let Ok(s) = std::str::from_utf8(&self.utf8[..self.utf8_size]) else {
            return;
        };
        let Some(c) = s.chars().next() else {
            return;
        };
        let w = width::of(c);
        if w > 2 {
            return;
        }
        t.print_char(c, w);
    }

    // ---- dispatch ----

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
    fn get(&self, i: usize, min: i64, default: i64) -> i64 {
        if i >= self.nparams {
            return default;
        }
        match self.params[i] {
            Param::Missing => default,
            Param::Text(..) => -1,
            Param::Number(n) => n.max(min),
        }
    }

    fn esc_dispatch(&mut self, t: &mut Term, b: u8) {
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

    fn csi_dispatch(&mut self, t: &mut Term, b: u8) {
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

    /// tmux's `input_csi_dispatch_sgr`.
    fn sgr(&self, t: &mut Term) {
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

    /// tmux's `input_exit_osc`.
    fn exit_osc(&mut self, t: &mut Term) {
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
            10..=12 if rest == b"?" => queries::colour(t, option),
            _ => {}
        }
    }
}

/// Length of the run of printable ASCII (0x20-0x7e) at the start of `b`, eight bytes at a
/// time while it lasts.
#[inline]
fn printable_run(b: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut i = 0;
    while let Some(chunk) = b.get(i..i + 8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        let w = u64::from_le_bytes(w);
        // A byte below 0x20, a byte with the top bit set, or DEL (0x7f) ends the run.
        let low = w.wrapping_sub(0x20 * ONES) & !w & HIGH;
        let del = {
            let x = w ^ (0x7f * ONES);
            x.wrapping_sub(ONES) & !x & HIGH
        };
        if (low | del | (w & HIGH)) != 0 {
            break;
        }
        i += 8;
    }
    while i < b.len() && (0x20..0x7f).contains(&b[i]) {
        i += 1;
    }
    i
}

fn to_usize(n: i64) -> usize {
    usize::try_from(n).unwrap_or(0)
}

/// `strtonum(s, 0, INT_MAX)`: digits only, no sign, at most `i32::MAX`.
fn parse_number(s: &[u8]) -> Option<i64> {
    let mut n: i64 = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + i64::from(c - b'0');
        if n > i64::from(i32::MAX) {
            return None;
        }
    }
    Some(n)
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
