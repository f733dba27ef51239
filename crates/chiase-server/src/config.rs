//! One configuration: defaults, then a TOML file, then `CHIASE_*`
//! environment variables, then command-line flags, each overriding the one
//! before. Secrets never appear in `Debug` output or logs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Settings every command shares.
#[derive(Clone)]
pub struct Config {
    /// Where chiase keeps its SQLite database and files.
    pub data_dir: PathBuf,
    /// Where `serve` listens.
    pub listen: SocketAddr,
    /// A PostgreSQL URL; `None` means the embedded SQLite file in `data_dir`.
    pub database_url: Option<String>,
    /// Load the built-in Decision 641 catalog into an empty installation.
    pub builtin_catalog: bool,
    /// Pooled database connections.
    pub max_connections: u32,
    /// `text` or `json` logs.
    pub log_format: LogFormat,
    /// Days a data owner has to answer a sharing request (Decree 47/2020
    /// does not fix a number that could be verified: a setting).
    pub request_deadline_days: i64,
    /// The longest period a grant may run.
    pub max_grant_days: i64,
    /// Mark cookies `Secure` (when served over HTTPS).
    pub secure_cookies: bool,
    /// Take the source address from X-Forwarded-For (behind a proxy).
    pub trust_proxy: bool,
    /// Where files go: `file://DIR` (default `DATA/files`) or `s3://BUCKET/PREFIX`.
    pub files_url: Option<String>,
    /// What happens to the accounts of an agency that merges: moved to the
    /// successor, or suspended.
    pub merged_users: chiase_core::accounts::MergedUsers,
    /// Serve `/metrics` on this address instead of the main listener.
    pub metrics_listen: Option<SocketAddr>,
    /// The key that signs checkpoints of the audit chain, kept outside the
    /// database (default `DATA/audit-anchor.key`; `serve` creates it).
    pub audit_key_file: Option<PathBuf>,
    /// The JSON-lines file checkpoints are appended to (default
    /// `audit-checkpoints.jsonl` beside the key).
    pub audit_checkpoint_file: Option<PathBuf>,
    /// Seconds between checkpoints of a moved audit head while serving
    /// (0: only at shutdown and by `chiase audit checkpoint`).
    pub audit_checkpoint_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("database_url", &self.database_url.as_deref().map(redact_url))
            .field("builtin_catalog", &self.builtin_catalog)
            .field("max_connections", &self.max_connections)
            .field("log_format", &self.log_format)
            .field("request_deadline_days", &self.request_deadline_days)
            .field("max_grant_days", &self.max_grant_days)
            .field("secure_cookies", &self.secure_cookies)
            .field("trust_proxy", &self.trust_proxy)
            .field("files_url", &self.files_url)
            .field("merged_users", &self.merged_users)
            .field("metrics_listen", &self.metrics_listen)
            .field("audit_key_file", &self.audit_key_file)
            .field("audit_checkpoint_file", &self.audit_checkpoint_file)
            .field("audit_checkpoint_secs", &self.audit_checkpoint_secs)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            data_dir: PathBuf::from("./chiase-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: None,
            builtin_catalog: true,
            max_connections: 8,
            log_format: LogFormat::Text,
            request_deadline_days: 10,
            max_grant_days: 730,
            secure_cookies: false,
            trust_proxy: false,
            files_url: None,
            merged_users: chiase_core::accounts::MergedUsers::Move,
            metrics_listen: None,
            audit_key_file: None,
            audit_checkpoint_file: None,
            audit_checkpoint_secs: 300,
        }
    }
}

/// The settings a file may hold (every key optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub database_url: Option<String>,
    pub builtin_catalog: Option<bool>,
    pub max_connections: Option<u32>,
    pub log_format: Option<LogFormat>,
    pub request_deadline_days: Option<i64>,
    pub max_grant_days: Option<i64>,
    pub secure_cookies: Option<bool>,
    pub trust_proxy: Option<bool>,
    pub files_url: Option<String>,
    pub merged_users: Option<chiase_core::accounts::MergedUsers>,
    pub metrics_listen: Option<SocketAddr>,
    pub audit_key_file: Option<PathBuf>,
    pub audit_checkpoint_file: Option<PathBuf>,
    pub audit_checkpoint_secs: Option<u64>,
}

