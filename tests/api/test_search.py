"""Full-text search (issue 18, docs/search.md): q= on the listing, the export and a customer's
history, checked against a model of the query language written here (its own tokenizer, parser and
evaluator); snippets and their code-point offsets; sort=relevance paging; the index following edits,
deletions, erasure and a survey's deletion; a database from before the index, back-filled by its
migration; and every bad query answered with a 422 that says where. Every query runs through both
newest-first plans (SURVEYD_SEARCH_DRIVE_MAX=1 forces the walk along the survey's rows).

The same tests run on PostgreSQL (pg_api_search: its tsvector index built in C, docs/search.md
"PostgreSQL"), with the same expectations: matching, order, cursors, snippets, exports, a customer's
history and the index following every change agree exactly. Relevance differs (bm25 there,
ts_rank_cd with length normalization here): the tests of sort=relevance assert only what both
rankings guarantee (a denser, shorter answer before a longer one with the word once; among answers
that each hold the word once, the shortest first; ties newest first), never a full order.
"""

import json
import random
import re
import unicodedata
import unittest
import urllib.parse

from harness import (ADMIN_TOKEN, INGEST_TOKEN, PG_TEXT_INDEX_DOWNGRADE, READ_TOKEN, TEXT_INDEX_DOWNGRADE,
                     BaseAPITest, db_execute, db_query, is_postgres, run_cli, skip_unless_postgres,
                     skip_unless_sqlite, sqlite_execute, uid)

DEFINITION = {
    "title": "Search",
    "questions": [
        {"id": "nps", "type": "nps"},
        {"id": "why", "type": "text"},
        {"id": "via", "type": "choice", "options": ["web", "phone"], "allow_other": True},
        {"id": "more", "type": "text"},
    ],
}

WORDS = ["refund", "refunds", "money", "back", "late", "slow", "delivery", "delivered", "deliveries",
         "undelivered", "Crème", "brûlée", "CAFÉ", "cafe", "e-mail", "email", "agent", "was", "great",
         "the", "and", "not", "helpful", "Money-back", "paypal", "it's", "3.5", "naïve", "Ærø"]

QUERIES = [
    "refund", "REFUND", '"money back"', "deliv*", "refund OR \"money back\"", "late NOT refund",
    "(late OR slow) deliv*", "creme", "brulee", "Brûlée", "e-mail", "cafe OR creme", "refund late",
    "refund AND late", "late NOT refund NOT paypal", "it's", "3.5", "naive", "ærø", "nothing_here",
    "NOT paypal refund", "(refund OR email) (late OR slow) NOT agent", "money* back*",
]


# ---- the model: tokens, a parser and an evaluator of its own ----

