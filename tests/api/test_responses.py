"""Response submission and read-back: answer validation per question type,
envelope fields, content types, idempotency and interaction uniqueness."""

import datetime
import unittest

from harness import (TEXT_INDEX_DOWNGRADE, ADMIN_TOKEN, skip_unless_sqlite, sqlite_execute, INGEST_TOKEN, INGEST_TOKEN_2, READ_TOKEN,
                     RESPONSE_ID_RE, BaseAPITest, fmt_time, parse_time,
                     simple_definition, uid, utc_now)

ALL_TYPES = {
    "title": "All question types",
    "questions": [
        {"id": "nps", "type": "nps", "text": "How likely?"},
        {"id": "csat", "type": "csat"},
        {"id": "csat2", "type": "csat", "scale": 2},
        {"id": "csat10", "type": "csat", "scale": 10},
        {"id": "ces", "type": "ces"},
        {"id": "ces5", "type": "ces", "scale": 5},
        {"id": "yn", "type": "yes_no"},
        {"id": "pick", "type": "choice", "options": ["red", "green", "blue"]},
        {"id": "pick_other", "type": "choice", "options": ["a", "b"], "allow_other": True},
        {"id": "comment", "type": "text", "max_length": 10},
        {"id": "long", "type": "text"},
    ],
}

VALID = {
    "nps": [0, 5, 10],
    "csat": [1, 3, 5],
    "csat2": [1, 2],
    "csat10": [1, 10],
    "ces": [1, 7],
    "ces5": [1, 5],
    "yn": [True, False],
    "pick": ["red", "blue"],
    "pick_other": ["a", "b", {"other": "free text"}],
    "comment": ["x", "0123456789", "\u00e9" * 10, "\U0001F600" * 10, "a\u4e2d\U0001F600"],
    "long": ["y" * 2000],
}

INVALID = {
    "nps": [-1, 11, 5.5, "5", True, [5], {"v": 5}],
    "csat": [0, 6, 2.5, "good", "bad", "3"],
    "csat2": [0, 3, "neutral", "Good", True],
    "csat10": [0, 11],
    "ces": [0, 8, "7"],
    "ces5": [0, 6, 7],
    "yn": ["yes", 1, 0, "true"],
    "pick": ["purple", "Red", 1, ["red"], {"other": "x"}, ""],
    "pick_other": ["c", {"other": 5}, ["a"]],
    "comment": ["01234567890", "\u00e9" * 11, "\U0001F600" * 11, 5, ["x"], {"a": "b"}],
    "long": ["y" * 2001],
}


class ResponseTestBase(BaseAPITest):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sid = uid("resp")
        r = cls.daemon.req("PUT", "/v1/surveys/" + cls.sid, ALL_TYPES, token=ADMIN_TOKEN)
        assert r.status == 201, (r.status, r.body)


