//! CKAN's Action API, so that the tools agencies already script against
//! CKAN (`ckanapi`, harvesters, udata) work against chiase unchanged:
//! `GET|POST /api/action/{name}` and `/api/3/action/{name}`, CKAN's
//! envelope (`help`, `success`, `result` | `error` with `__type`), its
//! status codes and error type strings. The mapping: organization =
//! agency, package = catalog database, resource = hosted dataset, group =
//! sharing mode, tags = the catalog's derived fields (cadence, collection
//! channels). Every answer comes from the same use cases, and so through
//! the same policy decision point, as the native API: a package's metadata
//! is public like the catalog; a resource's rows follow its sharing mode.
//!
//! `catalog.rs` answers the metadata actions, `datastore.rs` the rows,
//! `solr.rs` reads `package_search`'s `q` and `fq`. This API is outside
//! the OpenAPI document (it is CKAN's, documented by CKAN).

mod catalog;
mod datastore;
pub mod solr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// The largest body an action takes (a `datastore_upsert` of many records).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// The routes, both paths CKAN serves, GET and POST.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/action/{name}", axum::routing::get(call).post(call))
        .route("/api/3/action/{name}", axum::routing::get(call).post(call))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

/// An action's parameters: the query string (GET; a repeated key is a
/// list) or the JSON body (POST), or a form body whose single key is a
/// JSON document (what `curl -d '{…}'` sends).
pub(crate) struct Params {
    map: Map<String, Value>,
}

impl Params {
    fn from_request(method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Result<Params, CkanError> {
        let mut map = Map::new();
        for (k, v) in form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
            push(&mut map, k.into_owned(), Value::String(v.into_owned()));
        }
        if *method == Method::POST && !body.iter().all(u8::is_ascii_whitespace) {
            let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
            let parsed: Value = if content_type.starts_with("application/x-www-form-urlencoded") {
                let pairs: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
                match pairs.as_slice() {
                    [(k, v)] if (v.is_empty() || v == "1") && k.trim_start().starts_with('{') => serde_json::from_str(k)
                        .map_err(|e| CkanError::BadRequest(format!("JSON Error: Could not read request body as JSON: {e}")))?,
                    _ => {
                        let mut m = Map::new();
                        for (k, v) in pairs {
                            push(&mut m, k, Value::String(v));
                        }
                        Value::Object(m)
                    }
                }
            } else if content_type.starts_with("multipart/") {
                return Err(CkanError::BadRequest(
                    "chiase's CKAN API takes JSON bodies; files are uploaded to /api/v1/datasets/{id}/import".into(),
                ));
            } else {
                serde_json::from_slice(body)
                    .map_err(|e| CkanError::BadRequest(format!("JSON Error: Could not read request body as JSON: {e}")))?
            };
            let Value::Object(obj) = parsed else {
                return Err(CkanError::BadRequest("JSON Error: Request data JSON decoded to a non-dictionary".into()));
            };
            map.extend(obj);
        }
        Ok(Params { map })
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// A text parameter (a number is taken as its text).
    pub(crate) fn text(&self, key: &str) -> Option<String> {
        match self.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Array(a) => a.last().and_then(|v| v.as_str().map(str::to_string)),
            other => Some(other.to_string()),
        }
    }

    /// A whole number in `0..=max`, `default` when absent.
    pub(crate) fn int(&self, key: &str, default: i64, max: i64) -> Result<i64, CkanError> {
        let Some(v) = self.get(key) else { return Ok(default) };
        let n = match v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        match n {
            Some(n) if (0..=max).contains(&n) => Ok(n),
            Some(n) if n > max => Ok(max),
            _ => Err(CkanError::validation(key, &format!("Invalid integer (0 to {max})"), &format!("phải là số nguyên từ 0 đến {max}"))),
        }
    }

