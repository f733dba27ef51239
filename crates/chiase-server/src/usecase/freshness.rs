//! Freshness and quality of every database and dataset, grouped by owner
//! agency: the cadence expected of each dataset, when its data last changed
//! and whether it is overdue, and a quality score (0–100) naming what is
//! missing.
//!
//! What a reader is told follows the policy: a dataset's description and
//! schema are public like the catalog, so the metadata part of the score is
//! shown to everyone; when its data last changed and how many of its cells
//! are empty come from its rows, so they are shown only to a reader the
//! policy lets read them (as `usecase::datasets::list` shows activity), and
//! the emptiness is counted over the fields that reader may see, as counts
//! (no value is read).
//!
//! Periods: yearly data is overdue a year after its last change, continuous
//! data a month after; data kept "on change" or with no stated cadence has
//! no deadline. Open data must be reviewed every six months: its last
//! review is taken as the later of its last data change and its last
//! metadata change (chiase records no review as such).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock};

use chiase_core::catalog::Cadence;
use chiase_core::policy::{ReadPermit, decide_read};
use chiase_core::schema::{FieldSpec, FieldType};
use chiase_core::sharing::SharingMode;
use chiase_store::databases::DatabaseQuery;
use chiase_store::datasets::Dataset;
use chiase_store::datasets::quality::EmptyCells;
use chrono::{DateTime, FixedOffset, Months, NaiveDate, Utc};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// Months between two reviews of an open dataset (Decree 194/2025: at
/// least every six months).
pub const OPEN_REVIEW_MONTHS: u32 = 6;

/// Weights of the score's criteria (they add up to 100).
pub const W_DESCRIPTION: u32 = 20;
pub const W_LICENCE: u32 = 15;
pub const W_TITLES: u32 = 15;
pub const W_UNITS: u32 = 10;
pub const W_EMPTY: u32 = 25;
pub const W_REVIEW: u32 = 15;

/// A description shorter than this (in characters) says too little.
pub const DESCRIPTION_MIN: usize = 40;
/// A share of empty cells at or above this (per cent) is named as missing.
pub const EMPTY_NAMED_PERCENT: u32 = 5;

/// The whole dashboard.
pub struct Dashboard {
    /// Today in Vietnam (UTC+7).
    pub today: NaiveDate,
    /// Agencies with overdue datasets first.
    pub agencies: Vec<AgencyGroup>,
    pub datasets: usize,
    pub overdue: usize,
    /// Datasets whose freshness the reader may not see.
    pub withheld: usize,
}

pub struct AgencyGroup {
    pub id: String,
    pub name: String,
    /// Databases with an overdue dataset first, then by number.
    pub databases: Vec<DatabaseFreshness>,
    pub datasets: usize,
    pub overdue: usize,
    /// Average score of its datasets (None: no dataset).
    pub average_score: Option<u32>,
}

pub struct DatabaseFreshness {
    pub id: String,
    pub no: Option<i64>,
    pub name: String,
    /// The cadence the catalog's update method states.
    pub cadence: Cadence,
    /// Its datasets, overdue first.
    pub datasets: Vec<DatasetFreshness>,
    /// The latest data change among its datasets the reader may see.
    pub last_update: Option<NaiveDate>,
    pub overdue: usize,
}

pub struct DatasetFreshness {
    pub id: String,
    pub title: String,
    pub title_en: Option<String>,
    pub mode: SharingMode,
    /// The cadence expected: the dataset's own, else its database's.
    pub cadence: Cadence,
    /// The cadence came from the database's update method.
    pub cadence_from_database: bool,
    pub due: Due,
    pub quality: Quality,
    /// How its data arrives when it is synchronised (`usecase::sync`).
    pub sync: Option<SyncShown>,
}

/// A synchronised dataset, as the dashboard tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncShown {
    /// The upstream's host a pull job reads (None: pushes only, or the
    /// reader may not see when its data changed).
    pub host: Option<String>,
    /// The agency's system pushes to it.
    pub pushed: bool,
    /// The end of its last successful sync; None when there was none or
    /// when the reader may not see when its data changed.
    pub last_ok: Option<DateTime<Utc>>,
}

/// Whether a dataset is up to date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    /// The reader may not see when its data changed.
    Withheld,
    /// Its data last changed on `last` (None: never since it was created on
    /// `created`); `due` is when the next change is expected (None: no
    /// deadline for its cadence).
    Known { last: Option<NaiveDate>, created: NaiveDate, due: Option<NaiveDate>, overdue: bool },
}

impl Due {
    pub fn is_overdue(&self) -> bool {
        matches!(self, Due::Known { overdue: true, .. })
    }
    pub fn last(&self) -> Option<NaiveDate> {
        match self {
            Due::Known { last, .. } => *last,
            Due::Withheld => None,
        }
    }
}

