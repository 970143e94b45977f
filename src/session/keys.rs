//! tmux key names to the bytes an xterm sends for them.
//!
//! Names follow tmux's `send-keys`: `Enter`, `Escape`, `Tab`, `BTab`, `BSpace`, `Space`,
//! `Up`/`Down`/`Left`/`Right`, `Home`/`End`, `PageUp`/`PPage`, `PageDown`/`NPage`, `IC`/`Insert`,
//! `DC`/`Delete`, `F1`..`F12`, and modifier prefixes `C-`, `M-`, `S-` (combinable, e.g. `C-M-a`,
//! `S-Up`). As in tmux, a string that is not a key name is sent as literal text.
//!
//! Cursor keys honour application cursor mode (DECCKM): `ESC O A` instead of `ESC [ A`.

/// Encode one key name (or literal text) for a program in the given cursor mode.
pub fn encode(key: &str, application_cursor: bool) -> Vec<u8> {
    named(key, application_cursor).unwrap_or_else(|| key.as_bytes().to_vec())
}

/// Encode a list of keys into one byte string.
pub fn encode_all<S: AsRef<str>>(keys: &[S], application_cursor: bool) -> Vec<u8> {
    keys.iter()
        .flat_map(|k| encode(k.as_ref(), application_cursor))
        .collect()
}

#[derive(Default, Clone, Copy)]
struct Mods {
    ctrl: bool,
    meta: bool,
    shift: bool,
}

impl Mods {
    /// xterm's modifier parameter: 1 + shift + 2·alt + 4·ctrl.
    fn param(self) -> u8 {
        1 + u8::from(self.shift) + 2 * u8::from(self.meta) + 4 * u8::from(self.ctrl)
    }
    fn any(self) -> bool {
        self.ctrl || self.meta || self.shift
    }
}

fn named(key: &str, app_cursor: bool) -> Option<Vec<u8>> {
    let mut mods = Mods::default();
    let mut rest = key;
    // Peel modifier prefixes; a lone "C-" or "M-" is literal text.
    // `get` rather than indexing: a key name is user input and may put a multi-byte
    // character across byte 2.
    while rest.len() > 2 {
        match rest.get(..2) {
            Some("C-" | "c-") => mods.ctrl = true,
            Some("M-" | "m-") => mods.meta = true,
            Some("S-" | "s-") => mods.shift = true,
            _ => break,
        }
        rest = &rest[2..];
    }
    let base = base_key(rest, mods, app_cursor)?;
    if mods.meta && !matches!(base, Base::Csi { .. }) {
        let mut out = vec![0x1b];
        out.extend(base.bytes(mods, app_cursor));
        return Some(out);
    }
    Some(base.bytes(mods, app_cursor))
}

enum Base {
    /// Plain bytes (ctrl already applied).
    Bytes(Vec<u8>),
    /// A CSI/SS3 key: `ESC [ <n> ~` when `tilde` else cursor-style final byte.
    Csi { code: u8, tilde: Option<u8> },
    /// F1..F4: SS3 P..S, or CSI 1;m P..S with modifiers.
    Ss3 { fin: u8 },
}

impl Base {
    fn bytes(&self, mods: Mods, app_cursor: bool) -> Vec<u8> {
        let m = Mods {
            meta: mods.meta,
            ..mods
        };
        match self {
            Base::Bytes(b) => b.clone(),
            Base::Csi { tilde: Some(n), .. } => {
                if m.any() {
                    format!("\x1b[{n};{}~", m.param()).into_bytes()
                } else {
                    format!("\x1b[{n}~").into_bytes()
                }
            }
            Base::Csi { code, tilde: None } => {
                if m.any() {
                    format!("\x1b[1;{}{}", m.param(), *code as char).into_bytes()
                } else if app_cursor {
                    vec![0x1b, b'O', *code]
                } else {
                    vec![0x1b, b'[', *code]
                }
            }
            Base::Ss3 { fin } => {
                if m.any() {
                    format!("\x1b[1;{}{}", m.param(), *fin as char).into_bytes()
                } else {
                    vec![0x1b, b'O', *fin]
                }
            }
        }
    }
}

