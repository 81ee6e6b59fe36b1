"""Webhook events (issue 17): every change of a response, survey or customer is logged in the
transaction of the change (one narrow row, while any subscription exists), and the sender prepares
it into one delivery per matching subscription at the pace that subscription's receiver takes them,
on both backends.

Payloads are read back two ways: from the outbox (GET /v1/webhooks/{id}/deliveries and .../{d}, the
store's own record, once the subscription's log is drained: `drained` waits until its backlog holds
nothing but its open deliveries, i.e. every logged event was prepared or passed over) for what must
or must not have been queued, and from the real receiver (webhook_receiver.py: http.server on loopback checking signatures
with Python's hmac) for what is sent. A subscription meant to keep its deliveries queued points at a
loopback port bound but never listening: every connection to it is refused.

Checked: each event type's Standard body carries exactly the JSON GET returns for the same object
(response.deleted: as it was before); a write that fails (409, 422) or an Idempotency-Key replay
queues nothing; filters (max, min, yes_no, a skipped question), survey scoping and event subsets;
the Slack shape ({"text"} only) for every event type and NPS band; erasure drops the customer's
queued deliveries and customer.erased carries only the documented fields; a response's updated
event is delivered after its created one even when the receiver fails the created once; at the
outbox cap events are dropped and counted while ingest goes on."""

import json
import re
import socket
import threading
import time
import unittest
import urllib.parse

from harness import (ADMIN_TOKEN, INGEST_TOKEN, READ_TOKEN, BaseAPITest, Daemon, db_query, skip_unless_sqlite, uid)
from test_hosted_page import HostedPageBase
from webhook_receiver import Receiver

WEBHOOK_ARGS = ("--webhook-allow-private", "--webhook-retry-base-ms", "100")

DEFINITION = {
    "title": "Support",
    "questions": [
        {"id": "rec", "type": "nps"},
        {"id": "sat", "type": "csat", "scale": 5},
        {"id": "effort", "type": "ces", "scale": 7},
        {"id": "fixed", "type": "yes_no"},
        {"id": "why", "type": "text", "max_length": 2000},
    ],
}
SUBMITTED = "2026-11-02T10:00:00Z"
RFC3339_MS_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
EVENT_ID = re.compile(r"^msg_[a-z2-7]{26}$")


class RefusingPort:
    """A loopback port bound and never listening: connections to it are refused at once, for as
    long as the test holds it (no other process can take the port meanwhile)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.url = "http://127.0.0.1:%d/hook" % self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


class WebhookEventsBase(BaseAPITest):
    daemon_args = WEBHOOK_ARGS

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.refusing = RefusingPort()
        cls.addClassCleanup(cls.refusing.close)

    # ---- subscriptions ----
    def subscribe(self, url=None, events=None, surveys=None, filter=None, format=None):
        wid = uid("wh")
        body = {"url": url or self.refusing.url,
                "events": events or ["response.created", "response.updated", "response.deleted"]}
        if surveys is not None:
            body["surveys"] = surveys
        if filter is not None:
            body["filter"] = filter
        if format is not None:
            body["format"] = format
        r = self.req("PUT", "/v1/webhooks/" + wid, body, token=ADMIN_TOKEN)
        self.assertEqual(r.status, 201, r.body[:500])
        self.assertTrue(r.json["secret"].startswith("whsec_"), r.json)
        return wid, r.json["secret"]

    def receiving(self, rx, **kw):
        wid, secret = self.subscribe(url=rx.url, **kw)
        rx.secrets.append(secret)
        return wid

    # ---- the outbox, as the API shows it ----
    def deliveries(self, wid):
        """Every delivery of wid as the list shows it, newest first, page after page."""
        before = None
        while True:
            path = "/v1/webhooks/%s/deliveries?limit=100" % wid
            if before:
                path += "&before=" + urllib.parse.quote(before, safe="")
            r = self.req("GET", path, token=ADMIN_TOKEN)
            self.assertEqual(r.status, 200, r.body[:500])
            yield from r.json["deliveries"]
            before = r.json.get("next")
            if not r.json["deliveries"] or not before:
                return

    def open_deliveries(self, wid):
        return len([d for d in self.deliveries(wid) if d["status"] in ("pending", "sending")])

    def drained(self, wid, timeout=30):
        """Waits until every event logged for wid was prepared (or passed over): its backlog is
        then its open deliveries alone. The sender prepares as soon as a slot is free; a refused
        connection frees it at once. The poll only bounds how soon that is seen."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.req("GET", "/v1/webhooks/" + wid, token=ADMIN_TOKEN)
            self.assertEqual(r.status, 200, r.body[:500])
            if r.json["backlog"]["pending"] == self.open_deliveries(wid):
                again = self.req("GET", "/v1/webhooks/" + wid, token=ADMIN_TOKEN)
                if again.json["backlog"]["pending"] == r.json["backlog"]["pending"]:
                    return
            self.assertLess(time.monotonic(), deadline, "the log of %s was never drained" % wid)
            time.sleep(0.05)

    def queued(self, wid):
        """Every delivery of wid, oldest first, each with its payload parsed (GET .../{d}), once
        the log is drained for it."""
        self.drained(wid)
        out = []
        for d in self.deliveries(wid):
            one = self.req("GET", "/v1/webhooks/%s/deliveries/%s" % (wid, d["id"]), token=ADMIN_TOKEN)
            self.assertEqual(one.status, 200, one.body[:500])
            payload = one.json["payload"]
            out.append(dict(one.json, payload=json.loads(payload) if isinstance(payload, str) else payload))
        return list(reversed(out))

    def queued_types(self, wid):
        return [(d["payload"]["type"], self.subject(d["payload"])) for d in self.queued(wid)]

    @staticmethod
    def subject(payload):
        data = payload["data"]
        if "response" in data:
            return data["response"]["id"]
        if "survey" in data:
            return data["survey"]["id"]
        return data.get("customer")

    # ---- writes ----
    def survey(self, definition=DEFINITION):
        return self.new_survey(definition, prefix="whs")

    def post(self, sid, answers, **fields):
        body = {"answers": answers, "submitted_at": SUBMITTED}
        body.update(fields)
        return self.post_ok(sid, body).json["id"]

    def get_json(self, path):
        r = self.req("GET", path, token=READ_TOKEN)
        self.assertEqual(r.status, 200, r.body[:500])
        return r.json

    def assertStandard(self, event, type_, at_least_ms=None):
        self.assertEqual(set(event), {"type", "timestamp", "data"}, event)
        self.assertEqual(event["type"], type_)
        self.assertRegex(event["timestamp"], RFC3339_MS_UTC)


