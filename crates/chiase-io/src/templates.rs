//! Dataset templates: a Table Schema and description for the main tables
//! of each of the 31 databases of Decision 641, plus generators of
//! synthetic demo rows (docs/dataset-templates.md describes the format).

use std::collections::BTreeMap;

use chiase_core::schema::SchemaSpec;
use serde::Deserialize;

mod files {
    include!(concat!(env!("OUT_DIR"), "/templates.rs"));
}

/// A template as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub template: String,
    pub database_no: i64,
    pub slug: String,
    pub title: String,
    pub title_en: String,
    pub description: String,
    pub sharing_mode: String,
    pub licence: String,
    pub cadence: String,
    pub schema: SchemaSpec,
    pub demo: Demo,
}

/// How to make demo rows.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Demo {
    pub rows: usize,
    pub fields: BTreeMap<String, Generator>,
}

/// A generator of one field's values.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Generator {
    Sequence { start: i64, pattern: Option<String> },
    Choice { values: Vec<serde_json::Value>, weights: Option<Vec<f64>> },
    PersonName,
    Gender,
    District,
    Commune,
    Address,
    Lat,
    Lon,
    Geopoint,
    Polygon { size_m: f64 },
    Date { from: String, to: String },
    Datetime { from: String, to: String },
    Year { from: i64, to: i64 },
    Integer { min: i64, max: i64 },
    Number { min: f64, max: f64, decimals: Option<u32> },
    Boolean { p_true: f64 },
    Phone,
    Email { domain: String },
    CitizenId,
    Digits { length: usize, prefix: Option<String> },
    Words { values: Vec<String>, min: usize, max: usize },
    Format { pattern: String },
    Maybe { p_null: f64, then: Box<Generator> },
}

/// Every template, by file order (database number, then name).
pub fn all() -> Vec<Template> {
    files::FILES
        .iter()
        .map(|(name, text)| serde_json::from_str(text).unwrap_or_else(|e| panic!("BUG: template {name} does not parse: {e}")))
        .collect()
}

/// One template by its id.
pub fn by_id(id: &str) -> Option<Template> {
    all().into_iter().find(|t| t.template == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses_and_its_schema_is_valid() {
        let all = all();
        assert!(all.len() >= 31);
        let mut dbs: Vec<i64> = all.iter().map(|t| t.database_no).collect();
        dbs.sort();
        dbs.dedup();
        assert_eq!(dbs, (1..=31).collect::<Vec<_>>(), "every database has a template");
        for t in &all {
            chiase_core::schema::Schema::new(t.schema.clone()).unwrap_or_else(|e| panic!("{}: {e:?}", t.template));
            for f in &t.schema.fields {
                assert!(t.demo.fields.contains_key(&f.name), "{}: no generator for {}", t.template, f.name);
            }
        }
    }
}
