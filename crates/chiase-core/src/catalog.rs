//! The catalog of shared databases as a decision publishes it: rows of seven
//! verbatim cells, the structured fields derived from them, versions by
//! decision, and the differences between two versions.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::fold::{fold, match_key};
use crate::sharing::{SharingDerivation, SharingMode, derive_sharing};
use crate::text::{CleanText, clean_line, clean_name};

/// One row of a decision's table, every cell exactly as published.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CatalogRow {
    /// "TT": the number in the decision, as written.
    pub no: String,
    /// "Tên CSDL".
    pub name: String,
    /// "Cơ quan chủ quản CSDL".
    pub owner: String,
    /// "Thông tin mô tả".
    pub description: String,
    /// "Cơ chế thu thập, cập nhật nguồn dữ liệu".
    pub mechanism: String,
    /// "Hạng mục dữ liệu".
    pub category: String,
    /// "Ghi chú".
    pub notes: String,
    /// Where the row starts in its source file (1-based), for messages.
    #[serde(default)]
    pub line: usize,
}

/// The decision a catalog version comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// e.g. "641/QĐ-UBND".
    pub number: String,
    pub date: NaiveDate,
    pub signer: Option<String>,
    pub title: Option<String>,
}

/// How often a database's data is brought up to date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Cadence {
    /// Updated every year ("cập nhật hằng năm").
    Yearly,
    /// Updated when the underlying facts change ("khi có biến động"), or as
    /// the agencies that keep it enter their records.
    OnChange,
    /// Data arrives all the time: API synchronisation, exchanges in a running
    /// system, submissions by citizens.
    Continuous,
    /// The text says nothing about updates.
    Unspecified,
}

impl Cadence {
    pub const ALL: [Cadence; 4] = [Cadence::Yearly, Cadence::OnChange, Cadence::Continuous, Cadence::Unspecified];

    pub fn code(self) -> &'static str {
        match self {
            Cadence::Yearly => "yearly",
            Cadence::OnChange => "on_change",
            Cadence::Continuous => "continuous",
            Cadence::Unspecified => "unspecified",
        }
    }

    pub fn label(self, lang: &str) -> &'static str {
        match (self, lang == "en") {
            (Cadence::Yearly, false) => "Hằng năm",
            (Cadence::OnChange, false) => "Khi có thay đổi",
            (Cadence::Continuous, false) => "Liên tục",
            (Cadence::Unspecified, false) => "Chưa xác định",
            (Cadence::Yearly, true) => "Yearly",
            (Cadence::OnChange, true) => "On change",
            (Cadence::Continuous, true) => "Continuous",
            (Cadence::Unspecified, true) => "Unspecified",
        }
    }
}

impl fmt::Display for Cadence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Cadence {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Cadence::ALL.into_iter().find(|c| c.code() == s).ok_or_else(|| s.to_string())
    }
}

/// How data reaches a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Agencies, offices or businesses enter their own records.
    SelfEntry,
    /// Citizens or organisations submit (ratings, dossiers).
    CitizenSubmission,
    /// Paper documents are scanned and entered.
    Digitisation,
    /// Synchronised from another system through an API.
    ApiSync,
    /// The owner collects and compiles the data itself.
    CompiledByOwner,
    /// Formed by exchanges between agencies (or with citizens) in a system.
    Exchange,
}

impl Channel {
    pub const ALL: [Channel; 6] = [
        Channel::SelfEntry,
        Channel::CitizenSubmission,
        Channel::Digitisation,
        Channel::ApiSync,
        Channel::CompiledByOwner,
        Channel::Exchange,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Channel::SelfEntry => "self_entry",
            Channel::CitizenSubmission => "citizen_submission",
            Channel::Digitisation => "digitisation",
            Channel::ApiSync => "api_sync",
            Channel::CompiledByOwner => "compiled_by_owner",
            Channel::Exchange => "exchange",
        }
    }

    pub fn label(self, lang: &str) -> &'static str {
        match (self, lang == "en") {
            (Channel::SelfEntry, false) => "Cơ quan, đơn vị tự nhập",
            (Channel::CitizenSubmission, false) => "Người dân, tổ chức gửi",
            (Channel::Digitisation, false) => "Số hóa",
            (Channel::ApiSync, false) => "Đồng bộ qua API",
            (Channel::CompiledByOwner, false) => "Cơ quan chủ quản tổng hợp",
            (Channel::Exchange, false) => "Trao đổi giữa các cơ quan",
            (Channel::SelfEntry, true) => "Self-entry by agencies",
            (Channel::CitizenSubmission, true) => "Citizen submission",
            (Channel::Digitisation, true) => "Digitisation",
            (Channel::ApiSync, true) => "API synchronisation",
            (Channel::CompiledByOwner, true) => "Compiled by the owner",
            (Channel::Exchange, true) => "Exchange between agencies",
        }
    }
}

