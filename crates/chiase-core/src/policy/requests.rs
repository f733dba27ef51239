//! Decisions about sharing requests: who may file one, who may see one,
//! which requests a subject may list, and who may take each step.

use super::{DatasetFacts, Reason, Subject, deny_unless_signed_in};
use crate::ids::{AgencyId, DatasetId, RequestId, UserId};
use crate::requests::{RequestStatus, Step};

/// What the policy needs to know of a request.
#[derive(Debug, Clone)]
pub struct RequestFacts {
    pub id: RequestId,
    pub dataset: DatasetId,
    /// The agency that owns the dataset and decides.
    pub owner: AgencyId,
    /// The agency that asked.
    pub consumer: AgencyId,
    pub requester: UserId,
    pub status: RequestStatus,
}

/// Permission to file a request for a dataset, for the subject's agency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilingPermit {
    dataset: DatasetId,
    agency: AgencyId,
    user: UserId,
}

impl FilingPermit {
    pub fn dataset(&self) -> DatasetId {
        self.dataset
    }
    /// The consumer agency.
    pub fn agency(&self) -> AgencyId {
        self.agency
    }
    /// The requester.
    pub fn user(&self) -> UserId {
        self.user
    }
}

/// Permission to take one step on one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepPermit {
    request: RequestId,
    step: Step,
    by: Option<UserId>,
    reason: Reason,
}

impl StepPermit {
    pub fn request(&self) -> RequestId {
        self.request
    }
    pub fn step(&self) -> &Step {
        &self.step
    }
    /// Who takes the step (`None`: the operator at the command line).
    pub fn by(&self) -> Option<UserId> {
        self.by
    }
    pub fn reason(&self) -> Reason {
        self.reason
    }
}

/// Which requests a listing may show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestScope {
    /// Requests filed by this agency.
    FiledBy(AgencyId),
    /// Requests this agency must decide.
    ToDecideBy(AgencyId),
    /// Every request (administrators).
    All,
}

/// Permission to list requests within a scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestListPermit {
    scope: RequestScope,
}

impl RequestListPermit {
    pub fn scope(&self) -> RequestScope {
        self.scope
    }
}

/// The boxes a person can open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestBox {
    /// What my agency asked for.
    Mine,
    /// What my agency must decide.
    ToDecide,
    /// Everything (administrators).
    All,
}

/// May `subject` file a request for `dataset`? A signed-in officer of an
/// active state agency other than the owner.
pub fn decide_filing(subject: &Subject, dataset: &DatasetFacts) -> Result<FilingPermit, Reason> {
    let (Some(user), Some(agency)) = (subject.user(), subject.state_agency()) else {
        return Err(deny_unless_signed_in(subject, Reason::NotStateAgency));
    };
    if agency == dataset.owner_agency_id {
        return Err(Reason::OwnData);
    }
    Ok(FilingPermit { dataset: dataset.dataset_id, agency, user })
}

/// May `subject` see request `r`? Its parties (the consumer and the owner
/// agency) and administrators. Denied requests should be answered as "not
/// found", so that their existence does not leak.
pub fn decide_view(subject: &Subject, r: &RequestFacts) -> Result<Reason, Reason> {
    if subject.is_admin() {
        return Ok(Reason::Administrator);
    }
    match subject.state_agency() {
        Some(a) if a == r.consumer || a == r.owner => Ok(Reason::PartyToRequest),
        _ => Err(deny_unless_signed_in(subject, Reason::NotParty)),
    }
}

/// May `subject` open `which` box? Everyone with an active agency sees what
/// it asked for and what it must decide; administrators see all.
pub fn decide_listing(subject: &Subject, which: RequestBox) -> Result<RequestListPermit, Reason> {
    let scope = match (which, subject.state_agency()) {
        (RequestBox::All, _) if subject.is_admin() => RequestScope::All,
        (RequestBox::All, _) => return Err(deny_unless_signed_in(subject, Reason::NotAdmin)),
        (RequestBox::Mine, Some(a)) => RequestScope::FiledBy(a),
        (RequestBox::ToDecide, Some(a)) => RequestScope::ToDecideBy(a),
        (_, None) => return Err(deny_unless_signed_in(subject, Reason::NotStateAgency)),
    };
    Ok(RequestListPermit { scope })
}

/// May `subject` take `step` on `r`? Approve, refuse and revoke: stewards
/// of the owner agency. Withdraw: the requester, or a steward of the
/// consumer agency. (Whether the step may follow the request's status is
/// `crate::requests::check_step`, applied by the store in the transaction.)
pub fn decide_step(subject: &Subject, r: &RequestFacts, step: Step) -> Result<StepPermit, Reason> {
    let by = subject.user();
    let reason = match step {
        Step::Approve | Step::Refuse | Step::Revoke => match subject {
            Subject::Operator => Reason::OperatorAccess,
            s if s.is_steward_of(r.owner) => Reason::StewardOfOwner,
            s => return Err(deny_unless_signed_in(s, Reason::NotSteward)),
        },
        Step::Withdraw => match subject {
            Subject::Operator => Reason::OperatorAccess,
            // Withdrawing only takes access away: the requester may, whatever
            // became of their agency since.
            s if s.user() == Some(r.requester) => Reason::Requester,
            s if s.is_steward_of(r.consumer) => Reason::Requester,
            s => return Err(deny_unless_signed_in(s, Reason::NotRequester)),
        },
    };
    Ok(StepPermit { request: r.id, step, by, reason })
}
