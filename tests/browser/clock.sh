#!/usr/bin/env bash
# The browser suite with the clock of the daemon, node and Chromium faked (Debian's faketime) to
# start just before and just after midnight UTC, so each run crosses or has just crossed a day
# boundary: nothing in the tests may depend on the day they run. The default instants sit on the
# dashboard data's own window end (2026-11-01T00:00Z), the most sensitive midnight; pass others as
# arguments ("YYYY-MM-DD hh:mm:ss", UTC). Prints "browser clock: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")"
if ! command -v faketime >/dev/null; then
  echo "browser clock: faketime is missing (apt-get install -y faketime)" >&2
  echo "browser clock: 0 passed, 1 failed"
  exit 1
fi
instants=("$@")
[ ${#instants[@]} -gt 0 ] || instants=("2026-10-31 23:59:50" "2026-11-01 00:00:05")
passed=0 failed=0
for at in "${instants[@]}"; do
  echo "== browser tests, every process's clock starting at $at UTC"
  # "@" starts each process's clock at that instant and lets it run on from there.
  if TZ=UTC faketime -f "@$at" bash run.sh; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "== browser tests starting at $at FAILED"; fi
done
echo "browser clock: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
