//! `/admin/catalog`: an administrator publishes a new decision's catalog
//! table. The file is read and compared with the current version first:
//! the preview shows every entry as derived (owner, sharing modes,
//! cadence) and what changes (new databases, withdrawn ones, fields that
//! differ), and nothing is written until the administrator publishes it.
//! The previewed file travels back in the form (base64) with its SHA-256,
//! so that any server process can publish exactly what was shown.

use axum::extract::{Request, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use chiase_core::catalog::Decision;
use chiase_core::policy::decide_catalog;
use chiase_io::decision_table::hex;
use chiase_store::catalog::CatalogSource;
use sha2::Digest;

use super::catalog::{error_page, who};
use super::{Tr, read_form, read_upload, sent_value};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::usecase::catalog::{self, Preview};

/// A decision's table is a few dozen kilobytes; anything near this is not one.
const MAX_CATALOG_BYTES: usize = 4 * 1024 * 1024;

struct EntryRow {
    no: i64,
    name: String,
    owner: String,
    modes: String,
    cadence: &'static str,
}

struct ChangeRow {
    name: String,
    field: String,
    old: String,
    new: String,
}

/// The preview of a file, and what the publish form carries.
struct Shown {
    file_name: String,
    file_b64: String,
    sha256: String,
    decision: String,
    date: String,
    signer: String,
    entries: Vec<EntryRow>,
    added: Vec<String>,
    removed: Vec<String>,
    changes: Vec<ChangeRow>,
    unchanged: usize,
    warnings: Vec<String>,
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "admin_catalog.html")]
struct CatalogPage {
    tr: Tr,
    who: Option<super::Who>,
    session_csrf: String,
    lang_href: String,
    /// The current version: decision number, date, entries.
    current: Option<(String, String, i64)>,
    shown: Option<Shown>,
    done: Option<String>,
    error: Option<String>,
}

async fn page(app: &AppState, tr: Tr, caller: &Caller) -> Result<CatalogPage, ApiError> {
    decide_catalog(&caller.subject)?;
    let current = app.store.current_catalog().await?.map(|(v, _)| (v.decision_no, tr.date(&v.decision_date), v.entry_count));
    let (who, session_csrf) = who(app, Some(caller)).await;
    Ok(CatalogPage {
        tr,
        who,
        session_csrf,
        lang_href: format!("/admin/catalog?lang={}", tr.other()),
        current,
        shown: None,
        done: None,
        error: None,
    })
}

/// `GET /admin/catalog` (administrators).
pub async fn show(State(app): State<AppState>, tr: Tr, caller: Result<Caller, ApiError>, uri: Uri) -> Response {
    let caller = match caller {
        Ok(c) if c.user.is_some() => c,
        _ => return Redirect::to(if tr.is_en() { "/login?lang=en" } else { "/login" }).into_response(),
    };
    let mut p = match page(&app, tr, &caller).await {
        Ok(p) => p,
        Err(e) => return error_page(tr, e),
    };
    p.done = crate::params::pairs(&uri).into_iter().find(|(k, _)| k == "done").map(|(_, v)| {
        format!("{} {v}.", tr.t("Đã công bố phiên bản danh mục theo quyết định", "Published the catalog version of decision"))
    });
    p.into_response()
}

/// `POST /admin/catalog/preview` (multipart: csrf, decision, date, signer,
/// then the file): the preview; nothing is written.
pub async fn preview(State(app): State<AppState>, tr: Tr, request: Request) -> Response {
    let (caller, sent) = match read_upload(&app, tr, request, false).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let value = |k: &str| sent_value(&sent.pairs, k);
    let mut p = match page(&app, tr, &caller).await {
        Ok(p) => p,
        Err(e) => return error_page(tr, e),
    };
    let file_name = sent.file_name.clone().unwrap_or_default();
    let (decision, date, signer) = (value("decision"), value("date"), value("signer"));
    // The file is read on a blocking thread: the body is a blocking reader.
    let mut reader = sent.body;
    let bytes = tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut buf = Vec::new();
        let n = reader.by_ref().take(MAX_CATALOG_BYTES as u64 + 1).read_to_end(&mut buf);
        n.map(|_| buf)
    })
    .await;
    let bytes = match bytes {
        Ok(Ok(b)) if b.len() <= MAX_CATALOG_BYTES => b,
        Ok(Ok(_)) => return error_page(tr, ApiError::too_large(MAX_CATALOG_BYTES)),
        _ => return error_page(tr, ApiError::bad_request("không đọc được tệp", "the file could not be read")),
    };
    if file_name.is_empty() || bytes.is_empty() {
        p.error = Some(tr.t("Hãy chọn tệp bảng danh mục của quyết định.", "Choose the decision's catalog table file.").to_string());
        return (StatusCode::BAD_REQUEST, p).into_response();
    }
    match catalog::preview(&app, &caller, &file_name, &bytes).await {
        Ok(preview) => {
            p.shown = Some(shown(tr, preview, file_name, &bytes, decision, date, signer));
            p.into_response()
        }
        Err(e) => {
            p.error = Some(if tr.is_en() { e.msg.en } else { e.msg.vi });
            (e.status, p).into_response()
        }
    }
}

