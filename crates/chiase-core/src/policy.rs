//! The one policy decision point: who may read or write what.
//!
//! `decide` is a pure function of (subject, action, dataset and its fields,
//! time, grants). It returns a [`Decision`]; reading or writing data needs
//! a [`ReadPermit`] or [`WritePermit`], which only this module can make, and
//! which the store's data functions require. A path that forgot to ask
//! cannot compile.
//!
//! Rules (Decree 47/2020, kept by Decree 194/2025; Decree 13/2023 and Law
//! 91/2025 for personal data):
//! - `open`: anyone, without an account;
//! - `default`: any signed-in user of a state agency;
//! - `specific` and `legal`: the owner agency, or a consumer agency holding
//!   an active grant for the dataset;
//! - fields of class `basic` or `sensitive`: the owner agency, or a grant
//!   that names them — and `sensitive` only where the grant cites a legal
//!   basis. Fields a subject may not see are absent, not blanked;
//! - platform admins administer; they read data only as their agency would;
//! - writes: stewards of the owner agency.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::Msg;
use crate::schema::PersonalClass;
use crate::sharing::SharingMode;

/// A role on the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Runs the platform: agencies, users, catalog.
    Admin,
    /// Manages its agency's databases, datasets, data and requests.
    Steward,
    /// An officer of its agency.
    Member,
}

impl Role {
    pub fn code(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Steward => "steward",
            Role::Member => "member",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Role::Admin),
            "steward" => Ok(Role::Steward),
            "member" => Ok(Role::Member),
            _ => Err(s.to_string()),
        }
    }
}

/// Who asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Subject {
    /// Nobody signed in: the public.
    Anonymous,
    /// A signed-in user.
    User { user_id: i64, agency_id: Option<i64>, role: Role },
    /// The operator at the server's command line, who holds the database
    /// itself; every use is still audited.
    Operator,
}

impl Subject {
    fn agency(&self) -> Option<i64> {
        match self {
            Subject::User { agency_id, .. } => *agency_id,
            _ => None,
        }
    }
}

/// What is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Any reading of rows: records, counts, facets, search hits, exports,
    /// the change feed, reads of the past.
    Read,
    /// Inserting, changing or deleting rows; imports; schema changes.
    Write,
}

/// What the policy needs to know of a dataset.
#[derive(Debug, Clone)]
pub struct DatasetFacts {
    pub dataset_id: i64,
    pub owner_agency_id: i64,
    pub mode: SharingMode,
    /// Each field's name and personal-data class, in schema order.
    pub fields: Vec<(String, PersonalClass)>,
}

/// Where a grant is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantState {
    Pending,
    Active,
    Refused,
    Withdrawn,
    Revoked,
}

/// What the policy needs to know of a grant held by the subject's agency.
#[derive(Debug, Clone)]
pub struct GrantFacts {
    pub grant_id: i64,
    pub dataset_id: i64,
    pub agency_id: i64,
    pub state: GrantState,
    /// Field names granted; `None` means every field without personal data.
    pub fields: Option<Vec<String>>,
    pub legal_basis: Option<String>,
    pub valid_from: DateTime<Utc>,
    pub valid_to: DateTime<Utc>,
}

impl GrantFacts {
    /// Active, and `now` within its period.
    pub fn in_force(&self, now: DateTime<Utc>) -> bool {
        self.state == GrantState::Active && self.valid_from <= now && now < self.valid_to
    }
}

/// Why a decision went the way it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    OpenData,
    DefaultSharing,
    OwnerAgency,
    Grant,
    OperatorAccess,
    StewardOfOwner,
    SignInRequired,
    NotStateAgency,
    NoActiveGrant,
    NotSteward,
}

