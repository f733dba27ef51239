//! Frictionless Data Packages: a database's export is valid for the real
//! `frictionless` tool (as the public and as a steward, who see different
//! fields), and a package imports as new datasets of a catalog database —
//! all of it or nothing — from an upload or a loopback URL; hostile
//! packages are refused with nothing created. On every engine.

mod common;

use std::io::{Read, Write};

use axum::http::{Method, StatusCode};
use chiase_core::policy::Role;
use chiase_server::usecase::datasets::CreateDataset;
use chiase_server::usecase::imports::ImportOutcome;
use chiase_store::databases::DatabaseKey;
use chiase_store::datasets::import::ImportMode;
use common::{Resp, TestApp, engines};
use serde_json::{Value, json};

const PASSWORD: &str = "mat-khau-du-dai-123";

/// The agency that owns catalog entry `no`.
async fn owner_of(app: &TestApp, no: i64) -> String {
    app.get_ok(&format!("/api/v1/databases/{no}")).await["owner"]["id"].as_str().unwrap().to_string()
}

async fn create(app: &TestApp, entry: i64, mode: &str, id: &str, title: &str, schema: Value, csv: &str) {
    app.create_dataset(CreateDataset {
        id: id.into(),
        database: DatabaseKey::No(entry),
        title: title.into(),
        title_en: None,
        description: format!("Dữ liệu thử: {title}"),
        licence: None,
        sharing_mode: mode.parse().unwrap(),
        cadence: None,
        schema: serde_json::from_value(schema).unwrap(),
        template: None,
        synthetic: false,
    })
    .await;
    let done = app.import(id, "x.csv", csv.as_bytes().to_vec(), ImportMode::Append).await;
    assert!(matches!(done, Ok(ImportOutcome::Done(_))), "import into {id}");
}

/// Entry 13 with three datasets of every kind of field: dates in a
/// Vietnamese format, decimals with a comma, enums, yes/no in words, points,
/// years, date-times, GeoJSON, Vietnamese text, empty cells, and a personal
/// field the public does not see.
async fn seed(app: &TestApp) {
    create(
        app,
        13,
        "open",
        "truong-hoc-dp",
        "Trường học",
        json!({
            "fields": [
                {"name": "ma", "type": "string", "title": "Mã trường", "constraints": {"required": true, "pattern": "TH[0-9]{3}"}},
                {"name": "ten", "type": "string", "title": "Tên trường", "searchable": true},
                {"name": "loai", "type": "string", "constraints": {"enum": ["Mầm non", "Tiểu học", "Trung học cơ sở"]}},
                {"name": "ngay_thanh_lap", "type": "date", "format": "%d/%m/%Y"},
                {"name": "diem_tb", "type": "number", "decimalChar": ","},
                {"name": "cong_lap", "type": "boolean", "trueValues": ["Có"], "falseValues": ["Không"]},
                {"name": "vi_tri", "type": "geopoint"},
                {"name": "hieu_truong", "type": "string", "personal": "basic"},
                {"name": "so_hoc_sinh", "type": "integer", "constraints": {"minimum": 0, "maximum": 5000}}
            ],
            "primaryKey": "ma"
        }),
        "ma,ten,loai,ngay_thanh_lap,diem_tb,cong_lap,vi_tri,hieu_truong,so_hoc_sinh\n\
         TH001,Trường Tiểu học Phan Thiết,Tiểu học,05/09/1960,\"8,25\",Có,\"105.2172, 21.8236\",Nguyễn Văn Hùng,812\n\
         TH002,Trường Mầm non Hoa Sen,Mầm non,,,Không,,Trần Thị Lan,\n\
         TH003,\"Trường THCS Đội Cấn, \"\"Tuyên Quang\"\"\",Trung học cơ sở,15/03/2001,\"7,5\",,\"105.3, 22.15\",,430\n",
    )
    .await;
    create(
        app,
        13,
        "open",
        "diem-thi-dp",
        "Điểm thi",
        json!({
            "fields": [
                {"name": "so_bao_danh", "type": "string"},
                {"name": "nam", "type": "year"},
                {"name": "mon", "type": "string"},
                {"name": "diem", "type": "number", "constraints": {"minimum": 0, "maximum": 10}},
                {"name": "cap_nhat", "type": "datetime"},
                {"name": "ghi_chu", "type": "string", "constraints": {"maxLength": 200}},
                {"name": "lat", "type": "number", "geo": "lat"},
                {"name": "lon", "type": "number", "geo": "lon"}
            ],
            "primaryKey": ["so_bao_danh", "mon"]
        }),
        "so_bao_danh,nam,mon,diem,cap_nhat,ghi_chu,lat,lon\n\
         TQ0001,2025,Toán,9.25,2025-06-28T08:30:00Z,,21.82,105.21\n\
         TQ0001,2025,Ngữ văn,7,2025-06-28T10:00:00+07:00,Phúc khảo,21.82,105.21\n\
         TQ0002,2024,Toán,,,=1+1,,\n",
    )
    .await;
    create(
        app,
        13,
        "open",
        "ranh-gioi-dp",
        "Ranh giới điểm trường",
        json!({
            "fields": [
                {"name": "id", "type": "integer", "constraints": {"required": true, "unique": true}},
                {"name": "ten", "type": "string", "constraints": {"minLength": 1}},
                {"name": "hinh", "type": "geojson"}
            ],
            "primaryKey": "id"
        }),
        "id,ten,hinh\n\
         1,Điểm Yên Sơn,\"{\"\"type\"\":\"\"Point\"\",\"\"coordinates\"\":[105.2,21.8]}\"\n\
         2,Điểm Sơn Dương,\n",
    )
    .await;
}