class AnswerValidationTests(ResponseTestBase):

    def test_valid_answers_roundtrip(self):
        for qid, values in VALID.items():
            for v in values:
                with self.subTest(qid=qid, value=v):
                    r = self.post_ok(self.sid, {"answers": {qid: v}})
                    g = self.get_response(r.json["id"])
                    self.assertEqual(g.status, 200, g.body)
                    self.assertEqual(g.json["answers"], {qid: v})

    def test_invalid_answers_rejected(self):
        for qid, values in INVALID.items():
            for v in values:
                with self.subTest(qid=qid, value=v):
                    r = self.post_response(self.sid, {"answers": {qid: v}})
                    self.assertValidation(r, "answers." + qid)

    def test_empty_text_is_not_invalid(self):
        # "" is a string within max_length; whether it is stored or treated as
        # skipped is not specified, but it must not be a validation error.
        r = self.post_ok(self.sid, {"answers": {"comment": "", "nps": 2}})
        g = self.get_response(r.json["id"]).json
        self.assertEqual(g["answers"].get("nps"), 2)
        self.assertIn(g["answers"].get("comment", ""), ("",))

    def test_csat_scale2_words_stored_as_numbers(self):
        r = self.post_ok(self.sid, {"answers": {"csat2": "good", "nps": 4}})
        g = self.get_response(r.json["id"]).json
        self.assertEqual(g["answers"], {"csat2": 2, "nps": 4})
        self.assertIs(type(g["answers"]["csat2"]), int)
        r = self.post_ok(self.sid, {"answers": {"csat2": "bad"}})
        self.assertEqual(self.get_response(r.json["id"]).json["answers"], {"csat2": 1})

    def test_all_questions_at_once(self):
        answers = {qid: vals[-1] for qid, vals in VALID.items()}
        r = self.post_ok(self.sid, {"answers": answers})
        g = self.get_response(r.json["id"]).json
        self.assertEqual(g["answers"], answers)

    def test_null_answer_is_skipped(self):
        r = self.post_ok(self.sid, {"answers": {"nps": 8, "comment": None, "yn": None}})
        g = self.get_response(r.json["id"]).json
        self.assertEqual(g["answers"], {"nps": 8})

    def test_at_least_one_non_null_answer(self):
        self.assertValidation(self.post_response(self.sid, {"answers": {}}), "answers*")
        self.assertValidation(self.post_response(self.sid, {"answers": {"nps": None}}),
                              "answers*")
        self.assertValidation(self.post_response(self.sid, {}), "answers*")
        self.assertValidation(self.post_response(self.sid, {"channel": "web"}), "answers*")
        self.assertValidation(self.post_response(self.sid, {"answers": [1]}), "answers*")
        self.assertValidation(self.post_response(self.sid, {"answers": None}), "answers*")

    def test_unknown_question_id(self):
        r = self.post_response(self.sid, {"answers": {"nps": 1, "nope": 1}})
        self.assertValidation(r, "answers.nope")

    def test_nul_in_string_is_422(self):
        r = self.post_response(self.sid, {"answers": {"comment": "a\u0000b"}})
        self.assertValidation(r)
        r = self.post_response(self.sid, {"answers": {"nps": 1}, "customer": "c\u0000"})
        self.assertValidation(r)

    def test_three_problems_three_errors(self):
        r = self.post_response(self.sid, {
            "answers": {"nps": 11},
            "channel": "Not A Channel!",
            "properties": {"k": 5},
        })
        got = self.assertValidation(r, "answers.nps", "channel", "properties.k")
        self.assertEqual(len(got), 3, got)

    def test_body_must_be_object(self):
        for body in (b"[]", b'"answers"', b"null", b"42", b"true"):
            with self.subTest(body=body):
                self.assertValidation(self.post_response(self.sid, body))

    def test_unknown_top_level_key(self):
        r = self.post_response(self.sid, {"answers": {"nps": 1}, "color": "blue"})
        self.assertValidation(r)


class RequiredQuestionTests(BaseAPITest):

    def test_missing_required_answer(self):
        sid = self.new_survey({"title": "req", "questions": [
            {"id": "must", "type": "nps", "required": True},
            {"id": "maybe", "type": "yes_no"},
        ]})
        self.assertValidation(self.post_response(sid, {"answers": {"maybe": True}}),
                              "answers.must")
        self.assertValidation(self.post_response(sid, {"answers": {"maybe": True, "must": None}}),
                              "answers.must")
        self.post_ok(sid, {"answers": {"must": 0}})


