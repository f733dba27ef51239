//! Notifications: what a person is told about a sharing request (filed,
//! decided, its deadline near or passed, its grant ending), listed in the
//! portal and mailed when an SMTP server is configured. Who is told what is
//! decided by the server's use case (`usecase::notifications`); this module
//! keeps the rows. Each (person, kind, request) is told once: a unique key,
//! not a check before inserting, so that scans running twice, or in two
//! processes, add nothing the second time.

use chiase_core::ids::{AgencyId, RequestId, UserId};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::db::{Id, Sql};
use crate::{Store, StoreError, now};

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// A request was filed: for the owner agency's stewards.
    RequestFiled,
    /// A request was approved or refused: for the officer who filed it.
    RequestDecided,
    /// A pending request's deadline is near: for the owner's stewards.
    DeadlineNear,
    /// A pending request's deadline has passed: for the owner's stewards.
    DeadlinePassed,
    /// A grant ends soon: for the officer who filed the request.
    GrantExpiring,
}

impl NotificationKind {
    pub const ALL: [NotificationKind; 5] = [
        NotificationKind::RequestFiled,
        NotificationKind::RequestDecided,
        NotificationKind::DeadlineNear,
        NotificationKind::DeadlinePassed,
        NotificationKind::GrantExpiring,
    ];

    pub fn code(self) -> &'static str {
        match self {
            NotificationKind::RequestFiled => "request_filed",
            NotificationKind::RequestDecided => "request_decided",
            NotificationKind::DeadlineNear => "deadline_near",
            NotificationKind::DeadlinePassed => "deadline_passed",
            NotificationKind::GrantExpiring => "grant_expiring",
        }
    }

    fn parse(code: &str) -> Result<NotificationKind, StoreError> {
        NotificationKind::ALL
            .into_iter()
            .find(|k| k.code() == code)
            .ok_or_else(|| StoreError::Corrupt(format!("notification kind «{code}»")))
    }
}

/// Who is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The active stewards of an agency.
    Stewards(AgencyId),
    /// One account, if active.
    User(UserId),
}

/// A notification, with what a page or an e-mail says of its request.
#[derive(Debug, Clone, Serialize)]
pub struct Notification {
    pub id: i64,
    pub kind: NotificationKind,
    pub request: RequestId,
    /// The dataset's id (slug) and title.
    pub dataset: String,
    pub dataset_title: String,
    /// The owner agency and the consumer agency, by name.
    pub owner: String,
    pub agency: String,
    /// The request's status now (`approved`, `refused`…).
    pub status: String,
    pub deadline_at: DateTime<Utc>,
    pub granted_to: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
    pub emailed_at: Option<DateTime<Utc>>,
}

/// A notification to mail, claimed by one sender.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub notification: Notification,
    pub email: String,
    pub display_name: String,
    /// The attempt this is (1 for the first).
    pub attempt: i64,
}

/// A request the periodic scan looks at: pending with its deadline, or
/// approved with its grant's end.
#[derive(Debug, Clone)]
pub struct DueRequest {
    pub request: RequestId,
    pub owner: AgencyId,
    pub requester: UserId,
    pub status: String,
    pub deadline_at: DateTime<Utc>,
    pub granted_to: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    kind: String,
    request_id: i64,
    created_at: DateTime<Utc>,
    read_at: Option<DateTime<Utc>>,
    emailed_at: Option<DateTime<Utc>>,
    dataset_slug: String,
    dataset_title: String,
    owner_name: String,
    agency_name: String,
    status: String,
    deadline_at: DateTime<Utc>,
    granted_to: Option<DateTime<Utc>>,
}

impl Row {
    fn into_notification(self) -> Result<Notification, StoreError> {
        Ok(Notification {
            id: self.id,
            kind: NotificationKind::parse(&self.kind)?,
            request: RequestId(self.request_id),
            dataset: self.dataset_slug,
            dataset_title: self.dataset_title,
            owner: self.owner_name,
            agency: self.agency_name,
            status: self.status,
            deadline_at: self.deadline_at,
            granted_to: self.granted_to,
            created_at: self.created_at,
            read_at: self.read_at,
            emailed_at: self.emailed_at,
        })
    }
}

