#!/usr/bin/env bash
# The HTTP client side by side: 10,000 sequential keep-alive GETs of `/`
# from httpserver-example, by our client (netutil::hyper::Client on the
# loop), hyper's own client connection on our loop (hyper-ioloop) and on
# tokio's current_thread runtime, and reqwest's
# blocking client (benches/src/bin/http_client_bench.rs).
#
# Usage: [ROUNDS=7] [N=10000] [PORT=18095] [BEFORE=path/to/http_client_bench] benches/scripts/http_client_side_by_side.sh
#
# BEFORE adds another build's client (an older commit's
# target/release/http_client_bench), run as `ours-before` in each round,
# to compare two builds in the same run.
#
# The server is pinned to core 0, each client to core 1; clients are
# interleaved round by round, so drift on a shared machine hits them
# alike. Prints each run, then the medians of requests per client
# CPU-second (every thread of the client) and per second. Traffic goes to
# 127.0.0.1 only; the server is bounded by `timeout` and killed by its PID.
set -euo pipefail
RUNS="$(mktemp)"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
ROUNDS="${ROUNDS:-7}"
N="${N:-10000}"
PORT="${PORT:-18095}"
(cd "$ROOT" && cargo build --release -q -p httpserver-example && cargo build --release -q -p benches --features peers --bin http_client_bench)
timeout -k 5 600 taskset -c 0 "$ROOT/target/release/httpserver-example" --port "$PORT" >/dev/null 2>&1 &
SPID=$!
trap 'kill "$SPID" 2>/dev/null || true; wait "$SPID" 2>/dev/null || true; rm -f "$RUNS"' EXIT
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
URL="http://127.0.0.1:$PORT/"
for round in $(seq 1 "$ROUNDS"); do
    if [ -n "${BEFORE:-}" ]; then
        timeout 120 taskset -c 1 "$BEFORE" ours "$URL" "$N" | sed 's/^ours:/ours-before:/'
    fi
    for client in ours hyper-ioloop tokio reqwest; do
        timeout 120 taskset -c 1 "$ROOT/target/release/http_client_bench" "$client" "$URL" "$N"
    done
done >"$RUNS"
cat "$RUNS"
python3 -c '
import statistics as st, sys
from collections import defaultdict
cpu, wall = defaultdict(list), defaultdict(list)
for line in sys.stdin:
    p = line.split()
    name = p[0].rstrip(":")
    cpu[name].append(float(p[3])); wall[name].append(float(p[7]))
ref = st.median(cpu["tokio"]) if cpu["tokio"] else None
print()
print("| client | requests per client CPU-s (median) | × hyper on tokio | requests/s (median) | runs |")
print("|---|---:|---:|---:|---:|")
for name in sorted(cpu, key=lambda n: -st.median(cpu[n])):
    m = st.median(cpu[name])
    r = f"{m / ref:.2f}" if ref else "NA"
    print(f"| {name} | {m:,.0f} | {r} | {st.median(wall[name]):,.0f} | {len(cpu[name])} |")
' <"$RUNS"
