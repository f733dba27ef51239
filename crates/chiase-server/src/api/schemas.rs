//! OpenAPI schemas of the JSON the API answers with, where that JSON is a
//! storage type serialized as it is (`chiase_store` stays free of HTTP and
//! its documentation) or a shape a handler builds. Domain types (sharing
//! modes, cadences, roles, Table Schema…) carry their own schemas in
//! `chiase_core` (feature `openapi`). These types are never built: they
//! describe; schemathesis in CI checks every response against them
//! (`response_schema_conformance`), so a description that drifts from the
//! JSON fails CI.
#![allow(dead_code)]

use chiase_core::Msg;
use chiase_core::agency::{AgencyKind, AgencyStatus};
use chiase_core::catalog::{Cadence, CatalogRow, Channel, EntryFields, FieldChange};
use chiase_core::policy::{Reason, Role};
use chiase_core::requests::RequestStatus;
use chiase_core::schema::SchemaSpec;
use chiase_core::sharing::{DerivationBasis, ModeScope, SharingMode};
use chiase_core::text::CleanText;
use chrono::{DateTime, NaiveDate, Utc};
use utoipa::ToSchema;

/// An agency named by its id and current name.
#[derive(ToSchema)]
pub struct AgencyRef {
    pub id: String,
    pub name: String,
}

/// `GET /healthz`.
#[derive(ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` (503) when the database does not answer.
    pub status: String,
    /// `sqlite` or `postgres`.
    pub engine: String,
    pub version: Option<String>,
}

// ---------------------------------------------------------------------------
// Catalog

/// A database in a list of search results.
#[derive(ToSchema)]
pub struct DatabaseSummary {
    /// Its id (a slug, stable across decisions).
    pub id: String,
    /// Its number in the current decision.
    pub no: Option<i64>,
    pub name: String,
    pub owner: AgencyRef,
    pub sharing_modes: Vec<SharingMode>,
    pub cadence: Cadence,
    /// The description in one line.
    pub summary: String,
}

/// A facet value and how many results have it.
#[derive(ToSchema)]
pub struct FacetValue {
    pub value: String,
    /// The value in words (in `lang`).
    pub label: String,
    pub count: i64,
}

#[derive(ToSchema)]
pub struct DatabaseFacets {
    pub agency: Vec<FacetValue>,
    pub sharing: Vec<FacetValue>,
    pub cadence: Vec<FacetValue>,
}

/// `GET /api/v1/databases`.
#[derive(ToSchema)]
pub struct DatabasePage {
    /// Results in all (not only on this page).
    pub count: i64,
    pub limit: i64,
    pub offset: i64,
    /// `all`: every word occurs in each result; `any`: no result had every
    /// word, so results with any of them are shown. Absent without `q`.
    #[schema(value_type = Option<String>)]
    pub matched: Option<String>,
    pub results: Vec<DatabaseSummary>,
    pub facets: DatabaseFacets,
}

/// A period of ownership.
#[derive(ToSchema)]
pub struct OwnerSpan {
    pub agency: AgencyRef,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    /// `decision`, `merger` or `transfer`.
    pub reason: String,
}

/// A catalog version named by its decision.
#[derive(ToSchema)]
pub struct VersionRef {
    pub id: i64,
    pub decision_no: String,
    pub decision_date: NaiveDate,
    pub signer: Option<String>,
}

#[derive(ToSchema)]
pub struct SharingLabel {
    pub mode: SharingMode,
    pub label: String,
}

#[derive(ToSchema)]
pub struct ChannelLabel {
    pub code: Channel,
    pub label: String,
}

#[derive(ToSchema)]
pub struct OwnerAsOf {
    pub date: NaiveDate,
    /// Nobody before the first decision that listed the database.
    pub owner: Option<AgencyRef>,
}

