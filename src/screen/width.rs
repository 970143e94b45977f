//! Character widths as tmux measures them: the C library's `wcwidth` (see
//! `width_table.rs`, generated from glibc). 0 means the character combines with the cell
//! before it, 3 that it is not printable (tmux drops it).

use super::width_table::{BLOCKS, HIGH, INDEX, SPLIT};

/// Columns `c` takes: 0, 1, 2, or 3 for "not printable".
#[inline]
pub fn of(c: char) -> u8 {
    let cp = c as u32;
    if cp < 0x7f {
        return if cp >= 0x20 { 1 } else { 3 };
    }
    if cp < SPLIT {
        let block = INDEX[(cp >> 8) as usize];
        let byte = BLOCKS[usize::from(block)][((cp & 0xff) >> 2) as usize];
        return (byte >> ((cp & 3) * 2)) & 3;
    }
    match HIGH.binary_search_by(|&(lo, hi, _)| {
        if hi < cp {
            std::cmp::Ordering::Less
        } else if lo > cp {
            std::cmp::Ordering::Greater
        } else {
            std::cmp::Ordering::Equal
        }
    }) {
        Ok(i) => HIGH[i].2,
        Err(_) => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::of;

    #[test]
    fn widths_follow_glibc() {
        assert_eq!(of('a'), 1);
        assert_eq!(of('\u{7f}'), 3);
        assert_eq!(of('表'), 2);
        assert_eq!(of('🙂'), 2);
        assert_eq!(of('\u{301}'), 0);
        assert_eq!(of('\u{200d}'), 0);
        assert_eq!(of('\u{fe0f}'), 0);
        assert_eq!(of('\u{85}'), 3);
        assert_eq!(of('\u{1f1e9}'), 1);
        assert_eq!(of('\u{e0100}'), 0);
        assert_eq!(of('\u{10fffd}'), 1);
        assert_eq!(of('\u{1fae8}'), 3);
    }
}
