#!/usr/bin/env bash
# Memory per idle TLS keep-alive connection: our server with
# --tls-cert/--tls-key, hyper on tokio-rustls and nginx with TLS (one
# worker), through idle_memory.sh with TLS clients (`idle_client
# --tls-ca`): each connection completes a handshake and one request, then
# stays idle. Ratios are to hyper_tls.
#
# Usage: [CONNECTIONS=10000] [PEERS_DIR=/tmp/peers] [OUT=target/bench-idle-tls]
#        benches/scripts/https_idle_memory.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PEERS_DIR="${PEERS_DIR:-/tmp/peers}"
N="${CONNECTIONS:-10000}"
export OUT="${OUT:-$ROOT/target/bench-idle-tls}"
mkdir -p "$OUT"
"$ROOT/benches/scripts/tls_cert.sh" "$OUT"
export TLS_CERT="$OUT/cert.pem" TLS_KEY="$OUT/key.pem"
export CLIENT_ARGS="--tls-ca $OUT/ca.pem" REF=hyper_tls
(cd "$ROOT" && cargo build --release -q -p httpserver-example)
exec "$ROOT/benches/scripts/idle_memory.sh" \
    ioloop='target/release/httpserver-example --port "$PORT" --idle-timeout 300 --tls-cert "$TLS_CERT" --tls-key "$TLS_KEY"' \
    hyper_tls="$PEERS_DIR/rust/target/release/hyper_tls_server" \
    nginx_tls="env NGINX_CONNECTIONS=$((2 * N + 256)) NGINX_KEEPALIVE=300s $ROOT/benches/peers/nginx/run_tls.sh"
