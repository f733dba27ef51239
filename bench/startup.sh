#!/usr/bin/env bash
# Start-up time of `chiase serve` on an empty data directory: from process
# start to the first 200 from /healthz (migrations + loading the built-in
# Decision 641 catalog included). Prints each run and the median.
#
#   cargo build --release -p chiase-server && bench/startup.sh [RUNS]
set -euo pipefail
bin=${CHIASE_BIN:-target/release/chiase}
runs=${1:-10}
port=${PORT:-18181}
times=()
for i in $(seq "$runs"); do
  dir=$(mktemp -d)
  start=$(date +%s%N)
  "$bin" serve --data "$dir" --listen "127.0.0.1:$port" >/dev/null 2>&1 &
  pid=$!
  until curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { echo "chiase exited early" >&2; exit 1; }
    sleep 0.005
  done
  end=$(date +%s%N)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
  ms=$(( (end - start) / 1000000 ))
  times+=("$ms")
  echo "run $i: ${ms} ms"
done
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
echo "median: ${sorted[$((runs / 2))]} ms over $runs runs (empty data directory to first healthy answer)"
