//! `/datasets/new`: a steward creates a dataset in one of its agency's
//! catalog databases, starting from a template of that database or from a
//! sample file whose columns chiase reads and proposes a schema for. The
//! proposal is shown as a table to review and edit (titles, types,
//! required, personal data) before anything is created; creating goes
//! through the same use case and policy as `POST /api/v1/datasets`, and
//! then the steward is sent to the upload page.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chiase_core::catalog::Cadence;
use chiase_core::policy::decide_create_dataset;
use chiase_core::schema::{FieldSpec, FieldType, PersonalClass, SchemaSpec};
use chiase_core::sharing::SharingMode;
use chiase_io::tabular::ReadOptions;
use chiase_store::databases::{DatabaseKey, DatabaseQuery, DatabaseSummary};

use super::catalog::{error_page, who};
use super::{Tr, field, read_form, read_upload, sent_value};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::usecase::datasets::{self, CreateDataset};

/// Rows of a sample read to propose a schema.
const SAMPLE_ROWS: usize = 1000;
const MAX_FORM_BYTES: usize = 256 * 1024;

pub(super) const TYPES: [FieldType; 9] = [
    FieldType::String,
    FieldType::Integer,
    FieldType::Number,
    FieldType::Boolean,
    FieldType::Date,
    FieldType::Datetime,
    FieldType::Year,
    FieldType::Geopoint,
    FieldType::Geojson,
];
pub(super) const PERSONAL: [PersonalClass; 3] = [PersonalClass::None, PersonalClass::Basic, PersonalClass::Sensitive];

struct DatabaseChoice {
    id: String,
    label: String,
    templates: Vec<(String, String)>,
}

struct FieldRow {
    name: String,
    title: String,
    kind: &'static str,
    required: bool,
    personal: &'static str,
    /// What the sample showed (an example value), when proposed from a file.
    note: String,
}

/// The dataset being described, as the form carries it.
#[derive(Default)]
struct Draft {
    database: String,
    template: String,
    id: String,
    title: String,
    title_en: String,
    description: String,
    licence: String,
    sharing: String,
    cadence: String,
    /// The proposed schema, as JSON: what the field rows edit.
    schema: String,
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "dataset_new.html")]
struct NewPage {
    tr: Tr,
    who: Option<super::Who>,
    session_csrf: String,
    lang_href: String,
    databases: Vec<DatabaseChoice>,
    /// `None`: step one (choose where and how to start); else the proposal to review.
    draft: Option<Draft>,
    fields: Vec<FieldRow>,
    modes: Vec<(&'static str, &'static str)>,
    cadences: Vec<(&'static str, &'static str)>,
    types: Vec<(&'static str, &'static str)>,
    personal: Vec<(&'static str, &'static str)>,
    warnings: Vec<String>,
    error: Option<String>,
}

/// The catalog databases the caller's agency owns (where it may create datasets).
async fn our_databases(app: &AppState, caller: &Caller) -> Result<Vec<DatabaseSummary>, ApiError> {
    let Some(agency) = caller.subject.state_agency() else { return Ok(Vec::new()) };
    if decide_create_dataset(&caller.subject, agency).is_err() {
        return Ok(Vec::new());
    }
    let Some(us) = app.store.agency_ref(agency).await? else { return Ok(Vec::new()) };
    let q = DatabaseQuery { agencies: vec![us.id], limit: 100, ..Default::default() };
    Ok(app.store.search_databases(&q).await?.results)
}

async fn base_page(app: &AppState, tr: Tr, caller: &Caller) -> Result<NewPage, ApiError> {
    let ours = our_databases(app, caller).await?;
    let templates = chiase_io::templates::all();
    let databases = ours
        .iter()
        .map(|d| DatabaseChoice {
            id: d.id.clone(),
            label: match d.no {
                Some(n) => format!("{n}. {}", d.name),
                None => d.name.clone(),
            },
            templates: templates
                .iter()
                .filter(|t| Some(t.database_no) == d.no)
                .map(|t| (t.template.clone(), tr.title(&t.title, Some(&t.title_en))))
                .collect(),
        })
        .collect();
    let (who, session_csrf) = who(app, Some(caller)).await;
    Ok(NewPage {
        tr,
        who,
        session_csrf,
        lang_href: format!("/datasets/new?lang={}", tr.other()),
        databases,
        draft: None,
        fields: Vec::new(),
        modes: Vec::new(),
        cadences: Cadence::ALL.iter().map(|c| (c.code(), c.label(tr.lang))).collect(),
        types: TYPES.iter().map(|t| (type_code(*t), t.label(tr.lang))).collect(),
        personal: PERSONAL.iter().map(|p| (personal_code(*p), p.label(tr.lang))).collect(),
        warnings: Vec::new(),
        error: None,
    })
}

/// A type's name in Table Schema (what the form sends back).
pub(super) fn type_code(t: FieldType) -> &'static str {
    t.code()
}

pub(super) fn personal_code(p: PersonalClass) -> &'static str {
    match p {
        PersonalClass::None => "none",
        PersonalClass::Basic => "basic",
        PersonalClass::Sensitive => "sensitive",
    }
}

