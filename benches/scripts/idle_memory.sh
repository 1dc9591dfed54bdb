#!/usr/bin/env bash
# Memory per idle keep-alive connection: our HTTP server, hyper and nginx
# (one worker) in one run, with a table of the ratios to hyper.
#
# Usage: [CONNECTIONS=10000] [PER_CLIENT=5000] [PEERS_DIR=/tmp/peers]
#        [OURS_CMD='...'] [PORT=18180] [OUT=target/bench-idle]
#        [CLIENT_ARGS='--tls-ca ca.pem'] [REF=hyper]
#        benches/scripts/idle_memory.sh [server | name='command' ...]
#
# Servers by name: ioloop (ours), hyper, nginx (the default three), mio,
# may_minihttp, uvloop; or any `name='command'`, run by `sh -c` from the
# repository root with its port in $PORT. The peers come from
# benches/peers/setup.sh (built into PEERS_DIR). OURS_CMD is our server's
# command, by default
#   target/release/httpserver-example --port $PORT --idle-timeout 300
# (built first); an idle timeout must outlast the measurement.
#
# For each server in turn: start it pinned to core 0 (under `timeout`),
# make one warm-up request, wait until its resident set (VmRSS) is stable
# and take it as "before"; then open CONNECTIONS connections to
# 127.0.0.1:PORT from clients pinned to core 1 (`idle_client`, at most
# PER_CLIENT connections per process), each sending one `GET /` and
# reading the whole response, then staying idle; wait until the RSS is
# stable again ("after"), check that the server still holds the
# connections (its open fds; a row is marked invalid if it does not), and
# report (after - before) / CONNECTIONS.
# Then the clients and the server are killed by their PIDs. Each server
# gets its own port (PORT, PORT+1, ...). Bounded: every wait has a limit,
# and every process a `timeout`.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PEERS_SRC="$ROOT/benches/peers"
PEERS_DIR="${PEERS_DIR:-/tmp/peers}"
N="${CONNECTIONS:-10000}"
PER_CLIENT="${PER_CLIENT:-5000}"
BASE_PORT="${PORT:-18180}"
OUT="${OUT:-$ROOT/target/bench-idle}"
DEFAULT_OURS='target/release/httpserver-example --port "$PORT" --idle-timeout 300'
OURS_CMD="${OURS_CMD:-$DEFAULT_OURS}"
# More idle_client options (`--tls-ca PATH` for TLS servers).
CLIENT_ARGS="${CLIENT_ARGS:-}"
# Seconds: to open every connection, for the RSS to settle, a process's life.
OPEN_LIMIT=120
SETTLE_LIMIT=30
LIFE=$((OPEN_LIMIT + 2 * SETTLE_LIMIT + 60))

# The server holds N connections, each client up to PER_CLIENT.
want=$((N + 256))
[ "$PER_CLIENT" -ge "$want" ] && want=$((PER_CLIENT + 256))
ulimit -n "$want" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$want" ]; then
    echo "open file limit $(ulimit -n) is below the $want needed for $N connections" >&2
    exit 2
fi

(cd "$ROOT" && cargo build --release -q -p benches --features peers --bin idle_client)
CLIENT="$ROOT/target/release/idle_client"
if [ "$OURS_CMD" = "$DEFAULT_OURS" ]; then
    (cd "$ROOT" && cargo build --release -q -p httpserver-example)
fi

declare -A CMD=(
    [ioloop]="$OURS_CMD"
    [hyper]="$PEERS_DIR/rust/target/release/hyper_server"
    [mio]="$PEERS_DIR/rust/target/release/mio_server"
    [may_minihttp]="$PEERS_DIR/may/target/release/may_peer"
    [uvloop]="$PEERS_DIR/venv/bin/python $PEERS_SRC/python/uvloop_server.py"
    # nginx closes idle keep-alive connections once fewer than 1/16 of its
    # worker_connections are free, so it gets twice as many as it needs.
    [nginx]="env NGINX_CONNECTIONS=$((2 * N + 256)) NGINX_KEEPALIVE=300s $PEERS_SRC/nginx/run.sh"
)
# What each peer needs to exist before it can run.
declare -A NEEDS=(
    [hyper]="$PEERS_DIR/rust/target/release/hyper_server"
    [mio]="$PEERS_DIR/rust/target/release/mio_server"
    [may_minihttp]="$PEERS_DIR/may/target/release/may_peer"
    [uvloop]="$PEERS_DIR/venv/bin/python"
    [nginx]="/usr/sbin/nginx"
)
[ $# -gt 0 ] || set -- ioloop hyper nginx
NAMES=()
for arg in "$@"; do
    if [[ "$arg" == *=* ]]; then
        CMD[${arg%%=*}]="${arg#*=}"
        arg=${arg%%=*}
    fi
    [ -n "${CMD[$arg]:-}" ] || { echo "unknown server $arg" >&2; exit 2; }
    if [ -n "${NEEDS[$arg]:-}" ] && [ ! -x "${NEEDS[$arg]}" ]; then
        echo "leaving out $arg: no ${NEEDS[$arg]} (run benches/peers/setup.sh)" >&2
        continue
    fi
    NAMES+=("$arg")
done

mkdir -p "$OUT"
: >"$OUT/rows.txt"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
}
trap cleanup EXIT INT TERM

