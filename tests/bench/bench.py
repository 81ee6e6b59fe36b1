#!/usr/bin/env python3
"""The surveyd benchmark driver; tests/bench/run.sh builds everything and runs this.

Every target is a ratio to, or a limit next to, the bare-libmicrohttpd baseline (baseline.c) measured
in the same run on the same machine. Only loopback addresses are used; every wrk run is bounded by
-d. Prints one markdown table of targets, then the scaling tables; writes them, with every raw
measurement as JSON, under BENCH_OUT.

Environment (all optional):
  BENCH_BUILD     build directory with server/surveyd and bench-baseline (build-bench)
  BENCH_DATA      where generated data directories live (BENCH_BUILD/bench-data)
  BENCH_OUT       where results go (BENCH_BUILD/bench-results)
  BENCH_SIZES     stored-response counts, comma-separated (10000,1000000,10000000); the largest one
                  carries the headline targets, the smallest one is the "flat with size" reference
  BENCH_SKIP_1M   1: leave the 1 M size out of BENCH_SIZES (the full run then takes ~5 minutes less)
  BENCH_DAYS      days the generated data spans (730: two years, so that 2-year windows hold data)
  BENCH_AGENTS    agents in the generated data (1000, the issue's group_by=agent target)
  BENCH_DURATION  seconds per wrk run (10); the breakdown runs last a third of it (at least 2 s)
  BENCH_BREAKDOWN 0: skip the headline size's uncached-metrics breakdown by window, grouping and filter
  BENCH_REUSE     1: reuse data directories generated earlier with the same BENCH_DAYS and
                  BENCH_AGENTS (the ingest runs add rows to them)
  BENCH_VERIFY    all (the default) | small (sizes up to 1 M) | none: which generated data directories
                  `surveyd verify` checks; at the largest size it is a target (time and peak RSS)
  BENCH_VERIFY_TIMEOUT  seconds after which `surveyd verify` is stopped and reported as not met (300)
  BENCH_CONNS     connection counts for the ingest scaling table at the largest size (1,16,64,256,1024)
  BENCH_CONNS_EVERY  connection counts ingested at every size (64,1024: the peak-RSS load)
  BENCH_COLD      0: skip the last measurement, a start-up after dropping the page cache (needs root;
                  it empties the cache of the whole machine)
"""

import datetime
import glob
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

BUILD = os.path.abspath(os.environ.get("BENCH_BUILD", os.path.join(REPO, "build-bench")))
DATA = os.path.abspath(os.environ.get("BENCH_DATA", os.path.join(BUILD, "bench-data")))
OUT = os.path.abspath(os.environ.get("BENCH_OUT", os.path.join(BUILD, "bench-results")))
SIZES = [int(s) for s in os.environ.get("BENCH_SIZES", "10000,1000000,10000000").split(",") if s.strip()]
if os.environ.get("BENCH_SKIP_1M", "") == "1":
    SIZES = [n for n in SIZES if n != 1000000]
DAYS = int(os.environ.get("BENCH_DAYS", "730"))
AGENTS = int(os.environ.get("BENCH_AGENTS", "1000"))
DURATION = int(os.environ.get("BENCH_DURATION", "10"))
BREAKDOWN_DURATION = max(2, DURATION // 3)
BREAKDOWN = os.environ.get("BENCH_BREAKDOWN", "1") != "0"
REUSE = os.environ.get("BENCH_REUSE", "") == "1"
VERIFY = os.environ.get("BENCH_VERIFY", "all")
VERIFY_TIMEOUT = int(os.environ.get("BENCH_VERIFY_TIMEOUT", "300"))
CONNS = [int(c) for c in os.environ.get("BENCH_CONNS", "1,16,64,256,1024").split(",")]
CONNS_EVERY = [int(c) for c in os.environ.get("BENCH_CONNS_EVERY", "64,1024").split(",")]

SURVEYD = os.path.join(BUILD, "server", "surveyd")
BASELINE = os.path.join(BUILD, "bench-baseline")
WRK = shutil.which("wrk") or "wrk"

ADMIN = "bench-admin-" + secrets.token_hex(8)
READ = "bench-read-" + secrets.token_hex(8)
INGEST = "bench-ingest-" + secrets.token_hex(8)
SURVEYD_ENV = {
    "SURVEYD_ADMIN_TOKENS": ADMIN,
    "SURVEYD_READ_TOKENS": READ,
    "SURVEYD_INGEST_TOKENS": INGEST,
    # wrk opens every connection from 127.0.0.1; surveyd's default of 256 per address would refuse most
    # of the 1024-connection run. The total limit stays at its default (4096).
    "SURVEYD_MAX_CONNECTIONS_PER_IP": "4096",
}

# Targets (issue 14, "Performance at scale").
INGEST_RATIO = 0.40          # durable POST rate / baseline POST rate, 64 connections
INGEST_P99_MS = 10.0
INGEST_FLAT = 0.80           # rate at the largest size / rate at the smallest ("within 20%")
INGEST_CPU_US = 40.0         # surveyd CPU per ingested response, at every size
METRICS_RATIO = 0.60         # cached metrics GET rate / baseline GET rate
METRICS_P99_MS = 5.0         # distinct uncached queries, windows up to 2 years, any filter or grouping
METRICS_PARTIAL_P99_MS = 10.0  # the same with RFC 3339 (partial-day) edges
METRICS_BY_AGENT_P99_MS = 20.0  # group_by=agent over a year
METRICS_BY_CHANNEL_P99_MS = 5.0
RSS_LIMIT_MB = 64.0          # at every size and load
STARTUP_LIMIT_MS = 200.0
EXPORT_ROWS_PER_S = 300000
VERIFY_LIMIT_S = 120.0
VERIFY_RSS_LIMIT_MB = 256.0

RUN_TAG = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
results = {"run": RUN_TAG, "runs": [], "sizes": {}, "problems": []}


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def label(n):
    if n >= 1000000 and n % 1000000 == 0:
        return f"{n // 1000000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


# ---- machine ----

def cpu_times():
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def machine():
    info = {"nproc": os.cpu_count(), "kernel": platform.release()}
    try:
        with open("/proc/cpuinfo") as f:
            models = [l.split(":", 1)[1].strip() for l in f if l.startswith("model name")]
        info["cpu"] = models[0] if models else "?"
    except OSError:
        info["cpu"] = "?"
    with open("/proc/meminfo") as f:
        info["mem_gb"] = round(int(f.readline().split()[1]) / 1024 / 1024, 1)
    disk = subprocess.run(["df", "-h", DATA], capture_output=True, text=True).stdout.strip().splitlines()
    info["df"] = disk[-1] if disk else "?"
    info["load_before"] = loadavg()
    git = subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"], capture_output=True, text=True)
    info["commit"] = git.stdout.strip() or "?"
    return info


# ---- processes ----

class Server:
    """surveyd or the baseline, on a free loopback port, its log in a file."""

    def __init__(self, name, argv, env=None):
        self.name = name
        os.makedirs(OUT, exist_ok=True)
        self.log_path = os.path.join(OUT, f"{RUN_TAG}-{name}.log")
        self.log_file = open(self.log_path, "ab")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, env=dict(os.environ, **(env or {})), stdout=subprocess.DEVNULL,
                                     stderr=self.log_file)
        self.port = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and self.port is None:
            with open(self.log_path, "rb") as f:
                m = re.search(rb"listening on 127\.0\.0\.1:(\d+)", f.read())
            if m:
                self.port = int(m.group(1))
            elif self.proc.poll() is not None:
                break
            else:
                time.sleep(0.005)
        if self.port is None:
            self.proc.kill()
            raise SystemExit(f"bench: {name} did not start; see {self.log_path}")
        self.url = f"http://127.0.0.1:{self.port}"
        self.peak_kb = 0  # the process's peak RSS over its whole life, across peak resets
        self.last_load = None  # the result of the load that ran last: its peak includes what follows it

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def status(self, key):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return 0

    def peak_rss_kb(self):
        """VmHWM since the last reset_peak(): the peak RSS of the load that just ran."""
        kb = self.status("VmHWM")
        self.peak_kb = max(self.peak_kb, kb)
        return kb

    def end_load(self, result=None):
        """Closes a peak-RSS interval. The peak of the interval that just ended is charged to the last
        load (surveyd still drains it after wrk has gone: at 1024 connections that is where RSS peaks),
        and the next interval is charged to `result`, if given."""
        kb = self.peak_rss_kb()
        if self.last_load is not None:
            self.last_load["peak_rss_mb"] = round(max(self.last_load.get("peak_rss_mb", 0), kb / 1024), 1)
        self.last_load = result

    def reset_peak(self):
        """Starts a new peak-RSS interval: writing 5 to /proc/PID/clear_refs sets VmHWM back to the
        current RSS (Linux 4.0+), so each load gets its own peak. Returns False where the kernel refuses,
        and the peaks are then cumulative (each still a true upper bound)."""
        self.end_load()
        try:
            with open(f"/proc/{self.proc.pid}/clear_refs", "w") as f:
                f.write("5\n")
            return True
        except OSError:
            return False

    def stop(self, timeout=300):
        self.end_load()
        self.proc.send_signal(signal.SIGTERM)
        t = time.monotonic()
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            results["problems"].append(f"{self.name} did not stop within {timeout} s of SIGTERM")
        self.log_file.close()
        if rc != 0:
            results["problems"].append(f"{self.name} exited with status {rc}")
        return rc, time.monotonic() - t


