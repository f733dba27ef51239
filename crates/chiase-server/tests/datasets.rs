//! Hosted datasets end to end: typed imports that land whole or not at all,
//! the record API, keyset paging, facets, bbox, the change feed, reads of
//! the past and exports that import back — on every engine.

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use chiase_io::tabular::ReadOptions;
use chiase_server::error::ApiError;
use chiase_server::usecase::datasets::CreateDataset;
use chiase_server::usecase::imports::{self, ImportOutcome, ImportRequest, Progress};
use chiase_store::databases::DatabaseKey;
use chiase_store::datasets::import::{ImportMode, WriteSummary};
use chiase_store::testing::{operator_data, reveal};
use common::{TestApp, enc, engines};
use serde_json::{Value, json};

/// An open dataset with a field of every type (entry 13 is open data).
fn all_types_schema() -> Value {
    json!({
        "fields": [
            {"name": "ma", "type": "string", "constraints": {"required": true, "pattern": "[A-Z]{2}-[0-9]{3}"}},
            {"name": "ten", "title": "Tên", "type": "string", "searchable": true, "constraints": {"maxLength": 80}},
            {"name": "so_luong", "type": "integer", "constraints": {"minimum": 0}},
            {"name": "ty_le", "type": "number", "decimalChar": ","},
            {"name": "hoat_dong", "type": "boolean"},
            {"name": "ngay", "type": "date", "format": "%d/%m/%Y"},
            {"name": "luc", "type": "datetime"},
            {"name": "nam", "type": "year"},
            {"name": "loai", "type": "string", "constraints": {"enum": ["A", "B", "C"]}},
            {"name": "vi_tri", "type": "geopoint"},
            {"name": "vung", "type": "geojson"}
        ],
        "primaryKey": ["ma"],
        "indexes": [["loai"]]
    })
}

const ALL_TYPES_CSV: &str = "ma,ten,so_luong,ty_le,hoat_dong,ngay,luc,nam,loai,vi_tri,vung\n\
AB-001,Trường Tiểu học Kim Bình,12,\"1,5\",true,06/06/2022,2024-01-02T03:04:05Z,2022,A,\"105.27, 22.15\",\"{\"\"type\"\":\"\"Point\"\",\"\"coordinates\"\":[105.2,22.1]}\"\n\
AB-002,Trường THCS Tân Trào,0,\"0,25\",false,31/12/2021,,1999,B,,\n\
AB-003,Điểm trường Nà Lá,7,,true,,,,C,\"105.38, 21.70\",\n";

async fn create(app: &TestApp, id: &str, entry: i64, mode: &str, schema: Value) {
    app.create_dataset(CreateDataset {
        id: id.into(),
        database: DatabaseKey::No(entry),
        title: format!("Tập dữ liệu {id}"),
        title_en: None,
        description: String::new(),
        licence: None,
        sharing_mode: mode.parse().unwrap(),
        cadence: Some(chiase_core::catalog::Cadence::OnChange),
        schema: serde_json::from_value(schema).unwrap(),
        template: None,
        synthetic: false,
    })
    .await;
}

async fn import(
    app: &TestApp,
    id: &str,
    mode: ImportMode,
    name: &str,
    bytes: Vec<u8>,
    options: ReadOptions,
) -> Result<ImportOutcome, ApiError> {
    let req = ImportRequest {
        mode,
        source_name: Some(name.into()),
        content_type: None,
        options,
        allow_empty: false,
        handling: Default::default(),
    };
    imports::import(&app.state, &app.operator(), id, req, Box::new(std::io::Cursor::new(bytes)), u64::MAX, Arc::new(Progress::default()))
        .await
}

async fn import_ok(app: &TestApp, id: &str, mode: ImportMode, name: &str, bytes: Vec<u8>) -> WriteSummary {
    match import(app, id, mode, name, bytes, ReadOptions::default()).await {
        Ok(ImportOutcome::Done(s)) => s.summary,
        Ok(ImportOutcome::Rejected(r)) => panic!("import into {id} rejected: {:?}", &r.errors[..r.errors.len().min(5)]),
        Err(e) => panic!("import into {id} failed: {}", e.msg),
    }
}

/// A BTS file of one row (`id`) whose status is `state`.
fn bts_row_with_state(id: usize, state: &str) -> String {
    let csv = bts_csv(1, id);
    let (header, line) = csv.trim_end().split_once('\n').unwrap();
    let (rest, _) = line.rsplit_once(',').unwrap();
    format!("{header}\n{rest},{state}\n")
}

