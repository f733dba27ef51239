//! Values as people type them in Vietnamese offices: `15/03/2025`,
//! `1.234.567,89`, `Có`/`x`, `2024-2025` where a template wants
//! `2024–2025`. A field reads these when its schema says its files are
//! typed by people ([`InputLocale`]); machine formats (ISO dates, plain
//! numbers) are read everywhere as well.
//!
//! The one real ambiguity is a single separator followed by exactly three
//! digits (`1.234`, `1,234`): the locale decides (`vi`: a thousands
//! separator after a dot, a decimal comma; `en`: the reverse).

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use serde::{Deserialize, Serialize};

use crate::fold::fold;

/// How people write numbers in a dataset's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum InputLocale {
    /// `1.234.567,89`; `1.234` is one thousand two hundred and thirty-four.
    #[default]
    Vi,
    /// `1,234,567.89`; `1.234` is one point two three four.
    En,
}

impl InputLocale {
    pub fn code(self) -> &'static str {
        match self {
            InputLocale::Vi => "vi",
            InputLocale::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<InputLocale> {
        match s.trim().to_ascii_lowercase().as_str() {
            "vi" | "vi-vn" => Some(InputLocale::Vi),
            "en" | "en-us" | "en-gb" => Some(InputLocale::En),
            _ => None,
        }
    }
}

/// Whitespace people leave around values, the non-breaking spaces Excel
/// and web pages add included (`char::is_whitespace` covers U+00A0,
/// U+202F and U+2007).
pub fn trim(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}' || c == '\u{200b}')
}

/// A number as typed, in plain form (`-1234567.89`) ready for Rust's
/// parser, or `None` when it is not a number in any convention.
/// `decimal_only` is for coordinates: a dot there is always a decimal
/// point (`21.823` is a latitude, never 21,823).
pub fn number(raw: &str, locale: InputLocale, decimal_only: bool) -> Option<String> {
    let s = trim(raw);
    let s = s.strip_suffix('%').map(trim).unwrap_or(s);
    let (sign, body) = match s.as_bytes().first() {
        Some(b'-') => ("-", &s[1..]),
        Some(b'+') => ("", &s[1..]),
        _ => match s.strip_prefix('\u{2212}') {
            Some(rest) => ("-", rest),
            None => ("", s),
        },
    };
    // Spaces of any kind group digits too ("1 234 567").
    let body: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    if body.is_empty() || !body.chars().all(|c| c.is_ascii_digit() || c == '.' || c == ',') {
        return None;
    }
    let dots = body.matches('.').count();
    let commas = body.matches(',').count();
    let plain = |int: &str, frac: Option<&str>| -> Option<String> {
        if int.is_empty() && frac.is_none() {
            return None;
        }
        let int = if int.is_empty() { "0" } else { int };
        match frac {
            Some("") => None,
            Some(f) => Some(format!("{sign}{int}.{f}")),
            None => Some(format!("{sign}{int}")),
        }
    };
    match (dots, commas) {
        (0, 0) => plain(&body, None),
        (1, 0) | (0, 1) => {
            let sep = if dots == 1 { '.' } else { ',' };
            let (int, frac) = body.split_once(sep)?;
            // `1.234` / `1,234`: grouping or a decimal mark, by locale.
            let could_group = frac.len() == 3 && (1..=3).contains(&int.len()) && !int.starts_with('0');
            let grouping = !decimal_only && could_group && (sep == '.') == (locale == InputLocale::Vi);
            if grouping { plain(&format!("{int}{frac}"), None) } else { plain(int, Some(frac)) }
        }
        // Several of one mark and none of the other: thousands separators.
        (_, 0) => grouped(&body, '.').and_then(|d| plain(&d, None)),
        (0, _) => grouped(&body, ',').and_then(|d| plain(&d, None)),
        // Both: the last one is the decimal mark; the other groups.
        _ => {
            let last = body.rfind(['.', ','])?;
            let (dec, group) = if body.as_bytes()[last] == b',' { (',', '.') } else { ('.', ',') };
            let (int, frac) = (&body[..last], &body[last + 1..]);
            if int.contains(dec) || frac.contains(group) {
                return None;
            }
            grouped(int, group).and_then(|d| plain(&d, Some(frac)))
        }
    }
}

