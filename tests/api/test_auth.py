"""Bearer-token authentication and authorization, the generated admin token,
and that tokens never reach the log."""

import os
import stat
import unittest

from harness import (ADMIN_TOKEN, ALL_TOKENS, INGEST_TOKEN, INGEST_TOKEN_2,
                     READ_TOKEN, BaseAPITest, Daemon, simple_definition, uid)


class AuthMatrixTests(BaseAPITest):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sid = uid("auth")
        r = cls.daemon.req("PUT", "/v1/surveys/" + cls.sid, simple_definition(),
                           token=ADMIN_TOKEN)
        assert r.status == 201, r
        r = cls.daemon.req("POST", "/v1/surveys/%s/responses" % cls.sid,
                           {"answers": {"nps": 1}}, token=INGEST_TOKEN)
        assert r.status == 201, r
        cls.rid = r.json["id"]

    def assertUnauthorized(self, r):
        self.assertProblem(r, 401, "unauthorized")
        www = r.headers.get("WWW-Authenticate")
        self.assertIsNotNone(www, "401 without WWW-Authenticate")
        self.assertTrue(www.startswith("Bearer"), www)

    def test_missing_or_unknown_token_401(self):
        target = "/v1/surveys/" + self.sid
        for headers in ({},
                        {"Authorization": "Bearer nope"},
                        {"Authorization": "Bearer " + ADMIN_TOKEN + "x"},
                        {"Authorization": "Bearer " + ADMIN_TOKEN[:-1]},
                        {"Authorization": "Bearer "},
                        {"Authorization": "Basic YWRtaW46YWRtaW4="},
                        {"Authorization": ADMIN_TOKEN},
                        {"Authorization": "Bearer admin-secret,read-secret"}):
            with self.subTest(headers=headers):
                self.assertUnauthorized(self.req("GET", target, headers=headers))
                self.assertUnauthorized(self.req("GET", "/v1/surveys", headers=headers))
                self.assertUnauthorized(self.req("GET", "/v1/responses/" + self.rid,
                                                 headers=headers))
                self.assertUnauthorized(self.req("PUT", "/v1/surveys/" + uid("x"),
                                                 simple_definition(), headers=headers))
                self.assertUnauthorized(self.req("DELETE", target, headers=headers))

    def test_read_token_rights(self):
        t = READ_TOKEN
        self.assertEqual(self.req("GET", "/v1/surveys", token=t).status, 200)
        self.assertEqual(self.req("GET", "/v1/surveys/" + self.sid, token=t).status, 200)
        self.assertEqual(self.req("GET", "/v1/responses/" + self.rid, token=t).status, 200)
        self.assertProblem(self.req("PUT", "/v1/surveys/" + uid("r"), simple_definition(),
                                    token=t), 403, "forbidden")
        self.assertProblem(self.req("DELETE", "/v1/surveys/" + self.sid, token=t),
                           403, "forbidden")
        self.assertProblem(self.post_response(self.sid, {"answers": {"nps": 2}}, token=t),
                           403, "forbidden")

    def test_ingest_token_rights(self):
        for t in (INGEST_TOKEN, INGEST_TOKEN_2):
            with self.subTest(token=t):
                self.post_ok(self.sid, {"answers": {"nps": 2}}, token=t)
                self.assertProblem(self.req("GET", "/v1/surveys", token=t), 403, "forbidden")
                self.assertProblem(self.req("GET", "/v1/surveys/" + self.sid, token=t),
                                   403, "forbidden")
                self.assertProblem(self.req("GET", "/v1/responses/" + self.rid, token=t),
                                   403, "forbidden")
                self.assertProblem(self.req("PUT", "/v1/surveys/" + uid("i"),
                                            simple_definition(), token=t), 403, "forbidden")
                self.assertProblem(self.req("DELETE", "/v1/surveys/" + self.sid, token=t),
                                   403, "forbidden")

    def test_admin_token_rights(self):
        t = ADMIN_TOKEN
        sid = uid("adm")
        self.assertEqual(self.put_survey(sid, simple_definition(), token=t).status, 201)
        self.assertEqual(self.req("GET", "/v1/surveys", token=t).status, 200)
        self.assertEqual(self.req("GET", "/v1/surveys/" + sid, token=t).status, 200)
        rid = self.post_ok(sid, {"answers": {"nps": 3}}, token=t).json["id"]
        self.assertEqual(self.req("GET", "/v1/responses/" + rid, token=t).status, 200)
        self.assertEqual(self.req("DELETE", "/v1/surveys/" + sid, token=t).status, 204)

    def test_forbidden_has_problem_shape(self):
        r = self.req("PUT", "/v1/surveys/" + uid("f"), simple_definition(), token=READ_TOKEN)
        self.assertProblem(r, 403, "forbidden")

    def test_tokens_never_logged(self):
        # Requests using every configured token (success and failure paths).
        for t in ALL_TOKENS:
            self.req("GET", "/v1/surveys", token=t)
            self.req("GET", "/v1/responses/" + self.rid, token=t)
            self.post_response(self.sid, {"answers": {"nps": 4}}, token=t)
            self.req("PUT", "/v1/surveys/" + uid("tl"), b"{bad json", token=t)
        marker = uid("marker")
        self.req("GET", "/healthz", headers={"X-Request-Id": marker})
        self.daemon.wait_for_log(lambda line: marker in line, timeout=5)
        log = self.daemon.stderr_text()
        self.assertTrue(log, "daemon wrote nothing to stderr")
        out = self.daemon.stdout_text()
        for t in ALL_TOKENS:
            self.assertNotIn(t, log, "token %r leaked into stderr" % t)
            self.assertNotIn(t, out, "token %r leaked into stdout" % t)


