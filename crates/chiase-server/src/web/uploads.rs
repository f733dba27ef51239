//! `/datasets/{id}/upload`: a steward sends this year's file (Excel, CSV,
//! ODS, JSON) from the portal. The form posts the same multipart body as
//! `curl -F file=@…` to the API, read by the same parser and imported by
//! the same use case and policy: all rows or none. A refused file comes
//! back as the row-by-row report, a table of line, column, value and what
//! to write instead, with a highlighted copy on request. A little script
//! (assets/chiase-upload.js) shows a progress bar; without it the form
//! posts as any form does.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chiase_core::policy::decide_write;
use chiase_io::tabular::ReadOptions;
use chiase_store::datasets::import::ImportMode;

use super::catalog::{error_page, who};
use super::{Tr, read_upload, sent_value};
use crate::api::records::{MAX_IMPORT_BYTES, marked_workbook};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::state::AppState;
use crate::usecase::imports::{self, ErrorHandling, ImportOutcome, ImportReport, ImportRequest, Imported, Progress};

/// Problems shown on the page (the whole list is in the highlighted copy).
const SHOWN_ERRORS: usize = 200;

struct ErrorRow {
    row: u64,
    column: String,
    value: String,
    message: String,
}

/// What the last upload did.
enum Outcome {
    Done { inserted: i64, updated: i64, unchanged: i64, deleted: i64, rows: i64, held: u64 },
    Refused { rows_read: u64, bad_rows: u64, total: u64, errors: Vec<ErrorRow> },
    Failed(String),
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "upload.html")]
struct UploadPage {
    tr: Tr,
    who: Option<super::Who>,
    session_csrf: String,
    lang_href: String,
    id: String,
    title: String,
    owner: String,
    /// The file's columns, in the dataset's order: name, title, required.
    fields: Vec<(String, String, bool)>,
    /// Why the form is not shown (not signed in, not a steward of the owner).
    blocked: Option<String>,
    file_name: String,
    sheet: Option<String>,
    notes: Vec<String>,
    outcome: Option<Outcome>,
}

impl UploadPage {
    fn shown_more(&self) -> u64 {
        match &self.outcome {
            Some(Outcome::Refused { total, errors, .. }) => total.saturating_sub(errors.len() as u64),
            _ => 0,
        }
    }
}

async fn page(app: &AppState, tr: Tr, caller: &Caller, id: &str) -> Result<UploadPage, Response> {
    let ds = crate::usecase::find_dataset(app, id).await.map_err(|e| error_page(tr, e))?;
    let blocked = if caller.user.is_none() {
        Some(tr.t(
            "Hãy đăng nhập bằng tài khoản cán bộ quản lý dữ liệu của cơ quan chủ quản để tải dữ liệu lên.",
            "Sign in as a data steward of the owner agency to upload data.",
        ))
    } else if decide_write(&caller.subject, &ds.facts()).is_err() {
        Some(tr.t(
            "Chỉ cán bộ quản lý dữ liệu của cơ quan chủ quản mới được tải dữ liệu lên tập này.",
            "Only the owner agency's data stewards may upload data to this dataset.",
        ))
    } else {
        None
    }
    .map(str::to_string);
    let fields = ds
        .schema
        .fields
        .iter()
        .map(|f| (f.name.clone(), f.title.clone().unwrap_or_else(|| f.name.clone()), f.constraints.required))
        .collect();
    let (who, session_csrf) = who(app, Some(caller)).await;
    Ok(UploadPage {
        tr,
        who,
        session_csrf,
        lang_href: format!("/datasets/{}/upload?lang={}", ds.id, tr.other()),
        id: ds.id.clone(),
        title: tr.title(&ds.title, ds.title_en.as_deref()),
        owner: ds.owner.name.clone(),
        fields,
        blocked,
        file_name: String::new(),
        sheet: None,
        notes: Vec::new(),
        outcome: None,
    })
}

/// `GET /datasets/{id}/upload`.
pub async fn show(State(app): State<AppState>, tr: Tr, caller: Result<Caller, ApiError>, ApiPath(id): ApiPath<String>) -> Response {
    let caller = caller.unwrap_or_else(|_| Caller::anonymous(None));
    match page(&app, tr, &caller, &id).await {
        Ok(p) => p.into_response(),
        Err(r) => r,
    }
}

