#!/usr/bin/env bash
# The surveyd benchmark, in one command (not part of the CI test run):
#
#   bash tests/bench/run.sh
#
# 1. builds a release surveyd in build-bench/ (meson setup build-bench --buildtype=release; ninja)
#    and the baseline server (tests/bench/baseline.c: bare libmicrohttpd in surveyd's threading mode);
# 2. installs wrk if it is missing (Debian package `wrk`; apt-get only when running as root);
# 3. generates 10 k, 1 M and 10 M stored responses straight into SQLite (generate.py) and runs
#    `surveyd verify` on the smaller ones;
# 4. runs tests/bench/bench.py: the baseline, then per size: start-up, metrics (cached and distinct
#    uncached queries), CSV export, durable ingest (64 connections; 1..1024 at the largest size),
#    peak RSS, and the check that every 201'd response is on disk;
# 5. prints ONE markdown table of targets (with the baseline in it) and the scaling tables, and
#    writes them with the raw numbers to build-bench/bench-results/.
#
# Everything runs on 127.0.0.1 only; every wrk run is bounded (-d, BENCH_DURATION s, default 10).
# About 15-20 minutes on 2 cores, a third of it generating 10 M responses. Knobs (see bench.py):
# BENCH_SIZES=10000,1000000 for a quick run, BENCH_REUSE=1 to keep generated data between runs,
# BENCH_DURATION, BENCH_VERIFY=all|small|none, BENCH_CONNS. Tokens are random per run and reach
# surveyd through SURVEYD_ADMIN_TOKENS / SURVEYD_READ_TOKENS / SURVEYD_INGEST_TOKENS.
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

exec python3 tests/bench/bench.py
