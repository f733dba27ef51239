//! Schema inference as a proposal: reads a sample of a file and proposes a
//! Table Schema for a steward to review. Imports never guess: they run
//! against a schema someone accepted (the CKAN loaders' worst habit is
//! guessing types from the first rows and failing on row 90,000).
//!
//! Officers' files are read the way they are typed ([`chiase_core::human`]):
//! `1.234.567,89`, `105,2`, `15/03/2025`, `Có`/`Không`, `x`. A column that
//! only such a reading gives a type makes the proposal set the schema's
//! `locale: vi`, and says so; `1.234` alone proves nothing (1.234 or 1234),
//! so it never does. The numbering column (`STT`) gets no field. Columns
//! that look like personal data (ID numbers, phones, e-mail, dates of
//! birth, the names beside them) are proposed as `personal: basic` for
//! review, each with its reason.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use chiase_core::Msg;
use chiase_core::fold::{fold, match_key, nfc};
use chiase_core::human::{self, InputLocale};
use chiase_core::schema::{Constraints, FieldSpec, FieldType, GeoRole, PersonalClass, SchemaSpec, check_field_name};
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde::Serialize;

use crate::layout::is_numbering_title;
use crate::limits::{MAX_TITLE_CHARS, MAX_VALUE_CHARS, clip};
use crate::tabular::{Cells, ReadError, RecordReader, column_letter};

/// Bytes of input inference reads at most, whatever the number of rows
/// asked: 20 MiB. A sample says what a file looks like; reading more only
/// costs memory and time.
pub const MAX_SAMPLE_BYTES: u64 = 20 * 1024 * 1024;

/// Fields a proposal has at most: a schema's own limit. Further columns
/// (or JSON keys) are left out, with a warning.
pub const MAX_FIELDS: usize = 500;

/// Rows a sample needs before `unique` or a primary key is proposed: on
/// five rows every column looks unique, and on a few hundred a code column
/// still may by chance (a register of households, a list of parcels); the
/// next import then fails. Below this the field's note says why neither
/// was proposed.
pub const MIN_ROWS_FOR_UNIQUE: usize = 1_000;

/// Distinct values remembered (as hashes) over all columns, so that a wide
/// sample cannot grow the per-column sets without bound. Each column gets
/// its share, at least [`MIN_DISTINCT_PER_COLUMN`]; past it the count is a
/// lower bound and `unique` is not proposed.
pub const DISTINCT_BUDGET: usize = 1_000_000;

/// The least share of [`DISTINCT_BUDGET`] a column gets.
pub const MIN_DISTINCT_PER_COLUMN: usize = 1_000;

/// An enum is proposed for at most this many values.
const MAX_ENUM: usize = 12;

/// Longest field name proposed, so that a suffix (`_2`) still fits the 63
/// bytes [`check_field_name`] allows.
const NAME_BYTES: usize = 56;

/// Columns named in the note that proposes `locale: vi`.
const LOCALE_COLUMNS_NAMED: usize = 3;

/// The reader's notes (header found below a title block, totals rows left
/// out…) passed on as warnings at most; a sheet with a subtotal per
/// commune has one per subtotal.
const MAX_READER_NOTES: usize = 10;

/// How much of a file inference reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InferLimits {
    /// Records read at most.
    pub sample_rows: usize,
    /// Bytes read at most (formats that stream; a workbook is read whole
    /// and only the row limit applies).
    pub max_bytes: u64,
}

impl InferLimits {
    /// `sample_rows` records and [`MAX_SAMPLE_BYTES`].
    pub fn rows(sample_rows: usize) -> InferLimits {
        InferLimits { sample_rows, max_bytes: MAX_SAMPLE_BYTES }
    }
}

/// A proposed schema and what the sample showed.
#[derive(Debug, Clone, Serialize)]
pub struct Proposal {
    pub schema: SchemaSpec,
    pub rows_sampled: usize,
    /// Per field: how many values were empty, distinct, and an example.
    pub notes: Vec<FieldNote>,
    /// What the steward should know about the sample as a whole: it was
    /// cut at the byte bound, columns were left out (the numbering
    /// column), where the header was found, why `locale: vi` is proposed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Msg>,
}

/// What the sample showed about one field, for the steward reviewing the
/// proposal.
#[derive(Debug, Clone, Serialize)]
pub struct FieldNote {
    pub name: String,
    pub empty: usize,
    /// Distinct values seen; a lower bound when `distinct_capped`.
    pub distinct: usize,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub distinct_capped: bool,
    /// The first value, clipped to [`MAX_VALUE_CHARS`].
    pub example: Option<String>,
    /// Why something was or was not proposed: `unique`, a primary key,
    /// the locale, `personal`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remarks: Vec<Msg>,
}

/// Which types every value seen so far could have, in one reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Readable {
    integer: bool,
    number: bool,
    boolean: bool,
    date: bool,
    datetime: bool,
}

impl Readable {
    const ANY: Readable = Readable { integer: true, number: true, boolean: true, date: true, datetime: true };

    fn narrow(&mut self, by: Readable) {
        self.integer &= by.integer;
        self.number &= by.number;
        self.boolean &= by.boolean;
        self.date &= by.date;
        self.datetime &= by.datetime;
    }

    fn any(self) -> bool {
        self.integer || self.number || self.boolean || self.date || self.datetime
    }
}

/// Which types every value seen so far could have, as a machine reads
/// them (no locale) and as people of the `vi` locale type them.
#[derive(Debug, Clone)]
struct Kinds {
    year: bool,
    /// No leading zero except `0`, `0.x`, `0,x` (a code like `0164` stays text).
    number_no_zero: bool,
    /// As read without a locale: `1234.5`, ISO dates, `true`/`false`.
    machine: Readable,
    /// As read with the schema's `locale: vi`, machine forms included:
    /// `1.234.567,89`, `105,2`, `15/03/2025`, `Có`/`x`.
    vi: Readable,
    /// A dot is always a decimal point (a coordinate's column: the
    /// importer reads a `geo` field so).
    decimal_only: bool,
    /// The first value only the `vi` reading reads (`105,2`), for the note.
    vi_form: Option<String>,
    /// The first value the two readings read as different numbers (`1.234`:
    /// 1.234 without a locale, 1234 with `vi`).
    ambiguous: Option<String>,
    /// Some value has a `/` (dates as day/month/year).
    slash: bool,
    /// Every value is an ISO date or `dd/mm/yyyy` with slashes, so that
    /// the field's format may say `%d/%m/%Y`.
    slash_dates: bool,
    /// Some number has a decimal comma (`105,2`, `1.234,5`).
    decimal_comma: bool,
    /// Some number groups thousands with dots beyond doubt (`1.234.567`,
    /// `1.234,5`; not `1.234`).
    dot_groups: bool,
    /// Every value reads as yes (`x`, `✓`, `Có`): a column of ticks, whose
    /// empty cells are the noes.
    all_yes: bool,
}

impl Default for Kinds {
    fn default() -> Self {
        Kinds {
            year: true,
            number_no_zero: true,
            machine: Readable::ANY,
            vi: Readable::ANY,
            decimal_only: false,
            vi_form: None,
            ambiguous: None,
            slash: false,
            slash_dates: true,
            decimal_comma: false,
            dot_groups: false,
            all_yes: true,
        }
    }
}

impl Kinds {
    /// Narrows the possible types by one value as typed in a cell (untrimmed).
    #[cfg(test)]
    fn observe(&mut self, raw: &str) {
        self.read(raw, false);
    }

