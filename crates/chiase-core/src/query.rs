//! The record query AST: what a client asks of a dataset's rows, parsed
//! from query parameters against the schema and the fields the subject may
//! see. Unknown fields and operators are errors that name them; a field the
//! subject may not see cannot be filtered, sorted or faceted on either (that
//! would leak its values).
//!
//! Parameters: `field=value`, `field[op]=value` with op in `ne lt lte gt gte
//! in contains prefix null`, `q`, `bbox=minLon,minLat,maxLon,maxLat`,
//! `sort=-a,b`, `fields=a,b`, `limit`, `after` (an opaque keyset cursor),
//! `facet=field`, `as_of` (a timestamp), `total=exact`.
//!
//! `q` matches whole words, folded (no diacritics, `đ` as `d`), every word
//! required; a word ending in `*` matches as a prefix (`q=tuyen qua*`), as a
//! search box typing ahead sends it. Prefixes are not implicit: a prefix of
//! a common word merges the postings of every word it begins, which costs
//! milliseconds where a whole word costs microseconds.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::Msg;
use crate::fold::query_terms;
use crate::schema::{FieldType, Schema, Value};

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Lte,
    Gt,
    Gte,
    In,
    Contains,
    Prefix,
    /// `field[null]=true` or `false`.
    Null,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "lt" => Op::Lt,
            "lte" => Op::Lte,
            "gt" => Op::Gt,
            "gte" => Op::Gte,
            "in" => Op::In,
            "contains" => Op::Contains,
            "prefix" => Op::Prefix,
            "null" => Op::Null,
            _ => return None,
        })
    }
}

/// One condition on a field.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub field: usize,
    pub op: Op,
    /// One value, several for `in`; for `null`, `Bool(true)` means IS NULL.
    pub values: Vec<Value>,
}

/// What a `bbox` filter applies to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GeoTarget {
    /// The dataset's point (a lat field and a lon field).
    Point {
        lat: usize,
        lon: usize,
    },
    Geopoint(usize),
    Geojson(usize),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bbox {
    pub target: GeoTarget,
    pub min_lon: f64,
    pub min_lat: f64,
    pub max_lon: f64,
    pub max_lat: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortKey {
    pub field: usize,
    pub desc: bool,
}

/// Where the previous page ended: the sort values and the version id of
/// its last row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    /// The sort keys the cursor was made for (so it cannot be replayed on
    /// another order).
    #[serde(rename = "k")]
    pub keys: String,
    #[serde(rename = "s")]
    pub sort_values: Vec<serde_json::Value>,
    #[serde(rename = "v")]
    pub last_v: i64,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).expect("BUG: a cursor serialises"))
    }

    pub fn decode(s: &str) -> Option<Cursor> {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(s).ok()?).ok()
    }
}

/// One word of `q`, folded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub word: String,
    /// Written with a trailing `*`: any word that begins with it.
    pub prefix: bool,
}

/// The words of a full-text query: whitespace-separated pieces, each
/// folded and split into words; a piece ending in `*` makes its last word
/// a prefix. Repeated words count once.
pub fn parse_terms(q: &str) -> Vec<Term> {
    let mut terms: Vec<Term> = Vec::new();
    for piece in q.split_whitespace() {
        let prefix = piece.ends_with('*');
        let words = query_terms(piece);
        let last = words.len().saturating_sub(1);
        for (i, word) in words.into_iter().enumerate() {
            let term = Term { word, prefix: prefix && i == last };
            match terms.iter_mut().find(|t| t.word == term.word) {
                // The whole word is asked for too: it is within the prefix.
                Some(t) => t.prefix |= term.prefix,
                None => terms.push(term),
            }
        }
    }
    terms
}

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub conditions: Vec<Condition>,
    /// Words of `q`.
    pub terms: Vec<Term>,
    pub bbox: Option<Bbox>,
    pub sort: Vec<SortKey>,
    /// Fields to return, in schema order: the visible ones, or those asked.
    pub fields: Vec<usize>,
    pub limit: usize,
    pub after: Option<Cursor>,
    pub facets: Vec<usize>,
    pub as_of: Option<DateTime<Utc>>,
    pub exact_total: bool,
}