/// Digits grouped by threes with `sep` (`1.234.567`), without the marks;
/// `None` when the groups are not threes.
fn grouped(s: &str, sep: char) -> Option<String> {
    let mut parts = s.split(sep);
    let first = parts.next()?;
    if first.is_empty() || first.len() > 3 {
        return None;
    }
    let mut out = first.to_string();
    for p in parts {
        if p.len() != 3 {
            return None;
        }
        out.push_str(p);
    }
    Some(out)
}

/// The first day Excel counts from (serial 1 is 1900-01-01; Excel's
/// phantom 29 February 1900 makes serials past it count from 30/12/1899).
fn excel_epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1899, 12, 30).expect("BUG: a valid date")
}

/// A date as typed: ISO `2025-03-15`, day first `15/03/2025`, `15-3-2025`,
/// `15.03.2025`, or an Excel serial number of five digits (1927–2173), as a
/// date cell reads when it lost its date format.
pub fn date(raw: &str) -> Option<NaiveDate> {
    let s = trim(raw);
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(d);
    }
    // A date cell read with a time of midnight.
    if let Some(d) = s.strip_suffix("T00:00:00").and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()) {
        return Some(d);
    }
    if s.len() == 5 && s.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = s.parse().ok()?;
        return excel_epoch().checked_add_signed(chrono::Duration::days(n));
    }
    day_first(s)
}

