//! Agencies and their lifecycle: created, renamed, merged into a successor,
//! dissolved, each on a date. The rules here are pure; the store applies
//! them in one transaction together with the ownership changes they imply.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::fold::fold;
use crate::text::clean_name;
use crate::{DomainError, Msg};

/// What kind of body an agency is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AgencyKind {
    /// Sở: a provincial department.
    Department,
    /// Văn phòng: an office (of the provincial committee, for example).
    Office,
    /// Ban: a board (industrial zones, projects).
    Board,
    /// Ủy ban nhân dân: a people's committee (province or commune).
    Committee,
    /// A group of agencies named together ("Các sở, ban, ngành, ...").
    Group,
    Other,
}

impl AgencyKind {
    pub const ALL: [AgencyKind; 6] =
        [AgencyKind::Department, AgencyKind::Office, AgencyKind::Board, AgencyKind::Committee, AgencyKind::Group, AgencyKind::Other];

    pub fn code(self) -> &'static str {
        match self {
            AgencyKind::Department => "department",
            AgencyKind::Office => "office",
            AgencyKind::Board => "board",
            AgencyKind::Committee => "committee",
            AgencyKind::Group => "group",
            AgencyKind::Other => "other",
        }
    }

    /// Guesses the kind from a name as decisions write it.
    pub fn from_name(name: &str) -> AgencyKind {
        let f = fold(name);
        let starts = |p: &str| f.starts_with(p);
        if starts("cac ") || f.contains(", ban, nganh") {
            AgencyKind::Group
        } else if starts("so ") {
            AgencyKind::Department
        } else if starts("van phong") {
            AgencyKind::Office
        } else if starts("bql") || starts("ban ") {
            AgencyKind::Board
        } else if starts("ubnd") || starts("uy ban") {
            AgencyKind::Committee
        } else {
            AgencyKind::Other
        }
    }
}

impl fmt::Display for AgencyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for AgencyKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AgencyKind::ALL.into_iter().find(|k| k.code() == s).ok_or_else(|| s.to_string())
    }
}

/// Where an agency is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AgencyStatus {
    Active,
    /// Merged into a successor, which took over its databases.
    Merged,
    Dissolved,
}

impl AgencyStatus {
    pub fn code(self) -> &'static str {
        match self {
            AgencyStatus::Active => "active",
            AgencyStatus::Merged => "merged",
            AgencyStatus::Dissolved => "dissolved",
        }
    }
}

impl FromStr for AgencyStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "active" => Ok(AgencyStatus::Active),
            "merged" => Ok(AgencyStatus::Merged),
            "dissolved" => Ok(AgencyStatus::Dissolved),
            _ => Err(s.to_string()),
        }
    }
}

/// The officer an agency names for data-sharing matters (Decree 47/2020):
/// shown publicly in the catalog.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FocalContact {
    pub name: Option<String>,
    pub position: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

impl FocalContact {
    /// Validates and normalises a contact given by a person.
    pub fn parse(
        name: Option<&str>,
        position: Option<&str>,
        phone: Option<&str>,
        email: Option<&str>,
    ) -> Result<FocalContact, DomainError> {
        let tidy = |s: Option<&str>| s.map(clean_name).filter(|s| !s.is_empty());
        let phone = tidy(phone);
        if let Some(p) = &phone {
            let digits = p.chars().filter(char::is_ascii_digit).count();
            if !(8..=15).contains(&digits) || !p.chars().all(|c| c.is_ascii_digit() || " +-.()".contains(c)) {
                return Err(DomainError::invalid(
                    "phone",
                    Msg::new(format!("số điện thoại không hợp lệ: «{p}»"), format!("invalid phone number: «{p}»")),
                ));
            }
        }
        let email = tidy(email).map(|e| e.to_lowercase());
        if let Some(e) = &email {
            let ok = e.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !e.contains(char::is_whitespace)
            });
            if !ok {
                return Err(DomainError::invalid(
                    "email",
                    Msg::new(format!("địa chỉ thư điện tử không hợp lệ: «{e}»"), format!("invalid e-mail address: «{e}»")),
                ));
            }
        }
        Ok(FocalContact { name: tidy(name), position: tidy(position), phone, email })
    }

    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.position.is_none() && self.phone.is_none() && self.email.is_none()
    }
}

/// A lifecycle change asked of an agency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LifecycleChange {
    Rename { new_name: String },
    Merge { into_id: i64 },
    Dissolve { transfer_to: Option<i64> },
}

/// What the rules need to know of an agency to judge a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgencyState {
    pub id: i64,
    pub status: AgencyStatus,
    pub established_on: Option<NaiveDate>,
    /// The date of its last lifecycle event, if any.
    pub last_event_on: Option<NaiveDate>,
}