    pub(crate) fn boolean(&self, key: &str, default: bool) -> Result<bool, CkanError> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" | "" => Ok(false),
                _ => Err(CkanError::validation(key, "Value must be one of: true, false", "phải là true hoặc false")),
            },
            Some(Value::Number(n)) => Ok(n.as_i64() != Some(0)),
            Some(_) => Err(CkanError::validation(key, "Value must be one of: true, false", "phải là true hoặc false")),
        }
    }

    /// A parameter that is JSON, sent as JSON or as a JSON string (GET).
    pub(crate) fn json(&self, key: &str) -> Result<Option<Value>, CkanError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.trim_start().starts_with(['{', '[']) => serde_json::from_str(s)
                .map(Some)
                .map_err(|e| CkanError::validation(key, &format!("Could not parse as valid JSON: {e}"), "không đọc được JSON")),
            Some(v) => Ok(Some(v.clone())),
        }
    }

    /// A list sent as a JSON list, a JSON string of one, repeated keys or
    /// a comma-separated string.
    pub(crate) fn list(&self, key: &str) -> Result<Vec<String>, CkanError> {
        let v = match self.json(key)? {
            None => return Ok(vec![]),
            Some(v) => v,
        };
        Ok(match v {
            Value::Array(a) => a.iter().map(|x| x.as_str().map(str::to_string).unwrap_or_else(|| x.to_string())).collect(),
            Value::String(s) => s.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect(),
            other => vec![other.to_string()],
        })
    }
}

fn push(map: &mut Map<String, Value>, k: String, v: Value) {
    match map.get_mut(&k) {
        Some(Value::Array(a)) => a.push(v),
        Some(prev) => {
            let first = prev.take();
            *prev = Value::Array(vec![first, v]);
        }
        None => {
            map.insert(k, v);
        }
    }
}

/// A failed action, as CKAN reports it.
#[derive(Debug)]
pub(crate) enum CkanError {
    /// 400 with a bare JSON string (an unknown action, a body that is not JSON).
    BadRequest(String),
    /// 409 "Validation Error": messages by field.
    Validation(Map<String, Value>),
    /// 404 "Not Found Error".
    NotFound { en: String, vi: String },
    /// 403 "Authorization Error".
    NotAuthorized { en: String, vi: String },
    /// 400 "Search Query Error".
    SearchQuery(String),
    /// Anything else chiase answers with its status (a busy store's 503).
    Other(ApiError),
}

impl CkanError {
    pub(crate) fn validation(field: &str, en: &str, vi: &str) -> CkanError {
        let mut m = Map::new();
        m.insert(field.to_string(), json!([format!("{en} ({vi})")]));
        CkanError::Validation(m)
    }

    pub(crate) fn not_found(en: impl Into<String>, vi: impl Into<String>) -> CkanError {
        CkanError::NotFound { en: en.into(), vi: vi.into() }
    }
}

impl From<ApiError> for CkanError {
    fn from(e: ApiError) -> CkanError {
        match e.status {
            StatusCode::NOT_FOUND => CkanError::NotFound { en: e.msg.en, vi: e.msg.vi },
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => CkanError::NotAuthorized { en: e.msg.en, vi: e.msg.vi },
            StatusCode::BAD_REQUEST | StatusCode::CONFLICT | StatusCode::UNPROCESSABLE_ENTITY => {
                let mut m = Map::new();
                m.insert("message".into(), json!(format!("{} ({})", e.msg.en, e.msg.vi)));
                if let Some(Value::Object(fields)) = e.fields {
                    for (k, v) in fields {
                        m.insert(k, v);
                    }
                }
                CkanError::Validation(m)
            }
            _ => CkanError::Other(e),
        }
    }
}

impl From<chiase_store::StoreError> for CkanError {
    fn from(e: chiase_store::StoreError) -> CkanError {
        CkanError::from(ApiError::from(e))
    }
}

