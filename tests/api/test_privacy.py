"""Privacy and data lifecycle: deleting one response, a customer's history
with its per-survey summary, erasing a customer everywhere (including the
bytes of the database files, live and after stop, and their idempotency
records), and --retention-days."""

import datetime
import http.client
import json
import os
import socket
import threading
import time
import unittest
import urllib.parse

import harness
from harness import (ADMIN_TOKEN, INGEST_TOKEN, READ_TOKEN, BaseAPITest, Daemon,
                     run_cli, run_threads, simple_definition, uid, utc_now)
from test_invitation_metrics import insert_invitation

UTC = datetime.timezone.utc
HISTORY_KEYS = {"customer", "responses", "next_cursor", "summary"}


def ms_time(dt):
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)


def verify(data_dir):
    p = run_cli(["verify", "--data-dir", data_dir], timeout=60)
    return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")


def customer_path(customer):
    return "/v1/customers/%s" % urllib.parse.quote(customer, safe="")


def db_files(daemon):
    """{name: bytes} of surveyd.db and surveyd.db-wal (when present). On PostgreSQL, whose files
    belong to the server, what a search can still reach there: a pg_dump of the daemon's database
    (no erased row may remain; what the server's files, WAL and backups keep is the operator's, see
    docs/SECURITY.md)."""
    if harness.is_postgres():
        return {"pg_dump": harness.db_dump(daemon).encode("utf-8")}
    out = {}
    for name in ("surveyd.db", "surveyd.db-wal"):
        path = os.path.join(daemon.data_dir, name)
        if os.path.exists(path):
            with open(path, "rb") as f:
                out[name] = f.read()
    return out


def found_in(files, needle):
    needle = needle.encode("utf-8")
    return sorted(name for name, data in files.items() if needle in data)


