//! CKAN's metadata actions over the catalog: packages (catalog
//! databases) with their resources (hosted datasets), organizations
//! (agencies), groups (sharing modes), tags (cadence and collection
//! channels), `status_show`, `help_show`. A package's metadata is public,
//! like the catalog; what a resource says about its rows (count, last
//! change) only to those who may read them (`usecase::datasets::list`).
//! No package is private: `include_private` changes nothing.

use std::collections::{BTreeMap, HashMap};

use chiase_core::catalog::Cadence;
use chiase_core::fold::index_text;
use chiase_core::sharing::SharingMode;
use chiase_store::agencies::{Agency, AgencyFilter};
use chiase_store::databases::{DatabaseDetail, DatabaseKey, DatabaseQuery};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};

use super::solr::{self, Document, Expr};
use super::{Call, CkanError};
use crate::usecase::datasets::Listed;

/// The CKAN version whose API this one follows (`status_show`).
const CKAN_VERSION: &str = "2.11.5";

/// CKAN's time format: ISO 8601 with microseconds, no zone (UTC).
pub(crate) fn ckan_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

fn date_time(d: NaiveDate) -> DateTime<Utc> {
    d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

/// Export formats of a dataset: CKAN format name, extension, media type.
pub(crate) fn formats(ds: &chiase_store::datasets::Dataset) -> Vec<(&'static str, &'static str, &'static str)> {
    let mut f = vec![
        ("CSV", "csv", "text/csv"),
        ("JSON", "json", "application/json"),
        ("NDJSON", "ndjson", "application/x-ndjson"),
        ("XLSX", "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ];
    if ds.schema.fields.iter().any(|f| {
        f.geo.is_some() || matches!(f.field_type, chiase_core::schema::FieldType::Geopoint | chiase_core::schema::FieldType::Geojson)
    }) {
        f.push(("GeoJSON", "geojson", "application/geo+json"));
    }
    f
}

fn licence_title(id: &str) -> (String, Option<&'static str>, bool) {
    match id {
        "CC-BY-4.0" | "cc-by" => ("Creative Commons Attribution 4.0".into(), Some("https://creativecommons.org/licenses/by/4.0/"), true),
        "CC0-1.0" | "cc-zero" => ("Creative Commons CCZero".into(), Some("https://creativecommons.org/publicdomain/zero/1.0/"), true),
        "restricted" => ("Hạn chế — chia sẻ theo quy định (restricted)".into(), None, false),
        "" => ("Chưa ghi giấy phép (not specified)".into(), None, false),
        other => (other.to_string(), None, false),
    }
}

/// A sharing mode as a CKAN group.
fn group_json(m: SharingMode, count: Option<usize>) -> Value {
    let mut g = json!({
        "id": m.code(), "name": m.code(), "title": m.label_vi(), "display_name": m.label_vi(),
        "description": m.label_en(), "type": "group", "is_organization": false, "state": "active",
        "image_url": "", "image_display_url": "", "approval_status": "approved",
    });
    if let Some(n) = count {
        g["package_count"] = json!(n);
    }
    g
}

/// An agency as a CKAN organization.
fn organization_json(a: &Agency, count: Option<usize>) -> Value {
    let mut o = json!({
        "id": a.id, "name": a.id, "title": a.name, "display_name": a.name, "type": "organization",
        "description": a.kind, "image_url": "", "image_display_url": "", "created": ckan_time(a.created_at),
        "is_organization": true, "approval_status": "approved",
        "state": if a.status == "active" { "active" } else { "deleted" },
        "extras": [{"key": "status", "value": a.status}],
    });
    if let Some(n) = count {
        o["package_count"] = json!(n);
    }
    o
}

fn tag_json(name: &str, display: &str) -> Value {
    json!({ "id": name, "name": name, "display_name": display, "state": "active", "vocabulary_id": null })
}

/// One catalog database with everything CKAN shows of it, and the fields
/// `package_search` filters on.
pub(crate) struct Package {
    pub detail: DatabaseDetail,
    pub datasets: Vec<Listed>,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
    tags: Vec<(String, String)>,
    text: String,
}

impl Package {
    fn new(detail: DatabaseDetail, datasets: Vec<Listed>) -> Package {
        let created =
            detail.listed_in.first().map(|v| date_time(v.decision_date)).unwrap_or_else(|| date_time(detail.version.decision_date));
        // When a dataset's data last changed is told only to its readers;
        // for the others, when its description last changed.
        let modified = datasets
            .iter()
            .map(|l| l.activity.and_then(|a| a.data_updated_at).map_or(l.dataset.described_at, |d| d.max(l.dataset.described_at)))
            .chain([date_time(detail.version.decision_date)])
            .max()
            .unwrap_or(created);
        let mut tags = vec![(detail.cadence.code().to_string(), detail.cadence.label("vi").to_string())];
        for c in &detail.fields.channels {
            tags.push((c.code().to_string(), c.label("vi").to_string()));
        }
        let text = index_text(&format!(
            "{} {} {} {} {}",
            detail.name,
            detail.owner.name,
            detail.fields.description.flat(),
            tags.iter().map(|t| t.1.as_str()).collect::<Vec<_>>().join(" "),
            datasets.iter().map(|l| l.dataset.title.as_str()).collect::<Vec<_>>().join(" ")
        ));
        Package { detail, datasets, created, modified, tags, text }
    }

    fn licence(&self) -> String {
        let mut ids: Vec<&str> = self.datasets.iter().map(|l| l.dataset.licence.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        match ids.as_slice() {
            [one] => one.to_string(),
            [] => String::new(),
            _ => "other".into(),
        }
    }

    fn formats(&self) -> Vec<String> {
        let mut f: Vec<String> = self.datasets.iter().flat_map(|l| formats(&l.dataset)).map(|(n, _, _)| n.to_string()).collect();
        f.sort();
        f.dedup();
        f
    }

    /// The package dict, as `package_show` returns it.
    pub(crate) fn json(&self, base: &str, agency: Option<&Agency>) -> Value {
        let d = &self.detail;
        let licence = self.licence();
        let (licence_title, licence_url, licence_open) = licence_title(&licence);
        let resources: Vec<Value> = self.datasets.iter().enumerate().map(|(i, l)| resource_json(l, i, base)).collect();
        let contact = agency.map(|a| &a.contact);
        let organization = match agency {
            Some(a) => organization_json(a, None),
            None => {
                json!({ "id": d.owner.id, "name": d.owner.id, "title": d.owner.name, "type": "organization", "is_organization": true, "state": "active" })
            }
        };
        json!({
            "id": d.id, "name": d.id, "title": d.name, "type": "dataset", "state": "active", "private": false,
            "owner_org": d.owner.id, "organization": organization,
            "notes": d.fields.description.plain(),
            "url": format!("{base}/databases/{}", d.id),
            "version": d.version.decision_no,
            "author": d.owner.name, "author_email": null,
            "maintainer": contact.and_then(|c| c.name.clone()), "maintainer_email": contact.and_then(|c| c.email.clone()),
            "license_id": licence, "license_title": licence_title, "license_url": licence_url,
            "isopen": licence_open && d.sharing_modes.contains(&SharingMode::Open),
            "metadata_created": ckan_time(self.created), "metadata_modified": ckan_time(self.modified),
            "creator_user_id": null,
            "tags": self.tags.iter().map(|(n, l)| tag_json(n, l)).collect::<Vec<_>>(),
            "num_tags": self.tags.len(),
            "groups": d.sharing_modes.iter().map(|m| group_json(*m, None)).collect::<Vec<_>>(),
            "extras": [
                {"key": "catalog_no", "value": d.no.map(|n| n.to_string()).unwrap_or_default()},
                {"key": "decision", "value": format!("{} ({})", d.version.decision_no, d.version.decision_date.format("%d/%m/%Y"))},
                {"key": "status", "value": d.status},
                {"key": "cadence", "value": d.cadence.code()},
                {"key": "sharing_modes", "value": d.sharing_modes.iter().map(|m| m.code()).collect::<Vec<_>>().join(",")},
                {"key": "mechanism", "value": d.fields.mechanism.plain()},
            ],
            "resources": resources, "num_resources": self.datasets.len(),
            "relationships_as_object": [], "relationships_as_subject": [],
        })
    }
}

/// A hosted dataset as a CKAN resource: its rows are in the DataStore;
/// `url` downloads them as CSV, `download_urls` in every format.
pub(crate) fn resource_json(l: &Listed, position: usize, base: &str) -> Value {
    let ds = &l.dataset;
    let downloads: serde_json::Map<String, Value> = formats(ds)
        .into_iter()
        .map(|(_, ext, _)| (ext.to_string(), json!(format!("{base}/api/v1/datasets/{}/export.{ext}", ds.id))))
        .collect();
    let last_modified = l.activity.and_then(|a| a.data_updated_at).map(ckan_time);
    json!({
        "id": ds.id, "package_id": ds.database.id, "name": ds.title, "description": ds.description,
        "format": "CSV", "mimetype": "text/csv", "mimetype_inner": null,
        "url": format!("{base}/api/v1/datasets/{}/export.csv", ds.id),
        "url_type": "datastore", "datastore_active": true, "state": "active", "position": position,
        "resource_type": null, "hash": "", "size": null, "cache_url": null, "cache_last_updated": null,
        "created": ckan_time(ds.created_at),
        "last_modified": last_modified,
        "metadata_modified": ckan_time(ds.described_at.max(l.activity.and_then(|a| a.data_updated_at).unwrap_or(ds.described_at))),
        "sharing_mode": ds.sharing_mode.code(), "sharing_mode_label": ds.sharing_mode.label_vi(),
        "license_id": ds.licence, "cadence": ds.cadence.code(),
        "row_count": l.activity.map(|a| a.row_count),
        "page_url": format!("{base}/datasets/{}", ds.id),
        "download_urls": downloads,
    })
}

impl Document for Package {
    fn values(&self, field: &str) -> Option<Vec<String>> {
        let d = &self.detail;
        Some(match field {
            "id" | "name" | "name_or_id" => vec![d.id.clone()],
            "title" | "title_string" => vec![d.name.clone()],
            "organization" | "owner_org" => vec![d.owner.id.clone()],
            "groups" => d.sharing_modes.iter().map(|m| m.code().to_string()).collect(),
            "tags" => self.tags.iter().map(|t| t.0.clone()).collect(),
            "res_format" => self.formats(),
            "res_name" => self.datasets.iter().map(|l| l.dataset.title.clone()).collect(),
            "license_id" => vec![self.licence()],
            "metadata_modified" => vec![ckan_time(self.modified)],
            "metadata_created" => vec![ckan_time(self.created)],
            "capacity" => vec!["public".into()],
            "state" => vec!["active".into()],
            "type" | "dataset_type" => vec!["dataset".into()],
            "notes" | "text" => vec![self.text.clone()],
            "catalog_no" => d.no.map(|n| vec![n.to_string()]).unwrap_or_default(),
            "cadence" => vec![d.cadence.code().into()],
            "num_resources" => vec![self.datasets.len().to_string()],
            _ => return None,
        })
    }

    fn text(&self) -> &str {
        &self.text
    }
}

/// Every listed catalog database as a package, in catalog order, with the
/// datasets each holds as the caller sees them.
pub(crate) async fn packages(call: &Call<'_>) -> Result<Vec<Package>, CkanError> {
    let page = call.app.store.search_databases(&DatabaseQuery { limit: 100_000, ..Default::default() }).await?;
    let mut by_db: HashMap<String, Vec<Listed>> = HashMap::new();
    for l in crate::usecase::datasets::list(call.app, call.caller, None).await? {
        by_db.entry(l.dataset.database.id.clone()).or_default().push(l);
    }
    let mut out = Vec::with_capacity(page.results.len());
    for s in page.results {
        let Some(detail) = call.app.store.database(&DatabaseKey::Id(s.id.clone())).await? else { continue };
        let datasets = by_db.remove(&s.id).unwrap_or_default();
        out.push(Package::new(detail, datasets));
    }
    Ok(out)
}

/// One package by id or name (or catalog number), 404 otherwise.
pub(crate) async fn package(call: &Call<'_>, id: &str) -> Result<Package, CkanError> {
    let detail = call.app.store.database(&DatabaseKey::parse(id)).await?.filter(|d| d.status == "listed");
    let Some(detail) = detail else {
        let shown: String = id.chars().take(100).collect();
        return Err(CkanError::not_found(format!("Dataset «{shown}» not found"), format!("không có cơ sở dữ liệu «{shown}»")));
    };
    let key = DatabaseKey::Id(detail.id.clone());
    let datasets = crate::usecase::datasets::list(call.app, call.caller, Some(&key)).await?;
    Ok(Package::new(detail, datasets))
}

async fn agencies(call: &Call<'_>) -> Result<BTreeMap<String, Agency>, CkanError> {
    Ok(call.app.store.agencies(&AgencyFilter::default()).await?.into_iter().map(|a| (a.id.clone(), a)).collect())
}

fn required(call: &Call<'_>, key: &str) -> Result<String, CkanError> {
    call.params.text(key).filter(|s| !s.trim().is_empty()).ok_or_else(|| CkanError::validation(key, "Missing value", "thiếu giá trị"))
}

pub(crate) async fn status_show(call: &Call<'_>) -> Result<Value, CkanError> {
    Ok(json!({
        "site_title": call.app.site_name(),
        "site_description": "Kho dữ liệu dùng chung của tỉnh (chiase) — the province's shared data hub",
        "site_url": call.base,
        "error_emails_to": null,
        "locale_default": "vi",
        "extensions": ["datastore", "chiase"],
        "ckan_version": CKAN_VERSION,
        "chiase_version": env!("CARGO_PKG_VERSION"),
    }))
}

pub(crate) fn help_show(call: &Call<'_>) -> Result<Value, CkanError> {
    let name = required(call, "name")?;
    let text = match name.as_str() {
        "status_show" => "The site's title, URL, locale and the CKAN version whose API chiase follows.",
        "help_show" => "This text for an action.",
        "package_list" => "The names of every package (catalog database), by name; `limit`, `offset`.",
        "package_search" => {
            "Searches packages: `q` and `fq` (Solr syntax: field:value, -field:value, OR, AND, quoted phrases, [X TO *] ranges on \
             metadata_modified), `rows` (≤ 1000), `start`, `sort`, `facet.field`, `facet.limit`. Fields: organization, groups \
             (sharing modes), tags, res_format, license_id, name, id, metadata_modified, metadata_created."
        }
        "package_show" => "One package (catalog database) by `id` (its id or catalog number) with its resources (hosted datasets).",
        "resource_show" => "One resource (hosted dataset) by `id`.",
        "organization_list" => "The organizations (agencies); `all_fields`, `sort`, `limit`, `offset`, `q`.",
        "organization_show" => "One organization (agency) by `id`; `include_datasets`.",
        "group_list" => "The groups: the four sharing modes of the province's decision.",
        "group_show" => "One group (sharing mode) by `id`.",
        "tag_list" => "The tags: update cadences and collection channels derived from the catalog.",
        "datastore_search" => {
            "Rows of a resource the caller may read: `resource_id`, `filters`, `q`, `fields`, `sort`, `limit` (≤ 32000), `offset`, \
             `distinct`, `include_total`, `records_format`; follow `_links.next`, or merge `next_page` into `filters`."
        }
        "datastore_info" => "A resource's fields and row count, for those who may read its rows.",
        "datastore_create" => "Adds `records` to an existing hosted dataset (its schema is chiase's; `fields` must name its fields).",
        "datastore_upsert" => "Writes `records`: `method` insert, upsert (the default) or update.",
        "datastore_delete" => "Deletes the records matching `filters` (filters are required).",
        other => {
            let shown: String = other.chars().take(100).collect();
            return Err(CkanError::not_found(format!("Action function not found: {shown}"), format!("không có hành động «{shown}»")));
        }
    };
    Ok(json!(text))
}

pub(crate) async fn package_list(call: &Call<'_>) -> Result<Value, CkanError> {
    let limit = call.params.int("limit", i64::MAX, i64::MAX)? as usize;
    let offset = call.params.int("offset", 0, i64::MAX)? as usize;
    let page = call.app.store.search_databases(&DatabaseQuery { limit: 100_000, ..Default::default() }).await?;
    let mut names: Vec<String> = page.results.into_iter().map(|s| s.id).collect();
    names.sort();
    Ok(json!(names.into_iter().skip(offset).take(limit).collect::<Vec<_>>()))
}

pub(crate) async fn package_show(call: &Call<'_>) -> Result<Value, CkanError> {
    let id = call.params.text("id").or_else(|| call.params.text("name_or_id")).filter(|s| !s.trim().is_empty());
    let Some(id) = id else { return Err(CkanError::validation("id", "Missing value", "thiếu giá trị")) };
    let p = package(call, &id).await?;
    let agencies = agencies(call).await?;
    Ok(p.json(call.base, agencies.get(&p.detail.owner.id)))
}

pub(crate) async fn resource_show(call: &Call<'_>) -> Result<Value, CkanError> {
    let id = required(call, "id")?;
    let l = crate::usecase::datasets::show(call.app, call.caller, &id).await?;
    let p = package(call, &l.dataset.database.id).await?;
    let position = p.datasets.iter().position(|x| x.dataset.id == l.dataset.id).unwrap_or(0);
    Ok(resource_json(&l, position, call.base))
}

/// The parameters `package_search` knows; any other is a Search Query Error.
const SEARCH_PARAMS: &[&str] = &[
    "q",
    "fq",
    "fq_list",
    "sort",
    "rows",
    "start",
    "facet",
    "facet.field",
    "facet.limit",
    "facet.mincount",
    "include_private",
    "include_drafts",
    "include_deleted",
    "use_default_schema",
    "fl",
    "qf",
    "wt",
    "bf",
    "boost",
    "tie",
    "defType",
    "mm",
    "q.op",
    "callback",
    "_",
];

fn parse_query(text: &str) -> Result<Expr, CkanError> {
    solr::parse(text).map_err(|e| CkanError::SearchQuery(e.0))
}

pub(crate) async fn package_search(call: &Call<'_>) -> Result<Value, CkanError> {
    let unknown: Vec<&str> = call.params.keys().filter(|k| !SEARCH_PARAMS.contains(k) && !k.starts_with("ext_")).collect();
    if !unknown.is_empty() {
        return Err(CkanError::SearchQuery(format!("Invalid search parameters: {unknown:?}")));
    }
    let rows = call.params.int("rows", 10, 1000)? as usize;
    let start = call.params.int("start", 0, i64::MAX)? as usize;
    let q = call.params.text("q").unwrap_or_default();
    let mut filters = vec![];
    if let Some(fq) = call.params.text("fq") {
        filters.push(parse_query(&fq)?);
    }
    for fq in call.params.list("fq_list")? {
        filters.push(parse_query(&fq)?);
    }
    let query = parse_query(&q)?;
    // Free text alone is ranked by the catalog's own search (folded,
    // abbreviations expanded, BM25); fielded queries are matched here.
    let free_text = is_free_text(&query).then_some(q.trim()).filter(|q| !q.is_empty() && *q != "*:*");
    let ranked: Option<HashMap<String, usize>> = match free_text {
        Some(q) => {
            let page =
                call.app.store.search_databases(&DatabaseQuery { q: Some(q.to_string()), limit: 100_000, ..Default::default() }).await?;
            Some(page.results.into_iter().enumerate().map(|(i, s)| (s.id, i)).collect())
        }
        None => None,
    };
    let mut matched = vec![];
    for p in packages(call).await? {
        let hit = match &ranked {
            Some(r) => r.contains_key(&p.detail.id),
            None => solr::matches(&query, &p).map_err(|e| CkanError::SearchQuery(e.0))?,
        };
        let mut keep = hit;
        for f in &filters {
            keep = keep && solr::matches(f, &p).map_err(|e| CkanError::SearchQuery(e.0))?;
        }
        if keep {
            matched.push(p);
        }
    }
    let sort = call.params.text("sort").unwrap_or_else(|| "score desc, metadata_modified desc".into());
    sort_packages(&mut matched, &sort, ranked.as_ref())?;
    let facet_fields = if call.params.boolean("facet", true)? { call.params.list("facet.field")? } else { vec![] };
    let facet_limit = match call.params.get("facet.limit") {
        Some(v) if v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).is_some_and(|n: i64| n < 0) => usize::MAX,
        _ => call.params.int("facet.limit", 50, 100_000)? as usize,
    };
    let agencies = agencies(call).await?;
    let (facets, search_facets) = facet(&matched, &facet_fields, facet_limit, &agencies)?;
    let count = matched.len();
    let results: Vec<Value> = matched.iter().skip(start).take(rows).map(|p| p.json(call.base, agencies.get(&p.detail.owner.id))).collect();
    Ok(json!({ "count": count, "sort": sort, "facets": facets, "search_facets": search_facets, "results": results }))
}

fn is_free_text(e: &Expr) -> bool {
    match e {
        Expr::All => true,
        Expr::Term(None, solr::Match::Text(_)) => true,
        Expr::And(parts) => parts.iter().all(|p| matches!(p, Expr::Term(None, solr::Match::Text(_)))),
        _ => false,
    }
}

fn sort_packages(ps: &mut [Package], sort: &str, ranked: Option<&HashMap<String, usize>>) -> Result<(), CkanError> {
    let mut keys: Vec<(String, bool)> = vec![];
    for part in sort.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut it = part.split_whitespace();
        let field = it.next().unwrap_or_default().to_string();
        let desc = match it.next().map(str::to_ascii_lowercase).as_deref() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(other) => return Err(CkanError::SearchQuery(format!("Can't determine the sort order: {other}"))),
        };
        if !matches!(
            field.as_str(),
            "score" | "id" | "name" | "title" | "title_string" | "metadata_modified" | "metadata_created" | "catalog_no" | "num_resources"
        ) {
            return Err(CkanError::SearchQuery(format!("can not sort on field: {field}")));
        }
        keys.push((field, desc));
    }
    ps.sort_by(|a, b| {
        for (field, desc) in &keys {
            let o = match field.as_str() {
                // Score: the catalog search's rank (best first), else catalog order.
                "score" => {
                    let rank = |p: &Package| ranked.and_then(|r| r.get(&p.detail.id).copied()).unwrap_or(0);
                    rank(b).cmp(&rank(a))
                }
                "id" | "name" => a.detail.id.cmp(&b.detail.id),
                "title" | "title_string" => a.detail.name.cmp(&b.detail.name),
                "metadata_modified" => a.modified.cmp(&b.modified),
                "metadata_created" => a.created.cmp(&b.created),
                "num_resources" => a.datasets.len().cmp(&b.datasets.len()),
                _ => a.detail.no.cmp(&b.detail.no),
            };
            let o = if *desc { o.reverse() } else { o };
            if o.is_ne() {
                return o;
            }
        }
        a.detail.no.cmp(&b.detail.no).then_with(|| a.detail.id.cmp(&b.detail.id))
    });
    Ok(())
}

type Facets = (serde_json::Map<String, Value>, serde_json::Map<String, Value>);

fn facet(ps: &[Package], fields: &[String], limit: usize, agencies: &BTreeMap<String, Agency>) -> Result<Facets, CkanError> {
    let mut facets = serde_json::Map::new();
    let mut search_facets = serde_json::Map::new();
    for field in fields {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for p in ps {
            let values = p.values(field).ok_or_else(|| CkanError::SearchQuery(format!("undefined field {field}")))?;
            let mut values = values;
            values.sort();
            values.dedup();
            for v in values {
                *counts.entry(v).or_default() += 1;
            }
        }
        let display = |v: &str| -> String {
            match field.as_str() {
                "organization" | "owner_org" => agencies.get(v).map(|a| a.name.clone()).unwrap_or_else(|| v.to_string()),
                "groups" => v.parse::<SharingMode>().map(|m| m.label_vi().to_string()).unwrap_or_else(|_| v.to_string()),
                "tags" => tag_label(v),
                _ => v.to_string(),
            }
        };
        let mut by_count: Vec<(String, usize)> = counts.into_iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        by_count.truncate(limit);
        facets.insert(field.clone(), Value::Object(by_count.iter().map(|(v, n)| (v.clone(), json!(n))).collect()));
        let mut items: Vec<Value> = by_count.iter().map(|(v, n)| json!({ "name": v, "display_name": display(v), "count": n })).collect();
        // CKAN lists them by display name, descending.
        items.sort_by(|a, b| b["display_name"].as_str().cmp(&a["display_name"].as_str()));
        search_facets.insert(field.clone(), json!({ "title": field, "items": items }));
    }
    Ok((facets, search_facets))
}

fn tag_label(code: &str) -> String {
    if let Ok(c) = code.parse::<Cadence>() {
        return c.label("vi").to_string();
    }
    chiase_core::catalog::Channel::ALL
        .iter()
        .find(|c| c.code() == code)
        .map(|c| c.label("vi").to_string())
        .unwrap_or_else(|| code.to_string())
}

pub(crate) async fn organization_list(call: &Call<'_>) -> Result<Value, CkanError> {
    let all_fields = call.params.boolean("all_fields", false)?;
    let max = if all_fields { 25 } else { 1000 };
    let limit = call.params.int("limit", max, max)? as usize;
    let offset = call.params.int("offset", 0, i64::MAX)? as usize;
    let q = call.params.text("q").map(|q| chiase_core::fold::fold(&q));
    let wanted = call.params.list("organizations")?;
    let mut orgs: Vec<Agency> = agencies(call).await?.into_values().collect();
    orgs.retain(|a| {
        q.as_ref().is_none_or(|q| chiase_core::fold::fold(&a.name).contains(q.as_str()) || a.id.contains(q.as_str()))
            && (wanted.is_empty() || wanted.contains(&a.id))
    });
    sort_named(&mut orgs, &call.params.text("sort").unwrap_or_else(|| "title asc".into()), |a| {
        (a.id.clone(), a.name.clone(), a.database_count)
    })?;
    let page = orgs.iter().skip(offset).take(limit);
    Ok(if all_fields {
        json!(page.map(|a| organization_json(a, Some(a.database_count as usize))).collect::<Vec<_>>())
    } else {
        json!(page.map(|a| a.id.clone()).collect::<Vec<_>>())
    })
}

/// Sorts by `name`, `title` or `package_count`, `asc` or `desc`.
fn sort_named<T>(items: &mut [T], sort: &str, key: impl Fn(&T) -> (String, String, i64)) -> Result<(), CkanError> {
    let mut it = sort.split_whitespace();
    let field = it.next().unwrap_or("title");
    let desc = matches!(it.next(), Some(d) if d.eq_ignore_ascii_case("desc"));
    if !matches!(field, "name" | "title" | "package_count") {
        return Err(CkanError::validation(
            "sort",
            &format!("cannot sort by field «{field}»"),
            "chỉ sắp xếp theo name, title hoặc package_count",
        ));
    }
    items.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        let o = match field {
            "name" => ka.0.cmp(&kb.0),
            "package_count" => ka.2.cmp(&kb.2),
            _ => chiase_core::fold::fold(&ka.1).cmp(&chiase_core::fold::fold(&kb.1)),
        };
        if desc { o.reverse() } else { o }
    });
    Ok(())
}

