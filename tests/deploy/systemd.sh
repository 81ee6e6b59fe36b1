#!/usr/bin/env bash
# Checks deploy/surveyd.service without a running systemd:
#  - the unit carries the settings of issue 8 (user, state dir, environment, restart, stop, hardening);
#  - systemd-analyze verify passes (on a copy whose ExecStart points at build/server/surveyd, so
#    nothing is installed into /usr/local/bin);
#  - systemd-analyze security --offline=true: prints the exposure score, fails above 2.0;
#  - the sandbox does not break surveyd: surveyd runs under strace as an unprivileged user with the
#    unit's environment, umask and file limit, and serves a session (surveys, responses, reads,
#    metrics, exports) until SIGTERM; every system call it made must pass the unit's
#    SystemCallFilter, every socket family RestrictAddressFamilies, and no mapping may be writable
#    and executable (MemoryDenyWriteExecute).
# Installs systemd (for systemd-analyze), strace and curl when missing.
# Last line: "systemd: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
. tests/deploy/lib.sh

UNIT=deploy/surveyd.service
BIN=$PWD/build/server/surveyd
MAX_EXPOSURE=2.0

if ! need_packages systemd strace curl util-linux; then
  not_ok "install systemd strace curl"
  summary systemd
  exit 1
fi

tmp=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && pkill -KILL -P "$server_pid" 2>/dev/null && kill -KILL "$server_pid" 2>/dev/null
  [ -n "${KEEP_TMP:-}" ] && echo "# kept $tmp" >&2 || rm -rf "$tmp"
}
trap cleanup EXIT

if [ ! -x "$BIN" ]; then
  { [ -f build/build.ninja ] || meson setup build >/dev/null; } && ninja -C build server/surveyd >/dev/null
fi

# ---------------------------------------------------------------------------- unit contents
# unit_has KEY VALUE: the [Service] section sets KEY to exactly VALUE (one of its assignments).
unit_settings=$(python3 - "$UNIT" <<'PY'
import sys
section = None
for raw in open(sys.argv[1]):
    line = raw.strip()
    if not line or line[0] in "#;":
        continue
    if line.startswith("["):
        section = line.strip("[]")
        continue
    key, _, value = line.partition("=")
    print(f"{section}\t{key.strip()}\t{value.strip()}")
PY
)
unit_has() {
  local section=$1 key=$2 value=$3
  printf '%s\n' "$unit_settings" | grep -qxF "$section"$'\t'"$key"$'\t'"$value" ||
    { echo "#   [$section] $key=$value missing; has: $(printf '%s\n' "$unit_settings" | awk -F'\t' -v k="$key" '$2 == k { print $3 }' | paste -sd'|')"; return 1; }
}
unit_has_all() {
  local spec bad=0
  for spec in "$@"; do unit_has Service "${spec%%=*}" "${spec#*=}" || bad=1; done
  return $bad
}

check "unit: ExecStart, DynamicUser, StateDirectory, Environment, EnvironmentFile" unit_has_all \
  "ExecStart=/usr/local/bin/surveyd serve" "DynamicUser=yes" "StateDirectory=surveyd" \
  "Environment=SURVEYD_DATA_DIR=/var/lib/surveyd SURVEYD_LISTEN=127.0.0.1:8080" \
  "EnvironmentFile=-/etc/surveyd/env"
check "unit: Restart=on-failure, KillSignal=SIGTERM, TimeoutStopSec=30, UMask=0077, LimitNOFILE=65536" \
  unit_has_all "Restart=on-failure" "KillSignal=SIGTERM" "TimeoutStopSec=30" "UMask=0077" "LimitNOFILE=65536"
check "unit: hardening settings" unit_has_all \
  ProtectSystem=strict ProtectHome=yes PrivateTmp=yes PrivateDevices=yes NoNewPrivileges=yes \
  ProtectKernelTunables=yes ProtectKernelModules=yes ProtectKernelLogs=yes ProtectControlGroups=yes \
  ProtectClock=yes ProtectHostname=yes "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" \
  RestrictNamespaces=yes RestrictRealtime=yes RestrictSUIDSGID=yes LockPersonality=yes \
  MemoryDenyWriteExecute=yes SystemCallArchitectures=native SystemCallFilter=@system-service \
  "SystemCallFilter=~@privileged @resources" CapabilityBoundingSet= AmbientCapabilities=
check "unit: [Install] WantedBy=multi-user.target" unit_has Install WantedBy multi-user.target

