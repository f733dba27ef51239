//! The domain's error type: every failure a person can cause, with its
//! message in Vietnamese and English. The HTTP edge maps each variant to a
//! status code; the CLI prints the message.

use serde::Serialize;

/// A message in both languages chiase speaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Msg {
    pub vi: String,
    pub en: String,
}

impl Msg {
    pub fn new(vi: impl Into<String>, en: impl Into<String>) -> Msg {
        Msg { vi: vi.into(), en: en.into() }
    }
}

impl std::fmt::Display for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} / {}", self.vi, self.en)
    }
}

/// What went wrong, in terms a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// A value is malformed or out of range (HTTP 422 / 400).
    #[error("invalid {field}: {msg}")]
    Invalid { field: String, msg: Msg },
    /// The thing asked for does not exist (HTTP 404).
    #[error("not found: {0}")]
    NotFound(Msg),
    /// The request contradicts the current state (HTTP 409).
    #[error("conflict: {0}")]
    Conflict(Msg),
    /// The subject may not do this, whatever the data (HTTP 403).
    #[error("forbidden: {0}")]
    Forbidden(Msg),
}

impl DomainError {
    pub fn invalid(field: impl Into<String>, msg: Msg) -> DomainError {
        DomainError::Invalid { field: field.into(), msg }
    }
    pub fn not_found(msg: Msg) -> DomainError {
        DomainError::NotFound(msg)
    }
    pub fn conflict(msg: Msg) -> DomainError {
        DomainError::Conflict(msg)
    }
    /// The bilingual message.
    pub fn msg(&self) -> &Msg {
        match self {
            DomainError::Invalid { msg, .. } | DomainError::NotFound(msg) | DomainError::Conflict(msg) | DomainError::Forbidden(msg) => msg,
        }
    }
}