#[tokio::test]
async fn every_type_imports_reads_and_exports_back_unchanged() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        create(&app, "moi-loai", 13, "open", all_types_schema()).await;
        let s = import_ok(&app, "moi-loai", ImportMode::Append, "x.csv", ALL_TYPES_CSV.as_bytes().to_vec()).await;
        assert_eq!((s.inserted, s.row_count, s.first_seq, s.last_seq), (3, 3, 1, 3), "{engine:?}");
        let page = app.get_ok("/api/v1/datasets/moi-loai/records").await;
        assert_eq!(page["total"], 3);
        let r = &page["records"][0];
        assert_eq!(r["ma"], "AB-001");
        assert_eq!(r["ten"], "Trường Tiểu học Kim Bình");
        assert_eq!(r["so_luong"], 12);
        assert_eq!(r["ty_le"], 1.5);
        assert_eq!(r["hoat_dong"], true);
        assert_eq!(r["ngay"], "2022-06-06");
        assert_eq!(r["luc"], "2024-01-02T03:04:05Z");
        assert_eq!(r["nam"], 2022);
        assert_eq!(r["loai"], "A");
        assert_eq!(r["vi_tri"], json!([105.27, 22.15]));
        assert_eq!(r["vung"], json!({"type": "Point", "coordinates": [105.2, 22.1]}));
        let r2 = &page["records"][1];
        assert!(r2["luc"].is_null() && r2["vi_tri"].is_null() && r2["vung"].is_null());
        assert_eq!(page["fields"].as_array().unwrap().len(), 11);
        let one = app.get_ok("/api/v1/datasets/moi-loai/records/AB-002").await;
        assert_eq!(one["ty_le"], 0.25, "{engine:?}");

        // Every export format imports back into the same schema unchanged.
        for (file, name) in [("export.csv", "x.csv"), ("export.json", "x.json"), ("export.ndjson", "x.ndjson"), ("export.xlsx", "x.xlsx")] {
            let r = app.get(&format!("/api/v1/datasets/moi-loai/{file}")).await;
            assert_eq!(r.status, StatusCode::OK, "{file}: {}", r.text());
            let copy = format!("ban-sao-{}", file.replace('.', "-"));
            create(&app, &copy, 13, "open", all_types_schema()).await;
            let body = if name.ends_with("json") {
                // JSON exports carry the record id; the schema has no `_id`.
                strip_ids(&r.body, name.ends_with(".ndjson"))
            } else {
                r.body.clone()
            };
            import_ok(&app, &copy, ImportMode::Append, name, body).await;
            let back = app.get_ok(&format!("/api/v1/datasets/{copy}/records")).await;
            let strip = |p: &Value| -> Vec<Value> {
                p["records"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| {
                        let mut r = r.clone();
                        r.as_object_mut().unwrap().remove("_id");
                        r
                    })
                    .collect()
            };
            assert_eq!(strip(&back), strip(&page), "{engine:?}: {file} round trip");
        }
        let geo = app.get("/api/v1/datasets/moi-loai/export.geojson").await.json();
        assert_eq!(geo["type"], "FeatureCollection");
        assert_eq!(geo["features"][0]["geometry"], json!({"type": "Point", "coordinates": [105.27, 22.15]}));
    }
}

fn strip_ids(body: &[u8], ndjson: bool) -> Vec<u8> {
    let strip = |mut v: Value| {
        v.as_object_mut().unwrap().remove("_id");
        v
    };
    if ndjson {
        let text = String::from_utf8(body.to_vec()).unwrap();
        text.lines().map(|l| strip(serde_json::from_str(l).unwrap()).to_string() + "\n").collect::<String>().into_bytes()
    } else {
        let v: Vec<Value> = serde_json::from_slice(body).unwrap();
        serde_json::to_vec(&v.into_iter().map(strip).collect::<Vec<_>>()).unwrap()
    }
}

