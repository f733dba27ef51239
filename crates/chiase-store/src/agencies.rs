//! Agencies: the catalog's owners, with names that change and lifecycles
//! that end in mergers. Ownership of databases moves with a merger inside
//! the same transaction, and every step is kept as a dated event.

use chiase_core::accounts::MergedUsers;
use chiase_core::agency::{AgencyKind, AgencyState, AgencyStatus, FocalContact, LifecycleChange, check_change};
use chiase_core::fold::{match_key, slugify};
use chiase_core::ids::AgencyId;
use chiase_core::policy::{AgencyAdminPermit, ContactPermit};
use chiase_core::text::clean_name;
use chiase_core::{DomainError, Msg};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::types::Json;

use crate::databases::bump_generation;
use crate::db::{Conn, Id, Sql};
use crate::{Store, StoreError, now};

/// An agency as the catalog shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Agency {
    #[serde(skip)]
    pub pk: i64,
    /// The public identifier (a slug of its first name; it never changes).
    #[sqlx(rename = "slug")]
    pub id: String,
    pub name: String,
    pub kind: String,
    pub status: String,
    pub established_on: Option<NaiveDate>,
    pub ended_on: Option<NaiveDate>,
    #[serde(skip)]
    pub successor_pk: Option<i64>,
    #[sqlx(skip)]
    pub successor: Option<AgencyRef>,
    #[sqlx(flatten)]
    pub contact: ContactRow,
    #[sqlx(skip)]
    pub database_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The focal contact columns.
#[derive(Debug, Clone, Default, Serialize, sqlx::FromRow)]
pub struct ContactRow {
    #[sqlx(rename = "contact_name")]
    pub name: Option<String>,
    #[sqlx(rename = "contact_position")]
    pub position: Option<String>,
    #[sqlx(rename = "contact_phone")]
    pub phone: Option<String>,
    #[sqlx(rename = "contact_email")]
    pub email: Option<String>,
}

/// A reference to an agency inside another object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct AgencyRef {
    #[sqlx(rename = "slug")]
    pub id: String,
    pub name: String,
}

/// A name an agency had, and when.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct NameSpan {
    pub name: String,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
}

/// A dated lifecycle event.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AgencyEvent {
    pub kind: String,
    pub occurred_on: NaiveDate,
    pub detail: Json<serde_json::Value>,
    pub recorded_at: DateTime<Utc>,
}

/// A database an agency owns or owned.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct OwnedDatabase {
    #[sqlx(rename = "slug")]
    pub id: String,
    pub no: Option<i64>,
    pub name: String,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub reason: String,
}

/// An agency with its history.
#[derive(Debug, Clone, Serialize)]
pub struct AgencyDetail {
    #[serde(flatten)]
    pub agency: Agency,
    pub names: Vec<NameSpan>,
    pub events: Vec<AgencyEvent>,
    /// Agencies merged into this one.
    pub predecessors: Vec<AgencyRef>,
    /// Databases it owns now.
    pub databases: Vec<OwnedDatabase>,
    /// Databases it owned before (moved by a merger or a new decision).
    pub former_databases: Vec<OwnedDatabase>,
}

/// Filters of the agency list.
#[derive(Debug, Clone, Default)]
pub struct AgencyFilter {
    pub status: Option<AgencyStatus>,
    /// Folded words that must all occur in the agency's name.
    pub q: Option<String>,
}

/// A new agency, as an operator describes it.
#[derive(Debug, Clone, Default)]
pub struct NewAgency {
    pub name: String,
    pub kind: Option<AgencyKind>,
    pub established_on: Option<NaiveDate>,
    pub contact: FocalContact,
}

const AGENCY_COLUMNS: &str = "id AS pk, slug, name, kind, status, established_on, ended_on, successor_id AS successor_pk, \
     contact_name, contact_position, contact_phone, contact_email, created_at, updated_at";

