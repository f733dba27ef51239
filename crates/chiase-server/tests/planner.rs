//! The record planner against brute force: hundreds of random queries
//! (filters of every operator, full text, bounding boxes, sorts on nullable
//! fields both ways, any page size) are paged to the end through `next`,
//! and what comes back must be exactly the rows a plain filter-and-sort in
//! Rust gives, in the same order — whichever path the store took (exact
//! walk, walk, gather, partial walk). The planner's bounds are shrunk so
//! that a few thousand rows reach every path. On every engine.

mod common;

use std::collections::{BTreeMap, HashMap};

use chiase_server::usecase::datasets::CreateDataset;
use chiase_server::usecase::imports::ImportOutcome;
use chiase_store::databases::DatabaseKey;
use chiase_store::datasets::import::ImportMode;
use chiase_store::datasets::plan::Bounds;
use chiase_store::testing::{operator_data, reveal};
use common::{TestApp, engines};
use serde_json::json;

const ROWS: usize = 1_500;
const WORDS: [&str; 6] = ["alpha", "bravo", "delta", "gamma", "kilo", "sierra"];
const GROUPS: [&str; 5] = ["nam", "bac", "dong", "tay", "giua"];

/// A row as generated: the brute-force side keeps these.
#[derive(Debug, Clone)]
struct Row {
    id: i64,
    ten: String,
    nhom: String,
    so: Option<f64>,
    ngay: Option<String>,
    co: Option<bool>,
    lat: f64,
    lon: f64,
}

/// A small deterministic generator (no dependency, same rows every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
}

fn make_row(g: &mut Lcg, id: i64) -> Row {
    // Skewed groups: "nam" is most of the rows, "giua" very few.
    let nhom = match g.below(100) {
        0..=59 => "nam",
        60..=79 => "bac",
        80..=91 => "dong",
        92..=98 => "tay",
        _ => "giua",
    };
    let ten = format!("{}{:04} {} {}", g.pick(&["tram", "tru", "cot"]), g.below(3000), g.pick(&WORDS), g.pick(&WORDS));
    let so = (g.below(10) > 1).then(|| (g.below(40) as f64) / 4.0);
    let ngay = (g.below(10) > 2).then(|| format!("2020-{:02}-{:02}", 1 + g.below(12), 1 + g.below(28)));
    let co = match g.below(3) {
        0 => None,
        1 => Some(true),
        _ => Some(false),
    };
    // A dense city and a sparse countryside.
    let (lat, lon) = if g.below(10) < 7 {
        (21.80 + g.below(100) as f64 / 1000.0, 105.20 + g.below(100) as f64 / 1000.0)
    } else {
        (21.50 + g.below(1000) as f64 / 1000.0, 104.90 + g.below(600) as f64 / 1000.0)
    };
    Row { id, ten, nhom: nhom.into(), so, ngay, co, lat, lon }
}

fn csv(rows: &[Row]) -> String {
    let mut out = String::from("id,ten,nhom,so,ngay,co,lat,lon\n");
    for r in rows {
        let so = r.so.map(|v| v.to_string()).unwrap_or_default();
        let co = r.co.map(|v| v.to_string()).unwrap_or_default();
        out.push_str(&format!("{},{},{},{so},{},{co},{},{}\n", r.id, r.ten, r.nhom, r.ngay.clone().unwrap_or_default(), r.lat, r.lon));
    }
    out
}

/// One condition of a random query: its parameter and its meaning.
struct Cond {
    param: (String, String),
    keep: Box<dyn Fn(&Row) -> bool>,
}

fn random_condition(g: &mut Lcg) -> Cond {
    let group = g.pick(&GROUPS).to_string();
    let other = g.pick(&GROUPS).to_string();
    let num = g.below(40) as f64 / 4.0;
    let word = g.pick(&WORDS).to_string();
    let month = format!("2020-{:02}-01", 1 + g.below(12));
    let id = 1 + g.below(ROWS as u64) as i64;
    let p = |k: &str, v: String| (k.to_string(), v);
    match g.below(13) {
        0 => Cond { param: p("nhom", group.clone()), keep: Box::new(move |r| r.nhom == group) },
        1 => Cond { param: p("nhom[in]", format!("{group},{other}")), keep: Box::new(move |r| r.nhom == group || r.nhom == other) },
        2 => Cond { param: p("so[gt]", num.to_string()), keep: Box::new(move |r| r.so.is_some_and(|v| v > num)) },
        3 => Cond { param: p("so[lte]", num.to_string()), keep: Box::new(move |r| r.so.is_some_and(|v| v <= num)) },
        4 => Cond { param: p("so", num.to_string()), keep: Box::new(move |r| r.so == Some(num)) },
        5 => Cond { param: p("so[null]", "true".into()), keep: Box::new(|r| r.so.is_none()) },
        6 => Cond { param: p("ngay[null]", "false".into()), keep: Box::new(|r| r.ngay.is_some()) },
        7 => Cond { param: p("ngay[gte]", month.clone()), keep: Box::new(move |r| r.ngay.as_deref().is_some_and(|d| d >= month.as_str())) },
        8 => Cond { param: p("ten[prefix]", "tru".into()), keep: Box::new(|r| r.ten.starts_with("tru")) },
        9 => Cond { param: p("ten[contains]", word.clone()), keep: Box::new(move |r| r.ten.contains(&word)) },
        10 => Cond { param: p("co", "true".into()), keep: Box::new(|r| r.co == Some(true)) },
        11 => Cond { param: p("id[ne]", id.to_string()), keep: Box::new(move |r| r.id != id) },
        _ => Cond { param: p("id[lt]", (id * 2 / 3).to_string()), keep: Box::new(move |r| r.id < id * 2 / 3) },
    }
}

