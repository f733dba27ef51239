//! The storage contract for the catalog, run on SQLite and (when
//! CHIASE_TEST_DATABASE_URL is set) on PostgreSQL: same inputs, same answers.

use chiase_core::accounts::MergedUsers;
use chiase_core::catalog::{Cadence, Decision};
use chiase_core::sharing::SharingMode;
use chiase_io::decision_table::{BUILTIN_641, parse_catalog};
use chiase_store::catalog::CatalogSource;
use chiase_store::databases::{DatabaseKey, DatabaseQuery, MatchMode};
use chiase_store::testing::{Engine, TestDb, engines, operator};
use chiase_store::{Store, StoreError};
use chrono::NaiveDate;

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

async fn import(store: &Store, number: &str, on: &str, text: &str) -> Result<chiase_store::catalog::ImportSummary, StoreError> {
    let parsed = parse_catalog("catalog.txt", text.as_bytes()).expect("test catalog parses");
    let decision = Decision { number: number.into(), date: date(on), signer: Some("Chủ tịch UBND tỉnh".into()), title: None };
    let source = CatalogSource { name: "catalog.txt".into(), sha256: parsed.sha256.clone(), title: Some(parsed.title_lines.join("\n")) };
    store.import_catalog(&operator::catalog(), &decision, &source, &parsed.entries).await
}

async fn seeded(engine: Engine) -> TestDb {
    let db = TestDb::new(engine).await;
    import(&db.store, "641/QĐ-UBND", "2022-06-06", BUILTIN_641).await.expect("seed imports");
    db
}

fn q(text: &str) -> DatabaseQuery {
    DatabaseQuery { q: Some(text.into()), limit: 20, ..Default::default() }
}

async fn first_no(store: &Store, text: &str) -> Option<i64> {
    store.search_databases(&q(text)).await.unwrap().results.first().and_then(|r| r.no)
}

