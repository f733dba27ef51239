//! The one policy decision point: who may do what.
//!
//! Every decision of the platform is a pure function here, of (subject,
//! what is asked, the facts of the target, time, grants), returning either
//! a typed **permit** or the [`Reason`] for a denial. Permits can only be
//! made in this module (their fields are private), and the store functions
//! that change or reveal protected state require one, so a path that forgot
//! to ask cannot compile.
//!
//! - [`data`]: reading rows ([`ReadPermit`]), writing rows ([`WritePermit`]),
//!   changing a schema, creating a dataset, reading attached files.
//! - [`requests`]: filing a sharing request, seeing requests, each step of a
//!   request (approve, refuse, revoke, withdraw).
//! - [`admin`]: the audit log, agencies, accounts, API tokens, the catalog.
//! - [`services`]: calling a service through the gateway, registering one.
//!
//! Rules (Decree 47/2020, kept by Decree 194/2025; Decree 13/2023 and Law
//! 91/2025 for personal data):
//! - `open`: anyone, without an account;
//! - `default`: any signed-in user of an active state agency;
//! - `specific` and `legal`: the owner agency, or a consumer agency holding
//!   an active grant for the dataset;
//! - fields of class `basic` or `sensitive`: the owner agency, or a grant
//!   that names them — and `sensitive` only where the grant cites a legal
//!   basis. Fields a subject may not see are absent, not blanked;
//! - platform admins administer; they read data only as their agency would;
//! - writes, schema changes, new datasets, decisions on requests: stewards
//!   of the owner agency;
//! - an agency that merged or was dissolved is no state agency any more:
//!   its remaining accounts act as members of the public.

pub mod admin;
pub mod data;
pub mod requests;
pub mod services;

use serde::Serialize;

pub use admin::*;
pub use data::*;
pub use requests::*;
pub use services::*;

use crate::Msg;
use crate::ids::{AgencyId, UserId};

/// A role on the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    User {
        user_id: UserId,
        agency_id: Option<AgencyId>,
        /// Whether that agency still exists (not merged, not dissolved).
        agency_active: bool,
        role: Role,
    },
    /// The operator at the server's command line, who holds the database
    /// itself; every use is still audited.
    Operator,
}

impl Subject {
    /// The state agency the subject acts for: its agency, if still active.
    pub fn state_agency(&self) -> Option<AgencyId> {
        match self {
            Subject::User { agency_id: Some(a), agency_active: true, .. } => Some(*a),
            _ => None,
        }
    }

    /// The signed-in user, if any.
    pub fn user(&self) -> Option<UserId> {
        match self {
            Subject::User { user_id, .. } => Some(*user_id),
            _ => None,
        }
    }

    /// A platform administrator (or the operator at the command line).
    pub fn is_admin(&self) -> bool {
        matches!(self, Subject::User { role: Role::Admin, .. } | Subject::Operator)
    }

    /// A steward of `agency` (which must be active).
    pub fn is_steward_of(&self, agency: AgencyId) -> bool {
        matches!(self, Subject::User { role: Role::Steward, .. }) && self.state_agency() == Some(agency)
    }
}

/// Why a decision went the way it did: the basis of a permit, or why one
/// was denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    OpenData,
    DefaultSharing,
    OwnerAgency,
    Grant,
    OperatorAccess,
    StewardOfOwner,
    Administrator,
    OwnAccount,
    PartyToRequest,
    Requester,
    SignInRequired,
    NotStateAgency,
    NoActiveGrant,
    NotSteward,
    NotAdmin,
    NotParty,
    NotRequester,
    OwnData,
    NotEveryField,
    Harvested,
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
            Reason::Administrator => Msg::new("quản trị viên nền tảng", "platform administrator"),
            Reason::OwnAccount => Msg::new("tài khoản của chính mình", "one's own account"),
            Reason::PartyToRequest => Msg::new("bên liên quan của yêu cầu", "a party to the request"),
            Reason::Requester => Msg::new("người gửi yêu cầu", "the requester"),
            Reason::SignInRequired => {
                Msg::new("cần đăng nhập bằng tài khoản của cơ quan nhà nước", "sign in with a state agency's account")
            }
            Reason::NotStateAgency => {
                Msg::new("chỉ dành cho cán bộ của cơ quan nhà nước đang hoạt động", "for officers of an active state agency only")
            }
            Reason::NoActiveGrant => Msg::new(
                "cần yêu cầu chia sẻ được cơ quan chủ quản phê duyệt và còn hiệu lực",
                "an approved sharing request in force is needed",
            ),
            Reason::NotSteward => Msg::new(
                "chỉ cán bộ quản lý dữ liệu của cơ quan chủ quản được làm việc này",
                "only stewards of the owner agency may do this",
            ),
            Reason::NotAdmin => Msg::new("chỉ quản trị viên được làm việc này", "only administrators may do this"),
            Reason::NotParty => Msg::new("chỉ các bên của yêu cầu xem được yêu cầu này", "only the parties to a request see it"),
            Reason::NotRequester => Msg::new("chỉ người gửi yêu cầu được rút lại", "only the requester may withdraw"),
            Reason::OwnData => {
                Msg::new("cơ quan chủ quản không cần yêu cầu dữ liệu của mình", "the owner agency needs no request for its own data")
            }
            Reason::Harvested => Msg::new(
                "dữ liệu được thu thập từ danh mục khác: chỉ đọc tại đây, sửa tại nguồn",
                "harvested from another catalog: read-only here, change it at its source",
            ),
            Reason::NotEveryField => Msg::new(
                "tệp đính kèm chỉ dành cho người được xem mọi trường của tập dữ liệu",
                "attached files are for readers who may see every field of the dataset",
            ),
        }
    }

    /// Whether signing in could change the answer (an HTTP 401 rather than
    /// a 403).
    pub fn is_sign_in(self) -> bool {
        self == Reason::SignInRequired
    }
}

/// A decision that went against the subject.
pub type Denied = Reason;

/// Refuses the public with "sign in", everyone else with `reason`.
fn deny_unless_signed_in(subject: &Subject, reason: Reason) -> Reason {
    if matches!(subject, Subject::Anonymous) { Reason::SignInRequired } else { reason }
}

#[cfg(test)]
mod tests;
