"""Survey definition CRUD: PUT/GET/list/DELETE, id rules, validation,
defaults and the replace rules."""

import copy
import unittest

from harness import (ADMIN_TOKEN, INGEST_TOKEN, READ_TOKEN, BaseAPITest,
                     parse_time, simple_definition, uid)


def full_definition():
    return {
        "title": "Every type",
        "questions": [
            {"id": "q_nps", "type": "nps", "text": "Recommend?", "required": True},
            {"id": "q_csat", "type": "csat"},
            {"id": "q_csat2", "type": "csat", "scale": 2},
            {"id": "q_ces", "type": "ces"},
            {"id": "q_ces5", "type": "ces", "scale": 5},
            {"id": "q_yn", "type": "yes_no"},
            {"id": "q_choice", "type": "choice", "options": ["a", "b", "c"]},
            {"id": "q_other", "type": "choice", "options": ["x"], "allow_other": True},
            {"id": "q_text", "type": "text"},
            {"id": "q_short", "type": "text", "max_length": 10},
        ],
    }


class SurveyCrudTests(BaseAPITest):

    def test_put_creates_201_then_replace_200(self):
        sid = uid("crud")
        r = self.put_survey(sid, simple_definition(), expect=None)
        self.assertEqual(r.status, 201, r.body)
        r = self.put_survey(sid, simple_definition(title="Renamed"), expect=None)
        self.assertEqual(r.status, 200, r.body)
        g = self.req("GET", "/v1/surveys/" + sid, token=READ_TOKEN)
        self.assertEqual(g.status, 200, g.body)
        self.assertEqual(g.json["title"], "Renamed")

    def test_get_fills_defaults_and_metadata(self):
        sid = uid("defaults")
        self.put_survey(sid, full_definition())
        g = self.req("GET", "/v1/surveys/" + sid, token=READ_TOKEN)
        self.assertEqual(g.status, 200, g.body)
        self.assertTrue((g.headers.get("Content-Type") or "").startswith("application/json"))
        d = g.json
        self.assertEqual(d["id"], sid)
        self.assertEqual(d["title"], "Every type")
        self.assertIs(d["public"], False)
        qs = {q["id"]: q for q in d["questions"]}
        self.assertEqual([q["id"] for q in d["questions"]],
                         [q["id"] for q in full_definition()["questions"]],
                         "question order must be preserved")
        self.assertEqual(qs["q_csat"]["scale"], 5)
        self.assertEqual(qs["q_csat2"]["scale"], 2)
        self.assertEqual(qs["q_ces"]["scale"], 7)
        self.assertEqual(qs["q_ces5"]["scale"], 5)
        self.assertEqual(qs["q_text"]["max_length"], 2000)
        self.assertEqual(qs["q_short"]["max_length"], 10)
        self.assertEqual(qs["q_choice"]["options"], ["a", "b", "c"])
        self.assertIs(qs["q_other"]["allow_other"], True)
        self.assertEqual(qs["q_nps"]["text"], "Recommend?")
        self.assertIs(qs["q_nps"]["required"], True)
        for qid, q in qs.items():
            if qid != "q_nps":
                self.assertIs(q["required"], False, qid)
        for qid, q in qs.items():
            self.assertEqual(q["type"], {q2["id"]: q2 for q2 in full_definition()["questions"]}[qid]["type"])
        self.assertRFC3339UTC(d["created_at"])
        self.assertRFC3339UTC(d["updated_at"])

    def test_public_and_allowed_origins_roundtrip(self):
        sid = uid("pub")
        self.put_survey(sid, simple_definition(public=True,
                                               allowed_origins=["https://example.com"]))
        g = self.req("GET", "/v1/surveys/" + sid, token=READ_TOKEN)
        self.assertEqual(g.status, 200)
        self.assertIs(g.json["public"], True)
        self.assertEqual(g.json["allowed_origins"], ["https://example.com"])

    def test_replace_keeps_created_at_and_bumps_updated_at(self):
        sid = uid("times")
        self.put_survey(sid, simple_definition())
        g1 = self.req("GET", "/v1/surveys/" + sid, token=READ_TOKEN).json
        self.put_survey(sid, simple_definition(title="v2"))
        g2 = self.req("GET", "/v1/surveys/" + sid, token=READ_TOKEN).json
        self.assertSameInstant(g1["created_at"], g2["created_at"])
        self.assertGreaterEqual(parse_time(g2["updated_at"]), parse_time(g1["updated_at"]))
        self.assertGreaterEqual(parse_time(g2["updated_at"]), parse_time(g2["created_at"]))

    def test_list_sorted_by_id(self):
        base = uid("list")
        ids = [base + "-b", base + "-c", base + "-a", base + "-0"]
        for i in ids:
            self.put_survey(i, simple_definition(title="t " + i))
        r = self.req("GET", "/v1/surveys", token=READ_TOKEN)
        self.assertEqual(r.status, 200, r.body)
        self.assertIsInstance(r.json, dict)
        surveys = r.json["surveys"]
        self.assertIsInstance(surveys, list)
        all_ids = [s["id"] for s in surveys]
        self.assertEqual(all_ids, sorted(all_ids))
        mine = [s for s in surveys if s["id"].startswith(base + "-")]
        self.assertEqual([s["id"] for s in mine], sorted(ids))
        for s in mine:
            self.assertEqual(s["title"], "t " + s["id"])
            self.assertIn("questions", s)

    def test_list_auth(self):
        self.assertEqual(self.req("GET", "/v1/surveys", token=ADMIN_TOKEN).status, 200)
        r = self.req("GET", "/v1/surveys")
        self.assertProblem(r, 401, "unauthorized")
        r = self.req("GET", "/v1/surveys", token=INGEST_TOKEN)
        self.assertProblem(r, 403, "forbidden")

    def test_get_private_survey_auth(self):
        sid = self.new_survey(prefix="priv")
        self.assertProblem(self.req("GET", "/v1/surveys/" + sid), 401, "unauthorized")
        self.assertProblem(self.req("GET", "/v1/surveys/" + sid, token=INGEST_TOKEN),
                           403, "forbidden")
        self.assertEqual(self.req("GET", "/v1/surveys/" + sid, token=READ_TOKEN).status, 200)
        self.assertEqual(self.req("GET", "/v1/surveys/" + sid, token=ADMIN_TOKEN).status, 200)

    def test_get_public_survey_anonymous(self):
        sid = self.new_survey(simple_definition(public=True), prefix="anon")
        r = self.req("GET", "/v1/surveys/" + sid)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json["id"], sid)
        self.assertIs(r.json["public"], True)

    def test_get_unknown_survey_404(self):
        r = self.req("GET", "/v1/surveys/" + uid("missing"), token=READ_TOKEN)
        self.assertProblem(r, 404, "survey_not_found")

    def test_put_requires_admin(self):
        sid = uid("noadmin")
        self.assertProblem(self.req("PUT", "/v1/surveys/" + sid, simple_definition()),
                           401, "unauthorized")
        for tok in (READ_TOKEN, INGEST_TOKEN):
            self.assertProblem(
                self.req("PUT", "/v1/surveys/" + sid, simple_definition(), token=tok),
                403, "forbidden")
        self.assertProblem(self.req("GET", "/v1/surveys/" + sid, token=READ_TOKEN),
                           404, "survey_not_found")

    def test_delete_removes_survey_and_responses(self):
        sid = self.new_survey(prefix="del")
        rid = self.post_ok(sid, {"answers": {"nps": 7}, "interaction": "del-i"}).json["id"]
        self.assertEqual(self.get_response(rid).status, 200)
        self.assertProblem(self.req("DELETE", "/v1/surveys/" + sid), 401, "unauthorized")
        self.assertProblem(self.req("DELETE", "/v1/surveys/" + sid, token=READ_TOKEN),
                           403, "forbidden")
        self.assertProblem(self.req("DELETE", "/v1/surveys/" + sid, token=INGEST_TOKEN),
                           403, "forbidden")
        r = self.req("DELETE", "/v1/surveys/" + sid, token=ADMIN_TOKEN)
        self.assertEqual(r.status, 204, r.body)
        self.assertEqual(r.body, b"")
        self.assertProblem(self.req("GET", "/v1/surveys/" + sid, token=READ_TOKEN),
                           404, "survey_not_found")
        self.assertProblem(self.get_response(rid), 404, "not_found")
        ids = [s["id"] for s in self.req("GET", "/v1/surveys", token=READ_TOKEN).json["surveys"]]
        self.assertNotIn(sid, ids)
        self.assertProblem(self.req("DELETE", "/v1/surveys/" + sid, token=ADMIN_TOKEN),
                           404, "survey_not_found")
        # Re-creating gives a fresh survey (201) without the old responses.
        r = self.put_survey(sid, simple_definition(), expect=None)
        self.assertEqual(r.status, 201, r.body)
        self.assertProblem(self.get_response(rid), 404, "not_found")
        rid2 = self.post_ok(sid, {"answers": {"nps": 1}, "interaction": "del-i"}).json["id"]
        self.assertNotEqual(rid2, rid)