#[tokio::test]
async fn every_constraint_is_checked_at_import_and_each_problem_located() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        create(&app, "moi-loai", 13, "open", all_types_schema()).await;
        let bad = "ma,ten,so_luong,ty_le,hoat_dong,ngay,luc,nam,loai,vi_tri,vung\n\
xx-1,A,1,1,true,01/01/2020,,2020,A,,\n\
AB-002,B,-5,1,true,01/01/2020,,2020,A,,\n\
AB-003,C,1,abc,true,01/01/2020,,2020,A,,\n\
AB-004,D,1,1,maybe,31/02/2020,,20,Z,\"300, 10\",\"{}\"\n\
,E,1,1,true,01/01/2020,,2020,A,,\n\
AB-006,F,1,1,true,01/01/2020,,2020,A,,\n\
AB-006,G,1,1,true,01/01/2020,,2020,A,,\n";
        let Ok(ImportOutcome::Rejected(report)) =
            import(&app, "moi-loai", ImportMode::Append, "bad.csv", bad.as_bytes().to_vec(), ReadOptions::default()).await
        else {
            panic!("{engine:?}: a bad file must be rejected")
        };
        let got: Vec<(u64, Option<&str>, &str)> = report.errors.iter().map(|e| (e.row, e.column.as_deref(), e.code.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (2, Some("ma"), "pattern"),
                (3, Some("so_luong"), "minimum"),
                (4, Some("ty_le"), "type"),
                (5, Some("hoat_dong"), "type"),
                (5, Some("ngay"), "type"),
                (5, Some("nam"), "type"),
                (5, Some("loai"), "enum"),
                (5, Some("vi_tri"), "type"),
                (5, Some("vung"), "type"),
                (6, Some("ma"), "required"),
            ],
            "{engine:?}"
        );
        assert_eq!(report.total_errors, 10);
        // The officer sees a value of the right form, never the regular expression.
        let e = &report.errors[0];
        assert!(e.message.contains("không đúng dạng") && e.message.contains("«AB-123»"), "{}", e.message);
        assert!(e.message_en.contains("required form") && !e.message_en.contains("[A-Z]"), "{}", e.message_en);
        assert_eq!(e.letter.as_deref(), Some("A"));
        assert_eq!(chiase_store::testing::row_count(&app.store().dataset("moi-loai").await.unwrap().unwrap()), 0, "nothing landed");
        // Duplicate keys within a file are caught too (once the rows parse).
        let dup = "ma,ten\nAB-001,A\nAB-001,B\n";
        let Ok(ImportOutcome::Rejected(r)) =
            import(&app, "moi-loai", ImportMode::Append, "dup.csv", dup.as_bytes().to_vec(), ReadOptions::default()).await
        else {
            panic!()
        };
        assert_eq!((r.errors[0].row, r.errors[0].code.as_str()), (3, "duplicate_key"));
        // Unknown columns are named, never dropped silently.
        let extra = "ma,ten,ghi_chu\nAB-001,A,x\n";
        let Ok(ImportOutcome::Rejected(r)) =
            import(&app, "moi-loai", ImportMode::Append, "x.csv", extra.as_bytes().to_vec(), ReadOptions::default()).await
        else {
            panic!()
        };
        assert_eq!(r.errors[0].column.as_deref(), Some("ghi_chu"));
    }
}

fn bts_schema() -> Value {
    serde_json::to_value(chiase_io::templates::by_id("tram-bts").unwrap().schema).unwrap()
}

/// `n` BTS rows like bench/gen_bts.py's, deterministic.
fn bts_csv(n: usize, from: usize) -> String {
    let mut s = String::from("id,ma_tram,nha_mang,huyen,xa,dia_chi,lat,lon,chieu_cao,ngay_cap_phep,trang_thai\n");
    let ops = [("Viettel", "VTL"), ("VNPT", "VNP"), ("MobiFone", "MBF"), ("Vietnamobile", "VNM")];
    let places = [
        ("Yên Sơn", "YSO", "Xã Tứ Quận", 21.87, 105.25),
        ("Chiêm Hóa", "CHO", "Xã Kim Bình", 22.15, 105.27),
        ("Sơn Dương", "SDU", "Xã Tân Trào", 21.70, 105.38),
    ];
    let states = ["Đang hoạt động", "Tạm ngừng hoạt động", "Chờ cấp phép"];
    for i in from..from + n {
        let (op, oc) = ops[i % 4];
        let (h, hc, x, lat, lon) = places[i % 3];
        let d = (i * 7919) % 1000;
        s.push_str(&format!(
            "{i},TQ-{hc}-{oc}-{i:07},{op},{h},{x},\"Thôn Đồng Bừng, {x}, huyện {h}, tỉnh Tuyên Quang\",{:.6},{:.6},{:.1},20{:02}-{:02}-{:02},{}\n",
            lat + d as f64 / 20000.0,
            lon + d as f64 / 20000.0,
            12.0 + (i % 48) as f64,
            10 + i % 14,
            1 + i % 12,
            1 + i % 28,
            states[i % 3]
        ));
    }
    s
}

