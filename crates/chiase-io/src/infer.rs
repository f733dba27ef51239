//! Schema inference as a proposal: reads a sample of a file and proposes a
//! Table Schema for a steward to review. Imports never guess: they run
//! against a schema someone accepted (the CKAN loaders' worst habit is
//! guessing types from the first rows and failing on row 90,000).

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use chiase_core::Msg;
use chiase_core::fold::fold;
use chiase_core::schema::{Constraints, FieldSpec, FieldType, GeoRole, SchemaSpec, check_field_name};
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde::Serialize;

use crate::limits::{MAX_TITLE_CHARS, MAX_VALUE_CHARS, clip};
use crate::tabular::{Cells, ReadError, RecordReader};

/// Bytes of input inference reads at most, whatever the number of rows
/// asked: 20 MiB. A sample says what a file looks like; reading more only
/// costs memory and time.
pub const MAX_SAMPLE_BYTES: u64 = 20 * 1024 * 1024;

/// Fields a proposal has at most: a schema's own limit. Further columns
/// (or JSON keys) are left out, with a warning.
pub const MAX_FIELDS: usize = 500;

/// Rows a sample needs before `unique` or a primary key is proposed: on
/// five rows every column looks unique, and the next import fails.
pub const MIN_ROWS_FOR_UNIQUE: usize = 100;

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
    /// cut at the byte bound, columns were left out.
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
    /// Why something was not proposed (`unique`, a primary key).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remarks: Vec<Msg>,
}

/// Which types every value seen so far could have.
#[derive(Debug, Clone, Copy)]
struct Kinds {
    year: bool,
    integer: bool,
    number: bool,
    /// No leading zero except `0`, `0.x`, `0,x` (a code like `0164` stays text).
    number_no_zero: bool,
    boolean: bool,
    date_iso: bool,
    date_dmy: bool,
    datetime: bool,
    /// Some value has a `/` (dates as day/month/year).
    slash: bool,
    /// Some value has a decimal comma.
    decimal_comma: bool,
}

impl Default for Kinds {
    fn default() -> Self {
        Kinds {
            year: true,
            integer: true,
            number: true,
            number_no_zero: true,
            boolean: true,
            date_iso: true,
            date_dmy: true,
            datetime: true,
            slash: false,
            decimal_comma: false,
        }
    }
}

impl Kinds {
    /// Narrows the possible types by one value (as read, untrimmed).
    fn observe(&mut self, raw: &str) {
        let v = raw.trim();
        let int = |v: &str| v.parse::<i64>().ok().filter(|_| !(v.len() > 1 && v.starts_with('0')));
        if self.year || self.integer {
            let n = int(v);
            self.integer &= n.is_some();
            self.year &= v.len() == 4 && n.is_some_and(|n| (1900..=2100).contains(&n));
        }
        if self.number {
            self.number = v.parse::<f64>().is_ok_and(f64::is_finite) || v.replace(',', ".").parse::<f64>().is_ok_and(f64::is_finite);
            self.number_no_zero &= !v.starts_with('0') || v.starts_with("0.") || v.starts_with("0,") || v == "0";
            self.decimal_comma |= raw.contains(',') && !raw.contains('.');
        }
        self.boolean = self.boolean && matches!(v, "true" | "false" | "TRUE" | "FALSE" | "True" | "False");
        self.date_iso = self.date_iso && NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok();
        self.date_dmy = self.date_dmy && NaiveDate::parse_from_str(v, "%d/%m/%Y").is_ok();
        self.datetime =
            self.datetime && (DateTime::parse_from_rfc3339(v).is_ok() || NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S").is_ok());
        self.slash |= raw.contains('/');
    }

    /// The narrowest type every one of `count` values has.
    fn field_type(&self, count: usize) -> FieldType {
        if count == 0 {
            FieldType::String
        } else if self.year && count > 1 {
            FieldType::Year
        } else if self.integer {
            FieldType::Integer
        } else if self.number && self.number_no_zero {
            FieldType::Number
        } else if self.boolean {
            FieldType::Boolean
        } else if self.date_iso || self.date_dmy {
            FieldType::Date
        } else if self.datetime {
            FieldType::Datetime
        } else {
            FieldType::String
        }
    }
}

/// What is kept of one column while reading: counts and bounded sets, never
/// the values themselves.
struct Column {
    /// The header or JSON key as read (bounded by the reader's line bound).
    header: String,
    present: usize,
    empty: usize,
    kinds: Kinds,
    distinct: HashSet<u64>,
    distinct_capped: bool,
    /// The distinct values while there are few of them, for an enum.
    few: Vec<String>,
    many: bool,
    chars: usize,
    /// Every value is short and without spaces, as codes are.
    code_like: bool,
    example: Option<String>,
}

impl Column {
    fn new(header: String, empty: usize) -> Column {
        Column {
            header,
            present: 0,
            empty,
            kinds: Kinds::default(),
            distinct: HashSet::new(),
            distinct_capped: false,
            few: Vec::new(),
            many: false,
            chars: 0,
            code_like: true,
            example: None,
        }
    }

