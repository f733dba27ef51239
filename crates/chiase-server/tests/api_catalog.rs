//! The catalog API and pages over HTTP, on every engine.

mod common;

use axum::http::{Method, StatusCode};
use common::{TestApp, enc, engines};
use serde_json::Value;

fn modes(v: &Value) -> Vec<String> {
    v["sharing_modes"].as_array().unwrap().iter().map(|m| m.as_str().unwrap().to_string()).collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn nos(page: &Value) -> Vec<i64> {
    page["results"].as_array().unwrap().iter().map(|r| r["no"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn a_fresh_installation_serves_the_31_databases_of_decision_641() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let health = app.get_ok("/healthz").await;
        assert_eq!(health["status"], "ok");
        let page = app.get_ok("/api/v1/databases?limit=100").await;
        assert_eq!(page["count"], 31, "{engine:?}");
        let by_no = |n: i64| page["results"].as_array().unwrap().iter().find(|r| r["no"] == n).unwrap().clone();
        assert_eq!(sorted(modes(&by_no(14))), sorted(vec!["default".into(), "specific".into(), "open".into()]));
        assert_eq!(modes(&by_no(8)), vec!["legal"]);
        assert_eq!(modes(&by_no(13)), vec!["open"]);
        assert_eq!(modes(&by_no(24)), vec!["open"]);
        assert_eq!(sorted(modes(&by_no(25))), sorted(vec!["default".into(), "specific".into()]));
        for r in page["results"].as_array().unwrap() {
            for key in ["id", "no", "name", "owner", "sharing_modes", "cadence"] {
                assert!(!r[key].is_null(), "result lacks {key}: {r}");
            }
        }
    }
}

#[tokio::test]
async fn search_ranks_as_a_vietnamese_reader_expects() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        for (q, want) in [("dat dai", 12), ("ĐẤT ĐAI", 12), ("thu vien", 14), ("tram BTS", 25)] {
            let page = app.get_ok(&format!("/api/v1/databases?q={}", enc(q))).await;
            assert_eq!(nos(&page).first(), Some(&want), "{engine:?}: «{q}» → {:?}", nos(&page));
        }
    }
}

#[tokio::test]
async fn facets_carry_value_label_and_count_in_the_asked_language() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let page = app.get_ok("/api/v1/databases?sharing=open").await;
        assert_eq!(page["count"], 10, "{engine:?}");
        let sharing = page["facets"]["sharing"].as_array().unwrap();
        let open = sharing.iter().find(|f| f["value"] == "open").unwrap();
        assert_eq!(open["label"], "Dữ liệu mở");
        assert_eq!(open["count"], 10);
        for facet in ["agency", "sharing", "cadence"] {
            for f in page["facets"][facet].as_array().unwrap() {
                assert!(f["value"].is_string() && f["label"].is_string() && f["count"].is_i64(), "{facet}: {f}");
            }
        }
        let en = app.get_ok("/api/v1/databases?sharing=open&lang=en").await;
        assert!(en["facets"]["sharing"].as_array().unwrap().iter().any(|f| f["label"] == "Open data"));
        // Several values of one facet: any of them; two facets: both.
        let either = app.get_ok("/api/v1/databases?sharing=open,legal&limit=50").await;
        assert_eq!(either["count"], 15);
        let both = app.get_ok("/api/v1/databases?sharing=open&sharing=legal&cadence=yearly&limit=50").await;
        assert_eq!(nos(&both), vec![9, 10, 11, 12, 29]);
        let agency = app.get_ok("/api/v1/databases?agency=so-thong-tin-va-truyen-thong&limit=50").await;
        assert_eq!(nos(&agency), (20..=27).collect::<Vec<_>>());
    }
}

#[tokio::test]
async fn paging_visits_every_database_once() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let mut seen = vec![];
        for offset in (0..31).step_by(7) {
            let page = app.get_ok(&format!("/api/v1/databases?limit=7&offset={offset}")).await;
            seen.extend(nos(&page));
        }
        assert_eq!(seen, (1..=31).collect::<Vec<_>>(), "{engine:?}");
    }
}

