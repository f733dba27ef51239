//! Bounds on what a file can make chiase hold in memory or say back.
//!
//! An upload is untrusted: one 300 MB line, a million columns or a header
//! cell the size of a novel must not turn into a 300 MB buffer, a million
//! report rows or a novel echoed in an error. Readers stop with a clear
//! error at these bounds; text echoed to a person is clipped with `…`.

use std::borrow::Cow;

/// Longest line (bytes between two line breaks, after decoding) a CSV, TSV
/// or NDJSON reader accepts: 4 MiB. Past it the reader fails instead of
/// buffering the line.
pub const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

/// Longest record a reader accepts: a CSV record spread over several lines
/// by quoted line breaks, or one element of a JSON array (which may share
/// its line with every other element): 16 MiB.
pub const MAX_RECORD_BYTES: usize = 16 * 1024 * 1024;

/// Most cells in a row or keys in a JSON object. A schema has at most 500
/// fields, so a wider file cannot be imported whole anyway; the bound keeps
/// a line of commas from becoming millions of strings.
pub const MAX_COLUMNS: usize = 1_000;

/// Longest value (a cell, an example, an enum candidate) echoed in an
/// error, a report or a proposal, in characters.
pub const MAX_VALUE_CHARS: usize = 200;

/// Longest header or title echoed, in characters.
pub const MAX_TITLE_CHARS: usize = 100;

/// Longest message of a foreign parser (csv, serde_json, calamine) quoted
/// in an error, in characters: they may quote the input.
pub const MAX_CAUSE_CHARS: usize = 200;

/// Text cut to at most `max_chars` characters, the last of them `…` when
/// something was cut, so that a reader sees the text was longer.
pub fn clip(text: &str, max_chars: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max_chars) {
        None => Cow::Borrowed(text),
        Some(_) if max_chars == 0 => Cow::Borrowed(""),
        Some(_) => {
            let keep = max_chars.saturating_sub(1);
            let end = text.char_indices().nth(keep).map(|(i, _)| i).unwrap_or(text.len());
            Cow::Owned(format!("{}…", &text[..end]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_counts_characters_and_marks_the_cut() {
        assert_eq!(clip("Đồng Bừng", 9), "Đồng Bừng");
        assert_eq!(clip("Đồng Bừng", 5), "Đồng…");
        assert_eq!(clip("Đồng Bừng", 5).chars().count(), 5);
        assert_eq!(clip("", 0), "");
        assert_eq!(clip("ab", 0), "");
        assert_eq!(clip("abc", 1), "…");
    }
}
