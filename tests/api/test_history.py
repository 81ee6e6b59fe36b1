"""Issue 11, item 6: anonymous callers can't rewrite history.

- without an ingest or admin token, submitted_at must be within 5 minutes
  of now (422 naming submitted_at); tokens still import old responses;
- a metrics query without `from` never fails because old data exists: a
  time grouping bounds its default window to 3700 buckets and the reply's
  `from` says where the window started."""

import datetime
import unittest

from harness import (ADMIN_TOKEN, INGEST_TOKEN, READ_TOKEN, BaseAPITest, fmt_time, parse_time,
                     simple_definition, uid, utc_now)

EPOCH = "1970-01-01T00:00:00Z"


class AnonymousSubmittedAtTests(BaseAPITest):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.public = uid("hist-pub")
        r = cls.daemon.req("PUT", "/v1/surveys/" + cls.public, simple_definition(public=True),
                           token=ADMIN_TOKEN)
        assert r.status == 201, r

    def count(self):
        r = self.req("GET", "/v1/surveys/%s/responses?limit=1000" % self.public, token=READ_TOKEN)
        self.assertEqual(r.status, 200, r.body)
        return len(r.json["responses"])

    def test_anonymous_past_submitted_at_422(self):
        before = self.count()
        # Far enough from the 5-minute edge that the test's and the server's clocks reading a few
        # moments apart cannot matter.
        for when in (EPOCH, "2000-01-01T00:00:00Z", fmt_time(utc_now() - datetime.timedelta(minutes=10))):
            with self.subTest(submitted_at=when):
                r = self.post_response(self.public, {"answers": {"nps": 0}, "submitted_at": when},
                                       token=None)
                self.assertValidation(r, "submitted_at", exact=True)
                # An unknown bearer token is no better than none.
                r = self.post_response(self.public, {"answers": {"nps": 0}, "submitted_at": when},
                                       token="not-a-token")
                self.assertValidation(r, "submitted_at", exact=True)
        self.assertEqual(self.count(), before)

    def test_anonymous_recent_submitted_at_accepted(self):
        for when in (fmt_time(utc_now() - datetime.timedelta(minutes=2)), None):
            with self.subTest(submitted_at=when):
                body = {"answers": {"nps": 7}}
                if when:
                    body["submitted_at"] = when
                r = self.post_response(self.public, body, token=None)
                self.assertEqual(r.status, 201, r.body)
                if when:
                    self.assertEqual(parse_time(r.json["submitted_at"]), parse_time(when))

    def test_tokens_may_import_old_responses(self):
        for token in (INGEST_TOKEN, ADMIN_TOKEN):
            with self.subTest(token=token):
                r = self.post_response(self.public, {"answers": {"nps": 5}, "submitted_at": EPOCH},
                                       token=token)
                self.assertEqual(r.status, 201, r.body)
                self.assertEqual(r.json["submitted_at"], "1970-01-01T00:00:00.000Z")


class DefaultTimeWindowTests(BaseAPITest):
    """One response in 1970 (imported with a token) and one now."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sid = uid("hist-metrics")
        r = cls.daemon.req("PUT", "/v1/surveys/" + cls.sid, simple_definition(), token=ADMIN_TOKEN)
        assert r.status == 201, r
        r = cls.daemon.req("POST", "/v1/surveys/%s/responses" % cls.sid,
                           {"answers": {"nps": 0}, "submitted_at": EPOCH}, token=INGEST_TOKEN)
        assert r.status == 201, r
        r = cls.daemon.req("POST", "/v1/surveys/%s/responses" % cls.sid, {"answers": {"nps": 10}},
                           token=INGEST_TOKEN)
        assert r.status == 201, r
        cls.last_day = parse_time(r.json["submitted_at"]).date()

    def metrics(self, query):
        return self.req("GET", "/v1/surveys/%s/metrics%s" % (self.sid, query), token=READ_TOKEN)

    def test_group_by_day_without_from_is_bounded_not_refused(self):
        r = self.metrics("?group_by=day")
        self.assertEqual(r.status, 200, r.body[:500])
        groups = r.json["groups"]
        first = self.last_day - datetime.timedelta(days=3699)
        self.assertEqual(len(groups), 3700)
        self.assertEqual(groups[0]["key"], first.isoformat())
        self.assertEqual(groups[-1]["key"], self.last_day.isoformat())
        # The reply says which window it used, and its totals are that window's.
        self.assertEqual(r.json["from"], first.isoformat() + "T00:00:00.000Z")
        self.assertIsNone(r.json["to"])
        self.assertEqual(r.json["responses"], 1)
        self.assertEqual(r.json["questions"]["nps"]["promoters"], 1)
        self.assertEqual(sum(g["responses"] for g in groups), 1)

    def test_group_by_day_with_to_only_is_bounded(self):
        to = self.last_day + datetime.timedelta(days=1)
        r = self.metrics("?group_by=day&to=" + to.isoformat())
        self.assertEqual(r.status, 200, r.body[:500])
        self.assertEqual(len(r.json["groups"]), 3700)
        self.assertEqual(r.json["from"], (self.last_day - datetime.timedelta(days=3699)).isoformat()
                         + "T00:00:00.000Z")
        self.assertEqual(r.json["responses"], 1)

    def test_week_and_month_span_fits_all_time(self):
        # 1970 to now is under 3700 weeks and months: nothing is cut, `from` stays null.
        for group_by in ("week", "month"):
            with self.subTest(group_by=group_by):
                r = self.metrics("?group_by=" + group_by)
                self.assertEqual(r.status, 200, r.body[:500])
                self.assertIsNone(r.json["from"])
                self.assertEqual(r.json["responses"], 2)
                self.assertEqual(sum(g["responses"] for g in r.json["groups"]), 2)
        r = self.metrics("?group_by=month")
        self.assertEqual(r.json["groups"][0]["key"], "1970-01")

    def test_explicit_from_too_wide_is_still_422(self):
        self.assertValidation(self.metrics("?group_by=day&from=1970-01-01"), "group_by")

    def test_without_grouping_all_time(self):
        r = self.metrics("")
        self.assertEqual(r.status, 200, r.body[:500])
        self.assertIsNone(r.json["from"])
        self.assertEqual(r.json["responses"], 2)


if __name__ == "__main__":
    unittest.main()
