//! The catalog as metadata records, for DCAT: every listed database with
//! its derived fields, when its entry last changed and the date of the
//! first decision that listed it. Public like the catalog itself; nothing
//! here says anything of a dataset's rows.

use chiase_core::catalog::{Cadence, EntryFields};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::types::Json;

use crate::agencies::AgencyRef;
use crate::db::Sql;
use crate::{Store, StoreError};

/// A listed database as DCAT describes it.
#[derive(Debug, Clone)]
pub struct DatabaseRecord {
    pub id: String,
    pub no: Option<i64>,
    pub name: String,
    pub owner: AgencyRef,
    pub cadence: Cadence,
    pub fields: EntryFields,
    /// When its catalog entry last changed (a decision, a rename, a merger).
    pub updated_at: DateTime<Utc>,
    /// The date of the first decision that listed it.
    pub first_listed: Option<NaiveDate>,
}

impl Store {
    /// Every database of the current catalog, in the decision's order.
    pub async fn database_records(&self) -> Result<Vec<DatabaseRecord>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            pk: i64,
            slug: String,
            no: Option<i64>,
            name: String,
            owner_slug: String,
            owner_name: String,
            cadence: String,
            fields: Json<EntryFields>,
            updated_at: DateTime<Utc>,
        }
        let mut c = self.pools.reader().await?;
        let mut conn = c.conn();
        let rows: Vec<Row> = conn
            .fetch_all(Sql::new(
                "SELECT d.id AS pk, d.slug, d.no, d.name, a.slug AS owner_slug, a.name AS owner_name, d.cadence, d.fields, d.updated_at \
                 FROM databases d JOIN agencies a ON a.id = d.owner_id WHERE d.status = 'listed' ORDER BY d.no, d.id",
            ))
            .await?;
        // Each database's decisions: a few rows per database, read once.
        let listed: Vec<(i64, NaiveDate)> = conn
            .fetch_all(Sql::new(
                "SELECT e.database_id, v.decision_date FROM catalog_entries e JOIN catalog_versions v ON v.id = e.version_id",
            ))
            .await?;
        rows.into_iter()
            .map(|r| {
                Ok(DatabaseRecord {
                    first_listed: listed.iter().filter(|(d, _)| *d == r.pk).map(|(_, date)| *date).min(),
                    id: r.slug,
                    no: r.no,
                    name: r.name,
                    owner: AgencyRef { id: r.owner_slug, name: r.owner_name },
                    cadence: r.cadence.parse().map_err(|c| StoreError::Corrupt(format!("cadence «{c}»")))?,
                    fields: r.fields.0,
                    updated_at: r.updated_at,
                })
            })
            .collect()
    }
}
