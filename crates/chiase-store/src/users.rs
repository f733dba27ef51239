//! Accounts, API tokens, web sessions, sign-in throttling and the one-time
//! setup token. Secrets are never stored: passwords as argon2id hashes,
//! tokens and session ids as SHA-256 digests; a token is shown once.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chiase_core::policy::Role;
use chiase_core::{DomainError, Msg};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::agencies::AgencyRef;
use crate::db::{Conn, Id, Sql};
use crate::{Store, StoreError, now};

/// Failed sign-ins allowed per account in [`THROTTLE_WINDOW_MINUTES`].
pub const THROTTLE_FAILURES: i64 = 5;
pub const THROTTLE_WINDOW_MINUTES: i64 = 15;
/// How long a web session lasts.
pub const SESSION_HOURS: i64 = 12;

/// An account, as others see it.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    #[serde(skip)]
    pub pk: i64,
    pub username: String,
    pub display_name: String,
    pub agency: Option<AgencyRef>,
    #[serde(skip)]
    pub agency_pk: Option<i64>,
    pub role: Role,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    pk: i64,
    username: String,
    display_name: String,
    agency_slug: Option<String>,
    agency_name: Option<String>,
    agency_pk: Option<i64>,
    role: String,
    status: String,
    created_at: DateTime<Utc>,
    last_login_at: Option<DateTime<Utc>>,
}

const USER_SELECT: &str = "SELECT u.id AS pk, u.username, u.display_name, a.slug AS agency_slug, a.name AS agency_name, a.id AS agency_pk, \
     u.role, u.status, u.created_at, u.last_login_at FROM users u LEFT JOIN agencies a ON a.id = u.agency_id";

