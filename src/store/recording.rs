//! Session recordings in asciicast v2, written by the holder process (so output printed while
//! no daemon runs is recorded too) and read back by the daemon for downloads and transcripts.
//!
//! Format: a JSON header line, then one `[seconds, code, data]` array per line, with codes
//! `o` (output), `i` (input) and `r` (resize, `"COLSxROWS"`). Times come from a monotonic
//! clock. Event data must be valid UTF-8, so a multi-byte character split across two pty
//! reads is carried over to the next event instead of being mangled; bytes that are not UTF-8
//! at all become U+FFFD (asciicast cannot carry them).
//!
//! Rotation: when the current file passes `max_bytes`, it is renamed `recording.1.cast`
//! (older ones shift to `.2`, ... up to `keep`, the oldest is deleted) and a fresh file with
//! its own header starts. Each header carries `aegis_output_offset`, the number of output
//! bytes recorded before it, so transcript offsets stay meaningful across rotations (asciinema
//! ignores header keys it does not know).

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::utf8::Utf8Carry;

/// File name of the current recording inside a session directory.
pub const FILE: &str = "recording.cast";

/// Where and how much to record.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordingLimits {
    /// Rotate once the current file reaches this size.
    pub max_bytes: u64,
    /// Rotated files kept besides the current one.
    pub keep: u32,
}

impl Default for RecordingLimits {
    fn default() -> Self {
        // 32 MiB holds hours of a typical agent's output; a flood rotates rather than filling
        // the disk. One rotated file keeps the previous stretch around for downloads.
        RecordingLimits {
            max_bytes: 32 * 1024 * 1024,
            keep: 1,
        }
    }
}

/// Path of rotated file `n` (1 = newest) in `dir`.
pub fn rotated(dir: &Path, n: u32) -> PathBuf {
    dir.join(format!("recording.{n}.cast"))
}

/// Appends events to a session's recording, rotating by size.
/// Events gathered before they are written to the file, unless [`Recorder::flush`] comes
/// first: a flood's batch is one write.
const WRITE_AT: usize = 64 * 1024;

pub struct Recorder {
    dir: PathBuf,
    limits: RecordingLimits,
    file: File,
    /// Events not written yet (see [`WRITE_AT`], [`Recorder::flush`]). Its room stays from
    /// the largest batch until [`Recorder::release_memory`].
    pending: Vec<u8>,
    written: u64,
    started: Instant,
    cols: u16,
    rows: u16,
    out: Utf8Carry,
    input: Utf8Carry,
    /// Output bytes (as recorded, UTF-8) written over the session's life, across rotations.
    output_offset: u64,
}

#[derive(Serialize)]
struct Header<'a> {
    version: u8,
    width: u16,
    height: u16,
    timestamp: u64,
    env: Env<'a>,
    aegis_output_offset: u64,
}

#[derive(Serialize)]
struct Env<'a> {
    #[serde(rename = "TERM")]
    term: &'a str,
}

impl Recorder {
    /// Start a new recording in `dir` (replacing none: a session records from its start).
    pub fn create(
        dir: &Path,
        limits: RecordingLimits,
        cols: u16,
        rows: u16,
    ) -> std::io::Result<Recorder> {
        let file = open_new(&dir.join(FILE))?;
        let mut r = Recorder {
            dir: dir.to_path_buf(),
            limits,
            file,
            pending: Vec::new(),
            written: 0,
            started: Instant::now(),
            cols,
            rows,
            out: Utf8Carry::default(),
            input: Utf8Carry::default(),
            output_offset: 0,
        };
        r.header()?;
        Ok(r)
    }

    fn header(&mut self) -> std::io::Result<()> {
        let h = Header {
            version: 2,
            width: self.cols,
            height: self.rows,
            timestamp: crate::clock::now_ms() / 1000,
            env: Env {
                term: "xterm-256color",
            },
            aegis_output_offset: self.output_offset,
        };
        let before = self.pending.len();
        serde_json::to_writer(&mut self.pending, &h).map_err(std::io::Error::other)?;
        self.pending.push(b'\n');
        self.written += (self.pending.len() - before) as u64;
        Ok(())
    }

