"""Webhook subscriptions and their endpoints (issue 17), on both backends: /v1/webhooks.

Checked: create, read, list, replace and delete a subscription, normalised (events and surveys
sorted, without duplicates); every validation error (422 invalid_webhook naming the field); the
secret shown once (the creating PUT and each rotation; never by GET or a replacing PUT); admin only;
the SSRF guard at save time without --webhook-allow-private (loopback, localhost, ::1, private,
metadata, IPv4-mapped, 0.0.0.0 → 422 webhook_url_forbidden; a host that does not resolve → 422
webhook_url_unresolved) and those same URLs accepted with it; then through the real receiver
(webhook_receiver.py): the deliveries list with its cursor and status filter, one delivery with the
exact payload posted, retry (the same webhook-id again; 409 delivery_in_flight while it is being
sent), replay of a time window, secret rotation (during the overlap both secrets verify, after it
only the new one: the overlap is ended by ageing the row with db_execute, not by waiting),
enabled:false pauses and enabled:true resumes; and the README's Python and Node signature checks,
extracted from README.md and run against a real signed delivery (and refusing a tampered one).

Synchronisation is on state (the receiver's requests, GET .../deliveries), never on time."""

import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (ADMIN_TOKEN, INGEST_TOKEN, READ_TOKEN, REPO_ROOT,  # noqa: E402
                     BaseAPITest, db_execute, uid)
from webhook_receiver import Receiver, verify  # noqa: E402

WEBHOOK_ARGS = ("--webhook-allow-private", "--webhook-retry-base-ms", "100")
DEFINITION = {"title": "Webhooks", "questions": [{"id": "rec", "type": "nps"}, {"id": "why", "type": "text"}]}
PUBLIC_URL = "https://93.184.216.34/hook"   # a public literal: nothing to resolve, never connected to here
SECRET_RE = re.compile(r"^whsec_[A-Za-z0-9+/]{32}$")
DELIVERY_RE = re.compile(r"^dlv_[a-z2-7]{26}$")
WAIT = 60.0


