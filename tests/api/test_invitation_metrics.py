"""The metrics reply's `invitations` block: sent, suppressed, opened, responded, the response rate
and its Wilson interval, for the window (by the invitations' created_at), with every filter and
grouping of the rest of the reply.

Every expected figure comes from the `Model` below, an implementation of the documented rules
written apart from the server's (its own Wilson interval, its own days, weeks and months, its own
choice of buckets); nothing is copied from a reply. The invitations are made on fixed dates: rows
written into the database before the first metrics request (so that no cached reply predates
them), which lets one test cover every outcome, channel, agent and day. InvitationFlowTests makes
them only through the daemon's endpoints (the invitations API, the hosted page's visit and form)
and checks the undated figures; InvitationWriteTests checks that the survey's ETag and cached reply
change at each of those writes.
Runs on both backends (tests/api/meson.build).
"""

import datetime
import hashlib
import math
import random
import re
import unittest
import urllib.parse

from harness import ADMIN_TOKEN, INGEST_TOKEN, READ_TOKEN, BaseAPITest, db_execute, uid

UTC = datetime.timezone.utc
DAY = datetime.timedelta(days=1)
Z = 1.959964
TOL = 0.0051            # a figure is rounded to 2 decimals; float noise may move the last digit
MS = 1000

DEFINITION = {
    "title": "Invitation metrics",
    "questions": [
        {"id": "rec", "type": "nps", "text": "How likely are you to recommend us?"},
        {"id": "comment", "type": "text"},
    ],
}

CHANNELS = ["email", "sms", None]
AGENTS = ["alice", "bob", "carol", None]
# Invitations from Tuesday 2025-10-28 to Tuesday 2025-11-11: two months, three ISO weeks.
FIRST_DAY = datetime.datetime(2025, 10, 28, tzinfo=UTC)
DAYS = 15


