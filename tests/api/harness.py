"""Black-box test harness for the surveyd HTTP daemon.

Only the Python 3.11 standard library is used.  The daemon binary comes from
$SURVEYD_BIN (default: build/server/surveyd relative to the repository root)
and is always bound to 127.0.0.1 with an ephemeral port.

The backend: SQLite in a temporary data directory, or, with
SURVEYD_TEST_BACKEND=postgresql, a fresh database for each Daemon on the
PostgreSQL server whose maintenance database SURVEYD_TEST_POSTGRES names (a
libpq URI; tests/postgres/cluster.sh starts one).  The suite then exits 77
(meson: skipped) when that is unset.  Databases are made and dropped with psql.
"""

import atexit
import collections
import datetime
import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))

BACKEND = os.environ.get("SURVEYD_TEST_BACKEND") or "sqlite"
POSTGRES_URI = os.environ.get("SURVEYD_TEST_POSTGRES") or None
if BACKEND not in ("sqlite", "postgresql"):
    raise RuntimeError("SURVEYD_TEST_BACKEND must be sqlite or postgresql, not %r" % BACKEND)
if BACKEND == "postgresql" and POSTGRES_URI is None:
    # Exit status 77 is meson's "skipped": a plain `meson test` without a server still passes.
    print("SKIP: SURVEYD_TEST_POSTGRES is unset (the URI of a PostgreSQL maintenance database; "
          "deploy/setup.sh test starts one with tests/postgres/cluster.sh)")
    sys.exit(77)

ADMIN_TOKEN = "admin-secret"
READ_TOKEN = "read-secret"
INGEST_TOKEN = "ingest-secret"
INGEST_TOKEN_2 = "ingest-two"
ALL_TOKENS = (ADMIN_TOKEN, READ_TOKEN, INGEST_TOKEN, INGEST_TOKEN_2)

DEFAULT_ENV = {
    "SURVEYD_ADMIN_TOKENS": ADMIN_TOKEN,
    "SURVEYD_READ_TOKENS": READ_TOKEN,
    "SURVEYD_INGEST_TOKENS": INGEST_TOKEN + "," + INGEST_TOKEN_2,
    # Anonymous submissions are rate-limited per address by default (5/s); the suite posts
    # anonymously in bursts from one address, so only the rate-limit tests turn it on.
    "SURVEYD_RATE_LIMIT": "0",
}

DEFAULT_MAX_BODY = 64 * 1024
STARTUP_TIMEOUT = 10.0
STOP_TIMEOUT = 30.0
REQUEST_TIMEOUT = 30.0

LISTEN_RE = re.compile(rb"listening on (127\.0\.0\.1):(\d+)")
RFC3339_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
RFC3339_UTC_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]00:00)$")
RESPONSE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{22,}$")

PROBLEM_CODES = frozenset({
    "invalid_json", "validation_failed", "not_found", "unauthorized",
    "forbidden", "conflict", "payload_too_large", "unsupported_media_type",
    "method_not_allowed", "unavailable", "idempotency_key_reused", "rate_limited",
    "invalid_query", "query_too_complex", "search_unavailable",
    "topic_not_found", "topics_unavailable", "too_many_topics",
    "survey_not_found",
    "invalid_path", "invalid_header", "ambiguous_framing", "unsupported_transfer_coding",
    "public_url_not_configured", "email_not_configured",
    "invalid_webhook", "webhook_url_forbidden", "webhook_url_unresolved", "webhook_not_found",
    "delivery_not_found", "delivery_in_flight",
    "no_nps_question",
})


def _resolve(path, default_base):
    if os.path.isabs(path):
        return path
    cand = os.path.abspath(path)
    if os.path.exists(cand):
        return cand
    return os.path.normpath(os.path.join(default_base, path))


def surveyd_bin():
    env = os.environ.get("SURVEYD_BIN")
    if env:
        return _resolve(env, REPO_ROOT)
    return os.path.join(REPO_ROOT, "build", "server", "surveyd")


