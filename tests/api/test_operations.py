"""Operations: Prometheus /metrics (checked with promtool), the metrics token, online backup during
ingest, the healthcheck subcommand, JSON logs."""

import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import unittest

import harness
from harness import (ADMIN_TOKEN, INGEST_TOKEN, READ_TOKEN, BaseAPITest, Client, Daemon, run_cli,
                     simple_definition, uid)


def metric_value(text, name, labels=""):
    for line in text.splitlines():
        if line.startswith(name + labels + " ") or (not labels and line.startswith(name + " ")):
            return float(line.rsplit(" ", 1)[1])
    return None


class PrometheusTests(BaseAPITest):
    def test_exposition_passes_promtool_and_counts_what_happened(self):
        sid = self.new_survey()
        for i in range(3):
            self.post_ok(sid, {"answers": {"nps": i}})
        self.req("GET", "/no/such/route")
        r = self.req("GET", "/metrics")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers.get("Content-Type", "").startswith("text/plain; version=0.0.4"))
        text = r.body.decode()
        promtool = shutil.which("promtool")
        self.assertIsNotNone(promtool, "promtool (Debian package prometheus) is needed: deploy/setup.sh installs it")
        check = subprocess.run([promtool, "check", "metrics"], input=r.body, capture_output=True, timeout=30)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        # Anonymous: the total only (per-survey series are tested in OpenMetricsPrivacyTests).
        self.assertEqual(metric_value(text, "surveyd_responses_ingested_total"), 3)
        labelled = self.req("GET", "/metrics", token=READ_TOKEN).body.decode()
        self.assertEqual(metric_value(labelled, "surveyd_responses_ingested_total", '{survey="%s"}' % sid), 3)
        self.assertEqual(metric_value(
            text, "surveyd_http_requests_total",
            '{method="POST",route="/v1/surveys/*/responses",status="201"}'), 3)
        self.assertGreaterEqual(metric_value(
            text, "surveyd_http_requests_total", '{method="",route="unmatched",status="404"}'), 1)
        self.assertIsNotNone(metric_value(text, "surveyd_writer_queue_depth"))
        self.assertGreater(metric_value(text, "surveyd_database_size_bytes"), 0)
        self.assertGreaterEqual(metric_value(text, "surveyd_writer_batch_size_count"), 3)
        self.assertIn('surveyd_build_info{version="', text)
        for name in ("surveyd_http_request_duration_seconds", "surveyd_writer_commit_duration_seconds",
                     "surveyd_writer_batch_size"):
            self.assertIn("# TYPE %s histogram" % name, text)


class OpenMetricsPrivacyTests(BaseAPITest):
    """Issue 11, item 8: an open /metrics must not name private surveys (ids can't be probed)."""

    def test_open_metrics_name_no_survey(self):
        private = self.new_survey(simple_definition(public=False), prefix="hidden")
        public = self.new_survey(simple_definition(public=True), prefix="shown")
        self.post_ok(private, {"answers": {"nps": 9}})
        self.post_ok(public, {"answers": {"nps": 3}})
        r = self.req("GET", "/metrics")
        self.assertEqual(r.status, 200)
        text = r.body.decode()
        self.assertNotIn(private, text)
        self.assertNotIn("survey=", text)
        self.assertEqual(metric_value(text, "surveyd_responses_ingested_total"), 2)
        check = subprocess.run([shutil.which("promtool") or "promtool", "check", "metrics"], input=r.body,
                               capture_output=True, timeout=30)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        # An unknown token does not open them either; a read or admin token does.
        self.assertNotIn(private, self.req("GET", "/metrics", token="guess").body.decode())
        self.assertNotIn(private, self.req("GET", "/metrics", token=INGEST_TOKEN).body.decode())
        for token in (READ_TOKEN, ADMIN_TOKEN):
            text = self.req("GET", "/metrics", token=token).body.decode()
            self.assertEqual(metric_value(text, "surveyd_responses_ingested_total", '{survey="%s"}' % private), 1)


class MetricsTokenTests(BaseAPITest):
    daemon_args = ("--metrics-token", "scrape-secret")

    def test_token_required_when_configured(self):
        self.assertEqual(self.req("GET", "/metrics").status, 401)
        self.assertEqual(self.req("GET", "/metrics", token="wrong").status, 401)
        # Exactly the token: not a prefix of it, nor it with more after it.
        for near in ("scrape-secre", "scrape-secretx", "scrape-secret\tx", "Scrape-secret"):
            self.assertEqual(self.req("GET", "/metrics", token=near).status, 401, near)
        self.assertEqual(self.req("GET", "/metrics", token=INGEST_TOKEN).status, 403)
        self.assertEqual(self.req("GET", "/metrics", token="scrape-secret").status, 200)
        self.assertEqual(self.req("GET", "/metrics", token=READ_TOKEN).status, 200)
        self.assertNotIn("scrape-secret", self.daemon.stderr_text())

    def test_metrics_token_sees_per_survey_series(self):
        sid = self.new_survey()
        self.post_ok(sid, {"answers": {"nps": 5}})
        text = self.req("GET", "/metrics", token="scrape-secret").body.decode()
        self.assertEqual(metric_value(text, "surveyd_responses_ingested_total", '{survey="%s"}' % sid), 1)