/// Phrases (folded) that name each channel in the mechanism cell.
const CHANNEL_PHRASES: &[(Channel, &[&str])] = &[
    (Channel::SelfEntry, &["tu nhap", "tu cham diem", "nhap lieu", "bang tai khoan", "cap tai khoan", "cac co quan, don vi thuc hien"]),
    (Channel::CitizenSubmission, &["nguoi dan", "cong dan"]),
    (Channel::Digitisation, &["so hoa", "scan"]),
    (Channel::ApiSync, &["api", "dong bo"]),
    (
        Channel::CompiledByOwner,
        &[
            "tong hop",
            "do dac",
            "boi co quan quan ly",
            "co quan quan ly cap nhat",
            "ban bien tap",
            "don vi chu quan thu thap",
            "van phong ubnd tinh cap nhat",
        ],
    ),
    (Channel::Exchange, &["trao doi", "lien ket", "lien thong", "hai chieu"]),
];

const YEARLY_PHRASES: &[&str] = &["hang nam", "moi nam", "dinh ky nam", "theo nam"];
const ON_CHANGE_PHRASES: &[&str] = &["khi co bien dong", "khi co thay doi", "khi phat sinh"];
const CONTINUOUS_PHRASES: &[&str] = &["truc tiep", "thuong xuyen", "lien tuc", "truc tuyen"];

/// Reads the collection channels from a mechanism cell (folded).
pub fn derive_channels(folded: &str) -> Vec<Channel> {
    CHANNEL_PHRASES.iter().filter(|(_, phrases)| phrases.iter().any(|p| contains_phrase(folded, p))).map(|(c, _)| *c).collect()
}

/// Reads the update cadence from a mechanism cell (folded) and its channels.
///
/// An explicit period wins ("hằng năm" → yearly, "khi có biến động" → on
/// change); then live channels (API sync, exchanges, citizen submissions)
/// mean continuous; then any mention of updating, entry or digitisation
/// means on change; otherwise the text says nothing and it is unspecified.
pub fn derive_cadence(folded: &str, channels: &[Channel]) -> Cadence {
    if YEARLY_PHRASES.iter().any(|p| folded.contains(p)) {
        return Cadence::Yearly;
    }
    if ON_CHANGE_PHRASES.iter().any(|p| folded.contains(p)) {
        return Cadence::OnChange;
    }
    let live = [Channel::ApiSync, Channel::Exchange, Channel::CitizenSubmission];
    if channels.iter().any(|c| live.contains(c)) || CONTINUOUS_PHRASES.iter().any(|p| folded.contains(p)) {
        return Cadence::Continuous;
    }
    if folded.contains("cap nhat")
        || channels.iter().any(|c| matches!(c, Channel::SelfEntry | Channel::Digitisation | Channel::CompiledByOwner))
    {
        return Cadence::OnChange;
    }
    Cadence::Unspecified
}

/// True when `phrase` occurs in `text` on word boundaries ("api" must not
/// match inside "rapid").
fn contains_phrase(text: &str, phrase: &str) -> bool {
    let mut from = 0;
    while let Some(pos) = text[from..].find(phrase) {
        let start = from + pos;
        let end = start + phrase.len();
        let before_ok = text[..start].chars().next_back().is_none_or(|c| !c.is_alphanumeric());
        let after_ok = text[end..].chars().next().is_none_or(|c| !c.is_alphanumeric());
        if before_ok && after_ok {
            return true;
        }
        from = start + 1;
        while !text.is_char_boundary(from) {
            from += 1;
        }
    }
    false
}

