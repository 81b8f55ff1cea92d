"""Point-in-time restore of a Docker host's Postgres from its pgBackRest repository, however the
stack runs: Compose, `pulumi up` (pulumi-docker names its containers itself and sets no Compose
labels) or containers started by hand. Run through tools/restore-docker.sh:

    tools/restore-docker.sh --compose docker-compose.yml [--env-file compose.env] --to latest|<RFC 3339 time>

The compose file is the stack's description: the one you run, or for a `pulumi up` stack the one
`python -m preview <stack>` renders from the same program (same volume and container names). It
says which image, user, volumes and pgBackRest options Postgres has. Which containers to stop is
asked of Docker itself, never of Compose:

1. refuses before touching anything when the input is wrong (one line per problem, exit 2), when
   the repository holds no backup to restore from, or a target time is before its oldest backup
   or in the future (exit 1);
2. stops every container that mounts the data volume (`docker ps -a --filter volume=<vol>`:
   whoever created it), and before them the running containers of the services that connect to
   Postgres (the compose file's `depends_on: postgres`, found by their Compose labels or, run by
   `pulumi up`, by their names on the stack's networks). If one cannot be stopped, it starts again
   what it had stopped and refuses with a line naming it: the volume is as it was;
3. moves the data directory aside inside its own volume (`pgdata` -> `pgdata-before-restore-<time>`,
   a rename: no copy) and runs `pgbackrest restore` into a fresh `pgdata`; a lost volume is created
   anew;
4. verifies: the stack's own Postgres container (or, when none is left, a throwaway one with the same
   settings) replays the WAL to the target, promotes and answers a query on the app database;
5. starts again what it stopped, and waits until each passes its own health check (run at once
   with `docker exec`, not at Docker's next interval). When the volume was lost with its
   containers, Compose recreates them (`compose up -d --wait`) if Compose runs the stack; a
   `pulumi up` stack needs `pulumi up --refresh`, which it says.

Any failure after step 2 puts the old data directory back, starts again what it stopped and exits 1.
Redis, the proxy and one-shots that had exited are never touched. Nothing is deleted but a restore
it made itself and that failed.

Environment: COMPOSE (the Compose v2 command, default `docker compose`), DOCKER (the docker command,
default `docker`), VERIFY_TIMEOUT (seconds for the WAL replay, default 3600), START_TIMEOUT (seconds
for each started container's health check, default 300). Stdlib only: it runs with the host's python3 (3.11 or later).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

DATA_PATH = "/var/lib/postgresql/data"  # where the stack mounts the data volume in Postgres
KEPT_PREFIX = "pgdata-before-restore-"
TOOL_LABEL = "agent-platform.restore"  # on the containers this tool runs itself
COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"
USAGE = "usage: tools/restore-docker.sh --compose FILE [--env-file FILE] --to latest|<RFC 3339 time> [--no-start]"
EXIT_FAILED, EXIT_BAD_INPUT = 1, 2


def say(message: str) -> None:
    print(f"restore: {message}", file=sys.stderr, flush=True)


class Failed(Exception):
    """A step failed: its message is one line; `detail` is what the command printed (never dropped)."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail.strip()


# --- input -----------------------------------------------------------------------------------


@dataclass
class Options:
    compose: str = ""
    env_file: str = ""
    target: str = ""
    start: bool = True
    pg_target: str = ""  # pgBackRest's --target (UTC), empty for latest
    moment: datetime | None = None


def parse_target(value: str, now: datetime) -> tuple[str, datetime | None, str]:
    """(pgBackRest --target, the moment, problem)."""
    if value == "latest":
        return "", None, ""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return "", None, f"--to {value!r}: not latest or an RFC 3339 time such as 2026-12-03T10:15:00Z"
    if moment.tzinfo is None:
        return "", None, f"--to {value!r}: needs a time zone (a trailing Z for UTC, or +01:00)"
    if moment > now:
        return "", None, f"--to {value!r}: is in the future (now {now:%Y-%m-%dT%H:%M:%SZ}): use --to latest"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00"), moment, ""


