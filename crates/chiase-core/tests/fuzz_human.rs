//! Property tests of the readers of values as people type them
//! (`chiase_core::human`): a number written any of the usual ways reads
//! back as itself; a date written any day-first way reads back as itself;
//! nothing else panics or reads as a number by accident.

use chiase_core::human::{self, InputLocale};
use chrono::{Datelike, NaiveDate};
use proptest::prelude::*;

/// `digits` grouped by threes with `sep`.
fn grouped(digits: &str, sep: &str) -> String {
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push_str(sep);
        }
        out.push(c);
    }
    out
}

proptest! {
    #[test]
    fn a_number_written_the_vietnamese_or_english_way_reads_back(int in 0u64..10_000_000_000, frac in 0u32..100, negative in any::<bool>()) {
        let digits = int.to_string();
        let sign = if negative { "-" } else { "" };
        let expected: f64 = format!("{sign}{int}.{frac:02}").parse().unwrap();
        let forms = [
            (format!("{sign}{},{frac:02}", grouped(&digits, ".")), InputLocale::Vi),
            (format!("{sign}{digits},{frac:02}"), InputLocale::Vi),
            (format!("{sign}{},{frac:02}", grouped(&digits, "\u{a0}")), InputLocale::Vi),
            (format!("{sign}{}.{frac:02}", grouped(&digits, ",")), InputLocale::En),
            (format!("{sign}{digits}.{frac:02}"), InputLocale::En),
        ];
        for (text, locale) in forms {
            let read = human::number(&text, locale, false).and_then(|t| t.parse::<f64>().ok());
            prop_assert_eq!(read, Some(expected), "{}", text);
        }
        // Whole numbers grouped by dots are thousands in vi.
        let whole = grouped(&digits, ".");
        prop_assert_eq!(human::number(&whole, InputLocale::Vi, false), Some(digits.clone()));
    }

    #[test]
    fn a_date_written_day_first_reads_back(days in 0i64..80_000, sep in prop_oneof![Just('/'), Just('-'), Just('.')], pad in any::<bool>()) {
        let d = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap() + chrono::Duration::days(days);
        let text = if pad {
            format!("{:02}{sep}{:02}{sep}{}", d.day(), d.month(), d.year())
        } else {
            format!("{}{sep}{}{sep}{}", d.day(), d.month(), d.year())
        };
        prop_assert_eq!(human::date(&text), Some(d), "{}", text);
        prop_assert_eq!(human::date(&d.format("%Y-%m-%d").to_string()), Some(d));
    }

    #[test]
    fn any_text_is_read_or_refused_without_a_panic(text in "\\PC{0,30}") {
        let _ = human::number(&text, InputLocale::Vi, false);
        let _ = human::number(&text, InputLocale::En, true);
        let _ = human::date(&text);
        let _ = human::datetime(&text);
        let _ = human::boolean(&text);
        let _ = human::pattern_example(&text);
        // Whatever reads as a number is one Rust can parse.
        if let Some(n) = human::number(&text, InputLocale::Vi, false) {
            prop_assert!(n.parse::<f64>().is_ok(), "{} -> {}", text, n);
        }
    }
}
