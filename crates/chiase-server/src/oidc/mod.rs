//! Sign-in through the province's central sign-on (catalog entry 27) over
//! OpenID Connect: the authorisation code flow with PKCE (S256), through
//! the `openidconnect` crate.
//!
//! - The provider's metadata (discovery, with its key set) is fetched when
//!   first needed and kept for an hour per issuer; when the provider cannot
//!   be reached, the sign-in button answers with a message in both
//!   languages and password sign-in is untouched.
//! - `begin` keeps the state (as its SHA-256), the nonce and the PKCE
//!   verifier server-side (`oidc_logins`, 10 minutes, taken once by the
//!   callback); the browser holds the state in an HttpOnly cookie too, so a
//!   callback carrying someone else's state is refused.
//! - `finish` exchanges the code with the verifier and verifies the ID
//!   token (signature by the key set, issuer, audience, expiry, nonce); the
//!   identity is read only from a verified token. A token signed with a key
//!   the cached set lacks makes one fresh discovery (keys rotate).
//! - Redirects go only to endpoints of the configured issuer's own origin.
//! - The client secret is never logged or shown.

pub mod http;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use chiase_core::policy::Role;
use chiase_store::oidc::{OidcIdentity, OidcSignIn, PendingLogin};
use chiase_store::users::User;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::url::Url;
use openidconnect::{
    AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IdToken, IdTokenClaims, IdTokenFields, IssuerUrl, LogoutRequest, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    PostLogoutRedirectUrl, ProviderMetadataWithLogout, RedirectUrl, Scope, StandardErrorResponse, StandardTokenResponse,
};
use serde_json::json;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// Every claim of the ID token besides the standard ones: the configured
/// agency and role claims are read from here.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ExtraClaims(serde_json::Map<String, serde_json::Value>);

impl AdditionalClaims for ExtraClaims {}

type Claims = IdTokenClaims<ExtraClaims, CoreGenderClaim>;
type OidcIdToken = IdToken<ExtraClaims, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;
type Fields =
    IdTokenFields<ExtraClaims, EmptyExtraTokenFields, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;
type OidcClient = openidconnect::Client<
    ExtraClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    StandardTokenResponse<Fields, CoreTokenType>,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// How long discovered metadata (and its key set) is used.
const METADATA_TTL: Duration = Duration::from_secs(3600);

type Cached = (String, Instant, Arc<ProviderMetadataWithLogout>);

/// Discovered metadata per issuer (one in a server; tests run several).
static METADATA: Mutex<Vec<Cached>> = Mutex::new(Vec::new());

fn unavailable() -> ApiError {
    let mut e = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "oidc_unavailable",
        "Không kết nối được với hệ thống đăng nhập một cửa của tỉnh. Hãy thử lại sau ít phút, hoặc đăng nhập bằng mật khẩu chiase.",
        "The province's central sign-on cannot be reached. Try again in a few minutes, or sign in with a chiase password.",
    );
    e.retry_after = Some(60);
    e
}

fn refused(vi: impl Into<String>, en: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "oidc_refused", vi, en)
}

/// The invalid-state answer: the callback is not one of a sign-in this
/// browser started (forged, replayed, or older than 10 minutes).
pub fn bad_state() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "oidc_state",
        "Phiên đăng nhập một cửa không hợp lệ hoặc đã hết hạn (quá 10 phút). Hãy bấm lại nút đăng nhập.",
        "The central sign-on attempt is invalid or expired (over 10 minutes). Press the sign-in button again.",
    )
}

fn issuer(app: &AppState) -> &str {
    app.config.oidc_issuer.as_deref().unwrap_or("").trim()
}

/// The provider's metadata: cached, or discovered now (`fresh`: always).
async fn metadata(issuer: &str, fresh: bool) -> Result<Arc<ProviderMetadataWithLogout>, ApiError> {
    if !fresh {
        let cache = METADATA.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, _, m)) = cache.iter().find(|(i, at, _)| i == issuer && at.elapsed() < METADATA_TTL) {
            return Ok(m.clone());
        }
    }
    let url = IssuerUrl::new(issuer.to_string()).map_err(|e| {
        tracing::error!("oidc_issuer is not a URL: {e}");
        unavailable()
    })?;
    let found = ProviderMetadataWithLogout::discover_async(url, &http::send).await.map_err(|e| {
        tracing::warn!(issuer, "OpenID discovery failed: {}", error_chain(&e));
        unavailable()
    })?;
    let found = Arc::new(found);
    let mut cache = METADATA.lock().unwrap_or_else(|e| e.into_inner());
    cache.retain(|(i, _, _)| i != issuer);
    cache.push((issuer.to_string(), Instant::now(), found.clone()));
    Ok(found)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Whether `url` is on the issuer's own origin (scheme, host and port).
