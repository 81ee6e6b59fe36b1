"""Issue 14, peak RSS: what the daemon keeps per connection and in its reply cache is bounded.

- libmicrohttpd's per-connection memory (the request line and headers must fit in it) is 16 KiB:
  it is resident for every open connection (zeroed on each keep-alive reset), so with 1024
  connections 32 KiB of it was 32 MiB. A header block over 16 KiB is refused; one well under it is
  served.
- The metrics reply cache keeps at most 4 MiB of replies (none over 64 KiB). Bounded only by its
  1024 slots, it kept every distinct reply: 1024 big ones (a long window grouped by day) were
  hundreds of MB.
"""

import datetime
import socket
import unittest

from harness import INGEST_TOKEN, READ_TOKEN, BaseAPITest, proc_status_kib, require_binary

DAYS = 700
QUERIES = 300
START = datetime.date(2024, 1, 1)


def asan_build():
    with open(require_binary(), "rb") as f:
        return b"__asan_init" in f.read()


class HeaderBlockTest(BaseAPITest):

    def ask(self, header_bytes):
        s = socket.create_connection(("127.0.0.1", self.daemon.port), timeout=5)
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Big: " +
                      b"a" * header_bytes + b"\r\n\r\n")
            return s.recv(64)
        except OSError:
            return b""
        finally:
            s.close()

    def test_header_block_over_16_kib_is_refused(self):
        self.assertTrue(self.ask(8000).startswith(b"HTTP/1.1 200"))
        reply = self.ask(20000)
        self.assertFalse(reply.startswith(b"HTTP/1.1 200"), reply)
        self.assertEqual(self.req("GET", "/healthz").status, 200)


class ReplyCacheBoundTest(BaseAPITest):
    daemon_args = ("--durability", "normal")

    def test_many_big_distinct_replies_do_not_grow_memory(self):
        if asan_build():
            self.skipTest("RSS under ASan says nothing about the release allocator")
        sid = self.new_survey({"title": "cache bound", "questions": [
            {"id": "rec", "type": "nps"}, {"id": "sat", "type": "csat"}, {"id": "easy", "type": "ces"}]})
        for d in range(DAYS):
            day = START + datetime.timedelta(days=d)
            self.post_ok(sid, {"answers": {"rec": d % 11, "sat": 1 + d % 5, "easy": 1 + d % 7},
                               "submitted_at": "%sT12:00:00Z" % day.isoformat()}, token=INGEST_TOKEN)
        end = START + datetime.timedelta(days=DAYS)

        def query(i):
            to = end + datetime.timedelta(days=i)  # a distinct query each time: never a cache hit
            r = self.req("GET", "/v1/surveys/%s/metrics?from=%s&to=%s&group_by=day"
                         % (sid, START.isoformat(), to.isoformat()), token=READ_TOKEN)
            self.assertEqual(r.status, 200, r.body[:300])
            return len(r.body)

        for i in range(20):  # the allocator's working set for such queries, before measuring
            size = query(i)
        self.assertGreater(size, 64 * 1024, "replies too small to test the cache's bound")
        before = proc_status_kib(self.daemon.proc.pid, "VmRSS")
        for i in range(20, 20 + QUERIES):
            query(i)
        grown_mib = (proc_status_kib(self.daemon.proc.pid, "VmRSS") - before) / 1024.0
        # Cached whole, these replies would be QUERIES x size (well over 30 MiB).
        self.assertLess(grown_mib, 12, "RSS grew %.1f MiB over %d distinct replies of %d bytes"
                        % (grown_mib, QUERIES, size))


if __name__ == "__main__":
    unittest.main()