def dt(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def ms(t):
    return int(round(t.timestamp() * MS))


def day_of(t):
    return t.date()


def bucket_key(day, group_by):
    if group_by == "day":
        return day.isoformat()
    if group_by == "week":
        year, week, _ = day.isocalendar()
        return "%04d-W%02d" % (year, week)
    return "%04d-%02d" % (day.year, day.month)


def wilson_pct(k, n):
    """The Wilson score interval of k successes in n, in percent (written from the formula)."""
    p = k / n
    centre = p + Z * Z / (2 * n)
    spread = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    denominator = 1 + Z * Z / n
    return [100 * (centre - spread) / denominator, 100 * (centre + spread) / denominator]


class Model:
    """What this file wrote: invitations and responses, and what a reply should say of them."""

    def __init__(self, survey):
        self.survey = survey
        self.invitations = []   # dicts: t, channel, agent, outcome, opened, responded
        self.responses = []     # dicts: t, channel, agent

    def select(self, rows, frm, to, channel, agent):
        return [r for r in rows
                if (frm is None or r["t"] >= frm) and (to is None or r["t"] < to)
                and (channel is None or r["channel"] == channel)
                and (agent is None or r["agent"] == agent)]

    @staticmethod
    def block(invitations):
        sent = [i for i in invitations if i["outcome"] == "sent"]
        responded = sum(1 for i in sent if i["responded"])
        out = {"sent": len(sent),
               "suppressed": len(invitations) - len(sent),
               "opened": sum(1 for i in sent if i["opened"] or i["responded"]),
               "responded": responded,
               "response_rate": 100.0 * responded / len(sent) if sent else None,
               "ci95": wilson_pct(responded, len(sent)) if sent else None}
        return out

    def time_keys(self, frm, to, counted, group_by):
        """Buckets from `from` (else the first day with a response to the survey, whatever the
        filters, or with an invitation the query counts) to the day before `to` (else the last
        such day); none when a bound is missing and there is no such day."""
        days = [day_of(r["t"]) for r in self.responses] + [day_of(i["t"]) for i in counted]
        if (frm is None or to is None) and not days:
            return []
        first = day_of(frm) if frm is not None else min(days)
        last = day_of(to - datetime.timedelta(milliseconds=1)) if to is not None else max(days)
        keys, d = [], first
        while d <= last:
            key = bucket_key(d, group_by)
            if not keys or keys[-1] != key:
                keys.append(key)
            d += DAY
        return keys

    def reply(self, params):
        frm = dt(params["from"]) if "from" in params else None
        to = dt(params["to"]) if "to" in params else None
        channel, agent = params.get("channel"), params.get("agent")
        invitations = self.select(self.invitations, frm, to, channel, agent)
        responses = self.select(self.responses, frm, to, channel, agent)
        out = {"responses": len(responses), "invitations": self.block(invitations)}
        group_by = params.get("group_by")
        if group_by in ("day", "week", "month"):
            keys = self.time_keys(frm, to, invitations, group_by)
            out["groups"] = [
                {"key": k,
                 "responses": sum(1 for r in responses if bucket_key(day_of(r["t"]), group_by) == k),
                 "invitations": self.block([i for i in invitations
                                            if bucket_key(day_of(i["t"]), group_by) == k])}
                for k in keys]
        elif group_by in ("channel", "agent"):
            keys = {r[group_by] for r in responses} | {i[group_by] for i in invitations}
            groups = [{"key": k,
                       "responses": sum(1 for r in responses if r[group_by] == k),
                       "invitations": self.block([i for i in invitations if i[group_by] == k])}
                      for k in keys]
            # by responses, most first; ties by key, a missing one ("") first
            out["groups"] = sorted(groups, key=lambda g: (-g["responses"], g["key"] or ""))
        return out


def metrics_path(survey, params):
    path = "/v1/surveys/%s/metrics" % survey
    if params:
        path += "?" + urllib.parse.urlencode(sorted(params.items()), quote_via=urllib.parse.quote)
    return path


def invitation_row(survey, t, channel, agent, outcome, opened_at=None, responded_at=None, customer=None,
                   properties=None, interaction=None):
    """One invitation's columns as the store keeps them (store.h, schema/008_invitations.sql). A
    sent one gets a token hash of its own (never a page this file visits); a suppressed one none."""
    iid = uid("inv")
    code = {"sent": 0, "throttled": 1, "sampled_out": 2}[outcome]
    token_hash = hashlib.sha256(iid.encode()).digest() if outcome == "sent" else None
    return [iid, survey, customer or uid("cust"), channel, agent, interaction, properties, code, token_hash,
            "f" * 32 if token_hash else None, ms(t), ms(t + 7 * DAY) if token_hash else 0,
            ms(opened_at) if opened_at else 0, ms(responded_at) if responded_at else 0]


def insert_invitations(daemon, rows):
    """Writes invitation_row()s in one statement (one psql run on PostgreSQL); their ids."""
    db_execute(daemon,
               "INSERT INTO invitations (id, survey, customer, channel, agent, interaction, properties,"
               " outcome, token_hash, form_key, created_at, expires_at, opened_at, responded_at) VALUES "
               + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(rows)),
               [value for row in rows for value in row])
    return [row[0] for row in rows]


def insert_invitation(daemon, survey, t, channel, agent, outcome, **columns):
    return insert_invitations(daemon, [invitation_row(survey, t, channel, agent, outcome, **columns)])[0]