#[tokio::test]
async fn one_bad_row_in_the_middle_of_100000_changes_nothing_and_is_reported_exactly() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        create(&app, "tram-bts", 25, "default", bts_schema()).await;
        import_ok(&app, "tram-bts", ImportMode::Append, "first.csv", bts_csv(10, 1).into_bytes()).await;
        let before = app.store().dataset("tram-bts").await.unwrap().unwrap();
        let mut csv = bts_csv(100_000, 1001);
        // Row 50,000 of the data (line 50,001 of the file): an operator that does not exist.
        let line = csv.lines().nth(50_000).unwrap().to_string();
        let broken = line
            .replacen(",Viettel,", ",Viettal,", 1)
            .replacen(",VNPT,", ",Viettal,", 1)
            .replacen(",MobiFone,", ",Viettal,", 1)
            .replacen(",Vietnamobile,", ",Viettal,", 1);
        assert_ne!(line, broken);
        csv = csv.replacen(&line, &broken, 1);
        let Ok(ImportOutcome::Rejected(report)) =
            import(&app, "tram-bts", ImportMode::Append, "big.csv", csv.into_bytes(), ReadOptions::default()).await
        else {
            panic!("{engine:?}: rejected")
        };
        assert_eq!(report.total_errors, 1, "{engine:?}");
        assert_eq!(report.rows_read, 100_000);
        let e = &report.errors[0];
        assert_eq!((e.row, e.column.as_deref(), e.value.as_deref(), e.code.as_str()), (50_001, Some("nha_mang"), Some("Viettal"), "enum"));
        let after = app.store().dataset("tram-bts").await.unwrap().unwrap();
        let activity = |d: &chiase_store::datasets::Dataset| d.activity(&operator_data::read(d)).unwrap();
        assert_eq!(activity(&after), activity(&before), "nothing changed");
    }
}

#[tokio::test]
async fn append_upsert_and_replace_meet_existing_rows_as_documented() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let s = app.store();
        create(&app, "tram-bts", 25, "default", bts_schema()).await;
        import_ok(&app, "tram-bts", ImportMode::Append, "a.csv", bts_csv(5, 1).into_bytes()).await;
        // Append refuses a key that exists, naming it.
        let Ok(ImportOutcome::Rejected(r)) =
            import(&app, "tram-bts", ImportMode::Append, "a.csv", bts_csv(2, 5).into_bytes(), ReadOptions::default()).await
        else {
            panic!()
        };
        assert_eq!((r.errors[0].code.as_str(), r.errors[0].value.as_deref()), ("key_exists", Some("5")), "{engine:?}");
        // Keys and unique values are checked across batches and against
        // stored rows by the database's indexes, with the offending line.
        let mut far = bts_csv(1500, 1000);
        far.push_str(bts_csv(1, 1003).lines().nth(1).unwrap());
        far.push('\n');
        let Ok(ImportOutcome::Rejected(r)) =
            import(&app, "tram-bts", ImportMode::Append, "far.csv", far.into_bytes(), ReadOptions::default()).await
        else {
            panic!()
        };
        assert_eq!(
            (r.errors[0].row, r.errors[0].code.as_str(), r.errors[0].value.as_deref()),
            (1502, "duplicate_key", Some("1003")),
            "{engine:?}"
        );
        let same_code = bts_csv(1, 2).replace("\n2,", "\n77,");
        let Ok(ImportOutcome::Rejected(r)) =
            import(&app, "tram-bts", ImportMode::Append, "u.csv", same_code.into_bytes(), ReadOptions::default()).await
        else {
            panic!()
        };
        assert_eq!((r.errors[0].code.as_str(), r.errors[0].column.as_deref()), ("unique", Some("ma_tram")), "{engine:?}");
        assert_eq!(chiase_store::testing::row_count(&s.dataset("tram-bts").await.unwrap().unwrap()), 5);
        // Upsert: 5 unchanged, 6 new, 4 changed.
        let mut up = bts_csv(2, 5);
        up.push_str(bts_row_with_state(4, "Đã thu hồi giấy phép").lines().nth(1).unwrap());
        up.push('\n');
        let u = import_ok(&app, "tram-bts", ImportMode::Upsert, "u.csv", up.into_bytes()).await;
        assert_eq!((u.inserted, u.updated, u.unchanged, u.row_count), (1, 1, 1, 6), "{engine:?}");
        // Replace: the file becomes the dataset.
        let r = import_ok(&app, "tram-bts", ImportMode::Replace, "r.csv", bts_csv(3, 100).into_bytes()).await;
        assert_eq!((r.inserted, r.deleted, r.row_count), (3, 6, 3), "{engine:?}");
        let ds = s.dataset("tram-bts").await.unwrap().unwrap();
        let permit = operator_data::read(&ds);
        let schema = s.schema_of(&ds).unwrap();
        let q = chiase_core::query::parse(&[], &schema, permit.visible()).unwrap();
        let page = reveal(s.read_records(&permit, &ds, &q, None).await.unwrap());
        let keys: Vec<&str> = page.records.iter().map(|r| r.meta.key.as_str()).collect();
        assert_eq!(keys, vec!["100", "101", "102"]);
    }
}

