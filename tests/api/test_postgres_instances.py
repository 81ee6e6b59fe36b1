"""Two surveyd processes on one PostgreSQL database (run only in the api-postgres suite).

What several instances behind a load balancer must get right: load through both adds up and both
report the same figures; an Idempotency-Key or an interaction sent to both at the same instant is
stored once (the loser gets the replay or the 409); and a metrics reply, with its ETag, from one
instance right after a 201 from the other already counts that write (no cache in one process may
hide another's acknowledged write)."""

import json
import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import ADMIN_TOKEN, INGEST_TOKEN, READ_TOKEN, Daemon, run_threads, uid  # noqa: E402

PER_INSTANCE = 500
THREADS_PER_INSTANCE = 4
SUBMITTED = ["2026-11-%02dT%02d:%02d:00.000Z" % (2 + i % 20, i % 24, i % 60) for i in range(97)]
RACE_ROUNDS = 25

DEFINITION = {
    "title": "Two instances",
    "questions": [
        {"id": "rec", "type": "nps"},
        {"id": "sat", "type": "csat", "scale": 5},
        {"id": "pick", "type": "choice", "options": ["a", "b", "c"], "allow_other": True},
    ],
}


def body(i, **extra):
    b = {"answers": {"rec": i % 11, "sat": 1 + i % 5, "pick": ["a", "b", "c"][i % 3] if i % 4 else {"other": "x%d" % (i % 7)}},
         "channel": ["chat", "email"][i % 2], "agent": "agent-%d" % (i % 3),
         "submitted_at": SUBMITTED[i % len(SUBMITTED)]}
    b.update(extra)
    return b


