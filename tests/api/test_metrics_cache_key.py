"""Issue 11, item 3: one query's cached metrics reply is never served for another.

The metrics cache (and the ETag, a hash of the same key) used to be keyed by a text that wrote
"\\x01" for "no agent filter" and was cut at 511 bytes. So `?agent=%01` computed a reply with no
responses and stored it under the key of the unfiltered query, and a 128-character agent of 4-byte
characters pushed `group_by` and `compare` past the cut: every such query got the first one's reply.
Now the key is length-prefixed and never truncated, and control characters (and malformed UTF-8)
in filter values are 422.
"""

import unittest
import urllib.parse

from harness import INGEST_TOKEN, READ_TOKEN, BaseAPITest

WINDOW = "from=2026-01-01&to=2026-02-01"


def q(value):
    return urllib.parse.quote(value, safe="")


class MetricsCacheKeyTest(BaseAPITest):

    def definition(self):
        return {"title": "cache key", "questions": [{"id": "rec", "type": "nps"}]}

    def metrics(self, sid, query, headers=None):
        return self.req("GET", "/v1/surveys/%s/metrics?%s" % (sid, query), token=READ_TOKEN,
                        headers=headers)

    def post(self, sid, n, **extra):
        for i in range(n):
            body = {"answers": {"rec": 9}, "channel": "chat",
                    "submitted_at": "2026-01-1%dT12:00:00Z" % (i % 10)}
            body.update(extra)
            self.post_ok(sid, body, token=INGEST_TOKEN)

    def test_control_character_agent_cannot_poison_the_unfiltered_reply(self):
        sid = self.new_survey(self.definition())
        self.post(sid, 3)
        # Asked first after the write, so that a shared key would cache its (empty) reply.
        poison = self.metrics(sid, "agent=%01")
        r = self.metrics(sid, "")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json["responses"], 3, "the unfiltered reply was poisoned: %r" % r.json)
        self.assertEqual(r.json["filters"], {}, r.json)
        self.assertNotEqual(r.headers["ETag"], poison.headers.get("ETag"))
        self.assertValidation(poison, "agent")

    def test_filter_values_with_control_characters_or_bad_utf8_are_422(self):
        sid = self.new_survey(self.definition())
        self.post(sid, 1)
        for raw in ("%01", "a%0Ab", "%09", "x%7F", "%C2%80", "%C2%9F", "%FF", "%C0%AF",
                    "%ED%A0%80", "%F4%90%80%80", "abc%E2%82"):
            with self.subTest(agent=raw):
                self.assertValidation(self.metrics(sid, "agent=" + raw), "agent")
                listing = "/v1/surveys/%s/responses?agent=%s" % (sid, raw)
                self.assertValidation(self.req("GET", listing, token=READ_TOKEN), "agent")
            for name in ("customer", "interaction"):
                with self.subTest(name=name, value=raw):
                    path = "/v1/surveys/%s/responses?%s=%s" % (sid, name, raw)
                    self.assertValidation(self.req("GET", path, token=READ_TOKEN), name)

    def test_printable_unicode_filters_still_work(self):
        sid = self.new_survey(self.definition())
        agent = "Zoë \u00a0\u20ac \U0001F600"
        self.post(sid, 2, agent=agent)
        self.post(sid, 1, agent="other")
        r = self.metrics(sid, "agent=" + q(agent))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json["responses"], 2, r.json)
        self.assertEqual(r.json["filters"], {"agent": agent}, r.json)
        listed = self.req("GET", "/v1/surveys/%s/responses?agent=%s" % (sid, q(agent)),
                          token=READ_TOKEN)
        self.assertEqual(listed.status, 200, listed.body)
        self.assertEqual(len(listed.json["responses"]), 2)

    def test_long_multibyte_agent_keeps_group_by_and_compare_apart(self):
        sid = self.new_survey(self.definition())
        agent = "\U0001F600" * 128           # 128 characters, 512 bytes
        self.post(sid, 2, agent=agent)
        base = "agent=%s&%s" % (q(agent), WINDOW)
        plain = self.metrics(sid, base)
        self.assertEqual(plain.status, 200, plain.body)
        self.assertEqual(plain.json["responses"], 2, plain.json)
        self.assertNotIn("groups", plain.json)

        grouped = self.metrics(sid, base + "&group_by=channel")
        self.assertEqual(grouped.status, 200, grouped.body)
        self.assertIn("groups", grouped.json, "served the ungrouped query's cached reply")
        self.assertEqual([(g["key"], g["responses"]) for g in grouped.json["groups"]], [("chat", 2)])

        compared = self.metrics(sid, base + "&compare=previous")
        self.assertEqual(compared.status, 200, compared.body)
        self.assertIn("previous", compared.json["questions"]["rec"],
                      "served another query's cached reply")

        by_day = self.metrics(sid, base + "&group_by=day&compare=previous")
        self.assertEqual(by_day.status, 200, by_day.body)
        self.assertEqual(len(by_day.json["groups"]), 31, "January has 31 day buckets")

        etags = [r.headers["ETag"] for r in (plain, grouped, compared, by_day)]
        self.assertEqual(len(set(etags)), 4, etags)
        # Another query's ETag is no validator for this one.
        r = self.metrics(sid, base + "&group_by=channel", headers={"If-None-Match": etags[0]})
        self.assertEqual(r.status, 200, r.body)
        self.assertIn("groups", r.json)


if __name__ == "__main__":
    unittest.main()
