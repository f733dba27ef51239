//! DCAT (issue 12, item 2): the catalog as DCAT-AP 3 in Turtle, JSON-LD and
//! RDF/XML, paged with Hydra and filtered by `modified_since`; one catalog
//! database at `/dataset/{id}.*` with its hosted datasets as distributions;
//! the theme vocabulary; content negotiation on the portal's pages; the
//! theme a steward sets (API and form) and the proposal from the owner
//! agency; what a restricted dataset does not tell the public. The Python
//! check (rdflib on every serialisation, pySHACL with the DCAT-AP 3 shapes
//! in tests/fixtures/dcat-ap-3) runs when CHIASE_PYTHON names the tools.

mod common;

use axum::http::{Method, StatusCode};
use chiase_core::agency::FocalContact;
use chiase_core::policy::Role;
use chiase_server::auth::Caller;
use chiase_server::usecase::datasets::CreateDataset;
use chiase_store::databases::DatabaseKey;
use chiase_store::datasets::import::ImportMode;
use common::{TestApp, enc, engines};
use oxrdf::Triple;
use serde_json::{Value, json};

const PASSWORD: &str = "mật-khẩu-đủ-dài-2025";
/// Entry 26 (passive telecom infrastructure, Sở TT&TT): open among its modes.
const OPEN_ENTRY: i64 = 26;
const OPEN_OWNER: &str = "so-thong-tin-va-truyen-thong";
/// Entry 4 (civil servants, Sở Nội vụ): specific sharing only.
const RESTRICTED_ENTRY: i64 = 4;

const DCAT: &str = "http://www.w3.org/ns/dcat#";
const DCT: &str = "http://purl.org/dc/terms/";
const RDF_TYPE: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type";
const HYDRA: &str = "http://www.w3.org/ns/hydra/core#";
const SKOS: &str = "http://www.w3.org/2004/02/skos/core#";
const VCARD: &str = "http://www.w3.org/2006/vcard/ns#";
const FOAF: &str = "http://xmlns.com/foaf/0.1/";
const EU: &str = "http://publications.europa.eu/resource/authority/";

/// The triples of a Turtle document (a parse error fails the test).
fn turtle(body: &[u8]) -> Vec<Triple> {
    oxttl::TurtleParser::new().for_slice(body).collect::<Result<Vec<_>, _>>().unwrap_or_else(|e| {
        panic!("Turtle does not parse: {e}\n{}", String::from_utf8_lossy(body));
    })
}

/// The objects of `subject` `predicate`, written as N-Triples terms
/// (`<iri>`, `"text"@vi`, `"1"^^<…#integer>`).
fn objects(g: &[Triple], subject: &str, predicate: &str) -> Vec<String> {
    let s = format!("<{subject}>");
    let p = format!("<{predicate}>");
    g.iter().filter(|t| t.subject.to_string() == s && t.predicate.to_string() == p).map(|t| t.object.to_string()).collect()
}

/// The subjects typed `class`.
fn typed(g: &[Triple], class: &str) -> Vec<String> {
    let c = format!("<{class}>");
    g.iter().filter(|t| t.predicate.as_str() == RDF_TYPE && t.object.to_string() == c).map(|t| t.subject.to_string()).collect()
}

fn iri(s: &str) -> String {
    format!("<{s}>")
}

struct Setup {
    base: String,
    open_db: String,
    restricted_db: String,
    steward: String,
}