    fn observe(&mut self, v: &str, distinct_cap: usize) {
        self.present += 1;
        self.kinds.observe(v);
        let len = v.chars().count();
        self.chars += len;
        self.code_like &= len <= 64 && !v.chars().any(char::is_whitespace);
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
    let mut columns: Vec<Column> = headers.into_iter().take(MAX_FIELDS).map(|h| Column::new(h, 0)).collect();
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
                            columns.push(Column::new(k.clone(), rows - 1));
                            by_key.insert(k, columns.len() - 1);
                            columns.len() - 1
                        }
                    };
                    match v {
                        serde_json::Value::Null => columns[i].empty += 1,
                        serde_json::Value::String(s) => columns[i].observe(&s, cap),
                        other => columns[i].observe(&other.to_string(), cap),
                    }
                }
            }
        }
    }
    if keys_left_out {
        warnings.push(fields_left_out(MAX_FIELDS + 1));
    }
    let mut fields = Vec::new();
    let mut notes = Vec::new();
    let mut used = HashSet::new();
    for (index, col) in columns.iter().enumerate() {
        let name = field_name(&col.header, index, &mut used);
        let t = col.kinds.field_type(col.present);
        let required = col.empty == 0 && col.present > 0 && col.present == rows;
        let folded = fold(&clip(&col.header, MAX_TITLE_CHARS));
        let geo = match t {
            FieldType::Number if ["lat", "latitude", "vi do", "vi_do"].contains(&folded.trim()) => Some(GeoRole::Lat),
            FieldType::Number if ["lon", "lng", "long", "longitude", "kinh do", "kinh_do"].contains(&folded.trim()) => Some(GeoRole::Lon),
            _ => None,
        };
        let enum_values =
            (t == FieldType::String && !col.many && col.few.len() <= MAX_ENUM && col.present >= 50 && col.few.len() * 10 <= col.present)
                .then(|| {
                    let mut v = col.few.clone();
                    v.sort();
                    v.into_iter().map(serde_json::Value::String).collect()
                });
        let avg_len = col.chars / col.present.max(1);
        let mut remarks = Vec::new();
        // Codes are unique; long text (addresses, descriptions) is searched.
        let all_distinct = required && !col.distinct_capped && col.distinct.len() == col.present && rows >= 2;
        let identifier = identifier_name(&name) && (t == FieldType::Integer || (t == FieldType::String && col.code_like && avg_len <= 32));
        let unique = all_distinct && identifier && rows >= MIN_ROWS_FOR_UNIQUE;
        if all_distinct && !unique {
            remarks.push(if identifier {
                Msg::new(
                    format!(
                        "giá trị không trùng nhau trong mẫu, nhưng mẫu chỉ có {rows} dòng (cần ít nhất {MIN_ROWS_FOR_UNIQUE}) nên chưa đề xuất «unique» hay khoá chính; hãy thêm nếu giá trị không được trùng"
                    ),
                    format!(
                        "values do not repeat in the sample, but it has only {rows} rows (at least {MIN_ROWS_FOR_UNIQUE} are needed), so neither «unique» nor a primary key is proposed; add them if values must not repeat"
                    ),
                )
            } else {
                Msg::new(
                    "giá trị không trùng nhau trong mẫu, nhưng cột không giống một mã định danh nên chưa đề xuất «unique»",
                    "values do not repeat in the sample, but the column does not look like an identifier, so «unique» is not proposed",
                )
            });
        }
        let searchable = t == FieldType::String && enum_values.is_none() && avg_len > 12;
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
            title: Some(clip(col.header.trim(), MAX_TITLE_CHARS).into_owned()).filter(|h| !h.is_empty()),
            description: None,
            field_type: t,
            format: (t == FieldType::Date && col.kinds.slash).then(|| "%d/%m/%Y".to_string()),
            constraints: Constraints { required, unique, enum_values, ..Default::default() },
            personal: Default::default(),
            searchable,
            geo,
            decimal_char: (t == FieldType::Number && col.kinds.decimal_comma).then(|| ",".into()),
            group_char: None,
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
        schema: SchemaSpec { fields, primary_key, indexes: vec![], missing_values: None, locale: None },
        rows_sampled: rows,
        notes,
        warnings,
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
        for i in 1..=120 {
            let op = ["Viettel", "VNPT", "MobiFone"][i % 3];
            csv.push_str(&format!(
                "{i},TQ-{i:05},{op},21.{i:02},105.{i:02},{}.5,2020-01-{:02},\"Thôn Làng Mới, xã Tân Trào số {i}\"\n",
                10 + i,
                1 + i % 28
            ));
        }
        let reader =
            RecordReader::open(Box::new(std::io::Cursor::new(csv.into_bytes())), Some("bts.csv"), None, &ReadOptions::default()).unwrap();
        let p = infer(reader, 1000).unwrap();
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
        assert!(p.schema.fields[1].constraints.unique, "a code with 120 distinct values");
        // Distinct heights and addresses are not identifiers: said, not proposed.
        assert!(!p.schema.fields[5].constraints.unique && !p.schema.fields[7].constraints.unique);
        assert!(p.notes[7].remarks[0].en.contains("does not look like an identifier"));
        assert_eq!(p.schema.fields[3].geo, Some(GeoRole::Lat));
        assert_eq!(p.schema.fields[2].constraints.enum_values.as_ref().unwrap().len(), 3);
        assert!(p.schema.fields[7].searchable);
        assert_eq!(p.schema.fields[7].title.as_deref(), Some("Địa chỉ"));
        assert_eq!(p.rows_sampled, 120);
        assert!(p.warnings.is_empty());
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
            assert!(r[0].en.contains("only 5 rows (at least 100 are needed)"), "{}", r[0].en);
            assert!(r[0].vi.contains("mẫu chỉ có 5 dòng"), "{}", r[0].vi);
        }
        assert!(p.notes[2].remarks[0].en.contains("does not look like an identifier"));
        // The proposal imports the same five rows and more with repeats.
        chiase_core::schema::Schema::new(p.schema).unwrap();
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