    /// Narrows the possible types by one value; `literal` for a JSON number
    /// or boolean, which every reading takes as it is.
    fn read(&mut self, raw: &str, literal: bool) {
        let v = raw.trim();
        let digits = !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
        self.year &= v.len() == 4 && digits && v.parse::<i64>().is_ok_and(|n| (1900..=2100).contains(&n));
        self.number_no_zero &= !v.starts_with('0') || v.starts_with("0.") || v.starts_with("0,") || v == "0";
        let plain = v.parse::<f64>().ok().filter(|x| x.is_finite());
        let machine = Readable {
            integer: self.machine.integer && v.parse::<i64>().is_ok(),
            number: self.machine.number && plain.is_some(),
            boolean: self.machine.boolean && matches!(v, "true" | "false" | "TRUE" | "FALSE" | "True" | "False"),
            date: self.machine.date && NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok(),
            datetime: self.machine.datetime
                && (DateTime::parse_from_rfc3339(v).is_ok() || NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S").is_ok()),
        };
        let vi = if literal {
            machine
        } else {
            let typed = (self.vi.integer || self.vi.number).then(|| human::number(v, InputLocale::Vi, self.decimal_only)).flatten();
            let typed_value = typed.as_deref().and_then(|t| t.parse::<f64>().ok()).filter(|x| x.is_finite());
            if typed_value.is_some() {
                let last_mark = v.rfind(['.', ',']).map(|i| v.as_bytes()[i]);
                self.decimal_comma |= last_mark == Some(b',') && typed.as_deref().is_some_and(|t| t.contains('.'));
                self.dot_groups |= v.matches('.').count() >= 2 || (v.contains('.') && last_mark == Some(b','));
            }
            // Read as a plain number and as a Vietnamese one, `1.234` differs.
            if self.ambiguous.is_none()
                && let Some(p) = plain
                && let Some(h) = human::number(v, InputLocale::Vi, false).and_then(|t| t.parse::<f64>().ok())
                && p != h
            {
                self.ambiguous = Some(clip(v, MAX_VALUE_CHARS).into_owned());
            }
            // A bare number of five digits is an Excel serial to `human::date`;
            // here it is a number (or a code), never proof of a date.
            Readable {
                integer: self.vi.integer && typed.as_deref().is_some_and(|t| t.parse::<i64>().is_ok()),
                number: self.vi.number && typed_value.is_some(),
                boolean: self.vi.boolean && (machine.boolean || yes_no(v).is_some()),
                date: self.vi.date && !digits && human::date(v).is_some(),
                datetime: self.vi.datetime && (machine.datetime || (!digits && human::datetime(v).is_some())),
            }
        };
        if self.vi_form.is_none() && vi.any() && !machine.any() {
            self.vi_form = Some(clip(v, MAX_VALUE_CHARS).into_owned());
        }
        self.machine.narrow(machine);
        self.vi.narrow(vi);
        self.slash |= raw.contains('/');
        self.slash_dates =
            self.slash_dates && (NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok() || NaiveDate::parse_from_str(v, "%d/%m/%Y").is_ok());
        self.all_yes &= yes_no(v) == Some(true);
    }

    /// The narrowest type every one of `count` values has in a reading.
    fn narrowest(&self, r: Readable, count: usize) -> FieldType {
        if count == 0 {
            FieldType::String
        } else if self.year && count > 1 {
            FieldType::Year
        } else if r.integer && self.number_no_zero {
            FieldType::Integer
        } else if r.number && self.number_no_zero {
            FieldType::Number
        } else if r.boolean {
            FieldType::Boolean
        } else if r.date {
            FieldType::Date
        } else if r.datetime {
            FieldType::Datetime
        } else {
            FieldType::String
        }
    }

    /// The type without a locale.
    fn machine_type(&self, count: usize) -> FieldType {
        self.narrowest(self.machine, count)
    }

    /// The type with the schema's `locale: vi`.
    fn vi_type(&self, count: usize) -> FieldType {
        self.narrowest(self.vi, count)
    }

    /// Whether only the Vietnamese reading gives the values a type: a form
    /// a machine would not read (`105,2`, `15/03/2025`, `1.234.567`, `Có`).
    fn needs_vi(&self, count: usize) -> bool {
        self.machine_type(count) == FieldType::String && self.vi_type(count) != FieldType::String
    }

    /// The type the values propose on their own.
    #[cfg(test)]
    fn field_type(&self, count: usize) -> FieldType {
        if self.needs_vi(count) { self.vi_type(count) } else { self.machine_type(count) }
    }
}

/// Yes or no as [`human::boolean`] reads it, but not from a lone letter
/// other than `x` (`C`/`K` is as often a grade or a size as Có/Không).
fn yes_no(v: &str) -> Option<bool> {
    let f = fold(human::trim(v));
    let mut chars = f.chars();
    if let (Some(c), None) = (chars.next(), chars.next())
        && c.is_ascii_alphabetic()
        && c != 'x'
    {
        return None;
    }
    human::boolean(v)
}

/// A phone number as written in Vietnam: `0912 345 678` (mobile, ten
/// digits), `0207 3822 123` (landline, eleven), `+84 912 345 678`.
fn looks_like_phone(v: &str) -> bool {
    let s: String = v.chars().filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')') && !c.is_whitespace()).collect();
    if let Some(rest) = s.strip_prefix("+84") {
        return (9..=10).contains(&rest.len()) && !rest.starts_with('0') && rest.bytes().all(|b| b.is_ascii_digit());
    }
    let b = s.as_bytes();
    b.iter().all(u8::is_ascii_digit)
        && ((b.len() == 10 && b[0] == b'0' && matches!(b[1], b'3' | b'5' | b'7' | b'8' | b'9'))
            || (b.len() == 11 && b[0] == b'0' && b[1] == b'2'))
}

/// An e-mail address: something, `@`, and a domain with a dot.
fn looks_like_email(v: &str) -> bool {
    let v = v.trim();
    match v.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !v.chars().any(char::is_whitespace)
                && !domain.contains('@')
                && domain.contains('.')
                && domain.split('.').all(|part| !part.is_empty())
        }
        None => false,
    }
}

/// What is kept of one column while reading: counts and bounded sets, never
/// the values themselves.
struct Column {
    /// The header or JSON key as read (bounded by the reader's line bound).
    header: String,
    /// Where the column is in the file (0: column A), for notes.
    index: usize,
    /// A sheet's numbering column (`STT`), never a JSON key.
    numbering: bool,
    present: usize,
    empty: usize,
    kinds: Kinds,
    distinct: HashSet<u64>,
    distinct_capped: bool,
    /// The distinct values while there are few of them, for an enum.
    few: Vec<String>,
    many: bool,
    chars: usize,
    max_chars: usize,
    /// Every value is short and without spaces, as codes are.
    code_like: bool,
    example: Option<String>,
    /// Every value is 9 or 12 digits, as CMND and CCCD numbers are.
    id_digits: bool,
    /// Every value ends in `00`: amounts (`150000000`), not ID numbers.
    round: bool,
    /// Every value looks like a phone number.
    phone: bool,
    /// Every value looks like an e-mail address.
    email: bool,
}

impl Column {
    fn new(header: String, empty: usize) -> Column {
        let kinds = Kinds { decimal_only: coordinate_role(&header).is_some(), ..Kinds::default() };
        Column {
            header,
            index: 0,
            numbering: false,
            present: 0,
            empty,
            kinds,
            distinct: HashSet::new(),
            distinct_capped: false,
            few: Vec::new(),
            many: false,
            chars: 0,
            max_chars: 0,
            code_like: true,
            example: None,
            id_digits: true,
            round: true,
            phone: true,
            email: true,
        }
    }

    fn observe(&mut self, v: &str, distinct_cap: usize) {
        self.take(v, distinct_cap, false);
    }

    /// Takes one value; `literal` for a JSON number or boolean.
    fn take(&mut self, v: &str, distinct_cap: usize, literal: bool) {
        self.present += 1;
        self.kinds.read(v, literal);
        let len = v.chars().count();
        self.chars += len;
        self.max_chars = self.max_chars.max(len);
        self.code_like &= len <= 64 && !v.chars().any(char::is_whitespace);
        let t = v.trim();
        self.id_digits &= matches!(t.len(), 9 | 12) && t.bytes().all(|b| b.is_ascii_digit());
        self.round &= t.ends_with("00");
        self.phone &= looks_like_phone(t);
        self.email &= looks_like_email(t);
        if self.example.is_none() {
            self.example = Some(clip(v, MAX_VALUE_CHARS).into_owned());
        }
        if !self.distinct_capped {
            let mut h = DefaultHasher::new();
            v.hash(&mut h);
            if self.distinct.len() < distinct_cap {
                self.distinct.insert(h.finish());
            } else if !self.distinct.contains(&h.finish()) {
                self.distinct_capped = true;
            }
        }
        if !self.many && !self.few.iter().any(|f| f == v) {
            if self.few.len() < MAX_ENUM && len <= MAX_VALUE_CHARS {
                self.few.push(v.to_string());
            } else {
                self.many = true;
                self.few = Vec::new();
            }
        }
    }

