#!/usr/bin/env bash
# nginx hello-world peer: Debian's nginx, one worker process and no master
# (the process this script becomes is the one that serves), keep-alive,
# `return 200 "Hello, World!"`; listens on 127.0.0.1:$PORT.
# NGINX_CONNECTIONS (default 4096) is worker_connections, NGINX_KEEPALIVE
# (default 60s) keepalive_timeout. Its configuration and logs go to a new
# directory under ${TMPDIR:-/tmp}.
# Usage (through http_bench.sh): NAME=nginx ./http_bench.sh nginx/run.sh
set -eu
D=$(mktemp -d "${TMPDIR:-/tmp}/nginx-peer.XXXXXX")
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
  server {
    listen 127.0.0.1:${PORT} reuseport backlog=4096;
    default_type text/plain;
    location / { return 200 "Hello, World!"; }
  }
}
CONF
exec /usr/sbin/nginx -c "$D/nginx.conf" -p "$D"
