#!/usr/bin/env bash
# The surveyd benchmark, in one command (not part of the CI test run):
#
#   bash tests/bench/run.sh
#
# 1. builds a release surveyd in build-bench/ (meson setup build-bench --buildtype=release; ninja)
#    and the baseline server (tests/bench/baseline.c: bare libmicrohttpd in surveyd's threading mode);
# 2. installs wrk if it is missing (Debian package `wrk`; apt-get only when running as root);
# 3. generates 10 k, 1 M and 10 M stored responses over two years with 1000 agents straight into
#    SQLite (generate.py --days 730 --agents 1000) and runs `surveyd verify` on each, timing it and
#    taking its peak RSS (a target at 10 M; stopped after BENCH_VERIFY_TIMEOUT, 300 s);
# 4. runs tests/bench/bench.py: the baseline, then per size: start-up, metrics (cached, and distinct
#    uncached queries: plain, agent filter, group_by=channel, group_by=agent over a year, RFC 3339
#    partial-day edges; at the largest size also by window length, grouping and channel filter),
#    CSV export, durable ingest (64 and 1024 connections; 1..1024 at the largest size), surveyd's
#    CPU per request and peak RSS for every load, and the check that every 201'd response is on disk;
# 5. prints ONE markdown table of targets, each "met" or "not met" (ratios to the baseline measured
#    in the same run), the same as one line per target, and the scaling tables; writes them with the
#    raw numbers to build-bench/bench-results/.
#
# Everything runs on 127.0.0.1 only; every wrk run is bounded (-d, BENCH_DURATION s, default 10).
# About 25-35 minutes on 2 cores, a third of it generating 10 M responses. Knobs (see bench.py):
# BENCH_SIZES=10000,1000000 for a quick run, BENCH_SKIP_1M=1 to leave out the 1 M size,
# BENCH_REUSE=1 to keep generated data between runs, BENCH_DURATION, BENCH_VERIFY=all|small|none,
# BENCH_VERIFY_TIMEOUT, BENCH_BREAKDOWN=0, BENCH_CONNS, BENCH_CONNS_EVERY, BENCH_DAYS, BENCH_AGENTS;
# BENCH_BACKEND=postgresql [BENCH_INSTANCES=2] for the backends side by side (see the end).
# Tokens are random per run and reach surveyd through SURVEYD_ADMIN_TOKENS / SURVEYD_READ_TOKENS /
# SURVEYD_INGEST_TOKENS.
set -euo pipefail

cd "$(dirname "$0")/../.."
BUILD=${BENCH_BUILD:-build-bench}
export BENCH_BUILD="$PWD/$BUILD"

if ! command -v wrk >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
    else
        echo "run.sh: wrk is missing: sudo apt-get install -y wrk" >&2
        exit 1
    fi
fi
for tool in meson ninja cc pkg-config sqlite3 curl python3; do
    command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing (bash deploy/setup.sh installs the build tools)" >&2; exit 1; }
done

# Release build. werror is off here only, so that a new compiler warning at -O3 (GCC's flow analysis
# differs from the debugoptimized CI build's) cannot stop a benchmark; CI keeps werror on.
if [ ! -f "$BUILD/build.ninja" ]; then
    meson setup "$BUILD" --buildtype=release -Dwerror=false >/dev/null
fi
ninja -C "$BUILD" >/dev/null
cc -O2 -std=c17 -Wall -Wextra -pthread tests/bench/baseline.c \
    $(pkg-config --cflags --libs libmicrohttpd) -o "$BUILD/bench-baseline"

# 1024 connections: wrk and surveyd each need more than the usual 1024 descriptors
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4096 ]; then
    echo "run.sh: only $(ulimit -n) file descriptors allowed; the 1024-connection run may fail" >&2
fi

# BENCH_BACKEND=postgresql: SQLite and PostgreSQL side by side instead (tests/bench/backends.py: the same
# loads from an empty store per size, filled through the API), on a throwaway cluster started here
# (tests/postgres/cluster.sh, a database per size and configuration); BENCH_INSTANCES=2 adds two
# surveyd processes on one database with the load split across both. BENCH_SIZES=10000,100000 suits it.
if [ "${BENCH_BACKEND:-sqlite}" = postgresql ]; then
    command -v psql >/dev/null || { echo "run.sh: psql is missing (Debian: postgresql)" >&2; exit 1; }
    pg_dir=$(mktemp -d /tmp/surveyd-bench-pg.XXXXXX)
    trap 'bash tests/postgres/cluster.sh stop "$pg_dir"' EXIT
    BENCH_POSTGRES=$(bash tests/postgres/cluster.sh start "$pg_dir")
    export BENCH_POSTGRES
    python3 tests/bench/backends.py
    exit
fi
exec python3 tests/bench/bench.py
