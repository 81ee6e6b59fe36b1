"""Topics (issue 18, docs/search.md "Topics"): saved queries that tag a survey's responses, and the
metrics' topic= filter. Checked against a model written here: its own tokenizer, query parser and
evaluator, and its own NPS and CSAT figures (README "Metrics: formulas and conventions") over the
responses the model says match. Tags follow ingest, edits, deletions, erasure, a survey's deletion
and a query's change; every bad input is a problem with a stable code. Responses carry fixed
submitted_at dates and every metrics call an explicit from/to window.
"""

import math
import random
import re
import sqlite3
import time
import unicodedata
import unittest
import urllib.parse
from decimal import ROUND_HALF_UP, Decimal

from harness import (ADMIN_TOKEN, INGEST_TOKEN, READ_TOKEN, BaseAPITest, Daemon, db_execute, db_query, is_postgres,
                     run_cli, skip_unless_postgres, skip_unless_sqlite, sqlite_execute, uid)

DEFINITION = {
    "title": "Topics",
    "questions": [
        {"id": "rec", "type": "nps"},
        {"id": "sat", "type": "csat", "scale": 5},
        {"id": "why", "type": "text"},
        {"id": "via", "type": "choice", "options": ["web", "phone"], "allow_other": True},
    ],
}

WORDS = ["refund", "Refunds", "money", "back", "late", "LATE", "slow", "delivery", "undelivered",
         "Crème", "creme", "e-mail", "email", "paypal", "agent", "rude", "great", "über", "3.5"]

TOPICS = {
    "refunds": "refund* OR \"money back\"",
    "late-delivery": "(late OR slow) deliv*",
    "dessert": "creme NOT paypal",
    "contact": "e-mail OR email OR agent",
    "nothing": "kumquat",
}

FROM, TO = "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z"

# Both backends record a topic in its PUT and back-fill afterwards, in batches through the writer
# (SQLite's schema/015, PostgreSQL's schema/postgres/008).


# ---- the model ----

