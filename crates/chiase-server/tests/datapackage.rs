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
