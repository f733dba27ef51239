//! Decisions about a dataset's data: reading rows, writing rows, changing
//! its schema or its description, creating a dataset, reading the files
//! attached to it.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Reason, Subject, deny_unless_signed_in};
use crate::ids::{AgencyId, DatasetId, GrantId};
use crate::schema::PersonalClass;
use crate::sharing::SharingMode;

/// What the policy needs to know of a dataset.
#[derive(Debug, Clone)]
pub struct DatasetFacts {
    pub dataset_id: DatasetId,
    pub owner_agency_id: AgencyId,
    pub mode: SharingMode,
    /// Each field's name and personal-data class, in schema order.
    pub fields: Vec<(String, PersonalClass)>,
    /// Positions of the primary-key fields (empty: rows are addressed by
    /// their record id only).
    pub key: Vec<usize>,
    /// Its rows are harvested from another catalog: read-only here, but for
    /// the harvester (which acts as the operator).
    pub harvested: bool,
}

/// Where a grant is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantState {
    Pending,
    Active,
    Refused,
    Withdrawn,
    Revoked,
}

/// What the policy needs to know of a grant held by the subject's agency.
#[derive(Debug, Clone)]
pub struct GrantFacts {
    pub grant_id: GrantId,
    pub dataset_id: DatasetId,
    pub agency_id: AgencyId,
    pub state: GrantState,
    /// Field names granted; `None` means every field without personal data.
    pub fields: Option<Vec<String>>,
    pub legal_basis: Option<String>,
    pub valid_from: DateTime<Utc>,
    pub valid_to: DateTime<Utc>,
}

impl GrantFacts {
    /// Active, and `now` within its period.
    pub fn in_force(&self, now: DateTime<Utc>) -> bool {
        self.state == GrantState::Active && self.valid_from <= now && now < self.valid_to
    }
}

/// Permission to read a dataset's rows: which fields, under which grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadPermit {
    dataset_id: DatasetId,
    visible: Vec<usize>,
    grant_used: Option<GrantId>,
    reason: Reason,
    restricted: bool,
    sees_key: bool,
    every_field: bool,
}

impl ReadPermit {
    pub fn dataset_id(&self) -> DatasetId {
        self.dataset_id
    }
    /// Positions of the fields the subject may see, in schema order.
    pub fn visible(&self) -> &[usize] {
        &self.visible
    }
    pub fn grant_used(&self) -> Option<GrantId> {
        self.grant_used
    }
    pub fn reason(&self) -> Reason {
        self.reason
    }
    /// True when the data read is not open data (it must be audited one by one).
    pub fn is_restricted(&self) -> bool {
        self.restricted
    }
    /// Whether the subject sees every primary-key field, and so may see
    /// and address rows by their key. Otherwise rows are named by their
    /// record id only: a key such as a citizen's ID number must not leak
    /// through the change feed or a lookup by key.
    pub fn sees_key(&self) -> bool {
        self.sees_key
    }
    /// Whether every field of the dataset is visible.
    pub fn sees_every_field(&self) -> bool {
        self.every_field
    }
}

/// Permission to write a dataset's rows (imports, batches, patches, deletes,
/// attached files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WritePermit {
    dataset_id: DatasetId,
    reason: Reason,
}

impl WritePermit {
    pub fn dataset_id(&self) -> DatasetId {
        self.dataset_id
    }
    pub fn reason(&self) -> Reason {
        self.reason
    }
}

/// Permission to change a dataset's schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaPermit {
    dataset_id: DatasetId,
}

impl SchemaPermit {
    pub fn dataset_id(&self) -> DatasetId {
        self.dataset_id
    }
}

/// Permission to change what describes a dataset: its titles, description,
/// licence, update cadence and sharing mode (its schema has its own
/// [`SchemaPermit`]; its rows, [`WritePermit`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditDatasetPermit {
    dataset_id: DatasetId,
}

impl EditDatasetPermit {
    pub fn dataset_id(&self) -> DatasetId {
        self.dataset_id
    }
}

/// Permission to create a dataset under a database of `owner`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateDatasetPermit {
    owner: AgencyId,
}

impl CreateDatasetPermit {
    /// The agency whose database may receive the dataset.
    pub fn owner(&self) -> AgencyId {
        self.owner
    }
}

/// Permission to list and download the files attached to a dataset: they
/// may hold anything the rows hold, personal data included, so only a
/// reader who sees every field gets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilesPermit {
    read: ReadPermit,
}

impl FilesPermit {
    pub fn dataset_id(&self) -> DatasetId {
        self.read.dataset_id
    }
    /// The read permit it was made from (for the audit event).
    pub fn read(&self) -> &ReadPermit {
        &self.read
    }
}

/// Who may write: the operator, or a steward of the (active) owner agency.
fn writer(subject: &Subject, owner: AgencyId) -> Result<Reason, Reason> {
    match subject {
        Subject::Operator => Ok(Reason::OperatorAccess),
        s if s.is_steward_of(owner) => Ok(Reason::StewardOfOwner),
        s => Err(deny_unless_signed_in(s, Reason::NotSteward)),
    }
}

/// Who may change `dataset`: its owner's stewards and the operator; a
/// harvested dataset only the operator (the harvester acts as it).
fn dataset_writer(subject: &Subject, dataset: &DatasetFacts) -> Result<Reason, Reason> {
    if dataset.harvested && !matches!(subject, Subject::Operator) {
        return Err(deny_unless_signed_in(subject, Reason::Harvested));
    }
    writer(subject, dataset.owner_agency_id)
}