impl Store {
    /// Every agency, by name.
    pub async fn agencies(&self, filter: &AgencyFilter) -> Result<Vec<Agency>, StoreError> {
        let mut c = self.pools.reader().await?;
        let mut conn = c.conn();
        let mut list: Vec<Agency> = conn.fetch_all(Sql::assembled(format!("SELECT {AGENCY_COLUMNS} FROM agencies ORDER BY name"))).await?;
        if let Some(status) = filter.status {
            list.retain(|a| a.status == status.code());
        }
        if let Some(q) = filter.q.as_deref().map(match_key).filter(|q| !q.is_empty()) {
            list.retain(|a| {
                let key = match_key(&a.name);
                q.split(' ').all(|w| key.split(' ').any(|k| k.starts_with(w)))
            });
        }
        let counts: Vec<(i64, i64)> =
            conn.fetch_all(Sql::new("SELECT owner_id, count(*) FROM databases WHERE status = 'listed' GROUP BY owner_id")).await?;
        for a in &mut list {
            a.database_count = counts.iter().find(|(id, _)| *id == a.pk).map(|(_, n)| *n).unwrap_or(0);
        }
        let refs: Vec<(i64, AgencyRef)> = list.iter().map(|a| (a.pk, AgencyRef { id: a.id.clone(), name: a.name.clone() })).collect();
        for a in &mut list {
            a.successor = a.successor_pk.and_then(|s| refs.iter().find(|(pk, _)| *pk == s)).map(|(_, r)| r.clone());
        }
        Ok(list)
    }

    /// One agency with its names, events, predecessors and databases.
    pub async fn agency(&self, slug: &str) -> Result<Option<AgencyDetail>, StoreError> {
        let mut c = self.pools.reader().await?;
        let mut conn = c.conn();
        let Some(mut agency) = load_agency(&mut conn, slug).await? else { return Ok(None) };
        if let Some(pk) = agency.successor_pk {
            agency.successor = agency_ref(&mut conn, pk).await?;
        }
        let names = conn
            .fetch_all(
                Sql::new(
                    "SELECT name, valid_from, valid_to FROM agency_names WHERE agency_id = ? ORDER BY valid_from IS NOT NULL, valid_from",
                )
                .bind(agency.pk),
            )
            .await?;
        let events = conn
            .fetch_all(
                Sql::new("SELECT kind, occurred_on, detail, recorded_at FROM agency_events WHERE agency_id = ? ORDER BY occurred_on, id")
                    .bind(agency.pk),
            )
            .await?;
        let predecessors =
            conn.fetch_all(Sql::new("SELECT slug, name FROM agencies WHERE successor_id = ? ORDER BY name").bind(agency.pk)).await?;
        let owned: Vec<OwnedDatabase> = conn
            .fetch_all(
                Sql::new(
                    "SELECT d.slug, d.no, d.name, o.valid_from, o.valid_to, o.reason FROM database_owners o \
                     JOIN databases d ON d.id = o.database_id WHERE o.agency_id = ? ORDER BY d.no IS NULL, d.no, d.name",
                )
                .bind(agency.pk),
            )
            .await?;
        let (databases, former_databases): (Vec<_>, Vec<_>) = owned.into_iter().partition(|d| d.valid_to.is_none());
        agency.database_count = databases.iter().filter(|d| d.no.is_some()).count() as i64;
        Ok(Some(AgencyDetail { agency, names, events, predecessors, databases, former_databases }))
    }

    /// Creates an agency. A name already used by an active agency is refused.
    pub async fn create_agency(&self, _permit: &AgencyAdminPermit, new: &NewAgency) -> Result<AgencyRef, StoreError> {
        let name = clean_name(&new.name);
        if name.is_empty() {
            return Err(
                DomainError::invalid("name", Msg::new("tên cơ quan không được để trống", "the agency name must not be empty")).into()
            );
        }
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        if let Some(existing) = find_active_by_name(&mut conn, &name).await? {
            return Err(StoreError::conflict(
                format!("đã có cơ quan «{}» đang hoạt động", existing.name),
                format!("an active agency named «{}» already exists", existing.name),
            ));
        }
        let kind = new.kind.unwrap_or_else(|| AgencyKind::from_name(&name));
        let pk = insert_agency(&mut conn, &name, kind, new.established_on, &new.contact).await?;
        let on = new.established_on.unwrap_or_else(|| now().date_naive());
        add_event(&mut conn, pk, "created", on, serde_json::json!({ "name": name })).await?;
        let r = agency_ref(&mut conn, pk).await?.ok_or_else(|| StoreError::Corrupt("agency vanished".into()))?;
        tx.commit().await?;
        Ok(r)
    }