    /// The header as typed, for titles and notes: trimmed, NFC, clipped.
    fn title(&self) -> String {
        let head = clip(self.header.trim(), 4 * MAX_TITLE_CHARS);
        clip(&nfc(&head), MAX_TITLE_CHARS).into_owned()
    }

    /// Whether this is the numbering column: its header says so (`STT`,
    /// `TT`, `Số TT`) and its values are short marks (`1`, `2`, `I`, `1.1`),
    /// not text that a column so headed might hold after all.
    fn is_numbering(&self) -> bool {
        self.numbering && self.code_like && self.max_chars <= 8
    }
}

/// The role a column's header gives it in a point: `lat`/`Vĩ độ`, `lon`/`Kinh độ`.
fn coordinate_role(header: &str) -> Option<GeoRole> {
    let folded = fold(&clip(header, MAX_TITLE_CHARS));
    let h = folded.trim();
    if ["lat", "latitude", "vi do", "vi_do"].contains(&h) {
        Some(GeoRole::Lat)
    } else if ["lon", "lng", "long", "longitude", "kinh do", "kinh_do"].contains(&h) {
        Some(GeoRole::Lon)
    } else {
        None
    }
}

/// Why a column looks like personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Personal {
    IdNumber,
    Phone,
    Email,
    Birth,
    Name,
}

/// Whether folded words hold a phrase, word for word (`ngay sinh` in
/// `ngay sinh cua chu ho`, not in `ngay sinh hoat`: see the caller).
fn has_phrase(words: &[&str], phrase: &str) -> bool {
    let p: Vec<&str> = phrase.split(' ').collect();
    words.windows(p.len()).any(|w| w == p.as_slice())
}

/// The header's folded words (`Số CMND/CCCD` → `so`, `cmnd`, `cccd`).
fn header_words(header: &str) -> Vec<String> {
    match_key(&clip(header, MAX_TITLE_CHARS)).split(' ').filter(|w| !w.is_empty()).map(str::to_string).collect()
}

/// Whether a column looks like personal data by its header or its values,
/// and why (a person's name is judged by the caller, beside the others).
/// Headers of codes (`Mã …`, `MST`) and of agencies (`… cơ quan`) are not
/// read as a person's ID number, phone or e-mail.
fn personal_data(col: &Column) -> Option<(Personal, Msg)> {
    let owned = header_words(&col.header);
    let words: Vec<&str> = owned.iter().map(String::as_str).collect();
    let any = |phrases: &[&str]| phrases.iter().any(|p| has_phrase(&words, p));
    let shown = col.title();
    let code = words.first() == Some(&"ma") || words.iter().any(|w| matches!(*w, "id" | "code" | "key" | "uuid" | "guid" | "mst"));
    let agency = any(&["co quan", "don vi", "to chuc", "doanh nghiep", "cong ty"]);
    let values = col.present > 0;
    if any(&["cccd", "cmnd", "can cuoc", "so dinh danh", "chung minh"]) {
        return Some((
            Personal::IdNumber,
            Msg::new(
                format!("tiêu đề «{shown}» cho thấy số căn cước (CCCD/CMND)"),
                format!("the header «{shown}» names a citizen ID (CCCD/CMND) number"),
            ),
        ));
    }
    if values && col.id_digits && !col.round && !code {
        return Some((
            Personal::IdNumber,
            Msg::new("mọi giá trị là dãy 9 hoặc 12 chữ số, như số CMND/CCCD", "every value is 9 or 12 digits, as CMND/CCCD numbers are"),
        ));
    }
    if !agency && any(&["dien thoai", "sdt", "so dt"]) {
        return Some((
            Personal::Phone,
            Msg::new(format!("tiêu đề «{shown}» cho thấy số điện thoại"), format!("the header «{shown}» names a phone number")),
        ));
    }
    if !agency && !code && values && col.phone {
        return Some((
            Personal::Phone,
            Msg::new("mọi giá trị có dạng số điện thoại (0xxxxxxxxx, +84…)", "every value looks like a phone number (0xxxxxxxxx, +84…)"),
        ));
    }
    if !agency && values && col.email {
        return Some((Personal::Email, Msg::new("mọi giá trị có dạng địa chỉ thư điện tử", "every value looks like an e-mail address")));
    }
    if any(&["ngay sinh", "nam sinh"]) && !any(&["sinh hoat"]) {
        return Some((
            Personal::Birth,
            Msg::new(
                format!("tiêu đề «{shown}» cho thấy ngày hoặc năm sinh"),
                format!("the header «{shown}» names a date or year of birth"),
            ),
        ));
    }
    None
}

/// Whether a header names a person: `Họ tên`, `Họ và tên`, `Tên người …`,
/// `Người …` (`Người đại diện`, `Người nộp`).
fn names_a_person(header: &str) -> bool {
    let owned = header_words(header);
    let words: Vec<&str> = owned.iter().map(String::as_str).collect();
    ["ho ten", "ho va ten", "ten nguoi"].iter().any(|p| has_phrase(&words, p)) || words.first() == Some(&"nguoi")
}

/// Reads up to `sample` records (and at most [`MAX_SAMPLE_BYTES`]) and
/// proposes a schema.
pub fn infer(reader: RecordReader, sample: usize) -> Result<Proposal, ReadError> {
    infer_with(reader, InferLimits::rows(sample))
}

