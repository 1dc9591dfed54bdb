#!/usr/bin/env bash
# nginx hello-world peer over TLS: as run.sh (Debian's nginx, one worker
# process and no master, keep-alive, `return 200 "Hello, World!"`), with
# `listen ... ssl` on 127.0.0.1:$PORT, the certificate and key in TLS_CERT
# and TLS_KEY (PEM), TLS 1.2 and 1.3, no session cache or tickets (every
# new connection is a full handshake, as with the other servers).
# Usage (through http_bench.sh): TLS_CERT=... TLS_KEY=... NAME=nginx_tls ./http_bench.sh nginx/run_tls.sh
set -eu
: "${TLS_CERT:?TLS_CERT: the certificate chain (PEM)}" "${TLS_KEY:?TLS_KEY: the private key (PEM)}"
D=$(mktemp -d "${TMPDIR:-/tmp}/nginx-tls-peer.XXXXXX")
cat >"$D/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
error_log $D/error.log warn;
pid $D/nginx.pid;
events { worker_connections ${NGINX_CONNECTIONS:-4096}; }
http {
  access_log off;
  keepalive_requests 1000000000;
  keepalive_timeout ${NGINX_KEEPALIVE:-60s};
  client_body_temp_path $D/body; proxy_temp_path $D/proxy; fastcgi_temp_path $D/fcgi;
  uwsgi_temp_path $D/uwsgi; scgi_temp_path $D/scgi;
  server_tokens off;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_session_cache off;
  ssl_session_tickets off;
  server {
    listen 127.0.0.1:${PORT} ssl reuseport backlog=4096;
    ssl_certificate ${TLS_CERT};
    ssl_certificate_key ${TLS_KEY};
    default_type text/plain;
    location / { return 200 "Hello, World!"; }
  }
}
CONF
exec /usr/sbin/nginx -c "$D/nginx.conf" -p "$D"
