#!/usr/bin/env bash
# XLSX import benchmark (issue 10): the same generated BTS rows
# (bench/gen_bts.py) imported by `chiase import` as CSV and as an XLSX
# workbook (numbers as number cells, written by the csv_to_xlsx example),
# each into a fresh tram-bts dataset, one after the other on the same
# machine. Peak memory is the maximum resident set size from /usr/bin/time:
# the workbook is spooled to a temporary file and its sheet streamed cell
# by cell, so it should not grow with the file.
#
#   cargo build --release -p chiase-server -p chiase-io --example csv_to_xlsx
#   bench/xlsx_import_bench.sh [ROWS]        # default 100,000
set -euo pipefail
rows=${1:-100000}
bin=${CHIASE_BIN:-$(pwd)/target/release/chiase}
to_xlsx=${CSV_TO_XLSX:-$(pwd)/target/release/examples/csv_to_xlsx}
work=${BENCH_DIR:-/tmp/chiase-bench}
mkdir -p "$work"
csv="$work/bts_$rows.csv"
xlsx="$work/bts_$rows.xlsx"
[ -f "$csv" ] || python3 bench/gen_bts.py --rows "$rows" --out "$csv"
[ -f "$xlsx" ] || "$to_xlsx" "$csv" "$xlsx"
echo "files: $csv ($(($(stat -c %s "$csv") / 1048576)) MiB), $xlsx ($(($(stat -c %s "$xlsx") / 1048576)) MiB)"

run() { # run LABEL FILE -> "secs kb"
  local data="$work/chiase-data-xlsx-$1"
  rm -rf "$data"
  "$bin" --data "$data" catalog import crates/chiase-io/catalogs/641-QD-UBND-2022-tuyen-quang.txt --decision "641/QĐ-UBND" --date 2022-06-06 >/dev/null
  "$bin" --data "$data" dataset create --template tram-bts --entry 26 --sharing open >/dev/null
  /usr/bin/time -f "%e %M" -o "$work/$1.time" "$bin" --data "$data" import tram-bts "$2" --mode append >/dev/null
  cat "$work/$1.time"
}
read -r c_secs c_kb < <(run csv "$csv")
read -r x_secs x_kb < <(run xlsx "$xlsx")

python3 - "$rows" "$c_secs" "$c_kb" "$x_secs" "$x_kb" "$(stat -c %s "$csv")" "$(stat -c %s "$xlsx")" <<'PY'
import sys
rows, cs, ck, xs, xk, csize, xsize = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
print()
print("| file | size | rows | seconds | rows/s | peak RSS |")
print("|---|---:|---:|---:|---:|---:|")
print(f"| CSV | {csize/1048576:.1f} MiB | {rows:,} | {cs:.1f} | {rows/cs:,.0f} | {ck/1024:.0f} MB |")
print(f"| XLSX | {xsize/1048576:.1f} MiB | {rows:,} | {xs:.1f} | {rows/xs:,.0f} | {xk/1024:.0f} MB |")
print(f"\nXLSX / CSV rate: {(rows/xs)/(rows/cs):.2f}")
PY
