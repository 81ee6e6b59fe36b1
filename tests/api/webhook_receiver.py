"""A real webhook receiver for the tests: Python's http.server on a loopback port, checking every
delivery's Standard Webhooks signature with Python's own hmac and hashlib (an implementation
independent of surveyd's OpenSSL one).

    with Receiver(secrets=[...]) as rx:          # or rx.secrets.append(...) once the PUT gave one
        ...
        rx.wait_for(lambda events: len(events) >= 3, timeout=30)

What it records, in arrival order: `rx.events`, one dict per request (headers, raw body, parsed
JSON, whether the signature verified against any known secret, which secrets verified, the
status it answered). What it answers is programmable: `rx.status` (default 204; a callable taking
the request dict may decide per request), `rx.delay` (seconds to sleep before answering, per
request), `rx.hold` (a threading.Event: when set to an unset Event, requests wait on it). `down()`
closes the listening socket (connections are refused, the port stays reserved for `up()`), `up()`
listens again on the same port.
"""

import base64
import hashlib
import hmac
import http.server
import json
import socket
import threading
import time


def sign(secret, msg_id, timestamp, body):
    """The Standard Webhooks signature of body, as "v1,<base64>" (secret: "whsec_<base64>")."""
    key = base64.b64decode(secret.split("_", 1)[1]) if secret.startswith("whsec_") else secret.encode()
    signed = b"%s.%s.%s" % (msg_id.encode(), str(timestamp).encode(), body)
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def verify(secret, headers, body, tolerance=300, now=None):
    """Whether headers carry a valid signature of body under secret, with a timestamp within
    tolerance seconds of now (as a receiver must check)."""
    msg_id = headers.get("webhook-id")
    ts = headers.get("webhook-timestamp")
    sigs = headers.get("webhook-signature", "")
    if not msg_id or not ts or not ts.isdigit():
        return False
    if abs((now if now is not None else time.time()) - int(ts)) > tolerance:
        return False
    expected = sign(secret, msg_id, int(ts), body)
    return any(hmac.compare_digest(expected, s) for s in sigs.split(" "))


class Receiver:
    def __init__(self, secrets=(), status=204):
        self.secrets = list(secrets)
        self.status = status
        self.delay = 0.0
        self.hold = None
        self.events = []
        self.cond = threading.Condition()
        self.in_progress = 0
        self._sock = None
        self._server = None
        self._thread = None
        self.port = None

    # ---- lifecycle ----
    def __enter__(self):
        self.up()
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def url(self):
        return "http://127.0.0.1:%d/hook" % self.port

    def up(self):
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                receiver._handle(self)

        server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port or 0), Handler, bind_and_activate=False)
        server.daemon_threads = True
        server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.server_bind()
        server.server_activate()
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def down(self):
        """Stops listening: new connections are refused until up()."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def close(self):
        if self.hold is not None:
            self.hold.set()
        self.down()

    # ---- requests ----
    def _handle(self, h):
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in h.headers.items()}
        verified = [s for s in self.secrets if verify(s, headers, body)]
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        event = {
            "path": h.path,
            "headers": headers,
            "body": body,
            "json": parsed,
            "id": headers.get("webhook-id"),
            "verified": bool(verified),
            "verified_with": verified,
            "received_at": time.time(),
            "status": None,
        }
        with self.cond:
            self.in_progress += 1
            self.cond.notify_all()
        hold = self.hold
        if hold is not None:
            hold.wait(120)
        if self.delay:
            time.sleep(self.delay)
        status = self.status(event) if callable(self.status) else self.status
        event["status"] = status
        with self.cond:
            self.in_progress -= 1
            self.events.append(event)
            self.cond.notify_all()
        try:
            h.send_response(status)
            h.send_header("Content-Length", "0")
            h.end_headers()
        except OSError:
            pass  # the sender gave up (its timeout) or died: recorded all the same

    # ---- waiting ----
    def wait_for(self, predicate, timeout=60.0):
        """Waits until predicate(events) is true (events: a copy of the list); returns the events.
        Raises AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                events = list(self.events)
                if predicate(events):
                    return events
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("receiver: condition not met within %.0f s; got %d requests: %s" % (
                        timeout, len(events), [(e["id"], (e["json"] or {}).get("type"), e["status"]) for e in events][:20]))
                self.cond.wait(min(left, 0.5))

    def wait_in_progress(self, count=1, timeout=60.0):
        """Waits until at least count requests are being handled (held or delayed)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.in_progress < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("receiver: %d requests in progress, wanted %d" % (self.in_progress, count))
                self.cond.wait(min(left, 0.5))

    def delivered(self):
        """The events answered 2xx, in arrival order."""
        with self.cond:
            return [e for e in self.events if e["status"] is not None and 200 <= e["status"] < 300]