class EnvelopeTests(ResponseTestBase):

    def test_reply_shape_and_location(self):
        before = utc_now() - datetime.timedelta(seconds=5)
        r = self.post_ok(self.sid, {"answers": {"nps": 9}})
        after = utc_now() + datetime.timedelta(seconds=5)
        j = r.json
        # edit_token: the submitter's follow-up capability (issue 11, item 2; test_edit_tokens.py).
        self.assertEqual(set(j), {"id", "survey", "submitted_at", "received_at", "edit_token"})
        self.assertRegex(j["edit_token"], r"^[a-z2-7]{32}$")
        self.assertRegex(j["id"], RESPONSE_ID_RE)
        self.assertEqual(j["survey"], self.sid)
        self.assertEqual(r.headers.get("Location"), "/v1/responses/" + j["id"])
        self.assertRFC3339(j["submitted_at"])
        self.assertRFC3339(j["received_at"])
        for k in ("submitted_at", "received_at"):
            t = parse_time(j[k])
            self.assertTrue(before <= t <= after, "%s=%s not ~now" % (k, j[k]))

    def test_ids_unique(self):
        ids = {self.post_ok(self.sid, {"answers": {"nps": i % 11}}).json["id"] for i in range(20)}
        self.assertEqual(len(ids), 20)

    def test_get_full_record_with_nulls(self):
        r = self.post_ok(self.sid, {"answers": {"yn": True}})
        g = self.get_response(r.json["id"])
        self.assertEqual(g.status, 200, g.body)
        j = g.json
        self.assertEqual(set(j), {"id", "survey", "answers", "channel", "customer", "agent",
                                  "interaction", "properties", "submitted_at", "received_at"})
        self.assertEqual(j["id"], r.json["id"])
        self.assertEqual(j["survey"], self.sid)
        for k in ("channel", "customer", "agent", "interaction", "properties"):
            self.assertIsNone(j[k], k)
        self.assertSameInstant(j["submitted_at"], r.json["submitted_at"])
        self.assertSameInstant(j["received_at"], r.json["received_at"])

    def test_get_full_record_with_all_fields(self):
        body = {
            "answers": {"nps": 10, "comment": "great"},
            "channel": "web_chat-2",
            "customer": "cust-42",
            "agent": "agent \u00e9",
            "interaction": uid("interaction"),
            "submitted_at": "2024-01-02T03:04:05Z",
            "properties": {"plan": "pro", "region": "eu", "empty": ""},
        }
        r = self.post_ok(self.sid, body)
        self.assertSameInstant(r.json["submitted_at"], "2024-01-02T03:04:05Z")
        j = self.get_response(r.json["id"]).json
        for k in ("answers", "channel", "customer", "agent", "interaction", "properties"):
            self.assertEqual(j[k], body[k], k)
        self.assertSameInstant(j["submitted_at"], "2024-01-02T03:04:05Z")
        self.assertGreater(parse_time(j["received_at"]), parse_time(j["submitted_at"]))

    def test_submitted_at_with_offset(self):
        r = self.post_ok(self.sid, {"answers": {"nps": 1},
                                    "submitted_at": "2023-06-01T12:00:00+02:00"})
        self.assertSameInstant(r.json["submitted_at"], "2023-06-01T10:00:00Z")

    def test_submitted_at_rules(self):
        now = utc_now()
        self.post_ok(self.sid, {"answers": {"nps": 1},
                                "submitted_at": fmt_time(now + datetime.timedelta(minutes=1))})
        for bad in (fmt_time(now + datetime.timedelta(minutes=10)),
                    "2400-01-01T00:00:00Z", "yesterday", "2024-13-01T00:00:00Z",
                    "2024-01-01", "2024-01-01 00:00:00", 1700000000, ""):
            with self.subTest(submitted_at=bad):
                r = self.post_response(self.sid, {"answers": {"nps": 1}, "submitted_at": bad})
                self.assertValidation(r, "submitted_at")

    def test_channel_rules(self):
        for ok in ("web", "a", "c" * 32, "sms_2-x", "0"):
            with self.subTest(channel=ok):
                self.post_ok(self.sid, {"answers": {"nps": 1}, "channel": ok})
        for bad in ("", "c" * 33, "Web", "a b", "a.b", 5, True, ["web"]):
            with self.subTest(channel=bad):
                r = self.post_response(self.sid, {"answers": {"nps": 1}, "channel": bad})
                self.assertValidation(r, "channel")

    def test_customer_agent_interaction_rules(self):
        for field in ("customer", "agent", "interaction"):
            for ok in ("x", "z" * 128, "Mixed Case \u00fc!"):
                with self.subTest(field=field, value=ok):
                    v = ok
                    if field == "interaction":  # must be unique per survey
                        v = (uid("i") + "-" + ok)[:max(len(ok), 40)]
                    self.post_ok(self.sid, {"answers": {"nps": 1}, field: v})
            for bad in ("", "z" * 129, 5, ["x"], {"a": "b"}):
                with self.subTest(field=field, value=bad):
                    r = self.post_response(self.sid, {"answers": {"nps": 1}, field: bad})
                    self.assertValidation(r, field)

    def test_properties_rules(self):
        twenty = {"k%02d" % i: "v" for i in range(20)}
        self.post_ok(self.sid, {"answers": {"nps": 1}, "properties": twenty})
        self.post_ok(self.sid, {"answers": {"nps": 1},
                                "properties": {"k" * 64: "v" * 256}})
        twentyone = dict(twenty, extra="v")
        self.assertValidation(
            self.post_response(self.sid, {"answers": {"nps": 1}, "properties": twentyone}),
            "properties*")
        self.assertValidation(
            self.post_response(self.sid, {"answers": {"nps": 1}, "properties": {"k" * 65: "v"}}),
            "properties*")
        self.assertValidation(
            self.post_response(self.sid, {"answers": {"nps": 1}, "properties": {"": "v"}}),
            "properties*")
        self.assertValidation(
            self.post_response(self.sid, {"answers": {"nps": 1}, "properties": {"big": "v" * 257}}),
            "properties.big")
        self.assertValidation(
            self.post_response(self.sid, {"answers": {"nps": 1}, "properties": {"n": 1}}),
            "properties.n")
        self.assertValidation(
            self.post_response(self.sid, {"answers": {"nps": 1}, "properties": {"n": None}}),
            "properties.n")
        for bad in (["a"], "a=b", 5):
            with self.subTest(properties=bad):
                self.assertValidation(
                    self.post_response(self.sid, {"answers": {"nps": 1}, "properties": bad}),
                    "properties")

    def test_unknown_response_id_404(self):
        for rid in ("AAAAAAAAAAAAAAAAAAAAAAAA", "nope", "x" * 200):
            with self.subTest(rid=rid):
                self.assertProblem(self.get_response(rid), 404, "not_found")


