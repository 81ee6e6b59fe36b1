"""Follow-up answers: PATCH /v1/responses/{id} adds, replaces (value) and
removes (null) answers, validated like a new response; auth (incl. the
anonymous edit token, valid 24 hours, on public surveys), Idempotency-Key,
concurrent follow-ups, and metrics/verify consistency afterwards. The
edit-token rules themselves are tested in test_edit_tokens.py."""

import datetime
import threading
import unittest

from harness import (ADMIN_TOKEN, INGEST_TOKEN, INGEST_TOKEN_2, READ_TOKEN,
                     BaseAPITest, Daemon, db_execute, fmt_time, run_cli, run_threads,
                     simple_definition, uid, utc_now)

PRIVATE_DEF = {
    "title": "Follow-up",
    "questions": [
        {"id": "must", "type": "csat", "required": True},
        {"id": "nps", "type": "nps"},
        {"id": "csat", "type": "csat", "scale": 5},
        {"id": "comment", "type": "text", "max_length": 20},
        {"id": "yn", "type": "yes_no"},
        {"id": "pick", "type": "choice", "options": ["a", "b"], "allow_other": True},
        {"id": "c2", "type": "csat", "scale": 2},
    ],
}

OPTIONAL_DEF = {
    "title": "No required questions",
    "questions": [
        {"id": "nps", "type": "nps"},
        {"id": "comment", "type": "text"},
    ],
}


def verify(data_dir):
    p = run_cli(["verify", "--data-dir", data_dir], timeout=60)
    return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")


