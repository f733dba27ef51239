//! The part of Solr's query syntax that CKAN clients send in
//! `package_search`'s `q` and `fq` (ckanext-harvest, udata's harvester,
//! ckanapi's `search datasets`): `field:value`, `field:"a phrase"`,
//! `field:[X TO Y]` (`*` open), `-field:value` and `NOT`, `AND`/`OR`/`&&`/
//! `||`, `+` (required), parentheses, `*:*`, and bare words (free text).
//! Juxtaposed clauses are all required, as CKAN's `q.op=AND` makes them.
//! The catalog is small (tens of entries), so a parsed query is evaluated
//! against each package's fields in memory rather than compiled to SQL.

use chiase_core::fold::fold;

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    All,
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    /// `field:value`; `None` is free text.
    Term(Option<String>, Match),
}

/// What a term asks of a field's values.
#[derive(Debug, Clone, PartialEq)]
pub enum Match {
    /// A word or a phrase (compared folded; `*` at the end is a prefix).
    Text(String),
    /// `*`: the field has a value.
    Any,
    /// `[lo TO hi]` (inclusive) or `{lo TO hi}` (exclusive); `None` is `*`.
    Range { lo: Option<String>, hi: Option<String>, inclusive: bool },
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Phrase(String),
    Range(Option<String>, Option<String>, bool),
    Colon,
    Open,
    Close,
    And,
    Or,
    Not,
    Plus,
    Minus,
}

/// A query that cannot be read: CKAN answers "Search Query Error".
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError(pub String);

fn lex(s: &str) -> Result<Vec<Tok>, SyntaxError> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::Open);
                i += 1
            }
            ')' => {
                out.push(Tok::Close);
                i += 1
            }
            ':' => {
                out.push(Tok::Colon);
                i += 1
            }
            '+' => {
                out.push(Tok::Plus);
                i += 1
            }
            '-' if matches!(out.last(), None | Some(Tok::Open | Tok::And | Tok::Or | Tok::Not | Tok::Plus | Tok::Minus))
                || i == 0
                || chars[i - 1].is_whitespace() =>
            {
                out.push(Tok::Minus);
                i += 1
            }
            '!' => {
                out.push(Tok::Not);
                i += 1
            }
            '&' | '|' if chars.get(i + 1) == Some(&c) => {
                out.push(if c == '&' { Tok::And } else { Tok::Or });
                i += 2
            }
            '"' => {
                let mut j = i + 1;
                let mut text = String::new();
                while j < chars.len() && chars[j] != '"' {
                    if chars[j] == '\\' && j + 1 < chars.len() {
                        j += 1;
                    }
                    text.push(chars[j]);
                    j += 1;
                }
                if j >= chars.len() {
                    return Err(SyntaxError("unterminated phrase (\")".into()));
                }
                out.push(Tok::Phrase(text));
                i = j + 1;
            }
            '[' | '{' => {
                let close = if c == '[' { ']' } else { '}' };
                let end = chars[i..].iter().position(|&x| x == close || x == ']' || x == '}').map(|p| p + i);
                let Some(end) = end else { return Err(SyntaxError("unterminated range ([ … TO … ])".into())) };
                let inner: String = chars[i + 1..end].iter().collect();
                let parts: Vec<&str> = inner.split_whitespace().collect();
                let [lo, to, hi] = parts.as_slice() else {
                    return Err(SyntaxError(format!("a range is [from TO to], got [{inner}]")));
                };
                if *to != "TO" {
                    return Err(SyntaxError(format!("a range is [from TO to], got [{inner}]")));
                }
                let bound = |v: &str| (v != "*").then(|| v.trim_matches('"').to_string());
                out.push(Tok::Range(bound(lo), bound(hi), c == '['));
                i = end + 1;
            }
            _ => {
                let mut j = i;
                let mut text = String::new();
                while j < chars.len() {
                    let d = chars[j];
                    if d.is_whitespace() || matches!(d, '(' | ')' | '"') || (d == ':' && !text.is_empty() && !looks_like_time(&text)) {
                        break;
                    }
                    if d == '\\' && j + 1 < chars.len() {
                        j += 1;
                        text.push(chars[j]);
                    } else {
                        text.push(d);
                    }
                    j += 1;
                }
                i = j;
                out.push(match text.as_str() {
                    "AND" => Tok::And,
                    "OR" => Tok::Or,
                    "NOT" => Tok::Not,
                    _ => Tok::Word(text),
                });
            }
        }
    }
    Ok(out)
}

/// `2024-01-01T00` followed by `:00`: a time's colon is part of the value.
fn looks_like_time(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() >= 13 && b[4] == b'-' && b[7] == b'-' && b[10] == b'T'
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
}

