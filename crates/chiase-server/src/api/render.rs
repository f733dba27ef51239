//! The JSON shapes of the API that more than one resource shows: a
//! dataset, a page of records, one record.

use chiase_core::schema::{Field, Schema};
use chiase_store::datasets::records::{RecordPage, record_json};
use chiase_store::datasets::rows::StoredRow;
use serde_json::{Value, json};

use crate::usecase::datasets::Listed;

/// A dataset as the API shows it. For a caller who may not read its rows,
/// the row count, last change number and last change date are `null`.
pub fn dataset_json(l: &Listed) -> Value {
    let ds = &l.dataset;
    let mut v = serde_json::to_value(ds).unwrap_or(Value::Null);
    match &l.activity {
        Some(a) => {
            v["row_count"] = json!(a.row_count);
            v["last_seq"] = json!(a.last_seq);
            v["data_updated_at"] = json!(a.data_updated_at);
        }
        None => {
            for k in ["row_count", "last_seq", "data_updated_at"] {
                v[k] = Value::Null;
            }
        }
    }
    v["readable"] = json!(l.activity.is_some());
    v["links"] = json!({
        "records": format!("/api/v1/datasets/{}/records", ds.id),
        "changes": format!("/api/v1/datasets/{}/changes", ds.id),
        "export_csv": format!("/api/v1/datasets/{}/export.csv", ds.id),
    });
    v
}

/// One record as JSON: `_id`, then its visible fields.
pub fn row_json(fields: &[&Field], r: &StoredRow) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("_id".into(), json!(r.meta.id));
    m.extend(record_json(fields, r));
    Value::Object(m)
}

/// A page of records with its facets and the cursor to the next page.
pub fn page_json(schema: &Schema, page: &RecordPage) -> Value {
    let fields: Vec<&Field> = page.fields.iter().map(|i| &schema.fields[*i]).collect();
    let facets: serde_json::Map<String, Value> = page
        .facets
        .iter()
        .map(|(f, counts)| {
            (
                schema.fields[*f].spec.name.clone(),
                Value::Array(counts.iter().map(|(v, n)| json!({ "value": v.to_json(), "count": n })).collect()),
            )
        })
        .collect();
    json!({
        "total": page.total,
        "total_exact": page.total_exact,
        "fields": fields.iter().map(|f| f.spec.name.as_str()).collect::<Vec<_>>(),
        "records": page.records.iter().map(|r| row_json(&fields, r)).collect::<Vec<_>>(),
        "next": page.next,
        "partial": page.partial,
        "facets": facets,
        "seq": page.seq,
    })
}