/// The start of every URL chiase gives out: `public_url`, else the Host
/// the client used.
pub(crate) fn base_url(app: &AppState, headers: &HeaderMap) -> String {
    if app.config.public_url.as_deref().is_some_and(|u| !u.trim().is_empty()) {
        return app.config.public_base();
    }
    match headers.get(header::HOST).and_then(|v| v.to_str().ok()).filter(|h| h.bytes().all(|b| b.is_ascii_graphic())) {
        Some(host) => format!("http://{host}"),
        None => app.config.public_base(),
    }
}

/// An action's result: a JSON tree, or JSON already written (a page of
/// DataStore records is written row by row, as the native API writes its
/// pages, rather than built as a tree).
pub(crate) enum Answer {
    Tree(Value),
    Written(Vec<u8>),
}

/// What an action is handed.
pub(crate) struct Call<'a> {
    pub app: &'a AppState,
    pub caller: &'a Caller,
    pub params: &'a Params,
    pub base: &'a str,
    /// `/api/action` or `/api/3/action`, as called (for `_links`).
    pub prefix: &'a str,
}

/// Actions that change nothing (GET allowed), as CKAN marks them.
const READ_ACTIONS: &[&str] = &[
    "status_show",
    "help_show",
    "package_list",
    "package_search",
    "package_show",
    "resource_show",
    "organization_list",
    "organization_show",
    "group_list",
    "group_show",
    "tag_list",
    "datastore_search",
    "datastore_info",
];
const WRITE_ACTIONS: &[&str] = &["datastore_create", "datastore_upsert", "datastore_delete"];

async fn call(
    State(app): State<AppState>,
    Path(name): Path<String>,
    caller: Result<Caller, ApiError>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let base = base_url(&app, &headers);
    let prefix = if uri.path().starts_with("/api/3/") { "/api/3/action" } else { "/api/action" };
    let help = format!("{base}/api/3/action/help_show?name={}", form_urlencoded::byte_serialize(name.as_bytes()).collect::<String>());
    let callback = (method == Method::GET)
        .then(|| form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).find(|(k, _)| k == "callback").map(|(_, v)| v.into_owned()))
        .flatten();
    // A JSONP call can come from any page the reader has open: like CKAN,
    // it is answered as to the public, whatever cookie the browser sent.
    let caller = match (&callback, caller) {
        (Some(_), c) => Ok(Caller::anonymous(c.ok().and_then(|c| c.source().map(str::to_string)))),
        (None, c) => c,
    };
    let result = run(&app, &name, caller, &method, &uri, &headers, body, &base, prefix).await;
    envelope(&help, result, callback)
}

#[allow(clippy::too_many_arguments)]
async fn run(
    app: &AppState,
    name: &str,
    caller: Result<Caller, ApiError>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
    base: &str,
    prefix: &str,
) -> Result<Answer, CkanError> {
    let known_read = READ_ACTIONS.contains(&name);
    if !known_read && !WRITE_ACTIONS.contains(&name) {
        let shown: String = name.chars().take(100).collect();
        return Err(CkanError::BadRequest(format!("Action name not known: {shown}")));
    }
    if !known_read && *method != Method::POST {
        return Err(CkanError::BadRequest("JSON Error: Invalid request. Please use POST method for your request".into()));
    }
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            CkanError::Other(ApiError::too_large(MAX_BODY))
        } else {
            CkanError::BadRequest(format!("could not read the request body: {e}"))
        }
    })?;
    let params = Params::from_request(method, uri, headers, &body)?;
    // Bad credentials are refused as CKAN refuses them: an authorization error.
    let caller = caller.map_err(CkanError::from)?;
    let call = Call { app, caller: &caller, params: &params, base, prefix };
    let tree = match name {
        "status_show" => catalog::status_show(&call).await,
        "help_show" => catalog::help_show(&call),
        "package_list" => catalog::package_list(&call).await,
        "package_search" => catalog::package_search(&call).await,
        "package_show" => catalog::package_show(&call).await,
        "resource_show" => catalog::resource_show(&call).await,
        "organization_list" => catalog::organization_list(&call).await,
        "organization_show" => catalog::organization_show(&call).await,
        "group_list" => catalog::group_list(&call).await,
        "group_show" => catalog::group_show(&call).await,
        "tag_list" => catalog::tag_list(&call).await,
        "datastore_search" => return datastore::search(&call).await.map(Answer::Written),
        "datastore_info" => datastore::info(&call).await,
        "datastore_create" => datastore::create(&call).await,
        "datastore_upsert" => datastore::upsert(&call).await,
        "datastore_delete" => datastore::delete(&call).await,
        _ => Err(CkanError::BadRequest(format!("Action name not known: {name}"))),
    };
    tree.map(Answer::Tree)
}

