"""GET /v1/surveys/{survey}/terms: the most frequent terms of a segment's responses, with lift.

Every figure is checked against `Model` below, an independent Python implementation of the
documented rules: a response's document is its text answers and "other" write-ins; its terms are
its words folded (lower case, Latin diacritics removed), split on anything that is not a letter or
a digit, counted once per response, less stop words, one-character words and numbers. The test
texts keep to ASCII and Latin letters with diacritics, where that tokenizer and FTS5's unicode61
(which surveyd follows) agree. Rounding: share and all_share half up to 4 decimals, lift to 2,
from the exact fractions. Responses carry explicit `submitted_at`, windows explicit from/to.
"""

import datetime
import os
import random
import tempfile
import unicodedata
import urllib.parse
import unittest
from fractions import Fraction

from harness import (ADMIN_TOKEN, DEFAULT_ENV, INGEST_TOKEN, READ_TOKEN, BaseAPITest, run_cli,
                     uid)

UTC = datetime.timezone.utc
BASE = datetime.datetime(2026, 3, 1, tzinfo=UTC)

# The built-in list as docs/search.md documents it.
BUILTIN_STOP_WORDS = set("""
a about above after again against ain all also am an and any are aren as at be because been before
being below between both but by can could couldn d did didn do does doesn doing don down during
each else even ever every few for from further get gets got had hadn has hasn have haven having he
her here hers herself him himself his how however i if in into is isn it its itself just ll m ma
may me might mightn more most much must mustn my myself needn no nor not now o of off on once one
only or other our ours ourselves out over own re really s same shall shan she should shouldn since
so some still such t than that the their theirs them themselves then there these they this those
though through to too under until up upon us ve very was wasn we were weren what when where whether
which while who whom whose why will with won would wouldn y yet you your yours yourself yourselves
""".split())

# Words of the generated comments: content words (some with diacritics and capitals), stop words,
# numbers and single letters, so that every rule of the term filter matters.
CONTENT = ["delivery", "Delivery", "DÉLIVERY", "délivery", "slow", "support", "refund", "price",
           "app", "crash", "crashes", "login", "great", "fast", "friendly", "café", "Café", "naïve",
           "über", "Über", "garçon", "rude", "wait", "waiting", "x2", "v2", "ok"]
NOISE = ["the", "and", "was", "It", "THE", "don't", "i", "a", "7", "2024", "x", "é", "very",
         "really", "would"]
SEPARATORS = [" ", ", ", ". ", "! ", " - ", "\n", "_", "/", "  "]

DEFINITION = {
    "title": "Terms survey",
    "questions": [
        {"id": "rec", "type": "nps"},
        {"id": "why", "type": "text"},
        {"id": "pick", "type": "choice", "options": ["price", "speed"], "allow_other": True},
        {"id": "rec2", "type": "nps"},
        {"id": "more", "type": "text"},
    ],
}
TEXT_QUESTIONS = ("why", "more")


def fold(word):
    decomposed = unicodedata.normalize("NFD", word)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", stripped).casefold()


def tokens(text):
    out, cur = [], []
    for c in fold(text):
        if c.isalnum():
            cur.append(c)
        elif cur:
            out.append("".join(cur))
            cur = []
    if cur:
        out.append("".join(cur))
    return out


def is_term(tok, stop):
    return len(tok) > 1 and not (tok.isascii() and tok.isdigit()) and tok not in stop


def round_half_up(frac, places):
    scale = 10 ** places
    units = (frac * scale * 2 + 1) // 2     # floor(x + 1/2) for x >= 0
    return float(Fraction(units, scale))


def ms(dt):
    return int(dt.timestamp() * 1000)


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)