class SurveyIdTests(BaseAPITest):

    BAD_IDS = ["-abc", "_abc", "Abc", "abC", "a" * 65, "a.b", "a%20b", "a~b",
               "%C3%A9t%C3%A9"]
    GOOD_IDS = ["a", "0", "9lives", "a_b-c", "x" * 64, "a--", "z_"]

    def test_valid_ids_accepted(self):
        for sid in self.GOOD_IDS:
            with self.subTest(sid=sid):
                r = self.put_survey(sid, simple_definition(), expect=None)
                self.assertIn(r.status, (200, 201), r.body)
                g = self.req("GET", "/v1/surveys/" + sid, token=READ_TOKEN)
                self.assertEqual(g.status, 200)
                self.assertEqual(g.json["id"], sid)

    def test_malformed_id_put_422(self):
        for sid in self.BAD_IDS:
            with self.subTest(sid=sid):
                r = self.req("PUT", "/v1/surveys/" + sid, simple_definition(), token=ADMIN_TOKEN)
                self.assertValidation(r)

    def test_malformed_id_get_delete_404(self):
        for sid in self.BAD_IDS:
            with self.subTest(sid=sid):
                self.assertProblem(self.req("GET", "/v1/surveys/" + sid, token=READ_TOKEN),
                                   404, "survey_not_found")
                self.assertProblem(self.req("DELETE", "/v1/surveys/" + sid, token=ADMIN_TOKEN),
                                   404, "survey_not_found")

    def test_question_id_rules(self):
        for qid in ["Q1", "-q", "_q", "q.1", "q" * 65, "", "q 1"]:
            with self.subTest(qid=qid):
                d = simple_definition()
                d["questions"][1]["id"] = qid
                r = self.put_survey(uid("qid"), d, expect=None)
                self.assertValidation(r, "questions[1]*")
        for qid in ["q" * 64, "1", "a-b_c"]:
            with self.subTest(qid=qid):
                d = simple_definition()
                d["questions"][1]["id"] = qid
                self.assertEqual(self.put_survey(uid("qid"), d, expect=None).status, 201)


