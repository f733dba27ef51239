//! The `chiase` binary.

use clap::Parser;
use tracing_subscriber::EnvFilter;

use chiase_server::cli::{Cli, Command};
use chiase_server::config::{Config, LogFormat};
use chiase_server::{commands, install_crypto_provider};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    install_crypto_provider();
    let cli = Cli::parse();
    let cfg = match Config::load(&cli.settings, &chiase_server::config::process_env) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("chiase: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    init_logging(&cfg, matches!(cli.command, Command::Serve { .. }));
    let result = match cli.command {
        Command::Serve { demo } => commands::serve::run(cfg, demo).await,
        Command::Dataset(c) => commands::dataset::run(cfg, c).await,
        Command::Import(args) => commands::dataset::import(cfg, args).await,
        Command::Schema(c) => commands::dataset::schema(c).await,
        Command::Demo { rows, seed } => commands::dataset::demo_command(cfg, rows, seed).await,
        Command::User(c) => commands::access::user(cfg, c).await,
        Command::Backup { dest } => commands::ops::backup(cfg, &dest).await,
        Command::Restore { src } => commands::ops::restore(cfg, &src).await,
        Command::Migrate { to } => commands::ops::migrate(cfg, &to).await,
        Command::Token(c) => commands::access::token(cfg, c).await,
        Command::Audit(c) => commands::access::audit(cfg, c).await,
        Command::Catalog(c) => commands::catalog::run(cfg, c).await,
        Command::Agency(c) => commands::agency::run(cfg, c).await,
        Command::Harvest(c) => commands::harvest::run(cfg, c).await,
        Command::Sync(c) => commands::sync::run(cfg, c).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // Already explained on standard error.
        Err(e) if e.downcast_ref::<commands::Exit>().is_some() => {
            std::process::ExitCode::from(e.downcast_ref::<commands::Exit>().map(|x| x.0).unwrap_or(1))
        }
        // `chiase … | head`: the reader went away; end quietly.
        Err(e) if e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) => {
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("chiase: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr: text for people, JSON for collectors. `CHIASE_LOG`
/// takes an env-filter directive (default `info`, quieter for commands).
fn init_logging(cfg: &Config, serving: bool) {
    let default = if serving { "info,sqlx=warn,tower_http=info" } else { "warn" };
    let filter = EnvFilter::try_from_env("CHIASE_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    // Colour codes only for a person at a terminal, never in files or journals.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match cfg.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}
