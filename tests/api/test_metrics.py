"""Metrics endpoints: GET /v1/surveys/{survey}/metrics and GET /v1/metrics.

Every expected figure is computed here, from the responses this file posted, by an independent
Python implementation of the documented formulas (the `Ref` model below); nothing is copied from
server output. Responses are imported with explicit `submitted_at` so that days, weeks and months
are deterministic. test_verify.py reuses the model (import test_metrics).
"""

import datetime
import math
import random
import statistics
import unittest
import urllib.parse
from decimal import ROUND_HALF_UP, Decimal

from harness import (ADMIN_TOKEN, INGEST_TOKEN, READ_TOKEN, BaseAPITest, run_threads,
                     uid)

UTC = datetime.timezone.utc
Z = 1.959964
TOL = 0.006          # rounding to 2 decimals may differ in the last digit's float noise
CSAT_TOP = {2: {2}, 3: {3}, 4: {3, 4}, 5: {4, 5}, 6: {5, 6}, 7: {6, 7}, 10: {8, 9, 10}}
CES_EASY = {5: 4, 7: 5}
METRICS_TOP_KEYS = {"survey", "from", "to", "filters", "responses", "questions", "invitations"}

# A definition with every question type and every csat/ces scale.
FULL_DEFINITION = {
    "title": "Metrics reference survey",
    "questions": [
        {"id": "rec", "type": "nps", "text": "How likely are you to recommend us?"},
        {"id": "sat", "type": "csat"},
        {"id": "sat2", "type": "csat", "scale": 2},
        {"id": "sat3", "type": "csat", "scale": 3},
        {"id": "sat4", "type": "csat", "scale": 4},
        {"id": "sat6", "type": "csat", "scale": 6},
        {"id": "sat7", "type": "csat", "scale": 7},
        {"id": "sat10", "type": "csat", "scale": 10},
        {"id": "easy", "type": "ces"},
        {"id": "easy5", "type": "ces", "scale": 5},
        {"id": "resolved", "type": "yes_no"},
        {"id": "expect", "type": "choice", "options": ["met", "exceeded", "fell short"],
         "allow_other": True},
        {"id": "color", "type": "choice", "options": ["red", "green"]},
        {"id": "comment", "type": "text"},
        {"id": "never", "type": "nps"},  # nobody answers this one
    ],
}


# --------------------------------------------------------------------------
# Independent reference implementation
# --------------------------------------------------------------------------

def r2(x):
    """Round to 2 decimals, half away from zero; always a float."""
    return float(Decimal(repr(float(x))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


class AnyOf:
    """An expected value that may legitimately be any of a few (e.g. two readings of
    'rounded' for a difference of rounded figures)."""

    def __init__(self, *values):
        self.values = values

    def __repr__(self):
        return "AnyOf%r" % (self.values,)


def parse_param_time(s):
    """A from/to parameter as the server must read it: YYYY-MM-DD is midnight UTC."""
    if len(s) == 10:
        return datetime.datetime.fromisoformat(s).replace(tzinfo=UTC)
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(UTC)


def fmt_ms(dt):
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)


def wilson(k, n):
    if n == 0:
        return None
    q = k / n
    z2 = Z * Z
    den = 1 + z2 / n
    centre = (q + z2 / (2 * n)) / den
    half = Z * math.sqrt(q * (1 - q) / n + z2 / (4 * n * n)) / den
    return [r2(100 * (centre - half)), r2(100 * (centre + half))]


def question_defaults(q):
    q = dict(q)
    if q["type"] == "csat":
        q.setdefault("scale", 5)
    elif q["type"] == "ces":
        q.setdefault("scale", 7)
    elif q["type"] == "choice":
        q.setdefault("allow_other", False)
    return q


def answered_values(q, rows):
    """The answers to question q among rows (skips absent, null and empty text)."""
    out = []
    for row in rows:
        v = row["answers"].get(q["id"])
        if v is None:
            continue
        if q["type"] == "text" and v == "":
            continue
        if q["type"] == "csat" and q["scale"] == 2 and isinstance(v, str):
            v = {"bad": 1, "good": 2}[v]
        out.append(v)
    return out


def expected_question(q, values, nresp):
    """The documented question object for `values` (answers) among `nresp` responses."""
    t = q["type"]
    n = len(values)
    o = {"type": t, "answered": n, "skipped": nresp - n}
    if t == "nps":
        dist = [0] * 11
        for v in values:
            dist[v] += 1
        P, pas, D = sum(dist[9:]), dist[7] + dist[8], sum(dist[:7])
        o.update(promoters=P, passives=pas, detractors=D, distribution=dist)
        if n:
            score = 100.0 * (P - D) / n
            p, d = P / n, D / n
            moe = 196.0 * math.sqrt(max(0.0, p + d - (p - d) ** 2) / n)
            o.update(score=r2(score), promoters_pct=r2(100.0 * P / n),
                     passives_pct=r2(100.0 * pas / n), detractors_pct=r2(100.0 * D / n),
                     margin_of_error=r2(moe),
                     ci95=[r2(max(-100.0, score - moe)), r2(min(100.0, score + moe))])
        else:
            o.update(score=None, promoters_pct=None, passives_pct=None, detractors_pct=None,
                     margin_of_error=None, ci95=None)
    elif t == "csat":
        scale = q["scale"]
        dist = [0] * scale
        for v in values:
            dist[v - 1] += 1
        sat = sum(1 for v in values if v in CSAT_TOP[scale])
        o.update(scale=scale, satisfied=sat, distribution=dist)
        if n:
            o.update(score=r2(100.0 * sat / n), mean=r2(sum(values) / n), ci95=wilson(sat, n))
        else:
            o.update(score=None, mean=None, ci95=None)
    elif t == "ces":
        scale = q["scale"]
        dist = [0] * scale
        for v in values:
            dist[v - 1] += 1
        easy = sum(1 for v in values if v >= CES_EASY[scale])
        o.update(scale=scale, easy=easy, distribution=dist)
        if n:
            mean = sum(values) / n
            ci = None
            if n >= 2:
                h = Z * statistics.stdev(values) / math.sqrt(n)
                ci = [r2(mean - h), r2(mean + h)]
            o.update(score=r2(mean), easy_pct=r2(100.0 * easy / n), ci95=ci)
        else:
            o.update(score=None, easy_pct=None, ci95=None)
    elif t == "yes_no":
        yes = sum(1 for v in values if v is True)
        o.update(yes=yes, no=n - yes)
        if n:
            o.update(yes_pct=r2(100.0 * yes / n), ci95=wilson(yes, n))
        else:
            o.update(yes_pct=None, ci95=None)
    elif t == "choice":
        counts = {opt: 0 for opt in q["options"]}
        if q["allow_other"]:
            counts["other"] = 0
        for v in values:
            if isinstance(v, dict):
                counts["other"] += 1
            else:
                counts[v] += 1
        o["counts"] = counts
    elif t == "text":
        pass
    else:
        raise AssertionError("unknown type " + t)
    return o


def headline(q, values):
    """(unrounded headline, standard error or None) for compare=previous."""
    n = len(values)
    t = q["type"]
    if t == "nps":
        P = sum(1 for v in values if v >= 9)
        D = sum(1 for v in values if v <= 6)
        p, d = P / n, D / n
        return 100.0 * (p - d), 100.0 * math.sqrt(max(0.0, p + d - (p - d) ** 2) / n)
    if t in ("csat", "yes_no"):
        if t == "csat":
            k = sum(1 for v in values if v in CSAT_TOP[q["scale"]])
        else:
            k = sum(1 for v in values if v is True)
        share = k / n
        return 100.0 * share, 100.0 * math.sqrt(share * (1 - share) / n)
    if t == "ces":
        mean = sum(values) / n
        return mean, (statistics.stdev(values) / math.sqrt(n) if n >= 2 else None)
    raise AssertionError(t)


def expected_change(q, cur, prev):
    if not cur or not prev:
        return None
    h1, se1 = headline(q, cur)
    h2, se2 = headline(q, prev)
    delta = h1 - h2
    significant = (se1 is not None and se2 is not None
                   and abs(delta) > Z * math.sqrt(se1 ** 2 + se2 ** 2))
    # "Δ = current − previous headline, rounded": accept the difference of the exact
    # figures or of the published (rounded) ones.
    return {"score": AnyOf(r2(delta), r2(r2(h1) - r2(h2))), "significant": significant}


def day_of(dt):
    return dt.astimezone(UTC).date()


def bucket_key(day, group_by):
    if group_by == "day":
        return day.isoformat()
    if group_by == "week":
        iso = day.isocalendar()
        return "%04d-W%02d" % (iso[0], iso[1])
    if group_by == "month":
        return "%04d-%02d" % (day.year, day.month)
    raise AssertionError(group_by)


# These surveys have no invitations: every reply and group carries the empty block
# (test_invitation_metrics.py checks its figures).
NO_INVITATIONS = {"sent": 0, "suppressed": 0, "opened": 0, "responded": 0, "response_rate": None,
                  "ci95": None}


class Ref:
    """What the server stored for one survey, as this test posted it."""

    def __init__(self, survey, definition):
        self.survey = survey
        self.set_definition(definition)
        self.rows = {}   # response id -> row

    def set_definition(self, definition):
        self.title = definition.get("title")
        self.questions = [question_defaults(q) for q in definition["questions"]]

    def add(self, rid, body):
        t = datetime.datetime.fromisoformat(body["submitted_at"].replace("Z", "+00:00"))
        self.rows[rid] = {"t": t.astimezone(UTC), "channel": body.get("channel"),
                          "agent": body.get("agent"),
                          "answers": {k: v for k, v in body["answers"].items() if v is not None}}

    def select(self, frm=None, to=None, channel=None, agent=None):
        out = []
        for row in self.rows.values():
            if frm is not None and row["t"] < frm:
                continue
            if to is not None and row["t"] >= to:
                continue
            if channel is not None and row["channel"] != channel:
                continue
            if agent is not None and row["agent"] != agent:
                continue
            out.append(row)
        return out

    def questions_for(self, rows):
        return {q["id"]: expected_question(q, answered_values(q, rows), len(rows))
                for q in self.questions}

    def metrics(self, params):
        """Expected reply for the query parameters `params` (dict of strings)."""
        frm = parse_param_time(params["from"]) if "from" in params else None
        to = parse_param_time(params["to"]) if "to" in params else None
        channel, agent = params.get("channel"), params.get("agent")
        rows = self.select(frm, to, channel, agent)
        filters = {k: params[k] for k in ("channel", "agent") if k in params}
        out = {"survey": self.survey,
               "from": fmt_ms(frm) if frm else None,
               "to": fmt_ms(to) if to else None,
               "filters": filters,
               "responses": len(rows),
               "questions": self.questions_for(rows),
               "invitations": NO_INVITATIONS}
        if params.get("compare") == "previous":
            prev_rows = self.select(frm - (to - frm), frm, channel, agent)
            for q in self.questions:
                if q["type"] not in ("nps", "csat", "ces", "yes_no"):
                    continue
                cur_v, prev_v = answered_values(q, rows), answered_values(q, prev_rows)
                out["questions"][q["id"]]["previous"] = expected_question(q, prev_v, len(prev_rows))
                out["questions"][q["id"]]["change"] = expected_change(q, cur_v, prev_v)
        gb = params.get("group_by")
        if gb in ("day", "week", "month"):
            if frm is not None:
                first, last = day_of(frm), day_of(to - datetime.timedelta(microseconds=1))
            elif rows:
                first, last = min(day_of(r["t"]) for r in rows), max(day_of(r["t"]) for r in rows)
            else:
                first = last = None
            keys = []
            if first is not None:
                d = first
                while d <= last:
                    k = bucket_key(d, gb)
                    if not keys or keys[-1] != k:
                        keys.append(k)
                    d += datetime.timedelta(days=1)
            by_key = {k: [] for k in keys}
            for row in rows:
                by_key[bucket_key(day_of(row["t"]), gb)].append(row)
            out["groups"] = [{"key": k, "responses": len(by_key[k]),
                              "questions": self.questions_for(by_key[k]),
                              "invitations": NO_INVITATIONS} for k in keys]
        elif gb in ("channel", "agent"):
            by_key = {}
            for row in rows:
                by_key.setdefault(row[gb], []).append(row)
            out["groups"] = [{"key": k, "responses": len(v), "questions": self.questions_for(v),
                              "invitations": NO_INVITATIONS} for k, v in by_key.items()]
        return out

    def overview(self):
        rows = list(self.rows.values())
        qs = {}
        for q in self.questions:
            if q["type"] in ("nps", "csat", "ces"):
                full = expected_question(q, answered_values(q, rows), len(rows))
                qs[q["id"]] = {"type": q["type"], "answered": full["answered"],
                               "score": full["score"]}
        return {"survey": self.survey, "title": self.title, "responses": len(rows),
                "questions": qs}


def random_answers(rng, questions, p_answer=0.7):
    """Random valid answers for a definition's questions (at least one answer)."""
    while True:
        ans = {}
        for q in map(question_defaults, questions):
            if rng.random() > p_answer:
                if rng.random() < 0.2:
                    ans[q["id"]] = None         # an explicit skip
                continue
            t = q["type"]
            if q["id"] == "never":
                continue
            if t == "nps":
                v = rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 9, 10, 10, 8])
            elif t == "csat":
                v = rng.randint(1, q["scale"])
                if q["scale"] == 2 and rng.random() < 0.3:
                    v = {1: "bad", 2: "good"}[v]
            elif t == "ces":
                v = rng.randint(1, q["scale"])
            elif t == "yes_no":
                v = rng.random() < 0.6
            elif t == "choice":
                if q.get("allow_other") and rng.random() < 0.2:
                    v = {"other": "write-in %d" % rng.randint(1, 99)}
                else:
                    v = rng.choice(q["options"])
            else:
                v = rng.choice(["fine", "slow", "", "great \u00e9"])
            ans[q["id"]] = v
        if any(v not in (None, "") for v in ans.values()):
            return ans


