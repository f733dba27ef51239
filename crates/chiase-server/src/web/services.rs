//! `/services` and `/services/{id}`: the services the catalog's databases
//! offer through the gateway, and each one's documentation page — what it
//! is for, who owns it, who may call it, how to connect (the gateway
//! address, the headers chiase adds, a `curl` example) and its endpoints
//! read from its OpenAPI document, with their request and response
//! examples where the document gives them. Public, like the catalog.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use chiase_store::services::Service;
use serde_json::Value;

use super::Tr;
use super::catalog::{error_page, who};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::state::AppState;

/// One day's bar of the use chart.
struct Bar {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
    day: String,
    calls: u64,
    failed: u64,
}

/// One consumer agency's use.
struct Consumer {
    name: String,
    calls: u64,
    failed: u64,
    p50: String,
    p95: String,
}

/// The use chart's drawing box, in SVG units, and its days.
const CHART_W: f64 = 720.0;
const CHART_H: f64 = 160.0;
const CHART_DAYS: i64 = 14;

struct Endpoint {
    method: String,
    path: String,
    summary: String,
    example: String,
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "services.html")]
struct ServicesPage {
    tr: Tr,
    who: Option<super::Who>,
    session_csrf: String,
    lang_href: String,
    lang_suffix: &'static str,
    services: Vec<Service>,
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "service.html")]
struct ServicePage {
    tr: Tr,
    who: Option<super::Who>,
    session_csrf: String,
    lang_href: String,
    lang_suffix: &'static str,
    s: Service,
    sharing: &'static str,
    who_may_call: &'static str,
    gateway: String,
    curl: String,
    endpoints: Vec<Endpoint>,
    /// For its owner's stewards: calls per day and per consumer.
    bars: Option<Vec<Bar>>,
    consumers: Vec<Consumer>,
    most: u64,
    chart_w: f64,
    chart_h: f64,
}

fn bars(tr: Tr, stats: &Value) -> (Vec<Bar>, u64) {
    let days: Vec<&Value> = stats["per_day"].as_array().map(|a| a.iter().collect()).unwrap_or_default();
    let most = days.iter().filter_map(|d| d["calls"].as_u64()).max().unwrap_or(0);
    let slot = CHART_W / days.len().max(1) as f64;
    let bars = days
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let calls = d["calls"].as_u64().unwrap_or(0);
            let h = (calls as f64 / most.max(1) as f64 * (CHART_H - 20.0)).max(if calls > 0 { 1.0 } else { 0.0 });
            let day = d["day"]
                .as_str()
                .and_then(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
                .map(|d| tr.date(&d))
                .unwrap_or_default();
            Bar {
                x: i as f64 * slot + slot * 0.15,
                y: CHART_H - h,
                w: slot * 0.7,
                h,
                day,
                calls,
                failed: d["failed"].as_u64().unwrap_or(0),
            }
        })
        .collect();
    (bars, most)
}

pub async fn list(State(app): State<AppState>, tr: Tr, caller: Result<Caller, ApiError>) -> Result<Response, Response> {
    let services = app.store.services().await.map_err(|e| error_page(tr, e.into()))?;
    let (who, session_csrf) = who(&app, caller.as_ref().ok()).await;
    Ok(ServicesPage {
        tr,
        who,
        session_csrf,
        lang_href: format!("/services?lang={}", tr.other()),
        lang_suffix: if tr.is_en() { "?lang=en" } else { "" },
        services,
    }
    .into_response())
}

/// The endpoints of an OpenAPI document, with an example of each answer
/// where the document gives one (clipped: a page, not a dump).
fn endpoints(doc: &Value) -> Vec<Endpoint> {
    let mut out = vec![];
    let Some(paths) = doc["paths"].as_object() else { return out };
    for (path, item) in paths.iter().take(200) {
        let Some(ops) = item.as_object() else { continue };
        for (method, op) in ops {
            if !matches!(method.as_str(), "get" | "post" | "put" | "patch" | "delete" | "head" | "options") {
                continue;
            }
            let summary = op["summary"].as_str().or_else(|| op["description"].as_str()).unwrap_or("").to_string();
            let example = op["responses"]
                .as_object()
                .and_then(|r| r.values().find_map(|resp| resp["content"].as_object()?.values().find_map(|c| c.get("example").cloned())))
                .map(|e| serde_json::to_string_pretty(&e).unwrap_or_default().chars().take(2000).collect())
                .unwrap_or_default();
            out.push(Endpoint { method: method.to_uppercase(), path: path.clone(), summary, example });
        }
    }
    out
}

