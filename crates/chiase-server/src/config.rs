//! One configuration, one definition per setting.
//!
//! Every setting is written once, in the `settings!` table below: its
//! name, its type, its default (as text, read by the same parser as any
//! other value), a line in English and a line in Vietnamese, and whether it
//! is a secret. Everything else is derived from that line, so that a setting
//! cannot exist in one place and be missing from another:
//!
//! | from `max_connections: u32 = "8"` | what                                   |
//! |-----------------------------------|----------------------------------------|
//! | `max_connections`                 | the key in the TOML file and the field of [`Config`] |
//! | `CHIASE_MAX_CONNECTIONS`          | the environment variable (`CHIASE_` + the name in capitals) |
//! | `--max-connections`               | the flag (kebab-case), global: before or after the subcommand |
//! | [`SETTINGS`]                      | the reference: `--help`, docs/configuration.md (a test compares it), chiase.example.toml |
//!
//! Layers, each overriding the one before: the defaults, the TOML file
//! (`--config FILE` / `CHIASE_CONFIG`, else `DATA/chiase.toml` when it
//! exists), `CHIASE_*` variables, flags. Each layer is read into a
//! [`Layer`] on its own, so that a bad value is reported with where it came
//! from (the file and key, the variable, the flag), and the ranges of
//! [`Config::settle`] are applied after the merge, whichever layer a value
//! came from. Values in variables and flags are text; in the file, TOML
//! values of the setting's type (a number for a number, a string for an
//! address or a path). An empty value unsets an optional setting (in the
//! file and in a flag; an empty variable counts as not given, as it did when
//! clap read the variables). Unknown keys in the file are errors; unknown
//! `CHIASE_*` variables are not (some are not settings, see below).
//!
//! Clap only collects the flags, as text ([`Flags`], whose arguments are made
//! from [`SETTINGS`]); it does not read the variables. [`Layer::from_env`]
//! reads them through a function (the process's environment in `main`, a
//! map in tests), so that a bad variable is reported as a variable rather
//! than as the flag, and tests never change the process's environment.
//!
//! Two settings keep the shorter names they had before this table:
//! `alias = "data"` gives `data_dir` the flag `--data` and the variable
//! `CHIASE_DATA` besides `--data-dir` and `CHIASE_DATA_DIR`, derived the
//! same way; `database_url` answers to `--database` and `CHIASE_DATABASE`.
//!
//! Secrets (`secret = true`: `database_url`, which may hold a password) are
//! never printed: `Debug` shows whether they are set, not their value, and
//! an error about one does not quote it.
//!
//! Not settings, and read elsewhere: `--config`/`CHIASE_CONFIG` (which file),
//! `CHIASE_LOG` (the tracing filter, `main.rs`) and `CHIASE_ADMIN_SETUP_TOKEN`
//! (a one-time secret, `commands/serve.rs`).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use chiase_core::accounts::MergedUsers;

/// `pick!(default)` is the default, `pick!(default, given)` what was given:
/// the optional parts of a setting's definition.
macro_rules! pick {
    ($default:expr) => {
        $default
    };
    ($default:expr, $given:expr) => {
        $given
    };
}

/// The table of settings (see the module's documentation). Each entry:
///
/// ```text
/// /// One line in English.
/// /// Một dòng tiếng Việt.
/// name: Type = "default" [, value_name = "X"] [, alias = "short"] [, range = LO..=HI] [, secret = true];
/// ```
///
/// It generates [`Config`], its `Default` and `Debug`, [`Layer`] and how each
/// layer is read, [`Config::apply`], [`Config::settle`] and [`SETTINGS`].
macro_rules! settings {
    ($(
        #[doc = $en:literal]
        #[doc = $vi:literal]
        $name:ident : $ty:ty = $default:literal
        $(, value_name = $value_name:literal)?
        $(, alias = $alias:literal)?
        $(, range = $lo:literal ..= $hi:literal)?
        $(, secret = $secret:literal)?
        ;
    )*) => {
        /// Settings every command shares: what the rest of chiase reads,
        /// built by [`Config::load`] from every layer. Each field is one
        /// entry of the `settings!` table.
        #[derive(Clone, PartialEq)]
        pub struct Config {
            $(
                #[doc = $en]
                #[doc = ""]
                #[doc = $vi]
                pub $name: $ty,
            )*
        }

        /// One entry of the table, as the reference shows it, named after
        /// the setting (`defs::max_connections`).
        #[allow(non_upper_case_globals)]
        mod defs {
            use super::*;
            $(
                pub const $name: SettingInfo = SettingInfo {
                    key: stringify!($name),
                    ty: <$ty as SettingType>::TYPE,
                    default: $default,
                    // A `///` line starts with a space.
                    en: $en.trim_ascii_start(),
                    vi: $vi.trim_ascii_start(),
                    value_name: pick!(<$ty as SettingType>::VALUE_NAME $(, $value_name)?),
                    flag_alone: <$ty as SettingType>::FLAG_ALONE,
                    quoted: <$ty as SettingType>::QUOTED,
                    alias: pick!(None $(, Some($alias))?),
                    range: pick!(None $(, Some(($lo as i64, $hi as i64)))?),
                    secret: pick!(false $(, $secret)?),
                };
            )*
        }

        /// Every setting, in the order of the table: the reference that
        /// `--help`, docs/configuration.md and chiase.example.toml follow.
        pub const SETTINGS: &[SettingInfo] = &[$(defs::$name),*];

        /// The values one layer gives (the file, the environment or the
        /// flags), `None` for the settings it leaves alone.
        #[derive(Clone, Default)]
        pub struct Layer {
            $(
                #[doc = $en]
                pub $name: Option<$ty>,
            )*
        }

        impl Default for Config {
            fn default() -> Config {
                Config { $($name: default_of(&defs::$name),)* }
            }
        }

        impl fmt::Debug for Config {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut d = f.debug_struct("Config");
                $(
                    if defs::$name.secret {
                        d.field(stringify!($name), &Hidden(self.$name.is_set()));
                    } else {
                        d.field(stringify!($name), &self.$name);
                    }
                )*
                d.finish()
            }
        }

        impl Layer {
            /// Reads a configuration file's table; a key that is not a
            /// setting is an error (a typo must not be silently ignored).
            pub fn from_toml(table: &toml::Table, path: &Path) -> anyhow::Result<Layer> {
                let mut layer = Layer::default();
                for (key, value) in table {
                    match key.as_str() {
                        $(stringify!($name) => layer.$name = Some(toml_value(&defs::$name, path, value)?),)*
                        _ => return Err(unknown_key(path, key)),
                    }
                }
                Ok(layer)
            }

            /// Reads the `CHIASE_*` variables through `env` (the process's
            /// environment in `main`, a map in tests).
            pub fn from_env(env: &dyn Fn(&str) -> Option<OsString>) -> anyhow::Result<Layer> {
                Ok(Layer {
                    $($name: match env_text(&defs::$name, env)? {
                        Some((var, text)) => Some(parse_text(&defs::$name, &Origin::Env(&var), &text)?),
                        None => None,
                    },)*
                })
            }

            /// Reads the flags clap collected as text.
            pub fn from_flags(flags: &Flags) -> anyhow::Result<Layer> {
                Ok(Layer {
                    $($name: match flags.values.get(stringify!($name)) {
                        Some(text) => Some(parse_text(&defs::$name, &Origin::Flag(&defs::$name.flag()), text)?),
                        None => None,
                    },)*
                })
            }
        }

        impl Config {
            /// Puts a layer's values over the ones already there.
            pub fn apply(&mut self, layer: Layer) {
                $(if let Some(v) = layer.$name {
                    self.$name = v;
                })*
            }

            /// Brings numbers into their ranges, whichever layer they came
            /// from (a deadline of 0 days or a grant of 50 years is a
            /// mistake, not a policy).
            pub fn settle(&mut self) {
                $($(self.$name = self.$name.clamp($lo, $hi);)?)*
            }

            /// Each setting with its value as text (`None`: unset), in the
            /// order of the table. Secrets' values are in it: callers show
            /// only whether they are set.
            pub fn values(&self) -> Vec<(&'static SettingInfo, Option<String>)> {
                SETTINGS.iter().zip([$(self.$name.is_set().then(|| self.$name.text()),)*]).collect()
            }
        }
    };
}