impl Query {
    /// The signature of the sort order, stored in cursors.
    pub fn sort_signature(&self, schema: &Schema) -> String {
        self.sort
            .iter()
            .map(|k| format!("{}{}", if k.desc { "-" } else { "" }, schema.fields[k.field].spec.name))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// True when the query narrows the rows (so counts must be computed).
    pub fn is_filtered(&self) -> bool {
        !self.conditions.is_empty() || !self.terms.is_empty() || self.bbox.is_some()
    }
}

/// A mistake in a query, naming the parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    pub param: String,
    pub message: Msg,
}

fn qerr(param: &str, vi: impl Into<String>, en: impl Into<String>) -> QueryError {
    QueryError { param: param.to_string(), message: Msg::new(vi, en) }
}

/// Parameters that are not field filters.
pub const RESERVED: &[&str] = &["q", "bbox", "sort", "fields", "limit", "after", "facet", "as_of", "total", "lang", "bom", "format"];

/// The largest page a client may ask for.
pub const MAX_LIMIT: usize = 10_000;
pub const DEFAULT_LIMIT: usize = 100;

/// Parses query parameters. `visible` lists the field positions the subject
/// may see.
pub fn parse(params: &[(String, String)], schema: &Schema, visible: &[usize]) -> Result<Query, QueryError> {
    let mut q = Query {
        conditions: vec![],
        terms: vec![],
        bbox: None,
        sort: vec![],
        fields: visible.to_vec(),
        limit: DEFAULT_LIMIT,
        after: None,
        facets: vec![],
        as_of: None,
        exact_total: false,
    };
    let field_at = |param: &str, name: &str| -> Result<usize, QueryError> {
        match schema.position(name) {
            Some(i) if visible.contains(&i) => Ok(i),
            Some(_) => Err(qerr(
                param,
                format!("bạn không được xem trường «{name}» nên không thể dùng nó để lọc, sắp xếp hay thống kê"),
                format!("you may not see field «{name}», so it cannot be filtered, sorted or faceted on"),
            )),
            None => {
                let known: Vec<&str> = visible.iter().map(|i| schema.fields[*i].spec.name.as_str()).collect();
                Err(qerr(
                    param,
                    format!("không có trường «{name}» (các trường: {})", known.join(", ")),
                    format!("unknown field «{name}» (fields: {})", known.join(", ")),
                ))
            }
        }
    };
    let mut cursor_text = None;
    for (key, value) in params {
        match key.as_str() {
            "lang" | "bom" | "format" => {}
            "q" => q.terms = parse_terms(value),
            "limit" => {
                q.limit = value.parse::<usize>().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or_else(|| {
                    qerr(
                        "limit",
                        format!("«limit» phải là số nguyên từ 1 đến {MAX_LIMIT}"),
                        format!("«limit» must be an integer from 1 to {MAX_LIMIT}"),
                    )
                })?
            }
            "after" => cursor_text = Some(value.clone()),
            "total" => {
                q.exact_total = match value.as_str() {
                    "exact" => true,
                    "estimate" => false,
                    _ => return Err(qerr("total", "«total» nhận «exact» hoặc «estimate»", "«total» takes «exact» or «estimate»")),
                }
            }
            "as_of" => {
                q.as_of = Some(parse_instant(value).ok_or_else(|| {
                    qerr(
                        "as_of",
                        format!("«as_of» phải là thời điểm ISO 8601, gặp «{value}»"),
                        format!("«as_of» must be an ISO 8601 time, got «{value}»"),
                    )
                })?)
            }
            "fields" => {
                let mut chosen = Vec::new();
                for name in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let i = field_at("fields", name)?;
                    if !chosen.contains(&i) {
                        chosen.push(i);
                    }
                }
                chosen.sort_unstable();
                q.fields = chosen;
            }
            "sort" => {
                for part in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let (desc, name) = match part.strip_prefix('-') {
                        Some(n) => (true, n),
                        None => (false, part.strip_prefix('+').unwrap_or(part)),
                    };
                    let i = field_at("sort", name)?;
                    if matches!(schema.fields[i].spec.field_type, FieldType::Geopoint | FieldType::Geojson) {
                        return Err(qerr(
                            "sort",
                            format!("không thể sắp xếp theo trường địa lý «{name}»"),
                            format!("cannot sort by geographic field «{name}»"),
                        ));
                    }
                    if q.sort.iter().any(|k| k.field == i) {
                        return Err(qerr(
                            "sort",
                            format!("trường «{name}» lặp lại trong «sort»"),
                            format!("field «{name}» repeats in «sort»"),
                        ));
                    }
                    q.sort.push(SortKey { field: i, desc });
                }
            }
            "facet" => {
                for name in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let i = field_at("facet", name)?;
                    if matches!(schema.fields[i].spec.field_type, FieldType::Geopoint | FieldType::Geojson) {
                        return Err(qerr(
                            "facet",
                            format!("không thể thống kê theo trường địa lý «{name}»"),
                            format!("cannot facet on geographic field «{name}»"),
                        ));
                    }
                    if !q.facets.contains(&i) {
                        q.facets.push(i);
                    }
                }
            }
            "bbox" => q.bbox = Some(parse_bbox(value, schema, visible)?),
            other => {
                let (name, op) = match other.split_once('[') {
                    Some((name, rest)) => {
                        let op_text = rest.strip_suffix(']').ok_or_else(|| {
                            qerr(other, format!("tham số «{other}» sai cú pháp"), format!("malformed parameter «{other}»"))
                        })?;
                        let op = Op::parse(op_text).ok_or_else(|| {
                            qerr(
                                other,
                                format!("toán tử «{op_text}» không được hỗ trợ (eq, ne, lt, lte, gt, gte, in, contains, prefix, null)"),
                                format!("unsupported operator «{op_text}» (eq, ne, lt, lte, gt, gte, in, contains, prefix, null)"),
                            )
                        })?;
                        (name, op)
                    }
                    None => (other, Op::Eq),
                };
                let i = field_at(other, name)?;
                q.conditions.push(condition(other, schema, i, op, value)?);
            }
        }
    }
    if let Some(text) = cursor_text {
        let c = Cursor::decode(&text).ok_or_else(|| qerr("after", "con trỏ trang «after» không hợp lệ", "invalid «after» cursor"))?;
        if c.keys != q.sort_signature(schema) || c.sort_values.len() != q.sort.len() {
            return Err(qerr(
                "after",
                "con trỏ «after» thuộc về một cách sắp xếp khác",
                "the «after» cursor belongs to another sort order",
            ));
        }
        q.after = Some(c);
    }
    Ok(q)
}

