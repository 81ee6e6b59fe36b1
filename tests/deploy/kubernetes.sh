#!/usr/bin/env bash
# Structural checks of deploy/kubernetes.yaml with python3 + PyYAML (no cluster, no kubectl):
# kinds, one replica with the Recreate strategy, a ReadWriteOnce PVC mounted at /data, probes on
# /healthz and /readyz at the container's port, the Service's targetPort, tokens from a Secret,
# the security context, resources, the grace period, and agreement with the Dockerfile (user, port,
# data dir). Installs python3-yaml when missing. Last line: "kubernetes: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
. tests/deploy/lib.sh

if ! need_packages python3 python3-yaml; then
  not_ok "install python3-yaml"
  summary kubernetes
  exit 1
fi
# Debian's python3 has python3-yaml; a python3 earlier on PATH (pyenv, venv) may not.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

# The checks print "ok - ..." / "FAIL - ..." lines; the counts come back on the last line.
out=$("$PY" - deploy/kubernetes.yaml Dockerfile <<'PY'
import re, sys
import yaml

path, dockerfile = sys.argv[1], sys.argv[2]
results = []

def check(name, cond, detail=""):
    results.append(bool(cond))
    print(("ok - " if cond else "FAIL - ") + name + ("" if cond or not detail else f"  [{detail}]"))

try:
    docs = [d for d in yaml.safe_load_all(open(path)) if d is not None]
except yaml.YAMLError as e:
    check("YAML parses", False, e)
    print("COUNTS 0 1")
    sys.exit(0)
check(f"YAML parses ({len(docs)} documents)", docs)

def get(obj, *keys, default=None):
    for k in keys:
        if isinstance(obj, dict) and k in obj:
            obj = obj[k]
        elif isinstance(obj, list) and isinstance(k, int) and k < len(obj):
            obj = obj[k]
        else:
            return default
    return obj

by_kind = {}
for d in docs:
    by_kind.setdefault(d.get("kind"), []).append(d)
check("every document has apiVersion, kind, metadata.name",
      all(d.get("apiVersion") and d.get("kind") and get(d, "metadata", "name") for d in docs))
for kind in ("Deployment", "PersistentVolumeClaim", "Service"):
    check(f"one {kind}", len(by_kind.get(kind, [])) == 1, [d.get("kind") for d in docs])

dep = (by_kind.get("Deployment") or [{}])[0]
pvc = (by_kind.get("PersistentVolumeClaim") or [{}])[0]
svc = (by_kind.get("Service") or [{}])[0]
spec = get(dep, "spec", default={})
pod = get(spec, "template", "spec", default={})
containers = get(pod, "containers", default=[]) or []
check("one container", len(containers) == 1)
c = containers[0] if containers else {}

check("Deployment apiVersion apps/v1", dep.get("apiVersion") == "apps/v1")
check("replicas: 1", spec.get("replicas") == 1, spec.get("replicas"))
check("strategy: Recreate", get(spec, "strategy", "type") == "Recreate", get(spec, "strategy"))
labels = get(spec, "template", "metadata", "labels", default={}) or {}
selector = get(spec, "selector", "matchLabels", default={}) or {}
check("selector matches the pod template's labels",
      selector and all(labels.get(k) == v for k, v in selector.items()), (selector, labels))
check("terminationGracePeriodSeconds: 30", pod.get("terminationGracePeriodSeconds") == 30)

# Ports
ports = c.get("ports") or []
named = {p.get("name"): p.get("containerPort") for p in ports if p.get("name")}
numbers = {p.get("containerPort") for p in ports}
def resolve(port):
    return named.get(port) if isinstance(port, str) else (port if port in numbers else None)
env = {e["name"]: e for e in c.get("env") or [] if "name" in e}
listen = get(env, "SURVEYD_LISTEN", "value", default="")
m = re.fullmatch(r"(?:\[[^\]]+\]|[^:]+):(\d+)", listen or "")
check("SURVEYD_LISTEN binds all interfaces on the container port",
      m and listen.startswith(("0.0.0.0:", "[::]:")) and int(m.group(1)) in numbers, (listen, numbers))

# Probes
for probe, want in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
    http = get(c, probe, "httpGet", default={}) or {}
    check(f"{probe}: httpGet {want} on the container port",
          http.get("path") == want and resolve(http.get("port")) in numbers, http)
startup = get(c, "startupProbe", "httpGet")
check("startupProbe (if any) on the container port",
      startup is None or resolve(startup.get("port")) in numbers, startup)

# Service
sports = get(svc, "spec", "ports", default=[]) or []
check("Service targets the container port",
      sports and all(resolve(p.get("targetPort", p.get("port"))) in numbers for p in sports), sports)
check("Service selects the pod", (get(svc, "spec", "selector", default={}) or {}) and
      all(labels.get(k) == v for k, v in get(svc, "spec", "selector").items()))

# Storage
check("PVC ReadWriteOnce, 5Gi",
      get(pvc, "spec", "accessModes") == ["ReadWriteOnce"] and
      get(pvc, "spec", "resources", "requests", "storage") == "5Gi", get(pvc, "spec"))
vols = {v.get("name"): v for v in pod.get("volumes") or []}
mounts = {m.get("mountPath"): m.get("name") for m in c.get("volumeMounts") or []}
data_vol = vols.get(mounts.get("/data"), {})
check("the PVC is mounted at /data",
      get(data_vol, "persistentVolumeClaim", "claimName") == get(pvc, "metadata", "name"), (mounts, vols))
check("SURVEYD_DATA_DIR=/data", get(env, "SURVEYD_DATA_DIR", "value") == "/data")
check("/tmp is a writable volume (read-only root filesystem)", "/tmp" in mounts and mounts["/tmp"] in vols)

# Tokens
refs = {n: get(e, "valueFrom", "secretKeyRef") for n, e in env.items() if get(e, "valueFrom", "secretKeyRef")}
check("SURVEYD_ADMIN_TOKENS from a Secret (secretKeyRef)",
      "SURVEYD_ADMIN_TOKENS" in refs and refs["SURVEYD_ADMIN_TOKENS"].get("name") and refs["SURVEYD_ADMIN_TOKENS"].get("key"))
check("SURVEYD_READ_TOKENS and SURVEYD_INGEST_TOKENS from the Secret",
      {"SURVEYD_READ_TOKENS", "SURVEYD_INGEST_TOKENS"} <= set(refs))
check("no token as a literal value", not any("TOKEN" in n and "value" in e for n, e in env.items()))

# Security
psc = pod.get("securityContext") or {}
csc = c.get("securityContext") or {}
def sc(key):
    return csc.get(key, psc.get(key))
check("runAsNonRoot: true", sc("runAsNonRoot") is True)
check("runAsUser: 10001", sc("runAsUser") == 10001)
check("fsGroup set (the volume is writable by the user)", psc.get("fsGroup") is not None)
check("readOnlyRootFilesystem: true", csc.get("readOnlyRootFilesystem") is True)
check("allowPrivilegeEscalation: false", csc.get("allowPrivilegeEscalation") is False)
check("capabilities: drop ALL, add none",
      get(csc, "capabilities", "drop") == ["ALL"] and not get(csc, "capabilities", "add"))
check("not privileged", not csc.get("privileged"))

# Resources
res = c.get("resources") or {}
check("resources: cpu and memory requests, memory limit",
      get(res, "requests", "cpu") and get(res, "requests", "memory") and get(res, "limits", "memory"), res)

# Agreement with the Dockerfile's runtime stage
text = open(dockerfile).read()
final = text[text.rfind("\nFROM "):]
user = re.search(r"^USER\s+(\d+)", final, re.M)
expose = set(int(p) for p in re.findall(r"^EXPOSE\s+(\d+)", final, re.M))
check("runAsUser matches the Dockerfile's USER", user and int(user.group(1)) == sc("runAsUser"), user and user.group(1))
check("container port matches the Dockerfile's EXPOSE", expose and numbers <= expose, (numbers, expose))
check("data dir matches the Dockerfile's VOLUME", re.search(r'^VOLUME\s+\[?"?/data"?\]?', final, re.M))
check("args match the image's CMD (serve)", c.get("args") in (None, ["serve"]) and not c.get("command"))

print("COUNTS", sum(results), len(results) - sum(results))
PY
)
status=$?
echo "$out" | grep -v '^COUNTS '
counts=$(echo "$out" | sed -n 's/^COUNTS //p')
if [ $status -ne 0 ] || [ -z "$counts" ]; then
  not_ok "kubernetes.yaml checker ran"
else
  passed=${counts% *} failed=${counts#* }
fi
summary kubernetes