    /// Renames an agency from a date; the old name stays in its history and
    /// still matches decisions that use it.
    pub async fn rename_agency(
        &self,
        _permit: &AgencyAdminPermit,
        slug: &str,
        new_name: &str,
        on: NaiveDate,
    ) -> Result<AgencyRef, StoreError> {
        let new_name = clean_name(new_name);
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        let agency = require_agency(&mut conn, slug).await?;
        let state = agency_state(&mut conn, &agency).await?;
        check_change(&state, &LifecycleChange::Rename { new_name: new_name.clone() }, on, None)?;
        if match_key(&new_name) == match_key(&agency.name) && new_name == agency.name {
            return Err(StoreError::conflict("tên mới trùng tên hiện tại", "the new name is the current name"));
        }
        if let Some(other) = find_active_by_name(&mut conn, &new_name).await?.filter(|o| o.pk != agency.pk) {
            return Err(StoreError::conflict(
                format!("đã có cơ quan «{}» đang hoạt động", other.name),
                format!("an active agency named «{}» already exists", other.name),
            ));
        }
        conn.execute(Sql::new("UPDATE agency_names SET valid_to = ? WHERE agency_id = ? AND valid_to IS NULL").bind(on).bind(agency.pk))
            .await?;
        conn.execute(
            Sql::new("INSERT INTO agency_names (agency_id, name, name_key, valid_from) VALUES (?, ?, ?, ?)")
                .bind(agency.pk)
                .bind(new_name.clone())
                .bind(match_key(&new_name))
                .bind(on),
        )
        .await?;
        conn.execute(
            Sql::new("UPDATE agencies SET name = ?, updated_at = ? WHERE id = ?").bind(new_name.clone()).bind(now()).bind(agency.pk),
        )
        .await?;
        add_event(&mut conn, agency.pk, "renamed", on, serde_json::json!({ "from": agency.name, "to": new_name })).await?;
        bump_generation(&mut conn).await?;
        tx.commit().await?;
        Ok(AgencyRef { id: agency.id, name: new_name })
    }

    /// Merges an agency into a successor on a date: the successor takes over
    /// every database the agency owns from that date; its accounts move to
    /// the successor or are suspended, as `users` says (a setting), and
    /// their sessions and tokens end either way.
    pub async fn merge_agency(
        &self,
        _permit: &AgencyAdminPermit,
        slug: &str,
        into: &str,
        on: NaiveDate,
        users: MergedUsers,
    ) -> Result<TransferSummary, StoreError> {
        self.end_agency(slug, Some(into), on, AgencyStatus::Merged, users).await
    }

    /// Dissolves an agency on a date. If it still owns databases, they must
    /// be transferred to another agency (`transfer_to`): the catalog never
    /// has a database without a living owner. Its accounts are suspended.
    pub async fn dissolve_agency(
        &self,
        _permit: &AgencyAdminPermit,
        slug: &str,
        transfer_to: Option<&str>,
        on: NaiveDate,
    ) -> Result<TransferSummary, StoreError> {
        self.end_agency(slug, transfer_to, on, AgencyStatus::Dissolved, MergedUsers::Suspend).await
    }

