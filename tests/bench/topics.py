#!/usr/bin/env python3
"""Topics at scale (issue 18; docs/search.md "Topics"). Figures go in the helper's report, not in tests.

    python3 tests/bench/topics.py --surveyd build/server/surveyd [--count 200000] [--data-dir DIR]
                                  [--database URI]

1. Builds (or reuses) a data directory with generate.py --comment-share 60: COUNT responses over a
   year, 60% with a comment from generate.comment_vocabulary().
2. Back-fill: PUTs 5 topics one after the other and reports each PUT's wall time (it only records
   the topic) and the time until its back-fill (batches of SURVEYD_TOPIC_BACKFILL_BATCH through the
   writer) says done, read by polling GET .../topics/{topic}, with the tagged counts.
3. Metrics over the whole year: group_by=topic (every topic in one reply), topic=<each topic> and,
   for comparison, no topic; p50 / p99 / max over --requests requests each after 5 warm-ups.
4. Ingest: POSTs responses (60% with a comment, 16 threads, keep-alive) into two fresh data
   directories, one with the same 5 topics on its survey and one with none, for --seconds each,
   --rounds times alternately; responses/s and surveyd CPU ms per 1000 responses (medians).

Only the Python standard library, generate.py and search.py's helpers are used.
"""

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import generate  # noqa: E402
import search  # noqa: E402

TOPICS = {
    "refunds": "refund* OR \"money back\"",
    "delivery": "(late OR slow OR delayed) deliv*",
    "staff": "agent OR staff OR rude OR helpful",
    "price": "price* OR expensive OR cheap",
    "app": "app NOT apple",
}


def log(msg):
    print("topics-bench: " + msg, file=sys.stderr, flush=True)


def call(port, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3600)
    headers = {"Authorization": "Bearer " + search.TOKEN, "Content-Type": "application/json"}
    conn.request(method, path, json.dumps(body) if body is not None else None, headers)
    reply = conn.getresponse()
    data = reply.read()
    conn.close()
    if reply.status >= 300:
        raise SystemExit("topics-bench: %s %s -> %d %r" % (method, path, reply.status, data[:300]))
    return json.loads(data) if data else None


def put_topics(port):
    """Each topic made afresh (a reused data directory keeps last run's): its PUT back-fills."""
    out = {}
    for topic, query in TOPICS.items():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        conn.request("DELETE", "/v1/surveys/%s/topics/%s" % (generate.SURVEY, topic),
                     headers={"Authorization": "Bearer " + search.TOKEN})
        conn.getresponse().read()
        conn.close()
        t = time.perf_counter()
        call(port, "PUT", "/v1/surveys/%s/topics/%s" % (generate.SURVEY, topic), {"title": topic, "query": query})
        put_ms = (time.perf_counter() - t) * 1000
        while True:
            got = call(port, "GET", "/v1/surveys/%s/topics/%s" % (generate.SURVEY, topic))
            if got["backfill"]["state"] == "done":
                break
            time.sleep(0.05)  # a benchmark's poll, not a test's synchronisation
        out[topic] = {"put_ms": round(put_ms, 2), "done_seconds": round(time.perf_counter() - t, 2),
                      "tagged": got["responses"], "scanned": got["backfill"]["scanned"]}
        log("back-fill %s: %s" % (topic, out[topic]))
    return out


def timed_metrics(port, params, requests):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    headers = {"Authorization": "Bearer " + search.TOKEN}
    times = []
    for i in range(5 + requests):
        # A different (but equivalent) window each time: the reply cache must not answer.
        p = dict(params, to="2100-01-01T00:00:00.%03dZ" % (i % 1000))
        path = "/v1/surveys/%s/metrics?%s" % (generate.SURVEY, urllib.parse.urlencode(p))
        t = time.perf_counter()
        conn.request("GET", path, headers=headers)
        reply = conn.getresponse()
        body = reply.read()
        elapsed = (time.perf_counter() - t) * 1000
        if reply.status != 200:
            raise SystemExit("topics-bench: %s -> %d %r" % (path, reply.status, body[:300]))
        if i >= 5:
            times.append(elapsed)
    conn.close()
    return {"p50_ms": round(search.percentile(times, 50), 2), "p99_ms": round(search.percentile(times, 99), 2),
            "max_ms": round(max(times), 2), "responses": json.loads(body)["responses"]}


def ingest_dir(binary, kind):
    d = "/tmp/surveyd-topics-ingest-%s" % kind
    shutil.rmtree(d, ignore_errors=True)
    generate.create_schema(binary, d)
    if kind == "topics":
        server = search.Surveyd(binary, d)
        try:
            put_topics(server.port)
        finally:
            server.stop()
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--surveyd", default=os.path.join(generate.REPO, "build", "server", "surveyd"))
    ap.add_argument("--count", type=int, default=200000)
    ap.add_argument("--data-dir")
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-ingest", action="store_true", help="skip step 4")
    ap.add_argument("--database", help="a PostgreSQL database (a copy of the data directory made with surveyd migrate)"
                                       " to run steps 2 and 3 on; step 4 is then skipped: topics_ingest.py measures"
                                       " PostgreSQL's ingest")
    args = ap.parse_args()
    data_dir = args.data_dir or "/tmp/surveyd-topics-bench-%d" % args.count
    if not os.path.exists(os.path.join(data_dir, "bench-words.json")):
        log("generating %d responses into %s" % (args.count, data_dir))
        subprocess.run([sys.executable, os.path.join(HERE, "generate.py"), "--surveyd", args.surveyd,
                        "--data-dir", data_dir, "--count", str(args.count), "--comment-share", "60",
                        "--force", "--no-verify"], check=True)
    out = {"count": args.count, "backend": "postgresql" if args.database else "sqlite"}
    server = search.Surveyd(args.surveyd, data_dir, args.database)
    try:
        out["backfill"] = put_topics(server.port)
        year = {"from": "2000-01-01T00:00:00Z"}
        out["metrics_no_topic"] = timed_metrics(server.port, year, args.requests)
        out["metrics_group_by_topic"] = timed_metrics(server.port, dict(year, group_by="topic"), args.requests)
        log("group_by=topic: %s" % out["metrics_group_by_topic"])
        out["metrics_topic"] = {t: timed_metrics(server.port, dict(year, topic=t), args.requests) for t in TOPICS}
        log("metrics: %s" % out["metrics_topic"])
    finally:
        server.stop()

    if args.no_ingest or args.database:
        print(json.dumps(out, indent=1))
        return
    comments, _ = generate.comment_vocabulary()
    comments = comments[:20000]
    dirs = {kind: ingest_dir(args.surveyd, kind) for kind in ("topics", "none")}
    results = {"topics": [], "none": []}
    for r in range(args.rounds):
        for kind in ("none", "topics") if r % 2 else ("topics", "none"):
            got = search.ingest_once(args.surveyd, dirs[kind], comments, args.seconds, threads=16)
            results[kind].append(got)
            log("ingest round %d %s: %s" % (r, kind, got))
    med = {k: {m: statistics.median(x[m] for x in v) for m in ("per_s", "cpu_ms_per_1000")}
           for k, v in results.items()}
    out["ingest"] = {"rounds": results, "median": med,
                     "cpu_ratio": round(med["topics"]["cpu_ms_per_1000"] / med["none"]["cpu_ms_per_1000"], 3),
                     "loadavg": os.getloadavg()}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
