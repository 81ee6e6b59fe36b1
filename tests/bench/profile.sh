#!/usr/bin/env bash
# Profiles surveyd under load with perf (Debian package linux-perf):
#
#   bash tests/bench/profile.sh [ingest|cached|plain|agent|by_channel|by_agent|partial|export] [DATA_DIR] [SECONDS]
#
# Starts the release surveyd from build-bench/ (run tests/bench/run.sh first, or at least its build
# step) on DATA_DIR (default build-bench/bench-data/1M, made by run.sh or generate.py), runs the
# same wrk load as the benchmark (ingest: post.lua, 64 connections; metrics: metrics.lua, with the
# run's BENCH_AGENTS and BENCH_DAYS, 1000 and 730 by default; export: one CSV export of every row
# with curl, SECONDS ignored) for SECONDS (10), and records it with `perf record --call-graph dwarf`
# (the release build and the system libraries have no frame pointers, so -g alone would give
# broken stacks). Prints the split by thread and by library, and the inclusive cost of the hottest
# functions; the perf.data file is left in build-bench/bench-results/ for `perf report -i`.
set -euo pipefail
cd "$(dirname "$0")/../.."

what=${1:-ingest}
data=${2:-build-bench/bench-data/1M}
seconds=${3:-10}
out=build-bench/bench-results
mkdir -p "$out"
perf_data="$out/perf-$what.data"
log="$out/profile-$what.log"

export SURVEYD_MAX_CONNECTIONS_PER_IP=4096 SURVEYD_ADMIN_TOKENS="prof-admin-$RANDOM$RANDOM" SURVEYD_READ_TOKENS="prof-read-$RANDOM$RANDOM" \
    SURVEYD_INGEST_TOKENS="prof-ingest-$RANDOM$RANDOM"
case $what in
    ingest) script=post.lua threads=2 conns=64 token=$SURVEYD_INGEST_TOKENS ;;
    cached) script=metrics.lua threads=2 conns=64 token=$SURVEYD_READ_TOKENS ;;
    plain | agent | by_channel | by_agent | partial) script=metrics.lua threads=1 conns=2 token=$SURVEYD_READ_TOKENS ;;
    export) script= token=$SURVEYD_READ_TOKENS ;;
    *) echo "usage: $0 [ingest|cached|plain|agent|by_channel|by_agent|partial|export] [DATA_DIR] [SECONDS]" >&2; exit 2 ;;
esac
command -v perf >/dev/null || { echo "profile.sh: perf is missing (apt-get install linux-perf)" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"

build-bench/server/surveyd --listen 127.0.0.1:0 --data-dir "$data" 2>"$log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true' EXIT
for _ in $(seq 200); do grep -q "listening on" "$log" && break; sleep 0.05; done
port=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$log" | head -1 | cut -d: -f2)

if [ "$what" = export ]; then
    perf record -F 499 --call-graph dwarf -p "$pid" -o "$perf_data" 2>/dev/null &
    perf_pid=$!
    sleep 0.5
    curl -s -H 'Accept: text/csv' -H "Authorization: Bearer $token" -o /dev/null \
        -w 'export: HTTP %{http_code}, %{size_download} bytes in %{time_total} s\n' \
        "http://127.0.0.1:$port/v1/surveys/support/responses"
    kill -INT $perf_pid
else
    perf record -F 499 --call-graph dwarf -p "$pid" -o "$perf_data" -- sleep $((seconds + 1)) 2>/dev/null &
    perf_pid=$!
    sleep 0.5
    BENCH_TOKEN=$token BENCH_MODE=$what BENCH_RUN="prof-$(date +%s)" BENCH_AGENTS=${BENCH_AGENTS:-1000} \
        BENCH_DAYS=${BENCH_DAYS:-730} \
        wrk -t$threads -c$conns -d${seconds}s --timeout 10s -s tests/bench/$script "http://127.0.0.1:$port/" | grep '^BENCH'
fi
wait $perf_pid || true
kill -TERM $pid && wait $pid || true
trap - EXIT

echo "== by thread (surveyd = the writer thread; main only waits for signals)"
perf report -i "$perf_data" --no-children --sort comm --stdio -g none 2>/dev/null | grep -E '^ +[0-9]'
echo "== by library"
perf report -i "$perf_data" --no-children --sort dso --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | head -8
echo "== inclusive cost (% of all samples), user-space functions"
perf report -i "$perf_data" --children --sort sym --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' \
    | grep -v '\[k\]\|0x0000' | head -40
echo "perf data: $perf_data (perf report -i $perf_data --children)"
