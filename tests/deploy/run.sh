#!/usr/bin/env bash
# Runs the deployment checks: kubernetes.sh, kubernetes_postgres.sh, nginx.sh, systemd.sh, container.sh (or those named:
# run.sh nginx systemd). Each prints its own "NAME: N passed, N failed"; this script adds them up
# (a script that exits non-zero without reporting a failure counts as one failure) and ends with
#   deploy: N passed, N failed
# exiting non-zero if anything failed. Runs as root (or with sudo for apt-get); container.sh needs
# root. Expects build/server/surveyd (deploy/setup.sh builds it) for nginx.sh and systemd.sh.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(kubernetes kubernetes_postgres nginx systemd container)

total_passed=0 total_failed=0 status=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for suite in "${suites[@]}"; do
  script=tests/deploy/$suite.sh
  echo "== $script"
  started=$(date +%s)
  bash "$script" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  line=$(grep -E "^$suite: [0-9]+ passed, [0-9]+ failed$" "$log" | tail -1)
  p=0 f=0
  if [ -n "$line" ]; then
    p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed$/\1/')
  fi
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  [ "$rc" -eq 0 ] && [ "$f" -eq 0 ] || status=1
  total_passed=$((total_passed + p)) total_failed=$((total_failed + f))
  echo "== $script: exit $rc, $(( $(date +%s) - started ))s"
done
echo "deploy: $total_passed passed, $total_failed failed"
exit $status
