//! Themes: the theme groups of the national open data portal, which a
//! steward sets on a hosted dataset and DCAT publishes as `dcat:theme`.
//!
//! Issue 12 speaks of "the national portal's 12 theme groups" but names
//! eleven (agriculture; economy and trade; education; health; labour;
//! environment; finance; energy and infrastructure; society; technology;
//! local): these eleven are the list, until the twelfth is known.
//!
//! Each theme matches a theme of the EU data-theme vocabulary
//! (`http://publications.europa.eu/resource/authority/data-theme/`),
//! exactly where the two mean the same, closely where the EU theme is wider
//! (AGRI is "agriculture, fisheries, forestry and food"). When a steward
//! has set none, [`propose`] derives one from the owner agency's name.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::fold::{index_text, match_key};

/// A theme group of the national open data portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    Agriculture,
    Economy,
    Education,
    Health,
    Labour,
    Environment,
    Finance,
    Energy,
    Society,
    Technology,
    Local,
}

/// How a national theme relates to its EU data theme (SKOS mapping).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// `skos:exactMatch`: the same meaning.
    Exact,
    /// `skos:closeMatch`: the EU theme is wider or overlaps.
    Close,
}

impl Theme {
    pub const ALL: [Theme; 11] = [
        Theme::Agriculture,
        Theme::Economy,
        Theme::Education,
        Theme::Health,
        Theme::Labour,
        Theme::Environment,
        Theme::Finance,
        Theme::Energy,
        Theme::Society,
        Theme::Technology,
        Theme::Local,
    ];

    /// The code stored and sent in the API (`agriculture`, `economy`…).
    pub fn code(self) -> &'static str {
        match self {
            Theme::Agriculture => "agriculture",
            Theme::Economy => "economy",
            Theme::Education => "education",
            Theme::Health => "health",
            Theme::Labour => "labour",
            Theme::Environment => "environment",
            Theme::Finance => "finance",
            Theme::Energy => "energy",
            Theme::Society => "society",
            Theme::Technology => "technology",
            Theme::Local => "local",
        }
    }

    /// The Vietnamese label.
    pub fn label_vi(self) -> &'static str {
        match self {
            Theme::Agriculture => "Nông nghiệp",
            Theme::Economy => "Kinh tế và thương mại",
            Theme::Education => "Giáo dục",
            Theme::Health => "Y tế",
            Theme::Labour => "Lao động",
            Theme::Environment => "Môi trường",
            Theme::Finance => "Tài chính",
            Theme::Energy => "Năng lượng và hạ tầng",
            Theme::Society => "Xã hội",
            Theme::Technology => "Công nghệ",
            Theme::Local => "Địa phương",
        }
    }

    /// The English label.
    pub fn label_en(self) -> &'static str {
        match self {
            Theme::Agriculture => "Agriculture",
            Theme::Economy => "Economy and trade",
            Theme::Education => "Education",
            Theme::Health => "Health",
            Theme::Labour => "Labour",
            Theme::Environment => "Environment",
            Theme::Finance => "Finance",
            Theme::Energy => "Energy and infrastructure",
            Theme::Society => "Society",
            Theme::Technology => "Technology",
            Theme::Local => "Local",
        }
    }

    pub fn label(self, lang: &str) -> &'static str {
        if lang == "en" { self.label_en() } else { self.label_vi() }
    }

    /// The code of the EU data theme it maps to, and how closely.
    pub fn eu(self) -> (&'static str, Match) {
        match self {
            Theme::Agriculture => ("AGRI", Match::Close),
            Theme::Economy => ("ECON", Match::Close),
            Theme::Education => ("EDUC", Match::Close),
            Theme::Health => ("HEAL", Match::Exact),
            // The EU vocabulary has no labour theme; employment is among its
            // "population and society" statistics.
            Theme::Labour => ("SOCI", Match::Close),
            Theme::Environment => ("ENVI", Match::Exact),
            Theme::Finance => ("ECON", Match::Close),
            Theme::Energy => ("ENER", Match::Close),
            Theme::Society => ("SOCI", Match::Close),
            Theme::Technology => ("TECH", Match::Close),
            Theme::Local => ("REGI", Match::Close),
        }
    }

    /// The EU data theme's URI.
    pub fn eu_uri(self) -> String {
        format!("{EU_DATA_THEME}{}", self.eu().0)
    }
}

/// Where the EU data-theme vocabulary's concepts live.
pub const EU_DATA_THEME: &str = "http://publications.europa.eu/resource/authority/data-theme/";

