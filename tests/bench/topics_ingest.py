#!/usr/bin/env python3
"""What topics cost ingest, on either backend (issue 18; docs/benchmarks.md "Topics: ingest").

    python3 tests/bench/topics_ingest.py --surveyd build/server/surveyd [--database URI]
                                         [--seconds 10] [--rounds 3] [--conns 64]

Starts surveyd on a fresh store (a SQLite data directory, or with --database a fresh database on
that PostgreSQL server), PUTs generate.py's "support" survey, optionally the 5 topics of topics.py,
and POSTs responses with wrk and post.lua (20% carry a comment, some about a refund) for --seconds.
Alternates no topics / 5 topics --rounds times, each on a store of its own, and prints the medians
of responses/s and of surveyd's CPU per 1000 responses (utime + stime from /proc). Only loopback.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import generate  # noqa: E402

TOPICS = {
    "refunds": "refund* OR \"money back\"",
    "delivery": "(late OR slow OR delayed) deliv*",
    "staff": "agent OR staff OR rude OR helpful",
    "price": "price* OR expensive OR cheap",
    "app": "app NOT apple",
}
INGEST = "bench-ingest-token"


def log(msg):
    print("topics-ingest: " + msg, file=sys.stderr, flush=True)


def call(base, method, path, body):
    req = urllib.request.Request(base + path, json.dumps(body).encode(), method=method,
                                 headers={"Authorization": "Bearer " + generate.ADMIN_TOKEN,
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as reply:
        return reply.status


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fresh_database(uri, name):
    """The URI of a new, empty database NAME on uri's server (dropped first if it was left)."""
    for sql in ("DROP DATABASE IF EXISTS %s" % name, "CREATE DATABASE %s" % name):
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", uri, "-c", sql], check=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    # urlunsplit would drop the "//" of a URI without a host ("postgresql:///db?host=/socket").
    return re.sub(r"^(postgres(?:ql)?://[^/?]*)(/[^?]*)?", lambda m: m.group(1) + "/" + name, uri, count=1)


def one_run(args, with_topics, n):
    data_dir = tempfile.mkdtemp(prefix="surveyd-topics-ingest-")
    argv = [args.surveyd, "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir]
    if args.database:
        argv += ["--database", fresh_database(args.database, "surveyd_topics_ingest_%d" % n)]
    env = dict(os.environ, SURVEYD_ADMIN_TOKENS=generate.ADMIN_TOKEN, SURVEYD_INGEST_TOKENS=INGEST)
    # The log goes to a file: a pipe nobody reads would fill up and stall the daemon.
    log_path = os.path.join(data_dir, "surveyd.log")
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log_file)
    try:
        port = None
        deadline = time.monotonic() + 60
        while port is None and proc.poll() is None and time.monotonic() < deadline:
            with open(log_path) as f:
                m = re.search(r"listening on 127\.0\.0\.1:(\d+)", f.read())
            port = int(m.group(1)) if m else None
            time.sleep(0.05)
        if port is None:
            raise SystemExit("topics-ingest: surveyd did not start")
        base = "http://127.0.0.1:%d" % port
        call(base, "PUT", "/v1/surveys/" + generate.SURVEY, generate.DEFINITION)
        if with_topics:
            for topic, query in TOPICS.items():
                call(base, "PUT", "/v1/surveys/%s/topics/%s" % (generate.SURVEY, topic),
                     {"title": topic, "query": query})
        cpu0 = cpu_seconds(proc.pid)
        out = subprocess.run(["wrk", "-t4", "-c%d" % args.conns, "-d%ds" % args.seconds, "--timeout", "10s",
                              "-s", os.path.join(HERE, "post.lua"), base + "/"],
                             env=dict(os.environ, BENCH_TOKEN=INGEST, BENCH_RUN="ti%d_%d" % (os.getpid(), n)),
                             capture_output=True, text=True, timeout=args.seconds + 120).stdout
        cpu1 = cpu_seconds(proc.pid)
        m = re.search(r"^BENCH (\{.*\})$", out, re.M)
        if not m:
            raise SystemExit("topics-ingest: wrk failed:\n" + out)
        r = json.loads(m.group(1))
        created = r["s201"]
        return {"rps": r["rps"], "cpu_ms_per_1000": 1e6 * (cpu1 - cpu0) / max(1, created), "non2xx": r["non2xx"]}
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        shutil.rmtree(data_dir, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--surveyd", required=True)
    p.add_argument("--database", help="a PostgreSQL server URI: the runs use fresh databases on it")
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--conns", type=int, default=64)
    args = p.parse_args()
    runs = {False: [], True: []}
    n = 0
    for _ in range(args.rounds):
        for with_topics in (False, True):
            n += 1
            r = one_run(args, with_topics, n)
            runs[with_topics].append(r)
            log("%s: %.0f responses/s, %.1f ms CPU per 1000, non-2xx %d"
                % ("5 topics" if with_topics else "no topics", r["rps"], r["cpu_ms_per_1000"], r["non2xx"]))
    med = {k: {m: statistics.median(x[m] for x in v) for m in ("rps", "cpu_ms_per_1000")} for k, v in runs.items()}
    print(json.dumps({"backend": "postgresql" if args.database else "sqlite", "seconds": args.seconds,
                      "rounds": args.rounds, "conns": args.conns, "no_topics": med[False], "five_topics": med[True],
                      "cpu_ratio": round(med[True]["cpu_ms_per_1000"] / med[False]["cpu_ms_per_1000"], 3),
                      "throughput_ratio": round(med[True]["rps"] / med[False]["rps"], 3)}, indent=1))


if __name__ == "__main__":
    main()