def start_surveyd(name, data_dir, extra=()):
    return Server(name, [SURVEYD, "--listen", "127.0.0.1:0", "--data-dir", data_dir, *extra], SURVEYD_ENV)


def writer_stats(server):
    """Batches, jobs and commit seconds of surveyd's writer, from its Prometheus /metrics (None when
    the build has no such endpoint)."""
    if not server.name.startswith("surveyd"):
        return None
    try:
        out = subprocess.run(["curl", "-s", "-m", "10", "-H", f"Authorization: Bearer {READ}", server.url + "/metrics"],
                             capture_output=True, text=True, timeout=20).stdout
    except subprocess.TimeoutExpired:
        return None
    stats = {}
    for key, name in (("batches", "surveyd_writer_batch_size_count"), ("jobs", "surveyd_writer_batch_size_sum"),
                      ("commit_s", "surveyd_writer_commit_duration_seconds_sum")):
        m = re.search(r"^" + name + r" ([0-9.e+-]+)$", out, re.M)
        if not m:
            return None
        stats[key] = float(m.group(1))
    return stats


# Where the next run of each distinct-query mode starts numbering its queries (metrics.lua's
# BENCH_START), so that no two runs of a mode send the same queries.
query_start = {}


def wrk(server, name, script, threads, conns, env, duration=None, path="/"):
    """One bounded wrk run; returns the script's BENCH line plus CPU and peak-RSS accounting."""
    duration = duration or DURATION
    argv = [WRK, f"-t{threads}", f"-c{conns}", f"-d{duration}s", "--timeout", "10s", "-s",
            os.path.join(HERE, script), server.url + path]
    env = dict(env, BENCH_AGENTS=str(AGENTS), BENCH_DAYS=str(DAYS))
    mode = env.get("BENCH_MODE", "")
    if script == "metrics.lua" and mode != "cached":
        env["BENCH_START"] = str(query_start.get(mode, 0))
    w0 = writer_stats(server) if script == "post.lua" else None
    server.reset_peak()
    busy0, total0 = cpu_times()
    srv0 = server.cpu_seconds()
    load = loadavg()
    proc = subprocess.run(argv, env=dict(os.environ, **env), capture_output=True, text=True,
                          timeout=duration + 120)
    busy1, total1 = cpu_times()
    srv1 = server.cpu_seconds()
    m = re.search(r"^BENCH (\{.*\})$", proc.stdout, re.M)
    if proc.returncode != 0 or not m:
        raise SystemExit(f"bench: wrk failed ({name}):\n{proc.stdout}\n{proc.stderr}")
    r = json.loads(m.group(1))
    if "BENCH_START" in env:
        query_start[mode] = int(env["BENCH_START"]) + r["requests"]
        if r["requests"] > r.get("distinct", 0) > 0:
            results["problems"].append(f"{name}: {r['requests']} requests but only {r['distinct']} distinct "
                                       f"queries: some may have come from the reply cache")
    r.update(name=name, server=server.name, threads=threads, conns=conns, duration_s=duration,
             load_1min_at_start=load,
             machine_cpu_busy_pct=round(100.0 * (busy1 - busy0) / max(1, total1 - total0), 1),
             server_cpu_s=round(srv1 - srv0, 2),
             server_cpu_us_per_req=round(1e6 * (srv1 - srv0) / max(1, r["requests"]), 1))
    r["socket_errors"] = r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["timeouts"]
    server.end_load(r)  # sets r["peak_rss_mb"] now, raised later if the drain after wrk peaks higher
    r["peak_rss_mb"] = round(server.status("VmHWM") / 1024, 1)
    w1 = writer_stats(server) if w0 else None
    if w0 and w1 and w1["batches"] > w0["batches"]:
        batches = w1["batches"] - w0["batches"]
        r["writer_batches"] = int(batches)
        r["writer_avg_batch"] = round((w1["jobs"] - w0["jobs"]) / batches, 1)
        r["writer_avg_commit_ms"] = round(1000 * (w1["commit_s"] - w0["commit_s"]) / batches, 2)
        # share of the run the writer spent applying and committing batches (100%: it is the bottleneck)
        r["writer_busy_pct"] = round(100 * (w1["commit_s"] - w0["commit_s"]) / (r["duration_us"] / 1e6), 1)
    results["runs"].append(r)
    if "writer_busy_pct" in r:
        log(f"{name}: writer: {r['writer_batches']} batches of {r['writer_avg_batch']} on average, "
            f"{r['writer_avg_commit_ms']} ms each, busy {r['writer_busy_pct']}% of the run")
    log(f"{name}: {r['rps']:.0f} req/s, p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, "
        f"non-2xx {r['non2xx']}, socket errors {r['socket_errors']}, server CPU {r['server_cpu_us_per_req']} us/req, "
        f"peak RSS {r['peak_rss_mb']} MB, machine busy {r['machine_cpu_busy_pct']}%")
    return r


