#!/usr/bin/env bash
# Builds the HTTP peers: copies this folder (sources only) to $PEERS_DIR
# (default /tmp/peers), installs wrk and nginx from Debian's packages if they
# are missing, creates a Python venv there with uvloop and tornado, and
# builds the Rust peers (raw mio, hyper, hyper on tokio-rustls,
# may_minihttp) in release mode.
# Idempotent: a second run only rebuilds what changed.
#
# Usage: [PEERS_DIR=/tmp/peers] benches/peers/setup.sh
set -euo pipefail
SRC="$(cd "$(dirname "$0")" && pwd)"
DST="${PEERS_DIR:-/tmp/peers}"
mkdir -p "$DST"
(cd "$SRC" && tar cf - --exclude=./rust/target --exclude=./may/target --exclude=./venv .) | (cd "$DST" && tar xf -)
need=()
command -v wrk >/dev/null || need+=(wrk)
[ -x /usr/sbin/nginx ] || need+=(nginx-light)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq && apt-get install -y -qq "${need[@]}"
fi
[ -x "$DST/venv/bin/python" ] || python3 -m venv "$DST/venv"
"$DST/venv/bin/pip" install -q uvloop tornado
(cd "$DST/rust" && nice cargo build --release -q)
(cd "$DST/may" && nice cargo build --release -q)
echo "peers ready in $DST"
