"""Metrics across rollup granularities (schema/006): a window is answered from month cells, day
cells, hour cells and raw rows in whatever mix its edges call for, and every mix must give the
figures that the independent Python model of test_metrics.py computes from the posted responses,
before and after deletions, answer changes and a customer's erasure (each of which changes cells in
every table). `surveyd verify` must find the month and hour tables consistent throughout, and report
them when they are not; a database migrated from version 5 must get them back-filled.
"""

import datetime
import random
import re
import sqlite3
import unittest

import test_metrics as tm
import test_verify as tv
import harness
from harness import TEXT_INDEX_DOWNGRADE, ADMIN_TOKEN, INGEST_TOKEN, run_cli

START = datetime.datetime(2025, 1, 20, tzinfo=tm.UTC)   # to early May: five months, February included
DAYS = 105
CHANNELS = ["chat", "email", "web", None]
AGENTS = ["alice", "bob", "carol \u00e9", None]
NEW_TABLES = ("rollup_answers_month", "rollup_responses_month", "rollup_answers_hour",
              "rollup_responses_hour")

# Windows chosen for the mix of cells they read: whole months with partial hours at both edges,
# exact months, days + months + days, the bench's partial shape, a month less a millisecond on each
# side, offsets, windows inside one day (hours and raw minutes), exactly one hour, open bounds.
WINDOWS = [
    {"from": "2025-01-31T22:30:00Z", "to": "2025-04-01T01:15:00Z"},
    {"from": "2025-02-01", "to": "2025-04-01"},
    {"from": "2025-01-25", "to": "2025-05-03"},
    {"from": "2025-02-14T09:00:00Z", "to": "2025-03-20T17:30:00Z"},
    {"from": "2025-03-01T00:00:00.001Z", "to": "2025-03-31T23:59:59.999Z"},
    {"from": "2025-02-28T23:00:00+02:00", "to": "2025-03-02T10:45:00-01:00"},
    {"from": "2025-03-10T10:20:00Z", "to": "2025-03-10T13:40:00Z"},
    {"from": "2025-03-10T10:00:00Z", "to": "2025-03-10T11:00:00Z"},
    {"from": "2025-02-01"},
    {"to": "2025-03-15T12:00:00Z"},
    {},
]
EXTRAS = [{}, {"channel": "chat"}, {"agent": "alice"}, {"agent": "bob", "channel": "email"},
          {"group_by": "month"}, {"group_by": "week"}, {"group_by": "day"}, {"group_by": "channel"},
          {"group_by": "agent"}, {"group_by": "agent", "channel": "web"}, {"compare": "previous"}]


def body_at(rng, t):
    body = {"answers": tm.random_answers(rng, tm.FULL_DEFINITION["questions"]), "submitted_at": t,
            "customer": "cust-%d" % rng.randrange(5)}
    ch, ag = rng.choice(CHANNELS), rng.choice(AGENTS)
    if ch:
        body["channel"] = ch
    if ag:
        body["agent"] = ag
    return body


class GranularityTestBase(tv.VerifyTestBase):

    def setUp(self):
        super().setUp()
        rng = random.Random(1406)
        self.sid, self.ref = self.make_survey(tm.FULL_DEFINITION, "gran")
        self.ids, self.customer_of = [], {}
        times = [tm.random_time(rng, START, DAYS) for _ in range(260)]
        # Responses right at the windows' edges and at month and hour boundaries.
        times += ["2025-01-31T22:30:00.000Z", "2025-01-31T23:59:59.999Z", "2025-02-01T00:00:00.000Z",
                  "2025-03-10T10:19:59.999Z", "2025-03-10T10:20:00.000Z", "2025-03-10T13:39:59.999Z",
                  "2025-03-10T13:40:00.000Z", "2025-03-10T11:00:00.000Z", "2025-04-01T01:14:59.999Z",
                  "2025-04-01T01:15:00.000Z", "2025-03-31T23:59:59.999Z", "2025-03-01T00:00:00.000Z"]
        for t in times:
            body = body_at(rng, t)
            r = self.d.req("POST", "/v1/surveys/%s/responses" % self.sid, body, token=INGEST_TOKEN)
            self.assertEqual(r.status, 201, r.body[:300])
            self.ref.add(r.json["id"], body)
            self.ids.append(r.json["id"])
            self.customer_of[r.json["id"]] = body["customer"]

    def check_all(self):
        for window in WINDOWS:
            for extra in EXTRAS:
                # The model needs both bounds for a comparison, and `to` for a bounded time grouping.
                if "compare" in extra and len(window) < 2:
                    continue
                if extra.get("group_by") in ("day", "week", "month") and "from" in window and "to" not in window:
                    continue
                self.check_metrics(self.ref, dict(window, **extra))