def sqlite_count(db_path, sql="SELECT count(*) FROM responses"):
    """Counted with the sqlite3 command-line tool, as an operator would."""
    out = subprocess.run(["sqlite3", "-readonly", db_path, sql], capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


# ---- phases ----

def generate(n):
    data_dir = os.path.join(DATA, label(n))
    marker = os.path.join(data_dir, "bench-generated.json")
    info = None
    if REUSE and os.path.exists(marker):
        with open(marker) as f:
            info = json.load(f)
        if (info.get("days"), info.get("agents")) != (DAYS, AGENTS):
            log(f"{data_dir} was generated with --days {info.get('days')} --agents {info.get('agents')}: generating again")
            info = None
        else:
            info["reused"] = True
            log(f"reusing {data_dir} ({info})")
    if info is None:
        log(f"generating {n} responses over {DAYS} days, {AGENTS} agents, into {data_dir}")
        proc = subprocess.run([sys.executable, os.path.join(HERE, "generate.py"), "--surveyd", SURVEYD,
                               "--data-dir", data_dir, "--count", str(n), "--days", str(DAYS),
                               "--agents", str(AGENTS), "--force", "--no-verify"],
                              stdout=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"bench: generate.py failed for {n}")
        info = json.loads(proc.stdout.strip().splitlines()[-1])
        info.update(days=DAYS, agents=AGENTS)
        with open(marker, "w") as f:
            json.dump(info, f)
    if VERIFY == "all" or (VERIFY == "small" and n <= 1000000):
        info.update(run_verify(data_dir, n))
    return data_dir, info


def run_verify(data_dir, n):
    """`surveyd verify` with its wall time, CPU time and peak RSS (the child's own rusage from wait4,
    what /usr/bin/time -v reports), stopped after BENCH_VERIFY_TIMEOUT seconds."""
    out_path = os.path.join(OUT, f"{RUN_TAG}-verify-{label(n)}.log")
    with open(out_path, "wb") as out:
        t = time.monotonic()
        proc = subprocess.Popen([SURVEYD, "verify", "--data-dir", data_dir], stdout=out, stderr=subprocess.STDOUT)
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - t > VERIFY_TIMEOUT:
                timed_out = True
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        wall = time.monotonic() - t
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: keep Popen from waiting again
    with open(out_path, errors="replace") as f:
        lines = f.read().strip().splitlines()
    v = {"verify": lines[-1] if lines else "", "verify_exit": proc.returncode, "verify_s": round(wall, 1),
         "verify_timed_out": timed_out, "verify_rss_mb": round(usage.ru_maxrss / 1024, 1),
         "verify_cpu_s": round(usage.ru_utime + usage.ru_stime, 1)}
    if timed_out:
        v["verify"] = f"stopped after {VERIFY_TIMEOUT} s (BENCH_VERIFY_TIMEOUT)"
    log(f"verify {label(n)}: {v}")
    if proc.returncode != 0 and not timed_out:
        results["problems"].append(f"surveyd verify failed on the {label(n)} data: {lines[-5:]}")
    return v


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def startup_once(data_dir):
    """Milliseconds from exec to the first 200 from /readyz, polling every 0.5 ms."""
    port = free_port()
    log_file = open(os.path.join(OUT, f"{RUN_TAG}-startup.log"), "ab")
    t0 = time.perf_counter()
    proc = subprocess.Popen([SURVEYD, "--listen", f"127.0.0.1:{port}", "--data-dir", data_dir],
                            env=dict(os.environ, **SURVEYD_ENV), stdout=subprocess.DEVNULL, stderr=log_file)
    elapsed = None
    while time.perf_counter() - t0 < 30 and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    elapsed = (time.perf_counter() - t0) * 1000
                    break
        except OSError:
            pass
        time.sleep(0.0005)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)
    log_file.close()
    return elapsed


def drop_caches():
    try:
        subprocess.run(["sync"], check=True)
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def measure_startup(data_dir, n, tries=5):
    times = [startup_once(data_dir) for _ in range(tries)]
    ok = [t for t in times if t is not None]
    r = {"tries_ms": [round(t, 1) if t else None for t in times]}
    if ok:
        r["median_ms"] = round(statistics.median(ok), 1)
        r["max_ms"] = round(max(ok), 1)
    if len(ok) != len(times):
        results["problems"].append(f"start-up at {label(n)}: {len(times) - len(ok)} of {len(times)} never got a 200")
    log(f"start-up {label(n)}: {r}")
    return r


