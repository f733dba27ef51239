#!/usr/bin/env bash
# Gateway overhead (issue 13): one upstream — a release `chiase serve`
# answering `/robots.txt` (small, static, no database) — called directly
# and through a second chiase's gateway (`/gateway/bench/robots.txt`, an
# open service: the policy decision, the header rewrite, the connection to
# the upstream and the audit event of every call included), in one run,
# with wrk from the same 2-core machine: latency on one connection, then
# requests/s on 16.
#
#   cargo build --release -p chiase-server && bench/gateway_bench.sh
set -euo pipefail
bin=${CHIASE_BIN:-$(pwd)/target/release/chiase}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
up_port=${UP_PORT:-18291}
gw_port=${GW_PORT:-18292}
export CHIASE_LOG=warn

"$bin" --data "$work/upstream" serve --listen "127.0.0.1:$up_port" >/dev/null 2>&1 &
"$bin" --data "$work/gateway" catalog import crates/chiase-io/catalogs/641-QD-UBND-2022-tuyen-quang.txt --decision "641/QĐ-UBND" --date 2022-06-06 >/dev/null
printf 'mat-khau-do-hieu-nang-%s\n' "$RANDOM$RANDOM" | "$bin" --data "$work/gateway" user add bench --agency so-thong-tin-va-truyen-thong --role steward --password-stdin >/dev/null
token=$("$bin" --data "$work/gateway" token create bench --expires 1 | tail -1)
"$bin" --data "$work/gateway" serve --listen "127.0.0.1:$gw_port" >/dev/null 2>&1 &
for p in $up_port $gw_port; do until curl -fs "http://127.0.0.1:$p/healthz" >/dev/null; do sleep 0.05; done; done
no=$(curl -fs "http://127.0.0.1:$gw_port/api/v1/agencies/so-thong-tin-va-truyen-thong" | python3 -c 'import json,sys; print(json.load(sys.stdin)["databases"][0]["no"])')
mode=$(curl -fs "http://127.0.0.1:$gw_port/api/v1/databases/$no" | python3 -c 'import json,sys; m=json.load(sys.stdin)["sharing_modes"]; print("open" if "open" in m else m[0])')
curl -fsS -X POST "http://127.0.0.1:$gw_port/api/v1/services" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d "{\"id\": \"bench\", \"database\": \"$no\", \"title\": \"Đo hiệu năng\", \"upstream_url\": \"http://127.0.0.1:$up_port\", \"sharing_mode\": \"$mode\"}" >/dev/null
auth=()
[ "$mode" = open ] || auth=(-H "Authorization: Bearer $token")
direct="http://127.0.0.1:$up_port/robots.txt"
gateway="http://127.0.0.1:$gw_port/gateway/bench/robots.txt"
curl -fsS "${auth[@]}" "$gateway" >/dev/null
echo "service mode: $mode"
for round in 1 2; do
  for name in direct gateway; do
    url=${!name}
    echo "== $name (round $round): 1 connection, 10 s"
    wrk -t1 -c1 -d10s --latency "${auth[@]}" "$url" | grep -E "Requests/sec|50%|99%"
    echo "== $name (round $round): 16 connections, 10 s"
    wrk -t2 -c16 -d10s --latency "${auth[@]}" "$url" | grep -E "Requests/sec|50%|99%"
  done
done
echo "== audit events of the calls"
"$bin" --data "$work/gateway" audit verify | tail -1