def fold(token):
    decomposed = unicodedata.normalize("NFKD", token.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def tokens(text):
    return [fold(t) for t in re.findall(r"[^\W_]+", text)]


def parse(query):
    """("term", [tokens], prefix) | ("and", [children], [excluded]) | ("or", [children])."""
    lexemes = re.findall(r'"[^"]*"|\(|\)|[^\s()"]+', query)
    at = [0]

    def peek():
        return lexemes[at[0]] if at[0] < len(lexemes) else None

    def take():
        at[0] += 1
        return lexemes[at[0] - 1]

    def alternatives():
        out = [conjunction()]
        while peek() == "OR":
            take()
            out.append(conjunction())
        return out[0] if len(out) == 1 else ("or", out)

    def conjunction():
        children, excluded = [], []
        while peek() not in (None, ")", "OR"):
            if peek() == "AND":
                take()
                continue
            negated = peek() == "NOT"
            if negated:
                take()
            lexeme = take()
            if lexeme == "(":
                node = alternatives()
                take()
            elif lexeme.startswith('"'):
                node = ("term", tokens(lexeme[1:-1]), False)
            else:
                node = ("term", tokens(lexeme.rstrip("*")), lexeme.endswith("*"))
            (excluded if negated else children).append(node)
        return ("and", children, excluded)

    return alternatives()


def evaluate(node, toks):
    if node[0] == "term":
        want, prefix = node[1], node[2]
        for i in range(len(toks) - len(want) + 1):
            if all(toks[i + k] == want[k] for k in range(len(want) - 1)):
                last = toks[i + len(want) - 1]
                if last.startswith(want[-1]) if prefix else last == want[-1]:
                    return True
        return False
    if node[0] == "or":
        return any(evaluate(c, toks) for c in node[1])
    return all(evaluate(c, toks) for c in node[1]) and not any(evaluate(c, toks) for c in node[2])


def document(answers):
    parts = []
    if isinstance(answers.get("why"), str):
        parts.append(answers["why"])
    if isinstance(answers.get("via"), dict):
        parts.append(answers["via"]["other"])
    return "\n".join(parts)


def matches(query, answers):
    return evaluate(parse(query), tokens(document(answers)))


def r2(x):
    return float(Decimal(repr(float(x))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def expected_nps(values):
    n = len(values)
    P = sum(1 for v in values if v >= 9)
    D = sum(1 for v in values if v <= 6)
    out = {"answered": n, "promoters": P, "detractors": D}
    if n:
        score = 100.0 * (P - D) / n
        p, d = P / n, D / n
        moe = 196.0 * math.sqrt(max(0.0, p + d - (p - d) ** 2) / n)
        out.update(score=r2(score), margin_of_error=r2(moe),
                   ci95=[r2(max(-100.0, score - moe)), r2(min(100.0, score + moe))])
    return out


def expected_topic_block(topic, tagged, everyone):
    """The topic's share among detractors vs among promoters, with the pooled two-proportion z-test
    (README "Metrics: formulas and conventions")."""
    k1 = sum(1 for a in tagged if a.get("rec", 7) <= 6)
    n1 = sum(1 for a in everyone if a.get("rec", 7) <= 6)
    k2 = sum(1 for a in tagged if a.get("rec", 0) >= 9)
    n2 = sum(1 for a in everyone if a.get("rec", 0) >= 9)
    share = lambda k, n: {"tagged": k, "of": n, "pct": r2(100.0 * k / n) if n else None}
    out = {"id": topic, "question": "rec", "detractors": share(k1, n1), "promoters": share(k2, n2),
           "z": None, "p_value": None}
    if n1 and n2:
        pooled = (k1 + k2) / (n1 + n2)
        if 0 < pooled < 1:
            z = (k1 / n1 - k2 / n2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
            out["z"] = r2(z)
            out["p_value"] = round(math.erfc(abs(z) / math.sqrt(2)) * 1e4) / 1e4
    return out


def expected_csat(values):
    n = len(values)
    s = sum(1 for v in values if v >= 4)
    out = {"answered": n, "satisfied": s}
    if n:
        z = 1.959964
        p = s / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        out.update(score=r2(100.0 * p), ci95=[r2(100 * max(0.0, centre - half)), r2(100 * min(1.0, centre + half))])
    return out


class ModelTests(unittest.TestCase):
    """The model on cases docs/search.md spells out: a wrong model would pass anything."""

    def test_model(self):
        self.assertTrue(matches("refund*", {"why": "Refunds please"}))
        self.assertTrue(matches('"money back"', {"why": "my Money-back"}))
        self.assertFalse(matches('"money back"', {"why": "back money"}))
        self.assertTrue(matches("creme NOT paypal", {"why": "Crème"}))
        self.assertFalse(matches("creme NOT paypal", {"why": "creme", "via": {"other": "PayPal"}}))
        self.assertTrue(matches("(late OR slow) deliv*", {"why": "slow", "via": {"other": "delivery"}}))
        self.assertFalse(matches("deliv*", {"why": "undelivered"}))
        self.assertEqual(expected_nps([10, 9, 5, 7])["score"], 25.0)


def random_answers(rng):
    answers = {"rec": rng.randrange(11), "sat": rng.randrange(1, 6)}
    if rng.random() < 0.85:
        answers["why"] = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(1, 6)))
    if rng.random() < 0.3:
        answers["via"] = {"other": rng.choice(WORDS)}
    if rng.random() < 0.1:
        del answers["rec"]
    return answers


def qs(**params):
    return urllib.parse.urlencode(params, quote_via=urllib.parse.quote)


class TopicsBase(BaseAPITest):

    def topic_path(self, sid, topic=None):
        return "/v1/surveys/%s/topics" % sid + ("/" + topic if topic else "")

    def put_topic(self, sid, topic, query, title=None, expect=(200, 201)):
        r = self.req("PUT", self.topic_path(sid, topic), {"title": title or topic.title(), "query": query},
                     token=ADMIN_TOKEN)
        self.assertIn(r.status, expect, r.body[:400])
        return r

    def post_at(self, sid, answers, day):
        body = {"answers": answers, "submitted_at": "2026-03-%02dT12:00:00Z" % day}
        return self.post_ok(sid, body).json["id"]

    def metrics(self, sid, **params):
        r = self.req("GET", "/v1/surveys/%s/metrics?" % sid + qs(**params), token=READ_TOKEN)
        self.assertEqual(r.status, 200, r.body[:400])
        return r.json

    def topic_done(self, sid, topic, timeout=30.0):
        """The topic as reported once its back-fill says done. SQLite back-fills after the PUT, in
        batches through the writer: the topic is read again until its state says so (each read
        waits on the daemon's own progress; no sleep). While running, scanned only grows and
        never passes total."""
        deadline = time.monotonic() + timeout
        last = -1
        while True:
            r = self.req("GET", self.topic_path(sid, topic), token=READ_TOKEN)
            self.assertEqual(r.status, 200, r.body[:300])
            backfill = r.json["backfill"]
            self.assertGreaterEqual(backfill["scanned"], last, r.json)
            self.assertLessEqual(backfill["scanned"], backfill["total"], r.json)
            last = backfill["scanned"]
            if backfill["state"] == "done":
                self.assertEqual(backfill["scanned"], backfill["total"], r.json)
                return r.json
            self.assertEqual(backfill["state"], "running", r.json)
            self.assertLess(time.monotonic(), deadline, "back-fill still running: %r" % r.json)


class TopicsTests(TopicsBase):

    def check_against_model(self, sid, rows):
        """rows: response id -> answers. Every topic's count and its metrics agree with the model."""
        for topic, query in TOPICS.items():
            tagged = [a for a in rows.values() if matches(query, a)]
            got = self.topic_done(sid, topic)
            self.assertEqual(got["responses"], len(tagged), topic)
            m = self.metrics(sid, topic=topic, **{"from": FROM, "to": TO})
            self.assertEqual(m["filters"], {"topic": topic})
            self.assertEqual(m["responses"], len(tagged), topic)
            rec = m["questions"]["rec"]
            for k, v in expected_nps([a["rec"] for a in tagged if "rec" in a]).items():
                self.assertEqual(rec[k], v, (topic, k))
            block = m["topic"]
            want = expected_topic_block(topic, tagged, list(rows.values()))
            for k in ("id", "question", "detractors", "promoters", "z"):
                self.assertEqual(block[k], want[k], (topic, k))
            if want["p_value"] is None:
                self.assertIsNone(block["p_value"])
            else:
                self.assertAlmostEqual(block["p_value"], want["p_value"], places=4, msg=topic)
            sat = m["questions"]["sat"]
            for k, v in expected_csat([a["sat"] for a in tagged]).items():
                self.assertEqual(sat[k], v, (topic, k))

    def test_tags_and_metrics_follow_the_model(self):
        rng = random.Random(1807)
        sid = self.new_survey(DEFINITION, prefix="topics")
        rows = {}
        # Before the topics exist: tagged by the back-fill of their PUT.
        for i in range(120):
            a = random_answers(rng)
            rows[self.post_at(sid, a, 1 + i % 28)] = a
        for topic, query in TOPICS.items():
            r = self.put_topic(sid, topic, query, expect=(201,))
            self.assertEqual(r.headers.get("Location"), self.topic_path(sid, topic))
            # Recorded, not back-filled: the PUT returns at once and the writer tags afterwards.
            self.assertEqual(r.json["backfill"], {"state": "running", "scanned": 0, "total": 120})
        self.check_against_model(sid, rows)
        # After: tagged as they are stored.
        for i in range(80):
            a = random_answers(rng)
            rows[self.post_at(sid, a, 1 + i % 28)] = a
        self.check_against_model(sid, rows)
        # A response outside the window counts in no window's figures but is tagged.
        self.post_at(sid, {"rec": 10, "why": "refund"}, 31)
        m = self.metrics(sid, topic="refunds", **{"from": FROM, "to": "2026-03-31T00:00:00Z"})
        self.assertEqual(m["responses"], sum(1 for a in rows.values() if matches(TOPICS["refunds"], a)))

    def test_crud_and_list(self):
        sid = self.new_survey(DEFINITION, prefix="crud")
        self.post_at(sid, {"rec": 3, "why": "late delivery"}, 2)
        r = self.put_topic(sid, "late", "late deliv*", title="Late deliveries", expect=(201,))
        created = r.json
        self.assertEqual(set(created), {"id", "survey", "title", "query", "responses", "created_at",
                                        "updated_at", "backfill"})
        self.assertEqual((created["id"], created["survey"], created["title"], created["query"],
                          created["responses"]), ("late", sid, "Late deliveries", "late deliv*", 0))
        self.assertEqual(created["backfill"], {"state": "running", "scanned": 0, "total": 1})
        self.assertEqual(self.topic_done(sid, "late")["responses"], 1)
        # Replaced: 200, created_at kept, the new query re-tags from scratch (the old tags go in
        # the PUT's transaction).
        r = self.put_topic(sid, "late", "slow", title="Slow", expect=(200,))
        self.assertEqual(r.json["created_at"], created["created_at"])
        self.assertEqual((r.json["title"], r.json["query"], r.json["responses"]), ("Slow", "slow", 0))
        self.assertEqual(self.topic_done(sid, "late")["responses"], 0)
        # A new title alone keeps the tags and the back-fill's state.
        self.put_topic(sid, "late", "late deliv*", expect=(200,))
        self.assertEqual(self.topic_done(sid, "late")["responses"], 1)
        r = self.put_topic(sid, "late", "late deliv*", title="Late", expect=(200,))
        self.assertEqual((r.json["responses"], r.json["backfill"]), (1, {"state": "done", "scanned": 1, "total": 1}))
        self.put_topic(sid, "another", "refund", expect=(201,))
        listed = self.req("GET", self.topic_path(sid), token=READ_TOKEN)
        self.assertEqual(listed.status, 200)
        self.assertEqual([t["id"] for t in listed.json["topics"]], ["another", "late"])
        self.assertEqual(self.req("DELETE", self.topic_path(sid, "late"), token=ADMIN_TOKEN).status, 204)
        self.assertProblem(self.req("GET", self.topic_path(sid, "late"), token=READ_TOKEN), 404, "topic_not_found")
        self.assertProblem(self.req("DELETE", self.topic_path(sid, "late"), token=ADMIN_TOKEN),
                           404, "topic_not_found")
        self.assertProblem(self.req("GET", "/v1/surveys/%s/metrics?topic=late" % sid, token=READ_TOKEN),
                           404, "topic_not_found")

    def test_edits_deletions_erasure_and_survey_deletion(self):
        sid = self.new_survey(DEFINITION, prefix="changes")
        self.put_topic(sid, "fruit", "kumquat OR rambutan", expect=(201,))
        customer = uid("erased")
        a = self.post_at(sid, {"rec": 9, "why": "kumquat arrived"}, 3)
        b = self.post_at(sid, {"rec": 2, "why": "fine", "via": {"other": "rambutan"}}, 3)
        self.post_ok(sid, {"answers": {"rec": 5, "why": "kumquat"}, "customer": customer,
                           "submitted_at": "2026-03-04T12:00:00Z"})
        count = lambda: self.topic_done(sid, "fruit")["responses"]
        self.assertEqual(count(), 3)
        # An edit re-evaluates: the comment no longer matches.
        r = self.req("PATCH", "/v1/responses/" + a, {"answers": {"why": "durian now"}}, token=INGEST_TOKEN)
        self.assertEqual(r.status, 200, r.body[:300])
        self.assertEqual(count(), 2)
        m = self.metrics(sid, topic="fruit", **{"from": FROM, "to": TO})
        self.assertEqual(m["questions"]["rec"]["detractors"], 2)
        self.assertEqual(self.req("DELETE", "/v1/responses/" + b, token=ADMIN_TOKEN).status, 204)
        self.assertEqual(count(), 1)
        r = self.req("DELETE", "/v1/customers/" + customer, token=ADMIN_TOKEN)
        self.assertEqual(r.status, 200, r.body[:300])
        self.assertEqual(count(), 0)
        # A survey deleted and made again has no topics.
        self.assertEqual(self.req("DELETE", "/v1/surveys/" + sid, token=ADMIN_TOKEN).status, 204)
        self.put_survey(sid, DEFINITION)
        self.assertEqual(self.req("GET", self.topic_path(sid), token=READ_TOKEN).json["topics"], [])

    def test_topics_survive_a_restart_and_keep_tagging(self):
        sid = self.new_survey(DEFINITION, prefix="restart")
        self.post_at(sid, {"rec": 1, "why": "refund"}, 5)
        self.put_topic(sid, "refunds", "refund", expect=(201,))
        self.daemon.restart()
        self.post_at(sid, {"rec": 1, "why": "refund again"}, 6)
        self.assertEqual(self.topic_done(sid, "refunds")["responses"], 2)

    def test_errors(self):
        sid = self.new_survey(DEFINITION, prefix="errors")
        path = self.topic_path(sid, "t")
        r = self.req("PUT", path, {"title": "T", "query": "refund OR"}, token=ADMIN_TOKEN)
        self.assertProblem(r, 422, "invalid_query")
        self.assertEqual((r.json["parameter"], r.json["position"]), ("query", 7))
        r = self.req("PUT", path, {"title": "T", "query": " OR ".join("w%d" % i for i in range(40))},
                     token=ADMIN_TOKEN)
        self.assertProblem(r, 422, "query_too_complex")
        self.assertEqual(r.json["parameter"], "query")
        self.assertProblem(self.req("PUT", path, {"title": "T"}, token=ADMIN_TOKEN), 422, "validation_failed")
        self.assertProblem(self.req("PUT", path, {"title": "", "query": "a"}, token=ADMIN_TOKEN),
                           422, "validation_failed")
        self.assertProblem(self.req("PUT", path, {"title": "T", "query": "a", "x": 1}, token=ADMIN_TOKEN),
                           422, "validation_failed")
        self.assertProblem(self.req("PUT", self.topic_path(sid, "Bad!"), {"title": "T", "query": "a"},
                                    token=ADMIN_TOKEN), 422, "validation_failed")
        self.assertProblem(self.req("PUT", self.topic_path("no-such-survey", "t"), {"title": "T", "query": "a"},
                                    token=ADMIN_TOKEN), 404, "survey_not_found")
        self.assertProblem(self.req("GET", self.topic_path("no-such-survey"), token=READ_TOKEN),
                           404, "survey_not_found")
        self.assertProblem(self.req("PUT", path, {"title": "T", "query": "a"}, token=READ_TOKEN), 403, "forbidden")
        self.assertProblem(self.req("DELETE", path, token=INGEST_TOKEN), 403, "forbidden")
        self.assertProblem(self.req("GET", "/v1/surveys/%s/metrics?topic=Bad!" % sid, token=READ_TOKEN),
                           422, "validation_failed")
        # At most 50 per survey; replacing one is still allowed at the cap.
        for i in range(50):
            self.put_topic(sid, "t%02d" % i, "w%d" % i, expect=(201,))
        self.assertProblem(self.req("PUT", self.topic_path(sid, "one-more"), {"title": "T", "query": "a"},
                                    token=ADMIN_TOKEN), 422, "too_many_topics")
        self.put_topic(sid, "t00", "other", expect=(200,))


def moment(day, minute):
    """A fixed time in March 2026: day 1..31, minute of the day."""
    return "2026-03-%02dT%02d:%02d:00Z" % (day, minute // 60, minute % 60)


def merge(answers, patch):
    out = dict(answers)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = v
    return out


class TopicGroupsTests(TopicsBase):
    """group_by=topic and topic= over the topics' day rollups (schema/015, PostgreSQL's 008) and raw rows at the edges,
    every figure against the model: responses at every hour of the day, windows that cut days,
    channel and agent filters (the agent one reads raw rows), and edits, deletions and an erasure
    moving the cells."""

    CHANNELS = ["web", "email", None]
    AGENTS = ["ann", "bob", None]

    def add_rows(self, sid, rng, rows, n, start=0):
        for i in range(start, start + n):
            answers = random_answers(rng)
            row = {"answers": answers, "at": moment(1 + i % 28, (i * 37) % 1440),
                   "channel": self.CHANNELS[i % 3], "agent": self.AGENTS[(i // 3) % 3], "customer": None}
            if i % 17 == 0:
                row["customer"] = uid("cust")
            body = {"answers": answers, "submitted_at": row["at"]}
            for k in ("channel", "agent", "customer"):
                if row[k] is not None:
                    body[k] = row[k]
            rows[self.post_ok(sid, body).json["id"]] = row

    def check_window(self, sid, rows, frm, to, **filters):
        inside = [r for r in rows.values()
                  if frm <= r["at"] < to and all(r[k] == v for k, v in filters.items())]
        everyone = [r["answers"] for r in inside]
        m = self.metrics(sid, group_by="topic", **dict(filters, **{"from": frm, "to": to}))
        what = (frm, to, filters)
        # The totals count each response once, whatever its topics.
        self.assertEqual(m["responses"], len(inside), what)
        self.assertEqual(m["questions"]["rec"]["answered"], sum(1 for a in everyone if "rec" in a), what)
        self.assertEqual([g["key"] for g in m["groups"]], sorted(TOPICS), what)
        for g in m["groups"]:
            topic = g["key"]
            tagged = [a for a in everyone if matches(TOPICS[topic], a)]
            self.assertEqual((g["title"], g["complete"], g["responses"]), (topic.title(), True, len(tagged)),
                             (what, topic))
            for k, v in expected_nps([a["rec"] for a in tagged if "rec" in a]).items():
                self.assertEqual(g["questions"]["rec"][k], v, (what, topic, k))
            for k, v in expected_csat([a["sat"] for a in tagged]).items():
                self.assertEqual(g["questions"]["sat"][k], v, (what, topic, k))
            want = expected_topic_block(topic, tagged, everyone)
            for k in ("id", "question", "detractors", "promoters", "z"):
                self.assertEqual(g["topic"][k], want[k], (what, topic, k))
            if want["p_value"] is None:
                self.assertIsNone(g["topic"]["p_value"])
            else:
                self.assertAlmostEqual(g["topic"]["p_value"], want["p_value"], places=4, msg=topic)
            # topic= agrees with the group, figure for figure.
            one = self.metrics(sid, topic=topic, **dict(filters, **{"from": frm, "to": to}))
            self.assertEqual(one["responses"], g["responses"], (what, topic))
            self.assertEqual(one["questions"], g["questions"], (what, topic))
            self.assertEqual(one["topic"], g["topic"], (what, topic))
        return inside

    def check_all(self, sid, rows):
        for frm, to in ((FROM, TO), (moment(3, 6 * 60 + 30), moment(20, 18 * 60 + 1)),
                        (moment(9, 1), moment(9, 23 * 60)), (moment(27, 12 * 60), TO)):
            inside = self.check_window(sid, rows, frm, to)
            self.assertTrue(inside, (frm, to))
        self.check_window(sid, rows, moment(2, 90), moment(25, 600), channel="web")
        self.check_window(sid, rows, moment(2, 90), moment(25, 600), agent="ann")
        self.check_window(sid, rows, FROM, TO, channel="email", agent="bob")

    def test_groups_follow_the_model_through_changes(self):
        rng = random.Random(2718)
        sid = self.new_survey(DEFINITION, prefix="groups")
        rows = {}
        self.add_rows(sid, rng, rows, 150)
        for topic, query in TOPICS.items():
            self.put_topic(sid, topic, query, expect=(201,))
        for topic in TOPICS:
            self.topic_done(sid, topic)
        self.add_rows(sid, rng, rows, 60, start=150)
        in_two = [r for r in rows.values() if sum(matches(q, r["answers"]) for q in TOPICS.values()) >= 2]
        self.assertTrue(in_two, "the data must have a response in two topics")
        self.check_all(sid, rows)
        # Edits (a comment, a score, an answer removed), deletions and an erasure move the cells.
        ids = sorted(rows)
        for i, rid in enumerate(ids[:40]):
            patch = [{"why": "refund slow delivery"}, {"rec": 10}, {"why": None}, {"sat": 1, "why": "email agent"},
                     {"via": {"other": "creme"}}][i % 5]
            r = self.req("PATCH", "/v1/responses/" + rid, {"answers": patch}, token=INGEST_TOKEN)
            self.assertEqual(r.status, 200, r.body[:300])
            rows[rid]["answers"] = merge(rows[rid]["answers"], patch)
        for rid in ids[40:55]:
            self.assertEqual(self.req("DELETE", "/v1/responses/" + rid, token=ADMIN_TOKEN).status, 204)
            del rows[rid]
        erased = [rid for rid, r in rows.items() if r["customer"]][:3]
        for rid in erased:
            r = self.req("DELETE", "/v1/customers/" + rows[rid]["customer"], token=ADMIN_TOKEN)
            self.assertEqual(r.status, 200, r.body[:300])
            del rows[rid]
        self.check_all(sid, rows)
        # The triggers delete the cells they bring to 0, the months' too (read from the live
        # database: SQLite's WAL, PostgreSQL's MVCC).
        sql = ("SELECT (SELECT count(*) FROM rollup_topic_answers WHERE count <= 0)"
               " + (SELECT count(*) FROM rollup_topic_responses WHERE count <= 0)"
               " + (SELECT count(*) FROM rollup_topic_answers_month WHERE count <= 0)"
               " + (SELECT count(*) FROM rollup_topic_responses_month WHERE count <= 0)")
        if is_postgres():
            zeros = db_query(self.daemon, sql)[0][0]
        else:
            db = sqlite3.connect("file:%s?mode=ro" % self.daemon.db_path, uri=True)
            try:
                zeros = db.execute(sql).fetchone()[0]
            finally:
                db.close()
        self.assertEqual(zeros, 0)
        # A topic deleted leaves the groups; a topic with no responses is still one.
        self.assertEqual(self.req("DELETE", self.topic_path(sid, "dessert"), token=ADMIN_TOKEN).status, 204)
        m = self.metrics(sid, group_by="topic", **{"from": FROM, "to": TO})
        self.assertEqual([g["key"] for g in m["groups"]], sorted(t for t in TOPICS if t != "dessert"))
        self.assertEqual(next(g for g in m["groups"] if g["key"] == "nothing")["responses"], 0)

    def test_group_by_topic_errors_and_no_topics(self):
        # A survey without responses has nothing to back-fill: done at once.
        empty = self.new_survey(DEFINITION, prefix="empty")
        r = self.put_topic(empty, "refunds", "refund", expect=(201,))
        self.assertEqual(r.json["backfill"], {"state": "done", "scanned": 0, "total": 0})
        m = self.metrics(empty, group_by="topic", **{"from": FROM, "to": TO})
        self.assertEqual([(g["key"], g["complete"], g["responses"]) for g in m["groups"]], [("refunds", True, 0)])
        sid = self.new_survey(DEFINITION, prefix="noto")
        self.post_at(sid, {"rec": 9, "why": "refund"}, 2)
        m = self.metrics(sid, group_by="topic", **{"from": FROM, "to": TO})
        self.assertEqual((m["responses"], m["groups"]), (1, []))
        self.put_topic(sid, "refunds", "refund", expect=(201,))
        r = self.req("GET", "/v1/surveys/%s/metrics?" % sid + qs(group_by="topic", topic="refunds"), token=READ_TOKEN)
        self.assertProblem(r, 422, "validation_failed")
        r = self.req("GET", "/v1/surveys/%s/metrics?group_by=topics" % sid, token=READ_TOKEN)
        self.assertProblem(r, 422, "validation_failed")


class TopicBackfillTests(TopicsBase):
    """The back-fill in batches of SURVEYD_TOPIC_BACKFILL_BATCH=7, through the writer: "complete":
    false while it runs, ingest alongside it tagged once, and a restart in the middle resuming from
    the stored cursor."""

    daemon_env = {"SURVEYD_TOPIC_BACKFILL_BATCH": "7"}

    def state(self, sid, topic):
        r = self.req("GET", self.topic_path(sid, topic), token=READ_TOKEN)
        self.assertEqual(r.status, 200, r.body[:300])
        return r.json

    def query_db(self, sql, args=()):
        return db_query(self.daemon, sql, args)

    def test_backfill_runs_in_batches_and_resumes_after_a_restart(self):
        rng = random.Random(99)
        sid = self.new_survey(DEFINITION, prefix="backfill")
        rows = {}
        for i in range(1200):
            a = random_answers(rng)
            rows[self.post_at(sid, a, 1 + i % 28)] = a
        r = self.put_topic(sid, "refunds", TOPICS["refunds"], expect=(201,))
        self.assertEqual(r.json["backfill"], {"state": "running", "scanned": 0, "total": 1200})
        # While it runs: progress grows by batches, group_by=topic says the topic is incomplete, and
        # a response stored meanwhile is tagged once (at its commit, and never again by the batch
        # that reaches it).
        seen_incomplete = False
        extra = 0
        while True:
            m = self.metrics(sid, group_by="topic", **{"from": FROM, "to": TO})
            state = self.state(sid, "refunds")
            if not m["groups"][0]["complete"]:
                seen_incomplete = True
            if extra < 3:
                a = {"rec": 3, "why": "refund %d" % extra}
                rows[self.post_at(sid, a, 2)] = a
                extra += 1
            if state["backfill"]["state"] == "done" or state["backfill"]["scanned"] >= 7 * 20:
                break
        self.assertTrue(seen_incomplete)
        self.daemon.stop()
        (cursor, scanned), = self.query_db("SELECT cursor_seq, scanned FROM topics WHERE survey = ?", (sid,))
        if cursor is None:
            # The back-fill outran the polling and finished before the stop: put the database where
            # a stop after 600 responses would have left it (the tags past the cursor not made yet;
            # those of the responses stored during the back-fill stay, made at their commit).
            seqs = [s for s, in self.query_db("SELECT seq FROM responses WHERE survey = ? ORDER BY seq", (sid,))]
            cursor, scanned = seqs[599], 600
            self.assertEqual(db_execute(self.daemon, "UPDATE topics SET cursor_seq = ?, scanned = 600"
                                        " WHERE survey = ?", (cursor, sid)), 1)
            db_execute(self.daemon, "DELETE FROM response_topics WHERE survey = ? AND seq > ? AND seq <= ?",
                       (sid, cursor, seqs[1199]))
        # Stopped in the middle: the stored cursor is where the last committed batch left it.
        self.assertGreater(scanned, 0)
        self.assertLess(scanned, 1200)
        self.daemon.start()
        done = self.topic_done(sid, "refunds", timeout=60)
        self.assertEqual(done["backfill"], {"state": "done", "scanned": 1200, "total": 1200})
        tagged = [a for a in rows.values() if matches(TOPICS["refunds"], a)]
        self.assertEqual(done["responses"], len(tagged))
        m = self.metrics(sid, group_by="topic", **{"from": FROM, "to": TO})
        g = m["groups"][0]
        self.assertEqual((g["key"], g["complete"], g["responses"]), ("refunds", True, len(tagged)))
        for k, v in expected_nps([a["rec"] for a in tagged if "rec" in a]).items():
            self.assertEqual(g["questions"]["rec"][k], v, k)
        self.daemon.stop()
        try:
            p = run_cli(["verify", "--data-dir", self.daemon.data_dir], timeout=60)
            self.assertEqual(p.returncode, 0, (p.stdout + p.stderr).decode("utf-8", "replace"))
        finally:
            self.daemon.start()


    def test_cached_replies_follow_the_backfill(self):
        """Each committed batch makes the survey's cached metrics stale: the same query asked while
        the back-fill ran and after it gives the new figures, not the cached ones."""
        rng = random.Random(5)
        sid = self.new_survey(DEFINITION, prefix="bfcache")
        rows = [random_answers(rng) for _ in range(700)]
        for i, a in enumerate(rows):
            self.post_at(sid, a, 1 + i % 28)
        self.put_topic(sid, "late-delivery", TOPICS["late-delivery"], expect=(201,))
        params = {"group_by": "topic", "from": FROM, "to": TO}
        first = self.metrics(sid, **params)["groups"][0]
        self.topic_done(sid, "late-delivery")
        tagged = sum(1 for a in rows if matches(TOPICS["late-delivery"], a))
        again = self.metrics(sid, **params)["groups"][0]
        self.assertEqual((again["complete"], again["responses"]), (True, tagged))
        self.assertLessEqual(first["responses"], tagged)
        one = self.metrics(sid, topic="late-delivery", **{"from": FROM, "to": TO})
        self.assertEqual(one["responses"], tagged)


@skip_unless_postgres("several instances share one database only on PostgreSQL")
class TopicBackfillInstancesTests(TopicsBase):
    """A back-fill left running by one instance: another instance's ingest meanwhile tags itself at
    its commit, the back-fill resumes when an instance starts, and every response ends tagged
    exactly once (the figures, from the topic rollups, match the model)."""

    daemon_env = {"SURVEYD_TOPIC_BACKFILL_BATCH": "7"}

    def test_ingest_through_another_instance_during_the_backfill_is_tagged_once(self):
        # Started before the PUT: its back-fill thread only looks at start-up and at its own PUTs,
        # so the back-fill stays where the database says until this instance starts again.
        other = Daemon(data_dir=self.daemon.data_dir, env=self.daemon_env)
        self.addCleanup(other.cleanup)
        other.start()
        self.addCleanup(other.stop)
        rng = random.Random(4242)
        sid = self.new_survey(DEFINITION, prefix="bfinst")
        rows = {}
        for i in range(300):
            a = random_answers(rng)
            rows[self.post_at(sid, a, 1 + i % 28)] = a
        r = self.put_topic(sid, "refunds", TOPICS["refunds"], expect=(201,))
        self.assertEqual(r.json["backfill"], {"state": "running", "scanned": 0, "total": 300})
        while True:  # each read waits on the daemon's own progress (no sleep)
            backfill = self.req("GET", self.topic_path(sid, "refunds"), token=READ_TOKEN).json["backfill"]
            if backfill["state"] == "done" or backfill["scanned"] >= 140:
                break
        self.daemon.stop()
        seqs = [s for s, in db_query(self.daemon, "SELECT seq FROM responses WHERE survey = ? ORDER BY seq", (sid,))]
        self.assertEqual(len(seqs), 300)
        (cursor, scanned), = db_query(self.daemon, "SELECT cursor_seq, scanned FROM topics WHERE survey = ?", (sid,))
        if cursor is None or scanned >= 300 - 7:
            # It outran the polling: put the back-fill where a stop after 140 responses leaves it
            # (the cursor there, no tag after it).
            cursor, scanned = seqs[139], 140
            self.assertEqual(db_execute(self.daemon, "UPDATE topics SET cursor_seq = ?, scanned = 140"
                                        " WHERE survey = ?", (cursor, sid)), 1)
            db_execute(self.daemon, "DELETE FROM response_topics WHERE survey = ? AND seq > ?", (sid, cursor))
        state = other.req("GET", self.topic_path(sid, "refunds"), token=READ_TOKEN).json
        self.assertEqual(state["backfill"], {"state": "running", "scanned": scanned, "total": 300})
        # Ingest through the other instance while it runs: each new response is tagged at its
        # commit (the back-fill's range ends before them and never reaches them).
        late = {}
        for i in range(40):
            a = {"rec": i % 11, "why": "refund %d" % i} if i % 2 == 0 else random_answers(rng)
            body = {"answers": a, "submitted_at": "2026-03-%02dT12:00:00Z" % (1 + i % 28)}
            r = other.req("POST", "/v1/surveys/%s/responses" % sid, body, token=INGEST_TOKEN)
            self.assertEqual(r.status, 201, r.body[:300])
            late[r.json["id"]] = a
        rows.update(late)
        want_late = sum(1 for a in late.values() if matches(TOPICS["refunds"], a))
        got_late, = db_query(self.daemon, "SELECT count(*) FROM response_topics AS t JOIN responses AS r"
                             " ON r.seq = t.seq WHERE t.survey = ? AND t.topic = 'refunds' AND r.seq > ?",
                             (sid, seqs[-1]))
        self.assertEqual(got_late[0], want_late)
        state = other.req("GET", self.topic_path(sid, "refunds"), token=READ_TOKEN).json
        self.assertEqual(state["backfill"]["state"], "running")
        m = other.req("GET", "/v1/surveys/%s/metrics?" % sid + qs(group_by="topic", **{"from": FROM, "to": TO}),
                      token=READ_TOKEN).json
        self.assertFalse(m["groups"][0]["complete"])
        # surveyd verify does not count the responses the back-fill has not reached as untagged.
        p = run_cli(["verify", "--database", self.daemon.database], timeout=60)
        self.assertEqual(p.returncode, 0, (p.stdout + p.stderr).decode("utf-8", "replace"))
        # This instance starts again and resumes the back-fill from the stored cursor.
        self.daemon.start()
        done = self.topic_done(sid, "refunds", timeout=60)
        self.assertEqual(done["backfill"], {"state": "done", "scanned": 300, "total": 300})
        tagged = [a for a in rows.values() if matches(TOPICS["refunds"], a)]
        self.assertEqual(done["responses"], len(tagged))
        for daemon in (self.daemon, other):
            r = daemon.req("GET", "/v1/surveys/%s/metrics?" % sid + qs(group_by="topic", **{"from": FROM, "to": TO}),
                           token=READ_TOKEN)
            g = r.json["groups"][0]
            self.assertEqual((g["key"], g["complete"], g["responses"]), ("refunds", True, len(tagged)))
            for k, v in expected_nps([a["rec"] for a in tagged if "rec" in a]).items():
                self.assertEqual(g["questions"]["rec"][k], v, k)
        # The rollups counted each tag once.
        cells, = db_query(self.daemon, "SELECT coalesce(sum(count), 0) FROM rollup_topic_responses"
                          " WHERE survey = ? AND topic = 'refunds'", (sid,))
        self.assertEqual(cells[0], len(tagged))
        p = run_cli(["verify", "--database", self.daemon.database], timeout=60)
        self.assertEqual(p.returncode, 0, (p.stdout + p.stderr).decode("utf-8", "replace"))


class TopicChangesTests(TopicsBase):
    """New responses are tagged by the topics and definition as they are when they are stored, not as
    they were when the writer last parsed them (PostgreSQL's writer keeps them parsed per survey)."""

    def tagged(self, sid, topic):
        return self.topic_done(sid, topic)["responses"]

    def test_a_changed_query_or_definition_tags_new_responses_by_the_new_one(self):
        sid = self.new_survey(DEFINITION, prefix="cache")
        self.put_topic(sid, "fruit", "kumquat", expect=(201,))
        self.post_at(sid, {"rec": 9, "why": "kumquat"}, 2)
        self.assertEqual(self.tagged(sid, "fruit"), 1)
        # The query changes: a new response is judged by the new one only.
        self.put_topic(sid, "fruit", "rambutan", expect=(200,))
        self.assertEqual(self.tagged(sid, "fruit"), 0)
        self.post_at(sid, {"rec": 9, "why": "kumquat"}, 2)
        self.post_at(sid, {"rec": 9, "why": "rambutan"}, 2)
        self.assertEqual(self.tagged(sid, "fruit"), 1)
        # The definition gains a text question: its answers are part of new responses' documents.
        grown = dict(DEFINITION, questions=DEFINITION["questions"] + [{"id": "more", "type": "text"}])
        self.put_survey(sid, grown, expect=(200,))
        self.post_at(sid, {"rec": 9, "more": "rambutan again"}, 2)
        self.assertEqual(self.tagged(sid, "fruit"), 2)


@skip_unless_postgres("several instances share one database only on PostgreSQL")
class TopicInstancesTests(TopicsBase):
    """A topic changed through one instance tags what another instance stores next."""

    def test_another_instance_sees_the_changed_topic(self):
        other = Daemon(data_dir=self.daemon.data_dir)  # the harness gives it the same database
        self.addCleanup(other.cleanup)
        other.start()
        self.addCleanup(other.stop)
        sid = self.new_survey(DEFINITION, prefix="two")
        self.put_topic(sid, "fruit", "kumquat", expect=(201,))
        post = lambda daemon, why: daemon.req("POST", "/v1/surveys/%s/responses" % sid,
                                              {"answers": {"rec": 9, "why": why},
                                               "submitted_at": "2026-03-02T12:00:00Z"}, token=INGEST_TOKEN)
        self.assertEqual(post(other, "kumquat").status, 201)   # other's writer parses the topic now
        self.assertEqual(self.tagged(sid, "fruit"), 1)
        self.put_topic(sid, "fruit", "rambutan", expect=(200,))  # changed through this instance
        self.assertEqual(self.tagged(sid, "fruit"), 0)
        self.assertEqual(post(other, "kumquat").status, 201)
        self.assertEqual(self.tagged(sid, "fruit"), 0)
        self.assertEqual(post(other, "rambutan").status, 201)
        self.assertEqual(self.tagged(sid, "fruit"), 1)

    tagged = TopicChangesTests.tagged


class TopicsVerifyTests(TopicsBase):

    def verify(self):
        p = run_cli(["verify", "--data-dir", self.daemon.data_dir], timeout=60)
        return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")

    def test_verify_recomputes_the_tags(self):
        sid = self.new_survey(DEFINITION, prefix="verify")
        self.post_at(sid, {"rec": 9, "why": "refund please"}, 7)
        plain = self.post_at(sid, {"rec": 9, "why": "all good"}, 7)
        self.put_topic(sid, "refunds", "refund", expect=(201,))
        self.topic_done(sid, "refunds")
        self.daemon.stop()
        try:
            code, out = self.verify()
            self.assertEqual(code, 0, out)
            # A tag lost, and one given to a response that does not match.
            db_execute(self.daemon, "DELETE FROM response_topics WHERE survey = ?", (sid,))
            added = db_execute(self.daemon,
                               "INSERT INTO response_topics (seq, survey, topic)"
                                   " SELECT seq, survey, 'refunds' FROM responses WHERE id = ?", (plain,))
            self.assertEqual(added, 1)
            code, out = self.verify()
            self.assertEqual(code, 1, out)
            self.assertRegex(out, r"topics: survey %s topic refunds: response seq \d+ matches but is not tagged" % sid)
            self.assertRegex(out, r"topics: survey %s topic refunds: response seq \d+ is tagged but does not match"
                             % sid)
        finally:
            self.daemon.start()

    def test_verify_recomputes_the_topic_rollups(self):
        sid = self.new_survey(DEFINITION, prefix="vcells")
        self.post_at(sid, {"rec": 9, "sat": 4, "why": "refund please"}, 8)
        self.post_at(sid, {"rec": 2, "why": "refund now", "via": {"other": "phone refund"}}, 9)
        self.put_topic(sid, "refunds", "refund", expect=(201,))
        self.topic_done(sid, "refunds")
        self.daemon.stop()
        try:
            # (The class's other test leaves its own survey damaged: only this survey's lines count.)
            code, out = self.verify()
            self.assertNotIn(sid, out)
            # One cell off by one, one response cell gone: both named, nothing else.
            self.assertEqual(db_execute(self.daemon,
                                        "UPDATE rollup_topic_answers SET count = count + 1"
                                        " WHERE survey = ? AND question = 'rec' AND value = 9", (sid,)), 1)
            self.assertEqual(db_execute(self.daemon,
                                        "DELETE FROM rollup_topic_responses WHERE survey = ? AND day = ?",
                                        (sid, 20521)), 1)
            # (Those moved their month cells along, by the triggers: the months still sum their
            # days.) A month cell made wrong on its own (schema/016; March 2026 is day 20513):
            self.assertEqual(db_execute(self.daemon,
                                        "UPDATE rollup_topic_answers_month SET count = count + 2"
                                        " WHERE survey = ? AND question = 'sat'", (sid,)), 1)
            code, out = self.verify()
            self.assertEqual(code, 1, out)
            self.assertIn("rollup_topic_answers: missing or wrong row %s refunds 20520  rec 9 1" % sid, out)
            self.assertIn("rollup_topic_answers: unexpected row %s refunds 20520  rec 9 2" % sid, out)
            self.assertIn("rollup_topic_responses: missing or wrong row %s refunds 20521  1" % sid, out)
            self.assertIn("rollup_topic_answers_month: missing or wrong row %s refunds 20513  sat 4 1" % sid, out)
            self.assertIn("rollup_topic_answers_month: unexpected row %s refunds 20513  sat 4 3" % sid, out)
            self.assertEqual(len([line for line in out.splitlines() if sid in line]), 5, out)
        finally:
            self.daemon.start()

    @skip_unless_sqlite("schema/015 is SQLite's")
    def test_migration_015_fills_the_rollups_from_existing_tags(self):
        """A database of schema 14 with topics and tags: 015 fills the topics' day tables from the
        tags, the figures stay the same and verify finds nothing."""
        rng = random.Random(15)
        sid = self.new_survey(DEFINITION, prefix="mig15")
        for i in range(90):
            self.post_ok(sid, {"answers": random_answers(rng), "submitted_at": moment(1 + i % 28, (i * 53) % 1440),
                               "channel": ["web", "email"][i % 2]})
        for topic in ("refunds", "contact"):
            self.put_topic(sid, topic, TOPICS[topic], expect=(201,))
            self.topic_done(sid, topic)
        window = {"from": moment(2, 700), "to": moment(26, 100)}
        before = self.metrics(sid, group_by="topic", **window)
        self.assertTrue(all(g["responses"] for g in before["groups"]), before["groups"])
        counts = [self.topic_done(sid, t)["responses"] for t in ("refunds", "contact")]
        self.daemon.stop()
        try:
            for sql in ("DROP TABLE rollup_topic_answers_month", "DROP TABLE rollup_topic_responses_month",
                        "DROP TRIGGER response_topics_rollup_insert", "DROP TRIGGER response_topics_rollup_delete",
                        "DROP TRIGGER responses_topics_delete", "DROP TRIGGER responses_topics_update",
                        "DROP TABLE rollup_topic_answers", "DROP TABLE rollup_topic_responses",
                        "ALTER TABLE topics DROP COLUMN cursor_seq", "ALTER TABLE topics DROP COLUMN cursor_end",
                        "PRAGMA user_version = 14"):
                sqlite_execute(self.daemon.db_path, sql)
        finally:
            self.daemon.start()
        self.assertEqual(self.metrics(sid, group_by="topic", **window), before)
        self.assertEqual([self.topic_done(sid, t)["responses"] for t in ("refunds", "contact")], counts)
        self.daemon.stop()
        try:
            code, out = self.verify()
            self.assertNotIn(sid, out)
        finally:
            self.daemon.start()


if __name__ == "__main__":
    unittest.main()