def export(server, n, db_rows):
    url = f"{server.url}/v1/surveys/support/responses"
    server.reset_peak()
    cpu0 = server.cpu_seconds()
    t = time.monotonic()
    out = subprocess.run(["curl", "-s", "-H", "Accept: text/csv", "-H", f"Authorization: Bearer {READ}", url,
                          "-o", "/dev/null", "-w", "%{http_code} %{size_download} %{time_total}"],
                         capture_output=True, text=True, timeout=3600)
    wall = time.monotonic() - t
    parts = out.stdout.split()
    r = {"rows": db_rows, "curl_exit": out.returncode}
    if len(parts) == 3:
        r.update(status=int(parts[0]), bytes=int(parts[1]), seconds=float(parts[2]))
    else:
        r.update(status=0, bytes=0, seconds=wall)
    r["rows_per_s"] = round(db_rows / r["seconds"]) if r["seconds"] > 0 else 0
    r["server_cpu_us_per_row"] = round(1e6 * (server.cpu_seconds() - cpu0) / max(1, db_rows), 2)
    server.end_load(r)
    r["peak_rss_mb"] = round(server.status("VmHWM") / 1024, 1)
    if out.returncode != 0 or r["status"] != 200:
        results["problems"].append(f"CSV export at {label(n)}: curl exit {out.returncode}, HTTP {r['status']}")
    log(f"export {label(n)}: {r}")
    return r


def check_export_rows(server, n):
    """At small sizes, count the CSV's lines too: every row must be in the export exactly once."""
    out = subprocess.run(f"curl -s -H 'Accept: text/csv' -H 'Authorization: Bearer {READ}' "
                         f"{server.url}/v1/surveys/support/responses | wc -l", shell=True,
                         capture_output=True, text=True)
    return int(out.stdout.strip() or 0) - 1


def ids_check(db_path, ids_glob):
    ids = []
    for path in glob.glob(ids_glob):
        with open(path) as f:
            ids.extend(line.strip() for line in f if line.strip())
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    db.execute("CREATE TEMP TABLE ids (id TEXT PRIMARY KEY)")
    db.executemany("INSERT OR IGNORE INTO ids VALUES (?)", ((i,) for i in ids))
    distinct = db.execute("SELECT count(*) FROM temp.ids").fetchone()[0]
    missing = db.execute("SELECT count(*) FROM temp.ids WHERE NOT EXISTS"
                         " (SELECT 1 FROM main.responses r WHERE r.id = ids.id)").fetchone()[0]
    db.close()
    return {"ids_written": len(ids), "ids_distinct": distinct, "ids_missing": missing}


def server_log_posts(log_path):
    """From surveyd's request log: POSTs of responses answered 201, and those logged with status 0
    (the client was gone before the reply could be sent: wrk closing its connections at the end of a
    run while their requests waited for the writer). Plus the first warnings and errors."""
    created, aborted, problems = 0, 0, []
    pattern = re.compile(r" info POST /v1/surveys/[^ ]+/responses (\d+) ")
    with open(log_path, errors="replace") as f:
        for line in f:
            m = pattern.search(line)
            if m:
                created += m.group(1) == "201"
                aborted += m.group(1) == "0"
            elif " warn " in line or " error " in line or " fatal " in line:
                if len(problems) < 10:
                    problems.append(line.strip()[:300])
    return created, aborted, problems


# Distinct uncached metrics queries at every size (metrics.lua's modes), each with its limit.
METRICS_MODES = ("plain", "agent", "by_channel", "by_agent", "partial")
METRICS_LIMITS = {"plain": METRICS_P99_MS, "agent": METRICS_P99_MS, "by_channel": METRICS_BY_CHANNEL_P99_MS,
                  "by_agent": METRICS_BY_AGENT_P99_MS, "partial": METRICS_PARTIAL_P99_MS}
METRICS_NAMES = {
    "cached": "repeated (cached), wrk -t2 -c64",
    "plain": "no agent filter: windows 1 day to 2 years, channel filter or none, no grouping, "
             "group_by=day/week/month, compare=previous",
    "agent": f"agent filter (one of {AGENTS}), windows, channels and groupings as above",
    "by_channel": "group_by=channel, windows up to 2 years, agent filter or none",
    "by_agent": f"group_by=agent over a year (365-day windows, {AGENTS} agents), channel filter or none",
    "partial": "RFC 3339 partial-day edges (09:00 to 17:30), windows up to 2 years, filters and groupings mixed",
}
# The headline size's breakdown of the plain and agent queries: one dimension fixed per row.
BREAKDOWN_ROWS = ([("window", f"{d} day{'s' if d > 1 else ''}", {"BENCH_LENGTH": str(d)})
                   for d in (1, 7, 30, 90, 365, 730)]
                  + [("grouping", g, {"BENCH_GROUP": g}) for g in ("none", "day", "week", "month", "compare")]
                  + [("channel filter", c, {"BENCH_CHANNEL": c}) for c in ("none", "one")])


def flush_reply_cache(server):
    """Retires every cached metrics reply of the survey: PUT its definition back unchanged (every write
    through the writer bumps the survey's data version, which the reply cache is keyed by), so that a
    run of distinct queries never meets a reply cached by an earlier run. Adds no responses."""
    url = server.url + "/v1/surveys/support"
    auth = {"Authorization": f"Bearer {ADMIN}"}
    with urllib.request.urlopen(urllib.request.Request(url, headers=auth), timeout=30) as r:
        body = r.read()
    req = urllib.request.Request(url, data=body, method="PUT", headers=dict(auth, **{"Content-Type": "application/json"}))
    with urllib.request.urlopen(req, timeout=30) as r:
        r.read()


def uncached(server, name, env, duration=None):
    flush_reply_cache(server)
    return wrk(server, name, "metrics.lua", 1, 2, dict(env, BENCH_TOKEN=READ), duration=duration)