/// A score out of 100 and what keeps it from 100.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quality {
    pub score: u32,
    pub missing: Vec<Missing>,
    /// Empty cells were not counted (the reader may not see the rows): the
    /// score is the other criteria's, scaled to 100.
    pub empty_not_assessed: bool,
}

/// What a dataset lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    Description,
    DescriptionShort,
    Licence,
    /// Fields without a title of their own (their names).
    FieldTitles(Vec<String>),
    /// Measures that do not state their unit (their titles).
    Units(Vec<String>),
    /// No current row.
    NoRows,
    /// This share (per cent) of the cells expected to be filled is empty.
    EmptyCells(u32),
    /// Open data not reviewed since `last`: the review was due on `due`.
    Review {
        last: NaiveDate,
        due: NaiveDate,
    },
}

/// Today's date in Vietnam (UTC+7).
pub fn vn_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&FixedOffset::east_opt(7 * 3600).expect("BUG: a valid offset")).date_naive()
}

/// How long a cadence allows between two changes (None: no deadline).
pub fn period(c: Cadence) -> Option<Months> {
    match c {
        Cadence::Yearly => Some(Months::new(12)),
        Cadence::Continuous => Some(Months::new(1)),
        Cadence::OnChange | Cadence::Unspecified => None,
    }
}

/// The host (and port) of a URL.
fn host_of(url: &str) -> String {
    url.split_once("://").map(|(_, r)| r).unwrap_or(url).split(['/', '?', '#']).next().unwrap_or_default().to_string()
}

/// Builds the dashboard as `caller` may see it.
pub async fn dashboard(app: &AppState, caller: &Caller) -> Result<Dashboard, ApiError> {
    let now = Utc::now();
    let today = vn_date(now);
    let catalog = app.store.search_databases(&DatabaseQuery { limit: 10_000, ..Default::default() }).await?;
    let datasets = app.store.datasets(None).await?;
    let syncing = app.store.sync_states().await?;
    let grants = match caller.subject.state_agency() {
        Some(a) => app.store.grants_of(a).await?,
        None => vec![],
    };

    let mut by_database: HashMap<String, Vec<DatasetFreshness>> = HashMap::new();
    // Databases a dataset names that the catalog search did not list (no longer listed).
    let mut extra: BTreeMap<String, (Option<i64>, String, String, String)> = BTreeMap::new();
    let catalog_cadence: HashMap<&str, Cadence> = catalog.results.iter().map(|d| (d.id.as_str(), d.cadence)).collect();
    let (mut total, mut overdue, mut withheld) = (0, 0, 0);
    for ds in &datasets {
        let permit = decide_read(&caller.subject, &ds.facts(), now, &grants).ok();
        let db_cadence = catalog_cadence.get(ds.database.id.as_str()).copied().unwrap_or(Cadence::Unspecified);
        let empty = match &permit {
            Some(p) => Some(empty_cells(app, p, ds).await?),
            None => None,
        };
        let mut f = assess(ds, permit.as_ref(), db_cadence, empty.as_ref(), today);
        // When a synchronised dataset last received data follows the rule
        // of its data changes: hidden from a reader who may not see those.
        f.sync = syncing.get(&ds.id).map(|st| {
            let seen = f.due != Due::Withheld;
            SyncShown {
                host: st.pulled_from.as_deref().filter(|_| seen).map(host_of),
                pushed: st.pushed,
                last_ok: st.last_ok.filter(|_| seen),
            }
        });
        total += 1;
        overdue += usize::from(f.due.is_overdue());
        withheld += usize::from(f.due == Due::Withheld);
        if !catalog_cadence.contains_key(ds.database.id.as_str()) {
            extra
                .entry(ds.database.id.clone())
                .or_insert_with(|| (ds.database.no, ds.database.name.clone(), ds.owner.id.clone(), ds.owner.name.clone()));
        }
        by_database.entry(ds.database.id.clone()).or_default().push(f);
    }

    let mut groups: BTreeMap<String, AgencyGroup> = BTreeMap::new();
    let rows = catalog
        .results
        .iter()
        .map(|d| (d.id.clone(), d.no, d.name.clone(), d.cadence, d.owner.id.clone(), d.owner.name.clone()))
        .chain(extra.into_iter().map(|(id, (no, name, oid, oname))| (id, no, name, Cadence::Unspecified, oid, oname)));
    for (id, no, name, cadence, owner_id, owner_name) in rows {
        let mut sets = by_database.remove(&id).unwrap_or_default();
        sets.sort_by_key(|d| (!d.due.is_overdue(), d.id.clone()));
        let db = DatabaseFreshness {
            last_update: sets.iter().filter_map(|d| d.due.last()).max(),
            overdue: sets.iter().filter(|d| d.due.is_overdue()).count(),
            id,
            no,
            name,
            cadence,
            datasets: sets,
        };
        let g = groups.entry(owner_id.clone()).or_insert_with(|| AgencyGroup {
            id: owner_id,
            name: owner_name,
            databases: vec![],
            datasets: 0,
            overdue: 0,
            average_score: None,
        });
        g.datasets += db.datasets.len();
        g.overdue += db.overdue;
        g.databases.push(db);
    }
    let mut agencies: Vec<AgencyGroup> = groups.into_values().collect();
    for g in &mut agencies {
        g.databases.sort_by_key(|d| (d.overdue == 0, d.no.unwrap_or(i64::MAX), d.id.clone()));
        let scores: Vec<u32> = g.databases.iter().flat_map(|d| d.datasets.iter().map(|s| s.quality.score)).collect();
        g.average_score = (!scores.is_empty()).then(|| (scores.iter().sum::<u32>() as f64 / scores.len() as f64).round() as u32);
    }
    agencies.sort_by(|a, b| b.overdue.cmp(&a.overdue).then_with(|| b.datasets.cmp(&a.datasets)).then_with(|| a.name.cmp(&b.name)));
    Ok(Dashboard { today, agencies, datasets: total, overdue, withheld })
}

