#!/usr/bin/env bash
# Portal pages (issue 11): each main page fetched 30 times from a release
# `chiase serve --demo` on this machine (loopback, so the time is the
# server's), as the public, as a steward of the education department and as
# an administrator (signed in through the sign-in form); the median and the
# slowest time and the page's weight (HTML, its stylesheet and scripts, the
# map library counted apart).
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
password="bench-mat-khau-du-dai-2025"
"$bin" --data "$work/data" user add bench.steward --agency so-giao-duc-va-dao-tao --role steward --password-stdin <<<"$password" >/dev/null
"$bin" --data "$work/data" user add bench.admin --role admin --password-stdin <<<"$password" >/dev/null
# A signed-in browser: the sign-in form's token, then the session cookie.
sign_in() {
  local jar=$1 user=$2
  local csrf
  csrf=$(curl -s -c "$jar" "$base/login" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)
  curl -s -o /dev/null -b "$jar" -c "$jar" --data-urlencode "csrf=$csrf" --data-urlencode "username=$user" --data-urlencode "password=$password" "$base/login"
}
sign_in "$work/steward.jar" bench.steward
sign_in "$work/admin.jar" bench.admin
css=$(curl -s "$base/assets/chiase.css" | wc -c)
mapjs=$(curl -s "$base/assets/chiase-map.js" | wc -c)
uploadjs=$(curl -s "$base/assets/chiase-upload.js" | wc -c)
leaflet=$(( $(curl -s "$base/assets/leaflet.js" | wc -c) + $(curl -s "$base/assets/leaflet.css" | wc -c) ))
echo "| page | as | median ms | slowest ms | HTML KB | with CSS and scripts KB (map library apart) |"
echo "|---|---|---:|---:|---:|---:|"
measure() {
  local who=$1 path=$2 jar=()
  [ "$who" != public ] && jar=(-b "$work/$who.jar")
  local times med max html extra page
  times=$(for _ in $(seq 30); do curl -s "${jar[@]}" -o /dev/null -w "%{time_total}\n" "$base$path"; done | sort -n)
  med=$(echo "$times" | sed -n 15p); max=$(echo "$times" | tail -1)
  page=$(curl -s "${jar[@]}" "$base$path")
  html=$(printf '%s' "$page" | wc -c)
  extra=$css
  if printf '%s' "$page" | grep -q chiase-map.js; then extra=$((extra + mapjs)); fi
  if printf '%s' "$page" | grep -q chiase-upload.js; then extra=$((extra + uploadjs)); fi
  python3 - "$path" "$who" "$med" "$max" "$html" "$extra" <<'PY'
import sys
path, who, med, mx, html, extra = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
print(f"| `{path}` | {who} | {med * 1000:.1f} | {mx * 1000:.1f} | {html / 1024:.1f} | {(html + extra) / 1024:.1f} |")
PY
}
for path in "/" "/?q=dat%20dai" "/databases/13" "/datasets/truong-hoc" "/datasets/truong-hoc?cap_hoc=Ti%E1%BB%83u%20h%E1%BB%8Dc&sort=-so_hoc_sinh" "/datasets/tram-bts" "/agencies/so-giao-duc-va-dao-tao" "/freshness" "/huong-dan-khai-thac" "/sitemap.xml" "/khong-co"; do
  measure public "$path"
done
for path in "/my-agency" "/requests" "/my-access" "/notifications" "/audit" "/tokens" "/datasets/new" "/datasets/truong-hoc/upload" "/datasets/truong-hoc/edit" "/datasets/truong-hoc/schema"; do
  measure steward "$path"
done
for path in "/admin/agencies" "/admin/users" "/admin/catalog"; do
  measure admin "$path"
done
echo
python3 -c "print(f'map library (Leaflet 1.9.4, JS and CSS, loaded only by pages with a map): {$leaflet/1024:.0f} KB')"