    async fn end_agency(
        &self,
        slug: &str,
        to: Option<&str>,
        on: NaiveDate,
        status: AgencyStatus,
        users: MergedUsers,
    ) -> Result<TransferSummary, StoreError> {
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        let agency = require_agency(&mut conn, slug).await?;
        let state = agency_state(&mut conn, &agency).await?;
        let successor = match to {
            Some(s) => Some(require_agency(&mut conn, s).await?),
            None => None,
        };
        let successor_state = match &successor {
            Some(s) => Some(agency_state(&mut conn, s).await?),
            None => None,
        };
        let change = match status {
            AgencyStatus::Merged => LifecycleChange::Merge {
                into_id: successor
                    .as_ref()
                    .map(|s| s.pk)
                    .ok_or_else(|| DomainError::invalid("into", Msg::new("cần cơ quan tiếp nhận", "a successor agency is required")))?,
            },
            _ => LifecycleChange::Dissolve { transfer_to: successor.as_ref().map(|s| s.pk) },
        };
        check_change(&state, &change, on, successor_state.as_ref())?;
        let owned: Vec<Id> = conn
            .fetch_all(Sql::new("SELECT database_id FROM database_owners WHERE agency_id = ? AND valid_to IS NULL").bind(agency.pk))
            .await?;
        if successor.is_none() && !owned.is_empty() {
            return Err(StoreError::conflict(
                format!("cơ quan còn là chủ quản của {} cơ sở dữ liệu; hãy chỉ định cơ quan tiếp nhận", owned.len()),
                format!("the agency still owns {} databases; name an agency to transfer them to", owned.len()),
            ));
        }
        let reason = if status == AgencyStatus::Merged { "merger" } else { "transfer" };
        if let Some(s) = &successor {
            for Id(db) in &owned {
                move_ownership(&mut conn, *db, s.pk, on, reason).await?;
            }
        }
        conn.execute(
            Sql::new("UPDATE agencies SET status = ?, ended_on = ?, successor_id = ?, updated_at = ? WHERE id = ?")
                .bind(status.code())
                .bind(on)
                .bind(successor.as_ref().map(|s| s.pk))
                .bind(now())
                .bind(agency.pk),
        )
        .await?;
        conn.execute(Sql::new("UPDATE agency_names SET valid_to = ? WHERE agency_id = ? AND valid_to IS NULL").bind(on).bind(agency.pk))
            .await?;
        bump_generation(&mut conn).await?;
        // The agency's people: moved to the successor, or suspended.
        let members: Vec<Id> = conn.fetch_all(Sql::new("SELECT id FROM users WHERE agency_id = ?").bind(agency.pk)).await?;
        for Id(user) in &members {
            crate::users::end_access(&mut conn, chiase_core::ids::UserId(*user)).await?;
        }
        let users_moved = match (users, status, &successor) {
            (MergedUsers::Move, AgencyStatus::Merged, Some(s)) => {
                conn.execute(Sql::new("UPDATE users SET agency_id = ? WHERE agency_id = ?").bind(s.pk).bind(agency.pk)).await?
            }
            _ => {
                conn.execute(Sql::new("UPDATE users SET status = 'disabled' WHERE agency_id = ?").bind(agency.pk)).await?;
                0
            }
        };
        let users_suspended = members.len() as u64 - users_moved;
        let into_ref = successor.as_ref().map(|s| serde_json::json!({ "id": s.id, "name": s.name }));
        add_event(
            &mut conn,
            agency.pk,
            status.code(),
            on,
            serde_json::json!({ "successor": into_ref, "databases_moved": owned.len(), "users_moved": users_moved, "users_suspended": users_suspended }),
        )
        .await?;
        if let Some(s) = &successor {
            add_event(
                &mut conn,
                s.pk,
                "absorbed",
                on,
                serde_json::json!({ "from": { "id": agency.id, "name": agency.name }, "databases_moved": owned.len() }),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(TransferSummary {
            agency: AgencyRef { id: agency.id, name: agency.name },
            successor: successor.map(|s| AgencyRef { id: s.id, name: s.name }),
            databases_moved: owned.len(),
            users_moved,
            users_suspended,
        })
    }

    /// Sets the focal contact for data sharing.
    pub async fn set_agency_contact(&self, permit: &ContactPermit, slug: &str, contact: &FocalContact) -> Result<(), StoreError> {
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        let agency = require_agency(&mut conn, slug).await?;
        if agency.pk != permit.agency().get() {
            return Err(StoreError::Corrupt(format!("BUG: a contact permit for agency {} used on {}", permit.agency(), agency.pk)));
        }
        conn.execute(
            Sql::new(
                "UPDATE agencies SET contact_name = ?, contact_position = ?, contact_phone = ?, contact_email = ?, updated_at = ? WHERE id = ?",
            )
            .bind(contact.name.clone())
            .bind(contact.position.clone())
            .bind(contact.phone.clone())
            .bind(contact.email.clone())
            .bind(now())
            .bind(agency.pk),
        )
        .await?;
        add_event(&mut conn, agency.pk, "contact_changed", now().date_naive(), serde_json::json!({ "contact": contact })).await?;
        tx.commit().await
    }
}

/// What a merger or dissolution moved.
#[derive(Debug, Clone, Serialize)]
pub struct TransferSummary {
    pub agency: AgencyRef,
    pub successor: Option<AgencyRef>,
    pub databases_moved: usize,
    /// Accounts moved to the successor.
    pub users_moved: u64,
    /// Accounts disabled (their agency ended and they were not moved).
    pub users_suspended: u64,
}

async fn load_agency(conn: &mut Conn<'_>, slug: &str) -> Result<Option<Agency>, StoreError> {
    conn.fetch_optional(Sql::assembled(format!("SELECT {AGENCY_COLUMNS} FROM agencies WHERE slug = ?")).bind(slug)).await
}

async fn require_agency(conn: &mut Conn<'_>, slug: &str) -> Result<Agency, StoreError> {
    load_agency(conn, slug)
        .await?
        .ok_or_else(|| StoreError::not_found(format!("không tìm thấy cơ quan «{slug}»"), format!("agency «{slug}» not found")))
}

pub(crate) async fn agency_ref(conn: &mut Conn<'_>, pk: i64) -> Result<Option<AgencyRef>, StoreError> {
    conn.fetch_optional(Sql::new("SELECT slug, name FROM agencies WHERE id = ?").bind(pk)).await
}

async fn agency_state(conn: &mut Conn<'_>, a: &Agency) -> Result<AgencyState, StoreError> {
    let last: Option<(Option<NaiveDate>,)> = conn
        .fetch_optional(
            Sql::new(
                "SELECT max(occurred_on) FROM agency_events WHERE agency_id = ? AND kind IN ('renamed', 'absorbed', 'merged', 'dissolved')",
            )
            .bind(a.pk),
        )
        .await?;
    Ok(AgencyState {
        id: a.pk,
        status: a.status.parse().map_err(|s| StoreError::Corrupt(format!("agency status «{s}»")))?,
        established_on: a.established_on,
        last_event_on: last.and_then(|(d,)| d),
    })
}

async fn find_active_by_name(conn: &mut Conn<'_>, name: &str) -> Result<Option<Agency>, StoreError> {
    conn.fetch_optional(
        Sql::assembled(format!(
            "SELECT {AGENCY_COLUMNS} FROM agencies WHERE status = 'active' AND id IN \
             (SELECT agency_id FROM agency_names WHERE name_key = ? AND valid_to IS NULL)"
        ))
        .bind(match_key(name)),
    )
    .await
}

/// Finds the agency a decision dated `on` means by `name`: any agency that
/// ever had that name, followed through mergers that took effect by `on`.
pub(crate) async fn resolve_by_name(conn: &mut Conn<'_>, name: &str, on: NaiveDate) -> Result<Option<i64>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Candidate {
        agency_id: i64,
        valid_from: Option<NaiveDate>,
        valid_to: Option<NaiveDate>,
    }
    let candidates: Vec<Candidate> = conn
        .fetch_all(
            Sql::new("SELECT agency_id, valid_from, valid_to FROM agency_names WHERE name_key = ? ORDER BY agency_id")
                .bind(match_key(name)),
        )
        .await?;
    // Prefer the agency that bore the name on the decision's date.
    let held_then = |c: &&Candidate| c.valid_from.is_none_or(|f| f <= on) && c.valid_to.is_none_or(|t| on < t);
    let Some(mut pk) = candidates.iter().find(held_then).or(candidates.first()).map(|c| c.agency_id) else {
        return Ok(None);
    };
    for _ in 0..32 {
        let next: Option<(Option<i64>, Option<NaiveDate>)> =
            conn.fetch_optional(Sql::new("SELECT successor_id, ended_on FROM agencies WHERE id = ?").bind(pk)).await?;
        match next {
            Some((Some(succ), Some(ended))) if ended <= on => pk = succ,
            _ => break,
        }
    }
    Ok(Some(pk))
}

pub(crate) async fn insert_agency(
    conn: &mut Conn<'_>,
    name: &str,
    kind: AgencyKind,
    established_on: Option<NaiveDate>,
    contact: &FocalContact,
) -> Result<i64, StoreError> {
    let base = slugify(name, 48);
    let base = if base.is_empty() { "co-quan".to_string() } else { base };
    let mut slug = base.clone();
    let mut n = 1;
    while conn.fetch_optional::<Id>(Sql::new("SELECT id FROM agencies WHERE slug = ?").bind(slug.clone())).await?.is_some() {
        n += 1;
        slug = format!("{base}-{n}");
    }
    let ts = now();
    let Id(pk) = conn
        .fetch_one(
            Sql::new(
                "INSERT INTO agencies (slug, name, kind, status, established_on, contact_name, contact_position, contact_phone, contact_email, created_at, updated_at) \
                 VALUES (?, ?, ?, 'active', ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            )
            .bind(slug)
            .bind(name)
            .bind(kind.code())
            .bind(established_on)
            .bind(contact.name.clone())
            .bind(contact.position.clone())
            .bind(contact.phone.clone())
            .bind(contact.email.clone())
            .bind(ts)
            .bind(ts),
        )
        .await?;
    conn.execute(
        Sql::new("INSERT INTO agency_names (agency_id, name, name_key, valid_from) VALUES (?, ?, ?, ?)")
            .bind(pk)
            .bind(name)
            .bind(match_key(name))
            .bind(established_on),
    )
    .await?;
    Ok(pk)
}

pub(crate) async fn add_event(
    conn: &mut Conn<'_>,
    agency: i64,
    kind: &str,
    on: NaiveDate,
    detail: serde_json::Value,
) -> Result<(), StoreError> {
    conn.execute(
        Sql::new("INSERT INTO agency_events (agency_id, kind, occurred_on, detail, recorded_at) VALUES (?, ?, ?, ?, ?)")
            .bind(agency)
            .bind(kind)
            .bind(on)
            .bind(detail)
            .bind(now()),
    )
    .await?;
    Ok(())
}

/// Hands a database to a new owner from `on`, closing the current span.
pub(crate) async fn move_ownership(conn: &mut Conn<'_>, database: i64, to: i64, on: NaiveDate, reason: &str) -> Result<(), StoreError> {
    let current: Option<(i64, i64, NaiveDate)> = conn
        .fetch_optional(
            Sql::new("SELECT id, agency_id, valid_from FROM database_owners WHERE database_id = ? AND valid_to IS NULL").bind(database),
        )
        .await?;
    if let Some((row, owner, from)) = current {
        if owner == to {
            return Ok(());
        }
        if from >= on {
            // A change on the same day replaces the span that began that day.
            conn.execute(Sql::new("DELETE FROM database_owners WHERE id = ?").bind(row)).await?;
        } else {
            conn.execute(Sql::new("UPDATE database_owners SET valid_to = ? WHERE id = ?").bind(on).bind(row)).await?;
        }
    }
    conn.execute(
        Sql::new("INSERT INTO database_owners (database_id, agency_id, valid_from, reason) VALUES (?, ?, ?, ?)")
            .bind(database)
            .bind(to)
            .bind(on)
            .bind(reason),
    )
    .await?;
    conn.execute(Sql::new("UPDATE databases SET owner_id = ?, updated_at = ? WHERE id = ?").bind(to).bind(now()).bind(database)).await?;
    Ok(())
}

impl Store {
    /// The internal key of an agency (for policy facts).
    /// An agency's identifier and current name, from its key.
    pub async fn agency_ref(&self, agency: AgencyId) -> Result<Option<AgencyRef>, StoreError> {
        let mut c = self.pools.reader().await?;
        c.conn().fetch_optional::<AgencyRef>(Sql::new("SELECT slug, name FROM agencies WHERE id = ?").bind(agency.get())).await
    }

    pub async fn agency_pk(&self, slug: &str) -> Result<Option<AgencyId>, StoreError> {
        let mut c = self.pools.reader().await?;
        Ok(c.conn().fetch_optional::<Id>(Sql::new("SELECT id FROM agencies WHERE slug = ?").bind(slug)).await?.map(|Id(id)| AgencyId(id)))
    }
}