fn same_origin(issuer: &str, url: &Url) -> bool {
    Url::parse(issuer).is_ok_and(|i| i.origin() == url.origin())
}

fn client(app: &AppState, meta: &ProviderMetadataWithLogout) -> Result<OidcClient, ApiError> {
    let id = ClientId::new(app.config.oidc_client_id.clone().unwrap_or_default());
    let secret = app.config.oidc_client_secret.clone().filter(|s| !s.is_empty()).map(ClientSecret::new);
    let redirect = RedirectUrl::new(app.config.oidc_redirect()).map_err(|e| {
        tracing::error!("oidc_redirect_url is not a URL: {e}");
        unavailable()
    })?;
    Ok(OidcClient::from_provider_metadata(meta.clone(), id, secret).set_redirect_uri(redirect))
}

/// Starts a sign-in: the URL of the provider's authorisation endpoint and
/// the state to keep in the browser's cookie.
pub async fn begin(app: &AppState, lang: &str) -> Result<(String, String), ApiError> {
    let issuer = issuer(app);
    let meta = metadata(issuer, false).await?;
    if !same_origin(issuer, meta.authorization_endpoint().url()) {
        tracing::error!(issuer, "the provider's authorization endpoint is on another origin than its issuer: refused");
        return Err(unavailable());
    }
    let client = client(app, &meta)?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    let pending = PendingLogin {
        nonce: nonce.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
        lang: if lang == "en" { "en" } else { "vi" }.to_string(),
    };
    app.store.save_oidc_login(state.secret(), &pending).await?;
    Ok((url.to_string(), state.secret().clone()))
}

/// What a verified ID token gives.
pub struct Verified {
    pub identity: OidcIdentity,
    /// The ID token as received (for the sign-out at the provider).
    pub id_token: String,
}

/// Exchanges the code (with the PKCE verifier) and verifies the ID token.
pub async fn finish(app: &AppState, code: &str, pending: &PendingLogin) -> Result<Verified, ApiError> {
    let issuer = issuer(app);
    let meta = metadata(issuer, false).await?;
    let client = client(app, &meta)?;
    let request = client.exchange_code(AuthorizationCode::new(code.to_string())).map_err(|e| {
        tracing::error!("the provider has no token endpoint: {e}");
        unavailable()
    })?;
    let token =
        request.set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone())).request_async(&http::send).await.map_err(|e| {
            tracing::warn!("OpenID code exchange failed: {}", error_chain(&e));
            match e {
                openidconnect::RequestTokenError::ServerResponse(_) => refused(
                    "Hệ thống đăng nhập một cửa không xác nhận lần đăng nhập này. Hãy bấm lại nút đăng nhập.",
                    "The central sign-on did not confirm this sign-in. Press the sign-in button again.",
                ),
                _ => unavailable(),
            }
        })?;
    let id_token = token.extra_fields().id_token().ok_or_else(|| {
        tracing::warn!("the provider answered without an ID token");
        refused("Hệ thống đăng nhập một cửa không gửi ID token.", "The central sign-on sent no ID token.")
    })?;
    let nonce = Nonce::new(pending.nonce.clone());
    let claims: Claims = match id_token.claims(&client.id_token_verifier(), &nonce) {
        Ok(c) => c.clone(),
        Err(first) => {
            // The key may have rotated since discovery: once more with fresh keys.
            let meta = metadata(issuer, true).await?;
            let client = self::client(app, &meta)?;
            id_token.claims(&client.id_token_verifier(), &nonce).cloned().map_err(|e| {
                tracing::warn!("ID token refused: {first}; with fresh keys: {e}");
                refused(
                    "ID token của hệ thống đăng nhập một cửa không hợp lệ; chưa đăng nhập.",
                    "The central sign-on's ID token is not valid; not signed in.",
                )
            })?
        }
    };
    Ok(Verified { identity: identity(app, &claims), id_token: id_token.to_string() })
}