/// Everything derived from one row, beside its verbatim cells.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EntryFields {
    /// The number in the decision.
    pub no: i64,
    /// The name, without markup or a trailing full stop.
    pub name: String,
    /// The owner agency's name as the decision writes it, cleaned.
    pub owner_name: String,
    pub description: CleanText,
    pub mechanism: CleanText,
    /// The category cell as one clean line.
    pub category: String,
    pub notes: String,
    pub sharing: SharingDerivation,
    pub cadence: Cadence,
    pub channels: Vec<Channel>,
}

impl EntryFields {
    /// The modes, most open first.
    pub fn sharing_modes(&self) -> &[SharingMode] {
        &self.sharing.modes
    }

    /// The identity of a database across versions: its folded name.
    pub fn name_key(&self) -> String {
        match_key(&self.name)
    }

    /// The fields compared between two catalog versions, as display text.
    pub fn comparable(&self) -> BTreeMap<&'static str, String> {
        let modes: Vec<&str> = self.sharing.modes.iter().map(|m| m.code()).collect();
        BTreeMap::from([
            ("no", self.no.to_string()),
            ("name", self.name.clone()),
            ("owner", self.owner_name.clone()),
            ("description", self.description.plain()),
            ("mechanism", self.mechanism.plain()),
            ("category", self.category.clone()),
            ("notes", self.notes.clone()),
            ("sharing_modes", modes.join(", ")),
            ("cadence", self.cadence.code().to_string()),
        ])
    }
}

/// Why a row cannot be part of a catalog.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message_en}")]
pub struct RowError {
    /// The column (Vietnamese header) at fault.
    pub column: &'static str,
    pub message_vi: String,
    pub message_en: String,
}

/// Derives the structured fields of one row.
pub fn derive_entry(row: &CatalogRow) -> Result<EntryFields, RowError> {
    let no_text = clean_line(&row.no);
    let no: i64 = no_text.trim_end_matches('.').parse().map_err(|_| RowError {
        column: "TT",
        message_vi: format!("số thứ tự phải là số nguyên dương, gặp «{no_text}»"),
        message_en: format!("the number must be a positive integer, found «{no_text}»"),
    })?;
    if no <= 0 {
        return Err(RowError {
            column: "TT",
            message_vi: format!("số thứ tự phải lớn hơn 0, gặp {no}"),
            message_en: format!("the number must be greater than 0, found {no}"),
        });
    }
    let name = clean_name(&row.name);
    if name.is_empty() {
        return Err(RowError {
            column: "Tên CSDL",
            message_vi: "thiếu tên cơ sở dữ liệu".into(),
            message_en: "the database name is missing".into(),
        });
    }
    let owner_name = clean_name(&row.owner);
    if owner_name.is_empty() {
        return Err(RowError {
            column: "Cơ quan chủ quản CSDL",
            message_vi: "thiếu cơ quan chủ quản".into(),
            message_en: "the owner agency is missing".into(),
        });
    }
    let mechanism = CleanText::parse(&row.mechanism);
    let folded_mechanism = fold(&mechanism.flat());
    let channels = derive_channels(&folded_mechanism);
    let cadence = derive_cadence(&folded_mechanism, &channels);
    Ok(EntryFields {
        no,
        name,
        owner_name,
        description: CleanText::parse(&row.description),
        mechanism,
        category: clean_line(&row.category),
        notes: clean_line(&row.notes),
        sharing: derive_sharing(&row.category),
        cadence,
        channels,
    })
}

/// One field that differs between two versions of an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldChange {
    pub field: String,
    pub old: String,
    pub new: String,
}

/// An entry present in both versions with different fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangedEntry<K> {
    pub key: K,
    pub changes: Vec<FieldChange>,
}

/// The differences between two catalog versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogDiff<K> {
    pub added: Vec<K>,
    pub removed: Vec<K>,
    pub changed: Vec<ChangedEntry<K>>,
    pub unchanged: usize,
}

