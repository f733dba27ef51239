//! Deterministic synthetic rows for the dataset templates: Vietnamese
//! names, communes of Tuyên Quang, coordinates inside the province. The same
//! seed always gives the same rows, on every machine. Rows are produced as
//! JSON objects and then go through the schema like any import, so demo
//! data is valid data.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use serde_json::{Map, Value, json};

use crate::templates::{Generator, Template};

/// SplitMix64: small, fast and fully specified, so demo data is the same
/// everywhere (a general-purpose RNG crate may change its stream).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize % n.max(1)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// District-level units of Tuyên Quang (before the 2025 reorganisation), as
/// in bench/gen_bts.py: name, centre latitude, centre longitude, communes.
pub const DISTRICTS: &[(&str, f64, f64, &[&str])] = &[
    (
        "Thành phố Tuyên Quang",
        21.818,
        105.214,
        &[
            "Phường Phan Thiết",
            "Phường Minh Xuân",
            "Phường Tân Quang",
            "Phường Ỷ La",
            "Phường Hưng Thành",
            "Phường Nông Tiến",
            "Xã Lưỡng Vượng",
            "Xã An Khang",
            "Xã Thái Long",
            "Xã Tràng Đà",
        ],
    ),
    (
        "Yên Sơn",
        21.870,
        105.250,
        &[
            "Thị trấn Yên Sơn",
            "Xã Thắng Quân",
            "Xã Trung Môn",
            "Xã Tứ Quận",
            "Xã Lang Quán",
            "Xã Chân Sơn",
            "Xã Xuân Vân",
            "Xã Kim Quan",
            "Xã Phúc Ninh",
            "Xã Mỹ Bằng",
        ],
    ),
    (
        "Sơn Dương",
        21.700,
        105.380,
        &[
            "Thị trấn Sơn Dương",
            "Xã Tân Trào",
            "Xã Minh Thanh",
            "Xã Hợp Thành",
            "Xã Kháng Nhật",
            "Xã Đông Thọ",
            "Xã Phúc Ứng",
            "Xã Thượng Ấm",
            "Xã Vĩnh Lợi",
            "Xã Hồng Lạc",
        ],
    ),
    (
        "Hàm Yên",
        22.070,
        105.040,
        &[
            "Thị trấn Tân Yên",
            "Xã Thái Sơn",
            "Xã Bằng Cốc",
            "Xã Thành Long",
            "Xã Phù Lưu",
            "Xã Minh Hương",
            "Xã Yên Thuận",
            "Xã Bạch Xa",
            "Xã Đức Ninh",
            "Xã Nhân Mục",
        ],
    ),
    (
        "Chiêm Hóa",
        22.150,
        105.270,
        &[
            "Thị trấn Vĩnh Lộc",
            "Xã Kim Bình",
            "Xã Hòa Phú",
            "Xã Trung Hà",
            "Xã Hà Lang",
            "Xã Tân Mỹ",
            "Xã Yên Lập",
            "Xã Phúc Sơn",
            "Xã Minh Quang",
            "Xã Xuân Quang",
        ],
    ),
    (
        "Na Hang",
        22.350,
        105.390,
        &[
            "Thị trấn Na Hang",
            "Xã Thượng Nông",
            "Xã Sơn Phú",
            "Xã Đà Vị",
            "Xã Năng Khả",
            "Xã Khâu Tinh",
            "Xã Côn Lôn",
            "Xã Thanh Tương",
            "Xã Yên Hoa",
            "Xã Hồng Thái",
        ],
    ),
    (
        "Lâm Bình",
        22.450,
        105.220,
        &["Xã Lăng Can", "Xã Thượng Lâm", "Xã Phúc Yên", "Xã Xuân Lập", "Xã Khuôn Hà", "Xã Bình An", "Xã Hồng Quang", "Xã Thổ Bình"],
    ),
];

const HAMLETS: &[&str] = &[
    "Thôn Làng Mới",
    "Thôn Đồng Bừng",
    "Thôn Khuôn Khoai",
    "Bản Nà Lá",
    "Thôn Cầu Trôi",
    "Thôn Đồng Tâm",
    "Thôn Tân Lập",
    "Thôn Làng Chùa",
    "Bản Nà Mụ",
    "Bản Phiêng Lăng",
    "Thôn Khau Quang",
    "Tổ dân phố 5",
    "Thôn Bình Ca",
    "Thôn Tân Tiến",
    "Xóm Thác Cái",
    "Thôn Làng Bòng",
    "Bản Nặm Đíp",
];