class StandardPayloadTests(WebhookEventsBase):

    def test_response_events_carry_what_get_shows(self):
        sid = self.survey()
        with Receiver() as rx:
            self.receiving(rx, surveys=[sid])
            rid = self.post(sid, {"rec": 3, "why": "slow \"reply\" \u00e9\u20ac"}, customer="cust-std",
                            channel="chat", agent="agent-7", interaction=uid("ticket"),
                            properties={"plan": "pro", "seats": "3"})
            created = self.get_json("/v1/responses/" + rid)
            events = rx.wait_for(lambda ev: len(ev) >= 1, timeout=30)
            first = events[0]
            self.assertTrue(first["verified"], first["headers"])
            self.assertRegex(first["id"], EVENT_ID)
            self.assertEqual(first["headers"].get("content-type"), "application/json")
            self.assertStandard(first["json"], "response.created")
            self.assertEqual(first["json"]["data"], {"response": created})

            r = self.req("PATCH", "/v1/responses/" + rid, {"answers": {"rec": 9, "fixed": True}},
                         token=INGEST_TOKEN)
            self.assertEqual(r.status, 200, r.body)
            updated = self.get_json("/v1/responses/" + rid)
            self.assertNotEqual(updated, created)
            events = rx.wait_for(lambda ev: len(ev) >= 2, timeout=30)
            self.assertStandard(events[1]["json"], "response.updated")
            self.assertEqual(events[1]["json"]["data"], {"response": updated})
            self.assertNotEqual(events[1]["id"], first["id"])

            self.assertEqual(self.req("DELETE", "/v1/responses/" + rid, token=ADMIN_TOKEN).status, 204)
            events = rx.wait_for(lambda ev: len(ev) >= 3, timeout=30)
            self.assertStandard(events[2]["json"], "response.deleted")
            # As it was just before its deletion.
            self.assertEqual(events[2]["json"]["data"], {"response": updated})
            self.assertEqual(len({e["id"] for e in events}), 3)

    def test_survey_updated_on_create_and_replace_not_on_delete(self):
        sid = uid("whs")
        with Receiver() as rx:
            self.receiving(rx, surveys=[sid], events=["survey.updated"])
            self.put_survey(sid, DEFINITION)
            created = self.get_json("/v1/surveys/" + sid)
            events = rx.wait_for(lambda ev: len(ev) >= 1, timeout=30)
            self.assertStandard(events[0]["json"], "survey.updated")
            self.assertEqual(events[0]["json"]["data"], {"survey": created})
            replaced = dict(DEFINITION, title="Support, renamed")
            self.assertEqual(self.put_survey(sid, replaced).status, 200)
            now = self.get_json("/v1/surveys/" + sid)
            events = rx.wait_for(lambda ev: len(ev) >= 2, timeout=30)
            self.assertEqual(events[1]["json"]["data"], {"survey": now})
        # Deleting a survey is no survey.updated (docs/webhook-events.md).
        wid, _ = self.subscribe(events=["survey.updated"], surveys=[sid])
        self.assertEqual(self.req("DELETE", "/v1/surveys/" + sid, token=ADMIN_TOKEN).status, 204)
        self.assertEqual(self.queued(wid), [])

    def test_one_event_id_for_every_subscription(self):
        sid = self.survey()
        a, _ = self.subscribe(surveys=[sid])
        b, _ = self.subscribe(surveys=[sid])
        rid = self.post(sid, {"rec": 5})
        qa, qb = self.queued(a), self.queued(b)
        self.assertEqual(len(qa), 1)
        self.assertEqual(len(qb), 1)
        self.assertEqual(qa[0]["event_id"], qb[0]["event_id"])
        self.assertRegex(qa[0]["event_id"], EVENT_ID)
        self.assertNotEqual(qa[0]["id"], qb[0]["id"])
        self.assertEqual(qa[0]["payload"], qb[0]["payload"])
        self.assertEqual(qa[0]["payload"]["data"]["response"]["id"], rid)


