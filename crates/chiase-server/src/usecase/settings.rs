//! The settings an administrator sees, and the few changed while the
//! server runs (`site_name`, `map_tiles`, `mail_from`: see
//! [`RUNTIME_SETTINGS`]). A change is kept in the store's
//! `runtime_settings`, over the configuration's value, for every process on
//! the database; clearing it brings the configuration's value back. Each
//! change is the audit event `setting_changed` with the old and new value.

use std::str::FromStr;

use chiase_core::policy::decide_settings;
use chiase_store::settings::RuntimeSetting;
use lettre::message::Mailbox;
use serde_json::json;

use super::record_change;
use crate::auth::Caller;
use crate::config::{RUNTIME_SETTINGS, SettingInfo};
use crate::error::ApiError;
use crate::state::AppState;

/// The longest portal name taken.
pub const MAX_SITE_NAME: usize = 120;
/// The longest tile URL template or sender taken.
const MAX_VALUE: usize = 500;

/// Where a setting's value comes from, as the settings page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The default of the settings table.
    Default,
    /// The configuration file, a `CHIASE_*` variable or a flag (which one
    /// is not kept once the layers are merged).
    Configured,
    /// Changed at run time, by whom and when.
    Runtime(RuntimeSetting),
}

/// One setting as an administrator sees it.
#[derive(Debug, Clone)]
pub struct SettingView {
    pub info: &'static SettingInfo,
    /// The value in effect (`None`: unset); for a secret, only whether it
    /// is set is ever shown.
    pub value: Option<String>,
    /// The configuration's value, for a setting changed at run time.
    pub configured: Option<String>,
    pub source: Source,
}

/// Every setting with its value in effect (administrators).
pub async fn list(app: &AppState, caller: &Caller) -> Result<Vec<SettingView>, ApiError> {
    decide_settings(&caller.subject)?;
    let rows = app.store.runtime_settings().await?;
    Ok(app
        .config
        .values()
        .into_iter()
        .map(|(info, configured)| {
            let over = rows.iter().find(|r| r.key == info.key && info.runtime());
            let default = configured.as_deref().unwrap_or("") == info.default;
            match over {
                Some(r) => SettingView { info, value: r.value.clone(), configured, source: Source::Runtime(r.clone()) },
                None => SettingView {
                    info,
                    value: configured.clone(),
                    configured,
                    source: if default { Source::Default } else { Source::Configured },
                },
            }
        })
        .collect())
}

/// Changes a setting safe to change at run time (`value` as typed; empty
/// unsets `map_tiles`), or with `value` `None` clears its change (the
/// configuration's value again). The change is applied in this process at
/// once; the others read it within [`crate::state::SETTINGS_REFRESH`].
pub async fn change(app: &AppState, caller: &Caller, key: &str, value: Option<&str>) -> Result<(), ApiError> {
    let permit = decide_settings(&caller.subject)?;
    let Some(key) = RUNTIME_SETTINGS.iter().copied().find(|k| *k == key) else {
        let shown: String = key.chars().take(64).collect();
        return Err(ApiError::bad_request(
            format!("thiết lập «{shown}» không đổi được khi máy chủ đang chạy"),
            format!("the setting «{shown}» cannot be changed while the server runs"),
        ));
    };
    let new = value.map(|v| check(key, v)).transpose()?;
    let configured = configured_value(app, key);
    let before =
        app.store.set_runtime_setting(&permit, key, new.as_ref().and_then(|v| v.as_deref()), new.is_none(), &caller.actor.name).await?;
    let old = match before {
        Some(r) => r.value,
        None => configured.clone(),
    };
    let new_effective = match new {
        Some(v) => v,
        None => configured,
    };
    app.refresh_settings().await?;
    record_change(
        app,
        caller,
        "setting_changed",
        None,
        key,
        json!({ "key": key, "old": old, "new": new_effective, "cleared": value.is_none() }),
    )
    .await
}

/// The configuration's value of a setting changed at run time.
fn configured_value(app: &AppState, key: &str) -> Option<String> {
    match key {
        "site_name" => Some(app.config.site_name.clone()),
        "map_tiles" => app.config.map_tiles.clone(),
        "mail_from" => Some(app.config.mail_from.clone()),
        _ => None,
    }
}