/// `GET /api/v1/databases/{key}`: the cells as the decision published them
/// (`verbatim`) and the fields derived from them.
#[derive(ToSchema)]
pub struct DatabaseDetail {
    pub id: String,
    pub no: Option<i64>,
    pub name: String,
    /// `listed`, or `withdrawn` by a later decision.
    pub status: String,
    pub owner: AgencyRef,
    pub owner_history: Vec<OwnerSpan>,
    pub sharing_modes: Vec<SharingMode>,
    pub sharing: Vec<SharingLabel>,
    pub sharing_scopes: Vec<ModeScope>,
    pub sharing_derivation: DerivationBasis,
    pub terms_of_use: Option<String>,
    pub cadence: Cadence,
    pub cadence_label: String,
    pub channels: Vec<ChannelLabel>,
    pub description: CleanText,
    pub description_text: String,
    pub mechanism: CleanText,
    pub mechanism_text: String,
    pub category: String,
    pub notes: String,
    pub verbatim: CatalogRow,
    pub version: VersionRef,
    pub listed_in: Vec<VersionRef>,
    /// With `as_of`: who owned it on that date.
    pub owner_as_of: Option<OwnerAsOf>,
    /// The datasets it holds, each marked readable or not for the caller.
    pub datasets: Vec<Dataset>,
}

/// Keeps [`EntryFields`] in the components for clients that read the
/// catalog's derived fields elsewhere.
#[derive(ToSchema)]
pub struct DerivedFields {
    pub fields: EntryFields,
}

/// A catalog version: one decision's table.
#[derive(ToSchema)]
pub struct CatalogVersion {
    pub id: i64,
    pub decision_no: String,
    pub decision_date: NaiveDate,
    pub signer: Option<String>,
    pub title: Option<String>,
    pub source_name: String,
    pub source_sha256: String,
    pub source_title: Option<String>,
    pub entry_count: i64,
    pub imported_at: DateTime<Utc>,
}

#[derive(ToSchema)]
pub struct CatalogVersionList {
    pub count: i64,
    pub results: Vec<CatalogVersion>,
}

/// A database as a diff names it.
#[derive(ToSchema)]
pub struct DatabaseRef {
    pub id: String,
    pub no: i64,
    pub name: String,
}

#[derive(ToSchema)]
pub struct ChangedDatabase {
    pub database: DatabaseRef,
    pub changes: Vec<FieldChange>,
}

/// `GET /api/v1/catalog/versions/{from}/diff/{to}`.
#[derive(ToSchema)]
pub struct CatalogDiff {
    pub from: Option<CatalogVersion>,
    pub to: Option<CatalogVersion>,
    pub added: Vec<DatabaseRef>,
    pub removed: Vec<DatabaseRef>,
    pub changed: Vec<ChangedDatabase>,
    /// How many databases are the same in both.
    pub unchanged: i64,
}

// ---------------------------------------------------------------------------
// Agencies

