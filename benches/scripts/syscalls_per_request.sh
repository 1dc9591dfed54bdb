#!/usr/bin/env bash
# System calls per HTTP request, counted by the kernel's own tracepoints
# (perf stat), for our server and, if the peers are built
# (benches/peers/setup.sh into PEERS_DIR), raw mio.
#
# Usage: [PEERS_DIR=/tmp/peers] [DURATION=5] [DEPTH=1] [TRACER=perf|strace] benches/scripts/syscalls_per_request.sh
#
# Each server is pinned to core 0 on 127.0.0.1, `wrk -t1 -c64` to core 1
# (DEPTH > 1: benches/peers/pipeline.lua, DEPTH requests per write) for
# DURATION seconds while `perf stat -p` counts the server's read, write,
# epoll_wait and epoll_ctl calls; the counts are divided by the requests
# wrk completed. TRACER=strace counts with `strace -c -f -p` instead (every
# system call by name; it slows the server several times over, so fewer
# requests complete, but the calls per request are the same). Every server
# and tracer is ended by its PID.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PEERS_DIR="${PEERS_DIR:-/tmp/peers}"
DURATION="${DURATION:-5}"
DEPTH="${DEPTH:-1}"
PORT="${PORT:-18093}"
export PORT
TRACER="${TRACER:-perf}"
command -v "$TRACER" >/dev/null || { echo "$TRACER is not installed" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is not installed" >&2; exit 2; }
(cd "$ROOT" && cargo build --release -q -p httpserver-example)

EVENTS=raw_syscalls:sys_enter
for call in read recvfrom write sendto writev epoll_wait epoll_pwait epoll_ctl; do
    EVENTS="$EVENTS,syscalls:sys_enter_$call"
done
WRK_SCRIPT=()
[ "$DEPTH" -gt 1 ] && WRK_SCRIPT=(-s "$ROOT/benches/peers/pipeline.lua")

measure() { # name cmd...
    local name=$1 out
    shift
    out=$(mktemp -d)
    timeout 120 taskset -c 0 "$@" >/dev/null 2>&1 &
    local spid=$!
    for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
    # The server itself: timeout's child (taskset execs into it).
    local server
    server=$(pgrep -P "$spid" | head -1)
    local ppid
    if [ "$TRACER" = strace ]; then
        strace -c -f -o "$out/strace" -p "$server" &
        ppid=$!
        sleep 0.5 # attached before the load starts
    else
        perf stat -x, -e "$EVENTS" -p "$server" -o "$out/perf" -- sleep "$DURATION" &
        ppid=$!
    fi
    taskset -c 1 wrk -t1 -c64 -d"${DURATION}s" "${WRK_SCRIPT[@]}" "http://127.0.0.1:$PORT/" \
        ${WRK_SCRIPT:+-- "$DEPTH"} >"$out/wrk"
    [ "$TRACER" = strace ] && kill -INT "$ppid"
    wait "$ppid" || true
    kill "$spid"
    wait "$spid" 2>/dev/null || true
    local requests
    requests=$(awk '/requests in/{print $1}' "$out/wrk")
    echo "$name (pipelining depth $DEPTH, $TRACER): $requests requests"
    if [ "$TRACER" = strace ]; then
        # strace -c: % time, seconds, usecs/call, calls, [errors,] syscall
        awk -v n="$requests" '$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && $NF != "total" {
            printf "  %-18s %7.4f per request (%d calls)\n", $NF, $4 / n, $4 }' "$out/strace"
    else
        awk -F, -v n="$requests" '$3 ~ /sys_enter/ && $1 + 0 > 0 {
            name = $3; sub(/.*sys_enter_?/, "", name); if (name == "") name = "all system calls";
            printf "  %-18s %7.4f per request (%d calls)\n", name, $1 / n, $1 }' "$out/perf"
    fi
    rm -rf "$out"
}

measure ioloop "$ROOT/target/release/httpserver-example" --port "$PORT"
if [ -x "$PEERS_DIR/rust/target/release/mio_server" ]; then
    measure mio "$PEERS_DIR/rust/target/release/mio_server"
fi