def fold(token):
    """Lower case, Latin diacritics dropped (NFKD, combining marks removed): what FTS5's unicode61
    with remove_diacritics 2 does for the words used here."""
    decomposed = unicodedata.normalize("NFKD", token.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def tokens(text):
    """Runs of letters and digits; everything else separates (the underscore too)."""
    return [fold(t) for t in re.findall(r"[^\W_]+", text)]


def parse(query):
    """The query language's grammar (docs/search.md) into nested tuples:
    ("term", [tokens], prefix) | ("and", [children], [excluded]) | ("or", [children])."""
    lexemes = re.findall(r'"[^"]*"|\(|\)|[^\s()"]+', query)
    pos = [0]

    def peek():
        return lexemes[pos[0]] if pos[0] < len(lexemes) else None

    def take():
        pos[0] += 1
        return lexemes[pos[0] - 1]

    def parse_or():
        children = [parse_and()]
        while peek() == "OR":
            take()
            children.append(parse_and())
        return children[0] if len(children) == 1 else ("or", children)

    def parse_and():
        children, excluded = [], []
        while peek() not in (None, ")", "OR"):
            if peek() == "AND":
                take()
                continue
            negate = peek() == "NOT"
            if negate:
                take()
            operand = parse_primary()
            if operand is not None:
                (excluded if negate else children).append(operand)
        return ("and", children, excluded)

    def parse_primary():
        lexeme = take()
        if lexeme == "(":
            inner = parse_or()
            assert take() == ")"
            return inner
        prefix = lexeme.endswith("*") and not lexeme.startswith('"')
        word = lexeme.strip('"').rstrip("*") if not lexeme.startswith('"') else lexeme[1:-1]
        toks = tokens(word)
        return ("term", toks, prefix) if toks else None

    return parse_or()


def evaluate(node, toks):
    kind = node[0]
    if kind == "term":
        want, prefix = node[1], node[2]
        for i in range(len(toks) - len(want) + 1):
            head = all(toks[i + k] == want[k] for k in range(len(want) - 1))
            last = toks[i + len(want) - 1]
            if head and (last.startswith(want[-1]) if prefix else last == want[-1]):
                return True
        return False
    if kind == "or":
        return any(evaluate(c, toks) for c in node[1])
    return all(evaluate(c, toks) for c in node[1]) and not any(evaluate(c, toks) for c in node[2])


def positive_terms(node, negated=False):
    if node[0] == "term":
        return [] if negated else [node]
    if node[0] == "or":
        return [t for c in node[1] for t in positive_terms(c, negated)]
    return ([t for c in node[1] for t in positive_terms(c, negated)]
            + [t for c in node[2] for t in positive_terms(c, not negated)])


def texts_of(answers):
    """(question, text) of each text answer and write-in, in the survey's question order."""
    out = []
    for q in DEFINITION["questions"]:
        value = answers.get(q["id"])
        if q["type"] == "text" and isinstance(value, str):
            out.append((q["id"], value))
        elif q["type"] == "choice" and isinstance(value, dict):
            out.append((q["id"], value["other"]))
    return out


def document(answers):
    return "\n".join(text for _, text in texts_of(answers))


def matches(query, answers):
    return evaluate(parse(query), tokens(document(answers)))


def newest_first(rows):
    return [r["id"] for r in sorted(rows, key=lambda r: (r["submitted_at_ms"], r["id"]), reverse=True)]


def qs(**params):
    return urllib.parse.urlencode(params, quote_via=urllib.parse.quote)


class ModelTests(unittest.TestCase):
    """The model itself, on cases docs/search.md spells out: a wrong model would pass anything."""

    def test_model(self):
        self.assertTrue(matches("deliv*", {"why": "Delivered late"}))
        self.assertFalse(matches("deliv*", {"why": "undelivered"}))
        self.assertTrue(matches('"money back"', {"why": "money-back please"}))
        self.assertFalse(matches('"money back"', {"why": "back money"}))
        self.assertTrue(matches("creme", {"via": {"other": "Crème"}}))
        self.assertFalse(matches("refund NOT paypal", {"why": "refund", "more": "PayPal"}))
        self.assertTrue(matches("refund paypal", {"why": "refund", "more": "PayPal"}))
        self.assertEqual(tokens("it's e-mail 3.5 Ærø"), ["it", "s", "e", "mail", "3", "5", "ærø"])


class SearchBase(BaseAPITest):

    def page_all(self, path, limit=7, **params):
        """Every page of a listing; the ids in order and the rows."""
        rows, cursor = [], None
        for _ in range(200):
            p = dict(params, limit=limit)
            if cursor:
                p["cursor"] = cursor
            r = self.req("GET", path + "?" + qs(**p), token=READ_TOKEN)
            self.assertEqual(r.status, 200, "%s %s -> %d %r" % (path, p, r.status, r.body[:400]))
            rows += r.json["responses"]
            cursor = r.json["next_cursor"]
            if cursor is None:
                return [x["id"] for x in rows], rows
        self.fail("more than 200 pages")

    def seed(self, sid, count, rng, day0=1, customer=None):
        """count responses with random comments on fixed October 2026 days; the model's rows."""
        model = []
        for i in range(count):
            answers = {"nps": rng.randrange(11)}
            for qid in ("why", "more"):
                if rng.random() < 0.7:
                    answers[qid] = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(1, 9)))
            if rng.random() < 0.3:
                answers["via"] = {"other": " ".join(rng.choice(WORDS) for _ in range(rng.randrange(1, 4)))}
            elif rng.random() < 0.5:
                answers["via"] = "web"
            day, sec = day0 + i % 10, (i * 7919) % 86400
            when = "2026-10-%02dT%02d:%02d:%02dZ" % (day, sec // 3600, sec // 60 % 60, sec % 60)
            body = {"answers": answers, "submitted_at": when, "channel": ["web", "email"][i % 2]}
            if customer:
                body["customer"] = customer
            created = self.post_ok(sid, body).json
            model.append({"id": created["id"], "answers": answers, "channel": body["channel"],
                          "submitted_at_ms": (day, sec), "edit_token": created.get("edit_token")})
        return model


class SearchTests(SearchBase):
    daemon_env = {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.rng = random.Random(18)

    def setUp(self):
        if "sid" not in type(self).__dict__:  # once per class: each has a daemon of its own
            type(self).sid = self.new_survey(DEFINITION, prefix="search")
            type(self).model = self.seed(self.sid, 240, self.rng)

    def path(self, sid=None):
        return "/v1/surveys/%s/responses" % (sid or self.sid)

    def test_queries_match_the_model_newest_first(self):
        for query in QUERIES:
            with self.subTest(q=query):
                want = newest_first([r for r in self.model if matches(query, r["answers"])])
                got, _ = self.page_all(self.path(), q=query)
                self.assertEqual(got, want)
        # Every query above is answered by something, except the one meant to find nothing.
        self.assertEqual([q for q in QUERIES if not any(matches(q, r["answers"]) for r in self.model)],
                         ["nothing_here"])

    def test_filters_and_window_combine_with_q(self):
        query = "refund OR late"
        want = newest_first([r for r in self.model if r["channel"] == "email"
                             and 5 <= r["submitted_at_ms"][0] < 8 and matches(query, r["answers"])])
        got, _ = self.page_all(self.path(), q=query, channel="email", **{"from": "2026-10-05", "to": "2026-10-08"})
        self.assertEqual(got, want)
        self.assertTrue(want)

    def test_snippets_show_each_matching_answer(self):
        by_id = {r["id"]: r for r in self.model}
        for query in ("deliv*", '"money back" OR creme', "refund NOT paypal"):
            terms = positive_terms(parse(query))
            _, rows = self.page_all(self.path(), q=query, limit=50)
            self.assertTrue(rows)
            for row in rows:
                answers = by_id[row["id"]]["answers"]
                want = [(qid, text) for qid, text in texts_of(answers)
                        if any(evaluate(t, tokens(text)) for t in terms)]
                self.assertEqual([(s["question"], s["text"]) for s in row["snippets"]], want, row["id"])
                for s in row["snippets"]:
                    self.assertTrue(s["matches"], s)
                    for m in s["matches"]:
                        stretch = tokens(s["text"][m["start"]:m["start"] + m["length"]])
                        self.assertTrue(any(evaluate(t, stretch) for t in terms), (query, s, m))
                        # A match starts and ends on token boundaries.
                        before = s["text"][m["start"] - 1] if m["start"] else " "
                        self.assertFalse(before.isalnum(), (s, m))
        _, rows = self.page_all(self.path(), limit=5)
        self.assertNotIn("snippets", rows[0])

    def test_snippet_offsets_count_code_points(self):
        sid = self.new_survey(DEFINITION, prefix="offsets")
        text = "Ærø 🙂 naïve — the CAFÉ was late"
        self.post_ok(sid, {"answers": {"why": text}})
        r = self.req("GET", self.path(sid) + "?" + qs(q="cafe late"), token=READ_TOKEN)
        s = r.json["responses"][0]["snippets"][0]
        self.assertEqual(s["text"], text)
        self.assertEqual([s["text"][m["start"]:m["start"] + m["length"]] for m in s["matches"]], ["CAFÉ", "late"])

    def test_long_answers_are_cut_around_the_match(self):
        sid = self.new_survey(DEFINITION, prefix="long")
        text = " ".join(["filler"] * 120) + " the refund never came " + " ".join(["padding"] * 120)
        self.post_ok(sid, {"answers": {"why": text}})
        s = self.req("GET", self.path(sid) + "?q=refund", token=READ_TOKEN).json["responses"][0]["snippets"][0]
        self.assertLessEqual(len(s["text"]), 200)
        self.assertTrue(s["text"].startswith("…") and s["text"].endswith("…"), s["text"])
        (m,) = s["matches"]
        self.assertEqual(s["text"][m["start"]:m["start"] + m["length"]], "refund")

    def test_relevance_pages_cover_the_matches_once(self):
        for query in ("refund", "late OR slow", "deliv* NOT agent"):
            with self.subTest(q=query):
                want = {r["id"] for r in self.model if matches(query, r["answers"])}
                got, _ = self.page_all(self.path(), limit=6, q=query, sort="relevance")
                self.assertEqual(len(got), len(set(got)))
                self.assertEqual(set(got), want)

    def test_relevance_ranks_denser_answers_first(self):
        sid = self.new_survey(DEFINITION, prefix="rank")
        thin = self.post_ok(sid, {"answers": {"why": "refund " + " ".join(["word%d" % i for i in range(30)])},
                                  "submitted_at": "2026-10-02T00:00:00Z"}).json["id"]
        dense = self.post_ok(sid, {"answers": {"why": "refund refund refund please"},
                                   "submitted_at": "2026-10-01T00:00:00Z"}).json["id"]
        got, _ = self.page_all(self.path(sid), q="refund", sort="relevance")
        self.assertEqual(got, [dense, thin])
        got, _ = self.page_all(self.path(sid), q="refund")
        self.assertEqual(got, [thin, dense])

    def test_export_with_q(self):
        query = "deliv* OR creme"
        want = newest_first([r for r in self.model if matches(query, r["answers"])])
        r = self.req("GET", self.path() + "?" + qs(q=query, format="ndjson"), token=READ_TOKEN)
        self.assertEqual(r.status, 200, r.body[:300])
        lines = [json.loads(line) for line in r.body.decode("utf-8").splitlines() if line]
        self.assertEqual([x["id"] for x in lines], want)
        self.assertNotIn("snippets", lines[0])
        r = self.req("GET", self.path() + "?" + qs(q=query, format="csv"), token=READ_TOKEN)
        self.assertEqual(r.status, 200)
        ids = [line.split(",")[0].strip('"') for line in r.body.decode("utf-8").splitlines()[1:] if line]
        self.assertEqual(ids, want)
        r = self.req("GET", self.path() + "?" + qs(q=query, format="csv", sort="relevance"), token=READ_TOKEN)
        self.assertValidation(r, "sort")

    def test_customer_history_with_q(self):
        customer = uid("cust")
        other = self.new_survey(DEFINITION, prefix="hist")
        rows = self.seed(self.sid, 15, random.Random(5), day0=21, customer=customer)
        rows += self.seed(other, 15, random.Random(6), day0=21, customer=customer)
        self.model.extend(rows[:15])
        for query in ("refund", "late OR \"money back\"", "cafe"):
            want = newest_first([r for r in rows if matches(query, r["answers"])])
            got, got_rows = self.page_all("/v1/customers/%s/responses" % customer, limit=4, q=query)
            self.assertEqual(got, want, query)
            for row in got_rows:
                self.assertTrue(row["snippets"], row)
        got, _ = self.page_all("/v1/customers/%s/responses" % customer, limit=4, q="refund", sort="relevance")
        self.assertEqual(set(got), {r["id"] for r in rows if matches("refund", r["answers"])})

    def test_bad_queries_say_where(self):
        for query, code, position in (("(refund", "invalid_query", 0), ('refund "money', "invalid_query", 7),
                                      ("refund OR", "invalid_query", None), ("NOT paypal", "invalid_query", None),
                                      (" ".join("w%d" % i for i in range(40)), "query_too_complex", None),
                                      ("x" * 600, "query_too_complex", None)):
            with self.subTest(q=query[:40]):
                r = self.req("GET", self.path() + "?" + qs(q=query), token=READ_TOKEN)
                j = self.assertProblem(r, 422, code)
                self.assertEqual(j["parameter"], "q")
                self.assertIsInstance(j["position"], int)
                if position is not None:
                    self.assertEqual(j["position"], position)
        self.assertValidation(self.req("GET", self.path() + "?sort=relevance", token=READ_TOKEN), "sort")
        self.assertValidation(self.req("GET", self.path() + "?q=refund&sort=best", token=READ_TOKEN), "sort")
        self.assertValidation(self.req("GET", self.path() + "?q=%01refund", token=READ_TOKEN), "q")
        first = self.req("GET", self.path() + "?q=refund&sort=relevance&limit=2", token=READ_TOKEN).json
        r = self.req("GET", self.path() + "?" + qs(q="refund", cursor=first["next_cursor"]), token=READ_TOKEN)
        self.assertValidation(r, "cursor")
        newest = self.req("GET", self.path() + "?q=refund&limit=2", token=READ_TOKEN).json
        r = self.req("GET", self.path() + "?" + qs(q="refund", sort="relevance", cursor=newest["next_cursor"]),
                     token=READ_TOKEN)
        self.assertValidation(r, "cursor")

    def test_index_follows_edits_deletions_erasure_and_survey_deletion(self):
        sid = self.new_survey(DEFINITION, prefix="changes")
        customer = uid("erased")
        a = self.post_ok(sid, {"answers": {"why": "kumquat arrived"}}).json
        b = self.post_ok(sid, {"answers": {"why": "kumquat again", "via": {"other": "rambutan"}}}).json
        c = self.post_ok(sid, {"answers": {"why": "kumquat from them"}, "customer": customer}).json
        found = lambda q: {x["id"] for x in self.req("GET", self.path(sid) + "?" + qs(q=q),
                                                    token=READ_TOKEN).json["responses"]}
        self.assertEqual(found("kumquat"), {a["id"], b["id"], c["id"]})
        self.assertEqual(found("rambutan"), {b["id"]})
        # A follow-up replaces the comment: the old words go, the new ones are found.
        r = self.req("PATCH", "/v1/responses/" + a["id"], {"answers": {"why": "durian now"}}, token=INGEST_TOKEN)
        self.assertEqual(r.status, 200, r.body[:300])
        self.assertEqual(found("kumquat"), {b["id"], c["id"]})
        self.assertEqual(found("durian"), {a["id"]})
        self.assertEqual(self.req("DELETE", "/v1/responses/" + b["id"], token=ADMIN_TOKEN).status, 204)
        self.assertEqual(found("rambutan"), set())
        r = self.req("DELETE", "/v1/customers/" + customer, token=ADMIN_TOKEN)
        self.assertEqual(r.status, 200, r.body[:300])
        self.assertEqual(found("kumquat"), set())
        # A survey deleted and made again starts with an empty index.
        self.assertEqual(self.req("DELETE", "/v1/surveys/" + sid, token=ADMIN_TOKEN).status, 204)
        self.put_survey(sid, DEFINITION)
        self.assertEqual(found("durian"), set())
        self.post_ok(sid, {"answers": {"why": "durian once more"}})
        self.assertEqual(len(found("durian")), 1)


class SearchWalkPlanTests(SearchTests):
    """The same, with the index never driving a newest-first listing: each survey row checked."""
    daemon_env = {"SURVEYD_SEARCH_DRIVE_MAX": "1"}


class RelevanceWindowTests(SearchBase):
    """sort=relevance ranks the newest N matches only (10 000; 3 here, through the test knob)."""
    daemon_env = {"SURVEYD_SEARCH_RELEVANCE_WINDOW": "3"}

    def test_only_the_newest_matches_are_ranked(self):
        sid = self.new_survey(DEFINITION, prefix="window")
        ids = {}
        # The densest answer is the oldest: outside a window of the newest three matches.
        for day, text in ((1, "refund refund refund"), (2, "refund and more words here"),
                          (3, "a refund, with many other words besides it"), (4, "refund once in a long answer too")):
            ids[day] = self.post_ok(sid, {"answers": {"why": text},
                                          "submitted_at": "2026-10-%02dT00:00:00Z" % day}).json["id"]
        got, _ = self.page_all("/v1/surveys/%s/responses" % sid, q="refund", sort="relevance")
        self.assertEqual(set(got), {ids[2], ids[3], ids[4]})
        self.assertEqual(got[0], ids[2])  # the shortest of the three ranks first
        # A window (from) that leaves the newest out brings the oldest in.
        got, _ = self.page_all("/v1/surveys/%s/responses" % sid, q="refund", sort="relevance", to="2026-10-04")
        self.assertEqual(got[0], ids[1])
        self.assertEqual(set(got), {ids[1], ids[2], ids[3]})


@skip_unless_sqlite("the back-fill of schema 012 is SQLite's migration")
class BackfillTests(SearchBase):

    def test_a_database_from_before_the_index_is_back_filled(self):
        sid = self.new_survey(DEFINITION, prefix="backfill")
        rng = random.Random(1)
        model = self.seed(sid, 60, rng)
        self.daemon.stop()
        for sql in TEXT_INDEX_DOWNGRADE + ("PRAGMA user_version = 11",):
            sqlite_execute(self.daemon.db_path, sql)
        self.daemon.start()
        for query in ("refund", "deliv* NOT late", "creme OR \"money back\""):
            want = newest_first([r for r in model if matches(query, r["answers"])])
            got, _ = self.page_all("/v1/surveys/%s/responses" % sid, q=query)
            self.assertEqual(got, want, query)


    def test_verify_finds_a_document_missing_from_the_index(self):
        sid = self.new_survey(DEFINITION, prefix="verify")
        self.seed(sid, 20, random.Random(2))
        self.daemon.stop()
        p = run_cli(["verify", "--data-dir", self.daemon.data_dir], timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        sqlite_execute(self.daemon.db_path,
                       "INSERT INTO response_text_index (response_text_index, rowid, body)"
                       " SELECT 'delete', seq, body FROM response_documents WHERE body IS NOT NULL"
                       " ORDER BY seq DESC LIMIT 2")
        p = run_cli(["verify", "--data-dir", self.daemon.data_dir], timeout=60)
        out = (p.stdout + p.stderr).decode("utf-8", "replace")
        self.assertEqual(p.returncode, 1, out)
        # Each of the two is reported, not just the first found.
        self.assertEqual(len(re.findall(r"text index: response seq \d+ has text but is not indexed", out)), 2, out)
        self.daemon.start()


class StemmingTests(SearchBase):
    """--text-language english: forms of a word find each other (Snowball's English stems, known
    here as the words' stems, not computed by surveyd), are highlighted, and the index follows the
    language when a store is opened with another."""
    daemon_env = {"SURVEYD_TEXT_LANGUAGE": "english"}

    def found(self, sid, q):
        r = self.req("GET", "/v1/surveys/%s/responses?%s" % (sid, qs(q=q)), token=READ_TOKEN)
        self.assertEqual(r.status, 200, r.body[:300])
        return {x["answers"]["why"]: [s["text"][m["start"]:m["start"] + m["length"]]
                                      for s in x["snippets"] for m in s["matches"]]
                for x in r.json["responses"]}

    def test_word_forms_and_the_language_switch(self):
        sid = self.new_survey(DEFINITION, prefix="stem")
        for text in ("I was refunded twice", "Refunding took weeks", "the refund", "a refuge", "deliveries late again"):
            self.post_ok(sid, {"answers": {"why": text}})
        self.assertEqual(self.found(sid, "refunds"), {"I was refunded twice": ["refunded"],
                                                      "Refunding took weeks": ["Refunding"],
                                                      "the refund": ["refund"]})
        self.assertEqual(self.found(sid, '"delivery lates"'), {"deliveries late again": ["deliveries late"]})
        self.assertEqual(set(self.found(sid, "refu*")), {"I was refunded twice", "Refunding took weeks",
                                                         "the refund", "a refuge"})
        # The same store without stemming: re-indexed at start, exact forms only.
        self.daemon.stop()
        self.daemon.env_overrides["SURVEYD_TEXT_LANGUAGE"] = "none"
        self.daemon.start()
        self.assertIn("re-indexing the text answers for --text-language none", self.daemon.stderr_text())
        self.assertEqual(self.found(sid, "refunds"), {})
        self.assertEqual(self.found(sid, "refunded"), {"I was refunded twice": ["refunded"]})
        self.daemon.stop()
        p = run_cli(["verify", "--data-dir", self.daemon.data_dir], timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.daemon.env_overrides["SURVEYD_TEXT_LANGUAGE"] = "english"
        self.daemon.start()
        self.assertEqual(len(self.found(sid, "refunds")), 3)

    def test_a_bad_language_fails_start_up(self):
        p = run_cli(["serve", "--listen", "127.0.0.1:0", "--data-dir", self.daemon.data_dir + "-lang",
                     "--text-language", "klingon"])
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"--text-language must be none or english", p.stderr)


@skip_unless_postgres("the build of the index at open and verify's check are PostgreSQL's (postgres_text.c)")
class PostgresIndexTests(SearchBase):

    def test_a_database_from_before_the_index_is_built_at_open(self):
        sid = self.new_survey(DEFINITION, prefix="pgbuild")
        model = self.seed(sid, 60, random.Random(1))
        self.daemon.stop()
        for sql in PG_TEXT_INDEX_DOWNGRADE + ("UPDATE schema_version SET version = 6",):
            db_execute(self.daemon, sql)
        self.daemon.start()
        self.assertIn("building the text index (--text-language none)", self.daemon.stderr_text())
        for query in ("refund", "deliv* NOT late", "creme OR \"money back\""):
            want = newest_first([r for r in model if matches(query, r["answers"])])
            got, _ = self.page_all("/v1/surveys/%s/responses" % sid, q=query)
            self.assertEqual(got, want, query)
        # Every response with a token has its row, and only those.
        with_text = sum(1 for r in model if tokens(document(r["answers"])))
        self.assertEqual(db_query(self.daemon, "SELECT count(*) FROM text_answers"), [(with_text,)])

    def test_verify_finds_missing_wrong_and_extra_rows(self):
        sid = self.new_survey(DEFINITION, prefix="pgverify")
        self.seed(sid, 20, random.Random(2))
        self.post_ok(sid, {"answers": {"nps": 3}})  # no text: no row
        self.daemon.stop()
        p = run_cli(["verify", "--data-dir", self.daemon.data_dir], timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        db_execute(self.daemon, "DELETE FROM text_answers WHERE seq IN"
                                " (SELECT seq FROM text_answers ORDER BY seq DESC LIMIT 2)")
        db_execute(self.daemon, "UPDATE text_answers SET tsv = 'tampered:1'::tsvector WHERE seq ="
                                " (SELECT min(seq) FROM text_answers)")
        db_execute(self.daemon, "INSERT INTO text_answers (seq, tsv) SELECT seq, 'extra:1'::tsvector"
                                " FROM responses WHERE answers = '{\"nps\":3}'")
        p = run_cli(["verify", "--data-dir", self.daemon.data_dir], timeout=60)
        out = (p.stdout + p.stderr).decode("utf-8", "replace")
        self.assertEqual(p.returncode, 1, out)
        self.assertEqual(len(re.findall(r"text index: response seq \d+ has text but is not indexed", out)), 2, out)
        self.assertEqual(len(re.findall(r"text index: response seq \d+ is indexed with other words", out)), 1, out)
        self.assertEqual(len(re.findall(r"text index: response seq \d+ has no text but is indexed", out)), 1, out)
        self.daemon.start()


if __name__ == "__main__":
    unittest.main()