class NothingForFailedWritesTests(WebhookEventsBase):

    def test_failed_writes_and_replays_queue_nothing(self):
        sid = self.survey()
        wid, _ = self.subscribe(surveys=[sid],
                                events=["response.created", "response.updated", "response.deleted", "survey.updated"])
        ticket = uid("ticket")
        key = uid("key")
        rid = self.post_ok(sid, {"answers": {"rec": 4}, "interaction": ticket},
                           headers={"Idempotency-Key": key}).json["id"]
        # The same Idempotency-Key again: a replay changes nothing.
        again = self.post_response(sid, {"answers": {"rec": 4}, "interaction": ticket},
                                   headers={"Idempotency-Key": key})
        self.assertEqual((again.status, again.json["id"]), (201, rid))
        self.assertEqual(again.headers.get("Idempotent-Replayed"), "true")
        # A second response for the interaction: 409.
        self.assertEqual(self.post_response(sid, {"answers": {"rec": 1}, "interaction": ticket}).status, 409)
        # Invalid answers: 422, on POST and on PATCH.
        self.assertValidation(self.post_response(sid, {"answers": {"rec": 11}}), "answers.rec")
        self.assertValidation(self.req("PATCH", "/v1/responses/" + rid, {"answers": {"sat": 9}},
                                       token=INGEST_TOKEN), "answers.sat")
        # A survey change that stored answers forbid: 409.
        bad = dict(DEFINITION, questions=[dict(q, type="csat") if q["id"] == "rec" else q
                                          for q in DEFINITION["questions"]])
        self.assertEqual(self.put_survey(sid, bad, expect=None).status, 409)
        # Deleting a response that isn't there.
        self.assertEqual(self.req("DELETE", "/v1/responses/" + uid("nope"), token=ADMIN_TOKEN).status, 404)
        self.assertEqual(self.queued_types(wid), [("response.created", rid)])

    def test_paused_subscription_records_nothing(self):
        sid = self.survey()
        wid, _ = self.subscribe(surveys=[sid])
        body = {"url": self.refusing.url, "events": ["response.created"], "surveys": [sid]}
        r = self.req("PUT", "/v1/webhooks/" + wid, dict(body, enabled=False), token=ADMIN_TOKEN)
        self.assertEqual(r.status, 200, r.body)
        self.post(sid, {"rec": 1})
        self.assertEqual(self.queued(wid), [])
        r = self.req("PUT", "/v1/webhooks/" + wid, dict(body, enabled=True), token=ADMIN_TOKEN)
        self.assertEqual(r.status, 200, r.body)
        rid = self.post(sid, {"rec": 2})
        self.assertEqual(self.queued_types(wid), [("response.created", rid)])


