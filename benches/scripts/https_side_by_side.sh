#!/usr/bin/env bash
# HTTPS hello world side by side: our server (httpserver-example with
# --tls-cert/--tls-key) against hyper on tokio-rustls (the same rustls and
# ring) and nginx with one worker (Debian's package, OpenSSL), in one run.
#
# Usage: [PEERS_DIR=/tmp/peers] [ROUNDS=3] [DURATION=8] [OUT=target/bench-https]
#        benches/scripts/https_side_by_side.sh
#
# Two modes, each through benches/peers/http_bench.sh (server pinned to
# core 0, `wrk -t1 -c64` pinned to core 1, server CPU from /proc), rounds
# interleaved: `plain`, keep-alive requests over established TLS
# connections; `close`, one request per connection (`Connection: close`),
# so every request pays a full handshake (wrk resumes no session; nginx
# has its session cache and tickets off). The certificate is a fresh
# ECDSA P-256 one (benches/scripts/tls_cert.sh). The table gives medians
# and requests per server CPU-second as a ratio to hyper_tls. Traffic goes
# to 127.0.0.1 only; every server is killed by its PID and bounded by
# `timeout`.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PEERS_DIR="${PEERS_DIR:-/tmp/peers}"
OUT="${OUT:-$ROOT/target/bench-https}"
mkdir -p "$OUT"
export TLS_CERT="$OUT/cert.pem" TLS_KEY="$OUT/key.pem"
"$ROOT/benches/scripts/tls_cert.sh" "$OUT"
(cd "$ROOT" && cargo build --release -q -p httpserver-example)
PEER="$PEERS_DIR/rust/target/release/hyper_tls_server"
[ -x "$PEER" ] || { echo "no $PEER (run benches/peers/setup.sh)" >&2; exit 2; }
export SCHEME=https MODES="${MODES:-plain close}" REF=hyper_tls OUT
exec "$ROOT/benches/scripts/http_side_by_side.sh" \
    ioloop='target/release/httpserver-example --port "$PORT" --tls-cert "$TLS_CERT" --tls-key "$TLS_KEY"' \
    hyper_tls="$PEER" \
    nginx_tls="$ROOT/benches/peers/nginx/run_tls.sh"
