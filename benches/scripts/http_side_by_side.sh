#!/usr/bin/env bash
# HTTP hello-world side by side: our server against the peers of
# benches/peers (raw mio, hyper, may_minihttp, uvloop, nginx with one
# worker), built by benches/peers/setup.sh into PEERS_DIR.
#
# Usage: [PEERS_DIR=/tmp/peers] [ROUNDS=3] [DURATION=8] [OUT=target/bench-http]
#        [OURS_CMD='...'] benches/scripts/http_side_by_side.sh [server | name='command' ...]
#
# Servers by name: ioloop (ours), mio, hyper, may_minihttp, uvloop, nginx
# (the default set), tornado, mio_httparse (raw mio parsing with httparse:
# the floor of any server on httparse); or any `name='command'`, run by `sh -c` from
# the repository root with its port in $PORT. OURS_CMD is our server's
# command, by default `target/release/httpserver-example --port "$PORT"`
# (built first); set it to measure another build or another server.
#
# Every round runs each server once through benches/peers/http_bench.sh
# (server pinned to core 0, `wrk -t1 -c64` pinned to core 1, plain
# keep-alive then 16-deep pipelining, server CPU from /proc), servers
# interleaved so that drift on a shared machine hits them all alike. Then
# it prints the medians, and requests per server CPU-second as a ratio to
# the raw mio server (or to the server named by REF): the ratio of the
# medians, and the median of each round's ratio, which is the steadier of
# the two when the machine's speed changes between rounds. A peer that is not built is left out, with a note.
# Traffic goes to 127.0.0.1 only; every server is killed by its PID and
# bounded by `timeout`.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PEERS_SRC="$ROOT/benches/peers"
PEERS_DIR="${PEERS_DIR:-/tmp/peers}"
ROUNDS="${ROUNDS:-3}"
OUT="${OUT:-$ROOT/target/bench-http}"
export DURATION="${DURATION:-8}"
DEFAULT_OURS='target/release/httpserver-example --port "$PORT"'
OURS_CMD="${OURS_CMD:-$DEFAULT_OURS}"

command -v wrk >/dev/null || { echo "wrk is not installed (benches/peers/setup.sh)" >&2; exit 2; }
if [ "$OURS_CMD" = "$DEFAULT_OURS" ]; then
    (cd "$ROOT" && cargo build --release -q -p httpserver-example)
fi

# name -> command, run by `sh -c` from $ROOT; the server reads its port from $PORT.
declare -A CMD=(
    [ioloop]="$OURS_CMD"
    [mio]="$PEERS_DIR/rust/target/release/mio_server"
    [mio_httparse]="$PEERS_DIR/rust/target/release/mio_httparse_server"
    [hyper]="$PEERS_DIR/rust/target/release/hyper_server"
    [may_minihttp]="$PEERS_DIR/may/target/release/may_peer"
    [uvloop]="$PEERS_DIR/venv/bin/python $PEERS_SRC/python/uvloop_server.py"
    [tornado]="$PEERS_DIR/venv/bin/python $PEERS_SRC/python/tornado_server.py"
    [nginx]="$PEERS_SRC/nginx/run.sh"
)
# What each peer needs to exist before it can run.
declare -A NEEDS=(
    [mio]="$PEERS_DIR/rust/target/release/mio_server"
    [mio_httparse]="$PEERS_DIR/rust/target/release/mio_httparse_server"
    [hyper]="$PEERS_DIR/rust/target/release/hyper_server"
    [may_minihttp]="$PEERS_DIR/may/target/release/may_peer"
    [uvloop]="$PEERS_DIR/venv/bin/python"
    [tornado]="$PEERS_DIR/venv/bin/python"
    [nginx]="/usr/sbin/nginx"
)
[ $# -gt 0 ] || set -- ioloop mio hyper may_minihttp uvloop nginx
SERVERS=()
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
    SERVERS+=("$arg")
done

mkdir -p "$OUT"
: >"$OUT/runs.txt"
for round in $(seq 1 "$ROUNDS"); do
    echo "# round $round" >>"$OUT/runs.txt"
    for name in "${SERVERS[@]}"; do
        (cd "$ROOT" && LOGDIR="$OUT/logs/round$round" NAME=$name \
            "$PEERS_SRC/http_bench.sh" sh -c "exec ${CMD[$name]}") | tee -a "$OUT/runs.txt" \
            || echo "$name failed in round $round" >&2
        sleep 1
    done
done

REF="${REF:-mio}" python3 - "$OUT/runs.txt" <<'PY'
import os, statistics as st, sys
from collections import defaultdict
rps, eff, cpu = defaultdict(list), defaultdict(list), defaultdict(list)
by_round = defaultdict(dict)  # (name, mode) -> {round: req per CPU-s}
round_no = 0
for line in open(sys.argv[1]):
    if line.startswith("# round "):
        round_no = int(line.split()[2])
        continue
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
        by_round[key][round_no] = r / (c / 100)
modes = sorted({m for _, m in rps}, key=lambda m: (m != "plain", m))
print()
REF = os.environ["REF"]
print(f"| mode | server | req/s (median) | server CPU % | req per server CPU-s | × {REF} | × {REF}, median of rounds | runs |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
for mode in modes:
    ref = eff.get((REF, mode))
    names = sorted({n for n, m in rps if m == mode}, key=lambda n: -st.median(eff[(n, mode)] or [0]))
    for n in names:
        k = (n, mode)
        e = st.median(eff[k]) if eff[k] else 0
        ratio = f"{e / st.median(ref):.2f}" if ref and e else "NA"
        # Each round's ratio compares runs minutes apart, so drift in the
        # machine's speed between rounds cancels out.
        mine, theirs = by_round[k], by_round.get((REF, mode), {})
        paired = [mine[r] / theirs[r] for r in mine if r in theirs]
        per_round = f"{st.median(paired):.2f}" if paired else "NA"
        print(f"| {mode} | {n} | {st.median(rps[k]):,.0f} | {st.median(cpu[k]):.0f} | {e:,.0f} | {ratio} | {per_round} | {len(rps[k])} |")
PY
