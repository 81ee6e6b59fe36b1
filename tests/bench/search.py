#!/usr/bin/env python3
"""Full-text search at scale (issue 18; figures in docs/benchmarks.md "Search").

    python3 tests/bench/search.py query  --surveyd build/server/surveyd --count 10000000 [--data-dir DIR]
                                         [--database postgresql://...]
    python3 tests/bench/search.py ingest --surveyd build/server/surveyd [--seconds 20] [--rounds 3]

query   builds (or reuses) a data directory with generate.py --comment-share 60: COUNT responses over
        a year, 60% with a comment drawn from a Zipf vocabulary (generate.comment_vocabulary), then
        times q= listings one at a time on a keep-alive connection (after 10 untimed warm-ups):
        a rare term (a word of one pooled comment, ~COUNT/330 000 responses) and the most common
        word, newest first with limit=100, and both with sort=relevance; p50, p99 and max over
        --requests requests each (p99 needs at least 100). It also times the migration that indexes
        an existing database (schema 011 -> 012) on a copy when --migration is given.
        With --database URI (an empty PostgreSQL database), the data directory is copied there
        with `surveyd migrate` first (timed: the copy fills the text index), the queries run
        against it, and --migration times the index's build at open (text_answers emptied and
        text_index_settings reset, as a database from before schema 7 is).
ingest  POSTs responses (60% with a comment from the same vocabulary, 64 threads, keep-alive) into
        two fresh data directories alternately, one as surveyd makes it and one without the text
        index's triggers (nothing indexed, the rest identical), for --seconds each, --rounds times;
        reports responses/s and surveyd CPU seconds per 1000 responses, and their ratios.

Only the Python standard library and generate.py are used.
"""

import argparse
import http.client
import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import generate  # noqa: E402

TOKEN = generate.ADMIN_TOKEN
TEXT_TRIGGERS = ("responses_text_insert", "responses_text_update_old", "responses_text_update_new",
                 "responses_text_delete")


def log(msg):
    print("search-bench: " + msg, file=sys.stderr, flush=True)


