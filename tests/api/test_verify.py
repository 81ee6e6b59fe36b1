"""`surveyd verify --data-dir DIR`: recomputes every rollup from the raw responses.

Exit 0 with `verify: rollups consistent with N responses`; exit 1 with one line per differing row
and a summary. It must work while the daemon serves (SQLite WAL). Expected metrics are computed by
the reference model in test_metrics.py from the data posted here.
"""

import collections
import datetime
import random
import re
import threading
import time
import unittest

import harness
import test_metrics as tm
from harness import TEXT_INDEX_DOWNGRADE, ADMIN_TOKEN, INGEST_TOKEN, READ_TOKEN, Daemon, run_cli, run_threads, uid

OK_RE = re.compile(r"verify: rollups consistent with (\d+) responses")
THREADS = 16
PER_THREAD = 40
CHANNELS = ["chat", "email", "web", "sms", None]
AGENTS = ["alice", "bob", "carol \u00e9", "d&e", None]
START = datetime.datetime(2025, 10, 1, tzinfo=tm.UTC)


class VerifyTestBase(tm.MetricsAssertions, unittest.TestCase):
    maxDiff = 4000

    def setUp(self):
        self.d = Daemon()
        self.addCleanup(self.d.cleanup)
        self.d.start()

    def verify(self):
        p = run_cli(["verify", "--data-dir", self.d.data_dir], timeout=120)
        out = (p.stdout + p.stderr).decode("utf-8", "replace")
        return p.returncode, out

    def assertConsistent(self, n=None):
        rc, out = self.verify()
        self.assertEqual(rc, 0, "verify exit %d:\n%s" % (rc, out[-3000:]))
        m = OK_RE.search(out)
        self.assertIsNotNone(m, out[-3000:])
        if n is not None:
            self.assertEqual(int(m.group(1)), n, out[-3000:])
        return int(m.group(1))

    def make_survey(self, definition, prefix="v"):
        sid = uid(prefix)
        r = self.d.req("PUT", "/v1/surveys/" + sid, definition, token=ADMIN_TOKEN)
        self.assertEqual(r.status, 201, r.body[:300])
        return sid, tm.Ref(sid, definition)

    def post(self, sid, ref, body):
        r = self.d.req("POST", "/v1/surveys/%s/responses" % sid, body, token=INGEST_TOKEN)
        self.assertEqual(r.status, 201, r.body[:300])
        ref.add(r.json["id"], body)
        return r.json["id"]

    def check_metrics(self, ref, params=None):
        params = dict(params or {})
        r = self.d.req("GET", tm.metrics_path(ref.survey, params), token=READ_TOKEN)
        self.assertEqual(r.status, 200, r.body[:300])
        with self.subTest(survey=ref.survey, params=params):
            self.assertMetrics(r.json, ref.metrics(params), params.get("group_by"))
        return r.json


def random_body(rng, definition):
    body = {"answers": tm.random_answers(rng, definition["questions"]),
            "submitted_at": tm.random_time(rng, START, 20)}
    ch, ag = rng.choice(CHANNELS), rng.choice(AGENTS)
    if ch:
        body["channel"] = ch
    if ag:
        body["agent"] = ag
    return body


