//! Schema inference as a proposal: reads a sample of a file and proposes a
//! Table Schema for a steward to review. Imports never guess: they run
//! against a schema someone accepted (the CKAN loaders' worst habit is
//! guessing types from the first rows and failing on row 90,000).

use std::collections::HashSet;

use chiase_core::fold::fold;
use chiase_core::schema::{Constraints, FieldSpec, FieldType, GeoRole, SchemaSpec, check_field_name};
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde::Serialize;

use crate::tabular::{Cells, ReadError, RecordReader};

/// A proposed schema and what the sample showed.
#[derive(Debug, Clone, Serialize)]
pub struct Proposal {
    pub schema: SchemaSpec,
    pub rows_sampled: usize,
    /// Per field: how many values were empty, distinct, and an example.
    pub notes: Vec<FieldNote>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FieldNote {
    pub name: String,
    pub empty: usize,
    pub distinct: usize,
    pub example: Option<String>,
}

#[derive(Default)]
struct Column {
    header: String,
    values: Vec<String>,
    empty: usize,
}

/// Reads up to `sample` records and proposes a schema.
pub fn infer(mut reader: RecordReader, sample: usize) -> Result<Proposal, ReadError> {
    let mut columns: Vec<Column> =
        reader.headers().map(|h| h.iter().map(|h| Column { header: h.clone(), ..Default::default() }).collect()).unwrap_or_default();
    let mut rows = 0;
    for rec in reader.by_ref().take(sample) {
        let rec = rec?;
        rows += 1;
        match rec.cells {
            Cells::Text(cells) => {
                for (i, c) in cells.into_iter().enumerate() {
                    if let Some(col) = columns.get_mut(i) {
                        if c.trim().is_empty() { col.empty += 1 } else { col.values.push(c) }
                    }
                }
            }
            Cells::Json(obj) => {
                for (k, v) in obj {
                    let i = match columns.iter().position(|c| c.header == k) {
                        Some(i) => i,
                        None => {
                            columns.push(Column { header: k.clone(), empty: rows - 1, ..Default::default() });
                            columns.len() - 1
                        }
                    };
                    match v {
                        serde_json::Value::Null => columns[i].empty += 1,
                        serde_json::Value::String(s) => columns[i].values.push(s),
                        other => columns[i].values.push(other.to_string()),
                    }
                }
            }
        }
    }
    let mut fields = Vec::new();
    let mut notes = Vec::new();
    let mut used = HashSet::new();
    for col in &columns {
        let name = field_name(&col.header, &mut used);
        let t = infer_type(&col.values);
        let distinct: HashSet<&String> = col.values.iter().collect();
        let required = col.empty == 0 && !col.values.is_empty() && col.values.len() == rows;
        let folded = fold(&col.header);
        let geo = match t {
            FieldType::Number if ["lat", "latitude", "vi do", "vi_do"].contains(&folded.trim()) => Some(GeoRole::Lat),
            FieldType::Number if ["lon", "lng", "long", "longitude", "kinh do", "kinh_do"].contains(&folded.trim()) => Some(GeoRole::Lon),
            _ => None,
        };
        let enum_values =
            (t == FieldType::String && distinct.len() <= 12 && col.values.len() >= 50 && distinct.len() * 10 <= col.values.len()).then(
                || {
                    let mut v: Vec<String> = distinct.iter().map(|s| s.to_string()).collect();
                    v.sort();
                    v.into_iter().map(serde_json::Value::String).collect()
                },
            );
        let avg_len = col.values.iter().map(|v| v.chars().count()).sum::<usize>() / col.values.len().max(1);
        // Codes are unique; long text (addresses, descriptions) is searched.
        let unique = required
            && distinct.len() == col.values.len()
            && rows >= 2
            && (t == FieldType::Integer || (t == FieldType::String && avg_len <= 32));
        let searchable = t == FieldType::String && enum_values.is_none() && avg_len > 12;
        notes.push(FieldNote { name: name.clone(), empty: col.empty, distinct: distinct.len(), example: col.values.first().cloned() });
        fields.push(FieldSpec {
            name,
            title: Some(col.header.trim().to_string()).filter(|h| !h.is_empty()),
            description: None,
            field_type: t,
            format: (t == FieldType::Date && col.values.iter().any(|v| v.contains('/'))).then(|| "%d/%m/%Y".to_string()),
            constraints: Constraints { required, unique, enum_values, ..Default::default() },
            personal: Default::default(),
            searchable,
            geo,
            decimal_char: (t == FieldType::Number && col.values.iter().any(|v| v.contains(',') && !v.contains('.'))).then(|| ",".into()),
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
    let primary_key = fields
        .iter()
        .find(|f| f.constraints.unique && (f.name == "id" || f.name.starts_with("ma_") || f.name.starts_with("so_")))
        .map(|f| vec![f.name.clone()])
        .unwrap_or_default();
    for f in fields.iter_mut().filter(|f| primary_key.contains(&f.name)) {
        f.constraints.unique = false;
    }
    Ok(Proposal { schema: SchemaSpec { fields, primary_key, indexes: vec![], missing_values: None }, rows_sampled: rows, notes })
}

/// A valid field name from a header: folded words joined by `_`.
fn field_name(header: &str, used: &mut HashSet<String>) -> String {
    let folded = fold(header);
    let mut name: String = folded.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    while name.contains("__") {
        name = name.replace("__", "_");
    }
    let mut name = name.trim_matches('_').to_string();
    if name.is_empty() || !name.as_bytes()[0].is_ascii_lowercase() {
        name = format!("f_{name}");
    }
    name.truncate(60);
    if check_field_name(&name).is_err() {
        name = format!("f_{name}");
        name.truncate(60);
    }
    let base = name.clone();
    let mut n = 1;
    while !used.insert(name.clone()) {
        n += 1;
        name = format!("{base}_{n}");
    }
    name
}

fn infer_type(values: &[String]) -> FieldType {
    if values.is_empty() {
        return FieldType::String;
    }
    let all = |f: &dyn Fn(&str) -> bool| values.iter().all(|v| f(v.trim()));
    let is_int = |v: &str| v.parse::<i64>().is_ok() && !(v.len() > 1 && v.starts_with('0'));
    if all(&|v| v.len() == 4 && is_int(v) && (1900..=2100).contains(&v.parse::<i64>().unwrap_or(0))) && values.len() > 1 {
        return FieldType::Year;
    }
    if all(&is_int) {
        return FieldType::Integer;
    }
    if all(&|v| v.parse::<f64>().is_ok_and(f64::is_finite) || v.replace(',', ".").parse::<f64>().is_ok_and(f64::is_finite))
        && all(&|v| !v.starts_with('0') || v.starts_with("0.") || v.starts_with("0,") || v == "0")
    {
        return FieldType::Number;
    }
    if all(&|v| matches!(v, "true" | "false" | "TRUE" | "FALSE" | "True" | "False")) {
        return FieldType::Boolean;
    }
    if all(&|v| NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok()) || all(&|v| NaiveDate::parse_from_str(v, "%d/%m/%Y").is_ok()) {
        return FieldType::Date;
    }
    if all(&|v| DateTime::parse_from_rfc3339(v).is_ok() || NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S").is_ok()) {
        return FieldType::Datetime;
    }
    FieldType::String
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tabular::ReadOptions;

    #[test]
    fn a_bts_sample_gets_types_a_point_a_key_and_an_enum() {
        let mut csv = String::from("id,ma_tram,nha_mang,lat,lon,chieu_cao,ngay_cap_phep,Địa chỉ\n");
        for i in 1..=60 {
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
        assert_eq!(p.schema.fields[3].geo, Some(GeoRole::Lat));
        assert_eq!(p.schema.fields[2].constraints.enum_values.as_ref().unwrap().len(), 3);
        assert!(p.schema.fields[7].searchable);
        assert_eq!(p.schema.fields[7].title.as_deref(), Some("Địa chỉ"));
        assert_eq!(p.rows_sampled, 60);
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
}
