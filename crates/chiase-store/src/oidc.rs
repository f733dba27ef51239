//! Sign-in through an OpenID provider (the province's central sign-on):
//! the sign-ins under way between the redirect to the provider and its
//! callback (single-use, 10 minutes), and the account an ID token's subject
//! names, matched by `users.oidc_subject` or created on first sign-in, its
//! agency and role set from the token's claims each time. The protocol
//! (discovery, PKCE, ID-token verification) is chiase-server's; only
//! verified claims reach this module.

use chiase_core::accounts::{check_role_agency, check_username, display_name};
use chiase_core::fold::fold;
use chiase_core::ids::AgencyId;
use chiase_core::policy::Role;
use chiase_core::{DomainError, Msg};
use chrono::Duration;

use crate::db::{Backend, Conn, Id, Sql};
use crate::users::{NewUser, User, digest, end_access, insert_user, load_user};
use crate::{Store, StoreError, now};

/// How long a sign-in under way may take, from the redirect to the callback.
pub const PENDING_MINUTES: i64 = 10;

/// What the callback needs of the redirect that started a sign-in.
#[derive(Debug, Clone)]
pub struct PendingLogin {
    pub nonce: String,
    pub pkce_verifier: String,
    /// The page language of the sign-in (`vi` or `en`).
    pub lang: String,
}

/// The verified identity an ID token gives.
#[derive(Debug, Clone)]
pub struct OidcIdentity {
    /// The provider's subject identifier (`sub`).
    pub subject: String,
    /// `preferred_username`, else the e-mail address: what a new account's
    /// username is made from.
    pub username_hint: Option<String>,
    /// `name`.
    pub display_name: Option<String>,
    /// `email`, kept on a new account for its notifications.
    pub email: Option<String>,
    /// The agency slug of the configured claim; `None`: the claim is absent.
    pub agency: Option<String>,
    pub role: Role,
}

/// What a sign-in through the provider comes to.
#[derive(Debug)]
pub enum OidcSignIn {
    /// Signed in (`created`: the account was made now).
    Ok { user: User, created: bool },
    /// The claim names no active agency: nothing was created or changed.
    UnknownAgency(String),
    /// The account is disabled.
    Disabled(String),
}

/// A username made of what the provider says (lower-case ASCII letters,
/// digits, `.`, `_`, `-`; the local part of an e-mail address), or `user`.
fn username_base(hint: Option<&str>) -> String {
    let hint = hint.unwrap_or("").trim();
    let hint = hint.split('@').next().unwrap_or("");
    let mut out = String::new();
    for c in fold(hint).chars() {
        match c {
            'a'..='z' | '0'..='9' | '.' | '_' | '-' => out.push(c),
            ' ' => out.push('.'),
            _ => {}
        }
    }
    let out: String = out.trim_start_matches(|c: char| !c.is_ascii_alphanumeric()).chars().take(56).collect();
    if out.len() < 3 { format!("user{out}") } else { out }
}

impl Store {
    /// Records a sign-in under way, keyed by the SHA-256 of its `state`.
    pub async fn save_oidc_login(&self, state: &str, pending: &PendingLogin) -> Result<(), StoreError> {
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        conn.execute(Sql::new("DELETE FROM oidc_logins WHERE expires_at < ?").bind(now())).await?;
        conn.execute(
            Sql::new("INSERT INTO oidc_logins (state_hash, nonce, pkce_verifier, lang, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)")
                .bind(digest(state))
                .bind(pending.nonce.as_str())
                .bind(pending.pkce_verifier.as_str())
                .bind(pending.lang.as_str())
                .bind(now())
                .bind(now() + Duration::minutes(PENDING_MINUTES)),
        )
        .await?;
        tx.commit().await
    }

    /// Takes the sign-in a `state` names: it is removed whatever comes of
    /// it, so that a state is used once; `None` when it is unknown, used or
    /// expired.
    pub async fn take_oidc_login(&self, state: &str) -> Result<Option<PendingLogin>, StoreError> {
        let mut tx = self.pools.begin().await?;
        let found: Option<(String, String, String)> = tx
            .conn()
            .fetch_optional(
                Sql::new("DELETE FROM oidc_logins WHERE state_hash = ? AND expires_at > ? RETURNING nonce, pkce_verifier, lang")
                    .bind(digest(state))
                    .bind(now()),
            )
            .await?;
        tx.commit().await?;
        Ok(found.map(|(nonce, pkce_verifier, lang)| PendingLogin { nonce, pkce_verifier, lang }))
    }