class ContentTypeTests(ResponseTestBase):

    BODY = b'{"answers": {"nps": 6}}'

    def test_accepted_content_types(self):
        for ct in ("application/json", "application/json; charset=utf-8",
                   "application/json;charset=UTF-8", "text/plain",
                   "text/plain; charset=utf-8", "text/plain;charset=UTF-8"):
            with self.subTest(ct=ct):
                self.post_ok(self.sid, self.BODY, headers={"Content-Type": ct})

    def test_rejected_content_types(self):
        for ct in ("application/xml", "application/x-www-form-urlencoded",
                   "multipart/form-data; boundary=x", "text/html", "application/jsonx",
                   "text/plain-json", "application/problem+json", "", None):
            with self.subTest(ct=ct):
                r = self.post_response(self.sid, self.BODY, headers={"Content-Type": ct})
                self.assertProblem(r, 415, "unsupported_media_type")


class SubmitAuthTests(BaseAPITest):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.private = uid("private")
        cls.public = uid("public")
        for sid, pub in ((cls.private, False), (cls.public, True)):
            r = cls.daemon.req("PUT", "/v1/surveys/" + sid, simple_definition(public=pub),
                               token=ADMIN_TOKEN)
            assert r.status == 201, r

    BODY = {"answers": {"nps": 5}}

    def test_private_survey(self):
        self.assertProblem(self.post_response(self.private, self.BODY, token=None),
                           401, "unauthorized")
        self.assertProblem(self.post_response(self.private, self.BODY, token=READ_TOKEN),
                           403, "forbidden")
        self.assertProblem(self.post_response(self.private, self.BODY, token="wrong-token"),
                           401, "unauthorized")
        for tok in (INGEST_TOKEN, INGEST_TOKEN_2, ADMIN_TOKEN):
            with self.subTest(token=tok):
                self.post_ok(self.private, self.BODY, token=tok)

    def test_public_survey_anonymous(self):
        r = self.post_ok(self.public, self.BODY, token=None)
        # Anonymous submitters cannot read responses back.
        self.assertProblem(self.req("GET", "/v1/responses/" + r.json["id"]), 401, "unauthorized")
        self.assertEqual(self.get_response(r.json["id"]).status, 200)
        self.post_ok(self.public, self.BODY, token=INGEST_TOKEN)

    def test_nonexistent_survey(self):
        missing = uid("missing")
        self.assertProblem(self.post_response(missing, self.BODY, token=None),
                           401, "unauthorized")
        self.assertProblem(self.post_response(missing, self.BODY, token=INGEST_TOKEN),
                           404, "survey_not_found")
        self.assertProblem(self.post_response(missing, self.BODY, token=ADMIN_TOKEN),
                           404, "survey_not_found")

    def test_read_response_auth(self):
        rid = self.post_ok(self.private, self.BODY).json["id"]
        self.assertEqual(self.get_response(rid, token=READ_TOKEN).status, 200)
        self.assertEqual(self.get_response(rid, token=ADMIN_TOKEN).status, 200)
        self.assertProblem(self.get_response(rid, token=INGEST_TOKEN), 403, "forbidden")
        self.assertProblem(self.get_response(rid, token=None), 401, "unauthorized")
        self.assertProblem(self.get_response(rid, token="bogus"), 401, "unauthorized")