class FilterTests(WebhookEventsBase):

    def test_detractors_only(self):
        sid = self.survey()
        wid, _ = self.subscribe(surveys=[sid], filter={"question": "rec", "max": 6})
        ids = {score: self.post(sid, {"rec": score}) for score in (0, 6, 7, 9, 10)}
        self.post(sid, {"sat": 1, "why": "skipped the score"})
        self.assertEqual(self.queued_types(wid), [("response.created", ids[0]), ("response.created", ids[6])])
        # A follow-up that makes a promoter a detractor matches from then on; the filter reads the
        # answers as they are after the change.
        r = self.req("PATCH", "/v1/responses/" + ids[9], {"answers": {"rec": 2}}, token=INGEST_TOKEN)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(self.queued_types(wid)[-1], ("response.updated", ids[9]))

    def test_promoters_by_min_and_yes_no(self):
        sid = self.survey()
        promoters, _ = self.subscribe(surveys=[sid], filter={"question": "rec", "min": 9})
        fixed, _ = self.subscribe(surveys=[sid], filter={"question": "fixed", "min": 1})
        a = self.post(sid, {"rec": 8, "fixed": True})
        b = self.post(sid, {"rec": 9, "fixed": False})
        self.post(sid, {"why": "nothing scored"})
        self.assertEqual(self.queued_types(promoters), [("response.created", b)])
        self.assertEqual(self.queued_types(fixed), [("response.created", a)])

    def test_surveys_and_event_subsets(self):
        mine, other = self.survey(), self.survey()
        scoped, _ = self.subscribe(surveys=[mine])
        deletions, _ = self.subscribe(surveys=[mine, other], events=["response.deleted"])
        a = self.post(mine, {"rec": 5})
        b = self.post(other, {"rec": 5})
        self.assertEqual(self.req("PATCH", "/v1/responses/" + b, {"answers": {"rec": 6}},
                                  token=INGEST_TOKEN).status, 200)
        # Prepared before the deletions: a created event prepared after its response is gone is
        # passed over (DeletedBeforePreparedTests).
        self.drained(scoped)
        for rid in (a, b):
            self.assertEqual(self.req("DELETE", "/v1/responses/" + rid, token=ADMIN_TOKEN).status, 204)
        self.assertEqual(self.queued_types(scoped), [("response.created", a), ("response.deleted", a)])
        self.assertEqual(self.queued_types(deletions), [("response.deleted", a), ("response.deleted", b)])


class SlackTests(WebhookEventsBase):

    def test_slack_lines(self):
        sid = self.survey()
        with Receiver() as rx:
            self.receiving(rx, surveys=[sid], format="slack",
                           events=["response.created", "response.updated", "response.deleted", "survey.updated"])
            expected = []

            def delivered():
                # A response event is rendered as the response is when it is prepared: each change
                # is delivered before the next, so that each line shows the change that caused it.
                return rx.wait_for(lambda ev: len([e for e in ev if e["status"] == 204]) >= len(expected),
                                   timeout=60)

            for score, band in ((3, "Detractor"), (7, "Passive"), (10, "Promoter")):
                rid = self.post(sid, {"rec": score, "why": "the <b>comment</b> & more"}, channel="chat",
                                agent="agent-7")
                expected.append('%s (%d) on %s via chat, agent-7: "the &lt;b&gt;comment&lt;/b&gt; &amp; more"'
                                ' (response %s)' % (band, score, sid, rid))
            csat = self.post(sid, {"sat": 2})
            expected.append("CSAT 2/5 on %s (response %s)" % (sid, csat))
            ces = self.post(sid, {"effort": 6}, agent="agent-9")
            expected.append("CES 6/7 on %s, agent-9 (response %s)" % (sid, ces))
            plain = self.post(sid, {"fixed": True, "why": "x" * 310})
            expected.append('Response on %s: "%s…" (response %s)' % (sid, "x" * 300, plain))
            delivered()
            self.assertEqual(self.req("PATCH", "/v1/responses/" + csat, {"answers": {"sat": 4}},
                                      token=INGEST_TOKEN).status, 200)
            expected.append("Updated: CSAT 4/5 on %s (response %s)" % (sid, csat))
            self.assertEqual(self.req("DELETE", "/v1/responses/" + ces, token=ADMIN_TOKEN).status, 204)
            expected.append("Response %s deleted on %s" % (ces, sid))
            self.put_survey(sid, dict(DEFINITION, title="Renamed"))
            expected.append("Survey %s updated" % sid)
            events = delivered()
        for e in events:
            self.assertTrue(e["verified"])
            self.assertEqual(list(e["json"]), ["text"], e["json"])
        self.assertEqual(sorted(e["json"]["text"] for e in events), sorted(expected))

    def test_slack_customer_erased(self):
        customer = uid("slack-cust")
        sid = self.survey()
        with Receiver() as rx:
            self.receiving(rx, format="slack", events=["customer.erased"])
            self.post(sid, {"rec": 1}, customer=customer)
            self.post(sid, {"rec": 2}, customer=customer)
            r = self.req("DELETE", "/v1/customers/" + customer, token=ADMIN_TOKEN)
            self.assertEqual(r.json, {"deleted": 2})
            events = rx.wait_for(lambda ev: len(ev) >= 1, timeout=30)
        self.assertEqual(events[0]["json"], {"text": "Customer erased (2 responses)"})