const FAMILY: &[&str] = &[
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Phan", "Vũ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Ma", "Hà", "Nông", "Lục",
    "Triệu", "Bàn", "Quan", "Chu",
];
const MIDDLE_M: &[&str] = &["Văn", "Đức", "Minh", "Quang", "Hữu", "Thanh", "Xuân", "Tiến", "Công"];
const MIDDLE_F: &[&str] = &["Thị", "Thu", "Ngọc", "Thanh", "Minh", "Thị Thu", "Hồng", "Phương"];
const GIVEN_M: &[&str] = &[
    "An", "Bình", "Cường", "Dũng", "Đạt", "Hải", "Hùng", "Khánh", "Long", "Nam", "Phong", "Quân", "Sơn", "Thắng", "Toàn", "Trung", "Tuấn",
    "Việt",
];
const GIVEN_F: &[&str] = &[
    "Anh",
    "Chi",
    "Dung",
    "Giang",
    "Hà",
    "Hằng",
    "Hoa",
    "Huyền",
    "Lan",
    "Linh",
    "Mai",
    "Nga",
    "Ngân",
    "Nhung",
    "Oanh",
    "Phượng",
    "Thảo",
    "Trang",
    "Yến",
];
const ASCII_GIVEN: &[&str] =
    &["an", "binh", "cuong", "dung", "hai", "hoa", "lan", "linh", "mai", "nam", "phong", "son", "thao", "trang", "tuan", "viet"];

/// The place chosen for a row: district, commune and a point near them.
struct Place {
    district: usize,
    commune: usize,
    lat: f64,
    lon: f64,
}

fn place(rng: &mut Rng) -> Place {
    let district = rng.below(DISTRICTS.len());
    let (_, clat, clon, communes) = DISTRICTS[district];
    let spread = |rng: &mut Rng| (rng.unit() + rng.unit() + rng.unit() - 1.5) * 0.12;
    let lat = (clat + spread(rng)).clamp(21.5, 22.7);
    let lon = (clon + spread(rng)).clamp(104.8, 105.6);
    Place { district, commune: rng.below(communes.len()), lat, lon }
}

fn round(x: f64, decimals: u32) -> f64 {
    let p = 10f64.powi(decimals as i32);
    (x * p).round() / p
}

fn gen_value(g: &Generator, rng: &mut Rng, row: usize, place: &Place, done: &Map<String, Value>) -> Value {
    let (district, _, _, communes) = DISTRICTS[place.district];
    match g {
        Generator::Sequence { start, pattern } => {
            let n = start + row as i64;
            match pattern {
                None => json!(n),
                Some(p) => json!(fill_sequence(p, n)),
            }
        }
        Generator::Choice { values, weights } => match weights {
            Some(w) if w.len() == values.len() => {
                let total: f64 = w.iter().sum();
                let mut r = rng.unit() * total;
                for (v, wi) in values.iter().zip(w) {
                    if r < *wi {
                        return v.clone();
                    }
                    r -= wi;
                }
                values.last().cloned().unwrap_or(Value::Null)
            }
            _ => rng.pick(values).clone(),
        },
        Generator::PersonName => {
            let female = rng.unit() < 0.5;
            let family = rng.pick(FAMILY);
            let (middle, given) = if female { (rng.pick(MIDDLE_F), rng.pick(GIVEN_F)) } else { (rng.pick(MIDDLE_M), rng.pick(GIVEN_M)) };
            json!(format!("{family} {middle} {given}"))
        }
        Generator::Gender => json!(if rng.unit() < 0.5 { "Nam" } else { "Nữ" }),
        Generator::District => json!(district),
        Generator::Commune => json!(communes[place.commune]),
        Generator::Address => {
            let hamlet = rng.pick(HAMLETS);
            let level = if district.starts_with("Thành phố") { district.to_string() } else { format!("huyện {district}") };
            json!(format!("{hamlet}, {}, {level}, tỉnh Tuyên Quang", communes[place.commune]))
        }
        Generator::Lat => json!(round(place.lat, 6)),
        Generator::Lon => json!(round(place.lon, 6)),
        Generator::Geopoint => json!(format!("{}, {}", round(place.lon, 6), round(place.lat, 6))),
        Generator::Polygon { size_m } => {
            let dlat = size_m / 111_000.0 / 2.0;
            let dlon = size_m / (111_000.0 * place.lat.to_radians().cos()) / 2.0;
            let (x, y) = (round(place.lon, 6), round(place.lat, 6));
            let ring = vec![
                vec![round(x - dlon, 6), round(y - dlat, 6)],
                vec![round(x + dlon, 6), round(y - dlat, 6)],
                vec![round(x + dlon * 0.8, 6), round(y + dlat, 6)],
                vec![round(x - dlon * 0.9, 6), round(y + dlat * 0.9, 6)],
                vec![round(x - dlon, 6), round(y - dlat, 6)],
            ];
            json!({ "type": "Polygon", "coordinates": [ring] })
        }
        Generator::Date { from, to } => {
            let (a, b) = (parse_date(from), parse_date(to));
            let days = (b - a).num_days().max(0);
            json!((a + Duration::days((rng.unit() * (days + 1) as f64) as i64).min(Duration::days(days))).format("%Y-%m-%d").to_string())
        }
        Generator::Datetime { from, to } => {
            let (a, b) = (parse_datetime(from), parse_datetime(to));
            let secs = (b - a).num_seconds().max(0);
            json!((a + Duration::seconds((rng.unit() * secs as f64) as i64)).format("%Y-%m-%dT%H:%M:%SZ").to_string())
        }
        Generator::Year { from, to } => json!(from + (rng.unit() * (to - from + 1) as f64) as i64),
        Generator::Integer { min, max } => json!((min + (rng.unit() * (max - min + 1) as f64) as i64).min(*max)),
        Generator::Number { min, max, decimals } => json!(round(min + rng.unit() * (max - min), decimals.unwrap_or(2)).clamp(*min, *max)),
        Generator::Boolean { p_true } => json!(rng.unit() < *p_true),
        Generator::Phone => {
            let prefix = rng.pick(&[
                "086", "096", "097", "098", "032", "033", "034", "035", "036", "037", "038", "039", "088", "091", "094", "083", "084",
                "085", "081", "082", "089", "090", "093", "070", "079", "077", "076", "078",
            ]);
            json!(format!("{prefix}{:07}", rng.next_u64() % 10_000_000))
        }
        Generator::Email { domain } => json!(format!("{}{}@{domain}", rng.pick(ASCII_GIVEN), rng.next_u64() % 10_000)),
        Generator::CitizenId => json!(
            format!("008{}{:02}{:06}", rng.below(4), rng.next_u64() % 100, rng.next_u64() % 1_000_000).chars().take(12).collect::<String>()
        ),
        Generator::Digits { length, prefix } => {
            let mut s = prefix.clone().unwrap_or_default();
            while s.len() < *length {
                s.push(char::from(b'0' + rng.below(10) as u8));
            }
            json!(s)
        }
        Generator::Words { values, min, max } => {
            let n = min + rng.below(max.saturating_sub(*min) + 1);
            json!((0..n.max(1)).map(|_| rng.pick(values).as_str()).collect::<Vec<_>>().join(" "))
        }
        Generator::Format { pattern } => json!(fill_format(pattern, done)),
        Generator::Maybe { p_null, then } => {
            if rng.unit() < *p_null {
                Value::Null
            } else {
                gen_value(then, rng, row, place, done)
            }
        }
    }
}