/// Reads a sample within `limits` and proposes a schema.
pub fn infer_with(mut reader: RecordReader, limits: InferLimits) -> Result<Proposal, ReadError> {
    let mut warnings = Vec::new();
    let headers = reader.headers().map(<[String]>::to_vec).unwrap_or_default();
    if headers.len() > MAX_FIELDS {
        warnings.push(fields_left_out(headers.len()));
    }
    let mut columns: Vec<Column> = headers
        .into_iter()
        .take(MAX_FIELDS)
        .enumerate()
        .map(|(i, h)| {
            let mut c = Column::new(h, 0);
            c.index = i;
            c.numbering = is_numbering_title(&c.header);
            c
        })
        .collect();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    let mut keys_left_out = false;
    let mut rows = 0;
    let streams = reader.format.streams();
    while rows < limits.sample_rows {
        if streams && reader.bytes_read() > limits.max_bytes {
            let mib = limits.max_bytes / (1024 * 1024);
            warnings.push(Msg::new(
                format!("mẫu dừng sau {mib} MiB đầu của tệp ({rows} dòng)"),
                format!("the sample stopped after the first {mib} MiB of the file ({rows} rows)"),
            ));
            break;
        }
        let Some(rec) = reader.next() else { break };
        let rec = rec?;
        rows += 1;
        let cap = (DISTINCT_BUDGET / columns.len().max(1)).max(MIN_DISTINCT_PER_COLUMN);
        match rec.cells {
            Cells::Text(cells) => {
                for (col, c) in columns.iter_mut().zip(&cells) {
                    if c.trim().is_empty() { col.empty += 1 } else { col.observe(c, cap) }
                }
            }
            Cells::Json(obj) => {
                for (k, v) in obj {
                    let i = match by_key.get(&k) {
                        Some(i) => *i,
                        None if columns.len() >= MAX_FIELDS => {
                            keys_left_out = true;
                            continue;
                        }
                        None => {
                            let mut c = Column::new(k.clone(), rows - 1);
                            c.index = columns.len();
                            columns.push(c);
                            by_key.insert(k, columns.len() - 1);
                            columns.len() - 1
                        }
                    };
                    match v {
                        serde_json::Value::Null => columns[i].empty += 1,
                        serde_json::Value::String(s) => columns[i].observe(&s, cap),
                        other => columns[i].take(&other.to_string(), cap, true),
                    }
                }
            }
        }
    }
    if keys_left_out {
        warnings.push(fields_left_out(MAX_FIELDS + 1));
    }
    // Where the header was found, what was left out around the data.
    let read_notes = reader.notes();
    let more = read_notes.len().saturating_sub(MAX_READER_NOTES);
    warnings.extend(read_notes.into_iter().take(MAX_READER_NOTES).map(|n| Msg::new(n.message, n.message_en)));
    if more > 0 {
        warnings.push(Msg::new(format!("và {more} ghi chú khác khi đọc tệp"), format!("and {more} more notes from reading the file")));
    }

    // The numbering column gets no field: imports leave it out.
    let mut kept: Vec<&Column> = Vec::with_capacity(columns.len());
    for col in &columns {
        if col.is_numbering() {
            let (letter, shown) = (column_letter(col.index), col.title());
            warnings.push(Msg::new(
                format!("cột {letter} «{shown}» là cột số thứ tự: không đề xuất trường cho cột này (khi nhập, cột này được bỏ qua)"),
                format!("column {letter} «{shown}» numbers the rows: no field is proposed for it (imports leave it out)"),
            ));
        } else {
            kept.push(col);
        }
    }

    // `locale: vi` when some column is typed only the Vietnamese way.
    let vi_columns: Vec<&Column> = kept.iter().copied().filter(|c| c.kinds.needs_vi(c.present)).collect();
    let locale = (!vi_columns.is_empty()).then_some(InputLocale::Vi);
    if locale.is_some() {
        let named: Vec<String> = vi_columns
            .iter()
            .take(LOCALE_COLUMNS_NAMED)
            .map(|c| format!("«{}» («{}»)", c.title(), c.kinds.vi_form.as_deref().or(c.example.as_deref()).unwrap_or_default()))
            .collect();
        let more = vi_columns.len().saturating_sub(LOCALE_COLUMNS_NAMED);
        let (more_vi, more_en) =
            if more > 0 { (format!(" và {more} cột khác"), format!(" and {more} more")) } else { Default::default() };
        warnings.push(Msg::new(
            format!(
                "đề xuất «locale: vi»: giá trị được gõ theo cách viết Việt Nam (số 1.234.567,89, ngày dd/mm/yyyy, Có/Không), không đọc được nếu thiếu nó: {}{more_vi}",
                named.join(", ")
            ),
            format!(
                "«locale: vi» is proposed: values are typed the Vietnamese way (numbers as 1.234.567,89, dates as dd/mm/yyyy, Có/Không), which are not read without it: {}{more_en}",
                named.join(", ")
            ),
        ));
    }

    // Personal data: by header or values; a person's name beside any of it.
    let mut personal: Vec<Option<(Personal, Msg)>> = kept.iter().map(|c| personal_data(c)).collect();
    if let Some(other) = kept.iter().zip(&personal).find(|(_, p)| p.is_some()).map(|(c, _)| c.title()) {
        for (col, p) in kept.iter().zip(personal.iter_mut()) {
            if p.is_none() && names_a_person(&col.header) {
                let shown = col.title();
                *p = Some((
                    Personal::Name,
                    Msg::new(
                        format!("tiêu đề «{shown}» cho thấy tên người, bên cạnh dữ liệu cá nhân khác (cột «{other}»)"),
                        format!("the header «{shown}» names a person, beside other personal data (column «{other}»)"),
                    ),
                ));
            }
        }
    }

    let mut fields = Vec::new();
    let mut notes = Vec::new();
    let mut used = HashSet::new();
    for (col, personal) in kept.iter().zip(personal) {
        let name = field_name(&col.header, col.index, &mut used);
        let mut t = if locale.is_some() { col.kinds.vi_type(col.present) } else { col.kinds.machine_type(col.present) };
        let mut remarks = Vec::new();
        // ID and phone numbers are text: a leading zero or `+` is part of them.
        let as_text = matches!(personal, Some((Personal::IdNumber | Personal::Phone, _)))
            && matches!(t, FieldType::Integer | FieldType::Number | FieldType::Year);
        if as_text {
            t = FieldType::String;
        }
        let complete = col.empty == 0 && col.present > 0 && col.present == rows;
        // A column of ticks: its empty cells mean no, which a required
        // yes/no field of a schema with a locale reads them as.
        let ticks = t == FieldType::Boolean && col.kinds.all_yes && col.present > 0 && !complete && locale.is_some();
        let required = complete || ticks;
        let geo = if t == FieldType::Number { coordinate_role(&col.header) } else { None };
        let enum_values =
            (t == FieldType::String && !col.many && col.few.len() <= MAX_ENUM && col.present >= 50 && col.few.len() * 10 <= col.present)
                .then(|| {
                    let mut v = col.few.clone();
                    v.sort();
                    v.into_iter().map(serde_json::Value::String).collect()
                });
        let avg_len = col.chars / col.present.max(1);
        // Codes are unique; long text (addresses, descriptions) is searched.
        let all_distinct = complete && !col.distinct_capped && col.distinct.len() == col.present && rows >= 2;
        let identifier = identifier_name(&name) && (t == FieldType::Integer || (t == FieldType::String && col.code_like && avg_len <= 32));
        let unique = all_distinct && identifier && rows >= MIN_ROWS_FOR_UNIQUE;
        if let Some(why) = not_unique(col, rows, identifier, all_distinct, complete, unique) {
            remarks.push(why);
        }
        if locale.is_some() && col.kinds.needs_vi(col.present) {
            let example = col.kinds.vi_form.as_deref().or(col.example.as_deref()).unwrap_or_default();
            remarks.push(Msg::new(
                format!("giá trị viết theo cách Việt Nam (ví dụ «{example}»): đọc được nhờ «locale: vi» của lược đồ"),
                format!("values are written the Vietnamese way (e.g. «{example}»): read through the schema's «locale: vi»"),
            ));
        }
        if let Some(a) = &col.kinds.ambiguous
            && matches!(t, FieldType::Integer | FieldType::Number)
            && geo.is_none()
        {
            let plain = a.parse::<f64>().map(|x| x.to_string()).unwrap_or_default();
            let grouped = human::number(a, InputLocale::Vi, false).unwrap_or_default();
            remarks.push(if locale.is_some() {
                Msg::new(
                    format!(
                        "với «locale: vi», «{a}» đọc là {grouped} (dấu chấm phân cách hàng nghìn); nếu là số thập phân {plain}, hãy viết bằng dấu phẩy"
                    ),
                    format!("with «locale: vi», «{a}» reads as {grouped} (a dot groups thousands); if it is the decimal {plain}, write it with a comma"),
                )
            } else {
                Msg::new(
                    format!("«{a}» được đọc là số thập phân {plain}; nếu nó là {grouped} viết kiểu Việt Nam, hãy đặt «locale: vi» cho lược đồ"),
                    format!("«{a}» is read as the decimal {plain}; if it means {grouped} written the Vietnamese way, set the schema's «locale: vi»"),
                )
            });
        }
        if ticks {
            remarks.push(Msg::new(
                "cột đánh dấu (chỉ có dấu «có» như «x» và ô trống): đề xuất bắt buộc, để ô trống được nhập là «Không»",
                "a column of ticks (only yes marks such as «x», and empty cells): proposed as required, so that an empty cell imports as no",
            ));
        }
        let class = match &personal {
            Some((_, why)) => {
                remarks.push(Msg::new(
                    format!("{}: dữ liệu cá nhân cơ bản, đề xuất «personal: basic» để xem xét", why.vi),
                    format!("{}: basic personal data, proposed as «personal: basic» for review", why.en),
                ));
                PersonalClass::Basic
            }
            None => PersonalClass::None,
        };
        if as_text {
            remarks.push(Msg::new(
                "đề xuất kiểu văn bản, không phải số, để giữ số 0 đầu và dấu «+»",
                "proposed as text, not a number, so that leading zeros and «+» are kept",
            ));
        }
        let searchable = t == FieldType::String && enum_values.is_none() && avg_len > 12;
        let numeric = matches!(t, FieldType::Integer | FieldType::Number);
        notes.push(FieldNote {
            name: name.clone(),
            empty: col.empty,
            distinct: col.distinct.len(),
            distinct_capped: col.distinct_capped,
            example: col.example.clone(),
            remarks,
        });
        fields.push(FieldSpec {
            name,
            title: Some(col.title()).filter(|h| !h.is_empty()),
            description: None,
            field_type: t,
            format: (t == FieldType::Date && col.kinds.slash && col.kinds.slash_dates).then(|| "%d/%m/%Y".to_string()),
            constraints: Constraints { required, unique, enum_values, ..Default::default() },
            personal: class,
            searchable,
            geo,
            decimal_char: (t == FieldType::Number && col.kinds.decimal_comma).then(|| ",".into()),
            group_char: (numeric && col.kinds.dot_groups && (t == FieldType::Integer || col.kinds.decimal_comma)).then(|| ".".into()),
            true_values: None,
            false_values: None,
            example: None,
        });
    }
    // Geo roles only in pairs.
    let lats = fields.iter().filter(|f| f.geo == Some(GeoRole::Lat)).count();
    let lons = fields.iter().filter(|f| f.geo == Some(GeoRole::Lon)).count();
    if lats != 1 || lons != 1 {
        for f in &mut fields {
            f.geo = None;
        }
    }
    // The key: a unique `id` if there is one, else the first unique code.
    let primary_key = fields
        .iter()
        .find(|f| f.constraints.unique && f.name == "id")
        .or_else(|| fields.iter().find(|f| f.constraints.unique))
        .map(|f| vec![f.name.clone()])
        .unwrap_or_default();
    for f in fields.iter_mut().filter(|f| primary_key.contains(&f.name)) {
        f.constraints.unique = false;
    }
    Ok(Proposal {
        schema: SchemaSpec { fields, primary_key, indexes: vec![], missing_values: None, locale },
        rows_sampled: rows,
        notes,
        warnings,
    })
}