pub(crate) async fn organization_show(call: &Call<'_>) -> Result<Value, CkanError> {
    let id = required(call, "id")?;
    let Some(detail) = call.app.store.agency(&id).await? else {
        let shown: String = id.chars().take(100).collect();
        return Err(CkanError::not_found(format!("Organization «{shown}» not found"), format!("không có cơ quan «{shown}»")));
    };
    let a = &detail.agency;
    let mut o = organization_json(a, Some(detail.databases.len()));
    o["users"] = json!([]);
    o["groups"] = json!([]);
    o["tags"] = json!([]);
    o["num_followers"] = json!(0);
    o["contact"] = json!({ "name": a.contact.name, "position": a.contact.position, "email": a.contact.email, "phone": a.contact.phone });
    if call.params.boolean("include_datasets", false)? {
        let ids: Vec<String> = detail.databases.iter().map(|d| d.id.clone()).collect();
        let agencies = agencies(call).await?;
        let mut packages = vec![];
        for id in ids.iter().take(10) {
            let p = package(call, id).await?;
            packages.push(p.json(call.base, agencies.get(&p.detail.owner.id)));
        }
        o["packages"] = json!(packages);
    }
    Ok(o)
}

pub(crate) async fn group_list(call: &Call<'_>) -> Result<Value, CkanError> {
    let all_fields = call.params.boolean("all_fields", false)?;
    let page = call.app.store.search_databases(&DatabaseQuery { limit: 0, ..Default::default() }).await?;
    let count = |m: SharingMode| page.facets.sharing.iter().find(|f| f.value == m.code()).map(|f| f.count as usize).unwrap_or(0);
    let mut groups: Vec<SharingMode> = SharingMode::ALL.to_vec();
    sort_named(&mut groups, &call.params.text("sort").unwrap_or_else(|| "name asc".into()), |m| {
        (m.code().to_string(), m.label_vi().to_string(), count(*m) as i64)
    })?;
    Ok(if all_fields {
        json!(groups.iter().map(|m| group_json(*m, Some(count(*m)))).collect::<Vec<_>>())
    } else {
        json!(groups.iter().map(|m| m.code()).collect::<Vec<_>>())
    })
}