class ErasureTests(WebhookEventsBase):

    def test_erasure_drops_their_queued_deliveries(self):
        customer, other = uid("erase-me"), uid("keep-me")
        sid = self.survey()
        queued, _ = self.subscribe(surveys=[sid])
        erased_events, _ = self.subscribe(events=["customer.erased"])
        theirs = [self.post(sid, {"rec": 2, "why": "mine"}, customer=customer) for _ in range(3)]
        self.assertEqual(self.req("PATCH", "/v1/responses/" + theirs[0], {"answers": {"rec": 3}},
                                  token=INGEST_TOKEN).status, 200)
        kept = self.post(sid, {"rec": 8}, customer=other)
        anonymous = self.post(sid, {"rec": 8})
        self.assertEqual(len(self.queued(queued)), 6)
        r = self.req("DELETE", "/v1/customers/" + customer, token=ADMIN_TOKEN)
        self.assertEqual(r.json, {"deleted": 3})
        left = self.queued(queued)
        self.assertEqual([(d["payload"]["type"], self.subject(d["payload"])) for d in left],
                         [("response.created", kept), ("response.created", anonymous)])
        self.assertNotIn(customer, json.dumps(left))
        erased = self.queued(erased_events)
        self.assertEqual(len(erased), 1)
        self.assertStandard(erased[0]["payload"], "customer.erased")
        # Only the documented fields: who, and how many responses went.
        self.assertEqual(erased[0]["payload"]["data"], {"customer": customer, "deleted_responses": 3})

    def test_erased_event_delivered(self):
        customer = uid("erase-rx")
        sid = self.survey()
        with Receiver() as rx:
            self.receiving(rx, events=["customer.erased"])
            self.post(sid, {"rec": 2}, customer=customer)
            self.assertEqual(self.req("DELETE", "/v1/customers/" + customer, token=ADMIN_TOKEN).status, 200)
            events = rx.wait_for(lambda ev: any(e["status"] == 204 for e in ev), timeout=30)
        self.assertTrue(events[0]["verified"])
        self.assertEqual(events[0]["json"]["data"], {"customer": customer, "deleted_responses": 1})


    @skip_unless_sqlite("SQLite's purge searches the database file for the erased customer's traces")
    def test_erased_event_is_no_stale_trace_for_the_purge(self):
        # A queued customer.erased event holds the customer's id by design (until it is delivered):
        # the purge after the erasure must not take it for a stale copy of their data and rewrite
        # the whole database (VACUUM) for it, as it would at every erasure while one is queued.
        wid, _ = self.subscribe(events=["customer.erased"])
        customer = uid("nothing-stored")
        lines = len(self.daemon.stderr_text().splitlines())
        r = self.req("DELETE", "/v1/customers/" + customer, token=ADMIN_TOKEN)
        self.assertEqual((r.status, r.json), (200, {"deleted": 0}))
        self.assertIn({"customer": customer, "deleted_responses": 0},
                      [d["payload"]["data"] for d in self.queued(wid)])
        after = self.daemon.stderr_text().splitlines()[lines:]
        self.assertEqual([line for line in after if "vacuum" in line.lower()], [])

    @skip_unless_sqlite("SQLite's purge searches the database file for the erased customer's traces")
    def test_their_logged_response_ids_are_no_stale_trace_for_the_purge(self):
        # Their responses' created events stay in the log after the erasure, holding the response
        # id alone (passed over when prepared; pruned later): the purge must not rewrite the whole
        # database for them at every erasure.
        sid = self.survey()
        wid, _ = self.subscribe(surveys=[sid])
        customer = uid("logged-ids")
        rids = [self.post(sid, {"rec": 3}, customer=customer) for _ in range(2)]
        self.drained(wid)
        lines = len(self.daemon.stderr_text().splitlines())
        r = self.req("DELETE", "/v1/customers/" + customer, token=ADMIN_TOKEN)
        self.assertEqual((r.status, r.json), (200, {"deleted": 2}))
        after = self.daemon.stderr_text().splitlines()[lines:]
        self.assertEqual([line for line in after if "vacuum" in line.lower()], [])
        self.assertEqual(len(rids), 2)