/// May `subject` write rows of `dataset`?
pub fn decide_write(subject: &Subject, dataset: &DatasetFacts) -> Result<WritePermit, Reason> {
    dataset_writer(subject, dataset).map(|reason| WritePermit { dataset_id: dataset.dataset_id, reason })
}

/// May `subject` change the schema of `dataset`? The same people who write
/// its rows.
pub fn decide_schema_change(subject: &Subject, dataset: &DatasetFacts) -> Result<SchemaPermit, Reason> {
    dataset_writer(subject, dataset).map(|_| SchemaPermit { dataset_id: dataset.dataset_id })
}

/// May `subject` change what describes `dataset` (titles, description,
/// licence, cadence, sharing mode)? The owner's stewards and the operator,
/// as for its rows: a platform administrator administers, and does not
/// describe (or open) another agency's data.
pub fn decide_edit_dataset(subject: &Subject, dataset: &DatasetFacts) -> Result<EditDatasetPermit, Reason> {
    dataset_writer(subject, dataset).map(|_| EditDatasetPermit { dataset_id: dataset.dataset_id })
}

/// May `subject` create a dataset in a database owned by `owner`? Creating
/// a dataset is writing to that agency's data: its stewards.
pub fn decide_create_dataset(subject: &Subject, owner: AgencyId) -> Result<CreateDatasetPermit, Reason> {
    writer(subject, owner).map(|_| CreateDatasetPermit { owner })
}

/// May the holder of `read` see the files of its dataset (`fields` in all)?
pub fn decide_files(read: &ReadPermit, fields: usize) -> Result<FilesPermit, Reason> {
    if read.visible.len() == fields { Ok(FilesPermit { read: read.clone() }) } else { Err(Reason::NotEveryField) }
}

/// May `subject` read rows of `dataset`, and which fields? `grants` are the
/// grants held by the subject's agency (others are ignored).
pub fn decide_read(subject: &Subject, dataset: &DatasetFacts, now: DateTime<Utc>, grants: &[GrantFacts]) -> Result<ReadPermit, Reason> {
    let all: Vec<usize> = (0..dataset.fields.len()).collect();
    // Restricted (audited one by one): anything but open data, and open
    // data when personal fields are among what is read.
    let permit = |visible: Vec<usize>, grant_used, reason| {
        let personal = visible.iter().any(|i: &usize| dataset.fields[*i].1 != PersonalClass::None);
        let restricted = dataset.mode != SharingMode::Open || personal;
        let sees_key = dataset.key.iter().all(|k| visible.contains(k));
        let every_field = visible.len() == dataset.fields.len();
        Ok(ReadPermit { dataset_id: dataset.dataset_id, visible, grant_used, reason, restricted, sees_key, every_field })
    };
    if matches!(subject, Subject::Operator) {
        return permit(all, None, Reason::OperatorAccess);
    }
    let agency = subject.state_agency();
    if agency == Some(dataset.owner_agency_id) {
        return permit(all, None, Reason::OwnerAgency);
    }
    let grant = agency.and_then(|a| grants.iter().find(|g| g.agency_id == a && g.dataset_id == dataset.dataset_id && g.in_force(now)));
    let non_personal: Vec<usize> = all.iter().copied().filter(|i| dataset.fields[*i].1 == PersonalClass::None).collect();

    // Fields a grant opens: the ones it names (or every non-personal field),
    // personal ones only when named, sensitive ones only with a legal basis.
    let granted_fields = |g: &GrantFacts| -> Vec<usize> {
        all.iter()
            .copied()
            .filter(|i| {
                let (name, class) = &dataset.fields[*i];
                let named = g.fields.as_ref().is_some_and(|f| f.contains(name));
                match class {
                    PersonalClass::None => g.fields.is_none() || named,
                    PersonalClass::Basic => named,
                    PersonalClass::Sensitive => named && g.legal_basis.as_deref().is_some_and(|b| !b.trim().is_empty()),
                }
            })
            .collect()
    };
    let with_personal_from_grant = |base: Vec<usize>| -> (Vec<usize>, Option<GrantId>) {
        match grant {
            Some(g) => {
                let extra = granted_fields(g);
                let mut v: Vec<usize> =
                    base.into_iter().chain(extra.into_iter().filter(|i| dataset.fields[*i].1 != PersonalClass::None)).collect();
                v.sort_unstable();
                v.dedup();
                let used = v.iter().any(|i| dataset.fields[*i].1 != PersonalClass::None).then_some(g.grant_id);
                (v, used)
            }
            None => (base, None),
        }
    };
    let state_agency = || match (subject, agency) {
        (Subject::Anonymous, _) => Err(Reason::SignInRequired),
        (_, None) => Err(Reason::NotStateAgency),
        (_, Some(a)) => Ok(a),
    };
    match dataset.mode {
        SharingMode::Open => {
            let (v, used) = with_personal_from_grant(non_personal);
            permit(v, used, if used.is_some() { Reason::Grant } else { Reason::OpenData })
        }
        SharingMode::Default => {
            state_agency()?;
            let (v, used) = with_personal_from_grant(non_personal);
            permit(v, used, if used.is_some() { Reason::Grant } else { Reason::DefaultSharing })
        }
        SharingMode::Specific | SharingMode::Legal => {
            state_agency()?;
            let g = grant.ok_or(Reason::NoActiveGrant)?;
            let v = granted_fields(g);
            if v.is_empty() { Err(Reason::NoActiveGrant) } else { permit(v, Some(g.grant_id), Reason::Grant) }
        }
    }
}
