"""Compression, caching and the favicon (issue 13, "Transfer"): JSON replies and the static assets
go gzip-coded to a client that accepts it, with `Vary: Accept-Encoding`; the widget may be cached
for a year under its versioned URL and revalidates under its plain one; /favicon.ico exists.

The old code sent everything uncompressed, cached widget.js for 300 s only and answered
/favicon.ico with 404."""

import gzip
import json
import unittest

from harness import ADMIN_TOKEN, INGEST_TOKEN, READ_TOKEN, BaseAPITest

GZIP = {"Accept-Encoding": "gzip"}


def definition():
    return {
        "title": "Transfer",
        "questions": [
            {"id": "rec", "type": "nps", "text": "How likely are you to recommend us?"},
            {"id": "sat", "type": "csat", "scale": 5},
            {"id": "easy", "type": "ces", "scale": 7},
            {"id": "comment", "type": "text"},
        ],
    }


class TransferTest(BaseAPITest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.survey = "transfer"
        r = cls.daemon.client.req("PUT", "/v1/surveys/transfer", definition(), token=ADMIN_TOKEN)
        assert r.status == 201, r.body
        for i in range(40):
            body = {"answers": {"rec": i % 11, "sat": 1 + i % 5, "easy": 1 + i % 7,
                                "comment": "comment number %d, said with some words" % i},
                    "channel": ["chat", "email", "web"][i % 3],
                    "submitted_at": "2026-10-%02dT12:00:00.000Z" % (1 + i % 28)}
            r = cls.daemon.client.req("POST", "/v1/surveys/transfer/responses", body, token=INGEST_TOKEN)
            assert r.status == 201, r.body

    LISTING = "/v1/surveys/transfer/responses?limit=40&from=2026-10-01&to=2026-11-01"
    METRICS = "/v1/surveys/transfer/metrics?group_by=day&from=2026-10-01&to=2026-11-01"

    def get(self, path, headers=None, token=READ_TOKEN):
        return self.req("GET", path, headers=headers, token=token)

    def assertGzipOf(self, packed, plain):
        self.assertEqual(packed.headers.get("Content-Encoding"), "gzip")
        self.assertEqual(packed.body[:2], b"\x1f\x8b", "not a gzip member")
        self.assertEqual(gzip.decompress(packed.body), plain.body)
        self.assertLess(len(packed.body), len(plain.body))
        self.assertEqual(int(packed.headers["Content-Length"]), len(packed.body))

    # -- JSON --------------------------------------------------------------
    def test_json_gzip_when_accepted(self):
        plain = self.get(self.LISTING)
        packed = self.get(self.LISTING, GZIP)
        self.assertEqual((plain.status, packed.status), (200, 200))
        self.assertIsNone(plain.headers.get("Content-Encoding"))
        self.assertGreater(len(plain.body), 1024)
        self.assertGzipOf(packed, plain)
        self.assertEqual(packed.headers.get("Content-Type"), "application/json")
        for r in (plain, packed):
            self.assertEqual(r.headers.get("Vary"), "Accept-Encoding")

    def test_metrics_gzip_keeps_its_weak_etag_and_304(self):
        plain = self.get(self.METRICS)
        packed = self.get(self.METRICS, GZIP)
        self.assertGzipOf(packed, plain)
        etag = packed.headers["ETag"]
        self.assertTrue(etag.startswith('W/"'), etag)
        self.assertEqual(etag, plain.headers["ETag"], "a weak validator holds for both codings")
        again = self.get(self.METRICS, {"Accept-Encoding": "gzip", "If-None-Match": etag})
        self.assertEqual(again.status, 304)
        self.assertEqual(again.body, b"")
        self.assertEqual(again.headers.get("Vary"), "Accept-Encoding")
        self.assertEqual(again.headers.get("ETag"), etag)

    def test_accept_encoding_negotiation(self):
        cases = {
            "gzip": True, "GZIP": True, "x-gzip": True, "gzip, deflate, br": True, "br;q=1.0, gzip;q=0.8": True,
            "*": True, "*;q=0.5": True, "identity": False, "deflate, br": False, "gzip;q=0": False,
            "gzip; q=0.000": False, "*;q=0": False, "gzip;q=0, *": False, "br, *;q=0.1": True, "": False,
        }
        plain = self.get(self.LISTING)
        for value, compressed in cases.items():
            r = self.get(self.LISTING, {"Accept-Encoding": value})
            self.assertEqual(r.status, 200)
            if compressed:
                self.assertGzipOf(r, plain)
            else:
                self.assertIsNone(r.headers.get("Content-Encoding"), value)
                self.assertEqual(r.body, plain.body, value)

    def test_small_replies_stay_plain(self):
        r = self.get("/healthz", GZIP)
        self.assertEqual(r.status, 200)
        self.assertLess(len(r.body), 1024)
        self.assertIsNone(r.headers.get("Content-Encoding"))
        self.assertEqual(r.headers.get("Vary"), "Accept-Encoding")

    def test_exports_stream_uncompressed(self):
        """Exports stream with bounded memory; they are left uncompressed (documented)."""
        for accept in ("text/csv", "application/x-ndjson"):
            r = self.get("/v1/surveys/transfer/responses?from=2026-10-01&to=2026-11-01",
                         {"Accept-Encoding": "gzip", "Accept": accept})
            self.assertEqual(r.status, 200, r.body[:300])
            self.assertIsNone(r.headers.get("Content-Encoding"), accept)
            self.assertGreater(len(r.body), 1024)

    def test_cors_reply_varies_on_both(self):
        r = self.get("/v1/surveys", {"Accept-Encoding": "gzip", "Origin": "http://127.0.0.1:1"})
        self.assertEqual(r.headers.get("Vary"), "Origin, Accept-Encoding")

    # -- assets ------------------------------------------------------------
    def test_assets_gzip_with_their_own_strong_etag(self):
        for path in ("/widget.js", "/dashboard"):
            plain = self.get(path, token=None)
            packed = self.get(path, GZIP, token=None)
            self.assertEqual((plain.status, packed.status), (200, 200), path)
            self.assertIsNone(plain.headers.get("Content-Encoding"), path)
            self.assertGzipOf(packed, plain)
            self.assertEqual(packed.headers.get("Vary"), "Accept-Encoding", path)
            e_plain, e_packed = plain.headers["ETag"], packed.headers["ETag"]
            self.assertRegex(e_plain, r'^"[0-9a-f]{20}"$')
            self.assertEqual(e_packed, e_plain[:-1] + '-gz"', "the gzip bytes need a validator of their own")
            # Each coding revalidates with its own tag; the other one's is no match.
            self.assertEqual(self.get(path, {"Accept-Encoding": "gzip", "If-None-Match": e_packed}, token=None).status, 304)
            self.assertEqual(self.get(path, {"If-None-Match": e_plain}, token=None).status, 304)
            other = self.get(path, {"Accept-Encoding": "gzip", "If-None-Match": e_plain}, token=None)
            self.assertEqual(other.status, 200, path)
            self.assertEqual(other.headers["ETag"], e_packed)
            self.assertEqual(self.get(path, {"If-None-Match": e_packed}, token=None).status, 200, path)

    def test_widget_caching(self):
        plain = self.get("/widget.js", token=None)
        self.assertEqual(plain.headers.get("Cache-Control"), "public, no-cache",
                         "the plain URL is kept but revalidated, so a release reaches visitors at once")
        version = plain.headers["ETag"].strip('"')
        pinned = self.get("/widget.js?v=" + version, GZIP, token=None)
        self.assertEqual(pinned.status, 200)
        self.assertEqual(pinned.headers.get("Cache-Control"), "public, max-age=31536000, immutable")
        self.assertEqual(gzip.decompress(pinned.body), plain.body)
        stale = self.get("/widget.js?v=0123456789abcdef0123", token=None)
        self.assertEqual(stale.status, 200)
        self.assertEqual(stale.body, plain.body)
        self.assertEqual(stale.headers.get("Cache-Control"), "public, no-cache", "a stale version is never pinned")
        self.assertEqual(self.get("/dashboard", token=None).headers.get("Cache-Control"), "no-cache")

    # -- favicon -----------------------------------------------------------
    def test_favicon(self):
        r = self.get("/favicon.ico", GZIP, token=None)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers.get("Content-Type"), "image/x-icon")
        self.assertEqual(r.body[:4], b"\x00\x00\x01\x00", "an ICO header")
        self.assertIn(b"\x89PNG", r.body)
        self.assertIsNone(r.headers.get("Content-Encoding"), "a PNG inside gains nothing from gzip")
        self.assertEqual(r.headers.get("Cache-Control"), "public, max-age=86400")
        again = self.get("/favicon.ico", {"If-None-Match": r.headers["ETag"]}, token=None)
        self.assertEqual(again.status, 304)
        head = self.req("HEAD", "/favicon.ico")
        self.assertEqual(head.status, 200)
        self.assertEqual(head.body, b"")


if __name__ == "__main__":
    unittest.main()