pub(crate) async fn group_show(call: &Call<'_>) -> Result<Value, CkanError> {
    let id = required(call, "id")?;
    let Ok(mode) = id.parse::<SharingMode>() else {
        let shown: String = id.chars().take(100).collect();
        return Err(CkanError::not_found(format!("Group «{shown}» not found"), format!("không có nhóm «{shown}»")));
    };
    let page = call.app.store.search_databases(&DatabaseQuery { limit: 0, sharing: vec![mode], ..Default::default() }).await?;
    Ok(group_json(mode, Some(page.count as usize)))
}

pub(crate) async fn tag_list(call: &Call<'_>) -> Result<Value, CkanError> {
    let q = call.params.text("query").or_else(|| call.params.text("q")).map(|q| chiase_core::fold::fold(&q));
    if call.params.text("vocabulary_id").is_some() {
        return Ok(json!([]));
    }
    let mut tags: Vec<(String, String)> = Cadence::ALL.iter().map(|c| (c.code().to_string(), c.label("vi").to_string())).collect();
    tags.extend(chiase_core::catalog::Channel::ALL.iter().map(|c| (c.code().to_string(), c.label("vi").to_string())));
    // Only tags some package carries.
    let used: std::collections::HashSet<String> = packages(call).await?.into_iter().flat_map(|p| p.tags.into_iter().map(|t| t.0)).collect();
    tags.retain(|(code, label)| {
        used.contains(code) && q.as_ref().is_none_or(|q| code.contains(q.as_str()) || chiase_core::fold::fold(label).contains(q.as_str()))
    });
    tags.sort();
    Ok(if call.params.boolean("all_fields", false)? {
        json!(tags.iter().map(|(n, l)| tag_json(n, l)).collect::<Vec<_>>())
    } else {
        json!(tags.iter().map(|t| t.0.clone()).collect::<Vec<_>>())
    })
}
