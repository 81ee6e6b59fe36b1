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
                  carries the headline targets
  BENCH_DURATION  seconds per wrk run (10)
  BENCH_REUSE     1: reuse data directories generated earlier (the ingest runs add rows to them)
  BENCH_VERIFY    all | small (sizes up to 1 M, the default) | none: which generated data directories
                  `surveyd verify` checks (at 10 M it takes many minutes)
  BENCH_CONNS     connection counts for the ingest scaling table (1,16,64,256,1024)
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

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

BUILD = os.path.abspath(os.environ.get("BENCH_BUILD", os.path.join(REPO, "build-bench")))
DATA = os.path.abspath(os.environ.get("BENCH_DATA", os.path.join(BUILD, "bench-data")))
OUT = os.path.abspath(os.environ.get("BENCH_OUT", os.path.join(BUILD, "bench-results")))
SIZES = [int(s) for s in os.environ.get("BENCH_SIZES", "10000,1000000,10000000").split(",") if s.strip()]
DURATION = int(os.environ.get("BENCH_DURATION", "10"))
REUSE = os.environ.get("BENCH_REUSE", "") == "1"
VERIFY = os.environ.get("BENCH_VERIFY", "small")
CONNS = [int(c) for c in os.environ.get("BENCH_CONNS", "1,16,64,256,1024").split(",")]

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

# Targets (from the issue).
INGEST_RATIO = 0.50
INGEST_P99_MS = 10.0
METRICS_RATIO = 0.50
METRICS_P99_MS = 5.0
METRICS_AGENT_P99_MS = 20.0
RSS_LIMIT_MB = 64.0
STARTUP_LIMIT_MS = 200.0
EXPORT_ROWS_PER_S = 300000

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

    def stop(self, timeout=300):
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


def wrk(server, name, script, threads, conns, env, duration=None, path="/"):
    """One bounded wrk run; returns the script's BENCH line plus CPU accounting."""
    duration = duration or DURATION
    argv = [WRK, f"-t{threads}", f"-c{conns}", f"-d{duration}s", "--timeout", "10s", "-s",
            os.path.join(HERE, script), server.url + path]
    w0 = writer_stats(server) if script == "post.lua" else None
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
    r.update(name=name, server=server.name, threads=threads, conns=conns, duration_s=duration,
             load_1min_at_start=load,
             machine_cpu_busy_pct=round(100.0 * (busy1 - busy0) / max(1, total1 - total0), 1),
             server_cpu_s=round(srv1 - srv0, 2),
             server_cpu_us_per_req=round(1e6 * (srv1 - srv0) / max(1, r["requests"]), 1))
    r["socket_errors"] = r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["timeouts"]
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
        f"machine busy {r['machine_cpu_busy_pct']}%")
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
        info["reused"] = True
        log(f"reusing {data_dir} ({info})")
    else:
        log(f"generating {n} responses into {data_dir}")
        proc = subprocess.run([sys.executable, os.path.join(HERE, "generate.py"), "--surveyd", SURVEYD,
                               "--data-dir", data_dir, "--count", str(n), "--force", "--no-verify"],
                              stdout=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"bench: generate.py failed for {n}")
        info = json.loads(proc.stdout.strip().splitlines()[-1])
        with open(marker, "w") as f:
            json.dump(info, f)
    if VERIFY == "all" or (VERIFY == "small" and n <= 1000000):
        t = time.monotonic()
        v = subprocess.run([SURVEYD, "verify", "--data-dir", data_dir], capture_output=True, text=True)
        out = (v.stdout + v.stderr).strip().splitlines()
        info["verify"] = out[-1] if out else ""
        info["verify_exit"] = v.returncode
        info["verify_s"] = round(time.monotonic() - t, 1)
        log(f"verify {label(n)}: {info['verify']} ({info['verify_s']} s)")
        if v.returncode != 0:
            results["problems"].append(f"surveyd verify failed on the {label(n)} data: {out[-5:]}")
    return data_dir, info


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


