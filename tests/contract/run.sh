#!/usr/bin/env bash
# The OpenAPI document through two independent linters at pinned versions (package.json,
# package-lock.json): Redocly CLI (recommended rules) and Spectral (spectral:oas). Any error, or any
# warning not listed with its reason in .redocly.lint-ignore.yaml, fails. Prints
#   contract lint: N passed, N failed
# Needs node and npm (Debian's nodejs 18 works: checked with 18.20.4, though Redocly CLI declares
# node 20.19+) and the npm registry for the first `npm ci`.
set -uo pipefail
cd "$(dirname "$0")"
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true SCARF_ANALYTICS=false
spec=../../schema/openapi.yaml

if [ ! -x node_modules/.bin/redocly ] || [ ! -x node_modules/.bin/spectral ]; then
  npm ci --no-audit --no-fund --ignore-scripts || { echo "contract lint: 0 passed, 2 failed"; exit 1; }
fi

passed=0 failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "== redocly $(node_modules/.bin/redocly --version 2>/dev/null)"
node_modules/.bin/redocly lint "$spec" --config redocly.yaml --format=stylish >"$log" 2>&1
rc=$?
grep -vE '^\s*(║|╔|╚)' "$log"
problems=$(grep -cE '^\s+[0-9]+:[0-9]+\s+(error|warning)\s' "$log")
if [ "$rc" -eq 0 ] && [ "$problems" -eq 0 ]; then passed=$((passed + 1)); else
  failed=$((failed + 1)); echo "== redocly FAILED: exit $rc, $problems errors or warnings"; fi

echo "== spectral $(node_modules/.bin/spectral --version 2>/dev/null)"
if node_modules/.bin/spectral lint "$spec" --ruleset .spectral.yaml --fail-severity=warn; then
  passed=$((passed + 1)); else failed=$((failed + 1)); echo "== spectral FAILED"; fi

echo "contract lint: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
