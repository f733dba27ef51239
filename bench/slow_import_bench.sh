#!/usr/bin/env bash
# Audited reads, sign-ins and writes while a slow upload streams in (issue 8).
#
# A 300 MB BTS file (bench/gen_bts.py, 1.3M rows) is uploaded to
# `POST /api/v1/datasets/tram-bts/import` by curl limited to RATE bytes/s
# (default 10 MB/s: about 30 s of upload), then applied by the server. While
# it runs, one client (bench/latency_probe.py) makes, every 50 ms, an
# audited read (a restricted dataset read by a member of its owner agency:
# its audit event is durable before the reply leaves), and every 10th round
# a sign-in and a write to another dataset; it reports latency percentiles
# per phase: before the upload, during the upload, and while the server
# applies it. The same probe runs alone first, as the baseline.
#
#   cargo build --release -p chiase-server && bench/slow_import_bench.sh [RATE]
set -euo pipefail
rate=${1:-10M}
bin=${CHIASE_BIN:-$(pwd)/target/release/chiase}
work=${BENCH_DIR:-/tmp/chiase-bench}
mkdir -p "$work"
csv="$work/bts_1300000.csv"
[ -f "$csv" ] || python3 bench/gen_bts.py --rows 1300000 --out "$csv"
data="$work/slow-import-data"
rm -rf "$data"
c() { "$bin" --data "$data" "$@"; }
c catalog import crates/chiase-io/catalogs/641-QD-UBND-2022-tuyen-quang.txt --decision "641/QĐ-UBND" --date 2022-06-06 >/dev/null
c dataset create --template tram-bts --entry 26 --sharing open >/dev/null
c dataset create --template tram-bts --id bts-han-che --entry 25 --sharing default >/dev/null
python3 bench/gen_bts.py --rows 20000 --out "$work/bts_20000.csv"
c import bts-han-che "$work/bts_20000.csv" >/dev/null
password=mat-khau-do-kiem-thu-123
echo "$password" | c user add can.bo --agency so-thong-tin-va-truyen-thong --role steward --password-stdin >/dev/null
echo "$password" | c user add nhap.lieu --agency so-thong-tin-va-truyen-thong --role steward --password-stdin >/dev/null
reader=$(c token create can.bo)
uploader=$(c token create nhap.lieu)
port=${PORT:-18384}
"$bin" --data "$data" serve --listen "127.0.0.1:$port" >"$work/slow-import-server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
until curl -fs "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.05; done
base="http://127.0.0.1:$port"

echo "baseline (no import), 10 s:"
python3 bench/latency_probe.py "$base" "$reader" can.bo "$password" --seconds 10

echo "during a ${rate}/s upload of $(($(stat -c %s "$csv") / 1048576)) MiB and its apply:"
size=$(stat -c %s "$csv")
bytes_per_s=$(python3 -c "import sys; r='$rate'; m={'K':1024,'M':1048576,'G':1073741824}; print(int(float(r[:-1])*m[r[-1]]) if r[-1] in m else int(r))")
python3 bench/latency_probe.py "$base" "$reader" can.bo "$password" --until-file "$work/upload.done" --split-at "$(python3 -c "print($size/$bytes_per_s)")" &
probe=$!
rm -f "$work/upload.done"
start=$(date +%s.%N)
curl -s --limit-rate "$rate" -H "Authorization: Bearer $uploader" -H "Content-Type: text/csv" \
  --data-binary "@$csv" "$base/api/v1/datasets/tram-bts/import?mode=append&name=bts.csv" -o "$work/upload.json" \
  -w "upload: HTTP %{http_code}, %{size_upload} bytes sent in %{time_total} s (upload ended at %{time_pretransfer}+)\n"
end=$(date +%s.%N)
touch "$work/upload.done"
wait $probe
python3 -c "import json,sys; r=json.load(open('$work/upload.json')); print('imported:', r.get('inserted'), 'rows; row_count', r.get('row_count'))"
echo "import wall time: $(python3 -c "print(round($end-$start,1))") s"
c audit verify | tail -1