settings! {
    /// Where chiase keeps its SQLite database, stored files, audit anchor key and import spools.
    /// Thư mục chiase giữ cơ sở dữ liệu SQLite, tệp lưu trữ, khoá mốc nhật ký và tệp tạm khi nhập.
    data_dir: PathBuf = "./chiase-data", value_name = "DIR", alias = "data";

    /// The address `chiase serve` listens on (IP:port).
    /// Địa chỉ `chiase serve` lắng nghe (IP:cổng).
    listen: SocketAddr = "127.0.0.1:8080";

    /// A PostgreSQL URL (postgres://user:password@host/db); unset, chiase uses SQLite in the data directory.
    /// URL PostgreSQL (postgres://user:password@host/db); để trống thì chiase dùng SQLite trong thư mục dữ liệu.
    database_url: Option<String> = "", value_name = "URL", alias = "database", secret = true;

    /// Load the built-in Decision 641 catalog into an empty installation when serving.
    /// Nạp danh mục có sẵn của Quyết định 641 vào bản cài đặt còn trống khi chạy `serve`.
    builtin_catalog: bool = "true";

    /// Database connections in the pool of each process.
    /// Số kết nối cơ sở dữ liệu trong pool của mỗi tiến trình.
    max_connections: u32 = "8", range = 1..=1000;

    /// Seconds a request waits for a free database connection before it is answered 503 with Retry-After.
    /// Số giây một yêu cầu chờ kết nối cơ sở dữ liệu còn trống trước khi được trả 503 kèm Retry-After.
    db_acquire_timeout_secs: u64 = "10", value_name = "SECS", range = 1..=600;

    // SQLite's page cache is per connection: readers × this is the bound.
    /// SQLite page cache of each database connection, in MiB (the operating system caches the file too).
    /// Bộ nhớ đệm trang SQLite của mỗi kết nối cơ sở dữ liệu, tính bằng MiB (hệ điều hành cũng đệm tệp).
    db_cache_mib: u32 = "8", value_name = "MIB", range = 1..=4096;

    /// Log format on standard error: `text` for people, `json` for collectors.
    /// Định dạng nhật ký trên stderr: `text` cho người đọc, `json` cho hệ thống thu thập.
    log_format: LogFormat = "text";

    // Decree 47/2020 does not fix a number that could be verified: a setting.
    /// Days a data owner has to answer a sharing request.
    /// Số ngày cơ quan chủ quản có để trả lời một yêu cầu chia sẻ.
    request_deadline_days: i64 = "10", range = 1..=365;

    /// The longest period a sharing grant may run, in days.
    /// Thời hạn dài nhất của một quyền được chia sẻ, tính bằng ngày.
    max_grant_days: i64 = "730", range = 1..=3650;

    /// Mark session cookies `Secure` and send `Strict-Transport-Security` (set it when chiase is served over HTTPS).
    /// Đánh dấu cookie phiên là `Secure` và gửi `Strict-Transport-Security` (bật khi chiase được phục vụ qua HTTPS).
    secure_cookies: bool = "false";

    /// Take the client's address from X-Forwarded-For (only behind a reverse proxy that sets it).
    /// Lấy địa chỉ máy khách từ X-Forwarded-For (chỉ khi đứng sau reverse proxy đặt tiêu đề này).
    trust_proxy: bool = "false";

    /// Where stored files go: `file://DIR` or `s3://BUCKET/PREFIX` (unset: `DATA/files`).
    /// Nơi lưu tệp: `file://THƯ_MỤC` hoặc `s3://BUCKET/PREFIX` (để trống: `DATA/files`).
    files_url: Option<String> = "", value_name = "URL";

    /// The accounts of an agency that merges: `move` them to the successor, or `suspend` them.
    /// Tài khoản của cơ quan bị sáp nhập: `move` chuyển sang cơ quan kế thừa, `suspend` tạm khoá.
    merged_users: MergedUsers = "move";

    /// Serve `/metrics` on this address instead of the main listener.
    /// Phục vụ `/metrics` trên địa chỉ này thay vì trên cổng chính.
    metrics_listen: Option<SocketAddr> = "";

    /// The key that signs checkpoints of the audit chain, outside the database (unset: `DATA/audit-anchor.key`, made by `serve`).
    /// Khoá ký các mốc của chuỗi nhật ký kiểm toán, ngoài cơ sở dữ liệu (để trống: `DATA/audit-anchor.key`, do `serve` tạo).
    audit_key_file: Option<PathBuf> = "", value_name = "FILE";

    /// The JSON-lines file checkpoints are appended to (unset: `audit-checkpoints.jsonl` beside the key).
    /// Tệp JSON-lines ghi thêm các mốc (để trống: `audit-checkpoints.jsonl` cạnh tệp khoá).
    audit_checkpoint_file: Option<PathBuf> = "", value_name = "FILE";

    /// Seconds between checkpoints of a moved audit head while serving (0: only at shutdown and by `chiase audit checkpoint`).
    /// Số giây giữa hai lần ký mốc khi đầu chuỗi nhật ký đã đổi (0: chỉ khi dừng và khi chạy `chiase audit checkpoint`).
    audit_checkpoint_secs: u64 = "300", value_name = "SECS";

    /// Seconds an ordinary request may take before it is answered 503 (imports, uploads and exports are not bound by it).
    /// Số giây tối đa cho một yêu cầu thông thường trước khi trả 503 (nhập, tải lên và xuất dữ liệu không bị giới hạn).
    request_timeout_secs: u64 = "60", value_name = "SECS", range = 1..=3600;

    /// Where imports are staged before they are written (unset: `DATA/tmp`).
    /// Nơi chứa tệp tạm của các lần nhập trước khi ghi vào cơ sở dữ liệu (để trống: `DATA/tmp`).
    import_spool_dir: Option<PathBuf> = "", value_name = "DIR";

    /// The largest Data Package chiase imports, in MiB: the upload or download, and its files together once inflated.
    /// Dung lượng lớn nhất của một gói dữ liệu (Data Package) chiase nhập, tính bằng MiB: tệp tải lên hay tải về, và tổng các tệp trong gói khi giải nén.
    package_max_mib: u64 = "64", value_name = "MIB", range = 1..=4096;

    // A URL in a request makes the server fetch it: loopback only unless
    // the operator names hosts (no requests into the province's network).
    /// Hosts besides loopback that Data Packages may be fetched from by URL (comma-separated names, `*` for any); unset: loopback only.
    /// Các máy chủ ngoài loopback được phép tải gói dữ liệu theo URL (tên cách nhau bởi dấu phẩy, `*` là mọi máy); để trống: chỉ loopback.
    package_url_hosts: Option<String> = "", value_name = "HOSTS";

    /// The address people reach chiase at (`https://dulieu.tuyenquang.gov.vn`, behind the province's proxy): links in notification e-mails and the default OpenID callback use it; unset: `http://` and `listen`.
    /// Địa chỉ người dùng truy cập chiase (`https://dulieu.tuyenquang.gov.vn`, sau máy chủ trung gian của tỉnh): đường dẫn trong thư thông báo và địa chỉ gọi lại OpenID mặc định dùng địa chỉ này; để trống: `http://` và `listen`.
    public_url: Option<String> = "", value_name = "URL";

    /// The portal's name, in page titles and the header.
    /// Tên cổng dữ liệu, trên tiêu đề trang và đầu trang.
    site_name: String = "Cổng dữ liệu tỉnh Tuyên Quang", value_name = "TEXT";

    /// The province's map tile server for the dataset maps, as a URL template (`https://tiles.example.vn/{z}/{x}/{y}.png`); unset: points on a plain background.
    /// Máy chủ ảnh nền bản đồ của tỉnh cho bản đồ các tập dữ liệu, dạng mẫu URL; để trống: các điểm trên nền trơn.
    map_tiles: Option<String> = "", value_name = "URL";

    /// A GeoJSON file of the province's boundary (Polygon, MultiPolygon, Feature or FeatureCollection, at most 2 MB), drawn as a thin line on the dataset maps so that points on a plain background have a place; the province's own data. Unset: no outline.
    /// Tệp GeoJSON ranh giới tỉnh (Polygon, MultiPolygon, Feature hoặc FeatureCollection, tối đa 2 MB), vẽ thành đường mảnh trên bản đồ các tập dữ liệu để các điểm trên nền trơn có chỗ dựa; dữ liệu của chính tỉnh. Để trống: không vẽ ranh giới.
    map_outline: Option<PathBuf> = "", value_name = "FILE";

    /// The SMTP server that mails notifications: `smtp://HOST:PORT` (plain, a local relay), `smtp://HOST?tls=required` (STARTTLS), `smtps://USER:PASSWORD@HOST` (TLS); unset: notifications stay in the portal.
    /// Máy chủ SMTP gửi thư thông báo: `smtp://MÁY:CỔNG` (không mã hoá, máy chuyển thư nội bộ), `smtp://MÁY?tls=required` (STARTTLS), `smtps://TÊN:MẬT_KHẨU@MÁY` (TLS); để trống: thông báo chỉ hiện trên cổng.
    smtp_url: Option<String> = "", value_name = "URL", secret = true;

    /// The sender of notification e-mails: an address, or `Name <address>`.
    /// Người gửi thư thông báo: một địa chỉ, hoặc `Tên <địa chỉ>`.
    mail_from: String = "chiase <noreply@localhost>", value_name = "ADDRESS";

    /// The OpenID provider of the province's central sign-on (its issuer URL, `https://…`); with `oidc_client_id`, the sign-in page offers it.
    /// Nhà cung cấp OpenID của hệ thống đăng nhập một cửa của tỉnh (URL issuer, `https://…`); cùng `oidc_client_id`, trang đăng nhập có thêm nút đăng nhập qua đó.
    oidc_issuer: Option<String> = "", value_name = "URL";

    /// chiase's client id at the OpenID provider.
    /// Mã ứng dụng (client id) của chiase tại nhà cung cấp OpenID.
    oidc_client_id: Option<String> = "", value_name = "ID";

    /// chiase's client secret at the OpenID provider (unset: a public client, PKCE only).
    /// Khoá bí mật (client secret) của chiase tại nhà cung cấp OpenID (để trống: ứng dụng công khai, chỉ PKCE).
    oidc_client_secret: Option<String> = "", value_name = "SECRET", secret = true;

    /// The callback URL registered at the provider (unset: `http://LISTEN/login/oidc/callback`, from `listen`).
    /// URL quay về đã đăng ký tại nhà cung cấp (để trống: `http://LISTEN/login/oidc/callback`, theo `listen`).
    oidc_redirect_url: Option<String> = "", value_name = "URL";

    /// The ID-token claim that names the user's agency (its id in chiase); an agency chiase does not know is refused.
    /// Trường (claim) của ID token ghi cơ quan của người dùng (mã cơ quan trong chiase); cơ quan chiase không biết thì bị từ chối.
    oidc_agency_claim: String = "agency", value_name = "CLAIM";

    /// The ID-token claim that gives the user's role: `admin`, `steward` or `member` (anything else: `member`).
    /// Trường (claim) của ID token ghi vai trò: `admin`, `steward` hoặc `member` (giá trị khác: `member`).
    oidc_role_claim: String = "chiase_role", value_name = "CLAIM";

    /// The text of the sign-in page's button for the central sign-on.
    /// Chữ trên nút đăng nhập qua hệ thống một cửa ở trang đăng nhập.
    oidc_label: String = "Đăng nhập bằng tài khoản một cửa của tỉnh", value_name = "TEXT";
}