class IdempotencyTests(ResponseTestBase):

    def test_replay_same_key_same_body(self):
        key = uid("idem-key")
        inter = uid("idem-inter")
        body = {"answers": {"nps": 3}, "interaction": inter}
        h = {"Idempotency-Key": key}
        r1 = self.post_ok(self.sid, body, headers=h)
        r2 = self.post_response(self.sid, body, headers=h)
        # Same status (201, not 409 even though the interaction exists), same reply.
        self.assertEqual(r2.status, 201, r2.body)
        self.assertEqual(r2.json, r1.json)
        self.assertEqual(r2.headers.get("Location"), r1.headers.get("Location"))
        # A fresh post for that interaction (no key) proves there is exactly one row.
        r3 = self.post_response(self.sid, body)
        self.assertProblem(r3, 409, "conflict")
        self.assertEqual(r3.json["id"], r1.json["id"])

    def test_replay_without_interaction_creates_no_second_row(self):
        key = uid("idem-key")
        body = {"answers": {"nps": 4}}
        h = {"Idempotency-Key": key}
        ids = {self.post_ok(self.sid, body, headers=h).json["id"] for _ in range(3)}
        self.assertEqual(len(ids), 1)
        # Without the key the same body makes a new response.
        other = self.post_ok(self.sid, body).json["id"]
        self.assertNotIn(other, ids)

    def test_same_key_different_body(self):
        key = uid("idem-key")
        h = {"Idempotency-Key": key}
        self.post_ok(self.sid, {"answers": {"nps": 1}}, headers=h)
        r = self.post_response(self.sid, {"answers": {"nps": 2}}, headers=h)
        self.assertProblem(r, 422, "idempotency_key_reused")

    def test_key_length(self):
        self.post_ok(self.sid, {"answers": {"nps": 1}},
                     headers={"Idempotency-Key": "k" * 254 + "1"})
        self.post_ok(self.sid, {"answers": {"nps": 1}}, headers={"Idempotency-Key": "1"})
        r = self.post_response(self.sid, {"answers": {"nps": 1}},
                               headers={"Idempotency-Key": "k" * 256})
        self.assertProblem(r, 422, "validation_failed")


    def test_deleting_a_survey_forgets_its_keys(self):
        """A survey deleted and created again starts afresh: a key used before is new to it."""
        sid = uid("idem-gone")
        self.assertEqual(self.daemon.req("PUT", "/v1/surveys/" + sid, ALL_TYPES, token=ADMIN_TOKEN).status, 201)
        h = {"Idempotency-Key": uid("idem-key")}
        first = self.post_ok(sid, {"answers": {"nps": 5}}, headers=h).json["id"]
        self.assertEqual(self.daemon.req("DELETE", "/v1/surveys/" + sid, token=ADMIN_TOKEN).status, 204)
        self.assertEqual(self.daemon.req("PUT", "/v1/surveys/" + sid, ALL_TYPES, token=ADMIN_TOKEN).status, 201)
        again = self.post_response(sid, {"answers": {"nps": 5}}, headers=h)
        self.assertEqual(again.status, 201, again.body)
        self.assertIsNone(again.headers.get("Idempotent-Replayed"))
        self.assertNotEqual(again.json["id"], first)


