"""Webhook delivery (issue 17): the outbox's sender under the conditions it exists for, on both
backends, with the real receiver (webhook_receiver.py: http.server on loopback, every signature
checked with Python's hmac).

Checked: a delivery carries the Standard Webhooks headers and a signature that verifies; a failing
receiver gets the same webhook-id on every retry until it answers 2xx; a receiver down until every
event has failed at least 3 times gets every event once it is up again; surveyd killed (-9) while
the receiver holds a request sends everything again after a restart, duplicates sharing their id;
410 Gone disables the subscription, nothing more is sent to it, and enabling it again delivers
what was kept; a delivery whose retry window has closed is dead; an address allowed when the
subscription was saved but not when the attempt connects is refused at connect time, and the
receiver gets nothing; a receiver that never answers does not delay a 201; the /metrics series
move. PostgreSQL only: two daemons on one database deliver each event once, and a response's
events in order.

Synchronisation is on state (the receiver's requests, GET .../deliveries, /metrics), never on time:
the daemon runs with --webhook-retry-base-ms 100 so that retries come quickly, and a retry window
is closed by ageing window_start in the database."""

import json
import os
import re
import sys
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import (ADMIN_TOKEN, INGEST_TOKEN, BaseAPITest, Daemon, db_execute, parse_time, run_cli,  # noqa: E402
                     uid)
from webhook_receiver import Receiver  # noqa: E402

WEBHOOK_ARGS = ("--webhook-allow-private", "--webhook-retry-base-ms", "100")
EVENTS = ["response.created", "response.updated", "response.deleted"]
DEFINITION = {"title": "Delivery", "questions": [{"id": "rec", "type": "nps"}, {"id": "why", "type": "text"}]}
SUBMITTED = "2026-11-02T10:00:00Z"
EVENT_ID = re.compile(r"^msg_[a-z2-7]{26}$")
HOUR_MS = 3600 * 1000
WAIT = 60.0


