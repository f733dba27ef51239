//! The four ways a database may be shared (Decree 47/2020/NĐ-CP, kept by
//! Decree 194/2025/NĐ-CP), and how they are read from the catalog's
//! "Hạng mục dữ liệu" column.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::fold::fold;
use crate::text::clean_line;

/// How a database (or a dataset inside it) may be shared.
///
/// The order of the variants is from most to least open; lists of modes are
/// always given in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SharingMode {
    /// Dữ liệu mở: anyone, without an account.
    Open,
    /// Chia sẻ mặc định: any state agency's user, without asking.
    Default,
    /// Chia sẻ theo yêu cầu đặc thù: on an approved written request.
    Specific,
    /// Chia sẻ theo quy định của pháp luật: as a sector law prescribes;
    /// treated like `specific`, with the legal basis cited.
    Legal,
}

impl SharingMode {
    /// Every mode, most open first.
    pub const ALL: [SharingMode; 4] = [SharingMode::Open, SharingMode::Default, SharingMode::Specific, SharingMode::Legal];

    /// The code used in the API and in storage.
    pub fn code(self) -> &'static str {
        match self {
            SharingMode::Open => "open",
            SharingMode::Default => "default",
            SharingMode::Specific => "specific",
            SharingMode::Legal => "legal",
        }
    }

    /// The Vietnamese label people read.
    pub fn label_vi(self) -> &'static str {
        match self {
            SharingMode::Open => "Dữ liệu mở",
            SharingMode::Default => "Chia sẻ mặc định",
            SharingMode::Specific => "Chia sẻ theo yêu cầu đặc thù",
            SharingMode::Legal => "Chia sẻ theo quy định của pháp luật",
        }
    }

    /// The English label.
    pub fn label_en(self) -> &'static str {
        match self {
            SharingMode::Open => "Open data",
            SharingMode::Default => "Default sharing among state agencies",
            SharingMode::Specific => "Sharing on an approved specific request",
            SharingMode::Legal => "Sharing as the law prescribes",
        }
    }

    /// The label in `lang` (`vi` or `en`).
    pub fn label(self, lang: &str) -> &'static str {
        if lang == "en" { self.label_en() } else { self.label_vi() }
    }
}

impl fmt::Display for SharingMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for SharingMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SharingMode::ALL.into_iter().find(|m| m.code() == s).ok_or_else(|| s.to_string())
    }
}

/// What the category cell says, read into structure.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SharingDerivation {
    /// The modes named, most open first.
    pub modes: Vec<SharingMode>,
    /// A part of the database a mode applies to, when the cell says so in
    /// brackets, e.g. open → "tài liệu địa chỉ" (entry 14).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<ModeScope>,
    /// Terms of use, when the cell holds them instead of a category (entry 17).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms_of_use: Option<String>,
    /// How the modes were found, for a reader checking the derivation.
    pub basis: DerivationBasis,
}

/// A mode limited to part of a database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ModeScope {
    pub mode: SharingMode,
    pub scope: String,
}

/// Where a derived set of modes came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DerivationBasis {
    /// The cell names the modes.
    #[default]
    Named,
    /// The cell holds terms of use that allow anyone to download and reuse
    /// the data with attribution: that is open data.
    TermsOfUse,
    /// Nothing recognisable: no mode could be derived.
    Unrecognised,
}

/// Phrases (folded) that name each mode.
const MODE_PHRASES: &[(SharingMode, &[&str])] = &[
    (SharingMode::Open, &["du lieu mo", "chia se mo", "open data"]),
    (SharingMode::Default, &["mac dinh"]),
    (SharingMode::Specific, &["dac thu"]),
    (SharingMode::Legal, &["theo quy dinh cua phap luat", "theo quy dinh phap luat"]),
];

/// Phrases (folded) of terms of use that grant free download and reuse.
const OPEN_TERMS_PHRASES: &[&str] = &["tai ve", "ghi ro nguon", "trich dan nguon"];

fn modes_in(folded: &str) -> Vec<SharingMode> {
    MODE_PHRASES.iter().filter(|(_, phrases)| phrases.iter().any(|p| folded.contains(p))).map(|(m, _)| *m).collect()
}

/// Reads the sharing modes from a verbatim category cell.
pub fn derive_sharing(raw: &str) -> SharingDerivation {
    let clean = clean_line(raw);
    let folded = fold(&clean);
    let modes = modes_in(&folded);
    if !modes.is_empty() {
        let mut scopes = Vec::new();
        for segment in clean.split(';') {
            let seg_modes = modes_in(&fold(segment));
            if let ([mode], Some(open), Some(close)) = (seg_modes.as_slice(), segment.find('('), segment.rfind(')')) {
                let inside = segment[open + 1..close].trim();
                if open < close && !inside.is_empty() && modes_in(&fold(inside)).is_empty() {
                    scopes.push(ModeScope { mode: *mode, scope: inside.to_string() });
                }
            }
        }
        return SharingDerivation { modes, scopes, terms_of_use: None, basis: DerivationBasis::Named };
    }
    if OPEN_TERMS_PHRASES.iter().any(|p| folded.contains(p)) {
        return SharingDerivation {
            modes: vec![SharingMode::Open],
            scopes: vec![],
            terms_of_use: Some(clean),
            basis: DerivationBasis::TermsOfUse,
        };
    }
    SharingDerivation { basis: DerivationBasis::Unrecognised, ..Default::default() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SharingMode::*;

    #[test]
    fn named_modes_are_found_in_any_wording() {
        assert_eq!(derive_sharing("Chia sẻ dữ liệu đặc thù").modes, vec![Specific]);
        assert_eq!(derive_sharing("Chia sẻ các thông tin theo quy định của pháp luật").modes, vec![Legal]);
        assert_eq!(derive_sharing("Chia sẻ dữ liệu mở").modes, vec![Open]);
        assert_eq!(derive_sharing("Dữ liệu mở; chia sẻ dữ liệu mặc định; chia sẻ dữ liệu đặc thù.").modes, vec![Open, Default, Specific]);
        assert_eq!(derive_sharing("CHIA SE THEO HINH THUC MAC DINH").modes, vec![Default]);
    }

    #[test]
    fn a_bracketed_part_scopes_a_mode() {
        let d = derive_sharing(
            "Dữ liệu được chia sẻ theo yêu cầu đặc thù của mỗi đối tượng sử dụng thư viện (bao gồm: Chia sẻ mặc định; chia sẻ đặc thù); dữ liệu mở (tài liệu địa chỉ)",
        );
        assert_eq!(d.modes, vec![Open, Default, Specific]);
        assert_eq!(d.scopes, vec![ModeScope { mode: Open, scope: "tài liệu địa chỉ".into() }]);
    }

    #[test]
    fn terms_of_use_that_allow_download_mean_open() {
        let d = derive_sharing("<p>Người sử dụng có thể tải về, lưu trữ hoặc in các thông tin ... phải ghi rõ nguồn</p>");
        assert_eq!(d.modes, vec![Open]);
        assert_eq!(d.basis, DerivationBasis::TermsOfUse);
        assert!(d.terms_of_use.unwrap().starts_with("Người sử dụng"));
    }

    #[test]
    fn unknown_text_gives_no_mode() {
        let d = derive_sharing("Theo thỏa thuận");
        assert!(d.modes.is_empty());
        assert_eq!(d.basis, DerivationBasis::Unrecognised);
    }

    #[test]
    fn codes_round_trip() {
        for m in SharingMode::ALL {
            assert_eq!(m.code().parse::<SharingMode>().unwrap(), m);
        }
        assert!("public".parse::<SharingMode>().is_err());
    }
}
