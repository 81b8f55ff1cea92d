"""tools/restore_docker.py without a Docker engine: its input checks, what it reads from the stack's
compose rendering, and the order of its steps against a stand-in for the docker command.

The real engine runs it in the e2e (tools/e2e_checks.py: the Compose drill and the drill against the
stack as `pulumi up` creates it); the stand-in here answers `ps`, `inspect`, `stop`, `start`, `run`
and `exec` in the shapes Docker 20.10's CLI prints (`docker inspect` JSON: Id, Name, State, Config,
Mounts, NetworkSettings).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from preview.compose import compose_document
from tests.conftest import shipped

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("restore_docker", ROOT / "tools" / "restore_docker.py")
restore = importlib.util.module_from_spec(_spec)
sys.modules["restore_docker"] = restore  # dataclasses look their module up there
_spec.loader.exec_module(restore)

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def e2e_stack() -> restore.Stack:
    doc, _ = compose_document(shipped("e2e"))
    stack, problems = restore.stack_from_config(doc, "docker-compose.yml")
    assert not problems
    return stack


# --- input ---------------------------------------------------------------------------------------


def test_every_problem_with_the_arguments_is_one_line(tmp_path):
    options, problems = restore.parse_args(
        ["--compose", str(tmp_path / "missing.yml"), "--to", "2026-12-01T10:00:00", "--bogus", "--env-file"], NOW
    )
    assert problems == [
        "unknown argument '--bogus'",
        "--env-file needs a value",
        f"--compose {tmp_path / 'missing.yml'}: no such file",
        "--to '2026-12-01T10:00:00': needs a time zone (a trailing Z for UTC, or +01:00)",
    ]


def test_targets(tmp_path):
    compose = tmp_path / "docker-compose.yml"
    compose.write_text("services: {}\n")
    options, problems = restore.parse_args(["--compose", str(compose), "--to", "2026-12-03T10:15:00+01:00"], NOW)
    assert not problems and options.pg_target == "2026-12-03 09:15:00.000000+00"
    _, problems = restore.parse_args(["--compose", str(compose), "--to", "2027-01-01T00:00:00Z"], NOW)
    assert problems == ["--to '2027-01-01T00:00:00Z': is in the future (now 2026-12-07T12:00:00Z): use --to latest"]
    _, problems = restore.parse_args(["--compose", str(compose), "--to", "yesterday"], NOW)
    assert problems == ["--to 'yesterday': not latest or an RFC 3339 time such as 2026-12-03T10:15:00Z"]
    _, problems = restore.parse_args([], NOW)
    assert len(problems) == 2 and problems[0].startswith("--compose FILE is required")


def test_main_prints_each_problem_and_exits_2(tmp_path, capsys):
    assert restore.main(["--to", "soon", "--compose"]) == restore.EXIT_BAD_INPUT
    err = capsys.readouterr().err.splitlines()
    assert err[:2] == [
        "restore: error: --compose needs a value",
        "restore: error: --to 'soon': not latest or an RFC 3339 time such as 2026-12-03T10:15:00Z",
    ]
    assert err[-1].startswith("usage: ")


# --- what it reads from the rendering ---------------------------------------------------------------


def test_the_stack_read_from_the_program_s_compose_rendering():
    stack = e2e_stack()
    # The backup containers carry the same pgBackRest settings; Postgres is the one mounting the data read-write.
    assert stack.service == "postgres"
    assert (stack.data_volume, stack.repo_volume, stack.socket_volume) == (
        "agent-platform-e2e-postgres-data",
        "agent-platform-e2e-postgres-backup",
        "agent-platform-e2e-postgres-socket",
    )
    assert stack.pgdata_dir == "pgdata"
    assert stack.user == "70:70" and stack.db_name == "agent"
    assert "archive_mode=on" in stack.options
    # What connects to Postgres: the replicas, one-shots and postgres_exporter, never Redis, its
    # exporter, Prometheus or the proxy.
    assert stack.dependents == [
        "agent-api-1",
        "agent-api-2",
        "agent-api-migrate",
        "agent-api-migrate-backup",
        "postgres-backup",
        "postgres-exporter",
    ]
    assert stack.networks == [
        "agent-platform-e2e-backend",
        "agent-platform-e2e-frontend",
        "agent-platform-e2e-monitoring",  # Prometheus' own (monitoring.enabled)
    ]


def test_a_stack_without_backups_is_one_line():
    doc, _ = compose_document(shipped("e2e"))
    for service in doc["services"].values():
        for key in [k for k in service.get("environment") or {} if k.startswith("PGBACKREST_")]:
            del service["environment"][key]
    stack, problems = restore.stack_from_config(doc, "f.yml")
    assert stack is None
    assert problems == ["f.yml: service postgres has no pgBackRest settings: postgres.backup.enabled is off"]


# --- the order of its steps, against a stand-in for docker ----------------------------------------------


class FakeDocker:
    """Containers as `docker inspect` reports them; every call recorded."""

    def __init__(self, containers: list[dict], refuse_stop: str = "", volume_exists: bool = True) -> None:
        self.containers = {c["Id"]: c for c in containers}
        self.refuse_stop = refuse_stop
        self.volume_exists = volume_exists
        self.calls: list[list[str]] = []

    def _by(self, ref: str) -> dict:
        return next(c for c in self.containers.values() if c["Id"].startswith(ref) or c["Name"] == "/" + ref)

    def run(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        self.calls.append(list(args))
        out, code, err = "", 0, ""
        if args[0] == "version":
            out = "20.10.24"
        elif args[0] == "ps":
            filters = [args[i + 1] for i, a in enumerate(args) if a == "--filter"]
            running_only = "-aq" not in args
            found = []
            for c in self.containers.values():
                ok = all(self._matches(c, f) for f in filters)
                if ok and (c["State"]["Running"] or not running_only):
                    found.append(c["Id"])
            out = "\n".join(found)
        elif args[0] == "inspect" and "-f" not in args:
            out = json.dumps([self._by(i) for i in args[3:]])
        elif args[0] == "inspect":
            c = self._by(args[-1])
            out = f"{c['State']['Status']} 0"
        elif args[0] == "stop":
            c = self._by(args[-1])
            if c["Name"] == "/" + self.refuse_stop:
                code, err = 1, f"Error response from daemon: cannot stop container: {args[-1]}"
            else:
                c["State"].update(Running=False, Status="exited")
        elif args[0] == "start":
            for ref in args[1:]:
                self._by(ref)["State"].update(Running=True, Status="running")
        elif args[0] == "volume" and args[1] == "inspect":
            code = 0 if self.volume_exists else 1
        elif args[0] == "run" and "info" in args:
            out = json.dumps([{"backup": [{"timestamp": {"start": 1, "stop": 2}}]}])
        elif args[0] == "run" and "move" in " ".join(args):
            out = "moved"
        elif args[0] == "exec" and any("pg_is_in_recovery()" in a for a in args):
            out = "f"
        result = subprocess.CompletedProcess(list(args), code, out, err)
        if check and code:
            raise restore.Failed(f"docker {args[0]} failed: {err}", err)
        return result

    @staticmethod
    def _matches(c: dict, f: str) -> bool:
        key, _, value = f.partition("=")
        if key == "volume":
            return any(m.get("Name") == value for m in c["Mounts"])
        if key == "label":
            label, _, wanted = value.partition("=")
            return c["Config"]["Labels"].get(label) == wanted
        if key == "name":
            return value in c["Name"]
        return False

    def inspect(self, ids: list[str]) -> list[dict]:
        return json.loads(self.run("inspect", "--type", "container", *ids).stdout) if ids else []

    def steps(self) -> list[str]:
        """The calls that change something, as `verb name` (the tool's own containers by their step)."""
        names = {c["Id"][:12]: c["Name"][1:] for c in self.containers.values()}
        out = []
        for call in self.calls:
            if call[0] in ("stop", "start"):
                out += [f"{call[0]} {names.get(ref, ref)}" for ref in call[1:] if not ref.startswith("-")]
            elif call[0] == "run" and "--label" in call:
                out.append("run " + next(a.split("=")[1] for a in call if a.startswith("agent-platform.restore.step=")))
        return out


def container(name: str, running: bool, data: str = "", compose: bool = False, test: list | None = None) -> dict:
    labels = {"com.docker.compose.project": "agent-platform-e2e", "com.docker.compose.service": name} if compose else {}
    return {
        "Id": hashlib.sha256(name.encode()).hexdigest(),
        "Name": "/" + name,
        "State": {"Running": running, "Restarting": False, "Paused": False, "Status": ["exited", "running"][running]},
        "Config": {"Labels": labels, "Healthcheck": {"Test": test} if test else None},
        "Mounts": [{"Type": "volume", "Name": "agent-platform-e2e-postgres-data", "RW": data == "rw"}] if data else [],
        "NetworkSettings": {"Networks": {"agent-platform-e2e-backend": {}}},
    }


def pulumi_up_host(refuse_stop: str = "") -> FakeDocker:
    """The e2e stack as `pulumi up` runs it (no Compose labels), one container by hand on the volume."""
    return FakeDocker(
        [
            container("postgres", True, "rw"),
            container("postgres-backup", True, "ro", test=["CMD-SHELL", "true"]),
            container("agent-api-migrate-backup", False, "ro"),
            container("agent-api-migrate", False),
            container("agent-api-1", True, test=["CMD", "python", "-c", "ok"]),
            container("agent-api-2", True),
            container("redis", True),
            container("proxy", True),
            container("inspect-by-hand", True, "ro"),
            container("stopped-by-hand", False, "ro"),
        ],
        refuse_stop,
    )


@pytest.fixture(autouse=True)
def _short_waits(monkeypatch):
    monkeypatch.setenv("VERIFY_TIMEOUT", "5")
    monkeypatch.setenv("START_TIMEOUT", "5")


def run_restore(docker: FakeDocker, target: str = "latest") -> int:
    options = restore.Options(compose="f.yml", target=target)
    return restore.run(options, e2e_stack(), docker)


def test_pulumi_up_stack_everything_on_the_volume_stopped_before_the_data_is_touched(capsys):
    docker = pulumi_up_host()
    assert run_restore(docker) == 0
    steps = docker.steps()
    assert steps[0] == "run info" and steps[6:8] == ["run move", "run restore"], steps
    # Dependents before what mounts the volume, Postgres last; the data touched only after all stopped.
    assert steps.index("run move") > max(i for i, s in enumerate(steps) if s.startswith("stop"))
    assert set(steps[1:3]) == {"stop agent-api-1", "stop agent-api-2"}
    assert set(steps[3:5]) == {"stop postgres-backup", "stop inspect-by-hand"} and steps[5] == "stop postgres"
    assert steps[8] == "start postgres"  # verified in the stack's own Postgres before anything else starts
    # Started again: exactly what it stopped; never Redis, the proxy or what had exited.
    started = {s.split()[1] for s in steps if s.startswith("start")}
    assert started == {"postgres", "postgres-backup", "agent-api-1", "agent-api-2", "inspect-by-hand"}
    err = capsys.readouterr().err
    assert "found inspect-by-hand" in err and "not the stack's (started by hand)" in err
    assert "postgres-backup (" in err and "the stack's own, not Compose's (pulumi up)" in err
    # Health checks run at once with docker exec, in their exec and shell forms.
    execs = [c for c in docker.calls if c[0] == "exec"]
    assert any(c[2:] == ["python", "-c", "ok"] for c in execs)
    assert any(c[2:] == ["/bin/sh", "-c", "true"] for c in execs)


def test_a_container_that_will_not_stop_is_named_and_nothing_is_touched(capsys):
    docker = pulumi_up_host(refuse_stop="inspect-by-hand")
    assert run_restore(docker) == restore.EXIT_FAILED
    steps = docker.steps()
    assert not [s for s in steps if s.startswith("run ") and s != "run info"], steps  # no move, no restore
    stopped = [s.split()[1] for s in steps if s.startswith("stop")]
    started = [s.split()[1] for s in steps if s.startswith("start")]
    assert "postgres" not in stopped  # stopped last, so never reached
    assert sorted(started) == sorted(n for n in stopped if n != "inspect-by-hand")
    err = capsys.readouterr().err
    refusal = [line for line in err.splitlines() if "REFUSED" in line]
    assert len(refusal) == 1 and "could not stop inspect-by-hand" in refusal[0]
    assert "cannot stop container" in refusal[0]
    assert "holds the data it held before" in err


def test_compose_stack_found_by_its_labels():
    docker = FakeDocker(
        [
            container("postgres", True, "rw", compose=True),
            container("agent-api-1", True, compose=True),
            container("redis", True, compose=True),
        ]
    )
    assert run_restore(docker) == 0
    assert [s for s in docker.steps() if s.startswith("stop")] == ["stop agent-api-1", "stop postgres"]


def test_a_failed_restore_puts_the_old_data_back_and_starts_again_what_it_stopped(capsys):
    docker = pulumi_up_host()
    real_run = docker.run

    def failing_restore(*args, **kwargs):
        if args[0] == "run" and "pgbackrest" in args and "restore" in args:
            docker.calls.append(list(args))
            raise restore.Failed("pgbackrest restore failed (exit 75)", "ERROR: [075]: no backup set")
        return real_run(*args, **kwargs)

    docker.run = failing_restore
    assert run_restore(docker) == restore.EXIT_FAILED
    steps = docker.steps()
    assert steps[steps.index("run restore") + 1] == "run undo"
    assert "start postgres" in steps  # Postgres back on its old data
    err = capsys.readouterr().err
    assert "FAILED: pgbackrest restore failed" in err and "ERROR: [075]: no backup set" in err