impl UserRow {
    fn into_user(self) -> Result<User, StoreError> {
        Ok(User {
            pk: self.pk,
            username: self.username,
            display_name: self.display_name,
            agency: self.agency_slug.zip(self.agency_name).map(|(id, name)| AgencyRef { id, name }),
            agency_pk: self.agency_pk,
            role: self.role.parse().map_err(|r| StoreError::Corrupt(format!("role «{r}»")))?,
            status: self.status,
            created_at: self.created_at,
            last_login_at: self.last_login_at,
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

fn check_username(u: &str) -> Result<(), DomainError> {
    let ok = (3..=64).contains(&u.len())
        && u.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        && u.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(DomainError::invalid(
            "username",
            Msg::new(
                format!("tên đăng nhập «{u}» không hợp lệ: 3–64 ký tự thường không dấu, chữ số, «.», «_», «-»"),
                format!("invalid username «{u}»: 3–64 lower-case ASCII letters, digits, «.», «_», «-»"),
            ),
        ))
    }
}

/// A password must be long enough to resist guessing (NIST SP 800-63B: at
/// least 8; chiase asks 12 for accounts that reach restricted data).
pub fn check_password(p: &str) -> Result<(), DomainError> {
    if p.chars().count() < 12 || p.len() > 1024 {
        return Err(DomainError::invalid("password", Msg::new("mật khẩu phải dài từ 12 ký tự", "a password needs at least 12 characters")));
    }
    Ok(())
}

fn hash_password(p: &str) -> Result<String, StoreError> {
    Argon2::default()
        .hash_password(p.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Corrupt(format!("password hashing failed: {e}")))
}

async fn load_user(conn: &mut Conn<'_>, where_sql: &'static str, value: sea_query::Value) -> Result<Option<User>, StoreError> {
    let row: Option<UserRow> = conn.fetch_optional(Sql::assembled(format!("{USER_SELECT} WHERE {where_sql}")).bind(value)).await?;
    row.map(UserRow::into_user).transpose()
}

impl Store {
    /// Creates an account.
    pub async fn create_user(&self, new: &NewUser) -> Result<User, StoreError> {
        check_username(&new.username)?;
        if let Some(p) = &new.password {
            check_password(p)?;
        }
        if new.role != Role::Admin && new.agency.is_none() && new.role == Role::Steward {
            return Err(DomainError::invalid(
                "agency",
                Msg::new("cán bộ quản lý dữ liệu phải thuộc một cơ quan", "a steward belongs to an agency"),
            )
            .into());
        }
        let hash = new.password.as_deref().map(hash_password).transpose()?;
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        let agency_pk = match &new.agency {
            Some(slug) => Some(
                conn.fetch_optional::<Id>(Sql::new("SELECT id FROM agencies WHERE slug = ? AND status = 'active'").bind(slug.as_str()))
                    .await?
                    .map(|Id(id)| id)
                    .ok_or_else(|| {
                        StoreError::not_found(format!("không có cơ quan đang hoạt động «{slug}»"), format!("no active agency «{slug}»"))
                    })?,
            ),
            None => None,
        };
        if conn.fetch_optional::<Id>(Sql::new("SELECT id FROM users WHERE username = ?").bind(new.username.as_str())).await?.is_some() {
            return Err(StoreError::conflict(
                format!("đã có tài khoản «{}»", new.username),
                format!("account «{}» exists already", new.username),
            ));
        }
        conn.execute(
            Sql::new("INSERT INTO users (username, display_name, agency_id, role, password_hash, status, created_at) VALUES (?, ?, ?, ?, ?, 'active', ?)")
                .bind(new.username.as_str())
                .bind(new.display_name.clone().unwrap_or_else(|| new.username.clone()))
                .bind(agency_pk)
                .bind(new.role.code())
                .bind(hash)
                .bind(now()),
        )
        .await?;
        let user = load_user(&mut conn, "u.username = ?", new.username.as_str().into())
            .await?
            .ok_or_else(|| StoreError::Corrupt("user vanished".into()))?;
        tx.commit().await?;
        Ok(user)
    }

    /// Every account, by name.
    pub async fn users(&self) -> Result<Vec<User>, StoreError> {
        let mut c = self.pools.reader().await?;
        let rows: Vec<UserRow> = c.conn().fetch_all(Sql::assembled(format!("{USER_SELECT} ORDER BY u.username"))).await?;
        rows.into_iter().map(UserRow::into_user).collect()
    }

    pub async fn user(&self, username: &str) -> Result<Option<User>, StoreError> {
        let mut c = self.pools.reader().await?;
        load_user(&mut c.conn(), "u.username = ?", username.into()).await
    }

    /// Sets (or replaces) a password.
    pub async fn set_password(&self, username: &str, password: &str) -> Result<(), StoreError> {
        check_password(password)?;
        let hash = hash_password(password)?;
        let mut tx = self.pools.begin().await?;
        let n = tx.conn().execute(Sql::new("UPDATE users SET password_hash = ? WHERE username = ?").bind(hash).bind(username)).await?;
        if n == 0 {
            return Err(StoreError::not_found(format!("không có tài khoản «{username}»"), format!("no account «{username}»")));
        }
        tx.commit().await
    }

    /// Checks a password, throttling repeated failures per account, and
    /// records the attempt.
    pub async fn sign_in(&self, username: &str, password: &str, source: &str) -> Result<SignIn, StoreError> {
        let since = now() - Duration::minutes(THROTTLE_WINDOW_MINUTES);
        let (failures,): (i64,) = {
            let mut c = self.pools.reader().await?;
            c.conn()
                .fetch_one(
                    Sql::new("SELECT count(*) FROM login_attempts WHERE username = ? AND success = ? AND at > ?")
                        .bind(username)
                        .bind(false)
                        .bind(since),
                )
                .await?
        };
        if failures >= THROTTLE_FAILURES {
            return Ok(SignIn::Throttled);
        }
        let row: Option<(String, String)> = {
            let mut c = self.pools.reader().await?;
            c.conn()
                .fetch_optional(Sql::new("SELECT COALESCE(password_hash, ''), status FROM users WHERE username = ?").bind(username))
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
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        conn.execute(
            Sql::new("INSERT INTO login_attempts (username, source, success, at) VALUES (?, ?, ?, ?)")
                .bind(username)
                .bind(source)
                .bind(ok)
                .bind(now()),
        )
        .await?;
        if ok {
            conn.execute(Sql::new("UPDATE users SET last_login_at = ? WHERE username = ?").bind(now()).bind(username)).await?;
        }
        let user = if ok { load_user(&mut conn, "u.username = ?", username.into()).await? } else { None };
        tx.commit().await?;
        Ok(match user {
            Some(u) => SignIn::Ok(u),
            None => SignIn::Refused,
        })
    }

    /// Creates an API token; returns it in clear, once.
    pub async fn create_token(&self, username: &str, name: &str, expires_days: Option<i64>) -> Result<(TokenInfo, String), StoreError> {
        let secret = new_secret("chs_");
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        let user = load_user(&mut conn, "u.username = ?", username.into())
            .await?
            .ok_or_else(|| StoreError::not_found(format!("không có tài khoản «{username}»"), format!("no account «{username}»")))?;
        if let Some(d) = expires_days.filter(|d| *d <= 0 || *d > 3650) {
            return Err(DomainError::invalid(
                "expires",
                Msg::new(format!("thời hạn {d} ngày không hợp lệ (1–3650)"), format!("invalid lifetime of {d} days (1–3650)")),
            )
            .into());
        }
        let expires = expires_days.map(|d| now() + Duration::days(d));
        let name = if name.trim().is_empty() { "token" } else { name.trim() };
        let Id(id) = conn
            .fetch_one(
                Sql::new("INSERT INTO api_tokens (user_id, name, token_hash, prefix, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id")
                    .bind(user.pk)
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

    /// A user's tokens.
    pub async fn tokens(&self, username: &str) -> Result<Vec<TokenInfo>, StoreError> {
        let mut c = self.pools.reader().await?;
        c.conn()
            .fetch_all(
                Sql::new(
                    "SELECT t.id, t.name, t.prefix, t.created_at, t.expires_at, t.revoked_at, t.last_used_at FROM api_tokens t \
                     JOIN users u ON u.id = t.user_id WHERE u.username = ? ORDER BY t.id",
                )
                .bind(username),
            )
            .await
    }

    /// Revokes a token by id (optionally only if it belongs to `owner`).
    pub async fn revoke_token(&self, id: i64, owner: Option<&str>) -> Result<(), StoreError> {
        let mut tx = self.pools.begin().await?;
        let n = match owner {
            Some(u) => {
                tx.conn()
                    .execute(
                        Sql::new("UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL AND user_id = (SELECT id FROM users WHERE username = ?)")
                            .bind(now())
                            .bind(id)
                            .bind(u),
                    )
                    .await?
            }
            None => tx.conn().execute(Sql::new("UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL").bind(now()).bind(id)).await?,
        };
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
                .bind(user.pk)
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
        let (n,): (i64,) = c.conn().fetch_one(Sql::new("SELECT count(*) FROM users WHERE role = 'admin' AND status = 'active'")).await?;
        Ok(n > 0)
    }

    /// Records a one-time setup token (in clear only in the caller's hands).
    pub async fn add_setup_token(&self, token: &str) -> Result<(), StoreError> {
        let mut tx = self.pools.begin().await?;
        tx.conn()
            .execute(
                Sql::new("INSERT INTO setup_tokens (token_hash, created_at) VALUES (?, ?) ON CONFLICT (token_hash) DO NOTHING")
                    .bind(digest(token))
                    .bind(now()),
            )
            .await?;
        tx.commit().await
    }

    /// Creates the first administrator with a setup token, which is spent.
    pub async fn setup_admin(&self, token: &str, new: &NewUser) -> Result<User, StoreError> {
        let mut tx = self.pools.begin().await?;
        let n = tx
            .conn()
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
        tx.commit().await?;
        let mut admin = new.clone();
        admin.role = Role::Admin;
        self.create_user(&admin).await
    }
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

    #[test]
    fn usernames_and_passwords_are_checked() {
        assert!(check_username("nguyen.van-a_1").is_ok());
        assert!(check_username("Nguyễn").is_err());
        assert!(check_username("ab").is_err());
        assert!(check_password("short").is_err());
        assert!(check_password("mot-mat-khau-dai").is_ok());
    }
}