#[tokio::test]
async fn the_seed_imports_as_one_version_of_31_databases_and_12_agencies() {
    for engine in engines() {
        let db = seeded(engine).await;
        let page = db.store.search_databases(&DatabaseQuery { limit: 100, ..Default::default() }).await.unwrap();
        assert_eq!(page.count, 31, "{engine:?}");
        let numbers: Vec<i64> = page.results.iter().filter_map(|r| r.no).collect();
        assert_eq!(numbers, (1..=31).collect::<Vec<_>>(), "{engine:?}: listed in decision order");
        assert_eq!(db.store.agencies(&Default::default()).await.unwrap().len(), 12, "{engine:?}");
        let versions = db.store.catalog_versions().await.unwrap();
        assert_eq!(versions.len(), 1);
        assert_eq!(versions[0].decision_no, "641/QĐ-UBND");
        assert_eq!(versions[0].entry_count, 31);
        let e14 = db.store.database(&DatabaseKey::No(14)).await.unwrap().unwrap();
        assert_eq!(e14.sharing_modes, vec![SharingMode::Open, SharingMode::Default, SharingMode::Specific]);
        assert_eq!(e14.verbatim.no, "14");
        assert_eq!(db.store.database(&DatabaseKey::No(8)).await.unwrap().unwrap().sharing_modes, vec![SharingMode::Legal]);
        let by_id = db.store.database(&DatabaseKey::Id(e14.id.clone())).await.unwrap().unwrap();
        assert_eq!(by_id.no, Some(14));
        assert!(db.store.database(&DatabaseKey::No(32)).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn search_folds_diacritics_and_case_and_ranks_names_first() {
    for engine in engines() {
        let db = seeded(engine).await;
        assert_eq!(first_no(&db.store, "dat dai").await, Some(12), "{engine:?}");
        assert_eq!(first_no(&db.store, "ĐẤT ĐAI").await, Some(12), "{engine:?}");
        assert_eq!(first_no(&db.store, "Đất Đai").await, Some(12), "{engine:?}");
        assert_eq!(first_no(&db.store, "thu vien").await, Some(14), "{engine:?}");
        assert_eq!(first_no(&db.store, "tram BTS").await, Some(25), "{engine:?}");
        assert_eq!(first_no(&db.store, "trạm bts").await, Some(25), "{engine:?}");
        // Abbreviations match their long form and back.
        let long = db.store.search_databases(&q("co so du lieu cong chung")).await.unwrap();
        assert_eq!(long.results.first().and_then(|r| r.no), Some(7), "{engine:?}");
        // A word that is nowhere gives nothing, and query syntax is inert.
        assert_eq!(db.store.search_databases(&q("xyzzy")).await.unwrap().count, 0);
        assert_eq!(db.store.search_databases(&q("\"dat* OR (")).await.unwrap().results.first().and_then(|r| r.no), Some(12));
    }
}

#[tokio::test]
async fn when_no_database_has_every_word_any_word_matches() {
    for engine in engines() {
        let db = seeded(engine).await;
        let page = db.store.search_databases(&q("khoáng sản xyzzy")).await.unwrap();
        assert_eq!(page.matched, Some(MatchMode::Any), "{engine:?}");
        assert_eq!(page.results.first().and_then(|r| r.no), Some(11));
        let page = db.store.search_databases(&q("khoáng sản")).await.unwrap();
        assert_eq!(page.matched, Some(MatchMode::All));
    }
}

#[tokio::test]
async fn facets_count_under_the_same_filters() {
    for engine in engines() {
        let db = seeded(engine).await;
        let all = db.store.search_databases(&DatabaseQuery { limit: 5, ..Default::default() }).await.unwrap();
        let count = |facet: &[chiase_store::databases::FacetValue], v: &str| facet.iter().find(|f| f.value == v).map(|f| f.count);
        assert_eq!(count(&all.facets.sharing, "open"), Some(10), "{engine:?}");
        assert_eq!(count(&all.facets.sharing, "default"), Some(13));
        assert_eq!(count(&all.facets.sharing, "specific"), Some(14));
        assert_eq!(count(&all.facets.sharing, "legal"), Some(5));
        assert_eq!(count(&all.facets.cadence, "yearly"), Some(6));
        assert_eq!(count(&all.facets.agency, "so-thong-tin-va-truyen-thong"), Some(8));
        assert_eq!(all.facets.agency.iter().map(|f| f.count).sum::<i64>(), 31);
        assert_eq!(all.results.len(), 5, "limit applies to results, not to counts");

        let open =
            db.store.search_databases(&DatabaseQuery { sharing: vec![SharingMode::Open], limit: 50, ..Default::default() }).await.unwrap();
        let nos: Vec<i64> = open.results.iter().filter_map(|r| r.no).collect();
        assert_eq!(nos, vec![13, 14, 15, 16, 17, 24, 26, 28, 29, 31], "{engine:?}");
        assert_eq!(count(&open.facets.agency, "so-thong-tin-va-truyen-thong"), Some(2));

        let narrowed = db
            .store
            .search_databases(&DatabaseQuery {
                q: Some("du lich".into()),
                agencies: vec!["so-van-hoa-the-thao-va-du-lich".into()],
                cadences: vec![Cadence::OnChange],
                limit: 50,
                ..Default::default()
            })
            .await
            .unwrap();
        let nos: Vec<i64> = narrowed.results.iter().filter_map(|r| r.no).collect();
        assert_eq!(nos.first(), Some(&15), "{engine:?}");
        assert!(nos.iter().all(|n| [15, 16].contains(n)));
        assert_eq!(narrowed.facets.cadence.len(), 1);
    }
}

#[tokio::test]
async fn a_merger_moves_ownership_and_keeps_history() {
    for engine in engines() {
        let db = seeded(engine).await;
        let s = &db.store;
        let moved = s
            .merge_agency(
                &operator::agencies(),
                "so-thong-tin-va-truyen-thong",
                "so-khoa-hoc-va-cong-nghe",
                date("2025-07-01"),
                MergedUsers::Move,
            )
            .await
            .unwrap();
        assert_eq!(moved.databases_moved, 8, "{engine:?}");
        let bts = s.database(&DatabaseKey::No(25)).await.unwrap().unwrap();
        assert_eq!(bts.owner.id, "so-khoa-hoc-va-cong-nghe");
        assert_eq!(bts.owner_history.len(), 2);
        assert_eq!(bts.owner_history[0].agency.id, "so-thong-tin-va-truyen-thong");
        assert_eq!(bts.owner_history[0].valid_from, date("2022-06-06"));
        assert_eq!(bts.owner_history[0].valid_to, Some(date("2025-07-01")));
        assert_eq!(bts.owner_history[1].reason, "merger");
        // The new owner's name is searchable on its new databases.
        let page = s.search_databases(&q("trạm BTS khoa học")).await.unwrap();
        assert_eq!(page.results.first().and_then(|r| r.no), Some(25));
        assert_eq!(page.matched, Some(MatchMode::All));
        let old = s.agency("so-thong-tin-va-truyen-thong").await.unwrap().unwrap();
        assert_eq!(old.agency.status, "merged");
        assert_eq!(old.agency.successor.as_ref().map(|a| a.id.as_str()), Some("so-khoa-hoc-va-cong-nghe"));
        assert!(old.databases.is_empty());
        assert_eq!(old.former_databases.len(), 8);
        let new = s.agency("so-khoa-hoc-va-cong-nghe").await.unwrap().unwrap();
        assert_eq!(new.databases.len(), 9);
        assert_eq!(new.predecessors[0].id, "so-thong-tin-va-truyen-thong");
        assert!(new.events.iter().any(|e| e.kind == "absorbed"));
        // A merged agency cannot change again.
        assert!(matches!(
            s.rename_agency(&operator::agencies(), "so-thong-tin-va-truyen-thong", "X", date("2026-01-01")).await,
            Err(StoreError::Domain(_))
        ));
    }
}

#[tokio::test]
async fn a_rename_keeps_the_old_name_and_old_decisions_still_resolve() {
    for engine in engines() {
        let db = seeded(engine).await;
        let s = &db.store;
        s.rename_agency(&operator::agencies(), "so-noi-vu", "Sở Nội vụ tỉnh Tuyên Quang", date("2024-03-01")).await.unwrap();
        let a = s.agency("so-noi-vu").await.unwrap().unwrap();
        assert_eq!(a.agency.name, "Sở Nội vụ tỉnh Tuyên Quang");
        assert_eq!(a.names.len(), 2, "{engine:?}");
        assert_eq!(a.names[0].name, "Sở Nội vụ");
        assert_eq!(a.names[0].valid_to, Some(date("2024-03-01")));
        // Renaming to a date before the last change is refused.
        assert!(s.rename_agency(&operator::agencies(), "so-noi-vu", "Sở Nội vụ mới", date("2024-01-01")).await.is_err());
        // A later decision that still writes the old name means the same agency.
        let summary = import(s, "100/QĐ-UBND", "2025-01-10", BUILTIN_641).await.unwrap();
        assert!(summary.agencies_created.is_empty(), "{engine:?}: {:?}", summary.agencies_created);
        assert_eq!(summary.databases_added, 0);
        assert_eq!(summary.databases_updated, 31);
    }
}

#[tokio::test]
async fn a_new_decision_is_a_version_and_the_diff_is_field_by_field() {
    for engine in engines() {
        let db = seeded(engine).await;
        let s = &db.store;
        s.merge_agency(
            &operator::agencies(),
            "so-thong-tin-va-truyen-thong",
            "so-khoa-hoc-va-cong-nghe",
            date("2025-07-01"),
            MergedUsers::Move,
        )
        .await
        .unwrap();
        // The 2026 decision: entry 31 gone, 25 also open, a new 32.
        let mut text = BUILTIN_641.to_string();
        let line25 = text.lines().find(|l| l.starts_with("25\t")).unwrap().to_string();
        let new25 = line25
            .replace("Chia sẻ dữ liệu mặc định; chia sẻ dữ liệu đặc thù", "Dữ liệu mở; chia sẻ dữ liệu mặc định; chia sẻ dữ liệu đặc thù");
        text = text.replace(&line25, &new25);
        let line31 = text.lines().find(|l| l.starts_with("31\t")).unwrap().to_string();
        text = text
            .replace(&line31, "32\tCSDL chuyển đổi số\tSở Khoa học và Công nghệ\tDữ liệu chuyển đổi số\tCập nhật hằng năm\tDữ liệu mở\t");
        let summary = import(s, "200/QĐ-UBND", "2026-03-01", &text).await.unwrap();
        assert_eq!((summary.databases_added, summary.databases_updated, summary.databases_withdrawn), (1, 30, 1), "{engine:?}");
        assert_eq!(summary.version.id, 2);
        // The old owner's name in the new decision resolves to the successor.
        let bts = s.database(&DatabaseKey::No(25)).await.unwrap().unwrap();
        assert_eq!(bts.owner.id, "so-khoa-hoc-va-cong-nghe");
        assert_eq!(bts.sharing_modes, vec![SharingMode::Open, SharingMode::Default, SharingMode::Specific]);
        assert_eq!(bts.listed_in.len(), 2);

        let d = s.catalog_diff(1, 2).await.unwrap();
        assert_eq!(d.added.iter().map(|r| r.no).collect::<Vec<_>>(), vec![32], "{engine:?}");
        assert_eq!(d.removed.iter().map(|r| r.no).collect::<Vec<_>>(), vec![31]);
        assert_eq!(d.changed.len(), 1);
        assert_eq!(d.changed[0].key.no, 25);
        let fields: Vec<&str> = d.changed[0].changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, vec!["category", "sharing_modes"]);
        assert_eq!(d.changed[0].changes[1].old, "default, specific");
        assert_eq!(d.changed[0].changes[1].new, "open, default, specific");
        assert_eq!(d.unchanged, 29);

        // Withdrawn databases leave the listing and search, but keep their page.
        let all = s.search_databases(&DatabaseQuery { limit: 100, ..Default::default() }).await.unwrap();
        assert_eq!(all.count, 31);
        assert_eq!(
            s.search_databases(&q("cong trang thong tin dien tu cac")).await.unwrap().results.iter().filter(|r| r.no == Some(31)).count(),
            0
        );
        let withdrawn_id = d.removed[0].id.clone();
        let gone = s.database(&DatabaseKey::Id(withdrawn_id)).await.unwrap().unwrap();
        assert_eq!(gone.status, "withdrawn");
        assert_eq!(gone.no, None);
    }
}

#[tokio::test]
async fn refused_imports_and_changes_write_nothing() {
    for engine in engines() {
        let db = seeded(engine).await;
        let s = &db.store;
        assert!(matches!(import(s, "641/QĐ-UBND", "2022-06-06", BUILTIN_641).await, Err(StoreError::Domain(_))), "{engine:?}");
        assert!(matches!(import(s, "1/QĐ-UBND", "2021-01-01", BUILTIN_641).await, Err(StoreError::Domain(_))));
        assert_eq!(s.catalog_versions().await.unwrap().len(), 1);
        // Dissolving an owner without a successor would orphan its databases.
        let err = s.dissolve_agency(&operator::agencies(), "so-tu-phap", None, date("2025-07-01")).await.unwrap_err();
        assert!(matches!(err, StoreError::Domain(_)));
        assert_eq!(s.agency("so-tu-phap").await.unwrap().unwrap().agency.status, "active");
        // Merging into a missing agency changes nothing either.
        assert!(s.merge_agency(&operator::agencies(), "so-tu-phap", "khong-co", date("2025-07-01"), MergedUsers::Move).await.is_err());
        assert_eq!(s.database(&DatabaseKey::No(7)).await.unwrap().unwrap().owner.id, "so-tu-phap");
        // With a transfer, dissolution goes through.
        let t = s.dissolve_agency(&operator::agencies(), "so-tu-phap", Some("so-noi-vu"), date("2025-07-01")).await.unwrap();
        assert_eq!(t.databases_moved, 1);
        assert_eq!(s.database(&DatabaseKey::No(7)).await.unwrap().unwrap().owner_history[1].reason, "transfer");
    }
}

#[tokio::test]
async fn agencies_are_created_with_contacts_and_duplicates_refused() {
    for engine in engines() {
        let db = seeded(engine).await;
        let s = &db.store;
        let contact = chiase_core::agency::FocalContact::parse(
            Some("Nguyễn Thị Hoa"),
            Some("Chuyên viên"),
            Some("0207 3822 555"),
            Some("hoa@tuyenquang.gov.vn"),
        )
        .unwrap();
        let created = s
            .create_agency(
                &operator::agencies(),
                &chiase_store::agencies::NewAgency {
                    name: "Sở Dân tộc và Tôn giáo".into(),
                    established_on: Some(date("2025-03-01")),
                    contact,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(created.id, "so-dan-toc-va-ton-giao", "{engine:?}");
        let a = s.agency(&created.id).await.unwrap().unwrap();
        assert_eq!(a.agency.contact.email.as_deref(), Some("hoa@tuyenquang.gov.vn"));
        assert_eq!(a.agency.kind, "department");
        let dup = s
            .create_agency(&operator::agencies(), &chiase_store::agencies::NewAgency { name: "SỞ NỘI VỤ".into(), ..Default::default() })
            .await;
        assert!(matches!(dup, Err(StoreError::Domain(_))));
        // A merger into an agency established later than the merger date is refused.
        assert!(s.merge_agency(&operator::agencies(), "so-noi-vu", &created.id, date("2024-01-01"), MergedUsers::Move).await.is_err());
    }
}