/// Checks a lifecycle change against the agency's state (and the state of a
/// successor, for a merger or transfer). Returns the clean new name for a
/// rename.
pub fn check_change(
    agency: &AgencyState,
    change: &LifecycleChange,
    on: NaiveDate,
    successor: Option<&AgencyState>,
) -> Result<(), DomainError> {
    if agency.status != AgencyStatus::Active {
        return Err(DomainError::conflict(Msg::new(
            format!("cơ quan đã {} nên không thể thay đổi", if agency.status == AgencyStatus::Merged { "sáp nhập" } else { "giải thể" }),
            format!("the agency is already {} and cannot change", agency.status.code()),
        )));
    }
    for (floor, what_vi, what_en) in [
        (agency.established_on, "ngày thành lập", "its establishment date"),
        (agency.last_event_on, "thay đổi gần nhất", "its last change"),
    ] {
        if let Some(floor) = floor
            && on < floor
        {
            return Err(DomainError::invalid(
                "date",
                Msg::new(
                    format!("ngày {} trước {} ({})", on.format("%d/%m/%Y"), what_vi, floor.format("%d/%m/%Y")),
                    format!("the date {on} is before {what_en} ({floor})"),
                ),
            ));
        }
    }
    match change {
        LifecycleChange::Rename { new_name } => {
            if clean_name(new_name).is_empty() {
                return Err(DomainError::invalid("name", Msg::new("tên mới không được để trống", "the new name must not be empty")));
            }
        }
        LifecycleChange::Merge { into_id } | LifecycleChange::Dissolve { transfer_to: Some(into_id) } => {
            if *into_id == agency.id {
                return Err(DomainError::invalid(
                    "into",
                    Msg::new("không thể sáp nhập cơ quan vào chính nó", "an agency cannot be merged into itself"),
                ));
            }
            match successor {
                Some(s) if s.status == AgencyStatus::Active => {
                    if let Some(est) = s.established_on.filter(|est| on < *est) {
                        return Err(DomainError::invalid(
                            "date",
                            Msg::new(
                                format!("cơ quan tiếp nhận chỉ thành lập từ {}", est.format("%d/%m/%Y")),
                                format!("the successor was only established on {est}"),
                            ),
                        ));
                    }
                }
                Some(_) => {
                    return Err(DomainError::conflict(Msg::new(
                        "cơ quan tiếp nhận không còn hoạt động",
                        "the successor agency is no longer active",
                    )));
                }
                None => return Err(DomainError::not_found(Msg::new("không tìm thấy cơ quan tiếp nhận", "successor agency not found"))),
            }
        }
        LifecycleChange::Dissolve { transfer_to: None } => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn active(id: i64) -> AgencyState {
        AgencyState { id, status: AgencyStatus::Active, established_on: Some(d("2020-01-01")), last_event_on: None }
    }

    #[test]
    fn kinds_are_read_from_names() {
        assert_eq!(AgencyKind::from_name("Sở Nội vụ"), AgencyKind::Department);
        assert_eq!(AgencyKind::from_name("Văn phòng UBND tỉnh"), AgencyKind::Office);
        assert_eq!(AgencyKind::from_name("BQL Các khu công nghiệp"), AgencyKind::Board);
        assert_eq!(AgencyKind::from_name("Các sở, ban, ngành, UBND cấp huyện, cấp xã"), AgencyKind::Group);
        assert_eq!(AgencyKind::from_name("UBND xã Kim Bình"), AgencyKind::Committee);
    }

    #[test]
    fn a_merger_needs_an_active_successor_other_than_itself() {
        let on = d("2025-07-01");
        let merge = |into| LifecycleChange::Merge { into_id: into };
        assert!(check_change(&active(1), &merge(2), on, Some(&active(2))).is_ok());
        assert!(check_change(&active(1), &merge(1), on, Some(&active(1))).is_err());
        let mut gone = active(2);
        gone.status = AgencyStatus::Dissolved;
        assert!(matches!(check_change(&active(1), &merge(2), on, Some(&gone)), Err(DomainError::Conflict(_))));
        assert!(matches!(check_change(&active(1), &merge(2), on, None), Err(DomainError::NotFound(_))));
    }

    #[test]
    fn changes_cannot_go_back_in_time_or_touch_a_merged_agency() {
        let mut a = active(1);
        a.last_event_on = Some(d("2024-01-01"));
        let rename = LifecycleChange::Rename { new_name: "Sở mới".into() };
        assert!(check_change(&a, &rename, d("2023-12-31"), None).is_err());
        assert!(check_change(&a, &rename, d("2024-01-01"), None).is_ok());
        a.status = AgencyStatus::Merged;
        assert!(check_change(&a, &rename, d("2025-01-01"), None).is_err());
        let blank = LifecycleChange::Rename { new_name: "  ".into() };
        assert!(check_change(&active(1), &blank, d("2025-01-01"), None).is_err());
    }

    #[test]
    fn focal_contacts_are_validated() {
        let c =
            FocalContact::parse(Some(" Nguyễn Văn A "), Some("Phó Giám đốc"), Some("0207 3822 123"), Some("A@TuyenQuang.gov.vn")).unwrap();
        assert_eq!(c.name.as_deref(), Some("Nguyễn Văn A"));
        assert_eq!(c.email.as_deref(), Some("a@tuyenquang.gov.vn"));
        assert!(FocalContact::parse(None, None, Some("12"), None).is_err());
        assert!(FocalContact::parse(None, None, None, Some("not-an-email")).is_err());
        assert!(FocalContact::parse(None, None, None, None).unwrap().is_empty());
    }
}