class Model:
    """The responses as posted (and later edited or deleted), and the figures they must give."""

    def __init__(self, stop=BUILTIN_STOP_WORDS):
        self.rows = {}      # id -> {"at": datetime, "answers": dict, "customer": str|None}
        self.stop = stop

    def document(self, answers):
        parts = []
        for q in DEFINITION["questions"]:
            v = answers.get(q["id"])
            if q["type"] == "text" and isinstance(v, str) and v:
                parts.append(v)
            elif q["type"] == "choice" and isinstance(v, dict) and v.get("other"):
                parts.append(v["other"])
        return "\n".join(parts) if parts else None

    def segment_of(self, answers, segment, question):
        if segment == "all":
            return True
        v = answers.get(question)
        if not isinstance(v, int):
            return False
        return {"detractors": v <= 6, "passives": 7 <= v <= 8, "promoters": v >= 9}[segment]

    def expect(self, segment="detractors", question="rec", start=None, end=None, limit=20):
        seg_n = all_n = 0
        seg_count, all_count = {}, {}
        for row in self.rows.values():
            if (start and row["at"] < start) or (end and row["at"] >= end):
                continue
            doc = self.document(row["answers"])
            if doc is None:
                continue
            inside = self.segment_of(row["answers"], segment, question)
            all_n += 1
            seg_n += inside
            for term in {t for t in tokens(doc) if is_term(t, self.stop)}:
                all_count[term] = all_count.get(term, 0) + 1
                if inside:
                    seg_count[term] = seg_count.get(term, 0) + 1
        ranked = sorted(seg_count, key=lambda t: (-seg_count[t], t))[:limit]
        terms = []
        for t in ranked:
            c, a = seg_count[t], all_count[t]
            terms.append({"term": t, "responses": c, "share": round_half_up(Fraction(c, seg_n), 4),
                          "all_responses": a, "all_share": round_half_up(Fraction(a, all_n), 4),
                          "lift": round_half_up(Fraction(c * all_n, seg_n * a), 2)})
        return {"responses": seg_n, "all_responses": all_n, "terms": terms}


def comment(rng):
    words = [rng.choice(CONTENT if rng.random() < 0.6 else NOISE) for _ in range(rng.randint(1, 9))]
    text = words[0]
    for w in words[1:]:
        text += rng.choice(SEPARATORS) + w
    return text


class TermsBase(BaseAPITest):
    SEED = 18

    @classmethod
    def post(cls, sid, body):
        r = cls.daemon.req("POST", "/v1/surveys/%s/responses" % sid, body, token=INGEST_TOKEN)
        assert r.status == 201, (r.status, r.body)
        return r.json["id"]

    @classmethod
    def fill(cls, model, sid, count, rng):
        for i in range(count):
            at = BASE + datetime.timedelta(minutes=97 * i + rng.randint(0, 60))
            answers = {}
            if rng.random() < 0.9:
                answers["rec"] = rng.randint(0, 10)
            if rng.random() < 0.5:
                answers["rec2"] = rng.randint(0, 10)
            for q in TEXT_QUESTIONS:
                if rng.random() < 0.6:
                    answers[q] = comment(rng)
            r = rng.random()
            if r < 0.2:
                answers["pick"] = {"other": comment(rng)}
            elif r < 0.4:
                answers["pick"] = rng.choice(["price", "speed"])   # an option's text is no document
            if not answers:
                answers["rec"] = 5
            customer = "cust-%d" % (i % 7)
            rid = cls.post(sid, {"answers": answers, "submitted_at": iso(at), "customer": customer})
            model.rows[rid] = {"at": at, "answers": answers, "customer": customer}

    def terms(self, sid, token=READ_TOKEN, **params):
        path = "/v1/surveys/%s/terms" % sid
        if params:
            path += "?" + urllib.parse.urlencode(params)
        return self.req("GET", path, token=token)

    def terms_ok(self, sid, **params):
        r = self.terms(sid, **params)
        self.assertEqual(r.status, 200, r.body[:800])
        return r.json

    def check(self, model, sid, start=None, end=None, **params):
        expected = model.expect(start=start, end=end,
                                segment=params.get("segment", "detractors"),
                                question=params.get("question", "rec"),
                                limit=int(params.get("limit", 20)))
        if start:
            params["from"] = iso(start)
        if end:
            params["to"] = iso(end)
        got = self.terms_ok(sid, **params)
        where = "%s %r" % (sid, params)
        self.assertEqual(got["responses"], expected["responses"], where)
        self.assertEqual(got["all_responses"], expected["all_responses"], where)
        self.assertEqual(got["terms"], expected["terms"], where)
        self.assertEqual(got["survey"], sid)
        self.assertEqual(got["segment"], params.get("segment", "detractors"))
        self.assertEqual(got["from"], iso(start) if start else None)
        self.assertEqual(got["to"], iso(end) if end else None)
        return got