@skip_unless_sqlite("a SQLite schema migration, on the file")
class IdempotencyMigrationTests(ResponseTestBase):
    """Migration 007 on a database that already holds idempotency records (as left by version 6)."""

    def test_records_of_version_6_are_deleted_with_their_survey(self):
        sid = uid("idem-v6")
        self.put_survey(sid, ALL_TYPES)
        h = {"Idempotency-Key": uid("idem-key")}
        first = self.post_ok(sid, {"answers": {"nps": 6}}, headers=h).json["id"]
        self.daemon.stop()
        # What migrations 008 to 012 added after it go too, so the file is a version 6 database again.
        for sql in TEXT_INDEX_DOWNGRADE + (
                    "DROP TABLE webhook_events", "DROP TABLE webhook_deliveries", "DROP TABLE webhooks",
                    "DROP TABLE invitation_days", "DROP TABLE invitations",
                    "DROP INDEX idempotency_survey", "ALTER TABLE idempotency DROP COLUMN survey",
                    "PRAGMA user_version = 6"):
            sqlite_execute(self.daemon.db_path, sql)
        self.daemon.start()
        self.assertEqual(self.req("DELETE", "/v1/surveys/" + sid, token=ADMIN_TOKEN).status, 204)
        self.put_survey(sid, ALL_TYPES)
        again = self.post_response(sid, {"answers": {"nps": 6}}, headers=h)
        self.assertEqual(again.status, 201, again.body)
        self.assertIsNone(again.headers.get("Idempotent-Replayed"))
        self.assertNotEqual(again.json["id"], first)


class InteractionConflictTests(ResponseTestBase):

    def test_second_response_same_interaction_409(self):
        inter = uid("inter")
        r1 = self.post_ok(self.sid, {"answers": {"nps": 1}, "interaction": inter})
        r2 = self.post_response(self.sid, {"answers": {"nps": 9}, "interaction": inter})
        j = self.assertProblem(r2, 409, "conflict")
        self.assertEqual(j.get("id"), r1.json["id"])
        # The original is untouched.
        self.assertEqual(self.get_response(r1.json["id"]).json["answers"], {"nps": 1})

    def test_same_interaction_other_survey_ok(self):
        inter = uid("inter")
        other = self.new_survey(prefix="other")
        self.post_ok(self.sid, {"answers": {"nps": 1}, "interaction": inter})
        self.post_ok(other, {"answers": {"nps": 1}, "interaction": inter})


if __name__ == "__main__":
    unittest.main()
