#!/usr/bin/env bash
# Portal pages (issue 11): each main page fetched 30 times from a release
# `chiase serve --demo` on this machine (loopback, so the time is the
# server's), as the public; the median and the slowest time and the page's
# weight (HTML, its stylesheet and scripts, the map library counted apart).
#
#   cargo build --release -p chiase-server && bench/pages_bench.sh
set -euo pipefail
bin=${CHIASE_BIN:-$(pwd)/target/release/chiase}
port=${PORT:-18181}
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
CHIASE_ADMIN_SETUP_TOKEN=bench-not-used-0123456789abcdef "$bin" --data "$work/data" --listen "127.0.0.1:$port" serve --demo >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 120); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 1; done
base="http://127.0.0.1:$port"
css=$(curl -s "$base/assets/chiase.css" | wc -c)
mapjs=$(curl -s "$base/assets/chiase-map.js" | wc -c)
leaflet=$(( $(curl -s "$base/assets/leaflet.js" | wc -c) + $(curl -s "$base/assets/leaflet.css" | wc -c) ))
echo "| page | median ms | slowest ms | HTML KB | with CSS and scripts KB (map library apart) |"
echo "|---|---:|---:|---:|---:|"
for path in "/" "/?q=dat%20dai" "/databases/13" "/datasets/truong-hoc" "/datasets/truong-hoc?cap_hoc=Ti%E1%BB%83u%20h%E1%BB%8Dc&sort=-so_hoc_sinh" "/datasets/tram-bts" "/agencies/so-giao-duc-va-dao-tao" "/sitemap.xml" "/khong-co"; do
  times=$(for _ in $(seq 30); do curl -s -o /dev/null -w "%{time_total}\n" "$base$path"; done | sort -n)
  med=$(echo "$times" | sed -n 15p); max=$(echo "$times" | tail -1)
  html=$(curl -s "$base$path" | wc -c)
  extra=$css
  if curl -s "$base$path" | grep -q chiase-map.js; then extra=$((css + mapjs)); fi
  python3 - "$path" "$med" "$max" "$html" "$extra" <<'PY'
import sys
path, med, mx, html, extra = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
print(f"| `{path}` | {med * 1000:.1f} | {mx * 1000:.1f} | {html / 1024:.1f} | {(html + extra) / 1024:.1f} |")
PY
done
echo
python3 -c "print(f'map library (Leaflet 1.9.4, JS and CSS, loaded only by pages with a map): {$leaflet/1024:.0f} KB')"
