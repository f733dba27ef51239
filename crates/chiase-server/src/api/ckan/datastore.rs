//! CKAN's DataStore actions over a hosted dataset's rows. Reads are the
//! native record reads (`usecase::records::read_page`: the read permit,
//! its visible fields, the audit of restricted reads) with CKAN's
//! parameters translated; writes are the native writes (the write permit,
//! one transaction, the change in the audit log).
//!
//! Paging: `offset` works, but each page's `_links.next` (CKAN 2.11) and
//! `next_page` (2.12) also carry chiase's keyset cursor (`_after`), so a
//! client that follows them reads each page at the cost of the first, not
//! of everything before it.

use std::collections::HashSet;

use chiase_core::schema::{Field, FieldType, Schema};
use chiase_store::datasets::import::ImportMode;
use serde_json::{Map, Value, json};

use super::{Call, CkanError};
use crate::usecase::records;

/// CKAN's default and largest page.
const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 32_000;
/// Rows a `distinct` search may go through, and rows an `offset` may skip
/// in one step (the native API's largest page).
const DISTINCT_SCAN: usize = 200_000;
const STEP: usize = 10_000;

const SEARCH_PARAMS: &[&str] = &[
    "resource_id",
    "id",
    "filters",
    "q",
    "full_text",
    "plain",
    "language",
    "distinct",
    "limit",
    "offset",
    "fields",
    "sort",
    "include_total",
    "total_estimation_threshold",
    "records_format",
    "include_next_page",
    "_after",
    "callback",
    "_",
];

/// A field as the DataStore describes it: PostgreSQL's type names.
fn field_json(f: &Field) -> Value {
    let t = match f.spec.field_type {
        FieldType::String => "text",
        FieldType::Integer | FieldType::Year => "int8",
        FieldType::Number => "numeric",
        FieldType::Boolean => "bool",
        FieldType::Date => "date",
        FieldType::Datetime => "timestamp",
        FieldType::Geopoint => "text",
        FieldType::Geojson => "json",
    };
    let mut info = Map::new();
    if let Some(t) = &f.spec.title {
        info.insert("label".into(), json!(t));
    }
    if let Some(d) = &f.spec.description {
        info.insert("notes".into(), json!(d));
    }
    info.insert("type_override".into(), json!(""));
    json!({ "id": f.spec.name, "type": t, "info": info, "schema": { "is_index": false } })
}

fn resource_id(call: &Call<'_>) -> Result<String, CkanError> {
    call.params
        .text("resource_id")
        .or_else(|| call.params.text("id"))
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| CkanError::validation("resource_id", "Missing value", "thiếu giá trị"))
}

/// Turns CKAN's `filters` into the native API's parameters.
fn filter_pairs(filters: &Value, pairs: &mut Vec<(String, String)>) -> Result<(), CkanError> {
    let Value::Object(m) = filters else {
        return Err(CkanError::validation(
            "filters",
            "filters must be a dictionary of field: value",
            "filters phải là một đối tượng trường: giá trị",
        ));
    };
    let scalar = |v: &Value| -> Result<String, CkanError> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            _ => Err(CkanError::validation(
                "filters",
                "a filter's value is a text, a number, a list or {op: value}",
                "giá trị lọc không hợp lệ",
            )),
        }
    };
    for (field, v) in m {
        if field.starts_with('$') {
            return Err(CkanError::validation("filters", &format!("{field} is not supported here"), &format!("chưa hỗ trợ {field}")));
        }
        match v {
            Value::Array(values) => {
                let texts = values.iter().map(scalar).collect::<Result<Vec<_>, _>>()?;
                if texts.iter().any(|t| t.contains(',')) {
                    return Err(CkanError::validation(
                        "filters",
                        "a value in a list filter cannot contain a comma",
                        "giá trị trong danh sách lọc không được chứa dấu phẩy",
                    ));
                }
                pairs.push((format!("{field}[in]"), texts.join(",")));
            }
            Value::Object(ops) => {
                for (op, value) in ops {
                    if !matches!(op.as_str(), "eq" | "lt" | "lte" | "gt" | "gte") {
                        return Err(CkanError::validation(
                            "filters",
                            &format!("unknown operator {op}"),
                            &format!("không có phép so sánh {op}"),
                        ));
                    }
                    let key = if op == "eq" { field.clone() } else { format!("{field}[{op}]") };
                    pairs.push((key, scalar(value)?));
                }
            }
            Value::Null => pairs.push((format!("{field}[null]"), "true".into())),
            v => pairs.push((field.clone(), scalar(v)?)),
        }
    }
    Ok(())
}