/// An agency's focal contact for data sharing (each part may be absent).
#[derive(ToSchema)]
pub struct Contact {
    pub name: Option<String>,
    pub position: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// An agency.
#[derive(ToSchema)]
pub struct Agency {
    /// The public id (a slug of its first name; it never changes).
    pub id: String,
    pub name: String,
    pub kind: AgencyKind,
    pub status: AgencyStatus,
    pub established_on: Option<NaiveDate>,
    pub ended_on: Option<NaiveDate>,
    /// The agency it merged into.
    pub successor: Option<AgencyRef>,
    pub contact: Contact,
    pub database_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(ToSchema)]
pub struct AgencyList {
    pub count: i64,
    pub results: Vec<Agency>,
}

#[derive(ToSchema)]
pub struct NameSpan {
    pub name: String,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
}

#[derive(ToSchema)]
pub struct AgencyEvent {
    /// `created`, `renamed`, `merged`, `dissolved`…
    pub kind: String,
    pub occurred_on: NaiveDate,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub recorded_at: DateTime<Utc>,
}

#[derive(ToSchema)]
pub struct OwnedDatabase {
    pub id: String,
    pub no: Option<i64>,
    pub name: String,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub reason: String,
}

/// `GET /api/v1/agencies/{id}`: the agency's fields and its history.
#[derive(ToSchema)]
pub struct AgencyDetail {
    pub id: String,
    pub name: String,
    pub kind: AgencyKind,
    pub status: AgencyStatus,
    pub established_on: Option<NaiveDate>,
    pub ended_on: Option<NaiveDate>,
    pub successor: Option<AgencyRef>,
    pub contact: Contact,
    pub database_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub names: Vec<NameSpan>,
    pub events: Vec<AgencyEvent>,
    /// Agencies merged into this one.
    pub predecessors: Vec<AgencyRef>,
    /// Databases it owns now.
    pub databases: Vec<OwnedDatabase>,
    /// Databases it owned before.
    pub former_databases: Vec<OwnedDatabase>,
}

/// What a merger or dissolution moved.
#[derive(ToSchema)]
pub struct TransferSummary {
    pub agency: AgencyRef,
    pub successor: Option<AgencyRef>,
    pub databases_moved: i64,
    pub users_moved: i64,
    pub users_suspended: i64,
}

// ---------------------------------------------------------------------------
// Datasets

#[derive(ToSchema)]
pub struct DatasetDatabase {
    pub id: String,
    pub no: Option<i64>,
    pub name: String,
}

#[derive(ToSchema)]
pub struct DatasetLinks {
    /// The dataset itself (`GET /api/v1/datasets/{id}`).
    pub dataset: String,
    pub records: String,
    pub changes: String,
    pub export_csv: String,
}

/// A hosted dataset. `row_count`, `last_seq` and `data_updated_at` are
/// `null` for a caller who may not read its rows (`readable: false`), and
/// `updated_at` is then when its description last changed (for a reader,
/// its description or its data).
#[derive(ToSchema)]
pub struct Dataset {
    pub id: String,
    pub database: DatasetDatabase,
    pub owner: AgencyRef,
    pub title: String,
    pub title_en: Option<String>,
    pub description: String,
    pub licence: String,
    pub sharing_mode: SharingMode,
    pub cadence: Cadence,
    /// The theme its stewards set; `null`: none set.
    pub theme: Option<chiase_core::theme::Theme>,
    /// The theme derived from the owner agency's name, which DCAT uses
    /// while none is set; `null` when the name says nothing.
    pub theme_proposed: Option<chiase_core::theme::Theme>,
    pub schema: SchemaSpec,
    pub schema_version: i64,
    pub synthetic: bool,
    /// The template it was made from.
    pub template: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub row_count: Option<i64>,
    pub last_seq: Option<i64>,
    pub data_updated_at: Option<DateTime<Utc>>,
    pub readable: bool,
    /// The harvest source its rows come from (then it is read-only here);
    /// `null`: kept here.
    pub harvested_from: Option<String>,
    pub links: DatasetLinks,
}

#[derive(ToSchema)]
pub struct DatasetList {
    pub count: i64,
    pub results: Vec<Dataset>,
}

#[derive(ToSchema)]
pub struct FieldNote {
    pub name: String,
    pub empty: i64,
    pub distinct: i64,
    pub distinct_capped: Option<bool>,
    pub example: Option<String>,
    pub remarks: Option<Vec<Msg>>,
}

/// `POST /api/v1/schema/infer`: a proposed schema, to check and correct.
#[derive(ToSchema)]
pub struct SchemaProposal {
    pub schema: SchemaSpec,
    pub rows_sampled: i64,
    pub notes: Vec<FieldNote>,
    pub warnings: Option<Vec<Msg>>,
}

// ---------------------------------------------------------------------------
// Records

/// One record: `_id` (the row's number), then the fields the caller may
/// see, each as its JSON value (`null` when empty).
#[derive(ToSchema)]
pub struct Record {
    pub _id: i64,
}

#[derive(ToSchema)]
pub struct FacetCount {
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
    pub count: i64,
}

/// A page of records.
#[derive(ToSchema)]
pub struct RecordPage {
    /// Matches in all, when counted.
    pub total: Option<i64>,
    /// Whether `total` is exact (false: a lower bound or an estimate).
    pub total_exact: bool,
    /// The fields shown, in order.
    pub fields: Vec<String>,
    pub records: Vec<Record>,
    /// The cursor of the next page (`after`), when there is one.
    pub next: Option<String>,
    /// Fewer rows than `limit` although more may match: the filter is
    /// sparse in the order asked and the read stopped at its bound; `next`
    /// continues after the last row examined. Follow `next` until it is null.
    pub partial: bool,
    /// Per field named in `facet`: its values and counts.
    #[schema(value_type = Object)]
    pub facets: serde_json::Map<String, serde_json::Value>,
    /// The change number the page was read at.
    pub seq: i64,
}

/// One change of the feed.
#[derive(ToSchema)]
pub struct Change {
    pub seq: i64,
    /// `insert`, `update` or `delete`.
    pub op: String,
    /// The row's number.
    pub id: i64,
    /// The row's key (absent for a caller who may not see it).
    pub key: Option<String>,
    /// The visible fields after the change (`null` for a delete).
    #[schema(value_type = Option<Object>)]
    pub values: Option<serde_json::Map<String, serde_json::Value>>,
    pub actor: String,
    pub at: DateTime<Utc>,
}

/// `GET …/changes`: changes after `since`, and where to resume.
#[derive(ToSchema)]
pub struct ChangePage {
    pub changes: Vec<Change>,
    pub next_since: i64,
    pub last_seq: i64,
}

/// What a write or an import did.
#[derive(ToSchema)]
pub struct WriteSummary {
    pub dataset: String,
    pub mode: String,
    pub inserted: i64,
    pub updated: i64,
    pub deleted: i64,
    pub unchanged: i64,
    pub first_seq: i64,
    pub last_seq: i64,
    pub row_count: i64,
}

/// Something the reader of an uploaded file left out or understood (a
/// title block, a two-row header, a totals row, a signature block).
#[derive(ToSchema)]
pub struct ReadNote {
    pub line: u64,
    pub message: String,
    pub message_en: String,
}

/// What an import answers: what it wrote (the counts, with the reader's
/// notes and, with `on_error=hold`, the rows held back), or with
/// `dry_run=true` what it read (`dry_run`, `rows_read`, no errors).
#[derive(ToSchema)]
pub struct ImportResult {
    pub dataset: Option<String>,
    pub mode: Option<String>,
    pub inserted: Option<i64>,
    pub updated: Option<i64>,
    pub deleted: Option<i64>,
    pub unchanged: Option<i64>,
    pub first_seq: Option<i64>,
    pub last_seq: Option<i64>,
    pub row_count: Option<i64>,
    /// The sheet read, for workbooks.
    pub sheet: Option<String>,
    pub notes: Option<Vec<ReadNote>>,
    /// `on_error=hold`: the report of the rows held back (`bad_rows`,
    /// `errors` by row and column).
    #[schema(value_type = Option<Object>)]
    pub held: Option<serde_json::Value>,
    /// `true` for a check that wrote nothing.
    pub dry_run: Option<bool>,
    pub rows_read: Option<u64>,
    pub bad_rows: Option<u64>,
    pub total_errors: Option<u64>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub errors: Option<Vec<serde_json::Value>>,
}

/// A file attached to a dataset.
#[derive(ToSchema)]
pub struct FileInfo {
    pub id: i64,
    pub record_key: Option<String>,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub uploaded_by: String,
    pub uploaded_at: DateTime<Utc>,
}

#[derive(ToSchema)]
pub struct FileList {
    pub count: i64,
    pub results: Vec<FileInfo>,
}

// ---------------------------------------------------------------------------
// Accounts

/// An account.
#[derive(ToSchema)]
pub struct User {
    pub username: String,
    pub display_name: String,
    pub agency: Option<AgencyRef>,
    /// False when the account's agency merged away or was dissolved.
    pub agency_active: bool,
    pub role: Role,
    /// `active` or `disabled`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
    /// Where the account's notifications are mailed (none: the portal only).
    pub email: Option<String>,
}

#[derive(ToSchema)]
pub struct UserList {
    pub count: i64,
    pub results: Vec<User>,
}

/// An API token, without its secret.
#[derive(ToSchema)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    /// The first characters, to recognise it.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

#[derive(ToSchema)]
pub struct TokenList {
    pub count: i64,
    pub results: Vec<TokenInfo>,
}

/// A new token: shown here once, only its hash is kept.
#[derive(ToSchema)]
pub struct NewToken {
    pub token: String,
    pub info: TokenInfo,
}

/// A signed-in session (the cookie is in `Set-Cookie`).
#[derive(ToSchema)]
pub struct Session {
    pub user: User,
    /// To send back as `X-CSRF-Token` with every change.
    pub csrf_token: String,
}

// ---------------------------------------------------------------------------
// Requests

/// A sharing request, and the grant it became once approved.
#[derive(ToSchema)]
pub struct SharingRequest {
    pub id: i64,
    pub dataset: String,
    pub dataset_title: String,
    /// The agency that owns the dataset and decides.
    pub owner: AgencyRef,
    pub requester: String,
    /// The consumer agency.
    pub agency: AgencyRef,
    pub fields: Option<Vec<String>>,
    pub purpose: String,
    pub legal_basis: Option<String>,
    pub period_from: DateTime<Utc>,
    pub period_to: DateTime<Utc>,
    pub status: RequestStatus,
    pub created_at: DateTime<Utc>,
    pub deadline_at: DateTime<Utc>,
    pub overdue: bool,
    pub expired: bool,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub granted_fields: Option<Vec<String>>,
    pub granted_from: Option<DateTime<Utc>>,
    pub granted_to: Option<DateTime<Utc>>,
    pub decision_no: Option<String>,
    pub decision_date: Option<NaiveDate>,
    pub refusal_reason: Option<String>,
    pub refusal_legal_basis: Option<String>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoke_reason: Option<String>,
}

#[derive(ToSchema)]
pub struct RequestList {
    pub count: i64,
    pub results: Vec<SharingRequest>,
}

/// A request that is not needed: the caller can read the data already.
#[derive(ToSchema)]
pub struct RequestNotNeeded {
    pub needed: bool,
    pub message: String,
    pub message_en: String,
    pub basis: Reason,
}

// ---------------------------------------------------------------------------
// Audit

/// One event of the audit chain.
#[derive(ToSchema)]
pub struct AuditEvent {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub user_id: Option<i64>,
    pub agency_id: Option<i64>,
    pub action: String,
    pub dataset_id: Option<i64>,
    pub target: Option<String>,
    /// Canonical JSON of the event's details.
    pub detail: String,
    pub source: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

/// `GET /api/v1/audit` as JSON.
#[derive(ToSchema)]
pub struct AuditList {
    pub count: i64,
    /// Give it as `after` for the next page.
    pub next_after: Option<i64>,
    pub results: Vec<AuditEvent>,
}

#[derive(ToSchema)]
pub struct CheckpointUsed {
    pub seq: i64,
    pub hash: String,
    pub at: String,
    /// `table`, `file`, or both.
    pub sources: Vec<String>,
}

/// `GET /api/v1/audit/verify`.
#[derive(ToSchema)]
pub struct Verification {
    pub events: i64,
    pub ok: bool,
    pub first_bad: Option<i64>,
    pub problem: Option<String>,
    pub problem_vi: Option<String>,
    pub head_seq: i64,
    pub head_hash: String,
    /// `checkpoint`, `no_checkpoint` or `no_key`.
    pub anchor: String,
    pub checkpoint: Option<CheckpointUsed>,
    pub checkpoints: i64,
    pub unanchored_events: i64,
    pub expected_head: Option<i64>,
    pub note: String,
    pub note_vi: String,
}

#[derive(ToSchema)]
pub struct OpenReads {
    pub dataset: String,
    pub day: NaiveDate,
    pub reads: i64,
    pub rows: i64,
}

/// `GET /api/v1/stats`.
#[derive(ToSchema)]
pub struct Stats {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub open_reads: Vec<OpenReads>,
}

/// Where to fetch a Data Package: its `datapackage.json` or its zip.
#[derive(ToSchema)]
pub struct PackageUrl {
    pub url: String,
}

/// What a Data Package import did (201), or, under `error.fields.report`
/// of a 422, why it did nothing.
#[derive(ToSchema)]
pub struct PackageReport {
    /// The catalog database's id.
    pub database: String,
    /// The package's `name`.
    pub package: Option<String>,
    /// Datasets created: every resource, or none.
    pub created: u64,
    pub resources: Vec<PackageResourceReport>,
}

/// One resource of an imported package.
#[derive(ToSchema)]
pub struct PackageResourceReport {
    /// The resource's name in the package.
    pub name: String,
    /// The dataset it became (or would have).
    pub dataset: String,
    pub title: String,
    pub sharing_mode: SharingMode,
    pub fields: u64,
    pub rows_read: u64,
    /// Rows written; `null` when nothing was.
    pub rows_imported: Option<i64>,
    /// Row (line), column, field, value and message in both languages.
    pub errors: Vec<serde_json::Value>,
}