fn parse_date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_else(|_| NaiveDate::from_ymd_opt(2020, 1, 1).expect("BUG: date"))
}

fn parse_datetime(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(s).map(|t| t.naive_utc()))
        .unwrap_or_else(|_| parse_date(s).and_hms_opt(0, 0, 0).expect("BUG: time"))
}

/// `{n}` and `{n:06}` in a sequence pattern.
fn fill_sequence(pattern: &str, n: i64) -> String {
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(open) = rest.find("{n") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = after.find('}') else { break };
        let width = after[..close].strip_prefix(":0").and_then(|w| w.parse::<usize>().ok()).unwrap_or(0);
        out.push_str(&format!("{n:0width$}"));
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// `{field}` placeholders filled with earlier fields' values.
fn fill_format(pattern: &str, done: &Map<String, Value>) -> String {
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let name = &after[..close];
        match done.get(name) {
            Some(Value::String(s)) => out.push_str(s),
            Some(Value::Null) | None => {}
            Some(other) => out.push_str(&other.to_string()),
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// `rows` rows for a template, in field order, from `seed`.
pub fn rows(t: &Template, rows: usize, seed: u64) -> Vec<Map<String, Value>> {
    let mut rng = Rng::new(seed ^ fnv(&t.template));
    (0..rows)
        .map(|row| {
            let place = place(&mut rng);
            let mut obj = Map::new();
            for f in &t.schema.fields {
                let v = match t.demo.fields.get(&f.name) {
                    Some(g) => gen_value(g, &mut rng, row, &place, &obj),
                    None => Value::Null,
                };
                obj.insert(f.name.clone(), v);
            }
            obj
        })
        .collect()
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::templates::all;

    #[test]
    fn every_templates_demo_rows_pass_its_own_schema() {
        for t in all() {
            let schema = chiase_core::schema::Schema::new(t.schema.clone()).unwrap();
            let rows = rows(&t, t.demo.rows.min(300), 7);
            let mut keys = std::collections::HashSet::new();
            for (i, r) in rows.iter().enumerate() {
                let values = schema.parse_json_row(r, None).unwrap_or_else(|e| panic!("{} row {i}: {:?}\n{r:?}", t.template, e));
                if let Some(k) = schema.key_of(&values) {
                    assert!(keys.insert(k.clone()), "{}: duplicate key {k}", t.template);
                }
            }
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_rows() {
        let t = crate::templates::by_id("tram-bts").unwrap();
        assert_eq!(rows(&t, 20, 1), rows(&t, 20, 1));
        assert_ne!(rows(&t, 20, 1), rows(&t, 20, 2));
        for r in rows(&t, 50, 3) {
            let lat = r["lat"].as_f64().unwrap();
            assert!((21.5..=22.7).contains(&lat));
        }
    }

    #[test]
    fn patterns_fill() {
        assert_eq!(fill_sequence("TQ-{n:06}", 42), "TQ-000042");
        assert_eq!(fill_sequence("{n}", 7), "7");
        let mut m = Map::new();
        m.insert("ma".into(), json!("A1"));
        m.insert("so".into(), json!(3));
        assert_eq!(fill_format("Trạm {ma} – {so}", &m), "Trạm A1 – 3");
    }
}
