//! Vietnamese text normalisation and diacritic folding.
//!
//! Search must find "đất đai" from "dat dai" and "ĐẤT ĐAI" (DESIGN decision 3),
//! on SQLite and PostgreSQL alike, so folding happens here, in Rust, both when
//! text is indexed and when a query is parsed. Databases only ever see folded
//! text in their full-text indexes.

use unicode_normalization::{UnicodeNormalization, char::is_combining_mark};

/// Returns `s` in Unicode NFC, the form chiase stores every text in.
pub fn nfc(s: &str) -> String {
    s.nfc().collect()
}

/// Folds Vietnamese text for matching: strips every diacritic (tones and
/// vowel marks), maps `đ`/`Đ` to `d`, and lowercases.
///
/// `đ` is a letter of its own in Unicode, not `d` plus a mark, which is why
/// SQLite's `remove_diacritics` does not fold it; it is handled explicitly.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        match c {
            'đ' | 'Đ' | 'ð' | 'Ð' => out.push('d'),
            c if c.is_ascii() => out.push(c.to_ascii_lowercase()),
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// Folds `s` and keeps only its words (letters and digits), separated by
/// single spaces: the key that matches names "ignoring case, spacing and
/// diacritics" ("Sở Văn hoá, Thể thao" and "SỞ VĂN HÓA THỂ THAO" give the
/// same key).
pub fn match_key(s: &str) -> String {
    words(&fold(s)).collect::<Vec<_>>().join(" ")
}

/// Splits already folded text into words of letters and digits.
pub fn words(folded: &str) -> impl Iterator<Item = &str> {
    folded.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty())
}

/// Makes a URL-safe identifier from a name: folded words joined by `-`,
/// cut at a word boundary to at most `max` bytes.
pub fn slugify(s: &str, max: usize) -> String {
    let folded = fold(s);
    let mut slug = String::new();
    for w in words(&folded) {
        let w: String = w.chars().filter(char::is_ascii_alphanumeric).collect();
        if w.is_empty() {
            continue;
        }
        if !slug.is_empty() && slug.len() + 1 + w.len() > max {
            break;
        }
        if !slug.is_empty() {
            slug.push('-');
        }
        slug.push_str(&w[..w.len().min(max)]);
    }
    slug
}

/// Abbreviations common in Vietnamese administrative text and what they
/// stand for, folded. Index text gets the long form added, so a search for
/// "co so du lieu" finds "CSDL" and "uy ban" finds "UBND".
const ABBREVIATIONS: &[(&str, &str)] = &[
    ("csdl", "co so du lieu"),
    ("ubnd", "uy ban nhan dan"),
    ("bql", "ban quan ly"),
    ("kcn", "khu cong nghiep"),
    ("tthc", "thu tuc hanh chinh"),
    ("cntt", "cong nghe thong tin"),
    ("tn&mt", "tai nguyen va moi truong"),
    ("tnmt", "tai nguyen va moi truong"),
    ("tt&tt", "thong tin va truyen thong"),
    ("tttt", "thong tin va truyen thong"),
    ("gd&dt", "giao duc va dao tao"),
    ("gddt", "giao duc va dao tao"),
    ("kh&cn", "khoa hoc va cong nghe"),
    ("khcn", "khoa hoc va cong nghe"),
    ("nn&ptnt", "nong nghiep va phat trien nong thon"),
    ("nnptnt", "nong nghiep va phat trien nong thon"),
    ("vh-tt-dl", "van hoa the thao va du lich"),
    ("vhttdl", "van hoa the thao va du lich"),
];

/// Folds text for a full-text index: [`fold`], plus the long forms of the
/// abbreviations it contains, so that either form finds it.
pub fn index_text(s: &str) -> String {
    let mut folded = fold(s);
    let mut extra = Vec::new();
    for token in folded.split(|c: char| c.is_whitespace() || ",.;:()/".contains(c)) {
        if let Some((_, long)) = ABBREVIATIONS.iter().find(|(short, _)| *short == token)
            && !extra.contains(long)
        {
            extra.push(*long);
        }
    }
    for long in extra {
        folded.push_str(" | ");
        folded.push_str(long);
    }
    folded
}

/// Turns a user's query into folded search terms: words of letters and
/// digits only, so no query syntax of the engine can leak through.
pub fn query_terms(q: &str) -> Vec<String> {
    let folded = fold(q);
    let mut terms: Vec<String> = Vec::new();
    for w in words(&folded) {
        if !terms.iter().any(|t| t == w) {
            terms.push(w.to_string());
        }
    }
    terms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_strips_tones_vowel_marks_and_d_stroke() {
        assert_eq!(fold("Đường Nguyễn Trãi, Thành phố Hồ Chí Minh"), "duong nguyen trai, thanh pho ho chi minh");
        assert_eq!(fold("ĐẤT ĐAI"), "dat dai");
        assert_eq!(fold("đất đai"), fold("Đất Đai"));
        assert_eq!(fold("Ỷ La"), "y la");
        assert_eq!(fold("Thư viện"), "thu vien");
    }

    #[test]
    fn folding_treats_composed_and_decomposed_input_alike() {
        let composed = "Văn hóa";
        let decomposed: String = composed.nfd().collect();
        assert_ne!(composed, decomposed);
        assert_eq!(fold(composed), fold(&decomposed));
        // Old-style tone placement (hoá) and new-style (hóa) fold the same.
        assert_eq!(fold("Văn hoá"), fold("Văn hóa"));
    }

    #[test]
    fn match_key_ignores_case_spacing_punctuation_and_diacritics() {
        assert_eq!(match_key("Sở Văn hoá, Thể thao và Du lịch"), match_key("SỞ  VĂN HÓA THỂ THAO VÀ DU LỊCH"));
        assert_eq!(match_key("Cơ quan chủ quản CSDL"), "co quan chu quan csdl");
    }

    #[test]
    fn slugs_are_ascii_words_cut_at_a_word_boundary() {
        assert_eq!(slugify("Sở Tài nguyên và Môi trường", 60), "so-tai-nguyen-va-moi-truong");
        assert_eq!(slugify("CSDL Đất đai!", 60), "csdl-dat-dai");
        assert_eq!(slugify("Sở Tài nguyên và Môi trường", 12), "so-tai");
    }

    #[test]
    fn index_text_adds_long_forms_of_abbreviations() {
        let t = index_text("CSDL đất đai của UBND tỉnh");
        assert!(t.starts_with("csdl dat dai cua ubnd tinh"));
        assert!(t.contains("co so du lieu"));
        assert!(t.contains("uy ban nhan dan"));
    }

    #[test]
    fn query_terms_drop_engine_syntax_and_duplicates() {
        assert_eq!(query_terms("trạm \"BTS\" OR* NEAR(x)"), vec!["tram", "bts", "or", "near", "x"]);
        assert_eq!(query_terms("đất đất"), vec!["dat"]);
        assert!(query_terms("  ** ").is_empty());
    }

    #[test]
    fn nfc_composes_decomposed_text() {
        let decomposed: String = "Tuyên Quang".nfd().collect();
        assert_eq!(nfc(&decomposed), "Tuyên Quang");
    }
}