impl Reason {
    /// The reason in both languages, for replies and the audit log.
    pub fn msg(self) -> Msg {
        match self {
            Reason::OpenData => Msg::new("dữ liệu mở", "open data"),
            Reason::DefaultSharing => Msg::new("chia sẻ mặc định cho cơ quan nhà nước", "default sharing among state agencies"),
            Reason::OwnerAgency => Msg::new("thuộc cơ quan chủ quản", "member of the owner agency"),
            Reason::Grant => Msg::new("theo yêu cầu chia sẻ đã được phê duyệt", "under an approved sharing request"),
            Reason::OperatorAccess => Msg::new("người vận hành máy chủ", "server operator"),
            Reason::StewardOfOwner => Msg::new("cán bộ quản lý dữ liệu của cơ quan chủ quản", "data steward of the owner agency"),
            Reason::SignInRequired => {
                Msg::new("cần đăng nhập bằng tài khoản của cơ quan nhà nước", "sign in with a state agency's account")
            }
            Reason::NotStateAgency => Msg::new("chỉ chia sẻ cho cơ quan nhà nước", "shared with state agencies only"),
            Reason::NoActiveGrant => Msg::new(
                "cần yêu cầu chia sẻ được cơ quan chủ quản phê duyệt và còn hiệu lực",
                "an approved sharing request in force is needed",
            ),
            Reason::NotSteward => {
                Msg::new("chỉ cán bộ quản lý dữ liệu của cơ quan chủ quản được ghi dữ liệu", "only stewards of the owner agency may write")
            }
        }
    }
}

/// Permission to read a dataset: which fields, under which grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadPermit {
    dataset_id: i64,
    visible: Vec<usize>,
    grant_used: Option<i64>,
    reason: Reason,
    restricted: bool,
}

impl ReadPermit {
    pub fn dataset_id(&self) -> i64 {
        self.dataset_id
    }
    /// Positions of the fields the subject may see, in schema order.
    pub fn visible(&self) -> &[usize] {
        &self.visible
    }
    pub fn grant_used(&self) -> Option<i64> {
        self.grant_used
    }
    pub fn reason(&self) -> Reason {
        self.reason
    }
    /// True when the data read is not open data (it must be audited one by one).
    pub fn is_restricted(&self) -> bool {
        self.restricted
    }
}

/// Permission to write a dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WritePermit {
    dataset_id: i64,
    reason: Reason,
}

impl WritePermit {
    pub fn dataset_id(&self) -> i64 {
        self.dataset_id
    }
    pub fn reason(&self) -> Reason {
        self.reason
    }
}

/// The outcome of a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Read(ReadPermit),
    Write(WritePermit),
    Deny(Reason),
}

impl Decision {
    pub fn read(self) -> Result<ReadPermit, Reason> {
        match self {
            Decision::Read(p) => Ok(p),
            Decision::Deny(r) => Err(r),
            Decision::Write(_) => unreachable!("BUG: a read decision cannot be a write permit"),
        }
    }
    pub fn write(self) -> Result<WritePermit, Reason> {
        match self {
            Decision::Write(p) => Ok(p),
            Decision::Deny(r) => Err(r),
            Decision::Read(_) => unreachable!("BUG: a write decision cannot be a read permit"),
        }
    }
}

/// Decides. `grants` are the grants held by the subject's agency (others
/// are ignored).
pub fn decide(subject: &Subject, action: Action, dataset: &DatasetFacts, now: DateTime<Utc>, grants: &[GrantFacts]) -> Decision {
    match action {
        Action::Write => decide_write(subject, dataset),
        Action::Read => decide_read(subject, dataset, now, grants),
    }
}

fn decide_write(subject: &Subject, dataset: &DatasetFacts) -> Decision {
    match subject {
        Subject::Operator => Decision::Write(WritePermit { dataset_id: dataset.dataset_id, reason: Reason::OperatorAccess }),
        Subject::User { agency_id: Some(a), role: Role::Steward, .. } if *a == dataset.owner_agency_id => {
            Decision::Write(WritePermit { dataset_id: dataset.dataset_id, reason: Reason::StewardOfOwner })
        }
        Subject::Anonymous => Decision::Deny(Reason::SignInRequired),
        _ => Decision::Deny(Reason::NotSteward),
    }
}

