"""`surveyd migrate --from DATA_DIR --to postgresql://...`: a SQLite store copied into PostgreSQL.

A SQLite store is filled through the real daemon's API (surveys of every question type, follow-ups
by ingest and edit tokens, a deleted response, an erased customer, a deleted survey, Idempotency-Key
records), copied while that daemon still serves, and a second daemon on the PostgreSQL copy must
then answer exactly as the first: every response (GET, listing, NDJSON and CSV export), customer
histories, metrics for windows with whole and partial days and every group_by, the overview. An
idempotent retry sent to the copy replays the original 201, an edit token issued by the SQLite
daemon still opens its response on the copy, and `surveyd verify` finds both stores consistent with
the same number of responses. A second migrate into the now non-empty target is refused (exit 2)
and changes nothing.

PostgreSQL suite only: SURVEYD_TEST_POSTGRES is a libpq URI of a maintenance database on which the
test may CREATE DATABASE its own (dropped at the end). Without it the test exits 77 (skipped).
"""

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unittest
import urllib.parse

from harness import ADMIN_TOKEN, INGEST_TOKEN, READ_TOKEN, Daemon, run_cli, sqlite_execute, uid

PG = os.environ.get("SURVEYD_TEST_POSTGRES")
SUMMARY_RE = re.compile(r"^migrate: copied (\d+) surveys, (\d+) responses, (\d+) idempotency records, "
                        r"(\d+) invitations, (\d+) webhooks, (\d+) webhook deliveries, (\d+) webhook events, "
                        r"(\d+) topics$", re.M)
VERIFY_RE = re.compile(r"verify: rollups consistent with (\d+) responses")
# Rows per target transaction in the copy: small, so that batch boundaries fall inside the surveys,
# the responses, the invitations and the idempotency records alike.
BATCH = "7"
INVITATIONS = 17
INVITATION_COLUMNS = ("id, survey, customer, channel, agent, interaction, properties, outcome, token_hash, form_key,"
                      " created_at, expires_at, opened_at, responded_at, response_id, automated_visits,"
                      " last_visit_at, last_visit_value, captured")
SECRET = "pw-never-printed-6f1c"
WEBHOOKS = 3
DELIVERIES = 16
FAR = 4102444800000  # 2100-01-01
WEBHOOK_COLUMNS = ("id, url, events, surveys, filter, format, secret, old_secret, old_secret_until, disabled_at,"
                   " disabled_reason, created_at, updated_at")
DELIVERY_COLUMNS = ("id, webhook, event_id, type, survey, subject, customer, payload, state, attempts, last_status,"
                    " last_error, created_at, window_start, next_attempt_at, lease_until, last_attempt_at,"
                    " delivered_at")

ALL_TYPES = {
    "title": "Every question type",
    "public": True,
    "questions": [
        {"id": "rec", "type": "nps", "required": True},
        {"id": "sat", "type": "csat", "scale": 5},
        {"id": "thumb", "type": "csat", "scale": 2},
        {"id": "easy", "type": "ces", "scale": 7},
        {"id": "resolved", "type": "yes_no"},
        # Options spelled like numbers: a text bucket must never meet the number 1 or the -1 of "other".
        {"id": "expect", "type": "choice", "options": ["met", "exceeded", "1", "-1"], "allow_other": True},
        {"id": "comment", "type": "text", "max_length": 500},
    ],
}

SIMPLE = {
    "title": "Simple",
    "questions": [
        {"id": "rec", "type": "nps"},
        {"id": "comment", "type": "text"},
    ],
}

CHANNELS = ["chat", "email", None, "web"]
AGENTS = ["alice", "bob", None, "carol \u00e9"]
CUSTOMERS = ["cust-alpha", "cust-beta", None, "cust-gamma"]


def database_uri(base, name):
    """The maintenance URI with its database replaced by name (host, user, options kept)."""
    parts = urllib.parse.urlsplit(base)
    query = "&".join(p for p in parts.query.split("&") if p and not p.startswith("dbname="))
    # Built by hand: urlunsplit drops the "//" of an empty host (postgresql:///db?host=/socket/dir).
    return "%s://%s/%s%s" % (parts.scheme, parts.netloc, name, "?" + query if query else "")


def with_secret(uri):
    return uri + ("&" if "?" in uri else "?") + "password=" + SECRET


def psql(sql):
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", PG, "-c", sql], check=True,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, timeout=60)