fn base_key(name: &str, mods: Mods, _app_cursor: bool) -> Option<Base> {
    let csi = |code: u8| Some(Base::Csi { code, tilde: None });
    let tilde = |n: u8| {
        Some(Base::Csi {
            code: b'~',
            tilde: Some(n),
        })
    };
    match name {
        "Enter" => return Some(Base::Bytes(vec![b'\r'])),
        "Escape" | "Esc" => return Some(Base::Bytes(vec![0x1b])),
        "Tab" if mods.shift => return Some(Base::Bytes(b"\x1b[Z".to_vec())),
        "Tab" => return Some(Base::Bytes(vec![b'\t'])),
        "BTab" => return Some(Base::Bytes(b"\x1b[Z".to_vec())),
        "BSpace" => return Some(Base::Bytes(vec![0x7f])),
        "Space" if mods.ctrl => return Some(Base::Bytes(vec![0])),
        "Space" => return Some(Base::Bytes(vec![b' '])),
        "Up" => return csi(b'A'),
        "Down" => return csi(b'B'),
        "Right" => return csi(b'C'),
        "Left" => return csi(b'D'),
        "Home" => return csi(b'H'),
        "End" => return csi(b'F'),
        "IC" | "Insert" => return tilde(2),
        "DC" | "Delete" => return tilde(3),
        "PageUp" | "PPage" | "PgUp" => return tilde(5),
        "PageDown" | "NPage" | "PgDn" => return tilde(6),
        "F1" => return Some(Base::Ss3 { fin: b'P' }),
        "F2" => return Some(Base::Ss3 { fin: b'Q' }),
        "F3" => return Some(Base::Ss3 { fin: b'R' }),
        "F4" => return Some(Base::Ss3 { fin: b'S' }),
        "F5" => return tilde(15),
        "F6" => return tilde(17),
        "F7" => return tilde(18),
        "F8" => return tilde(19),
        "F9" => return tilde(20),
        "F10" => return tilde(21),
        "F11" => return tilde(23),
        "F12" => return tilde(24),
        _ => {}
    }
    // A single character with modifiers: C-a .. C-z, C-[ etc., M-x.
    let mut chars = name.chars();
    let (Some(c), None) = (chars.next(), chars.next()) else {
        return None;
    };
    if !(mods.ctrl || mods.meta || mods.shift) {
        return None; // a bare single character is literal text
    }
    if mods.ctrl {
        let b = match c {
            'a'..='z' => c as u8 - b'a' + 1,
            'A'..='Z' => c as u8 - b'A' + 1,
            '@' | ' ' | '2' => 0,
            '[' | '3' => 0x1b,
            '\\' | '4' => 0x1c,
            ']' | '5' => 0x1d,
            '^' | '6' => 0x1e,
            '_' | '7' | '/' => 0x1f,
            '?' | '8' => 0x7f,
            _ => return None,
        };
        return Some(Base::Bytes(vec![b]));
    }
    let c = if mods.shift {
        c.to_ascii_uppercase()
    } else {
        c
    };
    let mut buf = [0u8; 4];
    Some(Base::Bytes(c.encode_utf8(&mut buf).as_bytes().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_keys() {
        assert_eq!(encode("Enter", false), b"\r");
        assert_eq!(encode("Escape", false), b"\x1b");
        assert_eq!(encode("BSpace", false), b"\x7f");
        assert_eq!(encode("C-c", false), b"\x03");
        assert_eq!(encode("C-a", false), b"\x01");
        assert_eq!(encode("C-z", false), b"\x1a");
        assert_eq!(encode("M-x", false), b"\x1bx");
        assert_eq!(encode("Up", false), b"\x1b[A");
        assert_eq!(encode("Up", true), b"\x1bOA");
        assert_eq!(encode("S-Up", false), b"\x1b[1;2A");
        assert_eq!(encode("C-Right", false), b"\x1b[1;5C");
        assert_eq!(encode("PageDown", false), b"\x1b[6~");
        assert_eq!(encode("F1", false), b"\x1bOP");
        assert_eq!(encode("F12", false), b"\x1b[24~");
        assert_eq!(encode("Tab", false), b"\t");
        assert_eq!(encode("BTab", false), b"\x1b[Z");
    }

    #[test]
    fn literal_text_passes_through() {
        assert_eq!(encode("hello", false), b"hello");
        assert_eq!(encode("C-", false), b"C-");
        assert_eq!(encode("x", false), b"x");
        assert_eq!(encode("Entr", false), b"Entr");
        assert_eq!(encode_all(&["ls", "Enter"], false), b"ls\r");
        // Regression (found by the property test): a multi-byte character at byte 1.
        assert_eq!(encode("é…x", false), "é…x".as_bytes());
    }
}
