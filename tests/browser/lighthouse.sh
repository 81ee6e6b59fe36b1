#!/usr/bin/env bash
# Lighthouse on the dashboard with data, mobile (lighthouse.mjs): its own suite of deploy/setup.sh's
# test command, not part of run.sh, so clock.sh's two extra passes do not repeat it.
# Prints "lighthouse: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")"
export CHROME_PATH="${CHROME_PATH:-${CHROMIUM_BIN:-/usr/bin/chromium}}"
if [ ! -x "$CHROME_PATH" ]; then
    echo "lighthouse: $CHROME_PATH is missing (apt-get install -y chromium)" >&2
    echo "lighthouse: 0 passed, 1 failed"
    exit 1
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund || { echo "lighthouse: 0 passed, 1 failed"; exit 1; }
fi
out=$(mktemp)
node --test ./lighthouse.mjs 2>&1 | tee "$out"
passed=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$out")
failed=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$out")
rm -f "$out"
echo "lighthouse: ${passed:-0} passed, ${failed:-1} failed"
[ "${passed:-0}" -gt 0 ] && [ "${failed:-1}" -eq 0 ]