/// Why `unique` (and so a primary key) is not proposed for a column whose
/// values might have been unique, if it is worth saying.
fn not_unique(col: &Column, rows: usize, identifier: bool, all_distinct: bool, complete: bool, unique: bool) -> Option<Msg> {
    if unique || col.present == 0 {
        return None;
    }
    if !identifier {
        return all_distinct.then(|| {
            Msg::new(
                "giá trị không trùng nhau trong mẫu, nhưng cột không giống một mã định danh nên chưa đề xuất «unique»",
                "values do not repeat in the sample, but the column does not look like an identifier, so «unique» is not proposed",
            )
        });
    }
    let missing = rows - col.present.min(rows);
    Some(if !complete {
        Msg::new(
            format!("{missing} dòng trong mẫu không có giá trị, nên không đề xuất «unique» hay khoá chính"),
            format!("{missing} rows of the sample have no value, so neither «unique» nor a primary key is proposed"),
        )
    } else if col.distinct_capped {
        Msg::new(
            format!(
                "mẫu có hơn {} giá trị khác nhau, quá nhiều để kiểm tra trùng, nên không đề xuất «unique» hay khoá chính",
                col.distinct.len()
            ),
            format!(
                "the sample has more than {} distinct values, too many to check for repeats, so neither «unique» nor a primary key is proposed",
                col.distinct.len()
            ),
        )
    } else if col.distinct.len() < col.present {
        let d = col.distinct.len();
        Msg::new(
            format!("giá trị lặp lại trong mẫu ({d} giá trị khác nhau trên {rows} dòng), nên không đề xuất «unique» hay khoá chính"),
            format!("values repeat in the sample ({d} distinct in {rows} rows), so neither «unique» nor a primary key is proposed"),
        )
    } else {
        Msg::new(
            format!(
                "giá trị không trùng nhau trong mẫu, nhưng mẫu chỉ có {rows} dòng (cần ít nhất {MIN_ROWS_FOR_UNIQUE}) nên chưa đề xuất «unique» hay khoá chính; hãy thêm nếu giá trị không được trùng"
            ),
            format!(
                "values do not repeat in the sample, but it has only {rows} rows (at least {MIN_ROWS_FOR_UNIQUE} are needed), so neither «unique» nor a primary key is proposed; add them if values must not repeat"
            ),
        )
    })
}

fn fields_left_out(columns: usize) -> Msg {
    Msg::new(
        format!("tệp có {columns} cột trở lên; chỉ {MAX_FIELDS} cột đầu được đề xuất thành trường"),
        format!("the file has {columns} or more columns; only the first {MAX_FIELDS} are proposed as fields"),
    )
}

/// Whether a field name says its values identify a row: `id`, `…_id`,
/// `ma_…` (mã), `code`, `key`, and the numbers of documents (`so_hieu`,
/// `so_cccd`…). Quantities (`so_luong`) and phone numbers are not.
fn identifier_name(name: &str) -> bool {
    const DOCUMENT_NUMBERS: &[&str] =
        &["so_hieu", "so_cccd", "so_cmnd", "so_dinh_danh", "so_giay", "so_ho_chieu", "so_quyet_dinh", "so_van_ban", "so_dang_ky"];
    name.split('_').next() == Some("ma")
        || name.split('_').any(|w| matches!(w, "id" | "uuid" | "guid" | "code" | "key"))
        || DOCUMENT_NUMBERS.iter().any(|p| name == *p || name.starts_with(&format!("{p}_")))
}

