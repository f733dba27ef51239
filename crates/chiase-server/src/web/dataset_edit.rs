//! `/datasets/{id}/edit`: a steward of the owner agency changes what
//! describes a dataset — its titles, description, licence, update cadence,
//! theme (with the proposal from the owner agency's name when none is set)
//! and sharing mode (among those the catalog gives its database) — through
//! the same use case and policy as `PATCH /api/v1/datasets/{id}`. A refused
//! form comes back with what was typed and why; a saved one goes back to
//! the dataset's page. The schema (its fields) is not changed here: that
//! stays with the API (`PATCH /api/v1/datasets/{id}/schema`).

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chiase_core::catalog::Cadence;
use chiase_core::policy::decide_edit_dataset;
use chiase_core::sharing::SharingMode;
use chiase_core::theme::Theme;
use chiase_store::datasets::{Dataset, DatasetChanges};

use super::catalog::{error_page, who};
use super::{Tr, form_caller};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::state::AppState;
use crate::usecase::datasets;

/// The most a form's body may hold: a description of 5000 characters,
/// each up to nine bytes once percent-encoded, and the rest.
const MAX_FORM_BYTES: usize = 128 * 1024;

/// The licence select's value for "another licence, typed below".
const OTHER: &str = "other";

/// Licences offered by name: the value stored, its label in Vietnamese and English.
const LICENCES: [(&str, &str, &str); 4] = [
    ("CC-BY-4.0", "CC BY 4.0 — ghi nguồn khi dùng lại", "CC BY 4.0 — attribution"),
    ("CC0-1.0", "CC0 1.0 — dùng tự do, không cần ghi nguồn", "CC0 1.0 — no rights reserved"),
    ("ODC-BY-1.0", "ODC-BY 1.0 — ghi nguồn (cơ sở dữ liệu)", "ODC-BY 1.0 — attribution (databases)"),
    ("Giấy phép dữ liệu mở của tỉnh", "Giấy phép dữ liệu mở của tỉnh", "The province's open data licence"),
];

/// What the form holds: the dataset's values, or what was typed.
#[derive(Debug, Clone, Default)]
struct Sent {
    csrf: String,
    title: String,
    title_en: String,
    description: String,
    /// A value of [`LICENCES`], or [`OTHER`].
    licence: String,
    licence_other: String,
    cadence: String,
    /// Empty: not chosen (the form then keeps the dataset's mode).
    sharing_mode: String,
    /// A theme's code; empty: none set (the proposal stands in). `None`:
    /// the form had no such field, and the theme stays.
    theme: Option<String>,
}

impl Sent {
    fn of(ds: &Dataset) -> Sent {
        let named = LICENCES.iter().any(|(v, ..)| *v == ds.licence);
        Sent {
            csrf: String::new(),
            title: ds.title.clone(),
            title_en: ds.title_en.clone().unwrap_or_default(),
            description: ds.description.clone(),
            licence: if named { ds.licence.clone() } else { OTHER.to_string() },
            licence_other: if named { String::new() } else { ds.licence.clone() },
            cadence: ds.cadence.code().to_string(),
            sharing_mode: ds.sharing_mode.code().to_string(),
            theme: Some(ds.theme.map(|t| t.code().to_string()).unwrap_or_default()),
        }
    }

    fn parse(body: &[u8]) -> Sent {
        let mut s = Sent::default();
        for (k, v) in form_urlencoded::parse(body) {
            let v = v.into_owned();
            match k.as_ref() {
                "csrf" => s.csrf = v,
                "title" => s.title = v,
                "title_en" => s.title_en = v,
                "description" => s.description = v,
                "licence" => s.licence = v,
                "licence_other" => s.licence_other = v,
                "cadence" => s.cadence = v,
                "sharing_mode" => s.sharing_mode = v,
                "theme" => s.theme = Some(v),
                _ => {}
            }
        }
        s
    }

