"""Messages a person can act on: the value shown, the key as written, list items by name, a hint.

Each row plants one defect into a shipped stack file and expects the exact line the preview prints.
"""

from __future__ import annotations

import pytest

from preview.engine import ProgramError
from tests.conftest import capture_with, unlined

SERVICES = "agent-platform:services"


def service(index, **changes):
    def mutate(cfg):
        cfg[SERVICES][index].update(changes)

    return mutate


def nested(index, key, **changes):
    def mutate(cfg):
        cfg[SERVICES][index].setdefault(key, {}).update(changes)

    return mutate


MESSAGES = [
    # pydantic's own findings gain the value
    (
        nested(0, "autoscaling", minReplicas="eighty"),
        "agent-platform:services[agent-api].autoscaling.minReplicas: Input should be a valid integer, "
        "unable to parse string as an integer, got 'eighty'",
    ),
    (
        service(0, port=70000),
        "agent-platform:services[agent-api].port: Input should be less than or equal to 65535, got 70000",
    ),
    (
        service(1, kind="Job"),
        "agent-platform:services[agent-runner].kind: Input should be 'Deployment' or 'StatefulSet', got 'Job'",
    ),
    # a number where a string is wanted: quote it
    (
        nested(0, "env", RUNNER_CONCURRENCY=8),
        "agent-platform:services[agent-api].env.RUNNER_CONCURRENCY: Input should be a valid string, got 8 "
        '(quote it: "8")',
    ),
    (
        nested(0, "env", DEBUG=True),
        'agent-platform:services[agent-api].env.DEBUG: Input should be a valid string, got True (quote it: "true")',
    ),
    # a misspelt key: did you mean
    (service(0, replicaz=3), "agent-platform:services[agent-api].replicaz: unknown key (did you mean replicas?)"),
    (
        nested(1, "drain", preStopSecond=5),
        "agent-platform:services[agent-runner].drain.preStopSecond: unknown key (did you mean preStopSeconds?)",
    ),
    # a key nothing resembles: no guess
    (service(0, colour="blue"), "agent-platform:services[agent-api].colour: unknown key"),
]


@pytest.mark.parametrize(("mutate", "expected"), MESSAGES, ids=[m for _, m in MESSAGES])
def test_one_defect_one_exact_line(tmp_path, mutate, expected):
    with pytest.raises(ProgramError) as error:
        capture_with(tmp_path, "prod", mutate)
    assert unlined(str(error.value)) == f"Pulumi.prod.yaml: {expected}"


def test_several_unrelated_problems_of_one_level_come_in_one_run(tmp_path):
    def mutate(cfg):
        cfg[SERVICES][0].update(port="eighty", replicaz=3)
        cfg[SERVICES][1].setdefault("env", {})["WORKERS"] = 4
        cfg[SERVICES][1]["kind"] = "Job"

    with pytest.raises(ProgramError) as error:
        capture_with(tmp_path, "prod", mutate)
    lines = unlined(str(error.value)).splitlines()
    assert len(lines) == 4 and all(line.startswith("Pulumi.prod.yaml: agent-platform:services[") for line in lines), (
        lines
    )


def test_the_official_postgres_image_is_refused_for_docker_backups(tmp_path):
    """postgres.backup runs pgbackrest inside the Postgres image (archive_command): the official image has none."""

    official = "postgres:16.4-alpine@sha256:5660c2cbfea50c7a9127d17dc4e48543eedd3d7a41a595a2dfa572471e37e64c"
    with pytest.raises(ProgramError) as error:
        capture_with(tmp_path, "local", lambda cfg: cfg["agent-platform:postgres"].update(image=official))
    message = unlined(str(error.value))
    assert "postgres.image" in message and repr(official) in message and "images/postgres-pgbackrest" in message
    # without backups the official image is fine
    capture_with(
        tmp_path,
        "local",
        lambda cfg: cfg["agent-platform:postgres"].update(image=official, backup={"enabled": False}),
    )