/// Parses `q` or `fq`; an empty string matches everything.
pub fn parse(s: &str) -> Result<Expr, SyntaxError> {
    if s.len() > 4000 {
        return Err(SyntaxError("the query is longer than 4000 bytes".into()));
    }
    let toks = lex(s)?;
    if toks.is_empty() {
        return Ok(Expr::All);
    }
    let mut p = Parser { toks, pos: 0, depth: 0 };
    let e = p.or()?;
    if p.pos < p.toks.len() {
        return Err(SyntaxError(format!("unexpected {:?}", p.toks[p.pos])));
    }
    Ok(e)
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn or(&mut self) -> Result<Expr, SyntaxError> {
        let mut parts = vec![self.and()?];
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 { parts.pop().expect("one part") } else { Expr::Or(parts) })
    }

    fn and(&mut self) -> Result<Expr, SyntaxError> {
        let mut parts = vec![self.unary()?];
        loop {
            match self.peek() {
                None | Some(Tok::Or | Tok::Close) => break,
                Some(Tok::And) => {
                    self.pos += 1;
                    parts.push(self.unary()?);
                }
                Some(_) => parts.push(self.unary()?),
            }
        }
        Ok(if parts.len() == 1 { parts.pop().expect("one part") } else { Expr::And(parts) })
    }

    fn unary(&mut self) -> Result<Expr, SyntaxError> {
        match self.peek() {
            Some(Tok::Not | Tok::Minus) => {
                self.pos += 1;
                Ok(Expr::Not(Box::new(self.unary()?)))
            }
            Some(Tok::Plus) => {
                self.pos += 1;
                self.unary()
            }
            _ => self.primary(),
        }
    }

    fn primary(&mut self) -> Result<Expr, SyntaxError> {
        let tok = self.toks.get(self.pos).cloned().ok_or_else(|| SyntaxError("the query ends too early".into()))?;
        self.pos += 1;
        match tok {
            Tok::Open => {
                self.depth += 1;
                if self.depth > 32 {
                    return Err(SyntaxError("parentheses nested more than 32 deep".into()));
                }
                let e = self.or()?;
                if self.peek() != Some(&Tok::Close) {
                    return Err(SyntaxError("a parenthesis is not closed".into()));
                }
                self.pos += 1;
                self.depth -= 1;
                Ok(e)
            }
            Tok::Word(w) if self.peek() == Some(&Tok::Colon) => {
                self.pos += 1;
                let value = self.value()?;
                Ok(match (w.as_str(), &value) {
                    ("*", Match::Any) => Expr::All,
                    _ => Expr::Term(Some(w), value),
                })
            }
            Tok::Word(w) if w == "*" => Ok(Expr::All),
            Tok::Word(w) => Ok(Expr::Term(None, Match::Text(w))),
            Tok::Phrase(p) => Ok(Expr::Term(None, Match::Text(p))),
            other => Err(SyntaxError(format!("unexpected {other:?}"))),
        }
    }

    fn value(&mut self) -> Result<Match, SyntaxError> {
        let tok = self.toks.get(self.pos).cloned().ok_or_else(|| SyntaxError("a field has no value".into()))?;
        self.pos += 1;
        match tok {
            Tok::Word(w) if w == "*" => Ok(Match::Any),
            Tok::Word(w) | Tok::Phrase(w) => Ok(Match::Text(w)),
            Tok::Range(lo, hi, inclusive) => Ok(Match::Range { lo, hi, inclusive }),
            other => Err(SyntaxError(format!("a field's value cannot be {other:?}"))),
        }
    }
}

/// The fields of one package a query is evaluated on.
pub trait Document {
    /// The values of a field (`None`: the field is unknown).
    fn values(&self, field: &str) -> Option<Vec<String>>;
    /// The folded words of the free text (title, description, tags…).
    fn text(&self) -> &str;
}

/// Whether `doc` matches; an unknown field is an error (CKAN's Solr says
/// "undefined field").
pub fn matches(e: &Expr, doc: &dyn Document) -> Result<bool, SyntaxError> {
    Ok(match e {
        Expr::All => true,
        Expr::And(parts) => {
            for p in parts {
                if !matches(p, doc)? {
                    return Ok(false);
                }
            }
            true
        }
        Expr::Or(parts) => {
            for p in parts {
                if matches(p, doc)? {
                    return Ok(true);
                }
            }
            false
        }
        Expr::Not(inner) => !matches(inner, doc)?,
        Expr::Term(None, Match::Text(t)) => text_matches(doc.text(), t),
        Expr::Term(None, _) => true,
        Expr::Term(Some(field), m) => {
            let values = doc.values(field).ok_or_else(|| SyntaxError(format!("undefined field {field}")))?;
            match m {
                Match::Any => !values.is_empty(),
                Match::Text(t) => values.iter().any(|v| value_matches(v, t)),
                Match::Range { lo, hi, inclusive } => values.iter().any(|v| in_range(v, lo.as_deref(), hi.as_deref(), *inclusive)),
            }
        }
    })
}