class TermsTests(TermsBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sid = uid("terms")
        r = cls.daemon.req("PUT", "/v1/surveys/" + cls.sid, DEFINITION, token=ADMIN_TOKEN)
        assert r.status == 201, r
        cls.model = Model()
        cls.fill(cls.model, cls.sid, 260, random.Random(cls.SEED))
        # Another survey's responses never count.
        cls.other = uid("terms-other")
        r = cls.daemon.req("PUT", "/v1/surveys/" + cls.other, DEFINITION, token=ADMIN_TOKEN)
        assert r.status == 201, r
        cls.fill(Model(), cls.other, 30, random.Random(99))

    def test_default_is_detractors_of_first_nps_question(self):
        got = self.check(self.model, self.sid)
        self.assertEqual(got["question"], "rec")
        self.assertEqual(len(got["terms"]), 20)
        self.assertGreater(got["responses"], 0)

    def test_every_segment_all_time(self):
        for segment in ("detractors", "passives", "promoters", "all"):
            with self.subTest(segment=segment):
                got = self.check(self.model, self.sid, segment=segment, limit=200)
                if segment == "all":
                    self.assertEqual(got["responses"], got["all_responses"])
                    self.assertTrue(all(t["lift"] == 1 for t in got["terms"]))

    def test_question_picks_the_nps_question(self):
        for segment in ("detractors", "promoters"):
            got = self.check(self.model, self.sid, segment=segment, question="rec2", limit=50)
            self.assertEqual(got["question"], "rec2")

    def test_windows(self):
        windows = [
            (BASE, BASE + datetime.timedelta(days=3)),                      # whole days
            (BASE + datetime.timedelta(hours=7, minutes=13, seconds=5, milliseconds=250),
             BASE + datetime.timedelta(days=5, hours=2, milliseconds=1)),   # edges inside days
            (BASE + datetime.timedelta(days=8), None),                       # from only
            (None, BASE + datetime.timedelta(days=4, hours=12)),             # to only
            (BASE + datetime.timedelta(days=60), BASE + datetime.timedelta(days=61)),  # empty
        ]
        for start, end in windows:
            for segment in ("detractors", "all"):
                with self.subTest(start=start, end=end, segment=segment):
                    self.check(self.model, self.sid, start=start, end=end, segment=segment, limit=200)

    def test_window_edges_half_open(self):
        # One response exactly at `from` counts; one exactly at `to` does not.
        rows = sorted(self.model.rows.values(), key=lambda r: r["at"])
        start, end = rows[10]["at"], rows[40]["at"]
        self.check(self.model, self.sid, start=start, end=end, segment="all", limit=200)

    def test_limit(self):
        for limit in (1, 3, 200):
            with self.subTest(limit=limit):
                got = self.check(self.model, self.sid, segment="all", limit=limit)
                self.assertLessEqual(len(got["terms"]), limit)

    def test_filter_rules(self):
        got = self.terms_ok(self.sid, segment="all", limit=200)
        seen = {t["term"] for t in got["terms"]}
        for gone in ("the", "and", "was", "it", "don", "7", "2024", "x", "e", "i", "very", "would"):
            self.assertNotIn(gone, seen)
        for kept in ("delivery", "cafe", "naive", "uber", "garcon", "x2", "v2", "ok"):
            self.assertIn(kept, seen)

    def test_bad_parameters_422(self):
        cases = [
            ({"segment": "haters"}, "segment"), ({"segment": ""}, "segment"),
            ({"limit": "0"}, "limit"), ({"limit": "201"}, "limit"), ({"limit": "ten"}, "limit"),
            ({"limit": "-1"}, "limit"), ({"question": "why"}, "question"),
            ({"question": "nope"}, "question"), ({"from": "yesterday"}, "from"),
            ({"from": "2026-03-02", "to": "2026-03-01"}, "to"), ({"q": "refund"}, "q"),
        ]
        for params, field in cases:
            with self.subTest(params=params):
                self.assertValidation(self.terms(self.sid, **params), field)
        r = self.req("GET", "/v1/surveys/%s/terms?segment=all&segment=all" % self.sid, token=READ_TOKEN)
        self.assertValidation(r, "segment")

    def test_unknown_survey_404_and_auth(self):
        self.assertProblem(self.terms(uid("missing")), 404, "survey_not_found")
        self.assertEqual(self.terms(self.sid, token=None).status, 401)
        self.assertEqual(self.terms(self.sid, token=INGEST_TOKEN).status, 403)
        self.assertEqual(self.terms(self.sid, token=ADMIN_TOKEN).status, 200)

    def test_survey_without_nps_question(self):
        sid = uid("terms-nonps")
        self.put_survey(sid, {"title": "no nps", "questions": [{"id": "c", "type": "text"}]})
        self.post(sid, {"answers": {"c": "Slow slow delivery"}, "submitted_at": iso(BASE)})
        self.post(sid, {"answers": {"c": "fast delivery"}, "submitted_at": iso(BASE)})
        for segment in ("detractors", "passives", "promoters"):
            self.assertProblem(self.terms(sid, segment=segment), 422, "no_nps_question")
        self.assertProblem(self.terms(sid), 422, "no_nps_question")
        got = self.terms_ok(sid, segment="all")
        self.assertIsNone(got["question"])
        self.assertEqual(got["responses"], 2)
        self.assertEqual(got["terms"], [
            {"term": "delivery", "responses": 2, "share": 1, "all_responses": 2, "all_share": 1, "lift": 1},
            {"term": "fast", "responses": 1, "share": 0.5, "all_responses": 1, "all_share": 0.5, "lift": 1},
            {"term": "slow", "responses": 1, "share": 0.5, "all_responses": 1, "all_share": 0.5, "lift": 1},
        ])

    def test_rounding_half_up(self):
        # 1/8 = 0.125 -> share 0.125; 3 of 8 detractors vs 3 of 9: lift 9/8 = 1.125 -> 1.13.
        sid = uid("terms-round")
        self.put_survey(sid, DEFINITION)
        model = Model()
        texts = ["refund"] * 3 + ["waiting"] * 5
        for i, text in enumerate(texts):
            answers = {"rec": 3, "why": text}
            rid = self.post(sid, {"answers": answers, "submitted_at": iso(BASE)})
            model.rows[rid] = {"at": BASE, "answers": answers}
        answers = {"rec": 10, "why": "fine"}
        rid = self.post(sid, {"answers": answers, "submitted_at": iso(BASE)})
        model.rows[rid] = {"at": BASE, "answers": answers}
        got = self.check(model, sid)
        refund = [t for t in got["terms"] if t["term"] == "refund"][0]
        self.assertEqual(refund["lift"], 1.13)
        self.assertEqual(refund["share"], 0.375)
        self.assertEqual(refund["all_share"], 0.3333)


class TermsChangesTests(TermsBase):
    """Edits, deletes and erasure are reflected at once (and a cached reply is never stale)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sid = uid("terms-chg")
        r = cls.daemon.req("PUT", "/v1/surveys/" + cls.sid, DEFINITION, token=ADMIN_TOKEN)
        assert r.status == 201, r
        cls.model = Model()
        cls.fill(cls.model, cls.sid, 80, random.Random(7))

    def check_all(self):
        for segment in ("detractors", "promoters", "all"):
            self.check(self.model, self.sid, segment=segment, limit=200)
        self.check(self.model, self.sid, start=BASE + datetime.timedelta(days=1),
                   end=BASE + datetime.timedelta(days=3), limit=200)

    def test_edit_delete_erase(self):
        self.check_all()
        # An edit changing the text and the score moves the response's terms between segments.
        rid = sorted(self.model.rows)[0]
        row = self.model.rows[rid]
        r = self.req("PATCH", "/v1/responses/" + rid,
                     {"answers": {"rec": 0, "why": "Zyxomatic refund zyxomatic", "more": None}},
                     token=ADMIN_TOKEN)
        self.assertEqual(r.status, 200, r.body[:500])
        row["answers"].update({"rec": 0, "why": "Zyxomatic refund zyxomatic"})
        row["answers"].pop("more", None)
        self.check_all()
        got = self.terms_ok(self.sid, limit=200)
        self.assertIn("zyxomatic", [t["term"] for t in got["terms"]])
        # A delete.
        rid = sorted(self.model.rows)[1]
        self.assertEqual(self.req("DELETE", "/v1/responses/" + rid, token=ADMIN_TOKEN).status, 204)
        del self.model.rows[rid]
        self.check_all()
        # Erasure of a customer.
        r = self.req("DELETE", "/v1/customers/cust-3", token=ADMIN_TOKEN)
        self.assertEqual(r.status, 200, r.body[:500])
        for gone in [k for k, v in self.model.rows.items() if v["customer"] == "cust-3"]:
            del self.model.rows[gone]
        self.check_all()


    def test_etag_304_and_a_write_changes_it(self):
        path = "/v1/surveys/%s/terms?segment=all&limit=5" % self.sid
        first = self.req("GET", path, token=READ_TOKEN)
        self.assertEqual(first.status, 200)
        etag = first.headers.get("ETag")
        self.assertTrue(etag and etag.startswith('W/"'), etag)
        again = self.req("GET", path, headers={"If-None-Match": etag}, token=READ_TOKEN)
        self.assertEqual(again.status, 304)
        other = self.req("GET", path.replace("limit=5", "limit=6"), headers={"If-None-Match": etag},
                         token=READ_TOKEN)
        self.assertEqual(other.status, 200)     # another query, another tag
        rid = self.post(self.sid, {"answers": {"rec": 1, "why": "Quuxly"}, "submitted_at": iso(BASE)})
        self.model.rows[rid] = {"at": BASE, "answers": {"rec": 1, "why": "Quuxly"}}
        after = self.req("GET", path, headers={"If-None-Match": etag}, token=READ_TOKEN)
        self.assertEqual(after.status, 200)
        self.assertNotEqual(after.headers.get("ETag"), etag)
        self.assertEqual(after.json["all_responses"], first.json["all_responses"] + 1)
        self.check(self.model, self.sid, segment="all", limit=200)


class StopWordsFileTests(TermsBase):
    """SURVEYD_STOP_WORDS replaces the built-in list: its words are folded as they are loaded."""

    STOP_FILE_TEXT = "# comments are ignored\nDelivery\nCAFÉ\n\nthe\nslow, support\n"

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="surveyd-stop-")
        path = os.path.join(cls.tmp, "stop.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write(cls.STOP_FILE_TEXT)
        cls.daemon_env = {"SURVEYD_STOP_WORDS": path}
        super().setUpClass()
        cls.sid = uid("terms-stop")
        r = cls.daemon.req("PUT", "/v1/surveys/" + cls.sid, DEFINITION, token=ADMIN_TOKEN)
        assert r.status == 201, r
        cls.model = Model(stop={"delivery", "cafe", "the", "slow", "support"})
        cls.fill(cls.model, cls.sid, 120, random.Random(5))

    def test_file_replaces_builtin_list(self):
        for segment in ("detractors", "all"):
            got = self.check(self.model, self.sid, segment=segment, limit=200)
            seen = {t["term"] for t in got["terms"]}
            self.assertNotIn("delivery", seen)
            self.assertNotIn("cafe", seen)
            if segment == "all":
                self.assertIn("and", seen)      # built-in stop words count now
                self.assertIn("was", seen)

    def test_unreadable_file_fails_start_up(self):
        missing = os.path.join(self.tmp, "missing.txt")
        env = dict(DEFAULT_ENV)
        p = run_cli(["serve", "--listen", "127.0.0.1:0", "--data-dir", tempfile.mkdtemp(prefix="surveyd-stop-"),
                     "--stop-words", missing], env=env)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"cannot read the stop words file " + missing.encode(), p.stderr)


if __name__ == "__main__":
    unittest.main()