def bench_size(n, data_dir, headline):
    db_path = os.path.join(data_dir, "surveyd.db")
    s = {"n": n, "db_bytes": sum(os.path.getsize(p) for p in glob.glob(os.path.join(data_dir, "surveyd.db*")))}
    s["startup"] = measure_startup(data_dir, n)
    rows_before = sqlite_count(db_path)
    s["rows_before"] = rows_before

    server = start_surveyd(f"surveyd-{label(n)}", data_dir)
    read_env = {"BENCH_TOKEN": READ}
    m = {}
    if headline or n == min(SIZES):
        m["cached"] = wrk(server, f"metrics cached {label(n)}", "metrics.lua", 2, 64,
                          dict(read_env, BENCH_MODE="cached"))
    for mode in ("plain", "agent", "by_agent", "partial"):
        m[mode] = wrk(server, f"metrics {mode} {label(n)}", "metrics.lua", 1, 2, dict(read_env, BENCH_MODE=mode))
    s["metrics"] = m
    if headline:
        s["metrics_by_length"] = {}
        for mode in ("plain", "agent"):
            for length in (1, 7, 30, 90, 365):
                s["metrics_by_length"][f"{mode} {length}"] = wrk(
                    server, f"metrics {mode} {length}-day windows {label(n)}", "metrics.lua", 1, 2,
                    dict(read_env, BENCH_MODE=mode, BENCH_LENGTH=str(length)), duration=max(3, DURATION // 2))

    if headline:
        s["export"] = export(server, n, rows_before)
    elif n == min(SIZES):
        s["export"] = export(server, n, rows_before)
        s["export"]["csv_rows_counted"] = check_export_rows(server, n)

    ids_prefix = os.path.join(OUT, f"{RUN_TAG}-ids-{label(n)}")
    ingest = {}
    conn_list = CONNS if headline else [64]
    for conns in [64] + [c for c in conn_list if c != 64]:
        env = {"BENCH_TOKEN": INGEST, "BENCH_RUN": f"{RUN_TAG}-{label(n)}-{conns}",
               "BENCH_IDS": f"{ids_prefix}-{conns}"}
        ingest[conns] = wrk(server, f"ingest {label(n)} c{conns}", "post.lua", 1 if conns == 1 else 2, conns, env)
    s["ingest"] = ingest

    s["vm_hwm_kb"] = server.status("VmHWM")
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


def yes(ok):
    return "**yes**" if ok else "**no**"


def report(info):
    big = max(SIZES)
    S = results["sizes"]
    h = S[str(big)]
    b = results["baseline"]
    lines = []
    add = lines.append
    hl = label(big)
    add(f"### surveyd benchmark {RUN_TAG}")
    add("")
    add(f"Machine: {info['nproc']} cores ({info['cpu']}), {info['mem_gb']} GiB RAM, kernel {info['kernel']}; "
        f"disk `{info['df']}`. Load average before the run: {info['load_before']}. wrk and the server share "
        f"the same {info['nproc']} cores. Each wrk run lasts {DURATION} s. surveyd at commit {info['commit']} "
        f"(release build).")
    add("")
    add("| target | measured | baseline (bare libmicrohttpd) | ratio or limit | met |")
    add("|---|---|---|---|---|")
    bp, bg = b["post"], b["get"]
    add(f"| Baseline POST, 64 connections (reads the body, 202, stores nothing) | – | {fmt(bp['rps'])} req/s, "
        f"p99 {bp['p99_ms']:.2f} ms | – | – |")
    add(f"| Baseline GET, 64 connections (fixed small JSON) | – | {fmt(bg['rps'])} req/s, p99 {bg['p99_ms']:.2f} ms "
        f"| – | – |")
    ing = h["ingest"][64]
    ratio = ing["rps"] / bp["rps"]
    add(f"| Durable ingest (POST, 64 keep-alive connections, synchronous=FULL, {hl} stored): requests/s "
        f"| {fmt(ing['rps'])} req/s | {fmt(bp['rps'])} req/s | {ratio:.2f} (≥ {INGEST_RATIO:.2f}) "
        f"| {yes(ratio >= INGEST_RATIO)} |")
    add(f"| Durable ingest p99 latency | {ing['p99_ms']:.2f} ms (p50 {ing['p50_ms']:.2f}) | "
        f"{bp['p99_ms']:.2f} ms | ≤ {INGEST_P99_MS:g} ms | {yes(ing['p99_ms'] <= INGEST_P99_MS)} |")
    d = h["durability"]
    add(f"| Every 201'd response on disk (all ingest runs at {hl}: 201s counted in wrk's response(), surveyd "
        f"stopped, rows counted with sqlite3) | {fmt(d['wrk_201s'])} 201s seen by wrk, all {fmt(d['ids_distinct'])} of "
        f"their ids in the database; rows added {fmt(d['rows_added'])} = {fmt(d['server_logged_201s'])} 201s in surveyd's "
        f"log + {d['server_logged_aborted']} committed for connections wrk closed at its stop (logged as status 0) "
        f"| – | must match | {yes(d['ok'])} |")
    mc = h["metrics"]["cached"]
    ratio = mc["rps"] / bg["rps"]
    add(f"| Metrics GET, repeated (cached), 64 connections, {hl} stored: requests/s | {fmt(mc['rps'])} req/s "
        f"| {fmt(bg['rps'])} req/s | {ratio:.2f} (≥ {METRICS_RATIO:.2f}) | {yes(ratio >= METRICS_RATIO)} |")
    for mode, what, limit in (("plain", "distinct uncached queries, no agent filter", METRICS_P99_MS),
                              ("agent", "distinct uncached queries, agent filter", METRICS_AGENT_P99_MS),
                              ("by_agent", "distinct uncached queries, group_by=agent", METRICS_AGENT_P99_MS)):
        r = h["metrics"][mode]
        add(f"| Metrics p99, {what} ({hl}; wrk -t1 -c2) | {r['p99_ms']:.2f} ms (p50 {r['p50_ms']:.2f}, "
            f"{fmt(r['rps'])} req/s) | – | ≤ {limit:g} ms | {yes(r['p99_ms'] <= limit)} |")
    rss = max(S[k]["vm_hwm_kb"] for k in S if int(k) == big) / 1024
    add(f"| Peak RSS (VmHWM) of surveyd through every run at {hl} stored (metrics, export, ingest at "
        f"{','.join(map(str, CONNS))} connections) | {rss:.1f} MB | {b['vm_hwm_kb'] / 1024:.1f} MB | "
        f"≤ {RSS_LIMIT_MB:g} MB | {yes(rss <= RSS_LIMIT_MB)} |")
    st = h["startup"]
    cold = f"; after dropping the page cache {st['cold_ms']} ms" if st.get("cold_ms") else ""
    add(f"| Start-up to first 200 from /readyz, {hl} stored (median of {len(st['tries_ms'])}; max) "
        f"| {st.get('median_ms')} ms (max {st.get('max_ms')} ms{cold}) | – | ≤ {STARTUP_LIMIT_MS:g} ms "
        f"| {yes(st.get('max_ms') is not None and st['max_ms'] <= STARTUP_LIMIT_MS)} |")
    ex = h["export"]
    add(f"| CSV export of all {fmt(ex['rows'])} rows ({hl} db; curl -o /dev/null) | {fmt(ex['rows_per_s'])} rows/s "
        f"({ex['seconds']:.1f} s, {ex['bytes'] / 1e6:,.0f} MB) | – | ≥ {EXPORT_ROWS_PER_S:,} rows/s "
        f"| {yes(ex['rows_per_s'] >= EXPORT_ROWS_PER_S and ex['status'] == 200)} |")
    g = results["generated"][str(big)]
    add(f"| Generate {hl} responses (generate.py, straight into SQLite) | {g['seconds']:.0f} s (rows "
        f"{g['rows_s']:.0f} s, rollups {g['rollups_s']:.0f} s, indexes {g['indexes_s']:.0f} s{', reused' if g.get('reused') else ''}) "
        f"| – | a few minutes | {yes(g['seconds'] <= 300)} |")
    verified = [f"{label(int(k))}: {v['verify']}" for k, v in results["generated"].items() if v.get("verify")]
    if verified:
        ok = all(v.get("verify_exit") == 0 for v in results["generated"].values() if v.get("verify"))
        add(f"| `surveyd verify` on the generated data | {'; '.join(verified)} | – | consistent | {yes(ok)} |")
    runs = [r for r in results["runs"] if r["server"] != "baseline"]
    non2xx = sum(r["non2xx"] for r in runs)
    sock = sum(r["socket_errors"] for r in runs)
    tmo = sum(r["timeouts"] for r in runs)
    add(f"| Errors under load, all surveyd runs | {non2xx} non-2xx, {sock} socket errors (of which {tmo} timeouts) "
        f"| {sum(r['non2xx'] + r['socket_errors'] for r in results['runs'] if r['server'] == 'baseline')} | 0 "
        f"| {yes(non2xx == 0 and sock == 0)} |")
    add("")

    add("#### Ingest (POST, 64 connections, synchronous=FULL) by stored responses")
    add("")
    add("| stored | req/s | ratio to baseline | p50 ms | p99 ms | max ms | surveyd CPU µs/req | machine busy | writer: avg batch, avg commit, busy | non-2xx | socket errors |")
    add("|---|---|---|---|---|---|---|---|---|---|---|")
    for n in SIZES:
        r = S[str(n)]["ingest"][64]
        add(f"| {label(n)} | {fmt(r['rps'])} | {r['rps'] / bp['rps']:.2f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} "
            f"| {r['max_ms']:.1f} | {r['server_cpu_us_per_req']:.0f} | {r['machine_cpu_busy_pct']:.0f}% | {writer_cell(r)} "
            f"| {r['non2xx']} | {r['socket_errors']} |")
    add(f"| baseline | {fmt(bp['rps'])} | 1.00 | {bp['p50_ms']:.2f} | {bp['p99_ms']:.2f} | {bp['max_ms']:.1f} "
        f"| {bp['server_cpu_us_per_req']:.0f} | {bp['machine_cpu_busy_pct']:.0f}% | – | {bp['non2xx']} | {bp['socket_errors']} |")
    add("")
    add(f"#### Ingest by connections ({hl} stored)")
    add("")
    add("| connections | wrk threads | req/s | ratio to baseline (64 c.) | p50 ms | p99 ms | max ms | surveyd CPU µs/req | writer: avg batch, avg commit, busy | non-2xx | socket errors (timeouts) |")
    add("|---|---|---|---|---|---|---|---|---|---|---|")
    for c in sorted(h["ingest"]):
        r = h["ingest"][c]
        add(f"| {c} | {r['threads']} | {fmt(r['rps'])} | {r['rps'] / bp['rps']:.2f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} "
            f"| {r['max_ms']:.1f} | {r['server_cpu_us_per_req']:.0f} | {writer_cell(r)} | {r['non2xx']} "
            f"| {r['socket_errors']} ({r['timeouts']}) |")
    add("")
    add("#### Metrics latency by stored responses (distinct uncached queries: wrk -t1 -c2; cached: -t2 -c64)")
    add("")
    add("| stored | queries | req/s | p50 ms | p90 ms | p99 ms | max ms | surveyd CPU µs/req | non-2xx |")
    add("|---|---|---|---|---|---|---|---|---|")
    names = {"cached": "repeated (cached)", "plain": "no agent filter", "agent": "agent filter",
             "by_agent": "group_by=agent", "partial": "partial-day edges (RFC 3339 times)"}
    for n in SIZES:
        for mode in ("cached", "plain", "agent", "by_agent", "partial"):
            r = S[str(n)]["metrics"].get(mode)
            if r:
                add(f"| {label(n)} | {names[mode]} | {fmt(r['rps'])} | {r['p50_ms']:.2f} | {r['p90_ms']:.2f} "
                    f"| {r['p99_ms']:.2f} | {r['max_ms']:.1f} | {r['server_cpu_us_per_req']:.0f} | {r['non2xx']} |")
    add("")
    add(f"#### Metrics latency by window length ({hl} stored; distinct uncached queries, wrk -t1 -c2, "
        f"{max(3, DURATION // 2)} s each; channel filters and groupings mixed as above)")
    add("")
    add("| window | no agent filter: p50 ms | p99 ms | req/s | agent filter: p50 ms | p99 ms | req/s |")
    add("|---|---|---|---|---|---|---|")
    for length in (1, 7, 30, 90, 365):
        p = h["metrics_by_length"][f"plain {length}"]
        a = h["metrics_by_length"][f"agent {length}"]
        add(f"| {length} day{'s' if length > 1 else ''} | {p['p50_ms']:.2f} | {p['p99_ms']:.2f} | {fmt(p['rps'])} "
            f"| {a['p50_ms']:.2f} | {a['p99_ms']:.2f} | {fmt(a['rps'])} |")
    add("")
    add("#### Per stored size: start-up, memory, database")
    add("")
    add("| stored | start-up median ms | start-up max ms | peak RSS (VmHWM) MB | threads | database size | generated in | verify |")
    add("|---|---|---|---|---|---|---|---|")
    for n in SIZES:
        s = S[str(n)]
        g = results["generated"][str(n)]
        v = f"{g['verify']} ({g['verify_s']} s)" if g.get("verify") else "not run"
        add(f"| {label(n)} | {s['startup'].get('median_ms')} | {s['startup'].get('max_ms')} | {s['vm_hwm_kb'] / 1024:.1f} "
            f"| {s['threads']} | {s['db_bytes'] / 1e9:.2f} GB | {g['seconds']:.0f} s{' (reused)' if g.get('reused') else ''} | {v} |")
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