const COLUMNS: &str = "n.id, n.kind, n.request_id, n.created_at, n.read_at, n.emailed_at, s.slug AS dataset_slug, s.title AS dataset_title, \
     o.name AS owner_name, a.name AS agency_name, r.status, r.deadline_at, r.granted_to";

const FROM: &str = "FROM notifications n JOIN sharing_requests r ON r.id = n.request_id JOIN datasets s ON s.id = r.dataset_id \
     JOIN databases d ON d.id = s.database_id JOIN agencies o ON o.id = d.owner_id JOIN agencies a ON a.id = r.agency_id";

/// Attempts at mailing one notification before it is left to the portal.
pub const MAX_EMAIL_TRIES: i64 = 8;

/// How long after an attempt the next may start: 2, 4, 8… minutes, at most
/// six hours (also how long a claimed attempt is protected from others).
fn backoff(tries: i64) -> Duration {
    Duration::minutes((2i64 << tries.clamp(0, 10)).min(6 * 60))
}

impl Store {
    /// Tells an audience about a request; returns the ids of the
    /// notifications added (none for those told already).
    pub async fn add_notifications(&self, kind: NotificationKind, request: RequestId, to: Audience) -> Result<Vec<i64>, StoreError> {
        let sql = match to {
            Audience::Stewards(agency) => Sql::new(
                "INSERT INTO notifications (user_id, kind, request_id, created_at) \
                 SELECT id, ?, ?, ? FROM users WHERE agency_id = ? AND role = 'steward' AND status = 'active' \
                 ON CONFLICT (user_id, kind, request_id) DO NOTHING RETURNING id",
            )
            .bind(kind.code())
            .bind(request.get())
            .bind(now())
            .bind(agency.get()),
            Audience::User(user) => Sql::new(
                "INSERT INTO notifications (user_id, kind, request_id, created_at) \
                 SELECT id, ?, ?, ? FROM users WHERE id = ? AND status = 'active' \
                 ON CONFLICT (user_id, kind, request_id) DO NOTHING RETURNING id",
            )
            .bind(kind.code())
            .bind(request.get())
            .bind(now())
            .bind(user.get()),
        };
        let mut tx = self.pools.begin().await?;
        let ids: Vec<Id> = tx.conn().fetch_all(sql).await?;
        tx.commit().await?;
        Ok(ids.into_iter().map(|Id(id)| id).collect())
    }

    /// A person's notifications, newest first (at most `limit`).
    pub async fn notifications(&self, user: UserId, limit: i64) -> Result<Vec<Notification>, StoreError> {
        let mut c = self.pools.reader().await?;
        let rows: Vec<Row> = c
            .conn()
            .fetch_all(
                Sql::assembled(format!("SELECT {COLUMNS} {FROM} WHERE n.user_id = ? ORDER BY n.created_at DESC, n.id DESC LIMIT ?"))
                    .bind(user.get())
                    .bind(limit.clamp(1, 1000)),
            )
            .await?;
        rows.into_iter().map(Row::into_notification).collect()
    }

    /// How many of a person's notifications are unread: one indexed count,
    /// for every page's header.
    pub async fn unread_notifications(&self, user: UserId) -> Result<i64, StoreError> {
        let mut c = self.pools.reader().await?;
        let Id(n) = c
            .conn()
            .fetch_one(Sql::new("SELECT count(*) FROM notifications WHERE user_id = ? AND read_at IS NULL").bind(user.get()))
            .await?;
        Ok(n)
    }

