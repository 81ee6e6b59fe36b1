#!/usr/bin/env python3
"""What a terms request costs (README "Terms", docs/search.md "Terms").

Usage: SURVEYD_BIN=build/server/surveyd python3 tests/bench/terms.py [N]
       BENCH_POSTGRES=<URI of a maintenance database> ... the same on PostgreSQL

One survey (an nps question, a text question, a choice with write-ins), N responses (default
200,000) over 365 days, 60 % with a comment of 3-15 words drawn from a Zipf-like vocabulary of
5,000 words (English stop words among the most frequent), written straight into the store while the
daemon is stopped (the responses table only: terms read nothing else). Then, against one daemon,
each query is asked REQUESTS times with a different `limit` each time, so that no reply comes from
the cache: p50 and p99 per request, for the whole year (detractors, all), a 30-day window and a
window with edges inside days.

Ingest: terms add nothing to the write path (no index, no rollup: counts are made when asked), so
ingest cost with and without terms is the same binary; nothing to measure there."""

import csv
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
import harness  # noqa: E402
from harness import ADMIN_TOKEN, READ_TOKEN  # noqa: E402

DAY = 86400000
START_MS = 1735689600000  # 2025-01-01T00:00:00Z
REQUESTS = int(os.environ.get("REQUESTS", "30"))
DEFINITION = {"title": "terms", "questions": [
    {"id": "rec", "type": "nps"}, {"id": "why", "type": "text"},
    {"id": "pick", "type": "choice", "options": ["price", "speed"], "allow_other": True}]}
STOP = ["the", "and", "was", "to", "it", "a", "of", "for", "is", "my", "with", "not", "very", "but"]
QUERIES = [
    ("a year, detractors", "from=2025-01-01&to=2026-01-01"),
    ("a year, all", "from=2025-01-01&to=2026-01-01&segment=all"),
    ("30 days, detractors", "from=2025-06-01&to=2025-07-01"),
    ("edges inside days (~8.5 months)", "from=2025-03-01T10:30:00Z&to=2025-11-15T17:45:00Z"),
]


def vocabulary(rng):
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = set()
    while len(words) < 5000:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(3, 10))))
    return STOP + sorted(words)


def rows(n):
    rng = random.Random(18)
    vocab = vocabulary(rng)
    weights = [1.0 / (i + 1) for i in range(len(vocab))]
    for i in range(n):
        at = START_MS + rng.randrange(365 * DAY)
        answers = {"rec": rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 9, 10, 10, 8])}
        if rng.random() < 0.6:
            answers["why"] = " ".join(rng.choices(vocab, weights, k=rng.randint(3, 15)))
        if rng.random() < 0.05:
            answers["pick"] = {"other": " ".join(rng.choices(vocab, weights, k=3))}
        yield ("bench%021d" % i, at, json.dumps(answers, separators=(",", ":")))


def fill_sqlite(db_path, survey, n):
    import sqlite3
    db = sqlite3.connect(db_path)
    db.executemany("INSERT INTO responses (id, survey, submitted_at, received_at, answers) VALUES (?, ?, ?, ?, ?)",
                   ((rid, survey, at, at, answers) for rid, at, answers in rows(n)))
    db.commit()
    db.close()


def fill_postgres(uri, survey, n, root):
    path = os.path.join(root, "rows.csv")
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        for rid, at, answers in rows(n):
            w.writerow((rid, survey, at, at, answers))
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", uri, "-c",
                    "\\copy responses (id, survey, submitted_at, received_at, answers) FROM '%s' CSV" % path],
                   check=True)
    harness.psql("VACUUM ANALYZE responses", uri=uri, timeout=600)


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
    root = tempfile.mkdtemp(prefix="surveyd-bench-terms-")
    pg = os.environ.get("BENCH_POSTGRES")
    survey = "terms"
    database = name = None
    if pg:
        name = "bench_terms_%d" % os.getpid()
        harness.psql("CREATE DATABASE %s" % name, uri=pg)
        database = pg.replace("/postgres?", "/%s?" % name)
    d = harness.Daemon(data_dir=root, database=database)
    d.start()
    r = d.req("PUT", "/v1/surveys/" + survey, DEFINITION, token=ADMIN_TOKEN)
    assert r.status == 201, r.body[:300]
    d.stop()
    t0 = time.monotonic()
    if pg:
        fill_postgres(database, survey, n, root)
    else:
        fill_sqlite(d.db_path, survey, n)
    print("filled %d responses in %.1f s" % (n, time.monotonic() - t0), file=sys.stderr)
    d.start()
    print("| %s, %d responses over 365 days (60 %% with a comment) | p50 | p99 | max | responses with text |"
          % ("PostgreSQL" if pg else "SQLite", n))
    print("|---|---|---|---|---|")
    for label, query in QUERIES:
        times = []
        for i in range(REQUESTS):
            t0 = time.monotonic()
            r = d.req("GET", "/v1/surveys/%s/terms?%s&limit=%d" % (survey, query, 200 - i), token=READ_TOKEN)
            times.append((time.monotonic() - t0) * 1000)
            assert r.status == 200, r.body[:300]
        print("| %s, uncached | %.0f ms | %.0f ms | %.0f ms | %d |"
              % (label, statistics.median(times), pct(times, 99), max(times), r.json["all_responses"]))
    t0 = time.monotonic()
    r = d.req("GET", "/v1/surveys/%s/terms?%s&limit=%d" % (survey, QUERIES[0][1], 200), token=READ_TOKEN)
    print("| a year, detractors, cached | %.1f ms | | | |" % ((time.monotonic() - t0) * 1000))
    d.stop()
    d.cleanup()
    if pg:
        harness.psql("DROP DATABASE %s WITH (FORCE)" % name, uri=pg)
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
