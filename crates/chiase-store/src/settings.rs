//! Settings changed while the server runs (`runtime_settings`): one row
//! per setting an administrator has overridden, read by every process on
//! the database. Which settings may be overridden, and how their values
//! are checked, is chiase-server's; this module only keeps the rows.

use chiase_core::policy::SettingsPermit;
use chrono::{DateTime, Utc};

use crate::db::Sql;
use crate::{Store, StoreError, now};

/// An overridden setting.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RuntimeSetting {
    pub key: String,
    /// `None`: overridden to unset.
    pub value: Option<String>,
    /// Who changed it (the audit log's actor name).
    pub changed_by: String,
    pub changed_at: DateTime<Utc>,
}

impl Store {
    /// Every overridden setting, by key.
    pub async fn runtime_settings(&self) -> Result<Vec<RuntimeSetting>, StoreError> {
        let mut conn = self.pools.reader().await?;
        conn.conn().fetch_all(Sql::new("SELECT key, value, changed_by, changed_at FROM runtime_settings ORDER BY key")).await
    }

    /// Overrides `key` with `value` (`None`: unset), or, with `clear`,
    /// removes the override. Returns the override there was before.
    pub async fn set_runtime_setting(
        &self,
        _permit: &SettingsPermit,
        key: &str,
        value: Option<&str>,
        clear: bool,
        by: &str,
    ) -> Result<Option<RuntimeSetting>, StoreError> {
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        let before: Option<RuntimeSetting> = conn
            .fetch_optional(Sql::new("SELECT key, value, changed_by, changed_at FROM runtime_settings WHERE key = ?").bind(key))
            .await?;
        if clear {
            conn.execute(Sql::new("DELETE FROM runtime_settings WHERE key = ?").bind(key)).await?;
        } else {
            conn.execute(
                Sql::new(
                    "INSERT INTO runtime_settings (key, value, changed_by, changed_at) VALUES (?, ?, ?, ?) \
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value, changed_by = excluded.changed_by, \
                     changed_at = excluded.changed_at",
                )
                .bind(key)
                .bind(value.map(str::to_string))
                .bind(by)
                .bind(now()),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(before)
    }
}