#[tokio::test]
async fn encodings_and_delimiters_of_real_exports_are_read() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let schema = json!({"fields": [{"name": "ma", "type": "string"}, {"name": "ten", "type": "string", "searchable": true}], "primaryKey": "ma"});
        create(&app, "bang-ma", 13, "open", schema).await;
        let utf8_bom_semicolon = "\u{feff}ma;ten\nA1;Đường Lê Lợi\n".as_bytes().to_vec();
        let mut utf16_tab = vec![0xFF, 0xFE];
        for u in "ma\tten\r\nA2\tĐường Lê Lợi\r\n".encode_utf16() {
            utf16_tab.extend_from_slice(&u.to_le_bytes());
        }
        // "Đường" in Windows-1258: Đ, ư, ơ, n, g with a combining grave (0xCC).
        let cp1258 = b"ma,ten\nA3,\xD0\xFD\xF5\xCCng L\xEA L\xF5\xF2i\n".to_vec();
        import_ok(&app, "bang-ma", ImportMode::Append, "a.csv", utf8_bom_semicolon).await;
        import_ok(&app, "bang-ma", ImportMode::Append, "b.csv", utf16_tab).await;
        match import(
            &app,
            "bang-ma",
            ImportMode::Append,
            "c.csv",
            cp1258.clone(),
            ReadOptions { encoding: chiase_io::encoding::by_label("windows-1258"), ..Default::default() },
        )
        .await
        {
            Ok(ImportOutcome::Done(_)) => {}
            other => panic!("{engine:?}: {:?}", other.err()),
        }
        // Undeclared legacy bytes are refused, not stored as mojibake.
        assert!(import(&app, "bang-ma", ImportMode::Append, "c.csv", cp1258, ReadOptions::default()).await.is_err());
        let page = app.get_ok("/api/v1/datasets/bang-ma/records").await;
        let names: Vec<&str> = page["records"].as_array().unwrap().iter().map(|r| r["ten"].as_str().unwrap()).collect();
        assert_eq!(names[0], "Đường Lê Lợi");
        assert_eq!(names[1], "Đường Lê Lợi");
        assert_eq!(names[2], "Đường Lê Lợi", "{engine:?}: Windows-1258 decoded and composed to NFC");
        // Folded search finds all three without diacritics.
        assert_eq!(app.get_ok("/api/v1/datasets/bang-ma/records?q=duong%20le%20loi").await["total"], 3);
    }
}

#[tokio::test]
async fn keyset_paging_visits_every_row_exactly_once_while_rows_are_inserted() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        create(&app, "tram-bts", 26, "open", bts_schema()).await;
        import_ok(&app, "tram-bts", ImportMode::Append, "a.csv", bts_csv(600, 1).into_bytes()).await;
        let mut extra = 10_000;
        for sort in ["", "&sort=-chieu_cao,ngay_cap_phep", "&sort=nha_mang"] {
            let mut seen: Vec<i64> = Vec::new();
            let mut after: Option<String> = None;
            loop {
                let path = format!(
                    "/api/v1/datasets/tram-bts/records?limit=37{sort}{}",
                    after.as_ref().map(|a| format!("&after={a}")).unwrap_or_default()
                );
                let page = app.get_ok(&path).await;
                seen.extend(page["records"].as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()));
                // Another writer inserts between pages.
                import_ok(&app, "tram-bts", ImportMode::Append, "more.csv", bts_csv(3, extra).into_bytes()).await;
                extra += 3;
                match page["next"].as_str() {
                    Some(n) => after = Some(n.to_string()),
                    None => break,
                }
            }
            let originals: Vec<i64> = seen.iter().copied().filter(|i| *i <= 600).collect();
            let mut unique = originals.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), originals.len(), "{engine:?} {sort}: no row twice");
            assert_eq!(unique, (1..=600).collect::<Vec<i64>>(), "{engine:?} {sort}: every row once");
            let mut all = seen.clone();
            all.sort();
            all.dedup();
            assert_eq!(all.len(), seen.len(), "{engine:?} {sort}: new rows at most once too");
        }
    }
}

