//! Services (issue 13): live systems a catalog database offers through the
//! gateway. Calling one follows its sharing mode as reading a dataset's
//! rows does; registering and changing one is its owner's stewards'.
//!
//! Grants for services are not yet part of the request workflow: a
//! `specific` or `legal` service is called by its owner agency (and the
//! operator) only, until a request can name a service.

use super::{Reason, Subject, deny_unless_signed_in};
use crate::ids::AgencyId;
use crate::sharing::SharingMode;

/// What the decision point needs to know of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceFacts {
    pub service_id: i64,
    pub owner_agency_id: AgencyId,
    pub mode: SharingMode,
}

/// Leave to call a service through the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallPermit {
    service_id: i64,
    reason: Reason,
}

impl CallPermit {
    pub fn service_id(&self) -> i64 {
        self.service_id
    }
    pub fn reason(&self) -> Reason {
        self.reason
    }
}

/// Leave to register a service in a database, or change one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAdminPermit {
    owner: AgencyId,
}

impl ServiceAdminPermit {
    pub fn owner(&self) -> AgencyId {
        self.owner
    }
}

/// May `subject` call `service`? `open`: anyone; `default`: a user of an
/// active state agency; `specific`/`legal`: the owner agency. The operator
/// always.
pub fn decide_call(subject: &Subject, service: &ServiceFacts) -> Result<CallPermit, Reason> {
    let permit = |reason| Ok(CallPermit { service_id: service.service_id, reason });
    if matches!(subject, Subject::Operator) {
        return permit(Reason::OperatorAccess);
    }
    let agency = subject.state_agency();
    if agency == Some(service.owner_agency_id) {
        return permit(Reason::OwnerAgency);
    }
    match service.mode {
        SharingMode::Open => permit(Reason::OpenData),
        SharingMode::Default if agency.is_some() => permit(Reason::DefaultSharing),
        SharingMode::Default => Err(deny_unless_signed_in(subject, Reason::NotStateAgency)),
        SharingMode::Specific | SharingMode::Legal => Err(deny_unless_signed_in(subject, Reason::NoActiveGrant)),
    }
}

/// May `subject` register or change a service of a database owned by
/// `owner`? Its stewards, and the operator.
pub fn decide_service_admin(subject: &Subject, owner: AgencyId) -> Result<ServiceAdminPermit, Reason> {
    match subject {
        Subject::Operator => Ok(ServiceAdminPermit { owner }),
        s if s.is_steward_of(owner) => Ok(ServiceAdminPermit { owner }),
        s => Err(deny_unless_signed_in(s, Reason::NotSteward)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::UserId;
    use crate::policy::Role;

    const OWNER: AgencyId = AgencyId(1);
    const OTHER: AgencyId = AgencyId(2);

    fn user(agency: Option<AgencyId>, role: Role) -> Subject {
        Subject::User { user_id: UserId(1), agency_id: agency, agency_active: true, role }
    }

    #[test]
    fn calls_follow_the_sharing_mode() {
        let svc = |mode| ServiceFacts { service_id: 7, owner_agency_id: OWNER, mode };
        let public = Subject::Anonymous;
        let citizen = user(None, Role::Member);
        let other = user(Some(OTHER), Role::Member);
        let owner = user(Some(OWNER), Role::Member);
        assert!(decide_call(&public, &svc(SharingMode::Open)).is_ok());
        assert_eq!(decide_call(&public, &svc(SharingMode::Default)).unwrap_err(), Reason::SignInRequired);
        assert_eq!(decide_call(&citizen, &svc(SharingMode::Default)).unwrap_err(), Reason::NotStateAgency);
        assert_eq!(decide_call(&other, &svc(SharingMode::Default)).unwrap().reason(), Reason::DefaultSharing);
        assert_eq!(decide_call(&other, &svc(SharingMode::Specific)).unwrap_err(), Reason::NoActiveGrant);
        assert_eq!(decide_call(&owner, &svc(SharingMode::Legal)).unwrap().reason(), Reason::OwnerAgency);
        assert!(decide_call(&Subject::Operator, &svc(SharingMode::Legal)).is_ok());
        let ended = Subject::User { user_id: UserId(1), agency_id: Some(OWNER), agency_active: false, role: Role::Steward };
        assert!(decide_call(&ended, &svc(SharingMode::Specific)).is_err());
    }

    #[test]
    fn only_stewards_of_the_owner_register_services() {
        assert!(decide_service_admin(&user(Some(OWNER), Role::Steward), OWNER).is_ok());
        assert!(decide_service_admin(&user(Some(OWNER), Role::Member), OWNER).is_err());
        assert!(decide_service_admin(&user(Some(OTHER), Role::Steward), OWNER).is_err());
        assert!(decide_service_admin(&user(Some(OTHER), Role::Admin), OWNER).is_err());
        assert_eq!(decide_service_admin(&Subject::Anonymous, OWNER).unwrap_err(), Reason::SignInRequired);
    }
}