@harness.skip_unless_postgres("two daemons share one database only on PostgreSQL")
class TwoInstances(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.a = Daemon()
        cls.addClassCleanup(cls.a.cleanup)
        cls.a.start()
        # Same folder, so the harness gives B the database A uses.
        cls.b = Daemon(data_dir=cls.a.data_dir)
        cls.addClassCleanup(cls.b.cleanup)
        cls.b.start()

    @classmethod
    def tearDownClass(cls):
        cls.b.stop()
        cls.a.stop()

    def new_survey(self):
        sid = uid("two")
        r = self.a.req("PUT", "/v1/surveys/" + sid, DEFINITION, token=ADMIN_TOKEN)
        self.assertEqual(r.status, 201, r.body[:300])
        return sid

    def post(self, daemon, sid, b, headers=None):
        return daemon.req("POST", "/v1/surveys/%s/responses" % sid, b, headers=headers, token=INGEST_TOKEN)

    def metrics(self, daemon, sid, query="", headers=None):
        return daemon.req("GET", "/v1/surveys/%s/metrics%s" % (sid, query), headers=headers, token=READ_TOKEN)

    def exported_ids(self, daemon, sid):
        r = daemon.req("GET", "/v1/surveys/%s/responses?format=ndjson" % sid, token=READ_TOKEN)
        self.assertEqual(r.status, 200, r.body[:300])
        return [json.loads(line)["id"] for line in r.body.decode().splitlines() if line]

    def test_load_through_both_gives_the_same_figures_from_both(self):
        sid = self.new_survey()
        daemons = (self.a, self.b)
        per_thread = PER_INSTANCE // THREADS_PER_INSTANCE

        def load(t):
            daemon = daemons[t % 2]
            ids = []
            for k in range(per_thread):
                i = t * per_thread + k
                r = self.post(daemon, sid, body(i, interaction="load-%d" % i))
                if r.status != 201:
                    raise AssertionError("POST %d to instance %s -> %d %r" % (i, "AB"[t % 2], r.status, r.body[:300]))
                ids.append(r.json["id"])
            return ids

        acked = [rid for ids in run_threads(2 * THREADS_PER_INSTANCE, load) for rid in ids]
        self.assertEqual(len(acked), 2 * PER_INSTANCE)
        self.assertEqual(len(set(acked)), 2 * PER_INSTANCE, "two instances made the same id")

        for query in ("", "?from=2026-11-01&to=2026-12-01&group_by=day", "?group_by=channel",
                      "?from=2026-11-10&to=2026-11-20&compare=previous", "?agent=agent-1&group_by=week"):
            ra, rb = self.metrics(self.a, sid, query), self.metrics(self.b, sid, query)
            self.assertEqual(ra.status, 200, ra.body[:300])
            self.assertEqual(rb.status, 200, rb.body[:300])
            self.assertEqual(ra.json, rb.json, "instances disagree on metrics%s" % query)
            # Both label a reply with the survey's data version in the database, so a client behind
            # a load balancer can revalidate its ETag at either instance.
            self.assertEqual(ra.headers.get("ETag"), rb.headers.get("ETag"), query)
            if not query:
                self.assertEqual(ra.json["responses"], 2 * PER_INSTANCE)
                self.assertEqual(sum(ra.json["questions"]["rec"]["distribution"]), 2 * PER_INSTANCE)

        ov_a = self.a.req("GET", "/v1/metrics", token=READ_TOKEN).json
        ov_b = self.b.req("GET", "/v1/metrics", token=READ_TOKEN).json
        self.assertEqual(ov_a, ov_b)
        self.assertEqual(sorted(self.exported_ids(self.a, sid)), sorted(acked))
        self.assertEqual(sorted(self.exported_ids(self.b, sid)), sorted(acked))
        verify = harness.run_cli(["verify", "--data-dir", self.a.data_dir], timeout=120)
        self.assertEqual(verify.returncode, 0, verify.stdout.decode() + verify.stderr.decode())

    def race(self, send):
        """send(daemon) to A and B released at the same instant; both replies."""
        barrier = threading.Barrier(2)

        def one(i):
            daemon = (self.a, self.b)[i]
            daemon.req("GET", "/healthz")       # the connection is open before the race starts
            barrier.wait()
            return send(daemon)

        return run_threads(2, one)

    def test_same_idempotency_key_to_both_at_once_is_stored_once(self):
        sid = self.new_survey()
        for n in range(RACE_ROUNDS):
            key = "race-key-%d" % n
            b = body(n)
            replies = self.race(lambda d: self.post(d, sid, b, headers={"Idempotency-Key": key}))
            statuses = sorted(r.status for r in replies)
            self.assertEqual(statuses, [201, 201], [(r.status, r.body[:200]) for r in replies])
            replayed = [r for r in replies if (r.headers.get("Idempotent-Replayed") or "").lower() == "true"]
            self.assertEqual(len(replayed), 1, "round %d: exactly one reply is the replay" % n)
            self.assertEqual(replies[0].json, replies[1].json, "the replay is the original reply")
        self.assertEqual(len(self.exported_ids(self.a, sid)), RACE_ROUNDS)
        self.assertEqual(self.metrics(self.b, sid).json["responses"], RACE_ROUNDS)

    def test_same_interaction_to_both_at_once_is_one_201_and_one_409(self):
        sid = self.new_survey()
        for n in range(RACE_ROUNDS):
            b = body(n, interaction="race-ticket-%d" % n)
            replies = self.race(lambda d: self.post(d, sid, b))
            statuses = sorted(r.status for r in replies)
            self.assertEqual(statuses, [201, 409], [(r.status, r.body[:200]) for r in replies])
            winner = next(r for r in replies if r.status == 201)
            loser = next(r for r in replies if r.status == 409)
            self.assertEqual(loser.json.get("code"), "conflict", loser.body[:300])
            # An ingest token is told which response holds the interaction: the winner's.
            self.assertIn(winner.json["id"], loser.body.decode(), loser.body[:300])
        self.assertEqual(len(self.exported_ids(self.b, sid)), RACE_ROUNDS)

    def test_metrics_from_one_instance_reflect_a_201_from_the_other(self):
        sid = self.new_survey()
        for n in range(20):
            writer, reader = ((self.a, self.b), (self.b, self.a))[n % 2]
            before = self.metrics(reader, sid)
            self.assertEqual(before.status, 200)
            self.assertEqual(before.json["responses"], n)
            etag = before.headers.get("ETag")
            self.assertTrue(etag)
            # Cached now: the same query again is a 304 on the reader.
            self.assertEqual(self.metrics(reader, sid, headers={"If-None-Match": etag}).status, 304)

            self.assertEqual(self.post(writer, sid, body(n)).status, 201)

            after = self.metrics(reader, sid)
            self.assertEqual(after.status, 200, after.body[:300])
            self.assertEqual(after.json["responses"], n + 1, "round %d: a stale reply after the other's 201" % n)
            self.assertNotEqual(after.headers.get("ETag"), etag, "the ETag did not change with the write")
            revalidated = self.metrics(reader, sid, headers={"If-None-Match": etag})
            self.assertEqual(revalidated.status, 200, "a 304 for the ETag from before the other's write")
            overview = reader.req("GET", "/v1/metrics", token=READ_TOKEN).json
            counts = {s["survey"]: s for s in overview["surveys"]}
            self.assertIn(sid, counts, overview)
            self.assertEqual(counts[sid]["responses"], n + 1)


if __name__ == "__main__":
    unittest.main()
