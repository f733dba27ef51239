//! `/datasets/{id}/schema`: the owner's stewards change a dataset's fields
//! within what keeps the stored rows whole: titles, descriptions and the
//! personal-data class of any field; a type only towards a wider one
//! (integer to number, anything to text); a required field may become
//! optional; new fields are added at the end, optional. The form offers
//! only those choices, and the store refuses anything else with its
//! reason (the same use case and policy as `PATCH /api/v1/datasets/{id}/schema`).
//! Every change is a new schema version in the dataset's history.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chiase_core::policy::decide_schema_change;
use chiase_core::schema::{FieldSpec, FieldType, PersonalClass, SchemaSpec};

use super::catalog::{error_page, who};
use super::dataset_new::{PERSONAL, TYPES, personal_code, type_code};
use super::{Tr, read_form};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::state::AppState;
use crate::usecase::{datasets, find_dataset};

const MAX_FORM_BYTES: usize = 128 * 1024;
/// Blank rows offered for new fields.
const NEW_ROWS: usize = 3;

struct FieldRow {
    name: String,
    title: String,
    description: String,
    kind: &'static str,
    /// The types this field may become (its own first).
    kinds: Vec<(&'static str, &'static str)>,
    required: bool,
    personal: &'static str,
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "schema_edit.html")]
struct SchemaPage {
    tr: Tr,
    who: Option<super::Who>,
    session_csrf: String,
    lang_href: String,
    id: String,
    title: String,
    version: i64,
    fields: Vec<FieldRow>,
    new_rows: Vec<usize>,
    types: Vec<(&'static str, &'static str)>,
    personal: Vec<(&'static str, &'static str)>,
    error: Option<String>,
}

async fn page(app: &AppState, tr: Tr, caller: &Caller, id: &str, error: Option<String>) -> Result<SchemaPage, ApiError> {
    let ds = find_dataset(app, id).await?;
    decide_schema_change(&caller.subject, &ds.facts())?;
    let fields = ds
        .schema
        .fields
        .iter()
        .map(|f| FieldRow {
            name: f.name.clone(),
            title: f.title.clone().unwrap_or_default(),
            description: f.description.clone().unwrap_or_default(),
            kind: type_code(f.field_type),
            kinds: TYPES.iter().filter(|t| f.field_type.widens_to(**t)).map(|t| (type_code(*t), t.label(tr.lang))).collect(),
            required: f.constraints.required,
            personal: personal_code(f.personal),
        })
        .collect();
    let (who, session_csrf) = who(app, Some(caller)).await;
    Ok(SchemaPage {
        tr,
        who,
        session_csrf,
        lang_href: format!("/datasets/{}/schema?lang={}", ds.id, tr.other()),
        id: ds.id.clone(),
        title: tr.title(&ds.title, ds.title_en.as_deref()),
        version: ds.schema_version,
        fields,
        new_rows: (0..NEW_ROWS).collect(),
        types: TYPES
            .iter()
            .filter(|t| !matches!(t, FieldType::Geopoint | FieldType::Geojson))
            .map(|t| (type_code(*t), t.label(tr.lang)))
            .collect(),
        personal: PERSONAL.iter().map(|p| (personal_code(*p), p.label(tr.lang))).collect(),
        error,
    })
}

/// `GET /datasets/{id}/schema` (the owner's stewards).
pub async fn show(State(app): State<AppState>, tr: Tr, caller: Result<Caller, ApiError>, ApiPath(id): ApiPath<String>) -> Response {
    let caller = match caller {
        Ok(c) if c.user.is_some() => c,
        _ => return Redirect::to(if tr.is_en() { "/login?lang=en" } else { "/login" }).into_response(),
    };
    match page(&app, tr, &caller, &id, None).await {
        Ok(p) => p.into_response(),
        Err(e) => error_page(tr, e),
    }
}

/// `POST /datasets/{id}/schema`: the edited fields as a new schema version.
pub async fn submit(State(app): State<AppState>, tr: Tr, ApiPath(id): ApiPath<String>, request: Request) -> Response {
    let (caller, form) = match read_form(&app, tr, request, MAX_FORM_BYTES).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let outcome = match find_dataset(&app, &id).await {
        Ok(ds) => match edited(ds.schema.clone(), &form, ds.schema_version) {
            Ok(spec) => datasets::change_schema(&app, &caller, &id, spec).await.map(drop),
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    match outcome {
        Ok(()) => Redirect::to(&tr.link(&format!("/datasets/{id}"))).into_response(),
        Err(e) => {
            let status = if e.status == StatusCode::UNPROCESSABLE_ENTITY { StatusCode::BAD_REQUEST } else { e.status };
            let msg = if tr.is_en() { e.msg.en.clone() } else { e.msg.vi.clone() };
            match page(&app, tr, &caller, &id, Some(msg)).await {
                Ok(p) => (status, p).into_response(),
                Err(_) => error_page(tr, e),
            }
        }
    }
}

/// The current schema with the form's edits: each field's title,
/// description, type, required and personal class (`f{i}_…`), and the new
/// fields named in `n{j}_…`. The store decides whether the change keeps the rows whole.
fn edited(mut spec: SchemaSpec, form: &[(String, String)], version: i64) -> Result<SchemaSpec, ApiError> {
    let get = |k: String| form.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
    if get("version".into()).and_then(|v| v.parse::<i64>().ok()) != Some(version) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "stale_schema",
            "lược đồ vừa được người khác thay đổi; hãy xem lại rồi sửa",
            "the schema was changed meanwhile; look again, then edit",
        ));
    }
    let kind = |code: &str| {
        TYPES
            .into_iter()
            .find(|t| type_code(*t) == code)
            .ok_or_else(|| ApiError::bad_request(format!("kiểu «{code}» không có"), format!("no type «{code}»")))
    };
    let personal = |code: Option<&str>| match code {
        Some("basic") => PersonalClass::Basic,
        Some("sensitive") => PersonalClass::Sensitive,
        _ => PersonalClass::None,
    };
    for (i, f) in spec.fields.iter_mut().enumerate() {
        let title = get(format!("f{i}_title")).unwrap_or_default();
        f.title = (!title.is_empty()).then(|| title.to_string());
        let description = get(format!("f{i}_description")).unwrap_or_default();
        f.description = (!description.is_empty()).then(|| description.to_string());
        if let Some(t) = get(format!("f{i}_type")) {
            f.field_type = kind(t)?;
        }
        f.constraints.required = get(format!("f{i}_required")).is_some();
        f.personal = personal(get(format!("f{i}_personal")));
    }
    for j in 0..NEW_ROWS {
        let Some(name) = get(format!("n{j}_name")).filter(|n| !n.is_empty()) else { continue };
        let mut f: FieldSpec = serde_json::from_value(serde_json::json!({ "name": name, "type": "string" }))
            .map_err(|_| ApiError::bad_request(format!("tên trường «{name}» không hợp lệ"), format!("invalid field name «{name}»")))?;
        f.field_type = kind(get(format!("n{j}_type")).unwrap_or("string"))?;
        let title = get(format!("n{j}_title")).unwrap_or_default();
        f.title = (!title.is_empty()).then(|| title.to_string());
        f.personal = personal(get(format!("n{j}_personal")));
        spec.fields.push(f);
    }
    Ok(spec)
}