class ConcurrentIngestVerifyTests(VerifyTestBase):

    def test_concurrent_ingest_then_verify(self):
        defs = {}
        refs = {}
        for definition, prefix in ((tm.FULL_DEFINITION, "va"), (tm.EDGE_DEFINITION, "vb")):
            sid, ref = self.make_survey(definition, prefix)
            defs[sid], refs[sid] = definition, ref
        sids = sorted(defs)
        done = threading.Event()
        side_errors = []
        verify_runs = []

        def reader():
            """Metrics read during ingest: always 200 and internally consistent."""
            last = {s: 0 for s in sids}
            try:
                while not done.is_set():
                    for s in sids:
                        r = self.d.req("GET", tm.metrics_path(s, {"group_by": "channel"}),
                                       token=READ_TOKEN)
                        if r.status != 200:
                            side_errors.append("metrics during ingest: %d %r"
                                               % (r.status, r.body[:200]))
                            return
                        j = r.json
                        if j["responses"] < last[s]:
                            side_errors.append("responses went back: %d < %d"
                                               % (j["responses"], last[s]))
                        last[s] = j["responses"]
                        total = sum(g["responses"] for g in j["groups"])
                        if total != j["responses"]:
                            side_errors.append("groups sum %d != responses %d (one snapshot?)"
                                               % (total, j["responses"]))
                        for qid, q in j["questions"].items():
                            if q["answered"] + q["skipped"] != j["responses"]:
                                side_errors.append("%s: answered+skipped != responses" % qid)
            except Exception as exc:  # noqa: BLE001 - reported by the test
                side_errors.append(repr(exc))

        def verifier():
            while not done.is_set():
                verify_runs.append(self.verify())
                time.sleep(0.05)

        side = [threading.Thread(target=reader), threading.Thread(target=verifier)]
        for t in side:
            t.start()

        def worker(t):
            rng = random.Random(1000 + t)
            out = []
            for _ in range(PER_THREAD):
                sid = rng.choice(sids)
                body = random_body(rng, defs[sid])
                r = self.d.req("POST", "/v1/surveys/%s/responses" % sid, body,
                               token=INGEST_TOKEN)
                out.append((sid, r.status, r.json, body))
            return out

        try:
            results = [x for per in run_threads(THREADS, worker) for x in per]
        finally:
            done.set()
            for t in side:
                t.join(120)

        statuses = collections.Counter(status for _, status, _, _ in results)
        self.assertEqual(statuses, {201: THREADS * PER_THREAD})
        n201 = statuses[201]
        ids = [j["id"] for _, _, j, _ in results]
        self.assertEqual(len(set(ids)), len(ids), "duplicate ids")
        for sid, _, j, body in results:
            self.assertEqual(j["survey"], sid)
            refs[sid].add(j["id"], body)

        self.assertEqual(side_errors, [])
        self.assertGreater(len(verify_runs), 0)
        for rc, out in verify_runs:
            self.assertEqual(rc, 0, "verify during ingest:\n" + out[-2000:])
            m = OK_RE.search(out)
            self.assertIsNotNone(m, out[-2000:])
            self.assertLessEqual(int(m.group(1)), n201)

        self.assertConsistent(n201)

        for sid in sids:
            ref = refs[sid]
            for params in (
                    {},
                    {"from": "2025-10-05", "to": "2025-10-15"},
                    {"from": "2025-10-03T11:22:33.444Z", "to": "2025-10-17T02:00:00Z"},
                    {"from": "2025-10-08T06:00:00Z", "to": "2025-10-08T18:00:00Z"},
                    {"channel": "chat"},
                    {"agent": "carol \u00e9"},
                    {"agent": "d&e", "channel": "web", "from": "2025-10-04T12:00:00Z"},
                    {"group_by": "day"},
                    {"group_by": "week", "from": "2025-09-29", "to": "2025-10-27"},
                    {"group_by": "channel", "from": "2025-10-02T08:00:00Z",
                     "to": "2025-10-19T20:00:00Z"},
                    {"group_by": "agent"},
                    {"from": "2025-10-11T12:00:00Z", "to": "2025-10-21", "compare": "previous"},
            ):
                self.check_metrics(ref, params)
            self.assertEqual(self.check_metrics(ref)["responses"], len(ref.rows))

        self.d.stop()
        self.assertConsistent(n201)


class TamperBase(VerifyTestBase):
    """30 responses over 20 days, consistent; the tests tamper with the rollups directly."""

    def setUp(self):
        super().setUp()
        rng = random.Random(5)
        self.sid, self.ref = self.make_survey(tm.EDGE_DEFINITION, "tamper")
        for _ in range(30):
            self.post(self.sid, self.ref, random_body(rng, tm.EDGE_DEFINITION))
        self.assertConsistent(30)
        self.d.stop()
        self.assertConsistent(30)
        harness.allow_rollup_tamper(self.d)

    def execute(self, sql, args=()):
        return harness.db_execute(self.d, harness.rollup_tamper_sql(sql), args)

    def query(self, sql, args=()):
        return harness.db_query(self.d, harness.rollup_tamper_sql(sql), args)

    def assertInconsistent(self, table, others):
        rc, out = self.verify()
        self.assertEqual(rc, 1, out[-3000:])
        self.assertIsNone(OK_RE.search(out), out[-3000:])
        named = [ln for ln in out.splitlines() if re.search(r"\b%s\b" % table, ln)]
        self.assertTrue(named, "output does not name %s:\n%s" % (table, out[-3000:]))
        for other in others:
            self.assertNotRegex(out, r"\b%s\b" % other, "untouched table reported")
        return out