/// `POST /datasets/{id}/upload` (multipart: `csrf`, `mode`, `sheet`,
/// `report`, then `file`): imports the file and shows what happened.
pub async fn submit(State(app): State<AppState>, tr: Tr, ApiPath(id): ApiPath<String>, request: Request) -> Response {
    let (caller, sent) = match read_upload(&app, tr, request, true).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let value = |k: &str| Some(sent_value(&sent.pairs, k)).filter(|v| !v.is_empty());
    let mut p = match page(&app, tr, &caller, &id).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mode = match value("mode").as_deref() {
        None | Some("append") => ImportMode::Append,
        Some("upsert") => ImportMode::Upsert,
        Some("replace") => ImportMode::Replace,
        Some(m) => return error_page(tr, ApiError::bad_request(format!("chế độ «{m}» không hợp lệ"), format!("invalid mode «{m}»"))),
    };
    let mark = value("report").as_deref() == Some("xlsx");
    p.file_name = sent.file_name.clone().unwrap_or_default();
    let req = ImportRequest {
        mode,
        source_name: sent.file_name,
        content_type: sent.content_type,
        options: ReadOptions { sheet: value("sheet"), ..Default::default() },
        allow_empty: false,
        handling: ErrorHandling { mark, hold: false },
    };
    let progress = Arc::new(Progress::default());
    let (status, outcome) = match imports::import(&app, &caller, &id, req, sent.body, MAX_IMPORT_BYTES, progress).await {
        Ok(ImportOutcome::Done(done)) => (StatusCode::OK, done_outcome(tr, &mut p, done)),
        Ok(ImportOutcome::Rejected(report)) => {
            if let Some(marked) = report.marked.clone() {
                // The highlighted copy, as asked: the officer fixes it in Excel.
                return marked_workbook(StatusCode::UNPROCESSABLE_ENTITY, marked, "bao-cao-loi.xlsx")
                    .await
                    .unwrap_or_else(|e| error_page(tr, e));
            }
            (StatusCode::UNPROCESSABLE_ENTITY, refused_outcome(tr, &mut p, report))
        }
        Err(e) => (e.status, Outcome::Failed(if tr.is_en() { e.msg.en } else { e.msg.vi })),
    };
    p.outcome = Some(outcome);
    (status, p).into_response()
}

fn done_outcome(tr: Tr, p: &mut UploadPage, done: Imported) -> Outcome {
    p.sheet = done.sheet.clone();
    p.notes = done.notes.iter().map(|n| note(tr, n.line, &n.message, &n.message_en)).collect();
    Outcome::Done {
        inserted: done.inserted,
        updated: done.updated,
        unchanged: done.unchanged,
        deleted: done.deleted,
        rows: done.row_count,
        held: done.held.as_ref().map_or(0, |h| h.bad_rows),
    }
}

fn refused_outcome(tr: Tr, p: &mut UploadPage, report: ImportReport) -> Outcome {
    p.sheet = report.sheet.clone();
    p.notes = report.notes.iter().map(|n| note(tr, n.line, &n.message, &n.message_en)).collect();
    let errors = report
        .errors
        .iter()
        .take(SHOWN_ERRORS)
        .map(|e| ErrorRow {
            row: e.row,
            column: match (&e.letter, &e.column) {
                (Some(l), Some(c)) => format!("{l} «{c}»"),
                (None, Some(c)) => format!("«{c}»"),
                (Some(l), None) => l.clone(),
                (None, None) => String::new(),
            },
            value: e.value.clone().unwrap_or_default(),
            message: if tr.is_en() { e.message_en.clone() } else { e.message.clone() },
        })
        .collect();
    Outcome::Refused { rows_read: report.rows_read, bad_rows: report.bad_rows, total: report.total_errors, errors }
}

fn note(tr: Tr, line: u64, vi: &str, en: &str) -> String {
    if line == 0 { tr.t(vi, en).to_string() } else { format!("{} {line}: {}", tr.t("Dòng", "Line"), tr.t(vi, en)) }
}
