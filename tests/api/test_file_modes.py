"""Data files are private (issue 11, item 10): surveyd.db, -wal, -shm and backups are created 0600
whatever the umask, existing ones readable by others are tightened at start, and a data directory
readable by others is warned about."""

import os
import stat
import tempfile
import shutil
import unittest

import harness
from harness import ADMIN_TOKEN, INGEST_TOKEN, Daemon, run_cli, simple_definition, uid

DATA_FILES = ("surveyd.db", "surveyd.db-wal", "surveyd.db-shm")


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@harness.skip_unless_sqlite("modes of SQLite's files in the data directory")
class FileModes(unittest.TestCase):

    def setUp(self):
        self.parent = tempfile.mkdtemp(prefix="surveyd-modes-")
        self.addCleanup(shutil.rmtree, self.parent, True)
        self.data_dir = os.path.join(self.parent, "data")
        os.mkdir(self.data_dir)
        os.chmod(self.data_dir, 0o755)   # an existing, world-readable directory
        # The laxest umask: whatever surveyd creates must still be owner-only.
        old = os.umask(0)
        self.addCleanup(os.umask, old)

    def ingest(self, d):
        sid = uid("modes")
        self.assertEqual(d.req("PUT", "/v1/surveys/" + sid, simple_definition(),
                               token=ADMIN_TOKEN).status, 201)
        r = d.req("POST", "/v1/surveys/%s/responses" % sid, {"answers": {"nps": 7}},
                  token=INGEST_TOKEN)
        self.assertEqual(r.status, 201, r.body)

    def assertPrivate(self, *paths):
        for path in paths:
            with self.subTest(path=os.path.basename(path)):
                self.assertTrue(os.path.exists(path), path)
                self.assertEqual(oct(mode_of(path)), oct(0o600))

    def test_files_created_owner_only_whatever_the_umask(self):
        d = Daemon(data_dir=self.data_dir)
        self.addCleanup(d.cleanup)
        d.start()
        self.ingest(d)
        self.assertPrivate(*[os.path.join(self.data_dir, f) for f in DATA_FILES])
        dest = os.path.join(self.parent, "backup.db")
        result = run_cli(["backup", dest, "--data-dir", self.data_dir], timeout=60)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertPrivate(dest)
        d.stop()
        self.assertPrivate(os.path.join(self.data_dir, "surveyd.db"))

    def test_warns_when_data_directory_is_readable_by_others(self):
        d = Daemon(data_dir=self.data_dir)
        self.addCleanup(d.cleanup)
        d.start()
        line = d.wait_for_log(lambda l: "data directory" in l and "others" in l, timeout=5)
        self.assertIsNotNone(line, d.run_stderr())
        self.assertIn("warn", line)
        d.stop()
        # Owner-only: no warning.
        os.chmod(self.data_dir, 0o700)
        d.start()
        self.ingest(d)
        d.stop()
        self.assertNotIn("others", d.run_stderr())

    def test_existing_files_readable_by_others_are_tightened(self):
        d = Daemon(data_dir=self.data_dir)
        self.addCleanup(d.cleanup)
        d.start()
        self.ingest(d)
        d.kill()  # leaves -wal and -shm behind, as a crash does
        for f in DATA_FILES:
            os.chmod(os.path.join(self.data_dir, f), 0o644)
        d.start()
        self.assertPrivate(*[os.path.join(self.data_dir, f) for f in DATA_FILES])
        d.stop()


if __name__ == "__main__":
    unittest.main()
