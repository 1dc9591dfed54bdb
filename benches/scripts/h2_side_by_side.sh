#!/usr/bin/env bash
# HTTP/2 (prior knowledge, h2c) side by side: `h2load -c64 -m16` against
# the same hyper service on our loop and on tokio's current_thread runtime
# (benches/src/bin/hyper_peer.rs).
#
# Usage: [ROUNDS=3] [DURATION=5] [PORT=18090] benches/scripts/h2_side_by_side.sh
#
# Each round runs both servers once, interleaved: server pinned to core 0,
# h2load pinned to core 1 for DURATION seconds after a 1 s warm-up, server
# CPU from /proc/PID/stat. Prints one line per run and then the medians,
# with requests per server CPU-second. h2load comes with Debian's
# nghttp2-client package. Traffic goes to 127.0.0.1 only; each server is
# bounded by `timeout` and killed by its PID.
set -euo pipefail
RUNS="$(mktemp)"
trap 'rm -f "$RUNS"' EXIT
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-5}"
PORT="${PORT:-18090}"
command -v h2load >/dev/null || { echo "h2load is not installed (apt-get install nghttp2-client)" >&2; exit 2; }
(cd "$ROOT" && cargo build --release -q -p benches --features peers --bin hyper_peer)
BIN="$ROOT/target/release/hyper_peer"
TCK=$(getconf CLK_TCK)
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

run_one() { # runtime
    local runtime="$1" spid srv c0 c1 t0 t1 out rps cpu
    timeout -k 5 $(( DURATION + 60 )) taskset -c 0 "$BIN" --runtime "$runtime" --port "$PORT" >/dev/null 2>&1 &
    spid=$!
    for _ in $(seq 1 100); do port_open && break; sleep 0.1; done
    srv=$(pgrep -P "$spid" | head -1)
    c0=$(sed 's/^.*) //' "/proc/$srv/stat" | awk '{print $12+$13}'); t0=$(date +%s.%N)
    out=$(timeout -k 5 $(( DURATION + 30 )) taskset -c 1 h2load -c64 -m16 -t1 \
        --warm-up-time=1 -D "$DURATION" "http://127.0.0.1:$PORT/" 2>&1 || true)
    c1=$(sed 's/^.*) //' "/proc/$srv/stat" | awk '{print $12+$13}'); t1=$(date +%s.%N)
    kill "$spid" 2>/dev/null || true
    wait "$spid" 2>/dev/null || true
    rps=$(echo "$out" | awk '/^finished in/{gsub(",","");print $4}')
    cpu=$(awk -v a="$c0" -v b="$c1" -v t0="$t0" -v t1="$t1" -v k="$TCK" 'BEGIN{printf "%.3f", (b-a)/k/(t1-t0)}')
    local failed
    failed=$(echo "$out" | awk '/^requests:/{print $10}')
    echo "hyper_$runtime:h2 ${rps:-NA} cpu=$cpu failed=${failed:-NA}"
}

for round in $(seq 1 "$ROUNDS"); do
    for runtime in ioloop tokio; do
        run_one "$runtime"
        sleep 1
    done
done >"$RUNS"
cat "$RUNS"
python3 -c '
import statistics as st, sys
from collections import defaultdict
rps, eff = defaultdict(list), defaultdict(list)
for line in sys.stdin:
    name, r, cpu, _ = line.split()
    r, c = float(r), float(cpu[4:])
    rps[name].append(r)
    if c > 0:
        eff[name].append(r / c)
print()
print("| mode | server | req/s (median) | req per server CPU-s | runs |")
print("|---|---|---:|---:|---:|")
for name in sorted(rps, key=lambda n: -st.median(eff[n])):
    print(f"| h2 -c64 -m16 | {name.split(chr(58))[0]} | {st.median(rps[name]):,.0f} | {st.median(eff[name]):,.0f} | {len(rps[name])} |")
' <"$RUNS"