def psql(uri, sql):
    p = subprocess.run(["psql", "-X", "-tA", "-v", "ON_ERROR_STOP=1", "-d", uri, "-c", sql],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
    return p.stdout.decode().strip()


class Surveyd:
    def __init__(self, binary, data_dir, database=None):
        env = dict(os.environ, SURVEYD_ADMIN_TOKENS=TOKEN, SURVEYD_RATE_LIMIT="0")
        for name in ("SURVEYD_DATA_DIR", "SURVEYD_LISTEN", "SURVEYD_RETENTION_DAYS"):
            env.pop(name, None)
        self.started = time.monotonic()
        extra = ["--database", database] if database else []
        self.proc = subprocess.Popen([binary, "--listen", "127.0.0.1:0", "--data-dir", data_dir] + extra,
                                     env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
        self.port = None
        for line in self.proc.stderr:
            m = re.search(rb"listening on 127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
        if self.port is None:
            raise SystemExit("search-bench: surveyd did not start")
        self.ready_s = time.monotonic() - self.started
        threading.Thread(target=lambda: [None for _ in self.proc.stderr], daemon=True).start()

    def cpu_s(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=300)


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def timed_queries(port, params, requests):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    path = "/v1/surveys/%s/responses?%s" % (generate.SURVEY, urllib.parse.urlencode(params))
    headers = {"Authorization": "Bearer " + TOKEN}
    times, rows = [], None
    for i in range(10 + requests):
        t = time.perf_counter()
        conn.request("GET", path, headers=headers)
        reply = conn.getresponse()
        body = reply.read()
        elapsed = (time.perf_counter() - t) * 1000
        if reply.status != 200:
            raise SystemExit("search-bench: %s -> %d %r" % (path, reply.status, body[:300]))
        if i >= 10:
            times.append(elapsed)
        rows = len(json.loads(body)["responses"])
    conn.close()
    return {"p50_ms": round(percentile(times, 50), 2), "p99_ms": round(percentile(times, 99), 2),
            "max_ms": round(max(times), 2), "requests": len(times), "rows": rows}


def count_matches(db_path, word, database=None):
    if database:
        return int(psql(database, "SELECT count(*) FROM text_answers WHERE tsv @@ $$'%s'$$::tsquery" % word))
    db = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True)
    n = db.execute("SELECT count(*) FROM response_text_index WHERE response_text_index MATCH ?",
                   ('"%s"' % word,)).fetchone()[0]
    db.close()
    return n


def run_query(args):
    data_dir = args.data_dir or "/tmp/surveyd-search-bench-%d" % args.count
    words_path = os.path.join(data_dir, "bench-words.json")
    if not os.path.exists(words_path):
        log("generating %d responses into %s" % (args.count, data_dir))
        subprocess.run([sys.executable, os.path.join(HERE, "generate.py"), "--surveyd", args.surveyd,
                        "--data-dir", data_dir, "--count", str(args.count), "--comment-share", "60",
                        "--force", "--no-verify"], check=True)
    with open(words_path) as f:
        words = json.load(f)
    db_path = os.path.join(data_dir, "surveyd.db")
    pg = args.database
    migrate_s = None  # reused: a database a previous run filled
    if pg and psql(pg, "SELECT to_regclass('responses') IS NULL") == "t":
        t = time.monotonic()
        subprocess.run([args.surveyd, "migrate", "--from", data_dir, "--to", pg], check=True,
                       stdout=subprocess.DEVNULL)
        migrate_s = round(time.monotonic() - t, 1)
        log("migrated to PostgreSQL in %.1f s" % migrate_s)
    count = lambda w: count_matches(db_path, w, pg)
    # The first of the pool's one-comment words that some response drew (at 10 M, all of them ~30 times).
    rare = next((w for w in words["rare"] if count(w) > 0), words["rare"][0])
    out = {"count": args.count, "backend": "postgresql" if pg else "sqlite", "rare": rare,
           "rare_matches": count(rare), "common": words["common"], "common_matches": count(words["common"])}
    if pg:
        out["migrate_s"] = migrate_s
    # Words around the two plans' turning point (8 000 matches at any size; at 10 M responses about
    # 15 000 and 40 000 matches: both walked), from the generator's own vocabulary.
    _, counts = generate.comment_vocabulary()
    pool_share = args.count * words["share"] / 100 / words["pool"]
    def word_near(matches):
        return min((w for w in counts if w.isalpha()), key=lambda w: (abs(counts[w] * pool_share - matches), w))
    mid_low, mid_high = word_near(15000), word_near(40000)
    out.update({"mid_low": mid_low, "mid_low_matches": count(mid_low),
                "mid_high": mid_high, "mid_high_matches": count(mid_high)})
    server = Surveyd(args.surveyd, data_dir, pg)
    try:
        year = {"from": "2000-01-01"}
        for name, params in (("rare_newest", dict(year, q=rare, limit=100)),
                             ("mid_low_newest", dict(year, q=mid_low, limit=100)),
                             ("mid_high_newest", dict(year, q=mid_high, limit=100)),
                             ("common_newest", dict(year, q=words["common"], limit=100)),
                             ("rare_relevance", dict(year, q=rare, limit=100, sort="relevance")),
                             ("common_relevance", dict(year, q=words["common"], limit=100, sort="relevance")),
                             ("phrase_newest", dict(year, q='"%s %s"' % (words["common"], "delivery"), limit=100)),
                             ("no_q_newest", dict(year, limit=100))):
            requests = args.requests if "relevance" not in name or name.startswith("rare") else max(20, args.requests // 10)
            out[name] = timed_queries(server.port, params, requests)
            log("%s: %s" % (name, out[name]))
    finally:
        server.stop()
    if args.migration and pg:
        for sql in ("DELETE FROM text_answers", "UPDATE text_index_settings SET language = NULL", "VACUUM text_answers"):
            psql(pg, sql)
        server = Surveyd(args.surveyd, data_dir, pg)
        out["build_at_open_s"] = round(server.ready_s, 1)
        server.stop()
    elif args.migration:
        copy = data_dir + "-migration"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(data_dir, copy)
        db = sqlite3.connect(os.path.join(copy, "surveyd.db"))
        for sql in ("DROP TRIGGER responses_text_insert", "DROP TRIGGER responses_text_update_old",
                    "DROP TRIGGER responses_text_update_new", "DROP TRIGGER responses_text_delete",
                    "DROP TABLE response_text_index", "DROP TABLE text_pending", "DROP VIEW response_documents",
                    "DROP TABLE text_index_settings", "PRAGMA user_version = 11"):
            db.execute(sql)
        db.commit()
        db.execute("VACUUM")
        db.close()
        server = Surveyd(args.surveyd, copy)
        out["migration_012_s"] = round(server.ready_s, 1)
        server.stop()
        shutil.rmtree(copy, ignore_errors=True)
    print(json.dumps(out))


# ---- ingest ----

def poster(port, comments, stop, counts, index, seed):
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"}
    n = 0
    while not stop.is_set():
        answers = {"rec": rng.randrange(11)}
        if rng.random() < 0.6:
            answers["comment"] = rng.choice(comments)
        conn.request("POST", "/v1/surveys/%s/responses" % generate.SURVEY,
                     json.dumps({"answers": answers, "channel": "chat"}), headers)
        reply = conn.getresponse()
        reply.read()
        if reply.status != 201:
            raise SystemExit("search-bench: POST -> %d" % reply.status)
        n += 1
    counts[index] = n
    conn.close()


def ingest_once(binary, data_dir, comments, seconds, threads=64):
    server = Surveyd(binary, data_dir)
    try:
        cpu0 = server.cpu_s()
        stop, counts = threading.Event(), [0] * threads
        workers = [threading.Thread(target=poster, args=(server.port, comments, stop, counts, i, i))
                   for i in range(threads)]
        t0 = time.monotonic()
        for w in workers:
            w.start()
        time.sleep(seconds)  # the measuring window itself, not a synchronisation
        stop.set()
        for w in workers:
            w.join()
        elapsed = time.monotonic() - t0
        cpu = server.cpu_s() - cpu0
    finally:
        server.stop()
    total = sum(counts)
    return {"per_s": round(total / elapsed), "cpu_ms_per_1000": round(cpu * 1e6 / max(total, 1), 1)}


def run_ingest(args):
    comments, _ = generate.comment_vocabulary()
    comments = comments[:20000]
    dirs = {}
    for kind in ("indexed", "unindexed"):
        d = "/tmp/surveyd-search-ingest-%s" % kind
        shutil.rmtree(d, ignore_errors=True)
        generate.create_schema(args.surveyd, d)
        if kind == "unindexed":
            db = sqlite3.connect(os.path.join(d, "surveyd.db"))
            for name in TEXT_TRIGGERS:
                db.execute("DROP TRIGGER %s" % name)
            db.commit()
            db.close()
        dirs[kind] = d
    results = {"indexed": [], "unindexed": []}
    for r in range(args.rounds):
        for kind in ("unindexed", "indexed") if r % 2 else ("indexed", "unindexed"):
            got = ingest_once(args.surveyd, dirs[kind], comments, args.seconds)
            results[kind].append(got)
            log("round %d %s: %s" % (r, kind, got))
    med = {k: {m: sorted(x[m] for x in v)[len(v) // 2] for m in ("per_s", "cpu_ms_per_1000")}
           for k, v in results.items()}
    out = {"rounds": results, "median": med,
           "throughput_ratio": round(med["indexed"]["per_s"] / med["unindexed"]["per_s"], 3),
           "cpu_ratio": round(med["indexed"]["cpu_ms_per_1000"] / med["unindexed"]["cpu_ms_per_1000"], 3),
           "loadavg": os.getloadavg()}
    print(json.dumps(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=("query", "ingest"))
    ap.add_argument("--surveyd", default=os.path.join(generate.REPO, "build", "server", "surveyd"))
    ap.add_argument("--count", type=int, default=200000)
    ap.add_argument("--data-dir")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--migration", action="store_true")
    ap.add_argument("--database", help="an empty PostgreSQL database to copy the data directory into (query)")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    (run_query if args.mode == "query" else run_ingest)(args)


if __name__ == "__main__":
    main()
