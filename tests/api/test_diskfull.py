"""Disk full: with the data directory on a small tmpfs, ingest until it is full. surveyd must answer
503 unavailable with Retry-After, never crash, never acknowledge what it did not store, turn /readyz
503, and recover by itself once space is freed."""

import os
import subprocess
import tempfile
import time
import unittest

import harness
from harness import ADMIN_TOKEN, INGEST_TOKEN, READ_TOKEN, Daemon, run_cli, simple_definition, uid


def mount_tmpfs(path, size):
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0700" % size, "tmpfs", path], check=True)


@harness.skip_unless_sqlite("a full disk under SQLite's files (PostgreSQL's disk is the server's)")
@unittest.skipUnless(os.geteuid() == 0, "mounting a size-limited tmpfs needs root (CI runs as root)")
class DiskFullTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="surveyd-full-")
        mount_tmpfs(self.dir, "2m")
        self.addCleanup(lambda: subprocess.run(["umount", "-l", self.dir], check=False))

    def test_full_disk_is_503_never_a_lie_and_recovers(self):
        daemon = Daemon(data_dir=self.dir)
        self.addCleanup(daemon.cleanup)
        daemon.start()
        sid = uid("full")
        self.assertEqual(daemon.req("PUT", "/v1/surveys/" + sid, simple_definition(), token=ADMIN_TOKEN).status, 201)

        acked, refused = [], None
        filler = "x" * 1900
        for n in range(5000):
            r = daemon.req("POST", "/v1/surveys/%s/responses" % sid,
                           {"answers": {"nps": n % 11, "comment": "%d %s" % (n, filler)}}, token=INGEST_TOKEN)
            if r.status == 201:
                acked.append(r.json["id"])
                continue
            refused = r
            break
        self.assertIsNotNone(refused, "2 MB never filled up")
        self.assertGreater(len(acked), 10)
        self.assertEqual(refused.status, 503, refused.body[:300])
        self.assertEqual(refused.json["code"], "unavailable")
        self.assertTrue(refused.headers.get("Retry-After"))
        self.assertTrue(daemon.running, "surveyd died on a full disk")

        ready = daemon.req("GET", "/readyz")
        self.assertEqual(ready.status, 503, "readyz must report the full disk")
        self.assertEqual(daemon.req("GET", "/healthz").status, 200)
        # Still refusing, still not lying: every further attempt is 503, and reads still work.
        for n in range(5):
            r = daemon.req("POST", "/v1/surveys/%s/responses" % sid, {"answers": {"nps": 1, "comment": filler}},
                           token=INGEST_TOKEN)
            self.assertIn(r.status, (201, 503))
            if r.status == 201:
                acked.append(r.json["id"])
        for rid in acked[-5:]:
            self.assertEqual(daemon.req("GET", "/v1/responses/" + rid, token=READ_TOKEN).status, 200)

        # Free space: readiness comes back by itself (the writer probes), with no traffic needed.
        subprocess.run(["mount", "-o", "remount,size=64m", self.dir], check=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and daemon.req("GET", "/readyz").status != 200:
            time.sleep(0.2)
        self.assertEqual(daemon.req("GET", "/readyz").status, 200, "readyz did not recover")
        r = daemon.req("POST", "/v1/surveys/%s/responses" % sid, {"answers": {"nps": 10}}, token=INGEST_TOKEN)
        self.assertEqual(r.status, 201, r.body[:300])
        acked.append(r.json["id"])

        for rid in acked:
            self.assertEqual(daemon.req("GET", "/v1/responses/" + rid, token=READ_TOKEN).status, 200, rid)
        daemon.stop()
        verify = run_cli(["verify", "--data-dir", self.dir], timeout=60)
        self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)
        self.assertIn(b"consistent with %d responses" % len(acked), verify.stdout)


if __name__ == "__main__":
    unittest.main()