#[tokio::test]
async fn filters_facets_bbox_search_and_projection_work_together() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        create(&app, "tram-bts", 26, "open", bts_schema()).await;
        import_ok(&app, "tram-bts", ImportMode::Append, "a.csv", bts_csv(120, 1).into_bytes()).await;
        let page = app.get_ok("/api/v1/datasets/tram-bts/records?nha_mang=Viettel&facet=huyen,trang_thai&limit=5").await;
        assert_eq!(page["total"], 30, "{engine:?}");
        let huyen = page["facets"]["huyen"].as_array().unwrap();
        assert_eq!(huyen.iter().map(|f| f["count"].as_i64().unwrap()).sum::<i64>(), 30);
        assert_eq!(huyen.len(), 3);
        assert_eq!(page["records"].as_array().unwrap().len(), 5);
        let page = app.get_ok("/api/v1/datasets/tram-bts/records?chieu_cao[gte]=50&nha_mang[in]=VNPT,MobiFone&limit=200").await;
        for r in page["records"].as_array().unwrap() {
            assert!(r["chieu_cao"].as_f64().unwrap() >= 50.0);
            assert!(["VNPT", "MobiFone"].contains(&r["nha_mang"].as_str().unwrap()));
        }
        assert!(page["total"].as_i64().unwrap() > 0);
        // bbox around Chiêm Hóa only.
        let page = app.get_ok("/api/v1/datasets/tram-bts/records?bbox=105.2,22.1,105.4,22.3&facet=huyen").await;
        assert_eq!(page["facets"]["huyen"][0]["value"], "Chiêm Hóa", "{engine:?}");
        assert_eq!(page["facets"]["huyen"].as_array().unwrap().len(), 1);
        assert_eq!(page["total"], 40);
        // Folded full text: whole words, a prefix where a word ends in `*`.
        let page = app.get_ok(&format!("/api/v1/datasets/tram-bts/records?q={}&limit=1", enc("kim binh"))).await;
        assert_eq!(page["total"], 40, "{engine:?}");
        let page = app.get_ok(&format!("/api/v1/datasets/tram-bts/records?q={}&limit=1", enc("kim bin*"))).await;
        assert_eq!(page["total"], 40, "{engine:?}");
        let page = app.get_ok(&format!("/api/v1/datasets/tram-bts/records?q={}&limit=1", enc("kim bin"))).await;
        assert_eq!(page["total"], 0, "{engine:?}: «bin» is not a word of the data");
        let page = app.get_ok("/api/v1/datasets/tram-bts/records?q=tan%20tra*&xa[prefix]=X%C3%A3%20T&fields=ma_tram,xa&limit=1").await;
        assert_eq!(page["total"], 40);
        assert_eq!(page["fields"], json!(["ma_tram", "xa"]));
        assert_eq!(page["records"][0].as_object().unwrap().len(), 3, "_id and the two fields asked");
        let page =
            app.get_ok("/api/v1/datasets/tram-bts/records?trang_thai[ne]=Đang%20hoạt%20động&dia_chi[contains]=Đồng%20Bừng&limit=1").await;
        assert_eq!(page["total"], 80);
        let page = app.get_ok("/api/v1/datasets/tram-bts/records?chieu_cao[null]=true").await;
        assert_eq!(page["total"], 0);
        // Unknown fields and operators are 400s naming them.
        for (q, name) in [
            ("nha_mng=x", "nha_mng"),
            ("chieu_cao[between]=1", "between"),
            ("sort=khong_co", "khong_co"),
            ("facet=zz", "zz"),
            ("bbox=1,2,3", "bbox"),
            ("chieu_cao=cao", "cao"),
            ("limit=20000", "limit"),
        ] {
            let r = app.get(&format!("/api/v1/datasets/tram-bts/records?{q}")).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}");
            let e = r.json();
            assert!(e["error"]["message_en"].as_str().unwrap().contains(name), "{q}: {}", e["error"]["message_en"]);
        }
    }
}

