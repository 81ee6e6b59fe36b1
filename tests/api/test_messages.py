"""Error messages a person can act on (issue 12, items 13-18): each names the field, states the
real rule and, where the caller got something close, what would have been right."""

import unittest

from harness import (ADMIN_TOKEN, INGEST_TOKEN, READ_TOKEN, BaseAPITest,
                     simple_definition, uid)

CHOICES = ["met", "exceeded", "fell short"]


def message_of(test, resp, field):
    """The message of the one error naming `field` in a 422 validation_failed."""
    test.assertValidation(resp, field)
    found = [e["message"] for e in resp.json["errors"] if e["field"] == field]
    test.assertEqual(len(found), 1, resp.json)
    return found[0]


class SurveyNotFoundTests(BaseAPITest):
    """Item 13: a mistyped survey id is 'no survey ...' with its own code, for callers allowed to
    know; everyone else gets exactly what a private survey gives them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.private = uid("priv")
        r = cls.daemon.req("PUT", "/v1/surveys/" + cls.private, simple_definition(),
                           token=ADMIN_TOKEN)
        assert r.status == 201, r.body

    def assertSurveyNotFound(self, resp, sid):
        j = self.assertProblem(resp, 404, "survey_not_found")
        self.assertEqual(j["type"], "urn:surveyd:problem:survey_not_found")
        self.assertEqual(j["detail"], "no survey '%s'" % sid)

    def test_submit_to_mistyped_survey(self):
        for token in (ADMIN_TOKEN, INGEST_TOKEN):
            with self.subTest(token=token):
                r = self.post_response("suport", {"answers": {"nps": 9}}, token=token)
                self.assertSurveyNotFound(r, "suport")

    def test_read_and_delete_mistyped_survey(self):
        for method, path, token in (
                ("GET", "/v1/surveys/suport", READ_TOKEN),
                ("GET", "/v1/surveys/suport", ADMIN_TOKEN),
                ("GET", "/v1/surveys/suport/responses", READ_TOKEN),
                ("GET", "/v1/surveys/suport/responses?format=ndjson", READ_TOKEN),
                ("GET", "/v1/surveys/suport/metrics", READ_TOKEN),
                ("DELETE", "/v1/surveys/suport", ADMIN_TOKEN)):
            with self.subTest(method=method, path=path):
                self.assertSurveyNotFound(self.req(method, path, token=token), "suport")

    def test_malformed_id_is_not_echoed(self):
        r = self.req("GET", "/v1/surveys/Not%20an%20id/metrics", token=READ_TOKEN)
        j = self.assertProblem(r, 404, "survey_not_found")
        self.assertNotIn("Not", j["detail"])
        self.assertIn("a-z, 0-9", j["detail"])

    def test_unknown_route_keeps_not_found(self):
        j = self.assertProblem(self.req("GET", "/v1/survey/support", token=ADMIN_TOKEN),
                               404, "not_found")
        self.assertEqual(j["detail"], "no such resource")

    def test_callers_not_allowed_cannot_probe(self):
        """A missing survey answers exactly like an existing private one."""
        missing = uid("missing")
        for method, suffix, body, token, status in (
                ("POST", "/responses", {"answers": {"nps": 9}}, None, 401),
                ("POST", "/responses", {"answers": {"nps": 9}}, READ_TOKEN, 403),
                ("GET", "", None, None, 401),
                ("GET", "", None, INGEST_TOKEN, 403),
                ("GET", "/metrics", None, INGEST_TOKEN, 403),
                ("DELETE", "", None, READ_TOKEN, 403)):
            with self.subTest(method=method, suffix=suffix, token=token):
                real = self.req(method, "/v1/surveys/" + self.private + suffix, body, token=token)
                gone = self.req(method, "/v1/surveys/" + missing + suffix, body, token=token)
                code = "unauthorized" if status == 401 else "forbidden"
                a = self.assertProblem(real, status, code)
                b = self.assertProblem(gone, status, code)
                self.assertEqual(a["detail"], b["detail"])
                self.assertEqual(real.headers.get("WWW-Authenticate"),
                                 gone.headers.get("WWW-Authenticate"))


class DateBefore1970Tests(BaseAPITest):
    """Item 14: a valid date before 1970 is refused for what it is, not as malformed."""

    def test_query_dates_before_epoch(self):
        sid = self.new_survey()
        for path in ("/v1/surveys/%s/metrics" % sid, "/v1/surveys/%s/responses" % sid):
            for field, value in (("from", "1969-12-31"), ("to", "1969-12-31T23:59:59Z"),
                                 ("from", "1900-01-01")):
                with self.subTest(path=path, field=field, value=value):
                    r = self.req("GET", "%s?%s=%s" % (path, field, value), token=READ_TOKEN)
                    msg = message_of(self, r, field)
                    self.assertIn("1970-01-01", msg)
                    self.assertNotIn("must be a date", msg)
        # A malformed date still gets the format rule.
        r = self.req("GET", "/v1/surveys/%s/metrics?from=1970-13-01" % sid, token=READ_TOKEN)
        self.assertIn("must be a date (2026-11-02)", message_of(self, r, "from"))
        # The epoch itself is fine.
        r = self.req("GET", "/v1/surveys/%s/metrics?from=1970-01-01" % sid, token=READ_TOKEN)
        self.assertEqual(r.status, 200, r.body)

    def test_submitted_at_before_epoch(self):
        sid = self.new_survey()
        r = self.post_response(sid, {"answers": {"nps": 9}, "submitted_at": "1969-07-20T20:17:40Z"})
        msg = message_of(self, r, "submitted_at")
        self.assertIn("1970-01-01", msg)
        self.assertNotIn("such as", msg)


class ChoiceMessageTests(BaseAPITest):
    """Item 15: a wrong choice names the options (up to 10) and whether write-ins are allowed."""

    def choice_survey(self, options, allow_other):
        return self.new_survey({"title": "c", "questions": [
            {"id": "expect", "type": "choice", "options": options, "allow_other": allow_other}]})

    def test_wrong_case_lists_options_without_write_ins(self):
        sid = self.choice_survey(CHOICES, False)
        for answer in ("Met", {"other": "x"}, 3):
            with self.subTest(answer=answer):
                msg = message_of(self, self.post_response(sid, {"answers": {"expect": answer}}),
                                 "answers.expect")
                self.assertEqual(msg, 'must be one of the options: "met", "exceeded", "fell short"; '
                                      'write-ins ({"other": ...}) are not allowed')

    def test_write_ins_allowed_are_named(self):
        sid = self.choice_survey(CHOICES, True)
        msg = message_of(self, self.post_response(sid, {"answers": {"expect": "Met"}}),
                         "answers.expect")
        self.assertEqual(msg, 'must be one of the options: "met", "exceeded", "fell short"; '
                              'or a write-in as {"other": "text"}')

    def test_at_most_ten_options_listed(self):
        options = ["option %02d" % i for i in range(1, 13)]
        sid = self.choice_survey(options, False)
        msg = message_of(self, self.post_response(sid, {"answers": {"expect": "option 13"}}),
                         "answers.expect")
        self.assertTrue(msg.startswith('must be one of the 12 options: "option 01", '), msg)
        self.assertIn('"option 10" and 2 more;', msg)
        self.assertNotIn("option 11", msg)

    def test_long_multibyte_options_whole(self):
        """Long options are listed whole: no message cut inside a UTF-8 character."""
        options = [("é" * 199) + str(i) for i in range(10)]
        sid = self.choice_survey(options, False)
        msg = message_of(self, self.post_response(sid, {"answers": {"expect": "x"}}),
                         "answers.expect")
        for option in options:
            self.assertIn('"%s"' % option, msg)


class RequiredFieldTests(BaseAPITest):
    """Item 16: every missing required field says 'is required'."""

    def test_definition_fields(self):
        for body, field in (
                ({"questions": [{"id": "q", "type": "nps"}]}, "title"),
                ({"title": "t"}, "questions"),
                ({"title": "t", "questions": [{"type": "nps"}]}, "questions[0].id"),
                ({"title": "t", "questions": [{"id": "q"}]}, "questions[0].type"),
                ({"title": "t", "questions": [{"id": "q", "type": "choice"}]}, "questions[0].options")):
            with self.subTest(field=field):
                r = self.req("PUT", "/v1/surveys/" + uid("req"), body, token=ADMIN_TOKEN)
                self.assertEqual(message_of(self, r, field), "is required")

    def test_present_but_wrong_keeps_its_rule(self):
        r = self.req("PUT", "/v1/surveys/" + uid("req"),
                     {"title": 7, "questions": [{"id": "q", "type": "nps"}]}, token=ADMIN_TOKEN)
        self.assertEqual(message_of(self, r, "title"), "must be a string")

    def test_response_answers(self):
        sid = self.new_survey()
        r = self.post_response(sid, {"channel": "chat"})
        self.assertEqual(message_of(self, r, "answers"), "is required")


class BearerMessageTests(BaseAPITest):
    """Item 17: a token sent the wrong way is told how to send it."""

    def test_wrong_scheme(self):
        for value in ("adm", ADMIN_TOKEN, "Basic YWRtaW46YWRtaW4=", "Token " + ADMIN_TOKEN, "Bearer"):
            with self.subTest(value=value):
                r = self.req("GET", "/v1/surveys", headers={"Authorization": value})
                j = self.assertProblem(r, 401, "unauthorized")
                self.assertIn("'Bearer <token>'", j["detail"])
                self.assertIn("Authorization header", j["detail"])

    def test_no_header(self):
        j = self.assertProblem(self.req("GET", "/v1/surveys"), 401, "unauthorized")
        self.assertIn("'Authorization: Bearer <token>'", j["detail"])

    def test_unknown_token_unchanged(self):
        j = self.assertProblem(self.req("GET", "/v1/surveys", token="nope"), 401, "unauthorized")
        self.assertEqual(j["detail"], "the bearer token is not valid")


class PatchFieldTests(BaseAPITest):
    """Item 18: a PATCH names the fields it can't change."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sid = uid("patch")
        r = cls.daemon.req("PUT", "/v1/surveys/" + cls.sid, simple_definition(), token=ADMIN_TOKEN)
        assert r.status == 201, r.body

    def new_response(self):
        return self.post_ok(self.sid, {"answers": {"nps": 9}, "channel": "web"}).json["id"]

    def patch(self, rid, body):
        return self.req("PATCH", "/v1/responses/" + rid, body, token=INGEST_TOKEN)

    def test_channel_alone(self):
        rid = self.new_response()
        r = self.patch(rid, {"channel": "chat"})
        got = self.assertValidation(r, "channel", "answers", exact=True)
        self.assertEqual(sorted(got), ["answers", "channel"])
        self.assertIn("can't be changed", message_of(self, r, "channel"))
        self.assertEqual(message_of(self, r, "answers"), "is required")

    def test_every_fixed_field_named(self):
        rid = self.new_response()
        fixed = {"channel": "chat", "customer": "c", "agent": "a", "interaction": "i",
                 "submitted_at": "2026-11-02T14:00:00Z", "properties": {"k": "v"}}
        r = self.patch(rid, dict(fixed, answers={"comment": "later"}))
        self.assertValidation(r, *fixed, exact=True)
        for field in fixed:
            self.assertIn("can't be changed", message_of(self, r, field))
        # Nothing was changed.
        self.assertEqual(self.get_response(rid).json["channel"], "web")
        self.assertNotIn("comment", self.get_response(rid).json["answers"])

    def test_unknown_field_named(self):
        rid = self.new_response()
        r = self.patch(rid, {"answers": {"comment": "x"}, "colour": "red"})
        self.assertValidation(r, "colour", exact=True)
        self.assertIn("unknown field", message_of(self, r, "colour"))

    def test_answers_rules_kept(self):
        rid = self.new_response()
        self.assertEqual(message_of(self, self.patch(rid, {"answers": {}}), "answers"),
                         "must be an object with at least one answer")
        self.assertValidation(self.patch(rid, {"answers": {"nope": 1}}), "answers.nope", exact=True)
        r = self.patch(rid, {"answers": {"comment": "fine"}})
        self.assertEqual(r.status, 200, r.body)


if __name__ == "__main__":
    unittest.main()
