#!/usr/bin/env bash
# Import on PostgreSQL (issue 9): the generated BTS table (bench/gen_bts.py)
# imported by `chiase import` into the tram-bts template's dataset on a
# PostgreSQL database (validation, keys, an index on every field, full
# text, the change log), beside psql's `\copy` of the same file into a
# table made `LIKE` chiase's with all its indexes (INCLUDING ALL: the same
# columns, partial indexes and GIN index, the tsvector computed by the
# server from the address; no validation, no change log). Same server, same machine, one after the other.
#
#   cargo build --release -p chiase-server
#   bench/pg_import_bench.sh [ROWS]         # default 1,000,000
#
# PG_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres) must
# be allowed to create databases; the database chiase_pg_import is dropped
# and made again.
set -euo pipefail
rows=${1:-1000000}
bin=${CHIASE_BIN:-$(pwd)/target/release/chiase}
work=${BENCH_DIR:-/tmp/chiase-bench}
pg_admin=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
db_url=${pg_admin%/*}/chiase_pg_import
mkdir -p "$work"
csv="$work/bts_$rows.csv"
[ -f "$csv" ] || python3 bench/gen_bts.py --rows "$rows" --out "$csv"
echo "file: $csv ($rows rows, $(( $(stat -c %s "$csv") / 1048576 )) MiB)"

psql "$pg_admin" -qc "DROP DATABASE IF EXISTS chiase_pg_import" -c "CREATE DATABASE chiase_pg_import"
data="$work/pg-import-data"
rm -rf "$data"
c() { "$bin" --data "$data" --database "$db_url" "$@"; }
c catalog import crates/chiase-io/catalogs/641-QD-UBND-2022-tuyen-quang.txt --decision "641/QĐ-UBND" --date 2022-06-06 >/dev/null
c dataset create --template tram-bts --entry 26 --sharing open >/dev/null
/usr/bin/time -f "%e %M" -o "$work/pg-chiase.time" "$bin" --data "$data" --database "$db_url" import tram-bts "$csv" --mode append >/dev/null
read -r c_secs c_kb < "$work/pg-chiase.time"

table=$(psql "$db_url" -Atc "SELECT table_name FROM datasets WHERE slug = 'tram-bts'")
cols=$(head -1 "$csv")
psql "$db_url" -qc "DROP TABLE IF EXISTS bench_copy" -c "CREATE TABLE bench_copy (LIKE \"$table\" INCLUDING ALL)"
# chiase's own columns get values the file does not have: the key on
# `_v` goes (the other indexes stay), and NULLs are allowed.
psql "$db_url" -qc "ALTER TABLE bench_copy DROP CONSTRAINT IF EXISTS bench_copy_pkey"
for col in _v _id _key _seq _op _batch; do psql "$db_url" -qc "ALTER TABLE bench_copy ALTER COLUMN \"$col\" DROP NOT NULL"; done
# The full-text column computed from the searchable field on each row, as
# chiase computes it (tram-bts: the address), with its GIN index.
psql "$db_url" -qc "ALTER TABLE bench_copy DROP COLUMN IF EXISTS _search" \
  -c "ALTER TABLE bench_copy ADD COLUMN _search tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(lower(dia_chi), ''))) STORED" \
  -c "CREATE INDEX ON bench_copy USING GIN (_search)"
start=$(date +%s.%N)
psql "$db_url" -qc "\\copy bench_copy ($cols) FROM '$csv' WITH (FORMAT csv, HEADER true)"
p_secs=$(echo "$(date +%s.%N) - $start" | bc)
n=$(psql "$db_url" -Atc "SELECT count(*) FROM bench_copy")
indexes=$(psql "$db_url" -Atc "SELECT count(*) FROM pg_indexes WHERE tablename = 'bench_copy'")

printf 'chiase import (PostgreSQL): %.1f s, %d rows/s, peak RSS %d MB\n' "$c_secs" "$(echo "$rows / $c_secs" | bc)" $((c_kb / 1024))
printf 'psql \\copy, same table and %d indexes: %.1f s (%d rows)\n' "$indexes" "$p_secs" "$n"
printf 'chiase / \\copy time: %.2f\n' "$(echo "$c_secs / $p_secs" | bc -l)"