/// An open dataset with points in entry 26 and a restricted one with rows
/// in entry 4; the owner of entry 26 has a focal contact.
async fn setup(app: &TestApp) -> Setup {
    let open_db = app.store().database(&DatabaseKey::No(OPEN_ENTRY)).await.unwrap().unwrap().id;
    let restricted_db = app.store().database(&DatabaseKey::No(RESTRICTED_ENTRY)).await.unwrap().unwrap().id;
    app.create_dataset(CreateDataset {
        id: "tram-bts".into(),
        database: DatabaseKey::No(OPEN_ENTRY),
        title: "Trạm BTS \"trung tâm\"".into(),
        title_en: Some("BTS stations".into()),
        description: "Vị trí các trạm.\nDòng thứ hai <b>không phải HTML</b>.".into(),
        licence: Some("CC-BY-4.0".into()),
        sharing_mode: "open".parse().unwrap(),
        cadence: None,
        schema: serde_json::from_value(json!({
            "fields": [{"name": "ma", "type": "string"}, {"name": "vi_tri", "type": "geopoint"}],
            "primaryKey": "ma"
        }))
        .unwrap(),
        template: None,
        synthetic: false,
    })
    .await;
    let done = app.import("tram-bts", "x.csv", "ma,vi_tri\nB1,\"105.2,21.8\"\n".as_bytes().to_vec(), ImportMode::Append).await;
    assert!(matches!(done, Ok(chiase_server::usecase::imports::ImportOutcome::Done(_))), "{:?}", done.err().map(|e| e.msg));
    app.create_dataset(CreateDataset {
        id: "ho-so-can-bo".into(),
        database: DatabaseKey::No(RESTRICTED_ENTRY),
        title: "Hồ sơ cán bộ".into(),
        title_en: None,
        description: "Hồ sơ cán bộ, công chức.".into(),
        licence: None,
        sharing_mode: "specific".parse().unwrap(),
        cadence: None,
        schema: serde_json::from_value(json!({
            "fields": [{"name": "ma", "type": "string"}, {"name": "ho_ten", "type": "string"}],
            "primaryKey": "ma"
        }))
        .unwrap(),
        template: None,
        synthetic: false,
    })
    .await;
    // The rows arrive a second after the description: their time must not show.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let done = app.import("ho-so-can-bo", "x.csv", "ma,ho_ten\nCB1,Nguyễn Thị Bí Mật\n".as_bytes().to_vec(), ImportMode::Append).await;
    assert!(matches!(done, Ok(chiase_server::usecase::imports::ImportOutcome::Done(_))));
    let contact =
        FocalContact::parse(Some("Nguyễn Văn A"), Some("Phó Giám đốc"), Some("0207 3822 123"), Some("a@tuyenquang.gov.vn")).unwrap();
    chiase_server::usecase::agencies::set_contact(&app.state, &Caller::operator(), OPEN_OWNER, &contact).await.unwrap();
    let steward = app.person("tttt.steward", Some(OPEN_OWNER), Role::Steward, PASSWORD).await;
    Setup { base: format!("http://{}", app.addr), open_db, restricted_db, steward }
}

async fn get_rdf(app: &TestApp, path: &str, media: &str) -> Vec<u8> {
    let r = app.get(path).await;
    assert_eq!(r.status, StatusCode::OK, "GET {path}: {}", r.text());
    assert_eq!(r.headers["content-type"], format!("{media}; charset=utf-8"), "GET {path}");
    r.body
}