/// The fields whose emptiness is counted: those the permit shows that the
/// schema does not already require (a required cell is never empty) and
/// whose description does not say they are filled only in some cases.
pub fn expected_fields(ds: &Dataset, permit: &ReadPermit) -> Vec<usize> {
    ds.schema
        .fields
        .iter()
        .enumerate()
        .filter(|(i, f)| permit.visible().contains(i) && !f.constraints.required && !conditional(f))
        .map(|(i, _)| i)
        .collect()
}

fn conditional(f: &FieldSpec) -> bool {
    let d = chiase_core::fold::fold(f.description.as_deref().unwrap_or(""));
    ["chi co khi", "neu co", "only when", "if any", "co the de trong"].iter().any(|w| d.contains(w))
}

/// Empty cells, remembered per dataset state (its last change and schema
/// version) and the fields counted, so that the page does not scan every
/// table on every view.
async fn empty_cells(app: &AppState, permit: &ReadPermit, ds: &Dataset) -> Result<EmptyCells, ApiError> {
    type Key = (i64, i64, DateTime<Utc>, i64, i64, Vec<usize>);
    static CACHE: OnceLock<Mutex<HashMap<Key, EmptyCells>>> = OnceLock::new();
    let fields = expected_fields(ds, permit);
    let seq = ds.activity(permit).map(|a| a.last_seq).unwrap_or(-1);
    let key: Key = (ds.pk.get(), seq, ds.created_at, ds.schema_version, ds.updated_at.timestamp_micros(), fields.clone());
    let cache = CACHE.get_or_init(Default::default);
    if let Some(hit) = cache.lock().ok().and_then(|m| m.get(&key).cloned()) {
        return Ok(hit);
    }
    let counted = app.store.empty_cells(permit, ds, &fields).await?;
    if let Ok(mut m) = cache.lock() {
        if m.len() > 4_096 {
            m.clear();
        }
        m.insert(key, counted.clone());
    }
    Ok(counted)
}

/// Whether a measure's title or description names its unit, or the
/// measure needs none (a score, a coefficient, an index, a rank).
fn states_unit(f: &FieldSpec) -> bool {
    let title = f.title.as_deref().unwrap_or("");
    let folded = chiase_core::fold::fold(title);
    let desc = chiase_core::fold::fold(f.description.as_deref().unwrap_or(""));
    title.contains('(')
        || desc.contains("don vi")
        || desc.contains("unit")
        || ["diem", "he so", "chi so", "xep hang", "hang ", "ty le", "so thu tu"].iter().any(|w| folded.starts_with(w))
}