/// `GET /datasets/new` (stewards).
pub async fn show(State(app): State<AppState>, tr: Tr, caller: Result<Caller, ApiError>) -> Response {
    let caller = match caller {
        Ok(c) if c.user.is_some() => c,
        _ => return Redirect::to(if tr.is_en() { "/login?lang=en" } else { "/login" }).into_response(),
    };
    match base_page(&app, tr, &caller).await {
        Ok(p) if p.databases.is_empty() => error_page(tr, ApiError::denied(chiase_core::policy::Reason::NotSteward)),
        Ok(p) => p.into_response(),
        Err(e) => error_page(tr, e),
    }
}

/// `POST /datasets/new/propose` (multipart: csrf, database, then either
/// template or a sample file): the proposal to review.
pub async fn propose(State(app): State<AppState>, tr: Tr, request: Request) -> Response {
    let (caller, sent) = match read_upload(&app, tr, request, false).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let value = |k: &str| sent_value(&sent.pairs, k);
    let mut page = match base_page(&app, tr, &caller).await {
        Ok(p) => p,
        Err(e) => return error_page(tr, e),
    };
    let database = value("database");
    let Some(db) = page.databases.iter().find(|d| d.id == database) else {
        page.error = Some(tr.t("Hãy chọn một cơ sở dữ liệu của cơ quan.", "Choose one of your agency's databases.").to_string());
        return (StatusCode::BAD_REQUEST, page).into_response();
    };
    let template = value("template");
    let mut draft = Draft { database: db.id.clone(), cadence: String::new(), ..Default::default() };
    let (schema, notes) = if !template.is_empty() {
        // A template of this database only.
        let Some(t) = chiase_io::templates::by_id(&template).filter(|_| db.templates.iter().any(|(id, _)| *id == template)) else {
            page.error =
                Some(tr.t("Mẫu này không thuộc cơ sở dữ liệu đã chọn.", "That template is not one of the chosen database's.").to_string());
            return (StatusCode::BAD_REQUEST, page).into_response();
        };
        draft.template = t.template.clone();
        draft.id = t.slug.clone();
        draft.title = t.title.clone();
        draft.title_en = t.title_en.clone();
        draft.description = t.description.clone();
        draft.licence = t.licence.clone();
        draft.sharing = t.sharing_mode.clone();
        draft.cadence = t.cadence.clone();
        (t.schema, Vec::new())
    } else if sent.file_name.as_deref().is_none_or(str::is_empty) {
        page.error = Some(tr.t("Hãy chọn một mẫu hoặc một tệp mẫu.", "Choose a template or a sample file.").to_string());
        return (StatusCode::BAD_REQUEST, page).into_response();
    } else {
        let name = sent.file_name.clone();
        let proposal = datasets::infer(sent.body, name.clone(), sent.content_type.clone(), ReadOptions::default(), SAMPLE_ROWS).await;
        match proposal {
            Ok(p) => {
                draft.title = name.as_deref().and_then(|n| n.rsplit_once('.').map(|(stem, _)| stem.to_string())).unwrap_or_default();
                page.warnings = p.warnings.iter().map(|w| if tr.is_en() { w.en.clone() } else { w.vi.clone() }).collect();
                let notes = p.notes.iter().map(|n| (n.name.clone(), n.example.clone().unwrap_or_default())).collect();
                (p.schema, notes)
            }
            Err(e) => {
                page.error = Some(if tr.is_en() { e.msg.en } else { e.msg.vi });
                return (e.status, page).into_response();
            }
        }
    };
    draft.schema = serde_json::to_string(&schema).unwrap_or_default();
    page.fields = field_rows(&schema, &notes);
    page.modes = modes_of(&app, &draft.database, tr).await;
    page.draft = Some(draft);
    page.into_response()
}

fn field_rows(schema: &SchemaSpec, notes: &[(String, String)]) -> Vec<FieldRow> {
    schema
        .fields
        .iter()
        .map(|f| FieldRow {
            name: f.name.clone(),
            title: f.title.clone().unwrap_or_default(),
            kind: type_code(f.field_type),
            required: f.constraints.required,
            personal: personal_code(f.personal),
            note: notes.iter().find(|(n, _)| *n == f.name).map(|(_, e)| e.clone()).unwrap_or_default(),
        })
        .collect()
}

/// The sharing modes the catalog gives a database, as (code, label).
async fn modes_of(app: &AppState, database: &str, tr: Tr) -> Vec<(&'static str, &'static str)> {
    let detail = app.store.database(&DatabaseKey::parse(database)).await.ok().flatten();
    let modes: Vec<SharingMode> = detail.map(|d| d.sharing_modes).unwrap_or_default();
    modes.into_iter().map(|m| (m.code(), m.label(tr.lang))).collect()
}

