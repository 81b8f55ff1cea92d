"""The reference app's metrics (the names the platform's alert rules read), without a database.

psycopg2 and redis come from Debian in the image; here stand-ins that record what the app does."""

from __future__ import annotations

import importlib.util
import sys
import types
import urllib.request
from http.server import ThreadingHTTPServer
from threading import Thread

from tests.conftest import ROOT


class FakeConnection:
    def __init__(self):
        self.closed = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def cursor(self):
        return self

    def execute(self, *args):
        pass

    def close(self):
        self.closed = True


def load_app(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg2", types.SimpleNamespace(connect=lambda *a, **k: FakeConnection()))
    monkeypatch.setitem(sys.modules, "redis", types.SimpleNamespace(Redis=None))
    monkeypatch.setenv("DATABASE_URL", "postgresql://agent@db/agent")
    spec = importlib.util.spec_from_file_location("agent_app", ROOT / "examples" / "agent-app" / "app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    return app


def test_requests_by_status_and_latency_histogram(monkeypatch):
    app = load_app(monkeypatch)
    server = ThreadingHTTPServer(("127.0.0.1", 0), app.Handler)
    server.daemon_threads = False  # so server_close() joins the handler threads (ThreadingHTTPServer's are daemons)
    Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    urllib.request.urlopen(f"{base}/healthz").read()
    try:
        urllib.request.urlopen(f"{base}/nowhere")
    except urllib.error.HTTPError as error:
        assert error.code == 404
    server.shutdown()
    server.server_close()  # joins the handler threads: a request is counted after its response is sent
    text = app.metrics_text()
    assert 'agent_http_requests_total{status="200"} 1' in text
    assert 'agent_http_requests_total{status="404"} 1' in text
    assert 'agent_http_request_duration_seconds_bucket{le="+Inf"} 2' in text
    assert "agent_http_request_duration_seconds_count 2" in text


def test_database_connections_in_use_are_counted(monkeypatch):
    app = load_app(monkeypatch)
    conn = app.database()
    assert "agent_db_connections_in_use 1" in app.metrics_text()
    with conn as c, c.cursor() as cur:
        cur.execute("SELECT 1")
    conn.close()
    assert "agent_db_connections_in_use 0" in app.metrics_text()
    assert "agent_db_pool_size 10" in app.metrics_text()


class FakeCache:
    def incr(self, key):
        pass


def test_streams_in_flight_and_time_to_first_event(monkeypatch):
    app = load_app(monkeypatch)
    app.cache = FakeCache
    server = ThreadingHTTPServer(("127.0.0.1", 0), app.Handler)
    server.daemon_threads = False  # so server_close() joins the handler threads (ThreadingHTTPServer's are daemons)
    Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    request = urllib.request.Request(f"{base}/runs/stream", data=b'{"tokens": 2, "interval": 0}', method="POST")
    with urllib.request.urlopen(request) as stream:
        assert b"event: done" in stream.read()
    server.shutdown()
    server.server_close()  # the stream's handler thread has ended: it is counted out of flight
    text = app.metrics_text()
    assert "agent_streams_in_flight 0" in text
    assert 'agent_stream_first_event_seconds_bucket{le="+Inf"} 1' in text
    assert "agent_stream_first_event_seconds_count 1" in text


def test_the_app_publishes_the_contract_the_dashboards_read(monkeypatch):
    """Every app-contract metric the dashboards read (agent_platform.dashboards.metrics.APP) is in the
    reference app's /metrics, but the queue and worker gauges of a service that takes runs from a queue."""
    from agent_platform.dashboards.metrics import APP

    app = load_app(monkeypatch)
    app.observe(200, 0.1)  # a counter by status has no sample before its first request
    published = {line.split("{")[0].split(" ")[0] for line in app.metrics_text().splitlines() if line[:1] != "#"}
    assert APP - published == {"agent_runs_pending", "agent_workers", "agent_workers_busy"}