def random_time(rng, start, days):
    ms = rng.randrange(days * 86400000)
    if rng.random() < 0.05:
        ms -= ms % 86400000          # sometimes exactly midnight
    return fmt_ms(start + datetime.timedelta(milliseconds=ms))


def metrics_path(survey, params=None):
    path = "/v1/surveys/%s/metrics" % survey
    if params:
        path += "?" + urllib.parse.urlencode(list(params.items()) if isinstance(params, dict)
                                             else params, quote_via=urllib.parse.quote)
    return path


# --------------------------------------------------------------------------
# Assertions
# --------------------------------------------------------------------------

class MetricsAssertions:
    """Mixin for unittest.TestCase."""

    def assertTwoDecimals(self, value, path):
        self.assertAlmostEqual(value * 100, round(value * 100), delta=1e-6,
                               msg="%s=%r is not rounded to 2 decimals" % (path, value))

    def assertMatches(self, actual, expected, path="$"):
        if isinstance(expected, AnyOf):
            errors = []
            for alt in expected.values:
                try:
                    self.assertMatches(actual, alt, path)
                    return
                except AssertionError as e:
                    errors.append(str(e))
            self.fail("%s: %r matches none of %r (%s)" % (path, actual, expected.values,
                                                          "; ".join(errors)))
        if expected is None:
            self.assertIsNone(actual, path)
        elif isinstance(expected, bool):
            self.assertIs(actual, expected, path)
        elif isinstance(expected, int):
            self.assertIs(type(actual), int, "%s=%r should be an integer" % (path, actual))
            self.assertEqual(actual, expected, path)
        elif isinstance(expected, float):
            self.assertIn(type(actual), (int, float), "%s=%r should be a number" % (path, actual))
            self.assertAlmostEqual(actual, expected, delta=TOL,
                                   msg="%s: got %r, expected %r" % (path, actual, expected))
            self.assertTwoDecimals(actual, path)
        elif isinstance(expected, str):
            self.assertEqual(actual, expected, path)
        elif isinstance(expected, list):
            self.assertIsInstance(actual, list, path)
            self.assertEqual(len(actual), len(expected), "%s: %r vs %r" % (path, actual, expected))
            for i, (a, e) in enumerate(zip(actual, expected)):
                self.assertMatches(a, e, "%s[%d]" % (path, i))
        elif isinstance(expected, dict):
            self.assertIsInstance(actual, dict, path)
            self.assertEqual(set(actual), set(expected), "%s: keys differ" % path)
            for k in expected:
                self.assertMatches(actual[k], expected[k], "%s.%s" % (path, k))
        else:
            raise TypeError(type(expected))

    def assertGroupsSorted(self, actual, expected, path="$.groups"):
        """channel/agent groups: by responses descending, ties by key ascending."""
        self.assertIsInstance(actual, list, path)
        keys = [g.get("key") for g in actual]
        self.assertEqual(len(keys), len(set(keys)), "%s: duplicate keys %r" % (path, keys))
        self.assertEqual(set(keys), {g["key"] for g in expected}, path)
        for a, b in zip(actual, actual[1:]):
            self.assertGreaterEqual(a["responses"], b["responses"],
                                    "%s not by responses descending: %r" % (path, keys))
            if (a["responses"] == b["responses"] and a["key"] is not None
                    and b["key"] is not None):
                self.assertLess(a["key"], b["key"], "%s: tie not by key: %r" % (path, keys))
        by_key = {g["key"]: g for g in expected}
        for i, g in enumerate(actual):
            self.assertMatches(g, by_key[g["key"]], "%s[%d:%r]" % (path, i, g["key"]))

    def assertMetrics(self, actual, expected, group_by=None):
        expected = dict(expected)
        self.assertIsInstance(actual, dict)
        actual = dict(actual)
        gb_exp = expected.pop("groups", None)
        gb_act = actual.pop("groups", None)
        if gb_exp is None:
            self.assertIsNone(gb_act, "groups without group_by")
        elif group_by in ("channel", "agent"):
            self.assertGroupsSorted(gb_act, gb_exp)
        else:
            self.assertIsInstance(gb_act, list, "no groups in reply")
            self.assertEqual([g.get("key") for g in gb_act], [g["key"] for g in gb_exp],
                             "time bucket keys")
            self.assertMatches(gb_act, gb_exp, "$.groups")
        self.assertMatches(actual, expected)


