#!/usr/bin/env python3
"""Writes N realistic survey responses straight into a surveyd data directory.

    python3 tests/bench/generate.py --surveyd build-bench/server/surveyd --data-dir DIR --count 10000000

1. Starts surveyd once on a free loopback port (so surveyd itself creates the schema and runs its
   migrations), PUTs the "support" survey definition through the API, and stops it with SIGTERM.
2. Opens surveyd.db directly (journal_mode=OFF, synchronous=OFF, a big page cache: the file is
   rebuilt from scratch if anything goes wrong, so no crash safety is needed) and inserts the
   responses with one INSERT ... SELECT per batch over a recursive CTE, random() for every draw,
   answers built with json_object(). The secondary indexes of `responses` are dropped first and
   re-created afterwards from their own stored CREATE INDEX text (a sort instead of 10 M random
   B-tree inserts); the UNIQUE index on the public id stays and is filled as rows go in.
3. Builds the rollups through the answer_facts view (see UPSERT_STATEMENTS: the writer's own
   upsert, over all rows at once, then coarser tables summed from finer ones: days, months, and
   hours in a second pass over the view), or with
   --rollups backfill exactly the INSERT ... SELECT ... FROM answer_facts GROUP BY statements of
   schema/002_rollups.sql's and 006_rollup_months_hours.sql's back-fill (read at run time): same result, several times
   slower at 10 M rows because SQLite's GROUP BY sorts every one of ~38 M answers. Then the
   secondary indexes of `responses` are re-created.
4. Puts the database back into WAL mode and runs `surveyd verify --data-dir DIR` (unless
   --no-verify), which must report the rollups consistent.

The data: responses spread evenly over the --days days before now (seq order = time order, as on
a live system), 6 channels with uneven shares, --agents agents (5% of responses without an agent:
self-service web), four agent quality tiers with different answer distributions, ~1/3 as many
customers as responses, one unique interaction per response that has an agent, properties on 70%.
Each question is skipped at a realistic rate (NPS 8%, CSAT 20%, CES 30%, ...).

Only the Python standard library is used.
"""

import argparse
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
ADMIN_TOKEN = "bench-admin-token"
SURVEY = "support"

DEFINITION = {
    "title": "Support follow-up",
    "public": True,
    "allowed_origins": ["https://www.example.com"],
    "questions": [
        {"id": "rec", "type": "nps", "text": "How likely are you to recommend us?", "required": False},
        {"id": "sat", "type": "csat", "scale": 5, "text": "How satisfied are you with the support?"},
        {"id": "easy", "type": "ces", "scale": 7, "text": "How easy was it to get your issue handled?"},
        {"id": "resolved", "type": "yes_no", "text": "Was it resolved on first contact?"},
        {"id": "expect", "type": "choice", "options": ["met", "exceeded", "fell short"], "allow_other": True},
        {"id": "comment", "type": "text", "max_length": 2000},
    ],
}


def sql_text(text):
    return "'" + text.replace("'", "''") + "'"


def weighted(draw, pairs, render=lambda v: v):
    """A CASE over `draw` (an integer 0..99 drawn once per row) picking each value with its percent
    chance; pairs [(value, percent), ...] sum to 100. render() turns a value into the SQL text."""
    assert sum(p for _, p in pairs) == 100, pairs
    parts, upto = [], 0
    for value, pct in pairs[:-1]:
        if pct == 0:
            continue
        upto += pct
        parts.append(f"WHEN {draw} < {upto} THEN {sql_text(render(value))}")
    return "CASE " + " ".join(parts) + f" ELSE {sql_text(render(pairs[-1][0]))} END"


def answer(question):
    """Renders an answer as the JSON member surveyd stores (cJSON_PrintUnformatted, definition order),
    with a leading comma; a skipped answer is no member at all."""
    def render(value):
        if value is None:
            return ""
        return "," + json.dumps(question) + ":" + json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return render


def nps(skip, weights):
    # weights for 0..10, summing to 100 - skip
    return [(None, skip)] + [(v, w) for v, w in enumerate(weights)]