def json_suite_dir():
    env = os.environ.get("JSON_TEST_SUITE_DIR")
    if env:
        return _resolve(env, REPO_ROOT)
    return os.path.normpath(os.path.join(
        REPO_ROOT, "..", "shared", "testdata", "JSONTestSuite", "test_parsing"))


def require_binary():
    path = surveyd_bin()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise RuntimeError(
            "surveyd binary not found or not executable at %r "
            "(set SURVEYD_BIN or build with meson/ninja)" % path)
    return path


def proc_status_kib(pid, field):
    """A field of /proc/PID/status in KiB (VmRSS, VmHWM)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s in /proc/%d/status" % (field, pid))


def sqlite_execute(db_path, sql, args=()):
    """Runs one statement on a stopped daemon's database (tests that tamper with it); its row count."""
    conn = sqlite3.connect(db_path)
    try:
        cur = conn.execute(sql, args)
        conn.commit()
        return cur.rowcount
    finally:
        conn.close()


def run_cli(args, timeout=10.0, env=None):
    """Run `surveyd <args>` to completion; return CompletedProcess (bytes)."""
    e = _base_env()
    if env:
        e.update(env)
    return subprocess.run([require_binary()] + _translate_store_args(args),
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=e, timeout=timeout)


def _base_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURVEYD_")}
    return env


def parse_time(s):
    """Parse an RFC 3339 timestamp into an aware datetime."""
    if not isinstance(s, str) or not RFC3339_RE.match(s):
        raise ValueError("not an RFC 3339 timestamp: %r" % (s,))
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def fmt_time(dt):
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


_uid_lock = threading.Lock()
_uid_counter = [0]


def uid(prefix="t"):
    """A fresh id valid for surveys/questions/interactions."""
    with _uid_lock:
        _uid_counter[0] += 1
        n = _uid_counter[0]
    return "%s-%d-%d" % (prefix, os.getpid() % 100000, n)


# --------------------------------------------------------------------------
# HTTP client
# --------------------------------------------------------------------------

Resp = collections.namedtuple("Resp", "status headers body json")


def _parse_json(body):
    if not body:
        return None
    try:
        return json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None


def encode_body(body, headers):
    """Turn a body argument into bytes; fill in Content-Type if absent."""
    if body is None:
        return None
    if isinstance(body, (dict, list)):
        data = json.dumps(body).encode("utf-8")
    elif isinstance(body, str):
        data = body.encode("utf-8")
    elif isinstance(body, (bytes, bytearray)):
        data = bytes(body)
    else:
        raise TypeError("unsupported body type %r" % type(body))
    if not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = "application/json"
    return data