/// `"a, b desc"` → `a,-b`; `_id` (the default order) is dropped.
fn native_sort(sort: &str) -> Result<String, CkanError> {
    let mut out = vec![];
    for part in sort.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut it = part.split_whitespace();
        let field = it.next().unwrap_or_default().trim_matches('"');
        let desc = match it.next().map(str::to_ascii_lowercase).as_deref() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(other) => {
                return Err(CkanError::validation("sort", &format!("unknown order «{other}»"), &format!("thứ tự «{other}» không hợp lệ")));
            }
        };
        if field == "_id" {
            if desc {
                return Err(CkanError::validation("sort", "_id desc is not supported", "chưa hỗ trợ sắp xếp _id giảm dần"));
            }
            continue;
        }
        out.push(if desc { format!("-{field}") } else { field.to_string() });
    }
    Ok(out.join(","))
}

/// `datastore_search`, written as JSON: the records straight from the
/// rows (the answer's bulk), the rest as a tree.
pub(crate) async fn search(call: &Call<'_>) -> Result<Vec<u8>, CkanError> {
    let junk: Vec<&str> = call.params.keys().filter(|k| !SEARCH_PARAMS.contains(k)).collect();
    if !junk.is_empty() {
        let mut m = Map::new();
        for k in junk {
            m.insert(k.to_string(), json!([format!("The input field {k} was not expected.")]));
        }
        return Err(CkanError::Validation(m));
    }
    let id = resource_id(call)?;
    let limit = call.params.int("limit", DEFAULT_LIMIT, MAX_LIMIT)?;
    let offset = call.params.int("offset", 0, i64::MAX)?;
    let include_total = call.params.boolean("include_total", true)?;
    let distinct = call.params.boolean("distinct", false)?;
    let records_format = call.params.text("records_format").unwrap_or_else(|| "objects".into());
    if !matches!(records_format.as_str(), "objects" | "lists") {
        return Err(CkanError::validation("records_format", "records_format is objects or lists", "records_format là objects hoặc lists"));
    }
    let filters = call.params.json("filters")?;
    let fields = call.params.list("fields")?;
    let sort = call.params.text("sort").unwrap_or_default();
    let q = match call.params.json("q")? {
        None => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => {
            return Err(CkanError::validation(
                "q",
                "q by field is not supported; use filters",
                "chưa hỗ trợ q theo từng trường; hãy dùng filters",
            ));
        }
    };
    let after =
        call.params.text("_after").or_else(|| filters.as_ref().and_then(|f| f.get("_after")).and_then(|v| v.as_str()).map(str::to_string));

    // The native query: the same for every step of this search.
    let mut base: Vec<(String, String)> = vec![];
    if let Some(f) = &filters {
        let mut f = f.clone();
        if let Value::Object(m) = &mut f {
            m.remove("_after");
        }
        filter_pairs(&f, &mut base)?;
    }
    if let Some(q) = q.as_deref().filter(|q| !q.trim().is_empty()) {
        base.push(("q".into(), q.to_string()));
    }
    let wanted: Vec<&String> = fields.iter().filter(|f| *f != "_id").collect();
    if !wanted.is_empty() {
        base.push(("fields".into(), wanted.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")));
    }
    let sort_native = native_sort(&sort)?;
    if !sort_native.is_empty() {
        base.push(("sort".into(), sort_native));
    }
    let audit_query = |pairs: &[(String, String)]| {
        let mut s = form_urlencoded::Serializer::new(String::from("via=ckan"));
        for (k, v) in pairs {
            s.append_pair(k, v);
        }
        s.finish()
    };

    if distinct {
        let v = search_distinct(call, &id, &base, offset as usize, limit as usize, &records_format, include_total).await?;
        return Ok(serde_json::to_vec(&v).unwrap_or_default());
    }

    // Skip `offset` rows when no cursor says where the page starts.
    let mut cursor = after;
    if cursor.is_none() && offset > 0 {
        let mut left = offset as usize;
        while left > 0 {
            let step = left.min(STEP);
            let mut pairs = base.clone();
            pairs.push(("limit".into(), step.to_string()));
            if let Some(c) = &cursor {
                pairs.push(("after".into(), c.clone()));
            }
            let p = records::read_page(call.app, call.caller, &id, &pairs, Some(&audit_query(&pairs))).await?;
            left -= p.page.records.len().min(left);
            cursor = p.page.next.clone();
            if cursor.is_none() || p.page.records.is_empty() {
                break;
            }
        }
    }
    let exhausted = offset > 0 && cursor.is_none() && call.params.text("_after").is_none();
    let mut pairs = base.clone();
    pairs.push(("limit".into(), limit.clamp(1, 10_000).to_string()));
    if let Some(c) = &cursor {
        pairs.push(("after".into(), c.clone()));
    }
    // A page larger than the native API's is read in steps.
    let mut rows = vec![];
    let mut total = None;
    let mut next = None;
    let mut page_fields = vec![];
    let mut schema = None;
    if !exhausted && limit > 0 {
        loop {
            let p = records::read_page(call.app, call.caller, &id, &pairs, Some(&audit_query(&pairs))).await?;
            total.get_or_insert((p.page.total, p.page.total_exact));
            page_fields = p.page.fields.clone();
            next = p.page.next.clone();
            let want = limit as usize - rows.len();
            rows.extend(p.page.records.into_iter().take(want));
            schema = Some(p.schema);
            if rows.len() >= limit as usize || next.is_none() {
                break;
            }
            pairs.retain(|(k, _)| k != "after" && k != "limit");
            pairs.push(("limit".into(), (limit as usize - rows.len()).min(10_000).to_string()));
            pairs.push(("after".into(), next.clone().unwrap_or_default()));
        }
    }
    let schema = match schema {
        Some(s) => s,
        None => {
            // Nothing read (past the end, or limit 0): the fields and the
            // total from a one-row read, so the answer still describes them.
            let mut p1 = base.clone();
            p1.push(("limit".into(), "1".into()));
            let p = records::read_page(call.app, call.caller, &id, &p1, Some(&audit_query(&p1))).await?;
            total.get_or_insert((p.page.total, p.page.total_exact));
            page_fields = p.page.fields.clone();
            p.schema
        }
    };
    let fields_json: Vec<Value> =
        std::iter::once(json!({ "id": "_id", "type": "int" })).chain(page_fields.iter().map(|i| field_json(&schema.fields[*i]))).collect();
    let records = write_records(&rows, &page_fields, &schema, records_format == "lists");
    let mut result = json!({
        "resource_id": id, "limit": limit, "offset": offset, "filters": filters.clone().unwrap_or(json!({})),
        "sort": sort, "include_total": include_total, "records_format": records_format,
        "total_estimation_threshold": call.params.get("total_estimation_threshold").cloned(),
        "fields": fields_json,
    });
    if let Some(q) = &q {
        result["q"] = json!(q);
    }
    if include_total && let Some((t, exact)) = total {
        result["total"] = json!(t);
        result["total_was_estimated"] = json!(!exact);
    }
    let has_more = next.is_some() && rows.len() == limit as usize;
    result["_links"] = links(call, &id, limit, offset, has_more.then_some(next.as_deref()).flatten());
    if has_more && let Some(n) = &next {
        result["next_page"] = json!({ "_after": n });
    }
    // The tree without its closing brace, then `"records": […]}`.
    let mut out = serde_json::to_vec(&result).unwrap_or_default();
    out.pop();
    out.extend_from_slice(b",\"records\":");
    out.extend_from_slice(&records);
    out.push(b'}');
    Ok(out)
}

/// The records as JSON, written from the rows: objects (`_id`, then the
/// fields) or lists.
fn write_records(rows: &[chiase_store::datasets::rows::StoredRow], fields: &[usize], schema: &Schema, lists: bool) -> Vec<u8> {
    let keys: Vec<Vec<u8>> = fields
        .iter()
        .map(|i| {
            let mut k = serde_json::to_vec(&schema.fields[*i].spec.name).unwrap_or_default();
            k.push(b':');
            k
        })
        .collect();
    let mut out = Vec::with_capacity(2 + rows.len() * 64 * fields.len().max(1));
    out.push(b'[');
    for (n, r) in rows.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        if lists {
            out.push(b'[');
            out.extend_from_slice(r.meta.id.to_string().as_bytes());
            for v in &r.values {
                out.push(b',');
                v.write_json(&mut out);
            }
            out.push(b']');
        } else {
            out.extend_from_slice(b"{\"_id\":");
            out.extend_from_slice(r.meta.id.to_string().as_bytes());
            for (k, v) in keys.iter().zip(&r.values) {
                out.push(b',');
                out.extend_from_slice(k);
                v.write_json(&mut out);
            }
            out.push(b'}');
        }
    }
    out.push(b']');
    out
}

/// `_links.start` and, when more rows follow, `_links.next`: the same
/// search from the next offset, with the cursor where this page ended.
fn links(call: &Call<'_>, id: &str, limit: i64, offset: i64, next: Option<&str>) -> Value {
    let mut start = form_urlencoded::Serializer::new(String::new());
    start.append_pair("resource_id", id);
    for key in ["filters", "q", "fields", "sort", "include_total", "records_format", "distinct"] {
        if let Some(v) = call.params.get(key) {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            start.append_pair(key, &text);
        }
    }
    start.append_pair("limit", &limit.to_string());
    let start = start.finish();
    let mut links = json!({ "start": format!("{}/datastore_search?{start}", call.prefix) });
    if let Some(cursor) = next {
        let mut n = form_urlencoded::Serializer::new(start.clone());
        n.append_pair("offset", &(offset + limit).to_string());
        n.append_pair("_after", cursor);
        links["next"] = json!(format!("{}/datastore_search?{}", call.prefix, n.finish()));
    }
    if offset - limit > 0 {
        links["prev"] = json!(format!("{}/datastore_search?{start}&offset={}", call.prefix, offset - limit));
    }
    links
}

/// `distinct`: the distinct rows of the fields asked, in the order read,
/// over at most `DISTINCT_SCAN` rows.
async fn search_distinct(
    call: &Call<'_>,
    id: &str,
    base: &[(String, String)],
    offset: usize,
    limit: usize,
    records_format: &str,
    include_total: bool,
) -> Result<Value, CkanError> {
    let mut seen: HashSet<String> = HashSet::new();
    let mut out: Vec<Vec<Value>> = vec![];
    let mut cursor: Option<String> = None;
    let mut scanned = 0usize;
    let mut names: Vec<String> = vec![];
    let mut schema_fields: Vec<Value> = vec![];
    loop {
        let mut pairs = base.to_vec();
        pairs.push(("limit".into(), STEP.to_string()));
        if let Some(c) = &cursor {
            pairs.push(("after".into(), c.clone()));
        }
        let p = records::read_page(call.app, call.caller, id, &pairs, Some("via=ckan&distinct=true")).await?;
        if names.is_empty() {
            names = p.page.fields.iter().map(|i| p.schema.fields[*i].spec.name.clone()).collect();
            schema_fields = p.page.fields.iter().map(|i| field_json(&p.schema.fields[*i])).collect();
        }
        scanned += p.page.records.len();
        for r in &p.page.records {
            let values: Vec<Value> = r.values.iter().map(|v| v.to_json()).collect();
            if seen.insert(serde_json::to_string(&values).unwrap_or_default()) {
                out.push(values);
            }
        }
        cursor = p.page.next;
        if cursor.is_none() {
            break;
        }
        if scanned >= DISTINCT_SCAN {
            return Err(CkanError::validation(
                "distinct",
                &format!("distinct goes through at most {DISTINCT_SCAN} rows; narrow the search with filters"),
                &format!("distinct chỉ duyệt tối đa {DISTINCT_SCAN} dòng; hãy lọc bớt"),
            ));
        }
    }
    let total = out.len();
    let records: Vec<Value> = out
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|vals| if records_format == "lists" { Value::Array(vals) } else { Value::Object(names.iter().cloned().zip(vals).collect()) })
        .collect();
    let mut result = json!({
        "resource_id": id, "limit": limit, "offset": offset, "distinct": true, "records_format": records_format,
        "fields": schema_fields, "records": records,
    });
    if include_total {
        result["total"] = json!(total);
        result["total_was_estimated"] = json!(false);
    }
    Ok(result)
}