/// `d/m/yyyy` with `/`, `-` or `.` (the same mark twice).
fn day_first(s: &str) -> Option<NaiveDate> {
    let sep = s.chars().find(|c| matches!(c, '/' | '-' | '.'))?;
    let mut parts = s.split(sep);
    let (d, m, y) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || d.is_empty() || d.len() > 2 || m.is_empty() || m.len() > 2 || y.len() != 4 {
        return None;
    }
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if !(all_digits(d) && all_digits(m) && all_digits(y)) {
        return None;
    }
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

/// A date and time as typed: `15/03/2025 08:30`, `15/03/2025 08:30:15`
/// (or any [`date`] followed by a time); the time is local to nobody, as
/// the caller's format says.
pub fn datetime(raw: &str) -> Option<NaiveDateTime> {
    let s = trim(raw);
    let (d, t) = s.split_once(|c: char| c.is_whitespace()).unwrap_or((s, ""));
    let date = date(d)?;
    let t = trim(t);
    if t.is_empty() {
        return Some(date.and_time(NaiveTime::MIN));
    }
    let time = NaiveTime::parse_from_str(t, "%H:%M:%S").or_else(|_| NaiveTime::parse_from_str(t, "%H:%M")).ok()?;
    Some(date.and_time(time))
}

/// Yes and no as people mark them: `Có`/`Không`, `x`, `✓`, `Đúng`/`Sai`,
/// `TRUE`/`FALSE`, `1`/`0`, `Yes`/`No` (case and diacritics ignored).
pub fn boolean(raw: &str) -> Option<bool> {
    let s = trim(raw);
    if matches!(s, "✓" | "✔" | "☑" | "✗" | "✘" | "☐") {
        return Some(matches!(s, "✓" | "✔" | "☑"));
    }
    match fold(s).as_str() {
        "co" | "c" | "x" | "dung" | "d" | "true" | "yes" | "y" | "1" => Some(true),
        "khong" | "k" | "sai" | "s" | "false" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

/// Dashes people type for one another (hyphen, en dash, em dash, minus).
const DASHES: &[char] = &['-', '\u{2010}', '\u{2011}', '\u{2012}', '\u{2013}', '\u{2014}', '\u{2212}'];

/// `text` with every dash (and the spaces around it) made `dash`:
/// `2024 - 2025` → `2024–2025`, so that a range matches the template's form.
pub fn with_dashes(text: &str, dash: char) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if DASHES.contains(&c) {
            while out.ends_with(' ') {
                out.pop();
            }
            out.push(dash);
            while chars.peek() == Some(&' ') {
                chars.next();
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The dashes a pattern asks for, so that [`with_dashes`] tries those.
pub fn pattern_dashes(pattern: &str) -> Vec<char> {
    let mut found: Vec<char> = Vec::new();
    let (mut in_class, mut escaped) = (false, false);
    for c in pattern.chars() {
        match (escaped, c) {
            (true, _) => escaped = false,
            (false, '\\') => escaped = true,
            (false, '[') => in_class = true,
            (false, ']') => in_class = false,
            // A dash in a class (`[0-9]`) is a range, not a dash to type.
            _ if in_class => {}
            _ if DASHES.contains(&c) && !found.contains(&c) => found.push(c),
            _ => {}
        }
    }
    found
}

/// A value that matches a simple pattern, to show instead of the regular
/// expression: `^NV-[0-9]{6}$` → `NV-123456`, `^[0-9]{4}–[0-9]{4}$` →
/// `1234–1234`. `None` for patterns beyond literals, digit runs and
/// alternatives (the message then names no form).
pub fn pattern_example(pattern: &str) -> Option<String> {
    let p = pattern.strip_prefix('^').unwrap_or(pattern);
    let p = p.strip_suffix('$').unwrap_or(p);
    let chars: Vec<char> = p.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                let c = *chars.get(i + 1)?;
                if c.is_ascii_alphanumeric() {
                    return None; // \d, \w, \s: classes, not literals
                }
                out.push(c);
                i += 2;
            }
            '[' => {
                let close = chars[i..].iter().position(|c| *c == ']')? + i;
                let class: String = chars[i + 1..close].iter().collect();
                let sample = match class.as_str() {
                    "0-9" => "1234567890",
                    "A-Z" => "ABCDEFGHIJ",
                    "a-z" => "abcdefghij",
                    _ => return None,
                };
                i = close + 1;
                // Quantifier: {n}, {n,m}, +, *, ? or none.
                let (n, next) = match chars.get(i) {
                    Some('{') => {
                        let end = chars[i..].iter().position(|c| *c == '}')? + i;
                        let q: String = chars[i + 1..end].iter().collect();
                        let n = q.split(',').next()?.trim().parse::<usize>().ok()?;
                        (n.max(1), end + 1)
                    }
                    Some('+') => (3, i + 1),
                    Some('*') | Some('?') => (1, i + 1),
                    _ => (1, i),
                };
                out.extend(sample.chars().cycle().take(n));
                i = next;
            }
            '(' => {
                let close = chars[i..].iter().position(|c| *c == ')')? + i;
                let inner: String = chars[i + 1..close].iter().collect();
                // An optional part is left out of the example.
                if chars.get(close + 1) == Some(&'?') {
                    i = close + 2;
                    continue;
                }
                if inner.contains(['(', '[', '\\']) {
                    return None;
                }
                out.push_str(inner.split('|').next()?);
                i = close + 1;
            }
            '.' | '*' | '+' | '?' | '{' | '|' | ']' | ')' => return None,
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    if out.is_empty() { None } else { Some(out) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Option<String> {
        number(s, InputLocale::Vi, false)
    }

    #[test]
    fn vietnamese_numbers_are_read() {
        assert_eq!(n("1.234.567,89").as_deref(), Some("1234567.89"));
        assert_eq!(n("1234567,89").as_deref(), Some("1234567.89"));
        assert_eq!(n("105,2").as_deref(), Some("105.2"));
        assert_eq!(n("1,234,567.89").as_deref(), Some("1234567.89"));
        assert_eq!(n("1.234").as_deref(), Some("1234"));
        assert_eq!(n("12.345").as_deref(), Some("12345"));
        assert_eq!(n("1 234 567").as_deref(), Some("1234567"));
        assert_eq!(n("1\u{a0}234,5").as_deref(), Some("1234.5"));
        assert_eq!(n("-1.234,5").as_deref(), Some("-1234.5"));
        assert_eq!(n("105,2 %").as_deref(), Some("105.2"));
        assert_eq!(n(" 27 ").as_deref(), Some("27"));
        // Machine forms stay what they are.
        assert_eq!(n("21.8234").as_deref(), Some("21.8234"));
        assert_eq!(n("0.125").as_deref(), Some("0.125"));
        assert_eq!(n("1234.5").as_deref(), Some("1234.5"));
        assert_eq!(n("-3").as_deref(), Some("-3"));
    }

    #[test]
    fn the_locale_settles_a_lone_separator_before_three_digits() {
        assert_eq!(number("1.234", InputLocale::En, false).as_deref(), Some("1.234"));
        assert_eq!(number("1,234", InputLocale::En, false).as_deref(), Some("1234"));
        assert_eq!(number("1,234", InputLocale::Vi, false).as_deref(), Some("1.234"));
        // Coordinates: a dot is always a decimal point.
        assert_eq!(number("105.234", InputLocale::Vi, true).as_deref(), Some("105.234"));
    }

    #[test]
    fn malformed_numbers_are_refused() {
        for bad in ["", "abc", "1.234.56x,89", "1.23.456", "1,2,3", "1.234,5.6", "12,34,567", "--1", "1..2", ",", "1,"] {
            assert_eq!(n(bad), None, "{bad}");
        }
    }

    #[test]
    fn dates_are_read_day_first_in_any_of_the_usual_forms() {
        let d = NaiveDate::from_ymd_opt(2025, 3, 15).unwrap();
        for s in ["15/03/2025", "15/3/2025", "15-03-2025", "15.03.2025", "2025-03-15", " 15/03/2025\u{a0}", "45731"] {
            assert_eq!(date(s), Some(d), "{s}");
        }
        assert_eq!(date("2/4/2025"), NaiveDate::from_ymd_opt(2025, 4, 2));
        for bad in ["31/02/2025", "15/03/25", "2025", "15/03-2025", "ngày 15", "1/2/3/2025"] {
            assert_eq!(date(bad), None, "{bad}");
        }
        assert_eq!(datetime("15/03/2025 08:30").map(|t| t.to_string()).as_deref(), Some("2025-03-15 08:30:00"));
    }

    #[test]
    fn yes_and_no_as_offices_mark_them() {
        for y in ["Có", "có", "CÓ", "x", "X", "✓", "Đúng", "TRUE", "1", "yes"] {
            assert_eq!(boolean(y), Some(true), "{y}");
        }
        for no in ["Không", "KHÔNG", "Sai", "FALSE", "0", "no"] {
            assert_eq!(boolean(no), Some(false), "{no}");
        }
        assert_eq!(boolean("có lẽ"), None);
    }

    #[test]
    fn ranges_take_the_templates_dash() {
        assert_eq!(with_dashes("2024-2025", '–'), "2024–2025");
        assert_eq!(with_dashes("2024 — 2025", '–'), "2024–2025");
        assert_eq!(pattern_dashes("^[0-9]{4}–[0-9]{4}$"), vec!['–']);
    }

    #[test]
    fn simple_patterns_have_an_example() {
        assert_eq!(pattern_example("^NV-[0-9]{6}$").as_deref(), Some("NV-123456"));
        assert_eq!(pattern_example("^[0-9]{4}–[0-9]{4}$").as_deref(), Some("1234–1234"));
        assert_eq!(pattern_example("^[0-9]+/QĐ-UBND$").as_deref(), Some("123/QĐ-UBND"));
        assert_eq!(pattern_example("^(NM|NN|KK|Đ)-[0-9]{2}$").as_deref(), Some("NM-12"));
        assert_eq!(pattern_example("^[0-9]{3}(\\.[0-9]+)?$").as_deref(), Some("123"));
        assert_eq!(
            pattern_example("^https://thuvien\\.tuyenquang\\.gov\\.vn/so-hoa/DC-[0-9]{6}$").as_deref(),
            Some("https://thuvien.tuyenquang.gov.vn/so-hoa/DC-123456")
        );
        assert_eq!(pattern_example("[A-Z]{2}-[0-9]{3}").as_deref(), Some("AB-123"));
        assert_eq!(pattern_example("^[0-9,x ]+cm$"), None);
        assert_eq!(pattern_example("\\d+"), None);
    }
}