class BackupTests(unittest.TestCase):
    @harness.skip_unless_sqlite("surveyd backup is SQLite's online backup (PostgreSQL: pg_dump)")
    def test_backup_during_ingest_is_complete_and_consistent(self):
        daemon = Daemon()
        self.addCleanup(daemon.cleanup)
        daemon.start()
        sid = uid("bk")
        self.assertEqual(daemon.req("PUT", "/v1/surveys/" + sid, simple_definition(), token=ADMIN_TOKEN).status, 201)
        stop = threading.Event()
        acked = []

        def ingest(i):
            client = Client("127.0.0.1", daemon.port)
            n = 0
            while not stop.is_set():
                n += 1
                r = client.req("POST", "/v1/surveys/%s/responses" % sid, {"answers": {"nps": n % 11}},
                               token=INGEST_TOKEN)
                if r.status == 201:
                    acked.append(r.json["id"])
            client.close_all()

        threads = [threading.Thread(target=ingest, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        try:
            while len(acked) < 200:
                threading.Event().wait(0.05)
            dest = os.path.join(tempfile.mkdtemp(prefix="surveyd-backup-"), "copy.db")
            before = len(acked)
            backup = run_cli(["backup", dest, "--data-dir", daemon.data_dir], timeout=60)
            after = len(acked)
        finally:
            stop.set()
            for t in threads:
                t.join(10)
        self.assertEqual(backup.returncode, 0, backup.stdout + backup.stderr)
        self.assertGreater(after, before - 1)
        copy = sqlite3.connect(dest)
        self.assertEqual(copy.execute("PRAGMA integrity_check").fetchone()[0], "ok")
        rows = copy.execute("SELECT count(*) FROM responses").fetchone()[0]
        copy.close()
        # A snapshot taken while ingest went on: at least what was acknowledged before it started.
        self.assertGreaterEqual(rows, before)
        self.assertLessEqual(rows, len(acked))
        self.assertFalse(os.path.exists(dest + ".tmp"))
        restored = tempfile.mkdtemp(prefix="surveyd-restored-")
        shutil.copy(dest, os.path.join(restored, "surveyd.db"))
        verify = run_cli(["verify", "--data-dir", restored], timeout=60)
        self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)
        daemon.stop()

    def test_backup_of_a_missing_database_fails_clearly(self):
        p = run_cli(["backup", os.path.join(tempfile.mkdtemp(), "x.db"), "--data-dir", "/nonexistent/dir"])
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"cannot open", p.stderr)


class HealthcheckTests(BaseAPITest):
    def test_healthcheck_subcommand(self):
        ok = run_cli(["healthcheck", "--listen", "127.0.0.1:%d" % self.daemon.port])
        self.assertEqual(ok.returncode, 0, ok.stderr)
        ok = run_cli(["healthcheck"], env={"SURVEYD_LISTEN": "0.0.0.0:%d" % self.daemon.port})
        self.assertEqual(ok.returncode, 0, ok.stderr)
        bad = run_cli(["healthcheck", "--listen", "127.0.0.1:9"])
        self.assertEqual(bad.returncode, 1)
        self.assertIn(b"not ready", bad.stderr)


class JsonLogTests(BaseAPITest):
    daemon_args = ("--log-format", "json")

    def test_every_line_is_json_with_the_request_fields(self):
        self.req("GET", "/healthz", headers={"X-Request-Id": "json-log-probe-1"})
        line = self.daemon.wait_for_log(lambda text: "json-log-probe-1" in text)
        entries = [json.loads(l) for l in self.daemon.stderr_text().splitlines() if l.strip()]
        self.assertTrue(entries)
        probe = [e for e in entries if e.get("request_id") == "json-log-probe-1"]
        self.assertEqual(len(probe), 1, line)
        self.assertEqual(probe[0]["method"], "GET")
        self.assertEqual(probe[0]["path"], "/healthz")
        self.assertEqual(probe[0]["status"], 200)
        self.assertIn("duration_ms", probe[0])


if __name__ == "__main__":
    unittest.main()