/// `datastore_info`: the fields and the row count, for those who may read
/// the rows (the count of restricted data is itself restricted).
pub(crate) async fn info(call: &Call<'_>) -> Result<Value, CkanError> {
    let id = resource_id(call)?;
    let l = crate::usecase::datasets::show(call.app, call.caller, &id).await?;
    let Some(activity) = l.activity else {
        return Err(CkanError::NotAuthorized {
            en: format!("reading the rows of «{id}» needs a grant or default sharing"),
            vi: format!("cần được cấp quyền để đọc dữ liệu «{id}»"),
        });
    };
    // The fields this caller may see: those a one-row read returns.
    let pairs = vec![("limit".to_string(), "1".to_string())];
    let p = records::read_page(call.app, call.caller, &id, &pairs, Some("via=ckan&datastore_info")).await?;
    let fields: Vec<Value> = p.page.fields.iter().map(|i| field_json(&p.schema.fields[*i])).collect();
    Ok(json!({
        "meta": { "id": id, "count": activity.row_count, "aliases": [], "table_type": "BASE TABLE",
                  "last_modified": activity.data_updated_at.map(super::catalog::ckan_time) },
        "fields": fields,
        "schema": fields.iter().map(|f| (f["id"].as_str().unwrap_or_default().to_string(), f["type"].clone())).collect::<Map<String, Value>>(),
    }))
}

