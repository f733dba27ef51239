//! Accounts, API tokens, web sessions, sign-in throttling and the one-time
//! setup token. Secrets are never stored: passwords as argon2id hashes,
//! tokens and session ids as SHA-256 digests; a token is shown once. The
//! rules of names and passwords are `chiase_core::accounts`; who may
//! administer accounts and tokens is decided by `chiase_core::policy`, and
//! the functions that do it take the permit.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chiase_core::accounts::{check_password, check_role_agency, check_username, display_name, token_name};
use chiase_core::ids::{AgencyId, TokenId, UserId};
use chiase_core::policy::{Role, Subject, TokenPermit, UserAdminPermit};
use chiase_core::{DomainError, Msg};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::agencies::AgencyRef;
use crate::db::{Backend, Conn, Id, Sql};
use crate::{OnUnique, Store, StoreError, now};

/// Failed sign-ins allowed per account from one source in [`THROTTLE_WINDOW_MINUTES`].
pub const THROTTLE_FAILURES: i64 = 5;
/// Failed sign-ins allowed from one source, over every account, in the window.
pub const THROTTLE_SOURCE_FAILURES: i64 = 20;
pub const THROTTLE_WINDOW_MINUTES: i64 = 15;
/// How long a web session lasts.
pub const SESSION_HOURS: i64 = 12;

/// An account, as others see it.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    #[serde(skip)]
    pub pk: UserId,
    pub username: String,
    pub display_name: String,
    pub agency: Option<AgencyRef>,
    #[serde(skip)]
    pub agency_pk: Option<AgencyId>,
    /// False when the account's agency merged away or was dissolved.
    pub agency_active: bool,
    pub role: Role,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
    /// Where notifications are mailed (none: the portal only).
    pub email: Option<String>,
}

impl User {
    /// The account as the policy decision point sees it.
    pub fn subject(&self) -> Subject {
        Subject::User { user_id: self.pk, agency_id: self.agency_pk, agency_active: self.agency_active, role: self.role }
    }
}

#[derive(sqlx::FromRow)]
struct UserRow {
    pk: i64,
    username: String,
    display_name: String,
    agency_slug: Option<String>,
    agency_name: Option<String>,
    agency_pk: Option<i64>,
    agency_status: Option<String>,
    role: String,
    status: String,
    created_at: DateTime<Utc>,
    last_login_at: Option<DateTime<Utc>>,
    email: Option<String>,
}

const USER_SELECT: &str = "SELECT u.id AS pk, u.username, u.display_name, a.slug AS agency_slug, a.name AS agency_name, a.id AS agency_pk, \
     a.status AS agency_status, u.role, u.status, u.created_at, u.last_login_at, u.email FROM users u LEFT JOIN agencies a ON a.id = u.agency_id";

impl UserRow {
    fn into_user(self) -> Result<User, StoreError> {
        Ok(User {
            pk: UserId(self.pk),
            username: self.username,
            display_name: self.display_name,
            agency: self.agency_slug.zip(self.agency_name).map(|(id, name)| AgencyRef { id, name }),
            agency_pk: self.agency_pk.map(AgencyId),
            agency_active: self.agency_status.as_deref() == Some("active"),
            role: self.role.parse().map_err(|r| StoreError::Corrupt(format!("role «{r}»")))?,
            status: self.status,
            created_at: self.created_at,
            last_login_at: self.last_login_at,
            email: self.email,
        })
    }
}

/// A new account.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub display_name: Option<String>,
    /// The agency's id (slug); `None` for a member of the public.
    pub agency: Option<String>,
    pub role: Role,
    pub password: Option<String>,
    /// Where notifications are mailed; checked by the caller.
    pub email: Option<String>,
}

/// An API token as listed (never the token itself).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// The outcome of a sign-in.
#[derive(Debug)]
pub enum SignIn {
    Ok(User),
    /// Wrong name or password (the same answer for both).
    Refused,
    /// Too many failures: wait.
    Throttled,
}

/// SHA-256 in hex: how tokens and session ids are stored.
pub fn digest(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A new random secret with a readable prefix (`chs_…` for API tokens).
pub fn new_secret(prefix: &str) -> String {
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>()))
}

