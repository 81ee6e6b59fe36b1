#!/usr/bin/env bash
# Builds the Dockerfile with podman and runs the image, without a Docker engine and without
# `podman run` (which cannot set rlimits in this sandbox):
#
#  1. debian:bookworm and debian:bookworm-slim are made locally: debootstrap --variant=minbase from
#     the Debian mirror this machine's apt already uses, podman import. The rootfs tarballs are
#     cached in build-deploy/ (rerun after `rm -rf build-deploy` to refresh them).
#  2. podman build --isolation=chroot --pull=never --format docker (docker format keeps HEALTHCHECK).
#  3. The image is inspected (user, port, env, volume, healthcheck, entrypoint) and its filesystem,
#     from `podman image mount`, is checked: surveyd present, no compiler, no curl, /data owned by
#     the image user.
#  4. The image filesystem, under a writable overlay like a container's, is chrooted into in a
#     private mount namespace, and surveyd runs there as the image's user and with the image's
#     environment, on a free loopback port. curl on the host drives it; `surveyd healthcheck` and
#     `surveyd backup` run inside the same chroot; SIGTERM must exit 0; a restart, with the root
#     filesystem read-only as in kubernetes.yaml, must keep the data and take new responses.
#
# Runs as root (it installs podman, debootstrap, uidmap, fuse-overlayfs, curl when missing).
# Env: DEBIAN_MIRROR overrides the mirror read from apt's sources; DEPLOY_BUILD_DIR the cache dir.
# Last line: "container: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
. tests/deploy/lib.sh

WORK=${DEPLOY_BUILD_DIR:-$ROOT/build-deploy}
IMAGE=surveyd:test
SUITE=bookworm
started=$(date +%s)
mkdir -p "$WORK"

if [ "$(id -u)" -ne 0 ]; then
  echo "container.sh must run as root (podman image mount, chroot, overlay mounts)" >&2
  not_ok "running as root"
  summary container
  exit 1
fi

if ! need_packages podman debootstrap uidmap fuse-overlayfs curl ca-certificates; then
  not_ok "install podman debootstrap uidmap fuse-overlayfs curl"
  summary container
  exit 1
fi

# The Debian mirror this machine's apt uses for the main archive: the URIs of a deb822 stanza in
# /etc/apt/sources.list.d/*.sources, or the URI of a one-line "deb" entry in sources.list(.d/*.list),
# whose suites include bookworm (else stable), not the security archive.
debian_mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  python3 - "$SUITE" <<'PY'
import glob, re, sys
suite = sys.argv[1]
entries = []  # (uri, [suites])

def deb822(text):
    cur, key = {}, None
    for line in text.splitlines() + [""]:
        if line.startswith("#"):
            continue
        if not line.strip():
            if cur:
                yield cur
            cur, key = {}, None
        elif line[0] in " \t" and key:
            cur[key] += " " + line.strip()
        else:
            key, _, value = line.partition(":")
            key = key.strip().lower()
            cur[key] = value.strip()

for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    for st in deb822(open(path, errors="replace").read()):
        if "deb" not in st.get("types", "").split() or st.get("enabled", "yes").lower() == "no":
            continue
        for uri in st.get("uris", "").split():
            entries.append((uri, st.get("suites", "").split()))

for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
    try:
        text = open(path, errors="replace").read()
    except OSError:
        continue
    for line in text.splitlines():
        m = re.match(r"\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", line)
        if m:
            entries.append((m.group(1), [m.group(2)]))

def main_archive(uri, suites):
    return "security" not in uri and not any(s.endswith("-security") for s in suites)

for wanted in (suite, "stable"):
    for uri, suites in entries:
        if wanted in suites and main_archive(uri, suites):
            print(uri.rstrip("/"))
            sys.exit(0)
sys.exit("no Debian %s mirror in /etc/apt/sources.list or /etc/apt/sources.list.d/; set DEBIAN_MIRROR" % suite)
PY
}

