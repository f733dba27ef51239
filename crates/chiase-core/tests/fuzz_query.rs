//! Property tests of what clients type into record queries (issue 9, item
//! 7): filter, sort, projection, facet, bbox, cursor and `q` parameters
//! (`chiase_core::query`), and the cell parsers behind filters
//! (`Field::parse_text`, `Field::parse_json`). Arbitrary and hostile
//! parameters (brackets, operators, unicode, huge lists) must give a query
//! or a `QueryError` naming a parameter with a message, never a panic; a
//! value rendered the way chiase writes it must parse back equal.
//!
//! Bounded: 1,024 cases per property unless `PROPTEST_CASES` says otherwise.

use chiase_core::fold::nfc;
use chiase_core::query::{self, Cursor, parse_instant, parse_terms};
use chiase_core::schema::{Schema, Value};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::json;

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

/// One field of every type, a point, a date in the Vietnamese format, a
/// number with a decimal comma, and a field the subject may not see.
fn schema() -> Schema {
    Schema::from_json(&json!({"fields": [
        {"name": "ma", "type": "string"},
        {"name": "so", "type": "integer"},
        {"name": "gia", "type": "number"},
        {"name": "gia_vn", "type": "number", "decimalChar": ",", "groupChar": "."},
        {"name": "co", "type": "boolean"},
        {"name": "ngay", "type": "date"},
        {"name": "ngay_vn", "type": "date", "format": "%d/%m/%Y"},
        {"name": "luc", "type": "datetime"},
        {"name": "nam", "type": "year"},
        {"name": "diem", "type": "geopoint"},
        {"name": "hinh", "type": "geojson"},
        {"name": "lat", "type": "number", "geo": "lat"},
        {"name": "lon", "type": "number", "geo": "lon"},
        {"name": "bi_mat", "type": "string", "personal": "basic"}
    ]}))
    .expect("the test schema is valid")
}

const NAMES: [&str; 14] = ["ma", "so", "gia", "gia_vn", "co", "ngay", "ngay_vn", "luc", "nam", "diem", "hinh", "lat", "lon", "bi_mat"];
const OPS: [&str; 12] = ["eq", "ne", "lt", "lte", "gt", "gte", "in", "contains", "prefix", "null", "", "NE"];

fn visible() -> Vec<usize> {
    (0..13).collect()
}

/// Values that trouble parsers: numbers in many spellings, dates, points,
/// JSON, brackets, commas, unicode, empty.
fn hostile_value() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just(",".to_string()),
        Just("-".to_string()),
        Just(".".to_string()),
        Just("e".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("*".to_string()),
        Just(" ".to_string()),
        Just("NaN".to_string()),
        Just("inf".to_string()),
        Just("1e400".to_string()),
        Just("9223372036854775808".to_string()),
        Just("2024-02-30".to_string()),
        Just("+262143-12-31".to_string()),
        Just("T23:59:60Z".to_string()),
        Just("{\"type\":\"Point\",\"coordinates\":[1,2]}".to_string()),
        "[0-9]{1,4}",
        "[a-zđĐàằẫ]{1,5}",
        any::<char>().prop_map(String::from),
    ];
    proptest::collection::vec(piece, 0..8).prop_map(|p| p.concat())
}

/// Keys: field names with or without an operator (well-formed or not),
/// reserved parameters, and anything else.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        (proptest::sample::select(NAMES.to_vec()), proptest::sample::select(OPS.to_vec())).prop_map(|(n, o)| format!("{n}[{o}]")),
        proptest::sample::select(NAMES.to_vec()).prop_map(String::from),
        proptest::sample::select(query::RESERVED.to_vec()).prop_map(String::from),
        "[a-z_\\[\\]]{0,12}",
        any::<String>(),
    ]
}