def parse_args(argv: list[str], now: datetime | None = None) -> tuple[Options, list[str]]:
    """The options, and every problem with them (one line each)."""
    options, problems = Options(), []
    takes_value = {"--compose": "compose", "--env-file": "env_file", "--to": "target"}
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, inline = arg.partition("=")
        if name in takes_value:
            if eq:
                value = inline
            elif i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                i += 1
                value = argv[i]
            else:
                value = ""
            if not value:
                problems.append(f"{name} needs a value")
            elif getattr(options, takes_value[name]):
                problems.append(f"{name} given twice")
            else:
                setattr(options, takes_value[name], value)
        elif arg == "--no-start":
            options.start = False
        else:
            problems.append(f"unknown argument {arg!r}")
        i += 1
    if not options.compose and "--compose needs a value" not in problems:
        problems.append("--compose FILE is required: the stack's compose file (python -m preview <stack> renders it)")
    elif options.compose and not os.path.isfile(options.compose):
        problems.append(f"--compose {options.compose}: no such file")
    if options.env_file and not os.path.isfile(options.env_file):
        problems.append(f"--env-file {options.env_file}: no such file")
    if not options.target and "--to needs a value" not in problems:
        problems.append("--to latest|<RFC 3339 time> is required")
    elif options.target:
        options.pg_target, options.moment, problem = parse_target(options.target, now or datetime.now(UTC))
        if problem:
            problems.append(problem)
    return options, problems


@dataclass
class Stack:
    """What the compose file says about Postgres and who depends on it."""

    project: str
    service: str  # the Postgres service key (a `pulumi up` container has this name)
    image: str
    user: str
    data_volume: str
    data_key: str
    repo_volume: str
    socket_volume: str
    pgdata: str
    socket: str
    db_user: str
    db_name: str
    options: list[str]  # Postgres server options (`postgres` left out)
    backrest_env: dict[str, str]
    dependents: list[str]  # services that depend on Postgres directly
    networks: list[str]  # the stack's network names

    @property
    def pgdata_dir(self) -> str:
        """The data directory's name inside the volume (`pgdata`)."""
        return self.pgdata[len(DATA_PATH) + 1 :]


def unescape(value):
    """A compose file read without interpolation keeps `$$`; Docker receives `$`."""
    if isinstance(value, str):
        return value.replace("$$", "$")
    if isinstance(value, list):
        return [unescape(v) for v in value]
    if isinstance(value, dict):
        return {k: unescape(v) for k, v in value.items()}
    return value


def stack_from_config(doc: dict, where: str) -> tuple[Stack | None, list[str]]:
    """The Stack from `compose config --format json`, or the problems (one line each)."""
    services = doc.get("services") or {}
    # Postgres: pgBackRest settings and the data volume mounted read-write (the backup containers
    # have the settings too, and the volume read-only).
    candidates = [
        k
        for k, s in services.items()
        if "PGBACKREST_STANZA" in (s.get("environment") or {})
        and any(m.get("target") == DATA_PATH and not m.get("read_only") for m in s.get("volumes") or [])
    ]
    postgres = [k for k, s in services.items() if k == "postgres"]
    if len(candidates) != 1:
        if postgres:
            return None, [f"{where}: service postgres has no pgBackRest settings: postgres.backup.enabled is off"]
        return None, [f"{where}: no Postgres service with pgBackRest settings (PGBACKREST_STANZA) found"]
    key = candidates[0]
    pg = services[key]
    env = {k: str(v) for k, v in (pg.get("environment") or {}).items()}
    names = {k: (v or {}).get("name", k) for k, v in (doc.get("volumes") or {}).items()}
    keys = {m.get("target"): m.get("source") for m in pg.get("volumes") or [] if m.get("type", "volume") == "volume"}
    problems = []
    for variable in ("PGBACKREST_REPO1_PATH", "PGBACKREST_PG1_SOCKET_PATH", "PGDATA", "POSTGRES_USER"):
        if variable not in env:
            problems.append(f"{where}: service {key} sets no {variable}")
    if DATA_PATH not in keys:
        problems.append(f"{where}: service {key} mounts no named volume at {DATA_PATH}")
    if problems:
        return None, problems
    for path in (env["PGBACKREST_REPO1_PATH"], env["PGBACKREST_PG1_SOCKET_PATH"]):
        if path not in keys:
            problems.append(f"{where}: service {key} mounts no named volume at {path}")
    if not env["PGDATA"].startswith(DATA_PATH + "/") or "/" in env["PGDATA"][len(DATA_PATH) + 1 :]:
        problems.append(
            f"{where}: PGDATA {env['PGDATA']} is not a directory directly inside the volume at {DATA_PATH}: "
            "the restore keeps the data it replaces beside it in the volume"
        )
    if problems:
        return None, problems
    command = pg.get("command") or ["postgres"]
    dependents = sorted(k for k, s in services.items() if k != key and key in (s.get("depends_on") or {}))
    networks = sorted((v or {}).get("name", k) for k, v in (doc.get("networks") or {}).items())
    stack = Stack(
        project=doc.get("name", ""),
        service=key,
        image=pg["image"],
        user=str(pg.get("user") or ""),
        data_volume=names.get(keys[DATA_PATH], keys[DATA_PATH]),
        data_key=keys[DATA_PATH],
        repo_volume=names.get(keys[env["PGBACKREST_REPO1_PATH"]], keys[env["PGBACKREST_REPO1_PATH"]]),
        socket_volume=names.get(keys[env["PGBACKREST_PG1_SOCKET_PATH"]], keys[env["PGBACKREST_PG1_SOCKET_PATH"]]),
        pgdata=env["PGDATA"],
        socket=env["PGBACKREST_PG1_SOCKET_PATH"],
        db_user=env["POSTGRES_USER"],
        db_name=env.get("POSTGRES_DB", env["POSTGRES_USER"]),
        options=[str(w) for w in command[1:]] if command[:1] == ["postgres"] else [],
        backrest_env={k: v for k, v in sorted(env.items()) if k.startswith("PGBACKREST_")},
        dependents=dependents,
        networks=networks,
    )
    return stack, []