/// A setting as the reference describes it: one entry of the table, with
/// the names derived from it.
#[derive(Debug, Clone, Copy)]
pub struct SettingInfo {
    /// The name: the TOML key and the field of [`Config`].
    pub key: &'static str,
    /// The type, as the reference names it.
    pub ty: &'static str,
    /// The default, as text (empty: unset).
    pub default: &'static str,
    /// One line in English.
    pub en: &'static str,
    /// One line in Vietnamese.
    pub vi: &'static str,
    /// The placeholder after the flag in `--help`.
    pub value_name: &'static str,
    /// What the flag means given alone (`--trust-proxy` is `--trust-proxy=true`).
    pub flag_alone: Option<&'static str>,
    /// Whether the value is a string in TOML.
    pub quoted: bool,
    /// An older, shorter name that gives a second flag and variable.
    pub alias: Option<&'static str>,
    /// The range numbers are brought into.
    pub range: Option<(i64, i64)>,
    /// Never printed.
    pub secret: bool,
}

/// The settings an administrator may change while the server runs, at
/// `/admin/settings` (the others take effect when chiase starts again).
pub const RUNTIME_SETTINGS: &[&str] = &["site_name", "map_tiles", "mail_from"];

impl SettingInfo {
    /// Whether it may be changed while the server runs ([`RUNTIME_SETTINGS`]).
    pub fn runtime(&self) -> bool {
        RUNTIME_SETTINGS.contains(&self.key)
    }

    /// The environment variable: `CHIASE_` and the name in capitals.
    pub fn env(&self) -> String {
        env_of(self.key)
    }

    /// The flag: `--` and the name in kebab-case.
    pub fn flag(&self) -> String {
        flag_of(self.key)
    }

    /// The variables that give this setting: its own, then its alias's.
    pub fn envs(&self) -> Vec<String> {
        std::iter::once(self.env()).chain(self.alias.map(env_of)).collect()
    }

    /// The flags that give this setting: its own, then its alias.
    pub fn flags(&self) -> Vec<String> {
        std::iter::once(self.flag()).chain(self.alias.map(flag_of)).collect()
    }

    /// The default as a TOML value (`8`, `"127.0.0.1:8080"`), `None` when unset.
    pub fn default_toml(&self) -> Option<String> {
        match (self.default, self.quoted) {
            ("", _) => None,
            (d, true) => Some(format!("\"{}\"", d.replace('\\', "\\\\").replace('"', "\\\""))),
            (d, false) => Some(d.to_string()),
        }
    }

    /// The clap argument: global, so that it may come before or after the
    /// subcommand. Values stay text until [`Layer::from_flags`] reads them,
    /// so that errors name the flag the same way for every setting.
    fn arg(&self) -> clap::Arg {
        let default = if self.default.is_empty() { String::new() } else { format!(" [default: {}]", self.default) };
        let mut arg = clap::Arg::new(self.key)
            .long(self.key.replace('_', "-"))
            .global(true)
            .value_name(self.value_name)
            .value_parser(clap::builder::ValueParser::string())
            .action(clap::ArgAction::Set)
            // `--max-grant-days -5` is a value (brought into range), not a flag.
            .allow_negative_numbers(true)
            .help_heading(SETTINGS_HEADING)
            .help(format!("{}{default} [env: {}]", self.en, self.envs().join(", ")));
        if let Some(alias) = self.alias {
            arg = arg.visible_alias(alias);
        }
        if let Some(alone) = self.flag_alone {
            // `--trust-proxy` alone means true; `--trust-proxy=false` needs
            // the `=`, or `false` would be taken for a subcommand.
            arg = arg.num_args(0..=1).require_equals(true).default_missing_value(alone);
        }
        arg
    }
}

fn env_of(key: &str) -> String {
    format!("CHIASE_{}", key.to_ascii_uppercase())
}

fn flag_of(key: &str) -> String {
    format!("--{}", key.replace('_', "-"))
}