def bench_size(n, data_dir, headline):
    db_path = os.path.join(data_dir, "surveyd.db")
    s = {"n": n, "db_bytes": sum(os.path.getsize(p) for p in glob.glob(os.path.join(data_dir, "surveyd.db*")))}
    s["startup"] = measure_startup(data_dir, n)
    rows_before = sqlite_count(db_path)
    s["rows_before"] = rows_before

    server = start_surveyd(f"surveyd-{label(n)}", data_dir)
    s["idle_rss_mb"] = round(server.status("VmRSS") / 1024, 1)
    m = {"cached": wrk(server, f"metrics cached {label(n)}", "metrics.lua", 2, 64,
                       {"BENCH_TOKEN": READ, "BENCH_MODE": "cached"})}
    for mode in METRICS_MODES:
        m[mode] = uncached(server, f"metrics {mode} {label(n)}", {"BENCH_MODE": mode})
    s["metrics"] = m
    if headline and BREAKDOWN:
        s["metrics_breakdown"] = {}
        for dim, value, env in BREAKDOWN_ROWS:
            for mode in ("plain", "agent"):
                s["metrics_breakdown"][f"{mode} {dim} {value}"] = uncached(
                    server, f"metrics {mode}, {dim} {value}, {label(n)}", dict(env, BENCH_MODE=mode),
                    duration=BREAKDOWN_DURATION)

    s["export"] = export(server, n, rows_before)
    if n == min(SIZES):
        s["export"]["csv_rows_counted"] = check_export_rows(server, n)

    ids_prefix = os.path.join(OUT, f"{RUN_TAG}-ids-{label(n)}")
    ingest = {}
    conn_list = sorted(set(CONNS_EVERY) | (set(CONNS) if headline else set()))
    for conns in [64] + [c for c in conn_list if c != 64]:
        env = {"BENCH_TOKEN": INGEST, "BENCH_RUN": f"{RUN_TAG}-{label(n)}-{conns}",
               "BENCH_IDS": f"{ids_prefix}-{conns}"}
        ingest[conns] = wrk(server, f"ingest {label(n)} c{conns}", "post.lua", 1 if conns == 1 else 2, conns, env)
    s["ingest"] = ingest

    server.end_load()
    s["vm_hwm_kb"] = server.peak_kb  # the largest of every load's peak, start-up included
    s["threads"] = server.status("Threads")
    rc, stop_s = server.stop()
    s["stop_s"] = round(stop_s, 1)
    rows_after = sqlite_count(db_path)
    n201_wrk = sum(r["s201"] for r in ingest.values())
    n201_log, aborted_log, log_problems = server_log_posts(server.log_path)
    s["durability"] = {"rows_before": rows_before, "rows_after": rows_after, "rows_added": rows_after - rows_before,
                       "wrk_201s": n201_wrk, "server_logged_201s": n201_log, "server_logged_aborted": aborted_log,
                       "in_flight_bound": sum(ingest.keys())}
    s["durability"].update(ids_check(db_path, ids_prefix + "-*"))
    s["server_log_problems"] = log_problems
    d = s["durability"]
    # Every 201 wrk saw is on disk, and every row added is one surveyd answered 201 or committed for a
    # client that had hung up (at most one per connection, when wrk stops).
    d["ok"] = (d["ids_missing"] == 0 and d["ids_written"] == n201_wrk and d["ids_distinct"] == n201_wrk
               and d["rows_added"] == n201_log + aborted_log and n201_wrk <= n201_log
               and 0 <= d["rows_added"] - n201_wrk <= d["in_flight_bound"])
    log(f"durability {label(n)}: {d}")
    for path in glob.glob(ids_prefix + "-*"):
        os.remove(path)
    return s


def run_baseline():
    server = Server("baseline", [BASELINE, "--listen", "127.0.0.1:0"])
    b = {
        "get": wrk(server, "baseline GET", "metrics.lua", 2, 64, {"BENCH_MODE": "cached", "BENCH_TOKEN": READ}),
        "post": wrk(server, "baseline POST", "post.lua", 2, 64, {"BENCH_TOKEN": INGEST, "BENCH_RUN": "baseline"}),
    }
    b["vm_hwm_kb"] = server.status("VmHWM")
    server.stop()
    return b


# ---- report ----

def fmt(x, digits=0):
    if x is None:
        return "–"
    if isinstance(x, float) and digits:
        return f"{x:,.{digits}f}"
    return f"{x:,.0f}"


def writer_cell(r):
    if "writer_busy_pct" not in r:
        return "–"
    return f"{r['writer_avg_batch']:.1f}, {r['writer_avg_commit_ms']:.1f} ms, {r['writer_busy_pct']:.0f}%"


def pct(x):
    return f"{x:.0f}%"


def load_peaks(s):
    """(load name, peak RSS MB) for every load of one size, in the order they ran."""
    out = [("idle after start", s.get("idle_rss_mb"))]
    out += [(f"metrics {mode}", r.get("peak_rss_mb")) for mode, r in s["metrics"].items()]
    if s.get("metrics_breakdown"):
        out += [("metrics breakdown", max(r["peak_rss_mb"] for r in s["metrics_breakdown"].values()))]
    out += [("export", s["export"].get("peak_rss_mb"))]
    out += [(f"ingest {c} c.", r.get("peak_rss_mb")) for c, r in sorted(s["ingest"].items())]
    return [(k, v) for k, v in out if v is not None]


