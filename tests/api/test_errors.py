"""Error handling: routing (404/405), malformed JSON (incl. the
JSONTestSuite corpus), body size limits and problem-details shape."""

import concurrent.futures
import os
import unittest

from harness import (ADMIN_TOKEN, DEFAULT_MAX_BODY, INGEST_TOKEN, READ_TOKEN,
                     BaseAPITest, chunked, json_suite_dir, raw_request,
                     simple_definition, uid)


def padded_body(size):
    """A valid response body of exactly `size` bytes."""
    head, tail = b'{"answers": {"nps": 5}', b"}"
    pad = size - len(head) - len(tail)
    assert pad >= 0
    return head + b" " * pad + tail


class RoutingTests(BaseAPITest):

    def test_unknown_routes_404(self):
        for method, path in (("GET", "/"), ("GET", "/v1"), ("GET", "/v2/surveys"),
                             ("GET", "/v1/unknown"), ("GET", "/nope"),
                             ("GET", "/v1/surveys/abc/def"),
                             ("GET", "/v1/surveys/abc/responses/x"),
                             ("POST", "/v1/surveys/abc/answers"),
                             ("GET", "/healthzz"), ("DELETE", "/v1/things/1")):
            with self.subTest(method=method, path=path):
                r = self.req(method, path, token=ADMIN_TOKEN)
                self.assertProblem(r, 404, "not_found")

    def test_wrong_method_405_with_allow(self):
        for method, path, must in (
                ("PATCH", "/v1/surveys/x", {"GET", "PUT", "DELETE"}),
                ("POST", "/v1/surveys/x", {"GET", "PUT", "DELETE"}),
                ("POST", "/v1/surveys", {"GET"}),
                ("DELETE", "/v1/surveys", {"GET"}),
                ("DELETE", "/v1/surveys/x/responses", {"GET", "POST"}),
                ("PUT", "/v1/surveys/x/responses", {"GET", "POST"}),
                ("PUT", "/v1/responses/abc", {"GET", "PATCH", "DELETE"}),
                ("POST", "/v1/responses/abc", {"GET", "PATCH", "DELETE"}),
                ("POST", "/v1/customers/c1/responses", {"GET"}),
                ("GET", "/v1/customers/c1", {"DELETE"}),
                ("POST", "/v1/surveys/x/metrics", {"GET"}),
                ("POST", "/healthz", {"GET"}),
                ("PUT", "/readyz", {"GET"})):
            with self.subTest(method=method, path=path):
                body = b"{}" if method in ("POST", "PUT", "PATCH") else None
                r = self.req(method, path, body, token=ADMIN_TOKEN)
                self.assertProblem(r, 405, "method_not_allowed")
                allow = r.headers.get("Allow")
                self.assertIsNotNone(allow, "405 without Allow header")
                methods = {m.strip().upper() for m in allow.split(",") if m.strip()}
                self.assertTrue(must <= methods, "Allow %r lacks %r" % (allow, must - methods))
                self.assertNotIn(method, methods)


class InvalidJsonTests(BaseAPITest):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sid = uid("json")
        r = cls.daemon.req("PUT", "/v1/surveys/" + cls.sid, simple_definition(public=True),
                           token=ADMIN_TOKEN)
        assert r.status == 201, r

    BAD = [b"", b"{", b'{"answers": {"nps": 5}', b'{"answers": {"nps": 5}}}',
           b'{"answers": {"nps": 5}} x', b"{'answers': {}}", b'{"answers": {"nps": 05}}',
           b'{"answers": {"nps": 5,}}', b'{"answers": {"comment": "a\tb"}}',
           b'{"answers": {"nps": NaN}}', b'{answers: 1}', b'{"answers": {"comment": "\\x41"}}',
           b"\xef\xbb\xbf", b'{"a" 1}', b'[1,]', b'{"answers": {"nps": 5}}\x00']

    def test_malformed_json_400(self):
        for body in self.BAD:
            with self.subTest(body=body):
                r = self.post_response(self.sid, body)
                self.assertProblem(r, 400, "invalid_json")

    def test_malformed_json_on_put_400(self):
        for body in (b"", b"{", b'{"title": "x",}'):
            with self.subTest(body=body):
                r = self.req("PUT", "/v1/surveys/" + uid("pj"), body, token=ADMIN_TOKEN)
                self.assertProblem(r, 400, "invalid_json")

    def test_nul_string_is_422_not_400(self):
        r = self.post_response(self.sid, b'{"answers": {"comment": "\\u0000"}}')
        self.assertProblem(r, 422, "validation_failed")
        r = self.req("PUT", "/v1/surveys/" + uid("nul"),
                     b'{"title": "a\\u0000b", "questions": [{"id": "q", "type": "nps"}]}',
                     token=ADMIN_TOKEN)
        self.assertProblem(r, 422, "validation_failed")

    def test_unicode_escapes_ok(self):
        r = self.post_ok(self.sid, b'{"answers": {"comment": "caf\\u00e9 \\ud83d\\ude00"}}',
                         token=None)
        g = self.get_response(r.json["id"], token=READ_TOKEN).json
        self.assertEqual(g["answers"]["comment"], "caf\u00e9 \U0001F600")


