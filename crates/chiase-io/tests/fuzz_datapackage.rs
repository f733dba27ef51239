//! Property tests of the Data Package reader (issue 12, item 4): arbitrary
//! bytes and hostile but well-formed descriptors give a package or a
//! `PackageError` with a message in both languages, never a panic; what it
//! accepts is safe to act on (dataset ids chiase takes, paths inside the
//! package, schemas that compile); garbled and truncated zips are refused.
//! Bounded like `fuzz_parsers.rs` (1,024 cases unless `PROPTEST_CASES`).

use std::io::{Cursor, Write};

use chiase_core::schema::Schema;
use chiase_io::datapackage::{Data, PackageError, PackageLimits, ZipPackage, parse_descriptor};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{Value, json};

fn config() -> Config {
    let mut c = Config { failure_persistence: None, ..Config::default() };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = 1024;
    }
    c
}

fn has_message(e: &PackageError) {
    assert!(!e.msg.vi.is_empty() && !e.msg.en.is_empty(), "{e:?}");
}

/// Names as packages write them, and worse.
fn hostile_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9_.-]{1,12}",
        "[A-Za-zđĐàáảãạ _0-9-]{0,20}",
        any::<String>(),
        Just("..".to_string()),
        Just("123".to_string()),
        Just("new".to_string()),
        Just("select".to_string()),
    ]
}

fn hostile_path() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,5}(/[a-z]{1,5}){0,2}\\.(csv|json)",
        Just("../x.csv".to_string()),
        Just("/etc/passwd".to_string()),
        Just("a/../../b.csv".to_string()),
        Just("C:\\x.csv".to_string()),
        Just("http://127.0.0.1:1/a.csv".to_string()),
        Just("file:///etc/passwd".to_string()),
        any::<String>(),
    ]
}

fn small_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "[a-zđ \\-%/]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec(("[a-zA-Z]{1,6}", inner), 0..4).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn field() -> impl Strategy<Value = Value> {
    let ty = prop_oneof![
        Just("string"),
        Just("integer"),
        Just("number"),
        Just("boolean"),
        Just("date"),
        Just("datetime"),
        Just("year"),
        Just("geopoint"),
        Just("geojson"),
        Just("any"),
        Just("time"),
        Just("object"),
        Just("bogus"),
    ];
    let constraint = prop_oneof![
        Just(json!({})),
        Just(json!({"required": true})),
        Just(json!({"minimum": 0, "maximum": 10})),
        Just(json!({"enum": ["a", "b"]})),
        Just(json!({"pattern": "[0-9]+"})),
        Just(json!({"pattern": "("})),
        Just(json!({"exclusiveMinimum": 1})),
        small_json(),
    ];
    let format = prop_oneof![Just(None), Just(Some("default")), Just(Some("%d/%m/%Y")), Just(Some("email")), Just(Some("array"))];
    (hostile_name(), ty, constraint, format, proptest::option::of(small_json())).prop_map(|(name, ty, c, format, extra)| {
        let mut f = json!({"name": name, "type": ty, "constraints": c});
        if let Some(fmt) = format {
            f["format"] = json!(fmt);
        }
        if let Some(x) = extra {
            f["rdfType"] = x;
        }
        f
    })
}

fn resource() -> impl Strategy<Value = Value> {
    (
        hostile_name(),
        proptest::option::of(hostile_path()),
        proptest::option::of(small_json()),
        proptest::collection::vec(field(), 0..5),
        any::<bool>(),
    )
        .prop_map(|(name, path, data, fields, key)| {
            let mut r = json!({"name": name, "schema": {"fields": fields}});
            if let Some(p) = path {
                r["path"] = json!(p);
            }
            if let Some(d) = data {
                r["data"] = d;
            }
            if key {
                r["schema"]["primaryKey"] = r["schema"]["fields"][0]["name"].clone();
            }
            r
        })
}

/// A zip (deflated) of these files.
fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut buf = Cursor::new(Vec::new());
    let mut z = zip::ZipWriter::new(&mut buf);
    let o = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in files {
        z.start_file(*name, o).unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap();
    buf.into_inner()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_are_a_package_or_an_error(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Err(e) = parse_descriptor(&bytes, &PackageLimits::default()) {
            has_message(&e);
        }
    }

    #[test]
    fn hostile_descriptors_give_safe_packages_or_errors(resources in proptest::collection::vec(resource(), 0..4)) {
        let bytes = json!({"name": "p", "resources": resources}).to_string().into_bytes();
        match parse_descriptor(&bytes, &PackageLimits::default()) {
            Err(e) => has_message(&e),
            Ok(p) => {
                for r in &p.resources {
                    // An id chiase accepts, a path inside the package, a schema that compiles.
                    prop_assert!(!r.id.is_empty() && r.id.len() <= 64, "{}", r.id);
                    prop_assert!(r.id.split('-').all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())), "{}", r.id);
                    if let Data::Path(path) = &r.data {
                        prop_assert!(!path.starts_with('/') && !path.split('/').any(|s| s == ".." || s.is_empty()), "{path}");
                        prop_assert!(!path.contains('\\') && !path.contains(':'), "{path}");
                    }
                    prop_assert!(Schema::new(r.schema.clone()).is_ok(), "{:?}", r.schema);
                }
            }
        }
    }

    #[test]
    fn garbled_zips_are_refused_not_panicked_on(cut in 0usize..600, flips in proptest::collection::vec((0usize..600, any::<u8>()), 0..6)) {
        let descriptor = br#"{"resources":[{"name":"a","path":"data/a.csv","schema":{"fields":[{"name":"x","type":"integer"}]}}]}"#;
        let mut zip = zip_of(&[("datapackage.json", descriptor), ("data/a.csv", b"x\n1\n2\n")]);
        for (at, b) in flips {
            if let Some(byte) = zip.get_mut(at) {
                *byte ^= b;
            }
        }
        zip.truncate(cut.max(4));
        match ZipPackage::open(Cursor::new(zip), &PackageLimits::default()) {
            Err(e) => has_message(&e),
            Ok((mut p, d)) => {
                if let Err(e) = parse_descriptor(&d, &PackageLimits::default()) {
                    has_message(&e);
                }
                if let Err(e) = p.read("data/a.csv") {
                    has_message(&e);
                }
            }
        }
    }
}

#[test]
fn a_package_in_one_folder_of_the_zip_is_found() {
    let descriptor = br#"{"resources":[{"name":"a","path":"a.csv","schema":{"fields":[{"name":"x"}]}}]}"#;
    let zip = zip_of(&[("goi/datapackage.json", descriptor), ("goi/a.csv", b"x\n1\n")]);
    let (mut p, d) = ZipPackage::open(Cursor::new(zip), &PackageLimits::default()).unwrap();
    assert_eq!(parse_descriptor(&d, &PackageLimits::default()).unwrap().resources[0].id, "a");
    assert_eq!(p.read("a.csv").unwrap(), b"x\n1\n");
    // Two folders with a descriptor each: which package is meant is unclear.
    let two = zip_of(&[("a/datapackage.json", descriptor), ("b/datapackage.json", descriptor)]);
    let e = ZipPackage::open(Cursor::new(two), &PackageLimits::default()).err().unwrap();
    assert!(e.msg.en.contains("no datapackage.json"), "{}", e.msg.en);
}
