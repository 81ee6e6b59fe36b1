#!/usr/bin/env bash
# Builds the libFuzzer harnesses in tests/fuzz against the server sources (no meson) and runs each
# for SECONDS (default 60) on a copy of its seed corpus.
#
#   tests/fuzz/run.sh [SECONDS] [HARNESS...]      e.g. tests/fuzz/run.sh 3600 fuzz_query
#
# SECONDS=0 builds and only runs the seed corpora (libFuzzer's -max_total_time=0 would mean "forever").
#
# Environment: CC (default clang), FUZZ_BUILD_DIR (default build-fuzz/ at the repository root),
# FUZZ_FLAGS (extra libFuzzer flags, e.g. "-max_len=65536").
# Exit status: 0 when every harness built and ran clean, 1 when any found something (crash, leak,
# sanitizer report, timeout, OOM) or failed to build, 2 on a usage error.
# Installs nothing: needs clang, libclang-rt-14-dev (or the matching compiler-rt), libcjson-dev, libstemmer-dev,
# pkg-config.
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FUZZ_DIR="$ROOT/tests/fuzz"
ALL_HARNESSES=(fuzz_json_response fuzz_definition fuzz_query fuzz_cursor fuzz_form fuzz_text_query)

SECONDS_EACH=${1:-60}
case $SECONDS_EACH in
    '' | *[!0-9]*) echo "usage: $0 [SECONDS] [HARNESS...]" >&2; exit 2 ;;
esac
SECONDS_EACH=$((10#$SECONDS_EACH))
shift $(($# > 0 ? 1 : 0))
if [ $# -gt 0 ]; then HARNESSES=("$@"); else HARNESSES=("${ALL_HARNESSES[@]}"); fi

BUILD=${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
mkdir -p "$BUILD" && BUILD=$(cd "$BUILD" && pwd)
CC=${CC:-clang}

# The server sources each harness needs (what the linker asks for, nothing more).
sources_for() {
    case $1 in
        fuzz_json_response | fuzz_definition)
            echo domain/json_strict.c domain/validate.c domain/survey.c domain/ids.c domain/timefmt.c oom.c ;;
        fuzz_query | fuzz_cursor)
            echo api/query.c domain/validate.c domain/survey.c domain/ids.c domain/timefmt.c oom.c ;;
        fuzz_form)
            echo http/http_form.c domain/visit.c ;;
        fuzz_text_query)
            echo domain/text_query.c domain/text_query_sql.c domain/text_query_match.c domain/text_fold.c \
                domain/text_buffer.c domain/text_stem.c ;;
        *) return 1 ;;
    esac
}

# Libraries beyond cJSON and libm (fuzz_text_query runs each translation through a real FTS5 table;
# its stemming, for --text-language, is libstemmer's).
libs_for() {
    case $1 in
        fuzz_text_query) echo -lsqlite3 -lstemmer -lpthread ;;
    esac
}

CJSON_CFLAGS=$(pkg-config --cflags libcjson 2>/dev/null || echo "-I/usr/include/cjson")
CJSON_LIBS=$(pkg-config --libs libcjson 2>/dev/null || echo "-lcjson")
# shellcheck disable=SC2054  # the commas in -fsanitize= are meant
CFLAGS=(-std=c17 -g -O1 -fno-omit-frame-pointer
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
        -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -I "$ROOT/server" -I "$ROOT/server/domain" -I "$ROOT/server/api"
        -I "$ROOT/server/http" -I "$ROOT/server/store")
# Sanitizer reports with stack traces; callers may override.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

passed=0
failed=0
summaries=()

for name in "${HARNESSES[@]}"; do
    if ! srcs=$(sources_for "$name"); then
        echo "$0: unknown harness '$name' (known: ${ALL_HARNESSES[*]})" >&2
        exit 2
    fi
    server_srcs=()
    for s in $srcs; do server_srcs+=("$ROOT/server/$s"); done

    echo "== building $name" >&2
    # shellcheck disable=SC2086,SC2046  # CJSON_* and libs_for are word lists
    if ! "$CC" "${CFLAGS[@]}" $CJSON_CFLAGS "$FUZZ_DIR/$name.c" "${server_srcs[@]}" $CJSON_LIBS $(libs_for "$name") -lm \
            -o "$BUILD/$name" 2>"$BUILD/$name.build.log"; then
        cat "$BUILD/$name.build.log" >&2
        summaries+=("$name: build failed (see $BUILD/$name.build.log)")
        failed=$((failed + 1))
        continue
    fi

    # Fuzz a copy of the seed corpus so the repository's corpus never grows.
    corpus="$BUILD/corpus/$name"
    artifacts="$BUILD/artifacts/$name"
    rm -rf "$corpus" "$artifacts"
    mkdir -p "$corpus" "$artifacts"
    if [ -d "$FUZZ_DIR/corpus/$name" ]; then
        cp -R "$FUZZ_DIR/corpus/$name/." "$corpus/"
    fi
    dict=()
    if [ -f "$FUZZ_DIR/dict/$name.dict" ]; then
        dict=(-dict="$FUZZ_DIR/dict/$name.dict")
    fi

    if [ "$SECONDS_EACH" -eq 0 ]; then limit=(-runs=0); else limit=(-max_total_time="$SECONDS_EACH"); fi

    echo "== running $name for ${SECONDS_EACH}s (log: $BUILD/$name.log)" >&2
    # shellcheck disable=SC2086  # FUZZ_FLAGS is a word list
    "$BUILD/$name" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" "${dict[@]}" ${FUZZ_FLAGS:-} "$corpus" >"$BUILD/$name.log" 2>&1
    rc=$?

    log="$BUILD/$name.log"
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    corp=$(grep -o 'corp: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    stats="${runs:-?} runs (${rate:-?}/s), cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}"
    if [ "$rc" -eq 0 ]; then
        summaries+=("$name: $stats, ok")
        passed=$((passed + 1))
    else
        # Sanitizers and libFuzzer end their report with "SUMMARY: <tool>: <what> [<where>]".
        what=$(sed -n 's/^SUMMARY: //p' "$log" | head -n 1)
        [ -n "$what" ] || what=$(grep -m 1 -E '^==[0-9]+== ?ERROR: ' "$log" | sed 's/^==[0-9]*== *//')
        artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
        summaries+=("$name: $stats, FAILED (exit $rc: ${what:-see log}; input: ${artifact:-none}; log: $log)")
        failed=$((failed + 1))
        tail -n 60 "$log" >&2
    fi
done

for line in "${summaries[@]}"; do echo "$line"; done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
