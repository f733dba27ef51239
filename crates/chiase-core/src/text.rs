//! Clean text derived from the catalog's verbatim cells.
//!
//! The decision's cells hold HTML fragments from a Word export (`<ul ...>`,
//! `<p>`) and bullet lists written inline (`- Mục đích: ... - Phạm vi: ...`,
//! sub-items with `+ `). The verbatim cell stays the record of the decision;
//! this module derives a readable structure beside it: lead paragraphs and
//! a two-level list. The fragments are simple and come from one kind of
//! export, so a small tag stripper is enough here; a full HTML parser would
//! add a large dependency for nothing it could do better on this input.

use serde::{Deserialize, Serialize};

use crate::fold::nfc;

/// A cell's text without markup: paragraphs, then list items.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CleanText {
    /// Paragraphs that are not list items, in order.
    pub paragraphs: Vec<String>,
    /// Bullet items (`- `), each with its sub-items (`+ `).
    pub items: Vec<ListItem>,
}

/// One bullet item and the sub-items written under it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ListItem {
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<String>,
}

impl CleanText {
    /// Parses a verbatim cell.
    pub fn parse(raw: &str) -> CleanText {
        let raw = nfc(raw);
        let has_list_markup = {
            let lower = raw.to_ascii_lowercase();
            lower.contains("<ul") || lower.contains("<li")
        };
        let blocks = strip_html(&raw);
        let mut out = CleanText::default();
        for block in blocks {
            let block = collapse_spaces(&block);
            if block.is_empty() {
                continue;
            }
            let starts_as_item = block.starts_with("- ") || block.starts_with("+ ") || block.starts_with("• ");
            if has_list_markup || starts_as_item {
                out.push_list_block(&block);
            } else {
                out.paragraphs.push(block);
            }
        }
        out
    }

    fn push_list_block(&mut self, block: &str) {
        for (marker, text) in split_bullets(block) {
            let text = text.trim().to_string();
            if text.is_empty() {
                continue;
            }
            match marker {
                None if self.items.is_empty() => self.paragraphs.push(text),
                None => self.items.push(ListItem { text, children: vec![] }),
                Some('+') => match self.items.last_mut() {
                    Some(last) => last.children.push(text),
                    None => self.items.push(ListItem { text, children: vec![] }),
                },
                Some(_) => self.items.push(ListItem { text, children: vec![] }),
            }
        }
    }

    /// Plain text: paragraphs, then `- item` lines with `  + child` lines.
    pub fn plain(&self) -> String {
        let mut lines: Vec<String> = self.paragraphs.clone();
        for item in &self.items {
            lines.push(format!("- {}", item.text));
            for child in &item.children {
                lines.push(format!("  + {child}"));
            }
        }
        lines.join("\n")
    }

    /// All the words, for search indexing and one-line summaries.
    pub fn flat(&self) -> String {
        let mut parts: Vec<&str> = self.paragraphs.iter().map(String::as_str).collect();
        for item in &self.items {
            parts.push(&item.text);
            parts.extend(item.children.iter().map(String::as_str));
        }
        parts.join(" ")
    }

    /// True when the cell held no text.
    pub fn is_empty(&self) -> bool {
        self.paragraphs.is_empty() && self.items.is_empty()
    }
}

/// Clean single-line text: markup removed, spaces collapsed, NFC. Used for
/// names, where a trailing full stop of the original is dropped too.
pub fn clean_line(raw: &str) -> String {
    let text = strip_html(&nfc(raw)).join(" ");
    collapse_spaces(&text)
}

/// A name as people should read it: [`clean_line`] without a trailing `.`.
pub fn clean_name(raw: &str) -> String {
    let mut s = clean_line(raw);
    while s.ends_with('.') && !s.ends_with("..") {
        s.pop();
    }
    s.trim_end().to_string()
}

/// Removes tags, decodes entities, and splits at block boundaries
/// (`<p>`, `<li>`, `<br>`, `<ul>` and line breaks).
fn strip_html(s: &str) -> Vec<String> {
    let mut blocks = vec![String::new()];
    let mut rest = s;
    while let Some(pos) = rest.find(['<', '\n', '\r']) {
        blocks.last_mut().expect("BUG: blocks is never empty").push_str(&decode_entities(&rest[..pos]));
        let tail = &rest[pos..];
        if tail.starts_with('<') {
            match tail.find('>') {
                Some(end) => {
                    let tag = tail[1..end].trim_start_matches('/').to_ascii_lowercase();
                    let name: String = tag.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
                    if matches!(name.as_str(), "p" | "li" | "br" | "ul" | "ol" | "div" | "tr") {
                        blocks.push(String::new());
                    } else if name.is_empty() {
                        // Not a tag ("a < b"): keep the text as written.
                        blocks.last_mut().expect("BUG: blocks is never empty").push_str(&tail[..=end]);
                    }
                    rest = &tail[end + 1..];
                }
                None => {
                    blocks.last_mut().expect("BUG: blocks is never empty").push_str(tail);
                    rest = "";
                }
            }
        } else {
            blocks.push(String::new());
            rest = &tail[1..];
        }
    }
    blocks.last_mut().expect("BUG: blocks is never empty").push_str(&decode_entities(rest));
    blocks.retain(|b| !b.trim().is_empty());
    blocks
}

fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        let decoded = tail.find(';').filter(|&end| end <= 10).and_then(|end| {
            let name = &tail[1..end];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" | "#39" => Some('\''),
                "nbsp" => Some(' '),
                _ if name.starts_with("#x") || name.starts_with("#X") => u32::from_str_radix(&name[2..], 16).ok().and_then(char::from_u32),
                _ if name.starts_with('#') => name[1..].parse().ok().and_then(char::from_u32),
                _ => None,
            };
            c.map(|c| (c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn collapse_spaces(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Splits a block at bullet markers: a `-`, `+` or `•` at the start or after
/// white space, followed by white space and then a capital letter or digit.
/// The capital-letter rule keeps "thi đua - khen thưởng" in one piece while
/// splitting "... xây dựng CSDL - Cập nhật khi ...", as the decision writes
/// every item with a capital.
fn split_bullets(block: &str) -> Vec<(Option<char>, String)> {
    let chars: Vec<char> = block.chars().collect();
    let mut parts: Vec<(Option<char>, String)> = vec![(None, String::new())];
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let at_boundary = i == 0 || chars[i - 1].is_whitespace();
        if at_boundary && matches!(c, '-' | '+' | '•') {
            let mut j = i + 1;
            while j < chars.len() && chars[j].is_whitespace() {
                j += 1;
            }
            let spaced = j > i + 1;
            if spaced && j < chars.len() && (chars[j].is_uppercase() || chars[j].is_ascii_digit()) {
                parts.push((Some(c), String::new()));
                i = j;
                continue;
            }
        }
        parts.last_mut().expect("BUG: parts is never empty").1.push(c);
        i += 1;
    }
    parts.retain(|(m, t)| m.is_some() || !t.trim().is_empty());
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_list_becomes_items() {
        let t = CleanText::parse(r#"<ul style="list-style-type: none"> - Mục đích: Quản lý các trạm BTS. - Phạm vi: Toàn tỉnh. </ul>"#);
        assert!(t.paragraphs.is_empty());
        assert_eq!(t.items.len(), 2);
        assert_eq!(t.items[0].text, "Mục đích: Quản lý các trạm BTS.");
        assert_eq!(t.items[1].text, "Phạm vi: Toàn tỉnh.");
    }

    #[test]
    fn plus_items_nest_under_the_previous_dash_item() {
        let t = CleanText::parse("<ul> - Mục đích: + Bảo quản tài liệu. + Sử dụng chung. - Phạm vi: Hệ thống thư viện</ul>");
        assert_eq!(t.items.len(), 2);
        assert_eq!(t.items[0].text, "Mục đích:");
        assert_eq!(t.items[0].children, vec!["Bảo quản tài liệu.", "Sử dụng chung."]);
        assert_eq!(t.plain(), "- Mục đích:\n  + Bảo quản tài liệu.\n  + Sử dụng chung.\n- Phạm vi: Hệ thống thư viện");
    }

    #[test]
    fn a_dash_inside_a_name_is_not_a_bullet() {
        let t = CleanText::parse("CSDL Quản lý thi đua - khen thưởng");
        assert_eq!(t.paragraphs, vec!["CSDL Quản lý thi đua - khen thưởng"]);
        assert!(t.items.is_empty());
        let t = CleanText::parse("- Tạo lập khi đo đạc địa chính và xây dựng CSDL - Cập nhật khi có biến động về đất đai");
        assert_eq!(t.items.len(), 2);
    }

    #[test]
    fn paragraphs_and_entities_are_decoded() {
        let t = CleanText::parse("<p>Một &amp; hai&nbsp;ba</p> <p>Bốn &#272;ất</p>");
        assert_eq!(t.paragraphs, vec!["Một & hai ba", "Bốn Đất"]);
        assert_eq!(clean_line("a < b"), "a < b");
    }

    #[test]
    fn names_lose_a_trailing_full_stop() {
        assert_eq!(clean_name("Hệ thống Quản lý quy hoạch viễn thông thụ động. "), "Hệ thống Quản lý quy hoạch viễn thông thụ động");
        assert_eq!(clean_name("  CSDL   Địa chính "), "CSDL Địa chính");
    }
}
