#!/usr/bin/env python3
"""Ingest throughput with and without a webhook subscription whose receiver is slow
(docs/benchmarks.md, "Webhooks: ingest beside a slow receiver").

Usage: SURVEYD_BIN=build/server/surveyd python3 tests/bench/webhook_ingest.py [SECONDS] [THREADS]

One daemon (the backend harness.py picks: SQLite by default, PostgreSQL with
SURVEYD_TEST_BACKEND=postgresql and SURVEYD_TEST_POSTGRES), one survey. THREADS client threads
(default 8), each with one keep-alive connection, POST responses for SECONDS (default 10) twice:
first with no subscription, then with one subscription to every response event whose receiver
(webhook_receiver.py) sleeps 30 s before answering each request. Every 201 of the second run has
also stored a delivery in the same transaction, and the sender holds --webhook-concurrency slots
open on a receiver that never answers in time (each attempt times out after 10 s and is retried):
none of that may slow ingest. Prints both rates and their ratio (the target: at least 0.9) as a
Markdown table. Small on purpose: the point is the ratio, not the absolute figure."""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
import harness  # noqa: E402
from harness import ADMIN_TOKEN, INGEST_TOKEN, Client, Daemon, uid  # noqa: E402
from webhook_receiver import Receiver  # noqa: E402

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
THREADS = int(sys.argv[2]) if len(sys.argv) > 2 else 8
DEFINITION = {"title": "bench", "questions": [{"id": "rec", "type": "nps"}, {"id": "why", "type": "text"}]}


def ingest(daemon, sid, seconds, threads):
    """Responses per second over seconds, from threads connections; and every 201's latency."""
    stop = time.monotonic() + seconds
    counts = [0] * threads
    latencies = [[] for _ in range(threads)]
    errors = []

    def run(i):
        client = Client("127.0.0.1", daemon.port)
        n = 0
        try:
            while time.monotonic() < stop:
                started = time.monotonic()
                r = client.req("POST", "/v1/surveys/%s/responses" % sid,
                               {"answers": {"rec": n % 11, "why": "thread %d, response %d" % (i, n)}},
                               token=INGEST_TOKEN)
                if r.status != 201:
                    errors.append(r.status)
                    return
                latencies[i].append(time.monotonic() - started)
                n += 1
        finally:
            counts[i] = n
            client.close_all()

    started = time.monotonic()
    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.monotonic() - started
    if errors:
        raise SystemExit("ingest failed: statuses %s" % sorted(set(errors)))
    flat = sorted(x for per in latencies for x in per)
    return sum(counts) / elapsed, sum(counts), flat


def p(values, q):
    return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else 0.0


def main():
    with Daemon(extra_args=("--webhook-allow-private",)) as d, Receiver() as rx:
        sid = uid("bench")
        r = d.req("PUT", "/v1/surveys/" + sid, DEFINITION, token=ADMIN_TOKEN)
        assert r.status == 201, r.body[:300]
        ingest(d, sid, 1.0, THREADS)  # warm-up: caches, first pages of the indexes

        bare, bare_n, bare_lat = ingest(d, sid, SECONDS, THREADS)

        rx.delay = 30
        r = d.req("PUT", "/v1/webhooks/" + uid("bench"),
                  {"url": rx.url, "events": ["response.created", "response.updated", "response.deleted"]},
                  token=ADMIN_TOKEN)
        assert r.status == 201, r.body[:300]
        rx.wait_in_progress(1)  # the sender is holding a slot open on the sleeping receiver
        slow, slow_n, slow_lat = ingest(d, sid, SECONDS, THREADS)

        metrics = {}
        for line in d.req("GET", "/metrics").body.decode().splitlines():
            if line.startswith("surveyd_webhook_queue_depth") or line.startswith("surveyd_webhook_in_flight"):
                name, value = line.rsplit(" ", 1)
                metrics[name] = float(value)
        rx.delay = 0
        d.stop()

    print("Ingest beside a webhook receiver that sleeps 30 s per request (%s, %d client threads, %.0f s each)\n"
          % (harness.BACKEND, THREADS, SECONDS))
    print("| run | responses | responses/s | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|")
    print("| no subscription | %d | %.0f | %.1f | %.1f |" % (bare_n, bare, p(bare_lat, 0.5), p(bare_lat, 0.99)))
    print("| one subscription, receiver sleeping 30 s | %d | %.0f | %.1f | %.1f |"
          % (slow_n, slow, p(slow_lat, 0.5), p(slow_lat, 0.99)))
    ratio = slow / bare if bare else 0.0
    print("\nratio %.3f (target >= 0.9: %s); outbox after the run: %d pending, %d in flight"
          % (ratio, "met" if ratio >= 0.9 else "NOT met", metrics.get("surveyd_webhook_queue_depth", -1),
             metrics.get("surveyd_webhook_in_flight", -1)))
    return 0 if ratio >= 0.9 else 1


if __name__ == "__main__":
    sys.exit(main())
