#!/usr/bin/env bash
# One entry point for the README's two commands, on a fresh Debian 12 machine (as root or via sudo):
#   deploy/setup.sh serve   install what is missing, build, start surveyd on 127.0.0.1:8080 (data in ./data)
#   deploy/setup.sh test    install what is missing, build, run the whole test suite: once with warnings
#                           as errors, once more under AddressSanitizer and UndefinedBehaviorSanitizer
#                           (the API tests run on SQLite and again on a throwaway PostgreSQL cluster)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential pkg-config meson ninja-build libmicrohttpd-dev libcjson-dev libsqlite3-dev libpq-dev libssl-dev libstemmer-dev
          zlib1g-dev libcurl4-openssl-dev check python3 curl sqlite3)
# Only the test command needs these: a browser for the widget and dashboard tests, clang's libFuzzer
# for the fuzz harnesses, promtool for the /metrics format, setpriv/mount for the hardening tests.
# python3-aiosmtpd is the real SMTP server the invitation email test receives mail with.
# faketime runs the browser suite with the clock just before and after midnight UTC. postgresql
# (Debian 12: 15, with psql) for the API suite's second run, on a throwaway cluster of its own.
test_packages=(chromium clang libclang-rt-14-dev prometheus python3-yaml util-linux faketime postgresql python3-aiosmtpd)

# Another apt or dpkg (unattended-upgrades, a provisioning script) may hold the locks when we start.
# apt waits for the dpkg lock itself given DPkg::Lock::Timeout; apt-get update's lists lock has no
# such option, so update is retried while its failure is that lock. Seconds, overridable.
apt_lock_timeout=${SURVEYD_APT_LOCK_TIMEOUT:-900}

apt_update() { # apt_update SUDO...: apt-get update, waiting up to $apt_lock_timeout for the lists lock
  local waited=0 log
  log=$(mktemp)
  until "$@" apt-get -o DPkg::Lock::Timeout="$apt_lock_timeout" update -qq 2>"$log"; do
    if ! grep -q "Could not get lock" "$log" || [ "$waited" -ge "$apt_lock_timeout" ]; then
      cat "$log" >&2
      rm -f "$log"
      return 1
    fi
    [ "$waited" -gt 0 ] || echo "setup: waiting for another apt/dpkg process to release its lock"
    sleep 5
    waited=$((waited + 5))
  done
  cat "$log" >&2
  rm -f "$log"
}

install_missing() { # install_missing PACKAGE...
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "setup: installing ${missing[*]}"
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  apt_update "${sudo[@]}"
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get -o DPkg::Lock::Timeout="$apt_lock_timeout" \
    install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The browser and contract suites need Node.js 20 or newer (playwright-core, Redocly); Debian 12 ships
# 18. Where the node on PATH is older, the official binary that the npm registry publishes as
# node-linux-<arch> (npm checks its integrity) is unpacked into .tools/ and put first on PATH.
node_min_major=20
node_pin=20.20.2
ensure_node() {
  local major arch dir tmp
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  [ "$major" -ge "$node_min_major" ] && return 0
  case $(uname -m) in
    x86_64) arch=x64 ;;
    aarch64) arch=arm64 ;;
    *) echo "setup: Node.js $node_min_major or newer is needed; none is published for $(uname -m)" >&2; return 1 ;;
  esac
  dir=$PWD/.tools/node-$node_pin
  if [ ! -x "$dir/bin/node" ]; then
    tmp=$(mktemp -d)
    if ! (cd "$tmp" && npm pack --silent "node-linux-$arch@$node_pin" >/dev/null); then
      rm -rf "$tmp"
      return 1
    fi
    mkdir -p "$dir"
    tar -xzf "$tmp/node-linux-$arch-$node_pin.tgz" -C "$dir" --strip-components=1
    rm -rf "$tmp"
  fi
  export PATH="$dir/bin:$PATH"
  echo "setup: Node.js $(node --version) from .tools/ (the system's is older than $node_min_major)"
}

build() { # build DIR [meson options...]
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" >/dev/null
  fi
  ninja -C "$dir"
}

