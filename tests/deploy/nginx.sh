#!/usr/bin/env bash
# Checks deploy/nginx.conf:
#  1. nginx -t on a throwaway main config that includes it, with a self-signed certificate (made
#     with openssl in a temp dir) in place of the Let's Encrypt paths: no errors, no warnings;
#  2. a live run: the same file with its ports moved to free loopback ports and the upstream pointed
#     at a surveyd started from build/server/surveyd: port 80 redirects, HTTP/2 over TLS reaches
#     surveyd, X-Request-Id passes through, bodies over 64k get 413, a CSV export streams, /metrics
#     is not exposed.
# Installs nginx, openssl and curl when missing. Last line: "nginx: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
. tests/deploy/lib.sh

CONF=deploy/nginx.conf
BIN=$PWD/build/server/surveyd
NAME=surveys.example.com

if ! need_packages nginx openssl curl; then
  not_ok "install nginx openssl curl"
  summary nginx
  exit 1
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

tmp=$(mktemp -d)
nginx_pid='' surveyd_pid=''
cleanup() {
  [ -n "$nginx_pid" ] && kill -TERM "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
  [ -n "$surveyd_pid" ] && kill -KILL "$surveyd_pid" 2>/dev/null && wait "$surveyd_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
chmod 0755 "$tmp"

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$NAME" -addext "subjectAltName=DNS:$NAME" \
  -keyout "$tmp/privkey.pem" -out "$tmp/fullchain.pem" >/dev/null 2>&1
check "self-signed certificate for $NAME" test -s "$tmp/fullchain.pem"

# main_conf SITE-FILE: a main nginx.conf around the site file, everything writable under $tmp.
main_conf() {
  mkdir -p "$tmp/temp" && chown nobody "$tmp/temp"
  cat <<CONF
pid $tmp/nginx.pid;
error_log $tmp/error.log warn;
worker_processes 1;
events { worker_connections 256; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log $tmp/access.log;
    client_body_temp_path $tmp/temp/body;
    proxy_temp_path $tmp/temp/proxy;
    fastcgi_temp_path $tmp/temp/fastcgi;
    uwsgi_temp_path $tmp/temp/uwsgi;
    scgi_temp_path $tmp/temp/scgi;
    include $1;
}
CONF
}
site() { sed -e "s|/etc/letsencrypt/live/$NAME/|$tmp/|g" "$CONF"; }

site >"$tmp/surveyd.conf"
main_conf "$tmp/surveyd.conf" >"$tmp/nginx.conf"
nginx_t() {
  local out
  out=$("$NGINX" -t -c "$tmp/nginx.conf" 2>&1); local status=$?
  echo "$out" | sed 's/^/#   /'
  [ $status -eq 0 ] || return 1
  ! echo "$out" | grep -q '\[warn\]\|\[emerg\]'
}
check "nginx -t -c (main conf including $CONF, certificate paths substituted): ok, no warnings" nginx_t

# ---------------------------------------------------------------------------- live run
if [ ! -x "$BIN" ]; then
  { [ -f build/build.ninja ] || meson setup build >/dev/null; } && ninja -C build server/surveyd >/dev/null
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
sport=$(free_port) hport=$(free_port) tport=$(free_port)
token=nginx-test-admin-token-0123456789

mkdir -m 0700 "$tmp/data"
SURVEYD_ADMIN_TOKENS=$token SURVEYD_TRUST_PROXY=127.0.0.1 \
  "$BIN" serve --listen "127.0.0.1:$sport" --data-dir "$tmp/data" >"$tmp/surveyd.log" 2>&1 &
surveyd_pid=$!

site | sed -e "s|listen 80;|listen 127.0.0.1:$hport;|" -e "s|listen 443 ssl http2;|listen 127.0.0.1:$tport ssl http2;|" \
           -e '/listen \[::\]/d' -e "s|server 127.0.0.1:8080;|server 127.0.0.1:$sport;|" >"$tmp/live.conf"
main_conf "$tmp/live.conf" >"$tmp/nginx-live.conf"
"$NGINX" -c "$tmp/nginx-live.conf" -g 'daemon off;' >"$tmp/nginx.out" 2>&1 &
nginx_pid=$!

https() { # https METHOD PATH [curl args]: prints "STATUS HTTP-VERSION"; body in $tmp/body, headers in $tmp/headers
  local method=$1 path=$2; shift 2
  curl -sk --http2 --max-time 10 --resolve "$NAME:$tport:127.0.0.1" -o "$tmp/body" -D "$tmp/headers" \
    -w '%{http_code} %{http_version}' -X "$method" "$@" "https://$NAME:$tport$path"
}
header() { grep -i "^$1:" "$tmp/headers" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
expect() { # expect WANT GOT
  [ "$1" = "$2" ] || { echo "#   got '$2', wanted '$1'"; [ -s "$tmp/body" ] && echo "#   $(head -c 300 "$tmp/body")"; return 1; }
}

ready=
for i in $(seq 1 100); do
  [ "$(https GET /readyz 2>/dev/null)" = "200 2" ] && { ready=1; break; }
  sleep 0.1
done
if ! check "nginx + surveyd up: GET https://$NAME/readyz over HTTP/2 -> 200" test -n "$ready"; then
  sed 's/^/#   /' "$tmp/nginx.out" "$tmp/error.log" "$tmp/surveyd.log" 2>/dev/null | tail -20
else
  redirect() {
    local got
    got=$(curl -s -o /dev/null --max-time 5 -w '%{http_code} %{redirect_url}' -H "Host: $NAME" "http://127.0.0.1:$hport/v1/surveys?x=1")
    expect "301 https://$NAME/v1/surveys?x=1" "$got"
  }
  check "port 80: 301 to https://$NAME/..." redirect
  check "HSTS header" bash -c "grep -qi '^strict-transport-security: max-age=' '$tmp/headers'"
  request_id_kept() {
    https GET /healthz -H 'X-Request-Id: deploy-nginx-1' >/dev/null && expect deploy-nginx-1 "$(header x-request-id)"
  }
  check "X-Request-Id from the client passes through" request_id_kept
  admin=(-H "Authorization: Bearer $token" -H 'Content-Type: application/json')
  check "PUT a survey through the proxy: 201" expect "201 2" "$(https PUT /v1/surveys/proxied "${admin[@]}" \
    -d '{"title":"Proxied","public":true,"questions":[{"id":"rec","type":"nps"},{"id":"c","type":"text","max_length":10000}]}')"
  check "POST a response through the proxy: 201" expect "201 2" "$(https POST /v1/surveys/proxied/responses \
    -H 'Content-Type: application/json' -d '{"answers":{"rec":10,"c":"via nginx"}}')"
  big=$(python3 -c 'print("{\"answers\":{\"c\":\"" + "x" * 70000 + "\"}}")')
  too_big() {
    expect 413 "$(https POST /v1/surveys/proxied/responses -H 'Content-Type: application/json' \
      --data-binary "$big" | cut -d' ' -f1)" && grep -q '<center>nginx' "$tmp/body"
  }
  check "POST over 64k: 413 from nginx itself" too_big
  csv_export() {
    expect "200 2" "$(https GET '/v1/surveys/proxied/responses?format=csv' -H "Authorization: Bearer $token")" &&
      expect text/csv "$(header content-type | cut -d';' -f1)" &&
      grep -q 'via nginx' "$tmp/body"
  }
  check "CSV export through the unbuffered location: 200 text/csv with the response" csv_export
  check "GET /metrics not exposed by the proxy: 403" expect 403 "$(https GET /metrics | cut -d' ' -f1)"
fi

# nginx: graceful stop (QUIT); surveyd: SIGTERM, exit 0.
kill -QUIT "$nginx_pid" 2>/dev/null; wait "$nginx_pid" 2>/dev/null; nginx_pid=
stop_surveyd() { kill -TERM "$surveyd_pid" && wait "$surveyd_pid"; local status=$?; surveyd_pid=; return $status; }
check "surveyd: SIGTERM exits 0" stop_surveyd

summary nginx