/// The expected order of `rows` under `sort` (`field`, desc), NULLs last,
/// ties by record order in the direction of the sort.
fn sort_rows(rows: &mut [&Row], sort: Option<(&str, bool)>, rank: &HashMap<i64, usize>) {
    use std::cmp::Ordering;
    let key = |r: &Row, f: &str| -> Option<String> {
        match f {
            "so" => r.so.map(|v| format!("{:020.4}", v + 1000.0)),
            "ngay" => r.ngay.clone(),
            "nhom" => Some(r.nhom.clone()),
            "ten" => Some(r.ten.clone()),
            "id" => Some(format!("{:012}", r.id)),
            _ => unreachable!(),
        }
    };
    rows.sort_by(|a, b| match sort {
        None => rank[&a.id].cmp(&rank[&b.id]),
        Some((f, desc)) => {
            let (ka, kb) = (key(a, f), key(b, f));
            let by_value = match (&ka, &kb) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(x), Some(y)) => {
                    if desc {
                        y.cmp(x)
                    } else {
                        x.cmp(y)
                    }
                }
            };
            let tie = rank[&a.id].cmp(&rank[&b.id]);
            by_value.then(if desc { tie.reverse() } else { tie })
        }
    });
}

async fn planner_matches_brute_force(engine: common::Engine) {
    let app = TestApp::spawn(engine).await;
    let schema = json!({
        "fields": [
            {"name": "id", "type": "integer"},
            {"name": "ten", "type": "string", "searchable": true},
            {"name": "nhom", "type": "string", "constraints": {"required": true}},
            {"name": "so", "type": "number"},
            {"name": "ngay", "type": "date"},
            {"name": "co", "type": "boolean"},
            {"name": "lat", "type": "number", "geo": "lat"},
            {"name": "lon", "type": "number", "geo": "lon"}
        ],
        "primaryKey": "id",
        "indexes": [["nhom", "ngay"]]
    });
    let ds = app
        .create_dataset(CreateDataset {
            id: "ke-hoach".into(),
            database: DatabaseKey::No(26),
            title: "Kế hoạch đọc".into(),
            title_en: None,
            description: String::new(),
            licence: None,
            sharing_mode: "open".parse().unwrap(),
            cadence: None,
            schema: serde_json::from_value(schema).unwrap(),
            template: None,
            synthetic: false,
        })
        .await;
    let mut g = Lcg(20261130);
    let mut rows: Vec<Row> = (1..=ROWS as i64).map(|id| make_row(&mut g, id)).collect();
    let import = |body: String, mode| {
        let app = &app;
        async move {
            match app.import("ke-hoach", "k.csv", body.into_bytes(), mode).await {
                Ok(ImportOutcome::Done(_)) => {}
                Ok(ImportOutcome::Rejected(r)) => panic!("{engine:?}: rejected {:?}", r.errors),
                Err(e) => panic!("{engine:?}: {}", e.msg),
            }
        }
    };
    import(csv(&rows), ImportMode::Append).await;
    // History: a third of the rows change (new versions, the old ended).
    let mut changed = Vec::new();
    for r in rows.iter_mut().filter(|r| r.id % 3 == 0) {
        *r = make_row(&mut g, r.id);
        changed.push(r.clone());
    }
    import(csv(&changed), ImportMode::Upsert).await;

    let store = app.store();
    let ds = store.dataset(&ds.id).await.unwrap().unwrap();
    let permit = operator_data::read(&ds);
    let schema = store.schema_of(&ds).unwrap();
    let read = |params: Vec<(String, String)>| {
        let schema = schema.clone();
        let (ds, permit) = (ds.clone(), permit.clone());
        async move {
            let q = chiase_core::query::parse(&params, &schema, permit.visible()).unwrap_or_else(|e| panic!("{params:?}: {e:?}"));
            reveal(store.read_records(&permit, &ds, &q, None).await.unwrap_or_else(|e| panic!("{engine:?} {params:?}: {e}")))
        }
    };
    let id_of = |r: &chiase_store::datasets::rows::StoredRow| r.meta.key.parse::<i64>().unwrap();

    // Record order, by the simplest walk: the reference for ties.
    let mut rank = HashMap::new();
    let mut after: Option<String> = None;
    loop {
        let mut params = vec![("limit".to_string(), "500".to_string())];
        params.extend(after.clone().map(|a| ("after".to_string(), a)));
        let page = read(params).await;
        for r in &page.records {
            rank.insert(id_of(r), rank.len());
        }
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(rank.len(), ROWS, "{engine:?}: every current row once");
    let by_id: BTreeMap<i64, Row> = rows.iter().map(|r| (r.id, r.clone())).collect();

    store.set_plan_bounds(Bounds { first_walk: 40, gather_max: 150, walk_max: 300 });
    let mut paths: BTreeMap<&'static str, usize> = BTreeMap::new();
    for case in 0..200 {
        let mut conds: Vec<Cond> = (0..g.below(3)).map(|_| random_condition(&mut g)).collect();
        let mut params: Vec<(String, String)> = conds.iter().map(|c| c.param.clone()).collect();
        if g.below(4) == 0 {
            let word = g.pick(&WORDS).to_string();
            if g.below(3) == 0 {
                // A prefix, as a search box typing ahead asks.
                let start = word[..3].to_string();
                params.push(("q".into(), format!("{start}*")));
                conds.push(Cond {
                    param: ("q".into(), start.clone()),
                    keep: Box::new(move |r| r.ten.split(' ').any(|w| w.starts_with(&start))),
                });
            } else {
                params.push(("q".into(), word.clone()));
                conds.push(Cond { param: ("q".into(), word.clone()), keep: Box::new(move |r| r.ten.split(' ').any(|w| w == word)) });
            }
        }
        if g.below(5) == 0 {
            // Boxes a few cells wide at one grid level or another, and one
            // too wide for the cells (walked in record order).
            let (lo_lat, lo_lon, span) = match g.below(5) {
                0 | 1 => (21.80, 105.20, 0.05),
                2 => (21.81, 105.21, 0.004),
                3 => (21.5, 104.9, 0.2),
                _ => (20.0, 103.5, 3.0),
            };
            let (a, b, c, d) = (lo_lon, lo_lat, lo_lon + span, lo_lat + span);
            params.push(("bbox".into(), format!("{a},{b},{c},{d}")));
            conds.push(Cond {
                param: ("bbox".into(), String::new()),
                keep: Box::new(move |r| r.lon >= a && r.lon <= c && r.lat >= b && r.lat <= d),
            });
        }
        let sort = match g.below(7) {
            0 | 1 => None,
            n => {
                let f = ["so", "ngay", "nhom", "ten", "id"][(n - 2) as usize];
                Some((f, g.below(2) == 0))
            }
        };
        if let Some((f, desc)) = sort {
            params.push(("sort".into(), format!("{}{f}", if desc { "-" } else { "" })));
        }
        let limit = [5, 25, 100, 100][g.below(4) as usize];
        params.push(("limit".into(), limit.to_string()));

        let mut expected: Vec<&Row> = by_id.values().filter(|r| conds.iter().all(|c| (c.keep)(r))).collect();
        sort_rows(&mut expected, sort, &rank);
        let expected: Vec<i64> = expected.iter().map(|r| r.id).collect();

        let mut got = Vec::new();
        let mut after: Option<String> = None;
        let mut first_total = None;
        for _ in 0..(ROWS * 2) {
            let mut p = params.clone();
            p.extend(after.clone().map(|a| ("after".to_string(), a)));
            let page = read(p).await;
            *paths.entry(page.path).or_default() += 1;
            assert!(page.records.len() <= limit, "{engine:?} case {case}: {params:?}");
            if !page.partial && page.next.is_some() {
                assert_eq!(page.records.len(), limit, "{engine:?} case {case} {params:?}: a full page unless partial");
            }
            first_total.get_or_insert((page.total, page.total_exact));
            got.extend(page.records.iter().map(id_of));
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        assert_eq!(got, expected, "{engine:?} case {case}: {params:?}");
        let (total, exact) = first_total.unwrap();
        if exact {
            assert_eq!(total, expected.len() as i64, "{engine:?} case {case}: exact total of {params:?}");
        } else {
            assert!(total <= expected.len() as i64, "{engine:?} case {case}: «at least» total {total} of {params:?}");
        }
    }
    eprintln!("{engine:?}: pages by path: {paths:?}");
    // Every path was taken at least once on SQLite (PostgreSQL plans itself).
    if engine == common::Engine::Sqlite {
        for path in ["exact walk", "walk", "gather", "partial walk", "cells walk"] {
            assert!(paths.get(path).is_some_and(|n| *n > 0), "{engine:?}: no page took «{path}»: {paths:?}");
        }
    }
}

#[tokio::test]
async fn every_plan_gives_the_rows_and_order_of_a_brute_force_filter_and_sort() {
    for engine in engines() {
        planner_matches_brute_force(engine).await;
    }
}