# ---------------------------------------------------------------------------- systemd-analyze
mkdir -p "$tmp/unit"
sed "s|/usr/local/bin/surveyd|$BIN|g" "$UNIT" >"$tmp/unit/surveyd.service"
verify_unit() {
  local out
  out=$(systemd-analyze verify "$tmp/unit/surveyd.service" 2>&1) || { echo "$out" | sed 's/^/#   /'; return 1; }
  # verify exits 0 on some warnings; any line about our unit is a finding.
  if echo "$out" | grep -q 'surveyd.service'; then echo "$out" | sed 's/^/#   /'; return 1; fi
}
check "systemd-analyze verify $UNIT (ExecStart -> build/server/surveyd)" verify_unit

security_ok() {
  local out score
  out=$(systemd-analyze security --offline=true --no-pager "$tmp/unit/surveyd.service" 2>&1) ||
    { echo "$out" | tail -5 | sed 's/^/#   /'; return 1; }
  echo "$out" | grep '^✗' | sed 's/^/#   /'
  score=$(echo "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\) .*/\1/p')
  echo "# systemd-analyze security --offline=true: exposure $score ($(echo "$out" | sed -n 's/.*Overall exposure level for [^:]*: [0-9.]* \([A-Z]*\).*/\1/p'))"
  [ -n "$score" ] && awk -v s="$score" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s <= m) }'
}
check "systemd-analyze security --offline=true: exposure <= $MAX_EXPOSURE" security_ok