class SurveyValidationTests(BaseAPITest):

    def bad(self, definition, *fields):
        r = self.put_survey(uid("inv"), definition, expect=None)
        return self.assertValidation(r, *fields)

    def test_title_rules(self):
        d = simple_definition()
        del d["title"]
        self.bad(d, "title")
        self.bad(simple_definition(title=123), "title")
        self.bad(simple_definition(title=None), "title")

    def test_public_must_be_bool(self):
        self.bad(simple_definition(public="yes"), "public")
        self.bad(simple_definition(public=1), "public")

    def test_allowed_origins_must_be_string_array(self):
        self.bad(simple_definition(allowed_origins="https://x"), "allowed_origins*")
        self.bad(simple_definition(allowed_origins=[1]), "allowed_origins*")

    def test_questions_count(self):
        d = simple_definition()
        del d["questions"]
        self.bad(d, "questions*")
        self.bad(simple_definition(questions=[]), "questions*")
        self.bad(simple_definition(questions={"id": "a", "type": "nps"}), "questions*")
        many = [{"id": "q%d" % i, "type": "yes_no"} for i in range(51)]
        self.bad(simple_definition(questions=many), "questions*")
        r = self.put_survey(uid("fifty"), simple_definition(questions=many[:50]), expect=None)
        self.assertEqual(r.status, 201, r.body)

    def test_duplicate_question_ids(self):
        qs = [{"id": "dup", "type": "nps"}, {"id": "dup", "type": "yes_no"}]
        self.bad(simple_definition(questions=qs), "questions*")

    def test_question_type(self):
        self.bad(simple_definition(questions=[{"id": "a", "type": "rating"}]), "questions[0]*")
        self.bad(simple_definition(questions=[{"id": "a"}]), "questions[0]*")
        self.bad(simple_definition(questions=[{"type": "nps"}]), "questions[0]*")
        self.bad(simple_definition(questions=["nps"]), "questions[0]*")

    def test_csat_scales(self):
        for scale in (2, 3, 4, 5, 6, 7, 10):
            with self.subTest(scale=scale):
                d = simple_definition(questions=[{"id": "c", "type": "csat", "scale": scale}])
                self.assertEqual(self.put_survey(uid("csat"), d, expect=None).status, 201)
        for scale in (0, 1, 8, 9, 11, "5", 5.5):
            with self.subTest(scale=scale):
                qs = [{"id": "a", "type": "nps"}, {"id": "b", "type": "yes_no"},
                      {"id": "c", "type": "csat", "scale": scale}]
                self.bad(simple_definition(questions=qs), "questions[2].scale")

    def test_ces_scales(self):
        for scale in (5, 7):
            d = simple_definition(questions=[{"id": "c", "type": "ces", "scale": scale}])
            self.assertEqual(self.put_survey(uid("ces"), d, expect=None).status, 201)
        for scale in (4, 6, 10, 1):
            with self.subTest(scale=scale):
                qs = [{"id": "c", "type": "ces", "scale": scale}]
                self.bad(simple_definition(questions=qs), "questions[0].scale")

    def test_choice_options(self):
        def q(**kw):
            d = {"id": "ch", "type": "choice"}
            d.update(kw)
            return simple_definition(questions=[d])
        self.bad(q(), "questions[0]*")
        self.bad(q(options=[]), "questions[0]*")
        self.bad(q(options=["a", "a"]), "questions[0]*")
        self.bad(q(options=["a", 1]), "questions[0]*")
        self.bad(q(options="a"), "questions[0]*")
        self.bad(q(options=["o%d" % i for i in range(51)]), "questions[0]*")
        self.bad(q(options=["a"], allow_other="yes"), "questions[0]*")
        r = self.put_survey(uid("ch"), q(options=["o%d" % i for i in range(50)]), expect=None)
        self.assertEqual(r.status, 201, r.body)

    def test_text_max_length(self):
        def q(ml):
            return simple_definition(questions=[{"id": "t", "type": "text", "max_length": ml}])
        self.assertEqual(self.put_survey(uid("tx"), q(10000), expect=None).status, 201)
        self.assertEqual(self.put_survey(uid("tx"), q(1), expect=None).status, 201)
        self.bad(q(10001), "questions[0]*")
        self.bad(q(-1), "questions[0]*")
        self.bad(q("100"), "questions[0]*")

    def test_required_and_text_types(self):
        self.bad(simple_definition(questions=[{"id": "a", "type": "nps", "required": "yes"}]),
                 "questions[0]*")
        self.bad(simple_definition(questions=[{"id": "a", "type": "nps", "text": 5}]),
                 "questions[0]*")

    def test_every_problem_listed(self):
        d = {
            "public": "nope",
            "questions": [
                {"id": "a", "type": "nps"},
                {"id": "b", "type": "yes_no"},
                {"id": "c", "type": "csat", "scale": 8},
            ],
        }
        got = self.bad(d, "title", "public", "questions[2].scale")
        self.assertEqual(len(got), 3, got)

    def test_body_not_object(self):
        self.bad([simple_definition()])
        self.bad(b'"just a string"')

    def test_malformed_json_400(self):
        r = self.req("PUT", "/v1/surveys/" + uid("badjson"), b'{"title": "x", ',
                     token=ADMIN_TOKEN)
        self.assertProblem(r, 400, "invalid_json")


