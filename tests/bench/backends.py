#!/usr/bin/env python3
"""SQLite and PostgreSQL side by side (tests/bench/run.sh runs this when BENCH_BACKEND=postgresql).

For each size in BENCH_SIZES, and each configuration — SQLite; PostgreSQL with one surveyd; with
BENCH_INSTANCES=2 also two surveyd processes on one PostgreSQL database, load split across both — it
starts from an empty store (a data directory, or a database of its own on the cluster run.sh started,
BENCH_POSTGRES), then measures with the same tools as bench.py:

  fill      the size's responses POSTed through the API (64 client threads, keep-alive, submitted_at
            spread over BENCH_DAYS days, agents and channels as post.lua's), spread over the instances
  metrics   cached (one query repeated, wrk -t2 -c64 per instance) and distinct uncached queries
            (metrics.lua's plain mode, wrk -t1 -c2)
  export    the whole CSV export, rows/s (from the first instance)
  ingest    durable POSTs, wrk post.lua, 64 connections in all (split across the instances)
  checks    every 201'd id of the ingest run stored once, rows added = 201s (+ at most one in flight
            per connection), `surveyd verify` consistent

Every instance of a configuration is a separate process with its own CPU and RSS accounting; the
table sums CPU over instances. Writes the table and the raw numbers to BENCH_OUT/<run>-backends.*.
"""

import glob
import json
import os
import random
import subprocess
import sys
import threading
import time
import http.client

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench as B  # noqa: E402
import generate  # noqa: E402

BACKEND = os.environ.get("BENCH_BACKEND", "sqlite")
INSTANCES = int(os.environ.get("BENCH_INSTANCES", "1"))
PG = os.environ.get("BENCH_POSTGRES")
FILL_THREADS = 64
CHANNELS = ["chat"] * 35 + ["email"] * 25 + ["phone"] * 15 + ["web"] * 12 + ["sms"] * 8 + ["social"] * 5


def configurations():
    out = [("sqlite", 1)]
    if BACKEND == "postgresql":
        if not PG:
            raise SystemExit("backends: BENCH_POSTGRES is unset (run.sh starts a cluster and sets it)")
        out.append(("postgresql", 1))
        if INSTANCES >= 2:
            out.append(("postgresql", INSTANCES))
    return out


def psql(sql, uri=None):
    p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", uri or PG, "-c", sql],
                       capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise SystemExit("backends: psql failed on %r: %s" % (sql, p.stderr))
    return p.stdout.strip()


def database_uri(name):
    scheme, _, rest = PG.partition("://")
    authority, _, path_query = rest.partition("/")
    _, sep, query = path_query.partition("?")
    return "%s://%s/%s%s%s" % (scheme, authority, name, sep, query)


class Store:
    """An empty store for one configuration and size: a fresh data directory, or a fresh database."""

    def __init__(self, backend, instances, n):
        self.backend = backend
        tag = "%s-%dx-%s" % (backend, instances, B.label(n))
        self.data_dir = os.path.join(B.DATA, "cmp-" + tag)
        subprocess.run(["rm", "-rf", self.data_dir], check=True)
        os.makedirs(self.data_dir)
        self.uri = self.name = None
        if backend == "postgresql":
            self.name = "bench_%d_%s" % (instances, B.label(n).lower())
            psql("DROP DATABASE IF EXISTS %s WITH (FORCE)" % self.name)
            psql("CREATE DATABASE %s" % self.name)
            self.uri = database_uri(self.name)

    def args(self):
        where = ["--data-dir", self.data_dir]
        return where + (["--database", self.uri] if self.uri else [])

    def start(self, name):
        return B.Server(name, [B.SURVEYD, "--listen", "127.0.0.1:0"] + self.args(), B.SURVEYD_ENV)

    def rows(self):
        if self.uri:
            return int(psql("SELECT count(*) FROM responses", self.uri))
        return B.sqlite_count(os.path.join(self.data_dir, "surveyd.db"))

    def missing(self, ids):
        """How many of ids are not stored."""
        if not ids:
            return 0
        if self.uri:
            values = ",".join("('%s')" % i.replace("'", "''") for i in ids)
            return int(psql("SELECT count(*) FROM (VALUES %s) AS v(id) WHERE NOT EXISTS "
                            "(SELECT 1 FROM responses r WHERE r.id = v.id)" % values, self.uri))
        import sqlite3
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(self.data_dir, "surveyd.db"), uri=True)
        try:
            have = {r[0] for r in db.execute("SELECT id FROM responses")}
        finally:
            db.close()
        return sum(1 for i in ids if i not in have)

    def size_bytes(self):
        if self.uri:
            return int(psql("SELECT pg_database_size(current_database())", self.uri))
        return sum(os.path.getsize(p) for p in glob.glob(os.path.join(self.data_dir, "surveyd.db*")))

    def verify(self):
        p = subprocess.run([B.SURVEYD, "verify"] + self.args(), capture_output=True, text=True, timeout=3600)
        lines = (p.stdout + p.stderr).strip().splitlines()
        return p.returncode, lines[-1] if lines else ""


