"""Backups on the Docker host (postgres.backup on, Pulumi.local.yaml): pgBackRest with its
repository on a volume of its own, as the program declares it under the SDK's mocks.

The provider outputs the mocks give (a Volume's `name`, a Container's `exitCode`) are the
shapes terraform-provider-docker v4.5.0 sets (resource_docker_volume.go sets `name`;
resource_docker_container_funcs.go sets `exit_code` of a stopped container): see
preview/engine.py ProviderMocks.
"""

from __future__ import annotations

import secrets
import subprocess

import pytest
from agent_platform.docker import backup

from preview.changes import classify_captures
from preview.compose import compose_document
from preview.engine import ProgramError
from tests.conftest import capture_with, unlined

CONTAINER = "docker:index/container:Container"
VOLUME = "docker:index/volume:Volume"
SERVICES = "agent-platform:services"
BACKUP_CONTAINERS = ("postgres-backup", "agent-api-migrate-backup")


def with_migration(cfg: dict) -> None:
    cfg[SERVICES][0]["migration"] = {"enabled": True}


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    return capture_with(tmp_path_factory.mktemp("backup"), "local", with_migration)


def containers(capture):
    return {r.name: r for r in capture.by_type(CONTAINER)}


def env_of(container) -> dict[str, str]:
    return dict(str(e).split("=", 1) for e in container.raw_inputs["envs"])


def test_postgres_archives_every_wal_segment_with_pgbackrest(local):
    pg = containers(local)["postgres"].inputs
    assert pg["command"] == [
        "postgres",
        "-c",
        "archive_mode=on",
        "-c",
        "archive_command=pgbackrest archive-push %p",
        "-c",
        "archive_timeout=60",
    ]
    env = env_of(containers(local)["postgres"])
    assert env["PGBACKREST_ARCHIVE_ASYNC"] == "n" and env["PGBACKREST_REPO1_PATH"] == "/var/lib/pgbackrest"
    assert env["PGBACKREST_PG1_PATH"] == env["PGDATA"] == "/var/lib/postgresql/data/pgdata"
    assert env["PGBACKREST_REPO1_RETENTION_FULL_TYPE"] == "time" and env["PGBACKREST_REPO1_RETENTION_FULL"] == "7"
    mounts = {v["containerPath"]: v["volumeName"] for v in pg["volumes"]}
    assert mounts == {
        "/var/lib/postgresql/data": "agent-platform-local-postgres-data",
        "/var/lib/pgbackrest": "agent-platform-local-postgres-backup",
        "/var/run/postgresql": "agent-platform-local-postgres-socket",
    }
    assert list(pg["tmpfs"]) == ["/tmp"]  # the socket directory is the shared volume now


@pytest.mark.parametrize("name", BACKUP_CONTAINERS)
def test_backup_containers_are_hardened_and_reach_postgres_only(local, name):
    c = containers(local)
    b = c[name].inputs
    assert b["image"] == c["postgres"].inputs["image"]  # one pgBackRest version on both sides
    assert b["user"] == "70:70" and b["readOnly"] is True and b["capabilities"] == {"drops": ["ALL"]}
    assert b["securityOpts"] == ["no-new-privileges:true"] and b["memory"] == 256 and b["cpus"] == "1.0"
    # No network at all: Postgres over its socket, the data read-only, the repository writable.
    assert b["networkMode"] == "none" and not b.get("networksAdvanced")
    mounts = {v["containerPath"]: (v["volumeName"], v.get("readOnly", False)) for v in b["volumes"]}
    assert mounts == {
        "/var/lib/postgresql/data": ("agent-platform-local-postgres-data", True),
        "/var/lib/pgbackrest": ("agent-platform-local-postgres-backup", False),
        "/var/run/postgresql": ("agent-platform-local-postgres-socket", False),
    }
    env = env_of(c[name])
    assert not {"POSTGRES_PASSWORD", "DATABASE_URL"} & set(env), "a backup container needs no password"
    assert c[name].secret_paths == []


def test_the_scheduler_is_healthy_only_while_the_last_backup_is_within_max_age(local):
    hc = containers(local)["postgres-backup"].inputs["healthcheck"]
    assert hc["tests"][0] == "CMD-SHELL" and hc["tests"][1].endswith(f"-le {26 * 3600} ]")
    assert "pgbackrest info --output=json" in hc["tests"][1]


def test_the_scheduler_runs_the_generated_script_on_the_stack_schedule(local):
    s = containers(local)["postgres-backup"]
    env = env_of(s)
    script = next(v for k, v in env.items() if k.startswith("AGENT_PLATFORM_FILE_"))
    assert script == backup.scheduler_script("0 2 * * *")
    assert s.inputs["command"][-2:] == ["sh", backup.SCHEDULER_PATH]


SCHEDULES = [
    # (schedule, "minute hour day-of-month month day-of-week" as date prints it, due)
    ("0 2 * * *", "00 02 03 12 4", True),
    ("0 2 * * *", "01 02 03 12 4", False),
    ("0 2 * * *", "00 12 03 12 4", False),
    ("*/15 * * * *", "45 07 03 12 4", True),
    ("*/15 * * * *", "08 07 03 12 4", False),
    ("30 1-3 * * 1,7", "30 03 06 12 0", True),  # 7 is Sunday too
    ("30 1-3 * * 1,7", "30 03 05 12 6", False),
    ("0 0 1 * 1", "00 00 07 12 1", True),  # both day fields set: either is enough (cron)
    ("0 0 1 * 1", "00 00 08 12 2", False),
    ("0 9 * 6-8 *", "00 09 08 09 2", False),
]