/// The settings given by flags or environment variables (clap reads both).
#[derive(Debug, Default, Clone, clap::Args)]
pub struct Overrides {
    /// Data directory [default: ./chiase-data]
    #[arg(long = "data", env = "CHIASE_DATA", global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL URL (postgres://…); without it chiase uses SQLite in the data directory
    #[arg(long = "database", env = "CHIASE_DATABASE", global = true, value_name = "URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Configuration file (TOML) [default: DATA/chiase.toml when it exists]
    #[arg(long = "config", env = "CHIASE_CONFIG", global = true, value_name = "FILE")]
    pub config_file: Option<PathBuf>,
    /// Log format
    #[arg(long = "log-format", env = "CHIASE_LOG_FORMAT", global = true, value_enum)]
    pub log_format: Option<LogFormat>,
}

impl Config {
    /// Builds the configuration from every layer.
    pub fn load(over: &Overrides, listen: Option<SocketAddr>) -> anyhow::Result<Config> {
        let mut cfg = Config::default();
        let data_dir = over.data_dir.clone().unwrap_or_else(|| cfg.data_dir.clone());
        let file_path = over.config_file.clone().or_else(|| Some(data_dir.join("chiase.toml")).filter(|p| p.exists()));
        if let Some(path) = file_path {
            cfg.apply_file(&path)?;
        }
        if let Some(d) = &over.data_dir {
            cfg.data_dir = d.clone();
        }
        if let Some(u) = &over.database_url {
            cfg.database_url = Some(u.clone()).filter(|u| !u.is_empty());
        }
        if let Some(f) = over.log_format {
            cfg.log_format = f;
        }
        if let Some(l) = listen {
            cfg.listen = l;
        }
        Ok(cfg)
    }

    fn apply_file(&mut self, path: &Path) -> anyhow::Result<()> {
        let text =
            std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read the configuration file {}: {e}", path.display()))?;
        let file: FileConfig = toml::from_str(&text).map_err(|e| anyhow::anyhow!("bad configuration file {}: {e}", path.display()))?;
        if let Some(v) = file.data_dir {
            self.data_dir = v;
        }
        if let Some(v) = file.listen {
            self.listen = v;
        }
        if let Some(v) = file.database_url {
            self.database_url = Some(v);
        }
        if let Some(v) = file.builtin_catalog {
            self.builtin_catalog = v;
        }
        if let Some(v) = file.max_connections {
            self.max_connections = v;
        }
        if let Some(v) = file.log_format {
            self.log_format = v;
        }
        if let Some(v) = file.request_deadline_days {
            self.request_deadline_days = v.clamp(1, 365);
        }
        if let Some(v) = file.max_grant_days {
            self.max_grant_days = v.clamp(1, 3650);
        }
        if let Some(v) = file.secure_cookies {
            self.secure_cookies = v;
        }
        if let Some(v) = file.trust_proxy {
            self.trust_proxy = v;
        }
        if let Some(v) = file.files_url {
            self.files_url = Some(v);
        }
        if let Some(v) = file.merged_users {
            self.merged_users = v;
        }
        if let Some(v) = file.metrics_listen {
            self.metrics_listen = Some(v);
        }
        if let Some(v) = file.audit_key_file {
            self.audit_key_file = Some(v);
        }
        if let Some(v) = file.audit_checkpoint_file {
            self.audit_checkpoint_file = Some(v);
        }
        if let Some(v) = file.audit_checkpoint_secs {
            self.audit_checkpoint_secs = v;
        }
        Ok(())
    }

    /// The database URL to open: PostgreSQL when configured, else the SQLite
    /// file in the data directory.
    pub fn store_url(&self) -> String {
        match &self.database_url {
            Some(u) => u.clone(),
            None => format!("sqlite://{}", self.data_dir.join("chiase.db").display()),
        }
    }
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
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact_url("postgres://chiase:s3cret@db:5432/chiase"), "postgres://chiase:***@db:5432/chiase");
        assert_eq!(redact_url("postgres://db/chiase"), "postgres://db/chiase");
    }

    #[test]
    fn later_layers_override_earlier_ones() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("chiase.toml"), "listen = \"0.0.0.0:9000\"\nmax_connections = 3\n").unwrap();
        let over = Overrides { data_dir: Some(dir.path().to_path_buf()), ..Default::default() };
        let cfg = Config::load(&over, None).unwrap();
        assert_eq!(cfg.listen.port(), 9000);
        assert_eq!(cfg.max_connections, 3);
        let cfg = Config::load(&over, Some("127.0.0.1:7000".parse().unwrap())).unwrap();
        assert_eq!(cfg.listen.port(), 7000);
    }

    #[test]
    fn unknown_keys_in_the_file_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "lissen = \"x\"\n").unwrap();
        let over = Overrides { config_file: Some(path), ..Default::default() };
        assert!(Config::load(&over, None).is_err());
    }
}