/// The envelope and status of an answer; JSONP when a GET asks for it.
fn envelope(help: &str, result: Result<Answer, CkanError>, callback: Option<String>) -> Response {
    let (status, body, retry_after) = match result {
        Ok(Answer::Tree(result)) => (StatusCode::OK, json!({ "help": help, "success": true, "result": result }), None),
        Ok(Answer::Written(result)) => {
            let mut body = br#"{"help":"#.to_vec();
            body.extend_from_slice(&serde_json::to_vec(help).unwrap_or_default());
            body.extend_from_slice(br#","success":true,"result":"#);
            body.extend_from_slice(&result);
            body.push(b'}');
            return respond(StatusCode::OK, body, callback, None);
        }
        Err(e) => {
            let (status, error, retry) = match e {
                CkanError::BadRequest(msg) => {
                    let body = Value::String(format!("Bad request: {msg}"));
                    return respond(StatusCode::BAD_REQUEST, serde_json::to_vec(&body).unwrap_or_default(), None, None);
                }
                CkanError::Validation(mut m) => {
                    m.insert("__type".into(), json!("Validation Error"));
                    (StatusCode::CONFLICT, Value::Object(m), None)
                }
                CkanError::NotFound { en, vi } => (
                    StatusCode::NOT_FOUND,
                    json!({ "__type": "Not Found Error", "message": format!("Not found: {en}"), "message_vi": vi }),
                    None,
                ),
                CkanError::NotAuthorized { en, vi } => (
                    StatusCode::FORBIDDEN,
                    json!({ "__type": "Authorization Error", "message": format!("Access denied: {en}"), "message_vi": vi }),
                    None,
                ),
                CkanError::SearchQuery(msg) => (
                    StatusCode::BAD_REQUEST,
                    json!({ "__type": "Search Query Error", "message": format!("Search Query is invalid: {msg}") }),
                    None,
                ),
                CkanError::Other(e) => {
                    let kind = if e.status.is_server_error() { "Internal Server Error" } else { "Validation Error" };
                    (e.status, json!({ "__type": kind, "message": e.msg.en, "message_vi": e.msg.vi }), e.retry_after)
                }
            };
            (status, json!({ "help": help, "success": false, "error": error }), retry)
        }
    };
    respond(status, serde_json::to_vec(&body).unwrap_or_default(), callback, retry_after)
}

fn respond(status: StatusCode, json: Vec<u8>, callback: Option<String>, retry_after: Option<u32>) -> Response {
    let mut res = match callback
        .filter(|c| !c.is_empty() && c.len() <= 64 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.'))
    {
        // JSONP answers 200 like CKAN, and only with a plain function name.
        Some(cb) => {
            let mut out = format!("/**/{cb}(").into_bytes();
            out.extend_from_slice(&json);
            out.extend_from_slice(b");");
            (StatusCode::OK, [(header::CONTENT_TYPE, HeaderValue::from_static("application/javascript;charset=utf-8"))], out)
                .into_response()
        }
        None => (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json;charset=utf-8"))], json).into_response(),
    };
    if let Some(s) = retry_after {
        res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    res
}