# ---------------------------------------------------------------------------- sandbox vs. behaviour
# What the unit's SystemCallFilter= lines allow, expanded from systemd-analyze's own group tables:
# the first (allow-list) line plus @default, minus the groups of the "~" line.
allowed_syscalls() {
  local -a filters
  mapfile -t filters < <(printf '%s\n' "$unit_settings" | awk -F'\t' '$1 == "Service" && $2 == "SystemCallFilter" { print $3 }')
  systemd-analyze syscall-filter --no-pager >"$tmp/groups" 2>/dev/null || return 1
  python3 - "$tmp/groups" "${filters[@]}" <<'PY'
import sys
groups, cur = {}, None
for line in open(sys.argv[1]):
    if line.startswith("@"):
        cur = groups.setdefault(line.split()[0], [])
    elif line.startswith("    ") and cur is not None and not line.strip().startswith("#"):
        cur.append(line.strip())
def expand(name, seen=()):
    if not name.startswith("@"):
        return {name}
    out = set()
    for item in groups.get(name, []):
        if item not in seen:
            out |= expand(item, seen + (name,))
    return out
allow, deny = set(), set()
for value in sys.argv[2:]:
    target = deny if value.startswith("~") else allow
    for name in value.lstrip("~").split():
        target |= expand(name)
if allow:  # allow-list mode: systemd adds @default
    allow |= expand("@default")
print("\n".join(sorted(allow - deny)))
PY
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

post_responses_concurrently() { # 8 at once, so the writer batches them
  local base=$1 i pids=() status=0
  for i in 1 2 3 4 5 6 7 8; do
    curl -sf "$base/v1/surveys/sandbox/responses" -H 'Content-Type: application/json' -H "Idempotency-Key: k$i" \
      -d "{\"answers\":{\"rec\":$i,\"sat\":$(( i % 5 + 1 )),\"c\":\"n$i\"},\"channel\":\"web\",\"interaction\":\"i$i\"}" &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || status=1; done
  return $status
}

# The session under strace, as user nobody (a stand-in for the dynamic user), with the unit's
# Environment=, UMask= and LimitNOFILE=.
traced_session() {
  local port i code base token
  port=$(free_port); base=http://127.0.0.1:$port
  mkdir -m 0700 "$tmp/state" "$tmp/strace" && chown nobody:nogroup "$tmp/state" "$tmp/strace" && chmod 0711 "$tmp"
  # A copy nobody can reach: a checkout under /root (mode 0700 on Debian) is closed to other users.
  install -D -m 0755 "$BIN" "$tmp/bin/surveyd" && chmod 0711 "$tmp/bin"
  (
    umask 0077
    ulimit -n 65536 2>/dev/null || true
    cd "$tmp/state" || exit 1
    exec setpriv --reuid=nobody --regid=nogroup --clear-groups --no-new-privs \
      env -i PATH=/usr/bin:/bin SURVEYD_DATA_DIR="$tmp/state" SURVEYD_LISTEN="127.0.0.1:$port" \
      strace -f -qq -o "$tmp/strace/trace" "$tmp/bin/surveyd" serve
  ) >"$tmp/serve.log" 2>&1 &
  server_pid=$!
  for i in $(seq 1 100); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$base/readyz")
    [ "$code" = 200 ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.2
  done
  [ "$code" = 200 ] || { echo "#   surveyd did not get ready under strace (last $code)"; sed 's/^/#   /' "$tmp/serve.log" | tail; return 1; }
  token=$(cat "$tmp/state/admin-token")
  local -a admin=(-H "Authorization: Bearer $token")
  local -a json=(-H 'Content-Type: application/json')
  {
    curl -sf "$base/healthz" &&
    curl -sf -X PUT "$base/v1/surveys/sandbox" "${admin[@]}" "${json[@]}" \
      -d '{"title":"Sandbox","public":true,"questions":[{"id":"rec","type":"nps"},{"id":"sat","type":"csat"},{"id":"c","type":"text"}]}' &&
    post_responses_concurrently "$base" &&
    curl -sf "$base/v1/surveys/sandbox/metrics?group_by=day" "${admin[@]}" &&
    curl -sf "$base/v1/metrics" "${admin[@]}" &&
    curl -sf "$base/metrics" &&
    curl -sf "$base/v1/surveys/sandbox/responses?format=csv" "${admin[@]}" &&
    curl -sf "$base/v1/surveys/sandbox/responses" "${admin[@]}" -H 'Accept: application/x-ndjson' &&
    curl -sf "$base/v1/surveys" "${admin[@]}"
  } >"$tmp/session.out" 2>&1 || { echo "#   a request of the session failed"; tail -c 600 "$tmp/session.out" | sed 's/^/#   /'; }
  # strace blocks fatal signals (-o FILE PROGRAM implies -I3): SIGTERM goes to surveyd, strace's child.
  local surveyd_pid; surveyd_pid=$(pgrep -P "$server_pid" | head -1)
  kill -TERM "${surveyd_pid:-$server_pid}"
  for i in $(seq 1 150); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.2; done
  kill -0 "$server_pid" 2>/dev/null && { echo "#   still running 30 s after SIGTERM"; kill -KILL "$server_pid" $surveyd_pid; }
  wait "$server_pid"; local status=$?
  server_pid=
  [ "$status" -eq 0 ] || { echo "#   exit status $status after SIGTERM"; sed 's/^/#   /' "$tmp/serve.log" | tail; return 1; }
}

syscalls_allowed() {
  allowed_syscalls >"$tmp/allowed"
  [ -s "$tmp/allowed" ] || { echo "#   could not expand the unit's SystemCallFilter"; return 1; }
  # strace lines: "PID name(args...", "PID <... name resumed>", "PID +++ exited", "PID --- SIG..."
  sed -n 's/^[0-9]\+ \+\([a-z_0-9]\+\)(.*/\1/p' "$tmp/strace/trace" | sort -u >"$tmp/used"
  local bad; bad=$(comm -23 "$tmp/used" "$tmp/allowed")
  echo "#   $(wc -l <"$tmp/used") distinct system calls used"
  [ -z "$bad" ] || { echo "#   outside SystemCallFilter:" $bad; return 1; }
}
families_allowed() {
  local bad
  bad=$(grep -o 'socket(AF_[A-Z0-9]*' "$tmp/strace/trace" | sed 's/socket(//' | sort -u | grep -vxE 'AF_INET|AF_INET6|AF_UNIX')
  [ -z "$bad" ] || { echo "#   socket families outside RestrictAddressFamilies:" $bad; return 1; }
}
no_write_exec() {
  local bad
  bad=$(grep -E '(mmap|mprotect|pkey_mprotect)\(.*PROT_(WRITE\|PROT_EXEC|EXEC\|PROT_WRITE|READ\|PROT_WRITE\|PROT_EXEC|READ\|PROT_EXEC\|PROT_WRITE)' "$tmp/strace/trace" | head -3)
  [ -z "$bad" ] || { echo "#   writable+executable mappings:"; echo "$bad" | sed 's/^/#   /'; return 1; }
}

if check "surveyd serves a session under strace as nobody with the unit's environment; SIGTERM exits 0" traced_session; then
  check "every system call surveyd made passes SystemCallFilter=@system-service ~@privileged @resources" syscalls_allowed
  check "every socket surveyd opened is AF_INET, AF_INET6 or AF_UNIX" families_allowed
  check "no writable and executable mapping (MemoryDenyWriteExecute=yes)" no_write_exec
  check "data files created mode 0600 (UMask=0077)" \
    bash -c '[ -z "$(find "$1" -type f -perm /077)" ]' _ "$tmp/state"
fi

summary systemd