/// The files of a zip archive, by name.
fn unzip(bytes: &[u8]) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
    let mut out = std::collections::BTreeMap::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let mut b = Vec::new();
        f.read_to_end(&mut b).unwrap();
        out.insert(f.name().unwrap().to_string(), b);
    }
    out
}

async fn get_as(app: &TestApp, token: Option<&str>, path: &str) -> Resp {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
    app.request(Method::GET, path, &headers, vec![]).await
}

#[tokio::test]
async fn exported_packages_are_valid_for_frictionless_as_public_and_steward() {
    let python = common::python_tools();
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        seed(&app).await;
        let owner = owner_of(&app, 13).await;
        let steward = app.person("gd.steward", Some(&owner), Role::Steward, PASSWORD).await;
        for (who, token) in [("public", None), ("steward", Some(steward.as_str()))] {
            let r = get_as(&app, token, "/api/v1/databases/13/datapackage.zip").await;
            assert_eq!(r.status, StatusCode::OK, "{engine:?} {who}: {}", r.text());
            let files = unzip(&r.body);
            let package: Value = serde_json::from_slice(&files["datapackage.json"]).unwrap();
            let resources = package["resources"].as_array().unwrap();
            assert_eq!(resources.len(), 3, "{engine:?} {who}: {package}");
            let schools = resources.iter().find(|r| r["name"] == "truong-hoc-dp").unwrap();
            let names: Vec<&str> = schools["schema"]["fields"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
            // The personal field is in the steward's package only, header and schema alike.
            let csv = String::from_utf8(files["data/truong-hoc-dp.csv"].clone()).unwrap();
            assert_eq!(names.contains(&"hieu_truong"), who == "steward", "{who}: {names:?}");
            assert_eq!(csv.contains("Nguyễn Văn Hùng"), who == "steward", "{who}: {csv}");
            let Some(python) = &python else { continue };
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("package.zip");
            std::fs::File::create(&path).unwrap().write_all(&r.body).unwrap();
            let out = common::run_python(python, "frictionless_check.py", &[path.to_str().unwrap()], &[]).await;
            // Three resources, eight rows, no error.
            assert!(out.trim_end().ends_with("valid 3 8"), "{engine:?} {who}:\n{out}");
        }
    }
}

