//! The OpenAPI 3.1 document of the JSON API, generated from the code: each
//! handler carries its `#[utoipa::path]` (path, parameters, body,
//! responses), each type its `ToSchema`, and the routers are utoipa-axum
//! `OpenApiRouter`s, so a route is registered and documented by the same
//! line. This module holds what every operation shares (the error shape,
//! the error responses, the security schemes), `GET /api/v1` (links to
//! every resource, read from the document) and `GET /api/v1/openapi.json`;
//! the interactive reference is Swagger UI at `/api/docs`, its files
//! embedded in the binary.

use std::sync::LazyLock;

use axum::Json;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};

/// The body of every error: `{"error": {"code", "message", "message_en"}}`.
#[derive(Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorEnvelope {
    pub error: ErrorDetail,
}

/// What went wrong, in Vietnamese and English.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable code (`bad_request`, `not_found`, `sign_in_required`,
    /// `forbidden`, `csrf`, `conflict`, `too_large`,
    /// `unsupported_media_type`, `invalid`, `rows_rejected`, `busy`…).
    pub code: String,
    /// The message in Vietnamese.
    pub message: String,
    /// The message in English.
    pub message_en: String,
    /// Per-field details: for a parameter or field, the problems with it;
    /// for a refused import, `report` (rows read, errors with row and column).
    #[schema(value_type = Option<Object>)]
    pub fields: Option<serde_json::Value>,
}

/// Declares the reusable error responses: each is the [`ErrorEnvelope`]
/// with its own description, referenced from the operations as
/// `(status = 404, response = NotFound)`.
macro_rules! error_responses {
    ($($name:ident => $desc:literal),* $(,)?) => {
        $(
            #[doc = $desc]
            pub struct $name;

            impl<'r> utoipa::ToResponse<'r> for $name {
                fn response() -> (&'r str, RefOr<utoipa::openapi::Response>) {
                    (stringify!($name), error_response($desc, matches!(stringify!($name), "Busy" | "TooManyRequests")).into())
                }
            }
        )*

        /// Every error response, for the document's components.
        fn all_error_responses() -> Vec<(&'static str, RefOr<utoipa::openapi::Response>)> {
            vec![$(<$name as utoipa::ToResponse>::response()),* , <UnprocessableFile as utoipa::ToResponse>::response()]
        }
    };
}

error_responses! {
    BadRequest => "A parameter, the path or the body is malformed, or a parameter is unknown (named in `fields`).",
    Unauthorized => "Sign-in needed, or the credentials sent are invalid or expired.",
    Forbidden => "The caller may not do this (the reason is in the message), or a session's change lacks its X-CSRF-Token.",
    NotFound => "No such resource.",
    Conflict => "The change conflicts with the current state (it exists already, it is decided already…).",
    PayloadTooLarge => "The body exceeds this endpoint's limit.",
    UnsupportedMediaType => "The body must be JSON (`Content-Type: application/json`).",
    Unprocessable => "The content is well-formed but invalid (a field, a schema, rows of a file: see `fields`).",
    TooManyRequests => "Too many failed sign-ins from this account or address: try again later.",
    Busy => "The server is too busy (no database connection in time, or a large import holds the dataset): try again after `Retry-After` seconds.",
}

/// A refused import: the report as JSON, or with `report=xlsx` the
/// uploaded rows as a workbook with the bad cells highlighted.
pub struct UnprocessableFile;

impl<'r> utoipa::ToResponse<'r> for UnprocessableFile {
    fn response() -> (&'r str, RefOr<utoipa::openapi::Response>) {
        let xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
        let response = ResponseBuilder::new()
            .description(
                "Rows of the file are invalid and nothing was written: the report as JSON (`fields.report`), or with \
                 `report=xlsx` the uploaded rows as a workbook, each bad cell highlighted with a note.",
            )
            .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("Error"))).build())
            .content(xlsx, ContentBuilder::new().schema(Some(<Binary as utoipa::PartialSchema>::schema())).build())
            .build();
        ("UnprocessableFile", response.into())
    }
}

