//! The JSON shapes of the API that more than one resource shows: a
//! dataset, a page of records, one record.

use chiase_core::schema::{Field, Schema};
use chiase_store::datasets::records::{RecordPage, record_json};
use chiase_store::datasets::rows::StoredRow;
use serde_json::{Value, json};

use crate::usecase::datasets::Listed;

/// A dataset as the API shows it. For a caller who may not read its rows,
/// the row count, last change number and last change date are `null`, and
/// `updated_at` is when its description last changed (every write of rows
/// moves the stored `updated_at`, which would tell when the data changes).
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
            v["updated_at"] = json!(ds.described_at);
        }
    }
    v["theme_proposed"] = json!(chiase_core::theme::propose(&ds.owner.name));
    v["readable"] = json!(l.activity.is_some());
    v["links"] = json!({
        "dataset": format!("/api/v1/datasets/{}", ds.id),
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

/// A body of JSON already written.
pub struct JsonBytes(pub Vec<u8>);

impl axum::response::IntoResponse for JsonBytes {
    fn into_response(self) -> axum::response::Response {
        ([(axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static("application/json"))], self.0).into_response()
    }
}

/// One record, written into `out`: `_id`, then its fields (`names` are the
/// fields' names already written as JSON keys, `"name":`).
fn write_row(out: &mut Vec<u8>, names: &[Vec<u8>], r: &StoredRow) {
    out.extend_from_slice(b"{\"_id\":");
    out.extend_from_slice(r.meta.id.to_string().as_bytes());
    for (name, v) in names.iter().zip(&r.values) {
        out.push(b',');
        out.extend_from_slice(name);
        v.write_json(out);
    }
    out.push(b'}');
}

/// A page of records with its facets and the cursor to the next page,
/// written straight from the rows (the hottest answer of the API: no JSON
/// tree is built per row).
pub fn page_body(schema: &Schema, page: &RecordPage) -> JsonBytes {
    let fields: Vec<&Field> = page.fields.iter().map(|i| &schema.fields[*i]).collect();
    let names: Vec<Vec<u8>> = fields
        .iter()
        .map(|f| {
            let mut k = serde_json::to_vec(&f.spec.name).unwrap_or_default();
            k.push(b':');
            k
        })
        .collect();
    let mut out = Vec::with_capacity(256 + page.records.len() * 64 * fields.len().max(1));
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
    let head = json!({
        "total": page.total,
        "total_exact": page.total_exact,
        "fields": fields.iter().map(|f| f.spec.name.as_str()).collect::<Vec<_>>(),
    });
    // `{"total":…,"fields":[…]` without its closing brace, then the rows.
    let head = serde_json::to_vec(&head).unwrap_or_default();
    out.extend_from_slice(&head[..head.len().saturating_sub(1)]);
    out.extend_from_slice(b",\"records\":[");
    for (i, r) in page.records.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_row(&mut out, &names, r);
    }
    out.extend_from_slice(b"],");
    let tail = json!({ "next": page.next, "partial": page.partial, "facets": facets, "seq": page.seq });
    out.extend_from_slice(&serde_json::to_vec(&tail).unwrap_or_default()[1..]);
    JsonBytes(out)
}