/// The heading the settings' flags are listed under in `--help`.
const SETTINGS_HEADING: &str = "Settings (also in chiase.toml and CHIASE_* variables)";

/// The id of `--config` among clap's arguments.
const CONFIG_ARG: &str = "config_file";

/// The variable that names the configuration file.
pub const CONFIG_ENV: &str = "CHIASE_CONFIG";

/// How a type of setting is read and described. Variables, flags and the
/// default are text ([`SettingType::parse`]); the file holds TOML values
/// ([`SettingType::from_toml`]: strings are parsed as text, numbers and
/// booleans must be TOML numbers and booleans).
pub trait SettingType: Sized {
    /// The type as the reference names it.
    const TYPE: &'static str;
    /// What a valid value is, for errors: (Vietnamese, English).
    const EXPECTED: (&'static str, &'static str);
    /// The placeholder after the flag in `--help`.
    const VALUE_NAME: &'static str;
    /// What the flag means given without a value.
    const FLAG_ALONE: Option<&'static str> = None;
    /// Whether the TOML value is a string.
    const QUOTED: bool = true;
    /// Reads a value written as text; `None` when it is not one.
    fn parse(text: &str) -> Option<Self>;
    /// Reads a TOML value; `None` when it is not one.
    fn from_toml(value: &toml::Value) -> Option<Self> {
        value.as_str().and_then(Self::parse)
    }
    /// Whether a value is set (only `Option` can be unset): what `Debug`
    /// shows of a secret.
    fn is_set(&self) -> bool {
        true
    }
    /// The value as text, as the parser reads it back (an unset optional
    /// value: empty): what the settings page shows.
    fn text(&self) -> String;
}

impl SettingType for PathBuf {
    const TYPE: &'static str = "path";
    const EXPECTED: (&'static str, &'static str) = ("một đường dẫn", "a path");
    const VALUE_NAME: &'static str = "PATH";
    fn parse(text: &str) -> Option<PathBuf> {
        Some(PathBuf::from(text)).filter(|_| !text.is_empty())
    }
    fn text(&self) -> String {
        self.display().to_string()
    }
}

impl SettingType for String {
    const TYPE: &'static str = "text";
    const EXPECTED: (&'static str, &'static str) = ("một chuỗi", "a string");
    const VALUE_NAME: &'static str = "TEXT";
    fn parse(text: &str) -> Option<String> {
        Some(text.to_string())
    }
    fn text(&self) -> String {
        self.clone()
    }
}

impl SettingType for SocketAddr {
    const TYPE: &'static str = "address (IP:port)";
    const EXPECTED: (&'static str, &'static str) =
        ("một địa chỉ IP:cổng, ví dụ 127.0.0.1:8080 hoặc [::]:8080", "an IP:port address, e.g. 127.0.0.1:8080 or [::]:8080");
    const VALUE_NAME: &'static str = "ADDR";
    fn parse(text: &str) -> Option<SocketAddr> {
        text.trim().parse().ok()
    }
    fn text(&self) -> String {
        self.to_string()
    }
}

impl SettingType for bool {
    const TYPE: &'static str = "boolean";
    const EXPECTED: (&'static str, &'static str) = ("true hoặc false", "true or false");
    const VALUE_NAME: &'static str = "BOOL";
    const FLAG_ALONE: Option<&'static str> = Some("true");
    const QUOTED: bool = false;
    fn parse(text: &str) -> Option<bool> {
        match text.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Some(true),
            "false" | "no" | "off" | "0" => Some(false),
            _ => None,
        }
    }
    fn from_toml(value: &toml::Value) -> Option<bool> {
        value.as_bool()
    }
    fn text(&self) -> String {
        self.to_string()
    }
}

/// Integers: written in decimal; in the file a TOML integer.
macro_rules! integer_setting {
    ($($t:ty => $vi:literal, $en:literal;)*) => {$(
        impl SettingType for $t {
            const TYPE: &'static str = "integer";
            const EXPECTED: (&'static str, &'static str) = ($vi, $en);
            const VALUE_NAME: &'static str = "N";
            const QUOTED: bool = false;
            fn parse(text: &str) -> Option<$t> {
                text.trim().parse().ok()
            }
            fn from_toml(value: &toml::Value) -> Option<$t> {
                value.as_integer().and_then(|i| <$t>::try_from(i).ok())
            }
            fn text(&self) -> String {
                self.to_string()
            }
        }
    )*};
}

integer_setting! {
    u32 => "một số nguyên từ 0 đến 4294967295", "an integer from 0 to 4294967295";
    u64 => "một số nguyên không âm", "a non-negative integer";
    i64 => "một số nguyên", "an integer";
}

/// An optional setting: an empty value unsets it.
impl<T: SettingType> SettingType for Option<T> {
    const TYPE: &'static str = T::TYPE;
    const EXPECTED: (&'static str, &'static str) = T::EXPECTED;
    const VALUE_NAME: &'static str = T::VALUE_NAME;
    const FLAG_ALONE: Option<&'static str> = T::FLAG_ALONE;
    const QUOTED: bool = T::QUOTED;
    fn parse(text: &str) -> Option<Option<T>> {
        if text.is_empty() { Some(None) } else { T::parse(text).map(Some) }
    }
    fn from_toml(value: &toml::Value) -> Option<Option<T>> {
        if value.as_str() == Some("") { Some(None) } else { T::from_toml(value).map(Some) }
    }
    fn is_set(&self) -> bool {
        self.is_some()
    }
    fn text(&self) -> String {
        self.as_ref().map(T::text).unwrap_or_default()
    }
}

/// `text` or `json` logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Lines for a person at a terminal or in a journal.
    Text,
    /// One JSON object per event, for log collectors.
    Json,
}

impl SettingType for LogFormat {
    const TYPE: &'static str = "`text` or `json`";
    const EXPECTED: (&'static str, &'static str) = ("text hoặc json", "text or json");
    const VALUE_NAME: &'static str = "FORMAT";
    fn parse(text: &str) -> Option<LogFormat> {
        match text.trim().to_ascii_lowercase().as_str() {
            "text" => Some(LogFormat::Text),
            "json" => Some(LogFormat::Json),
            _ => None,
        }
    }
    fn text(&self) -> String {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
        .to_string()
    }
}

impl SettingType for MergedUsers {
    const TYPE: &'static str = "`move` or `suspend`";
    const EXPECTED: (&'static str, &'static str) = ("move hoặc suspend", "move or suspend");
    const VALUE_NAME: &'static str = "MODE";
    fn parse(text: &str) -> Option<MergedUsers> {
        text.trim().to_ascii_lowercase().parse().ok()
    }
    fn text(&self) -> String {
        match self {
            MergedUsers::Move => "move",
            MergedUsers::Suspend => "suspend",
        }
        .to_string()
    }
}

/// The default of a setting, read from its text in the table (a test
/// reads every one, so that a typo there fails the tests, not a start).
fn default_of<T: SettingType>(info: &SettingInfo) -> T {
    match T::parse(info.default) {
        Some(v) => v,
        None => panic!("the default of {} in the settings table is not {}: {:?}", info.key, T::EXPECTED.1, info.default),
    }
}

/// What `Debug` shows of a secret: whether it is set.
struct Hidden(bool);

impl fmt::Debug for Hidden {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0 { "Some(<hidden>)" } else { "None" })
    }
}

