"""The PostgreSQL backend's schema and opening rules, through the real daemon and CLI on a real
server (SURVEYD_TEST_POSTGRES: the URI of a maintenance database, e.g.
postgresql:///postgres?host=/tmp/cluster&user=postgres; without it the file reports itself
skipped, exit 77).

- Two instances started at the same instant on an empty database migrate it once (the advisory
  lock): both serve, one of them logs each migration, schema_version says the last one.
- Read-only opens (verify, backup) never create or migrate anything and say what is wrong.
- Every write transaction moves the data versions of the surveys it wrote to; a read does not.
- Neither a start-up failure nor a refused backup ever prints the URI's password."""

import os
import re
import subprocess
import sys
import threading
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import ADMIN_TOKEN, Daemon, uid  # noqa: E402

SERVER = os.environ.get("SURVEYD_TEST_POSTGRES")
MIGRATION_RE = re.compile(r"applied PostgreSQL migration (\d{3}_\w+\.sql)")
PASSWORD = "pw-never-printed-7f3a"


def database_uri(name, host=None):
    """SERVER's URI naming database NAME instead (and, given host, that socket folder or host)."""
    base, _, query = SERVER.partition("?")
    params = urllib.parse.parse_qsl(query)
    if host is not None:
        params = [(k, v) for k, v in params if k != "host"] + [("host", host)]
    return base[:base.rindex("/") + 1] + name + ("?" + urllib.parse.urlencode(params) if params else "")


def psql(uri, sql):
    p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", uri, "-c", sql],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if p.returncode != 0:
        raise AssertionError("psql %r failed: %s" % (sql, p.stderr.decode()))
    return p.stdout.decode().strip()


class PostgresCase(unittest.TestCase):
    def fresh_database(self):
        name = uid("schema").replace("-", "_").lower()
        psql(SERVER, "CREATE DATABASE " + name)
        self.addCleanup(psql, SERVER, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)
        return database_uri(name)

    def daemon(self, uri):
        d = Daemon(extra_args=["--database", uri])
        self.addCleanup(d.cleanup)
        return d


class ConcurrentStart(PostgresCase):
    def test_two_instances_starting_together_migrate_once(self):
        uri = self.fresh_database()
        a, b = self.daemon(uri), self.daemon(uri)
        barrier = threading.Barrier(2)
        failures = []

        def start(d):
            barrier.wait()
            try:
                d.start()
            except AssertionError as e:  # reported below, with both logs
                failures.append(str(e))

        threads = [threading.Thread(target=start, args=(d,)) for d in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(failures, [])

        applied = MIGRATION_RE.findall(a.stderr_text()) + MIGRATION_RE.findall(b.stderr_text())
        files = sorted(set(applied))
        self.assertTrue(files, "no migration logged:\n%s\n%s" % (a.stderr_text(), b.stderr_text()))
        self.assertEqual(sorted(applied), files, "a migration ran twice")
        self.assertEqual(psql(uri, "SELECT version FROM schema_version"), str(len(files)))
        self.assertEqual(psql(uri, "SELECT count(*) FROM data_versions WHERE survey = ''"), "1")

        # One database: a survey PUT through one instance is there through the other.
        sid = uid("both")
        r = a.req("PUT", "/v1/surveys/" + sid, harness.simple_definition(), token=ADMIN_TOKEN)
        self.assertEqual(r.status, 201, r.body[:300])
        self.assertEqual(b.req("GET", "/v1/surveys/" + sid, token=ADMIN_TOKEN).status, 200)

        # A later start finds nothing to do.
        a.restart()
        self.assertEqual(MIGRATION_RE.findall(a.run_stderr()), [])


class ReadOnlyOpens(PostgresCase):
    def test_verify_on_an_empty_database_changes_nothing_and_says_why(self):
        uri = self.fresh_database()
        p = harness.run_cli(["verify", "--database", uri], timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("no surveyd schema", p.stderr.decode())
        self.assertEqual(psql(uri, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), "0")

    def test_verify_refuses_a_schema_of_another_version(self):
        uri = self.fresh_database()
        d = self.daemon(uri)
        d.start()
        d.stop()
        psql(uri, "UPDATE schema_version SET version = version + 1")
        p = harness.run_cli(["verify", "--database", uri], timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("run a newer surveyd", p.stderr.decode())
        # Nor does a serving instance take it for its own.
        p = harness.run_cli(["serve", "--listen", "127.0.0.1:0", "--database", uri], timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("newer than this surveyd understands", p.stderr.decode())

    def test_backup_points_to_pg_dump_without_printing_the_password(self):
        uri = self.fresh_database()
        d = self.daemon(uri)
        d.start()
        d.stop()
        p = harness.run_cli(["backup", os.path.join(d.data_dir, "copy.db"), "--database",
                             uri + "&password=" + PASSWORD], timeout=60)
        out = (p.stdout + p.stderr).decode()
        self.assertNotEqual(p.returncode, 0, out)
        self.assertIn("pg_dump", out)
        self.assertNotIn(PASSWORD, out)
        self.assertFalse(os.path.exists(os.path.join(d.data_dir, "copy.db")))


class StartWithoutServer(unittest.TestCase):
    def test_unreachable_server_is_a_clear_start_failure_without_the_password(self):
        # A socket folder with no server in it: connecting fails at once.
        uri = database_uri("postgres", host="/nonexistent-surveyd-socket") + "&password=" + PASSWORD
        p = harness.run_cli(["serve", "--listen", "127.0.0.1:0", "--database", uri], timeout=60)
        err = p.stderr.decode()
        self.assertNotEqual(p.returncode, 0, err)
        self.assertIn("cannot connect to PostgreSQL", err)
        self.assertNotIn(PASSWORD, err + p.stdout.decode())


class DataVersion(PostgresCase):
    def test_every_write_moves_it_and_reads_do_not(self):
        uri = self.fresh_database()
        d = self.daemon(uri)
        d.start()
        sid = uid("dv")
        version = lambda: int(psql(uri, "SELECT coalesce(sum(version), 0) FROM data_versions"  # noqa: E731
                                        " WHERE survey IN ('', '%s')" % sid))
        self.assertEqual(d.req("PUT", "/v1/surveys/" + sid, harness.simple_definition(),
                               token=ADMIN_TOKEN).status, 201)
        before = version()
        r = d.req("POST", "/v1/surveys/%s/responses" % sid, {"answers": {"nps": 9}}, token=ADMIN_TOKEN)
        self.assertEqual(r.status, 201, r.body[:300])
        after_post = version()
        self.assertGreater(after_post, before)
        self.assertEqual(d.req("GET", "/v1/surveys/" + sid, token=ADMIN_TOKEN).status, 200)
        self.assertEqual(d.req("GET", "/v1/surveys", token=ADMIN_TOKEN).status, 200)
        self.assertEqual(d.req("GET", "/v1/responses/" + r.json["id"], token=ADMIN_TOKEN).status, 200)
        self.assertEqual(version(), after_post)
        self.assertEqual(d.req("DELETE", "/v1/responses/" + r.json["id"], token=ADMIN_TOKEN).status, 204)
        self.assertGreater(version(), after_post)


if __name__ == "__main__":
    if not SERVER:
        print("SKIP: SURVEYD_TEST_POSTGRES is unset (the URI of a PostgreSQL maintenance database)")
        sys.exit(77)
    unittest.main()