def where(files, needle, page_size=4096):
    """Where needle occurs, for failure messages: file@offset (page n)."""
    needle = needle.encode("utf-8")
    out = []
    for name, data in sorted(files.items()):
        i = data.find(needle)
        while i >= 0 and len(out) < 10:
            out.append("%s@%d (page %d)" % (name, i, i // page_size + 1))
            i = data.find(needle, i + 1)
    return ", ".join(out) or "nowhere"


class PrivacyBase(BaseAPITest):

    def metrics(self, sid, daemon=None):
        r = (daemon or self.daemon).req("GET", "/v1/surveys/%s/metrics" % sid, token=READ_TOKEN)
        self.assertEqual(r.status, 200, r.body[:500])
        return r.json

    def history(self, customer, token=READ_TOKEN, **params):
        path = customer_path(customer) + "/responses"
        if params:
            path += "?" + urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
        return self.req("GET", path, token=token)

    def history_ok(self, customer, **params):
        r = self.history(customer, **params)
        self.assertEqual(r.status, 200, r.body[:500])
        self.assertEqual(set(r.json), HISTORY_KEYS, r.json.keys())
        self.assertEqual(r.json["customer"], customer)
        return r.json


# --------------------------------------------------------------------------
# DELETE /v1/responses/{id}
# --------------------------------------------------------------------------

class DeleteResponseTests(PrivacyBase):

    def test_delete_requires_admin(self):
        sid = self.new_survey(prefix="del-auth")
        rid = self.post_ok(sid, {"answers": {"nps": 5}}).json["id"]
        path = "/v1/responses/" + rid
        self.assertProblem(self.req("DELETE", path, token=READ_TOKEN), 403, "forbidden")
        self.assertProblem(self.req("DELETE", path, token=INGEST_TOKEN), 403, "forbidden")
        self.assertProblem(self.req("DELETE", path), 401, "unauthorized")
        self.assertProblem(self.req("DELETE", path, token="bogus"), 401, "unauthorized")
        self.assertEqual(self.get_response(rid).status, 200)

    def test_delete_lifecycle(self):
        sid = self.new_survey(prefix="del")
        cust = uid("del-cust")
        keep = self.post_ok(sid, {"answers": {"nps": 0}, "customer": cust,
                                  "submitted_at": "2025-01-01T10:00:00Z"}).json["id"]
        gone = self.post_ok(sid, {"answers": {"nps": 10, "comment": "bye"}, "customer": cust,
                                  "channel": "web",
                                  "submitted_at": "2025-01-02T10:00:00Z"}).json["id"]
        m = self.metrics(sid)
        nps = m["questions"]["nps"]
        self.assertEqual((m["responses"], nps["promoters"], nps["detractors"]), (2, 1, 1))
        mpath = "/v1/surveys/%s/metrics" % sid
        tag = self.req("GET", mpath, token=READ_TOKEN).headers.get("ETag")
        self.assertTrue(tag)
        self.assertEqual(self.req("GET", mpath, token=READ_TOKEN,
                                  headers={"If-None-Match": tag}).status, 304)
        r = self.req("DELETE", "/v1/responses/" + gone, token=ADMIN_TOKEN)
        self.assertEqual(r.status, 204, r.body)
        self.assertEqual(r.body, b"")
        self.assertEqual(self.req("GET", mpath, token=READ_TOKEN,
                                  headers={"If-None-Match": tag}).status, 200)
        self.assertProblem(self.req("DELETE", "/v1/responses/" + gone, token=ADMIN_TOKEN),
                           404, "not_found")
        self.assertProblem(self.get_response(gone), 404, "not_found")
        self.assertProblem(self.req("PATCH", "/v1/responses/" + gone,
                                    {"answers": {"nps": 1}}, token=INGEST_TOKEN),
                           404, "not_found")
        self.assertEqual(self.get_response(keep).status, 200)
        m = self.metrics(sid)
        nps = m["questions"]["nps"]
        self.assertEqual((m["responses"], nps["answered"], nps["promoters"], nps["detractors"]),
                         (1, 1, 0, 1))
        self.assertEqual(nps["distribution"][10], 0)
        self.assertEqual(m["questions"]["comment"]["answered"], 0)
        cm = self.req("GET", "/v1/surveys/%s/metrics?channel=web" % sid, token=READ_TOKEN).json
        self.assertEqual(cm["responses"], 0)
        listed = self.req("GET", "/v1/surveys/%s/responses" % sid, token=READ_TOKEN).json
        self.assertEqual([x["id"] for x in listed["responses"]], [keep])
        csv_body = self.req("GET", "/v1/surveys/%s/responses?format=csv" % sid,
                            token=READ_TOKEN).body
        self.assertNotIn(gone.encode(), csv_body)
        self.assertIn(keep.encode(), csv_body)
        h = self.history_ok(cust)
        self.assertEqual([x["id"] for x in h["responses"]], [keep])
        self.assertEqual(h["summary"][sid]["responses"], 1)
        self.assertEqual(h["summary"][sid]["nps"]["response"], keep)
        rc, out = verify(self.daemon.data_dir)
        self.assertEqual(rc, 0, out)

    def test_delete_unknown_404(self):
        for rid in ("a" * 26, "nope", "x" * 200):
            with self.subTest(rid=rid):
                self.assertProblem(self.req("DELETE", "/v1/responses/" + rid, token=ADMIN_TOKEN),
                                   404, "not_found")


# --------------------------------------------------------------------------
# GET /v1/customers/{customer}/responses
# --------------------------------------------------------------------------

class CustomerHistoryTests(PrivacyBase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        d = cls.daemon
        cls.A, cls.B, cls.C = uid("hist-a"), uid("hist-b"), uid("hist-c")
        defs = {
            cls.A: {"title": "A", "questions": [
                {"id": "rec", "type": "nps"}, {"id": "sat", "type": "csat"},
                {"id": "easy", "type": "ces"}, {"id": "comment", "type": "text"}]},
            cls.B: {"title": "B", "questions": [
                {"id": "n2", "type": "nps"}, {"id": "c10", "type": "csat", "scale": 10}]},
            cls.C: {"title": "C", "questions": [{"id": "txt", "type": "text"}]},
        }
        for sid, definition in defs.items():
            r = d.req("PUT", "/v1/surveys/" + sid, definition, token=ADMIN_TOKEN)
            assert r.status == 201, r
        cls.X = "Ana Mar\u00eda #%s & co?" % uid("h")   # needs percent-encoding
        t = {i: "2025-04-%02dT10:00:00.000Z" % (i + 1) for i in range(10)}
        cls.t = t
        plan = [  # name, survey, customer, answers, time; posted in this order
            ("a1", cls.A, cls.X, {"rec": 3, "sat": 2}, t[1]),
            ("a2", cls.A, cls.X, {"easy": 5, "comment": "x"}, t[2]),
            ("a3", cls.A, cls.X, {"rec": 9}, t[3]),
            ("b1", cls.B, cls.X, {"n2": 7, "c10": 8}, t[4]),
            ("c1", cls.C, cls.X, {"txt": "hello"}, t[5]),
            ("a4", cls.A, cls.X, {"comment": "newest, no scores"}, t[6]),
            ("y1", cls.A, "someone-else", {"rec": 1, "sat": 1, "easy": 1}, t[7]),
            ("x2", cls.A, cls.X + "2", {"rec": 0}, t[8]),
            ("a0", cls.A, cls.X, {"rec": 0, "sat": 5, "easy": 1}, t[0]),  # oldest, posted last
            # Two of theirs at the same instant in different surveys: ties by id.
            ("c2", cls.C, cls.X, {"txt": "tie"}, t[9]),
            ("b2", cls.B, cls.X, {"n2": 1}, t[9]),
        ]
        cls.when = {name: when for name, _, _, _, when in plan}
        cls.ids = {}
        for name, sid, cust, answers, when in plan:
            r = d.req("POST", "/v1/surveys/%s/responses" % sid,
                      {"answers": answers, "customer": cust, "submitted_at": when},
                      token=INGEST_TOKEN)
            assert r.status == 201, r
            cls.ids[name] = r.json["id"]

    def expected_summary(self):
        i, t = self.ids, self.t
        return {
            self.A: {"responses": 5,
                     "nps": {"question": "rec", "value": 9, "response": i["a3"],
                             "submitted_at": t[3]},
                     "csat": {"question": "sat", "value": 2, "scale": 5, "response": i["a1"],
                              "submitted_at": t[1]},
                     "ces": {"question": "easy", "value": 5, "scale": 7, "response": i["a2"],
                             "submitted_at": t[2]}},
            self.B: {"responses": 2,
                     "nps": {"question": "n2", "value": 1, "response": i["b2"],
                             "submitted_at": t[9]},
                     "csat": {"question": "c10", "value": 8, "scale": 10, "response": i["b1"],
                              "submitted_at": t[4]},
                     "ces": None},
            self.C: {"responses": 2, "nps": None, "csat": None, "ces": None},
        }

    def expected_ids(self):
        names = ("a4", "c1", "b1", "a3", "a2", "a1", "a0", "c2", "b2")
        return [self.ids[n] for n in sorted(names, key=lambda n: (self.when[n], self.ids[n]),
                                            reverse=True)]

    def test_history_newest_first_across_surveys(self):
        h = self.history_ok(self.X)
        self.assertEqual([x["id"] for x in h["responses"]], self.expected_ids())
        self.assertIsNone(h["next_cursor"])
        for item in h["responses"]:
            g = self.get_response(item["id"])
            self.assertEqual(g.status, 200)
            self.assertEqual(item, g.json)
            self.assertEqual(item["customer"], self.X)

    def test_summary_latest_score_per_survey(self):
        self.assertEqual(self.history_ok(self.X)["summary"], self.expected_summary())

    def test_pagination_summary_covers_everything(self):
        for limit in (1, 2, 3, 4):
            with self.subTest(limit=limit):
                ids, cursor, pages = [], None, 0
                while True:
                    p = {"limit": str(limit)}
                    if cursor:
                        p["cursor"] = cursor
                    h = self.history_ok(self.X, **p)
                    pages += 1
                    self.assertLessEqual(len(h["responses"]), limit)
                    ids.extend(x["id"] for x in h["responses"])
                    self.assertEqual(h["summary"], self.expected_summary())
                    cursor = h["next_cursor"]
                    if cursor is None:
                        break
                    self.assertLess(pages, 50)
                self.assertEqual(ids, self.expected_ids())

    def test_exact_customer_match(self):
        h = self.history_ok(self.X + "2")
        self.assertEqual([x["id"] for x in h["responses"]], [self.ids["x2"]])
        self.assertEqual(list(h["summary"]), [self.A])
        self.assertEqual(h["summary"][self.A]["nps"]["value"], 0)

    def test_unknown_customer_empty(self):
        cust = uid("nobody")
        self.assertEqual(self.history_ok(cust),
                         {"customer": cust, "responses": [], "next_cursor": None,
                          "summary": {}})

    def test_auth(self):
        self.assertEqual(self.history(self.X, token=ADMIN_TOKEN).status, 200)
        self.assertProblem(self.history(self.X, token=INGEST_TOKEN), 403, "forbidden")
        self.assertProblem(self.history(self.X, token=None), 401, "unauthorized")

    def test_bad_parameters(self):
        for params, field in (({"limit": "0"}, "limit"), ({"limit": "1001"}, "limit"),
                              ({"limit": "abc"}, "limit"), ({"cursor": "garbage!"}, "cursor"),
                              ({"cursor": "aGVsbG8gd29ybGQ"}, "cursor"), ({"foo": "1"}, "foo")):
            with self.subTest(params=params):
                self.assertValidation(self.history(self.X, **params), field)

    def test_summary_for_many_surveys(self):
        # Nothing in the API limits how many surveys one customer answers;
        # every survey gets its entry with its latest score.
        cust = uid("hist-many")
        expected = {}
        for i in range(70):
            sid = self.new_survey({"title": "many", "questions": [
                {"id": "rec", "type": "nps"}, {"id": "sat", "type": "csat", "scale": 7}]},
                prefix="many%02d" % i)
            when = "2025-06-01T00:%02d:00.000Z" % (i % 60)
            rid = self.post_ok(sid, {"answers": {"rec": i % 11, "sat": 1 + i % 7},
                                     "customer": cust, "submitted_at": when}).json["id"]
            expected[sid] = {"responses": 1,
                             "nps": {"question": "rec", "value": i % 11, "response": rid,
                                     "submitted_at": when},
                             "csat": {"question": "sat", "value": 1 + i % 7, "scale": 7,
                                      "response": rid, "submitted_at": when},
                             "ces": None}
        h = self.history_ok(cust, limit="1000")
        self.assertEqual(len(h["responses"]), 70)
        summary = h["summary"]
        self.assertEqual(set(summary), set(expected))
        wrong = sorted(sid for sid in expected if summary[sid] != expected[sid])
        self.assertEqual(wrong, [], "summary entries without their scores: %d of 70, e.g. %r"
                         % (len(wrong), summary[wrong[0]] if wrong else None))

    def test_summary_follows_patch_and_delete(self):
        z = uid("hist-z")
        z1 = self.post_ok(self.A, {"answers": {"rec": 2}, "customer": z,
                                   "submitted_at": "2025-05-01T00:00:00Z"}).json["id"]
        z2 = self.post_ok(self.A, {"answers": {"rec": 6, "sat": 4}, "customer": z,
                                   "submitted_at": "2025-05-02T00:00:00Z"}).json["id"]
        s = self.history_ok(z)["summary"][self.A]
        self.assertEqual((s["nps"]["value"], s["nps"]["response"]), (6, z2))
        r = self.req("PATCH", "/v1/responses/" + z2, {"answers": {"rec": None}},
                     token=INGEST_TOKEN)
        self.assertEqual(r.status, 200, r.body)
        s = self.history_ok(z)["summary"][self.A]
        self.assertEqual((s["nps"]["value"], s["nps"]["response"]), (2, z1))
        self.assertEqual(s["csat"]["response"], z2)
        self.assertEqual(self.req("DELETE", "/v1/responses/" + z1, token=ADMIN_TOKEN).status, 204)
        h = self.history_ok(z)
        self.assertEqual([x["id"] for x in h["responses"]], [z2])
        s = h["summary"][self.A]
        self.assertEqual((s["responses"], s["nps"]), (1, None))
        r = self.req("PATCH", "/v1/responses/" + z2, {"answers": {"rec": 10}}, token=INGEST_TOKEN)
        self.assertEqual(r.status, 200, r.body)
        s = self.history_ok(z)["summary"][self.A]
        self.assertEqual(s["nps"], {"question": "rec", "value": 10, "response": z2,
                                    "submitted_at": "2025-05-02T00:00:00.000Z"})


# --------------------------------------------------------------------------
# DELETE /v1/customers/{customer}
# --------------------------------------------------------------------------

ZEBRA = "zebra-cust-4417"
# Its last word is one token of the text index (lower case, as FTS5 stores it): "quokkatoken" can
# only be found in the index's segments once the answers themselves are gone.
ZEBRA_COMMENT = "ZEBRA-COMMENT-7781 zebraquokkatoken"
ZEBRA_INDEX_TOKEN = "quokkatoken"
ZEBRA_LOGGED_TEXT = "ZEBRA-LOGGED-5521"
OKAPI = "okapi-cust-5521"
OKAPI_COMMENT = "OKAPI-COMMENT-3390"
# What their invitations hold besides the customer id: a property and an interaction id.
ZEBRA_INVITE_PROPERTY = "zebra-invite-8812@example.com"
ZEBRA_INVITE_TICKET = "zebra-invite-ticket-6604"
ZEBRA_HOOK_TEXT = "zebra-hook-payload-3318"       # only in their webhook deliveries' payloads
ZEBRA_INVITE_PHONE = "+44-7700-900-zebra-5150"     # a property of the invitation made through the API


class EraseCustomerAuthTests(PrivacyBase):

    def test_erase_requires_admin(self):
        sid = self.new_survey(prefix="erase-auth")
        cust = uid("erase-auth-cust")
        rid = self.post_ok(sid, {"answers": {"nps": 1}, "customer": cust}).json["id"]
        path = customer_path(cust)
        self.assertProblem(self.req("DELETE", path, token=READ_TOKEN), 403, "forbidden")
        self.assertProblem(self.req("DELETE", path, token=INGEST_TOKEN), 403, "forbidden")
        self.assertProblem(self.req("DELETE", path), 401, "unauthorized")
        self.assertEqual(self.get_response(rid).status, 200)

    def test_unknown_customer_deletes_nothing(self):
        r = self.req("DELETE", customer_path(uid("never-seen")), token=ADMIN_TOKEN)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json, {"deleted": 0})

    def test_customer_with_special_characters(self):
        sid = self.new_survey(prefix="erase-special")
        cust = "J\u00fcrgen M\u00fcller #%s & co?" % uid("x")
        other = self.post_ok(sid, {"answers": {"nps": 2}, "customer": cust + " "}).json["id"]
        ids = [self.post_ok(sid, {"answers": {"nps": 1}, "customer": cust}).json["id"]
               for _ in range(3)]
        r = self.req("DELETE", customer_path(cust), token=ADMIN_TOKEN)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json, {"deleted": 3})
        for rid in ids:
            self.assertEqual(self.get_response(rid).status, 404)
        self.assertEqual(self.get_response(other).status, 200)


    def test_customer_id_with_slash(self):
        # A customer id is any 1-128 characters; one holding "/" is addressed
        # percent-encoded (%2F) and must still be readable and erasable.
        sid = self.new_survey(prefix="erase-slash")
        for cust in ("tenant/42-%s" % uid("c"), "/lead-%s" % uid("c"), "a//b-%s" % uid("c")):
            with self.subTest(customer=cust):
                rid = self.post_ok(sid, {"answers": {"nps": 1}, "customer": cust}).json["id"]
                h = self.history(cust)
                self.assertEqual(h.status, 200, "GET %s/responses -> %d %r"
                                 % (customer_path(cust), h.status, h.body[:200]))
                self.assertEqual([x["id"] for x in h.json["responses"]], [rid])
                r = self.req("DELETE", customer_path(cust), token=ADMIN_TOKEN)
                self.assertEqual(r.status, 200, "DELETE %s -> %d %r"
                                 % (customer_path(cust), r.status, r.body[:200]))
                self.assertEqual(r.json, {"deleted": 1})
                self.assertEqual(self.get_response(rid).status, 404)


    def test_long_customer_ids(self):
        # Up to 128 characters (code points) is a valid customer id, whatever
        # the bytes: history and erasure must reach every one of them.
        sid = self.new_survey(prefix="erase-long")
        for cust in ("z" * 127 + "1", "\u00e9" * 127 + "2", "\u20ac" * 99 + "3",
                     "\U0001F600" * 127 + "4"):
            with self.subTest(chars=len(cust), utf8_bytes=len(cust.encode())):
                self.assertLessEqual(len(cust), 128)
                rid = self.post_ok(sid, {"answers": {"nps": 1}, "customer": cust}).json["id"]
                listed = self.req("GET", "/v1/surveys/%s/responses?customer=%s"
                                  % (sid, urllib.parse.quote(cust, safe="")), token=READ_TOKEN)
                self.assertEqual([x["id"] for x in listed.json["responses"]], [rid])
                h = self.history(cust)
                self.assertEqual(h.status, 200, "history of a %d-byte customer id -> %d"
                                 % (len(cust.encode()), h.status))
                self.assertEqual([x["id"] for x in h.json["responses"]], [rid])
                r = self.req("DELETE", customer_path(cust), token=ADMIN_TOKEN)
                self.assertEqual(r.status, 200, "erasure of a %d-byte customer id -> %d"
                                 % (len(cust.encode()), r.status))
                self.assertEqual(r.json, {"deleted": 1})
                self.assertEqual(self.get_response(rid).status, 404)


def insert_deliveries(daemon, hook, rows):
    """A webhook subscription and its outbox rows (id, customer, type, state, payload), written as
    the store keeps them (making them is the webhook events' business; erasing them the store's)."""
    db_execute = harness.db_execute
    db_execute(daemon, "INSERT INTO webhooks (id, url, events, format, secret, created_at, updated_at)"
                       " VALUES (?, 'https://hooks.example.com/x', '[\"response.created\"]', 'standard',"
                       " 'whsec_eA', 0, 0)", (hook,))
    # Due and leased in 2100: the serving daemon's sender must leave them as they are (it would
    # otherwise try hooks.example.com, find the retry window closed and mark them dead).
    far = 4102444800000
    for i, (did, customer, kind, state, payload) in enumerate(rows):
        db_execute(daemon, "INSERT INTO webhook_deliveries (id, webhook, event_id, type, subject, customer,"
                           " payload, state, created_at, window_start, next_attempt_at, lease_until)"
                           " VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?)",
                   (did, hook, "msg_" + did[4:], kind, customer, payload, state, 1740000000000 + i,
                    1740000000000 + i, far + i, far if state == 1 else 0))


class EraseCustomerTests(unittest.TestCase):
    """End to end on a daemon of its own, so its files can be searched."""

    FILLER = 240

    def req(self, *a, **kw):
        return self.d.req(*a, **kw)

    def post(self, sid, body, headers=None):
        r = self.req("POST", "/v1/surveys/%s/responses" % sid, body, headers=headers,
                     token=INGEST_TOKEN)
        self.assertEqual(r.status, 201, r.body[:300])
        return r

    def metrics(self, sid):
        r = self.req("GET", "/v1/surveys/%s/metrics" % sid, token=READ_TOKEN)
        self.assertEqual(r.status, 200, r.body[:300])
        return r.json

    def webhook_deliveries(self, wid):
        """The ids and bodies of every delivery queued for a subscription."""
        out, after = {}, ""
        while True:
            r = self.req("GET", "/v1/webhooks/%s/deliveries?limit=100%s" % (wid, after), token=ADMIN_TOKEN)
            self.assertEqual(r.status, 200, r.body[:300])
            for item in r.json["deliveries"]:
                one = self.req("GET", "/v1/webhooks/%s/deliveries/%s" % (wid, item["id"]), token=ADMIN_TOKEN)
                self.assertEqual(one.status, 200, one.body[:300])
                payload = one.json["payload"]
                out[item["id"]] = payload if isinstance(payload, str) else json.dumps(payload)
            if not r.json.get("next"):
                return out
            after = "&before=" + urllib.parse.quote(r.json["next"], safe="")

    def drained(self, wid):
        """Waits until every event logged for wid was prepared into a delivery (or passed over): its
        backlog is then its open deliveries alone (they stay pending: the receiver refuses)."""
        deadline = time.monotonic() + 60
        while True:
            backlog = self.req("GET", "/v1/webhooks/" + wid, token=ADMIN_TOKEN).json["backlog"]["pending"]
            if backlog == len(self.webhook_deliveries(wid)):
                return
            self.assertLess(time.monotonic(), deadline, "the log was never drained")
            time.sleep(0.05)

    def test_erasure(self):
        # A webhook subscribed while their data is written, whose receiver refuses every connection
        # (a loopback port bound, never listening): the outbox holds their responses' bodies until
        # the erasure, which must leave none of them on disk.
        refusing = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        refusing.bind(("127.0.0.1", 0))
        self.addCleanup(refusing.close)
        self.d = d = Daemon(env={"SURVEYD_PUBLIC_URL": "http://127.0.0.1:9"},
                            extra_args=("--webhook-allow-private",))
        self.addCleanup(d.cleanup)
        d.start()
        wid = uid("privacy-hook")
        r = self.req("PUT", "/v1/webhooks/" + wid,
                     {"url": "http://127.0.0.1:%d/hook" % refusing.getsockname()[1],
                      "events": ["response.created", "response.updated", "response.deleted"]}, token=ADMIN_TOKEN)
        self.assertEqual(r.status, 201, r.body)
        s1, s2 = uid("erase-1"), uid("erase-2")
        for sid, q in ((s1, {"id": "rec", "type": "nps"}), (s2, {"id": "sat", "type": "csat"})):
            r = self.req("PUT", "/v1/surveys/" + sid, {"title": "erase", "questions": [
                q, {"id": "comment", "type": "text", "max_length": 10000}]}, token=ADMIN_TOKEN)
            self.assertEqual(r.status, 201, r.body)

        # Many other customers' responses around theirs, so pages split and
        # rows move around in the b-trees.
        model = {}                          # id -> (survey, answers) of what must survive
        lock = threading.Lock()

        def filler(t):
            for i in range(t, self.FILLER, 4):
                sid = s1 if i % 3 else s2
                answers = ({"rec": i % 11} if sid == s1 else {"sat": 1 + i % 5})
                answers["comment"] = "filler %d " % i + "lorem ipsum " * (i % 40)
                body = {"answers": answers, "customer": "filler-%d" % (i % 13),
                        "submitted_at": ms_time(datetime.datetime(2025, 3, 1, tzinfo=UTC)
                                                + datetime.timedelta(minutes=i))}
                rid = self.post(sid, body).json["id"]
                with lock:
                    model[rid] = (sid, answers)

        run_threads(4, filler)
        zebra = []                          # (id, survey)
        long_comment = (ZEBRA_COMMENT + " ") * 200       # > one page: overflow pages
        key = uid("zebra-key")
        keyed_body = {"answers": {"rec": 10, "comment": ZEBRA_COMMENT + " keyed"},
                      "customer": ZEBRA, "interaction": "zebra-ticket-1"}
        bodies = [
            (s1, {"answers": {"rec": 10, "comment": ZEBRA_COMMENT}, "customer": ZEBRA,
                  "properties": {"email": "zebra@example.com"}}, None),
            (s1, {"answers": {"rec": 9, "comment": long_comment}, "customer": ZEBRA,
                  "agent": "agent-z", "channel": "chat"}, None),
            (s2, {"answers": {"sat": 5, "comment": ZEBRA_COMMENT}, "customer": ZEBRA}, None),
            (s2, {"answers": {"sat": 4}, "customer": ZEBRA,
                  "submitted_at": "2024-12-24T12:00:00Z"}, None),
            (s1, keyed_body, {"Idempotency-Key": key}),
        ]
        for sid, body, headers in bodies:
            zebra.append((self.post(sid, body, headers=headers).json["id"], sid))
        keyed_id = zebra[-1][0]
        # One of theirs deleted: its response.deleted event holds the response as it was (their id
        # and words) in the event log's row, which stays there after it was prepared, until every
        # cursor has passed it and the sender prunes it (minutes). The erasure must take it.
        gone = self.post(s1, {"answers": {"rec": 1, "comment": ZEBRA_LOGGED_TEXT}, "customer": ZEBRA}).json["id"]
        self.drained(wid)   # its created event prepared first (else passed over: the response is gone)
        self.assertEqual(self.req("DELETE", "/v1/responses/" + gone, token=ADMIN_TOKEN).status, 204)
        # A keyed follow-up on one of theirs: its idempotency record holds the reply.
        patch_key = uid("zebra-patch-key")
        r = self.req("PATCH", "/v1/responses/" + zebra[2][0],
                     {"answers": {"comment": ZEBRA_COMMENT + " follow-up"}},
                     headers={"Idempotency-Key": patch_key}, token=INGEST_TOKEN)
        self.assertEqual(r.status, 200, r.body)
        okapi = []
        for sid, answers in ((s1, {"rec": 0, "comment": OKAPI_COMMENT}),
                             (s2, {"sat": 1, "comment": OKAPI_COMMENT})):
            rid = self.post(sid, {"answers": answers, "customer": OKAPI}).json["id"]
            okapi.append(rid)
            model[rid] = (sid, answers)
        survivors = {rid: self.req("GET", "/v1/responses/" + rid, token=READ_TOKEN).json
                     for rid in model}
        # Their invitations (a sent one that was answered, a throttled one, one on each survey),
        # and okapi's, which must survive. Written as the store keeps them.
        invited = datetime.datetime(2025, 3, 2, 9, tzinfo=UTC)
        zebra_invitations = [
            insert_invitation(d, s1, invited, "email", "agent-z", "sent", customer=ZEBRA,
                              opened_at=invited, responded_at=invited,
                              properties='{"email": "%s"}' % ZEBRA_INVITE_PROPERTY,
                              interaction=ZEBRA_INVITE_TICKET),
            insert_invitation(d, s1, invited, "email", "agent-z", "throttled", customer=ZEBRA),
            insert_invitation(d, s2, invited, "sms", None, "sent", customer=ZEBRA,
                              properties='{"email": "%s"}' % ZEBRA_INVITE_PROPERTY),
        ]
        okapi_invitation = insert_invitation(d, s1, invited, "email", None, "sent", customer=OKAPI,
                                             properties='{"note": "%s"}' % OKAPI_COMMENT)
        # Their webhook deliveries, pending, being sent and delivered, whose payloads hold their data;
        # okapi's and a customer.erased event (no customer) must survive.
        zebra_deliveries = [uid("dlv_zebra-%d" % i) for i in range(3)]
        okapi_delivery, erased_event = uid("dlv_okapi"), uid("dlv_erased")
        zebra_payload = '{"type":"response.created","data":{"response":{"customer":"%s","comment":"%s"}}}' % (
            ZEBRA, ZEBRA_HOOK_TEXT)
        insert_deliveries(d, uid("erase-hook"), [
            (zebra_deliveries[0], ZEBRA, "response.created", 0, zebra_payload),
            (zebra_deliveries[1], ZEBRA, "response.updated", 1, zebra_payload),
            (zebra_deliveries[2], ZEBRA, "response.created", 2, zebra_payload),
            (okapi_delivery, OKAPI, "response.created", 0, '{"comment":"%s"}' % OKAPI_COMMENT),
            (erased_event, None, "customer.erased", 0, '{"customer":"someone-else"}'),
        ])

        files = db_files(d)
        self.assertTrue(found_in(files, ZEBRA), "customer id not on disk before erasure")
        for needle in [ZEBRA_HOOK_TEXT] + zebra_deliveries:
            self.assertTrue(found_in(files, needle), "%s not on disk before erasure" % needle)
        self.assertTrue(found_in(files, ZEBRA_COMMENT), "comment not on disk before erasure")
        for needle in [ZEBRA_INVITE_PROPERTY, ZEBRA_INVITE_TICKET] + zebra_invitations:
            self.assertTrue(found_in(files, needle), "%s not on disk before erasure" % needle)
        self.assertEqual((self.metrics(s1)["invitations"]["sent"], self.metrics(s1)["invitations"]["suppressed"],
                          self.metrics(s2)["invitations"]["sent"]), (2, 1, 1))
        # One more through the API, with an Idempotency-Key: its stored reply holds its id (and,
        # when sent, its link). They answered s2 just now, so it is throttled, and kept all the same.
        made = self.req("POST", "/v1/surveys/%s/invitations" % s2,
                        {"customer": ZEBRA, "channel": "email", "properties": {"phone": ZEBRA_INVITE_PHONE}},
                        headers={"Idempotency-Key": uid("zebra-invite-key")}, token=INGEST_TOKEN)
        self.assertIn(made.status, (200, 201), made.body[:300])
        zebra_invitations.append(made.json["id"])
        if "url" in made.json:
            zebra_invitations.append(made.json["url"].rsplit("/", 1)[1])
        files = db_files(d)
        for needle in (ZEBRA_INVITE_PHONE, made.json["id"]):
            self.assertTrue(found_in(files, needle), "%s not on disk before erasure" % needle)
        h = self.req("GET", customer_path(ZEBRA) + "/responses", token=READ_TOKEN).json
        self.assertEqual(len(h["responses"]), len(zebra))
        # Their comments are in the text index, and found through it (both backends).
        found = self.req("GET", "/v1/surveys/%s/responses?q=zebraquokkatoken" % s1, token=READ_TOKEN)
        self.assertEqual(found.status, 200, found.body[:300])
        self.assertTrue(found.json["responses"])
        self.assertEqual(self.metrics(s1)["responses"],
                         sum(1 for s, _ in model.values() if s == s1) + 3)

        self.drained(wid)
        queued = self.webhook_deliveries(wid)
        zebra_deliveries = sorted(k for k, body in queued.items() if ZEBRA in body)
        # Five responses of theirs and one follow-up, each an event, and the deleted one's two.
        self.assertEqual(len(zebra_deliveries), len(zebra) + 1 + 2, sorted(queued))
        self.assertTrue(found_in(db_files(d), ZEBRA_LOGGED_TEXT), "the deleted response's event not on disk")
        self.assertTrue(any(ZEBRA_COMMENT in body for body in queued.values()))

        tags = {sid: self.req("GET", "/v1/surveys/%s/metrics" % sid,
                              token=READ_TOKEN).headers.get("ETag") for sid in (s1, s2)}
        r = self.req("DELETE", customer_path(ZEBRA), token=ADMIN_TOKEN)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json, {"deleted": len(zebra)})
        for sid, tag in tags.items():
            self.assertTrue(tag)
            m = self.req("GET", "/v1/surveys/%s/metrics" % sid, token=READ_TOKEN,
                         headers={"If-None-Match": tag})
            self.assertEqual(m.status, 200, "metrics of %s still 304 after the erasure" % sid)

        # Live, right after the reply.
        files = db_files(d)
        self.assertEqual(found_in(files, ZEBRA), [], "customer id still on disk (live): "
                         + where(files, ZEBRA))
        self.assertEqual(found_in(files, ZEBRA_COMMENT), [], "comment still on disk (live): "
                         + where(files, ZEBRA_COMMENT))
        self.assertEqual(found_in(files, ZEBRA_INDEX_TOKEN), [], "a word of their comment still in the text index"
                         " (live): " + where(files, ZEBRA_INDEX_TOKEN))
        self.assertEqual(found_in(files, "zebra@example.com"), [], "property still on disk")
        self.assertEqual(found_in(files, ZEBRA_LOGGED_TEXT), [], "their logged event still on disk (live): "
                         + where(files, ZEBRA_LOGGED_TEXT))
        for needle in [ZEBRA_INVITE_PROPERTY, ZEBRA_INVITE_TICKET, ZEBRA_INVITE_PHONE] + zebra_invitations:
            self.assertEqual(found_in(files, needle), [], "invitation's %s still on disk (live): %s"
                             % (needle, where(files, needle)))
        for needle in zebra_deliveries:
            self.assertEqual(found_in(files, needle), [], "their webhook delivery %s still on disk (live): %s"
                             % (needle, where(files, needle)))
        left = self.webhook_deliveries(wid)
        self.assertEqual(sorted(set(left) & set(zebra_deliveries)), [])
        self.assertFalse(any(ZEBRA in body or ZEBRA_COMMENT in body for body in left.values()))
        self.assertTrue(any(OKAPI_COMMENT in body for body in left.values()), "okapi's events are gone")
        self.assertEqual(self.req("GET", "/v1/invitations/" + made.json["id"], token=READ_TOKEN).status, 404)
        self.assertTrue(found_in(files, OKAPI_COMMENT), "the search itself is broken")
        self.assertTrue(found_in(files, okapi_invitation), "okapi's invitation is gone")
        for needle in [ZEBRA_HOOK_TEXT] + zebra_deliveries:
            self.assertEqual(found_in(files, needle), [], "webhook delivery's %s still on disk (live): %s"
                             % (needle, where(files, needle)))
        for kept in (okapi_delivery, erased_event):
            self.assertTrue(found_in(files, kept), "%s is gone" % kept)
        # The metrics count okapi's invitation alone.
        self.assertEqual(self.metrics(s1)["invitations"],
                         {"sent": 1, "suppressed": 0, "opened": 0, "responded": 0, "response_rate": 0,
                          "ci95": [0, 79.35]})
        self.assertEqual((self.metrics(s2)["invitations"]["sent"], self.metrics(s2)["invitations"]["suppressed"]), (0, 0))

        for rid, _ in zebra:
            self.assertEqual(self.req("GET", "/v1/responses/" + rid, token=READ_TOKEN).status, 404)
        h = self.req("GET", customer_path(ZEBRA) + "/responses", token=READ_TOKEN)
        self.assertEqual(h.status, 200)
        self.assertEqual((h.json["responses"], h.json["summary"], h.json["next_cursor"]),
                         ([], {}, None))
        listing = self.req("GET", "/v1/surveys/%s/responses?customer=%s" % (s1, ZEBRA),
                           token=READ_TOKEN).json
        self.assertEqual(listing["responses"], [])
        for rid, rec in survivors.items():
            g = self.req("GET", "/v1/responses/" + rid, token=READ_TOKEN)
            self.assertEqual(g.status, 200, rid)
            self.assertEqual(g.json, rec)
        # Metrics count exactly the survivors.
        for sid, qid, size in ((s1, "rec", 11), (s2, "sat", 5)):
            m = self.metrics(sid)
            rows = [a for s, a in model.values() if s == sid]
            self.assertEqual(m["responses"], len(rows), sid)
            dist = [0] * size
            for a in rows:
                dist[a[qid] - (0 if qid == "rec" else 1)] += 1
            self.assertEqual(m["questions"][qid]["distribution"], dist, sid)
        self.assertEqual(self.metrics(s1)["questions"]["rec"].get("promoters"),
                         sum(1 for s, a in model.values() if s == s1 and a["rec"] >= 9))
        rc, out = verify(d.data_dir)
        self.assertEqual(rc, 0, out)

        # Erasing again, or someone unknown, deletes nothing.
        for cust in (ZEBRA, uid("unknown")):
            r = self.req("DELETE", customer_path(cust), token=ADMIN_TOKEN)
            self.assertEqual((r.status, r.json), (200, {"deleted": 0}))
        # Their keyed follow-up cannot come back either.
        r = self.req("PATCH", "/v1/responses/" + zebra[2][0],
                     {"answers": {"comment": ZEBRA_COMMENT + " follow-up"}},
                     headers={"Idempotency-Key": patch_key}, token=INGEST_TOKEN)
        self.assertEqual(r.status, 404, r.body)

        # After a clean stop too.
        d.stop()
        files = db_files(d)
        self.assertEqual(found_in(files, ZEBRA), [], "customer id on disk after stop: "
                         + where(files, ZEBRA))
        self.assertEqual(found_in(files, ZEBRA_COMMENT), [], "comment on disk after stop: "
                         + where(files, ZEBRA_COMMENT))
        self.assertEqual(found_in(files, ZEBRA_INDEX_TOKEN), [], "a word of their comment in the text index after"
                         " stop: " + where(files, ZEBRA_INDEX_TOKEN))
        for needle in [ZEBRA_INVITE_PROPERTY, ZEBRA_INVITE_TICKET, ZEBRA_INVITE_PHONE] + zebra_invitations + zebra_deliveries:
            self.assertEqual(found_in(files, needle), [], "invitation's or delivery's %s on disk after stop: %s"
                             % (needle, where(files, needle)))
        self.assertTrue(found_in(files, OKAPI_COMMENT))
        self.assertTrue(found_in(files, okapi_invitation))
        for needle in [ZEBRA_HOOK_TEXT] + zebra_deliveries:
            self.assertEqual(found_in(files, needle), [], "webhook delivery's %s on disk after stop: %s"
                             % (needle, where(files, needle)))
        self.assertTrue(found_in(files, okapi_delivery))
        rc, out = verify(d.data_dir)
        self.assertEqual(rc, 0, out)

        # A retry of their keyed POST is a new submission, not a replay.
        d.start()
        r = self.req("POST", "/v1/surveys/%s/responses" % s1, keyed_body,
                     headers={"Idempotency-Key": key}, token=INGEST_TOKEN)
        self.assertEqual(r.status, 201, r.body)
        self.assertNotEqual(r.json["id"], keyed_id)
        self.assertNotEqual(r.headers.get("Idempotent-Replayed"), "true")
        g = self.req("GET", "/v1/responses/" + r.json["id"], token=READ_TOKEN)
        self.assertEqual(g.status, 200)
        self.assertEqual(g.json["customer"], ZEBRA)
        self.assertEqual(self.req("GET", "/v1/responses/" + keyed_id, token=READ_TOKEN).status, 404)
        d.stop()


