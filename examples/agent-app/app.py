"""Reference agent service: the smallest app that honours agent-platform's app contract.

Copy it as the starting point of your own image. Standard library plus psycopg2 and redis
(Debian's python3-psycopg2 and python3-redis), no model: `POST /runs/stream` stands in for
an LLM agent run by streaming N server-sent events, checkpointing each in Postgres.

Contract (README, "The app contract"):
- listens on $PORT (default 8000);
- GET /healthz: 200 while the process is alive;
- GET /readyz: 200 only when Postgres and Redis answer, else 503;
- reads DATABASE_URL (postgresql://) and REDIS_URL (redis://) from the environment;
- on SIGTERM stops accepting new connections and lets in-flight streams finish;
- writes nothing outside /tmp (read-only root filesystem), runs as any non-root user;
- with $METRICS_PORT set, serves GET /metrics there (Prometheus text format): requests by
  status, a request duration histogram, database connections in use against the pool size,
  streams in flight and a time-to-first-event histogram (a service that takes runs from a
  queue also publishes agent_runs_pending, agent_workers and agent_workers_busy; this one has
  no queue);
- `app.py migrate` and `app.py cleanup-checkpoints --older-than-days N` for the platform's
  migration Job and cleanup CronJob.

Endpoints beyond the contract: POST /runs/stream {"tokens": N, "interval": seconds},
GET /runs/{id}. Every response carries `X-Replica` (the host name) so a test can tell
replicas apart.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2
import redis

REPLICA = socket.gethostname()
SCHEMA = """CREATE TABLE IF NOT EXISTS runs (
    id text PRIMARY KEY, replica text NOT NULL, tokens_total int NOT NULL, tokens_done int NOT NULL,
    status text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())"""
MAX_TOKENS = 10_000
MAX_INTERVAL = 10.0

in_flight = 0
in_flight_lock = threading.Lock()
draining = threading.Event()

# Metrics (README "The app contract"; the platform's alert rules read these names).
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, float("inf"))
DB_POOL_SIZE = int(os.environ.get("DB_POOL_SIZE", "10"))
metrics_lock = threading.Lock()
requests_by_status: dict[str, int] = {}
duration_buckets = [0] * len(BUCKETS)
duration_sum = 0.0
db_in_use = 0
first_event_buckets = [0] * len(BUCKETS)
first_event_sum = 0.0


def observe(status: int, seconds: float) -> None:
    global duration_sum
    with metrics_lock:
        requests_by_status[str(status)] = requests_by_status.get(str(status), 0) + 1
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                duration_buckets[i] += 1
        duration_sum += seconds


def observe_first_event(seconds: float) -> None:
    """A stream's first event sent `seconds` after its request arrived."""
    global first_event_sum
    with metrics_lock:
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                first_event_buckets[i] += 1
        first_event_sum += seconds


def _histogram(name: str, buckets: list[int], total: float) -> list[str]:
    lines = [f"# TYPE {name} histogram"]
    for bound, count in zip(BUCKETS, buckets, strict=True):
        le = "+Inf" if bound == float("inf") else repr(bound)
        lines.append(f'{name}_bucket{{le="{le}"}} {count}')
    return [*lines, f"{name}_sum {total}", f"{name}_count {buckets[-1]}"]


def metrics_text() -> str:
    with metrics_lock:
        lines = ["# TYPE agent_http_requests_total counter"]
        lines += [f'agent_http_requests_total{{status="{s}"}} {n}' for s, n in sorted(requests_by_status.items())]
        lines.append("# TYPE agent_http_request_duration_seconds histogram")
        for bound, count in zip(BUCKETS, duration_buckets, strict=True):
            le = "+Inf" if bound == float("inf") else repr(bound)
            lines.append(f'agent_http_request_duration_seconds_bucket{{le="{le}"}} {count}')
        lines += [
            f"agent_http_request_duration_seconds_sum {duration_sum}",
            f"agent_http_request_duration_seconds_count {duration_buckets[-1]}",
            "# TYPE agent_db_connections_in_use gauge",
            f"agent_db_connections_in_use {db_in_use}",
            "# TYPE agent_db_pool_size gauge",
            f"agent_db_pool_size {DB_POOL_SIZE}",
            "# TYPE agent_streams_in_flight gauge",
            f"agent_streams_in_flight {in_flight}",
        ]
        lines += _histogram("agent_stream_first_event_seconds", first_event_buckets, first_event_sum)
    return "\n".join(lines) + "\n"