def body(rng, i, now_ms):
    answers = {}
    for q, skip, values in (("rec", 8, range(11)), ("sat", 20, range(1, 6)), ("easy", 30, range(1, 8)),
                            ("resolved", 25, (True, False))):
        if rng.randrange(100) >= skip:
            answers[q] = rng.choice(values)
    if rng.randrange(100) < 40:
        answers["expect"] = rng.choice(["met", "met", "exceeded", "fell short"])
    if rng.randrange(100) < 20:
        answers["comment"] = rng.choice(["Quick and friendly", "Took too long", "Not resolved yet"])
    if not answers:
        answers["rec"] = 10
    submitted = now_ms - rng.randrange(B.DAYS * 86400000)
    b = {"answers": answers, "channel": rng.choice(CHANNELS),
         "submitted_at": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(submitted // 1000)) + ".%03dZ" % (submitted % 1000)}
    if rng.randrange(100) >= 3:
        b["customer"] = "cust-%07d" % rng.randrange(max(1, i // 3 + 1))
    if rng.randrange(100) >= 5:
        b["agent"] = "agent-%03d" % (1 + rng.randrange(B.AGENTS))
        b["interaction"] = "fill-%d" % i
    if rng.randrange(100) < 70:
        b["properties"] = {"plan": rng.choice(["free", "pro", "enterprise"]), "region": rng.choice(["eu", "us", "apac"])}
    return json.dumps(b)


def fill(servers, n):
    """POSTs n responses through the API, spread over the servers; (seconds, failures)."""
    now_ms = int(time.time() * 1000) - 3600000
    failures = []
    counter = iter(range(n))
    lock = threading.Lock()

    def worker(t):
        rng = random.Random(t)
        server = servers[t % len(servers)]
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        headers = {"Content-Type": "application/json", "Authorization": "Bearer " + B.INGEST}
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            conn.request("POST", "/v1/surveys/support/responses", body(rng, i, now_ms), headers)
            r = conn.getresponse()
            data = r.read()
            if r.status != 201:
                with lock:
                    failures.append("%d %s" % (r.status, data[:200]))
        conn.close()

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(t,)) for t in range(FILL_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.monotonic() - t0, failures


def put_survey(server):
    req = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT",
                          "-H", "Authorization: Bearer " + B.ADMIN, "-H", "Content-Type: application/json",
                          "--data-binary", json.dumps(generate.DEFINITION), server.url + "/v1/surveys/support"],
                         capture_output=True, text=True, timeout=60)
    if req.stdout not in ("200", "201"):
        raise SystemExit("backends: PUT of the survey failed: HTTP %s" % req.stdout)


def parallel_wrk(servers, name, script, conns, env):
    """One wrk per server at once, conns split between them; the runs and their sum."""
    runs = [None] * len(servers)

    def one(k):
        e = dict(env)
        if "BENCH_IDS" in e:
            e["BENCH_IDS"] += "-%d" % k
        if "BENCH_RUN" in e:
            e["BENCH_RUN"] += "-%d" % k
        runs[k] = B.wrk(servers[k], "%s [instance %d]" % (name, k + 1), script, 1 if conns == 1 else 2,
                        max(1, conns // len(servers)), e)

    threads = [threading.Thread(target=one, args=(k,)) for k in range(len(servers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = {"rps": sum(r["rps"] for r in runs), "p50_ms": max(r["p50_ms"] for r in runs),
             "p99_ms": max(r["p99_ms"] for r in runs), "s201": sum(r.get("s201", 0) for r in runs),
             "non2xx": sum(r.get("non2xx", 0) for r in runs), "socket_errors": sum(r["socket_errors"] for r in runs),
             "server_cpu_s": sum(r["server_cpu_s"] for r in runs), "requests": sum(r["requests"] for r in runs),
             "peak_rss_mb": max(r["peak_rss_mb"] for r in runs)}
    total["server_cpu_us_per_req"] = round(1e6 * total["server_cpu_s"] / max(1, total["requests"]), 1)
    return total


def run_configuration(backend, instances, n):
    label = "%s x%d %s" % (backend, instances, B.label(n))
    B.log("=== %s" % label)
    store = Store(backend, instances, n)
    servers = [store.start("surveyd-%s-%dx-%s-%d" % (backend, instances, B.label(n), k + 1)) for k in range(instances)]
    r = {"backend": backend, "instances": instances, "n": n}
    try:
        put_survey(servers[0])
        seconds, failures = fill(servers, n)
        r["fill_s"] = round(seconds, 1)
        r["fill_rps"] = round(n / seconds)
        r["fill_failures"] = failures[:5]
        B.log("%s: filled %d in %.1f s (%d/s), %d failures" % (label, n, seconds, n / seconds, len(failures)))
        r["rows"] = store.rows()
        r["size_mb"] = round(store.size_bytes() / 1e6, 1)
        r["metrics_cached"] = parallel_wrk(servers, "metrics cached %s" % label, "metrics.lua", 64,
                                           {"BENCH_TOKEN": B.READ, "BENCH_MODE": "cached"})
        r["metrics_plain"] = B.uncached(servers[0], "metrics plain %s" % label, {"BENCH_MODE": "plain"})
        r["export"] = B.export(servers[0], n, r["rows"])
        ids_prefix = os.path.join(B.OUT, "%s-ids-%s-%dx-%s" % (B.RUN_TAG, backend, instances, B.label(n)))
        r["ingest"] = parallel_wrk(servers, "ingest c64 %s" % label, "post.lua", 64,
                                   {"BENCH_TOKEN": B.INGEST, "BENCH_RUN": "%s-%s-%d-%s" % (B.RUN_TAG, backend, instances, n),
                                    "BENCH_IDS": ids_prefix})
    finally:
        for s in servers:
            s.stop()
    ids = []
    for path in glob.glob(ids_prefix + "-*"):
        with open(path) as f:
            ids.extend(line.strip() for line in f if line.strip())
        os.remove(path)
    added = store.rows() - r["rows"]
    missing = store.missing(ids)
    s201 = r["ingest"]["s201"]
    r["checks"] = {"ids": len(ids), "distinct": len(set(ids)), "missing": missing, "rows_added": added,
                   "s201": s201}
    r["checks"]["ok"] = (missing == 0 and len(set(ids)) == len(ids) == s201 and 0 <= added - s201 <= 64)
    rc, line = store.verify()
    r["verify"] = {"exit": rc, "line": line}
    B.log("%s: checks %r, verify %r" % (label, r["checks"], r["verify"]))
    if store.name:
        psql("DROP DATABASE IF EXISTS %s WITH (FORCE)" % store.name)
    subprocess.run(["rm", "-rf", store.data_dir], check=False)
    return r


def report(rows):
    out = ["| backend | stored | fill (API POSTs/s) | database MB | cached metrics req/s | p99 ms "
           "| uncached metrics p50 ms | p99 ms | CSV export rows/s | ingest c64 req/s | p50 ms | p99 ms "
           "| surveyd CPU µs/POST | peak RSS MB | every 201 stored once | verify |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        name = "SQLite" if r["backend"] == "sqlite" else "PostgreSQL, %d instance%s" % (
            r["instances"], "s" if r["instances"] > 1 else "")
        mc, mp, ex, ing = r["metrics_cached"], r["metrics_plain"], r["export"], r["ingest"]
        out.append("| %s | %s | %s | %.1f | %s | %.2f | %.2f | %.2f | %s | %s | %.2f | %.2f | %.0f | %.1f | %s | %s |" % (
            name, B.label(r["n"]), B.fmt(r["fill_rps"]), r["size_mb"], B.fmt(mc["rps"]), mc["p99_ms"],
            mp["p50_ms"], mp["p99_ms"], B.fmt(ex["rows_per_s"]), B.fmt(ing["rps"]), ing["p50_ms"], ing["p99_ms"],
            ing["server_cpu_us_per_req"], ing["peak_rss_mb"], "yes" if r["checks"]["ok"] else "NO",
            "consistent" if r["verify"]["exit"] == 0 else "exit %d" % r["verify"]["exit"]))
    return "\n".join(out)


def main():
    if not os.access(B.SURVEYD, os.X_OK):
        raise SystemExit("backends: %s is missing: run tests/bench/run.sh" % B.SURVEYD)
    os.makedirs(B.DATA, exist_ok=True)
    os.makedirs(B.OUT, exist_ok=True)
    info = B.machine()
    B.log("machine: %r" % info)
    rows = []
    base = os.path.join(B.OUT, B.RUN_TAG + "-backends")
    for n in B.SIZES:
        for backend, instances in configurations():
            rows.append(run_configuration(backend, instances, n))
            # Written after every configuration: a long run stopped early keeps what it measured.
            text = ("Backends side by side (tests/bench/backends.py), %s, %d cores, commit %s; load average "
                    "after: %s\n\n%s\n" % (info.get("cpu"), info.get("nproc"), info.get("commit"), B.loadavg(),
                                             report(rows)))
            if B.results["problems"]:
                text += "\nProblems seen: " + "; ".join(B.results["problems"]) + "\n"
            with open(base + ".json", "w") as f:
                json.dump({"machine": info, "rows": rows, "runs": B.results["runs"]}, f, indent=1, default=str)
            with open(base + ".md", "w") as f:
                f.write(text)
    print(text)
    B.log("results in %s.md / .json" % base)


if __name__ == "__main__":
    main()