class OrderTests(WebhookEventsBase):

    def test_updated_waits_for_created_even_when_it_failed_once(self):
        sid = self.survey()
        failed = []

        def status(event):
            if event["json"]["type"] == "response.created" and not failed:
                failed.append(event["id"])
                return 500
            return 204

        with Receiver(status=status) as rx:
            self.receiving(rx, surveys=[sid])
            rid = self.post(sid, {"rec": 4})
            # The created event failed once (or is still in flight); the update comes meanwhile.
            rx.wait_for(lambda ev: len(ev) >= 1, timeout=30)
            self.assertEqual(self.req("PATCH", "/v1/responses/" + rid, {"answers": {"rec": 5}},
                                      token=INGEST_TOKEN).status, 200)
            events = rx.wait_for(lambda ev: len([e for e in ev if e["status"] == 204]) >= 2, timeout=60)
        seen = [(e["json"]["type"], e["status"]) for e in events]
        self.assertEqual(seen, [("response.created", 500), ("response.created", 204), ("response.updated", 204)])
        self.assertEqual(events[0]["id"], events[1]["id"])


class EventLogTests(WebhookEventsBase):
    """The log itself: events wait in it while a receiver holds every slot, and are prepared from
    the response as it is then (docs/webhook-events.md, "When the payload is rendered")."""

    def held(self, rx, sid, events=None):
        """A receiver holding its subscription's every slot (--webhook-concurrency: 4) with four
        responses' created events; what comes after waits in the log. The receiver's hold is
        bounded by the sender's 10 s attempt timeout: each test releases it well before."""
        rx.hold = threading.Event()
        wid = self.receiving(rx, surveys=[sid], events=events)
        firsts = [self.post(sid, {"rec": i}) for i in range(4)]
        rx.wait_in_progress(4, timeout=30)
        return wid, firsts

    def release(self, rx):
        hold, rx.hold = rx.hold, None
        hold.set()

    def test_a_receiver_holding_every_slot_stops_the_preparing_not_the_ingest(self):
        sid = self.survey()
        with Receiver() as rx:
            wid, firsts = self.held(rx, sid)
            rids = [self.post(sid, {"rec": i % 11}) for i in range(50)]
            for rid in rids[:10]:
                self.assertEqual(self.req("PATCH", "/v1/responses/" + rid, {"answers": {"sat": 3}},
                                          token=INGEST_TOKEN).status, 200)
            # Only what the held slots took became deliveries; the rest waits in the log, counted.
            self.assertEqual(len(self.open_deliveries_now(wid)), 4)
            r = self.req("GET", "/v1/webhooks/" + wid, token=ADMIN_TOKEN)
            self.assertEqual(r.json["backlog"]["pending"], 4 + 50 + 10)
            self.assertIsNotNone(r.json["backlog"]["oldest_at"])
            self.release(rx)
            events = rx.wait_for(lambda ev: len([e for e in ev if e["status"] == 204]) >= 4 + 60, timeout=90)
        seen = [(e["json"]["type"], e["json"]["data"]["response"]["id"]) for e in events]
        self.assertEqual(sorted(seen), sorted([("response.created", r) for r in firsts + rids] +
                                              [("response.updated", r) for r in rids[:10]]))
        for rid in rids[:10]:
            self.assertLess(seen.index(("response.created", rid)), seen.index(("response.updated", rid)))
            # Prepared after the update: the created event shows the answers as they are now.
            created = events[seen.index(("response.created", rid))]["json"]["data"]["response"]
            self.assertEqual(created["answers"].get("sat"), 3)

    def open_deliveries_now(self, wid):
        r = self.req("GET", "/v1/webhooks/%s/deliveries?limit=100" % wid, token=ADMIN_TOKEN)
        self.assertEqual(r.status, 200, r.body[:300])
        return r.json["deliveries"]

    def test_a_response_deleted_before_its_created_event_was_prepared(self):
        sid = self.survey()
        with Receiver() as rx:
            wid, firsts = self.held(rx, sid)
            rid = self.post(sid, {"rec": 2, "why": "as it was"})
            before = self.get_json("/v1/responses/" + rid)
            self.assertEqual(self.req("DELETE", "/v1/responses/" + rid, token=ADMIN_TOKEN).status, 204)
            marker = self.post(sid, {"rec": 10})
            self.release(rx)
            # Deliveries of different responses run side by side, so the marker may arrive before
            # the deleted event: wait for both. A created event of rid, had it been sent, would have
            # arrived before the deleted one (the same response's events go one at a time, in order).
            done = lambda ev: all(any(e["json"]["data"]["response"]["id"] == x and e["status"] == 204
                                      for e in ev) for x in (marker, rid))
            events = rx.wait_for(done, timeout=60)
        about = [(e["json"]["type"], e["json"]["data"]["response"]) for e in events
                 if e["json"]["data"]["response"]["id"] == rid]
        # The created event had nothing left to tell: passed over. The deleted one carries the
        # response as it was.
        self.assertEqual(about, [("response.deleted", before)])

    def test_an_erased_customers_logged_events_send_nothing_of_theirs(self):
        sid = self.survey()
        customer = uid("erased-in-log")
        secret_text = uid("their-words")
        with Receiver() as rx:
            wid, _ = self.held(rx, sid)
            erased = self.subscribe(events=["customer.erased"])[0]
            theirs = [self.post(sid, {"rec": 1, "why": secret_text}, customer=customer) for _ in range(3)]
            self.assertEqual(self.req("PATCH", "/v1/responses/" + theirs[0], {"answers": {"rec": 2}},
                                      token=INGEST_TOKEN).status, 200)
            self.assertEqual(self.req("DELETE", "/v1/responses/" + theirs[1], token=ADMIN_TOKEN).status, 204)
            r = self.req("DELETE", "/v1/customers/" + customer, token=ADMIN_TOKEN)
            self.assertEqual(r.json, {"deleted": 2})
            # The log keeps no row that holds their data (the deleted event did: it is gone).
            rows = db_query(self.daemon, "SELECT type, customer, object FROM webhook_events"
                                         " WHERE customer = ? OR object LIKE ?", (customer, "%" + secret_text + "%"))
            self.assertEqual(rows, [])
            marker = self.post(sid, {"rec": 10})
            self.release(rx)
            events = rx.wait_for(lambda ev: any(e["json"]["data"]["response"]["id"] == marker
                                                for e in ev if e["status"] == 204), timeout=60)
        sent = json.dumps([e["json"] for e in events])
        self.assertNotIn(customer, sent)
        self.assertNotIn(secret_text, sent)
        for rid in theirs:
            self.assertNotIn(rid, sent)
        # customer.erased itself, to the subscription that takes it: the documented fields.
        self.assertEqual([d["payload"]["data"] for d in self.queued(erased)],
                         [{"customer": customer, "deleted_responses": 2}])

    def test_paused_events_never_arrive_earlier_ones_do_after_resume(self):
        sid = self.survey()
        with Receiver() as rx:
            rx.status = 503
            wid = self.receiving(rx, surveys=[sid], events=["response.created"])
            body = {"url": rx.url, "events": ["response.created"], "surveys": [sid]}
            before = [self.post(sid, {"rec": i}) for i in range(3)]
            # A pause owes what happened in earlier milliseconds (events and the pause are compared by
            # their millisecond; one in the pause's own millisecond counts as during it): the pause
            # starts in a later millisecond than the last 201 above was given in. Without this it
            # failed about one run in seven, when the PUT followed within the same millisecond.
            answered_ms = time.time_ns() // 1000000
            while time.time_ns() // 1000000 <= answered_ms:
                pass
            r = self.req("PUT", "/v1/webhooks/" + wid, dict(body, enabled=False), token=ADMIN_TOKEN)
            self.assertEqual(r.status, 200, r.body)
            during = [self.post(sid, {"rec": i}) for i in range(3)]
            # Resumed at once: the sender may not have been through the log meanwhile; the PUT
            # settles it as the paused subscription is owed it.
            rx.status = 204
            r = self.req("PUT", "/v1/webhooks/" + wid, dict(body, enabled=True), token=ADMIN_TOKEN)
            self.assertEqual(r.status, 200, r.body)
            after = self.post(sid, {"rec": 9})
            events = rx.wait_for(lambda ev: {e["json"]["data"]["response"]["id"] for e in ev
                                             if e["status"] == 204} >= set(before + [after]), timeout=90)
        got = {e["json"]["data"]["response"]["id"] for e in events}
        self.assertEqual(got & set(during), set(), "an event of the pause was sent")


