//! The `chiase` command line: one binary for serving and for operating.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::Overrides;

/// chiase: the catalog, hub and gate of a province's shared data.
#[derive(Debug, Parser)]
#[command(name = "chiase", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub overrides: Overrides,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API and the web pages (loads the built-in Decision 641 catalog into an empty installation)
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080]
        #[arg(long, env = "CHIASE_LISTEN", value_name = "ADDR")]
        listen: Option<SocketAddr>,
    },
    /// Import, list and compare catalog versions
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Manage agencies and their lifecycle
    #[command(subcommand)]
    Agency(AgencyCommand),
}

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Import a decision's catalog table (text exported from Word, CSV or XLSX) as a new version
    Import {
        /// The file to import
        file: PathBuf,
        /// The decision's number, e.g. "641/QĐ-UBND" [default: read from the file's title]
        #[arg(long)]
        decision: Option<String>,
        /// The decision's date, YYYY-MM-DD or dd/mm/yyyy [default: read from the file's title]
        #[arg(long)]
        date: Option<String>,
        /// Who signed the decision
        #[arg(long)]
        signer: Option<String>,
        /// The catalog's title [default: the file's title lines]
        #[arg(long)]
        title: Option<String>,
        /// Check the file and show what would be imported, without importing
        #[arg(long)]
        dry_run: bool,
    },
    /// List catalog versions
    Versions,
    /// Show what changed between two versions [default: the last two]
    Diff {
        from: Option<i64>,
        to: Option<i64>,
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AgencyCommand {
    /// List agencies
    List {
        /// Only agencies in this status (active, merged, dissolved)
        #[arg(long)]
        status: Option<String>,
    },
    /// Show an agency with its history
    Show { id: String },
    /// Create an agency
    Add {
        name: String,
        /// department, office, board, committee, group or other [default: guessed from the name]
        #[arg(long)]
        kind: Option<String>,
        /// Date it was established
        #[arg(long)]
        established: Option<String>,
        #[command(flatten)]
        contact: ContactArgs,
    },
    /// Rename an agency from a date (the old name stays in its history)
    Rename {
        id: String,
        new_name: String,
        #[arg(long)]
        on: String,
    },
    /// Merge an agency into a successor, which takes over its databases
    Merge {
        id: String,
        #[arg(long)]
        into: String,
        #[arg(long)]
        on: String,
    },
    /// Dissolve an agency; its databases go to --transfer-to
    Dissolve {
        id: String,
        #[arg(long)]
        on: String,
        #[arg(long)]
        transfer_to: Option<String>,
    },
    /// Set the focal contact for data sharing
    Contact {
        id: String,
        #[command(flatten)]
        contact: ContactArgs,
    },
}

#[derive(Debug, Clone, Default, clap::Args)]
pub struct ContactArgs {
    /// Focal contact's name
    #[arg(long = "contact-name")]
    pub name: Option<String>,
    /// Focal contact's position
    #[arg(long = "contact-position")]
    pub position: Option<String>,
    /// Focal contact's phone
    #[arg(long = "contact-phone")]
    pub phone: Option<String>,
    /// Focal contact's e-mail
    #[arg(long = "contact-email")]
    pub email: Option<String>,
}
