#!/usr/bin/env bash
# Audited restricted reads against open reads (issue 4). Two datasets with
# the same 100,000 BTS rows: one open (entry 26), one shared by default among
# state agencies (entry 25), so every read of it is a restricted read whose
# audit event must be durable before the reply leaves. The same signed-in
# user (an API token) reads both with wrk, so authentication costs the same.
#
#   cargo build --release -p chiase-server && bench/audit_bench.sh
set -euo pipefail
bin=${CHIASE_BIN:-$(pwd)/target/release/chiase}
work=${BENCH_DIR:-/tmp/chiase-bench}
mkdir -p "$work"
csv="$work/bts_100000.csv"
[ -f "$csv" ] || python3 bench/gen_bts.py --rows 100000 --out "$csv"
data="$work/audit-data"
rm -rf "$data"
c() { "$bin" --data "$data" "$@"; }
c catalog import crates/chiase-io/catalogs/641-QD-UBND-2022-tuyen-quang.txt --decision "641/QĐ-UBND" --date 2022-06-06 >/dev/null
c dataset create --template tram-bts --id bts-mo --entry 26 --sharing open >/dev/null
c dataset create --template tram-bts --id bts-han-che --entry 25 --sharing default >/dev/null
c import bts-mo "$csv" >/dev/null
c import bts-han-che "$csv" >/dev/null
c user add can.bo --agency so-noi-vu --role member >/dev/null
token=$(c token create can.bo)
port=${PORT:-18383}
CHIASE_ADMIN_SETUP_TOKEN=unused-setup-token-0123456789 "$bin" --data "$data" serve --listen "127.0.0.1:$port" >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
until curl -fs "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.05; done
events_before=$(sqlite3 "$data/chiase.db" "SELECT count(*) FROM audit_events")
for round in 1 2; do
  for ds in bts-mo bts-han-che; do
    printf '%s round %s: ' "$ds" "$round"
    wrk -t2 -c16 -d10s --latency -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/datasets/$ds/records?nha_mang=Viettel&limit=100" \
      | grep -E "Requests/sec|50%" | tr -s ' ' | tr '\n' ' '
    echo
  done
done
events_after=$(sqlite3 "$data/chiase.db" "SELECT count(*) FROM audit_events")
echo "audit events written during the runs: $((events_after - events_before))"
"$bin" --data "$data" audit verify
