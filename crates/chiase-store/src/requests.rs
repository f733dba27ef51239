//! Sharing requests and the grants they become. The rules of each step are
//! in `chiase_core::requests`; who may file, see, list and decide is
//! decided by `chiase_core::policy`, whose permits these functions take.

use chiase_core::ids::{AgencyId, DatasetId, RequestId, UserId};
use chiase_core::policy::{FilingPermit, GrantFacts, GrantState, RequestFacts, RequestListPermit, RequestScope, StepPermit};
use chiase_core::requests::{RequestStatus, Step, check_step};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;
use sqlx::types::Json;

use crate::agencies::AgencyRef;
use crate::db::{Id, Sql};
use crate::{Store, StoreError, now};

/// A request as its parties see it.
#[derive(Debug, Clone, Serialize)]
pub struct SharingRequest {
    pub id: RequestId,
    pub dataset: String,
    #[serde(skip)]
    pub dataset_pk: DatasetId,
    pub dataset_title: String,
    /// The agency that owns the dataset and decides.
    pub owner: AgencyRef,
    #[serde(skip)]
    pub owner_pk: AgencyId,
    pub requester: String,
    #[serde(skip)]
    pub requester_pk: UserId,
    /// The consumer agency.
    pub agency: AgencyRef,
    #[serde(skip)]
    pub agency_pk: AgencyId,
    pub fields: Option<Vec<String>>,
    pub purpose: String,
    pub legal_basis: Option<String>,
    pub period_from: DateTime<Utc>,
    pub period_to: DateTime<Utc>,
    pub status: RequestStatus,
    pub created_at: DateTime<Utc>,
    pub deadline_at: DateTime<Utc>,
    /// Pending past its deadline.
    pub overdue: bool,
    /// Approved, but its period is over.
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

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    dataset_slug: String,
    dataset_pk: i64,
    dataset_title: String,
    owner_slug: String,
    owner_name: String,
    owner_pk: i64,
    requester: String,
    requester_pk: i64,
    agency_slug: String,
    agency_name: String,
    agency_pk: i64,
    fields: Option<Json<Vec<String>>>,
    purpose: String,
    legal_basis: Option<String>,
    period_from: DateTime<Utc>,
    period_to: DateTime<Utc>,
    status: String,
    created_at: DateTime<Utc>,
    deadline_at: DateTime<Utc>,
    decided_by: Option<String>,
    decided_at: Option<DateTime<Utc>>,
    granted_fields: Option<Json<Vec<String>>>,
    granted_from: Option<DateTime<Utc>>,
    granted_to: Option<DateTime<Utc>>,
    decision_no: Option<String>,
    decision_date: Option<NaiveDate>,
    refusal_reason: Option<String>,
    refusal_legal_basis: Option<String>,
    revoked_at: Option<DateTime<Utc>>,
    revoke_reason: Option<String>,
}

const SELECT: &str = "SELECT r.id, s.slug AS dataset_slug, s.id AS dataset_pk, s.title AS dataset_title, \
     o.slug AS owner_slug, o.name AS owner_name, o.id AS owner_pk, u.username AS requester, u.id AS requester_pk, \
     a.slug AS agency_slug, a.name AS agency_name, a.id AS agency_pk, r.fields, r.purpose, r.legal_basis, r.period_from, r.period_to, \
     r.status, r.created_at, r.deadline_at, du.username AS decided_by, r.decided_at, r.granted_fields, r.granted_from, r.granted_to, \
     r.decision_no, r.decision_date, r.refusal_reason, r.refusal_legal_basis, r.revoked_at, r.revoke_reason \
     FROM sharing_requests r JOIN datasets s ON s.id = r.dataset_id JOIN databases d ON d.id = s.database_id \
     JOIN agencies o ON o.id = d.owner_id JOIN users u ON u.id = r.requester_id JOIN agencies a ON a.id = r.agency_id \
     LEFT JOIN users du ON du.id = r.decided_by";