fn records_of(call: &Call<'_>) -> Result<Vec<Value>, CkanError> {
    match call.params.json("records")? {
        None => Ok(vec![]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(CkanError::validation("records", "records must be a list of dictionaries", "records phải là danh sách đối tượng")),
    }
}

fn write_result(id: &str, method: &str, summary: Value, schema: Option<&Schema>) -> Value {
    let mut r = json!({ "resource_id": id, "method": method, "summary": summary });
    if let Some(s) = schema {
        r["fields"] = json!(s.fields.iter().map(field_json).collect::<Vec<_>>());
        r["primary_key"] = json!(s.key.iter().map(|i| s.fields[*i].spec.name.clone()).collect::<Vec<_>>());
    }
    r
}

/// `datastore_create` on an existing hosted dataset: its schema is
/// chiase's (changed through the schema page or API), so `fields`, when
/// sent, must name fields it has; `records` are inserted.
pub(crate) async fn create(call: &Call<'_>) -> Result<Value, CkanError> {
    if call.params.get("resource").is_some() && call.params.get("resource_id").is_none() {
        return Err(CkanError::validation(
            "resource",
            "chiase creates datasets through /datasets/new or POST /api/v1/datasets; give resource_id of an existing dataset",
            "tạo tập dữ liệu mới qua /datasets/new hoặc POST /api/v1/datasets; hãy gửi resource_id của tập dữ liệu đã có",
        ));
    }
    let id = resource_id(call)?;
    let ds = crate::usecase::find_dataset(call.app, &id).await?;
    chiase_core::policy::decide_write(&call.caller.subject, &ds.facts()).map_err(crate::error::ApiError::from)?;
    let schema = call.app.store.schema_of(&ds)?;
    if let Some(Value::Array(fields)) = call.params.json("fields")? {
        let unknown: Vec<String> = fields
            .iter()
            .filter_map(|f| f.get("id").and_then(|v| v.as_str()))
            .filter(|n| *n != "_id" && !schema.fields.iter().any(|f| f.spec.name == *n))
            .map(str::to_string)
            .collect();
        if !unknown.is_empty() {
            return Err(CkanError::validation(
                "fields",
                &format!("not fields of the dataset: {}; change its schema first", unknown.join(", ")),
                &format!("không phải trường của tập dữ liệu: {}; hãy sửa lược đồ trước", unknown.join(", ")),
            ));
        }
    }
    let recs = records_of(call)?;
    let summary = if recs.is_empty() {
        json!({ "inserted": 0 })
    } else {
        records::write_records(call.app, call.caller, &id, ImportMode::Append, Value::Array(recs)).await?
    };
    Ok(write_result(&id, "insert", summary, Some(&schema)))
}

/// `datastore_upsert`: `method` insert, upsert (the default) or update.
pub(crate) async fn upsert(call: &Call<'_>) -> Result<Value, CkanError> {
    let id = resource_id(call)?;
    let method = call.params.text("method").unwrap_or_else(|| "upsert".into());
    if call.params.boolean("dry_run", false)? {
        return Err(CkanError::validation("dry_run", "dry_run is not supported", "chưa hỗ trợ dry_run"));
    }
    let recs = records_of(call)?;
    let summary = match method.as_str() {
        "insert" => records::write_records(call.app, call.caller, &id, ImportMode::Append, Value::Array(recs)).await?,
        "upsert" => records::merge_records(call.app, call.caller, &id, recs, false).await?,
        "update" => records::merge_records(call.app, call.caller, &id, recs, true).await?,
        other => {
            return Err(CkanError::validation(
                "method",
                &format!("«{other}» is not one of insert, upsert, update"),
                &format!("«{other}» không phải insert, upsert hoặc update"),
            ));
        }
    };
    Ok(write_result(&id, &method, summary, None))
}

/// `datastore_delete` with `filters`: the matching records end (their
/// history stays). Without filters CKAN drops the table; chiase keeps the
/// dataset and refuses, so that a missing parameter cannot empty it.
pub(crate) async fn delete(call: &Call<'_>) -> Result<Value, CkanError> {
    let id = resource_id(call)?;
    let filters = call.params.json("filters")?;
    let Some(filters) = filters.filter(|f| f.as_object().is_some_and(|m| !m.is_empty())) else {
        return Err(CkanError::validation(
            "filters",
            "filters are required: chiase does not drop a dataset through the DataStore API",
            "cần filters: không xóa cả tập dữ liệu qua API DataStore",
        ));
    };
    let ds = crate::usecase::find_dataset(call.app, &id).await?;
    chiase_core::policy::decide_write(&call.caller.subject, &ds.facts()).map_err(crate::error::ApiError::from)?;
    let mut base = vec![];
    filter_pairs(&filters, &mut base)?;
    // The keys of the matching rows, read as the steward sees them.
    let schema = call.app.store.schema_of(&ds)?;
    let mut keys = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let mut pairs = base.clone();
        pairs.push(("limit".into(), STEP.to_string()));
        if let Some(c) = &cursor {
            pairs.push(("after".into(), c.clone()));
        }
        let p = records::read_page(call.app, call.caller, &id, &pairs, Some("via=ckan&datastore_delete")).await?;
        for r in &p.page.records {
            keys.push(r.meta.key.clone());
        }
        cursor = p.page.next;
        if cursor.is_none() {
            break;
        }
    }
    if schema.key.is_empty() && keys.iter().any(|k| k.is_empty()) {
        return Err(CkanError::validation("filters", "the dataset has no primary key", "tập dữ liệu không có khóa chính"));
    }
    let deleted = if keys.is_empty() { 0 } else { records::delete_keys(call.app, call.caller, &ds, &keys).await? };
    Ok(json!({ "resource_id": id, "filters": filters, "deleted": deleted }))
}