#[tokio::test]
async fn a_database_lists_its_datasets_with_activity_only_for_readers() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        seed(&app).await;
        let db = app.get_ok("/api/v1/databases/13").await;
        let datasets = db["datasets"].as_array().unwrap();
        let ids: Vec<&str> = datasets.iter().map(|d| d["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), 3, "{engine:?}: {ids:?}");
        let schools = datasets.iter().find(|d| d["id"] == "truong-hoc-dp").unwrap();
        assert_eq!(schools["title"], "Trường học");
        assert_eq!(schools["sharing_mode"], "open");
        assert_eq!(schools["readable"], true);
        assert_eq!(schools["row_count"], 3, "open data: its activity is public");
        assert_eq!(schools["links"]["dataset"], "/api/v1/datasets/truong-hoc-dp");
        // Every link answers.
        for link in ["dataset", "records"] {
            app.get_ok(schools["links"][link].as_str().unwrap()).await;
        }
        // A restricted dataset is listed, its activity withheld from the public.
        let schema = json!({"fields": [{"name": "ma", "type": "string"}]});
        create(&app, 4, "specific", "can-bo-dp", "Cán bộ", schema, "ma\nCB01\n").await;
        let listed = app.get_ok("/api/v1/databases/4").await["datasets"].clone();
        assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
        assert_eq!((listed[0]["id"].as_str(), listed[0]["readable"].as_bool()), (Some("can-bo-dp"), Some(false)));
        assert!(listed[0]["row_count"].is_null() && listed[0]["data_updated_at"].is_null(), "{listed}");
        let owner = owner_of(&app, 4).await;
        let member = app.person("nv.member", Some(&owner), Role::Member, PASSWORD).await;
        let r = get_as(&app, Some(&member), "/api/v1/databases/4").await;
        assert_eq!(r.json()["datasets"][0]["row_count"], 1, "the owner's member reads it");
    }
}

/// A zip of these files.
fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut z = zip::ZipWriter::new(&mut buf);
    let o = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in files {
        z.start_file(*name, o).unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap();
    buf.into_inner()
}

async fn post_package(app: &TestApp, token: Option<&str>, key: &str, content_type: &str, body: Vec<u8>) -> Resp {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers: Vec<(&str, &str)> = vec![("content-type", content_type)];
    if let Some(a) = &auth {
        headers.push(("authorization", a.as_str()));
    }
    app.request(Method::POST, &format!("/api/v1/databases/{key}/datapackage"), &headers, body).await
}

/// The datasets of a catalog entry, by id.
async fn datasets_of(app: &TestApp, no: i64) -> Vec<String> {
    let db = app.get_ok(&format!("/api/v1/databases/{no}")).await;
    db["datasets"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_string()).collect()
}

/// A dataset's schema and every record, as its steward reads them.
async fn contents(app: &TestApp, token: &str, id: &str) -> (Value, Value) {
    let ds = get_as(app, Some(token), &format!("/api/v1/datasets/{id}")).await;
    assert_eq!(ds.status, StatusCode::OK, "{id}: {}", ds.text());
    let records = get_as(app, Some(token), &format!("/api/v1/datasets/{id}/records?limit=100")).await;
    assert_eq!(records.status, StatusCode::OK, "{id}: {}", records.text());
    let mut rows = records.json()["records"].clone();
    for r in rows.as_array_mut().unwrap() {
        r.as_object_mut().unwrap().remove("_id");
    }
    (ds.json()["schema"].clone(), rows)
}

