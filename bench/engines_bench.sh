#!/usr/bin/env bash
# Record API on SQLite, on PostgreSQL with one chiase process, and on
# PostgreSQL with two chiase processes sharing the database (issue 5).
# The same 100,000 BTS rows: imported into SQLite, then copied to
# PostgreSQL with `chiase migrate` (counts and checksums compared). wrk on
# the same 2-core machine; with two processes, two wrk runs at once (8
# connections each) and their rates summed.
#
#   cargo build --release -p chiase-server && bench/engines_bench.sh
set -euo pipefail
bin=${CHIASE_BIN:-$(pwd)/target/release/chiase}
work=${BENCH_DIR:-/tmp/chiase-bench}
pg_admin=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
pg_url=${pg_admin%/*}/chiase_bench
mkdir -p "$work"
csv="$work/bts_100000.csv"
[ -f "$csv" ] || python3 bench/gen_bts.py --rows 100000 --out "$csv"
data="$work/engines-data"
rm -rf "$data"
c() { "$bin" --data "$data" "$@"; }
c catalog import crates/chiase-io/catalogs/641-QD-UBND-2022-tuyen-quang.txt --decision "641/QĐ-UBND" --date 2022-06-06 >/dev/null
c dataset create --template tram-bts --entry 26 --sharing open >/dev/null
c import tram-bts "$csv" >/dev/null
psql "$pg_admin" -qc "DROP DATABASE IF EXISTS chiase_bench" -c "CREATE DATABASE chiase_bench"
c migrate --to "$pg_url" | tail -1
path="/api/v1/datasets/tram-bts/records?nha_mang=Viettel&limit=100"
export CHIASE_ADMIN_SETUP_TOKEN=unused-setup-token-0123456789
start() { "$bin" --data "$data" ${2:+--database "$2"} serve --listen "127.0.0.1:$1" >/dev/null 2>&1 & echo $!; }
ready() { until curl -fs "http://127.0.0.1:$1/healthz" >/dev/null; do sleep 0.05; done; }
rate() { wrk -t"$2" -c"$3" -d10s "http://127.0.0.1:$1$path" | awk '/Requests\/sec/ {print $2}'; }

p1=$(start 18401); ready 18401
echo "sqlite, 1 process:     $(rate 18401 2 16) req/s"
kill "$p1"; wait "$p1" 2>/dev/null || true

p1=$(start 18402 "$pg_url"); ready 18402
echo "postgres, 1 process:   $(rate 18402 2 16) req/s"
p2=$(start 18403 "$pg_url"); ready 18403
a=$(mktemp); b=$(mktemp)
rate 18402 1 8 > "$a" & rate 18403 1 8 > "$b"; wait %1 %2 2>/dev/null || true
sleep 0.2
echo "postgres, 2 processes: $(python3 -c "print(round($(cat "$a") + $(cat "$b"), 2))") req/s ($(cat "$a") + $(cat "$b"))"
kill "$p1" "$p2"; wait 2>/dev/null || true