fn shown(tr: Tr, p: Preview, file_name: String, bytes: &[u8], decision: String, date: String, signer: String) -> Shown {
    // The file's own title names its decision when the form does not.
    let (decision, date) = match (&p.parsed.decision_hint, decision.is_empty(), date.is_empty()) {
        (Some((n, d)), true, true) => (n.clone(), d.to_string()),
        (Some((n, _)), true, false) => (n.clone(), date),
        (Some((_, d)), false, true) => (decision, d.to_string()),
        _ => (decision, date),
    };
    Shown {
        file_name,
        file_b64: base64::engine::general_purpose::STANDARD.encode(bytes),
        sha256: p.parsed.sha256.clone(),
        decision,
        date,
        signer,
        entries: p
            .parsed
            .entries
            .iter()
            .map(|(_, f)| EntryRow {
                no: f.no,
                name: f.name.clone(),
                owner: f.owner_name.clone(),
                modes: f.sharing.modes.iter().map(|m| m.label(tr.lang)).collect::<Vec<_>>().join("; "),
                cadence: f.cadence.label(tr.lang),
            })
            .collect(),
        added: p.diff.added,
        removed: p.diff.removed,
        changes: p
            .diff
            .changed
            .into_iter()
            .flat_map(|c| {
                let name = c.key;
                c.changes.into_iter().map(move |ch| ChangeRow { name: name.clone(), field: ch.field, old: ch.old, new: ch.new })
            })
            .collect(),
        unchanged: p.diff.unchanged,
        warnings: p.parsed.warnings.iter().map(|w| if tr.is_en() { w.en.clone() } else { w.vi.clone() }).collect(),
    }
}

/// `POST /admin/catalog` (urlencoded: the previewed file, its SHA-256 and
/// the decision): publishes it as a new version.
pub async fn publish(State(app): State<AppState>, tr: Tr, request: Request) -> Response {
    let (caller, form) = match read_form(&app, tr, request, MAX_CATALOG_BYTES * 2).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    match publish_form(&app, &caller, &form).await {
        Ok(number) => {
            let q = form_urlencoded::Serializer::new(String::new()).append_pair("done", &number).finish();
            let lang = if tr.is_en() { "&lang=en" } else { "" };
            Redirect::to(&format!("/admin/catalog?{q}{lang}")).into_response()
        }
        Err(e) => {
            let mut p = match page(&app, tr, &caller).await {
                Ok(p) => p,
                Err(_) => return error_page(tr, e),
            };
            let status = if e.status == StatusCode::UNPROCESSABLE_ENTITY { StatusCode::BAD_REQUEST } else { e.status };
            p.error = Some(if tr.is_en() { e.msg.en } else { e.msg.vi });
            (status, p).into_response()
        }
    }
}

async fn publish_form(app: &AppState, caller: &Caller, form: &[(String, String)]) -> Result<String, ApiError> {
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(get("file_b64"))
        .map_err(|_| ApiError::bad_request("tệp xem trước bị hỏng; hãy tải lên lại", "the previewed file is damaged; upload it again"))?;
    if hex(&sha2::Sha256::digest(&bytes)) != get("sha256") {
        return Err(ApiError::bad_request(
            "tệp khác với tệp đã xem trước; hãy xem trước lại",
            "the file differs from the one previewed; preview it again",
        ));
    }
    let number = get("decision");
    if number.is_empty() {
        return Err(ApiError::bad_request("thiếu số quyết định", "the decision's number is missing"));
    }
    let date = crate::params::parse_date(&get("date"))
        .ok_or_else(|| ApiError::bad_request("ngày quyết định không hợp lệ: ghi dd/mm/yyyy", "invalid decision date: write dd/mm/yyyy"))?;
    let file_name = get("file_name");
    let preview = catalog::preview(app, caller, &file_name, &bytes).await?;
    let parsed = preview.parsed;
    let signer = Some(get("signer")).filter(|s| !s.is_empty());
    let decision = Decision { number: number.clone(), date, signer, title: parsed.title_lines.first().cloned() };
    let source = CatalogSource { name: file_name, sha256: parsed.sha256.clone(), title: Some(parsed.title_lines.join("\n")) };
    catalog::import(app, caller, &decision, &source, &parsed.entries).await?;
    Ok(number)
}
