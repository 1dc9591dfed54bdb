#!/usr/bin/env bash
# Per-request cost of an HTTP server, two ways:
#   cpu        server user and system time per request (/proc/PID/stat over
#              a `wrk -t1 -c64 -d5s` run; server pinned to core 0, wrk to 1)
#   callgrind  user-space instructions per request (the server under
#              `valgrind --tool=callgrind`, `wrk -t1 -c8 -d6s`; the profile
#              is left in $OUT for callgrind_annotate)
#
# Usage: [MODE=plain|pipeline] [PORT=18097] [OUT=target/bench-per-request]
#        benches/scripts/http_per_request.sh cpu|callgrind SERVER_CMD [ARGS...]
# SERVER_CMD gets its port in $PORT, e.g.
#   benches/scripts/http_per_request.sh callgrind target/release/httpserver-example --port 18097
#   benches/scripts/http_per_request.sh cpu /tmp/peers/rust/target/release/mio_server
# For readable profiles build with CARGO_PROFILE_RELEASE_DEBUG=1.
# Traffic goes to 127.0.0.1 only; the server is bounded by `timeout` and
# killed by its PID.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
[ $# -ge 2 ] || { echo "usage: $0 cpu|callgrind SERVER_CMD [ARGS...]" >&2; exit 2; }
HOW="$1"; shift
MODE="${MODE:-pipeline}"
export PORT="${PORT:-18097}"
OUT="${OUT:-$ROOT/target/bench-per-request}"
mkdir -p "$OUT"
URL="http://127.0.0.1:$PORT/"
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }
wrk_args=()
[ "$MODE" = pipeline ] && wrk_args=(-s "$ROOT/benches/peers/pipeline.lua")
wrk_tail=()
[ "$MODE" = pipeline ] && wrk_tail=(-- 16)

case "$HOW" in
cpu)
    timeout -k 5 60 taskset -c 0 "$@" >"$OUT/server.log" 2>&1 &
    TPID=$! ;;
callgrind)
    timeout -k 5 120 valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.$MODE.out" \
        "$@" >"$OUT/server.log" 2>&1 &
    TPID=$! ;;
*) echo "unknown measurement $HOW" >&2; exit 2 ;;
esac
trap 'kill "$TPID" 2>/dev/null || true; wait "$TPID" 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do port_open && break; sleep 0.1; done
port_open || { echo "server did not open port $PORT" >&2; exit 1; }

if [ "$HOW" = cpu ]; then
    SRV=$(pgrep -P "$TPID" | head -1)
    ticks() { sed 's/^.*) //' "/proc/$SRV/stat" | awk '{print $12, $13}'; }
    read -r u0 s0 < <(ticks)
    W=$(taskset -c 1 wrk -t1 -c64 -d5s "${wrk_args[@]}" "$URL" "${wrk_tail[@]}")
    read -r u1 s1 < <(ticks)
    R=$(echo "$W" | grep -oP '^\s+\K\d+(?= requests in)')
    HZ=$(getconf CLK_TCK)
    python3 -c "r=$R; hz=$HZ; u=($u1-$u0)/hz*1e9/r; s=($s1-$s0)/hz*1e9/r
print(f'$MODE: {r} requests; per request user {u:.0f} ns, system {s:.0f} ns, total {u+s:.0f} ns')"
else
    W=$(wrk -t1 -c8 -d6s "${wrk_args[@]}" "$URL" "${wrk_tail[@]}")
    # The profile is written when the server exits.
    VPID=$(pgrep -P "$TPID" | head -1)
    kill -INT "${VPID:-$TPID}" 2>/dev/null || true
    wait "$TPID" 2>/dev/null || true
    R=$(echo "$W" | grep -oP '^\s+\K\d+(?= requests in)')
    I=$(callgrind_annotate "$OUT/callgrind.$MODE.out" 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1}' || true)
    echo "$MODE: $R requests; $((I / R)) instructions per request ($OUT/callgrind.$MODE.out)"
fi