fn condition(param: &str, schema: &Schema, i: usize, op: Op, raw: &str) -> Result<Condition, QueryError> {
    let f = &schema.fields[i];
    let t = f.spec.field_type;
    let geo = matches!(t, FieldType::Geopoint | FieldType::Geojson);
    let refuse = |what_vi: &str, what_en: &str| {
        qerr(
            param,
            format!("không dùng được toán tử này với trường {what_vi} «{}»", f.spec.name),
            format!("this operator does not apply to {what_en} field «{}»", f.spec.name),
        )
    };
    match op {
        Op::Null => {
            let is_null = match raw {
                "true" | "1" | "" => true,
                "false" | "0" => false,
                _ => return Err(qerr(param, "«[null]» nhận true hoặc false", "«[null]» takes true or false")),
            };
            return Ok(Condition { field: i, op, values: vec![Value::Bool(is_null)] });
        }
        _ if geo => return Err(refuse("địa lý", "geographic")),
        Op::Contains | Op::Prefix if t != FieldType::String => return Err(refuse("không phải chuỗi", "non-string")),
        Op::Lt | Op::Lte | Op::Gt | Op::Gte if t == FieldType::Boolean => return Err(refuse("đúng/sai", "boolean")),
        _ => {}
    }
    let parse_one = |s: &str| -> Result<Value, QueryError> {
        if matches!(op, Op::Contains | Op::Prefix) {
            return Ok(Value::Text(crate::fold::nfc(s)));
        }
        f.parse_text(s).map_err(|e| QueryError { param: param.to_string(), message: e.message })
    };
    let values = if op == Op::In {
        let vs: Vec<Value> = raw.split(',').map(parse_one).collect::<Result<_, _>>()?;
        if vs.is_empty() || vs.len() > 1000 {
            return Err(qerr(param, "«[in]» cần từ 1 đến 1000 giá trị", "«[in]» takes 1 to 1000 values"));
        }
        vs
    } else {
        vec![parse_one(raw)?]
    };
    Ok(Condition { field: i, op, values })
}