class GranularityFiguresTests(GranularityTestBase):

    def test_windows_before_and_after_changes(self):
        self.check_all()
        self.assertConsistent(len(self.ids))
        rng = random.Random(7)
        # Deletions, answer changes and an erasure: each takes cells out of every table.
        for rid in self.ids[:12]:
            r = self.d.req("DELETE", "/v1/responses/" + rid, token=ADMIN_TOKEN)
            self.assertEqual(r.status, 204, r.body[:300])
            del self.ref.rows[rid]
        for rid in self.ids[12:24]:
            if rid not in self.ref.rows:
                continue
            change = {"rec": rng.randint(0, 10), "expect": {"other": "changed"}, "resolved": None,
                      "sat": rng.randint(1, 5)}
            r = self.d.req("PATCH", "/v1/responses/" + rid, {"answers": change}, token=INGEST_TOKEN)
            self.assertEqual(r.status, 200, r.body[:300])
            answers = self.ref.rows[rid]["answers"]
            answers.update({k: v for k, v in change.items() if v is not None})
            answers.pop("resolved", None)
            self.assertEqual(set(r.json["answers"]), {k for k, v in answers.items() if v != ""})
        r = self.d.req("DELETE", "/v1/customers/cust-3", token=ADMIN_TOKEN)
        self.assertEqual(r.status, 200, r.body[:300])
        for rid in [rid for rid in self.ref.rows if self.customer_of[rid] == "cust-3"]:
            del self.ref.rows[rid]
        self.assertConsistent(len(self.ref.rows))
        self.check_all()


class GranularityVerifyTests(GranularityTestBase):
    """The new tables are checked by verify: tampering with any one is reported, by name."""

    def setUp(self):
        super().setUp()
        self.d.stop()
        self.assertConsistent(len(self.ids))
        harness.allow_rollup_tamper(self.d)

    def execute(self, sql, args=()):
        return harness.db_execute(self.d, harness.rollup_tamper_sql(sql), args)

    def assertReported(self, table):
        rc, out = self.verify()
        self.assertEqual(rc, 1, out[-3000:])
        self.assertIsNone(tv.OK_RE.search(out), out[-3000:])
        named = {m.group(1) for m in re.finditer(r"^(\w+): ", out, re.M)} - {"verify"}
        self.assertEqual(named, {table}, out[-3000:])

    def test_month_cell_changed(self):
        self.assertEqual(self.execute(
            "UPDATE rollup_answers_month SET count = count + 1 WHERE (survey, month, channel, question, value) ="
            " (SELECT survey, month, channel, question, value FROM rollup_answers_month LIMIT 1)"), 1)
        self.assertReported("rollup_answers_month")

    def test_month_row_extra(self):
        self.assertEqual(self.execute(
            "INSERT INTO rollup_responses_month (survey, month, channel, count)"
            " VALUES (?, 20089, 'ghost', 1)", (self.sid,)), 1)
        self.assertReported("rollup_responses_month")

    def test_hour_row_missing(self):
        self.assertEqual(self.execute(
            "DELETE FROM rollup_answers_hour WHERE (survey, hour, channel, question, value) ="
            " (SELECT survey, hour, channel, question, value FROM rollup_answers_hour LIMIT 1)"), 1)
        self.assertReported("rollup_answers_hour")

    def test_hour_cell_moved_within_its_day(self):
        """Counts right for the day but on the wrong hour: only the hour table can tell."""
        self.assertEqual(self.execute(
            "UPDATE rollup_responses_hour SET hour = hour + 1 WHERE (survey, hour, channel) ="
            " (SELECT survey, hour, channel FROM rollup_responses_hour AS r WHERE hour % 24 < 23"
            " AND NOT EXISTS (SELECT 1 FROM rollup_responses_hour WHERE survey = r.survey"
            " AND hour = r.hour + 1 AND channel = r.channel) LIMIT 1)"), 1)
        self.assertReported("rollup_responses_hour")

    def test_hour_rows_on_a_day_without_responses(self):
        """Stored hour rows of a day the walk never visits (no responses, no day rollups)."""
        ghost_hour = 30000 * 24 + 5  # 2052-02-20, long after every response of the fixture
        self.assertEqual(self.execute(
            "INSERT INTO rollup_answers_hour (survey, hour, channel, question, value, count)"
            " VALUES (?, ?, 'web', 'nps', 9, 1)", (self.sid, ghost_hour)), 1)
        self.assertReported("rollup_answers_hour")
        self.execute("DELETE FROM rollup_answers_hour WHERE hour = ?", (ghost_hour,))
        self.assertEqual(self.execute(
            "INSERT INTO rollup_responses_hour (survey, hour, channel, count) VALUES (?, ?, 'web', 2)",
            (self.sid, ghost_hour)), 1)
        self.assertReported("rollup_responses_hour")

    @harness.skip_unless_sqlite("SQLite's migration 006 on a version 5 file (PostgreSQL's schema starts with these tables)")
    def test_migration_backfills_a_version_5_database(self):
        """Migration 006 on a database that already holds responses (as left by version 5)."""
        conn = sqlite3.connect(self.d.db_path)
        try:
            for table in NEW_TABLES:
                conn.execute("DROP TABLE %s" % table)
            # What migrations 007 to 011 added after it, so the file is a version 5 database again.
            for sql in TEXT_INDEX_DOWNGRADE:
                conn.execute(sql)
            conn.execute("DROP TABLE webhook_events")
            conn.execute("DROP TABLE webhook_deliveries")
            conn.execute("DROP TABLE webhooks")
            conn.execute("DROP TABLE invitation_days")
            conn.execute("DROP TABLE invitations")
            conn.execute("DROP INDEX idempotency_survey")
            conn.execute("ALTER TABLE idempotency DROP COLUMN survey")
            conn.execute("PRAGMA user_version = 5")
            conn.commit()
        finally:
            conn.close()
        self.d.start()
        self.assertConsistent(len(self.ids))
        conn = sqlite3.connect(self.d.db_path)
        try:
            for table in NEW_TABLES:
                self.assertGreater(conn.execute("SELECT count(*) FROM %s" % table).fetchone()[0], 0, table)
        finally:
            conn.close()
        self.check_all()


if __name__ == "__main__":
    unittest.main()
