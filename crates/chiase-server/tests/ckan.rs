//! CKAN's Action API (issue 12 item 1), called the way CKAN's clients call
//! it: the envelope and error types by hand over HTTP, then the real
//! Python `ckanapi` client (`RemoteCKAN`: metadata actions, package_search
//! with fq, datastore_search paged to the end through `_links.next`,
//! datastore_upsert with a steward's token, a restricted resource refused).

mod common;

use axum::http::{Method, StatusCode};
use chiase_core::policy::Role;
use chiase_core::sharing::SharingMode;
use chiase_server::usecase::datasets::CreateDataset;
use chiase_store::databases::DatabaseKey;
use chiase_store::datasets::import::ImportMode;
use common::{TestApp, enc, engines};
use serde_json::{Value, json};

const OPEN: &str = "diem-quan-trac";
const RESTRICTED: &str = "ho-so-can-bo";
const SECRET: &str = "Nguyễn Thị Riêng Tư";

/// A catalog database that lists a restricted sharing mode, and that mode.
async fn restricted_database(app: &TestApp) -> (i64, SharingMode) {
    for no in 1..=31 {
        if let Some(d) = app.store().database(&DatabaseKey::No(no)).await.unwrap()
            && let Some(m) = d.sharing_modes.iter().find(|m| **m != SharingMode::Open)
        {
            return (no, *m);
        }
    }
    panic!("the built-in catalog has a restricted database");
}

async fn make(app: &TestApp, id: &str, no: i64, mode: SharingMode, schema: Value, csv: String) {
    app.create_dataset(CreateDataset {
        id: id.into(),
        database: DatabaseKey::No(no),
        title: format!("Tập dữ liệu {id}"),
        title_en: None,
        description: "Dữ liệu thử của giao diện CKAN".into(),
        licence: Some(if mode == SharingMode::Open { "CC-BY-4.0" } else { "restricted" }.into()),
        sharing_mode: mode,
        cadence: None,
        schema: serde_json::from_value(schema).unwrap(),
        template: None,
        synthetic: false,
    })
    .await;
    let done = app.import(id, "x.csv", csv.into_bytes(), ImportMode::Append).await;
    assert!(matches!(done, Ok(chiase_server::usecase::imports::ImportOutcome::Done(_))), "{id}");
}

/// An open dataset of 2,345 rows in database 29 and a restricted one, and
/// a token of a steward of the open dataset's owner.
async fn setup(app: &TestApp) -> String {
    let mut csv = String::from("ma,ten,huyen,pm25\n");
    for i in 0..2345 {
        csv.push_str(&format!("D{i:05},Điểm {i},{},{}.5\n", ["Yên Sơn", "Sơn Dương", "Hàm Yên"][i % 3], i % 90));
    }
    make(
        app,
        OPEN,
        29,
        SharingMode::Open,
        json!({"fields": [
            {"name": "ma", "title": "Mã điểm", "type": "string", "constraints": {"required": true}},
            {"name": "ten", "title": "Tên điểm", "type": "string", "searchable": true},
            {"name": "huyen", "title": "Huyện", "type": "string"},
            {"name": "pm25", "title": "Bụi PM2.5 (µg/m³)", "type": "number"}
        ], "primaryKey": ["ma"]}),
        csv,
    )
    .await;
    let (no, mode) = restricted_database(app).await;
    make(
        app,
        RESTRICTED,
        no,
        mode,
        json!({"fields": [
            {"name": "so", "type": "integer"},
            {"name": "ho_ten", "type": "string", "personal": "basic"}
        ], "primaryKey": ["so"]}),
        format!("so,ho_ten\n1,{SECRET}\n2,Trần Văn B\n"),
    )
    .await;
    let owner = app.store().dataset(OPEN).await.unwrap().unwrap().owner.id;
    app.person("can-bo-quan-trac", Some(&owner), Role::Steward, "mat-khau-rat-dai-1").await
}

async fn action(app: &TestApp, method: Method, name: &str, query: &str, body: Option<Value>, token: Option<&str>) -> (StatusCode, Value) {
    let mut headers = vec![];
    if body.is_some() {
        headers.push(("content-type", "application/json"));
    }
    if let Some(t) = token {
        headers.push(("authorization", t));
    }
    let r = app
        .request(
            method,
            &format!("/api/3/action/{name}{query}"),
            &headers,
            body.map(|b| serde_json::to_vec(&b).unwrap()).unwrap_or_default(),
        )
        .await;
    assert!(r.headers["content-type"].to_str().unwrap().starts_with("application/json"), "{name}: {:?}", r.headers);
    (r.status, r.json())
}