rss_kib() { awk '/^VmRSS:/{print $2}' "/proc/$1/status"; }

# Waits until four readings of the RSS, 0.5 s apart, are within 0.1% + 8 KiB
# of each other, for at most SETTLE_LIMIT seconds; prints the last one
# (with a "~" after it if it never settled).
settled_rss() {
    local pid=$1 samples=() i
    for i in $(seq $((SETTLE_LIMIT * 2))); do
        samples+=("$(rss_kib "$pid")")
        if [ ${#samples[@]} -ge 4 ]; then
            if printf '%s\n' "${samples[@]: -4}" |
                awk 'NR==1{lo=hi=$1} {if($1<lo)lo=$1; if($1>hi)hi=$1} END{exit !(hi-lo <= hi/1000+8)}'; then
                echo "${samples[-1]}"
                return
            fi
        fi
        sleep 0.5
    done
    echo "${samples[-1]}~"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

measure() { # name command port
    local name=$1 cmd=$2 port=$3 tpid srv before after fds i
    echo "== $name: $cmd (port $port)" >&2
    if port_open "$port"; then echo "$name: port $port already in use" >&2; return 1; fi
    (cd "$ROOT" && PORT=$port exec timeout -k 5 "$LIFE" taskset -c 0 sh -c "exec $cmd") \
        >"$OUT/$name.server.log" 2>&1 &
    tpid=$!
    PIDS+=("$tpid")
    for _ in $(seq 150); do
        port_open "$port" && break
        kill -0 "$tpid" 2>/dev/null || break
        sleep 0.1
    done
    if ! port_open "$port"; then
        echo "$name: the server did not listen on $port (see $OUT/$name.server.log)" >&2
        cleanup
        return 1
    fi
    # The server itself: timeout's child (taskset and sh exec into it).
    srv=$(pgrep -P "$tpid" | head -1)
    timeout 30 taskset -c 1 "$CLIENT" --port "$port" --connections 1 --hold 0 $CLIENT_ARGS >/dev/null
    before=$(settled_rss "$srv")

    local clients=() left=$N count
    rm -f "$OUT/$name".client*
    i=0
    while [ "$left" -gt 0 ]; do
        count=$((left < PER_CLIENT ? left : PER_CLIENT))
        timeout -k 5 "$LIFE" taskset -c 1 "$CLIENT" --port "$port" --connections "$count" --hold "$LIFE" $CLIENT_ARGS \
            >"$OUT/$name.client$i.out" 2>"$OUT/$name.client$i.err" &
        clients+=($!)
        PIDS+=($!)
        left=$((left - count))
        i=$((i + 1))
    done
    local ready=0 waited=0
    while [ "$waited" -lt $((OPEN_LIMIT * 10)) ]; do
        ready=$(cat "$OUT/$name".client*.out | awk '$1=="ready"{n+=$2} END{print n+0}')
        [ "$ready" -ge "$N" ] && break
        for pid in "${clients[@]}"; do
            if ! kill -0 "$pid" 2>/dev/null; then
                echo "$name: a client failed: $(cat "$OUT/$name".client*.err)" >&2
                cleanup
                return 1
            fi
        done
        sleep 0.1
        waited=$((waited + 1))
    done
    if [ "$ready" -lt "$N" ]; then
        echo "$name: only $ready of $N connections answered within ${OPEN_LIMIT}s" >&2
        cleanup
        return 1
    fi
    after=$(settled_rss "$srv")
    fds=$(find "/proc/$srv/fd" -mindepth 1 -maxdepth 1 | wc -l)
    cleanup
    if [ "$fds" -lt "$N" ]; then
        echo "$name: the server holds $fds fds, fewer than the $N connections: it closed some" >&2
    fi
    echo "$name $before $after $fds" | tee -a "$OUT/rows.txt" >&2
}

port=$BASE_PORT
for name in "${NAMES[@]}"; do
    measure "$name" "${CMD[$name]}" "$port" || echo "$name failed" >&2
    port=$((port + 1))
    sleep 1
done

REF="${REF:-hyper}" python3 - "$OUT/rows.txt" "$N" <<'PY'
import os, sys
rows, n = [], int(sys.argv[2])
for line in open(sys.argv[1]):
    name, before, after, fds = line.split()
    unsettled = before.endswith("~") or after.endswith("~")
    before, after = int(before.rstrip("~")), int(after.rstrip("~"))
    rows.append((name, before, after, (after - before) * 1024 / n, int(fds), unsettled))
REF = os.environ["REF"]
ref = next((r[3] for r in rows if r[0] == REF), None)
print()
print(f"| server | RSS before (KiB) | RSS after {n:,} idle connections (KiB) | per idle connection (B) | × {REF} | server fds |")
print("|---|---:|---:|---:|---:|---:|")
for name, before, after, per, fds, unsettled in rows:
    ratio = f"{per / ref:.2f}" if ref else "NA"
    mark = " (RSS still moving)" if unsettled else ""
    if fds < n:
        mark += f" (invalid: {n - fds:,} or more connections closed)"
    print(f"| {name} | {before:,} | {after:,} | {per:,.0f}{mark} | {ratio} | {fds:,} |")
PY
