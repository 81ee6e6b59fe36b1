#!/usr/bin/env bash
# Structural checks of deploy/kubernetes-postgres.yaml with python3 + PyYAML (no cluster, no kubectl):
# two or more surveyd replicas rolled without downtime, the database URI only from a Secret, no
# volume for surveyd, probes on /healthz and /readyz at the container port, a PodDisruptionBudget
# that leaves one replica up, replicas spread over nodes, the Service, the same security context as
# deploy/kubernetes.yaml, and the try-out PostgreSQL StatefulSet (headless Service, volume claim at
# PGDATA, password from a Secret, readiness, synchronous_commit not off) with the URI of the
# instructions pointing at it; agreement with the Dockerfile (user, port, libpq in the runtime
# stage). Then the checker is run on broken copies of the manifest, each of which must fail the
# check it breaks. Installs python3-yaml when missing. Last line: "kubernetes_postgres: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
. tests/deploy/lib.sh

if ! need_packages python3 python3-yaml; then
  not_ok "install python3-yaml"
  summary kubernetes_postgres
  exit 1
fi
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

out=$("$PY" - deploy/kubernetes-postgres.yaml Dockerfile <<'PY'
import copy, re, sys
import yaml

path, dockerfile = sys.argv[1], sys.argv[2]

def get(obj, *keys, default=None):
    for k in keys:
        if isinstance(obj, dict) and k in obj:
            obj = obj[k]
        elif isinstance(obj, list) and isinstance(k, int) and k < len(obj):
            obj = obj[k]
        else:
            return default
    return obj

def matches(selector, labels):
    return bool(selector) and all((labels or {}).get(k) == v for k, v in selector.items())

def checks(docs, header, dockerfile_text):
    """(name, passed, detail) for every check of the manifest."""
    out = []
    def check(name, cond, detail=""):
        out.append((name, bool(cond), detail))

    by_kind = {}
    for d in docs:
        by_kind.setdefault(d.get("kind"), []).append(d)
    check("every document has apiVersion, kind, metadata.name",
          all(d.get("apiVersion") and d.get("kind") and get(d, "metadata", "name") for d in docs))
    for kind, n in (("Deployment", 1), ("PodDisruptionBudget", 1), ("StatefulSet", 1), ("Service", 2)):
        check(f"{n} {kind}", len(by_kind.get(kind, [])) == n, [d.get("kind") for d in docs])
    check("no PersistentVolumeClaim for surveyd (its state is in PostgreSQL)", not by_kind.get("PersistentVolumeClaim"))

    dep = (by_kind.get("Deployment") or [{}])[0]
    spec = get(dep, "spec", default={}) or {}
    pod = get(spec, "template", "spec", default={}) or {}
    labels = get(spec, "template", "metadata", "labels", default={}) or {}
    containers = get(pod, "containers", default=[]) or []
    c = containers[0] if containers else {}
    check("one surveyd container", len(containers) == 1)
    check("Deployment apiVersion apps/v1", dep.get("apiVersion") == "apps/v1")
    replicas = spec.get("replicas")
    check("replicas: 2 or more", isinstance(replicas, int) and replicas >= 2, replicas)
    check("RollingUpdate with maxUnavailable 0",
          get(spec, "strategy", "type") == "RollingUpdate" and
          get(spec, "strategy", "rollingUpdate", "maxUnavailable") in (0, "0%"), get(spec, "strategy"))
    check("selector matches the pod template's labels", matches(get(spec, "selector", "matchLabels"), labels))
    check("terminationGracePeriodSeconds: 30", pod.get("terminationGracePeriodSeconds") == 30)
    spread = [matches(get(t, "labelSelector", "matchLabels"), labels)
              for t in pod.get("topologySpreadConstraints") or []]
    anti = get(pod, "affinity", "podAntiAffinity")
    check("replicas spread over nodes (topologySpreadConstraints or podAntiAffinity)", any(spread) or anti)

    ports = c.get("ports") or []
    named = {p.get("name"): p.get("containerPort") for p in ports if p.get("name")}
    numbers = {p.get("containerPort") for p in ports}
    def resolve(port, named=named, numbers=numbers):
        return named.get(port) if isinstance(port, str) else (port if port in numbers else None)
    env = {e["name"]: e for e in c.get("env") or [] if "name" in e}
    listen = get(env, "SURVEYD_LISTEN", "value", default="") or ""
    m = re.fullmatch(r"(?:\[[^\]]+\]|[^:]+):(\d+)", listen)
    check("SURVEYD_LISTEN binds all interfaces on the container port",
          m and listen.startswith(("0.0.0.0:", "[::]:")) and int(m.group(1)) in numbers, (listen, numbers))
    for probe, want in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        http = get(c, probe, "httpGet", default={}) or {}
        check(f"{probe}: httpGet {want} on the container port",
              http.get("path") == want and resolve(http.get("port")) in numbers, http)

    refs = {n: get(e, "valueFrom", "secretKeyRef") for n, e in env.items() if get(e, "valueFrom", "secretKeyRef")}
    db = refs.get("SURVEYD_DATABASE") or {}
    check("SURVEYD_DATABASE from a Secret, not optional",
          db.get("name") and db.get("key") and not db.get("optional"), env.get("SURVEYD_DATABASE"))
    literal = [n for n, e in env.items() if re.search(r"postgres(ql)?://", str(e.get("value", "")))]
    check("no database URI as a literal value (it holds the password)", not literal, literal)
    check("no --database flag in args (it would show in the pod spec and ps)",
          not any("postgres" in str(a) or "database" in str(a) for a in (c.get("args") or []) + (c.get("command") or [])))
    admin = refs.get("SURVEYD_ADMIN_TOKENS") or {}
    check("SURVEYD_ADMIN_TOKENS from the Secret, not optional (else each replica makes its own)",
          admin.get("name") and admin.get("key") and not admin.get("optional"))
    check("SURVEYD_READ_TOKENS and SURVEYD_INGEST_TOKENS from the Secret",
          {"SURVEYD_READ_TOKENS", "SURVEYD_INGEST_TOKENS"} <= set(refs))
    check("no token as a literal value", not any("TOKEN" in n and "value" in e for n, e in env.items()))

    vols = {v.get("name"): v for v in pod.get("volumes") or []}
    mounts = {mnt.get("mountPath"): mnt.get("name") for mnt in c.get("volumeMounts") or []}
    check("surveyd mounts no persistent volume",
          not any(get(v, "persistentVolumeClaim") for v in vols.values()), vols)
    check("/tmp is a writable volume (read-only root filesystem)", "/tmp" in mounts and mounts["/tmp"] in vols)
    data_dir = get(env, "SURVEYD_DATA_DIR", "value")
    check("SURVEYD_DATA_DIR (if set) is on a writable volume",
          data_dir is None or any(data_dir == p or data_dir.startswith(p.rstrip("/") + "/") for p in mounts), data_dir)

    psc = pod.get("securityContext") or {}
    csc = c.get("securityContext") or {}
    def sc(key):
        return csc.get(key, psc.get(key))
    check("runAsNonRoot: true, runAsUser: 10001", sc("runAsNonRoot") is True and sc("runAsUser") == 10001)
    check("readOnlyRootFilesystem, no privilege escalation, capabilities dropped",
          csc.get("readOnlyRootFilesystem") is True and csc.get("allowPrivilegeEscalation") is False and
          get(csc, "capabilities", "drop") == ["ALL"] and not get(csc, "capabilities", "add") and
          not csc.get("privileged"))
    res = c.get("resources") or {}
    check("resources: cpu and memory requests, memory limit",
          get(res, "requests", "cpu") and get(res, "requests", "memory") and get(res, "limits", "memory"), res)

    pdb = (by_kind.get("PodDisruptionBudget") or [{}])[0]
    check("PodDisruptionBudget apiVersion policy/v1", pdb.get("apiVersion") == "policy/v1")
    check("PodDisruptionBudget selects the surveyd pods", matches(get(pdb, "spec", "selector", "matchLabels"), labels))
    min_available = get(pdb, "spec", "minAvailable")
    max_unavailable = get(pdb, "spec", "maxUnavailable")
    check("PodDisruptionBudget keeps one replica up and lets one go",
          (isinstance(min_available, int) and isinstance(replicas, int) and 1 <= min_available < replicas) or
          (isinstance(max_unavailable, int) and isinstance(replicas, int) and 1 <= max_unavailable < replicas),
          (min_available, max_unavailable, replicas))

    services = {get(s, "metadata", "name"): s for s in by_kind.get("Service", [])}
    svc = next((s for s in services.values() if matches(get(s, "spec", "selector"), labels)), {})
    sports = get(svc, "spec", "ports", default=[]) or []
    check("a Service selects the surveyd pods and targets the container port",
          sports and all(resolve(p.get("targetPort", p.get("port"))) in numbers for p in sports), sports)

    sts = (by_kind.get("StatefulSet") or [{}])[0]
    sspec = get(sts, "spec", default={}) or {}
    spod = get(sspec, "template", "spec", default={}) or {}
    slabels = get(sspec, "template", "metadata", "labels", default={}) or {}
    pg = (get(spod, "containers", default=[]) or [{}])[0]
    penv = {e["name"]: e for e in pg.get("env") or [] if "name" in e}
    pports = {p.get("name"): p.get("containerPort") for p in pg.get("ports") or []}
    headless = services.get(sspec.get("serviceName"), {})
    check("StatefulSet selector matches its pod labels", matches(get(sspec, "selector", "matchLabels"), slabels))
    check("StatefulSet's serviceName is a headless Service selecting it",
          get(headless, "spec", "clusterIP") == "None" and matches(get(headless, "spec", "selector"), slabels),
          sspec.get("serviceName"))
    hports = get(headless, "spec", "ports", default=[]) or []
    check("the PostgreSQL Service targets port 5432",
          hports and all(pports.get(p.get("targetPort")) == 5432 or p.get("targetPort") == 5432 for p in hports), hports)
    claims = [get(t, "metadata", "name") for t in sspec.get("volumeClaimTemplates") or []]
    pmounts = {mnt.get("name"): mnt.get("mountPath") for mnt in pg.get("volumeMounts") or []}
    pgdata = get(penv, "PGDATA", "value") or "/var/lib/postgresql/data"
    check("a volume claim template mounted where PGDATA lives",
          any(n in pmounts and (pgdata + "/").startswith(pmounts[n].rstrip("/") + "/") for n in claims),
          (claims, pmounts, pgdata))
    check("POSTGRES_PASSWORD from a Secret", get(penv, "POSTGRES_PASSWORD", "valueFrom", "secretKeyRef", "name"))
    check("PostgreSQL has a readiness probe", pg.get("readinessProbe"))
    check("synchronous_commit is not turned off (a 201 must be durable)",
          not any(re.search(r"synchronous_commit\s*=\s*(off|local|false|0)", str(a)) for a in pg.get("args") or []))
    check("PostgreSQL runs as non-root", get(spod, "securityContext", "runAsNonRoot") is True)

    uri = re.search(r"postgres(?:ql)?://([^:@/\s]+):[^@\s]*@([^:/\s]+):(\d+)/([A-Za-z0-9_]+)", header)
    check("the instructions' URI names the PostgreSQL Service, its port, user and database",
          uri and uri.group(2) == sspec.get("serviceName") and int(uri.group(3)) == 5432 and
          uri.group(1) == get(penv, "POSTGRES_USER", "value") and uri.group(4) == get(penv, "POSTGRES_DB", "value"),
          uri and uri.groups())
    secret_names = set(re.findall(r"kubectl create secret generic (\S+)", header))
    used = {r.get("name") for r in refs.values()} | {get(penv, "POSTGRES_PASSWORD", "valueFrom", "secretKeyRef", "name")}
    check("every Secret used is created in the instructions", used <= secret_names, (used, secret_names))

    final = dockerfile_text[dockerfile_text.rfind("\nFROM "):]
    user = re.search(r"^USER\s+(\d+)", final, re.M)
    expose = set(int(p) for p in re.findall(r"^EXPOSE\s+(\d+)", final, re.M))
    check("runAsUser matches the Dockerfile's USER", user and int(user.group(1)) == sc("runAsUser"))
    check("container port matches the Dockerfile's EXPOSE", expose and numbers <= expose, (numbers, expose))
    check("the image's runtime stage installs libpq5", re.search(r"apt-get install[^\n]*\blibpq5\b", final))
    check("args match the image's CMD (serve)", c.get("args") in (None, ["serve"]) and not c.get("command"))
    return out

text = open(path).read()
header = "\n".join(line for line in text.splitlines() if line.startswith("#"))
dockerfile_text = open(dockerfile).read()
results = []
try:
    docs = [d for d in yaml.safe_load_all(text) if d is not None]
except yaml.YAMLError as e:
    print(f"FAIL - YAML parses  [{e}]")
    print("COUNTS 0 1")
    sys.exit(0)
print(f"ok - YAML parses ({len(docs)} documents)")
results.append(True)
for name, passed, detail in checks(docs, header, dockerfile_text):
    results.append(passed)
    print(("ok - " if passed else "FAIL - ") + name + ("" if passed or not detail else f"  [{detail}]"))

# The checker itself: each broken copy must fail the check named beside it.
def kind(docs, k):
    return next(d for d in docs if d.get("kind") == k)
def surveyd(docs):
    return get(kind(docs, "Deployment"), "spec", "template", "spec", "containers", 0)
def literal_uri(docs):
    env = surveyd(docs)["env"]
    for e in env:
        if e["name"] == "SURVEYD_DATABASE":
            e.pop("valueFrom"); e["value"] = "postgresql://surveyd:pw@surveyd-postgres:5432/surveyd"
def one_replica(docs):
    kind(docs, "Deployment")["spec"]["replicas"] = 1
def no_readiness(docs):
    surveyd(docs).pop("readinessProbe")
def pdb_elsewhere(docs):
    kind(docs, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"] = {"app": "other"}
def async_commit(docs):
    get(kind(docs, "StatefulSet"), "spec", "template", "spec", "containers", 0)["args"] = ["-c", "synchronous_commit=off"]
mutations = [
    (literal_uri, "SURVEYD_DATABASE from a Secret, not optional"),
    (literal_uri, "no database URI as a literal value (it holds the password)"),
    (one_replica, "replicas: 2 or more"),
    (no_readiness, "readinessProbe: httpGet /readyz on the container port"),
    (pdb_elsewhere, "PodDisruptionBudget selects the surveyd pods"),
    (async_commit, "synchronous_commit is not turned off (a 201 must be durable)"),
]
for mutate, name in mutations:
    broken = copy.deepcopy(docs)
    mutate(broken)
    failed = {n for n, passed, _ in checks(broken, header, dockerfile_text) if not passed}
    caught = name in failed
    results.append(caught)
    print(("ok - " if caught else "FAIL - ") + f"a copy broken by {mutate.__name__} fails '{name}'" +
          ("" if caught else f"  [failed: {sorted(failed)}]"))

print("COUNTS", sum(results), len(results) - sum(results))
PY
)
status=$?
echo "$out" | grep -v '^COUNTS '
counts=$(echo "$out" | sed -n 's/^COUNTS //p')
if [ $status -ne 0 ] || [ -z "$counts" ]; then
  not_ok "kubernetes-postgres.yaml checker ran"
else
  passed=${counts% *} failed=${counts#* }
fi
summary kubernetes_postgres
