"""Invitations: POST /v1/surveys/{survey}/invitations and GET /v1/invitations/{id}.

Validation errors, the 201 (link, email_html, text) and the suppressed 200, the state a GET shows
(sent, opened, responded, expired, suppressed: rows aged with db_execute), throttling (by the
customer's last invitation or response, the survey's throttle_days or --throttle-days) and
sampling, both against an independent model (hashlib), Idempotency-Key, the definition fields
throttle_days and sample_rate, --public-url and /metrics counters. Runs on both backends."""

import datetime
import hashlib
import re
import time
import unittest

from harness import (ADMIN_TOKEN, INGEST_TOKEN, READ_TOKEN, BaseAPITest, Daemon, db_execute,
                     db_query, fmt_time, parse_time, run_cli, uid, utc_now)

PUBLIC_URL = "https://surveys.example.com/feedback/"
LINK_RE = re.compile(r"^https://surveys\.example\.com/feedback/s/([a-z2-7]{32})$")
DAY = datetime.timedelta(days=1)

NPS_DEF = {
    "title": "Support & <you>",
    "questions": [
        {"id": "rec", "type": "nps", "text": "How likely are you to recommend us?"},
        {"id": "comment", "type": "text"},
    ],
}


def definition(**extra):
    d = dict(NPS_DEF)
    d.update(extra)
    return d


def model_sampled_in(survey, customer, rate):
    """The sampling rule as documented: SHA-256(survey NUL customer), the first 8 bytes big-endian,
    their top 53 bits over 2^53, below the rate."""
    h = hashlib.sha256(survey.encode() + b"\0" + customer.encode()).digest()
    return (int.from_bytes(h[:8], "big") >> 11) / float(1 << 53) < rate


class InvitationBase(BaseAPITest):
    daemon_args = ("--public-url", PUBLIC_URL)

    def invite(self, survey, body, token=INGEST_TOKEN, headers=None):
        return self.req("POST", "/v1/surveys/%s/invitations" % survey, body, token=token, headers=headers)

    def invite_sent(self, survey, body, **kw):
        r = self.invite(survey, body, **kw)
        self.assertEqual(r.status, 201, "POST invitation -> %d %r" % (r.status, r.body[:800]))
        return r

    def invite_suppressed(self, survey, body, reason, **kw):
        r = self.invite(survey, body, **kw)
        self.assertEqual(r.status, 200, "POST invitation -> %d %r" % (r.status, r.body[:800]))
        self.assertEqual(r.json["suppressed"], True, r.json)
        self.assertEqual(r.json["reason"], reason, r.json)
        self.assertEqual(set(r.json), {"id", "suppressed", "reason", "eligible_at"}, r.json)
        self.assertIsNone(r.headers.get("Location"))
        return r

    def get_invitation(self, iid, token=READ_TOKEN):
        r = self.req("GET", "/v1/invitations/" + iid, token=token)
        self.assertEqual(r.status, 200, r.body[:500])
        return r.json


