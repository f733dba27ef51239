//! `/datasets/{id}`: one hosted dataset as a citizen sees it: what it is,
//! its licence and a citation line, its fields, a grid of its rows over the
//! record API (a filter per column, sort, keyset paging, the record
//! facets), download links for the view, and the same view as a `curl` and
//! a Python call. Every row comes through the policy decision point, as on
//! the API: a restricted dataset shows its description and how to ask.

use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use chiase_core::schema::{Field, FieldType, Schema, Value};
use chrono::Utc;

use super::catalog::{error_page, who};
use super::{Tr, origin, query_string};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::state::AppState;
use crate::usecase::settings::tile_origin;
use crate::usecase::{datasets, records};

/// Rows on a page of the grid.
const GRID_ROWS: usize = 50;

/// Parameters the page itself takes (the rest go to the record query).
const PAGE_PARAMS: &[&str] = &["lang"];

struct Column {
    title: String,
    /// Sort links: ascending and descending, with the filters kept.
    sort_asc: String,
    sort_desc: String,
    /// `asc`, `desc` or empty.
    sorted: &'static str,
    /// The filter's parameter (`ten[contains]`, `nam`) and current value.
    filter_key: String,
    filter_value: String,
    numeric: bool,
}

struct FieldRow {
    name: String,
    title: String,
    kind: &'static str,
    personal: &'static str,
    required: bool,
    description: String,
}

struct FacetView {
    title: String,
    values: Vec<(String, i64, String)>,
}

struct Download {
    label: &'static str,
    href: String,
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "dataset.html")]
struct DatasetPage {
    tr: Tr,
    who: Option<super::Who>,
    session_csrf: String,
    lang_href: String,
    id: String,
    title: String,
    description: String,
    database_href: String,
    database_name: String,
    owner: String,
    owner_id: String,
    sharing_code: &'static str,
    sharing: &'static str,
    licence: String,
    cadence: &'static str,
    updated: Option<String>,
    rows: Option<i64>,
    citation: String,
    fields: Vec<FieldRow>,
    /// `None`: the caller may not read the rows (the reason in `denied`).
    grid: Option<Grid>,
    denied: Option<String>,
    /// The harvest source its rows come from: read-only here.
    harvested_from: Option<String>,
    /// The reader may upload files to it (a steward of the owner).
    can_upload: bool,
    /// The reader may edit its description (a steward of the owner).
    can_edit: bool,
    /// Its database's DCAT description, `/dataset/{database}` (`.ttl`…).
    dcat_href: String,
    /// Its theme, and whether it is only the proposal from the owner's name.
    theme: Option<(&'static str, bool)>,
}

struct Grid {
    columns: Vec<Column>,
    /// Each row's cells: the text, and whether it is a number (aligned right).
    cells: Vec<Vec<(String, bool)>>,
    total: i64,
    total_exact: bool,
    next_href: Option<String>,
    first_href: Option<String>,
    clear_href: String,
    facets: Vec<FacetView>,
    downloads: Vec<Download>,
    curl: String,
    python: String,
    hidden: Vec<(String, String)>,
    /// A column filter is set (the filter boxes start open).
    filtering: bool,
    /// For a dataset with points the reader may see: what the map draws.
    map: Option<MapView>,
}

/// What the map script needs (data attributes of `#map`).
struct MapView {
    /// The record API for the view, with only the fields the map shows.
    records: String,
    /// The latitude and longitude fields, or one geopoint field.
    lat: String,
    lon: String,
    point: String,
    /// The field named in a point's popup.
    label: String,
    tiles: String,
    /// The province's outline (`map_outline`), drawn under the points.
    outline: bool,
}

/// The map of a view, when the reader sees a point of it: lat and lon
/// fields or a geopoint field among the visible ones; the popup names the
/// first visible text field.
fn map_view(app: &AppState, schema: &Schema, visible: &[usize], id: &str, view: &[(String, String)]) -> Option<MapView> {
    let name = |i: usize| schema.fields[i].spec.name.clone();
    let (lat, lon, point) = match schema.point {
        Some((la, lo)) if visible.contains(&la) && visible.contains(&lo) => (name(la), name(lo), String::new()),
        _ => {
            let p = visible.iter().find(|i| schema.fields[**i].spec.field_type == FieldType::Geopoint)?;
            (String::new(), String::new(), name(*p))
        }
    };
    let label = visible
        .iter()
        .find(|i| schema.fields[**i].spec.field_type == FieldType::String && !schema.key.contains(i))
        .or_else(|| visible.first())
        .map(|i| name(*i))
        .unwrap_or_default();
    let fields: Vec<&str> = [lat.as_str(), lon.as_str(), point.as_str(), label.as_str()].into_iter().filter(|f| !f.is_empty()).collect();
    // The view's filters, without its paging, sort or projection.
    let mut p: Vec<(&str, String)> =
        view.iter().filter(|(k, _)| !matches!(k.as_str(), "sort" | "fields" | "bbox")).map(|(k, v)| (k.as_str(), v.clone())).collect();
    p.push(("fields", fields.join(",")));
    Some(MapView {
        records: format!("/api/v1/datasets/{id}/records{}", query_string(&p)),
        lat,
        lon,
        point,
        label,
        tiles: app.map_tiles().unwrap_or_default(),
        outline: app.map_outline.is_some(),
    })
}

/// A value as a person reads it: dates dd/mm/yyyy in Vietnamese, numbers
/// with the Vietnamese marks, yes/no in words.
fn cell(tr: Tr, f: &Field, key: bool, v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Text(s) => s.clone(),
        Value::Int(i) if key || f.spec.field_type == FieldType::Year => i.to_string(),
        Value::Int(i) => grouped(&i.to_string(), tr),
        Value::Num(x) => {
            let text = chiase_core::schema::format_number(*x);
            let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
            let int = grouped(int, tr);
            match (frac.is_empty(), tr.is_en()) {
                (true, _) => int,
                (false, true) => format!("{int}.{frac}"),
                (false, false) => format!("{int},{frac}"),
            }
        }
        Value::Bool(b) => (if *b { tr.t("Có", "Yes") } else { tr.t("Không", "No") }).to_string(),
        Value::Date(d) => tr.date(d),
        Value::DateTime(t) => {
            if tr.is_en() {
                t.format("%Y-%m-%d %H:%M UTC").to_string()
            } else {
                t.format("%d/%m/%Y %H:%M UTC").to_string()
            }
        }
        Value::Point(lon, lat) => format!("{lat}, {lon}"),
        Value::Geo(..) => tr.t("(hình học)", "(geometry)").to_string(),
    }
}