class TamperTests(TamperBase):

    def test_rollup_answers_count_changed(self):
        row = self.query("SELECT survey, day, channel, question, value FROM rollup_answers "
                         "ORDER BY day, channel, question LIMIT 1")[0]
        where = "survey = ? AND day = ? AND channel = ? AND question = ? AND value = ?"
        self.assertEqual(self.execute("UPDATE rollup_answers SET count = count + 1 WHERE "
                                      + where, row), 1)
        self.assertInconsistent("rollup_answers", ("rollup_answers_agent", "rollup_responses"))
        # Undo it: consistent again.
        self.assertEqual(self.execute("UPDATE rollup_answers SET count = count - 1 WHERE "
                                      + where, row), 1)
        self.assertConsistent(30)

    def test_stored_answers_that_no_longer_fit_are_reported(self):
        """The stored-answer check validates each response's parsed answers without serialising
        them again: an out-of-range value and an unknown question are reported by response, while
        valid answers in another key order (not the stored text) are not."""
        ids = [r[0] for r in self.query("SELECT id FROM responses WHERE survey = ? ORDER BY id LIMIT 3",
                                         (self.sid,))]
        self.execute("UPDATE responses SET answers = ? WHERE id = ?", ('{"rec":11}', ids[0]))
        self.execute("UPDATE responses SET answers = ? WHERE id = ?", ('{"ghost":1}', ids[1]))
        self.execute("UPDATE responses SET answers = ? WHERE id = ?", ('{"note":"x","rec":3}', ids[2]))
        rc, out = self.verify()
        self.assertEqual(rc, 1, out[-3000:])
        lines = [ln for ln in out.splitlines() if ln.startswith("answers: response ")]
        self.assertEqual(len(lines), 2, out[-3000:])
        self.assertRegex(lines[0] + lines[1], r"response %s of survey %s: \S+ must be an integer from 0 to 10"
                         % (ids[0], self.sid))
        self.assertRegex(lines[0] + lines[1], r"response %s of survey %s: answers\.ghost no such question"
                         % (ids[1], self.sid))
        self.assertNotIn(ids[2], out)
        self.assertIn("verify: 2 responses with answers that do not fit their question's current definition", out)
        # The answers are checked on a second thread: their lines still follow every rollup line.
        all_lines = out.splitlines()
        rollup_rows = [i for i, ln in enumerate(all_lines) if re.match(r"rollup_\w+: ", ln)]
        answer_rows = [i for i, ln in enumerate(all_lines) if ln.startswith("answers: response ")]
        self.assertTrue(rollup_rows, out[-3000:])
        self.assertLess(max(rollup_rows), min(answer_rows), out[-3000:])

    def test_rollup_responses_row_missing(self):
        row = self.query("SELECT survey, day, channel FROM rollup_responses LIMIT 1")[0]
        self.assertEqual(self.execute("DELETE FROM rollup_responses WHERE survey = ? AND "
                                      "day = ? AND channel = ?", row), 1)
        self.assertInconsistent("rollup_responses", ("rollup_answers", "rollup_answers_agent",
                                                     "rollup_responses_agent"))

    def test_rollup_answers_agent_extra_row(self):
        self.assertEqual(self.execute(
            "INSERT INTO rollup_answers_agent (survey, agent, day, channel, question, value, "
            "count) VALUES (?, 'ghost', 20000, '', 'rec', 5, 1)", (self.sid,)), 1)
        self.assertInconsistent("rollup_answers_agent", ("rollup_responses",))

    def test_tampered_rollup_is_what_metrics_serve(self):
        """Metrics answer from the rollups (that is why verify exists): a whole-day window shows
        the tampered count, so the test above tampers with what users see."""
        row = self.query("SELECT survey, day, channel, question, value FROM rollup_answers "
                         "WHERE question = 'rec' ORDER BY day LIMIT 1")[0]
        self.execute("UPDATE rollup_answers SET count = count + 1 WHERE survey = ? AND day = ? "
                     "AND channel = ? AND question = ? AND value = ?", row)
        self.d.start()
        day = datetime.date(1970, 1, 1) + datetime.timedelta(days=row[1])
        params = {"from": day.isoformat(), "to": (day + datetime.timedelta(days=1)).isoformat()}
        rows = self.ref.select(tm.parse_param_time(params["from"]),
                               tm.parse_param_time(params["to"]))
        want = sum(1 for r in rows if "rec" in r["answers"])
        r = self.d.req("GET", tm.metrics_path(self.sid, params), token=READ_TOKEN)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json["questions"]["rec"]["answered"], want + 1)
        self.assertEqual(self.verify()[0], 1)


