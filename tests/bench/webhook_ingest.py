#!/usr/bin/env python3
"""Ingest throughput with and without a webhook subscription whose receiver is slow
(docs/benchmarks.md, "Webhooks: ingest beside a slow receiver").

Usage: SURVEYD_BIN=build/server/surveyd [ROUNDS=3] python3 tests/bench/webhook_ingest.py [SECONDS] [THREADS]

One daemon (the backend harness.py picks: SQLite by default, PostgreSQL with
SURVEYD_TEST_BACKEND=postgresql and SURVEYD_TEST_POSTGRES), one survey. THREADS client threads
(default 8), each with one keep-alive connection, POST responses for SECONDS (default 10), ROUNDS
times each way, interleaved: with no subscription, and with one subscription to every response
event whose receiver (webhook_receiver.py) sleeps 30 s before answering each request (made before
the run, deleted after it); and, to tell what the events cost from what the slow receiver costs,
with one subscription whose receiver answers at once. Every 201 of the second run has
also stored a delivery in the same transaction, and the sender holds --webhook-concurrency slots
open on a receiver that never answers in time (each attempt times out after 10 s and is retried):
none of that may slow ingest. Prints both median rates, their ratio (the target: at least 0.9)
and the daemon's CPU time per response (what a busy shared machine disturbs least) as a Markdown
table. Small on purpose: the point is the ratio, not the absolute figure."""

import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
import harness  # noqa: E402
from harness import ADMIN_TOKEN, INGEST_TOKEN, Client, Daemon, uid  # noqa: E402
from webhook_receiver import Receiver  # noqa: E402

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
THREADS = int(sys.argv[2]) if len(sys.argv) > 2 else 8
ROUNDS = int(os.environ.get("ROUNDS", "3"))
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


def cpu_seconds(pid):
    """The daemon's user + system CPU time so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu_seconds(d):
    """PostgreSQL: CPU time of the server's processes (the postmaster, its children, and the
    children it reaped), when its data directory can be read here; 0 otherwise (SQLite)."""
    if not harness.is_postgres():
        return 0.0
    try:
        data_dir = harness.psql("SHOW data_directory", uri=d.database).strip()
        with open(os.path.join(data_dir, "postmaster.pid")) as f:
            postmaster = int(f.readline())
    except (OSError, ValueError, AssertionError):
        return 0.0
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry), int(fields[1])
        if pid == postmaster or ppid == postmaster:
            total += int(fields[11]) + int(fields[12])
            if pid == postmaster:
                total += int(fields[13]) + int(fields[14])  # reaped children
    return total / os.sysconf("SC_CLK_TCK")


def measure(d, sid):
    """One run: (responses/s, responses, latencies, daemon CPU ms per response, database server
    CPU ms per response)."""
    cpu, server = cpu_seconds(d.proc.pid), server_cpu_seconds(d)
    rate, n, lat = ingest(d, sid, SECONDS, THREADS)
    return (rate, n, lat, (cpu_seconds(d.proc.pid) - cpu) * 1000 / max(n, 1),
            (server_cpu_seconds(d) - server) * 1000 / max(n, 1))


def subscribe(d, sid, rx):
    """A subscription to every response event; with a sleeping receiver, once a request is held there."""
    wid = uid("bench")
    r = d.req("PUT", "/v1/webhooks/" + wid,
              {"url": rx.url, "events": ["response.created", "response.updated", "response.deleted"]},
              token=ADMIN_TOKEN)
    assert r.status == 201, r.body[:300]
    r = d.req("POST", "/v1/surveys/%s/responses" % sid, {"answers": {"rec": 1}}, token=INGEST_TOKEN)
    assert r.status == 201, r.body[:300]
    if rx.delay:
        rx.wait_in_progress(1)  # the sender is holding a slot open on the sleeping receiver
    return wid


def row(name, runs):
    rates = [r[0] for r in runs]
    lat = sorted(x for r in runs for x in r[2])
    server = " %.2f |" % statistics.median(r[4] for r in runs) if harness.is_postgres() else ""
    print("| %s | %d | %.0f (%.0f-%.0f) | %.2f |%s %.1f | %.1f |"
          % (name, sum(r[1] for r in runs), statistics.median(rates), min(rates), max(rates),
             statistics.median(r[3] for r in runs), server, p(lat, 0.5), p(lat, 0.99)))
    return statistics.median(rates), statistics.median(r[3] for r in runs)


def main():
    bare, fast, slow = [], [], []
    with Daemon(extra_args=("--webhook-allow-private",)) as d, Receiver() as rx, Receiver() as sleepy:
        sid = uid("bench")
        r = d.req("PUT", "/v1/surveys/" + sid, DEFINITION, token=ADMIN_TOKEN)
        assert r.status == 201, r.body[:300]
        ingest(d, sid, 1.0, THREADS)  # warm-up: caches, first pages of the indexes
        sleepy.delay = 30
        # Interleaved, so that whatever else the machine does falls on every case alike.
        for _ in range(ROUNDS):
            bare.append(measure(d, sid))
            for receiver, runs in ((rx, fast), (sleepy, slow)):
                wid = subscribe(d, sid, receiver)
                runs.append(measure(d, sid))
                r = d.req("DELETE", "/v1/webhooks/" + wid, token=ADMIN_TOKEN)
                assert r.status in (200, 204), r.body[:300]
        sleepy.delay = 0
        d.stop()

    print("Ingest beside a webhook receiver that sleeps 30 s per request (%s, %d client threads, %d rounds of "
          "%.0f s each, interleaved)\n" % (harness.BACKEND, THREADS, ROUNDS, SECONDS))
    server = " PostgreSQL CPU ms per response |" if harness.is_postgres() else ""
    print("| run | responses | responses/s, median (range) | daemon CPU ms per response |%s p50 ms | p99 ms |" % server)
    print("|---|---:|---:|---:|---:|---:|%s" % ("---:|" if server else ""))
    bare_rate, bare_cpu = row("no subscription", bare)
    fast_rate, fast_cpu = row("one subscription, receiver answering at once", fast)
    slow_rate, slow_cpu = row("one subscription, receiver sleeping 30 s", slow)
    ratio = slow_rate / bare_rate if bare_rate else 0.0
    print("\nsleeping receiver / no subscription: %.3f (target >= 0.9: %s); sleeping / prompt receiver: %.3f"
          % (ratio, "met" if ratio >= 0.9 else "NOT met", slow_rate / fast_rate if fast_rate else 0.0))
    print("daemon CPU per response: %.2f ms without a subscription, %.2f with a prompt receiver, %.2f with a "
          "sleeping one" % (bare_cpu, fast_cpu, slow_cpu))
    return 0 if ratio >= 0.9 else 1


if __name__ == "__main__":
    sys.exit(main())
