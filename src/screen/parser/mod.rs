//! The byte-stream parser: tmux 3.3a's input state machine (input.c, a DEC/ANSI parser in
//! the style of Paul Williams' diagram) and its dispatch of control functions to the
//! terminal model. Following tmux's tables rather than a generic parser matters for output
//! that is not well formed: which bytes a sequence swallows, a missing parameter against an
//! explicit 0, parameter strings longer than 63 bytes, colon sub-parameters, invalid UTF-8
//! (dropped, not replaced), `ESC k` window names and APC titles.
//!
//! Printable ASCII in the ground state is handed to the model a run at a time, which is
//! most of the bytes any program prints.

mod dispatch;
mod sgr;

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
    /// Bytes of the current [`Parser::advance`] call consumed so far, outside the ground
    /// state: where in its chunk a string that ends now ends (shell marks carry it).
    pos: usize,
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
            pos: 0,
        }
    }
}

impl Parser {
    /// Between sequences and characters: the bytes parsed so far end where a new stream
    /// could begin (no escape sequence, string or UTF-8 character half read).
    pub fn at_rest(&self) -> bool {
        self.state == State::Ground && !self.utf8_started
    }

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
            self.pos = i;
            self.step(t, b);
        }
    }

    /// The string timer fired: back to the ground state with a fresh pen (tmux's
    /// `input_reset(ictx, 0)`).
    fn timeout(&mut self, t: &mut Term) {
        t.reset_cell();
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