# Meson's own summary is not a line CI tools read; this prints "N passed, N failed" from its log.
summarise() { # summarise LABEL DIR
  python3 - "$1" "$2/meson-logs/testlog.json" <<'PY'
import json, sys
label, path = sys.argv[1], sys.argv[2]
passed = failed = 0
for line in open(path):
    result = json.loads(line)["result"]
    if result in ("OK", "EXPECTEDFAIL", "SKIP"):
        passed += result != "SKIP"
    else:
        failed += 1
print(f"{label}: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
}

run_suite() { # run_suite LABEL DIR
  local status=0
  meson test -C "$2" --print-errorlogs --num-processes 2 || status=$?
  summarise "$1" "$2" || status=1
  return $status
}

# The API suite's second run (meson suite api-postgres) needs a PostgreSQL server: a throwaway
# cluster in a temp dir (tests/postgres/cluster.sh: initdb, run by nobody when we are root, a Unix
# socket in that dir only), whose maintenance database the tests get as SURVEYD_TEST_POSTGRES and
# create their own databases on. Stopped and removed at exit, however the run ends. Without it those
# tests would skip, so a cluster that does not start is a failed suite, not a quiet skip.
pg_dir=
start_postgres() {
  pg_dir=$(mktemp -d /tmp/surveyd-pg.XXXXXX)
  trap stop_postgres EXIT
  SURVEYD_TEST_POSTGRES=$(bash tests/postgres/cluster.sh start "$pg_dir") || return 1
  export SURVEYD_TEST_POSTGRES
  echo "setup: PostgreSQL test cluster in $pg_dir"
}
stop_postgres() {
  [ -n "$pg_dir" ] || return 0
  bash tests/postgres/cluster.sh stop "$pg_dir" || echo "setup: could not stop the PostgreSQL test cluster in $pg_dir" >&2
  pg_dir=
}

run_sanitized() {
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    run_suite "tests (address,undefined sanitizers)" build-asan
}

command=${1:-}
case "$command" in
  serve)
    install_missing "${packages[@]}"
    build build
    exec build/server/surveyd serve --listen "${SURVEYD_LISTEN:-127.0.0.1:8080}" --data-dir "${SURVEYD_DATA_DIR:-./data}"
    ;;
  deps) # only what serve installs: lets tests/deploy/setup_lock.sh check the apt calls
    install_missing "${packages[@]}"
    ;;
  test)
    node_packages=()
    { command -v node && command -v npm; } >/dev/null || node_packages=(nodejs npm)
    install_missing "${packages[@]}" "${test_packages[@]}" "${node_packages[@]}"
    ensure_node
    build build --werror
    build build-asan --werror -Db_sanitize=address,undefined -Db_lundef=false
    passed=0 failed=0
    suite() { # suite NAME COMMAND...: runs one suite, remembers its outcome, goes on either way
      echo "=== $1"
      if "${@:2}"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "=== $1 FAILED"; fi
    }
    suite "PostgreSQL test cluster" start_postgres
    suite "unit and API tests (API twice: SQLite, then PostgreSQL)" run_suite "tests" build
    suite "unit and API tests under ASan+UBSan" run_sanitized
    suite "browser tests" env SURVEYD_BIN="$PWD/build/server/surveyd" bash tests/browser/run.sh
    suite "browser tests across midnight UTC (faketime)" env SURVEYD_BIN="$PWD/build/server/surveyd" bash tests/browser/clock.sh
    suite "Lighthouse, mobile: the dashboard with data" env SURVEYD_BIN="$PWD/build/server/surveyd" CHROME_PATH=/usr/bin/chromium bash tests/browser/lighthouse.sh
    suite "contract lint: Redocly CLI and Spectral on schema/openapi.yaml" bash tests/contract/run.sh
    suite "fuzzing (30 s per harness)" bash tests/fuzz/run.sh "${SURVEYD_FUZZ_SECONDS:-30}"
    suite "deployment: container image, systemd unit, nginx, kubernetes" bash tests/deploy/run.sh
    stop_postgres
    echo "suites: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    ;;
  *)
    echo "usage: $0 serve|test|deps" >&2
    exit 2
    ;;
esac