#[tokio::test]
async fn bad_parameters_are_4xx_with_bilingual_messages_never_500() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        for path in [
            "/api/v1/databases?limit=abc",
            "/api/v1/databases?limit=0",
            "/api/v1/databases?limit=100000",
            "/api/v1/databases?offset=-5",
            "/api/v1/databases?sharing=public",
            "/api/v1/databases?cadence=weekly",
            "/api/v1/databases?shraing=open",
            "/api/v1/databases?lang=fr",
            "/api/v1/databases?q=a&q=b",
            "/api/v1/databases/14?as_of=31/02/2024",
            "/api/v1/agencies?status=sleeping",
            "/api/v1/catalog/versions/abc/diff/1",
            "/api/v1/catalog/versions/0",
        ] {
            let r = app.get(path).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{engine:?} {path}: {}", r.text());
            let e = r.json();
            assert!(e["error"]["code"].is_string(), "{path}");
            let (vi, en) = (e["error"]["message"].as_str().unwrap(), e["error"]["message_en"].as_str().unwrap());
            assert!(!vi.is_empty() && !en.is_empty() && vi != en, "{path}: a message in each language: {vi} / {en}");
        }
        for path in [
            "/api/v1/databases/99",
            "/api/v1/databases/khong-co",
            "/api/v1/agencies/khong-co",
            "/api/v1/catalog/versions/9",
            "/api/v1/catalog/versions/1/diff/9",
            "/api/v2/databases",
            "/api",
        ] {
            let r = app.get(path).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.text());
            assert!(r.json()["error"]["code"].is_string());
        }
        let r = app.request(Method::DELETE, "/api/v1/databases/14", &[], vec![]).await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(r.json()["error"]["code"], "method_not_allowed");
        // Odd but harmless searches are answered, not failed.
        for q in ["\"", "*", "NEAR(", "' OR 1=1 --", "ḍ̣̣̣", &"dữ liệu ".repeat(200), "%00", "đ"] {
            let r = app.get(&format!("/api/v1/databases?q={}", enc(q))).await;
            assert_eq!(r.status, StatusCode::OK, "{engine:?} q={q:?}: {}", r.text());
        }
    }
}

#[tokio::test]
async fn a_database_shows_verbatim_and_derived_fields_by_number_or_id() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let d = app.get_ok("/api/v1/databases/17").await;
        assert_eq!(d["name"], "CSDL ngành Công Thương");
        assert_eq!(d["owner"]["name"], "Sở Công thương");
        assert_eq!(modes(&d), vec!["open"]);
        assert_eq!(d["sharing_derivation"], "terms_of_use");
        assert!(d["terms_of_use"].as_str().unwrap().contains("ghi rõ nguồn"));
        assert!(d["verbatim"]["category"].as_str().unwrap().starts_with("<p>Người sử dụng"));
        assert_eq!(d["mechanism"]["items"].as_array().unwrap().len(), 2);
        assert_eq!(d["version"]["decision_no"], "641/QĐ-UBND");
        let id = d["id"].as_str().unwrap();
        let same = app.get_ok(&format!("/api/v1/databases/{id}")).await;
        assert_eq!(same["no"], 17, "{engine:?}");
    }
}

#[tokio::test]
async fn ownership_follows_a_merger_and_history_answers_as_of_a_date() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let on = "2025-07-01".parse().unwrap();
        chiase_server::usecase::agencies::merge(
            &app.state,
            &app.operator(),
            "so-thong-tin-va-truyen-thong",
            "so-khoa-hoc-va-cong-nghe",
            on,
        )
        .await
        .unwrap();
        let then = app.get_ok("/api/v1/databases/25?as_of=2024-01-01").await;
        assert_eq!(then["owner_as_of"]["owner"]["id"], "so-thong-tin-va-truyen-thong", "{engine:?}");
        assert_eq!(then["owner"]["id"], "so-khoa-hoc-va-cong-nghe");
        let now = app.get_ok("/api/v1/databases/25?as_of=01/08/2025").await;
        assert_eq!(now["owner_as_of"]["owner"]["id"], "so-khoa-hoc-va-cong-nghe");
        let before = app.get_ok("/api/v1/databases/25?as_of=2020-01-01").await;
        assert!(before["owner_as_of"]["owner"].is_null(), "nobody owned it in the catalog before the decision");
        let history = then["owner_history"].as_array().unwrap();
        assert_eq!(history.len(), 2);
        assert_eq!(history[0]["valid_to"], "2025-07-01");

        let old = app.get_ok("/api/v1/agencies/so-thong-tin-va-truyen-thong").await;
        assert_eq!(old["status"], "merged");
        assert_eq!(old["successor"]["id"], "so-khoa-hoc-va-cong-nghe");
        assert_eq!(old["former_databases"].as_array().unwrap().len(), 8);
        let merged = app.get_ok("/api/v1/agencies?status=merged").await;
        assert_eq!(merged["count"], 1);
        let list = app.get_ok("/api/v1/agencies").await;
        let kh = list["results"].as_array().unwrap().iter().find(|a| a["id"] == "so-khoa-hoc-va-cong-nghe").unwrap();
        assert_eq!(kh["database_count"], 9);
        let agency_facet = app.get_ok("/api/v1/databases?agency=so-khoa-hoc-va-cong-nghe&limit=50").await;
        assert_eq!(agency_facet["count"], 9);
    }
}

