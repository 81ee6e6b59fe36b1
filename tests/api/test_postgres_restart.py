"""PostgreSQL restarted under load (run only in the api-postgres suite; starts a cluster of its own
with tests/postgres/cluster.sh, since it restarts it).

Loader threads POST without pause, each request with its own interaction and Idempotency-Key, and
retry a 503 with the same key, as a client should. Five times the server goes through
`pg_ctl restart -m fast` under that load, and then through a fast stop that is held until the test
has seen the API while the database is down: a POST is 503 `unavailable` with Retry-After (never
500), /readyz is 503, reads fail cleanly; after `pg_ctl start` surveyd reconnects by itself. At the
end every request has its 201, the export holds exactly the acknowledged ids, each once, and
`surveyd verify` finds no difference."""

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import ADMIN_TOKEN, INGEST_TOKEN, READ_TOKEN, Daemon, uid  # noqa: E402

CLUSTER_SH = os.path.join(harness.REPO_ROOT, "tests", "postgres", "cluster.sh")
ROUNDS = 5
LOADERS = 3
PROGRESS = 25               # 201s to see between faults, so every fault hits steady load
RECOVERY_TIMEOUT = 60.0     # a bound on waiting for reconnection, not a pause
ALLOWED = (201, 503)


def cluster(*args, timeout=120):
    p = subprocess.run(["bash", CLUSTER_SH] + list(args), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    if p.returncode != 0:
        raise AssertionError("cluster.sh %s failed: %s" % (" ".join(args[:1]), p.stderr.decode()))
    return p.stdout.decode().strip()


class Load:
    """Loader threads: every request gets retried with its key until it has its 201."""

    def __init__(self, daemon, sid):
        self.daemon, self.sid = daemon, sid
        self.cond = threading.Condition()
        self.acked = {}             # interaction -> id from the 201
        self.replayed = 0
        self.refused = 0            # 503s seen
        self.bad = []               # anything but 201/503, or a 503 without Retry-After
        self.stopping = False
        self.threads = [threading.Thread(target=self.run, args=(t,), daemon=True) for t in range(LOADERS)]

    def start(self):
        for t in self.threads:
            t.start()

    def acked_count(self):
        with self.cond:
            return len(self.acked)

    def wait_for_progress(self, n, timeout=RECOVERY_TIMEOUT):
        """Until n more 201s arrived than now (bounded); whether they did."""
        with self.cond:
            goal = len(self.acked) + n
            return self.cond.wait_for(lambda: len(self.acked) >= goal or self.bad, timeout)

    def post(self, i):
        body = {"answers": {"nps": i % 11, "comment": "restart %d" % i}, "channel": "chat",
                "submitted_at": "2026-11-%02dT10:00:00.000Z" % (1 + i % 28), "interaction": "r-%d" % i}
        headers = {"Idempotency-Key": "restart-%d" % i}
        while True:
            try:
                r = self.daemon.req("POST", "/v1/surveys/%s/responses" % self.sid, body,
                                    headers=headers, token=INGEST_TOKEN)
            except OSError as exc:
                with self.cond:
                    self.bad.append("request %d: %r" % (i, exc))
                    self.cond.notify_all()
                return
            with self.cond:
                if r.status == 201:
                    self.acked["r-%d" % i] = r.json["id"]
                    self.replayed += (r.headers.get("Idempotent-Replayed") or "") == "true"
                    self.cond.notify_all()
                    return
                if r.status != 503 or not r.headers.get("Retry-After") or (r.json or {}).get("code") != "unavailable":
                    self.bad.append("request %d: %d %r %r" % (i, r.status, dict(r.headers), r.body[:300]))
                    self.cond.notify_all()
                    return
                self.refused += 1
            time.sleep(0.02)    # a client's back-off between retries of a refused request

    def run(self, t):
        i = t
        while True:
            with self.cond:
                if self.stopping or self.bad:
                    return
            self.post(i)
            i += LOADERS

    def stop(self):
        with self.cond:
            self.stopping = True
        for t in self.threads:
            t.join(RECOVERY_TIMEOUT)


@harness.skip_unless_postgres("it restarts a PostgreSQL server under load")
class RestartUnderLoad(unittest.TestCase):
    maxDiff = 2000

    @classmethod
    def setUpClass(cls):
        # Short: the socket path must fit in 107 bytes.
        cls.dir = tempfile.mkdtemp(prefix="surveyd-pgr.", dir="/tmp")
        os.rmdir(cls.dir)
        cls.addClassCleanup(cluster, "stop", cls.dir)
        server = cluster("start", cls.dir)
        name = "restart_test"
        harness.psql("CREATE DATABASE %s" % name, uri=server)
        cls.uri = harness.postgres_database_uri(name, base=server)
        cls.daemon = Daemon(database=cls.uri)
        cls.addClassCleanup(cls.daemon.cleanup)
        cls.daemon.start()

    def ready(self):
        return self.daemon.req("GET", "/readyz").status

    def wait_until_ready(self):
        deadline = time.monotonic() + RECOVERY_TIMEOUT
        while time.monotonic() < deadline:
            status = self.ready()
            self.assertIn(status, (200, 503))
            if status == 200:
                return
            time.sleep(0.05)
        self.fail("surveyd did not reconnect within %.0f s of PostgreSQL's start" % RECOVERY_TIMEOUT)

    def check_down(self, sid):
        """While the server is stopped: writes 503 + Retry-After, /readyz 503, reads never 500."""
        probe = {"answers": {"nps": 1}, "interaction": "down-probe"}
        r = self.daemon.req("POST", "/v1/surveys/%s/responses" % sid, probe, token=INGEST_TOKEN)
        self.assertEqual(r.status, 503, r.body[:300])
        self.assertTrue(r.headers.get("Retry-After"), dict(r.headers))
        self.assertEqual(r.json.get("code"), "unavailable", r.body[:300])
        self.assertEqual(self.ready(), 503, "/readyz says ready while PostgreSQL is down")
        for path in ("/v1/surveys/%s/metrics" % sid, "/v1/surveys/%s/responses" % sid, "/v1/metrics"):
            r = self.daemon.req("GET", path, token=READ_TOKEN)
            self.assertIn(r.status, (200, 503), "%s while down: %d %r" % (path, r.status, r.body[:300]))
            if r.status == 503:
                self.assertTrue(r.headers.get("Retry-After"), path)
        self.assertEqual(self.daemon.req("GET", "/healthz").status, 200)

    def test_restart_five_times_under_load(self):
        sid = uid("restart")
        r = self.daemon.req("PUT", "/v1/surveys/" + sid, harness.simple_definition(), token=ADMIN_TOKEN)
        self.assertEqual(r.status, 201, r.body[:300])
        load = Load(self.daemon, sid)
        load.start()
        try:
            for n in range(ROUNDS):
                self.assertTrue(load.wait_for_progress(PROGRESS), "no steady load before round %d" % n)
                self.assertEqual(load.bad, [])
                cluster("ctl", self.dir, "restart", "-m", "fast", "-w", "-t", "60")
                self.assertTrue(load.wait_for_progress(PROGRESS), "ingest did not resume after restart %d" % n)
                self.wait_until_ready()

                cluster("ctl", self.dir, "stop", "-m", "fast", "-w", "-t", "60")
                self.check_down(sid)
                cluster("ctl", self.dir, "start", "-w", "-t", "60")
                self.wait_until_ready()
                self.assertTrue(load.wait_for_progress(PROGRESS), "ingest did not resume after start %d" % n)
                self.assertEqual(load.bad, [])
        finally:
            load.stop()
            print("restart: %d acknowledged, %d refused with 503 and retried, %d of them replays"
                  % (len(load.acked), load.refused, load.replayed), file=sys.stderr)
        self.assertEqual(load.bad, [])
        self.assertGreater(load.refused, 0, "no request was ever refused: the faults did not hit the load")

        # What the database holds, read directly, then what the API exports: both must be exactly
        # the acknowledged responses, each once.
        stored = harness.db_query(self.daemon, "SELECT interaction, id FROM responses WHERE survey = ?", (sid,))
        self.assertEqual(len(stored), len({i for i, _ in stored}), "an interaction stored twice")
        self.assertEqual(dict(stored), load.acked, "stored responses differ from the acknowledged ones")

        export = self.daemon.req("GET", "/v1/surveys/%s/responses?format=ndjson" % sid, token=READ_TOKEN)
        self.assertEqual(export.status, 200, export.body[:300])
        rows = [json.loads(line) for line in export.body.decode().splitlines() if line]
        stored_ids = [row["id"] for row in rows]
        self.assertEqual(len(stored_ids), len(set(stored_ids)), "a response stored twice")
        self.assertEqual(sorted(stored_ids), sorted(load.acked.values()),
                         "stored responses differ from the acknowledged ones")
        self.assertEqual({row["interaction"]: row["id"] for row in rows}, load.acked)
        metrics = self.daemon.req("GET", "/v1/surveys/%s/metrics" % sid, token=READ_TOKEN)
        self.assertEqual(metrics.json["responses"], len(load.acked))

        self.daemon.stop()
        verify = harness.run_cli(["verify", "--database", self.uri], timeout=120)
        out = verify.stdout.decode() + verify.stderr.decode()
        self.assertEqual(verify.returncode, 0, out)
        self.assertIn("consistent with %d responses" % len(load.acked), out)


if __name__ == "__main__":
    unittest.main()