class EraseDuringExportTests(unittest.TestCase):
    """An erasure that arrives while a long export streams: once that export
    has finished, nothing of the customer may remain in the files."""

    CUSTOMER = "zebra-live-9931"
    COMMENT = "ZEBRA-EXPORT-5527"
    ROWS = 600

    def test_erasure_while_an_export_streams(self):
        d = Daemon(extra_args=["--durability", "normal"])
        self.addCleanup(d.cleanup)
        d.start()
        sid = uid("erase-export")
        r = d.req("PUT", "/v1/surveys/" + sid, {"title": "x", "questions": [
            {"id": "nps", "type": "nps"}, {"id": "comment", "type": "text", "max_length": 10000}]},
            token=ADMIN_TOKEN)
        self.assertEqual(r.status, 201)
        theirs = []
        lock = threading.Lock()

        def worker(t):
            for i in range(t, self.ROWS, 4):
                mine = i % 100 == 0
                body = {"answers": {"nps": i % 11,
                                    "comment": (self.COMMENT if mine else "row %d" % i)
                                    + " " + "y" * 9000},
                        "customer": self.CUSTOMER if mine else "other-%d" % (i % 9)}
                r = d.req("POST", "/v1/surveys/%s/responses" % sid, body, token=INGEST_TOKEN)
                self.assertEqual(r.status, 201, r.body[:200])
                if mine:
                    with lock:
                        theirs.append(r.json["id"])
        run_threads(4, worker)
        self.assertTrue(found_in(db_files(d), self.COMMENT))

        # A client reading a big export slowly (small receive window).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(sock.close)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(30)
        sock.connect(("127.0.0.1", d.port))
        sock.sendall(("GET /v1/surveys/%s/responses?format=csv HTTP/1.1\r\nHost: x\r\n"
                      "Authorization: Bearer %s\r\nConnection: close\r\n\r\n"
                      % (sid, READ_TOKEN)).encode())
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        self.assertEqual(resp.status, 200)
        head = resp.read(2000)
        self.assertEqual(len(head), 2000)
        time.sleep(0.3)

        # The erasure runs in its own thread: a server may also make it wait
        # for the export to end, which needs this client to keep reading.
        erased = []
        eraser = threading.Thread(target=lambda: erased.append(
            d.req("DELETE", customer_path(self.CUSTOMER), token=ADMIN_TOKEN)))
        eraser.start()
        time.sleep(1.5)
        rest = resp.read()
        resp.close()
        eraser.join(60)
        self.assertEqual(len(erased), 1, "the erasure did not complete")
        r = erased[0]
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json, {"deleted": len(theirs)})
        # The export really was still running when the erasure came.
        self.assertGreater(len(rest), 1000000)

        deadline = time.monotonic() + 5
        while True:
            files = db_files(d)
            left = found_in(files, self.CUSTOMER) + found_in(files, self.COMMENT)
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(left, [], "the erased customer's data is still in %s, 5 s after the "
                         "export that overlapped the erasure ended (sizes: %r)"
                         % (sorted(set(left)), {k: len(v) for k, v in files.items()}))
        for rid in theirs:
            self.assertEqual(d.req("GET", "/v1/responses/" + rid, token=READ_TOKEN).status, 404)
        rc, out = verify(d.data_dir)
        self.assertEqual(rc, 0, out)
        d.stop()
        files = db_files(d)
        self.assertEqual(found_in(files, self.CUSTOMER) + found_in(files, self.COMMENT), [])


