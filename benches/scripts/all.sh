#!/usr/bin/env bash
# Every figure of BENCHMARKS.md in one run, written to target/bench-report/.
#
# Usage: [PEERS_DIR=/tmp/peers] [ROUNDS=3] benches/scripts/all.sh
#
# 1. criterion: cargo bench -p benches --features peers (loop micro-benchmarks, futures,
#    echo), ours and the peers side by side; the medians as a table.
# 2. HTTP hello world against the peers (http_side_by_side.sh).
# 3. System calls per HTTP request (syscalls_per_request.sh), plain and
#    pipelined.
# 4. Memory per idle keep-alive connection, 10,000 connections, ours,
#    hyper and nginx (idle_memory.sh).
# 5. Whole-process runs of ours and a peer in alternation (paired.py) for
#    the loop workloads whose criterion medians are closest, and the
#    watchdog's cost on the callback chain.
# The peers come from benches/peers/setup.sh (built into PEERS_DIR,
# default /tmp/peers); steps 2 to 4 leave out what is not built. Takes
# about 25 minutes.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
export PEERS_DIR="${PEERS_DIR:-/tmp/peers}"
OUT="$ROOT/target/bench-report"
mkdir -p "$OUT"
cd "$ROOT"
uname -a >"$OUT/machine.txt"
nproc >>"$OUT/machine.txt"
rustc --version >>"$OUT/machine.txt"

echo "== 1. criterion" >&2
rm -rf target/criterion
cargo bench -p benches --features peers 2>&1 | tee "$OUT/criterion.txt" | grep -E "^[a-z_/0-9A-Z]+ +time:|^Benchmarking .*: Analyzing" >&2 || true
python3 benches/scripts/criterion_table.py >"$OUT/criterion_table.md"
cat "$OUT/criterion_table.md" >&2

echo "== 2. HTTP side by side" >&2
ROUNDS="${ROUNDS:-3}" OUT="$OUT/http" benches/scripts/http_side_by_side.sh | tee "$OUT/http.txt" >&2
echo "== 3. system calls per request" >&2
{
    DEPTH=1 benches/scripts/syscalls_per_request.sh
    DEPTH=16 benches/scripts/syscalls_per_request.sh
} | tee "$OUT/syscalls.txt" >&2

echo "== 4. idle connections" >&2
OUT="$OUT/idle" benches/scripts/idle_memory.sh 2>&1 | tee "$OUT/idle_memory.txt" >&2

echo "== 5. paired whole-process runs" >&2
cargo build --release -q -p benches --features peers --bin micro
{
    REPEAT=5 python3 benches/scripts/paired.py callbacks_chain_2M ioloop_watchdog ioloop 10
    python3 benches/scripts/paired.py callbacks_batch_2M ioloop calloop 10
    python3 benches/scripts/paired.py timers_insert_remove_1M ioloop tokio_delayqueue 10
    python3 benches/scripts/paired.py timers_total_1M ioloop tokio_delayqueue 10
    python3 benches/scripts/paired.py timers_total_1M ioloop tokio_delayqueue_boxed 10
    python3 benches/scripts/paired.py cross_thread_1M ioloop tokio_mpsc 10 0,1
    python3 benches/scripts/paired.py pingpong_100_pairs ioloop calloop 10
} 2>&1 | tee "$OUT/paired.txt" >&2
echo "report in $OUT" >&2