/// A valid, unused field name from a header: folded words joined by `_`,
/// at most 63 bytes with any suffix, never a reserved word.
fn field_name(header: &str, index: usize, used: &mut HashSet<String>) -> String {
    // Only the start of a long header can end up in a name.
    let folded = fold(&clip(header, 4 * NAME_BYTES));
    let mut name = String::new();
    for c in folded.chars() {
        if c.is_ascii_alphanumeric() {
            name.push(c.to_ascii_lowercase());
        } else if !name.is_empty() && !name.ends_with('_') {
            name.push('_');
        }
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        name = format!("f_{name}");
    }
    let fit = |mut n: String, max: usize| {
        n.truncate(max);
        n.trim_end_matches('_').to_string()
    };
    name = fit(name, NAME_BYTES);
    if check_field_name(&name).is_err() {
        name = fit(format!("f_{name}"), NAME_BYTES);
    }
    let base = name.clone();
    let mut n = 1;
    while used.contains(&name) || check_field_name(&name).is_err() {
        n += 1;
        if n > 1_000 {
            // Cannot happen with at most MAX_FIELDS columns; a last resort all the same.
            name = format!("f_{index}");
            break;
        }
        name = format!("{base}_{n}");
    }
    used.insert(name.clone());
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tabular::ReadOptions;
    use chiase_core::schema::Value;

    /// The type inference gives a list of values.
    fn infer_type(values: &[String]) -> FieldType {
        let mut kinds = Kinds::default();
        for v in values {
            kinds.observe(v);
        }
        kinds.field_type(values.len())
    }

    #[test]
    fn a_bts_sample_gets_types_a_point_a_key_and_an_enum() {
        let mut csv = String::from("id,ma_tram,nha_mang,lat,lon,chieu_cao,ngay_cap_phep,Địa chỉ\n");
        for i in 1..=1200 {
            let op = ["Viettel", "VNPT", "MobiFone"][i % 3];
            csv.push_str(&format!(
                "{i},TQ-{i:05},{op},21.{i:02},105.{i:02},{}.5,2020-01-{:02},\"Thôn Làng Mới, xã Tân Trào số {i}\"\n",
                10 + i,
                1 + i % 28
            ));
        }
        let reader =
            RecordReader::open(Box::new(std::io::Cursor::new(csv.into_bytes())), Some("bts.csv"), None, &ReadOptions::default()).unwrap();
        let p = infer(reader, 5000).unwrap();
        let t: Vec<(&str, FieldType)> = p.schema.fields.iter().map(|f| (f.name.as_str(), f.field_type)).collect();
        assert_eq!(
            t,
            vec![
                ("id", FieldType::Integer),
                ("ma_tram", FieldType::String),
                ("nha_mang", FieldType::String),
                ("lat", FieldType::Number),
                ("lon", FieldType::Number),
                ("chieu_cao", FieldType::Number),
                ("ngay_cap_phep", FieldType::Date),
                ("dia_chi", FieldType::String)
            ]
        );
        assert_eq!(p.schema.primary_key, vec!["id"]);
        assert!(p.schema.fields[1].constraints.unique, "a code with 1,200 distinct values");
        // Distinct heights and addresses are not identifiers: said, not proposed.
        assert!(!p.schema.fields[5].constraints.unique && !p.schema.fields[7].constraints.unique);
        assert!(p.notes[7].remarks[0].en.contains("does not look like an identifier"));
        assert_eq!(p.schema.fields[3].geo, Some(GeoRole::Lat));
        assert_eq!(p.schema.fields[2].constraints.enum_values.as_ref().unwrap().len(), 3);
        assert!(p.schema.fields[7].searchable);
        assert_eq!(p.schema.fields[7].title.as_deref(), Some("Địa chỉ"));
        assert_eq!(p.rows_sampled, 1200);
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        // Machine forms only: no locale, and `105.100` is a longitude, not 105,100.
        assert_eq!(p.schema.locale, None);
        assert!(p.notes.iter().flat_map(|n| &n.remarks).all(|r| !r.en.contains("locale")), "{:?}", p.notes);
        assert!(p.schema.fields.iter().all(|f| f.personal == PersonalClass::None));
        // The proposal is itself a valid schema.
        chiase_core::schema::Schema::new(p.schema).unwrap();
    }

    #[test]
    fn codes_with_leading_zeros_stay_strings() {
        assert_eq!(infer_type(&["0164".into(), "0201".into()]), FieldType::String);
        assert_eq!(infer_type(&["1,5".into(), "2,25".into()]), FieldType::Number);
        assert_eq!(infer_type(&["06/06/2022".into()]), FieldType::Date);
        assert_eq!(infer_type(&["K".into(), "1".into()]), FieldType::String);
    }

    fn open(text: &str, name: &str) -> RecordReader {
        RecordReader::open(Box::new(std::io::Cursor::new(text.as_bytes().to_vec())), Some(name), None, &ReadOptions::default()).unwrap()
    }

    #[test]
    fn a_five_row_sample_proposes_no_unique_and_no_key_and_says_why() {
        let p = infer(open("id,ma_xa,ten\n1,X01,An Tường\n2,X02,Ỷ La\n3,X03,Nông Tiến\n4,X04,Tràng Đà\n5,X05,Hưng Thành\n", "x.csv"), 1000)
            .unwrap();
        assert_eq!(p.rows_sampled, 5);
        assert!(p.schema.primary_key.is_empty());
        assert!(p.schema.fields.iter().all(|f| !f.constraints.unique));
        for i in [0, 1] {
            let r = &p.notes[i].remarks;
            assert_eq!(r.len(), 1, "{:?}", p.notes[i]);
            assert!(r[0].en.contains("only 5 rows (at least 1000 are needed)"), "{}", r[0].en);
            assert!(r[0].vi.contains("mẫu chỉ có 5 dòng"), "{}", r[0].vi);
        }
        assert!(p.notes[2].remarks[0].en.contains("does not look like an identifier"));
        // The proposal imports the same five rows and more with repeats.
        chiase_core::schema::Schema::new(p.schema).unwrap();
    }

    #[test]
    fn vietnamese_forms_are_typed_and_machine_forms_stay_as_they_were() {
        let s = |v: &[&str]| v.iter().map(|v| v.to_string()).collect::<Vec<_>>();
        assert_eq!(infer_type(&s(&["1.234.567", "12.000"])), FieldType::Integer);
        assert_eq!(infer_type(&s(&["1.234.567,89", "105,2", "-3"])), FieldType::Number);
        assert_eq!(infer_type(&s(&["15-3-2025", "15.03.2025", "2025-03-15", "1/4/2025"])), FieldType::Date);
        assert_eq!(infer_type(&s(&["15/03/2025 08:30", "16/03/2025"])), FieldType::Datetime);
        assert_eq!(infer_type(&s(&["Có", "Không", "có"])), FieldType::Boolean);
        assert_eq!(infer_type(&s(&["x", "X", "✓"])), FieldType::Boolean);
        assert_eq!(infer_type(&s(&["TRUE", "FALSE"])), FieldType::Boolean);
        // A lone letter is not a yes or a no, five digits not an Excel date.
        assert_eq!(infer_type(&s(&["C", "K"])), FieldType::String);
        assert_eq!(infer_type(&s(&["12345", "23456"])), FieldType::Integer);
        assert_eq!(infer_type(&s(&["01234", "02345"])), FieldType::String);
        // Codes and ranges stay text.
        assert_eq!(infer_type(&s(&["1.1.1", "1.2"])), FieldType::String);
        assert_eq!(infer_type(&s(&["2024-2025"])), FieldType::String);
        // Only a Vietnamese form needs the locale; `1.234` alone does not.
        let needs = |v: &[&str]| {
            let mut k = Kinds::default();
            v.iter().for_each(|v| k.observe(v));
            k.needs_vi(v.len())
        };
        assert!(needs(&["105,2"]) && needs(&["15/03/2025"]) && needs(&["1.234.567"]) && needs(&["Có"]) && needs(&["x"]));
        assert!(!needs(&["1.234", "5.678"]) && !needs(&["2025-03-15"]) && !needs(&["12.5"]) && !needs(&["true"]));
    }

    /// The office sheet of the brief: a title block, a numbering column,
    /// numbers and dates typed the Vietnamese way, a column of ticks, a
    /// totals row and a signature block.
    fn office_csv() -> String {
        // `Ngày khởi công` typed decomposed (NFD), as some keyboards do.
        let started = "Nga\u{300}y kho\u{31b}\u{309}i co\u{302}ng";
        [
            "UBND TỈNH TUYÊN QUANG",
            "SỞ TÀI CHÍNH",
            "BIỂU TỔNG HỢP DỰ ÁN ĐẦU TƯ CÔNG NĂM 2025",
            "",
            &format!("STT,Tên dự án,Tổng vốn (triệu đồng),Tỷ lệ giải ngân (%),Số hộ hưởng lợi,{started},  Hoàn thành "),
            "1,Đường ĐT.176 đoạn Km3–Km7,\"1.234.567,89\",\"105,2\",1.250,15/03/2025,x",
            "2,Trường THCS Tân Trào,2.500.000,\"98,75\",320,01/04/2025,",
            "3,Cầu Bình Ca,\"987,5\",100,2.400,20/12/2024,x",
            ",Tổng cộng,\"3.735.555,39\",,3.970,,",
            ",,,,,Người lập biểu,",
        ]
        .join("\n")
    }

    #[test]
    fn an_office_sheet_gets_vietnamese_types_its_titles_and_locale_vi_and_no_stt_field() {
        let p = infer(open(&office_csv(), "du-an.csv"), 5000).unwrap();
        assert_eq!(p.rows_sampled, 3, "the totals row and the signature block are not data");
        let f = &p.schema.fields;
        let got: Vec<(&str, &str, FieldType)> =
            f.iter().map(|f| (f.name.as_str(), f.title.as_deref().unwrap_or(""), f.field_type)).collect();
        assert_eq!(
            got,
            vec![
                ("ten_du_an", "Tên dự án", FieldType::String),
                ("tong_von_trieu_dong", "Tổng vốn (triệu đồng)", FieldType::Number),
                ("ty_le_giai_ngan", "Tỷ lệ giải ngân (%)", FieldType::Number),
                ("so_ho_huong_loi", "Số hộ hưởng lợi", FieldType::Integer),
                ("ngay_khoi_cong", "Ngày khởi công", FieldType::Date),
                ("hoan_thanh", "Hoàn thành", FieldType::Boolean),
            ],
            "no field for STT; titles as typed (trimmed, NFC), names folded"
        );
        assert_eq!(p.schema.locale, Some(InputLocale::Vi));
        assert_eq!(f[1].decimal_char.as_deref(), Some(","));
        assert_eq!(f[1].group_char.as_deref(), Some("."));
        assert_eq!(f[4].format.as_deref(), Some("%d/%m/%Y"));
        assert!(f[5].constraints.required, "a column of ticks is required, so that an empty cell is no");
        assert!(f.iter().all(|f| f.personal == PersonalClass::None && !f.constraints.unique));
        let says = |needle: &str| p.warnings.iter().any(|w| w.en.contains(needle));
        assert!(says("column A «STT» numbers the rows: no field is proposed"), "{:?}", p.warnings);
        assert!(says("«locale: vi» is proposed"), "{:?}", p.warnings);
        assert!(says("«Tổng vốn (triệu đồng)» («1.234.567,89»)"), "{:?}", p.warnings);
        assert!(says("the column header is on line") && says("(agency, form title) were left out"), "{:?}", p.warnings);
        assert!(says("a totals row"), "{:?}", p.warnings);
        let remarks = |i: usize| p.notes[i].remarks.iter().map(|r| r.en.as_str()).collect::<Vec<_>>().join(" | ");
        assert!(remarks(1).contains("read through the schema's «locale: vi»"), "{}", remarks(1));
        // `1.250` proves nothing by itself; with the locale it is 1250, and the note says so.
        assert!(remarks(3).contains("«1.250» reads as 1250"), "{}", remarks(3));
        assert!(remarks(5).contains("so that an empty cell imports as no"), "{}", remarks(5));

        // The proposal imports the very file it was made from, as meant.
        let schema = chiase_core::schema::Schema::new(p.schema).unwrap();
        let reader = open(&office_csv(), "du-an.csv");
        let map = crate::tabular::ColumnMap::new(reader.headers().unwrap(), &schema).unwrap();
        let rows: Vec<Vec<Value>> = reader.map(|r| crate::tabular::parse_record(&schema, Some(&map), &r.unwrap()).unwrap()).collect();
        let d = |y, m, d| Value::Date(NaiveDate::from_ymd_opt(y, m, d).unwrap());
        assert_eq!(rows[0][1..], [Value::Num(1234567.89), Value::Num(105.2), Value::Int(1250), d(2025, 3, 15), Value::Bool(true)]);
        assert_eq!(rows[1][1..], [Value::Num(2500000.0), Value::Num(98.75), Value::Int(320), d(2025, 4, 1), Value::Bool(false)]);
        assert_eq!(rows[2][1..], [Value::Num(987.5), Value::Num(100.0), Value::Int(2400), d(2024, 12, 20), Value::Bool(true)]);
    }

    #[test]
    fn one_dot_before_three_digits_alone_proposes_no_locale_but_says_what_it_would_mean() {
        let p = infer(open("ma,gia_tri,ngay\nA,1.234,2025-03-15\nB,2.5,2025-03-16\n", "x.csv"), 100).unwrap();
        assert_eq!(p.schema.locale, None);
        assert_eq!(p.schema.fields[1].field_type, FieldType::Number);
        assert!(
            p.notes[1].remarks.iter().any(|r| r.en.contains("«1.234» is read as the decimal 1.234; if it means 1234")),
            "{:?}",
            p.notes[1]
        );
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        // JSON numbers are numbers whatever the locale a string elsewhere asks for.
        let ndjson = "{\"gia\": 1.234, \"ngay\": \"15/03/2025\"}\n{\"gia\": 2.5, \"ngay\": \"16/03/2025\"}\n";
        let p = infer(open(ndjson, "x.ndjson"), 100).unwrap();
        assert_eq!(p.schema.locale, Some(InputLocale::Vi));
        assert_eq!(p.schema.fields[0].field_type, FieldType::Number);
        assert!(p.notes[0].remarks.iter().all(|r| !r.en.contains("«1.234»")), "{:?}", p.notes[0]);
        assert_eq!(p.schema.fields[1].field_type, FieldType::Date);
    }

    #[test]
    fn the_readers_notes_are_passed_on_within_a_bound_and_mixed_date_forms_are_dates() {
        let mut csv = String::from("UBND XÃ TÂN TRÀO\nTT,Thôn,Số hộ,Ngày cập nhật\n");
        for i in 0..30 {
            csv.push_str(&format!("{i},Thôn {i},\"1.2{i:02}\",{}\n,Cộng,\"1.2{i:02}\",\n", ["2025-01-15", "15/01/2025"][i % 2]));
        }
        let p = infer(open(&csv, "x.csv"), 5000).unwrap();
        assert_eq!(p.rows_sampled, 30);
        let names: Vec<&str> = p.schema.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["thon", "so_ho", "ngay_cap_nhat"]);
        assert_eq!(p.schema.fields[1].field_type, FieldType::Integer);
        assert_eq!(p.schema.fields[2].field_type, FieldType::Date);
        assert_eq!(p.schema.fields[2].format.as_deref(), Some("%d/%m/%Y"));
        let totals = p.warnings.iter().filter(|w| w.en.contains("a totals row")).count();
        assert_eq!(totals, MAX_READER_NOTES - 1, "{:?}", p.warnings);
        assert!(p.warnings.iter().any(|w| w.en == "and 21 more notes from reading the file"), "{:?}", p.warnings);
    }

    /// `n` rows of an id, a parcel code and a free text; `repeat` makes
    /// the last code the same as the first.
    fn parcels(n: usize, repeat: bool) -> String {
        let mut csv = String::from("id,ma_thua,ghi_chu\n");
        for i in 1..=n {
            let code = if repeat && i == n { 1 } else { i };
            csv.push_str(&format!("{i},T-{code:05},Thửa đất số {i}\n"));
        }
        csv
    }

    #[test]
    fn unique_and_a_key_need_a_thousand_rows_of_distinct_values() {
        for n in [5, 999] {
            let p = infer(open(&parcels(n, false), "x.csv"), 5000).unwrap();
            assert_eq!(p.rows_sampled, n);
            assert!(p.schema.primary_key.is_empty(), "{n} rows");
            assert!(p.schema.fields.iter().all(|f| !f.constraints.unique), "{n} rows");
            for i in [0, 1] {
                let why = &p.notes[i].remarks[0].en;
                assert!(why.contains(&format!("only {n} rows (at least 1000 are needed)")), "{why}");
            }
        }
        let p = infer(open(&parcels(1000, false), "x.csv"), 5000).unwrap();
        assert_eq!(p.schema.primary_key, vec!["id"]);
        assert!(p.schema.fields[1].constraints.unique, "a code of 1,000 distinct values");
        assert!(p.notes[0].remarks.is_empty() && p.notes[1].remarks.is_empty());
        chiase_core::schema::Schema::new(p.schema).unwrap();
        // A thousand rows with one code repeated: unique is not proposed, and the note says why.
        let p = infer(open(&parcels(1000, true), "x.csv"), 5000).unwrap();
        assert_eq!(p.schema.primary_key, vec!["id"]);
        assert!(!p.schema.fields[1].constraints.unique);
        assert!(p.notes[1].remarks[0].en.contains("values repeat in the sample (999 distinct in 1000 rows)"), "{:?}", p.notes[1]);
        // A sample cut short of the file cannot show it either.
        let p = infer(open(&parcels(1500, false), "x.csv"), 999).unwrap();
        assert!(p.schema.primary_key.is_empty());
    }

    #[test]
    fn a_citizen_sheet_marks_personal_data_for_review_but_not_the_agency() {
        let csv = "Họ và tên,Số CCCD,Ngày sinh,Số điện thoại,Email,Cơ quan\n\
                   Nguyễn Văn An,001085012345,15/03/1985,0912345678,an.nv@gmail.com,Sở Tài chính\n\
                   Trần Thị Bình,008190001234,02/11/1990,0987 654 321,binhtt@tuyenquang.gov.vn,UBND xã Tân Trào\n\
                   Lò Văn Cường,008088004567,30/06/1988,+84 345 678 901,cuonglv@yahoo.com,Sở Y tế\n";
        let p = infer(open(csv, "cong-dan.csv"), 5000).unwrap();
        let f = &p.schema.fields;
        let names: Vec<&str> = f.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["ho_va_ten", "so_cccd", "ngay_sinh", "so_dien_thoai", "email", "co_quan"]);
        for (field, note) in f.iter().zip(&p.notes).take(5) {
            assert_eq!(field.personal, PersonalClass::Basic, "{}", field.name);
            let why = note.remarks.iter().find(|r| r.en.contains("proposed as «personal: basic» for review"));
            assert!(why.is_some(), "{note:?}");
        }
        assert_eq!(f[5].personal, PersonalClass::None, "an agency's name is not personal data");
        assert!(p.notes[5].remarks.iter().all(|r| !r.en.contains("personal")), "{:?}", p.notes[5]);
        let why = |i: usize| p.notes[i].remarks.iter().map(|r| r.en.as_str()).collect::<Vec<_>>().join(" | ");
        assert!(why(0).contains("names a person, beside other personal data (column «Số CCCD»)"), "{}", why(0));
        assert!(why(1).contains("names a citizen ID (CCCD/CMND) number"), "{}", why(1));
        assert!(why(2).contains("date or year of birth"), "{}", why(2));
        assert!(why(3).contains("names a phone number"), "{}", why(3));
        assert!(why(4).contains("looks like an e-mail address"), "{}", why(4));
        // ID and phone numbers are text; the dates of birth make the schema Vietnamese.
        assert_eq!(f[1].field_type, FieldType::String);
        assert_eq!(f[3].field_type, FieldType::String);
        assert_eq!(f[2].field_type, FieldType::Date);
        assert_eq!(p.schema.locale, Some(InputLocale::Vi));
        chiase_core::schema::Schema::new(p.schema).unwrap();
    }

    #[test]
    fn personal_data_is_known_by_its_values_too_but_amounts_codes_and_lone_names_are_not() {
        let csv = "Người liên hệ,Liên hệ,Giấy tờ,Thư,Kinh phí (đồng),Mã số thuế,Đơn vị\n\
                   Trần Thị Bình,0912 345 678,001085012345,binh@gmail.com,150000000,0301234567,UBND xã Tân Trào\n\
                   Hà Văn Dũng,+84 987 654 321,141234567,dung.hv@gmail.com,230000000,0101234567,Sở Xây dựng\n";
        let p = infer(open(csv, "x.csv"), 100).unwrap();
        let classes: Vec<(&str, PersonalClass)> = p.schema.fields.iter().map(|f| (f.name.as_str(), f.personal)).collect();
        use PersonalClass::{Basic, None as No};
        assert_eq!(
            classes,
            vec![
                ("nguoi_lien_he", Basic),
                ("lien_he", Basic),
                ("giay_to", Basic),
                ("thu", Basic),
                ("kinh_phi_dong", No),
                ("ma_so_thue", No),
                ("don_vi", No),
            ]
        );
        assert!(p.notes[1].remarks.iter().any(|r| r.en.contains("every value looks like a phone number")));
        assert!(p.notes[2].remarks.iter().any(|r| r.en.contains("every value is 9 or 12 digits")));
        assert_eq!(p.schema.fields[1].field_type, FieldType::String, "+84… is a phone, not a number");
        // A list of names and nothing else personal beside them is not marked.
        let p = infer(open("Họ và tên,Chức vụ\nNguyễn Văn An,Giám đốc\nTrần Thị Bình,Phó Giám đốc\n", "x.csv"), 100).unwrap();
        assert!(p.schema.fields.iter().all(|f| f.personal == PersonalClass::None));
        // Nor is an agency's phone, nor a day of activities.
        let p = infer(open("Điện thoại cơ quan,Ngày sinh hoạt\n02073822123,05/03/2025\n", "x.csv"), 100).unwrap();
        assert!(p.schema.fields.iter().all(|f| f.personal == PersonalClass::None), "{:?}", p.schema.fields);
    }

    #[test]
    fn identifiers_are_known_by_their_names() {
        for (name, id) in [
            ("id", true),
            ("ma_tram", true),
            ("dataset_id", true),
            ("so_hieu", true),
            ("so_cccd_chu_ho", true),
            ("so_luong", false),
            ("so_dien_thoai", false),
            ("ten", false),
            ("mat_do", false),
        ] {
            assert_eq!(identifier_name(name), id, "{name}");
        }
    }

    #[test]
    fn inference_stops_at_the_byte_bound() {
        use crate::tabular::tests::{MB, Synthetic};
        // 300 MB of 50-byte lines, made as they are read.
        let (src, served) = Synthetic::new(b"ma,ghi_chu\n", b'x', 50, 300 * MB);
        let reader = RecordReader::open(Box::new(src), Some("big.csv"), None, &ReadOptions::default()).unwrap();
        let p = infer_with(reader, InferLimits { sample_rows: usize::MAX, max_bytes: MB }).unwrap();
        let read = served.load(std::sync::atomic::Ordering::Relaxed);
        assert!(read < 2 * MB, "read {read} bytes");
        assert!(p.rows_sampled > 10_000 && p.rows_sampled < 50_000, "{}", p.rows_sampled);
        assert!(p.warnings[0].en.starts_with("the sample stopped after the first 1 MiB"), "{:?}", p.warnings);
        // The default bound is MAX_SAMPLE_BYTES.
        assert_eq!(InferLimits::rows(10).max_bytes, MAX_SAMPLE_BYTES);
    }

    #[test]
    fn echoed_headers_examples_and_enums_are_bounded() {
        let header = format!("Tên {}", "rất dài ".repeat(2_000));
        let long = "Đ".repeat(5_000);
        let mut csv = format!("\"{header}\",loai\n");
        for i in 0..60 {
            csv.push_str(&format!("{long}{i},{long}{}\n", i % 2));
        }
        let p = infer(open(&csv, "x.csv"), 1000).unwrap();
        let f = &p.schema.fields[0];
        assert!(f.name.len() <= 63 && check_field_name(&f.name).is_ok(), "{}", f.name);
        let title = f.title.as_deref().unwrap();
        assert_eq!(title.chars().count(), MAX_TITLE_CHARS);
        assert!(title.ends_with('…'));
        let example = p.notes[0].example.as_deref().unwrap();
        assert_eq!(example.chars().count(), MAX_VALUE_CHARS);
        // Two distinct values, but each too long to be an enum candidate.
        assert!(p.schema.fields[1].constraints.enum_values.is_none());
        assert!(serde_json::to_string(&p).unwrap().len() < 10_000);
    }

    #[test]
    fn field_names_are_valid_distinct_and_short_whatever_the_headers() {
        let long = "Số lượng cán bộ công chức viên chức được giao theo quyết định của ủy ban";
        let headers = [long, long, long, "select", "123", "", "___", "Ghi chú", "ghi-chu", "Ghi  chú"];
        let csv = format!("{}\n{}\n", headers.map(|h| format!("\"{h}\"")).join(","), ["1"; 10].join(","));
        let p = infer(open(&csv, "x.csv"), 10).unwrap();
        let names: Vec<&str> = p.schema.fields.iter().map(|f| f.name.as_str()).collect();
        let distinct: HashSet<&&str> = names.iter().collect();
        assert_eq!(distinct.len(), names.len(), "{names:?}");
        for n in &names {
            assert!(check_field_name(n).is_ok(), "{n}");
        }
        assert_eq!(&names[3..], ["f_select", "f_123", "f", "f_2", "ghi_chu", "ghi_chu_2", "ghi_chu_3"]);
        assert!(names[1].ends_with("_2") && names[2].ends_with("_3"));
        chiase_core::schema::Schema::new(p.schema).unwrap();
    }

    #[test]
    fn at_most_500_fields_are_proposed() {
        let headers: Vec<String> = (0..600).map(|i| format!("c{i}")).collect();
        let csv = format!("{}\n{}\n", headers.join(","), vec!["1"; 600].join(","));
        let p = infer(open(&csv, "x.csv"), 10).unwrap();
        assert_eq!(p.schema.fields.len(), MAX_FIELDS);
        assert!(p.warnings[0].en.contains("only the first 500"));
        let obj: serde_json::Map<String, serde_json::Value> = (0..600).map(|i| (format!("k{i}"), serde_json::json!(i))).collect();
        let line = serde_json::to_string(&obj).unwrap();
        let reader = RecordReader::open_with_limits(
            Box::new(std::io::Cursor::new(line.into_bytes())),
            Some("x.ndjson"),
            None,
            &ReadOptions::default(),
            crate::tabular::ReadLimits { max_columns: 1_000, ..Default::default() },
        )
        .unwrap();
        let p = infer(reader, 10).unwrap();
        assert_eq!(p.schema.fields.len(), MAX_FIELDS);
        assert_eq!(p.warnings.len(), 1);
    }

    #[test]
    fn distinct_sets_stop_at_their_share() {
        let mut col = Column::new("ma".into(), 0);
        for v in ["a", "b", "a", "c", "d", "e"] {
            col.observe(v, 3);
        }
        assert_eq!(col.distinct.len(), 3);
        assert!(col.distinct_capped);
        assert_eq!(col.present, 6);
    }
}