def stamp(day, hour, minute=0):
    return "2026-10-%02dT%02d:%02d:07.%03dZ" % (day, hour, minute, (day * 37 + hour * 11 + minute) % 1000)


# Saved queries over the comments and "other" write-ins (answers_for, and the follow-ups in fill).
TOPICS = {"slow": "slow OR late", "quoted": '"comment number" AND NOT later'}


def answers_for(i):
    """Deterministic answers that cover every bucket: other write-ins, numeric-looking options,
    csat good/bad, both yes/no values, empty and non-empty comments, skipped questions."""
    a = {"rec": i % 11}
    if i % 3:
        a["sat"] = 1 + i % 5
    if i % 4 != 1:
        a["thumb"] = ["bad", "good", 1, 2][i % 4]
    if i % 5:
        a["easy"] = 1 + i % 7
    if i % 2:
        a["resolved"] = i % 4 == 1
    choice = [None, "met", "exceeded", "1", "-1", {"other": "too slow \u2013 %d" % i}][i % 6]
    if choice is not None:
        a["expect"] = choice
    if i % 3 == 0:
        a["comment"] = "" if i % 9 == 0 else "comment number %d, \"quoted\"; =1+1" % i
    return a


class MigrateTest(unittest.TestCase):
    maxDiff = 8000

    @classmethod
    def setUpClass(cls):
        cls.dbname = "surveyd_migrate_%d" % os.getpid()
        psql('DROP DATABASE IF EXISTS "%s"' % cls.dbname)
        psql('CREATE DATABASE "%s"' % cls.dbname)
        cls.addClassCleanup(psql, 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % cls.dbname)
        cls.uri = database_uri(PG, cls.dbname)
        # The same with a password the server never asks for (trust): it must appear in no output.
        cls.secret_uri = with_secret(cls.uri)

        cls.src = Daemon()
        cls.addClassCleanup(cls.src.cleanup)
        cls.src.start()
        cls.fill()

        # Copied while the source daemon serves: migrate opens it read-only.
        cls.migrate = run_cli(["migrate", "--from", cls.src.data_dir, "--to", cls.secret_uri, "--batch", BATCH],
                              timeout=300)
        # Topics whose back-fill migrate left running (none: it tags in its own transaction), read
        # before a daemon on the copy could run it.
        cls.running_after_migrate = subprocess.run(
            ["psql", "-X", "-At", "-d", cls.uri, "-c", "SELECT count(*) FROM topics WHERE cursor_seq IS NOT NULL"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60).stdout.decode().strip()
        cls.dst = Daemon(extra_args=["--database", cls.uri])
        cls.addClassCleanup(cls.dst.cleanup)
        cls.dst.start()

    # -- filling the source ------------------------------------------------
    @classmethod
    def req(cls, daemon, method, path, body=None, token=ADMIN_TOKEN, headers=None, expect=None):
        r = daemon.req(method, path, body, token=token, headers=headers)
        if expect is not None and r.status != expect:
            raise AssertionError("%s %s -> %d %r" % (method, path, r.status, r.body[:500]))
        return r

    @classmethod
    def fill(cls):
        d = cls.src
        cls.full = uid("mig-all")
        cls.simple = uid("mig-simple")
        cls.gone = uid("mig-gone")
        for sid, definition in ((cls.full, ALL_TYPES), (cls.simple, SIMPLE), (cls.gone, SIMPLE)):
            cls.req(d, "PUT", "/v1/surveys/" + sid, definition, expect=201)
        # Replaced: updated_at differs from created_at, and a question added later.
        grown = dict(SIMPLE, title="Simple, grown", questions=SIMPLE["questions"] + [{"id": "extra", "type": "yes_no"}])
        cls.req(d, "PUT", "/v1/surveys/" + cls.simple, grown, expect=200)

        cls.ids = []
        for i in range(48):
            sid = cls.full if i % 4 else cls.simple
            body = {"answers": answers_for(i) if sid == cls.full else {"rec": i % 11, "extra": i % 2 == 0},
                    "submitted_at": stamp(1 + i % 28, (i * 5) % 24, (i * 13) % 60)}
            for key, values in (("channel", CHANNELS), ("agent", AGENTS), ("customer", CUSTOMERS)):
                if values[i % len(values)] is not None:
                    body[key] = values[i % len(values)]
            if i % 5 == 0:
                body["interaction"] = "ticket-%d" % i
            if i % 6 == 0:
                body["properties"] = {"plan": ["pro", "free"][i % 2], "region": "eu"}
            r = cls.req(d, "POST", "/v1/surveys/%s/responses" % sid, body, token=INGEST_TOKEN, expect=201)
            cls.ids.append(r.json["id"])
        for i in range(3):
            cls.req(d, "POST", "/v1/surveys/%s/responses" % cls.gone, {"answers": {"rec": i}}, token=INGEST_TOKEN,
                    expect=201)

        # An anonymous submission now (public survey): its edit token stays valid for the test.
        cls.anon_body = {"answers": {"rec": 9, "expect": "1"}, "channel": "web"}
        r = cls.req(d, "POST", "/v1/surveys/%s/responses" % cls.full, cls.anon_body, token=None, expect=201)
        cls.anon_id, cls.edit_token = r.json["id"], r.json["edit_token"]

        # Idempotency-Key records: a POST, and a PATCH follow-up.
        cls.idem_body = {"answers": {"rec": 10, "resolved": True}, "submitted_at": stamp(15, 12),
                         "channel": "chat", "customer": "cust-idem"}
        cls.idem_headers = {"Idempotency-Key": "migrate-retry-1"}
        r = cls.req(d, "POST", "/v1/surveys/%s/responses" % cls.full, cls.idem_body, token=INGEST_TOKEN,
                    headers=cls.idem_headers, expect=201)
        cls.idem_reply = r.json
        cls.req(d, "PATCH", "/v1/responses/" + cls.ids[6], {"answers": {"comment": "added later", "sat": None}},
                token=INGEST_TOKEN, headers={"Idempotency-Key": "migrate-patch-1"}, expect=200)
        # A follow-up with the edit token, a deleted response, an erased customer, a deleted survey.
        cls.req(d, "PATCH", "/v1/responses/" + cls.ids[2], {"answers": {"expect": {"other": "late"}}},
                token=INGEST_TOKEN, expect=200)
        cls.req(d, "DELETE", "/v1/responses/" + cls.ids[3], expect=204)
        cls.req(d, "DELETE", "/v1/customers/cust-beta", expect=200)
        cls.req(d, "DELETE", "/v1/surveys/" + cls.gone, expect=204)
        # Topics last, so that their back-fill progress (responses of the survey when made) is the
        # same on the copy, which tags its own responses when it stores each topic.
        for topic, query in TOPICS.items():
            cls.req(d, "PUT", "/v1/surveys/%s/topics/%s" % (cls.full, topic), {"title": topic.title(), "query": query},
                    token=ADMIN_TOKEN, expect=201)
        cls.invite()
        cls.hook()

    @classmethod
    def invite(cls):
        """Invitations of every kind, written into the serving source's file directly (making them
        is the invitations API's business; copying them is migrate's): sent ones with binary token
        hashes, suppressed ones without, opened, answered, visited, with and without every optional
        text."""
        db = sqlite3.connect(cls.src.db_path, timeout=30)
        try:
            for i in range(INVITATIONS):
                sent = i % 4 != 3
                created = 1791072000000 + i * 3600007  # from 2026-10-04, hours apart
                answered = sent and i % 3 == 0
                db.execute("INSERT INTO invitations (" + INVITATION_COLUMNS + ") VALUES"
                           " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (
                               "mig-inv-%02d" % i, cls.full if i % 3 else cls.simple, CUSTOMERS[i % 4] or "cust-x",
                               CHANNELS[i % 4], AGENTS[i % 4], "ticket-inv-%d" % i if i % 2 else None,
                               '{"plan":"pro","n":%d}' % i if i % 5 == 0 else None,
                               0 if sent else 1 + i % 2,
                               bytes((i * 37 + k * 11) % 256 for k in range(32)) if sent else None,
                               "fk-%d" % i if sent else None, created, created + 30 * 86400000 if sent else 0,
                               created + 60000 if sent and i % 2 else 0, created + 120000 if answered else 0,
                               cls.ids[i] if answered else None, i % 3 if sent else 0,
                               created + 90000 if sent and i % 2 else 0, "9 \u00e9" if sent and i % 2 else None,
                               '{"rec":"submit","comment":"interaction"}' if answered else None))
            db.commit()
        finally:
            db.close()

    @classmethod
    def hook(cls):
        """Webhook subscriptions (one mid-rotation, one disabled by a 410) and their outbox in every
        state, written into the serving source's file directly (making them is the webhooks API's
        business; copying them is migrate's). Inserted in an order their ids do not follow, so that
        the copy's seq order shows."""
        db = sqlite3.connect(cls.src.db_path, timeout=30)
        try:
            for i in range(WEBHOOKS):
                db.execute("INSERT INTO webhooks (" + WEBHOOK_COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                           " ?, ?)", (
                               "mig-hook-%d" % i, "https://hooks.example.com/%d?x=\u00e9" % i,
                               '["response.created","customer.erased"]', '["%s"]' % cls.full if i == 1 else None,
                               '{"question":"rec","max":6}' if i == 1 else None, "slack" if i == 2 else "standard",
                               "whsec_bWlncmF0ZS1zZWNyZXQtJWQ%d" % i, "whsec_b2xk" if i == 0 else None,
                               1791072000000 + 86400000 if i == 0 else 0, 1791072000000 if i == 2 else 0,
                               "gone" if i == 2 else None, 1791000000000 + i, 1791072000000 + i))
            for i in range(DELIVERIES):
                n = (i * 7) % DELIVERIES  # ids out of seq order
                state = i % 4  # pending, sending, delivered, dead
                # In 2099: the daemons' senders prune delivered and dead deliveries older than
                # --webhook-keep-days, and a fixed date in the past would be pruned under the test.
                created = FAR - 86400000 + i * 1000
                db.execute("INSERT INTO webhook_deliveries (" + DELIVERY_COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?,"
                           " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (
                               "dlv_mig%019d" % n, "mig-hook-%d" % (i % WEBHOOKS), "msg_mig%019d" % (n // 2),
                               ["response.created", "survey.updated", "customer.erased"][i % 3],
                               cls.full if i % 3 != 2 else None, cls.ids[i] if i % 3 == 0 else None,
                               "cust-alpha" if i % 3 == 0 else None,
                               '{"type":"x","data":{"n":%d,"text":"caf\u00e9"}}' % i, state, state + i % 2,
                               [0, 0, 204, 500][state], "HTTP 500" if state == 3 else None, created, created,
                               # Due and leased far ahead: the serving source's sender must leave
                               # them alone while the copy is compared.
                               FAR + i if state == 0 else 0, FAR + 60000 if state == 1 else 0,
                               created + 100 if state else 0, created + 150 if state == 2 else 0))
            db.commit()
        finally:
            db.close()

    # -- helpers -----------------------------------------------------------
    def both(self, path, token=READ_TOKEN, headers=None):
        a = self.req(self.src, "GET", path, token=token, headers=headers)
        b = self.req(self.dst, "GET", path, token=token, headers=headers)
        self.assertEqual(a.status, 200, "%s -> %d %r" % (path, a.status, a.body[:300]))
        self.assertEqual(b.status, a.status, "%s on PostgreSQL -> %d %r" % (path, b.status, b.body[:300]))
        return a, b

    def assertSameJSON(self, path):
        a, b = self.both(path)
        self.assertEqual(b.json, a.json, path)
        return a.json

    def verify(self, args):
        p = run_cli(["verify"] + args, timeout=120)
        out = (p.stdout + p.stderr).decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, "verify %r exit %d:\n%s" % (args, p.returncode, out[-3000:]))
        m = VERIFY_RE.search(out)
        self.assertIsNotNone(m, out[-3000:])
        return int(m.group(1))

    # -- the copy ------------------------------------------------------------
    def test_01_summary(self):
        out = self.migrate.stdout.decode("utf-8", "replace")
        self.assertEqual(self.migrate.returncode, 0, out + self.migrate.stderr.decode("utf-8", "replace"))
        m = SUMMARY_RE.search(out)
        self.assertIsNotNone(m, out)
        listed = self.req(self.src, "GET", "/v1/surveys", token=READ_TOKEN, expect=200).json["surveys"]
        responses = sum(len(self.req(self.src, "GET", "/v1/surveys/%s/responses?limit=1000" % s["id"],
                                     token=READ_TOKEN, expect=200).json["responses"]) for s in listed)
        # 2 surveys; 48 + 1 + 1 responses less the deleted one and cust-beta's 12; 2 records.
        self.assertEqual(len(listed), 2)
        self.assertEqual(responses, 48 + 2 - 1 - 12)
        self.assertEqual(tuple(int(g) for g in m.groups()),
                         (2, responses, 2, INVITATIONS, WEBHOOKS, DELIVERIES, 0, len(TOPICS)), out)
        self.assertGreaterEqual(out.count(" webhook events\n"), 2, out)  # progress, then the summary
        self.assertNotIn(SECRET, out + self.migrate.stderr.decode("utf-8", "replace"))

    def test_02_surveys(self):
        listed = self.assertSameJSON("/v1/surveys")["surveys"]
        self.assertEqual(sorted(s["id"] for s in listed), sorted([self.full, self.simple]))
        grown = next(s for s in listed if s["id"] == self.simple)
        self.assertEqual(grown["title"], "Simple, grown")
        for sid in (self.full, self.simple):
            self.assertSameJSON("/v1/surveys/" + sid)
        r = self.req(self.dst, "GET", "/v1/surveys/" + self.gone, token=READ_TOKEN)
        self.assertEqual(r.status, 404)

    def test_03_every_response(self):
        seen = 0
        for sid in (self.full, self.simple):
            listing = self.assertSameJSON("/v1/surveys/%s/responses?limit=1000" % sid)["responses"]
            for row in listing:
                self.assertSameJSON("/v1/responses/" + row["id"])
                seen += 1
            # Pages and their cursors.
            a, b = self.both("/v1/surveys/%s/responses?limit=5" % sid)
            self.assertEqual(b.json, a.json)
            if a.json["next_cursor"]:
                self.assertSameJSON("/v1/surveys/%s/responses?limit=5&cursor=%s" % (sid, a.json["next_cursor"]))
        self.assertEqual(seen, 37)
        r = self.req(self.dst, "GET", "/v1/responses/" + self.ids[3], token=READ_TOKEN)
        self.assertEqual(r.status, 404, "the deleted response came back")

    def test_03_search_finds_the_same(self):
        """The target's text index (PostgreSQL's, filled by the import) answers q= as the source's
        FTS5 index does: the same rows, order and snippets; the edited write-in ("late") is found as
        edited. A response imported without text has no row in text_answers."""
        for query, least in (("comment", 4), ('"too slow"', 4), ("quoted OR late", 5), ("number NOT quoted", 0),
                             ("slo*", 4), ("late", 1)):
            with self.subTest(q=query):
                j = self.assertSameJSON("/v1/surveys/%s/responses?limit=1000&q=%s"
                                        % (self.full, urllib.parse.quote(query)))
                self.assertGreaterEqual(len(j["responses"]), least)
                self.assertTrue(all(row["snippets"] for row in j["responses"]))
        j = self.assertSameJSON("/v1/customers/cust-alpha/responses?q=comment")

    def test_04_exports(self):
        for sid in (self.full, self.simple):
            for query, accept in (("?format=ndjson", None), ("", "text/csv"),
                                  ("?format=ndjson&channel=chat&from=2026-10-05", None)):
                path = "/v1/surveys/%s/responses%s" % (sid, query)
                a, b = self.both(path, headers={"Accept": accept} if accept else None)
                self.assertGreater(len(a.body), 100, path)
                self.assertEqual(b.body, a.body, path)

    def test_05_customers(self):
        for customer in ("cust-alpha", "cust-gamma", "cust-idem"):
            self.assertSameJSON("/v1/customers/%s/responses" % customer)
        a, b = self.both("/v1/customers/cust-beta/responses")
        self.assertEqual(b.json["responses"], [])

    def test_06_metrics(self):
        windows = [
            "",
            "?from=2026-10-01&to=2026-11-01",
            "?from=2026-10-03T05:30:00Z&to=2026-10-21T17:45:00Z",     # partial days and hours
            "?from=2026-10-08&to=2026-10-15&compare=previous",
            "?from=2026-10-01&to=2026-10-29&group_by=day",
            "?from=2026-10-01&to=2026-10-29&group_by=week",
            "?group_by=month",
            "?group_by=channel",
            "?group_by=agent&from=2026-10-02T03:00:00Z&to=2026-10-27T22:00:00Z",
            "?channel=chat&agent=alice",
            "?agent=carol%20%C3%A9&group_by=day&from=2026-10-01&to=2026-10-31",
        ]
        for sid in (self.full, self.simple):
            for w in windows:
                with self.subTest(survey=sid, window=w):
                    j = self.assertSameJSON("/v1/surveys/%s/metrics%s" % (sid, w))
                    if w == "":
                        self.assertGreater(j["responses"], 0)
        self.assertSameJSON("/v1/metrics")

    def test_06_topics(self):
        """Topics keep their ids, titles, queries and times; the copy tags the same responses (its
        own back-fill) and its metrics per topic agree."""
        self.assertEqual(self.running_after_migrate, "0")
        listed = self.assertSameJSON("/v1/surveys/%s/topics" % self.full)["topics"]
        self.assertEqual([t["id"] for t in listed], sorted(TOPICS))
        for t in listed:
            self.assertGreater(t["responses"], 0, t)
            for w in ("", "?from=2026-10-03T05:30:00Z&to=2026-10-21T17:45:00Z", "?group_by=channel"):
                with self.subTest(topic=t["id"], window=w):
                    sep = "&" if w else "?"
                    self.assertSameJSON("/v1/surveys/%s/metrics%s%stopic=%s" % (self.full, w, sep, t["id"]))

    def test_07_idempotent_retry_replays(self):
        path = "/v1/surveys/%s/responses" % self.full
        r = self.req(self.dst, "POST", path, self.idem_body, token=INGEST_TOKEN, headers=self.idem_headers)
        self.assertEqual(r.status, 201, r.body[:300])
        self.assertEqual(r.json, self.idem_reply)
        self.assertEqual((r.headers.get("Idempotent-Replayed") or "").lower(), "true")
        other = dict(self.idem_body, channel="email")
        r = self.req(self.dst, "POST", path, other, token=INGEST_TOKEN, headers=self.idem_headers)
        self.assertEqual(r.status, 422, r.body[:300])
        self.assertEqual(r.json["code"], "idempotency_key_reused")

    def test_08_edit_token_still_works(self):
        path = "/v1/responses/" + self.anon_id
        r = self.req(self.dst, "PATCH", path, {"answers": {"comment": "no"}}, token="x" * 32)
        self.assertEqual(r.status, 401, r.body[:300])
        r = self.req(self.dst, "PATCH", path, {"answers": {"comment": "sent from the copy"}}, token=self.edit_token)
        self.assertEqual(r.status, 200, r.body[:300])
        self.assertEqual(r.json["answers"]["comment"], "sent from the copy")

    def test_09_verify_agrees(self):
        # After the edits above (test order is by name): both stores are consistent, the copy with
        # the same responses (the edit-token PATCH changed answers, not the count).
        on_sqlite = self.verify(["--data-dir", self.src.data_dir])
        on_postgres = self.verify(["--database", self.uri])
        self.assertEqual(on_postgres, on_sqlite)
        self.assertEqual(on_sqlite, 37)

    def test_10_non_empty_target_refused(self):
        before = self.assertSameJSON("/v1/metrics")
        p = run_cli(["migrate", "--from", self.src.data_dir, "--to", self.secret_uri], timeout=120)
        err = p.stderr.decode("utf-8", "replace")
        self.assertNotIn(SECRET, err + p.stdout.decode("utf-8", "replace"))
        self.assertEqual(p.returncode, 2, err)
        self.assertIn("already holds surveys", err)
        self.assertNotIn("migrate: copied", p.stdout.decode("utf-8", "replace"))
        self.assertEqual(self.req(self.dst, "GET", "/v1/metrics", token=READ_TOKEN, expect=200).json, before)

    def test_11_bad_arguments(self):
        unreachable = with_secret(database_uri(PG, "surveyd_no_such_database"))
        for args in (["migrate", "--to", self.uri], ["migrate", "--from", self.src.data_dir],
                     ["migrate", "--from", self.src.data_dir, "--to", "/not/a/uri"],
                     ["migrate", "--from", self.src.data_dir + "-missing", "--to", self.uri],
                     ["migrate", "--from", self.src.data_dir, "--to", unreachable],
                     ["migrate", "--from", self.src.data_dir, "--to", self.uri, "--batch", "0"],
                     ["verify", "--from", self.src.data_dir]):
            with self.subTest(args=args):
                p = run_cli(args, timeout=60)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertNotIn(b"migrate: copied", p.stdout)
                self.assertNotIn(SECRET.encode(), p.stdout + p.stderr)

    def test_12_failed_copy_exits_1(self):
        # A copy of the source (SQLite's backup API: one snapshot of the live store) with one
        # response whose answers are not JSON: the copy stops there, says which row and that the
        # target holds a partial copy, and exits 1.
        copy_dir = tempfile.mkdtemp(prefix="surveyd-migrate-bad-")
        self.addCleanup(shutil.rmtree, copy_dir, True)
        source = sqlite3.connect(self.src.db_path)
        dest = sqlite3.connect(os.path.join(copy_dir, "surveyd.db"))
        try:
            source.backup(dest)
        finally:
            source.close()
            dest.close()
        broken = self.ids[20]
        self.assertEqual(sqlite_execute(os.path.join(copy_dir, "surveyd.db"),
                                        "UPDATE responses SET answers = 'not json' WHERE id = ?", (broken,)), 1)
        name = self.dbname + "_bad"
        psql('DROP DATABASE IF EXISTS "%s"' % name)
        psql('CREATE DATABASE "%s"' % name)
        self.addCleanup(psql, 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
        p = run_cli(["migrate", "--from", copy_dir, "--to", database_uri(PG, name), "--batch", BATCH], timeout=120)
        err = p.stderr.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 1, err)
        self.assertIn(broken, err)
        self.assertIn("partial copy", err)
        self.assertNotIn("migrate: copied", p.stdout.decode("utf-8", "replace"))

    def test_13_invitations(self):
        # Every column of every invitation as stored: the hash as hex, NULL apart from ''.
        def columns(hex_of):
            return ", ".join(hex_of if c == "token_hash" else "coalesce(%s || '', '<null>')" % c
                             for c in INVITATION_COLUMNS.split(", "))
        sql = "SELECT %s FROM invitations ORDER BY id"
        db = sqlite3.connect("file:%s?mode=ro" % self.src.db_path, uri=True, timeout=30)
        try:
            want = [tuple(str(v) for v in row) for row in db.execute(sql % columns(
                "CASE WHEN token_hash IS NULL THEN '<null>' ELSE lower(hex(token_hash)) END"))]
        finally:
            db.close()
        p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", self.uri, "-c",
                            sql % columns("coalesce(encode(token_hash, 'hex'), '<null>')")],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, check=True, timeout=60)
        got = [tuple(line.split("\t")) for line in p.stdout.decode("utf-8").splitlines() if line]
        self.assertEqual(len(want), INVITATIONS)
        self.assertEqual(got, want)

    def test_14_webhooks(self):
        """Every subscription (secrets included) and every delivery (every state and field) as
        stored, the deliveries in the same seq order, NULL apart from ''."""
        def rows(columns, order):
            sql = "SELECT %s FROM %s ORDER BY %s" % (
                ", ".join("coalesce(%s || '', '<null>')" % c for c in columns.split(", ")),
                "webhooks" if columns.startswith(WEBHOOK_COLUMNS) else "webhook_deliveries", order)
            db = sqlite3.connect("file:%s?mode=ro" % self.src.db_path, uri=True, timeout=30)
            try:
                want = [tuple(str(v) for v in row) for row in db.execute(sql)]
            finally:
                db.close()
            p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", self.uri, "-c",
                                sql], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, check=True, timeout=60)
            got = [tuple(line.split("\t")) for line in p.stdout.decode("utf-8").splitlines() if line]
            return want, got
        want, got = rows(WEBHOOK_COLUMNS + ", backlog", "id")  # the copy counts its own backlog alike
        self.assertEqual(len(want), WEBHOOKS)
        self.assertEqual(got, want)
        want, got = rows(DELIVERY_COLUMNS, "seq")
        self.assertEqual(len(want), DELIVERIES)
        self.assertEqual(got, want)
        self.assertNotEqual([r[0] for r in want], sorted(r[0] for r in want))  # seq order is not id order