fn parse_bbox(raw: &str, schema: &Schema, visible: &[usize]) -> Result<Bbox, QueryError> {
    let n: Vec<f64> = raw.split(',').map(|s| s.trim().parse::<f64>()).collect::<Result<_, _>>().map_err(|_| bbox_err())?;
    let [min_lon, min_lat, max_lon, max_lat] = n.as_slice() else { return Err(bbox_err()) };
    let ok = (-180.0..=180.0).contains(min_lon)
        && (-180.0..=180.0).contains(max_lon)
        && (-90.0..=90.0).contains(min_lat)
        && (-90.0..=90.0).contains(max_lat)
        && min_lon <= max_lon
        && min_lat <= max_lat;
    if !ok {
        return Err(bbox_err());
    }
    let seen = |i: usize| visible.contains(&i);
    let target = match schema.point {
        Some((lat, lon)) if seen(lat) && seen(lon) => GeoTarget::Point { lat, lon },
        _ => match schema
            .fields
            .iter()
            .enumerate()
            .find(|(i, f)| seen(*i) && matches!(f.spec.field_type, FieldType::Geopoint | FieldType::Geojson))
        {
            Some((i, f)) if f.spec.field_type == FieldType::Geopoint => GeoTarget::Geopoint(i),
            Some((i, _)) => GeoTarget::Geojson(i),
            None => {
                return Err(qerr(
                    "bbox",
                    "tập dữ liệu không có trường địa lý để lọc theo «bbox»",
                    "the dataset has no geographic field for «bbox»",
                ));
            }
        },
    };
    Ok(Bbox { target, min_lon: *min_lon, min_lat: *min_lat, max_lon: *max_lon, max_lat: *max_lat })
}

fn bbox_err() -> QueryError {
    qerr(
        "bbox",
        "«bbox» là minLon,minLat,maxLon,maxLat (kinh độ −180..180, vĩ độ −90..90, min ≤ max)",
        "«bbox» is minLon,minLat,maxLon,maxLat (longitudes −180..180, latitudes −90..90, min ≤ max)",
    )
}