/// `POST /datasets/new` (urlencoded): creates the dataset as reviewed,
/// then opens its upload page.
pub async fn create(State(app): State<AppState>, tr: Tr, request: Request) -> Response {
    let (caller, form) = match read_form(&app, tr, request, MAX_FORM_BYTES).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let get = |k: &str| field(&form, k).unwrap_or_default().to_string();
    let draft = Draft {
        database: get("database"),
        template: get("template"),
        id: get("id"),
        title: get("title"),
        title_en: get("title_en"),
        description: get("description"),
        licence: get("licence"),
        sharing: get("sharing"),
        cadence: get("cadence"),
        schema: get("schema"),
    };
    match build(&draft, &form) {
        Ok(new) => match datasets::create(&app, &caller, new).await {
            Ok(ds) => {
                let lang = if tr.is_en() { "?lang=en" } else { "" };
                Redirect::to(&format!("/datasets/{}/upload{lang}", ds.id)).into_response()
            }
            Err(e) => review_again(&app, tr, &caller, draft, &form, e).await,
        },
        Err(e) => review_again(&app, tr, &caller, draft, &form, e).await,
    }
}

/// The reviewed draft as a dataset to create: the proposed schema with the
/// rows' edits (title, type, required, personal data; a field unticked is left out).
fn build(d: &Draft, form: &[(String, String)]) -> Result<CreateDataset, ApiError> {
    let bad = |vi: &str, en: &str| ApiError::bad_request(vi.to_string(), en.to_string());
    let mut schema: SchemaSpec = serde_json::from_str(&d.schema)
        .map_err(|_| bad("lược đồ đề xuất bị hỏng; hãy bắt đầu lại", "the proposed schema is damaged; start again"))?;
    let get = |k: String| form.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
    let mut kept: Vec<FieldSpec> = Vec::new();
    for (i, mut f) in std::mem::take(&mut schema.fields).into_iter().enumerate() {
        if get(format!("f{i}_keep")).is_none() {
            continue;
        }
        let title = get(format!("f{i}_title")).unwrap_or_default();
        f.title = (!title.is_empty()).then(|| title.to_string());
        if let Some(t) = get(format!("f{i}_type")) {
            let Some(t) = TYPES.into_iter().find(|k| type_code(*k) == t) else {
                return Err(bad(&format!("kiểu «{t}» không có"), &format!("no type «{t}»")));
            };
            if t != f.field_type {
                // A changed type drops the checks that belonged to the old one.
                f.field_type = t;
                f.format = None;
                f.constraints.enum_values = None;
                f.constraints.minimum = None;
                f.constraints.maximum = None;
                f.constraints.pattern = None;
            }
        }
        f.constraints.required = get(format!("f{i}_required")).is_some();
        f.personal = match get(format!("f{i}_personal")) {
            Some("basic") => PersonalClass::Basic,
            Some("sensitive") => PersonalClass::Sensitive,
            _ => PersonalClass::None,
        };
        kept.push(f);
    }
    if kept.is_empty() {
        return Err(bad("hãy giữ lại ít nhất một trường", "keep at least one field"));
    }
    let names: Vec<&str> = kept.iter().map(|f| f.name.as_str()).collect();
    schema.primary_key.retain(|k| names.contains(&k.as_str()));
    schema.fields = kept;
    let sharing = d.sharing.parse::<SharingMode>().map_err(|_| bad("hãy chọn hình thức chia sẻ", "choose a sharing mode"))?;
    let cadence = if d.cadence.is_empty() { None } else { d.cadence.parse::<Cadence>().ok() };
    if d.title.is_empty() {
        return Err(bad("hãy đặt tên cho tập dữ liệu", "give the dataset a title"));
    }
    Ok(CreateDataset {
        id: d.id.clone(),
        database: DatabaseKey::parse(&d.database),
        title: d.title.clone(),
        title_en: Some(d.title_en.clone()).filter(|t| !t.is_empty()),
        description: d.description.clone(),
        licence: Some(d.licence.clone()).filter(|l| !l.is_empty()),
        sharing_mode: sharing,
        cadence,
        schema,
        template: Some(d.template.clone()).filter(|t| !t.is_empty()),
        synthetic: false,
    })
}

/// The review page again, with what was typed and why it was refused.
async fn review_again(app: &AppState, tr: Tr, caller: &Caller, draft: Draft, form: &[(String, String)], e: ApiError) -> Response {
    let mut page = match base_page(app, tr, caller).await {
        Ok(p) => p,
        Err(e) => return error_page(tr, e),
    };
    let schema: SchemaSpec = match serde_json::from_str(&draft.schema) {
        Ok(s) => s,
        Err(_) => return error_page(tr, e),
    };
    let mut fields = field_rows(&schema, &[]);
    // Keep the rows' edits as typed.
    let get = |k: String| form.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
    for (i, f) in fields.iter_mut().enumerate() {
        if let Some(t) = get(format!("f{i}_title")) {
            f.title = t;
        }
        f.required = get(format!("f{i}_required")).is_some();
    }
    page.fields = fields;
    page.modes = modes_of(app, &draft.database, tr).await;
    page.draft = Some(draft);
    let status = if e.status == StatusCode::UNPROCESSABLE_ENTITY { StatusCode::BAD_REQUEST } else { e.status };
    page.error = Some(if tr.is_en() { e.msg.en } else { e.msg.vi });
    (status, page).into_response()
}