/// Hashes a password off the async runtime (argon2 takes tens of
/// milliseconds of CPU by design).
async fn hash_password(p: &str) -> Result<String, StoreError> {
    let p = p.to_string();
    tokio::task::spawn_blocking(move || Argon2::default().hash_password(p.as_bytes()).map(|h| h.to_string()))
        .await
        .map_err(|e| StoreError::Corrupt(format!("password hashing stopped: {e}")))?
        .map_err(|e| StoreError::Corrupt(format!("password hashing failed: {e}")))
}

pub(crate) async fn load_user(conn: &mut Conn<'_>, where_sql: &'static str, value: sea_query::Value) -> Result<Option<User>, StoreError> {
    let row: Option<UserRow> = conn.fetch_optional(Sql::assembled(format!("{USER_SELECT} WHERE {where_sql}")).bind(value)).await?;
    row.map(UserRow::into_user).transpose()
}

async fn require_user(conn: &mut Conn<'_>, username: &str) -> Result<User, StoreError> {
    load_user(conn, "u.username = ?", username.into())
        .await?
        .ok_or_else(|| StoreError::not_found(format!("không có tài khoản «{username}»"), format!("no account «{username}»")))
}

/// Ends every way an account is signed in: its sessions are removed and
/// its tokens revoked. Called when it is disabled, moved to another agency,
/// or its agency ends.
pub(crate) async fn end_access(conn: &mut Conn<'_>, user: UserId) -> Result<(), StoreError> {
    conn.execute(Sql::new("DELETE FROM sessions WHERE user_id = ?").bind(user.get())).await?;
    conn.execute(Sql::new("UPDATE api_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL").bind(now()).bind(user.get()))
        .await?;
    Ok(())
}

/// The active agency a slug names.
pub(crate) async fn active_agency(conn: &mut Conn<'_>, slug: &str) -> Result<AgencyId, StoreError> {
    conn.fetch_optional::<Id>(Sql::new("SELECT id FROM agencies WHERE slug = ? AND status = 'active'").bind(slug))
        .await?
        .map(|Id(id)| AgencyId(id))
        .ok_or_else(|| StoreError::not_found(format!("không có cơ quan đang hoạt động «{slug}»"), format!("no active agency «{slug}»")))
}

/// Validates a new account before anything is written or spent.
pub(crate) fn check_new_user(new: &NewUser) -> Result<String, DomainError> {
    check_username(&new.username)?;
    if let Some(p) = &new.password {
        check_password(p)?;
    }
    check_role_agency(new.role, new.agency.is_some())?;
    display_name(new.display_name.as_deref(), &new.username)
}

/// Inserts an account inside the caller's transaction.
pub(crate) async fn insert_user(conn: &mut Conn<'_>, new: &NewUser, display: &str, hash: Option<String>) -> Result<User, StoreError> {
    let agency_pk = match &new.agency {
        Some(slug) => Some(active_agency(conn, slug).await?),
        None => None,
    };
    conn.execute(
        Sql::new(
            "INSERT INTO users (username, display_name, agency_id, role, password_hash, status, created_at, email) VALUES (?, ?, ?, ?, ?, 'active', ?, ?)",
        )
        .bind(new.username.as_str())
        .bind(display)
        .bind(agency_pk.map(AgencyId::get))
        .bind(new.role.code())
        .bind(hash)
        .bind(now())
        .bind(new.email.clone()),
    )
    .await
    .on_unique(|| format!("đã có tài khoản «{}»", new.username), || format!("account «{}» exists already", new.username))?;
    if new.role == Role::Admin {
        // Once an administrator exists, setup is closed: every setup token dies.
        conn.execute(Sql::new("UPDATE setup_tokens SET used_at = ? WHERE used_at IS NULL").bind(now())).await?;
    }
    load_user(conn, "u.username = ?", new.username.as_str().into()).await?.ok_or_else(|| StoreError::Corrupt("user vanished".into()))
}

