//! `/databases/{key}/datapackage`: a steward of the database's owner sends a
//! Frictionless Data Package (a zip, or its URL) from the portal; the same
//! use case as the API makes each resource a dataset, all or none. A refused
//! package comes back as its problems, resource by resource and row by row.

use std::io::Read;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chiase_core::policy::decide_create_dataset;
use chiase_store::databases::DatabaseKey;

use super::catalog::{error_page, who};
use super::{Tr, read_upload, sent_value};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::state::AppState;
use crate::usecase::datapackage::{self, PackageReport, Source};

/// Problems shown on the page.
const SHOWN_ERRORS: usize = 200;

struct Made {
    id: String,
    title: String,
    rows: i64,
}

struct Problem {
    resource: String,
    row: u64,
    column: String,
    value: String,
    message: String,
}

enum Outcome {
    Done(Vec<Made>),
    Refused(Vec<Problem>),
    Failed(String),
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "datapackage_import.html")]
struct PackagePage {
    tr: Tr,
    who: Option<super::Who>,
    session_csrf: String,
    lang_href: String,
    key: String,
    name: String,
    owner: String,
    /// Why the form is not shown (not signed in, not a steward of the owner).
    blocked: Option<String>,
    outcome: Option<Outcome>,
}

async fn page(app: &AppState, tr: Tr, caller: &Caller, key: &str) -> Result<PackagePage, Response> {
    let db = crate::usecase::catalog::find_database(app, key).await.map_err(|e| error_page(tr, e))?;
    let owner = app.store.database_owner(&DatabaseKey::Id(db.id.clone())).await.map_err(|e| error_page(tr, e.into()))?;
    let blocked = if caller.user.is_none() {
        Some(tr.t(
            "Hãy đăng nhập bằng tài khoản cán bộ quản lý dữ liệu của cơ quan chủ quản để nhập gói dữ liệu.",
            "Sign in as a data steward of the owner agency to import a data package.",
        ))
    } else if decide_create_dataset(&caller.subject, owner).is_err() {
        Some(tr.t(
            "Chỉ cán bộ quản lý dữ liệu của cơ quan chủ quản mới được tạo tập dữ liệu trong cơ sở dữ liệu này.",
            "Only the owner agency's data stewards may create datasets in this database.",
        ))
    } else {
        None
    }
    .map(str::to_string);
    let (who, session_csrf) = who(app, Some(caller)).await;
    let key = db.no.map(|n| n.to_string()).unwrap_or_else(|| db.id.clone());
    Ok(PackagePage {
        tr,
        who,
        session_csrf,
        lang_href: format!("/databases/{key}/datapackage?lang={}", tr.other()),
        key,
        name: db.name.clone(),
        owner: db.owner.name.clone(),
        blocked,
        outcome: None,
    })
}

/// `GET /databases/{key}/datapackage`.
pub async fn show(State(app): State<AppState>, tr: Tr, caller: Result<Caller, ApiError>, ApiPath(key): ApiPath<String>) -> Response {
    let caller = caller.unwrap_or_else(|_| Caller::anonymous(None));
    match page(&app, tr, &caller, &key).await {
        Ok(p) => p.into_response(),
        Err(r) => r,
    }
}

/// `POST /databases/{key}/datapackage` (multipart: `csrf`, `url`, then
/// `file`, optional when a URL is given).
pub async fn submit(State(app): State<AppState>, tr: Tr, ApiPath(key): ApiPath<String>, request: Request) -> Response {
    let (caller, sent) = match read_upload(&app, tr, request, false).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let mut p = match page(&app, tr, &caller, &key).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let url = sent_value(&sent.pairs, "url");
    let source = if !url.is_empty() {
        Source::Url(url)
    } else {
        // The upload reads from the request on a blocking thread, bounded.
        let limit = app.config.package_max_mib << 20;
        let body = sent.body;
        let read = tokio::task::spawn_blocking(move || {
            let mut bytes = Vec::new();
            body.take(limit + 1).read_to_end(&mut bytes).map(|_| bytes)
        })
        .await;
        match read {
            Ok(Ok(bytes)) if bytes.len() as u64 > limit => return error_page(tr, ApiError::too_large(limit as usize)),
            Ok(Ok(bytes)) if bytes.is_empty() => {
                p.outcome = Some(Outcome::Failed(
                    tr.t("Hãy chọn tệp zip của gói hoặc ghi địa chỉ URL.", "Choose the package's zip or give its URL.").into(),
                ));
                return (StatusCode::BAD_REQUEST, p).into_response();
            }
            Ok(Ok(bytes)) => Source::Bytes(bytes),
            Ok(Err(e)) => {
                return error_page(tr, ApiError::bad_request(format!("không đọc được tệp: {e}"), format!("cannot read the file: {e}")));
            }
            Err(e) => return error_page(tr, ApiError::internal(&e)),
        }
    };
    let (status, outcome) = match datapackage::import(&app, &caller, &key, source).await {
        Ok(report) => (StatusCode::OK, done(report)),
        Err(e) => match e.fields.as_ref().and_then(|f| f.get("report")) {
            Some(report) => (e.status, refused(tr, report)),
            None => (e.status, Outcome::Failed(if tr.is_en() { e.msg.en } else { e.msg.vi })),
        },
    };
    p.outcome = Some(outcome);
    (status, p).into_response()
}

fn done(report: PackageReport) -> Outcome {
    Outcome::Done(
        report.resources.into_iter().map(|r| Made { id: r.dataset, title: r.title, rows: r.rows_imported.unwrap_or(0) }).collect(),
    )
}

fn refused(tr: Tr, report: &serde_json::Value) -> Outcome {
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let mut problems = Vec::new();
    for r in report["resources"].as_array().into_iter().flatten() {
        for e in r["errors"].as_array().into_iter().flatten() {
            if problems.len() >= SHOWN_ERRORS {
                break;
            }
            problems.push(Problem {
                resource: text(&r["name"]),
                row: e["row"].as_u64().unwrap_or(0),
                column: text(&e["column"]),
                value: text(&e["value"]),
                message: if tr.is_en() { text(&e["message_en"]) } else { text(&e["message"]) },
            });
        }
    }
    Outcome::Refused(problems)
}
