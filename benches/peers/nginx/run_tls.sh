#!/usr/bin/env bash
# nginx hello-world peer over TLS: run.sh (Debian's nginx, one worker
# process and no master, keep-alive, `return 200 "Hello, World!"`) with
# `listen ... ssl` on 127.0.0.1:$PORT, the certificate and key in TLS_CERT
# and TLS_KEY (PEM), TLS 1.2 and 1.3, no session cache or tickets (every
# new connection is a full handshake, as with the other servers).
# Usage (through http_bench.sh): TLS_CERT=... TLS_KEY=... NAME=nginx_tls ./http_bench.sh nginx/run_tls.sh
set -eu
: "${TLS_CERT:?TLS_CERT: the certificate chain (PEM)}" "${TLS_KEY:?TLS_KEY: the private key (PEM)}"
exec "$(dirname "$0")/run.sh"