def wait_until(predicate, timeout=WAIT, what="condition", poll=0.05):
    """Polls predicate() until it returns something true; returns it. The poll interval only
    bounds how soon a change is seen: the state itself is what is waited for."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("not met within %.0f s: %s" % (timeout, what))
        time.sleep(poll)


class Client:
    """Subscriptions, events and the outbox of one daemon, through the API."""

    def __init__(self, test, daemon):
        self.t = test
        self.d = daemon

    def req(self, method, path, body=None, token=ADMIN_TOKEN):
        return self.d.req(method, path, body, token=token)

    def survey(self):
        sid = uid("whd")
        r = self.req("PUT", "/v1/surveys/" + sid, DEFINITION)
        self.t.assertEqual(r.status, 201, r.body[:300])
        return sid

    def subscribe(self, rx, sid, wid=None, events=EVENTS):
        wid = wid or uid("wh")
        r = self.req("PUT", "/v1/webhooks/" + wid, {"url": rx.url, "events": events, "surveys": [sid]})
        self.t.assertEqual(r.status, 201, r.body[:500])
        rx.secrets.append(r.json["secret"])
        return wid

    def post(self, sid, i=0):
        r = self.req("POST", "/v1/surveys/%s/responses" % sid,
                     {"answers": {"rec": i % 11}, "submitted_at": SUBMITTED}, token=INGEST_TOKEN)
        self.t.assertEqual(r.status, 201, r.body[:300])
        return r.json["id"]

    def patch(self, rid, text):
        r = self.req("PATCH", "/v1/responses/" + rid, {"answers": {"why": text}}, token=INGEST_TOKEN)
        self.t.assertEqual(r.status, 200, r.body[:300])

    def webhook(self, wid):
        r = self.req("GET", "/v1/webhooks/" + wid)
        self.t.assertEqual(r.status, 200, r.body[:300])
        return r.json

    def deliveries(self, wid):
        """Every delivery of wid, newest first."""
        out, before = [], None
        while True:
            path = "/v1/webhooks/%s/deliveries?limit=100" % wid
            if before:
                path += "&before=" + urllib.parse.quote(before, safe="")
            r = self.req("GET", path)
            self.t.assertEqual(r.status, 200, r.body[:300])
            out += r.json["deliveries"]
            before = r.json.get("next_before")
            if not r.json["deliveries"] or not before:
                return out

    def metrics(self):
        r = self.d.req("GET", "/metrics")
        self.t.assertEqual(r.status, 200)
        series = {}
        for line in r.body.decode().splitlines():
            if line.startswith("surveyd_webhook_"):
                name, value = line.rsplit(" ", 1)
                series[name] = float(value)
        return series


def ids_of(events):
    return [e["id"] for e in events]


class DeliveryBase(BaseAPITest):
    daemon_args = WEBHOOK_ARGS

    def setUp(self):
        self.api = Client(self, self.daemon)


class SignedDeliveryTests(DeliveryBase):

    def test_delivery_is_signed_and_verifies_with_pythons_hmac(self):
        api = self.api
        sid = api.survey()
        with Receiver() as rx:
            wid = api.subscribe(rx, sid)
            rid = api.post(sid)
            events = rx.wait_for(lambda ev: len(ev) >= 1)
            e = events[0]
            self.assertTrue(e["verified"], e["headers"])
            self.assertEqual(e["path"], "/hook")
            h = e["headers"]
            self.assertRegex(h["webhook-id"], EVENT_ID)
            self.assertTrue(h["webhook-signature"].startswith("v1,"), h)
            self.assertEqual(len(h["webhook-signature"].split(" ")), 1, "one secret, one signature")
            self.assertLessEqual(abs(int(h["webhook-timestamp"]) - time.time()), 60)
            self.assertEqual(h["content-type"], "application/json")
            self.assertTrue(h["user-agent"].startswith("surveyd-webhooks/"), h)
            self.assertNotIn("expect", h)
            self.assertEqual(e["json"]["type"], "response.created")
            self.assertEqual(e["json"]["data"]["response"]["id"], rid)
            # A tampered body or another secret does not verify: the check can fail.
            from webhook_receiver import verify
            self.assertFalse(verify(rx.secrets[0], h, e["body"] + b" "))
            self.assertFalse(verify("whsec_" + "A" * 32, h, e["body"]))
            d = wait_until(lambda: [x for x in api.deliveries(wid) if x["status"] == "delivered"], what="delivered")
            self.assertEqual(d[0]["event_id"], h["webhook-id"])
            self.assertEqual(d[0]["attempts"], 1)
            self.assertEqual(d[0]["last_status"], 204)

    def test_failed_attempts_are_retried_with_the_same_id_until_2xx(self):
        api = self.api
        sid = api.survey()
        before = api.metrics()
        with Receiver() as rx:
            answers = iter([500, 503, 429])
            rx.status = lambda event: next(answers, 200)
            wid = api.subscribe(rx, sid)
            api.post(sid)
            events = rx.wait_for(lambda ev: any(e["status"] == 200 for e in ev))
            self.assertEqual([e["status"] for e in events], [500, 503, 429, 200])
            self.assertEqual(len(set(ids_of(events))), 1, "every retry carries the same webhook-id")
            self.assertTrue(all(e["verified"] for e in events))
            self.assertEqual(len({e["body"] for e in events}), 1, "the same body every time")
            # Each attempt is signed afresh: its timestamp is when it was made.
            stamps = [int(e["headers"]["webhook-timestamp"]) for e in events]
            self.assertEqual(stamps, sorted(stamps))
            d = wait_until(lambda: [x for x in api.deliveries(wid) if x["status"] == "delivered"], what="delivered")
            self.assertEqual(d[0]["attempts"], 4)
            m = wait_until(lambda: (lambda m: m if m['surveyd_webhook_deliveries_total{result="delivered"}']
                                    > before['surveyd_webhook_deliveries_total{result="delivered"}'] else None)(api.metrics()),
                           what="metrics count the delivery")
            self.assertGreaterEqual(m['surveyd_webhook_deliveries_total{result="failed"}']
                                    - before['surveyd_webhook_deliveries_total{result="failed"}'], 3)
            self.assertGreaterEqual(m["surveyd_webhook_retries_total"] - before["surveyd_webhook_retries_total"], 3)
            self.assertGreater(m["surveyd_webhook_delivery_latency_seconds_count"],
                               before["surveyd_webhook_delivery_latency_seconds_count"])

    def test_receiver_down_then_up_gets_every_event(self):
        api = self.api
        sid = api.survey()
        with Receiver() as rx:
            wid = api.subscribe(rx, sid)
            rx.down()
            rids = [api.post(sid, i) for i in range(5)]

            def all_failed_thrice():
                ds = api.deliveries(wid)
                return len(ds) == 5 and all(d["attempts"] >= 3 and d["status"] in ("pending", "sending") for d in ds) and ds

            ds = wait_until(all_failed_thrice, what="every delivery failed 3 times")
            for d in ds:
                if d["status"] == "pending":
                    self.assertIsNotNone(d["last_error"], d)
            # The gauge is the sender's count, refreshed every second: it may lag the listing.
            wait_until(lambda: api.metrics()["surveyd_webhook_queue_depth"] >= 5, what="the queue depth gauge")
            self.assertEqual(rx.events, [])
            rx.up()
            events = rx.wait_for(lambda ev: len({e["json"]["data"]["response"]["id"] for e in ev}) == 5, timeout=90)
            self.assertEqual({e["json"]["data"]["response"]["id"] for e in events}, set(rids))
            self.assertTrue(all(e["verified"] for e in events))
            wait_until(lambda: all(d["status"] == "delivered" for d in api.deliveries(wid)), what="all delivered")
            wait_until(lambda: api.metrics()["surveyd_webhook_queue_depth"] == 0, what="queue empty")

    def test_slow_receiver_does_not_delay_201s(self):
        api = self.api
        sid = api.survey()
        with Receiver() as rx:
            rx.hold = threading.Event()
            wid = api.subscribe(rx, sid)
            api.post(sid)
            rx.wait_in_progress(1)
            # The receiver now holds a request (for as long as the test wants): ingest goes on.
            # No time bound needed: the hold is released only when the test ends, so a 201 that
            # waited for the receiver would never come (the client's timeout fails the test).
            for i in range(20):
                api.post(sid, i)
            self.assertFalse(rx.hold.is_set())
            self.assertGreaterEqual(rx.in_progress, 1)
            self.assertGreaterEqual(api.metrics()["surveyd_webhook_in_flight"], 1)
            rx.hold.set()
            rx.hold = None
            rx.wait_for(lambda ev: len({e["id"] for e in ev if e["status"] == 204}) == 21)
            wait_until(lambda: all(d["status"] == "delivered" for d in api.deliveries(wid)), what="all delivered")


class GoneTests(DeliveryBase):

    def test_410_disables_the_subscription_and_stops_deliveries(self):
        api = self.api
        sid = api.survey()
        before = api.metrics()
        with Receiver(status=410) as rx, Receiver() as sentinel:
            wid = api.subscribe(rx, sid)
            api.post(sid)
            rx.wait_for(lambda ev: len(ev) >= 1)
            w = wait_until(lambda: (lambda w: w if not w["enabled"] else None)(api.webhook(wid)), what="disabled")
            self.assertEqual(w["disabled_reason"], "gone")
            self.assertIsNotNone(w["disabled_at"])
            seen = len(rx.events)
            # A second subscription on the same survey shows when the sender has been through the
            # new events: the disabled one got none of them.
            api.subscribe(sentinel, sid)
            rids = [api.post(sid, i) for i in range(3)]
            sentinel.wait_for(lambda ev: {e["json"]["data"]["response"]["id"] for e in ev} >= set(rids))
            self.assertEqual(len(rx.events), seen, "a disabled subscription got a delivery")
            ds = api.deliveries(wid)
            self.assertGreaterEqual(len(ds), 1)
            self.assertTrue(all(d["status"] == "pending" for d in ds), ds)
            m = api.metrics()
            self.assertEqual(m["surveyd_webhook_disabled_total"] - before["surveyd_webhook_disabled_total"], 1)
            # Enabled again (a PUT), what was kept is delivered.
            rx.status = 204
            r = api.req("PUT", "/v1/webhooks/" + wid, {"url": rx.url, "events": EVENTS, "surveys": [sid]})
            self.assertEqual(r.status, 200, r.body[:300])
            self.assertTrue(api.webhook(wid)["enabled"])
            rx.wait_for(lambda ev: len({e["id"] for e in ev if e["status"] == 204}) == len(ds))
            wait_until(lambda: all(d["status"] == "delivered" for d in api.deliveries(wid)), what="all delivered")


class RestartTests(unittest.TestCase):
    """Each test runs its own daemon: they stop, kill and restart it."""

    def daemon(self, *extra):
        d = Daemon(extra_args=WEBHOOK_ARGS + extra)
        self.addCleanup(d.cleanup)
        d.start()
        return d

    def test_kill_9_while_the_receiver_holds_a_request_then_restart(self):
        d = self.daemon()
        api = Client(self, d)
        sid = api.survey()
        with Receiver() as rx:
            rx.hold = threading.Event()
            wid = api.subscribe(rx, sid)
            rids = [api.post(sid, i) for i in range(6)]
            # Four (--webhook-concurrency's default) are prepared and held; two wait in the log.
            rx.wait_in_progress(4)
            held = {x["event_id"] for x in api.deliveries(wid)}
            self.assertEqual(len(held), 4)
            self.assertEqual(api.webhook(wid)["backlog"]["pending"], 6)
            d.kill()
            # The held requests are answered into a dead connection: the receiver counts them,
            # surveyd never learnt of it, so they must come again under the same id.
            rx.hold.set()
            rx.hold = None
            if harness.is_postgres():
                # A shared store is not requeued at start (another instance may be sending): the
                # dead process's leases end instead. Ended now rather than waited for.
                db_execute(d, "UPDATE webhook_deliveries SET lease_until = 1 WHERE state = 1")
            d.start()
            events = rx.wait_for(lambda ev: len({e["id"] for e in ev if e["status"] == 204}) >= 6, timeout=90)
            self.assertLessEqual(held, {e["id"] for e in events}, "the held ones come again")
            self.assertEqual(len({e["id"] for e in events}), 6, "every event, no other id")
            by_id = {}
            for e in events:
                by_id.setdefault(e["id"], set()).add(e["body"])
            self.assertTrue(all(len(bodies) == 1 for bodies in by_id.values()), "a duplicate differs from its original")
            self.assertEqual({json.loads(next(iter(b)))["data"]["response"]["id"] for b in by_id.values()}, set(rids))
            wait_until(lambda: all(x["status"] == "delivered" for x in api.deliveries(wid)), what="all delivered")
            if not harness.is_postgres():
                self.assertIn("sent again", d.run_stderr())

    def test_sigterm_lets_an_attempt_in_flight_finish_and_records_it(self):
        d = self.daemon()
        api = Client(self, d)
        sid = api.survey()
        with Receiver() as rx:
            rx.hold = threading.Event()
            wid = api.subscribe(rx, sid)
            api.post(sid)
            rx.wait_in_progress(1)
            stopper = threading.Thread(target=d.stop)
            stopper.start()
            self.assertTrue(d.wait_for_log(lambda line: "letting 1 attempts in flight finish" in line, timeout=30))
            # The sender is stopping while the receiver holds the attempt: it is let finish.
            rx.hold.set()
            rx.hold = None
            stopper.join(60)
            self.assertFalse(stopper.is_alive())
            first = rx.events[0]["id"]
            d.start()
            # Recorded before the exit: delivered once, not sent again by the next start.
            x = api.deliveries(wid)
            self.assertEqual([(y["status"], y["attempts"]) for y in x], [("delivered", 1)])
            api.post(sid)
            rx.wait_for(lambda ev: len(ev) >= 2)
            self.assertEqual([e["id"] for e in rx.events].count(first), 1)
            self.assertNotIn("sent again", d.run_stderr())

    def test_delivered_and_dead_older_than_keep_days_are_pruned(self):
        d = self.daemon("--webhook-keep-days", "1")
        api = Client(self, d)
        sid = api.survey()
        with Receiver() as rx:
            rx.status = lambda event: 204 if len(rx.events) < 2 else 500
            wid = api.subscribe(rx, sid)
            rids = [api.post(sid, i) for i in range(2)]
            rx.wait_for(lambda ev: len(ev) >= 2)
            third = api.post(sid, 2)
            rx.wait_for(lambda ev: len(ev) >= 3)  # the third one fails: pending
            wait_until(lambda: sorted(x["status"] for x in api.deliveries(wid)) == ["delivered", "delivered", "pending"],
                       what="two delivered, one pending")
            d.stop()
            # Two days old: one delivered, and the pending one (a pending delivery is never pruned).
            self.assertEqual(db_execute(d, "UPDATE webhook_deliveries SET created_at = created_at - ? WHERE subject = ?"
                                           " OR state = 0", (2 * 24 * HOUR_MS, rids[0])), 2)
            d.start()
            left = wait_until(lambda: (lambda ds: ds if len(ds) == 2 else None)(api.deliveries(wid)), what="pruned")
            self.assertEqual(sorted(x["subject"] for x in left), sorted([rids[1], third]))
            self.assertIn("pruned 1 delivered or dead deliveries older than 1 days", d.run_stderr())

    def test_retry_window_closed_is_dead(self):
        d = self.daemon("--webhook-retry-hours", "1")
        api = Client(self, d)
        sid = api.survey()
        with Receiver(status=500) as rx:
            wid = api.subscribe(rx, sid)
            api.post(sid)
            rx.wait_for(lambda ev: len(ev) >= 2)
            before = api.metrics()['surveyd_webhook_deliveries_total{result="dead"}']
            d.stop()
            # The window opened 2 h ago: the next failure is past it.
            self.assertEqual(db_execute(d, "UPDATE webhook_deliveries SET window_start = window_start - ?",
                                        (2 * HOUR_MS,)), 1)
            d.start()
            ds = wait_until(lambda: (lambda ds: ds if ds and ds[0]["status"] == "dead" else None)(api.deliveries(wid)),
                            what="dead")
            self.assertEqual(ds[0]["last_status"], 500)
            self.assertEqual(api.metrics()['surveyd_webhook_deliveries_total{result="dead"}'], before + 1)
            seen = len(rx.events)
            # Nothing more is attempted: a manual retry is the only way back (a new window).
            r = api.req("POST", "/v1/webhooks/%s/deliveries/%s/retry" % (wid, ds[0]["id"]))
            self.assertIn(r.status, (200, 202), r.body[:300])
            rx.wait_for(lambda ev: len(ev) > seen)

    def test_backoff_doubles_with_jitter_up_to_an_hour(self):
        """After the n-th failure the next attempt is due min(base * 2^(n-1), 1 h) * [0.5, 1.5)
        later. base is 60 s here, so a delivery stays pending between attempts; each next attempt
        is made due at once in the database (the daemon stopped) instead of waited for."""
        d = self.daemon("--webhook-retry-base-ms", "60000")
        api = Client(self, d)
        sid = api.survey()
        with Receiver(status=503) as rx:
            wid = api.subscribe(rx, sid)
            api.post(sid)
            for attempts, base_s in ((1, 60), (2, 120), (3, 240), (21, 3600)):
                x = wait_until(lambda: (lambda ds: ds[0] if ds and ds[0]["attempts"] == attempts and ds[0]["status"] == "pending"
                                        else None)(api.deliveries(wid)), what="attempt %d recorded" % attempts)
                self.assertEqual(x["last_status"], 503)
                delay = (parse_time(x["next_attempt_at"]) - parse_time(x["last_attempt_at"])).total_seconds()
                self.assertGreaterEqual(delay, 0.5 * base_s - 0.001, (attempts, x))
                self.assertLess(delay, 1.5 * base_s, (attempts, x))
                d.stop()
                # Due now; before the last round, as if it had failed 20 times already (the cap).
                bump = 17 if attempts == 3 else 0
                self.assertEqual(db_execute(d, "UPDATE webhook_deliveries SET next_attempt_at = 1, "
                                               "attempts = attempts + ?", (bump,)), 1)
                d.start()
            self.assertEqual(len({e["id"] for e in rx.events}), 1)

    def test_connect_time_check_refuses_a_private_address(self):
        d = self.daemon()
        api = Client(self, d)
        sid = api.survey()
        with Receiver() as rx:
            wid = api.subscribe(rx, sid)
            d.stop()
            # Restarted without --webhook-allow-private: the subscription to 127.0.0.1 stays, but
            # no attempt may connect there.
            d.extra_args = ["--webhook-retry-base-ms", "100"]
            d.start()
            api.post(sid)
            ds = wait_until(lambda: (lambda ds: ds if ds and ds[0]["attempts"] >= 2 and ds[0]["last_error"] else None)(
                api.deliveries(wid)), what="refused attempts")
            self.assertIn("address not allowed (loopback)", ds[0]["last_error"])
            self.assertIsNone(ds[0]["last_status"])
            self.assertEqual(rx.events, [], "the receiver got a request from a refused attempt")
            self.assertIn(ds[0]["status"], ("pending", "sending"))


class ConfigTests(unittest.TestCase):

    def test_flags_and_environment_are_checked(self):
        for args, env, fragment in (
                (["--webhook-retry-hours", "0"], None, "--webhook-retry-hours must be a number from 1 to 720"),
                (["--webhook-retry-hours", "721"], None, "--webhook-retry-hours"),
                (["--webhook-retry-base-ms", "9"], None, "--webhook-retry-base-ms must be a number from 10 to 3600000"),
                (["--webhook-concurrency", "65"], None, "--webhook-concurrency must be a number from 1 to 64"),
                (["--webhook-queue-max", "99"], None, "--webhook-queue-max must be a number from 100 to 10000000"),
                (["--webhook-keep-days", "366"], None, "--webhook-keep-days must be a number from 1 to 365"),
                (["--webhook-keep-days", "x"], None, "--webhook-keep-days"),
                ([], {"SURVEYD_WEBHOOK_CONCURRENCY": "0"}, "--webhook-concurrency"),
                ([], {"SURVEYD_WEBHOOK_ALLOW_PRIVATE": "maybe"}, "SURVEYD_WEBHOOK_ALLOW_PRIVATE must be 1 or 0")):
            p = run_cli(["serve", "--listen", "127.0.0.1:0"] + args, env=env)
            self.assertEqual(p.returncode, 2, (args, env, p.stderr))
            self.assertIn(fragment, p.stderr.decode(), (args, env))

    def test_help_names_every_flag_and_variable(self):
        text = run_cli(["--help"]).stdout.decode()
        for name in ("allow-private", "retry-hours", "retry-base-ms", "concurrency", "queue-max", "keep-days"):
            self.assertIn("--webhook-" + name, text)
            self.assertIn("SURVEYD_WEBHOOK_" + name.upper().replace("-", "_"), text)

    def test_environment_allows_private_targets(self):
        d = Daemon(env={"SURVEYD_WEBHOOK_ALLOW_PRIVATE": "1"}, extra_args=("--webhook-retry-base-ms", "100"))
        self.addCleanup(d.cleanup)
        d.start()
        api = Client(self, d)
        sid = api.survey()
        with Receiver() as rx:
            api.subscribe(rx, sid)
            api.post(sid)
            self.assertTrue(rx.wait_for(lambda ev: len(ev) >= 1)[0]["verified"])


@harness.skip_unless_postgres("two daemons share one database only on PostgreSQL")
class TwoInstancesTests(unittest.TestCase):
    RESPONSES = 40

    def test_two_daemons_deliver_each_event_once_and_in_order(self):
        a = Daemon(extra_args=WEBHOOK_ARGS)
        self.addCleanup(a.cleanup)
        a.start()
        b = Daemon(data_dir=a.data_dir, extra_args=WEBHOOK_ARGS)
        self.addCleanup(b.cleanup)
        b.start()
        api_a, api_b = Client(self, a), Client(self, b)
        sid = api_a.survey()
        with Receiver() as rx:
            wid = api_a.subscribe(rx, sid)
            rids = []
            for i in range(self.RESPONSES):
                api = (api_a, api_b)[i % 2]
                rid = api.post(sid, i)
                (api_b, api_a)[i % 2].patch(rid, "second look %d" % i)
                rids.append(rid)
            events = rx.wait_for(lambda ev: len(ev) >= 2 * self.RESPONSES, timeout=120)
            ids = ids_of(events)
            self.assertEqual(len(ids), len(set(ids)), "an event was sent twice (both instances attempted it)")
            self.assertTrue(all(e["verified"] and e["status"] == 204 for e in events))
            order = {}
            for e in events:
                order.setdefault(e["json"]["data"]["response"]["id"], []).append(e["json"]["type"])
            self.assertEqual(set(order), set(rids))
            for rid, types in order.items():
                self.assertEqual(types, ["response.created", "response.updated"], rid)
            wait_until(lambda: all(x["status"] == "delivered" for x in api_a.deliveries(wid)), what="all delivered")
            # Between them each delivery was counted once.
            da = api_a.metrics()['surveyd_webhook_deliveries_total{result="delivered"}']
            db = api_b.metrics()['surveyd_webhook_deliveries_total{result="delivered"}']
            self.assertEqual(da + db, 2 * self.RESPONSES)
            b.stop()
            a.stop()


if __name__ == "__main__":
    unittest.main()