/// Reads a timestamp: RFC 3339, or a date (its end is meant: `as_of=2024-01-01`
/// reads the data as it stood at the end of that day, UTC).
pub fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").or_else(|_| NaiveDate::parse_from_str(s, "%d/%m/%Y")).ok()?;
    Some(d.and_hms_opt(23, 59, 59)?.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Schema {
        Schema::from_json(&json!({"fields": [
            {"name": "ma_tram", "type": "string"},
            {"name": "nha_mang", "type": "string"},
            {"name": "chieu_cao", "type": "number"},
            {"name": "lat", "type": "number", "geo": "lat"},
            {"name": "lon", "type": "number", "geo": "lon"},
            {"name": "chu_so_huu", "type": "string", "personal": "basic"}
        ]}))
        .unwrap()
    }

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    const VISIBLE: [usize; 5] = [0, 1, 2, 3, 4];

    #[test]
    fn filters_sort_facets_and_projection_parse() {
        let q = parse(
            &p(&[
                ("nha_mang", "Viettel"),
                ("chieu_cao[gte]", "30"),
                ("nha_mang[in]", "Viettel,VNPT"),
                ("sort", "-chieu_cao,ma_tram"),
                ("fields", "ma_tram,chieu_cao"),
                ("facet", "nha_mang"),
                ("limit", "50"),
                ("q", "Đồng Bừng"),
            ]),
            &schema(),
            &VISIBLE,
        )
        .unwrap();
        assert_eq!(q.conditions.len(), 3);
        assert_eq!(q.conditions[1], Condition { field: 2, op: Op::Gte, values: vec![Value::Num(30.0)] });
        assert_eq!(q.conditions[2].values.len(), 2);
        assert_eq!(q.sort, vec![SortKey { field: 2, desc: true }, SortKey { field: 0, desc: false }]);
        assert_eq!(q.fields, vec![0, 2]);
        assert_eq!(q.facets, vec![1]);
        assert_eq!(q.limit, 50);
        assert_eq!(q.terms.iter().map(|t| (t.word.as_str(), t.prefix)).collect::<Vec<_>>(), vec![("dong", false), ("bung", false)]);
        assert!(q.is_filtered());
    }

    #[test]
    fn full_text_words_are_whole_unless_they_end_in_a_star() {
        let t = |q: &str| parse_terms(q).into_iter().map(|t| (t.word, t.prefix)).collect::<Vec<_>>();
        let w = |s: &str, p: bool| (s.to_string(), p);
        assert_eq!(t("Tuyên Quang"), vec![w("tuyen", false), w("quang", false)]);
        assert_eq!(t("tuyên qua*"), vec![w("tuyen", false), w("qua", true)]);
        assert_eq!(t("Đồng-Bừng*"), vec![w("dong", false), w("bung", true)]);
        assert_eq!(t("xa xa* ***"), vec![w("xa", true)]);
        assert_eq!(t("  "), vec![]);
    }

    #[test]
    fn unknown_fields_operators_and_invisible_fields_are_named() {
        let e = parse(&p(&[("nha_mng", "x")]), &schema(), &VISIBLE).unwrap_err();
        assert_eq!(e.param, "nha_mng");
        assert!(e.message.en.contains("unknown field «nha_mng»"));
        let e = parse(&p(&[("chieu_cao[between]", "1")]), &schema(), &VISIBLE).unwrap_err();
        assert!(e.message.en.contains("between"));
        let e = parse(&p(&[("chu_so_huu", "Nguyễn Văn A")]), &schema(), &VISIBLE).unwrap_err();
        assert!(e.message.en.contains("may not see"));
        let e = parse(&p(&[("sort", "chu_so_huu")]), &schema(), &VISIBLE).unwrap_err();
        assert_eq!(e.param, "sort");
        assert!(parse(&p(&[("fields", "chu_so_huu")]), &schema(), &VISIBLE).is_err());
        assert!(parse(&p(&[("chieu_cao", "cao")]), &schema(), &VISIBLE).is_err());
        assert!(parse(&p(&[("chieu_cao[contains]", "1")]), &schema(), &VISIBLE).is_err());
        assert!(parse(&p(&[("limit", "0")]), &schema(), &VISIBLE).is_err());
        assert!(parse(&p(&[("limit", "10001")]), &schema(), &VISIBLE).is_err());
        assert!(parse(&p(&[("as_of", "hôm qua")]), &schema(), &VISIBLE).is_err());
    }

    #[test]
    fn bbox_applies_to_the_point_and_is_checked() {
        let q = parse(&p(&[("bbox", "105.1,21.7,105.3,21.9")]), &schema(), &VISIBLE).unwrap();
        assert_eq!(q.bbox.unwrap().target, GeoTarget::Point { lat: 3, lon: 4 });
        for bad in ["1,2,3", "105,22,104,23", "200,0,201,1", "a,b,c,d"] {
            assert!(parse(&p(&[("bbox", bad)]), &schema(), &VISIBLE).is_err(), "{bad}");
        }
        // Without the point visible there is nothing to filter on.
        assert!(parse(&p(&[("bbox", "105.1,21.7,105.3,21.9")]), &schema(), &[0, 1, 2]).is_err());
    }

    #[test]
    fn cursors_round_trip_and_only_fit_their_sort() {
        let c = Cursor { keys: "-chieu_cao".into(), sort_values: vec![json!(30.5)], last_v: 77 };
        let text = c.encode();
        assert!(text.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_'));
        assert_eq!(Cursor::decode(&text).unwrap(), c);
        let q = parse(&p(&[("sort", "-chieu_cao"), ("after", &text)]), &schema(), &VISIBLE).unwrap();
        assert_eq!(q.after.unwrap().last_v, 77);
        assert!(parse(&p(&[("sort", "ma_tram"), ("after", &text)]), &schema(), &VISIBLE).is_err());
        assert!(parse(&p(&[("after", "not-a-cursor")]), &schema(), &VISIBLE).is_err());
    }

    #[test]
    fn instants_accept_dates_as_their_end() {
        assert_eq!(parse_instant("2024-01-01").unwrap().to_rfc3339(), "2024-01-01T23:59:59+00:00");
        assert!(parse_instant("2024-01-01T08:00:00+07:00").is_some());
    }
}