#[tokio::test]
async fn the_catalog_lists_every_database_with_hydra_paging_and_modified_since() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let s = setup(&app).await;
        let g = turtle(&get_rdf(&app, "/catalog.ttl", "text/turtle").await);
        let catalog = format!("{}/catalog", s.base);

        // Every entry of the decision is a dcat:Dataset the catalog lists.
        let datasets = typed(&g, &format!("{DCAT}Dataset"));
        assert_eq!(datasets.len(), 31, "{engine:?}");
        assert_eq!(objects(&g, &catalog, &format!("{DCAT}dataset")).len(), 31, "{engine:?}");
        assert!(datasets.contains(&iri(&format!("{}/dataset/{}", s.base, s.open_db))), "{engine:?}");
        assert_eq!(objects(&g, &catalog, &format!("{DCT}title")), [r#""Cổng dữ liệu tỉnh Tuyên Quang"@vi"#]);
        assert_eq!(objects(&g, &catalog, &format!("{FOAF}homepage")), [iri(&format!("{}/", s.base))]);

        // The three services, each serving the databases with open data (entry 26 only).
        let services = objects(&g, &catalog, &format!("{DCAT}service"));
        assert_eq!(services.len(), 3, "{engine:?}");
        let api = format!("{}/services/api", s.base);
        assert_eq!(objects(&g, &api, &format!("{DCAT}endpointURL")), [iri(&format!("{}/api/v1", s.base))]);
        assert_eq!(objects(&g, &api, &format!("{DCAT}endpointDescription")), [iri(&format!("{}/api/v1/openapi.json", s.base))]);
        let ckan = format!("{}/services/ckan", s.base);
        assert_eq!(objects(&g, &ckan, &format!("{DCAT}endpointURL")), [iri(&format!("{}/api/3/action/", s.base))]);
        assert_eq!(objects(&g, &ckan, &format!("{DCAT}servesDataset")), [iri(&format!("{}/dataset/{}", s.base, s.open_db))]);

        // Hydra: one page of 31.
        let page = format!("{}/catalog?page=1", s.base);
        assert_eq!(objects(&g, &page, RDF_TYPE), [iri(&format!("{HYDRA}PagedCollection"))]);
        assert_eq!(objects(&g, &page, &format!("{HYDRA}totalItems")), [r#""31"^^<http://www.w3.org/2001/XMLSchema#integer>"#]);
        assert_eq!(objects(&g, &page, &format!("{HYDRA}firstPage")), [iri(&page)]);
        assert_eq!(objects(&g, &page, &format!("{HYDRA}lastPage")), [iri(&page)]);
        assert!(objects(&g, &page, &format!("{HYDRA}nextPage")).is_empty(), "{engine:?}");
        assert!(objects(&g, &page, &format!("{HYDRA}previousPage")).is_empty(), "{engine:?}");

        // Past the last page, bad pages, bad times, unknown parameters: 4xx in both languages.
        for (path, status) in [
            ("/catalog.ttl?page=2", StatusCode::NOT_FOUND),
            ("/catalog.ttl?page=0", StatusCode::BAD_REQUEST),
            ("/catalog.jsonld?page=x", StatusCode::BAD_REQUEST),
            ("/catalog.rdf?modified_since=01%2F05%2F2024", StatusCode::BAD_REQUEST),
            ("/catalog.ttl?q=nong", StatusCode::BAD_REQUEST),
        ] {
            let r = app.get(path).await;
            assert_eq!(r.status, status, "{engine:?} {path}: {}", r.text());
            let e = r.json();
            assert!(e["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{path}: {e}");
            assert!(e["error"]["message_en"].as_str().is_some_and(|m| !m.is_empty()), "{path}: {e}");
        }

        // modified_since: a date long ago keeps all 31; a time after the
        // setup none; a change to one dataset's description brings its
        // database back, alone.
        let old = turtle(&get_rdf(&app, "/catalog.ttl?modified_since=2000-01-01", "text/turtle").await);
        assert_eq!(typed(&old, &format!("{DCAT}Dataset")).len(), 31, "{engine:?}");
        let since = (chrono::Utc::now() + chrono::Duration::seconds(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        let none = turtle(&get_rdf(&app, &format!("/catalog.ttl?modified_since={}", enc(&since)), "text/turtle").await);
        assert!(typed(&none, &format!("{DCAT}Dataset")).is_empty(), "{engine:?}");
        let none_page = format!("{}/catalog?page=1&modified_since={}", s.base, enc(&since));
        assert_eq!(objects(&none, &none_page, &format!("{HYDRA}totalItems")), [r#""0"^^<http://www.w3.org/2001/XMLSchema#integer>"#]);
        let r = patch(&app, &s.steward, "tram-bts", json!({"description": "Vị trí các trạm, cập nhật."})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let changed = turtle(&get_rdf(&app, &format!("/catalog.ttl?modified_since={}", enc(&since)), "text/turtle").await);
        assert_eq!(typed(&changed, &format!("{DCAT}Dataset")), [iri(&format!("{}/dataset/{}", s.base, s.open_db))], "{engine:?}");
    }
}

#[tokio::test]
async fn a_database_is_a_dcat_ap_dataset_with_its_hosted_datasets_as_distributions() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let s = setup(&app).await;
        let body = get_rdf(&app, &format!("/dataset/{}.ttl", s.open_db), "text/turtle").await;
        let text = String::from_utf8(body.clone()).expect("UTF-8");
        let g = turtle(&body);
        let d = format!("{}/dataset/{}", s.base, s.open_db);
        let agency = format!("{}/agencies/{OPEN_OWNER}", s.base);

        assert_eq!(objects(&g, &d, RDF_TYPE), [iri(&format!("{DCAT}Dataset"))]);
        assert_eq!(objects(&g, &d, &format!("{DCT}identifier")), [format!("\"{}\"", s.open_db)]);
        assert_eq!(objects(&g, &d, &format!("{DCAT}landingPage")), [iri(&format!("{}/databases/{}", s.base, s.open_db))]);
        assert_eq!(objects(&g, &d, &format!("{DCT}publisher")), [iri(&agency)]);
        assert_eq!(objects(&g, &agency, &format!("{FOAF}name")), [r#""Sở Thông tin và Truyền thông"@vi"#]);
        // The focal contact as a vCard.
        let contact = format!("{agency}#contact");
        assert_eq!(objects(&g, &d, &format!("{DCAT}contactPoint")), [iri(&contact)]);
        assert_eq!(objects(&g, &contact, &format!("{VCARD}fn")), [r#""Nguyễn Văn A"@vi"#]);
        assert_eq!(objects(&g, &contact, &format!("{VCARD}hasEmail")), ["<mailto:a@tuyenquang.gov.vn>"]);
        assert_eq!(objects(&g, &contact, &format!("{VCARD}hasTelephone")), ["<tel:02073822123>"]);
        // Its only hosted dataset is open: PUBLIC; the cadence from the catalog; the province; Vietnamese.
        assert_eq!(objects(&g, &d, &format!("{DCT}accessRights")), [iri(&format!("{EU}access-right/PUBLIC"))]);
        assert_eq!(objects(&g, &d, &format!("{DCT}accrualPeriodicity")).len(), 1);
        assert!(objects(&g, &d, &format!("{DCT}accrualPeriodicity"))[0].starts_with(&format!("<{EU}frequency/")));
        assert_eq!(objects(&g, &d, &format!("{DCT}spatial")), [iri(&format!("{}/spatial/tuyen-quang", s.base))]);
        assert_eq!(objects(&g, &d, &format!("{DCT}language")), [iri(&format!("{EU}language/VIE"))]);
        assert_eq!(objects(&g, &d, &format!("{DCT}issued")), [r#""2022-06-06"^^<http://www.w3.org/2001/XMLSchema#date>"#]);
        assert_eq!(objects(&g, &d, &format!("{DCT}modified")).len(), 1);
        // No theme set: the proposal from Sở Thông tin và Truyền thông, national and EU.
        let mut themes = objects(&g, &d, &format!("{DCAT}theme"));
        themes.sort();
        assert_eq!(themes, [iri(&format!("{}/themes/technology", s.base)), iri(&format!("{EU}data-theme/TECH"))]);
        assert!(!objects(&g, &d, &format!("{DCAT}keyword")).is_empty(), "{engine:?}");

        // Distributions: CSV, JSON, NDJSON, XLSX, GeoJSON (it has points) and the Data Package.
        let mut dists = objects(&g, &d, &format!("{DCAT}distribution"));
        dists.sort();
        let r = |x: &str| iri(&format!("{d}/resource/{x}"));
        assert_eq!(
            dists,
            [r("datapackage"), r("tram-bts/csv"), r("tram-bts/geojson"), r("tram-bts/json"), r("tram-bts/ndjson"), r("tram-bts/xlsx")],
            "{engine:?}"
        );
        let csv = format!("{d}/resource/tram-bts/csv");
        assert_eq!(objects(&g, &csv, &format!("{DCT}title")), [r#""Trạm BTS \"trung tâm\" (CSV)"@vi"#, r#""BTS stations (CSV)"@en"#]);
        assert_eq!(objects(&g, &csv, &format!("{DCT}description")), [r#""Vị trí các trạm.\nDòng thứ hai <b>không phải HTML</b>."@vi"#]);
        assert_eq!(objects(&g, &csv, &format!("{DCT}format")), [iri(&format!("{EU}file-type/CSV"))]);
        assert_eq!(objects(&g, &csv, &format!("{DCAT}mediaType")), ["<https://www.iana.org/assignments/media-types/text/csv>"]);
        assert_eq!(objects(&g, &csv, &format!("{DCT}license")), [iri(&format!("{EU}licence/CC_BY_4_0"))]);
        assert_eq!(objects(&g, &csv, &format!("{DCT}rights")), [iri(&format!("{}/sharing/open", s.base))]);
        assert_eq!(objects(&g, &csv, &format!("{DCAT}accessURL")), [iri(&format!("{}/datasets/tram-bts", s.base))]);
        let download = format!("{}/api/v1/datasets/tram-bts/export.csv", s.base);
        assert_eq!(objects(&g, &csv, &format!("{DCAT}downloadURL")), [iri(&download)]);
        assert!(objects(&g, &csv, &format!("{DCAT}byteSize")).is_empty(), "{engine:?}: an export's size is not known ahead");
        // Every download URL answers (the dataset is open).
        for dist in &dists {
            let dist = dist.trim_matches(['<', '>']);
            for url in objects(&g, dist, &format!("{DCAT}downloadURL")) {
                let path = url.trim_matches(['<', '>']).strip_prefix(&s.base).unwrap().to_string();
                assert_eq!(app.get(&path).await.status, StatusCode::OK, "{engine:?}: GET {path}");
            }
        }
        // Metadata only: no row is ever listed.
        assert!(!text.contains("B1"), "{engine:?}: {text}");

        // The EU concepts are typed as the shapes expect.
        assert_eq!(objects(&g, &format!("{EU}access-right/PUBLIC"), &format!("{SKOS}inScheme")), [iri(&format!("{EU}access-right"))]);

        // The same graph as JSON-LD and RDF/XML (rdflib compares them in the Python check).
        let jsonld = get_rdf(&app, &format!("/dataset/{}.jsonld", s.open_db), "application/ld+json").await;
        let v: Value = serde_json::from_slice(&jsonld).expect("JSON-LD is JSON");
        assert!(v["@graph"].as_array().is_some_and(|g| !g.is_empty()), "{engine:?}");
        let rdfxml = String::from_utf8(get_rdf(&app, &format!("/dataset/{}.rdf", s.open_db), "application/rdf+xml").await).unwrap();
        assert!(rdfxml.contains("Trạm BTS \"trung tâm\" (CSV)") || rdfxml.contains("Trạm BTS &quot;trung tâm&quot; (CSV)"), "{rdfxml}");

        // By number too; unknown databases and formats are 404.
        assert_eq!(app.get(&format!("/dataset/{OPEN_ENTRY}.ttl")).await.status, StatusCode::OK);
        assert_eq!(app.get("/dataset/khong-co.ttl").await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.get(&format!("/dataset/{}.xml", s.open_db)).await.status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn a_restricted_datasets_data_time_and_rows_stay_out_of_dcat() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let s = setup(&app).await;
        let listed = chiase_server::usecase::datasets::show(&app.state, &Caller::operator(), "ho-so-can-bo").await.unwrap();
        let data_time = listed.activity.unwrap().data_updated_at.unwrap();
        let described = listed.dataset.described_at;
        assert!(data_time.timestamp() > described.timestamp(), "the rows came after the description");
        let fmt = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);

        for path in [format!("/dataset/{}.ttl", s.restricted_db), "/catalog.ttl".to_string()] {
            let body = get_rdf(&app, &path, "text/turtle").await;
            let text = String::from_utf8(body.clone()).unwrap();
            assert!(!text.contains(&fmt(data_time)), "{engine:?} {path}: the data's time shows");
            assert!(!text.contains("Bí Mật"), "{engine:?} {path}: a row shows");
            let g = turtle(&body);
            let d = format!("{}/dataset/{}", s.base, s.restricted_db);
            assert_eq!(objects(&g, &d, &format!("{DCT}accessRights")), [iri(&format!("{EU}access-right/NON_PUBLIC"))]);
            let csv = format!("{d}/resource/ho-so-can-bo/csv");
            assert_eq!(
                objects(&g, &csv, &format!("{DCT}modified")),
                [format!("\"{}\"^^<http://www.w3.org/2001/XMLSchema#dateTime>", fmt(described))],
                "{engine:?} {path}: the description's time"
            );
            assert_eq!(objects(&g, &csv, &format!("{DCT}rights")), [iri(&format!("{}/sharing/specific", s.base))]);
            // A restricted database is served by no API without an account.
            assert!(!objects(&g, &format!("{}/services/api", s.base), &format!("{DCAT}servesDataset")).contains(&iri(&d)));
        }
        // Nor does the API tell the public when its rows last changed.
        let public = app.get_ok("/api/v1/datasets/ho-so-can-bo").await;
        assert_eq!(public["updated_at"], json!(described), "{engine:?}");
        assert_eq!(public["data_updated_at"], Value::Null);
        let listed = app.get_ok("/api/v1/datasets").await;
        let entry = listed["results"].as_array().unwrap().iter().find(|d| d["id"] == "ho-so-can-bo").unwrap().clone();
        assert_eq!(entry["updated_at"], json!(described), "{engine:?}");
        // The public's download of it is refused, as the API refuses it.
        assert_ne!(app.get("/api/v1/datasets/ho-so-can-bo/export.csv").await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn pages_answer_rdf_when_asked_and_link_their_rdf() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let s = setup(&app).await;
        let d = format!("{}/dataset/{}", s.base, s.open_db);
        for (page, accept, media) in [
            (format!("/databases/{}", s.open_db), "text/turtle", "text/turtle"),
            (format!("/databases/{OPEN_ENTRY}"), "application/rdf+xml", "application/rdf+xml"),
            ("/datasets/tram-bts".to_string(), "application/ld+json, text/html;q=0.5", "application/ld+json"),
            ("/datasets/tram-bts".to_string(), "text/turtle", "text/turtle"),
        ] {
            let r = app.request(Method::GET, &page, &[("accept", accept)], vec![]).await;
            assert_eq!(r.status, StatusCode::OK, "{engine:?} {page} {accept}");
            assert_eq!(r.headers["content-type"], format!("{media}; charset=utf-8"), "{engine:?} {page} {accept}");
            assert!(r.text().contains(&d), "{engine:?} {page}: the database's URI");
        }
        // A browser gets the page, which names its RDF; the answer varies with Accept.
        let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        for page in [format!("/databases/{}", s.open_db), "/datasets/tram-bts".to_string()] {
            let r = app.request(Method::GET, &page, &[("accept", browser)], vec![]).await;
            assert_eq!(r.status, StatusCode::OK);
            assert!(r.headers["content-type"].to_str().unwrap().starts_with("text/html"), "{engine:?} {page}");
            assert!(r.headers["vary"].to_str().unwrap().contains("Accept"), "{engine:?} {page}");
            let html = r.text();
            for (media, ext) in [("text/turtle", "ttl"), ("application/ld+json", "jsonld"), ("application/rdf+xml", "rdf")] {
                let link = format!(r#"<link rel="alternate" type="{media}" href="/dataset/{}.{ext}">"#, s.open_db);
                assert!(html.contains(&link), "{engine:?} {page}: {link}");
            }
        }
        // The home page names the catalog's RDF.
        let home = app.get("/").await.text();
        for (media, ext) in [("text/turtle", "ttl"), ("application/ld+json", "jsonld"), ("application/rdf+xml", "rdf")] {
            assert!(home.contains(&format!(r#"<link rel="alternate" type="{media}" href="/catalog.{ext}">"#)), "{engine:?}");
        }
        // The dataset URI: RDF when asked, else the page (303).
        let r = app.get(&format!("/dataset/{}", s.open_db)).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{engine:?}");
        assert_eq!(r.headers["location"], format!("/databases/{}", s.open_db));
        for odd in ["/dataset/a%0D%0ALocation:%20x", "/dataset/%C4%91%E1%BA%A5t"] {
            assert_eq!(app.get(odd).await.status, StatusCode::NOT_FOUND, "{engine:?}: {odd}");
        }
        let r = app.request(Method::GET, &format!("/dataset/{}", s.open_db), &[("accept", "text/turtle")], vec![]).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(!turtle(&r.body).is_empty());
        // /catalog and /themes without an extension: Turtle unless asked otherwise.
        let r = app.request(Method::GET, "/catalog", &[("accept", "application/ld+json")], vec![]).await;
        assert_eq!(r.headers["content-type"], "application/ld+json; charset=utf-8", "{engine:?}");
        let r = app.get("/themes").await;
        assert_eq!(r.headers["content-type"], "text/turtle; charset=utf-8", "{engine:?}");
        // A Host that cannot start a URI (and no public_url): a 400, not a broken document.
        let r = app.request(Method::GET, "/catalog.ttl", &[("host", "bad<host>")], vec![]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{engine:?}: {}", r.text());
        assert!(r.json()["error"]["message_en"].as_str().unwrap().contains("Host"));
    }
}

#[tokio::test]
async fn the_themes_are_a_skos_scheme_matched_to_the_eu_data_themes() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let base = format!("http://{}", app.addr);
        let g = turtle(&get_rdf(&app, "/themes.ttl", "text/turtle").await);
        let scheme = format!("{base}/themes");
        assert_eq!(objects(&g, &scheme, RDF_TYPE), [iri(&format!("{SKOS}ConceptScheme"))]);
        // The eleven the issue names.
        assert_eq!(objects(&g, &scheme, &format!("{SKOS}hasTopConcept")).len(), 11, "{engine:?}");
        let health = format!("{base}/themes/health");
        assert_eq!(objects(&g, &health, &format!("{SKOS}prefLabel")), [r#""Y tế"@vi"#, r#""Health"@en"#]);
        assert_eq!(objects(&g, &health, &format!("{SKOS}exactMatch")), [iri(&format!("{EU}data-theme/HEAL"))]);
        let energy = format!("{base}/themes/energy");
        assert_eq!(
            objects(&g, &energy, &format!("{SKOS}prefLabel")),
            [r#""Năng lượng và hạ tầng"@vi"#, r#""Energy and infrastructure"@en"#]
        );
        assert_eq!(objects(&g, &energy, &format!("{SKOS}closeMatch")), [iri(&format!("{EU}data-theme/ENER"))]);
        // A theme's URI dereferences to the scheme that defines it.
        let r = app.request(Method::GET, "/themes/health", &[("accept", "application/rdf+xml")], vec![]).await;
        assert_eq!(r.status, StatusCode::OK, "{engine:?}");
        assert_eq!(r.headers["content-type"], "application/rdf+xml; charset=utf-8");
        assert!(r.text().contains(&health), "{engine:?}");
        assert_eq!(app.get("/themes/transport").await.status, StatusCode::NOT_FOUND, "{engine:?}");
    }
}

async fn patch(app: &TestApp, token: &str, id: &str, body: Value) -> common::Resp {
    let auth = format!("Bearer {token}");
    let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
    app.request(Method::PATCH, &format!("/api/v1/datasets/{id}"), &headers, body.to_string().into_bytes()).await
}

/// The national themes a database's DCAT names.
async fn themes_of(app: &TestApp, s: &Setup) -> Vec<String> {
    let g = turtle(&get_rdf(app, &format!("/dataset/{}.ttl", s.open_db), "text/turtle").await);
    let mut t: Vec<String> = objects(&g, &format!("{}/dataset/{}", s.base, s.open_db), &format!("{DCAT}theme"))
        .into_iter()
        .filter_map(|t| t.strip_prefix(&format!("<{}/themes/", s.base)).map(|x| x.trim_end_matches('>').to_string()))
        .collect();
    t.sort();
    t
}

#[tokio::test]
async fn stewards_set_the_theme_through_the_api_and_the_form() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let s = setup(&app).await;

        // None set: the API shows the proposal beside it.
        let v = app.get_ok("/api/v1/datasets/tram-bts").await;
        assert_eq!(v["theme"], Value::Null, "{engine:?}");
        assert_eq!(v["theme_proposed"], "technology", "{engine:?}");
        assert_eq!(themes_of(&app, &s).await, ["technology"]);
        let page = app.get("/datasets/tram-bts").await.text();
        assert!(page.contains("<dd>Công nghệ <small class=\"muted\">(đề xuất theo cơ quan chủ quản)</small></dd>"), "{engine:?}");

        // Set through the API: DCAT follows.
        let r = patch(&app, &s.steward, "tram-bts", json!({"theme": "energy"})).await;
        assert_eq!(r.status, StatusCode::OK, "{engine:?}: {}", r.text());
        assert_eq!(r.json()["theme"], "energy");
        assert_eq!(themes_of(&app, &s).await, ["energy"], "{engine:?}");
        // Audited with its value before and after.
        let r = app
            .request(Method::GET, "/api/v1/audit?action=dataset_updated", &[("authorization", &format!("Bearer {}", s.steward))], vec![])
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let events = r.json()["results"].as_array().unwrap().clone();
        let detail = |e: &Value| e["detail"].as_str().map_or(e["detail"].clone(), |t| serde_json::from_str(t).unwrap());
        assert!(events.iter().any(|e| detail(e)["changes"]["theme"] == json!({"from": null, "to": "energy"})), "{engine:?}: {events:?}");
        // Refused: an unknown theme (400 in both languages), another agency's token.
        let r = patch(&app, &s.steward, "tram-bts", json!({"theme": "transport"})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{engine:?}: {}", r.text());
        assert!(r.json()["error"]["message_en"].as_str().unwrap().contains("transport"));
        let other = app.person("noivu.steward", Some("so-noi-vu"), Role::Steward, PASSWORD).await;
        let r = patch(&app, &other, "tram-bts", json!({"theme": "health"})).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{engine:?}");
        assert_eq!(app.store().dataset("tram-bts").await.unwrap().unwrap().theme.map(|t| t.code()), Some("energy"));
        // null removes it: the proposal again.
        let r = patch(&app, &s.steward, "tram-bts", json!({"theme": null})).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(themes_of(&app, &s).await, ["technology"], "{engine:?}");

        // The form: the proposal shown, the choice saved.
        let user = app.store().user("tttt.steward").await.unwrap().unwrap();
        let (sid, csrf) = app.store().create_session(&user).await.unwrap();
        let cookie = format!("{}={sid}", chiase_server::auth::SESSION_COOKIE);
        let html = app.request(Method::GET, "/datasets/tram-bts/edit", &[("cookie", &cookie)], vec![]).await.text();
        assert!(html.contains(r#"<select id="theme" name="theme""#), "{engine:?}");
        assert!(html.contains(r#"<strong id="theme-proposed">Công nghệ</strong>"#), "{engine:?}");
        assert!(html.contains(r#"<option value="education">Giáo dục</option>"#), "{engine:?}");
        let form = [
            ("csrf", csrf.as_str()),
            ("title", "Trạm BTS \"trung tâm\""),
            ("title_en", "BTS stations"),
            ("description", "Vị trí các trạm."),
            ("licence", "CC-BY-4.0"),
            ("licence_other", ""),
            ("cadence", "on_change"),
            ("sharing_mode", "open"),
            ("theme", "education"),
        ];
        let body = form.iter().map(|(k, v)| format!("{k}={}", enc(v))).collect::<Vec<_>>().join("&");
        let headers = [("cookie", cookie.as_str()), ("content-type", "application/x-www-form-urlencoded")];
        let r = app.request(Method::POST, "/datasets/tram-bts/edit", &headers, body.into_bytes()).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{engine:?}: {}", r.text());
        assert_eq!(themes_of(&app, &s).await, ["education"], "{engine:?}");
        let page = app.get("/datasets/tram-bts").await.text();
        assert!(page.contains("<dt>Lĩnh vực</dt><dd>Giáo dục</dd>"), "{engine:?}: the dataset's page shows its theme");
        let html = app.request(Method::GET, "/datasets/tram-bts/edit", &[("cookie", &cookie)], vec![]).await.text();
        assert!(html.contains(r#"<option value="education" selected>Giáo dục</option>"#), "{engine:?}");
    }
}

#[tokio::test]
async fn uris_start_with_public_url_when_it_is_set() {
    for engine in engines() {
        let app = TestApp::spawn_with(engine, |c| c.public_url = Some("https://dulieu.tuyenquang.gov.vn".into())).await;
        let g = turtle(&get_rdf(&app, "/catalog.ttl", "text/turtle").await);
        let datasets = typed(&g, &format!("{DCAT}Dataset"));
        assert_eq!(datasets.len(), 31, "{engine:?}");
        assert!(datasets.iter().all(|d| d.starts_with("<https://dulieu.tuyenquang.gov.vn/dataset/")), "{engine:?}: {datasets:?}");
        let r = app.request(Method::GET, "/catalog.ttl", &[("host", "ke-gia-mao.example")], vec![]).await;
        assert!(!r.text().contains("ke-gia-mao"), "{engine:?}: the Host header does not name the URIs");
    }
}

#[tokio::test]
async fn rdflib_reads_every_serialisation_and_pyshacl_finds_no_dcat_ap_violation() {
    let Some(python) = common::python_tools() else { return };
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let s = setup(&app).await;
        let shapes = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dcat-ap-3");
        let out = common::run_python(&python, "dcat_check.py", &[&s.base, &s.open_db, shapes.to_str().unwrap()], &[]).await;
        let last = out.lines().last().unwrap_or_default();
        let fields: Vec<&str> = last.split(' ').collect();
        assert_eq!(fields.first(), Some(&"ok"), "{engine:?}:\n{out}");
        assert_eq!(fields.get(2), Some(&"0"), "{engine:?}: SHACL violations:\n{out}");
        assert!(fields.get(1).and_then(|n| n.parse::<usize>().ok()).is_some_and(|n| n > 1000), "{engine:?}: {last}");
        eprintln!("{engine:?}: {last}");
    }
}
