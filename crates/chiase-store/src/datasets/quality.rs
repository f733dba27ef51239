//! How complete a dataset's current rows are, as counts only: for fields
//! the reader's permit shows, how many current rows leave each one empty.
//! No value leaves the store, so this is not a read of records (it is not
//! audited, as a row count is not); the permit still decides which fields
//! may be counted.

use chiase_core::policy::ReadPermit;
use chiase_core::schema::FieldType;

use super::ddl::q;
use super::rows::fetch_ints;
use super::{Dataset, check_permit, plan};
use crate::db::Sql;
use crate::{Store, StoreError};

/// Empty cells among a dataset's current rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmptyCells {
    /// Current rows.
    pub rows: i64,
    /// Per field asked for (its schema position): rows that leave it empty
    /// (null, or text of spaces only).
    pub empty: Vec<(usize, i64)>,
}

impl Store {
    /// Counts the empty cells of `fields` (schema positions, each shown by
    /// the permit) over the current rows, in one query.
    pub async fn empty_cells(&self, permit: &ReadPermit, ds: &Dataset, fields: &[usize]) -> Result<EmptyCells, StoreError> {
        check_permit(permit.dataset_id(), ds)?;
        if let Some(f) = fields.iter().find(|f| !permit.visible().contains(f)) {
            return Err(StoreError::Corrupt(format!("BUG: empty cells of field {f} the permit does not show")));
        }
        let schema = self.schema_of(ds)?;
        let mut cols = vec!["count(*)".to_string()];
        for &i in fields {
            let f = schema.fields.get(i).ok_or_else(|| StoreError::Corrupt(format!("BUG: no field {i}")))?;
            let col = q(&f.name);
            cols.push(match f.spec.field_type {
                FieldType::String => format!("count(*) - count(NULLIF(trim({col}), ''))"),
                _ => format!("count(*) - count({col})"),
            });
        }
        let alive = plan::alive(None);
        let sql = format!("SELECT {} FROM {} WHERE {}", cols.join(", "), q(&ds.table_name), alive.sql);
        let sql = alive.values.into_iter().fold(Sql::assembled(sql), Sql::bind);
        let mut c = self.pools.reader().await?;
        let ints = fetch_ints(&mut c.conn(), sql, fields.len() + 1).await?;
        Ok(EmptyCells { rows: ints[0], empty: fields.iter().copied().zip(ints[1..].iter().copied()).collect() })
    }
}