pub async fn show(
    State(app): State<AppState>,
    tr: Tr,
    caller: Result<Caller, ApiError>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, Response> {
    let s = crate::usecase::services::find(&app, &id).await.map_err(|e| error_page(tr, e))?;
    let base = crate::api::ckan::base_url(&app, &headers);
    let doc = match s.has_openapi {
        true => crate::usecase::services::openapi(&app, &s.id, &base).await.ok(),
        false => None,
    };
    let endpoints = doc.as_ref().map(endpoints).unwrap_or_default();
    let gateway = format!("{base}/gateway/{}", s.id);
    let first_get = endpoints.iter().find(|e| e.method == "GET").map(|e| e.path.clone()).unwrap_or_else(|| "/".into());
    let curl = match s.sharing_mode {
        chiase_core::sharing::SharingMode::Open => format!("curl '{gateway}{first_get}'"),
        _ => format!("curl -H 'Authorization: Bearer $TOKEN' '{gateway}{first_get}'"),
    };
    let who_may_call = match s.sharing_mode {
        chiase_core::sharing::SharingMode::Open => tr.t("mọi người, không cần tài khoản", "anyone, without an account"),
        chiase_core::sharing::SharingMode::Default => tr.t(
            "cán bộ của mọi cơ quan nhà nước, bằng tài khoản hoặc mã truy cập",
            "officers of any state agency, with their account or an API token",
        ),
        _ => tr.t(
            "cơ quan chủ quản; cơ quan khác cần được phê duyệt (đang hoàn thiện quy trình đề nghị cho dịch vụ)",
            "its owner agency; others need an approval (the request workflow for services is being completed)",
        ),
    };
    // Its use, for those who may administer it (its owner's stewards).
    let stats = match &caller {
        Ok(c) if chiase_core::policy::decide_service_admin(&c.subject, s.owner_pk).is_ok() && c.user.is_some() => {
            crate::usecase::services::stats(&app, c, &s.id, CHART_DAYS).await.ok()
        }
        _ => None,
    };
    let (bars, most, consumers) = match &stats {
        Some(st) => {
            let (b, most) = bars(tr, st);
            let ms = |v: &Value| v.as_u64().map(|n| format!("{n} ms")).unwrap_or_else(|| "—".into());
            let consumers = st["consumers"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|c| Consumer {
                            name: c["agency_name"]
                                .as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| tr.t("không thuộc cơ quan nào", "no agency").to_string()),
                            calls: c["calls"].as_u64().unwrap_or(0),
                            failed: c["status"]["5xx"].as_u64().unwrap_or(0),
                            p50: ms(&c["latency_ms"]["p50"]),
                            p95: ms(&c["latency_ms"]["p95"]),
                        })
                        .collect()
                })
                .unwrap_or_default();
            (Some(b), most, consumers)
        }
        None => (None, 0, vec![]),
    };
    let (who, session_csrf) = who(&app, caller.as_ref().ok()).await;
    Ok(ServicePage {
        tr,
        who,
        session_csrf,
        lang_href: format!("/services/{}?lang={}", s.id, tr.other()),
        lang_suffix: if tr.is_en() { "?lang=en" } else { "" },
        sharing: s.sharing_mode.label(if tr.is_en() { "en" } else { "vi" }),
        s,
        who_may_call,
        gateway,
        curl,
        endpoints,
        bars,
        consumers,
        most,
        chart_w: CHART_W,
        chart_h: CHART_H,
    }
    .into_response())
}