# make_rootfs_tarballs MIRROR: $WORK/debian-bookworm.tar and $WORK/debian-bookworm-slim.tar, from one
# minbase debootstrap. The slim one, like Docker's, drops documentation, man pages and locales and
# tells dpkg not to install them.
make_rootfs_tarballs() {
  local mirror=$1 rootfs=$WORK/rootfs
  rm -rf "$rootfs" "$WORK"/debian-*.tar.tmp
  # An HTTP proxy that this machine's apt is configured with serves debootstrap and the image's apt.
  local proxy=
  eval "$(apt-config shell proxy Acquire::http::Proxy)"
  echo "# debootstrap --variant=minbase $SUITE from $mirror${proxy:+ via $proxy}"
  http_proxy=${proxy:-${http_proxy:-}} debootstrap --variant=minbase "$SUITE" "$rootfs" "$mirror" \
    >"$WORK/debootstrap.log" 2>&1 || { tail -20 "$WORK/debootstrap.log"; return 1; }
  [ -z "$proxy" ] || echo "Acquire::http::Proxy \"$proxy\";" >"$rootfs/etc/apt/apt.conf.d/01proxy"
  # snapshot.debian.org's Release files are past their Valid-Until by design.
  case $mirror in *snapshot.debian.org*)
    echo 'Acquire::Check-Valid-Until "false";' >"$rootfs/etc/apt/apt.conf.d/01snapshot" ;;
  esac
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin \
         "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/* \
         "$rootfs"/var/cache/debconf/*-old "$rootfs"/var/lib/dpkg/*-old
  # debootstrap leaves the host's name and resolver in the image; containers get their own.
  : >"$rootfs/etc/resolv.conf"; : >"$rootfs/etc/hostname"
  tar --numeric-owner -C "$rootfs" -cf "$WORK/debian-$SUITE.tar.tmp" . || return 1

  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