/// Where a value came from, for errors.
enum Origin<'a> {
    Env(&'a str),
    Flag(&'a str),
}

/// Reads a value given as text (a variable or a flag); an error names
/// where it came from, and quotes it unless it is a secret.
fn parse_text<T: SettingType>(info: &SettingInfo, origin: &Origin<'_>, text: &str) -> anyhow::Result<T> {
    T::parse(text).ok_or_else(|| {
        let (vi, en) = T::EXPECTED;
        match origin {
            Origin::Env(var) => {
                let shown = if info.secret { String::new() } else { format!("=«{text}»") };
                anyhow::anyhow!(
                    "biến môi trường {var}{shown}: cần {vi} (thiết lập {key}) / environment variable {var}{shown}: {en} expected (setting {key})",
                    key = info.key
                )
            }
            Origin::Flag(flag) => {
                let shown = if info.secret { String::new() } else { format!(" «{text}»") };
                anyhow::anyhow!("cờ {flag}{shown}: cần {vi} / flag {flag}{shown}: {en} expected")
            }
        }
    })
}

/// Reads a value of the configuration file.
fn toml_value<T: SettingType>(info: &SettingInfo, path: &Path, value: &toml::Value) -> anyhow::Result<T> {
    T::from_toml(value).ok_or_else(|| {
        let (vi, en) = T::EXPECTED;
        let (got_vi, got_en) = match value {
            toml::Value::String(s) if !info.secret => (format!("«{s}»"), format!("«{s}»")),
            other => toml_kind(other),
        };
        anyhow::anyhow!(
            "tệp cấu hình {}, khoá {}: cần {vi}, không phải {got_vi} / configuration file {}, key {}: {en} expected, not {got_en}",
            path.display(),
            info.key,
            path.display(),
            info.key
        )
    })
}

/// A TOML value's type in words: (Vietnamese, English).
fn toml_kind(value: &toml::Value) -> (String, String) {
    let (vi, en) = match value {
        toml::Value::String(_) => ("một chuỗi", "a string"),
        toml::Value::Integer(_) => ("một số nguyên", "an integer"),
        toml::Value::Float(_) => ("một số thực", "a float"),
        toml::Value::Boolean(_) => ("một giá trị đúng/sai", "a boolean"),
        toml::Value::Datetime(_) => ("một ngày giờ", "a date-time"),
        toml::Value::Array(_) => ("một mảng", "an array"),
        toml::Value::Table(_) => ("một bảng", "a table"),
    };
    (vi.to_string(), en.to_string())
}

fn unknown_key(path: &Path, key: &str) -> anyhow::Error {
    let known: Vec<&str> = SETTINGS.iter().map(|s| s.key).collect();
    anyhow::anyhow!(
        "tệp cấu hình {}: khoá không có «{key}» / configuration file {}: unknown key «{key}» (known keys: {})",
        path.display(),
        path.display(),
        known.join(", ")
    )
}

/// The text of a setting's variable, and which variable it was (its own
/// name or its alias's). Empty counts as not given; the two names given
/// with different values are an error, not a silent choice.
fn env_text(info: &SettingInfo, env: &dyn Fn(&str) -> Option<OsString>) -> anyhow::Result<Option<(String, String)>> {
    let mut found: Option<(String, String)> = None;
    for var in info.envs() {
        let Some(raw) = env(&var) else { continue };
        let text = raw.into_string().map_err(|_| {
            anyhow::anyhow!("biến môi trường {var} không phải UTF-8 / environment variable {var} is not UTF-8 (setting {})", info.key)
        })?;
        if text.is_empty() {
            continue;
        }
        match &found {
            Some((first, seen)) if *seen != text => anyhow::bail!(
                "{first} và {var} khác nhau: chỉ đặt một trong hai / {first} and {var} disagree: set only one of them (setting {})",
                info.key
            ),
            Some(_) => {}
            None => found = Some((var, text)),
        }
    }
    Ok(found)
}

/// The process's environment, for [`Config::load`].
pub fn process_env(name: &str) -> Option<OsString> {
    std::env::var_os(name)
}

/// What the command line says about the configuration: the file to read
/// (`--config`), and each setting given as a flag, as text. Its clap
/// arguments come from [`SETTINGS`] (see [`SettingInfo`]), which is why
/// this implements `clap::Args` by hand instead of deriving it.
#[derive(Clone, Default)]
pub struct Flags {
    /// `--config FILE`: the configuration file to read.
    pub config_file: Option<PathBuf>,
    /// The settings given as flags: key → the text after the flag.
    pub values: BTreeMap<&'static str, String>,
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: BTreeMap<&str, &str> = self
            .values
            .iter()
            .map(|(k, v)| (*k, if SETTINGS.iter().any(|s| s.key == *k && s.secret) { "<hidden>" } else { v.as_str() }))
            .collect();
        f.debug_struct("Flags").field("config_file", &self.config_file).field("values", &shown).finish()
    }
}

impl clap::Args for Flags {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        let config = clap::Arg::new(CONFIG_ARG)
            .long("config")
            .global(true)
            .value_name("FILE")
            .value_parser(clap::value_parser!(PathBuf))
            .help_heading(SETTINGS_HEADING)
            .help(format!("Configuration file (TOML) [default: DATA/chiase.toml when it exists] [env: {CONFIG_ENV}]"));
        SETTINGS.iter().fold(cmd.arg(config), |cmd, s| cmd.arg(s.arg()))
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Flags::augment_args(cmd)
    }
}

impl clap::FromArgMatches for Flags {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Flags, clap::Error> {
        let mut flags = Flags::default();
        flags.update_from_arg_matches(matches)?;
        Ok(flags)
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        let internal = |e: clap::parser::MatchesError| clap::Error::raw(clap::error::ErrorKind::InvalidValue, e);
        if let Some(path) = matches.try_get_one::<PathBuf>(CONFIG_ARG).map_err(internal)? {
            self.config_file = Some(path.clone());
        }
        for s in SETTINGS {
            if let Some(text) = matches.try_get_one::<String>(s.key).map_err(internal)? {
                self.values.insert(s.key, text.clone());
            }
        }
        Ok(())
    }
}

impl Config {
    /// Builds the configuration from every layer: the defaults, the file,
    /// the variables (read through `env`), the flags; then the ranges.
    pub fn load(flags: &Flags, env: &dyn Fn(&str) -> Option<OsString>) -> anyhow::Result<Config> {
        let from_env = Layer::from_env(env)?;
        let from_flags = Layer::from_flags(flags)?;
        let mut cfg = Config::default();
        if let Some(path) = config_file(flags, env, &from_env, &from_flags, &cfg.data_dir)? {
            cfg.apply(Layer::from_file(&path)?);
        }
        cfg.apply(from_env);
        cfg.apply(from_flags);
        cfg.settle();
        Ok(cfg)
    }

    /// The database URL to open: PostgreSQL when configured, else the SQLite
    /// file in the data directory.
    pub fn store_url(&self) -> String {
        match &self.database_url {
            Some(u) => u.clone(),
            None => format!("sqlite://{}", self.data_dir.join("chiase.db").display()),
        }
    }

    /// How long an ordinary request may take (`request_timeout_secs`).
    pub fn request_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.request_timeout_secs)
    }

    /// Where import spools go (`import_spool_dir`, else `DATA/tmp`).
    pub fn spool_dir(&self) -> PathBuf {
        self.import_spool_dir.clone().unwrap_or_else(|| self.data_dir.join("tmp"))
    }

    /// Whether sign-in through the OpenID provider is on: its issuer and
    /// chiase's client id are set.
    pub fn oidc_enabled(&self) -> bool {
        self.oidc_issuer.as_deref().is_some_and(|s| !s.trim().is_empty())
            && self.oidc_client_id.as_deref().is_some_and(|s| !s.trim().is_empty())
    }

    /// The callback URL given to the OpenID provider (`oidc_redirect_url`,
    /// else the public address's `/login/oidc/callback`).
    pub fn oidc_redirect(&self) -> String {
        match &self.oidc_redirect_url {
            Some(u) => u.clone(),
            None => format!("{}/login/oidc/callback", self.public_base()),
        }
    }

    /// Where people reach chiase, without a trailing slash: `public_url`,
    /// else `http://LISTEN`. Links that leave the server (e-mails, the
    /// OpenID callback) start with it.
    pub fn public_base(&self) -> String {
        match self.public_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!("http://{}", self.listen),
        }
    }

    /// `public_url`, when set, is an http(s) address with a host and no
    /// query or fragment.
    pub fn check_public_url(&self) -> anyhow::Result<()> {
        let Some(u) = self.public_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) else { return Ok(()) };
        let rest = u.strip_prefix("https://").or_else(|| u.strip_prefix("http://"));
        let host = rest.map(|r| r.split('/').next().unwrap_or_default()).unwrap_or_default();
        if rest.is_none() || host.is_empty() || u.contains(['?', '#', ' ']) {
            anyhow::bail!(
                "public_url «{u}» không hợp lệ: cần địa chỉ http(s)://máy[/đường-dẫn] / public_url «{u}» is invalid: expected http(s)://host[/path]"
            );
        }
        Ok(())
    }
}

