"""Response listing: GET /v1/surveys/{survey}/responses with filters,
newest-first order, limits and keyset cursors (stable while new responses
arrive; malformed cursors are 422, never a 5xx)."""

import base64
import datetime
import random
import re
import unittest
import urllib.parse

from harness import (ADMIN_TOKEN, INGEST_TOKEN, READ_TOKEN, BaseAPITest,
                     run_threads, simple_definition, uid)

UTC = datetime.timezone.utc
MS_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
RESPONSE_KEYS = {"id", "survey", "answers", "channel", "customer", "agent",
                 "interaction", "properties", "submitted_at", "received_at"}


def ms_time(dt):
    """RFC 3339 UTC with milliseconds, as the server writes times."""
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)


def qs(**params):
    return urllib.parse.urlencode(params, quote_via=urllib.parse.quote)


def b64u(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64u_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def expected_order(rows):
    """Newest first by submitted_at, ties by id descending."""
    return [r["id"] for r in sorted(rows, key=lambda r: (r["submitted_at"], r["id"]),
                                    reverse=True)]


class ListingBase(BaseAPITest):

    def list_path(self, sid, **params):
        path = "/v1/surveys/%s/responses" % sid
        return path + ("?" + qs(**params) if params else "")

    def list_ok(self, sid, token=READ_TOKEN, **params):
        r = self.req("GET", self.list_path(sid, **params), token=token)
        self.assertEqual(r.status, 200, "%s -> %d %r" % (params, r.status, r.body[:500]))
        ctype = (r.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        self.assertEqual(ctype, "application/json")
        j = r.json
        self.assertIsInstance(j, dict, r.body[:300])
        self.assertEqual(set(j), {"responses", "next_cursor"}, j.keys())
        self.assertIsInstance(j["responses"], list)
        if j["next_cursor"] is not None:
            self.assertIsInstance(j["next_cursor"], str)
            self.assertTrue(j["next_cursor"])
        for item in j["responses"]:
            self.assertEqual(set(item), RESPONSE_KEYS, item)
            self.assertEqual(item["survey"], sid)
            self.assertRegex(item["submitted_at"], MS_TIME_RE)
            self.assertRegex(item["received_at"], MS_TIME_RE)
        return j

    def page_all(self, sid, limit, **params):
        """Follow next_cursor to the end; returns (ids, number of pages)."""
        ids, pages, cursor = [], 0, None
        while True:
            p = dict(params, limit=str(limit))
            if cursor is not None:
                p["cursor"] = cursor
            j = self.list_ok(sid, **p)
            pages += 1
            self.assertLessEqual(len(j["responses"]), limit)
            ids.extend(x["id"] for x in j["responses"])
            cursor = j["next_cursor"]
            if cursor is None:
                break
            # A page that offers a next page is full.
            self.assertEqual(len(j["responses"]), limit, "short page with a next_cursor")
            self.assertLess(pages, 1000, "pagination does not terminate")
        return ids, pages

    def post_rows(self, sid, bodies, threads=1):
        """POST each body; returns the rows as the model expects them."""
        def one(body):
            r = self.post_ok(sid, body)
            row = {"id": r.json["id"], "survey": sid, "answers": body["answers"],
                   "received_at": r.json["received_at"]}
            for k in ("channel", "customer", "agent", "interaction", "properties"):
                row[k] = body.get(k)
            row["submitted_at"] = r.json["submitted_at"]
            return row
        if threads == 1:
            return [one(b) for b in bodies]
        out = [None] * len(bodies)

        def worker(t):
            for i in range(t, len(bodies), threads):
                out[i] = one(bodies[i])
        run_threads(threads, worker)
        return out


class ListingTests(ListingBase):
    """One survey with a fixed data set; every test only reads it."""

    BASE = datetime.datetime(2025, 6, 1, 0, 0, tzinfo=UTC)
    CHANNELS = ["web", "email", "chat", None]
    AGENTS = ["agent-a", "agent-b", "agent-A", None]
    CUSTOMERS = ["cust-1", "cust-10", "Cust-1", "cust 2 \u00e9", None]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sid = uid("list")
        r = cls.daemon.req("PUT", "/v1/surveys/" + cls.sid, {
            "title": "listing",
            "questions": [{"id": "nps", "type": "nps"}, {"id": "comment", "type": "text"}],
        }, token=ADMIN_TOKEN)
        assert r.status == 201, r
        times = [cls.BASE + datetime.timedelta(minutes=47 * i) for i in range(40)]
        times += [cls.BASE + datetime.timedelta(hours=10)] * 6          # a six-way tie
        times += [datetime.datetime(2025, 6, 2, tzinfo=UTC),             # midnight exactly
                  datetime.datetime(2025, 6, 1, 23, 59, 59, 999000, tzinfo=UTC)]
        cls.rows = []
        for i, t in enumerate(times):
            body = {"answers": {"nps": i % 11, "comment": "row %d" % i},
                    "submitted_at": ms_time(t)}
            for key, values in (("channel", cls.CHANNELS), ("agent", cls.AGENTS),
                                ("customer", cls.CUSTOMERS)):
                v = values[i % len(values)]
                if v is not None:
                    body[key] = v
            if i % 2 == 0:
                body["interaction"] = "ticket-%d" % i
            if i % 3 == 0:
                body["properties"] = {"plan": "p%d" % (i % 2)}
            r = cls.daemon.req("POST", "/v1/surveys/%s/responses" % cls.sid, body,
                               token=INGEST_TOKEN)
            assert r.status == 201, (r.status, r.body)
            row = {"id": r.json["id"], "submitted_at": ms_time(t), "channel": body.get("channel"),
                   "agent": body.get("agent"), "customer": body.get("customer"),
                   "interaction": body.get("interaction")}
            cls.rows.append(row)
        # An unrelated survey's responses must never show up.
        cls.other = uid("list-other")
        r = cls.daemon.req("PUT", "/v1/surveys/" + cls.other, simple_definition(),
                           token=ADMIN_TOKEN)
        assert r.status == 201, r
        for i in range(5):
            r = cls.daemon.req("POST", "/v1/surveys/%s/responses" % cls.other,
                               {"answers": {"nps": 1}, "channel": "web", "customer": "cust-1",
                                "submitted_at": ms_time(cls.BASE + datetime.timedelta(hours=i))},
                               token=INGEST_TOKEN)
            assert r.status == 201, r

    def expect(self, pred=lambda r: True):
        return expected_order([r for r in self.rows if pred(r)])

    def test_all_rows_newest_first_with_full_shape(self):
        j = self.list_ok(self.sid)
        self.assertIsNone(j["next_cursor"])
        got = [x["id"] for x in j["responses"]]
        self.assertEqual(got, self.expect())
        # Every listed item is exactly what GET /v1/responses/{id} returns.
        for item in j["responses"]:
            g = self.get_response(item["id"])
            self.assertEqual(g.status, 200)
            self.assertEqual(item, g.json)
        by_id = {r["id"]: r for r in self.rows}
        for item in j["responses"]:
            self.assertEqual(item["submitted_at"], by_id[item["id"]]["submitted_at"])

    def test_ties_ordered_by_id_descending(self):
        tie = ms_time(self.BASE + datetime.timedelta(hours=10))
        tied = sorted((r["id"] for r in self.rows if r["submitted_at"] == tie), reverse=True)
        self.assertGreaterEqual(len(tied), 6)
        got = [x["id"] for x in self.list_ok(self.sid)["responses"]
               if x["submitted_at"] == tie]
        self.assertEqual(got, tied)
        # Paging two at a time puts cursors inside the tie group: still exact.
        ids, _ = self.page_all(self.sid, 2, **{"from": tie,
                                               "to": ms_time(self.BASE + datetime.timedelta(
                                                   hours=10, milliseconds=1))})
        self.assertEqual(ids, tied)

    def test_read_and_admin_tokens(self):
        a = self.list_ok(self.sid, token=READ_TOKEN)
        b = self.list_ok(self.sid, token=ADMIN_TOKEN)
        self.assertEqual(a, b)

    def test_auth_errors(self):
        path = self.list_path(self.sid)
        self.assertProblem(self.req("GET", path, token=INGEST_TOKEN), 403, "forbidden")
        self.assertProblem(self.req("GET", path), 401, "unauthorized")
        self.assertProblem(self.req("GET", path, token="not-a-token"), 401, "unauthorized")

    def test_unknown_survey_404(self):
        for sid in (uid("missing"), "NOT-A-VALID-ID!"):
            with self.subTest(sid=sid):
                r = self.req("GET", "/v1/surveys/%s/responses" % urllib.parse.quote(sid),
                             token=READ_TOKEN)
                self.assertProblem(r, 404, "survey_not_found")

    def test_empty_survey(self):
        sid = self.new_survey(prefix="empty")
        j = self.list_ok(sid)
        self.assertEqual(j, {"responses": [], "next_cursor": None})

    # -- filters -----------------------------------------------------------

    def test_from_to_dates(self):
        d1 = "2025-06-01T00:00:00.000Z"
        d2 = "2025-06-02T00:00:00.000Z"
        cases = [
            ({"from": "2025-06-02"}, lambda r: r["submitted_at"] >= d2),
            ({"to": "2025-06-02"}, lambda r: r["submitted_at"] < d2),
            ({"from": "2025-06-01", "to": "2025-06-02"}, lambda r: d1 <= r["submitted_at"] < d2),
            ({"from": "2025-06-03"}, lambda r: False),
            ({"to": "2025-06-01"}, lambda r: False),
        ]
        for params, pred in cases:
            with self.subTest(params=params):
                exp = self.expect(pred)
                got = [x["id"] for x in self.list_ok(self.sid, **params)["responses"]]
                self.assertEqual(got, exp)
        # The boundary rows really are on either side of midnight.
        got = [x["submitted_at"] for x in
               self.list_ok(self.sid, **{"to": "2025-06-02"})["responses"]]
        self.assertIn("2025-06-01T23:59:59.999Z", got)
        self.assertNotIn("2025-06-02T00:00:00.000Z", got)
        got = [x["submitted_at"] for x in
               self.list_ok(self.sid, **{"from": "2025-06-02"})["responses"]]
        self.assertIn("2025-06-02T00:00:00.000Z", got)

    def test_from_to_datetimes_half_open(self):
        rows = sorted(self.rows, key=lambda r: (r["submitted_at"], r["id"]))
        lo, hi = rows[5]["submitted_at"], rows[20]["submitted_at"]
        exp = self.expect(lambda r: lo <= r["submitted_at"] < hi)
        got = [x["id"] for x in self.list_ok(self.sid, **{"from": lo, "to": hi})["responses"]]
        self.assertEqual(got, exp)
        # The same instant written with an offset.
        lo_dt = datetime.datetime.fromisoformat(lo.replace("Z", "+00:00"))
        lo_plus2 = lo_dt.astimezone(datetime.timezone(datetime.timedelta(hours=2)))
        lo_text = lo_plus2.strftime("%Y-%m-%dT%H:%M:%S") + ".%03d+02:00" % (
            lo_plus2.microsecond // 1000)
        got2 = [x["id"] for x in
                self.list_ok(self.sid, **{"from": lo_text, "to": hi})["responses"]]
        self.assertEqual(got2, exp)

    def test_exact_match_filters(self):
        cases = []
        for ch in ("web", "email", "chat"):
            cases.append(({"channel": ch}, lambda r, ch=ch: r["channel"] == ch))
        for ag in ("agent-a", "agent-A", "agent-b"):
            cases.append(({"agent": ag}, lambda r, ag=ag: r["agent"] == ag))
        for cu in ("cust-1", "cust-10", "Cust-1", "cust 2 \u00e9", "cust"):
            cases.append(({"customer": cu}, lambda r, cu=cu: r["customer"] == cu))
        cases.append(({"interaction": "ticket-4"}, lambda r: r["interaction"] == "ticket-4"))
        cases.append(({"interaction": "ticket-1"}, lambda r: False))  # odd rows have none
        cases.append(({"interaction": "ticket"}, lambda r: False))
        cases.append(({"channel": "web", "agent": "agent-a"},
                      lambda r: r["channel"] == "web" and r["agent"] == "agent-a"))
        cases.append(({"channel": "email", "customer": "cust-10", "from": "2025-06-01T12:00:00Z"},
                      lambda r: r["channel"] == "email" and r["customer"] == "cust-10"
                      and r["submitted_at"] >= "2025-06-01T12:00:00.000Z"))
        cases.append(({"channel": "sms"}, lambda r: False))
        for params, pred in cases:
            with self.subTest(params=params):
                exp = self.expect(pred)
                got = [x["id"] for x in self.list_ok(self.sid, **params)["responses"]]
                self.assertEqual(got, exp)
        # Sanity: the filters above are not trivially empty.
        self.assertGreater(len(self.expect(lambda r: r["customer"] == "cust-1")), 3)
        self.assertEqual(len(self.expect(lambda r: r["interaction"] == "ticket-4")), 1)

    def test_bad_filter_values(self):
        for params, field in (({"from": "yesterday"}, "from"),
                              ({"to": "2025-13-01"}, "to"),
                              ({"from": "2025-06-02", "to": "2025-06-01"}, "to"),
                              ({"channel": "Not A Channel"}, "channel")):
            with self.subTest(params=params):
                r = self.req("GET", self.list_path(self.sid, **params), token=READ_TOKEN)
                self.assertValidation(r, field)

    # -- limit -------------------------------------------------------------

    def test_limit(self):
        exp = self.expect()
        for n in (1, 5, len(exp) - 1, len(exp), len(exp) + 1, 1000):
            with self.subTest(limit=n):
                j = self.list_ok(self.sid, limit=str(n))
                self.assertEqual([x["id"] for x in j["responses"]], exp[:n])
                if n < len(exp):
                    self.assertIsNotNone(j["next_cursor"])
                else:
                    if j["next_cursor"] is not None:  # allowed only if the next page is empty
                        k = self.list_ok(self.sid, limit=str(n), cursor=j["next_cursor"])
                        self.assertEqual(k, {"responses": [], "next_cursor": None})

    def test_bad_limit_422(self):
        for bad in ("0", "1001", "abc", "-1", "", "1.5", "1e2", "0x10", " 5",
                    "99999999999999999999", "10000"):
            with self.subTest(limit=bad):
                r = self.req("GET", self.list_path(self.sid) + "?limit=" +
                             urllib.parse.quote(bad), token=READ_TOKEN)
                self.assertValidation(r, "limit")

    def test_unknown_query_parameter_422(self):
        for params, name in (({"foo": "1"}, "foo"),
                             ({"limit": "5", "sort": "asc"}, "sort"),
                             ({"group_by": "day"}, "group_by"),
                             ({"page": "2"}, "page"),
                             ({"Limit": "5"}, "Limit")):
            with self.subTest(params=params):
                r = self.req("GET", self.list_path(self.sid, **params), token=READ_TOKEN)
                self.assertValidation(r, name)

    # -- cursors -----------------------------------------------------------

    def test_paging_limit7_every_row_once_in_order(self):
        exp = self.expect()
        self.assertNotEqual(len(exp) % 7, 0)
        ids, pages = self.page_all(self.sid, 7)
        self.assertEqual(ids, exp)
        self.assertEqual(len(ids), len(set(ids)))
        self.assertGreaterEqual(pages, len(exp) // 7 + 1)

    def test_paging_every_limit_small(self):
        exp = self.expect()
        for limit in (1, 3, 6, 24):
            with self.subTest(limit=limit):
                ids, _ = self.page_all(self.sid, limit)
                self.assertEqual(ids, exp)

    def test_paging_with_filters(self):
        cases = [({"channel": "web"}, lambda r: r["channel"] == "web"),
                 ({"customer": "cust-1"}, lambda r: r["customer"] == "cust-1"),
                 ({"from": "2025-06-01T05:00:00Z", "to": "2025-06-01T20:00:00Z"},
                  lambda r: "2025-06-01T05:00:00.000Z" <= r["submitted_at"]
                  < "2025-06-01T20:00:00.000Z")]
        for params, pred in cases:
            with self.subTest(params=params):
                exp = self.expect(pred)
                self.assertGreater(len(exp), 3)
                ids, _ = self.page_all(self.sid, 3, **params)
                self.assertEqual(ids, exp)

    def _real_cursor(self):
        j = self.list_ok(self.sid, limit="5")
        self.assertIsNotNone(j["next_cursor"])
        return j["next_cursor"], j["responses"][-1]

    def assertBadCursor(self, cursor):
        r = self.req("GET", self.list_path(self.sid) + "?cursor=" +
                     urllib.parse.quote(cursor, safe=""), token=READ_TOKEN)
        self.assertLess(r.status, 500, "cursor %r -> %d %r" % (cursor, r.status, r.body[:300]))
        self.assertValidation(r, "cursor")

    def test_malformed_cursors_422(self):
        cursor, _ = self._real_cursor()
        rnd = random.Random(1234)
        bad = ["hello", "!!!", "not a cursor", "null", "0", "-1", "A" * 500, "....",
               "%s!" % cursor, cursor + "=", "=" + cursor, cursor[::-1] + "x",
               # truncated
               cursor[:-1], cursor[:-2], cursor[:-3], cursor[:len(cursor) // 2], cursor[:2],
               # base64 of garbage
               b64u(b"\xff\xfe\xfd\x00garbage"), b64u(b"hello world"),
               b64u(bytes(rnd.randrange(256) for _ in range(30))),
               b64u(bytes(rnd.randrange(256) for _ in range(45))),
               base64.b64encode(b"\xfb\xff\xbf garbage++//").decode(),
               b64u(b"1748736000000."), b64u(b".abcdefghijklmnopqrstuvwxyz"),
               b64u(b"abc.abcdefghijklmnopqrstuvwxyz"),
               b64u(b"-5.abcdefghijklmnopqrstuvwxyz"),
               b64u(b"99999999999999999999999.abcdefghijklmnopqrstuvwxyz"),
               b64u(b'{"ms": 1, "id": "x"}')]
        for c in bad:
            with self.subTest(cursor=c):
                self.assertBadCursor(c)

    def test_cursor_with_tampered_id_422(self):
        cursor, last = self._real_cursor()
        try:
            raw = b64u_decode(cursor)
        except ValueError:
            raw = b""
        rid = last["id"].encode()
        variants = []
        if rid in raw:
            # The cursor carries the id: replace it with things that are not ids.
            for repl in (b"X" * len(rid), rid[:-1], rid + b"a", b"",
                         rid[:-1] + b"!", b"../../etc/passwd",
                         b"' OR 1=1 --", rid.upper(), rid + b"\x00"):
                variants.append(b64u(raw.replace(rid, repl)))
        # Opaque format (or in addition): flip the characters in the middle
        # into ones that are not base64url.
        mid = len(cursor) // 2
        variants.append(cursor[:mid] + "*" + cursor[mid + 1:])
        variants.append(cursor[:mid] + "\u00e9" + cursor[mid + 1:])
        for c in variants:
            with self.subTest(cursor=c):
                self.assertBadCursor(c)

    def test_cursor_with_well_formed_foreign_id_no_5xx(self):
        # Re-encoding the cursor with another well-formed id is not malformed
        # in shape; whatever the server decides, it must not fail with a 5xx
        # and a 200 must be a proper page.
        cursor, last = self._real_cursor()
        try:
            raw = b64u_decode(cursor)
        except ValueError:
            self.skipTest("cursor is opaque")
        rid = last["id"].encode()
        if rid not in raw:
            self.skipTest("cursor does not carry the id in clear")
        other = self.rows[0]["id"].encode()
        r = self.req("GET", self.list_path(self.sid, cursor=b64u(raw.replace(rid, other))),
                     token=READ_TOKEN)
        self.assertIn(r.status, (200, 422), r.body[:300])
        if r.status == 422:
            self.assertValidation(r, "cursor")
        else:
            self.assertIn("responses", r.json)


class DefaultLimitTests(ListingBase):

    def test_default_limit_is_100(self):
        sid = self.new_survey(prefix="deflimit")
        base = datetime.datetime(2024, 3, 1, tzinfo=UTC)
        rows = self.post_rows(sid, [
            {"answers": {"nps": i % 11},
             "submitted_at": ms_time(base + datetime.timedelta(minutes=i))}
            for i in range(105)], threads=4)
        exp = expected_order(rows)
        j = self.list_ok(sid)
        self.assertEqual([x["id"] for x in j["responses"]], exp[:100])
        self.assertIsNotNone(j["next_cursor"])
        k = self.list_ok(sid, cursor=j["next_cursor"])
        self.assertEqual([x["id"] for x in k["responses"]], exp[100:])
        self.assertIsNone(k["next_cursor"])
        self.assertEqual([x["id"] for x in self.list_ok(sid, limit="1000")["responses"]], exp)


class KeysetStabilityTests(ListingBase):

    BASE = datetime.datetime(2025, 1, 10, 8, 0, tzinfo=UTC)

    def make(self, sid, n, start_minutes, ties=False):
        bodies = []
        for i in range(n):
            minutes = start_minutes + (i // 3 if ties else i) * 5
            bodies.append({"answers": {"nps": i % 11},
                           "channel": "web" if i % 2 else "chat",
                           "submitted_at": ms_time(self.BASE + datetime.timedelta(minutes=minutes))})
        return self.post_rows(sid, bodies)

    def test_newer_inserts_between_pages_neither_duplicate_nor_skip(self):
        sid = self.new_survey(prefix="keyset")
        original = self.make(sid, 20, 0, ties=True)
        exp = expected_order(original)
        p1 = self.list_ok(sid, limit="6")
        got = [x["id"] for x in p1["responses"]]
        self.assertEqual(got, exp[:6])
        # Ten responses newer than all of the originals arrive now.
        newer = self.make(sid, 10, 24 * 60)
        # The new rows are really there and come first in a fresh listing.
        fresh = [x["id"] for x in self.list_ok(sid, limit="10")["responses"]]
        self.assertEqual(fresh, expected_order(newer))
        cursor = p1["next_cursor"]
        while cursor is not None:
            j = self.list_ok(sid, limit="6", cursor=cursor)
            got.extend(x["id"] for x in j["responses"])
            cursor = j["next_cursor"]
        self.assertEqual(got, exp)
        self.assertEqual(len(got), len(set(got)))

    def test_newer_inserts_before_every_page(self):
        sid = self.new_survey(prefix="keyset2")
        original = self.make(sid, 25, 0)
        exp = expected_order(original)
        got, cursor, minute = [], None, 10 * 24 * 60
        while True:
            p = {"limit": "4"}
            if cursor:
                p["cursor"] = cursor
            j = self.list_ok(sid, **p)
            got.extend(x["id"] for x in j["responses"])
            cursor = j["next_cursor"]
            if cursor is None:
                break
            self.make(sid, 3, minute)
            minute += 60
        self.assertEqual(got, exp)
        total = self.list_ok(sid, limit="1000")["responses"]
        self.assertGreater(len(total), len(exp))

    def test_filtered_paging_with_newer_inserts(self):
        sid = self.new_survey(prefix="keyset3")
        original = self.make(sid, 18, 0)
        exp = expected_order([r for r in original if r["channel"] == "web"])
        p1 = self.list_ok(sid, limit="4", channel="web")
        got = [x["id"] for x in p1["responses"]]
        self.make(sid, 6, 5000)
        cursor = p1["next_cursor"]
        while cursor is not None:
            j = self.list_ok(sid, limit="4", channel="web", cursor=cursor)
            got.extend(x["id"] for x in j["responses"])
            cursor = j["next_cursor"]
        self.assertEqual(got, exp)


if __name__ == "__main__":
    unittest.main()