class InvitationMetricsBase(BaseAPITest):

    def metrics(self, survey, params=None, headers=None):
        r = self.req("GET", metrics_path(survey, params or {}), token=READ_TOKEN, headers=headers)
        self.assertEqual(r.status, 200, r.body[:500])
        return r

    def assertNumber(self, actual, expected, path):
        if expected is None:
            self.assertIsNone(actual, path)
            return
        self.assertIn(type(actual), (int, float), "%s=%r is not a number" % (path, actual))
        self.assertAlmostEqual(actual, expected, delta=TOL, msg="%s: %r, expected %r" % (path, actual, expected))
        self.assertAlmostEqual(actual * 100, round(actual * 100), delta=1e-6,
                               msg="%s=%r is not rounded to 2 decimals" % (path, actual))

    def assertBlock(self, actual, expected, path):
        self.assertIsInstance(actual, dict, path)
        self.assertEqual(set(actual), set(expected), "%s: members" % path)
        for k in ("sent", "suppressed", "opened", "responded"):
            self.assertIs(type(actual[k]), int, "%s.%s=%r" % (path, k, actual[k]))
            self.assertEqual(actual[k], expected[k], "%s.%s" % (path, k))
        self.assertNumber(actual["response_rate"], expected["response_rate"], path + ".response_rate")
        if expected["ci95"] is None:
            self.assertIsNone(actual["ci95"], path + ".ci95")
        else:
            self.assertIsInstance(actual["ci95"], list, path + ".ci95")
            self.assertEqual(len(actual["ci95"]), 2, path + ".ci95")
            for i in range(2):
                self.assertNumber(actual["ci95"][i], expected["ci95"][i], "%s.ci95[%d]" % (path, i))

    def assertReply(self, actual, expected, params):
        where = "?%s" % urllib.parse.urlencode(sorted(params.items()))
        self.assertEqual(actual["responses"], expected["responses"], where + " $.responses")
        self.assertBlock(actual["invitations"], expected["invitations"], where + " $.invitations")
        if "groups" not in expected:
            self.assertNotIn("groups", actual, where)
            return
        got = actual["groups"]
        self.assertEqual([g["key"] for g in got], [g["key"] for g in expected["groups"]], where + " keys")
        for g, e in zip(got, expected["groups"]):
            path = "%s $.groups[%r]" % (where, g["key"])
            self.assertEqual(g["responses"], e["responses"], path + ".responses")
            self.assertBlock(g["invitations"], e["invitations"], path + ".invitations")