/// The file to read: `--config`, else `CHIASE_CONFIG`, else
/// `DATA/chiase.toml` when it exists, with DATA from the flags or the
/// variables (a file cannot say where it is itself).
fn config_file(
    flags: &Flags,
    env: &dyn Fn(&str) -> Option<OsString>,
    from_env: &Layer,
    from_flags: &Layer,
    default_data: &Path,
) -> anyhow::Result<Option<PathBuf>> {
    if let Some(path) = &flags.config_file {
        return Ok(Some(path.clone()));
    }
    if let Some(raw) = env(CONFIG_ENV).filter(|v| !v.is_empty()) {
        return Ok(Some(PathBuf::from(raw)));
    }
    let data = from_flags.data_dir.as_deref().or(from_env.data_dir.as_deref()).unwrap_or(default_data);
    Ok(Some(data.join("chiase.toml")).filter(|p| p.exists()))
}

impl Layer {
    /// Reads a configuration file.
    pub fn from_file(path: &Path) -> anyhow::Result<Layer> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            anyhow::anyhow!("không đọc được tệp cấu hình {} / cannot read the configuration file {}: {e}", path.display(), path.display())
        })?;
        let table: toml::Table = toml::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "tệp cấu hình {} không phải TOML hợp lệ / the configuration file {} is not valid TOML: {e}",
                path.display(),
                path.display()
            )
        })?;
        Layer::from_toml(&table, path)
    }
}

/// The reference of every setting in Markdown, as docs/configuration.md
/// holds it between its `settings` markers (a test compares them).
pub fn reference_markdown() -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    out.push_str("| Key (TOML) | Variable | Flag | Type | Default |\n|---|---|---|---|---|\n");
    for s in SETTINGS {
        let code = |names: Vec<String>| names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
        let flag_names = s
            .flags()
            .into_iter()
            .map(|f| if s.flag_alone.is_some() { format!("{f}[={}]", s.value_name) } else { format!("{f} {}", s.value_name) })
            .collect();
        let ty = match s.range {
            Some((lo, hi)) => format!("{}, {lo}–{hi}", s.ty),
            None => s.ty.to_string(),
        };
        let default = if s.default.is_empty() { "unset".to_string() } else { format!("`{}`", s.default) };
        let secret = if s.secret { " (secret)" } else { "" };
        let _ = writeln!(out, "| [`{}`](#{}){secret} | {} | {} | {ty} | {default} |", s.key, s.key, code(s.envs()), code(flag_names));
    }
    for s in SETTINGS {
        let _ = write!(out, "\n### {}\n\n{}\n\n*{}*\n", s.key, s.en, s.vi);
        if let Some((lo, hi)) = s.range {
            let _ = write!(
                out,
                "\nFrom {lo} to {hi}: a value outside is brought to the nearest bound. \
                 *Từ {lo} đến {hi}: giá trị ngoài khoảng được đưa về cận gần nhất.*\n"
            );
        }
        if s.secret {
            out.push_str(
                "\nSecret: never printed (logs, errors and `Debug` show only whether it is set). \
                 *Bí mật: không bao giờ được in ra.*\n",
            );
        }
    }
    out
}

/// Creates a directory (and its parents) readable only by the service
/// user: the database, spools and files are kept there.
pub fn private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("cannot create the data directory {}: {e}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| anyhow::anyhow!("cannot make {} private: {e}", dir.display()))?;
    }
    Ok(())
}

/// Makes the SQLite database files private to the service user (SQLite
/// creates its -wal and -shm files with the database's permissions).
pub fn private_files(dir: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for name in ["chiase.db", "chiase.db-wal", "chiase.db-shm"] {
            let path = dir.join(name);
            if path.exists() {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| anyhow::anyhow!("cannot make {} private: {e}", path.display()))?;
            }
        }
    }
    let _ = dir;
    Ok(())
}

/// The lock file a running server holds (shared) on its data directory.
const LOCK_FILE: &str = "chiase.lock";

/// Held by `chiase serve` for as long as it runs: commands that must not
/// run beside a server (`chiase restore`) take the lock exclusively and are
/// refused while any server holds it.
pub fn lock_shared(dir: &Path) -> anyhow::Result<std::fs::File> {
    let f = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(dir.join(LOCK_FILE))?;
    f.lock_shared().map_err(|e| anyhow::anyhow!("cannot lock {}: {e}", dir.join(LOCK_FILE).display()))?;
    Ok(f)
}

/// The data directory to oneself, or a refusal that says how to get it.
pub fn lock_exclusive(dir: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::create_dir_all(dir)?;
    let f = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(dir.join(LOCK_FILE))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "một máy chủ chiase đang dùng thư mục dữ liệu {}: hãy dừng nó trước (ví dụ systemctl stop chiase), rồi khôi phục / \
             a chiase server is using the data directory {}: stop it first (e.g. systemctl stop chiase), then restore",
            dir.display(),
            dir.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => anyhow::bail!("cannot lock {}: {e}", dir.join(LOCK_FILE).display()),
    }
}

