//! `/agencies/{id}`: an agency as the public knows it: its names over
//! time, what became of it (merged into, dissolved), the agencies merged
//! into it, its focal contact for data sharing, and the databases it owns
//! and owned.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chiase_store::agencies::AgencyDetail;

use super::Tr;
use super::catalog::{error_page, who};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::state::AppState;

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "agency.html")]
struct AgencyPage {
    tr: Tr,
    who: Option<super::Who>,
    session_csrf: String,
    lang_href: String,
    /// `?lang=en` for links, in English.
    lang_suffix: &'static str,
    a: AgencyDetail,
    status: &'static str,
}

pub async fn agency(
    State(app): State<AppState>,
    tr: Tr,
    caller: Result<Caller, ApiError>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, Response> {
    let found = app.store.agency(&id).await.map_err(|e| error_page(tr, e.into()))?;
    let a = found.ok_or_else(|| {
        let shown: String = id.chars().take(64).collect();
        error_page(tr, ApiError::not_found(format!("không tìm thấy cơ quan «{shown}»"), format!("agency «{shown}» not found")))
    })?;
    let status = match a.agency.status.as_str() {
        "active" => tr.t("đang hoạt động", "active"),
        "merged" => tr.t("đã sáp nhập", "merged"),
        "dissolved" => tr.t("đã giải thể", "dissolved"),
        _ => tr.t("không rõ", "unknown"),
    };
    let (who, session_csrf) = who(&app, caller.as_ref().ok()).await;
    let page = AgencyPage {
        tr,
        who,
        session_csrf,
        lang_href: format!("/agencies/{}?lang={}", a.agency.id, tr.other()),
        lang_suffix: if tr.is_en() { "?lang=en" } else { "" },
        a,
        status,
    };
    Ok(page.into_response())
}