fn decide_read(subject: &Subject, dataset: &DatasetFacts, now: DateTime<Utc>, grants: &[GrantFacts]) -> Decision {
    let all: Vec<usize> = (0..dataset.fields.len()).collect();
    // Restricted (audited one by one): anything but open data, and open
    // data when personal fields are among what is read.
    let permit = |visible: Vec<usize>, grant_used, reason| {
        let personal = visible.iter().any(|i: &usize| dataset.fields[*i].1 != PersonalClass::None);
        let restricted = dataset.mode != SharingMode::Open || personal;
        Decision::Read(ReadPermit { dataset_id: dataset.dataset_id, visible, grant_used, reason, restricted })
    };
    if matches!(subject, Subject::Operator) {
        return permit(all, None, Reason::OperatorAccess);
    }
    let agency = subject.agency();
    if agency == Some(dataset.owner_agency_id) {
        return permit(all, None, Reason::OwnerAgency);
    }
    let grant = agency.and_then(|a| grants.iter().find(|g| g.agency_id == a && g.dataset_id == dataset.dataset_id && g.in_force(now)));
    let non_personal: Vec<usize> = all.iter().copied().filter(|i| dataset.fields[*i].1 == PersonalClass::None).collect();

    // Fields a grant opens: the ones it names (or every non-personal field),
    // personal ones only when named, sensitive ones only with a legal basis.
    let granted_fields = |g: &GrantFacts| -> Vec<usize> {
        all.iter()
            .copied()
            .filter(|i| {
                let (name, class) = &dataset.fields[*i];
                let named = g.fields.as_ref().is_some_and(|f| f.contains(name));
                match class {
                    PersonalClass::None => g.fields.is_none() || named,
                    PersonalClass::Basic => named,
                    PersonalClass::Sensitive => named && g.legal_basis.as_deref().is_some_and(|b| !b.trim().is_empty()),
                }
            })
            .collect()
    };
    let with_personal_from_grant = |base: Vec<usize>| -> (Vec<usize>, Option<i64>) {
        match grant {
            Some(g) => {
                let extra = granted_fields(g);
                let mut v: Vec<usize> =
                    base.into_iter().chain(extra.into_iter().filter(|i| dataset.fields[*i].1 != PersonalClass::None)).collect();
                v.sort_unstable();
                v.dedup();
                let used = v.iter().any(|i| dataset.fields[*i].1 != PersonalClass::None).then_some(g.grant_id);
                (v, used)
            }
            None => (base, None),
        }
    };
    match dataset.mode {
        SharingMode::Open => {
            let (v, used) = with_personal_from_grant(non_personal);
            permit(v, used, if used.is_some() { Reason::Grant } else { Reason::OpenData })
        }
        SharingMode::Default => match subject {
            Subject::Anonymous => Decision::Deny(Reason::SignInRequired),
            Subject::User { agency_id: None, .. } => Decision::Deny(Reason::NotStateAgency),
            _ => {
                let (v, used) = with_personal_from_grant(non_personal);
                permit(v, used, if used.is_some() { Reason::Grant } else { Reason::DefaultSharing })
            }
        },
        SharingMode::Specific | SharingMode::Legal => match (subject, grant) {
            (Subject::Anonymous, _) => Decision::Deny(Reason::SignInRequired),
            (Subject::User { agency_id: None, .. }, _) => Decision::Deny(Reason::NotStateAgency),
            (_, None) => Decision::Deny(Reason::NoActiveGrant),
            (_, Some(g)) => {
                let v = granted_fields(g);
                if v.is_empty() { Decision::Deny(Reason::NoActiveGrant) } else { permit(v, Some(g.grant_id), Reason::Grant) }
            }
        },
    }
}

#[cfg(test)]
mod tests;