#[tokio::test]
async fn the_envelope_statuses_and_error_types_are_ckans() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let token = setup(&app).await;

        let (s, v) = action(&app, Method::GET, "status_show", "", None, None).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(v["success"], true);
        assert!(v["help"].as_str().unwrap().ends_with("/api/3/action/help_show?name=status_show"));
        assert_eq!(v["result"]["ckan_version"], "2.11.5");
        assert_eq!(v["result"]["locale_default"], "vi");

        // Both paths, GET and POST with a JSON body or a form body that is JSON.
        let list = app.get_ok("/api/action/package_list").await;
        assert_eq!(list["result"].as_array().unwrap().len(), 31, "{engine:?}");
        let form = app
            .request(
                Method::POST,
                "/api/action/package_list",
                &[("content-type", "application/x-www-form-urlencoded")],
                br#"{"limit": 2}"#.to_vec(),
            )
            .await;
        assert_eq!(form.json()["result"].as_array().unwrap().len(), 2);

        // Errors: unknown action (a bare string), not found, validation, search query, authorization.
        let r = app.get("/api/3/action/no_such_action").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.json(), json!("Bad request: Action name not known: no_such_action"));
        let r = app.get("/api/3/action/datastore_upsert?resource_id=x").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.json().as_str().unwrap().contains("Please use POST"));
        let (s, v) = action(&app, Method::GET, "package_show", "?id=khong-co", None, None).await;
        assert_eq!(
            (s, v["success"].clone(), v["error"]["__type"].clone()),
            (StatusCode::NOT_FOUND, json!(false), json!("Not Found Error"))
        );
        assert!(v["error"]["message"].as_str().unwrap().starts_with("Not found: "));
        assert!(v.get("result").is_none());
        let (s, v) = action(&app, Method::GET, "package_show", "", None, None).await;
        assert_eq!((s, v["error"]["__type"].clone()), (StatusCode::CONFLICT, json!("Validation Error")));
        assert!(v["error"]["id"].is_array());
        let (s, v) = action(&app, Method::GET, "package_search", &format!("?fq={}", enc("organization:(a")), None, None).await;
        assert_eq!((s, v["error"]["__type"].clone()), (StatusCode::BAD_REQUEST, json!("Search Query Error")));
        let (s, v) = action(&app, Method::GET, "package_search", "?bogus=1", None, None).await;
        assert_eq!((s, v["error"]["__type"].clone()), (StatusCode::BAD_REQUEST, json!("Search Query Error")));
        let (s, v) = action(&app, Method::GET, "datastore_search", &format!("?resource_id={RESTRICTED}"), None, None).await;
        assert_eq!((s, v["error"]["__type"].clone()), (StatusCode::FORBIDDEN, json!("Authorization Error")), "{v}");
        assert!(!v.to_string().contains(SECRET));
        // A bad token is an authorization error, not the public.
        let (s, v) = action(&app, Method::GET, "package_list", "", None, Some("khong-phai-token")).await;
        assert_eq!((s, v["error"]["__type"].clone()), (StatusCode::FORBIDDEN, json!("Authorization Error")));
        // A write without a token: refused, nothing written.
        let (s, v) = action(
            &app,
            Method::POST,
            "datastore_upsert",
            "",
            Some(json!({"resource_id": OPEN, "records": [{"ma": "D00001", "ten": "Đổi"}]})),
            None,
        )
        .await;
        assert_eq!((s, v["error"]["__type"].clone()), (StatusCode::FORBIDDEN, json!("Authorization Error")), "{v}");
        let rec = app.get_ok(&format!("/api/v1/datasets/{OPEN}/records/D00001")).await;
        assert_eq!(rec["ten"], "Điểm 1");
        // Unknown datastore_search keys: 409 naming them.
        let (s, v) = action(&app, Method::GET, "datastore_search", &format!("?resource_id={OPEN}&nope=1"), None, None).await;
        assert_eq!(s, StatusCode::CONFLICT);
        assert!(v["error"]["nope"].is_array());

        // JSONP is answered as to the public, whatever the credentials.
        let r = app
            .request(
                Method::GET,
                &format!("/api/3/action/datastore_search?resource_id={RESTRICTED}&callback=cb"),
                &[("authorization", &token)],
                vec![],
            )
            .await;
        assert!(r.text().starts_with("/**/cb("), "{}", r.text());
        assert!(r.text().contains("Authorization Error") && !r.text().contains(SECRET));

        // package_show: the database with its resources (datasets) and download URLs.
        let (_, v) = action(&app, Method::GET, "package_show", "?id=29", None, None).await;
        let p = &v["result"];
        assert_eq!(p["type"], "dataset");
        assert_eq!(p["private"], false);
        let res = p["resources"].as_array().unwrap().iter().find(|r| r["id"] == OPEN).expect("the dataset is a resource");
        assert_eq!(res["datastore_active"], true);
        assert_eq!(res["row_count"], 2345);
        assert!(res["url"].as_str().unwrap().ends_with(&format!("/api/v1/datasets/{OPEN}/export.csv")));
        assert!(res["download_urls"]["xlsx"].as_str().unwrap().ends_with("export.xlsx"));
        // The restricted resource is listed (its metadata is public) but its row count is not.
        let (no, _) = restricted_database(&app).await;
        let (_, v) = action(&app, Method::GET, "resource_show", &format!("?id={RESTRICTED}"), None, None).await;
        assert_eq!(v["result"]["row_count"], Value::Null);
        assert_eq!(v["result"]["last_modified"], Value::Null);
        let (_, v) = action(&app, Method::GET, "package_show", &format!("?id={no}"), None, None).await;
        assert!(v["result"]["resources"].as_array().unwrap().iter().any(|r| r["id"] == RESTRICTED));

        // package_search: fq by organization, groups, tags, res_format; facets.
        let owner = p["owner_org"].as_str().unwrap().to_string();
        let (_, v) = action(
            &app,
            Method::GET,
            "package_search",
            &format!(
                "?fq={}&facet.field={}&rows=5",
                enc(&format!("organization:{owner} res_format:CSV")),
                enc(r#"["organization","groups"]"#)
            ),
            None,
            None,
        )
        .await;
        let r = &v["result"];
        assert!(r["count"].as_i64().unwrap() >= 1);
        assert!(r["results"].as_array().unwrap().iter().all(|p| p["owner_org"] == owner.as_str()));
        assert_eq!(r["facets"]["organization"][&owner], r["count"]);
        assert!(r["search_facets"]["groups"]["items"].as_array().unwrap().iter().all(|i| i["count"].as_i64().unwrap() >= 1));
        let (_, all) = action(&app, Method::GET, "package_search", "?rows=1000", None, None).await;
        let (_, not_owner) =
            action(&app, Method::GET, "package_search", &format!("?rows=1000&fq={}", enc(&format!("-organization:{owner}"))), None, None)
                .await;
        assert_eq!(all["result"]["count"].as_i64().unwrap(), r["count"].as_i64().unwrap() + not_owner["result"]["count"].as_i64().unwrap());
        let (_, modified) = action(
            &app,
            Method::GET,
            "package_search",
            &format!("?fq={}", enc("metadata_modified:[2000-01-01T00:00:00Z TO *]")),
            None,
            None,
        )
        .await;
        assert_eq!(modified["result"]["count"], all["result"]["count"]);
        // Free text, without diacritics, finds Vietnamese titles.
        let (_, v) = action(&app, Method::GET, "package_search", &format!("?q={}", enc("can bo cong chuc")), None, None).await;
        assert!(v["result"]["count"].as_i64().unwrap() >= 1, "{v}");

        // The steward upserts (a partial record keeps its other fields) and deletes by filter.
        let (s, v) = action(
            &app,
            Method::POST,
            "datastore_upsert",
            "",
            Some(json!({"resource_id": OPEN, "method": "upsert", "records": [{"ma": "D00001", "ten": "Điểm đã đổi"}, {"ma": "M1", "ten": "Mới", "pm25": 1}]})),
            Some(&token),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let rec = app.get_ok(&format!("/api/v1/datasets/{OPEN}/records/D00001")).await;
        assert_eq!((rec["ten"].clone(), rec["huyen"].clone()), (json!("Điểm đã đổi"), json!("Sơn Dương")));
        let (s, v) = action(
            &app,
            Method::POST,
            "datastore_upsert",
            "",
            Some(json!({"resource_id": OPEN, "method": "update", "records": [{"ma": "KHONG-CO", "ten": "x"}]})),
            Some(&token),
        )
        .await;
        assert_eq!((s, v["error"]["__type"].clone()), (StatusCode::CONFLICT, json!("Validation Error")), "{v}");
        let (s, v) = action(&app, Method::POST, "datastore_delete", "", Some(json!({"resource_id": OPEN})), Some(&token)).await;
        assert_eq!(s, StatusCode::CONFLICT, "{v}");
        let (s, v) =
            action(&app, Method::POST, "datastore_delete", "", Some(json!({"resource_id": OPEN, "filters": {"ma": "M1"}})), Some(&token))
                .await;
        assert_eq!((s, v["result"]["deleted"].clone()), (StatusCode::OK, json!(1)), "{v}");
        assert_eq!(app.get(&format!("/api/v1/datasets/{OPEN}/records/M1")).await.status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn datastore_search_pages_to_the_end_with_links_next_page_and_offset() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        setup(&app).await;
        let mut url = format!("/api/3/action/datastore_search?resource_id={OPEN}&limit=1000");
        let mut seen = std::collections::BTreeSet::new();
        let mut pages = 0;
        loop {
            let v = app.get_ok(&url).await;
            let r = &v["result"];
            assert_eq!(r["total"], 2345);
            for rec in r["records"].as_array().unwrap() {
                assert!(seen.insert(rec["ma"].as_str().unwrap().to_string()), "a row twice");
            }
            pages += 1;
            match r["_links"]["next"].as_str() {
                Some(next) => url = next.to_string(),
                None => break,
            }
            assert!(r["next_page"]["_after"].is_string());
        }
        assert_eq!((seen.len(), pages), (2345, 3), "{engine:?}");
        // Offset alone gives the same rows as the cursor.
        let by_offset = app.get_ok(&format!("/api/3/action/datastore_search?resource_id={OPEN}&limit=5&offset=2000")).await;
        let first = by_offset["result"]["records"][0]["_id"].as_i64().unwrap();
        let all = app.get_ok(&format!("/api/3/action/datastore_search?resource_id={OPEN}&limit=2001")).await;
        assert_eq!(all["result"]["records"][2000]["_id"].as_i64().unwrap(), first);
        // Filters (plain, list, range), q, fields, sort, distinct.
        let v = app
            .get_ok(&format!(
                "/api/3/action/datastore_search?resource_id={OPEN}&filters={}&fields=ma,pm25&sort={}&limit=3",
                enc(r#"{"huyen": ["Yên Sơn", "Hàm Yên"], "pm25": {"gte": 80}}"#),
                enc("pm25 desc, ma")
            ))
            .await;
        let recs = v["result"]["records"].as_array().unwrap();
        assert_eq!(recs[0]["pm25"], 89.5);
        assert!(recs[0].get("ten").is_none());
        assert_eq!(v["result"]["fields"][0], json!({"id": "_id", "type": "int"}));
        let d = app.get_ok(&format!("/api/3/action/datastore_search?resource_id={OPEN}&fields=huyen&distinct=true")).await;
        assert_eq!(d["result"]["total"], 3);
        let q = app.get_ok(&format!("/api/3/action/datastore_search?resource_id={OPEN}&q={}", enc("diem 1234"))).await;
        assert_eq!(q["result"]["records"][0]["ma"], "D01234");
    }
}

/// The real client: `ckanapi.RemoteCKAN`, as an agency's script uses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_ckanapi_client_works_against_chiase() {
    let Some(python) = common::python_tools() else { return };
    let app = TestApp::spawn(common::Engine::Sqlite).await;
    let token = setup(&app).await;
    let base = format!("http://{}", app.addr);
    let out = common::run_python(&python, "ckan_client.py", &[&base, &token, OPEN, RESTRICTED], &[]).await;
    assert!(out.contains("ckanapi: all checks passed"), "{out}");
    let rec = app.get_ok(&format!("/api/v1/datasets/{OPEN}/records/PY-1")).await;
    assert_eq!(rec["ten"], "Từ ckanapi");
}