class NoSubscriptionTests(BaseAPITest):
    """No subscription: nothing is logged (ingest pays one indexed probe)."""

    def test_nothing_logged_without_a_subscription(self):
        self.assertEqual(self.req("GET", "/v1/webhooks", token=ADMIN_TOKEN).json["webhooks"], [])
        sid = self.new_survey(DEFINITION, prefix="nosub")
        r = self.post_ok(sid, {"answers": {"rec": 5}, "customer": "nobody-listens"})
        rid = r.json["id"]
        self.assertEqual(self.req("PATCH", "/v1/responses/" + rid, {"answers": {"rec": 6}},
                                  token=INGEST_TOKEN).status, 200)
        self.assertEqual(self.req("DELETE", "/v1/responses/" + rid, token=ADMIN_TOKEN).status, 204)
        self.assertEqual(self.req("DELETE", "/v1/customers/nobody-listens", token=ADMIN_TOKEN).status, 200)
        self.assertEqual(db_query(self.daemon, "SELECT count(*) FROM webhook_events"), [(0,)])


class HostedPageEventsTests(HostedPageBase):
    daemon_args = WEBHOOK_ARGS

    def test_first_submit_creates_later_ones_update(self):
        with Receiver() as rx:
            r = self.req("PUT", "/v1/webhooks/" + uid("wh"),
                         {"url": rx.url, "events": ["response.created", "response.updated"],
                          "surveys": [self.survey]}, token=ADMIN_TOKEN)
            self.assertEqual(r.status, 201, r.body)
            rx.secrets.append(r.json["secret"])
            _, token, key = self.invite(customer="page-cust")
            self.assertEqual(self.post_form(token, {"form_key": key, "nps": "4"}).status, 200)
            events = rx.wait_for(lambda ev: len(ev) >= 1, timeout=30)
            rid = events[0]["json"]["data"]["response"]["id"]
            self.assertEqual(events[0]["json"]["type"], "response.created")
            self.assertEqual(events[0]["json"]["data"]["response"],
                             self.req("GET", "/v1/responses/" + rid, token=READ_TOKEN).json)
            self.assertEqual(self.post_form(token, {"form_key": key, "comment": "later"}).status, 200)
            events = rx.wait_for(lambda ev: len(ev) >= 2, timeout=30)
            self.assertEqual(events[1]["json"]["type"], "response.updated")
            self.assertEqual(events[1]["json"]["data"]["response"],
                             self.req("GET", "/v1/responses/" + rid, token=READ_TOKEN).json)
            self.assertTrue(all(e["verified"] for e in events))


