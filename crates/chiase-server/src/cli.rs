//! The `chiase` command line: one binary for serving and for operating.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::Flags;

/// chiase: the catalog, hub and gate of a province's shared data.
#[derive(Debug, Parser)]
#[command(name = "chiase", version, about, long_about = None)]
pub struct Cli {
    /// Every setting as a flag (global), and `--config FILE`.
    #[command(flatten)]
    pub settings: Flags,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API and the web pages (loads the built-in Decision 641 catalog into an empty installation)
    Serve {
        /// Fill the dataset templates with synthetic demo rows on start (like `chiase demo`)
        #[arg(long)]
        demo: bool,
    },
    /// Manage hosted datasets
    #[command(subcommand)]
    Dataset(DatasetCommand),
    /// Import a file (CSV, TSV, XLSX, XLS, ODS, JSON, NDJSON) into a dataset: all rows or none
    Import(ImportArgs),
    /// Propose a Table Schema from a sample of a file
    #[command(subcommand)]
    Schema(SchemaCommand),
    /// Manage accounts
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens
    #[command(subcommand)]
    Token(TokenCommand),
    /// Check and export the audit log
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Take a consistent copy of the installation (SQLite: online; PostgreSQL: pg_dump)
    Backup {
        /// The file to write (it must not exist)
        dest: PathBuf,
    },
    /// Put a backup back in place of the SQLite database (stop the server first)
    Restore {
        /// A file written by `chiase backup`
        src: PathBuf,
    },
    /// Copy this SQLite installation into an empty PostgreSQL database, then compare counts and checksums
    Migrate {
        /// postgres://…
        #[arg(long)]
        to: String,
    },
    /// Create every dataset template and fill it with synthetic rows (marked synthetic)
    Demo {
        /// Rows per dataset [default: each template's own number]
        #[arg(long)]
        rows: Option<usize>,
        /// Seed of the generator (the same seed gives the same rows)
        #[arg(long, default_value_t = 20240601)]
        seed: u64,
    },
    /// Import, list and compare catalog versions
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Manage agencies and their lifecycle
    #[command(subcommand)]
    Agency(AgencyCommand),
    /// Harvest other catalogs (CKAN, DCAT, Data Package, another chiase) now or on a schedule
    #[command(subcommand)]
    Harvest(HarvestCommand),
    /// Sync a hosted dataset from an upstream JSON endpoint (pull jobs) and see its runs and pushes
    #[command(subcommand)]
    Sync(SyncCommand),
}

#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// Add a pull job to a dataset (it runs at once when it has a period, then every period)
    Add {
        /// The dataset's id
        dataset: String,
        /// The upstream JSON endpoint (https; http only on loopback)
        url: String,
        /// replace (the pulled rows become the dataset) or upsert (by primary key)
        #[arg(long, default_value = "replace")]
        mode: String,
        /// A JSON pointer to the records in each answer, e.g. /data/items [default: the answer is the array]
        #[arg(long, default_value = "")]
        records_at: String,
        /// How pages are asked for, as JSON: {"type":"page","param":"page","first":1},
        /// {"type":"offset","offset_param":"offset","limit_param":"limit","size":100},
        /// {"type":"cursor","cursor_at":"/meta/next","param":"cursor"}, {"type":"next","next_at":"/links/next"} [default: none]
        #[arg(long)]
        paging: Option<String>,
        /// An upstream key (or a JSON pointer into the record) and the dataset's field: --map code=ma (repeatable)
        #[arg(long = "map", value_name = "FROM=FIELD")]
        map: Vec<String>,
        /// How often: 30m, 6h, 1d, 1w [default: only when run by hand]
        #[arg(long)]
        every: Option<String>,
        /// Seconds one request may take (1–600)
        #[arg(long, default_value_t = 60)]
        timeout: i64,
        /// A header the upstream wants (e.g. X-Api-Key), its value taken from CHIASE_SYNC_CREDENTIAL; kept sealed
        #[arg(long)]
        credential_header: Option<String>,
    },
    /// List a dataset's jobs and its recent runs (pulls and pushes)
    List { dataset: String },
    /// Run a job now and print its report
    Run { dataset: String, job: i64 },
    /// Remove a job (the rows it brought stay)
    Remove { dataset: String, job: i64 },
}

#[derive(Debug, Subcommand)]
pub enum HarvestCommand {
    /// Add a source (it runs at once when it has a period, then every period)
    Add {
        /// A CKAN site's or another chiase's root, a DCAT catalog, or a datapackage.json
        url: String,
        /// ckan, dcat, datapackage or chiase
        #[arg(long = "type")]
        kind: String,
        /// How often: 30m, 6h, 1d, 1w [default: only when run by hand]
        #[arg(long)]
        every: Option<String>,
        /// Its id here [default: made from the URL's host]
        #[arg(long)]
        id: Option<String>,
        /// The catalog database (id or number) for entries with none of the same id here
        #[arg(long = "into", value_name = "DATABASE")]
        database: Option<String>,
        /// Seconds one request to the source may take (1–600)
        #[arg(long, default_value_t = 60)]
        timeout: i64,
    },
    /// List the sources and their latest runs
    List,
    /// Run a source now and print its report
    Run { id: String },
    /// Remove a source (the datasets it filled stay, no longer read-only)
    Remove { id: String },
}