impl fmt::Display for Theme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Theme {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Theme::ALL.into_iter().find(|t| t.code() == s).ok_or_else(|| s.to_string())
    }
}

/// Words in an agency's name (folded, abbreviations expanded) that say its
/// field, checked in this order: "Sở Lao động - Thương binh và Xã hội" is
/// labour before it is society, "Sở Nông nghiệp và Môi trường" agriculture
/// before environment, "Sở Tài nguyên và Môi trường" is not finance.
const AGENCY_WORDS: &[(&str, Theme)] = &[
    ("y te", Theme::Health),
    ("giao duc", Theme::Education),
    ("nong nghiep", Theme::Agriculture),
    ("lao dong", Theme::Labour),
    ("tai nguyen", Theme::Environment),
    ("moi truong", Theme::Environment),
    ("tai chinh", Theme::Finance),
    ("thue", Theme::Finance),
    ("kho bac", Theme::Finance),
    ("ngan hang", Theme::Finance),
    ("cong thuong", Theme::Economy),
    ("ke hoach va dau tu", Theme::Economy),
    ("khu cong nghiep", Theme::Economy),
    ("thuong mai", Theme::Economy),
    ("xay dung", Theme::Energy),
    ("giao thong", Theme::Energy),
    ("dien luc", Theme::Energy),
    ("nang luong", Theme::Energy),
    ("khoa hoc", Theme::Technology),
    ("cong nghe", Theme::Technology),
    ("thong tin va truyen thong", Theme::Technology),
    ("noi vu", Theme::Society),
    ("tu phap", Theme::Society),
    ("van hoa", Theme::Society),
    ("du lich", Theme::Society),
    ("dan toc", Theme::Society),
    ("xa hoi", Theme::Society),
    ("cong an", Theme::Society),
    ("uy ban nhan dan", Theme::Local),
    ("van phong", Theme::Local),
    ("huyen", Theme::Local),
    ("xa", Theme::Local),
];

/// The theme an agency's datasets most likely have, from its name: Sở Y tế
/// → health, Sở Giáo dục và Đào tạo → education… `None` when the name says
/// nothing of a field. A proposal, shown until a steward sets a theme.
pub fn propose(agency_name: &str) -> Option<Theme> {
    let key = format!(" {} ", match_key(&index_text(agency_name)));
    AGENCY_WORDS.iter().find(|(words, _)| key.contains(&format!(" {words} "))).map(|(_, t)| *t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_back_and_labels_are_nfc() {
        for t in Theme::ALL {
            assert_eq!(t.code().parse::<Theme>(), Ok(t));
            assert_eq!(crate::fold::nfc(t.label_vi()), t.label_vi());
            assert!(t.eu_uri().starts_with(EU_DATA_THEME));
        }
        assert_eq!(Theme::ALL.len(), 11);
        assert!("transport".parse::<Theme>().is_err());
    }

    #[test]
    fn agencies_propose_their_field() {
        let cases = [
            ("Sở Y tế", Some(Theme::Health)),
            ("SỞ GIÁO DỤC VÀ ĐÀO TẠO", Some(Theme::Education)),
            ("Sở Nông nghiệp và Phát triển nông thôn", Some(Theme::Agriculture)),
            ("Sở Nông nghiệp và Môi trường", Some(Theme::Agriculture)),
            ("Sở Tài nguyên và Môi trường", Some(Theme::Environment)),
            ("Sở Lao động - Thương binh và Xã hội", Some(Theme::Labour)),
            ("Sở Tài chính", Some(Theme::Finance)),
            ("Sở Công thương", Some(Theme::Economy)),
            ("Ban Quản lý các Khu công nghiệp", Some(Theme::Economy)),
            ("Sở Khoa học và Công nghệ", Some(Theme::Technology)),
            ("Sở Thông tin và Truyền thông", Some(Theme::Technology)),
            ("Sở Văn hóa, Thể thao và Du lịch", Some(Theme::Society)),
            ("Sở Nội vụ", Some(Theme::Society)),
            ("Văn phòng UBND tỉnh", Some(Theme::Local)),
            ("Ủy ban nhân dân huyện Sơn Dương", Some(Theme::Local)),
            ("Sở Xây dựng", Some(Theme::Energy)),
            ("Công ty ABC", None),
        ];
        for (name, want) in cases {
            assert_eq!(propose(name), want, "{name}");
        }
    }
}
