"""What every benchmark and resilience run needs: a throwaway portal in front of a simulator.

    with Stack(workers=2) as stack:     # database, env, migrate, simulator, seed, gunicorn
        stack.wrk(stack.url("/bench/ceiling.json"), seconds=5)

- Database: a PostgreSQL database named for this run when PostgreSQL (127.0.0.1:5432, user
  postgres) and Redis (127.0.0.1:6379) both answer, with Redis as the cache under a run-specific
  key prefix; else a temporary SQLite file and the local-memory cache (said in the output).
  `BENCH_BACKEND=sqlite` forces the fallback.
- The environment is written to os.environ (inherited by gunicorn), Django is set up in this
  process too (seeding, in-process measurements), and the database is migrated.
- The simulator (bench/simserver.py) and gunicorn run as subprocesses on free loopback ports.
- Teardown (in `__exit__`, at exit and on SIGTERM/SIGINT/SIGALRM) stops every process started
  here, drops the database and deletes the run's Redis keys.

Everything talks to 127.0.0.1 only. `time_limit(seconds)` bounds a script's run.
"""

from __future__ import annotations

import atexit
import contextlib
import http.client as httplib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PYTHON = str(REPO / ".venv" / "bin" / "python")
if not Path(PYTHON).exists():  # run with another interpreter (e.g. already inside the venv)
    PYTHON = sys.executable
sys.path.insert(0, str(REPO))

HOST = "127.0.0.1"
SERVICE = "c-face-edge"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_PORT = 6379


def nproc() -> int:
    return len(os.sched_getaffinity(0))


def log(message: str) -> None:
    print(message, flush=True)


# ---------------------------------------------------------------------------- run-time bound


class TimeLimitExceeded(Exception):
    pass


def time_limit(seconds: int) -> None:
    """Ends the script (through its `finally` blocks and teardown) after `seconds`."""

    def expired(*_args: object) -> None:
        raise TimeLimitExceeded(f"run-time limit of {seconds} s exceeded")

    signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)


def _terminate_on_signals() -> None:
    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop)


# ---------------------------------------------------------------------------- small helpers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _port_answers(port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


def redis_answers(port: int = REDIS_PORT) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def postgres_answers() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=2):
            return True
    except Exception:
        return False


@dataclass
class Answer:
    status: int
    body: bytes
    seconds: float
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    port: int,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: Any = None,
    timeout: float = 30.0,
) -> Answer:
    """One request to 127.0.0.1:port on a fresh connection."""
    data = None if body is None else json.dumps(body).encode()
    hdrs = dict(headers or {})
    if data is not None:
        hdrs.setdefault("Content-Type", "application/json")
    started = time.perf_counter()
    conn = httplib.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=data, headers=hdrs)
        response = conn.getresponse()
        payload = response.read()
        return Answer(
            response.status,
            payload,
            time.perf_counter() - started,
            {k.lower(): v for k, v in response.getheaders()},
        )
    finally:
        conn.close()


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def query_count(client: Any, path: str, *, warm: int = 3) -> int:
    """SQL queries of one warm request through Django's test `client` (after `warm` unmeasured
    ones)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(warm):
        assert client.get(path).status_code == 200, path
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    # Read now: the next request's `request_started` empties the connection's query log.
    count = len(queries.captured_queries)
    assert response.status_code == 200, (path, response.status_code)
    return count


def timed(client: Any, path: str, samples: int) -> list[float]:
    """Milliseconds each of `samples` requests of `path` through Django's test `client` took."""
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        client.get(path)
        times.append((time.perf_counter() - started) * 1000)
    return times


# ---------------------------------------------------------------------------- processes


def children_of(pid: int) -> list[int]:
    """Direct children of `pid` (gunicorn's workers, given its master)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        # The command name may contain spaces; the fields after its ")" are fixed.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry))
    return sorted(found)


def peak_rss_kib(pid: int) -> int:
    """VmHWM: the peak resident set size of `pid` since it started (KiB)."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
    return inodes


def pids_connected_to(port: int, candidates: list[int]) -> list[int]:
    """Which of `candidates` hold an established TCP connection to 127.0.0.1:`port`."""
    remote = f"{port:04X}"
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as fh:
            next(fh)
            for line in fh:
                parts = line.split()
                if parts[2].rsplit(":", 1)[1] == remote and parts[3] == "01":  # ESTABLISHED
                    inodes.add(parts[9])
    return [pid for pid in candidates if _socket_inodes(pid) & inodes]