class SurveyReplaceRuleTests(BaseAPITest):

    def setUp(self):
        self.sid = uid("repl")
        self.defn = {
            "title": "Original",
            "questions": [
                {"id": "q_nps", "type": "nps", "text": "Old prompt"},
                {"id": "q_csat", "type": "csat", "scale": 5},
                {"id": "q_unanswered", "type": "yes_no"},
                {"id": "q_unanswered2", "type": "ces"},
            ],
        }
        self.put_survey(self.sid, self.defn)
        self.post_ok(self.sid, {"answers": {"q_nps": 9, "q_csat": 4}})

    def modified(self, fn):
        d = copy.deepcopy(self.defn)
        fn(d)
        return d

    def q(self, d, qid):
        return next(q for q in d["questions"] if q["id"] == qid)

    def assertUnchanged(self):
        g = self.req("GET", "/v1/surveys/" + self.sid, token=READ_TOKEN).json
        self.assertEqual(g["title"], "Original")
        qs = {q["id"]: q for q in g["questions"]}
        self.assertEqual(set(qs), {"q_nps", "q_csat", "q_unanswered", "q_unanswered2"})
        self.assertEqual(qs["q_nps"]["type"], "nps")
        self.assertEqual(qs["q_csat"]["scale"], 5)

    def test_change_type_of_answered_question_409(self):
        d = self.modified(lambda d: self.q(d, "q_nps").update(type="yes_no"))
        self.assertProblem(self.put_survey(self.sid, d, expect=None), 409, "conflict")
        self.assertUnchanged()

    def test_change_scale_of_answered_question_409(self):
        d = self.modified(lambda d: self.q(d, "q_csat").update(scale=7))
        self.assertProblem(self.put_survey(self.sid, d, expect=None), 409, "conflict")
        self.assertUnchanged()

    def test_remove_answered_question_409(self):
        d = self.modified(lambda d: d["questions"].pop(0))
        self.assertProblem(self.put_survey(self.sid, d, expect=None), 409, "conflict")
        self.assertUnchanged()

    def test_add_question_change_title_and_prompt_ok(self):
        def change(d):
            d["title"] = "New title"
            self.q(d, "q_nps")["text"] = "New prompt"
            d["questions"].append({"id": "q_new", "type": "text", "max_length": 50})
        r = self.put_survey(self.sid, self.modified(change), expect=None)
        self.assertEqual(r.status, 200, r.body)
        g = self.req("GET", "/v1/surveys/" + self.sid, token=READ_TOKEN).json
        self.assertEqual(g["title"], "New title")
        qs = {q["id"]: q for q in g["questions"]}
        self.assertEqual(qs["q_nps"]["text"], "New prompt")
        self.assertEqual(qs["q_new"]["max_length"], 50)
        self.post_ok(self.sid, {"answers": {"q_new": "hello", "q_nps": 3}})

    def test_change_unanswered_question_type_and_scale_ok(self):
        def change(d):
            self.q(d, "q_unanswered").update(type="nps")
            self.q(d, "q_unanswered2").update(scale=5)
        r = self.put_survey(self.sid, self.modified(change), expect=None)
        self.assertEqual(r.status, 200, r.body)
        g = self.req("GET", "/v1/surveys/" + self.sid, token=READ_TOKEN).json
        qs = {q["id"]: q for q in g["questions"]}
        self.assertEqual(qs["q_unanswered"]["type"], "nps")
        self.assertEqual(qs["q_unanswered2"]["scale"], 5)
        self.post_ok(self.sid, {"answers": {"q_unanswered": 10}})

    def test_null_answers_do_not_count_as_answers(self):
        self.post_ok(self.sid, {"answers": {"q_nps": 1, "q_unanswered": None}})
        d = self.modified(lambda d: self.q(d, "q_unanswered").update(type="nps"))
        r = self.put_survey(self.sid, d, expect=None)
        self.assertEqual(r.status, 200, r.body)

    def test_remove_unanswered_question_ok(self):
        d = self.modified(lambda d: d["questions"].pop(2))
        r = self.put_survey(self.sid, d, expect=None)
        self.assertEqual(r.status, 200, r.body)

    def test_invalid_replacement_is_422_not_409(self):
        d = self.modified(lambda d: d.pop("title"))
        self.assertValidation(self.put_survey(self.sid, d, expect=None), "title")
        self.assertUnchanged()


if __name__ == "__main__":
    unittest.main()