class CreateTests(InvitationBase):

    def test_sent_reply_link_and_messages(self):
        sid = self.new_survey(definition())
        r = self.invite_sent(sid, {"customer": "cust-1", "channel": "email", "agent": "ag-7",
                                   "interaction": "ticket-42", "properties": {"plan": "pro"}})
        j = r.json
        self.assertEqual(set(j), {"id", "url", "expires_at", "email_html", "text"})
        self.assertEqual(r.headers.get("Location"), "/v1/invitations/" + j["id"])
        self.assertEqual(r.headers.get("Content-Type").split(";")[0], "application/json")
        token = LINK_RE.match(j["url"]).group(1)  # the base's trailing slash is not doubled
        self.assertRFC3339UTC(j["expires_at"])
        # expires_in defaults to 7 days from creation.
        g = self.get_invitation(j["id"])
        self.assertEqual(parse_time(j["expires_at"]) - parse_time(g["created_at"]), 7 * DAY)
        self.assertLess(abs(parse_time(g["created_at"]) - utc_now()), datetime.timedelta(minutes=1))
        # The email: the first question's 0..10 scale as links to url?a=N, escaped, no script.
        html = j["email_html"]
        for v in range(11):
            self.assertEqual(html.count('href="%s?a=%d"' % (j["url"], v)), 1, v)
        self.assertIn("Support &amp; &lt;you&gt;", html)
        self.assertIn("How likely are you to recommend us?", html)
        self.assertNotIn("<script", html.lower())
        self.assertNotIn("<style", html.lower())
        self.assertIn("<table", html)
        self.assertEqual(j["text"], "Support & <you>\nHow likely are you to recommend us?\n%s\n" % j["url"])
        # The GET shows everything but the token.
        self.assertEqual(g["id"], j["id"])
        self.assertEqual(g["survey"], sid)
        self.assertEqual((g["customer"], g["channel"], g["agent"], g["interaction"]),
                         ("cust-1", "email", "ag-7", "ticket-42"))
        self.assertEqual(g["properties"], {"plan": "pro"})
        self.assertEqual(g["state"], "sent")
        self.assertIsNone(g["reason"])
        self.assertSameInstant(g["expires_at"], j["expires_at"])
        for k in ("opened_at", "responded_at", "response_id", "captured"):
            self.assertIsNone(g[k], k)
        self.assertEqual(g["automated_visits"], 0)
        self.assertEqual(set(g), {"id", "survey", "customer", "channel", "agent", "interaction", "properties",
                                  "state", "reason", "created_at", "expires_at", "opened_at", "responded_at",
                                  "response_id", "automated_visits", "captured"})
        self.assertNotIn(token, r.body.decode().replace(j["url"], ""))  # only inside the link
        self.assertNotIn(token, self.req("GET", "/v1/invitations/" + j["id"], token=READ_TOKEN).body.decode())

    def test_links_differ_and_only_hashes_are_stored(self):
        sid = self.new_survey(definition(throttle_days=0))
        urls = [self.invite_sent(sid, {"customer": "c%d" % i}).json["url"] for i in range(3)]
        self.assertEqual(len(set(urls)), 3)
        tokens = [LINK_RE.match(u).group(1) for u in urls]
        rows = db_query(self.daemon, "SELECT token_hash FROM invitations WHERE survey = ?", (sid,))
        stored = {bytes(r[0]) if not isinstance(r[0], str) else bytes.fromhex(r[0].replace("\\x", ""))
                  for r in rows}
        self.assertEqual(stored, {hashlib.sha256(t.encode()).digest() for t in tokens})

    def test_expires_in(self):
        sid = self.new_survey(definition(throttle_days=0))
        for seconds in (60, 3600, 90 * 86400):
            j = self.invite_sent(sid, {"customer": "e%d" % seconds, "expires_in": seconds}).json
            g = self.get_invitation(j["id"])
            self.assertEqual(parse_time(g["expires_at"]) - parse_time(g["created_at"]),
                             datetime.timedelta(seconds=seconds))

    def test_other_first_questions(self):
        cases = [
            ({"id": "q", "type": "csat", "scale": 5}, ["1", "2", "3", "4", "5"]),
            ({"id": "q", "type": "ces", "scale": 7}, [str(v) for v in range(1, 8)]),
            ({"id": "q", "type": "yes_no"}, ["yes", "no"]),
            ({"id": "q", "type": "choice", "options": ["Fast & kind", "Slow"]}, ["Fast%20%26%20kind", "Slow"]),
            ({"id": "q", "type": "text"}, []),
        ]
        for question, values in cases:
            sid = self.new_survey({"title": "T", "questions": [question]})
            j = self.invite_sent(sid, {"customer": "c"}).json
            links = re.findall(r'href="([^"]*)"', j["email_html"])
            self.assertEqual([l[len(j["url"]) + 3:] for l in links if l.startswith(j["url"] + "?a=")], values,
                             question)
            if not values:
                self.assertIn('href="%s"' % j["url"], j["email_html"])
                self.assertIn(">Answer</a>", j["email_html"])