def report(info):
    big, small = max(SIZES), min(SIZES)
    S = results["sizes"]
    h = S[str(big)]
    b = results["baseline"]
    bp, bg = b["post"], b["get"]
    hl, sl = label(big), label(small)
    targets = []  # (target, measured, baseline, limit, ok)

    def target(what, measured, limit, ok, baseline="–"):
        targets.append((what, measured, baseline, limit, ok))

    # durable ingest
    for n in sorted({small, big}):
        r = S[str(n)]["ingest"][64]
        ratio = r["rps"] / bp["rps"]
        target(f"Durable ingest rate, 64 connections, synchronous=FULL, {label(n)} stored",
               f"{fmt(r['rps'])} req/s, ratio {ratio:.2f}", f"≥ {INGEST_RATIO:.2f} of baseline",
               ratio >= INGEST_RATIO, f"{fmt(bp['rps'])} req/s")
        target(f"Durable ingest p99, 64 connections, {label(n)} stored",
               f"{r['p99_ms']:.2f} ms (p50 {r['p50_ms']:.2f})", f"≤ {INGEST_P99_MS:g} ms",
               r["p99_ms"] <= INGEST_P99_MS, f"{bp['p99_ms']:.2f} ms")
    if big != small:
        rb, rs = h["ingest"][64], S[str(small)]["ingest"][64]
        flat = rb["rps"] / rs["rps"]
        target(f"Durable ingest flat with size: rate at {hl} / rate at {sl}",
               f"{fmt(rb['rps'])} / {fmt(rs['rps'])} req/s = {flat:.2f}", f"≥ {INGEST_FLAT:.2f}",
               flat >= INGEST_FLAT)
    for n in SIZES:
        r = S[str(n)]["ingest"][64]
        target(f"surveyd CPU per ingested response, 64 connections, {label(n)} stored",
               f"{r['server_cpu_us_per_req']:.0f} µs", f"≤ {INGEST_CPU_US:g} µs",
               r["server_cpu_us_per_req"] <= INGEST_CPU_US, f"{bp['server_cpu_us_per_req']:.0f} µs")
    dur = [S[str(n)]["durability"] for n in SIZES]
    d = h["durability"]
    target(f"Every 201'd response on disk (all ingest runs, every size; ids from wrk's response() looked up "
           f"with sqlite3 after surveyd stopped)",
           f"{hl}: all {fmt(d['ids_distinct'])} of {fmt(d['wrk_201s'])} ids found; rows added {fmt(d['rows_added'])} = "
           f"{fmt(d['server_logged_201s'])} 201s logged + {d['server_logged_aborted']} committed for connections "
           f"wrk closed at its stop; " + ", ".join(f"{label(n)}: {'ok' if x['ok'] else 'MISMATCH'}"
                                                     for n, x in zip(SIZES, dur)),
           "must match", all(x["ok"] for x in dur))
    # metrics
    mc = h["metrics"]["cached"]
    ratio = mc["rps"] / bg["rps"]
    target(f"Cached metrics GET rate, 64 connections, {hl} stored", f"{fmt(mc['rps'])} req/s, ratio {ratio:.2f} "
           f"({mc['server_cpu_us_per_req']:.0f} µs CPU/req)", f"≥ {METRICS_RATIO:.2f} of baseline",
           ratio >= METRICS_RATIO, f"{fmt(bg['rps'])} req/s")
    for mode in METRICS_MODES:
        r = h["metrics"][mode]
        lim = METRICS_LIMITS[mode]
        target(f"Metrics p99, distinct uncached queries, {METRICS_NAMES[mode]} ({hl}; wrk -t1 -c2)",
               f"{r['p99_ms']:.2f} ms (p50 {r['p50_ms']:.2f}, {fmt(r['rps'])} req/s, "
               f"{r['server_cpu_us_per_req']:.0f} µs CPU/req)", f"≤ {lim:g} ms", r["p99_ms"] <= lim)
    if h.get("metrics_breakdown"):
        worst = max(h["metrics_breakdown"].items(), key=lambda kv: kv[1]["p99_ms"])
        bad = sum(1 for r in h["metrics_breakdown"].values() if r["p99_ms"] > METRICS_P99_MS)
        target(f"Metrics p99 of every window length (1 day to 2 years), grouping and channel filter, with and "
               f"without an agent filter ({hl}; breakdown below)",
               f"worst {worst[1]['p99_ms']:.2f} ms ({worst[0]}); {bad} of {len(h['metrics_breakdown'])} runs over",
               f"≤ {METRICS_P99_MS:g} ms", bad == 0)
    # memory
    for n in SIZES:
        peaks = load_peaks(S[str(n)])
        top = max(peaks, key=lambda kv: kv[1])
        c1024 = S[str(n)]["ingest"].get(1024)
        extra = f"; ingest 1024 c.: {c1024['peak_rss_mb']:.1f} MB" if c1024 else ""
        target(f"Peak RSS (VmHWM) of surveyd at {label(n)} stored, every load (table below)",
               f"{S[str(n)]['vm_hwm_kb'] / 1024:.1f} MB (largest load: {top[0]}{extra})", f"≤ {RSS_LIMIT_MB:g} MB",
               S[str(n)]["vm_hwm_kb"] / 1024 <= RSS_LIMIT_MB, f"{b['vm_hwm_kb'] / 1024:.1f} MB")
    st = h["startup"]
    cold = f"; after dropping the page cache {st['cold_ms']} ms" if st.get("cold_ms") else ""
    target(f"Start-up to first 200 from /readyz, {hl} stored (median of {len(st['tries_ms'])}; max)",
           f"{st.get('median_ms')} ms (max {st.get('max_ms')} ms{cold})", f"≤ {STARTUP_LIMIT_MS:g} ms",
           st.get("max_ms") is not None and st["max_ms"] <= STARTUP_LIMIT_MS)
    g = results["generated"][str(big)]
    if g.get("verify"):
        target(f"`surveyd verify` wall time, {hl} stored", f"{g['verify_s']:.1f} s (CPU {g['verify_cpu_s']:.1f} s): "
               f"{g['verify']}", f"≤ {VERIFY_LIMIT_S:g} s", g["verify_s"] <= VERIFY_LIMIT_S and not g["verify_timed_out"])
        target(f"`surveyd verify` peak RSS, {hl} stored (its rusage)", f"{g['verify_rss_mb']:.1f} MB"
               + (" (stopped early: a lower bound)" if g["verify_timed_out"] else ""),
               f"≤ {VERIFY_RSS_LIMIT_MB:g} MB", g["verify_rss_mb"] <= VERIFY_RSS_LIMIT_MB)
    else:
        target(f"`surveyd verify`, {hl} stored", "not run (BENCH_VERIFY)", f"≤ {VERIFY_LIMIT_S:g} s, "
               f"≤ {VERIFY_RSS_LIMIT_MB:g} MB", None)
    verified = {k: v for k, v in results["generated"].items() if v.get("verify") and not v.get("verify_timed_out")}
    if verified:
        target("`surveyd verify` finds the generated data consistent",
               "; ".join(f"{label(int(k))}: {v['verify']}" for k, v in verified.items()), "consistent",
               all(v.get("verify_exit") == 0 for v in verified.values()))
    ex = h["export"]
    target(f"CSV export of all {fmt(ex['rows'])} rows ({hl} stored; curl -o /dev/null)",
           f"{fmt(ex['rows_per_s'])} rows/s ({ex['seconds']:.1f} s, {ex['bytes'] / 1e6:,.0f} MB, "
           f"{ex['server_cpu_us_per_row']:.2f} µs CPU/row)", f"≥ {EXPORT_ROWS_PER_S:,} rows/s",
           ex["rows_per_s"] >= EXPORT_ROWS_PER_S and ex["status"] == 200)
    target(f"Generate {hl} responses (generate.py --days {DAYS} --agents {AGENTS}, straight into SQLite)",
           f"{g['seconds']:.0f} s (rows {g['rows_s']:.0f} s, rollups {g['rollups_s']:.0f} s, indexes "
           f"{g['indexes_s']:.0f} s{', reused' if g.get('reused') else ''})", "a few minutes (≤ 300 s)",
           g["seconds"] <= 300)
    runs = [r for r in results["runs"] if r["server"] != "baseline"]
    non2xx = sum(r["non2xx"] for r in runs)
    sock = sum(r["socket_errors"] for r in runs)
    tmo = sum(r["timeouts"] for r in runs)
    target("Errors under load, all surveyd runs", f"{non2xx} non-2xx, {sock} socket errors (of which {tmo} timeouts)",
           "0", non2xx == 0 and sock == 0,
           str(sum(r["non2xx"] + r["socket_errors"] for r in results["runs"] if r["server"] == "baseline")))

    lines = []
    add = lines.append
    add(f"### surveyd benchmark {RUN_TAG}")
    add("")
    add(f"Machine: {info['nproc']} cores ({info['cpu']}), {info['mem_gb']} GiB RAM, kernel {info['kernel']}; "
        f"disk `{info['df']}`. Load average before the run: {info['load_before']}. wrk and the server share "
        f"the same {info['nproc']} cores. Each wrk run lasts {DURATION} s (breakdown runs {BREAKDOWN_DURATION} s). "
        f"Data: generate.py over {DAYS} days, {AGENTS} agents. surveyd at commit {info['commit']} (release build).")
    add("")
    add("| target | measured | baseline (bare libmicrohttpd) | limit | met |")
    add("|---|---|---|---|---|")
    add(f"| Baseline POST, 64 connections (reads the body, 202, stores nothing) | – | {fmt(bp['rps'])} req/s, "
        f"p99 {bp['p99_ms']:.2f} ms, {bp['server_cpu_us_per_req']:.0f} µs CPU/req | – | – |")
    add(f"| Baseline GET, 64 connections (fixed small JSON) | – | {fmt(bg['rps'])} req/s, p99 {bg['p99_ms']:.2f} ms, "
        f"{bg['server_cpu_us_per_req']:.0f} µs CPU/req | – | – |")
    for what, measured, base, limit, ok in targets:
        verdict = "not run" if ok is None else ("**met**" if ok else "**not met**")
        add(f"| {what} | {measured} | {base} | {limit} | {verdict} |")
    add("")
    met = sum(1 for t in targets if t[4])
    add(f"Targets met: {met} of {len(targets)}")
    add("")
    add("```")
    for what, measured, _, limit, ok in targets:
        verdict = "not run" if ok is None else ("met" if ok else "NOT MET")
        add(f"{verdict:8} {what}: {measured} (limit {limit})")
    add("```")
    add("")

    add("#### Ingest (POST, 64 connections, synchronous=FULL) by stored responses")
    add("")
    add("| stored | req/s | ratio to baseline | p50 ms | p99 ms | max ms | surveyd CPU µs/req | peak RSS MB | machine busy | writer: avg batch, avg commit, busy | non-2xx | socket errors |")
    add("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n in SIZES:
        r = S[str(n)]["ingest"][64]
        add(f"| {label(n)} | {fmt(r['rps'])} | {r['rps'] / bp['rps']:.2f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} "
            f"| {r['max_ms']:.1f} | {r['server_cpu_us_per_req']:.0f} | {r['peak_rss_mb']:.1f} | {pct(r['machine_cpu_busy_pct'])} "
            f"| {writer_cell(r)} | {r['non2xx']} | {r['socket_errors']} |")
    add(f"| baseline | {fmt(bp['rps'])} | 1.00 | {bp['p50_ms']:.2f} | {bp['p99_ms']:.2f} | {bp['max_ms']:.1f} "
        f"| {bp['server_cpu_us_per_req']:.0f} | {bp['peak_rss_mb']:.1f} | {pct(bp['machine_cpu_busy_pct'])} | – "
        f"| {bp['non2xx']} | {bp['socket_errors']} |")
    add("")
    add("#### Ingest by connections (every size)")
    add("")
    add("| stored | connections | wrk threads | req/s | ratio to baseline (64 c.) | p50 ms | p99 ms | max ms | surveyd CPU µs/req | peak RSS MB | writer: avg batch, avg commit, busy | non-2xx | socket errors (timeouts) |")
    add("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n in SIZES:
        for c in sorted(S[str(n)]["ingest"]):
            r = S[str(n)]["ingest"][c]
            add(f"| {label(n)} | {c} | {r['threads']} | {fmt(r['rps'])} | {r['rps'] / bp['rps']:.2f} | {r['p50_ms']:.2f} "
                f"| {r['p99_ms']:.2f} | {r['max_ms']:.1f} | {r['server_cpu_us_per_req']:.0f} | {r['peak_rss_mb']:.1f} "
                f"| {writer_cell(r)} | {r['non2xx']} | {r['socket_errors']} ({r['timeouts']}) |")
    add("")
    add("#### Metrics by stored responses (distinct uncached queries: wrk -t1 -c2, the reply cache retired "
        "before each run; cached: -t2 -c64)")
    add("")
    add("| stored | queries | req/s | p50 ms | p90 ms | p99 ms | max ms | limit | met | surveyd CPU µs/req | peak RSS MB | non-2xx |")
    add("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n in SIZES:
        for mode, r in S[str(n)]["metrics"].items():
            if mode == "cached":
                ratio = r["rps"] / bg["rps"]
                limit, ok = f"≥ {METRICS_RATIO:.2f} of baseline: {ratio:.2f}", ratio >= METRICS_RATIO
            else:
                limit, ok = f"p99 ≤ {METRICS_LIMITS[mode]:g} ms", r["p99_ms"] <= METRICS_LIMITS[mode]
            add(f"| {label(n)} | {METRICS_NAMES[mode]} | {fmt(r['rps'])} | {r['p50_ms']:.2f} | {r['p90_ms']:.2f} "
                f"| {r['p99_ms']:.2f} | {r['max_ms']:.1f} | {limit} | {'yes' if ok else 'no'} "
                f"| {r['server_cpu_us_per_req']:.0f} | {r['peak_rss_mb']:.1f} | {r['non2xx']} |")
    add("")
    if h.get("metrics_breakdown"):
        add(f"#### Metrics breakdown ({hl} stored; distinct uncached queries, wrk -t1 -c2, {BREAKDOWN_DURATION} s "
            f"each; one dimension fixed per row, the others mixed as in the plain and agent modes)")
        add("")
        add("| dimension | value | no agent filter: p50 ms | p99 ms | req/s | CPU µs/req | agent filter: p50 ms | p99 ms | req/s | CPU µs/req | p99 ≤ 5 ms |")
        add("|---|---|---|---|---|---|---|---|---|---|---|")
        for dim, value, _ in BREAKDOWN_ROWS:
            p = h["metrics_breakdown"][f"plain {dim} {value}"]
            a = h["metrics_breakdown"][f"agent {dim} {value}"]
            ok = max(p["p99_ms"], a["p99_ms"]) <= METRICS_P99_MS
            add(f"| {dim} | {value} | {p['p50_ms']:.2f} | {p['p99_ms']:.2f} | {fmt(p['rps'])} | {p['server_cpu_us_per_req']:.0f} "
                f"| {a['p50_ms']:.2f} | {a['p99_ms']:.2f} | {fmt(a['rps'])} | {a['server_cpu_us_per_req']:.0f} "
                f"| {'yes' if ok else 'no'} |")
        add("")
    add("#### Peak RSS (VmHWM, reset before each load through /proc/PID/clear_refs) by stored responses and load, MB")
    add("")
    loads = []  # the loads of every size, in the order they run at the largest one
    for n in [big] + SIZES:
        for k, _ in load_peaks(S[str(n)]):
            if k not in loads:
                loads.append(k)
    add("| stored | " + " | ".join(loads) + f" | whole process | ≤ {RSS_LIMIT_MB:g} MB |")
    add("|---|" + "---|" * (len(loads) + 2))
    for n in SIZES:
        peaks = dict(load_peaks(S[str(n)]))
        whole = S[str(n)]["vm_hwm_kb"] / 1024
        add(f"| {label(n)} | " + " | ".join(f"{peaks[k]:.1f}" if k in peaks else "–" for k in loads)
            + f" | {whole:.1f} | {'yes' if whole <= RSS_LIMIT_MB else 'no'} |")
    add("")
    add("#### CSV export by stored responses (all rows; curl -o /dev/null)")
    add("")
    add(f"| stored | rows | rows/s | seconds | MB | surveyd CPU µs/row | peak RSS MB | ≥ {EXPORT_ROWS_PER_S:,} rows/s |")
    add("|---|---|---|---|---|---|---|---|")
    for n in SIZES:
        ex = S[str(n)]["export"]
        add(f"| {label(n)} | {fmt(ex['rows'])} | {fmt(ex['rows_per_s'])} | {ex['seconds']:.2f} | {ex['bytes'] / 1e6:,.1f} "
            f"| {ex['server_cpu_us_per_row']:.2f} | {ex['peak_rss_mb']:.1f} | {'yes' if ex['rows_per_s'] >= EXPORT_ROWS_PER_S else 'no'} |")
    add("")
    add("#### Per stored size: start-up, database, generation, verify")
    add("")
    add("| stored | start-up median ms | start-up max ms | threads | database size | generated in | verify | verify s | verify CPU s | verify peak RSS MB |")
    add("|---|---|---|---|---|---|---|---|---|---|")
    for n in SIZES:
        s = S[str(n)]
        g = results["generated"][str(n)]
        v = g.get("verify") or "not run"
        add(f"| {label(n)} | {s['startup'].get('median_ms')} | {s['startup'].get('max_ms')} | {s['threads']} "
            f"| {s['db_bytes'] / 1e9:.2f} GB | {g['seconds']:.0f} s{' (reused)' if g.get('reused') else ''} | {v} "
            f"| {g.get('verify_s', '–')} | {g.get('verify_cpu_s', '–')} | {g.get('verify_rss_mb', '–')} |")
    add("")
    if results["problems"]:
        add("Problems seen: " + "; ".join(results["problems"]))
        add("")
    for n in SIZES:
        lp = S[str(n)].get("server_log_problems")
        if lp:
            add(f"surveyd log warnings/errors at {label(n)} (first {len(lp)}): " + " / ".join(f"`{l}`" for l in lp))
            add("")
    samples = [f"{r['name']}: {r['samples']}" for r in results["runs"] if r.get("samples")]
    if samples:
        add("Non-2xx samples: " + " / ".join(samples))
        add("")
    return "\n".join(lines)


def main():
    for path in (SURVEYD, BASELINE):
        if not os.access(path, os.X_OK):
            raise SystemExit(f"bench: {path} is missing: run tests/bench/run.sh")
    os.makedirs(DATA, exist_ok=True)
    os.makedirs(OUT, exist_ok=True)
    info = machine()
    results["machine"] = info
    started = time.monotonic()
    log(f"machine: {info}")

    results["generated"] = {}
    dirs = {}
    for n in SIZES:
        dirs[n], results["generated"][str(n)] = generate(n)

    results["baseline"] = run_baseline()
    for n in SIZES:
        results["sizes"][str(n)] = bench_size(n, dirs[n], headline=(n == max(SIZES)))

    # Last, as it empties the page cache of the whole machine: start-up with nothing cached.
    big = max(SIZES)
    if os.environ.get("BENCH_COLD", "1") == "1" and drop_caches():
        cold = startup_once(dirs[big])
        results["sizes"][str(big)]["startup"]["cold_ms"] = round(cold, 1) if cold else None
        log(f"cold start-up {label(big)}: {cold} ms")

    results["total_s"] = round(time.monotonic() - started, 1)
    results["machine"]["load_after"] = loadavg()
    text = report(info)
    text += f"\nTotal time {results['total_s'] / 60:.1f} min; load average after: {results['machine']['load_after']}.\n"
    with open(os.path.join(OUT, f"{RUN_TAG}.json"), "w") as f:
        json.dump(results, f, indent=1, default=str)
    with open(os.path.join(OUT, f"{RUN_TAG}.md"), "w") as f:
        f.write(text)
    print(text)
    log(f"results in {os.path.join(OUT, RUN_TAG)}.md / .json")


if __name__ == "__main__":
    main()