    /// The changes the form asks for (the store keeps only what differs),
    /// or what is wrong with it.
    fn changes(&self, tr: Tr) -> Result<DatasetChanges, String> {
        let cadence = self
            .cadence
            .parse::<Cadence>()
            .map_err(|c| format!("{} «{c}»", tr.t("Tần suất cập nhật không hợp lệ:", "Invalid update cadence:")))?;
        let sharing_mode = match self.sharing_mode.as_str() {
            "" => None,
            m => Some(
                m.parse::<SharingMode>()
                    .map_err(|m| format!("{} «{m}»", tr.t("Hình thức chia sẻ không hợp lệ:", "Invalid sharing mode:")))?,
            ),
        };
        let theme = match self.theme.as_deref() {
            None => None,
            Some("") => Some(None),
            Some(t) => Some(Some(t.parse::<Theme>().map_err(|t| format!("{} «{t}»", tr.t("Lĩnh vực không hợp lệ:", "Invalid theme:")))?)),
        };
        let licence = if self.licence == OTHER || self.licence.is_empty() { self.licence_other.clone() } else { self.licence.clone() };
        Ok(DatasetChanges {
            title: Some(self.title.clone()),
            title_en: Some(Some(self.title_en.clone())),
            description: Some(self.description.clone()),
            licence: Some(licence),
            cadence: Some(cadence),
            sharing_mode,
            theme,
        })
    }
}

/// A choice of a select or a radio group.
struct Choice {
    value: &'static str,
    label: &'static str,
    /// What it means, for the sharing modes.
    hint: &'static str,
    selected: bool,
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "dataset_edit.html")]
struct EditPage {
    tr: Tr,
    who: Option<super::Who>,
    session_csrf: String,
    lang_href: String,
    id: String,
    /// The dataset's title as stored, in the reader's language.
    heading: String,
    owner: String,
    database: String,
    /// Why the form is not shown (not signed in, not a steward of the owner).
    blocked: Option<String>,
    /// Why the last post was refused.
    error: Option<String>,
    form: Sent,
    licences: Vec<Choice>,
    cadences: Vec<Choice>,
    themes: Vec<Choice>,
    /// The theme derived from the owner's name, used while none is set.
    theme_proposed: Option<&'static str>,
    modes: Vec<Choice>,
    /// The dataset's mode when the catalog no longer gives it its database.
    mode_outside: Option<&'static str>,
    /// Opening the data is among the choices (the page warns what it means).
    open_offered: bool,
}

fn mode_hint(tr: Tr, m: SharingMode) -> &'static str {
    match m {
        SharingMode::Open => tr.t("ai cũng xem và tải về được, không cần đăng nhập", "anyone may read and download it, without signing in"),
        SharingMode::Default => tr.t("cán bộ mọi cơ quan nhà nước đã đăng nhập", "signed-in officers of any state agency"),
        SharingMode::Specific => tr.t("chỉ cơ quan có yêu cầu khai thác được duyệt", "only agencies whose request was approved"),
        SharingMode::Legal => tr.t(
            "theo quy định của pháp luật chuyên ngành, qua yêu cầu có căn cứ pháp lý",
            "as the sector's law prescribes, on a request citing it",
        ),
    }
}