#[tokio::test]
async fn a_package_exported_imports_into_another_database_unchanged() {
    for engine in engines() {
        let from = TestApp::spawn(engine).await;
        seed(&from).await;
        let owner = owner_of(&from, 13).await;
        let reader = from.person("gd.steward", Some(&owner), Role::Steward, PASSWORD).await;
        // As the steward (every field), without formula escaping (the cell
        // `=1+1` is data, and comes back as it was).
        let export = get_as(&from, Some(&reader), "/api/v1/databases/13/datapackage.zip?escape_formulas=false").await;
        assert_eq!(export.status, StatusCode::OK);

        let to = TestApp::spawn(engine).await;
        let nv = owner_of(&to, 4).await;
        let steward = to.person("nv.steward", Some(&nv), Role::Steward, PASSWORD).await;
        let r = post_package(&to, Some(&steward), "4", "application/zip", export.body.clone()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{engine:?}: {}", r.text());
        let report = r.json();
        assert_eq!(report["created"], 3, "{report}");
        let rows: Vec<(String, i64)> = report["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["dataset"].as_str().unwrap().to_string(), r["rows_imported"].as_i64().unwrap()))
            .collect();
        assert_eq!(rows.len(), 3);
        assert!(rows.contains(&("truong-hoc-dp".into(), 3)) && rows.contains(&("diem-thi-dp".into(), 3)), "{rows:?}");
        let mut listed = datasets_of(&to, 4).await;
        listed.sort();
        assert_eq!(listed, ["diem-thi-dp", "ranh-gioi-dp", "truong-hoc-dp"]);
        for id in ["truong-hoc-dp", "diem-thi-dp", "ranh-gioi-dp"] {
            let (schema_a, rows_a) = contents(&from, &reader, id).await;
            let (schema_b, rows_b) = contents(&to, &steward, id).await;
            assert_eq!(schema_a, schema_b, "{engine:?} {id}: schemas");
            assert_eq!(rows_a, rows_b, "{engine:?} {id}: rows");
        }
        let ds = to.get_ok("/api/v1/datasets/truong-hoc-dp").await;
        assert_eq!(ds["title"], "Trường học");
        let modes = to.get_ok("/api/v1/databases/4").await["sharing_modes"].clone();
        assert!(modes.as_array().unwrap().contains(&ds["sharing_mode"]), "a mode the catalog gives: {ds}");

        // The same package again: its first dataset id is taken, named in a 409.
        let again = post_package(&to, Some(&steward), "4", "application/zip", export.body.clone()).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text());
        assert!(again.json()["error"]["message_en"].as_str().unwrap().contains("-dp"), "{}", again.text());

        // By URL: the first installation's own export, fetched over loopback.
        let url = format!("http://{}/api/v1/databases/13/datapackage.zip?escape_formulas=false", from.addr);
        let third = TestApp::spawn(engine).await;
        let nv3 = owner_of(&third, 4).await;
        let steward3 = third.person("nv.steward", Some(&nv3), Role::Steward, PASSWORD).await;
        let body = json!({ "url": url }).to_string().into_bytes();
        let r = post_package(&third, Some(&steward3), "4", "application/json", body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{engine:?}: {}", r.text());
        // The public export holds no personal field: the import has none either.
        let (schema, _) = contents(&third, &steward3, "truong-hoc-dp").await;
        assert!(!schema.to_string().contains("hieu_truong"), "{schema}");
    }
}

fn descriptor(resources: Value) -> Vec<u8> {
    json!({ "name": "thu", "resources": resources }).to_string().into_bytes()
}

fn csv_resource(name: &str, path: &str) -> Value {
    json!({
        "name": name,
        "path": path,
        "title": format!("Tài nguyên {name}"),
        "schema": {
            "fields": [
                {"name": "Mã", "type": "string", "constraints": {"required": true}},
                {"name": "Số lượng", "type": "integer"},
                {"name": "Ngày", "type": "date"}
            ],
            "primaryKey": "Mã"
        }
    })
}

#[tokio::test]
async fn who_may_import_and_what_the_report_says() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let nv = owner_of(&app, 4).await;
        let steward = app.person("nv.steward", Some(&nv), Role::Steward, PASSWORD).await;
        let member = app.person("nv.member", Some(&nv), Role::Member, PASSWORD).await;
        let other = app.person("gd.steward", Some(&owner_of(&app, 13).await), Role::Steward, PASSWORD).await;
        let csv = "Mã,Số lượng,Ngày\nA1,3,2025-01-02\nA2,,\n".as_bytes();
        let zip = zip_of(&[("datapackage.json", &descriptor(json!([csv_resource("Hộ gia đình", "data/ho.csv")]))), ("data/ho.csv", csv)]);
        for (who, token, status) in [
            ("public", None, StatusCode::UNAUTHORIZED),
            ("member", Some(&member), StatusCode::FORBIDDEN),
            ("another agency", Some(&other), StatusCode::FORBIDDEN),
        ] {
            let r = post_package(&app, token.map(|t| t.as_str()), "4", "application/zip", zip.clone()).await;
            assert_eq!(r.status, status, "{engine:?} {who}: {}", r.text());
        }
        assert!(datasets_of(&app, 4).await.is_empty());
        let r = post_package(&app, Some(&steward), "4", "application/zip", zip.clone()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{engine:?}: {}", r.text());
        let report = r.json();
        assert_eq!(report["resources"][0]["dataset"], "ho-gia-dinh", "the id is the name, slugged");
        assert_eq!(report["resources"][0]["rows_imported"], 2);
        let ds = app.get_ok("/api/v1/datasets/ho-gia-dinh").await;
        assert_eq!(ds["title"], "Tài nguyên Hộ gia đình");
        let names: Vec<&str> = ds["schema"]["fields"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["ma", "so_luong", "ngay"]);
        assert_eq!(ds["schema"]["fields"][0]["title"], "Mã", "the original name is kept as the title");
        // The document says what the route takes and answers.
        let doc = app.get_ok("/api/v1/openapi.json").await;
        let op = &doc["paths"]["/api/v1/databases/{key}/datapackage"]["post"];
        for t in ["application/zip", "application/json"] {
            assert!(op["requestBody"]["content"][t].is_object(), "{t}: {op}");
        }
        for s in ["201", "403", "409", "413", "422"] {
            assert!(op["responses"][s].is_object(), "{s}: {op}");
        }
        // Audited as a creation by the steward.
        let audit = get_as(&app, Some(&steward), "/api/v1/audit?action=dataset_created").await;
        assert!(audit.text().contains("ho-gia-dinh"), "{}", audit.text());
    }
}

#[tokio::test]
async fn a_bad_resource_leaves_nothing_created() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let nv = owner_of(&app, 4).await;
        let steward = app.person("nv.steward", Some(&nv), Role::Steward, PASSWORD).await;
        let good = "Mã,Số lượng,Ngày\nA1,3,2025-01-02\n".as_bytes();
        let two = json!([csv_resource("tot", "tot.csv"), csv_resource("xau", "xau.csv")]);
        let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
            // A value that is not its type: the row, field and value, in both languages.
            (
                "bad value",
                zip_of(&[
                    ("datapackage.json", &descriptor(two.clone())),
                    ("tot.csv", good),
                    ("xau.csv", "Mã,Số lượng,Ngày\nB1,ba,2025-01-02\n".as_bytes()),
                ]),
                StatusCode::UNPROCESSABLE_ENTITY,
                "so_luong",
            ),
            // A key twice: found by the store, after the first dataset was made in the transaction.
            (
                "repeated key",
                zip_of(&[
                    ("datapackage.json", &descriptor(two.clone())),
                    ("tot.csv", good),
                    ("xau.csv", "Mã,Số lượng,Ngày\nB1,1,\nB1,2,\n".as_bytes()),
                ]),
                StatusCode::UNPROCESSABLE_ENTITY,
                "B1",
            ),
            (
                "missing file",
                zip_of(&[("datapackage.json", &descriptor(two.clone())), ("tot.csv", good)]),
                StatusCode::BAD_REQUEST,
                "xau.csv",
            ),
            (
                "not UTF-8",
                zip_of(&[
                    ("datapackage.json", &descriptor(two.clone())),
                    ("tot.csv", good),
                    ("xau.csv", b"M\xe3,S\xf4 l\xfd\xf4ng,Ng\xe0y\nB1,1,\n"),
                ]),
                StatusCode::UNPROCESSABLE_ENTITY,
                "xau",
            ),
            (
                "parent path",
                zip_of(&[("datapackage.json", &descriptor(json!([csv_resource("a", "../etc/passwd")])))]),
                StatusCode::BAD_REQUEST,
                "../etc/passwd",
            ),
            (
                "absolute path",
                zip_of(&[("datapackage.json", &descriptor(json!([csv_resource("a", "/etc/passwd")])))]),
                StatusCode::BAD_REQUEST,
                "/etc/passwd",
            ),
            (
                "remote path",
                zip_of(&[("datapackage.json", &descriptor(json!([csv_resource("a", "http://example.com/a.csv")])))]),
                StatusCode::BAD_REQUEST,
                "package_url_hosts",
            ),
            (
                "no schema",
                zip_of(&[("datapackage.json", &descriptor(json!([{"name": "a", "path": "a.csv"}]))), ("a.csv", good)]),
                StatusCode::BAD_REQUEST,
                "does not guess",
            ),
            (
                "a type chiase cannot hold",
                descriptor(json!([{"name": "a", "data": [], "schema": {"fields": [{"name": "gio", "type": "time"}]}}])),
                StatusCode::BAD_REQUEST,
                "«gio»",
            ),
            (
                "101 resources",
                descriptor(Value::Array(
                    (0..101).map(|i| json!({"name": format!("r{i}"), "data": [], "schema": {"fields": [{"name": "x"}]}})).collect(),
                )),
                StatusCode::BAD_REQUEST,
                "at most 100",
            ),
            ("not a zip", b"PK\x03\x04 garbage".to_vec(), StatusCode::BAD_REQUEST, "zip"),
            ("not JSON", b"\xff\xfe".to_vec(), StatusCode::BAD_REQUEST, "UTF-8"),
        ];
        for (what, body, status, says) in cases {
            let r = post_package(&app, Some(&steward), "4", "application/zip", body).await;
            assert_eq!(r.status, status, "{engine:?} {what}: {}", r.text());
            let e = r.json()["error"].clone();
            assert!(r.text().contains(says), "{engine:?} {what}: {e}");
            assert!(!e["message"].as_str().unwrap().is_empty() && !e["message_en"].as_str().unwrap().is_empty(), "{what}: {e}");
            assert!(datasets_of(&app, 4).await.is_empty(), "{engine:?} {what}: nothing created");
        }
        // The report of a bad row names resource, row, field and value.
        let bad = zip_of(&[
            ("datapackage.json", &descriptor(two.clone())),
            ("tot.csv", good),
            ("xau.csv", "Mã,Số lượng,Ngày\nB1,ba,2025-01-02\n".as_bytes()),
        ]);
        let r = post_package(&app, Some(&steward), "4", "application/zip", bad).await.json();
        let resources = r["error"]["fields"]["report"]["resources"].clone();
        assert_eq!(resources[0]["errors"], json!([]));
        let e = &resources[1]["errors"][0];
        assert_eq!((e["row"].as_u64(), e["field"].as_str(), e["value"].as_str()), (Some(2), Some("so_luong"), Some("ba")), "{e}");
        assert!(!e["message"].as_str().unwrap().is_empty() && !e["message_en"].as_str().unwrap().is_empty());
        // After all that, the same ids are free: nothing was half made.
        let ok = zip_of(&[("datapackage.json", &descriptor(two)), ("tot.csv", good), ("xau.csv", good)]);
        let r = post_package(&app, Some(&steward), "4", "application/zip", ok).await;
        assert_eq!(r.status, StatusCode::CREATED, "{engine:?}: {}", r.text());
        let rows = get_as(&app, Some(&steward), "/api/v1/datasets/xau/records").await;
        assert_eq!(rows.json()["records"][0]["ma"], "A1", "{}", rows.text());
    }
}