CFG
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/groff/* "$rootfs"/usr/share/info/* \
         "$rootfs"/usr/share/lintian/* "$rootfs"/usr/share/linda/*
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  tar --numeric-owner -C "$rootfs" -cf "$WORK/debian-$SUITE-slim.tar.tmp" . || return 1
  mv "$WORK/debian-$SUITE.tar.tmp" "$WORK/debian-$SUITE.tar"
  mv "$WORK/debian-$SUITE-slim.tar.tmp" "$WORK/debian-$SUITE-slim.tar"
  rm -rf "$rootfs"
}

# import_base TARBALL NAME: podman import, unless NAME already holds that tarball (a label records
# its checksum), so that podman build's layer cache survives reruns.
import_base() {
  local tarball=$1 name=$2 sum have
  sum=$(sha256sum "$tarball" | cut -d' ' -f1)
  have=$(podman image inspect --format '{{index .Labels "surveyd.rootfs.sha256"}}' "$name" 2>/dev/null)
  [ "$have" = "$sum" ] && return 0
  podman import --quiet \
    --change "LABEL surveyd.rootfs.sha256=$sum" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    "$tarball" "$name" >/dev/null
}

# ---------------------------------------------------------------------------- base images
base_ok=1
if [ -s "$WORK/debian-$SUITE.tar" ] && [ -s "$WORK/debian-$SUITE-slim.tar" ]; then
  echo "# base rootfs tarballs cached in $WORK"
else
  mirror=$(debian_mirror) && make_rootfs_tarballs "$mirror" || base_ok=0
fi
if [ $base_ok = 1 ]; then
  import_base "$WORK/debian-$SUITE.tar" "docker.io/library/debian:$SUITE" &&
  import_base "$WORK/debian-$SUITE-slim.tar" "docker.io/library/debian:$SUITE-slim" || base_ok=0
fi
if [ $base_ok = 0 ]; then
  not_ok "base images debian:$SUITE and debian:$SUITE-slim from debootstrap"
  summary container
  exit 1
fi
ok "base images debian:$SUITE and debian:$SUITE-slim from debootstrap ($(( $(date +%s) - started ))s)"

# ---------------------------------------------------------------------------- build
build_started=$(date +%s)
if podman build --isolation=chroot --pull=never --format docker --layers -t "$IMAGE" -f Dockerfile . \
     >"$WORK/podman-build.log" 2>&1; then
  ok "podman build --isolation=chroot ($(( $(date +%s) - build_started ))s)"
else
  tail -40 "$WORK/podman-build.log"
  not_ok "podman build --isolation=chroot (log: $WORK/podman-build.log)"
  summary container
  exit 1
fi
grep -iE '^(WARN|warning)' "$WORK/podman-build.log" | grep -vi 'missing "' | sed 's/^/# /' || true

# ---------------------------------------------------------------------------- image config
config_json=$(podman image inspect --format '{{json .Config}}' "$IMAGE")
healthcheck_json=$(podman image inspect --format '{{json .HealthCheck}}' "$IMAGE" 2>/dev/null)
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
echo "# image $IMAGE: $(( size / 1024 / 1024 )) MiB"

config_is() { # config_is DESCRIPTION PYTHON-EXPRESSION over c (Config) and h (HealthCheck)
  if python3 -c '
import json, sys
c = json.loads(sys.argv[1]) or {}
h = json.loads(sys.argv[2]) if sys.argv[2] not in ("", "null", "<no value>") else None
h = h or c.get("Healthcheck")
ok = eval(sys.argv[3])
if not ok:
    print("#   Config:", json.dumps(c)); print("#   HealthCheck:", json.dumps(h))
sys.exit(0 if ok else 1)' "$config_json" "$healthcheck_json" "$2"; then ok "image config: $1"; else not_ok "image config: $1"; fi
}
config_is "USER 10001" 'c.get("User") in ("10001", "10001:10001")'
config_is "EXPOSE 8080/tcp" '"8080/tcp" in (c.get("ExposedPorts") or {})'
config_is "VOLUME /data" '"/data" in (c.get("Volumes") or {})'
config_is "ENV SURVEYD_LISTEN=0.0.0.0:8080 SURVEYD_DATA_DIR=/data" \
  '{"SURVEYD_LISTEN=0.0.0.0:8080", "SURVEYD_DATA_DIR=/data"} <= set(c.get("Env") or [])'
config_is 'HEALTHCHECK CMD ["surveyd","healthcheck"]' \
  'h is not None and h.get("Test") == ["CMD", "surveyd", "healthcheck"]'
config_is 'ENTRYPOINT ["surveyd"] CMD ["serve"]' \
  'c.get("Entrypoint") == ["surveyd"] and c.get("Cmd") == ["serve"]'

# ---------------------------------------------------------------------------- image filesystem
mnt=$(podman image mount "$IMAGE") || mnt=
cleanup_image_mount() { [ -n "$mnt" ] && podman image unmount --force "$IMAGE" >/dev/null 2>&1; mnt=; }
trap cleanup_image_mount EXIT
if [ -z "$mnt" ] || [ ! -d "$mnt/usr" ]; then
  not_ok "podman image mount $IMAGE"
  summary container
  exit 1
fi
ok "podman image mount $IMAGE"

installed_in_image() { # prints the packages among $@ that the image's dpkg database lists as installed
  dpkg-query --admindir="$mnt/var/lib/dpkg" -W -f='${db:Status-Abbrev} ${Package}\n' "$@" 2>/dev/null |
    awk '$1 == "ii" { print $2 }'
}
absent() { # absent PATH...: none of the paths exists in the image
  local p found=()
  for p in "$@"; do [ -e "$mnt$p" ] || [ -L "$mnt$p" ] && found+=("$p"); done
  [ ${#found[@]} -eq 0 ] || { echo "#   present: ${found[*]}"; return 1; }
}
no_build_packages() {
  local found
  found=$(installed_in_image gcc gcc-12 cpp cpp-12 clang build-essential make meson ninja-build pkg-config \
          python3 check libc6-dev libmicrohttpd-dev libcjson-dev libsqlite3-dev libpq-dev libssl-dev zlib1g-dev libcurl4-openssl-dev libstemmer-dev curl wget)
  [ -z "$found" ] || { echo "#   installed:" $found; return 1; }
}
runtime_libs_installed() {
  [ "$(installed_in_image libmicrohttpd12 libcjson1 libsqlite3-0 libpq5 libssl3 zlib1g libcurl4 libstemmer0d | wc -l)" -eq 8 ]
}
no_apt_caches() {
  local left
  left=$(find "$mnt/var/lib/apt/lists" "$mnt/var/cache/apt" -type f -not -name lock 2>/dev/null)
  [ -z "$left" ] || { echo "#   left:" $(echo "$left" | sed "s|^$mnt||" | head -5); return 1; }
}
owned_by() { # owned_by PATH UID:GID
  local have; have=$(stat -c '%u:%g' "$mnt$1") && [ "$have" = "$2" ] || { echo "#   $1 is $have"; return 1; }
}

check "image has /usr/local/bin/surveyd, executable" test -x "$mnt/usr/local/bin/surveyd"
check "image runtime stage has no compiler (gcc, cc, cpp, make, headers)" \
  absent /usr/bin/gcc /usr/bin/cc /usr/bin/cpp /usr/bin/make /usr/bin/meson /usr/bin/ninja \
         /usr/include/stdio.h /usr/include/microhttpd.h /src
check "image runtime stage has no curl or wget" absent /usr/bin/curl /usr/bin/wget
check "image dpkg database: no build or fetch packages installed" no_build_packages
check "image dpkg database: libmicrohttpd12 libcjson1 libsqlite3-0 libpq5 libssl3 zlib1g libcurl4 libstemmer0d installed" runtime_libs_installed
check "image carries no apt package lists or caches" no_apt_caches
check "image user 10001 (surveyd) in /etc/passwd" \
  grep -q '^surveyd:x:10001:10001:' "$mnt/etc/passwd"
check "image /data owned by 10001:10001" owned_by /data 10001:10001
check "image binary's libraries all resolve" \
  bash -c "! chroot '$mnt' /usr/bin/ldd /usr/local/bin/surveyd | grep -q 'not found'"

# ---------------------------------------------------------------------------- run the image
# The image's environment and user, as a container would get them.
mapfile -t image_env < <(python3 -c 'import json,sys; print("\n".join(json.loads(sys.argv[1]).get("Env") or []))' "$config_json")
image_user=$(python3 -c 'import json,sys; u=json.loads(sys.argv[1]).get("User") or "0"; print(u if ":" in u else u+":"+u)' "$config_json")
image_workdir=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("WorkingDir") or "/")' "$config_json")

run=$WORK/run
# A previous run killed half-way may have left a mount here; it lived in a private mount
# namespace, so nothing is mounted on the host, and the directory can go.
rm -rf "$run"
mkdir -p "$run/upper" "$run/work" "$run/root"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
base=http://127.0.0.1:$port

# "${CHROOT[@]}" [NAME=VALUE...] COMMAND...: runs COMMAND as the image user, in its working
# directory, with the image's environment (plus NAME=VALUE), in the image filesystem under the
# writable overlay $run/upper (the container layer: /data lands in $run/upper/data), with /proc,
# a minimal /dev and a /tmp, all in a private mount namespace so the mounts vanish with the process.
# "${CHROOT_RO[@]}": the same with a read-only root filesystem and only /data (bound from
# $run/upper/data) and /tmp writable, as kubernetes.yaml runs it (readOnlyRootFilesystem).
# Every step execs the next, so "${CHROOT[@]}" ... & gives $! = the command's own pid.
chroot_script='
  set -e
  mnt=$1 run=$2 mode=$3 user=$4 workdir=$5; shift 5
  if [ "$mode" = ro ]; then
    mount -t overlay overlay -o "ro,lowerdir=$run/upper:$mnt" "$run/root"
    mount --bind "$run/upper/data" "$run/root/data"
  else
    mount -t overlay overlay -o "lowerdir=$mnt,upperdir=$run/upper,workdir=$run/work" "$run/root"
  fi
  mount -t proc proc "$run/root/proc"
  mount -t tmpfs -o mode=0755,nosuid tmpfs "$run/root/dev"
  for d in null zero full random urandom tty; do
    touch "$run/root/dev/$d"; mount --bind "/dev/$d" "$run/root/dev/$d"
  done
  mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$run/root/tmp"
  exec chroot --userspec="$user" "$run/root" /usr/bin/env -i -C "$workdir" "$@"'
CHROOT=(unshare --mount --propagation private -- bash -c "$chroot_script" chroot-image
        "$mnt" "$run" rw "$image_user" "$image_workdir" "${image_env[@]}")
CHROOT_RO=(unshare --mount --propagation private -- bash -c "$chroot_script" chroot-image
           "$mnt" "$run" ro "$image_user" "$image_workdir" "${image_env[@]}")

serve_pid=
stop_server() { [ -n "$serve_pid" ] && kill -KILL "$serve_pid" 2>/dev/null; serve_pid=; }
trap 'stop_server; cleanup_image_mount' EXIT

# start_server PORT LOG [ro]: surveyd serve (the image's CMD) on 127.0.0.1:PORT with JSON logs;
# waits until /readyz answers 200 (30 s at most). With ro: on a read-only root filesystem.
start_server() {
  local port=$1 log=$2 i code
  local -a chroot=("${CHROOT[@]}")
  [ "${3:-}" = ro ] && chroot=("${CHROOT_RO[@]}")
  "${chroot[@]}" SURVEYD_LISTEN="127.0.0.1:$port" SURVEYD_LOG_FORMAT=json surveyd serve >"$log" 2>&1 &
  serve_pid=$!
  for i in $(seq 1 150); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/readyz")
    [ "$code" = 200 ] && return 0
    kill -0 "$serve_pid" 2>/dev/null || { echo "#   surveyd exited:"; sed 's/^/#   /' "$log" | tail -20; return 1; }
    sleep 0.2
  done
  echo "#   /readyz never answered 200 (last: $code)"; sed 's/^/#   /' "$log" | tail -20
  return 1
}

# stop_server_term: SIGTERM, expects exit status 0 within 30 s.
stop_server_term() {
  local i status
  kill -TERM "$serve_pid" 2>/dev/null || return 1
  for i in $(seq 1 150); do
    kill -0 "$serve_pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$serve_pid" 2>/dev/null; then echo "#   still running 30 s after SIGTERM"; stop_server; return 1; fi
  wait "$serve_pid"; status=$?
  serve_pid=
  [ "$status" -eq 0 ] || { echo "#   exit status $status"; return 1; }
}

# http METHOD PATH EXPECTED-STATUS [curl args...]: body in $run/body, headers in $run/headers.
http() {
  local method=$1 path=$2 want=$3 code; shift 3
  code=$(curl -sS -o "$run/body" -D "$run/headers" -w '%{http_code}' --max-time 10 -X "$method" "$@" "$base$path")
  [ "$code" = "$want" ] || { echo "#   $method $path: $code, wanted $want: $(head -c 400 "$run/body")"; return 1; }
}
json_field() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1])); [v := v[k] for k in sys.argv[2:]]; print(v)' "$run/body" "$@"; }

run_server_checks() {
  local token id log=$run/serve.log
  check "surveyd serve in the image (chroot, user $image_user, SURVEYD_LISTEN=127.0.0.1:$port): /readyz 200" \
    start_server "$port" "$log" || return 1
  check "GET /healthz 200" http GET /healthz 200
  check "admin token generated into /data/admin-token (0600, uid 10001)" \
    bash -c "[ \"\$(stat -c '%a %u' '$run/upper/data/admin-token')\" = '600 10001' ]"
  check "database in /data/surveyd.db" test -s "$run/upper/data/surveyd.db"
  token=$(cat "$run/upper/data/admin-token" 2>/dev/null)
  local admin=(-H "Authorization: Bearer $token")

  check "PUT /v1/surveys/deploy-check 201" http PUT /v1/surveys/deploy-check 201 "${admin[@]}" \
    -H 'Content-Type: application/json' \
    -d '{"title":"Deploy check","public":true,"questions":[{"id":"rec","type":"nps","required":true},{"id":"comment","type":"text"}]}'
  check "POST /v1/surveys/deploy-check/responses 201" http POST /v1/surveys/deploy-check/responses 201 \
    -H 'Content-Type: application/json' -H 'Idempotency-Key: deploy-check-1' \
    -d '{"answers":{"rec":9,"comment":"from the container test"},"channel":"web","interaction":"deploy-1"}'
  id=$(json_field id 2>/dev/null)
  check "GET /v1/responses/{id} 200 with the answers" response_ok "$id" "${admin[@]}"
  check "GET /v1/surveys/deploy-check/metrics: NPS 100 from 1 answer" survey_metrics_ok "${admin[@]}"
  check "GET /metrics 200, Prometheus text format" prometheus_ok
  check "request log lines are JSON (SURVEYD_LOG_FORMAT=json)" json_log_ok "$log"

  check "surveyd healthcheck --listen 127.0.0.1:$port in the image: exit 0" \
    "${CHROOT[@]}" surveyd healthcheck --listen "127.0.0.1:$port"
  check "surveyd healthcheck with SURVEYD_LISTEN=0.0.0.0:$port (probes 127.0.0.1): exit 0" \
    "${CHROOT[@]}" SURVEYD_LISTEN="0.0.0.0:$port" surveyd healthcheck
  local dead_port; dead_port=$(free_port)
  check "surveyd healthcheck on a port nobody listens on: exit 1" \
    bash -c '"$@" >/dev/null 2>&1; [ $? -eq 1 ]' _ "${CHROOT[@]}" surveyd healthcheck --listen "127.0.0.1:$dead_port"
  check "surveyd backup /data/backup.db --data-dir /data while serving: exit 0" \
    "${CHROOT[@]}" surveyd backup /data/backup.db --data-dir /data
  check "backup is a consistent database holding the response" backup_ok "$run/upper/data/backup.db" "$id"
  check "SIGTERM: surveyd exits 0" stop_server_term
  check "surveyd verify --data-dir /data after shutdown: exit 0" "${CHROOT[@]}" surveyd verify --data-dir /data

  port=$(free_port); base=http://127.0.0.1:$port
  check "restart on the same /data, read-only root filesystem (as kubernetes.yaml)" \
    start_server "$port" "$run/serve2.log" ro || return 1
  check "in that run / is mounted read-only and /data read-write" read_only_root
  check "response still there after the restart" response_ok "$id" "${admin[@]}"
  check "POST another response on the read-only root: 201" http POST /v1/surveys/deploy-check/responses 201 \
    -H 'Content-Type: application/json' -d '{"answers":{"rec":10},"interaction":"deploy-2"}'
  check "SIGTERM again: exit 0" stop_server_term
}

read_only_root() {
  local mounts; mounts=$("${CHROOT_RO[@]}" cat /proc/self/mounts) || return 1
  echo "$mounts" | grep -qE '^overlay / overlay ro[, ]' && echo "$mounts" | grep -qE '^[^ ]+ /data [^ ]+ rw[, ]' ||
    { echo "$mounts" | grep -E ' / | /data ' | sed 's/^/#   /'; return 1; }
}

response_ok() { # response_ok ID CURL-ARGS...
  local id=$1; shift
  http GET "/v1/responses/$id" 200 "$@" &&
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(r["answers"]["rec"] != 9)' "$run/body"
}

survey_metrics_ok() {
  http GET /v1/surveys/deploy-check/metrics 200 "$@" &&
    python3 -c 'import json,sys; q=json.load(open(sys.argv[1]))["questions"]["rec"]; sys.exit(not (q["answered"] == 1 and q["score"] == 100))' "$run/body"
}

prometheus_ok() {
  http GET /metrics 200 || return 1
  grep -qi '^content-type: text/plain' "$run/headers" || { echo "#   $(grep -i '^content-type' "$run/headers")"; return 1; }
  python3 - "$run/body" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
name = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
label = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
sample = re.compile(rf"^({name})(\{{(?:{label}(?:,{label})*,?)?\}})? (-?[0-9.]+(?:[eE][-+]?[0-9]+)?|[-+]?Inf|NaN)( -?[0-9]+)?$")
types, samples, bad = {}, 0, []
for line in text.splitlines():
    if not line:
        continue
    if line.startswith("# TYPE "):
        parts = line.split()
        if len(parts) != 4 or parts[3] not in ("counter", "gauge", "histogram", "summary", "untyped"):
            bad.append(line)
        else:
            types[parts[2]] = parts[3]
    elif line.startswith("#"):
        continue
    elif sample.match(line):
        samples += 1
    else:
        bad.append(line)
if bad or not types or not samples:
    print("#   bad lines:", bad[:5], "types:", len(types), "samples:", samples)
    sys.exit(1)
print(f"#   {len(types)} metric families, {samples} samples")
PY
}

json_log_ok() {
  python3 - "$1" <<'PY'
import json, sys
lines = [l for l in open(sys.argv[1], errors="replace").read().splitlines() if l.strip()]
objs, bad = [], []
for l in lines:
    try:
        objs.append(json.loads(l))
    except ValueError:
        bad.append(l)
requests = [o for o in objs if isinstance(o, dict) and "/v1/surveys/deploy-check" in json.dumps(o)]
if bad or not requests:
    print("#   non-JSON lines:", bad[:3], "request lines:", len(requests))
    sys.exit(1)
PY
}

backup_ok() {
  python3 - "$1" "$2" <<'PY'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
ok = db.execute("PRAGMA integrity_check").fetchone()[0]
n = db.execute("SELECT count(*) FROM responses").fetchone()[0]
if ok != "ok" or n != 1:
    print(f"#   integrity_check {ok}, {n} responses")
    sys.exit(1)
PY
}

run_server_checks
stop_server
trap - EXIT
cleanup_image_mount

echo "# container.sh took $(( $(date +%s) - started ))s"
summary container
