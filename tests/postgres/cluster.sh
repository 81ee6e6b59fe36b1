#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests and the benchmark.
#   cluster.sh start DIR        initdb in DIR (empty or absent), start the server on a Unix socket in DIR
#                               only (no TCP), print the maintenance database's URI on stdout
#   cluster.sh stop DIR         stop it (fast) and remove DIR; nothing to do when it is gone already
#   cluster.sh ctl DIR ARGS...  pg_ctl ARGS on that cluster, as its owner (the restart fault test)
#   cluster.sh uri DIR          print the URI again
# PostgreSQL refuses to run as root, so when the tests run as root (CI does) the cluster belongs to
# an unprivileged user: $SURVEYD_PG_USER, default nobody. fsync stays on: a 201 must mean durable
# in the tests too, and a test that passes only without fsync proves nothing about it.
set -euo pipefail

pg_bin=${SURVEYD_PG_BIN:-}
if [ -z "$pg_bin" ]; then
  # Debian keeps the server programs out of PATH (postgresql-common); take the newest installed.
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$pg_bin" ] || pg_bin=$(dirname "$(command -v pg_ctl 2>/dev/null || echo /nonexistent/pg_ctl)")
fi
marker=.surveyd-test-cluster
pg_user=${SURVEYD_PG_USER:-nobody}

die() { echo "cluster.sh: $*" >&2; exit 1; }

as_owner() { # as_owner COMMAND...: runs it as the cluster's owner (ourselves unless we are root)
  if [ "$(id -u)" -eq 0 ]; then
    # The owner's home may not exist (nobody's does not); run from DIR so nothing warns about cwd.
    (cd "$dir" && runuser -u "$pg_user" -- "$@")
  else
    "$@"
  fi
}

uri() {
  echo "postgresql:///postgres?host=$dir&user=postgres"
}

start() {
  [ -x "$pg_bin/initdb" ] || die "no initdb in $pg_bin (install postgresql, or set SURVEYD_PG_BIN)"
  if [ -e "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
    die "$dir is not empty"
  fi
  # The socket path (DIR/.s.PGSQL.5432) must fit in sun_path (107 bytes).
  [ ${#dir} -le 90 ] || die "$dir is too long for a Unix socket path; use a shorter one (e.g. mktemp -d)"
  mkdir -p "$dir"
  touch "$dir/$marker"
  if [ "$(id -u)" -eq 0 ]; then
    id -u "$pg_user" >/dev/null 2>&1 || die "no user $pg_user to run PostgreSQL as (set SURVEYD_PG_USER)"
    chown -R "$pg_user" "$dir"
    runuser -u "$pg_user" -- test -w "$dir" ||
      die "$pg_user cannot write $dir (a folder above it is closed to other users); use one under /tmp"
  fi
  chmod 700 "$dir"
  as_owner "$pg_bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 --no-instructions \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  # Only the socket in DIR: nothing else on the machine can reach it, and clusters of parallel runs
  # never meet on a port. Each API test class starts its own daemons, some two or three at a time.
  # In postgresql.conf, not pg_ctl -o: a later `ctl DIR start` (the restart test) must get them too.
  as_owner tee -a "$dir/data/postgresql.conf" >/dev/null <<CONF

# tests/postgres/cluster.sh
listen_addresses = ''
unix_socket_directories = '$dir'
max_connections = 200
fsync = on
CONF
  if ! as_owner "$pg_bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null; then
    tail -n 30 "$dir/server.log" >&2 || true
    die "the server did not start"
  fi
  uri
}

stop() {
  [ -e "$dir" ] || return 0
  [ -e "$dir/$marker" ] || die "$dir was not made by cluster.sh start; not touching it"
  if [ -f "$dir/data/postmaster.pid" ]; then
    if [ "$(id -u)" -eq 0 ]; then pg_user=$(stat -c %U "$dir/data"); fi
    as_owner "$pg_bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null ||
      { tail -n 30 "$dir/server.log" >&2 || true; die "the server in $dir did not stop"; }
  fi
  rm -rf "$dir"
}

ctl() {
  [ -e "$dir/$marker" ] || die "$dir was not made by cluster.sh start"
  if [ "$(id -u)" -eq 0 ]; then pg_user=$(stat -c %U "$dir/data"); fi
  as_owner "$pg_bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" "$@"
}

[ $# -ge 2 ] || { echo "usage: $0 start|stop|uri DIR | ctl DIR PG_CTL_ARGS..." >&2; exit 2; }
command=$1
dir=$(realpath -m "$2")
shift 2
case "$command" in
  start) start ;;
  stop) stop ;;
  uri) uri ;;
  ctl) ctl "$@" ;;
  *) echo "usage: $0 start|stop|uri DIR | ctl DIR PG_CTL_ARGS..." >&2; exit 2 ;;
esac