#[tokio::test]
async fn a_zip_bomb_is_stopped_at_the_bound() {
    for engine in engines() {
        let app = TestApp::spawn_with(engine, |c| c.package_max_mib = 1).await;
        let steward = app.person("nv.steward", Some(&owner_of(&app, 4).await), Role::Steward, PASSWORD).await;
        let mut csv = b"M\xc3\xa3,S\xe1\xbb\x91 l\xc6\xb0\xe1\xbb\xa3ng,Ng\xc3\xa0y\n".to_vec();
        csv.resize(16 << 20, b'0');
        let bomb = zip_of(&[("datapackage.json", &descriptor(json!([csv_resource("a", "a.csv")]))), ("a.csv", &csv)]);
        assert!(bomb.len() < 1 << 20, "16 MiB of zeros compress below the bound");
        let r = post_package(&app, Some(&steward), "4", "application/zip", bomb).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
        assert!(r.text().contains("size limit"), "{}", r.text());
        // A body over the bound is a 413 before it is read whole.
        let r = post_package(&app, Some(&steward), "4", "application/zip", vec![b'P'; 2 << 20]).await;
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text());
        assert!(datasets_of(&app, 4).await.is_empty());
    }
}

/// A package served by a small web server on loopback: a descriptor whose
/// paths are relative, and a redirect.
async fn serve_files() -> std::net::SocketAddr {
    use axum::routing::get;
    let descriptor = descriptor(json!([csv_resource("tu-url", "data/a.csv"), csv_resource("tu-json", "data/b.json"), {
        "name": "noi-tuyen",
        "data": [["Mã", "Số lượng"], ["X1", 5]],
        "schema": {"fields": [{"name": "Mã", "type": "string"}, {"name": "Số lượng", "type": "integer"}]}
    }]));
    let app = axum::Router::new()
        .route("/p/datapackage.json", get(move || async move { descriptor.clone() }))
        .route("/p/data/a.csv", get(|| async { "Mã,Số lượng,Ngày\nU1,7,2025-05-01\n" }))
        .route("/p/data/b.json", get(|| async { r#"[{"Mã": "J1", "Số lượng": 9, "Ngày": "2025-05-02"}]"# }))
        .route("/moved/datapackage.json", get(|| async { axum::response::Redirect::temporary("http://example.com/datapackage.json") }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test]
async fn a_package_by_url_is_fetched_from_loopback_only() {
    let files = serve_files().await;
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let steward = app.person("nv.steward", Some(&owner_of(&app, 4).await), Role::Steward, PASSWORD).await;
        let url = |u: &str| json!({ "url": u }).to_string().into_bytes();
        for (u, says) in [
            (format!("http://{files}/moved/datapackage.json"), "not followed"),
            ("http://example.com/datapackage.json".to_string(), "loopback"),
            ("file:///etc/passwd".to_string(), "http"),
            (format!("http://{files}/nothing-here.json"), "404"),
        ] {
            let r = post_package(&app, Some(&steward), "4", "application/json", url(&u)).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{u}: {}", r.text());
            assert!(r.text().contains(says), "{u}: {}", r.text());
        }
        let r = post_package(&app, Some(&steward), "4", "application/json", b"{\"url\": 3}".to_vec()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(datasets_of(&app, 4).await.is_empty());
        let r = post_package(&app, Some(&steward), "4", "application/json", url(&format!("http://{files}/p/datapackage.json"))).await;
        assert_eq!(r.status, StatusCode::CREATED, "{engine:?}: {}", r.text());
        let rows = get_as(&app, Some(&steward), "/api/v1/datasets/tu-url/records").await.json();
        assert_eq!(rows["records"][0]["ma"], "U1", "{rows}");
        // JSON keys named as the package names them reach the renamed fields.
        let from_json = get_as(&app, Some(&steward), "/api/v1/datasets/tu-json/records").await.json();
        assert_eq!((&from_json["records"][0]["ma"], &from_json["records"][0]["so_luong"]), (&json!("J1"), &json!(9)), "{from_json}");
        let inline = get_as(&app, Some(&steward), "/api/v1/datasets/noi-tuyen/records").await.json();
        assert_eq!(inline["records"][0]["so_luong"], 5, "{inline}");
    }
}

#[tokio::test]
async fn a_hundred_resources_import_together() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let steward = app.person("nv.steward", Some(&owner_of(&app, 4).await), Role::Steward, PASSWORD).await;
        let resources: Vec<Value> = (0..100)
            .map(|i| json!({"name": format!("bang-{i}"), "data": [{"x": format!("giá trị {i}")}], "schema": {"fields": [{"name": "x"}]}}))
            .collect();
        let r = post_package(&app, Some(&steward), "4", "application/json; charset=utf-8", vec![]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "an empty JSON body: {}", r.text());
        let r = post_package(&app, Some(&steward), "4", "application/octet-stream", descriptor(Value::Array(resources))).await;
        assert_eq!(r.status, StatusCode::CREATED, "{engine:?}: {}", r.text());
        assert_eq!(r.json()["created"], 100);
        assert_eq!(datasets_of(&app, 4).await.len(), 100);
    }
}

/// A signed-in browser: the session cookie and its anti-forgery token.
async fn session_of(app: &TestApp, username: &str) -> (String, String) {
    let user = app.store().user(username).await.unwrap().expect("the user");
    let (sid, csrf) = app.store().create_session(&user).await.unwrap();
    (format!("{}={sid}", chiase_server::auth::SESSION_COOKIE), csrf)
}

/// The portal's form as a browser posts it: the token, a URL, then the file.
fn package_form(csrf: &str, url: &str, zip: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----chiase-test-boundary";
    let mut body = Vec::new();
    for (k, v) in [("csrf", csrf), ("url", url)] {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes());
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"goi.zip\"\r\nContent-Type: application/zip\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(zip);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn the_database_page_offers_its_stewards_a_package_form() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let nv = owner_of(&app, 4).await;
        app.person("nv.steward", Some(&nv), Role::Steward, PASSWORD).await;
        app.person("nv.member", Some(&nv), Role::Member, PASSWORD).await;
        let (cookie, csrf) = session_of(&app, "nv.steward").await;
        let page = app.request(Method::GET, "/databases/4", &[("cookie", &cookie)], vec![]).await;
        assert!(page.text().contains("/datapackage\""), "the database page links the form");
        let form = app.request(Method::GET, "/databases/4/datapackage", &[("cookie", &cookie)], vec![]).await;
        assert_eq!(form.status, StatusCode::OK);
        assert!(form.text().contains("enctype=\"multipart/form-data\""), "{}", form.text());
        // A member sees why there is no form.
        let (member, member_csrf) = session_of(&app, "nv.member").await;
        let blocked = app.request(Method::GET, "/databases/4/datapackage", &[("cookie", &member)], vec![]).await.text();
        assert!(!blocked.contains("enctype=") && blocked.contains("cán bộ quản lý dữ liệu"), "{blocked}");

        let bad = "Mã,Số lượng,Ngày\nB1,ba,\n".as_bytes();
        let zip = zip_of(&[("datapackage.json", &descriptor(json!([csv_resource("Hộ gia đình", "ho.csv")]))), ("ho.csv", bad)]);
        let (ct, body) = package_form(&member_csrf, "", &zip);
        let r = app.request(Method::POST, "/databases/4/datapackage", &[("cookie", &member), ("content-type", &ct)], body).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
        // A bad row: the page lists it, nothing is created.
        let (ct, body) = package_form(&csrf, "", &zip);
        let r = app.request(Method::POST, "/databases/4/datapackage", &[("cookie", &cookie), ("content-type", &ct)], body).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        assert!(r.text().contains("Hộ gia đình") && r.text().contains("<code>ba</code>"), "{}", r.text());
        assert!(datasets_of(&app, 4).await.is_empty());
        // Without the token: refused.
        let good = "Mã,Số lượng,Ngày\nB1,3,\n".as_bytes();
        let zip = zip_of(&[("datapackage.json", &descriptor(json!([csv_resource("Hộ gia đình", "ho.csv")]))), ("ho.csv", good)]);
        let (ct, body) = package_form("sai", "", &zip);
        let r = app.request(Method::POST, "/databases/4/datapackage", &[("cookie", &cookie), ("content-type", &ct)], body).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
        let (ct, body) = package_form(&csrf, "", &zip);
        let r = app.request(Method::POST, "/databases/4/datapackage", &[("cookie", &cookie), ("content-type", &ct)], body).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert!(r.text().contains("href=\"/datasets/ho-gia-dinh\""), "{}", r.text());
        assert_eq!(datasets_of(&app, 4).await, ["ho-gia-dinh"]);
    }
}