/// Every folded word of `t` in the text, in order when a phrase; a last
/// word ending in `*` as a prefix.
fn text_matches(text: &str, t: &str) -> bool {
    let prefix = t.ends_with('*');
    let wanted = fold(t.trim_end_matches('*'));
    let wanted: Vec<&str> = chiase_core::fold::words(&wanted).collect();
    if wanted.is_empty() {
        return true;
    }
    let words: Vec<&str> = chiase_core::fold::words(text).collect();
    let n = wanted.len();
    (0..words.len()).any(|i| {
        (0..n).all(|k| match words.get(i + k) {
            Some(w) if k + 1 == n && prefix => w.starts_with(wanted[k]),
            Some(w) => *w == wanted[k],
            None => false,
        })
    })
}

/// Keyword fields compare whole values, case and diacritics aside; a
/// trailing `*` is a prefix.
fn value_matches(value: &str, t: &str) -> bool {
    match t.strip_suffix('*') {
        Some(prefix) => fold(value).starts_with(&fold(prefix)),
        None => fold(value) == fold(t) || text_matches(&fold(value), t) && value.contains(' '),
    }
}

/// Dates and times compare as ISO text (`NOW` is now); numbers as numbers.
fn in_range(v: &str, lo: Option<&str>, hi: Option<&str>, inclusive: bool) -> bool {
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.fZ").to_string();
    let norm = |s: &str| if s.starts_with("NOW") { now.clone() } else { s.trim_end_matches('Z').to_string() };
    let v = v.trim_end_matches('Z').to_string();
    let cmp = |a: &str, b: &str| match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
        _ => a.cmp(b),
    };
    let above = lo.is_none_or(|lo| {
        let o = cmp(&v, &norm(lo));
        o.is_gt() || inclusive && o.is_eq()
    });
    let below = hi.is_none_or(|hi| {
        let o = cmp(&v, &norm(hi));
        o.is_lt() || inclusive && o.is_eq()
    });
    above && below
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Doc(Vec<(&'static str, Vec<&'static str>)>, String);
    impl Document for Doc {
        fn values(&self, field: &str) -> Option<Vec<String>> {
            self.0.iter().find(|(k, _)| *k == field).map(|(_, v)| v.iter().map(|s| s.to_string()).collect())
        }
        fn text(&self) -> &str {
            &self.1
        }
    }

    fn doc() -> Doc {
        Doc(
            vec![
                ("organization", vec!["so-y-te"]),
                ("tags", vec!["yearly", "self_entry"]),
                ("groups", vec!["open", "default"]),
                ("metadata_modified", vec!["2024-05-01T10:00:00.000000"]),
                ("res_format", vec!["CSV", "JSON"]),
            ],
            fold("Cơ sở dữ liệu cán bộ y tế tỉnh Tuyên Quang"),
        )
    }

    fn m(q: &str) -> bool {
        matches(&parse(q).unwrap_or_else(|e| panic!("{q}: {e:?}")), &doc()).unwrap()
    }

    #[test]
    fn what_harvesters_send() {
        assert!(m("organization:so-y-te"));
        assert!(m("organization:a OR organization:so-y-te"));
        assert!(!m("-organization:so-y-te"));
        assert!(m("groups:open tags:yearly"));
        assert!(!m("groups:open AND tags:monthly"));
        assert!(m("metadata_modified:[2024-01-01T00:00:00Z TO *]"));
        assert!(!m("metadata_modified:[2025-01-01T00:00:00Z TO *]"));
        assert!(m("metadata_modified:[* TO NOW]"));
        assert!(m("*:*"));
        assert!(m(""));
        assert!(m("res_format:csv"));
        assert!(m("organization:so-y-te AND tags:yearly AND -tags:continuous"));
        assert!(m("(groups:legal OR groups:default) -tags:api_sync"));
    }

    #[test]
    fn free_text_is_folded() {
        assert!(m("can bo"));
        assert!(m("\"cán bộ y tế\""));
        assert!(!m("\"y tế cán bộ\""));
        assert!(m("tuyen qua*"));
        assert!(!m("giáo dục"));
        assert!(m("giáo OR tuyên"));
    }

    #[test]
    fn bad_queries_are_errors_not_panics() {
        for q in ["(a", "a)", "title:", "x:[1 TO", "\"open", "[a b c]", "AND", "x:(", "NOT"] {
            assert!(parse(q).is_err(), "{q} parsed");
        }
        assert!(matches(&parse("nosuch:x").unwrap(), &doc()).is_err());
        let deep = "(".repeat(100) + "a" + &")".repeat(100);
        assert!(parse(&deep).is_err());
    }
}