class BodyLimitTests(BaseAPITest):
    limit = DEFAULT_MAX_BODY

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sid = uid("limit")
        r = cls.daemon.req("PUT", "/v1/surveys/" + cls.sid, simple_definition(),
                           token=ADMIN_TOKEN)
        assert r.status == 201, r

    def path(self):
        return "/v1/surveys/%s/responses" % self.sid

    def send(self, body, chunk=False):
        headers = [("Content-Type", "application/json"),
                   ("Authorization", "Bearer " + INGEST_TOKEN)]
        if chunk:
            headers.append(("Transfer-Encoding", "chunked"))
            chunks = chunked(body)
        else:
            headers.append(("Content-Length", str(len(body))))
            chunks = [body[i:i + 16384] for i in range(0, len(body), 16384)]
        return raw_request(self.daemon.port, "POST", self.path(), headers, chunks)

    def test_content_length_over_limit_413(self):
        r = self.send(padded_body(self.limit + 1))
        self.assertProblem(r, 413, "payload_too_large")

    def test_far_over_limit_413(self):
        r = self.send(padded_body(self.limit * 4))
        self.assertProblem(r, 413, "payload_too_large")

    def test_exact_limit_accepted(self):
        r = self.send(padded_body(self.limit))
        self.assertEqual(r.status, 201, r.body[:500])

    def test_chunked_over_limit_413(self):
        r = self.send(padded_body(self.limit + 1000), chunk=True)
        self.assertProblem(r, 413, "payload_too_large")

    def test_chunked_small_body_accepted(self):
        r = self.send(b'{"answers": {"nps": 2}}', chunk=True)
        self.assertEqual(r.status, 201, r.body[:500])

    def test_http_client_encode_chunked_over_limit(self):
        # Same via http.client's own chunked encoder (generator body).
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.daemon.port, timeout=30)
        try:
            body = padded_body(self.limit + 1)
            gen = (body[i:i + 4096] for i in range(0, len(body), 4096))
            try:
                conn.request("POST", self.path(), body=gen, encode_chunked=True,
                             headers={"Content-Type": "application/json",
                                      "Transfer-Encoding": "chunked",
                                      "Authorization": "Bearer " + INGEST_TOKEN})
            except (BrokenPipeError, ConnectionResetError):
                pass
            r = conn.getresponse()
            raw = r.read()
            self.assertEqual(r.status, 413, raw[:300])
        finally:
            conn.close()

    def test_chunked_exact_limit_accepted(self):
        r = self.send(padded_body(self.limit), chunk=True)
        self.assertEqual(r.status, 201, r.body[:500])

    def test_put_survey_over_limit_413(self):
        body = b'{"title": "big", "questions": [{"id": "q", "type": "nps"}]' \
            + b" " * self.limit + b"}"
        r = raw_request(self.daemon.port, "PUT", "/v1/surveys/" + uid("big"),
                        [("Content-Type", "application/json"),
                         ("Content-Length", str(len(body))),
                         ("Authorization", "Bearer " + ADMIN_TOKEN)], [body])
        self.assertProblem(r, 413, "payload_too_large")

    def test_daemon_still_serves_after_413(self):
        self.send(padded_body(self.limit + 1))
        r = self.post_ok(self.sid, {"answers": {"nps": 3}})
        self.assertEqual(r.status, 201)


class BodyLimitEnvTests(BodyLimitTests):
    limit = 1024
    daemon_env = {"SURVEYD_MAX_BODY": "1024"}


class BodyLimitFlagTests(BodyLimitTests):
    limit = 2048
    daemon_args = ("--max-body", "2048")


class JSONTestSuiteCorpusTests(BaseAPITest):
    """Every file of nst/JSONTestSuite's test_parsing as a response body."""

    @classmethod
    def setUpClass(cls):
        cls.corpus = json_suite_dir()
        if not os.path.isdir(cls.corpus):
            raise unittest.SkipTest("JSONTestSuite corpus not found at %s" % cls.corpus)
        super().setUpClass()
        cls.sid = uid("corpus")
        r = cls.daemon.req("PUT", "/v1/surveys/" + cls.sid, simple_definition(public=True),
                           token=ADMIN_TOKEN)
        assert r.status == 201, r

    def post_file(self, name):
        with open(os.path.join(self.corpus, name), "rb") as f:
            data = f.read()
        path = "/v1/surveys/%s/responses" % self.sid
        try:
            return name, len(data), self._post(path, data)
        except Exception as exc:  # reported per file below
            self.daemon.client.close()
            return name, len(data), exc

    def _post(self, path, data):
        if len(data) > 32 * 1024:
            # Server may answer 413 before reading everything: fresh, tolerant connection.
            return raw_request(self.daemon.port, "POST", path,
                               [("Content-Type", "application/json"),
                                ("Content-Length", str(len(data)))],
                               [data[i:i + 16384] for i in range(0, len(data), 16384)])
        return self.daemon.client.req("POST", path, data,
                                      headers={"Content-Type": "application/json"})

    def test_corpus(self):
        names = sorted(n for n in os.listdir(self.corpus) if n.endswith(".json"))
        self.assertGreater(len(names), 300)
        with concurrent.futures.ThreadPoolExecutor(max_workers=6) as ex:
            results = list(ex.map(self.post_file, names))
        for name, size, r in results:
            with self.subTest(file=name):
                if isinstance(r, Exception):
                    self.fail("request failed: %r" % (r,))
                if name.startswith("n_"):
                    if size > DEFAULT_MAX_BODY and r.status == 413:
                        self.assertProblem(r, 413, "payload_too_large")
                    else:
                        self.assertProblem(r, 400, "invalid_json")
                elif name.startswith("y_"):
                    self.assertNotEqual(r.status, 400, r.body[:300])
                    self.assertTrue(r.status == 422 or 200 <= r.status < 300,
                                    "%d %r" % (r.status, r.body[:300]))
                    if r.status == 422:
                        self.assertProblem(r, 422, "validation_failed")
                elif name.startswith("i_"):
                    self.assertTrue(400 <= r.status < 500, "%d %r" % (r.status, r.body[:300]))
        self.assertTrue(self.daemon.running, "daemon died during corpus run")
        r = self.req("GET", "/healthz")
        self.assertEqual(r.status, 200)


if __name__ == "__main__":
    unittest.main()
