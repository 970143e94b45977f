//! The agent's input line (its composer): what a send typed there, read back from the screen
//! to tell a landed prompt from a submitted one.

/// Whether the input line on `screen` (the last line matching `input_line`, within the bottom
/// rows) holds `needle`, or a collapsed-paste marker: before Enter, the text landed; after
/// it, the Enter did not submit.
pub fn input_holds(input_line: &regex::Regex, screen: &str, needle: &str) -> bool {
    match input_text(input_line, screen) {
        Some(t) => {
            (!needle.is_empty() && t.contains(needle))
                || t.contains("[Pasted text")
                || t.contains("[Pasted Text")
        }
        None => false,
    }
}

/// What the input line on `screen` holds (capture group 1 of the last line matching
/// `input_line` within the bottom rows), trimmed; `None` when no input line is drawn.
pub fn input_text<'a>(input_line: &regex::Regex, screen: &'a str) -> Option<&'a str> {
    /// The input line is near the bottom; reading further up would find echoed old prompts.
    const INPUT_SEARCH_ROWS: usize = 12;
    screen
        .lines()
        .rev()
        .filter(|l| !l.trim().is_empty())
        .take(INPUT_SEARCH_ROWS)
        .find_map(|l| {
            input_line
                .captures(l)
                .and_then(|c| c.get(1))
                .map(|m| m.as_str().trim())
        })
}
