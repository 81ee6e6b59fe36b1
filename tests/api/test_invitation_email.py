"""Invitation emails through libcurl's SMTP, received by a real SMTP server (Debian's
python3-aiosmtpd) that the test starts on a loopback port: the headers, both MIME parts, the links
in them, what the reply says when the mail server refuses or cannot be reached (the invitation
stands either way), and the /metrics counters. Runs on both backends."""

import asyncio
import email
import email.policy
import email.utils
import os
import re
import socket
import sys
import threading
import time
import unittest
import urllib.parse

from harness import ADMIN_TOKEN, INGEST_TOKEN, READ_TOKEN, REPO_ROOT, Daemon, run_threads, uid, utc_now

try:
    import aiosmtpd.controller
except ImportError:
    # Debian's package lives in the system interpreter's dist-packages; a python3 of another
    # installation (pyenv) does not look there.
    if os.path.isdir("/usr/lib/python3/dist-packages"):
        sys.path.append("/usr/lib/python3/dist-packages")
    import aiosmtpd.controller  # a missing package fails the test: deploy/setup.sh installs it

PUBLIC_URL = "http://127.0.0.1:9/"
FROM = "surveys@example.com"
TITLE = "Caf\u00e9 support \u2014 how did we do? <b>&</b>"
DEFINITION = {
    "title": TITLE,
    "throttle_days": 0,
    "questions": [{"id": "rec", "type": "nps", "text": "How likely are you to recommend us?"}],
}


# Whether this tree serves the hosted page (GET /s/{token}): then the mailed links must open it.
with open(os.path.join(REPO_ROOT, "server", "api", "routes.c"), encoding="utf-8") as _routes:
    HOSTED_PAGE = '"/s/*"' in _routes.read()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """Keeps every message it is given; refuses recipients at refused.example."""

    def __init__(self):
        self.messages = []
        self.cond = threading.Condition()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@refused.example"):
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.cond:
            self.messages.append(envelope)
            self.cond.notify_all()
        return "250 Message accepted"