    /// Marks a person's unread notifications read: all of them, or those
    /// about one request. Returns how many.
    pub async fn mark_notifications_read(&self, user: UserId, request: Option<RequestId>) -> Result<u64, StoreError> {
        let sql = match request {
            None => Sql::new("UPDATE notifications SET read_at = ? WHERE user_id = ? AND read_at IS NULL").bind(now()).bind(user.get()),
            Some(r) => Sql::new("UPDATE notifications SET read_at = ? WHERE user_id = ? AND request_id = ? AND read_at IS NULL")
                .bind(now())
                .bind(user.get())
                .bind(r.get()),
        };
        let mut tx = self.pools.begin().await?;
        let n = tx.conn().execute(sql).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// The requests the periodic scan looks at: pending ones whose deadline
    /// is before `deadline_before`, approved ones whose grant ends between
    /// now and `grant_end_before`.
    pub async fn due_requests(
        &self,
        deadline_before: DateTime<Utc>,
        grant_end_before: DateTime<Utc>,
    ) -> Result<Vec<DueRequest>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Due {
            id: i64,
            owner_id: i64,
            requester_id: i64,
            status: String,
            deadline_at: DateTime<Utc>,
            granted_to: Option<DateTime<Utc>>,
        }
        let mut c = self.pools.reader().await?;
        let rows: Vec<Due> = c
            .conn()
            .fetch_all(
                Sql::new(
                    "SELECT r.id, d.owner_id, r.requester_id, r.status, r.deadline_at, r.granted_to \
                     FROM sharing_requests r JOIN datasets s ON s.id = r.dataset_id JOIN databases d ON d.id = s.database_id \
                     WHERE (r.status = 'pending' AND r.deadline_at <= ?) \
                        OR (r.status = 'approved' AND r.granted_to > ? AND r.granted_to <= ?) \
                     ORDER BY r.id",
                )
                .bind(deadline_before)
                .bind(now())
                .bind(grant_end_before),
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| DueRequest {
                request: RequestId(r.id),
                owner: AgencyId(r.owner_id),
                requester: UserId(r.requester_id),
                status: r.status,
                deadline_at: r.deadline_at,
                granted_to: r.granted_to,
            })
            .collect())
    }

    /// Claims up to `limit` notifications to mail: unread, not mailed,
    /// made after `since`, to an active account with an address, not
    /// claimed by another sender or waiting after a failure, tried fewer
    /// than [`MAX_EMAIL_TRIES`] times. A claim holds off other senders (in
    /// this process or another) until its back-off passes; a failed attempt
    /// is simply retried after it.
    pub async fn claim_emails(&self, since: DateTime<Utc>, limit: i64) -> Result<Vec<Outgoing>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct O {
            #[sqlx(flatten)]
            row: Row,
            email: String,
            display_name: String,
            email_tries: i64,
        }
        let ts = now();
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        let candidates: Vec<O> = conn
            .fetch_all(
                Sql::assembled(format!(
                    "SELECT {COLUMNS}, u.email, u.display_name, n.email_tries {FROM} JOIN users u ON u.id = n.user_id \
                     WHERE n.emailed_at IS NULL AND n.read_at IS NULL AND n.created_at > ? AND n.email_tries < ? \
                     AND (n.email_after IS NULL OR n.email_after <= ?) AND u.email IS NOT NULL AND u.status = 'active' \
                     ORDER BY n.id LIMIT ?"
                ))
                .bind(since)
                .bind(MAX_EMAIL_TRIES)
                .bind(ts)
                .bind(limit.clamp(1, 1000)),
            )
            .await?;
        let mut claimed = Vec::new();
        for o in candidates {
            // Conditional on what was read: of two senders, one wins.
            let n = conn
                .execute(
                    Sql::new(
                        "UPDATE notifications SET email_tries = email_tries + 1, email_after = ? \
                         WHERE id = ? AND emailed_at IS NULL AND email_tries = ?",
                    )
                    .bind(ts + backoff(o.email_tries))
                    .bind(o.row.id)
                    .bind(o.email_tries),
                )
                .await?;
            if n == 1 {
                claimed.push(Outgoing {
                    notification: o.row.into_notification()?,
                    email: o.email,
                    display_name: o.display_name,
                    attempt: o.email_tries + 1,
                });
            }
        }
        tx.commit().await?;
        Ok(claimed)
    }

    /// Records that a notification was mailed.
    pub async fn email_sent(&self, id: i64) -> Result<(), StoreError> {
        let mut tx = self.pools.begin().await?;
        tx.conn().execute(Sql::new("UPDATE notifications SET emailed_at = ? WHERE id = ?").bind(now()).bind(id)).await?;
        tx.commit().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_bounded() {
        assert_eq!(backoff(0), Duration::minutes(2));
        assert_eq!(backoff(1), Duration::minutes(4));
        assert_eq!(backoff(50), Duration::minutes(360));
        for k in NotificationKind::ALL {
            assert_eq!(NotificationKind::parse(k.code()).unwrap(), k);
        }
    }
}