class _Counted:
    """A connection counted in agent_db_connections_in_use while open."""

    def __init__(self, conn):
        global db_in_use
        self.conn = conn
        with metrics_lock:
            db_in_use += 1

    def __getattr__(self, name):
        return getattr(self.conn, name)

    def __enter__(self):
        self.conn.__enter__()
        return self

    def __exit__(self, *exc):
        return self.conn.__exit__(*exc)

    def close(self) -> None:
        global db_in_use
        self.conn.close()
        with metrics_lock:
            db_in_use -= 1


def database():
    return _Counted(psycopg2.connect(os.environ["DATABASE_URL"], connect_timeout=2))


def cache():
    return redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=2, socket_connect_timeout=2)


def checkpoint(run_id: str, total: int, done: int, status: str) -> None:
    with database() as conn, conn.cursor() as cur:
        cur.execute(SCHEMA)
        cur.execute(
            """INSERT INTO runs (id, replica, tokens_total, tokens_done, status) VALUES (%s, %s, %s, %s, %s)
                       ON CONFLICT (id) DO UPDATE SET tokens_done = EXCLUDED.tokens_done, status = EXCLUDED.status,
                       updated_at = now()""",
            (run_id, REPLICA, total, done, status),
        )
    conn.close()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "agent-app"

    def handle_one_request(self) -> None:
        self._started, self._status = time.monotonic(), None
        super().handle_one_request()
        if self._status is not None:
            observe(self._status, time.monotonic() - self._started)

    def log_request(self, code="-", size="-") -> None:
        self._status = int(code) if str(code).isdigit() else None
        super().log_request(code, size)

    def log_message(self, fmt: str, *args) -> None:  # one line per request on stderr
        sys.stderr.write(f"{REPLICA} {self.command} {self.path} {fmt % args}\n")

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Replica", REPLICA)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/healthz":
            return self._json(200, {"status": "alive", "replica": REPLICA})
        if self.path == "/readyz":
            return self._ready()
        if self.path.startswith("/runs/"):
            return self._run(self.path[len("/runs/") :])
        return self._json(404, {"error": "not found"})

    def do_POST(self) -> None:  # noqa: N802
        if self.path != "/runs/stream":
            return self._json(404, {"error": "not found"})
        if draining.is_set():
            return self._json(503, {"error": "draining"})
        try:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(min(length, 65536)) or b"{}")
            tokens = int(body.get("tokens", 10))
            interval = float(body.get("interval", 0.1))
            if not (0 < tokens <= MAX_TOKENS and 0 <= interval <= MAX_INTERVAL):
                raise ValueError
        except (ValueError, TypeError, AttributeError):
            return self._json(
                400, {"error": f'body must be {{"tokens": 1..{MAX_TOKENS}, "interval": 0..{MAX_INTERVAL}}}'}
            )
        self._stream(tokens, interval)

    def _ready(self) -> None:
        problems = []
        try:
            with database() as conn, conn.cursor() as cur:
                cur.execute("SELECT 1")
            conn.close()
        except Exception as error:  # noqa: BLE001
            problems.append(f"postgres: {type(error).__name__}")
        try:
            cache().ping()
        except Exception as error:  # noqa: BLE001
            problems.append(f"redis: {type(error).__name__}")
        if draining.is_set():
            problems.append("draining")
        self._json(503 if problems else 200, {"ready": not problems, "problems": problems, "replica": REPLICA})

    def _run(self, run_id: str) -> None:
        try:
            with database() as conn, conn.cursor() as cur:
                cur.execute(SCHEMA)
                cur.execute("SELECT id, replica, tokens_total, tokens_done, status FROM runs WHERE id = %s", (run_id,))
                row = cur.fetchone()
            conn.close()
        except Exception as error:  # noqa: BLE001
            return self._json(503, {"error": f"postgres: {type(error).__name__}"})
        if row is None:
            return self._json(404, {"error": "no such run"})
        keys = ("id", "replica", "tokensTotal", "tokensDone", "status")
        self._json(200, dict(zip(keys, row, strict=True)))

    def _stream(self, tokens: int, interval: float) -> None:
        global in_flight
        run_id = uuid.uuid4().hex
        with in_flight_lock:
            in_flight += 1
        try:
            checkpoint(run_id, tokens, 0, "running")
            cache().incr("agent:runs:started")
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("X-Replica", REPLICA)
            self.send_header("X-Run-Id", run_id)
            self.send_header("Connection", "close")  # the stream ends when the run does
            self.end_headers()
            self.close_connection = True
            for i in range(1, tokens + 1):
                if i > 1:
                    time.sleep(interval)
                event = {"run": run_id, "token": i, "of": tokens, "replica": REPLICA}
                self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                self.wfile.flush()
                if i == 1:
                    observe_first_event(time.monotonic() - self._started)
                checkpoint(run_id, tokens, i, "running" if i < tokens else "done")
            self.wfile.write(b"event: done\ndata: {}\n\n")
            self.wfile.flush()
        finally:
            with in_flight_lock:
                in_flight -= 1


