#!/usr/bin/env bash
# Import benchmark (issue 3): the generated BTS table (bench/gen_bts.py)
# imported by `chiase import` into the tram-bts template's dataset (typed
# columns, validation, primary key and unique checks, an index on every
# field and the template's composite ones, the full-text index and the
# change log all on), beside the same file loaded by sqlite3's own `.import`
# into a table of the same columns and indexes (no validation, no full-text
# index, no change log), on the same machine,
# with the same pragmas (WAL, synchronous=NORMAL). Peak memory is the
# maximum resident set size reported by /usr/bin/time.
#
#   cargo build --release -p chiase-server
#   bench/import_bench.sh [ROWS]            # default 1,000,000
set -euo pipefail
rows=${1:-1000000}
bin=${CHIASE_BIN:-$(pwd)/target/release/chiase}
work=${BENCH_DIR:-/tmp/chiase-bench}
mkdir -p "$work"
csv="$work/bts_$rows.csv"
[ -f "$csv" ] || python3 bench/gen_bts.py --rows "$rows" --out "$csv"
size=$(stat -c %s "$csv")
echo "file: $csv ($rows rows, $((size / 1048576)) MiB)"

# chiase
data="$work/chiase-data-$rows"
rm -rf "$data"
"$bin" --data "$data" catalog import crates/chiase-io/catalogs/641-QD-UBND-2022-tuyen-quang.txt --decision "641/QĐ-UBND" --date 2022-06-06 >/dev/null
"$bin" --data "$data" dataset create --template tram-bts --entry 26 --sharing open >/dev/null
/usr/bin/time -f "%e %M" -o "$work/chiase.time" "$bin" --data "$data" import tram-bts "$csv" --mode append
read -r c_secs c_kb < "$work/chiase.time"

# sqlite3 .import into the same columns and indexes
db="$work/sqlite-$rows.db"
rm -f "$db" "$db-wal" "$db-shm"
sqlite3 "$db" <<'SQL' >/dev/null
PRAGMA journal_mode = WAL;
CREATE TABLE bts (
  id INTEGER PRIMARY KEY, ma_tram TEXT NOT NULL UNIQUE, nha_mang TEXT NOT NULL, huyen TEXT NOT NULL, xa TEXT NOT NULL,
  dia_chi TEXT, lat REAL NOT NULL, lon REAL NOT NULL, chieu_cao REAL, ngay_cap_phep TEXT, trang_thai TEXT);
-- chiase indexes every field for the data grid (issue 9): the same here.
CREATE INDEX bts_nha_mang ON bts (nha_mang);
CREATE INDEX bts_huyen ON bts (huyen);
CREATE INDEX bts_xa ON bts (xa);
CREATE INDEX bts_dia_chi ON bts (dia_chi);
CREATE INDEX bts_lat ON bts (lat);
CREATE INDEX bts_lon ON bts (lon);
CREATE INDEX bts_chieu_cao ON bts (chieu_cao);
CREATE INDEX bts_ngay_cap_phep ON bts (ngay_cap_phep);
CREATE INDEX bts_trang_thai ON bts (trang_thai);
CREATE INDEX bts_huyen_xa ON bts (huyen, xa);
CREATE INDEX bts_lat_lon ON bts (lat, lon);
SQL
/usr/bin/time -f "%e %M" -o "$work/sqlite.time" sqlite3 "$db" -cmd "PRAGMA journal_mode = WAL;" -cmd "PRAGMA synchronous = NORMAL;" ".import --csv --skip 1 $csv bts"
read -r s_secs s_kb < "$work/sqlite.time"
n=$(sqlite3 "$db" "SELECT count(*) FROM bts")

python3 - "$rows" "$c_secs" "$c_kb" "$s_secs" "$s_kb" "$n" "$size" <<'PY'
import sys
rows, cs, ck, ss, sk, n, size = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
print()
print("| loader | rows | seconds | rows/s | peak RSS |")
print("|---|---:|---:|---:|---:|")
print(f"| chiase import (validation, FTS, change log) | {rows:,} | {cs:.1f} | {rows/cs:,.0f} | {ck/1024:.0f} MB |")
print(f"| sqlite3 .import (same columns and indexes) | {n:,} | {ss:.1f} | {n/ss:,.0f} | {sk/1024:.0f} MB |")
print(f"\nchiase / sqlite3 rate: {(rows/cs)/(n/ss):.2f}; file {size/1048576:.0f} MiB")
PY