    fn event(&mut self, code: &str, data: &str) -> std::io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let t = self.started.elapsed().as_secs_f64();
        // Serialized straight into the pending bytes (output events are most of the bytes).
        let before = self.pending.len();
        let w = &mut self.pending;
        w.push(b'[');
        serde_json::to_writer(&mut *w, &t).map_err(std::io::Error::other)?;
        w.push(b',');
        serde_json::to_writer(&mut *w, code).map_err(std::io::Error::other)?;
        w.extend_from_slice(b",\"");
        write_json_escaped(&mut *w, data)?;
        w.extend_from_slice(b"\"]\n");
        self.written += (self.pending.len() - before) as u64;
        if self.written >= self.limits.max_bytes {
            self.rotate()?;
        } else if self.pending.len() >= WRITE_AT {
            self.flush()?;
        }
        Ok(())
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        self.flush()?;
        let keep = self.limits.keep;
        if keep == 0 {
            std::fs::remove_file(self.dir.join(FILE))?;
        } else {
            let _ = std::fs::remove_file(rotated(&self.dir, keep));
            for n in (1..keep).rev() {
                let _ = std::fs::rename(rotated(&self.dir, n), rotated(&self.dir, n + 1));
            }
            std::fs::rename(self.dir.join(FILE), rotated(&self.dir, 1))?;
        }
        self.file = open_new(&self.dir.join(FILE))?;
        self.written = 0;
        self.header()
    }

    pub fn output(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let mut carry = std::mem::take(&mut self.out);
        let text = carry.push_borrowed(bytes);
        self.output_offset += text.len() as u64;
        let r = self.event("o", &text);
        drop(text);
        self.out = carry;
        r
    }

    pub fn input(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let text = self.input.push(bytes);
        self.event("i", &text)
    }

    pub fn resize(&mut self, cols: u16, rows: u16) -> std::io::Result<()> {
        self.cols = cols;
        self.rows = rows;
        self.event("r", &format!("{cols}x{rows}"))
    }

    /// Write what is pending to the file.
    pub fn flush(&mut self) -> std::io::Result<()> {
        let r = self.file.write_all(&self.pending);
        self.pending.clear();
        r
    }

    /// Write what is pending and give back the room a flood's batches took: the session went
    /// quiet, and a thousand quiet sessions would otherwise each hold their largest batch.
    pub fn release_memory(&mut self) -> std::io::Result<()> {
        let r = self.flush();
        self.pending = Vec::new();
        r
    }
}

impl Drop for Recorder {
    /// Nothing recorded is left behind (what `BufWriter` did for the file it buffered).
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// `s` as the inside of a JSON string, escaped exactly as serde_json does (`"`, `\\`, the
/// short escapes and `\u00XX` for other control characters). Runs that need nothing are
/// copied whole, eight bytes checked at a time: pty output is mostly such runs.
fn write_json_escaped(w: &mut impl Write, s: &str) -> std::io::Result<()> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has = |x: u64, b: u8| {
        let y = x ^ (u64::from(b) * ONES);
        y.wrapping_sub(ONES) & !y & HIGH
    };
    let b = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        if let Some(chunk) = b.get(i..i + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            let x = u64::from_le_bytes(word);
            // Bytes below 0x20 (the top-bit bytes of UTF-8 are excluded by `!x`), quotes and
            // backslashes need escaping; anything else is copied as it is.
            let control = x.wrapping_sub(0x20 * ONES) & !x & HIGH;
            if control | has(x, b'"') | has(x, b'\\') == 0 {
                i += 8;
                continue;
            }
        }
        let c = b[i];
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..0x20 => b"",
            _ => {
                i += 1;
                continue;
            }
        };
        w.write_all(&b[start..i])?;
        if esc.is_empty() {
            // `\u00XX`, lowercase hex as serde_json writes it; ESC starts every colour
            // change, so this is frequent enough that `write!` would show in a profile.
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let hex = [HEX[usize::from(c >> 4)], HEX[usize::from(c & 0xf)]];
            w.write_all(&[b'\\', b'u', b'0', b'0', hex[0], hex[1]])?;
        } else {
            w.write_all(esc)?;
        }
        i += 1;
        start = i;
    }
    w.write_all(&b[start..])
}

fn open_new(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

/// Output recorded for a session, from `since` (an offset into the recorded output text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputSlice {
    /// Offset of the first byte of `text`. Larger than the requested `since` when that part
    /// was rotated away.
    pub start: u64,
    pub text: String,
    /// Offset just past `text`: the `since` for the next call.
    pub end: u64,
}

