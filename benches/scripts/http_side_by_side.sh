#!/usr/bin/env bash
# HTTP hello-world side by side: our httpserver-example against the peers
# built by ../shared/peers/setup.sh (raw mio, hyper, may_minihttp, uvloop).
#
# Usage: [PEERS=/tmp/peers] [ROUNDS=3] [DURATION=8] [OUT=target/bench-http]
#        benches/scripts/http_side_by_side.sh [server ...]
#
# Every round runs each server once through the peers' own http_bench.sh
# (server pinned to core 0, `wrk -t1 -c64` pinned to core 1, plain
# keep-alive then 16-deep pipelining, server CPU from /proc), servers
# interleaved so that drift on a shared machine hits them all alike. Then
# it prints the medians, and requests per server CPU-second as a ratio to
# the raw mio server. Traffic goes to 127.0.0.1 only; every server is
# killed by its PID and bounded by `timeout`.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PEERS="${PEERS:-/tmp/peers}"
ROUNDS="${ROUNDS:-3}"
OUT="${OUT:-$ROOT/target/bench-http}"
export DURATION="${DURATION:-8}"

[ -x "$PEERS/http_bench.sh" ] || {
    echo "no peers in $PEERS: run ../shared/peers/setup.sh first" >&2
    exit 2
}
command -v wrk >/dev/null || { echo "wrk is not installed" >&2; exit 2; }

(cd "$ROOT" && cargo build --release -q -p httpserver-example)
OURS="$ROOT/target/release/httpserver-example"

# name -> command (run from $PEERS; the server reads its port from $PORT)
declare -A CMD=(
    [ioloop]="sh -c 'exec $OURS --port \"\$PORT\"'"
    [mio]="rust/target/release/mio_server"
    [hyper]="rust/target/release/hyper_server"
    [may_minihttp]="may/target/release/may_peer"
    [uvloop]="venv/bin/python python/uvloop_server.py"
)
if [ $# -gt 0 ]; then SERVERS=("$@"); else SERVERS=(ioloop mio hyper may_minihttp uvloop); fi

mkdir -p "$OUT"
: >"$OUT/runs.txt"
for round in $(seq 1 "$ROUNDS"); do
    for name in "${SERVERS[@]}"; do
        (cd "$PEERS" && eval "LOGDIR='$OUT/logs/round$round' NAME=$name ./http_bench.sh ${CMD[$name]}") \
            | tee -a "$OUT/runs.txt"
        sleep 1
    done
done

python3 - "$OUT/runs.txt" <<'PY'
import statistics as st, sys
from collections import defaultdict
rps, eff, cpu = defaultdict(list), defaultdict(list), defaultdict(list)
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) < 5 or ":" not in p[0] or not p[4].startswith("cpu="):
        continue
    try:
        r, c = float(p[1]), float(p[4][4:].rstrip("%"))
    except ValueError:
        continue
    key = tuple(p[0].split(":"))
    rps[key].append(r); cpu[key].append(c)
    if c > 0:
        eff[key].append(r / (c / 100))
modes = sorted({m for _, m in rps}, key=lambda m: (m != "plain", m))
print()
print("| mode | server | req/s (median) | server CPU % | req per server CPU-s | × mio | runs |")
print("|---|---|---:|---:|---:|---:|---:|")
for mode in modes:
    ref = eff.get(("mio", mode))
    names = sorted({n for n, m in rps if m == mode}, key=lambda n: -st.median(eff[(n, mode)] or [0]))
    for n in names:
        k = (n, mode)
        e = st.median(eff[k]) if eff[k] else 0
        ratio = f"{e / st.median(ref):.2f}" if ref and e else "NA"
        print(f"| {mode} | {n} | {st.median(rps[k]):,.0f} | {st.median(cpu[k]):.0f} | {e:,.0f} | {ratio} | {len(rps[k])} |")
PY