#[tokio::test]
async fn the_change_feed_resumes_and_as_of_reads_the_past() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let s = app.store();
        create(&app, "tram-bts", 26, "open", bts_schema()).await;
        import_ok(&app, "tram-bts", ImportMode::Append, "a.csv", bts_csv(5, 1).into_bytes()).await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let between = chrono::Utc::now();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let up = bts_row_with_state(2, "Đang nâng cấp");
        import_ok(&app, "tram-bts", ImportMode::Upsert, "u.csv", up.into_bytes()).await;
        let ds = s.dataset("tram-bts").await.unwrap().unwrap();
        let permit = operator_data::write(&ds);
        let mut w = s.begin_write(&permit, "tram-bts", ImportMode::Append, "test", None).await.unwrap();
        assert_eq!(w.delete(&["3".into()]).await.unwrap(), 1);
        w.commit().await.unwrap();

        // The feed in two pages: 5 inserts, an update of 2, a delete of 3.
        let first = app.get_ok("/api/v1/datasets/tram-bts/changes?since=0&limit=4").await;
        assert_eq!(first["changes"].as_array().unwrap().len(), 4, "{engine:?}");
        assert_eq!(first["next_since"], 4);
        let rest = app.get_ok(&format!("/api/v1/datasets/tram-bts/changes?since={}", first["next_since"])).await;
        let ops: Vec<(&str, &str)> =
            rest["changes"].as_array().unwrap().iter().map(|c| (c["op"].as_str().unwrap(), c["key"].as_str().unwrap())).collect();
        assert_eq!(ops, vec![("insert", "5"), ("update", "2"), ("delete", "3")]);
        assert_eq!(rest["changes"][1]["values"]["trang_thai"], "Đang nâng cấp");
        assert!(rest["changes"][2]["values"].is_null());
        assert_eq!(rest["last_seq"], 7);
        assert_eq!(rest["changes"][0]["actor"], "operator");
        assert_eq!(rest["changes"][2]["actor"], "test");
        let empty = app.get_ok("/api/v1/datasets/tram-bts/changes?since=7").await;
        assert!(empty["changes"].as_array().unwrap().is_empty());

        // As of `between`: 5 rows, row 2 as first imported, row 3 still there.
        let at = enc(&between.to_rfc3339());
        let past = app.get_ok(&format!("/api/v1/datasets/tram-bts/records?as_of={at}")).await;
        assert_eq!(past["total"], 5, "{engine:?}");
        let now = app.get_ok("/api/v1/datasets/tram-bts/records").await;
        assert_eq!(now["total"], 4);
        let two_then = app.get_ok(&format!("/api/v1/datasets/tram-bts/records/2?as_of={at}")).await;
        let two_now = app.get_ok("/api/v1/datasets/tram-bts/records/2").await;
        assert_ne!(two_then["trang_thai"], two_now["trang_thai"]);
        assert_eq!(app.get(&format!("/api/v1/datasets/tram-bts/records/3?as_of={at}")).await.status, StatusCode::OK);
        assert_eq!(app.get("/api/v1/datasets/tram-bts/records/3").await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.get_ok("/api/v1/datasets/tram-bts/records?as_of=2000-01-01").await["total"], 0);
    }
}

#[tokio::test]
async fn schemas_widen_and_grow_but_never_tighten() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let s = app.store();
        let v1 = json!({"fields": [{"name": "ma", "type": "string"}, {"name": "so", "type": "integer"}, {"name": "co", "type": "boolean"}], "primaryKey": "ma", "indexes": [["so"]]});
        create(&app, "doi-luoc-do", 13, "open", v1).await;
        import_ok(&app, "doi-luoc-do", ImportMode::Append, "a.csv", b"ma,so,co\nA,1,true\nB,2,false\n".to_vec()).await;
        let ds = s.dataset("doi-luoc-do").await.unwrap().unwrap();
        let permit = operator_data::schema(&ds);
        let v2: chiase_core::schema::SchemaSpec = serde_json::from_value(json!({"fields": [
            {"name": "ma", "type": "string"}, {"name": "so", "type": "number"}, {"name": "co", "type": "string"}, {"name": "ghi_chu", "type": "string"}
        ], "primaryKey": "ma", "indexes": [["so"], ["co"]]}))
        .unwrap();
        let d = s.change_schema(&permit, "doi-luoc-do", v2, "test").await.unwrap_or_else(|e| panic!("{engine:?}: {e}"));
        assert_eq!(d.schema_version, 2);
        let page = app.get_ok("/api/v1/datasets/doi-luoc-do/records?sort=ma").await;
        assert_eq!(page["records"][0]["so"], 1.0, "{engine:?}");
        assert_eq!(page["records"][1]["co"], "false");
        assert!(page["records"][0]["ghi_chu"].is_null());
        import_ok(&app, "doi-luoc-do", ImportMode::Append, "b.csv", b"ma,so,co,ghi_chu\nC,2.5,co le,moi\n".to_vec()).await;
        for bad in [
            json!({"fields": [{"name": "ma", "type": "string"}, {"name": "so", "type": "integer"}, {"name": "co", "type": "string"}, {"name": "ghi_chu", "type": "string"}], "primaryKey": "ma"}),
            json!({"fields": [{"name": "ma", "type": "string"}, {"name": "so", "type": "number", "constraints": {"required": true}}, {"name": "co", "type": "string"}, {"name": "ghi_chu", "type": "string"}], "primaryKey": "ma"}),
            json!({"fields": [{"name": "ma", "type": "string"}, {"name": "so", "type": "number"}], "primaryKey": "ma"}),
            json!({"fields": [{"name": "ma", "type": "string"}, {"name": "so", "type": "number"}, {"name": "co", "type": "string"}, {"name": "ghi_chu", "type": "string"}, {"name": "moi", "type": "string", "constraints": {"required": true}}], "primaryKey": "ma"}),
        ] {
            let spec: chiase_core::schema::SchemaSpec = serde_json::from_value(bad.clone()).unwrap();
            assert!(s.change_schema(&permit, "doi-luoc-do", spec, "test").await.is_err(), "{engine:?}: {bad}");
        }
        assert_eq!(s.dataset("doi-luoc-do").await.unwrap().unwrap().schema_version, 2);
    }
}