def read_stack(options: Options) -> tuple[Stack | None, list[str]]:
    compose = shlex.split(os.environ.get("COMPOSE") or "docker compose")
    args = [*compose, "-f", options.compose]
    args += ["--env-file", options.env_file] if options.env_file else []
    args += ["config", "--format", "json"] + ([] if options.env_file else ["--no-interpolate"])
    try:
        result = subprocess.run(args, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as error:
        return None, [f"{shlex.join(compose)} config: {error} (COMPOSE names the Compose v2 command)"]
    if result.returncode != 0:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()] or ["(nothing printed)"]
        return None, [f"{options.compose}: {shlex.join(compose)} config failed: {line}" for line in lines[-3:]]
    doc = json.loads(result.stdout)
    if not options.env_file:
        doc = unescape(doc)
    return stack_from_config(doc, options.compose)


# --- Docker ----------------------------------------------------------------------------------


class Docker:
    def __init__(self) -> None:
        self.command = shlex.split(os.environ.get("DOCKER") or "docker")

    def run(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        try:
            result = subprocess.run([*self.command, *args], capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as error:
            raise Failed(f"docker {' '.join(args[:2])}: no answer in {timeout:.0f}s") from error
        if check and result.returncode != 0:
            raise Failed(
                f"docker {' '.join(args[:2])} failed (exit {result.returncode}): {_last_line(result.stderr)}",
                result.stderr + result.stdout,
            )
        return result

    def inspect(self, ids: list[str]) -> list[dict]:
        if not ids:
            return []
        return json.loads(self.run("inspect", "--type", "container", *ids).stdout)


@dataclass
class Container:
    id: str
    name: str
    running: bool  # running, restarting or paused: something to stop
    status: str
    labels: dict[str, str]
    networks: list[str]
    health_test: list[str]
    data_mount: str = ""  # "rw" or "ro" when it mounts the data volume
    role: str = ""  # postgres, volume, dependent

    @classmethod
    def from_inspect(cls, info: dict, data_volume: str = "") -> Container:
        state = info.get("State") or {}
        mount = next(
            (m for m in info.get("Mounts") or [] if m.get("Type") == "volume" and m.get("Name") == data_volume), None
        )
        return cls(
            id=info["Id"][:12],
            name=info["Name"].lstrip("/"),
            running=bool(state.get("Running") or state.get("Restarting") or state.get("Paused")),
            status=state.get("Status", "?"),
            labels=(info.get("Config") or {}).get("Labels") or {},
            networks=sorted(((info.get("NetworkSettings") or {}).get("Networks") or {}).keys()),
            health_test=list(((info.get("Config") or {}).get("Healthcheck") or {}).get("Test") or []),
            data_mount=("rw" if mount.get("RW") else "ro") if mount else "",
        )

    def who(self, stack: Stack) -> str:
        if self.labels.get(COMPOSE_PROJECT):
            return f"Compose {self.labels[COMPOSE_PROJECT]}/{self.labels.get(COMPOSE_SERVICE, '?')}"
        if self.name == stack.service or self.name in stack.dependents:
            return "the stack's own, not Compose's (pulumi up)"
        return "not the stack's (started by hand)"


HARDENING = ("--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true", "--network", "none")


class Restore:
    """One restore: what it stopped and moved, so that a failure can put everything back."""

    def __init__(self, stack: Stack, options: Options, docker: Docker) -> None:
        self.stack, self.options, self.docker = stack, options, docker
        self.stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.kept = f"{KEPT_PREFIX}{self.stamp}"
        self.stopped: list[Container] = []  # in the order they were stopped
        self.moved = False  # pgdata renamed to self.kept
        self.restored = False  # pgdata holds a restore of ours
        self.postgres: Container | None = None  # the stack's own Postgres container, if there is one
        self.started_at = time.monotonic()
        uid, _, gid = stack.user.partition(":")
        self.helper_args = [
            "--rm",
            *(["--user", stack.user] if stack.user else []),
            *HARDENING,
            "--tmpfs",
            f"/tmp:rw,noexec,nosuid,size=64m{f',uid={uid},gid={gid or uid}' if uid else ''}",
        ]
        self.env_args = [a for k, v in stack.backrest_env.items() for a in ("-e", f"{k}={v}")]

    def labels(self, step: str) -> list[str]:
        """On each container the tool runs: which restore, and which step (info, move, restore, verify, undo)."""
        return ["--label", f"{TOOL_LABEL}={self.stamp}", "--label", f"{TOOL_LABEL}.step={step}"]

    # -- pre-flight: nothing touched yet --
    def preflight(self) -> list[str]:
        problems = []
        version = self.docker.run("version", "--format", "{{.Server.Version}}", check=False, timeout=30)
        if version.returncode != 0:
            return [f"Docker does not answer: {(version.stderr.strip().splitlines() or ['?'])[-1]}"]
        if self.docker.run("image", "inspect", self.stack.image, check=False).returncode != 0:
            problems.append(f"the Postgres image {self.stack.image} is not on this host (docker pull it first)")
        if self.docker.run("volume", "inspect", self.stack.repo_volume, check=False).returncode != 0:
            problems.append(f"the backup repository volume {self.stack.repo_volume} does not exist: nothing to restore")
        if problems:
            return problems
        info = self.docker.run(
            "run",
            *self.helper_args,
            *self.labels("info"),
            *self.env_args,
            "-v",
            f"{self.stack.repo_volume}:/var/lib/pgbackrest:ro",
            self.stack.image,
            "pgbackrest",
            "info",
            "--output=json",
            check=False,
            timeout=120,
        )
        if info.returncode != 0:
            return [f"pgbackrest info on {self.stack.repo_volume} failed: {_last_line(info.stderr + info.stdout)}"]
        try:
            stanzas = json.loads(info.stdout)
        except json.JSONDecodeError:
            return [f"pgbackrest info on {self.stack.repo_volume} printed no JSON: {_last_line(info.stdout)}"]
        stops = [b["timestamp"]["stop"] for s in stanzas for b in s.get("backup") or []]
        if not stops:
            stanza = self.stack.backrest_env.get("PGBACKREST_STANZA", "?")
            return [f"the repository on {self.stack.repo_volume} holds no completed backup of stanza {stanza}"]
        oldest = datetime.fromtimestamp(min(stops), UTC)
        if self.options.moment is not None and self.options.moment < oldest:
            problems.append(
                f"--to {self.options.target} is before the oldest backup in the repository "
                f"({oldest:%Y-%m-%dT%H:%M:%SZ}): nothing restores to it"
            )
        return problems

    # -- who is on the volume, who depends on Postgres --
    def containers(self) -> tuple[list[Container], list[Container]]:
        """(on the data volume, dependents not on it), each as Docker reports it now."""
        on_volume_ids = self.docker.run("ps", "-aq", "--no-trunc", "--filter", f"volume={self.stack.data_volume}")
        on_volume = [
            c
            for c in (
                Container.from_inspect(i, self.stack.data_volume)
                for i in self.docker.inspect(on_volume_ids.stdout.split())
            )
            if c.data_mount  # the filter also matches a mount destination; this one mounts the volume itself
        ]
        for c in on_volume:
            is_stack_pg = (
                c.labels.get(COMPOSE_PROJECT) == self.stack.project
                and c.labels.get(COMPOSE_SERVICE) == self.stack.service
            ) or (c.name == self.stack.service and not c.labels.get(COMPOSE_PROJECT))
            c.role = "postgres" if is_stack_pg and c.data_mount == "rw" else "volume"
        seen = {c.id for c in on_volume}
        dependents = []
        for service in self.stack.dependents:
            ids = self.docker.run(
                "ps",
                "-aq",
                "--no-trunc",
                "--filter",
                f"label={COMPOSE_PROJECT}={self.stack.project}",
                "--filter",
                f"label={COMPOSE_SERVICE}={service}",
            ).stdout.split()
            found = [Container.from_inspect(i) for i in self.docker.inspect(ids)]
            if not found:  # not run by Compose: pulumi-docker names the container after the service
                ids = self.docker.run("ps", "-aq", "--no-trunc", "--filter", f"name={service}").stdout.split()
                found = [
                    c
                    for c in (Container.from_inspect(i) for i in self.docker.inspect(ids))
                    if c.name == service and set(c.networks) & set(self.stack.networks)
                ]
            for c in found:
                if c.id not in seen:
                    c.role = "dependent"
                    dependents.append(c)
                    seen.add(c.id)
        return on_volume, dependents

    # -- stopping, and starting again --
    def stop(self, on_volume: list[Container], dependents: list[Container]) -> None:
        """Stop the running ones: the dependents first (they drain against a live Postgres), then what
        mounts the volume, Postgres last. Refuses, after starting again what it stopped, when one
        will not stop or another has started on the volume meanwhile."""
        groups = [
            [c for c in dependents if c.running],
            [c for c in on_volume if c.running and c.role != "postgres"],
            [c for c in on_volume if c.running and c.role == "postgres"],
        ]
        for group in groups:
            if not group:
                continue
            errors = _parallel(lambda c: self.docker.run("stop", c.id, timeout=900), group)
            for c in group:
                if c.id not in errors:
                    self.stopped.append(c)
            states = {c.id: c for c in (Container.from_inspect(i) for i in self.docker.inspect([c.id for c in group]))}
            for c in group:
                if c.id not in errors and states[c.id].running:
                    errors[c.id] = Failed(f"still {states[c.id].status} after docker stop")
                    self.stopped.remove(c)
            if errors:
                for c in group:
                    if c.id in errors:
                        say(f"REFUSED: could not stop {c.name} ({c.id}, {c.who(self.stack)}): {errors[c.id]}")
                        _print_detail(errors[c.id])
                raise Refused(f"{len(errors)} container(s) on or depending on {self.stack.data_volume} would not stop")
        now_running = self.docker.run(
            "ps", "-q", "--no-trunc", "--filter", f"volume={self.stack.data_volume}"
        ).stdout.split()
        if now_running:
            for c in (Container.from_inspect(i, self.stack.data_volume) for i in self.docker.inspect(now_running)):
                if c.data_mount:
                    say(
                        f"REFUSED: {c.name} ({c.id}, {c.who(self.stack)}) started on {self.stack.data_volume} meanwhile"
                    )
                    raise Refused("a container started on the volume while the others stopped")

    def start_again(self, containers: list[Container]) -> list[str]:
        """Start them (in one `docker start`), then wait until each passes its own health check."""
        if not containers:
            return []
        failures = []
        result = self.docker.run("start", *[c.id for c in containers], check=False, timeout=600)
        if result.returncode != 0:
            failures.append(f"docker start failed: {_last_line(result.stderr)}")
            _print_detail(Failed("", result.stderr))
        timeout = float(os.environ.get("START_TIMEOUT") or 300)
        errors = _parallel(lambda c: self.wait_healthy(c, timeout), containers)
        failures += [f"{c.name} ({c.id}): {errors[c.id]}" for c in containers if c.id in errors]
        return failures

    def wait_healthy(self, c: Container, timeout: float) -> None:
        """Its own health check, run now and again every half second (Docker would first run it only
        after its interval), until it passes; a container without one only has to be running."""
        test = c.health_test
        argv = test[1:] if test[:1] == ["CMD"] else ["/bin/sh", "-c", test[1]] if test[:1] == ["CMD-SHELL"] else []
        deadline = time.monotonic() + timeout
        last = ""
        while True:
            state = Container.from_inspect(self.docker.inspect([c.id])[0])
            if state.status == "running":
                if not argv:
                    return
                probe = self.docker.run("exec", c.id, *argv, check=False, timeout=30)
                if probe.returncode == 0:
                    return
                last = _last_line(probe.stderr + probe.stdout)
            elif state.status in ("exited", "dead"):
                logs = self.docker.run("logs", "--tail", "5", c.id, check=False)
                raise Failed(f"{state.status} after its start (docker logs {c.name})", logs.stdout + logs.stderr)
            if time.monotonic() > deadline:
                raise Failed(f"its health check still failed after {timeout:.0f}s: {last or state.status}")
            time.sleep(0.5)

    # -- the data --
    def helper(self, step: str, script: str, *args: str, timeout: float = 3600):
        """A throwaway container of the Postgres image, as its user, hardened, no network."""
        return self.docker.run(
            "run",
            *self.helper_args,
            *self.labels(step),
            "-v",
            f"{self.stack.data_volume}:{DATA_PATH}",
            *self.env_args,
            self.stack.image,
            "sh",
            "-c",
            script,
            "sh",
            *args,
            timeout=timeout,
        )

    def move_aside(self) -> None:
        d = f"{DATA_PATH}/{self.stack.pgdata_dir}"
        moved = self.helper(
            "move",
            'set -eu; if [ -e "$1" ]; then mv "$1" "$2"; echo moved; fi; mkdir -m 700 "$1"',
            d,
            f"{DATA_PATH}/{self.kept}",
        )
        self.moved = "moved" in moved.stdout

    def pgbackrest_restore(self) -> None:
        args = ["--type=time", f"--target={self.options.pg_target}", "--target-action=promote"]
        processes = str(max(1, os.cpu_count() or 1))
        self.restored = True  # from here on pgdata holds what this restore wrote, even a part of it
        result = self.docker.run(
            "run",
            *self.helper_args,
            *self.labels("restore"),
            *self.env_args,
            "-e",
            f"PGBACKREST_PROCESS_MAX={processes}",
            "-v",
            f"{self.stack.data_volume}:{DATA_PATH}",
            "-v",
            f"{self.stack.repo_volume}:/var/lib/pgbackrest:ro",
            "-v",
            f"{self.stack.socket_volume}:{self.stack.socket}",
            self.stack.image,
            "pgbackrest",
            "restore",
            *([] if not self.options.pg_target else args),
            check=False,
            timeout=24 * 3600,
        )
        for line in (result.stdout + result.stderr).strip().splitlines():
            if "P00" in line and any(w in line for w in ("INFO: restore", "ERROR", "WARN")):
                say(f"  pgbackrest: {line.split('P00', 1)[1].strip()}")
        if result.returncode != 0:
            raise Failed(f"pgbackrest restore failed (exit {result.returncode})", result.stderr + result.stdout)

    def verify(self, container: str, since: str) -> None:
        """Postgres on the restored data replays the WAL to the target, promotes and answers. A
        restart policy would start a Postgres that failed again: a restart counts as a failure."""
        query = ["psql", "-h", self.stack.socket, "-U", self.stack.db_user, "-d", self.stack.db_name, "-Atc"]
        deadline = time.monotonic() + float(os.environ.get("VERIFY_TIMEOUT") or 3600)
        status = "{{.State.Status}} {{.RestartCount}}"
        restarts = (self.docker.run("inspect", "-f", status, container, check=False).stdout.split() + ["", ""])[1]
        last = ""
        while True:
            probe = self.docker.run("exec", container, *query, "SELECT pg_is_in_recovery()", check=False, timeout=60)
            if probe.returncode == 0 and probe.stdout.strip() == "f":
                break
            last = _last_line(probe.stderr + probe.stdout) or last
            state, count = (self.docker.run("inspect", "-f", status, container, check=False).stdout.split() + ["", ""])[
                :2
            ]
            if count != restarts:
                state = "restarted by its restart policy"
            if state not in ("running", "created") or time.monotonic() > deadline:
                logs = self.docker.run("logs", "--since", since, container, check=False)
                raise Failed(
                    f"Postgres on the restored data did not promote ({state or 'gone'}; last answer: {last or '-'})",
                    "\n".join((logs.stdout + logs.stderr).strip().splitlines()[-15:]),
                )
            time.sleep(0.25)
        logs = self.docker.run("logs", "--since", since, container, check=False)
        for line in (logs.stdout + logs.stderr).splitlines():
            if any(w in line for w in ("recovery stopping", "redo done", "selected new timeline", "last completed")):
                say(f"  postgres: {line.strip()}")
        self.docker.run("exec", container, *query, "SELECT count(*) FROM pg_class", timeout=60)

    def verify_throwaway(self) -> None:
        name = f"{self.stack.project or 'stack'}-restore-verify-{self.stamp}"
        since = _now()
        self.docker.run(
            "run",
            "-d",
            "--name",
            name,
            *[a for a in self.helper_args if a != "--rm"],
            *self.labels("verify"),
            *self.env_args,
            "-e",
            f"PGDATA={self.stack.pgdata}",
            "-v",
            f"{self.stack.data_volume}:{DATA_PATH}",
            "-v",
            f"{self.stack.repo_volume}:/var/lib/pgbackrest",
            "-v",
            f"{self.stack.socket_volume}:{self.stack.socket}",
            self.stack.image,
            "postgres",
            *self.stack.options,
        )
        try:
            self.verify(name, since)
        finally:
            self.docker.run("stop", "-t", "120", name, check=False, timeout=300)
            removed = self.docker.run("rm", "-f", name, check=False)
            if removed.returncode != 0:
                say(f"could not remove the verification container {name}: {_last_line(removed.stderr)}")

    # -- putting everything back --
    def undo(self) -> None:
        """After a failure: the old data back in place, what was stopped started again."""
        problems = []
        if self.postgres is not None and self.restored:
            stopped = self.docker.run("stop", self.postgres.id, check=False, timeout=900)
            if stopped.returncode != 0:
                problems.append(f"could not stop {self.postgres.name}: {_last_line(stopped.stderr)}")
        if self.restored or self.moved:
            d = f"{DATA_PATH}/{self.stack.pgdata_dir}"
            script = 'set -eu; rm -rf "$1"; if [ -e "$2" ]; then mv "$2" "$1"; fi'
            try:
                self.helper("undo", script, d, f"{DATA_PATH}/{self.kept}" if self.moved else "/nonexistent")
                say(f"put the data back as it was in {self.stack.data_volume} (the restore it wrote removed)")
            except Failed as error:
                problems.append(f"could not put the data back: {error} (it is in {self.stack.data_volume}/{self.kept})")
                _print_detail(error)
        if self.stopped and not problems:
            failures = self.start_again(list(reversed(self.stopped)))
            problems += failures
            if not failures:
                say(f"started again what it had stopped: {', '.join(c.name for c in reversed(self.stopped))}")
        elif self.stopped:
            say(f"left stopped: {', '.join(c.name for c in self.stopped)} (the data is not back in place)")
        for p in problems:
            say(f"UNDO FAILED: {p}")


class Refused(Exception):
    pass


def _now() -> str:
    """For `docker logs --since`: what a container logged from now on."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _print_detail(error: Exception) -> None:
    for line in getattr(error, "detail", "").splitlines()[-15:]:
        print(f"restore:   | {line}", file=sys.stderr, flush=True)


def _parallel(fn, containers: list[Container]) -> dict[str, Exception]:
    errors: dict[str, Exception] = {}

    def one(c: Container) -> None:
        try:
            fn(c)
        except Exception as error:  # noqa: BLE001 - each failure is reported with the container's name
            errors[c.id] = error

    threads = [threading.Thread(target=one, args=(c,)) for c in containers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def compose_up(options: Options) -> None:
    compose = shlex.split(os.environ.get("COMPOSE") or "docker compose")
    args = [*compose, "-f", options.compose, *(["--env-file", options.env_file] if options.env_file else [])]
    result = subprocess.run([*args, "up", "-d", "--wait"], capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        raise Failed("compose up -d --wait failed: the data is restored; see the lines above", result.stderr)


def run(options: Options, stack: Stack, docker: Docker) -> int:
    r = Restore(stack, options, docker)
    problems = r.preflight()
    for p in problems:
        say(f"refused: {p}")
    if problems:
        return EXIT_FAILED
    on_volume, dependents = r.containers()
    volume_exists = docker.run("volume", "inspect", stack.data_volume, check=False).returncode == 0
    for c in on_volume + dependents:
        mount = f"mounts {stack.data_volume} {c.data_mount}" if c.data_mount else "connects to Postgres"
        say(f"found {c.name} ({c.id}, {c.status}, {c.who(stack)}): {mount}")
    timings: list[str] = []
    mark = time.monotonic()

    def lap(what: str) -> None:
        nonlocal mark
        timings.append(f"{what} {time.monotonic() - mark:.1f}s")
        mark = time.monotonic()

    try:
        r.stop(on_volume, dependents)
        if r.stopped:
            say(f"stopped {', '.join(c.name for c in r.stopped)}")
        lap("stop")
        if not volume_exists:
            compose_run = bool(docker.run("ps", "-aq", "--filter", f"label={COMPOSE_PROJECT}={stack.project}").stdout)
            labels = [
                "--label",
                f"{COMPOSE_PROJECT}={stack.project}",
                "--label",
                f"com.docker.compose.volume={stack.data_key}",
            ]
            docker.run("volume", "create", *(labels if compose_run else []), stack.data_volume)
            say(f"{stack.data_volume} was gone: created it anew")
        r.move_aside()
        if r.moved:
            say(f"moved the current data aside in {stack.data_volume}: {stack.pgdata_dir} -> {r.kept}")
        say(f"pgbackrest restore --to {options.target} into {stack.data_volume}/{stack.pgdata_dir}")
        r.pgbackrest_restore()
        lap("restore")
        r.postgres = next((c for c in on_volume if c.role == "postgres"), None)
        if r.postgres is not None:
            say(f"verifying in the stack's own {r.postgres.name}: WAL replay to the target, promotion, a query")
            since = _now()
            docker.run("start", r.postgres.id)
            r.verify(r.postgres.id, since)
        else:
            say("verifying in a throwaway Postgres (no container of the stack's is on the volume)")
            r.verify_throwaway()
        lap("verify")
        say(f"verified: promoted and answering on database {stack.db_name}")
    except (Failed, Refused, KeyboardInterrupt) as error:
        if isinstance(error, KeyboardInterrupt):
            say("interrupted")
        elif isinstance(error, Failed):
            say(f"FAILED: {error}")
            _print_detail(error)
        r.undo()
        verb = "refused" if isinstance(error, Refused) else "failed"
        say(f"{verb}; {stack.data_volume} holds the data it held before")
        return EXIT_FAILED

    again = [c for c in reversed(r.stopped) if c.role != "postgres"]
    if not options.start:
        if r.postgres is not None:
            docker.run("stop", r.postgres.id, timeout=900)
        say(f"--no-start: left stopped: {', '.join(c.name for c in r.stopped) or 'nothing'}")
    else:
        failures = r.start_again(again)
        if again:
            say(f"started again: {', '.join(c.name for c in again)}")
        lap("start")
        if r.postgres is None:
            compose_run = bool(docker.run("ps", "-aq", "--filter", f"label={COMPOSE_PROJECT}={stack.project}").stdout)
            if compose_run:
                say("the stack's containers on the volume were gone: compose up -d --wait recreates them")
                try:
                    compose_up(options)
                except Failed as error:
                    failures.append(str(error))
                    _print_detail(error)
                lap("compose up")
            else:
                say(
                    f"no container of the stack was left on {stack.data_volume}: recreate them as the stack runs "
                    "(pulumi up --refresh; or compose up -d --wait)"
                )
        if failures:
            for f in failures:
                say(f"FAILED to start again: {f}")
            say(f"the data is restored in {stack.data_volume}; the data it replaced is kept there as {r.kept}")
            return EXIT_FAILED
    if r.moved:
        say(
            f"kept the data it replaced in {stack.data_volume} as {r.kept}; once satisfied: docker run --rm "
            f"-v {stack.data_volume}:/d {stack.image} rm -rf /d/{r.kept}"
        )
    say(f"done in {time.monotonic() - r.started_at:.1f}s ({', '.join(timings)})")
    return 0


def main(argv: list[str]) -> int:
    options, problems = parse_args(argv)
    stack = None
    if not problems:
        stack, problems = read_stack(options)
    if problems:
        for p in problems:
            say(f"error: {p}")
        print(USAGE, file=sys.stderr)
        return EXIT_BAD_INPUT
    return run(options, stack, Docker())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