    /// Signs in the account of a verified identity: the one linked to its
    /// subject, its agency and role set from the claims (when they change,
    /// its other sessions and tokens end, as when an administrator moves
    /// it), or a new one. An unknown agency, or a disabled account, is
    /// refused with nothing written.
    pub async fn oidc_sign_in(&self, id: &OidcIdentity) -> Result<OidcSignIn, StoreError> {
        let mut tx = self.pools.begin().await?;
        let mut conn = tx.conn();
        if conn.backend() == Backend::Postgres {
            // Two first sign-ins of one subject at once make one account.
            conn.execute(Sql::new("SELECT pg_advisory_xact_lock(hashtext(?))").bind(format!("oidc {}", id.subject))).await?;
        }
        let agency_pk = match &id.agency {
            Some(slug) => {
                let found: Option<Id> = conn
                    .fetch_optional(Sql::new("SELECT id FROM agencies WHERE slug = ? AND status = 'active'").bind(slug.as_str()))
                    .await?;
                match found {
                    Some(Id(pk)) => Some(AgencyId(pk)),
                    None => return Ok(OidcSignIn::UnknownAgency(slug.chars().take(64).collect())),
                }
            }
            None => None,
        };
        check_role_agency(id.role, agency_pk.is_some())?;
        let existing = load_user(&mut conn, "u.oidc_subject = ?", id.subject.as_str().into()).await?;
        let (user, created) = match existing {
            Some(user) if user.status != "active" => return Ok(OidcSignIn::Disabled(user.username)),
            Some(user) => {
                if user.agency_pk != agency_pk || user.role != id.role {
                    conn.execute(
                        Sql::new("UPDATE users SET agency_id = ?, role = ? WHERE id = ?")
                            .bind(agency_pk.map(AgencyId::get))
                            .bind(id.role.code())
                            .bind(user.pk.get()),
                    )
                    .await?;
                    end_access(&mut conn, user.pk).await?;
                }
                (user, false)
            }
            None => {
                let username = free_username(&mut conn, &username_base(id.username_hint.as_deref())).await?;
                check_username(&username)?;
                let display = display_name(id.display_name.as_deref(), &username).or_else(|_| display_name(None, &username))?;
                let new = NewUser {
                    username: username.clone(),
                    display_name: Some(display.clone()),
                    agency: id.agency.clone(),
                    role: id.role,
                    password: None,
                    email: id.email.clone().filter(|e| e.len() <= 254 && e.contains('@')),
                };
                let user = insert_user(&mut conn, &new, &display, None).await?;
                conn.execute(Sql::new("UPDATE users SET oidc_subject = ? WHERE id = ?").bind(id.subject.as_str()).bind(user.pk.get()))
                    .await?;
                (user, true)
            }
        };
        conn.execute(Sql::new("UPDATE users SET last_login_at = ? WHERE id = ?").bind(now()).bind(user.pk.get())).await?;
        let user =
            load_user(&mut conn, "u.id = ?", user.pk.get().into()).await?.ok_or_else(|| StoreError::Corrupt("user vanished".into()))?;
        tx.commit().await?;
        Ok(OidcSignIn::Ok { user, created })
    }

    /// Keeps the ID token a session was opened with (for the sign-out at
    /// the provider).
    pub async fn set_session_id_token(&self, sid: &str, id_token: &str) -> Result<(), StoreError> {
        let mut tx = self.pools.begin().await?;
        tx.conn().execute(Sql::new("UPDATE sessions SET oidc_id_token = ? WHERE id_hash = ?").bind(id_token).bind(digest(sid))).await?;
        tx.commit().await
    }

    /// The ID token of a live session opened through the provider.
    pub async fn session_id_token(&self, sid: &str) -> Result<Option<String>, StoreError> {
        let mut c = self.pools.reader().await?;
        let found: Option<(Option<String>,)> = c
            .conn()
            .fetch_optional(
                Sql::new("SELECT oidc_id_token FROM sessions WHERE id_hash = ? AND expires_at > ?").bind(digest(sid)).bind(now()),
            )
            .await?;
        Ok(found.and_then(|(t,)| t))
    }
}

/// `base`, or `base-2`, `base-3`… the first that no account has.
async fn free_username(conn: &mut Conn<'_>, base: &str) -> Result<String, StoreError> {
    for n in 1..1000 {
        let candidate = if n == 1 { base.to_string() } else { format!("{base}-{n}") };
        let (taken,): (i64,) = conn.fetch_one(Sql::new("SELECT count(*) FROM users WHERE username = ?").bind(candidate.as_str())).await?;
        if taken == 0 {
            return Ok(candidate);
        }
    }
    Err(DomainError::invalid(
        "username",
        Msg::new(format!("không tìm được tên đăng nhập còn trống cho «{base}»"), format!("no free username for «{base}»")),
    )
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_made_of_what_the_provider_says() {
        assert_eq!(username_base(Some("Nguyễn Văn An")), "nguyen.van.an");
        assert_eq!(username_base(Some("an.nv@tuyenquang.gov.vn")), "an.nv");
        assert_eq!(username_base(Some("__x")), "userx");
        assert_eq!(username_base(None), "user");
        assert!(check_username(&username_base(Some(&"đ".repeat(200)))).is_ok());
    }
}