# NPS and CSAT by agent tier: great, average, average, poor (tier = agent number % 4).
NPS_GREAT = nps(8, [1, 0, 1, 1, 1, 2, 3, 6, 12, 25, 40])
NPS_AVG = nps(8, [2, 1, 1, 2, 2, 4, 5, 9, 14, 22, 30])
NPS_POOR = nps(8, [5, 3, 4, 5, 5, 7, 8, 10, 12, 14, 19])
CSAT_GOOD = [(None, 20), (1, 2), (2, 3), (3, 8), (4, 25), (5, 42)]
CSAT_AVG = [(None, 20), (1, 4), (2, 6), (3, 12), (4, 24), (5, 34)]
CSAT_POOR = [(None, 20), (1, 9), (2, 10), (3, 15), (4, 21), (5, 25)]
CES = [(None, 30), (1, 2), (2, 3), (3, 5), (4, 7), (5, 12), (6, 19), (7, 22)]
YES_NO = [(None, 25), (True, 57), (False, 18)]
CHOICE = [(None, 60), ("met", 24), ("exceeded", 10), ("fell short", 5), ({"other": "did not expect anything"}, 1)]
COMMENTS = [(None, 80), ("Quick and friendly", 4), ("Thanks, all sorted", 3),
            ("Took too long to get an answer", 3), ("The agent knew the product well", 2),
            ("Had to explain my issue twice", 2), ("Great service, as always!", 2),
            ("Not resolved yet", 2), ("Friendly, but I am still waiting for the refund", 1),
            ("Very helpful \u2014 merci !", 1)]
CHANNELS = [("chat", 35), ("email", 25), ("phone", 15), ("web", 12), ("sms", 8), ("social", 5)]
PLANS = [("free", 50), ("pro", 35), ("enterprise", 15)]
REGIONS = [("eu", 40), ("us", 35), ("apac", 15), ("latam", 10)]

# --comment-share P: P% of responses get a comment drawn from bench_comments (comment_vocabulary()),
# instead of the fixed phrases above. Set by main() before insert_sql() runs.
COMMENT_SHARE = None
COMMENT_POOL = 200000


def comment_sql():
    if COMMENT_SHARE is None:
        return weighted("r_com", COMMENTS, answer("comment"))
    # r_text is drawn once per row in the CTE: random() inside the subquery's WHERE would be drawn
    # again for every row it scans.
    return (f"CASE WHEN r_com < {COMMENT_SHARE} THEN (SELECT member FROM bench_comments"
            f" WHERE i = r_text) ELSE '' END")


def comment_vocabulary(seed=18):
    """COMMENT_POOL comments of 4 to 30 words over a 20 000-word vocabulary whose ranks are drawn
    log-uniformly (Zipf's law, s = 1: the k-th word about 1/k as often as the first), a few real
    support words among the first ranks, and in 1% of them a word of their own (rare terms). Returns
    the comments and each word's comment count."""
    import math
    import random
    rng = random.Random(seed)
    syllables = ["ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "da", "ve", "zu", "fe", "gi", "bo", "ha",
                 "ju", "xe", "qu", "wa", "yo"]
    real = ["refund", "delivery", "waiting", "agent", "quick", "friendly", "late", "order", "money",
            "back", "helpful", "email", "phone", "slow", "great", "problem", "account", "password"]
    vocabulary, seen = list(real), set(real)
    while len(vocabulary) < 20000:
        word = "".join(rng.choice(syllables) for _ in range(rng.randrange(2, 5)))
        if word not in seen:
            seen.add(word)
            vocabulary.append(word)
    rng.shuffle(vocabulary[:200])
    log_v = math.log(len(vocabulary))
    comments, counts = [], {}
    for _ in range(COMMENT_POOL):
        words = [vocabulary[min(len(vocabulary) - 1, int(math.exp(rng.random() * log_v)) - 1)]
                 for _ in range(rng.randrange(4, 31))]
        if rng.random() < 0.01:  # a word of this comment only: about 30 responses at 10 M
            words.insert(rng.randrange(len(words)), "zq" + "".join(rng.choice("bcdfghjklmnpstvw") for _ in range(6)))
        for w in set(words):
            counts[w] = counts.get(w, 0) + 1
        words[0] = words[0].capitalize()
        comments.append(" ".join(words) + rng.choice([".", "!", "", " :("]))
    return comments, counts