fn value_for(key: &str) -> BoxedStrategy<String> {
    let names = proptest::sample::select(NAMES.to_vec());
    match key {
        "sort" | "fields" | "facet" => proptest::collection::vec((prop_oneof![Just(""), Just("-"), Just("+"), Just(" ")], names), 0..5)
            .prop_map(|v| v.into_iter().map(|(s, n)| format!("{s}{n}")).collect::<Vec<_>>().join(","))
            .boxed(),
        "bbox" => proptest::collection::vec(prop_oneof![(-200.0f64..200.0).prop_map(|x| x.to_string()), hostile_value()], 0..6)
            .prop_map(|v| v.join(","))
            .boxed(),
        "after" => prop_oneof![
            any::<String>(),
            (any::<String>(), proptest::collection::vec(any::<i64>(), 0..3), any::<i64>()).prop_map(|(k, s, v)| Cursor {
                keys: k,
                sort_values: s.into_iter().map(serde_json::Value::from).collect(),
                last_v: v
            }
            .encode()),
        ]
        .boxed(),
        _ => prop_oneof![hostile_value(), proptest::collection::vec(hostile_value(), 0..30).prop_map(|v| v.join(",")), any::<String>()]
            .boxed(),
    }
}

fn pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::vec(key().prop_flat_map(|k| (Just(k.clone()), value_for(&k))), 0..8)
}