class MigrateEventLogTest(unittest.TestCase):
    """The webhook event log and the subscriptions' cursors (store.h, "the event log"), copied as
    they are: every event with its seq (gaps included: pruned and erased ones), each cursor where it
    was, and the copy's own seq going on after the largest seq and the furthest cursor (a cursor may
    have passed events that are gone). Neither store is served while they are compared: a serving
    sender prepares events and moves cursors, which is the point of them, so the source is a
    stopped daemon's file and the copy is read before any daemon opens it."""

    EVENT_COLUMNS = "seq, id, type, survey, subject, customer, object, created_at"

    @classmethod
    def setUpClass(cls):
        cls.dbname = "surveyd_migrate_events_%d" % os.getpid()
        psql('DROP DATABASE IF EXISTS "%s"' % cls.dbname)
        psql('CREATE DATABASE "%s"' % cls.dbname)
        cls.addClassCleanup(psql, 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % cls.dbname)
        cls.uri = database_uri(PG, cls.dbname)
        cls.src = Daemon()
        cls.addClassCleanup(cls.src.cleanup)
        cls.src.start()  # the schema
        cls.src.stop()
        db = sqlite3.connect(cls.src.db_path, timeout=30)
        try:
            for i, cursor in enumerate((0, 5, 9)):
                db.execute("INSERT INTO webhooks (" + WEBHOOK_COLUMNS + ", cursor) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?,"
                           " ?, ?, ?, ?, ?)", (
                               "ev-hook-%d" % i, "https://hooks.example.com/%d" % i, '["response.created"]', None,
                               None, "standard", "whsec_ZXZlbnQtbG9nLXNlY3JldA%d" % i, None, 0,
                               1791072000000 if i == 1 else 0, "gone" if i == 1 else None, 1791000000000 + i,
                               1791000000000 + i, cursor))
            # Seqs 1 to 9 drawn; 4 was erased, 9 (the newest, which ev-hook-2 passed) pruned.
            kinds = {1: ("response.created", None, "r1", None, None),
                     2: ("response.deleted", "s1", "r2", "cust-a", '{"id":"r2","answers":{"t":"caf\u00e9"}}'),
                     3: ("survey.updated", "s1", "s1", None, None),
                     4: ("response.deleted", "s1", "r4", "cust-gone", '{"id":"r4"}'),
                     5: ("customer.erased", None, None, None, '{"customer":"cust-gone","deleted_responses":1}'),
                     6: ("response.updated", None, "r1", None, None),
                     7: ("response.created", None, "r7", None, None),
                     8: ("response.created", None, "r8", None, None),
                     9: ("response.created", None, "r9", None, None)}
            for seq, (kind, survey, subject, customer, obj) in kinds.items():
                db.execute("INSERT INTO webhook_events (" + cls.EVENT_COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           (seq, "msg_ev%020d" % seq, kind, survey, subject, customer, obj, 1791072000000 + seq))
            db.execute("DELETE FROM webhook_events WHERE seq IN (4, 9)")
            db.commit()
        finally:
            db.close()
        cls.migrate = run_cli(["migrate", "--from", cls.src.data_dir, "--to", cls.uri], timeout=300)

    def rows(self, sql):
        db = sqlite3.connect("file:%s?mode=ro" % self.src.db_path, uri=True, timeout=30)
        try:
            want = [tuple("<null>" if v is None else str(v) for v in row) for row in db.execute(sql)]
        finally:
            db.close()
        p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-P", "null=<null>",
                            self.uri, "-c", sql], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, check=True,
                           timeout=60)
        got = [tuple(line.split("\t")) for line in p.stdout.decode("utf-8").splitlines() if line]
        return want, got

    def test_log_and_cursors(self):
        out = self.migrate.stdout.decode("utf-8", "replace")
        self.assertEqual(self.migrate.returncode, 0, out + self.migrate.stderr.decode("utf-8", "replace"))
        m = SUMMARY_RE.search(out)
        self.assertIsNotNone(m, out)
        self.assertEqual(tuple(int(g) for g in m.groups()), (0, 0, 0, 0, 3, 0, 7, 0), out)
        want, got = self.rows("SELECT " + self.EVENT_COLUMNS + " FROM webhook_events ORDER BY seq")
        self.assertEqual([int(r[0]) for r in want], [1, 2, 3, 5, 6, 7, 8])
        self.assertEqual(got, want)
        want, got = self.rows("SELECT id, cursor, disabled_at FROM webhooks ORDER BY id")
        self.assertEqual(want, [("ev-hook-0", "0", "0"), ("ev-hook-1", "5", "1791072000000"),
                                ("ev-hook-2", "9", "0")])
        self.assertEqual(got, want)
        # The copy's next seq comes after ev-hook-2's cursor (9), not after the largest copied (8).
        p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", self.uri, "-c",
                            "SELECT nextval(pg_get_serial_sequence('webhook_events', 'seq'))"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, check=True, timeout=60)
        self.assertEqual(p.stdout.decode().strip(), "10")


if __name__ == "__main__":
    if not PG:
        print("SKIP: SURVEYD_TEST_POSTGRES is not set (the PostgreSQL suite sets it)")
        sys.exit(77)
    unittest.main(verbosity=2)
