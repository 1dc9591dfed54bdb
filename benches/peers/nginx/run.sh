#!/usr/bin/env bash
# nginx hello-world peer: Debian's nginx, one worker process and no master
# (the process this script becomes is the one that serves), keep-alive,
# `return 200 "Hello, World!"`; listens on 127.0.0.1:$PORT.
# NGINX_CONNECTIONS (default 4096) is worker_connections, NGINX_KEEPALIVE
# (default 60s) keepalive_timeout. Its configuration and logs go to a new
# directory under ${TMPDIR:-/tmp}. With TLS_CERT and TLS_KEY (PEM) set it
# serves TLS 1.2 and 1.3 instead, without session cache or tickets (see
# run_tls.sh).
# Usage (through http_bench.sh): NAME=nginx ./http_bench.sh nginx/run.sh
set -eu
D=$(mktemp -d "${TMPDIR:-/tmp}/nginx-peer.XXXXXX")
SSL="" TLS_HTTP="" TLS_SERVER=""
if [ -n "${TLS_CERT:-}${TLS_KEY:-}" ]; then
    : "${TLS_CERT:?TLS_CERT: the certificate chain (PEM)}" "${TLS_KEY:?TLS_KEY: the private key (PEM)}"
    SSL=" ssl"
    TLS_HTTP="ssl_protocols TLSv1.2 TLSv1.3; ssl_session_cache off; ssl_session_tickets off;"
    TLS_SERVER="ssl_certificate ${TLS_CERT}; ssl_certificate_key ${TLS_KEY};"
fi
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
  ${TLS_HTTP}
  server {
    listen 127.0.0.1:${PORT}${SSL} reuseport backlog=4096;
    ${TLS_SERVER}
    default_type text/plain;
    location / { return 200 "Hello, World!"; }
  }
}
CONF
exec /usr/sbin/nginx -c "$D/nginx.conf" -p "$D"
