//! The rules of accounts: what a username, a password and a token name may
//! be, and which roles need an agency. The store applies them before it
//! writes; they live here so that every caller (API, web, CLI) meets the
//! same rules and they are tested without a database.

use crate::policy::Role;
use crate::{DomainError, Msg};

/// Shortest password accepted (NIST SP 800-63B asks at least 8; chiase asks
/// 12 for accounts that reach restricted data).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted (argon2 hashes any length; this bounds work).
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Longest token name.
pub const MAX_TOKEN_NAME_CHARS: usize = 100;
/// Longest display name.
pub const MAX_DISPLAY_NAME_CHARS: usize = 200;

/// A username: 3–64 lower-case ASCII letters, digits, `.`, `_`, `-`,
/// starting with a letter or digit.
pub fn check_username(u: &str) -> Result<(), DomainError> {
    let ok = (3..=64).contains(&u.len())
        && u.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        && u.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        let shown: String = u.chars().take(64).collect();
        Err(DomainError::invalid(
            "username",
            Msg::new(
                format!("tên đăng nhập «{shown}» không hợp lệ: 3–64 ký tự thường không dấu, chữ số, «.», «_», «-»"),
                format!("invalid username «{shown}»: 3–64 lower-case ASCII letters, digits, «.», «_», «-»"),
            ),
        ))
    }
}

/// A password: long enough, not only spaces, bounded.
pub fn check_password(p: &str) -> Result<(), DomainError> {
    if p.trim().is_empty() {
        return Err(DomainError::invalid("password", Msg::new("mật khẩu không được để trống", "the password must not be blank")));
    }
    if p.trim().chars().count() < MIN_PASSWORD_CHARS {
        return Err(DomainError::invalid(
            "password",
            Msg::new(
                format!("mật khẩu phải dài từ {MIN_PASSWORD_CHARS} ký tự (không kể khoảng trắng đầu, cuối)"),
                format!("a password needs at least {MIN_PASSWORD_CHARS} characters (not counting leading or trailing spaces)"),
            ),
        ));
    }
    if p.len() > MAX_PASSWORD_BYTES {
        return Err(DomainError::invalid(
            "password",
            Msg::new(format!("mật khẩu dài quá {MAX_PASSWORD_BYTES} byte"), format!("a password is at most {MAX_PASSWORD_BYTES} bytes")),
        ));
    }
    Ok(())
}

/// A token's name, trimmed; empty becomes `default`.
pub fn token_name(name: &str, default: &str) -> Result<String, DomainError> {
    let name = crate::text::clean_line(name);
    if name.chars().count() > MAX_TOKEN_NAME_CHARS {
        return Err(DomainError::invalid(
            "name",
            Msg::new(
                format!("tên mã truy cập dài quá {MAX_TOKEN_NAME_CHARS} ký tự"),
                format!("a token name is at most {MAX_TOKEN_NAME_CHARS} characters"),
            ),
        ));
    }
    Ok(if name.is_empty() { default.to_string() } else { name })
}

/// A display name, trimmed and bounded; empty means the username.
pub fn display_name(name: Option<&str>, username: &str) -> Result<String, DomainError> {
    let name = name.map(crate::text::clean_line).unwrap_or_default();
    if name.chars().count() > MAX_DISPLAY_NAME_CHARS {
        return Err(DomainError::invalid(
            "display_name",
            Msg::new(
                format!("tên hiển thị dài quá {MAX_DISPLAY_NAME_CHARS} ký tự"),
                format!("a display name is at most {MAX_DISPLAY_NAME_CHARS} characters"),
            ),
        ));
    }
    Ok(if name.is_empty() { username.to_string() } else { name })
}

/// Which roles need an agency: a steward manages an agency's data, so it
/// belongs to one; members without an agency are the public; platform
/// administrators may or may not belong to one.
pub fn check_role_agency(role: Role, has_agency: bool) -> Result<(), DomainError> {
    if role == Role::Steward && !has_agency {
        return Err(DomainError::invalid(
            "agency",
            Msg::new("cán bộ quản lý dữ liệu phải thuộc một cơ quan", "a steward belongs to an agency"),
        ));
    }
    Ok(())
}

/// What happens to the accounts of an agency that merges into another
/// (a setting: provinces differ on whether people carry on under the
/// successor at once or are re-approved).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MergedUsers {
    /// Moved to the successor agency, keeping their roles.
    #[default]
    Move,
    /// Disabled until an administrator moves them.
    Suspend,
}

impl std::str::FromStr for MergedUsers {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "move" => Ok(MergedUsers::Move),
            "suspend" => Ok(MergedUsers::Suspend),
            _ => Err(s.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_checked() {
        assert!(check_username("nguyen.van-a_1").is_ok());
        assert!(check_username("Nguyễn").is_err());
        assert!(check_username("ab").is_err());
        assert!(check_username(".dot").is_err());
    }

    #[test]
    fn passwords_blank_after_trimming_are_refused() {
        assert!(check_password("short").is_err());
        assert!(check_password("mot-mat-khau-dai").is_ok());
        assert!(check_password(&" ".repeat(20)).is_err());
        assert!(check_password(&"\t \u{a0}".repeat(10)).is_err(), "tabs and non-breaking spaces are blank too");
        assert!(check_password("   abc   ").is_err(), "spaces do not count toward the length");
        assert!(check_password(&"x".repeat(2000)).is_err());
    }

    #[test]
    fn token_names_are_bounded() {
        assert_eq!(token_name("  may chu  ", "api").unwrap(), "may chu");
        assert_eq!(token_name("   ", "api").unwrap(), "api");
        assert!(token_name(&"a".repeat(101), "api").is_err());
    }

    #[test]
    fn stewards_need_an_agency() {
        assert!(check_role_agency(Role::Steward, false).is_err());
        assert!(check_role_agency(Role::Steward, true).is_ok());
        assert!(check_role_agency(Role::Member, false).is_ok());
        assert!(check_role_agency(Role::Admin, false).is_ok());
    }
}