/// Declares the sets of error statuses operations share, each an
/// `IntoResponses` of references to the error responses above, named in an
/// operation's `responses(…)` beside its success.
macro_rules! error_sets {
    ($($(#[doc = $doc:literal])* $name:ident => [$($status:literal: $response:ident),*]),* $(,)?) => {
        $(
            $(#[doc = $doc])*
            pub struct $name;

            impl utoipa::IntoResponses for $name {
                fn responses() -> std::collections::BTreeMap<String, RefOr<utoipa::openapi::Response>> {
                    [$(($status.to_string(), RefOr::Ref(Ref::from_response_name(stringify!($response))))),*].into_iter().collect()
                }
            }
        )*
    };
}

error_sets! {
    /// A public read without an account: bad parameters, or busy.
    PublicErrors => [400: BadRequest, 503: Busy],
    /// One public item: bad parameters, none such, or busy.
    PublicItemErrors => [400: BadRequest, 404: NotFound, 503: Busy],
    /// What only a signed-in caller may read or do, without a body.
    SignedInErrors => [401: Unauthorized, 403: Forbidden, 503: Busy],
    /// A read through the policy (credentials optional, data perhaps restricted).
    ReadErrors => [400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 503: Busy],
    /// A change without a body (a step on an account).
    StepErrors => [400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict, 503: Busy],
    /// A change whose body is a file (an import, an upload).
    UploadErrors => [400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict, 413: PayloadTooLarge, 422: Unprocessable, 503: Busy],
    /// An import: as an upload, but a refused file may come back marked.
    ImportErrors => [400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict, 413: PayloadTooLarge, 422: UnprocessableFile, 503: Busy],
    /// A change whose body is JSON.
    ChangeErrors => [
        400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict,
        413: PayloadTooLarge, 415: UnsupportedMediaType, 422: Unprocessable, 503: Busy
    ],
}

fn error_response(description: &str, retry_after: bool) -> utoipa::openapi::Response {
    let mut b = ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("Error"))).build());
    if retry_after {
        b = b.header(
            "Retry-After",
            utoipa::openapi::HeaderBuilder::new()
                .schema(Some(utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::schema::Type::Integer)))
                .description(Some("Seconds to wait before trying again."))
                .build(),
        );
    }
    b.build()
}

/// The root of the document: title, licence, tags and shared components.
/// The paths come from the routers (`app::api_routes`).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "chiase",
        description = "The JSON API of chiase, a province's platform for shared data: the catalog of shared databases (public), \
hosted datasets and their records (served through the policy decision point: open data to anyone, the rest as the sharing mode allows), \
sharing requests, accounts and the audit log.\n\n\
Errors are always `{\"error\": {\"code\", \"message\", \"message_en\"}}` with the status that says what happened; \
unknown query parameters are refused by name. Without credentials a caller is the public; credentials that do not check out are a 401, never the public.\n\n\
Messages are in Vietnamese (`message`) and English (`message_en`); `lang=en` gives English labels where a response has labels.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(schemas(ErrorEnvelope, ErrorDetail)),
    modifiers(&Security),
    tags(
        (name = "service", description = "The API itself and the server's health."),
        (name = "databases", description = "The catalog of shared databases, as published by decision (public)."),
        (name = "agencies", description = "Agencies: names over time, mergers, focal contacts, databases owned."),
        (name = "catalog", description = "Catalog versions, one per decision, and their differences."),
        (name = "datasets", description = "Hosted datasets and their Table Schema."),
        (name = "records", description = "The rows of a dataset: filters, search, paging, writes, imports, the change feed."),
        (name = "exports", description = "Files: a dataset's rows as CSV, JSON, NDJSON, XLSX or GeoJSON; a database as a Data Package."),
        (name = "files", description = "Files attached to a dataset."),
        (name = "accounts", description = "Setup, sign-in, accounts and API tokens."),
        (name = "requests", description = "Sharing requests and the grants they become."),
        (name = "audit", description = "The audit log, its verification, and counts of open-data reads."),
        (name = "services", description = "Services: live systems catalog databases offer through the gateway (/gateway/{service}/…)."),
        (name = "harvest", description = "Harvest sources: other catalogs (CKAN, DCAT, Data Package, chiase) pulled on a schedule, and each run's report."),
        (name = "sync", description = "Sync into datasets: pull jobs reading an upstream JSON endpoint into a hosted dataset on a schedule, pushes from an agency's system, and each run's report."),
    )
)]
pub struct ApiDoc;

/// Security schemes and error responses, added to the components.
struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token (`chiase token create`, or `POST /api/v1/me/tokens`) as `Authorization: Bearer TOKEN`; \
also accepted raw in `Authorization` or in `X-CKAN-API-Key`, as CKAN clients send it.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::SESSION_COOKIE,
                "The web session cookie set by `POST /api/v1/session` (HttpOnly, SameSite=Lax). A change (any method but GET and HEAD) \
made with it must also send the session's CSRF token in `X-CSRF-Token`.",
            ))),
        );
        components.add_security_scheme(
            "csrf",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-CSRF-Token",
                "The `csrf_token` returned by `POST /api/v1/session`: required with the session cookie on every change.",
            ))),
        );
        for (name, response) in all_error_responses() {
            components.responses.insert(name.to_string(), response);
        }
    }
}

