#!/usr/bin/env python3
"""Response rates before and after the invitation rollup (docs/benchmarks.md, "Invitations").

Usage: SURVEYD_BIN_BEFORE=<surveyd without invitation_days> SURVEYD_BIN=<surveyd with it> \\
       python3 tests/bench/invitation_rates.py [N]

One survey, N invitations (default 100,000) created over 365 days (3 channels, 20 agents, 70 %
sent, a third of those opened, half of the opened answered), written straight into a version 8
SQLite file (the schema before the rollup) while the daemon is stopped. Each binary then serves a
copy of that file; every measurement is the first request of a fresh daemon start, so no reply
comes from the metrics cache: the all-time reply, group_by=agent, and a window with partial days at
both edges. The "after" binary migrates the copy first (schema 009 back-fills the rollup): its
start is timed too. Prints a Markdown table (median and range of RUNS starts, ms).

With BENCH_POSTGRES=<URI of a maintenance database> the same on PostgreSQL: a database of its own
(schema version 2 made by the "before" binary, filled with the same kind of rows by one INSERT ...
SELECT from generate_series), then migrated to version 3 by the "after" binary."""

import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
import harness  # noqa: E402
from harness import ADMIN_TOKEN, READ_TOKEN  # noqa: E402

DAY = 86400000
START_MS = 1735689600000  # 2025-01-01T00:00:00Z
RUNS = int(os.environ.get("RUNS", "5"))
DEFINITION = {"title": "rates", "questions": [{"id": "nps", "type": "nps", "text": "Recommend us?"}]}
QUERIES = [
    ("all time", ""),
    ("group_by=agent", "?group_by=agent"),
    ("partial edge days", "?from=2025-03-01T10:30:00Z&to=2025-11-15T17:45:00Z"),
]


def fill(db_path, survey, n):
    rng = random.Random(7)
    rows = []
    for i in range(n):
        created = START_MS + rng.randrange(365 * DAY)
        outcome = 0 if rng.random() < 0.7 else rng.choice((1, 2))
        opened = responded = 0
        if outcome == 0 and rng.random() < 1 / 3:
            opened = created + 3600000
            if rng.random() < 0.5:
                responded = created + 7200000
        rows.append(("inv%07d" % i, survey, "cust%d" % rng.randrange(n // 3), rng.choice(("email", "sms", "web")),
                     "agent%02d" % rng.randrange(20), outcome,
                     os.urandom(32) if outcome == 0 else None, created, opened, responded))
    db = sqlite3.connect(db_path)
    db.executemany("INSERT INTO invitations (id, survey, customer, channel, agent, outcome, token_hash, created_at,"
                   " opened_at, responded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.commit()
    db.close()


def fill_postgres(uri, survey, n):
    harness.psql("INSERT INTO invitations (id, survey, customer, channel, agent, outcome, token_hash, created_at,"
                 " opened_at, responded_at)"
                 " SELECT 'inv' || i, '%s', 'cust' || (i %% %d), (ARRAY['email', 'sms', 'web'])[1 + i %% 3],"
                 " 'agent' || lpad((i * 7 %% 20)::text, 2, '0'), o, CASE WHEN o = 0 THEN sha256(i::text::bytea) END,"
                 " c, CASE WHEN o = 0 AND i %% 3 = 0 THEN c + 3600000 ELSE 0 END,"
                 " CASE WHEN o = 0 AND i %% 6 = 0 THEN c + 7200000 ELSE 0 END"
                 " FROM (SELECT i, CASE WHEN i %% 10 < 7 THEN 0 ELSE 1 + i %% 2 END AS o,"
                 " %d + (hashint8(i) %% %d + %d) %% %d AS c FROM generate_series(1, %d) AS i) AS g"
                 % (survey, max(n // 3, 1), START_MS, 365 * DAY, 365 * DAY, 365 * DAY, n), uri=uri, timeout=600)


def measure(binary, data_dir, survey, database=None):
    """Daemon start times and, per query, the reply times of RUNS fresh starts (ms)."""
    os.environ["SURVEYD_BIN"] = binary
    times = {name: [] for name, _ in QUERIES}
    starts = []
    for _ in range(RUNS):
        for name, query in QUERIES:
            d = harness.Daemon(data_dir=data_dir, database=database)
            t0 = time.monotonic()
            d.start()
            starts.append((time.monotonic() - t0) * 1000)
            t0 = time.monotonic()
            r = d.req("GET", "/v1/surveys/%s/metrics%s" % (survey, query), token=READ_TOKEN)
            times[name].append((time.monotonic() - t0) * 1000)
            assert r.status == 200, r.body[:300]
            assert r.json.get("invitations"), r.body[:300]
            d.stop()
    return starts, times


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    before, after = os.environ["SURVEYD_BIN_BEFORE"], os.environ["SURVEYD_BIN"]
    root = tempfile.mkdtemp(prefix="surveyd-bench-inv-")
    pg = os.environ.get("BENCH_POSTGRES")
    survey = "rates"
    os.environ["SURVEYD_BIN"] = before
    databases = {"before": None, "after": None}
    if pg:
        name = "bench_inv_%d" % os.getpid()
        harness.psql("CREATE DATABASE %s" % name, uri=pg)
        uri = pg.replace("/postgres?", "/%s?" % name)
        databases = {"before": uri, "after": uri}
    base = os.path.join(root, "before")
    os.makedirs(base)
    d = harness.Daemon(data_dir=base, database=databases["before"])
    d.start()
    r = d.req("PUT", "/v1/surveys/" + survey, DEFINITION, token=ADMIN_TOKEN)
    assert r.status == 201, r.body[:300]
    d.stop()
    if pg:
        fill_postgres(databases["before"], survey, n)
        harness.psql("VACUUM ANALYZE", uri=databases["before"], timeout=600)
    else:
        fill(d.db_path, survey, n)
    shutil.copytree(base, os.path.join(root, "after"))
    results = {}
    # On PostgreSQL one database serves both: "before" first, then "after" migrates it.
    for label, binary in (("before", before), ("after", after)):
        results[label] = measure(binary, os.path.join(root, label), survey, databases[label])
    if pg:
        harness.psql("DROP DATABASE %s WITH (FORCE)" % name, uri=pg)
    print("| %d invitations, 1 survey, 365 days | before (raw rows) | after (invitation_days) |" % n)
    print("|---|---|---|")
    for name, _ in QUERIES:
        cells = []
        for label in ("before", "after"):
            t = results[label][1][name]
            cells.append("%.0f ms (%.0f-%.0f)" % (statistics.median(t), min(t), max(t)))
        print("| %s, uncached | %s | %s |" % (name, cells[0], cells[1]))
    print("| daemon start (the first one's migration, back-fill included: %.0f ms) | %.0f ms | %.0f ms |"
          % (results["after"][0][0], statistics.median(results["before"][0]),
             statistics.median(results["after"][0][1:])))
    shutil.rmtree(root)


if __name__ == "__main__":
    main()
