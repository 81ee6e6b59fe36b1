# Shared helpers for tests/deploy/*.sh (sourced, not run).
# Each script counts checks with check/ok/not_ok and ends with summary LABEL, which prints the plain
# line "LABEL: N passed, N failed" and returns non-zero when anything failed.

passed=0
failed=0

ok() { passed=$((passed + 1)); echo "ok - $*"; }
not_ok() { failed=$((failed + 1)); echo "FAIL - $*"; }

# check NAME COMMAND...: runs COMMAND, counts NAME as passed when it exits 0; returns its status.
check() {
  local name=$1; shift
  if "$@"; then ok "$name"; else not_ok "$name"; return 1; fi
}

summary() {
  echo "$1: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# need_packages PKG...: apt-get installs the Debian packages that are not installed yet.
# Waits for a dpkg lock held by another apt run instead of failing at once.
need_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "# installing ${missing[*]}"
  as_root apt-get -o DPkg::Lock::Timeout=600 update -qq || return 1
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
}
