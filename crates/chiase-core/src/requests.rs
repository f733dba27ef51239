//! Sharing requests: a consumer agency asks for a dataset (fields, purpose,
//! legal basis, period); the owner's stewards approve (possibly narrowing
//! the fields or the period, possibly citing a decision document) or refuse
//! (with a reason and a legal basis, both required by Decree 194/2025); the
//! requester may withdraw; an approved request is a grant that expires at
//! the end of its period and can be revoked. This module holds the rules;
//! the store records each step.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::{DomainError, Msg};

/// Where a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Approve,
    Refuse,
    Withdraw,
    Revoke,
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

    #[test]
    fn required_text_is_trimmed_and_bounded() {
        assert_eq!(required_text("reason", Some("  Không đủ căn cứ  "), 100, "lý do").unwrap(), "Không đủ căn cứ");
        assert!(required_text("reason", Some("   "), 100, "lý do").is_err());
        assert!(required_text("reason", None, 100, "lý do").is_err());
        assert!(required_text("reason", Some(&"x".repeat(101)), 100, "lý do").is_err());
    }
}
