//! Sharing requests: a consumer agency asks for a dataset (fields, purpose,
//! legal basis, period); the owner's stewards approve (possibly narrowing
//! the fields or the period, possibly citing a decision document) or refuse
//! (with a reason and a legal basis, both required by Decree 194/2025); the
//! requester may withdraw; an approved request is a grant that expires at
//! the end of its period and can be revoked. This module holds the rules;
//! the store records each step.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::schema::PersonalClass;
use crate::{DomainError, Msg};

/// Where a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    Pending,
    Approved,
    Refused,
    Withdrawn,
    Revoked,
}

impl RequestStatus {
    pub fn code(self) -> &'static str {
        match self {
            RequestStatus::Pending => "pending",
            RequestStatus::Approved => "approved",
            RequestStatus::Refused => "refused",
            RequestStatus::Withdrawn => "withdrawn",
            RequestStatus::Revoked => "revoked",
        }
    }
}

impl std::str::FromStr for RequestStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "pending" => RequestStatus::Pending,
            "approved" => RequestStatus::Approved,
            "refused" => RequestStatus::Refused,
            "withdrawn" => RequestStatus::Withdrawn,
            "revoked" => RequestStatus::Revoked,
            _ => return Err(s.to_string()),
        })
    }
}

/// A step asked of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Approve,
    Refuse,
    Withdraw,
    Revoke,
}

impl Step {
    /// The step as it appears in URLs (`/requests/{id}/approve`).
    pub fn code(self) -> &'static str {
        match self {
            Step::Approve => "approve",
            Step::Refuse => "refuse",
            Step::Withdraw => "withdraw",
            Step::Revoke => "revoke",
        }
    }

    /// The audit log's name for the step.
    pub fn audit_action(self) -> &'static str {
        match self {
            Step::Approve => "request_approved",
            Step::Refuse => "request_refused",
            Step::Withdraw => "request_withdrawn",
            Step::Revoke => "grant_revoked",
        }
    }
}

impl std::str::FromStr for Step {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "approve" => Step::Approve,
            "refuse" => Step::Refuse,
            "withdraw" => Step::Withdraw,
            "revoke" => Step::Revoke,
            _ => return Err(s.to_string()),
        })
    }
}

/// Checks that `step` may follow `status`.
pub fn check_step(status: RequestStatus, step: &Step) -> Result<(), DomainError> {
    let ok = matches!(
        (status, step),
        (RequestStatus::Pending, Step::Approve | Step::Refuse | Step::Withdraw) | (RequestStatus::Approved, Step::Revoke | Step::Withdraw)
    );
    if ok {
        Ok(())
    } else {
        let what = match step {
            Step::Approve => ("phê duyệt", "approved"),
            Step::Refuse => ("từ chối", "refused"),
            Step::Withdraw => ("rút lại", "withdrawn"),
            Step::Revoke => ("thu hồi", "revoked"),
        };
        Err(DomainError::conflict(Msg::new(
            format!("yêu cầu đang ở trạng thái «{}» nên không thể {}", status.code(), what.0),
            format!("a request that is «{}» cannot be {}", status.code(), what.1),
        )))
    }
}

/// Text a person must give: trimmed, not empty, at most `max` characters.
pub fn required_text(field: &str, value: Option<&str>, max: usize, vi_name: &str) -> Result<String, DomainError> {
    let v = value.map(crate::text::clean_line).unwrap_or_default();
    if v.is_empty() {
        return Err(DomainError::invalid(field, Msg::new(format!("cần ghi {vi_name}"), format!("«{field}» is required"))));
    }
    if v.chars().count() > max {
        return Err(DomainError::invalid(
            field,
            Msg::new(format!("{vi_name} quá dài (tối đa {max} ký tự)"), format!("«{field}» is too long ({max} characters at most)")),
        ));
    }
    Ok(v)
}

