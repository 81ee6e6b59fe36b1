#!/usr/bin/env bash
# Real-browser tests of the widget and the dashboard: Debian's chromium driven by playwright-core.
# Needs the daemon built (SURVEYD_BIN, default ../../build/server/surveyd) and /usr/bin/chromium
# (apt-get install -y chromium; CHROMIUM_BIN overrides). Screenshots go to tests/browser/artifacts/;
# UPDATE_DOCS_SCREENSHOT=1 also copies the dashboard's to docs/dashboard.png.
set -euo pipefail
cd "$(dirname "$0")"

chromium="${CHROMIUM_BIN:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
    echo "browser tests: $chromium is missing (apt-get install -y chromium)" >&2
    exit 1
fi
# npm ci again whenever the lock file changed since the last install (new pins: axe-core, lighthouse).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund
fi
# One file at a time: each starts its own daemon and browser, and the polling checks are timed.
exec node --test --test-concurrency=1 ./*.test.mjs