class _Conn(http.client.HTTPConnection):
    """HTTPConnection with TCP_NODELAY (avoids Nagle/delayed-ACK stalls)."""

    def connect(self):
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Client:
    """Tiny HTTP/1.1 client with one keep-alive connection per thread."""

    def __init__(self, host, port, timeout=REQUEST_TIMEOUT):
        self.host = host
        self.port = port
        self.timeout = timeout
        self._local = threading.local()
        self._all = []
        self._all_lock = threading.Lock()

    def _get_conn(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = _Conn(self.host, self.port, timeout=self.timeout)
            with self._all_lock:
                self._all.append(conn)
            self._local.conn = conn
            self._local.used = False
        return conn

    def close(self):
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def close_all(self):
        """Close every connection opened by any thread."""
        with self._all_lock:
            conns, self._all = self._all, []
        for c in conns:
            c.close()

    def req(self, method, path, body=None, headers=None, token=None):
        hdrs = {}
        if token is not None:
            hdrs["Authorization"] = "Bearer " + token
        for k, v in (headers or {}).items():
            hdrs[k] = v
        data = encode_body(body, hdrs)
        hdrs = {k: v for k, v in hdrs.items() if v is not None}
        for attempt in (0, 1):
            conn = self._get_conn()
            reused = self._local.used
            try:
                conn.request(method, path, body=data, headers=hdrs)
                r = conn.getresponse()
                raw = r.read()
            except (http.client.RemoteDisconnected, ConnectionResetError,
                    BrokenPipeError, http.client.BadStatusLine) as exc:
                conn.close()
                self._local.conn = None
                if reused and attempt == 0:
                    continue  # stale keep-alive connection: retry once
                raise
            except Exception:
                conn.close()
                self._local.conn = None
                raise
            self._local.used = True
            if r.will_close:
                conn.close()
                self._local.conn = None
            return Resp(r.status, r.msg, raw, _parse_json(raw))


def raw_request(port, method, path, headers, body_chunks=(), timeout=REQUEST_TIMEOUT):
    """Send a request on a fresh connection, tolerating the server closing
    the connection before the whole body was sent (e.g. an early 413).

    headers: list of (name, value); body_chunks: iterable of bytes sent
    verbatim (the caller does any chunked framing)."""
    conn = _Conn("127.0.0.1", port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for k, v in headers:
            conn.putheader(k, v)
        conn.endheaders()
        try:
            for chunk in body_chunks:
                conn.send(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        r = conn.getresponse()
        raw = r.read()
        return Resp(r.status, r.msg, raw, _parse_json(raw))
    finally:
        conn.close()


def chunked(data, size=8192):
    """Frame bytes as an HTTP/1.1 chunked body (list of wire chunks)."""
    out = []
    for i in range(0, len(data), size):
        part = data[i:i + size]
        out.append(b"%x\r\n" % len(part) + part + b"\r\n")
    out.append(b"0\r\n\r\n")
    return out


# --------------------------------------------------------------------------
# Backends
# --------------------------------------------------------------------------

def is_postgres():
    return BACKEND == "postgresql"


def skip_unless_sqlite(reason):
    """Decorator for a test or a class whose point is SQLite's files themselves; the reason says why
    it does not apply to PostgreSQL."""
    return unittest.skipUnless(BACKEND == "sqlite", "SQLite only: " + reason)


def skip_unless_postgres(reason):
    return unittest.skipUnless(BACKEND == "postgresql", "PostgreSQL only: " + reason)


def postgres_database_uri(name, base=None):
    """The URI of database NAME on the server that BASE (default SURVEYD_TEST_POSTGRES) names."""
    base = base or POSTGRES_URI
    scheme, _, rest = base.partition("://")
    authority, _, path_query = rest.partition("/")
    _, sep, query = path_query.partition("?")
    return "%s://%s/%s%s%s" % (scheme, authority, name, sep, query)


def psql(sql, uri=None, timeout=60.0):
    """Runs SQL through psql on URI (default: the maintenance database); its unaligned output."""
    p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                        "-d", uri or POSTGRES_URI, "-c", sql],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, env=_base_env())
    if p.returncode != 0:
        # The URI is left out on purpose: in general one may hold a password.
        raise AssertionError("psql failed (%d) on %r: %s" % (p.returncode, sql, p.stderr.decode("utf-8", "replace")))
    return p.stdout.decode("utf-8")


_db_lock = threading.Lock()
_db_counter = [0]
_databases = {}     # realpath of a Daemon's data directory -> (database name, URI)


def create_database(prefix="surveyd_t"):
    """A new, empty database on the test server; (name, URI). Names are unique across processes and
    runs (pid, counter, random part), so parallel test files never share one."""
    with _db_lock:
        _db_counter[0] += 1
        n = _db_counter[0]
    name = "%s_%d_%d_%s" % (prefix, os.getpid(), n, os.urandom(4).hex())
    psql("CREATE DATABASE %s" % name)
    return name, postgres_database_uri(name)


def drop_database(name):
    # FORCE: a daemon killed on purpose may leave its connections for the server to notice.
    psql("DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)


def database_for(data_dir, create=True):
    """The PostgreSQL database that stands for DATA_DIR in this process (made on first use), as
    (name, URI); None when there is none and create is false. Two Daemons given the same folder
    share one database, as they would share the SQLite files."""
    key = os.path.realpath(data_dir)
    with _db_lock:
        found = _databases.get(key)
    if found is not None or not create:
        return found
    made = create_database()
    with _db_lock:
        found = _databases.setdefault(key, made)
    if found is not made:
        drop_database(made[0])
    return found


_drops = []         # threads dropping released databases


def _drop_quietly(name):
    try:
        drop_database(name)
    except Exception as exc:  # noqa: BLE001 - cleanup: say it and go on
        print("harness: could not drop database %s: %s" % (name, exc), file=sys.stderr)


def release_database(data_dir):
    """Drops the database that stands for DATA_DIR, if any, on a thread of its own: a drop takes
    seconds on a busy machine (fsync), and nothing waits for it but the end of the process."""
    with _db_lock:
        found = _databases.pop(os.path.realpath(data_dir), None)
    if found is not None:
        t = threading.Thread(target=_drop_quietly, args=(found[0],), daemon=True)
        t.start()
        _drops.append(t)


@atexit.register
def _drop_remaining_databases():
    with _db_lock:
        names = [name for name, _ in _databases.values()]
        _databases.clear()
    for name in names:
        _drop_quietly(name)
    for t in _drops:
        t.join(120)


def _sql_literal(value):
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (bytes, bytearray)):
        return "'\\x%s'::bytea" % bytes(value).hex()
    return "'%s'" % str(value).replace("'", "''")


def _inline_params(sql, args):
    """SQL with each ? outside quotes replaced by ARGS' next value as a literal (psql takes no
    parameters on its command line; the tests' values are their own, not hostile input)."""
    out, args, quote = [], list(args), None
    for ch in sql:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "?":
            out.append(_sql_literal(args.pop(0)))
            continue
        out.append(ch)
    if args:
        raise ValueError("more arguments than ? in %r" % sql)
    return "".join(out)


def db_query(daemon, sql, args=()):
    """Rows (tuples) of a query on a daemon's database, ? for parameters, on either backend. For a
    stopped daemon on SQLite; on PostgreSQL it may be running (MVCC)."""
    if is_postgres():
        wrapped = "SELECT coalesce(json_agg(row_to_json(q)), '[]') FROM (%s) q" % _inline_params(sql, args)
        rows = json.loads(psql(wrapped, uri=daemon.database), object_pairs_hook=lambda pairs: tuple(v for _, v in pairs))
        return [tuple(row) for row in rows]
    conn = sqlite3.connect(daemon.db_path)
    try:
        return [tuple(row) for row in conn.execute(sql, args)]
    finally:
        conn.close()


def db_execute(daemon, sql, args=()):
    """Runs one statement that changes the database (tests that tamper with it); its row count."""
    if is_postgres():
        p = subprocess.run(["psql", "-X", "-v", "ON_ERROR_STOP=1", "-d", daemon.database,
                            "-c", _inline_params(sql, args)],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=60, env=_base_env())
        if p.returncode != 0:
            raise AssertionError("psql failed on %r: %s" % (sql, p.stderr.decode("utf-8", "replace")))
        tag = p.stdout.decode().strip().splitlines()[-1].split()
        return int(tag[-1]) if tag and tag[-1].isdigit() else 0
    return sqlite_execute(daemon.db_path, sql, args)


_ROLLUP_ANSWERS_FROM = re.compile(r"(?<!DELETE )\bFROM (rollup_answers(?:_agent|_month|_hour)?)\b")
ROLLUP_ANSWER_TABLES = ("rollup_answers", "rollup_answers_agent", "rollup_answers_month", "rollup_answers_hour")


def rollup_tamper_sql(sql):
    """Tamper SQL written for SQLite's rollup buckets (one value column), made to mean the same on
    PostgreSQL, whose bucket is (is_text, value, value_text): rows are read from the numeric buckets
    only, where value alone names the bucket. Unchanged on SQLite."""
    if not is_postgres():
        return sql
    return _ROLLUP_ANSWERS_FROM.sub(lambda m: "FROM (SELECT * FROM %s WHERE NOT is_text) AS %s"
                                    % (m.group(1), m.group(1)), sql)


def allow_rollup_tamper(daemon):
    """On PostgreSQL, lets the tamper tests' INSERTs name only SQLite's columns: is_text and
    value_text get defaults for a numeric bucket, in this test's own database only."""
    if is_postgres():
        for table in ROLLUP_ANSWER_TABLES:
            psql("ALTER TABLE %s ALTER COLUMN is_text SET DEFAULT false, ALTER COLUMN value_text SET DEFAULT ''"
                 % table, uri=daemon.database)


def db_dump(daemon):
    """Everything the database holds, as text (SQLite's iterdump, pg_dump's data and schema), for
    tests that check what is not in it."""
    if is_postgres():
        p = subprocess.run(["pg_dump", "--no-owner", "-d", daemon.database], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120, env=_base_env())
        if p.returncode != 0:
            raise AssertionError("pg_dump failed: %s" % p.stderr.decode("utf-8", "replace"))
        return p.stdout.decode("utf-8", "replace")
    conn = sqlite3.connect("file:%s?mode=ro" % daemon.db_path, uri=True)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


def store_args(data_dir):
    """The daemon's arguments that say where its data lives: --data-dir DIR on SQLite; on
    PostgreSQL also --database URI (DIR's database), DIR then holding only a generated admin token."""
    if is_postgres():
        return ["--data-dir", data_dir, "--database", database_for(data_dir)[1]]
    return ["--data-dir", data_dir]


def _translate_store_args(args):
    """On PostgreSQL, `--data-dir DIR` of a folder that has a database gets `--database URI` beside
    it, so that tests calling `surveyd verify --data-dir DIR` work on either backend. Folders without
    one (a restored copy, a missing folder) are left alone."""
    if not is_postgres():
        return list(args)
    out = []
    args = list(args)
    i = 0
    while i < len(args):
        if args[i] == "--data-dir" and i + 1 < len(args):
            found = database_for(args[i + 1], create=False)
            if found is not None:
                out += args[i:i + 2] + ["--database", found[1]]
                i += 2
                continue
        out.append(args[i])
        i += 1
    return out


# --------------------------------------------------------------------------
# Daemon
# --------------------------------------------------------------------------

class Daemon:
    """The real surveyd binary, serving on 127.0.0.1:<ephemeral>."""

    def __init__(self, data_dir=None, env=None, extra_args=(), database=None):
        """database: a PostgreSQL URI of the test's own choosing (another server than the suite's);
        otherwise the backend's usual place for data_dir (see store_args)."""
        self.binary = require_binary()
        self._own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="surveyd-api-")
        self._database = database
        self.env_overrides = dict(env or {})
        self.extra_args = list(extra_args)
        self.proc = None
        self.port = None
        self.client = None
        self._buf = bytearray()       # stderr of all runs (this object)
        self._run_start = 0           # offset of the current run in _buf
        self._stdout = bytearray()
        self._cond = threading.Condition()
        self._threads = []

    # -- environment ------------------------------------------------------
    def _env(self):
        env = _base_env()
        env.update(DEFAULT_ENV)
        for k, v in self.env_overrides.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        return env

    @property
    def db_path(self):
        return os.path.join(self.data_dir, "surveyd.db")

    # -- lifecycle --------------------------------------------------------
    def _drain(self, stream, buf):
        while True:
            chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(4096)
            if not chunk:
                break
            with self._cond:
                buf.extend(chunk)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def start(self):
        assert not self.running, "daemon already running"
        where = ["--database", self._database] if self._database else store_args(self.data_dir)
        argv = [self.binary, "serve", "--listen", "127.0.0.1:0"] + where + self.extra_args
        with self._cond:
            self._run_start = len(self._buf)
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=self._env())
        self._threads = [
            threading.Thread(target=self._drain, args=(self.proc.stderr, self._buf), daemon=True),
            threading.Thread(target=self._drain, args=(self.proc.stdout, self._stdout), daemon=True),
        ]
        for t in self._threads:
            t.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        m = None
        with self._cond:
            while True:
                m = LISTEN_RE.search(bytes(self._buf[self._run_start:]))
                if m:
                    break
                if self.proc.poll() is not None and not any(t.is_alive() for t in self._threads[:1]):
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.2))
        if not m:
            rc = self.proc.poll()
            if rc is None:
                self.proc.kill()
            self._reap(STOP_TIMEOUT)
            err = self.run_stderr()
            self.proc = None
            raise AssertionError(
                "surveyd did not report 'listening on 127.0.0.1:PORT' within "
                "%.0fs (exit code %r). argv=%r\n--- stderr ---\n%s"
                % (STARTUP_TIMEOUT, rc, argv, err))
        self.port = int(m.group(2))
        self.client = Client("127.0.0.1", self.port)
        return self

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _reap(self, timeout):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("surveyd did not exit within %.0fs of SIGTERM\n"
                                 "--- stderr ---\n%s" % (timeout, self.run_stderr()[-4000:]))
        for t in self._threads:
            t.join(5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()
        if self.client is not None:
            self.client.close_all()
        return rc

    def stop(self, timeout=STOP_TIMEOUT, check=True):
        """SIGTERM and wait; asserts exit status 0 unless check=False."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self._reap(timeout)
        self.proc = None
        if check and rc != 0:
            raise AssertionError("surveyd exited with status %r after SIGTERM\n"
                                 "--- stderr ---\n%s" % (rc, self.run_stderr()[-4000:]))
        return rc

    def kill(self):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        rc = self._reap(STOP_TIMEOUT)
        self.proc = None
        return rc

    def restart(self):
        if self.running:
            self.stop()
        self.proc = None
        return self.start()

    def cleanup(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream:
                    stream.close()
        self.proc = None
        if self.client is not None:
            self.client.close_all()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            release_database(self.data_dir)

    def __enter__(self):
        if not self.running:
            self.start()
        return self

    def __exit__(self, *exc):
        self.cleanup()
        return False

    # -- logs -------------------------------------------------------------
    def stderr_text(self):
        """All stderr captured from every run of this Daemon object."""
        with self._cond:
            return bytes(self._buf).decode("utf-8", "replace")

    def run_stderr(self):
        with self._cond:
            return bytes(self._buf[self._run_start:]).decode("utf-8", "replace")

    def stdout_text(self):
        with self._cond:
            return bytes(self._stdout).decode("utf-8", "replace")

    def wait_for_log(self, predicate, timeout=5.0):
        """Wait until predicate(line) is true for some stderr line; return it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                text = bytes(self._buf).decode("utf-8", "replace")
                for line in text.splitlines():
                    if predicate(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(min(left, 0.1))

    # -- convenience ------------------------------------------------------
    def req(self, *a, **kw):
        return self.client.req(*a, **kw)

    @property
    def database(self):
        """The PostgreSQL URI of this daemon's database (made on first use); None on SQLite."""
        if self._database:
            return self._database
        return database_for(self.data_dir)[1] if is_postgres() else None

    def count_rows(self, survey):
        """Count rows in responses for a survey, reading a copy of the db
        files (daemon should be stopped first); on PostgreSQL, a query."""
        if is_postgres():
            sql = "SELECT COUNT(*) FROM responses WHERE survey = '%s'" % survey.replace("'", "''")
            return int(psql(sql, uri=self.database).strip())
        tmp = tempfile.mkdtemp(prefix="surveyd-dbcopy-")
        try:
            for suffix in ("", "-wal", "-shm"):
                src = self.db_path + suffix
                if os.path.exists(src):
                    shutil.copy2(src, os.path.join(tmp, "surveyd.db" + suffix))
            conn = sqlite3.connect(os.path.join(tmp, "surveyd.db"))
            try:
                return conn.execute("SELECT COUNT(*) FROM responses WHERE survey = ?",
                                    (survey,)).fetchone()[0]
            finally:
                conn.close()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------
# Base test case
# --------------------------------------------------------------------------

class BaseAPITest(unittest.TestCase):
    """Starts one daemon per test class."""

    daemon_env = {}
    daemon_args = ()
    maxDiff = 4000

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.daemon = Daemon(env=cls.daemon_env, extra_args=cls.daemon_args)
        cls.addClassCleanup(cls.daemon.cleanup)
        cls.daemon.start()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.daemon.stop()
        finally:
            super().tearDownClass()

    # -- requests ---------------------------------------------------------
    def req(self, method, path, body=None, headers=None, token=None):
        return self.daemon.client.req(method, path, body=body, headers=headers, token=token)

    def put_survey(self, survey_id, definition, token=ADMIN_TOKEN, expect=(200, 201)):
        r = self.req("PUT", "/v1/surveys/" + survey_id, definition, token=token)
        if expect is not None:
            self.assertIn(r.status, expect,
                          "PUT /v1/surveys/%s -> %d %r" % (survey_id, r.status, r.body[:500]))
        return r

    def new_survey(self, definition=None, prefix="s", **extra):
        """Create a survey with a fresh id; returns the id."""
        sid = uid(prefix)
        d = dict(definition or simple_definition())
        d.update(extra)
        r = self.put_survey(sid, d)
        self.assertEqual(r.status, 201, r.body[:500])
        return sid

    def post_response(self, survey, body, token=INGEST_TOKEN, headers=None):
        return self.req("POST", "/v1/surveys/%s/responses" % survey, body,
                        headers=headers, token=token)

    def post_ok(self, survey, body, token=INGEST_TOKEN, headers=None):
        r = self.post_response(survey, body, token=token, headers=headers)
        self.assertEqual(r.status, 201, "POST response -> %d %r" % (r.status, r.body[:800]))
        self.assertTrue(r.headers.get("X-Request-Id"), "no X-Request-Id on 201")
        return r

    def get_response(self, rid, token=READ_TOKEN):
        return self.req("GET", "/v1/responses/" + rid, token=token)

    # -- assertions -------------------------------------------------------
    def assertProblem(self, resp, status, code):
        msg = "%d %r" % (resp.status, resp.body[:800])
        self.assertEqual(resp.status, status, msg)
        ctype = (resp.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        self.assertEqual(ctype, "application/problem+json", msg)
        j = resp.json
        self.assertIsInstance(j, dict, msg)
        self.assertIsInstance(j.get("status"), int, msg)
        self.assertNotIsInstance(j.get("status"), bool, msg)
        self.assertEqual(j["status"], status, msg)
        self.assertIsInstance(j.get("title"), str, msg)
        self.assertIsInstance(j.get("detail"), str, msg)
        self.assertEqual(j.get("code"), code, msg)
        self.assertIn(code, PROBLEM_CODES)
        self.assertTrue(resp.headers.get("X-Request-Id"), "no X-Request-Id on " + msg)
        if status == 401:
            www = resp.headers.get("WWW-Authenticate") or ""
            self.assertTrue(www.startswith("Bearer"),
                            "401 needs 'WWW-Authenticate: Bearer...', got %r" % www)
        return j

    def assertValidation(self, resp, *fields, exact=False):
        """422 validation_failed; each expected field appears in errors[].
        A field ending in '*' matches by prefix. Returns the list of fields."""
        j = self.assertProblem(resp, 422, "validation_failed")
        errs = j.get("errors")
        self.assertIsInstance(errs, list, j)
        self.assertGreaterEqual(len(errs), 1, j)
        got = []
        for e in errs:
            self.assertIsInstance(e, dict, j)
            self.assertIsInstance(e.get("field"), str, j)
            self.assertIsInstance(e.get("message"), str, j)
            got.append(e["field"])
        for f in fields:
            if f.endswith("*"):
                self.assertTrue(any(g.startswith(f[:-1]) for g in got),
                                "no error field matching %r in %r" % (f, got))
            else:
                self.assertIn(f, got, "error fields %r lack %r" % (got, f))
        if exact:
            self.assertEqual(len(got), len(fields), got)
        return got

    def assertRFC3339UTC(self, value):
        self.assertIsInstance(value, str)
        self.assertRegex(value, RFC3339_UTC_RE)
        parse_time(value)

    def assertRFC3339(self, value):
        self.assertIsInstance(value, str)
        self.assertRegex(value, RFC3339_RE)
        parse_time(value)

    def assertSameInstant(self, a, b):
        self.assertEqual(parse_time(a), parse_time(b), "%r vs %r" % (a, b))


# What schemas 012 and 013 (the text index, its language) add, undone: for tests that turn a
# database back into an older version to check a migration.
TEXT_INDEX_DOWNGRADE = (
    # schemas 016 and 015 (topic rollups) and 014 (topics) first: they sit on top of the text index's.
    "DROP TABLE rollup_topic_answers_month", "DROP TABLE rollup_topic_responses_month",
    "DROP TRIGGER response_topics_rollup_insert", "DROP TRIGGER response_topics_rollup_delete",
    "DROP TRIGGER responses_topics_delete", "DROP TRIGGER responses_topics_update",
    "DROP TABLE rollup_topic_answers", "DROP TABLE rollup_topic_responses",
    "DROP TABLE response_topics", "DROP TABLE topics",
    "DROP TRIGGER responses_text_insert", "DROP TRIGGER responses_text_update_old",
    "DROP TRIGGER responses_text_update_new", "DROP TRIGGER responses_text_delete",
    "DROP TABLE response_text_index", "DROP TABLE text_pending", "DROP VIEW response_documents",
    "DROP TABLE text_index_settings",
)

# The same for PostgreSQL's migrations from 006 on (topics, then 007: the text index), for tests that
# make a database an older version again: back to version 5.
# PostgreSQL's schemas 9 and 8 (the topics' rollups): back to version 7.
PG_TOPIC_ROLLUPS_DOWNGRADE = (
    "DROP TABLE rollup_topic_answers_month", "DROP TABLE rollup_topic_responses_month",
    "DROP TRIGGER topic_answers_month ON rollup_topic_answers",
    "DROP TRIGGER topic_responses_month ON rollup_topic_responses",
    "DROP FUNCTION topic_answers_month_trigger()", "DROP FUNCTION topic_responses_month_trigger()",
    "DROP FUNCTION topic_month_of(bigint)",
    "DROP TABLE rollup_topic_answers", "DROP TABLE rollup_topic_responses",
    "DROP TRIGGER response_topics_added ON response_topics", "DROP TRIGGER response_topics_removed ON response_topics",
    "DROP FUNCTION topic_rollups_added()", "DROP FUNCTION topic_rollups_removed()",
    "ALTER TABLE topics DROP COLUMN cursor_seq", "ALTER TABLE topics DROP COLUMN cursor_end",
)
POSTGRES_TEXT_DOWNGRADE = PG_TOPIC_ROLLUPS_DOWNGRADE + (
    "DROP TABLE text_answers", "DROP TABLE text_index_settings",
    "DROP TABLE response_topics", "DROP TABLE topics",
)
# PostgreSQL's schemas 8 and 7 (schema/postgres/007_text_index.sql): back to version 6.
PG_TEXT_INDEX_DOWNGRADE = PG_TOPIC_ROLLUPS_DOWNGRADE + ("DROP TABLE text_answers", "DROP TABLE text_index_settings")


def simple_definition(public=False, **extra):
    d = {
        "title": "Simple survey",
        "public": public,
        "questions": [
            {"id": "nps", "type": "nps", "text": "How likely are you to recommend us?"},
            {"id": "comment", "type": "text"},
        ],
    }
    d.update(extra)
    return d


def run_threads(n, fn):
    """Run fn(i) in n threads concurrently; return the list of results,
    re-raising the first exception."""
    results = [None] * n
    errors = []

    def wrap(i):
        try:
            results[i] = fn(i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=wrap, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    if errors:
        raise errors[0]
    return results