/// Digits grouped by threes: `1.234.567` in Vietnamese, `1,234,567` in English.
fn grouped(digits: &str, tr: Tr) -> String {
    let (sign, digits) = digits.strip_prefix('-').map_or(("", digits), |d| ("-", d));
    let sep = if tr.is_en() { ',' } else { '.' };
    let mut out = String::from(sign);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

/// The filter a column's box sets: a word within text, the value itself
/// otherwise.
fn filter_key(f: &Field) -> String {
    match f.spec.field_type {
        FieldType::String => format!("{}[contains]", f.spec.name),
        _ => f.spec.name.clone(),
    }
}

pub async fn dataset(
    State(app): State<AppState>,
    tr: Tr,
    caller: Result<Caller, ApiError>,
    ApiPath(id): ApiPath<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, Response> {
    // A page is read as the public when the session has expired, as the catalog's are.
    let caller = caller.unwrap_or_else(|_| Caller::anonymous(None));
    let listed = datasets::show(&app, &caller, &id).await.map_err(|e| error_page(tr, e))?;
    let ds = &listed.dataset;
    // Its RDF is its database's description, which lists it as distributions.
    if let Some(rdf) = super::dcat::negotiated(&app, &headers, &ds.database.id).await {
        return Ok(rdf);
    }
    let schema = app.store.schema_of(ds).map_err(|e| error_page(tr, e.into()))?;
    let lang = tr.lang;
    // The record query: every pair but the page's own, empty boxes dropped.
    let pairs: Vec<(String, String)> =
        crate::params::pairs(&uri).into_iter().filter(|(k, v)| !PAGE_PARAMS.contains(&k.as_str()) && !v.trim().is_empty()).collect();
    let (who, session_csrf) = who(&app, Some(&caller)).await;
    let mut grid = None;
    let mut denied = None;
    if listed.activity.is_some() {
        grid = Some(grid_of(&app, &caller, tr, &schema, &id, &pairs, &origin(&headers)).await.map_err(|e| error_page(tr, e))?);
    } else {
        denied = Some(
            tr.t(
                "Dữ liệu của tập này chỉ được chia sẻ cho cơ quan nhà nước hoặc theo yêu cầu được duyệt. Hãy đăng nhập bằng tài khoản của cơ quan; nếu cơ quan chưa được chia sẻ, hãy gửi yêu cầu khai thác tới cơ quan chủ quản.",
                "This dataset's rows are shared with state agencies or on an approved request. Sign in with your agency's account; if your agency has no access yet, send a request to the owner agency.",
            )
            .to_string(),
        );
    }
    let title = tr.title(&ds.title, ds.title_en.as_deref());
    let page_url = format!("/datasets/{}", ds.id);
    let today = tr.date(&Utc::now().date_naive());
    let citation = format!(
        "{owner}. «{title}». {site}, {origin}{url}. {accessed} {today}.",
        owner = ds.owner.name,
        site = tr.site,
        origin = origin(&headers),
        url = page_url,
        accessed = tr.t("Truy cập ngày", "Accessed"),
    );
    let fields = schema
        .fields
        .iter()
        .map(|f| FieldRow {
            name: f.spec.name.clone(),
            title: f.spec.title.clone().unwrap_or_else(|| f.spec.name.clone()),
            kind: f.spec.field_type.label(lang),
            personal: f.spec.personal.label(lang),
            required: f.spec.constraints.required,
            description: f.spec.description.clone().unwrap_or_default(),
        })
        .collect();
    let mut lang_pairs: Vec<(&str, String)> = pairs.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    lang_pairs.push(("lang", tr.other().to_string()));
    let page = DatasetPage {
        tr,
        who,
        session_csrf,
        lang_href: format!("{page_url}{}", query_string(&lang_pairs)),
        id: ds.id.clone(),
        description: ds.description.clone(),
        database_href: format!("/databases/{}", ds.database.id),
        database_name: ds.database.name.clone(),
        owner: ds.owner.name.clone(),
        owner_id: ds.owner.id.clone(),
        sharing_code: ds.sharing_mode.code(),
        sharing: ds.sharing_mode.label(lang),
        licence: ds.licence.clone(),
        cadence: ds.cadence.label(lang),
        updated: listed.activity.as_ref().and_then(|a| a.data_updated_at).map(|t| tr.date(&t.date_naive())),
        rows: listed.activity.as_ref().map(|a| a.row_count),
        citation,
        title,
        fields,
        grid,
        denied,
        harvested_from: ds.harvested_from.clone(),
        can_upload: caller.user.is_some() && chiase_core::policy::decide_write(&caller.subject, &ds.facts()).is_ok(),
        can_edit: caller.user.is_some() && chiase_core::policy::decide_edit_dataset(&caller.subject, &ds.facts()).is_ok(),
        dcat_href: format!("/dataset/{}", ds.database.id),
        theme: match ds.theme {
            Some(t) => Some((t.label(lang), false)),
            None => chiase_core::theme::propose(&ds.owner.name).map(|t| (t.label(lang), true)),
        },
    };
    let mut response = super::dcat::vary_accept(page.into_response());
    // Tiles from the province's own server are images from another origin.
    if let Some(origin) = app.map_tiles().as_deref().and_then(tile_origin)
        && let Ok(v) = axum::http::HeaderValue::from_str(
            &crate::app::CONTENT_SECURITY_POLICY.replace("img-src 'self' data:", &format!("img-src 'self' data: {origin}")),
        )
    {
        response.headers_mut().insert(axum::http::header::CONTENT_SECURITY_POLICY, v);
    }
    Ok(response)
}

/// The grid of the view `pairs` asks for, with its links.
async fn grid_of(
    app: &AppState,
    caller: &Caller,
    tr: Tr,
    schema: &Schema,
    id: &str,
    pairs: &[(String, String)],
    origin: &str,
) -> Result<Grid, ApiError> {
    let mut query: Vec<(String, String)> = pairs.iter().filter(|(k, _)| k != "limit" && k != "facet").cloned().collect();
    query.push(("limit".into(), GRID_ROWS.to_string()));
    // Facets for the fields with a short list of allowed values, among
    // those the reader may see (a facet of a hidden field is refused).
    let ds = crate::usecase::find_dataset_for_read(app, id).await?;
    let permit = crate::usecase::read_permit(app, caller, &ds).await?;
    let faceted: Vec<&Field> = permit
        .visible()
        .iter()
        .map(|i| &schema.fields[*i])
        .filter(|f| f.spec.constraints.enum_values.as_ref().is_some_and(|v| v.len() <= 20) || f.spec.field_type == FieldType::Boolean)
        .take(4)
        .collect();
    for f in &faceted {
        query.push(("facet".into(), f.spec.name.clone()));
    }
    let qs = form_urlencoded::Serializer::new(String::new()).extend_pairs(query.iter()).finish();
    let page = records::read_page(app, caller, id, &query, Some(&qs)).await?;
    let lang_pair = || if tr.is_en() { vec![("lang".to_string(), "en".to_string())] } else { vec![] };
    // The view without paging: what sort and filter links keep.
    let view: Vec<(String, String)> = pairs.iter().filter(|(k, _)| k != "after").cloned().collect();
    let href = |extra: &[(String, String)], drop: &dyn Fn(&str) -> bool| {
        let mut p: Vec<(&str, String)> = view.iter().filter(|(k, _)| !drop(k)).map(|(k, v)| (k.as_str(), v.clone())).collect();
        p.extend(extra.iter().map(|(k, v)| (k.as_str(), v.clone())));
        let lp = lang_pair();
        p.extend(lp.iter().map(|(k, v)| (k.as_str(), v.clone())));
        format!("/datasets/{id}{}", query_string(&p))
    };
    let sorted_by = view.iter().find(|(k, _)| k == "sort").map(|(_, v)| v.clone()).unwrap_or_default();
    let visible: Vec<&Field> = page.page.fields.iter().map(|i| &page.schema.fields[*i]).collect();
    let columns = visible
        .iter()
        .map(|f| {
            let name = f.spec.name.clone();
            let key = filter_key(f);
            let sort = |v: String| href(&[("sort".into(), v)], &|k| k == "sort");
            Column {
                title: f.spec.title.clone().unwrap_or_else(|| name.clone()),
                sort_asc: sort(name.clone()),
                sort_desc: sort(format!("-{name}")),
                sorted: if sorted_by == name {
                    "asc"
                } else if sorted_by == format!("-{name}") {
                    "desc"
                } else {
                    ""
                },
                filter_value: view.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone()).unwrap_or_default(),
                filter_key: key,
                numeric: matches!(f.spec.field_type, FieldType::Integer | FieldType::Number),
            }
        })
        .collect();
    let key_fields: Vec<usize> = page.schema.key.clone();
    let cells = page
        .page
        .records
        .iter()
        .map(|r| {
            page.page
                .fields
                .iter()
                .zip(&r.values)
                .map(|(i, v)| {
                    let f = &page.schema.fields[*i];
                    (cell(tr, f, key_fields.contains(i), v), matches!(v, Value::Int(_) | Value::Num(_)))
                })
                .collect()
        })
        .collect();
    let facets = page
        .page
        .facets
        .iter()
        .map(|(i, values)| {
            let f = &page.schema.fields[*i];
            FacetView {
                title: f.spec.title.clone().unwrap_or_else(|| f.spec.name.clone()),
                values: values
                    .iter()
                    .map(|(v, n)| {
                        // Rows without a value are a facet of their own.
                        let (key, value, label) = match v {
                            Value::Null => (format!("{}[null]", f.spec.name), "true".to_string(), tr.t("(trống)", "(empty)").to_string()),
                            v => (f.spec.name.clone(), v.key_text(), cell(tr, f, false, v)),
                        };
                        let link = href(&[(key, value)], &|k| k.split('[').next() == Some(f.spec.name.as_str()));
                        (label, *n, link)
                    })
                    .collect(),
            }
        })
        .collect();
    // Downloads and API calls of the view (paging aside).
    let export_query = |extra: &[(&str, &str)]| {
        let mut p: Vec<(&str, String)> = view.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        p.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        query_string(&p)
    };
    let mut downloads = vec![
        Download { label: "CSV (Excel)", href: format!("/api/v1/datasets/{id}/export.csv{}", export_query(&[("bom", "true")])) },
        Download { label: "XLSX", href: format!("/api/v1/datasets/{id}/export.xlsx{}", export_query(&[])) },
        Download { label: "JSON", href: format!("/api/v1/datasets/{id}/export.json{}", export_query(&[])) },
        Download { label: "NDJSON", href: format!("/api/v1/datasets/{id}/export.ndjson{}", export_query(&[])) },
    ];
    if page.schema.point.is_some()
        || page.schema.fields.iter().any(|f| matches!(f.spec.field_type, FieldType::Geopoint | FieldType::Geojson))
    {
        downloads.push(Download { label: "GeoJSON", href: format!("/api/v1/datasets/{id}/export.geojson{}", export_query(&[])) });
    }
    let api_path = format!("/api/v1/datasets/{id}/records{}", export_query(&[]));
    let next_href = page.page.next.as_ref().map(|c| href(&[("after".into(), c.clone())], &|k| k == "after"));
    let first_href = pairs.iter().any(|(k, _)| k == "after").then(|| href(&[], &|_| false));
    let hidden = view.iter().filter(|(k, _)| k == "sort" || k == "q").cloned().chain(lang_pair()).collect();
    let filtering = view.iter().any(|(k, _)| k != "sort" && k != "q");
    let map = map_view(app, &page.schema, &page.page.fields, id, &view);
    Ok(Grid {
        map,
        filtering,
        columns,
        cells,
        total: page.page.total,
        total_exact: page.page.total_exact,
        next_href,
        first_href,
        clear_href: tr.link(&format!("/datasets/{id}")),
        facets,
        downloads,
        curl: format!("curl '{origin}{api_path}'"),
        python: format!(
            "import requests\n\nr = requests.get(\"{origin}{api_path}\")\nr.raise_for_status()\nfor record in r.json()[\"records\"]:\n    print(record)"
        ),
        hidden,
    })
}