proptest! {
    #![proptest_config(config(CASES))]

    /// Any parameters: a query within bounds, or an error naming a
    /// parameter with a message in both languages.
    #[test]
    fn any_parameters_give_a_query_or_a_named_error(params in pairs()) {
        let schema = schema();
        let visible = visible();
        match query::parse(&params, &schema, &visible) {
            Ok(q) => {
                prop_assert!((1..=query::MAX_LIMIT).contains(&q.limit));
                let seen = |i: &usize| visible.contains(i);
                prop_assert!(q.conditions.iter().all(|c| seen(&c.field) && !c.values.is_empty()));
                prop_assert!(q.sort.iter().all(|k| seen(&k.field)));
                prop_assert!(q.fields.iter().all(seen) && q.facets.iter().all(seen));
                prop_assert!(q.terms.iter().all(|t| !t.word.is_empty() && !t.word.contains(char::is_whitespace)));
                if let Some(b) = q.bbox {
                    prop_assert!(b.min_lon <= b.max_lon && b.min_lat <= b.max_lat);
                }
                let _ = q.sort_signature(&schema);
            }
            Err(e) => {
                let named = params.iter().any(|(k, _)| *k == e.param) || ["after", "bbox"].contains(&e.param.as_str());
                prop_assert!(named, "an error naming a parameter that was not given: {e:?}");
                prop_assert!(!e.message.en.is_empty() && !e.message.vi.is_empty());
            }
        }
    }

    /// A field the subject may not see cannot be used in any way.
    #[test]
    fn a_hidden_field_is_refused_whatever_the_operator(
        op in proptest::sample::select(OPS.to_vec()),
        use_as in 0..4,
        value in hostile_value(),
    ) {
        let params = match use_as {
            0 => vec![(format!("bi_mat[{op}]"), value)],
            1 => vec![("sort".to_string(), "-bi_mat".to_string())],
            2 => vec![("facet".to_string(), "bi_mat".to_string())],
            _ => vec![("fields".to_string(), "ma,bi_mat".to_string())],
        };
        prop_assert!(query::parse(&params, &schema(), &visible()).is_err());
    }

    /// A sort list of distinct sortable fields parses to those keys, in order.
    #[test]
    fn a_sort_list_parses_to_its_keys_in_order(
        order in Just((0..9usize).collect::<Vec<_>>()).prop_shuffle(),
        n in 1usize..9,
        desc in proptest::collection::vec(any::<bool>(), 9),
    ) {
        let chosen = &order[..n];
        let text = chosen.iter().map(|i| format!("{}{}", if desc[*i] { "-" } else { "" }, NAMES[*i])).collect::<Vec<_>>().join(",");
        let q = query::parse(&[("sort".to_string(), text)], &schema(), &visible()).map_err(|e| TestCaseError::fail(e.message.en))?;
        let got: Vec<(usize, bool)> = q.sort.iter().map(|k| (k.field, k.desc)).collect();
        let want: Vec<(usize, bool)> = chosen.iter().map(|i| (*i, desc[*i])).collect();
        prop_assert_eq!(got, want);
    }

    /// `field[in]=a,b,…` keeps every value, in order (for a string field,
    /// NFC text) and refuses more than 1,000.
    #[test]
    fn an_in_list_keeps_its_values(values in proptest::collection::vec("[^,]{0,6}", 1..1100)) {
        let params = vec![("ma[in]".to_string(), values.join(","))];
        match query::parse(&params, &schema(), &visible()) {
            Ok(q) => {
                prop_assert!(values.len() <= 1000);
                let want: Vec<Value> = values.iter().map(|v| Value::Text(nfc(v))).collect();
                prop_assert_eq!(&q.conditions[0].values, &want);
            }
            Err(e) => {
                prop_assert!(values.len() > 1000, "{}", e.message.en);
            }
        }
    }

    /// The words of `q`: never empty, never with spaces, each once; written
    /// back as a query (prefixes with `*`), they parse to themselves.
    #[test]
    fn full_text_terms_are_clean_and_read_back(q in prop_oneof![any::<String>(), "[a-zA-Zđàằẫ *\"()-]{0,40}"]) {
        let terms = parse_terms(&q);
        for (i, t) in terms.iter().enumerate() {
            prop_assert!(!t.word.is_empty() && !t.word.contains(char::is_whitespace) && !t.word.contains('*'));
            prop_assert!(terms[..i].iter().all(|u| u.word != t.word), "a repeated word in {terms:?}");
        }
        let again = terms.iter().map(|t| format!("{}{}", t.word, if t.prefix { "*" } else { "" })).collect::<Vec<_>>().join(" ");
        prop_assert_eq!(parse_terms(&again), terms);
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused(
        keys in any::<String>(),
        values in proptest::collection::vec(prop_oneof![any::<i64>().prop_map(serde_json::Value::from), any::<String>().prop_map(serde_json::Value::from)], 0..4),
        last_v in any::<i64>(),
        garbage in any::<String>(),
    ) {
        let c = Cursor { keys, sort_values: values, last_v };
        prop_assert_eq!(Cursor::decode(&c.encode()), Some(c));
        let _ = Cursor::decode(&garbage);
    }

    #[test]
    fn instants_parse_or_not_without_panicking(s in prop_oneof![any::<String>(), "[+-]?[0-9]{1,7}-[0-9]{1,2}-[0-9]{1,2}(T[0-9:.]{1,12}(Z|[+-][0-9]{2}:[0-9]{2}))?", "[0-9]{1,2}/[0-9]{1,2}/[+-]?[0-9]{1,7}"]) {
        let _ = parse_instant(&s);
    }
}

// ---------------------------------------------------------------------------
// Values: rendered, then parsed

/// Values each field of [`schema`] may hold, as chiase would have parsed them.
fn value_of(field: usize) -> BoxedStrategy<Value> {
    let date = (-5000i32..15000, 1u32..=12, 1u32..=31)
        .prop_filter_map("a real date", |(y, m, d)| chrono::NaiveDate::from_ymd_opt(y, m, d))
        .boxed();
    let finite = any::<f64>().prop_filter("finite", |x| x.is_finite());
    match NAMES[field] {
        "ma" | "bi_mat" => any::<String>().prop_map(|s| Value::Text(nfc(&s))).boxed(),
        "so" => any::<i64>().prop_map(Value::Int).boxed(),
        "gia" | "gia_vn" => prop_oneof![finite.prop_map(Value::Num), (-1e9f64..1e9).prop_map(Value::Num)].boxed(),
        "co" => any::<bool>().prop_map(Value::Bool).boxed(),
        "ngay" | "ngay_vn" => date.prop_map(Value::Date).boxed(),
        "luc" => (-62_000_000_000i64..250_000_000_000, 0u32..1_000_000_000)
            .prop_filter_map("a time", |(s, n)| chrono::DateTime::from_timestamp(s, n))
            .prop_map(Value::DateTime)
            .boxed(),
        "nam" => (1000i64..=9999).prop_map(Value::Int).boxed(),
        "diem" => (-180.0f64..=180.0, -90.0f64..=90.0).prop_map(|(a, b)| Value::Point(a, b)).boxed(),
        "lat" => (-90.0f64..=90.0).prop_map(Value::Num).boxed(),
        "lon" => (-180.0f64..=180.0).prop_map(Value::Num).boxed(),
        "hinh" => (-180.0f64..=180.0, -90.0f64..=90.0)
            .prop_map(|(a, b)| {
                let g = json!({"type": "Point", "coordinates": [a, b]});
                Value::Geo(g, [a, b, a, b])
            })
            .boxed(),
        other => unreachable!("no strategy for {other}"),
    }
}

fn field_and_value() -> impl Strategy<Value = (usize, Value)> {
    (0..NAMES.len()).prop_flat_map(|i| (Just(i), value_of(i)))
}

proptest! {
    #![proptest_config(config(CASES))]

    /// A value written as an export writes it (the field's own format)
    /// parses back equal: what chiase exports, it imports unchanged.
    #[test]
    fn a_value_exported_as_text_parses_back_equal((i, v) in field_and_value()) {
        let schema = schema();
        let f = &schema.fields[i];
        let text = f.export_text(&v);
        let back = f.parse_text(&text).map_err(|e| TestCaseError::fail(format!("{} {text:?}: {}", NAMES[i], e.message.en)))?;
        prop_assert_eq!(back, v, "field {} via {:?}", NAMES[i], text);
    }

    /// A value as the API returns it (JSON) parses back equal, as a JSON
    /// import or a record write reads it.
    #[test]
    fn a_value_as_json_parses_back_equal((i, v) in field_and_value()) {
        let schema = schema();
        let f = &schema.fields[i];
        let j = v.to_json();
        let back = f.parse_json(&j).map_err(|e| TestCaseError::fail(format!("{} {j}: {}", NAMES[i], e.message.en)))?;
        prop_assert_eq!(back, v, "field {} via {}", NAMES[i], j);
    }

    /// The direct JSON writer of record pages writes what `to_json` says.
    #[test]
    fn the_direct_json_writer_agrees_with_to_json((_, v) in field_and_value()) {
        let mut out = Vec::new();
        v.write_json(&mut out);
        let parsed: serde_json::Value = serde_json::from_slice(&out).map_err(|e| TestCaseError::fail(format!("{e}: {}", String::from_utf8_lossy(&out))))?;
        prop_assert_eq!(parsed, v.to_json());
    }

    /// A filter on a field with a value it could hold parses to that value.
    #[test]
    fn a_filter_on_a_rendered_value_parses_to_it((i, v) in field_and_value().prop_filter("filterable", |(i, _)| !matches!(NAMES[*i], "diem" | "hinh" | "bi_mat"))) {
        let schema = schema();
        let text = schema.fields[i].export_text(&v);
        let q = query::parse(&[(NAMES[i].to_string(), text.clone())], &schema, &visible()).map_err(|e| TestCaseError::fail(format!("{text:?}: {}", e.message.en)))?;
        prop_assert_eq!(&q.conditions[0].values, &vec![v]);
    }

    /// Any text in any field: a value or a typed error, never a panic.
    #[test]
    fn any_text_in_any_field_is_a_value_or_a_typed_error(i in 0..NAMES.len(), s in prop_oneof![hostile_value(), any::<String>()]) {
        let schema = schema();
        let f = &schema.fields[i];
        if let Err(e) = f.parse_text(&s) {
            prop_assert!(!e.message.en.is_empty());
        }
        if let Err(e) = f.parse_json(&serde_json::Value::String(s)) {
            prop_assert!(!e.message.en.is_empty());
        }
    }
}