# ag in 0..99999: below 5000 (5%) no agent (self-service); else agent 1..AGENTS, mildly skewed (the
# busiest agents take about three times the tickets of the quietest).
def insert_sql():
    """One INSERT ... SELECT per batch. Every random draw is made once per row in a materialized CTE
    (SQLite would otherwise re-evaluate random() at each reference), and the answers' JSON is
    concatenated from per-question fragments: several times cheaper than json_object()."""
    def tiered(question, great, avg, poor, draw):
        r = answer(question)
        return (f"CASE agent_no % 4 WHEN 0 THEN {weighted(draw, great, r)} WHEN 3 THEN {weighted(draw, poor, r)}"
                f" ELSE {weighted(draw, avg, r)} END")
    # The public id: 26 characters of surveyd's base32 alphabet. Its first 8 letters count up with
    # the row (base 26), the other 18 are random: the UNIQUE index on id is then filled in order
    # instead of by 10 M random B-tree inserts. (surveyd's own ids are random throughout.)
    id_prefix = "char(" + ", ".join(f"97 + (i / {26 ** k}) % 26" for k in range(7, -1, -1)) + ")"
    id_suffix = ("substr(replace(replace(replace(replace(lower(hex(randomblob(9))), '0', 'w'), '1', 'x'),"
                 " '8', 'y'), '9', 'z'), 1, 18)")
    return f"""
INSERT INTO responses (id, survey, submitted_at, received_at, channel, customer, agent, interaction,
                       answers, properties)
WITH RECURSIVE s(i) AS (SELECT :lo UNION ALL SELECT i + 1 FROM s WHERE i < :hi),
d AS MATERIALIZED (
    SELECT i,
           :t0 + i * :step + abs(random()) % :step AS t,
           abs(random()) % 100 AS r_ch,
           abs(random()) % 100000 AS ag,
           abs(random()) % 100 AS r_nps, abs(random()) % 100 AS r_sat, abs(random()) % 100 AS r_easy,
           abs(random()) % 100 AS r_res, abs(random()) % 100 AS r_exp, abs(random()) % 100 AS r_com,
           abs(random()) % 100 AS r_plan, abs(random()) % 100 AS r_region, abs(random()) % 100 AS r_prop,
           abs(random()) % :customers AS cust,
           abs(random()) % 3000 AS delay,
           abs(random()) % {COMMENT_POOL} AS r_text
    FROM s),
e AS (
    SELECT d.*, CASE WHEN ag < 5000 THEN NULL
                ELSE 1 + ((ag - 5000) * (ag + 90000) * :agents) / 18050000000 END AS agent_no
    FROM d),
f AS (
    SELECT e.*,
        {tiered("rec", NPS_GREAT, NPS_AVG, NPS_POOR, "r_nps")}
        || {tiered("sat", CSAT_GOOD, CSAT_AVG, CSAT_POOR, "r_sat")}
        || {weighted("r_easy", CES, answer("easy"))}
        || {weighted("r_res", YES_NO, answer("resolved"))}
        || {weighted("r_exp", CHOICE, answer("expect"))}
        || {comment_sql()} AS members
    FROM e)
SELECT
    {id_prefix} || {id_suffix},
    '{SURVEY}', t, t + delay,
    {weighted("r_ch", CHANNELS)},
    CASE WHEN cust % 33 = 0 THEN NULL ELSE 'cust-' || printf('%07d', cust) END,
    CASE WHEN agent_no IS NULL THEN NULL ELSE 'agent-' || printf('%03d', agent_no) END,
    CASE WHEN agent_no IS NULL THEN NULL ELSE 'tkt-' || printf('%09d', i) END,
    -- surveyd refuses a response without answers: the rare row that skipped everything answers NPS.
    '{{' || coalesce(substr(nullif(members, ''), 2), '"rec":10') || '}}',
    CASE WHEN r_prop < 70 THEN '{{"plan":"' || {weighted("r_plan", PLANS)} || '","region":"'
                               || {weighted("r_region", REGIONS)} || '"}}' END
FROM f
"""