def main() -> None:
    port = int(os.environ.get("PORT", "8000"))
    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    server.daemon_threads = True

    def on_sigterm(*_):
        # Stop accepting (shutdown ends serve_forever, then the socket closes), then let
        # in-flight streams finish; the platform's stop grace bounds how long that may take.
        draining.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGINT, on_sigterm)
    if os.environ.get("METRICS_PORT"):
        metrics = ThreadingHTTPServer(("0.0.0.0", int(os.environ["METRICS_PORT"])), MetricsHandler)
        threading.Thread(target=metrics.serve_forever, daemon=True).start()
    print(f"{REPLICA} listening on {port}", file=sys.stderr, flush=True)
    server.serve_forever()
    server.server_close()
    while True:
        with in_flight_lock:
            if in_flight == 0:
                break
        time.sleep(0.1)
    print(f"{REPLICA} drained, exiting", file=sys.stderr, flush=True)


class MetricsHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        body = metrics_text().encode() if self.path == "/metrics" else b"not found\n"
        self.send_response(200 if self.path == "/metrics" else 404)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt: str, *args) -> None:
        pass


def migrate() -> None:
    """The platform's migration Job: bring the checkpoint schema up to date (idempotent)."""
    with database() as conn, conn.cursor() as cur:
        cur.execute(SCHEMA)
        cur.execute("CREATE INDEX IF NOT EXISTS runs_updated_at ON runs (updated_at)")
    conn.close()
    print("migrated", file=sys.stderr, flush=True)


def cleanup_checkpoints(older_than_days: int) -> None:
    """The platform's cleanup CronJob: delete finished runs older than the retention."""
    with database() as conn, conn.cursor() as cur:
        cur.execute(
            "DELETE FROM runs WHERE status = 'done' AND updated_at < now() - make_interval(days => %s)",
            (older_than_days,),
        )
        deleted = cur.rowcount
    conn.close()
    print(f"deleted {deleted} checkpoints older than {older_than_days} days", file=sys.stderr, flush=True)


if __name__ == "__main__":
    command = sys.argv[1:2]
    if command == ["migrate"]:
        migrate()
    elif command == ["cleanup-checkpoints"]:
        if len(sys.argv) != 4 or sys.argv[2] != "--older-than-days" or not sys.argv[3].isdigit():
            sys.exit("usage: app.py cleanup-checkpoints --older-than-days N")
        cleanup_checkpoints(int(sys.argv[3]))
    elif command:
        sys.exit(f"unknown command {command[0]!r}: migrate, cleanup-checkpoints, or none to serve")
    else:
        main()