/// Read the recorded output text from offset `since`, across rotated files, up to `limit`
/// bytes (cut on a character boundary).
pub fn read_output(dir: &Path, since: u64, limit: usize) -> std::io::Result<OutputSlice> {
    let mut files: Vec<PathBuf> = (1..=64)
        .map(|n| rotated(dir, n))
        .take_while(|p| p.exists())
        .collect();
    files.reverse();
    files.push(dir.join(FILE));
    let mut slice = OutputSlice {
        start: since,
        text: String::new(),
        end: since,
    };
    let mut first = true;
    for path in files {
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let mut lines = BufReader::new(file).lines();
        let Some(header) = lines.next().transpose()? else {
            continue;
        };
        let mut offset = serde_json::from_str::<serde_json::Value>(&header)
            .ok()
            .and_then(|h| h["aegis_output_offset"].as_u64())
            .unwrap_or(0);
        if first {
            // The oldest file available decides where the kept history starts.
            first = false;
            if offset > since {
                slice.start = offset;
                slice.end = offset;
            }
        }
        for line in lines {
            let line = line?;
            // A torn last line (the holder was killed mid-write) is skipped, not fatal.
            let Ok((_, code, data)) = serde_json::from_str::<(f64, String, String)>(&line) else {
                continue;
            };
            if code != "o" {
                continue;
            }
            let len = data.len() as u64;
            if offset + len > slice.end {
                let skip = slice.end.saturating_sub(offset) as usize;
                let mut piece = data.get(skip..).unwrap_or_default();
                let room = limit.saturating_sub(slice.text.len());
                if piece.len() > room {
                    let mut cut = room;
                    while !piece.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    piece = &piece[..cut];
                }
                slice.text.push_str(piece);
                slice.end += piece.len() as u64;
                if slice.text.len() >= limit {
                    return Ok(slice);
                }
            }
            offset += len;
        }
    }
    Ok(slice)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // reason: a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn output_is_escaped_as_serde_json_escapes_it() {
        let mut samples: Vec<String> = vec![
            String::new(),
            "plain ascii text that is long enough for words".into(),
            "quote\" back\\slash \u{1b}[31mred\u{1b}[0m\r\n\t\u{8}\u{c}\u{7f}".into(),
            "表示🙂 é\u{0}\u{1f}x".into(),
        ];
        // Every byte value below 0x80 at every position in a word.
        for c in 0u8..0x80 {
            for pos in 0..9 {
                let mut t = "abcdefghijklmnop".to_owned();
                t.insert(pos, char::from(c));
                samples.push(t);
            }
        }
        for t in samples {
            let mut ours = Vec::new();
            write_json_escaped(&mut ours, &t).unwrap();
            let theirs = serde_json::to_string(&t).unwrap();
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                theirs[1..theirs.len() - 1],
                "{t:?}"
            );
        }
    }

    #[test]
    fn utf8_split_across_chunks_is_carried() {
        let mut c = Utf8Carry::default();
        let bytes = "a€b".as_bytes();
        assert_eq!(c.push(&bytes[..2]), "a");
        assert_eq!(c.push(&bytes[2..]), "€b");
        assert_eq!(c.push(b"\xffz"), "\u{FFFD}z");
    }

    #[test]
    fn rotation_keeps_offsets_and_reads_across_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Recorder::create(
            dir.path(),
            RecordingLimits {
                max_bytes: 200,
                keep: 5,
            },
            80,
            24,
        )
        .unwrap();
        let mut all = String::new();
        for i in 0..40 {
            let s = format!("line {i} ✓\r\n");
            r.output(s.as_bytes()).unwrap();
            all.push_str(&s);
        }
        r.flush().unwrap();
        assert!(rotated(dir.path(), 1).exists());
        let whole = read_output(dir.path(), 0, usize::MAX).unwrap();
        // Only the kept files are available; what is there ends exactly with everything.
        assert!(all.ends_with(&whole.text));
        assert_eq!(whole.end, all.len() as u64);
        let tail = read_output(dir.path(), whole.end - 10, usize::MAX).unwrap();
        assert_eq!(tail.text, &all[all.len() - 10..]);
        let limited = read_output(dir.path(), whole.start, 7).unwrap();
        assert_eq!(limited.text.len(), 7);
    }
}