class TamperEveryDayTests(TamperBase):
    """verify walks (survey, day) by day and compares each day's cells (store_verify.c): a wrong
    count, a missing row and an extra row are found on the first, a middle and the last day of
    every rollup table, an answered_questions total that is wrong, missing or extra, and each
    tampering undone leaves verify consistent again."""

    TABLES = {
        "rollup_answers": ("survey", "day", "channel", "question", "value"),
        "rollup_answers_agent": ("survey", "agent", "day", "channel", "question", "value"),
        "rollup_responses": ("survey", "day", "channel"),
        "rollup_responses_agent": ("survey", "agent", "day", "channel"),
    }

    def days(self, table):
        days = [d for (d,) in self.query("SELECT DISTINCT day FROM %s WHERE count != 0 ORDER BY day"
                                         % table)]
        self.assertGreaterEqual(len(days), 3)
        return {"first": days[0], "middle": days[len(days) // 2], "last": days[-1]}

    def row_of(self, table, day):
        cols = self.TABLES[table]
        return cols, self.query("SELECT %s, count FROM %s WHERE day = ? AND count != 0 LIMIT 1"
                                % (", ".join(cols), table), (day,))[0]

    def assertFound(self, table, fragment):
        rc, out = self.verify()
        self.assertEqual(rc, 1, out[-3000:])
        lines = [ln for ln in out.splitlines() if ln.startswith(table + ": ")]
        self.assertTrue(any(fragment in ln for ln in lines), "%r not in:\n%s" % (fragment, out[-3000:]))

    def test_wrong_missing_and_extra_rows_on_first_middle_and_last_day(self):
        for table, cols in self.TABLES.items():
            for where, day in self.days(table).items():
                cols, row = self.row_of(table, day)
                key, count = row[:-1], row[-1]
                match = " AND ".join("%s = ?" % c for c in cols)
                with self.subTest(table=table, day=where, tamper="count"):
                    self.execute("UPDATE %s SET count = count + 2 WHERE %s" % (table, match), key)
                    self.assertFound(table, "unexpected row %s %d" % (" ".join(map(str, key)), count + 2))
                    self.assertFound(table, "missing or wrong row %s %d"
                                     % (" ".join(map(str, key)), count))
                    self.execute("UPDATE %s SET count = count - 2 WHERE %s" % (table, match), key)
                    self.assertConsistent(30)
                with self.subTest(table=table, day=where, tamper="missing"):
                    self.execute("DELETE FROM %s WHERE %s" % (table, match), key)
                    self.assertFound(table, "missing or wrong row %s %d" % (" ".join(map(str, key)), count))
                    self.execute("INSERT INTO %s (%s, count) VALUES (%s)"
                                 % (table, ", ".join(cols), ", ".join("?" * (len(cols) + 1))), row)
                    self.assertConsistent(30)
                with self.subTest(table=table, day=where, tamper="extra"):
                    extra = list(key)
                    extra[cols.index("channel")] = "ghost-channel"
                    self.execute("INSERT INTO %s (%s, count) VALUES (%s)"
                                 % (table, ", ".join(cols), ", ".join("?" * (len(cols) + 1))),
                                 extra + [7])
                    self.assertFound(table, "unexpected row %s 7" % " ".join(map(str, extra)))
                    self.execute("DELETE FROM %s WHERE %s" % (table, match), extra)
                    self.assertConsistent(30)

    def test_extra_rows_on_days_and_agents_without_responses(self):
        """Rows the day-by-day walk does not reach: a day before the first response, one between
        two, one after the last, and an agent that never answered (found through the agent rollups)."""
        days = self.days("rollup_responses")
        first, last = days["first"], days["last"]
        empty = [d for d in range(first, last) if not self.query(
            "SELECT 1 FROM rollup_responses WHERE day = ?", (d,))]
        for day in [first - 3] + empty[:1] + [last + 5]:
            for table, agent in (("rollup_answers", None), ("rollup_answers_agent", "nobody")):
                cols = self.TABLES[table]
                values = {"survey": self.sid, "agent": agent, "day": day, "channel": "",
                          "question": "rec", "value": 9}
                row = [values[c] for c in cols]
                with self.subTest(table=table, day=day):
                    self.execute("INSERT INTO %s (%s, count) VALUES (%s)"
                                 % (table, ", ".join(cols), ", ".join("?" * (len(cols) + 1))),
                                 row + [1])
                    self.assertFound(table, "unexpected row %s 1" % " ".join(map(str, row)))
                    self.execute("DELETE FROM %s WHERE %s" % (table, " AND ".join(
                        "%s = ?" % c for c in cols)), row)
                    self.assertConsistent(30)
        # An agent with no response, on a day that has responses.
        day = days["middle"]
        row = [self.sid, "nobody", day, "chat"]
        self.execute("INSERT INTO rollup_responses_agent (survey, agent, day, channel, count) "
                     "VALUES (?, ?, ?, ?, 4)", row)
        self.assertFound("rollup_responses_agent", "unexpected row %s 4" % " ".join(map(str, row)))

    def test_answered_questions_wrong_missing_and_extra(self):
        sid, question, answers = self.query(
            "SELECT survey, question, answers FROM answered_questions WHERE answers != 0 LIMIT 1")[0]
        self.execute("UPDATE answered_questions SET answers = answers + 1 WHERE survey = ? AND "
                     "question = ?", (sid, question))
        self.assertFound("answered_questions", "missing or wrong row %s %s %d" % (sid, question, answers))
        self.assertFound("answered_questions", "unexpected row %s %s %d" % (sid, question, answers + 1))
        self.execute("DELETE FROM answered_questions WHERE survey = ? AND question = ?", (sid, question))
        self.assertFound("answered_questions", "missing or wrong row %s %s %d" % (sid, question, answers))
        self.execute("INSERT INTO answered_questions (survey, question, answers) VALUES (?, ?, ?)",
                     (sid, question, answers))
        self.assertConsistent(30)
        self.execute("INSERT INTO answered_questions (survey, question, answers) VALUES (?, 'ghost', 3)",
                     (sid,))
        self.assertFound("answered_questions", "unexpected row %s ghost 3" % sid)


class DeletionVerifyTests(VerifyTestBase):

    def test_delete_survey_leaves_rollups_consistent(self):
        rng = random.Random(11)
        keep, keep_ref = self.make_survey(tm.FULL_DEFINITION, "keep")
        gone, gone_ref = self.make_survey(tm.EDGE_DEFINITION, "gone")
        for _ in range(25):
            self.post(keep, keep_ref, random_body(rng, tm.FULL_DEFINITION))
            self.post(gone, gone_ref, random_body(rng, tm.EDGE_DEFINITION))
        self.assertConsistent(50)
        r = self.d.req("DELETE", "/v1/surveys/" + gone, token=ADMIN_TOKEN)
        self.assertEqual(r.status, 204, r.body[:300])
        self.assertConsistent(25)
        self.check_metrics(keep_ref)
        self.check_metrics(keep_ref, {"group_by": "channel"})
        # The same id again starts from nothing.
        r = self.d.req("PUT", "/v1/surveys/" + gone, tm.EDGE_DEFINITION, token=ADMIN_TOKEN)
        self.assertEqual(r.status, 201, r.body[:300])
        gone_ref = tm.Ref(gone, tm.EDGE_DEFINITION)
        self.check_metrics(gone_ref)
        self.post(gone, gone_ref, {"answers": {"rec": 9}, "channel": "chat",
                                   "submitted_at": "2025-10-05T10:00:00Z"})
        self.check_metrics(gone_ref, {"group_by": "day"})
        self.assertConsistent(26)
        self.d.stop()
        self.assertConsistent(26)

    def test_response_delete_patch_and_erasure_keep_rollups_consistent(self):
        rng = random.Random(12)
        sid, ref = self.make_survey(tm.FULL_DEFINITION, "ops")
        ids = []
        for i in range(30):
            body = random_body(rng, tm.FULL_DEFINITION)
            body["customer"] = "cust-%d" % (i % 4)
            ids.append(self.post(sid, ref, body))
        # Delete one response.
        r = self.d.req("DELETE", "/v1/responses/" + ids[0], token=ADMIN_TOKEN)
        self.assertEqual(r.status, 204, r.body[:300])
        del ref.rows[ids[0]]
        self.assertConsistent(29)
        # Change, add and remove answers of another.
        r = self.d.req("PATCH", "/v1/responses/" + ids[1],
                       {"answers": {"rec": 0, "easy": 2, "resolved": None, "comment": "later"}},
                       token=INGEST_TOKEN)
        self.assertEqual(r.status, 200, r.body[:300])
        answers = ref.rows[ids[1]]["answers"]
        answers.update(rec=0, easy=2, comment="later")
        answers.pop("resolved", None)
        self.assertEqual(r.json["answers"], answers)
        self.assertConsistent(29)
        # Erase a customer (every 4th response).
        r = self.d.req("DELETE", "/v1/customers/cust-3", token=ADMIN_TOKEN)
        self.assertEqual(r.status, 200, r.body[:300])
        erased = [rid for i, rid in enumerate(ids) if i % 4 == 3]
        for rid in erased:
            del ref.rows[rid]
        self.assertConsistent(29 - len(erased))
        self.check_metrics(ref)
        self.check_metrics(ref, {"group_by": "agent"})
        self.check_metrics(ref, {"from": "2025-10-04T12:00:00Z", "to": "2025-10-15"})


class OptionTextVerifyTests(VerifyTestBase):

    def test_numeric_looking_choice_options_consistent(self):
        """Choice options are strings; "1", "-1", "2.5" and "007" are ordinary option texts."""
        definition = {"title": "numeric options", "questions": [
            {"id": "pick", "type": "choice", "options": ["a", "1", "-1", "2.5", "007"],
             "allow_other": True}]}
        sid, ref = self.make_survey(definition, "numopt")
        for v in ("a", "1", "-1", "2.5", "007", {"other": "x"}):
            self.post(sid, ref, {"answers": {"pick": v}, "submitted_at": "2025-10-05T10:00:00Z"})
        self.assertConsistent(6)


class DayEdgeVerifyTests(VerifyTestBase):

    def test_responses_around_1970_and_midnights_consistent(self):
        """verify walks day by day (submitted_at / 86400000): responses at the epoch (day 0, the
        first day of the walk) and on either side of midnights land in the day the rollups put
        them in, and a tampered count on such a day is still found."""
        sid, ref = self.make_survey(tm.EDGE_DEFINITION, "edge")
        times = ["1970-01-01T00:00:00Z", "1970-01-01T23:59:59.999Z", "1970-01-02T00:00:00Z",
                 "1970-01-03T23:59:59.999Z", "2025-10-05T00:00:00Z", "2025-10-04T23:59:59.999Z",
                 "2025-10-05T23:59:59.999Z", "2025-10-06T00:00:00.001Z"]
        for t in times:
            self.post(sid, ref, {"answers": {"rec": 7}, "channel": "chat", "agent": "a",
                                 "submitted_at": t})
        self.assertConsistent(len(times))
        self.d.stop()
        days = [d for (d,) in harness.db_query(self.d, harness.rollup_tamper_sql("SELECT day FROM rollup_answers ORDER BY day"))]
        harness.db_execute(self.d, "UPDATE rollup_answers_agent SET count = count + 1 WHERE day = ?", (days[0],))
        rc, out = self.verify()
        self.assertEqual(rc, 1, out[-3000:])
        self.assertIn("rollup_answers_agent: unexpected row %s a %d " % (sid, days[0]), out)


class InvitationRollupVerifyTests(VerifyTestBase):
    """The invitations' rollup, invitation_days: verify recomputes it from the invitations and names
    it when a stored row is wrong, missing or extra."""

    def setUp(self):
        super().setUp()
        import test_invitation_metrics as im
        self.sid, self.ref = self.make_survey(tm.EDGE_DEFINITION, "inv")
        rng = random.Random(11)
        rows = []
        for i in range(40):
            t = START + datetime.timedelta(days=rng.randrange(10), seconds=rng.randrange(86400))
            outcome = rng.choice(["sent", "sent", "sent", "throttled", "sampled_out"])
            fate = rng.randrange(4) if outcome == "sent" else 0
            rows.append(im.invitation_row(self.sid, t, rng.choice(CHANNELS), rng.choice(AGENTS), outcome,
                                          opened_at=t + datetime.timedelta(hours=1) if fate in (1, 2) else None,
                                          responded_at=t + datetime.timedelta(hours=2) if fate >= 2 else None))
        im.insert_invitations(self.d, rows)
        self.d.stop()
        self.assertConsistent(0)

    def execute(self, sql, args=()):
        return harness.db_execute(self.d, sql, args)

    def assertInvitationsInconsistent(self):
        rc, out = self.verify()
        self.assertEqual(rc, 1, out[-3000:])
        self.assertIsNone(OK_RE.search(out), out[-3000:])
        self.assertRegex(out, r"\binvitation_days: ", out[-3000:])
        for other in ("rollup_answers", "rollup_responses"):
            self.assertNotRegex(out, r"\b%s\b" % other, "untouched table reported")

    def first_row(self):
        return harness.db_query(self.d, "SELECT survey, day, channel, agent FROM invitation_days"
                                " WHERE sent > 0 ORDER BY day, channel, agent LIMIT 1")[0]

    def test_count_changed_then_undone(self):
        key = self.first_row()
        where = " WHERE survey = ? AND day = ? AND channel = ? AND agent = ?"
        for column in ("sent", "suppressed", "opened", "responded"):
            with self.subTest(column=column):
                self.assertEqual(self.execute("UPDATE invitation_days SET %s = %s + 1" % (column, column)
                                              + where, key), 1)
                self.assertInvitationsInconsistent()
                self.assertEqual(self.execute("UPDATE invitation_days SET %s = %s - 1" % (column, column)
                                              + where, key), 1)
                self.assertConsistent(0)

    def test_row_missing(self):
        key = self.first_row()
        self.assertEqual(self.execute("DELETE FROM invitation_days WHERE survey = ? AND day = ? AND channel = ?"
                                      " AND agent = ?", key), 1)
        self.assertInvitationsInconsistent()

    def test_extra_row(self):
        self.assertEqual(self.execute("INSERT INTO invitation_days (survey, day, channel, agent, sent, suppressed,"
                                      " opened, responded) VALUES (?, 20000, 'ghost', '', 1, 0, 0, 0)",
                                      (self.sid,)), 1)
        self.assertInvitationsInconsistent()

    def test_updates_and_deletes_keep_it_consistent(self):
        """Opened, answered, a burst that clears opened_at, erasure's and retention's deletes."""
        self.execute("UPDATE invitations SET opened_at = created_at + 1000 WHERE opened_at = 0 AND outcome = 0"
                     " AND created_at % 3 = 0")
        self.execute("UPDATE invitations SET opened_at = 0 WHERE responded_at = 0")
        self.execute("UPDATE invitations SET responded_at = created_at + 5000 WHERE outcome = 0"
                     " AND channel = 'email'")
        self.assertConsistent(0)
        self.execute("DELETE FROM invitations WHERE agent = 'bob'")
        self.assertConsistent(0)
        self.assertGreater(harness.db_query(self.d, "SELECT count(*) FROM invitation_days")[0][0], 0)

    def test_migration_backfills_an_older_database(self):
        """SQLite's migration 009 on a version 8 file, PostgreSQL's 003 on a version 2 database (the
        later migrations' tables dropped too, so each file is the older version again)."""
        before = harness.db_query(self.d, "SELECT * FROM invitation_days ORDER BY 1, 2, 3, 4")
        self.assertTrue(before)
        if harness.is_postgres():
            downgrade = harness.POSTGRES_TEXT_DOWNGRADE + (
                         "DROP TABLE invitation_days", "DROP TRIGGER invitation_days_insert ON invitations",
                         "DROP TRIGGER invitation_days_update ON invitations",
                         "DROP TRIGGER invitation_days_delete ON invitations",
                         "DROP FUNCTION invitation_days_trigger()", "DROP FUNCTION invitation_days_add(invitations, integer)",
                         "DROP TABLE webhook_events", "DROP TABLE webhook_deliveries", "DROP TABLE webhooks",
                         "DROP FUNCTION webhook_backlog_trigger()", "UPDATE schema_version SET version = 2")
        else:
            downgrade = TEXT_INDEX_DOWNGRADE + (
                         "DROP TRIGGER invitation_days_insert", "DROP TRIGGER invitation_days_update",
                         "DROP TRIGGER invitation_days_delete", "DROP TABLE invitation_days",
                        "DROP TABLE webhook_events", "DROP TABLE webhook_deliveries", "DROP TABLE webhooks",
                        "PRAGMA user_version = 8")
        for sql in downgrade:
            harness.db_execute(self.d, sql)
        self.assertEqual(harness.db_query(self.d, "SELECT count(*) FROM invitations WHERE outcome = 0")[0][0] > 0, True)
        self.d.start()
        self.d.stop()
        self.assertEqual(harness.db_query(self.d, "SELECT * FROM invitation_days ORDER BY 1, 2, 3, 4"), before)
        self.assertConsistent(0)

class WebhookBacklogVerifyTests(VerifyTestBase):
    """A subscription's backlog count (kept by triggers for the outbox's cap): verify recomputes it
    from the deliveries and names it when it is wrong."""

    def setUp(self):
        super().setUp()
        # Stopped first: a serving daemon's sender would claim these rows (due since 1970), fail to
        # reach the host, find their retry window long closed and mark them dead, changing the very
        # count under test.
        self.d.stop()
        self.hook = uid("hook")
        harness.db_execute(self.d, "INSERT INTO webhooks (id, url, events, format, secret, created_at, updated_at)"
                                   " VALUES (?, 'https://hooks.example.com/v', '[]', 'standard', 'whsec_dg', 0, 0)",
                           (self.hook,))
        for i, state in enumerate((0, 0, 1, 2, 3, 0)):
            harness.db_execute(self.d, "INSERT INTO webhook_deliveries (id, webhook, event_id, type, payload, state,"
                                       " created_at, window_start) VALUES (?, ?, ?, 'survey.updated', '{}', ?, ?, ?)",
                               ("dlv_" + uid("v"), self.hook, "msg_" + uid("v"), state, 1000 + i, 1000 + i))
        # Pending ones delivered, one dead one retried, one deleted: every kind of change the
        # triggers count.
        harness.db_execute(self.d, "UPDATE webhook_deliveries SET state = 2 WHERE webhook = ? AND created_at = 1000",
                           (self.hook,))
        harness.db_execute(self.d, "UPDATE webhook_deliveries SET state = 0 WHERE webhook = ? AND state = 3",
                           (self.hook,))
        harness.db_execute(self.d, "DELETE FROM webhook_deliveries WHERE webhook = ? AND created_at = 1005",
                           (self.hook,))

    def test_count_kept_then_tampered(self):
        self.assertEqual(harness.db_query(self.d, "SELECT backlog FROM webhooks")[0][0], 3)
        self.assertConsistent(0)
        harness.db_execute(self.d, "UPDATE webhooks SET backlog = backlog + 1")
        rc, out = self.verify()
        self.assertEqual(rc, 1, out[-3000:])
        self.assertRegex(out, r"\bwebhooks: .*%s" % re.escape(self.hook), out[-3000:])
        self.assertNotRegex(out, r"\brollup_answers\b", "untouched table reported")


if __name__ == "__main__":
    unittest.main()