#[derive(Debug, Subcommand)]
pub enum DatasetCommand {
    /// List datasets
    List {
        /// Only those of one catalog entry (its number or id)
        #[arg(long = "entry")]
        database: Option<String>,
    },
    /// Show a dataset and its schema (JSON)
    Show { id: String },
    /// List the templates
    Templates,
    /// Create a dataset from a template or from a schema file
    Create {
        /// A template id (see `chiase dataset templates`)
        #[arg(long)]
        template: Option<String>,
        /// The dataset id [default: the template's]
        #[arg(long)]
        id: Option<String>,
        /// The catalog entry (its number or id) [default: the template's]
        #[arg(long = "entry")]
        database: Option<String>,
        /// A Table Schema file (JSON), instead of a template
        #[arg(long)]
        schema: Option<PathBuf>,
        /// Title [default: the template's]
        #[arg(long)]
        title: Option<String>,
        /// open, default, specific or legal [default: the template's]
        #[arg(long)]
        sharing: Option<String>,
    },
    /// Change a dataset's schema (add fields, widen types) from a Table Schema file
    Alter { id: String, schema: PathBuf },
    /// Import a Frictionless Data Package (a zip or datapackage.json file, or an http(s) URL) as new datasets of a catalog entry: all or none
    ImportPackage {
        /// The catalog entry (its number or id)
        entry: String,
        /// A .zip or datapackage.json file, or a URL (loopback, or a host `package_url_hosts` allows)
        source: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account (the password is read from standard input with --password-stdin)
    Add {
        username: String,
        /// The agency's id (omit for a member of the public or a platform admin)
        #[arg(long)]
        agency: Option<String>,
        /// admin, steward or member
        #[arg(long)]
        role: String,
        /// The name shown to others
        #[arg(long = "display-name")]
        display_name: Option<String>,
        /// Read a password from standard input (one line)
        #[arg(long)]
        password_stdin: bool,
        /// Where the account's notifications are mailed
        #[arg(long)]
        email: Option<String>,
    },
    /// List accounts
    List,
    /// Set the address an account's notifications are mailed to (none given: remove it)
    Email { username: String, address: Option<String> },
    /// Set a password, read from standard input
    Passwd { username: String },
    /// Disable an account: its sessions and tokens end at once
    Disable { username: String },
    /// Enable a disabled account again
    Enable { username: String },
    /// Move an account to another agency (its sessions and tokens end)
    Move {
        username: String,
        /// The agency's id
        #[arg(long)]
        agency: Option<String>,
        /// Leave every agency (a member of the public)
        #[arg(long)]
        no_agency: bool,
        /// A new role: admin, steward or member
        #[arg(long)]
        role: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token and print it (only the token; it is shown once)
    Create {
        username: String,
        #[arg(long, default_value = "cli")]
        name: String,
        /// Days until it expires
        #[arg(long)]
        expires: Option<i64>,
    },
    /// List a user's tokens (never the tokens themselves)
    List { username: String },
    /// Revoke a token by its id
    Revoke { id: i64 },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the chain and check it against the latest signed checkpoint; name the first problem (exit 1)
    Verify {
        /// Also require the head printed earlier by `chiase audit head`: event SEQ must still have HASH
        #[arg(long, value_name = "SEQ:HASH")]
        expect_head: Option<String>,
    },
    /// Print the head of the chain (SEQ HASH) for an operator to keep outside this installation
    Head {
        /// Print {"seq": …, "hash": …} instead
        #[arg(long)]
        json: bool,
    },
    /// Sign the current head now (the server also does so periodically and at shutdown)
    Checkpoint,
    /// Print events as NDJSON or CSV
    Export {
        #[arg(long, default_value = "ndjson")]
        format: String,
        /// Only events after this sequence number
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// CSV: write cells as they are, without neutralising those a
        /// spreadsheet would run as formulas (=, +, -, @)
        #[arg(long = "raw", action = clap::ArgAction::SetFalse)]
        escape_formulas: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// Print a proposed schema for FILE (JSON) for a steward to review
    Infer {
        file: PathBuf,
        /// Records to sample
        #[arg(long, default_value_t = 5000)]
        sample: usize,
        #[arg(long)]
        encoding: Option<String>,
    },
}

/// What `chiase import` is asked.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The dataset id
    pub dataset: String,
    /// The file
    pub file: PathBuf,
    /// append, upsert or replace
    #[arg(long, default_value = "append")]
    pub mode: String,
    /// The file's encoding when it has no byte-order mark (e.g. windows-1258, utf-16le)
    #[arg(long)]
    pub encoding: Option<String>,
    /// The CSV delimiter (detected when absent): "," ";" or "tab"
    #[arg(long)]
    pub delimiter: Option<String>,
    /// The format (detected from the name and content when absent)
    #[arg(long)]
    pub format: Option<String>,
    /// With --mode replace, allow a file without rows (it empties the dataset)
    #[arg(long)]
    pub allow_empty: bool,
    /// The sheet of a workbook, by name or number from 1 [default: the first whose header names the dataset's fields]
    #[arg(long)]
    pub sheet: Option<String>,
    /// How people wrote numbers in the file: vi (1.234,5) or en (1,234.5) [default: the dataset's setting]
    #[arg(long)]
    pub locale: Option<String>,
    /// Check the whole file and print the report; write nothing
    #[arg(long)]
    pub check: bool,
    /// The officer the import is done for (a username): the audit names them beside the operator
    #[arg(long = "as", value_name = "USER")]
    pub as_user: Option<String>,
    /// refuse (a bad row imports nothing) or hold (import the good rows, hold the bad ones back)
    #[arg(long, default_value = "refuse")]
    pub on_error: String,
    /// Write the bad rows as a workbook here, each bad cell highlighted with a note
    #[arg(long, value_name = "FILE.xlsx")]
    pub report: Option<PathBuf>,
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
    pub contact_name: Option<String>,
    /// Focal contact's position
    #[arg(long = "contact-position")]
    pub contact_position: Option<String>,
    /// Focal contact's phone
    #[arg(long = "contact-phone")]
    pub contact_phone: Option<String>,
    /// Focal contact's e-mail
    #[arg(long = "contact-email")]
    pub contact_email: Option<String>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
