//! Catalog search on 10,000 synthetic entries, in process, through the
//! same `Store::search_databases` the API calls (ranked full text plus the
//! three facet counts). Prints percentiles per query and for the whole mix.
//!
//!     cargo bench -p chiase-store --bench catalog_search
//!     CHIASE_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1/postgres cargo bench -p chiase-store --bench catalog_search
//!
//! The entries are derived deterministically from the 31 of Decision 641:
//! each copy gets a commune or district in its name, an owner among ~250
//! agencies and a few extra words, so that the vocabulary and the lengths
//! are those of real catalog text.

use std::time::{Duration, Instant};

use chiase_core::catalog::{CatalogRow, Decision, derive_entry};
use chiase_core::sharing::SharingMode;
use chiase_io::decision_table::{BUILTIN_641, parse_catalog};
use chiase_store::catalog::CatalogSource;
use chiase_store::databases::DatabaseQuery;
use chiase_store::testing::{Engine, TestDb};

const ENTRIES: usize = 10_000;
const ROUNDS: usize = 40;

const PLACES: &[&str] = &[
    "Thành phố Tuyên Quang",
    "huyện Yên Sơn",
    "huyện Sơn Dương",
    "huyện Hàm Yên",
    "huyện Chiêm Hóa",
    "huyện Na Hang",
    "huyện Lâm Bình",
    "xã Tân Trào",
    "xã Kim Bình",
    "xã Thượng Lâm",
    "phường Phan Thiết",
    "phường Ỷ La",
    "xã Lăng Can",
    "xã Hồng Thái",
    "xã Minh Quang",
    "tỉnh Hà Giang",
    "huyện Đồng Văn",
    "huyện Mèo Vạc",
    "huyện Quản Bạ",
    "huyện Bắc Quang",
];
const EXTRA: &[&str] = &[
    "số hóa hồ sơ",
    "kết nối liên thông",
    "bản đồ số",
    "báo cáo thống kê",
    "dịch vụ công trực tuyến",
    "quản lý tài sản",
    "dữ liệu không gian",
    "văn bản điện tử",
    "cơ sở vật chất",
    "nguồn nhân lực",
    "an toàn thông tin",
    "chuyển đổi số",
];

struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n
    }
}

fn synthetic_entries() -> Vec<(CatalogRow, chiase_core::catalog::EntryFields)> {
    let seed = parse_catalog("641.txt", BUILTIN_641.as_bytes()).expect("seed parses");
    let mut rng = Lcg(20240601);
    (0..ENTRIES)
        .map(|i| {
            let (base, _) = &seed.entries[i % seed.entries.len()];
            let place = PLACES[rng.next(PLACES.len())];
            let owner = if rng.next(3) == 0 { format!("UBND {} số {}", place, rng.next(12)) } else { base.owner.clone() };
            let row = CatalogRow {
                no: (i + 1).to_string(),
                name: format!("{} {} ({})", base.name, place, i + 1),
                owner,
                description: format!("{} {} {}", base.description, EXTRA[rng.next(EXTRA.len())], EXTRA[rng.next(EXTRA.len())]),
                mechanism: base.mechanism.clone(),
                category: base.category.clone(),
                notes: String::new(),
                line: i + 1,
            };
            let fields = derive_entry(&row).expect("synthetic row derives");
            (row, fields)
        })
        .collect()
}

fn query(q: Option<&str>, sharing: &[SharingMode]) -> DatabaseQuery {
    DatabaseQuery { q: q.map(str::to_string), sharing: sharing.to_vec(), limit: 20, ..Default::default() }
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let engine = if std::env::var("CHIASE_BENCH_DATABASE_URL").is_ok() {
            // SAFETY: single-threaded set-up before any test database is created.
            unsafe { std::env::set_var("CHIASE_TEST_DATABASE_URL", std::env::var("CHIASE_BENCH_DATABASE_URL").unwrap()) };
            Engine::Postgres
        } else {
            Engine::Sqlite
        };
        let db = TestDb::new(engine).await;
        let entries = synthetic_entries();
        let started = Instant::now();
        let decision = Decision { number: "BENCH/QĐ-UBND".into(), date: "2026-01-01".parse().unwrap(), signer: None, title: None };
        let source = CatalogSource { name: "synthetic".into(), sha256: String::new(), title: None };
        db.store.import_catalog(&chiase_store::testing::operator::catalog(), &decision, &source, &entries).await.expect("import");
        println!("engine: {engine:?}; imported {} entries in {:.1} s", entries.len(), started.elapsed().as_secs_f64());

        let mix: Vec<(&str, DatabaseQuery)> = vec![
            ("list, no query (first page + facets)", query(None, &[])),
            ("list, sharing=open", query(None, &[SharingMode::Open])),
            ("q=dat dai", query(Some("dat dai"), &[])),
            ("q=ĐẤT ĐAI", query(Some("ĐẤT ĐAI"), &[])),
            ("q=thu vien", query(Some("thu vien"), &[])),
            ("q=tram BTS", query(Some("tram BTS"), &[])),
            ("q=công chứng", query(Some("công chứng"), &[])),
            ("q=khoang san ha giang", query(Some("khoang san ha giang"), &[])),
            ("q=du lich + sharing=open", query(Some("du lich"), &[SharingMode::Open])),
            ("q=co so du lieu (matches all)", query(Some("co so du lieu"), &[])),
            ("q=xyzzy (no hit, falls back to any word)", query(Some("xyzzy plugh"), &[])),
            ("q=chuyen doi so yen son", query(Some("chuyen doi so yen son"), &[])),
        ];
        // Warm the caches once.
        for (_, q) in &mix {
            db.store.search_databases(q).await.unwrap();
        }
        let mut all = Vec::new();
        println!("\n| query | count | p50 ms | p90 ms | p99 ms |\n|---|---:|---:|---:|---:|");
        for (label, q) in &mix {
            let mut times = Vec::with_capacity(ROUNDS);
            let mut count = 0;
            for _ in 0..ROUNDS {
                let t = Instant::now();
                let page = db.store.search_databases(q).await.unwrap();
                times.push(t.elapsed());
                count = page.count;
            }
            times.sort();
            println!("| {label} | {count} | {} | {} | {} |", ms(pct(&times, 0.5)), ms(pct(&times, 0.9)), ms(pct(&times, 0.99)));
            all.extend(times);
        }
        all.sort();
        println!(
            "| **whole mix** ({} searches) | | **{}** | {} | {} |",
            all.len(),
            ms(pct(&all, 0.5)),
            ms(pct(&all, 0.9)),
            ms(pct(&all, 0.99))
        );
    });
}