/// Checks a value as the configuration would take it: the value to keep
/// (`None`: unset), or why not, in both languages.
pub fn check(key: &str, text: &str) -> Result<Option<String>, ApiError> {
    let text = chiase_core::fold::nfc(text.trim());
    if text.chars().any(char::is_control) {
        return Err(ApiError::bad_request("giá trị không được chứa ký tự điều khiển", "the value may not contain control characters"));
    }
    match key {
        "site_name" => {
            let n = text.chars().count();
            if n == 0 || n > MAX_SITE_NAME {
                return Err(ApiError::bad_request(
                    format!("tên cổng dữ liệu cần từ 1 đến {MAX_SITE_NAME} ký tự"),
                    format!("the portal's name needs 1 to {MAX_SITE_NAME} characters"),
                ));
            }
            Ok(Some(text))
        }
        "map_tiles" => {
            if text.is_empty() {
                return Ok(None);
            }
            let ok = text.len() <= MAX_VALUE
                && (text.starts_with("https://") || text.starts_with("http://"))
                && ["{z}", "{x}", "{y}"].iter().all(|p| text.contains(p))
                && !text.contains(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '\\'))
                && tile_origin(&text).is_some();
            if !ok {
                return Err(ApiError::bad_request(
                    "máy chủ ảnh nền bản đồ phải là một mẫu URL http:// hoặc https:// có {z}, {x} và {y}, ví dụ https://tiles.example.vn/{z}/{x}/{y}.png",
                    "the map tile server must be an http:// or https:// URL template with {z}, {x} and {y}, e.g. https://tiles.example.vn/{z}/{x}/{y}.png",
                ));
            }
            Ok(Some(text))
        }
        "mail_from" => {
            if text.len() > MAX_VALUE || Mailbox::from_str(&text).is_err() {
                return Err(ApiError::bad_request(
                    "người gửi thư phải là một địa chỉ thư, hoặc «Tên <địa chỉ>»",
                    "the sender must be an e-mail address, or «Name <address>»",
                ));
            }
            Ok(Some(text))
        }
        _ => Err(ApiError::bad_request(
            "thiết lập này không đổi được khi máy chủ đang chạy",
            "this setting cannot be changed while the server runs",
        )),
    }
}

/// The origin a tile URL template names (`https://tiles.example.vn`), for
/// the dataset page's Content-Security-Policy; `None` when it is not an
/// http(s) URL with a plain host.
pub fn tile_origin(template: &str) -> Option<String> {
    let (scheme, rest) = template.split_once("://")?;
    let host = rest.split('/').next()?;
    let ok = matches!(scheme, "http" | "https")
        && !host.is_empty()
        && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '{' | '}'));
    ok.then(|| format!("{scheme}://{host}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_as_the_configuration_takes_them() {
        assert_eq!(check("site_name", "  Cổng dữ liệu  ").unwrap(), Some("Cổng dữ liệu".into()));
        assert!(check("site_name", "").is_err());
        assert!(check("site_name", &"x".repeat(121)).is_err());
        // NFD in, NFC kept.
        assert_eq!(check("site_name", "Cô\u{309}ng").unwrap(), Some("Cổng".into()));
        assert!(check("map_tiles", "https://tiles.example.vn/{z}/{x}/{y}.png").is_ok());
        assert_eq!(check("map_tiles", "").unwrap(), None);
        for bad in ["ftp://x/{z}/{x}/{y}", "https://tiles.example.vn/{z}/{x}.png", "https:///{z}/{x}/{y}", "https://a b/{z}/{x}/{y}"] {
            assert!(check("map_tiles", bad).is_err(), "{bad}");
        }
        assert!(check("mail_from", "Cổng dữ liệu <noreply@tuyenquang.gov.vn>").is_ok());
        assert!(check("mail_from", "noreply@tuyenquang.gov.vn").is_ok());
        assert!(check("mail_from", "not an address").is_err());
        assert!(check("listen", "0.0.0.0:80").is_err());
    }
}
