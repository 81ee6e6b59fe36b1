#!/usr/bin/env python3
"""What webhook subscriptions cost an ingest on SQLite (docs/webhook-events.md, "What it costs an
ingest"): POST /v1/surveys/support/responses with wrk and post.lua (the benchmark's own ingest load,
generate.py's survey) against a fresh daemon with 0, 1 and 5 subscriptions, each run DUR seconds
(default 4) at wrk -t2 -c16. Small on purpose: the point is the difference, in CPU per 201, of the
writer thread (where events are listed, matched, rendered and stored) and of the sender thread.

  other: subscriptions scoped to another survey: listed and matched on every ingest, nothing stored
  match: subscriptions to every event, receiver refusing connections, --webhook-retry-base-ms
         3600000: each delivery is stored, attempted once and its failure recorded

Usage: SURVEYD_BIN=build/server/surveyd [DUR=4] python3 tests/bench/webhook_events_cost.py
Needs wrk. Only loopback addresses."""

import json
import os
import re
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
sys.path.insert(0, HERE)
import harness  # noqa: E402
from generate import DEFINITION  # noqa: E402

DUR = int(os.environ.get("DUR", "4"))
EVENTS = '["response.created","response.updated","response.deleted","survey.updated","customer.erased"]'


def thread_cpu(pid, comm=None):
    """CPU seconds of the process's threads (of those named comm when given)."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            raw = open("/proc/%d/task/%s/stat" % (pid, tid)).read()
        except OSError:
            continue
        if comm and raw.split("(", 1)[1].rsplit(")", 1)[0] != comm:
            continue
        fields = raw.rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def run(n, kind, url):
    d = harness.Daemon(extra_args=("--webhook-allow-private", "--webhook-retry-base-ms", "3600000"),
                       env={"SURVEYD_MAX_CONNECTIONS_PER_IP": "1000"})
    d.start()
    try:
        r = d.req("PUT", "/v1/surveys/support", DEFINITION, token=harness.ADMIN_TOKEN)
        assert r.status == 201, r.body
        for i in range(n):
            body = {"url": url, "events": json.loads(EVENTS)}
            if kind == "other":
                body["surveys"] = ["other"]
            r = d.req("PUT", "/v1/webhooks/bench-%d" % i, body, token=harness.ADMIN_TOKEN)
            assert r.status == 201, r.body
        pid = d.proc.pid
        c0, w0, s0 = thread_cpu(pid), thread_cpu(pid, "writer"), thread_cpu(pid, "webhooks")
        env = dict(os.environ, BENCH_TOKEN=harness.INGEST_TOKEN, BENCH_RUN="r%d%s%d" % (n, kind, time.time()),
                   BENCH_AGENTS="200")
        p = subprocess.run(["wrk", "-t2", "-c16", "-d%ds" % DUR, "--timeout", "10s", "-s",
                            os.path.join(HERE, "post.lua"), "http://127.0.0.1:%d/" % d.port],
                           env=env, capture_output=True, text=True, timeout=DUR + 60)
        m = re.search(r"^BENCH (\{.*\})$", p.stdout, re.M)
        assert m, p.stdout + p.stderr
        ok = max(1, json.loads(m.group(1))["s201"])
        per = [1e6 * (thread_cpu(pid) - c0) / ok, 1e6 * (thread_cpu(pid, "writer") - w0) / ok,
               1e6 * (thread_cpu(pid, "webhooks") - s0) / ok]
        d.stop()
        return ok / DUR, per
    finally:
        d.cleanup()


def main():
    refusing = socket.socket()
    refusing.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    url = "http://127.0.0.1:%d/hook" % refusing.getsockname()[1]
    print("| subscriptions | 201/s | CPU µs per 201 | writer | sender |")
    print("|---|---:|---:|---:|---:|")
    for n, kind in ((0, ""), (1, "other"), (5, "other"), (1, "match"), (5, "match")):
        rate, (total, writer, sender) = run(n, kind, url)
        print("| %d %s | %.0f | %.0f | %.0f | %.0f |" % (n, kind, rate, total, writer, sender), flush=True)


if __name__ == "__main__":
    main()
