"""Requests a proxy could read differently are refused (issue 11, item 9; RFC 9112 §6).

Raw sockets throughout: HTTP clients are too polite to send these. One test per finding of the
review; each names what the old code did."""

import json
import socket
import unittest

from harness import ADMIN_TOKEN, INGEST_TOKEN, READ_TOKEN, BaseAPITest, simple_definition

TIMEOUT = 5.0
BODY = b'{"answers":{"nps":5}}'


class Reply:
    def __init__(self, status, headers, body, closed):
        self.status, self.headers, self.body, self.closed = status, headers, body, closed

    @property
    def json(self):
        return json.loads(self.body)


def read_reply(sock):
    """Reads one reply (headers, then Content-Length bytes), then whether the server closes."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError("connection closed without a reply; got %r" % buf[:200])
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    body, extra = rest[:length], rest[length:]
    closed = False
    if status >= 200 and not extra:
        sock.settimeout(1.0 if headers.get("connection", "").lower() != "close" else TIMEOUT)
        try:
            closed = sock.recv(1) == b""
        except socket.timeout:
            closed = False
        except ConnectionResetError:
            closed = True
    return Reply(status, headers, body, closed)


class StrictHTTPTest(BaseAPITest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        r = cls.daemon.req("PUT", "/v1/surveys/pub", simple_definition(public=True), token=ADMIN_TOKEN)
        assert r.status in (200, 201), r.body
        r = cls.daemon.req("PUT", "/v1/surveys/priv", simple_definition(public=False), token=ADMIN_TOKEN)
        assert r.status in (200, 201), r.body

    def send(self, data):
        sock = socket.create_connection(("127.0.0.1", self.daemon.port), timeout=TIMEOUT)
        self.addCleanup(sock.close)
        sock.sendall(data)
        return sock

    def exchange(self, data):
        return read_reply(self.send(data))

    def post_head(self, path="/v1/surveys/pub/responses", extra=b""):
        return (b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + extra)

    def assertRefused(self, reply, status, code, closed=True):
        self.assertEqual(reply.status, status, reply.body[:300])
        self.assertEqual(reply.headers.get("content-type"), "application/problem+json")
        self.assertEqual(reply.json["code"], code)
        if closed:
            self.assertEqual(reply.headers.get("connection", "").lower(), "close")
            self.assertTrue(reply.closed, "the connection must be closed after an ambiguous request")

    def count_pub(self):
        return self.daemon.req("GET", "/v1/surveys/pub/metrics", token=READ_TOKEN).json["responses"]

    # ---- framing ----

    def test_two_different_content_lengths_are_refused_and_closed(self):
        # Old code: 201, the first Content-Length won, the connection stayed open.
        before = self.count_pub()
        reply = self.exchange(self.post_head(extra=b"Content-Length: %d\r\nContent-Length: 5\r\n\r\n" % len(BODY)) + BODY)
        self.assertRefused(reply, 400, "ambiguous_framing")
        self.assertEqual(self.count_pub(), before)

    def test_content_length_with_transfer_encoding_is_refused_and_closed(self):
        # Old code: served (201) and the connection kept open for the bytes that followed.
        chunked = b"%x\r\n" % len(BODY) + BODY + b"\r\n0\r\n\r\n"
        reply = self.exchange(self.post_head(extra=b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n"
                                             % len(chunked)) + chunked)
        self.assertRefused(reply, 400, "ambiguous_framing")

    def test_unknown_transfer_coding_is_501(self):
        # Old code: "gzip, chunked" hung until the request deadline.
        chunked = b"%x\r\n" % len(BODY) + BODY + b"\r\n0\r\n\r\n"
        for coding in (b"gzip, chunked", b"gzip", b"chunked, identity"):
            with self.subTest(coding=coding):
                reply = self.exchange(self.post_head(extra=b"Transfer-Encoding: " + coding + b"\r\n\r\n") + chunked)
                self.assertRefused(reply, 501, "unsupported_transfer_coding")
        reply = self.exchange(self.post_head(extra=b"Transfer-Encoding: chunked, chunked\r\n\r\n") + chunked)
        self.assertRefused(reply, 400, "ambiguous_framing")

    def test_plain_chunked_upload_still_works_and_keeps_the_connection(self):
        chunked = b"%x\r\n" % len(BODY) + BODY + b"\r\n0\r\n\r\n"
        sock = self.send(self.post_head(extra=b"Transfer-Encoding: chunked\r\n\r\n") + chunked)
        first = read_reply(sock)
        self.assertEqual(first.status, 201, first.body)
        self.assertFalse(first.closed)
        sock.sendall(self.post_head(extra=b"Content-Length: %d\r\n\r\n" % len(BODY)) + BODY)
        self.assertEqual(read_reply(sock).status, 201)

    def test_pipelined_bare_lf_and_empty_values_still_served(self):
        # The NUL check reads libmicrohttpd's header layout; these layouts are all legitimate.
        sock = self.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                         b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        received = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        self.assertEqual(received.count(b"HTTP/1.1 200 "), 2, received)
        self.assertLess(received.index(b'{"status":"ok"}'), received.index(b'{"status":"ready"}'))
        for request in (b"GET /healthz HTTP/1.1\nHost: x\nX-A: b\n\n", b"\r\nGET /healthz HTTP/1.0\r\n\r\n",
                        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Empty:\r\nX-Spaces:   \r\nCookie: a=b; c=d\r\n\r\n"):
            with self.subTest(request=request):
                self.assertEqual(self.exchange(request).status, 200)

    # ---- header values ----

    def test_nul_in_authorization_is_refused(self):
        # Old code: "Bearer <admin token>\0junk" authenticated as the admin token (200).
        reply = self.exchange(b"GET /v1/metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                              + ADMIN_TOKEN.encode() + b"\0junk\r\n\r\n")
        self.assertRefused(reply, 400, "invalid_header")

    def test_nul_in_the_last_header_is_refused(self):
        reply = self.exchange(b"GET /v1/metrics HTTP/1.1\r\nAuthorization: Bearer "
                              + ADMIN_TOKEN.encode() + b"\0junk\r\nHost: x\0y\r\n\r\n")
        self.assertRefused(reply, 400, "invalid_header")

    def test_control_characters_in_header_values_are_refused(self):
        # Old code: served (200).
        for value in (b"a\x01b", b"a\x7fb", b"a\rb", b"a\x1bb"):
            with self.subTest(value=value):
                reply = self.exchange(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Note: " + value + b"\r\n\r\n")
                self.assertRefused(reply, 400, "invalid_header")
        # A tab and bytes of UTF-8 are fine.
        ok = self.exchange("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Note: a\tb \u00e9\r\n\r\n".encode())
        self.assertEqual(ok.status, 200)

    def test_folded_header_and_space_before_colon_are_refused(self):
        reply = self.exchange(b"GET /v1/metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer\r\n "
                              + READ_TOKEN.encode() + b"\r\n\r\n")
        self.assertRefused(reply, 400, "invalid_header")
        reply = self.exchange(b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length : 0\r\n\r\n")
        self.assertRefused(reply, 400, "invalid_header")

    # ---- the path ----

    def test_encoded_nul_in_a_survey_id_is_refused(self):
        # Old code: GET /v1/surveys/pub%00 served survey "pub" (200); the POST reached "pub" too.
        reply = self.exchange(b"GET /v1/surveys/pub%00 HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertRefused(reply, 400, "invalid_path")
        reply = self.exchange(self.post_head("/v1/surveys/pub%00/responses",
                                             b"Content-Length: %d\r\n\r\n" % len(BODY)) + BODY)
        self.assertRefused(reply, 400, "invalid_path")

    def test_encoded_nul_after_metrics_is_refused(self):
        # Old code: /metrics%00 served /metrics (200).
        for path in (b"/metrics%00", b"/metrics%00.txt", b"/healthz%0a"):
            with self.subTest(path=path):
                reply = self.exchange(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertRefused(reply, 400, "invalid_path")

    def test_encoded_slash_is_not_decoded_before_routing(self):
        # Old code: /v1/surveys/pub%2Fresponses was decoded to /v1/surveys/pub/responses and a POST
        # stored a response (201), where a proxy saw one segment "pub/responses".
        before = self.count_pub()
        reply = self.exchange(self.post_head("/v1/surveys/pub%2Fresponses",
                                             b"Content-Length: %d\r\n\r\n" % len(BODY)) + BODY)
        self.assertRefused(reply, 400, "invalid_path")
        reply = self.exchange(b"GET /v1/surveys/pub%2f HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertRefused(reply, 400, "invalid_path")
        self.assertEqual(self.count_pub(), before)
        # Customer ids may hold '/': there %2F is part of the id, never a separator.
        reply = self.exchange(b"GET /v1/customers/nobody%2Fresponses HTTP/1.1\r\nHost: x\r\n"
                              b"Authorization: Bearer " + READ_TOKEN.encode() + b"\r\n\r\n")
        self.assertEqual(reply.status, 405, "GET of customer 'nobody/responses' is not history of 'nobody'")

    def test_bad_escapes_and_raw_controls_in_the_target_are_refused(self):
        for path in (b"/healthz%zz", b"/healthz%4", b"/v1/surveys/pub%"):
            with self.subTest(path=path):
                reply = self.exchange(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertRefused(reply, 400, "invalid_path")

    # ---- Expect: 100-continue ----

    def expect(self, path, method=b"POST", token=None, length=len(BODY)):
        head = (method + b" " + path + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Expect: 100-continue\r\nContent-Length: %d\r\n" % length)
        if token:
            head += b"Authorization: Bearer " + token.encode() + b"\r\n"
        sock = self.send(head + b"\r\n")
        return sock, read_reply(sock)

    def test_no_100_continue_before_a_refusal(self):
        # Old code: "100 Continue" first, then 401 once the body had been sent.
        _, reply = self.expect(b"/v1/surveys/priv/responses")
        self.assertRefused(reply, 401, "unauthorized")
        _, reply = self.expect(b"/v1/surveys/no-such-survey/responses")
        self.assertRefused(reply, 401, "unauthorized")
        _, reply = self.expect(b"/v1/surveys/priv/responses", token="not-a-token")
        self.assertRefused(reply, 401, "unauthorized")
        _, reply = self.expect(b"/v1/surveys/new-one", method=b"PUT", token=INGEST_TOKEN)
        self.assertRefused(reply, 403, "forbidden")
        _, reply = self.expect(b"/v1/surveys/pub/responses", length=10 ** 9)
        self.assertRefused(reply, 413, "payload_too_large")
        _, reply = self.expect(b"/no/such/route")
        self.assertRefused(reply, 404, "not_found")

    def test_100_continue_when_the_request_will_be_served(self):
        for path, token in ((b"/v1/surveys/pub/responses", None), (b"/v1/surveys/priv/responses", INGEST_TOKEN)):
            with self.subTest(path=path):
                sock, reply = self.expect(path, token=token)
                self.assertEqual(reply.status, 100)
                sock.sendall(BODY)
                final = read_reply(sock)
                self.assertEqual(final.status, 201, final.body)


if __name__ == "__main__":
    unittest.main()