def _stop_process(proc: subprocess.Popen, *, grace: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait(timeout=5)


# ---------------------------------------------------------------------------- wrk


def ensure_wrk() -> str:
    """Path to wrk, installing Debian's package when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    log("wrk is missing: installing Debian's package (apt-get install wrk)")
    subprocess.run(
        "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk",
        shell=True,
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=300,
    )
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk could not be installed")
    return found


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"unparsable wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx/3xx answers plus socket errors other than closed connections


def wrk(
    url: str,
    *,
    seconds: float,
    connections: int = 8,
    threads: int = 2,
    headers: dict[str, str] | None = None,
) -> WrkResult:
    cmd = [ensure_wrk(), f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
    cmd += ["--timeout", "10s"]
    for name, value in (headers or {}).items():
        cmd += ["-H", f"{name}: {value}"]
    cmd.append(url)
    out = subprocess.run(
        cmd, capture_output=True, text=True, check=True, timeout=seconds + 30
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        errors += int(non2xx.group(1))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        errors += int(sock.group(1)) + int(sock.group(3)) + int(sock.group(4))
    return WrkResult(rps, p50, p99, requests, errors)


@dataclass
class Comparison:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    rounds: list[WrkResult]


def interleaved(
    targets: dict[str, tuple[str, dict[str, str]]],
    *,
    rounds: int,
    seconds: float,
    connections: int = 8,
) -> dict[str, Comparison]:
    """Runs wrk on each target in turn, `rounds` times (A B A B …); medians per target."""
    results: dict[str, list[WrkResult]] = {name: [] for name in targets}
    for _round in range(rounds):
        for name, (url, headers) in targets.items():
            results[name].append(
                wrk(url, seconds=seconds, connections=connections, headers=headers)
            )
    return {
        name: Comparison(
            name,
            median([r.rps for r in runs]),
            median([r.p50_ms for r in runs]),
            median([r.p99_ms for r in runs]),
            sum(r.errors for r in runs),
            runs,
        )
        for name, runs in results.items()
    }


# ---------------------------------------------------------------------------- the stack

_live: list[Stack] = []


def _teardown_all() -> None:
    for stack in list(_live):
        stack.stop()


atexit.register(_teardown_all)


class Stack:
    """A throwaway portal: database, cache, simulator and (unless `workers=0`) gunicorn."""

    def __init__(
        self,
        *,
        workers: int | None = None,
        sim_delay_ms: int = 0,
        extra_tasks: int = 0,
        cache_ttl: int = 30,
        upstream_timeout: str = "3,10",
        env: dict[str, str] | None = None,
        need_shared_cache: bool = False,
        private_redis: bool = False,
    ) -> None:
        self.workers = nproc() if workers is None else workers
        self.sim_delay_ms = sim_delay_ms
        self.extra_tasks = extra_tasks
        self.cache_ttl = cache_ttl
        self.upstream_timeout = upstream_timeout
        self.extra_env = env or {}
        self.need_shared_cache = need_shared_cache
        #: A redis-server of this run's own (free port, no persistence) that the run may stop.
        self.private_redis = private_redis
        self.redis_port = REDIS_PORT
        self.redis_proc: subprocess.Popen | None = None
        self.run_id = f"vasbench_{os.getpid()}_{int(time.time())}"
        self.backend = "?"
        self.db_name: str | None = None
        self.tmpdir: str | None = None
        self.redis_prefix: str | None = None
        # BENCH_REDIS_DB, BENCH_DB_NAME, BENCH_PORT, BENCH_SIM_PORT: the names and ports an engineer
        # was given on a shared machine (else a run-specific database, Redis db and free ports).
        self.redis_db = int(os.environ.get("BENCH_REDIS_DB") or os.getpid() % 15 + 1)
        self.sim_proc: subprocess.Popen | None = None
        self.gunicorn_proc: subprocess.Popen | None = None
        self.sim_port = 0
        self.port = 0
        self.gunicorn_log: Path | None = None
        self.token = ""
        self.browser_cookies = ""
        self.user = None
        self.project = None
        self._stopped = False

    # -- lifecycle

    def __enter__(self) -> Stack:
        _terminate_on_signals()
        _live.append(self)
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if self.private_redis:
            self.redis_port = free_port()
            self.redis_db = 0
            self.start_redis()
        self._choose_backend()
        self._write_env()
        self._setup_django()
        self.start_simulator()
        self._seed()
        if self.workers:
            self.start_gunicorn()

    def _choose_backend(self) -> None:
        forced = os.environ.get("BENCH_BACKEND", "").lower()
        if forced != "sqlite" and postgres_answers() and redis_answers(self.redis_port):
            import psycopg

            self.db_name = os.environ.get("BENCH_DB_NAME") or self.run_id
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{self.db_name}"')
            self.redis_prefix = self.run_id
            self.backend = "PostgreSQL + Redis"
            self.database_url = f"postgres://postgres@127.0.0.1:5432/{self.db_name}"
            self.cache_url = f"redis://127.0.0.1:{self.redis_port}/{self.redis_db}"
        else:
            self.tmpdir = tempfile.mkdtemp(prefix="vasbench-")
            self.backend = "SQLite + local memory (PostgreSQL or Redis not answering)"
            if forced == "sqlite":
                self.backend = "SQLite + local memory (BENCH_BACKEND=sqlite)"
            self.database_url = f"sqlite:///{self.tmpdir}/bench.sqlite3"
            self.cache_url = "locmemcache://"
            if self.workers > 1:  # a per-process cache: one process with threads (gunicorn.conf.py)
                self.workers = 1

    def start_redis(self) -> None:
        """Starts (again) the private redis-server, empty."""
        cmd = ["redis-server", "--port", str(self.redis_port), "--bind", HOST, "--save", ""]
        cmd += ["--appendonly", "no"]
        self.redis_proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        self._wait_until(lambda: redis_answers(self.redis_port), "the private redis-server")

    def stop_redis(self) -> None:
        """Kills the private redis-server (as a crash would)."""
        if self.redis_proc is not None:
            self.redis_proc.kill()
            self.redis_proc.wait(timeout=10)
            self.redis_proc = None

    @property
    def shared_cache(self) -> bool:
        return self.redis_prefix is not None

    def _write_env(self) -> None:
        from cryptography.fernet import Fernet

        self.ceiling_json_path = Path(tempfile.mkstemp(prefix="vasbench-", suffix=".json")[1])
        self.ceiling_html_path = Path(tempfile.mkstemp(prefix="vasbench-", suffix=".html")[1])
        env = {
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "PORTAL_CREDENTIALS_KEYS": Fernet.generate_key().decode(),
            "PORTAL_HTTPS": "false",
            "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            "DATABASE_URL": self.database_url,
            "CACHE_URL": self.cache_url,
            "CACHE_KEY_PREFIX": self.run_id,
            "PORTAL_UPSTREAM_ALLOWED_HOSTS": "127.0.0.1",
            "PORTAL_UPSTREAM_TIMEOUT": self.upstream_timeout,
            "PORTAL_DEFAULT_CACHE_TTL": str(self.cache_ttl),
            # Counted as production counts (tasks.caching.ratelimit), but never refusing the load.
            "PORTAL_API_RATE": "100000/s",
            "PORTAL_REFRESH_RATE": "100000/min",
            "BENCH_CEILING_JSON": str(self.ceiling_json_path),
            "BENCH_CEILING_HTML": str(self.ceiling_html_path),
            "LOG_LEVEL": "WARNING",
            # WhiteNoise warns about a missing staticfiles/ (no collectstatic): not our subject.
            "PYTHONWARNINGS": "ignore:No directory at:UserWarning",
            # Spent budgets would refuse the load: generous, but counted as production counts.
            "PORTAL_UPSTREAM_USER_RATE": "1000000/min",
            "PORTAL_UPSTREAM_PROJECT_RATE": "1000000/min",
            "DJANGO_SETTINGS_MODULE": "bench.settings",
        }
        env.update(self.extra_env)
        os.environ.update(env)

    def _setup_django(self) -> None:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", interactive=False, verbosity=0)

    def start_simulator(self) -> None:
        self.sim_port = int(os.environ.get("BENCH_SIM_PORT") or 0) or free_port()
        cmd = [PYTHON, str(BENCH / "simserver.py"), "--port", str(self.sim_port)]
        cmd += ["--delay-ms", str(self.sim_delay_ms), "--extra-tasks", str(self.extra_tasks)]
        self.sim_proc = subprocess.Popen(cmd, cwd=REPO, stdin=subprocess.DEVNULL)
        self._wait_until(lambda: self.sim("GET", "/_sim/counts").status == 200, "the simulator")

    def _seed(self) -> None:
        from django.contrib.auth import get_user_model
        from django.test import Client

        from tasks.services.projects import project_create
        from tasks.services.tokens import token_create
        from vassim.simulator import DEFAULT_AK, DEFAULT_PROJECT_ID, DEFAULT_SK

        self.user = get_user_model().objects.create_user(
            "bench", "bench@example.com", secrets.token_urlsafe(16)
        )
        self.project = project_create(
            actor=self.user,
            fields={
                "name": "Bench",
                "region": "cn-north-4",
                "upstream_project_id": DEFAULT_PROJECT_ID,
                "endpoint": self.sim_url,
                "iam_endpoint": self.sim_url,
                "auth_type": "aksk",
                "cache_ttl": self.cache_ttl,
            },
            secrets={"access_key": DEFAULT_AK, "secret_key": DEFAULT_SK},
        )
        _row, self.token = token_create(user=self.user, expires_days=1)
        client = Client()
        client.force_login(self.user, backend="django.contrib.auth.backends.ModelBackend")

        # The cookies a browser holds after its first page (the session's, CSRF's, language's):
        # page loads are measured as a returning browser makes them.
        assert client.get("/projects/").status_code == 200
        self.browser_cookies = "; ".join(
            f"{name}={morsel.value}" for name, morsel in client.cookies.items()
        )

    def start_gunicorn(self, workers: int | None = None) -> None:
        if workers is not None:
            self.workers = workers
        self.port = int(os.environ.get("BENCH_PORT") or 0) or free_port()
        self.gunicorn_log = Path(tempfile.mkstemp(prefix="vasbench-gunicorn-", suffix=".log")[1])
        cmd = [PYTHON, "-m", "gunicorn", "-c", str(REPO / "gunicorn.conf.py"), "portal.wsgi"]
        cmd += ["--workers", str(self.workers), "--bind", f"{HOST}:{self.port}"]
        cmd += ["--access-logfile", "/dev/null", "--error-logfile", str(self.gunicorn_log)]
        # The workers' own logging (e.g. django.request errors) goes to the same file.
        with open(self.gunicorn_log, "ab") as output:
            self.gunicorn_proc = subprocess.Popen(
                cmd, cwd=REPO, stdin=subprocess.DEVNULL, stdout=output, stderr=output
            )
        self._wait_until(lambda: request(self.port, "GET", "/healthz").status == 200, "gunicorn")
        self._wait_until(lambda: len(self.worker_pids()) == self.workers, "gunicorn's workers")

    def stop_gunicorn(self) -> None:
        if self.gunicorn_proc is not None:
            _stop_process(self.gunicorn_proc, grace=25)
            self.gunicorn_proc = None

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        with contextlib.suppress(ValueError):
            _live.remove(self)
        self.stop_gunicorn()
        self.stop_redis()
        if self.sim_proc is not None:
            _stop_process(self.sim_proc)
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        if self.db_name:
            with contextlib.suppress(Exception):
                import psycopg

                with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        if self.redis_prefix and not self.private_redis:
            with contextlib.suppress(Exception):
                import redis

                client = redis.Redis(host=HOST, port=REDIS_PORT, db=self.redis_db)
                keys = list(client.scan_iter(match=f"{self.redis_prefix}:*", count=1000))
                for start in range(0, len(keys), 500):
                    client.delete(*keys[start : start + 500])
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        for path in (
            getattr(self, "ceiling_json_path", None),
            getattr(self, "ceiling_html_path", None),
            self.gunicorn_log,
        ):
            if path is not None:
                with contextlib.suppress(OSError):
                    path.unlink()

    def _wait_until(self, check, what: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, httplib.HTTPException):
                if check():
                    return
            for proc in (self.sim_proc, self.gunicorn_proc):
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(f"a subprocess exited early while waiting for {what}")
            time.sleep(0.1)
        raise RuntimeError(f"{what} did not start within {timeout:.0f} s")

    # -- addresses and requests

    @property
    def sim_url(self) -> str:
        return f"http://{HOST}:{self.sim_port}"

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"

    def task_path(self, task_id: str, *, service: str = SERVICE, api: bool = True) -> str:
        base = f"/projects/{self.project.public_id}/services/{service}/tasks/{task_id}/"
        return "/api/v1" + base if api else base

    @property
    def api_headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}

    @property
    def page_headers(self) -> dict[str, str]:
        return {"Cookie": self.browser_cookies}

    def get_task(self, task_id: str, *, api: bool = True, query: str = "", **kw: Any) -> Answer:
        path = self.task_path(task_id, api=api) + (f"?{query}" if query else "")
        headers = self.api_headers if api else self.page_headers
        return request(self.port, "GET", path, headers=headers, **kw)

    def sim(self, method: str, path: str, body: Any = None) -> Answer:
        return request(self.sim_port, method, path, body=body, timeout=10)

    def sim_counts(self) -> dict[str, int]:
        return self.sim("GET", "/_sim/counts").json()

    def upstream_calls(self, task_id: str | None = None) -> int:
        """VAS API calls the simulator saw (for one task, or all), control calls excluded."""
        return sum(
            n
            for key, n in self.sim_counts().items()
            if "/v2/" in key and (task_id is None or key.rstrip("/").endswith("/" + task_id))
        )

    def worker_pids(self) -> list[int]:
        return [] if self.gunicorn_proc is None else children_of(self.gunicorn_proc.pid)

    def gunicorn_log_text(self) -> str:
        return "" if self.gunicorn_log is None else self.gunicorn_log.read_text(errors="replace")

    def write_ceilings(self, task_id: str) -> tuple[bytes, bytes]:
        """Fetches the task through the API and the page, and hands the same bytes to the
        ceiling views. Returns (api body, page body)."""
        api = self.get_task(task_id)
        page = self.get_task(task_id, api=False)
        if api.status != 200 or page.status != 200:
            raise RuntimeError(f"task {task_id}: API {api.status}, page {page.status}")
        self.ceiling_json_path.write_bytes(api.body)
        self.ceiling_html_path.write_bytes(page.body)
        return api.body, page.body

    def describe(self) -> str:
        workers = f"{self.workers} gunicorn worker(s) × threads, " if self.workers else ""
        return f"{workers}{self.backend}, nproc={nproc()}"


# ---------------------------------------------------------------------------- load clients


@dataclass
class Reading:
    """One task read by a load client."""

    task_id: str
    status: int | str  # the HTTP status, or the exception's class name when the read failed
    body: dict  # the JSON answer; {} when the read failed
    seconds: float  # 0.0 when the read failed

    @property
    def failed(self) -> bool:
        return isinstance(self.status, str)


class LoadClients:
    """`clients` threads reading `task_ids` through the API, round robin (client n starts at task
    n × `spread`), until stopped; used as a context manager (started on entry, stopped on exit).

    Each read is handed to `tally` under `lock`, which the caller may hold to change what the
    tally does between two reads (a phase switch). A refused or reset connection, or an answer
    that is not a JSON object, is a failed `Reading`: its status is the exception's class name.
    """

    def __init__(
        self,
        stack: Stack,
        task_ids: list[str],
        *,
        clients: int,
        spread: int,
        tally: Callable[[Reading], None],
        timeout: float = 30.0,
    ) -> None:
        self.stack = stack
        self.task_ids = task_ids
        self.tally = tally
        self.timeout = timeout
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._client, args=(n * spread,), daemon=True)
            for n in range(clients)
        ]

    def __enter__(self) -> LoadClients:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout + 5)

    def _client(self, offset: int) -> None:
        i = offset
        while not self._stop.is_set():
            task_id = self.task_ids[i % len(self.task_ids)]
            i += 1
            try:
                answer = self.stack.get_task(task_id, timeout=self.timeout)
                body = answer.json()
                if not isinstance(body, dict):
                    raise TypeError("the answer is not a JSON object")
                reading = Reading(task_id, answer.status, body, answer.seconds)
            except Exception as exc:
                reading = Reading(task_id, type(exc).__name__, {}, 0.0)
            with self.lock:
                self.tally(reading)


def seed_tracked(
    project, task_ids: list[str], *, service: str = SERVICE, watched: bool = False
) -> None:
    """TrackedTask rows (no snapshots) for tasks the portal should know, e.g. to watch them."""
    from django.utils import timezone

    from tasks.models import TrackedTask

    now = timezone.now()
    TrackedTask.objects.bulk_create(
        [
            TrackedTask(
                project=project,
                service=service,
                task_id=task_id,
                name=task_id,
                state="RUNNING",
                first_seen=now,
                last_fetched=now,
                last_changed=now,
                watched=watched,
            )
            for task_id in task_ids
        ]
    )


def today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


@contextlib.contextmanager
def quiet_logging() -> Iterator[None]:
    import logging

    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)