def log(msg):
    print(f"generate: {msg}", file=sys.stderr, flush=True)


def create_schema(surveyd, data_dir):
    """surveyd creates its database and applies its migrations; the definition goes in by PUT."""
    env = dict(os.environ, SURVEYD_ADMIN_TOKENS=ADMIN_TOKEN, SURVEYD_RATE_LIMIT="0")
    for name in ("SURVEYD_DATA_DIR", "SURVEYD_LISTEN", "SURVEYD_RETENTION_DAYS"):
        env.pop(name, None)
    proc = subprocess.Popen([surveyd, "--listen", "127.0.0.1:0", "--data-dir", data_dir],
                            env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    port = None
    seen = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line.decode(errors="replace"))
        m = re.search(rb"listening on 127\.0\.0\.1:(\d+)", line)
        if m:
            port = int(m.group(1))
            break
    if port is None:
        proc.kill()
        raise SystemExit("generate: surveyd did not start:\n" + "".join(seen))
    try:
        req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/surveys/{SURVEY}", method="PUT",
                                     data=json.dumps(DEFINITION).encode(),
                                     headers={"Authorization": f"Bearer {ADMIN_TOKEN}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as reply:
            if reply.status not in (200, 201):
                raise SystemExit(f"generate: PUT survey answered {reply.status}")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.stderr.read()
        if proc.wait(timeout=60) != 0:
            raise SystemExit(f"generate: surveyd exited with {proc.returncode}")


# The rollups, built fast (--rollups upsert, the default): one pass over the answer_facts view (the
# one definition of which bucket an answer counts in) upserting into the finest rollup, the way
# surveyd's writer maintains it live (INSERT ... SELECT ... FROM answer_facts ... ON CONFLICT DO
# UPDATE SET count = count + excluded.count), then the coarser tables summed from the finer ones.
# No sort: SQLite's GROUP BY sorts every fact (~38 M at 10 M responses), which is what makes the
# back-fill statements slow at this size. `surveyd verify` then recomputes everything with GROUP BY.
UPSERT_STATEMENTS = [
    "INSERT INTO rollup_answers_agent (survey, agent, day, channel, question, value, count)"
    " SELECT survey, agent, day, channel, question, value, 1 FROM answer_facts WHERE true"
    " ON CONFLICT DO UPDATE SET count = count + excluded.count",
    "INSERT INTO rollup_answers (survey, day, channel, question, value, count)"
    " SELECT survey, day, channel, question, value, count FROM rollup_answers_agent WHERE true"
    " ON CONFLICT DO UPDATE SET count = count + excluded.count",
    "INSERT INTO answered_questions (survey, question, answers)"
    " SELECT survey, question, sum(count) FROM rollup_answers GROUP BY 1, 2",
    "INSERT INTO rollup_responses_agent (survey, agent, day, channel, count)"
    " SELECT survey, coalesce(agent, ''), submitted_at / 86400000, coalesce(channel, ''), 1 FROM responses"
    " WHERE true ON CONFLICT DO UPDATE SET count = count + excluded.count",
    "INSERT INTO rollup_responses (survey, day, channel, count)"
    " SELECT survey, day, channel, count FROM rollup_responses_agent WHERE true"
    " ON CONFLICT DO UPDATE SET count = count + excluded.count",
] + [
    # schema/006: months summed from the day tables, hours in one more pass over the view.
    f"INSERT INTO rollup_{t}_month (survey, {k}month, channel, {c}count)"
    f" SELECT survey, {k}unixepoch(day * 86400, 'unixepoch', 'start of month') / 86400, channel, {c}count"
    f" FROM rollup_{t} WHERE true ON CONFLICT DO UPDATE SET count = count + excluded.count"
    for t, k, c in (("answers", "", "question, value, "), ("responses", "", ""))
] + [
    "INSERT INTO rollup_answers_hour (survey, hour, channel, question, value, count)"
    " SELECT survey, submitted_at / 3600000, channel, question, value, 1 FROM answer_facts WHERE true"
    " ON CONFLICT DO UPDATE SET count = count + excluded.count",
    "INSERT INTO rollup_responses_hour (survey, hour, channel, count)"
    " SELECT survey, submitted_at / 3600000, coalesce(channel, ''), 1 FROM responses WHERE true"
    " ON CONFLICT DO UPDATE SET count = count + excluded.count",
]


def backfill_statements():
    """--rollups backfill: the back-fill statements of schema/002_rollups.sql verbatim (read from the
    file), plus answered_questions the way `surveyd verify` recomputes it. Same result, slower."""
    with open(os.path.join(REPO, "schema", "002_rollups.sql"), encoding="utf-8") as f:
        text = f.read()
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    statements = [s.strip() for s in text.split(";") if s.strip().upper().startswith("INSERT INTO ROLLUP_")]
    if len(statements) != 4:
        raise SystemExit(f"generate: expected 4 rollup back-fill statements in 002_rollups.sql, found {len(statements)}")
    # schema/006's back-fill verbatim too: months from the day tables just built, hours from the view.
    with open(os.path.join(REPO, "schema", "006_rollup_months_hours.sql"), encoding="utf-8") as f:
        text = "\n".join(line for line in f.read().splitlines() if not line.lstrip().startswith("--"))
    statements += [s.strip() for s in text.split(";") if s.strip().upper().startswith("INSERT INTO ROLLUP_")]
    statements.append("INSERT INTO answered_questions (survey, question, answers)"
                      " SELECT survey, question, count(*) FROM answer_facts GROUP BY 1, 2")
    return statements


def generate(db_path, count, days, agents, batch, rollups):
    db = sqlite3.connect(db_path, isolation_level=None)
    db.executescript("""
        PRAGMA locking_mode = EXCLUSIVE;
        PRAGMA journal_mode = OFF;
        PRAGMA synchronous = OFF;
        PRAGMA cache_size = -1048576;
        PRAGMA temp_store = FILE;
        PRAGMA threads = 4;
    """)
    existing = db.execute("SELECT count(*) FROM responses").fetchone()[0]
    if existing:
        raise SystemExit(f"generate: {db_path} already holds {existing} responses")

    indexes = db.execute("SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'responses'"
                         " AND sql IS NOT NULL").fetchall()
    for name, _ in indexes:
        db.execute(f'DROP INDEX "{name}"')
    # The full-text index (schema 012) is built once at the end ('rebuild' over its content view),
    # not through its triggers row by row.
    triggers = db.execute("SELECT name, sql FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = 'responses'"
                          " AND name LIKE 'responses_text_%'").fetchall()
    for name, _ in triggers:
        db.execute(f'DROP TRIGGER "{name}"')
    if COMMENT_SHARE is not None:
        comments, counts = comment_vocabulary()
        db.execute("CREATE TEMP TABLE bench_comments (i INTEGER PRIMARY KEY, member TEXT NOT NULL)")
        db.executemany("INSERT INTO bench_comments VALUES (?, ?)",
                       ((i, answer("comment")(c)) for i, c in enumerate(comments)))
        words = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        with open(os.path.join(os.path.dirname(db_path), "bench-words.json"), "w") as f:
            json.dump({"common": words[0][0], "common_comments": words[0][1],
                       "rare": [w for w, c in words if c == 1][:400], "pool": COMMENT_POOL,
                       "share": COMMENT_SHARE}, f)

    now_ms = int(time.time() * 1000)
    span_ms = days * 86400000
    step = max(1, span_ms // max(count, 1))
    t0 = now_ms - span_ms
    params = {
        "t0": t0, "step": step, "agents": agents, "customers": max(1, count // 3),
    }
    sql = insert_sql()
    started = time.monotonic()
    lo = 0
    while lo < count:
        hi = min(count, lo + batch) - 1
        db.execute("BEGIN")
        db.execute(sql, dict(params, lo=lo, hi=hi))
        db.execute("COMMIT")
        lo = hi + 1
        log(f"{lo} responses inserted ({time.monotonic() - started:.1f} s, cpu {time.process_time():.1f} s)")
    t_rows = time.monotonic() - started

    t = time.monotonic()
    db.execute("BEGIN")
    for table in ("rollup_answers", "rollup_answers_agent", "rollup_responses", "rollup_responses_agent",
                  "answered_questions", "rollup_answers_month", "rollup_responses_month",
                  "rollup_answers_hour", "rollup_responses_hour"):
        db.execute(f"DELETE FROM {table}")
    for sql in (UPSERT_STATEMENTS if rollups == "upsert" else backfill_statements()):
        t1 = time.monotonic()
        db.execute(sql)
        log(f"{sql.split('(')[0].strip()}: {time.monotonic() - t1:.1f} s (cpu {time.process_time():.1f} s)")
    db.execute("COMMIT")
    t_rollups = time.monotonic() - t

    t = time.monotonic()
    db.execute("BEGIN")
    for name, sql in indexes:
        db.execute(sql)
    db.execute("COMMIT")
    t_index = time.monotonic() - t
    log(f"re-created {len(indexes)} indexes ({t_index:.1f} s, cpu {time.process_time():.1f} s)")
    if triggers:
        t = time.monotonic()
        db.execute("BEGIN")
        # FTS5's 'rebuild' can't read a view; this is what migration 012 does for stored responses.
        db.execute("INSERT INTO response_text_index (rowid, body)"
                   " SELECT seq, body FROM response_documents WHERE body IS NOT NULL")
        for name, sql in triggers:
            db.execute(sql)
        db.execute("COMMIT")
        t_text = time.monotonic() - t
        t_index += t_text
        log(f"built the full-text index ({t_text:.1f} s, cpu {time.process_time():.1f} s)")

    db.execute("PRAGMA locking_mode = NORMAL")
    db.execute("PRAGMA journal_mode = WAL")
    db.close()
    return t_rows, t_index, t_rollups


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--surveyd", default=os.path.join(REPO, "build-bench", "server", "surveyd"))
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--count", type=int, required=True, help="responses to write")
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--agents", type=int, default=200)
    ap.add_argument("--batch", type=int, default=1000000, help="rows per INSERT ... SELECT")
    ap.add_argument("--rollups", choices=("upsert", "backfill"), default="upsert",
                    help="how to build the rollups: upsert (fast, default) or 002_rollups.sql's GROUP BY back-fill")
    ap.add_argument("--comment-share", type=int, default=None, metavar="PERCENT",
                    help="give PERCENT%% of responses a comment from a Zipf vocabulary (tests/bench/search.py);"
                         " default: 20%% from a few fixed phrases")
    ap.add_argument("--force", action="store_true", help="delete DATA_DIR first if it exists")
    ap.add_argument("--no-verify", action="store_true", help="skip `surveyd verify`")
    args = ap.parse_args()
    global COMMENT_SHARE
    COMMENT_SHARE = args.comment_share

    if os.path.exists(args.data_dir):
        if not args.force:
            raise SystemExit(f"generate: {args.data_dir} exists (use --force to replace it)")
        shutil.rmtree(args.data_dir)
    started = time.monotonic()
    create_schema(args.surveyd, args.data_dir)
    t_schema = time.monotonic() - started
    db_path = os.path.join(args.data_dir, "surveyd.db")
    t_rows, t_index, t_rollups = generate(db_path, args.count, args.days, args.agents, args.batch, args.rollups)
    total = time.monotonic() - started
    size = sum(os.path.getsize(os.path.join(args.data_dir, f)) for f in os.listdir(args.data_dir))
    summary = {"count": args.count, "seconds": round(total, 1), "schema_s": round(t_schema, 1),
               "rows_s": round(t_rows, 1), "indexes_s": round(t_index, 1), "rollups_s": round(t_rollups, 1),
               "bytes": size}

    if not args.no_verify:
        t = time.monotonic()
        verify = subprocess.run([args.surveyd, "verify", "--data-dir", args.data_dir],
                                capture_output=True, text=True)
        summary["verify_s"] = round(time.monotonic() - t, 1)
        out = (verify.stdout + verify.stderr).strip()
        summary["verify"] = out.splitlines()[-1] if out else ""
        if verify.returncode != 0:
            print(out[-4000:], file=sys.stderr)
            print(json.dumps(summary))
            raise SystemExit(f"generate: surveyd verify failed (exit {verify.returncode})")
    log(f"done: {json.dumps(summary)}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