class MetricsTestBase(MetricsAssertions, BaseAPITest):

    def get_metrics(self, survey, params=None, token=READ_TOKEN, headers=None):
        return self.req("GET", metrics_path(survey, params), token=token, headers=headers)

    def check(self, ref, params=None, survey=None):
        params = dict(params or {})
        r = self.get_metrics(survey or ref.survey, params)
        self.assertEqual(r.status, 200, "%s -> %d %r" % (metrics_path(ref.survey, params),
                                                         r.status, r.body[:400]))
        expected = ref.metrics(params)
        with self.subTest(params=params):
            self.assertMetrics(r.json, expected, params.get("group_by"))
        return r.json, expected

    @classmethod
    def import_rows(cls, survey, ref, bodies):
        for body in bodies:
            r = cls.daemon.req("POST", "/v1/surveys/%s/responses" % survey, body,
                               token=INGEST_TOKEN)
            assert r.status == 201, (r.status, r.body, body)
            ref.add(r.json["id"], body)

    @classmethod
    def make_survey(cls, definition, prefix="m"):
        sid = uid(prefix)
        r = cls.daemon.req("PUT", "/v1/surveys/" + sid, definition, token=ADMIN_TOKEN)
        assert r.status == 201, (r.status, r.body)
        return sid, Ref(sid, definition)


# --------------------------------------------------------------------------
# Self-check of the reference implementation against the README's worked example
# --------------------------------------------------------------------------

class ReferenceSelfTest(unittest.TestCase):

    def test_worked_example(self):
        q = {"id": "rec", "type": "nps"}
        values = [10] * 600 + [8] * 223 + [3] * 177
        o = expected_question(q, values, 1000)
        self.assertEqual((o["score"], o["margin_of_error"], o["ci95"]),
                         (42.3, 4.79, [37.51, 47.09]))
        c = expected_question(question_defaults({"id": "s", "type": "csat"}),
                              [5] * 40 + [4] * 40 + [2] * 20, 100)
        self.assertEqual((c["score"], c["ci95"]), (80.0, [71.12, 86.66]))
        self.assertEqual(r2(0.125), 0.13)
        self.assertEqual(r2(-0.125), -0.13)
        self.assertEqual(r2(2.675), 2.68)


# --------------------------------------------------------------------------
# Access control
# --------------------------------------------------------------------------