impl Row {
    fn into_request(self, now: DateTime<Utc>) -> Result<SharingRequest, StoreError> {
        let status: RequestStatus = self.status.parse().map_err(|s| StoreError::Corrupt(format!("request status «{s}»")))?;
        Ok(SharingRequest {
            id: RequestId(self.id),
            dataset: self.dataset_slug,
            dataset_pk: DatasetId(self.dataset_pk),
            dataset_title: self.dataset_title,
            owner: AgencyRef { id: self.owner_slug, name: self.owner_name },
            owner_pk: AgencyId(self.owner_pk),
            requester: self.requester,
            requester_pk: UserId(self.requester_pk),
            agency: AgencyRef { id: self.agency_slug, name: self.agency_name },
            agency_pk: AgencyId(self.agency_pk),
            fields: self.fields.map(|j| j.0),
            purpose: self.purpose,
            legal_basis: self.legal_basis,
            period_from: self.period_from,
            period_to: self.period_to,
            overdue: status == RequestStatus::Pending && self.deadline_at < now,
            expired: status == RequestStatus::Approved && self.granted_to.is_some_and(|t| t <= now),
            status,
            created_at: self.created_at,
            deadline_at: self.deadline_at,
            decided_by: self.decided_by,
            decided_at: self.decided_at,
            granted_fields: self.granted_fields.map(|j| j.0),
            granted_from: self.granted_from,
            granted_to: self.granted_to,
            decision_no: self.decision_no,
            decision_date: self.decision_date,
            refusal_reason: self.refusal_reason,
            refusal_legal_basis: self.refusal_legal_basis,
            revoked_at: self.revoked_at,
            revoke_reason: self.revoke_reason,
        })
    }
}

impl SharingRequest {
    /// What the policy needs to know of it.
    pub fn facts(&self) -> RequestFacts {
        RequestFacts {
            id: self.id,
            dataset: self.dataset_pk,
            owner: self.owner_pk,
            consumer: self.agency_pk,
            requester: self.requester_pk,
            status: self.status,
        }
    }
}

/// A new request, checked by the caller against the dataset's schema.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub fields: Option<Vec<String>>,
    pub purpose: String,
    pub legal_basis: Option<String>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// The details of a decision.
#[derive(Debug, Clone, Default)]
pub struct DecisionDetails {
    pub fields: Option<Vec<String>>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub decision_no: Option<String>,
    pub decision_date: Option<NaiveDate>,
    pub reason: Option<String>,
    pub legal_basis: Option<String>,
}

impl Store {
    /// Files a request, for the permit's dataset, agency and requester.
    pub async fn create_request(&self, permit: &FilingPermit, new: &NewRequest, deadline_days: i64) -> Result<SharingRequest, StoreError> {
        let ts = now();
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        let Id(id) = conn
            .fetch_one(
                Sql::new(
                    "INSERT INTO sharing_requests (dataset_id, requester_id, agency_id, fields, purpose, legal_basis, period_from, period_to, status, created_at, deadline_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?) RETURNING id",
                )
                .bind(permit.dataset().get())
                .bind(permit.user().get())
                .bind(permit.agency().get())
                .bind(new.fields.as_ref().map(|f| serde_json::json!(f)))
                .bind(new.purpose.as_str())
                .bind(new.legal_basis.clone())
                .bind(new.from)
                .bind(new.to)
                .bind(ts)
                .bind(ts + Duration::days(deadline_days)),
            )
            .await?;
        let row: Row = conn.fetch_one(Sql::assembled(format!("{SELECT} WHERE r.id = ?")).bind(id)).await?;
        tx.commit().await?;
        row.into_request(ts)
    }

    /// One request, for deciding who may see it (`policy::decide_view`)
    /// and what steps may be taken on it.
    pub async fn request(&self, id: RequestId) -> Result<Option<SharingRequest>, StoreError> {
        let mut c = self.pools.reader().await?;
        let row: Option<Row> = c.conn().fetch_optional(Sql::assembled(format!("{SELECT} WHERE r.id = ?")).bind(id.get())).await?;
        row.map(|r| r.into_request(now())).transpose()
    }

    /// The requests a permit's scope shows, newest first.
    pub async fn requests(&self, permit: &RequestListPermit, status: Option<RequestStatus>) -> Result<Vec<SharingRequest>, StoreError> {
        let mut sql = format!("{SELECT} WHERE 1 = 1");
        let mut values: Vec<sea_query::Value> = vec![];
        match permit.scope() {
            RequestScope::FiledBy(a) => {
                sql.push_str(" AND r.agency_id = ?");
                values.push(a.get().into());
            }
            RequestScope::ToDecideBy(a) => {
                sql.push_str(" AND d.owner_id = ?");
                values.push(a.get().into());
            }
            RequestScope::All => {}
        }
        if let Some(s) = status {
            sql.push_str(" AND r.status = ?");
            values.push(s.code().into());
        }
        sql.push_str(" ORDER BY r.created_at DESC, r.id DESC LIMIT 1000");
        let mut c = self.pools.reader().await?;
        let rows: Vec<Row> = c.conn().fetch_all(values.into_iter().fold(Sql::assembled(sql), Sql::bind)).await?;
        let ts = now();
        rows.into_iter().map(|r| r.into_request(ts)).collect()
    }

