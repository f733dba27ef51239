//! Property tests of the API's query-string parsing (`chiase_server::params`,
//! issue 9, item 7): any query string gives parameters or a 400 naming the
//! parameter at fault, never a panic nor a silent default; repeated keys
//! and comma lists give back every value; integers, dates and booleans are
//! read exactly and range-checked; import options and catalog searches
//! built from hostile values are refused with a message.
//!
//! Bounded: 1,024 cases per property unless `PROPTEST_CASES` says otherwise.

use axum::http::StatusCode;
use chiase_server::params::{MAX_LIMIT, Params, catalog_query, parse_date, read_options};
use proptest::prelude::*;
use proptest::test_runner::Config;

/// Cases per property (a quarter of it where each case writes a workbook):
/// under 3 s for this file in a debug build, on 2 cores.
const CASES: u32 = 1024;

fn config(cases: u32) -> Config {
    let mut c = Config { failure_persistence: None, ..Config::default() };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = cases;
    }
    c
}

const ALLOWED: [&str; 10] = ["q", "agency", "sharing", "cadence", "limit", "offset", "lang", "encoding", "delimiter", "format"];

fn encode(pairs: &[(String, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// Query strings as clients and attackers write them: `&`, `=`, `%`
/// escapes (broken ones too), `+`, unicode, known and unknown keys.
fn raw_query() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("&".to_string()),
        Just("=".to_string()),
        Just("%".to_string()),
        Just("%2".to_string()),
        Just("%zz".to_string()),
        Just("%C3%A9".to_string()),
        Just("%FF%FE".to_string()),
        Just("%00".to_string()),
        Just("+".to_string()),
        Just(",".to_string()),
        Just(";".to_string()),
        proptest::sample::select(ALLOWED.to_vec()).prop_map(String::from),
        "[a-z0-9_\\[\\]-]{1,8}",
        any::<String>(),
    ];
    proptest::collection::vec(piece, 0..16).prop_map(|p| p.concat())
}

fn assert_bad_request(e: &chiase_server::error::ApiError) {
    assert_eq!(e.status, StatusCode::BAD_REQUEST, "{e:?}");
    assert!(!e.msg.en.is_empty() && !e.msg.vi.is_empty(), "{e:?}");
}

proptest! {
    #![proptest_config(config(CASES))]

    /// Any query string: parameters, or a 400 that names the unknown key.
    #[test]
    fn any_query_string_parses_or_names_the_unknown_key(q in raw_query()) {
        match Params::parse(Some(&q), &ALLOWED) {
            Ok(p) => {
                // Reading every known key as the handlers do never panics.
                for k in ALLOWED {
                    let _ = p.one(k);
                    let _ = p.all(k);
                    let _ = p.int(k, 0, -5, 5);
                    let _ = p.date(k);
                    let _ = p.bool(k);
                }
                let _ = p.lang();
                if let Err(e) = read_options(&p) {
                    assert_bad_request(&e);
                }
                match catalog_query(&p, 20) {
                    Ok(c) => prop_assert!((1..=MAX_LIMIT).contains(&c.limit) && (0..=1_000_000).contains(&c.offset)),
                    Err(e) => assert_bad_request(&e),
                }
            }
            Err(e) => {
                assert_bad_request(&e);
                let unknown = form_urlencoded::parse(q.as_bytes()).map(|(k, _)| k.into_owned()).find(|k| !ALLOWED.contains(&k.as_str()));
                let unknown = unknown.expect("refused with every key allowed");
                prop_assert!(e.msg.en.contains(&format!("«{unknown}»")), "{} does not name {unknown:?}", e.msg.en);
            }
        }
    }

    /// Values given as repeated keys, comma lists or both come back every
    /// one, in order, trimmed, empty ones dropped.
    #[test]
    fn repeated_keys_and_comma_lists_give_every_value(
        groups in proptest::collection::vec(proptest::collection::vec("[^,]{0,8}", 1..4), 1..5),
    ) {
        let pairs: Vec<(String, String)> = groups.iter().map(|g| ("agency".to_string(), g.join(","))).collect();
        let p = Params::parse(Some(&encode(&pairs)), &ALLOWED).map_err(|e| TestCaseError::fail(e.msg.en))?;
        let want: Vec<&str> = groups.iter().flatten().map(|v| v.trim()).filter(|v| !v.is_empty()).collect();
        prop_assert_eq!(p.all("agency"), want);
        // One key given twice is refused where one value is expected.
        prop_assert_eq!(p.one("agency").is_err(), groups.len() > 1);
    }

    /// An integer is accepted exactly when it is within bounds, and read
    /// as written; anything else is a 400.
    #[test]
    fn integers_are_read_exactly_and_range_checked(
        n in prop_oneof![any::<i64>(), -10i64..1000],
        bounds in (-100i64..100, 0i64..2000),
        garbage in prop_oneof![Just(String::new()), "[0-9]{0,3}[^0-9]{1,3}", Just("99999999999999999999".to_string())],
    ) {
        let (min, max) = (bounds.0, bounds.0 + bounds.1);
        let p = Params::parse(Some(&encode(&[("limit".into(), n.to_string()), ("offset".into(), garbage.clone())])), &ALLOWED).expect("allowed");
        match p.int("limit", 7, min, max) {
            Ok(v) => prop_assert!(v == n && (min..=max).contains(&n)),
            Err(e) => {
                assert_bad_request(&e);
                prop_assert!(!(min..=max).contains(&n));
            }
        }
        match p.int("offset", 7, min, max) {
            // An empty value counts as absent; spaces around a number are trimmed.
            Ok(v) => {
                let want = if garbage.trim().is_empty() { Ok(7) } else { garbage.trim().parse::<i64>() };
                prop_assert_eq!(want, Ok(v));
            }
            Err(e) => assert_bad_request(&e),
        }
    }

    /// A date written either way reads back as itself.
    #[test]
    fn dates_written_either_way_read_back(y in 1i32..=9999, m in 1u32..=12, d in 1u32..=31) {
        let Some(date) = chrono::NaiveDate::from_ymd_opt(y, m, d) else { return Ok(()) };
        prop_assert_eq!(parse_date(&date.format("%Y-%m-%d").to_string()), Some(date));
        prop_assert_eq!(parse_date(&format!("{d}/{m}/{y}")), Some(date));
        let p = Params::parse(Some(&format!("q={}", date.format("%d/%m/%Y"))), &ALLOWED).expect("allowed");
        prop_assert_eq!(p.date("q").expect("a date"), Some(date));
    }

    #[test]
    fn import_options_are_known_values_or_a_400(
        encoding in prop_oneof![Just("utf-8".to_string()), Just("windows-1258".to_string()), Just("UTF-16LE".to_string()), any::<String>()],
        delimiter in prop_oneof![Just("tab".to_string()), Just(";".to_string()), any::<char>().prop_map(String::from), any::<String>()],
        format in prop_oneof![Just("csv".to_string()), Just("xlsx".to_string()), any::<String>()],
    ) {
        let q = encode(&[("encoding".into(), encoding), ("delimiter".into(), delimiter.clone()), ("format".into(), format)]);
        let p = Params::parse(Some(&q), &ALLOWED).expect("allowed");
        match read_options(&p) {
            Ok(o) => {
                let d = delimiter.trim();
                if let Some(b) = o.delimiter {
                    prop_assert!(d == "tab" && b == b'\t' || d.len() == 1 && d.as_bytes()[0] == b);
                } else {
                    prop_assert!(d.is_empty());
                }
            }
            Err(e) => assert_bad_request(&e),
        }
    }
}