class MetricsAuthTests(MetricsTestBase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sid, cls.ref = cls.make_survey({"title": "auth", "questions": [
            {"id": "rec", "type": "nps"}]})
        cls.import_rows(cls.sid, cls.ref, [{"answers": {"rec": 9},
                                            "submitted_at": "2025-11-03T10:00:00Z"}])

    def test_survey_metrics_roles(self):
        self.assertProblem(self.get_metrics(self.sid, token=None), 401, "unauthorized")
        self.assertProblem(self.get_metrics(self.sid, token="not-a-token"), 401, "unauthorized")
        self.assertProblem(self.get_metrics(self.sid, token=INGEST_TOKEN), 403, "forbidden")
        for tok in (READ_TOKEN, ADMIN_TOKEN):
            with self.subTest(token=tok):
                r = self.get_metrics(self.sid, token=tok)
                self.assertEqual(r.status, 200, r.body[:300])
                self.assertMetrics(r.json, self.ref.metrics({}))

    def test_unknown_survey(self):
        missing = uid("missing")
        self.assertProblem(self.get_metrics(missing), 404, "survey_not_found")
        self.assertProblem(self.get_metrics(missing, token=ADMIN_TOKEN), 404, "survey_not_found")
        self.assertProblem(self.get_metrics(missing, token=None), 401, "unauthorized")
        self.assertProblem(self.get_metrics(missing, {"group_by": "day"}), 404, "survey_not_found")

    def test_overview_roles(self):
        self.assertProblem(self.req("GET", "/v1/metrics"), 401, "unauthorized")
        self.assertProblem(self.req("GET", "/v1/metrics", token=INGEST_TOKEN), 403, "forbidden")
        for tok in (READ_TOKEN, ADMIN_TOKEN):
            self.assertEqual(self.req("GET", "/v1/metrics", token=tok).status, 200)

    def test_wrong_method(self):
        r = self.req("POST", metrics_path(self.sid), {"x": 1}, token=ADMIN_TOKEN)
        self.assertProblem(r, 405, "method_not_allowed")


# --------------------------------------------------------------------------
# Figures against the reference model, on a random but seeded data set
# --------------------------------------------------------------------------

CHANNELS = ["chat"] * 5 + ["email"] * 4 + ["web"] * 3 + ["sms"] * 2 + [None] * 2
AGENTS = ["alice"] * 5 + ["bob"] * 4 + ["agent \u00e9"] * 3 + ["a&b=c d+e/f?"] * 2 + [None] * 3


class MetricsFiguresTests(MetricsTestBase):
    """~170 responses over Oct 6 - Nov 20 2025 in one survey, a few in a second one."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        rng = random.Random(20251103)
        cls.sid, cls.ref = cls.make_survey(FULL_DEFINITION, "fig")
        start = datetime.datetime(2025, 10, 6, tzinfo=UTC)
        bodies = []
        for _ in range(170):
            body = {"answers": random_answers(rng, FULL_DEFINITION["questions"]),
                    "submitted_at": random_time(rng, start, 46)}
            ch, ag = rng.choice(CHANNELS), rng.choice(AGENTS)
            if ch:
                body["channel"] = ch
            if ag:
                body["agent"] = ag
            bodies.append(body)
        cls.import_rows(cls.sid, cls.ref, bodies)
        # A second survey with the same question ids and other data: must not leak into the first.
        cls.other, cls.other_ref = cls.make_survey(FULL_DEFINITION, "fig-other")
        cls.import_rows(cls.other, cls.other_ref, [
            {"answers": {"rec": 0, "sat": 1, "easy": 1, "resolved": False},
             "channel": "chat", "agent": "alice", "submitted_at": "2025-11-03T12:00:00Z"}
            for _ in range(5)])

    def test_all_time(self):
        j, exp = self.check(self.ref)
        self.assertEqual(set(j), METRICS_TOP_KEYS)
        self.assertEqual(j["responses"], 170)
        self.assertEqual(j["filters"], {})
        self.assertIsNone(j["from"])
        self.assertIsNone(j["to"])
        # The never-answered question: counts 0, every derived figure null.
        never = j["questions"]["never"]
        self.assertEqual((never["answered"], never["skipped"]), (0, 170))
        for k in ("score", "promoters_pct", "passives_pct", "detractors_pct",
                  "margin_of_error", "ci95"):
            self.assertIsNone(never[k], k)
        self.assertEqual(never["distribution"], [0] * 11)

    def test_other_survey_isolated(self):
        j, _ = self.check(self.other_ref)
        self.assertEqual(j["responses"], 5)
        self.assertEqual(j["questions"]["rec"]["score"], -100)
        self.check(self.other_ref, {"from": "2025-11-03", "to": "2025-11-04", "channel": "chat"})
        self.check(self.other_ref, {"group_by": "agent"})

    def test_windows(self):
        for params in (
                {"from": "2025-10-13", "to": "2025-11-10"},
                {"from": "2025-10-06", "to": "2025-11-21"},
                {"from": "2025-10-15T07:13:00Z", "to": "2025-11-03T19:00:00.500Z"},
                {"from": "2025-11-01"},
                {"to": "2025-10-20T12:00:00Z"},
                {"from": "2024-01-01", "to": "2024-02-01"},      # nothing in it
                {"from": "2025-10-20T05:00:00+05:30", "to": "2025-10-29T23:00:00-02:00"},
        ):
            with self.subTest(params=params):
                self.check(self.ref, params)

    def test_window_echo(self):
        j, _ = self.check(self.ref, {"from": "2025-10-20T05:00:00+05:30", "to": "2025-11-02"})
        self.assertEqual(j["from"], "2025-10-19T23:30:00.000Z")
        self.assertEqual(j["to"], "2025-11-02T00:00:00.000Z")
        j, _ = self.check(self.ref, {"from": "2025-10-20T05:00:00.250Z"})
        self.assertEqual(j["from"], "2025-10-20T05:00:00.250Z")
        self.assertIsNone(j["to"])

    def test_filters(self):
        for params in (
                {"channel": "chat"},
                {"channel": "sms"},
                {"agent": "alice"},
                {"agent": "agent \u00e9"},
                {"agent": "a&b=c d+e/f?"},
                {"channel": "email", "agent": "bob"},
                {"channel": "web", "from": "2025-10-20", "to": "2025-11-05T13:00:00Z"},
                {"agent": "bob", "from": "2025-10-20T08:00:00Z", "to": "2025-11-05"},
                {"channel": "nosuchchannel"},
                {"agent": "nobody"},
                {"agent": "Alice"},     # exact match: case matters
        ):
            with self.subTest(params=params):
                j, exp = self.check(self.ref, params)
                self.assertEqual(j["filters"], {k: params[k] for k in ("channel", "agent")
                                                if k in params})

    def test_filter_without_data_is_all_null(self):
        j, _ = self.check(self.ref, {"channel": "nosuchchannel"})
        self.assertEqual(j["responses"], 0)
        for qid, q in j["questions"].items():
            self.assertEqual(q["answered"], 0, qid)
            self.assertEqual(q["skipped"], 0, qid)
            for k in ("score", "mean", "yes_pct", "easy_pct", "margin_of_error", "ci95"):
                if k in q:
                    self.assertIsNone(q[k], "%s.%s" % (qid, k))

    def test_group_by_time_with_window(self):
        for params in (
                {"group_by": "day", "from": "2025-10-27", "to": "2025-11-10"},
                {"group_by": "day", "from": "2025-11-15", "to": "2025-11-30"},   # trailing empties
                {"group_by": "week", "from": "2025-09-29", "to": "2025-12-01"},
                {"group_by": "month", "from": "2025-09-01", "to": "2026-01-01"},
                {"group_by": "week", "from": "2025-10-08T13:00:00Z",
                 "to": "2025-11-12T01:00:00Z", "channel": "chat"},
                {"group_by": "day", "from": "2025-10-20", "to": "2025-10-27", "agent": "bob"},
        ):
            with self.subTest(params=params):
                j, exp = self.check(self.ref, params)
                self.assertEqual(sum(g["responses"] for g in j["groups"]), j["responses"])

    def test_group_by_day_keys(self):
        j, _ = self.check(self.ref, {"group_by": "day", "from": "2025-11-01", "to": "2025-11-08"})
        self.assertEqual([g["key"] for g in j["groups"]],
                         ["2025-11-0%d" % d for d in range(1, 8)])

    def test_group_by_time_all_time(self):
        first = min(r["t"] for r in self.ref.rows.values()).date()
        last = max(r["t"] for r in self.ref.rows.values()).date()
        for gb in ("day", "week", "month"):
            with self.subTest(group_by=gb):
                j, exp = self.check(self.ref, {"group_by": gb})
                if gb == "day":
                    self.assertEqual(j["groups"][0]["key"], first.isoformat())
                    self.assertEqual(j["groups"][-1]["key"], last.isoformat())
                    self.assertEqual(len(j["groups"]), (last - first).days + 1)

    def test_group_by_channel_and_agent(self):
        for params in (
                {"group_by": "channel"},
                {"group_by": "agent"},
                {"group_by": "channel", "agent": "alice"},
                {"group_by": "agent", "from": "2025-10-20T10:00:00Z", "to": "2025-11-11"},
                {"group_by": "agent", "channel": "email"},
                {"group_by": "agent", "agent": "bob"},
                {"group_by": "channel", "channel": "chat", "from": "2025-10-25T04:00:00Z"},
        ):
            with self.subTest(params=params):
                j, exp = self.check(self.ref, params)
                self.assertEqual(sum(g["responses"] for g in j["groups"]), j["responses"])

    def test_null_channel_group(self):
        j, _ = self.check(self.ref, {"group_by": "channel"})
        keys = [g["key"] for g in j["groups"]]
        self.assertIn(None, keys)
        self.assertEqual(len(keys), 5, keys)

    def test_compare_previous(self):
        for params in (
                {"from": "2025-11-03", "to": "2025-11-17", "compare": "previous"},
                {"from": "2025-10-27T06:00:00Z", "to": "2025-11-08T18:30:00Z",
                 "compare": "previous"},
                {"from": "2025-10-20", "to": "2025-11-03", "compare": "previous",
                 "channel": "chat"},
                {"from": "2025-10-27", "to": "2025-11-10", "compare": "previous",
                 "agent": "alice"},
        ):
            with self.subTest(params=params):
                self.check(self.ref, params)

    def test_all_figures_rounded(self):
        j = self.get_metrics(self.sid, {"group_by": "week"}).json

        def walk(x, path):
            if isinstance(x, float):
                self.assertTwoDecimals(x, path)
            elif isinstance(x, dict):
                for k, v in x.items():
                    walk(v, path + "." + k)
            elif isinstance(x, list):
                for i, v in enumerate(x):
                    walk(v, "%s[%d]" % (path, i))
        walk(j, "$")


# --------------------------------------------------------------------------
# Windows with partial days at the edges
# --------------------------------------------------------------------------

EDGE_TIMES = [
    "2025-10-31T17:29:59.999Z", "2025-10-31T17:30:00.000Z", "2025-10-31T20:00:00.000Z",
    "2025-11-01T00:00:00.000Z", "2025-11-01T10:00:00.000Z", "2025-11-01T23:59:59.999Z",
    "2025-11-02T00:00:00.000Z", "2025-11-02T06:00:00.000Z", "2025-11-02T11:59:59.999Z",
    "2025-11-02T12:00:00.000Z", "2025-11-02T12:00:00.001Z", "2025-11-02T18:45:00.000Z",
    "2025-11-03T00:00:00.000Z", "2025-11-03T07:59:59.999Z", "2025-11-03T08:00:00.000Z",
    "2025-11-03T12:34:56.789Z", "2025-11-03T15:59:59.999Z", "2025-11-03T16:00:00.000Z",
    "2025-11-03T23:59:59.999Z", "2025-11-04T00:00:00.000Z", "2025-11-04T06:29:59.999Z",
    "2025-11-04T06:30:00.000Z", "2025-11-04T06:30:00.001Z", "2025-11-04T20:00:00.000Z",
    "2025-11-05T01:00:00.000Z", "2025-11-06T00:00:00.000Z",
]

EDGE_DEFINITION = {
    "title": "Edges",
    "questions": [
        {"id": "rec", "type": "nps"},
        {"id": "sat", "type": "csat"},
        {"id": "easy", "type": "ces"},
        {"id": "yn", "type": "yes_no"},
        {"id": "pick", "type": "choice", "options": ["a", "b"], "allow_other": True},
        {"id": "note", "type": "text"},
    ],
}


class PartialDayTests(MetricsTestBase):
    """Windows whose edges fall inside days: whole days come from rollups, edge days from raw
    rows; responses exactly at `from` count, exactly at `to` do not."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        rng = random.Random(7)
        cls.sid, cls.ref = cls.make_survey(EDGE_DEFINITION, "edge")
        bodies = []
        for i, t in enumerate(EDGE_TIMES):
            for k in range(1 + i % 3):     # 1-3 responses at each instant
                body = {"answers": random_answers(rng, EDGE_DEFINITION["questions"], 0.85),
                        "submitted_at": t,
                        "channel": ["chat", "email", "web"][(i + k) % 3],
                        "agent": ["ann", "ben"][(i * 7 + k) % 2]}
                bodies.append(body)
        cls.import_rows(cls.sid, cls.ref, bodies)

    WINDOW = {"from": "2025-11-02T12:00:00Z", "to": "2025-11-04T06:30:00Z"}

    def test_main_window(self):
        j, _ = self.check(self.ref, self.WINDOW)
        n_at_from = len(self.ref.select(parse_param_time("2025-11-02T12:00:00Z"),
                                        parse_param_time("2025-11-02T12:00:00.001Z")))
        n_in = len(self.ref.select(parse_param_time(self.WINDOW["from"]),
                                   parse_param_time(self.WINDOW["to"])))
        self.assertGreater(n_at_from, 0)
        self.assertEqual(j["responses"], n_in)

    def test_edges_included_excluded(self):
        # One instant at a time: [t, t+1ms) holds exactly the responses posted at t.
        for t in ("2025-11-02T12:00:00.000Z", "2025-11-04T06:30:00.000Z",
                  "2025-11-03T23:59:59.999Z", "2025-11-04T00:00:00.000Z"):
            start = parse_param_time(t)
            params = {"from": t, "to": fmt_ms(start + datetime.timedelta(milliseconds=1))}
            with self.subTest(instant=t):
                j, _ = self.check(self.ref, params)
                self.assertGreater(j["responses"], 0)
        # Window ending exactly at a response's instant excludes it.
        j, _ = self.check(self.ref, {"from": "2025-11-04T06:00:00Z", "to": "2025-11-04T06:30:00Z"})
        self.assertEqual(j["responses"],
                         sum(1 for r in self.ref.rows.values()
                             if r["t"] == parse_param_time("2025-11-04T06:29:59.999Z")))

    def test_partial_windows(self):
        for params in (
                {"from": "2025-11-02T12:00:00.001Z", "to": "2025-11-04T06:30:00.001Z"},
                {"from": "2025-11-03T08:00:00Z", "to": "2025-11-03T16:00:00Z"},   # inside a day
                {"from": "2025-11-01T23:59:59.999Z", "to": "2025-11-02T00:00:00.001Z"},
                {"from": "2025-11-03T00:00:00Z", "to": "2025-11-04T06:30:00Z"},
                {"from": "2025-11-02T12:00:00Z", "to": "2025-11-05T00:00:00Z"},
                {"from": "2025-11-02", "to": "2025-11-03T00:00:00Z"},
                {"from": "2025-11-02T13:00:00+01:00", "to": "2025-11-04T01:30:00-05:00"},
                {"from": "2025-11-03T12:00:00Z"},
                {"to": "2025-11-02T12:00:00Z"},
                {"from": "2025-10-31T17:30:00Z", "to": "2025-11-02T12:00:00Z"},
        ):
            with self.subTest(params=params):
                self.check(self.ref, params)

    def test_partial_windows_with_filters(self):
        for extra in ({"channel": "chat"}, {"channel": "web"}, {"agent": "ann"},
                      {"agent": "ben", "channel": "email"}):
            for win in (self.WINDOW, {"from": "2025-11-03T08:00:00Z",
                                      "to": "2025-11-03T16:00:00Z"}):
                params = dict(win, **extra)
                with self.subTest(params=params):
                    self.check(self.ref, params)

    def test_partial_windows_grouped(self):
        for gb in ("day", "week", "month", "channel", "agent"):
            for win in (self.WINDOW, {"from": "2025-11-03T08:00:00Z",
                                      "to": "2025-11-03T16:00:00Z"}):
                params = dict(win, group_by=gb)
                with self.subTest(params=params):
                    self.check(self.ref, params)
        j, _ = self.check(self.ref, dict(self.WINDOW, group_by="day"))
        self.assertEqual([g["key"] for g in j["groups"]],
                         ["2025-11-02", "2025-11-03", "2025-11-04"])
        j, _ = self.check(self.ref, dict(self.WINDOW, group_by="week"))
        self.assertEqual([g["key"] for g in j["groups"]], ["2025-W44", "2025-W45"])
        j, _ = self.check(self.ref, {"from": "2025-11-03T08:00:00Z",
                                     "to": "2025-11-03T16:00:00Z", "group_by": "day"})
        self.assertEqual([g["key"] for g in j["groups"]], ["2025-11-03"])
        j, _ = self.check(self.ref, dict(self.WINDOW, group_by="agent", channel="chat"))

    def test_partial_windows_compare(self):
        for params in (
                dict(self.WINDOW, compare="previous"),   # previous: [10-31T17:30, 11-02T12:00)
                {"from": "2025-11-03T08:00:00Z", "to": "2025-11-03T16:00:00Z",
                 "compare": "previous"},
                dict(self.WINDOW, compare="previous", channel="email"),
                dict(self.WINDOW, compare="previous", agent="ann"),
        ):
            with self.subTest(params=params):
                j, _ = self.check(self.ref, params)
                self.assertIn("previous", j["questions"]["rec"])
                self.assertNotIn("previous", j["questions"]["pick"])
                self.assertNotIn("change", j["questions"]["note"])
        j, _ = self.check(self.ref, dict(self.WINDOW, compare="previous"))
        prev_n = len(self.ref.select(parse_param_time("2025-10-31T17:30:00Z"),
                                     parse_param_time("2025-11-02T12:00:00Z")))
        self.assertEqual(j["questions"]["rec"]["previous"]["answered"]
                         + j["questions"]["rec"]["previous"]["skipped"], prev_n)


# --------------------------------------------------------------------------
# Calendar keys: ISO weeks across a year end, months, leap day
# --------------------------------------------------------------------------

class CalendarKeyTests(MetricsTestBase):

    TIMES = ["2020-12-27T12:00:00Z", "2020-12-28T00:00:00Z", "2020-12-31T23:59:59.999Z",
             "2021-01-01T00:00:00Z", "2021-01-03T23:59:59Z", "2021-01-04T00:00:00Z",
             "2021-01-10T08:00:00Z", "2021-01-11T08:00:00Z", "2021-02-01T00:00:00Z",
             "2024-02-28T23:00:00Z", "2024-02-29T12:00:00Z", "2024-03-01T00:00:00Z"]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sid, cls.ref = cls.make_survey({"title": "cal", "questions": [
            {"id": "rec", "type": "nps"}, {"id": "yn", "type": "yes_no"}]}, "cal")
        cls.import_rows(cls.sid, cls.ref, [
            {"answers": {"rec": i % 11, "yn": i % 3 == 0}, "submitted_at": t}
            for i, t in enumerate(cls.TIMES)])

    def test_iso_weeks_across_year_end(self):
        j, _ = self.check(self.ref, {"from": "2020-12-27", "to": "2021-01-12", "group_by": "week"})
        self.assertEqual([g["key"] for g in j["groups"]],
                         ["2020-W52", "2020-W53", "2021-W01", "2021-W02"])
        self.assertEqual([g["responses"] for g in j["groups"]], [1, 4, 2, 1])

    def test_months(self):
        j, _ = self.check(self.ref, {"from": "2020-12-27", "to": "2021-02-02", "group_by": "month"})
        self.assertEqual([g["key"] for g in j["groups"]], ["2020-12", "2021-01", "2021-02"])
        # Without from/to: every month from the first to the last with data, empty ones too.
        j, _ = self.check(self.ref, {"group_by": "month"})
        self.assertEqual(len(j["groups"]), 40)
        self.assertEqual(j["groups"][0]["key"], "2020-12")
        self.assertEqual(j["groups"][-1]["key"], "2024-03")

    def test_leap_day(self):
        j, _ = self.check(self.ref, {"from": "2024-02-27", "to": "2024-03-03", "group_by": "day"})
        self.assertEqual([g["key"] for g in j["groups"]],
                         ["2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01", "2024-03-02"])
        self.assertEqual([g["responses"] for g in j["groups"]], [0, 1, 1, 1, 0])
        self.check(self.ref, {"from": "2024-02-26", "to": "2024-03-04", "group_by": "week"})

    def test_days_without_window(self):
        j, _ = self.check(self.ref, {"group_by": "week", "from": "2020-12-28",
                                     "to": "2021-01-04"})
        self.assertEqual([g["key"] for g in j["groups"]], ["2020-W53"])

    def test_empty_bucket_shape(self):
        j, _ = self.check(self.ref, {"from": "2024-02-27", "to": "2024-02-28", "group_by": "day"})
        g = j["groups"][0]
        self.assertEqual(g["responses"], 0)
        self.assertIsNone(g["questions"]["rec"]["score"])
        self.assertIsNone(g["questions"]["yn"]["yes_pct"])
        self.assertEqual(g["questions"]["rec"]["distribution"], [0] * 11)


class EpochTests(MetricsTestBase):
    """Data near 1970-01-01: previous windows that reach before the epoch."""

    TIMES = ["1970-01-01T00:00:00Z", "1970-01-01T12:00:00Z", "1970-01-02T03:00:00Z",
             "1970-01-02T05:59:59.999Z", "1970-01-02T06:00:00Z", "1971-06-15T00:00:00Z",
             "1980-03-03T05:00:00Z"]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sid, cls.ref = cls.make_survey({"title": "epoch", "questions": [
            {"id": "rec", "type": "nps"}, {"id": "sat", "type": "csat"}]}, "epoch")
        cls.import_rows(cls.sid, cls.ref, [
            {"answers": {"rec": (i * 4) % 11, "sat": 1 + i % 5}, "submitted_at": t}
            for i, t in enumerate(cls.TIMES)])

    def test_windows_near_epoch(self):
        for params in (
                {},
                {"from": "1970-01-01", "to": "1970-01-05", "group_by": "day"},
                {"from": "1970-01-01T06:00:00Z", "to": "1970-01-02T06:00:00Z",
                 "compare": "previous"},
                {"from": "1970-01-02", "to": "1970-01-04", "compare": "previous"},
                {"from": "1975-01-01", "to": "1985-01-01", "compare": "previous"},
                {"group_by": "month", "to": "1972-01-01", "from": "1970-01-01"},
        ):
            with self.subTest(params=params):
                self.check(self.ref, params)
        j, _ = self.check(self.ref, {"from": "1975-01-01", "to": "1985-01-01",
                                     "compare": "previous"})
        self.assertEqual(j["questions"]["rec"]["previous"]["answered"], 6)


# --------------------------------------------------------------------------
# Crafted data: scales, empty text, clamping, significance
# --------------------------------------------------------------------------

class CraftedFiguresTests(MetricsTestBase):

    def test_empty_survey(self):
        sid, ref = self.make_survey(FULL_DEFINITION, "empty")
        j, _ = self.check(ref)
        self.assertEqual(j["responses"], 0)
        self.assertIsNone(j["questions"]["rec"]["score"])
        self.assertIsNone(j["questions"]["sat"]["mean"])
        self.assertIsNone(j["questions"]["easy"]["ci95"])
        self.assertEqual(j["questions"]["expect"]["counts"],
                         {"met": 0, "exceeded": 0, "fell short": 0, "other": 0})
        self.assertEqual(j["questions"]["color"]["counts"], {"red": 0, "green": 0})
        j, _ = self.check(ref, {"group_by": "day"})
        self.assertEqual(j["groups"], [])
        self.check(ref, {"group_by": "channel"})
        j, _ = self.check(ref, {"from": "2025-11-01", "to": "2025-11-03", "group_by": "day"})
        self.assertEqual([g["responses"] for g in j["groups"]], [0, 0])
        self.check(ref, {"from": "2025-11-01", "to": "2025-11-03", "compare": "previous"})
        self.assertIsNone(j["questions"]["rec"]["score"])

    def test_every_scale_value(self):
        """Each csat/ces scale answered with every value once, plus a few extra top answers."""
        sid, ref = self.make_survey(FULL_DEFINITION, "scales")
        bodies = []
        for v in range(1, 11):
            ans = {"rec": v, "sat10": v}
            for qid, scale in (("sat", 5), ("sat2", 2), ("sat3", 3), ("sat4", 4), ("sat6", 6),
                               ("sat7", 7), ("easy", 7), ("easy5", 5)):
                if v <= scale:
                    ans[qid] = v
            bodies.append({"answers": ans, "submitted_at": "2025-11-03T10:%02d:00Z" % v})
        bodies.append({"answers": {"rec": 0, "sat2": "good", "sat3": 3, "easy5": 4},
                       "submitted_at": "2025-11-03T11:00:00Z"})
        self.import_rows(sid, ref, bodies)
        j, _ = self.check(ref)
        q = j["questions"]
        # Literal spot checks of the top-box rules (independent of the model).
        self.assertEqual(q["sat2"]["satisfied"], 2)     # {2}: the 2 and "good"
        self.assertEqual(q["sat3"]["satisfied"], 2)     # {3}
        self.assertEqual(q["sat4"]["satisfied"], 2)     # {3, 4}
        self.assertEqual(q["sat"]["satisfied"], 2)      # {4, 5}
        self.assertEqual(q["sat6"]["satisfied"], 2)     # {5, 6}
        self.assertEqual(q["sat7"]["satisfied"], 2)     # {6, 7}
        self.assertEqual(q["sat10"]["satisfied"], 3)    # {8, 9, 10}
        self.assertEqual(q["easy"]["easy"], 3)          # >= 5 of 7
        self.assertEqual(q["easy5"]["easy"], 3)         # >= 4 of 5: 4, 5 and the extra 4
        self.assertEqual(q["sat2"]["distribution"], [1, 2])
        self.assertEqual(q["rec"]["distribution"], [1] + [1] * 10)

    def test_empty_text_counts_as_skipped(self):
        sid, ref = self.make_survey(FULL_DEFINITION, "txt")
        self.import_rows(sid, ref, [
            {"answers": {"comment": "", "rec": 5}, "submitted_at": "2025-11-03T10:00:00Z"},
            {"answers": {"comment": "ok", "expect": "met"}, "submitted_at": "2025-11-03T11:00:00Z"},
            {"answers": {"comment": "", "expect": {"other": "met"}},
             "submitted_at": "2025-11-03T12:00:00Z"},
        ])
        j, _ = self.check(ref)
        self.assertEqual((j["questions"]["comment"]["answered"],
                          j["questions"]["comment"]["skipped"]), (1, 2))
        self.assertEqual(j["questions"]["expect"]["counts"],
                         {"met": 1, "exceeded": 0, "fell short": 0, "other": 1})
        self.check(ref, {"from": "2025-11-03T09:30:00Z", "to": "2025-11-03T12:30:00Z"})

    def test_numeric_looking_choice_options(self):
        """Option texts are strings: "1", "-1" and "2.5" are options like any other and must
        neither vanish nor be confused with an "other" write-in, in whole days (rollups) or
        partial ones (raw rows)."""
        definition = {"title": "numeric options", "questions": [
            {"id": "pick", "type": "choice", "options": ["a", "1", "-1", "2.5", "007"],
             "allow_other": True}]}
        sid, ref = self.make_survey(definition, "numopt")
        self.import_rows(sid, ref, [
            {"answers": {"pick": v}, "submitted_at": "2025-11-03T10:00:00Z"}
            for v in ("a", "1", "-1", "-1", "2.5", "007", {"other": "-1"}, {"other": "1"})])
        want = {"a": 1, "1": 1, "-1": 2, "2.5": 1, "007": 1, "other": 2}
        for params in ({}, {"from": "2025-11-03", "to": "2025-11-04"},
                       {"from": "2025-11-03T09:00:00Z", "to": "2025-11-03T11:00:00Z"}):
            with self.subTest(params=params):
                r = self.get_metrics(sid, params)
                self.assertEqual(r.status, 200)
                self.assertEqual(r.json["questions"]["pick"]["counts"], want)
                self.assertMetrics(r.json, ref.metrics(params))

    def test_nps_clamping_and_single_answers(self):
        sid, ref = self.make_survey(FULL_DEFINITION, "clamp")
        self.import_rows(sid, ref, [
            {"answers": {"rec": 10, "sat": 5, "easy": 6, "resolved": True},
             "submitted_at": "2025-11-03T10:00:00Z"},
            {"answers": {"rec": 0, "sat10": 10}, "submitted_at": "2025-11-04T10:00:00Z"},
        ])
        j, _ = self.check(ref, {"to": "2025-11-04"})
        q = j["questions"]
        self.assertEqual((q["rec"]["score"], q["rec"]["margin_of_error"], q["rec"]["ci95"]),
                         (100, 0, [100, 100]))
        self.assertIsNone(q["easy"]["ci95"])            # one CES answer: no interval
        self.assertEqual(q["easy"]["score"], 6)
        self.assertEqual(q["resolved"]["ci95"], [20.65, 100])
        j, _ = self.check(ref)
        self.assertEqual(j["questions"]["rec"]["ci95"], [-100, 100])   # 0 ± 138.59, clamped
        self.assertEqual(j["questions"]["rec"]["margin_of_error"], 138.59)

    def test_readme_worked_example(self):
        """1000 NPS answers: 600 promoters, 223 passives, 177 detractors -> 42.3 ± 4.79;
        100 of them also answer CSAT with 80 satisfied -> 80, Wilson [71.12, 86.66]."""
        sid, ref = self.make_survey({"title": "worked", "questions": [
            {"id": "rec", "type": "nps"}, {"id": "sat", "type": "csat", "scale": 5}]}, "worked")
        bodies = []
        for i in range(1000):
            rec = 10 if i < 600 else (8 if i < 823 else 3)
            ans = {"rec": rec}
            if i % 10 == 0:
                ans["sat"] = 5 if (i // 10) % 5 else 2     # 80 of 100 satisfied
            bodies.append({"answers": ans,
                           "submitted_at": "2025-11-%02dT%02d:00:00Z" % (1 + i % 28, i % 24)})

        def worker(k):
            out = []
            for body in bodies[k::16]:
                r = self.post_response(sid, body)
                out.append((r.status, r.json, body))
            return out
        for status, js, body in (x for per in run_threads(16, worker) for x in per):
            self.assertEqual(status, 201, js)
            ref.add(js["id"], body)
        j, _ = self.check(ref)
        rec, sat = j["questions"]["rec"], j["questions"]["sat"]
        self.assertEqual((rec["promoters"], rec["passives"], rec["detractors"]), (600, 223, 177))
        self.assertEqual((rec["score"], rec["margin_of_error"], rec["ci95"]),
                         (42.3, 4.79, [37.51, 47.09]))
        self.assertEqual((sat["answered"], sat["satisfied"], sat["score"], sat["ci95"]),
                         (100, 80, 80, [71.12, 86.66]))
        self.check(ref, {"from": "2025-11-05", "to": "2025-11-19", "compare": "previous"})


class CompareTests(MetricsTestBase):
    """Crafted windows: previous [2025-11-03, 2025-11-10), current [2025-11-10, 2025-11-17)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sid, cls.ref = cls.make_survey({"title": "cmp", "questions": [
            {"id": "big", "type": "nps"},        # all detractors -> all promoters: significant
            {"id": "small", "type": "nps"},      # a small move: not significant
            {"id": "sat", "type": "csat"},       # 20% -> 90%: significant
            {"id": "easy", "type": "ces"},       # one answer before: never significant
            {"id": "easy2", "type": "ces"},      # 2.0 -> 6.5 with spread: significant
            {"id": "yn", "type": "yes_no"},      # 50% -> 55%: not significant
            {"id": "new", "type": "nps"},        # nothing before: change null
            {"id": "pick", "type": "choice", "options": ["x", "y"]},
            {"id": "note", "type": "text"},
        ]}, "cmp")
        bodies = []
        for i in range(20):
            bodies.append({"submitted_at": "2025-11-0%dT%02d:00:00Z" % (3 + i % 7, i),
                           "channel": "chat" if i % 2 else "web",
                           "answers": {"big": i % 5, "small": [9, 10, 7, 3, 9][i % 5],
                                       "sat": 5 if i % 5 == 0 else 2,
                                       "easy2": [1, 2, 3, 2][i % 4], "yn": i % 2 == 0,
                                       "pick": "x", "note": "n",
                                       **({"easy": 7} if i == 0 else {})}})
        for i in range(20):
            bodies.append({"submitted_at": "2025-11-1%dT%02d:00:00Z" % (i % 7, i),
                           "channel": "chat" if i % 2 else "web",
                           "answers": {"big": 9 + i % 2, "small": [9, 10, 8, 3, 9][i % 5],
                                       "sat": 2 if i % 10 == 0 else 4,
                                       "easy": 1 + i % 7, "easy2": [6, 7][i % 2],
                                       "yn": i % 20 < 11, "new": 10, "pick": "y"}})
        cls.import_rows(cls.sid, cls.ref, bodies)

    PARAMS = {"from": "2025-11-10", "to": "2025-11-17", "compare": "previous"}

    def test_compare_crafted(self):
        j, exp = self.check(self.ref, self.PARAMS)
        q = j["questions"]
        self.assertEqual(set(q["big"]), set(exp["questions"]["big"]))
        self.assertIs(q["big"]["change"]["significant"], True)
        self.assertEqual(q["big"]["change"]["score"], 200)
        self.assertIs(q["small"]["change"]["significant"], False)
        self.assertIs(q["sat"]["change"]["significant"], True)
        self.assertEqual(q["sat"]["change"]["score"], 70)
        self.assertIs(q["easy"]["change"]["significant"], False)
        self.assertIs(q["easy2"]["change"]["significant"], True)
        self.assertIs(q["yn"]["change"]["significant"], False)
        self.assertEqual(q["yn"]["change"]["score"], 5)
        self.assertIsNone(q["new"]["change"])
        self.assertEqual(q["new"]["previous"]["answered"], 0)
        self.assertIsNone(q["new"]["previous"]["score"])
        self.assertEqual(q["big"]["previous"]["score"], -100)
        for qid in ("pick", "note"):
            self.assertNotIn("previous", q[qid])
            self.assertNotIn("change", q[qid])

    def test_compare_filtered_and_partial(self):
        self.check(self.ref, dict(self.PARAMS, channel="chat"))
        self.check(self.ref, {"from": "2025-11-09T12:00:00Z", "to": "2025-11-15T18:00:00Z",
                              "compare": "previous"})
        # A window whose previous one has no data at all: every change null.
        j, _ = self.check(self.ref, {"from": "2025-11-03", "to": "2025-11-10",
                                     "compare": "previous"})
        for qid in ("big", "small", "sat", "easy2", "yn"):
            self.assertIsNone(j["questions"][qid]["change"], qid)

    def test_without_compare_no_previous(self):
        j, _ = self.check(self.ref, {"from": "2025-11-10", "to": "2025-11-17"})
        self.assertNotIn("previous", j["questions"]["big"])
        self.assertNotIn("change", j["questions"]["big"])


# --------------------------------------------------------------------------
# Parameter validation
# --------------------------------------------------------------------------

class ValidationTests(MetricsTestBase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sid, cls.ref = cls.make_survey(EDGE_DEFINITION, "val")
        cls.import_rows(cls.sid, cls.ref, [{"answers": {"rec": 7}, "channel": "chat",
                                            "agent": "x" * 128,
                                            "submitted_at": "2025-11-03T10:00:00Z"}])

    def raw(self, query):
        return self.req("GET", "/v1/surveys/%s/metrics?%s" % (self.sid, query), token=READ_TOKEN)

    def test_bad_parameters(self):
        cases = [
            ("from=2026-13-01", "from"),
            ("from=yesterday", "from"),
            ("from=2025-02-30", "from"),
            ("from=2025-11-02T12:00:00", "from"),          # no offset: not RFC 3339
            ("from=", "from"),
            ("to=2026-11-02T25:00:00Z", "to"),
            ("from=2025-11-01&to=2025-11-02T25:00:00Z", "to"),
            ("from=2025-11-02&to=2025-11-02", "to"),
            ("from=2025-11-03&to=2025-11-02", "to"),
            ("from=2025-11-02T12:00:00.001Z&to=2025-11-02T12:00:00Z", "to"),
            ("group_by=year", "group_by"),
            ("group_by=Day", "group_by"),
            ("group_by=", "group_by"),
            ("channel=Chat%21", "channel"),
            ("channel=", "channel"),
            ("channel=" + "c" * 33, "channel"),
            ("channel=a%20b", "channel"),
            ("agent=" + "a" * 129, "agent"),
            ("compare=next", "compare"),
            ("compare=previous", "compare"),
            ("compare=previous&from=2025-11-01", "compare"),
            ("compare=previous&to=2025-11-01", "compare"),
            ("foo=1", "foo"),
            ("from=2025-11-01&foo=1", "foo"),
            ("channel=chat&channel=chat", "channel"),
            ("from=2025-11-01&from=2025-11-01", "from"),
            ("group_by=day&group_by=week", "group_by"),
        ]
        for query, field in cases:
            with self.subTest(query=query):
                self.assertValidation(self.raw(query), field)

    def test_several_errors_reported(self):
        self.assertValidation(self.raw("from=yesterday&group_by=year&foo=1"),
                              "from", "group_by", "foo")

    def test_too_many_buckets(self):
        self.assertValidation(self.raw("from=2010-01-01&to=2026-01-01&group_by=day"))
        r = self.raw("from=2010-01-01&to=2026-01-01&group_by=month")
        self.assertEqual(r.status, 200, r.body[:300])
        self.assertEqual(len(r.json["groups"]), 192)

    def test_valid_edge_values(self):
        for params in ({"agent": "x" * 128}, {"channel": "c" * 32}, {"channel": "a_b-9"},
                       {"from": "2025-11-03", "to": "2025-11-03T00:00:00.001Z"}):
            with self.subTest(params=params):
                self.check(self.ref, params)
        j, _ = self.check(self.ref, {"agent": "x" * 128})
        self.assertEqual(j["responses"], 1)

    def test_overview_rejects_parameters(self):
        r = self.req("GET", "/v1/metrics?foo=1", token=READ_TOKEN)
        self.assertValidation(r, "foo")


# --------------------------------------------------------------------------
# ETag, 304 and invalidation
# --------------------------------------------------------------------------

class CachingTests(MetricsTestBase):

    def setUp(self):
        self.sid, self.ref = self.make_survey(EDGE_DEFINITION, "cache")
        self.other, self.other_ref = self.make_survey(EDGE_DEFINITION, "cache-other")
        self.import_rows(self.sid, self.ref, [
            {"answers": {"rec": 10, "sat": 4}, "channel": "chat",
             "submitted_at": "2025-11-03T10:00:00Z"},
            {"answers": {"rec": 2, "yn": True}, "channel": "web", "agent": "ann",
             "submitted_at": "2025-11-04T10:00:00Z"}])

    def fetch(self, params=None, etag=None, survey=None):
        h = {"If-None-Match": etag} if etag else None
        return self.get_metrics(survey or self.sid, params, headers=h)

    def assert200(self, r, ref=None, params=None):
        self.assertEqual(r.status, 200, r.body[:300])
        etag = r.headers.get("ETag") or ""
        self.assertTrue(etag.startswith('W/"') and etag.endswith('"'), etag)
        self.assertIn("no-cache", (r.headers.get("Cache-Control") or "").lower())
        self.assertMetrics(r.json, (ref or self.ref).metrics(params or {}),
                           (params or {}).get("group_by"))
        return etag

    def assert304(self, r, etag):
        self.assertEqual(r.status, 304, r.body[:300])
        self.assertEqual(r.body, b"")
        self.assertEqual(r.headers.get("ETag"), etag)

    def test_etag_and_304(self):
        for params in ({}, {"from": "2025-11-03T12:00:00Z", "to": "2025-11-05",
                            "group_by": "day"},
                       {"group_by": "channel"}, {"channel": "web", "agent": "ann"}):
            with self.subTest(params=params):
                etag = self.assert200(self.fetch(params), params=params)
                self.assertEqual(self.fetch(params).headers.get("ETag"), etag)   # stable
                self.assert304(self.fetch(params, etag), etag)
                r = self.fetch(params, 'W/"something-else"')
                self.assertEqual(self.assert200(r, params=params), etag)

    def test_if_none_match_list(self):
        etag = self.assert200(self.fetch())
        self.assert304(self.fetch(None, 'W/"nope", ' + etag), etag)

    def test_new_response_same_survey_changes_etag(self):
        for params in ({}, {"from": "2025-11-01", "to": "2025-11-10", "group_by": "day"},
                       {"channel": "chat"}):
            with self.subTest(params=params):
                etag = self.assert200(self.fetch(params), params=params)
                self.import_rows(self.sid, self.ref, [
                    {"answers": {"rec": 0, "sat": 1}, "channel": "chat",
                     "submitted_at": "2025-11-05T09:00:00Z"}])
                r = self.fetch(params, etag)
                new = self.assert200(r, params=params)
                self.assertNotEqual(new, etag)
                self.assert304(self.fetch(params, new), new)

    def test_response_to_other_survey_keeps_etag(self):
        etag = self.assert200(self.fetch())
        self.import_rows(self.other, self.other_ref, [
            {"answers": {"rec": 0}, "submitted_at": "2025-11-03T10:00:00Z"}])
        self.assert304(self.fetch(None, etag), etag)
        self.assert200(self.fetch(survey=self.other), self.other_ref)

    def test_put_definition_changes_etag(self):
        etag = self.assert200(self.fetch())
        d = dict(EDGE_DEFINITION, questions=EDGE_DEFINITION["questions"]
                 + [{"id": "extra", "type": "csat", "scale": 3}])
        self.put_survey(self.sid, d, expect=(200,))
        self.ref.set_definition(d)
        new = self.assert200(self.fetch(None, etag))
        self.assertNotEqual(new, etag)
        j = self.fetch().json
        self.assertEqual(j["questions"]["extra"]["skipped"], 2)
        # A new choice option shows with 0; answers to the new question count in whole days
        # (rollups) and in partial ones (raw rows).
        etag = new
        d = dict(d, questions=[dict(q, options=["a", "b", "c"]) if q["id"] == "pick" else q
                               for q in d["questions"]])
        self.put_survey(self.sid, d, expect=(200,))
        self.ref.set_definition(d)
        new = self.assert200(self.fetch(None, etag))
        self.assertNotEqual(new, etag)
        self.assertEqual(self.fetch().json["questions"]["pick"]["counts"],
                         {"a": 0, "b": 0, "c": 0, "other": 0})
        self.import_rows(self.sid, self.ref, [
            {"answers": {"extra": 3, "pick": "c"}, "submitted_at": "2025-11-03T10:30:00Z"},
            {"answers": {"extra": 1, "pick": "c"}, "submitted_at": "2025-11-04T10:30:00Z"}])
        for params in ({}, {"from": "2025-11-03T10:15:00Z", "to": "2025-11-04T10:45:00Z"},
                       {"from": "2025-11-03", "to": "2025-11-05", "group_by": "day"}):
            with self.subTest(params=params):
                self.assert200(self.fetch(params), params=params)

    def test_patch_and_delete_response_reflected(self):
        etag = self.assert200(self.fetch())
        rid = next(iter(self.ref.rows))
        r = self.req("PATCH", "/v1/responses/" + rid, {"answers": {"rec": 6, "easy": 3}},
                     token=INGEST_TOKEN)
        self.assertEqual(r.status, 200, r.body[:300])
        self.ref.rows[rid]["answers"].update(rec=6, easy=3)
        etag2 = self.assert200(self.fetch(None, etag))
        self.assertNotEqual(etag2, etag)
        r = self.req("DELETE", "/v1/responses/" + rid, token=ADMIN_TOKEN)
        self.assertEqual(r.status, 204, r.body[:300])
        del self.ref.rows[rid]
        etag3 = self.assert200(self.fetch(None, etag2))
        self.assertNotEqual(etag3, etag2)
        self.assert200(self.fetch({"group_by": "day"}), params={"group_by": "day"})

    def test_writes_at_window_edges_reflected(self):
        """Cached windows with partial edge days see writes on those days and on whole days."""
        win = {"from": "2025-11-02T12:00:00Z", "to": "2025-11-04T06:30:00Z"}
        queries = [win, dict(win, group_by="day"), dict(win, channel="chat"),
                   dict(win, agent="ann"), dict(win, compare="previous"), {"group_by": "month"}]
        writes = [("2025-11-04T05:00:00Z", "chat", "ann"), ("2025-11-02T13:00:00Z", "web", None),
                  ("2025-11-03T12:00:00Z", None, "ann"), ("2025-11-01T12:00:00Z", "chat", "ann"),
                  ("2025-11-02T11:00:00Z", "chat", None), ("2020-01-01T00:00:00Z", "web", "ann")]
        etags, bodies = {}, {}
        for p in queries:
            r = self.fetch(p)
            etags[repr(p)], bodies[repr(p)] = self.assert200(r, params=p), r.json
        for i, (t, ch, ag) in enumerate(writes):
            body = {"answers": {"rec": i, "sat": 1 + i % 5, "yn": i % 2 == 0},
                    "submitted_at": t}
            if ch:
                body["channel"] = ch
            if ag:
                body["agent"] = ag
            self.import_rows(self.sid, self.ref, [body])
            for p in queries:
                with self.subTest(write=t, params=p):
                    r = self.fetch(p, etags[repr(p)])
                    if r.status == 304:
                        # Allowed only when the write did not change this result: the body
                        # the client holds must still be right.
                        self.assertEqual(r.headers.get("ETag"), etags[repr(p)])
                        self.assertMetrics(bodies[repr(p)], self.ref.metrics(p),
                                           p.get("group_by"))
                    else:
                        etags[repr(p)], bodies[repr(p)] = self.assert200(r, params=p), r.json

    def test_deleted_and_recreated_survey(self):
        params = {"group_by": "channel"}
        etag = self.assert200(self.fetch(params), params=params)
        r = self.req("DELETE", "/v1/surveys/" + self.sid, token=ADMIN_TOKEN)
        self.assertEqual(r.status, 204, r.body[:300])
        self.assertProblem(self.fetch(params), 404, "survey_not_found")
        self.assertProblem(self.fetch(params, etag), 404, "survey_not_found")
        self.put_survey(self.sid, EDGE_DEFINITION, expect=(201,))
        self.ref = Ref(self.sid, EDGE_DEFINITION)
        new = self.assert200(self.fetch(params, etag), params=params)
        self.assertNotEqual(new, etag)
        self.assertEqual(self.fetch().json["responses"], 0)
        self.assert200(self.fetch())
        self.import_rows(self.sid, self.ref, [
            {"answers": {"rec": 9}, "channel": "chat", "submitted_at": "2025-11-03T10:00:00Z"}])
        self.assert200(self.fetch(params), params=params)


class OverviewTests(MetricsTestBase):
    """GET /v1/metrics on a daemon of its own (so the survey list is known)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.refs = {}
        rng = random.Random(99)
        for sid, definition in (
                ("zeta", FULL_DEFINITION),
                ("alpha", EDGE_DEFINITION),
                ("mid-1", {"title": "only text", "questions": [{"id": "t", "type": "text"},
                                                              {"id": "y", "type": "yes_no"}]}),
                ("empty", FULL_DEFINITION)):
            r = cls.daemon.req("PUT", "/v1/surveys/" + sid, definition, token=ADMIN_TOKEN)
            assert r.status == 201, r.body
            cls.refs[sid] = Ref(sid, definition)
        for sid, n in (("zeta", 30), ("alpha", 12), ("mid-1", 3)):
            ref = cls.refs[sid]
            cls.import_rows(sid, ref, [
                {"answers": random_answers(rng, ref.questions),
                 "submitted_at": random_time(rng, datetime.datetime(2025, 9, 1, tzinfo=UTC), 60)}
                for _ in range(n)])

    def expected(self):
        return {"surveys": [self.refs[s].overview() for s in sorted(self.refs)]}

    def test_overview(self):
        r = self.req("GET", "/v1/metrics", token=READ_TOKEN)
        self.assertEqual(r.status, 200, r.body[:300])
        self.assertEqual([s["survey"] for s in r.json["surveys"]],
                         ["alpha", "empty", "mid-1", "zeta"])
        self.assertMatches(r.json, self.expected())
        self.assertEqual(r.json["surveys"][2]["questions"], {})
        self.assertIsNone(r.json["surveys"][1]["questions"]["rec"]["score"])

    def test_overview_after_delete(self):
        r = self.req("GET", "/v1/metrics", token=READ_TOKEN)
        etag = r.headers.get("ETag")
        self.put_survey("beta", EDGE_DEFINITION, expect=(201,))
        self.refs["beta"] = Ref("beta", EDGE_DEFINITION)
        try:
            self.import_rows("beta", self.refs["beta"], [
                {"answers": {"rec": 3, "easy": 2}, "submitted_at": "2025-11-03T00:00:00Z"}])
            r = self.req("GET", "/v1/metrics", token=READ_TOKEN, headers={"If-None-Match": etag})
            self.assertEqual(r.status, 200)
            self.assertMatches(r.json, self.expected())
            etag = r.headers.get("ETag")
        finally:
            del self.refs["beta"]
        self.assertEqual(self.req("DELETE", "/v1/surveys/beta", token=ADMIN_TOKEN).status, 204)
        r = self.req("GET", "/v1/metrics", token=READ_TOKEN, headers={"If-None-Match": etag})
        self.assertEqual(r.status, 200)
        self.assertMatches(r.json, self.expected())

    def test_overview_etag_and_invalidation(self):
        r = self.req("GET", "/v1/metrics", token=READ_TOKEN)
        etag = r.headers.get("ETag") or ""
        self.assertTrue(etag.startswith('W/"'), etag)
        self.assertIn("no-cache", (r.headers.get("Cache-Control") or "").lower())
        r2_ = self.req("GET", "/v1/metrics", token=READ_TOKEN, headers={"If-None-Match": etag})
        self.assertEqual(r2_.status, 304)
        self.assertEqual(r2_.body, b"")
        self.assertEqual(r2_.headers.get("ETag"), etag)
        # A new response changes the figures.
        self.import_rows("alpha", self.refs["alpha"], [
            {"answers": {"rec": 10, "sat": 5, "easy": 7}, "submitted_at": "2025-11-03T00:00:00Z"}])
        r = self.req("GET", "/v1/metrics", token=READ_TOKEN, headers={"If-None-Match": etag})
        self.assertEqual(r.status, 200)
        self.assertNotEqual(r.headers.get("ETag"), etag)
        self.assertMatches(r.json, self.expected())
        # A new title shows.
        etag = r.headers.get("ETag")
        d = dict(FULL_DEFINITION, title="Renamed survey")
        self.put_survey("empty", d, expect=(200,))
        self.refs["empty"].set_definition(d)
        r = self.req("GET", "/v1/metrics", token=READ_TOKEN, headers={"If-None-Match": etag})
        self.assertEqual(r.status, 200)
        self.assertMatches(r.json, self.expected())


if __name__ == "__main__":
    unittest.main()