async fn page(app: &AppState, tr: Tr, caller: &Caller, ds: &Dataset, form: Sent, error: Option<String>) -> Result<EditPage, ApiError> {
    let blocked = if caller.user.is_none() {
        Some(tr.t(
            "Hãy đăng nhập bằng tài khoản cán bộ quản lý dữ liệu của cơ quan chủ quản để sửa thông tin tập dữ liệu.",
            "Sign in as a data steward of the owner agency to edit this dataset's description.",
        ))
    } else if decide_edit_dataset(&caller.subject, &ds.facts()).is_err() {
        Some(tr.t(
            "Chỉ cán bộ quản lý dữ liệu của cơ quan chủ quản mới được sửa thông tin tập dữ liệu này.",
            "Only the owner agency's data stewards may edit this dataset's description.",
        ))
    } else {
        None
    }
    .map(str::to_string);
    let allowed = app.store.catalog_modes_of(ds).await?;
    let licences = LICENCES
        .iter()
        .map(|(v, vi, en)| Choice { value: v, label: tr.t(vi, en), hint: "", selected: form.licence == *v })
        .chain(std::iter::once(Choice {
            value: OTHER,
            label: tr.t("Giấy phép khác (ghi ở ô dưới)", "Another licence (type it below)"),
            hint: "",
            selected: !LICENCES.iter().any(|(v, ..)| form.licence == *v),
        }))
        .collect();
    let cadences = Cadence::ALL
        .into_iter()
        .map(|c| Choice { value: c.code(), label: c.label(tr.lang), hint: "", selected: form.cadence == c.code() })
        .collect();
    let chosen_theme = form.theme.clone().unwrap_or_default();
    let themes = Theme::ALL
        .into_iter()
        .map(|t| Choice { value: t.code(), label: t.label(tr.lang), hint: "", selected: chosen_theme == t.code() })
        .collect();
    let modes = allowed
        .iter()
        .map(|m| Choice { value: m.code(), label: m.label(tr.lang), hint: mode_hint(tr, *m), selected: form.sharing_mode == m.code() })
        .collect();
    let (who, session_csrf) = who(app, Some(caller)).await;
    Ok(EditPage {
        tr,
        who,
        session_csrf,
        lang_href: format!("/datasets/{}/edit?lang={}", ds.id, tr.other()),
        id: ds.id.clone(),
        heading: tr.title(&ds.title, ds.title_en.as_deref()),
        owner: ds.owner.name.clone(),
        database: ds.database.name.clone(),
        blocked,
        error,
        form,
        licences,
        cadences,
        themes,
        theme_proposed: chiase_core::theme::propose(&ds.owner.name).map(|t| t.label(tr.lang)),
        modes,
        mode_outside: (!allowed.contains(&ds.sharing_mode)).then(|| ds.sharing_mode.label(tr.lang)),
        open_offered: allowed.contains(&SharingMode::Open),
    })
}

/// `GET /datasets/{id}/edit`: the form, filled with the dataset's values
/// (403 with the reason for anyone else than its owner's stewards).
pub async fn show(State(app): State<AppState>, tr: Tr, caller: Result<Caller, ApiError>, ApiPath(id): ApiPath<String>) -> Response {
    let caller = caller.unwrap_or_else(|_| Caller::anonymous(None));
    let ds = match crate::usecase::find_dataset(&app, &id).await {
        Ok(ds) => ds,
        Err(e) => return error_page(tr, e),
    };
    match page(&app, tr, &caller, &ds, Sent::of(&ds), None).await {
        Ok(p) if p.blocked.is_some() && p.who.is_some() => (StatusCode::FORBIDDEN, p).into_response(),
        Ok(p) => p.into_response(),
        Err(e) => error_page(tr, e),
    }
}

/// `POST /datasets/{id}/edit` (a form: `csrf`, `title`, `title_en`,
/// `description`, `licence`, `licence_other`, `cadence`, `theme`, `sharing_mode`):
/// saves and goes back to the dataset's page, or shows the form again with
/// what was typed and why it was refused (400, 403).
pub async fn submit(State(app): State<AppState>, tr: Tr, ApiPath(id): ApiPath<String>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
        return error_page(tr, ApiError::too_large(MAX_FORM_BYTES));
    };
    let sent = Sent::parse(&bytes);
    let caller = match form_caller(&app, &mut parts, &sent.csrf).await {
        Ok(c) => c,
        Err(e) => return error_page(tr, e),
    };
    let ds = match crate::usecase::find_dataset(&app, &id).await {
        Ok(ds) => ds,
        Err(e) => return error_page(tr, e),
    };
    let outcome = match sent.changes(tr) {
        Ok(changes) => {
            datasets::update(&app, &caller, &id, changes).await.map_err(|e| (e.status, if tr.is_en() { e.msg.en } else { e.msg.vi }))
        }
        Err(msg) => Err((StatusCode::BAD_REQUEST, msg)),
    };
    match outcome {
        Ok(ds) => Redirect::to(&tr.link(&format!("/datasets/{}", ds.id))).into_response(),
        Err((status, msg)) => match page(&app, tr, &caller, &ds, sent, Some(msg)).await {
            Ok(p) => (status, p).into_response(),
            Err(e) => error_page(tr, e),
        },
    }
}
