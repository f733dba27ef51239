#!/usr/bin/env bash
# CKAN DataStore paging against the native record API (issue 12): the
# 1,000,000-row BTS dataset that bench/import_bench.sh loaded, served by
# `chiase serve` (release), walked to the end twice in one run by the same
# sequential client: through `GET /api/v1/datasets/tram-bts/records`
# following `next` (the keyset cursor), and through
# `GET /api/3/action/datastore_search` following `_links.next`, 1,000 rows
# a page each time, then the first pages again by `offset` (what a client
# that ignores the links does). Reports the time per page and the ratio,
# and the latency of package_search and package_show beside the native
# catalog search.
#
#   bench/import_bench.sh 1000000 && bench/ckan_bench.sh
set -euo pipefail
bin=${CHIASE_BIN:-$(pwd)/target/release/chiase}
work=${BENCH_DIR:-/tmp/chiase-bench}
data="$work/chiase-data-${ROWS:-1000000}"
port=${PORT:-18283}
"$bin" --data "$data" serve --listen "127.0.0.1:$port" >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
until curl -fs "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.05; done
python3 - "http://127.0.0.1:$port" <<'PY'
import json, sys, time, urllib.request

base = sys.argv[1]
LIMIT = 1000

def get(url):
    t = time.perf_counter()
    with urllib.request.urlopen(url) as r:
        body = json.load(r)
    return body, time.perf_counter() - t

def native():
    url = f"{base}/api/v1/datasets/tram-bts/records?limit={LIMIT}"
    times, rows = [], 0
    while True:
        body, dt = get(url)
        times.append(dt)
        rows += len(body["records"])
        if not body.get("next"):
            return rows, times
        url = f"{base}/api/v1/datasets/tram-bts/records?limit={LIMIT}&after={body['next']}"

def ckan():
    url = f"{base}/api/3/action/datastore_search?resource_id=tram-bts&limit={LIMIT}"
    times, rows = [], 0
    while True:
        body, dt = get(url)
        times.append(dt)
        r = body["result"]
        rows += len(r["records"])
        nxt = r.get("_links", {}).get("next")
        if not nxt or not r["records"]:
            return rows, times
        url = base + nxt

def stats(times):
    s = sorted(times)
    return sum(times) / len(times) * 1000, s[len(s) // 2] * 1000, s[int(len(s) * 0.99)] * 1000

def offset_pages(n):
    times = []
    for i in range(n):
        _, dt = get(f"{base}/api/3/action/datastore_search?resource_id=tram-bts&limit={LIMIT}&offset={i * LIMIT}")
        times.append(dt)
    return times

get(f"{base}/api/v1/datasets/tram-bts/records?limit=1")  # warm the caches
results = {}
for name, walk in [("native", native), ("ckan", ckan), ("native again", native), ("ckan again", ckan)]:
    t = time.perf_counter()
    rows, times = walk()
    total = time.perf_counter() - t
    mean, p50, p99 = stats(times)
    results[name] = mean
    print(f"{name:13s} {rows:>9,} rows in {len(times):>5} pages, {total:6.1f} s: per page mean {mean:6.2f} ms, p50 {p50:6.2f} ms, p99 {p99:6.2f} ms")
ratio = (results["ckan"] + results["ckan again"]) / (results["native"] + results["native again"])
print(f"datastore_search / native, time per page (mean of both walks): {ratio:.2f}x")
for name, url in [
    ("package_search, all 31 packages", f"{base}/api/3/action/package_search?rows=1000&facet.field=%5B%22organization%22,%22groups%22,%22tags%22%5D"),
    ("package_search, fq organization", f"{base}/api/3/action/package_search?fq=organization:so-thong-tin-va-truyen-thong"),
    ("package_show", f"{base}/api/3/action/package_show?id=26"),
    ("native catalog search", f"{base}/api/v1/databases?limit=100"),
]:
    times = [get(url)[1] for _ in range(50)]
    mean, p50, p99 = stats(times)
    print(f"{name:34s} p50 {p50:6.2f} ms, p99 {p99:6.2f} ms (50 sequential requests)")
for n in (10, 100):
    mean, p50, _ = stats(offset_pages(n)[-10:])
    print(f"offset paging: pages {n - 9}..{n} (offset up to {(n - 1) * LIMIT:,}): mean {mean:.1f} ms a page")
PY
