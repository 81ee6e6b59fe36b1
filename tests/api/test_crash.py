"""Crash safety: sustained concurrent ingest, SIGKILL at random moments, restart, repeat.

Every response that got a 201 must be stored exactly once; a request whose reply was lost in the crash
is retried after the restart with the same Idempotency-Key and must then either replay the stored
response or store it now — never twice. Finally `surveyd verify` must find the rollups consistent."""

import random
import threading
import time
import unittest

from harness import INGEST_TOKEN, Client, Daemon, db_query, run_cli, simple_definition, uid

ROUNDS = 20
WRITERS = 8


class CrashSafetyTest(unittest.TestCase):
    def test_sigkill_never_loses_or_duplicates_an_acknowledged_response(self):
        rng = random.Random(7)
        daemon = Daemon()
        self.addCleanup(daemon.cleanup)
        daemon.start()
        sid = uid("crash")
        definition = simple_definition(public=False)
        r = daemon.req("PUT", "/v1/surveys/" + sid, definition, token="admin-secret")
        self.assertEqual(r.status, 201, r.body)

        acked = {}          # interaction -> id from a 201 (or a replay)
        pending = {}        # interaction -> (key, body): sent, reply lost
        lock = threading.Lock()
        counter = [0]

        def post(client, interaction, key, body):
            return client.req("POST", "/v1/surveys/%s/responses" % sid, body, token=INGEST_TOKEN,
                              headers={"Idempotency-Key": key})

        def writer(port, stop):
            client = Client("127.0.0.1", port, timeout=5)
            while not stop.is_set():
                with lock:
                    counter[0] += 1
                    n = counter[0]
                interaction = "int-%d" % n
                key = "key-%d" % n
                body = {"answers": {"nps": n % 11, "comment": "c%d" % n}, "interaction": interaction}
                with lock:
                    pending[interaction] = (key, body)
                try:
                    resp = post(client, interaction, key, body)
                except Exception:  # the daemon died under us: the reply is lost
                    client.close_all()
                    continue
                with lock:
                    if resp.status == 201:
                        acked[interaction] = resp.json["id"]
                        pending.pop(interaction, None)

        for _ in range(ROUNDS):
            stop = threading.Event()
            threads = [threading.Thread(target=writer, args=(daemon.port, stop)) for _ in range(WRITERS)]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0.15, 0.8))
            daemon.kill()
            stop.set()
            for t in threads:
                t.join(10)
            daemon.start()
            # Retry every request whose reply was lost, with its own key: replay or first store.
            client = Client("127.0.0.1", daemon.port, timeout=10)
            for interaction, (key, body) in list(pending.items()):
                resp = post(client, interaction, key, body)
                self.assertEqual(resp.status, 201, (interaction, resp.status, resp.body[:300]))
                acked[interaction] = resp.json["id"]
                del pending[interaction]
            client.close_all()

        self.assertGreater(len(acked), ROUNDS * 5, "too little ingest to mean anything")
        client = Client("127.0.0.1", daemon.port, timeout=10)
        for interaction, rid in acked.items():
            resp = client.req("GET", "/v1/responses/" + rid, token="read-secret")
            self.assertEqual(resp.status, 200, (interaction, rid))
            self.assertEqual(resp.json["interaction"], interaction)
        client.close_all()
        daemon.stop()

        rows = db_query(daemon, "SELECT interaction, count(*) FROM responses WHERE survey = ? GROUP BY 1", (sid,))
        per_interaction = dict(rows)
        self.assertEqual(set(per_interaction), set(acked), "stored responses differ from acknowledged ones")
        self.assertTrue(all(c == 1 for c in per_interaction.values()), "a response was stored twice")
        verify = run_cli(["verify", "--data-dir", daemon.data_dir], timeout=60)
        self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)


if __name__ == "__main__":
    unittest.main()