/// A URL with its password replaced, for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    /// An environment made of the given pairs only: no test reads or
    /// changes the process's environment, so they may run in parallel.
    fn env_of_pairs(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let map: BTreeMap<String, OsString> = pairs.iter().map(|(k, v)| (k.to_string(), OsString::from(v))).collect();
        move |name| map.get(name).cloned()
    }

    /// The configuration `chiase ARGS` would load with the variables `env`.
    fn load(args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<Config> {
        let cli = crate::cli::Cli::try_parse_from(std::iter::once("chiase").chain(args.iter().copied()))?;
        Config::load(&cli.settings, &env_of_pairs(env))
    }

    fn error(args: &[&str], env: &[(&str, &str)]) -> String {
        match load(args, env) {
            Ok(cfg) => panic!("{args:?} {env:?} loaded: {cfg:?}"),
            Err(e) => e.to_string(),
        }
    }

    /// A data directory holding `chiase.toml` with `text`.
    fn data_with(text: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("chiase.toml"), text).unwrap();
        dir
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact_url("postgres://chiase:s3cret@db:5432/chiase"), "postgres://chiase:***@db:5432/chiase");
        assert_eq!(redact_url("postgres://db/chiase"), "postgres://db/chiase");
    }

    #[test]
    fn every_default_reads_and_is_in_its_range() {
        let cfg = Config::default();
        assert_eq!(cfg.listen, SocketAddr::from(([127, 0, 0, 1], 8080)));
        assert_eq!(cfg.data_dir, PathBuf::from("./chiase-data"));
        assert_eq!((cfg.max_connections, cfg.request_deadline_days, cfg.max_grant_days), (8, 10, 730));
        assert_eq!((cfg.audit_checkpoint_secs, cfg.request_timeout_secs), (300, 60));
        assert_eq!((cfg.log_format, cfg.merged_users), (LogFormat::Text, MergedUsers::Move));
        assert!(cfg.builtin_catalog && !cfg.secure_cookies && !cfg.trust_proxy);
        assert!(cfg.database_url.is_none() && cfg.files_url.is_none() && cfg.metrics_listen.is_none());
        let mut settled = cfg.clone();
        settled.settle();
        assert!(settled == cfg, "a default is outside its range");
        assert_eq!(cfg.spool_dir(), PathBuf::from("./chiase-data/tmp"));
        assert_eq!(cfg.request_timeout(), std::time::Duration::from_secs(60));
    }

    #[test]
    fn names_are_derived_from_the_key() {
        let s = defs::max_connections;
        assert_eq!((s.env(), s.flag()), ("CHIASE_MAX_CONNECTIONS".to_string(), "--max-connections".to_string()));
        assert_eq!(defs::data_dir.envs(), ["CHIASE_DATA_DIR", "CHIASE_DATA"]);
        assert_eq!(defs::data_dir.flags(), ["--data-dir", "--data"]);
        assert_eq!(defs::database_url.envs(), ["CHIASE_DATABASE_URL", "CHIASE_DATABASE"]);
        assert_eq!(defs::listen.env(), "CHIASE_LISTEN");
        assert_eq!(defs::log_format.env(), "CHIASE_LOG_FORMAT");
        // Every name is one setting's, and none is a variable read elsewhere.
        let mut seen = std::collections::BTreeSet::new();
        for s in SETTINGS {
            assert!(s.key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'), "{}", s.key);
            for name in s.envs().into_iter().chain(s.flags()) {
                assert!(seen.insert(name.clone()), "{name} names two settings");
            }
            assert!(!s.en.is_empty() && !s.vi.is_empty() && !s.en.contains('\n'), "{}", s.key);
        }
        for reserved in [CONFIG_ENV, "CHIASE_LOG", "CHIASE_ADMIN_SETUP_TOKEN", "CHIASE_TEST_DATABASE_URL", "--config"] {
            assert!(!seen.contains(reserved), "{reserved} is not a setting");
        }
        assert!(SETTINGS.iter().filter(|s| s.secret).map(|s| s.key).eq(["database_url", "smtp_url", "oidc_client_secret"]));
    }

    #[test]
    fn each_layer_overrides_the_one_before() {
        let dir = data_with("listen = \"0.0.0.0:9000\"\nmax_connections = 3\nmax_grant_days = 100\ntrust_proxy = true\n");
        let data = dir.path().to_str().unwrap();
        // The file over the defaults.
        let cfg = load(&["--data", data, "serve"], &[]).unwrap();
        assert_eq!((cfg.listen.port(), cfg.max_connections, cfg.max_grant_days, cfg.trust_proxy), (9000, 3, 100, true));
        assert_eq!(cfg.data_dir, dir.path());
        // The variables over the file.
        let env = [("CHIASE_LISTEN", "127.0.0.1:7000"), ("CHIASE_MAX_CONNECTIONS", "5"), ("CHIASE_TRUST_PROXY", "false")];
        let cfg = load(&["--data", data, "serve"], &env).unwrap();
        assert_eq!((cfg.listen.port(), cfg.max_connections, cfg.max_grant_days, cfg.trust_proxy), (7000, 5, 100, false));
        // The flags over the variables, before or after the subcommand.
        for args in [
            ["--data", data, "--listen", "127.0.0.1:6000", "--max-connections", "4", "--trust-proxy", "serve"],
            ["--data", data, "serve", "--listen", "127.0.0.1:6000", "--max-connections", "4", "--trust-proxy"],
        ] {
            let cfg = load(&args, &env).unwrap();
            assert_eq!((cfg.listen.port(), cfg.max_connections, cfg.max_grant_days, cfg.trust_proxy), (6000, 4, 100, true), "{args:?}");
        }
        // A flag after another subcommand, and a boolean flag set to false.
        let cfg = load(&["--data", data, "audit", "verify", "--max-connections=2", "--trust-proxy=false"], &env).unwrap();
        assert_eq!((cfg.max_connections, cfg.trust_proxy), (2, false));
    }

    #[test]
    fn the_data_directory_and_the_file_are_found_by_flag_or_variable() {
        let dir = data_with("max_connections = 3\n");
        let data = dir.path().to_str().unwrap();
        for env in [[("CHIASE_DATA", data)], [("CHIASE_DATA_DIR", data)]] {
            let cfg = load(&["serve"], &env).unwrap();
            assert_eq!((cfg.data_dir.as_path(), cfg.max_connections), (dir.path(), 3));
        }
        assert_eq!(load(&["--data-dir", data, "serve"], &[]).unwrap().max_connections, 3);
        // --config and CHIASE_CONFIG name another file; the flag wins.
        let other = dir.path().join("other.toml");
        std::fs::write(&other, "max_connections = 6\n").unwrap();
        let other = other.to_str().unwrap();
        assert_eq!(load(&["--data", data, "serve"], &[(CONFIG_ENV, other)]).unwrap().max_connections, 6);
        let third = dir.path().join("third.toml");
        std::fs::write(&third, "max_connections = 7\n").unwrap();
        assert_eq!(load(&["--config", third.to_str().unwrap(), "serve"], &[(CONFIG_ENV, other)]).unwrap().max_connections, 7);
        // The two names of one variable must agree.
        let err = error(&["serve"], &[("CHIASE_DATA", "/a"), ("CHIASE_DATA_DIR", "/b")]);
        assert!(err.contains("CHIASE_DATA_DIR") && err.contains("CHIASE_DATA ") && err.contains("disagree"), "{err}");
        assert!(load(&["--data", data, "serve"], &[("CHIASE_DATA", data), ("CHIASE_DATA_DIR", data)]).is_ok());
    }

    #[test]
    fn an_empty_value_unsets_an_optional_setting() {
        let dir = data_with("database_url = \"postgres://u:p@db/chiase\"\nfiles_url = \"\"\n");
        let data = dir.path().to_str().unwrap();
        let cfg = load(&["--data", data, "serve"], &[]).unwrap();
        assert_eq!(cfg.database_url.as_deref(), Some("postgres://u:p@db/chiase"));
        assert_eq!(cfg.files_url, None);
        // An empty variable is not given; an empty flag unsets.
        assert!(load(&["--data", data, "serve"], &[("CHIASE_DATABASE", "")]).unwrap().database_url.is_some());
        assert_eq!(load(&["--data", data, "--database", "", "serve"], &[]).unwrap().database_url, None);
        let cfg = load(&["--data", data, "serve"], &[("CHIASE_DATABASE", "postgres://other/db")]).unwrap();
        assert_eq!(cfg.database_url.as_deref(), Some("postgres://other/db"));
        assert_eq!(cfg.store_url(), "postgres://other/db");
    }

    #[test]
    fn the_spool_directory_and_the_request_timeout_are_settings() {
        let cfg = load(&["--import-spool-dir", "/var/tmp/chiase", "serve"], &[("CHIASE_REQUEST_TIMEOUT_SECS", "5")]).unwrap();
        assert_eq!(cfg.spool_dir(), PathBuf::from("/var/tmp/chiase"));
        assert_eq!(cfg.request_timeout(), std::time::Duration::from_secs(5));
        let cfg = load(&["--data", "/srv/chiase", "serve"], &[]).unwrap();
        assert_eq!(cfg.spool_dir(), PathBuf::from("/srv/chiase/tmp"));
    }

    #[test]
    fn ranges_apply_whatever_the_layer() {
        let dir = data_with("request_deadline_days = 0\nmax_grant_days = 99999\n");
        let data = dir.path().to_str().unwrap();
        let cfg = load(&["--data", data, "serve"], &[]).unwrap();
        assert_eq!((cfg.request_deadline_days, cfg.max_grant_days), (1, 3650));
        let cfg = load(&["--data", data, "serve"], &[("CHIASE_REQUEST_DEADLINE_DAYS", "400"), ("CHIASE_MAX_CONNECTIONS", "0")]).unwrap();
        assert_eq!((cfg.request_deadline_days, cfg.max_connections), (365, 1));
        let cfg = load(&["--data", data, "--max-grant-days", "-5", "--request-timeout-secs", "0", "serve"], &[]).unwrap();
        assert_eq!((cfg.max_grant_days, cfg.request_timeout_secs), (1, 1));
    }

    #[test]
    fn bad_values_name_the_setting_and_where_they_came_from() {
        let err = error(&["serve"], &[("CHIASE_MAX_CONNECTIONS", "abc")]);
        assert!(err.contains("CHIASE_MAX_CONNECTIONS=«abc»") && err.contains("an integer") && err.contains("cần"), "{err}");
        let err = error(&["serve", "--listen", "nonsense"], &[]);
        assert!(err.contains("--listen «nonsense»") && err.contains("IP:port") && err.contains("địa chỉ"), "{err}");
        let err = error(&["--log-format", "xml", "serve"], &[]);
        assert!(err.contains("--log-format «xml»") && err.contains("text or json"), "{err}");
        let err = error(&["serve"], &[("CHIASE_MERGED_USERS", "delete")]);
        assert!(err.contains("CHIASE_MERGED_USERS=«delete»") && err.contains("move or suspend"), "{err}");
        let err = error(&["serve"], &[("CHIASE_SECURE_COOKIES", "maybe")]);
        assert!(err.contains("true or false"), "{err}");

        let dir = data_with("max_connections = \"eight\"\n");
        let err = error(&["--data", dir.path().to_str().unwrap(), "serve"], &[]);
        assert!(err.contains("chiase.toml, key max_connections") && err.contains("not «eight»"), "{err}");
        let dir = data_with("secure_cookies = \"yes\"\n");
        let err = error(&["--data", dir.path().to_str().unwrap(), "serve"], &[]);
        assert!(err.contains("key secure_cookies: true or false expected"), "{err}");
        let dir = data_with("listen = 8080\n");
        let err = error(&["--data", dir.path().to_str().unwrap(), "serve"], &[]);
        assert!(err.contains("key listen") && err.contains("not an integer") && err.contains("không phải một số nguyên"), "{err}");
        let dir = data_with("audit_checkpoint_secs = -1\n");
        let err = error(&["--data", dir.path().to_str().unwrap(), "serve"], &[]);
        assert!(err.contains("key audit_checkpoint_secs: a non-negative integer expected"), "{err}");
        let dir = data_with("max_connections = 3\nmax_connections = 4\n");
        let err = error(&["--data", dir.path().to_str().unwrap(), "serve"], &[]);
        assert!(err.contains("not valid TOML"), "{err}");
        let err = error(&["--config", "/nonexistent/chiase.toml", "serve"], &[]);
        assert!(err.contains("cannot read the configuration file /nonexistent/chiase.toml"), "{err}");
    }

    #[test]
    fn unknown_keys_in_the_file_are_errors() {
        let dir = data_with("lissen = \"x\"\n");
        let err = error(&["--data", dir.path().to_str().unwrap(), "serve"], &[]);
        assert!(err.contains("unknown key «lissen»") && err.contains("known keys: data_dir, listen"), "{err}");
        // An alias is a flag and a variable, not a key.
        let dir = data_with("database = \"postgres://db/x\"\n");
        assert!(error(&["--data", dir.path().to_str().unwrap(), "serve"], &[]).contains("unknown key «database»"));
    }

    #[test]
    fn secrets_are_never_printed() {
        let secret = "postgres://chiase:hunter2@db/chiase";
        let cfg = load(&["--database", secret, "serve"], &[]).unwrap();
        assert_eq!(cfg.database_url.as_deref(), Some(secret));
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("hunter2") && shown.contains("database_url: Some(<hidden>)"), "{shown}");
        let cli = crate::cli::Cli::try_parse_from(["chiase", "--database", secret, "serve"]).unwrap();
        assert!(!format!("{cli:?}").contains("hunter2"));
        let mail = load(&["--smtp-url", "smtps://chiase:hunter2@mail.example.vn", "serve"], &[]).unwrap();
        assert!(!format!("{mail:?}").contains("hunter2") && format!("{mail:?}").contains("smtp_url: Some(<hidden>)"));
        let dir = data_with("database_url = 5432\n");
        let err = error(&["--data", dir.path().to_str().unwrap(), "serve"], &[]);
        assert!(err.contains("key database_url: a string expected, not an integer"), "{err}");
        let dir = data_with("database_url = [\"hunter2\"]\n");
        let err = error(&["--data", dir.path().to_str().unwrap(), "serve"], &[]);
        assert!(!err.contains("hunter2") && err.contains("not an array"), "{err}");
    }

    #[test]
    fn help_shows_each_setting_with_its_variable() {
        use clap::CommandFactory;
        let help = crate::cli::Cli::command().render_long_help().to_string();
        for s in SETTINGS {
            assert!(help.contains(&s.flag()) && help.contains(&s.env()), "{} is not in --help", s.key);
        }
        assert!(help.contains("--data") && help.contains("CHIASE_DATA_DIR, CHIASE_DATA"));
    }

    fn repo_file(name: &str) -> (PathBuf, String) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(name);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        (path, text)
    }

    #[test]
    fn links_that_leave_the_server_start_with_the_public_address() {
        let mut cfg = Config::default();
        assert_eq!(cfg.public_base(), format!("http://{}", cfg.listen));
        assert_eq!(cfg.oidc_redirect(), format!("http://{}/login/oidc/callback", cfg.listen));
        cfg.public_url = Some("https://dulieu.tuyenquang.gov.vn/".into());
        assert!(cfg.check_public_url().is_ok());
        assert_eq!(cfg.public_base(), "https://dulieu.tuyenquang.gov.vn");
        assert_eq!(cfg.oidc_redirect(), "https://dulieu.tuyenquang.gov.vn/login/oidc/callback");
        for bad in ["dulieu.tuyenquang.gov.vn", "ftp://x", "https://", "https://x/?a=1", "https://x/#top"] {
            cfg.public_url = Some(bad.into());
            assert!(cfg.check_public_url().is_err(), "{bad}");
        }
    }

    #[test]
    fn docs_configuration_md_holds_the_reference() {
        let (_, text) = repo_file("docs/configuration.md");
        let (begin, end) = ("<!-- settings:begin (generated by config::reference_markdown) -->\n", "<!-- settings:end -->");
        let start = text.find(begin).map(|i| i + begin.len()).expect("docs/configuration.md has no settings:begin marker");
        let stop = text[start..].find(end).map(|i| start + i).expect("docs/configuration.md has no settings:end marker");
        let expected = reference_markdown();
        assert!(
            text[start..stop] == expected,
            "docs/configuration.md is not the reference of the settings; put this between its markers:\n{expected}"
        );
        for s in SETTINGS {
            assert!(text.contains(&format!("### {}\n", s.key)), "{} is missing from docs/configuration.md", s.key);
        }
    }

    #[test]
    fn the_example_file_has_every_setting_and_is_a_valid_configuration() {
        let (path, text) = repo_file("chiase.example.toml");
        // As it is: a valid file whose active values are the defaults.
        let mut cfg = Config::default();
        cfg.apply(Layer::from_file(&path).unwrap());
        cfg.settle();
        assert!(cfg == Config::default(), "an active value in chiase.example.toml is not the default: {cfg:?}");
        // Every setting is there, active or commented out, after a comment
        // that explains it; commented-out values are valid too.
        let lines: Vec<&str> = text.lines().collect();
        let mut uncommented = String::new();
        for s in SETTINGS {
            let at = lines
                .iter()
                .position(|l| {
                    let l = l.trim_start_matches('#').trim_start();
                    l.starts_with(&format!("{} =", s.key))
                })
                .unwrap_or_else(|| panic!("{} is missing from chiase.example.toml", s.key));
            assert!(at > 0 && lines[at - 1].starts_with('#') && lines[at - 1].len() > 2, "{} has no comment above it", s.key);
            if let Some(default) = s.default_toml() {
                assert!(lines[at].ends_with(&format!("= {default}")), "chiase.example.toml does not show the default of {}", s.key);
            }
            uncommented.push_str(lines[at].trim_start_matches('#').trim_start());
            uncommented.push('\n');
        }
        let table: toml::Table = toml::from_str(&uncommented).unwrap();
        Layer::from_toml(&table, &path).unwrap();
    }
}