def wait_until(predicate, timeout=WAIT, what="condition", poll=0.05):
    """Polls predicate() until it returns something true; returns it (the state is what is waited
    for: the interval only bounds how soon it is seen)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("not met within %.0f s: %s" % (timeout, what))
        time.sleep(poll)


def iso(dt):
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class WebhookTest(BaseAPITest):
    daemon_args = WEBHOOK_ARGS

    def put(self, wid, body, token=ADMIN_TOKEN, **kw):
        return self.req("PUT", "/v1/webhooks/" + wid, body, token=token, **kw)

    def get(self, path, token=ADMIN_TOKEN):
        return self.req("GET", path, token=token)

    def post(self, path, body=None, token=ADMIN_TOKEN):
        return self.req("POST", path, body, token=token)

    def subscribe(self, url, wid=None, **fields):
        wid = wid or uid("wh")
        body = {"url": url, "events": ["response.created"]}
        body.update(fields)
        r = self.put(wid, body)
        self.assertEqual(r.status, 201, r.body[:500])
        return wid, r.json

    def invalid(self, r, *fields):
        j = self.assertProblem(r, 422, "invalid_webhook")
        got = [e["field"] for e in j["errors"]]
        for f in fields:
            self.assertIn(f, got, j)
        return got

    def deliveries(self, wid, query=""):
        r = self.get("/v1/webhooks/%s/deliveries%s" % (wid, query))
        self.assertEqual(r.status, 200, r.body[:500])
        return r.json


class SubscriptionTests(WebhookTest):

    def test_create_read_replace_list_delete(self):
        wid = uid("crud")
        body = {"url": "http://127.0.0.1:9/in?x=1", "events": ["survey.updated", "response.created"],
                "surveys": ["support", "billing"], "filter": {"question": "rec", "max": 6}, "format": "slack"}
        r = self.put(wid, body)
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(r.headers.get("Location"), "/v1/webhooks/" + wid)
        created = r.json
        self.assertRegex(created["secret"], SECRET_RE)
        self.assertEqual(created["id"], wid)
        self.assertEqual(created["url"], body["url"])
        self.assertEqual(created["events"], ["response.created", "survey.updated"])
        self.assertEqual(created["surveys"], ["billing", "support"])
        self.assertEqual(created["filter"], {"question": "rec", "max": 6})
        self.assertEqual(created["format"], "slack")
        self.assertIs(created["enabled"], True)
        self.assertIsNone(created["disabled_at"])
        self.assertIsNone(created["disabled_reason"])
        self.assertIsNone(created["secret_rotated_until"])
        self.assertEqual(created["backlog"], {"pending": 0, "oldest_at": None})
        self.assertRFC3339UTC(created["created_at"])
        self.assertEqual(created["created_at"], created["updated_at"])

        got = self.get("/v1/webhooks/" + wid)
        self.assertEqual(got.status, 200)
        self.assertNotIn("secret", got.json)
        self.assertEqual(got.json, {k: v for k, v in created.items() if k != "secret"})

        replaced = self.put(wid, {"url": "http://127.0.0.1:9/other", "events": ["customer.erased"]})
        self.assertEqual(replaced.status, 200, replaced.body)
        self.assertNotIn("secret", replaced.json)
        self.assertIsNone(replaced.headers.get("Location"))
        self.assertEqual(replaced.json["created_at"], created["created_at"])
        self.assertGreaterEqual(replaced.json["updated_at"], created["updated_at"])
        self.assertEqual(replaced.json["events"], ["customer.erased"])
        self.assertIsNone(replaced.json["surveys"])
        self.assertIsNone(replaced.json["filter"])
        self.assertEqual(replaced.json["format"], "standard")

        listed = self.get("/v1/webhooks")
        self.assertEqual(listed.status, 200)
        ids = [w["id"] for w in listed.json["webhooks"]]
        self.assertIn(wid, ids)
        self.assertEqual(ids, sorted(ids))
        for w in listed.json["webhooks"]:
            self.assertNotIn("secret", w)

        self.assertEqual(self.req("DELETE", "/v1/webhooks/" + wid, token=ADMIN_TOKEN).status, 204)
        self.assertProblem(self.get("/v1/webhooks/" + wid), 404, "webhook_not_found")
        self.assertProblem(self.req("DELETE", "/v1/webhooks/" + wid, token=ADMIN_TOKEN), 404, "webhook_not_found")
        self.assertNotIn(wid, [w["id"] for w in self.get("/v1/webhooks").json["webhooks"]])

    def test_secret_is_shown_once(self):
        wid, created = self.subscribe("http://127.0.0.1:9/")
        secret = created["secret"]
        self.assertNotIn(secret.encode(), self.get("/v1/webhooks/" + wid).body)
        self.assertNotIn(secret.encode(), self.get("/v1/webhooks").body)
        again = self.put(wid, {"url": "http://127.0.0.1:9/", "events": ["response.created"]})
        self.assertEqual(again.status, 200)
        self.assertNotIn(secret.encode(), again.body)
        self.assertNotIn("secret", again.json)
        # Another subscription gets another secret.
        _, other = self.subscribe("http://127.0.0.1:9/")
        self.assertNotEqual(other["secret"], secret)

    def test_every_validation_error(self):
        wid = uid("bad")
        ok = {"url": "https://127.0.0.1/x", "events": ["response.created"]}
        cases = [
            ({"events": ["response.created"]}, "url"),
            (dict(ok, url=7), "url"),
            (dict(ok, url="ftp://127.0.0.1/"), "url"),
            (dict(ok, url="https://"), "url"),
            (dict(ok, url="https://user:pw@127.0.0.1/"), "url"),
            (dict(ok, url="https://127.0.0.1/#x"), "url"),
            (dict(ok, url="https://127.0.0.1/" + "a" * 2048), "url"),
            (dict(ok, url="https://127.0.0.1:99999/"), "url"),
            (dict(ok, url="https://[::1/"), "url"),
            ({"url": ok["url"]}, "events"),
            (dict(ok, events=[]), "events"),
            (dict(ok, events=["response.created", "response.exploded"]), "events[1]"),
            (dict(ok, surveys=[]), "surveys"),
            (dict(ok, surveys=["Not A Slug"]), "surveys[0]"),
            (dict(ok, surveys=["s%d" % i for i in range(101)]), "surveys"),
            (dict(ok, filter={"max": 6}), "filter.question"),
            (dict(ok, filter={"question": "rec"}), "filter"),
            (dict(ok, filter={"question": "rec", "min": 7, "max": 6}), "filter.min"),
            (dict(ok, filter={"question": "rec", "max": "6"}), "filter.max"),
            (dict(ok, filter={"question": "rec", "max": 6, "equals": 1}), "filter.equals"),
            (dict(ok, filter=[]), "filter"),
            (dict(ok, format="teams"), "format"),
            (dict(ok, enabled="yes"), "enabled"),
            (dict(ok, secret="whsec_mine"), "secret"),
            ([ok], ""),
        ]
        for body, field in cases:
            with self.subTest(body=json.dumps(body)[:120]):
                self.invalid(self.put(wid, body), field)
        # Every problem at once.
        got = self.invalid(self.put(wid, {"url": "gopher://x", "events": [], "format": 1, "colour": "red"}),
                           "url", "events", "format", "colour")
        self.assertEqual(len(got), 4, got)
        # The id in the URL, the body's syntax and media type.
        self.invalid(self.put("Bad_Id", ok), "id")
        self.assertProblem(self.put(wid, "{", headers={"Content-Type": "application/json"}), 400, "invalid_json")
        self.assertProblem(self.put(wid, json.dumps(ok), headers={"Content-Type": "text/plain"}), 415,
                           "unsupported_media_type")
        # Nothing was stored by any of it.
        self.assertProblem(self.get("/v1/webhooks/" + wid), 404, "webhook_not_found")
        # The limits themselves are accepted.
        r = self.put(wid, dict(ok, url="https://127.0.0.1/" + "a" * (2048 - 18),
                               surveys=["s%d" % i for i in range(100)], filter={"question": "rec", "min": 2, "max": 2}))
        self.assertEqual(r.status, 201, r.body[:300])
        self.assertEqual(len(r.json["url"]), 2048)

    def test_admin_only(self):
        wid, _ = self.subscribe("http://127.0.0.1:9/")
        paths = [("GET", "/v1/webhooks", None), ("GET", "/v1/webhooks/" + wid, None),
                 ("PUT", "/v1/webhooks/" + wid, {"url": "http://127.0.0.1:9/", "events": ["response.created"]}),
                 ("DELETE", "/v1/webhooks/" + wid, None),
                 ("POST", "/v1/webhooks/%s/rotate-secret" % wid, {}),
                 ("GET", "/v1/webhooks/%s/deliveries" % wid, None),
                 ("GET", "/v1/webhooks/%s/deliveries/dlv_x" % wid, None),
                 ("POST", "/v1/webhooks/%s/deliveries/dlv_x/retry" % wid, None),
                 ("POST", "/v1/webhooks/%s/replay" % wid, {"from": "2026-11-01", "to": "2026-11-02"})]
        for method, path, body in paths:
            with self.subTest(method=method, path=path):
                self.assertProblem(self.req(method, path, body), 401, "unauthorized")
                for token in (READ_TOKEN, INGEST_TOKEN):
                    self.assertProblem(self.req(method, path, body, token=token), 403, "forbidden")
        self.assertEqual(self.get("/v1/webhooks/" + wid).status, 200)

    def test_enabled_false_pauses_and_true_resumes(self):
        wid, created = self.subscribe("http://127.0.0.1:9/")
        paused = self.put(wid, {"url": "http://127.0.0.1:9/", "events": ["response.created"], "enabled": False})
        self.assertEqual(paused.status, 200)
        self.assertIs(paused.json["enabled"], False)
        self.assertRFC3339UTC(paused.json["disabled_at"])
        self.assertEqual(paused.json["disabled_reason"], "paused")
        # Paused again: when and why stay as they were.
        again = self.put(wid, {"url": "http://127.0.0.1:9/", "events": ["response.created"], "enabled": False})
        self.assertEqual(again.json["disabled_at"], paused.json["disabled_at"])
        self.assertEqual(self.get("/v1/webhooks/" + wid).json["enabled"], False)
        resumed = self.put(wid, {"url": "http://127.0.0.1:9/", "events": ["response.created"], "enabled": True})
        self.assertIs(resumed.json["enabled"], True)
        self.assertIsNone(resumed.json["disabled_at"])
        self.assertIsNone(resumed.json["disabled_reason"])

    def test_rotation_errors_and_overlap(self):
        wid, created = self.subscribe("http://127.0.0.1:9/")
        path = "/v1/webhooks/%s/rotate-secret" % wid
        for body, field in (({"overlap_hours": 169}, "overlap_hours"), ({"overlap_hours": -1}, "overlap_hours"),
                            ({"overlap_hours": 1.5}, "overlap_hours"), ({"overlap_hours": "24"}, "overlap_hours"),
                            ({"hours": 1}, "hours"), ([], "")):
            with self.subTest(body=body):
                self.assertValidation(self.post(path, body), field)
        self.assertProblem(self.post("/v1/webhooks/%s/rotate-secret" % uid("none"), {}), 404, "webhook_not_found")
        before = datetime.datetime.now(datetime.timezone.utc)
        r = self.post(path, {"overlap_hours": 2})
        self.assertEqual(r.status, 200, r.body)
        self.assertRegex(r.json["secret"], SECRET_RE)
        self.assertNotEqual(r.json["secret"], created["secret"])
        until = datetime.datetime.fromisoformat(r.json["secret_rotated_until"].replace("Z", "+00:00"))
        self.assertGreaterEqual(until, before + datetime.timedelta(hours=2) - datetime.timedelta(seconds=1))
        self.assertLessEqual(until, datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=2))
        got = self.get("/v1/webhooks/" + wid).json
        self.assertEqual(got["secret_rotated_until"], r.json["secret_rotated_until"])
        self.assertNotIn("secret", got)
        # No body: the default overlap (24 h); overlap 0: the old secret stops at once.
        r = self.req("POST", path, token=ADMIN_TOKEN)
        self.assertEqual(r.status, 200, r.body)
        self.assertIsNotNone(r.json["secret_rotated_until"])
        r = self.post(path, {"overlap_hours": 0})
        self.assertEqual(r.status, 200, r.body)
        self.assertIsNone(r.json["secret_rotated_until"])

    def test_delivery_and_replay_errors(self):
        wid, _ = self.subscribe("http://127.0.0.1:9/")
        ghost = uid("ghost")
        base = "/v1/webhooks/%s" % wid
        self.assertProblem(self.get("/v1/webhooks/%s/deliveries" % ghost), 404, "webhook_not_found")
        self.assertProblem(self.get("/v1/webhooks/Bad_Id/deliveries"), 404, "webhook_not_found")
        self.assertEqual(self.deliveries(wid), {"deliveries": [], "next": None})
        for query, field in (("?status=lost", "status"), ("?limit=0", "limit"), ("?limit=1001", "limit"),
                             ("?limit=x", "limit"), ("?before=nope", "before"), ("?colour=red", "colour"),
                             ("?limit=1&limit=2", "limit"), ("?before=dlv_" + "a" * 26, "before")):
            with self.subTest(query=query):
                self.assertValidation(self.get(base + "/deliveries" + query), field)
        self.assertProblem(self.get(base + "/deliveries/dlv_" + "a" * 26), 404, "delivery_not_found")
        self.assertProblem(self.get("/v1/webhooks/%s/deliveries/dlv_x" % ghost), 404, "webhook_not_found")
        self.assertProblem(self.post(base + "/deliveries/dlv_%s/retry" % ("a" * 26)), 404, "delivery_not_found")
        self.assertProblem(self.post("/v1/webhooks/%s/deliveries/dlv_x/retry" % ghost), 404, "webhook_not_found")

        replay = base + "/replay"
        for body, field in (({"to": "2026-11-02"}, "from"), ({"from": "2026-11-02"}, "to"),
                            ({"from": "yesterday", "to": "2026-11-02"}, "from"),
                            ({"from": "2026-11-02", "to": "2026-11-02"}, "to"),
                            ({"from": "2026-11-03", "to": "2026-11-02"}, "to"),
                            ({"from": "2026-01-01", "to": "2026-04-02"}, "to"),
                            ({"from": "2026-11-01", "to": "2026-11-02", "state": "dead"}, "state"),
                            ({"from": 1, "to": "2026-11-02"}, "from"), ([], "")):
            with self.subTest(body=body):
                self.assertValidation(self.post(replay, body), field)
        self.assertProblem(self.post("/v1/webhooks/%s/replay" % ghost, {"from": "2026-11-01", "to": "2026-11-02"}),
                           404, "webhook_not_found")
        r = self.post(replay, {"from": "2026-01-01", "to": "2026-03-31T00:00:00Z"})   # 89 days: allowed
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json, {"replayed": 0})


class SsrfTests(WebhookTest):
    """Without --webhook-allow-private. No survey is made here, so no event is ever sent."""

    daemon_args = ()

    FORBIDDEN = ["http://127.0.0.1/", "http://localhost/", "http://[::1]/", "http://10.1.2.3/",
                 "http://169.254.169.254/latest/meta-data", "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/",
                 "https://192.168.1.1:8443/x", "http://[fe80::1]/", "http://100.64.0.1/", "http://2130706433/",
                 "http://[64:ff9b::7f00:1]/", "http://[2002:7f00:1::]/"]

    def test_private_targets_are_refused_at_save_time(self):
        wid = uid("ssrf")
        for url in self.FORBIDDEN:
            with self.subTest(url=url):
                j = self.assertProblem(self.put(wid, {"url": url, "events": ["response.created"]}), 422,
                                       "webhook_url_forbidden")
                self.assertIn("--webhook-allow-private", j["detail"])
        self.assertProblem(self.get("/v1/webhooks/" + wid), 404, "webhook_not_found")
        # Replacing a subscription with a private target is refused too, and leaves it as it was.
        self.subscribe(PUBLIC_URL, wid=wid)
        self.assertProblem(self.put(wid, {"url": "http://127.0.0.1/", "events": ["response.created"]}), 422,
                           "webhook_url_forbidden")
        self.assertEqual(self.get("/v1/webhooks/" + wid).json["url"], PUBLIC_URL)

    def test_a_host_that_does_not_resolve(self):
        # .invalid never resolves (RFC 6761).
        j = self.assertProblem(self.put(uid("dns"), {"url": "https://hooks.no-such-host.invalid/x",
                                                     "events": ["response.created"]}), 422, "webhook_url_unresolved")
        self.assertIn("no-such-host.invalid", j["detail"])

    def test_a_public_address_is_accepted(self):
        wid, created = self.subscribe(PUBLIC_URL)
        self.assertEqual(created["url"], PUBLIC_URL)


class AllowPrivateTests(WebhookTest):
    """The same URLs with --webhook-allow-private."""

    def test_private_targets_are_accepted_with_the_flag(self):
        for url in SsrfTests.FORBIDDEN:
            with self.subTest(url=url):
                r = self.put(uid("priv"), {"url": url, "events": ["response.created"]})
                self.assertEqual(r.status, 201, r.body[:300])


class DeliveryEndpointTests(WebhookTest):
    """Through the real receiver."""

    def setUp(self):
        self.rx = Receiver()
        self.rx.up()
        self.addCleanup(self.rx.close)
        self.sid = uid("whs")
        self.put_survey(self.sid, DEFINITION)

    def subscribe_rx(self, **fields):
        fields.setdefault("surveys", [self.sid])
        wid, created = self.subscribe(self.rx.url, **fields)
        self.rx.secrets.append(created["secret"])
        return wid, created

    def respond(self, n=1, rec=3):
        ids = []
        for i in range(n):
            r = self.post_ok(self.sid, {"answers": {"rec": rec, "why": "reply %d" % i}})
            ids.append(r.json["id"])
        return ids

    def delivered_to(self, wid, count):
        """Waits until count deliveries of wid are delivered; returns the list (newest first)."""
        return wait_until(lambda: (lambda d: d if sum(x["status"] == "delivered" for x in d) >= count else None)(
            self.deliveries(wid, "?limit=1000")["deliveries"]), what="%d delivered" % count)

    def test_list_page_and_filter(self):
        wid, _ = self.subscribe_rx()
        ids = self.respond(5)
        self.rx.wait_for(lambda e: len(e) >= 5)
        everything = self.delivered_to(wid, 5)
        self.assertEqual(len(everything), 5)
        # Newest first: the responses in reverse order.
        subjects = [d["subject"] for d in everything]
        self.assertEqual(subjects, list(reversed(ids)))
        for d in everything:
            self.assertRegex(d["id"], DELIVERY_RE)
            self.assertEqual(d["type"], "response.created")
            self.assertEqual(d["survey"], self.sid)
            self.assertEqual(d["attempts"], 1)
            self.assertEqual(d["last_status"], 204)
            self.assertIsNone(d["last_error"])
            self.assertIsNone(d["next_attempt_at"])
            self.assertRFC3339UTC(d["delivered_at"])
            self.assertNotIn("payload", d)
        # Pages of 2, following next.
        seen, query = [], "?limit=2"
        while True:
            page = self.deliveries(wid, query)
            self.assertLessEqual(len(page["deliveries"]), 2)
            seen += [d["id"] for d in page["deliveries"]]
            if page["next"] is None:
                break
            self.assertEqual(page["next"], page["deliveries"][-1]["id"])
            query = "?limit=2&before=" + page["next"]
        self.assertEqual(seen, [d["id"] for d in everything])
        # Status filter.
        self.assertEqual(len(self.deliveries(wid, "?status=delivered")["deliveries"]), 5)
        for status in ("pending", "sending", "dead"):
            self.assertEqual(self.deliveries(wid, "?status=" + status)["deliveries"], [])
        # A cursor from another subscription's list is refused.
        other, _ = self.subscribe_rx()
        self.respond(1)
        mine = self.delivered_to(other, 1)[0]["id"]
        self.assertValidation(self.get("/v1/webhooks/%s/deliveries?before=%s" % (wid, mine)), "before")
        self.assertProblem(self.get("/v1/webhooks/%s/deliveries/%s" % (wid, mine)), 404, "delivery_not_found")

    def test_one_delivery_with_its_payload(self):
        wid, _ = self.subscribe_rx()
        rid = self.respond(1)[0]
        event = self.rx.wait_for(lambda e: len(e) >= 1)[0]
        d = self.delivered_to(wid, 1)[0]
        r = self.get("/v1/webhooks/%s/deliveries/%s" % (wid, d["id"]))
        self.assertEqual(r.status, 200)
        one = r.json
        self.assertEqual(one["payload"], event["json"])
        self.assertEqual(one["event_id"], event["id"])
        self.assertEqual(one["payload"]["data"]["response"], self.get_response(rid).json)
        self.assertEqual({k: v for k, v in one.items() if k != "payload"}, d)

    def test_retry_sends_the_same_event_again(self):
        wid, _ = self.subscribe_rx()
        self.respond(1)
        first = self.rx.wait_for(lambda e: len(e) >= 1)[0]
        d = self.delivered_to(wid, 1)[0]
        r = self.post("/v1/webhooks/%s/deliveries/%s/retry" % (wid, d["id"]))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json["id"], d["id"])
        self.assertIn(r.json["status"], ("pending", "sending", "delivered"))
        again = self.rx.wait_for(lambda e: len(e) >= 2)[1]
        self.assertEqual(again["id"], first["id"])
        self.assertEqual(again["body"], first["body"])
        self.assertTrue(again["verified"])
        done = wait_until(lambda: (lambda x: x if x["attempts"] == 2 and x["status"] == "delivered" else None)(
            self.get("/v1/webhooks/%s/deliveries/%s" % (wid, d["id"])).json), what="the retry recorded")
        self.assertEqual(done["last_status"], 204)

    def test_retry_of_a_delivery_being_sent_is_409(self):
        wid, _ = self.subscribe_rx()
        self.rx.hold = threading.Event()
        self.respond(1)
        self.rx.wait_in_progress(1)
        d = wait_until(lambda: self.deliveries(wid, "?status=sending")["deliveries"], what="sending")[0]
        self.assertProblem(self.post("/v1/webhooks/%s/deliveries/%s/retry" % (wid, d["id"])), 409,
                           "delivery_in_flight")
        self.rx.hold.set()
        self.delivered_to(wid, 1)

    def test_replay_a_window(self):
        wid, _ = self.subscribe_rx()
        start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1)
        self.respond(3)
        first = self.rx.wait_for(lambda e: len(e) >= 3)
        self.delivered_to(wid, 3)
        end = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=1)
        # A window before them replays nothing.
        r = self.post("/v1/webhooks/%s/replay" % wid, {"from": iso(start - datetime.timedelta(days=2)),
                                                       "to": iso(start - datetime.timedelta(days=1))})
        self.assertEqual(r.json, {"replayed": 0})
        r = self.post("/v1/webhooks/%s/replay" % wid, {"from": iso(start), "to": iso(end)})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json, {"replayed": 3})
        events = self.rx.wait_for(lambda e: len(e) >= 6)
        self.assertEqual(sorted(e["id"] for e in events[3:]), sorted(e["id"] for e in first))
        self.assertTrue(all(e["verified"] for e in events))
        wait_until(lambda: all(d["attempts"] == 2 and d["status"] == "delivered"
                               for d in self.deliveries(wid)["deliveries"]), what="replays recorded")

    def test_rotation_overlap_then_only_the_new_secret(self):
        wid, created = self.subscribe_rx()
        old = created["secret"]
        r = self.post("/v1/webhooks/%s/rotate-secret" % wid, {"overlap_hours": 24})
        self.assertEqual(r.status, 200, r.body)
        new = r.json["secret"]
        self.rx.secrets.append(new)
        self.respond(1)
        during = self.rx.wait_for(lambda e: len(e) >= 1)[0]
        self.assertEqual(len(during["headers"]["webhook-signature"].split(" ")), 2)
        self.assertTrue(verify(old, during["headers"], during["body"]))
        self.assertTrue(verify(new, during["headers"], during["body"]))
        self.assertEqual(sorted(during["verified_with"]), sorted([old, new]))
        # The overlap ends: aged in the database rather than waited for. The sender keeps a copy of
        # each subscription, refreshed when a commit wakes it (and every second): once this
        # delivery's outcome is recorded, the next claim comes from the next response's wake.
        self.delivered_to(wid, 1)
        self.assertEqual(db_execute(self.daemon, "UPDATE webhooks SET old_secret_until = ? WHERE id = ?",
                                    (1, wid)), 1)
        self.assertIsNone(self.get("/v1/webhooks/" + wid).json["secret_rotated_until"])
        self.respond(1)
        after = self.rx.wait_for(lambda e: len(e) >= 2)[1]
        self.assertEqual(len(after["headers"]["webhook-signature"].split(" ")), 1)
        self.assertFalse(verify(old, after["headers"], after["body"]))
        self.assertTrue(verify(new, after["headers"], after["body"]))
        self.assertEqual(after["verified_with"], [new])

    def test_paused_records_nothing_and_resumed_delivers(self):
        wid, _ = self.subscribe_rx()
        body = {"url": self.rx.url, "events": ["response.created"], "surveys": [self.sid]}
        self.assertEqual(self.put(wid, dict(body, enabled=False)).status, 200)
        self.respond(1)
        # A second, enabled subscription to the same survey: once it has its delivery, the paused
        # one would have had its own (same transaction) if it took any.
        witness, _ = self.subscribe_rx()
        self.respond(1)
        self.delivered_to(witness, 1)
        self.assertEqual(self.deliveries(wid)["deliveries"], [])
        self.assertEqual(self.get("/v1/webhooks/" + wid).json["backlog"], {"pending": 0, "oldest_at": None})
        self.assertEqual(self.put(wid, dict(body, enabled=True)).status, 200)
        rid = self.respond(1)[0]
        d = self.delivered_to(wid, 1)
        self.assertEqual([x["subject"] for x in d], [rid])


SNIPPET_HARNESS_PY = """
import json, sys
{snippet}
headers = json.load(open(sys.argv[1]))
body = open(sys.argv[2], "rb").read()
print("valid" if verify(sys.argv[3], headers, body) else "invalid")
"""

SNIPPET_HARNESS_JS = """
const fs = require("node:fs");
{snippet}
const headers = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const body = fs.readFileSync(process.argv[3]);
console.log(verify(process.argv[4], headers, body) ? "valid" : "invalid");
"""


def readme_snippets():
    """The Python and the JavaScript block of README.md's "Webhooks" section."""
    with open(os.path.join(REPO_ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"^## Webhooks\n(.*?)(?=^## )", text, re.S | re.M)
    if m is None:
        raise AssertionError("README.md has no '## Webhooks' section")
    blocks = dict(re.findall(r"^```(python|js)\n(.*?)^```", m.group(1), re.S | re.M))
    return blocks.get("python"), blocks.get("js")


class ReadmeSignatureCheckTests(WebhookTest):
    """The README's receiver checks, run against a real delivery, so the docs cannot rot."""

    def test_snippets_are_short(self):
        py, js = readme_snippets()
        self.assertIsNotNone(py, "no ```python block in README's Webhooks section")
        self.assertIsNotNone(js, "no ```js block in README's Webhooks section")
        self.assertLessEqual(len(py.strip().splitlines()), 10, py)
        self.assertLessEqual(len(js.strip().splitlines()), 10, js)
        self.assertIn("compare_digest", py)
        self.assertIn("timingSafeEqual", js)
        self.assertIn("node:crypto", js)

    def run_snippet(self, kind, folder, headers, body, secret):
        py, js = readme_snippets()
        hpath, bpath = os.path.join(folder, "headers.json"), os.path.join(folder, "body")
        with open(hpath, "w") as f:
            json.dump(headers, f)
        with open(bpath, "wb") as f:
            f.write(body)
        if kind == "python":
            script = os.path.join(folder, "check.py")
            with open(script, "w") as f:
                f.write(SNIPPET_HARNESS_PY.format(snippet=py))
            argv = [sys.executable, script, hpath, bpath, secret]
        else:
            script = os.path.join(folder, "check.js")
            with open(script, "w") as f:
                f.write(SNIPPET_HARNESS_JS.replace("{snippet}", js))
            argv = ["node", script, hpath, bpath, secret]
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        return p.stdout.decode().strip()

    def test_snippets_verify_a_real_delivery(self):
        if shutil.which("node") is None:
            self.fail("node is needed to check the README's Node snippet (CI has it: tests/browser)")
        with Receiver() as rx:
            sid = uid("readme")
            self.put_survey(sid, DEFINITION)
            wid, created = self.subscribe(rx.url, surveys=[sid])
            secret = created["secret"]
            rx.secrets.append(secret)
            self.post_ok(sid, {"answers": {"rec": 10, "why": "Ünïcode ✓ \"quoted\""}})
            event = rx.wait_for(lambda e: len(e) >= 1)[0]
            self.assertTrue(event["verified"])
        headers = {k: event["headers"][k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}
        folder = tempfile.mkdtemp(prefix="surveyd-readme-sig-")
        self.addCleanup(shutil.rmtree, folder, True)
        _, other = self.subscribe("http://127.0.0.1:9/")
        for kind in ("python", "js"):
            with self.subTest(kind=kind):
                self.assertEqual(self.run_snippet(kind, folder, headers, event["body"], secret), "valid")
                self.assertEqual(self.run_snippet(kind, folder, headers, event["body"] + b" ", secret), "invalid")
                self.assertEqual(self.run_snippet(kind, folder, headers, event["body"], other["secret"]), "invalid")
                stale = dict(headers, **{"webhook-timestamp": str(int(headers["webhook-timestamp"]) - 3600)})
                self.assertEqual(self.run_snippet(kind, folder, stale, event["body"], secret), "invalid")


if __name__ == "__main__":
    unittest.main()
