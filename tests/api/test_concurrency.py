"""Concurrent submissions: bulk posts, same Idempotency-Key, same
interaction; row counts are verified in <data-dir>/surveyd.db after stop."""

import collections
import concurrent.futures
import threading
import unittest

from harness import (ADMIN_TOKEN, INGEST_TOKEN, READ_TOKEN, RESPONSE_ID_RE,
                     Daemon, run_threads, simple_definition, uid)

THREADS = 32
PER_THREAD = 25


class ConcurrencyTests(unittest.TestCase):

    def setUp(self):
        self.d = Daemon()
        self.addCleanup(self.d.cleanup)
        self.d.start()
        self.sid = uid("conc")
        r = self.d.req("PUT", "/v1/surveys/" + self.sid, simple_definition(), token=ADMIN_TOKEN)
        self.assertEqual(r.status, 201, r.body)
        self.path = "/v1/surveys/%s/responses" % self.sid

    def test_bulk_distinct_interactions(self):
        def worker(t):
            out = []
            for i in range(PER_THREAD):
                r = self.d.req("POST", self.path,
                               {"answers": {"nps": (t + i) % 11, "comment": "t%d-%d" % (t, i)},
                                "interaction": "t%d-i%d" % (t, i)},
                               token=INGEST_TOKEN)
                out.append((r.status, r.json, (t, i)))
            return out

        results = [x for per in run_threads(THREADS, worker) for x in per]
        statuses = collections.Counter(s for s, _, _ in results)
        self.assertEqual(statuses, {201: THREADS * PER_THREAD})
        ids = [j["id"] for _, j, _ in results]
        for rid in ids:
            self.assertRegex(rid, RESPONSE_ID_RE)
        self.assertEqual(len(set(ids)), len(ids), "duplicate response ids")
        expected = {j["id"]: ti for _, j, ti in results}

        def read(rid):
            return rid, self.d.req("GET", "/v1/responses/" + rid, token=READ_TOKEN)

        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as ex:
            reads = list(ex.map(read, ids))
        for rid, g in reads:
            self.assertEqual(g.status, 200, rid)
            t, i = expected[rid]
            self.assertEqual(g.json["id"], rid)
            self.assertEqual(g.json["interaction"], "t%d-i%d" % (t, i))
            self.assertEqual(g.json["answers"], {"nps": (t + i) % 11, "comment": "t%d-%d" % (t, i)})

        self.d.stop()
        self.assertEqual(self.d.count_rows(self.sid), THREADS * PER_THREAD)

    def test_same_idempotency_key_concurrently(self):
        n = 16
        key = uid("conc-key")
        body = {"answers": {"nps": 7}, "channel": "web"}
        barrier = threading.Barrier(n)

        def worker(_):
            barrier.wait(30)
            return self.d.req("POST", self.path, body, token=INGEST_TOKEN,
                              headers={"Idempotency-Key": key})

        results = run_threads(n, worker)
        self.assertEqual([r.status for r in results], [201] * n,
                         [(r.status, r.body[:200]) for r in results])
        ids = {r.json["id"] for r in results}
        self.assertEqual(len(ids), 1, ids)
        self.d.stop()
        self.assertEqual(self.d.count_rows(self.sid), 1)

    def test_same_interaction_concurrently(self):
        n = 16
        barrier = threading.Barrier(n)

        def worker(k):
            barrier.wait(30)
            return self.d.req("POST", self.path,
                              {"answers": {"nps": k % 11}, "interaction": "shared-interaction"},
                              token=INGEST_TOKEN)

        results = run_threads(n, worker)
        statuses = collections.Counter(r.status for r in results)
        self.assertEqual(statuses, {201: 1, 409: n - 1},
                         [(r.status, r.body[:200]) for r in results])
        winner = next(r for r in results if r.status == 201).json["id"]
        for r in results:
            if r.status == 409:
                self.assertEqual(r.json.get("code"), "conflict")
                self.assertEqual(r.json.get("id"), winner)
        self.d.stop()
        self.assertEqual(self.d.count_rows(self.sid), 1)


if __name__ == "__main__":
    unittest.main()