class GeneratedAdminTokenTests(unittest.TestCase):

    def test_generated_admin_token(self):
        with Daemon(env={"SURVEYD_ADMIN_TOKENS": None}) as d:
            path = os.path.join(d.data_dir, "admin-token")
            self.assertTrue(os.path.isfile(path), "no %s; stderr:\n%s" % (path, d.stderr_text()))
            mode = stat.S_IMODE(os.stat(path).st_mode)
            self.assertEqual(mode, 0o600, oct(mode))
            with open(path) as f:
                token = f.read().strip()
            self.assertGreaterEqual(len(token), 16, "admin token suspiciously short")
            self.assertNotIn(token, (ADMIN_TOKEN,))
            self.assertNotRegex(token, r"\s")

            sid = uid("gen")
            r = d.req("PUT", "/v1/surveys/" + sid, simple_definition(), token=token)
            self.assertEqual(r.status, 201, r.body)
            r = d.req("DELETE", "/v1/surveys/" + sid, token=token)
            self.assertEqual(r.status, 204, r.body)
            # The default admin token is not configured in this daemon.
            r = d.req("PUT", "/v1/surveys/" + sid, simple_definition(), token=ADMIN_TOKEN)
            self.assertEqual(r.status, 401, r.body)
            # Other roles still configured.
            self.assertEqual(d.req("GET", "/v1/surveys", token=READ_TOKEN).status, 200)

            log = d.stderr_text()
            self.assertTrue(path in log or os.path.realpath(path) in log,
                            "admin-token path not logged:\n" + log)
            self.assertNotIn(token, log)
            self.assertNotIn(token, d.stdout_text())

            # Second start: same token file, same token, still works, still not logged.
            d.stop()
            d.start()
            with open(path) as f:
                self.assertEqual(f.read().strip(), token)
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
            r = d.req("GET", "/v1/surveys", token=token)
            self.assertEqual(r.status, 200, r.body)
            d.stop()
            self.assertNotIn(token, d.stderr_text())


if __name__ == "__main__":
    unittest.main()
