#!/usr/bin/env bash
# chiase and Datasette side by side, on the same data, in one run (issue 9):
# the same 100-row pages (first page; equality on a field with its own index,
# on the first column of a composite index, on a field with no index; that
# filter sorted on a number; full text on a common and a rare word; row by
# key; a deep keyset page; bbox on a dense and a sparse area) at each size,
# every answer of both servers checked against SQLite, the ratios and each
# server's resident memory written to docs/benchmarks.md. The workloads, and
# why each value was chosen, are described in bench/peer_bench.py.
#
#   cargo build --release -p chiase-server
#   bench/peer_bench.sh                        # 100k and 1M rows
#   bench/peer_bench.sh --sizes 100k,1M,10M    # 10M: a 2.3 GB CSV
#   bench/peer_bench.sh --check-only           # the answers only, no load
#   bench/peer_bench.sh --help                 # every option
#
# CHIASE_BIN (default target/release/chiase) is copied to a temporary file
# first, so a rebuild during the run changes nothing. Datasette 0.65 is
# installed with pip into PEER_VENV (default
# ${XDG_CACHE_HOME:-~/.cache}/chiase-bench/venv, reused), wrk with apt-get if
# missing. CSV files, the Datasette database and chiase's data directory go
# under BENCH_DIR (default /tmp/chiase-bench) and are reused; chiase's data is
# imported again when the binary changed. Exit status 1 when any answer is
# wrong (then docs/benchmarks.md is left alone).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
bin=${CHIASE_BIN:-$root/target/release/chiase}
work=${BENCH_DIR:-/tmp/chiase-bench}
venv=${PEER_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/chiase-bench/venv}

[ -x "$bin" ] || { echo "no chiase binary at $bin: cargo build --release -p chiase-server, or set CHIASE_BIN" >&2; exit 2; }

if ! command -v wrk >/dev/null; then
  sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get install -y wrk >/dev/null || { $sudo apt-get update >/dev/null && $sudo apt-get install -y wrk >/dev/null; }
fi

if ! "$venv/bin/datasette" --version 2>/dev/null | grep -q 'version 0\.65\.'; then
  echo "installing Datasette 0.65 into $venv"
  mkdir -p "$(dirname "$venv")"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'datasette==0.65.*'
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$bin" "$tmp/chiase"

mkdir -p "$work"
python3 "$here/peer_bench.py" --chiase "$tmp/chiase" --datasette "$venv/bin/datasette" --root "$root" --work "$work" "$@"