class EmailTests(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.receiver = Receiver()
        port = free_port()
        cls.smtp = aiosmtpd.controller.Controller(cls.receiver, hostname="127.0.0.1", port=port)
        cls.smtp.start()
        cls.addClassCleanup(cls.smtp.stop)
        cls.daemon = Daemon(extra_args=("--public-url", PUBLIC_URL, "--smtp-url", "smtp://127.0.0.1:%d" % port,
                                        "--smtp-from", FROM))
        cls.addClassCleanup(cls.daemon.cleanup)
        cls.daemon.start()
        cls.sid = uid("mail")
        r = cls.daemon.req("PUT", "/v1/surveys/" + cls.sid, DEFINITION, token=ADMIN_TOKEN)
        assert r.status == 201, r

    def invite(self, body):
        return self.daemon.req("POST", "/v1/surveys/%s/invitations" % self.sid, body, token=INGEST_TOKEN)

    def emails_total(self):
        text = self.daemon.req("GET", "/metrics").body.decode()
        return {m.group(1): int(m.group(2)) for m in
                re.finditer(r'^surveyd_invitation_emails_total\{result="(\w+)"\} (\d+)$', text, re.M)}

    def test_message_received(self):
        before = self.emails_total()
        count = len(self.receiver.messages)
        r = self.invite({"customer": "ada", "send": {"email": "ada@example.org"}})
        self.assertEqual(r.status, 201, r.body)
        j = r.json
        # The reply comes once the mail server has accepted the message.
        self.assertEqual(j["email"], {"sent": True})
        self.assertEqual(len(self.receiver.messages), count + 1)
        envelope = self.receiver.messages[-1]
        self.assertEqual(envelope.mail_from, FROM)
        self.assertEqual(envelope.rcpt_tos, ["ada@example.org"])
        raw = envelope.original_content
        for line in raw.split(b"\r\n"):
            self.assertLessEqual(len(line), 998)
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        self.assertEqual(msg["From"], FROM)
        self.assertEqual(msg["To"], "ada@example.org")
        self.assertEqual(str(msg["Subject"]), TITLE)  # RFC 2047, UTF-8
        self.assertEqual(msg["MIME-Version"], "1.0")
        self.assertRegex(msg["Message-ID"], r"^<%s\.[0-9a-f]+@example\.com>$" % j["id"])
        sent = email.utils.parsedate_to_datetime(msg["Date"])
        self.assertLess(abs((sent - utc_now()).total_seconds()), 120)
        self.assertEqual(msg.get_content_type(), "multipart/alternative")
        parts = list(msg.iter_parts())
        self.assertEqual([p.get_content_type() for p in parts], ["text/plain", "text/html"])
        text, html = parts[0].get_content(), parts[1].get_content()
        self.assertEqual(text, j["text"])
        self.assertIn(j["url"], text)
        self.assertIn(j["email_html"], html)
        for v in range(11):
            self.assertIn('href="%s?a=%d"' % (j["url"], v), html)
        self.assertIn("Caf\u00e9 support \u2014 how did we do? &lt;b&gt;&amp;&lt;/b&gt;", html)
        self.assertNotIn("<script", html.lower())
        self.assertTrue(j["url"].startswith(PUBLIC_URL + "s/"), j["url"])
        if HOSTED_PAGE:
            # The links in the message open the page (PUBLIC_URL stands for this daemon).
            links = re.findall(r'href="([^"]+)"', html)
            self.assertIn(j["url"], links)
            for link in (j["url"], j["url"] + "?a=9", j["url"] + "?a=0"):
                self.assertIn(link, links + [j["url"]])
                parts = urllib.parse.urlsplit(link)
                page = self.daemon.req("GET", parts.path + ("?" + parts.query if parts.query else ""))
                self.assertEqual(page.status, 200, (link, page.body[:300]))
                self.assertEqual(page.headers.get("Content-Type", "").split(";")[0], "text/html")
        after = self.emails_total()
        self.assertEqual((after["sent"] - before["sent"], after["failed"] - before["failed"]), (1, 0))

    def test_refused_recipient(self):
        before = self.emails_total()
        r = self.invite({"customer": "bob", "send": {"email": "bob@refused.example"}})
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(r.json["email"]["sent"], False)
        self.assertIn("550", r.json["email"]["error"])
        # The invitation stands: its link can be sent another way.
        g = self.daemon.req("GET", "/v1/invitations/" + r.json["id"], token=READ_TOKEN)
        self.assertEqual((g.status, g.json["state"]), (200, "sent"))
        after = self.emails_total()
        self.assertEqual((after["sent"] - before["sent"], after["failed"] - before["failed"]), (0, 1))

    def test_suppressed_sends_nothing(self):
        sid = uid("mail-thr")
        r = self.daemon.req("PUT", "/v1/surveys/" + sid, dict(DEFINITION, throttle_days=7), token=ADMIN_TOKEN)
        self.assertEqual(r.status, 201)
        path = "/v1/surveys/%s/invitations" % sid
        body = {"customer": "cy", "send": {"email": "cy@example.org"}}
        self.assertEqual(self.daemon.req("POST", path, body, token=INGEST_TOKEN).status, 201)
        count = len(self.receiver.messages)
        r = self.daemon.req("POST", path, body, token=INGEST_TOKEN)
        self.assertEqual((r.status, r.json["reason"]), (200, "throttled"))
        self.assertNotIn("email", r.json)
        self.assertEqual(len(self.receiver.messages), count)


class SlowReceiver(Receiver):
    """A mail server that takes 6 s to accept each message."""

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(6)
        return await super().handle_DATA(server, session, envelope)


class SlowServerTests(unittest.TestCase):
    """One HTTP worker thread: were a handler to talk SMTP itself, /healthz would wait for it. The
    sender delivers one message at a time (6 s each here); a message that waited longer than the
    8 s timeout for its turn is failed unsent, so no request waits on a queue without bound."""

    def test_other_requests_served_and_queue_wait_bounded(self):
        receiver = SlowReceiver()
        port = free_port()
        smtp = aiosmtpd.controller.Controller(receiver, hostname="127.0.0.1", port=port)
        smtp.start()
        self.addCleanup(smtp.stop)
        with Daemon(extra_args=("--threads", "1", "--public-url", PUBLIC_URL, "--smtp-url",
                                "smtp://127.0.0.1:%d" % port, "--smtp-from", FROM)) as d:
            sid = uid("mail-slow")
            self.assertEqual(d.req("PUT", "/v1/surveys/" + sid, DEFINITION, token=ADMIN_TOKEN).status, 201)
            started = threading.Event()

            def post(i):
                if i == 3:  # while three emails are on their way
                    started.wait(10)
                    time.sleep(0.5)
                    t0 = time.monotonic()
                    r = d.req("GET", "/healthz")
                    return ("healthz", r.status, time.monotonic() - t0)
                started.set()
                r = d.req("POST", "/v1/surveys/%s/invitations" % sid,
                          {"customer": "slow-%d" % i, "send": {"email": "c%d@example.org" % i}}, token=INGEST_TOKEN)
                self.assertEqual(r.status, 201, r.body)
                return ("invite", r.json["email"].get("sent"), r.json["email"].get("error", ""))

            results = run_threads(4, post)
            healthz = [r for r in results if r[0] == "healthz"][0]
            self.assertEqual(healthz[1], 200)
            self.assertLess(healthz[2], 2.0, "a slow mail server held up another request")
            invites = sorted(r[1:] for r in results if r[0] == "invite")
            self.assertEqual([sent for sent, _ in invites], [False, True, True], invites)
            self.assertIn("waited too long", invites[0][1])
            self.assertEqual(len(receiver.messages), 2)


class UnreachableTests(unittest.TestCase):

    def test_mail_server_down(self):
        port = free_port()  # nothing listens there
        with Daemon(extra_args=("--public-url", PUBLIC_URL, "--smtp-url", "smtp://127.0.0.1:%d" % port,
                                "--smtp-from", FROM)) as d:
            sid = uid("mail-down")
            self.assertEqual(d.req("PUT", "/v1/surveys/" + sid, DEFINITION, token=ADMIN_TOKEN).status, 201)
            started = time.monotonic()
            r = d.req("POST", "/v1/surveys/%s/invitations" % sid,
                      {"customer": "c", "send": {"email": "c@example.org"}}, token=INGEST_TOKEN)
            self.assertLess(time.monotonic() - started, 15)
            self.assertEqual(r.status, 201, r.body)
            self.assertEqual(r.json["email"]["sent"], False)
            self.assertTrue(r.json["email"]["error"])
            self.assertEqual(d.req("GET", "/v1/invitations/" + r.json["id"], token=READ_TOKEN).status, 200)
            # Other requests were served meanwhile and still are.
            self.assertEqual(d.req("GET", "/healthz").status, 200)


if __name__ == "__main__":
    unittest.main()