/// The identity of verified claims, with the agency and role from the
/// configured claims.
fn identity(app: &AppState, claims: &Claims) -> OidcIdentity {
    let extra = &claims.additional_claims().0;
    let text = |name: &str| -> Option<String> {
        match extra.get(name)? {
            serde_json::Value::String(s) => Some(s.trim().to_string()),
            serde_json::Value::Array(a) => a.iter().find_map(|v| v.as_str()).map(|s| s.trim().to_string()),
            _ => None,
        }
        .filter(|s| !s.is_empty())
    };
    let role = match text(&app.config.oidc_role_claim).as_deref() {
        Some("admin") => Role::Admin,
        Some("steward") => Role::Steward,
        _ => Role::Member,
    };
    let email = claims.email().map(|e| e.as_str().to_string());
    OidcIdentity {
        subject: claims.subject().as_str().to_string(),
        username_hint: claims.preferred_username().map(|u| u.as_str().to_string()).or_else(|| email.clone()),
        display_name: claims.name().and_then(|n| n.get(None)).map(|n| n.as_str().to_string()),
        email,
        agency: text(&app.config.oidc_agency_claim),
        role,
    }
}

/// Signs in (or creates) the account of a verified identity and records
/// it: `sign_in` with method `oidc` (and `user_created` the first time), or
/// `sign_in_failed` with the reason.
pub async fn sign_in(app: &AppState, source: Option<String>, identity: &OidcIdentity) -> Result<User, ApiError> {
    let anonymous = Caller::anonymous(source.clone());
    let failed =
        |reason: &str, target: String| anonymous.actor.event("sign_in_failed", target, json!({ "method": "oidc", "reason": reason }));
    match app.store.oidc_sign_in(identity).await {
        Ok(OidcSignIn::Ok { user, created }) => {
            let caller = Caller::of_user(user.clone(), source);
            if created {
                let e = caller.actor.event(
                    "user_created",
                    user.username.clone(),
                    json!({ "by": "oidc", "role": user.role, "agency": user.agency }),
                );
                app.recorder.record(e).await?;
            }
            app.recorder.record(caller.actor.event("sign_in", user.username.clone(), json!({ "method": "oidc" }))).await?;
            Ok(user)
        }
        Ok(OidcSignIn::UnknownAgency(slug)) => {
            app.recorder.record(failed("unknown_agency", format!("oidc:{slug}"))).await?;
            Err(refused(
                format!(
                    "Tài khoản một cửa ghi cơ quan «{slug}», cơ quan này không có (hoặc không còn hoạt động) trên cổng dữ liệu. Chưa đăng nhập; hãy báo quản trị viên."
                ),
                format!(
                    "The central sign-on names the agency «{slug}», which the data portal does not have (or no longer active). Not signed in; tell an administrator."
                ),
            ))
        }
        Ok(OidcSignIn::Disabled(username)) => {
            app.recorder.record(failed("disabled", username)).await?;
            Err(refused("Tài khoản này đã bị khoá trên cổng dữ liệu.", "This account is disabled on the data portal."))
        }
        Err(e) => {
            let e = ApiError::from(e);
            app.recorder.record(failed(e.code, "oidc".into())).await?;
            Err(e)
        }
    }
}

/// Where to send the browser after its chiase session ended, to end its
/// session at the provider too: the provider's end-session endpoint with
/// the ID token as hint and chiase's home as the way back. `None` when the
/// provider has none (or cannot be reached within 3 seconds).
pub async fn logout_url(app: &AppState, id_token: &str) -> Option<String> {
    if !app.config.oidc_enabled() {
        return None;
    }
    let issuer = issuer(app);
    let meta = tokio::time::timeout(Duration::from_secs(3), metadata(issuer, false)).await.ok()?.ok()?;
    let end = meta.additional_metadata().end_session_endpoint.clone()?;
    if !same_origin(issuer, end.url()) {
        tracing::warn!(issuer, "the provider's end-session endpoint is on another origin than its issuer: not used");
        return None;
    }
    let token: OidcIdToken = id_token.parse().ok()?;
    let back = Url::parse(&app.config.oidc_redirect()).ok()?.join("/").ok()?;
    let request = LogoutRequest::from(end)
        .set_id_token_hint(&token)
        .set_client_id(ClientId::new(app.config.oidc_client_id.clone().unwrap_or_default()))
        .set_post_logout_redirect_uri(PostLogoutRedirectUrl::new(back.to_string()).ok()?);
    Some(request.http_get_url().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_issuers_origin_is_trusted() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(same_origin("https://sso.tq.gov.vn/realms/x", &u("https://sso.tq.gov.vn/realms/x/auth")));
        assert!(!same_origin("https://sso.tq.gov.vn/realms/x", &u("https://evil.example/auth")));
        assert!(!same_origin("https://sso.tq.gov.vn", &u("http://sso.tq.gov.vn/auth")));
    }
}
