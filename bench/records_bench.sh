#!/usr/bin/env bash
# Record API benchmark (issue 3): a filtered page of 100 rows from the
# 1,000,000-row BTS dataset that bench/import_bench.sh loaded, served by
# `chiase serve` (release) and loaded by wrk from the same machine; and the
# latency of page 1 against page 5,000 of a keyset walk.
#
#   bench/import_bench.sh 1000000 && bench/records_bench.sh
set -euo pipefail
bin=${CHIASE_BIN:-$(pwd)/target/release/chiase}
work=${BENCH_DIR:-/tmp/chiase-bench}
data="$work/chiase-data-${ROWS:-1000000}"
port=${PORT:-18282}
"$bin" --data "$data" serve --listen "127.0.0.1:$port" >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
until curl -fs "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.05; done
base="http://127.0.0.1:$port/api/v1/datasets/tram-bts/records"
echo "== wrk, one connection (latency), 10 s"
wrk -t1 -c1 -d10s --latency "$base?nha_mang=Viettel&limit=100" | grep -E "Requests/sec|50%|90%|99%"
echo "== wrk: 2 threads, 16 connections, 10 s each (throughput)"
for q in "nha_mang=Viettel&limit=100" "huyen=Y%C3%AAn%20S%C6%A1n&xa=X%C3%A3%20T%E1%BB%A9%20Qu%E1%BA%ADn&limit=100" "bbox=105.2,21.8,105.3,21.9&limit=100" "q=dong%20bung&limit=100"; do
  echo "-- $q"
  wrk -t2 -c16 -d10s --latency "$base?$q" | grep -E "Requests/sec|50%|90%|99%"
done
echo "== keyset: page 1 and page 5,000 of trang_thai=Đang hoạt động (780,000 rows), 100 rows a page"
python3 - "$base" <<'PY'
import json, sys, time, urllib.request
base = sys.argv[1] + "?trang_thai=%C4%90ang%20ho%E1%BA%A1t%20%C4%91%E1%BB%99ng&limit=100"
def get(url):
    t = time.perf_counter()
    with urllib.request.urlopen(url) as r:
        body = json.load(r)
    return body, time.perf_counter() - t
def median(xs):
    xs = sorted(xs); return xs[len(xs)//2]
first = [get(base)[1] for _ in range(50)]
url, page = base, 1
while page < 5000:
    body, _ = get(url)
    url = base + "&after=" + body["next"]
    page += 1
deep = [get(url)[1] for _ in range(50)]
print(f"page 1: median {median(first)*1000:.2f} ms; page 5000: median {median(deep)*1000:.2f} ms (50 requests each, sequential, HTTP included)")
PY