def metric(daemon, name):
    text = daemon.req("GET", "/metrics").body.decode()
    m = re.search(r"^%s (\d+(?:\.\d+)?)$" % re.escape(name), text, re.M)
    return float(m.group(1)) if m else None


class CapTests(unittest.TestCase):
    """--webhook-queue-max: events wait in the log while the receiver holds every slot; past the cap
    the sender drops the oldest of them at its next count (once a second) and counts them; the
    changes themselves are stored all the same, and the newest events are the ones sent."""

    CAP = 100

    def test_events_past_the_cap_are_dropped_and_counted(self):
        d = Daemon(extra_args=WEBHOOK_ARGS + ("--webhook-queue-max", str(self.CAP),
                                              "--webhook-concurrency", "1"))
        self.addCleanup(d.cleanup)
        d.start()
        sid = uid("cap")
        self.assertEqual(d.req("PUT", "/v1/surveys/" + sid, DEFINITION, token=ADMIN_TOKEN).status, 201)
        wid = uid("wh")
        with Receiver() as rx:
            rx.hold = threading.Event()
            r = d.req("PUT", "/v1/webhooks/" + wid, {"url": rx.url, "events": ["response.created"]},
                      token=ADMIN_TOKEN)
            self.assertEqual(r.status, 201, r.body)
            rx.secrets.append(r.json["secret"])
            ids = []
            for i in range(self.CAP + 21):
                r = d.req("POST", "/v1/surveys/%s/responses" % sid, {"answers": {"rec": i % 11}},
                          token=INGEST_TOKEN)
                self.assertEqual(r.status, 201)
                ids.append(r.json["id"])
            # The first event holds the only slot; 120 wait in the log, 20 past the cap.
            rx.wait_in_progress(1, timeout=30)
            deadline = time.monotonic() + 30
            while metric(d, "surveyd_webhook_dropped_total") != 20:
                self.assertLess(time.monotonic(), deadline, "the sender never trimmed the backlog: %s" % (
                    metric(d, "surveyd_webhook_dropped_total"),))
                time.sleep(0.05)
            g = d.req("GET", "/v1/webhooks/" + wid, token=ADMIN_TOKEN)
            self.assertEqual(g.status, 200, g.body)
            self.assertEqual(g.json["backlog"]["pending"], 1 + self.CAP)
            # The gauge, as counted at the next poll (the same sum).
            while metric(d, "surveyd_webhook_queue_depth") != 1 + self.CAP:
                self.assertLess(time.monotonic(), deadline, "queue depth %s" % (
                    metric(d, "surveyd_webhook_queue_depth"),))
                time.sleep(0.05)
            m = d.req("GET", "/v1/surveys/%s/metrics" % sid, token=READ_TOKEN)
            self.assertEqual(m.json["responses"], self.CAP + 21)
            self.assertIn("dropped", d.stderr_text())
            rx.hold.set()
            events = rx.wait_for(lambda ev: len(ev) >= 1 + self.CAP, timeout=60)
        # The oldest were dropped: the first (in flight then) and the newest CAP arrived.
        sent = [e["json"]["data"]["response"]["id"] for e in events]
        self.assertEqual(sent, [ids[0]] + ids[21:])


if __name__ == "__main__":
    unittest.main()