# --------------------------------------------------------------------------
# --retention-days
# --------------------------------------------------------------------------

class RetentionTests(unittest.TestCase):

    def test_retention_deletes_old_responses(self):
        d = Daemon()
        self.addCleanup(d.cleanup)
        d.start()
        sid, other = uid("ret"), uid("ret-other")
        for s in (sid, other):
            r = d.req("PUT", "/v1/surveys/" + s, simple_definition(), token=ADMIN_TOKEN)
            self.assertEqual(r.status, 201)
        now = utc_now()
        ids = {}
        for name, s, days, nps in (("d400", sid, 400, 0), ("d40", sid, 40, 5), ("d1", sid, 1, 10),
                                   ("o31", other, 31, 3), ("o29", other, 29, 9)):
            r = d.req("POST", "/v1/surveys/%s/responses" % s,
                      {"answers": {"nps": nps}, "customer": "ret-cust",
                       "submitted_at": ms_time(now - datetime.timedelta(days=days))},
                      token=INGEST_TOKEN)
            self.assertEqual(r.status, 201, r.body)
            ids[name] = r.json["id"]
        # Invitations go by their created_at, suppressed ones too; 31 days old is past the cutoff.
        invitations = {}
        for name, s, days, outcome in (("i400", sid, 400, "sent"), ("i31", sid, 31, "throttled"),
                                       ("i1", sid, 1, "sent"), ("j31", other, 31, "sent"),
                                       ("j29", other, 29, "sampled_out")):
            invitations[name] = insert_invitation(d, s, now - datetime.timedelta(days=days), "email", None,
                                                  outcome, customer="ret-cust")
        m = d.req("GET", "/v1/surveys/%s/metrics" % sid, token=READ_TOKEN).json
        self.assertEqual(m["responses"], 3)
        self.assertEqual((m["invitations"]["sent"], m["invitations"]["suppressed"]), (2, 1))
        keep = {n: d.req("GET", "/v1/responses/" + ids[n], token=READ_TOKEN).json
                for n in ("d1", "o29")}
        d.stop()

        d.extra_args = ["--retention-days", "30"]
        d.start()
        deadline = time.monotonic() + 5
        while True:
            gone = [n for n in ("d400", "d40", "o31")
                    if d.req("GET", "/v1/responses/" + ids[n], token=READ_TOKEN).status == 404]
            if len(gone) == 3 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(sorted(gone), ["d40", "d400", "o31"])
        for n, rec in keep.items():
            g = d.req("GET", "/v1/responses/" + ids[n], token=READ_TOKEN)
            self.assertEqual(g.status, 200, n)
            self.assertEqual(g.json, rec)
        m = d.req("GET", "/v1/surveys/%s/metrics" % sid, token=READ_TOKEN).json
        self.assertEqual(m["responses"], 1)
        nps = m["questions"]["nps"]
        self.assertEqual((nps["answered"], nps["promoters"], nps["detractors"]), (1, 1, 0))
        self.assertEqual(nps["distribution"][0] + nps["distribution"][5], 0)
        self.assertEqual((m["invitations"]["sent"], m["invitations"]["suppressed"]), (1, 0))
        m = d.req("GET", "/v1/surveys/%s/metrics" % other, token=READ_TOKEN).json
        self.assertEqual(m["responses"], 1)
        self.assertEqual((m["invitations"]["sent"], m["invitations"]["suppressed"]), (0, 1))
        listed = d.req("GET", "/v1/surveys/%s/responses" % sid, token=READ_TOKEN).json
        self.assertEqual([x["id"] for x in listed["responses"]], [ids["d1"]])
        h = d.req("GET", "/v1/customers/ret-cust/responses", token=READ_TOKEN).json
        self.assertEqual(sorted(x["id"] for x in h["responses"]), sorted([ids["d1"], ids["o29"]]))
        self.assertEqual(h["summary"][sid]["responses"], 1)
        rc, out = verify(d.data_dir)
        self.assertEqual(rc, 0, out)
        d.stop()
        rc, out = verify(d.data_dir)
        self.assertEqual(rc, 0, out)
        left = harness.db_query(d, "SELECT id FROM invitations WHERE customer = ?", ["ret-cust"])
        self.assertEqual(sorted(row[0] for row in left), sorted([invitations["i1"], invitations["j29"]]))


if __name__ == "__main__":
    unittest.main()