class InvitationFiguresTests(InvitationMetricsBase):
    """Every figure of every grouping and filter against the model."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sid = uid("im")
        cls.other = uid("im-other")
        cls.empty = uid("im-empty")
        for sid in (cls.sid, cls.other, cls.empty):
            r = cls.daemon.req("PUT", "/v1/surveys/" + sid, DEFINITION, token=ADMIN_TOKEN)
            assert r.status == 201, r
        cls.model = Model(cls.sid)
        cls.rows = []
        rng = random.Random(16)
        for n in range(150):
            t = FIRST_DAY + rng.randrange(DAYS) * DAY + datetime.timedelta(
                seconds=rng.randrange(86400), milliseconds=rng.randrange(1000))
            cls.add(t, rng.choice(CHANNELS), rng.choice(AGENTS), rng)
        # Edges: the first and last millisecond of a day, and a day before every response.
        cls.add(dt("2025-11-03T00:00:00.000Z"), "email", "alice", rng, outcome="sent", responded=True)
        cls.add(dt("2025-11-02T23:59:59.999Z"), "email", "alice", rng, outcome="sent", opened=True)
        cls.add(dt("2025-10-20T10:00:00Z"), "sms", "dora", rng, outcome="sent", responded=True)
        # A responded invitation whose open was never recorded still counts as opened.
        cls.add(dt("2025-11-05T09:00:00Z"), "sms", "bob", rng, outcome="sent", opened=False, responded=True)
        # Another survey's invitations are not counted here.
        for k in range(5):
            cls.rows.append(invitation_row(cls.other, dt("2025-11-04T12:00:00Z"), "email", "alice", "sent",
                                           responded_at=dt("2025-11-04T13:00:00Z")))
        insert_invitations(cls.daemon, cls.rows)
        # Responses on some of the days (posted, so their rollups are the real ones), and one on a
        # day after the last invitation: the time buckets span both.
        for k in range(40):
            t = FIRST_DAY + (2 + rng.randrange(DAYS - 4)) * DAY + datetime.timedelta(seconds=rng.randrange(86400))
            cls.post(t, rng.choice(CHANNELS), rng.choice(AGENTS), rng)
        cls.post(dt("2025-11-20T08:00:00Z"), "chat", "erin", rng)

    @classmethod
    def add(cls, t, channel, agent, rng, outcome=None, opened=None, responded=None):
        if outcome is None:
            outcome = rng.choices(["sent", "throttled", "sampled_out"], [7, 2, 1])[0]
        sent = outcome == "sent"
        if responded is None:
            responded = sent and rng.random() < 0.4
        if opened is None:
            opened = sent and (responded or rng.random() < 0.3)
        cls.rows.append(invitation_row(cls.sid, t, channel, agent, outcome,
                                       opened_at=t + datetime.timedelta(hours=1) if opened else None,
                                       responded_at=t + datetime.timedelta(days=2) if responded else None))
        cls.model.invitations.append({"t": t, "channel": channel, "agent": agent, "outcome": outcome,
                                      "opened": opened, "responded": responded})

    @classmethod
    def post(cls, t, channel, agent, rng):
        body = {"answers": {"rec": rng.randrange(11)},
                "submitted_at": t.strftime("%Y-%m-%dT%H:%M:%SZ")}
        if channel:
            body["channel"] = channel
        if agent:
            body["agent"] = agent
        r = cls.daemon.req("POST", "/v1/surveys/%s/responses" % cls.sid, body, token=INGEST_TOKEN)
        assert r.status == 201, r
        cls.model.responses.append({"t": dt(body["submitted_at"]), "channel": channel, "agent": agent})

    def check(self, params):
        r = self.metrics(self.sid, params)
        self.assertReply(r.json, self.model.reply(params), params)
        return r.json

    def test_model_sanity(self):
        # The data covers what the figures must tell apart.
        outcomes = {i["outcome"] for i in self.model.invitations}
        self.assertEqual(outcomes, {"sent", "throttled", "sampled_out"})
        block = Model.block(self.model.invitations)
        self.assertGreater(block["responded"], 10)
        self.assertLess(block["responded"], block["opened"])
        self.assertLess(block["opened"], block["sent"])
        # the worked example of the block's own formula: 3 of 8
        lo, hi = wilson_pct(3, 8)
        self.assertAlmostEqual(lo, 13.684428, places=5)
        self.assertAlmostEqual(hi, 69.425761, places=5)

    def test_all_time(self):
        j = self.check({})
        self.assertEqual(j["invitations"]["sent"] + j["invitations"]["suppressed"], len(self.model.invitations))

    def test_windows(self):
        for frm, to in (("2025-10-28T00:00:00Z", "2025-11-12T00:00:00Z"),
                        ("2025-11-03T00:00:00Z", "2025-11-04T00:00:00Z"),   # a day's first millisecond in
                        ("2025-11-01T00:00:00Z", "2025-11-03T00:00:00Z"),   # ... its last one out
                        ("2025-11-03T12:00:00Z", "2025-11-06T06:30:00Z"),   # partial days
                        ("2025-09-01T00:00:00Z", "2025-10-01T00:00:00Z")):  # nothing at all
            with self.subTest(frm=frm, to=to):
                self.check({"from": frm, "to": to})
        self.check({"from": "2025-11-06T00:00:00Z"})
        self.check({"to": "2025-11-06T00:00:00Z"})

    def test_filters(self):
        for params in ({"channel": "email"}, {"channel": "sms"}, {"channel": "fax"}, {"agent": "alice"},
                       {"agent": "dora"}, {"channel": "email", "agent": "bob"},
                       {"channel": "sms", "from": "2025-11-01T00:00:00Z", "to": "2025-11-08T00:00:00Z"}):
            with self.subTest(params=params):
                self.check(params)

    def test_nothing_sent_is_null(self):
        j = self.check({"channel": "fax"})
        self.assertEqual(j["invitations"], {"sent": 0, "suppressed": 0, "opened": 0, "responded": 0,
                                            "response_rate": None, "ci95": None})
        r = self.metrics(self.empty, {"group_by": "channel"})
        self.assertEqual(r.json["invitations"]["response_rate"], None)
        self.assertEqual(r.json["groups"], [])

    def test_group_by_time(self):
        for group_by in ("day", "week", "month"):
            for window in ({}, {"from": "2025-10-30T00:00:00Z", "to": "2025-11-10T00:00:00Z"},
                           {"from": "2025-11-03T06:00:00Z"}, {"to": "2025-11-04T00:00:00Z"},
                           {"channel": "sms"}, {"agent": "alice", "channel": "email"}):
                params = dict(window, group_by=group_by)
                with self.subTest(params=params):
                    self.check(params)

    def test_group_by_time_spans_invitations_before_responses(self):
        j = self.check({"group_by": "day"})
        keys = [g["key"] for g in j["groups"]]
        self.assertEqual(keys[0], "2025-10-20")     # an invitation, weeks before the first response
        self.assertEqual(keys[-1], "2025-11-20")    # a response, after the last invitation
        self.assertEqual(j["groups"][0]["invitations"]["sent"], 1)
        self.assertEqual(j["groups"][0]["responses"], 0)

    def test_group_by_channel_and_agent(self):
        for group_by in ("channel", "agent"):
            for window in ({}, {"from": "2025-11-01T00:00:00Z", "to": "2025-11-08T00:00:00Z"},
                           {"channel": "email"}, {"agent": "carol"}):
                params = dict(window, group_by=group_by)
                with self.subTest(params=params):
                    self.check(params)

    def test_group_without_responses_is_listed(self):
        # dora has invitations only: her group shows them, with no responses.
        j = self.check({"group_by": "agent"})
        dora = [g for g in j["groups"] if g["key"] == "dora"]
        self.assertEqual(len(dora), 1, [g["key"] for g in j["groups"]])
        self.assertEqual(dora[0]["responses"], 0)
        self.assertEqual(dora[0]["invitations"]["responded"], 1)
        self.assertEqual(dora[0]["invitations"]["response_rate"], 100)

    def test_compare_previous_keeps_the_block(self):
        params = {"from": "2025-11-04T00:00:00Z", "to": "2025-11-08T00:00:00Z", "compare": "previous"}
        r = self.metrics(self.sid, params)
        self.assertBlock(r.json["invitations"], self.model.reply(params)["invitations"], "$.invitations")

    def test_bounded_time_grouping_drops_older_invitations(self):
        # Without `from`, a day grouping spans at most 3700 days back from its last one; the reply's
        # `from` then says where it starts, and every total covers that window: an invitation from
        # 2012 is outside it, as an answer from then would be. By month, 2012 is in reach.
        sid = uid("im-old")
        self.assertEqual(self.req("PUT", "/v1/surveys/" + sid, DEFINITION, token=ADMIN_TOKEN).status, 201)
        insert_invitation(self.daemon, sid, dt("2012-01-10T10:00:00Z"), "email", None, "sent",
                          responded_at=dt("2012-01-11T10:00:00Z"))
        insert_invitation(self.daemon, sid, dt("2025-11-01T10:00:00Z"), "email", None, "sent")
        last = datetime.date(2025, 11, 1)
        first = last - datetime.timedelta(days=3699)
        r = self.metrics(sid, {"group_by": "day"})
        self.assertEqual(r.json["from"], first.isoformat() + "T00:00:00.000Z")
        self.assertEqual(len(r.json["groups"]), 3700)
        self.assertEqual((r.json["groups"][0]["key"], r.json["groups"][-1]["key"]),
                         (first.isoformat(), last.isoformat()))
        self.assertEqual((r.json["invitations"]["sent"], r.json["invitations"]["responded"]), (1, 0))
        self.assertEqual(sum(g["invitations"]["sent"] for g in r.json["groups"]), 1)
        r = self.metrics(sid, {"group_by": "month"})
        self.assertIsNone(r.json["from"])
        self.assertEqual(r.json["groups"][0]["key"], "2012-01")
        self.assertEqual((r.json["invitations"]["sent"], r.json["invitations"]["responded"]), (2, 1))
        self.assertEqual(r.json["groups"][0]["invitations"]["response_rate"], 100)

    def test_other_survey(self):
        r = self.metrics(self.other)
        self.assertEqual((r.json["invitations"]["sent"], r.json["invitations"]["responded"]), (5, 5))
        self.assertEqual(r.json["invitations"]["response_rate"], 100)

    def test_overview_has_no_block(self):
        # Documented: the overview lists responses and scores only (README, openapi.yaml).
        r = self.req("GET", "/v1/metrics", token=READ_TOKEN)
        self.assertEqual(r.status, 200)
        for item in r.json["surveys"]:
            self.assertNotIn("invitations", item)


class InvitationWriteTests(InvitationMetricsBase):
    """An invitation written through the daemon changes the survey's ETag and its cached reply."""

    daemon_env = {"SURVEYD_PUBLIC_URL": "http://127.0.0.1:9"}   # links are made, never followed here

    def setUp(self):
        self.sid = uid("imw")
        r = self.req("PUT", "/v1/surveys/" + self.sid, DEFINITION, token=ADMIN_TOKEN)
        self.assertEqual(r.status, 201, r.body[:300])

    def invite(self, customer, **extra):
        body = dict({"customer": customer, "channel": "email"}, **extra)
        r = self.req("POST", "/v1/surveys/%s/invitations" % self.sid, body, token=INGEST_TOKEN)
        self.assertIn(r.status, (200, 201), r.body[:500])
        return r

    def test_creation_changes_etag(self):
        first = self.metrics(self.sid)
        etag = first.headers.get("ETag")
        self.assertTrue(etag and etag.startswith('W/"'), etag)
        self.assertEqual(first.json["invitations"]["sent"], 0)
        self.assertEqual(self.req("GET", metrics_path(self.sid, {}), token=READ_TOKEN,
                                  headers={"If-None-Match": etag}).status, 304)
        self.assertEqual(self.invite(uid("cust")).status, 201)
        after = self.metrics(self.sid, headers={"If-None-Match": etag})
        self.assertEqual(after.status, 200)
        self.assertNotEqual(after.headers.get("ETag"), etag)
        self.assertEqual(after.json["invitations"]["sent"], 1)
        self.assertEqual(after.json["invitations"]["response_rate"], 0)

    def test_suppressed_creation_changes_etag(self):
        customer = uid("cust")
        self.assertEqual(self.invite(customer).status, 201)
        before = self.metrics(self.sid, {"group_by": "channel"})
        again = self.invite(customer)       # within the default throttle: suppressed, and counted
        self.assertEqual(again.status, 200, again.body[:300])
        after = self.metrics(self.sid, {"group_by": "channel"},
                             headers={"If-None-Match": before.headers.get("ETag")})
        self.assertEqual(after.status, 200)
        self.assertEqual(after.json["invitations"]["suppressed"], 1)
        self.assertEqual(after.json["groups"][0]["invitations"]["suppressed"], 1)

    def test_visit_and_answer_through_the_page_change_etag(self):
        # The whole way of one invitation: made, opened by a person's visit, answered on its page.
        # Each step is a write the survey's cached reply and ETag must not outlive.
        made = self.invite(uid("cust"))
        self.assertEqual(made.status, 201, made.body[:300])
        token = made.json["url"].rsplit("/s/", 1)[1]
        before = self.metrics(self.sid)
        self.assertEqual((before.json["invitations"]["sent"], before.json["invitations"]["opened"]), (1, 0))
        browser = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                                 "Chrome/131.0.0.0 Safari/537.36"}
        # A link scanner's visits open nothing (the page counts them as automated).
        self.req("HEAD", "/s/" + token, headers=browser)
        self.req("GET", "/s/%s?a=9" % token, headers={"User-Agent": "Mozilla/5.0 (compatible; Barracuda Sentinel)"})
        scanned = self.metrics(self.sid)
        self.assertEqual((scanned.json["invitations"]["opened"], scanned.json["invitations"]["responded"]), (0, 0))
        page = self.req("GET", "/s/" + token, headers=browser)
        self.assertEqual(page.status, 200, page.body[:300])
        opened = self.metrics(self.sid, headers={"If-None-Match": scanned.headers.get("ETag")})
        self.assertEqual(opened.status, 200, "still 304 after the page was opened")
        self.assertEqual((opened.json["invitations"]["opened"], opened.json["invitations"]["responded"]), (1, 0))
        form_key = re.search(r'name="form_key" value="([0-9a-f]+)"', page.body.decode()).group(1)
        answer = self.req("POST", "/s/" + token, body=urllib.parse.urlencode({"form_key": form_key, "rec": "9"}),
                          headers=dict(browser, **{"Content-Type": "application/x-www-form-urlencoded",
                                                   "Origin": "http://127.0.0.1:%d" % self.daemon.port,
                                                   "Sec-Fetch-Site": "same-origin"}))
        self.assertEqual(answer.status, 200, answer.body[:300])
        answered = self.metrics(self.sid, headers={"If-None-Match": opened.headers.get("ETag")})
        self.assertEqual(answered.status, 200, "still 304 after the page recorded an answer")
        self.assertEqual(answered.json["responses"], 1)
        self.assertEqual(answered.json["invitations"],
                         {"sent": 1, "suppressed": 0, "opened": 1, "responded": 1, "response_rate": 100,
                          "ci95": [20.65, 100]})


BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                         "Chrome/131.0.0.0 Safari/537.36"}


class InvitationFlowTests(InvitationMetricsBase):
    """The figures of invitations made, opened and answered only through the daemon's own endpoints
    (POST /v1/surveys/{survey}/invitations, the hosted page's GET and form POST), today: what each
    reply said is what the model counts. Sampling (sample_rate 0.6) and throttling (a customer
    invited twice) decide some outcomes; the block and its channel/agent groups and filters are
    checked (the dated groupings are InvitationFiguresTests', on fixed dates)."""

    daemon_env = {"SURVEYD_PUBLIC_URL": "http://127.0.0.1:9", "SURVEYD_RATE_LIMIT": "100000"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Fixed ids (this daemon is the class's own): sampling hashes survey and customer, so every
        # run makes the same decisions.
        cls.sid = "imf-flow"
        definition = dict(DEFINITION, sample_rate=0.6)
        r = cls.daemon.req("PUT", "/v1/surveys/" + cls.sid, definition, token=ADMIN_TOKEN)
        assert r.status == 201, r
        cls.model = Model(cls.sid)
        rng = random.Random(1616)
        customers = []
        for n in range(40):
            channel, agent = rng.choice(CHANNELS), rng.choice(AGENTS)
            again = customers and rng.random() < 0.25
            customer = rng.choice(customers) if again else "flow-cust-%d" % n
            customers.append(customer)
            body = {"customer": customer}
            if channel:
                body["channel"] = channel
            if agent:
                body["agent"] = agent
            made = cls.daemon.req("POST", "/v1/surveys/%s/invitations" % cls.sid, body, token=INGEST_TOKEN)
            assert made.status in (200, 201), made
            outcome = made.json["reason"] if made.json.get("suppressed") else "sent"
            opened = responded = False
            sent = sum(1 for i in cls.model.invitations if i["outcome"] == "sent")
            # of the sent ones, two in three opened; of those, every other one answered
            if outcome == "sent" and sent % 3 != 2:
                opened = True
                token = made.json["url"].rsplit("/s/", 1)[1]
                page = cls.daemon.req("GET", "/s/" + token, headers=BROWSER)
                assert page.status == 200, page
                if sent % 2 == 0:
                    responded = True
                    key = re.search(r'name="form_key" value="([0-9a-f]+)"', page.body.decode()).group(1)
                    answer = cls.daemon.req(
                        "POST", "/s/" + token, body=urllib.parse.urlencode({"form_key": key, "rec": str(n % 11)}),
                        headers=dict(BROWSER, **{"Content-Type": "application/x-www-form-urlencoded",
                                                 "Origin": "http://127.0.0.1:%d" % cls.daemon.port,
                                                 "Sec-Fetch-Site": "same-origin"}))
                    assert answer.status == 200, answer
                    cls.model.responses.append({"t": None, "channel": channel, "agent": agent})
            cls.model.invitations.append({"t": None, "channel": channel, "agent": agent, "outcome": outcome,
                                          "opened": opened, "responded": responded})

    def test_data_covers_every_outcome(self):
        self.assertEqual({i["outcome"] for i in self.model.invitations}, {"sent", "throttled", "sampled_out"})
        block = Model.block(self.model.invitations)
        self.assertGreater(block["opened"], block["responded"])
        self.assertGreater(block["responded"], 0)

    def test_figures(self):
        for params in ({}, {"group_by": "channel"}, {"group_by": "agent"}, {"channel": "email"},
                       {"agent": "bob", "group_by": "channel"}, {"channel": "sms", "group_by": "agent"}):
            with self.subTest(params=params):
                r = self.metrics(self.sid, params)
                self.assertReply(r.json, self.model.reply(params), params)


if __name__ == "__main__":
    unittest.main()