/// A period of access, checked: it ends after it starts, and not more than
/// `max_days` after today.
pub fn check_period(
    from: NaiveDate,
    to: NaiveDate,
    today: NaiveDate,
    max_days: i64,
) -> Result<(DateTime<Utc>, DateTime<Utc>), DomainError> {
    if to < from {
        return Err(DomainError::invalid("period", Msg::new("ngày kết thúc trước ngày bắt đầu", "the period ends before it starts")));
    }
    if to < today {
        return Err(DomainError::invalid("period", Msg::new("thời hạn đã qua", "the period is over already")));
    }
    if (to - today).num_days() > max_days {
        return Err(DomainError::invalid(
            "period",
            Msg::new(
                format!("thời hạn tối đa {max_days} ngày kể từ hôm nay"),
                format!("a period may last at most {max_days} days from today"),
            ),
        ));
    }
    let start = from.and_hms_opt(0, 0, 0).expect("BUG: midnight").and_utc();
    // A grant runs to the end of its last day.
    let end = (to + chrono::Duration::days(1)).and_hms_opt(0, 0, 0).expect("BUG: midnight").and_utc();
    Ok((start, end))
}

/// Checks the fields a request names against the dataset's fields (name
/// and personal class): each must exist, at least one is named, and a
/// sensitive one needs a legal basis (Decree 13/2023).
pub fn check_request_fields(
    fields: Option<&[String]>,
    dataset_fields: &[(String, PersonalClass)],
    legal_basis: Option<&str>,
) -> Result<(), DomainError> {
    let Some(fields) = fields else { return Ok(()) };
    if fields.is_empty() {
        return Err(DomainError::invalid("fields", Msg::new("cần nêu ít nhất một trường", "name at least one field")));
    }
    for f in fields {
        let shown: String = f.chars().take(64).collect();
        match dataset_fields.iter().find(|(name, _)| name == f) {
            None => {
                return Err(DomainError::invalid("fields", Msg::new(format!("không có trường «{shown}»"), format!("no field «{shown}»"))));
            }
            Some((_, PersonalClass::Sensitive)) if legal_basis.is_none_or(|b| b.trim().is_empty()) => {
                return Err(DomainError::invalid(
                    "legal_basis",
                    Msg::new(
                        format!("trường «{f}» là dữ liệu cá nhân nhạy cảm: cần nêu căn cứ pháp lý"),
                        format!("field «{f}» is sensitive personal data: a legal basis is required"),
                    ),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// What an approval asked to change, checked against the request.
#[derive(Debug, Clone, PartialEq)]
pub struct Approval {
    /// The fields granted (`None`: as asked).
    pub fields: Option<Vec<String>>,
    /// The period granted (`None`: as asked).
    pub period: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

/// An approval may narrow what was asked, never widen it: granted fields
/// must be among the fields asked (or, when every non-personal field was
/// asked, among those), and the period within the period asked.
pub fn check_approval(
    asked_fields: Option<&[String]>,
    asked_period: (DateTime<Utc>, DateTime<Utc>),
    dataset_fields: &[(String, PersonalClass)],
    given_fields: Option<Vec<String>>,
    given_period: Option<(NaiveDate, NaiveDate)>,
    today: NaiveDate,
    max_days: i64,
) -> Result<Approval, DomainError> {
    if let Some(given) = &given_fields {
        if given.is_empty() {
            return Err(DomainError::invalid("fields", Msg::new("cần nêu ít nhất một trường", "name at least one field")));
        }
        let allowed = |f: &String| match asked_fields {
            Some(asked) => asked.contains(f),
            None => dataset_fields.iter().any(|(n, c)| n == f && *c == PersonalClass::None),
        };
        if let Some(f) = given.iter().find(|f| !allowed(f)) {
            let shown: String = f.chars().take(64).collect();
            return Err(DomainError::invalid(
                "fields",
                Msg::new(
                    format!("chỉ được thu hẹp các trường đã yêu cầu: «{shown}» không nằm trong yêu cầu"),
                    format!("an approval may only narrow the fields asked: «{shown}» was not asked for"),
                ),
            ));
        }
    }
    let period = match given_period {
        Some((from, to)) => {
            let (f, t) = check_period(from, to, today, max_days)?;
            if f < asked_period.0 || t > asked_period.1 {
                return Err(DomainError::invalid(
                    "period",
                    Msg::new("chỉ được rút ngắn thời hạn đã yêu cầu", "an approval may only shorten the period asked"),
                ));
            }
            Some((f, t))
        }
        None => None,
    };
    Ok(Approval { fields: given_fields, period })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_follow_the_lifecycle() {
        use RequestStatus::*;
        assert!(check_step(Pending, &Step::Approve).is_ok());
        assert!(check_step(Pending, &Step::Refuse).is_ok());
        assert!(check_step(Pending, &Step::Withdraw).is_ok());
        assert!(check_step(Approved, &Step::Revoke).is_ok());
        assert!(check_step(Approved, &Step::Withdraw).is_ok());
        for s in [Refused, Withdrawn, Revoked] {
            for step in [Step::Approve, Step::Refuse, Step::Withdraw, Step::Revoke] {
                assert!(check_step(s, &step).is_err(), "{s:?} {step:?}");
            }
        }
        assert!(check_step(Pending, &Step::Revoke).is_err());
        assert!(check_step(Approved, &Step::Approve).is_err());
    }

    #[test]
    fn periods_are_checked_and_run_to_the_end_of_their_last_day() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let (a, b) = check_period(d("2026-01-01"), d("2026-01-31"), d("2026-01-01"), 730).unwrap();
        assert_eq!(a.to_rfc3339(), "2026-01-01T00:00:00+00:00");
        assert_eq!(b.to_rfc3339(), "2026-02-01T00:00:00+00:00");
        assert!(check_period(d("2026-02-01"), d("2026-01-01"), d("2026-01-01"), 730).is_err());
        assert!(check_period(d("2020-01-01"), d("2020-02-01"), d("2026-01-01"), 730).is_err());
        assert!(check_period(d("2026-01-01"), d("2030-01-01"), d("2026-01-01"), 730).is_err());
    }

    fn fields() -> Vec<(String, PersonalClass)> {
        vec![("ma".into(), PersonalClass::None), ("ho_ten".into(), PersonalClass::Basic), ("benh".into(), PersonalClass::Sensitive)]
    }

    #[test]
    fn requests_name_existing_fields_and_sensitive_ones_need_a_legal_basis() {
        let f = fields();
        assert!(check_request_fields(None, &f, None).is_ok());
        assert!(check_request_fields(Some(&[]), &f, None).is_err());
        assert!(check_request_fields(Some(&["khong_co".into()]), &f, None).is_err());
        assert!(check_request_fields(Some(&["ho_ten".into()]), &f, None).is_ok());
        assert!(check_request_fields(Some(&["benh".into()]), &f, None).is_err());
        assert!(check_request_fields(Some(&["benh".into()]), &f, Some("  ")).is_err());
        assert!(check_request_fields(Some(&["benh".into()]), &f, Some("Luật 91/2025")).is_ok());
    }

    #[test]
    fn approvals_may_narrow_but_never_widen() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let today = d("2026-01-01");
        let asked = check_period(d("2026-01-01"), d("2026-06-30"), today, 730).unwrap();
        let f = fields();
        let approve = |asked_fields: Option<&[String]>, given: Option<Vec<String>>, period: Option<(NaiveDate, NaiveDate)>| {
            check_approval(asked_fields, asked, &f, given, period, today, 730)
        };
        let ma_ho_ten = ["ma".to_string(), "ho_ten".to_string()];
        assert!(approve(Some(&ma_ho_ten), Some(vec!["ma".into()]), None).is_ok());
        assert!(approve(Some(&ma_ho_ten), Some(vec!["benh".into()]), None).is_err(), "a field not asked for");
        assert!(approve(None, Some(vec!["ma".into()]), None).is_ok());
        assert!(approve(None, Some(vec!["ho_ten".into()]), None).is_err(), "personal fields are not in «every non-personal field»");
        assert!(approve(None, Some(vec![]), None).is_err());
        let a = approve(None, None, Some((d("2026-02-01"), d("2026-03-01")))).unwrap();
        assert_eq!(a.period.unwrap().0.date_naive(), d("2026-02-01"));
        assert!(approve(None, None, Some((d("2026-02-01"), d("2026-12-01")))).is_err(), "longer than asked");
        assert_eq!(approve(None, None, None).unwrap(), Approval { fields: None, period: None });
    }

    #[test]
    fn required_text_is_trimmed_and_bounded() {
        assert_eq!(required_text("reason", Some("  Không đủ căn cứ  "), 100, "lý do").unwrap(), "Không đủ căn cứ");
        assert!(required_text("reason", Some("   "), 100, "lý do").is_err());
        assert!(required_text("reason", None, 100, "lý do").is_err());
        assert!(required_text("reason", Some(&"x".repeat(101)), 100, "lý do").is_err());
    }
}