class ValidationTests(InvitationBase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sid = uid("inv-val")
        r = cls.daemon.req("PUT", "/v1/surveys/" + cls.sid, NPS_DEF, token=ADMIN_TOKEN)
        assert r.status == 201, r

    def test_field_errors(self):
        sid = self.new_survey(definition())
        self.assertValidation(self.invite(sid, {}), "customer", exact=True)
        self.assertValidation(self.invite(sid, {"customer": ""}), "customer", exact=True)
        self.assertValidation(self.invite(sid, {"customer": "x" * 129}), "customer", exact=True)
        self.assertValidation(self.invite(sid, {"customer": None}), "customer", exact=True)
        self.assertValidation(self.invite(sid, {
            "customer": 5, "channel": "E-mail", "agent": "", "interaction": 7, "properties": {"k": 1},
            "expires_in": 59, "send": {"email": "not an address"}, "extra": True}),
            "customer", "channel", "agent", "interaction", "properties.k", "expires_in", "send.email", "extra",
            exact=True)
        self.assertValidation(self.invite(sid, {"customer": "c", "expires_in": 90 * 86400 + 1}), "expires_in")
        self.assertValidation(self.invite(sid, {"customer": "c", "expires_in": 1.5}), "expires_in")
        self.assertValidation(self.invite(sid, {"customer": "c", "send": "a@b.c"}), "send")
        self.assertValidation(self.invite(sid, {"customer": "c", "send": {}}), "send.email")
        self.assertValidation(self.invite(sid, {"customer": "c", "send": {"email": "a@b.c\r\nBcc: x@y.z"}}),
                              "send.email")
        self.assertValidation(self.invite(sid, []), "")
        # Nothing of it was stored.
        self.assertEqual(db_query(self.daemon, "SELECT COUNT(*) FROM invitations WHERE survey = ?", (sid,)),
                         [(0,)])

    def test_body_and_media_type(self):
        r = self.req("POST", "/v1/surveys/%s/invitations" % self.sid, b'{"customer":', token=INGEST_TOKEN,
                     headers={"Content-Type": "application/json"})
        self.assertProblem(r, 400, "invalid_json")
        r = self.req("POST", "/v1/surveys/%s/invitations" % self.sid, b'{"customer":"c"}', token=INGEST_TOKEN,
                     headers={"Content-Type": "text/plain"})
        self.assertProblem(r, 415, "unsupported_media_type")

    def test_auth_and_survey(self):
        self.assertProblem(self.invite(self.sid, {"customer": "c"}, token=None), 401, "unauthorized")
        self.assertProblem(self.invite(self.sid, {"customer": "c"}, token="wrong"), 401, "unauthorized")
        self.assertProblem(self.invite(self.sid, {"customer": "c"}, token=READ_TOKEN), 403, "forbidden")
        self.assertProblem(self.invite("no-such-survey", {"customer": "c"}), 404, "survey_not_found")
        # A public survey takes anonymous responses, never anonymous invitations.
        pub = self.new_survey(definition(public=True))
        self.assertProblem(self.invite(pub, {"customer": "c"}, token=None), 401, "unauthorized")
        self.assertEqual(self.invite(self.sid, {"customer": "admin-made"}, token=ADMIN_TOKEN).status, 201)

    def test_send_without_smtp(self):
        r = self.invite(self.sid, {"customer": "c-mail", "send": {"email": "ada@example.com"}})
        self.assertProblem(r, 409, "email_not_configured")
        self.assertEqual(db_query(self.daemon, "SELECT COUNT(*) FROM invitations WHERE customer = ?",
                                  ("c-mail",)), [(0,)])

    def test_get_errors(self):
        self.assertProblem(self.req("GET", "/v1/invitations/nope", token=READ_TOKEN), 404, "not_found")
        iid = self.invite_sent(self.sid, {"customer": "c-get"}).json["id"]
        self.assertProblem(self.req("GET", "/v1/invitations/" + iid), 401, "unauthorized")
        self.assertProblem(self.req("GET", "/v1/invitations/" + iid, token=INGEST_TOKEN), 403, "forbidden")
        self.assertEqual(self.req("GET", "/v1/invitations/" + iid, token=ADMIN_TOKEN).status, 200)

    def test_bad_idempotency_key(self):
        r = self.invite(self.sid, {"customer": "c"}, headers={"Idempotency-Key": "\u00e9".encode().decode("latin-1")})
        self.assertValidation(r, "Idempotency-Key")


class DefinitionFieldTests(InvitationBase):

    def test_throttle_days_and_sample_rate(self):
        sid = uid("inv-def")
        r = self.put_survey(sid, definition(throttle_days=30, sample_rate=0.25))
        self.assertEqual((r.json["throttle_days"], r.json["sample_rate"]), (30, 0.25))
        g = self.req("GET", "/v1/surveys/" + sid, token=READ_TOKEN).json
        self.assertEqual((g["throttle_days"], g["sample_rate"]), (30, 0.25))
        r = self.put_survey(sid, definition(throttle_days=None))
        self.assertNotIn("throttle_days", r.json)  # absent: the server's --throttle-days
        self.assertEqual(r.json["sample_rate"], 1)
        for bad in ({"throttle_days": 366}, {"throttle_days": -1}, {"throttle_days": 2.5}, {"throttle_days": "7"},
                    {"sample_rate": 1.5}, {"sample_rate": -0.01}, {"sample_rate": None}, {"sample_rate": "1"}):
            r = self.put_survey(sid, definition(**bad), expect=None)
            self.assertValidation(r, next(iter(bad)), exact=True)


class ThrottleTests(InvitationBase):
    """--throttle-days is 7 (the default): a customer invited or answering within 7 days is not
    invited again; eligible_at says when they may be."""

    def test_second_invitation_is_throttled(self):
        sid = self.new_survey(definition())
        first = self.invite_sent(sid, {"customer": "t1"}).json
        created = parse_time(self.get_invitation(first["id"])["created_at"])
        r = self.invite_suppressed(sid, {"customer": "t1", "channel": "sms"}, "throttled")
        self.assertEqual(parse_time(r.json["eligible_at"]), created + 7 * DAY)
        g = self.get_invitation(r.json["id"])
        self.assertEqual((g["state"], g["reason"], g["channel"]), ("suppressed", "throttled", "sms"))
        self.assertIsNone(g["expires_at"])
        # The suppressed one is not a contact: the eligibility still counts from the first.
        r = self.invite_suppressed(sid, {"customer": "t1"}, "throttled")
        self.assertEqual(parse_time(r.json["eligible_at"]), created + 7 * DAY)
        # Other customers and other surveys are not throttled by it.
        self.invite_sent(sid, {"customer": "t2"})
        self.invite_sent(self.new_survey(definition()), {"customer": "t1"})

    def test_throttled_by_a_response(self):
        sid = self.new_survey(definition())
        submitted = utc_now().replace(microsecond=0) - 3 * DAY
        r = self.post_response(sid, {"answers": {"rec": 9}, "customer": "r1", "submitted_at": fmt_time(submitted)})
        self.assertEqual(r.status, 201, r.body)
        r = self.invite_suppressed(sid, {"customer": "r1"}, "throttled")
        self.assertEqual(parse_time(r.json["eligible_at"]), submitted + 7 * DAY)
        # An answer 8 days old no longer throttles.
        old = utc_now().replace(microsecond=0) - 8 * DAY
        r = self.post_response(sid, {"answers": {"rec": 9}, "customer": "r2", "submitted_at": fmt_time(old)})
        self.assertEqual(r.status, 201, r.body)
        self.invite_sent(sid, {"customer": "r2"})

    def test_survey_throttle_days(self):
        sid = self.new_survey(definition(throttle_days=0))
        for _ in range(3):
            self.invite_sent(sid, {"customer": "z"})
        sid = self.new_survey(definition(throttle_days=1))
        two_days = utc_now().replace(microsecond=0) - 2 * DAY
        self.assertEqual(self.post_response(sid, {"answers": {"rec": 1}, "customer": "o",
                                                  "submitted_at": fmt_time(two_days)}).status, 201)
        self.invite_sent(sid, {"customer": "o"})
        sid = self.new_survey(definition(throttle_days=30))
        ten_days = utc_now().replace(microsecond=0) - 10 * DAY
        self.assertEqual(self.post_response(sid, {"answers": {"rec": 1}, "customer": "o",
                                                  "submitted_at": fmt_time(ten_days)}).status, 201)
        r = self.invite_suppressed(sid, {"customer": "o"}, "throttled")
        self.assertEqual(parse_time(r.json["eligible_at"]), ten_days + 30 * DAY)


class GlobalThrottleTests(InvitationBase):
    daemon_args = ("--public-url", PUBLIC_URL, "--throttle-days", "2")

    def test_default_from_flag(self):
        sid = self.new_survey(definition())
        three_days = utc_now().replace(microsecond=0) - 3 * DAY
        one_day = utc_now().replace(microsecond=0) - DAY
        for customer, when in (("old", three_days), ("new", one_day)):
            self.assertEqual(self.post_response(sid, {"answers": {"rec": 1}, "customer": customer,
                                                      "submitted_at": fmt_time(when)}).status, 201)
        self.invite_sent(sid, {"customer": "old"})
        r = self.invite_suppressed(sid, {"customer": "new"}, "throttled")
        self.assertEqual(parse_time(r.json["eligible_at"]), one_day + 2 * DAY)


class SamplingTests(InvitationBase):

    def test_decisions_match_the_model(self):
        rate = 0.3
        sid = self.new_survey(definition(throttle_days=0, sample_rate=rate))
        customers = ["cust-%d" % i for i in range(60)] + ["ünïcode-kunde", "a/b c"]
        expected = {c: model_sampled_in(sid, c, rate) for c in customers}
        self.assertTrue(0 < sum(expected.values()) < len(customers))  # both kinds are exercised
        for c in customers:
            for _ in range(2):  # the same customer is always in or always out
                r = self.invite(sid, {"customer": c})
                if expected[c]:
                    self.assertEqual(r.status, 201, (c, r.body[:300]))
                else:
                    self.assertEqual(r.status, 200, (c, r.body[:300]))
                    self.assertEqual((r.json["reason"], r.json["eligible_at"]), ("sampled_out", None))
                    self.assertEqual(self.get_invitation(r.json["id"])["state"], "suppressed")

    def test_sampled_out_wins_over_throttled(self):
        sid = self.new_survey(definition(sample_rate=0.5))
        out = next(c for c in ("c%d" % i for i in range(100)) if not model_sampled_in(sid, c, 0.5))
        self.assertEqual(self.post_response(sid, {"answers": {"rec": 1}, "customer": out}).status, 201)
        r = self.invite_suppressed(sid, {"customer": out}, "sampled_out")
        self.assertIsNone(r.json["eligible_at"])

    def test_rates_zero_and_one(self):
        sid = self.new_survey(definition(throttle_days=0, sample_rate=0))
        for i in range(5):
            self.invite_suppressed(sid, {"customer": "n%d" % i}, "sampled_out")
        sid = self.new_survey(definition(throttle_days=0, sample_rate=1))
        for i in range(5):
            self.invite_sent(sid, {"customer": "n%d" % i})


class StateTests(InvitationBase):
    """What the hosted page records (opened_at, responded_at) and time (expires_at) decide the
    state; rows are aged in the database while the daemon is stopped."""

    def test_states(self):
        sid = self.new_survey(definition(throttle_days=0))
        ids = {name: self.invite_sent(sid, {"customer": name, "expires_in": 3600}).json["id"]
               for name in ("sent", "opened", "responded", "expired", "opened-expired", "responded-expired")}
        self.daemon.stop()
        now_ms = int(utc_now().timestamp() * 1000)
        past, hour = now_ms - 1000, 3600 * 1000
        for name, iid in ids.items():
            if "opened" in name:
                db_execute(self.daemon, "UPDATE invitations SET opened_at = ? WHERE id = ?", (now_ms - hour, iid))
            if "responded" in name:
                db_execute(self.daemon, "UPDATE invitations SET opened_at = ?, responded_at = ? WHERE id = ?",
                           (now_ms - hour, now_ms - hour + 1000, iid))
            if "expired" in name:
                self.assertEqual(db_execute(self.daemon, "UPDATE invitations SET expires_at = ? WHERE id = ?",
                                            (past, iid)), 1)
        self.daemon.start()
        states = {name: self.get_invitation(iid)["state"] for name, iid in ids.items()}
        self.assertEqual(states, {"sent": "sent", "opened": "opened", "responded": "responded", "expired": "expired",
                                  "opened-expired": "expired", "responded-expired": "responded"})
        g = self.get_invitation(ids["responded-expired"])
        self.assertRFC3339UTC(g["responded_at"])
        self.assertRFC3339UTC(g["opened_at"])


class IdempotencyTests(InvitationBase):

    def test_retry_gets_the_first_reply(self):
        sid = self.new_survey(definition())
        body = {"customer": "idem", "interaction": "t-1"}
        key = {"Idempotency-Key": "trigger-" + uid("k")}
        first = self.invite_sent(sid, body, headers=key)
        again = self.invite(sid, body, headers=key)
        self.assertEqual(again.status, 201, again.body)
        self.assertEqual(again.headers.get("Idempotent-Replayed"), "true")
        self.assertEqual(again.json, first.json)  # the same link, not a throttled second one
        self.assertEqual(again.headers.get("Location"), first.headers.get("Location"))
        self.assertProblem(self.invite(sid, {"customer": "other"}, headers=key), 422, "idempotency_key_reused")
        self.assertEqual(db_query(self.daemon, "SELECT COUNT(*) FROM invitations WHERE survey = ?", (sid,)), [(1,)])
        # A suppressed reply is replayed as it was.
        key2 = {"Idempotency-Key": "trigger-" + uid("k")}
        s1 = self.invite_suppressed(sid, body, "throttled", headers=key2)
        s2 = self.invite(sid, body, headers=key2)
        self.assertEqual((s2.status, s2.json), (200, s1.json))
        # Without a key, a retry is a second invitation, which the throttle suppresses.
        self.invite_suppressed(sid, body, "throttled")


class RetentionTests(unittest.TestCase):
    """Retention deletes an old invitation and the idempotency record whose stored reply holds its
    link: a retry with the old key then makes a new invitation instead of replaying a dead link."""

    def test_retention_takes_the_link_from_idempotency_records(self):
        d = Daemon(extra_args=["--public-url", PUBLIC_URL])
        self.addCleanup(d.cleanup)
        d.start()
        sid = uid("inv-ret")
        self.assertEqual(d.req("PUT", "/v1/surveys/" + sid, definition(), token=ADMIN_TOKEN).status, 201)
        old_key, new_key = {"Idempotency-Key": "old-" + uid("k")}, {"Idempotency-Key": "new-" + uid("k")}
        old = d.req("POST", "/v1/surveys/%s/invitations" % sid, {"customer": "ret-a"}, token=INGEST_TOKEN,
                    headers=old_key)
        new = d.req("POST", "/v1/surveys/%s/invitations" % sid, {"customer": "ret-b"}, token=INGEST_TOKEN,
                    headers=new_key)
        self.assertEqual((old.status, new.status), (201, 201), (old.body, new.body))
        d.stop()
        aged = int((utc_now() - 40 * DAY).timestamp() * 1000)
        self.assertEqual(db_execute(d, "UPDATE invitations SET created_at = ? WHERE id = ?", (aged, old.json["id"])), 1)
        self.assertEqual(db_execute(d, "UPDATE idempotency SET created_at = ? WHERE response_id = ?",
                                    (aged, old.json["id"])), 1)

        d.extra_args = ["--public-url", PUBLIC_URL, "--retention-days", "30"]
        d.start()
        deadline = time.monotonic() + 10
        while d.req("GET", "/v1/invitations/" + old.json["id"], token=READ_TOKEN).status != 404:
            self.assertLess(time.monotonic(), deadline, "retention never deleted the old invitation")
            time.sleep(0.05)
        self.assertEqual(d.req("GET", "/v1/invitations/" + new.json["id"], token=READ_TOKEN).status, 200)
        d.stop()
        self.assertEqual(db_query(d, "SELECT COUNT(*) FROM idempotency WHERE response_id = ?", (old.json["id"],)),
                         [(0,)])
        self.assertEqual(db_query(d, "SELECT COUNT(*) FROM idempotency WHERE response_id = ?", (new.json["id"],)),
                         [(1,)])
        d.start()
        again = d.req("POST", "/v1/surveys/%s/invitations" % sid, {"customer": "ret-a"}, token=INGEST_TOKEN,
                      headers=old_key)
        self.assertEqual(again.status, 201, again.body)
        self.assertIsNone(again.headers.get("Idempotent-Replayed"))
        self.assertNotEqual(again.json["url"], old.json["url"])
        self.assertNotIn(old.json["url"].rsplit("/", 1)[1], again.body.decode() if isinstance(again.body, bytes) else again.body)


class PrometheusTests(InvitationBase):

    def counters(self):
        text = self.req("GET", "/metrics").body.decode()
        return {m.group(1): int(m.group(2)) for m in
                re.finditer(r'^surveyd_invitations_total\{outcome="(\w+)"\} (\d+)$', text, re.M)}

    def test_counters_by_outcome(self):
        before = self.counters()
        self.assertEqual(set(before), {"sent", "throttled", "sampled_out"})
        sid = self.new_survey(definition())
        self.invite_sent(sid, {"customer": "p"})
        self.invite_suppressed(sid, {"customer": "p"}, "throttled")
        self.invite_suppressed(sid, {"customer": "p"}, "throttled")
        sid0 = self.new_survey(definition(sample_rate=0))
        self.invite_suppressed(sid0, {"customer": "p"}, "sampled_out")
        self.assertProblem(self.invite(sid, {}), 422, "validation_failed")  # not counted
        after = self.counters()
        self.assertEqual({k: after[k] - before[k] for k in after}, {"sent": 1, "throttled": 2, "sampled_out": 1})
        text = self.req("GET", "/metrics").body.decode()
        self.assertIn('surveyd_invitation_emails_total{result="sent"} 0', text)
        self.assertIn('surveyd_invitation_emails_total{result="failed"} 0', text)


class PublicUrlTests(unittest.TestCase):

    def test_without_public_url_nothing_is_made(self):
        with Daemon() as d:
            sid = uid("inv-nourl")
            self.assertEqual(d.req("PUT", "/v1/surveys/" + sid, NPS_DEF, token=ADMIN_TOKEN).status, 201)
            # The request's Host header never stands in for it.
            r = d.req("POST", "/v1/surveys/%s/invitations" % sid, {"customer": "c"}, token=INGEST_TOKEN,
                      headers={"Host": "evil.example"})
            self.assertEqual(r.status, 503, r.body)
            self.assertEqual(r.json["code"], "public_url_not_configured")
            self.assertIn("--public-url", r.json["detail"])
            d.stop()
            self.assertEqual(db_query(d, "SELECT COUNT(*) FROM invitations"), [(0,)])

    def test_bad_config_refused_at_start(self):
        for args, flag in ((["--public-url", "surveys.example.com"], "--public-url"),
                           (["--public-url", "ftp://x"], "--public-url"),
                           (["--public-url", "https://x/?a=1"], "--public-url"),
                           (["--public-url", "https://x/#f"], "--public-url"),
                           (["--public-url", "https://u@x/"], "--public-url"),
                           (["--public-url", "http://"], "--public-url"),
                           (["--throttle-days", "366"], "--throttle-days"),
                           (["--smtp-url", "http://127.0.0.1:25", "--smtp-from", "a@b.c"], "--smtp-url"),
                           (["--smtp-url", "smtp://127.0.0.1:25"], "--smtp-from"),
                           (["--smtp-url", "smtp://127.0.0.1:25", "--smtp-from", "a b@c"], "--smtp-from")):
            p = run_cli(args)
            self.assertEqual(p.returncode, 2, args)
            self.assertIn(flag, p.stderr.decode(), args)
        p = run_cli(["--help"])
        for flag in ("--public-url", "--throttle-days", "--smtp-url", "--smtp-from", "SURVEYD_PUBLIC_URL"):
            self.assertIn(flag, p.stdout.decode())

if __name__ == "__main__":
    unittest.main()