/// One dataset's freshness and score.
pub fn assess(
    ds: &Dataset,
    permit: Option<&ReadPermit>,
    db_cadence: Cadence,
    empty: Option<&EmptyCells>,
    today: NaiveDate,
) -> DatasetFreshness {
    let (cadence, cadence_from_database) =
        if ds.cadence == Cadence::Unspecified && db_cadence != Cadence::Unspecified { (db_cadence, true) } else { (ds.cadence, false) };
    let activity = permit.and_then(|p| ds.activity(p).ok());
    let created = vn_date(ds.created_at);
    let due = match &activity {
        None => Due::Withheld,
        Some(a) => {
            let last = a.data_updated_at.map(vn_date);
            let due = period(cadence).and_then(|p| last.unwrap_or(created).checked_add_months(p));
            Due::Known { last, created, due, overdue: due.is_some_and(|d| d < today) }
        }
    };

    let mut missing = Vec::new();
    let mut earned = 0u32;
    let description = ds.description.trim();
    if description.is_empty() {
        missing.push(Missing::Description);
    } else if description.chars().count() < DESCRIPTION_MIN {
        missing.push(Missing::DescriptionShort);
    } else {
        earned += W_DESCRIPTION;
    }
    if ds.licence.trim().is_empty() {
        missing.push(Missing::Licence);
    } else {
        earned += W_LICENCE;
    }
    let fields = &ds.schema.fields;
    let untitled: Vec<String> = fields
        .iter()
        .filter(|f| f.title.as_deref().map(str::trim).is_none_or(|t| t.is_empty() || t == f.name))
        .map(|f| f.name.clone())
        .collect();
    earned += share_of(W_TITLES, fields.len() - untitled.len(), fields.len());
    if !untitled.is_empty() {
        missing.push(Missing::FieldTitles(untitled));
    }
    // A measure is a decimal number that is not a coordinate; a schema with
    // a unit column ("Đơn vị trữ lượng", "Thông số (đơn vị)", "Tên chỉ
    // tiêu (đơn vị tính)") states units in its rows.
    let unit_column = fields.iter().any(|f| {
        let n = chiase_core::fold::fold(f.title.as_deref().unwrap_or(&f.name));
        n.starts_with("don vi tinh") || n.starts_with("don vi ") || n.contains("(don vi") || f.name.starts_with("don_vi")
    });
    let measures: Vec<&FieldSpec> = fields.iter().filter(|f| f.field_type == FieldType::Number && f.geo.is_none()).collect();
    let unitless: Vec<String> = if unit_column {
        vec![]
    } else {
        measures.iter().filter(|f| !states_unit(f)).map(|f| f.title.clone().unwrap_or_else(|| f.name.clone())).collect()
    };
    earned += share_of(W_UNITS, measures.len() - unitless.len(), measures.len());
    if !unitless.is_empty() {
        missing.push(Missing::Units(unitless));
    }
    let empty_not_assessed = empty.is_none();
    if let Some(e) = empty {
        if e.rows == 0 {
            missing.push(Missing::NoRows);
        } else {
            let cells = e.rows * e.empty.len() as i64;
            let blank: i64 = e.empty.iter().map(|(_, n)| n).sum();
            let filled = (cells - blank).max(0) as usize;
            earned += share_of(W_EMPTY, filled, cells as usize);
            let percent = if cells == 0 { 0 } else { ((blank as f64) * 100.0 / cells as f64).round() as u32 };
            if percent >= EMPTY_NAMED_PERCENT {
                missing.push(Missing::EmptyCells(percent));
            }
        }
    }
    if ds.sharing_mode == SharingMode::Open {
        let metadata = vn_date(ds.updated_at);
        let last = activity.and_then(|a| a.data_updated_at).map(vn_date).map_or(metadata, |d| d.max(metadata));
        let due = last.checked_add_months(Months::new(OPEN_REVIEW_MONTHS)).unwrap_or(last);
        if due < today {
            missing.push(Missing::Review { last, due });
        } else {
            earned += W_REVIEW;
        }
    } else {
        earned += W_REVIEW;
    }
    let score = if empty_not_assessed { (earned as f64 * 100.0 / (100 - W_EMPTY) as f64).round() as u32 } else { earned };
    DatasetFreshness {
        id: ds.id.clone(),
        title: ds.title.clone(),
        title_en: ds.title_en.clone(),
        mode: ds.sharing_mode,
        cadence,
        cadence_from_database,
        due,
        quality: Quality { score: score.min(100), missing, empty_not_assessed },
        sync: None,
    }
}

/// `weight` in proportion to `good` of `all` (all of it when there is nothing to count).
fn share_of(weight: u32, good: usize, all: usize) -> u32 {
    if all == 0 { weight } else { ((weight as f64) * good as f64 / all as f64).round() as u32 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods() {
        assert_eq!(period(Cadence::Yearly), Some(Months::new(12)));
        assert_eq!(period(Cadence::OnChange), None);
        let d = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        assert_eq!(d.checked_add_months(Months::new(12)), NaiveDate::from_ymd_opt(2025, 2, 28));
    }

    #[test]
    fn vietnam_day() {
        let t = DateTime::parse_from_rfc3339("2025-03-01T17:30:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(vn_date(t), NaiveDate::from_ymd_opt(2025, 3, 2).unwrap());
    }

    #[test]
    fn weights_add_up() {
        assert_eq!(W_DESCRIPTION + W_LICENCE + W_TITLES + W_UNITS + W_EMPTY + W_REVIEW, 100);
    }
}