#[tokio::test]
async fn restricted_datasets_need_a_permit_and_writes_a_steward() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        create(&app, "tram-bts", 25, "default", bts_schema()).await;
        import_ok(&app, "tram-bts", ImportMode::Append, "a.csv", bts_csv(3, 1).into_bytes()).await;
        for path in [
            "/api/v1/datasets/tram-bts/records",
            "/api/v1/datasets/tram-bts/records/1",
            "/api/v1/datasets/tram-bts/changes",
            "/api/v1/datasets/tram-bts/export.csv",
        ] {
            let r = app.get(path).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{engine:?} {path}");
            assert!(!r.text().contains("TQ-"), "no data in a refusal");
        }
        // The description and schema are public, like the catalog; how many
        // rows it holds and when they changed are not.
        let meta = app.get_ok("/api/v1/datasets/tram-bts").await;
        for hidden in ["row_count", "last_seq", "data_updated_at"] {
            assert!(meta[hidden].is_null(), "{engine:?} {hidden}: {meta}");
        }
        assert_eq!(meta["readable"], false);
        let listed = app.get_ok("/api/v1/datasets").await;
        let row = listed["results"].as_array().unwrap().iter().find(|d| d["id"] == "tram-bts").unwrap().clone();
        assert!(row["row_count"].is_null() && row["last_seq"].is_null(), "{engine:?}: {row}");
        assert_eq!(meta["schema"]["fields"][1]["name"], "ma_tram");
        // No writes without a signed-in steward.
        let r = app.request(axum::http::Method::POST, "/api/v1/datasets/tram-bts/import", &[], bts_csv(1, 9).into_bytes()).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        let r = app.request(axum::http::Method::DELETE, "/api/v1/datasets/tram-bts/records/1", &[], vec![]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        let r = app
            .request(axum::http::Method::GET, "/api/v1/datasets/tram-bts/records", &[("authorization", "Bearer nonsense")], vec![])
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "a bad token is an error, never anonymous");
        assert_eq!(chiase_store::testing::row_count(&app.store().dataset("tram-bts").await.unwrap().unwrap()), 3);
    }
}

#[tokio::test]
async fn inference_proposes_a_schema_and_templates_fill_with_synthetic_data() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let r = app
            .request(
                axum::http::Method::POST,
                "/api/v1/schema/infer?name=bts.csv",
                &[("content-type", "text/csv")],
                bts_csv(1200, 1).into_bytes(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let p = r.json();
        // A key is proposed only from a sample of 1,000 rows or more.
        assert_eq!(p["schema"]["primaryKey"], json!(["id"]));
        assert_eq!(p["schema"]["fields"][6]["geo"], "lat");
        assert_eq!(p["rows_sampled"], 1200);
        let op = app.operator();
        let demo = |rows| chiase_server::usecase::demo::load(&app.state, &op, Some(rows), 1);
        let made = demo(30).await.unwrap().filled.len();
        assert_eq!(made, chiase_io::templates::all().len(), "{engine:?}");
        let list = app.get_ok("/api/v1/datasets?database=25").await;
        assert_eq!(list["results"][0]["synthetic"], true);
        // Entry 25 is not open data: the public is not told how many rows it has.
        assert_eq!(list["results"][0]["row_count"], Value::Null);
        assert_eq!(list["results"][0]["readable"], false);
        assert_eq!(
            chiase_store::testing::row_count(&app.store().dataset(list["results"][0]["id"].as_str().unwrap()).await.unwrap().unwrap()),
            30
        );
        let heritage = app.get_ok("/api/v1/datasets/di-tich/records?limit=3").await;
        assert_eq!(heritage["total"], 30);
        // Running the demo again replaces demo rows; it never touches real data.
        assert_eq!(demo(10).await.unwrap().filled.len(), made);
        assert_eq!(app.get_ok("/api/v1/datasets/di-tich").await["row_count"], 10);
    }
}