#[tokio::test]
async fn versions_are_listed_and_diffed_over_http() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let text = chiase_io::decision_table::BUILTIN_641.replace("\tCSDL khoáng sản\t", "\tCSDL khoáng sản và địa chất\t");
        let parsed = chiase_io::decision_table::parse_catalog("v2.txt", text.as_bytes()).unwrap();
        let decision =
            chiase_core::catalog::Decision { number: "99/QĐ-UBND".into(), date: "2024-05-01".parse().unwrap(), signer: None, title: None };
        let source = chiase_store::catalog::CatalogSource { name: "v2.txt".into(), sha256: parsed.sha256.clone(), title: None };
        chiase_server::usecase::catalog::import(&app.state, &app.operator(), &decision, &source, &parsed.entries).await.unwrap();
        let versions = app.get_ok("/api/v1/catalog/versions").await;
        assert_eq!(versions["count"], 2, "{engine:?}");
        let d = app.get_ok("/api/v1/catalog/versions/1/diff/2").await;
        assert_eq!(d["from"]["decision_no"], "641/QĐ-UBND");
        assert_eq!(d["added"][0]["name"], "CSDL khoáng sản và địa chất", "a renamed database is a new entry: {d}");
        assert_eq!(d["removed"][0]["name"], "CSDL khoáng sản");
        assert_eq!(d["unchanged"], 30);
        let back = app.get_ok("/api/v1/catalog/versions/2/diff/1").await;
        assert_eq!(back["added"][0]["name"], "CSDL khoáng sản");
    }
}

#[tokio::test]
async fn the_first_page_lists_the_catalog_in_vietnamese_with_search_and_facets() {
    for engine in engines() {
        let app = TestApp::spawn(engine).await;
        let r = app.get("/").await;
        assert_eq!(r.status, StatusCode::OK);
        let html = r.text();
        assert!(html.contains("<html lang=\"vi\">"));
        assert!(html.contains("Danh mục cơ sở dữ liệu dùng chung"));
        assert!(html.contains("ngày 06/06/2022"), "dates are dd/mm/yyyy");
        assert!(html.contains("Hình thức chia sẻ") && html.contains("Cơ quan chủ quản"));
        assert!(html.contains("1–20 / 31"));
        let r = app.get(&format!("/?q={}", enc("dat dai"))).await;
        let html = r.text();
        let first = html.find("CSDL đất đai").expect("entry 12 is listed");
        let second = html.find("CSDL Địa chính").expect("entry 8 is listed");
        assert!(first < second, "entry 12 ranks before entry 8");
        let en = app.get("/?lang=en").await.text();
        assert!(en.contains("Catalog of shared databases") && en.contains("<html lang=\"en\">"));
        let detail = app.get("/databases/25").await;
        assert_eq!(detail.status, StatusCode::OK);
        let html = detail.text();
        assert!(html.contains("Hệ thống Quản lý trạm BTS") && html.contains("06/06/2022"));
        assert!(html.contains("Lịch sử cơ quan chủ quản"));
        assert_eq!(app.get("/databases/999").await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.get("/no/such/page").await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.get("/?limit=abc").await.status, StatusCode::BAD_REQUEST);
        let css = app.get("/assets/chiase.css").await;
        assert_eq!(css.headers["content-type"], "text/css; charset=utf-8");
    }
}