/// `GET /api/v1` and `GET /api/v1/openapi.json`.
pub fn router() -> utoipa_axum::router::OpenApiRouter<crate::state::AppState> {
    use utoipa_axum::routes;
    utoipa_axum::router::OpenApiRouter::new().routes(routes!(index)).routes(routes!(openapi_json))
}

/// The document, built once from the same routers the server runs.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOC: LazyLock<utoipa::openapi::OpenApi> =
        LazyLock::new(|| crate::app::api_routes(std::time::Duration::from_secs(30)).split_for_parts().1);
    &DOC
}

/// The document as JSON, serialized once.
fn document_json() -> bytes::Bytes {
    static JSON: LazyLock<bytes::Bytes> =
        LazyLock::new(|| serde_json::to_vec(document()).expect("BUG: the OpenAPI document serializes").into());
    JSON.clone()
}

/// `GET /api/v1`: the API's entry point.
#[derive(Clone, Serialize, ToSchema)]
pub struct ApiIndex {
    pub name: String,
    pub version: String,
    /// `openapi`: this API's OpenAPI 3.1 document; `docs`: its interactive
    /// reference (a web page).
    #[schema(value_type = Object)]
    pub links: serde_json::Map<String, serde_json::Value>,
    /// Each collection of the API, by name, with its path.
    #[schema(value_type = Object)]
    pub resources: serde_json::Map<String, serde_json::Value>,
}

/// The API's entry point: links to the document, the reference page and
/// each resource.
#[utoipa::path(
    get,
    path = "/api/v1",
    tag = "service",
    operation_id = "api_index",
    responses((status = 200, description = "Links to the document and to each resource.", body = ApiIndex)),
)]
pub async fn index() -> Json<ApiIndex> {
    static INDEX: LazyLock<ApiIndex> = LazyLock::new(|| {
        let mut resources = serde_json::Map::new();
        for (path, item) in &document().paths.paths {
            // Collections: a GET without path parameters, other than the
            // entry point and the document themselves.
            if item.get.is_none() || path.contains('{') || path == "/api/v1" || path.ends_with("openapi.json") {
                continue;
            }
            let name = path.trim_start_matches("/api/v1/").trim_start_matches('/').replace('/', "_");
            resources.insert(name, serde_json::Value::String(path.clone()));
        }
        let mut links = serde_json::Map::new();
        links.insert("openapi".into(), "/api/v1/openapi.json".into());
        links.insert("docs".into(), "/api/docs/".into());
        ApiIndex { name: "chiase".into(), version: env!("CARGO_PKG_VERSION").into(), links, resources }
    });
    Json(INDEX.clone())
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "service",
    operation_id = "openapi_document",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API.", content_type = "application/json", body = Object)),
)]
pub async fn openapi_json() -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], document_json()).into_response()
}

/// The Content-Security-Policy of the reference page: the site's, plus
/// the one inline `<style>` Swagger UI's script adds (allowed by its hash,
/// not by `'unsafe-inline'`; the hash is of the vendored Swagger UI's
/// style, and a test opens the page to see it render). Scripts only from
/// files, as everywhere.
pub const DOCS_CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='; object-src 'none'; base-uri 'none'; form-action 'self'; \
frame-ancestors 'none'";

/// The interactive reference (Swagger UI, served from the binary) at
/// `/api/docs/`, reading `/api/v1/openapi.json`.
pub fn docs_router<S: Clone + Send + Sync + 'static>() -> axum::Router<S> {
    let config = utoipa_swagger_ui::Config::new(["/api/v1/openapi.json"])
        // No call to the public validator service: the page needs nothing from outside.
        .validator_url("none")
        .try_it_out_enabled(true);
    axum::Router::from(utoipa_swagger_ui::SwaggerUi::new("/api/docs").config(config)).layer(
        tower_http::set_header::SetResponseHeaderLayer::overriding(
            axum::http::header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DOCS_CONTENT_SECURITY_POLICY),
        ),
    )
}

/// A number or a string (a database named by its number in the decision
/// or by its id).
pub fn integer_or_string() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Integer))
        .item(ObjectBuilder::new().schema_type(Type::String))
        .description(Some("Its number in the current decision, or its id."))
        .into()
}

/// A file's bytes, as a request or response body (`type: string,
/// format: binary`; `Vec<u8>` would be described as an array of numbers).
pub struct Binary;

impl utoipa::PartialSchema for Binary {
    fn schema() -> RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .description(Some("The file's bytes."))
            .into()
    }
}

impl ToSchema for Binary {}

/// A GeoJSON FeatureCollection (RFC 7946).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct FeatureCollection {
    /// `FeatureCollection`.
    r#type: String,
    /// Each record as a Feature: its geometry and its other fields as
    /// `properties`.
    features: Vec<serde_json::Value>,
}
