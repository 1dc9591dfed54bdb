#!/usr/bin/env bash
# Usage: [NAME=label] [PORT=18080] [DURATION=8] [CONNS=64] [DEPTH=16] [LOGDIR=/tmp/http_bench/logs]
#        [SCHEME=http|https] [MODES="plain pipeline"] benches/peers/http_bench.sh SERVER_CMD [ARGS...]
# MODES may also name `close`: every request on a new connection
# (`Connection: close`), which over https is one full handshake per request.
# Starts SERVER_CMD pinned to core 0 (it gets the port as env PORT), waits for the port,
# runs wrk pinned to core 1 twice (plain keep-alive, then DEPTH-deep pipelining),
# prints one line per mode:  name rps p50_ms p99_ms cpu=NN%  (server CPU use during the
# wrk run, from /proc/PID/stat utime+stime; plus errors:… if wrk saw any),
# and kills the server by its PID. Every step is bounded in time.
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
[ $# -ge 1 ] || { echo "usage: $0 SERVER_CMD [ARGS...]" >&2; exit 2; }
NAME="${NAME:-$(basename "$1")}"
PORT="${PORT:-18080}"
DURATION="${DURATION:-8}"
CONNS="${CONNS:-64}"
DEPTH="${DEPTH:-16}"
LOGDIR="${LOGDIR:-${TMPDIR:-/tmp}/http_bench/logs}"
mkdir -p "$LOGDIR"
SCHEME="${SCHEME:-http}"
MODES="${MODES:-plain pipeline}"
URL="$SCHEME://127.0.0.1:$PORT/"
export PORT

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

if port_open; then echo "port $PORT already in use" >&2; exit 1; fi

# Hard upper bound on the server's life even if this script dies.
timeout -k 5 $(( 2 * DURATION + 90 )) taskset -c 0 "$@" >"$LOGDIR/$NAME.server.log" 2>&1 &
SPID=$!
cleanup() {
  if kill -0 "$SPID" 2>/dev/null; then kill "$SPID" 2>/dev/null; fi
  wait "$SPID" 2>/dev/null
}
trap cleanup EXIT INT TERM

for _ in $(seq 1 150); do port_open && break; sleep 0.1; done
if ! port_open; then echo "$NAME: server did not open port $PORT" >&2; exit 1; fi

# The server process itself: timeout's child (taskset execs into the server).
SRV=$(pgrep -P "$SPID" | head -1)
TCK=$(getconf CLK_TCK)
cpu_ticks() { [ -n "$SRV" ] && sed 's/^.*) //' "/proc/$SRV/stat" 2>/dev/null | awk '{print $12+$13}'; }

# Sanity check of the response (headers + body) once per server.
if command -v curl >/dev/null; then
  timeout 5 curl -sS -i -k "$URL" >"$LOGDIR/$NAME.check.txt" 2>&1
fi

to_ms() { # 487.00us | 1.23ms | 2.00s -> ms
  awk -v v="$1" 'BEGIN{ n=v; sub(/[a-z]+$/,"",n); u=v; sub(/^[0-9.]+/,"",u);
    f=(u=="us")?0.001:(u=="ms")?1:(u=="s")?1000:(u=="m")?60000:1; printf "%.3f", n*f }'
}

run_mode() { # mode [script [script-args...]]  (WRK_ARGS: more wrk options)
  local mode="$1"; shift
  local script=()
  if [ $# -ge 1 ]; then script=(-s "$1"); shift; fi
  script+=("${WRK_ARGS[@]}")
  local out="$LOGDIR/$NAME.$mode.wrk.txt"
  local c0 c1 t0 t1 cpu
  c0=$(cpu_ticks); t0=$(date +%s.%N)
  timeout -k 5 $(( DURATION + 30 )) taskset -c 1 wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "${script[@]}" "$URL" ${1:+--} "$@" >"$out" 2>&1
  c1=$(cpu_ticks); t1=$(date +%s.%N)
  cpu=$(awk -v a="${c0:-0}" -v b="${c1:-0}" -v t0="$t0" -v t1="$t1" -v k="$TCK" 'BEGIN{printf "%.0f", (b-a)/k/(t1-t0)*100}')
  local rps p50 p99 errs non2xx
  rps=$(awk '/^Requests\/sec:/{printf "%.0f", $2}' "$out")
  p50=$(awk '/^ +50%/{print $2}' "$out"); p99=$(awk '/^ +99%/{print $2}' "$out")
  errs=$(awk '/Socket errors/{gsub(",","");print "connect="$4",read="$6",write="$8",timeout="$10}' "$out")
  non2xx=$(awk '/Non-2xx/{print $NF}' "$out")
  local extra=""
  [ -n "$errs" ] && extra=" errors:$errs"
  [ -n "$non2xx" ] && extra="$extra non2xx=$non2xx"
  echo "$NAME:$mode ${rps:-NA} $( [ -n "$p50" ] && to_ms "$p50" || echo NA) $( [ -n "$p99" ] && to_ms "$p99" || echo NA) cpu=${cpu}%$extra"
}

WRK_ARGS=()
for mode in $MODES; do
  case $mode in
    plain) run_mode plain ;;
    pipeline) run_mode pipeline$DEPTH "$HERE/pipeline.lua" "$DEPTH" ;;
    close) WRK_ARGS=(-H "Connection: close"); run_mode close; WRK_ARGS=() ;;
    *) echo "unknown mode $mode" >&2 ;;
  esac
done
