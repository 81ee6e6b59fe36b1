"""No acknowledged response is ever lost to the operations the README calls safe while surveyd
serves: an erasure followed by `surveyd verify` or `surveyd backup`, and `verify` running while
responses are ingested (issue 11, item 1).

The failure this guards against: the daemon opened its own database file outside SQLite (to search
it after an erasure) and closed it, which drops every POSIX lock the process holds on the file,
SQLite's included. The next `verify` or `backup` then believed it was the database's last user,
checkpointed and deleted `-wal` and `-shm`, and the daemon went on committing into deleted files:
every later 201 vanished at the next SIGKILL."""

import os
import threading
import unittest

import harness
from harness import (ADMIN_TOKEN, INGEST_TOKEN, READ_TOKEN, Daemon, run_cli,
                     simple_definition, uid)


class AcknowledgedWritesSurviveOperations(unittest.TestCase):

    def post(self, d, sid, customer, n):
        r = d.req("POST", "/v1/surveys/%s/responses" % sid,
                  {"answers": {"nps": n % 11, "comment": "words of %s number %d" % (customer, n)},
                   "customer": customer}, token=INGEST_TOKEN)
        self.assertEqual(r.status, 201, r.body)
        return r.json["id"]

    def erase_then(self, operation):
        """PUT, 3 responses for alice, erase alice, run the operation, 5 more 201s, SIGKILL,
        restart: all 5 must be there (and alice's 3 must not)."""
        with Daemon() as d:
            sid = uid("walsafe")
            self.assertEqual(d.req("PUT", "/v1/surveys/" + sid, simple_definition(),
                                   token=ADMIN_TOKEN).status, 201)
            for n in range(3):
                self.post(d, sid, "alice", n)
            r = d.req("DELETE", "/v1/customers/alice", token=ADMIN_TOKEN)
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.json, {"deleted": 3})
            operation(d)
            if not harness.is_postgres():
                # Both files must still be the ones the daemon writes into.
                self.assertTrue(os.path.exists(d.db_path + "-wal"), "the live WAL was deleted")
                self.assertTrue(os.path.exists(d.db_path + "-shm"), "the live shared memory was deleted")
            acked = [self.post(d, sid, "bob-the-customer", n) for n in range(5)]
            d.kill()
            d.start()
            missing = [i for i in acked
                       if d.req("GET", "/v1/responses/" + i, token=READ_TOKEN).status != 200]
            self.assertEqual(missing, [], "%d of 5 acknowledged responses lost" % len(missing))
            listing = d.req("GET", "/v1/surveys/%s/responses" % sid, token=READ_TOKEN)
            self.assertEqual(listing.status, 200)
            self.assertEqual(len(listing.json["responses"]), 5)
            result = run_cli(["verify", "--data-dir", d.data_dir], timeout=60)
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
            d.stop()

    def test_erasure_then_verify_loses_nothing(self):
        def verify(d):
            result = run_cli(["verify", "--data-dir", d.data_dir], timeout=60)
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.erase_then(verify)

    @harness.skip_unless_sqlite("surveyd backup is SQLite's online backup (PostgreSQL: pg_dump)")
    def test_erasure_then_backup_loses_nothing(self):
        def backup(d):
            dest = os.path.join(d.data_dir, "copy.db")
            result = run_cli(["backup", dest, "--data-dir", d.data_dir], timeout=60)
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
            self.assertTrue(os.path.exists(dest))
        self.erase_then(backup)

    def test_verify_during_ingest_loses_nothing(self):
        """verify and backup run again and again while 4 clients post; then SIGKILL: every 201
        is there after the restart. An erasure first makes the daemon run its scrub."""
        with Daemon() as d:
            sid = uid("walrace")
            self.assertEqual(d.req("PUT", "/v1/surveys/" + sid, simple_definition(),
                                   token=ADMIN_TOKEN).status, 201)
            for n in range(3):
                self.post(d, sid, "carol-the-customer", n)
            self.assertEqual(d.req("DELETE", "/v1/customers/carol-the-customer",
                                   token=ADMIN_TOKEN).json, {"deleted": 3})
            acked, failures = [], []
            lock = threading.Lock()
            done = threading.Event()

            def ingest(w):
                for n in range(40):
                    r = d.req("POST", "/v1/surveys/%s/responses" % sid,
                              {"answers": {"nps": n % 11}, "interaction": "w%d-%d" % (w, n)},
                              token=INGEST_TOKEN)
                    with lock:
                        (acked if r.status == 201 else failures).append(
                            r.json["id"] if r.status == 201 else r.status)

            def operate():
                rounds = 0
                while not done.is_set() or rounds < 3:
                    rounds += 1
                    result = run_cli(["verify", "--data-dir", d.data_dir], timeout=60)
                    # A snapshot taken between a response and its rollups never exists:
                    # every run must be clean.
                    with lock:
                        if result.returncode != 0:
                            failures.append(result.stdout + result.stderr)
                    if not harness.is_postgres():   # PostgreSQL's backup is pg_dump's
                        run_cli(["backup", os.path.join(d.data_dir, "b.db"), "--data-dir", d.data_dir],
                                timeout=60)

            op = threading.Thread(target=operate)
            op.start()
            workers = [threading.Thread(target=ingest, args=(w,)) for w in range(4)]
            for t in workers:
                t.start()
            for t in workers:
                t.join(120)
            done.set()
            op.join(120)
            self.assertEqual(failures, [])
            self.assertEqual(len(acked), 160)
            # A few more after the last run: had a run deleted the live WAL, these would go into
            # the deleted file (too few frames for an automatic checkpoint to rescue them).
            acked += [self.post(d, sid, "dave-the-customer", n) for n in range(5)]
            if not harness.is_postgres():
                self.assertTrue(os.path.exists(d.db_path + "-wal"), "the live WAL was deleted")
            d.kill()
            d.start()
            missing = [i for i in acked
                       if d.req("GET", "/v1/responses/" + i, token=READ_TOKEN).status != 200]
            self.assertEqual(missing, [], "%d of %d acknowledged responses lost"
                             % (len(missing), len(acked)))
            d.stop()


if __name__ == "__main__":
    unittest.main()