impl Store {
    /// Creates an account.
    pub async fn create_user(&self, _permit: &UserAdminPermit, new: &NewUser) -> Result<User, StoreError> {
        let display = check_new_user(new)?;
        let hash = match &new.password {
            Some(p) => Some(hash_password(p).await?),
            None => None,
        };
        let mut tx = self.pools.begin().await?;
        let user = insert_user(&mut tx.conn(), new, &display, hash).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Every account, by name.
    pub async fn users(&self, _permit: &UserAdminPermit) -> Result<Vec<User>, StoreError> {
        let mut c = self.pools.reader().await?;
        let rows: Vec<UserRow> = c.conn().fetch_all(Sql::assembled(format!("{USER_SELECT} ORDER BY u.username"))).await?;
        rows.into_iter().map(UserRow::into_user).collect()
    }

    /// One account by name: for signing in, for a caller's own account, and
    /// to find whose permit to ask for. It shows what the account's owner
    /// and administrators may see.
    pub async fn user(&self, username: &str) -> Result<Option<User>, StoreError> {
        let mut c = self.pools.reader().await?;
        load_user(&mut c.conn(), "u.username = ?", username.into()).await
    }

    /// Sets (or replaces) a password; the account's sessions end.
    pub async fn set_password(&self, _permit: &UserAdminPermit, username: &str, password: &str) -> Result<(), StoreError> {
        check_password(password)?;
        let hash = hash_password(password).await?;
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        let user = require_user(&mut conn, username).await?;
        conn.execute(Sql::new("UPDATE users SET password_hash = ? WHERE id = ?").bind(hash).bind(user.pk.get())).await?;
        conn.execute(Sql::new("DELETE FROM sessions WHERE user_id = ?").bind(user.pk.get())).await?;
        tx.commit().await
    }

    /// Sets (or, with `None`, removes) the address an account's
    /// notifications are mailed to; checked by the caller.
    pub async fn set_user_email(&self, _permit: &UserAdminPermit, username: &str, email: Option<&str>) -> Result<User, StoreError> {
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        let user = require_user(&mut conn, username).await?;
        conn.execute(Sql::new("UPDATE users SET email = ? WHERE id = ?").bind(email.map(str::to_string)).bind(user.pk.get())).await?;
        let user = require_user(&mut conn, username).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Disables (or enables again) an account. Disabling ends its sessions
    /// and revokes its tokens at once.
    pub async fn set_user_enabled(&self, _permit: &UserAdminPermit, username: &str, enabled: bool) -> Result<User, StoreError> {
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        let user = require_user(&mut conn, username).await?;
        if enabled && user.agency_pk.is_some() && !user.agency_active {
            return Err(StoreError::conflict(
                "cơ quan của tài khoản đã sáp nhập hoặc giải thể: hãy chuyển tài khoản sang cơ quan khác trước",
                "the account's agency merged or was dissolved: move the account to another agency first",
            ));
        }
        let status = if enabled { "active" } else { "disabled" };
        conn.execute(Sql::new("UPDATE users SET status = ? WHERE id = ?").bind(status).bind(user.pk.get())).await?;
        if !enabled {
            end_access(&mut conn, user.pk).await?;
        }
        let user = require_user(&mut conn, username).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Moves an account to another agency (`None`: to no agency, the
    /// public), optionally with a new role. Its sessions and tokens end:
    /// what it may read changes with its agency.
    pub async fn move_user(
        &self,
        _permit: &UserAdminPermit,
        username: &str,
        agency: Option<&str>,
        role: Option<Role>,
    ) -> Result<User, StoreError> {
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        let user = require_user(&mut conn, username).await?;
        let role = role.unwrap_or(user.role);
        check_role_agency(role, agency.is_some())?;
        let agency_pk = match agency {
            Some(slug) => Some(active_agency(&mut conn, slug).await?),
            None => None,
        };
        conn.execute(
            Sql::new("UPDATE users SET agency_id = ?, role = ? WHERE id = ?")
                .bind(agency_pk.map(AgencyId::get))
                .bind(role.code())
                .bind(user.pk.get()),
        )
        .await?;
        end_access(&mut conn, user.pk).await?;
        let user = require_user(&mut conn, username).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Checks a password, throttling repeated failures. The attempt is
    /// counted as a failure *before* the password is checked, in one
    /// transaction with the count, so that parallel attempts cannot all
    /// pass the check: 40 wrong passwords at once for one account give at
    /// most [`THROTTLE_FAILURES`] password checks in the window. Failures
    /// count per account and source, and per source over every account, so
    /// that nobody can lock an account out from everywhere by failing on
    /// purpose.
    pub async fn sign_in(&self, username: &str, password: &str, source: &str) -> Result<SignIn, StoreError> {
        let since = now() - Duration::minutes(THROTTLE_WINDOW_MINUTES);
        let username: String = username.chars().take(64).collect();
        let source: String = source.chars().take(64).collect();
        let attempt = {
            let mut tx = self.pools.begin().await?;
            let mut conn = tx.conn();
            if conn.backend() == Backend::Postgres {
                // Serialise attempts on the same account, then on the same source.
                conn.execute(Sql::new("SELECT pg_advisory_xact_lock(hashtext(?))").bind(format!("sign-in user {username}"))).await?;
                conn.execute(Sql::new("SELECT pg_advisory_xact_lock(hashtext(?))").bind(format!("sign-in source {source}"))).await?;
            }
            let (account,): (i64,) = conn
                .fetch_one(
                    Sql::new("SELECT count(*) FROM login_attempts WHERE username = ? AND source = ? AND success = ? AND at > ?")
                        .bind(username.as_str())
                        .bind(source.as_str())
                        .bind(false)
                        .bind(since),
                )
                .await?;
            let (from_source,): (i64,) = conn
                .fetch_one(
                    Sql::new("SELECT count(*) FROM login_attempts WHERE source = ? AND success = ? AND at > ?")
                        .bind(source.as_str())
                        .bind(false)
                        .bind(since),
                )
                .await?;
            if account >= THROTTLE_FAILURES || from_source >= THROTTLE_SOURCE_FAILURES {
                return Ok(SignIn::Throttled);
            }
            let Id(attempt) = conn
                .fetch_one(
                    Sql::new("INSERT INTO login_attempts (username, source, success, at) VALUES (?, ?, ?, ?) RETURNING id")
                        .bind(username.as_str())
                        .bind(source.as_str())
                        .bind(false)
                        .bind(now()),
                )
                .await?;
            tx.commit().await?;
            attempt
        };
        let row: Option<(String, String)> = {
            let mut c = self.pools.reader().await?;
            c.conn()
                .fetch_optional(
                    Sql::new("SELECT COALESCE(password_hash, ''), status FROM users WHERE username = ?").bind(username.as_str()),
                )
                .await?
        };
        // Hash even for unknown accounts, so that timing does not tell them apart.
        let dummy = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$W0Gcg8j6eOqkUmR8C0Xn3r8yvk7lbTbUvkR1X8P1mBw";
        let stored = row.as_ref().map(|(h, _)| h.as_str()).filter(|h| !h.is_empty()).unwrap_or(dummy).to_string();
        let pw = password.to_string();
        let ok = tokio::task::spawn_blocking(move || Argon2::default().verify_password(pw.as_bytes(), stored.as_str()).is_ok())
            .await
            .unwrap_or(false);
        let ok = ok && row.as_ref().is_some_and(|(h, s)| !h.is_empty() && s == "active");
        if !ok {
            return Ok(SignIn::Refused);
        }
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        conn.execute(Sql::new("UPDATE login_attempts SET success = ? WHERE id = ?").bind(true).bind(attempt)).await?;
        conn.execute(Sql::new("UPDATE users SET last_login_at = ? WHERE username = ?").bind(now()).bind(username.as_str())).await?;
        let user = load_user(&mut conn, "u.username = ?", username.as_str().into()).await?;
        tx.commit().await?;
        Ok(match user {
            Some(u) => SignIn::Ok(u),
            None => SignIn::Refused,
        })
    }

    /// Creates an API token for the permit's account; returns it in clear, once.
    pub async fn create_token(
        &self,
        permit: &TokenPermit,
        name: &str,
        expires_days: Option<i64>,
    ) -> Result<(TokenInfo, String), StoreError> {
        let name = token_name(name, "token")?;
        if let Some(d) = expires_days.filter(|d| *d <= 0 || *d > 3650) {
            return Err(DomainError::invalid(
                "expires",
                Msg::new(format!("thời hạn {d} ngày không hợp lệ (1–3650)"), format!("invalid lifetime of {d} days (1–3650)")),
            )
            .into());
        }
        let secret = new_secret("chs_");
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        let expires = expires_days.map(|d| now() + Duration::days(d));
        let Id(id) = conn
            .fetch_one(
                Sql::new("INSERT INTO api_tokens (user_id, name, token_hash, prefix, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id")
                    .bind(permit.user().get())
                    .bind(name)
                    .bind(digest(&secret))
                    .bind(secret[..12].to_string())
                    .bind(now())
                    .bind(expires),
            )
            .await?;
        let info: TokenInfo = conn
            .fetch_one(
                Sql::new("SELECT id, name, prefix, created_at, expires_at, revoked_at, last_used_at FROM api_tokens WHERE id = ?").bind(id),
            )
            .await?;
        tx.commit().await?;
        Ok((info, secret))
    }

    /// The permit's account's tokens.
    pub async fn tokens(&self, permit: &TokenPermit) -> Result<Vec<TokenInfo>, StoreError> {
        let mut c = self.pools.reader().await?;
        c.conn()
            .fetch_all(
                Sql::new(
                    "SELECT id, name, prefix, created_at, expires_at, revoked_at, last_used_at FROM api_tokens WHERE user_id = ? ORDER BY id",
                )
                .bind(permit.user().get()),
            )
            .await
    }

    /// The account a token belongs to (to ask the policy who may revoke it).
    pub async fn token_owner(&self, id: TokenId) -> Result<Option<UserId>, StoreError> {
        let mut c = self.pools.reader().await?;
        Ok(c.conn()
            .fetch_optional::<Id>(Sql::new("SELECT user_id FROM api_tokens WHERE id = ?").bind(id.get()))
            .await?
            .map(|Id(u)| UserId(u)))
    }

    /// Revokes one of the permit's account's tokens.
    pub async fn revoke_token(&self, permit: &TokenPermit, id: TokenId) -> Result<(), StoreError> {
        let mut tx = self.pools.begin().await?;
        let n = tx
            .conn()
            .execute(
                Sql::new("UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL AND user_id = ?")
                    .bind(now())
                    .bind(id.get())
                    .bind(permit.user().get()),
            )
            .await?;
        if n == 0 {
            return Err(StoreError::not_found(format!("không có mã truy cập {id} còn hiệu lực"), format!("no live token {id}")));
        }
        tx.commit().await
    }

    /// The account a token belongs to, if the token is live.
    pub async fn user_by_token(&self, token: &str) -> Result<Option<User>, StoreError> {
        let mut c = self.pools.reader().await?;
        let mut conn = c.conn();
        let found: Option<(i64, i64, Option<DateTime<Utc>>)> = conn
            .fetch_optional(
                Sql::new("SELECT id, user_id, last_used_at FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)")
                    .bind(digest(token))
                    .bind(now()),
            )
            .await?;
        let Some((token_id, user_id, last_used)) = found else { return Ok(None) };
        let user = load_user(&mut conn, "u.id = ? AND u.status = 'active'", user_id.into()).await?;
        drop(c);
        // Note the use at most every ten minutes: no write on every request.
        if user.is_some() && last_used.is_none_or(|t| t < now() - Duration::minutes(10)) {
            let mut tx = self.pools.begin().await?;
            tx.conn().execute(Sql::new("UPDATE api_tokens SET last_used_at = ? WHERE id = ?").bind(now()).bind(token_id)).await?;
            tx.commit().await?;
        }
        Ok(user)
    }

    /// Opens a web session; returns (session id, CSRF token), in clear.
    pub async fn create_session(&self, user: &User) -> Result<(String, String), StoreError> {
        let (sid, csrf) = (new_secret(""), new_secret(""));
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        conn.execute(Sql::new("DELETE FROM sessions WHERE expires_at < ?").bind(now())).await?;
        conn.execute(
            Sql::new("INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)")
                .bind(digest(&sid))
                .bind(user.pk.get())
                .bind(csrf.as_str())
                .bind(now())
                .bind(now() + Duration::hours(SESSION_HOURS)),
        )
        .await?;
        tx.commit().await?;
        Ok((sid, csrf))
    }

    /// The account and CSRF token of a live session.
    pub async fn session(&self, sid: &str) -> Result<Option<(User, String)>, StoreError> {
        let mut c = self.pools.reader().await?;
        let mut conn = c.conn();
        let found: Option<(i64, String)> = conn
            .fetch_optional(
                Sql::new("SELECT user_id, csrf_token FROM sessions WHERE id_hash = ? AND expires_at > ?").bind(digest(sid)).bind(now()),
            )
            .await?;
        let Some((user_id, csrf)) = found else { return Ok(None) };
        Ok(load_user(&mut conn, "u.id = ? AND u.status = 'active'", user_id.into()).await?.map(|u| (u, csrf)))
    }

    pub async fn end_session(&self, sid: &str) -> Result<(), StoreError> {
        let mut tx = self.pools.begin().await?;
        tx.conn().execute(Sql::new("DELETE FROM sessions WHERE id_hash = ?").bind(digest(sid))).await?;
        tx.commit().await
    }

    /// Whether any administrator exists.
    pub async fn has_admin(&self) -> Result<bool, StoreError> {
        let mut c = self.pools.reader().await?;
        let (n,): (i64,) = c.conn().fetch_one(Sql::new("SELECT count(*) FROM users WHERE role = 'admin'")).await?;
        Ok(n > 0)
    }

    /// Records a one-time setup token (in clear only in the caller's
    /// hands), while no administrator exists. Returns false when one does.
    pub async fn add_setup_token(&self, token: &str) -> Result<bool, StoreError> {
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        let (admins,): (i64,) = conn.fetch_one(Sql::new("SELECT count(*) FROM users WHERE role = 'admin'")).await?;
        if admins > 0 {
            return Ok(false);
        }
        conn.execute(
            Sql::new("INSERT INTO setup_tokens (token_hash, created_at) VALUES (?, ?) ON CONFLICT (token_hash) DO NOTHING")
                .bind(digest(token))
                .bind(now()),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Creates the first administrator with a setup token. The username and
    /// password are checked before the token is touched; the token is spent
    /// and the account created in one transaction; once any administrator
    /// exists (made here or at the command line), setup answers "closed".
    pub async fn setup_admin(&self, token: &str, new: &NewUser) -> Result<User, StoreError> {
        let mut admin = new.clone();
        admin.role = Role::Admin;
        let display = check_new_user(&admin)?;
        let password = admin.password.as_deref().ok_or_else(|| {
            StoreError::Domain(DomainError::invalid(
                "password",
                Msg::new("cần mật khẩu cho quản trị viên", "the administrator needs a password"),
            ))
        })?;
        let hash = hash_password(password).await?;
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        if conn.backend() == Backend::Postgres {
            conn.execute(Sql::new("SELECT pg_advisory_xact_lock(hashtext('chiase setup'))")).await?;
        }
        let (admins,): (i64,) = conn.fetch_one(Sql::new("SELECT count(*) FROM users WHERE role = 'admin'")).await?;
        if admins > 0 {
            return Err(setup_closed());
        }
        let n = conn
            .execute(
                Sql::new("UPDATE setup_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL").bind(now()).bind(digest(token)),
            )
            .await?;
        if n == 0 {
            return Err(StoreError::Domain(DomainError::invalid(
                "token",
                Msg::new("mã thiết lập không đúng hoặc đã dùng", "the setup token is wrong or spent"),
            )));
        }
        let user = insert_user(&mut conn, &admin, &display, Some(hash)).await?;
        tx.commit().await?;
        Ok(user)
    }
}

/// Setup is over once an administrator exists.
pub fn setup_closed() -> StoreError {
    StoreError::conflict(
        "đã có quản trị viên: việc thiết lập ban đầu đã đóng; hãy đăng nhập hoặc dùng «chiase user add» tại máy chủ",
        "an administrator exists: first-time setup is closed; sign in, or use «chiase user add» at the server",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_digests_fixed() {
        let a = new_secret("chs_");
        assert!(a.starts_with("chs_") && a.len() > 40);
        assert_ne!(a, new_secret("chs_"));
        assert_eq!(digest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