class FollowupBase(BaseAPITest):

    def patch(self, rid, body, token=INGEST_TOKEN, headers=None):
        return self.req("PATCH", "/v1/responses/" + rid, body, headers=headers, token=token)

    def patch_ok(self, rid, answers, token=INGEST_TOKEN, headers=None):
        r = self.patch(rid, {"answers": answers}, token=token, headers=headers)
        self.assertEqual(r.status, 200, "PATCH -> %d %r" % (r.status, r.body[:500]))
        ctype = (r.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        self.assertEqual(ctype, "application/json")
        return r

    def answers_of(self, rid):
        g = self.get_response(rid)
        self.assertEqual(g.status, 200, g.body)
        return g.json["answers"]


class PatchSemanticsTests(FollowupBase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sid = uid("fu")
        cls.opt = uid("fu-opt")
        for sid, d in ((cls.sid, PRIVATE_DEF), (cls.opt, OPTIONAL_DEF)):
            r = cls.daemon.req("PUT", "/v1/surveys/" + sid, d, token=ADMIN_TOKEN)
            assert r.status == 201, r

    def test_add_answers_reply_is_whole_response(self):
        # The whole response for a caller who may read responses (admin); an
        # ingest token sees less (test_edit_tokens.py).
        body = {"answers": {"must": 4}, "channel": "email", "customer": "cust-fu",
                "agent": "agent-fu", "interaction": uid("ticket"),
                "properties": {"plan": "pro"}, "submitted_at": "2025-03-04T05:06:07.089Z"}
        rid = self.post_ok(self.sid, body).json["id"]
        before = self.get_response(rid).json
        r = self.patch_ok(rid, {"nps": 9, "comment": "thanks!", "yn": True,
                                "pick": {"other": "c"}}, token=ADMIN_TOKEN)
        want = dict(before, answers={"must": 4, "nps": 9, "comment": "thanks!", "yn": True,
                                     "pick": {"other": "c"}})
        self.assertEqual(r.json, want)
        self.assertEqual(self.get_response(rid).json, want)

    def test_replace_answer(self):
        rid = self.post_ok(self.sid, {"answers": {"must": 2, "nps": 3, "comment": "meh"}}).json["id"]
        r = self.patch_ok(rid, {"nps": 10, "must": 5})
        self.assertEqual(r.json["answers"], {"must": 5, "nps": 10, "comment": "meh"})
        self.assertEqual(self.answers_of(rid), {"must": 5, "nps": 10, "comment": "meh"})

    def test_null_removes_answer(self):
        rid = self.post_ok(self.sid, {"answers": {"must": 2, "nps": 3, "comment": "meh"}}).json["id"]
        r = self.patch_ok(rid, {"comment": None})
        self.assertEqual(r.json["answers"], {"must": 2, "nps": 3})
        self.assertEqual(self.answers_of(rid), {"must": 2, "nps": 3})
        # Removing an answer that is not there is harmless.
        r = self.patch_ok(rid, {"yn": None, "csat": 5})
        self.assertEqual(self.answers_of(rid), {"must": 2, "nps": 3, "csat": 5})

    def test_successive_patches_accumulate(self):
        rid = self.post_ok(self.sid, {"answers": {"must": 1}}).json["id"]
        self.patch_ok(rid, {"nps": 0})
        self.patch_ok(rid, {"csat": 1})
        self.patch_ok(rid, {"pick": "b"})
        self.patch_ok(rid, {"nps": None})
        self.assertEqual(self.answers_of(rid), {"must": 1, "csat": 1, "pick": "b"})

    def test_answers_normalised_like_a_new_response(self):
        rid = self.post_ok(self.sid, {"answers": {"must": 3}}).json["id"]
        r = self.patch_ok(rid, {"c2": "good", "nps": 9.0})
        self.assertEqual(r.json["answers"], {"must": 3, "c2": 2, "nps": 9})
        self.assertIs(type(r.json["answers"]["nps"]), int)
        self.patch_ok(rid, {"c2": "bad"})
        self.assertEqual(self.answers_of(rid), {"must": 3, "c2": 1, "nps": 9})

    def test_text_plain_and_json_charset(self):
        rid = self.post_ok(self.sid, {"answers": {"must": 3}}).json["id"]
        r = self.patch(rid, b'{"answers": {"nps": 6}}', headers={"Content-Type": "text/plain"})
        self.assertEqual(r.status, 200, r.body)
        r = self.patch(rid, b'{"answers": {"csat": 2}}',
                       headers={"Content-Type": "application/json; charset=utf-8"})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(self.answers_of(rid), {"must": 3, "nps": 6, "csat": 2})
        r = self.patch(rid, b'{"answers": {"nps": 1}}', headers={"Content-Type": "application/xml"})
        self.assertProblem(r, 415, "unsupported_media_type")
        self.assertEqual(self.answers_of(rid)["nps"], 6)

    def test_invalid_answers_422_and_nothing_changes(self):
        rid = self.post_ok(self.sid, {"answers": {"must": 3, "nps": 5}}).json["id"]
        cases = [({"nps": "x"}, "answers.nps"), ({"nps": 11}, "answers.nps"),
                 ({"nps": -1}, "answers.nps"), ({"nps": 5.5}, "answers.nps"),
                 ({"nps": True}, "answers.nps"), ({"csat": 6}, "answers.csat"),
                 ({"csat": 0}, "answers.csat"), ({"comment": "x" * 21}, "answers.comment"),
                 ({"comment": 5}, "answers.comment"), ({"yn": "yes"}, "answers.yn"),
                 ({"pick": "c"}, "answers.pick"), ({"pick": {"other": 1}}, "answers.pick"),
                 ({"nope": 1}, "answers.nope"), ({"nps": 7, "nope": 1}, "answers.nope"),
                 ({"must": None}, "answers.must"), ({"nps": 8, "must": None}, "answers.must"),
                 ({"nps": 7, "csat": 9}, "answers.csat")]
        for answers, field in cases:
            with self.subTest(answers=answers):
                r = self.patch(rid, {"answers": answers})
                self.assertValidation(r, field)
                self.assertEqual(self.answers_of(rid), {"must": 3, "nps": 5})

    def test_removing_every_answer_422(self):
        rid = self.post_ok(self.opt, {"answers": {"nps": 5, "comment": "x"}}).json["id"]
        for answers in ({"nps": None, "comment": None}, {"comment": None, "nps": None}):
            with self.subTest(answers=answers):
                self.assertValidation(self.patch(rid, {"answers": answers}), "answers*")
                self.assertEqual(self.answers_of(rid), {"nps": 5, "comment": "x"})
        rid = self.post_ok(self.opt, {"answers": {"nps": 5}}).json["id"]
        self.assertValidation(self.patch(rid, {"answers": {"nps": None}}), "answers*")
        self.assertEqual(self.answers_of(rid), {"nps": 5})
        # Replacing the only answer by another one is fine.
        self.patch_ok(rid, {"nps": None, "comment": "only this"})
        self.assertEqual(self.answers_of(rid), {"comment": "only this"})

    def test_body_shape_422(self):
        rid = self.post_ok(self.sid, {"answers": {"must": 3}}).json["id"]
        for body in (b"[]", b'"answers"', b"null", b"42", b"true", b"{}",
                     {"answers": [1]}, {"answers": None}, {"answers": "nps"}, {"answers": 5},
                     {"nps": 1}, {"answers": {"nps": 1}, "channel": "web"},
                     {"answers": {"nps": 1}, "customer": "someone"},
                     {"answers": {"nps": 1}, "submitted_at": "2025-01-01T00:00:00Z"},
                     {"answers": {"nps": 1}, "id": rid},
                     b'{"answers": {"nps": 1}, "answers": {"nps": 2}}'):
            with self.subTest(body=body):
                self.assertValidation(self.patch(rid, body))
                self.assertEqual(self.answers_of(rid), {"must": 3})
        g = self.get_response(rid).json
        self.assertIsNone(g["channel"])
        self.assertIsNone(g["customer"])

    def test_duplicate_answer_keys_422(self):
        # A new response with a question twice is 422 (answers.<qid>, never
        # silently resolved); a follow-up is validated the same way.
        r = self.post_response(self.sid, b'{"answers": {"must": 1, "must": 2}}')
        self.assertValidation(r, "answers.must")
        rid = self.post_ok(self.sid, {"answers": {"must": 3, "nps": 5}}).json["id"]
        for body in (b'{"answers": {"nps": 1, "nps": 2}}',
                     b'{"answers": {"nps": 11, "nps": 2}}',
                     b'{"answers": {"nps": 2, "nps": null}}'):
            with self.subTest(body=body):
                self.assertValidation(self.patch(rid, body), "answers*")
                self.assertEqual(self.answers_of(rid), {"must": 3, "nps": 5})

    def test_malformed_json_400(self):
        rid = self.post_ok(self.sid, {"answers": {"must": 3}}).json["id"]
        for body in (b"{", b'{"answers": {"nps": 1}', b"{'answers': {}}",
                     b'{"answers": {"nps": 01}}', b'{"answers": {"nps": 1}} x',
                     b'{"answers": {"nps": 1},}', b"\xff\xfe"):
            with self.subTest(body=body):
                self.assertProblem(self.patch(rid, body), 400, "invalid_json")
        self.assertEqual(self.answers_of(rid), {"must": 3})


class PatchAuthTests(FollowupBase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.private = uid("fu-priv")
        cls.public = uid("fu-pub")
        for sid, pub in ((cls.private, False), (cls.public, True)):
            r = cls.daemon.req("PUT", "/v1/surveys/" + sid, simple_definition(public=pub),
                               token=ADMIN_TOKEN)
            assert r.status == 201, r

    def test_private_survey_tokens(self):
        rid = self.post_ok(self.private, {"answers": {"nps": 1}}).json["id"]
        for i, tok in enumerate((INGEST_TOKEN, INGEST_TOKEN_2, ADMIN_TOKEN)):
            with self.subTest(token=tok):
                self.patch_ok(rid, {"nps": i + 2}, token=tok)
                self.assertEqual(self.answers_of(rid)["nps"], i + 2)
        self.assertProblem(self.patch(rid, {"answers": {"nps": 9}}, token=READ_TOKEN),
                           403, "forbidden")
        self.assertProblem(self.patch(rid, {"answers": {"nps": 9}}, token=None),
                           401, "unauthorized")
        self.assertProblem(self.patch(rid, {"answers": {"nps": 9}}, token="bogus"),
                           401, "unauthorized")
        self.assertEqual(self.answers_of(rid)["nps"], 4)

    def test_unknown_response_404(self):
        for rid in ("a" * 26, "zzzzzzzzzzzzzzzzzzzzzzzzzz", "nope", "x" * 200):
            for tok in (INGEST_TOKEN, ADMIN_TOKEN):
                with self.subTest(rid=rid, token=tok):
                    self.assertProblem(self.patch(rid, {"answers": {"nps": 1}}, token=tok),
                                       404, "not_found")

    def test_public_survey_anonymous_within_a_day(self):
        created = self.post_ok(self.public, {"answers": {"nps": 2}}, token=None).json
        rid, edit = created["id"], created["edit_token"]
        r = self.patch_ok(rid, {"comment": "follow-up from the widget"}, token=edit)
        self.assertEqual(r.json["answers"], {"nps": 2, "comment": "follow-up from the widget"})
        self.assertEqual(self.answers_of(rid), {"nps": 2, "comment": "follow-up from the widget"})
        # text/plain, as navigator.sendBeacon sends it.
        r = self.patch(rid, b'{"answers": {"nps": 3}}', headers={"Content-Type": "text/plain"},
                       token=edit)
        self.assertEqual(r.status, 200, r.body)
        # Tokens still work; a read token does not.
        self.patch_ok(rid, {"nps": 4}, token=INGEST_TOKEN)
        self.assertProblem(self.patch(rid, {"answers": {"nps": 9}}, token=READ_TOKEN),
                           403, "forbidden")
        self.assertEqual(self.answers_of(rid)["nps"], 4)

    def test_public_window_counts_from_creation_not_submitted_at(self):
        old = fmt_time(utc_now() - datetime.timedelta(days=3))
        created = self.post_ok(self.public, {"answers": {"nps": 2}, "submitted_at": old}).json
        self.patch_ok(created["id"], {"nps": 8}, token=created["edit_token"])
        self.assertEqual(self.answers_of(created["id"])["nps"], 8)

    def test_private_survey_anonymous_refused(self):
        created = self.post_ok(self.private, {"answers": {"nps": 1}}).json
        rid = created["id"]
        self.assertProblem(self.patch(rid, {"answers": {"nps": 2}}, token=None), 401,
                           "unauthorized")
        # Its own edit token does not open a private survey either.
        self.assertProblem(self.patch(rid, {"answers": {"nps": 2}}, token=created["edit_token"]),
                           403, "forbidden")
        self.assertEqual(self.answers_of(rid)["nps"], 1)


class AnonymousWindowExpiryTests(unittest.TestCase):
    """A response created more than 24 hours ago takes no anonymous
    follow-up: its edit token has expired. The creation time and the
    token's expiry are moved back in the stopped daemon's database
    (received_at, edit_token_expires_at, milliseconds) to get there
    without waiting."""

    def test_anonymous_patch_refused_after_24_hours(self):
        with Daemon() as d:
            sid = uid("fu-expire")
            r = d.req("PUT", "/v1/surveys/" + sid, simple_definition(public=True),
                      token=ADMIN_TOKEN)
            self.assertEqual(r.status, 201)
            ids, edits = [], {}
            for _ in range(2):
                r = d.req("POST", "/v1/surveys/%s/responses" % sid, {"answers": {"nps": 5}})
                self.assertEqual(r.status, 201, r.body)
                ids.append(r.json["id"])
                edits[r.json["id"]] = r.json["edit_token"]
            old, recent = ids
            d.stop()
            hour = 3600 * 1000
            n = m = 0
            for rid, back in ((old, 25 * hour), (recent, 23 * hour)):
                k = db_execute(d, "UPDATE responses SET received_at = received_at - ? WHERE id = ?", (back, rid))
                k += db_execute(d, "UPDATE responses SET edit_token_expires_at = edit_token_expires_at - ?"
                                " WHERE id = ?", (back, rid))
                if rid == old:
                    n = k
                else:
                    m = k
            self.assertEqual((n, m), (2, 2))
            d.start()
            r = d.req("PATCH", "/v1/responses/" + old, {"answers": {"nps": 9}}, token=edits[old])
            self.assertIn(r.status, (401, 403), r.body)
            self.assertEqual(r.json.get("code"), "unauthorized" if r.status == 401 else "forbidden")
            g = d.req("GET", "/v1/responses/" + old, token=READ_TOKEN).json
            self.assertEqual(g["answers"], {"nps": 5})
            # A token still may; a response 23 hours old still takes anonymous answers.
            r = d.req("PATCH", "/v1/responses/" + old, {"answers": {"nps": 9}}, token=INGEST_TOKEN)
            self.assertEqual(r.status, 200, r.body)
            r = d.req("PATCH", "/v1/responses/" + recent, {"answers": {"nps": 10}},
                      token=edits[recent])
            self.assertEqual(r.status, 200, r.body)
            d.stop()


class PatchIdempotencyTests(FollowupBase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sid = uid("fu-idem")
        r = cls.daemon.req("PUT", "/v1/surveys/" + cls.sid, PRIVATE_DEF, token=ADMIN_TOKEN)
        assert r.status == 201, r

    def test_same_key_same_body_same_reply(self):
        rid = self.post_ok(self.sid, {"answers": {"must": 2}}).json["id"]
        h = {"Idempotency-Key": uid("fu-key")}
        body = {"answers": {"nps": 5}}
        r1 = self.patch(rid, body, headers=h)
        self.assertEqual(r1.status, 200, r1.body)
        r2 = self.patch(rid, body, headers=h)
        self.assertEqual(r2.status, 200, r2.body)
        self.assertEqual(r2.body, r1.body)
        self.assertEqual(r1.json["answers"], {"must": 2, "nps": 5})
        # A later change without the key; a retry of the keyed PATCH replays
        # the original reply and does not apply it again.
        self.patch_ok(rid, {"nps": 7})
        r3 = self.patch(rid, body, headers=h)
        self.assertEqual(r3.status, 200, r3.body)
        self.assertEqual(r3.body, r1.body)
        self.assertEqual(self.answers_of(rid), {"must": 2, "nps": 7})

    def test_same_key_different_body_422(self):
        rid = self.post_ok(self.sid, {"answers": {"must": 2}}).json["id"]
        h = {"Idempotency-Key": uid("fu-key")}
        self.assertEqual(self.patch(rid, {"answers": {"nps": 5}}, headers=h).status, 200)
        r = self.patch(rid, {"answers": {"nps": 6}}, headers=h)
        self.assertProblem(r, 422, "idempotency_key_reused")
        self.assertEqual(self.answers_of(rid), {"must": 2, "nps": 5})

    def test_invalid_key_422_nothing_applied(self):
        rid = self.post_ok(self.sid, {"answers": {"must": 2}}).json["id"]
        r = self.patch(rid, {"answers": {"nps": 5}}, headers={"Idempotency-Key": "k" * 256})
        self.assertProblem(r, 422, "validation_failed")
        self.assertEqual(self.answers_of(rid), {"must": 2})

    def test_concurrent_retries_apply_once(self):
        rid = self.post_ok(self.sid, {"answers": {"must": 2, "nps": 1}}).json["id"]
        h = {"Idempotency-Key": uid("fu-key")}
        body = {"answers": {"comment": "once"}}
        barrier = threading.Barrier(6)

        def go(i):
            barrier.wait(10)
            return self.patch(rid, body, headers=h)
        replies = run_threads(6, go)
        self.assertEqual([r.status for r in replies], [200] * 6,
                         [(r.status, r.body[:200]) for r in replies])
        self.assertEqual(len({r.body for r in replies}), 1)
        self.assertEqual(self.answers_of(rid), {"must": 2, "nps": 1, "comment": "once"})


class ConcurrentPatchTests(FollowupBase):

    def test_ten_concurrent_patches_all_land(self):
        qs = [{"id": "q%d" % i, "type": "nps"} for i in range(10)]
        sid = self.new_survey({"title": "conc", "questions": [{"id": "base", "type": "yes_no"}] + qs},
                              prefix="fu-conc")
        for rnd in range(4):
            with self.subTest(round=rnd):
                rid = self.post_ok(sid, {"answers": {"base": True}}).json["id"]
                barrier = threading.Barrier(10)

                def go(i, rid=rid, barrier=barrier):
                    barrier.wait(10)
                    return self.patch(rid, {"answers": {"q%d" % i: i}})
                replies = run_threads(10, go)
                self.assertEqual([r.status for r in replies], [200] * 10,
                                 [(r.status, r.body[:200]) for r in replies])
                want = dict({"q%d" % i: i for i in range(10)}, base=True)
                self.assertEqual(self.answers_of(rid), want)
        rc, out = verify(self.daemon.data_dir)
        self.assertEqual(rc, 0, out)


class PatchMetricsTests(FollowupBase):

    def metrics(self, sid):
        r = self.req("GET", "/v1/surveys/%s/metrics" % sid, token=READ_TOKEN)
        self.assertEqual(r.status, 200, r.body[:500])
        return r.json

    def etag(self, sid):
        r = self.req("GET", "/v1/surveys/%s/metrics" % sid, token=READ_TOKEN)
        self.assertEqual(r.status, 200)
        tag = r.headers.get("ETag")
        self.assertTrue(tag)
        again = self.req("GET", "/v1/surveys/%s/metrics" % sid, token=READ_TOKEN,
                         headers={"If-None-Match": tag})
        self.assertEqual(again.status, 304)
        return tag

    def assertChanged(self, sid, tag):
        r = self.req("GET", "/v1/surveys/%s/metrics" % sid, token=READ_TOKEN,
                     headers={"If-None-Match": tag})
        self.assertEqual(r.status, 200, "metrics still 304 for the old ETag after a PATCH")
        self.assertNotEqual(r.headers.get("ETag"), tag)

    def test_metrics_follow_the_patch(self):
        sid = self.new_survey({"title": "m", "questions": [
            {"id": "rec", "type": "nps"}, {"id": "sat", "type": "csat"}]}, prefix="fu-metrics")
        r1 = self.post_ok(sid, {"answers": {"rec": 3}}).json["id"]
        self.post_ok(sid, {"answers": {"rec": 9, "sat": 5}})
        m = self.metrics(sid)
        self.assertEqual(m["responses"], 2)
        rec = m["questions"]["rec"]
        self.assertEqual((rec["promoters"], rec["detractors"], rec["answered"]), (1, 1, 2))
        self.assertEqual(rec["distribution"][3], 1)

        tag = self.etag(sid)
        self.patch_ok(r1, {"rec": 10})
        self.assertChanged(sid, tag)
        m = self.metrics(sid)
        rec = m["questions"]["rec"]
        self.assertEqual(m["responses"], 2)
        self.assertEqual((rec["promoters"], rec["passives"], rec["detractors"], rec["answered"]),
                         (2, 0, 0, 2))
        self.assertEqual(rec["score"], 100)
        self.assertEqual(rec["distribution"][3], 0)
        self.assertEqual(rec["distribution"][10], 1)
        self.assertEqual(rec["distribution"][9], 1)
        rc, out = verify(self.daemon.data_dir)
        self.assertEqual(rc, 0, out)

        tag = self.etag(sid)
        self.patch_ok(r1, {"rec": None, "sat": 1})
        self.assertChanged(sid, tag)
        m = self.metrics(sid)
        self.assertEqual(m["responses"], 2)
        rec, sat = m["questions"]["rec"], m["questions"]["sat"]
        self.assertEqual((rec["answered"], rec["skipped"], rec["promoters"]), (1, 1, 1))
        self.assertEqual((sat["answered"], sat["satisfied"]), (2, 1))
        self.assertEqual(sum(rec["distribution"]), 1)
        rc, out = verify(self.daemon.data_dir)
        self.assertEqual(rc, 0, out)

    def test_overview_follows_the_patch(self):
        sid = self.new_survey({"title": "o", "questions": [{"id": "rec", "type": "nps"}]},
                              prefix="fu-overview")
        rid = self.post_ok(sid, {"answers": {"rec": 0}}).json["id"]

        def score():
            r = self.req("GET", "/v1/metrics", token=READ_TOKEN)
            self.assertEqual(r.status, 200)
            entry = [s for s in r.json["surveys"] if s["survey"] == sid]
            self.assertEqual(len(entry), 1)
            return entry[0]["questions"]["rec"]["score"]
        self.assertEqual(score(), -100)
        self.patch_ok(rid, {"rec": 10})
        self.assertEqual(score(), 100)


if __name__ == "__main__":
    unittest.main()
