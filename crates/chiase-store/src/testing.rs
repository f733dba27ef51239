//! Fresh stores for tests, on SQLite always and on PostgreSQL when
//! `CHIASE_TEST_DATABASE_URL` names a server (each test gets its own
//! database there, dropped afterwards).

use std::sync::atomic::{AtomicU32, Ordering};

use crate::{Store, StoreConfig};

/// The engines a contract test should run on.
pub fn engines() -> Vec<Engine> {
    let mut v = vec![Engine::Sqlite];
    if std::env::var("CHIASE_TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty()) {
        v.push(Engine::Postgres);
    }
    v
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A store that lives as long as this value: a temporary directory for
/// SQLite, a temporary database for PostgreSQL.
pub struct TestDb {
    pub store: Store,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_drop: Option<(String, String)>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestDb {
    /// Creates an empty, migrated store on `engine`.
    pub async fn new(engine: Engine) -> TestDb {
        match engine {
            Engine::Sqlite => {
                let dir = tempfile::tempdir().expect("BUG: cannot create a temporary directory");
                let url = format!("sqlite://{}", dir.path().join("chiase.db").display());
                let store = Store::open(&StoreConfig::new(url.clone(), 4)).await.expect("open SQLite store");
                TestDb { store, url, _dir: Some(dir), pg_drop: None }
            }
            Engine::Postgres => {
                let admin = std::env::var("CHIASE_TEST_DATABASE_URL").expect("CHIASE_TEST_DATABASE_URL");
                let name = format!(
                    "chiase_t_{}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::Relaxed),
                    chrono::Utc::now().timestamp_micros() % 1_000_000_000
                );
                let mut conn =
                    <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await.expect("connect to the PostgreSQL test server");
                sqlx::Executor::execute(&mut conn, sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                    .await
                    .expect("create test database");
                let url = replace_database(&admin, &name);
                let store = Store::open(&StoreConfig::new(url.clone(), 4)).await.expect("open PostgreSQL store");
                TestDb { store, url, _dir: None, pg_drop: Some((admin, name)) }
            }
        }
    }
}

impl TestDb {
    /// A second store over the same database, as another process on it
    /// would open (the database lives as long as `self`).
    pub async fn share(&self) -> TestDb {
        let store = Store::open(&StoreConfig::new(self.url.clone(), 4)).await.expect("open the same store again");
        TestDb { store, url: self.url.clone(), _dir: None, pg_drop: None }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.pg_drop.take() {
            // Drop runs outside async code; a short-lived runtime on its own
            // thread does the cleanup.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("BUG: runtime");
                rt.block_on(async {
                    if let Ok(mut conn) = <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await {
                        let _ = sqlx::Executor::execute(
                            &mut conn,
                            sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")),
                        )
                        .await;
                    }
                });
            })
            .join();
        }
    }
}

/// `postgres://u@h:p/db?x` with its database replaced by `name`.
pub fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{base}/{name}{query}")
}

/// Permits of the operator at the command line, for tests that call the
/// store directly (the policy grants the operator every administrative
/// action; tests of who else may are in chiase-core and the server).
pub mod operator {
    use chiase_core::policy::{self, AgencyAdminPermit, CatalogPermit, Subject, UserAdminPermit};

    pub fn agencies() -> AgencyAdminPermit {
        policy::decide_agency_admin(&Subject::Operator).expect("BUG: the operator administers agencies")
    }
    pub fn users() -> UserAdminPermit {
        policy::decide_user_admin(&Subject::Operator).expect("BUG: the operator administers users")
    }
    pub fn catalog() -> CatalogPermit {
        policy::decide_catalog(&Subject::Operator).expect("BUG: the operator publishes the catalog")
    }
}

/// More permits of the operator, for tests that call the store directly.
pub mod operator_data {
    use chiase_core::policy::{self, AuditPermit, AuditVerifyPermit, ReadPermit, SchemaPermit, Subject, WritePermit};

    use crate::datasets::Dataset;

    pub fn read(ds: &Dataset) -> ReadPermit {
        policy::decide_read(&Subject::Operator, &ds.facts(), chrono::Utc::now(), &[]).expect("BUG: the operator reads")
    }
    pub fn write(ds: &Dataset) -> WritePermit {
        policy::decide_write(&Subject::Operator, &ds.facts()).expect("BUG: the operator writes")
    }
    pub fn schema(ds: &Dataset) -> SchemaPermit {
        policy::decide_schema_change(&Subject::Operator, &ds.facts()).expect("BUG: the operator changes schemas")
    }
    pub fn audit() -> AuditPermit {
        policy::decide_audit_read(&Subject::Operator).expect("BUG: the operator reads the audit log")
    }
    pub fn verify() -> AuditVerifyPermit {
        policy::decide_audit_verify(&Subject::Operator).expect("BUG: the operator verifies the audit log")
    }
}

/// A dataset's row count, as the operator sees it.
pub fn row_count(ds: &crate::datasets::Dataset) -> i64 {
    ds.activity(&operator_data::read(ds)).expect("BUG: the operator's permit").row_count
}

/// Opens rows read by a test straight from the store, without recording
/// the read (tests only: the server always goes through the recorder).
pub fn reveal<T>(read: crate::recorder::Unrecorded<T>) -> T {
    read.reveal_for_tests()
}