/// Compares two versions whose entries are identified by `K` (the database
/// they describe). Entries are reported in the order of the newer version,
/// removed ones in the order of the older.
pub fn diff<K: Clone + Eq>(old: &[(K, &EntryFields)], new: &[(K, &EntryFields)]) -> CatalogDiff<K> {
    let mut out = CatalogDiff { added: vec![], removed: vec![], changed: vec![], unchanged: 0 };
    for (key, entry) in new {
        match old.iter().find(|(k, _)| k == key) {
            None => out.added.push(key.clone()),
            Some((_, before)) => {
                let (a, b) = (before.comparable(), entry.comparable());
                let changes: Vec<FieldChange> = b
                    .iter()
                    .filter(|(f, v)| a.get(*f) != Some(*v))
                    .map(|(f, v)| FieldChange { field: f.to_string(), old: a.get(f).cloned().unwrap_or_default(), new: v.clone() })
                    .collect();
                if changes.is_empty() {
                    out.unchanged += 1;
                } else {
                    out.changed.push(ChangedEntry { key: key.clone(), changes });
                }
            }
        }
    }
    for (key, _) in old {
        if !new.iter().any(|(k, _)| k == key) {
            out.removed.push(key.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(no: &str, name: &str, category: &str, mechanism: &str) -> CatalogRow {
        CatalogRow {
            no: no.into(),
            name: name.into(),
            owner: "Sở Nội vụ".into(),
            category: category.into(),
            mechanism: mechanism.into(),
            ..Default::default()
        }
    }

    #[test]
    fn cadence_prefers_an_explicit_period() {
        let e = derive_entry(&row("9", "CSDL Môi trường", "", "- Sở Tài nguyên và Môi trường tổng hợp - Cập nhật hàng năm theo quy định"))
            .unwrap();
        assert_eq!(e.cadence, Cadence::Yearly);
        assert_eq!(e.channels, vec![Channel::CompiledByOwner]);
        let e = derive_entry(&row("8", "CSDL Địa chính", "", "- Tạo lập khi đo đạc - Cập nhật khi có biến động về đất đai")).unwrap();
        assert_eq!(e.cadence, Cadence::OnChange);
    }

    #[test]
    fn api_sync_is_continuous_and_a_bare_word_is_not_a_phrase() {
        let e = derive_entry(&row("13", "CSDL IOC", "", "Dữ liệu được đồng bộ thông qua các hàm API.")).unwrap();
        assert_eq!(e.cadence, Cadence::Continuous);
        assert_eq!(e.channels, vec![Channel::ApiSync]);
        assert!(!contains_phrase("rapid growth", "api"));
        assert!(contains_phrase("cac ham api.", "api"));
    }

    #[test]
    fn silence_is_unspecified() {
        let e = derive_entry(&row("1", "X", "", "Một số dữ liệu truy cập được hệ thống ghi lại")).unwrap();
        assert_eq!(e.cadence, Cadence::Unspecified);
    }

    #[test]
    fn bad_rows_name_their_column() {
        let err = derive_entry(&row("a1", "X", "", "")).unwrap_err();
        assert_eq!(err.column, "TT");
        let err = derive_entry(&row("0", "X", "", "")).unwrap_err();
        assert_eq!(err.column, "TT");
        let err = derive_entry(&row("3", "  ", "", "")).unwrap_err();
        assert_eq!(err.column, "Tên CSDL");
    }

    #[test]
    fn diff_reports_added_removed_and_changed_fields() {
        let a1 = derive_entry(&row("1", "CSDL A", "Chia sẻ dữ liệu đặc thù", "")).unwrap();
        let b1 = derive_entry(&row("2", "CSDL B", "Dữ liệu mở", "")).unwrap();
        let b2 = derive_entry(&row("1", "CSDL B", "Dữ liệu mở; chia sẻ mặc định", "")).unwrap();
        let c2 = derive_entry(&row("2", "CSDL C", "Dữ liệu mở", "")).unwrap();
        let d = diff(&[("a", &a1), ("b", &b1)], &[("b", &b2), ("c", &c2)]);
        assert_eq!(d.added, vec!["c"]);
        assert_eq!(d.removed, vec!["a"]);
        assert_eq!(d.changed.len(), 1);
        let fields: Vec<&str> = d.changed[0].changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, vec!["category", "no", "sharing_modes"]);
        assert_eq!(d.changed[0].changes[2].old, "open");
        assert_eq!(d.changed[0].changes[2].new, "open, default");
    }
}
