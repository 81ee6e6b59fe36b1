"""Operations: health/readiness, request ids, access log, signals, CLI and
persistence across restarts (SIGTERM and SIGKILL)."""

import re
import signal
import threading
import time
import unittest

from harness import (ADMIN_TOKEN, INGEST_TOKEN, READ_TOKEN, BaseAPITest, Daemon,
                     run_cli, simple_definition, uid)


class HealthTests(BaseAPITest):

    def test_healthz(self):
        r = self.req("GET", "/healthz")
        self.assertEqual(r.status, 200, r.body)

    def test_readyz(self):
        r = self.req("GET", "/readyz")
        self.assertEqual(r.status, 200, r.body)


class RequestIdTests(BaseAPITest):

    def test_every_response_has_request_id(self):
        sid = uid("rid")
        cases = [
            ("GET", "/healthz", None, None),
            ("GET", "/readyz", None, None),
            ("PUT", "/v1/surveys/" + sid, simple_definition(), ADMIN_TOKEN),     # 201
            ("GET", "/v1/surveys/" + sid, None, READ_TOKEN),                     # 200
            ("GET", "/v1/surveys/" + sid, None, None),                           # 401
            ("GET", "/v1/surveys/" + sid, None, INGEST_TOKEN),                   # 403
            ("GET", "/no/such/route", None, ADMIN_TOKEN),                        # 404
            ("PATCH", "/v1/surveys/" + sid, b"{}", ADMIN_TOKEN),                 # 405
            ("POST", "/v1/surveys/%s/responses" % sid, b"{", INGEST_TOKEN),      # 400
            ("POST", "/v1/surveys/%s/responses" % sid, {"answers": {}}, INGEST_TOKEN),  # 422
            ("POST", "/v1/surveys/%s/responses" % sid, {"answers": {"nps": 1}}, INGEST_TOKEN),
            ("DELETE", "/v1/surveys/" + sid, None, ADMIN_TOKEN),                 # 204
        ]
        seen = set()
        for method, path, body, token in cases:
            with self.subTest(method=method, path=path):
                r = self.req(method, path, body, token=token)
                rid = r.headers.get("X-Request-Id")
                self.assertTrue(rid, "no X-Request-Id on %d" % r.status)
                self.assertLessEqual(len(rid), 128)
                self.assertNotIn(rid, seen, "request ids must differ per request")
                seen.add(rid)

    def test_request_id_echoed(self):
        for sent in ("abc-123", "req_" + "x" * 124,
                     "0f8fad5b-d9cb-469f-a165-70867728950e", "a.b:c/d=e"):
            with self.subTest(sent=sent):
                r = self.req("GET", "/healthz", headers={"X-Request-Id": sent})
                self.assertEqual(r.headers.get("X-Request-Id"), sent)
        r = self.req("GET", "/v1/surveys/" + uid("missing"), token=READ_TOKEN,
                     headers={"X-Request-Id": "echo-on-error"})
        self.assertEqual(r.status, 404)
        self.assertEqual(r.headers.get("X-Request-Id"), "echo-on-error")

    def test_insane_request_id_replaced(self):
        # Control characters in any header value are refused since the 2026-11 review (item 9):
        # see test_control_characters_in_request_id_refused.
        for sent in ("y" * 129, "z" * 1000, "abc def", "\u00e9t\u00e9", ""):
            with self.subTest(sent=sent):
                r = self.req("GET", "/healthz", headers={"X-Request-Id": sent})
                self.assertEqual(r.status, 200)
                got = r.headers.get("X-Request-Id")
                self.assertTrue(got, "a fresh request id must be generated")
                self.assertNotEqual(got, sent)
                self.assertLessEqual(len(got), 128)

    def test_control_characters_in_request_id_refused(self):
        for sent in ("abc\x01def", "abc\x7f"):
            with self.subTest(sent=sent):
                r = self.req("GET", "/healthz", headers={"X-Request-Id": sent})
                self.assertProblem(r, 400, "invalid_header")


class AccessLogTests(BaseAPITest):

    def test_one_log_line_per_request(self):
        rid = uid("logcheck").replace("-", "_") + "_REQ"
        path = "/v1/surveys/" + uid("logged")
        r = self.req("GET", path, token=READ_TOKEN, headers={"X-Request-Id": rid})
        self.assertEqual(r.status, 404)
        line = self.daemon.wait_for_log(lambda l: rid in l, timeout=5)
        self.assertIsNotNone(line, "request id %r not in stderr:\n%s"
                             % (rid, self.daemon.stderr_text()[-3000:]))
        self.assertIn("GET", line)
        self.assertIn(path, line)
        self.assertRegex(line, r"\b404\b")
        time.sleep(0.2)
        lines = [l for l in self.daemon.stderr_text().splitlines() if rid in l]
        self.assertEqual(len(lines), 1, lines)

    def test_log_line_for_post(self):
        rid = uid("logpost").replace("-", "_") + "_REQ"
        sid = self.new_survey(prefix="logpost")
        r = self.post_response(sid, {"answers": {"nps": 2}}, headers={"X-Request-Id": rid})
        self.assertEqual(r.status, 201)
        line = self.daemon.wait_for_log(lambda l: rid in l, timeout=5)
        self.assertIsNotNone(line)
        self.assertIn("POST", line)
        self.assertIn("/v1/surveys/%s/responses" % sid, line)
        self.assertRegex(line, r"\b201\b")