    /// Takes the permit's step on its request.
    pub async fn decide_request(&self, permit: &StepPermit, d: &DecisionDetails) -> Result<SharingRequest, StoreError> {
        let (id, step, by) = (permit.request().get(), *permit.step(), permit.by().map(UserId::get));
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        let current: Row = conn
            .fetch_optional(Sql::assembled(format!("{SELECT} WHERE r.id = ?")).bind(id))
            .await?
            .ok_or_else(|| StoreError::not_found(format!("không có yêu cầu {id}"), format!("no request {id}")))?;
        let status: RequestStatus = current.status.parse().map_err(|s| StoreError::Corrupt(format!("status «{s}»")))?;
        check_step(status, &step)?;
        let ts = now();
        let sql = match step {
            Step::Approve => Sql::new(
                "UPDATE sharing_requests SET status = 'approved', decided_by = ?, decided_at = ?, granted_fields = ?, granted_from = ?, granted_to = ?, \
                 decision_no = ?, decision_date = ? WHERE id = ?",
            )
            .bind(by)
            .bind(ts)
            .bind(d.fields.as_ref().or(current.fields.as_ref().map(|j| &j.0)).map(|f| serde_json::json!(f)))
            .bind(d.from.unwrap_or(current.period_from))
            .bind(d.to.unwrap_or(current.period_to))
            .bind(d.decision_no.clone())
            .bind(d.decision_date)
            .bind(id),
            Step::Refuse => Sql::new(
                "UPDATE sharing_requests SET status = 'refused', decided_by = ?, decided_at = ?, refusal_reason = ?, refusal_legal_basis = ? WHERE id = ?",
            )
            .bind(by)
            .bind(ts)
            .bind(d.reason.clone())
            .bind(d.legal_basis.clone())
            .bind(id),
            Step::Withdraw => Sql::new("UPDATE sharing_requests SET status = 'withdrawn', revoked_at = ? WHERE id = ?").bind(ts).bind(id),
            Step::Revoke => Sql::new("UPDATE sharing_requests SET status = 'revoked', revoked_by = ?, revoked_at = ?, revoke_reason = ? WHERE id = ?")
                .bind(by)
                .bind(ts)
                .bind(d.reason.clone())
                .bind(id),
        };
        conn.execute(sql).await?;
        let row: Row = conn.fetch_one(Sql::assembled(format!("{SELECT} WHERE r.id = ?")).bind(id)).await?;
        tx.commit().await?;
        row.into_request(ts)
    }

    /// The grants an agency holds for a dataset, as the policy reads them.
    pub async fn grants_for(&self, agency: AgencyId, dataset: DatasetId) -> Result<Vec<GrantFacts>, StoreError> {
        Ok(self.grants_of(agency).await?.into_iter().filter(|g| g.dataset_id == dataset).collect())
    }

    /// Every approved grant an agency holds, as the policy reads them.
    pub async fn grants_of(&self, agency: AgencyId) -> Result<Vec<GrantFacts>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct G {
            id: i64,
            dataset_id: i64,
            status: String,
            granted_fields: Option<Json<Vec<String>>>,
            legal_basis: Option<String>,
            granted_from: Option<DateTime<Utc>>,
            granted_to: Option<DateTime<Utc>>,
        }
        let mut c = self.pools.reader().await?;
        let rows: Vec<G> = c
            .conn()
            .fetch_all(
                Sql::new(
                    "SELECT id, dataset_id, status, granted_fields, legal_basis, granted_from, granted_to FROM sharing_requests \
                     WHERE agency_id = ? AND status = 'approved' ORDER BY id DESC",
                )
                .bind(agency.get()),
            )
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|g| {
                Some(GrantFacts {
                    grant_id: RequestId(g.id),
                    dataset_id: DatasetId(g.dataset_id),
                    agency_id: agency,
                    state: if g.status == "approved" { GrantState::Active } else { GrantState::Revoked },
                    fields: g.granted_fields.map(|j| j.0),
                    legal_basis: g.legal_basis,
                    valid_from: g.granted_from?,
                    valid_to: g.granted_to?,
                })
            })
            .collect())
    }
}
