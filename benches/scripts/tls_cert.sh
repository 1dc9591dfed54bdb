#!/usr/bin/env bash
# Makes a throwaway certificate authority and a server certificate it signs
# for localhost and 127.0.0.1 (ECDSA P-256, valid 7 days) in DIR, for the
# TLS benchmarks: DIR/ca.pem, DIR/cert.pem, DIR/key.pem.
# Usage: benches/scripts/tls_cert.sh DIR
set -euo pipefail
D="$1"
mkdir -p "$D"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${ec[@]}" -keyout "$D/ca.key" -out "$D/ca.pem" -days 7 \
    -subj /CN=benchmark-authority 2>/dev/null
openssl req "${ec[@]}" -keyout "$D/key.pem" -out "$D/cert.csr" -subj /CN=localhost 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >"$D/ext.cnf"
openssl x509 -req -in "$D/cert.csr" -CA "$D/ca.pem" -CAkey "$D/ca.key" -CAcreateserial \
    -out "$D/cert.pem" -days 7 -extfile "$D/ext.cnf" 2>/dev/null