class SignalTests(unittest.TestCase):

    def test_sigterm_exits_zero(self):
        with Daemon() as d:
            self.assertEqual(d.req("GET", "/healthz").status, 200)
            d.client.close()
            self.assertEqual(d.stop(check=False), 0, d.stderr_text()[-3000:])

    def test_sigterm_while_idle_connection_open(self):
        with Daemon() as d:
            self.assertEqual(d.req("GET", "/healthz").status, 200)  # keep-alive conn stays open
            self.assertEqual(d.stop(check=False), 0, d.stderr_text()[-3000:])


class CliTests(unittest.TestCase):

    def test_help(self):
        p = run_cli(["--help"])
        out = (p.stdout + p.stderr).decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, out)
        self.assertIn("--listen", out)
        self.assertIn("--data-dir", out)

    def test_version(self):
        p = run_cli(["--version"])
        out = (p.stdout + p.stderr).decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, out)
        self.assertRegex(out, r"\d+\.\d+")

    def test_unknown_flag(self):
        for args in (["--definitely-not-a-flag"], ["serve", "--definitely-not-a-flag"]):
            with self.subTest(args=args):
                p = run_cli(args)
                self.assertNotEqual(p.returncode, 0)
                self.assertGreater(p.returncode, 0, "killed by a signal: %d" % p.returncode)


class PersistenceTests(unittest.TestCase):

    def test_restart_after_sigterm(self):
        with Daemon() as d:
            sid = uid("persist")
            defn = simple_definition(public=True, allowed_origins=["https://a.example"])
            self.assertEqual(d.req("PUT", "/v1/surveys/" + sid, defn, token=ADMIN_TOKEN).status,
                             201)
            before_def = d.req("GET", "/v1/surveys/" + sid, token=READ_TOKEN).json
            posted = {}
            for i in range(20):
                body = {"answers": {"nps": i % 11, "comment": "c%d" % i},
                        "interaction": "inter-%d" % i, "channel": "web",
                        "properties": {"i": str(i)}}
                r = d.req("POST", "/v1/surveys/%s/responses" % sid, body, token=INGEST_TOKEN)
                self.assertEqual(r.status, 201, r.body)
                posted[r.json["id"]] = d.req("GET", "/v1/responses/" + r.json["id"],
                                             token=READ_TOKEN).json
            d.stop()
            d.start()
            self.assertEqual(d.req("GET", "/readyz").status, 200)
            after_def = d.req("GET", "/v1/surveys/" + sid, token=READ_TOKEN)
            self.assertEqual(after_def.status, 200)
            self.assertEqual(after_def.json, before_def)
            for rid, rec in posted.items():
                g = d.req("GET", "/v1/responses/" + rid, token=READ_TOKEN)
                self.assertEqual(g.status, 200, rid)
                self.assertEqual(g.json, rec)
            # Uniqueness constraint survives too.
            r = d.req("POST", "/v1/surveys/%s/responses" % sid,
                      {"answers": {"nps": 1}, "interaction": "inter-3"}, token=INGEST_TOKEN)
            self.assertEqual(r.status, 409)
            d.stop()

    def test_every_201_survives_sigkill(self):
        with Daemon() as d:
            sid = uid("kill")
            self.assertEqual(d.req("PUT", "/v1/surveys/" + sid, simple_definition(),
                                   token=ADMIN_TOKEN).status, 201)
            acked = []
            lock = threading.Lock()
            stop = threading.Event()
            enough = threading.Event()

            def worker(w):
                n = 0
                while not stop.is_set():
                    n += 1
                    try:
                        r = d.req("POST", "/v1/surveys/%s/responses" % sid,
                                  {"answers": {"nps": n % 11}, "interaction": "w%d-%d" % (w, n)},
                                  token=INGEST_TOKEN)
                    except OSError:
                        return  # daemon was killed mid-request
                    except Exception:  # http.client errors after the kill
                        if stop.is_set():
                            return
                        raise
                    if r.status == 201:
                        with lock:
                            acked.append(r.json["id"])
                            if len(acked) >= 150:
                                enough.set()

            threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
            for t in threads:
                t.start()
            enough.wait(60)
            stop.set()
            d.kill()          # SIGKILL while requests are in flight
            for t in threads:
                t.join(30)
            with lock:
                ids = list(acked)
            self.assertGreaterEqual(len(ids), 150)
            d.start()
            missing = [i for i in ids
                       if d.req("GET", "/v1/responses/" + i, token=READ_TOKEN).status != 200]
            self.assertEqual(missing, [], "%d of %d acknowledged responses lost after SIGKILL"
                             % (len(missing), len(ids)))
            self.assertEqual(d.req("GET", "/v1/surveys/" + sid, token=READ_TOKEN).status, 200)
            d.stop()


if __name__ == "__main__":
    unittest.main()