@pytest.mark.parametrize("schedule,now,due", SCHEDULES, ids=[f"{s} at {n}" for s, n, _ in SCHEDULES])
def test_the_scheduler_script_matches_cron_fields_in_posix_sh(schedule, now, due):
    script = backup.scheduler_script(schedule)
    functions = script[script.index("set -f") : script.index("trap ")]
    result = subprocess.run(["sh", "-c", f"{functions}\ndue {now}"], capture_output=True, text=True)
    assert result.stderr == ""
    assert (result.returncode == 0) is due


def test_a_base_backup_runs_before_each_migration_which_waits_for_it(local):
    c = containers(local)
    before, migrate = c["agent-api-migrate-backup"], c["agent-api-migrate"]
    assert before.inputs["attach"] is True and before.inputs["mustRun"] is False
    assert before.inputs["command"] == backup.base_backup_command()
    assert before.urn in migrate.dependencies
    assert {c["postgres"].urn, c["postgres-backup"].urn} <= set(before.dependencies)
    # It carries the app's image: a new image (a new migration) takes a new backup first.
    assert env_of(before)["BACKUP_BEFORE_MIGRATION_TO"] == c["agent-api-1"].inputs["image"]
    doc = compose_document(local)[0]
    assert doc["services"]["agent-api-migrate"]["depends_on"]["agent-api-migrate-backup"] == {
        "condition": "service_completed_successfully"
    }
    assert doc["services"]["postgres-backup"]["network_mode"] == "none"


def test_the_backup_volume_is_protected_with_the_data(tmp_path):
    capture = capture_with(tmp_path, "local", lambda cfg: cfg["agent-platform:postgres"].update(protect=True))
    volumes = {r.name: r for r in capture.by_type(VOLUME)}
    assert volumes["postgres-data"].protect and volumes["postgres-backup"].protect
    assert volumes["postgres-backup"].retain_on_delete


def test_without_backup_postgres_runs_as_before(tmp_path):
    capture = capture_with(
        tmp_path, "local", lambda cfg: cfg["agent-platform:postgres"]["backup"].update(enabled=False)
    )
    c = containers(capture)
    assert set(c) == {"postgres", "redis", "agent-api-1", "agent-api-2", "proxy"}
    assert "command" not in c["postgres"].inputs
    assert not any(e.startswith("PGBACKREST_") for e in c["postgres"].inputs["envs"])
    assert {r.name for r in capture.by_type(VOLUME)} == {"postgres-data", "redis-data"}


BAD_BACKUP = [
    (
        lambda pg: pg["backup"].update(
            store="objectStore",
            objectStore={"destinationPath": "s3://b/agent", "credentials": {"secretName": "s3-keys"}},
        ),
        "objectStore is not implemented on the Docker platform",
    ),
    (lambda pg: pg.update(restore={"enabled": True}), "tools/restore-docker.sh --to latest|<RFC 3339 time>"),
    (lambda pg: pg.update(persistence={"enabled": False}), "needs postgres.persistence.enabled"),
]


@pytest.mark.parametrize("mutate,message", BAD_BACKUP, ids=[m for _, m in BAD_BACKUP])
def test_what_the_docker_host_cannot_do_is_one_clear_line(tmp_path, mutate, message):
    with pytest.raises(ProgramError) as info:
        capture_with(tmp_path, "local", lambda cfg: mutate(cfg["agent-platform:postgres"]))
    text = unlined(str(info.value))
    assert message in text and "agent-platform:postgres." in text and info.value.registered == 0


ROUTINE = [
    (
        "an app image bump",
        lambda cfg: cfg[SERVICES][0].__setitem__("image", f"r.example.com/a:2@sha256:{secrets.token_hex(32)}"),
    ),
    ("an env edit", lambda cfg: cfg[SERVICES][0]["env"].update(LOG_LEVEL="info")),
    ("a new backup schedule", lambda cfg: cfg["agent-platform:postgres"]["backup"].update(schedule="30 3 * * *")),
    ("a longer retention", lambda cfg: cfg["agent-platform:postgres"]["backup"].update(retentionDays=30)),
    (
        "a shorter archive timeout",
        lambda cfg: cfg["agent-platform:docker"].update(backup={"archiveTimeoutSeconds": 30}),
    ),
]


@pytest.mark.parametrize("mutate", [m for _, m in ROUTINE], ids=[n for n, _ in ROUTINE])
def test_a_routine_change_never_replaces_or_deletes_a_volume(tmp_path, mutate):
    (tmp_path / "before").mkdir(), (tmp_path / "after").mkdir()
    before = capture_with(tmp_path / "before", "local", with_migration)
    after = capture_with(tmp_path / "after", "local", lambda cfg: (with_migration(cfg), mutate(cfg)))
    changes = classify_captures(before, after)
    assert changes, "the edit changed nothing: the scenario would prove nothing"
    touched = [(c.name, c.op) for c in changes if c.key[0] == "Volume"]
    assert touched == [], touched
