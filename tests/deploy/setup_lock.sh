#!/usr/bin/env bash
# deploy/setup.sh waits for another apt/dpkg process's locks instead of failing at once.
# A fake apt-get, dpkg-query, sudo and sleep on PATH stand in for Debian's (nothing is installed):
# the fake apt-get refuses "update" with apt's lock message while a counter says the lists lock is
# held, and refuses "install" unless it is given DPkg::Lock::Timeout (apt's own wait for the dpkg
# lock). The fake sleep only records how long the script would have waited.
# Prints "setup_lock: N passed, N failed".
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/bin"

cat >"$work/bin/dpkg-query" <<'SH'
#!/usr/bin/env bash
# Every package is installed except meson, so setup.sh must call apt-get.
for a in "$@"; do :; done
[ "$a" = meson ] && exit 1
printf 'install ok installed'
SH
cat >"$work/bin/apt-get" <<'SH'
#!/usr/bin/env bash
echo "apt-get $*" >>"$FAKE_DIR/calls"
case " $* " in
  *" update "*)
    held=$(cat "$FAKE_DIR/lists-lock-held")
    if [ "$held" -gt 0 ]; then
      echo $((held - 1)) >"$FAKE_DIR/lists-lock-held"
      echo "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 4242 (apt-get)" >&2
      echo "E: Unable to lock directory /var/lib/apt/lists/" >&2
      exit 100
    fi
    [ -f "$FAKE_DIR/update-broken" ] && { echo "E: The repository is not signed." >&2; exit 100; }
    exit 0 ;;
  *" install "*)
    case " $* " in
      *" DPkg::Lock::Timeout="[1-9]*) exit 0 ;;
    esac
    echo "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 (apt-get)" >&2
    exit 100 ;;
esac
exit 0
SH
printf '#!/usr/bin/env bash\nexec "$@"\n' >"$work/bin/sudo"
printf '#!/usr/bin/env bash\necho "sleep $*" >>"$FAKE_DIR/calls"\n' >"$work/bin/sleep"
chmod +x "$work/bin/"*

passed=0 failed=0
check() { # check NAME CONDITION...
  if "${@:2}"; then passed=$((passed + 1)); echo "ok: $1"; else failed=$((failed + 1)); echo "FAILED: $1"; fi
}
run_setup() { # run_setup LOCK_HELD_TIMES [ENV...]: runs setup.sh deps, output in $work/out
  : >"$work/calls"
  rm -f "$work/update-broken"
  echo "$1" >"$work/lists-lock-held"
  env PATH="$work/bin:$PATH" FAKE_DIR="$work" "${@:2}" bash "$repo/deploy/setup.sh" deps >"$work/out" 2>&1
}
count() { grep -c -- "$1" "$work/calls"; }

# The lists lock is held for two attempts, then released: setup waits and goes on.
run_setup 2; rc=$?
check "setup succeeds once the lists lock is released (exit $rc)" [ "$rc" -eq 0 ]
check "update tried three times" [ "$(count 'update')" -eq 3 ]
check "says it is waiting" grep -q "waiting for another apt/dpkg process" "$work/out"
check "install waits for the dpkg lock (DPkg::Lock::Timeout)" grep -q -- "-o DPkg::Lock::Timeout=[1-9][0-9]* install" "$work/calls"
check "update passes DPkg::Lock::Timeout too" grep -q -- "-o DPkg::Lock::Timeout=[1-9][0-9]* update" "$work/calls"

# A lock that is never released: setup gives up after the timeout, with apt's message.
run_setup 1000 SURVEYD_APT_LOCK_TIMEOUT=15; rc=$?
check "gives up when the lock outlasts the timeout (exit $rc)" [ "$rc" -ne 0 ]
check "waited the timeout in 5 s steps" [ "$(count 'sleep 5')" -eq 3 ]
check "shows apt's lock message" grep -q "Could not get lock /var/lib/apt/lists/lock" "$work/out"
check "did not install" [ "$(count 'install')" -eq 0 ]

# Any other failure of update is not waited for.
: >"$work/calls"; echo 0 >"$work/lists-lock-held"; touch "$work/update-broken"
env PATH="$work/bin:$PATH" FAKE_DIR="$work" bash "$repo/deploy/setup.sh" deps >"$work/out" 2>&1; rc=$?
check "another update error fails at once (exit $rc)" [ "$rc" -ne 0 ]
check "no retry" [ "$(count 'update')" -eq 1 ]
check "no wait" [ "$(count 'sleep')" -eq 0 ]
check "shows that error" grep -q "not signed" "$work/out"

echo "setup_lock: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
