//! Decisions about running the platform: reading and verifying the audit
//! log, administering agencies, accounts and API tokens, publishing the
//! catalog.

use super::{Reason, Subject, deny_unless_signed_in};
use crate::ids::{AgencyId, UserId};

/// How much of the audit log a permit shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditScope {
    /// Every event (administrators, the operator).
    All,
    /// Events about this agency's datasets, and by this agency's people.
    Agency(AgencyId),
}

/// Permission to read the audit log within a scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditPermit {
    scope: AuditScope,
}

impl AuditPermit {
    pub fn scope(&self) -> AuditScope {
        self.scope
    }
}

/// Permission to recompute the whole chain (it reads every event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditVerifyPermit {
    _private: (),
}

/// Permission to create, rename, merge and dissolve agencies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgencyAdminPermit {
    _private: (),
}

/// Permission to set one agency's focal contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactPermit {
    agency: AgencyId,
}

impl ContactPermit {
    pub fn agency(&self) -> AgencyId {
        self.agency
    }
}

/// Permission to administer accounts: create, list, disable, move between
/// agencies, set passwords.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAdminPermit {
    _private: (),
}

/// Permission to manage one account's API tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPermit {
    user: UserId,
    reason: Reason,
}

impl TokenPermit {
    /// The account whose tokens may be created, listed and revoked.
    pub fn user(&self) -> UserId {
        self.user
    }
    pub fn reason(&self) -> Reason {
        self.reason
    }
}

/// Permission to import catalog versions (a decision of the province).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogPermit {
    _private: (),
}

/// Permission to change the settings that are safe to change while the
/// server runs (the portal's name, the map tiles, the mail sender).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsPermit {
    _private: (),
}

/// Leave to add, run and remove harvest sources: which other catalogs
/// chiase pulls entries and open rows from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HarvestPermit {
    _private: (),
}

fn admin(subject: &Subject) -> Result<(), Reason> {
    if subject.is_admin() { Ok(()) } else { Err(deny_unless_signed_in(subject, Reason::NotAdmin)) }
}

/// May `subject` read the audit log? Administrators all of it, stewards
/// what concerns their agency.
pub fn decide_audit_read(subject: &Subject) -> Result<AuditPermit, Reason> {
    if subject.is_admin() {
        return Ok(AuditPermit { scope: AuditScope::All });
    }
    match subject {
        Subject::User { role: super::Role::Steward, .. } => match subject.state_agency() {
            Some(a) => Ok(AuditPermit { scope: AuditScope::Agency(a) }),
            None => Err(Reason::NotStateAgency),
        },
        s => Err(deny_unless_signed_in(s, Reason::NotSteward)),
    }
}

/// May `subject` verify the whole chain? Administrators.
pub fn decide_audit_verify(subject: &Subject) -> Result<AuditVerifyPermit, Reason> {
    admin(subject).map(|()| AuditVerifyPermit { _private: () })
}

/// May `subject` administer agencies? Administrators.
pub fn decide_agency_admin(subject: &Subject) -> Result<AgencyAdminPermit, Reason> {
    admin(subject).map(|()| AgencyAdminPermit { _private: () })
}

/// May `subject` set `agency`'s focal contact? Administrators, or the
/// agency's own stewards.
pub fn decide_contact(subject: &Subject, agency: AgencyId) -> Result<ContactPermit, Reason> {
    if subject.is_admin() || subject.is_steward_of(agency) {
        Ok(ContactPermit { agency })
    } else {
        Err(deny_unless_signed_in(subject, Reason::NotSteward))
    }
}

/// May `subject` administer accounts? Administrators.
pub fn decide_user_admin(subject: &Subject) -> Result<UserAdminPermit, Reason> {
    admin(subject).map(|()| UserAdminPermit { _private: () })
}

/// May `subject` manage the tokens of account `user`? The account itself,
/// or an administrator.
pub fn decide_tokens(subject: &Subject, user: UserId) -> Result<TokenPermit, Reason> {
    if subject.user() == Some(user) {
        return Ok(TokenPermit { user, reason: Reason::OwnAccount });
    }
    admin(subject).map(|()| TokenPermit { user, reason: Reason::Administrator })
}

/// May `subject` publish catalog versions? Administrators.
pub fn decide_catalog(subject: &Subject) -> Result<CatalogPermit, Reason> {
    admin(subject).map(|()| CatalogPermit { _private: () })
}

/// May `subject` see the settings and change those that are safe to change
/// at run time? Administrators.
pub fn decide_settings(subject: &Subject) -> Result<SettingsPermit, Reason> {
    admin(subject).map(|()| SettingsPermit { _private: () })
}

/// May `subject` add, run or remove harvest sources? Administrators (a
/// source decides what enters the province's catalog).
pub fn decide_harvest(subject: &Subject) -> Result<HarvestPermit, Reason> {
    admin(subject).map(|()| HarvestPermit { _private: () })
}
