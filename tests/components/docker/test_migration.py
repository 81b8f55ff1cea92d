"""The Docker host's migration: a one-shot `<name>-migrate` container the app replicas wait on.

The provider's behaviour modelled here is terraform-provider-docker v4.5.0 (pulumi-docker's
upstream), internal/provider/resource_docker_container_funcs.go: with `attach` the create
waits for the container to stop (ContainerWait, not-running), then Read sets `exit_code`;
`must_run: false` keeps the stopped container. A non-zero exit does not fail the create, so
the program checks the exit code itself (components/agent_platform/docker/container.py one_shot_succeeded).
"""

from __future__ import annotations

import copy
import secrets

import pytest
import yaml

import preview.engine
from preview.capture import capture_stack
from preview.changes import classify_captures
from preview.compose import compose_document
from preview.engine import ProgramError, ProviderMocks
from tests.conftest import ROOT, stack_file, unlined

CONTAINER = "docker:index/container:Container"
SERVICES = "agent-platform:services"


def with_migration(cfg: dict, **migration) -> None:
    cfg[SERVICES][0]["migration"] = {"enabled": True, **migration}


def run(tmp_path, mutate, name: str = "0", phase: str = "up"):
    data = copy.deepcopy(stack_file("local"))
    mutate(data["config"])
    path = tmp_path / name / "Pulumi.local.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(data))
    return capture_stack(ROOT, "local", path, phase=phase)[1]


@pytest.fixture(scope="module")
def migrating(tmp_path_factory):
    return run(tmp_path_factory.mktemp("migrating"), lambda cfg: with_migration(cfg, args=["--verbose"]))


def containers(capture):
    return {r.name: r for r in capture.by_type(CONTAINER)}


def test_the_migration_is_a_hardened_one_shot_of_the_service_image(migrating):
    c = containers(migrating)
    m = c["agent-api-migrate"].inputs
    assert m["attach"] is True and m["mustRun"] is False
    assert m["restart"] == "no" and "healthcheck" not in m and "wait" not in m
    assert m["image"] == c["agent-api-1"].inputs["image"]
    assert m["command"] == ["python3", "/app/app.py", "migrate", "--verbose"]
    # The same hardening as every container: non-root, read-only, nothing added, limits.
    assert m["readOnly"] is True and m["capabilities"] == {"drops": ["ALL"]}
    assert m["securityOpts"] == ["no-new-privileges:true"] and m["user"] == c["agent-api-1"].inputs["user"]
    assert m["memory"] == c["agent-api-1"].inputs["memory"] and m["cpus"] == c["agent-api-1"].inputs["cpus"]
    # Only the database, only its URL, kept secret.
    assert [n["name"] for n in m["networksAdvanced"]] == ["agent-platform-local-backend"]
    assert [e.split("=")[0] for e in c["agent-api-migrate"].raw_inputs["envs"]] == ["DATABASE_URL"]
    assert c["agent-api-migrate"].secret_paths == ["envs[0]"]


def test_replicas_wait_for_the_migration_which_waits_for_postgres(migrating):
    c = containers(migrating)
    migrate = c["agent-api-migrate"]
    assert c["postgres"].urn in migrate.dependencies and c["redis"].urn not in migrate.dependencies
    for replica in ("agent-api-1", "agent-api-2"):
        assert migrate.urn in c[replica].dependencies
    doc = compose_document(migrating)[0]
    assert doc["services"]["agent-api-1"]["depends_on"]["agent-api-migrate"] == {
        "condition": "service_completed_successfully"
    }
    assert doc["services"]["agent-api-1"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert (
        doc["services"]["agent-api-migrate"]["restart"] == "no"
        and "healthcheck" not in doc["services"]["agent-api-migrate"]
    )


def test_without_migration_the_stack_has_no_one_shot():
    from tests.conftest import shipped

    local = shipped("local")
    assert "agent-api-migrate" not in containers(local)
    assert all("attach" not in r.inputs for r in containers(local).values())


class FailedMigration(ProviderMocks):
    """The provider's answer when the attached container exited 2: the create succeeds, `exitCode` says so."""

    registered: list[str] = []

    def new_resource(self, args):
        rid, outputs = super().new_resource(args)
        FailedMigration.registered.append(args.name)
        # Only the migration fails; the base backup before it (postgres.backup) exits 0.
        if args.name.endswith("-migrate") and "exitCode" in outputs and outputs["exitCode"] == 0:
            outputs["exitCode"] = 2
        return rid, outputs


def test_a_failed_migration_stops_the_rollout_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(preview.engine, "ProviderMocks", FailedMigration)
    FailedMigration.registered = []
    with pytest.raises(ProgramError) as info:
        run(tmp_path, with_migration)
    message = unlined(str(info.value))
    assert "agent-api-migrate exited with 2" in message and "docker logs agent-api-migrate" in message
    assert "pulumi up --replace 'urn:pulumi:local::agent-platform::" in message and "\n" not in message
    # The migration and what it needs were created; no replica (nor the proxy in front of them) was.
    assert {"postgres", "agent-api-migrate"} <= set(FailedMigration.registered)
    assert not {"agent-api-1", "agent-api-2", "proxy"} & set(FailedMigration.registered)


def test_a_preview_does_not_know_the_exit_code_yet(tmp_path):
    capture = run(tmp_path, with_migration, phase="preview")
    c = containers(capture)
    assert c["agent-api-1"].inputs["image"] == preview.engine.UNKNOWN  # waits on the migration's end
    assert "agent-api-migrate" in c


def test_an_image_bump_runs_the_migration_again_then_replaces_the_replicas(tmp_path):
    before = run(tmp_path, with_migration, "before")

    def bump(cfg):
        with_migration(cfg)
        cfg[SERVICES][0]["image"] = f"registry.example.com/agents/agent-api:1.4.3@sha256:{secrets.token_hex(32)}"

    after = run(tmp_path, bump, "after")
    ops = {c.name: c.op for c in classify_captures(before, after) if c.key[0] == "Container"}
    # The base backup before the migration carries the image too: a new image backs up, then migrates.
    assert ops == {
        "agent-api-migrate-backup": "replace",
        "agent-api-migrate": "replace",
        "agent-api-1": "replace",
        "agent-api-2": "replace",
    }


def test_an_env_edit_of_the_app_leaves_the_migration_alone(tmp_path):
    before = run(tmp_path, with_migration, "before")
    after = run(tmp_path, lambda cfg: (with_migration(cfg), cfg[SERVICES][0]["env"].update(LOG_LEVEL="info")), "after")
    ops = {c.name: c.op for c in classify_captures(before, after) if c.key[0] == "Container"}
    assert ops == {"agent-api-1": "replace", "agent-api-2": "replace"}


def test_a_migration_needs_postgres_on_docker_too(tmp_path):
    with pytest.raises(ProgramError, match=r"services\[agent-api\]\.migration\.enabled: needs usesPostgres"):
        run(tmp_path, lambda cfg: (with_migration(cfg), cfg[SERVICES][0].__setitem__("usesPostgres", False)))
